"""The whole pipeline (dvc repro → papermill notebooks → Jupyter Book) on the smoke profile."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import yaml

from ilola_lib.core.io import write_json
from ilola_lib.pipeline.book_check import check_book
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t1 import experiment as t1
from ilola_lib.tasks.t2 import invert as t2_inverse
from ilola_lib.tasks.t2.learn import ppo_config
from ilola_lib.tasks.t2.ppo import train_ppo
from ilola_lib.verify.workspace import make_workspace

ROOT = Path(__file__).resolve().parents[1]


def _finite_numbers(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _finite_numbers(value)
    elif isinstance(node, list):
        for value in node:
            yield from _finite_numbers(value)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        yield node


def test_dvc_repro_and_book_build_on_the_smoke_profile(tmp_path):
    make_workspace(ROOT, tmp_path, "smoke")
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=str(tmp_path))
    dvc = [sys.executable, "-m", "dvc"]
    first = subprocess.run(dvc + ["repro"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert first.returncode == 0, f"dvc repro failed:\n{first.stdout[-3000:]}\n{first.stderr[-3000:]}"

    seeds = yaml.safe_load((tmp_path / "params.yaml").read_text())["t1"]["seeds"]
    expected = [f"results/t1/seeds/seed_{s}.json" for s in seeds] + [f"book/t1/seed_{s}.ipynb" for s in seeds] + [
        "results/t1/summary.json", "results/t1/table.md", "results/t1/fig1_kl.png", "results/t1/fig2_rewards.png",
        "book/t1_summary.ipynb", "book/_build/html/index.html", "book/_build/html/t1_summary.html",
        "book/_build/html/method.html", "book/poster_vs_artifact.ipynb", "book/_build/html/poster_vs_artifact.html"]
    t2_seeds = yaml.safe_load((tmp_path / "params.yaml").read_text())["t2"]["seeds"]
    expected += [f"data/t2/seed_{s}/trace.npz" for s in t2_seeds] + [f"results/t2/learners/seed_{s}.json" for s in t2_seeds]
    expected += ["results/t2/learners.json", "results/t2/fig_learning_curves.png", "book/t2_learners.ipynb",
                 "book/_build/html/t2_learners.html"]
    expected += [f"results/t2/{stage}/seed_{s}.json" for s in t2_seeds for stage in ("inverse", "induced")]
    expected += ["results/t2/summary.json", "results/t2/table.md", "results/t2/fig3_kl.png", "results/t2/fig_weights.png",
                 "results/t2/fig_induced.png", "book/t2_mpe.ipynb", "book/_build/html/t2_mpe.html"]
    lola_seeds = yaml.safe_load((tmp_path / "params.yaml").read_text())["t2_lola"]["seeds"]
    expected += [f"data/t2_lola/seed_{s}/trace.npz" for s in lola_seeds]
    expected += [f"results/t2_lola/{stage}/seed_{s}.json" for s in lola_seeds for stage in ("learners", "inverse", "induced")]
    expected += ["results/t2_lola/summary.json", "results/t2_lola/fig_coupling.png", "book/_build/html/t2_lola.html"]
    t3_seeds = yaml.safe_load((tmp_path / "params.yaml").read_text())["t3"]["seeds"]
    expected += [f"data/t3/traces/seed_{s}.npz" for s in t3_seeds]
    expected += [f"results/t3/{stage}/seed_{s}.json" for s in t3_seeds
                 for stage in ("learners", "inverse", "warm_up", "induced")]
    expected += ["results/t3/learners.json", "results/t3/fig_learning_curves.png", "results/t3/fig_package_distance.png",
                 "results/t3/summary.json", "results/t3/table.md", "results/t3/fig4_kl.png", "results/t3/fig_weights.png",
                 "results/t3/fig5_induced.png"]
    expected += [f"book/_build/html/{page}.html" for page in ("t3_learners", "t3_learn", "t3_invert", "t3_warm_up",
                                                                  "t3_induce", "t3_multiwalker", "at_a_glance")]
    for path in expected:
        assert (tmp_path / path).is_file(), f"missing pipeline output {path}"
    summary = json.loads((tmp_path / "results/t1/summary.json").read_text())
    assert summary["profile"] == "smoke" and summary["seeds"] == seeds
    for key in ("ma_lfl", "ma_lfl_exact", "ilogel", "ilola", "ilola_eta0", "ilogel_matched_pg", "ilola_matched_pg",
                "ilogel_matched_lola", "ilola_matched_lola"):
        assert {"kl_1a", "kl_1b", "kl_0", "kl_rand", "cosine"} <= set(summary["methods"][key])
    assert all(math.isfinite(x) for x in _finite_numbers(summary))
    learners = json.loads((tmp_path / "results/t2/learners.json").read_text())
    assert learners["seeds"] == t2_seeds and all(math.isfinite(x) for x in _finite_numbers(learners))
    t2_summary = json.loads((tmp_path / "results/t2/summary.json").read_text())
    assert t2_summary["profile"] == "smoke" and t2_summary["seeds"] == t2_seeds
    assert {"return_trained", "return_random"} <= set(t2_summary["learners"])
    for key in ("ilola", "ilola_eta0", "ilogel", "ma_lfl"):
        assert {"kl_1a", "kl_1b", "kl_0", "kl_rand", "cosine", "induced_normalized"} <= set(t2_summary["methods"][key])
    assert all(math.isfinite(x) for x in _finite_numbers(t2_summary))
    assert (tmp_path / "book/_build/html/at_a_glance.html").is_file()
    assert check_book(tmp_path / "book/_build/html")[0] == []
    for notebook in (tmp_path / "book").rglob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        assert not any(o.get("output_type") == "error" for c in cells for o in c.get("outputs", []))

    again = subprocess.run(dvc + ["repro"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "didn't change" in again.stdout and "Running stage" not in again.stdout
    _verify_agrees_with_itself_and_flags_a_planted_change(tmp_path, env)
    _bad_params_stop_dvc_repro_before_compute(tmp_path, env)


def _verify_agrees_with_itself_and_flags_a_planted_change(root: Path, env: dict) -> None:
    """`python -m ilola_lib.verify` on the smoke outputs: the committed results agree with themselves, and a
    cosine of an exact case moved by 10% is a disagreement."""
    git = ["git", "-c", "user.email=ci@example.org", "-c", "user.name=ci"]
    subprocess.run(git + ["add", "results"], cwd=root, check=True)
    subprocess.run(git + ["commit", "-qm", "smoke results"], cwd=root, check=True)
    verify = [sys.executable, "-m", "ilola_lib.verify"]
    same = subprocess.run(verify, cwd=root, env=env, capture_output=True, text=True)
    assert same.returncode == 0 and " 0 disagree" in same.stdout, same.stdout + same.stderr
    for path in sorted((root / "results/t1/seeds").glob("seed_*.json")):
        metrics = json.loads(path.read_text())
        metrics["methods"]["ma_lfl_exact"]["cosine"] *= 1.1
        path.write_text(json.dumps(metrics))
    changed = subprocess.run(verify, cwd=root, env=env, capture_output=True, text=True)
    assert changed.returncode == 1 and "`ma_lfl_exact/cosine`" in changed.stdout, changed.stdout + changed.stderr


def test_same_seed_gives_byte_identical_metrics_whatever_the_worker_count(tmp_path):
    config = load_params(ROOT / "profiles" / "smoke.yaml")["t1"]
    write_json(tmp_path / "a.json", t1.run_seed(config, 0, workers=1))
    write_json(tmp_path / "b.json", t1.run_seed(config, 0, workers=2))
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_t2_inverse_metrics_are_byte_identical_for_the_same_seed(tmp_path):
    config = load_params(ROOT / "profiles" / "smoke.yaml")["t2"]
    trace = train_ppo(ppo_config(config, 0)).trace
    for name in ("a.json", "b.json"):
        write_json(tmp_path / name, t2_inverse.invert_seed(config, 0, trace)[0])
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def _replace_last(text: str, old: str, new: str) -> str:
    head, found, tail = text.rpartition(old)
    assert found, old
    return head + new + tail


def _bad_params_stop_dvc_repro_before_compute(root: Path, env: dict) -> None:
    """A T1 parameter changes (so T1's stages are due) while the last section, T3, holds an unknown key, a
    wrong type or an out-of-range value: `dvc repro` fails in its first stage, naming the dotted key, before
    any output is written."""
    params = root / "params.yaml"
    good = params.read_text()
    changed_t1 = good.replace("random_draws: 2", "random_draws: 3", 1)
    outputs = sorted((root / "results").rglob("*.json"))
    before = {path: path.stat().st_mtime_ns for path in outputs}
    for old, new, key in (("cma_generations: 3", "cma_generatoins: 3", "t3.inverse.cma_generatoins"),
                          ("mc_samples: 8", "mc_samples: many", "t3.inverse.mc_samples"),
                          ("cma_sigma: 0.3", "cma_sigma: -0.3", "t3.inverse.cma_sigma")):
        params.write_text(_replace_last(changed_t1, old, new))
        run = subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=root, env=env, capture_output=True, text=True)
        assert run.returncode != 0 and key in run.stdout + run.stderr, run.stdout[-2000:] + run.stderr[-2000:]
    assert {path: path.stat().st_mtime_ns for path in outputs} == before, "a stage wrote outputs despite bad params"
    params.write_text(good)
