"""T1: a two-agent GridWorld Markov game with exact dynamics and linear reward features.

Two agents move simultaneously on an ``n × n`` grid (actions stay/up/down/left/right; a move into a
wall leaves the agent in place). The joint state is the pair of cells, ``s = c_0 · n² + c_1``
(``S = n⁴`` states, agents may share a cell). Transitions are deterministic, so the exact
transition tensor is the index array ``next_state[s, a_0, a_1]``.

Agent ``i``'s reward is ``r_i(s, a_0, a_1) = ω_i* · φ_i(s, a_0, a_1)`` with features (``FEATURE_NAMES``)

=============  =====================================================  ==========
feature        value                                                  true ω_i*
=============  =====================================================  ==========
``goal``       1 if agent i's next cell is its own goal                +1.0
``collision``  1 if both agents' next cells coincide                   −1.0
``move``       1 if agent i's action is not "stay" (effort)            −0.1
``other_goal`` 1 if agent i's next cell is the other agent's goal     0 (distractor)
``wall_bump``  1 if agent i's action points into a wall               0 (distractor)
=============  =====================================================  ==========

Every feature depends on the policy's choices through quantities whose discounted sum is not
policy-independent, so none of them is a potential-based shaping term (a constant step cost would
be one); :func:`ilola_lib.inverse.ma_lfl.identifiability_rank_deficit` checks this numerically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ACTIONS = ("stay", "up", "down", "left", "right")
ACTION_DELTAS = np.array([(0, 0), (-1, 0), (1, 0), (0, -1), (0, 1)])
FEATURE_NAMES = ("goal", "collision", "move", "other_goal", "wall_bump")
TRUE_WEIGHTS = np.array([1.0, -1.0, -0.1, 0.0, 0.0])
NUM_AGENTS = 2


@dataclass(frozen=True)
class GridWorldGame:
    """A fully specified two-agent grid game.

    Attributes:
        size: grid side ``n``.
        gamma: discount factor.
        goals: ``goals[i]`` is agent i's goal cell index (``row · n + col``).
        next_state: ``next_state[s, a_0, a_1]`` int array ``[S, A, A]``.
        features: ``features[i, s, a_0, a_1, :]`` float array ``[N, S, A, A, q]``.
        true_weights: ``ω*`` as ``[N, q]``.
        initial_distribution: ``μ_0[s]``, uniform over states with the agents on distinct cells.
    """

    size: int
    gamma: float
    goals: tuple[int, int]
    next_state: np.ndarray
    features: np.ndarray
    true_weights: np.ndarray
    initial_distribution: np.ndarray

    @property
    def num_cells(self) -> int:
        return self.size * self.size

    @property
    def num_states(self) -> int:
        return self.num_cells**2

    @property
    def num_actions(self) -> int:
        return len(ACTIONS)

    @property
    def num_features(self) -> int:
        return self.features.shape[-1]

    def rewards(self, weights: np.ndarray | None = None) -> np.ndarray:
        """``r[i, s, a_0, a_1] = weights_i · φ_i(s, a_0, a_1)`` (default: the true weights)."""
        weights = self.true_weights if weights is None else np.asarray(weights)
        return np.einsum("isabq,iq->isab", self.features, weights)

    def cells(self, state: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
        """The two agents' cells of joint state(s) ``state``."""
        return np.divmod(state, self.num_cells)


def cell_moves(size: int) -> tuple[np.ndarray, np.ndarray]:
    """``next_cell[c, a]`` and ``bumped[c, a]`` (action points into a wall) for one agent."""
    rows, cols = np.divmod(np.arange(size * size), size)
    target_rows = rows[:, None] + ACTION_DELTAS[None, :, 0]
    target_cols = cols[:, None] + ACTION_DELTAS[None, :, 1]
    bumped = (target_rows < 0) | (target_rows >= size) | (target_cols < 0) | (target_cols >= size)
    next_cell = np.where(bumped, rows[:, None] * size + cols[:, None],
                         target_rows * size + target_cols)
    return next_cell, bumped


def make_gridworld(size: int = 5, gamma: float = 0.9) -> GridWorldGame:
    """The T1 game: agent 0's goal is the bottom-right cell, agent 1's the bottom-left cell."""
    if size < 2:
        raise ValueError(f"grid size must be at least 2, got {size}")
    cells = size * size
    goals = (cells - 1, cells - size)
    next_cell, bumped = cell_moves(size)
    num_actions = len(ACTIONS)

    cell_0, cell_1 = np.divmod(np.arange(cells * cells), cells)
    next_0 = next_cell[cell_0][:, :, None].repeat(num_actions, axis=2)  # [S, a_0, a_1]
    next_1 = next_cell[cell_1][:, None, :].repeat(num_actions, axis=1)
    next_state = next_0 * cells + next_1

    own_next = (next_0, next_1)
    own_bump = (bumped[cell_0][:, :, None].repeat(num_actions, axis=2),
                bumped[cell_1][:, None, :].repeat(num_actions, axis=1))
    moved = np.arange(num_actions) != 0
    own_move = (np.broadcast_to(moved[None, :, None], next_state.shape),
                np.broadcast_to(moved[None, None, :], next_state.shape))
    collision = next_0 == next_1

    features = np.zeros((NUM_AGENTS, cells * cells, num_actions, num_actions, len(FEATURE_NAMES)))
    for i in range(NUM_AGENTS):
        features[i, ..., 0] = own_next[i] == goals[i]
        features[i, ..., 1] = collision
        features[i, ..., 2] = own_move[i]
        features[i, ..., 3] = own_next[i] == goals[1 - i]
        features[i, ..., 4] = own_bump[i]

    initial = (cell_0 != cell_1).astype(float)
    initial /= initial.sum()
    true_weights = np.tile(TRUE_WEIGHTS, (NUM_AGENTS, 1))
    return GridWorldGame(size, gamma, goals, next_state, features, true_weights, initial)


def transition_feature_parts(game: GridWorldGame) -> tuple[np.ndarray, np.ndarray]:
    """Split ``φ_i(s, a, s') = φ^next_i(s') + φ^sa_i(s, a)`` so a reward is defined on any ``(s, a, s')``.

    ``goal``, ``collision`` and ``other_goal`` read the next state; ``move`` and ``wall_bump`` the
    state and action. Returns ``φ^next [N, S, q]`` and ``φ^sa [N, S, A, A, q]``.
    """
    next_part = np.zeros((NUM_AGENTS, game.num_states, game.num_features))
    cell_0, cell_1 = game.cells(np.arange(game.num_states))
    own = (cell_0, cell_1)
    for i in range(NUM_AGENTS):
        next_part[i, :, 0] = own[i] == game.goals[i]
        next_part[i, :, 1] = cell_0 == cell_1
        next_part[i, :, 3] = own[i] == game.goals[1 - i]
    state_action_part = game.features.copy()
    state_action_part[..., [0, 1, 3]] = 0.0
    return next_part, state_action_part


def direct_reward(game: GridWorldGame, agent: int, state: int, action_0: int, action_1: int) -> float:
    """The game's reward computed from its rules cell by cell (an independent check of ``ω*·φ``)."""
    n = game.size
    next_cell, bumped = cell_moves(n)
    cells = game.cells(state)
    actions = (action_0, action_1)
    new = [int(next_cell[cells[k], actions[k]]) for k in range(NUM_AGENTS)]
    reward = 0.0
    if new[agent] == game.goals[agent]:
        reward += 1.0
    if new[0] == new[1]:
        reward -= 1.0
    if actions[agent] != 0:
        reward -= 0.1
    return reward
