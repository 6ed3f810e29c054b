"""Fitting learner models in policy space (design §5.3) and the held-out KL protocol (design §6).

    L(ω, ν) = mean_{k ∈ pairs, i} E_{o ~ D_{k+1}} KL(π_i^{k+1}(·|o) ‖ π_i(·|o; prediction_i^k(ω, ν)))

Stage B (I-LOLA) minimises ``L`` over ``(ω, ν)`` with CMA-ES, the population in one batched call,
then polishes with L-BFGS (the objective is smooth once ``Ψ`` and ``T`` are precomputed). Nuisance
fits (for KL(1a) and KL(rand)) minimise ``L`` over ``ν`` only, for fixed ``ω``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.optimize
import torch

from ilola_lib.inverse.cmaes import minimize_batched


class TabularDivergence:
    """``KL(π_i^{k+1}(·|s) ‖ softmax(logits_i(s)))`` averaged over ``w^{k+1}(s)``.

    Args:
        observed_next: observed ``π^{k+1}`` as ``[K, N, S, A]``.
        state_weights: ``w^{k+1}`` as ``[K, S]``.
    """

    def __init__(self, observed_next: torch.Tensor, state_weights: torch.Tensor):
        self.observed_next, self.state_weights = observed_next, state_weights
        self._weighted = observed_next * state_weights[:, None, :, None]  # w(s) π(a|s)
        self._support = self._weighted > 0
        self._weighted_negentropy = torch.einsum(
            "knsa->kn", torch.where(observed_next > 0, self._weighted * torch.log(observed_next), 0.0))

    def subset(self, pairs) -> "TabularDivergence":
        return TabularDivergence(self.observed_next[pairs], self.state_weights[pairs])

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        """Per pair and agent ``[P, K, N]`` for predicted logits ``[P, K, N, S·A]``.

        ``Σ_s w(s) KL(π(·|s) ‖ q(·|s)) = Σ_s w(s) Σ_a π log π − Σ_{s,a} w(s) π(a|s) log q(a|s)``; states
        with ``w(s) = 0`` do not enter. Equal to :func:`ilola_lib.core.metrics.kl_categorical` averaged.
        """
        shaped = logits.reshape(*logits.shape[:3], *self.observed_next.shape[-2:])
        log_q = torch.log_softmax(shaped, dim=-1)
        cross = torch.where(self._support, self._weighted * log_q, 0.0).sum(dim=(-2, -1))
        return (self._weighted_negentropy - cross).clamp_min(0.0)


def policy_loss(model, divergence, omega: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor:
    """``L`` for a batch: ``omega [P, N, q]``, ``nuisance [P, n_ν]`` → ``[P]``."""
    return divergence(model.predict(omega, nuisance)).mean(dim=(1, 2))


@dataclass
class PolicyFit:
    """Fitted weights (unit per agent), nuisance parameters and the training loss."""

    omega: np.ndarray
    nuisance: np.ndarray
    loss: float
    cma_loss: float | None = None
    generations: int = 0


def _to_torch(array) -> torch.Tensor:
    return torch.as_tensor(np.asarray(array), dtype=torch.float64)


LOG_SCALE_BOUND = 30.0


def _lbfgs(function, x0: np.ndarray, max_iterations: int, num_free: int = 0) -> np.ndarray:
    """Minimise a scalar torch function of a flat vector with L-BFGS-B (exact autograd gradients).

    The first ``num_free`` entries are unbounded; the rest are log scales kept in
    ``[−LOG_SCALE_BOUND, LOG_SCALE_BOUND]`` so that ``exp`` cannot overflow.
    """
    def value_and_grad(x):
        tensor = _to_torch(x).requires_grad_(True)
        value = function(tensor)
        (grad,) = torch.autograd.grad(value, tensor)
        return value.item(), grad.numpy().astype(float)

    if x0.size == 0:
        return x0
    bounds = [(None, None)] * num_free + [(-LOG_SCALE_BOUND, LOG_SCALE_BOUND)] * (x0.size - num_free)
    x0 = np.concatenate([x0[:num_free], np.clip(x0[num_free:], -LOG_SCALE_BOUND, LOG_SCALE_BOUND)])
    result = scipy.optimize.minimize(value_and_grad, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                                     options={"maxiter": max_iterations, "ftol": 1e-13, "gtol": 1e-11})
    return result.x if np.isfinite(result.fun) and result.fun <= value_and_grad(x0)[0] else x0


def fit_nuisance(model, divergence, omega: np.ndarray, nuisance_init: np.ndarray,
                 scale_grid: np.ndarray = np.linspace(-12.0, 12.0, 49),
                 max_iterations: int = 200) -> PolicyFit | list[PolicyFit]:
    """``argmin_ν L(ω, ν)`` for fixed ``ω [N, q]``, or for a population ``ω [P, N, q]`` at once.

    A batched grid over a common shift of the per-agent log scales (the first ``N`` nuisance entries)
    picks each start (the loss is far from convex in the log learning rate), then L-BFGS polishes;
    a population is solved as one separable problem (the sum of its members' losses).
    """
    omega = np.asarray(omega, dtype=float)
    single = omega.ndim == 2
    omegas = omega[None] if single else omega
    population, width = len(omegas), np.size(nuisance_init)
    predict = model.for_weights(_to_torch(omegas))

    def losses(nuisance: torch.Tensor) -> torch.Tensor:
        return divergence(predict(nuisance)).mean(dim=(1, 2))

    start = np.tile(np.asarray(nuisance_init, dtype=float), (population, 1))
    if width:
        shift = np.zeros(width)
        shift[: model.num_agents] = 1.0
        with torch.no_grad():
            grid = torch.stack([losses(_to_torch(start + g * shift)) for g in scale_grid])  # [G, P]
        start = start + scale_grid[grid.argmin(0).numpy()][:, None] * shift
    flat = _lbfgs(lambda x: losses(x.reshape(population, width)).sum(), start.reshape(-1), max_iterations)
    best = flat.reshape(population, width)
    with torch.no_grad():
        values = losses(_to_torch(best)).numpy()
    fits = [PolicyFit(omegas[p], best[p], float(values[p])) for p in range(population)]
    return fits[0] if single else fits


def _decoder(num_agents: int, q: int):
    """``x [P, N·q + n_ν]`` → ``(ω [P, N, q], ν [P, n_ν])``."""
    return lambda x: (x[:, :num_agents * q].reshape(-1, num_agents, q), x[:, num_agents * q:])


def stage_b_objective(model, divergence, num_agents: int, q: int):
    """The CMA-ES objective: ``L`` of a whole population ``x [P, N·q + n_ν]`` in one call → ``[P]``
    (``inf`` where the prediction overflows)."""
    decode = _decoder(num_agents, q)

    def batched(x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            losses = policy_loss(model, divergence, *decode(_to_torch(x))).numpy()
        return np.where(np.isfinite(losses), losses, np.inf)

    return batched


def fit_weights_and_nuisance(model, divergence, omega_init: np.ndarray, nuisance_init: np.ndarray, seed: int,
                             max_generations: int, popsize: int | None = None, sigma0: float = 0.3,
                             polish_iterations: int = 200, nested: PolicyFit | None = None,
                             restarts: int = 0) -> PolicyFit:
    """Stage B: CMA-ES over ``x = [ω_1..ω_N, ν]`` from ``(omega_init, nuisance_init)``, then L-BFGS.

    Each ``ω_i`` is normalised inside the objective; the best candidate ever evaluated is kept. ``nested``
    is the fit of a model this one contains (the η = 0 fit inside LOLA, its ``log η`` at the lower bound):
    it is polished as a second start, and the start with the lower training loss wins, so the larger model
    never fits the training pairs worse than the one it contains. ``restarts`` are IPOP-CMA-ES restarts
    (:func:`~ilola_lib.inverse.cmaes.minimize_batched`).
    """
    num_agents, q = omega_init.shape
    split = num_agents * q
    decode = _decoder(num_agents, q)
    batched = stage_b_objective(model, divergence, num_agents, q)
    unit = omega_init / np.linalg.norm(omega_init, axis=-1, keepdims=True)
    x0 = np.concatenate([unit.reshape(-1), np.asarray(nuisance_init, dtype=float)])
    stds = np.concatenate([np.full(split, 1.0), np.full(len(x0) - split, 3.0)])
    search = minimize_batched(batched, x0, sigma0, seed, max_generations, popsize, stds, restarts=restarts)
    starts = [search.x]
    if nested is not None:
        padding = np.full(model.nuisance_dim - nested.nuisance.size, -LOG_SCALE_BOUND)
        starts.append(np.concatenate([nested.omega.reshape(-1), nested.nuisance, padding]))
    polished = [_lbfgs(lambda x: policy_loss(model, divergence, *decode(x[None]))[0], start, polish_iterations,
                       num_free=split) for start in starts]
    losses = batched(np.array(polished))
    best = polished[int(np.argmin(losses))]
    omega, nuisance = best[:split].reshape(num_agents, q), best[split:]
    omega = omega / np.linalg.norm(omega, axis=-1, keepdims=True)
    return PolicyFit(omega, nuisance, float(losses.min()), cma_loss=search.value, generations=len(search.history))


def held_out_kl(model, divergence, fit: PolicyFit) -> float:
    """``L`` of a fitted ``(ω, ν)`` on the pairs ``model``/``divergence`` hold (the held-out ones)."""
    with torch.no_grad():
        return float(policy_loss(model, divergence, _to_torch(fit.omega)[None], _to_torch(fit.nuisance)[None])[0])
