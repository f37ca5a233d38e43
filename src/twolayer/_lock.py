"""One owner per folder: an exclusive POSIX record lock with the holder's pid, host and start time.

:func:`hold` takes ``fcntl.lockf(LOCK_EX | LOCK_NB)`` on a lock file. The lock belongs to the
process: the kernel releases it when the process dies (SIGKILL included), so a lock file left by
a dead owner is stale by construction and the next :func:`hold` simply takes it over. A refused
caller reads who holds the lock (the line the owner wrote into the file) and raises one
:class:`~twolayer._errors.InputError`; it writes and removes nothing. Within one process a
second :func:`hold` of the same file is refused too (record locks do not conflict inside a
process). On file systems without record locks (some network mounts) the lock is skipped.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import socket
import threading
from pathlib import Path

from ._errors import InputError

try:  # POSIX record locks; absent on Windows, where folders are not locked
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None

__all__ = ["hold", "holder"]

_ACTIVE: set[str] = set()
_GUARD = threading.Lock()


def holder(lock_path) -> str:
    """The owner line of a lock file (``"pid P on HOST since TIME"``), or ``"unknown"``."""
    try:
        return Path(lock_path).read_text(encoding="utf-8").strip() or "unknown"
    except OSError:
        return "unknown"


@contextlib.contextmanager
def hold(lock_path, what: str):
    """Hold the exclusive lock ``lock_path`` for the block; ``what`` names the resource in errors.

    Raises :class:`InputError` ("… is in use by pid P on HOST since T; wait for it to finish, or
    use another --out") when another process, or another block of this process, holds it.
    """
    lock_path = Path(lock_path)
    ident = str(lock_path.resolve())
    with _GUARD:
        if ident in _ACTIVE:
            raise InputError(f"{what} is in use by this process (pid {os.getpid()}); wait for it to finish, "
                             f"or use another --out")
        _ACTIVE.add(ident)
    try:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as exc:
            raise InputError(f"cannot create the lock file {lock_path} ({exc.strerror}); choose a writable "
                             f"--out") from None
        try:
            locked = False
            if fcntl is not None:
                try:  # released by the kernel when this process dies; not inherited by forked children
                    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    locked = True
                except OSError as exc:
                    if isinstance(exc, (BlockingIOError, PermissionError)):
                        raise InputError(f"{what} is in use by {holder(lock_path)}; wait for it to finish, or use "
                                         f"another --out") from None
                    # the file system does not support record locks: run unlocked
            if locked:
                since = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                os.ftruncate(fd, 0)
                os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {since}\n".encode())
            yield
        finally:
            os.close(fd)
    finally:
        with _GUARD:
            _ACTIVE.discard(ident)
