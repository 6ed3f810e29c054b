"""MultiWalker (PettingZoo SISL, real Box2D) with exact per-walker linear reward features.

:class:`MultiWalkerFeatureEnv` wraps ``multiwalker_v9.parallel_env`` (obtained through
:func:`ilola_lib.tasks.t3.pettingzoo_env.make_multiwalker`) and, at every step, also returns for
each walker ``i`` that acted a feature vector ``φ_i`` (numpy ``[N_FEATURES]``) such that
``true_weights · φ_i`` equals the reward the environment gave walker ``i`` (to float rounding).

How the environment builds a reward (``MultiWalkerEnv.scroll_subroutine`` and ``.step``), for
every walker ``j`` of the ``n_walkers``, removed ones included:

    r_j = forward_reward · (130 / SCALE) · Δx_package            (same for every walker)
        - 5 · (|θ_j,t+1| - |θ_j,t|)                              (hull angle; 0 once removed)
        + fall_reward · fallen_j                                  (fallen flag is sticky)
        + terminate_reward · ([fallen_j and not terminate_on_fall]
                              + [terminate_on_fall and any fallen, or package dropped,
                                 or package x < 0])

and with ``ρ = 1 - shared_reward`` the reward handed out is
``(1 - ρ) · mean_j r_j + ρ² · r_i`` (the env multiplies the local part by ``ρ`` twice).

Choice made here: **the sharing is expressed in the features, not the weights.** The first
four features are the bracketed terms above put through the same ``(1 - ρ) · mean + ρ² · own``
mix, so
``true_weights = (forward_reward, -5, fall_reward, terminate_reward, 0, 0, 0)`` whatever
``shared_reward`` is. With ``shared_reward=True`` these four features are therefore identical for
all walkers (the env's reward is too). The three distractor features (true weight 0) are always
the walker's own: its hull angular speed and hull x-velocity (both in the observation's own
normalisation, read from the walker's returned observation) and its action effort ``|a|²`` on the
action clipped to ``[-1, 1]``, which is what the env applies.

Exact reproduction reads the env's private state, because that is where the reward lives: the
package body position, each walker's hull body and angle, the post-step hull angles the env stored
in ``last_obs`` (needed because a walker that falls is destroyed in the same call that rewards
it), ``fallen_walkers``, ``game_over``, ``terminate_on_fall`` and ``local_ratio``.

Environment behaviours worth knowing (PettingZoo 1.27, ``multiwalker_v9``):

* ``fallen_walkers`` is never cleared during an episode. With ``terminate_on_fall=False`` a dead
  walker keeps getting ``fall_reward + terminate_reward`` (plus the package term) at every later
  step; it is no longer in ``agents``, but with ``shared_reward=True`` that penalty keeps being
  averaged into every live walker's reward. The features reproduce this.
* The package term is given to removed walkers too, and the mean is over all ``n_walkers``.
* Reaching ``max_cycles`` is reported as *termination*, not truncation.
* ``reset(seed=s)`` seeds every walker's generator with the same ``s``, so all walkers receive the
  same random initial push, and a later ``reset()`` without a seed repeats those pushes (only the
  terrain and observation noise, from the env's own generator, differ).
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, Mapping, NamedTuple

import numpy as np

from ilola_lib.tasks.t3.pettingzoo_env import make_multiwalker

FEATURE_NAMES: tuple[str, ...] = (
    "package_progress",
    "hull_angle_increase",
    "fallen",
    "terminate_penalties",
    "hull_angular_speed",
    "hull_x_velocity",
    "action_effort",
)
"""Names of the entries of ``φ_i``; the first ``N_REWARD_FEATURES`` carry the env's reward."""

N_FEATURES = len(FEATURE_NAMES)
N_REWARD_FEATURES = 4
OBSERVATION_DIM = 31
ACTION_DIM = 4

HULL_ANGLE_SHAPING_WEIGHT = -5.0
"""Hard-coded in ``scroll_subroutine`` (``shaping = -5.0 * abs(hull_angle)``); not a kwarg."""

