"""Figures shared by the task notebooks (matplotlib, no state).

The book shows figures about :data:`BOOK_WIDTH` inches wide (~800 px), so the figures below are at most that wide
and use the font sizes of :data:`FONT_SIZES`; their legends sit outside the axes' data area. Every per-method
series takes its colour from :data:`METHOD_COLOURS` (the same colour for a method on every page), every KL bar
its colour from :data:`KL_COLOURS`. No global ``rcParams`` are changed, so :func:`phase_curves_figure`, drawn
with matplotlib's defaults, keeps its earlier output byte for byte.
"""

from __future__ import annotations

import itertools
import re
import textwrap

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.lines import Line2D

from ilola_lib.analysis.summary import KL_KEYS
from ilola_lib.core.io import atomic_write

KL_LABELS = {"kl_1a": "KL(1a) true ω*", "kl_1b": "KL(1b) recovered ω̂", "kl_0": "KL(0) no update",
             "kl_rand": "KL(rand) random ω"}
KL_LABELS |= {f"{key}_mc": f"{label}, Monte Carlo" for key, label in KL_LABELS.items()}
LOG_FLOOR = 1e-16

BOOK_WIDTH = 8.5
"""Width (inches) of the widest figure; the book's content column shows ~800 px (8 in at the inline 100 dpi)."""
FONT_SIZES = {"tick": 10.5, "label": 11.0, "title": 12.0, "suptitle": 12.5, "legend": 10.5, "note": 10.0}
"""Points, chosen so ticks stay ≥ 9 pt and titles ≥ 10 pt when a :data:`BOOK_WIDTH` figure is shown at 8 in."""

METHOD_COLOURS = {
    "true reward": "#000000",
    # I-LOLA Stage B: blues (light: gradient-step model, dark/greyish: matched-model checks)
    "ilola": "#0072B2",
    "ilola_gpomdp": "#56B4E9",
    "ilola_matched_lola": "#003A63",
    "ilola_matched_pg": "#6C8EBF",
    # its η = 0 ablation: reddish purples
    "ilola_eta0": "#CC79A7",
    "ilola_eta0_gpomdp": "#E3A9CB",
    # I-LOGEL Stage A: oranges
    "ilogel": "#D55E00",
    "ilogel_gpomdp": "#F4A261",
    "ilogel_matched_lola": "#8A3A00",
    "ilogel_matched_pg": "#E69F00",
    # MA-LfL: greens
    "ma_lfl": "#009E73",
    "ma_lfl_exact": "#005A41",
}
"""Method key → colour, the same on every figure of the book (``"true reward"``: the truth, ``ω*``)."""

METHOD_LINE_STYLES = {
    "true reward": ("-", None),
    "ilola": ("-", "o"),
    "ilola_gpomdp": ((0, (3, 1)), "o"),
    "ilola_matched_lola": ((0, (6, 2)), "h"),
    "ilola_matched_pg": ((0, (1, 1)), "H"),
    "ilola_eta0": ("--", "s"),
    "ilola_eta0_gpomdp": ((0, (5, 1, 1, 1)), "s"),
    "ilogel": ("-.", "^"),
    "ilogel_gpomdp": ((0, (3, 1, 1, 1, 1, 1)), "^"),
    "ilogel_matched_lola": ((0, (8, 2, 2, 2)), "v"),
    "ilogel_matched_pg": ((0, (2, 2)), "<"),
    "ma_lfl": (":", "D"),
    "ma_lfl_exact": ((0, (1, 2)), "d"),
}
"""Method key → (linestyle, marker) of its learning curve: lines differ even where colours are close."""

KL_COLOURS = {"kl_1a": "#4F7CAC", "kl_1b": "#2A9D8F", "kl_0": "#E9C46A", "kl_rand": "#E76F51"}
"""KL kind → bar colour (a Monte Carlo estimate ``<kind>_mc`` gets the same colour, lighter and hatched)."""

