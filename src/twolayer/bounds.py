r"""Data-dependent complexity, generalization and movement bounds of Arora et al. (2019).

Everything here reduces to solves with the Gram matrix ``H = H^∞``. They are done by a float64
Cholesky factorization (:class:`KernelSolver`), computed once and reused; ``λ_min``, ``λ_max``
and the condition number are reported with every solve. A singular or numerically singular
``H`` (duplicate or parallel inputs) raises :class:`~twolayer.SingularKernelError` naming the
rows, with an explicit ``ridge`` option as the way out — never a NaN or a silent pseudo-inverse.

Constants
---------
The paper states its theorems with ``O(·)``. The functions here evaluate every term whose
constant the proofs make explicit and say which terms stay hidden:

* Theorem 5.1 / Corollary 5.2 (App. D.3): for GD run long enough at large width and small
  ``κ``, with probability ≥ 1 − δ,
  ``L_D ≤ L_S + 2 R_S(F) + 3 sqrt(log(2 N_B / δ') / (2n))`` with
  ``L_S ≤ 1/√n`` (training term, (i)), ``R_S(F) ≤ sqrt(yᵀH⁻¹y / (2n)) + 2/√n`` ((iii)),
  ``N_B = ⌈sqrt(n/λ₀)⌉`` classes in the union bound and ``δ' = δ/3``. Hence
  ``L_D ≤ sqrt(2yᵀH⁻¹y/n) + 5/√n + 3 sqrt(log(6 N_B/δ)/(2n))``. Hidden (not evaluated): the
  finite-width terms ``poly(n, 1/λ₀, 1/δ)/(m^{1/4} κ^{1/2})`` and ``O(nκ/(λ₀δ))``, which vanish
  as ``m → ∞`` with ``κ = O(λ₀δ/n)``, and the required number of iterations
  ``k = Ω(log(n/δ)/(ηλ₀))``.
* Theorem 6.1 / Corollary 6.2 (App. E): ``sqrt(yᵀH⁻¹y) ≤ 3 Σ_j p_j |α_j| ‖β_j‖^{p_j}`` for
  ``y = Σ_j α_j (β_jᵀx)^{p_j}``, ``p_j ∈ {1, 2, 4, 6, …}``; the proof gives the sharper
  per-term constants ``2|α|‖β‖`` (p = 1) and ``√(2π)(2l−1)|α|‖β‖^{2l}`` (p = 2l).
* Lemma C.1: per-neuron movement ``‖w_r(k) − w_r(0)‖ ≤ 4√n ‖y − u(0)‖ / (√m λ₀)``.
* Lemma C.3: ``‖H(0) − H^∞‖_F² ≤ n² log(2n²/δ) / (2m)`` with probability ≥ 1 − δ.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import scipy.linalg as sla

from ._errors import InputError, SingularKernelError
from ._linalg import cholesky_lower
from ._progress import long_call_notice
from ._validation import as_labels, check_sign_coding
from .spectra import Spectrum, check_symmetric_matrix, extreme_eigenvalues

__all__ = [
    "KernelSolver",
    "Complexity",
    "complexity",
    "KRYLOV_FROM",
    "PRECONDITION_RANK",
    "GeneralizationBound",
    "generalization_bound",
    "polynomial_target_bound",
    "expected_noisy_complexity",
    "movement_bound",
    "gram_concentration_bound",
    "find_parallel_rows",
]

#: A Gram matrix whose condition number exceeds this is treated as numerically singular.
MAX_CONDITION = 1e12


def find_parallel_rows(H: np.ndarray, tol: float = 1e-9, limit: int = 10) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, whose feature vectors coincide: ``H_ij² ≥ (1−tol) H_ii H_jj``.

    For the ReLU kernels this happens exactly for duplicate or parallel inputs (same direction).
    Cost ``O(n²)``; returns at most ``limit`` pairs.
    """
    diag = np.diag(H)
    ok = diag > 0  # a row with a non-positive diagonal has no direction: it pairs with nothing
    d = np.sqrt(np.where(ok, diag, 1.0))
    pairs: list[tuple[int, int]] = []
    for i0 in range(0, H.shape[0], 2048):
        blk = H[i0:i0 + 2048] / d[i0:i0 + 2048, None] / d[None, :]
        blk[~ok[i0:i0 + 2048]] = 0.0
        blk[:, ~ok] = 0.0
        ii, jj = np.nonzero(blk >= 1.0 - tol)
        for a, b in zip(ii + i0, jj):
            if a < b:
                pairs.append((int(a), int(b)))
                if len(pairs) >= limit:
                    return pairs
    return pairs


