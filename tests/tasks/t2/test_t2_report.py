"""The T2 report layer on synthetic per-seed results: summary shape, targets, comparison, figures, notebook."""

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from ilola_lib.analysis import reports  # noqa: E402
from ilola_lib.analysis.plotting import (  # noqa: E402
    induced_curves_figure,
    kl_comparison,
    learner_model_ladder,
    learning_curves_figure,
    per_agent_scatter_figure,
    save_figure,
    weights_figure,
)
from ilola_lib.core.io import write_json  # noqa: E402
from ilola_lib.core.neural_trace import save_neural_trace  # noqa: E402
from ilola_lib.pipeline.notebook_runner import run_notebook  # noqa: E402
from ilola_lib.tasks.t2 import report as t2_report  # noqa: E402
from ilola_lib.tasks.t2.learn import seed_trace_file  # noqa: E402

ROOT = Path(__file__).resolve().parents[3]
SEEDS = [0, 1, 2]
NUM_AGENTS, NUM_FEATURES, NUM_UPDATES = 3, 5, 6
TRUE_WEIGHTS = [[0.5, -0.5, 0.0, 0.0, 0.0]] * NUM_AGENTS
# per-seed KL(1a), KL(1b), KL(0), KL(rand), cosine and normalised induced return of a method
GOOD = {"kl_1a": [1.00, 1.10, 0.90], "kl_1b": [1.05, 1.12, 0.95], "kl_0": [5.0, 5.5, 4.8],
        "kl_rand": [8.0, 8.5, 7.9], "cosine": [0.98, 0.99, 0.975], "induced_normalized": [0.9, 0.86, 0.95]}
BAD = {"kl_1a": [1.00, 1.10, 0.90], "kl_1b": [1.5, 1.6, 1.4], "kl_0": [1.3, 2.6, 1.6],
       "kl_rand": [1.4, 2.7, 1.3], "cosine": [0.5, 0.7, 0.3], "induced_normalized": [0.3, 0.1, 0.5]}


def _method(values: dict, index: int, rng: np.random.Generator) -> tuple[dict, dict]:
    """One seed's inverse and induced entries of a method with the given scalar values."""
    inverse = {key: values[key][index] for key in ("kl_1a", "kl_1b", "kl_0", "kl_rand", "cosine")}
    weights = rng.standard_normal((NUM_AGENTS, NUM_FEATURES))
    inverse["weights"] = (weights / np.linalg.norm(weights, axis=-1, keepdims=True)).tolist()
    inverse["cosine_per_agent"] = [values["cosine"][index]] * NUM_AGENTS
    induced = {"return": {"mean": -20.0, "standard_error": 0.5}, "induced_normalized": values["induced_normalized"][index],
               "learning_curve": (-30.0 + rng.random(NUM_UPDATES + 1).cumsum()).tolist()}
    return inverse, induced


def synthetic_seeds(ilola: dict = GOOD, others: dict = BAD) -> tuple[list[dict], list[dict], list[dict]]:
    """Learner, inverse and induced per-seed dicts (shapes of the learn, invert and induce stages)."""
    rng = np.random.default_rng(0)
    learners, inverse, induced = [], [], []
    for index, seed in enumerate(SEEDS):
        returns = {name: {"mean": value + index, "standard_error": 0.5}
                   for name, value in (("return_trained", -14.0), ("return_random", -28.0), ("return_noop", -26.0))}
        learners.append({"task": "t2", "seed": seed, **returns, "improvement_over_random": 0.5,
                         "learning_curve": np.linspace(-28.0, -14.0, NUM_UPDATES + 1).tolist()})
        entries = {name: _method(ilola if name == "ilola" else others, index, rng)
                   for name in ("ilogel", "ilola", "ilola_eta0", "ilola_gpomdp", "ma_lfl")}
        ladder = {name: {"kl_1a": 1.0 + 0.1 * rank, "ef_1a": 0.6 - 0.1 * rank}
                  for rank, name in enumerate(("replay", "surrogate_adam", "surrogate", "gpomdp"))}
        inverse.append({"task": "t2", "seed": seed, "feature_names": [f"f{j}" for j in range(NUM_FEATURES)],
                        "true_weights": TRUE_WEIGHTS, "methods": {k: v[0] for k, v in entries.items()},
                        "learner_models": {**ladder, "shadow_critic_explained_variance": 0.9 + 0.01 * index}})
        inverse[-1]["methods"]["ilola"].update(eta=0.1, fit_loss=0.2, cma_fit_loss=0.2)
        induced.append({"task": "t2", "seed": seed, "methods": {k: v[1] for k, v in entries.items()
                                                                if not k.endswith("_gpomdp")},
                        "return_true": -14.0 + index, "return_floor": -26.0 + index,
                        "return_true_trainings": [-14.0 + index] * 3, "training_sd": 0.05 * (index + 1)})
    return learners, inverse, induced


