"""T3 learners: independent Gaussian PPO walkers on MultiWalker, trained and evaluated per seed (design §4).

The trained walkers are evaluated against two baselines on the same episode seeds: uniform-random
actions and zero actions (standing still), the stronger of which is the floor of the normalised
induced return (design §6).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ilola_lib.tasks.t3.multiwalker import PolicyBaseline, run_fixed_policy
from ilola_lib.core.io import write_json
from ilola_lib.core.ppo_training import PPORun
from ilola_lib.tasks.t3.ppo import (MultiWalkerPPOConfig, actor_policy,
                                                train_multiwalker_ppo)
from ilola_lib.core.metrics import bootstrap_ci
from ilola_lib.core.neural_trace import save_neural_trace
from ilola_lib.core.parallel import run_jobs
from ilola_lib.analysis.summary import markdown_rows
from ilola_lib.core.seeds import EVALUATION_FIRST_EPISODE_SEED

Z_95 = 1.959964
BASELINES = ("random", "stand_still")


def ppo_config(config: dict, seed: int) -> MultiWalkerPPOConfig:
    """The PPO configuration of ``params.yaml``'s ``t3`` section for one seed."""
    return MultiWalkerPPOConfig.from_params(config["ppo"], seed)


def summarize_evaluation(result: PolicyBaseline) -> dict:
    """Mean per-walker return with its standard error over episodes, package distance and episode length."""
    return {"mean": result.mean_walker_return,
            "standard_error": float(result.std_walker_return / np.sqrt(result.n_episodes)),
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
    """Normal 95% interval of a mean return over evaluation episodes."""
    return result["mean"] - Z_95 * result["standard_error"], result["mean"] + Z_95 * result["standard_error"]


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
    arguments = [(config, seed, str(Path(trace_dir) / f"seed_{seed}.npz"),
                  str(Path(metrics_dir) / f"seed_{seed}.json"), baselines) for seed in config["seeds"]]
    for directory in (trace_dir, metrics_dir):
        Path(directory).mkdir(parents=True, exist_ok=True)
    return run_jobs(learn_and_write, arguments, config["workers"])


def summarize_learners(seed_metrics: list[dict], profile: str) -> dict:
    """Mean and 95% bootstrap CI over seeds of the returns and package distances, and the target checks."""
    keys = ("return_trained",) + tuple(f"return_{name}" for name in BASELINES)
    learners = {key: bootstrap_ci([m[key]["mean"] for m in seed_metrics]) for key in keys}
    distances = {key: bootstrap_ci([m[key]["package_distance"] for m in seed_metrics]) for key in keys}
    return {"task": "t3", "profile": profile, "seeds": [m["seed"] for m in seed_metrics], "learners": learners,
            "package_distance": distances,
            "beats_stand_still_every_seed": bool(all(m["beats_stand_still"] for m in seed_metrics)),
            "ci_disjoint_across_seeds": bool(learners["return_trained"]["ci95"][0]
                                             > learners["return_stand_still"]["ci95"][1])}


def learner_table(seed_metrics: list[dict]) -> str:
    """Markdown: per seed, each policy's return ± standard error (package distance) and the stand-still check."""
    def cell(result: dict) -> str:
        return f"{result['mean']:.2f} ± {result['standard_error']:.2f} ({result['package_distance']:+.2f} m)"

    return markdown_rows(("seed", "trained", "uniform random", "stand still", "above stand-still?"), (
        [str(m["seed"]), cell(m["return_trained"]), cell(m["return_random"]), cell(m["return_stand_still"]),
         "yes" if m["beats_stand_still"] else "**no**"] for m in seed_metrics))
