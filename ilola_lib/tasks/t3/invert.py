"""T3 inversion of a recorded Gaussian-PPO learning trace: I-LOGEL, I-LOLA and its η = 0 ablation (design
§5.2–5.3), scored on held-out pairs with the closed-form Gaussian KL and its Monte-Carlo estimate (design §6).

The gradient methods are :mod:`ilola_lib.inverse.trace_inversion`'s on padded episode batches; MA-LfL does not
apply to continuous actions (its regression needs ``log π^{k+1}(a|s)`` for every action and the expectation
over all joint actions of the others).
"""

from __future__ import annotations

from pathlib import Path

from ilola_lib.core.neural_trace import NeuralTrace
from ilola_lib.core.parallel import single_threaded_torch
from ilola_lib.core.seeds import stream_rng
from ilola_lib.inverse import trace_inversion
from ilola_lib.inverse.trace_inversion import TraceAnalysis, gradient_methods_on_trace, inverse_metrics
from ilola_lib.tasks.t3.learn import seed_trace_file

KL_COLUMNS = ("kl_1a", "kl_1b", "kl_0", "kl_rand", "kl_1b_mc", "kl_1b_mc_se", "cosine")


def trace_analysis(trace: NeuralTrace, settings: dict, seed: int) -> TraceAnalysis:
    """The analysed pairs, sampled states and random stream of one seed's inversion."""
    return TraceAnalysis.of(trace, settings, stream_rng(seed, "t3_trace_analysis"))


def invert_seed(config: dict, seed: int, trace: NeuralTrace) -> tuple[dict, dict]:
    """One seed's inverse metrics (deterministic, JSON-ready) and the seconds each part took."""
    settings = config["inverse"]
    with single_threaded_torch():
        analysis = trace_analysis(trace, settings, seed)
        methods, ladder, seconds = gradient_methods_on_trace(trace, analysis, settings, seed, settings["mc_samples"])
    pairs = {"fit": analysis.pairs[analysis.fit].tolist(), "held_out": analysis.pairs[analysis.held].tolist()}
    if len(analysis.validation):
        pairs["validation"] = analysis.validation.tolist()
    metrics = inverse_metrics("t3", seed, trace, methods, pairs=pairs, learner_models=ladder)
    return metrics, seconds


def invert_seeds(config: dict, trace_dir: str | Path, metrics_dir: str | Path) -> list[dict]:
    """Every seed's trace ``trace_dir/seed_<s>.npz`` inverted on ``config["workers"]`` processes, metrics written
    to ``metrics_dir/seed_<s>.json`` (:func:`ilola_lib.inverse.trace_inversion.invert_seeds`); the seconds each
    part took, per seed."""
    trace_paths = {seed: seed_trace_file(trace_dir, seed) for seed in config["seeds"]}
    return trace_inversion.invert_seeds(invert_seed, config, trace_paths, metrics_dir)
