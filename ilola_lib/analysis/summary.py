"""Aggregating per-seed metrics into ``results/<task>/summary.json`` (design §9) and tables."""

from __future__ import annotations

import math
from pathlib import Path

from ilola_lib.analysis.statistics import bootstrap_ci, paired_difference
from ilola_lib.core.io import read_json
from ilola_lib.core.metrics import explained_fraction

KL_KEYS = ("kl_1a", "kl_1b", "kl_0", "kl_rand")
# A KL below this is float64 round-off of an exact match: a ratio over it would only divide noise.
KL_RESOLUTION = 1e-12
MONTE_CARLO_KEYS = tuple(f"{key}_mc{suffix}" for key in KL_KEYS for suffix in ("", "_se"))
SCALAR_KEYS = KL_KEYS + MONTE_CARLO_KEYS + ("cosine", "epic", "reward_correlation", "eta", "induced_normalized")


def derived_metrics(method: dict) -> dict:
    """Headline ratios of design §6 for one seed: ``KL(1b)/KL(1a)``, ``explained_fraction`` EF(1b) = ``1 − KL(1b)/KL(0)``
    and ``ef_1a`` = ``1 − KL(1a)/KL(0)`` (how much of the held-out change the learner model explains with ``ω*``).

    A ratio whose denominator is at round-off level (``< KL_RESOLUTION``) does not apply and is left out.
    """
    derived = {}
    if method.get("kl_1a", 0.0) > KL_RESOLUTION:
        derived["kl_ratio_1b_1a"] = method["kl_1b"] / method["kl_1a"]
    if method.get("kl_0", 0.0) > KL_RESOLUTION:
        derived["explained_fraction"] = explained_fraction(method["kl_1b"], method["kl_0"])
        derived["ef_1a"] = explained_fraction(method["kl_1a"], method["kl_0"])
    return derived


# Baselines a method's KL(1b) is compared with, paired by seed: KL(0) − KL(1b) > 0 means the recovered
# reward predicts the held-out updates better than no update.
PAIRED_BASELINES = ("kl_0", "kl_rand")
# Methods compared on KL(1b), paired by seed: (central, other) → KL(1b)_central − KL(1b)_other.
METHOD_PAIRS = (("ilola", "ilogel"), ("ilola", "ilola_eta0"), ("ilola", "ma_lfl"), ("ilola", "ilola_gpomdp"))


def aggregate_methods(seed_metrics: list[dict]) -> dict:
    """Mean and 95% bootstrap CI over seeds of every scalar metric that every seed reports
    (:func:`~ilola_lib.analysis.statistics.bootstrap_ci`: no interval with a single seed), and the paired
    differences ``<baseline>_minus_kl_1b`` (:data:`PAIRED_BASELINES`) per seed with their t-intervals."""
    methods = {}
    for key in seed_metrics[0]["methods"]:
        per_seed = []
        for metrics in seed_metrics:
            method = metrics["methods"][key]
            per_seed.append({**{k: method[k] for k in SCALAR_KEYS if k in method}, **derived_metrics(method)})
        common = set.intersection(*(set(entry) for entry in per_seed))
        methods[key] = {name: bootstrap_ci([entry[name] for entry in per_seed]) for name in sorted(common)}
        for baseline in PAIRED_BASELINES:
            if {baseline, "kl_1b"} <= common:
                methods[key][f"{baseline}_minus_kl_1b"] = paired_difference(
                    [entry[baseline] for entry in per_seed], [entry["kl_1b"] for entry in per_seed])
    return methods


def paired_method_differences(seed_metrics: list[dict], key: str = "kl_1b") -> dict:
    """``"<central> − <other>"`` → the per-seed difference of ``key`` between two methods run on the same traces,
    with its paired t-interval, for every pair of :data:`METHOD_PAIRS` that reports ``key`` in every seed."""
    differences = {}
    for central, other in METHOD_PAIRS:
        if all(key in m["methods"].get(central, {}) and key in m["methods"].get(other, {}) for m in seed_metrics):
            differences[f"{central} − {other}"] = paired_difference(
                [m["methods"][central][key] for m in seed_metrics], [m["methods"][other][key] for m in seed_metrics])
    return differences


