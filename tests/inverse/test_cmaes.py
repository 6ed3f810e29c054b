"""CMA-ES with batched populations: best-ever bookkeeping and IPOP restarts."""

import numpy as np

from ilola_lib.inverse.cmaes import minimize_batched


def rastrigin(x: np.ndarray) -> np.ndarray:
    """``10 d + Σ (x² − 10 cos 2πx)`` per row: global minimum 0 at the origin, a local minimum at every
    integer point."""
    return 10 * x.shape[1] + (x**2 - 10 * np.cos(2 * np.pi * x)).sum(axis=1)


def test_restarts_zero_is_one_run_and_keeps_the_best_candidate_ever_evaluated():
    result = minimize_batched(rastrigin, np.full(3, 3.0), 0.5, seed=1, max_generations=40, popsize=8)
    assert result.runs == 1 and len(result.history) <= 40
    assert result.value == min(result.history) == float(rastrigin(result.x[None])[0])
    again = minimize_batched(rastrigin, np.full(3, 3.0), 0.5, seed=1, max_generations=40, popsize=8)
    assert again.value == result.value and np.array_equal(again.x, result.x)


def test_ipop_restarts_escape_a_local_minimum_that_traps_a_single_run():
    single = minimize_batched(rastrigin, np.full(4, 2.0), 2.0, seed=2, max_generations=300, popsize=6)
    restarted = minimize_batched(rastrigin, np.full(4, 2.0), 2.0, seed=2, max_generations=300, popsize=6,
                                 restarts=4)
    assert single.value > 1.0, "the test needs a start where one small-population run gets stuck"
    assert restarted.runs == 5 and restarted.value < 1e-6
    assert restarted.value <= min(restarted.history) + 1e-12
