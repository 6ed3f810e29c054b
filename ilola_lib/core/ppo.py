"""PPO for independent learners, CleanRL ``ppo.py`` style, with no task in it (design §4).

Read top to bottom: the hyper-parameters, the per-agent learners and the frozen normaliser, the
rollout batch every task fills, GAE and the PPO update. The training loop that records a learning
trace is :mod:`ilola_lib.core.ppo_training`; each task supplies its config, actor and rollout
function (``tasks/t2/ppo.py``, ``tasks/t3/ppo.py``).

Choices that matter for the inverse problem (design §4–5):

* Independent learners: every agent has its own actor and critic and no parameter is shared.
* The actor and the critic of an agent have **separate** Adam optimisers (constant learning rates)
  and separate gradient-norm clipping. With CleanRL's single optimiser the critic's gradient enters
  the shared clipping factor and so changes the actor's step; here the actor's update depends only
  on its own loss (clipped surrogate + entropy bonus), which is what the inverse learner models
  describe. ``vf_coef`` therefore only scales the critic's gradient before clipping.
* Observation normalisation is frozen before training (see :mod:`ilola_lib.core.policies`).
* Agents learn from ``r_i = w_i · φ_i`` with ``w`` from the config (default: the true ``ω*``), so the
  same code trains "induced" learners on recovered weights.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import platform
from dataclasses import dataclass

import numpy as np
import torch

from ilola_lib.core.policies import (CategoricalActor, Critic, GaussianActor, flatten_params, safe_observation_std,
                                     unflatten_params)
from ilola_lib.core.seeds import learner_seeds

ADAM_EPS = 1e-5
ADVANTAGE_EPS = 1e-8


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PPOHyperparameters:
    """The settings of the PPO update (:func:`agent_batches`, :func:`update_learners`), common to every task's
    configuration; each task adds its sizes. Values come from ``params.yaml`` (validated there, no defaults
    here) through :meth:`from_params`; ``reward_weights`` ``None`` means the task's true ``ω*``."""

    num_updates: int
    learning_rate: float
    critic_learning_rate: float
    update_epochs: int
    num_minibatches: int
    clip_coef: float
    gamma: float
    gae_lambda: float
    ent_coef: float
    vf_coef: float
    max_grad_norm: float
    normalize_advantages: bool
    hidden_size: int
    num_agents: int  # a task constant, not a params.yaml key
    seed: int = 0
    reward_weights: tuple | None = None

    @classmethod
    def from_params(cls, section: dict, seed: int, **extra):
        """The configuration of one seed from a ``params.yaml`` section already validated by
        :func:`ilola_lib.pipeline.config.load_params` (``extra``: task-level fields)."""
        return cls(seed=seed, **extra, **section)

    def _freeze_weights(self, default_row) -> None:
        """``reward_weights`` as a nested tuple ``[N][q]``; ``None`` becomes ``default_row`` for every agent.

        Called by the tasks' ``__post_init__``. The weights come from the induced-return code, not from
        ``params.yaml``, so their shape and finiteness are asserted here (``q = len(default_row)``).
        """
        weights = self.reward_weights if self.reward_weights is not None else [default_row] * self.num_agents
        frozen = tuple(tuple(float(w) for w in row) for row in weights)
        shape_ok = len(frozen) == self.num_agents and all(len(row) == len(default_row) for row in frozen)
        assert shape_ok and np.isfinite(frozen).all(), (f"{type(self).__name__}.reward_weights must be finite "
                                                        f"[{self.num_agents}][{len(default_row)}], got {frozen}")
        object.__setattr__(self, "reward_weights", frozen)

    def to_dict(self) -> dict:
        """JSON-able dict of every field."""
        return {key: (list(map(list, value)) if key == "reward_weights" and value is not None else value)
                for key, value in dataclasses.asdict(self).items()}


def package_versions(packages: tuple[str, ...]) -> dict[str, str]:
    """Versions of the packages that determine a trace's numbers."""
    return {"python": platform.python_version(),
            **{name: importlib.metadata.version(name) for name in packages}}


# --------------------------------------------------------------------------------------------
# Learners and the frozen observation normaliser
# --------------------------------------------------------------------------------------------


@dataclass
class AgentLearner:
    """One independent learner: actor, critic and their own Adam optimisers."""

    actor: CategoricalActor | GaussianActor
    critic: Critic
    actor_optimizer: torch.optim.Optimizer
    critic_optimizer: torch.optim.Optimizer


@dataclass(frozen=True)
class FrozenNormalization:
    """Constants measured once before training and then fixed.

    ``obs_mean, obs_std [N, obs_dim]`` (float32) normalise every actor's and critic's input;
    ``value_offset, value_scale [N]`` put each critic's output on the scale of its discounted
    training return: ``r̄_i / (1 − γ)`` and ``σ(r_i) / (1 − γ)`` (scale 1 if the reward is constant).
    """

    obs_mean: torch.Tensor
    obs_std: torch.Tensor
    value_offset: torch.Tensor
    value_scale: torch.Tensor


