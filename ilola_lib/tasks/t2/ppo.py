"""Independent PPO learners on simple_spread (T2): configuration, frozen normaliser, rollouts on
:class:`~ilola_lib.tasks.t2.simple_spread.BatchedSimpleSpread` and training with a learning trace.

The update, GAE and the training loop are :mod:`ilola_lib.core.ppo` and :mod:`ilola_lib.core.ppo_training`.
Rollouts hold whole episodes: ``num_steps`` is a multiple of ``max_cycles`` and all envs start together,
so every ``D_k`` is a batch of complete episodes sampled with ``θ^k``. Evaluation on the real mpe2
environment is in :mod:`ilola_lib.tasks.t2.evaluation`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch

from ilola_lib.core.lola import rollout_lola_corrections
from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.core.policies import CategoricalActor
from ilola_lib.core.ppo import (FrozenNormalization, PPOHyperparameters, Rollout, frozen_normalization, make_learners,
                                package_versions)
from ilola_lib.core.ppo_training import PPORun, batch_returns, learning_curve_metadata, train_ppo_learners
from ilola_lib.core.seeds import learner_seeds
from ilola_lib.tasks.t2.simple_spread import FEATURE_NAMES, NUM_ACTIONS, NUM_AGENTS, BatchedSimpleSpread, true_weights

ENV_NAME = "mpe2 simple_spread_v3"


@dataclass(frozen=True, kw_only=True)
class PPOConfig(PPOHyperparameters):
    """Budget and hyper-parameters of one independent-PPO run on simple_spread.

    One update consumes ``num_envs * num_steps`` env-steps per agent, split into
    ``num_minibatches`` minibatches for each of ``update_epochs`` epochs.
    ``reward_weights [N][q]`` are the weights ``w_i`` of the training reward ``w_i · φ_i``;
    left as ``None`` they become the true ``ω*`` of ``local_ratio`` for every agent.
    """

    num_envs: int
    num_steps: int
    local_ratio: float
    max_cycles: int
    normalizer_envs: int
    normalizer_steps: int
    num_agents: int = NUM_AGENTS
    task: ClassVar[str] = "t2"  # the params.yaml section and results folder of these learners
    learner: ClassVar[str] = "independent_ppo"  # the trace metadata's "learner"

    def __post_init__(self) -> None:
        self._freeze_weights(true_weights(self.local_ratio))

    def coupling(self):
        """The direction added to every actor step (:func:`~ilola_lib.core.ppo_training.train_ppo_learners`):
        none for independent learners."""
        return None

    @property
    def batch_size(self) -> int:
        """Samples per agent per update: ``num_envs * num_steps``."""
        return self.num_envs * self.num_steps


@dataclass(frozen=True, kw_only=True)
class LolaPPOConfig(PPOConfig):
    """:class:`PPOConfig` for LOLA-PPO learners: every actor step adds ``lola_eta`` times the first-order LOLA
    correction estimated from ``D_k`` at ``θ^k`` (:mod:`ilola_lib.core.lola`)."""

    lola_eta: float
    task: ClassVar[str] = "t2_lola"
    learner: ClassVar[str] = "lola_ppo"

    def coupling(self):
        """``coupling(learners, D_k) → η · LOLA correction [N, d]`` at ``θ^k``."""
        def lola(learners, rollout: Rollout) -> torch.Tensor:
            corrections = rollout_lola_corrections([learner.actor for learner in learners], rollout.observations,
                                                   rollout.actions, rollout.rewards, self.gamma, self.max_cycles)
            return self.lola_eta * corrections

        return lola


def measure_normalization(config: PPOConfig) -> FrozenNormalization:
    """:class:`FrozenNormalization` from uniform-random-action rollouts of fresh envs.

    Uses ``normalizer_envs × normalizer_steps`` steps on its own seed stream; near-constant
    observation inputs get std 1 (:func:`safe_observation_std`).
    """
    seed = learner_seeds(config.seed)["normalizer"]
    env = BatchedSimpleSpread(config.normalizer_envs, config.num_agents,
                              config.local_ratio, config.max_cycles)
    generator = torch.Generator().manual_seed(seed)
    weights = torch.tensor(config.reward_weights, dtype=torch.float64)
    observations, rewards = [env.reset(seed=seed)], []
    for step in range(config.normalizer_steps):
        actions = torch.randint(0, NUM_ACTIONS, (env.num_envs, env.num_agents), generator=generator)
        transition = env.step(actions)
        rewards.append((transition.features * weights).sum(-1))
        if step < config.normalizer_steps - 1:
            observations.append(transition.observations)
    return frozen_normalization(torch.stack(observations).to(torch.float32), torch.stack(rewards), config.gamma,
                                dims=(0, 1))


# --------------------------------------------------------------------------------------------
# Rollouts
# --------------------------------------------------------------------------------------------


def stacked_logits(actors: list[CategoricalActor], obs: torch.Tensor) -> torch.Tensor:
    """Every agent's logits ``[..., N, A]`` for its own observations ``obs [..., N, obs_dim]``."""
    return torch.stack([actor(obs[..., agent, :]) for agent, actor in enumerate(actors)], dim=-2)


