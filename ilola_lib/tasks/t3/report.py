"""T3 report: all seeds of MultiWalker aggregated into ``results/t3/summary.json`` (design §9), the issue's
targets, the closed-form vs. Monte-Carlo KL check and the arrays the chapter's figures draw.

Inputs are the per-seed JSON files of the learn, invert and induce stages (``results/t3/{learners,inverse,
induced}``). The method-level helpers are :mod:`ilola_lib.analysis.reports`', the thresholds
:mod:`ilola_lib.analysis.targets`'.
"""

from __future__ import annotations

import numpy as np

from ilola_lib.analysis import reports
from ilola_lib.analysis.reports import common_seeds, induced_normalisers, per_seed_methods, quoted_means
from ilola_lib.analysis.statistics import ci_source, interval_bounds, lies_above
from ilola_lib.analysis.summary import (
    KL_KEYS,
    aggregate_learner_models,
    aggregate_methods,
    format_interval,
    markdown_rows,
    paired_method_differences,
)
from ilola_lib.analysis.targets import load_targets
from ilola_lib.tasks.t3.learn import BASELINE_LABELS, BASELINES, summarize_learners


def summarize(learner_metrics: list[dict], inverse_metrics: list[dict], induced_metrics: list[dict],
              profile: str) -> dict:
    """``results/t3/summary.json``: learners' returns and package distances (trained, random, stand-still),
    the induced-return normalisers and every method's metrics, each as mean and 95% CI — over seeds, except for
    the baselines (and the floor ``R_floor``), evaluated once, whose CI is over their evaluation episodes
    (``"ci_source"``)."""
    seeds = common_seeds(learner_metrics, inverse_metrics, induced_metrics)
    per_seed = per_seed_methods(inverse_metrics, induced_metrics)
    learners = summarize_learners(learner_metrics, profile)
    return {"task": "t3", "profile": profile, "seeds": seeds, "learners": learners["learners"],
            "package_distance": learners["package_distance"],
            "beats_stand_still_every_seed": learners["beats_stand_still_every_seed"],
            "induced": induced_normalisers(learner_metrics, induced_metrics, BASELINES),
            "methods": aggregate_methods(per_seed),
            "paired_induced": paired_method_differences(per_seed, "induced_normalized"),
            "paired_kl_1b": paired_method_differences(inverse_metrics),
            "learner_models": aggregate_learner_models(inverse_metrics),
            "stage_b_selection": reports.stage_b_selections(inverse_metrics)}


def _bound(summary: dict, side: int) -> float | None:
    return None if summary.get("ci95") is None else float(summary["ci95"][side])


def t3_target_checks(summary: dict, method: str = "ilola") -> list[dict]:
    """The T3 issue's targets: learners above stand-still (every seed, and across seeds with disjoint CIs),
    then I-LOLA's KL ratio, cosine and normalised induced return (thresholds from
    :mod:`ilola_lib.analysis.targets`), and KL(1b) below KL(0).

    "Across seeds" compares the trained walkers' 95% CI over seeds with the stand-still baseline's own CI, which
    is over its evaluation episodes (it was evaluated once; see :func:`~ilola_lib.tasks.t3.learn.summarize_learners`).
    "Below KL(0)" is judged paired by seed (:func:`ilola_lib.analysis.reports.target_checks`): the KLs' own
    levels vary between seeds far more than the two differ within one.
    A value that cannot be measured (no interval with fewer than 2 seeds) is ``None`` and the target not met.
    """
    learners = summary["learners"]
    trained, still = learners["return_trained"], learners["return_stand_still"]
    checks = [
        {"target": "learners above stand-still in every seed (95% CIs over evaluation episodes disjoint)",
         "measured": float(summary["beats_stand_still_every_seed"]), "threshold": 1.0,
         "met": bool(summary["beats_stand_still_every_seed"])},
        {"target": f"learners above stand-still across seeds: lower 95% CI of trained (over {ci_source(trained)}) "
                   f"vs upper 95% CI of stand-still (over {ci_source(still)})",
         "measured": _bound(trained, 0), "threshold": _bound(still, 1), "met": bool(lies_above(trained, still))},
    ]
    return checks + reports.target_checks(summary, load_targets().t3.ilola, method, below=(("kl_0", "KL(0)"),))


