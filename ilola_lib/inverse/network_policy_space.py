"""Policy-space quantities for neural categorical policies (T2; design §5.2–5.3, §6).

* :class:`CategoricalNetworkDivergence` — ``KL(π_i(·|o; θ_i^{k+1}) ‖ π_i(·|o; θ̂_i^{k+1}))`` averaged over
  observations ``o`` of ``D_{k+1}``, for predicted parameters of a whole population in one call. It plugs
  into :func:`ilola_lib.inverse.policy_fit.policy_loss` like the tabular divergence.
* :func:`episodes_from_rollout` — a PPO rollout ``[T, E, …]`` with synchronous resets every ``H`` steps as
  episodes ``[E·T/H, H, …]`` for the score-function estimators.
* :func:`sampled_gradient_tensors` — ``Ψ_ii`` and ``T_ij`` at ``θ^k`` estimated from ``D_k``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import nn
from torch.func import vmap

from ilola_lib.inverse.estimators import gpomdp_jacobian, lola_tensor_estimate
from ilola_lib.learners.policies import actor_logits


class CategoricalNetworkDivergence:
    """Observation-averaged KL between observed and predicted network policies.

    Args:
        templates: each agent's actor module (architecture and fixed normalisation buffers).
        observations: ``o ~ D_{k+1}`` as ``[K, N, M, obs_dim]``.
        next_params: the observed ``θ^{k+1}`` as ``[K, N, d]``.
    """

    def __init__(self, templates: Sequence[nn.Module], observations: torch.Tensor, next_params: torch.Tensor,
                 observed_log_probs: torch.Tensor | None = None):
        self.templates, self.observations, self.next_params = list(templates), observations, next_params
        if observed_log_probs is None:
            with torch.no_grad():
                observed_log_probs = torch.stack([
                    torch.stack([torch.log_softmax(actor_logits(t, next_params[k, i], observations[k, i]), -1)
                                 for i, t in enumerate(self.templates)])
                    for k in range(observations.shape[0])])
        self.observed_log_probs = observed_log_probs  # [K, N, M, A]

    def subset(self, pairs) -> "CategoricalNetworkDivergence":
        return CategoricalNetworkDivergence(self.templates, self.observations[pairs], self.next_params[pairs],
                                            self.observed_log_probs[pairs])

    def __call__(self, predicted: torch.Tensor) -> torch.Tensor:
        """``[P, K, N]`` for predicted parameters ``[P, K, N, d]``."""
        per_agent = []
        for i, template in enumerate(self.templates):
            logits = vmap(lambda params, obs, t=template: actor_logits(t, params, obs), in_dims=(1, 0))(
                predicted[:, :, i], self.observations[:, i])  # [K, P, M, A]
            log_p = self.observed_log_probs[:, i, None]  # [K, 1, M, A]
            kl = (log_p.exp() * (log_p - torch.log_softmax(logits, -1))).sum(-1).mean(-1)  # [K, P]
            per_agent.append(kl.T)
        return torch.stack(per_agent, dim=-1).clamp_min(0.0)


def episodes_from_rollout(values: torch.Tensor, horizon: int) -> torch.Tensor:
    """``[T, E, …]`` → ``[E·T/H, H, …]`` for rollouts whose envs all reset every ``H`` steps from step 0."""
    steps, envs = values.shape[:2]
    assert steps % horizon == 0, f"rollout length {steps} is not a multiple of the episode length {horizon}"
    chunks = values.reshape(steps // horizon, horizon, envs, *values.shape[2:])
    return chunks.transpose(1, 2).reshape(-1, horizon, *values.shape[2:])


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
