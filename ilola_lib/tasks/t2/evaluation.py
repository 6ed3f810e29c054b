"""Evaluation of simple_spread policies on mpe2's own environment (not the batched copy).

Trained actors, uniform-random actions and no-op actions are evaluated on the same episode seeds;
the better of random and no-op is the floor for normalised induced returns (design §6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from ilola_lib.analysis.statistics import standard_error
from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.core.policies import CategoricalActor
from ilola_lib.tasks.t2.pettingzoo_env import make_simple_spread
from ilola_lib.tasks.t2.ppo import PPOConfig, sample_actions
from ilola_lib.tasks.t2.simple_spread import NUM_ACTIONS, NUM_AGENTS

ActionChooser = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvaluationResult:
    """Mean per-agent episode return with its standard error (``ddof=1``) over ``episode_returns [episodes]``."""

    mean: float
    standard_error: float
    episode_returns: np.ndarray

    def as_dict(self) -> dict[str, float]:
        """``{"mean", "standard_error"}`` for the metrics JSON."""
        return {"mean": self.mean, "standard_error": self.standard_error}


def actor_chooser(actors: list[CategoricalActor], seed: int) -> ActionChooser:
    """Actions ``[N]`` sampled from each actor's policy at obs ``[N, obs_dim]`` (own seeded stream)."""
    generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def choose(obs: np.ndarray) -> np.ndarray:
        return sample_actions(actors, torch.from_numpy(obs)[None], generator)[0].numpy()

    return choose


def uniform_random_chooser(num_agents: int, seed: int) -> ActionChooser:
    """Uniformly random actions ``[N]``, ignoring the observations."""
    rng = np.random.default_rng(seed)
    return lambda obs: rng.integers(0, NUM_ACTIONS, size=num_agents)


def noop_chooser(num_agents: int) -> ActionChooser:
    """Action 0 ("no action") for every agent."""
    return lambda obs: np.zeros(num_agents, dtype=np.int64)


def evaluate_on_mpe2(choose_actions: ActionChooser, num_episodes: int, first_episode_seed: int,
                     local_ratio: float = 0.5, max_cycles: int = 25, num_agents: int = NUM_AGENTS) -> EvaluationResult:
    """Mean per-agent return over ``num_episodes`` episodes of mpe2's own simple_spread.

    Episode ``e`` starts from ``reset(seed=first_episode_seed + e)``, so different policies
    evaluated with the same seeds face the same starting positions. ``choose_actions`` maps the
    agents' float32 observations ``[N, obs_dim]`` to integer actions ``[N]``.
    """
    if num_episodes < 2:
        raise ValueError(f"need at least 2 evaluation episodes for a standard error, got {num_episodes}")
    env = make_simple_spread(N=num_agents, local_ratio=local_ratio, max_cycles=max_cycles,
                             continuous_actions=False)
    episode_returns = np.zeros(num_episodes)
    for episode in range(num_episodes):
        observations, _ = env.reset(seed=first_episode_seed + episode)
        agent_names = list(env.agents)
        totals = np.zeros(len(agent_names))
        while env.agents:
            actions = choose_actions(np.stack([observations[name] for name in agent_names]))
            observations, rewards, _, _, _ = env.step(
                {name: int(action) for name, action in zip(agent_names, actions)})
            totals += [rewards[name] for name in agent_names]
        episode_returns[episode] = totals.mean()
    env.close()
    return EvaluationResult(float(episode_returns.mean()), standard_error(episode_returns), episode_returns)


def chooser_seeds(config: PPOConfig, first_episode_seed: int) -> tuple[int, int]:
    """Action-sampling seeds of the trained actors and of uniform-random actions for one PPO seed."""
    seeds = np.random.SeedSequence([config.seed, first_episode_seed]).generate_state(2, dtype=np.uint32)
    return int(seeds[0]), int(seeds[1])


def evaluate_trained(actors: list[CategoricalActor], config: PPOConfig, num_episodes: int,
                     first_episode_seed: int) -> EvaluationResult:
    """Trained actors *sampling* from their policies (the stochastic policy is what the learners
    optimised and what the inverse methods model) on mpe2's episode seeds ``first_episode_seed + e``."""
    with single_threaded_torch():
        return evaluate_on_mpe2(actor_chooser(actors, chooser_seeds(config, first_episode_seed)[0]), num_episodes,
                                first_episode_seed, config.local_ratio, config.max_cycles, config.num_agents)


def evaluate_against_baselines(actors: list[CategoricalActor], config: PPOConfig, num_episodes: int,
                               first_episode_seed: int) -> dict[str, EvaluationResult]:
    """``{"trained", "random", "noop"}`` evaluations on the same mpe2 episode seeds."""
    random_seed = chooser_seeds(config, first_episode_seed)[1]
    choosers = {"random": uniform_random_chooser(config.num_agents, random_seed),
                "noop": noop_chooser(config.num_agents)}
    with single_threaded_torch():
        baselines = {name: evaluate_on_mpe2(chooser, num_episodes, first_episode_seed, config.local_ratio,
                                            config.max_cycles, config.num_agents)
                     for name, chooser in choosers.items()}
    return {"trained": evaluate_trained(actors, config, num_episodes, first_episode_seed), **baselines}
