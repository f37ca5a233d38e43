r"""Training dynamics: ``(init, update)`` rules over explicit state, and the GD engine.

Update rules compose like optax transformations: each is a pair ``init(params) -> state`` and
``update(grads, state, params) -> (updates, state)`` acting on dicts ``{"W": …, "a": …}``
holding only the trained layers (the mask). Named algorithms (:data:`ALGORITHMS`) are chains:

* ``gd``: ``scale(−η)`` — full-batch gradient descent (Arora et al. §3, eq. 6);
* ``noisy-gd``: ``add_decayed_weights(λ) → scale(−η) → add_noise(√(2τη))`` with temperature
  ``τ = λ`` by default — Chen et al. (2020), Algorithm 1: Langevin dynamics at temperature λ
  whose stationary law is the Gibbs measure relative to ``N(0, I)``;
* ``adam``: Adam moments → ``scale(−η)`` (an adaptive rule, for the beyond-NTK experiments).

Units: ``steps`` count iterations; time is ``η · steps`` in the chosen loss convention.

The engine (:func:`train`) runs a batch of networks on one data set with preallocated buffers,
records diagnostics at chosen steps from quantities the step computes anyway, compares with the
kernel-regime prediction, catches divergence early, stops early on a loss tolerance, and
checkpoints / resumes with identical results.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np

from ._errors import DivergenceError, InputError
from ._io import atomic_save_npz, to_json
from .bounds import MAX_CONDITION, movement_bound
from .kernels import first_layer_ntk, random_features_kernel
from .kernels.empirical import _derivative_and_value, _tangent_gram
from .networks import (Network, Workspace, child_seeds, forward, get_parameterization, loss_and_grads,
                       seed_record)
from .spectra import Spectrum, spectrum

__all__ = ["UpdateRule", "scale", "add_decayed_weights", "add_noise", "adam_moments", "chain", "ALGORITHMS",
           "make_rule", "DivergenceError", "TrainResult", "train", "record_schedule", "reference_kernel",
           "METRICS"]


# --------------------------------------------------------------------------- update rules
class UpdateRule(NamedTuple):
    init: Callable
    update: Callable


def scale(factor: float) -> UpdateRule:
    """``updates = factor · grads`` (in place)."""

    def update(grads, state, params):
        for g in grads.values():
            g *= factor
        return grads, state

    return UpdateRule(lambda params: None, update)


def add_decayed_weights(weight_decay: float) -> UpdateRule:
    """``grads += λ · params`` (L2 weight decay as part of the drift)."""

    def update(grads, state, params):
        if weight_decay:
            for k, g in grads.items():
                g += weight_decay * params[k]
        return grads, state

    return UpdateRule(lambda params: None, update)


def noise_seed_sequence(seed) -> np.random.SeedSequence:
    """A SeedSequence from an int, a SeedSequence or a Generator (drawn from, deterministically)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    if isinstance(seed, (int, np.integer)):
        return np.random.SeedSequence(int(seed))
    raise InputError(f"noise seed must be an int, a SeedSequence or a Generator, got {type(seed).__name__}")


def add_noise(std: float, seed) -> UpdateRule:
    """``updates += std · ξ``, ``ξ ~ N(0, I)``.

    Network ``b`` of a batch (leading axis of every parameter) draws from its own generator,
    child ``b`` of ``seed``, so its noise does not depend on the batch size; the generators live
    in the state (checkpointed and resumed exactly).
    """

    def init(params):
        B = next(iter(params.values())).shape[0]
        return {"rngs": [np.random.default_rng(s) for s in child_seeds(noise_seed_sequence(seed), B)]}

    def update(grads, state, params):
        if std:
            for k in sorted(grads):
                g = grads[k]
                for b, rng in enumerate(state["rngs"]):
                    g[b] += (std * rng.standard_normal(g.shape[1:])).astype(g.dtype, copy=False)
        return grads, state

    return UpdateRule(init, update)