class KernelSolver:
    r"""Cholesky factorization of ``H + ridge·I``, reused for every solve.

    Parameters
    ----------
    H : array_like, shape (n, n)
        Symmetric positive definite Gram matrix.
    ridge : float
        Explicit Tikhonov term added to the diagonal (default 0: the paper's exact ``H⁻¹``).
    spectrum : Spectrum, optional
        If already computed, its exact ``λ_min``/``λ_max`` are reported instead of estimates.
    overwrite : bool
        Factor in place (destroys ``H``; saves ``n²`` memory): with a C- or F-contiguous float64
        ``H``, the factor lives in ``H``'s memory (the Fortran-ordered transpose view of a C-ordered
        ``H``), and the solver needs nothing beyond it but a few tiles.
    exact_eigenvalues : bool, optional
        Compute ``λ_min``/``λ_max`` exactly by ``eigvalsh`` (about 5× a Cholesky). Default: exact
        for n ≤ 1000, bounded estimates above (see
        :func:`~twolayer.spectra.extreme_eigenvalues`).

    Attributes
    ----------
    lambda_min, lambda_max, condition_number : float
        Of ``H + ridge·I``. When estimated (``eigenvalues_exact`` False) they are one-sided:
        ``lambda_min`` ≥ the true value, ``lambda_max`` ≤ the true value, so the condition
        number is a lower bound; ``lambda_min_residual``/``lambda_max_residual`` are the Ritz
        residuals.

    Notes
    -----
    Cost: Cholesky ``n³/3`` flops (n = 10,000 ≈ 5 s on 2 cores) + ``O(n²)`` per solve + about
    10% of the Cholesky for the estimated extreme eigenvalues. The factorization is
    :func:`twolayer._linalg.cholesky_lower`: in place on a copy of ``H`` (none with
    ``overwrite``), blocked through GEMMs above 12,000 rows.
    """

    def __init__(self, H, *, ridge: float = 0.0, spectrum: Spectrum | None = None, overwrite: bool = False,
                 exact_eigenvalues: bool | None = None):
        if not (np.isfinite(ridge) and ridge >= 0):
            raise InputError(f"ridge must be a finite number >= 0, got {ridge}")
        A = check_symmetric_matrix(H)
        self.n = A.shape[0]
        self.ridge = float(ridge)
        if spectrum is not None:
            ext = {"lambda_max": spectrum.lambda_max, "lambda_min": spectrum.lambda_min,
                   "lambda_max_residual": 0.0, "lambda_min_residual": 0.0, "exact": True}
        else:  # before the factorization, which may overwrite A (the exact path needs all of H)
            ext = extreme_eigenvalues(A, exact=exact_eigenvalues)
        M = A if overwrite else A.copy()
        if ridge:
            M[np.diag_indices_from(M)] += ridge
        try:
            long_call_notice("cholesky", M.shape[0])
            self._factor = cholesky_lower(M, overwrite=True)  # in place on M's transposed view; no SYRK crash
            ok = True
        except np.linalg.LinAlgError:
            ok = False
        if "lambda_min" not in ext and ok:
            low = extreme_eigenvalues(factor=self._factor)
            ext.update(lambda_min=low["lambda_min"] - ridge, lambda_min_residual=low["lambda_min_residual"])
        #: Extreme eigenvalues of ``H + ridge·I``, exact or estimated (see ``eigenvalues_exact``).
        self.lambda_max = float(ext["lambda_max"]) + ridge
        self.lambda_min = float(ext.get("lambda_min", float("nan"))) + ridge
        self.lambda_max_residual = float(ext["lambda_max_residual"])
        self.lambda_min_residual = float(ext.get("lambda_min_residual", float("nan")))
        self.eigenvalues_exact = bool(ext["exact"])
        cond = self.lambda_max / self.lambda_min if ok and self.lambda_min > 0 else float("inf")
        self.condition_number = float(cond)
        if not ok or not cond <= MAX_CONDITION:
            # factored in place (even partly), H is no longer H: no search for parallel rows in it
            destroyed = overwrite and (A.flags.c_contiguous or A.flags.f_contiguous)
            self._raise_singular(None if destroyed else A)

    def _raise_singular(self, A):
        pairs = find_parallel_rows(A) if A is not None else []
        what = "H + ridge*I" if self.ridge else "H"
        lam = "" if math.isnan(self.lambda_min) else f", lambda_min ~ {self.lambda_min:.3g}"
        cond = "" if math.isinf(self.condition_number) else f", condition number {self.condition_number:.3g}"
        if pairs:
            rows = "; ".join(f"{i} and {j}" for i, j in pairs[:5])
            cause = (f"rows {rows}{' ...' if len(pairs) > 5 else ''} are duplicate or parallel inputs "
                     f"(H-infinity is singular when two inputs point the same way)")
            fix = "remove duplicates (e.g. np.unique(X, axis=0)) or pass ridge=1e-8 (--ridge 1e-8)"
        else:
            cause = "it is numerically singular"
            fix = "pass an explicit ridge, e.g. ridge=1e-8 (--ridge 1e-8), or use fewer / more distinct points"
        raise SingularKernelError(f"{what} cannot be inverted{lam}{cond}: {cause}; {fix}",
                                  rows=pairs, lambda_min=None if math.isnan(self.lambda_min) else self.lambda_min)

    def solve(self, y) -> np.ndarray:
        """``(H + ridge I)⁻¹ y``; ``y`` shape (n,) or (n, k)."""
        Y = np.asarray(y, dtype=np.float64)
        if Y.shape[0] != self.n or Y.ndim > 2:
            raise InputError(f"right-hand side must have {self.n} rows, got shape {Y.shape}")
        return sla.cho_solve(self._factor, Y, check_finite=False)

    def quad(self, y) -> float:
        """``yᵀ (H + ridge I)⁻¹ y`` computed as ``‖L⁻¹y‖²`` (always ≥ 0)."""
        y = as_labels(y, self.n)
        z = sla.solve_triangular(self._factor[0], y, lower=True, check_finite=False)
        return float(np.sum(z * z))  # not a BLAS dot: keeps numpy's BLAS threads asleep next to scipy's


