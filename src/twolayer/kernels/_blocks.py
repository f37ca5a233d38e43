"""Building blocks of the blocked kernel builds: memory estimates, threads, row blocks, the panelled Gram.

Shared by every builder of :mod:`twolayer.kernels`; nothing here knows a kernel formula.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .._errors import InputError

__all__ = ["MemoryEstimate", "estimate_kernel_memory", "GRAM_PANEL_ROWS", "gram_upper_tiles"]

#: Default size of one row block, in bytes: small enough that the elementwise passes over a block
#: run from cache (measured: 16–32 rows × 10,000 columns is ~2.5× faster than 800 rows).
_BLOCK_BYTES = 2 * 2**20


@dataclass(frozen=True)
class MemoryEstimate:
    """Memory a kernel build needs, in bytes."""

    result: int
    workspace: int
    inputs: int

    @property
    def total(self) -> int:
        return self.result + self.workspace + self.inputs

    def __str__(self) -> str:
        return (f"{_fmt_bytes(self.total)} ({_fmt_bytes(self.result)} result + "
                f"{_fmt_bytes(self.workspace)} workspace + {_fmt_bytes(self.inputs)} normalized inputs)")


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if b < 1024 or unit == "TiB":
            return f"{b:.1f} {unit}" if unit != "B" else f"{int(b)} B"
        b /= 1024.0
    raise AssertionError  # pragma: no cover


def _resolve_jobs(n_jobs: int | None) -> int:
    if n_jobs is None or n_jobs <= 0:
        return max(1, os.cpu_count() or 1)
    return int(n_jobs)


def _resolve_block(block_size: int | None, n_rows: int, n_cols: int, n_jobs: int) -> int:
    if block_size is None:
        block_size = max(1, _BLOCK_BYTES // (8 * max(1, n_cols)))
    if int(block_size) < 1:
        raise InputError(f"block_size must be a positive number of rows, got {block_size}")
    return int(min(block_size, max(1, n_rows)))


def estimate_kernel_memory(n: int, n_z: int | None = None, d: int = 0, *, block_size: int | None = None,
                           n_jobs: int | None = None) -> MemoryEstimate:
    """Bytes needed to build an ``n × n_z`` kernel (``n_z = n`` for a kernel of one data set).

    ``result`` is the float64 output, ``workspace`` the per-thread row-block temporaries
    (two ``block_size × n_z`` float64 arrays per thread), ``inputs`` the normalized copies.
    """
    n_z = n if n_z is None else n_z
    jobs = _resolve_jobs(n_jobs)
    block = _resolve_block(block_size, n, n_z, jobs)
    return MemoryEstimate(result=8 * n * n_z, workspace=16 * min(block, n) * n_z * min(jobs, -(-n // block)),
                          inputs=8 * (n + (0 if n_z == n else n_z)) * d)


def _available_memory() -> int | None:
    """Bytes a new allocation can use: ``MemAvailable`` of ``/proc/meminfo`` (free pages plus the
    page cache and reclaimable memory the kernel would give back), the cgroup's limit if lower;
    free pages only where ``/proc`` is absent. None if unknown."""
    avail = None
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
            return None
    for limit_file, usage_file in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                                   ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                                    "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            with open(limit_file, encoding="ascii") as fh:
                text = fh.read().strip()
            if text == "max":
                continue
            with open(usage_file, encoding="ascii") as fh:
                used = int(fh.read().strip())
            room = int(text) - used
            if 0 <= room < avail:
                avail = room
        except (OSError, ValueError):
            continue
    return avail


#: Row panels of the self Gram: one GEMM per panel against the rows from the panel on. Measured at
#: n = 10,000, d = 784 on 2 cores (best of 3 against one SYRK): 1024 rows 0.79x, 2048 0.92x, 4096
#: 1.19x; the diagonal tile's temporary is panel² float64 (8 MiB at 1024).
GRAM_PANEL_ROWS = 1024


def gram_upper_tiles(A: np.ndarray, out: np.ndarray, panel: int = GRAM_PANEL_ROWS) -> np.ndarray:
    """``out = A Aᵀ`` (``A`` (n, d), ``out`` (n, n) C-contiguous) by GEMMs on the upper block
    triangle and a mirror, never one large SYRK.

    OpenBLAS's multithreaded DSYRK crashes (SIGSEGV) from n ≈ 15,000 at d = 784 on some CPUs
    (its SkylakeX kernels on AMD processors), so for n > ``panel`` the product is built one row
    panel ``P = A[i:i+b]`` at a time as ``out[i:i+b, i:] = P A[i:]ᵀ`` (a GEMM of the same
    n²d/2-flop total as SYRK), then the strict lower triangle is copied from the upper one. The
    result is exactly symmetric. Up to ``4 · panel`` rows one ``np.dot`` (SYRK) does it all.
    Extra memory: the ``panel × panel`` diagonal tile.
    """
    n = A.shape[0]
    if n <= 4 * panel:
        return np.dot(A, A.T, out=out)  # SYRK; numpy mirrors it, so exactly symmetric
    for i in range(0, n, panel):
        j = min(n, i + panel)
        P = A[i:j]
        out[i:j, i:j] = np.dot(P, P.T)                 # diagonal tile: a small, exactly symmetric SYRK
        if j < n:
            np.matmul(P, A[j:].T, out=out[i:j, j:])     # the panel's part right of the diagonal: a GEMM
    step = 512
    for i in range(0, n, panel):  # mirror the strict upper part in cache-sized blocks
        j = min(n, i + panel)
        for c in range(j, n, step):
            e = min(n, c + step)
            out[c:e, i:j] = out[i:j, c:e].T
    return out
