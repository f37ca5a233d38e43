r"""The training engine: ``init → step → run`` over an explicit :class:`TrainState`.

One step of full-batch training (Arora et al. 2019 eq. 6 and its variants) is

1. :func:`evaluate` — outputs, loss and hand-derived gradients at the current parameters
   (:func:`twolayer.networks.loss_and_grads`: two GEMMs of ``n·B·m·d``);
2. :func:`apply` — the update rule turns the gradients into updates, which are added in place.

:func:`run` loops over steps and calls :mod:`observers <twolayer.dynamics.observers>` — recorders,
stopping rules, probes, a twin run — at fixed points of each step, and checkpoints the whole state
(parameters, rule state, every observer's state) so that a resumed run gives identical numbers.
:func:`twolayer.dynamics.train` is the convenient front built on these pieces.

State is updated **in place** (the parameters are large; one training run owns its state), and
the functions return the state for chaining.
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .._errors import InputError
from .._io import to_json
from ..networks import Network, Parameterization, Workspace, get_parameterization, loss_and_grads
from . import checkpoint as _ckpt
from .rules import UpdateRule

__all__ = ["Problem", "TrainState", "init", "evaluate", "apply", "step", "run", "config_hash"]


@dataclass(frozen=True)
class Problem:
    """The fixed part of a run: data, loss convention, parameterization and buffers.

    ``X`` (n, d) in the network's dtype; ``Y`` (B, n) targets of each network; ``c`` the loss
    factor (1 for ``½Σ``, ``1/n`` for ``½n⁻¹Σ``)."""

    X: np.ndarray
    Y: np.ndarray
    normalization: str
    c: float
    param: Parameterization
    trains: frozenset
    grad_multiplier: float
    ws: Workspace = field(repr=False)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


@dataclass
class TrainState:
    """Everything that changes during a run.

    ``net`` holds the current parameters (updated in place; ``params`` are views of its trained
    layers), ``net0`` the initial ones, ``rule_state`` the update rule's typed state, ``step`` the
    number of updates applied so far."""

    net: Network
    net0: Network
    params: dict
    rule: UpdateRule
    rule_state: Any
    problem: Problem
    step: int = 0


def _targets(y, B: int, n: int, name: str, dtype) -> np.ndarray:
    Y = np.asarray(y, dtype=np.float64)
    if Y.ndim == 1:
        Y = np.broadcast_to(Y, (B, Y.shape[0]))
    if Y.ndim != 2 or Y.shape != (B, n):
        raise InputError(f"{name} must have shape ({n},) or ({B}, {n}) for {B} network(s), got {np.shape(y)}")
    if not np.all(np.isfinite(Y)):
        raise InputError(f"{name} has NaN or inf entries")
    return np.ascontiguousarray(Y, dtype=dtype)


def init(net: Network, X, y, rule: UpdateRule, *, normalization: str | None = None) -> TrainState:
    """A fresh state: copies of ``net`` (current and initial), checked data, the rule's initial state.

    ``X`` (n, d); ``y`` (n,) or (B, n); ``normalization`` defaults to the parameterization's."""
    p = get_parameterization(net.param)
    Xa = np.ascontiguousarray(np.asarray(X, dtype=net.dtype))
    if Xa.ndim != 2 or Xa.shape[1] != net.dim:
        raise InputError(f"X must have shape (n, {net.dim}), got {Xa.shape}")
    if not np.all(np.isfinite(Xa)):
        raise InputError("X has NaN or inf entries; remove those rows")
    if not isinstance(rule, UpdateRule):
        raise InputError(f"rule must be a twolayer.dynamics.UpdateRule, got {type(rule).__name__}")
    norm = normalization or p.loss_normalization
    if norm not in ("sum", "mean"):
        raise InputError(f"normalization must be 'sum' or 'mean', got {norm!r}")
    n = Xa.shape[0]
    Y = _targets(y, net.batch, n, "y", net.dtype)
    cur = net.copy()
    params = {k: getattr(cur, k) for k in sorted(p.trains)}
    problem = Problem(X=Xa, Y=Y, normalization=norm, c=1.0 / n if norm == "mean" else 1.0, param=p,
                      trains=p.trains, grad_multiplier=p.grad_multiplier(net.width), ws=Workspace(n, cur))
    return TrainState(net=cur, net0=net.copy(), params=params, rule=rule, rule_state=rule.init(params),
                      problem=problem)


def evaluate(state: TrainState, *, grads: bool = True, keep_preactivation: bool = False) -> dict:
    """Outputs ``u`` (B, n), ``loss`` (B,), gradients ``gW``/``ga`` of the trained layers (views of
    the workspace: consume before the next call) and, when asked, the activation pattern ``active``."""
    pr = state.problem
    if not grads:
        return loss_and_grads(state.net, pr.X, pr.Y, normalization=pr.normalization, trains=frozenset(), ws=pr.ws,
                              keep_preactivation=keep_preactivation)
    return loss_and_grads(state.net, pr.X, pr.Y, normalization=pr.normalization, trains=pr.trains,
                          grad_multiplier=pr.grad_multiplier, ws=pr.ws, keep_preactivation=keep_preactivation)


def apply(state: TrainState, out: dict) -> TrainState:
    """Add the rule's updates of the gradients in ``out`` to the parameters; ``step += 1``."""
    grads = {}
    if "W" in state.problem.trains:
        grads["W"] = out["gW"]
    if "a" in state.problem.trains:
        grads["a"] = out["ga"]
    updates, state.rule_state = state.rule.update(grads, state.rule_state, state.params)
    for key, upd in updates.items():
        state.params[key] += upd
    state.step += 1
    return state


def step(state: TrainState) -> TrainState:
    """One full step: :func:`evaluate` then :func:`apply`."""
    return apply(state, evaluate(state))


