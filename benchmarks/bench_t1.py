"""T1 timing targets, measured in one run: the whole paper profile (all seeds, forced) and a no-op rerun.

    python benchmarks/bench_t1.py          # from the repository root, inside the project's venv

Targets (T1 issue): full T1 paper profile ≤ 180 s on 2 cores; a second `dvc repro` with nothing
changed ≤ 5 s. Prints each measured time and its ratio to the target.
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
    full = timed(dvc + ["--force", "t1_summary"])
    noop = timed(dvc)
    for name, seconds, target in (("T1 paper profile, forced", full, 180.0), ("no-op dvc repro", noop, 5.0)):
        verdict = "met" if seconds <= target else "MISSED"
        print(f"{name:28s} {seconds:8.1f} s   target {target:6.1f} s   ratio {seconds / target:5.2f}  {verdict}")


if __name__ == "__main__":
    main()
