"""The headline metrics of every task, per seed, read from the per-seed results files.

A *source* is either the working tree (``rev=None``) or a git revision (read with ``git show``), so the
committed numbers and a regeneration can be compared without checking anything out. Each metric is
keyed ``(task, name)`` — e.g. ``("t2", "ilola/kl_1b")`` — and holds ``{seed: value}``.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

# The per-method quantities a summary reports as headline numbers (design §6). The fitted η and the
# learning rates are left out: they are nuisance parameters and not identified where the coupling
# does not matter (T1 seeds have η̂ = 1e-13 on one machine and 1.3e3 on another with equal fits).
METHOD_METRICS = ("kl_1a", "kl_1b", "kl_0", "kl_rand", "cosine", "epic", "induced_normalized")
NEURAL_FOLDERS = ("learners", "inverse", "induced")
SIMPLE_SPREAD_RETURNS = ("return_trained", "return_random", "return_noop")
MULTIWALKER_RETURNS = ("return_trained", "return_random", "return_stand_still")
LEARNER_METRICS = {"t2": SIMPLE_SPREAD_RETURNS, "t2_lola": SIMPLE_SPREAD_RETURNS,
                   "t3": MULTIWALKER_RETURNS, "t3_mc": MULTIWALKER_RETURNS}
PER_SEED_FOLDERS = {"t1": ("seeds",), "t2": NEURAL_FOLDERS, "t2_lola": NEURAL_FOLDERS, "t3": NEURAL_FOLDERS,
                    "t3_mc": NEURAL_FOLDERS}


def read_text(path: str, rev: str | None, root: Path) -> str | None:
    """The file's text in the working tree (``rev`` None) or at git revision ``rev``; None if absent."""
    if rev is None:
        file = root / path
        return file.read_text(encoding="utf-8") if file.is_file() else None
    shown = subprocess.run(["git", "show", f"{rev}:{path}"], cwd=root, capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else None


def list_files(folder: str, rev: str | None, root: Path) -> list[str]:
    """The ``seed_*.json`` files of a results folder, working tree or git revision."""
    if rev is None:
        return sorted(str(p.relative_to(root)) for p in (root / folder).glob("seed_*.json"))
    listed = subprocess.run(["git", "ls-tree", "--name-only", f"{rev}:{folder}"], cwd=root, capture_output=True,
                            text=True)
    names = listed.stdout.split() if listed.returncode == 0 else []
    return sorted(f"{folder}/{name}" for name in names if name.startswith("seed_") and name.endswith(".json"))


def seed_records(task: str, rev: str | None, root: Path) -> dict[str, list[dict]]:
    """Per folder of the task's per-seed results, the parsed JSON of every seed file."""
    records = {}
    for folder in PER_SEED_FOLDERS[task]:
        files = list_files(f"results/{task}/{folder}", rev, root)
        parsed = []
        for path in files:
            text = read_text(path, rev, root)
            try:
                parsed.append(json.loads(text))
            except (TypeError, json.JSONDecodeError) as err:
                where = "the working tree" if rev is None else f"git revision {rev}"
                raise ValueError(f"{path} in {where} is not valid JSON ({err}); regenerate it with "
                                 f"'dvc repro' (it is a {task} pipeline output)") from err
        records[folder] = parsed
    return records


def _explained_fractions(method: dict) -> dict[str, float]:
    """``EF(1a) = 1 − KL(1a)/KL(0)`` and ``EF(1b) = 1 − KL(1b)/KL(0)`` where KL(0) is above round-off."""
    if method.get("kl_0", 0.0) <= 1e-12:
        return {}
    return {f"ef_{key[3:]}": 1.0 - method[key] / method["kl_0"] for key in ("kl_1a", "kl_1b") if key in method}


def headline_metrics(task: str, rev: str | None, root: str | Path = ".") -> dict[tuple[str, str], dict[int, float]]:
    """``{(task, "method/metric" or "learners/metric"): {seed: value}}`` of one source."""
    root = Path(root)
    metrics: dict[tuple[str, str], dict[int, float]] = {}

    def add(name: str, seed: int, value) -> None:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            metrics.setdefault((task, name), {})[int(seed)] = float(value)

    for folder, records in seed_records(task, rev, root).items():
        for record in records:
            seed = record["seed"]
            if folder == "learners":
                for key in LEARNER_METRICS[task]:
                    add(f"learners/{key}", seed, record.get(key, {}).get("mean"))
                continue
            for method, values in record.get("methods", {}).items():
                for key in METHOD_METRICS:
                    add(f"{method}/{key}", seed, values.get(key))
                for key, value in _explained_fractions(values).items():
                    add(f"{method}/{key}", seed, value)
    return metrics


def summary_profile(task: str, rev: str | None, root: str | Path = ".") -> str | None:
    """The ``profile`` recorded in ``results/<task>/summary.json`` of a source (None if absent)."""
    text = read_text(f"results/{task}/summary.json", rev, Path(root))
    return json.loads(text).get("profile") if text else None
