"""A tiny matched setting for the PPO replay: independent PPO learners (the project's own update,
:func:`ilola_lib.core.ppo.update_learners`) on a synthetic two-agent task with known reward weights.

Each episode lasts ``H`` steps; observations are Gaussian and independent of the actions, and agent ``i``'s
features ``φ_i(o, a) [q]`` depend on its own action and observation (and, for the first feature, on the other
agent's action, so the agents interact). The reward is ``ω*_i · φ_i``.
"""

from __future__ import annotations

import numpy as np
import torch

from ilola_lib.core.lola import rollout_lola_corrections
from ilola_lib.core.policies import CategoricalActor
from ilola_lib.core.ppo import FrozenNormalization, PPOHyperparameters, Rollout, make_learners, update_learners
from ilola_lib.core.ppo_training import TraceRecorder

OBS_DIM, NUM_ACTIONS, NUM_AGENTS, Q, HORIZON = 4, 3, 2, 3, 2
TRUE_WEIGHTS = np.array([[1.0, -0.5, 0.3], [0.2, 1.0, -0.6]])


def features_of(observations: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """``φ [T, E, N, q]`` for observations ``[T, E, N, obs]`` and actions ``[T, E, N]``."""
    one_hot = torch.nn.functional.one_hot(actions, NUM_ACTIONS).to(torch.float64)
    own = one_hot * (1.0 + observations[..., :NUM_ACTIONS].to(torch.float64))
    same = (actions[..., :1] == actions[..., 1:]).to(torch.float64).expand(*actions.shape)
    return torch.stack([own[..., 0] + 0.5 * same, own[..., 1], own[..., 2]], dim=-1)


def config(num_updates: int, seed: int = 0) -> PPOHyperparameters:
    return PPOHyperparameters(num_updates=num_updates, learning_rate=0.01, critic_learning_rate=0.01,
                              update_epochs=2, num_minibatches=2, clip_coef=0.2, gamma=0.9, gae_lambda=0.9,
                              ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5, normalize_advantages=True, hidden_size=8,
                              num_agents=NUM_AGENTS, seed=seed)


def collect(actors, generator: torch.Generator, num_envs: int, weights: torch.Tensor) -> Rollout:
    """One batch of ``num_envs`` episodes."""
    observations = torch.randn(HORIZON, num_envs, NUM_AGENTS, OBS_DIM, generator=generator)
    final = torch.cat([observations[1:], torch.randn(1, num_envs, NUM_AGENTS, OBS_DIM, generator=generator)])
    with torch.no_grad():
        logits = torch.stack([actor(observations[:, :, i]) for i, actor in enumerate(actors)], dim=2)
    actions = torch.distributions.Categorical(logits=logits).sample()
    features = features_of(observations, actions)
    rewards = torch.einsum("tenq,nq->ten", features, weights)
    dones = torch.zeros(HORIZON, num_envs, dtype=torch.bool)
    dones[-1] = True
    return Rollout(observations, final, actions, features, rewards, rewards, dones)


def synthetic_ppo_run(num_updates: int = 8, num_envs: int = 128, seed: int = 0, lola_eta: float = 0.0):
    """``(trace, learners, rollouts, hyper-parameters)`` of one run; ``rollouts[k]`` is ``D_k``. With ``lola_eta > 0``
    the learners are LOLA-PPO learners: every actor step adds ``lola_eta`` times the first-order LOLA correction."""
    hyper = config(num_updates, seed)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    weights = torch.as_tensor(TRUE_WEIGHTS)
    normalization = FrozenNormalization(torch.zeros(NUM_AGENTS, OBS_DIM), torch.ones(NUM_AGENTS, OBS_DIM),
                                        torch.zeros(NUM_AGENTS, dtype=torch.float64),
                                        torch.ones(NUM_AGENTS, dtype=torch.float64))
    learners = make_learners(hyper, normalization, lambda mean, std, g: CategoricalActor(mean, std, NUM_ACTIONS, 8, g))
    recorder, rollouts = TraceRecorder(num_updates), []
    minibatch_generator = torch.Generator().manual_seed(seed + 1)
    for phase in range(num_updates + 1):
        rollout = collect([learner.actor for learner in learners], generator, num_envs, weights)
        recorder.record(phase, learners, rollout)
        rollouts.append(rollout)
        if phase < num_updates:
            coupling = None
            if lola_eta > 0:
                coupling = lola_eta * rollout_lola_corrections([learner.actor for learner in learners],
                                                               rollout.observations, rollout.actions, rollout.rewards,
                                                               hyper.gamma, HORIZON)
            update_learners(learners, rollout, hyper, minibatch_generator, coupling)
    coupled = {"lola_eta": lola_eta} if lola_eta > 0 else {}
    metadata = {"config": {**hyper.to_dict(), "max_cycles": HORIZON, **coupled}, "hidden_size": 8,
                "num_actions": NUM_ACTIONS, "feature_names": ["first", "second", "third"]}
    trace = recorder.finish(normalization.obs_mean, normalization.obs_std, TRUE_WEIGHTS, metadata)
    return trace, learners, rollouts, hyper
