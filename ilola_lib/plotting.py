"""Figures shared by the task notebooks (matplotlib, no state)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ilola_lib.io import atomic_write
from ilola_lib.summary import KL_KEYS

KL_LABELS = {"kl_1a": "KL(1a) true ω*", "kl_1b": "KL(1b) recovered ω̂", "kl_0": "KL(0) no update",
             "kl_rand": "KL(rand) random ω"}
LOG_FLOOR = 1e-16


def kl_comparison(methods: dict, title: str, keys: tuple[str, ...] = KL_KEYS, floor: float = LOG_FLOOR):
    """Grouped bars of held-out KLs per method (log scale, 95% CI error bars).

    Values below ``floor`` (exact zeros from matched models) are drawn at ``floor`` and marked.
    """
    names = list(methods)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names) + 2), 4.0))
    width = 0.8 / len(keys)
    for offset, key in enumerate(keys):
        means = np.array([methods[n][key]["mean"] if key in methods[n] else np.nan for n in names])
        lows = np.array([methods[n][key]["ci95"][0] if key in methods[n] else np.nan for n in names])
        highs = np.array([methods[n][key]["ci95"][1] if key in methods[n] else np.nan for n in names])
        shown = np.maximum(means, floor)
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
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


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


def learning_curves_figure(curves: np.ndarray, baselines: dict[str, float], title: str):
    """Per-seed learning curves ``[seeds, K+1]`` (mean and range) with horizontal baseline lines."""
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    updates = np.arange(curves.shape[1])
    ax.fill_between(updates, curves.min(0), curves.max(0), alpha=0.25, label="range over seeds")
    ax.plot(updates, curves.mean(0), label="trained (mean over seeds)")
    for (name, value), style in zip(baselines.items(), ("--", ":", "-.")):
        ax.axhline(value, linestyle=style, color="k", label=name)
    ax.set_xlabel("update k")
    ax.set_ylabel("mean per-agent episode return")
    ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