def make_learners(config, normalization: FrozenNormalization, make_actor) -> list[AgentLearner]:
    """One :class:`AgentLearner` per agent with the frozen ``normalization`` built into both nets.

    ``make_actor(obs_mean, obs_std, generator)`` builds the task's actor. ``config`` needs ``seed``,
    ``num_agents``, ``hidden_size`` and the two learning rates.
    """
    generator = torch.Generator().manual_seed(learner_seeds(config.seed)["init"])
    learners = []
    for agent in range(config.num_agents):
        obs_mean, obs_std = normalization.obs_mean[agent], normalization.obs_std[agent]
        actor = make_actor(obs_mean, obs_std, generator)
        critic = Critic(obs_mean, obs_std, config.hidden_size, generator,
                        float(normalization.value_offset[agent]), float(normalization.value_scale[agent]))
        learners.append(AgentLearner(
            actor,
            critic,
            torch.optim.Adam(actor.parameters(), lr=config.learning_rate, eps=ADAM_EPS, fused=True),
            torch.optim.Adam(critic.parameters(), lr=config.critic_learning_rate, eps=ADAM_EPS, fused=True),
        ))
    return learners


def frozen_normalization(observations: torch.Tensor, rewards: torch.Tensor, gamma: float,
                         dims: tuple[int, ...]) -> FrozenNormalization:
    """:class:`FrozenNormalization` from random-action samples: ``observations [..., N, obs_dim]`` (float32)
    and training rewards ``[..., N]``, reduced over the sample axes ``dims``."""
    stacked = observations.to(torch.float64)
    obs_std = safe_observation_std(stacked.std(dim=dims, correction=0))
    reward_std = rewards.std(dim=dims, correction=0)
    reward_std = torch.where(reward_std > 0, reward_std, torch.ones_like(reward_std))
    return FrozenNormalization(
        obs_mean=stacked.mean(dim=dims).to(torch.float32),
        obs_std=obs_std.to(torch.float32),
        value_offset=rewards.mean(dim=dims) / (1 - gamma),
        value_scale=reward_std / (1 - gamma),
    )


# --------------------------------------------------------------------------------------------
# The rollout batch
# --------------------------------------------------------------------------------------------


@dataclass
class Rollout:
    """``num_steps`` batched steps of all agents.

    Attributes:
        observations: ``[T, E, N, obs_dim]`` float32, the actors' inputs.
        final_observations: ``[T, E, N, obs_dim]`` float32, the observation step ``t`` reached
            (before any auto-reset) — the bootstrap point of truncated episodes.
        actions: ``[T, E, N]`` int64.
        features: ``[T, E, N, q]`` float64 reward features of each transition.
        rewards: ``[T, E, N]`` float64 training rewards ``w_i · φ_i``.
        env_rewards: ``[T, E, N]`` float64 mpe2 rewards.
        dones: ``[T, E]`` bool, episode ended (truncated at ``max_cycles``) at step ``t``.
        terminated: ``[T, E]`` bool or ``None``: the episode ended in a terminal state at step ``t``
            (its bootstrap value is 0); ``None`` means episodes are only truncated.
        valid: ``[T, E]`` bool or ``None``: step ``t`` of env ``e`` is a real transition (not padding
            after its episode ended); ``None`` means every step is.
    """

    observations: torch.Tensor
    final_observations: torch.Tensor
    actions: torch.Tensor
    features: torch.Tensor
    rewards: torch.Tensor
    env_rewards: torch.Tensor
    dones: torch.Tensor
    terminated: torch.Tensor | None = None
    valid: torch.Tensor | None = None


def mean_episode_return(rewards: torch.Tensor, dones: torch.Tensor) -> float:
    """Mean per-agent return of the complete episodes in ``rewards [T, E, N]`` with ``dones [T, E]``."""
    return float(rewards.sum() / (dones.sum() * rewards.shape[-1]))