OTHER_COLOURS = ("#7F7F7F", "#8C564B", "#BCBD22", "#17BECF", "#9467BD")
"""Colours, in turn, of series whose label names no key of :data:`METHOD_COLOURS`."""
NEUTRAL_COLOUR = "#9E9E9E"
BASELINE_STYLES = ("--", ":", "-.")
MARK_STYLES = (  # (marker, size, face colour) of the cells marked on grid heatmaps, in turn
    ("*", 19, "white"), ("D", 10, "black"), ("o", 12, "none"), ("s", 11, "white"), ("^", 12, "black"))


def method_key(label: str) -> str | None:
    """The :data:`METHOD_COLOURS` key a series label names: the label itself, ``"true reward"`` for any label
    that mentions it, or the last word of it that is a key (``"r̂ of ilola_eta0"`` → ``"ilola_eta0"``); ``None``
    when it names none."""
    if label in METHOD_COLOURS:
        return label
    if "true reward" in label:
        return "true reward"
    keys = [word for word in re.findall(r"[A-Za-z0-9_]+", label) if word in METHOD_COLOURS]
    return keys[-1] if keys else None


def method_colour(label: str, fallback: int = 0) -> str:
    """Colour of the method a series label names (:func:`method_key`), else ``OTHER_COLOURS[fallback]``."""
    key = method_key(label)
    return METHOD_COLOURS[key] if key else OTHER_COLOURS[fallback % len(OTHER_COLOURS)]


def _method_line_style(label: str, fallback: int = 0) -> tuple:
    key = method_key(label)
    if key:
        return METHOD_LINE_STYLES[key]
    return (("-", "--", "-.", ":")[fallback % 4], ("o", "s", "^", "D", "v")[fallback % 5])


def _lighter(colour: str, amount: float = 0.45) -> tuple[float, float, float]:
    """``colour`` mixed with ``amount`` of white."""
    return tuple(c + (1.0 - c) * amount for c in to_rgb(colour))


def _style_axes(ax) -> None:
    """Book font sizes on an axes' ticks, axis labels and title."""
    ax.tick_params(labelsize=FONT_SIZES["tick"])
    ax.xaxis.label.set_fontsize(FONT_SIZES["label"])
    ax.yaxis.label.set_fontsize(FONT_SIZES["label"])
    ax.xaxis.get_offset_text().set_fontsize(FONT_SIZES["tick"])
    ax.yaxis.get_offset_text().set_fontsize(FONT_SIZES["tick"])
    ax.title.set_fontsize(FONT_SIZES["title"])


def _legend_beside(ax, **kwargs):
    """A legend outside ``ax``, to its right (constrained layout makes room for it)."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                     fontsize=FONT_SIZES["legend"], **kwargs)


def _legend_above(ax, **kwargs):
    """A legend outside ``ax``, just above it (under the figure's suptitle)."""
    return ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.02), borderaxespad=0.0,
                     fontsize=FONT_SIZES["legend"], **kwargs)


KL_LINEAR_SPAN = 30.0
"""Largest ratio of KL means still drawn on a linear axis (:func:`kl_scale`)."""


def kl_scale(means, floor: float = LOG_FLOOR) -> str:
    """``"log"`` when some mean lies below ``floor`` (an exact zero) or the finite means span a factor of at
    least :data:`KL_LINEAR_SPAN`; ``"linear"`` otherwise (the bars then start at 0)."""
    means = np.asarray(means, dtype=float)
    finite = means[np.isfinite(means)]
    if finite.size == 0:
        return "linear"
    if (finite < floor).any():
        return "log"
    return "log" if finite.max() >= KL_LINEAR_SPAN * finite.min() else "linear"


