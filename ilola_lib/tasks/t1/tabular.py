"""Exact value computations for tabular joint-state policies in the T1 game (torch, float64).

Policies are ``pi[i, s, a]`` (``[N, S, A]``) with each agent conditioning on the joint state.
Everything is differentiable, so Jacobians of feature expectations and the LOLA cross terms of
design §5.3 are exact autograd derivatives of these functions.
"""

from __future__ import annotations

import torch

from ilola_lib.core.tabular_games import marginalise_other
from ilola_lib.tasks.t1.gridworld import GridWorldGame

DTYPE = torch.float64


class GameTensors:
    """Torch views of a :class:`GridWorldGame`: ``next_state [S, A, A]``, ``features [N, S, A, A, q]``,
    ``initial_distribution [S]``."""

    def __init__(self, game: GridWorldGame):
        self.game = game
        self.gamma = float(game.gamma)
        self.num_states = game.num_states
        self.num_actions = game.num_actions
        self.next_state = torch.as_tensor(game.next_state, dtype=torch.long)
        self.features = torch.as_tensor(game.features, dtype=DTYPE)
        self.initial_distribution = torch.as_tensor(game.initial_distribution, dtype=DTYPE)
        self._flat_next = self.next_state.reshape(self.num_states, -1)


def joint_action_probs(policies: torch.Tensor) -> torch.Tensor:
    """``π(a_0, a_1 | s) = π_0(a_0|s) π_1(a_1|s)`` as ``[S, A, A]`` from ``policies [2, S, A]``."""
    return policies[0][:, :, None] * policies[1][:, None, :]


def transition_matrix(tensors: GameTensors, joint: torch.Tensor) -> torch.Tensor:
    """``P_π[s, s'] = Σ_a π(a|s) 1[next(s, a) = s']`` (``[S, S]``) for joint action probs ``[S, A, A]``."""
    num_states = tensors.num_states
    matrix = torch.zeros(num_states, num_states, dtype=joint.dtype)
    return matrix.scatter_add(1, tensors._flat_next, joint.reshape(num_states, -1))


def discounted_occupancy(tensors: GameTensors, policies: torch.Tensor) -> torch.Tensor:
    """``d_π(s) = Σ_t γ^t Pr(s_t = s)`` from ``μ_0`` (``[S]``, sums to ``1/(1−γ)``)."""
    matrix = transition_matrix(tensors, joint_action_probs(policies))
    identity = torch.eye(tensors.num_states, dtype=DTYPE)
    return torch.linalg.solve((identity - tensors.gamma * matrix).T, tensors.initial_distribution)


def state_distribution(tensors: GameTensors, policies: torch.Tensor) -> torch.Tensor:
    """Normalised discounted state occupancy ``(1−γ) d_π`` (``[S]``, sums to 1)."""
    return (1.0 - tensors.gamma) * discounted_occupancy(tensors, policies)


def feature_expectations(tensors: GameTensors, policies: torch.Tensor, agent: int) -> torch.Tensor:
    """``ψ_i(π) = E_π[Σ_h γ^h φ_i(s_h, a_h)] = d_π · φ̄_i`` (``[q]``) — design §5.2."""
    joint = joint_action_probs(policies)
    expected = torch.einsum("sab,sabq->sq", joint, tensors.features[agent])
    return discounted_occupancy(tensors, policies) @ expected


def policies_from_logits(logits: torch.Tensor) -> torch.Tensor:
    """Tabular softmax ``π_i(a|s) = softmax(θ_i[s, :])`` for logits ``[..., S, A]``."""
    return torch.softmax(logits, dim=-1)


def logits_from_policies(policies: torch.Tensor) -> torch.Tensor:
    """Centred log-policy ``θ[s, a] = log π(a|s) − mean_a log π(·|s)``: the softmax parameters of ``π``."""
    log_pi = torch.log(policies)
    return log_pi - log_pi.mean(dim=-1, keepdim=True)


def feature_q_values(tensors: GameTensors, policies: torch.Tensor, agent: int) -> torch.Tensor:
    """Discounted feature sums ``Q^φ_i(s, a_0, a_1) = φ_i(s, a) + γ V^φ_i(next(s, a))`` (``[S, A, A, q]``).

    ``V^φ_i(s) = E_{a~π}[Q^φ_i(s, a)]`` is solved exactly, one column per feature.
    """
    joint = joint_action_probs(policies)
    features = tensors.features[agent]
    expected = torch.einsum("sab,sabq->sq", joint, features)
    identity = torch.eye(tensors.num_states, dtype=DTYPE)
    values = torch.linalg.solve(identity - tensors.gamma * transition_matrix(tensors, joint), expected)
    return features + tensors.gamma * values[tensors.next_state]


