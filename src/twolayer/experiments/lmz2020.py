r"""Li, Ma, Zhang (COLT 2020): a trained two-layer ReLU network beats every kernel method on ``aᵀ|W*x|``.

Setting (papers.md §4): inputs ``x ~ N(0, I_d)`` (not unit norm), teacher
``f*(x) = Σ_i a_i |w*_iᵀx|`` with a Haar-random orthogonal ``W*`` (or the identity) and
``a_i = 1/d``, so ``Var f* = (1 − 2/π)/d = Θ(1/d)``. The paper proves that GD on an
over-parameterized ReLU network reaches population loss ``o(1/d)`` while any kernel method with
poly(d) samples stays at ``Ω(1/d)``; its simulations (settings not retrieved) show stage-wise
convergence and that sufficient over-parameterization is needed.

Two experiments, each a frozen config → a sweep of independent points → tidy metrics → figures:

``lmz2020-separation``
    For every ``d`` in ``dims`` (laptop: 8, 16, 32) and replicate: ``n = samples_factor·d²``
    training samples (laptop 8d²) and a fresh test set of ``n_test`` points; the network
    ``f(x) = m^{-1/2} Σ_r a_r relu(w_rᵀx)`` (parameterization ``both``: both layers trained,
    ``w ~ N(0, κ²I)``, ``a = ±1``, symmetric init so ``f ≡ 0`` at step 0) of width
    ``m = width_factor·d`` (laptop 10d), against kernel ridge regression with the both-layer
    NTK ``Θ = κ₁ + H∞`` (``ntk``) and the random-feature / arc-cosine kernel ``κ₁`` (``rf``),
    and polynomial ridge regression of degree 2 and 4 (``poly2``, ``poly4``), all on the same
    samples. Figure ``separation``: ``d × test MSE`` against ``d``; ``stagewise``: the
    Hermite-order residuals of the network over training; ``alignment``: the neuron–teacher
    alignment over training.
``lmz2020-width``
    The same teacher and samples with widths ``m = width_factor·d`` for ``width_factors``
    (laptop 1, 2, 4, 10): the network with ``m ≈ d`` (too few neurons to represent ``|z| =
    relu(z) + relu(−z)`` per teacher neuron, and no over-parameterization) against the wide one
    and the NTK baseline. Figure ``width``.

What is computed, exactly
-------------------------
* **Test loss** ``test_mse``: ``mean_j (f(x_j) − f*(x_j))²`` over the fresh test set (a Monte
  Carlo estimate of the population loss ``E(f − f*)²``); the figures show ``d × test_mse``
  (``d_test_mse``). Reference levels (papers.md §4.2, with ``d Σ a_i² = 1``): the best
  constant ``1 − 2/π = 0.363``, the best degree-≤2 predictor ``1 − 3/π = 0.0451``, the best
  degree-≤4 predictor ``0.0185``.
* **Training** minimizes ``½ n⁻¹ Σ (f(x_i) − y_i)²`` (+ ``½·weight_decay·‖θ‖²``, a drift
  ``weight_decay·θ``) with the update rule ``algorithm``: ``gd`` (the paper's algorithm:
  ``add_decayed_weights(λ) → scale(−η)``) or ``adam`` (``add_decayed_weights(λ) →
  adam_moments() → scale(−η)``, composed from :mod:`twolayer.dynamics`), full batch,
  ``steps`` iterations. The loop lives here (not :func:`twolayer.dynamics.train`) because the
  Hermite residuals need the network at every recorded step and ``train`` would build the
  ``n × n`` reference kernel and its spectrum (an eigendecomposition of an 8192 × 8192 matrix at
  d = 32).
* **Kernel baselines**: ``α = (K + λ I)⁻¹ y`` by Cholesky, prediction ``K(test, train) α``, for
  every ``λ = ridge · mean(diag K)`` with ``ridge`` in ``ridges``; the reported loss is the
  smallest over the ridges, measured on the test set (the most favourable ridge for the kernel,
  which makes "the kernel stays above" a conservative check). The targets are **not**
  centred: the bias-free ReLU kernels are positively homogeneous and cannot fit a constant
  offset once it is removed and added back.
* **Polynomial baselines** ``poly{p}``: ridge regression of the centred targets on the
  multivariate Hermite features of total degree ≤ p (``Π_i He_{α_i}(x_i)/√α_i!``), the order-k
  block scaled by ``1/√dim_k`` (``dim_k = C(d+k−1, k)``; otherwise the thousands of degree-4
  features swamp the low orders under one ridge and the fit is worse than a constant), same
  ridge rule with ``λ = ridge · (p + 1)`` (the mean diagonal of the feature kernel). With at
  most as many features as samples it is solved in the primal on explicit features; otherwise
  in the dual with the exact feature kernel ``Σ_{k≤p} K_k(x, x')/dim_k`` (below), which gives
  the same predictor — so degree 4 runs at every d, with ``C(d+4, 4)`` features (58,905 at
  d = 32) against ``n`` samples (fewer features than samples only for d ≤ 7 at n = 8d²: beyond
  that it is a kernel method like the others).
* **Hermite-order residuals**: for ``r = f − f*`` and Gaussian ``x``, the energy of the order-k
  component ``‖P_k r‖² = E_{x,x'}[r(x) K_k(x, x') r(x')]`` with ``K_k`` the reproducing kernel of
  the degree-k Hermite space, the coefficient of ``ρ^k`` in Mehler's formula. With ``s = xᵀx'``
  and ``t = ‖x‖² + ‖x'‖² − d``: ``K_0 = 1``, ``K_1 = s``, ``K_2 = (s² − t)/2``,
  ``K_3 = s(s² − 3t + 6)/6``, ``K_4 = (s⁴ − 6ts² + 3t² + 24s² − 12(t + d) + 6d)/24``. It is
  estimated by the unbiased U-statistic ``Σ_{i≠j} r_i K_k(x_i, x_j) r_j / (N(N − 1))`` over the
  first ``n_hermite`` test points, with ``r`` centred for ``k ≥ 1`` (so order 0 is the squared mean residual, order 2 the
  squared projection on the features ``x_i x_j − δ_ij``, order 4 the projection on all
  degree-4 Hermite polynomials, without forming them). ``rest`` is ``test_mse`` minus orders 0–4
  (orders ≥ 5). The teacher's own energies are recorded against their closed form
  ``(Σ a_i)² · 2/π`` (k = 0) and ``Σ a_i² c_k²`` with ``c_{2j}² = (2/π)((2j−3)!!)²/(2j)!``
  (odd k: 0) as a self-check (``teacher_hermite_energy`` vs ``…_exact``).
* **Alignment** ``alignment_mean`` / ``alignment_min``: ``max_j |cos∠(w_j, w*_i)|`` over all
  neurons ``j``, averaged / minimized over the teacher neurons ``i``.

Settings not in the paper (papers.md §4.1: "not retrieved") are chosen to test the claims and
recorded: ``n = 8d²`` (the separation vanished at ``n = 2d²`` in calibration), ``m = 10d``,
``κ = 0.01``, symmetric init, Adam with ``η = 6e-3``, 4000 steps, and weight decay ``1e-4`` for the laptop
preset (plain GD, the paper's algorithm, reaches the same regime far more slowly; without
weight decay the network over-fits the 8d² samples and does not beat the kernels).

Presets: ``laptop`` (defaults; about 2 minutes each with ``--jobs 2`` on 2 cores); ``paper``:
d ∈ {8, 16, 32, 64}, 3 replicates, plain GD (``algorithm = "gd"``, η = 2, 50,000 steps, float64),
a test set of 20,000 — hours on a workstation. The paper preset documents the scale; it was not
run when this module was written (GD at η = 2 was only checked at d = 16, where it descends
but needs far more than 4000 steps).

What the figures test: ``separation`` — the kernel lower bound Ω(1/d) against the network's
o(1/d), read as "the network beats every baseline by a wide margin at every d while the
baselines' d × loss does not decay"; the o(1/d) *rate* of the network is asymptotic and is
reported but not part of the verdict. ``stagewise`` — the two-stage proof structure (orders 0
and 2 fitted before order 4). ``alignment`` — stage 2's recovery of the teacher directions.
``width`` — the simulations' claim that sufficient over-parameterization is needed.

Seeds: every random choice comes from ``SeedSequence(seed, spawn_key=(KEY, d, s))`` (``KEY`` =
21 teacher ``W*``, 22 training inputs, 23 test inputs) or ``(24, d, m, s)`` for the network
init, for replicate ``s``; every model of a replicate sees the same teacher and samples.
"""

