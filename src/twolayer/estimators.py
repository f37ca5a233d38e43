r"""scikit-learn estimators: NTK / random-feature kernel regression and the trained network.

Kernel regression with a member ``K`` of the ReLU arc-cosine family (:mod:`twolayer.kernels`):

.. math::

    α = (K + λ I)^{-1} y, \qquad \hat f(x) = K(x, X)\, α = \sum_i α_i K(x, x_i)

with ``K`` the ``n × n`` Gram matrix of the training inputs ``X`` and ``λ = ridge ≥ 0`` in the
units of ``K`` (``‖x‖²``; dimensionless on unit-norm rows). ``λ = 0`` is the *ridgeless*
predictor, ``K(x, X) K^{+} y``: the minimum-RKHS-norm interpolant, which for the first-layer
kernel ``H^∞`` (Arora et al. 2019, eq. 3) is the infinite-width, infinite-time limit of GD on
the network of Arora et al. started from zero output. It is defined also when ``K`` is singular
(duplicate or parallel inputs): ``K^{+}`` is the pseudo-inverse, i.e. duplicates receive the
mean of their labels.

============================  ========================================================  ==========
estimator                     kernel                                                    paper
============================  ========================================================  ==========
``KernelRegressor``           ``"first-layer"`` ``H^∞``, ``"two-layer"`` ``κ_1+H^∞``,   all
                              ``"random-features"`` ``κ_1``, ``"precomputed"``
``NTKRegressor``              ``layers="first"`` → ``H^∞``; ``"both"`` → ``κ_1+H^∞``    Arora et al.
``RandomFeatureRegressor``    ``κ_1`` (only the second layer trained)                   E–Ma–Wu
``TwoLayerNetworkRegressor``  the finite network, trained by :func:`dynamics.train`     all
============================  ========================================================  ==========

Each has a classifier twin (``KernelClassifier``, ``NTKClassifier``, ``RandomFeatureClassifier``,
``TwoLayerNetworkClassifier``) that fits the same regressor to the ±1 coding of two classes
(``+1`` for ``classes_[1]``, ``−1`` for ``classes_[0]``: the labels of Arora et al. 2019, for
which the complexity of eq. 10 is defined) and predicts by the sign of ``decision_function``.

All follow the scikit-learn API (``fit``, ``predict``, ``score`` = R² or accuracy, ``get_params``,
``set_params``, ``clone``) and pass ``sklearn.utils.estimator_checks`` — except, for
``kernel="precomputed"``, the two checks that feed the estimator a matrix that is no longer a
Gram matrix (mean-shifted or truncated to integers): an indefinite "kernel" raises ValueError.

Inputs. The papers assume unit-norm inputs. With ``normalize=True`` (default) every row is scaled
to unit Euclidean norm before the kernel or the network sees it; an all-zero row has no
direction and is left at zero, where every kernel of the family (homogeneous of degree one in
each argument) and every bias-free ReLU network is exactly 0: its kernel row and column are 0,
its prediction is 0, and in training it contributes only the constant ``½ y_i²`` to the loss.
With ``normalize=False`` the rows are used as given (the kernels scale with ``‖x‖‖z‖``).

Example
-------
>>> import numpy as np
>>> from twolayer.estimators import KernelRegressor
>>> X = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
>>> y = np.array([1.0, -1.0, 0.5])
>>> est = KernelRegressor(kernel="first-layer").fit(X, y)
>>> bool(np.allclose(est.predict(X), y))      # ridgeless: interpolates the training labels
True
>>> est.solver_
'cholesky'
>>> est.fit(np.vstack([X, X[:1]]), np.append(y, 3.0)).solver_   # duplicate row: H∞ is singular
'eigh'
>>> np.round(est.predict(X[:1]), 6)           # the minimum-norm fit averages the duplicates
array([2.])
>>> from twolayer.estimators import NTKClassifier
>>> clf = NTKClassifier().fit(X, ["no", "yes", "yes"])   # fitted to t = (-1, +1, +1)
>>> clf.classes_.tolist(), clf.predict(X).tolist(), np.round(clf.decision_function(X), 6).tolist()
(['no', 'yes'], ['no', 'yes', 'yes'], [-1.0, 1.0, 1.0])

Cost
----
Kernel regression: ``O(n² d)`` for the training Gram matrix (one GEMM plus ``n²`` angle
evaluations), ``O(n³)`` for the solve (Cholesky ``n³/3``, plus ``eigvalsh`` for the exact
condition number when ``n ≤ 1000``; the pseudo-inverse fallback is an ``eigh``, about ``9n³``),
``O(n_test n d)`` per prediction. Memory ``O(n²)``. The network: see
:class:`TwoLayerNetworkRegressor`.
"""

