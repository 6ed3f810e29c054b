"""The package's one-way layout, and dvc.yaml deps that cover every module a stage can reach.

Layers (folders of ``ilola_lib``) and what each may import:

    core      → core
    inverse   → core, inverse
    analysis  → core, analysis
    pipeline  → core, pipeline
    tasks/tN  → core, inverse, analysis, pipeline, tasks/tN   (never another task)

Every module may import the root package ``ilola_lib`` (Python runs its ``__init__`` anyway) and task
modules may import the ``ilola_lib.tasks`` package. Only ``tasks/tN`` may import an environment package.

A DVC stage that runs a notebook must list deps covering every ``ilola_lib`` module file the notebook (and
the runner module in its ``cmd``) can import, so that no code change can leave a stage's outputs stale.
"""

from __future__ import annotations

import ast
import functools
import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "ilola_lib"
ENVIRONMENT_PACKAGES = frozenset({"mpe2", "pettingzoo", "Box2D", "gymnasium"})
GENERIC_LAYERS = ("core", "inverse", "analysis", "pipeline")
TOOL_LAYERS = ("verify",)  # command-line tools on top of the results; no stage imports them
MAY_IMPORT = {"core": {"core"},
              "inverse": {"core", "inverse"},
              "analysis": {"core", "analysis"},
              "pipeline": {"core", "pipeline"},
              "verify": {"core", "analysis", "verify"}}


# --- modules and their imports ------------------------------------------------------------------------

def package_modules(root: Path = ROOT) -> dict[str, str]:
    """Dotted module name → file path relative to ``root`` for every module of the package."""
    modules = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        relative = path.relative_to(root)
        if "__pycache__" not in relative.parts:
            modules[module_name(relative.as_posix())[0]] = relative.as_posix()
    return modules


def module_name(path: str) -> tuple[str, bool]:
    """``ilola_lib/core/io.py`` → (``ilola_lib.core.io``, False); ``…/__init__.py`` → (package, True)."""
    parts = list(Path(path).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _resolve_relative(module: str | None, level: int, package: str | None) -> str | None:
    if level == 0:
        return module
    if not package:
        return None  # a relative import outside a package (a notebook cell) cannot be resolved
    parts = package.split(".")
    if level - 1 > len(parts) - 1:
        return None
    base = ".".join(parts[:len(parts) - (level - 1)])
    return f"{base}.{module}" if module else base


def imported_modules(source: str, path: str | None, modules: dict[str, str]) -> list[str]:
    """The modules ``source`` imports, the most specific target per imported name.

    ``import a.b`` → ``a.b``; ``from a import b`` → ``a.b`` if that is a module in ``modules``, else ``a``;
    relative imports are resolved against ``path``; ``importlib.import_module("x")`` and ``__import__("x")``
    with a constant name count as ``import x``. Imports anywhere (functions, ``if TYPE_CHECKING``) count.
    """
    package = None
    if path is not None:
        name, is_package = module_name(path)
        package = name if is_package else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, filename=path or "<source>")):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve_relative(node.module, node.level, package)
            if base is None:
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.append(submodule if alias.name != "*" and submodule in modules else base)
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            function = node.func
            called = function.id if isinstance(function, ast.Name) else \
                function.attr if isinstance(function, ast.Attribute) else None
            if called in ("import_module", "__import__"):
                found.append(node.args[0].value)
    return found


# --- the layer rule -----------------------------------------------------------------------------------

def layer_of(module: str) -> str | None:
    """The layer of a dotted ``ilola_lib`` module name; None outside the package, "unplaced" if no layer."""
    parts = module.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return "root"
    if parts[1] in GENERIC_LAYERS + TOOL_LAYERS:
        return parts[1]
    if parts[1] == "tasks":
        if len(parts) == 2:
            return "tasks"
        if re.fullmatch(r"t\d+", parts[2]):
            return f"tasks/{parts[2]}"
    return "unplaced"


def may_import(source_layer: str, target_layer: str) -> bool:
    if "unplaced" in (source_layer, target_layer):
        return False
    if target_layer == "root":
        return True
    if target_layer == "tasks":
        return source_layer.startswith("tasks")
    if source_layer.startswith("tasks/"):
        return target_layer in GENERIC_LAYERS or target_layer == source_layer
    return target_layer in MAY_IMPORT.get(source_layer, set())


