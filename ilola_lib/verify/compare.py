"""Does a regeneration agree with the committed results? One rule per metric, stated and tested.

* **Exact** — T1's assumption-matched cases (MA-LfL on exact policies, Stage A on naive-gradient
  learners, Stage B on LOLA learners) are closed-form or converge to their optimum: every seed must
  agree within ``|a − b| ≤ atol + rtol·max(|a|, |b|)`` (float round-off amplified by the fits; the atol
  per kind of metric is in :data:`EXACT_ATOL`).
* **Statistical** — everything else depends on training runs or black-box fits whose trajectories
  diverge from the first differing bit, so only the distribution over seeds can be compared: a Welch
  two-sample t-test of the per-seed values (committed vs regenerated), with Holm's step-down correction
  over all statistical metrics at family level ``alpha`` (default 0.05: a faithful regeneration fails
  ``verify`` with probability at most 5%). The "tolerance" shown is the difference of means the test
  would flag at the Bonferroni level, i.e. its resolution with this many seeds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.stats

EXACT_METHODS = {"t1": ("ma_lfl_exact", "ilogel_matched_pg", "ilola_matched_lola")}
EXACT_ATOL = {"kl_1a": 1e-9, "kl_1b": 1e-9, "kl_0": 1e-9, "cosine": 1e-6, "ef_1a": 1e-6, "ef_1b": 1e-6,
              "epic": 1e-4}
EXACT_RTOL = 1e-6
FAMILY_ALPHA = 0.05


@dataclass
class Comparison:
    """One metric: committed and regenerated per-seed values, the rule applied and its verdict."""

    task: str
    metric: str
    committed: dict[int, float]
    regenerated: dict[int, float]
    rule: str = "statistical"
    p_value: float | None = None
    tolerance: float | None = None
    agree: bool | None = None
    reason: str = ""

    @property
    def committed_mean(self) -> float:
        return float(np.mean(list(self.committed.values()))) if self.committed else float("nan")

    @property
    def regenerated_mean(self) -> float:
        return float(np.mean(list(self.regenerated.values()))) if self.regenerated else float("nan")


def is_exact(task: str, metric: str) -> bool:
    """Whether ``metric`` (``"method/key"``) of ``task`` is compared exactly."""
    method, _, key = metric.partition("/")
    return method in EXACT_METHODS.get(task, ()) and key in EXACT_ATOL


def exact_agreement(comparison: Comparison) -> None:
    """Every seed within ``atol + rtol·max(|a|, |b|)``."""
    atol = EXACT_ATOL[comparison.metric.partition("/")[2]]
    excess = {s: abs(comparison.committed[s] - comparison.regenerated[s])
              - EXACT_RTOL * max(abs(comparison.committed[s]), abs(comparison.regenerated[s])) - atol
              for s in comparison.committed}
    worst = max(excess, key=excess.get)
    comparison.rule, comparison.tolerance = "exact", atol
    comparison.agree = bool(excess[worst] <= 0)
    comparison.reason = "" if comparison.agree else (
        f"seed {worst}: {comparison.committed[worst]:.6g} vs {comparison.regenerated[worst]:.6g}")


def welch(committed: np.ndarray, regenerated: np.ndarray, level: float) -> tuple[float, float]:
    """Two-sided Welch p-value, and the difference of means it would flag at ``level`` (its resolution).

    With no spread on either side the means must be equal to round-off: p is 1 if they are, else 0."""
    if committed.mean() == regenerated.mean() and np.array_equal(np.sort(committed), np.sort(regenerated)):
        return 1.0, 0.0
    se = np.sqrt(committed.var(ddof=1) / len(committed) + regenerated.var(ddof=1) / len(regenerated))
    difference = abs(committed.mean() - regenerated.mean())
    if se == 0:
        equal = difference <= 1e-12 * max(abs(committed.mean()), abs(regenerated.mean()), 1.0)
        return (1.0 if equal else 0.0), 0.0
    with warnings.catch_warnings():  # nearly equal samples: scipy warns about precision, the p-value is still right
        warnings.simplefilter("ignore", RuntimeWarning)
        result = scipy.stats.ttest_ind(committed, regenerated, equal_var=False)
    numerator = (committed.var(ddof=1) / len(committed) + regenerated.var(ddof=1) / len(regenerated)) ** 2
    denominator = ((committed.var(ddof=1) / len(committed)) ** 2 / (len(committed) - 1)
                   + (regenerated.var(ddof=1) / len(regenerated)) ** 2 / (len(regenerated) - 1))
    dof = numerator / denominator if denominator > 0 else len(committed) + len(regenerated) - 2
    return float(result.pvalue), float(scipy.stats.t.ppf(1 - level / 2, dof) * se)


def holm(p_values: list[float], alpha: float) -> list[bool]:
    """Holm's step-down test: which hypotheses ("the two sources agree") are *not* rejected."""
    order = np.argsort(p_values)
    keep = [True] * len(p_values)
    for rank, index in enumerate(order):
        if p_values[index] <= alpha / (len(p_values) - rank):
            keep[index] = False
        else:
            break
    return keep


def compare(committed: dict, regenerated: dict, alpha: float = FAMILY_ALPHA) -> list[Comparison]:
    """Every metric of either source judged by its rule (see the module docstring).

    ``committed`` and ``regenerated`` map ``(task, metric)`` to ``{seed: value}``. A metric present on one
    side only, or with different seeds, disagrees.
    """
    comparisons, statistical = [], []
    for task, metric in sorted(set(committed) | set(regenerated)):
        comparison = Comparison(task, metric, committed.get((task, metric), {}), regenerated.get((task, metric), {}))
        comparisons.append(comparison)
        if set(comparison.committed) != set(comparison.regenerated):
            comparison.agree, comparison.rule = False, "seeds"
            comparison.reason = (f"seeds differ: committed {sorted(comparison.committed)}, "
                                 f"regenerated {sorted(comparison.regenerated)}")
        elif is_exact(task, metric):
            exact_agreement(comparison)
        elif len(comparison.committed) < 2:
            comparison.rule, comparison.agree = "statistical", None
            comparison.reason = "one seed: no test possible"
        else:
            statistical.append(comparison)
    bonferroni = alpha / max(len(statistical), 1)
    for comparison in statistical:
        seeds = sorted(comparison.committed)
        comparison.p_value, comparison.tolerance = welch(np.array([comparison.committed[s] for s in seeds]),
                                                         np.array([comparison.regenerated[s] for s in seeds]),
                                                         bonferroni)
    for comparison, keep in zip(statistical, holm([c.p_value for c in statistical], alpha)):
        comparison.agree = keep
        comparison.reason = "" if keep else f"Welch p = {comparison.p_value:.2g} rejected (Holm, α = {alpha:g})"
    return comparisons