from __future__ import annotations

import math
import numbers

import numpy as np
import scipy.linalg as sla
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import assert_all_finite
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from ._errors import SingularKernelError
from ._seeds import child_seed
from ._validation import unit_normalize
from .bounds import KernelSolver
from .dynamics import ALGORITHMS, make_rule, train
from .kernels import arccos_kernel, network_kernel_kinds
from .networks import ACTIVATIONS, PARAMETERIZATIONS, forward, init_network

__all__ = ["KERNEL_CHOICES", "KernelRegressor", "NTKRegressor", "RandomFeatureRegressor", "unit_rows",
           "TwoLayerNetworkRegressor", "KernelClassifier", "NTKClassifier", "RandomFeatureClassifier",
           "TwoLayerNetworkClassifier"]

#: Accepted values of ``KernelRegressor(kernel=...)``: the members of :data:`twolayer.kernels.KERNELS`
#: that are a network's kernel (:func:`twolayer.kernels.network_kernel_kinds`), and ``"precomputed"``.
KERNEL_CHOICES = (*network_kernel_kinds(), "precomputed")

#: A precomputed training kernel counts as symmetric when ``max|K − Kᵀ| ≤ this · max|K|``.
_SYM_TOL = 1e-10
#: Eigenvalues below ``−this · max|λ|`` mean the matrix is not positive semi-definite even up to
#: float32 rounding of its entries (measured: a float32 linear-kernel Gram matrix of n = 200 points
#: has λ_min ≈ −2.5e-8 · λ_max; a distance matrix or a shifted kernel has λ_min = O(λ_max)).
_PSD_TOL = 1e-6


