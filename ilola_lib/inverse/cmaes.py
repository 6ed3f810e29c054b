"""CMA-ES (pycma) with the whole population evaluated in one batched call, and IPOP restarts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cma
import numpy as np


@dataclass
class SearchResult:
    """Best point ever evaluated (not the last mean), its value, the per-generation best values over all runs
    and the number of runs (1 + restarts)."""

    x: np.ndarray
    value: float
    history: list[float]
    evaluations: int
    runs: int = 1


def minimize_batched(objective: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, sigma0: float,
                     seed: int, max_generations: int, popsize: int | None = None,
                     stds: np.ndarray | None = None, tol_fun: float = 1e-14, restarts: int = 0) -> SearchResult:
    """Minimise ``objective(X [P, D]) -> [P]`` with pycma, keeping the best candidate ever seen.

    pycma gets an explicit seed (its default is time-based) and ``verb_log=0`` (no ``outcmaes/``).
    ``restarts`` > 0 adds IPOP-CMA-ES restarts (Auger & Hansen 2005): each restart begins again at ``x0`` with
    ``sigma0``, twice the previous population and its own seed, and runs ``max_generations`` more; the best
    candidate of all runs is returned. With ``restarts = 0`` this is a single run.
    """
    best = SearchResult(np.asarray(x0, dtype=float), np.inf, [], 0, runs=0)
    size = popsize
    for restart in range(restarts + 1):
        run = _single_run(objective, x0, sigma0, int(seed) + 1 + 1000 * restart, max_generations, size, stds, tol_fun)
        if run.value < best.value:
            best.x, best.value = run.x, run.value
        best.history += run.history
        best.evaluations += run.evaluations
        best.runs += 1
        size = 2 * run.popsize
    return best


@dataclass
class _Run:
    x: np.ndarray
    value: float
    history: list[float]
    evaluations: int
    popsize: int


def _single_run(objective, x0, sigma0, pycma_seed, max_generations, popsize, stds, tol_fun) -> _Run:
    """One pycma run with the batched objective, keeping the best candidate ever seen."""
    options = {"seed": pycma_seed, "verbose": -9, "verb_log": 0, "verb_disp": 0,
               "maxiter": int(max_generations), "tolfun": tol_fun, "tolx": 1e-12}
    if popsize is not None:
        options["popsize"] = int(popsize)
    if stds is not None:
        options["CMA_stds"] = list(map(float, stds))
    strategy = cma.CMAEvolutionStrategy(np.asarray(x0, dtype=float), float(sigma0), options)
    best_x, best_value, history, evaluations = np.asarray(x0, dtype=float), np.inf, [], 0
    while not strategy.stop():
        candidates = np.array(strategy.ask())
        values = np.asarray(objective(candidates), dtype=float)
        evaluations += len(values)
        strategy.tell(list(candidates), values.tolist())
        winner = int(np.argmin(values))
        if values[winner] < best_value:
            best_x, best_value = candidates[winner].copy(), float(values[winner])
        history.append(best_value)
    return _Run(best_x, best_value, history, evaluations, int(strategy.popsize))
