r"""Mathematics of Li, Ma, Zhang (COLT 2020) reproductions: Hermite expansions, kernels, baselines.

For ``x ~ N(0, I_d)`` and the teacher ``f*(x) = Σ_i a_i |w*_iᵀx|`` (papers.md §4.2): the
orthonormal Hermite coefficients of ``|z|`` and ``relu(z)``, the reproducing kernels ``K_k`` of
the degree-k Hermite spaces (Mehler's formula), the **exact** population energies
``‖P_k r‖²`` of a sum of ridge functions (networks and teacher: no Monte Carlo), the unbiased
U-statistic estimate of ``‖P_k r‖²`` for any function given on a Gaussian sample (kernel
predictors) **with its standard error**, Hermite features, polynomial and kernel ridge
regression, and the neuron–teacher alignment. Pure functions, no I/O.

The coefficients of ``|z|`` and ``relu`` and the kernels ``K_k`` are core mathematics and live in
:mod:`twolayer.kernels.hermite`; they are re-exported here under their old names.
"""

from __future__ import annotations

import math

import numpy as np

from ..._errors import InputError
from ...kernels.hermite import (abs_hermite_coefficient, abs_hermite_coefficient_sq, abs_hermite_tail,  # noqa: F401
                                hermite_kernel, hermite_sum_kernel, relu_hermite_coefficient)

HERMITE_ORDERS = (0, 1, 2, 3, 4)

#: Energy of |z|, z ~ N(0,1), beyond the constant: Var|z| = 1 − 2/π.
VAR_ABS = 1.0 - 2.0 / math.pi


# =============================================================================== mathematics
def teacher_hermite_energies(a, orders=HERMITE_ORDERS) -> dict[int, float]:
    r"""Exact order-k energies ``‖P_k f*‖²`` of ``f* = Σ a_i |w*_iᵀx|`` with orthonormal rows
    ``w*_i``: ``(Σa_i)² c_0²`` for ``k = 0`` and ``Σ a_i² c_k²`` for ``k ≥ 1`` (the order-k
    components of different neurons are orthogonal for ``k ≥ 1``)."""
    a = np.asarray(a, dtype=float)
    return {int(k): float((a.sum() ** 2 if k == 0 else a @ a) * abs_hermite_coefficient_sq(k)) for k in orders}


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
        return self.energies_se(r)[0]

    def energies_se(self, r) -> tuple[dict[int, float], dict[int, float]]:
        r"""``({k: estimate}, {k: standard error})`` of ``‖P_k r‖²`` for the values ``r`` (N,).

        The standard error is that of a U-statistic of order 2 with kernel ``h(x, x') =
        r(x) K_k(x, x') r(x')`` (Hoeffding): ``Var U = 4(N−2)/(N(N−1)) ζ₁ + 2/(N(N−1)) ζ₂``,
        ``ζ₁ = Var_x E_{x'} h``, ``ζ₂ = Var h``, estimated by the sample variance of the row
        means ``h₁(x_i) = Σ_{j≠i} h_ij/(N−1)`` (which over-estimates ζ₁ by ``≈ ζ₂/N``: a
        conservative error) and by ``mean_{i≠j} h_ij² − U²``. At ``d = 32`` the order-4 term
        ``2ζ₂/N² ≈ 2 (E r²)² C(d+3, 4)/N²`` dominates: the order-4 estimate of a residual of
        energy ``E r² ≈ 0.36/d`` has a standard error ≈ ``0.03/d`` at ``N = 4096``, as large as
        the teacher's own order-4 energy ``0.027/d``; hence the networks' trajectories use the
        exact energies of :func:`ridge_hermite_energies` and this estimator is kept for the
        kernel predictors (no closed form) and as a cross-check with its error bar."""
        r = np.asarray(r, dtype=np.float64).reshape(-1)
        if r.shape[0] != self.N:
            raise InputError(f"r has {r.shape[0]} values, the Hermite sample has {self.N} points")
        rc = r - r.mean()   # orders >= 1 are orthogonal to constants: centring only removes variance
        N = self.N
        vs = {k: (r if k == 0 else rc) for k in self.orders}
        rowsum = {k: np.zeros(N) for k in self.orders}
        sq_sum = dict.fromkeys(self.orders, 0.0)
        for lo in range(0, N, self.block):
            hi = min(N, lo + self.block)
            S = self.S[lo:hi]
            A = self.sq[lo:hi, None]
            for k in self.orders:
                v = vs[k]
                K = hermite_kernel(k, S, A, self.sq[None, :], self.d)
                rowsum[k][lo:hi] = v[lo:hi] * (K @ v)                  # Σ_j h_ij, h_ij = v_i K_ij v_j
                np.multiply(K, K, out=K)
                sq_sum[k] += float((v[lo:hi] ** 2) @ (K @ (v * v)))    # Σ_j h_ij²
        est, se = {}, {}
        for k in self.orders:
            v = vs[k]
            hd = v * v * self.diag[k]                      # the diagonal terms h_ii
            off = rowsum[k] - hd                           # Σ_{j≠i} h_ij
            u = float(off.sum()) / (N * (N - 1))
            h1 = off / (N - 1)
            zeta1 = float(np.var(h1, ddof=1)) if N > 2 else 0.0
            zeta2 = max((sq_sum[k] - float(np.sum(hd * hd))) / (N * (N - 1)) - u * u, 0.0)
            var = 4.0 * (N - 2) / (N * (N - 1)) * zeta1 + 2.0 / (N * (N - 1)) * zeta2
            est[k], se[k] = u, math.sqrt(max(var, 0.0))
        return est, se