from __future__ import annotations

import contextlib
import functools
import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .._errors import InputError
from . import Experiment, RunContext, register, summarize
from ._common import (seed_sequence as _ss, rng as _rng, check_positive as _check_positive, Rows as _Rows)

PAPER = ("Li, Ma, Zhang. Learning over-parametrized two-layer ReLU neural networks beyond NTK. "
         "COLT 2020 (PMLR 125), arXiv 2007.04596")

TEACHER_KEY, TRAIN_KEY, TEST_KEY, INIT_KEY = 21, 22, 23, 24
KERNEL_MODELS = ("ntk", "rf")
HERMITE_ORDERS = (0, 1, 2, 3, 4)
ALGORITHMS = ("gd", "adam")

#: Energy of |z|, z ~ N(0,1), beyond the constant: Var|z| = 1 − 2/π.
VAR_ABS = 1.0 - 2.0 / math.pi


# =============================================================================== mathematics
def abs_hermite_coefficient_sq(k: int) -> float:
    r"""``c_k²``: squared coefficient of ``|z|`` on the orthonormal Hermite polynomial
    ``He_k/√k!`` under ``z ~ N(0, 1)``.

    ``c_0² = 2/π``, odd ``k``: 0, ``c_{2j}² = (2/π)((2j−3)!!)²/(2j)!`` for ``j ≥ 1``
    (papers.md §4.2).

    >>> round(abs_hermite_coefficient_sq(2) * math.pi, 12), round(abs_hermite_coefficient_sq(4) * 12 * math.pi, 12)
    (1.0, 1.0)
    """
    k = int(k)
    if k < 0:
        raise InputError(f"Hermite order must be >= 0, got {k}")
    if k % 2:
        return 0.0
    if k == 0:
        return 2.0 / math.pi
    j = k // 2
    if j <= 60:  # exact ratio of integers: (2j−3)!!, with (−1)!! = 1
        dfact = math.prod(range(2 * j - 3, 0, -2)) if 2 * j - 3 > 0 else 1
        return (2.0 / math.pi) * float(Fraction(dfact**2, math.factorial(2 * j)))
    # (2j−3)!! = (2j−2)! / (2^{j−1} (j−1)!) in logarithms
    log_dfact = math.lgamma(2 * j - 1) - (j - 1) * math.log(2.0) - math.lgamma(j)
    return (2.0 / math.pi) * math.exp(2.0 * log_dfact - math.lgamma(2 * j + 1))


def abs_hermite_tail(degree: int) -> float:
    r"""``Σ_{k > degree} c_k² = 1 − Σ_{k ≤ degree} c_k²`` (Parseval: ``E|z|² = 1``): the population
    loss of the best degree-≤``degree`` polynomial approximation of ``|z|`` (per unit ``Σ a_i²``
    for the teacher). ``1 − 3/π`` for degree 2.

    >>> round(abs_hermite_tail(2), 5), round(abs_hermite_tail(4), 5)
    (0.04507, 0.01854)
    """
    return 1.0 - sum(abs_hermite_coefficient_sq(k) for k in range(int(degree) + 1))


def teacher_hermite_energies(a, orders=HERMITE_ORDERS) -> dict[int, float]:
    r"""Exact order-k energies ``‖P_k f*‖²`` of ``f* = Σ a_i |w*_iᵀx|`` with orthonormal rows
    ``w*_i``: ``(Σa_i)² c_0²`` for ``k = 0`` and ``Σ a_i² c_k²`` for ``k ≥ 1`` (the order-k
    components of different neurons are orthogonal for ``k ≥ 1``)."""
    a = np.asarray(a, dtype=float)
    return {int(k): float((a.sum() ** 2 if k == 0 else a @ a) * abs_hermite_coefficient_sq(k)) for k in orders}


def hermite_kernel(k: int, S, A, B, d: int):
    r"""Reproducing kernel ``K_k`` of the degree-k Hermite polynomials under ``N(0, I_d)``.

    Parameters
    ----------
    k : int in 0..4
    S : ndarray — inner products ``xᵀx'`` (any shape)
    A, B : ndarray broadcastable to ``S`` — ``‖x‖²`` and ``‖x'‖²``
    d : int — dimension

    ``K_k(x, x') = Σ_{|α| = k} h_α(x) h_α(x')`` with ``h_α = Π_i He_{α_i}(x_i)/√α_i!``; the
    closed forms are the ``ρ^k`` coefficients of Mehler's kernel (module docstring).

    >>> float(hermite_kernel(2, np.array(3.0), 2.0, 5.0, 2))     # (9 − (2 + 5 − 2))/2
    2.0
    """
    t = A + B - d
    if k == 0:
        return np.ones_like(S * t, dtype=float)
    if k == 1:
        return S + 0.0 * t
    s2 = S * S
    if k == 2:
        return 0.5 * (s2 - t)
    if k == 3:
        return S * (s2 - 3.0 * t + 6.0) / 6.0
    if k == 4:
        return (s2 * s2 - 6.0 * t * s2 + 3.0 * t * t + 24.0 * s2 - 12.0 * (t + d) + 6.0 * d) / 24.0
    raise InputError(f"Hermite kernels are implemented for orders 0..4, got {k}")


