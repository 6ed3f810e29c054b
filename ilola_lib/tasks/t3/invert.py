"""T3 inversion of a recorded Gaussian-PPO learning trace: I-LOGEL, I-LOLA and its η = 0 ablation (design
§5.2–5.3), scored on held-out pairs with the closed-form Gaussian KL and its Monte-Carlo estimate (design §6).

The gradient methods are :mod:`ilola_lib.inverse.trace_inversion`'s on padded episode batches; MA-LfL does not
apply to continuous actions (its regression needs ``log π^{k+1}(a|s)`` for every action and the expectation
over all joint actions of the others).
"""

from __future__ import annotations

from pathlib import Path

from ilola_lib.core.io import write_json
from ilola_lib.core.neural_trace import NeuralTrace, load_neural_trace
from ilola_lib.core.parallel import run_jobs, single_threaded_torch
from ilola_lib.core.seeds import stream_rng
from ilola_lib.inverse.trace_inversion import TraceAnalysis, gradient_methods_on_trace, inverse_metrics

KL_COLUMNS = ("kl_1a", "kl_1b", "kl_0", "kl_rand", "kl_1b_mc", "kl_1b_mc_se", "cosine")


def invert_seed(config: dict, seed: int, trace: NeuralTrace) -> tuple[dict, dict]:
    """One seed's inverse metrics (deterministic, JSON-ready) and the seconds each part took."""
    settings = config["inverse"]
    with single_threaded_torch():
        analysis = TraceAnalysis.of(trace, settings, stream_rng(seed, "t3_trace_analysis"))
        methods, ladder, seconds = gradient_methods_on_trace(trace, analysis, settings, seed, settings["mc_samples"])
    pairs = {"fit": analysis.pairs[analysis.fit].tolist(), "held_out": analysis.pairs[analysis.held].tolist()}
    if len(analysis.validation):
        pairs["validation"] = analysis.validation.tolist()
    metrics = inverse_metrics("t3", seed, trace, methods, pairs=pairs, learner_models=ladder)
    return metrics, seconds


def invert_and_write(config: dict, seed: int, trace_path: str, metrics_path: str) -> dict:
    """:func:`invert_seed` on the trace at ``trace_path``; metrics written to ``metrics_path``; returns the
    seconds each part took."""
    metrics, seconds = invert_seed(config, seed, load_neural_trace(trace_path))
    write_json(metrics_path, metrics)
    return seconds


def invert_seeds(config: dict, trace_dir: str | Path, metrics_dir: str | Path) -> list[dict]:
    """Every seed on ``config["workers"]`` processes (metrics do not depend on the worker count)."""
    Path(metrics_dir).mkdir(parents=True, exist_ok=True)
    arguments = [(config, seed, str(Path(trace_dir) / f"seed_{seed}.npz"), str(Path(metrics_dir) / f"seed_{seed}.json"))
                 for seed in config["seeds"]]
    return run_jobs(invert_and_write, arguments, config["workers"])
