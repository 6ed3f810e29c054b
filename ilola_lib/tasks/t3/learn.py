"""T3 learners: independent Gaussian PPO walkers on MultiWalker, trained and evaluated per seed (design §4).

The trained walkers are evaluated against two baselines on the same episode seeds: uniform-random
actions and zero actions (standing still), the stronger of which is the floor of the normalised
induced return (design §6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ilola_lib.analysis.statistics import (
    lies_above,
    normal_ci,
    standard_error_from_population_std,
    summarize_evaluations,
)
from ilola_lib.analysis.summary import markdown_rows
from ilola_lib.core.io import write_json
from ilola_lib.core.neural_trace import save_neural_trace
from ilola_lib.core.parallel import run_jobs
from ilola_lib.core.ppo_training import PPORun
from ilola_lib.core.seeds import EVALUATION_FIRST_EPISODE_SEED
from ilola_lib.tasks.t3.multiwalker import PolicyBaseline, run_fixed_policy
from ilola_lib.tasks.t3.ppo import MultiWalkerPPOConfig, actor_policy, train_multiwalker_ppo

BASELINES = ("random", "stand_still")
BASELINE_LABELS = {"random": "uniform random", "stand_still": "stand still (zero torques)"}


def ppo_config(config: dict, seed: int) -> MultiWalkerPPOConfig:
    """The PPO configuration of ``params.yaml``'s ``t3`` section for one seed."""
    return MultiWalkerPPOConfig.from_params(config["ppo"], seed)


def summarize_evaluation(result: PolicyBaseline) -> dict:
    """Mean per-walker return with its standard error (``ddof=1``) over episodes, package distance and episode
    length."""
    # PolicyBaseline records numpy's default (ddof=0) standard deviation of the per-episode returns; rescaled by
    # sqrt(n/(n−1)) it is the sample (ddof=1) one, so this is the ddof=1 standard error up to round-off.
    return {"mean": result.mean_walker_return,
            "standard_error": standard_error_from_population_std(result.std_walker_return, result.n_episodes),
            "package_distance": result.mean_package_distance,
            "episode_length": result.mean_episode_length}


def evaluate_policy(run: PPORun, ppo: MultiWalkerPPOConfig, episodes: int) -> dict:
    """The trained walkers (sampling their policies) on ``episodes`` evaluation episodes."""
    policy = actor_policy(run.actors, run.trace.metadata["agents"])
    return summarize_evaluation(run_fixed_policy(policy, episodes, ppo.env_kwargs, EVALUATION_FIRST_EPISODE_SEED))


def evaluate_baselines(ppo: MultiWalkerPPOConfig, episodes: int) -> dict:
    """Uniform-random and zero (stand-still) actions on the evaluation episodes."""
    return {f"return_{name}": summarize_evaluation(
        run_fixed_policy(policy, episodes, ppo.env_kwargs, EVALUATION_FIRST_EPISODE_SEED))
        for name, policy in zip(BASELINES, ("random", "zero"))}


def confidence_interval(result: dict) -> tuple[float, float]:
    """Normal 95% interval of a mean return over evaluation episodes (from its standard error)."""
    low, high = normal_ci(result["mean"], result["standard_error"])
    return low, high


def learn_seed(config: dict, seed: int, trace_path: str | Path, baselines: dict) -> tuple[dict, dict]:
    """Train one seed's walkers, save the trace to ``trace_path`` and return the seed's learner metrics
    (deterministic) and its timing (seconds, env-steps per second; kept out of the metrics).
    ``baselines`` is :func:`evaluate_baselines` (the same for every seed).

    Metrics: returns (mean, standard error, package distance, episode length) of the trained walkers and of
    both baselines over ``eval_episodes`` episodes, whether the trained walkers' 95% interval lies above the
    stand-still one, the learning curves of ``D_k`` and the PPO diagnostics.
    """
    ppo = ppo_config(config, seed)
    run = train_multiwalker_ppo(ppo)
    save_neural_trace(run.trace, trace_path)
    trained = evaluate_policy(run, ppo, config["eval_episodes"])
    curve_keys = ("package_distance", "episode_length", "approx_kl", "policy_kl", "clip_fraction",
                  "explained_variance", "entropy")
    env_steps = int(run.trace.valid.sum())
    metrics = {
        "task": "t3",
        "seed": seed,
        "return_trained": trained,
        **baselines,
        "beats_stand_still": bool(confidence_interval(trained)[0] > confidence_interval(baselines["return_stand_still"])[1]),
        "learning_curve": run.learning_curve,
        "package_distance_curve": [entry["package_distance"] for entry in run.history]
        + [run.final_statistics["package_distance"]],
        "diagnostics": {key: [entry[key] for entry in run.history] for key in curve_keys},
        "num_updates": ppo.num_updates,
        "env_steps": env_steps,
    }
    return metrics, {"seed": seed, "env_steps": env_steps, "seconds": run.seconds,
                     "env_steps_per_second": env_steps / run.seconds}


