r"""Dense factorizations that stay off OpenBLAS's crashing large-SYRK path and make no hidden copies.

OpenBLAS (0.3.2x–0.3.3x, SkylakeX kernels on AMD processors) dies with SIGSEGV inside its
multithreaded DSYRK from n ≈ 15,000, and ``dpotrf`` calls DSYRK for its trailing updates, so a
plain ``scipy.linalg.cho_factor`` of a 16,000 × 16,000 kernel crashes the process there.
:func:`cholesky_lower` factors small matrices with one LAPACK ``dpotrf`` and larger ones by a
blocked right-looking Cholesky whose big updates are GEMMs on ``nb``-column panels (LAPACK only
ever sees ``nb × nb`` diagonal blocks). It works on the Fortran-ordered transpose *view* of the
C-ordered symmetric input, so in place it needs no copy of the matrix (scipy's ``cho_factor``
copies a C-ordered input into Fortran order first).

:func:`syevd_inplace` is LAPACK ``dsyevd`` (scipy's LAPACK, through the function pointer that
``scipy.linalg.cython_lapack`` exports) called by :mod:`ctypes`, in place on the Fortran view of a
C-ordered buffer: no copy of the matrix, the workspace allocated once as numpy arrays (so
``tracemalloc`` sees it), and the interpreter lock released during the call (ctypes releases it
for every foreign call; scipy's f2py wrappers hold it).
"""

from __future__ import annotations

import ctypes
import functools
import time

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

__all__ = ["cholesky_lower", "CHOLESKY_BLOCKED_FROM", "CHOLESKY_BLOCK", "syevd_inplace", "SYEVD_MAX_N",
           "mirror_lower", "transpose_inplace"]

#: Largest ``n`` whose ``dsyevd`` workspace with eigenvectors, ``1 + 6n + 2n²`` doubles, fits the
#: 32-bit LAPACK integers of scipy's LAPACK (``2³¹ − 1``): from n = 32,767 it overflows.
SYEVD_MAX_N = 32_766

#: Matrices with more rows than this are factored blockwise (below, one LAPACK call). The blocked
#: form costs 1.75-1.9x LAPACK's dpotrf at n = 10,000 on 2 cores (its trailing updates make a
#: temporary per panel), so it is kept for the sizes where dpotrf's DSYRK is known to crash
#: (n ≈ 15,000 and up at d = 784), with a margin.
CHOLESKY_BLOCKED_FROM = 12_000
#: Panel width of the blocked factorization.
CHOLESKY_BLOCK = 1024


def cholesky_lower(M: np.ndarray, *, overwrite: bool = False, block: int | None = None,
                   blocked_from: int | None = None) -> tuple[np.ndarray, bool]:
    """Lower Cholesky factor ``L`` (``M = L Lᵀ``) of the symmetric positive definite ``M`` (n, n).

    Returns ``(c, True)`` for :func:`scipy.linalg.cho_solve`: ``c`` is Fortran-ordered and holds
    ``L`` in its lower triangle (its upper triangle is left as it was). With ``overwrite`` and a
    C- or F-contiguous float64 ``M``, ``c`` shares ``M``'s memory (``M`` is destroyed); otherwise
    one copy is made. Raises :class:`numpy.linalg.LinAlgError` when ``M`` is not positive definite.

    Cost: ``n³/3`` flops; above ``blocked_from`` rows, in GEMMs of ``(n−k) × block × block`` with a
    ``(n−k) × block`` temporary.
    """
    A = np.asarray(M)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"expected a square matrix, got shape {A.shape}")
    n = A.shape[0]
    if A.dtype != np.float64 or not overwrite:
        A = np.array(A, dtype=np.float64, order="F", copy=True)
    c = A if A.flags.f_contiguous else (A.T if A.flags.c_contiguous else np.asfortranarray(A))
    # for a symmetric A, A.T is A: its F-ordered view is the same matrix
    nb = int(block or CHOLESKY_BLOCK)
    if n <= (CHOLESKY_BLOCKED_FROM if blocked_from is None else blocked_from):
        _potrf_inplace(c, 0, n)   # holds the interpreter (scipy's dpotrf): ~15 s at n = 12,000 on 2 cores
        return c, True
    for k in range(0, n, nb):
        e = min(n, k + nb)
        _potrf_inplace(c, k, e)
        if e == n:
            break
        Lkk = c[k:e, k:e]
        # panel: L[e:, k:e] = A[e:, k:e] L_kkᵀ⁻¹   (a triangular solve from the right)
        P = sla.solve_triangular(Lkk, c[e:, k:e].T, lower=True, check_finite=False).T
        c[e:, k:e] = P
        # trailing update of the lower triangle, one panel of columns at a time: GEMMs only
        for j in range(e, n, nb):
            f = min(n, j + nb)
            c[j:, j:f] -= P[j - e:] @ P[j - e:f - e].T
    return c, True


