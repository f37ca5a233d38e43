r"""NTK and NNGP of a deep fully-connected ReLU network with biases, in closed form.

The network
-----------
``L`` hidden ReLU layers of widths ``n_1 … n_L`` and a scalar linear readout, in the NTK
parameterization (Jacot et al. 2018; the convention of neural-tangents'
``stax.serial(Dense(n_1, W_std, b_std), Relu(), …, Dense(n_L, W_std, b_std), Relu(),
Dense(1, W_std, b_std))``), every weight and bias drawn i.i.d. ``N(0, 1)`` and trained:

.. math::

    h^1 = \frac{σ_w}{\sqrt d} W^1 x + σ_b b^1, \qquad
    h^{l+1} = \frac{σ_w}{\sqrt{n_l}} W^{l+1} \mathrm{relu}(h^l) + σ_b b^{l+1}, \qquad
    f(x) = h^{L+1} .

The last ``Dense`` is the readout ``h^{L+1}`` (the same ``σ_w``, ``σ_b``); it is counted in the
kernels below, so ``depth = L = 1`` is a two-layer network.

The recursion
-------------
As the widths grow (Jacot et al. 2018, Thm 1; Lee et al. 2019, eqs. 3–4; Arora et al. 2019
"On exact computation with an infinitely wide neural net", eqs. 4–5 with ``c_σ = σ_w²`` and
biases), with ``(u, v) ∼ N(0, [[Σ^{h-1}(x,x), Σ^{h-1}(x,z)], [·, Σ^{h-1}(z,z)]])``:

.. math::

    Σ^0(x, z) &= σ_w^2\, x^T z / d + σ_b^2 ,                                               \\
    Σ^h(x, z) &= σ_w^2\, E[\mathrm{relu}(u)\mathrm{relu}(v)] + σ_b^2
               = σ_w^2 \frac{R (\sin θ + (π - θ)\cos θ)}{2π} + σ_b^2 ,                   \\
    \dot Σ^h(x, z) &= σ_w^2\, E[\mathrm{relu}'(u)\mathrm{relu}'(v)] = σ_w^2 \frac{π - θ}{2π} ,  \\
    Θ^0 = Σ^0, \qquad Θ^h &= Θ^{h-1} \dot Σ^h + Σ^h \qquad (h = 1, …, L),

where ``R = √(Σ^{h-1}(x,x) Σ^{h-1}(z,z))`` and ``cos θ = Σ^{h-1}(x,z)/R`` (the degree-1 and
degree-0 arc-cosine kernels of Cho & Saul 2009). The NNGP is ``Σ^L`` (the covariance of ``f``
over the initialization) and the NTK ``Θ^L``.

Normalization
-------------
The first layer divides by the input dimension ``d`` (``Σ^0 = σ_w² xᵀz/d + σ_b²``), as
neural-tangents does, so that the kernels of the two libraries agree and inputs with O(1)
coordinates (``‖x‖² ≈ d``) give O(1) kernels. Arora et al. 2019 instead write ``Σ^0 = xᵀz``
without ``σ_w²/d`` (their inputs have unit norm): their NTK is ours at ``b_std = 0`` on the
inputs ``x √(d/σ_w²)``. The default ``σ_w² = 2`` is their ``c_σ = 1/E[relu(g)²]``, under
which ``Σ^h(x, x) = Σ^0(x, x)`` at every depth when ``σ_b = 0``.

The project's two-layer kernels are the case ``depth = 1``, ``b_std = 0``:
``deep_ntk = σ_w⁴/d · two_layer_ntk``, ``deep_nngp = σ_w⁴/d · random_features_kernel`` and their
difference ``σ_w⁴/d · first_layer_ntk`` (``H^∞`` of Arora et al. 2019 eq. 3: the first layer's
part of the NTK), for inputs of any norm. On the diagonal, with ``q_h = Σ^h(x, x)``:
``q_0 = σ_w²‖x‖²/d + σ_b²``, ``q_h = σ_w² q_{h-1}/2 + σ_b²`` and ``Θ^h(x, x) = Θ^{h-1}(x, x) σ_w²/2
+ q_h``.

Numerics
--------
Nothing is computed from a rounded cosine near ``±1`` (where ``θ = arccos c`` loses half its
digits, ``δθ ≈ √(2δc)``, about 1e-8 absolute in ``Σ̇`` for duplicate points): the first layer's
angle is that of the augmented vectors ``(σ_w x/√d, σ_b)``, taken from their GEMM cosine or, when
``1 − |c| < 10⁻⁴``, from explicit differences ``θ = 2 atan2(‖x̂ − ẑ‖, ‖x̂ + ẑ‖)``; every later angle
comes from ``U^h = R^h − Σ^h ≥ 0`` computed without cancellation,

.. math:: U^h = \frac{σ_b^2 \tfrac{σ_w^2}{2} (\sqrt{q_x} - \sqrt{q_z})^2}{R^h + σ_b^2 + σ_w^2 R/2}
              + σ_w^2 R \frac{(π - θ)\, 2\sin^2(θ/2) + θ - \sin θ}{2π}, \qquad
          θ^h = 2 \arcsin \sqrt{U^h / (2 R^h)} ,

(``θ^h ≤ π/2`` because ``Σ^h ≥ 0``, so the arcsine is well conditioned). Entries agree with a
50-digit evaluation to ~3e-16 of the largest entry also for near-duplicate and antipodal pairs; the
diagonal of a kernel of one data set is set from the closed form above and the matrix is exactly
symmetric. Zero-variance inputs (``x = 0`` with ``σ_b = 0``) have zero rows and columns; their
angle is taken as ``π/2`` (any value gives the same kernel: every term carries ``R = 0``).

Each layer carries ``θ`` with ``sin(θ/2)`` and ``cos(θ/2)``, so it costs one arcsine, two square
roots and about twenty multiply-adds per entry (measured: n = 2,000, d = 50, depth 3, one thread:
0.8 s for the 3·10⁶ entries of the upper tiles, ≈ 0.1 µs per entry and layer).

Cost: one GEMM (``2 n n_z (d + 1)`` flops; half for a kernel of one data set) and the elementwise
passes over the ``n × n_z`` result, in square tiles and row blocks
(:func:`~twolayer.kernels._blocks.tiled_build`) on ``n_jobs`` threads. Extra memory: one
1024² float64 tile (8 MiB) plus nine ``block × 1024`` temporaries per thread (≈ 18 MiB),
independent of ``n`` and of the depth.
"""

