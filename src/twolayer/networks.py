r"""Finite-width two-layer networks: one family, named parameterizations, hand-derived gradients.

Every network here is

.. math:: f(x) = s \sum_{r=1}^{m} a_r\, φ(w_r^T x)

with an output scale ``s``, an activation ``φ``, first-layer weights ``W ∈ R^{m×d}`` and
second-layer weights ``a ∈ R^m``. A *batch* of ``B`` independent networks on the same inputs is
stored as ``W`` of shape ``(B, m, d)`` and ``a`` of shape ``(B, m)``; its forward pass is ONE
GEMM ``X (B·m × d)ᵀ`` because the batch is a concatenation along the hidden dimension.

Named parameterizations (:data:`PARAMETERIZATIONS`):

=============  ==================  ============================  ======================  ==========
name           scale ``s``         init                          trained                 loss
=============  ==================  ============================  ======================  ==========
``arora``      ``m^{-1/2}``        ``w ~ N(0, κ²I)``, ``a ~ ±1``   W                       ``½Σ``
``both``       ``m^{-1/2}``        same                          W and a                 ``½Σ``
``rf``         ``m^{-1/2}``        same                          a                       ``½Σ``
``ema-wu``     ``1``               ``b ~ U(S^{d−1})``, ``a = ±β``  W and a                 ``½n⁻¹Σ``
``ema-wu-rf``  ``1``               same                          a                       ``½n⁻¹Σ``
``mean-field`` ``α/m``             ``(θ, u) ~ N(0, I)``            W and a                 ``½n⁻¹Σ``
=============  ==================  ============================  ======================  ==========

(Arora et al. 2019 §3.1; E, Ma & Wu 2019; Chen et al. 2020.) For ``mean-field`` the gradient is
multiplied by ``m`` (the mean-field time scale: Chen et al.'s drift is ``α E_S[…] = m ∇L̂``).

Gradients
---------
With outputs ``u = f(X)``, residual ``e = u − y`` and ``L = (c/2)‖e‖²`` (``c = 1`` or ``1/n``),
``P = X Wᵀ`` (n × m):

.. math::
    ∂L/∂a_r = c\,s\, \sum_i e_i φ(P_{ir}), \qquad
    ∂L/∂w_r = c\,s\, a_r \sum_i e_i φ'(P_{ir}) x_i

i.e. ``∇_a = c s φ(P)ᵀe`` and ``∇_W = c s · a ⊙ (φ'(P) ⊙ e)ᵀ X``: two GEMMs per step (``P`` and
``(φ'(P)⊙e)ᵀX``) plus elementwise passes over ``P`` done in place. ReLU'(0) is taken as 0 (as in
torch); the paper's ``1{·≥0}`` differs only on a null set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from ._errors import InputError

__all__ = ["ACTIVATIONS", "PARAMETERIZATIONS", "Parameterization", "Network", "init_network", "forward",
           "loss_and_grads", "Workspace"]


# --------------------------------------------------------------------------- activations
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


# --------------------------------------------------------------------------- parameterizations
@dataclass(frozen=True)
class Parameterization:
    """A named member of the family: scale, activation, initialization and trained layers."""

    name: str
    activation: str
    trains: frozenset  # subset of {"W", "a"}
    loss_normalization: str  # "sum" (½Σ) or "mean" (½n⁻¹Σ)
    init: str  # "gaussian" (w ~ N(0, κ²I), a ~ ±1), "sphere" (b ~ U(S), a = ±β), "mean-field"
    description: str

    def scale(self, m: int, alpha: float = 1.0) -> float:
        if self.init == "sphere":
            return 1.0
        if self.init == "mean-field":
            return alpha / m
        return 1.0 / math.sqrt(m)

    def grad_multiplier(self, m: int) -> float:
        """Time scale of the parameterization: ``m`` for mean-field (Chen et al.), else 1."""
        return float(m) if self.init == "mean-field" else 1.0


PARAMETERIZATIONS: dict[str, Parameterization] = {
    "arora": Parameterization("arora", "relu", frozenset({"W"}), "sum", "gaussian",
                              "Arora et al.: m^-1/2 sum a_r relu(w_r.x), w ~ N(0, kappa^2 I), a = +-1 fixed"),
    "both": Parameterization("both", "relu", frozenset({"W", "a"}), "sum", "gaussian",
                             "NTK scaling, both layers trained"),
    "rf": Parameterization("rf", "relu", frozenset({"a"}), "sum", "gaussian",
                           "random features: W frozen, only a trained"),
    "ema-wu": Parameterization("ema-wu", "relu", frozenset({"W", "a"}), "mean", "sphere",
                               "E-Ma-Wu: sum a_k relu(b_k.x), b ~ U(S^{d-1}), a = +-beta, both layers"),
    "ema-wu-rf": Parameterization("ema-wu-rf", "relu", frozenset({"a"}), "mean", "sphere",
                                  "E-Ma-Wu random-feature model: B frozen, only a trained"),
    "mean-field": Parameterization("mean-field", "tanh", frozenset({"W", "a"}), "mean", "mean-field",
                                   "Chen et al.: (alpha/m) sum u_j h(theta_j.x), (theta, u) ~ N(0, I)"),
}


def get_parameterization(name) -> Parameterization:
    if isinstance(name, Parameterization):
        return name
    if name not in PARAMETERIZATIONS:
        raise InputError(f"unknown parameterization {name!r}; choose one of {', '.join(PARAMETERIZATIONS)}")
    return PARAMETERIZATIONS[name]


# --------------------------------------------------------------------------- network state
@dataclass(frozen=True)
class Network:
    """Parameters of ``B`` two-layer networks of width ``m`` on ``d`` inputs.

    Attributes
    ----------
    W : ndarray, shape (B, m, d)
    a : ndarray, shape (B, m)
    scale : float
        Output scale ``s``.
    activation : str
    param : str
        Name of the parameterization.
    """

    W: np.ndarray
    a: np.ndarray
    scale: float
    activation: str = "relu"
    param: str = "arora"
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def batch(self) -> int:
        return int(self.W.shape[0])

    @property
    def width(self) -> int:
        return int(self.W.shape[1])

    @property
    def dim(self) -> int:
        return int(self.W.shape[2])

    @property
    def dtype(self):
        return self.W.dtype

    def copy(self) -> "Network":
        return replace(self, W=self.W.copy(), a=self.a.copy())


def _rng(seed):
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        raise InputError("pass an explicit seed (an int, a SeedSequence or a numpy Generator)")
    return np.random.default_rng(seed)


def init_network(param, d: int, m: int, *, seed, batch: int = 1, kappa: float = 1.0, beta: float | None = None,
                 alpha: float = 1.0, symmetric: bool = False, dtype=np.float64, activation: str | None = None) -> Network:
    r"""Draw ``batch`` networks of width ``m`` from the parameterization's initialization.

    Parameters
    ----------
    param : str or Parameterization
        A key of :data:`PARAMETERIZATIONS`.
    d, m : int
        Input dimension and width.
    seed : int, SeedSequence or Generator
        Explicit seed; network ``b`` of the batch uses the child ``SeedSequence(entropy,
        spawn_key=(…, b))`` (what ``SeedSequence(seed).spawn`` would give, without advancing the
        caller's object), so the same seed gives the same networks on every machine and for
        every batch size.
    kappa : float
        Init scale of ``w ~ N(0, κ²I)`` (Arora et al. eq. 1; the paper uses κ = 1e-2).
    beta : float, optional
        E–Ma–Wu ``|a_k(0)| = β`` (default ``1/m``, i.e. β = c/m with c = 1).
    alpha : float
        Mean-field scaling α (``s = α/m``).
    symmetric : bool
        Pair each neuron with a sign-flipped copy (``a_{r+m/2} = −a_r``, same ``w``) so that
        ``f ≡ 0`` at initialization; needs even ``m``.
    dtype : float64 or float32
    activation : str, optional
        A key of :data:`ACTIVATIONS` instead of the parameterization's own (e.g. ``"sigmoid"`` for
        the mean-field network). The closed-form reference kernels are for ReLU; with another
        activation the dynamics compare against the network's empirical tangent kernel.

    Returns
    -------
    Network
    """
    p = get_parameterization(param)
    activation = p.activation if activation is None else activation
    if activation not in ACTIVATIONS:
        raise InputError(f"unknown activation {activation!r}; choose one of {', '.join(ACTIVATIONS)}")
    if int(m) < 1 or int(d) < 1 or int(batch) < 1:
        raise InputError(f"width, input dimension and batch must be >= 1 (got m={m}, d={d}, batch={batch})")
    if symmetric and m % 2:
        raise InputError(f"symmetric initialization pairs neurons, so the width must be even (got {m})")
    if not kappa > 0:
        raise InputError(f"init scale kappa must be > 0, got {kappa}")
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise InputError(f"dtype must be float32 or float64, got {dtype}")
    seed_rec = seed_record(seed)  # before any draw changes a Generator's state
    if isinstance(seed, np.random.Generator):
        gens = [seed] * batch
    else:
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(_seed_int(seed))
        gens = [np.random.default_rng(s) for s in child_seeds(ss, batch)]
    half = m // 2 if symmetric else m
    W = np.empty((batch, m, d), dtype=dtype)
    a = np.empty((batch, m), dtype=dtype)
    beta = 1.0 / m if beta is None else float(beta)
    for b, g in enumerate(gens):
        if p.init == "sphere":
            w = g.standard_normal((half, d))
            w /= np.linalg.norm(w, axis=1, keepdims=True)
            s = beta * g.choice([-1.0, 1.0], half)
        elif p.init == "mean-field":
            w = g.standard_normal((half, d))
            s = g.standard_normal(half)
        else:
            w = kappa * g.standard_normal((half, d))
            s = g.choice([-1.0, 1.0], half)
        if symmetric:
            w, s = np.concatenate([w, w]), np.concatenate([s, -s])
        W[b], a[b] = w, s
    meta = {"kappa": kappa, "beta": beta, "alpha": alpha, "symmetric": symmetric, "seed": seed_rec}
    return Network(W=W, a=a, scale=p.scale(m, alpha), activation=activation, param=p.name, meta=meta)


def child_seeds(ss: np.random.SeedSequence, count: int) -> list[np.random.SeedSequence]:
    """The first ``count`` children of ``ss`` as ``spawn`` makes them, without mutating ``ss``."""
    return [np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (b,), pool_size=ss.pool_size)
            for b in range(count)]


def _seed_int(seed):
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    raise InputError(f"seed must be an int, a SeedSequence or a Generator, got {type(seed).__name__}")


def seed_record(seed):
    """A seed as a JSON value for configurations and checkpoint hashes: an int as it is, a
    SeedSequence by entropy and spawn key, a Generator by a hash of its state (never its address);
    ``None`` and already-recorded dicts pass through."""
    if seed is None or isinstance(seed, dict):
        return seed
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    if isinstance(seed, np.random.SeedSequence):
        return {"entropy": seed.entropy, "spawn_key": list(seed.spawn_key)}
    if isinstance(seed, np.random.Generator):  # identified by its state, never by its address
        import hashlib
        import json

        state = json.dumps(seed.bit_generator.state, sort_keys=True, default=str)
        return {"generator_state": hashlib.sha256(state.encode()).hexdigest()[:16]}
    return type(seed).__name__


# --------------------------------------------------------------------------- forward / gradients
def forward(net: Network, X) -> np.ndarray:
    """Outputs of every network of the batch: shape ``(B, n)``. Cost one GEMM ``n·B·m·d``."""
    Xa = np.asarray(X, dtype=net.dtype)
    if Xa.ndim != 2 or Xa.shape[1] != net.dim:
        raise InputError(f"inputs must have shape (n, {net.dim}), got {Xa.shape}")
    B, m = net.batch, net.width
    P = Xa @ net.W.reshape(B * m, net.dim).T
    ACTIVATIONS[net.activation].value_(P)
    u = np.matmul(P.reshape(-1, B, m).transpose(1, 0, 2), net.a[:, :, None])[:, :, 0]
    return net.scale * u


class Workspace:
    """Preallocated buffers of one training run: ``P`` (n, B·m) and ``G`` (B·m, d)."""

    def __init__(self, n: int, net: Network):
        self.P = np.empty((n, net.batch * net.width), dtype=net.dtype)
        self.G = np.empty((net.batch * net.width, net.dim), dtype=net.dtype)


def loss_and_grads(net: Network, X: np.ndarray, Y: np.ndarray, *, normalization: str = "sum",
                   trains=frozenset({"W", "a"}), grad_multiplier: float = 1.0, ws: Workspace | None = None,
                   keep_preactivation: bool = False):
    r"""Outputs, losses and hand-derived gradients of a batch of networks (see module docstring).

    Parameters
    ----------
    net : Network
        ``B`` networks.
    X : ndarray, shape (n, d), dtype of the network
    Y : ndarray, shape (B, n)
        Targets of each network.
    normalization : {"sum", "mean"}
        ``L = ½Σ e²`` or ``½n⁻¹Σ e²``.
    trains : set of {"W", "a"}
        Which gradients to compute (the others are returned as None).
    grad_multiplier : float
        Extra factor on the gradients (``m`` for mean-field time).
    ws : Workspace, optional
        Reused buffers (no allocation of n × m arrays per step).
    keep_preactivation : bool
        Also return a copy of the activation pattern ``P > 0`` (for diagnostics).

    Returns
    -------
    dict with ``u`` (B, n) outputs, ``loss`` (B,), ``gW`` (B, m, d) or None, ``ga`` (B, m) or
    None, and ``active`` (n, B·m) bool when requested. ``gW`` is a view of the workspace buffer:
    consume it before the next call.

    Notes
    -----
    Cost: two GEMMs of ``n·B·m·d`` multiply-adds (one if only ``a`` is trained), a GEMV-like
    contraction for ``u`` and ``∇_a``, and 2–3 in-place elementwise passes over ``n × B·m``.
    """
    B, m, d = net.batch, net.width, net.dim
    n = X.shape[0]
    ws = ws or Workspace(n, net)
    act = ACTIVATIONS[net.activation]
    P = ws.P
    np.matmul(X, net.W.reshape(B * m, d).T, out=P)
    active = (P > 0) if keep_preactivation else None
    act.value_(P)  # P <- phi(P)
    P3 = P.reshape(n, B, m)
    Pb = P3.transpose(1, 0, 2)  # (B, n, m) views with unit column stride: BLAS-able
    u = np.matmul(Pb, net.a[:, :, None])[:, :, 0]
    u *= net.scale
    e = u - Y
    c = 1.0 / n if normalization == "mean" else 1.0
    loss = 0.5 * c * np.einsum("bn,bn->b", e, e)
    coef = c * net.scale * grad_multiplier
    ga = gW = None
    if "a" in trains:
        ga = np.matmul(Pb.transpose(0, 2, 1), e[:, :, None])[:, :, 0]
        ga *= coef
    if "W" in trains:
        act.deriv_from_value_(P)  # P <- phi'(pre-activation)
        P3 *= e.T[:, :, None]
        np.matmul(P.T, X, out=ws.G)
        gW = ws.G.reshape(B, m, d)
        gW *= (coef * net.a)[:, :, None]
    return {"u": u, "loss": loss, "gW": gW, "ga": ga, "active": active}