def test_summarize_gives_the_results_contract_shape_with_means_over_seeds():
    learners, inverse, induced = synthetic_seeds()
    summary = t2_report.summarize(learners, inverse, induced, "smoke")
    assert summary["task"] == "t2" and summary["profile"] == "smoke" and summary["seeds"] == SEEDS
    assert set(summary["learners"]) == {"return_trained", "return_random", "return_noop"}
    assert summary["learners"]["return_trained"]["mean"] == pytest.approx(-13.0)
    assert list(summary["methods"]) == ["ilola", "ilola_eta0", "ilogel", "ilola_gpomdp", "ma_lfl"]
    assert summary["learner_models"]["replay"]["ef_1a"]["mean"] == pytest.approx(0.6)
    assert summary["learner_models"]["replay"]["cosine"]["mean"] == pytest.approx(np.mean(GOOD["cosine"]))
    for name, values in (("ilola", GOOD), ("ma_lfl", BAD)):
        method = summary["methods"][name]
        for key, per_seed in values.items():
            assert method[key]["mean"] == pytest.approx(np.mean(per_seed))
            low, high = method[key]["ci95"]
            assert low <= method[key]["mean"] <= high
        ratio = np.mean(np.array(values["kl_1b"]) / np.array(values["kl_1a"]))
        assert method["kl_ratio_1b_1a"]["mean"] == pytest.approx(ratio)
    assert "eta" in summary["methods"]["ilola"] and "eta" not in summary["methods"]["ilogel"]
    assert summary["induced"]["return_floor"]["mean"] == pytest.approx(-25.0)


def test_summarize_refuses_inputs_of_different_seeds():
    learners, inverse, induced = synthetic_seeds()
    with pytest.raises(ValueError, match="different seeds"):
        t2_report.summarize(learners, inverse, induced[::-1], "smoke")


@pytest.mark.parametrize("values, met", [(GOOD, True), (BAD, False)], ids=["all-hit", "all-missed"])
def test_target_checks_flag_each_target(values, met):
    summary = t2_report.summarize(*synthetic_seeds(ilola=values), "smoke")
    checks = t2_report.target_checks(summary)
    assert len(checks) == 6
    assert [c["met"] for c in checks] == [met] * 6
    assert checks[0]["measured"] == pytest.approx(summary["methods"]["ilola"]["ef_1a"]["mean"])
    table = reports.checks_markdown(checks)
    assert table.count("**missed**") == (0 if met else 6) and table.count("| hit") == (6 if met else 0)


def test_stage_comparison_decides_on_the_paired_difference():
    summary = t2_report.summarize(*synthetic_seeds(ilola=GOOD, others=BAD), "smoke")
    text = reports.stage_comparison(summary)
    assert "`ilola` (I-LOLA Stage B) explains the held-out updates better than `ilogel`" in text
    assert "better than `ilola_eta0`" in text and "indistinguishable" not in text
    same = t2_report.summarize(*synthetic_seeds(ilola=BAD, others=BAD), "smoke")
    text = reports.stage_comparison(same)
    assert "`ilola` and `ilogel` are indistinguishable" in text and "better" not in text


def test_report_figures_build_and_save(tmp_path):
    learners, inverse, induced = synthetic_seeds()
    summary = t2_report.summarize(learners, inverse, induced, "smoke")
    curves = reports.induced_learning_curves(learners, induced)
    assert list(curves) == ["true reward", "r̂ of ilola", "r̂ of ilola_eta0", "r̂ of ilogel", "r̂ of ma_lfl"]
    assert all(c.shape == (len(SEEDS), NUM_UPDATES + 1) for c in curves.values())
    recovered = reports.recovered_weights(inverse)
    assert recovered["ilola"].shape == (len(SEEDS), NUM_AGENTS, NUM_FEATURES)
    figures = [
        kl_comparison(summary["methods"], "KL"),
        weights_figure(reports.true_weights(inverse), recovered, inverse[0]["feature_names"]),
        induced_curves_figure(curves, t2_report.return_baselines(summary), "induced"),
        per_agent_scatter_figure(reports.per_agent_cosines(inverse), "cosine", "cosines", threshold=0.9),
        learning_curves_figure(curves["true reward"], {"random": -28.0}, "learners"),
        learner_model_ladder(summary["learner_models"], "ladder"),
    ]
    for index, fig in enumerate(figures):
        save_figure(fig, tmp_path / f"fig{index}.png")
        plt.close(fig)
        assert (tmp_path / f"fig{index}.png").stat().st_size > 0
    assert reports.cosine_table(inverse).count("\n") == 2 + len(SEEDS)


def test_t2_notebook_runs_end_to_end_on_synthetic_results(tmp_path, make_tiny_trace):
    params = yaml.safe_load((ROOT / "profiles" / "smoke.yaml").read_text())
    params["t2"]["seeds"] = SEEDS
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    for name, per_seed in zip(("learners", "inverse", "induced"), synthetic_seeds()):
        for metrics in per_seed:
            write_json(tmp_path / name / f"seed_{metrics['seed']}.json", metrics)
    for seed in SEEDS:  # the held-out batches the recovered rewards are compared on
        save_neural_trace(make_tiny_trace(seed, NUM_AGENTS, NUM_FEATURES), seed_trace_file(tmp_path / "traces", seed))
    output = tmp_path / "out"
    run_notebook(ROOT / "notebooks" / "t2_mpe.ipynb", tmp_path / "t2_mpe.ipynb",
                 {"params_path": str(tmp_path / "params.yaml"), "learners_dir": str(tmp_path / "learners"),
                  "inverse_dir": str(tmp_path / "inverse"), "induced_dir": str(tmp_path / "induced"),
                  "trace_dir": str(tmp_path / "traces"), "output_dir": str(output)})
    for name in ("summary.json", "table.md", "fig3_kl.png", "fig_weights.png", "fig_induced.png"):
        assert (output / name).is_file(), name
    summary = json.loads((output / "summary.json").read_text())
    assert summary["seeds"] == SEEDS
    assert -1.0 <= summary["methods"]["ilola"]["reward_correlation"]["mean"] <= 1.0
    assert "induced_normalized" in (output / "table.md").read_text()
