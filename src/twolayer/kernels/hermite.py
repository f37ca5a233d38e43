r"""Hermite expansions of activations and the kernels they give (Mehler's formula).

For ``z ~ N(0, 1)`` write ``ψ_k = He_k/√k!`` (orthonormal probabilists' Hermite polynomials) and
``c_k = E[h(z) ψ_k(z)]`` the normalized Hermite coefficients of an activation ``h``. For a
standard Gaussian pair ``(a, b)`` with correlation ``ρ``, Mehler's formula gives
``E[ψ_k(a) ψ_l(b)] = δ_kl ρ^k``, hence ``E[h(a)h(b)] = Σ_k c_k² ρ^k``. Here:

* :func:`hermite_coefficients` — ``c_k`` of the smooth activations (``tanh``, ``sigmoid``) by
  Gauss–Hermite quadrature; :func:`generalized_ntk` and :func:`generalized_ntk_cos` — the
  generalized NTK ``Σ_k (1+k) c_k² ρ^k`` of Chen, Cao, Gu, Zhang (NeurIPS 2020).
* :func:`abs_hermite_coefficient_sq`, :func:`abs_hermite_coefficient`,
  :func:`relu_hermite_coefficient`, :func:`abs_hermite_tail` — closed forms for ``|z|`` and
  ``relu`` (Li, Ma, Zhang, COLT 2020, papers.md §4.2).
* :func:`hermite_kernel`, :func:`hermite_sum_kernel` — the reproducing kernels ``K_k`` of the
  degree-k Hermite polynomials under ``N(0, I_d)`` (the ``ρ^k`` coefficients of the multivariate
  Mehler kernel).

Pure functions, no I/O.
"""

from __future__ import annotations

import functools
import math
from fractions import Fraction

import numpy as np

from .._errors import InputError

__all__ = ["SMOOTH", "hermite_coefficients", "generalized_ntk", "generalized_ntk_cos", "abs_hermite_coefficient_sq",
           "abs_hermite_tail", "abs_hermite_coefficient", "relu_hermite_coefficient", "hermite_kernel",
           "hermite_sum_kernel"]

#: The smooth activations :func:`hermite_coefficients` expands (Chen et al.'s analysis needs smoothness).
SMOOTH = ("tanh", "sigmoid")


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
