r"""Conjugate gradients with Gauss and Gauss–Radau bounds on ``yᵀH⁻¹y``, and a randomly pivoted Cholesky preconditioner.

See :mod:`twolayer.krylov` for the quadrature theory and the λ_min bound.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

from .._errors import InputError, SingularKernelError
from ._core import DEFAULT_TOL, _lower_bound, _maxiter, _Op, _ritz_ends, _start, _tol

__all__ = ["QuadraticForm", "quadratic_form", "rpcholesky"]

_EPS = np.finfo(np.float64).eps


# --------------------------------------------------------------------------- yᵀH⁻¹y
@dataclass(frozen=True)
class QuadraticForm:
    r"""Result of :func:`quadratic_form`: ``yᵀ(H + ridge·I)⁻¹y ∈ [lower, upper]``.

    ``value = (lower + upper)/2`` (``|value − true| ≤ (upper − lower)/2``; the Gauss value
    ``lower`` while ``upper`` is infinite). ``lower`` is the CG/Gauss bound; ``upper`` the
    Gauss–Radau bound with the node ``lambda_min_bound`` (from ``lambda_source``), certified when
    ``upper_certified``. ``converged``: ``(upper − lower)/lower ≤ tol`` reached within the cap.
    ``lambda_min``/``lambda_max`` are the extreme Ritz values of ``H + ridge·I`` on the Krylov
    space (one-sided: ``≥ λ_min``, ``≤ λ_max``) with residuals (preconditioned: ``lambda_max`` is
    ``λ_max(FFᵀ) ≤ λ_max`` and its "residual" ``tr(H − FFᵀ)`` bounds ``λ_max − λ_max(FFᵀ)``); ``lower_history``/``upper_history``
    the bounds after each iteration (after each refinement with mixed products).
    ``products``: ``"float64"``, or ``"mixed"`` when the iterations used the operator's float32
    product and ``refinements`` float64 residuals certified the interval (see :func:`quadratic_form`).
    ``solution`` is the last iterate ``x ≈ (H + ridge·I)⁻¹y`` and ``residual_norm`` ``‖y − (H + ridge·I)x‖``
    (the float64 residual with mixed products, the CG recurrence's otherwise);
    ``h_lambda_min_bound`` the node as a bound on ``λ_min(H + ridge·I)`` itself (preconditioned
    float64 CG: ``lambda_min_bound · σ``, as ``P ⪰ σI``).
    """

    value: float
    lower: float
    upper: float
    iterations: int
    lambda_min_bound: float
    lambda_source: str
    upper_certified: bool
    converged: bool
    tol: float
    lambda_min: float
    lambda_max: float
    lambda_min_residual: float
    lambda_max_residual: float
    preconditioner: str = "none"
    products: str = "float64"
    refinements: int = 0
    lower_history: np.ndarray | None = field(default=None, repr=False, compare=False)
    upper_history: np.ndarray | None = field(default=None, repr=False, compare=False)
    solution: np.ndarray | None = field(default=None, repr=False, compare=False)
    residual_norm: float = float("nan")
    h_lambda_min_bound: float = float("nan")

    @property
    def relative_gap(self) -> float:
        """``(upper − lower)/lower``."""
        return (self.upper - self.lower) / self.lower if self.lower > 0 else float("inf")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.pop("lower_history")
        d.pop("upper_history")
        d.pop("solution")
        return d


def rpcholesky(H, rank: int, *, seed: int = 0, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    r"""Randomly pivoted partial Cholesky ``H + shift·I ≈ F Fᵀ`` (Chen, Epperly, Tropp & Webber 2024, Alg. 1).

    Pivots are drawn with probability proportional to the diagonal of the current residual
    ``H − FFᵀ``, which stays positive semidefinite (a Schur complement). ``H`` (n, n) array, or
    an operator with ``shape``, ``diagonal()`` and ``rows(idx)`` (such as
    :class:`twolayer.kernels.KernelOperator`); returns ``F`` (n, r) and the residual diagonal
    (n,). Reads ``r`` columns; cost ``O(n r²)`` (+ ``r`` row evaluations of an operator).
    Stops early when the residual vanishes (``r`` may then be smaller than ``rank``).
    """
    if hasattr(H, "rows") and hasattr(H, "diagonal") and not isinstance(H, np.ndarray):
        n = int(H.shape[0])
        diag0 = np.asarray(H.diagonal(), dtype=np.float64)

        def row(s: int) -> np.ndarray:
            return np.asarray(H.rows([s]), dtype=np.float64).reshape(-1)
    else:
        A = np.asarray(H, dtype=np.float64)
        n = A.shape[0]
        diag0 = np.diag(A)

        def row(s: int) -> np.ndarray:
            return A[s]
    r = int(min(rank, n))
    if r < 1:
        raise InputError(f"the preconditioner rank must be a positive integer, got {rank}")
    rng = np.random.default_rng(seed)
    d = diag0.astype(np.float64) + shift
    scale = float(d.sum())
    F = np.zeros((n, r))
    for i in range(r):
        total = float(d.sum())
        if not total > 1e-14 * scale:
            return F[:, :i], d
        s = int(rng.choice(n, p=d / total))
        g = row(s) - F[:, :i] @ F[s, :i]  # row s = column s of the symmetric H (contiguous)
        if shift:
            g[s] += shift
        if not g[s] > 0:
            return F[:, :i], d
        F[:, i] = g / math.sqrt(g[s])
        d = np.maximum(d - F[:, i] ** 2, 0.0)
        d[s] = 0.0
    return F, d


def _preconditioner(op: _Op, rank: int, seed: int):
    """``(apply P⁻¹, σ, label, (λ_max(FFᵀ), tr(H − FFᵀ)))`` for ``P = FFᵀ + σI`` (randomly pivoted Cholesky).

    ``FFᵀ ⪯ H`` gives ``λ_max(FFᵀ) ≤ λ_max(H) ≤ λ_max(FFᵀ) + tr(H − FFᵀ)``: the second entry of the
    last tuple is a certified bracket width.
    """
    src = op.dense
    if src is None:
        src = op.source
        if not (hasattr(src, "rows") and hasattr(src, "diagonal")):
            raise InputError("precondition= reads rows of H: it needs H as an explicit array or an operator with diagonal() and "
                             "rows(idx) (twolayer.kernels.KernelOperator), or drop precondition= (precondition=0)")
    F, d = rpcholesky(src, rank, seed=seed, shift=op.shift)
    sigma = float(d.sum()) / op.n
    if not sigma > 0:  # exact low rank reproduction: any tiny sigma works
        sigma = 1e-12 * float(np.trace(F.T @ F)) / op.n
    # (σI + FᵀF)⁻¹ = U diag(1/(σ + s)) Uᵀ from FᵀF = U diag(s) Uᵀ; every product through numpy's BLAS (one
    # thread pool: alternating with scipy's in each iteration made PCG 2x slower with two threads)
    s, U = np.linalg.eigh(F.T @ F) if F.shape[1] else (np.zeros(0), np.zeros((0, 0)))
    FU = F @ U
    inv = 1.0 / (sigma + np.maximum(s, 0.0))
    top = float(s[-1]) if s.size else 0.0

    def apply(v):
        return (v - FU @ (inv * (FU.T @ v))) / sigma

    return apply, sigma, f"rpcholesky(rank={F.shape[1]}, sigma={sigma:.3g})", (top, float(d.sum()))


def quadratic_form(op, y, *, tol: float = DEFAULT_TOL, lambda_min_lower: float | None = None,
                   maxiter: int | None = None, ridge: float = 0.0, precondition: int | None = None,
                   seed: int = 0, check: bool = True, mixed: bool | None = None) -> QuadraticForm:
    r"""``yᵀ(H + ridge·I)⁻¹y`` by conjugate gradients with Gauss lower and Gauss–Radau upper bounds.

    CG (Hestenes–Stiefel) from ``x₀ = 0`` gives ``‖x − x_k‖²_H = yᵀH⁻¹y − Σ_{j<k} γ_j ‖r_j‖²``, so
    ``lower_k = Σ_{j<k} γ_j ‖r_j‖²`` is the ``k``-point Gauss rule for ``f = 1/λ`` (a lower bound).
    The Gauss–Radau upper bound with node ``a`` is ``upper_k = lower_k + γ^{(a)}_k ‖r_k‖²`` with
    ``γ^{(a)}_0 = 1/a``, ``γ^{(a)}_{k+1} = (γ^{(a)}_k − γ_k)/(a(γ^{(a)}_k − γ_k) + δ_{k+1})``,
    ``δ_{k+1} = ‖r_{k+1}‖²/‖r_k‖²`` (Meurant & Tichý, Numer. Algorithms 2019, the "CGQ"
    algorithm; Golub & Meurant 2010, §12.3). Stops once ``(upper − lower)/lower ≤ tol``. With
    ``precondition`` the same recurrences run on ``P⁻¹H`` with ``r_kᵀP⁻¹r_k`` in place of ``‖r_k‖²``.

    Parameters
    ----------
    op : array (n, n) or object with ``shape`` and ``matvec``
        Symmetric positive definite ``H`` (float64; other dtypes are converted).
    y : array_like, shape (n,)
    tol : float
        Relative width of the certified interval at which to stop.
    lambda_min_lower : float, optional
        A number ``0 < a ≤ λ_min(H + ridge·I)`` for the upper bound. Default: ``ridge`` when
        positive (certified for PSD ``H``), else the estimate ``θ_min − ρ_min`` (see the module
        docstring: ``upper_certified=False``). A value above a Ritz value of ``H`` is refuted and
        replaced by the estimate (``lambda_source`` says so).
    maxiter : int, optional
        Iteration cap (default ``min(2n, 1000)``); ``converged=False`` when reached.
    ridge : float
        Use ``H + ridge·I``.
    precondition : int, optional
        Rank ``r`` of a randomly pivoted Cholesky preconditioner (explicit ``H`` only).
    seed : int
        Seed of the preconditioner's pivots.
    check : bool
        Probe ``H`` for symmetry first (one extra block product of two vectors).
    mixed : bool, optional
        Mixed-precision refinement (default: when ``op`` has a ``matvec_float32`` method, as a
        :class:`~twolayer.kernels.KernelOperator` with float32 storage does). The CG iterations
        then use the float32 product (a bare ``sgemv``: 5–8× cheaper than the float64-accumulated
        product at n = 10,000), and each pass ends with one float64 residual ``r = y − Hx``, from
        which the interval follows for *any* ``x`` (no recurrence to trust):
        ``2yᵀx − xᵀHx = yᵀx + xᵀr ≤ yᵀH⁻¹y = yᵀx + xᵀr + rᵀH⁻¹r ≤ yᵀx + xᵀr + ‖r‖²/a``
        (the first since ``x ↦ 2yᵀx − xᵀHx`` is maximal at ``H⁻¹y``; ``a ≤ λ_min`` as above).
        A pass reduces the residual by ``10⁴`` or to what ``tol`` needs; passes repeat (iterative
        refinement, Wilkinson 1963; for CG, e.g. Carson & Higham, SISC 40, 2018) until the interval
        meets ``tol``. Where a pass fails to reduce the float64 residual (``κ`` near ``1/u₃₂``),
        the float64 iteration takes over.

    Returns
    -------
    QuadraticForm

    Notes
    -----
    Cost: per iteration one product ``Hv`` (``2n²`` flops on an array), ``O(n)`` vector work and
    ``O(k)`` for the extreme Ritz values of the CG tridiagonal (all iterations: ``O(k²)``). With a
    preconditioner of rank ``r``: ``O(nr²)`` once and ``O(nr)`` per iteration.
    """
    A = _Op(op, ridge, check=check)
    n = A.n
    tol = _tol(tol)
    kmax = _maxiter(maxiter, 2 * n)
    user = _lower_bound(lambda_min_lower, "lambda_min_lower")
    y = _start(y, n)
    if precondition is not None:
        pinv, sigma, label, top = _preconditioner(A, int(precondition), seed)
    else:
        pinv, sigma, label, top = None, 0.0, "none", None
    # the certified node (for H), if any
    cert: float | None
    if user is not None:
        cert, source = user, "lambda_min_lower (given)"
    elif ridge > 0:
        cert, source = float(ridge), "ridge (H positive semidefinite: lambda_min(H + ridge I) >= ridge)"
    else:
        cert, source = None, ""
    fast = getattr(op, "matvec_float32", None) if not isinstance(op, np.ndarray) else None
    if mixed is None:
        mixed = fast is not None
    elif mixed and fast is None:
        raise InputError("mixed=True needs an operator with a matvec_float32 method (a KernelOperator with float32 "
                         "storage); drop mixed= for this one")
    if mixed:
        done = _refined(A, fast, y, tol=tol, kmax=kmax, cert=cert, source=source, pinv=pinv, sigma=sigma, label=label,
                        top=top)
        if done is not None:
            return done
    # the certified node for P⁻¹H when preconditioned
    if cert is not None and pinv is not None:
        cert, source = cert / (cert + sigma), source + "; a/(a + sigma) for the preconditioned operator"
    r = y.copy()
    x = np.zeros(n)
    z = pinv(r) if pinv else r
    p = z.copy()
    rz = float(r @ z)
    lower = 0.0
    gam, dlt, lows, ups = [], [], [], []
    P_store: list[np.ndarray] = []
    AP_store: list[np.ndarray] = []
    upper, a_used, refuted = float("inf"), float("nan"), None
    gmu: float | None = None  # Radau recurrence state γ^{(a)} for the node gmu_a
    gmu_a = float("nan")
    th_lo = th_hi = rho_lo = rho_hi = float("nan")
    converged = False
    for k in range(kmax):
        Ap = A.matvec(p)
        pAp = float(p @ Ap)
        if not pAp > (0.0 if k == 0 else 16 * _EPS * th_hi * float(p @ p)):  # Rayleigh quotient at rounding level
            raise SingularKernelError(
                f"H is not positive definite (p^T H p / p^T p = {pAp / float(p @ p):.3g} at CG iteration {k}); a singular H (duplicate or "
                f"parallel inputs) needs an explicit ridge, e.g. ridge=1e-8 (--ridge 1e-8)")
        if pinv is not None:
            P_store.append(p.copy())
            AP_store.append(Ap)
        g = rz / pAp
        lower += g * rz
        x += g * p
        r -= g * Ap
        z = pinv(r) if pinv else r
        rz1 = float(r @ z)
        d = max(rz1, 0.0) / rz
        gam.append(g)
        dlt.append(d)
        th_lo, rho_lo, th_hi, rho_hi = _cg_ritz_ends(gam, dlt)
        if cert is not None and refuted is None and cert > th_lo + 1e-10 * th_hi:
            refuted = th_lo  # a Ritz value below the given bound: it is not a lower bound on lambda_min
        use_cert = cert is not None and refuted is None
        a = cert if cert is not None and use_cert else th_lo - rho_lo
        if a > 0 and rz1 > 0:
            if gmu is None or a != gmu_a:  # (re)run the Radau recurrence from γ^{(a)}_0 = 1/a
                gmu_a, gmu = a, 1.0 / a
                for j in range(k + 1):
                    gmu = _radau_step(gmu, gam[j], dlt[j], a)
            else:
                gmu = _radau_step(gmu, g, d, a)
            if gmu is None and use_cert:  # γ^{(a)} fell below γ: the node lies above lambda_min
                refuted = th_lo
            upper = lower + gmu * rz1 if gmu is not None else float("inf")
        else:
            gmu = None
            upper = lower if rz1 <= 0 else float("inf")  # rz1 = 0: x_k is the exact solution
        a_used = a
        lows.append(lower)
        ups.append(upper)
        if upper - lower <= tol * lower:
            converged = True
            break
        p = z + d * p
        rz = rz1
    certified = cert is not None and refuted is None
    source = _node_source(source, cert, refuted)
    if pinv is not None and top is not None:  # Ritz values of H itself: lambda_min on the preconditioned Krylov space, lambda_max on F
        th_lo, rho_lo, _, _ = _rayleigh_ritz_ends(np.array(P_store).T, np.array(AP_store).T)
        th_hi, rho_hi = top
    value = 0.5 * (lower + upper) if math.isfinite(upper) else lower
    return QuadraticForm(value=value, lower=lower, upper=upper, iterations=len(gam), lambda_min_bound=a_used,
                         lambda_source=source, upper_certified=certified,
                         converged=converged, tol=tol, lambda_min=th_lo, lambda_max=th_hi,
                         lambda_min_residual=rho_lo, lambda_max_residual=rho_hi, preconditioner=label,
                         lower_history=np.asarray(lows), upper_history=np.asarray(ups), solution=x,
                         residual_norm=float(np.linalg.norm(r)),
                         h_lambda_min_bound=a_used * sigma if pinv is not None else a_used)



def _cg_ritz_ends(gam: list, dlt: list) -> tuple[float, float, float, float]:
    """Extreme Ritz values and residuals of the CG tridiagonal ``T_k`` built from the coefficients
    ``γ_j`` and ``δ_{j+1}`` (Lanczos of ``P^{-1/2} H P^{-1/2}``; ``β_{k+1} = √δ_k / γ_k``)."""
    ga, da = np.asarray(gam), np.asarray(dlt)
    diag = 1.0 / ga
    diag[1:] += da[:-1] / ga[:-1]
    return _ritz_ends(diag, np.sqrt(da[:-1]) / ga[:-1], math.sqrt(da[-1]) / ga[-1])


def _node_source(source: str, cert: float | None, refuted: float | None, estimate_note: str = "") -> str:
    """``lambda_source`` of a result: the given/ridge node's source, or why the estimate was used."""
    if refuted is not None:
        return (f"estimate theta_min - rho_min (smallest Ritz value minus its residual); the {source.split(' ')[0]} "
                f"node {cert:.6g} was refuted: it exceeds the smallest Ritz value {refuted:.6g} >= lambda_min")
    if cert is None:
        return "estimate theta_min - rho_min (smallest Ritz value minus its residual; not a proof)" + estimate_note
    return source

def _radau_step(gmu: float | None, g: float, d: float, a: float) -> float | None:
    """One step of the Gauss–Radau recurrence; None once ``γ^{(a)} < γ`` (node above ``λ_min``)."""
    if gmu is None:
        return None
    e = gmu - g
    if e < -1e-12 * g:
        return None
    e = max(e, 0.0)
    return e / (a * e + d) if a * e + d > 0 else 0.0


def _rayleigh_ritz_ends(P: np.ndarray, AP: np.ndarray) -> tuple[float, float, float, float]:
    """Extreme Ritz values of ``H`` on ``span(P)`` (``AP = HP``) and their residual norms ``‖Hv − θv‖``."""
    nrm = np.linalg.norm(P, axis=0)
    P, AP = P / nrm, AP / nrm
    g, U = np.linalg.eigh(P.T @ P)
    keep = g > 1e-12 * g[-1]
    B = U[:, keep] / np.sqrt(g[keep])
    K = P.T @ AP
    theta, S = np.linalg.eigh(B.T @ ((K + K.T) / 2) @ B)
    C = B @ S[:, [0, -1]]
    R = AP @ C - (P @ C) * theta[[0, -1]]
    res = np.linalg.norm(R, axis=0)
    return float(theta[0]), float(res[0]), float(theta[-1]), float(res[1])


# --------------------------------------------------------------------------- mixed precision
#: A refinement pass ends its float32 iterations once the residual fell by this factor (a float32
#: product carries relative errors of ~1e-7 to 1e-6, so a pass cannot promise much more).
_PASS_REDUCTION = 1e-4
#: At most this many refinement passes (float64 residuals); tol = 1e-6 needs one or two.
_MAX_PASSES = 8
#: The first pass keeps up to this many ``(p, Hp)`` pairs for the Ritz values of ``H``.
_RITZ_STORE = 200


def _refined(A: _Op, fast, y: np.ndarray, *, tol: float, kmax: int, cert: float | None, source: str, pinv,
             sigma: float, label: str, top) -> QuadraticForm | None:
    """The ``mixed`` path of :func:`quadratic_form`: float32 (P)CG passes, float64 residuals, the
    a-posteriori interval ``[yᵀx + xᵀr, yᵀx + xᵀr + ‖r‖²/a]``; None where the float64 iteration
    must take over (a pass that does not reduce the float64 residual, or no positive node ``a``).

    Without a given node, ``a`` is the estimate ``θ_min − ρ_min`` of the first pass's CG
    tridiagonal; preconditioned, that estimates ``μ ≤ λ_min(P⁻¹H)`` and ``a = μσ`` (``vᵀHv ≥
    μ vᵀPv ≥ μσ‖v‖²`` as ``P = FFᵀ + σI ⪰ σI``)."""
    shift = A.shift

    def low(v):
        w = np.asarray(fast(v), dtype=np.float64).reshape(-1)
        return w + shift * v if shift else w

    x = np.zeros(A.n)
    r = y.copy()
    rn = float(np.linalg.norm(r))
    store: tuple[list, list] | None = ([], []) if pinv is not None else None
    its = passes = 0
    a, refuted = cert, None
    lower, upper, converged = -math.inf, math.inf, False
    lows, ups = [], []
    th_lo = rho_lo = th_hi = rho_hi = float("nan")
    while its < kmax and passes < _MAX_PASSES:
        goal = _PASS_REDUCTION * rn
        if passes and lower > 0 and a is not None:  # what tol needs: ‖r‖² ≤ tol·lower·a
            goal = max(goal, 0.5 * math.sqrt(tol * lower * a))
        step = _pcg(low, pinv, r, goal, kmax - its, store if passes == 0 else None)
        if step is None:
            return None
        d, k, gam, dlt = step
        its += k
        x += d
        r_new = y - A.matvec(x)  # the float64 residual: every bound below rests on it alone
        passes += 1
        if passes == 1:
            t_lo, r_lo, t_hi, r_hi = _cg_ritz_ends(gam, dlt)
            if store is not None:  # Ritz values of H itself on the preconditioned Krylov space
                th_lo, rho_lo, _, _ = _rayleigh_ritz_ends(np.array(store[0]).T, np.array(store[1]).T)
                th_hi, rho_hi = top
                estimate = (t_lo - r_lo) * sigma
            else:
                th_lo, rho_lo, th_hi, rho_hi = t_lo, r_lo, t_hi, r_hi
                estimate = t_lo - r_lo
            store = None
            if cert is not None and cert > th_lo + 1e-10 * th_hi:
                refuted = th_lo  # a Ritz value below the given bound: it is not a lower bound on lambda_min
            if cert is None or refuted is not None:
                a = estimate
            if not (a is not None and a > 0):
                return None
        rn_new = float(np.linalg.norm(r_new))
        if not rn_new < rn:  # float32 products too coarse for this H: hand over to float64
            return None
        r, rn = r_new, rn_new
        assert a is not None
        lower = max(lower, float(y @ x + x @ r))  # every pass gives valid bounds: keep the best
        upper = min(upper, lower + rn * rn / a)
        lows.append(lower)
        ups.append(upper)
        if upper - lower <= tol * lower:
            converged = True
            break
    certified = cert is not None and refuted is None
    source = _node_source(source, cert, refuted, "; times sigma for H from P^-1 H" if pinv is not None else "")
    assert a is not None
    return QuadraticForm(value=0.5 * (lower + upper), lower=lower, upper=upper, iterations=its, lambda_min_bound=a,
                         lambda_source=source, upper_certified=certified, converged=converged, tol=tol,
                         lambda_min=th_lo, lambda_max=th_hi, lambda_min_residual=rho_lo, lambda_max_residual=rho_hi,
                         preconditioner=label, products="mixed", refinements=passes,
                         lower_history=np.asarray(lows), upper_history=np.asarray(ups), solution=x, residual_norm=rn,
                         h_lambda_min_bound=a)


def _pcg(low, pinv, r0: np.ndarray, goal: float, kmax: int, store):
    """(P)CG on ``H d = r0`` with the float32 product ``low`` until ``‖r‖ ≤ goal`` (recursive residual) or
    ``kmax`` iterations: ``(d, iterations, γ's, δ's)`` (the CG coefficients, as in :func:`quadratic_form`),
    or None at a non-positive curvature (the float64 iteration decides). ``store``: lists for ``(p, Hp)``."""
    d = np.zeros_like(r0)
    r = r0.copy()
    z = pinv(r) if pinv else r
    p = z.copy()
    rz = float(r @ z)
    gam: list[float] = []
    dlt: list[float] = []
    while len(gam) < kmax:
        Ap = low(p)
        pAp = float(p @ Ap)
        if not pAp > 0:
            return None
        if store is not None and len(store[0]) < _RITZ_STORE:
            store[0].append(p.copy())
            store[1].append(Ap)
        g = rz / pAp
        d += g * p
        r -= g * Ap
        z = pinv(r) if pinv else r
        rz1 = float(r @ z)
        gam.append(g)
        dlt.append(max(rz1, 0.0) / rz)
        if float(np.linalg.norm(r)) <= goal or not rz1 > 0:
            break
        p = z + dlt[-1] * p
        rz = rz1
    return d, len(gam), gam, dlt
