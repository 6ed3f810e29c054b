"""Induced return (design §6): fresh learners trained on a recovered reward, normalised between the strongest
trivial policy and the learners trained on the true reward."""

from __future__ import annotations

import numpy as np


def induced_weights(recovered_unit: np.ndarray, true_weights: np.ndarray) -> np.ndarray:
    """``ω̂_i`` rescaled to ``‖ω_i*‖``: the scale is not identified, and PPO normalises rewards anyway."""
    return np.asarray(recovered_unit) * np.linalg.norm(true_weights, axis=-1, keepdims=True)


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
