"""Independent Gaussian PPO learners on MultiWalker (T3), with a learning trace (design §3–§4).

Read top to bottom: configuration, the frozen normalisation, episode rollouts, the training loop.
GAE and the clipped-surrogate update are the ones of :mod:`ilola_lib.learners.ppo` (CleanRL
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
from tqdm import tqdm

from ilola_lib.envs.multiwalker import ACTION_DIM, FEATURE_NAMES, MultiWalkerFeatureEnv, Policy, true_weights
from ilola_lib.learners.policies import GaussianActor, flatten_params
from ilola_lib.learners.ppo import (
    FrozenNormalization,
    PPOHyperparameters,
    PPORun,
    Rollout,
    derive_seeds,
    frozen_normalization,
    make_learners,
    mean_episode_return,
    package_versions,
    update_learners,
)
from ilola_lib.neural_traces import NeuralTrace
from ilola_lib.parallel import single_threaded_torch

ENV_NAME = "pettingzoo.sisl multiwalker_v9"


@dataclass(frozen=True)
class MultiWalkerPPOConfig(PPOHyperparameters):
    """Budget and hyper-parameters of one independent Gaussian-PPO run on MultiWalker.

    One update uses ``episodes_per_update`` complete episodes (at most ``max_cycles`` env-steps each),
    split into ``num_minibatches`` minibatches for each of ``update_epochs`` epochs.
    ``reward_weights [N][q]``: the training reward ``w_i · φ_i``; ``None`` means the true ``ω*``.
    """

    learning_rate: float = 3e-4
    update_epochs: int = 10
    num_minibatches: int = 8
    gamma: float = 0.99
    ent_coef: float = 0.0
    episodes_per_update: int = 12
    num_updates: int = 100
    max_cycles: int = 150
    init_log_std: float = -1.0
    normalizer_episodes: int = 8

    def __post_init__(self) -> None:
        self._freeze_weights(true_weights(self.env_kwargs))

    @property
    def env_kwargs(self) -> dict:
        """``multiwalker_v9`` arguments (its defaults for everything but these)."""
        return {"n_walkers": self.num_agents, "max_cycles": self.max_cycles}

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first invalid field."""
        self.validate_fields(("episodes_per_update", "num_updates", "max_cycles", "normalizer_episodes"),
                             len(FEATURE_NAMES))


# --------------------------------------------------------------------------------------------
# Episode rollouts
# --------------------------------------------------------------------------------------------


def episode_seeds(seed: int, phase: int, count: int) -> list[int]:
    """Reset seeds of the ``count`` episodes of one phase (distinct across phases and runs)."""
    states = np.random.SeedSequence([seed, phase]).generate_state(count, dtype=np.uint32)
    return [int(s) for s in states]


