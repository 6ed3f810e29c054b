"""The tables the notebooks used to build inline, now library functions reading the targets file."""

from ilola_lib.analysis import reports
from ilola_lib.analysis.targets import load_targets
from ilola_lib.tasks.t1 import experiment as t1
from ilola_lib.tasks.t2 import learn as t2_learn
from ilola_lib.tasks.t3 import learn as t3_learn


def _interval(mean):
    return {"mean": mean, "ci95": [mean, mean]}


def test_t1_target_checks_state_the_thresholds_of_the_targets_file():
    methods = {"ma_lfl_exact": {"kl_1a": _interval(1e-17), "kl_1b": _interval(1e-16), "cosine": _interval(1.0)},
               "ma_lfl": {"kl_1a": _interval(0.004), "kl_1b": _interval(0.0041), "kl_0": _interval(0.01),
                          "kl_rand": _interval(0.2), "kl_ratio_1b_1a": _interval(1.01)},
               "ilogel_matched_pg": {"cosine": _interval(0.995)}, "ilogel_matched_lola": {"kl_1b": _interval(3e-5)},
               "ilola_matched_lola": {"cosine": _interval(0.98), "kl_1b": _interval(1e-13)}}
    checks = t1.target_checks({"methods": methods})
    assert [c["met"] for c in checks] == [True] * 7 + [False, True]  # Stage B cosine 0.98 < 0.99
    assert checks[1]["target"] == "MA-LfL exact: KL(1b) ≤ 1e-8" and checks[3]["target"].endswith("≤ 1.5")
    del methods["ma_lfl"]["kl_ratio_1b_1a"]  # the ratio does not apply: not met, shown as —
    checks = t1.target_checks({"methods": methods})
    assert checks[3]["measured"] is None and not checks[3]["met"]
    assert "| MA-LfL sampled: KL(1b)/KL(1a) ≤ 1.5 | — | **no** |" in t1.target_table(checks)


def test_t2_learner_table_marks_the_target_from_the_targets_file():
    target = load_targets().t2.improvement_over_random_min
    metrics = [{"task": "t2", "seed": 0, "improvement_over_random": target + 0.01,
                **{k: {"mean": -10.0, "standard_error": 0.5} for k in t2_learn.RETURN_KEYS}},
               {"task": "t2", "seed": 1, "improvement_over_random": target - 0.01,
                **{k: {"mean": -10.0, "standard_error": 0.5} for k in t2_learn.RETURN_KEYS}}]
    lines = t2_learn.learner_table(metrics).splitlines()
    assert lines[0].endswith(f"| ≥ {target:.0%}? |")
    assert lines[2].endswith("| yes |") and lines[3].endswith("| **no** |")


def test_t3_figure_baselines_and_timing_table():
    summary = {"learners": {"return_random": {"mean": -94.4}, "return_stand_still": {"mean": -97.2}},
               "package_distance": {"return_random": {"mean": 0.14}, "return_stand_still": {"mean": 1.89}}}
    assert t3_learn.learner_baselines(summary) == {"uniform random": -94.4, "stand still (zero torques)": -97.2}
    assert t3_learn.learner_baselines(summary, "package_distance")["stand still (zero torques)"] == 1.89
    table = t3_learn.timing_table([{"seed": 0, "env_steps": 1000, "seconds": 12.4, "env_steps_per_second": 80.6}])
    assert table.splitlines()[-1] == "| 0 | 1000 | 12 | 81 |"


def test_quoted_means_reads_the_summary_and_names_what_is_missing():
    import pytest

    from ilola_lib.analysis.reports import quoted_means

    summary = {"methods": {"ilola": {"cosine": {"mean": 0.9, "ci95": [0.8, 1.0]}}}}
    assert quoted_means(summary, {"t_cos": ("methods", "ilola", "cosine")}) == {"t_cos": 0.9}
    with pytest.raises(KeyError, match="t_eta: the summary has no mean at methods/ilola/eta"):
        quoted_means(summary, {"t_eta": ("methods", "ilola", "eta")})


def _selection(seed: int, kept: dict[str, str]) -> dict:
    kls = {"stage_a": 0.010, "stage_b_round_1": 0.012}
    return {"seed": seed, "methods": {"ilogel": {}, **{
        method: {"stage_b_selection": {"validation_kl": kls, "selected": choice}} for method, choice in kept.items()}}}


def test_stage_b_selection_counts_table_and_sentence():
    metrics = [_selection(0, {"ilola": "stage_a", "ilola_eta0": "stage_a"}),
               _selection(1, {"ilola": "stage_b_round_1", "ilola_eta0": "stage_a"})]
    counts = reports.stage_b_selections(metrics)
    assert counts == {"ilola": {"stage_a": 1, "stage_b_round_1": 1}, "ilola_eta0": {"stage_a": 2, "stage_b_round_1": 0}}
    assert reports.stage_b_selection_sentence(counts) == ("`ilola` kept `stage_a` in 1 and `stage_b_round_1` in 1 of 2 "
                                                           "seeds; `ilola_eta0` kept `stage_a` in 2 of 2 seeds")
    lines = reports.stage_b_selection_table(metrics).splitlines()
    assert len(lines) == 2 + 4 and lines[0].count("KL on validation") == 2
    assert lines[2] == "| 0 | `ilola` | **0.01000** | 0.01200 | stage_a |"
    assert lines[4] == "| 1 | `ilola` | 0.01000 | **0.01200** | stage_b_round_1 |"
    without = [{"seed": 0, "methods": {"ilola": {}, "ilogel": {}}}]
    assert reports.stage_b_selections(without) == {}
    assert reports.stage_b_selection_table(without) == reports.stage_b_selection_sentence({}) + "."


def test_stage_comparison_calls_a_difference_within_the_fits_resolution_indistinguishable():
    kl = {"mean": 0.0096, "ci95": [0.009, 0.010]}
    methods = {m: {"kl_1b": kl, "kl_0": {"mean": 0.0125, "ci95": [0.012, 0.013]}} for m in ("ilola", "ilola_eta0")}
    tiny = {"mean": 1e-8, "ci95": [3e-9, 2e-8], "paired": True}  # excludes 0, yet ≪ 1e-4 × KL(0) = 1.25e-6
    text = reports.stage_comparison({"methods": methods, "paired_kl_1b": {"ilola − ilola_eta0": tiny}})
    assert "`ilola` and `ilola_eta0` are indistinguishable" in text and "within the fits' resolution" in text
    real = {"mean": 2e-5, "ci95": [1e-5, 3e-5], "paired": True}
    text = reports.stage_comparison({"methods": methods, "paired_kl_1b": {"ilola − ilola_eta0": real}})
    assert "`ilola_eta0` (I-LOLA Stage B with η = 0) explains the held-out updates better than `ilola`" in text
