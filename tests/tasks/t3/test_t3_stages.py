"""T3 on tiny Gaussian-PPO traces: learner metrics, inversion with closed-form and Monte-Carlo KLs, report."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from ilola_lib.analysis.induced import normalised_induced, replication_label
from ilola_lib.analysis.summary import KL_KEYS
from ilola_lib.core.io import read_json
from ilola_lib.core.neural_trace import load_neural_trace
from ilola_lib.inverse import trace_inversion
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t3 import invert as t3_inverse
from ilola_lib.tasks.t3 import learn as t3
from ilola_lib.tasks.t3 import report as t3_report
from ilola_lib.tasks.t3 import warm_up

pytestmark = pytest.mark.filterwarnings("ignore:The old environment creation API:DeprecationWarning")

PAPER_T3 = load_params(Path(__file__).resolve().parents[3] / "params.yaml")["t3"]
CONFIG = {"seeds": [0], "eval_episodes": 20, "workers": 1,
          "ppo": dict(PAPER_T3["ppo"], max_cycles=40, episodes_per_update=4, num_updates=6, update_epochs=2,
                      num_minibatches=2, hidden_size=8, init_log_std=-0.5, normalizer_episodes=2),
          "inverse": dict(held_out_every=2, states_per_pair=8, fit_pair_stride=2, validation_stride=1, logel_restarts=1,
                          cma_generations=3, cma_popsize=6, cma_restarts=0, cma_sigma=0.3, eta_init=1.0, random_draws=2,
                          lbfgs_iterations=10, mc_samples=64, replay_linearisations=1, warm_up_fraction=0.0)}


@pytest.fixture(scope="module")
def trace_path(tmp_path_factory):
    return tmp_path_factory.mktemp("t3") / "seed_0.npz"


@pytest.fixture(scope="module")
def learned(trace_path):
    path = trace_path
    baselines = t3.evaluate_baselines(t3.ppo_config(CONFIG, 0), CONFIG["eval_episodes"])
    metrics, timing = t3.learn_seed(CONFIG, 0, path, baselines)
    assert timing["seconds"] > 0 and timing["env_steps"] == metrics["env_steps"]
    assert "seconds" not in metrics, "timings would break byte-identical metrics"
    return metrics, load_neural_trace(path)


def test_learner_metrics_report_both_baselines_and_the_package(learned):
    metrics, trace = learned
    for key in ("return_trained", "return_random", "return_stand_still"):
        assert {"mean", "standard_error", "package_distance", "episode_length"} <= set(metrics[key])
        assert metrics[key]["standard_error"] > 0
    assert len(metrics["learning_curve"]) == CONFIG["ppo"]["num_updates"] + 1
    assert metrics["env_steps"] == int(trace.valid.sum())
    assert trace.policy == "gaussian" and trace.actions.shape[-1] == 4


def test_inversion_reports_closed_form_and_monte_carlo_kls_that_agree(learned):
    _, trace = learned
    metrics, seconds = t3_inverse.invert_seed(CONFIG, 0, trace)
    stages = {"ilogel", "ilola", "ilola_eta0"}
    assert set(metrics["methods"]) == stages | {f"{key}_gpomdp" for key in stages}
    assert {"tensors", "shadow_critic", "replay_pass_1", "stage_b"} <= set(seconds)
    assert set(metrics["learner_models"]) >= {"gpomdp", "replay"}
    for method in metrics["methods"].values():
        for key in KL_KEYS:
            assert method[f"{key}_mc_se"] > 0
            assert abs(method[key] - method[f"{key}_mc"]) <= 4 * method[f"{key}_mc_se"], (key, method)
        assert -1 <= method["cosine"] <= 1
    assert t3_report.monte_carlo_agreement([metrics])["all_within"]
    again, _ = t3_inverse.invert_seed(CONFIG, 0, trace)
    assert json.dumps(again, sort_keys=True) == json.dumps(metrics, sort_keys=True), "same seed, same metrics"
    held, fit, validation = (set(metrics["pairs"][key]) for key in ("held_out", "fit", "validation"))
    assert held and validation and not held & fit and not validation & (held | fit)
    for key in ("ilola", "ilola_eta0"):
        selection = metrics["methods"][key]["stage_b_selection"]
        assert set(selection["validation_kl"]) == {"stage_a", "stage_b_round_1"}
        assert selection["selected"] == min(selection["validation_kl"], key=selection["validation_kl"].get)


def test_seeds_inverted_on_worker_processes_get_the_in_process_metrics(learned, trace_path, tmp_path):
    """The multi-seed stage (two seeds, two spawned workers) writes what one process computes, bit for bit."""
    _, trace = learned
    seconds = trace_inversion.invert_seeds(t3_inverse.invert_seed, dict(CONFIG, workers=2),
                                           {0: trace_path, 3: trace_path}, tmp_path / "inverse")
    assert len(seconds) == 2 and all(timing["stage_b"] > 0 for timing in seconds)
    for seed in (0, 3):
        expected, _ = t3_inverse.invert_seed(CONFIG, seed, trace)
        written = read_json(tmp_path / "inverse" / f"seed_{seed}.json")
        assert json.dumps(written, sort_keys=True) == json.dumps(expected, sort_keys=True), f"seed {seed}"


def test_induced_return_normalisation_uses_the_stronger_baseline():
    learners = {"return_trained": {"mean": 0.0}, "return_random": {"mean": -90.0}, "return_stand_still": {"mean": -97.0}}
    results = {name: {"return": {"mean": value}} for name, value in (("floor", -90.0), ("true", 0.0), ("half", -45.0))}
    results[replication_label(1)] = {"return": {"mean": 0.0}}
    metrics = normalised_induced("t3", 0, results, learners, ("random", "stand_still"),
                                 {"floor": "floor", "true": "true", "half": "half"})
    assert metrics["return_floor"] == -90.0
    normalised = {name: m["induced_normalized"] for name, m in metrics["methods"].items()}
    assert normalised["floor"] == 0.0 and normalised["true"] == 1.0
    assert math.isclose(normalised["half"], 0.5)


def test_target_checks_judge_kl0_paired_by_seed_and_mark_misses():
    def interval(mean, low, high):
        return {"mean": mean, "ci95": [low, high]}

    summary = {"learners": {"return_trained": interval(-2, -3, -1), "return_random": interval(-94, -95, -93),
                            "return_stand_still": interval(-97, -98, -96)},
               "beats_stand_still_every_seed": True,
               "methods": {"ilola": {"ef_1a": interval(0.4, 0.35, 0.45), "explained_fraction": interval(0.38, 0.3, 0.4),
                                     "kl_1b": interval(0.012, 0.01, 0.014),
                                     "cosine": interval(0.3, 0.2, 0.4), "induced_normalized": interval(0.6, 0.5, 0.7),
                                     "kl_0_minus_kl_1b": interval(0.0001, -0.00002, 0.0002)}}}
    checks = t3_report.t3_target_checks(summary)
    # learners (every seed, across seeds), EF(1a), EF(1b)/EF(1a), paired KL(0) (CI reaches 0), cosine (missed),
    # induced return
    assert [c["met"] for c in checks] == [True, True, True, True, False, False, True], checks
    assert "paired" in checks[4]["target"] and checks[4]["measured"] == -0.00002


def test_warm_up_scores_reproduce_the_inversion_after_the_cut_and_add_the_pairs_before_it(learned):
    """The replay scored on every held-out pair: after the cut it is the inversion's own KLs (checked inside, to
    NO_REPLAY_RTOL and REPRODUCTION_RTOL), before it the pairs the rule left out; the group of all pairs is their
    pair-weighted mean."""
    _, trace = learned
    config = dict(CONFIG, inverse=dict(CONFIG["inverse"], warm_up_fraction=0.34, validation_stride=None))
    metrics, _ = t3_inverse.invert_seed(config, 0, trace)
    scores = warm_up.score_seed(config, 0, trace, metrics, method="ilola_eta0")
    assert scores["pairs"] == {"before_cut": [1], "after_cut": [3, 5], "all": [1, 3, 5]}
    groups = scores["groups"]
    for key in ("kl_0", "kl_1a", "kl_1b"):
        assert len(scores["per_pair"][key]) == 3 and min(scores["per_pair"][key]) >= 0
        assert groups["all"][key] == pytest.approx((groups["before_cut"][key] + 2 * groups["after_cut"][key]) / 3)
        assert groups["after_cut"][key] == pytest.approx(metrics["methods"]["ilola_eta0"][key],
                                                          rel=warm_up.REPRODUCTION_RTOL)
        assert abs(scores["relative_difference_after_cut"][key]) <= warm_up.REPRODUCTION_RTOL
    assert abs(scores["relative_difference_after_cut"]["kl_0"]) <= warm_up.NO_REPLAY_RTOL
    before = groups["before_cut"]
    assert before["ef_1a"] == pytest.approx(1 - before["kl_1a"] / before["kl_0"])
    again = warm_up.score_seed(config, 0, trace, metrics, method="ilola_eta0")
    assert json.dumps(again, sort_keys=True) == json.dumps(scores, sort_keys=True), "same seed, same scores"


def test_warm_up_groups_leave_out_an_empty_group():
    per_pair = {"kl_0": np.array([2.0, 4.0]), "kl_1a": np.array([1.0, 1.0]), "kl_1b": np.array([2.0, 3.0])}
    assert set(warm_up.group_scores(per_pair, 0)) == {"after_cut", "all"}
    groups = warm_up.group_scores(per_pair, 1)
    assert groups["before_cut"] == {"kl_0": 2.0, "kl_1a": 1.0, "kl_1b": 2.0, "ef_1a": 0.5, "ef_1b": 0.0}
    assert groups["all"]["ef_1a"] == pytest.approx(1 - 1.0 / 3.0)


def test_warm_up_summary_pairs_the_groups_by_seed():
    def seed_scores(seed, before_ef):
        groups = {"before_cut": dict.fromkeys(warm_up.SCORES, before_ef),
                  "after_cut": dict.fromkeys(warm_up.SCORES, 0.5), "all": dict.fromkeys(warm_up.SCORES, 0.4)}
        return {"seed": seed, "pairs": {"before_cut": [1], "after_cut": [3], "all": [1, 3]}, "groups": groups}

    scores = [seed_scores(0, 0.1), seed_scores(1, 0.3)]
    summary = warm_up.summarize(scores)
    assert summary["before_cut"]["ef_1a"]["mean"] == pytest.approx(0.2) and summary["before_cut"]["seeds"] == 2
    assert summary["after_minus_before"]["ef_1a"]["mean"] == pytest.approx(0.3)
    assert summary["after_minus_before"]["ef_1a"]["paired"]
    table = warm_up.summary_table(summary)
    assert "after − before (paired)" in table and len(warm_up.per_seed_table(scores).splitlines()) == 2 + 6
    without_before = warm_up.summarize([{**s, "groups": {k: v for k, v in s["groups"].items() if k != "before_cut"}}
                                        for s in scores])
    assert "before_cut" not in without_before and "after_minus_before" not in without_before
    reading = warm_up.reading_markdown(summary)
    assert "EF(1a) there is 0.20, against 0.50 after the cut and 0.40 over all" in reading
    assert "no update" not in reading and "after − before 0.3 [" in reading
    assert "no held-out pair before" in warm_up.reading_markdown(without_before)
