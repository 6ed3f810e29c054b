"""T2 timing targets, measured in one run.

    python benchmarks/bench_t2.py [--skip-pipeline]   # repository root, project venv, idle machine

1. CMA-ES generation cost: the Stage B objective on the paper profile's fit pairs of the seed-0 trace
   (``data/t2/seed_0/trace.npz``, written by ``dvc repro t2_learn``) for a population of ``cma_popsize``
   candidates, evaluated in one batched call and one candidate at a time. Target: batched at least
   ``t2_cma_speedup_min`` times faster.
2. The whole T2 paper profile, forced: every seed's learn stage, the invert stage (all seeds on
   ``t2.workers`` processes), every seed's induce stage, then the learners summary and the report, each timed.
   Target: total within ``t2_pipeline_seconds_max`` on 2 cores.
Prints each measured time and its ratio to the target (targets: ``ilola_lib/analysis/targets.yaml``, section
``benchmarks``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ilola_lib.analysis.targets import load_targets
from ilola_lib.core.neural_trace import load_neural_trace
from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.inverse.policy_fit import stage_b_objective
from ilola_lib.core.protocol import analysed_pairs
from ilola_lib.inverse.trace_inversion import gradient_model, network_divergence, sample_states, templates_of
from ilola_lib.pipeline.config import load_params


def stage_b_problem(settings: dict, trace_path: Path, max_pairs: int | None = None):
    """The coupled GPOMDP learner model and the policy-space divergence on the paper profile's fit pairs of a
    trace (the first ``max_pairs`` of them, if given), and ``(N, q)``."""
    trace = load_neural_trace(trace_path)
    pairs, fit, _ = analysed_pairs(trace.num_phases, settings["held_out_every"], settings["fit_pair_stride"])
    fit_pairs = pairs[fit][:max_pairs]
    sample = sample_states(trace, fit_pairs, settings["states_per_pair"], np.random.default_rng(0))
    templates = templates_of(trace)
    model = gradient_model(trace, templates, fit_pairs, float(trace.metadata["config"]["gamma"]), coupled=True)
    return model, network_divergence(trace, templates, sample), np.asarray(trace.reward_weights).shape


def random_populations(popsize: int, num_agents: int, q: int, generations: int) -> list[np.ndarray]:
    """CMA-ES-like populations ``[popsize, N·q + N + 1]``: random weights, log step scales and log η near −3."""
    rng = np.random.default_rng(1)
    return [np.concatenate([rng.standard_normal((popsize, num_agents * q)),
                            rng.normal(-3.0, 1.0, (popsize, num_agents + 1))], axis=1) for _ in range(generations)]


def cma_generation_speedup(settings: dict, trace_path: Path, generations: int = 3) -> tuple[float, float]:
    """Seconds per generation batched and one by one, on the same candidates."""
    model, divergence, (num_agents, q) = stage_b_problem(settings, trace_path)
    objective = stage_b_objective(model, divergence, num_agents, q)
    populations = random_populations(settings["cma_popsize"], num_agents, q, generations)
    start = time.perf_counter()
    batched = [objective(population) for population in populations]
    batched_seconds = (time.perf_counter() - start) / generations
    start = time.perf_counter()
    single = [np.concatenate([objective(candidate[None]) for candidate in population]) for population in populations]
    single_seconds = (time.perf_counter() - start) / generations
    np.testing.assert_allclose(np.concatenate(batched), np.concatenate(single), rtol=1e-9)
    return batched_seconds, single_seconds


def timed(command: list[str]) -> float:
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def pipeline_seconds(seeds: list[int]) -> dict[str, float]:
    """Forced, stage by stage (upstream not re-run): seconds per stage group."""
    return forced_stage_seconds({"learn (all seeds)": [f"t2_learn@{s}" for s in seeds] + ["t2_learners"],
                                 "invert (all seeds)": ["t2_invert"],
                                 "induce (all seeds)": [f"t2_induce@{s}" for s in seeds],
                                 "report": ["t2_report"]})


def forced_stage_seconds(groups: dict[str, list[str]]) -> dict[str, float]:
    """Each group's DVC stages forced one by one (upstream not re-run); seconds per group, printed as they end."""
    dvc = [sys.executable, "-m", "dvc", "repro", "--force", "--single-item"]
    seconds = {}
    for name, stages in groups.items():
        seconds[name] = sum(timed(dvc + [stage]) for stage in stages)
        print(f"  {name:24s} {seconds[name]:8.1f} s", flush=True)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-pipeline", action="store_true", help="only the CMA-ES generation benchmark")
    args = parser.parse_args()
    params = load_params("params.yaml")
    with single_threaded_torch():
        batched, single = cma_generation_speedup(params["t2"]["inverse"], Path("data/t2/seed_0/trace.npz"))
    speedup = single / batched
    targets = load_targets().benchmarks
    print(f"CMA-ES generation ({params['t2']['inverse']['cma_popsize']} candidates): batched {batched:.3f} s, "
          f"one by one {single:.3f} s, speed-up {speedup:.1f}× (target ≥ {targets.t2_cma_speedup_min:.0f}×: "
          f"{'met' if speedup >= targets.t2_cma_speedup_min else 'MISSED'})")
    if args.skip_pipeline:
        return
    print("T2 paper profile, forced, per stage group:")
    stages = pipeline_seconds(params["t2"]["seeds"])
    invert, invert_max = stages["invert (all seeds)"], targets.t2_invert_seconds_max
    print(f"T2 invert {invert / 60:.1f} min   target {invert_max / 60:.0f} min   "
          f"{'met' if invert <= invert_max else 'MISSED'}")
    total = sum(stages.values())
    target = targets.t2_pipeline_seconds_max
    verdict = "met" if total <= target else "MISSED"
    print(f"T2 total {total / 60:.1f} min   target {target / 60:.0f} min   ratio {total / target:.2f}  {verdict}")


if __name__ == "__main__":
    main()
