"""The LOLA-PPO variant's checks: each verdict follows its measured value, paired intervals decide, and a value
without an interval is never a hit."""

from __future__ import annotations

import copy
import math

import pytest

from ilola_lib.analysis.targets import load_targets
from ilola_lib.tasks.t2.coupling import coupling_checks, quoted_numbers, relative_gain, summarize_variant


def interval(mean, low, high):
    return {"mean": mean, "ci95": [low, high]}


def passing_summary() -> dict:
    targets = load_targets().t2_lola
    ilola = {"ef_1a": interval(targets.coupled_ef_1a_min + 0.1, 0, 1),
             "cosine": interval(targets.coupled_cosine_min + 0.01, 0, 1), "eta": interval(2.0, 1.0, 3.0),
             "kl_0": interval(1e-2, 9e-3, 1.1e-2)}
    return {"methods": {"ilola": ilola},
            "paired_kl_1b": {"ilola − ilogel": interval(-2e-3, -3e-3, -1e-3),
                             "ilola − ilola_eta0": interval(-1e-3, -2e-3, -5e-4)},
            "improvement_per_seed": [targets.improvement_over_random_min + 0.05, 0.6],
            "eta_minus_independent": interval(1.9, 1.0, 2.8),
            "eta_independent": interval(1e-10, 0.0, 0.01 * targets.independent_eta_fraction_max)}


def test_every_check_is_met_on_a_summary_that_passes_them_all():
    checks = coupling_checks(passing_summary())
    assert len(checks) == 7 and all(check["met"] for check in checks)
    assert all(isinstance(check["measured"], float) for check in checks)


@pytest.mark.parametrize("path, value, failing", [
    (("improvement_per_seed",), [0.6, 0.1], 0),
    (("methods", "ilola", "ef_1a"), interval(0.2, 0.1, 0.3), 1),
    (("paired_kl_1b", "ilola − ilogel"), interval(-1e-3, -3e-3, 1e-4), 2),
    (("paired_kl_1b", "ilola − ilola_eta0"), interval(1e-3, 5e-4, 2e-3), 3),
    (("methods", "ilola", "cosine"), interval(0.9, 0.8, 0.95), 4),
    (("eta_minus_independent",), interval(0.5, -0.1, 1.1), 5),
    (("eta_independent",), interval(0.1, 0.0, 0.5), 6),
    (("paired_kl_1b", "ilola − ilogel"), {"mean": -1e-3, "ci95": None}, 2),
])
def test_each_check_fails_alone_when_its_own_value_misses(path, value, failing):
    summary = copy.deepcopy(passing_summary())
    node = summary
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    verdicts = [check["met"] for check in coupling_checks(summary)]
    assert verdicts == [index != failing for index in range(7)]


def test_results_pair_by_seed_and_a_missing_seed_is_an_error():
    variant = [[{"seed": 0}, {"seed": 2}]] * 3
    with pytest.raises(ValueError, match="different seeds"):
        summarize_variant(*variant, [{"seed": 0}, {"seed": 1}], [{"seed": 0}, {"seed": 2}], "paper")
    with pytest.raises(ValueError, match="different seeds"):
        summarize_variant(*variant, [{"seed": 2}, {"seed": 0}], [{"seed": 0}, {"seed": 2}], "paper")


def test_quoted_numbers_are_plain_floats_and_a_missing_interval_is_nan():
    summary = passing_summary()
    method = {key: interval(0.5, 0.4, 0.6) for key in ("ef_1a", "explained_fraction", "cosine", "kl_0",
                                                       "induced_normalized", "eta")}
    summary["methods"] = {"ilola": method, "ilola_eta0": method, "ilogel": method}
    summary |= {"lola_norm_ratio": interval(0.2, 0.1, 0.3), "return_minus_independent": {"mean": -2.0, "ci95": None},
                "relative_kl_1b_ilola_vs_eta0": {**interval(-0.1, -0.2, 0.0), "seeds_below_zero": 4, "seeds": 5}}
    quoted = quoted_numbers(summary, 2e-4)
    assert all(type(value) is float for value in quoted.values())
    assert quoted["lola_eta"] == 2e-4 and quoted["lola_gain_eta0_high"] == -5e-4
    assert math.isnan(quoted["lola_return_gap_low"]) and quoted["lola_return_gap"] == -2.0


def test_the_relative_gain_is_per_seed_and_counts_the_seeds_below_zero():
    kls = [(1.0, 2.0), (3.0, 4.0), (5.0, 4.0)]
    metrics = [{"methods": {"a": {"kl_1b": a}, "b": {"kl_1b": b}}} for a, b in kls]
    gain = relative_gain(metrics, "a", "b")
    assert gain["mean"] == pytest.approx((-0.5 - 0.25 + 0.25) / 3)
    assert gain["seeds_below_zero"] == 2 and gain["seeds"] == 3 and gain["ci95"][0] < gain["mean"] < gain["ci95"][1]
