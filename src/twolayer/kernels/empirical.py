r"""The finite-width tangent kernel of a two-layer network, from its activation pattern (no autodiff)."""

from __future__ import annotations

import numpy as np

from .._errors import InputError
from .._validation import as_data_matrix

__all__ = ["empirical_gram"]


def empirical_gram(X, W, a=None, *, layers: str = "first", Z=None, scale: float | None = None,
                   activation: str | None = None) -> np.ndarray:
    r"""Gram matrix of a finite two-layer ReLU network from its activation pattern (no autodiff).

    For ``f(x) = m^{-1/2} Σ_r a_r σ(w_r^T x)`` the tangent kernel is

    .. math::
        H_{ij}(W) = \frac{x_i^T z_j}{m} Σ_r a_r^2 1\{w_r^T x_i ≥ 0\} 1\{w_r^T z_j ≥ 0\}
        \quad\text{(first layer; Arora et al. §3, } H = Z^T Z)

    and the second-layer part is ``(1/m) Σ_r σ(w_r^T x_i) σ(w_r^T z_j)``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    W : array_like, shape (m, d)
        First-layer weights, one row per hidden unit.
    a : array_like, shape (m,), optional
        Second-layer weights (default all ones, i.e. ``a_r = ±1``).
    layers : {"first", "second", "both"}
        Which parameters the kernel is taken over: ``first`` → H(W) of Arora et al.,
        ``second`` → random-feature kernel, ``both`` → their sum.
    Z : array_like, shape (n_z, d), optional
        Second set of inputs (default ``X``).
    scale : float, optional
        Overall factor (default ``1/m``, the ``m^{-1/2}`` parameterization; use ``1`` for
        E–Ma–Wu's unnormalized network).
    activation : str, optional
        A key of :data:`twolayer.networks.ACTIVATIONS`: ``σ`` and ``σ'`` are then that
        activation's value and derivative (for ``"relu"`` the derivative is ``1{w^T x > 0}``).
        Default: ReLU with the indicator ``1{w^T x ≥ 0}`` of Arora et al., as written above.
        :func:`twolayer.dynamics.empirical_reference` is this function with the network's own
        activation, layers and scale.

    Returns
    -------
    ndarray, shape (n, n_z)

    Notes
    -----
    Cost: ``O((n + n_z) m d + n n_z m)`` flops, memory ``O((n + n_z) m)``. With ``W(0)`` drawn
    from ``N(0, I)`` the expectation of ``layers="first"`` is :func:`first_layer_ntk` and of
    ``layers="second"`` is :func:`random_features_kernel`; entries concentrate like ``m^{-1/2}``.
    """
    if layers not in ("first", "second", "both"):
        raise InputError(f"layers must be 'first', 'second' or 'both', got {layers!r}")
    deriv, value = _derivative_and_value(activation)
    Xa = as_data_matrix(X, "X", allow_zero_rows=True)
    Wa = as_data_matrix(W, "W", allow_zero_rows=True)
    Za = Xa if Z is None else as_data_matrix(Z, "Z", allow_zero_rows=True)
    if Wa.shape[1] != Xa.shape[1] or Za.shape[1] != Xa.shape[1]:
        raise InputError(f"feature dimensions differ: X has {Xa.shape[1]}, W has {Wa.shape[1]}, "
                         f"Z has {Za.shape[1]}; W must be (m, d)")
    m = Wa.shape[0]
    a2 = np.ones(m) if a is None else np.asarray(a, dtype=np.float64).reshape(-1) ** 2
    if a2.shape[0] != m:
        raise InputError(f"a has {a2.shape[0]} entries but W has {m} rows; pass one a_r per hidden unit")
    scale = 1.0 / m if scale is None else float(scale)
    return _tangent_gram(Xa, Wa, a2, None if Z is None else Za, layers, scale, deriv, value)


def _relu_indicator(P: np.ndarray) -> np.ndarray:
    return (P >= 0).astype(np.float64)


def _relu(P: np.ndarray) -> np.ndarray:
    return np.maximum(P, 0.0)


def _derivative_and_value(activation: str | None):
    """``(σ', σ)`` of an activation name; None → ReLU with ``σ' = 1{· ≥ 0}``."""
    if activation is None:
        return _relu_indicator, _relu
    from ..activations import ACTIVATIONS

    if activation not in ACTIVATIONS:
        raise InputError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[activation].deriv, ACTIVATIONS[activation].value


def _tangent_gram(Xa: np.ndarray, Wa: np.ndarray, a2: np.ndarray, Za: np.ndarray | None, layers: str,
                  scale: float, deriv, value) -> np.ndarray:
    """The computation of :func:`empirical_gram` on checked float64 arrays, without the checks.

    ``a2`` are the squared second-layer weights (m,), ``Za`` None for ``Z = X``. Non-finite
    weights give non-finite entries instead of an error: :func:`twolayer.dynamics.empirical_reference`
    calls this on networks during training, where a diverging network must not stop the run.
    """
    PX = Xa @ Wa.T
    PZ = PX if Za is None else Za @ Wa.T
    K = np.zeros((Xa.shape[0], Xa.shape[0] if Za is None else Za.shape[0]))
    if layers in ("first", "both"):
        AX = deriv(PX)
        AZ = AX if Za is None else deriv(PZ)
        K += (AX * a2) @ AZ.T * (Xa @ (Xa if Za is None else Za).T)
    if layers in ("second", "both"):
        K += value(PX) @ value(PZ).T
    K *= scale
    return K