NO_INTERVAL = "—"


def format_interval(summary: dict, digits: int = 3) -> str:
    """``mean [low, high]`` in compact scientific notation; ``mean [—]`` when there is no interval
    (``"ci95": None``: fewer than 2 seeds, or a spread that was not recorded)."""
    if summary.get("ci95") is None:
        return f"{summary['mean']:.{digits}g} [{NO_INTERVAL}]"
    low, high = summary["ci95"]
    return f"{summary['mean']:.{digits}g} [{low:.{digits}g}, {high:.{digits}g}]"


def format_number(value: float | None, spec: str = ".3g") -> str:
    """``value`` formatted with ``spec``; "—" for ``None`` or a non-finite value (never ``nan`` in a table)."""
    if value is None or not math.isfinite(value):
        return NO_INTERVAL
    return format(value, spec)


def format_threshold(value: float) -> str:
    """A target threshold as written in the issues: ``0.9``, ``1.5``, ``1e-8`` (``g`` format, exponent unpadded)."""
    text = f"{value:g}"
    mantissa, _, exponent = text.partition("e")
    return f"{mantissa}e{int(exponent)}" if exponent else mantissa


def markdown_rows(header, rows) -> str:
    """A Markdown table from a header and rows of cells (each cell already formatted as text)."""
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def markdown_table(methods: dict, columns: tuple[str, ...]) -> str:
    """A Markdown table: one row per method, one column per metric (``—`` where it does not apply)."""
    return markdown_rows(("method", *columns), (
        [f"`{key}`", *(format_interval(metrics[c]) if c in metrics else "—" for c in columns)]
        for key, metrics in methods.items()))



# The learner models of the ladder, from the poster's gradient step to the PPO replay, each with the method whose
# recovered weights it carries (the cosine of the ladder).
LEARNER_MODELS = {"gpomdp": ("GPOMDP gradient step (the poster's model)", "ilola_gpomdp"),
                  "surrogate": ("first-step PPO surrogate on shadow-critic advantages", None),
                  "surrogate_adam": ("the same, Adam-preconditioned (Stage A)", "ilogel"),
                  "replay": ("PPO update replay (Stage B)", "ilola"),
                  "replay_coupled": ("the same plus the LOLA coupling, η fitted at ω* (coupled learners)", "ilola")}


def aggregate_learner_models(seed_metrics: list[dict]) -> dict:
    """Per learner model of :data:`LEARNER_MODELS`: mean and 95% bootstrap CI over seeds of its held-out KL(1a) and
    EF(1a), and the cosine of the method fitted on it; plus the shadow critic's explained variance."""
    ladder = {}
    for name, (label, method) in LEARNER_MODELS.items():
        if not all(name in m.get("learner_models", {}) for m in seed_metrics):
            continue
        entry = {"label": label, **{key: bootstrap_ci([m["learner_models"][name][key] for m in seed_metrics])
                                    for key in ("kl_1a", "ef_1a")}}
        if method is not None:
            entry["method"] = method
            entry["cosine"] = bootstrap_ci([m["methods"][method]["cosine"] for m in seed_metrics])
        ladder[name] = entry
    if all("shadow_critic_explained_variance" in m.get("learner_models", {}) for m in seed_metrics):
        ladder["shadow_critic_explained_variance"] = bootstrap_ci(
            [m["learner_models"]["shadow_critic_explained_variance"] for m in seed_metrics])
    return ladder


def read_summaries(results_dir: str | Path) -> dict[str, dict]:
    """Every task's ``summary.json`` under ``results_dir``, by task (``{"t1": …, "t2": …, "t3": …}``)."""
    return {path.parent.name: read_json(path) for path in sorted(Path(results_dir).glob("t*/summary.json"))}