# --------------------------------------------------------------------------------------------
# Generalised advantage estimation
# --------------------------------------------------------------------------------------------


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    episode_ends: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE(γ, λ) advantages and value targets, both shaped like ``rewards`` ``[T, E, ...]``.

    Args:
        rewards: ``r_t`` ``[T, E, ...]`` (e.g. ``[T, E, N]`` or one agent's ``[T, E]``).
        values: ``V(o_t)``, same shape.
        next_values: ``V`` of the observation step ``t`` reached *before* any auto-reset, same
            shape. A truncated episode bootstraps from it; a terminated one would pass 0
            (simple_spread only truncates).
        episode_ends: ``[T, E]`` bool; the λ-recursion does not cross an episode end.

    ``δ_t = r_t + γ next_values_t − V(o_t)``, ``A_t = δ_t + γλ (1 − end_t) A_{t+1}``, ``A_T = 0``;
    returns ``(A, A + V)``.
    """
    advantages = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[0])
    trailing_dims = (1,) * (rewards.ndim - episode_ends.ndim)
    continues = (~episode_ends).to(rewards.dtype).reshape(*episode_ends.shape, *trailing_dims)
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_values[t] - values[t]
        running = delta + gamma * gae_lambda * continues[t] * running
        advantages[t] = running
    return advantages, advantages + values


def explained_variance(predictions: torch.Tensor, targets: torch.Tensor) -> float:
    """``1 − Var[targets − predictions] / Var[targets]`` (nan if the targets are constant)."""
    target_variance = targets.var()
    if target_variance == 0:
        return float("nan")
    return float(1 - (targets - predictions).var() / target_variance)


# --------------------------------------------------------------------------------------------
# PPO update
# --------------------------------------------------------------------------------------------


@dataclass
class AgentBatch:
    """One agent's flattened training batch of ``B = T · E`` samples."""

    observations: torch.Tensor  # [B, obs_dim]
    actions: torch.Tensor  # [B] (categorical) or [B, A] (Gaussian)
    old_log_probs: torch.Tensor  # [B]
    advantages: torch.Tensor  # [B]
    returns: torch.Tensor  # [B]


def clipped_surrogate_loss(log_probs: torch.Tensor, entropy: torch.Tensor, old_log_probs: torch.Tensor,
                           advantages: torch.Tensor, config) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """PPO's actor loss on one minibatch (Schulman et al. 2017, eq. 7, plus the entropy bonus):
    ``mean max(−Â r, −Â clip(r, 1 ± ε)) − c_H mean H`` with ``r = exp(log π − log π_old)`` and ``Â`` the advantages
    normalised over the minibatch if ``config.normalize_advantages``. All inputs ``[M]``; ``config`` needs
    ``clip_coef``, ``ent_coef`` and ``normalize_advantages``. Returns ``(loss, policy_loss, log_ratio)``."""
    log_ratio = log_probs - old_log_probs
    ratio = log_ratio.exp()
    if config.normalize_advantages:
        advantages = (advantages - advantages.mean()) / (advantages.std() + ADVANTAGE_EPS)
    clipped_ratio = ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)
    policy_loss = torch.max(-advantages * ratio, -advantages * clipped_ratio).mean()
    return policy_loss - config.ent_coef * entropy.mean(), policy_loss, log_ratio


