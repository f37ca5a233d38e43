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

__all__ = ["Problem", "TrainState", "init", "evaluate", "apply", "step", "run", "config_hash", "host_view"]


@dataclass(frozen=True)
class Problem:
    """The fixed part of a run: data, loss convention, parameterization and buffers.

    ``X`` (n, d) in the network's dtype; ``Y`` (B, n) targets of each network; ``c`` the loss
    factor (1 for ``½Σ``, ``1/n`` for ``½n⁻¹Σ``). In a device run (:mod:`twolayer.torch_backend`)
    ``device`` is the ``torch.device``, ``Xd``/``Yd`` are tensor copies of ``X``/``Y`` there and
    ``ws`` is a :class:`~twolayer.torch_backend.TorchWorkspace`; ``X``/``Y`` stay numpy (what
    the observers read)."""

    X: np.ndarray
    Y: np.ndarray
    normalization: str
    c: float
    param: Parameterization
    trains: frozenset
    grad_multiplier: float
    ws: Any = field(repr=False)  # a networks.Workspace, or a torch_backend.TorchWorkspace on a device
    device: Any = None
    Xd: Any = field(default=None, repr=False)
    Yd: Any = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


@dataclass
class TrainState:
    """Everything that changes during a run.

    ``net`` holds the current parameters (updated in place; ``params`` are views of its trained
    layers), ``net0`` the initial ones, ``rule_state`` the update rule's typed state, ``step`` the
    number of updates applied so far. In a device run ``net``, ``params`` and tensor leaves of
    ``rule_state`` are torch tensors on ``problem.device`` (``net0`` stays numpy); observers
    are handed a numpy view of the state (:func:`host_view`)."""

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


def init(net: Network, X, y, rule: UpdateRule, *, normalization: str | None = None, device=None,
         tf32: bool = False) -> TrainState:
    """A fresh state: copies of ``net`` (current and initial), checked data, the rule's initial state.

    ``X`` (n, d); ``y`` (n,) or (B, n); ``normalization`` defaults to the parameterization's.
    ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:K"`` or a ``torch.device``; needs PyTorch) runs the
    steps with :mod:`twolayer.torch_backend` on that device, in the network's dtype, starting
    from the same numpy-drawn weights; ``tf32`` lets CUDA float32 GEMMs use TF32. ``None`` (the
    default) is the numpy engine."""
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
    if device is not None:
        return _init_device(net, Xa, Y, rule, norm, p, device, tf32)
    cur = net.copy()
    params = {k: getattr(cur, k) for k in sorted(p.trains)}
    problem = Problem(X=Xa, Y=Y, normalization=norm, c=1.0 / n if norm == "mean" else 1.0, param=p,
                      trains=p.trains, grad_multiplier=p.grad_multiplier(net.width), ws=Workspace(n, cur))
    return TrainState(net=cur, net0=net.copy(), params=params, rule=rule, rule_state=rule.init(params),
                      problem=problem)


def _init_device(net, Xa, Y, rule, norm, p, device, tf32) -> TrainState:
    from .. import torch_backend as tb

    dev = tb.resolve_device(device)
    if net.activation not in tb.TORCH_ACTIVATIONS:
        raise InputError(f"activation {net.activation!r} has no torch form; train it without a device")
    cur = tb.to_torch(net, dev)
    n = Xa.shape[0]
    params = {k: getattr(cur, k) for k in sorted(p.trains)}
    problem = Problem(X=Xa, Y=Y, normalization=norm, c=1.0 / n if norm == "mean" else 1.0, param=p,
                      trains=p.trains, grad_multiplier=p.grad_multiplier(net.width),
                      ws=tb.TorchWorkspace(n, cur, tf32=tf32), device=dev, Xd=tb.from_host(Xa, cur.W),
                      Yd=tb.from_host(Y, cur.W))
    return TrainState(net=cur, net0=net.copy(), params=params, rule=rule, rule_state=rule.init(params),
                      problem=problem)


class _HostState:
    """What observers see of a device run: the state with numpy parameters and rule state.

    ``net`` is copied from the device when first read at a step (observers that only look at
    ``step`` or ``problem`` cost nothing); every other attribute is the state's own."""

    def __init__(self, state: TrainState):
        self._state = state
        self._net: Network | None = None
        self._at = -1

    def __getattr__(self, name):
        return getattr(self._state, name)

    @property
    def net(self) -> Network:
        if self._net is None or self._at != self._state.step:
            from ..torch_backend import from_torch

            self._net, self._at = from_torch(self._state.net), self._state.step
        return self._net

    @property
    def rule_state(self):
        from ..torch_backend import tree_to_host

        return tree_to_host(self._state.rule_state)

    @property
    def params(self) -> dict:
        return {k: getattr(self.net, k) for k in self._state.params}


