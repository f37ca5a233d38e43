"""BLAS/OpenMP thread limits in one place (through threadpoolctl).

The thread count of a BLAS call sets its reduction order, so the same computation with 1 and with
8 threads can differ in the last digits. Everything that must give the same numbers wherever it
runs (a sweep point in this process, a pool worker, a Dask worker) runs under :func:`blas_threads`.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
import time

__all__ = ["blas_threads", "single_threaded", "init_worker"]

#: Environment variables that set the thread pools of libraries loaded later (and of child processes).
THREAD_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")



def blas_threads(threads: int | None):
    """Limit the BLAS and OpenMP thread pools of the loaded libraries to ``threads``.

    Returns a context manager (``with blas_threads(1): ...``). The limit takes effect when this
    is called and lasts until the block exits, or, for a returned object kept without ``with``
    (a pool worker's initializer), until its ``restore_original_limits()``. ``None`` leaves the
    pools as they are. Cost: one scan of the loaded libraries (well under a millisecond after
    the first call).
    """
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(threads))


def single_threaded(func):
    """Decorator: run ``func`` under ``blas_threads(1)`` (small matrices gain nothing from more
    threads, and the numbers then do not depend on ``--jobs``)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with blas_threads(1):
            return func(*args, **kwargs)

    return wrapper


_WORKER_LIMITS = None  # keeps the threadpoolctl limiter of a pool worker alive


def _exit_with_parent(ppid: int) -> None:
    """Worker watchdog: leave as soon as the parent is gone (e.g. killed with SIGKILL)."""
    while True:
        time.sleep(0.25)
        if os.getppid() != ppid:
            os._exit(1)


def init_worker(threads: int) -> None:
    """Process-pool initializer: cap BLAS/OpenMP threads, leave Ctrl-C to the parent, die with the parent."""
    global _WORKER_LIMITS
    for var in THREAD_ENV:  # for libraries loaded later in this worker and for its children
        os.environ[var] = str(threads)
    _WORKER_LIMITS = blas_threads(threads)  # for libraries already loaded (numpy's BLAS); kept for the worker's life
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True,
                     name="twolayer-sweep-watchdog").start()