# --------------------------------------------------------------------------- helpers
def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows of ``X`` (n, d) scaled to unit Euclidean norm; all-zero rows stay zero (a new array).

    Scale-safe (:func:`twolayer._validation.unit_normalize`): rows of any magnitude (1e-200 or
    1e200) are normalized without under- or overflow. Cost ``O(n d)``.
    """
    return unit_normalize(np.asarray(X, dtype=np.float64), allow_zero_rows=True)


def _kernel(kind: str, X: np.ndarray, Z: np.ndarray | None = None) -> np.ndarray:
    """``kind`` kernel between the rows of ``X`` and ``Z`` (default ``X``), 0 wherever a row is 0."""
    nzx = X.any(axis=1)
    if Z is None:
        if nzx.all():
            return arccos_kernel(X, kind=kind)
        K = np.zeros((X.shape[0], X.shape[0]))
        ix = np.flatnonzero(nzx)
        if ix.size:
            K[np.ix_(ix, ix)] = arccos_kernel(X[ix], kind=kind)
        return K
    nzz = Z.any(axis=1)
    if nzx.all() and nzz.all():
        return arccos_kernel(X, Z, kind=kind)
    K = np.zeros((X.shape[0], Z.shape[0]))
    ix, iz = np.flatnonzero(nzx), np.flatnonzero(nzz)
    if ix.size and iz.size:
        K[np.ix_(ix, iz)] = arccos_kernel(X[ix], Z[iz], kind=kind)
    return K


def _check_number(value, name: str, *, low: float | None = None, low_open: bool = False,
                  high: float | None = None, high_open: bool = False, integer: bool = False,
                  allow_none: bool = False, hint: str = ""):
    """Validate a hyper-parameter at fit time (sklearn convention: never in ``__init__``)."""
    if value is None and allow_none:
        return None
    kind = numbers.Integral if integer else numbers.Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        rng = " and ".join(s for s in (lo, hi) if s)
        what = "an integer" if integer else "a finite number"
        raise ValueError(f"{name} must be {what}{' ' + rng if rng else ''}"
                         f"{' or None' if allow_none else ''}, got {value!r}{hint}")
    return value


def _check_choice(value, name: str, choices) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(repr, choices))}")
    return value


def _solve_kernel_system(K: np.ndarray, Y: np.ndarray, ridge: float, rcond: float | None,
                         eps: float = float(np.finfo(np.float64).eps)) -> dict:
    r"""``α = (K + ridge·I)^{+} Y`` for a symmetric positive semi-definite ``K``.

    Cholesky (through :class:`~twolayer.bounds.KernelSolver`, which also reports ``λ_min`` and
    refuses condition numbers above 1e12); when it fails, a symmetric eigendecomposition
    ``K = V diag(w) Vᵀ`` and ``α = V diag(1/(w + ridge)) Vᵀ Y`` over the eigenvalues with
    ``w + ridge > rcond · max(w + ridge)`` (default ``rcond = n·eps``, ``eps`` the precision
    of the entries of ``K``), the minimum-norm least-squares solution. Eigenvalues below
    ``−max(1e-6, n·eps) · max|w + ridge|`` mean ``K + ridge·I`` is not positive semi-definite
    (not a Gram matrix): ``ValueError``. Shapes: ``K`` (n, n), ``Y`` (n,) or (n, k).
    """
    n = K.shape[0]
    try:
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # its diagnostics of a failure
            solver = KernelSolver(K, ridge=ridge)
    except SingularKernelError:
        pass
    else:
        return {"alpha": solver.solve(Y), "solver": "cholesky", "lambda_min": solver.lambda_min,
                "condition_number": solver.condition_number, "rank": n}
    w, V = sla.eigh(K, check_finite=False, driver="evd")
    shifted = w + ridge
    top = float(max(abs(shifted[-1]), abs(shifted[0])))
    if shifted[0] < -max(_PSD_TOL, n * eps) * top:
        raise ValueError(f"the kernel matrix{' + ridge*I' if ridge else ''} is not positive semi-definite "
                         f"(eigenvalues from {shifted[0]:.3g} to {shifted[-1]:.3g}); pass the Gram matrix "
                         f"K(X_train, X_train) of a positive semi-definite kernel, not distances or centred values")
    cut = (n * eps if rcond is None else rcond) * float(max(shifted.max(), 0.0))
    keep = shifted > cut
    inv = np.zeros_like(shifted)
    inv[keep] = 1.0 / shifted[keep]
    proj = V.T @ Y
    alpha = V @ (inv[:, None] * proj if proj.ndim == 2 else inv * proj)
    lam_min = float(shifted[0])
    return {"alpha": alpha, "solver": "eigh", "lambda_min": lam_min,
            "condition_number": float(shifted[-1] / lam_min) if lam_min > 0 else float("inf"),
            "rank": int(np.count_nonzero(keep))}


# --------------------------------------------------------------------------- kernel regression
class KernelRegressor(RegressorMixin, BaseEstimator):
    r"""Kernel (ridge) regression with an arc-cosine NTK / random-feature kernel.

    Fits ``α = (K + λ I)^{-1} y`` with ``K_{ij} = k(x_i, x_j)`` and predicts
    ``f(x) = Σ_i α_i k(x, x_i)``. For ``kernel="first-layer"`` this is the kernel predictor of
    Arora et al. (2019), ``H^∞_{ij} = x_iᵀx_j (π − arccos x_iᵀx_j)/(2π)`` (eq. 3), i.e. the
    limit ``k → ∞`` of kernel GD ``u(k+1) = u(k) − η H^∞ (u(k) − y)`` from ``u(0) = 0``.

    Parameters
    ----------
    kernel : {"first-layer", "two-layer", "random-features", "precomputed"}
        ``first-layer``: ``H^∞`` (NTK when only ``W`` is trained); ``two-layer``: ``κ_1 + H^∞``
        (both layers trained, NTK scaling); ``random-features``: the degree-1 arc-cosine kernel
        ``κ_1 = ‖x‖‖z‖ (sin θ + (π − θ) cos θ)/(2π)`` (only the output layer trained);
        ``precomputed``: ``fit`` takes the ``(n, n)`` training Gram matrix and ``predict`` the
        ``(n_test, n)`` test × train matrix, as in ``sklearn.kernel_ridge.KernelRidge``.
    ridge : float, default 0
        ``λ ≥ 0``, in the units of ``K``. ``0`` gives the minimum-norm interpolant.
    normalize : bool, default True
        Scale every input row to unit norm first (the papers' setting); zero rows stay zero and
        have kernel 0 with everything. Ignored for ``precomputed``.
    rcond : float, optional
        Relative eigenvalue cutoff of the pseudo-inverse fallback (default ``n·eps``).

    Attributes
    ----------
    dual_coef_ : ndarray, shape (n,) or (n, k)
        ``α``; the shape follows ``y``.
    X_fit_ : ndarray, shape (n, d) or (n, n)
        Training inputs as the kernel sees them (unit rows when ``normalize``), or the training
        Gram matrix for ``precomputed``.
    solver_ : {"cholesky", "eigh"}
        ``cholesky`` when ``K + λI`` factored with condition number ≤ 1e12, else the
        eigendecomposition pseudo-inverse.
    lambda_min_, condition_number_ : float
        Of ``K + λI`` (exact for ``n ≤ 1000`` or on the ``eigh`` path; above that a one-sided
        estimate, see :class:`~twolayer.bounds.KernelSolver`).
    rank_ : int
        Number of eigen-directions used (``n`` on the Cholesky path).
    n_features_in_ : int

    Notes
    -----
    Cost: ``O(n² d)`` kernel + ``O(n³)`` solve; ``predict`` ``O(n_test n d)``. Memory ``O(n²)``.
    ``y`` may be ``(n, k)``: the ``k`` columns share one factorization.
    """

    def __init__(self, kernel="first-layer", ridge=0.0, normalize=True, rcond=None):
        self.kernel = kernel
        self.ridge = ridge
        self.normalize = normalize
        self.rcond = rcond

    # the kernel this estimator uses; subclasses map their own parameters onto it
    def _kernel_kind(self) -> str:
        return _check_choice(self.kernel, "kernel", KERNEL_CHOICES)

    def _is_precomputed(self) -> bool:
        try:
            return self._kernel_kind() == "precomputed"
        except ValueError:
            return False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.pairwise = self._is_precomputed()
        return tags

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        return unit_rows(X) if self.normalize else X

    def fit(self, X, y):
        """Fit ``α = (K + λI)^{+} y``.

        Parameters
        ----------
        X : array_like, shape (n, d), or (n, n) training Gram matrix for ``precomputed``
        y : array_like, shape (n,) or (n, k)

        Returns
        -------
        self
        """
        kind = self._kernel_kind()
        ridge = float(_check_number(self.ridge, "ridge", low=0.0))
        rcond = _check_number(self.rcond, "rcond", low=0.0, high=1.0, low_open=True, high_open=True,
                              allow_none=True)
        X, y = validate_data(self, X, y, y_numeric=True, multi_output=True, dtype=[np.float64, np.float32])
        y = np.asarray(y, dtype=np.float64)
        if kind == "precomputed":
            if X.shape[0] != X.shape[1]:
                raise ValueError(f"kernel='precomputed' needs the square (n, n) training Gram matrix, got shape "
                                 f"{X.shape}; pass K(X_train, X_train) to fit and K(X_test, X_train) to predict")
            # entries are only as accurate as their dtype (a float32 Gram matrix is rounded at ~1e-7)
            eps = float(np.finfo(X.dtype).eps)
            K = X.astype(np.float64)
            scale = float(np.max(np.abs(K)))
            asym = float(np.max(np.abs(K - K.T)))
            if asym > max(_SYM_TOL, 16 * eps) * scale:
                raise ValueError(f"the precomputed training kernel is not symmetric (max |K - K^T| = {asym:.3g}); "
                                 f"pass a Gram matrix K(X_train, X_train), e.g. (K + K.T) / 2")
            K = 0.5 * (K + K.T)
            self.X_fit_ = K
        else:
            eps = float(np.finfo(np.float64).eps)  # the kernel is evaluated in float64 from the given inputs
            Xk = self._inputs(X.astype(np.float64))
            K = _kernel(kind, Xk)
            self.X_fit_ = Xk
        sol = _solve_kernel_system(K, y, ridge, rcond, eps)
        self.dual_coef_ = sol["alpha"]
        self.solver_ = sol["solver"]
        self.lambda_min_ = sol["lambda_min"]
        self.condition_number_ = sol["condition_number"]
        self.rank_ = sol["rank"]
        return self

    def _test_kernel(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if self._kernel_kind() == "precomputed":
            return X
        return _kernel(self._kernel_kind(), self._inputs(X), self.X_fit_)

    def predict(self, X):
        """``f(x) = K(x, X_train) α``.

        Parameters
        ----------
        X : array_like, shape (n_test, d), or (n_test, n) test × train kernel for ``precomputed``

        Returns
        -------
        ndarray, shape (n_test,) or (n_test, k)
        """
        return self._test_kernel(X) @ self.dual_coef_


class NTKRegressor(KernelRegressor):
    r"""NTK regression (Arora et al. 2019): ``layers="first"`` → ``H^∞``; ``"both"`` → ``κ_1 + H^∞``.

    Same as ``KernelRegressor(kernel="first-layer" | "two-layer", ...)``; see there for shapes,
    attributes and cost.
    """

    def __init__(self, layers="first", ridge=0.0, normalize=True, rcond=None):
        self.layers = layers
        self.ridge = ridge
        self.normalize = normalize
        self.rcond = rcond

    def _kernel_kind(self) -> str:
        return {"first": "first-layer", "both": "two-layer"}[_check_choice(self.layers, "layers", ("first", "both"))]


class RandomFeatureRegressor(KernelRegressor):
    r"""Random-feature kernel regression: ``κ_1(x, z) = E_w[σ(wᵀx) σ(wᵀz)]``, ``w ~ N(0, I)``.

    The infinite-width limit of the random-feature model (only the output layer trained; the
    E–Ma–Wu kernel is ``κ_1/d``, the same predictor for ``ridge = 0``). Same as
    ``KernelRegressor(kernel="random-features", ...)``.
    """

    def __init__(self, ridge=0.0, normalize=True, rcond=None):
        self.ridge = ridge
        self.normalize = normalize
        self.rcond = rcond

    def _kernel_kind(self) -> str:
        return "random-features"


# --------------------------------------------------------------------------- the network
def _seed_from(random_state):
    """An explicit seed for :func:`init_network` (int, SeedSequence or Generator)."""
    if isinstance(random_state, (numbers.Integral, np.random.SeedSequence, np.random.Generator)) \
            and not isinstance(random_state, bool):
        if isinstance(random_state, numbers.Integral) and random_state < 0:
            raise ValueError(f"random_state must be a non-negative integer, got {random_state}")
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    raise ValueError(f"random_state must be an int, a numpy Generator, SeedSequence or RandomState, got "
                     f"{random_state!r}; the fit must be reproducible, so pass e.g. random_state=0")


class TwoLayerNetworkRegressor(RegressorMixin, BaseEstimator):
    r"""A finite two-layer network ``f(x) = s Σ_r a_r φ(w_rᵀx)`` trained by full-batch (noisy) GD.

    ``fit`` draws ``init_network(param, d, width, seed=random_state, …)`` and trains it with
    :func:`twolayer.dynamics.train` on the squared loss ``½Σ(u_i − y_i)²`` (or ``½n⁻¹Σ`` for the
    mean-field / E–Ma–Wu parameterizations, see ``loss_normalization``); ``predict`` is the trained
    network's output. In the kernel regime (``param="arora"``, large ``width``) the trained
    network approaches the init-corrected kernel predictor
    ``f_0(x) + H^∞(x, X) (H^∞)^{-1} (y − u(0))`` (Arora et al. 2019, §4), and with
    ``symmetric=True`` (``f_0 ≡ 0``) the ridgeless :class:`NTKRegressor`.

    Parameters
    ----------
    param : str, default "arora"
        A key of :data:`twolayer.networks.PARAMETERIZATIONS`: ``arora`` (W trained, ``m^{-1/2}``
        scale), ``both``, ``rf``, ``ema-wu``, ``ema-wu-rf``, ``mean-field``.
    width : int, default 1000
        Hidden units ``m`` (even when ``symmetric``).
    kappa : float, default 1
        Init scale of ``w ~ N(0, κ² I)`` (Gaussian parameterizations; the paper uses 1e-2).
    lr : float, optional
        Step η in the loss convention. Default ``lr_fraction × 2/λ_max(c K)``, the largest stable
        rate of the parameterization's reference tangent kernel as reported by ``train``.
        Required for ``algorithm="adam"``.
    lr_fraction : float in (0, 1), default 0.5
    steps : int, default 1000
        GD iterations.
    algorithm : {"gd", "noisy-gd", "adam"}
    loss_normalization : {"sum", "mean"}, optional
        Loss convention (default: the parameterization's).
    tol, rtol : float, optional
        Early stopping, as in :func:`~twolayer.dynamics.train`.
    weight_decay, temperature : float
        For ``noisy-gd`` (Chen et al. 2020): weight decay λ and Langevin temperature (default λ).
    beta : float, optional
        E–Ma–Wu ``|a_k(0)| = β`` (default ``1/m``).
    alpha : float, default 1
        Mean-field scale ``α`` (``s = α/m``).
    activation : {"relu", "tanh", "sigmoid"}, optional
        Override the activation; only for ``mean-field`` (whose reference kernel is the network's
        own ``H(0)``; the other parameterizations' closed-form kernels are for ReLU).
    symmetric : bool, default False
        Pair each neuron with a sign-flipped copy so that ``f ≡ 0`` at initialization.
    normalize : bool, default True
        Scale input rows to unit norm (zero rows stay zero).
    n_records : int, default 60
        Log-spaced steps at which the training loss is recorded (``loss_curve_``).
    random_state : int, Generator, SeedSequence or RandomState, default 0
        Seed of the initialization (``init_network(…, seed=random_state)``, which uses the child
        ``spawn_key=(0,)``); the Langevin noise uses the sibling stream ``spawn_key=(1,)``. Same
        seed ⇒ identical predictions.

    Attributes
    ----------
    network_, initial_network_ : twolayer.networks.Network
        Trained and initial parameters (batch of one).
    n_iter_ : int
        Iterations run (fewer than ``steps`` after an early stop).
    loss_curve_ : ndarray, shape (R,)
        Training loss at the recorded steps ``loss_steps_`` (in the run's convention, including
        the constant ``½ y_i²`` of any zero input row).
    loss_steps_ : ndarray of int, shape (R,)
    lr_, max_stable_lr_ : float
        Step used and ``2/λ_max`` of the reference kernel.
    stopped_ : str
        ``"steps"``, ``"tol"`` or ``"rtol"``.
    n_features_in_ : int

    Notes
    -----
    Cost per step: two GEMMs of ``n·m·d`` multiply-adds; plus, once, the reference kernel
    (``O(n² d)``) and its eigendecomposition (``O(n³)``; twice when ``lr`` is derived, once for the
    stable rate and once inside the run). Memory ``O(n m + m d + n²)``. Single output: ``y`` is
    ``(n,)``.
    """

    def __init__(self, param="arora", width=1000, kappa=1.0, lr=None, lr_fraction=0.5, steps=1000,
                 algorithm="gd", loss_normalization=None, tol=None, rtol=None, weight_decay=0.0, temperature=None,
                 beta=None, alpha=1.0, activation=None, symmetric=False, normalize=True, n_records=60,
                 random_state=0):
        self.param = param
        self.width = width
        self.kappa = kappa
        self.lr = lr
        self.lr_fraction = lr_fraction
        self.steps = steps
        self.algorithm = algorithm
        self.loss_normalization = loss_normalization
        self.tol = tol
        self.rtol = rtol
        self.weight_decay = weight_decay
        self.temperature = temperature
        self.beta = beta
        self.alpha = alpha
        self.activation = activation
        self.symmetric = symmetric
        self.normalize = normalize
        self.n_records = n_records
        self.random_state = random_state

    def _validate_params(self):
        _check_choice(self.param, "param", tuple(PARAMETERIZATIONS))
        _check_choice(self.algorithm, "algorithm", tuple(ALGORITHMS))
        width = _check_number(self.width, "width", low=1, integer=True)
        if self.symmetric and width % 2:
            raise ValueError(f"symmetric=True pairs neurons, so width must be even, got {width}")
        _check_number(self.kappa, "kappa", low=0.0, low_open=True)
        _check_number(self.lr, "lr", low=0.0, low_open=True, allow_none=True)
        _check_number(self.lr_fraction, "lr_fraction", low=0.0, high=1.0, low_open=True, high_open=True,
                      hint=" (a fraction of the largest stable rate 2/lambda_max)")
        _check_number(self.steps, "steps", low=0, integer=True)
        if self.loss_normalization is not None:
            _check_choice(self.loss_normalization, "loss_normalization", ("sum", "mean"))
        _check_number(self.tol, "tol", low=0.0, low_open=True, allow_none=True)
        _check_number(self.weight_decay, "weight_decay", low=0.0)
        _check_number(self.temperature, "temperature", low=0.0, allow_none=True)
        _check_number(self.beta, "beta", low=0.0, low_open=True, allow_none=True)
        _check_number(self.alpha, "alpha", low=0.0, low_open=True)
        if self.activation is not None:
            _check_choice(self.activation, "activation", tuple(ACTIVATIONS))
            default = PARAMETERIZATIONS[self.param].activation
            if self.activation != default and not PARAMETERIZATIONS[self.param].free_activation:
                free = [k for k, v in PARAMETERIZATIONS.items() if v.free_activation]
                raise ValueError(f"activation={self.activation!r} is only available for param in {free}; the "
                                 f"{self.param!r} parameterization's reference kernel is for {default!r}")
        if self.lr is None and make_rule(self.algorithm, lr=1.0).stable_step(1.0) is None:
            raise ValueError(f"algorithm={self.algorithm!r} declares no stable step to take a fraction of; pass an "
                             f"explicit lr (e.g. lr=1e-3)")
        return width

    def _inputs(self, X: np.ndarray) -> np.ndarray:
        return unit_rows(X) if self.normalize else X

    def fit(self, X, y):
        """Initialize and train the network on ``X`` (n, d), ``y`` (n,). Returns ``self``."""
        width = self._validate_params()
        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        Xk = self._inputs(X)
        seed = _seed_from(self.random_state)
        if isinstance(seed, np.random.Generator):
            noise_seed = seed  # train draws the noise seed from it after the initialization's draws
        else:  # init_network uses child (…, 0) of this sequence; the noise gets the sibling (…, 1)
            ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(int(seed))
            noise_seed = child_seed(ss, 1)
        net = init_network(self.param, X.shape[1], width, seed=seed, kappa=self.kappa, beta=self.beta,
                           alpha=self.alpha, symmetric=bool(self.symmetric), activation=self.activation)
        p = PARAMETERIZATIONS[self.param]
        norm = self.loss_normalization or p.loss_normalization
        # A zero input row gives φ(0) = 0 features and zero gradients for every ReLU
        # parameterization: it only adds ½ y_i² to a ½Σ loss, so it is dropped from the run
        # (the closed-form reference kernels need non-zero rows) and its constant added back.
        zero = ~Xk.any(axis=1)
        const = 0.0
        if zero.any() and p.reference is not None:
            if norm != "sum":
                raise ValueError(f"X has {int(zero.sum())} all-zero row(s); with the '{norm}' loss convention they "
                                 f"change the effective step of the other rows: drop those rows")
            const = 0.5 * float(np.sum(y[zero] ** 2))
            Xk, y = Xk[~zero], y[~zero]
        kw = dict(algorithm=self.algorithm, weight_decay=float(self.weight_decay), temperature=self.temperature,
                  noise_seed=noise_seed, normalization=self.loss_normalization, gram_diagnostics=False)
        if Xk.shape[0] == 0:  # only zero rows: nothing can be learned, the network keeps f(0) = 0
            self.network_ = self.initial_network_ = net
            self.n_iter_, self.stopped_ = 0, "steps"
            self.loss_steps_, self.loss_curve_ = np.array([0]), np.array([const])
            self.lr_ = self.max_stable_lr_ = float("nan")
            return self
        lr = self.lr
        if lr is None:
            probe = train(net, Xk, y, lr=1e-300, steps=0, n_records=2, **kw)
            lr = self.lr_fraction * probe.max_stable_lr
        res = train(net, Xk, y, lr=float(lr), steps=int(self.steps), tol=self.tol, rtol=self.rtol,
                    n_records=self.n_records, **kw)
        self.network_ = res.network
        self.initial_network_ = res.network0
        self.n_iter_ = int(res.n_steps)
        self.loss_steps_ = np.asarray(res.steps)
        self.loss_curve_ = np.asarray(res.metrics["loss"][0], dtype=np.float64) + const
        self.lr_ = float(lr)
        self.max_stable_lr_ = float(res.max_stable_lr)
        self.stopped_ = res.stopped
        return self

    def predict(self, X):
        """Outputs of the trained network: ``X`` (n_test, d) → (n_test,)."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return forward(self.network_, self._inputs(X))[0].astype(np.float64)


# --------------------------------------------------------------------------- classifiers
class _SignCodedClassifier(ClassifierMixin):
    r"""Turns a regressor of this module into a classifier by the ±1 coding of the labels.

    ``fit(X, y)`` takes any labels (numbers, strings, booleans); ``classes_`` are the sorted
    distinct labels (``np.unique``, as scikit-learn). Two classes: the regressor is fitted to
    ``t_i = +1`` where ``y_i = classes_[1]`` and ``t_i = −1`` where ``y_i = classes_[0]``, the
    ±1 labels of Arora et al. (2019) for which ``sqrt(2 tᵀ(H^∞)⁻¹t / n)`` (eq. 10) is defined (the
    complexity does not depend on which class is +1: ``t ↦ −t`` leaves ``tᵀH⁻¹t`` unchanged).
    ``decision_function`` is the regressor's real output ``f(x)`` and ``predict`` gives
    ``classes_[1]`` where ``f(x) > 0`` and ``classes_[0]`` otherwise (scikit-learn's convention: a
    tie ``f(x) = 0``, e.g. at an all-zero input row, goes to ``classes_[0]``). ``score`` is the
    accuracy. Subclasses set ``_multiclass``: ``True`` → ``k > 2`` classes are fitted as ``k``
    one-vs-rest ±1 columns of one multi-output regression (``predict`` takes the arg-max).
    """

    _multiclass = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.regressor_tags = None  # the regressor's tags sit below this mixin in the MRO
        tags.target_tags.multi_output = False
        tags.classifier_tags.multi_class = self._multiclass
        return tags

    def _code(self, y) -> np.ndarray:
        y = column_or_1d(y, warn=True)
        if y.dtype.kind in "fc":
            assert_all_finite(y, input_name="y")  # before type_of_target casts inf to int
        check_classification_targets(y)
        self.classes_, idx = np.unique(y, return_inverse=True)
        k = len(self.classes_)
        if k < 2:
            raise ValueError(f"y has {k} class{'' if k else 'es'}{f' ({self.classes_[0]!r})' if k else ''}; a "
                             f"classifier needs samples of at least two classes")
        if k == 2:
            return np.where(idx == 1, 1.0, -1.0)
        if not self._multiclass:
            raise ValueError(f"Only binary classification is supported: y has {k} classes. Wrap the estimator "
                             f"in a one-vs-rest classifier, e.g. sklearn.multiclass.OneVsRestClassifier("
                             f"{type(self).__name__}()), which fits one binary problem per class")
        return np.where(idx[:, None] == np.arange(k)[None, :], 1.0, -1.0)

    def fit(self, X, y):
        """Fit the regressor to the ±1 coding of ``y`` (n,) (any labels); returns ``self``."""
        return super().fit(X, self._code(y))

    def decision_function(self, X):
        """The regressor's output ``f(x)``: shape (n_test,) for two classes, (n_test, k) one-vs-rest."""
        return super().predict(X)

    def predict(self, X):
        """Class labels, shape (n_test,): ``classes_[1]`` where ``f(x) > 0`` (else ``classes_[0]``),
        or ``classes_[argmax_j f_j(x)]`` for ``k > 2`` classes."""
        f = self.decision_function(X)
        return self.classes_[np.argmax(f, axis=1) if f.ndim == 2 else (f > 0).astype(np.intp)]


class KernelClassifier(_SignCodedClassifier, KernelRegressor):
    r"""Kernel (ridge) classification: :class:`KernelRegressor` fitted to the ±1 coding of the labels.

    Two classes: ``α = (K + λI)^{+} t`` with ``t_i = +1`` for ``classes_[1]`` and ``−1`` for
    ``classes_[0]`` (Arora et al. 2019's labels); ``decision_function(X) = K(X, X_train) α``,
    shape (n_test,); ``predict`` its sign as a class (0 → ``classes_[0]``). ``k > 2`` classes:
    one-vs-rest, ``t`` of shape (n, k) with ``+1`` in the column of the sample's class and ``−1``
    elsewhere, all columns solved with one factorization (the same predictions as
    ``OneVsRestClassifier(KernelClassifier())`` at one ``k``-th of its solves); ``predict`` the
    arg-max. Parameters, attributes and cost as :class:`KernelRegressor`, plus ``classes_``.
    """

    _multiclass = True


class NTKClassifier(_SignCodedClassifier, NTKRegressor):
    r"""NTK classification (Arora et al. 2019): :class:`NTKRegressor` on the ±1 coding of the labels.

    ``layers="first"`` → ``H^∞``, ``"both"`` → ``κ_1 + H^∞``; labels, multiclass and ties as
    :class:`KernelClassifier`.
    """

    _multiclass = True


class RandomFeatureClassifier(_SignCodedClassifier, RandomFeatureRegressor):
    r"""Random-feature kernel ``κ_1`` classification: :class:`RandomFeatureRegressor` on the ±1 coding.

    Labels, multiclass and ties as :class:`KernelClassifier`.
    """

    _multiclass = True


class TwoLayerNetworkClassifier(_SignCodedClassifier, TwoLayerNetworkRegressor):
    r"""The trained two-layer network as a binary classifier: GD on the squared loss to ±1 targets.

    :class:`TwoLayerNetworkRegressor` fitted to ``t_i = +1`` for ``classes_[1]`` and ``−1`` for
    ``classes_[0]`` (the setting of Arora et al. 2019, whose classification error is that of
    ``sign f``); ``decision_function`` is the network's output (n_test,), ``predict`` its sign as a
    class (0 → ``classes_[0]``). Binary only: the network has one output, so ``k > 2`` classes raise
    ValueError naming the fix, ``sklearn.multiclass.OneVsRestClassifier(TwoLayerNetworkClassifier())``
    (``k`` trainings). Parameters, attributes and cost as the regressor, plus ``classes_``.
    """

    _multiclass = False
