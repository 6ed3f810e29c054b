"""EPIC pseudometric between rewards on the T1 game (Gleave et al. 2021, eq. 3–5).

``D_EPIC(R_A, R_B) = sqrt((1 − ρ(C(R_A), C(R_B)))/2)`` with the canonicalisation

    C(R)(s, a, s') = R(s, a, s') + E[γ R(s', A, S') − R(s, A, S') − γ R(S, A, S')]

under uniform ``S, S'`` over joint states and uniform joint actions ``A``; ``ρ`` is the Pearson
correlation over transitions ``(s, a, next(s, a))`` with ``s`` and ``a`` uniform. EPIC is invariant
to potential shaping and positive scaling, which cosine between weight vectors is not.
"""

from __future__ import annotations

import numpy as np

from ilola_lib.core.metrics import pearson_distance
from ilola_lib.tasks.t1.gridworld import GridWorldGame, transition_feature_parts


def canonical_rewards(game: GridWorldGame, agent: int, weights: np.ndarray) -> np.ndarray:
    """``C(R)(s, a, next(s, a))`` for ``R = weights · φ_agent`` as ``[S, A, A]`` (constant dropped)."""
    next_part, state_action_part = transition_feature_parts(game)
    next_reward = next_part[agent] @ weights  # [S]
    state_action_reward = state_action_part[agent] @ weights  # [S, A, A]
    reward = next_reward[game.next_state] + state_action_reward
    mean_from = state_action_reward.mean(axis=(1, 2)) + next_reward.mean()  # E_{A,S'} R(x, A, S')
    return reward + game.gamma * mean_from[game.next_state] - mean_from[:, None, None]


def epic_distance(game: GridWorldGame, agent: int, weights_a: np.ndarray, weights_b: np.ndarray) -> float:
    """EPIC distance between agent ``agent``'s rewards ``weights_a · φ`` and ``weights_b · φ``."""
    a = canonical_rewards(game, agent, np.asarray(weights_a)).reshape(-1)
    b = canonical_rewards(game, agent, np.asarray(weights_b)).reshape(-1)
    return pearson_distance(a, b, np.ones_like(a))