def seed_trace_file(trace_dir: str | Path, seed: int) -> Path:
    """Seed ``seed``'s learning trace in ``trace_dir``."""
    return Path(trace_dir) / f"seed_{seed}.npz"


def learn_and_write(config: dict, seed: int, trace_path: str, metrics_path: str,
                    baselines: dict) -> tuple[dict, dict]:
    """:func:`learn_seed`, with its metrics written to ``metrics_path`` (JSON, atomically)."""
    metrics, timing = learn_seed(config, seed, trace_path, baselines)
    write_json(metrics_path, metrics)
    return metrics, timing


def learn_seeds(config: dict, trace_dir: str | Path, metrics_dir: str | Path) -> list[tuple[dict, dict]]:
    """Every seed of ``config["seeds"]`` on ``config["workers"]`` processes; traces and metrics per seed.
    The baselines do not depend on the seed and are evaluated once. Returns each seed's ``(metrics, timing)``."""
    baselines = evaluate_baselines(ppo_config(config, config["seeds"][0]), config["eval_episodes"])
    arguments = [(config, seed, str(seed_trace_file(trace_dir, seed)),
                  str(Path(metrics_dir) / f"seed_{seed}.json"), baselines) for seed in config["seeds"]]
    for directory in (trace_dir, metrics_dir):
        Path(directory).mkdir(parents=True, exist_ok=True)
    return run_jobs(learn_and_write, arguments, config["workers"])


def summarize_learners(seed_metrics: list[dict], profile: str) -> dict:
    """Returns and package distances over seeds, and the stand-still checks.

    Each is summarised by :func:`~ilola_lib.analysis.statistics.summarize_evaluations`: the trained walkers'
    with the 95% bootstrap CI over seeds; the baselines, evaluated once (:func:`learn_seeds`) and so the same in
    every seed, with the normal 95% CI of their evaluation episodes (``"ci_source": "evaluation episodes"``).
    The baselines' package distances carry no interval: their per-episode spread is not recorded.
    ``ci_disjoint_across_seeds`` (trained walkers' interval wholly above stand-still's) is left out when an
    interval is missing (a single seed).
    """
    keys = ("return_trained",) + tuple(f"return_{name}" for name in BASELINES)
    learners = {key: summarize_evaluations([m[key] for m in seed_metrics]) for key in keys}
    distances = {key: summarize_evaluations([{"mean": m[key]["package_distance"]} for m in seed_metrics])
                 for key in keys}
    summary = {"task": "t3", "profile": profile, "seeds": [m["seed"] for m in seed_metrics], "learners": learners,
               "package_distance": distances,
               "beats_stand_still_every_seed": bool(all(m["beats_stand_still"] for m in seed_metrics))}
    disjoint = lies_above(learners["return_trained"], learners["return_stand_still"])
    if disjoint is not None:
        summary["ci_disjoint_across_seeds"] = disjoint
    return summary


def learning_curves(seed_metrics: list[dict]) -> np.ndarray:
    """``[seeds, K+1]`` mean per-walker return of each ``D_k``."""
    return np.array([m["learning_curve"] for m in seed_metrics])


def package_distance_curves(seed_metrics: list[dict]) -> np.ndarray:
    """``[seeds, K+1]`` mean package forward distance (m) of each ``D_k``."""
    return np.array([m["package_distance_curve"] for m in seed_metrics])


def learner_baselines(summary: dict, quantity: str = "learners") -> dict[str, float]:
    """Label → the baselines' mean return (``quantity="learners"``) or package distance
    (``"package_distance"``), the horizontal lines of the learning-curve figures."""
    return {BASELINE_LABELS[name]: summary[quantity][f"return_{name}"]["mean"] for name in BASELINES}


def learner_table(seed_metrics: list[dict]) -> str:
    """Markdown: per seed, each policy's return ± standard error (package distance) and the stand-still check."""
    def cell(result: dict) -> str:
        return f"{result['mean']:.2f} ± {result['standard_error']:.2f} ({result['package_distance']:+.2f} m)"

    return markdown_rows(("seed", "trained", "uniform random", "stand still", "above stand-still?"), (
        [str(m["seed"]), cell(m["return_trained"]), cell(m["return_random"]), cell(m["return_stand_still"]),
         "yes" if m["beats_stand_still"] else "**no**"] for m in seed_metrics))


def timing_table(timings) -> str:
    """Markdown: per seed, env-steps, wall-clock seconds and env-steps per second of the training."""
    return markdown_rows(("seed", "env-steps", "seconds", "env-steps/s"), (
        [str(t["seed"]), str(t["env_steps"]), f"{t['seconds']:.0f}", f"{t['env_steps_per_second']:.0f}"]
        for t in timings))
