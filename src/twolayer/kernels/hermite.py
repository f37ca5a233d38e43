r"""Hermite expansions of activations and the kernels they give (Mehler's formula).

For ``z ~ N(0, 1)`` write ``ψ_k = He_k/√k!`` (orthonormal probabilists' Hermite polynomials) and
``c_k = E[h(z) ψ_k(z)]`` the normalized Hermite coefficients of an activation ``h``. For a
standard Gaussian pair ``(a, b)`` with correlation ``ρ``, Mehler's formula gives
``E[ψ_k(a) ψ_l(b)] = δ_kl ρ^k``, hence ``E[h(a)h(b)] = Σ_k c_k² ρ^k``. Here:

* :func:`hermite_coefficients` — ``c_k`` of the smooth activations (``tanh``, ``sigmoid``) by
  Gauss–Hermite quadrature; :func:`generalized_ntk` and :func:`generalized_ntk_cos` — the
  generalized NTK ``Σ_k (1+k) c_k² ρ^k`` of Chen, Cao, Gu, Zhang (NeurIPS 2020).
* :func:`abs_hermite_coefficient_sq`, :func:`abs_hermite_coefficient`,
  :func:`relu_hermite_coefficient`, :func:`abs_hermite_tail`, :data:`VAR_ABS` — closed forms for
  ``|z|`` and ``relu`` (Li, Ma, Zhang, COLT 2020, papers.md §4.2).
* :func:`hermite_kernel`, :func:`hermite_sum_kernel` — the reproducing kernels ``K_k`` of the
  degree-k Hermite polynomials under ``N(0, I_d)`` (the ``ρ^k`` coefficients of the multivariate
  Mehler kernel); :func:`hermite_features` — the explicit orthonormal multivariate Hermite
  features whose Gram is ``Σ_k w_k K_k`` (:func:`hermite_feature_count`, :func:`order_weights`).
* :func:`ridge_hermite_energies`, :func:`ridge_population_mse` — the **exact** order-k energies
  ``‖P_k g‖²`` and ``E g²`` of a sum of relu / ``|·|`` ridge functions (a two-layer ReLU network
  minus the teacher ``aᵀ|W*x|`` of Li, Ma, Zhang), :func:`teacher_hermite_energies` their
  closed form for the teacher alone; :class:`HermiteProjector` — the unbiased U-statistic
  estimate of ``‖P_k r‖²``, with its standard error, for any function given on a Gaussian sample.

Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from .._errors import InputError

__all__ = ["SMOOTH", "hermite_coefficients", "generalized_ntk", "generalized_ntk_cos", "abs_hermite_coefficient_sq",
           "abs_hermite_tail", "abs_hermite_coefficient", "relu_hermite_coefficient", "VAR_ABS", "hermite_kernel",
           "hermite_sum_kernel", "KERNEL_ORDERS", "hermite_feature_count", "order_weights", "hermite_features",
           "RIDGE_ACTIVATIONS", "ridge_hermite_energies", "ridge_population_mse", "teacher_hermite_energies",
           "HermiteProjector"]

#: The smooth activations :func:`hermite_coefficients` expands (Chen et al.'s analysis needs smoothness).
SMOOTH = ("tanh", "sigmoid")

#: Energy of ``|z|``, ``z ~ N(0, 1)``, beyond the constant: ``Var|z| = 1 − 2/π`` (= ``abs_hermite_tail(0)``).
VAR_ABS = 1.0 - 2.0 / math.pi

#: The Hermite orders :func:`hermite_kernel` implements (and :class:`HermiteProjector` estimates by default).
KERNEL_ORDERS = (0, 1, 2, 3, 4)

#: The ridge activations of :func:`ridge_hermite_energies` (both positively homogeneous).
RIDGE_ACTIVATIONS = ("relu", "abs")


# =============================================================================== smooth activations, Chen et al.
@functools.lru_cache(maxsize=8)
def hermite_coefficients(activation: str = "tanh", terms: int = 140, nodes: int = 250) -> np.ndarray:
    r"""Normalized Hermite coefficients ``c_k = E[h(z) He_k(z)] / sqrt(k!)``, ``z ~ N(0, 1)``, ``k < terms``.

    Computed by Gauss–Hermite quadrature with ``nodes`` points (exact to rounding for the smooth
    activations here: ``Σ c_k² = E[h²]`` is checked to 1e-12).

    >>> c = hermite_coefficients("tanh")
    >>> bool(abs(c[0]) < 1e-15 and abs(c[2]) < 1e-15)      # tanh is odd
    True
    """
    from numpy.polynomial.hermite_e import hermegauss

    from ..activations import ACTIVATIONS

    if activation not in SMOOTH:
        raise InputError(f"activation must be smooth (one of {', '.join(SMOOTH)}) for Chen et al.'s analysis, "
                         f"got {activation!r}")
    z, w = hermegauss(nodes)
    w = w / math.sqrt(2 * math.pi)
    hz = ACTIVATIONS[activation].value(z)
    out = np.empty(terms)
    prev, cur = np.zeros_like(z), np.ones_like(z)          # ψ_{-1}, ψ_0 (ψ_k = He_k / sqrt(k!))
    for k in range(terms):
        out[k] = float(np.sum(w * hz * cur))
        prev, cur = cur, (z * cur - math.sqrt(k) * prev) / math.sqrt(k + 1)
    second = float(np.sum(w * hz * hz))
    if abs(float(np.sum(out**2)) - second) > 1e-10 * max(second, 1e-300):
        raise RuntimeError(f"Hermite series of {activation} not converged ({np.sum(out**2)} vs E[h^2] = {second})")
    return out


def generalized_ntk(X, Z=None, *, activation: str = "tanh") -> np.ndarray:
    r"""Chen et al.'s two-layer (generalized) NTK Gram matrix on unit-norm inputs.

    .. math:: H(x, z) = E_{(θ,u)∼N(0,I)}[h(θ^Tx)h(θ^Tz) + u^2 h'(θ^Tx)h'(θ^Tz)\,x^Tz]
                      = \sum_k (1 + k)\, c_k^2\, ρ^k,\qquad ρ = x^Tz,

    with ``c_k`` from :func:`hermite_coefficients` (Mehler's formula; :func:`generalized_ntk_cos`). The tangent kernel of
    ``f = (α/m)Σ u_j h(θ_jᵀx)`` in mean-field time is ``α²H`` as ``m → ∞``. Shapes: ``X`` (n, d),
    ``Z`` (n_z, d) → (n, n_z).

    >>> X = np.eye(3)
    >>> H = generalized_ntk(X)
    >>> bool(np.allclose(H, H[0, 0] * np.eye(3)))   # orthogonal inputs: E[h]^2 = 0 for tanh
    True
    """
    Xa = np.asarray(X, dtype=np.float64)
    Za = Xa if Z is None else np.asarray(Z, dtype=np.float64)
    for name, A in (("X", Xa), ("Z", Za)):
        if A.ndim != 2 or not np.all(np.isfinite(A)):
            raise InputError(f"{name} must be a finite 2-D array")
        if not np.allclose(np.linalg.norm(A, axis=1), 1.0, atol=1e-8):
            raise InputError(f"{name} must have unit-norm rows (the Hermite form of the kernel assumes ‖x‖ = 1); "
                             f"normalize the inputs first")
    c = hermite_coefficients(activation)
    rho = np.clip(Za @ Xa.T, -1.0, 1.0).T if Z is not None else np.clip(Xa @ Xa.T, -1.0, 1.0)
    K = generalized_ntk_cos(rho, c)
    if Z is None:
        np.fill_diagonal(K, float(np.sum(_ntk_series(c))))
        K = 0.5 * (K + K.T)
    return K


def _ntk_series(c) -> np.ndarray:
    """Power-series coefficients ``(1 + k) c_k²`` of the generalized NTK in ``ρ``."""
    return (1.0 + np.arange(c.size)) * c**2


def generalized_ntk_cos(rho, coefficients) -> np.ndarray:
    r"""``Σ_k (1 + k) c_k² ρ^k``: the generalized NTK of an activation with normalized Hermite
    coefficients ``c_k`` (``coefficients``, shape (K,)) at unit inputs with ``xᵀz = ρ`` (any shape).

    The ``c_k² ρ^k`` part is ``E[h(a)h(b)]`` and the ``k c_k² ρ^k`` part ``ρ E[h'(a)h'(b)]`` for a
    standard Gaussian pair of correlation ``ρ`` (Mehler's formula). With the ReLU coefficients
    (:func:`relu_hermite_coefficient`) it is the two-layer NTK ``κ_1 + H^∞`` of
    :mod:`twolayer.kernels.arccos` (the series converging like ``K^{-1/2}`` at ``|ρ| = 1``).

    >>> c = np.array([relu_hermite_coefficient(k) for k in range(2)])   # the linear part of relu
    >>> float(generalized_ntk_cos(0.0, c)) == 1 / (2 * np.pi)
    True
    """
    c = np.asarray(coefficients, dtype=np.float64)
    return np.polynomial.polynomial.polyval(np.clip(rho, -1.0, 1.0), _ntk_series(c))


# =============================================================================== |z| and relu, Li-Ma-Zhang
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


def abs_hermite_coefficient(k: int) -> float:
    r"""Signed coefficient ``c_k`` of ``|z|`` on ``He_k/√k!``: ``√(c_k²)`` with the sign
    ``(−1)^{j+1}`` for ``k = 2j ≥ 2`` (``c_2 = 1/√π > 0``, ``c_4 = −1/√(12π) < 0``), 0 for odd k.

    >>> round(abs_hermite_coefficient(4) ** 2 * 12 * math.pi, 12), abs_hermite_coefficient(4) < 0
    (1.0, True)
    """
    k = int(k)
    mag = math.sqrt(abs_hermite_coefficient_sq(k))
    if k == 0 or k % 2:
        return mag
    return mag if (k // 2) % 2 == 1 else -mag


def relu_hermite_coefficient(k: int) -> float:
    r"""Coefficient of ``relu(z) = (z + |z|)/2`` on ``He_k/√k!``: ``1/√(2π)`` (k = 0), ``1/2``
    (k = 1), ``c_k/2`` for even ``k ≥ 2`` and 0 for odd ``k ≥ 3``.

    >>> round(relu_hermite_coefficient(0) ** 2 * 2 * math.pi, 12), relu_hermite_coefficient(1)
    (1.0, 0.5)
    """
    k = int(k)
    if k == 1:
        return 0.5
    return 0.5 * abs_hermite_coefficient(k) if k % 2 == 0 else 0.0


# =============================================================================== Hermite reproducing kernels
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


def hermite_sum_kernel(X, Z, degree: int, weights=None, block: int = 1024) -> np.ndarray:
    """``Σ_{k≤degree} w_k K_k(x, z)`` between the rows of ``X`` (n, d) and ``Z`` (n_z, d), shape
    (n, n_z): the Gram of the features of :func:`hermite_features` (``weights`` (degree+1,), all
    ``w_k = 1`` by default). Cost ``O(n n_z (d + degree))``, in row blocks of ``block``."""
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


# =============================================================================== explicit Hermite features
def hermite_feature_count(d: int, degree: int) -> int:
    """Number ``C(d + degree, degree)`` of multivariate Hermite polynomials of total degree ≤ ``degree``
    in ``d`` variables (the columns of :func:`hermite_features`).

    >>> hermite_feature_count(3, 2)
    10
    """
    return math.comb(int(d) + int(degree), int(degree))


def order_weights(d: int, degree: int) -> np.ndarray:
    r"""Weights ``w_k = 1/dim_k`` of the Hermite orders ``k = 0..degree`` (shape (degree+1,)),
    ``dim_k = C(d+k−1, k)`` the dimension of the degree-k space: every order then contributes 1
    to the mean diagonal ``E Σ_k w_k K_k(x, x) = degree + 1`` of the feature kernel (equal prior
    variance per order, as for a rotation-invariant kernel).

    >>> order_weights(3, 2).tolist() == [1.0, 1 / 3, 1 / 6]
    True
    """
    return np.array([1.0 / math.comb(int(d) + k - 1, k) for k in range(int(degree) + 1)])


def hermite_features(X, degree: int, weights=None) -> np.ndarray:
    r"""Multivariate Hermite features ``√w_{|α|} h_α(x)``, ``h_α = Π_i He_{α_i}(x_i)/√α_i!``, for all
    ``|α| ≤ degree``: shape (n, :func:`hermite_feature_count` (d, degree)) for ``X`` (n, d),
    columns by order and then in the order of ``itertools.combinations_with_replacement``.

    With ``weights=None`` all ``w_k = 1``: the ``h_α`` are orthonormal under ``x ~ N(0, I_d)``
    and ``h(x)ᵀh(x') = Σ_{k≤degree} K_k(x, x')`` (:func:`hermite_sum_kernel`). Cost
    ``O(n · C(d+degree, degree) · degree)``.
    """
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


# =============================================================================== exact energies of ridge sums
def _units(amplitudes, directions):
    """Amplitudes ``α_p ‖u_p‖`` (P,) and unit directions (P, d) of ridge functions ``α_p σ(u_pᵀx)``
    (positive homogeneity of relu and |·|); zero directions get amplitude 0."""
    U = np.asarray(directions, dtype=np.float64)
    norms = np.linalg.norm(U, axis=1)
    safe = np.where(norms > 0, norms, 1.0)
    return np.asarray(amplitudes, dtype=np.float64) * norms, U / safe[:, None]


def _check_groups(groups) -> None:
    for act, _, _ in groups:
        if act not in RIDGE_ACTIVATIONS:
            raise InputError(f"ridge activation must be 'relu' or 'abs', got {act!r}")


def ridge_hermite_energies(groups, orders=KERNEL_ORDERS) -> dict[int, float]:
    r"""Exact ``‖P_k g‖²`` under ``x ~ N(0, I_d)`` of ``g(x) = Σ_p α_p σ_p(u_pᵀx)``, for every ``k`` in ``orders``.

    ``groups`` is a list of ``(activation, amplitudes (P,), directions (P, d))`` with activation
    ``"relu"`` or ``"abs"`` (both positively homogeneous, so ``σ(uᵀx) = ‖u‖σ(ûᵀx)``). With the
    signed coefficients ``γ_k(p)`` (:func:`relu_hermite_coefficient`, :func:`abs_hermite_coefficient`)
    and Mehler's ``E[He_k(ûᵀx)He_l(v̂ᵀx)]/k! = δ_kl (ûᵀv̂)^k``:
    ``‖P_k g‖² = Σ_{p,q} α_p α_q γ_k(p) γ_k(q) (û_pᵀû_q)^k`` — a quadratic form in the Schur
    power of a Gram matrix, hence ≥ 0 exactly (negative only by rounding, clipped at 0); ``k = 0``
    is ``(Σ_p α_p γ_0(p))²``. For a network ``s Σ_r a_r relu(w_rᵀx)`` minus the teacher
    ``Σ_i a*_i |w*_iᵀx|`` of Li, Ma, Zhang (COLT 2020, papers.md §4.2): ``[("relu", s·a, W),
    ("abs", −a*, W*)]``. Any order (the coefficients are closed forms). Cost ``O(P² (d + |orders|))``
    for ``P`` ridge functions in all, no sampling.

    >>> e = ridge_hermite_energies([("abs", [1.0], [[2.0, 0.0]])])     # 2|z|, z ~ N(0, 1)
    >>> round(e[0] * math.pi / 8, 12), round(e[2] * math.pi / 4, 12), e[3]
    (1.0, 1.0, 0.0)
    """
    _check_groups(groups)
    amps, dirs, coef = [], [], []
    for act, a, U in groups:
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
    r"""Exact ``E g²`` under ``x ~ N(0, I_d)`` of ``g = Σ_p α_p σ_p(u_pᵀx)`` (``groups`` as in
    :func:`ridge_hermite_energies`): the population loss of a network against the teacher.

    From the arc-cosine formulas (Cho & Saul 2009) for unit directions at correlation ``ρ``:
    ``E[relu relu] = (√(1−ρ²) + (π − arccos ρ) ρ)/(2π)``, ``E[|·||·|] = (2/π)(√(1−ρ²) + ρ arcsin ρ)``
    and ``E[relu |·|] = ½ E[|·||·|]`` (the odd part ``z/2`` of relu is orthogonal to ``|z'|``).
    Cost ``O(P² d)``.

    >>> round(ridge_population_mse([("relu", [1.0], [[1.0, 0.0]]), ("abs", [-0.5], [[1.0, 0.0]])]), 12)  # z/2
    0.25
    """
    _check_groups(groups)
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


def teacher_hermite_energies(a, orders=KERNEL_ORDERS) -> dict[int, float]:
    r"""Exact order-k energies ``‖P_k f*‖²`` of the teacher ``f* = Σ_i a_i |w*_iᵀx|`` (``a`` (k,))
    with **orthonormal** rows ``w*_i`` (Li, Ma, Zhang, COLT 2020, papers.md §4.2):
    ``(Σa_i)² c_0²`` for ``k = 0`` and ``Σ a_i² c_k²`` for ``k ≥ 1`` (the order-k components of
    orthogonal ridge functions are orthogonal for ``k ≥ 1``), ``c_k²`` from
    :func:`abs_hermite_coefficient_sq`. Cost ``O(k |orders|)``.

    >>> round(teacher_hermite_energies([0.5, 0.5])[2] * math.pi, 12)
    0.5
    """
    a = np.asarray(a, dtype=float)
    return {int(k): float((a.sum() ** 2 if k == 0 else a @ a) * abs_hermite_coefficient_sq(k)) for k in orders}


# =============================================================================== Monte Carlo energies
class HermiteProjector:
    r"""Unbiased estimates of the Hermite-order energies ``‖P_k r‖²`` under ``x ~ N(0, I_d)`` of
    functions given by their values on a fixed Gaussian sample ``X`` (N × d).

    The estimate is the U-statistic ``Σ_{i≠j} r_i K_k(x_i, x_j) r_j / (N(N−1))`` (``K_k`` of
    :func:`hermite_kernel`, so ``E[r(x) K_k(x, x') r(x')] = ‖P_k r‖²`` for independent
    ``x, x'``; for ``k ≥ 1`` with ``r`` centred by its sample mean, which removes the variance a
    large mean would add, at an ``O(1/N)`` bias). For functions with no closed form (kernel
    predictors); sums of relu/|·| ridge functions have the exact :func:`ridge_hermite_energies`.
    The Gram ``XXᵀ`` (memory ``N²``) is computed once; each call costs ``O(N²)`` per order, in
    row blocks of ``block``. ``orders`` ⊆ :data:`KERNEL_ORDERS`."""

    def __init__(self, X, orders=KERNEL_ORDERS, block: int = 512):
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
        r(x) K_k(x, x') r(x')`` (Hoeffding 1948): ``Var U = 4(N−2)/(N(N−1)) ζ₁ + 2/(N(N−1)) ζ₂``,
        ``ζ₁ = Var_x E_{x'} h``, ``ζ₂ = Var h``, estimated by the sample variance of the row
        means ``h₁(x_i) = Σ_{j≠i} h_ij/(N−1)`` (which over-estimates ζ₁ by ``≈ ζ₂/N``: a
        conservative error) and by ``mean_{i≠j} h_ij² − U²``. At ``d = 32`` the order-4 term
        ``2ζ₂/N² ≈ 2 (E r²)² C(d+3, 4)/N²`` dominates: the order-4 estimate of a residual of
        energy ``E r² ≈ 0.36/d`` has a standard error ≈ ``0.03/d`` at ``N = 4096``, as large as
        the Li–Ma–Zhang teacher's own order-4 energy ``0.027/d``; hence networks use the exact
        energies of :func:`ridge_hermite_energies` and this estimator serves the kernel
        predictors (no closed form) and cross-checks, with its error bar. Cost ``O(N²)`` per order."""
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