def layer_violations(source: str, path: str, modules: dict[str, str]) -> list[str]:
    """``"importer → imported (why)"`` for every import in ``source`` (module file ``path``) the rule forbids."""
    importer = module_name(path)[0]
    source_layer = layer_of(importer)
    violations = []
    if source_layer == "unplaced":
        violations.append(f"{importer} → (module is in no layer: not under {', '.join(GENERIC_LAYERS)} or tasks/tN)")
    for target in imported_modules(source, path, modules):
        target_layer = layer_of(target)
        if target_layer is None:
            if target.split(".")[0] in ENVIRONMENT_PACKAGES and not source_layer.startswith("tasks/"):
                violations.append(f"{importer} → {target} (environment package outside tasks/)")
        elif not may_import(source_layer, target_layer):
            violations.append(f"{importer} → {target} ({source_layer} may not import {target_layer})")
    return sorted(set(violations))


def test_layer_check_flags_planted_violations():
    modules = package_modules()
    assert "ilola_lib.tasks.t2.ppo" in modules
    cases = {("from ilola_lib.tasks.t2 import ppo", "ilola_lib/tasks/t3/x.py"): "ilola_lib.tasks.t2.ppo",
             ("import mpe2", "ilola_lib/inverse/x.py"): "mpe2",
             ("def f():\n    from Box2D import b2World\n", "ilola_lib/core/x.py"): "Box2D",
             ("from ..t1 import experiment", "ilola_lib/tasks/t3/x.py"): "ilola_lib.tasks.t1.experiment",
             ("from ilola_lib import tasks", "ilola_lib/analysis/x.py"): "ilola_lib.tasks",
             ("import importlib\nimportlib.import_module('ilola_lib.tasks.t1')", "ilola_lib/pipeline/x.py"):
                 "ilola_lib.tasks.t1",
             ("from ilola_lib.analysis.summary import KL_KEYS", "ilola_lib/inverse/x.py"): "ilola_lib.analysis.summary",
             ("from ilola_lib.core.io import write_json", "ilola_lib/experiments/x.py"): "no layer"}
    for (source, path), expected in cases.items():
        violations = layer_violations(source, path, modules)
        assert any(expected in v for v in violations), (source, path, violations)
    allowed = {("from ilola_lib.tasks.t3.ppo import train_multiwalker_ppo\nimport pettingzoo", "ilola_lib/tasks/t3/x.py"),
               ("from ilola_lib.core import io\nfrom ilola_lib.inverse import ma_lfl", "ilola_lib/inverse/x.py"),
               ("import ilola_lib\nfrom . import io", "ilola_lib/core/x.py")}
    for source, path in allowed:
        assert layer_violations(source, path, modules) == [], (source, path)


def test_every_module_imports_only_what_its_layer_allows():
    modules = package_modules()
    assert len(modules) > 20 and all(layer_of(name) for name in modules)
    violations = [v for path in modules.values()
                  for v in layer_violations((ROOT / path).read_text(encoding="utf-8"), path, modules)]
    assert not violations, "layer violations (importer → imported):\n" + "\n".join(violations)


# --- dvc.yaml stages ----------------------------------------------------------------------------------

_REFERENCE = re.compile(r"\$\{\s*([^}\s]+)\s*\}")


def _lookup(context: dict, dotted: str):
    value = context
    for key in dotted.split("."):
        value = value[key]
    return value


def _interpolate(node, context: dict):
    if isinstance(node, str):
        whole = _REFERENCE.fullmatch(node)
        if whole:
            return _lookup(context, whole.group(1))
        return _REFERENCE.sub(lambda match: str(_lookup(context, match.group(1))), node)
    if isinstance(node, list):
        return [_interpolate(item, context) for item in node]
    if isinstance(node, dict):
        return {_interpolate(key, context): _interpolate(value, context) for key, value in node.items()}
    return node


