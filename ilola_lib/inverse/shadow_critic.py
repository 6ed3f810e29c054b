"""The observer's shadow critic: per-feature advantages of a PPO trace without knowing ``ω``.

Each agent gets a critic with one output per reward feature, ``V^φ(o) [q]``, trained along the trace the
way the learners train their critic (same architecture and observation normalisation, GAE(γ, λ) targets,
``update_epochs × num_minibatches`` Adam steps per update with the learners' critic learning rate and
gradient clipping, terminal steps bootstrapping from 0 and truncated ones from the observation reached).
At update ``k`` its per-feature GAE advantages are, with ``δ^φ_t = φ_t + γ V^φ(o'_t) − V^φ(o_t)``,

    A^φ_t = Σ_l (γλ)^l δ^φ_{t+l}   (within the episode),   so that   A_t(ω) = ω · A^φ_t

is exactly the advantage a critic ``ω · V^φ`` would give the reward ``ω · φ``: every advantage is linear in
``ω`` and the critic needs no ``ω`` to train. Two choices are the observer's own: each output is scaled by
that feature's discounted scale measured on ``D_0`` (the learners' critics use their reward's scale, which
the observer cannot know), and the squared error is averaged over features in those units.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ilola_lib.core.neural_trace import NeuralTrace
from ilola_lib.core.policies import NormalizedMLP
from ilola_lib.core.ppo import ADAM_EPS, compute_gae, explained_variance, minibatch_indices
from ilola_lib.inverse.ppo_replay import ConfigView


class FeatureCritic(NormalizedMLP):
    """``V^φ(o) = offset + scale ⊙ MLP(o)`` ``[..., q]`` with fixed per-feature ``offset, scale [q]``."""

    def __init__(self, obs_mean, obs_std, hidden_size: int, offset: torch.Tensor, scale: torch.Tensor,
                 generator: torch.Generator) -> None:
        super().__init__(obs_mean, obs_std, hidden_size, offset.shape[0], 1.0, generator)
        self.register_buffer("offset", offset.to(torch.float32))
        self.register_buffer("scale", scale.to(torch.float32))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.offset + self.scale * super().forward(obs)


@dataclass(frozen=True, kw_only=True)
class CriticSettings(ConfigView):
    """The learners' critic hyper-parameters (known to the observer)."""

    critic_learning_rate: float
    update_epochs: int
    num_minibatches: int
    vf_coef: float
    max_grad_norm: float
    gamma: float
    gae_lambda: float
    hidden_size: int


@dataclass
class FeatureAdvantages:
    """Per update ``k < K`` and agent ``i``, ``A^φ`` ``[B_k, q]`` (float32) on ``D_k``'s real steps in
    ``[T, E]`` row-major order (the order of the learners' batches), and the shadow critics' explained
    variance ``[K, N]`` of the per-feature returns before each update."""

    advantages: list[list[torch.Tensor]]
    explained_variance: np.ndarray

    def linear_in(self, phase: int, agent: int, omega: torch.Tensor) -> torch.Tensor:
        """``A(ω) = A^φ ω`` ``[P, B_k]`` for weights ``ω [P, q]``."""
        return omega.to(torch.float32) @ self.advantages[phase][agent].T


def feature_scales(trace: NeuralTrace, gamma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per agent, the discounted mean and scale ``[N, q]`` of each feature on ``D_0``: ``φ̄/(1 − γ)`` and
    ``σ(φ)/(1 − γ)`` (1 where a feature is constant)."""
    valid = trace.valid_steps(0)
    features = torch.as_tensor(trace.features[0][valid], dtype=torch.float64)  # [B, N, q]
    std = features.std(dim=0, correction=0)
    std = torch.where(std > 0, std, torch.ones_like(std))
    return features.mean(dim=0) / (1 - gamma), std / (1 - gamma)


def shadow_feature_advantages(trace: NeuralTrace, settings: CriticSettings,
                              generator: torch.Generator) -> FeatureAdvantages:
    """Train one :class:`FeatureCritic` per agent along the trace and return its ``A^φ`` for every update."""
    if trace.final_observations is None:
        raise ValueError("the shadow critic needs the trace's final_observations (record the trace again)")
    offsets, scales = feature_scales(trace, settings.gamma)
    critics = [FeatureCritic(torch.as_tensor(trace.obs_mean[i]), torch.as_tensor(trace.obs_std[i]),
                             settings.hidden_size, offsets[i], scales[i], generator) for i in range(trace.num_agents)]
    optimizers = [torch.optim.Adam(critic.parameters(), lr=settings.critic_learning_rate, eps=ADAM_EPS)
                  for critic in critics]
    advantages, explained = [], np.zeros((trace.num_phases, trace.num_agents))
    for phase in range(trace.num_phases):
        valid = torch.as_tensor(trace.valid_steps(phase))
        dones = torch.as_tensor(trace.dones[phase])
        terminated = None if trace.terminated is None else torch.as_tensor(trace.terminated[phase])
        per_agent = []
        for i, (critic, optimizer) in enumerate(zip(critics, optimizers)):
            observations = torch.as_tensor(trace.observations[phase, :, :, i])
            features = torch.as_tensor(trace.features[phase, :, :, i], dtype=torch.float32)
            with torch.no_grad():
                values = critic(observations)
                next_values = critic(torch.as_tensor(trace.final_observations[phase, :, :, i]))
                if terminated is not None:
                    next_values = next_values.masked_fill(terminated[..., None], 0.0)
                feature_advantages, returns = compute_gae(features, values, next_values, dones, settings.gamma,
                                                          settings.gae_lambda)
            explained[phase, i] = explained_variance(values[valid], returns[valid])
            fit_critic(critic, optimizer, observations[valid], returns[valid], settings, generator)
            per_agent.append(feature_advantages[valid])
        advantages.append(per_agent)
    return FeatureAdvantages(advantages, explained)


def fit_critic(critic: FeatureCritic, optimizer: torch.optim.Optimizer, observations: torch.Tensor,
               returns: torch.Tensor, settings: CriticSettings, generator: torch.Generator) -> None:
    """``update_epochs`` passes of shuffled minibatches of ``vf_coef · ½ mean ((V^φ − R^φ)/scale)²`` Adam steps
    with gradient-norm clipping (:func:`ilola_lib.core.ppo.critic_minibatch_step` per feature)."""
    for index in minibatch_indices(observations.shape[0], settings.update_epochs, settings.num_minibatches, generator):
        errors = (critic(observations[index]) - returns[index]) / critic.scale
        loss = settings.vf_coef * 0.5 * errors.square().mean()
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(critic.parameters(), settings.max_grad_norm)
        optimizer.step()
