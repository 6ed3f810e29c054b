"""The book's figures: one colour per method on every figure, the KL axis scale, legends off the data, marked
grid cells, legible font sizes."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.container import BarContainer, ErrorbarContainer  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402

from ilola_lib.analysis import plotting  # noqa: E402
from ilola_lib.analysis.plotting import (  # noqa: E402
    KL_COLOURS,
    METHOD_COLOURS,
    grid_heatmaps,
    induced_curves_figure,
    kl_comparison,
    kl_scale,
    learner_model_ladder,
    method_key,
    per_agent_scatter_figure,
    save_figure,
    weights_figure,
)
from ilola_lib.core.io import read_json  # noqa: E402
from ilola_lib.tasks.t1 import experiment as t1  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RESULT_KEYS = ("ma_lfl", "ma_lfl_exact", "ilogel", "ilola", "ilola_eta0", "ilogel_gpomdp", "ilola_gpomdp",
               "ilola_eta0_gpomdp", "ilola_matched_lola", "ilola_matched_pg", "ilogel_matched_lola",
               "ilogel_matched_pg")
METHODS = ("ilola", "ilola_eta0", "ilogel", "ma_lfl")
BOOK_WIDTH_PX = 800  # the book's content column; the notebook's inline figures are drawn at 100 dpi


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def interval(mean: float, spread: float = 0.1) -> dict:
    return {"mean": mean, "ci95": [mean * (1 - spread), mean * (1 + spread)]}


def kl_methods(values: dict[str, float]) -> dict:
    """Methods whose four KLs are the given means (one per method)."""
    return {name: {key: interval(value) for key in ("kl_1a", "kl_1b", "kl_0", "kl_rand")}
            for name, value in values.items()}


def drawn(fig):
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def legends(fig) -> list[Legend]:
    return [*fig.legends, *(ax.get_legend() for ax in fig.axes if ax.get_legend() is not None)]


def data_axes(fig):
    """The figure's visible axes, without colour bars."""
    return [ax for ax in fig.axes if ax.get_visible() and ax.get_label() != "<colorbar>"]


def assert_legends_outside(fig, expected: int = 1):
    renderer = drawn(fig)
    found = legends(fig)
    assert len(found) == expected
    figure_box = fig.bbox
    for legend in found:
        box = legend.get_window_extent(renderer)
        for ax in data_axes(fig):
            assert not box.overlaps(ax.get_window_extent(renderer)), legend.get_texts()[0].get_text()
        # nothing clipped when saved: the legend lies inside the figure
        assert box.x0 >= figure_box.x0 - 1 and box.x1 <= figure_box.x1 + 1
        assert box.y0 >= figure_box.y0 - 1 and box.y1 <= figure_box.y1 + 1


def assert_legible(fig):
    """Ticks ≥ 9 pt and titles ≥ 10 pt once the figure is scaled to the book's width (never scaled up)."""
    drawn(fig)
    scale = min(1.0, BOOK_WIDTH_PX / (fig.get_figwidth() * 100))
    for ax in data_axes(fig):
        for label in ax.get_xticklabels() + ax.get_yticklabels():
            if label.get_text():
                assert label.get_fontsize() * scale >= 9.0, label.get_text()
        for title in (ax.title, ax._left_title):
            if title.get_text():
                assert title.get_fontsize() * scale >= 10.0, title.get_text()
    if fig._suptitle is not None:
        assert fig._suptitle.get_fontsize() * scale >= 10.0
    for legend in legends(fig):
        assert all(text.get_fontsize() * scale >= 9.0 for text in legend.get_texts())


def bar_colour(ax, label: str):
    containers = [c for c in ax.containers if c.get_label() == label]
    assert len(containers) == 1, label
    colours = {tuple(patch.get_facecolor()) for patch in containers[0].patches}
    assert len(colours) == 1
    return colours.pop()


def curves(seeds: int = 3, updates: int = 21):
    rng = np.random.default_rng(0)
    labels = ["true reward", *(f"r̂ of {name}" for name in METHODS)]
    return {label: rng.normal(size=(seeds, updates)).cumsum(1) for label in labels}


def recovered(agents: int = 2, features: int = 3, seeds: int = 3):
    rng = np.random.default_rng(1)
    return {name: rng.normal(size=(seeds, agents, features)) + 1.0 for name in METHODS}


# one colour per method -----------------------------------------------------------------------------------------

def test_method_colours_cover_every_result_key_and_are_distinct():
    keys = set(RESULT_KEYS) | {"true reward"}
    for task in ("t1", "t2", "t3"):
        path = ROOT / "results" / task / "summary.json"
        if path.exists():
            keys |= set(read_json(path)["methods"])
    assert keys <= set(METHOD_COLOURS)
    assert set(plotting.METHOD_LINE_STYLES) == set(METHOD_COLOURS)
    assert len({to_rgba(c) for c in METHOD_COLOURS.values()}) == len(METHOD_COLOURS)


