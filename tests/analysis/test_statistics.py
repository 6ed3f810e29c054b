"""The statistics module: ddof=1 standard errors, Student-t, paired and normal intervals, no interval for n < 2."""

import math

import numpy as np
import pytest
import scipy.stats

from ilola_lib.analysis.statistics import (
    CI_FROM_EPISODES,
    Z_95,
    above_zero,
    bootstrap_ci,
    ci_source,
    interval_bounds,
    lies_above,
    mean,
    normal_ci,
    paired_difference,
    paired_kl_sign,
    standard_error,
    standard_error_from_population_std,
    summarize_evaluations,
    t_interval,
)


def test_standard_error_uses_the_sample_standard_deviation():
    values = [1.0, 2.0, 3.0, 4.0]
    # by hand: mean 2.5, squared deviations 2.25 + 0.25 + 0.25 + 2.25 = 5, variance 5 / (4 − 1), SE sqrt(5/3) / 2
    assert standard_error(values) == pytest.approx(math.sqrt(5.0 / 3.0) / 2.0, rel=1e-15)
    assert standard_error(values) != pytest.approx(np.std(values) / 2.0)  # not numpy's default ddof=0
    with pytest.raises(ValueError, match="at least 2"):
        standard_error([1.0])


def test_standard_error_from_a_population_std_equals_the_sample_one():
    values = np.random.default_rng(3).normal(size=30)
    rescaled = standard_error_from_population_std(float(np.std(values)), len(values))
    assert rescaled == pytest.approx(standard_error(values), rel=1e-12)
    with pytest.raises(ValueError):
        standard_error_from_population_std(1.0, 1)


def test_bootstrap_ci_has_no_interval_for_a_single_value():
    assert bootstrap_ci([0.7]) == {"mean": 0.7, "ci95": None}


def test_bootstrap_ci_of_equal_values_is_a_genuine_zero_width_interval():
    assert bootstrap_ci([3.0, 3.0, 3.0]) == {"mean": 3.0, "ci95": [3.0, 3.0]}
    assert bootstrap_ci([0.0, 0.0]) == {"mean": 0.0, "ci95": [0.0, 0.0]}
    assert t_interval([3.0, 3.0, 3.0]) == {"mean": 3.0, "ci95": [3.0, 3.0]} and t_interval([1.0])["ci95"] is None


def test_t_interval_is_the_student_interval_of_the_mean():
    values = np.random.default_rng(0).normal(1.0, 2.0, size=5)
    summary = t_interval(values)
    low, high = summary["ci95"]
    assert summary["mean"] == pytest.approx(values.mean())
    half = scipy.stats.t.ppf(0.975, 4) * values.std(ddof=1) / np.sqrt(5)  # t_{0.975, 4} = 2.776
    assert (low, high) == pytest.approx((values.mean() - half, values.mean() + half), rel=1e-12)


def test_bootstrap_ci_keeps_the_percentile_method():
    values = np.random.default_rng(0).normal(1.0, 2.0, size=5)
    low, high = bootstrap_ci(values)["ci95"]
    expected = scipy.stats.bootstrap((values,), np.mean, confidence_level=0.95, n_resamples=2000,
                                     method="percentile", random_state=np.random.default_rng(0)).confidence_interval
    assert (low, high) == (float(expected.low), float(expected.high))
    assert bootstrap_ci(values) == bootstrap_ci(values)  # deterministic
    with pytest.raises(ValueError, match="non-finite"):
        bootstrap_ci([1.0, float("nan")])


def test_normal_ci_and_mean():
    assert Z_95 == pytest.approx(1.959964, abs=1e-6)
    low, high = normal_ci(-97.0, 0.5)
    assert low == pytest.approx(-97.0 - Z_95 * 0.5) and high == pytest.approx(-97.0 + Z_95 * 0.5)
    assert normal_ci(1.0, None) is None
    assert mean([1.0, 2.0, 6.0]) == 3.0


def test_summarize_evaluations_uses_episodes_for_a_result_evaluated_once():
    once = [{"mean": -97.0, "standard_error": 0.35}] * 3
    summary = summarize_evaluations(once)
    assert summary == {"mean": -97.0, "ci95": normal_ci(-97.0, 0.35), "ci_source": CI_FROM_EPISODES}
    assert ci_source(summary) == "evaluation episodes"
    varying = [{"mean": v, "standard_error": 0.35} for v in (-3.0, -2.0, -7.0)]
    assert summarize_evaluations(varying) == bootstrap_ci([-3.0, -2.0, -7.0])
    assert ci_source(summarize_evaluations(varying)) == "seeds"
    no_spread = summarize_evaluations([{"mean": 1.9}] * 3)
    assert no_spread["ci95"] is None and no_spread["mean"] == 1.9
    assert summarize_evaluations([{"mean": 1.0, "standard_error": 0.1}]) == {"mean": 1.0, "ci95": None}


def test_lies_above_needs_both_intervals():
    assert lies_above({"ci95": [2.0, 3.0]}, {"ci95": [0.0, 1.0]}) is True
    assert lies_above({"ci95": [0.5, 3.0]}, {"ci95": [0.0, 1.0]}) is False
    assert lies_above({"ci95": None}, {"ci95": [0.0, 1.0]}) is None


def test_paired_difference_uses_the_per_seed_differences():
    first, second = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.9, 2.1, 2.7, 3.9])
    difference = paired_difference(first, second)
    assert difference == {**t_interval(first - second), "paired": True}
    # a common per-seed offset cancels: unpaired intervals overlap, the paired one excludes 0
    shifted = paired_difference(first + 0.05, first)
    assert shifted["ci95"] == pytest.approx([0.05, 0.05]) and above_zero(shifted)
    assert above_zero(paired_difference([1.0], [0.5])) is None
    with pytest.raises(ValueError, match="one value per seed"):
        paired_difference([1.0, 2.0], [1.0])


def test_paired_kl_sign_needs_a_difference_beyond_the_resolution_and_an_interval_excluding_zero():
    assert paired_kl_sign({"mean": -2e-3, "ci95": [-3e-3, -1e-3]}, 1e-6) == -1
    assert paired_kl_sign({"mean": 2e-3, "ci95": [1e-3, 3e-3]}, 1e-6) == 1
    assert paired_kl_sign({"mean": 1e-8, "ci95": [3e-9, 2e-8]}, 1e-6) == 0  # excludes 0, within the resolution
    assert paired_kl_sign({"mean": -2e-3, "ci95": [-5e-3, 1e-3]}, 1e-6) == 0
    assert paired_kl_sign({"mean": -2e-3, "ci95": None}, 1e-6) is None


def test_interval_bounds_are_the_interval_or_nan_without_one():
    assert interval_bounds({"mean": 1.0, "ci95": [0.5, 1.5]}) == (0.5, 1.5)
    low, high = interval_bounds({"mean": 1.0, "ci95": None})
    assert math.isnan(low) and math.isnan(high)
