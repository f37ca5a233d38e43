r"""Observers of a training run: small objects the engine calls at fixed points of each step.

An observer implements any of

* ``start(state, out)`` — at step 0 of a fresh run, with the step-0 evaluation ``out``;
* ``check(state, out) -> str | None`` — every step, before the update: a stop reason, or None;
  may raise (:class:`DivergenceGuard` raises :class:`~twolayer.DivergenceError`);
* ``record(state, out)`` — at record steps and at a stopping step (``out`` then has ``active``);
* ``after_update(state)`` — after each update (a twin run advances here);
* ``state_dict()`` / ``load_state_dict(tree)`` — what a checkpoint must carry (any tree of
  arrays, numbers, strings and Generators; see :mod:`twolayer.dynamics.checkpoint`).

Metric values go into a shared :class:`Recorder` (columns of shape (B, records)), which must come
first in the observer list so that each record has its step before the others write to it.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .._errors import DivergenceError
from ..bounds import movement_bound
from ..networks import forward
from .reference import Reference, empirical_reference

__all__ = ["Observer", "Recorder", "Diagnostics", "KernelGap", "ToleranceStop", "PlateauStop", "DivergenceGuard",
           "Probe", "METRICS"]

#: Metrics :class:`Diagnostics` and :class:`KernelGap` record: name -> description; arrays of
#: shape (B, R) in ``TrainResult.metrics`` (in this order).
METRICS = {
    "loss": "training loss in the run's convention",
    "predicted_loss": "kernel prediction from u(0) = 0 (Arora et al. eq. 8, the paper's form)",
    "predicted_loss_init": "kernel prediction from the network's own u(0) (init-corrected)",
    "dist_from_init": "||W(k) - W(0)||_F",
    "max_neuron_move": "max_r ||w_r(k) - w_r(0)||_2",
    "movement_bound": "Lemma C.1: 4 sqrt(n) ||y - u(0)|| / (sqrt(m) lambda_min)",
    "a_dist_from_init": "||a(k) - a(0)||_2",
    "activation_flips": "fraction of (i, r) with 1{w_r.x_i > 0} changed since step 0",
    "gram_dist_inf": "||H(k) - K||_F, H(k) the empirical tangent kernel, K the reference kernel",
    "gram_dist_init": "||H(k) - H(0)||_F",
    "kernel_gap_sup": "max_i |u_i(k) - u~_i(k)|, u~ the init-corrected kernel dynamics",
    "kernel_gap_rms": "RMS_i |u_i(k) - u~_i(k)|",
    "test_loss": "test loss (same convention, averaged as in training)",
    "test_l1": "mean_i |f(x_i) - y_i| on the test set",
    "test_error": "fraction of test points with sign f(x) != y",
    "test_kernel_gap_sup": "max over test points of |f(x) - f~(x)|, f~ the kernel predictor",
    "test_kernel_gap_rms": "RMS over test points of |f(x) - f~(x)|",
}


class Observer:
    """Base class with every hook a no-op (subclass and override what you need)."""

    def start(self, state, out) -> None:
        pass

    def check(self, state, out) -> str | None:
        return None

    def record(self, state, out) -> None:
        pass

    def after_update(self, state) -> None:
        pass

    def state_dict(self):
        return None

    def load_state_dict(self, tree) -> None:
        pass


class Recorder(Observer):
    """Metric columns of shape (B, capacity), one column per recorded step (appended by ``record``)."""

    def __init__(self, B: int, capacity: int):
        self.B, self.capacity = B, capacity
        self.metrics: dict[str, np.ndarray] = {}
        self.steps: list[int] = []

    def record(self, state, out) -> None:
        self.steps.append(int(state.step))

    def set(self, name: str, values, b: int | None = None) -> None:
        """Value(s) of ``name`` at the current record: all networks, or network ``b`` only."""
        j = len(self.steps) - 1
        if name not in self.metrics:
            self.metrics[name] = np.full((self.B, self.capacity), np.nan)
        if b is None:
            self.metrics[name][:, j] = values
        else:
            self.metrics[name][b, j] = values

    def result(self) -> tuple[np.ndarray, dict]:
        """``(steps (R,), {name: (B, R)})``, metrics in the order of :data:`METRICS` (others after)."""
        j = len(self.steps)
        order = sorted(self.metrics, key=lambda k: (list(METRICS).index(k), "") if k in METRICS else (len(METRICS), k))
        return np.array(self.steps, dtype=int), {k: self.metrics[k][:, :j] for k in order}

    def state_dict(self):
        return {"steps": list(self.steps), "metrics": dict(self.metrics)}

    def load_state_dict(self, tree) -> None:
        self.steps = [int(k) for k in tree["steps"]]
        self.metrics = dict(tree["metrics"])


def _u0_and_active(out) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(out["u"], dtype=np.float64).copy(), out["active"].copy()


class Diagnostics(Observer):
    r"""Distances from initialization, activation flips, tangent-kernel drift and test metrics.

    Records ``loss``, ``dist_from_init`` / ``max_neuron_move`` (trained W), ``movement_bound``
    (Arora et al. Lemma C.1, where the parameterization lists ``"movement"`` in its bounds),
    ``a_dist_from_init`` (trained a), ``activation_flips``, ``gram_dist_inf`` / ``gram_dist_init``
    (``gram``: cost ``n² m`` per record and network) and ``test_loss`` / ``test_l1`` /
    ``test_error`` on ``test = (X_test (n_t, d), Y_test (B, n_t))``.
    """

    def __init__(self, recorder: Recorder, reference: Reference | None = None, *, gram: bool = False,
                 test: tuple | None = None):
        self.rc, self.ref, self.gram, self.test = recorder, reference, gram, test
        self.u0: np.ndarray = np.zeros((0, 0))    # outputs at step 0 (B, n), set by start
        self.act0: np.ndarray = np.zeros((0, 0), bool)  # activation pattern at step 0 (n, B·m)
        self.H0: list = []

    def start(self, state, out) -> None:
        self.u0, self.act0 = _u0_and_active(out)

    def state_dict(self):
        return {"u0": self.u0, "act0": np.packbits(self.act0, axis=None), "act0_shape": list(self.act0.shape)}

    def load_state_dict(self, tree) -> None:
        self.u0 = tree["u0"]
        shape = tuple(int(v) for v in tree["act0_shape"])
        self.act0 = np.unpackbits(tree["act0"], count=int(np.prod(shape))).reshape(shape).astype(bool)

    def record(self, state, out) -> None:
        rc, pr, cur, net0 = self.rc, state.problem, state.net, state.net0
        B, m, n, p = cur.batch, cur.width, pr.n, pr.param
        rc.set("loss", out["loss"])
        if "W" in p.trains:
            dW = (cur.W - net0.W).astype(np.float64)
            per_neuron = np.einsum("bmd,bmd->bm", dW, dW)
            rc.set("dist_from_init", np.sqrt(per_neuron.sum(axis=1)))
            rc.set("max_neuron_move", np.sqrt(per_neuron.max(axis=1)))
            if "movement" in p.bounds and self.ref is not None:
                resid0 = np.linalg.norm(pr.Y.astype(np.float64) - self.u0, axis=1)
                lam0 = [sp.lambda_min / pr.c for sp in self.ref.spectra]
                rc.set("movement_bound", [movement_bound(n, m, r, lam) if lam > 0 else np.nan
                                          for r, lam in zip(resid0, lam0)])
        if "a" in p.trains:
            rc.set("a_dist_from_init", np.linalg.norm((cur.a - net0.a).astype(np.float64), axis=1))
        act = out["active"]
        rc.set("activation_flips", np.count_nonzero((act != self.act0).reshape(n, B, m), axis=(0, 2)) / (n * m))
        if self.gram and self.ref is not None:
            X64 = pr.X.astype(np.float64)
            if not self.H0:
                self.H0 = [empirical_reference(net0, X64, b=b) for b in range(B)]
            for b in range(B):
                Hk = empirical_reference(cur, X64, b=b)
                rc.set("gram_dist_inf", np.linalg.norm(Hk - self.ref.K[b]), b)
                rc.set("gram_dist_init", np.linalg.norm(Hk - self.H0[b]), b)
        if self.test is not None:
            Xt, Yt = self.test
            ft = forward(cur, Xt).astype(np.float64)
            et = ft - Yt
            ct = 1.0 / Xt.shape[0] if pr.normalization == "mean" else 1.0
            rc.set("test_loss", 0.5 * ct * np.sum(et**2, axis=1))
            rc.set("test_l1", np.mean(np.abs(et), axis=1))
            rc.set("test_error", np.mean(np.sign(ft) != np.sign(Yt), axis=1))


class KernelGap(Observer):
    r"""Distance of the network from its kernel-regime prediction (Arora et al. 2019, Thm 4.1 / eq. 8).

    At each record, ``kernel_gap_sup/rms`` = sup / RMS over training points of ``u(k) − ũ(k)``,
    ``ũ(k) = y − (I − ηcK)^k (y − u(0))`` the linear dynamics started from the network's own
    ``u(0)``; with ``test`` also ``test_kernel_gap_sup/rms`` against the kernel predictor on the
    test inputs (started from the network's test outputs at initialization). Cost ``O(n²)`` per
    record and network (the spectrum is precomputed)."""

    def __init__(self, recorder: Recorder, reference: Reference, lr: float, *, test: tuple | None = None):
        self.rc, self.ref, self.lr, self.test = recorder, reference, lr, test
        self.u0: np.ndarray = np.zeros((0, 0))  # set by start
        self._predictors: list = []

    def start(self, state, out) -> None:
        self.u0 = np.asarray(out["u"], dtype=np.float64).copy()

    def state_dict(self):
        return {"u0": self.u0}

    def load_state_dict(self, tree) -> None:
        self.u0 = tree["u0"]

    def _test_outputs(self, state, b: int, k: int, Xt: np.ndarray) -> np.ndarray:
        if not self._predictors:
            pr, net0 = state.problem, state.net0
            X64, Xt64 = pr.X.astype(np.float64), Xt.astype(np.float64)
            f0 = forward(net0, Xt).astype(np.float64)
            for bb in range(net0.batch):
                Kt = self.ref.test_kernel(net0, Xt64, X64, bb)
                self._predictors.append(self.ref.spectra[bb].test_predictor(
                    pr.c * Kt, pr.Y[bb].astype(np.float64), self.lr, u0=self.u0[bb], f0_test=f0[bb]))
        return self._predictors[b]([k])[0]

    def predicted(self, b: int, k: int, Y: np.ndarray) -> np.ndarray:
        """``ũ(k)`` of network ``b`` (n,)."""
        return Y[b] - self.ref.spectra[b].residuals(Y[b].astype(np.float64), [k], self.lr, u0=self.u0[b])[0]

    def record(self, state, out) -> None:
        u = out["u"].astype(np.float64)
        k, Y = state.step, state.problem.Y
        for b in range(state.net.batch):
            gap = u[b] - self.predicted(b, k, Y)
            self.rc.set("kernel_gap_sup", np.max(np.abs(gap)), b)
            self.rc.set("kernel_gap_rms", np.sqrt(np.mean(gap**2)), b)
        if self.test is not None:
            ft = forward(state.net, self.test[0]).astype(np.float64)
            for b in range(state.net.batch):
                gap = ft[b] - self._test_outputs(state, b, k, self.test[0])
                self.rc.set("test_kernel_gap_sup", np.max(np.abs(gap)), b)
                self.rc.set("test_kernel_gap_rms", np.sqrt(np.mean(gap**2)), b)


class ToleranceStop(Observer):
    """Stop (reason ``"tol"``) once every network's training loss is below ``tol``."""

    def __init__(self, tol: float):
        self.tol = tol

    def check(self, state, out) -> str | None:
        return "tol" if bool(np.all(out["loss"] < self.tol)) else None


class PlateauStop(Observer):
    r"""Stop (reason ``"rtol"``) once the remaining steps can shrink every loss by less than ``rtol``.

    Both the kernel prediction (the init-corrected linear dynamics, ``L̂(T)/L̂(k) ≥ 1 − rtol``) and
    the loss's own geometric rate since the previous check (``exp(−g (T − k)) ≥ 1 − rtol``, ``g``
    the per-step decay of ``log L``) must say so. Both are conservative when ``log L`` is convex
    in ``k`` (a sum of decaying exponentials, as in the kernel regime). Checked every
    ``max(1, steps // 400)`` steps. Needs a rule with ``kernel_gd``."""

    def __init__(self, rtol: float, steps: int, reference: Reference, lr: float):
        self.rtol, self.steps, self.ref, self.lr = rtol, steps, reference, lr
        self.every = max(1, steps // 400)
        self.prev: tuple[int, list[float]] | None = None
        self.u0: np.ndarray = np.zeros((0, 0))  # set by start

    def start(self, state, out) -> None:
        self.u0 = np.asarray(out["u"], dtype=np.float64).copy()

    def state_dict(self):
        return {"u0": self.u0, "prev": None if self.prev is None else [self.prev[0], list(self.prev[1])]}

    def load_state_dict(self, tree) -> None:
        self.u0 = tree["u0"]
        self.prev = None if tree["prev"] is None else (int(tree["prev"][0]), [float(v) for v in tree["prev"][1]])

    def check(self, state, out) -> str | None:
        k, loss = state.step, out["loss"]
        if k % self.every or k >= self.steps:
            return None
        prev, self.prev = self.prev, (k, [float(v) for v in loss])
        if prev is None:
            return None
        k0, l0 = prev
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.log(np.asarray(l0) / np.asarray(loss, dtype=np.float64)) / (k - k0)
        if not np.all(np.isfinite(g)) or np.any(g < 0):        # rising or zero loss: no geometric tail yet
            return None
        if np.any(np.exp(-g * (self.steps - k)) < 1 - self.rtol):
            return None
        Y = state.problem.Y.astype(np.float64)
        for b in range(Y.shape[0]):
            pk, pT = self.ref.spectra[b].loss_curve(Y[b], [k, self.steps], self.lr, u0=self.u0[b])
            if pk > 0 and pT / pk < 1 - self.rtol:
                return None
        return "rtol"


class DivergenceGuard(Observer):
    r"""Raise :class:`~twolayer.DivergenceError` (with the attribute ``step``) once a loss is non-finite
    or, with ``factor``, above ``factor · max(L(0), floor) + offset``.

    ``what`` names the run in the message, ``hint`` says what to change."""

    def __init__(self, factor: float | None = 1e3, offset: float = 1.0, floor: float = 1e-300, *,
                 what: str = "training", hint: str = "use a smaller --lr"):
        self.factor, self.offset, self.floor, self.what, self.hint = factor, offset, floor, what, hint
        self.loss0: np.ndarray = np.zeros(0)  # set by start

    def start(self, state, out) -> None:
        self.loss0 = np.maximum(np.asarray(out["loss"], dtype=np.float64), self.floor)

    def state_dict(self):
        return {"loss0": self.loss0}

    def load_state_dict(self, tree) -> None:
        self.loss0 = tree["loss0"]

    def check(self, state, out) -> str | None:
        loss = out["loss"]
        if np.all(np.isfinite(loss)) and (self.factor is None or not np.any(loss > self.factor * self.loss0
                                                                           + self.offset)):
            return None
        err = DivergenceError(f"{self.what} diverged at step {state.step} (loss {float(np.max(loss)):.3g}, "
                              f"initially {float(np.max(self.loss0)):.3g}); {self.hint}")
        err.step = int(state.step)
        raise err


class Probe(Observer):
    """Call ``fn(state, out) -> dict[str, float | array]`` at every record and keep the values.

    ``values[name]`` is the list of recorded values (stack them with ``np.asarray``); ``steps``
    the recorded steps. The values are checkpointed (arrays and numbers)."""

    def __init__(self, fn: Callable[..., dict]):
        self.fn = fn
        self.steps: list[int] = []
        self.values: dict[str, list] = {}

    def record(self, state, out) -> None:
        self.steps.append(int(state.step))
        for k, v in self.fn(state, out).items():
            self.values.setdefault(k, []).append(v)

    def state_dict(self):
        return {"steps": list(self.steps), "values": {k: list(v) for k, v in self.values.items()}}

    def load_state_dict(self, tree) -> None:
        self.steps = [int(k) for k in tree["steps"]]
        self.values = {k: list(v) for k, v in tree["values"].items()}


def finite_or_none(v: float) -> float | None:
    """``v`` if finite, else None (JSON records)."""
    return v if math.isfinite(v) else None