class HermiteProjector:
    r"""Unbiased estimates of the Hermite-order energies ``‖P_k r‖²`` of functions given by
    their values on a fixed Gaussian sample ``X`` (N × d): the U-statistic
    ``Σ_{i≠j} r_i K_k(x_i, x_j) r_j / (N(N−1))`` (for ``k ≥ 1`` with ``r`` centred by its sample
    mean, which removes the variance a large mean would add, at an ``O(1/N)`` bias). The Gram
    ``XXᵀ`` is computed once; each call costs ``O(N²)`` per order, in row blocks."""

    def __init__(self, X, orders=HERMITE_ORDERS, block: int = 512):
        self.X = np.asarray(X, dtype=np.float64)
        self.N, self.d = self.X.shape
        if self.N < 2:
            raise InputError("the Hermite projection needs at least 2 sample points")
        self.orders = tuple(int(k) for k in orders)
        self.S = self.X @ self.X.T
        self.sq = np.einsum("ij,ij->i", self.X, self.X)
        self.block = int(block)
        self.diag = {k: hermite_kernel(k, self.sq, self.sq, self.sq, self.d) for k in self.orders}

    def energies(self, r) -> dict[int, float]:
        """``{k: estimate of ‖P_k r‖²}`` for the values ``r`` (shape (N,)) on the sample."""
        r = np.asarray(r, dtype=np.float64).reshape(-1)
        if r.shape[0] != self.N:
            raise InputError(f"r has {r.shape[0]} values, the Hermite sample has {self.N} points")
        rc = r - r.mean()   # orders >= 1 are orthogonal to constants: centring only removes variance
        quad = dict.fromkeys(self.orders, 0.0)
        for lo in range(0, self.N, self.block):
            hi = min(self.N, lo + self.block)
            S = self.S[lo:hi]
            A = self.sq[lo:hi, None]
            for k in self.orders:
                v = r if k == 0 else rc
                quad[k] += float(v[lo:hi] @ (hermite_kernel(k, S, A, self.sq[None, :], self.d) @ v))
        norm = self.N * (self.N - 1)
        return {k: (quad[k] - float(np.sum((r if k == 0 else rc) ** 2 * self.diag[k]))) / norm for k in self.orders}


def hermite_feature_count(d: int, degree: int) -> int:
    """Number of multivariate Hermite polynomials of total degree ≤ ``degree`` in ``d`` variables."""
    return math.comb(int(d) + int(degree), int(degree))


def order_weights(d: int, degree: int) -> np.ndarray:
    r"""Default weights ``w_k = 1/dim_k`` of the Hermite orders ``k = 0..degree``, ``dim_k =
    C(d+k−1, k)``: every order then contributes 1 to the mean diagonal of the feature kernel
    (equal prior variance per order, as for a rotation-invariant kernel)."""
    return np.array([1.0 / math.comb(int(d) + k - 1, k) for k in range(int(degree) + 1)])


def hermite_features(X, degree: int, weights=None) -> np.ndarray:
    r"""Multivariate Hermite features ``√w_{|α|} h_α(x)``, ``h_α = Π_i He_{α_i}(x_i)/√α_i!``, for all
    ``|α| ≤ degree``, columns by order and then in the order of
    ``itertools.combinations_with_replacement``. With ``weights=None`` all ``w_k = 1``: the
    ``h_α`` are orthonormal under ``x ~ N(0, I)`` and ``h(x)ᵀh(x') = Σ_{k≤degree} K_k(x, x')``."""
    from itertools import combinations_with_replacement

    X = np.asarray(X, dtype=np.float64)
    n, d = X.shape
    w = np.ones(degree + 1) if weights is None else np.asarray(weights, dtype=float)
    # univariate normalized Hermite values H[j][:, i] = He_j(x_i)/sqrt(j!)
    He = [np.ones_like(X), X.copy()]
    for j in range(2, degree + 1):
        He.append(X * He[j - 1] - (j - 1) * He[j - 2])
    H = [He[j] / math.sqrt(math.factorial(j)) for j in range(degree + 1)]
    cols = []
    for k in range(degree + 1):
        for combo in combinations_with_replacement(range(d), k):
            col = np.full(n, math.sqrt(w[k]))
            i = 0
            while i < len(combo):
                j = i
                while j < len(combo) and combo[j] == combo[i]:
                    j += 1
                col = col * H[j - i][:, combo[i]]
                i = j
            cols.append(col)
    return np.stack(cols, axis=1)


def hermite_sum_kernel(X, Z, degree: int, weights=None, block: int = 1024) -> np.ndarray:
    """``Σ_{k≤degree} w_k K_k(x, z)`` between the rows of ``X`` and ``Z`` (the feature kernel of
    :func:`hermite_features`; all ``w_k = 1`` by default), in row blocks."""
    X = np.asarray(X, dtype=np.float64)
    Z = np.asarray(Z, dtype=np.float64)
    w = np.ones(degree + 1) if weights is None else np.asarray(weights, dtype=float)
    A = np.einsum("ij,ij->i", X, X)
    B = np.einsum("ij,ij->i", Z, Z)[None, :]
    out = np.empty((X.shape[0], Z.shape[0]))
    for lo in range(0, X.shape[0], block):
        hi = min(X.shape[0], lo + block)
        S = X[lo:hi] @ Z.T
        acc = np.zeros_like(S)
        for k in range(int(degree) + 1):
            acc += w[k] * hermite_kernel(k, S, A[lo:hi, None], B, X.shape[1])
        out[lo:hi] = acc
    return out


def kernel_ridge(K, y, K_test, lam: float) -> np.ndarray:
    r"""Kernel ridge predictions ``K_test (K + λI)⁻¹ y``: the package's scikit-learn estimator
    :class:`~twolayer.estimators.KernelRegressor` on the precomputed Gram matrices (Cholesky;
    ``K`` is not modified)."""
    from ..estimators import KernelRegressor

    return KernelRegressor(kernel="precomputed", ridge=float(lam)).fit(K, y).predict(K_test)


