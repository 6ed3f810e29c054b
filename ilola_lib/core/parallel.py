"""Running independent jobs on both cores."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence

import torch


@contextlib.contextmanager
def single_threaded_torch():
    """Run the block with one torch thread, restoring the previous count afterwards."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_jobs(function: Callable, arguments: Sequence[tuple], workers: int) -> list:
    """``[function(*args) for args in arguments]``, on ``workers`` spawned processes.

    Results come back in the order of ``arguments``. Processes are spawned, not forked: forking a
    process whose torch thread pool is running can deadlock. Each worker's BLAS/OpenMP pools get one
    thread (inherited environment), so ``workers`` processes use ``workers`` cores, not more, and
    every job runs in the same numerical environment whatever ``workers`` is.
    """
    assert workers >= 1, f"workers must be at least 1, got {workers}"
    context = multiprocessing.get_context("spawn")
    with _environment(**{name: "1" for name in THREAD_VARIABLES}):
        with ProcessPoolExecutor(max_workers=min(workers, len(arguments)), mp_context=context) as pool:
            futures = [pool.submit(function, *args) for args in arguments]
            return [future.result() for future in futures]


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def _environment(**values: str):
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
