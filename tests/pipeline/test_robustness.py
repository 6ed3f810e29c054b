"""Robustness of the pipeline plumbing: bad inputs name their file and stage, a stopped stage leaves no scratch
notebook next to its output, and parallel workers die with their parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import numpy as np
import pytest

from ilola_lib.core.cpu_dispatch import AVX2_PIN, pinned_simd_environment
from ilola_lib.core.io import CorruptFileError, load_arrays, producing_stage, read_json, save_arrays, write_json
from ilola_lib.core.parallel import run_jobs
from ilola_lib.pipeline import notebook_runner

ROOT = Path(__file__).resolve().parents[2]

DVC_YAML = """\
stages:
  letters:
    foreach: [a, b]
    do:
      cmd: echo ${item}
      outs:
        - results/letters/${item}.json:
            cache: false
  t2_invert:
    foreach: ${t2.seeds}
    do:
      cmd: echo ${item}
      outs:
        - results/t2/inverse/seed_${item}.json:
            cache: false
        - data/t2/seed_${item}
  summary:
    cmd: echo summary
    outs:
      - results/summary.json
"""
PARAMS_YAML = "t2:\n  seeds: [0, 7]\n"


@pytest.fixture
def pipeline_dir(tmp_path, monkeypatch):
    """A working directory with a small dvc.yaml (foreach over a literal list and over ``${t2.seeds}``)."""
    (tmp_path / "dvc.yaml").write_text(DVC_YAML)
    (tmp_path / "params.yaml").write_text(PARAMS_YAML)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


# --- bad input names its file and the stage that writes it ---------------------------------------------------


def test_producing_stage_expands_foreach_stages_and_folder_outs(pipeline_dir):
    assert producing_stage("results/t2/inverse/seed_7.json") == "t2_invert@7"
    assert producing_stage(pipeline_dir / "results/t2/inverse/seed_0.json") == "t2_invert@0"  # absolute path
    assert producing_stage("data/t2/seed_7/trace.npz") == "t2_invert@7"  # inside a folder out
    assert producing_stage("results/letters/b.json") == "letters@b"
    assert producing_stage("results/summary.json") == "summary"
    assert producing_stage("results/t2/inverse/seed_1.json") is None  # 1 is not a seed in params.yaml
    assert producing_stage("data/t2/seed_70/trace.npz") is None  # seed_7 is not a folder of seed_70
    os.remove("dvc.yaml")
    assert producing_stage("results/summary.json") is None


def test_truncated_json_names_the_file_and_the_expanded_stage(pipeline_dir):
    for name, stage in (("results/t2/inverse/seed_7.json", "t2_invert@7"), ("results/letters/b.json", "letters@b")):
        write_json(name, {"weights": [[0.5] * 40] * 10, "method": "ilola"})
        truncate(Path(name), 300)
        with pytest.raises(CorruptFileError) as error:
            read_json(name)
        message = str(error.value)
        assert isinstance(error.value, ValueError)
        assert message.startswith(f"{name} is truncated or not valid JSON (")
        assert f"DVC stage '{stage}': rerun it with 'dvc repro {stage}'" in message


def test_truncated_npz_names_the_file_and_the_stage_of_its_folder(pipeline_dir):
    path = Path("data/t2/seed_7/trace.npz")
    save_arrays(path, {"a": np.arange(1000.0)})
    truncate(path, 40)
    with pytest.raises(ValueError, match="cannot read trace file data/t2/seed_7/trace.npz") as error:
        load_arrays(path)
    assert "'dvc repro t2_invert@7'" in str(error.value)
    save_arrays(path, {"a": np.arange(3.0)})
    with pytest.raises(ValueError, match=r"lacks arrays \['b'\].*'dvc repro t2_invert@7'"):
        load_arrays(path, required=("a", "b"))


def test_missing_files_raise_file_not_found_with_the_stage(pipeline_dir):
    with pytest.raises(FileNotFoundError, match=r"results/t2/inverse/seed_0.json does not exist; .*'t2_invert@0'"):
        read_json("results/t2/inverse/seed_0.json")
    with pytest.raises(FileNotFoundError, match=r"data/t2/seed_0/trace.npz: it does not exist; .*'t2_invert@0'"):
        load_arrays("data/t2/seed_0/trace.npz")
    with pytest.raises(ValueError, match="cannot read trace file"):  # as before: a ValueError too
        load_arrays("data/t2/seed_0/trace.npz")
    with pytest.raises(FileNotFoundError, match="it is not a pipeline output"):
        read_json("elsewhere.json")


def test_files_outside_any_stage_say_so_and_the_happy_path_is_unchanged(pipeline_dir):
    Path("notes.json").write_text('{"a": [1, 2')
    with pytest.raises(CorruptFileError, match=r"notes.json is truncated .*it is not a pipeline output \(no stage in"):
        read_json("notes.json")
    data = {"b": 1.5, "a": [1, 2], "c": {"d": None}}
    write_json("results/summary.json", data)
    assert Path("results/summary.json").read_bytes() == (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()
    assert read_json("results/summary.json") == data
    save_arrays("data/t2/seed_0/trace.npz", {"x": np.arange(4.0), "y": np.eye(2, dtype=np.float32)})
    arrays = load_arrays("data/t2/seed_0/trace.npz", required=("x",))
    assert sorted(arrays) == ["x", "y"] and arrays["y"].dtype == np.float32
    np.testing.assert_array_equal(arrays["x"], np.arange(4.0))


def test_a_broken_dvc_yaml_does_not_hide_the_error(pipeline_dir):
    Path("dvc.yaml").write_text("stages: [unclosed\n")
    Path("notes.json").write_text("{")
    with pytest.raises(CorruptFileError, match="notes.json is truncated .*DVC stage that writes it is unknown"):
        read_json("notes.json")


# --- the notebook runner's scratch copy never lives next to the output -----------------------------------------


ORIGINAL_ENVIRONMENT = {name: os.environ[name] for name in AVX2_PIN if name in os.environ}


def write_notebook(path: Path, *sources: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell('marker = ""', metadata={"tags": ["parameters"]})]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in sources]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, path)
    return path


def test_run_notebook_creates_nothing_but_the_output_in_its_folder(tmp_path, monkeypatch):
    source = write_notebook(tmp_path / "source.ipynb", "print(1)")
    output = tmp_path / "book" / "t2" / "out.ipynb"
    seen = {}

    def fake_execute(input_path, output_path, **kwargs):
        """What papermill does: write the executed copy to ``output_path`` (here while the "kernel runs")."""
        notebook = json.loads(Path(input_path).read_text())
        notebook["metadata"]["papermill"] = {"parameters": kwargs["parameters"]}
        Path(output_path).write_text(json.dumps(notebook))
        seen["output_path"] = Path(output_path)
        seen["book_during_run"] = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "book").rglob("*"))
        return notebook

    monkeypatch.setattr(notebook_runner.papermill, "execute_notebook", fake_execute)
    before = signal.getsignal(signal.SIGTERM)
    notebook_runner.run_notebook(source, output, {"marker": "x"})
    assert seen["book_during_run"] == ["book/t2"], "papermill's scratch copy must not be next to the output"
    assert seen["output_path"].parent.name.startswith("ilola-papermill-")
    assert not seen["output_path"].parent.exists(), "the scratch folder is removed"
    assert tmp_path not in seen["output_path"].parents and ROOT not in seen["output_path"].parents
    assert sorted(p.name for p in output.parent.iterdir()) == ["out.ipynb"]
    assert "papermill" not in json.loads(output.read_text())["metadata"]
    assert signal.getsignal(signal.SIGTERM) is before, "the previous SIGTERM handler is restored"


def test_run_notebook_removes_its_scratch_folder_when_execution_fails(tmp_path, monkeypatch):
    def failing_execute(input_path, output_path, **kwargs):
        Path(output_path).write_text("{}")
        failing_execute.scratch = Path(output_path).parent
        raise RuntimeError("kernel died")

    monkeypatch.setattr(notebook_runner.papermill, "execute_notebook", failing_execute)
    output = tmp_path / "book" / "out.ipynb"
    with pytest.raises(RuntimeError, match="kernel died"):
        notebook_runner.run_notebook(write_notebook(tmp_path / "source.ipynb"), output, {})
    assert not failing_execute.scratch.exists()
    assert list(output.parent.iterdir()) == []


def test_the_kernel_and_its_workers_run_with_the_pinned_simd_dispatch(tmp_path):
    names = sorted(AVX2_PIN)
    source = write_notebook(tmp_path / "source.ipynb",
                            "import os\n"
                            "from ilola_lib.core.parallel import run_jobs\n"
                            f"print(repr([os.environ.get(n) for n in {names!r}]))\n"
                            f"print(repr(run_jobs(os.getenv, [(n,) for n in {names!r}], 2)))")
    output = notebook_runner.run_notebook(source, tmp_path / "out.ipynb", {})
    printed = "".join("".join(o.get("text", "")) for c in json.loads(output.read_text())["cells"]
                      for o in c.get("outputs", []))
    pinned = pinned_simd_environment()
    expected = repr([pinned.get(n, os.environ.get(n)) for n in names])
    assert printed.splitlines() == [expected, expected], "the kernel and the workers it spawns see the pin"
    assert all(os.environ.get(n) == ORIGINAL_ENVIRONMENT.get(n) for n in names), "the runner's environment is restored"


def child_pids(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    children = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                children.add(int(entry.name))
    return children


def is_gone(pid: int) -> bool:
    """``pid`` has exited (absent, or a zombie nobody has reaped yet)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return "\nState:\tZ" in status


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def subprocess_env(tmp_path: Path, *paths: Path) -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, (*paths, ROOT))), "TMPDIR": str(tmp_path)}


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_sigterm_during_a_run_leaves_no_scratch_file_and_exits_non_zero(tmp_path):
    scratch_root = tmp_path / "tmp"
    scratch_root.mkdir()
    marker = tmp_path / "kernel_is_running"
    source = write_notebook(tmp_path / "source.ipynb", "open(marker, 'w').close()\nimport time\ntime.sleep(60)")
    output = tmp_path / "book" / "t2" / "out.ipynb"
    runner = subprocess.Popen(
        [sys.executable, "-m", "ilola_lib.pipeline.notebook_runner", str(source), str(output),
         "--params", str(ROOT / "params.yaml"), "-p", "marker", str(marker)],
        cwd=tmp_path, env=subprocess_env(scratch_root), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert wait_until(marker.exists, timeout=60), runner.communicate(timeout=5) if runner.poll() is not None else ""
        assert [p.name for p in scratch_root.iterdir() if p.name.startswith("ilola-papermill-")], "scratch in TMPDIR"
        assert list(output.parent.iterdir()) == [], "nothing next to the output while the kernel runs"
        kernels = child_pids(runner.pid)
        runner.send_signal(signal.SIGTERM)
        _, stderr = runner.communicate(timeout=30)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
    assert runner.returncode != 0, stderr.decode()
    assert [str(p) for p in (tmp_path / "book").rglob("*") if p.is_file()] == []
    assert [p.name for p in scratch_root.iterdir() if p.name.startswith("ilola-papermill-")] == []
    assert not output.exists()
    assert wait_until(lambda: all(map(is_gone, kernels)), timeout=5), "the kernel is shut down"


# --- parallel workers --------------------------------------------------------------------------------------------


SLOW_SQUARE = """\
import os, time

def slow_square(value, delay):
    time.sleep(delay)
    return value * value, os.getpid(), os.environ.get("OMP_NUM_THREADS")
"""


def test_run_jobs_returns_results_in_argument_order(tmp_path, monkeypatch):
    """A light job module (spawned workers import it, not this test file); the first job finishes last."""
    (tmp_path / "square_job.py").write_text(SLOW_SQUARE)
    monkeypatch.syspath_prepend(str(tmp_path))  # spawned workers get the parent's sys.path
    import square_job

    results = run_jobs(square_job.slow_square, [(1, 0.6), (2, 0.0), (3, 0.2), (4, 0.0)], workers=2)
    assert [square for square, _, _ in results] == [1, 4, 9, 16]
    assert len({pid for _, pid, _ in results}) == 2 and os.getpid() not in {pid for _, pid, _ in results}
    assert {threads for _, _, threads in results} == {"1"}
    results = run_jobs(square_job.slow_square, [(5, 0.0), (6, 0.0)], workers=1)
    assert [square for square, _, _ in results] == [25, 36] and len({pid for _, pid, _ in results}) == 1


SLEEPY_JOB = """\
import os, time

def job(directory):
    open(os.path.join(directory, str(os.getpid())), "w").close()
    time.sleep(120)
"""
PARENT = """\
import sys
from ilola_lib.core.parallel import run_jobs
import sleepy_job

if __name__ == "__main__":
    run_jobs(sleepy_job.job, [(sys.argv[1],), (sys.argv[1],)], 2)
"""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_workers_and_resource_tracker_die_with_a_killed_parent(tmp_path):
    (tmp_path / "sleepy_job.py").write_text(SLEEPY_JOB)
    (tmp_path / "parent.py").write_text(PARENT)
    pid_dir = tmp_path / "pids"
    pid_dir.mkdir()
    parent = subprocess.Popen([sys.executable, str(tmp_path / "parent.py"), str(pid_dir)], cwd=tmp_path,
                              env=subprocess_env(tmp_path, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    workers: set[int] = set()
    try:
        assert wait_until(lambda: len(list(pid_dir.iterdir())) == 2, timeout=60), "both workers started"
        workers = {int(p.name) for p in pid_dir.iterdir()}
        children = child_pids(parent.pid)
        assert workers < children, "the two workers and multiprocessing's resource tracker"
        parent.kill()
        parent.wait()
        assert wait_until(lambda: all(map(is_gone, children)), timeout=5), \
            [pid for pid in children if not is_gone(pid)]
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in workers:  # never leave a sleeping worker behind, even when the test fails
            if not is_gone(pid):
                os.kill(pid, signal.SIGKILL)


def test_the_worker_initializer_exits_when_its_parent_is_not_the_recorded_one(monkeypatch):
    exits = []
    monkeypatch.setattr(os, "_exit", lambda code: exits.append(code))
    from ilola_lib.core import parallel

    parallel._exit_with_parent(os.getppid() + 1)  # as if the recorded parent had died already
    assert wait_until(lambda: exits, timeout=2) and exits[0] != 0
