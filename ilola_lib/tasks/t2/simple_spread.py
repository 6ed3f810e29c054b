"""Reward features and a batched torch re-implementation of mpe2's ``simple_spread_v3``.

Two things live here:

* :func:`reward_features` maps a world state to per-agent features ``φ_i`` such that
  ``true_weights(local_ratio) @ φ_i`` is exactly agent ``i``'s mpe2 reward.
* :class:`BatchedSimpleSpread` steps many simple_spread worlds at once in float64 torch,
  reproducing mpe2's physics, observations, rewards, truncation and seeding.

Both cover the default scenario only: discrete actions, full observability, no curriculum, no
``terminate_on_success`` (so episodes end by truncation at ``max_cycles``).

mpe2 facts this module mirrors (mpe2 1.1.1, ``simple_spread`` + ``_mpe_utils``):

* Entities: ``N`` agents (size 0.15, mass 1, silent, no max speed, no noise) and ``N``
  landmarks (immovable, never collide).
* Discrete action ``a`` in ``{0: none, 1: -x, 2: +x, 3: -y, 4: +y}`` becomes the force
  ``5 * unit direction`` (sensitivity 5).
* Every pair of agents repels with
  ``contact_force * Δp / |Δp| * k * softplus(-(|Δp| - 0.3) / k)``, ``k = contact_margin``:
  a smooth force that is non-zero (tiny) even without contact.
* Semi-implicit step: ``p += v * dt`` with the *old* velocity, then ``v = v * (1 - damping)
  + force / mass * dt``.
* Rewards are computed *after* the physics step: ``(1 - local_ratio) * coverage
  + local_ratio * (-own_collisions)``, with ``coverage = -Σ_landmarks min_agents distance`` and a
  collision meaning centre distance ``< 0.3``.
* Observation of agent ``i`` (length ``4 + 2N + 4(N - 1)``, 18 for N=3):
  ``[v_i, p_i, landmark_l - p_i for every l, p_j - p_i for every j ≠ i (ascending j),
  zeros(2) per other agent (silent comm)]``. mpe2 returns it as float32; this module keeps
  float64.
* Seeding: ``reset(seed=s)`` draws agent then landmark positions from
  ``numpy.random.default_rng(s)`` (``uniform(-1, 1)`` pairs); an unseeded ``reset()`` continues
  the same generator.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import torch

FEATURE_NAMES = (
    "landmark_coverage",
    "own_collisions",
    "own_speed",
    "nearest_agent_distance",
    "nearest_landmark_distance",
)
NUM_AGENTS = 3
NUM_ACTIONS = 5
COMM_DIM = 2

TIME_STEP = 0.1
DAMPING = 0.25
CONTACT_FORCE = 1e2
CONTACT_MARGIN = 1e-3
AGENT_SIZE = 0.15
AGENT_MASS = 1.0
ACTION_SENSITIVITY = 5.0
MAX_SPEED = None

_ACTION_DIRECTIONS = ((0.0, 0.0), (-1.0, 0.0), (1.0, 0.0), (0.0, -1.0), (0.0, 1.0))


def observation_dim(num_agents: int = NUM_AGENTS) -> int:
    """Length of one agent's mpe2 observation (18 for three agents and three landmarks)."""
    return 4 + 2 * num_agents + 4 * (num_agents - 1)


def true_weights(local_ratio: float = 0.5) -> np.ndarray:
    """True weights ``ω*`` ``[len(FEATURE_NAMES)]``: ``ω* · φ_i`` is agent i's mpe2 reward.

    Coverage is weighted by ``1 - local_ratio``, the own-collision count by ``-local_ratio``
    and the distractor features by zero.
    """
    _check_local_ratio(local_ratio)
    return np.array([1.0 - local_ratio, -local_ratio, 0.0, 0.0, 0.0], dtype=np.float64)


def _check_local_ratio(local_ratio: float) -> None:
    """Raise ``ValueError`` unless ``local_ratio`` lies in ``[0, 1]`` as mpe2 requires."""
    if not 0.0 <= local_ratio <= 1.0:
        raise ValueError(f"local_ratio must lie in [0, 1], got {local_ratio}")


