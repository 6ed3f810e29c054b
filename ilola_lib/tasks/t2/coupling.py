"""The LOLA-PPO variant of T2 (``t2_lola``): its summary beside T2's independent learners, which pair with it by
seed (same seeds, initial policies and environment streams), and the checks of what I-LOLA's coupling must show.

Inputs are the variant's per-seed JSON files (``results/t2_lola/{learners,inverse,induced}``) and T2's learners and
inverse metrics; the thresholds are ``targets.yaml``'s ``t2_lola``.
"""

from __future__ import annotations

import numpy as np

from ilola_lib.analysis.reports import common_seeds, format_threshold
from ilola_lib.analysis.statistics import (bootstrap_ci, fit_resolution, interval_bounds, paired_difference,
                                           paired_kl_sign, t_interval)
from ilola_lib.analysis.targets import load_targets
from ilola_lib.tasks.t2.learn import summarize_learners
from ilola_lib.tasks.t2.report import summarize

# Rows of the coupling figure: (setting, method) → label; T1's matched LOLA learners are exact tabular LOLA.
COUPLING_ROWS = {"t1": (("ilogel_matched_lola", "I-LOGEL"), ("ilola_matched_lola", "I-LOLA")),
                 "t2": (("ilogel", "I-LOGEL"), ("ilola_eta0", "I-LOLA, η = 0"), ("ilola", "I-LOLA")),
                 "t2_lola": (("ilogel", "I-LOGEL"), ("ilola_eta0", "I-LOLA, η = 0"), ("ilola", "I-LOLA"))}


def summarize_variant(learner_metrics: list[dict], inverse_metrics: list[dict], induced_metrics: list[dict],
                      independent_learners: list[dict], independent_inverse: list[dict], profile: str) -> dict:
    """``results/t2_lola/summary.json``: T2's summary of the variant (:func:`ilola_lib.tasks.t2.report.summarize`),
    plus, paired by seed with T2's independent learners (every list in the same seed order, else ``ValueError``),

    * ``improvement_over_random`` (every seed's, and whether each reaches the target);
    * ``lola_norm_ratio``: mean over seeds of each seed's median ‖η · LOLA‖ / ‖PPO gradient‖ over updates;
    * ``return_minus_independent``: the evaluation return of the LOLA-PPO learners minus the independent learners';
    * ``eta_independent``: I-LOLA's η̂ on the independent learners, and ``eta_minus_independent`` the paired
      difference of η̂ (LOLA-PPO − independent);
    * ``relative_kl_1b_ilola_vs_eta0``: per seed ``KL(1b)_ilola / KL(1b)_ilola_eta0 − 1`` with its t-interval and
      the number of seeds where it is negative — a scale-free reading of the coupling's gain, added after the
      absolute paired difference (the registered check) was seen to be dominated by one seed's larger KLs.
    """
    common_seeds(learner_metrics, inverse_metrics, induced_metrics, independent_learners, independent_inverse)
    summary = summarize(learner_metrics, inverse_metrics, induced_metrics, profile)
    lola_eta = [m["methods"]["ilola"]["eta"] for m in inverse_metrics]
    independent_eta = [m["methods"]["ilola"]["eta"] for m in independent_inverse]
    return {**summary,
            "improvement_over_random": summarize_learners(learner_metrics, profile)["improvement_over_random"],
            "improvement_per_seed": [m["improvement_over_random"] for m in learner_metrics],
            "lola_norm_ratio": bootstrap_ci([float(np.median(m["lola_norm_ratio"])) for m in learner_metrics]),
            "return_minus_independent": paired_difference([m["return_trained"]["mean"] for m in learner_metrics],
                                                          [m["return_trained"]["mean"] for m in independent_learners]),
            "eta_independent": bootstrap_ci(independent_eta),
            "eta_minus_independent": paired_difference(lola_eta, independent_eta),
            "relative_kl_1b_ilola_vs_eta0": relative_gain(inverse_metrics, "ilola", "ilola_eta0")}


def relative_gain(inverse_metrics: list[dict], first: str, second: str) -> dict:
    """Per seed ``KL(1b)_first / KL(1b)_second − 1``: mean with its Student-t interval, and ``seeds_below_zero``."""
    ratios = [m["methods"][first]["kl_1b"] / m["methods"][second]["kl_1b"] - 1.0 for m in inverse_metrics]
    return {**t_interval(ratios), "seeds_below_zero": int(sum(r < 0 for r in ratios)), "seeds": len(ratios)}


