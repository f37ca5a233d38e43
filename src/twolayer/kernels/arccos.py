r"""The ReLU arc-cosine kernel family: one table of its named members and the blocked builder.

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

The table
---------
:data:`KERNELS` maps each member's name to one :class:`ArccosMember` row: its value on unit
vectors as a function of the angle, its exact diagonal, its homogeneity degree in ``‖x‖‖z‖``,
aliases and a one-line description with its source. :func:`arccos_kernel` (and :func:`gram`,
the CLI's ``--kind``, :class:`~twolayer.estimators.KernelRegressor`) accept every row, so a new
member is one more entry ``KERNELS[row.name] = row``.

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

float32 storage (``dtype=np.float32``) halves the result: the kernel is built in square tiles
(:func:`~twolayer.kernels._blocks.tiled_build`; only the upper block triangle of a symmetric
kernel), each computed in float64 and rounded once (default; error ``≤ 2^-24 |K|`` plus the
float64 build's ≈ 1e-15) or, with ``compute_dtype=np.float32``, by a float32 GEMM (about half
the GEMM time; error bound in :func:`arccos_kernel`). Extra memory: one 1024² tile and its row
blocks (≈ 17 MiB), independent of ``n``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._errors import InputError
from .._validation import as_data_matrix, row_norms, unit_normalize
from ._blocks import (_available_memory, _fmt_bytes, _resolve_block, _resolve_jobs, _storage_dtypes,
                      estimate_kernel_memory, gram_upper_tiles, tiled_build)

__all__ = [
    "ArccosMember",
    "KERNELS",
    "network_kernel_kinds",
    "kappa0_cos",
    "first_layer_ntk_cos",
    "random_features_cos",
    "two_layer_ntk_cos",
    "arccos_kernel",
    "first_layer_ntk",
    "random_features_kernel",
    "two_layer_ntk",
    "gram",
]

_TWO_PI = 2.0 * np.pi
#: Pairs with ``1 - |cos| < _NEAR_PARALLEL`` get their angle recomputed from explicit differences.
_NEAR_PARALLEL = 1e-4


# ---------------------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArccosMember:
    """One member of the arc-cosine family: a row of :data:`KERNELS`.

    Attributes
    ----------
    name : str
        The ``kind`` that selects it (``arccos_kernel(X, kind=name)``).
    value : callable ``(c, pmt, s) -> array``
        The kernel on unit vectors from ``c = cos θ``, ``pmt = π − θ`` and ``s = sin θ``
        (arrays of one shape); used by the scalar forms, the near-parallel correction and, unless
        ``inplace`` is given, by the blocked builder.
    diagonal : float
        Its exact value at ``θ = 0`` on unit-norm inputs (``value(1, π, 0)`` up to rounding);
        the builder sets the diagonal of a self kernel to it.
    description : str
        One line: the formula and where it comes from (paper and equation).
    aliases : tuple of str
        Other names accepted for ``kind``.
    degree : int
        Homogeneity: the kernel of ``x, z`` is ``(‖x‖‖z‖)^degree`` times its unit-norm value
        (0: scale invariant).
    network : str or None
        The two-layer network whose infinite-width kernel this is (which layers are trained), or
        None for a building block that is no network's kernel; the CLI's ``--kind`` and
        :class:`~twolayer.estimators.KernelRegressor` offer the members with a network.
    uses_sin : bool
        Whether ``value`` needs ``s`` (else the builder skips computing it).
    inplace : callable ``(C, pmt, s) -> None``, optional
        A faster in-place form for the builder: overwrite the clipped cosines ``C`` by the
        values, given ``pmt`` (and ``s`` when ``uses_sin``); must agree with ``value`` to rounding.
    """

    name: str
    value: Callable
    diagonal: float
    description: str
    aliases: tuple = ()
    degree: int = 1
    network: str | None = None
    uses_sin: bool = True
    inplace: Callable | None = None

    def __call__(self, cos):
        """The kernel on unit vectors as a function of the cosine (any shape; clipped to ``[-1, 1]``)."""
        c = np.clip(np.asarray(cos, dtype=np.float64), -1.0, 1.0)
        return self.value(c, np.pi / 2 + np.arcsin(c), np.sqrt(np.maximum(0.0, 1.0 - c * c)))


def _kappa0_inplace(C, pmt, s):
    np.multiply(pmt, 1.0 / _TWO_PI, out=C)


def _first_layer_inplace(C, pmt, s):
    C *= pmt
    C *= 1.0 / _TWO_PI


def _random_features_inplace(C, pmt, s):
    C *= pmt
    C += s
    C *= 1.0 / _TWO_PI


def _two_layer_inplace(C, pmt, s):
    C *= pmt
    C *= 2.0
    C += s
    C *= 1.0 / _TWO_PI


#: The named members of the family, name -> :class:`ArccosMember` (a new member is one row).
KERNELS: dict[str, ArccosMember] = {row.name: row for row in (
    ArccosMember("kappa0", lambda c, pmt, s: pmt / _TWO_PI, 0.5,
                 "arc-cosine kernel of degree 0 (Cho & Saul 2009): E[1{w.x>=0} 1{w.z>=0}] = (pi - theta)/(2 pi); "
                 "scale invariant", aliases=("arccos0",), degree=0, uses_sin=False, inplace=_kappa0_inplace),
    ArccosMember("first-layer", lambda c, pmt, s: c * pmt / _TWO_PI, 0.5,
                 "first-layer NTK H-infinity, Arora et al. 2019 eq. (3): x.z (pi - theta)/(2 pi)",
                 aliases=("h-infinity",), network="first layer trained (Arora et al. 2019)", uses_sin=False,
                 inplace=_first_layer_inplace),
    ArccosMember("random-features", lambda c, pmt, s: (s + c * pmt) / _TWO_PI, 0.5,
                 "arc-cosine kernel of degree 1 (Cho & Saul 2009): |x||z| (sin theta + (pi - theta) cos theta)/(2 pi); "
                 "E-Ma-Wu 2019's kernel is this over d", aliases=("arccos1",),
                 network="second layer trained (random features; E, Ma, Wu 2019)", inplace=_random_features_inplace),
    ArccosMember("two-layer", lambda c, pmt, s: (s + 2.0 * c * pmt) / _TWO_PI, 1.0,
                 "NTK with both layers trained: random-features + first-layer", aliases=("ntk",),
                 network="both layers trained", inplace=_two_layer_inplace),
)}


def _member(kind: str) -> ArccosMember:
    row = KERNELS.get(kind) if isinstance(kind, str) else None
    if row is None and isinstance(kind, str):
        row = next((r for r in KERNELS.values() if kind in r.aliases), None)
    if row is None:
        raise InputError(f"unknown kernel kind {kind!r}; choose one of {', '.join(KERNELS)}")
    return row


def _check_kind(kind: str) -> str:
    return _member(kind).name


def network_kernel_kinds() -> tuple[str, ...]:
    """Names of the members that are a two-layer network's kernel (``network`` set), in table order:
    the choices of the CLI's ``--kind`` and of :class:`~twolayer.estimators.KernelRegressor`."""
    return tuple(name for name, row in KERNELS.items() if row.network)