# ------------------------------------------------------------------------------ exact energies
def _units(amplitudes, directions):
    """Amplitudes ``α_p ‖u_p‖`` and unit directions of ridge functions ``α_p σ(u_pᵀx)`` (positive
    homogeneity of relu and |·|); zero directions get amplitude 0."""
    U = np.asarray(directions, dtype=np.float64)
    norms = np.linalg.norm(U, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    return np.asarray(amplitudes, dtype=np.float64) * norms, U / safe[:, None]


def ridge_hermite_energies(groups, orders=HERMITE_ORDERS) -> dict[int, float]:
    r"""Exact ``‖P_k g‖²`` under ``x ~ N(0, I_d)`` of ``g(x) = Σ_p α_p σ_p(u_pᵀx)``.

    ``groups`` is a list of ``(activation, amplitudes (P,), directions (P, d))`` with activation
    ``"relu"`` or ``"abs"`` (both positively homogeneous, so ``σ(uᵀx) = ‖u‖σ(ûᵀx)``). With the
    signed coefficients ``γ_k(p)`` (:func:`relu_hermite_coefficient`, :func:`abs_hermite_coefficient`)
    and Mehler's ``E[He_k(ûᵀx)He_l(v̂ᵀx)]/k! = δ_kl (ûᵀv̂)^k``:
    ``‖P_k g‖² = Σ_{p,q} α_p α_q γ_k(p) γ_k(q) (û_pᵀû_q)^k`` — a quadratic form in the Schur
    power of a Gram matrix, hence ≥ 0 exactly (negative only by rounding, clipped at 0).
    For a network minus the teacher, ``g = f − f*``: ``[("relu", scale·a, W), ("abs", −a*, W*)]``.
    Cost ``O(P² d)``, no sampling."""
    amps, dirs, coef = [], [], []
    for act, a, U in groups:
        if act not in ("relu", "abs"):
            raise InputError(f"ridge activation must be 'relu' or 'abs', got {act!r}")
        al, Un = _units(a, U)
        amps.append(al)
        dirs.append(Un)
        coef.append([(relu_hermite_coefficient if act == "relu" else abs_hermite_coefficient)(k) for k in orders])
    al = np.concatenate(amps)
    Un = np.concatenate(dirs)
    gam = np.concatenate([np.broadcast_to(np.asarray(c, float), (a.size, len(orders)))
                          for c, a in zip(coef, amps)])              # (P, orders)
    R = np.clip(Un @ Un.T, -1.0, 1.0)
    out = {}
    for j, k in enumerate(orders):
        v = al * gam[:, j]
        out[int(k)] = max(float(v @ (R ** k) @ v), 0.0) if k else float(v.sum()) ** 2
    return out


def ridge_population_mse(groups) -> float:
    r"""Exact ``E g²`` of ``g = Σ_p α_p σ_p(u_pᵀx)`` (groups as in :func:`ridge_hermite_energies`),
    from the arc-cosine formulas for unit directions at correlation ``ρ``:
    ``E[relu relu] = (√(1−ρ²) + (π − arccos ρ) ρ)/(2π)``, ``E[|·||·|] = (2/π)(√(1−ρ²) + ρ arcsin ρ)``
    and ``E[relu |·|] = ½ E[|·||·|]`` (the odd part ``z/2`` is orthogonal to ``|z'|``)."""
    als, dirs, kinds = [], [], []
    for act, a, U in groups:
        al, Un = _units(a, U)
        als.append(al)
        dirs.append(Un)
        kinds.append(np.full(al.size, act == "abs"))
    al, Un, is_abs = np.concatenate(als), np.concatenate(dirs), np.concatenate(kinds)
    R = np.clip(Un @ Un.T, -1.0, 1.0)
    sq = np.sqrt(1.0 - R * R)
    rr = (sq + (math.pi - np.arccos(R)) * R) / (2.0 * math.pi)
    aa = (2.0 / math.pi) * (sq + R * np.arcsin(R))
    both = is_abs[:, None] & is_abs[None, :]
    one = is_abs[:, None] ^ is_abs[None, :]
    E = np.where(both, aa, np.where(one, 0.5 * aa, rr))
    return max(float(al @ E @ al), 0.0)


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


def kernel_ridge(K, y, K_test, lam: float) -> np.ndarray:
    r"""Kernel ridge predictions ``K_test (K + λI)⁻¹ y``: the package's scikit-learn estimator
    :class:`~twolayer.estimators.KernelRegressor` on the precomputed Gram matrices (Cholesky;
    ``K`` is not modified)."""
    from ...estimators import KernelRegressor

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

