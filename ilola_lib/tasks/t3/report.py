"""T3 report: all seeds of MultiWalker aggregated into ``results/t3/summary.json`` (design §9), the issue's
targets, the closed-form vs. Monte-Carlo KL check and the arrays the chapter's figures draw.

Inputs are the per-seed JSON files of the learn, invert and induce stages (``results/t3/{learners,inverse,
induced}``). The method-level helpers are :mod:`ilola_lib.analysis.reports`'.
"""

from __future__ import annotations

import numpy as np

from ilola_lib.analysis.reports import common_seeds, per_seed_methods, target_checks
from ilola_lib.tasks.t3.learn import summarize_learners
from ilola_lib.core.metrics import bootstrap_ci
from ilola_lib.analysis.summary import KL_KEYS, aggregate_methods, markdown_rows

TARGET_RATIO_1B_1A = 1.5
TARGET_COSINE = 0.8
TARGET_INDUCED_NORMALIZED = 0.5
MC_AGREEMENT_STANDARD_ERRORS = 4.0


def summarize(learner_metrics: list[dict], inverse_metrics: list[dict], induced_metrics: list[dict],
              profile: str) -> dict:
    """``results/t3/summary.json``: learners' returns and package distances (trained, random, stand-still),
    the induced-return normalisers and every method's metrics, each as mean and 95% bootstrap CI over seeds."""
    seeds = common_seeds(learner_metrics, inverse_metrics, induced_metrics)
    learners = summarize_learners(learner_metrics, profile)
    induced = {key: bootstrap_ci([m[key] for m in induced_metrics]) for key in ("return_true", "return_floor")}
    return {"task": "t3", "profile": profile, "seeds": seeds, "learners": learners["learners"],
            "package_distance": learners["package_distance"],
            "beats_stand_still_every_seed": learners["beats_stand_still_every_seed"], "induced": induced,
            "methods": aggregate_methods(per_seed_methods(inverse_metrics, induced_metrics))}


def t3_target_checks(summary: dict, method: str = "ilola") -> list[dict]:
    """The T3 issue's targets: learners above stand-still (every seed, and across seeds with disjoint CIs),
    then I-LOLA's KL ratio, cosine and normalised induced return, and KL(1b) below KL(0).

    "Below KL(0)" is judged per seed, paired: the explained fraction ``1 − KL(1b)/KL(0)`` must have its 95% CI
    over seeds above 0 (the KLs' own levels vary between seeds far more than the two differ within one).
    """
    learners = summary["learners"]
    trained_low, still_high = learners["return_trained"]["ci95"][0], learners["return_stand_still"]["ci95"][1]
    explained = summary["methods"][method].get("explained_fraction", {"ci95": [float("nan")] * 2})["ci95"][0]
    checks = [
        {"target": "learners above stand-still in every seed (95% CIs over evaluation episodes disjoint)",
         "measured": float(summary["beats_stand_still_every_seed"]), "threshold": 1.0,
         "met": bool(summary["beats_stand_still_every_seed"])},
        {"target": "learners above stand-still across seeds: lower CI of trained vs upper CI of stand-still",
         "measured": trained_low, "threshold": still_high, "met": bool(trained_low > still_high)},
    ]
    checks += target_checks(summary, method, ratio_target=TARGET_RATIO_1B_1A, cosine_target=TARGET_COSINE,
                            induced_target=TARGET_INDUCED_NORMALIZED, below=())
    checks.append({"target": f"`{method}`: KL(1b) below KL(0), paired by seed: lower 95% CI of 1 − KL(1b)/KL(0)",
                   "measured": explained, "threshold": 0.0, "met": bool(explained > 0)})
    return checks


def monte_carlo_agreement(inverse_metrics: list[dict]) -> dict:
    """``|KL − KL_mc| / se`` for every seed, method and KL; the largest and whether all are within
    :data:`MC_AGREEMENT_STANDARD_ERRORS` (KL(rand)'s standard error is an upper bound, see
    :mod:`ilola_lib.inverse.evaluation`)."""
    deviations = [abs(method[key] - method[f"{key}_mc"]) / method[f"{key}_mc_se"]
                  for metrics in inverse_metrics for method in metrics["methods"].values() for key in KL_KEYS]
    largest = float(np.max(deviations))
    return {"largest_deviation_in_standard_errors": largest, "count": len(deviations),
            "all_within": bool(largest <= MC_AGREEMENT_STANDARD_ERRORS)}


def return_baselines(summary: dict) -> dict[str, float]:
    """Mean over seeds of the uniform-random, stand-still and true-reward (evaluation) returns, by label."""
    return {"uniform random": summary["learners"]["return_random"]["mean"],
            "stand still (zero torques)": summary["learners"]["return_stand_still"]["mean"],
            "trained on true reward (evaluation)": summary["induced"]["return_true"]["mean"]}


def induced_per_seed_table(induced_metrics: list[dict]) -> str:
    """Markdown: per seed, each method's normalised induced return and its walkers' package distance."""
    methods = list(induced_metrics[0]["methods"])
    return markdown_rows(("seed", *(f"`{m}`" for m in methods)), (
        [str(metrics["seed"]), *(f"{metrics['methods'][m]['induced_normalized']:.2f} "
                                 f"({metrics['methods'][m]['return']['package_distance']:+.2f} m)" for m in methods)]
        for metrics in induced_metrics))
