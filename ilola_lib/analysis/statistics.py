"""The artifact's one statistics module: means, standard errors and 95% confidence intervals.

Two kinds of spread are reported, and every summary says which one its interval measures:

* **over seeds** — :func:`bootstrap_ci`, the percentile bootstrap of the mean over seeds (design §6), for single
  quantities; values that pair by seed (KL(0) and KL(1b) of one run, two methods on one trace) are compared
  through the Student-t interval of their per-seed differences, :func:`paired_difference` (a t-interval: with
  5 seeds a percentile bootstrap cannot be wider than the range of the values and under-covers);
* **over evaluation episodes** — :func:`normal_ci`, the normal interval ``mean ± z·SE`` from the standard
  error of a mean return over evaluation episodes. A baseline evaluated once (the same numbers in every seed)
  has no spread over seeds; its interval comes from its episodes (:func:`summarize_evaluations`).

Rules:

* standard errors use the sample standard deviation (``ddof=1``) everywhere;
* with fewer than 2 values there is **no** interval: ``"ci95": None`` in JSON, "—" in tables and no error bar in
  figures. A zero-width interval never stands in for a spread that was not measured;
* with 2 or more values that are all equal, the interval is genuinely zero-width and is stored as
  ``[mean, mean]``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.stats

from ilola_lib.core.metrics import FIT_RELATIVE_TOLERANCE

CONFIDENCE = 0.95
# Two-sided 95% quantile of the standard normal distribution, 1.959963984540054.
Z_95 = float(scipy.stats.norm.ppf(0.5 + CONFIDENCE / 2))
# Bootstrap settings: the percentile method with 2000 resamples from a seeded generator (deterministic
# output; the seed is the same for every quantity, so re-running gives byte-identical summaries).
BOOTSTRAP_METHOD = "percentile"
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
CI_FROM_SEEDS = "seeds"
CI_FROM_EPISODES = "evaluation episodes"
NO_CI_ONE_EVALUATION = "none: one evaluation, its per-episode spread is not recorded"


def _finite(values) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.ndim != 1:
        raise ValueError(f"expected a 1-D sequence of values, got shape {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"non-finite values cannot be summarised: {values}")
    return values


def mean(values) -> float:
    """The arithmetic mean of a non-empty 1-D sequence of finite values."""
    values = _finite(values)
    if len(values) == 0:
        raise ValueError("the mean of no values is undefined")
    return float(values.mean())


def standard_error(values) -> float:
    """Standard error of the mean, ``std(values, ddof=1) / sqrt(n)``; needs at least 2 values."""
    values = _finite(values)
    if len(values) < 2:
        raise ValueError(f"a standard error needs at least 2 values, got {len(values)}")
    return float(values.std(ddof=1) / np.sqrt(len(values)))


def standard_error_from_population_std(std: float, n: int) -> float:
    """The ``ddof=1`` standard error of a mean of ``n`` values from their ``ddof=0`` standard deviation ``std``
    (what ``numpy.std`` returns by default): ``std · sqrt(n/(n−1)) / sqrt(n)``, equal to
    :func:`standard_error` of the values up to round-off."""
    if n < 2:
        raise ValueError(f"a standard error needs at least 2 values, got {n}")
    return float(std * np.sqrt(n / (n - 1)) / np.sqrt(n))


def normal_ci(mean: float, se: float | None, confidence: float = CONFIDENCE) -> list[float] | None:
    """``[mean − z·se, mean + z·se]``, the normal interval of a mean with standard error ``se``
    (``None`` when ``se`` is ``None``: no interval)."""
    if se is None:
        return None
    if not (np.isfinite(mean) and np.isfinite(se) and se >= 0):
        raise ValueError(f"a normal interval needs a finite mean and a finite se ≥ 0, got {mean}, {se}")
    z = Z_95 if confidence == CONFIDENCE else float(scipy.stats.norm.ppf(0.5 + confidence / 2))
    return [float(mean - z * se), float(mean + z * se)]


def bootstrap_ci(values, confidence: float = CONFIDENCE, seed: int = BOOTSTRAP_SEED) -> dict:
    """Mean and 95% bootstrap CI of ``values`` (one value per seed) as ``{"mean", "ci95"}``.

    ``scipy.stats.bootstrap`` of the mean, percentile method, :data:`BOOTSTRAP_RESAMPLES` resamples, random
    state ``numpy.random.default_rng(seed)``. With fewer than 2 values there is no interval (``"ci95": None``).
    With 2 or more equal values the interval is genuinely zero-width, ``[mean, mean]`` (never scipy's ``nan``).
    """
    values = _finite(values)
    center = mean(values)
    if len(values) < 2:
        return {"mean": center, "ci95": None}
    if np.all(values == values[0]):
        return {"mean": center, "ci95": [center, center]}
    result = scipy.stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=BOOTSTRAP_RESAMPLES,
                                   method=BOOTSTRAP_METHOD, random_state=np.random.default_rng(seed))
    low, high = result.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):
        low = high = center
    return {"mean": center, "ci95": [float(low), float(high)]}


def t_interval(values, confidence: float = CONFIDENCE) -> dict:
    """Mean and Student-t interval of ``values`` (one value per seed) as ``{"mean", "ci95"}``:
    ``mean ± t_{n−1, (1+confidence)/2} · std(values, ddof=1)/sqrt(n)``.

    With fewer than 2 values there is no interval (``"ci95": None``); equal values give ``[mean, mean]``.
    """
    values = _finite(values)
    center = mean(values)
    if len(values) < 2:
        return {"mean": center, "ci95": None}
    half_width = float(scipy.stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * standard_error(values))
    return {"mean": center, "ci95": [center - half_width, center + half_width]}


def paired_difference(first, second, confidence: float = CONFIDENCE) -> dict:
    """``first − second`` for values that pair by seed: the mean per-seed difference and its Student-t interval
    (:func:`t_interval` of the differences), ``{"mean", "ci95", "paired": True}``."""
    first, second = _finite(first), _finite(second)
    if first.shape != second.shape:
        raise ValueError(f"paired values need one value per seed on both sides, got {first.shape} and {second.shape}")
    return {**t_interval(first - second, confidence), "paired": True}


def interval_bounds(summary: dict) -> tuple[float, float]:
    """The 95% interval ``(low, high)`` of ``summary`` (``{"mean", "ci95"}``), or ``(nan, nan)`` when it has none
    (fewer than 2 seeds): for prose that quotes both bounds."""
    return (float("nan"), float("nan")) if summary.get("ci95") is None else tuple(summary["ci95"])


def above_zero(summary: dict) -> bool | None:
    """Whether the 95% interval of ``summary`` lies wholly above 0; ``None`` when it has no interval."""
    if summary.get("ci95") is None:
        return None
    return bool(summary["ci95"][0] > 0)


def fit_resolution(kl_0: float) -> float:
    """The smallest KL(1b) difference two policy-space fits resolve: ``FIT_RELATIVE_TOLERANCE`` × KL(0)."""
    return FIT_RELATIVE_TOLERANCE * kl_0


def paired_kl_sign(difference: dict, resolution: float) -> int | None:
    """The verdict on a paired KL difference ``{"mean", "ci95"}``: −1 (first lower) or +1 (first higher) when its
    mean exceeds ``resolution`` and its 95% interval excludes 0, else 0 (indistinguishable); ``None`` without an
    interval."""
    if difference.get("ci95") is None:
        return None
    low, high = difference["ci95"]
    if abs(difference["mean"]) <= resolution or low <= 0 <= high:
        return 0
    return -1 if high < 0 else 1


def _same_in_every_seed(entries: Sequence[dict]) -> bool:
    return len(entries) >= 2 and all(e.get("mean") == entries[0].get("mean")
                                      and e.get("standard_error") == entries[0].get("standard_error")
                                      for e in entries[1:])


def summarize_evaluations(entries: Sequence[dict]) -> dict:
    """Summary over seeds of one policy's evaluation results ``{"mean", "standard_error"?}`` (one per seed).

    Results that differ between seeds get the bootstrap CI over seeds (:func:`bootstrap_ci`). A result that is
    the same in every seed was evaluated once (a baseline that does not depend on the seed): seeds add no
    information, so its interval is the normal one from its evaluation-episode standard error,
    ``{"mean", "ci95": normal_ci(mean, se), "ci_source": "evaluation episodes"}`` — or no interval when the
    result carries no standard error. With a single seed nothing tells a baseline from a seed-dependent policy,
    and there is no interval (:func:`bootstrap_ci` of one value).
    """
    entries = list(entries)
    if not _same_in_every_seed(entries):
        return bootstrap_ci([e["mean"] for e in entries])
    first = entries[0]
    se = first.get("standard_error")
    if se is None:
        return {"mean": float(first["mean"]), "ci95": None, "ci_source": NO_CI_ONE_EVALUATION}
    return {"mean": float(first["mean"]), "ci95": normal_ci(first["mean"], se), "ci_source": CI_FROM_EPISODES}


def ci_source(summary: dict) -> str:
    """What the interval of ``summary`` measures: :data:`CI_FROM_SEEDS` unless the summary says otherwise."""
    return summary.get("ci_source", CI_FROM_SEEDS)


def lies_above(upper: dict, lower: dict) -> bool | None:
    """Whether the 95% interval of ``upper`` lies wholly above that of ``lower`` (disjoint intervals);
    ``None`` when either has no interval."""
    if upper.get("ci95") is None or lower.get("ci95") is None:
        return None
    return bool(upper["ci95"][0] > lower["ci95"][1])
