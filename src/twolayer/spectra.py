r"""Spectra of Gram matrices and the GD trajectories they predict.

Arora et al. (2019) §4: in the kernel regime, GD on the two-layer network follows the linear
dynamics ``ũ(k+1) = ũ(k) − η H^∞ (ũ(k) − y)`` (eq. 7), so with ``H^∞ = Σ_i λ_i v_i v_iᵀ``

.. math:: y − ũ(k) = (I − η H^∞)^k (y − u(0)), \qquad
          ‖y − ũ(k)‖_2^2 = Σ_i (1 − ηλ_i)^{2k} (v_i^T (y − u(0)))^2     \quad\text{(eq. 8)}

The eigendecomposition is computed once (``O(n³)``, LAPACK ``syevd``) and every trajectory,
projection and test prediction afterwards costs ``O(n)`` per step for losses and ``O(n²)`` per
step for full residual vectors.

Loss conventions
----------------
``normalization="sum"``: ``loss = ½ Σ_i (y_i − u_i)²`` and the GD step is ``η ∇`` of that
(Arora et al. eq. 2). ``normalization="mean"``: ``loss = ½ n⁻¹ Σ_i (y_i − u_i)²``; its gradient is
``1/n`` times smaller, so the effective kernel step is ``η/n``. Steps are GD iterations; the
gradient-flow form uses time ``t = η k`` (in the chosen convention), i.e. ``exp(−η k H)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.linalg as sla
from scipy.linalg import blas as sla_blas

from ._errors import InputError
from ._validation import as_labels

__all__ = ["Spectrum", "spectrum", "extreme_eigenvalues", "worst_case_labels", "LOSS_NORMALIZATIONS"]

LOSS_NORMALIZATIONS = ("sum", "mean")


def check_symmetric_matrix(H, name: str = "H") -> np.ndarray:
    """Return ``H`` as a float64 square array after checking shape, finiteness and symmetry.

    Cost: one summation (finiteness: NaN/inf propagate into the sum; the exact check runs only
    when the sum is not finite) and one pass over tile pairs for symmetry; no n × n temporaries.
    """
    A = np.asarray(H, dtype=np.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
        raise InputError(f"{name} must be a non-empty square (n, n) matrix, got shape {A.shape}")
    if not np.isfinite(A.sum()) and not np.all(np.isfinite(A)):
        raise InputError(f"{name} has NaN or inf entries; rebuild it from finite, non-zero inputs")
    scale = max(float(np.max(np.abs(np.diag(A)))), np.finfo(np.float64).tiny)
    asym = _max_asym(A)
    if asym > 1e-10 * scale:
        raise InputError(f"{name} is not symmetric (max |H - H^T| = {asym:.3g}); pass a Gram matrix, "
                         f"e.g. (H + H.T) / 2")
    return A


def _max_asym(A: np.ndarray, tile: int = 512) -> float:
    """``max |A − Aᵀ|`` over the upper tile pairs (each tile pair compared once, cache-friendly)."""
    worst = 0.0
    n = A.shape[0]
    for i in range(0, n, tile):
        for j in range(i, n, tile):
            worst = max(worst, float(np.max(np.abs(A[i:i + tile, j:j + tile] - A[j:j + tile, i:i + tile].T))))
    return worst


def _check_normalization(normalization: str) -> str:
    if normalization not in LOSS_NORMALIZATIONS:
        raise InputError(f"normalization must be 'sum' (½Σ) or 'mean' (½n⁻¹Σ), got {normalization!r}")
    return normalization


def _steps(steps) -> np.ndarray:
    k = np.atleast_1d(np.asarray(steps))
    if k.ndim != 1 or not np.all(np.isfinite(k)) or np.any(k < 0):
        raise InputError("steps must be a 1-D list of non-negative iteration counts, e.g. [0, 10, 100]")
    return k.astype(np.float64)


@dataclass(frozen=True)
class Spectrum:
    r"""Eigendecomposition ``H = V diag(λ) Vᵀ`` with eigenvalues in **descending** order.

    Attributes
    ----------
    eigenvalues : ndarray, shape (n,)
        ``λ_1 ≥ λ_2 ≥ … ≥ λ_n``.
    eigenvectors : ndarray, shape (n, n) or None
        Column ``i`` is ``v_i`` (a view in descending order of LAPACK's ascending output, no copy).
        ``None`` when built with ``vectors=False``.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None = field(repr=False)

    @property
    def n(self) -> int:
        return int(self.eigenvalues.shape[0])

    @property
    def lambda_max(self) -> float:
        return float(self.eigenvalues[0])

    @property
    def lambda_min(self) -> float:
        return float(self.eigenvalues[-1])

    @property
    def condition_number(self) -> float:
        lo = self.lambda_min
        return float(self.lambda_max / lo) if lo > 0 else float("inf")

    def max_stable_lr(self, normalization: str = "sum") -> float:
        """Largest step with ``|1 − η_eff λ_max| < 1``: ``2/λ_max`` (``2n/λ_max`` for ``mean``)."""
        return 2.0 / self.lambda_max * (self.n if _check_normalization(normalization) == "mean" else 1)

    def _vectors(self) -> np.ndarray:
        if self.eigenvectors is None:
            raise InputError("this Spectrum was built with vectors=False; rebuild it with vectors=True "
                             "to get projections and trajectories")
        return self.eigenvectors

    def project(self, y) -> np.ndarray:
        """Label projections ``v_iᵀ y`` in descending-eigenvalue order; ``y`` shape (n,) → (n,)."""
        y = as_labels(y, self.n)
        return self._vectors().T @ y

    def _factors(self, steps, lr: float, normalization: str, flow: bool) -> tuple[np.ndarray, float]:
        """Per-eigenvalue contraction factors, shape (len(steps), n), and the effective step."""
        if not (np.isfinite(lr) and lr > 0):
            raise InputError(f"lr must be a positive number, got {lr}")
        eta = lr / (self.n if _check_normalization(normalization) == "mean" else 1)
        k = _steps(steps)[:, None]
        lam = self.eigenvalues[None, :]
        if flow:
            return np.exp(-eta * k * lam), eta
        base = 1.0 - eta * lam
        with np.errstate(over="ignore"):
            return np.power(base, k), eta

    def residuals(self, y, steps, lr: float, *, u0=None, normalization: str = "sum",
                  flow: bool = False) -> np.ndarray:
        r"""Predicted residuals ``y − ũ(k) = (I − η H)^k (y − u0)`` (Arora et al. eq. 7–8).

        Parameters
        ----------
        y : array_like, shape (n,)
        steps : array_like of int, shape (T,)
            GD iteration counts ``k``.
        lr : float
            Learning rate η in the chosen loss convention.
        u0 : array_like, shape (n,), optional
            Outputs at initialization (default 0, as in the paper's surrogate dynamics).
        flow : bool
            Use gradient flow ``exp(−η k H)`` instead of discrete GD.

        Returns
        -------
        ndarray, shape (T, n). Cost ``O(T n²)``.
        """
        r0 = self._r0(y, u0)
        F, _ = self._factors(steps, lr, normalization, flow)
        V = self._vectors()
        return (F * (V.T @ r0)[None, :]) @ V.T

    def _r0(self, y, u0) -> np.ndarray:
        y = as_labels(y, self.n)
        return y if u0 is None else y - as_labels(u0, self.n, "u0")

    def loss_curve(self, y, steps, lr: float, *, u0=None, normalization: str = "sum",
                   flow: bool = False) -> np.ndarray:
        r"""Predicted training loss ``½ Σ_i f_i(k)² (v_iᵀ(y − u0))²`` (``/n`` for ``mean``).

        ``f_i(k) = (1 − η_eff λ_i)^k`` (discrete GD) or ``exp(−η_eff λ_i k)`` (flow), with
        ``η_eff = η`` (``sum``) or ``η/n`` (``mean``). Shapes: ``y`` (n,), ``steps`` (T,) →
        (T,). Cost ``O(T n)`` after the one-time projection.
        """
        p2 = self.project(self._r0(y, u0)) ** 2
        F, _ = self._factors(steps, lr, normalization, flow)
        loss = 0.5 * (F * F) @ p2
        return loss / self.n if normalization == "mean" else loss

    def predict(self, K_test, y, steps, lr: float, *, u0=None, f0_test=None, normalization: str = "sum",
                flow: bool = False) -> np.ndarray:
        r"""Outputs of the kernel predictor on test points after ``k`` steps of kernel GD.

        Test outputs follow ``f(k+1) = f(k) + η_eff K_{test,train} (y − ũ(k))``, so

        .. math:: f(k) = f(0) + K_{test,train} V \operatorname{diag}\Big(\frac{1 − (1 − η_{eff} λ_i)^k}{λ_i}\Big) V^T (y − u0)

        (``(1 − e^{−η_{eff} λ_i k})/λ_i`` for the flow; ``η_eff k`` where ``λ_i = 0``).

        Parameters
        ----------
        K_test : array_like, shape (n_test, n)
            Kernel between test and training points (e.g. ``first_layer_ntk(X_test, X)``).
        f0_test : array_like, shape (n_test,), optional
            Outputs at initialization on the test points (default 0).

        Returns
        -------
        ndarray, shape (T, n_test)
        """
        return self.test_predictor(K_test, y, lr, u0=u0, f0_test=f0_test, normalization=normalization,
                                   flow=flow)(steps)

    def test_predictor(self, K_test, y, lr: float, *, u0=None, f0_test=None, normalization: str = "sum",
                       flow: bool = False):
        """:meth:`predict` as a function of the steps, with ``K_test V`` and ``Vᵀ(y − u0)`` cached.

        The one-time cost is ``O(n_test n²)``; each later call costs ``O(T n n_test)``.
        """
        Kt = np.asarray(K_test, dtype=np.float64)
        if Kt.ndim != 2 or Kt.shape[1] != self.n:
            raise InputError(f"K_test must have shape (n_test, {self.n}), got {Kt.shape}")
        _, eta = self._factors([0], lr, normalization, flow)
        V = self._vectors()
        KV = Kt @ V
        proj = V.T @ self._r0(y, u0)
        f0 = None if f0_test is None else as_labels(f0_test, Kt.shape[0], "f0_test")
        lam = self.eigenvalues[None, :]
        x = eta * lam

        def outputs(steps) -> np.ndarray:
            k = _steps(steps)[:, None]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                if flow:
                    g = -np.expm1(-x * k)
                else:
                    g = -np.expm1(k * np.log1p(-x)) if np.all(x < 1) else 1.0 - np.power(1.0 - x, k)
                acc = np.where(np.abs(x) > 1e-300, g / lam, eta * k)
            out = (acc * proj[None, :]) @ KV.T
            return out if f0 is None else out + f0[None, :]

        return outputs


def spectrum(H, *, vectors: bool = True, overwrite: bool = False) -> Spectrum:
    r"""Eigendecomposition of a symmetric Gram matrix, once, in descending order.

    Parameters
    ----------
    H : array_like, shape (n, n)
        Symmetric matrix (e.g. ``first_layer_ntk(X)``).
    vectors : bool
        Also compute eigenvectors (needed for projections and trajectories).
    overwrite : bool
        Let LAPACK destroy ``H`` to save ``n²`` memory.

    Returns
    -------
    Spectrum

    Notes
    -----
    Cost: LAPACK ``syevd``, about ``9n³`` flops with vectors (n = 8,000 ≈ 65 s on 2 cores);
    eigenvalues only ≈ ``4n³/3``. Dense limits in 24 GiB: vectors to n ≈ 30k.
    """
    A = check_symmetric_matrix(H)
    if vectors:
        w, V = sla.eigh(A, overwrite_a=overwrite, check_finite=False, driver="evd")
        return Spectrum(eigenvalues=w[::-1], eigenvectors=V[:, ::-1])
    w = sla.eigh(A, eigvals_only=True, overwrite_a=overwrite, check_finite=False, driver="evd")
    return Spectrum(eigenvalues=w[::-1], eigenvectors=None)


def worst_case_labels(spec: Spectrum) -> np.ndarray:
    r"""Arora et al. Fig. 1 "worst case" labels: ``√n · v_n`` (eigenvector of ``λ_min``), ``‖y‖² = n``.

    The sign is fixed so that the entry of largest magnitude is positive (deterministic).
    Shape (n,).
    """
    v = spec._vectors()[:, -1]
    v = v * (1.0 if v[np.argmax(np.abs(v))] >= 0 else -1.0)
    return np.sqrt(spec.n) * v / np.linalg.norm(v)


#: Up to this size the extreme eigenvalues are computed exactly by ``eigvalsh`` (cheap in absolute terms).
EXACT_EIGVALS_MAX_N = 1000


def extreme_eigenvalues(H=None, *, factor=None, block: int = 8, maxiter: int = 4, seed: int = 0,
                        exact: bool | None = None) -> dict:
    r"""``λ_max`` and ``λ_min`` of a symmetric positive definite ``H``, exactly or at a bounded cost.

    Exact (``eigvalsh``) when ``exact=True`` or, by default, when ``n ≤ 1000``. Otherwise a
    bounded estimate: ``maxiter`` steps of block subspace iteration with Rayleigh–Ritz, on ``H``
    for ``λ_max`` (a GEMM with ``block`` columns per step) and, given a Cholesky factor, on
    ``H⁻¹`` for ``λ_min`` (a triangular solve with ``block`` right-hand sides per step) — about
    10% of the Cholesky time at n = 10,000 (all BLAS calls through scipy's library, so two
    thread pools never compete).

    The estimates are one-sided: ``lambda_max`` never exceeds the true ``λ_max``, ``lambda_min``
    never falls below the true ``λ_min``, so the estimated condition number is a lower bound.
    On a spectrum with well separated ends they are accurate to many digits; at a clustered edge
    (random points in high dimension) they land inside the cluster, a few percent off. The
    ``*_residual`` entries are the Ritz residuals ``‖A s − μ s‖`` (some eigenvalue lies that
    close, not necessarily the extreme one).

    Parameters
    ----------
    H : ndarray, shape (n, n), optional
        Needed for ``λ_max`` and for the exact path.
    factor : tuple, optional
        ``scipy.linalg.cho_factor`` output for ``H``; needed for the ``λ_min`` estimate.

    Returns
    -------
    dict with ``lambda_max``, ``lambda_min`` (when computable from the arguments),
    ``lambda_max_residual``, ``lambda_min_residual``, ``iterations`` and ``exact``.
    """
    n = H.shape[0] if H is not None else factor[0].shape[0]
    if H is not None and (exact or (exact is None and n <= EXACT_EIGVALS_MAX_N)):
        w = sla.eigh(H, eigvals_only=True, check_finite=False)
        return {"lambda_max": float(w[-1]), "lambda_max_residual": 0.0, "lambda_min": float(w[0]),
                "lambda_min_residual": 0.0, "iterations": 0, "exact": True}
    rng = np.random.default_rng(seed)
    out = {"iterations": 0, "exact": False}
    if H is not None:
        HF = H.T if H.flags.c_contiguous else H  # H is symmetric: its transpose is a Fortran view of H
        mu, res, it = _top_ritz(lambda Q: sla_blas.dgemm(1.0, HF, Q), n, block, maxiter, rng)
        out.update(lambda_max=mu, lambda_max_residual=res, iterations=it)
    if factor is not None:
        mu, res, it2 = _top_ritz(lambda Q: sla.cho_solve(factor, Q, check_finite=False), n, block, maxiter, rng)
        lam = 1.0 / mu  # mu is a Ritz value of H^-1: at most 1/lambda_min
        out.update(lambda_min=lam, lambda_min_residual=lam * lam * res, iterations=out["iterations"] + it2)
    return out


def _top_ritz(apply, n, block, maxiter, rng):
    """Largest eigenvalue of a symmetric PSD operator by block Krylov + Rayleigh–Ritz.

    The Ritz values come from the whole Krylov space ``span{Q, AQ, …, A^{k−1}Q}`` (block
    Lanczos without the three-term shortcut: every new block is orthogonalized twice against all
    previous ones), which converges far faster at a clustered spectrum edge than plain subspace
    iteration for the same number of operator applications. Returns the Ritz value, its residual
    norm and the number of applications; stops early once the residual is below 1e-12 relative.
    """
    gemm = sla_blas.dgemm  # every product through scipy's BLAS: numpy's thread pool stays asleep
    Q, _ = sla.qr(rng.standard_normal((n, block)), mode="economic", check_finite=False)
    basis, images = [np.asfortranarray(Q)], []
    mu, res = 0.0, np.inf
    for it in range(1, maxiter + 1):
        images.append(np.asfortranarray(apply(basis[-1])))
        V, AV = np.asfortranarray(np.hstack(basis)), np.asfortranarray(np.hstack(images))
        T = gemm(1.0, V, AV, trans_a=1)
        w, S = sla.eigh((T + T.T) / 2, check_finite=False)
        mu, s = float(w[-1]), np.asfortranarray(S[:, -1:])
        r = gemm(1.0, AV, s) - mu * gemm(1.0, V, s)
        res = float(np.sqrt(np.sum(r * r)))
        if res <= 1e-12 * abs(mu) or it == maxiter or V.shape[1] + block > n:
            break
        Z = gemm(-1.0, V, gemm(1.0, V, images[-1], trans_a=1), 1.0, images[-1])
        Z = gemm(-1.0, V, gemm(1.0, V, Z, trans_a=1), 1.0, Z)
        Qn, R = sla.qr(Z, mode="economic", check_finite=False)
        if np.min(np.abs(np.diag(R))) <= 1e-12 * max(1.0, abs(mu)):
            break  # the Krylov space is invariant: the Ritz values are exact
        basis.append(np.asfortranarray(Qn))
    return mu, res, it