def kl_comparison(methods: dict, title: str, keys: tuple[str, ...] = KL_KEYS, floor: float = LOG_FLOOR):
    """Grouped bars of held-out KLs per method (95% CI error bars), one colour per KL kind (:data:`KL_COLOURS`;
    Monte Carlo estimates lighter and hatched).

    The y axis is linear when the means span less than a factor :data:`KL_LINEAR_SPAN` and none is below
    ``floor``, logarithmic otherwise (:func:`kl_scale`). On a log axis values below ``floor``
    (exact zeros from matched models) are drawn at ``floor`` and marked "0". A metric without an interval
    (``"ci95": None``, fewer than 2 seeds) gets no error bar. The legend sits above the axes (beside them with
    more than four KL keys).
    """
    names = list(methods)
    values = {key: np.array([methods[n][key]["mean"] if key in methods[n] else np.nan for n in names])
              for key in keys}
    scale = kl_scale(np.concatenate(list(values.values())), floor)
    beside = len(keys) > len(KL_KEYS)
    width = min(BOOK_WIDTH, max(6.0, 1.2 + (0.75 + 0.1 * len(keys)) * len(names) + (2.8 if beside else 0.0)))
    fig, ax = plt.subplots(figsize=(width, 4.6), layout="constrained")
    bar_width = 0.8 / len(keys)
    zero_marked = False
    for offset, key in enumerate(keys):
        means = values[key]
        lows, highs = (np.array([_ci_bound(methods[n].get(key), side) for n in names]) for side in (0, 1))
        if scale == "log":
            shown = np.maximum(means, floor)
            lows, highs = np.maximum(lows, floor), np.maximum(highs, floor)
        else:
            shown = means
        # no interval: nan, for which matplotlib draws no error bar (not a zero-length one with caps)
        errors = np.vstack([shown - lows, highs - shown])
        x = np.arange(len(names)) + (offset - (len(keys) - 1) / 2) * bar_width
        colour = KL_COLOURS.get(key.removesuffix("_mc"), NEUTRAL_COLOUR)
        monte_carlo = key.endswith("_mc")
        ax.bar(x, shown, bar_width, yerr=errors, capsize=2, label=KL_LABELS.get(key, key),
               color=_lighter(colour) if monte_carlo else colour, edgecolor=colour if monte_carlo else None,
               hatch="///" if monte_carlo else None, linewidth=0.6 if monte_carlo else 0.0,
               error_kw={"elinewidth": 1.0, "ecolor": "black"})
        if scale == "log":
            for xi, mean in zip(x, means):
                if np.isfinite(mean) and mean < floor:
                    ax.annotate("0", (xi, floor), ha="center", va="bottom", fontsize=FONT_SIZES["note"])
                    zero_marked = True
    ax.set_yscale(scale)
    if scale == "linear":
        ax.set_ylim(bottom=0.0)
    ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_xlim(-0.5, len(names) - 0.5)
    ax.set_ylabel("held-out KL (nats)" + (f"\n0: exact zero, drawn at {floor:g}" if zero_marked else ""))
    ax.grid(axis="y", color="0.88", linewidth=0.6)
    ax.set_axisbelow(True)
    fig.suptitle(title, fontsize=FONT_SIZES["suptitle"])
    if beside:  # many bars: one column beside the axes
        _legend_beside(ax)
    else:
        _legend_above(ax, ncol=len(keys), handlelength=1.2, columnspacing=1.0)
    _style_axes(ax)
    return fig


def _ci_bound(summary: dict | None, side: int) -> float:
    """Lower (``side`` 0) or upper (1) 95% bound of a summary; nan when absent or without an interval."""
    if summary is None or summary.get("ci95") is None:
        return np.nan
    return summary["ci95"][side]


