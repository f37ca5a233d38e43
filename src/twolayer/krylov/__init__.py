r"""Krylov instruments with certified error: ``yᵀH⁻¹y``, predicted GD losses and eigenpairs from products ``Hv``.

Nothing here factors or diagonalizes the ``n × n`` matrix ``H``: every function needs only
``v ↦ Hv`` (a dense array, or any object with ``shape`` and ``matvec`` such as a
:class:`scipy.sparse.linalg.LinearOperator`), so the cost is ``O(n²)`` per iteration on an
explicit matrix instead of the ``n³/3`` of a Cholesky or the ``≈ 9n³`` of ``eigh``.

Quadrature (Golub & Meurant, *Matrices, Moments and Quadrature with Applications*, 2010, ch. 6–7)
--------------------------------------------------------------------------------------------------
For symmetric ``H = Σ λ_i v_i v_iᵀ`` and a start vector ``r``, ``rᵀ f(H) r = ∫ f dμ`` with the
spectral measure ``μ = Σ_i (v_iᵀr)² δ_{λ_i}``. ``m`` Lanczos steps from ``r`` give the Jacobi
matrix ``T_m`` and the ``m``-point **Gauss** rule ``‖r‖² e₁ᵀ f(T_m) e₁``, whose error is
``f^{(2m)}(ξ)/(2m)! ∫ π_m² dμ`` (``ξ`` in the convex hull of the spectrum): a *lower* bound when the
even derivatives of ``f`` are ``≥ 0``. The **Gauss–Radau** rule with a prescribed node
``a ≤ λ_min`` (``T_m`` bordered by one row whose diagonal makes ``a`` an eigenvalue) has error
``f^{(2m+1)}(ξ)/(2m+1)! ∫ (λ − a) π_m² dμ``: an *upper* bound when the odd derivatives are
``≤ 0`` on ``[a, λ_max]``. The **Gauss–Lobatto** rule with nodes ``a ≤ λ_min`` and ``b ≥ λ_max``
has error ``f^{(2m+2)}(ξ)/(2m+2)! ∫ (λ−a)(λ−b) π_m² dμ``: an *upper* bound when the even
derivatives are ``≥ 0``. Hence

* ``f(λ) = 1/λ`` (:func:`quadratic_form`): Gauss ≤ ``yᵀH⁻¹y`` ≤ Radau(a) for any ``0 < a ≤ λ_min``;
* ``f(λ) = (1 − ηλ)^{2k}`` (:func:`trajectory`, discrete GD): Gauss is a lower bound for every
  ``η``; Radau(a) an upper bound when ``ηb ≤ 1``; otherwise Lobatto(a, b);
* ``f(λ) = e^{−2ηkλ}`` (gradient flow): Gauss lower, Radau(a) upper.

These are theorems in exact arithmetic. In floating point the Gauss bound from CG is known to be
reliable (Strakoš & Tichý, ETNA 13, 2002); :func:`trajectory` and :func:`extreme` run Lanczos with
full reorthogonalization (two Gram–Schmidt passes per step), so their ``T_m`` is that of an
orthonormal basis to rounding.

The λ_min bound of the upper bounds
-----------------------------------
An upper bound needs a number ``a ≤ λ_min(H)``. Where it comes from is recorded in every result
(``lambda_source``) together with ``upper_certified``:

* ``lambda_min_lower=`` given by the caller (e.g. a proven bound, or ``λ_min`` of a dense ``eigh``
  minus its rounding): **certified** as far as the caller's number is — and checked: every
  Ritz value ``θ`` of ``H`` satisfies ``θ ≥ λ_min`` (Cauchy interlacing), so a number above the
  smallest Ritz value seen is *refuted*; the result then says so, falls back to the estimate
  below and sets ``upper_certified=False``.
* ``ridge > 0`` on a positive semidefinite ``H`` (such as every Gram matrix ``H^∞``):
  ``λ_min(H + ridge·I) ≥ ridge``, **certified** (up to the rounding of ``H``'s own entries).
* :func:`trajectory` only: ``a = 0`` for positive semidefinite ``H`` (``f`` is smooth at 0),
  **certified**.
* otherwise an **estimate**: ``a = θ_min − ρ_min``, the smallest Ritz value minus its residual
  norm ``ρ_min = β_{m+1}|e_mᵀ s|``. The interval ``[θ_min − ρ_min, θ_min + ρ_min]`` contains *an*
  eigenvalue, and ``θ_min ≥ λ_min`` always, so ``a ≤ λ_min`` holds once the Krylov space has
  captured the bottom of the spectrum (the eigenvalue found is the smallest) — which cannot be
  verified from the Krylov space alone (an eigenvector nearly orthogonal to ``y`` may stay
  hidden). ``upper_certified=False``. In practice the interval then still contains the true value
  (tested on random and NTK Grams), but it is not a proof.

Preconditioning (:func:`quadratic_form` with ``precondition=r``) by a randomly pivoted Cholesky
factor (Chen, Epperly, Tropp & Webber, CPAM 2024) ``F`` of rank ``r``: ``P = FFᵀ + σI`` with
``σ = tr(H − FFᵀ)/n``, applied by the Woodbury formula in ``O(nr)``. ``FFᵀ`` is the Nyström
approximation on the pivots, so ``H − FFᵀ ⪰ 0``; then for every ``v``
``vᵀHv / vᵀPv ≥ max(a, t)/(t + σ) ≥ a/(a + σ)`` (``t = vᵀFFᵀv/‖v‖²``), so a certified ``a`` for
``H`` gives the certified ``a/(a + σ) ≤ λ_min(P⁻¹H)`` used by the preconditioned Radau bound.

Mixed precision (:func:`quadratic_form` on float32 storage)
-------------------------------------------------------------
An operator with a ``matvec_float32`` method (a :class:`~twolayer.kernels.KernelOperator` with
float32 storage) is iterated with that product: one ``sgemv``, no widening of the stored
entries, 5–8× cheaper than the float64-accumulated product. The result does not trust those
iterations: each refinement pass ends with one float64 residual ``r = y − Hx``, and for *any*
``x``, ``yᵀx + xᵀr ≤ yᵀH⁻¹y ≤ yᵀx + xᵀr + ‖r‖²/a`` (``a ≤ λ_min``). Passes repeat (iterative
refinement) until the interval meets ``tol``; a pass that fails to reduce the float64 residual
hands over to the float64 iteration. ``products`` and ``refinements`` record what ran.

Costs (``n`` rows, ``m`` iterations, explicit matrix): :func:`quadratic_form` ``m`` products
``Hv`` (``2n²`` flops each) + ``O(m²)``; :func:`trajectory` and :func:`extreme` ``m`` products +
``O(nm²)`` reorthogonalization + ``O(m² T)`` for ``T`` steps; :func:`top_eigenpairs` ARPACK's
products (:func:`scipy.sparse.linalg.eigsh`) + one block product for the residuals, or with
``method="block"`` a few dozen block products (one pass over a stored matrix each) instead.
"""

