"""Learner models: the observer's prediction of ``θ^{k+1}`` (or the next policy's logits) from phase ``k``.

Every model maps reward weights ``ω [P, N, q]`` (unit-normalised per agent inside) and nuisance
parameters ``ν [P, n_ν]`` (log learning rates, log η, log scales) to predicted next logits
``[P, K, N, d]`` for the ``K`` update pairs it holds — one batched call for a whole CMA-ES population.

* :class:`GradientLearnerModel` — design §5.2/§5.3: ``θ_i^k + α_i [b_i + Ψ_ii ω_i + η Σ_{j≠i} Σ_mn ω_im ω_jn T_ij^{mn}]``
  with ``ν = (log α_1..log α_N[, log η])``; ``coupled=False`` is the naive (Stage A / η = 0) model; the offset
  ``b`` is zero except in the linearised PPO replay (``Ψ`` its Jacobian in ``ω``, ``b`` its value minus ``Ψ ω₀``).
* :class:`ReplayStepModel` — ``θ_i^k + c_i Δθ_i^k`` for one replayed update ``Δθ`` (a fixed ``ω``), ``ν = log c``.
* :class:`SoftPolicyIterationModel` — design §4/§5.1: ``(c_i Q^φ_i ω_i + Q^H_i)/α`` (the MA-SPI step,
  linear in the reward) with ``ν = (log c_1..log c_N)``.
"""

from __future__ import annotations

import torch


def unit_weights(omega: torch.Tensor) -> torch.Tensor:
    """``ω_i / ‖ω_i‖`` along the last axis."""
    norm = omega.norm(dim=-1, keepdim=True)
    assert bool((norm > 0).all()), "reward weights must be non-zero"
    return omega / norm


