r"""The ReLU arc-cosine kernel family and its named special cases.

All kernels here are expectations over one Gaussian hidden unit ``w ~ N(0, I_d)`` of a bias-free
ReLU network ``σ(z) = max(z, 0)``. Write ``θ = ∠(x, z)``, ``c = cos θ`` and ``s = sin θ``. Then

.. math::

    κ_0(x, z) &= E[1\{w^T x ≥ 0\} 1\{w^T z ≥ 0\}] = \frac{π - θ}{2π}                         \\
    H^∞(x, z) &= (x^T z)\, κ_0(x, z) = ‖x‖‖z‖ \frac{c (π - θ)}{2π}
        \quad \text{(Arora et al. 2019, eq. 3: first-layer NTK)}                          \\
    κ_1(x, z) &= E[σ(w^T x) σ(w^T z)] = ‖x‖‖z‖ \frac{s + (π - θ) c}{2π}
        \quad \text{(random-feature / arc-cosine kernel of degree 1)}                      \\
    Θ(x, z)   &= κ_1(x, z) + H^∞(x, z)
        \quad \text{(NTK of } f = m^{-1/2} Σ_r a_r σ(w_r^T x) \text{ with both layers trained)}

so that ``κ_1 − H^∞ = ‖x‖‖z‖ s / (2π)`` and ``Θ = 2 H^∞ + ‖x‖‖z‖ s / (2π)``. The E–Ma–Wu kernel
with ``b`` uniform on the sphere is ``κ_1 / d``. On unit-norm inputs the diagonals are exactly
``κ_0 = H^∞ = κ_1 = 1/2`` and ``Θ = 1``.

Numerics
--------
The bulk of the angles is computed from the GEMM cosine with ``π − θ = π/2 + arcsin c`` (SIMD
``arcsin``, ~1–2 ns per entry here). Near ``c = ±1`` the angle of a rounded cosine is
ill-conditioned (``δθ ≈ δc / sin θ``; ``arccos(1 − 1e-16) ≈ 1.5e-8``), so every pair with
``1 − |c| < 1e-4`` is recomputed from the explicit differences, ``θ = 2·atan2(‖x̂ − ẑ‖, ‖x̂ + ẑ‖)``,
which is accurate to a few ulps for any angle; the diagonal of a kernel of one data set with
itself is set exactly. Off-diagonal entries agree with an extended-precision evaluation to ~1e-15.

Cost: one GEMM (``2 n n_z d`` flops; ``n² d`` for a symmetric kernel, which uses SYRK) plus a
few elementwise passes over the ``n × n_z`` result, done in row blocks of ``block_size`` rows on
``n_jobs`` threads (numpy releases the GIL in ufunc loops). Extra memory beyond the result:
``n_jobs · 2 · block_size · n_z`` float64 plus the normalized copies of ``X`` and ``Z``.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ._errors import InputError
from ._validation import as_data_matrix, row_norms, unit_normalize

__all__ = [
    "KERNELS",
    "kappa0_cos",
    "first_layer_ntk_cos",
    "random_features_cos",
    "two_layer_ntk_cos",
    "arccos_kernel",
    "first_layer_ntk",
    "random_features_kernel",
    "two_layer_ntk",
    "gram",
    "empirical_gram",
    "MemoryEstimate",
    "estimate_kernel_memory",
]

_TWO_PI = 2.0 * np.pi
#: Pairs with ``1 - |cos| < _NEAR_PARALLEL`` get their angle recomputed from explicit differences.
_NEAR_PARALLEL = 1e-4
#: Default size of one row block, in bytes: small enough that the elementwise passes over a block
#: run from cache (measured: 16–32 rows × 10,000 columns is ~2.5× faster than 800 rows).
_BLOCK_BYTES = 2 * 2**20

#: The named members of the family. ``homogeneous`` says whether the value scales with ‖x‖‖z‖.
KERNELS = {
    "kappa0": "E[1{w.x>=0} 1{w.z>=0}] = (pi - theta)/(2 pi); scale invariant",
    "first-layer": "Arora et al. H-infinity (eq. 3): x.z (pi - theta)/(2 pi)",
    "random-features": "arc-cosine kernel of degree 1: |x||z| (sin theta + (pi - theta) cos theta)/(2 pi)",
    "two-layer": "NTK with both layers trained: random-features + first-layer",
}


def _check_kind(kind: str) -> str:
    if kind not in KERNELS:
        raise InputError(f"unknown kernel kind {kind!r}; choose one of {', '.join(KERNELS)}")
    return kind


# ---------------------------------------------------------------------------------------------
# Scalar forms (functions of the cosine, unit-norm inputs)
# ---------------------------------------------------------------------------------------------
def _from_angle(kind: str, c, pmt, s):
    """Kernel value on unit vectors from ``c = cos θ``, ``pmt = π − θ`` and ``s = sin θ``."""
    if kind == "kappa0":
        return pmt / _TWO_PI
    if kind == "first-layer":
        return c * pmt / _TWO_PI
    if kind == "random-features":
        return (s + c * pmt) / _TWO_PI
    return (s + 2.0 * c * pmt) / _TWO_PI  # two-layer


def _scalar(kind: str, cos):
    c = np.clip(np.asarray(cos, dtype=np.float64), -1.0, 1.0)
    return _from_angle(kind, c, np.pi / 2 + np.arcsin(c), np.sqrt(np.maximum(0.0, 1.0 - c * c)))


def kappa0_cos(cos):
    r"""``κ_0 = (π − arccos c)/(2π)``, the probability that two unit inputs are both active."""
    return _scalar("kappa0", cos)


def first_layer_ntk_cos(cos):
    r"""Arora et al. (2019) eq. 3 on unit inputs: ``H^∞ = c (π − arccos c) / (2π)``.

    Parameters
    ----------
    cos : array_like
        Cosines ``x_i^T x_j`` of unit vectors, any shape; values are clipped to ``[-1, 1]``.
    """
    return _scalar("first-layer", cos)


def random_features_cos(cos):
    r"""Degree-1 arc-cosine kernel on unit inputs: ``(√(1−c²) + c(π − arccos c)) / (2π)``."""
    return _scalar("random-features", cos)


def two_layer_ntk_cos(cos):
    r"""Both-layer NTK on unit inputs: ``random_features_cos(c) + first_layer_ntk_cos(c)``."""
    return _scalar("two-layer", cos)


# ---------------------------------------------------------------------------------------------
# Matrix forms
# ---------------------------------------------------------------------------------------------
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


def _normalize(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows and their norms; rows already unit to within rounding (4 ulp) count as unit,
    so that the kernels of unit-norm data have exact diagonals (1/2) with no rescaling."""
    norms = row_norms(A)
    if np.all(np.abs(norms - 1.0) <= 4 * np.finfo(np.float64).eps):
        return A, np.ones_like(norms)
    return unit_normalize(A), norms