def minibatch_indices(batch_size: int, update_epochs: int, num_minibatches: int,
                      generator: torch.Generator) -> list[torch.Tensor]:
    """The minibatches of one update, in the order they are taken: per epoch a fresh permutation of
    ``range(batch_size)`` (from ``generator``) split into chunks of ``ceil(batch_size / num_minibatches)``."""
    size = -(-batch_size // num_minibatches)
    return [index for _ in range(update_epochs) for index in torch.randperm(batch_size, generator=generator).split(size)]


def subtract_from_gradients(module: torch.nn.Module, flat: torch.Tensor) -> None:
    """``p.grad −= flat[slice of p]`` for every parameter of ``module`` (``flat [d]`` in ``parameters`` order)."""
    for param, piece in zip(module.parameters(), unflatten_params(module, flat).values()):
        param.grad.sub_(piece)


def actor_minibatch_step(learner: AgentLearner, batch: AgentBatch, index: torch.Tensor,
                         config: PPOHyperparameters, extra_ascent: torch.Tensor | None = None) -> dict[str, float]:
    """One clipped-surrogate Adam step of the actor on minibatch ``index [M]``; returns its stats.

    ``extra_ascent [d]`` (a LOLA-PPO learner's correction, :mod:`ilola_lib.core.lola`) is added to the ascent
    direction, i.e. subtracted from the loss gradient before clipping; the stats then include
    ``lola_norm_ratio`` = ‖extra_ascent‖ / ‖loss gradient‖."""
    log_probs, entropy = learner.actor.log_prob_and_entropy(batch.observations[index], batch.actions[index])
    loss, policy_loss, log_ratio = clipped_surrogate_loss(log_probs, entropy, batch.old_log_probs[index],
                                                          batch.advantages[index], config)
    learner.actor_optimizer.zero_grad()
    loss.backward()
    extra_stats = {}
    if extra_ascent is not None:
        gradient_norm = torch.cat([param.grad.reshape(-1) for param in learner.actor.parameters()]).norm()
        extra_stats["lola_norm_ratio"] = float(extra_ascent.norm() / gradient_norm)
        subtract_from_gradients(learner.actor, extra_ascent)
    torch.nn.utils.clip_grad_norm_(learner.actor.parameters(), config.max_grad_norm)
    learner.actor_optimizer.step()
    with torch.no_grad():
        ratio = log_ratio.exp()
        return {
            "policy_loss": float(policy_loss),
            "entropy": float(entropy.mean()),
            "approx_kl": float(((ratio - 1) - log_ratio).mean()),
            "clip_fraction": float(((ratio - 1).abs() > config.clip_coef).float().mean()),
            **extra_stats,
        }


def critic_minibatch_step(learner: AgentLearner, batch: AgentBatch, index: torch.Tensor,
                          config: PPOHyperparameters) -> dict[str, float]:
    """One squared-error Adam step of the critic on minibatch ``index [M]``; returns its loss."""
    value_loss = 0.5 * (learner.critic(batch.observations[index]) - batch.returns[index]).square().mean()
    learner.critic_optimizer.zero_grad()
    (config.vf_coef * value_loss).backward()
    torch.nn.utils.clip_grad_norm_(learner.critic.parameters(), config.max_grad_norm)
    learner.critic_optimizer.step()
    return {"value_loss": float(value_loss.detach())}


def update_agent(learner: AgentLearner, batch: AgentBatch, config: PPOHyperparameters,
                 generator: torch.Generator, extra_ascent: torch.Tensor | None = None) -> dict[str, float]:
    """``update_epochs`` passes of ``num_minibatches`` shuffled minibatches (``extra_ascent [d]`` added to every
    actor step, see :func:`actor_minibatch_step`); returns stats averaged over minibatches."""
    totals: dict[str, float] = {}
    minibatches = minibatch_indices(batch.advantages.shape[0], config.update_epochs, config.num_minibatches, generator)
    for index in minibatches:
        stats = {**actor_minibatch_step(learner, batch, index, config, extra_ascent),
                 **critic_minibatch_step(learner, batch, index, config)}
        for key, value in stats.items():
            totals[key] = totals.get(key, 0.0) + value
    return {key: value / len(minibatches) for key, value in totals.items()}


@torch.no_grad()
def agent_batches(learners: list[AgentLearner], rollout: Rollout, config: PPOHyperparameters) -> tuple[list[AgentBatch], float]:
    """Per-agent flattened batches with old log-probs, GAE advantages and returns.

    Terminal steps (``rollout.terminated``) bootstrap from 0; padding steps (``~rollout.valid``) are
    left out of the batches. Also returns the critics' explained variance (mean over agents) before
    the update.
    """
    def flat(values: torch.Tensor) -> torch.Tensor:  # [T, E, ...] -> [B, ...]
        return values.reshape(-1, *values.shape[2:]) if rollout.valid is None else values[rollout.valid]

    batches, explained = [], []
    for agent, learner in enumerate(learners):
        observations = rollout.observations[:, :, agent]
        values = learner.critic(observations)
        next_values = learner.critic(rollout.final_observations[:, :, agent])
        if rollout.terminated is not None:
            next_values = next_values.masked_fill(rollout.terminated, 0.0)
        advantages, returns = compute_gae(rollout.rewards[:, :, agent].to(torch.float32), values, next_values,
                                          rollout.dones, config.gamma, config.gae_lambda)
        actions = flat(rollout.actions[:, :, agent])
        flat_observations = flat(observations)
        old_log_probs, _ = learner.actor.log_prob_and_entropy(flat_observations, actions)
        batches.append(AgentBatch(flat_observations, actions, old_log_probs, flat(advantages), flat(returns)))
        explained.append(explained_variance(flat(values), flat(returns)))
    return batches, float(np.mean(explained))


def update_learners(learners: list[AgentLearner], rollout: Rollout, config: PPOHyperparameters,
                    generator: torch.Generator, extra_ascent: torch.Tensor | None = None) -> dict[str, float]:
    """One PPO update of every agent on its part of ``rollout``; returns diagnostics (agent means).

    ``extra_ascent [N, d]``: per agent a direction added to every actor step (LOLA-PPO learners); ``None`` for
    independent PPO."""
    batches, explained = agent_batches(learners, rollout, config)
    per_agent = []
    for agent, (learner, batch) in enumerate(zip(learners, batches)):
        before = flatten_params(learner.actor)
        stats = update_agent(learner, batch, config, generator, None if extra_ascent is None else extra_ascent[agent])
        with torch.no_grad():
            stats["policy_kl"] = learner.actor.mean_kl_from(before, batch.observations)
        per_agent.append(stats)
    diagnostics = {key: float(np.mean([stats[key] for stats in per_agent])) for key in per_agent[0]}
    diagnostics["explained_variance"] = explained
    return diagnostics
