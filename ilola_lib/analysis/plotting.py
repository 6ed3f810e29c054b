"""Figures shared by the task notebooks (matplotlib, no state)."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import numpy as np

from ilola_lib.analysis.summary import KL_KEYS
from ilola_lib.core.io import atomic_write

KL_LABELS = {"kl_1a": "KL(1a) true ω*", "kl_1b": "KL(1b) recovered ω̂", "kl_0": "KL(0) no update",
             "kl_rand": "KL(rand) random ω"}
KL_LABELS |= {f"{key}_mc": f"{label}, Monte Carlo" for key, label in KL_LABELS.items()}
LOG_FLOOR = 1e-16


def kl_comparison(methods: dict, title: str, keys: tuple[str, ...] = KL_KEYS, floor: float = LOG_FLOOR):
    """Grouped bars of held-out KLs per method (log scale, 95% CI error bars).

    Values below ``floor`` (exact zeros from matched models) are drawn at ``floor`` and marked. A metric without
    an interval (``"ci95": None``, fewer than 2 seeds) gets no error bar.
    """
    names = list(methods)
    wide = len(keys) > len(KL_KEYS)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names) + 2) + (3.0 if wide else 0.0), 4.0))
    width = 0.8 / len(keys)
    for offset, key in enumerate(keys):
        means = np.array([methods[n][key]["mean"] if key in methods[n] else np.nan for n in names])
        lows, highs = (np.array([_ci_bound(methods[n].get(key), side) for n in names]) for side in (0, 1))
        shown = np.maximum(means, floor)
        # no interval: nan, for which matplotlib draws no error bar (not a zero-length one with caps)
        errors = np.vstack([shown - np.maximum(lows, floor), np.maximum(highs, floor) - shown])
        x = np.arange(len(names)) + (offset - (len(keys) - 1) / 2) * width
        ax.bar(x, shown, width, yerr=errors, capsize=2, label=KL_LABELS.get(key, key))
        for xi, mean in zip(x, means):
            if np.isfinite(mean) and mean < floor:
                ax.annotate("0", (xi, floor), ha="center", va="bottom", fontsize=7)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel("held-out KL (nats)")
    ax.set_title(title)
    if wide:  # many bars: the legend goes beside the axes
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def _ci_bound(summary: dict | None, side: int) -> float:
    """Lower (``side`` 0) or upper (1) 95% bound of a summary; nan when absent or without an interval."""
    if summary is None or summary.get("ci95") is None:
        return np.nan
    return summary["ci95"][side]


def grid_heatmaps(panels: dict[str, np.ndarray], title: str, marks: dict[str, tuple[int, int]] | None = None):
    """One heatmap per panel (``[n, n]`` arrays), each with its own colour scale."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.4))
    for ax, (name, values) in zip(np.atleast_1d(axes), panels.items()):
        image = ax.imshow(values, cmap="coolwarm", vmin=-np.abs(values).max(), vmax=np.abs(values).max())
        ax.set_title(name, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
        for label, (row, col) in (marks or {}).items():
            ax.text(col, row, label, ha="center", va="center", fontsize=8)
        fig.colorbar(image, ax=ax, fraction=0.046)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, path) -> None:
    """Save as PNG with fixed metadata (no timestamps), atomically."""
    atomic_write(path, lambda handle: fig.savefig(handle, format="png", dpi=120, metadata={"Software": None}))


def phase_curves_figure(curves: dict[str, list[float]], xlabel: str, ylabel: str):
    """One line with markers per label of ``curves`` (label → one value per phase ``k``)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, values in curves.items():
        ax.plot(values, marker="o", label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    return fig


def learning_curves_figure(curves: np.ndarray, baselines: dict[str, float], title: str):
    """Per-seed learning curves ``[seeds, K+1]`` (mean and range) with horizontal baseline lines."""
    return induced_curves_figure({"trained (mean over seeds, band: range)": curves}, baselines, title)


def induced_curves_figure(curves: dict[str, np.ndarray], baselines: dict[str, float], title: str):
    """Per label, the mean over seeds of its learning curves ``[seeds, K+1]`` (true return of each batch)
    with a band from the minimum to the maximum over seeds; each baseline a horizontal line."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for label, values in curves.items():
        values = np.asarray(values, dtype=float)
        updates = np.arange(values.shape[1])
        (line,) = ax.plot(updates, values.mean(0), label=label, linewidth=1.2)
        ax.fill_between(updates, values.min(0), values.max(0), alpha=0.2, color=line.get_color(), linewidth=0)
    for (name, value), style in zip(baselines.items(), itertools.cycle(("--", ":", "-."))):
        ax.axhline(value, linestyle=style, color="k", label=name)
    ax.set_xlabel("update k")
    ax.set_ylabel("mean per-agent episode return")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _unit_rows(weights: np.ndarray) -> np.ndarray:
    """``weights`` ``[..., q]`` with every row scaled to unit Euclidean norm."""
    weights = np.asarray(weights, dtype=float)
    return weights / np.linalg.norm(weights, axis=-1, keepdims=True)


