"""The Monte-Carlo-advantage variant of T3 (``t3_mc``): walkers trained with GAE λ = 1, summarised as T3 is, and their
differences from T3's walkers (λ = 0.95), which pair with them by seed (same seeds, initial policies, normalisers and
episode streams; only λ differs).

With λ = 1 a walker's advantage is its Monte-Carlo return minus its critic's value: the critic enters the update
only as a baseline, so the update's direction no longer follows the critic's errors, which the observer cannot see.
Inputs are the variant's per-seed JSON files (``results/t3_mc/{learners,inverse,induced}``) and T3's learners and
inverse metrics; the targets are T3's.
"""

from __future__ import annotations

from ilola_lib.analysis.reports import common_seeds, quoted_means
from ilola_lib.analysis.statistics import interval_bounds, paired_difference
from ilola_lib.analysis.summary import LEARNER_MODELS, derived_metrics, format_interval, markdown_rows
from ilola_lib.tasks.t3.report import summarize

COMPARED_METHODS = ("ilola", "ilogel")


def _method_value(metrics: dict, method: str, key: str) -> float:
    """One seed's ``key`` of ``method``, recorded or derived (:func:`~ilola_lib.analysis.summary.derived_metrics`)."""
    entry = metrics["methods"][method]
    return float({**entry, **derived_metrics(entry)}[key])


def differences_from_t3(learner_metrics: list[dict], inverse_metrics: list[dict], t3_learners: list[dict],
                        t3_inverse: list[dict]) -> dict:
    """Variant − T3, paired by seed (every list in the same seed order, else ``ValueError``), each as
    :func:`~ilola_lib.analysis.statistics.paired_difference`'s ``{"mean", "ci95", "paired"}``:

    * ``learners``: the trained walkers' evaluation ``return`` and ``package_distance``;
    * ``ef_1a``: every learner model's held-out EF(1a) with the true reward;
    * ``methods``: I-LOLA's and I-LOGEL's ``cosine`` and ``explained_fraction`` (EF(1b)).
    """
    common_seeds(learner_metrics, inverse_metrics, t3_learners, t3_inverse)

    def paired(value, variant: list[dict], baseline: list[dict]) -> dict:
        return paired_difference([value(m) for m in variant], [value(m) for m in baseline])

    def learners(key: str) -> dict:
        return paired(lambda m: m["return_trained"][key], learner_metrics, t3_learners)

    def inverse(value) -> dict:
        return paired(value, inverse_metrics, t3_inverse)

    return {
        "learners": {"return": learners("mean"), "package_distance": learners("package_distance")},
        "ef_1a": {model: inverse(lambda m, model=model: m["learner_models"][model]["ef_1a"])
                  for model in LEARNER_MODELS if model in inverse_metrics[0]["learner_models"]},
        "methods": {method: {key: inverse(lambda m, method=method, key=key: _method_value(m, method, key))
                             for key in ("cosine", "explained_fraction")} for method in COMPARED_METHODS},
    }


def summarize_variant(learner_metrics: list[dict], inverse_metrics: list[dict], induced_metrics: list[dict],
                      t3_learners: list[dict], t3_inverse: list[dict], profile: str) -> dict:
    """``results/t3_mc/summary.json``: T3's summary of the variant (:func:`ilola_lib.tasks.t3.report.summarize`) and
    ``minus_t3``, its paired differences from T3's walkers (:func:`differences_from_t3`)."""
    summary = summarize(learner_metrics, inverse_metrics, induced_metrics, profile)
    return {**summary, "minus_t3": differences_from_t3(learner_metrics, inverse_metrics, t3_learners, t3_inverse)}


def differences_table(summary: dict) -> str:
    """Markdown: every paired difference of ``summary["minus_t3"]`` (variant − T3) as mean [95% CI]."""
    differences = summary["minus_t3"]
    rows = [["walkers' evaluation return per walker", format_interval(differences["learners"]["return"])],
            ["walkers' package distance (m)", format_interval(differences["learners"]["package_distance"])]]
    rows += [[f"EF(1a), {label} (`{model}`)", format_interval(differences["ef_1a"][model])]
             for model, (label, _) in LEARNER_MODELS.items() if model in differences["ef_1a"]]
    rows += [[f"`{method}` {label}", format_interval(differences["methods"][method][key])]
             for method in COMPARED_METHODS for key, label in (("explained_fraction", "EF(1b)"), ("cosine", "cosine"))]
    return markdown_rows(("quantity", "t3_mc − t3, paired by seed [95% CI]"), rows)


def reading_numbers(summary: dict, t3_gae_lambda: float) -> dict[str, float]:
    """The numbers the variant's chapter quotes in its prose (myst-nb ``glue`` names → plain floats): T3's GAE λ,
    the variant's means (walkers' return, each learner model's EF(1a), I-LOLA's and I-LOGEL's EF(1b), cosine and
    normalised induced return), the induced return's noise floor, and the paired differences from T3 with their
    95% interval bounds (nan without an interval: fewer than 2 seeds)."""
    quotes = {"t3mc_return": ("learners", "return_trained"), "t3mc_stand": ("learners", "return_stand_still")}
    quotes |= {f"t3mc_ef_{model}": ("learner_models", model, "ef_1a") for model in summary["minus_t3"]["ef_1a"]}
    quotes |= {f"t3mc_{key}_{method}": ("methods", method, key) for method in COMPARED_METHODS
               for key in ("explained_fraction", "cosine", "induced_normalized")}
    floor = summary["induced"]["noise_floor"]
    numbers = {"t3mc_t3_lambda": t3_gae_lambda, "t3mc_induced_sd": floor["training_sd"],
               "t3mc_induced_resolution": floor["difference_resolution"], **quoted_means(summary, quotes)}
    differences = summary["minus_t3"]
    compared = {"return": differences["learners"]["return"],
                **{f"ef_{model}": value for model, value in differences["ef_1a"].items()},
                **{f"{key}_{method}": differences["methods"][method][key] for method in COMPARED_METHODS
                   for key in ("explained_fraction", "cosine")}}
    for name, difference in compared.items():
        low, high = interval_bounds(difference)
        numbers |= {f"t3mc_diff_{name}": difference["mean"], f"t3mc_diff_{name}_low": low,
                    f"t3mc_diff_{name}_high": high}
    return {name: float(value) for name, value in numbers.items()}
