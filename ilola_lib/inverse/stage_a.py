"""I-LOGEL Stage A (design §5.2; Ramponi et al. 2020, LOGEL eq. 6, applied per agent).

    min_{‖ω_i‖ = 1, α_i^k ≥ 0}  Σ_k ‖Δθ_i^k − α_i^k Ψ_i^k ω_i‖²

solved by alternating closed-form steps from several starts.
"""

from __future__ import annotations

import numpy as np


def _step_sizes(deltas: np.ndarray, jacobians: np.ndarray, omega: np.ndarray) -> np.ndarray:
    """``α^k = max(0, ⟨Ψ^k ω, Δθ^k⟩ / ‖Ψ^k ω‖²)`` (projected 1-D least squares), ``[K]``."""
    directions = np.einsum("kdq,q->kd", jacobians, omega)
    squared = (directions**2).sum(-1)
    return np.maximum(0.0, (directions * deltas).sum(-1) / np.maximum(squared, 1e-300))


def _weights_given_steps(deltas: np.ndarray, jacobians: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``ω = argmin Σ_k ‖Δθ^k − α^k Ψ^k ω‖²`` then normalised."""
    design = (steps[:, None, None] * jacobians).reshape(-1, jacobians.shape[-1])
    omega, *_ = np.linalg.lstsq(design, deltas.reshape(-1), rcond=None)
    norm = np.linalg.norm(omega)
    return omega / norm if norm > 0 else omega


def logel_objective(deltas: np.ndarray, jacobians: np.ndarray, omega: np.ndarray, steps: np.ndarray) -> float:
    """``Σ_k ‖Δθ^k − α^k Ψ^k ω‖²``."""
    residual = deltas - steps[:, None] * np.einsum("kdq,q->kd", jacobians, omega)
    return float((residual**2).sum())


def fit_logel(deltas: np.ndarray, jacobians: np.ndarray, rng: np.random.Generator,
              restarts: int = 5, iterations: int = 1000, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray, float]:
    """Fit one agent's ``(ω, α^k)`` from parameter steps ``Δθ [K, d]`` and Jacobians ``Ψ [K, d, q]``.

    Starts: the unconstrained least-squares solution with all ``α^k = 1``, plus ``restarts`` random
    unit vectors. Returns ``(ω [q] with ‖ω‖ = 1, α [K], objective)`` of the best start.
    """
    q = jacobians.shape[-1]
    starts = [_weights_given_steps(deltas, jacobians, np.ones(len(deltas)))]
    starts += [v / np.linalg.norm(v) for v in rng.standard_normal((restarts, q))]
    best = (starts[0], np.ones(len(deltas)), np.inf)
    for omega in starts:
        previous = np.inf
        for _ in range(iterations):
            steps = _step_sizes(deltas, jacobians, omega)
            if not steps.any():
                break
            omega = _weights_given_steps(deltas, jacobians, steps)
            value = logel_objective(deltas, jacobians, omega, _step_sizes(deltas, jacobians, omega))
            if np.isfinite(previous) and previous - value <= tol * previous:
                break
            previous = value
        steps = _step_sizes(deltas, jacobians, omega)
        value = logel_objective(deltas, jacobians, omega, steps)
        if value < best[2]:
            best = (omega, steps, value)
    return best
