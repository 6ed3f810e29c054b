"""The T2 LOLA-PPO variant's whole paper profile, forced, timed in one run.

    python -m benchmarks.bench_t2_lola   # repository root, project venv, idle machine, T1 and T2 results present

Every seed's learn and induce stage, the invert stage (all seeds on ``t2_lola.workers`` processes) and the chapter,
forced one by one with DVC (upstream not re-run), each group timed. Target: the total within
``t2_lola_pipeline_seconds_max`` on 2 cores (``ilola_lib/analysis/targets.yaml``).
"""

from __future__ import annotations

from benchmarks.bench_t2 import forced_stage_seconds
from ilola_lib.analysis.targets import load_targets
from ilola_lib.pipeline.config import load_params


def main() -> None:
    seeds = load_params("params.yaml")["t2_lola"]["seeds"]
    print("T2 LOLA-PPO variant, paper profile, forced, per stage group:")
    stages = forced_stage_seconds({"learn (all seeds)": [f"t2_lola_learn@{s}" for s in seeds],
                                   "invert (all seeds)": ["t2_lola_invert"],
                                   "induce (all seeds)": [f"t2_lola_induce@{s}" for s in seeds],
                                   "report": ["t2_lola_report"]})
    total, target = sum(stages.values()), load_targets().benchmarks.t2_lola_pipeline_seconds_max
    print(f"T2 LOLA-PPO total {total / 60:.1f} min   target {target / 60:.0f} min   ratio {total / target:.2f}  "
          f"{'met' if total <= target else 'MISSED'}")


if __name__ == "__main__":
    main()
