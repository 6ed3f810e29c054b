"""Run a parameterized notebook with papermill and normalise the executed copy.

``python -m ilola_lib.pipeline.notebook_runner SOURCE OUTPUT [--params params.yaml] -p name value …``

The whole ``params.yaml`` is validated first (:func:`ilola_lib.pipeline.config.load_params`): a bad key
anywhere stops every stage before any compute, with the dotted key in the message and a non-zero exit.

Executed notebooks differ between identical runs only in timestamps, durations, random cell ids
and kernel details; those are normalised so that DVC and git see no change when nothing changed.
The executed copy is written atomically, dressed for the book (:func:`present`): code collapsed under a
"show code" toggle, parameter cells removed and the seed in the page title.

Every kernel runs with the SIMD dispatch of torch, OpenBLAS and numpy pinned to AVX2 on x86-64
(:mod:`ilola_lib.core.cpu_dispatch`), so that the same seed gives the same bits on AVX2 and AVX-512 machines.

Papermill's scratch copy lives in a temporary folder outside the repository (``$TMPDIR/ilola-papermill-*``),
never next to the output, and is removed even when the stage is stopped with SIGTERM or Ctrl-C: a stray
notebook under ``book/`` would break the ``book`` stage. (After SIGKILL only that temporary folder is left.)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import tempfile
import threading
from pathlib import Path

import nbformat
import papermill
import yaml

from ilola_lib.core.cpu_dispatch import pinned_simd_environment
from ilola_lib.core.io import write_text
from ilola_lib.core.parallel import environment
from ilola_lib.pipeline.config import ConfigError, load_params


def normalise(notebook: dict) -> dict:
    """Drop run-dependent metadata and number cell ids deterministically."""
    notebook.get("metadata", {}).pop("papermill", None)
    notebook.get("metadata", {}).pop("widgets", None)
    for index, cell in enumerate(notebook.get("cells", [])):
        cell["id"] = f"cell-{index}"
        metadata = cell.get("metadata", {})
        metadata.pop("papermill", None)
        metadata.pop("execution", None)
        if cell.get("cell_type") == "code":
            cell["execution_count"] = None
            for output in cell.get("outputs", []):
                if "execution_count" in output:
                    output["execution_count"] = None
    return notebook


PARAMETER_TAGS = ("parameters", "injected-parameters")


def present(notebook: dict, parameters: dict) -> dict:
    """Tag the executed notebook for the book (idempotent).

    * the ``parameters`` cell and papermill's ``injected-parameters`` cell get ``remove-cell`` (the page title
      carries what a reader needs to know of them);
    * every other code cell gets ``hide-input`` (its source one click away), unless the notebook's author
      already gave it a ``remove-*`` or ``hide-*`` tag;
    * with a ``seed`` parameter, the page title (first ``# `` heading) names it: "one seed" becomes
      "seed N", any other title gets " (seed N)" appended;
    * with a ``section`` parameter (a task's notebook run on a variant's ``params.yaml`` section), the title gets
      " (section)" appended, so the variant's pages are told apart from the task's.
    """
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if any(tag in PARAMETER_TAGS for tag in tags):
            wanted = "remove-cell"
        elif any(tag.startswith(("remove-", "hide-")) for tag in tags):
            continue
        else:
            wanted = "hide-input"
        if wanted not in tags:
            tags.append(wanted)
    if "seed" in parameters:
        seed = parameters["seed"]
        _amend_title(notebook, lambda title: title.replace("one seed", f"seed {seed}", 1) if "one seed" in title
                     else title if f"(seed {seed})" in title else f"{title} (seed {seed})")
    if "section" in parameters:
        section = parameters["section"]
        _amend_title(notebook, lambda title: title if f"({section})" in title else f"{title} ({section})")
    return notebook


def _amend_title(notebook: dict, amend) -> None:
    """Replace the first ``# `` heading's text ``title`` by ``amend(title)`` (ValueError if there is none)."""
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "markdown":
            continue
        lines = "".join(cell["source"]).split("\n")
        for index, line in enumerate(lines):
            if line.startswith("# "):
                lines[index] = "# " + amend(line[2:])
                text = "\n".join(lines)
                cell["source"] = text.splitlines(keepends=True) if isinstance(cell["source"], list) else text
                return
    raise ValueError("notebook has no '# ' title to amend")


SCRATCH_PREFIX = "ilola-papermill-"


def run_notebook(source: str | Path, output: str | Path, parameters: dict) -> Path:
    """Execute ``source`` with ``parameters`` (papermill) and write the normalised copy, dressed for the book
    (:func:`present`), to ``output``.

    Papermill writes its copy into a temporary folder (removed afterwards, also on SIGTERM, which raises
    :class:`SystemExit` meanwhile); nothing but ``output`` itself is ever created in ``output``'s folder.
    The kernel starts with :func:`~ilola_lib.core.cpu_dispatch.pinned_simd_environment` in its environment.
    """
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with _sigterm_raises_system_exit(), environment(**pinned_simd_environment()):
        scratch_dir = tempfile.mkdtemp(prefix=SCRATCH_PREFIX)
        try:
            scratch = os.path.join(scratch_dir, "executed.ipynb")
            papermill.execute_notebook(str(source), scratch, parameters=parameters, progress_bar=False,
                                       kernel_name="python3", cwd=os.getcwd())
            notebook = present(normalise(json.loads(Path(scratch).read_text(encoding="utf-8"))), parameters)
        finally:
            shutil.rmtree(scratch_dir, ignore_errors=True)
    nbformat.validate(nbformat.from_dict(notebook))
    return write_text(output, json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def _sigterm_raises_system_exit():
    """Within the block, SIGTERM raises ``SystemExit(143)`` so that ``finally`` blocks (papermill shutting its
    kernel down, the scratch folder's removal) run; a second SIGTERM is ignored until the block ends, so it
    cannot interrupt that clean-up. The previous handler is restored afterwards. Only the main thread can
    handle signals; elsewhere the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum, frame):
        signal.signal(signum, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source")
    parser.add_argument("output")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="a notebook parameter; the value is parsed as YAML")
    parser.add_argument("--params", default="params.yaml",
                        help="the parameter file validated before the notebook runs (default: %(default)s)")
    args = parser.parse_args(argv)
    try:
        load_params(args.params)
    except (ConfigError, OSError) as error:
        raise SystemExit(f"notebook_runner: {error}") from None
    parameters = {name: yaml.safe_load(value) for name, value in args.parameter}
    run_notebook(args.source, args.output, parameters)


if __name__ == "__main__":
    main()