def _potrf_inplace(c: np.ndarray, k: int, e: int) -> None:
    """Factor the diagonal block ``c[k:e, k:e]`` (lower) by LAPACK ``dpotrf``."""
    block = c[k:e, k:e]
    L, info = lapack.dpotrf(block, lower=1, clean=0, overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError(f"the matrix is not positive definite (leading minor {k + info} of order "
                                    f"{k + info} is not positive)" if info > 0 else f"dpotrf argument {-info}")
    if L is not block and not np.shares_memory(L, block):
        block[...] = L


_TILE = 512
_INT32_MAX = 2**31 - 1


def mirror_lower(B: np.ndarray, tile: int = _TILE) -> None:
    """Copy the strict lower triangle of the square ``B`` onto its upper one, in place (``B[j, i] = B[i, j]``
    for ``i > j``), tile by tile: no temporary larger than ``tile × tile`` (numpy copies a source tile that
    shares the buffer with its destination). Cost ``n²`` copies."""
    n = B.shape[0]
    for i in range(0, n, tile):
        e = min(n, i + tile)
        for r in range(i, e - 1):   # the diagonal tile row by row (no index arrays)
            B[r, r + 1:e] = B[r + 1:e, r]
        for j in range(0, i, tile):
            B[j:j + tile, i:e] = B[i:e, j:j + tile].T


def transpose_inplace(B: np.ndarray, tile: int = _TILE) -> None:
    """Transpose the square ``B`` in place (swapping tile pairs; temporaries of ``tile × tile``). Cost ``n²``."""
    n = B.shape[0]
    for i in range(0, n, tile):
        e = min(n, i + tile)
        B[i:e, i:e] = B[i:e, i:e].T.copy()
        for j in range(i + tile, n, tile):
            f = min(n, j + tile)
            t = B[i:e, j:f].copy()
            B[i:e, j:f] = B[j:f, i:e].T
            B[j:f, i:e] = t.T


@functools.cache
def _dsyevd():
    """``dsyevd(jobz, uplo, n, a, lda, w, work, lwork, iwork, liwork, info)`` of scipy's LAPACK, as a ctypes
    function (``CFUNCTYPE``: the interpreter lock is released while it runs)."""
    from scipy.linalg import cython_lapack

    cap = cython_lapack.__pyx_capi__["dsyevd"]
    api = ctypes.pythonapi
    api.PyCapsule_GetName.restype, api.PyCapsule_GetName.argtypes = ctypes.c_char_p, [ctypes.py_object]
    api.PyCapsule_GetPointer.restype = ctypes.c_void_p
    api.PyCapsule_GetPointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
    ptr = api.PyCapsule_GetPointer(cap, api.PyCapsule_GetName(cap))
    c, i, d = ctypes.c_char_p, ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_double)
    return ctypes.CFUNCTYPE(None, c, c, i, d, i, d, d, i, i, i, i)(ptr)