def poly_ridge(X, y, X_test, degree: int, lams, *, weights="orders", center: bool = True,
               dual: bool | None = None) -> list[np.ndarray]:
    r"""Polynomial ridge regression of total degree ≤ ``degree``: predictions at ``X_test`` for
    every ``λ`` in ``lams``, minimizing ``‖Fβ − (y − ȳ)‖² + λ‖β‖²`` over the Hermite features
    ``F`` of :func:`hermite_features` (then ``ȳ`` added back; ``center=False`` fits ``y`` itself).

    ``weights="orders"`` scales order k by ``1/dim_k`` (:func:`order_weights`): with the plain
    orthonormal features the ``C(d+3, 4)`` degree-4 features would swamp the few low-order ones
    under a common ridge. ``None`` means all 1. Solved in the primal (explicit features,
    ``(FᵀF + λI)β = Fᵀy``) when there are at most as many features as samples, else in the dual
    with the feature kernel (:func:`hermite_sum_kernel`); both give the same predictor, and
    ``dual`` forces one."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    d = X.shape[1]
    w = order_weights(d, degree) if isinstance(weights, str) and weights == "orders" else weights
    nf = hermite_feature_count(d, degree)
    if dual is None:
        dual = nf > X.shape[0]
    ybar = float(y.mean()) if center else 0.0
    yc = y - ybar
    if dual:
        K, Kt = hermite_sum_kernel(X, X, degree, w), hermite_sum_kernel(X_test, X, degree, w)
        return [kernel_ridge(K, yc, Kt, lam) + ybar for lam in lams]
    F, Ft = hermite_features(X, degree, w), hermite_features(X_test, degree, w)
    G, b = F.T @ F, F.T @ yc
    out = []
    for lam in lams:
        M = G.copy()
        M[np.diag_indices_from(M)] += lam
        out.append(Ft @ np.linalg.solve(M, b) + ybar)
    return out


def alignment(W, W_star) -> np.ndarray:
    """``max_j |cos∠(w_j, w*_i)|`` for every teacher row ``i`` (shape (k,))."""
    W = np.asarray(W, dtype=np.float64)
    Ws = np.asarray(W_star, dtype=np.float64)
    Wn = W / np.maximum(np.linalg.norm(W, axis=1, keepdims=True), 1e-300)
    Wsn = Ws / np.linalg.norm(Ws, axis=1, keepdims=True)
    return np.max(np.abs(Wn @ Wsn.T), axis=0)


# =============================================================================== data
@functools.lru_cache(maxsize=3)
def _problem(seed: int, d: int, s: int, n: int, n_test: int, teacher_w: str):
    """Teacher, training and test sample of replicate ``s`` at dimension ``d`` (cached per process)."""
    from ..data.teacher import TeacherNetwork, random_orthogonal

    if teacher_w == "identity":
        W = np.eye(d)
    elif teacher_w == "random":
        W = random_orthogonal(d, _rng(seed, TEACHER_KEY, d, s))
    else:
        raise InputError(f"teacher_w must be 'random' or 'identity', got {teacher_w!r}")
    teacher = TeacherNetwork(np.full(d, 1.0 / d), W)
    X = _rng(seed, TRAIN_KEY, d, s).standard_normal((n, d))
    Xt = _rng(seed, TEST_KEY, d, s).standard_normal((n_test, d))
    return teacher, X, teacher(X), Xt, teacher(Xt)


def _n_samples(cfg, d: int) -> int:
    return int(round(cfg.samples_factor * d * d))


def _width(factor: float, d: int) -> int:
    m = max(2, int(round(factor * d)))
    return m + (m % 2)  # symmetric init pairs neurons


def _get_problem(cfg, d: int, s: int):
    return _problem(cfg.seed, d, s, _n_samples(cfg, d), cfg.n_test, cfg.teacher_w)


# =============================================================================== configs
@dataclass(frozen=True)
class SeparationConfig:
    """``lmz2020-separation``. Defaults = laptop preset (d = 8, 16, 32; about 2–3 min on 2 cores)."""

    seed: int = 0
    seeds: int = 1
    dims: tuple[int, ...] = (8, 16, 32)
    samples_factor: float = 8.0
    width_factor: float = 10.0
    n_test: int = 4096
    n_hermite: int = 4096
    teacher_w: str = "random"
    algorithm: str = "adam"
    lr: float = 6e-3
    weight_decay: float = 1e-4
    steps: int = 4000
    kappa: float = 0.01
    symmetric: bool = True
    records: int = 14
    kernels: tuple[str, ...] = KERNEL_MODELS
    poly_degrees: tuple[int, ...] = (2, 4)
    ridges: tuple[float, ...] = (1e-6, 1e-3, 1e-1, 1.0)
    dtype: str = "float32"

    def __post_init__(self):
        _common_checks(self)
        _check_positive("width_factor", self.width_factor)


@dataclass(frozen=True)
class WidthConfig:
    """``lmz2020-width``. Defaults = laptop preset (d = 8, 16, 32; m/d = 1, 2, 4, 10; NTK baseline)."""

    seed: int = 0
    seeds: int = 1
    dims: tuple[int, ...] = (8, 16, 32)
    width_factors: tuple[float, ...] = (1.0, 2.0, 4.0, 10.0)
    samples_factor: float = 8.0
    n_test: int = 4096
    n_hermite: int = 2048
    teacher_w: str = "random"
    algorithm: str = "adam"
    lr: float = 6e-3
    weight_decay: float = 1e-4
    steps: int = 4000
    kappa: float = 0.01
    symmetric: bool = True
    records: int = 8
    kernels: tuple[str, ...] = ("ntk",)
    poly_degrees: tuple[int, ...] = ()
    ridges: tuple[float, ...] = (1e-6, 1e-3, 1e-1, 1.0)
    dtype: str = "float32"

    def __post_init__(self):
        _common_checks(self)
        facs = tuple(sorted(float(f) for f in self.width_factors))
        if len(facs) < 2 or len(set(facs)) != len(facs) or facs[0] <= 0:
            raise InputError(f"width_factors must be at least two distinct positive numbers, got "
                             f"{self.width_factors!r}")
        object.__setattr__(self, "width_factors", facs)


def _common_checks(cfg) -> None:
    dims = tuple(sorted(int(v) for v in cfg.dims))
    if not dims or len(set(dims)) != len(dims) or dims[0] < 2:
        raise InputError(f"dims must be distinct integers >= 2, got {cfg.dims!r}")
    object.__setattr__(cfg, "dims", dims)
    for name in ("samples_factor", "lr", "kappa"):
        _check_positive(name, getattr(cfg, name))
    for name in ("seeds", "steps", "n_test", "n_hermite"):
        _check_positive(name, getattr(cfg, name), True)
    if cfg.n_hermite < 2:
        raise InputError(f"n_hermite must be at least 2, got {cfg.n_hermite}")
    if cfg.records < 2:
        raise InputError(f"records must be >= 2, got {cfg.records}")
    if cfg.weight_decay < 0:
        raise InputError(f"weight_decay must be >= 0, got {cfg.weight_decay}")
    if cfg.algorithm not in ALGORITHMS:
        raise InputError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {cfg.algorithm!r}")
    if cfg.teacher_w not in ("random", "identity"):
        raise InputError(f"teacher_w must be 'random' or 'identity', got {cfg.teacher_w!r}")
    if cfg.dtype not in ("float32", "float64"):
        raise InputError(f"dtype must be float32 or float64, got {cfg.dtype!r}")
    bad = [k for k in cfg.kernels if k not in KERNEL_MODELS]
    if bad:
        raise InputError(f"unknown kernels {bad}; choose from {', '.join(KERNEL_MODELS)}")
    if any(int(p) < 1 or int(p) > 4 for p in cfg.poly_degrees):
        raise InputError(f"poly_degrees must lie in 1..4, got {cfg.poly_degrees!r}")
    if not cfg.ridges or any(not r > 0 for r in cfg.ridges):
        raise InputError(f"ridges must be positive numbers, got {cfg.ridges!r}")
    if min(int(round(cfg.samples_factor * d * d)) for d in dims) < 2:
        raise InputError("samples_factor * d^2 must give at least 2 samples")


# =============================================================================== points
def _update_rule(cfg):
    from ..dynamics import adam_moments, add_decayed_weights, chain, scale

    if cfg.algorithm == "adam":
        return chain(add_decayed_weights(cfg.weight_decay), adam_moments(), scale(-cfg.lr))
    return chain(add_decayed_weights(cfg.weight_decay), scale(-cfg.lr))


def _network_point(params: dict, seed_seq, *, cfg):
    """Train one network on replicate ``seed`` at dimension ``d`` and width ``width``; record the
    test loss, Hermite-order residuals and alignment at log-spaced steps."""
    from ..dynamics import record_schedule
    from ..networks import Workspace, forward, init_network, loss_and_grads

    d, m, s = int(params["d"]), int(params["width"]), int(params["seed"])
    teacher, X, y, Xt, yt = _get_problem(cfg, d, s)
    dtype = np.dtype(cfg.dtype)
    net = init_network("both", d, m, seed=_ss(cfg.seed, INIT_KEY, d, m, s), kappa=cfg.kappa,
                       symmetric=cfg.symmetric, dtype=dtype)
    Xa = np.ascontiguousarray(X, dtype=dtype)
    Y = np.ascontiguousarray(y[None, :], dtype=dtype)
    nh = min(cfg.n_hermite, Xt.shape[0])
    proj = HermiteProjector(Xt[:nh])
    rec = set(record_schedule(cfg.steps, cfg.records).tolist())
    trains = frozenset({"W", "a"})
    params_ = {"W": net.W, "a": net.a}
    rule = _update_rule(cfg)
    state = rule.init(params_)
    ws = Workspace(Xa.shape[0], net)
    ids = dict(model="network", d=d, width=m, seed=s)
    rows = _Rows()
    arrays = {k: [] for k in ("steps", "train_mse", "test_mse", "alignment_mean", "alignment_min")}
    arrays["hermite"] = []
    for k in range(cfg.steps + 1):
        out = loss_and_grads(net, Xa, Y, normalization="mean", trains=trains, ws=ws)
        loss = float(out["loss"][0])
        if not math.isfinite(loss):
            raise InputError(f"training diverged at step {k} (d = {d}, m = {m}, {cfg.algorithm}, lr = {cfg.lr:g}); "
                             f"use a smaller --set lr=...")
        if k in rec:
            ft = forward(net, Xt)[0].astype(np.float64)
            r = ft - yt
            mse = float(np.mean(r * r))
            en = proj.energies(r[:nh])
            al = alignment(net.W[0], teacher.W)
            step_ids = dict(ids, step=k)
            rows.add("train_mse", 2.0 * loss, **step_ids)
            rows.add("test_mse", mse, **step_ids)
            rows.add("d_test_mse", d * mse, **step_ids)
            for order, e in en.items():
                rows.add("hermite_residual", d * e, order=order, **step_ids)
            rows.add("hermite_residual_rest", d * (float(np.mean(r[:nh] ** 2)) - sum(en.values())), **step_ids)
            rows.add("alignment_mean", float(np.mean(al)), **step_ids)
            rows.add("alignment_min", float(np.min(al)), **step_ids)
            for key, v in (("steps", k), ("train_mse", 2.0 * loss), ("test_mse", mse),
                           ("alignment_mean", float(np.mean(al))), ("alignment_min", float(np.min(al)))):
                arrays[key].append(v)
            arrays["hermite"].append([d * en[o] for o in HERMITE_ORDERS])
        if k == cfg.steps:
            break
        grads = {"W": out["gW"], "a": out["ga"]}
        updates, state = rule.update(grads, state, params_)
        for key, upd in updates.items():
            params_[key] += upd
    rows.add("final_test_mse", arrays["test_mse"][-1], **ids)
    rows.add("final_d_test_mse", d * arrays["test_mse"][-1], **ids)
    rows.add("final_train_mse", arrays["train_mse"][-1], **ids)
    rows.add("final_alignment_mean", arrays["alignment_mean"][-1], **ids)
    rows.add("final_alignment_min", arrays["alignment_min"][-1], **ids)
    rows.add("n", Xa.shape[0], **ids)
    return rows, {k: np.asarray(v, dtype=float) for k, v in arrays.items()}


def _kernel_matrices(model: str, X, Xt):
    from ..kernels import random_features_kernel, two_layer_ntk

    f = two_layer_ntk if model == "ntk" else random_features_kernel
    return f(X, n_jobs=1), f(Xt, X, n_jobs=1)


def _baseline_point(params: dict, seed_seq, *, cfg):
    """One baseline (kernel ``ntk``/``rf`` or ``poly{p}``) on replicate ``seed`` at dimension ``d``:
    the test loss at every ridge, the best one, and the Hermite residuals of the best predictor.

    Runs with one BLAS thread: a multi-threaded SYRK/Cholesky rounds differently, and the
    numbers must not depend on ``--jobs`` (a pool worker gets one thread per core anyway)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - comes with scikit-learn
        limits = contextlib.nullcontext()
    else:
        limits = threadpool_limits(limits=1)
    with limits:
        return _baseline_point_body(params, cfg)


