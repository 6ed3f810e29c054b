"""T2 learners: independent PPO on simple_spread, trained and evaluated for seeds 0–4 in one run.

Run from the repository root: ``python -m benchmarks.bench_ppo_t2 [--seeds 0 1 2 3 4]``.

For every seed: train with the paper profile's :class:`~ilola_lib.tasks.t2.ppo.PPOConfig` (single-threaded
torch), evaluate the trained actors (sampling from their policies), uniform-random actions and
no-op actions on the real mpe2 env over the same episode seeds, save the learning trace and
report its size. The target: ``(trained − random) / |random|`` at least T2's
``improvement_over_random_min`` for every seed, with training + evaluation within ``t2_ppo_seed_seconds_max``
(both in ``ilola_lib/analysis/targets.yaml``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from ilola_lib.analysis.targets import load_targets
from ilola_lib.core.neural_trace import save_neural_trace
from ilola_lib.core.seeds import EVALUATION_FIRST_EPISODE_SEED
from ilola_lib.pipeline.config import load_params
from ilola_lib.tasks.t2.evaluation import evaluate_against_baselines
from ilola_lib.tasks.t2.ppo import PPOConfig, train_ppo


def improvement_ratio(trained: float, random: float) -> float:
    """``(trained − random) / |random|``: how far above random, in units of ``|random|``."""
    return (trained - random) / abs(random)


def learning_curve_summary(history: list[dict], every: int) -> str:
    """Rollout return, explained variance and approx KL at every ``every``-th update."""
    points = history[::every] + ([history[-1]] if (len(history) - 1) % every else [])
    return "\n".join(
        f"    update {entry['update']:4d}: return {entry['episode_return']:7.2f}  "
        f"approx_kl {entry['approx_kl']:.4f}  clip {entry['clip_fraction']:.3f}  "
        f"expl_var {entry['explained_variance']:5.2f}  entropy {entry['entropy']:.2f}  "
        f"sps {entry['steps_per_second']:6.0f}"
        for entry in points
    )


def run_seed(seed: int, num_episodes: int, trace_dir: Path, curve_every: int) -> dict:
    """Train, evaluate and save one seed; returns its numbers and prints them."""
    t2 = load_params("params.yaml")["t2"]
    config = PPOConfig.from_params(t2["ppo"], seed, local_ratio=t2["local_ratio"])
    start = time.perf_counter()
    run = train_ppo(config)
    trained_at = time.perf_counter()
    results = evaluate_against_baselines(run.actors, config, num_episodes, EVALUATION_FIRST_EPISODE_SEED)
    evaluated_at = time.perf_counter()
    trace_path = save_neural_trace(run.trace, trace_dir / f"t2_seed{seed}.npz")
    saved_at = time.perf_counter()

    trained, random, noop = (results[name] for name in ("trained", "random", "noop"))
    ratio = improvement_ratio(trained.mean, random.mean)
    seconds = evaluated_at - start
    targets = load_targets()
    improvement_min, budget = targets.t2.improvement_over_random_min, targets.benchmarks.t2_ppo_seed_seconds_max
    hit = ratio >= improvement_min and seconds <= budget
    print(f"seed {seed}: trained {trained.mean:7.2f} ± {trained.standard_error:.2f}   "
          f"random {random.mean:7.2f} ± {random.standard_error:.2f}   "
          f"no-op {noop.mean:7.2f} ± {noop.standard_error:.2f}")
    print(f"    improvement (trained − random)/|random| = {ratio:.3f} vs target {improvement_min:.2f}: "
          f"{'HIT' if hit else 'MISSED'}")
    print(f"    time: train {trained_at - start:.1f} s + evaluation {evaluated_at - trained_at:.1f} s "
          f"= {seconds:.1f} s (budget {budget:.0f} s); trace save {saved_at - evaluated_at:.1f} s, "
          f"{trace_path.stat().st_size / 1e6:.1f} MB")
    print("    learning curve (rollout D_k, mean per-agent mpe2 return):")
    print(learning_curve_summary(run.history, curve_every))
    print(f"    final rollout D_K return {run.final_episode_return:.2f}", flush=True)
    return {"seed": seed, "trained": trained.mean, "random": random.mean, "noop": noop.mean,
            "ratio": ratio, "seconds": seconds, "hit": hit, "trace_mb": trace_path.stat().st_size / 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--episodes", type=int, default=100, help="mpe2 evaluation episodes per policy")
    parser.add_argument("--curve-every", type=int, default=20)
    parser.add_argument("--trace-dir", type=Path, default=None, help="keep traces here (default: temp dir)")
    args = parser.parse_args()
    t2 = load_params("params.yaml")["t2"]
    print(f"config: {PPOConfig.from_params(t2['ppo'], 0, local_ratio=t2['local_ratio']).to_dict()}")
    with tempfile.TemporaryDirectory() as scratch:
        trace_dir = args.trace_dir or Path(scratch)
        rows = [run_seed(seed, args.episodes, trace_dir, args.curve_every) for seed in args.seeds]
    print("\nseed  trained   random    no-op   ratio  seconds  trace MB  target")
    for row in rows:
        print(f"{row['seed']:4d} {row['trained']:8.2f} {row['random']:8.2f} {row['noop']:8.2f} "
              f"{row['ratio']:7.3f} {row['seconds']:8.1f} {row['trace_mb']:9.1f}  {'hit' if row['hit'] else 'MISSED'}")
    print(f"target hit in {sum(row['hit'] for row in rows)}/{len(rows)} seeds")


if __name__ == "__main__":
    main()