def syevd_inplace(B: np.ndarray, *, vectors: bool = True) -> np.ndarray:
    """Eigenvalues (ascending, shape (n,)) of the symmetric matrix whose **lower triangle** is that of the
    C-contiguous float64 ``B`` (n, n), by LAPACK ``dsyevd`` in place; with ``vectors``, ``B`` holds the
    eigenvectors afterwards, column ``i`` for eigenvalue ``i`` (C order, as ``numpy.linalg.eigh`` returns them).

    ``B`` is destroyed. The same LAPACK call, uplo and workspace (LAPACK's own workspace query) as
    ``scipy.linalg.eigh(driver="evd")`` and ``numpy.linalg.eigh``, so the same numbers (checked bit for bit in
    tests/test_memory.py). Memory: the workspace, ``1 + 6n + 2n²`` doubles with vectors (``2n + 1`` without)
    and ``3 + 5n`` integers; the triangle mirror and the final transpose work in 512 × 512 tiles.
    Raises :class:`numpy.linalg.LinAlgError` if LAPACK reports no convergence, ``OverflowError`` above
    :data:`SYEVD_MAX_N` rows with vectors. Cost ``≈ 9n³`` flops with vectors, ``4n³/3`` without.
    """
    if B.ndim != 2 or B.shape[0] != B.shape[1] or B.dtype != np.float64 or not B.flags.c_contiguous \
            or not B.flags.writeable:
        raise ValueError("syevd_inplace needs a writeable C-contiguous float64 square matrix")
    n = B.shape[0]
    if vectors and n > SYEVD_MAX_N:
        raise OverflowError(f"dsyevd's workspace for n = {n} ({1 + 6 * n + 2 * n * n} doubles) overflows "
                            f"LAPACK's 32-bit integers (at most n = {SYEVD_MAX_N} with eigenvectors)")
    # dsyevd reads the lower triangle of the Fortran view B.T, i.e. the upper triangle of B: put B's own lower
    # triangle there (what numpy's and scipy's eigh, uplo L, read), so that an inexactly symmetric B gives
    # their numbers too
    mirror_lower(B)
    fn = _dsyevd()
    jobz = b"V" if vectors else b"N"
    N, info = ctypes.c_int(n), ctypes.c_int(0)
    w = np.empty(n)
    dp = ctypes.POINTER(ctypes.c_double)
    ip = ctypes.POINTER(ctypes.c_int)
    wq, iq = np.zeros(1), np.zeros(1, dtype=np.int32)
    lw, li = ctypes.c_int(-1), ctypes.c_int(-1)
    a = B.ctypes.data_as(dp)
    fn(jobz, b"L", ctypes.byref(N), a, ctypes.byref(N), w.ctypes.data_as(dp), wq.ctypes.data_as(dp), ctypes.byref(lw),
       iq.ctypes.data_as(ip), ctypes.byref(li), ctypes.byref(info))
    lwork, liwork = int(wq[0]), int(iq[0])
    if info.value != 0 or not 0 < lwork <= _INT32_MAX or not 0 < liwork <= _INT32_MAX:
        raise OverflowError(f"dsyevd workspace query failed for n = {n} (info {info.value}, lwork {wq[0]:.0f})")
    work, iwork = np.empty(lwork), np.empty(liwork, dtype=np.int32)
    lw, li = ctypes.c_int(lwork), ctypes.c_int(liwork)
    fn(jobz, b"L", ctypes.byref(N), a, ctypes.byref(N), w.ctypes.data_as(dp), work.ctypes.data_as(dp),
       ctypes.byref(lw), iwork.ctypes.data_as(ip), ctypes.byref(li), ctypes.byref(info))
    del work, iwork
    if info.value > 0:
        raise np.linalg.LinAlgError(f"dsyevd did not converge ({info.value} off-diagonal elements)")
    if info.value < 0:
        raise ValueError(f"dsyevd argument {-info.value} had an illegal value")
    if vectors:  # the Fortran view holds the eigenvectors column by column: B is their transpose
        transpose_inplace(B)
    return w


# --------------------------------------------------------------------------- how long a call will take
#: ``eigh`` with vectors costs about this many flops per n³ (LAPACK syevd, Golub & Van Loan §8.3);
#: eigenvalues only about 4/3 (the tridiagonal reduction).
EIGH_FLOPS_PER_N3 = 9.0


def _best(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


@functools.lru_cache(maxsize=4)
def machine_rates(dtype: str = "float64") -> tuple[float, float]:
    """``(GEMM flop/s, eigh flop/s)`` measured here (n = 768 GEMM, n = 384 eigh; ~0.1 s in all, once)."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((768, 768)).astype(dtype)
    gemm = 2 * 768**3 / _best(lambda: A @ A)
    S = rng.standard_normal((384, 384))
    S = S @ S.T
    eig = EIGH_FLOPS_PER_N3 * 384**3 / _best(lambda: np.linalg.eigh(S))
    return gemm, eig


def expected_seconds(call: str, n: int, *, vectors: bool = True) -> float:
    """Seconds a dense ``call`` (``"eigh"`` or ``"cholesky"``) of an ``n × n`` float64 matrix should
    take here, from :func:`machine_rates` (measured once per process): ``9n³`` (``4n³/3`` without
    vectors) at the eigh rate, ``n³/3`` at the GEMM rate. An estimate (±50 % on a quiet machine)."""
    gemm, eig = machine_rates("float64")
    if call == "cholesky":
        return n**3 / 3.0 / gemm
    return (EIGH_FLOPS_PER_N3 if vectors else 4.0 / 3.0) * float(n) ** 3 / eig