def test_method_key_reads_the_key_a_label_names():
    assert method_key("ilola_eta0") == "ilola_eta0"
    assert method_key("r̂ of ilola_eta0") == "ilola_eta0"
    assert method_key("r̂ of ilola") == "ilola"
    assert method_key("true reward") == "true reward"
    assert method_key("trained (mean over seeds, band: range)") is None


def test_every_per_method_figure_uses_the_method_colours():
    # induced learning curves: one line per label, in its method's colour
    fig = induced_curves_figure(curves(), {"uniform random": -5.0}, "induced")
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    assert to_rgba(lines["true reward"].get_color()) == to_rgba(METHOD_COLOURS["true reward"])
    for name in METHODS:
        assert to_rgba(lines[f"r̂ of {name}"].get_color()) == to_rgba(METHOD_COLOURS[name])

    # recovered weights: every agent panel, every method's bars
    fig = weights_figure(np.ones((2, 3)), recovered(), ["a", "b", "c"])
    for ax in fig.axes:
        assert bar_colour(ax, "true ω*") == to_rgba(METHOD_COLOURS["true reward"])
        for name in METHODS:
            assert bar_colour(ax, name) == to_rgba(METHOD_COLOURS[name])

    # per-agent scatter: every agent's points of a method in the method's colour
    rng = np.random.default_rng(2)
    scatter = {name: rng.uniform(size=(4, 3)) for name in reversed(METHODS)}
    fig = per_agent_scatter_figure(scatter, "cosine", "cosines", threshold=0.9)
    collections = fig.axes[0].collections
    assert len(collections) == 3 * len(METHODS)
    for index, collection in enumerate(collections):
        name = list(scatter)[index % len(METHODS)]
        assert {tuple(c) for c in collection.get_facecolors()} == {to_rgba(METHOD_COLOURS[name])}

    # learner-model ladder: a model fitted by a method in that method's colour, one without in grey
    ladder = {"gpomdp": {"label": "gradient step", "method": "ilola_gpomdp", "ef_1a": interval(0.2),
                         "cosine": interval(0.9)},
              "replay": {"label": "replay", "method": "ilola", "ef_1a": interval(0.6), "cosine": interval(0.98)},
              "surrogate": {"label": "surrogate", "ef_1a": interval(0.3)},
              "shadow_critic_explained_variance": interval(0.9)}
    fig = learner_model_ladder(ladder, "ladder")
    for ax in fig.axes:
        (bars,) = [c.patches for c in ax.containers if isinstance(c, BarContainer)]
        assert [tuple(bar.get_facecolor()) for bar in bars] == [
            to_rgba(METHOD_COLOURS["ilola_gpomdp"]), to_rgba(METHOD_COLOURS["ilola"]), to_rgba(plotting.NEUTRAL_COLOUR)]


def test_curves_of_different_methods_differ_in_line_style_and_none_is_drawn_over_completely():
    fig = induced_curves_figure(curves(), {}, "induced")
    lines = [line for line in fig.axes[0].get_lines() if not line.get_label().startswith("_")]
    assert len({(str(line.get_linestyle()), line.get_marker()) for line in lines}) == len(lines)
    # later curves lie above earlier ones and are narrower, so an earlier curve still shows at their edges
    orders = [line.get_zorder() for line in lines]
    widths = [line.get_linewidth() for line in lines]
    assert orders == sorted(orders) and len(set(orders)) == len(orders)
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == len(widths)


def test_kl_bars_keep_one_colour_per_kl_kind():
    keys = ("kl_1a", "kl_1b", "kl_0", "kl_rand")
    fig = kl_comparison(kl_methods({"ilola": 0.2, "ilogel": 0.3}), "KL")
    bars = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    for key, container in zip(keys, bars):
        assert {tuple(p.get_facecolor()) for p in container.patches} == {to_rgba(KL_COLOURS[key])}
    # a Monte Carlo estimate: the same kind's colour on its edges (and hatch), a lighter fill
    methods = {"ilola": {k: interval(0.2) for k in (*keys, *(f"{k}_mc" for k in keys))}}
    fig = kl_comparison(methods, "KL", keys=(*keys, *(f"{k}_mc" for k in keys)))
    bars = [c for c in fig.axes[0].containers if isinstance(c, BarContainer)]
    for key, container in zip(keys, bars[len(keys):]):
        patch = container.patches[0]
        assert patch.get_edgecolor() == to_rgba(KL_COLOURS[key]) and patch.get_hatch()


# KL axis scale ---------------------------------------------------------------------------------------------------

def test_kl_scale_is_linear_over_a_narrow_range_and_log_with_zeros_or_a_wide_range():
    assert kl_scale([0.0122, 0.0140, 0.0131]) == "linear"
    assert kl_scale([1e-3, 2.9e-2]) == "linear"
    assert kl_scale([1e-3, 3e-2]) == "log"
    assert kl_scale([1e-4, 0.0, 1e-2]) == "log"
    assert kl_scale([np.nan, 0.2]) == "linear"


