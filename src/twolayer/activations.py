r"""Activation functions of the two-layer family, with in-place forms for the training engine.

Each :class:`Activation` carries ``φ``, ``φ'`` and in-place versions acting on a pre-activation
buffer of shape (n, B·m), so one training step allocates no n × m temporaries. ReLU' is taken as
``1{z > 0}`` (as in torch); the papers' ``1{z ≥ 0}`` differs only on a null set. This module is
at the bottom of the package: :mod:`twolayer.kernels` and :mod:`twolayer.networks` import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["Activation", "ACTIVATIONS"]


@dataclass(frozen=True)
class Activation:
    """``φ`` and ``φ'`` applied in place to a pre-activation buffer.

    ``value_(P)`` overwrites ``P`` with ``φ(P)``; ``deriv_from_value_(V)`` overwrites
    ``V = φ(P)`` with ``φ'(P)`` (possible for every activation here, so no second buffer of
    size n × m is needed).
    """

    name: str
    value: Callable[[np.ndarray], np.ndarray]
    deriv: Callable[[np.ndarray], np.ndarray]
    value_: Callable[[np.ndarray], None]
    deriv_from_value_: Callable[[np.ndarray], None]
    smooth: bool


def _relu_deriv_from_value_(V):
    np.greater(V, 0, out=V)


def _tanh_deriv_from_value_(V):
    np.square(V, out=V)
    np.subtract(1, V, out=V)


def _sigmoid_(P):
    np.negative(P, out=P)
    np.exp(P, out=P)
    P += 1
    np.reciprocal(P, out=P)


def _sigmoid(P):
    out = np.array(P, copy=True)
    _sigmoid_(out)
    return out


def _sigmoid_deriv_from_value_(V):
    np.multiply(V, np.subtract(1, V), out=V)


ACTIVATIONS: dict[str, Activation] = {
    "relu": Activation("relu", lambda P: np.maximum(P, 0), lambda P: (P > 0).astype(P.dtype),
                       lambda P: np.maximum(P, 0, out=P), _relu_deriv_from_value_, smooth=False),
    "tanh": Activation("tanh", np.tanh, lambda P: 1 - np.tanh(P) ** 2, lambda P: np.tanh(P, out=P),
                       _tanh_deriv_from_value_, smooth=True),
    "sigmoid": Activation("sigmoid", _sigmoid, lambda P: _sigmoid(P) * (1 - _sigmoid(P)), _sigmoid_,
                          _sigmoid_deriv_from_value_, smooth=True),
}