from __future__ import annotations

import math

import numpy as np

from .._errors import InputError
from .._validation import as_data_matrix, row_norms
from ._blocks import MemoryEstimate, TILE, _resolve_jobs, _storage_dtypes, tiled_build
from .arccos import _output

__all__ = ["DEEP_KERNELS", "deep_ntk", "deep_nngp", "deep_kernel", "deep_diagonal"]

#: The kinds of :func:`deep_kernel` (the CLI's ``--kind deep-ntk`` / ``deep-nngp``).
DEEP_KERNELS = ("deep-ntk", "deep-nngp")
_TWO_PI = 2.0 * np.pi
_NEAR_PARALLEL = 1e-4
_DEFAULT_W_STD = math.sqrt(2.0)


def _check_options(depth, w_std, b_std) -> tuple[int, float, float]:
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0:
        raise InputError(f"depth must be the number of hidden layers, an integer >= 0, got {depth!r}")
    for name, v in (("w_std", w_std), ("b_std", b_std)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v) \
                or v < 0:
            raise InputError(f"{name} must be a finite number >= 0, got {v!r}")
    if w_std == 0:
        raise InputError("w_std must be positive (w_std = 0 makes the kernel the constant b_std^2); pass e.g. "
                         "w_std=1.4142 (the default sqrt(2))")
    return int(depth), float(w_std), float(b_std)


def deep_diagonal(X, *, depth: int, w_std: float = _DEFAULT_W_STD, b_std: float = 0.0) -> np.ndarray:
    r"""Closed-form diagonals: ``Σ^h(x_i, x_i)`` and ``Θ^h(x_i, x_i)`` for every layer ``h = 0 … depth``.

    ``q_0 = σ_w²‖x‖²/d + σ_b²``, ``q_h = σ_w² q_{h−1}/2 + σ_b²`` (``E[relu(u)²] = q/2``) and
    ``Θ^h = Θ^{h−1} σ_w²/2 + q_h`` (``E[relu'(u)²] = 1/2``); see the module docstring.

    Parameters
    ----------
    X : array_like, shape (n, d)
    depth, w_std, b_std : as in :func:`deep_ntk`.

    Returns
    -------
    ndarray, shape (2, n, depth + 1)
        ``[0]`` the NNGP variances ``Σ^h(x, x)``, ``[1]`` the NTK diagonals ``Θ^h(x, x)``. Cost ``O(n (d + depth))``.
    """
    depth, w_std, b_std = _check_options(depth, w_std, b_std)
    Xa = as_data_matrix(X, "X", allow_zero_rows=True)
    return _diagonals(_first_variance(Xa, w_std, b_std), depth, w_std, b_std)


