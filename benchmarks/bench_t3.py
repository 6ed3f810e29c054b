"""T3 timing target, measured in one run: the whole MultiWalker paper profile, forced stage by stage.

    python benchmarks/bench_t3.py   # repository root, project venv, idle machine

Runs ``t3_learn`` (every seed's walkers, on ``t3.workers`` processes), ``t3_invert``, ``t3_warm_up``,
``t3_induce`` and ``t3_report`` with ``dvc repro --force --single-item``, prints each stage's seconds and
the total against the issue's target on 2 cores (``t3_pipeline_seconds_max`` in
``ilola_lib/analysis/targets.yaml``). The stages write the paper-profile results as ``dvc repro`` would.
"""

from __future__ import annotations

from bench_t2 import forced_stage_seconds

from ilola_lib.analysis.targets import load_targets


def main() -> None:
    print("T3 paper profile, forced, per stage:")
    seconds = forced_stage_seconds({name: [name] for name in ("t3_learn", "t3_invert", "t3_warm_up", "t3_induce",
                                                                       "t3_report")})
    total = sum(seconds.values())
    invert_max = load_targets().benchmarks.t3_invert_seconds_max
    print(f"T3 invert {seconds['t3_invert'] / 60:.1f} min   target {invert_max / 60:.0f} min   "
          f"{'met' if seconds['t3_invert'] <= invert_max else 'MISSED'}")
    target = load_targets().benchmarks.t3_pipeline_seconds_max
    verdict = "met" if total <= target else "MISSED"
    print(f"T3 total {total / 60:.1f} min   target {target / 60:.0f} min   ratio {total / target:.2f}  {verdict}")


if __name__ == "__main__":
    main()
