r"""Dense factorizations that stay off OpenBLAS's crashing large-SYRK path and make no hidden copies.

OpenBLAS (0.3.2x–0.3.3x, SkylakeX kernels on AMD processors) dies with SIGSEGV inside its
multithreaded DSYRK from n ≈ 15,000, and ``dpotrf`` calls DSYRK for its trailing updates, so a
plain ``scipy.linalg.cho_factor`` of a 16,000 × 16,000 kernel crashes the process there.
:func:`cholesky_lower` factors small matrices with one LAPACK ``dpotrf`` and larger ones by a
blocked right-looking Cholesky whose big updates are GEMMs on ``nb``-column panels (LAPACK only
ever sees ``nb × nb`` diagonal blocks). It works on the Fortran-ordered transpose *view* of the
C-ordered symmetric input, so in place it needs no copy of the matrix (scipy's ``cho_factor``
copies a C-ordered input into Fortran order first).
"""

from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

__all__ = ["cholesky_lower", "CHOLESKY_BLOCKED_FROM", "CHOLESKY_BLOCK"]

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