@dataclass(frozen=True)
class Complexity:
    """Result of :func:`complexity`. ``complexity = sqrt(2 yHy / n)`` (Arora et al. eq. 10).

    ``method`` is ``"dense"`` (Cholesky) or ``"krylov"`` (:func:`twolayer.krylov.quadratic_form`).
    ``yHy ∈ [yHy_lower, yHy_upper]`` and ``complexity ∈ [complexity_lower, complexity_upper]``:
    the Gauss / Gauss–Radau interval of the Krylov path (certified when ``upper_certified``; the
    λ_min bound it used and where it came from in ``lambda_min_bound`` / ``lambda_source``), a
    single point for the dense path (a direct solve: rounding error only, relative ``≈ κ ε``).
    ``iterations``: CG iterations (0 for dense); ``converged``: the interval met ``tol``.
    ``products``: ``"float64"``, or ``"mixed"`` (float32 CG iterations; the interval then comes
    from ``refinements`` float64 residuals: ``[yᵀx + xᵀr, yᵀx + xᵀr + ‖r‖²/a]``).
    The Krylov interval is for the matrix the products use (``S``: float32-rounded for float32
    storage); ``storage_error`` bounds ``|yᵀS⁻¹y − yᵀ(H^∞)⁻¹y|``
    (:meth:`twolayer.kernels.KernelOperator.quadratic_form_error`; 0 for arrays), so
    ``[yHy_lower − storage_error, yHy_upper + storage_error]`` holds for ``H^∞`` itself.
    """

    n: int
    complexity: float
    yHy: float
    lambda_min: float
    lambda_max: float
    condition_number: float
    ridge: float
    label_norm2: float
    eigenvalues_exact: bool = True
    method: str = "dense"
    complexity_lower: float | None = None
    complexity_upper: float | None = None
    yHy_lower: float | None = None
    yHy_upper: float | None = None
    iterations: int = 0
    converged: bool = True
    upper_certified: bool = True
    lambda_min_bound: float | None = None
    lambda_source: str = "none (direct Cholesky solve)"
    tol: float | None = None
    preconditioner: str = "none"
    products: str = "float64"
    refinements: int = 0
    storage_error: float = 0.0

    def __post_init__(self):
        for name, value in (("complexity_lower", self.complexity), ("complexity_upper", self.complexity),
                            ("yHy_lower", self.yHy), ("yHy_upper", self.yHy)):
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    def to_dict(self) -> dict:
        return asdict(self)


