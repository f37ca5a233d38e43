r"""Spectra of Gram matrices and the GD trajectories they predict.

Arora et al. (2019) §4: in the kernel regime, GD on the two-layer network follows the linear
dynamics ``ũ(k+1) = ũ(k) − η H^∞ (ũ(k) − y)`` (eq. 7), so with ``H^∞ = Σ_i λ_i v_i v_iᵀ``

.. math:: y − ũ(k) = (I − η H^∞)^k (y − u(0)), \qquad
          ‖y − ũ(k)‖_2^2 = Σ_i (1 − ηλ_i)^{2k} (v_i^T (y − u(0)))^2     \quad\text{(eq. 8)}

The eigendecomposition is computed once (``O(n³)``, LAPACK ``syevd``) and every trajectory,
projection and test prediction afterwards costs ``O(n)`` per step for losses and ``O(n²)`` per
step for full residual vectors.

Every closed-form linear predictor of the package lives here, and the experiments call it:

* :class:`Spectrum` — training residuals and losses (:meth:`~Spectrum.residuals`,
  :meth:`~Spectrum.loss_curve`), the parameter movement (:meth:`~Spectrum.movement`) and test
  outputs (:meth:`~Spectrum.predict`, :meth:`~Spectrum.test_predictor`) of kernel GD and
  gradient flow, at any step including ``k = ∞``;
* :class:`LinearPath` — the test outputs of kernel GD as a function of the step (what
  :meth:`Spectrum.test_predictor` returns), and :func:`feature_gd_path`, the same for GD on a
  model linear in its parameters (random features) through the SVD of its features;
* :func:`noisy_gd_linear_theory` — the kernel-regime prediction of noisy GD with weight decay
  (Chen et al. 2020, Algorithm 1): the ridge shift ``λ`` of every rate and the finite-width
  noise floor;
* :func:`top_eigenvalue` and :meth:`Spectrum.max_stable_lr` — ``λ_max`` and the largest stable
  step (:func:`gd_stable_step`, the one place the bound ``2/λ_max`` is computed).

Eigenvalue order: **descending** everywhere a :class:`Spectrum` is involved; the pure functions
(:class:`LinearPath`, :func:`noisy_gd_linear_theory`) work mode by mode and take any order (their
sums run in the order given).

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

__all__ = ["Spectrum", "spectrum", "extreme_eigenvalues", "worst_case_labels", "LOSS_NORMALIZATIONS", "LinearPath",
           "feature_gd_path", "noisy_gd_linear_theory", "top_eigenvalue", "gd_stable_step"]

LOSS_NORMALIZATIONS = ("sum", "mean")


def gd_stable_step(lambda_max: float) -> float:
    r"""Largest step of GD on a quadratic with curvature ``λ_max``: ``2/λ_max`` (``|1 − ηλ| < 1``).

    The one place this bound is computed; ``λ_max`` must already be in the loss convention of the
    run (``λ_max(cK)``, ``c = 1`` for ``½Σ`` and ``1/n`` for ``½n⁻¹Σ``)."""
    return 2.0 / float(lambda_max) if lambda_max > 0 else float("inf")


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
    """Steps as a float64 vector of non-negative counts; ``inf`` (``t = ∞``) allowed, NaN not."""
    k = np.atleast_1d(np.asarray(steps))
    if k.ndim != 1 or k.dtype.kind not in "iuf" or np.any(np.isnan(k)) or np.any(k < 0):
        raise InputError("steps must be a 1-D list of non-negative iteration counts (inf for t = infinity), "
                         "e.g. [0, 10, 100]")
    return k.astype(np.float64)


#: Rates ``|η λ|`` at or below this count as a zero eigenvalue (the mode does not move).
_ZERO_RATE = 1e-300


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

    def scaled(self, c: float) -> "Spectrum":
        """The spectrum of ``c·H`` (``c > 0``): eigenvalues times ``c``, the same eigenvectors
        (shared, not copied). Cost ``O(n)``: how a kernel decomposed once serves every loss convention."""
        if not (np.isfinite(c) and c > 0):
            raise InputError(f"scale must be a positive number, got {c!r}")
        return Spectrum(eigenvalues=self.eigenvalues * float(c), eigenvectors=self.eigenvectors)

    def max_stable_lr(self, normalization: str = "sum") -> float:
        """Largest step with ``|1 − η_eff λ_max| < 1``: ``2/λ_max`` (``2n/λ_max`` for ``mean``),
        from :func:`gd_stable_step`."""
        return gd_stable_step(self.lambda_max) * (self.n if _check_normalization(normalization) == "mean" else 1)

    def _vectors(self) -> np.ndarray:
        if self.eigenvectors is None:
            raise InputError("this Spectrum was built with vectors=False; rebuild it with vectors=True "
                             "to get projections and trajectories")
        return self.eigenvectors

    def project(self, y) -> np.ndarray:
        """Label projections ``v_iᵀ y`` in descending-eigenvalue order; ``y`` shape (n,) → (n,)."""
        y = as_labels(y, self.n)
        return self._vectors().T @ y

    def _eta(self, lr: float, normalization: str) -> float:
        """The effective kernel step ``η_eff``: ``lr`` (``sum``) or ``lr/n`` (``mean``)."""
        if not (np.isfinite(lr) and lr > 0):
            raise InputError(f"lr must be a positive number, got {lr}")
        return lr / (self.n if _check_normalization(normalization) == "mean" else 1)

    def _factors(self, steps, lr: float, normalization: str, flow: bool) -> tuple[np.ndarray, float]:
        """Per-eigenvalue contraction factors, shape (len(steps), n), and the effective step.

        At ``k = ∞`` a mode of the numerical null space (``|λ| ≤ n ε λ_max``, see
        :class:`LinearPath`) keeps its factor 1, a stable mode decays to 0 and a mode without a
        limit gives NaN."""
        eta = self._eta(lr, normalization)
        k = _steps(steps)[:, None]
        lam = self.eigenvalues[None, :]
        inf = np.isinf(k)
        kf = np.where(inf, 0.0, k)
        if flow:
            F = np.exp(-eta * kf * lam)
        else:
            with np.errstate(over="ignore"):
                F = np.power(1.0 - eta * lam, kf)
        if inf.any():
            null = np.abs(lam) <= np.max(np.abs(lam), initial=0.0) * lam.size * np.finfo(np.float64).eps
            stable = (lam > 0) & (True if flow else (eta * lam < 2))
            F = np.where(inf, np.where(null, 1.0, np.where(stable, 0.0, np.nan)), F)
        return F, eta

    def residuals(self, y, steps, lr: float, *, u0=None, normalization: str = "sum",
                  flow: bool = False) -> np.ndarray:
        r"""Predicted residuals ``y − ũ(k) = (I − η H)^k (y − u0)`` (Arora et al. eq. 7–8).

        Parameters
        ----------
        y : array_like, shape (n,)
        steps : array_like of int, shape (T,)
            GD iteration counts ``k`` (real times ``k`` for the flow; ``inf`` for ``t = ∞``).
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
        (T,). Cost ``O(T n)`` after the one-time projection. Where the step is unstable for this
        kernel (``|1 − η_eff λ_max| > 1``) the predicted loss grows without bound: ``inf`` once it
        overflows, not an error.
        """
        p2 = self.project(self._r0(y, u0)) ** 2
        F, _ = self._factors(steps, lr, normalization, flow)
        with np.errstate(over="ignore"):
            loss = 0.5 * (F * F) @ p2
        return loss / self.n if normalization == "mean" else loss

    def movement(self, y, steps, lr: float, *, u0=None, normalization: str = "sum", flow: bool = False) -> np.ndarray:
        r"""Kernel-regime parameter movement ``‖θ(k) − θ(0)‖₂`` of the parameters whose tangent
        kernel is ``H`` (Arora et al. 2019, §5.2, eq. 11: the first layer, ``H = H∞``).

        GD moves ``θ`` by ``Σ_{j<k} η_eff Jᵀ r(j)`` with ``JJᵀ = H``, so

        .. math:: ‖θ(k) − θ(0)‖_2^2 = Σ_i \frac{(1 − f_i(k))^2 (v_i^T (y − u_0))^2}{λ_i}

        with ``f_i`` the factors of :meth:`loss_curve`; ``k = ∞`` gives ``(y − u0)ᵀ H⁺ (y − u0)``
        (modes with ``λ_i = 0`` do not move). Shapes: ``y`` (n,), ``steps`` (T,) → (T,). Cost ``O(T n)``
        after the projection.
        """
        p2 = self.project(self._r0(y, u0)) ** 2
        F, _ = self._factors(steps, lr, normalization, flow)
        lam = self.eigenvalues
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.where(lam > 0, p2 / lam, 0.0)
        return np.sqrt(((1.0 - F) ** 2) @ w)

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
                       flow: bool = False) -> "LinearPath":
        """:meth:`predict` as a function of the steps: a :class:`LinearPath` with ``B = K_test V``
        and ``c = Vᵀ(y − u0)`` cached (call it with the steps; ``flow`` is its default).

        The one-time cost is ``O(n_test n²)``; each later call costs ``O(T n n_test)``.
        """
        Kt = np.asarray(K_test, dtype=np.float64)
        if Kt.ndim != 2 or Kt.shape[1] != self.n:
            raise InputError(f"K_test must have shape (n_test, {self.n}), got {Kt.shape}")
        eta = self._eta(lr, normalization)
        V = self._vectors()
        f0 = None if f0_test is None else as_labels(f0_test, Kt.shape[0], "f0_test")
        return LinearPath(B=Kt @ V, c=V.T @ self._r0(y, u0), eigenvalues=self.eigenvalues, eta=eta, f0=f0, flow=flow)


@dataclass(frozen=True)
class LinearPath:
    r"""Test outputs of kernel GD (or gradient flow) in closed form, as a function of the step.

    Kernel GD on the training outputs, ``u(k+1) = u(k) − η H (u(k) − y)`` (Arora et al. 2019,
    eq. 7), moves the outputs on test points by ``f(k+1) = f(k) + η K_test (y − u(k))``. With
    ``H = Σ_i λ_i v_i v_iᵀ``, ``B = K_test V`` and ``c = Vᵀ(y − u(0))``:

    .. math:: f(k) = f(0) + \sum_i A_i(k)\, c_i\, B_{:,i}, \qquad
              A_i(k) = \sum_{j<k} η (1 − ηλ_i)^j = \frac{1 − (1 − ηλ_i)^k}{λ_i}

    (gradient flow at real time ``k``: ``(1 − e^{−ηλ_i k})/λ_i``; ``A_i = ηk`` where ``λ_i = 0``).
    At ``k = ∞`` a stable mode (``λ_i > 0``, and ``ηλ_i < 2`` for GD) gives ``A_i = 1/λ_i`` and a
    zero mode gives 0, so ``f(∞) = f(0) + K_test H⁺ (y − u(0))``, the minimum-norm interpolant (for a
    test kernel consistent with ``H``, ``K_test v_i = 0`` on the null space); there "zero" is the
    numerical null space ``|λ_i| ≤ r ε max|λ|`` (``numpy.linalg.pinv``'s cut-off), and a mode
    without a limit (``λ_i < 0``, or ``ηλ_i ≥ 2`` for GD) gives NaN.

    Calling the path is :meth:`outputs`. Cost per call ``O(T r n_test)``.

    Attributes
    ----------
    B : ndarray, shape (n_test, r)
        ``K_test`` times the eigenvectors.
    c : ndarray, shape (r,)
        Initial residual in the eigenbasis.
    eigenvalues : ndarray, shape (r,)
        ``λ_i``, any order (the order of ``B``'s columns).
    eta : float
        Effective kernel step ``η`` (``lr`` for ``½Σ``, ``lr/n`` for ``½n⁻¹Σ``).
    f0 : ndarray, shape (n_test,), or None
        Test outputs at ``k = 0`` (None: 0).
    flow : bool
        Default of :meth:`outputs`' ``flow``.
    """

    B: np.ndarray = field(repr=False)
    c: np.ndarray = field(repr=False)
    eigenvalues: np.ndarray = field(repr=False)
    eta: float
    f0: np.ndarray | None = field(default=None, repr=False)
    flow: bool = False

    def accumulated(self, steps, flow: bool | None = None) -> np.ndarray:
        """``A_i(k)`` of the class docstring, shape (T, r)."""
        flow = self.flow if flow is None else bool(flow)
        k = _steps(steps)[:, None]
        inf = np.isinf(k)
        kf = np.where(inf, 0.0, k)
        eta, lam = self.eta, self.eigenvalues[None, :]
        x = eta * lam
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if flow:
                g = -np.expm1(-x * kf)
            else:
                g = -np.expm1(kf * np.log1p(-x)) if np.all(x < 1) else 1.0 - np.power(1.0 - x, kf)
            zero = np.abs(x) <= _ZERO_RATE
            acc = np.where(~zero, g / lam, eta * kf)
            if inf.any():  # t = ∞: the numerical null space (as numpy's pinv) is left where it is
                null = np.abs(lam) <= np.max(np.abs(lam), initial=0.0) * lam.size * np.finfo(np.float64).eps
                stable = (lam > 0) & ~null & (True if flow else (x < 2))
                limit = np.where(null | zero, 0.0, np.where(stable, 1.0 / lam, np.nan))
                acc = np.where(inf, limit, acc)
        return acc

    def outputs(self, steps, flow: bool | None = None) -> np.ndarray:
        """Test outputs ``f(k)`` at every step, shape (T, n_test); ``steps`` shape (T,) of
        non-negative counts (``inf`` allowed), ``flow`` overrides the path's default."""
        out = (self.accumulated(steps, flow) * self.c[None, :]) @ self.B.T
        return out if self.f0 is None else out + self.f0[None, :]

    __call__ = outputs


def feature_gd_path(Phi, Phi_test, a0, y, lr: float, *, normalization: str = "mean") -> LinearPath:
    r"""Exact GD path of a model linear in its parameters, ``f(x) = φ(x)ᵀa`` (random features).

    GD on ``L(a) = ½ c ‖Φa − y‖²`` (``c = 1`` for ``sum``, ``1/n`` for ``mean``) with step ``lr``
    from ``a0``, ``a(k+1) = a(k) − lr·c Φᵀ(Φa(k) − y)``, moves the training outputs ``u = Φa`` by
    kernel GD with ``H = ΦΦᵀ`` and ``η = lr·c`` (E, Ma & Wu 2019, §2: the random-feature model is
    GD on its last layer), so the test outputs are a :class:`LinearPath`. With the thin SVD
    ``Φ = U S Wᵀ``: ``λ = S²``, eigenvectors ``U``, ``B = Φ_test W S`` (``= Φ_test Φᵀ U``),
    ``c = Uᵀ(y − Φa0)`` and ``f(0) = Φ_test a0``; in parameters

    .. math:: a(k) = a_0 + W \operatorname{diag}\Big(\frac{1 − (1 − ηS_i^2)^k}{S_i}\Big) U^T (y − Φa_0),
              \qquad a(∞) = a_0 + Φ^+ (y − Φa_0)

    (the minimum-norm change for ``m ≥ n``, least squares for ``m < n``). Singular values at or
    below ``S_max · max(n, m) · ε`` (numerical rank, as ``numpy.linalg.matrix_rank``) are
    dropped; the path's ``eigenvalues`` (descending) are the kept ``S²`` and GD is stable iff
    ``η S_max² < 2``.

    Parameters
    ----------
    Phi : array_like, shape (n, m)
        Training features.
    Phi_test : array_like, shape (n_test, m)
    a0 : array_like, shape (m,)
    y : array_like, shape (n,)
    lr : float
        GD step in the chosen loss convention.

    Returns
    -------
    LinearPath. Cost: the thin SVD, ``O(n m min(n, m))``, and ``O(n_test m r)``.
    """
    Phi, Phit = np.asarray(Phi, dtype=np.float64), np.asarray(Phi_test, dtype=np.float64)
    a0, y = np.asarray(a0, dtype=np.float64), np.asarray(y, dtype=np.float64)
    n = Phi.shape[0]
    if not (np.isfinite(lr) and lr > 0):
        raise InputError(f"lr must be a positive number, got {lr}")
    eta = lr / (n if _check_normalization(normalization) == "mean" else 1)
    U, S, Wt = np.linalg.svd(Phi, full_matrices=False)
    keep = S > S[0] * max(Phi.shape) * np.finfo(float).eps
    U, S, Wt = U[:, keep], S[keep], Wt[keep]
    return LinearPath(B=(Phit @ Wt.T) * S[None, :], c=U.T @ (y - Phi @ a0), eigenvalues=S**2, eta=eta,
                      f0=Phit @ a0)


def top_eigenvalue(A) -> float:
    """``λ_max`` of a symmetric matrix ``A`` (n, n), exactly: LAPACK ``syevr`` for the top
    eigenvalue only (``scipy.linalg.eigh(subset_by_index=[n−1, n−1])``), about ``4n³/3`` flops for
    the tridiagonal reduction plus ``O(n)`` for the one eigenvalue."""
    A = np.asarray(A)
    n = A.shape[0]
    return float(sla.eigh(A, eigvals_only=True, subset_by_index=[n - 1, n - 1])[0])


def noisy_gd_linear_theory(eigenvalues, projections, *, alpha: float, lr: float, weight_decay: float, steps: int,
                           m: int | None = None) -> dict:
    r"""Kernel-regime (linearized) prediction of noisy GD with weight decay from ``f ≡ 0``, at every
    step ``0..steps`` (Chen, Cao, Gu & Zhang 2020, Algorithm 1, on the mean-field network
    ``f = (α/m) Σ_j u_j h(θ_jᵀx)`` with the loss ``½n⁻¹Σ``).

    Inputs: the eigenvalues ``μ`` of the Gram matrix ``H`` (n×n, no ``1/n``; the network's tangent
    kernel is ``α²H``) and the label projections ``p = Vᵀy``, mode by mode in any order (the sums
    run in the order given). In the eigenbasis, with ``a_i = α²μ_i/n + λ`` (the rate with the
    weight-decay shift λ) and ``β = ηα/n``, the coefficients of the movement follow

    .. math:: ĉ_i(k+1) = (1 − ηa_i)\, ĉ_i(k) + β\, (p_i − F_i(k)),

    where ``F`` is the output of the data-free twin: a random walk with step variance
    ``s_i = 2ηλα²μ_i/m`` (the injected noise ``sqrt(2ηλ) ξ`` seen through the tangent features; the
    Ornstein–Uhlenbeck drift cancels within sign-flipped pairs). Means and second moments of
    ``(ĉ, F)`` are propagated exactly (they are Gaussian, and the mean and the noise parts are
    uncorrelated), giving arrays over the steps

    * ``loss`` = ``(1/2n) Σ_i E[(F_i + αμ_iĉ_i − p_i)²]`` and ``bias`` (its noise-free part),
    * ``dist`` = ``E[D] = Σ_i μ_i E[ĉ_i²]`` and ``dist_mean`` (its noise-free part),

    and the numbers

    * ``floor``: the stationary noise part of the loss, ``(λ/m) Σ_i 1/(2 − ηα²μ_i/n)`` (≈ ``nλ/(2m)``;
      exact for the recursion as ``λ/(α²μ_i/n) → 0``),
    * ``loss_inf``, ``dist_inf``: the noise-free stationary values (the ridge bias of ridge
      ``nλ/α²``: ``ĉ_i(∞) = αp_i/(n a_i)``),
    * ``rate_min``, ``rate_max``: the slowest and fastest per-time rates ``min_i a_i``, ``max_i a_i``.

    Without ``m`` the noise is left out. With ``η a_i > 2`` the prediction diverges (as GD does).
    Cost ``O(steps · n)``.
    """
    mu, proj = np.asarray(eigenvalues, float), np.asarray(projections, float)
    n = mu.size
    a = alpha**2 * mu / n + weight_decay
    q = 1 - lr * a
    beta = lr * alpha / n
    s = 2 * lr * weight_decay * alpha**2 * mu / m if m else np.zeros(n)
    c = np.zeros(n)
    C, X, F = np.zeros(n), np.zeros(n), np.zeros(n)
    K = int(steps) + 1
    bias, loss, dmean, dist = (np.empty(K) for _ in range(4))
    with np.errstate(over="ignore", invalid="ignore"):      # η above 2/a_i: the prediction diverges too
        for k in range(K):
            r = alpha * mu * c - proj
            bias[k] = 0.5 * float(r @ r) / n
            fl = F + 2 * alpha * mu * X + (alpha * mu) ** 2 * C
            loss[k] = bias[k] + 0.5 * float(np.sum(fl)) / n
            dmean[k] = float(mu @ (c * c))
            dist[k] = dmean[k] + float(mu @ C)
            c = q * c + beta * proj
            C, X = q * q * C - 2 * q * beta * X + beta * beta * F, q * X - beta * F
            F = F + s
    c_inf = alpha * proj / (n * a)
    out = {"loss": loss, "bias": bias, "dist": dist, "dist_mean": dmean,
           "loss_inf": 0.5 * float(np.sum((alpha * mu * c_inf - proj) ** 2)) / n,
           "dist_inf": float(np.sum(mu * c_inf**2)), "rate_min": float(np.min(a)), "rate_max": float(np.max(a)),
           "floor": float(weight_decay / m * np.sum(1.0 / (2.0 - lr * alpha**2 * mu / n))) if m else 0.0}
    return out


#: ``driver`` values of :func:`spectrum`.
SPECTRUM_DRIVERS = ("evd", "evr")


def _numpy_lapack_ilp64() -> bool:
    """Whether numpy's LAPACK uses 64-bit integers (its ``eigh`` then has no 32-bit workspace limit)."""
    try:
        cfg = np.__config__.CONFIG["Build Dependencies"]["lapack"]
    except (AttributeError, KeyError, TypeError):
        return False
    return "64BITINT" in str(cfg.get("openblas configuration", "")).upper() or "ilp64" in str(cfg.get("name", ""))


def spectrum(H, *, vectors: bool = True, overwrite: bool = False, driver: str = "evd") -> Spectrum:
    r"""Eigendecomposition of a symmetric Gram matrix, once, in descending order.

    Parameters
    ----------
    H : array_like, shape (n, n)
        Symmetric matrix (e.g. ``first_layer_ntk(X)``); its lower triangle is used.
    vectors : bool
        Also compute eigenvectors (needed for projections and trajectories).
    overwrite : bool
        Hand ``H`` over: it is destroyed (with ``vectors``, its memory then holds the eigenvectors),
        which saves ``n²`` doubles. Needs a writeable C-contiguous float64 ``H``; otherwise one copy is
        made as without it.
    driver : {"evd", "evr"}
        ``evd`` (default): LAPACK ``dsyevd`` (divide and conquer), the numbers of
        ``numpy.linalg.eigh`` bit for bit. ``evr``: ``dsyevr`` (MRRR), the lean option: its workspace is
        ``O(n)`` instead of ``2n²``, but its eigenvectors go into a separate ``n × n`` array and its
        numbers differ from ``evd``'s in the last digits; it runs in scipy's wrapper, which holds the
        interpreter, so Ctrl-C acts only when it returns.

    Returns
    -------
    Spectrum

    Notes
    -----
    Cost: about ``9n³`` flops with vectors (n = 8,000 ≈ 65 s on 2 cores); eigenvalues only ≈
    ``4n³/3``. ``evd`` runs :func:`twolayer._linalg.syevd_inplace` (scipy's LAPACK through ctypes, which
    releases the interpreter lock; it runs in the calling thread, so Ctrl-C acts when it returns).
    Memory beyond ``H``, in units of ``8n²`` bytes (measured by
    tracemalloc, tests/test_memory.py): with vectors 3 (the copy that becomes the eigenvectors, and
    dsyevd's ``2n²`` workspace), 2 with ``overwrite``; ``evr`` 2, 1 with ``overwrite``; eigenvalues
    only 1, 0 with ``overwrite``. Dense limits in 24 GiB: vectors to n ≈ 25k (``overwrite``). From
    n = 32,767 dsyevd's workspace overflows scipy's 32-bit LAPACK integers: there ``evd`` falls back to
    ``numpy.linalg.eigh`` where numpy's LAPACK has 64-bit integers (4 × 8n² beyond ``H``), and is
    refused with an :class:`~twolayer.InputError` pointing to the Krylov instruments otherwise.
    """
    from ._linalg import SYEVD_MAX_N, mirror_lower, syevd_inplace
    from ._progress import long_call_notice

    if driver not in SPECTRUM_DRIVERS:
        raise InputError(f"driver must be one of {', '.join(SPECTRUM_DRIVERS)}, got {driver!r}")
    A = check_symmetric_matrix(H)
    n = A.shape[0]
    long_call_notice("eigh", n, vectors=vectors)
    if driver == "evd" and vectors and n > SYEVD_MAX_N:
        if not _numpy_lapack_ilp64():
            raise InputError(
                f"a full eigendecomposition at n = {n} needs dsyevd's workspace of 2n^2 doubles, which overflows "
                f"this LAPACK's 32-bit integers (at most n = {SYEVD_MAX_N}); use the Krylov instruments instead: "
                f"`twolayer spectrum --top k` (twolayer.krylov.top_eigenpairs), `twolayer complexity --method "
                f"krylov`, or vectors=False")
        w, V = np.linalg.eigh(A)  # numpy's LAPACK has 64-bit integers
        return Spectrum(eigenvalues=w[::-1], eigenvectors=V[:, ::-1])
    # one buffer the factorization may destroy: H itself when handed over (or when the float64 conversion
    # above already made a private copy), else one copy
    own = A.flags.c_contiguous and A.flags.writeable and (overwrite or not np.may_share_memory(A, np.asarray(H)))
    B = A if own else np.array(A, dtype=np.float64, order="C", copy=True)
    if driver == "evr":
        mirror_lower(B)  # the lower triangle of the Fortran view B.T is then B's own lower triangle
        if vectors:
            w, V = sla.eigh(B.T, overwrite_a=True, check_finite=False, driver="evr")
            return Spectrum(eigenvalues=w[::-1], eigenvectors=V[:, ::-1])
        w = sla.eigh(B.T, eigvals_only=True, overwrite_a=True, check_finite=False, driver="evr")
        return Spectrum(eigenvalues=w[::-1], eigenvectors=None)
    w = syevd_inplace(B, vectors=vectors)
    return Spectrum(eigenvalues=w[::-1], eigenvectors=B[:, ::-1] if vectors else None)


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
        from ._progress import long_call_notice

        long_call_notice("eigh", n, vectors=False)
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
