"""Independent Gaussian PPO learners on MultiWalker (T3), with a learning trace (design §3–§4).

Read top to bottom: configuration, the frozen normalisation, episode rollouts, the training loop.
GAE, the clipped-surrogate update and the training loop are :mod:`ilola_lib.core.ppo` and
:mod:`ilola_lib.core.ppo_training` (CleanRL
``ppo_continuous_action``: state-dependent mean, state-independent log-std, unbounded samples that
the environment clips).

Choices that matter for the inverse problem:

* Every update learns from ``episodes_per_update`` **complete** episodes sampled with ``θ^k``, played
  in lockstep from fresh resets. MultiWalker episodes end early when a walker falls, so the batch
  arrays are ``[H = max_cycles, E, …]`` with a ``valid`` mask; padding steps carry zero features and
  never enter an update or an estimator.
* A fall or a dropped package is terminal (bootstrap 0); reaching ``max_cycles`` is a time limit
  (bootstrap from the critic), although the env reports both as terminations.
* Agents learn from ``r_i = w_i · φ_i`` (default: the true ``ω*``); the same code trains induced
  learners on recovered weights.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.core.policies import GaussianActor
from ilola_lib.core.ppo import (FrozenNormalization, PPOHyperparameters, Rollout, frozen_normalization, make_learners,
                                package_versions)
from ilola_lib.core.ppo_training import PPORun, batch_returns, learning_curve_metadata, train_ppo_learners
from ilola_lib.core.seeds import episode_seeds, learner_seeds
from ilola_lib.tasks.t3.multiwalker import ACTION_DIM, FEATURE_NAMES, MultiWalkerFeatureEnv, Policy, true_weights

ENV_NAME = "pettingzoo.sisl multiwalker_v9"


@dataclass(frozen=True, kw_only=True)
class MultiWalkerPPOConfig(PPOHyperparameters):
    """Budget and hyper-parameters of one independent Gaussian-PPO run on MultiWalker.

    One update uses ``episodes_per_update`` complete episodes (at most ``max_cycles`` env-steps each),
    split into ``num_minibatches`` minibatches for each of ``update_epochs`` epochs.
    ``reward_weights [N][q]``: the training reward ``w_i · φ_i``; ``None`` means the true ``ω*``.
    """

    episodes_per_update: int
    max_cycles: int
    init_log_std: float
    normalizer_episodes: int
    num_agents: int = 3  # multiwalker_v9's n_walkers

    def __post_init__(self) -> None:
        self._freeze_weights(true_weights(self.env_kwargs))

    @property
    def env_kwargs(self) -> dict:
        """``multiwalker_v9`` arguments (its defaults for everything but these)."""
        return {"n_walkers": self.num_agents, "max_cycles": self.max_cycles}


# --------------------------------------------------------------------------------------------
# Episode rollouts
# --------------------------------------------------------------------------------------------


def sample_gaussian_actions(actors: list[GaussianActor], obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Actions ``[L, N, A]`` sampled from every walker's policy at ``obs [L, N, obs_dim]``."""
    means = torch.stack([actor(obs[:, i]) for i, actor in enumerate(actors)], 1)
    stds = torch.stack([actor.log_std.exp() for actor in actors])
    return means + stds * torch.randn(means.shape, generator=generator)