def monte_carlo_agreement(inverse_metrics: list[dict]) -> dict:
    """``|KL − KL_mc| / se`` for every seed, method and KL; the largest and whether all are within the T3
    target ``mc_agreement_standard_errors_max`` (KL(rand)'s standard error is an upper bound, see
    :mod:`ilola_lib.inverse.evaluation`); and the median relative standard error ``se / KL_mc``."""
    deviations = [abs(method[key] - method[f"{key}_mc"]) / method[f"{key}_mc_se"]
                  for metrics in inverse_metrics for method in metrics["methods"].values() for key in KL_KEYS]
    relative = [method[f"{key}_mc_se"] / method[f"{key}_mc"] for metrics in inverse_metrics
                for method in metrics["methods"].values() for key in KL_KEYS if method[f"{key}_mc"] > 0]
    largest = float(np.max(deviations))
    return {"largest_deviation_in_standard_errors": largest, "count": len(deviations),
            "all_within": bool(largest <= load_targets().t3.mc_agreement_standard_errors_max),
            "median_relative_standard_error": float(np.median(relative))}


def return_baselines(summary: dict) -> dict[str, float]:
    """Mean over seeds of the uniform-random, stand-still and true-reward (evaluation) returns, by label."""
    return {"uniform random": summary["learners"]["return_random"]["mean"],
            "stand still (zero torques)": summary["learners"]["return_stand_still"]["mean"],
            "trained on true reward (evaluation)": summary["induced"]["return_true"]["mean"]}


def learners_table(summary: dict) -> str:
    """Markdown: per policy (trained walkers, then the baselines), the return per walker and the package
    distance, each as mean [95% CI] ("—" where there is none), and what the return's interval is over
    (seeds, or a baseline's evaluation episodes)."""
    learners, distance = summary["learners"], summary["package_distance"]
    rows = [("trained walkers", "return_trained")] + [(BASELINE_LABELS[name], f"return_{name}") for name in BASELINES]
    return markdown_rows(("policy", "return per walker [95% CI]", "CI over", "package distance (m) [95% CI]"), (
        [label, format_interval(learners[key]), ci_source(learners[key]) if learners[key]["ci95"] is not None else "—",
         format_interval(distance[key])] for label, key in rows))


def induced_per_seed_table(induced_metrics: list[dict]) -> str:
    """Markdown: per seed, each method's normalised induced return and its walkers' package distance."""
    methods = list(induced_metrics[0]["methods"])
    return markdown_rows(("seed", *(f"`{m}`" for m in methods)), (
        [str(metrics["seed"]), *(f"{metrics['methods'][m]['induced_normalized']:.2f} "
                                 f"({metrics['methods'][m]['return']['package_distance']:+.2f} m)" for m in methods)]
        for metrics in induced_metrics))


def reading_numbers(summary: dict, agreement: dict) -> dict[str, float]:
    """The numbers the T3 chapter's prose quotes (glued by myst-nb): learner returns and package distances,
    the learner-model ladder, per-method means, the paired Stage B − Stage A difference of KL(1b) and the
    Monte-Carlo agreement (:func:`monte_carlo_agreement`)."""
    quotes = {"t3_ret_trained": ("learners", "return_trained"), "t3_ret_stand": ("learners", "return_stand_still"),
              "t3_ret_random": ("learners", "return_random"), "t3_dist_trained": ("package_distance", "return_trained"),
              "t3_dist_stand": ("package_distance", "return_stand_still"),
              "t3_shadow_ev": ("learner_models", "shadow_critic_explained_variance")}
    quotes |= {f"t3_ef_{model}": ("learner_models", model, "ef_1a")
               for model in ("gpomdp", "surrogate", "surrogate_adam", "replay")}
    quotes |= {f"t3_{metric}_{method}": ("methods", method, metric)
               for method in ("ilola", "ilogel", "ilola_gpomdp", "ilogel_gpomdp")
               for metric in ("ef_1a", "explained_fraction", "cosine", "kl_1b", "kl_0")}
    quotes |= {f"t3_induced_normalized_{method}": ("methods", method, "induced_normalized") for method in ("ilola", "ilogel")}
    quotes["t3_eta_ilola"] = ("methods", "ilola", "eta")
    numbers = quoted_means(summary, quotes)
    stage_ab = summary["paired_kl_1b"]["ilola − ilogel"]
    low, high = interval_bounds(stage_ab)
    numbers |= {"t3_ab_mean": stage_ab["mean"], "t3_ab_low": low, "t3_ab_high": high,
                "t3_mc_largest": agreement["largest_deviation_in_standard_errors"], "t3_mc_count": agreement["count"],
                "t3_mc_relative_se": agreement["median_relative_standard_error"]}
    floor = summary["induced"]["noise_floor"]
    numbers |= {"t3_induced_sd": floor["training_sd"], "t3_induced_resolution": floor["difference_resolution"],
                "t3_true_trainings": floor["trainings_per_seed"]}
    return numbers