def grid_heatmaps(panels: dict[str, np.ndarray], title: str, marks: dict[str, tuple[int, int]] | None = None):
    """One heatmap per panel (``[n, n]`` arrays), each with its own symmetric colour scale and colour bar.

    ``marks`` (legend label → ``(row, col)``) are drawn as markers (:data:`MARK_STYLES`, in turn) on every
    panel and explained in one legend under the panels. Panels fill two columns for four panels, else up to
    three.
    """
    count = len(panels)
    ncols = 2 if count == 4 else min(count, 3)
    nrows = -(-count // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(min(BOOK_WIDTH, 4.3 * ncols), 3.5 * nrows + 0.9),
                             squeeze=False, layout="constrained")
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    for ax, (name, values) in zip(axes.flat, panels.items()):
        values = np.asarray(values, dtype=float)
        limit = np.abs(values).max() or 1.0
        image = ax.imshow(values, cmap="coolwarm", vmin=-limit, vmax=limit)
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xticks(np.arange(values.shape[1] + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(values.shape[0] + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="white", linewidth=0.8)
        ax.tick_params(which="minor", length=0)
        handles = []
        for (label, (row, col)), (marker, size, face) in zip((marks or {}).items(), itertools.cycle(MARK_STYLES)):
            (handle,) = ax.plot(col, row, linestyle="none", marker=marker, markersize=size, markerfacecolor=face,
                                markeredgecolor="black", markeredgewidth=1.6, label=label)
            handles.append(handle)
        colour_bar = fig.colorbar(image, ax=ax, fraction=0.046, pad=0.03)
        colour_bar.ax.tick_params(labelsize=FONT_SIZES["tick"])
        _style_axes(ax)
    fig.suptitle(title, fontsize=FONT_SIZES["suptitle"])
    if handles:
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=FONT_SIZES["legend"],
                   handletextpad=0.3, columnspacing=1.5)
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
    """Per-seed learning curves ``[seeds, K+1]`` of learners trained on the true reward (mean and range, drawn in
    the true reward's colour as in :func:`induced_curves_figure`) with horizontal baseline lines."""
    return induced_curves_figure({"trained on the true reward (mean over seeds, band: range)": curves}, baselines, title)


MARKERS_PER_CURVE = 10


def induced_curves_figure(curves: dict[str, np.ndarray], baselines: dict[str, float], title: str):
    """Per label, the mean over seeds of its learning curves ``[seeds, K+1]`` (true return of each batch)
    with a band from the minimum to the maximum over seeds; each baseline a grey horizontal line.

    A label naming a method key (``"r̂ of ilola"``) gets that method's colour (:data:`METHOD_COLOURS`) and line
    style (:data:`METHOD_LINE_STYLES`); :data:`MARKERS_PER_CURVE` markers per curve, staggered between curves.
    Earlier curves are drawn wider and lower, so a curve lying on another still shows at its edges. The legend
    sits under the axes.
    """
    fig, ax = plt.subplots(figsize=(BOOK_WIDTH, 5.4), layout="constrained")
    count, others = len(curves), 0
    for index, (label, values) in enumerate(curves.items()):
        values = np.asarray(values, dtype=float)
        updates = np.arange(values.shape[1])
        fallback = others
        others += method_key(label) is None
        colour = method_colour(label, fallback)
        linestyle, marker = _method_line_style(label, fallback)
        step = max(1, len(updates) // MARKERS_PER_CURVE)
        ax.fill_between(updates, values.min(0), values.max(0), alpha=0.12, color=colour, linewidth=0, zorder=1)
        ax.plot(updates, values.mean(0), color=colour, linestyle=linestyle, label=label, zorder=3 + index,
                linewidth=3.2 - 1.8 * index / max(count - 1, 1), marker=marker, markersize=6.5,
                markevery=(index * step // max(count, 1), step), markeredgecolor="white", markeredgewidth=0.8)
    for (name, value), style in zip(baselines.items(), itertools.cycle(BASELINE_STYLES)):
        ax.axhline(value, linestyle=style, color="0.35", linewidth=1.4, label=name, zorder=2)
    ax.set_xlabel("update k")
    ax.set_ylabel("mean per-agent episode return")
    ax.set_title(title)
    ax.grid(color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=FONT_SIZES["legend"],
               handlelength=3.2)
    _style_axes(ax)
    return fig


def _unit_rows(weights: np.ndarray) -> np.ndarray:
    """``weights`` ``[..., q]`` with every row scaled to unit Euclidean norm."""
    weights = np.asarray(weights, dtype=float)
    return weights / np.linalg.norm(weights, axis=-1, keepdims=True)


def weights_figure(true_weights: np.ndarray, recovered: dict[str, np.ndarray], feature_names):
    """One row of panels per agent, grouped bars per feature: the unit true ``ω*_i`` (``true_weights``
    ``[N, q]``, colour of ``"true reward"``) and, per method (its :data:`METHOD_COLOURS` colour), the mean over
    seeds of its unit ``ω̂_i`` (``recovered[method]`` ``[seeds, N, q]``) with min–max error bars over seeds."""
    truth = _unit_rows(true_weights)
    num_agents, num_features = truth.shape
    fig, axes = plt.subplots(num_agents, 1, figsize=(BOOK_WIDTH, 2.2 * num_agents + 2.0), sharex=True,
                             sharey=True, squeeze=False, layout="constrained")
    width = 0.8 / (1 + len(recovered))
    x = np.arange(num_features)
    for agent, ax in enumerate(axes[:, 0]):
        ax.bar(x - 0.4 + width / 2, truth[agent], width, color=METHOD_COLOURS["true reward"], label="true ω*")
        for offset, (method, weights) in enumerate(recovered.items(), start=1):
            per_seed = _unit_rows(weights)[:, agent]
            mean = per_seed.mean(0)
            errors = np.vstack([mean - per_seed.min(0), per_seed.max(0) - mean])
            ax.bar(x - 0.4 + (offset + 0.5) * width, mean, width, yerr=errors, capsize=1.5, label=method,
                   color=method_colour(method, offset - 1), error_kw={"elinewidth": 0.8, "ecolor": "0.2"})
        ax.axhline(0.0, color="k", linewidth=0.6)
        for boundary in x[:-1] + 0.5:
            ax.axvline(boundary, color="0.85", linewidth=0.6, zorder=0)
        ax.set_ylabel("unit-norm weight")
        ax.set_title(f"agent {agent}", loc="left")
        _style_axes(ax)
    axes[-1, 0].set_xticks(x, feature_names, rotation=20, ha="right", rotation_mode="anchor")
    axes[-1, 0].set_xlim(-0.5, num_features - 0.5)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper center", ncol=min(4, len(labels)), fontsize=FONT_SIZES["legend"])
    return fig


AGENT_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def per_agent_scatter_figure(values: dict[str, np.ndarray], ylabel: str, title: str, threshold: float | None = None):
    """Per method (x groups, its :data:`METHOD_COLOURS` colour), one point per seed and agent of
    ``values[method]`` ``[seeds, N]``, the agent shown by the marker (:data:`AGENT_MARKERS`); an optional
    horizontal ``threshold`` line. The legend sits beside the axes."""
    names = list(values)
    fig, ax = plt.subplots(figsize=(min(BOOK_WIDTH, max(6.0, 0.9 * len(names) + 3.2)), 4.2), layout="constrained")
    num_agents = np.asarray(next(iter(values.values()))).shape[1]
    offsets = np.linspace(-0.25, 0.25, num_agents)
    for agent in range(num_agents):
        marker = AGENT_MARKERS[agent % len(AGENT_MARKERS)]
        for position, name in enumerate(names):
            per_seed = np.asarray(values[name], dtype=float)[:, agent]
            ax.scatter(np.full(len(per_seed), position + offsets[agent]), per_seed, s=30, marker=marker,
                       color=method_colour(name, position), edgecolors="black", linewidths=0.4, zorder=3)
    handles = [Line2D([], [], linestyle="none", marker=AGENT_MARKERS[agent % len(AGENT_MARKERS)], markersize=7,
                      markerfacecolor=NEUTRAL_COLOUR, markeredgecolor="black", label=f"agent {agent}")
               for agent in range(num_agents)]
    if threshold is not None:
        handles.append(ax.axhline(threshold, linestyle="--", color="k", linewidth=0.9, label=f"target {threshold:g}"))
    ax.set_xticks(np.arange(len(names)), names, rotation=30, ha="right", rotation_mode="anchor")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", color="0.9", linewidth=0.6)
    ax.set_axisbelow(True)
    _legend_beside(ax, handles=handles)
    _style_axes(ax)
    return fig


def _ci_bar_panels(labels: list[str], entries: list[dict], panels: tuple[tuple[str, str], ...], colours: list[str],
                   title: str):
    """One horizontal-bar panel per ``(key, x label)`` of ``panels``: per row of ``labels`` the mean of
    ``entries[row][key]`` (``{"mean", "ci95"}`` or ``None``) with its 95% CI as error bars, rows sharing the y axis."""
    fig, axes = plt.subplots(1, len(panels), figsize=(BOOK_WIDTH, 0.85 * len(labels) + 1.6), sharey=True,
                             layout="constrained")
    for ax, (key, xlabel) in zip(np.atleast_1d(axes), panels):
        values = [entry.get(key) for entry in entries]
        means = np.array([v["mean"] if v else np.nan for v in values])
        lows, highs = (np.array([_ci_bound(v, side) for v in values]) for side in (0, 1))
        errors = np.vstack([means - lows, highs - means])
        ax.barh(np.arange(len(labels)), means, xerr=errors, capsize=3, color=colours)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", color="0.9", linewidth=0.6)
        ax.set_axisbelow(True)
        _style_axes(ax)
    first = np.atleast_1d(axes)[0]
    first.set_yticks(np.arange(len(labels)), labels)
    first.invert_yaxis()
    fig.suptitle(title, fontsize=FONT_SIZES["suptitle"])
    return fig


def learner_model_ladder(ladder: dict, title: str):
    """EF(1a) per learner model (left) and the cosine of the weights recovered on it (right), 95% CI error bars;
    ``ladder`` as :func:`ilola_lib.analysis.summary.aggregate_learner_models` returns it. A model fitted by a
    method (its entry's ``"method"``) is drawn in that method's colour and labelled with its key; one without,
    in grey."""
    names = [name for name, entry in ladder.items() if isinstance(entry, dict) and "ef_1a" in entry]
    methods = [ladder[name].get("method") for name in names]
    labels = ["\n".join(textwrap.wrap(ladder[name]["label"], 30)) + (f"\n({method})" if method else "")
              for name, method in zip(names, methods)]
    colours = [METHOD_COLOURS.get(method, NEUTRAL_COLOUR) for method in methods]
    return _ci_bar_panels(labels, [ladder[name] for name in names],
                          (("ef_1a", "EF(1a) = 1 − KL(1a)/KL(0),\nheld out"),
                           ("cosine", "cosine(ω̂, ω*) of the\nmethod fitted on it")), colours, title)


def coupling_figure(rows: list[dict], settings: dict[str, str], title: str):
    """Held-out EF(1b) (left) and cosine(ω̂, ω*) (right) with 95% CIs for each ``row`` (``{"setting", "method",
    "explained_fraction", "cosine"}``, as :func:`ilola_lib.tasks.t2.coupling.coupling_rows` gives them), rows
    labelled ``settings[setting]: method`` and coloured by setting."""
    order = list(settings)
    labels = [f"{settings[row['setting']]}:\n{row['method']}" for row in rows]
    colours = [OTHER_COLOURS[order.index(row["setting"]) % len(OTHER_COLOURS)] for row in rows]
    return _ci_bar_panels(labels, rows, (("explained_fraction", "EF(1b) = 1 − KL(1b)/KL(0),\nheld out"),
                                         ("cosine", "cosine(ω̂, ω*)")), colours, title)