def weights_figure(true_weights: np.ndarray, recovered: dict[str, np.ndarray], feature_names):
    """One panel per agent, grouped bars per feature: the unit true ``ω*_i`` (``true_weights`` ``[N, q]``)
    and, per method, the mean over seeds of its unit ``ω̂_i`` (``recovered[method]`` ``[seeds, N, q]``)
    with min–max error bars over seeds."""
    truth = _unit_rows(true_weights)
    num_agents, num_features = truth.shape
    fig, axes = plt.subplots(1, num_agents, figsize=(3.2 * num_agents + 1.0, 3.6), sharey=True, squeeze=False)
    width = 0.8 / (1 + len(recovered))
    x = np.arange(num_features)
    for agent, ax in enumerate(axes[0]):
        ax.bar(x - 0.4 + width / 2, truth[agent], width, color="k", label="true ω*")
        for offset, (method, weights) in enumerate(recovered.items(), start=1):
            per_seed = _unit_rows(weights)[:, agent]
            mean = per_seed.mean(0)
            errors = np.vstack([mean - per_seed.min(0), per_seed.max(0) - mean])
            ax.bar(x - 0.4 + (offset + 0.5) * width, mean, width, yerr=errors, capsize=2, label=method)
        ax.axhline(0.0, color="k", linewidth=0.5)
        ax.set_xticks(x, feature_names, rotation=40, ha="right", fontsize=8)
        ax.set_title(f"agent {agent}", fontsize=9)
    axes[0, 0].set_ylabel("unit-norm weight")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper center", ncol=1 + len(recovered), fontsize=8)
    fig.tight_layout(rect=(0.0, 0.0, 1.0, 0.9))
    return fig


def per_agent_scatter_figure(values: dict[str, np.ndarray], ylabel: str, title: str, threshold: float | None = None):
    """Per method (x groups), one point per seed and agent of ``values[method]`` ``[seeds, N]``, coloured by
    agent; an optional horizontal ``threshold`` line."""
    names = list(values)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.2 * len(names) + 2), 3.6))
    num_agents = np.asarray(next(iter(values.values()))).shape[1]
    offsets = np.linspace(-0.25, 0.25, num_agents)
    for agent in range(num_agents):
        for position, name in enumerate(names):
            per_seed = np.asarray(values[name], dtype=float)[:, agent]
            ax.scatter(np.full(len(per_seed), position + offsets[agent]), per_seed, s=18, color=f"C{agent}",
                       label=f"agent {agent}" if position == 0 else None)
    if threshold is not None:
        ax.axhline(threshold, linestyle="--", color="k", linewidth=0.8, label=f"target {threshold:g}")
    ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def learner_model_ladder(ladder: dict, title: str):
    """EF(1a) per learner model (left) and the cosine of the weights recovered on it (right), 95% CI error bars;
    ``ladder`` as :func:`ilola_lib.analysis.summary.aggregate_learner_models` returns it."""
    names = [name for name, entry in ladder.items() if isinstance(entry, dict) and "ef_1a" in entry]
    labels = [ladder[name]["label"] for name in names]
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 0.6 * len(names) + 1.8), sharey=True)
    for ax, key, xlabel in ((axes[0], "ef_1a", "EF(1a) = 1 − KL(1a)/KL(0), held out"),
                            (axes[1], "cosine", "cosine(ω̂, ω*) of the method fitted on it")):
        values = [ladder[n].get(key) for n in names]
        means = np.array([v["mean"] if v else np.nan for v in values])
        lows, highs = (np.array([_ci_bound(v, side) for v in values]) for side in (0, 1))
        errors = np.vstack([means - lows, highs - means])
        ax.barh(np.arange(len(names)), means, xerr=errors, capsize=3, color="tab:blue")
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel(xlabel)
    axes[0].set_yticks(np.arange(len(names)), labels)
    axes[0].invert_yaxis()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