#: Row panels of the self Gram: one GEMM per panel against the rows from the panel on.
GRAM_PANEL_ROWS = 4096


def gram_upper_tiles(A: np.ndarray, out: np.ndarray, panel: int = GRAM_PANEL_ROWS) -> np.ndarray:
    """``out = A Aᵀ`` (``A`` (n, d), ``out`` (n, n) C-contiguous) by GEMMs on the upper block
    triangle and a mirror, never one large SYRK.

    OpenBLAS's multithreaded DSYRK crashes (SIGSEGV) from n ≈ 15,000 at d = 784 on some CPUs
    (its SkylakeX kernels on AMD processors), so for n > ``panel`` the product is built one row
    panel ``P = A[i:i+b]`` at a time as ``out[i:i+b, i:] = P A[i:]ᵀ`` (a GEMM of the same
    n²d/2-flop total as SYRK), then the strict lower triangle is copied from the upper one. The
    result is exactly symmetric. Below ``panel`` rows one ``np.dot`` (SYRK) does it all.
    Extra memory: one ``b × n`` panel buffer when the slice is not contiguous.
    """
    n = A.shape[0]
    if n <= panel:
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


def _check_scale(kind: str, xnorm: np.ndarray, znorm: np.ndarray) -> None:
    """The kernels scale as ``‖x‖‖z‖``: refuse, with the fix, norms whose products leave float64."""
    if kind == "kappa0":
        return
    hi = float(np.max(xnorm)) * float(np.max(znorm))
    lo = float(np.min(xnorm)) * float(np.min(znorm))
    if not np.isfinite(hi) or hi > np.finfo(np.float64).max:
        raise InputError(f"kernel values overflow float64: rows have norms up to {max(np.max(xnorm), np.max(znorm)):.3g} "
                         f"and the kernel scales with ||x|| ||z||; rescale the inputs (e.g. "
                         f"twolayer.data.unit_normalize(X), as the theory assumes unit norm)")
    if lo < np.finfo(np.float64).tiny:  # below the normal range: the entries would lose their digits
        raise InputError(f"kernel values underflow float64: rows have norms down to {min(np.min(xnorm), np.min(znorm)):.3g} "
                         f"and the kernel scales with ||x|| ||z||; rescale the inputs (e.g. "
                         f"twolayer.data.unit_normalize(X), as the theory assumes unit norm)")