def config_hash(cfg: dict) -> str:
    """A short stable hash of a JSON-able configuration (what a checkpoint belongs to)."""
    return hashlib.sha256(to_json(cfg, sort_keys=True).encode()).hexdigest()[:16]


def _save(path, chash: str, state: TrainState, observers, stopped: str | None) -> None:
    trees = {"net": {"W": state.net.W, "a": state.net.a}, "rule": state.rule_state}
    for i, o in enumerate(observers):
        trees[f"observer{i}"] = o.state_dict()
    _ckpt.save(path, trees, {"hash": chash, "step": int(state.step), "stopped": stopped,
                             "observers": [type(o).__name__ for o in observers]})


def _load(path, chash: str, state: TrainState, observers) -> str | None:
    meta, trees = _ckpt.load(path)
    if meta.get("hash") != chash:
        raise InputError(f"checkpoint {path} belongs to a different run (the configuration changed); "
                         f"delete it or pass another checkpoint path")
    if meta.get("observers") != [type(o).__name__ for o in observers]:
        raise InputError(f"checkpoint {path} was written with other observers {meta.get('observers')}; "
                         f"delete it or pass another checkpoint path")
    # rebuild everything first (on copies), then commit: a checkpoint that fails half-way changes nothing
    try:
        net = _ckpt.restore({"W": state.net.W, "a": state.net.a}, *trees["net"])
        rule_state = _ckpt.restore(copy.deepcopy(state.rule_state), *trees["rule"])
        observer_trees = [_ckpt.restore(_ckpt.FREE, *trees[f"observer{i}"]) for i in range(len(observers))]
    except KeyError as exc:
        raise InputError(f"checkpoint {path} lacks {exc}; delete it to start afresh") from None
    state.net.W[...] = net["W"]
    state.net.a[...] = net["a"]
    state.rule_state = rule_state
    for o, tree in zip(observers, observer_trees):
        o.load_state_dict(tree)
    state.step = int(meta["step"])
    return meta.get("stopped")


def run(state: TrainState, steps: int, observers: Sequence = (), *, record_steps=(), checkpoint=None,
        checkpoint_every: int = 1000, checkpoint_seconds: float | None = None, on_mismatch: str = "error",
        config: dict | None = None,
        progress: Callable[[int, int, float], None] | None = None) -> tuple[TrainState, str, float]:
    r"""Run until ``state.step == steps`` or an observer stops the run; return ``(state, stopped, seconds)``.

    Per step ``k`` (with the parameters after ``k`` updates):

    1. :func:`evaluate` (with the activation pattern at ``k = 0`` and at record steps);
    2. at ``k = 0`` of a fresh run, ``observer.start(state, out)``;
    3. ``observer.check(state, out)`` in order, until one returns a stop reason (a string) or
       raises (e.g. :class:`~twolayer.DivergenceError`);
    4. at the steps in ``record_steps`` and at a stopping step, ``observer.record(state, out)``;
    5. unless stopped or ``k == steps``: :func:`apply`, then ``observer.after_update(state)``.

    ``stopped`` is ``"steps"`` or the reason an observer gave. With ``checkpoint`` (a path) the
    state is written atomically every ``checkpoint_every`` steps and at the end; a checkpoint of
    the same ``config`` (any JSON-able dict; its hash must match) and the same observers is
    resumed from, and a finished one returns at once; ``checkpoint_seconds`` also writes one
    whenever that much wall time has passed since the last. A checkpoint of another run is an
    error (``on_mismatch="error"``) or is discarded (``"restart"``: for points of a sweep, whose
    stale checkpoints must not stop a rerun). ``progress(step, steps, max loss)`` is called after
    every update.
    """
    if on_mismatch not in ("error", "restart"):
        raise InputError(f"on_mismatch must be 'error' or 'restart', got {on_mismatch!r}")
    if not (isinstance(steps, (int, np.integer)) and steps >= 0):
        raise InputError(f"steps must be a non-negative integer, got {steps!r}")
    observers = list(observers)
    pending = set(int(k) for k in record_steps)
    chash = config_hash(config or {})
    finished = None
    if checkpoint is not None and Path(checkpoint).exists():
        try:
            finished = _load(checkpoint, chash, state, observers)
        except InputError:
            if on_mismatch == "error":
                raise
            Path(checkpoint).unlink(missing_ok=True)  # _load changed nothing: start afresh
            finished = None
    t0 = time.perf_counter()
    last_save = time.monotonic()
    stopped = finished or "steps"
    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is an observer's (or the caller's) business
        while finished is None:
            k = state.step
            rec = k in pending
            out = evaluate(state, keep_preactivation=rec or k == 0)
            if k == 0:
                for o in observers:
                    o.start(state, out)
            reason = None
            for o in observers:
                reason = o.check(state, out)
                if reason:
                    break
            if rec or reason:
                if not rec:  # the final step of an early stop is always recorded
                    out = evaluate(state, grads=False, keep_preactivation=True)
                for o in observers:
                    o.record(state, out)
            if reason:
                stopped = reason
                break
            if k >= steps:
                break
            apply(state, out)
            for o in observers:
                o.after_update(state)
            if progress is not None:
                progress(state.step, steps, float(np.max(out["loss"])))
            if checkpoint is not None and state.step < steps and (
                    state.step % checkpoint_every == 0
                    or (checkpoint_seconds is not None and time.monotonic() - last_save >= checkpoint_seconds)):
                _save(checkpoint, chash, state, observers, None)
                last_save = time.monotonic()
    seconds = time.perf_counter() - t0
    if checkpoint is not None and finished is None:
        _save(checkpoint, chash, state, observers, stopped)
    return state, stopped, seconds
