"""Running independent jobs on both cores."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Sequence


@contextlib.contextmanager
def single_threaded_torch():
    """Run the block with one torch thread, restoring the previous count afterwards."""
    import torch  # here, not at the top: a spawned worker imports this module (its initializer) before any job

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

    Workers die with this process: if it is killed (even with SIGKILL, or as a notebook kernel that dies),
    each worker exits within :data:`PARENT_POLL_SECONDS` instead of living on (:func:`_exit_with_parent`).
    """
    assert workers >= 1, f"workers must be at least 1, got {workers}"
    context = multiprocessing.get_context("spawn")
    with environment(**{name: "1" for name in THREAD_VARIABLES}):
        with ProcessPoolExecutor(max_workers=min(workers, len(arguments)), mp_context=context,
                                 initializer=_exit_with_parent, initargs=(os.getpid(),)) as pool:
            futures = [pool.submit(function, *args) for args in arguments]
            return [future.result() for future in futures]


THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@contextlib.contextmanager
def environment(**values: str):
    """Within the block, the environment variables ``values`` are set (restored afterwards)."""
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


PARENT_POLL_SECONDS = 0.5
ORPHAN_EXIT_CODE = 70


def _exit_with_parent(parent_pid: int) -> None:
    """Pool initializer: end this worker as soon as ``parent_pid`` is no longer its parent.

    A daemon thread polls :func:`os.getppid` (portable; an orphan is re-parented to init or a subreaper) and
    calls :func:`os._exit`, so a worker blocked in a job or on the task pipe cannot outlive the pool's
    process. Its exit also closes the last copies of the resource tracker's pipe, which then exits as well.
    """
    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_SECONDS)
        os._exit(ORPHAN_EXIT_CODE)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