def expanded_stages(dvc: dict, params: dict) -> dict[str, list[dict]]:
    """Stage group name → its stages with ``${…}`` substituted (one per ``foreach`` item, else one)."""
    groups = {}
    for name, stage in dvc["stages"].items():
        if "foreach" in stage:
            items = _interpolate(stage["foreach"], params)
            pairs = list(items.items()) if isinstance(items, dict) else list(enumerate(items))
            groups[name] = [_interpolate(stage["do"], {**params, "item": item, "key": key}) for key, item in pairs]
        else:
            groups[name] = [_interpolate(stage, params)]
    return groups


def _paths(entries) -> list[str]:
    paths = []
    for entry in entries or []:
        paths.extend(entry if isinstance(entry, dict) else [entry])
    return [str(path).rstrip("/") for path in paths]


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def notebook_command(cmd: str) -> tuple[str, str] | None:
    """(runner module, source notebook) of ``python -m MODULE NOTEBOOK …``; None for other commands."""
    tokens = shlex.split(cmd)
    if "-m" not in tokens:
        return None
    module = tokens[tokens.index("-m") + 1]
    notebooks = [token for token in tokens if token.endswith(".ipynb")]
    return (module, notebooks[0]) if notebooks else None


def notebook_source(path: Path) -> str:
    """The notebook's code cells as Python (IPython magics translated when IPython is available)."""
    cells = ["".join(cell["source"]) for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]
             if cell["cell_type"] == "code"]
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        cells = [TransformerManager().transform_cell(cell) for cell in cells]
    except ImportError:
        pass
    return "\n".join(cells)


def reachable_files(roots: list[str], modules: dict[str, str], read=None) -> tuple[set[str], set[str]]:
    """(module files, missing module names) of the transitive ``ilola_lib`` import closure of ``roots``.

    Importing ``a.b.c`` runs ``a/__init__.py``, ``a/b/__init__.py`` and ``a/b/c.py``, so every parent package
    counts; ``from a.b import c`` with ``c`` a submodule imports ``a.b.c`` as well.
    """
    read = read or (lambda path: (ROOT / path).read_text(encoding="utf-8"))
    seen, files, missing = set(), set(), set()
    stack = [name for name in roots if name.split(".")[0] == PACKAGE]
    while stack:
        name = stack.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):
            candidate = ".".join(parts[:depth])
            if candidate in seen:
                continue
            seen.add(candidate)
            if candidate not in modules:
                missing.add(candidate)
                continue
            path = modules[candidate]
            files.add(path)
            stack.extend(target for target in imported_modules(read(path), path, modules)
                         if target.split(".")[0] == PACKAGE)
    return files, missing


def stage_coverage_problems(stage: dict, modules: dict[str, str], root: Path = ROOT, read=None) -> list[str]:
    """What a notebook stage's deps fail to cover: module files outside every dep, missing modules, notebook."""
    runner, notebook = notebook_command(stage["cmd"])
    deps = _paths(stage.get("deps"))
    roots = [runner] + imported_modules(notebook_source(root / notebook), None, modules)
    files, missing = reachable_files(roots, modules, read)
    problems = [f"imports {name}, which is not a module of the package" for name in sorted(missing)]
    if notebook not in deps:
        problems.append(f"its notebook {notebook} is not a dep")
    problems += [f"{path} is not covered by any dep" for path in sorted(files)
                 if not any(_under(path, dep) for dep in deps)]
    return problems


@functools.cache
def _pipeline() -> tuple[dict[str, list[dict]], dict[str, str]]:
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    return expanded_stages(dvc, params), package_modules()


def _notebook_groups() -> list[str]:
    groups, _ = _pipeline()
    return [name for name, stages in groups.items() if "cmd" in stages[0] and notebook_command(stages[0]["cmd"])]


PARAMS_STAMP = "results/params_check.txt"


def test_every_python_stage_runs_a_notebook_through_the_pipeline_runner():
    groups, _ = _pipeline()
    assert len(_notebook_groups()) >= 12
    for name, stages in groups.items():
        if "python" in stages[0]["cmd"] and name not in ("validate_params", "book"):
            command = notebook_command(stages[0]["cmd"])
            assert command and command[0] == "ilola_lib.pipeline.notebook_runner", (name, stages[0]["cmd"])