class GradientLearnerModel:
    """Naive-gradient or first-order-LOLA learners (design §5.2–5.3).

    Args:
        theta: ``θ^k`` as ``[K, N, d]``.
        jacobians: ``Ψ_ii^k`` as ``[K, N, d, q]`` (already multiplied by any preconditioner).
        lola: ``T_ij^k`` as ``[K, N, N, d, q, q]`` (zero for ``i = j``), required when ``coupled``.
    """

    def __init__(self, theta: torch.Tensor, jacobians: torch.Tensor, lola: torch.Tensor | None = None,
                 coupled: bool = False, offset: torch.Tensor | None = None):
        assert theta.shape == jacobians.shape[:-1], f"θ {tuple(theta.shape)} vs Ψ {tuple(jacobians.shape)}"
        assert not coupled or lola is not None, "the coupled (LOLA) model needs the T tensors"
        assert offset is None or offset.shape == theta.shape, f"offset {tuple(offset.shape)} vs θ {tuple(theta.shape)}"
        self.theta, self.jacobians, self.lola, self.coupled = theta, jacobians, lola, coupled
        self.offset = offset
        self._rows = None
        self.num_agents = theta.shape[1]
        self.nuisance_dim = self.num_agents + int(coupled)

    def subset(self, pairs) -> "GradientLearnerModel":
        lola = None if self.lola is None else self.lola[pairs]
        offset = None if self.offset is None else self.offset[pairs]
        return GradientLearnerModel(self.theta[pairs], self.jacobians[pairs], lola, self.coupled, offset)

    def update_direction(self, omega: torch.Tensor, eta: torch.Tensor | None) -> torch.Tensor:
        """``Ψ_ii ω_i + η Σ_j Σ_mn ω_im ω_jn T_ij^{mn}`` as ``[P, K, N, d]`` for unit ``ω [P, N, q]``."""
        direction = torch.einsum("kidq,piq->pkid", self.jacobians, omega)
        if self.offset is not None:
            direction = direction + self.offset
        if self.coupled:
            num_pairs, num, dim = self.theta.shape
            q = omega.shape[2]
            outer = (omega[:, :, None, :, None] * omega[:, None, :, None, :]).reshape(-1, num, num * q * q)
            # One matrix product per agent over the whole population: a single pass over T.
            coupling = torch.bmm(self._lola_rows(), outer.permute(1, 2, 0))  # [N, K·d, P]
            coupling = coupling.reshape(num, num_pairs, dim, -1).permute(3, 1, 0, 2)
            direction = direction + eta[:, None, None, None] * coupling
        return direction

    def _lola_rows(self) -> torch.Tensor:
        """``T`` laid out as ``[N_i, K·d, N_j·q·q]`` (computed once)."""
        if self._rows is None:
            num_pairs, num, _, dim, q, _ = self.lola.shape
            self._rows = self.lola.permute(1, 0, 3, 2, 4, 5).reshape(num, num_pairs * dim, num * q * q).contiguous()
        return self._rows

    def predict(self, omega: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor:
        omega = unit_weights(omega)
        alpha = torch.exp(nuisance[:, : self.num_agents])
        eta = torch.exp(nuisance[:, self.num_agents]) if self.coupled else None
        return self.theta + alpha[:, None, :, None] * self.update_direction(omega, eta)

    def for_weights(self, omega: torch.Tensor):
        """``predict`` for fixed weights ``ω [P, N, q]``: the ``ω``-dependent directions are computed once
        and the returned function maps nuisance ``[P, n_ν]`` (row p for ``ω[p]``) to logits."""
        omega = unit_weights(omega)
        gradient = torch.einsum("kidq,piq->pkid", self.jacobians, omega)
        if self.offset is not None:
            gradient = gradient + self.offset
        ones = torch.ones(omega.shape[0], dtype=omega.dtype)
        coupling = self.update_direction(omega, ones) - gradient if self.coupled else None

        def predict(nuisance: torch.Tensor) -> torch.Tensor:
            alpha = torch.exp(nuisance[:, : self.num_agents])[:, None, :, None]
            if not self.coupled:
                return self.theta + alpha * gradient
            eta = torch.exp(nuisance[:, self.num_agents])[:, None, None, None]
            return self.theta + alpha * (gradient + eta * coupling)

        return predict


class ReplayStepModel:
    """``θ_i^k + c_i Δθ_i^k``: updates ``Δθ [K, N, d]`` replayed for one fixed ``ω``, scaled per agent
    (``ν = (log c_1..log c_N)``); the prediction does not depend on the ``ω`` it is given."""

    def __init__(self, theta: torch.Tensor, steps: torch.Tensor):
        assert theta.shape == steps.shape, f"θ {tuple(theta.shape)} vs Δθ {tuple(steps.shape)}"
        self.theta, self.steps = theta, steps
        self.num_agents = theta.shape[1]
        self.nuisance_dim = self.num_agents

    def subset(self, pairs) -> "ReplayStepModel":
        return ReplayStepModel(self.theta[pairs], self.steps[pairs])

    def predict(self, omega: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor:
        return self.for_weights(omega)(nuisance)

    def for_weights(self, omega: torch.Tensor):
        return lambda nuisance: self.theta + torch.exp(nuisance)[:, None, :, None] * self.steps


class SoftPolicyIterationModel:
    """MA-SPI learners: ``logits_i^{k+1} = (c_i Q^φ_i(π^k) ω_i + b_i Q^H_i(π^k)) / α``.

    Nuisance: ``log c_i`` per agent, and ``log b_i`` per agent if ``fit_entropy_scale`` (the learners'
    temperature relative to ``α`` is then unknown too); otherwise ``b_i = 1``.

    Args:
        feature_q: soft-evaluation feature Q-values ``[K, N, d, q]`` (own action, other marginalised).
        entropy_q: the entropy-bonus part ``[K, N, d]`` (``α`` times the entropy's Q-value).
        alpha: the learners' temperature.
    """

    def __init__(self, feature_q: torch.Tensor, entropy_q: torch.Tensor, alpha: float,
                 fit_entropy_scale: bool = False):
        self.feature_q, self.entropy_q, self.alpha = feature_q, entropy_q, alpha
        self.fit_entropy_scale = fit_entropy_scale
        self.num_agents = feature_q.shape[1]
        self.nuisance_dim = self.num_agents * (2 if fit_entropy_scale else 1)

    def subset(self, pairs) -> "SoftPolicyIterationModel":
        return SoftPolicyIterationModel(self.feature_q[pairs], self.entropy_q[pairs], self.alpha,
                                        self.fit_entropy_scale)

    def predict(self, omega: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor:
        return self.for_weights(omega)(nuisance)

    def for_weights(self, omega: torch.Tensor):
        """``predict`` for fixed ``ω [P, N, q]`` (``Q^φ ω`` computed once)."""
        reward_q = torch.einsum("kidq,piq->pkid", self.feature_q, unit_weights(omega))
        n = self.num_agents

        def predict(nuisance: torch.Tensor) -> torch.Tensor:
            entropy_scale = torch.exp(nuisance[:, n:])[:, None, :, None] if self.fit_entropy_scale else 1.0
            return (torch.exp(nuisance[:, :n])[:, None, :, None] * reward_q + entropy_scale * self.entropy_q) / self.alpha

        return predict


class NoUpdateModel:
    """``π^{k+1}`` predicted by ``π^k`` (the KL(0) floor): ``θ^k`` whatever ``ω``."""

    nuisance_dim = 0

    def __init__(self, theta: torch.Tensor):
        self.theta = theta
        self.num_agents = theta.shape[1]

    def subset(self, pairs) -> "NoUpdateModel":
        return NoUpdateModel(self.theta[pairs])

    def predict(self, omega: torch.Tensor, nuisance: torch.Tensor) -> torch.Tensor:
        return self.theta.expand(omega.shape[0], *self.theta.shape)

    def for_weights(self, omega: torch.Tensor):
        return lambda nuisance: self.theta.expand(nuisance.shape[0], *self.theta.shape)
