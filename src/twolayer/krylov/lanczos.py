r"""Lanczos instruments: the predicted GD loss curve by quadrature, top eigenpairs and extreme eigenvalues.

See :mod:`twolayer.krylov` for the quadrature theory and the λ_min bound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .._errors import InputError
from .._validation import as_labels
from ._core import (DEFAULT_TOL, _lambda_args, _Lanczos, _maxiter, _Op, _ritz_ends, _rule, _start, _tol,
                    gershgorin_upper)

__all__ = ["Trajectory", "trajectory", "Eigenpairs", "top_eigenpairs", "Extremes", "extreme"]


# --------------------------------------------------------------------------- predicted trajectory
@dataclass(frozen=True)
class Trajectory:
    r"""Result of :func:`trajectory`: predicted losses with a certified interval per step.

    ``lower`` (Gauss) ``≤ loss ≤ upper`` (Gauss–Radau, or Gauss–Lobatto when ``rule`` says so),
    ``value = (lower + upper)/2`` and ``error = (upper − lower)/2`` (so ``|value − loss| ≤ error``).
    ``upper_certified``: the nodes ``lambda_min_bound ≤ λ_min`` and (Lobatto, or the choice of the
    Radau rule) ``lambda_max_bound ≥ λ_max`` are proven, not estimated (see ``lambda_source``).
    All arrays have shape ``(T,)`` like ``steps``.
    """

    steps: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    error: np.ndarray
    iterations: int
    converged: bool
    rule: str
    lambda_min_bound: float
    lambda_max_bound: float
    lambda_source: str
    upper_certified: bool
    tol: float
    atol: float

    def to_dict(self) -> dict:
        return asdict(self)


def trajectory(op, y, steps, lr: float, *, u0=None, tol: float = DEFAULT_TOL, atol: float | None = None,
               normalization: str = "sum", flow: bool = False, lambda_min_lower: float | None = 0.0,
               lambda_max_upper: float | None = None, maxiter: int | None = None, check: bool = True) -> Trajectory:
    r"""Predicted GD loss ``½‖(I − η H)^k r‖²`` for every ``k`` in ``steps`` by Lanczos quadrature, ``r = y − u0``.

    Arora et al. (2019) eq. 8: in the kernel regime ``y − ũ(k) = (I − ηH)^k (y − u(0))``, so the
    loss is ``½ rᵀ f_k(H) r`` with ``f_k(λ) = (1 − ηλ)^{2k}`` (``e^{−2ηkλ}`` with ``flow``),
    computed as ``½‖r‖² e₁ᵀ f_k(T) e₁`` from ``m`` Lanczos steps started at ``r``: no
    eigendecomposition of ``H``. ``f_k``'s even derivatives are ``≥ 0`` everywhere, so the
    Gauss value is a lower bound; the upper bound is Gauss–Radau with the node
    ``a = lambda_min_lower`` when ``η b ≤ 1`` or ``flow`` (odd derivatives ``≤ 0`` on ``[a, b]``),
    Gauss–Lobatto with the nodes ``a`` and ``b`` otherwise, ``b ≥ λ_max`` being ``lambda_max_upper``,
    or the Gershgorin bound (certified) for an array, or ``θ_max + ρ_max`` (an estimate: for an
    operator, and where ``ηb > 2`` would let the Lobatto bound grow like ``(ηb − 1)^{2k}``). Iterates until ``upper − lower ≤ tol·upper + atol`` at every step.

    Parameters
    ----------
    op : array (n, n) or object with ``shape`` and ``matvec``
        Symmetric positive semidefinite ``H``.
    y : array_like, shape (n,)
    steps : array_like of int, shape (T,)
        GD iteration counts ``k``.
    lr : float
        Learning rate η in the loss convention (``mean``: ``η/n`` acts on ``H`` and the loss is
        divided by ``n``, as in :meth:`twolayer.spectra.Spectrum.loss_curve`).
    u0 : array_like, shape (n,), optional
        Outputs at initialization (default 0: the paper's ``y``; the init-corrected curve otherwise).
    tol, atol : float
        Relative and absolute width of the interval at which to stop (``atol`` default
        ``1e-12 × ½‖r‖²``, scaled like the loss: losses below it are not resolved).
    lambda_min_lower : float, optional
        ``a ≤ λ_min(H)``; default ``0``, certified for positive semidefinite ``H``. ``None``: the
        estimate ``θ_min − ρ_min`` (tighter at large ``k``, not certified).
    lambda_max_upper : float, optional
        ``b ≥ λ_max(H)`` (see above for the default).
    maxiter : int, optional
        Lanczos steps at most (default ``min(n, 1000)``).

    Returns
    -------
    Trajectory

    Notes
    -----
    Cost: ``m`` products ``Hv`` + ``O(n m²)`` for the reorthogonalization + ``O(m² + m T)`` per
    convergence check (checks at every step up to 50, then every ``m/10``); memory ``(m + 1) n``.
    """
    if normalization not in ("sum", "mean"):
        raise InputError(f"normalization must be 'sum' (½Σ) or 'mean' (½n⁻¹Σ), got {normalization!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise InputError(f"lr must be a positive number, got {lr}")
    A = _Op(op, check=check)
    n = A.n
    tol = _tol(tol)
    ks = np.atleast_1d(np.asarray(steps, dtype=np.float64))
    if ks.ndim != 1 or not np.all(np.isfinite(ks)) or np.any(ks < 0):
        raise InputError("steps must be a 1-D list of non-negative iteration counts, e.g. [0, 10, 100]")
    r = _start(y, n) if u0 is None else _start(as_labels(y, n) - as_labels(u0, n, "u0"), n, "y - u0")
    eta = lr / n if normalization == "mean" else lr
    scale = 0.5 * float(r @ r) / (n if normalization == "mean" else 1)
    atol = 1e-12 * scale if atol is None else float(atol)
    a_user, b_user = _lambda_args(lambda_min_lower, lambda_max_upper)
    if b_user is not None:
        b_cert, b_src = b_user, "lambda_max_upper (given)"
    elif A.dense is not None:
        b_cert, b_src = gershgorin_upper(A.dense), "Gershgorin max row sum"
    else:
        b_cert, b_src = None, ""
    kmax = _maxiter(maxiter, n)
    lz = _Lanczos(A, r, kmax)
    converged, refuted = False, None
    out: tuple[np.ndarray, np.ndarray, str] | None = None
    a_ok, a = False, float("nan")
    while lz.m < kmax and not lz.invariant:
        lz.step()
        m = lz.m
        if not (m <= 50 or m % max(1, m // 10) == 0 or lz.invariant or m == kmax):
            continue
        diag, off, bnext = lz.tridiagonal()
        th_lo, rho_lo, th_hi, rho_hi = _ritz_ends(diag, off, bnext)
        if a_user is not None and refuted is None and a_user > th_lo + 1e-10 * th_hi:
            refuted = th_lo
        a_ok = a_user is not None and refuted is None
        a = a_user if a_ok else th_lo - rho_lo
        if b_cert is not None and (flow or eta * b_cert <= 2.0):
            b, b_ok = b_cert, True
        else:  # a loose b beyond the stable step would make the Lobatto bound blow up like (ηb − 1)^{2k}
            b, b_ok = th_hi + max(rho_hi, 1e-10 * th_hi), False
        out = _trajectory_bounds(diag, off, bnext, ks, eta, flow, a, b, th_lo, th_hi, lz.invariant, scale)
        lo, up, rule = out
        if np.all(np.isfinite(up)) and np.all(up - lo <= tol * up + atol):
            converged = True
            break
    if out is None:  # pragma: no cover - maxiter >= 1 always makes one step
        raise InputError("no Lanczos step was made; pass maxiter >= 1")
    lo, up, rule = out
    certified = bool(a_ok and (b_ok or rule == "gauss (exact: invariant Krylov space)") and math.isfinite(a))
    src = (f"lambda_min: {'given' if a_ok else 'estimate theta_min - rho_min (not a proof)'}"
           + (f" (the given {a_user:.6g} was refuted by the Ritz value {refuted:.6g})" if refuted is not None else "")
           + f"; lambda_max: {b_src if b_ok else 'estimate theta_max + rho_max (not a proof)'}")
    if a_ok and a_user == 0.0:
        src = src.replace("lambda_min: given", "lambda_min: 0 (H positive semidefinite)")
    return Trajectory(steps=ks, value=0.5 * (lo + up), lower=lo, upper=up, error=0.5 * (up - lo), iterations=lz.m,
                      converged=converged, rule=rule, lambda_min_bound=float(a), lambda_max_bound=float(b),
                      lambda_source=src, upper_certified=certified, tol=tol, atol=atol)


def _trajectory_bounds(diag, off, bnext, ks, eta, flow, a, b, th_lo, th_hi, invariant, scale):
    """Gauss lower and Radau/Lobatto upper bounds of ``scale · e₁ᵀ f_k(T) e₁`` for every ``k``.

    The prescribed nodes must lie outside the Ritz values (``a < θ_min``, ``b > θ_max``), else
    the bordered matrix does not exist and the upper bound is reported as infinite. The upper
    bound is clipped below at the lower one (they meet to rounding once converged).
    """
    def quad(theta, w):
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            if flow:
                F = np.exp(-2.0 * eta * ks[:, None] * np.maximum(theta, 0.0)[None, :])
            else:
                F = np.power(((1.0 - eta * theta) ** 2)[None, :], ks[:, None])
            q = scale * (F @ w)
        return np.where(np.isnan(q), np.inf, q)

    lo = quad(*_rule(diag, off, bnext))
    if invariant:
        return lo, lo.copy(), "gauss (exact: invariant Krylov space)"
    if flow or eta * b <= 1.0:
        if not a < th_lo:
            return lo, np.full_like(lo, np.inf), "gauss-radau"
        return lo, np.maximum(quad(*_rule(diag, off, bnext, a)), lo), "gauss-radau"
    if not (a < th_lo and b > th_hi):
        return lo, np.full_like(lo, np.inf), "gauss-lobatto"
    return lo, np.maximum(quad(*_rule(diag, off, bnext, a, b)), lo), "gauss-lobatto"


# --------------------------------------------------------------------------- eigenpairs
@dataclass(frozen=True)
class Eigenpairs:
    r"""Result of :func:`top_eigenpairs`: the top ``k`` Ritz pairs of ``H`` in descending order.

    ``eigenvalues`` (k,), ``eigenvectors`` (n, k) orthonormal (sign: largest entry positive),
    ``residuals`` (k,) ``= ‖Hv_i − θ_i v_i‖``: some eigenvalue of ``H`` lies within ``residuals[i]``
    of ``θ_i`` (for symmetric ``H``), and ``θ_i ≤ λ_i`` (Cauchy interlacing on the subspace), so
    ``λ_i ∈ [θ_i, θ_i + residuals[i]]`` once the top ``k`` are the ones found. With labels:
    ``projections`` (k,) ``= v_iᵀy`` and ``projection_errors`` (k,) ``= √2 ‖y‖ ρ_i/δ_i``, the
    Davis–Kahan bound with the gap ``δ_i`` to the other Ritz values (and below the ``k+1``-th)
    less their residuals — an estimate, valid when the ``k+1`` largest eigenvalues were found.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray = field(repr=False)
    residuals: np.ndarray
    projections: np.ndarray | None
    projection_errors: np.ndarray | None
    matvecs: int
    tol: float
    method: str = "arpack"
    passes: int | None = None


def top_eigenpairs(op, k: int, *, y=None, tol: float = 1e-10, maxiter: int | None = None, seed: int = 0,
                   check: bool = True, method: str = "arpack", block_size: int | None = None) -> Eigenpairs:
    r"""The ``k`` largest eigenpairs of symmetric ``H`` by implicitly restarted Lanczos (ARPACK), with residual bounds.

    ``method="arpack"`` (default): :func:`scipy.sparse.linalg.eigsh` (``which="LA"``) on a
    product-only operator for ``k + 1`` pairs (the extra one gives the gap of the ``k``-th for the
    projection errors), from a seeded start vector. ``method="block"``: a thick-restarted block
    Krylov (block Davidson without preconditioner) iteration, :func:`_block_top`: each step is *one*
    block product ``H W`` with ``block_size`` columns (one pass over a stored matrix for all of
    them, where ARPACK makes one pass per product) — far cheaper per column when a product is
    bound by memory traffic (float32 storage, :class:`~twolayer.kernels.KernelOperator`). Either
    way the result's residuals ``R = HV − VΘ`` are then measured with one block product. See
    :class:`Eigenpairs` for what the residuals bound.

    Parameters
    ----------
    op : array (n, n) or object with ``shape`` and ``matvec``
    k : int
        Number of pairs, ``1 ≤ k ≤ n − 2`` (ARPACK needs ``k + 1 < n``; use a dense ``eigh`` for more).
    y : array_like, shape (n,), optional
        Labels to project on the eigenvectors (Arora et al. §4: ``v_iᵀy``).
    tol : float
        Relative accuracy of the Ritz values (ARPACK's ``tol``; block: stop once every one of the
        ``k + 1`` residuals is ``≤ tol·|θ_1|``).
    maxiter : int, optional
        ARPACK's restarts; block: block products (default 200).
    method : {"arpack", "block"}
    block_size : int, optional
        Columns per block product (``method="block"``; default ``min(64, max(8, (k + 1)//2))``).

    Returns
    -------
    Eigenpairs

    Notes
    -----
    Cost: ARPACK's products (about ``2k`` to ``20k`` of them, each ``2n²`` flops on an array) +
    ``O(n k²)`` orthogonalization + one ``n × n × (k+1)`` block product. Block: ``p`` passes of
    ``2n² b`` flops (``b = block_size``) + ``O(n m b)`` orthogonalization per pass on a basis of at
    most ``m = k + 1 + max(10, k/5) + 3b`` columns (memory ``2 n m`` floats: the basis and its image).
    """
    from scipy.sparse.linalg import LinearOperator, eigsh

    A = _Op(op, check=check)
    n = A.n
    if int(k) != k or k < 1 or k + 2 > n:
        raise InputError(f"k must be an integer in [1, n - 2] = [1, {n - 2}], got {k}; for all eigenpairs use a "
                         f"dense eigendecomposition (twolayer.spectra.spectrum)")
    k = int(k)
    if not (np.isfinite(tol) and 0 <= tol < 1):
        raise InputError(f"tol must be in [0, 1), got {tol}")
    if method not in ("arpack", "block"):
        raise InputError(f"method must be 'arpack' or 'block', got {method!r}")
    lab = None if y is None else as_labels(y, n)
    kk = min(k + 1, n - 2)
    passes = None
    if method == "block":
        w, V, passes = _block_top(A, kk, tol, maxiter, seed, block_size)
    else:
        L = LinearOperator((n, n), matvec=A.matvec, matmat=A.matmat, dtype=np.float64)
        v0 = np.random.default_rng(seed).standard_normal(n)
        w, V = eigsh(L, k=kk, which="LA", tol=tol, v0=v0, maxiter=maxiter)
    order = np.argsort(w)[::-1]
    w, V = w[order], V[:, order]
    sign = np.sign(V[np.argmax(np.abs(V), axis=0), np.arange(kk)])
    V = V * np.where(sign == 0, 1.0, sign)
    mv = A.count
    R = A.matmat(V) - V * w
    res = np.linalg.norm(R, axis=0)
    proj = perr = None
    if lab is not None:
        proj = V.T @ lab
        gaps = np.empty(kk)
        for i in range(kk):
            others = [abs(w[i] - w[j]) - res[j] for j in range(kk) if j != i]
            if i == kk - 1:
                others = []  # the rest of the spectrum is unknown below the last pair
            gaps[i] = min(others) if others else 0.0
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            perr = np.where(gaps > res, math.sqrt(2.0) * np.linalg.norm(lab) * res / np.maximum(gaps, 1e-300),
                            np.inf)
        proj, perr = proj[:k], perr[:k]
    return Eigenpairs(eigenvalues=w[:k], eigenvectors=V[:, :k], residuals=res[:k], projections=proj,
                      projection_errors=perr, matvecs=mv, tol=float(tol), method=method, passes=passes)


#: Basis cap of the block method: the kept Ritz vectors plus this many blocks.
_BLOCK_CAP = 10


def _orth_against(Q: np.ndarray, W: np.ndarray, rng) -> np.ndarray:
    """Orthonormal columns spanning ``W`` projected off ``Q``; (nearly) dependent columns replaced by random ones.

    Projection + QR twice (the second pass removes what the first QR's ``R⁻¹`` amplified back
    along ``Q``), so ``[Q, Z]`` is orthonormal to rounding. Cost ``O(n (m + b) b)``.
    """
    for _ in range(2):
        if Q.shape[1]:
            W = W - Q @ (Q.T @ W)
    norms0 = np.linalg.norm(W, axis=0)
    Z, R = np.linalg.qr(W)
    bad = np.abs(np.diag(R)) <= 1e-8 * max(float(norms0.max(initial=0.0)), np.finfo(float).tiny)
    if np.any(bad):  # the Krylov space is (nearly) invariant in those directions: continue with random ones
        Z[:, bad] = rng.standard_normal((Z.shape[0], int(bad.sum())))
    for _ in range(2):
        if Q.shape[1]:
            Z = Z - Q @ (Q.T @ Z)
        Z = np.linalg.qr(Z)[0]
    return Z


def _block_top(A: _Op, kk: int, tol: float, maxiter: int | None, seed: int, block_size: int | None):
    r"""The ``kk`` largest Ritz pairs of ``A`` by thick-restarted block Krylov iteration; returns ``(θ, V, passes)``.

    Keeps an orthonormal basis ``Q`` (``n × m``) and its image ``AQ`` (one block product per new
    block), Rayleigh–Ritz on ``T = Qᵀ(AQ)`` (symmetrized), and expands by the residuals
    ``AQs_i − θ_i Qs_i`` of the ``b`` leading unconverged Ritz pairs (they lie in the next block
    Krylov space), orthogonalized twice against ``Q``. When ``m`` reaches its cap the basis is
    restarted on the leading ``kk + p`` Ritz vectors (``Q ← QS``, ``AQ ← AQS``). Stops when every
    one of the ``kk`` residuals is ``≤ tol·|θ_1|`` (or ``tol`` times the spectral scale, for
    ``tol = 0``: machine precision). Cost per pass: one ``n × n × b`` product + ``O(n m b)``.
    """
    n = A.n
    b = int(block_size) if block_size is not None else min(64, max(8, (kk + 1) // 2))
    if b < 1:
        raise InputError(f"block_size must be a positive integer, got {block_size}")
    keep = min(n, kk + max(10, kk // 5))
    b = min(b, n - keep) if n > keep else 0
    cap = min(n, keep + _BLOCK_CAP * max(b, 1))
    maxp = 200 if maxiter is None else int(maxiter)
    rng = np.random.default_rng(seed)
    QB, AB = np.empty((n, cap)), np.empty((n, cap))  # the basis and its image, preallocated (no hstack copies)
    m = min(n, max(keep, b))
    QB[:, :m] = _orth_against(np.zeros((n, 0)), rng.standard_normal((n, m)), rng)
    AB[:, :m] = A.matmat(QB[:, :m])
    T = QB[:, :m].T @ AB[:, :m]
    passes = 1
    eps = max(float(tol), 4 * np.finfo(float).eps)
    while True:
        Q, AQ = QB[:, :m], AB[:, :m]
        th, S = np.linalg.eigh((T + T.T) / 2)
        th, S = th[::-1], S[:, ::-1]
        top = min(keep, m)
        Y, AY = Q @ S[:, :top], AQ @ S[:, :top]
        R = AY - Y * th[:top]
        res = np.linalg.norm(R, axis=0)
        scale = max(abs(float(th[0])), np.finfo(float).tiny)
        open_ = np.flatnonzero(res[:kk] > eps * scale)
        if open_.size == 0 or passes >= maxp or b == 0 or m >= n:
            return th[:kk], Y[:, :kk], passes
        if m + b > cap:  # thick restart on the leading Ritz vectors
            T = S[:, :top].T @ T @ S[:, :top]
            QB[:, :top], AB[:, :top] = Y, AY
            m = top
        bb = min(b, n - m)
        rest = np.setdiff1d(np.arange(top), open_)
        pick = np.concatenate([open_, rest[np.argsort(-res[rest], kind="stable")]])[:bb]
        W = _orth_against(QB[:, :m], R[:, pick], rng)
        AW = A.matmat(W)
        C = QB[:, :m].T @ AW
        T = np.block([[T, C], [C.T, W.T @ AW]])
        QB[:, m:m + W.shape[1]], AB[:, m:m + W.shape[1]] = W, AW
        m += W.shape[1]
        passes += 1


@dataclass(frozen=True)
class Extremes:
    r"""Result of :func:`extreme`: extreme Ritz values of ``H`` and their residuals.

    One-sided by interlacing: ``lambda_max ≤ λ_max(H)`` and ``lambda_min ≥ λ_min(H)`` always
    (certified). ``lambda_*_residual`` ``ρ``: an eigenvalue lies within ``ρ`` of each (so
    ``lambda_max + ρ`` and ``lambda_min − ρ`` bound the extremes once Lanczos has found them —
    estimates). ``converged``: both residuals below ``tol`` times the value.
    """

    lambda_min: float
    lambda_max: float
    lambda_min_residual: float
    lambda_max_residual: float
    iterations: int
    converged: bool

    @property
    def condition_number(self) -> float:
        """``lambda_max / lambda_min``: a lower bound on ``κ(H)`` (both ends one-sided)."""
        return self.lambda_max / self.lambda_min if self.lambda_min > 0 else float("inf")

    def to_dict(self) -> dict:
        return {**asdict(self), "condition_number": self.condition_number}


def extreme(op, *, tol: float = 1e-6, maxiter: int | None = None, seed: int = 0, check: bool = True) -> Extremes:
    r"""``λ_min`` and ``λ_max`` estimates of symmetric ``H`` by Lanczos (full reorthogonalization) with residual bounds.

    Lanczos from a seeded Gaussian start vector (components on every eigenvector, almost
    surely); stops once ``ρ_max ≤ tol·θ_max`` and ``ρ_min ≤ tol·θ_min`` or after ``maxiter``
    steps (default ``min(n, 300)``). ``λ_max`` converges in a few dozen steps; ``λ_min`` of an
    ill-conditioned ``H`` needs about ``√κ`` times more (Kaniel–Paige–Saad).

    Parameters
    ----------
    op : array (n, n) or object with ``shape`` and ``matvec``

    Returns
    -------
    Extremes

    Notes
    -----
    Cost: ``m`` products + ``O(n m²)`` reorthogonalization; memory ``(m + 1) n`` floats.
    """
    A = _Op(op, check=check)
    kmax = _maxiter(maxiter, min(A.n, 300)) if maxiter is None else _maxiter(maxiter, A.n)
    lz = _Lanczos(A, np.random.default_rng(seed).standard_normal(A.n), min(kmax, A.n))
    lo = hi = rlo = rhi = float("nan")
    converged = False
    while lz.m < kmax and not lz.invariant:
        lz.step()
        diag, off, bnext = lz.tridiagonal()
        lo, rlo, hi, rhi = _ritz_ends(diag, off, bnext)
        if lz.invariant or (rhi <= tol * abs(hi) and rlo <= tol * abs(lo)):
            converged = True
            break
    return Extremes(lambda_min=lo, lambda_max=hi, lambda_min_residual=rlo, lambda_max_residual=rhi,
                    iterations=lz.m, converged=converged)
