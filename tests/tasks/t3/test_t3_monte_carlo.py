"""The Monte-Carlo-advantage variant against T3: differences pair by seed, equal the per-seed differences' mean and
Student-t interval, and a seed missing on either side is an error."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from ilola_lib.tasks.t3.monte_carlo import differences_from_t3, differences_table

MODELS = ("gpomdp", "surrogate", "surrogate_adam", "replay")


def seed_files(seed: int, shift: float) -> tuple[dict, dict]:
    """One seed's learners and inverse metrics whose every compared value is a known function of seed and shift."""
    learners = {"seed": seed, "return_trained": {"mean": -10.0 + seed + shift, "package_distance": 0.1 * seed}}
    methods = {method: {"cosine": 0.5 + 0.1 * seed + shift / 10, "kl_1a": 1e-3, "kl_1b": (1.0 - shift / 10) * 1e-3,
                        "kl_0": 2e-3} for method in ("ilola", "ilogel")}
    inverse = {"seed": seed, "methods": methods,
               "learner_models": {model: {"ef_1a": 0.1 * index + shift * seed / 10}
                                  for index, model in enumerate(MODELS)}}
    return learners, inverse


def per_seed(seeds, shift):
    return tuple(map(list, zip(*(seed_files(seed, shift) for seed in seeds))))


def test_each_difference_is_the_mean_and_t_interval_of_the_per_seed_differences():
    seeds = [0, 1, 2, 3]
    variant_learners, variant_inverse = per_seed(seeds, shift=1.0)
    t3_learners, t3_inverse = per_seed(seeds, shift=0.0)
    differences = differences_from_t3(variant_learners, variant_inverse, t3_learners, t3_inverse)
    assert differences["learners"]["return"] == {"mean": 1.0, "ci95": [1.0, 1.0], "paired": True}
    assert differences["learners"]["package_distance"]["mean"] == 0.0
    assert differences["methods"]["ilola"]["cosine"]["mean"] == pytest.approx(0.1)
    # EF(1b) = 1 − KL(1b)/KL(0): (1 − 0.45) − (1 − 0.5)
    assert differences["methods"]["ilogel"]["explained_fraction"]["mean"] == pytest.approx(0.05)
    replay = differences["ef_1a"]["replay"]
    per_seed_differences = np.array(seeds) / 10
    half = scipy.stats.t.ppf(0.975, len(seeds) - 1) * per_seed_differences.std(ddof=1) / math.sqrt(len(seeds))
    assert replay["mean"] == pytest.approx(per_seed_differences.mean())
    assert replay["ci95"] == pytest.approx([per_seed_differences.mean() - half, per_seed_differences.mean() + half])
    assert list(differences["ef_1a"]) == list(MODELS)
    table = differences_table({"minus_t3": differences})
    assert len(table.strip().splitlines()) == 2 + 2 + len(MODELS) + 4  # header, learners, models, methods


def test_one_seed_has_no_interval():
    variant_learners, variant_inverse = per_seed([3], shift=1.0)
    t3_learners, t3_inverse = per_seed([3], shift=0.0)
    differences = differences_from_t3(variant_learners, variant_inverse, t3_learners, t3_inverse)
    assert differences["ef_1a"]["replay"]["ci95"] is None


def test_a_seed_missing_on_either_side_is_an_error():
    variant_learners, variant_inverse = per_seed([0, 1, 2], shift=1.0)
    t3_learners, t3_inverse = per_seed([0, 2], shift=0.0)
    with pytest.raises(ValueError, match="different seeds"):
        differences_from_t3(variant_learners, variant_inverse, t3_learners, t3_inverse)