def test_params_are_validated_by_a_stage_every_notebook_stage_waits_for():
    """`validate_params` checks the whole params.yaml first, so a bad key stops `dvc repro` before any stage runs
    (and before DVC removes any stage's outputs); its deps cover the config module's imports."""
    groups, modules = _pipeline()
    validate = groups["validate_params"][0]
    assert validate["cmd"].split()[:3] == ["python", "-m", "ilola_lib.pipeline.config"]
    assert _paths(validate["outs"]) == [PARAMS_STAMP] and validate["params"] == [{"params.yaml": None}]
    files, missing = reachable_files(["ilola_lib.pipeline.config"], modules)
    assert not missing and all(any(_under(f, dep) for dep in _paths(validate["deps"])) for f in files)
    for group in _notebook_groups():
        assert PARAMS_STAMP in _paths(groups[group][0]["deps"]), group


@pytest.mark.parametrize("group", _notebook_groups())
def test_stage_deps_cover_every_module_its_notebook_can_reach(group):
    groups, modules = _pipeline()
    stage = groups[group][0]  # foreach: any one item (deps are the same code for every item)
    problems = stage_coverage_problems(stage, modules)
    assert not problems, f"stage {group}:\n" + "\n".join(problems)
    runner_files, _ = reachable_files([notebook_command(stage["cmd"])[0]], modules)
    assert "ilola_lib/pipeline/notebook_runner.py" in runner_files  # the cmd's module is checked like the notebook


@pytest.mark.parametrize("group", _notebook_groups())
def test_every_package_dep_is_reached_by_the_stage(group):
    """No package dep a notebook cannot import: such a dep would rerun the stage for nothing."""
    groups, modules = _pipeline()
    stage = groups[group][0]
    runner, notebook = notebook_command(stage["cmd"])
    files, _ = reachable_files([runner] + imported_modules(notebook_source(ROOT / notebook), None, modules), modules)
    unused = [dep for dep in _paths(stage.get("deps")) if _under(dep, PACKAGE)
              and not any(_under(path, dep) for path in files)]
    assert not unused, f"stage {group} depends on package paths it never imports: {unused}"


def test_coverage_check_flags_a_stage_whose_deps_omit_a_folder():
    groups, modules = _pipeline()
    stage = dict(groups["t2_invert"][0])
    assert stage_coverage_problems(stage, modules) == []
    without_core = {**stage, "deps": [dep for dep in _paths(stage["deps"]) if dep != "ilola_lib/core"]}
    problems = stage_coverage_problems(without_core, modules)
    assert any("ilola_lib/core/io.py is not covered" in p for p in problems), problems
    assert any("ilola_lib/core/neural_trace.py" in p for p in problems), problems
    # a module reached only through another module (core.seeds ← inverse.trace_inversion) is found too
    without_inverse = {**stage, "deps": [dep for dep in _paths(stage["deps"]) if dep != "ilola_lib/inverse"]}
    assert any("ilola_lib/inverse/policy_fit.py" in p for p in stage_coverage_problems(without_inverse, modules))
    # a planted import of another task's module, reached through a task module, is followed
    planted = {"ilola_lib/tasks/t2/invert.py": "from ilola_lib.tasks import t1\n"}
    read = lambda path: planted.get(path) or (ROOT / path).read_text(encoding="utf-8")  # noqa: E731
    problems = stage_coverage_problems(stage, modules, read=read)
    assert any("ilola_lib/tasks/t1/__init__.py is not covered" in p for p in problems), problems
    # a stale dep list (the pre-restructure paths) fails, and so does an import of a module that is gone
    stale = {**stage, "deps": ["notebooks/t2_invert.ipynb", "ilola_lib/experiments/t2_inverse.py", "ilola_lib/inverse"]}
    assert any("tasks/t2/invert.py is not covered" in p for p in stage_coverage_problems(stale, modules))
    read = lambda path: "from ilola_lib.experiments import t2\n" if path.endswith("t2/invert.py") else \
        (ROOT / path).read_text(encoding="utf-8")  # noqa: E731
    assert any("ilola_lib.experiments" in p for p in stage_coverage_problems(stage, modules, read=read))


