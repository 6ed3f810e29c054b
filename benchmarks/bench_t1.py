"""T1 timing targets, measured in one run: the whole paper profile (all seeds, forced) and a no-op rerun.

    python benchmarks/bench_t1.py          # from the repository root, inside the project's venv

Targets (T1 issue; values in ``ilola_lib/analysis/targets.yaml``, section ``benchmarks``): the full T1 paper
profile on 2 cores (reported without and with the book build) and a second `dvc repro` with nothing changed,
each within its time target. Prints each measured time and its ratio to the target. Run it on an otherwise
idle machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from ilola_lib.analysis.targets import load_targets


def timed(command: list[str]) -> float:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    dvc = [sys.executable, "-m", "dvc", "repro"]
    compute = timed(dvc + ["--force", "t1_summary"])
    book = timed(dvc + ["--force", "--single-item", "book"])
    noop = timed(dvc)
    targets = load_targets().benchmarks
    rows = (("T1 stages (all seeds + summary), forced", compute, targets.t1_pipeline_seconds_max),
            ("T1 stages + book build", compute + book, targets.t1_pipeline_seconds_max),
            ("no-op dvc repro", noop, targets.t1_noop_repro_seconds_max))
    for name, seconds, target in rows:
        verdict = "met" if seconds <= target else "MISSED"
        print(f"{name:42s} {seconds:7.1f} s   target {target:6.1f} s   ratio {seconds / target:5.2f}  {verdict}")


if __name__ == "__main__":
    main()
