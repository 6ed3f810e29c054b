"""The induced return's normalisation, shared trainings and noise floor (exact arithmetic)."""

import numpy as np
import pytest

from ilola_lib.analysis import reports
from ilola_lib.analysis.induced import (
    RESOLUTION_SDS,
    SAME_REWARD_TOLERANCE,
    noise_floor,
    normalised_induced,
    replication_label,
    resolved,
    seed_trainings,
    shared_trainings,
)
from ilola_lib.core.seeds import replication_training_seed

UNIT = np.array([[0.6, 0.8], [1.0, 0.0]])
OTHER = np.array([[0.8, 0.6], [0.0, 1.0]])


def test_equal_recovered_rewards_are_trained_once():
    nearly = UNIT + SAME_REWARD_TOLERANCE / 10
    trained_as = shared_trainings({"ilola": UNIT, "ilola_eta0": nearly, "ilogel": OTHER,
                                   "ma_lfl": UNIT + 10 * SAME_REWARD_TOLERANCE})
    assert trained_as == {"ilola": "ilola", "ilola_eta0": "ilola", "ilogel": "ilogel", "ma_lfl": "ma_lfl"}


def test_a_seed_trains_each_distinct_reward_and_the_true_reward_replications():
    inverse = {"true_weights": (2 * UNIT).tolist(),
               "methods": {"ilola": {"weights": OTHER.tolist()}, "ilola_eta0": {"weights": OTHER.tolist()},
                           "ilogel": {"weights": UNIT.tolist()}}}
    jobs, trained_as = seed_trainings(7, inverse, ("ilola", "ilola_eta0", "ilogel"), true_reward_trainings=3)
    assert [label for label, _, _ in jobs] == ["ilola", "ilogel", replication_label(1), replication_label(2)]
    assert [seed for _, seed, _ in jobs[:2]] == [7, 7]
    replication_seeds = [seed for _, seed, _ in jobs[2:]]
    assert len(set(replication_seeds)) == 2 and 7 not in replication_seeds
    assert replication_seeds == [replication_training_seed(7, 1), replication_training_seed(7, 2)]
    np.testing.assert_allclose(jobs[0][2], 2 * OTHER)  # rescaled to ‖ω*_i‖ = 2
    np.testing.assert_allclose(jobs[2][2], 2 * UNIT)
    assert trained_as["ilola_eta0"] == "ilola"
    with pytest.raises(ValueError, match="replication 0"):
        replication_training_seed(7, 0)


def test_normalisation_uses_the_mean_of_the_true_reward_trainings():
    learners = {"return_trained": {"mean": -10.0}, "return_random": {"mean": -30.0}, "return_noop": {"mean": -20.0}}
    results = {"ilola": {"return": {"mean": -15.0}}, "ilogel": {"return": {"mean": -20.0}},
               replication_label(1): {"return": {"mean": -8.0}}, replication_label(2): {"return": {"mean": -12.0}}}
    metrics = normalised_induced("t2", 3, results, learners, ("random", "noop"),
                                 {"ilola": "ilola", "ilola_eta0": "ilola", "ilogel": "ilogel"})
    assert metrics["return_true"] == pytest.approx(-10.0) and metrics["return_floor"] == -20.0
    assert metrics["return_true_trainings"] == [-10.0, -8.0, -12.0]
    assert metrics["true_reward_normalized"] == pytest.approx([1.0, 1.2, 0.8])
    assert metrics["training_sd"] == pytest.approx(0.2)
    assert metrics["methods"]["ilola"]["induced_normalized"] == pytest.approx(0.5)
    assert metrics["methods"]["ilola_eta0"]["induced_normalized"] == pytest.approx(0.5)
    assert metrics["methods"]["ilola_eta0"]["trained_as"] == "ilola"
    assert metrics["methods"]["ilogel"]["induced_normalized"] == pytest.approx(0.0)


def test_the_noise_floor_pools_the_per_seed_variances():
    floor = noise_floor([{"training_sd": 0.3, "return_true_trainings": [0, 0, 0]},
                         {"training_sd": 0.4, "return_true_trainings": [0, 0, 0]}])
    sigma = np.sqrt((0.09 + 0.16) / 2)
    assert floor["training_sd"] == pytest.approx(sigma) and floor["trainings_per_seed"] == 3
    assert floor["mean_resolution"] == pytest.approx(RESOLUTION_SDS * sigma / np.sqrt(2))
    assert floor["difference_resolution"] == pytest.approx(RESOLUTION_SDS * sigma)
    assert resolved(0.31, 0.3) and not resolved(-0.29, 0.3)
    # glue quotes these in the book, which formats only plain Python numbers (repr of np.float64 is not one)
    assert all(type(floor[key]) is float for key in ("training_sd", "mean_resolution", "difference_resolution"))


def _summary(ilola: float, ilogel: float, difference: float, sigma: float = 0.1, seeds: int = 5) -> dict:
    floor = {"training_sd": sigma, "trainings_per_seed": 3, "mean_resolution": 2 * sigma / np.sqrt(seeds),
             "difference_resolution": 2 * sigma * np.sqrt(2 / seeds)}
    return {"induced": {"noise_floor": floor, "return_true": {"mean": -10.0, "ci95": [-12.0, -8.0]},
                        "return_floor": {"mean": -20.0, "ci95": None}},
            "methods": {"ilola": {"induced_normalized": {"mean": ilola, "ci95": [ilola - 0.1, ilola + 0.1]}},
                        "ilogel": {"induced_normalized": {"mean": ilogel, "ci95": [ilogel - 0.1, ilogel + 0.1]}},
                        "ilola_gpomdp": {"cosine": {"mean": 0.5, "ci95": None}}},
            "paired_induced": {"ilola − ilogel": {"mean": difference, "ci95": [difference - 0.1, difference + 0.1]}}}


def test_differences_below_the_noise_floor_are_called_indistinguishable():
    table = reports.induced_comparison(_summary(0.98, 0.90, 0.08))  # resolution 2·0.1·√(2/5) ≈ 0.126
    assert "indistinguishable from the true reward" in table and "indistinguishable from `ilola`" in table
    assert "ilola_gpomdp" not in table
    table = reports.induced_comparison(_summary(0.95, 0.40, 0.55))
    assert "`ilola` higher" in table and "below the true reward" in table


def test_a_difference_above_the_floor_whose_interval_contains_zero_is_no_clear_difference():
    summary = _summary(0.95, 0.70, 0.25)
    summary["paired_induced"]["ilola − ilogel"]["ci95"] = [-0.05, 0.55]
    summary["methods"]["ilogel"]["induced_normalized"]["ci95"] = [0.2, 1.2]
    table = reports.induced_comparison(summary)
    assert "no clear difference from `ilola` (the paired 95% CI includes 0)" in table
    assert "no clear difference from the true reward (its 95% CI includes 1)" in table
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert not any(word in row for row in rows for word in ("higher", "lower", "below", "above"))


def test_an_induced_target_missed_by_less_than_the_floor_says_so():
    from ilola_lib.analysis.targets import load_targets
    targets = load_targets().t2.ilola
    summary = _summary(targets.induced_normalized_min - 0.01, 0.5, 0.3)
    summary["methods"]["ilola"].update({"ef_1a": {"mean": 0.7}, "explained_fraction": {"mean": 0.7},
                                        "cosine": {"mean": 0.99}})
    check = reports.target_checks(summary, targets)[-1]
    assert not check["met"] and check["within_noise_floor"]
    assert "**missed** (within the noise floor)" in reports.checks_markdown([check])