def _baseline_point_body(params: dict, cfg):
    d, s, model = int(params["d"]), int(params["seed"]), str(params["model"])
    teacher, X, y, Xt, yt = _get_problem(cfg, d, s)
    n = X.shape[0]
    ids = dict(model=model, d=d, seed=s)
    rows = _Rows()
    if model in KERNEL_MODELS:
        K, Kt = _kernel_matrices(model, X, Xt)
        scale_ = float(np.mean(np.diag(K)))
        preds = {r: kernel_ridge(K, y, Kt, r * scale_) for r in cfg.ridges}
        rows.add("n_features", float("nan"), **ids)
    else:
        p = int(model.removeprefix("poly"))
        nf = hermite_feature_count(d, p)
        rows.add("n_features", nf, **ids)
        # weighted features: the mean diagonal of the feature kernel is p + 1
        preds = dict(zip(cfg.ridges, poly_ridge(X, y, Xt, p, [r * (p + 1) for r in cfg.ridges])))
    mses = {r: float(np.mean((f - yt) ** 2)) for r, f in preds.items()}
    best = min(mses, key=mses.get)
    for r, v in mses.items():
        rows.add("test_mse_at_ridge", v, ridge=r, **ids)
    rows.add("best_ridge", best, **ids)
    rows.add("final_test_mse", mses[best], **ids)
    rows.add("final_d_test_mse", d * mses[best], **ids)
    nh = min(cfg.n_hermite, Xt.shape[0])
    resid = preds[best][:nh] - yt[:nh]
    en = HermiteProjector(Xt[:nh]).energies(resid)
    for order, e in en.items():
        rows.add("final_hermite_residual", d * e, order=order, **ids)
    rows.add("n", n, **ids)
    return rows, {"prediction": preds[best]}


