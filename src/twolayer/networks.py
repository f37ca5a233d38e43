r"""Finite-width two-layer networks: one family, named parameterizations, hand-derived gradients.

Every network here is

.. math:: f(x) = s \sum_{r=1}^{m} a_r\, φ(w_r^T x)

with an output scale ``s``, an activation ``φ``, first-layer weights ``W ∈ R^{m×d}`` and
second-layer weights ``a ∈ R^m``. A *batch* of ``B`` independent networks on the same inputs is
stored as ``W`` of shape ``(B, m, d)`` and ``a`` of shape ``(B, m)``; its forward pass is ONE
GEMM ``X (B·m × d)ᵀ`` because the batch is a concatenation along the hidden dimension.

Named parameterizations (:data:`PARAMETERIZATIONS`):

==============  ==================  ==============================  ======================  ==========
name            scale ``s``         init                            trained                 loss
==============  ==================  ==============================  ======================  ==========
``arora``       ``m^{-1/2}``        ``w ~ N(0, κ²I)``, ``a ~ ±1``   W                       ``½Σ``
``both``        ``m^{-1/2}``        same                            W and a                 ``½Σ``
``rf``          ``m^{-1/2}``        same                            a                       ``½Σ``
``ema-wu``      ``1``               ``b ~ U(S^{d−1})``, ``a = ±β``  W and a                 ``½n⁻¹Σ``
``ema-wu-rf``   ``1``               same                            a                       ``½n⁻¹Σ``
``mean-field``  ``α/m``             ``(θ, u) ~ N(0, I)``            W and a                 ``½n⁻¹Σ``
==============  ==================  ==============================  ======================  ==========

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
from ._seeds import child_seeds, sample_sphere  # noqa: F401  (child_seeds: its home is _seeds; re-exported)

from .activations import ACTIVATIONS, Activation  # noqa: F401  (their home; re-exported)

__all__ = ["ACTIVATIONS", "PARAMETERIZATIONS", "Parameterization", "register_parameterization", "Network",
           "init_network", "forward", "loss_and_grads", "Workspace"]


# --------------------------------------------------------------------------- parameterizations
def _gaussian_draw(g: np.random.Generator, half: int, d: int, kappa: float, beta: float):
    """Arora et al. eq. 1: ``w_r ~ N(0, κ² I)``, ``a_r ~ U{−1, 1}``."""
    return kappa * g.standard_normal((half, d)), g.choice([-1.0, 1.0], half)


def _sphere_draw(g: np.random.Generator, half: int, d: int, kappa: float, beta: float):
    """E, Ma & Wu (2019) §2: ``b_k ~ U(S^{d−1})``, ``a_k = ±β``."""
    return sample_sphere(g, half, d), beta * g.choice([-1.0, 1.0], half)


def _mean_field_draw(g: np.random.Generator, half: int, d: int, kappa: float, beta: float):
    """Chen et al. (2020) §3: ``(θ_j, u_j) ~ N(0, I_{d+1})``."""
    return g.standard_normal((half, d)), g.standard_normal(half)


def _gaussian_reference(net: "Network", X: np.ndarray, Z: np.ndarray | None):
    """``H^∞`` for W (Arora et al. eq. 3, independent of κ) plus ``κ² κ₁`` for ``a``."""
    from .kernels import first_layer_ntk, random_features_kernel

    trains = get_parameterization(net.param).trains
    K = first_layer_ntk(X, Z) if "W" in trains else 0.0
    if "a" in trains:
        K = K + random_features_kernel(X, Z) * net.meta.get("kappa", 1.0) ** 2
    return K


def _sphere_reference(net: "Network", X: np.ndarray, Z: np.ndarray | None):
    """E–Ma–Wu: ``m β² H^∞`` for B plus ``m κ₁ / d`` for ``a`` (their Gram ``k(x, x')`` of §2)."""
    from .kernels import first_layer_ntk, random_features_kernel

    trains = get_parameterization(net.param).trains
    m, d, beta = net.width, net.dim, net.meta.get("beta", 1.0 / net.width)
    K = first_layer_ntk(X, Z) * (m * beta**2) if "W" in trains else 0.0
    if "a" in trains:
        K = K + random_features_kernel(X, Z) * (m / d)
    return K


def _ntk_scale(m: int, alpha: float) -> float:
    return 1.0 / math.sqrt(m)


def _unit_scale(m: int, alpha: float) -> float:
    return 1.0


def _mean_field_scale(m: int, alpha: float) -> float:
    return alpha / m


def _unit_time(m: int) -> float:
    return 1.0


def _mean_field_time(m: int) -> float:
    return float(m)


@dataclass(frozen=True)
class Parameterization:
    """One member of the family, as data: everything the rest of the package asks of it.

    Attributes
    ----------
    name, description : str
    activation : str
        Default activation (a key of :data:`ACTIVATIONS`).
    trains : frozenset of {"W", "a"}
        Trained layers.
    loss_normalization : {"sum", "mean"}
        Default loss convention: ``½Σ`` or ``½n⁻¹Σ``.
    init : str
        Name of the initialization (``"gaussian"``, ``"sphere"``, ``"mean-field"``, or a new one).
    output_scale : callable (m, α) -> float
        The output scale ``s`` of ``f = s Σ a_r φ(w_r·x)``.
    time_scale : callable (m) -> float
        Factor on the gradients (``m`` for mean-field time, Chen et al. §3; else 1).
    draw : callable (Generator, half, d, κ, β) -> (w (half, d), a (half,))
        The initialization of one network's (non-mirrored) neurons.
    reference : callable (net, X, Z) -> ndarray (n, n_z), or None
        The infinite-width tangent kernel of the trained layers for ReLU, in function-space units
        (GD in the kernel regime follows ``u(k+1) = u(k) − η c K (u(k) − y)``); None where there is
        no closed form (the engine then uses the network's own H(0)).
    free_activation : bool
        Whether another activation than the default may be chosen (the closed-form reference
        kernels are for ReLU).
    bounds : frozenset of str
        Theorems whose constants are stated for this initialization: ``"movement"`` (Arora et al.
        Lemma C.1's ``4√n‖y − u(0)‖/(√m λ₀)``).
    """

    name: str
    activation: str
    trains: frozenset
    loss_normalization: str
    init: str
    description: str
    output_scale: Callable[[int, float], float] = _ntk_scale
    time_scale: Callable[[int], float] = _unit_time
    draw: Callable = _gaussian_draw
    reference: Callable | None = None
    free_activation: bool = False
    bounds: frozenset = frozenset()

    def __post_init__(self):
        if not self.trains or not set(self.trains) <= {"W", "a"}:
            raise InputError(f"parameterization {self.name!r}: trains must be a non-empty subset of {{'W', 'a'}}, "
                             f"got {set(self.trains)}")
        if self.loss_normalization not in ("sum", "mean"):
            raise InputError(f"parameterization {self.name!r}: loss_normalization must be 'sum' or 'mean'")
        if self.activation not in ACTIVATIONS:
            raise InputError(f"parameterization {self.name!r}: unknown activation {self.activation!r}")

    def scale(self, m: int, alpha: float = 1.0) -> float:
        """Output scale ``s`` at width ``m``."""
        return float(self.output_scale(m, alpha))

    def grad_multiplier(self, m: int) -> float:
        """Time scale of the parameterization: ``m`` for mean-field (Chen et al.), else 1."""
        return float(self.time_scale(m))


#: name -> Parameterization; extend with :func:`register_parameterization`.
PARAMETERIZATIONS: dict[str, Parameterization] = {}


def register_parameterization(p: Parameterization, *, replace: bool = False) -> Parameterization:
    """Add ``p`` to :data:`PARAMETERIZATIONS` (the CLI, the estimators and the engine then know it)."""
    if not isinstance(p, Parameterization):
        raise InputError(f"register_parameterization needs a Parameterization, got {type(p).__name__}")
    if p.name in PARAMETERIZATIONS and not replace:
        raise InputError(f"parameterization {p.name!r} is already registered; pass replace=True to overwrite it")
    PARAMETERIZATIONS[p.name] = p
    return p


for _p in (
    Parameterization("arora", "relu", frozenset({"W"}), "sum", "gaussian",
                     "Arora et al.: m^-1/2 sum a_r relu(w_r.x), w ~ N(0, kappa^2 I), a = +-1 fixed",
                     reference=_gaussian_reference, bounds=frozenset({"movement"})),
    Parameterization("both", "relu", frozenset({"W", "a"}), "sum", "gaussian",
                     "NTK scaling, both layers trained", reference=_gaussian_reference,
                     bounds=frozenset({"movement"})),
    Parameterization("rf", "relu", frozenset({"a"}), "sum", "gaussian",
                     "random features: W frozen, only a trained", reference=_gaussian_reference,
                     bounds=frozenset({"movement"})),
    Parameterization("ema-wu", "relu", frozenset({"W", "a"}), "mean", "sphere",
                     "E-Ma-Wu: sum a_k relu(b_k.x), b ~ U(S^{d-1}), a = +-beta, both layers",
                     output_scale=_unit_scale, draw=_sphere_draw, reference=_sphere_reference),
    Parameterization("ema-wu-rf", "relu", frozenset({"a"}), "mean", "sphere",
                     "E-Ma-Wu random-feature model: B frozen, only a trained",
                     output_scale=_unit_scale, draw=_sphere_draw, reference=_sphere_reference),
    Parameterization("mean-field", "tanh", frozenset({"W", "a"}), "mean", "mean-field",
                     "Chen et al.: (alpha/m) sum u_j h(theta_j.x), (theta, u) ~ N(0, I)",
                     output_scale=_mean_field_scale, time_scale=_mean_field_time, draw=_mean_field_draw,
                     free_activation=True),
):
    register_parameterization(_p)
del _p


def get_parameterization(name) -> Parameterization:
    """The registered parameterization ``name`` (a Parameterization passes through)."""
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
    if PARAMETERIZATIONS.get(p.name) is not p:
        raise InputError(f"parameterization {p.name!r} is not registered; call "
                         f"twolayer.networks.register_parameterization on it first")
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
        w, s = p.draw(g, half, d, kappa, beta)
        if symmetric:
            w, s = np.concatenate([w, w]), np.concatenate([s, -s])
        W[b], a[b] = w, s
    meta = {"kappa": kappa, "beta": beta, "alpha": alpha, "symmetric": symmetric, "seed": seed_rec}
    return Network(W=W, a=a, scale=p.scale(m, alpha), activation=activation, param=p.name, meta=meta)


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
