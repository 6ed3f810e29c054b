"""The targets file: loads into a read-only typed tree, every key is used, and no threshold is left in code."""

import ast
import dataclasses
import json
import re
import tomllib
from pathlib import Path

import pytest

from ilola_lib.analysis import targets as targets_module
from ilola_lib.analysis.targets import Targets, leaf_paths, load_targets, parse_targets

ROOT = Path(__file__).resolve().parents[2]
TARGETS_YAML = ROOT / "ilola_lib" / "analysis" / "targets.yaml"
# the constants the thresholds used to live in (reports, task modules, benchmarks)
REMOVED_CONSTANTS = ("TARGET_IMPROVEMENT", "TARGET_RATIO_1B_1A", "TARGET_COSINE", "TARGET_INDUCED_NORMALIZED",
                     "MC_AGREEMENT_STANDARD_ERRORS", "CMA_SPEEDUP_TARGET", "PIPELINE_TARGET_SECONDS",
                     "TIME_BUDGET_SECONDS")
# modules that compare measurements with targets: every threshold there must come from the targets file
THRESHOLD_MODULES = ("ilola_lib/analysis/reports.py", "ilola_lib/analysis/summary.py", "ilola_lib/analysis/induced.py",
                     "ilola_lib/analysis/poster.py", "ilola_lib/tasks/t1/experiment.py", "ilola_lib/tasks/t2/learn.py",
                     "ilola_lib/tasks/t2/report.py", "ilola_lib/tasks/t3/learn.py", "ilola_lib/tasks/t3/report.py",
                     *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "benchmarks").glob("*.py")))


def code_files() -> dict[str, str]:
    """Path → code of every package module, benchmark and source notebook (notebooks: their code cells)."""
    files = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8")
             for folder in ("ilola_lib", "benchmarks") for p in sorted((ROOT / folder).rglob("*.py"))}
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        files[path.relative_to(ROOT).as_posix()] = "\n".join("".join(c["source"]) for c in cells
                                                             if c["cell_type"] == "code")
    return files


def test_targets_load_into_a_read_only_typed_tree():
    targets = load_targets()
    assert isinstance(targets, Targets) and load_targets() is targets
    paths = leaf_paths()
    assert len(paths) >= 19 and all(isinstance(value, float) for value in paths.values())
    assert targets.t2.ilola.cosine_min == paths["t2.ilola.cosine_min"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        targets.t2.ilola.cosine_min = 0.0


def test_a_missing_unknown_or_non_numeric_key_is_an_error_naming_it():
    text = TARGETS_YAML.read_text(encoding="utf-8")
    assert parse_targets(text) == load_targets()
    with pytest.raises(ValueError, match=r"missing keys \['t2.ilola.cosine_min'\]"):
        parse_targets(re.sub(r"\n    cosine_min: 0\.97 .*", "", text))
    with pytest.raises(ValueError, match=r"unknown keys \['t3.cosine_typo'\]"):
        parse_targets(text.replace("t3:  #", "t3:\n  cosine_typo: 0.8  #", 1))
    with pytest.raises(ValueError, match="t1.matched_cosine_min must be a number"):
        parse_targets(text.replace("matched_cosine_min: 0.99", "matched_cosine_min: high"))


def test_every_threshold_has_a_comment_and_the_file_is_package_data():
    for line in TARGETS_YAML.read_text(encoding="utf-8").splitlines():
        if re.match(r"\s*[a-z0-9_]+:\s*[-+0-9.eE]+\s*(#|$)", line):
            assert re.search(r"#\s*\S", line), f"threshold without a comment saying what it measures: {line!r}"
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "analysis/targets.yaml" in pyproject["tool"]["setuptools"]["package-data"]["ilola_lib"]


def test_every_target_is_used_outside_the_targets_module():
    files = {path: text for path, text in code_files().items() if path != "ilola_lib/analysis/targets.py"}
    unused = [path for path in leaf_paths()
              if not any(re.search(rf"\.{path.rsplit('.', 1)[-1]}\b", text) for text in files.values())]
    assert not unused, f"targets nothing reads: {unused}"
    # a group whose leaves share names with another's (t2.ilola and t3.ilola) must be read as a group
    groups = {path.rsplit(".", 1)[0] for path in leaf_paths() if path.count(".") >= 2}
    unread = [group for group in sorted(groups) if not any(f".{group}" in text for text in files.values())]
    assert not unread, f"target groups nothing reads: {unread}"


def test_no_removed_threshold_constant_is_left():
    found = [f"{path}: {name}" for path, text in code_files().items() for name in REMOVED_CONSTANTS
             if re.search(rf"\b{name}\b", text)]
    assert not found, "threshold constants outside the targets file:\n" + "\n".join(found)


def _numbers_compared(source: str) -> list[tuple[int, float]]:
    """(line, value) of every numeric literal other than 0 and 1 that is an operand of a comparison."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            for operand in (node.left, *node.comparators):
                if isinstance(operand, ast.UnaryOp) and isinstance(operand.op, ast.USub):
                    operand = operand.operand
                if isinstance(operand, ast.Constant) and type(operand.value) in (int, float) \
                        and operand.value not in (0, 1):
                    found.append((node.lineno, operand.value))
    return found


def test_no_threshold_number_is_hard_coded_in_a_comparison():
    problems = [f"{path}:{line}: compares with {value}" for path in THRESHOLD_MODULES
                for line, value in _numbers_compared((ROOT / path).read_text(encoding="utf-8"))]
    assert not problems, "hard-coded thresholds (read them from the targets file):\n" + "\n".join(problems)


def test_the_hard_coded_threshold_check_catches_a_planted_one():
    assert _numbers_compared("ok = cosine >= 0.9\nalso = ratio <= targets.ratio_1b_1a_max and n > 0") == [(1, 0.9)]
    assert _numbers_compared("hit = -1e-10 < kl") == [(1, 1e-10)]
    planted = "TARGET_COSINE = 0.9\n"
    assert any(re.search(rf"\b{name}\b", planted) for name in REMOVED_CONSTANTS)


def test_targets_module_reads_the_package_file():
    assert targets_module.TARGETS_FILE == TARGETS_YAML.name
    assert TARGETS_YAML.parent == Path(targets_module.__file__).parent
