r"""Kernel matrices as linear operators: dense float64 / float32, memory-mapped on disk, or matrix-free.

The interface
-------------
Every Krylov instrument of :mod:`twolayer.krylov` (and ``twolayer.bounds.complexity(...,
method="krylov")``) needs only products ``v ↦ Hv``. **Any object with a ``shape`` ``(n, n)`` and a
``matvec(v)`` returning ``Hv`` as an ``(n,)`` array is a kernel operator** — a
:class:`scipy.sparse.linalg.LinearOperator`, the class here, or a user's own (e.g. an RBF kernel
recomputed on the fly). Optional methods are used when present: ``matmat(V)`` (block products:
the symmetry probe, the residuals of ``top_eigenpairs``), and ``diagonal()`` with ``rows(idx)``
(the randomly pivoted Cholesky preconditioner of ``complexity``; without them pass
``precondition=0``).

:class:`KernelOperator` (built by :func:`make_operator`) holds an arc-cosine kernel
(:data:`~twolayer.kernels.KERNELS`) of the rows of ``X`` in one of four storages:

================  ==========================================  ==========================================
storage           memory (n rows)                             cost of one product ``Hv``
================  ==========================================  ==========================================
``dense64``       ``8n²`` (n = 60,000: 26.8 GiB)               one ``dgemv`` (``2n²`` flops)
``dense32``       ``4n²`` (13.4 GiB)                           ``2n²`` flops; float32 rows widened to
                                                              float64 one row block at a time
``memmap``        ``4n²`` on disk, row blocks in RAM          as ``dense32``, reading the file
``matrix-free``   ``O(block · n)`` (3 row blocks per thread)   the kernel's rows recomputed: ``2n²d``
                                                              GEMM flops + the angle transform
================  ==========================================  ==========================================

Products are computed in float64 whatever the storage (``matvec`` / ``matmat`` return float64).
A float32 row block (4 MiB of float64: ``⌊2¹⁹/n⌋`` rows) is widened exactly into a per-thread
float64 buffer that is allocated once per product and stays in cache, then multiplied by one
single-threaded BLAS call; the block boundaries do not depend on ``n_jobs``, so products are
bit-identical for every thread count. ``matmat`` with ``k`` columns makes one pass over the storage.
The widening (numpy's float32 → float64 cast, ≈ 5 GB/s of float32 per core here) bounds a
``matvec``: measured 4× a bare float32 ``sgemv`` at n = 20,000 (``benchmarks/bench_krylov.py``),
half the old per-block ``astype``; a ``k``-column ``matmat`` amortizes it (BLAS-3 speed), which is
what the block method of :func:`twolayer.krylov.top_eigenpairs` exploits.

Error of a product (``u₃₂ = 2⁻²⁴``, ``u₆₄ = 2⁻⁵³``, ``γ_n = n u₆₄/(1 − n u₆₄)``)
-------------------------------------------------------------------------------------
Let ``H`` be the exact kernel and ``S`` the stored matrix (for matrix-free: the float64 rows as
recomputed). Every entry satisfies ``|S_ij − H_ij| ≤ u_s |H_ij| + ε_build`` with ``u_s = 0``
(float64 storage) or ``u₃₂`` (float32: each entry is the float64 value rounded once), and
``ε_build = L (d + 3) u₆₄ s + 8 u₆₄ |H_ij|`` the float64 build's own error (the GEMM cosine's
rounding ``|δc| ≤ (d + 2) u₆₄`` through the kernel's slope ``L = max |dK/dc|`` on
``|c| ≤ 1 − 10⁻⁴``, as in :func:`~twolayer.kernels.arccos_kernel`; ``s = (max‖x‖²)^degree``;
near-parallel pairs are recomputed from explicit differences). The product is accumulated in
float64, per row, so by the standard dot-product bound (Higham, *Accuracy and Stability of
Numerical Algorithms*, 2002, Thm 3.5; any summation order)

.. math:: |\mathrm{fl}(Sv) − Hv| ≤ \Big(γ_n + \frac{u_s}{1 − u_s}\Big) |S|\,|v| + ε_{build} ‖v‖_1

componentwise. :meth:`KernelOperator.product_error_bound` evaluates the right-hand side (one
extra product with ``|S|``). For float32 storage the first term is ``≈ 6·10⁻⁸ |S||v|``: the
storage, not the summation (``γ_n ≈ n·10⁻¹⁶``), dominates. A Krylov result on ``S`` is a
certified result for ``S``; ``S`` is a symmetric perturbation of ``H`` with
``‖S − H‖₂ ≤ u_s ‖|H|‖₂ + n ε_build``, which moves each eigenvalue by at most that (Weyl).

Choosing the storage
--------------------
``make_operator(..., storage="auto")`` takes the first of ``dense64``, ``dense32`` whose build
(:func:`~twolayer.kernels.estimate_kernel_memory`) plus a Krylov workspace of ``8n·1002`` bytes (a
Lanczos basis of the default 1,000 steps) fits in ``memory`` (default: the machine's available
memory), else ``memmap`` when the temporary folder has ``4n²`` bytes free, else ``matrix-free``;
the choice and its reason are recorded in :attr:`KernelOperator.choice`.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .._errors import InputError
from .._threads import blas_threads
from ._blocks import _available_memory, _fmt_bytes, _resolve_jobs, estimate_kernel_memory
from .arccos import (_check_scale, _fix_near_parallel, _inputs, _near_parallel_pairs, _normalize, _transform_block,
                     arccos_kernel)

__all__ = ["STORAGES", "KernelOperator", "make_operator", "estimate_operator_memory"]

#: The storages of :func:`make_operator` (besides ``"auto"``).
STORAGES = ("dense64", "dense32", "memmap", "matrix-free")
_U32 = 2.0**-24
_U64 = 2.0**-53
#: ``max |dK/dc|`` on ``|c| ≤ 1 − 10⁻⁴`` per kernel (see :func:`~twolayer.kernels.arccos_kernel`).
_SLOPE = {"first-layer": 11.8, "two-layer": 12.3, "kappa0": 11.3, "random-features": 0.5}
#: Bytes of one row block of a stored-matrix product (float64) and of the matrix-free buffers.
_PRODUCT_BLOCK_BYTES = 4 * 2**20
_FREE_BLOCK_BYTES = 32 * 2**20


def _krylov_workspace(n: int) -> int:
    return 8 * n * 1002


def estimate_operator_memory(n: int, d: int, storage: str, *, block_size: int | None = None,
                             n_jobs: int | None = None) -> int:
    """Bytes of RAM a :class:`KernelOperator` of ``n`` rows in ``d`` dimensions needs (build and products).

    ``dense64``/``dense32``: :func:`~twolayer.kernels.estimate_kernel_memory` of that dtype;
    ``memmap``: the float32 build's workspace and inputs (the matrix is on disk); ``matrix-free``:
    the unit rows (``8nd``) and three ``block × n`` float64 buffers per thread. Cost ``O(1)``.
    """
    if storage == "dense64":
        return estimate_kernel_memory(n, d=d).total
    if storage in ("dense32", "memmap"):
        est = estimate_kernel_memory(n, d=d, dtype=np.float32, n_jobs=n_jobs)
        return est.total - (est.result if storage == "memmap" else 0)
    if storage == "matrix-free":
        jobs = _resolve_jobs(n_jobs)
        return 8 * n * d + 3 * 8 * n * _free_block(block_size, n) * jobs
    raise InputError(f"storage must be one of auto, {', '.join(STORAGES)}, got {storage!r}")


def _free_block(block_size: int | None, n: int) -> int:
    if block_size is None:
        block_size = max(1, _FREE_BLOCK_BYTES // (8 * n))
    if int(block_size) != block_size or block_size < 1:
        raise InputError(f"block_size must be a positive number of rows, got {block_size}")
    return int(min(block_size, n))


class KernelOperator:
    r"""A symmetric kernel matrix as a linear operator ``v ↦ Hv`` (``LinearOperator``-style).

    Build one with :func:`make_operator` (an arc-cosine kernel of data) or
    :meth:`from_matrix` (an explicit float64 / float32 array or ``np.memmap``).

    Attributes
    ----------
    shape : (int, int)
        ``(n, n)``.
    dtype : numpy.dtype
        float64, the dtype of every product.
    storage : str
        One of :data:`STORAGES`.
    kind : str or None
        The kernel's name (None for :meth:`from_matrix`).
    choice : dict
        How the storage was chosen: ``storage``, ``requested``, ``reason``, ``memory_limit`` and the
        RAM ``estimates`` of every storage (bytes).
    unit_error : float
        ``u_s``: the relative rounding of the stored entries (0 or ``2⁻²⁴``).
    build_error : float
        ``ε_build``: absolute bound on the float64 build's entry error (0 for :meth:`from_matrix`).
    path : str or None
        The memory-mapped file (``memmap``), removed by :meth:`close` or when the operator is
        garbage collected.

    Notes
    -----
    See the module docstring for the product error bound and the costs per storage.
    """

    def __init__(self, *, n: int, storage: str, matrix=None, rows=None, kind: str | None = None,
                 diagonal=None, unit_error: float = 0.0, build_error: float = 0.0, choice: dict | None = None,
                 path: str | None = None, n_jobs: int | None = None, block_bytes: int = _PRODUCT_BLOCK_BYTES):
        self.shape = (int(n), int(n))
        self.dtype = np.dtype(np.float64)
        self.storage = storage
        self.kind = kind
        self.unit_error = float(unit_error)
        self.build_error = float(build_error)
        self.choice = dict(choice or {"storage": storage, "requested": storage, "reason": "given"})
        self.path = path
        self._matrix = matrix
        self._rows_fn = rows
        self._diag = diagonal
        self._jobs = _resolve_jobs(n_jobs)
        self._block_bytes = int(block_bytes)
        self._finalizer = weakref.finalize(self, _remove, path) if path else None

    #: Symmetric by construction (a kernel of data), so the Krylov functions skip their symmetry
    #: probe; :meth:`from_matrix` sets it False (a caller's array is probed).
    symmetric = True

    # ----------------------------------------------------------------- construction
    @classmethod
    def from_matrix(cls, H, *, n_jobs: int | None = None) -> KernelOperator:
        """Wrap an explicit symmetric ``(n, n)`` float64 or float32 array (or ``np.memmap``) without copying it.

        Storage ``dense64`` or ``dense32`` (``memmap`` for a :class:`numpy.memmap`); the entries
        are taken as given (``build_error = 0``). Cost ``O(1)``.
        """
        if not isinstance(H, np.ndarray) or H.ndim != 2 or H.shape[0] != H.shape[1] or H.shape[0] == 0:
            raise InputError(f"from_matrix needs a non-empty square (n, n) array, got {getattr(H, 'shape', None)}")
        if H.dtype not in (np.dtype(np.float64), np.dtype(np.float32)):
            raise InputError(f"from_matrix needs a float64 or float32 array, got {H.dtype}")
        storage = "memmap" if isinstance(H, np.memmap) else ("dense64" if H.dtype == np.float64 else "dense32")
        u = _U32 if H.dtype == np.float32 else 0.0
        op = cls(n=H.shape[0], storage=storage, matrix=H, unit_error=u, n_jobs=n_jobs)
        op.symmetric = False
        return op

    # ----------------------------------------------------------------- products
    def matvec(self, v) -> np.ndarray:
        """``Hv`` in float64: ``v`` (n,) → (n,). Cost: see the module docstring."""
        x = np.asarray(v, dtype=np.float64).reshape(-1)
        if x.shape[0] != self.shape[1]:
            raise InputError(f"matvec needs a vector of {self.shape[1]} entries, got {x.shape[0]}")
        return self._product(x[:, None], absolute=False)[:, 0]

    def matmat(self, V) -> np.ndarray:
        """``HV`` in float64: ``V`` (n, k) → (n, k); one pass over the storage for all ``k`` columns."""
        X = np.asarray(V, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] != self.shape[1]:
            raise InputError(f"matmat needs an ({self.shape[1]}, k) array, got shape {X.shape}")
        return self._product(X, absolute=False)

    @property
    def matvec_float32(self):
        """For a float32 stored matrix: ``v ↦ fl₃₂(S fl₃₂(v))`` as float64 (n,), one multi-threaded
        ``sgemv`` (float32 accumulation: error up to ``γ_n(u₃₂)|S||v|``, typically ``√n u₃₂``);
        None for the other storages. It is 5–8× cheaper than :meth:`matvec` at n = 10,000 (no
        widening pass) and is what the mixed-precision path of
        :func:`twolayer.krylov.quadratic_form` iterates with; its certified interval rests on
        float64 residuals from :meth:`matvec` only."""
        M = self._matrix
        if M is None or M.dtype != np.float32:
            return None

        def product(v) -> np.ndarray:
            x = np.asarray(v, dtype=np.float32).reshape(-1)
            if x.shape[0] != self.shape[1]:
                raise InputError(f"matvec needs a vector of {self.shape[1]} entries, got {x.shape[0]}")
            return np.asarray(M @ x, dtype=np.float64)
        return product

    def __matmul__(self, V):
        V = np.asarray(V)
        return self.matvec(V) if V.ndim == 1 else self.matmat(V)

    def rmatvec(self, v) -> np.ndarray:
        """``Hᵀv = Hv`` (``H`` is symmetric)."""
        return self.matvec(v)

    def abs_matmat(self, V) -> np.ndarray:
        """``|S| V`` (entrywise absolute values of the stored matrix), float64 ``(n, k)``: for the error bounds."""
        X = np.asarray(V, dtype=np.float64)
        return self._product(X.reshape(self.shape[1], -1), absolute=True)

    def product_error_bound(self, V) -> np.ndarray:
        r"""Componentwise bound on ``|fl(SV) − HV|`` (same shape as ``V``; see the module docstring).

        ``(γ_n + u_s/(1 − u_s)) (1 + 2γ_n) |S||V| + ε_build ‖V‖₁`` per column (the factor
        ``1 + 2γ_n`` covers the rounding of evaluating ``|S||V|`` itself). Cost: one product.
        """
        Va = np.abs(np.asarray(V, dtype=np.float64))
        one = Va.ndim == 1
        Va2 = Va.reshape(self.shape[1], -1)
        n = self.shape[0]
        gamma = n * _U64 / (1.0 - n * _U64)
        coef = (gamma + self.unit_error / (1.0 - self.unit_error)) * (1.0 + 2.0 * gamma)
        bound = coef * self.abs_matmat(Va2) + self.build_error * Va2.sum(axis=0)[None, :]
        return bound[:, 0] if one else bound

    def quadratic_form_error(self, x, residual_norm: float, lambda_min_lower: float) -> float:
        r"""Bound on ``|yᵀS⁻¹y − yᵀH⁻¹y|``: how far the stored matrix ``S`` moves the quadratic form.

        A Krylov interval for ``yᵀS⁻¹y`` (what products with ``S`` can certify) becomes one for
        the exact kernel ``H`` when widened by this. ``x`` (n,) is the solver's iterate, ``‖y − Sx‖ ≤
        residual_norm``, ``0 < a = lambda_min_lower ≤ λ_min(S)``. With ``E = S − H``,
        ``yᵀH⁻¹y − yᵀS⁻¹y = wᵀE z`` for ``w = H⁻¹y``, ``z = S⁻¹y``, and entrywise
        ``|E_ij| ≤ u'|S_ij| + ε_build`` (``u' = u_s/(1 − u_s)``), so

        .. math:: |wᵀEz| ≤ u' |w|ᵀ|S||z| + ε_{build} ‖w‖_1 ‖z‖_1 .

        ``z = x + S⁻¹r`` gives ``‖z − x‖ ≤ ρ = residual_norm/a``; ``w − z = H⁻¹Ez`` gives
        ``‖w − x‖ ≤ ρ + ε_E(‖x‖ + ρ)/(a − ε_E)`` with ``‖E‖₂ ≤ ε_E = u'G + nε_build`` and ``G`` the
        Gershgorin bound of ``|S|``; then ``|w|ᵀ|S||z| ≤ |x|ᵀ|S||x| + (η_w + η_z)‖|S||x|‖ + η_wη_z G``
        and ``‖w‖₁ ≤ ‖x‖₁ + √n η_w``. Componentwise, so it holds for any rounding pattern (on
        random data the actual change is 10²–10³ times smaller: the roundings cancel). ``inf``
        when ``ε_E ≥ a``; 0 for exact float64 storage without build error. Cost: one pass over the
        storage (a two-column ``|S|`` product).
        """
        if not self.unit_error and not self.build_error:
            return 0.0
        n = self.shape[0]
        xa = np.abs(np.asarray(x, dtype=np.float64).reshape(-1))
        u = self.unit_error / (1.0 - self.unit_error) if self.unit_error else 0.0
        gamma = n * _U64 / (1.0 - n * _U64)
        P = self.abs_matmat(np.column_stack([xa, np.ones(n)])) * (1.0 + 2.0 * gamma)
        G = float(P[:, 1].max())
        a = float(lambda_min_lower)
        eps_e = u * G + n * self.build_error
        if not (a > eps_e and np.isfinite(residual_norm)):
            return float("inf")
        rho = float(residual_norm) / a
        xn = float(np.linalg.norm(xa))
        eta_z = rho
        eta_w = rho + eps_e * (xn + rho) / (a - eps_e)
        quad = float(xa @ P[:, 0]) + (eta_w + eta_z) * float(np.linalg.norm(P[:, 0])) + eta_w * eta_z * G
        x1 = float(xa.sum())
        return u * quad + self.build_error * (x1 + math.sqrt(n) * eta_w) * (x1 + math.sqrt(n) * eta_z)

    def gershgorin_upper(self) -> float:
        """``max_i Σ_j |S_ij|`` (times ``1 + 2γ_n``): a certified upper bound on ``λ_max(S)``. Cost: one product."""
        n = self.shape[0]
        gamma = n * _U64 / (1.0 - n * _U64)
        return float(self.abs_matmat(np.ones((n, 1))).max() * (1.0 + 2.0 * gamma))

    def _product(self, V: np.ndarray, absolute: bool) -> np.ndarray:
        n = self.shape[0]
        M = self._matrix
        if M is not None and M.dtype == np.float64 and not absolute and not isinstance(M, np.memmap):
            return M @ V  # one BLAS call
        out = np.empty((n, V.shape[1]))
        V = np.ascontiguousarray(V)
        if M is not None:
            # Fixed row blocks of ``_block_bytes`` of float64 (independent of the thread count, so
            # every row's dot product is the same BLAS call whatever n_jobs is); a float32 block is
            # widened exactly into a per-thread float64 buffer that stays in cache (no allocation,
            # no page faults) and multiplied there: one pass over the storage for all k columns.
            block = max(1, self._block_bytes // (8 * n))
            wide = _WidenBuffers(block, n)

            def work(r0):
                B = M[r0:r0 + block]
                if B.dtype != np.float64:
                    B = wide.widen(B)
                    if absolute:
                        np.abs(B, out=B)
                elif absolute:
                    B = np.abs(B)
                np.dot(B, V, out=out[r0:r0 + B.shape[0]])
        else:
            block = self._rows_fn.block
            local = _ThreadBuffers(self._rows_fn)

            def work(r0):
                C = local.rows(r0, min(n, r0 + block))
                if absolute:
                    np.abs(C, out=C)
                np.dot(C, V, out=out[r0:r0 + C.shape[0]])

        starts = range(0, n, block)
        with blas_threads(1):  # each block one single-threaded BLAS call: the same numbers for every n_jobs
            if self._jobs == 1 or len(starts) == 1:
                for s in starts:
                    work(s)
            else:
                with ThreadPoolExecutor(max_workers=self._jobs) as pool:
                    list(pool.map(work, starts))
        return out

    # ----------------------------------------------------------------- entries
    def diagonal(self) -> np.ndarray:
        """The diagonal of ``S`` (float64, (n,)). Cost ``O(n)``."""
        if self._diag is not None:
            return np.array(self._diag, dtype=np.float64)
        return np.diagonal(self._matrix).astype(np.float64)

    def rows(self, idx) -> np.ndarray:
        """Rows ``idx`` of ``S`` (float64, (len(idx), n)); matrix-free: recomputed (``2 len(idx) n d`` flops)."""
        ii = np.atleast_1d(np.asarray(idx, dtype=np.intp))
        if self._matrix is not None:
            return np.asarray(self._matrix[ii], dtype=np.float64)
        return self._rows_fn.select(ii)

    def todense(self) -> np.ndarray:
        """``S`` as a float64 ``(n, n)`` array (``8n²`` bytes: for small ``n`` and tests)."""
        return self._product(np.eye(self.shape[0]), absolute=False)

    def aslinearoperator(self):
        """A :class:`scipy.sparse.linalg.LinearOperator` (float64) with this operator's products."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.matvec, matmat=self.matmat,
                              dtype=np.float64)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored matrix (0 for matrix-free; on disk for memmap)."""
        return int(self._matrix.nbytes) if self._matrix is not None else 0

    def close(self) -> None:
        """Release the matrix and remove the memory-mapped file, if any."""
        self._matrix = None
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"KernelOperator(n={self.shape[0]}, storage={self.storage!r}, kind={self.kind!r})"


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _KernelRows:
    """Rows of an arc-cosine self kernel recomputed from the unit rows (the matrix-free storage)."""

    def __init__(self, row, Xn: np.ndarray, norms: np.ndarray, block: int):
        self.row, self.Xn, self.norms, self.block = row, Xn, norms, block
        self.scaled = row.degree != 0 and not np.all(norms == 1.0)
        diag = np.full(Xn.shape[0], float(row.diagonal))
        if self.scaled:
            for _ in range(row.degree):
                diag = diag * norms * norms
        self.diag = diag

    def compute(self, r0: int, r1: int, C: np.ndarray, w1: np.ndarray, w2: np.ndarray) -> np.ndarray:
        """Rows ``r0:r1`` into ``C`` (``(r1 − r0, n)`` float64) as the float64 build computes them."""
        np.matmul(self.Xn[r0:r1], self.Xn.T, out=C)
        i, j = _near_parallel_pairs(C, r0, True)
        _transform_block(self.row, C, w1, w2)
        if i.size:
            _fix_near_parallel(self.row, C, i, j, r0, self.Xn, self.Xn)
        if self.scaled:
            np.multiply(self.norms[r0:r1, None], self.norms[None, :], out=w1)
            if self.row.degree != 1:
                np.power(w1, self.row.degree, out=w1)
            C *= w1
        k = np.arange(r1 - r0)
        C[k, k + r0] = self.diag[r0:r1]
        return C

    def select(self, idx: np.ndarray) -> np.ndarray:
        out = np.empty((idx.size, self.Xn.shape[0]))
        for t, i in enumerate(idx):
            out[t] = self.compute(int(i), int(i) + 1, np.empty((1, self.Xn.shape[0])),
                                  np.empty((1, self.Xn.shape[0])), np.empty((1, self.Xn.shape[0])))[0]
        return out


class _WidenBuffers:
    """Per-thread ``block × n`` float64 buffers into which float32 row blocks are widened (exactly)."""

    def __init__(self, block: int, n: int):
        import threading

        self.block, self.n = block, n
        self.local = threading.local()

    def widen(self, B: np.ndarray) -> np.ndarray:
        buf = getattr(self.local, "buf", None)
        if buf is None:
            buf = self.local.buf = np.empty((self.block, self.n))
        W = buf[:B.shape[0]]
        np.copyto(W, B)
        return W


class _ThreadBuffers:
    """Per-thread ``block × n`` buffers (C, w1, w2) of one matrix-free product."""

    def __init__(self, rows: _KernelRows):
        import threading

        self.rows_src = rows
        self.local = threading.local()

    def rows(self, r0: int, r1: int) -> np.ndarray:
        bufs = getattr(self.local, "bufs", None)
        n, b = self.rows_src.Xn.shape[0], self.rows_src.block
        if bufs is None:
            bufs = self.local.bufs = tuple(np.empty(b * n) for _ in range(3 if self.rows_src.row.uses_sin else 2))
        m = (r1 - r0) * n
        C, w1 = bufs[0][:m].reshape(r1 - r0, n), bufs[1][:m].reshape(r1 - r0, n)
        w2 = bufs[2][:m].reshape(r1 - r0, n) if len(bufs) == 3 else w1
        return self.rows_src.compute(r0, r1, C, w1, w2)


def make_operator(X, kind: str = "first-layer", storage: str = "auto", *, memory: int | None = None,
                  directory: str | None = None, block_size: int | None = None,
                  n_jobs: int | None = None) -> KernelOperator:
    r"""The arc-cosine kernel ``kind`` of the rows of ``X`` as a :class:`KernelOperator` in the chosen storage.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs (any non-zero rows; unit norm in the theory).
    kind : str
        A row of :data:`~twolayer.kernels.KERNELS` (default ``first-layer``: ``H^∞`` of Arora et
        al. 2019 eq. 3).
    storage : {"auto", "dense64", "dense32", "memmap", "matrix-free"}
        See the module docstring (``auto``: from the memory estimate; the choice is recorded in
        ``choice``).
    memory : int, optional
        Bytes of RAM allowed (default: the machine's available memory). ``dense64``/``dense32``
        refuse to build beyond it.
    directory : str, optional
        Folder of the ``memmap`` file (default :func:`tempfile.gettempdir`).
    block_size : int, optional
        Matrix-free: rows per recomputed block (default: 32 MiB of float64 per buffer).
    n_jobs : int, optional
        Threads of the build and the products (default: all cores).

    Returns
    -------
    KernelOperator

    Notes
    -----
    Cost of the build: dense64 / dense32 / memmap one kernel build (``n² d`` GEMM flops + the
    angle transform, :func:`~twolayer.kernels.arccos_kernel`; memmap writes ``4n²`` bytes to
    disk); matrix-free ``O(nd)``. Products: see the module docstring.
    """
    row, Xa, _, _ = _inputs(kind, X, None)
    n, d = Xa.shape
    if storage not in ("auto",) + STORAGES:
        raise InputError(f"storage must be one of auto, {', '.join(STORAGES)}, got {storage!r}")
    limit = _available_memory() if memory is None else int(memory)
    folder = directory or tempfile.gettempdir()
    est = {s: estimate_operator_memory(n, d, s, block_size=block_size, n_jobs=n_jobs) for s in STORAGES}
    chosen, reason = storage, "requested"
    if storage == "auto":
        ws = _krylov_workspace(n)
        if limit is None or est["dense64"] + ws <= limit:
            chosen, reason = "dense64", "the float64 matrix fits in memory"
        elif est["dense32"] + ws <= limit:
            chosen, reason = "dense32", (f"float64 needs {_fmt_bytes(est['dense64'] + ws)} > {_fmt_bytes(limit)}; "
                                         f"float32 fits")
        elif _disk_free(folder) >= 4 * n * n + 2**30:
            chosen, reason = "memmap", (f"float32 needs {_fmt_bytes(est['dense32'] + ws)} > {_fmt_bytes(limit)}; "
                                        f"{folder} has room for the {_fmt_bytes(4 * n * n)} file")
        else:
            chosen, reason = "matrix-free", (f"float32 needs {_fmt_bytes(est['dense32'] + ws)} > "
                                             f"{_fmt_bytes(limit)} and {folder} has no room for the file")
    choice = {"storage": chosen, "requested": storage, "reason": reason, "memory_limit": limit, "estimates": est}
    row_name = row.name
    Xn, norms = _normalize(Xa)
    s = (float(np.max(norms)) ** 2) ** row.degree
    build = (_SLOPE.get(row_name, 12.3) * (d + 3) + 8.0 * abs(float(row.diagonal))) * _U64 * s
    common = dict(n=n, kind=row_name, choice=choice, build_error=build, n_jobs=n_jobs)
    if chosen in ("dense64", "dense32"):
        dt = np.float64 if chosen == "dense64" else np.float32
        H = arccos_kernel(Xa, kind=row_name, dtype=dt, n_jobs=n_jobs, max_memory=memory)
        return KernelOperator(matrix=H, storage=chosen, unit_error=0.0 if chosen == "dense64" else _U32, **common)
    if chosen == "memmap":
        need = 4 * n * n
        free = _disk_free(folder)
        if free < need:
            raise InputError(f"the memory-mapped {n}x{n} float32 kernel needs {_fmt_bytes(need)} on disk but "
                             f"{folder} has {_fmt_bytes(free)}; pass directory= (--storage matrix-free needs no disk)")
        fd, path = tempfile.mkstemp(prefix="twolayer-kernel-", suffix=".f32", dir=folder)
        os.close(fd)
        try:
            mm = np.memmap(path, dtype=np.float32, mode="w+", shape=(n, n))
            arccos_kernel(Xa, kind=row_name, dtype=np.float32, out=mm, n_jobs=n_jobs)
            mm.flush()
        except BaseException:
            _remove(path)
            raise
        return KernelOperator(matrix=mm, storage="memmap", unit_error=_U32, path=path, **common)
    _check_scale(row, norms, norms)
    rows = _KernelRows(row, np.ascontiguousarray(Xn, dtype=np.float64), norms, _free_block(block_size, n))
    return KernelOperator(rows=rows, storage="matrix-free", diagonal=rows.diag, **common)


def _disk_free(folder: str) -> int:
    try:
        return int(shutil.disk_usage(folder).free)
    except OSError:
        return 0
