"""environment.yml (conda route) and pyproject.toml must list the same runtime dependencies."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[\[=<>!~ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_every_runtime_dependency_with_the_same_pin():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    environment = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in environment["dependencies"]
    pip_section = next(d["pip"] for d in environment["dependencies"] if isinstance(d, dict) and "pip" in d)
    pinned = {_name(r): r.replace(" ", "") for r in pip_section if not r.startswith("-e")}
    for requirement in project["dependencies"] + [r for extra in project["optional-dependencies"].values() for r in extra]:
        assert _name(requirement) in pinned, f"{requirement} missing from environment.yml"
        assert pinned[_name(requirement)] == requirement.replace(" ", ""), f"{requirement} pinned differently"


def test_torch_is_pinned_to_the_cpu_release_and_jupyter_book_below_2():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert "torch==2.13.0" in dependencies
    book = next(d for d in dependencies if d.startswith("jupyter-book"))
    assert book.split("==")[1].startswith("1.")


def test_dvc_analytics_are_off():
    assert "analytics = false" in (ROOT / ".dvc" / "config").read_text()