def coupling_checks(summary: dict) -> list[dict]:
    """The variant's checks, each ``{"target", "measured", "threshold", "met"}`` (as
    :func:`ilola_lib.analysis.reports.checks_markdown` shows them). Differences that pair by seed are judged on
    their 95% t-interval, KL(1b) differences also against the fits' resolution (:func:`paired_kl_sign`); a value
    that cannot be measured (no interval from fewer than 2 seeds) is not met."""
    targets = load_targets().t2_lola
    methods, paired = summary["methods"], summary["paired_kl_1b"]
    ilola = methods["ilola"]

    def upper(difference: dict) -> float | None:
        return None if difference.get("ci95") is None else difference["ci95"][1]

    def lower(difference: dict) -> float | None:
        return None if difference.get("ci95") is None else difference["ci95"][0]

    worst = min(summary["improvement_per_seed"])
    below_ilogel, below_eta0 = upper(paired["ilola − ilogel"]), upper(paired["ilola − ilola_eta0"])
    resolution = fit_resolution(ilola["kl_0"]["mean"])
    eta_gain = lower(summary["eta_minus_independent"])
    eta_independent = upper(summary["eta_independent"])
    eta_fraction = None if eta_independent is None else eta_independent / ilola["eta"]["mean"]
    checks = [
        (f"LOLA-PPO learners learn: improvement over random ≥ {format_threshold(targets.improvement_over_random_min)} "
         "in every seed (the lowest seed)", worst, targets.improvement_over_random_min,
         worst >= targets.improvement_over_random_min),
        (f"`ilola`: mean EF(1a) ≥ {format_threshold(targets.coupled_ef_1a_min)} — the coupled replay with ω* "
         "(η fitted with the step scales)",
         ilola["ef_1a"]["mean"], targets.coupled_ef_1a_min, ilola["ef_1a"]["mean"] >= targets.coupled_ef_1a_min),
        ("`ilola` KL(1b) below `ilogel`'s, paired by seed: upper 95% CI of the difference", below_ilogel, 0.0,
         paired_kl_sign(paired["ilola − ilogel"], resolution) == -1),
        ("`ilola` KL(1b) below `ilola_eta0`'s, paired by seed: upper 95% CI of the difference", below_eta0, 0.0,
         paired_kl_sign(paired["ilola − ilola_eta0"], resolution) == -1),
        (f"`ilola`: mean cosine(ω̂, ω*) ≥ {format_threshold(targets.coupled_cosine_min)}", ilola["cosine"]["mean"],
         targets.coupled_cosine_min, ilola["cosine"]["mean"] >= targets.coupled_cosine_min),
        ("η̂ on LOLA-PPO learners above η̂ on the same seeds' independent learners: lower 95% CI of the paired "
         "difference", eta_gain, 0.0, eta_gain is not None and eta_gain > 0),
        (f"independent learners: upper 95% CI of η̂ ≤ {format_threshold(targets.independent_eta_fraction_max)} × "
         "mean η̂ on LOLA-PPO learners (the ratio)", eta_fraction, targets.independent_eta_fraction_max,
         eta_fraction is not None and eta_fraction <= targets.independent_eta_fraction_max),
    ]
    return [{"target": text, "measured": None if value is None else float(value), "threshold": float(threshold),
             "met": bool(met)} for text, value, threshold, met in checks]


def quoted_numbers(summary: dict, lola_eta: float) -> dict[str, float]:
    """The numbers the variant's chapter quotes in its prose (myst-nb ``glue`` names → plain floats): the learners'
    ``lola_eta`` and coupling size, their return against the independent learners, and I-LOLA's η̂, paired KL(1b)
    differences, explained fractions (EF(1a) of the replay with and without the coupling), cosines and induced
    return. An interval bound that does not exist (fewer
    than 2 seeds) is nan."""
    methods, paired = summary["methods"], summary["paired_kl_1b"]
    gap, gain = summary["return_minus_independent"], paired["ilola − ilola_eta0"]
    relative = summary["relative_kl_1b_ilola_vs_eta0"]
    (gap_low, gap_high), (gain_low, gain_high) = interval_bounds(gap), interval_bounds(gain)
    relative_low, relative_high = interval_bounds(relative)
    quoted = {
        "lola_eta": lola_eta, "lola_ratio": summary["lola_norm_ratio"]["mean"],
        "lola_worst_improvement": min(summary["improvement_per_seed"]),
        "lola_return_gap": gap["mean"], "lola_return_gap_low": gap_low, "lola_return_gap_high": gap_high,
        "lola_eta_hat": methods["ilola"]["eta"]["mean"], "lola_eta_independent": summary["eta_independent"]["mean"],
        "lola_gain_eta0": gain["mean"], "lola_gain_eta0_low": gain_low, "lola_gain_eta0_high": gain_high,
        "lola_relative_gain": relative["mean"], "lola_relative_gain_low": relative_low,
        "lola_relative_gain_high": relative_high, "lola_seeds_lower": relative["seeds_below_zero"],
        "lola_seeds": relative["seeds"],
        "lola_gain_ilogel": paired["ilola − ilogel"]["mean"], "lola_kl_0": methods["ilola"]["kl_0"]["mean"],
        "lola_ef_1a": methods["ilola"]["ef_1a"]["mean"], "lola_ef_1a_eta0": methods["ilola_eta0"]["ef_1a"]["mean"],
        "lola_ef_1b": methods["ilola"]["explained_fraction"]["mean"],
        "lola_ef_1b_eta0": methods["ilola_eta0"]["explained_fraction"]["mean"],
        "lola_cos_ilola": methods["ilola"]["cosine"]["mean"], "lola_cos_eta0": methods["ilola_eta0"]["cosine"]["mean"],
        "lola_cos_ilogel": methods["ilogel"]["cosine"]["mean"],
        "lola_induced_ilola": methods["ilola"]["induced_normalized"]["mean"],
    }
    return {name: float(value) for name, value in quoted.items()}


def coupling_rows(summaries: dict[str, dict]) -> list[dict]:
    """Per setting (``t1`` matched LOLA, ``t2`` independent PPO, ``t2_lola`` LOLA-PPO) and method of
    :data:`COUPLING_ROWS`: the held-out EF(1b) and cosine (mean and 95% CI), for the figure beside T1."""
    rows = []
    for setting, methods in COUPLING_ROWS.items():
        for method, label in methods:
            metrics = summaries[setting]["methods"][method]
            rows.append({"setting": setting, "method": label, "explained_fraction": metrics["explained_fraction"],
                         "cosine": metrics["cosine"]})
    return rows