def sample_actions(actors: list[CategoricalActor], obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Actions ``[E, N]`` sampled from every agent's policy at ``obs [E, N, obs_dim]``."""
    probs = torch.softmax(stacked_logits(actors, obs), dim=-1)
    flat = torch.multinomial(probs.reshape(-1, probs.shape[-1]), 1, generator=generator)
    return flat.reshape(probs.shape[:-1])


@torch.no_grad()
def collect_rollout(
    env: BatchedSimpleSpread,
    actors: list[CategoricalActor],
    first_obs: torch.Tensor,
    num_steps: int,
    reward_weights: torch.Tensor,
    generator: torch.Generator,
) -> tuple[Rollout, torch.Tensor]:
    """Run ``num_steps`` steps from ``first_obs [E, N, obs_dim]`` (float32) with sampled actions.

    ``reward_weights [N, q]`` (float64) define the training rewards. Returns the rollout and the
    observations ``[E, N, obs_dim]`` (float32) that start the next rollout.
    """
    observations, final_observations, actions, features, env_rewards, dones = [], [], [], [], [], []
    obs = first_obs
    for _ in range(num_steps):
        action = sample_actions(actors, obs, generator)
        step = env.step(action)
        observations.append(obs)
        actions.append(action)
        final_observations.append(step.final_observations.to(torch.float32))
        features.append(step.features)
        env_rewards.append(step.rewards)
        dones.append(step.dones)
        obs = step.observations.to(torch.float32)
    features_tensor = torch.stack(features)
    rollout = Rollout(
        observations=torch.stack(observations),
        final_observations=torch.stack(final_observations),
        actions=torch.stack(actions),
        features=features_tensor,
        rewards=torch.einsum("tenq,nq->ten", features_tensor, reward_weights),
        env_rewards=torch.stack(env_rewards),
        dones=torch.stack(dones),
    )
    return rollout, obs


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------


def train_ppo(config: PPOConfig) -> PPORun:
    """Train independent (or, for a :class:`LolaPPOConfig`, LOLA-PPO) learners on ``BatchedSimpleSpread`` and record
    the learning trace.

    Deterministic for a config (seeded generators, single-threaded torch). Phase ``k`` snapshots
    ``θ^k``, collects ``D_k`` with it and (for ``k < K``) updates every agent on ``D_k``; rollouts
    continue the envs' episodes from one phase to the next.
    """
    start = time.perf_counter()
    seeds = learner_seeds(config.seed)
    reward_weights = np.asarray(config.reward_weights, dtype=np.float64)
    with single_threaded_torch():
        normalization = measure_normalization(config)
        learners = make_learners(config, normalization, lambda mean, std, generator: CategoricalActor(
            mean, std, NUM_ACTIONS, config.hidden_size, generator))
        actors = [learner.actor for learner in learners]
        env = BatchedSimpleSpread(config.num_envs, config.num_agents, config.local_ratio, config.max_cycles)
        next_obs = [env.reset(seed=seeds["env"]).to(torch.float32)]
        action_generator = torch.Generator().manual_seed(seeds["actions"])

        def collect(phase: int) -> tuple[Rollout, dict[str, float]]:
            rollout, next_obs[0] = collect_rollout(env, actors, next_obs[0], config.num_steps,
                                                   torch.from_numpy(reward_weights), action_generator)
            return rollout, batch_returns(rollout)

        history, final, recorder = train_ppo_learners(config, learners, collect, config.num_updates,
                                                      f"{config.learner} seed {config.seed}", config.coupling())
    metadata = trace_metadata(config, seeds, history, final["episode_return"], normalization)
    trace = recorder.finish(normalization.obs_mean, normalization.obs_std, reward_weights, metadata)
    return PPORun(learners, trace, history, final, time.perf_counter() - start)


def trace_metadata(config: PPOConfig, seeds: dict[str, int], history: list[dict], final_return: float,
                   normalization: FrozenNormalization) -> dict:
    """JSON-able metadata of a PPO trace; timings are left out so equal runs give equal metadata."""
    return {
        "task": config.task,
        "env": ENV_NAME,
        "learner": config.learner,
        "config": config.to_dict(),
        "seed": config.seed,
        "derived_seeds": seeds,
        "package_versions": package_versions(("torch", "numpy", "mpe2", "pettingzoo")),
        "feature_names": list(FEATURE_NAMES),
        "true_weights": true_weights(config.local_ratio).tolist(),
        "hidden_size": config.hidden_size,
        "num_actions": NUM_ACTIONS,
        "observation_normalization": "fixed mean/std of uniform-random-policy rollouts, frozen before training",
        "critic_value_offset": normalization.value_offset.tolist(),
        "critic_value_scale": normalization.value_scale.tolist(),
        "learning_curve": learning_curve_metadata(history),
        "final_episode_return": final_return,
    }
