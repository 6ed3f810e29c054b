"""T1 timing targets, measured in one run: the whole paper profile (all seeds, forced) and a no-op rerun.

    python benchmarks/bench_t1.py          # from the repository root, inside the project's venv

Targets (T1 issue): full T1 paper profile ≤ 180 s on 2 cores (reported without and with the book
build); a second `dvc repro` with nothing changed ≤ 5 s. Prints each measured time and its ratio to
the target. Run it on an otherwise idle machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path


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
    rows = (("T1 stages (all seeds + summary), forced", compute, 180.0),
            ("T1 stages + book build", compute + book, 180.0),
            ("no-op dvc repro", noop, 5.0))
    for name, seconds, target in rows:
        verdict = "met" if seconds <= target else "MISSED"
        print(f"{name:42s} {seconds:7.1f} s   target {target:6.1f} s   ratio {seconds / target:5.2f}  {verdict}")


if __name__ == "__main__":
    main()