from __future__ import annotations

from .._errors import InputError
from ._core import DEFAULT_MAXITER, DEFAULT_TOL, gershgorin_upper
from .cg import QuadraticForm, quadratic_form, rpcholesky
from .lanczos import Eigenpairs, Extremes, Trajectory, extreme, top_eigenpairs, trajectory

__all__ = ["QuadraticForm", "quadratic_form", "Trajectory", "trajectory", "Eigenpairs", "top_eigenpairs",
           "Extremes", "extreme", "rpcholesky", "gershgorin_upper", "spectrum_method", "DEFAULT_TOL",
           "DEFAULT_MAXITER", "KRYLOV_SPECTRUM_FROM"]

#: ``twolayer spectrum --top K --method auto`` uses the Krylov path from this many rows on (and for
#: ``K ≤ n/10``). Measured (``benchmarks/bench_krylov.py``, random d = 784, one BLAS thread): the
#: top 10 pairs plus the Lanczos λ_min/λ_max take 0.36 s against 0.20 s for the full ``eigh`` at
#: n = 1,000, and 1.1 s against 1.9 s at n = 2,000.
KRYLOV_SPECTRUM_FROM = 2000


def spectrum_method(method: str, n: int, top: int | None) -> str:
    """``"dense"`` or ``"krylov"`` for a spectrum of ``n`` rows of which the ``top`` largest pairs are wanted.

    ``method="krylov"`` needs ``top`` (``1 ≤ top ≤ n − 2``); ``"auto"`` gives krylov for
    ``n ≥ KRYLOV_SPECTRUM_FROM`` and ``top ≤ n/10``, dense otherwise. Cost ``O(1)``.
    """
    if method not in ("auto", "dense", "krylov"):
        raise InputError(f"method must be one of auto, dense, krylov, got {method!r}")
    if method == "krylov":
        if top is None:
            raise InputError("the Krylov spectrum computes the top K eigenpairs only: pass --top K (or --method dense)")
        if not 1 <= top <= n - 2:
            raise InputError(f"the Krylov spectrum needs 1 <= K <= n - 2 = {n - 2}, got K = {top}; "
                             f"use --method dense for all eigenpairs")
        return "krylov"
    if method == "auto" and top is not None and n >= KRYLOV_SPECTRUM_FROM and top <= n // 10:
        return "krylov"
    return "dense"
