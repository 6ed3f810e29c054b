"""CMA-ES (pycma) with the whole population evaluated in one batched call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cma
import numpy as np


@dataclass
class SearchResult:
    """Best point ever evaluated (not the last mean), its value and the per-generation best values."""

    x: np.ndarray
    value: float
    history: list[float]
    evaluations: int


def minimize_batched(objective: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, sigma0: float,
                     seed: int, max_generations: int, popsize: int | None = None,
                     stds: np.ndarray | None = None, tol_fun: float = 1e-14) -> SearchResult:
    """Minimise ``objective(X [P, D]) -> [P]`` with pycma, keeping the best candidate ever seen.

    pycma gets an explicit seed (its default is time-based) and ``verb_log=0`` (no ``outcmaes/``).
    """
    options = {"seed": int(seed) + 1, "verbose": -9, "verb_log": 0, "verb_disp": 0,
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
    return SearchResult(best_x, best_value, history, evaluations)
