"""MA-LfL on a two-agent tabular Markov game (design §5.1; Jacq et al. 2019, Caliskan et al. 2023).

For soft policy improvement, agent i's consecutive policies satisfy, for every ``(s, a_i)``,

    Y_i(s, a_i) = α log π_i^{k+1}(a_i|s) + α γ E_{a_-i~π_-i^k, s'}[KL(π_i^k(·|s') ‖ π_i^{k+1}(·|s'))]
                = ω_i · φ̄_i(s, a_i) + g_i^k(s) − γ E_{a_-i~π_-i^k, s'}[g_i^k(s')]

with ``φ̄_i(s, a_i) = E_{a_-i~π_-i^k} φ_i(s, a_i, a_-i)`` and ``g_i^k = −α log Z_i^k`` (one potential per
phase: the normaliser changes with ``k``). The shaping term is evaluated at the next state, unlike
the public MA-LfL code. Stacking fit pairs gives a weighted least-squares problem in
``(ω_i, g_i^{k_1}, g_i^{k_2}, …)``; the potentials are profiled out phase by phase.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse
import torch

from ilola_lib.core.metrics import categorical_kl
from ilola_lib.core.protocols import TabularMarkovGame
from ilola_lib.core.tabular_games import marginalise_other


def _marginalise(values: np.ndarray, policies: np.ndarray, agent: int) -> np.ndarray:
    """:func:`ilola_lib.core.tabular_games.marginalise_other` on numpy arrays: ``[S, A_i, …]``."""
    return marginalise_other(torch.as_tensor(values), torch.as_tensor(policies), agent).numpy()


def marginal_features(game: TabularMarkovGame, policies: np.ndarray, agent: int) -> np.ndarray:
    """``φ̄_i(s, a_i)`` as ``[S, A, q]`` under the other agent's policy in ``policies [N, S, A]``."""
    return _marginalise(game.features[agent], policies, agent)


def shaping_matrix(game: TabularMarkovGame, policies: np.ndarray, agent: int) -> scipy.sparse.csr_matrix:
    """``M[(s, a_i), s'] = 1[s' = s] − γ Pr(s' | s, a_i)`` (sparse ``[S·A, S]``): ``M g`` is the shaping term."""
    num_states, num_actions = game.num_states, game.num_actions
    other = policies[1 - agent]
    successors = game.next_state if agent == 0 else game.next_state.transpose(0, 2, 1)  # [S, a_i, a_-i]
    num_rows = num_states * num_actions
    rows = np.repeat(np.arange(num_rows), num_actions)
    probs = np.broadcast_to(other[:, None, :], successors.shape).reshape(-1)
    transition = scipy.sparse.csr_matrix((probs, (rows, successors.reshape(-1))), shape=(num_rows, num_states))
    stay = scipy.sparse.csr_matrix((np.ones(num_rows), (np.arange(num_rows), np.repeat(np.arange(num_states), num_actions))),
                                   shape=(num_rows, num_states))
    return (stay - game.gamma * transition).tocsr()


def lfl_targets(game: TabularMarkovGame, policies: np.ndarray, next_policies: np.ndarray, agent: int,
                alpha: float) -> np.ndarray:
    """``Y_i(s, a_i)`` of the MA-LfL identity as ``[S, A]`` for the pair ``π^k → π^{k+1}``."""
    own, own_next = policies[agent], next_policies[agent]
    divergence = categorical_kl(np.log(own), np.log(own_next), own)  # KL(π_i^k ‖ π_i^{k+1}) per state
    expected = _marginalise(divergence[game.next_state], policies, agent)
    return alpha * np.log(own_next) + alpha * game.gamma * expected


def _least_squares_potentials(shaping, columns: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
    """``argmin_g ‖W^{1/2}(columns − M g)‖²`` per column, by the (rank-tolerant) normal equations."""
    weighted = shaping.T.multiply(row_weights[None, :]).tocsr()
    normal = (weighted @ shaping).toarray()
    potentials, *_ = scipy.linalg.lstsq(normal, weighted @ columns, lapack_driver="gelsy")
    return potentials


def _project_out_shaping(shaping, columns: np.ndarray, row_weights: np.ndarray) -> np.ndarray:
    """Weighted residuals ``W^{1/2}(columns − M g*)`` after removing the best shaping term."""
    potentials = _least_squares_potentials(shaping, columns, row_weights)
    return np.sqrt(row_weights)[:, None] * (columns - shaping @ potentials)


def fit_ma_lfl(game: TabularMarkovGame, policies: np.ndarray, state_weights: np.ndarray,
               fit_pairs: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Recover ``ω_i`` for every agent from observed policies ``[K+1, N, S, A]``.

    Rows ``(s, a_i)`` of pair ``k`` are weighted by ``w^{k+1}(s)``.

    Returns:
        ``weights [N, q]`` (at the scale fixed by ``α``) and potentials ``g [N, len(fit_pairs), S]``.
    """
    num_agents = policies.shape[1]
    num_actions = game.num_actions
    weights, potentials = [], []
    for i in range(num_agents):
        projected_y, projected_phi, problems = [], [], []
        for k in fit_pairs:
            target = lfl_targets(game, policies[k], policies[k + 1], i, alpha).reshape(-1)
            features = marginal_features(game, policies[k], i).reshape(target.size, -1)
            shaping = shaping_matrix(game, policies[k], i)
            row_weights = np.repeat(state_weights[k + 1], num_actions)
            residual = _project_out_shaping(shaping, np.column_stack([target, features]), row_weights)
            projected_y.append(residual[:, 0])
            projected_phi.append(residual[:, 1:])
            problems.append((target, features, shaping, row_weights))
        omega, *_ = np.linalg.lstsq(np.concatenate(projected_phi), np.concatenate(projected_y), rcond=None)
        weights.append(omega)
        potentials.append([
            _least_squares_potentials(shaping, target - features @ omega, row_weights)
            for target, features, shaping, row_weights in problems
        ])
    return np.array(weights), np.array(potentials)


def identifiability_margin(game: TabularMarkovGame, policies: np.ndarray, agent: int) -> float:
    """Smallest singular value of the unit-normalised features after projecting out shaping.

    ``ω_i`` is identified by the MA-LfL identity iff no non-zero ``ω`` makes ``ω·φ̄_i`` a shaping term
    ``g(s) − γ E[g(s')]``, i.e. iff this margin is positive (rank ``[φ̄_i, M] = q + rank M``).
    """
    features = marginal_features(game, policies, agent).reshape(game.num_states * game.num_actions, -1)
    features = features / np.linalg.norm(features, axis=0, keepdims=True)
    residual = _project_out_shaping(shaping_matrix(game, policies, agent), features,
                                    np.ones(features.shape[0]))
    return float(np.linalg.svd(residual, compute_uv=False).min())