def _teacher_rows(cfg, rows: _Rows) -> None:
    """Self-check: the Hermite energies of ``f*`` on the test sample vs. their closed form."""
    for d in cfg.dims:
        teacher, X, y, Xt, yt = _get_problem(cfg, d, 0)
        nh = min(cfg.n_hermite, Xt.shape[0])
        est = HermiteProjector(Xt[:nh]).energies(yt[:nh])
        exact = teacher_hermite_energies(teacher.a)
        for k in HERMITE_ORDERS:
            rows.add("teacher_hermite_energy", d * est[k], d=d, order=k)
            rows.add("teacher_hermite_energy_exact", d * exact[k], d=d, order=k)
        a2 = float(teacher.a @ teacher.a)
        rows.add("constant_predictor", d * a2 * VAR_ABS, d=d)
        rows.add("floor_degree2", d * a2 * abs_hermite_tail(2), d=d)
        rows.add("floor_degree4", d * a2 * abs_hermite_tail(4), d=d)
        rows.add("teacher_variance_test", d * float(np.var(yt)), d=d)


def _dispatch_point(params: dict, seed_seq, *, cfg):
    if params["model"] == "network":
        return _network_point(params, seed_seq, cfg=cfg)
    return _baseline_point(params, seed_seq, cfg=cfg)


def _points(cfg, widths_by_d: dict, baselines: list[str]) -> list[dict]:
    """Sweep points, most expensive first (largest d, networks before baselines) so that a pool
    of two finishes together."""
    pts = []
    for d in sorted(cfg.dims, reverse=True):
        for s in range(cfg.seeds):
            for m in sorted(widths_by_d[d], reverse=True):
                pts.append({"d": d, "model": "network", "width": m, "seed": s})
            for b in baselines:
                pts.append({"d": d, "model": b, "width": 0, "seed": s})
    return pts


def _baselines(cfg) -> list[str]:
    return list(cfg.kernels) + [f"poly{int(p)}" for p in cfg.poly_degrees]


def _result_value(results, metric: str, **where) -> np.ndarray:
    """Values of ``metric`` in the rows of points matching ``where`` (on params), one per seed."""
    out = []
    for r in results:
        if all(r.params.get(k) == v for k, v in where.items()):
            vals = [row["value"] for row in r.rows if row["metric"] == metric and "step" not in row
                    and "order" not in row and "ridge" not in row]
            out.extend(vals)
    return np.asarray(out, dtype=float)


def _record_setup(cfg, ctx: RunContext, widths_by_d: dict) -> None:
    ctx.rf.set_data({"source": "teacher (Li, Ma, Zhang 2020)", "formula": "y = a^T |W* x|, x ~ N(0, I_d)",
                     "a": "1/d each", "W*": cfg.teacher_w, "dims": list(cfg.dims),
                     "n_train": {str(d): _n_samples(cfg, d) for d in cfg.dims}, "n_test": cfg.n_test,
                     "n_hermite": min(cfg.n_hermite, cfg.n_test), "normalized_inputs": False,
                     "seeds": "SeedSequence(seed, spawn_key=(21|22|23, d, replicate)) for W*, X, X_test"})
    ctx.resolve(loss="1/2 n^-1 sum_i (f(x_i) - y_i)^2 + weight decay drift", normalization="mean",
                algorithm=cfg.algorithm, paper_algorithm="gd (full-batch gradient descent from random init)",
                update_rule=("add_decayed_weights -> adam_moments -> scale(-lr)" if cfg.algorithm == "adam"
                             else "add_decayed_weights -> scale(-lr)"),
                parameterization="both: m^-1/2 sum a_r relu(w_r.x), w ~ N(0, kappa^2 I), a = +-1, both trained",
                widths={str(d): list(widths_by_d[d]) for d in cfg.dims},
                n_train={str(d): _n_samples(cfg, d) for d in cfg.dims},
                test_loss="mean_j (f(x_j) - f*(x_j))^2 on the fresh test set; figures show d x test loss",
                ridge_rule="lambda = ridge * mean(diag K) (kernels, raw targets) or ridge * (p + 1) (polynomials "
                           "of degree p, centred targets, order k scaled by 1/dim_k); best ridge on the test set "
                           "(most favourable to the baseline)",
                hermite="unbiased U-statistic of sum_{i!=j} r_i K_k(x_i,x_j) r_j/(N(N-1)), K_k from Mehler's formula",
                not_retrieved_from_paper="n, m, init scale, step size, weight decay, number of steps "
                                         "(papers.md 4.1); chosen to test the claim, see the module docstring")


def _summary_rows(cfg, results, rows: _Rows, models: list[tuple[str, int]]) -> dict:
    """``d_test_mse_mean`` / ``_sd`` per (model, width, d); returns ``{(model, width): (mean, sd)}``."""
    curves = {}
    for model, m_fac in models:
        vals = np.full((len(cfg.dims), cfg.seeds), np.nan)
        for i, d in enumerate(cfg.dims):
            where = {"d": d, "model": model}
            if model == "network":
                where["width"] = _width(m_fac, d)
            v = _result_value(results, "final_d_test_mse", **where)
            vals[i, :v.size] = v
        mean, sd = summarize(vals)
        curves[(model, m_fac)] = (mean, sd)
        for i, d in enumerate(cfg.dims):
            extra = {"width_factor": m_fac} if model == "network" else {}
            rows.add("d_test_mse_mean", mean[i], model=model, d=d, **extra)
            rows.add("d_test_mse_sd", sd[i], model=model, d=d, **extra)
    return curves


def _network_history(results, cfg, d: int, m: int) -> dict:
    """Seed-averaged histories of one (d, m) network: steps, test loss, Hermite residuals, alignment."""
    rs = [r for r in results if r.params["model"] == "network" and r.params["d"] == d and r.params["width"] == m]
    out = {"steps": np.asarray(rs[0].arrays["steps"])}
    for key in ("test_mse", "alignment_mean", "alignment_min", "train_mse"):
        out[key] = np.mean([r.arrays[key] for r in rs], axis=0)
    out["hermite"] = np.mean([r.arrays["hermite"] for r in rs], axis=0)   # (R, orders), already × d
    return out


