"""T2 report: all seeds of simple_spread aggregated into ``results/t2/summary.json`` (design §9).

Inputs are the per-seed JSON files of the learn (``results/t2/learners``), invert (``results/t2/inverse``)
and induce (``results/t2/induced``) stages; the comparisons and tables are :mod:`ilola_lib.analysis.reports`',
the thresholds :mod:`ilola_lib.analysis.targets`'.
"""

from __future__ import annotations

from ilola_lib.analysis import reports
from ilola_lib.analysis.reports import common_seeds, induced_normalisers, per_seed_methods
from ilola_lib.analysis.summary import aggregate_learner_models, aggregate_methods, paired_method_differences
from ilola_lib.analysis.targets import load_targets
from ilola_lib.tasks.t2.learn import summarize_learners

# The trivial policies whose better return is the induced-return floor (as in the induce stage).
TRIVIAL_POLICIES = ("random", "noop")


def summarize(learner_metrics: list[dict], inverse_metrics: list[dict], induced_metrics: list[dict],
              profile: str) -> dict:
    """``results/t2/summary.json``: learners' returns, the induced-return normalisers ``R_true`` and
    ``R_floor``, and every method's metrics, each as mean and 95% CI — over seeds, except for a baseline
    evaluated once (the no-op floor), whose CI is over its evaluation episodes (``"ci_source"``)."""
    seeds = common_seeds(learner_metrics, inverse_metrics, induced_metrics)
    per_seed = per_seed_methods(inverse_metrics, induced_metrics)
    return {"task": "t2", "profile": profile, "seeds": seeds,
            "learners": summarize_learners(learner_metrics, profile)["learners"],
            "induced": induced_normalisers(learner_metrics, induced_metrics, TRIVIAL_POLICIES),
            "methods": aggregate_methods(per_seed),
            "paired_induced": paired_method_differences(per_seed, "induced_normalized"),
            "paired_kl_1b": paired_method_differences(inverse_metrics),
            "learner_models": aggregate_learner_models(inverse_metrics)}


def target_checks(summary: dict) -> list[dict]:
    """The T2 issue's I-LOLA targets (:func:`ilola_lib.analysis.reports.target_checks` with T2's thresholds)."""
    return reports.target_checks(summary, load_targets().t2.ilola)


def return_baselines(summary: dict) -> dict[str, float]:
    """Mean over seeds of the uniform-random, no-op and true-reward (evaluation) returns, by label."""
    return {"uniform random": summary["learners"]["return_random"]["mean"],
            "no-op": summary["learners"]["return_noop"]["mean"],
            "trained on true reward (evaluation)": summary["induced"]["return_true"]["mean"]}