def sample_gaussian_actions(actors: list[GaussianActor], obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Actions ``[L, N, A]`` sampled from every walker's policy at ``obs [L, N, obs_dim]``."""
    means = torch.stack([actor(obs[:, i]) for i, actor in enumerate(actors)], 1)
    stds = torch.stack([actor.log_std.exp() for actor in actors])
    return means + stds * torch.randn(means.shape, generator=generator)


@torch.no_grad()
def collect_episodes(envs: list[MultiWalkerFeatureEnv], actors: list[GaussianActor], seeds: list[int],
                     reward_weights: torch.Tensor, generator: torch.Generator) -> Rollout:
    """One complete episode per env, in lockstep, from ``reset(seed=seeds[e])``, with sampled actions.

    Returns a :class:`~ilola_lib.learners.ppo.Rollout` of shape ``[H = max_cycles, E, N, …]`` with
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
    return {"episode_return": mean_episode_return(rollout.env_rewards, rollout.dones),
            "training_return": mean_episode_return(rollout.rewards, rollout.dones),
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
    seed = derive_seeds(config.seed)["normalizer"]
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


class EpisodeTraceRecorder:
    """Preallocated trace arrays for phases ``0..K`` of ``[H, E]`` episode batches."""

    def __init__(self, config: MultiWalkerPPOConfig, num_params: int, obs_dim: int) -> None:
        shape = (config.num_updates + 1, config.max_cycles, config.episodes_per_update, config.num_agents)
        self.actor_params = np.zeros((shape[0], config.num_agents, num_params), dtype=np.float32)
        self.observations = np.zeros((*shape, obs_dim), dtype=np.float32)
        self.actions = np.zeros((*shape, ACTION_DIM), dtype=np.float32)
        self.features = np.zeros((*shape, len(FEATURE_NAMES)), dtype=np.float32)
        self.rewards = np.zeros(shape, dtype=np.float32)
        self.dones = np.zeros(shape[:3], dtype=bool)
        self.valid = np.zeros(shape[:3], dtype=bool)

    def record(self, phase: int, actors: list[GaussianActor], rollout: Rollout) -> None:
        for agent, actor in enumerate(actors):
            self.actor_params[phase, agent] = flatten_params(actor).numpy()
        for name in ("observations", "actions", "features", "rewards", "dones", "valid"):
            getattr(self, name)[phase] = getattr(rollout, name).numpy()


@dataclass
class MultiWalkerPPORun(PPORun):
    """Result of :func:`train_multiwalker_ppo`: a :class:`~ilola_lib.learners.ppo.PPORun` whose ``history``
    entries also hold ``episode_length`` and ``package_distance`` of ``D_k``, and ``final_statistics`` the
    same statistics of ``D_K``."""

    final_statistics: dict[str, float]


def train_multiwalker_ppo(config: MultiWalkerPPOConfig) -> MultiWalkerPPORun:
    """Train independent Gaussian PPO walkers and record the learning trace.

    Deterministic for a config (seeded resets and generators, single-threaded torch). Phase ``k``
    snapshots ``θ^k``, plays ``D_k`` with it and (for ``k < K``) updates every walker on ``D_k``.
    """
    config.validate()
    start = time.perf_counter()
    seeds = derive_seeds(config.seed)
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
            minibatch_generator = torch.Generator().manual_seed(seeds["minibatches"])
            recorder = EpisodeTraceRecorder(config, flatten_params(actors[0]).numel(), envs[0].observation_dim)
            history = []
            for phase in tqdm(range(config.num_updates + 1), desc=f"MultiWalker PPO seed {config.seed}",
                              disable=None):
                phase_start = time.perf_counter()
                rollout = collect_episodes(envs, actors, episode_seeds(seeds["env"], phase, len(envs)),
                                           reward_weights, action_generator)
                statistics = rollout_statistics(rollout, [env.package_x - env.package_start_x for env in envs])
                recorder.record(phase, actors, rollout)
                if phase == config.num_updates:
                    break
                diagnostics = update_learners(learners, rollout, config, minibatch_generator)
                seconds = time.perf_counter() - phase_start
                history.append({"update": phase, **statistics, **diagnostics,
                                "steps_per_second": float(rollout.valid.sum()) / seconds, "seconds": seconds})
    finally:
        for env in envs:
            env.close()
    metadata = {
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
        "learning_curve": {key: [entry[key] for entry in history] for key in history[0]
                           if key not in ("seconds", "steps_per_second")} if history else {},
        "final_statistics": statistics,
    }
    trace = NeuralTrace(recorder.actor_params, recorder.observations, recorder.actions, recorder.features,
                        recorder.rewards, recorder.dones, normalization.obs_mean.numpy(),
                        normalization.obs_std.numpy(), np.asarray(config.reward_weights), metadata,
                        valid=recorder.valid)
    return MultiWalkerPPORun(learners, trace, history, statistics["episode_return"], time.perf_counter() - start,
                             final_statistics=statistics)


def actor_policy(actors: list[GaussianActor], agents: list[str]) -> Policy:
    """A :data:`~ilola_lib.envs.multiwalker.Policy` that samples each walker's action from its actor,
    with the episode runner's seeded ``rng``."""
    index = {agent: i for i, agent in enumerate(agents)}

    @torch.no_grad()
    def act(agent: str, observation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        actor = actors[index[agent]]
        mean = actor(torch.from_numpy(observation)).numpy()
        noise = rng.standard_normal(mean.shape).astype(np.float32)
        return np.clip(mean + actor.log_std.detach().exp().numpy() * noise, -1.0, 1.0)

    return act
