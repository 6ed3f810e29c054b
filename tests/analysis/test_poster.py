from ilola_lib.analysis.poster import poster_table


def test_poster_table_puts_each_measured_value_beside_the_poster_and_marks_missing_tasks():
    interval = {"mean": 0.5, "ci95": [0.4, 0.6]}
    summaries = {"t1": {"methods": {"ma_lfl": {"kl_1a": interval, "kl_1b": interval, "kl_0": interval}}}}
    table = poster_table(summaries)
    assert "| t1 | `ma_lfl` | kl_1a | ≈ 9e-6 | 0.5 [0.4, 0.6] | 0.5 [0.4, 0.6] |" in table
    assert "| t2 | — | kl_1a | ≈ 1.03e-6 | not yet run | — |" in table


def test_poster_table_shows_t2_rows_for_ilola_ilogel_and_ma_lfl_beside_kl0():
    interval = {"mean": 2.0, "ci95": [1.0, 3.0]}
    floor = {"mean": 9.0, "ci95": [8.0, 10.0]}
    methods = {name: {"kl_1a": interval, "kl_1b": interval, "kl_0": floor}
               for name in ("ilola", "ilola_eta0", "ilogel", "ma_lfl")}
    table = poster_table({"t2": {"methods": methods}})
    for name in ("ilola", "ilogel", "ma_lfl"):
        assert f"| t2 | `{name}` | kl_1a | ≈ 1.03e-6 | 2 [1, 3] | 9 [8, 10] |" in table
        assert f"| t2 | `{name}` | kl_1b | ≈ 1.09e-6 | 2 [1, 3] | 9 [8, 10] |" in table
    assert "ilola_eta0" not in table


def test_poster_table_shows_t3_monte_carlo_kl_and_induced_return_for_ilola_and_ilogel():
    interval = {"mean": 2.0, "ci95": [1.0, 3.0]}
    methods = {name: {"kl_1b_mc": interval, "kl_0": interval, "induced_normalized": interval}
               for name in ("ilola", "ilola_eta0", "ilogel")}
    table = poster_table({"t3": {"methods": methods}})
    for name in ("ilola", "ilogel"):
        assert f"| t3 | `{name}` | kl_1b_mc | ≈ 5e-4 | 2 [1, 3] | 2 [1, 3] |" in table
        assert f"| t3 | `{name}` | induced_normalized | ≈ random | 2 [1, 3] | 2 [1, 3] |" in table
    assert "ilola_eta0" not in table