# =============================================================================== runs
def run_separation(cfg: SeparationConfig, ctx: RunContext) -> None:
    widths = {d: [_width(cfg.width_factor, d)] for d in cfg.dims}
    _record_setup(cfg, ctx, widths)
    baselines = _baselines(cfg)
    results = ctx.sweep(functools.partial(_dispatch_point, cfg=cfg), _points(cfg, widths, baselines),
                        seed=cfg.seed, desc="lmz2020 separation points")
    rows = _Rows()
    for r in results:
        rows.extend(r.rows)
    _teacher_rows(cfg, rows)
    models = [("network", cfg.width_factor)] + [(b, 0) for b in baselines]
    curves = _summary_rows(cfg, results, rows, models)
    dims = np.array(cfg.dims, float)
    net = curves[("network", cfg.width_factor)][0]
    best_base = np.nanmin(np.stack([curves[(b, 0)][0] for b in baselines]), axis=0) if baselines else \
        np.full(dims.size, np.nan)
    for i, d in enumerate(cfg.dims):
        rows.add("best_baseline_d_test_mse", best_base[i], d=d)
        rows.add("network_over_best_baseline", net[i] / best_base[i], d=d)
    hist = {d: _network_history(results, cfg, d, widths[d][0]) for d in cfg.dims}
    for d in cfg.dims:
        h = hist[d]
        for j, step in enumerate(h["steps"]):
            for o, order in enumerate(HERMITE_ORDERS):
                rows.add("hermite_residual_mean", h["hermite"][j, o], d=d, order=order, step=int(step))
            rows.add("alignment_mean_mean", h["alignment_mean"][j], d=d, step=int(step))
            rows.add("d_test_mse_network_mean", d * h["test_mse"][j], d=d, step=int(step))
        rows.add("alignment_random_init", h["alignment_mean"][0], d=d)
        rows.add("alignment_final", h["alignment_mean"][-1], d=d)
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(dims=dims, **{f"d_test_mse_{m}": v[0] for (m, _), v in curves.items()},
                        **{f"hermite_d{d}": hist[d]["hermite"] for d in cfg.dims},
                        **{f"steps_d{d}": hist[d]["steps"] for d in cfg.dims},
                        **{f"alignment_d{d}": hist[d]["alignment_mean"] for d in cfg.dims})
    floors = _floors()
    labels = {"network": f"ReLU network, $m={cfg.width_factor:g}d$ ({cfg.algorithm})"}
    ctx.save_figure(plot_separation(dims, {labels.get(m, _MODEL_NAMES.get(m, m)): v for (m, _), v in curves.items()},
                                    floors, title=rf"$f^*=\frac{{1}}{{d}}\sum_i|w_i^{{*\top}}x|$, "
                                    rf"$n={cfg.samples_factor:g}d^2$, {cfg.n_test} fresh test points, "
                                    f"{cfg.seeds} replicate(s)"), "separation")
    ctx.save_figure(plot_stagewise(hist, title=f"Hermite-order residuals of the network over training "
                                               f"({cfg.algorithm}, $m={cfg.width_factor:g}d$, $n={cfg.samples_factor:g}d^2$)"),
                    "stagewise")
    ctx.save_figure(plot_alignment(hist, title=f"neuron–teacher alignment over training ({cfg.algorithm}, "
                                               f"$m={cfg.width_factor:g}d$)"), "alignment")


def run_width(cfg: WidthConfig, ctx: RunContext) -> None:
    widths = {d: sorted({_width(f, d) for f in cfg.width_factors}) for d in cfg.dims}
    _record_setup(cfg, ctx, widths)
    baselines = _baselines(cfg)
    results = ctx.sweep(functools.partial(_dispatch_point, cfg=cfg), _points(cfg, widths, baselines),
                        seed=cfg.seed, desc="lmz2020 width points")
    rows = _Rows()
    for r in results:
        rows.extend(r.rows)
    _teacher_rows(cfg, rows)
    models = [("network", f) for f in cfg.width_factors] + [(b, 0) for b in baselines]
    curves = _summary_rows(cfg, results, rows, models)
    facs = np.array(cfg.width_factors, float)
    table = np.stack([curves[("network", f)][0] for f in cfg.width_factors], axis=1)  # (D, F)
    sds = np.stack([curves[("network", f)][1] for f in cfg.width_factors], axis=1)
    base = {b: curves[(b, 0)][0] for b in baselines}
    for i, d in enumerate(cfg.dims):
        rows.add("narrow_over_wide", table[i, 0] / table[i, -1], d=d)
        if baselines:
            best = min(base[b][i] for b in baselines)
            rows.add("best_baseline_d_test_mse", best, d=d)
            rows.add("narrow_over_best_baseline", table[i, 0] / best, d=d)
            rows.add("wide_over_best_baseline", table[i, -1] / best, d=d)
        for j, f in enumerate(cfg.width_factors):
            h = _network_history(results, cfg, d, _width(f, d))
            rows.add("alignment_final_by_width", h["alignment_mean"][-1], d=d, width_factor=f)
            rows.add("train_mse_final_by_width", d * h["train_mse"][-1], d=d, width_factor=f)
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(dims=np.array(cfg.dims, float), width_factors=facs, d_test_mse=table, d_test_mse_sd=sds,
                        **{f"d_test_mse_{b}": v for b, v in base.items()})
    ctx.save_figure(plot_width(np.array(cfg.dims), facs, table, sds, base, _floors(),
                               title=rf"over-parameterization: width $m$ vs. $d\times$ test loss "
                                     rf"($n={cfg.samples_factor:g}d^2$, {cfg.algorithm}, {cfg.steps} steps)"),
                    "width")


def _floors() -> dict:
    return {r"best constant $1-2/\pi$": VAR_ABS, r"best degree-$\leq 2$ polynomial": abs_hermite_tail(2),
            r"best degree-$\leq 4$ polynomial": abs_hermite_tail(4)}


_MODEL_NAMES = {"ntk": r"NTK regression ($\kappa_1 + H^\infty$)", "rf": r"random-feature kernel ($\kappa_1$)",
                "poly2": "polynomial regression, degree 2", "poly4": "polynomial regression, degree 4",
                "poly1": "linear regression", "poly3": "polynomial regression, degree 3"}


# =============================================================================== figures
def _plot_mod():
    from .. import plotting as P

    return P


