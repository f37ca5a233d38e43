"""A run folder's cache of large derived arrays (``H∞``, its eigendecomposition, test kernels).

``reproduce`` sets :data:`ENV` to ``RUN/cache`` while a run is under way; :func:`cached` then keeps
arrays there as ``.npy`` files, keyed by a SHA-256 of what they were computed from (the input
bytes, the kernel, the package version), and hands them back memory-mapped (read-only) to every
later caller: the set-up, sweep points in pool workers (which inherit the variable) and reruns of
the same command. The files are written atomically and only for matrices of at least
:data:`CACHE_FROM` rows (below that, recomputing is faster than reading). Without the variable
(plain library use, Dask workers) everything is computed as usual. The numbers are the same
either way (``.npy`` stores the exact bits). Delete ``RUN/cache`` to reclaim the disk
(``3 × 8n²`` bytes for the Arora et al. experiments).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np

from ._io import atomic_path, to_json

__all__ = ["ENV", "CACHE_FROM", "cached", "digest"]

ENV = "TWOLAYER_RUN_CACHE"
#: Matrices with fewer rows are recomputed, not cached.
CACHE_FROM = 2048


def digest(*arrays, **fields) -> str:
    """A 16-hex-digit SHA-256 of arrays (shape, dtype and bytes) and JSON fields."""
    h = hashlib.sha256(to_json(fields, sort_keys=True).encode())
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def cached(key: str, names: tuple, compute: Callable[[], dict], *, rows: int) -> dict:
    """``compute()`` (a dict of arrays, or None values), or the same arrays read back memory-mapped
    from the run's cache under ``key`` (see the module docstring)."""
    root = os.environ.get(ENV)
    if not root or rows < CACHE_FROM:
        return compute()
    folder = Path(root) / key
    files = {name: folder / f"{name}.npy" for name in names}
    if folder.is_dir() and all(f.exists() or (folder / f"{name}.none").exists() for name, f in files.items()):
        try:
            return {name: (np.load(f, mmap_mode="r", allow_pickle=False) if f.exists() else None)
                    for name, f in files.items()}
        except (OSError, ValueError):  # a damaged file: recompute and overwrite
            pass
    out = compute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            if out[name] is None:
                (folder / f"{name}.none").touch()
                continue
            with atomic_path(files[name]) as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.asarray(out[name]), allow_pickle=False)
    except OSError:  # a full disk costs the cache, not the run
        pass
    return out
