from ilola_lib.poster import poster_table


def test_poster_table_puts_each_measured_value_beside_the_poster_and_marks_missing_tasks():
    interval = {"mean": 0.5, "ci95": [0.4, 0.6]}
    summaries = {"t1": {"methods": {"ma_lfl": {"kl_1a": interval, "kl_1b": interval, "kl_0": interval}}}}
    table = poster_table(summaries)
    assert "| t1 | `ma_lfl` | kl_1a | ≈ 9e-6 | 0.5 [0.4, 0.6] | 0.5 [0.4, 0.6] |" in table
    assert "| t2 | — | kl_1a | ≈ 1.03e-6 | not yet run | — |" in table