def _first_variance(Xa: np.ndarray, w_std: float, b_std: float) -> np.ndarray:
    """``q_0 = σ_w² ‖x‖²/d + σ_b²`` per row, refusing (with the fix) values beyond float64."""
    with np.errstate(over="ignore"):
        scaled = row_norms(Xa) * (w_std / math.sqrt(Xa.shape[1]))
        q0 = scaled * scaled + b_std * b_std
    if not np.all(np.isfinite(q0)) or float(np.max(q0)) > 1e290:
        big = float(np.max(row_norms(Xa)))
        raise InputError(f"deep kernel values overflow float64: rows have norms up to {big:.3g}; rescale the inputs "
                         f"(e.g. twolayer.data.unit_normalize(X))")
    return q0


def _diagonals(q0: np.ndarray, depth: int, w_std: float, b_std: float) -> np.ndarray:
    w2, b2 = w_std * w_std, b_std * b_std
    out = np.empty((2, q0.shape[0], depth + 1))
    out[0, :, 0] = out[1, :, 0] = q0
    for h in range(1, depth + 1):
        out[0, :, h] = 0.5 * w2 * out[0, :, h - 1] + b2
        out[1, :, h] = 0.5 * w2 * out[1, :, h - 1] + out[0, :, h]
    return out


def _augmented_unit(Xa: np.ndarray, q0: np.ndarray, w_std: float, b_std: float) -> np.ndarray:
    """Rows ``(σ_w x/√d, σ_b)/√q_0`` (unit norm; zero where ``q_0 = 0``), shape (n, d + 1)."""
    n, d = Xa.shape
    root = np.sqrt(q0)
    safe = np.where(root > 0, root, 1.0)
    A = np.empty((n, d + 1))
    np.multiply(Xa, (w_std / math.sqrt(d)) / safe[:, None], out=A[:, :d])
    A[:, d] = np.where(root > 0, b_std / safe, 0.0)
    return A


def _first_angles(C: np.ndarray, An: np.ndarray, Bn: np.ndarray, r0: int, c0: int):
    """``(θ, sin(θ/2), cos(θ/2))`` of the first layer from the clipped cosines ``C`` of a block; the
    pairs with ``1 − |c| < 10⁻⁴`` from explicit differences of the unit rows (accurate to a few ulps)."""
    theta = np.arccos(C)
    sh = np.subtract(1.0, C)
    sh *= 0.5
    np.sqrt(sh, out=sh)                               # sin(θ/2) = √((1 − c)/2)
    ch = np.add(1.0, C)
    ch *= 0.5
    np.sqrt(ch, out=ch)                               # cos(θ/2) = √((1 + c)/2)
    thr = 1.0 - _NEAR_PARALLEL
    if C.max() > thr or C.min() < -thr:
        i, j = np.nonzero(np.abs(C) > thr)
        for lo in range(0, i.size, 65536):
            r, b = i[lo:lo + 65536], j[lo:lo + 65536]
            xa, zb = An[r + r0], Bn[b + c0]
            diff, summ = xa - zb, xa + zb
            t = 2.0 * np.arctan2(np.sqrt(np.einsum("ij,ij->i", diff, diff)),
                                 np.sqrt(np.einsum("ij,ij->i", summ, summ)))
            theta[r, b], sh[r, b], ch[r, b] = t, np.sin(0.5 * t), np.cos(0.5 * t)
    return theta, sh, ch