def _transform_block(kind: str, C: np.ndarray, work: np.ndarray, work2: np.ndarray) -> None:
    """Overwrite the cosine block ``C`` by the unit-norm kernel values, in place."""
    np.clip(C, -1.0, 1.0, out=C)
    pmt = np.arcsin(C, out=work)
    pmt += np.pi / 2
    if kind == "kappa0":
        np.multiply(pmt, 1.0 / _TWO_PI, out=C)
        return
    if kind == "first-layer":
        C *= pmt
        C *= 1.0 / _TWO_PI
        return
    s = np.multiply(C, C, out=work2)
    np.subtract(1.0, s, out=s)
    np.maximum(s, 0.0, out=s)
    np.sqrt(s, out=s)
    C *= pmt
    if kind == "two-layer":
        C *= 2.0
    C += s
    C *= 1.0 / _TWO_PI


def _near_parallel_pairs(C: np.ndarray, row0: int, self_kernel: bool):
    """Indices ``(local_row, col)`` of block entries with ``1 − |cos| < _NEAR_PARALLEL``.

    For a self kernel the block's diagonal entries are zeroed first (they are set exactly
    afterwards), so the common case — no near-parallel pair — costs one max/min pass.
    """
    if self_kernel:
        k = np.arange(C.shape[0])
        C[k, k + row0] = 0.0
    thr = 1.0 - _NEAR_PARALLEL
    if C.max() <= thr and C.min() >= -thr:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty
    return np.nonzero(np.abs(C) > thr)


def _fix_near_parallel(kind: str, K: np.ndarray, i: np.ndarray, j: np.ndarray, row0: int,
                       Xn: np.ndarray, Zn: np.ndarray) -> None:
    """Recompute block entries ``K[i, j]`` from explicit differences: ``θ = 2 atan2(‖x−z‖, ‖x+z‖)``."""
    for lo in range(0, i.size, 65536):  # chunked so the difference vectors stay small
        r, b = i[lo:lo + 65536], j[lo:lo + 65536]
        xa, zb = Xn[r + row0], Zn[b]
        diff, summ = xa - zb, xa + zb
        theta = 2.0 * np.arctan2(np.sqrt(np.einsum("ij,ij->i", diff, diff)),
                                 np.sqrt(np.einsum("ij,ij->i", summ, summ)))
        K[r, b] = _from_angle(kind, np.cos(theta), np.pi - theta, np.sin(theta))