PACKAGE_PROGRESS_NUMERATOR = 130.0
"""``package_shaping = forward_reward * 130 * package_x / SCALE`` in ``scroll_subroutine``."""

_HULL_ANGULAR_VELOCITY_OBS_INDEX = 1
_HULL_X_VELOCITY_OBS_INDEX = 2


class FeatureStep(NamedTuple):
    """One parallel step: PettingZoo's five dicts plus ``features[agent]`` (``[N_FEATURES]``)."""

    observations: dict
    rewards: dict
    terminations: dict
    truncations: dict
    infos: dict
    features: dict


def _core_env(parallel_env):
    """The ``MultiWalkerEnv`` holding the physics and reward state behind ``parallel_env``."""
    return parallel_env.unwrapped.env


def _weights_of_core(core) -> np.ndarray:
    """``ω*`` (numpy ``[N_FEATURES]``) read from a ``MultiWalkerEnv``'s own reward settings."""
    reward_weights = [
        core.forward_reward,
        HULL_ANGLE_SHAPING_WEIGHT,
        core.fall_reward,
        core.terminate_reward,
    ]
    distractor_weights = [0.0] * (N_FEATURES - N_REWARD_FEATURES)
    return np.array(reward_weights + distractor_weights, dtype=np.float64)


def true_weights(env_kwargs: Mapping | None = None) -> np.ndarray:
    """``ω*`` (numpy ``[N_FEATURES]``) for an env built with ``env_kwargs``.

    Equals ``(forward_reward, -5, fall_reward, terminate_reward, 0, 0, 0)``, taking each value from
    the env itself so its defaults are never copied here; ``shared_reward`` does not enter (the
    averaging is in the features).
    """
    parallel_env = make_multiwalker(**dict(env_kwargs or {}))
    try:
        return _weights_of_core(_core_env(parallel_env))
    finally:
        parallel_env.close()


def _hull_angles(core) -> np.ndarray:
    """Current hull angle of each walker (numpy ``[n_walkers]``), NaN for removed walkers."""
    return np.array(
        [np.nan if walker.hull is None else walker.hull.angle for walker in core.walkers],
        dtype=np.float64,
    )


def _individual_reward_features(
    core, package_x_before: float, hull_angles_before: np.ndarray
) -> np.ndarray:
    """Each walker's unshared reward terms for the step just taken (numpy ``[n_walkers, 4]``).

    Columns follow ``FEATURE_NAMES[:4]``. ``hull_angles_before`` is :func:`_hull_angles` taken
    before the step; the post-step angle comes from ``core.last_obs`` because the env computes the
    shaping there before destroying a walker that fell.
    """
    package_x_after = core.package.position.x
    progress_scale = PACKAGE_PROGRESS_NUMERATOR / sys.modules[type(core).__module__].SCALE
    package_progress = progress_scale * (package_x_after - package_x_before)

    hull_angles_after = np.array([obs[0] for obs in core.last_obs], dtype=np.float64)
    # A walker already removed before the step has a NaN angle and gets no shaping term.
    hull_angle_increase = np.nan_to_num(np.abs(hull_angles_after) - np.abs(hull_angles_before))

    fallen = np.asarray(core.fallen_walkers, dtype=np.float64)
    episode_failed = (
        (core.terminate_on_fall and bool(np.any(core.fallen_walkers)))
        or core.game_over
        or package_x_after < 0
    )
    own_terminate = fallen * float(not core.terminate_on_fall)
    terminate_penalties = own_terminate + float(episode_failed)

    return np.stack(
        [
            np.full(core.n_walkers, package_progress),
            hull_angle_increase,
            fallen,
            terminate_penalties,
        ],
        axis=1,
    )


def _share(individual: np.ndarray, local_ratio: float) -> np.ndarray:
    """The env's reward mix ``(1 - ρ)·mean_j x_j + ρ²·x_i``, row-wise (``[n, k]`` → ``[n, k]``)."""
    global_part = individual.mean(axis=0, keepdims=True) * (1.0 - local_ratio)
    return global_part + individual * local_ratio * local_ratio