def feature_jacobian(tensors: GameTensors, policies: torch.Tensor, agent: int, wrt: int) -> torch.Tensor:
    """Exact ``Ψ_ij = ∂ψ_i/∂θ_j`` for tabular softmax logits, by the policy gradient theorem.

    ``∂ψ_i/∂θ_j[s, a] = d_π(s) π_j(a|s) (Q^φ_{i|j}(s, a) − V^φ_i(s))`` with ``Q^φ_{i|j}`` the feature
    Q-values marginalised over the other agent's action (Sutton et al. 2000, Thm 1).
    Returns ``[d_j, q]`` with ``d_j = S · A`` (row index ``s · A + a``); differentiable in ``policies``.
    """
    q_joint = feature_q_values(tensors, policies, agent)
    if wrt == 0:
        q_own = torch.einsum("sabq,sb->saq", q_joint, policies[1])
    else:
        q_own = torch.einsum("sabq,sa->sbq", q_joint, policies[0])
    own = policies[wrt]
    advantage = q_own - torch.einsum("saq,sa->sq", q_own, own)[:, None, :]
    occupancy = discounted_occupancy(tensors, policies)
    return (occupancy[:, None, None] * own[:, :, None] * advantage).reshape(-1, q_own.shape[-1])


def entropy_q_values(tensors: GameTensors, policies: torch.Tensor, agent: int, alpha: float) -> torch.Tensor:
    """The entropy bonus's share of agent i's soft Q: ``γ V^H_i(next(s, a))`` (``[S, A, A]``), where
    ``V^H_i(s) = α H(π_i(·|s)) + γ E_π[V^H_i(s')]``."""
    own = policies[agent]
    entropy = -(own * torch.log(own)).sum(-1)
    identity = torch.eye(tensors.num_states, dtype=DTYPE)
    matrix = transition_matrix(tensors, joint_action_probs(policies))
    values = torch.linalg.solve(identity - tensors.gamma * matrix, alpha * entropy)
    return tensors.gamma * values[tensors.next_state]


def soft_q_parts(tensors: GameTensors, policies: torch.Tensor, agent: int,
                 alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Agent i's soft Q against the others' current policies, split as ``Q_i = Q^φ_i · ω_i + Q^H_i``.

    Design §4 (MA-SPI evaluation): ``Q_i(s, a_i) = E_{a_-i~π_-i}[r_i(s, a) + γ V_i(next(s, a))]`` with
    ``V_i(s) = E_{a~π}[r_i(s,a) + γ V_i(s')] + α H(π_i(·|s))``; linear in ``ω_i`` for ``r_i = ω_i·φ_i``.

    Returns:
        ``Q^φ_i [S, A, q]`` and ``Q^H_i [S, A]``.
    """
    feature_q = marginalise_other(feature_q_values(tensors, policies, agent), policies, agent)
    entropy_q = marginalise_other(entropy_q_values(tensors, policies, agent, alpha), policies, agent)
    return feature_q, entropy_q


def ma_spi_step(tensors: GameTensors, policies: torch.Tensor, weights: torch.Tensor,
                alpha: float) -> torch.Tensor:
    """One MA-SPI phase: ``π_i^{k+1}(a_i|s) ∝ exp(Q_i^{π^k}(s, a_i)/α)`` for all agents at once.

    Args:
        weights: reward weights ``ω [N, q]``.
    """
    updated = []
    for i in range(policies.shape[0]):
        feature_q, entropy_q = soft_q_parts(tensors, policies, i, alpha)
        updated.append(torch.softmax((feature_q @ weights[i] + entropy_q) / alpha, dim=-1))
    return torch.stack(updated)


def run_ma_spi(tensors: GameTensors, weights: torch.Tensor, alpha: float, num_phases: int,
               initial_logits: torch.Tensor) -> torch.Tensor:
    """MA-SPI from ``softmax(initial_logits)``: ``π^0 … π^K`` as ``[K+1, N, S, A]``."""
    policies = policies_from_logits(initial_logits)
    history = [policies]
    for _ in range(num_phases):
        policies = ma_spi_step(tensors, policies, weights, alpha)
        history.append(policies)
    return torch.stack(history)
