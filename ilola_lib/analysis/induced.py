"""Induced return (design §6): fresh learners trained on a recovered reward, normalised between the strongest
trivial policy and learners trained on the true reward, with the training-noise floor that bounds its resolution.

Per task seed ``s`` the true reward is trained ``n`` times: the task's learners (training seed ``s``) and
``n − 1`` replications with other training seeds (:func:`ilola_lib.core.seeds.replication_training_seed`).
``R_true`` is their mean, and the spread of their normalised returns is the noise of one training.
"""

from __future__ import annotations

import numpy as np

from ilola_lib.analysis.statistics import mean
from ilola_lib.core.seeds import replication_training_seed

# Recovered weights equal to this (max absolute difference of unit weights) define the same reward, trained once.
SAME_REWARD_TOLERANCE = 1e-6
# A difference of means is resolved when it exceeds this many standard deviations of its training noise.
RESOLUTION_SDS = 2.0


def induced_weights(recovered_unit: np.ndarray, true_weights: np.ndarray) -> np.ndarray:
    """``ω̂_i`` rescaled to ``‖ω_i*‖``: the scale is not identified, and PPO normalises rewards anyway."""
    return np.asarray(recovered_unit) * np.linalg.norm(true_weights, axis=-1, keepdims=True)


def shared_trainings(recovered: dict[str, np.ndarray]) -> dict[str, str]:
    """Method → the method whose training it reuses (itself when it is trained): recovered weights ``[N, q]``
    within :data:`SAME_REWARD_TOLERANCE` of an earlier method's are the same reward and are trained once."""
    trained_as: dict[str, str] = {}
    for method, weights in recovered.items():
        trained_as[method] = next((earlier for earlier in dict.fromkeys(trained_as.values())
                                   if np.max(np.abs(np.asarray(weights) - np.asarray(recovered[earlier])))
                                   <= SAME_REWARD_TOLERANCE), method)
    return trained_as


def replication_label(replication: int) -> str:
    """The label of the true reward's replication training ``replication ≥ 1``."""
    return f"true reward, replication {replication}"


def seed_trainings(seed: int, inverse_metrics: dict, methods: tuple[str, ...],
                   true_reward_trainings: int) -> tuple[list[tuple[str, int, np.ndarray]], dict[str, str]]:
    """One task seed's trainings ``(label, training seed, weights [N, q])`` — each distinct recovered reward of
    ``methods`` (rescaled by :func:`induced_weights`) with the learners' seed, then the true reward's
    ``true_reward_trainings − 1`` replications (:func:`replication_label`) — and :func:`shared_trainings`."""
    truth = np.asarray(inverse_metrics["true_weights"], dtype=np.float64)
    trained_as = shared_trainings({m: np.asarray(inverse_metrics["methods"][m]["weights"]) for m in methods})
    jobs = [(m, seed, induced_weights(inverse_metrics["methods"][m]["weights"], truth))
            for m in dict.fromkeys(trained_as.values())]
    jobs += [(replication_label(r), replication_training_seed(seed, r), truth) for r in range(1, true_reward_trainings)]
    return jobs, trained_as


def normalised_induced(task: str, seed: int, results: dict, learner_metrics: dict, trivial: tuple[str, ...],
                       trained_as: dict[str, str]) -> dict:
    """A seed's induced-return metrics (design §6).

    ``results`` maps the labels of :func:`seed_trainings` to their trainings (each with its ``return``): every
    method of ``trained_as`` takes its source's result (and names it), and the replication trainings of the
    true reward are the remaining labels. ``R_true`` is the mean return of the learners (``learner_metrics
    ["return_trained"]``) and the replications, ``R_floor`` the best trivial policy's, and each method gets
    ``(R_induced − R_floor)/(R_true − R_floor)``. ``true_reward_normalized`` are the true-reward trainings on the
    same scale (mean 1) and ``training_sd`` their standard deviation (ddof=1): one training's noise.
    """
    replications = [results[label] for label in results if label not in trained_as.values()]
    true_returns = [learner_metrics["return_trained"]["mean"]] + [r["return"]["mean"] for r in replications]
    true_return = mean(true_returns)
    floor = max(learner_metrics[f"return_{name}"]["mean"] for name in trivial)

    def normalise(value: float) -> float:
        return (value - floor) / (true_return - floor)

    methods = {m: {**results[source], "trained_as": source,
                   "induced_normalized": normalise(results[source]["return"]["mean"])}
               for m, source in trained_as.items()}
    true_normalised = [normalise(value) for value in true_returns]
    return {"task": task, "seed": seed, "return_true": true_return, "return_true_trainings": true_returns,
            "true_reward_normalized": true_normalised, "training_sd": float(np.std(true_normalised, ddof=1)),
            "return_floor": floor, "methods": methods}


def noise_floor(induced_metrics: list[dict]) -> dict:
    """The training noise of the normalised induced return over seeds: ``training_sd`` σ pooled over seeds
    (``sqrt`` of the mean per-seed variance), the trainings per seed ``n``, and the resolutions at
    :data:`RESOLUTION_SDS` standard deviations of a mean over ``S`` seeds (``2σ/√S``: a method's mean against a
    threshold) and of a difference of two methods' means (``2σ·√(2/S)``), assuming a recovered reward's
    training is as noisy as the true reward's."""
    sds = np.array([m["training_sd"] for m in induced_metrics])
    pooled, seeds = float(np.sqrt(np.mean(sds ** 2))), len(sds)
    return {"training_sd": pooled, "trainings_per_seed": len(induced_metrics[0]["return_true_trainings"]),
            "per_seed_training_sd": sds.tolist(),
            "mean_resolution": float(RESOLUTION_SDS * pooled / np.sqrt(seeds)),
            "difference_resolution": float(RESOLUTION_SDS * pooled * np.sqrt(2 / seeds))}


def resolved(difference: float, resolution: float) -> bool:
    """Whether a difference exceeds the noise floor's ``resolution`` (below it: indistinguishable)."""
    return bool(abs(difference) > resolution)


def induced_table(induced: dict, floor_label: str = "max(random, no-op)") -> str:
    """Markdown: each method's induced return (± standard error) and its normalised value, the true reward's
    trainings and the floor."""
    lines = ["| method | induced return | normalised |", "|---|---|---|"]
    for m, r in induced["methods"].items():
        shared = "" if r["trained_as"] == m else f" (the reward of `{r['trained_as']}`, trained once)"
        lines.append(f"| `{m}`{shared} | {r['return']['mean']:.2f} ± {r['return']['standard_error']:.2f} | "
                     f"{r['induced_normalized']:.3f} |")
    trainings = ", ".join(f"{value:.2f}" for value in induced["return_true_trainings"])
    normalised = ", ".join(f"{value:.3f}" for value in induced["true_reward_normalized"])
    lines.append(f"| true reward, R_true: mean of {len(induced['return_true_trainings'])} trainings ({trainings}) | "
                 f"{induced['return_true']:.2f} | 1 ({normalised}; SD {induced['training_sd']:.3f}) |")
    lines.append(f"| floor: {floor_label} | {induced['return_floor']:.2f} | 0 |")
    return "\n".join(lines) + "\n"
