"""Metrics (design §6): KL divergences and recovery scores. (Statistics over seeds and episodes — means,
standard errors, confidence intervals — are :mod:`ilola_lib.analysis.statistics`.)"""

from __future__ import annotations

import numpy as np
import torch
from torch.distributions import Normal, kl_divergence


def categorical_kl(log_p, log_q, p=None):
    """``KL(p ‖ q) = Σ_a p(a) (log p(a) − log q(a))`` over the last axis, from log-probabilities.

    Works on torch tensors and numpy arrays alike and broadcasts over leading axes; ``p`` defaults to
    ``exp(log_p)``. This is the artifact's one categorical KL (a test checks it against
    ``torch.distributions.kl_divergence``); it takes log-probabilities because every caller has them.
    """
    if p is None:
        p = log_p.exp() if torch.is_tensor(log_p) else np.exp(log_p)
    return (p * (log_p - log_q)).sum(-1)


def kl_diagonal_gaussian(mean_p: torch.Tensor, std_p: torch.Tensor, mean_q: torch.Tensor,
                         std_q: torch.Tensor) -> torch.Tensor:
    """Closed-form ``KL(N(μ_p, σ_p²) ‖ N(μ_q, σ_q²))`` summed over the last (action) axis.

    Arguments are not validated, so a diverged prediction gives ``inf``/``nan`` for the optimiser to reject
    instead of an exception."""
    return kl_divergence(Normal(mean_p, std_p, validate_args=False),
                         Normal(mean_q, std_q, validate_args=False)).sum(-1)


def cosine(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``cos(ω̂_i, ω_i*)`` per agent for ``[N, q]`` arrays."""
    estimate, truth = np.atleast_2d(estimate), np.atleast_2d(truth)
    return (estimate * truth).sum(-1) / (np.linalg.norm(estimate, axis=-1) * np.linalg.norm(truth, axis=-1))


def pearson_correlation(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """The ``weights``-weighted Pearson correlation ``ρ_w(x, y)`` of two ``[B]`` arrays (``nan`` if either is
    constant)."""
    weights = weights / weights.sum()
    xc, yc = x - weights @ x, y - weights @ y
    return (weights @ (xc * yc)) / np.sqrt((weights @ xc**2) * (weights @ yc**2))


def pearson_distance(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> float:
    """``sqrt((1 − ρ_w(x, y)) / 2)`` with the ``weights``-weighted Pearson correlation ``ρ_w``."""
    rho = pearson_correlation(x, y, weights)
    return float(np.sqrt(max(0.0, (1.0 - rho) / 2.0)))


FIT_RELATIVE_TOLERANCE = 1e-4
"""Relative tolerance to which two L-BFGS fits of the same policy-space loss agree: a KL difference smaller than
this fraction of KL(0) is below the fits' resolution."""


def explained_fraction(kl: float, kl_0: float) -> float:
    """EF = 1 − KL/KL(0): the part of the observed held-out policy change a prediction explains (1: all of it,
    0: no better than predicting no update, negative: worse)."""
    return float(1.0 - kl / kl_0)