#: ``method="auto"`` of :func:`complexity` uses the Krylov path from this many rows on (and never
#: with ``solver=``). Measured (``benchmarks/bench_krylov.py``, benchmarks/README.md): on random
#: d = 784 rows CG wins from n ≈ 1,000 (0.28× the bare Cholesky + solve at n = 2,000, 0.09× at
#: 5,000); on ill-conditioned digits-like rows (κ ≈ 1e5) preconditioned CG is 1.4–1.9× the bare
#: Cholesky at n ≈ 2,000 with two BLAS threads (0.6× with one), 0.64× at 4,000 and 0.53× at 5,000
#: — so from 4,000 on the Krylov path is not slower on any data measured, and results below it
#: keep their dense numbers.
KRYLOV_FROM = 4000
#: Default preconditioner rank of the Krylov path (randomly pivoted Cholesky), from 1,000 rows on.
PRECONDITION_RANK = 100
METHODS = ("auto", "dense", "krylov")


def complexity(H, y, *, ridge: float = 0.0, solver: KernelSolver | None = None,
               spectrum: Spectrum | None = None, exact_eigenvalues: bool | None = None, method: str = "auto",
               tol: float = 1e-6, lambda_min_lower: float | None = None, precondition: int | None = None,
               maxiter: int | None = None, overwrite: bool = False, mixed: bool | None = None) -> Complexity:
    r"""Arora et al. (2019) eq. 10: the data-dependent complexity ``sqrt(2 yᵀ(H^∞)⁻¹y / n)``.

    Parameters
    ----------
    H : array_like, shape (n, n), or an operator
        ``H^∞`` of the training inputs (ignored when ``solver`` is given). An object with
        ``shape`` and ``matvec`` (a :class:`twolayer.kernels.KernelOperator`, a scipy
        ``LinearOperator``, a user's own kernel; see :mod:`twolayer.kernels.operator`) takes
        the Krylov path (``method`` auto or krylov); its preconditioner needs ``diagonal()`` and
        ``rows(idx)`` (default rank 0 without them).
    y : array_like, shape (n,)
        Training labels, ±1 for a binary task (or real regression targets). Labels taking
        exactly the values 0 and 1 raise :class:`InputError` (fix: ``y = 2*y - 1``): eq. 10 is
        defined for ±1 labels and a 0/1 coding of the classes gives a different number.
    ridge : float
        Solve with ``H + ridge·I`` instead (recorded in the result).
    solver : KernelSolver, optional
        Reuse an existing factorization (implies the dense method).
    spectrum : Spectrum, optional
        Exact extreme eigenvalues, if already computed (the Krylov path then also takes its
        certified λ_min bound from it: ``λ_min − 8nε λ_max``).
    exact_eigenvalues : bool, optional
        See :class:`KernelSolver` (default: exact for n ≤ 1000, one-sided estimates above).
    method : {"auto", "dense", "krylov"}
        ``dense``: one Cholesky. ``krylov``: CG with a certified Gauss / Gauss–Radau interval
        (:func:`twolayer.krylov.quadratic_form`), stopped at the relative width ``tol``. ``auto``
        (default): krylov from :data:`KRYLOV_FROM` rows on without ``solver``, dense otherwise,
        and dense where the Krylov interval does not converge within ``maxiter``.
    tol : float
        Krylov only: relative width of the ``yᵀH⁻¹y`` interval.
    lambda_min_lower : float, optional
        Krylov only: a proven ``0 < a ≤ λ_min(H + ridge·I)`` for the upper bound (default: the
        ridge if positive, else an estimate; see ``lambda_source`` / ``upper_certified``).
    precondition : int, optional
        Krylov only: rank of the randomly pivoted Cholesky preconditioner; ``0`` for plain CG.
        Default :data:`PRECONDITION_RANK` from 1,000 rows on (none below). It pays on
        ill-conditioned ``H`` (digits, κ ≈ 3.5e4: 106 → 24 CG iterations, 0.35–0.45× the time;
        digits-like n = 5,000, κ ≈ 1e5: 175 → 38, 0.56×) and costs little on well-conditioned
        ``H`` (random d = 784: 12 → 14 iterations at n = 5,000).
    maxiter : int, optional
        Krylov only: CG iteration cap (default ``min(2n, 1000)``).
    overwrite : bool
        Dense only: hand ``H`` over to the factorization, which destroys it (see :class:`KernelSolver`):
        no copy of ``H``. The Krylov path never modifies ``H``.
    mixed : bool, optional
        Krylov only: float32 CG iterations certified by float64 residuals (see
        :func:`twolayer.krylov.quadratic_form`); default on for operators with a float32 product
        (a :class:`~twolayer.kernels.KernelOperator` with float32 storage). Recorded as
        ``products`` / ``refinements``.

    Returns
    -------
    Complexity

    Notes
    -----
    For i.i.d. uniform ±1 labels, ``E[yᵀH⁻¹y] = tr(H⁻¹)``. Cost: dense one Cholesky
    (``n³/3``); krylov ``2n²`` flops per CG iteration (tens on well-conditioned ``H``, about
    ``√κ log(1/tol)`` at worst). Memory of the dense path beyond ``H`` (tracemalloc,
    tests/test_memory.py): the copy that becomes the factor, ``8n²`` bytes, plus a few 512 × 512
    tiles of the symmetry check; with ``overwrite`` only the tiles.
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    check_sign_coding(y)  # before any factorization: 0/1 labels would measure another number
    if _is_operator(H):  # a kernel operator (shape + matvec): only the Krylov path applies
        if method == "dense" or solver is not None:
            raise InputError("H is an operator (shape and matvec), which the dense Cholesky path cannot factor; "
                             "use method='krylov' (or 'auto'), or pass the matrix as an array")
        return _krylov_complexity(H, y, ridge=ridge, spectrum=spectrum, tol=tol, lambda_min_lower=lambda_min_lower,
                                  precondition=precondition, maxiter=maxiter, mixed=mixed)
    if method == "krylov" and solver is not None:
        raise InputError("solver= is a dense Cholesky factorization; pass method='dense' (or 'auto') with it, "
                         "or drop solver= for the Krylov method")
    if method == "krylov" or (method == "auto" and solver is None and H is not None
                              and np.ndim(H) == 2 and np.shape(H)[0] >= KRYLOV_FROM):
        c = _krylov_complexity(H, y, ridge=ridge, spectrum=spectrum, tol=tol, lambda_min_lower=lambda_min_lower,
                               precondition=precondition, maxiter=maxiter, mixed=mixed)
        if c.converged or method == "krylov":
            return c
    s = solver if solver is not None else KernelSolver(H, ridge=ridge, spectrum=spectrum, overwrite=overwrite,
                                                       exact_eigenvalues=exact_eigenvalues)
    y = as_labels(y, s.n)
    q = s.quad(y)
    return Complexity(n=s.n, complexity=math.sqrt(2.0 * q / s.n), yHy=q, lambda_min=s.lambda_min,
                      lambda_max=s.lambda_max, condition_number=s.condition_number, ridge=s.ridge,
                      label_norm2=float(np.sum(y * y)), eigenvalues_exact=s.eigenvalues_exact)


def _krylov_complexity(H, y, *, ridge, spectrum, tol, lambda_min_lower, precondition, maxiter,
                       mixed=None) -> Complexity:
    """The Krylov path of :func:`complexity` (CG on ``H + ridge·I``; no factorization)."""
    from .krylov import quadratic_form

    if not (np.isfinite(ridge) and ridge >= 0):
        raise InputError(f"ridge must be a finite number >= 0, got {ridge}")
    operator = _is_operator(H)
    A = H if operator else check_symmetric_matrix(H)
    n = int(A.shape[0])
    y = as_labels(y, n)
    if precondition is None:
        readable = not operator or (hasattr(A, "rows") and hasattr(A, "diagonal"))
        precondition = PRECONDITION_RANK if n >= 10 * PRECONDITION_RANK and readable else 0
    if int(precondition) != precondition or precondition < 0:
        raise InputError(f"precondition must be a rank >= 0 (0: plain CG), got {precondition}")
    a = lambda_min_lower
    if a is None and spectrum is not None:
        cand = spectrum.lambda_min + ridge - 8 * n * np.finfo(np.float64).eps * spectrum.lambda_max
        a = cand if cand > 0 else None
    try:
        q = quadratic_form(A, y, tol=tol, lambda_min_lower=a, ridge=ridge, precondition=int(precondition) or None,
                           maxiter=maxiter, check=operator, mixed=mixed)
    except SingularKernelError:
        _raise_singular_krylov(A, ridge, float("nan"))
    if spectrum is not None:
        lmin, lmax, exact = spectrum.lambda_min + ridge, spectrum.lambda_max + ridge, True
    else:
        lmin, lmax, exact = q.lambda_min, q.lambda_max, False
    cond = lmax / lmin if lmin > 0 else float("inf")
    if not cond <= MAX_CONDITION:
        _raise_singular_krylov(A, ridge, lmin, cond)
    storage_error = 0.0
    if hasattr(A, "quadratic_form_error") and q.solution is not None:
        storage_error = float(A.quadratic_form_error(q.solution, q.residual_norm, q.h_lambda_min_bound))
    src = q.lambda_source + ("" if a is None or lambda_min_lower is not None or "refuted" in q.lambda_source
                             else " (from spectrum=: dense lambda_min minus 8 n eps lambda_max)")
    return Complexity(n=n, complexity=math.sqrt(2.0 * q.value / n), yHy=q.value, lambda_min=lmin, lambda_max=lmax,
                      condition_number=cond, ridge=float(ridge), label_norm2=float(np.sum(y * y)),
                      eigenvalues_exact=exact, method="krylov", complexity_lower=math.sqrt(2.0 * q.lower / n),
                      complexity_upper=math.sqrt(2.0 * q.upper / n), yHy_lower=q.lower, yHy_upper=q.upper,
                      iterations=q.iterations, converged=q.converged, upper_certified=q.upper_certified,
                      lambda_min_bound=q.lambda_min_bound, lambda_source=src, tol=q.tol,
                      preconditioner=q.preconditioner, products=q.products, refinements=q.refinements,
                      storage_error=storage_error)


def _is_operator(H) -> bool:
    """A kernel operator in the sense of :mod:`twolayer.kernels.operator`: ``shape`` and ``matvec``, not an array."""
    return hasattr(H, "matvec") and hasattr(H, "shape") and not isinstance(H, np.ndarray)


def _raise_singular_krylov(A, ridge: float, lambda_min: float, cond: float = float("inf")):
    pairs = [] if _is_operator(A) else find_parallel_rows(A)
    what = "H + ridge*I" if ridge else "H"
    lam = "" if math.isnan(lambda_min) else f", lambda_min ~ {lambda_min:.3g}"
    cnd = "" if math.isinf(cond) else f", condition number >= {cond:.3g}"
    cause = (f"rows {'; '.join(f'{i} and {j}' for i, j in pairs[:5])} are duplicate or parallel inputs" if pairs
             else "it is numerically singular")
    raise SingularKernelError(f"{what} cannot be inverted{lam}{cnd}: {cause}; pass an explicit ridge, e.g. "
                              f"ridge=1e-8 (--ridge 1e-8), or remove duplicates", rows=pairs,
                              lambda_min=None if math.isnan(lambda_min) else lambda_min)


@dataclass(frozen=True)
class GeneralizationBound:
    r"""Terms of the Theorem 5.1 / Corollary 5.2 bound (see the module docstring).

    ``total = complexity + train_term + rademacher_slack + concentration``.
    """

    n: int
    delta: float
    complexity: float
    train_term: float
    rademacher_slack: float
    concentration: float
    union_size: int
    lambda_min: float
    total: float
    hidden_terms: str

    def to_dict(self) -> dict:
        return asdict(self)


def generalization_bound(c: Complexity, *, delta: float = 0.05, train_loss: float | None = None) -> GeneralizationBound:
    r"""Evaluate the explicit terms of Arora et al. Theorem 5.1 (eq. 9) and Corollary 5.2.

    Parameters
    ----------
    c : Complexity
        From :func:`complexity` (gives ``n``, ``yᵀH⁻¹y`` and ``λ₀``).
    delta : float
        Failure probability δ ∈ (0, 1).
    train_loss : float, optional
        Measured training term ``L_S`` (e.g. ``mean |u − y|``); default the proof's ``1/√n``.

    Returns
    -------
    GeneralizationBound
        ``complexity = sqrt(2yᵀH⁻¹y/n)``, ``train_term = L_S``, ``rademacher_slack = 4/√n``
        (twice the ``2/√n`` of the Rademacher bound), ``concentration = 3 sqrt(log(6 N_B/δ)/(2n))``
        (Theorem B.1 with a loss in [0, 1], 1-Lipschitz, union over ``N_B = ⌈sqrt(n/λ₀)⌉``
        radii and δ/3 of the failure probability).
    """
    if not (0 < delta < 1):
        raise InputError(f"delta must be in (0, 1), got {delta}")
    n = c.n
    lam = c.lambda_min
    if not lam > 0:
        raise InputError("the bound needs lambda_min(H) > 0; remove duplicate inputs or pass a ridge")
    nb = max(1, math.ceil(math.sqrt(n / lam)))
    train = 1.0 / math.sqrt(n) if train_loss is None else float(train_loss)
    slack = 4.0 / math.sqrt(n)
    conc = 3.0 * math.sqrt(math.log(6.0 * nb / delta) / (2.0 * n))
    hidden = ("finite-width terms poly(n,1/lambda0,1/delta)/(m^(1/4) kappa^(1/2)) and O(n kappa/(lambda0 delta)) "
              "(vanish as m -> infinity with kappa = O(lambda0 delta/n)); requires k = Omega(log(n/delta)/(eta lambda0)) "
              "GD iterations")
    return GeneralizationBound(n=n, delta=delta, complexity=c.complexity, train_term=train,
                               rademacher_slack=slack, concentration=conc, union_size=nb, lambda_min=lam,
                               total=c.complexity + train + slack + conc, hidden_terms=hidden)


def _terms(target) -> list[tuple[float, np.ndarray, int]]:
    terms = getattr(target, "terms", target)
    out = []
    for t in terms:
        try:
            alpha, beta, p = t
        except (TypeError, ValueError):
            raise InputError("each term must be (alpha, beta, p) for alpha * (beta^T x)^p") from None
        p = int(p)
        if p != 1 and (p < 2 or p % 2):
            raise InputError(f"Theorem 6.1 covers p = 1 or even p >= 2, got p = {p}")
        out.append((float(alpha), np.asarray(beta, dtype=np.float64).reshape(-1), p))
    if not out:
        raise InputError("the target has no terms; pass [(alpha, beta, p), ...]")
    return out


def polynomial_target_bound(target, *, sharp: bool = False) -> float:
    r"""Upper bound on ``sqrt(yᵀ(H^∞)⁻¹y)`` for ``y_i = Σ_j α_j (β_jᵀx_i)^{p_j}``, unit-norm ``x_i``.

    Corollary 6.2 (eq. 13): ``3 Σ_j p_j |α_j| ‖β_j‖^{p_j}``. With ``sharp=True`` the proof's
    constants: ``2|α|‖β‖`` for p = 1 and ``√(2π)(p−1)|α|‖β‖^p`` for even p (sub-additivity of
    ``sqrt(yᵀH⁻¹y)`` sums the terms).

    Parameters
    ----------
    target : sequence of (alpha, beta, p), or an object with a ``terms`` attribute
    """
    total = 0.0
    for alpha, beta, p in _terms(target):
        norm = float(np.linalg.norm(beta)) ** p * abs(alpha)
        if sharp:
            total += (2.0 if p == 1 else math.sqrt(2 * math.pi) * (p - 1)) * norm
        else:
            total += 3.0 * p * norm
    return total


def expected_noisy_complexity(yHy: float, trace_inv: float, n: int, n_redrawn: int) -> float:
    r"""``sqrt(E[C²])`` of the complexity after redrawing ``n_redrawn`` of ``n`` ±1 labels uniformly.

    With ``k`` positions redrawn from unif{−1, +1} (chosen uniformly at random), a pair
    ``i ≠ j`` keeps ``y_i y_j`` with probability ``q = (n−k)(n−k−1)/(n(n−1))`` and has mean
    product 0 otherwise, and ``y_i² = 1`` always, so
    ``E[yᵀH⁻¹y] = tr(H⁻¹) + q (yᵀH⁻¹y − tr(H⁻¹))`` and ``E[C²] = (2/n) E[yᵀH⁻¹y]``
    (Arora et al. eq. 10). ``yHy`` is of the clean labels, ``trace_inv = tr(H⁻¹)``. Cost O(1).
    """
    if not (0 <= n_redrawn <= n and n >= 2):
        raise InputError(f"need n >= 2 and 0 <= n_redrawn <= n, got n={n}, n_redrawn={n_redrawn}")
    q = (n - n_redrawn) * (n - n_redrawn - 1) / (n * (n - 1))
    return math.sqrt(2.0 / n * (trace_inv + q * (yHy - trace_inv)))


def movement_bound(n: int, m: int, residual_norm: float, lambda_min: float) -> float:
    r"""Lemma C.1: ``max_r ‖w_r(k) − w_r(0)‖₂ ≤ 4√n ‖y − u(0)‖₂ / (√m λ₀)`` for all k."""
    if n < 1 or m < 1 or not lambda_min > 0:
        raise InputError("movement_bound needs n >= 1, m >= 1 and lambda_min > 0")
    return 4.0 * math.sqrt(n) * float(residual_norm) / (math.sqrt(m) * lambda_min)


def gram_concentration_bound(n: int, m: int, delta: float = 0.05) -> float:
    r"""Lemma C.3: ``‖H(0) − H^∞‖_F ≤ sqrt(n² log(2n²/δ) / (2m))`` with probability ≥ 1 − δ."""
    if not (0 < delta < 1) or n < 1 or m < 1:
        raise InputError("gram_concentration_bound needs n, m >= 1 and 0 < delta < 1")
    return math.sqrt(n * n * math.log(2.0 * n * n / delta) / (2.0 * m))