def adam_moments(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> UpdateRule:
    """Adam's bias-corrected ``m̂ / (√v̂ + ε)`` in place of the gradient (Kingma & Ba 2015)."""

    def init(params):
        return {"m": {k: np.zeros_like(v) for k, v in params.items()},
                "v": {k: np.zeros_like(v) for k, v in params.items()}, "t": 0}

    def update(grads, state, params):
        t = state["t"] + 1
        for k, g in grads.items():
            m, v = state["m"][k], state["v"][k]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            np.divide(m / (1 - b1**t), np.sqrt(v / (1 - b2**t)) + eps, out=g)
        state["t"] = t
        return grads, state

    return UpdateRule(init, update)


def chain(*rules: UpdateRule) -> UpdateRule:
    """Apply rules left to right; the state is the tuple of their states."""

    def init(params):
        return tuple(r.init(params) for r in rules)

    def update(grads, state, params):
        new = []
        for r, s in zip(rules, state):
            grads, s = r.update(grads, s, params)
            new.append(s)
        return grads, tuple(new)

    return UpdateRule(init, update)


def _gd(lr, **_):
    return chain(scale(-lr))


def _noisy_gd(lr, weight_decay=0.0, temperature=None, seed=0, **_):
    tau = weight_decay if temperature is None else temperature
    return chain(add_decayed_weights(weight_decay), scale(-lr), add_noise(math.sqrt(2 * tau * lr), seed))


def _adam(lr, **_):
    return chain(adam_moments(), scale(-lr))


#: name -> factory(lr, weight_decay, temperature, seed) -> UpdateRule
ALGORITHMS: dict[str, Callable[..., UpdateRule]] = {"gd": _gd, "noisy-gd": _noisy_gd, "adam": _adam}


def make_rule(algorithm: str, **kw) -> UpdateRule:
    if algorithm not in ALGORITHMS:
        raise InputError(f"unknown algorithm {algorithm!r}; choose one of {', '.join(ALGORITHMS)}")
    return ALGORITHMS[algorithm](**kw)


# --------------------------------------------------------------------------- reference kernel
def reference_kernel(net: Network, X, Z=None) -> np.ndarray | None:
    r"""Infinite-width NTK of the trained layers, in function-space units.

    Under GD with step η the outputs follow ``u(k+1) = u(k) − η c K (u(k) − y)`` in the kernel
    regime (``c = 1`` for ``½Σ``, ``1/n`` for ``½n⁻¹Σ``), with ``K`` =

    * ``arora``: ``H^∞`` (first-layer NTK; independent of κ);
    * ``both``: ``H^∞ + κ² κ_1``;  ``rf``: ``κ² κ_1``;
    * ``ema-wu``: ``m (κ_1/d + β² H^∞)``;  ``ema-wu-rf``: ``m κ_1 / d``;
    * ``mean-field``, or any network whose activation is not ReLU: no closed form here, ``None``
      (use the empirical H(0)).

    Shapes: ``X`` (n, d), ``Z`` (n_z, d) → (n, n_z).
    """
    p = get_parameterization(net.param)
    kappa, beta, m, d = net.meta.get("kappa", 1.0), net.meta.get("beta", 1.0 / net.width), net.width, net.dim
    if p.init == "mean-field" or net.activation != "relu":
        return None
    parts = []
    if "W" in p.trains:
        H = first_layer_ntk(X, Z)
        parts.append(H * (m * beta**2) if p.init == "sphere" else H)
    if "a" in p.trains:
        R = random_features_kernel(X, Z)
        parts.append(R * (m / d) if p.init == "sphere" else R * kappa**2)
    return parts[0] if len(parts) == 1 else parts[0] + parts[1]


def empirical_reference(net: Network, X, Z=None, b: int = 0) -> np.ndarray:
    """The finite network's own tangent kernel at its current weights (network ``b``), same units.

    :func:`twolayer.kernels.empirical_gram` with the network's activation, the layers its
    parameterization trains and the scale ``s² · grad_multiplier(m)``; without the input checks,
    so that a diverged network gives non-finite entries rather than an error.
    """
    p = get_parameterization(net.param)
    Wb, ab = net.W[b].astype(np.float64), net.a[b].astype(np.float64)
    layers = {frozenset({"W"}): "first", frozenset({"a"}): "second", frozenset({"W", "a"}): "both"}[frozenset(p.trains)]
    Xa = np.asarray(X, np.float64)
    s2 = net.scale**2 * p.grad_multiplier(net.width)
    return _tangent_gram(Xa, Wb, ab**2, None if Z is None else np.asarray(Z, np.float64), layers, s2,
                         *_derivative_and_value(net.activation))


# --------------------------------------------------------------------------- results
#: Recorded metrics: name -> description (arrays of shape (B, R) in TrainResult.metrics).
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


@dataclass
class TrainResult:
    """Result of :func:`train` (fixed fields).

    Attributes
    ----------
    steps : ndarray (R,) of int — the recorded iterations.
    metrics : dict name -> ndarray (B, R) — see :data:`METRICS`; absent ones were not applicable.
    config : dict — the resolved configuration.
    lambda_min, lambda_max : float — of ``c·K`` (the reference kernel in the run's convention).
    max_stable_lr : float — ``2 / λ_max(c K)``.
    predicted_final_dist : ndarray (B,) — ``sqrt(rᵀ K⁻¹ r)``, ``r = y − u(0)`` (Arora et al. §5.2);
        NaN when ``K`` is numerically singular (condition number above ``bounds.MAX_CONDITION``).
    network, network0 : Network — final and initial parameters.
    n_steps : int — iterations run; ``stopped`` — why the run ended.
    seconds : float — wall time of the loop.
    """

    steps: np.ndarray
    metrics: dict
    config: dict
    lambda_min: float
    lambda_max: float
    max_stable_lr: float
    predicted_final_dist: np.ndarray
    network: Network
    network0: Network
    n_steps: int
    stopped: str
    seconds: float = 0.0
    reference: str = ""

    def records(self, b: int = 0) -> list[dict]:
        """One dict per recorded step for network ``b`` (what ``twolayer train --json`` prints)."""
        out = []
        for j, k in enumerate(self.steps):
            rec = {"step": int(k)}
            for name, arr in self.metrics.items():
                v = float(arr[b, j])
                rec[name] = v if math.isfinite(v) else None
            out.append(rec)
        return out


def record_schedule(steps: int, n_records: int | str = 60) -> np.ndarray:
    """Log-spaced recording steps in ``[0, steps]`` (always 0 and ``steps``); ``"all"`` for every step."""
    if steps < 0:
        raise InputError(f"steps must be >= 0, got {steps}")
    if n_records == "all":
        return np.arange(steps + 1)
    if not isinstance(n_records, (int, np.integer)) or n_records < 2:
        raise InputError(f"n_records must be an integer >= 2 or 'all', got {n_records!r}")
    if steps == 0:
        return np.array([0])
    grid = np.unique(np.round(np.logspace(0, math.log10(steps), n_records - 1)).astype(int))
    return np.unique(np.concatenate([[0], grid, [steps]]))


# --------------------------------------------------------------------------- engine
def _as_targets(y, B: int, n: int, name: str, dtype) -> np.ndarray:
    Y = np.asarray(y, dtype=np.float64)
    if Y.ndim == 1:
        Y = np.broadcast_to(Y, (B, Y.shape[0]))
    if Y.ndim != 2 or Y.shape != (B, n):
        raise InputError(f"{name} must have shape ({n},) or ({B}, {n}) for {B} network(s), got {np.shape(y)}")
    if not np.all(np.isfinite(Y)):
        raise InputError(f"{name} has NaN or inf entries")
    return np.ascontiguousarray(Y, dtype=dtype)


def _config_hash(cfg: dict) -> str:
    return hashlib.sha256(to_json(cfg, sort_keys=True).encode()).hexdigest()[:16]


class Recorder:
    """Metric columns of shape (B, capacity), filled one recorded step at a time."""

    def __init__(self, B: int, capacity: int):
        self.B, self.capacity = B, capacity
        self.metrics: dict[str, np.ndarray] = {}
        self.steps: list[int] = []

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
        j = len(self.steps)
        return np.array(self.steps, dtype=int), {k: v[:, :j] for k, v in self.metrics.items()}


def train(net: Network, X, y, *, lr: float, steps: int, algorithm: str = "gd", weight_decay: float = 0.0,
          temperature: float | None = None, noise_seed=0, normalization: str | None = None,
          X_test=None, y_test=None, n_records: int | str = 60, record_steps=None, tol: float | None = None,
          rtol: float | None = None, gram_diagnostics: bool | None = None, check_stability: bool = True, checkpoint=None,
          checkpoint_every: int = 1000, progress: Callable | None = None) -> TrainResult:
    r"""Train a batch of two-layer networks by full-batch (noisy) GD and record the diagnostics.

    Parameters
    ----------
    net : Network
        ``B`` networks from :func:`~twolayer.networks.init_network` (not modified).
    X : array_like, shape (n, d)
    y : array_like, shape (n,) or (B, n)
        Targets; one row per network for batched runs (e.g. true / random / worst-case labels).
    lr : float
        Step η, in the loss convention ``normalization``.
    steps : int
        Number of iterations.
    algorithm : {"gd", "noisy-gd", "adam"}
        See :data:`ALGORITHMS`; ``weight_decay`` (λ), ``temperature`` (τ, default λ) and
        ``noise_seed`` configure ``noisy-gd``.
    normalization : {"sum", "mean"}, optional
        Default: the parameterization's (Arora: ``½Σ``; E–Ma–Wu, mean-field: ``½n⁻¹Σ``).
    X_test, y_test : optional
        Test data, ``y_test`` shape (n_test,) or (B, n_test).
    n_records, record_steps
        Log-spaced recording (default 60 points) or explicit steps.
    tol : float, optional
        Stop once every network's training loss is below ``tol`` (the step is recorded).
    rtol : float, optional
        GD only. Stop once the remaining steps can only shrink every network's loss by less than
        the fraction ``rtol``: both the kernel prediction (the init-corrected linear dynamics,
        ``L̂(T)/L̂(k) ≥ 1 − rtol``) and the loss's own geometric rate since the previous check
        (``exp(−g (T − k)) ≥ 1 − rtol``, ``g`` the per-step decay of ``log L``) must say so.
        Both are conservative when ``log L`` is convex in ``k`` (a sum of decaying exponentials,
        as in the kernel regime): the secant rate over-estimates every later rate. Checked
        every ``max(1, steps // 400)`` steps; the stopping step is recorded.
    gram_diagnostics : bool, optional
        Record ``‖H(k) − K‖_F`` and ``‖H(k) − H(0)‖_F`` (cost ``n² m`` per record and network);
        default on when ``n² · B · m ≤ 4e9``.
    check_stability : bool
        Refuse a rate above ``2/λ_max(cK)`` before starting, and stop with
        :class:`DivergenceError` if the loss blows up.
    checkpoint : path, optional
        ``.npz`` checkpoint written atomically every ``checkpoint_every`` steps; if it exists and
        matches the configuration the run resumes from it, with identical results.
    progress : callable(step, steps, loss), optional

    Returns
    -------
    TrainResult

    Notes
    -----
    Cost per step: two GEMMs of ``n·B·m·d`` (see :func:`~twolayer.networks.loss_and_grads`);
    per record: an extra pass over ``n × B·m`` for activation flips, ``O(B m d)`` for distances,
    a test forward pass, and ``O(n²)`` for the kernel-regime comparison.
    """
    p = get_parameterization(net.param)
    Xa = np.ascontiguousarray(np.asarray(X, dtype=net.dtype))
    if Xa.ndim != 2 or Xa.shape[1] != net.dim:
        raise InputError(f"X must have shape (n, {net.dim}), got {Xa.shape}")
    if not np.all(np.isfinite(Xa)):
        raise InputError("X has NaN or inf entries; remove those rows")
    n, B, m = Xa.shape[0], net.batch, net.width
    Y = _as_targets(y, B, n, "y", net.dtype)
    test = None
    if X_test is not None:
        Xt = np.ascontiguousarray(np.asarray(X_test, dtype=net.dtype))
        if Xt.ndim != 2 or Xt.shape[1] != net.dim:
            raise InputError(f"X_test must have shape (n_test, {net.dim}), got {Xt.shape}")
        if y_test is None:
            raise InputError("X_test given without y_test; pass both or neither")
        test = (Xt, _as_targets(y_test, B, Xt.shape[0], "y_test", np.float64))
    if not (isinstance(steps, (int, np.integer)) and steps >= 0):
        raise InputError(f"steps must be a non-negative integer, got {steps!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise InputError(f"learning rate must be a positive number, got {lr}")
    norm = normalization or p.loss_normalization
    if norm not in ("sum", "mean"):
        raise InputError(f"normalization must be 'sum' or 'mean', got {norm!r}")
    c = 1.0 / n if norm == "mean" else 1.0
    rec = record_schedule(steps, n_records) if record_steps is None else np.unique(np.asarray(record_steps, int))
    if rec.size and (rec.min() < 0 or rec.max() > steps):
        raise InputError(f"record_steps must lie in [0, {steps}]")
    if rtol is not None and not (0 < rtol < 1 and algorithm == "gd"):
        raise InputError(f"rtol must lie in (0, 1) and needs algorithm 'gd' (got rtol={rtol!r}, "
                         f"algorithm={algorithm!r}); noisy and adaptive runs have no geometric tail to trust")

    # ---- reference kernel (in the run's convention) and the predictions it makes
    X64 = Xa.astype(np.float64)
    # closed form: one kernel shared by the batch; otherwise each network's own H(0)
    K_closed = reference_kernel(net, X64)
    ref_name = "closed form" if K_closed is not None else "empirical H(0)"
    Kref = [K_closed] * B if K_closed is not None else [empirical_reference(net, X64, b=b) for b in range(B)]
    sps: list[Spectrum] = [spectrum(Kref[0] * c)] * B if K_closed is not None else [spectrum(K * c) for K in Kref]
    lam_max = max(s.lambda_max for s in sps)
    lam_min = min(s.lambda_min for s in sps)
    lr_max = 2.0 / lam_max
    if check_stability and algorithm != "adam" and lr > lr_max * (1 + 1e-9):
        raise DivergenceError(
            f"learning rate {lr:g} diverges: the largest stable rate is 2/lambda_max = {lr_max:.6g} "
            f"(lambda_max = {lam_max:.6g} of the {p.name} tangent kernel in the '{norm}' loss convention); "
            f"use --lr {0.5 * lr_max:.3g} or smaller")
    gram_on = gram_diagnostics if gram_diagnostics is not None else (n * n * B * m <= 4e9)

    cfg = {"param": p.name, "n": n, "d": net.dim, "m": m, "batch": B, "lr": lr, "steps": int(steps),
           "algorithm": algorithm, "weight_decay": weight_decay, "temperature": temperature,
           "normalization": norm, "dtype": str(net.dtype), "records": rec.tolist(), "tol": tol, "rtol": rtol,
           "init": {**net.meta, "seed": seed_record(net.meta.get("seed"))}, "activation": net.activation,
           "noise_seed": seed_record(noise_seed),
           "y_sha": hashlib.sha256(Y.tobytes()).hexdigest()[:16],
           "X_sha": hashlib.sha256(Xa.tobytes()).hexdigest()[:16],
           "W0_sha": hashlib.sha256(net.W.tobytes()).hexdigest()[:16]}
    chash = _config_hash(cfg)

    net0 = net.copy()
    cur = net.copy()
    params = {k: getattr(cur, k) for k in sorted(p.trains)}
    rule = make_rule(algorithm, lr=lr, weight_decay=weight_decay, temperature=temperature, seed=noise_seed)
    state = rule.init(params)
    ws = Workspace(n, cur)
    recorder = Recorder(B, rec.size + 1)
    ctx = _RecordContext(X=Xa, Y=Y, net0=net0, sps=sps, lr=lr, c=c, Kref=Kref, gram_on=gram_on, test=test,
                         norm=norm, p=p)
    k, finished = 0, None
    if checkpoint is not None and Path(checkpoint).exists():
        k, finished = _load_checkpoint(checkpoint, chash, cur, state, recorder, ctx)
    pending = set(rec.tolist())
    plateau = _PlateauCheck(rtol, steps, ctx, Y) if rtol is not None else None

    t0 = time.perf_counter()
    stopped = finished or "steps"
    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is reported as DivergenceError
        # (a finished run restored from its checkpoint skips the loop and returns the same result)
        while finished is None:
            record = k in pending
            out = loss_and_grads(cur, Xa, Y, normalization=norm, trains=p.trains, grad_multiplier=p.grad_multiplier(m),
                                 ws=ws, keep_preactivation=record or k == 0)
            if k == 0:
                ctx.set_init(out)
            loss = out["loss"]
            if not np.all(np.isfinite(loss)) or (check_stability and algorithm == "gd"
                                                 and np.any(loss > 1e3 * ctx.init_loss + 1)):
                raise DivergenceError(
                    f"training diverged at step {k} (loss {float(np.max(loss)):.3g}, initially "
                    f"{float(np.max(ctx.init_loss)):.3g}); the largest stable rate is 2/lambda_max = "
                    f"{lr_max:.6g} for the reference kernel; use a smaller --lr")
            converged = tol is not None and bool(np.all(loss < tol))
            flat = plateau is not None and not converged and plateau(k, loss)
            if record or converged or flat:
                if not record:  # the final step of an early stop is always recorded
                    out = loss_and_grads(cur, Xa, Y, normalization=norm, trains=frozenset(), ws=ws,
                                         keep_preactivation=True)
                recorder.steps.append(k)
                _record(recorder, ctx, cur, out, k)
            if converged or flat:
                stopped = "tol" if converged else "rtol"
                break
            if k >= steps:
                break
            grads = {}
            if "W" in p.trains:
                grads["W"] = out["gW"]
            if "a" in p.trains:
                grads["a"] = out["ga"]
            updates, state = rule.update(grads, state, params)
            for key, upd in updates.items():
                params[key] += upd
            k += 1
            if progress is not None:
                progress(k, steps, float(np.max(loss)))
            if checkpoint is not None and k % checkpoint_every == 0 and k < steps:
                _save_checkpoint(checkpoint, chash, k, cur, state, recorder, ctx)
    seconds = time.perf_counter() - t0
    if checkpoint is not None and finished is None:
        _save_checkpoint(checkpoint, chash, k, cur, state, recorder, ctx, stopped=stopped)

    steps_rec, metrics = recorder.result()
    Y64 = Y.astype(np.float64)
    metrics["predicted_loss"] = np.stack([sps[b].loss_curve(Y64[b], steps_rec, lr) for b in range(B)]) * c
    metrics["predicted_loss_init"] = np.stack([sps[b].loss_curve(Y64[b], steps_rec, lr, u0=ctx.u0[b])
                                               for b in range(B)]) * c
    pfd = np.full(B, np.nan)
    # NaN, not a meaningless 1e8, where the kernel is numerically singular (as complexity() refuses it)
    if "W" in p.trains and lam_min > 0 and lam_max / lam_min <= MAX_CONDITION:
        # minimum-norm movement of the trained parameters: sqrt(g r^T K^-1 r), K = g J J^T
        for b in range(B):
            proj = sps[b].project(Y64[b] - ctx.u0[b])
            pfd[b] = math.sqrt(p.grad_multiplier(m) * np.sum(proj**2 / (sps[b].eigenvalues / c)))
    return TrainResult(steps=steps_rec, metrics=metrics, config=cfg, lambda_min=lam_min, lambda_max=lam_max,
                       max_stable_lr=lr_max, predicted_final_dist=pfd, network=cur, network0=net0, n_steps=int(k),
                       stopped=stopped, seconds=seconds, reference=ref_name)


class _PlateauCheck:
    """The ``rtol`` stopping rule of :func:`train` (see there); called with every step's loss."""

    def __init__(self, rtol: float, steps: int, ctx: "_RecordContext", Y: np.ndarray):
        self.rtol, self.steps, self.ctx, self.Y = rtol, steps, ctx, Y.astype(np.float64)
        self.every = max(1, steps // 400)

    def __call__(self, k: int, loss: np.ndarray) -> bool:
        if k % self.every or k >= self.steps:
            return False
        # the previous check lives in the context so that checkpoints carry it
        prev, self.ctx.plateau_prev = self.ctx.plateau_prev, (k, [float(v) for v in loss])
        if prev is None:
            return False
        k0, l0 = prev
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.log(np.asarray(l0) / np.asarray(loss, dtype=np.float64)) / (k - k0)          # per-step decay of log L since the last check
        if not np.all(np.isfinite(g)) or np.any(g < 0):        # rising or zero loss: no geometric tail yet
            return False
        if np.any(np.exp(-g * (self.steps - k)) < 1 - self.rtol):
            return False
        c = self.ctx
        for b in range(self.Y.shape[0]):
            pk, pT = c.sps[b].loss_curve(self.Y[b], [k, self.steps], c.lr, u0=c.u0[b])
            if pk > 0 and pT / pk < 1 - self.rtol:
                return False
        return True


@dataclass
class _RecordContext:
    """What the recorder needs besides the current step: data, init, reference spectrum."""

    X: np.ndarray
    Y: np.ndarray
    net0: Network
    sps: list
    lr: float
    c: float
    Kref: list
    gram_on: bool
    test: tuple | None
    norm: str
    p: object
    u0: np.ndarray | None = None
    act0: np.ndarray | None = None
    init_loss: np.ndarray | None = None
    plateau_prev: tuple | None = None
    H0: list = field(default_factory=list)
    test_predictors: list = field(default_factory=list)

    def kernel_test_outputs(self, b: int, k: int) -> np.ndarray:
        """Kernel-GD prediction on the test points for network ``b`` after ``k`` steps, started
        from the network's own outputs at initialization (train and test)."""
        if not self.test_predictors:
            Xt, _ = self.test
            X64, Xt64 = self.X.astype(np.float64), Xt.astype(np.float64)
            f0 = forward(self.net0, Xt).astype(np.float64)
            closed = reference_kernel(self.net0, Xt64, X64)
            for bb in range(self.net0.batch):
                Kt = closed if closed is not None else empirical_reference(self.net0, Xt64, X64, b=bb)
                self.test_predictors.append(self.sps[bb].test_predictor(
                    self.c * Kt, self.Y[bb].astype(np.float64), self.lr, u0=self.u0[bb], f0_test=f0[bb]))
        return self.test_predictors[b]([k])[0]

    def set_init(self, out) -> None:
        self.act0 = out["active"].copy()
        self.set_u0(out["u"])

    def set_u0(self, u0) -> None:
        """Outputs at step 0 and the initial loss the divergence check compares with."""
        self.u0 = np.asarray(u0, dtype=np.float64).copy()
        self.init_loss = np.maximum(0.5 * self.c * np.sum((self.Y.astype(np.float64) - self.u0) ** 2, axis=1),
                                    1e-300)


def _record(rc: Recorder, ctx: _RecordContext, cur: Network, out: dict, k: int) -> None:
    B, m = cur.batch, cur.width
    n = ctx.X.shape[0]
    p = ctx.p
    u = out["u"].astype(np.float64)
    rc.set("loss", out["loss"])
    if "W" in p.trains:
        dW = (cur.W - ctx.net0.W).astype(np.float64)
        per_neuron = np.einsum("bmd,bmd->bm", dW, dW)
        rc.set("dist_from_init", np.sqrt(per_neuron.sum(axis=1)))
        rc.set("max_neuron_move", np.sqrt(per_neuron.max(axis=1)))
        if p.init == "gaussian":
            resid0 = np.linalg.norm(ctx.Y.astype(np.float64) - ctx.u0, axis=1)
            lam0 = [sp.lambda_min / ctx.c for sp in ctx.sps]
            rc.set("movement_bound", [movement_bound(n, m, r, lam) if lam > 0 else np.nan
                                      for r, lam in zip(resid0, lam0)])
    if "a" in p.trains:
        rc.set("a_dist_from_init", np.linalg.norm((cur.a - ctx.net0.a).astype(np.float64), axis=1))
    act = out["active"]
    rc.set("activation_flips", np.count_nonzero((act != ctx.act0).reshape(n, B, m), axis=(0, 2)) / (n * m))
    for b in range(B):
        ut = ctx.Y[b] - ctx.sps[b].residuals(ctx.Y[b].astype(np.float64), [k], ctx.lr, u0=ctx.u0[b])[0]
        gap = u[b] - ut
        rc.set("kernel_gap_sup", np.max(np.abs(gap)), b)
        rc.set("kernel_gap_rms", np.sqrt(np.mean(gap**2)), b)
    if ctx.gram_on:
        X64 = ctx.X.astype(np.float64)
        if not ctx.H0:
            ctx.H0 = [empirical_reference(ctx.net0, X64, b=b) for b in range(B)]
        for b in range(B):
            Hk = empirical_reference(cur, X64, b=b)
            rc.set("gram_dist_inf", np.linalg.norm(Hk - ctx.Kref[b]), b)
            rc.set("gram_dist_init", np.linalg.norm(Hk - ctx.H0[b]), b)
    if ctx.test is not None:
        Xt, Yt = ctx.test
        ft = forward(cur, Xt).astype(np.float64)
        et = ft - Yt
        ct = 1.0 / Xt.shape[0] if ctx.norm == "mean" else 1.0
        rc.set("test_loss", 0.5 * ct * np.sum(et**2, axis=1))
        rc.set("test_l1", np.mean(np.abs(et), axis=1))
        rc.set("test_error", np.mean(np.sign(ft) != np.sign(Yt), axis=1))
        for b in range(B):
            gap = ft[b] - ctx.kernel_test_outputs(b, k)
            rc.set("test_kernel_gap_sup", np.max(np.abs(gap)), b)
            rc.set("test_kernel_gap_rms", np.sqrt(np.mean(gap**2)), b)


# --------------------------------------------------------------------------- checkpoints
def _save_checkpoint(path, chash, k, cur, state, recorder: Recorder, ctx: _RecordContext,
                     stopped: str | None = None) -> None:
    """Everything needed to continue (or, with ``stopped``, to return) the run exactly."""
    meta = {"hash": chash, "step": int(k), "steps": recorder.steps, "rng": _rng_states(state), "stopped": stopped,
            "plateau": ctx.plateau_prev}
    arrays = {"W": cur.W, "a": cur.a, "act0": np.packbits(ctx.act0, axis=None),
              "act0_shape": np.array(ctx.act0.shape), "u0": ctx.u0,
              "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    for name, arr in recorder.metrics.items():
        arrays[f"metric__{name}"] = arr
    for i, st in enumerate(_array_states(state)):
        arrays[f"state__{i}"] = st
    atomic_save_npz(path, **arrays)


def _rng_states(state):
    return [[g.bit_generator.state for g in s["rngs"]] for s in _walk(state) if isinstance(s, dict) and "rngs" in s]


def _array_states(state):
    out = []
    for s in _walk(state):
        if isinstance(s, dict) and "m" in s and "v" in s:
            for key in sorted(s["m"]):
                out += [s["m"][key], s["v"][key]]
            out.append(np.array([s["t"]]))
    return out


def _walk(state):
    if isinstance(state, tuple):
        for s in state:
            yield from _walk(s)
    elif state is not None:
        yield state


def _load_checkpoint(path, chash, cur, state, recorder: Recorder, ctx: _RecordContext):
    """Restore a checkpoint of the same configuration; return ``(step, stopped or None)``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes().decode())
            if meta.get("hash") != chash:
                raise InputError(f"checkpoint {path} belongs to a different run (the configuration changed); "
                                 f"delete it or pass another checkpoint path")
            cur.W[...] = z["W"]
            cur.a[...] = z["a"]
            shape = tuple(int(v) for v in z["act0_shape"])
            ctx.act0 = np.unpackbits(z["act0"], count=int(np.prod(shape))).reshape(shape).astype(bool)
            ctx.set_u0(z["u0"])
            recorder.metrics = {key[len("metric__"):]: z[key].copy() for key in z.files if key.startswith("metric__")}
            arr_states = [z[f"state__{i}"].copy() for i in range(sum(f.startswith("state__") for f in z.files))]
    except InputError:
        raise
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise InputError(f"checkpoint {path} is unreadable ({exc}); delete it to start afresh") from None
    recorder.steps = list(meta["steps"])
    ctx.plateau_prev = meta.get("plateau")
    rngs, arrs = iter(meta["rng"]), iter(arr_states)
    for s in _walk(state):
        if isinstance(s, dict) and "rngs" in s:
            for g, st in zip(s["rngs"], next(rngs)):
                g.bit_generator.state = st
        if isinstance(s, dict) and "m" in s and "v" in s:
            for key in sorted(s["m"]):
                s["m"][key][...] = next(arrs)
                s["v"][key][...] = next(arrs)
            s["t"] = int(next(arrs)[0])
    return int(meta["step"]), meta.get("stopped")
