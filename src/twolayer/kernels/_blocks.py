"""Building blocks of the blocked kernel builds: memory estimates, threads, row blocks, the panelled Gram.

Shared by every builder of :mod:`twolayer.kernels`; nothing here knows a kernel formula.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .._errors import InputError

__all__ = ["MemoryEstimate", "estimate_kernel_memory", "GRAM_PANEL_ROWS", "gram_upper_tiles", "TILE", "tiled_build"]

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


def _storage_dtypes(dtype, compute_dtype) -> tuple[np.dtype, np.dtype]:
    """``(storage, compute)`` dtypes of a build: storage float64 (default) or float32; compute
    float64 (default) or, for float32 storage only, float32."""
    store = np.dtype(np.float64 if dtype is None else dtype)
    if store not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InputError(f"dtype must be float64 or float32, got {store}")
    comp = np.dtype(np.float64 if compute_dtype is None else compute_dtype)
    if comp not in (np.dtype(np.float64), np.dtype(np.float32)):
        raise InputError(f"compute_dtype must be float64 or float32, got {comp}")
    if comp == np.dtype(np.float32) and store == np.dtype(np.float64):
        raise InputError("compute_dtype=float32 needs dtype=float32 (a float64 result computed in float32 "
                         "would carry float32 errors at twice the memory)")
    return store, comp


#: Side of the square tiles of a float32-storage build (:func:`tiled_build`): one GEMM of
#: ``TILE × d × TILE`` per tile (packing costs ``2 TILE d`` against ``2 TILE² d`` flops) and a
#: ``TILE²`` compute-dtype buffer (8 MiB in float64).
TILE = 1024


def estimate_kernel_memory(n: int, n_z: int | None = None, d: int = 0, *, block_size: int | None = None,
                           n_jobs: int | None = None, dtype=np.float64, compute_dtype=None) -> MemoryEstimate:
    """Bytes needed to build an ``n × n_z`` kernel (``n_z = n`` for a kernel of one data set).

    ``result`` is the output (8 bytes an entry in float64, 4 in float32: ``dtype``),
    ``workspace`` the temporaries, ``inputs`` the normalized copies of the data.

    * float64 storage (the default): two ``block_size × n_z`` float64 row blocks per thread;
      inputs one float64 copy (``8 (n + n_z) d``; ``8 n d`` for a kernel of one data set).
    * float32 storage (:func:`tiled_build`): one ``TILE × TILE`` tile in ``compute_dtype``
      (float64 by default), two ``block × TILE`` row blocks of it per thread and a
      ``TILE × TILE`` boolean mask; inputs the float64 copy plus, with ``compute_dtype=float32``,
      a float32 one.

    Cost ``O(1)``. Examples: n = 60,000 float32 needs 13.4 GiB for the result (27 GiB in float64).
    """
    n_z = n if n_z is None else n_z
    store, comp = _storage_dtypes(dtype, compute_dtype)
    jobs = _resolve_jobs(n_jobs)
    rows_in = n + (0 if n_z == n else n_z)
    if store == np.dtype(np.float64):
        block = _resolve_block(block_size, n, n_z, jobs)
        return MemoryEstimate(result=8 * n * n_z, workspace=16 * min(block, n) * n_z * min(jobs, -(-n // block)),
                              inputs=8 * rows_in * d)
    tr, tc = min(TILE, n), min(TILE, n_z)
    block = _tile_block(block_size, tr, tc, comp)
    work = comp.itemsize * (tr * tc + 2 * block * tc * min(jobs, -(-tr // block))) + tr * tc
    inputs = 8 * rows_in * d + (4 * rows_in * d if comp == np.dtype(np.float32) else 0)
    return MemoryEstimate(result=4 * n * n_z, workspace=work, inputs=inputs)


def _tile_block(block_size: int | None, rows: int, cols: int, comp: np.dtype) -> int:
    """Rows per elementwise block of a ``rows × cols`` tile (about ``_BLOCK_BYTES`` each)."""
    if block_size is None:
        block_size = max(1, _BLOCK_BYTES // (comp.itemsize * max(1, cols)))
    if int(block_size) < 1:
        raise InputError(f"block_size must be a positive number of rows, got {block_size}")
    return int(min(block_size, max(1, rows)))


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


def tiled_build(A: np.ndarray, B: np.ndarray, out: np.ndarray, transform, *, self_kernel: bool,
                compute_dtype=np.float64, block_size: int | None = None, n_jobs: int | None = None,
                tile: int = TILE) -> np.ndarray:
    """Fill ``out`` (n, n_z) tile by tile: ``T = A[r] B[c]ᵀ`` in ``compute_dtype``, then
    ``transform(T_block, row0, col0)`` in place on row blocks of ``T`` (global offsets of the
    block's first row and column), then ``out[r, c] = T`` (rounded to ``out.dtype``).

    ``A`` (n, d) and ``B`` (n_z, d) must already be in ``compute_dtype``. For a kernel of one data
    set (``self_kernel``; ``B is A``) only the tiles on and above the block diagonal are computed
    (``n² d`` GEMM flops, as SYRK), each off-diagonal tile is also written transposed below, and a
    diagonal tile is symmetrized from its upper triangle, so ``out`` is exactly symmetric. The
    diagonal itself is the caller's (set it afterwards). ``transform`` must be elementwise up to
    the near-parallel recomputation (so that blocks may run in any order on ``n_jobs`` threads).

    Extra memory: one ``tile × tile`` compute-dtype buffer, the caller's per-block temporaries,
    a ``tile × tile`` boolean mask. Cost: ``2 n n_z d`` flops (``n² d`` for a self kernel) in
    GEMMs of ``tile × d × tile`` plus the transform and one (two, for a self kernel) copies of
    the result. Used by the float32-storage builds of :mod:`twolayer.kernels.arccos`.
    """
    from concurrent.futures import ThreadPoolExecutor

    n, nz = out.shape
    comp = np.dtype(compute_dtype)
    tr, tc = min(tile, n), min(tile, nz)
    buf = np.empty(tr * tc, dtype=comp)
    block = _tile_block(block_size, tr, tc, comp)
    jobs = _resolve_jobs(n_jobs)
    lower = np.tri(tr, tr, -1, dtype=bool) if self_kernel else np.zeros((0, 0), dtype=bool)
    pool = ThreadPoolExecutor(max_workers=jobs) if jobs > 1 else None
    try:
        for r0 in range(0, n, tile):
            r1 = min(n, r0 + tile)
            for c0 in range(r0 if self_kernel else 0, nz, tile):
                c1 = min(nz, c0 + tile)
                T = buf[:(r1 - r0) * (c1 - c0)].reshape(r1 - r0, c1 - c0)
                np.matmul(A[r0:r1], B[c0:c1].T, out=T)
                diagonal = self_kernel and c0 == r0
                starts = range(0, r1 - r0, block)

                def work(s, T=T, r0=r0, c0=c0, c1=c1, diagonal=diagonal):
                    Tb = T[s:s + block]
                    transform(Tb, r0 + s, c0)
                    if not diagonal:  # store (and mirror) from the thread that has the block in cache
                        out[r0 + s:r0 + s + Tb.shape[0], c0:c1] = Tb
                        if self_kernel:
                            out[c0:c1, r0 + s:r0 + s + Tb.shape[0]] = Tb.T

                if pool is None or len(starts) == 1:
                    for s in starts:
                        work(s)
                else:
                    list(pool.map(work, starts))
                if diagonal:  # exact symmetry: the strict lower triangle from the upper one
                    dest = out[r0:r1, c0:c1]
                    dest[...] = T
                    k = r1 - r0
                    np.copyto(dest, T.T, where=lower[:k, :k])
    finally:
        if pool is not None:
            pool.shutdown()
    return out