@torch.no_grad()
def collect_episodes(envs: list[MultiWalkerFeatureEnv], actors: list[GaussianActor], seeds: list[int],
                     reward_weights: torch.Tensor, generator: torch.Generator) -> Rollout:
    """One complete episode per env, in lockstep, from ``reset(seed=seeds[e])``, with sampled actions.

    Returns a :class:`~ilola_lib.core.ppo.Rollout` of shape ``[H = max_cycles, E, N, …]`` with
    ``valid`` (real steps), ``dones`` (last step of each episode) and ``terminated`` (failure ends);
    ``reward_weights [N, q]`` (float64) give the training rewards.
    """
    horizon, num_envs, num_agents = envs[0].max_cycles, len(envs), len(actors)
    agents = envs[0].possible_agents
    obs_dim, q = envs[0].observation_dim, len(FEATURE_NAMES)
    observations = torch.zeros(horizon, num_envs, num_agents, obs_dim)
    final_observations = torch.zeros(horizon, num_envs, num_agents, obs_dim)
    actions = torch.zeros(horizon, num_envs, num_agents, ACTION_DIM)
    features = torch.zeros(horizon, num_envs, num_agents, q, dtype=torch.float64)
    env_rewards = torch.zeros(horizon, num_envs, num_agents, dtype=torch.float64)
    dones = torch.zeros(horizon, num_envs, dtype=torch.bool)
    terminated = torch.zeros(horizon, num_envs, dtype=torch.bool)
    valid = torch.zeros(horizon, num_envs, dtype=torch.bool)
    current = [env.reset(seed=s)[0] for env, s in zip(envs, seeds)]
    live = list(range(num_envs))
    for t in range(horizon):
        obs = torch.from_numpy(np.stack([[current[e][a] for a in agents] for e in live]))  # [L, N, obs_dim]
        sampled = sample_gaussian_actions(actors, obs, generator)
        observations[t, live], actions[t, live], valid[t, live] = obs, sampled, True
        applied = sampled.clamp(-1.0, 1.0).numpy()  # what the env applies; the policy's sample is stored
        still_live = []
        for row, e in enumerate(live):
            step = envs[e].step({a: applied[row, i] for i, a in enumerate(agents)})
            assert set(step.rewards) == set(agents), "every walker acts until the episode ends"
            features[t, e] = torch.from_numpy(np.stack([step.features[a] for a in agents]))
            env_rewards[t, e] = torch.tensor([float(step.rewards[a]) for a in agents], dtype=torch.float64)
            final_observations[t, e] = torch.from_numpy(np.stack([step.observations[a] for a in agents]))
            ended = [step.terminations[a] or step.truncations[a] for a in agents]
            assert len(set(ended)) == 1, "walkers end their episode together (terminate_on_fall)"
            if ended[0]:
                dones[t, e], terminated[t, e] = True, envs[e].episode_failed
            else:
                current[e] = step.observations
                still_live.append(e)
        live = still_live
        if not live:
            break
    assert not live, "episodes end by max_cycles at the latest"
    return Rollout(observations, final_observations, actions, features,
                   torch.einsum("tenq,nq->ten", features, reward_weights), env_rewards, dones, terminated, valid)


def rollout_statistics(rollout: Rollout, package_distances: list[float]) -> dict[str, float]:
    """Per-walker mean env and training returns, mean episode length and package distance of a batch."""
    return {**batch_returns(rollout),
            "episode_length": float(rollout.valid.sum() / rollout.dones.sum()),
            "package_distance": float(np.mean(package_distances))}


# --------------------------------------------------------------------------------------------
# Frozen normalisation, learners and the training loop
# --------------------------------------------------------------------------------------------


def measure_normalization(config: MultiWalkerPPOConfig) -> FrozenNormalization:
    """Observation mean/std and critic value scale from ``normalizer_episodes`` uniform-random episodes.

    Constant inputs get std 1 (:func:`safe_observation_std`); the critic's offset and scale are
    ``r̄_i / (1 − γ)`` and ``σ(r_i) / (1 − γ)`` of the training reward over those steps.
    """
    seed = learner_seeds(config.seed)["normalizer"]
    rng = np.random.default_rng(seed)
    env = MultiWalkerFeatureEnv(**config.env_kwargs)
    weights = np.asarray(config.reward_weights, dtype=np.float64)
    observations, rewards = [], []
    try:
        for reset_seed in episode_seeds(seed, 0, config.normalizer_episodes):
            current, _ = env.reset(seed=reset_seed)
            while env.agents:
                agents = env.possible_agents
                observations.append(np.stack([current[a] for a in agents]))
                step = env.step({a: rng.uniform(-1, 1, ACTION_DIM).astype(np.float32) for a in agents})
                rewards.append((np.stack([step.features[a] for a in agents]) * weights).sum(-1))
                current = step.observations
    finally:
        env.close()
    return frozen_normalization(torch.from_numpy(np.stack(observations)), torch.from_numpy(np.stack(rewards)),
                                config.gamma, dims=(0,))