def _transform(C: np.ndarray, r0: int, c0: int, *, An, Bn, rx, rz, depth: int, w2: float, b2: float,
               ntk: bool) -> None:
    """Overwrite the block ``C`` of augmented-row cosines (rows ``r0…``, columns ``c0…``) by the kernel.

    ``rx`` (n, depth + 1) and ``rz`` (n_z, depth + 1) are the square roots ``√q_h`` of the rows'
    layer variances. Each layer carries ``θ`` with ``sin(θ/2)``, ``cos(θ/2)`` (so that ``sin θ``,
    ``cos θ`` and ``1 − cos θ`` need no further transcendental) and costs one arcsine.
    Temporaries: eight arrays of the block's shape.
    """
    rows, cols = slice(r0, r0 + C.shape[0]), slice(c0, c0 + C.shape[1])
    np.clip(C, -1.0, 1.0, out=C)
    theta, sh, ch = _first_angles(C, An, Bn, r0, c0)
    R = np.multiply(rx[rows, 0][:, None], rz[cols, 0][None, :])
    np.multiply(C, R, out=C)                          # Σ^0 (= Θ^0)
    if depth == 0:
        return
    pmt, sig, sin, work = (np.empty_like(C) for _ in range(4))
    for h in range(1, depth + 1):
        np.subtract(np.pi, theta, out=pmt)
        np.multiply(sh, ch, out=sin)
        sin *= 2.0                                    # sin θ = 2 sin(θ/2) cos(θ/2)
        np.multiply(sh, sh, out=work)
        work *= 2.0                                   # 1 − cos θ = 2 sin²(θ/2)
        # Σ^h = w2 R (sin θ + (π − θ) cos θ)/(2π) + b2
        np.subtract(1.0, work, out=sig)
        sig *= pmt
        sig += sin
        sig *= R
        sig *= w2 / _TWO_PI
        sig += b2
        if ntk:                                       # Θ^h = Θ^{h−1} w2 (π − θ)/(2π) + Σ^h, in C
            C *= pmt
            C *= w2 / _TWO_PI
            C += sig
        if h == depth:
            if not ntk:
                C[...] = sig
            return
        # U^h = R^h − Σ^h without cancellation: w2 R ((π − θ)(1 − cos θ) + θ − sin θ)/(2π) + the bias part
        work *= pmt
        np.subtract(theta, sin, out=sin)
        work += sin
        work *= R
        work *= w2 / _TWO_PI
        Rh = np.multiply(rx[rows, h][:, None], rz[cols, h][None, :], out=pmt)
        if b2:                                        # b2 (√a − √b)² / (R^h + b2 + √(ab)), a = w2 q_x/2
            np.subtract(rx[rows, h - 1][:, None], rz[cols, h - 1][None, :], out=sin)
            np.multiply(sin, sin, out=sin)
            sin *= 0.5 * w2 * b2
            np.multiply(R, 0.5 * w2, out=sig)
            sig += Rh
            sig += b2
            sin /= sig
            work += sin
        # sin²(θ^h/2) = (1 − cos θ^h)/2 = U^h / (2 R^h), in [0, 1/2] since Σ^h >= 0
        pos = Rh > 0
        np.multiply(Rh, 2.0, out=R)                   # 2 R^h (R^h for the next layer below)
        np.divide(work, R, out=work, where=pos)
        if not pos.all():
            work[~pos] = 0.5                          # zero variance: θ = π/2 by convention
        np.clip(work, 0.0, 1.0, out=work)
        np.sqrt(work, out=sh)
        np.subtract(1.0, work, out=ch)
        np.sqrt(ch, out=ch)
        np.arcsin(sh, out=theta)
        theta *= 2.0
        R *= 0.5