def _distractor_features(observation: np.ndarray, action: np.ndarray) -> np.ndarray:
    """A walker's own zero-weight features (numpy ``[3]``) from its post-step observation ``[31]``
    and its action ``[4]``: ``|hull angular velocity|``, hull x-velocity (observation units) and
    ``|clip(a, -1, 1)|²``."""
    applied_action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
    return np.array(
        [
            abs(float(observation[_HULL_ANGULAR_VELOCITY_OBS_INDEX])),
            float(observation[_HULL_X_VELOCITY_OBS_INDEX]),
            float(np.sum(applied_action**2)),
        ],
        dtype=np.float64,
    )


class MultiWalkerFeatureEnv:
    """``multiwalker_v9.parallel_env`` that also returns per-walker reward features ``φ_i``.

    ``reset`` and ``step`` behave as the wrapped parallel env's; ``step`` returns a
    :class:`FeatureStep` whose ``features`` dict has an entry (numpy ``[N_FEATURES]``) for every
    agent that has a reward entry, with ``self.true_weights @ features[a] == rewards[a]``.
    """

    def __init__(self, **env_kwargs):
        """Build the wrapped env with ``env_kwargs`` (``multiwalker_v9`` arguments)."""
        self.env_kwargs = dict(env_kwargs)
        self.parallel_env = make_multiwalker(**self.env_kwargs)
        self._core = _core_env(self.parallel_env)
        self.package_start_x = float("nan")

    @property
    def possible_agents(self) -> list[str]:
        """All walker names, ``walker_0`` … ``walker_{n-1}``."""
        return list(self.parallel_env.possible_agents)

    @property
    def agents(self) -> list[str]:
        """Walkers still acting in the current episode."""
        return list(self.parallel_env.agents)

    @property
    def n_walkers(self) -> int:
        """Number of walkers."""
        return self._core.n_walkers

    @property
    def max_cycles(self) -> int:
        """Steps after which the episode ends (reported by the env as termination)."""
        return int(self._core.max_cycles)

    @property
    def n_features(self) -> int:
        """``q``, the length of ``φ_i``."""
        return N_FEATURES

    @property
    def observation_dim(self) -> int:
        """Length of one walker's observation (31)."""
        return int(self.parallel_env.observation_space(self.possible_agents[0]).shape[0])

    @property
    def action_dim(self) -> int:
        """Length of one walker's action (4), each entry in ``[-1, 1]``."""
        return int(self.parallel_env.action_space(self.possible_agents[0]).shape[0])

    @property
    def true_weights(self) -> np.ndarray:
        """``ω*`` (numpy ``[N_FEATURES]``) for this env's reward settings."""
        return _weights_of_core(self._core)

    @property
    def package_x(self) -> float:
        """Current x position of the package's centre (Box2D metres)."""
        return float(self._core.package.position.x)

    @property
    def package_dropped(self) -> bool:
        """Whether the package has touched anything but a walker hull this episode."""
        return bool(self._core.game_over)

    @property
    def episode_failed(self) -> bool:
        """Whether the episode ended (or will end) in failure: a walker fell, the package was dropped or
        it went behind the start. A run that merely reached ``max_cycles`` is not a failure."""
        core = self._core
        return bool(core.game_over or np.any(core.fallen_walkers) or core.package.position.x < 0)

    def reset(self, seed: int | None = None) -> tuple[dict, dict]:
        """Start an episode; returns ``(observations, infos)`` (observations numpy ``[31]``)."""
        result = self.parallel_env.reset(seed=seed)
        self.package_start_x = self.package_x
        return result

    def step(self, actions: Mapping[str, np.ndarray]) -> FeatureStep:
        """Apply ``actions[agent]`` (numpy ``[4]``) for every live agent and advance one frame.

        Raises ``RuntimeError`` if the episode is over (no live agents), since the env would then
        not advance and there would be no reward to explain.
        """
        if not self.parallel_env.agents:
            raise RuntimeError("the episode is over; call reset() first")
        package_x_before = self._core.package.position.x
        hull_angles_before = _hull_angles(self._core)

        observations, rewards, terminations, truncations, infos = self.parallel_env.step(actions)

        shared = _share(
            _individual_reward_features(self._core, package_x_before, hull_angles_before),
            self._core.local_ratio,
        )
        walker_index = {agent: i for i, agent in enumerate(self.possible_agents)}
        features = {
            agent: np.concatenate(
                [
                    shared[walker_index[agent]],
                    _distractor_features(observations[agent], actions[agent]),
                ]
            )
            for agent in rewards
        }
        return FeatureStep(observations, dict(rewards), terminations, truncations, infos, features)

    def close(self) -> None:
        """Release the wrapped env."""
        self.parallel_env.close()


