"""Aggregating per-seed metrics into ``results/<task>/summary.json`` (design §9) and tables."""

from __future__ import annotations

from ilola_lib.core.metrics import bootstrap_ci

KL_KEYS = ("kl_1a", "kl_1b", "kl_0", "kl_rand")
# A KL below this is float64 round-off of an exact match: a ratio over it would only divide noise.
KL_RESOLUTION = 1e-12
MONTE_CARLO_KEYS = tuple(f"{key}_mc{suffix}" for key in KL_KEYS for suffix in ("", "_se"))
SCALAR_KEYS = KL_KEYS + MONTE_CARLO_KEYS + ("cosine", "epic", "eta", "induced_normalized")


def derived_metrics(method: dict) -> dict:
    """Headline ratios of design §6 for one seed: ``KL(1b)/KL(1a)`` and ``1 − KL(1b)/KL(0)``.

    A ratio whose denominator is at round-off level (``< KL_RESOLUTION``) does not apply and is left out.
    """
    derived = {}
    if method.get("kl_1a", 0.0) > KL_RESOLUTION:
        derived["kl_ratio_1b_1a"] = method["kl_1b"] / method["kl_1a"]
    if method.get("kl_0", 0.0) > KL_RESOLUTION:
        derived["explained_fraction"] = 1.0 - method["kl_1b"] / method["kl_0"]
    return derived


def aggregate_methods(seed_metrics: list[dict]) -> dict:
    """Mean and 95% bootstrap CI over seeds of every scalar metric that every seed reports."""
    methods = {}
    for key in seed_metrics[0]["methods"]:
        per_seed = []
        for metrics in seed_metrics:
            method = metrics["methods"][key]
            per_seed.append({**{k: method[k] for k in SCALAR_KEYS if k in method}, **derived_metrics(method)})
        common = set.intersection(*(set(entry) for entry in per_seed))
        methods[key] = {name: bootstrap_ci([entry[name] for entry in per_seed]) for name in sorted(common)}
    return methods


def format_interval(summary: dict, digits: int = 3) -> str:
    """``mean [low, high]`` in compact scientific notation."""
    low, high = summary["ci95"]
    return f"{summary['mean']:.{digits}g} [{low:.{digits}g}, {high:.{digits}g}]"


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