# ---------------------------------------------------------------------------------------------
# Scalar forms (functions of the cosine, unit-norm inputs)
# ---------------------------------------------------------------------------------------------
def _from_angle(kind: str, c, pmt, s):
    """Kernel value on unit vectors from ``c = cos θ``, ``pmt = π − θ`` and ``s = sin θ``."""
    return _member(kind).value(c, pmt, s)


def _scalar(kind: str, cos):
    return _member(kind)(cos)


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
def _normalize(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit rows and their norms; rows already unit to within rounding (4 ulp) count as unit,
    so that the kernels of unit-norm data have exact diagonals (1/2) with no rescaling."""
    norms = row_norms(A)
    if np.all(np.abs(norms - 1.0) <= 4 * np.finfo(np.float64).eps):
        return A, np.ones_like(norms)
    return unit_normalize(A), norms


def _check_scale(row: ArccosMember, xnorm: np.ndarray, znorm: np.ndarray, dtype=np.float64) -> None:
    """The kernels scale as ``(‖x‖‖z‖)^degree``: refuse, with the fix, norms whose products leave
    the range of the result's ``dtype`` (float64 or float32)."""
    if row.degree == 0:
        return
    info = np.finfo(dtype)
    name = info.dtype.name
    big, tiny = float(info.max), float(info.tiny)  # python floats: no cast warnings in the comparisons
    hi = (float(np.max(xnorm)) * float(np.max(znorm))) ** row.degree
    lo = (float(np.min(xnorm)) * float(np.min(znorm))) ** row.degree
    scaling = "||x|| ||z||" if row.degree == 1 else f"(||x|| ||z||)^{row.degree}"
    if not np.isfinite(hi) or hi > big:
        raise InputError(f"kernel values overflow {name}: rows have norms up to {max(np.max(xnorm), np.max(znorm)):.3g} "
                         f"and the kernel scales with {scaling}; rescale the inputs (e.g. "
                         f"twolayer.data.unit_normalize(X), as the theory assumes unit norm)")
    if lo < tiny:  # below the normal range: the entries would lose their digits
        raise InputError(f"kernel values underflow {name}: rows have norms down to {min(np.min(xnorm), np.min(znorm)):.3g} "
                         f"and the kernel scales with {scaling}; rescale the inputs (e.g. "
                         f"twolayer.data.unit_normalize(X), as the theory assumes unit norm)")


def _transform_block(row: ArccosMember, C: np.ndarray, work: np.ndarray, work2: np.ndarray) -> None:
    """Overwrite the cosine block ``C`` by the unit-norm kernel values, in place."""
    np.clip(C, -1.0, 1.0, out=C)
    pmt = np.arcsin(C, out=work)
    pmt += np.pi / 2
    s = None
    if row.uses_sin:
        s = np.multiply(C, C, out=work2)
        np.subtract(1.0, s, out=s)
        np.maximum(s, 0.0, out=s)
        np.sqrt(s, out=s)
    if row.inplace is not None:
        row.inplace(C, pmt, s)
    else:
        C[...] = row.value(C, pmt, s)


def _near_parallel_pairs(C: np.ndarray, row0: int, self_kernel: bool, col0: int = 0):
    """Indices ``(local_row, local_col)`` of block entries with ``1 − |cos| < _NEAR_PARALLEL``.

    ``C`` holds rows ``row0…`` and columns ``col0…`` of the cosine matrix. For a self kernel the
    block's diagonal entries are zeroed first (they are set exactly afterwards), so the common
    case — no near-parallel pair — costs one max/min pass.
    """
    if self_kernel:
        k = np.arange(C.shape[0])
        cols = k + (row0 - col0)
        if col0:
            keep = (cols >= 0) & (cols < C.shape[1])
            k, cols = k[keep], cols[keep]
        C[k, cols] = 0.0
    thr = 1.0 - _NEAR_PARALLEL
    if C.max() <= thr and C.min() >= -thr:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty
    return np.nonzero(np.abs(C) > thr)


def _fix_near_parallel(row: ArccosMember, K: np.ndarray, i: np.ndarray, j: np.ndarray, row0: int,
                       Xn: np.ndarray, Zn: np.ndarray, col0: int = 0) -> None:
    """Recompute block entries ``K[i, j]`` from explicit differences: ``θ = 2 atan2(‖x−z‖, ‖x+z‖)``
    (in float64 from the float64 unit rows ``Xn``, ``Zn``, whatever the block's dtype)."""
    for lo in range(0, i.size, 65536):  # chunked so the difference vectors stay small
        r, b = i[lo:lo + 65536], j[lo:lo + 65536]
        xa, zb = Xn[r + row0], Zn[b + col0] if col0 else Zn[b]
        diff, summ = xa - zb, xa + zb
        theta = 2.0 * np.arctan2(np.sqrt(np.einsum("ij,ij->i", diff, diff)),
                                 np.sqrt(np.einsum("ij,ij->i", summ, summ)))
        K[r, b] = row.value(np.cos(theta), np.pi - theta, np.sin(theta))


def arccos_kernel(X, Z=None, *, kind: str = "first-layer", block_size: int | None = None,
                  n_jobs: int | None = None, out: np.ndarray | None = None,
                  max_memory: int | None = None, dtype=None, compute_dtype=None) -> np.ndarray:
    r"""Evaluate a member of the ReLU arc-cosine family between the rows of ``X`` and ``Z``.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs (any non-zero rows; the theory of Arora et al. assumes unit norm).
    Z : array_like, shape (n_z, d), optional
        Second set of inputs (e.g. test points). ``None`` means ``Z = X``: the result is then
        exactly symmetric with an exact diagonal.
    kind : str
        Which member: a name or alias of a row of :data:`KERNELS` (``"first-layer"``,
        ``"random-features"``, ``"two-layer"``, ``"kappa0"``); see the module docstring for the formulas.
    block_size : int, optional
        Rows per elementwise block; bounds the workspace (default: about 2 MiB per block, so the
        passes over a block run from cache).
    n_jobs : int, optional
        Threads for the elementwise passes (default: all cores).
    out : ndarray, shape (n, n_z), float64 or float32, C-contiguous, optional
        Preallocated result (e.g. a ``np.memmap``); filled in place and returned. Its dtype is
        the storage dtype unless ``dtype`` says otherwise (then they must agree).
    max_memory : int, optional
        Refuse (with :class:`~twolayer.InputError`) to start a build needing more bytes than
        this (:func:`~twolayer.kernels.estimate_kernel_memory` of the same dtypes); default: the
        machine's currently available memory.
    dtype : {None, float64, float32}
        Storage of the result (default float64; ``out``'s dtype if given). float32 halves the
        memory (n = 60,000: 13.4 GiB instead of 26.8 GiB).
    compute_dtype : {None, float64, float32}
        Precision of the GEMM and the angle evaluation of a float32 result (default float64:
        each tile is computed in float64 and rounded once; float32: one float32 GEMM, about
        half the time). A float64 result is always computed in float64.

    Returns
    -------
    K : ndarray, shape (n, n_z), float64 (or float32)

    Notes
    -----
    Cost: one GEMM of ``(n × d)·(d × n_z)`` and ``O(n n_z)`` elementwise work.

    Error of float32 storage (``u = 2^-24``; for unit-norm rows, the kernel of other rows is
    ``(‖x‖‖z‖)^degree`` times it). With ``compute_dtype`` float64 (the default) every entry is the
    float64 value rounded to nearest once: ``|K32_ij − K_ij| ≤ u |K_ij| + ε64``, where ``ε64``
    (≈ 1e-15) is the float64 build's own error — the GEMM cosine's rounding amplified by the
    angle's conditioning ``1/sin θ``, which blows up near ``x = ±z``; pairs with
    ``1 − |cos θ| < 10⁻⁴`` are therefore recomputed from explicit differences. Diagonals are exact
    (``1/2``, ``1``) and the matrix exactly symmetric. With ``compute_dtype`` float32 the cosine of
    a float32 GEMM of rounded unit rows carries ``|δc| ≤ (d + 2) u`` (worst case; ≈ ``√d u``
    typically) and ``|δK| ≤ L (d + 3) u + 8 u |K|`` with ``L = max |dK/dc|`` over
    ``|c| ≤ 1 − 10⁻⁴`` (the ``1/(2π sin θ)`` terms at ``sin θ ≥ 0.0141``: 11.8 for
    ``first-layer``, 12.3 for ``two-layer``, 11.3 for ``kappa0``, 0.5 for ``random-features``);
    near-parallel pairs are still recomputed in float64. Measured at n = 4,000, d = 784 (random
    unit rows, H∞): float64 compute max ``|δK|/|K|`` = 1.0 u; float32 compute max ``|δK|``
    = 3.8e-8, rms 3.2e-9 (the worst-case bound: 5.5e-4).
    """
    row, Xa, Za, self_kernel = _inputs(kind, X, Z)
    n, nz = Xa.shape[0], Za.shape[0]
    if dtype is None and out is not None and getattr(out, "dtype", None) == np.float32:
        dtype = np.float32
    store, comp = _storage_dtypes(dtype, compute_dtype)
    if store == np.dtype(np.float32):
        return _arccos_float32(row, Xa, Za, self_kernel, comp, block_size, n_jobs, out, max_memory)
    jobs = _resolve_jobs(n_jobs)
    block = _resolve_block(block_size, n, nz, jobs)
    out = _output(out, n, nz, np.float64, max_memory, lambda: estimate_kernel_memory(
        n, nz, Xa.shape[1], block_size=block, n_jobs=jobs), "a smaller block_size, ")

    Xn, xnorm = _normalize(Xa)
    Zn, znorm = (Xn, xnorm) if self_kernel else _normalize(Za)
    _check_scale(row, xnorm, znorm)
    if self_kernel:
        gram_upper_tiles(Xn, out)
    else:
        np.dot(Xn, Zn.T, out=out)
    scaled = row.degree != 0 and not (np.all(xnorm == 1.0) and np.all(znorm == 1.0))

    def work(start: int) -> None:
        rows = slice(start, min(n, start + block))
        C = out[rows]
        w1 = np.empty_like(C)
        w2 = np.empty_like(C) if row.uses_sin else w1
        i, j = _near_parallel_pairs(C, start, self_kernel)
        _transform_block(row, C, w1, w2)
        if i.size:
            _fix_near_parallel(row, C, i, j, start, Xn, Zn)
        if scaled:  # one product a_i b_j per entry keeps a self kernel exactly symmetric
            np.multiply(xnorm[rows, None], znorm[None, :], out=w1)
            if row.degree != 1:
                np.power(w1, row.degree, out=w1)
            C *= w1

    starts = range(0, n, block)
    if jobs == 1 or len(starts) == 1:
        for s0 in starts:
            work(s0)
    else:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            list(pool.map(work, starts))

    if self_kernel:
        _set_exact_diagonal(out, row, xnorm, scaled)
    return out


def _set_exact_diagonal(out: np.ndarray, row: ArccosMember, xnorm: np.ndarray, scaled: bool) -> None:
    """The exact diagonal of a self-kernel: the member's value at ``x = z`` times ``‖x‖^{2·degree}``."""
    diag = row.diagonal
    if scaled:
        for _ in range(row.degree):
            diag = diag * xnorm * xnorm
    np.fill_diagonal(out, diag)


def _inputs(kind: str, X, Z):
    """``(member, X, Z, self_kernel)`` of a kernel call, checked (also used by the torch build)."""
    row = _member(kind)
    Xa = as_data_matrix(X, "X")
    self_kernel = Z is None
    Za = Xa if self_kernel else as_data_matrix(Z, "Z")
    if Za.shape[1] != Xa.shape[1]:
        raise InputError(f"X has {Xa.shape[1]} features but Z has {Za.shape[1]}; both must have the same d")
    return row, Xa, Za, self_kernel


def _output(out, n: int, nz: int, dtype, max_memory, estimate, hint: str) -> np.ndarray:
    """``out`` checked, or a new (n, nz) array of ``dtype`` once the memory ``estimate()`` fits."""
    dt = np.dtype(dtype)
    if out is None:
        est = estimate()
        limit = _available_memory() if max_memory is None else max_memory
        if limit is not None and est.total > limit:
            what = "" if dt == np.float64 else f"{dt.name} "
            raise InputError(f"a {n}x{nz} {what}kernel needs {est} but only {_fmt_bytes(limit)} is available; "
                             f"use fewer points, {hint}or pass out=np.memmap(...)")
        return np.empty((n, nz), dtype=dt)
    if out.shape != (n, nz) or out.dtype != dt or not out.flags.c_contiguous:
        raise InputError(f"out must be a C-contiguous {dt.name} array of shape {(n, nz)}"
                         f"{'' if dt == np.float64 else f' (dtype={dt.name})'}, got {out.dtype} {out.shape}")
    return out


def _arccos_float32(row: ArccosMember, Xa: np.ndarray, Za: np.ndarray, self_kernel: bool, comp: np.dtype,
                    block_size, n_jobs, out, max_memory) -> np.ndarray:
    """The float32-storage build of :func:`arccos_kernel`: square tiles (:func:`tiled_build`)
    computed in ``comp`` (float64: rounded once per entry) and stored as float32."""
    n, nz = Xa.shape[0], Za.shape[0]
    jobs = _resolve_jobs(n_jobs)
    out = _output(out, n, nz, np.float32, max_memory, lambda: estimate_kernel_memory(
        n, nz, Xa.shape[1], block_size=block_size, n_jobs=jobs, dtype=np.float32, compute_dtype=comp), "")
    Xn, xnorm = _normalize(Xa)
    Zn, znorm = (Xn, xnorm) if self_kernel else _normalize(Za)
    _check_scale(row, xnorm, znorm, np.float32)
    A = Xn if comp == np.dtype(np.float64) else Xn.astype(np.float32)
    B = A if self_kernel else (Zn if comp == np.dtype(np.float64) else Zn.astype(np.float32))
    scaled = row.degree != 0 and not (np.all(xnorm == 1.0) and np.all(znorm == 1.0))

    def transform(C: np.ndarray, r0: int, c0: int) -> None:
        w1 = np.empty_like(C)
        w2 = np.empty_like(C) if row.uses_sin else w1
        i, j = _near_parallel_pairs(C, r0, self_kernel, c0)
        _transform_block(row, C, w1, w2)
        if i.size:
            _fix_near_parallel(row, C, i, j, r0, Xn, Zn, c0)
        if scaled:
            np.multiply(xnorm[r0:r0 + C.shape[0], None], znorm[None, c0:c0 + C.shape[1]], out=w1)
            if row.degree != 1:
                np.power(w1, row.degree, out=w1)
            C *= w1

    tiled_build(A, B, out, transform, self_kernel=self_kernel, compute_dtype=comp, block_size=block_size,
                n_jobs=jobs)
    if self_kernel:
        _set_exact_diagonal(out, row, xnorm, scaled)
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