def test_kl_comparison_narrow_range_is_linear_from_zero_with_error_bars():
    fig = kl_comparison(kl_methods({"ilola": 0.0122, "ilola_eta0": 0.0131, "ilogel": 0.0140}), "T3-like")
    ax = fig.axes[0]
    assert ax.get_yscale() == "linear" and ax.get_ylim()[0] == 0.0
    assert all(patch.get_y() == 0.0 for c in ax.containers if isinstance(c, BarContainer) for patch in c.patches)
    errorbars = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(errorbars) == 4 and all(len(c.lines[2][0].get_segments()) == 3 for c in errorbars)
    assert not [t for t in ax.texts if t.get_text() == "0"]


def test_kl_comparison_with_exact_zeros_is_log_with_the_floor_marker():
    methods = kl_methods({"ilola": 1e-4, "ma_lfl": 2e-4})
    methods["ma_lfl_exact"] = {**kl_methods({"x": 1e-4})["x"], "kl_1a": {"mean": 0.0, "ci95": [0.0, 0.0]},
                               "kl_1b": {"mean": 0.0, "ci95": [0.0, 0.0]}}
    fig = kl_comparison(methods, "T1-like")
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert len([t for t in ax.texts if t.get_text() == "0"]) == 2
    assert "exact zero" in ax.get_ylabel()
    assert kl_comparison(kl_methods({"a": 1e-4, "b": 1e-1}), "wide").axes[0].get_yscale() == "log"


# legends off the data, legible sizes -----------------------------------------------------------------------------

def test_legends_lie_outside_the_axes_and_text_is_legible():
    rng = np.random.default_rng(3)
    names = {name: 10.0 ** -rng.uniform(2, 4) for name in RESULT_KEYS[:9]}
    keys = ("kl_1a", "kl_1b", "kl_0", "kl_rand")
    mc_methods = {n: {k: interval(0.013) for k in (*keys, *(f"{k}_mc" for k in keys))} for n in METHODS[:3]}
    figures = [
        kl_comparison(kl_methods(names), "T1-like held-out KL"),
        kl_comparison(mc_methods, "T3-like", keys=(*keys, *(f"{k}_mc" for k in keys))),
        induced_curves_figure(curves(), {"uniform random": -5.0, "no-op": -4.0}, "induced"),
        weights_figure(np.ones((3, 5)), recovered(agents=3, features=5), [f"feature_{i}" for i in range(5)]),
        per_agent_scatter_figure({n: rng.uniform(size=(4, 3)) for n in METHODS}, "cosine", "cosines", threshold=0.9),
        grid_heatmaps({f"panel {i}": rng.normal(size=(4, 4)) for i in range(4)}, "grid",
                      marks={"goal": (3, 3), "other": (2, 2)}),
    ]
    for fig in figures:
        assert fig.get_figwidth() <= plotting.BOOK_WIDTH
        assert_legends_outside(fig)
        assert_legible(fig)
    ladder = {"replay": {"label": "PPO update replay (Stage B)", "method": "ilola", "ef_1a": interval(0.6),
                         "cosine": interval(0.98)}}
    assert_legible(learner_model_ladder(ladder, "ladder"))


# grid heatmaps ---------------------------------------------------------------------------------------------------

def test_reward_panel_marks_are_the_goals_and_the_centre_cell():
    config = {"grid_size": 4, "gamma": 0.9}
    assert t1.reward_panel_marks(config) == {"agent 0's goal": (3, 3), "agent 1's goal": (3, 0),
                                             "agent 1 (fixed position)": (2, 2)}
    assert t1.reward_panel_marks({"grid_size": 5, "gamma": 0.9}, agent=1) == {
        "agent 1's goal": (4, 0), "agent 0's goal": (4, 4), "agent 0 (fixed position)": (2, 2)}


def test_grid_marks_are_drawn_on_every_panel_with_one_legend(tmp_path):
    config = {"grid_size": 4, "gamma": 0.9}
    marks = t1.reward_panel_marks(config)
    panels = {name: np.arange(16.0).reshape(4, 4) - 8 for name in ("true", "a", "b", "potential")}
    fig = grid_heatmaps(panels, "T1, seed 0, agent 0", marks=marks)
    panel_axes = data_axes(fig)
    assert len(panel_axes) == 4
    for ax in panel_axes:
        points = {line.get_label(): (line.get_ydata()[0], line.get_xdata()[0]) for line in ax.get_lines()}
        assert points == marks
        assert len({line.get_marker() for line in ax.get_lines()}) == len(marks)
    assert len(fig.legends) == 1 and [t.get_text() for t in fig.legends[0].get_texts()] == list(marks)
    assert sum(ax.get_label() == "<colorbar>" for ax in fig.axes) == 4
    save_figure(fig, tmp_path / "grid.png")
    # without marks: no markers, no legend (the earlier call still works)
    fig = grid_heatmaps(panels, "no marks")
    assert not fig.legends and all(not ax.get_lines() for ax in data_axes(fig))