def train_multiwalker_ppo(config: MultiWalkerPPOConfig, observe=None) -> PPORun:
    """Train independent Gaussian PPO walkers and record the learning trace.

    Deterministic for a config (seeded resets and generators, single-threaded torch). Phase ``k``
    snapshots ``θ^k``, plays ``D_k`` with it and (for ``k < K``) updates every walker on ``D_k``. The run's
    ``history`` and ``final_statistics`` also hold ``episode_length`` and ``package_distance`` of each batch.
    ``observe`` is :func:`~ilola_lib.core.ppo_training.train_ppo_learners`'s white-box hook.
    """
    start = time.perf_counter()
    seeds = learner_seeds(config.seed)
    reward_weights = torch.tensor(config.reward_weights, dtype=torch.float64)
    envs = [MultiWalkerFeatureEnv(**config.env_kwargs) for _ in range(config.episodes_per_update)]
    agents, truth = envs[0].possible_agents, envs[0].true_weights
    try:
        with single_threaded_torch():
            normalization = measure_normalization(config)
            learners = make_learners(config, normalization, lambda mean, std, generator: GaussianActor(
                mean, std, ACTION_DIM, config.hidden_size, generator, config.init_log_std))
            actors = [learner.actor for learner in learners]
            action_generator = torch.Generator().manual_seed(seeds["actions"])

            def collect(phase: int) -> tuple[Rollout, dict[str, float]]:
                rollout = collect_episodes(envs, actors, episode_seeds(seeds["env"], phase, len(envs)),
                                           reward_weights, action_generator)
                return rollout, rollout_statistics(rollout, [env.package_x - env.package_start_x for env in envs])

            history, final, recorder = train_ppo_learners(config, learners, collect, config.num_updates,
                                                          f"MultiWalker PPO seed {config.seed}", observe=observe)
    finally:
        for env in envs:
            env.close()
    metadata = trace_metadata(config, seeds, history, final, agents, truth)
    trace = recorder.finish(normalization.obs_mean, normalization.obs_std, np.asarray(config.reward_weights),
                            metadata)
    return PPORun(learners, trace, history, final, time.perf_counter() - start)


def trace_metadata(config: MultiWalkerPPOConfig, seeds: dict[str, int], history: list[dict], final: dict,
                   agents: list[str], truth: np.ndarray) -> dict:
    """JSON-able metadata of a MultiWalker PPO trace; timings are left out so equal runs give equal metadata."""
    return {
        "task": "t3",
        "env": ENV_NAME,
        "env_kwargs": config.env_kwargs,
        "agents": agents,
        "learner": "independent_ppo_gaussian",
        "policy": "gaussian",
        "config": config.to_dict(),
        "seed": config.seed,
        "derived_seeds": seeds,
        "package_versions": package_versions(("torch", "numpy", "pettingzoo", "box2d")),
        "feature_names": list(FEATURE_NAMES),
        "true_weights": truth.tolist(),
        "hidden_size": config.hidden_size,
        "action_dim": ACTION_DIM,
        "init_log_std": config.init_log_std,
        "observation_normalization": "fixed mean/std of uniform-random-action episodes, frozen before training",
        "learning_curve": learning_curve_metadata(history),
        "final_statistics": final,
    }


def actor_policy(actors: list[GaussianActor], agents: list[str]) -> Policy:
    """A :data:`~ilola_lib.tasks.t3.multiwalker.Policy` that samples each walker's action from its actor,
    with the episode runner's seeded ``rng``."""
    index = {agent: i for i, agent in enumerate(agents)}

    @torch.no_grad()
    def act(agent: str, observation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        actor = actors[index[agent]]
        mean = actor(torch.from_numpy(observation)).numpy()
        noise = rng.standard_normal(mean.shape).astype(np.float32)
        return np.clip(mean + actor.log_std.detach().exp().numpy() * noise, -1.0, 1.0)

    return act
