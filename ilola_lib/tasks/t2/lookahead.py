"""The T2 observer's simulator: simple_spread states read off joint observations and stepped forward under
chosen joint actions (simple_spread is deterministic), for MA-LfL's one-step lookahead and soft Q-values."""

from __future__ import annotations

import torch

from ilola_lib.tasks.t2.simple_spread import NUM_ACTIONS, NUM_AGENTS, BatchedSimpleSpread


def state_from_observations(observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Agent positions and velocities ``[..., N, 2]`` and landmark positions ``[..., L, 2]`` read off
    the joint observation ``[..., N, obs_dim]`` (each agent observes its own ``v_i``, ``p_i`` and
    ``landmark_l − p_i``), the inverse of :meth:`BatchedSimpleSpread.observe`."""
    observations = torch.as_tensor(observations, dtype=torch.float64)
    num_landmarks = observations.shape[-2]
    agent_vel, agent_pos = observations[..., 0:2], observations[..., 2:4]
    landmark_offsets = observations[..., 0, 4:4 + 2 * num_landmarks].reshape(*observations.shape[:-2], num_landmarks, 2)
    return agent_pos, agent_vel, landmark_offsets + agent_pos[..., 0:1, :]


def joint_actions(num_agents: int = NUM_AGENTS, num_actions: int = NUM_ACTIONS) -> torch.Tensor:
    """Every joint action ``[A^N, N]`` in lexicographic order (agent 0 slowest)."""
    grids = torch.meshgrid(*[torch.arange(num_actions)] * num_agents, indexing="ij")
    return torch.stack([grid.reshape(-1) for grid in grids], dim=-1)


def simulator_at(joint_observations: torch.Tensor, steps: torch.Tensor, index: torch.Tensor, local_ratio: float,
                 max_cycles: int) -> BatchedSimpleSpread:
    """A batch whose env ``e`` is in the state of ``joint_observations[index[e]]`` (``[M, N, obs_dim]``) at
    step ``steps[index[e]]`` of its episode."""
    env = BatchedSimpleSpread(len(index), joint_observations.shape[1], local_ratio, max_cycles)
    env.set_state(*[part[index] for part in state_from_observations(joint_observations)],
                  torch.as_tensor(steps)[index])
    return env


def lookahead_all_joint_actions(joint_observations: torch.Tensor, steps: torch.Tensor, local_ratio: float,
                                max_cycles: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One step from each state under every joint action (simple_spread is deterministic).

    Args:
        joint_observations: states as joint observations ``[M, N, obs_dim]``.
        steps: each state's step counter within its episode ``[M]``.

    Returns:
        features ``[M, J, N, q]`` and next observations ``[M, J, N, obs_dim]`` for the joint actions of
        :func:`joint_actions` (``J = A^N``), and ``ends [M]``: the step ends the episode.
    """
    num_states, num_agents = joint_observations.shape[:2]
    actions = joint_actions(num_agents)
    num_joint = len(actions)
    env = simulator_at(joint_observations, steps, torch.arange(num_states).repeat_interleave(num_joint),
                       local_ratio, max_cycles)
    step = env.step(actions.repeat(num_states, 1))
    shape = (num_states, num_joint, num_agents)
    return (step.features.reshape(*shape, -1), step.final_observations.reshape(*shape, -1),
            step.dones.reshape(num_states, num_joint)[:, 0])