Policy = Callable[[str, np.ndarray, np.random.Generator], np.ndarray]
"""``policy(agent, observation [31], rng) -> action [4]``."""


def random_policy(agent: str, observation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform action in ``[-1, 1]^4`` (float32 ``[4]``)."""
    return rng.uniform(-1.0, 1.0, size=ACTION_DIM).astype(np.float32)


def zero_policy(agent: str, observation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """All-zero action (float32 ``[4]``): no joint torque, the walkers stand still."""
    return np.zeros(ACTION_DIM, dtype=np.float32)


NAMED_POLICIES: dict[str, Policy] = {"random": random_policy, "zero": zero_policy}


@dataclass(frozen=True)
class PolicyBaseline:
    """Outcome of running one fixed policy for several episodes.

    ``mean_walker_return``: mean over episodes and walkers of a walker's summed reward;
    ``std_walker_return``: standard deviation over episodes of the per-episode walker mean;
    ``mean_package_distance``: mean of (final - initial) package x, Box2D metres;
    ``env_steps_per_second``: parallel steps (one Box2D frame each) per wall-clock second,
    including the feature computation.
    """

    policy: str
    n_episodes: int
    mean_walker_return: float
    std_walker_return: float
    mean_package_distance: float
    mean_episode_length: float
    env_steps: int
    env_steps_per_second: float


def _run_episode(env: MultiWalkerFeatureEnv, policy: Policy, seed: int, rng: np.random.Generator):
    """Play one episode; returns (walker-mean return, package distance, number of steps)."""
    observations, _ = env.reset(seed=seed)
    package_x_start = env.package_x
    returns = dict.fromkeys(env.possible_agents, 0.0)
    n_steps = 0
    while env.agents:
        actions = {agent: policy(agent, observations[agent], rng) for agent in env.agents}
        step = env.step(actions)
        for agent, reward in step.rewards.items():
            returns[agent] += float(reward)
        observations = step.observations
        n_steps += 1
    return float(np.mean(list(returns.values()))), env.package_x - package_x_start, n_steps


def run_fixed_policy(
    policy: str | Policy,
    n_episodes: int,
    env_kwargs: Mapping | None = None,
    seed: int = 0,
) -> PolicyBaseline:
    """Run ``policy`` (``"random"``, ``"zero"`` or a :data:`Policy`) for ``n_episodes``.

    Episode ``e`` is reset with seed ``seed + e``; random actions come from
    ``numpy.random.default_rng(seed)``, so the result is reproducible.
    """
    policy_name = policy if isinstance(policy, str) else getattr(policy, "__name__", "custom")
    act = NAMED_POLICIES[policy] if isinstance(policy, str) else policy
    env = MultiWalkerFeatureEnv(**dict(env_kwargs or {}))
    rng = np.random.default_rng(seed)
    episode_returns, distances, lengths = [], [], []
    start = time.perf_counter()
    try:
        for episode in range(n_episodes):
            walker_return, distance, n_steps = _run_episode(env, act, seed + episode, rng)
            episode_returns.append(walker_return)
            distances.append(distance)
            lengths.append(n_steps)
    finally:
        env.close()
    elapsed = time.perf_counter() - start
    return PolicyBaseline(
        policy=policy_name,
        n_episodes=n_episodes,
        mean_walker_return=float(np.mean(episode_returns)),
        std_walker_return=float(np.std(episode_returns)),
        mean_package_distance=float(np.mean(distances)),
        mean_episode_length=float(np.mean(lengths)),
        env_steps=int(np.sum(lengths)),
        env_steps_per_second=float(np.sum(lengths) / elapsed),
    )
