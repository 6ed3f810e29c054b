"""Every formatter shows "—" for a missing interval (``"ci95": None``), never ``nan`` or a zero-width one."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.container import ErrorbarContainer  # noqa: E402

from ilola_lib.analysis import reports  # noqa: E402
from ilola_lib.analysis.plotting import kl_comparison, save_figure  # noqa: E402
from ilola_lib.analysis.poster import poster_table  # noqa: E402
from ilola_lib.analysis.statistics import bootstrap_ci  # noqa: E402
from ilola_lib.analysis.summary import format_interval, format_number, markdown_table  # noqa: E402
from ilola_lib.analysis.targets import load_targets  # noqa: E402
from ilola_lib.tasks.t1 import experiment as t1  # noqa: E402
from ilola_lib.tasks.t3 import report as t3_report  # noqa: E402

ONE_SEED = {"mean": 0.25, "ci95": None}


def test_format_interval_and_number_print_a_dash_without_an_interval():
    assert format_interval(ONE_SEED) == "0.25 [—]"
    assert format_interval({"mean": 0.25, "ci95": [0.2, 0.3]}) == "0.25 [0.2, 0.3]"
    assert format_number(None) == "—" and format_number(float("nan")) == "—" and format_number(0.5) == "0.5"


def test_markdown_table_of_a_single_seed():
    methods = {"ilola": {"kl_1b": bootstrap_ci([0.25])}}
    table = markdown_table(methods, ("kl_1b", "cosine"))
    assert "| `ilola` | 0.25 [—] | — |" in table and "nan" not in table


def test_poster_table_withoubootstrap_cis():
    table = poster_table({"t1": {"methods": {"ma_lfl": {"kl_1a": ONE_SEED, "kl_0": ONE_SEED}}}})
    assert "| t1 | `ma_lfl` | kl_1a | ≈ 9e-6 | 0.25 [—] | 0.25 [—] |" in table


def test_target_checks_and_stage_comparison_withoubootstrap_cis():
    methods = {name: {"kl_1a": ONE_SEED, "kl_1b": ONE_SEED, "kl_0": ONE_SEED, "kl_rand": ONE_SEED,
                      "cosine": {"mean": 0.98, "ci95": None}} for name in ("ilola", "ilogel")}
    summary = {"methods": methods}
    checks = reports.target_checks(summary, load_targets().t2.ilola)
    # EF(1a), EF(1b)/EF(1a), two paired CIs and the induced return cannot be measured; the cosine can
    assert [c["measured"] is None for c in checks] == [True, True, True, True, False, True]
    assert [c["met"] for c in checks] == [False, False, False, False, True, False]
    table = reports.checks_markdown(checks)
    assert "nan" not in table and table.count("**not measured**") == 5 and "| — |" in table
    text = reports.stage_comparison(summary)
    assert "cannot be compared" in text and "better" not in text and "0.25 [—]" in text


def test_t1_target_table_prints_a_dash_for_a_ratio_that_does_not_apply():
    checks = [{"target": "MA-LfL sampled: KL(1b)/KL(1a) ≤ 1.5", "measured": None, "met": False}]
    assert t1.target_table(checks).splitlines()[-1] == "| MA-LfL sampled: KL(1b)/KL(1a) ≤ 1.5 | — | **no** |"


def test_t3_learners_table_shows_dashes_and_what_each_interval_is_over():
    learners = {"return_trained": {"mean": -3.0, "ci95": [-5.0, -1.0]},
                "return_random": {"mean": -94.4, "ci95": [-105.0, -84.0], "ci_source": "evaluation episodes"},
                "return_stand_still": {"mean": -97.2, "ci95": [-97.9, -96.5], "ci_source": "evaluation episodes"}}
    distances = {"return_trained": {"mean": 0.2, "ci95": [0.1, 0.4]}, "return_random": {"mean": 0.14, "ci95": None},
                 "return_stand_still": {"mean": 1.89, "ci95": None}}
    table = t3_report.learners_table({"learners": learners, "package_distance": distances})
    assert "| trained walkers | -3 [-5, -1] | seeds | 0.2 [0.1, 0.4] |" in table
    assert "| stand still (zero torques) | -97.2 [-97.9, -96.5] | evaluation episodes | 1.89 [—] |" in table


def test_kl_figure_draws_no_error_bar_without_an_interval(tmp_path):
    methods = {"ilola": {key: ONE_SEED for key in ("kl_1a", "kl_1b", "kl_0", "kl_rand")},
               "ilogel": {key: {"mean": 0.2, "ci95": [0.1, 0.3]} for key in ("kl_1a", "kl_1b", "kl_0", "kl_rand")}}
    fig = kl_comparison(methods, "one seed")
    bars = [c for c in fig.axes[0].containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 4
    for container in bars:  # per KL: no segment for `ilola` (no interval), one for `ilogel`
        segments = container.lines[2][0].get_segments()
        assert len(segments[0]) == 0 and len(segments[1]) == 2
    save_figure(fig, tmp_path / "kl.png")
    plt.close(fig)
    assert (tmp_path / "kl.png").stat().st_size > 0
