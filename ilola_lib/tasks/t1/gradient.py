"""Exact gradient learners on the T1 game, and the exact Stage A/B tensors ``Ψ`` and ``T``.

Parameters are tabular softmax logits ``θ [N, S, A]``; agent i's flat parameter vector has
``d = S · A`` entries. With ``V_i(θ) = ω_i · ψ_i(θ)`` (design §5.2–5.3):

* naive policy gradient: ``Δθ_i = lr ∇_{θ_i} V_i``;
* first-order LOLA (Foerster et al. 2018, eq. 4 with the Taylor term):
  ``Δθ_i = lr [∇_{θ_i} V_i + η Σ_{j≠i} (∇_{θ_j} V_i)ᵀ ∇_{θ_i}∇_{θ_j} V_j]``.
"""

from __future__ import annotations

import torch

from ilola_lib.tasks.t1.tabular import DTYPE, GameTensors, feature_expectations, feature_jacobian, policies_from_logits


def feature_jacobians(tensors: GameTensors, logits: torch.Tensor) -> torch.Tensor:
    """Exact ``Ψ[i, j] = ∂ψ_i/∂θ_j`` as ``[N, N, d, q]`` at logits ``[N, S, A]``."""
    policies = policies_from_logits(logits)
    num_agents = logits.shape[0]
    return torch.stack([torch.stack([feature_jacobian(tensors, policies, i, j) for j in range(num_agents)])
                        for i in range(num_agents)])


def lola_tensors(tensors: GameTensors, logits: torch.Tensor, jacobians: torch.Tensor) -> torch.Tensor:
    """Exact LOLA cross terms ``T[i, j, :, m, n] = ∇_{θ_i}[stopgrad(Ψ_ij[:, m]) · ∇_{θ_j} ψ_jn]``.

    Design §5.3: reverse-mode derivative in ``θ_i`` of the exact ``Ψ_jj(θ)`` contracted with the
    fixed columns of ``Ψ_ij``. Returns ``[N, N, d, q, q]`` (zero on the diagonal ``i = j``).
    """
    num_agents = logits.shape[0]
    q = jacobians.shape[-1]
    d = logits[0].numel()
    result = torch.zeros(num_agents, num_agents, d, q, q, dtype=DTYPE)
    eye = torch.eye(q * q, dtype=DTYPE)
    for j in range(num_agents):
        theta = logits.detach().clone().requires_grad_(True)
        own_jacobian = feature_jacobian(tensors, policies_from_logits(theta), j, j)  # [d, q(n)]
        for i in range(num_agents):
            if i == j:
                continue
            contracted = jacobians[i, j].T @ own_jacobian  # [q(m), q(n)]
            rows = torch.autograd.grad(contracted.reshape(-1), theta, grad_outputs=eye,
                                       retain_graph=True, is_grads_batched=True)[0]  # [q*q, N, S, A]
            result[i, j] = rows[:, i].reshape(q, q, d).permute(2, 0, 1)
    return result


def naive_gradient_step(tensors: GameTensors, logits: torch.Tensor, weights: torch.Tensor,
                        learning_rate: float) -> torch.Tensor:
    """``θ_i ← θ_i + lr ∇_{θ_i} V_i(θ)`` for all agents simultaneously."""
    theta = logits.detach().clone().requires_grad_(True)
    step = torch.zeros_like(logits)
    for i in range(logits.shape[0]):
        value = weights[i] @ feature_expectations(tensors, policies_from_logits(theta), i)
        step[i] = torch.autograd.grad(value, theta)[0][i]
    return logits + learning_rate * step


def lola_step(tensors: GameTensors, logits: torch.Tensor, weights: torch.Tensor,
              learning_rate: float, eta: float) -> torch.Tensor:
    """One first-order LOLA step for all agents, by autograd on its definition (not via ``T``)."""
    theta = logits.detach().clone().requires_grad_(True)
    policies = policies_from_logits(theta)
    values = [weights[i] @ feature_expectations(tensors, policies, i) for i in range(logits.shape[0])]
    step = torch.zeros_like(logits)
    for i in range(logits.shape[0]):
        own = torch.autograd.grad(values[i], theta, retain_graph=True)[0][i]
        correction = torch.zeros_like(own)
        for j in range(logits.shape[0]):
            if j == i:
                continue
            grad_j_vi = torch.autograd.grad(values[i], theta, retain_graph=True)[0][j].detach()
            grad_j_vj = torch.autograd.grad(values[j], theta, retain_graph=True, create_graph=True)[0][j]
            correction += torch.autograd.grad((grad_j_vi * grad_j_vj).sum(), theta,
                                              retain_graph=True)[0][i]
        step[i] = own + eta * correction
    return logits + learning_rate * step


def run_gradient_learners(tensors: GameTensors, weights: torch.Tensor, learning_rate: float,
                          num_phases: int, initial_logits: torch.Tensor, eta: float = 0.0) -> torch.Tensor:
    """Exact naive-PG (``eta = 0``) or LOLA learners from ``initial_logits``: logits ``[K+1, N, S, A]``."""
    logits = initial_logits
    history = [logits]
    for _ in range(num_phases):
        if eta == 0.0:
            logits = naive_gradient_step(tensors, logits, weights, learning_rate)
        else:
            logits = lola_step(tensors, logits, weights, learning_rate, eta)
        history.append(logits.detach())
    return torch.stack(history)