def arccos_kernel(X, Z=None, *, kind: str = "first-layer", block_size: int | None = None,
                  n_jobs: int | None = None, out: np.ndarray | None = None,
                  max_memory: int | None = None) -> np.ndarray:
    r"""Evaluate a member of the ReLU arc-cosine family between the rows of ``X`` and ``Z``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs (any non-zero rows; the theory of Arora et al. assumes unit norm).
    Z : array_like, shape (n_z, d), optional
        Second set of inputs (e.g. test points). ``None`` means ``Z = X``: the result is then
        exactly symmetric with an exact diagonal.
    kind : {"first-layer", "random-features", "two-layer", "kappa0"}
        Which member; see the module docstring for the formulas.
    block_size : int, optional
        Rows per elementwise block; bounds the workspace (default: about 2 MiB per block, so the
        passes over a block run from cache).
    n_jobs : int, optional
        Threads for the elementwise passes (default: all cores).
    out : ndarray, shape (n, n_z), float64, C-contiguous, optional
        Preallocated result (e.g. a ``np.memmap``); filled in place and returned.
    max_memory : int, optional
        Refuse (with :class:`~twolayer.InputError`) to start a build needing more bytes than
        this; default: the machine's currently available memory.

    Returns
    -------
    K : ndarray, shape (n, n_z), float64

    Notes
    -----
    Cost: one GEMM of ``(n × d)·(d × n_z)`` and ``O(n n_z)`` elementwise work.
    """
    _check_kind(kind)
    Xa = as_data_matrix(X, "X")
    self_kernel = Z is None
    Za = Xa if self_kernel else as_data_matrix(Z, "Z")
    if Za.shape[1] != Xa.shape[1]:
        raise InputError(f"X has {Xa.shape[1]} features but Z has {Za.shape[1]}; both must have the same d")
    n, nz = Xa.shape[0], Za.shape[0]
    jobs = _resolve_jobs(n_jobs)
    block = _resolve_block(block_size, n, nz, jobs)
    if out is None:
        est = estimate_kernel_memory(n, nz, Xa.shape[1], block_size=block, n_jobs=jobs)
        limit = _available_memory() if max_memory is None else max_memory
        if limit is not None and est.total > limit:
            raise InputError(f"a {n}x{nz} kernel needs {est} but only {_fmt_bytes(limit)} is available; "
                             f"use fewer points, a smaller block_size, or pass out=np.memmap(...)")
        out = np.empty((n, nz), dtype=np.float64)
    elif out.shape != (n, nz) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise InputError(f"out must be a C-contiguous float64 array of shape {(n, nz)}, got "
                         f"{out.dtype} {out.shape}")

    Xn, xnorm = _normalize(Xa)
    Zn, znorm = (Xn, xnorm) if self_kernel else _normalize(Za)
    _check_scale(kind, xnorm, znorm)
    if self_kernel:
        gram_upper_tiles(Xn, out)
    else:
        np.dot(Xn, Zn.T, out=out)
    scaled = kind != "kappa0" and not (np.all(xnorm == 1.0) and np.all(znorm == 1.0))

    def work(start: int) -> None:
        rows = slice(start, min(n, start + block))
        C = out[rows]
        w1 = np.empty_like(C)
        w2 = np.empty_like(C) if kind in ("random-features", "two-layer") else w1
        i, j = _near_parallel_pairs(C, start, self_kernel)
        _transform_block(kind, C, w1, w2)
        if i.size:
            _fix_near_parallel(kind, C, i, j, start, Xn, Zn)
        if scaled:  # one product a_i b_j per entry keeps a self kernel exactly symmetric
            np.multiply(xnorm[rows, None], znorm[None, :], out=w1)
            C *= w1

    starts = range(0, n, block)
    if jobs == 1 or len(starts) == 1:
        for s0 in starts:
            work(s0)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(work, starts))

    if self_kernel:
        diag = {"kappa0": 0.5, "first-layer": 0.5, "random-features": 0.5, "two-layer": 1.0}[kind]
        np.fill_diagonal(out, diag * xnorm * xnorm if scaled else diag)
    return out


def first_layer_ntk(X, Z=None, **kw) -> np.ndarray:
    r"""Arora et al. (2019) eq. 3, the Gram matrix of the first-layer NTK.

    .. math:: H^∞_{ij} = E_{w∼N(0,I)}[x_i^T z_j 1\{w^T x_i ≥ 0, w^T z_j ≥ 0\}]
                       = x_i^T z_j (π − \arccos(\hat x_i^T \hat z_j)) / (2π)

    Shapes: ``X`` (n, d), ``Z`` (n_z, d) or None → ``(n, n_z)`` (``(n, n)``). On unit-norm
    ``X`` the diagonal is exactly 1/2, so ``tr H^∞ = n/2``. Keyword arguments as in
    :func:`arccos_kernel`.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> first_layer_ntk(X)
    array([[0.5, 0. ],
           [0. , 0.5]])
    """
    return arccos_kernel(X, Z, kind="first-layer", **kw)


def random_features_kernel(X, Z=None, **kw) -> np.ndarray:
    r"""``κ_1(x, z) = E[σ(w^T x) σ(w^T z)]``, the arc-cosine kernel of degree 1 (Cho & Saul 2009).

    This is the kernel of the random-feature model (only the second layer trained). For E–Ma–Wu
    (``b`` uniform on the sphere) divide by ``d``. Shapes as in :func:`first_layer_ntk`.
    """
    return arccos_kernel(X, Z, kind="random-features", **kw)


