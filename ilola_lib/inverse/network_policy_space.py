"""Policy-space quantities for neural policies (T2 categorical, T3 Gaussian; design §5.2–5.3, §6).

* :class:`CategoricalNetworkDivergence` — ``KL(π_i(·|o; θ_i^{k+1}) ‖ π_i(·|o; θ̂_i^{k+1}))`` averaged over
  observations ``o`` of ``D_{k+1}``, for predicted parameters of a whole population in one call. It plugs
  into :func:`ilola_lib.inverse.policy_fit.policy_loss` like the tabular divergence.
* :class:`GaussianNetworkDivergence` — the same for diagonal Gaussian policies, in closed form, and
  :class:`MonteCarloGaussianDivergence` — its Monte-Carlo estimate (the poster's metric) with a standard
  error.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn
from torch.func import vmap

from ilola_lib.core.metrics import categorical_kl, kl_diagonal_gaussian
from ilola_lib.core.policies import actor_logits, gaussian, gaussian_mean_log_std


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
            kl = categorical_kl(log_p, torch.log_softmax(logits, -1)).mean(-1)  # [K, P]
            per_agent.append(kl.T)
        return torch.stack(per_agent, dim=-1).clamp_min(0.0)


class GaussianNetworkDivergence:
    """Observation-averaged closed-form KL between observed and predicted diagonal Gaussian policies.

    ``KL(N(μ_p, σ_p²) ‖ N(μ_q, σ_q²)) = Σ_a [log σ_q/σ_p + (σ_p² + (μ_p − μ_q)²)/(2σ_q²) − 1/2]``.

    Args:
        templates: each agent's :class:`~ilola_lib.core.policies.GaussianActor`.
        observations: ``o ~ D_{k+1}`` as ``[K, N, M, obs_dim]``.
        next_params: the observed ``θ^{k+1}`` as ``[K, N, d]``.
    """

    def __init__(self, templates: Sequence[nn.Module], observations: torch.Tensor, next_params: torch.Tensor,
                 observed: tuple[torch.Tensor, torch.Tensor] | None = None):
        self.templates, self.observations, self.next_params = list(templates), observations, next_params
        if observed is None:
            with torch.no_grad():
                per_agent = [self._predicted(next_params[:, None], i) for i in range(len(self.templates))]
            observed = tuple(torch.stack([part[:, 0] for part in parts], 1) for parts in zip(*per_agent))
        self.observed_mean, self.observed_log_std = observed  # [K, N, M, A], [K, N, 1, A]

    def subset(self, pairs):
        return type(self)(self.templates, self.observations[pairs], self.next_params[pairs],
                          (self.observed_mean[pairs], self.observed_log_std[pairs]))

    def _predicted(self, predicted: torch.Tensor, agent: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Agent ``agent``'s means ``[K, P, M, A]`` and log-stds ``[K, P, 1, A]`` for ``predicted [K, P, N, d]``."""
        template = self.templates[agent]
        return vmap(lambda params, obs: gaussian_mean_log_std(template, params, obs), in_dims=(0, 0))(
            predicted[:, :, agent], self.observations[:, agent])

    def __call__(self, predicted: torch.Tensor) -> torch.Tensor:
        """``[P, K, N]`` for predicted parameters ``[P, K, N, d]``."""
        per_agent = []
        for i in range(len(self.templates)):
            mean, log_std = self._predicted(predicted.transpose(0, 1), i)
            kl = kl_diagonal_gaussian(self.observed_mean[:, i, None], self.observed_log_std[:, i, None].exp(),
                                      mean, log_std.exp())  # [K, P, M]
            per_agent.append(kl.mean(-1).T)
        # A prediction whose parameters overflowed scores +inf (never chosen), not nan.
        return torch.stack(per_agent, dim=-1).nan_to_num(nan=torch.inf).clamp_min(0.0)


class MonteCarloGaussianDivergence(GaussianNetworkDivergence):
    """The Monte-Carlo estimate of :class:`GaussianNetworkDivergence`:
    ``mean_s [log π^{k+1}(a_s|o) − log π̂(a_s|o)]`` with ``a_s ~ π^{k+1}(·|o)``, ``S`` samples per observation.

    The samples are drawn once (``a_s = μ_p + σ_p ε_s``, ``ε`` from ``generator``), so every prediction is
    scored on the same actions.
    """

    def __init__(self, templates, observations, next_params, samples: int = 16,
                 generator: torch.Generator | None = None, observed=None, noise: torch.Tensor | None = None):
        super().__init__(templates, observations, next_params, observed)
        if noise is None:
            noise = torch.randn(*self.observed_mean.shape[:3], samples, self.observed_mean.shape[-1],
                                generator=generator, dtype=self.observed_mean.dtype)
        self.noise = noise  # [K, N, M, S, A]
        std = self.observed_log_std.exp()[:, :, :, None]
        self.actions = self.observed_mean[:, :, :, None] + std * noise
        self.observed_log_probs = gaussian(self.observed_mean[:, :, :, None], self.observed_log_std[:, :, :, None]
                                           ).log_prob(self.actions)  # [K, N, M, S]

    def subset(self, pairs):
        return MonteCarloGaussianDivergence(self.templates, self.observations[pairs], self.next_params[pairs],
                                            observed=(self.observed_mean[pairs], self.observed_log_std[pairs]),
                                            noise=self.noise[pairs])

    def log_ratios(self, predicted: torch.Tensor) -> torch.Tensor:
        """``log π^{k+1}(a_s|o) − log π̂(a_s|o)`` as ``[P, K, N, M, S]``."""
        per_agent = []
        for i in range(len(self.templates)):
            mean, log_std = self._predicted(predicted.transpose(0, 1), i)  # [K, P, M, A], [K, P, 1, A]
            log_q = gaussian(mean[:, :, :, None], log_std[:, :, :, None]).log_prob(self.actions[:, None, i])
            per_agent.append((self.observed_log_probs[:, None, i] - log_q).transpose(0, 1))  # [P, K, M, S]
        return torch.stack(per_agent, dim=2)

    def __call__(self, predicted: torch.Tensor) -> torch.Tensor:
        """``[P, K, N]`` Monte-Carlo KL estimates (not clamped: an estimate can be negative)."""
        return self.log_ratios(predicted).mean(dim=(-2, -1))

    def mean_and_standard_error(self, predicted: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``[P]`` each: the estimate's mean over pairs, agents and observations, and its standard error
        ``sqrt(Σ_cells Var_s / S) / #cells`` (samples independent within and across observations)."""
        ratios = self.log_ratios(predicted)
        samples = ratios.shape[-1]
        cells = ratios[0, ..., 0].numel()
        within = ratios.var(dim=-1, correction=1).flatten(1).sum(-1) / samples
        return ratios.mean(dim=(-2, -1)).mean(dim=(1, 2)), within.sqrt() / cells