def test_every_dep_exists_or_is_another_stages_output():
    groups, _ = _pipeline()
    outputs = {name: {out for stage in stages for out in _paths(stage.get("outs"))} for name, stages in groups.items()}
    missing = []
    for name, stages in groups.items():
        others = set().union(*(outs for other, outs in outputs.items() if other != name))
        for stage in stages:
            for dep in _paths(stage.get("deps")):
                produced = any(_under(dep, out) or _under(out, dep) for out in others)
                if not produced and not (ROOT / dep).exists():
                    missing.append(f"{name}: {dep}")
    assert not missing, "deps that neither exist nor are produced by another stage:\n" + "\n".join(sorted(set(missing)))


def stage_names(dvc: dict, params: dict) -> set[str]:
    """The names DVC gives the stages of ``dvc.yaml``: ``name@item`` per ``foreach`` item, else ``name``."""
    names = set()
    for name, stage in dvc["stages"].items():
        if "foreach" in stage:
            items = _interpolate(stage["foreach"], params)
            names.update(f"{name}@{key}" for key in (items if isinstance(items, dict) else items))
        else:
            names.add(name)
    return names


def test_every_lock_entry_is_a_stage_of_the_pipeline():
    # DVC keeps the lock entries of stages that were removed or turned from per-seed into one stage.
    dvc = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    locked = set(yaml.safe_load((ROOT / "dvc.lock").read_text(encoding="utf-8"))["stages"])
    stale = locked - stage_names(dvc, params)
    assert not stale, f"dvc.lock holds entries of stages dvc.yaml no longer has: {sorted(stale)}"


def test_stage_names_flag_a_planted_stale_lock_entry():
    dvc = {"stages": {"learn": {"foreach": "${seeds}", "do": {"cmd": "x"}}, "invert": {"cmd": "y"}}}
    names = stage_names(dvc, {"seeds": [0, 1]})
    assert names == {"learn@0", "learn@1", "invert"}
    assert {"invert@0", "learn@0"} - names == {"invert@0"}


def test_book_deps_match_the_table_of_contents():
    groups, _ = _pipeline()
    deps = set(_paths(groups["book"][0]["deps"]))
    toc = yaml.safe_load((ROOT / "book" / "_toc.yml").read_text(encoding="utf-8"))

    def entries(node):
        if isinstance(node, dict):
            for key in ("root", "file", "glob"):
                if key in node:
                    yield key, node[key]
            for value in node.values():
                if isinstance(value, (list, dict)):
                    yield from entries(value)
        elif isinstance(node, list):
            for value in node:
                yield from entries(value)

    referenced = set()
    for kind, entry in entries(toc):
        if kind == "glob":
            folder = "book/" + entry.rpartition("/")[0]
            assert folder in deps, f"toc glob {entry}: {folder} is not a dep of the book stage"
            referenced.add(folder)
        else:
            candidates = {f"book/{entry}.md", f"book/{entry}.ipynb"} & deps
            assert len(candidates) == 1, f"toc file {entry} is not a dep of the book stage"
            referenced |= candidates
    assert deps - referenced == {"book/_config.yml", "book/_toc.yml", "book/references.bib",
                                 "ilola_lib/pipeline/book_check.py"}, deps - referenced
    assert groups["book"][0]["cmd"].endswith("python -m ilola_lib.pipeline.book_check book/_build/html")


def test_dvcignore_excludes_python_bytecode_at_any_depth():
    from dvc.fs import LocalFileSystem
    from dvc.ignore import DvcIgnorePatterns

    patterns = DvcIgnorePatterns.from_file(str(ROOT / ".dvcignore"), LocalFileSystem(), ".dvcignore")
    for folder in ("ilola_lib", "ilola_lib/core", "ilola_lib/tasks/t2"):
        assert patterns.matches(str(ROOT / folder), "__pycache__", is_dir=True), folder
        assert patterns.matches(str(ROOT / folder / "__pycache__"), "io.cpython-311.pyc"), folder
        assert patterns.matches(str(ROOT / folder), "stray.pyc"), folder
    for folder, name in (("ilola_lib/core", "io.py"), ("notebooks", "t1_gridworld.ipynb"), ("results/t1", "summary.json")):
        assert not patterns.matches(str(ROOT / folder), name), (folder, name)
