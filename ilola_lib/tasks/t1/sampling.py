"""How the T1 observer's data is produced: episodes sampled from the game and count-based policy estimates."""

from __future__ import annotations

import numpy as np

from ilola_lib.tasks.t1.gridworld import GridWorldGame


def sample_episodes(game: GridWorldGame, policies: np.ndarray, num_episodes: int, horizon: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Roll out joint policies ``[N, S, A]`` from ``μ_0``.

    Returns:
        ``states [B, H]`` and ``actions [B, H, N]`` (int arrays).
    """
    num_agents = policies.shape[0]
    cumulative = np.cumsum(policies, axis=-1)
    states = np.empty((num_episodes, horizon), dtype=np.int64)
    actions = np.empty((num_episodes, horizon, num_agents), dtype=np.int64)
    state = rng.choice(game.num_states, size=num_episodes, p=game.initial_distribution)
    for t in range(horizon):
        states[:, t] = state
        draws = rng.random((num_episodes, num_agents))
        for i in range(num_agents):
            chosen = (draws[:, i, None] > cumulative[i, state]).sum(-1)
            actions[:, t, i] = np.minimum(chosen, game.num_actions - 1)
        state = game.next_state[state, actions[:, t, 0], actions[:, t, 1]]
    return states, actions


def estimate_policies(states: np.ndarray, actions: np.ndarray, num_states: int, num_actions: int,
                      smoothing: float) -> tuple[np.ndarray, np.ndarray]:
    """Count-based policy estimate with additive smoothing ``λ``.

    ``π̂_i(a|s) = (n_i(s, a) + λ) / (n(s) + A λ)``; unvisited states get the uniform policy.

    Returns:
        ``policies [N, S, A]`` and the empirical state frequencies ``[S]``.
    """
    num_agents = actions.shape[-1]
    flat_states = states.reshape(-1)
    state_counts = np.bincount(flat_states, minlength=num_states).astype(float)
    counts = np.stack([
        np.bincount(flat_states * num_actions + actions[..., i].reshape(-1),
                    minlength=num_states * num_actions).reshape(num_states, num_actions)
        for i in range(num_agents)
    ]).astype(float)
    policies = (counts + smoothing) / (state_counts[None, :, None] + num_actions * smoothing)
    return policies, state_counts / state_counts.sum()

