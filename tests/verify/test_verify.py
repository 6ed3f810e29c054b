"""`python -m ilola_lib.verify`: accepts a real two-machine regeneration, rejects planted changes."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ilola_lib.verify.compare import compare, holm
from ilola_lib.verify.headline import headline_metrics

HERE = Path(__file__).parent


def _load(name: str) -> dict:
    raw = json.loads((HERE / name).read_text())
    def parse(side):
        return {tuple(key.split("|")): {int(s): v for s, v in values.items()} for key, values in raw[side].items()}
    return parse("committed"), parse("regenerated")


def _shifted(metrics: dict, key: tuple, factor: float) -> dict:
    shifted = copy.deepcopy(metrics)
    shifted[key] = {seed: value * factor for seed, value in shifted[key].items()}
    return shifted


def test_a_two_machine_regeneration_of_t1_agrees_on_every_metric():
    committed, regenerated = _load("calibration_t1_two_machines.json")
    differing = [k for k in committed if committed[k] != regenerated[k]]
    assert differing, "the calibration pair must really differ between the machines"
    results = compare(committed, regenerated)
    assert all(c.agree for c in results if c.agree is not None), [c.metric for c in results if c.agree is False]
    assert {c.rule for c in results} == {"exact", "statistical"}


def test_a_two_machine_regeneration_of_t2_agrees_although_every_training_diverged():
    """The full T2 regeneration: KL(0) 0.00901 committed vs 0.00867 regenerated (Welch p = 0.09) is accepted."""
    committed, regenerated = _load("calibration_t2_two_machines.json")
    kl_0 = ("t2", "ilola/kl_0")
    assert committed[kl_0] != regenerated[kl_0]
    results = compare(committed, regenerated)
    assert all(c.agree for c in results), [c.metric for c in results if not c.agree]


@pytest.mark.parametrize("metric", ["ilogel/cosine", "learners/return_trained"])
def test_a_planted_ten_percent_shift_of_a_t2_metric_is_rejected(metric):
    committed, regenerated = _load("calibration_t2_two_machines.json")
    results = {c.metric: c for c in compare(committed, _shifted(regenerated, ("t2", metric), 1.1))}
    assert results[metric].agree is False and sum(c.agree is False for c in results.values()) == 1


@pytest.mark.parametrize("metric", ["ilogel/cosine", "ma_lfl/kl_1b", "ilogel_matched_pg/cosine"])
def test_a_planted_ten_percent_shift_is_rejected(metric):
    committed, regenerated = _load("calibration_t1_two_machines.json")
    results = {c.metric: c for c in compare(committed, _shifted(regenerated, ("t1", metric), 1.1))}
    assert results[metric].agree is False
    assert sum(c.agree is False for c in results.values()) == 1


def test_exact_cases_allow_round_off_only():
    committed, regenerated = _load("calibration_t1_two_machines.json")
    key = ("t1", "ma_lfl_exact/cosine")
    for change, agree in ((1e-9, True), (1e-4, False)):
        planted = copy.deepcopy(regenerated)
        planted[key][0] += change
        assert [c for c in compare(committed, planted) if c.metric == key[1]][0].agree is agree


def test_different_seeds_disagree_and_one_seed_is_not_tested():
    committed = {("t2", "ilola/cosine"): {0: 0.9, 1: 0.8}, ("t3", "ilola/cosine"): {0: 0.5}}
    regenerated = {("t2", "ilola/cosine"): {0: 0.9, 2: 0.8}, ("t3", "ilola/cosine"): {0: 0.6}}
    verdicts = {c.task: c.agree for c in compare(committed, regenerated)}
    assert verdicts == {"t2": False, "t3": None}


def test_holm_rejects_step_down():
    assert holm([0.001, 0.04, 0.2], 0.05) == [False, True, True]
    assert holm([0.001, 0.02, 0.2], 0.05) == [False, False, True]
    assert holm([0.3, 0.02, 0.2], 0.05) == [True, True, True]


def _write_seed(root: Path, seed: int, cosine: float) -> None:
    folder = root / "results" / "t1" / "seeds"
    folder.mkdir(parents=True, exist_ok=True)
    methods = {"ilogel": {"cosine": cosine, "kl_1a": 0.01, "kl_1b": 0.011 + seed * 1e-3, "kl_0": 0.02 + seed * 1e-3,
                          "kl_rand": 0.03}}
    (folder / f"seed_{seed}.json").write_text(json.dumps({"seed": seed, "methods": methods}))


def test_the_command_compares_the_working_tree_with_git_and_exits_non_zero_on_a_change(tmp_path):
    rng = np.random.default_rng(0)
    cosines = 0.9 + 0.01 * rng.standard_normal(5)
    for seed, cosine in enumerate(cosines):
        _write_seed(tmp_path, seed, cosine)
    (tmp_path / "results" / "t1" / "summary.json").write_text(json.dumps({"profile": "paper"}))
    git = ["git", "-c", "user.email=t@t", "-c", "user.name=t"]
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run(git + ["add", "-A"], cwd=tmp_path, check=True)
    subprocess.run(git + ["commit", "-qm", "results"], cwd=tmp_path, check=True)
    command = [sys.executable, "-m", "ilola_lib.verify", "--tasks", "t1", "--root", str(tmp_path)]
    same = subprocess.run(command, capture_output=True, text=True)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "0 disagree" in same.stdout
    assert len(headline_metrics("t1", "HEAD", tmp_path)) == 7  # 5 KLs/cosine + EF(1a), EF(1b)
    for seed, cosine in enumerate(cosines):
        _write_seed(tmp_path, seed, cosine * 1.1)
    changed = subprocess.run(command, capture_output=True, text=True)
    assert changed.returncode == 1 and "`ilogel/cosine`" in changed.stdout
