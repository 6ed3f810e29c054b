"""T2 report: all seeds of simple_spread aggregated into ``results/t2/summary.json`` (design §9).

Inputs are the per-seed JSON files of the learn (``results/t2/learners``), invert (``results/t2/inverse``)
and induce (``results/t2/induced``) stages; the comparisons and tables are :mod:`ilola_lib.analysis.reports`'.
"""

from __future__ import annotations

from ilola_lib.analysis.reports import common_seeds, per_seed_methods
from ilola_lib.analysis.summary import aggregate_methods
from ilola_lib.core.metrics import bootstrap_ci
from ilola_lib.tasks.t2.learn import summarize_learners


def summarize(learner_metrics: list[dict], inverse_metrics: list[dict], induced_metrics: list[dict],
              profile: str) -> dict:
    """``results/t2/summary.json``: learners' returns, the induced-return normalisers ``R_true`` and
    ``R_floor``, and every method's metrics, each as mean and 95% bootstrap CI over seeds."""
    seeds = common_seeds(learner_metrics, inverse_metrics, induced_metrics)
    induced = {key: bootstrap_ci([m[key] for m in induced_metrics]) for key in ("return_true", "return_floor")}
    return {"task": "t2", "profile": profile, "seeds": seeds,
            "learners": summarize_learners(learner_metrics, profile)["learners"], "induced": induced,
            "methods": aggregate_methods(per_seed_methods(inverse_metrics, induced_metrics))}


def return_baselines(summary: dict) -> dict[str, float]:
    """Mean over seeds of the uniform-random, no-op and true-reward (evaluation) returns, by label."""
    return {"uniform random": summary["learners"]["return_random"]["mean"],
            "no-op": summary["learners"]["return_noop"]["mean"],
            "trained on true reward (evaluation)": summary["induced"]["return_true"]["mean"]}