def _styled(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return _plot_mod()._styled(func)(*args, **kwargs)
    return wrapper


@_styled
def plot_separation(dims, curves: dict, floors: dict, *, title: str | None = None):
    """``d × test loss`` against ``d`` (log–log), one line per model (mean ± sd), the analytic
    polynomial floors dashed."""
    from matplotlib.figure import Figure

    P = _plot_mod()
    fig = Figure(figsize=(8.2, 6.0), layout="constrained")
    ax = fig.subplots(1, 1)
    markers = ["o", "s", "^", "D", "v", "P"]
    for j, (name, (mean, sd)) in enumerate(curves.items()):
        c = P._CYCLE[j % len(P._CYCLE)]
        mu = np.asarray(mean, float)
        ax.plot(dims, P._positive(mu), "-", marker=markers[j % len(markers)], color=c, lw=2.4 if j == 0 else 1.8,
                ms=6, label=name, zorder=3 if j == 0 else 2)
        s = np.asarray(sd, float)
        if np.any(s > 0):
            ax.fill_between(dims, np.maximum(mu - s, mu * 0.05), mu + s, color=c, alpha=0.15, lw=0)
    for j, (name, v) in enumerate(floors.items()):
        ax.axhline(v, color=P._GREY, ls=["--", ":", "-."][j % 3], lw=1.2, label=name, zorder=1)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xticks(dims)
    ax.set_xticklabels([str(int(v)) for v in dims])
    ax.minorticks_off()
    ax.set_xlabel("input dimension $d$")
    ax.set_ylabel(r"$d\,\times$ test loss $\;d\,E(f-f^*)^2$")
    fig.suptitle(title or "network vs. kernels beyond the NTK", fontsize=11.5, fontweight="bold")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3)
    return fig


@_styled
def plot_stagewise(hist: dict, *, title: str | None = None):
    """One panel per ``d``: ``d × ‖P_k(f − f*)‖²`` for orders k = 0..4 and ``d × test loss``
    against the training step (log–log; step 0 shown at 1)."""
    from matplotlib.figure import Figure

    P = _plot_mod()
    dims = list(hist)
    fig = Figure(figsize=(4.3 * len(dims) + 1.2, 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(dims), sharey=True))
    colors = [P.OKABE_ITO[c] for c in ("black", "blue", "vermillion", "sky_blue", "green")]
    styles = ["-", ":", "-", ":", "-"]
    handles = []
    for ax, d in zip(axes, dims):
        h = hist[d]
        x = h["steps"] + 1.0
        ln = ax.plot(x, P._positive(d * h["test_mse"]), color=P.OKABE_ITO["orange"], lw=3, alpha=0.6,
                     label=r"total $d\,E(f-f^*)^2$")
        hs = [ln[0]]
        for o, order in enumerate(HERMITE_ORDERS):
            hs.append(ax.plot(x, P._positive(h["hermite"][:, o]), styles[o], color=colors[o], marker="o", ms=3,
                              label=f"order {order}" + (" (odd: none in $f^*$)" if order % 2 else ""))[0])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training step + 1")
        ax.set_title(f"$d = {d}$")
        handles = hs
    axes[0].set_ylabel(r"$d\times\|P_k(f-f^*)\|^2$")
    fig.legend(handles=handles, loc="outside right upper")
    if title:
        fig.suptitle(title, fontsize=11.5, fontweight="bold")
    return fig


@_styled
def plot_alignment(hist: dict, *, title: str | None = None):
    """``mean_i max_j |cos∠(w_j, w*_i)|`` against the training step, one line per d."""
    from matplotlib.figure import Figure

    P = _plot_mod()
    fig = Figure(figsize=(8.2, 5.4), layout="constrained")
    ax = fig.subplots(1, 1)
    for j, (d, h) in enumerate(hist.items()):
        c = P._CYCLE[j % len(P._CYCLE)]
        x = h["steps"] + 1.0
        ax.plot(x, h["alignment_mean"], "-o", color=c, ms=3, label=f"$d={d}$: mean over $i$")
        ax.plot(x, h["alignment_min"], ":", color=c, lw=1.4, label=f"$d={d}$: worst $i$")
    ax.axhline(1.0, color=P._GREY, ls="--", lw=1.0)
    ax.set_xscale("log")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("training step + 1")
    ax.set_ylabel(r"$\max_j |\cos\angle(w_j, w^*_i)|$")
    fig.suptitle(title or "alignment", fontsize=11.5, fontweight="bold")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3)
    return fig


@_styled
def plot_width(dims, factors, table, sds, baselines: dict, floors: dict, *, title: str | None = None):
    """``d × test loss`` against ``m/d`` (log x), one colour per ``d``; the kernel baselines of
    the same ``d`` as dashed horizontal segments, the analytic floors in grey."""
    from matplotlib.figure import Figure

    P = _plot_mod()
    fig = Figure(figsize=(8.4, 6.2), layout="constrained")
    ax = fig.subplots(1, 1)
    for i, d in enumerate(dims):
        c = P._CYCLE[i % len(P._CYCLE)]
        mu, s = table[i], sds[i]
        ax.plot(factors, P._positive(mu), "-o", color=c, lw=2.2, ms=6, label=f"network, $d={int(d)}$")
        if np.any(s > 0):
            ax.fill_between(factors, np.maximum(mu - s, mu * 0.05), mu + s, color=c, alpha=0.15, lw=0)
        for b, v in baselines.items():
            ax.hlines(v[i], factors[0], factors[-1], colors=c, linestyles="--", lw=1.3,
                      label=f"{b.upper() if b in KERNEL_MODELS else b} regression, $d={int(d)}$")
    ax.axhline(floors[r"best constant $1-2/\pi$"], color=P._GREY, ls="-.", lw=1.2, label=r"best constant $1-2/\pi$")
    ax.axhline(floors[r"best degree-$\leq 2$ polynomial"], color=P._GREY, ls=":", lw=1.2,
               label=r"best degree-$\leq 2$ polynomial")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(factors)
    ax.set_xticklabels([f"{f:g}" for f in factors])
    ax.minorticks_off()
    ax.set_xlabel(r"width / input dimension  $m/d$")
    ax.set_ylabel(r"$d\,\times$ test loss")
    fig.suptitle(title or "width", fontsize=11.5, fontweight="bold")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3)
    return fig


# =============================================================================== registry
register(Experiment(
    name="lmz2020-separation", paper=PAPER, config=SeparationConfig, run=run_separation,
    summary="NN vs NTK / random-feature kernel / polynomial regression on f* = a^T|W*x|: d x test loss vs d, "
            "Hermite-order residuals (stage-wise) and neuron alignment",
    presets={"laptop": {},
             "paper": {"dims": (8, 16, 32, 64), "seeds": 3, "n_test": 20_000, "n_hermite": 8192,
                       "algorithm": "gd", "lr": 2.0, "steps": 50_000, "records": 30, "dtype": "float64"}},
    grid_fields=("seeds", "dims")))

register(Experiment(
    name="lmz2020-width", paper=PAPER, config=WidthConfig, run=run_width,
    summary="Over-parameterization is needed: the network with m ~ d vs m = 10d vs the NTK on f* = a^T|W*x|",
    presets={"laptop": {},
             "paper": {"dims": (8, 16, 32, 64), "seeds": 3, "width_factors": (1.0, 2.0, 4.0, 10.0, 50.0),
                       "n_test": 20_000, "algorithm": "gd", "lr": 2.0, "steps": 50_000, "records": 20,
                       "kernels": ("ntk", "rf"), "poly_degrees": (2, 4), "dtype": "float64"}},
    grid_fields=("seeds", "dims", "width_factors")))