class _HostOut(dict):
    """An evaluation of a device run as observers see it: each tensor becomes numpy when first read."""

    def __init__(self, out: dict):
        super().__init__(out)
        self._done: set = set()

    def __getitem__(self, key):
        v = super().__getitem__(key)
        if key not in self._done:
            if v is not None:
                from ..torch_backend import to_host

                v = to_host(v)
                super().__setitem__(key, v)
            self._done.add(key)
        return v

    def get(self, key, default=None):
        return self[key] if key in self else default

    def values(self):
        return [self[k] for k in self]

    def items(self):
        return [(k, self[k]) for k in self]


def host_view(state: TrainState, out: dict | None = None):
    """``(state, out)`` as observers read them: unchanged for a numpy run; for a device run a view
    whose ``net`` (and ``params``, ``rule_state``) are numpy copies and an ``out`` whose tensors
    become numpy when read (only the entries an observer reads are copied from the device)."""
    if state.problem.device is None:
        return state, out
    return _HostState(state), (None if out is None else _HostOut(out))


def evaluate(state: TrainState, *, grads: bool = True, keep_preactivation: bool = False) -> dict:
    """Outputs ``u`` (B, n), ``loss`` (B,), gradients ``gW``/``ga`` of the trained layers (views of
    the workspace: consume before the next call) and, when asked, the activation pattern ``active``.
    Tensors on the device in a device run (see :func:`host_view` for numpy)."""
    pr = state.problem
    if pr.device is not None:
        from ..torch_backend import loss_and_grads as device_loss_and_grads

        return device_loss_and_grads(state.net, pr.Xd, pr.Yd, normalization=pr.normalization,
                                     trains=pr.trains if grads else frozenset(), grad_multiplier=pr.grad_multiplier,
                                     ws=pr.ws, keep_preactivation=keep_preactivation)
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
    if state.problem.device is not None:
        from ..torch_backend import to_host, tree_to_host

        trees = {"net": {"W": to_host(state.net.W), "a": to_host(state.net.a)},
                 "rule": tree_to_host(state.rule_state)}
    else:
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
        if state.problem.device is not None:
            from ..torch_backend import from_host, to_host, tree_to_device, tree_to_host

            Wt: Any = state.net.W
            at: Any = state.net.a
            net = _ckpt.restore({"W": to_host(Wt), "a": to_host(at)}, *trees["net"])
            host_rule = _ckpt.restore(tree_to_host(state.rule_state), *trees["rule"])
        else:
            net = _ckpt.restore({"W": state.net.W, "a": state.net.a}, *trees["net"])
            host_rule = _ckpt.restore(copy.deepcopy(state.rule_state), *trees["rule"])
        observer_trees = [_ckpt.restore(_ckpt.FREE, *trees[f"observer{i}"]) for i in range(len(observers))]
    except KeyError as exc:
        raise InputError(f"checkpoint {path} lacks {exc}; delete it to start afresh") from None
    if state.problem.device is not None:
        Wt.copy_(from_host(net["W"], Wt))
        at.copy_(from_host(net["a"], at))
        state.rule_state = tree_to_device(host_rule, state.rule_state)
    else:
        state.net.W[...] = net["W"]
        state.net.a[...] = net["a"]
        state.rule_state = host_rule
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

    In a device run the observers get :func:`host_view` of the state and of each evaluation:
    numpy arrays, copied from the device only for what they read (the per-step ``check`` of the
    built-in observers reads the ``(B,)`` losses; the parameters are copied at record steps).
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
    on_device = state.problem.device is not None
    seen = host_view(state)[0]  # what the observers are handed (the state itself on numpy)
    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is an observer's (or the caller's) business
        while finished is None:
            k = state.step
            rec = k in pending
            out = evaluate(state, keep_preactivation=rec or k == 0)
            hout = _HostOut(out) if on_device else out
            if k == 0:
                for o in observers:
                    o.start(seen, hout)
            reason = None
            for o in observers:
                reason = o.check(seen, hout)
                if reason:
                    break
            if rec or reason:
                if not rec:  # the final step of an early stop is always recorded
                    out = evaluate(state, grads=False, keep_preactivation=True)
                    hout = _HostOut(out) if on_device else out
                for o in observers:
                    o.record(seen, hout)
            if reason:
                stopped = reason
                break
            if k >= steps:
                break
            apply(state, out)
            for o in observers:
                o.after_update(seen)
            if progress is not None:
                progress(state.step, steps, float(np.max(hout["loss"])))
            if checkpoint is not None and state.step < steps and (
                    state.step % checkpoint_every == 0
                    or (checkpoint_seconds is not None and time.monotonic() - last_save >= checkpoint_seconds)):
                _save(checkpoint, chash, state, observers, None)
                last_save = time.monotonic()
    seconds = time.perf_counter() - t0
    if checkpoint is not None and finished is None:
        _save(checkpoint, chash, state, observers, stopped)
    return state, stopped, seconds
