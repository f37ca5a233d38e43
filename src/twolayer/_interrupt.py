"""Long LAPACK calls that leave Ctrl-C (and SIGTERM) to the main thread.

A LAPACK routine runs inside C for minutes (``syevd`` at n = 10⁴: ~1.5 min on 2 cores); Python
delivers a signal only when it returns. :func:`interruptible` runs the call in a daemon thread
while the main thread waits in short slices, so the signal's exception is raised at once: the command ends (the daemon thread is abandoned with the process), nothing half-written
is kept (callers write results atomically), and a rerun starts the call again. This works only
for calls that release the interpreter lock: numpy's ``linalg`` does; scipy's f2py LAPACK
wrappers (``eigh``, ``dpotrf``) do not, so :func:`twolayer.spectra.spectrum` calls scipy's ``dsyevd``
through ctypes (:func:`twolayer._linalg.syevd_inplace`, which releases it; the numbers of numpy's and
scipy's ``eigh``), in place or not (its ``driver="evr"`` option runs in scipy's wrapper). Below
:data:`THREAD_FROM` rows the call runs directly (it is short, and a thread would only cost).
"""

from __future__ import annotations

import threading
from typing import Any, Callable

__all__ = ["interruptible", "THREAD_FROM"]

#: Matrices of at least this many rows are decomposed in a worker thread.
THREAD_FROM = 2048


def interruptible(fn: Callable[..., Any], *args, size: int = THREAD_FROM, **kwargs) -> Any:
    """``fn(*args, **kwargs)``, in a daemon thread when ``size >= THREAD_FROM`` and this is the main
    thread; its result or exception is returned or raised here. Numbers are those of a direct call
    (the same library, the same BLAS threads)."""
    if size < THREAD_FROM or threading.current_thread() is not threading.main_thread():
        return fn(*args, **kwargs)
    box: dict[str, Any] = {}

    def target():
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001  (re-raised in the caller's thread)
            box["error"] = exc

    worker = threading.Thread(target=target, name="twolayer-lapack", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
    if "error" in box:
        raise box["error"]
    return box["value"]