def pairwise_distances(points_a: torch.Tensor, points_b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances ``[..., A, B]`` between points ``[..., A, 2]`` and ``[..., B, 2]``.

    Computed as ``sqrt(dx² + dy²)`` like mpe2, so the values agree bit for bit.
    """
    delta = points_a[..., :, None, :] - points_b[..., None, :, :]
    return delta.square().sum(-1).sqrt()


def reward_features(
    agent_pos: torch.Tensor, agent_vel: torch.Tensor, landmark_pos: torch.Tensor
) -> torch.Tensor:
    """Per-agent reward features ``φ`` of shape ``[..., N, len(FEATURE_NAMES)]``.

    Args:
        agent_pos: agent positions ``[..., N, 2]``.
        agent_vel: agent velocities ``[..., N, 2]``.
        landmark_pos: landmark positions ``[..., L, 2]``.

    Columns follow :data:`FEATURE_NAMES`: the shared coverage term ``-Σ_l min_j |p_j - l|``,
    agent i's number of collisions (other agents closer than ``2 * AGENT_SIZE``), and three
    zero-weight distractors read off agent i's own observation: its speed, its distance to the
    nearest other agent and its distance to the nearest landmark.
    """
    num_agents = agent_pos.shape[-2]
    agent_landmark_dist = pairwise_distances(agent_pos, landmark_pos)
    agent_agent_dist = pairwise_distances(agent_pos, agent_pos)
    is_self = torch.eye(num_agents, dtype=torch.bool, device=agent_pos.device)

    closest_agent_per_landmark = agent_landmark_dist.amin(dim=-2)
    coverage = torch.zeros_like(closest_agent_per_landmark[..., 0])
    for landmark in range(closest_agent_per_landmark.shape[-1]):
        # mpe2 subtracts landmark by landmark; the same order keeps the sum bit-identical.
        coverage = coverage - closest_agent_per_landmark[..., landmark]

    collisions = ((agent_agent_dist < 2 * AGENT_SIZE) & ~is_self).sum(-1).to(agent_pos.dtype)
    speed = agent_vel.square().sum(-1).sqrt()
    nearest_agent = agent_agent_dist.masked_fill(is_self, torch.inf).amin(dim=-1)
    nearest_landmark = agent_landmark_dist.amin(dim=-1)
    coverage_per_agent = coverage[..., None].expand_as(speed)
    return torch.stack(
        [coverage_per_agent, collisions, speed, nearest_agent, nearest_landmark], dim=-1
    )


def rewards_from_features(features: torch.Tensor, local_ratio: float) -> torch.Tensor:
    """mpe2 per-agent rewards ``[..., N]`` from features ``[..., N, q]``, in mpe2's float order."""
    own_collision_reward = -features[..., 1]
    return features[..., 0] * (1 - local_ratio) + own_collision_reward * local_ratio


def _world_arrays(world: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Agent positions ``[N, 2]``, agent velocities ``[N, 2]`` and landmark positions ``[L, 2]``."""
    agent_pos = np.stack([agent.state.p_pos for agent in world.agents])
    agent_vel = np.stack([agent.state.p_vel for agent in world.agents])
    landmark_pos = np.stack([landmark.state.p_pos for landmark in world.landmarks])
    return agent_pos, agent_vel, landmark_pos


def world_reward_features(world: Any) -> np.ndarray:
    """:func:`reward_features` of an mpe2 ``World`` as a float64 array ``[N, q]``."""
    tensors = [torch.from_numpy(array.astype(np.float64)) for array in _world_arrays(world)]
    return reward_features(*tensors).numpy()


class SimpleSpreadStep(NamedTuple):
    """One batched transition.

    ``observations`` ``[E, N, obs_dim]`` start the next step: for an env whose episode just
    ended they already belong to the freshly reset episode. ``final_observations`` has the same
    shape and holds the observation reached by this step before any reset (use it to bootstrap
    truncated episodes). ``rewards`` ``[E, N]`` and ``features`` ``[E, N, q]`` belong to this
    step's transition; ``dones`` ``[E]`` (bool) marks envs that hit ``max_cycles``.
    """

    observations: torch.Tensor
    rewards: torch.Tensor
    features: torch.Tensor
    dones: torch.Tensor
    final_observations: torch.Tensor


class BatchedSimpleSpread:
    """``num_envs`` simple_spread worlds stepped together in float64 torch.

    Episodes are truncated after ``max_cycles`` steps and reset automatically inside
    :meth:`step` (so a PPO rollout loop just keeps calling ``step``); as simple_spread never
    terminates early, all envs reset together unless states were copied in from mpe2.

    Env ``e`` owns its own numpy generator; ``reset(seed=s)`` seeds it with ``s + e``, so env
    ``e`` starts exactly where ``mpe2 ... reset(seed=s + e)`` starts, and its later automatic
    resets match mpe2's unseeded ``reset()`` calls.
    """

    def __init__(
        self,
        num_envs: int,
        num_agents: int = NUM_AGENTS,
        local_ratio: float = 0.5,
        max_cycles: int = 25,
        device: str | torch.device = "cpu",
    ) -> None:
        if num_envs < 1 or num_agents < 2 or max_cycles < 1:
            raise ValueError("need num_envs >= 1, num_agents >= 2 and max_cycles >= 1")
        _check_local_ratio(local_ratio)
        self.num_envs = num_envs
        self.num_agents = num_agents
        self.num_landmarks = num_agents
        self.local_ratio = float(local_ratio)
        self.max_cycles = max_cycles
        self.device = torch.device(device)
        self.obs_dim = observation_dim(num_agents)
        self._options = dict(dtype=torch.float64, device=self.device)
        self._action_forces = ACTION_SENSITIVITY * torch.tensor(_ACTION_DIRECTIONS, **self._options)
        self._other_agents = torch.tensor(
            [[j for j in range(num_agents) if j != i] for i in range(num_agents)],
            device=self.device,
        )
        self._is_self = torch.eye(num_agents, dtype=torch.bool, device=self.device)
        self._rngs: list[np.random.Generator] | None = None
        self.agent_pos = torch.zeros(num_envs, num_agents, 2, **self._options)
        self.agent_vel = torch.zeros(num_envs, num_agents, 2, **self._options)
        self.landmark_pos = torch.zeros(num_envs, self.num_landmarks, 2, **self._options)
        self.steps = torch.zeros(num_envs, dtype=torch.int64, device=self.device)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        """Start a new episode in every env; returns observations ``[E, N, obs_dim]``.

        With ``seed`` env ``e`` is reseeded with ``seed + e``; without it every env continues
        its generator (fresh OS entropy if the env was never seeded).
        """
        if seed is not None:
            self._rngs = [np.random.default_rng(seed + env) for env in range(self.num_envs)]
        elif self._rngs is None:
            self._rngs = [np.random.default_rng() for _ in range(self.num_envs)]
        self._reset_envs(torch.arange(self.num_envs, device=self.device))
        return self.observe()

    def observe(self) -> torch.Tensor:
        """Current observations ``[E, N, obs_dim]`` in mpe2's layout (float64)."""
        rel_landmarks = self.landmark_pos[:, None, :, :] - self.agent_pos[:, :, None, :]
        rel_others = self.agent_pos[:, self._other_agents, :] - self.agent_pos[:, :, None, :]
        silent_comm = torch.zeros(
            self.num_envs, self.num_agents, COMM_DIM * (self.num_agents - 1), **self._options
        )
        return torch.cat(
            [
                self.agent_vel,
                self.agent_pos,
                rel_landmarks.flatten(-2),
                rel_others.flatten(-2),
                silent_comm,
            ],
            dim=-1,
        )

    def features(self) -> torch.Tensor:
        """Reward features ``[E, N, q]`` of the current state (see :func:`reward_features`)."""
        return reward_features(self.agent_pos, self.agent_vel, self.landmark_pos)

    def step(self, actions: torch.Tensor) -> SimpleSpreadStep:
        """Apply discrete ``actions`` ``[E, N]`` (int64 in ``[0, 5)``) to every env.

        Envs reaching ``max_cycles`` are reset automatically; see :class:`SimpleSpreadStep`.
        """
        if self._rngs is None:
            raise RuntimeError("call reset() before step()")
        actions = torch.as_tensor(actions, device=self.device)
        if actions.shape != (self.num_envs, self.num_agents):
            raise ValueError(f"actions must have shape {(self.num_envs, self.num_agents)}")
        if actions.min() < 0 or actions.max() >= NUM_ACTIONS:
            raise ValueError(f"discrete actions must lie in [0, {NUM_ACTIONS})")

        force = self._action_forces[actions] + self._contact_forces()
        self._integrate(force)
        self.steps += 1

        features = self.features()
        rewards = rewards_from_features(features, self.local_ratio)
        final_observations = self.observe()
        dones = self.steps >= self.max_cycles
        observations = final_observations
        if dones.any():
            self._reset_envs(dones.nonzero().squeeze(-1))
            observations = torch.where(dones[:, None, None], self.observe(), final_observations)
        return SimpleSpreadStep(observations, rewards, features, dones, final_observations)

    def set_state_from_mpe(self, mpe_env: Any, env_index: int) -> None:
        """Copy an mpe2 simple_spread env's state into env ``env_index`` of this batch.

        ``mpe_env`` may be the parallel env, the AEC env or the raw env. Copied: positions,
        velocities, the step counter and the random generator (so the next automatic reset
        here draws what mpe2's next unseeded ``reset()`` would draw). Other envs are left as
        they are, so call :meth:`reset` first if the whole batch will be stepped. Raises
        ``ValueError`` if the mpe2 env's configuration or physics differ from this batch's.
        """
        raw_env = mpe_env.unwrapped
        _check_mpe_compatible(raw_env, self)
        agent_pos, agent_vel, landmark_pos = _world_arrays(raw_env.world)
        self.agent_pos[env_index] = torch.from_numpy(agent_pos)
        self.agent_vel[env_index] = torch.from_numpy(agent_vel)
        self.landmark_pos[env_index] = torch.from_numpy(landmark_pos)
        self.steps[env_index] = raw_env.steps
        if self._rngs is None:
            self._rngs = [np.random.default_rng() for _ in range(self.num_envs)]
        rng_copy = np.random.default_rng()
        rng_copy.bit_generator.state = raw_env.np_random.bit_generator.state
        self._rngs[env_index] = rng_copy

    def set_state(self, agent_pos: torch.Tensor, agent_vel: torch.Tensor, landmark_pos: torch.Tensor,
                  steps: torch.Tensor) -> None:
        """Put every env into the given state: ``agent_pos``/``agent_vel`` ``[E, N, 2]``, ``landmark_pos``
        ``[E, L, 2]`` and the step counters ``steps [E]`` (the episode ends when they reach ``max_cycles``).

        Envs that were never reset share one fixed-seed generator, so that automatic resets stay
        deterministic (and putting many envs into observed states stays cheap).
        """
        shapes = (agent_pos.shape, agent_vel.shape, landmark_pos.shape, tuple(steps.shape))
        expected = ((self.num_envs, self.num_agents, 2),) * 2 + ((self.num_envs, self.num_landmarks, 2), (self.num_envs,))
        if shapes != expected:
            raise ValueError(f"state shapes {shapes} do not match this batch's {expected}")
        if self._rngs is None:
            self._rngs = [np.random.default_rng(0)] * self.num_envs
        self.agent_pos = agent_pos.to(**self._options).clone()
        self.agent_vel = agent_vel.to(**self._options).clone()
        self.landmark_pos = landmark_pos.to(**self._options).clone()
        self.steps = steps.to(device=self.device, dtype=torch.int64).clone()

    def _reset_envs(self, env_indices: torch.Tensor) -> None:
        """Draw fresh episodes for the envs in ``env_indices`` ``[K]`` from their generators."""
        assert self._rngs is not None
        num_entities = self.num_agents + self.num_landmarks
        # One uniform(-1, 1, 2·M) call reads the same stream as mpe2's M uniform(-1, 1, 2) calls.
        draws = np.stack(
            [self._rngs[env].uniform(-1, +1, 2 * num_entities) for env in env_indices.tolist()]
        ).reshape(-1, num_entities, 2)
        positions = torch.from_numpy(draws).to(**self._options)
        self.agent_pos[env_indices] = positions[:, : self.num_agents]
        self.landmark_pos[env_indices] = positions[:, self.num_agents :]
        self.agent_vel[env_indices] = 0.0
        self.steps[env_indices] = 0

    def _contact_forces(self) -> torch.Tensor:
        """Soft repulsion ``[E, N, 2]`` on each agent from all other agents (mpe2 formula)."""
        delta = self.agent_pos[:, :, None, :] - self.agent_pos[:, None, :, :]
        distance = delta.square().sum(-1, keepdim=True).sqrt()
        scaled_overlap = -(distance - 2 * AGENT_SIZE) / CONTACT_MARGIN
        softplus = torch.logaddexp(torch.zeros_like(scaled_overlap), scaled_overlap)
        penetration = softplus * CONTACT_MARGIN
        pair_force = CONTACT_FORCE * delta / distance * penetration
        pair_force = pair_force.masked_fill(self._is_self[:, :, None], 0.0)
        total = torch.zeros_like(self.agent_pos)
        for other in range(self.num_agents):
            # mpe2 accumulates pair forces in ascending partner order; keep it for identical sums.
            total = total + pair_force[:, :, other]
        return total

    def _integrate(self, force: torch.Tensor) -> None:
        """mpe2's semi-implicit Euler step with damping and the optional speed cap."""
        self.agent_pos = self.agent_pos + self.agent_vel * TIME_STEP
        velocity = self.agent_vel * (1 - DAMPING)
        velocity = velocity + (force / AGENT_MASS) * TIME_STEP
        if MAX_SPEED is not None:
            speed = velocity.square().sum(-1, keepdim=True).sqrt()
            velocity = torch.where(speed > MAX_SPEED, velocity / speed * MAX_SPEED, velocity)
        self.agent_vel = velocity


def _check_mpe_compatible(raw_env: Any, batched: BatchedSimpleSpread) -> None:
    """Raise ``ValueError`` unless ``raw_env`` runs the scenario and physics of ``batched``."""
    world, scenario = raw_env.world, raw_env.scenario
    mismatches = []
    expected = {
        "num_agents": (len(world.agents), batched.num_agents),
        "num_landmarks": (len(world.landmarks), batched.num_landmarks),
        "local_ratio": (raw_env.local_ratio, batched.local_ratio),
        "max_cycles": (raw_env.max_cycles, batched.max_cycles),
        "continuous_actions": (raw_env.continuous_actions, False),
        "curriculum": (getattr(scenario, "curriculum", False), False),
        "terminate_on_success": (getattr(scenario, "terminate_on_success", False), False),
        "num_agent_neighbors": (getattr(scenario, "num_agent_neighbors", None), None),
        "num_landmark_neighbors": (getattr(scenario, "num_landmark_neighbors", None), None),
        "dt": (world.dt, TIME_STEP),
        "damping": (world.damping, DAMPING),
        "contact_force": (world.contact_force, CONTACT_FORCE),
        "contact_margin": (world.contact_margin, CONTACT_MARGIN),
    }
    for agent in world.agents:
        expected[f"{agent.name}.size"] = (agent.size, AGENT_SIZE)
        expected[f"{agent.name}.mass"] = (agent.mass, AGENT_MASS)
        expected[f"{agent.name}.max_speed"] = (agent.max_speed, MAX_SPEED)
        expected[f"{agent.name}.accel"] = (agent.accel, None)
        expected[f"{agent.name}.u_noise"] = (agent.u_noise, None)
        expected[f"{agent.name}.silent+collide+movable"] = (
            (agent.silent, agent.collide, agent.movable),
            (True, True, True),
        )
    for landmark in world.landmarks:
        expected[f"{landmark.name}.collide+movable"] = (
            (landmark.collide, landmark.movable),
            (False, False),
        )
    for name, (found, wanted) in expected.items():
        if found != wanted:
            mismatches.append(f"{name}: mpe2 has {found!r}, batched env assumes {wanted!r}")
    if mismatches:
        raise ValueError("incompatible mpe2 env: " + "; ".join(mismatches))