def deep_kernel(X, Z=None, *, kind: str = "deep-ntk", depth: int, w_std: float = _DEFAULT_W_STD,
                b_std: float = 0.0, dtype=None, block_size: int | None = None, n_jobs: int | None = None,
                out: np.ndarray | None = None, max_memory: int | None = None) -> np.ndarray:
    r"""The NTK ``Θ^L`` or the NNGP ``Σ^L`` of an ``L``-hidden-layer ReLU network with biases.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs (any rows, zero rows included).
    Z : array_like, shape (n_z, d), optional
        Second set of inputs; ``None`` means ``Z = X`` (then exactly symmetric, exact diagonal).
    kind : {"deep-ntk", "deep-nngp"}
        Which kernel (also ``"ntk"`` / ``"nngp"``).
    depth : int
        ``L``, the number of hidden ReLU layers (0: the linear model ``Σ^0``).
    w_std, b_std : float
        ``σ_w > 0`` and ``σ_b ≥ 0`` of every layer (default ``√2``, 0).
    dtype : {None, float64, float32}
        Storage of the result (default float64, or ``out``'s dtype); computed in float64 and
        rounded once either way.
    block_size : int, optional
        Rows per elementwise block (default about 2 MiB of a 1024-column tile).
    n_jobs : int, optional
        Threads (default: all cores).
    out : ndarray, shape (n, n_z), optional
        Preallocated C-contiguous result of ``dtype`` (e.g. a ``np.memmap``).
    max_memory : int, optional
        Refuse a build needing more bytes (default: the available memory).

    Returns
    -------
    K : ndarray, shape (n, n_z)

    Notes
    -----
    The recursion of Jacot et al. 2018 / Arora et al. 2019 eqs. 4–5 / Lee et al. 2019 with the
    normalization ``Σ^0 = σ_w² xᵀz/d + σ_b²`` of neural-tangents: see the module docstring for
    the formulas, the normalization, the relation to the two-layer kernels and the numerics.
    Cost: ``2 n n_z (d + 1)`` GEMM flops and ``O(depth · n n_z)`` elementwise work; extra memory
    ``O(1024 · (1024 + d))`` per thread, independent of ``n``, ``n_z`` and ``depth``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> deep_kernel(X, kind="deep-ntk", depth=2, w_std=1.0, b_std=0.0).round(6)
    array([[0.375   , 0.085714],
           [0.085714, 0.375   ]])
    """
    ntk = {"deep-ntk": True, "ntk": True, "deep-nngp": False, "nngp": False}.get(kind) if isinstance(kind, str) \
        else None
    if ntk is None:
        raise InputError(f"unknown deep kernel kind {kind!r}; choose deep-ntk or deep-nngp")
    depth, w_std, b_std = _check_options(depth, w_std, b_std)
    Xa = as_data_matrix(X, "X", allow_zero_rows=True)
    self_kernel = Z is None
    Za = Xa if self_kernel else as_data_matrix(Z, "Z", allow_zero_rows=True)
    if Za.shape[1] != Xa.shape[1]:
        raise InputError(f"X has {Xa.shape[1]} features but Z has {Za.shape[1]}; both must have the same d")
    if dtype is None and out is not None:
        dtype = out.dtype
    store, _ = _storage_dtypes(dtype, None)
    n, nz, d = Xa.shape[0], Za.shape[0], Xa.shape[1]
    jobs = _resolve_jobs(n_jobs)
    out = _output(out, n, nz, store, max_memory, lambda: MemoryEstimate(
        result=store.itemsize * n * nz, workspace=8 * TILE * TILE + 18 * 2**20 * jobs,
        inputs=8 * (n + (0 if self_kernel else nz)) * (d + 2 * depth + 3)), "")
    w2, b2 = w_std * w_std, b_std * b_std
    qx = _first_variance(Xa, w_std, b_std)
    qz = qx if self_kernel else _first_variance(Za, w_std, b_std)
    dx = _diagonals(qx, depth, w_std, b_std)
    rx = np.sqrt(dx[0])
    rz = rx if self_kernel else np.sqrt(_diagonals(qz, depth, w_std, b_std)[0])
    An = _augmented_unit(Xa, qx, w_std, b_std)
    Bn = An if self_kernel else _augmented_unit(Za, qz, w_std, b_std)

    def transform(C, r0, c0):
        _transform(C, r0, c0, An=An, Bn=Bn, rx=rx, rz=rz, depth=depth, w2=w2, b2=b2, ntk=ntk)

    with np.errstate(under="ignore"):
        tiled_build(An, Bn, out, transform, self_kernel=self_kernel, block_size=block_size, n_jobs=jobs)
    if self_kernel:
        np.fill_diagonal(out, dx[1 if ntk else 0, :, depth])
    return out


def deep_ntk(X, Z=None, *, depth: int, w_std: float = _DEFAULT_W_STD, b_std: float = 0.0, dtype=None,
             **kw) -> np.ndarray:
    r"""The NTK ``Θ^L(x_i, z_j)`` of an ``L = depth`` hidden-layer ReLU network with biases, (n, n_z).

    ``Θ^0 = Σ^0``, ``Θ^h = Θ^{h−1} Σ̇^h + Σ^h`` (Arora et al. 2019, eqs. 4–5; Jacot et al. 2018),
    all layers trained, readout included; ``deep_kernel(..., kind="deep-ntk")``, whose docstring
    lists the keyword arguments. ``depth = 1, b_std = 0`` gives ``σ_w⁴/d ·``
    :func:`~twolayer.kernels.two_layer_ntk`.
    """
    return deep_kernel(X, Z, kind="deep-ntk", depth=depth, w_std=w_std, b_std=b_std, dtype=dtype, **kw)


def deep_nngp(X, Z=None, *, depth: int, w_std: float = _DEFAULT_W_STD, b_std: float = 0.0, dtype=None,
              **kw) -> np.ndarray:
    r"""The NNGP ``Σ^L(x_i, z_j)`` (the output covariance at initialization) of the same network, (n, n_z).

    ``deep_kernel(..., kind="deep-nngp")``; ``depth = 1, b_std = 0`` gives ``σ_w⁴/d ·``
    :func:`~twolayer.kernels.random_features_kernel`.
    """
    return deep_kernel(X, Z, kind="deep-nngp", depth=depth, w_std=w_std, b_std=b_std, dtype=dtype, **kw)
