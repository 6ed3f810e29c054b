"""Sampled estimators of ``Ψ`` and the LOLA cross terms ``T`` from a batch of episodes (design §5.2–5.3): the
observer's (inverse methods) and the LOLA-PPO learners' (:mod:`ilola_lib.core.lola`) shared estimator.

Both are score-function (GPOMDP) estimators written as surrogate losses whose derivatives are the
estimates, so any differentiable policy works (tabular on T1, networks on T2/T3):

* ``Ψ[:, n] = E[Σ_l ∇_θ log π(a_l|o_l) Σ_{t≥l} γ^t (φ_n(t) − b_n(t))]`` with the per-step baseline
  ``b_n(t)`` = batch mean of ``φ_n(t)``;
* ``T_ij^{mn} = E[Σ_t γ^t (φ_jn(t) − b_jn(t)) S_i,t (S_j,t · c_m)]``, ``S_a,t = Σ_{l≤t} ∇_{θ_a} log π_a``,
  ``c_m = Ψ_ij[:, m]``: the directional scores ``S_j,t · c_m`` are forward-mode JVPs and the outer
  gradient a reverse-mode pass, so no second-order autodiff is needed.

``log_prob(params) -> [E, H]`` evaluates the recorded actions' log-probabilities under ``params``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch.func import jacrev, jvp


def _centred_discounted(features: torch.Tensor, gamma: float) -> torch.Tensor:
    """``γ^t (φ(t) − mean_e φ(t))`` for features ``[E, H, q]``."""
    discount = gamma ** torch.arange(features.shape[1], dtype=features.dtype)
    return discount[None, :, None] * (features - features.mean(dim=0, keepdim=True))


def _reverse_cumsum(values: torch.Tensor) -> torch.Tensor:
    """``Σ_{t≥l} values[:, t]`` along axis 1."""
    return values.flip(1).cumsum(1).flip(1)


def gpomdp_jacobian(log_prob: Callable[[torch.Tensor], torch.Tensor], params: torch.Tensor,
                    features: torch.Tensor, gamma: float) -> torch.Tensor:
    """GPOMDP estimate of ``∂ψ/∂θ`` (``[d, q]`` with ``d = params.numel()``).

    Args:
        features: ``φ [E, H, q]`` of the agent whose feature expectation ``ψ`` is differentiated.
    """
    returns_to_go = _reverse_cumsum(_centred_discounted(features, gamma)).detach()
    num_episodes = features.shape[0]

    def surrogate(theta):
        return torch.einsum("eh,ehq->q", log_prob(theta), returns_to_go) / num_episodes

    return jacrev(surrogate)(params).reshape(features.shape[-1], -1).T


def lola_tensor_estimate(log_prob_i: Callable, params_i: torch.Tensor, log_prob_j: Callable,
                         params_j: torch.Tensor, features_j: torch.Tensor, cross_jacobian: torch.Tensor,
                         gamma: float) -> torch.Tensor:
    """Score-function estimate of ``T_ij [d_i, q(m), q(n)]`` (module docstring).

    Args:
        features_j: ``φ_j [E, H, q]``.
        cross_jacobian: ``Ψ_ij [d_j, q]`` (exact or estimated), whose columns are the ``c_m``.
    """
    num_episodes, _, q = features_j.shape
    directions = cross_jacobian.T.reshape(q, *params_j.shape)
    directional = torch.stack([jvp(log_prob_j, (params_j,), (c,))[1] for c in directions], dim=-1)
    cumulative = directional.cumsum(dim=1).detach()  # S_j,t · c_m as [E, H, q(m)]
    centred = _centred_discounted(features_j, gamma)  # [E, H, q(n)]
    weights = _reverse_cumsum(cumulative[..., :, None] * centred[..., None, :]).detach()  # [E, H, m, n]

    def surrogate(theta):
        return torch.einsum("eh,ehmn->mn", log_prob_i(theta), weights).reshape(-1) / num_episodes

    return jacrev(surrogate)(params_i).reshape(q, q, -1).permute(2, 0, 1)


def sampled_gradient_tensors(log_prob_fns: Sequence[Callable[[torch.Tensor], torch.Tensor]], params: torch.Tensor,
                             features: torch.Tensor, gamma: float, coupled: bool):
    """``Ψ_ii [N, d, q]`` and (if ``coupled``) ``T [N, N, d, q, q]`` at ``θ^k`` from one batch ``D_k``.

    Args:
        log_prob_fns: per agent, ``θ_i [d] → log π_i(a|o) [E, H]`` on the batch's episodes.
        params: ``θ^k`` as ``[N, d]``.
        features: ``φ`` as ``[N, E, H, q]``.
    """
    num_agents = params.shape[0]
    own = torch.stack([gpomdp_jacobian(log_prob_fns[i], params[i], features[i], gamma) for i in range(num_agents)])
    if not coupled:
        return own, None
    # ∂J_i/∂θ_j (the other agents' parameters) enters each LOLA cross term.
    jacobians = [[own[i] if i == j else gpomdp_jacobian(log_prob_fns[j], params[j], features[i], gamma)
                  for j in range(num_agents)] for i in range(num_agents)]
    q = features.shape[-1]
    cross = torch.zeros(num_agents, num_agents, params.shape[1], q, q, dtype=own.dtype)
    for i in range(num_agents):
        for j in range(num_agents):
            if i != j:
                cross[i, j] = lola_tensor_estimate(log_prob_fns[i], params[i], log_prob_fns[j], params[j],
                                                   features[j], jacobians[i][j], gamma)
    return own, cross