def two_layer_ntk(X, Z=None, **kw) -> np.ndarray:
    r"""NTK of ``f = m^{-1/2} Σ_r a_r σ(w_r^T x)`` with both layers trained: ``κ_1 + H^∞``.

    Shapes as in :func:`first_layer_ntk`; the diagonal on unit-norm inputs is exactly 1.
    """
    return arccos_kernel(X, Z, kind="two-layer", **kw)


def gram(X, Z=None, *, kind: str = "first-layer", **kw) -> np.ndarray:
    """Alias of :func:`arccos_kernel` with the kind as keyword (the CLI's ``--kind``)."""
    return arccos_kernel(X, Z, kind=kind, **kw)


# ---------------------------------------------------------------------------------------------
# Finite width
# ---------------------------------------------------------------------------------------------
def empirical_gram(X, W, a=None, *, layers: str = "first", Z=None, scale: float | None = None) -> np.ndarray:
    r"""Gram matrix of a finite two-layer ReLU network from its activation pattern (no autodiff).

    For ``f(x) = m^{-1/2} Σ_r a_r σ(w_r^T x)`` the tangent kernel is

    .. math::
        H_{ij}(W) = \frac{x_i^T z_j}{m} Σ_r a_r^2 1\{w_r^T x_i ≥ 0\} 1\{w_r^T z_j ≥ 0\}
        \quad\text{(first layer; Arora et al. §3, } H = Z^T Z)

    and the second-layer part is ``(1/m) Σ_r σ(w_r^T x_i) σ(w_r^T z_j)``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    W : array_like, shape (m, d)
        First-layer weights, one row per hidden unit.
    a : array_like, shape (m,), optional
        Second-layer weights (default all ones, i.e. ``a_r = ±1``).
    layers : {"first", "second", "both"}
        Which parameters the kernel is taken over: ``first`` → H(W) of Arora et al.,
        ``second`` → random-feature kernel, ``both`` → their sum.
    Z : array_like, shape (n_z, d), optional
        Second set of inputs (default ``X``).
    scale : float, optional
        Overall factor (default ``1/m``, the ``m^{-1/2}`` parameterization; use ``1`` for
        E–Ma–Wu's unnormalized network).

    Returns
    -------
    ndarray, shape (n, n_z)

    Notes
    -----
    Cost: ``O((n + n_z) m d + n n_z m)`` flops, memory ``O((n + n_z) m)``. With ``W(0)`` drawn
    from ``N(0, I)`` the expectation of ``layers="first"`` is :func:`first_layer_ntk` and of
    ``layers="second"`` is :func:`random_features_kernel`; entries concentrate like ``m^{-1/2}``.
    """
    if layers not in ("first", "second", "both"):
        raise InputError(f"layers must be 'first', 'second' or 'both', got {layers!r}")
    Xa = as_data_matrix(X, "X", allow_zero_rows=True)
    Wa = as_data_matrix(W, "W", allow_zero_rows=True)
    Za = Xa if Z is None else as_data_matrix(Z, "Z", allow_zero_rows=True)
    if Wa.shape[1] != Xa.shape[1] or Za.shape[1] != Xa.shape[1]:
        raise InputError(f"feature dimensions differ: X has {Xa.shape[1]}, W has {Wa.shape[1]}, "
                         f"Z has {Za.shape[1]}; W must be (m, d)")
    m = Wa.shape[0]
    a2 = np.ones(m) if a is None else np.asarray(a, dtype=np.float64).reshape(-1) ** 2
    if a2.shape[0] != m:
        raise InputError(f"a has {a2.shape[0]} entries but W has {m} rows; pass one a_r per hidden unit")
    scale = 1.0 / m if scale is None else float(scale)
    PX = Xa @ Wa.T
    PZ = PX if Z is None else Za @ Wa.T
    K = np.zeros((Xa.shape[0], Za.shape[0]))
    if layers in ("first", "both"):
        AX = (PX >= 0).astype(np.float64)
        AZ = AX if Z is None else (PZ >= 0).astype(np.float64)
        K += (AX * a2) @ AZ.T * (Xa @ Za.T)
    if layers in ("second", "both"):
        K += np.maximum(PX, 0.0) @ np.maximum(PZ, 0.0).T
    K *= scale
    return K
