"""Baselines evaluated once carry the CI of their evaluation episodes, and comparisons with them use it."""

import numpy as np
import pytest

from ilola_lib.analysis.reports import induced_normalisers
from ilola_lib.analysis.statistics import bootstrap_ci, normal_ci, standard_error
from ilola_lib.tasks.t2 import learn as t2_learn
from ilola_lib.tasks.t2 import report as t2_report
from ilola_lib.tasks.t3 import learn as t3_learn
from ilola_lib.tasks.t3 import report as t3_report
from ilola_lib.tasks.t3.multiwalker import PolicyBaseline

SEEDS = [0, 1, 2, 3, 4]
TRAINED = [-3.6, -1.9, -7.1, 0.3, -1.7]
RANDOM = {"mean": -94.45, "standard_error": 5.39, "package_distance": 0.14, "episode_length": 72.4}
STILL = {"mean": -97.17, "standard_error": 0.35, "package_distance": 1.89, "episode_length": 110.5}


def t3_learners() -> list[dict]:
    """Per-seed T3 learner metrics: trained walkers vary by seed, both baselines were evaluated once."""
    return [{"seed": seed, "return_trained": {"mean": value, "standard_error": 3.0,
                                              "package_distance": 0.2 + value / 100, "episode_length": 148.0},
             "return_random": dict(RANDOM), "return_stand_still": dict(STILL), "beats_stand_still": True}
            for seed, value in zip(SEEDS, TRAINED)]


def test_t3_evaluation_standard_error_is_the_sample_one():
    returns = np.random.default_rng(1).normal(-90.0, 10.0, size=30)
    result = PolicyBaseline(policy="random", n_episodes=30, mean_walker_return=float(returns.mean()),
                            std_walker_return=float(np.std(returns)), mean_package_distance=0.1,
                            mean_episode_length=70.0, env_steps=2100, env_steps_per_second=1.0)
    assert t3_learn.summarize_evaluation(result)["standard_error"] == pytest.approx(standard_error(returns), rel=1e-12)


def test_t3_baselines_use_their_episode_standard_error_and_trained_walkers_the_seeds():
    summary = t3_learn.summarize_learners(t3_learners(), "paper")
    learners = summary["learners"]
    assert learners["return_trained"] == bootstrap_ci(TRAINED)
    for key, baseline in (("return_random", RANDOM), ("return_stand_still", STILL)):
        interval = normal_ci(baseline["mean"], baseline["standard_error"])
        assert learners[key] == {"mean": baseline["mean"], "ci95": interval, "ci_source": "evaluation episodes"}
        assert learners[key]["ci95"][1] - learners[key]["ci95"][0] > 0, "not the fake zero-width CI over seeds"
        assert summary["package_distance"][key]["ci95"] is None  # evaluated once, per-episode spread not recorded
    assert summary["package_distance"]["return_trained"]["ci95"] is not None
    assert summary["ci_disjoint_across_seeds"] is True


def test_t3_stand_still_comparison_uses_the_episode_interval():
    learner_metrics = t3_learners()
    summary = {"learners": t3_learn.summarize_learners(learner_metrics, "paper")["learners"],
               "beats_stand_still_every_seed": True,
               "methods": {"ilola": {"kl_1b": {"mean": 1.0, "ci95": [0.9, 1.1]},
                                     "cosine": {"mean": 0.5, "ci95": [0.4, 0.6]},
                                     "explained_fraction": {"mean": 0.1, "ci95": [0.05, 0.2]}}}}
    across = t3_report.t3_target_checks(summary)[1]
    assert "over evaluation episodes" in across["target"] and "trained (over seeds)" in across["target"]
    assert across["threshold"] == pytest.approx(STILL["mean"] + 1.959964 * STILL["standard_error"], abs=1e-5)
    assert across["measured"] == summary["learners"]["return_trained"]["ci95"][0] and across["met"]


def test_induced_floor_evaluated_once_carries_its_episode_interval():
    learner_metrics = t3_learners()
    induced = [{"seed": m["seed"], "return_true": m["return_trained"]["mean"], "return_floor": RANDOM["mean"],
                "return_true_trainings": [m["return_trained"]["mean"]] * 2, "training_sd": 0.1} for m in learner_metrics]
    normalisers = induced_normalisers(learner_metrics, induced, t3_learn.BASELINES)
    assert normalisers["return_floor"]["ci95"] == normal_ci(RANDOM["mean"], RANDOM["standard_error"])
    assert normalisers["return_floor"]["ci_source"] == "evaluation episodes"
    assert normalisers["return_true"] == bootstrap_ci(TRAINED)
    induced[2]["return_floor"] = -50.0
    with pytest.raises(ValueError, match="R_floor"):
        induced_normalisers(learner_metrics, induced, t3_learn.BASELINES)


def test_t2_no_op_is_the_same_in_every_seed_and_uniform_random_is_not():
    noop = {"mean": -26.07, "standard_error": 0.83}
    seed_metrics = [{"task": "t2", "seed": seed, "return_trained": {"mean": -13.0 - seed / 10, "standard_error": 0.4},
                     "return_random": {"mean": -28.0 - seed / 5, "standard_error": 0.8}, "return_noop": dict(noop),
                     "improvement_over_random": 0.5} for seed in SEEDS]
    learners = t2_learn.summarize_learners(seed_metrics, "paper")["learners"]
    assert learners["return_noop"] == {"mean": noop["mean"], "ci95": normal_ci(noop["mean"], noop["standard_error"]),
                                       "ci_source": "evaluation episodes"}
    assert learners["return_random"] == bootstrap_ci([m["return_random"]["mean"] for m in seed_metrics])
    induced = [{"seed": seed, "return_true": m["return_trained"]["mean"], "return_floor": noop["mean"],
                "return_true_trainings": [m["return_trained"]["mean"]] * 2, "training_sd": 0.1}
               for seed, m in zip(SEEDS, seed_metrics)]
    floor = induced_normalisers(seed_metrics, induced, t2_report.TRIVIAL_POLICIES)["return_floor"]
    assert floor == learners["return_noop"]
