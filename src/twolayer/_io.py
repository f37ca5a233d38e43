"""Atomic file writes: a reader never sees a half-written file.

Each writer writes to a temporary file in the destination folder, flushes and fsyncs it, then
renames it over the destination (``os.replace`` is atomic on POSIX and Windows).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from pathlib import Path

import numpy as np

_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = ["TMP_RE", "remove_stale_temporaries", "atomic_path", "atomic_open", "atomic_write_text", "atomic_write_bytes", "atomic_write_json",
           "atomic_save_npy", "atomic_save_npz"]


#: Temporary files are ``.NAME.XXXXXXXX.tmp`` with NAME cut to this many characters, so that a
#: destination name the file system accepts never fails because of its temporary's longer name.
_TMP_NAME_CHARS = 96
#: Names of the temporaries :func:`atomic_path` makes: ``.NAME.XXXXXXXX.tmp``.
TMP_RE = re.compile(r"^\..+\.[^.]+\.tmp$")


def remove_stale_temporaries(folder, pattern: re.Pattern = TMP_RE) -> None:
    """Remove the temporaries (regular files, not links) a killed writer left in ``folder``; only
    for a caller that owns the folder (holds its lock), so no live write is removed."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return
    for p in folder.iterdir():
        if pattern.match(p.name) and p.is_file() and not p.is_symlink():
            with contextlib.suppress(FileNotFoundError):
                p.unlink()


def _named(exc: OSError, path: Path) -> OSError:
    """``exc`` with the destination as its file name where it named the temporary (or nothing)."""
    own_tmp = exc.filename is not None and Path(str(exc.filename)).parent == path.parent and \
        Path(str(exc.filename)).name.startswith(f".{path.name[:_TMP_NAME_CHARS]}.") and str(exc.filename).endswith(".tmp")
    if exc.filename is None or own_tmp:
        new = OSError(exc.errno, exc.strerror or str(exc), str(path))
        return new
    return exc


@contextlib.contextmanager
def atomic_path(path, *, size: int | None = None):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    For writers that need a file name (``np.lib.format.open_memmap``, ``savefig``). With ``size``
    (bytes), the space is reserved up front (``posix_fallocate``): a full disk is one ``OSError``
    (ENOSPC) naming ``path`` before anything is written, and a memory map of the file can never
    die of SIGBUS for lack of blocks. Errors name ``path``, not the temporary; the temporary is
    removed on any failure.
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:_TMP_NAME_CHARS]}.", suffix=".tmp", dir=path.parent)
        try:
            if size is not None and size > 0 and hasattr(os, "posix_fallocate"):
                try:
                    os.posix_fallocate(fd, 0, int(size))
                except OSError as exc:
                    if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS):  # unsupported file system
                        raise
        finally:
            os.close(fd)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600 files; give the usual permissions
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _named(exc, path) from None
        raise


@contextlib.contextmanager
def atomic_open(path, mode: str = "wb"):
    """Open a temporary file next to ``path``; rename it onto ``path`` only on success."""
    with atomic_path(path) as tmp:
        with open(tmp, mode, encoding=None if "b" in mode else "utf-8") as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())


def atomic_write_bytes(path, data: bytes) -> Path:
    with atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def atomic_write_text(path, text: str) -> Path:
    with atomic_open(path, "w") as fh:
        fh.write(text)
    return Path(path)


def _json_default(obj):
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def to_json(obj, **kw) -> str:
    """``json.dumps`` that understands numpy arrays/scalars and paths."""
    return json.dumps(obj, default=_json_default, **kw)


def atomic_write_json(path, obj, indent: int = 2) -> Path:
    return atomic_write_text(path, to_json(obj, indent=indent) + "\n")


def atomic_save_npy(path, array) -> Path:
    with atomic_open(path, "wb") as fh:
        np.save(fh, np.asarray(array))
    return Path(path)


def atomic_save_npz(path, **arrays) -> Path:
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return Path(path)
