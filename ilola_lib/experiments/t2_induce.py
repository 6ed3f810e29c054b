"""T2 induced returns: fresh PPO learners trained on each method's recovered reward (design §6)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ilola_lib.experiments.t2 import ppo_config
from ilola_lib.learners.mpe_evaluation import EVALUATION_FIRST_EPISODE_SEED, evaluate_trained
from ilola_lib.learners.ppo import train_ppo
from ilola_lib.parallel import run_jobs, single_threaded_torch


INDUCED_METHODS = ("ilola", "ilola_eta0", "ilogel", "ma_lfl")


def induced_weights(recovered_unit: np.ndarray, true_weights: np.ndarray) -> np.ndarray:
    """``ω̂_i`` rescaled to ``‖ω_i*‖``: the scale is not identified, and PPO normalises rewards anyway."""
    return np.asarray(recovered_unit) * np.linalg.norm(true_weights, axis=-1, keepdims=True)


def train_on_reward(config: dict, seed: int, weights: np.ndarray) -> dict:
    """Fresh PPO learners (same budget and seed as the task's learners) trained on ``r̂_i = weights_i·φ_i``
    and evaluated on mpe2's true reward: mean per-agent return ± standard error, and the learning curve
    (true return of each ``D_k``)."""
    ppo = dataclasses.replace(ppo_config(config, seed), reward_weights=tuple(map(tuple, weights)))
    with single_threaded_torch():
        run = train_ppo(ppo)
    result = evaluate_trained(run.actors, ppo, config["eval_episodes"], EVALUATION_FIRST_EPISODE_SEED)
    return {"return": result.as_dict(), "learning_curve": run.learning_curve}


def induce_seed(config: dict, seed: int, inverse_metrics: dict, learner_metrics: dict, workers: int = 1) -> dict:
    """Induced returns of every method's recovered reward, normalised (design §6):
    ``(R_induced − R_floor)/(R_true − R_floor)``, ``R_floor = max(R_random, R_no-op)``, where ``R_true`` is the
    task's learners (trained on the true reward with the same budget and seed)."""
    truth = np.asarray(inverse_metrics["true_weights"], dtype=np.float64)
    arguments = [(config, seed, induced_weights(inverse_metrics["methods"][m]["weights"], truth))
                 for m in INDUCED_METHODS]
    results = run_jobs(train_on_reward, arguments, workers) if workers > 1 else [
        train_on_reward(*args) for args in arguments]
    return normalised_induced("t2", seed, dict(zip(INDUCED_METHODS, results)), learner_metrics, ("random", "noop"))


def normalised_induced(task: str, seed: int, results: dict, learner_metrics: dict, trivial: tuple[str, ...]) -> dict:
    """A seed's induced-return metrics: each method's ``results[method]`` (with its ``return``) plus
    ``(R_induced − R_floor)/(R_true − R_floor)``, where ``R_true`` is the task's learners' return and
    ``R_floor`` the best of the trivial policies' returns ``learner_metrics["return_<name>"]`` (design §6)."""
    true_return = learner_metrics["return_trained"]["mean"]
    floor = max(learner_metrics[f"return_{name}"]["mean"] for name in trivial)
    methods = {m: {**r, "induced_normalized": (r["return"]["mean"] - floor) / (true_return - floor)}
               for m, r in results.items()}
    return {"task": task, "seed": seed, "return_true": true_return, "return_floor": floor, "methods": methods}


def induced_table(induced: dict, floor_label: str = "max(random, no-op)") -> str:
    """Markdown: each method's induced return (± standard error) and its normalised value."""
    lines = ["| method | induced return | normalised |", "|---|---|---|"]
    lines += [f"| `{m}` | {r['return']['mean']:.2f} ± {r['return']['standard_error']:.2f} | "
              f"{r['induced_normalized']:.3f} |" for m, r in induced["methods"].items()]
    lines.append(f"| true reward (R_true) | {induced['return_true']:.2f} | 1 |")
    lines.append(f"| floor: {floor_label} | {induced['return_floor']:.2f} | 0 |")
    return "\n".join(lines) + "\n"
