r"""Update rules: ``init(params) -> state`` and ``update(grads, state, params) -> (updates, state)``.

Rules compose like optax gradient transformations. ``params`` and ``grads`` are dicts
``{"W": (B, m, d), "a": (B, m)}`` holding only the trained layers (numpy arrays, or torch tensors
in a ``device`` run: the built-in rules use in-place operators that work on both); ``updates`` is
what the engine adds to the parameters. A rule's state is a typed value (a NamedTuple, a frozen dataclass, a tuple
of those for :func:`chain`) whose leaves are arrays, numbers or numpy Generators, so that
:mod:`twolayer.dynamics.checkpoint` can save and restore any rule, including one defined outside
the package, without knowing it.

Named algorithms (:data:`ALGORITHMS`; extend with :func:`register_algorithm`):

* ``gd``: ``add_decayed_weights(λ) → scale(−η)`` — full-batch gradient descent (Arora et al. 2019,
  eq. 6; with ``λ > 0`` GD on the ridge-penalized loss);
* ``noisy-gd``: ``add_decayed_weights(λ) → scale(−η) → add_noise(√(2τη))``, temperature ``τ = λ``
  by default — Chen, Cao, Gu & Zhang (2020), Algorithm 1: Langevin dynamics at temperature λ whose
  stationary law is the Gibbs measure relative to ``N(0, I)``;
* ``adam``: ``add_decayed_weights(λ) → adam_moments → scale(−η)`` (Kingma & Ba 2015; the adaptive
  rule of the beyond-NTK experiments, Li, Ma & Zhang 2020 §5).

Every rule declares what the engine may rely on: ``stochastic`` (draws noise), ``kernel_gd``
(its outputs follow the linear kernel dynamics ``u(k+1) = u(k) − η c K (u(k) − y)`` in the kernel
regime, so the kernel predictions, the plateau stop and the relative blow-up check apply) and
``stable_step(λ_max)``, the largest step for which the linearized iteration contracts (None when no
such bound exists, e.g. for Adam).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Callable, NamedTuple

import numpy as np

from .._errors import InputError
from ..spectra import gd_stable_step
from .._seeds import as_seed_sequence, child_seeds

__all__ = ["UpdateRule", "NoiseState", "AdamState", "scale", "add_decayed_weights", "add_noise", "adam_moments",
           "chain", "noise_seed_sequence", "ALGORITHMS", "register_algorithm", "make_rule", "gd_stable_step"]


def _no_stable_step(lambda_max: float) -> float | None:
    return None


@dataclass(frozen=True)
class UpdateRule:
    """A gradient transformation with declared properties (see the module docstring).

    ``init(params) -> state``; ``update(grads, state, params) -> (updates, state)``. ``update``
    may transform ``grads`` in place and return it as ``updates``.
    """

    init: Callable[[dict], Any]
    update: Callable[[dict, Any, dict], tuple]
    name: str = "custom"
    stochastic: bool = False
    kernel_gd: bool = False
    stable_step: Callable[[float], float | None] = _no_stable_step


def _no_state(params):
    return None


def _zeros_like(x):
    """Zeros of ``x``'s shape and dtype: a numpy array, or a tensor on ``x``'s device for a torch ``x``."""
    return np.zeros_like(x) if isinstance(x, np.ndarray) else x.new_zeros(x.shape)


def scale(factor: float) -> UpdateRule:
    """``updates = factor · grads`` (in place)."""

    def update(grads, state, params):
        for g in grads.values():
            g *= factor
        return grads, state

    return UpdateRule(_no_state, update, name=f"scale({factor:g})")


def add_decayed_weights(weight_decay: float) -> UpdateRule:
    """``grads += λ · params`` (L2 weight decay as part of the drift); λ = 0 is the identity."""

    def update(grads, state, params):
        if weight_decay:
            for k, g in grads.items():
                g += weight_decay * params[k]
        return grads, state

    return UpdateRule(_no_state, update, name=f"add_decayed_weights({weight_decay:g})")


def noise_seed_sequence(seed) -> np.random.SeedSequence:
    """A SeedSequence from an int, a SeedSequence or a Generator (drawn from, deterministically):
    :func:`twolayer._seeds.as_seed_sequence`."""
    return as_seed_sequence(seed, "noise seed")


class NoiseState(NamedTuple):
    """State of :func:`add_noise`: one Generator per network of the batch."""

    rngs: tuple


def add_noise(std: float, seed) -> UpdateRule:
    """``updates += std · ξ``, ``ξ ~ N(0, I)``.

    Network ``b`` of a batch (leading axis of every parameter) draws from its own generator,
    child ``b`` of ``seed``, so its noise does not depend on the batch size. Per step the layers
    draw in sorted order (``W`` then ``a``). For torch parameters (a ``device`` run) the noise is
    drawn by the same numpy Generators and moved to the device, so both backends see the same
    noise stream (cost on a GPU: one host draw and one host-to-device copy per network and layer).
    """
    def init(params):
        B = next(iter(params.values())).shape[0]
        return NoiseState(tuple(np.random.default_rng(s) for s in child_seeds(noise_seed_sequence(seed), B)))

    def update(grads, state, params):
        if std:
            for k in sorted(grads):
                g = grads[k]
                if isinstance(g, np.ndarray):
                    for b, rng in enumerate(state.rngs):
                        g[b] += (std * rng.standard_normal(g.shape[1:])).astype(g.dtype, copy=False)
                else:  # a torch tensor: the same numpy draws, cast by numpy, then moved
                    from ..torch_backend import from_host

                    for b, rng in enumerate(state.rngs):
                        g[b] += from_host(std * rng.standard_normal(tuple(g.shape[1:])), g)
        return grads, state

    return UpdateRule(init, update, name=f"add_noise({std:g})", stochastic=True)


class AdamState(NamedTuple):
    """State of :func:`adam_moments`: first and second moments per layer and the step count."""

    m: dict
    v: dict
    t: int


def adam_moments(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> UpdateRule:
    """Adam's bias-corrected ``m̂ / (√v̂ + ε)`` in place of the gradient (Kingma & Ba 2015, Algorithm 1)."""

    def init(params):
        return AdamState({k: _zeros_like(v) for k, v in params.items()},
                         {k: _zeros_like(v) for k, v in params.items()}, 0)

    def update(grads, state, params):
        t = state.t + 1
        for k, g in grads.items():
            m, v = state.m[k], state.v[k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            if isinstance(g, np.ndarray):
                np.divide(m / (1 - b1**t), np.sqrt(v / (1 - b2**t)) + eps, out=g)
            else:  # a torch tensor: the same operations in the same order
                g.copy_((m / (1 - b1**t)).div_((v / (1 - b2**t)).sqrt_().add_(eps)))
        return grads, state._replace(t=t)

    return UpdateRule(init, update, name="adam_moments")


def chain(*rules: UpdateRule, **properties) -> UpdateRule:
    """Apply ``rules`` left to right; the state is the tuple of their states.

    ``stochastic`` is inherited (any part); ``kernel_gd`` and ``stable_step`` describe the whole
    and are passed as ``properties`` by the factory that knows them."""

    def init(params):
        return tuple(r.init(params) for r in rules)

    def update(grads, state, params):
        new = []
        for r, s in zip(rules, state):
            grads, s = r.update(grads, s, params)
            new.append(s)
        return grads, tuple(new)

    kw: dict[str, Any] = {"name": " -> ".join(r.name for r in rules), "stochastic": any(r.stochastic for r in rules)}
    kw.update(properties)
    return UpdateRule(init, update, **kw)


def _gd(lr, weight_decay=0.0, **_):
    return chain(add_decayed_weights(weight_decay), scale(-lr), name="gd", kernel_gd=not weight_decay,
                 stable_step=lambda lam: gd_stable_step(lam + weight_decay))


def _noisy_gd(lr, weight_decay=0.0, temperature=None, seed=0, **_):
    tau = weight_decay if temperature is None else temperature
    return chain(add_decayed_weights(weight_decay), scale(-lr), add_noise(math.sqrt(2 * tau * lr), seed),
                 name="noisy-gd", stable_step=lambda lam: gd_stable_step(lam + weight_decay))


def _adam(lr, weight_decay=0.0, **_):
    return chain(add_decayed_weights(weight_decay), adam_moments(), scale(-lr), name="adam")


#: name -> factory(lr, weight_decay=0, temperature=None, seed=0) -> UpdateRule
ALGORITHMS: dict[str, Callable[..., UpdateRule]] = {"gd": _gd, "noisy-gd": _noisy_gd, "adam": _adam}


def register_algorithm(name: str, factory: Callable[..., UpdateRule], *, replace_existing: bool = False) -> None:
    """Make ``factory(lr=…, weight_decay=…, temperature=…, seed=…)`` available as ``algorithm=name``
    (in :func:`~twolayer.dynamics.train`, ``twolayer train --algorithm`` and the estimators)."""
    if not callable(factory):
        raise InputError(f"the factory of algorithm {name!r} must be callable")
    if name in ALGORITHMS and not replace_existing:
        raise InputError(f"algorithm {name!r} is already registered; pass replace_existing=True to overwrite it")
    ALGORITHMS[name] = factory


def make_rule(algorithm: str, **kw) -> UpdateRule:
    """The rule of a registered algorithm, named after it."""
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    rule = ALGORITHMS[algorithm](**kw)
    if not isinstance(rule, UpdateRule):
        raise InputError(f"algorithm {algorithm!r}: its factory returned {type(rule).__name__}, not an UpdateRule")
    return rule if rule.name != "custom" else replace(rule, name=algorithm)
