"""The PPO replay: a population of candidate reward weights replayed in one vectorised call against the
same candidates one at a time, in one run.

Run from the repository root: ``python -m benchmarks.bench_replay [--task t2] [--updates 6] [--threads 1]``.

Uses seed 0's recorded trace of the task (``data/<task>/seed_0/trace.npz`` for T2, ``data/t3/traces/seed_0.npz``
for T3) and the population the inversion replays in its first pass (``1 + q`` finite-difference candidates,
``ω*`` and ``random_draws`` random weights). Prints both times and their ratio; the target is
``replay_batched_speedup_min`` of ``ilola_lib/analysis/targets.yaml``.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

from ilola_lib.analysis.targets import load_targets
from ilola_lib.core.neural_trace import load_neural_trace
from ilola_lib.inverse.evaluation import random_unit_weights
from ilola_lib.inverse.replay_methods import observer_replay
from ilola_lib.inverse.replay_model import finite_difference_candidates, replay_along_trace
from ilola_lib.pipeline.config import load_params

TRACES = {"t2": "data/t2/seed_0/trace.npz", "t3": "data/t3/traces/seed_0.npz"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=sorted(TRACES), default="t2")
    parser.add_argument("--updates", type=int, default=6, help="updates of the trace replayed (from k = 0)")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    trace = load_neural_trace(TRACES[args.task])
    keep = args.updates + 1
    trace = dataclasses.replace(trace, **{name: value[:keep] for name, value in trace.arrays().items()
                                          if name not in ("obs_mean", "obs_std", "reward_weights")})
    settings = load_params()[args.task]["inverse"]
    _, replay = observer_replay(trace, [trace.actor_template(i) for i in range(trace.num_agents)], 0)
    truth = np.asarray(trace.reward_weights)
    population = torch.as_tensor(np.concatenate([
        finite_difference_candidates(truth, 0.05), truth[None],
        random_unit_weights(np.random.default_rng(0), settings["random_draws"], *truth.shape)]))
    replay_along_trace(replay, population[:2])  # warm-up

    start = time.perf_counter()
    together = replay_along_trace(replay, population)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    alone = [replay_along_trace(replay, population[p:p + 1]) for p in range(len(population))]
    one_by_one = time.perf_counter() - start
    difference = max(float((together.steps[p] - a.steps[0]).abs().max()) for p, a in enumerate(alone))

    target = load_targets().benchmarks.replay_batched_speedup_min
    speedup = one_by_one / batched
    print(f"{args.task}: {len(population)} candidates × {args.updates} updates × {trace.num_agents} agents, "
          f"{args.threads} thread(s)")
    print(f"  batched {batched:.2f} s, one at a time {one_by_one:.2f} s: speed-up {speedup:.2f}× "
          f"(target ≥ {target:g}×: {'hit' if speedup >= target else 'MISSED'}); "
          f"largest |Δθ| difference {difference:.1e}")


if __name__ == "__main__":
    main()
