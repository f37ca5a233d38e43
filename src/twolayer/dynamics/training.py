r"""The convenient front of the engine: :func:`train` a batch of networks and get every diagnostic.

:func:`train` builds the update rule, the reference kernel (closed form or the network's own
H(0)) and its spectrum, checks the step against the rule's stable step, and runs
:func:`twolayer.dynamics.engine.run` with the built-in observers: a :class:`Recorder`, a
:class:`DivergenceGuard`, optional :class:`ToleranceStop` / :class:`PlateauStop`, the
:class:`Diagnostics` and the :class:`KernelGap` against the kernel prediction. The CLI
(``twolayer train``), the estimators and the experiments call it.

Units: ``steps`` count iterations; time is ``η · steps`` in the chosen loss convention.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .._errors import DivergenceError, InputError
from ..bounds import MAX_CONDITION
from ..networks import Network, get_parameterization, seed_record
from . import engine
from .observers import (METRICS, DivergenceGuard, finite_or_none, Diagnostics, KernelGap, Observer, PlateauStop, Recorder,
                        ToleranceStop)
from .reference import Reference, build_reference
from .rules import UpdateRule, make_rule

__all__ = ["TrainResult", "train", "record_schedule"]


@dataclass
class TrainResult:
    """Result of :func:`train` (fixed fields).

    Attributes
    ----------
    steps : ndarray (R,) of int — the recorded iterations.
    metrics : dict name -> ndarray (B, R) — see :data:`METRICS`; absent ones were not applicable.
    config : dict — the resolved configuration.
    lambda_min, lambda_max : float — of ``c·K`` (the reference kernel in the run's convention);
        NaN with ``reference=False``.
    max_stable_lr : float — the rule's stable step at ``λ_max(c K)`` (``2/λ_max`` for GD); NaN
        where the rule has none (Adam) or there is no reference.
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
            rec: dict[str, float | int | None] = {"step": int(k)}
            for name, arr in self.metrics.items():
                v = float(arr[b, j])
                rec[name] = finite_or_none(v)
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


def _check_step(rule: UpdateRule, net: Network, X, c: float, lr: float, ref: Reference | None, param: str, norm: str,
                lam_max: float, lr_max: float) -> None:
    """Refuse a step above the rule's stable limit ``2/λ_max`` of the network's own reference
    kernel (Arora et al. 2019, eq. 8: the linearized outputs diverge beyond it). With a given kernel
    (``ref.kernel``) the limit is the network's closed form's, computed here (one Gram and one
    top eigenvalue), not the given kernel's. Raises :class:`DivergenceError` naming a safe step."""
    if ref is not None and ref.kernel is not None:
        from ..spectra import top_eigenvalue
        from .reference import reference_kernel

        own = reference_kernel(net, np.asarray(X, np.float64))
        if own is None:
            return
        lam_max = top_eigenvalue(own * c)
        limit = rule.stable_step(lam_max)
        lr_max = float("nan") if limit is None else limit
    if math.isfinite(lr_max) and lr > lr_max * (1 + 1e-9):
        raise DivergenceError(
            f"learning rate {lr:g} diverges: the largest stable rate is 2/lambda_max = {lr_max:.6g} "
            f"(lambda_max = {lam_max:.6g} of the {param} tangent kernel in the '{norm}' loss convention); "
            f"use --lr {0.5 * lr_max:.3g} or smaller")


def train(net: Network, X, y, *, lr: float, steps: int, algorithm: str = "gd", weight_decay: float = 0.0,
          temperature: float | None = None, noise_seed=0, normalization: str | None = None,
          X_test=None, y_test=None, n_records: int | str = 60, record_steps=None, tol: float | None = None,
          rtol: float | None = None, gram_diagnostics: bool | None = None, check_stability: bool = True, checkpoint=None,
          checkpoint_every: int = 1000, checkpoint_seconds: float | None = None, on_mismatch: str = "error",
          progress: Callable | None = None, rule: UpdateRule | None = None,
          reference: bool | Reference | str | Callable = True, observers: Sequence[Observer] = (), device=None,
          tf32: bool = False) -> TrainResult:
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
    algorithm : str
        A key of :data:`~twolayer.dynamics.rules.ALGORITHMS` (``gd``, ``noisy-gd``, ``adam`` or a
        registered one); ``weight_decay`` (λ), ``temperature`` (τ, default λ) and ``noise_seed``
        configure it. ``rule`` (an :class:`UpdateRule`) replaces it.
    normalization : {"sum", "mean"}, optional
        Default: the parameterization's (Arora: ``½Σ``; E–Ma–Wu, mean-field: ``½n⁻¹Σ``).
    X_test, y_test : optional
        Test data, ``y_test`` shape (n_test,) or (B, n_test).
    n_records, record_steps
        Log-spaced recording (default 60 points) or explicit steps.
    tol : float, optional
        Stop once every network's training loss is below ``tol`` (the step is recorded).
    rtol : float, optional
        Rules with ``kernel_gd`` (plain GD) only. Stop once the remaining steps can only shrink every network's loss by less than
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
        ``checkpoint_seconds`` also writes one after that much wall time; ``on_mismatch``
        (``"error"`` or ``"restart"``) says what a checkpoint of another run does (see
        :func:`twolayer.dynamics.engine.run`).
    progress : callable(step, steps, loss), optional
    rule : UpdateRule, optional
        A rule built by hand (e.g. a new one), instead of ``algorithm``.
    reference : bool, Reference, str or callable
        Build the reference kernel and its eigendecomposition (``O(n³)``) for the kernel
        predictions, the stability check and ``rtol``. ``False`` skips it (large ``n``, or when only
        the network matters): those metrics are absent and ``lambda_min/max`` are NaN. A
        :class:`~twolayer.dynamics.reference.Reference` (e.g. from
        :func:`~twolayer.dynamics.reference.reference_from_spectrum` with a kernel decomposed once
        for a whole experiment) is used as it is. A kernel spec (``"two-layer"``, ``"mymod:rbf"``,
        ``"file.py:rbf"`` or a callable ``k(X, Z=None)``; :func:`twolayer.kernels.resolve_kernel`)
        replaces the parameterization's kernel in the predictions
        (:func:`~twolayer.dynamics.reference.build_reference` ``kernel=``); its matrix must be in
        the network's function-space units, and the step is then not checked against it (its
        ``2/λ_max`` says nothing about the network's stability).
    observers : sequence of Observer
        Extra observers, called after the built-in ones (see :mod:`twolayer.dynamics.observers`).
    device : {"cpu", "cuda", "cuda:K"} or torch.device, optional
        Run the steps with PyTorch on this device (:mod:`twolayer.torch_backend`; needs torch),
        in the network's dtype, from the same numpy-drawn weights and noise; the reference
        kernel, its spectrum and the observers stay on the host (numpy). ``None``: numpy.
        Recorded as ``config["device"]`` (absent for numpy runs).
    tf32 : bool
        With ``device="cuda"`` and float32, let the GEMMs use TF32 (faster, ~1e-3 relative).

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
    if rule is None:
        rule = make_rule(algorithm, lr=lr, weight_decay=weight_decay, temperature=temperature, seed=noise_seed)
    state = engine.init(net, X, y, rule, normalization=normalization, device=device, tf32=tf32)
    pr = state.problem
    n, B, m = pr.n, net.batch, net.width
    test = None
    if X_test is not None:
        Xt = np.ascontiguousarray(np.asarray(X_test, dtype=net.dtype))
        if Xt.ndim != 2 or Xt.shape[1] != net.dim:
            raise InputError(f"X_test must have shape (n_test, {net.dim}), got {Xt.shape}")
        if y_test is None:
            raise InputError("X_test given without y_test; pass both or neither")
        test = (Xt, engine._targets(y_test, B, Xt.shape[0], "y_test", np.float64))
    if not (isinstance(steps, (int, np.integer)) and steps >= 0):
        raise InputError(f"steps must be a non-negative integer, got {steps!r}")
    if not (np.isfinite(lr) and lr > 0):
        raise InputError(f"learning rate must be a positive number, got {lr}")
    norm, c = pr.normalization, pr.c
    rec = record_schedule(steps, n_records) if record_steps is None else np.unique(np.asarray(record_steps, int))
    if rec.size and (rec.min() < 0 or rec.max() > steps):
        raise InputError(f"record_steps must lie in [0, {steps}]")
    if rtol is not None and not (0 < rtol < 1 and rule.kernel_gd and reference):
        raise InputError(f"rtol must lie in (0, 1) and needs plain GD with the reference kernel (got rtol={rtol!r}, "
                         f"algorithm={rule.name!r}); noisy and adaptive runs have no geometric tail to trust")

    # ---- reference kernel (in the run's convention) and the predictions it makes
    if isinstance(reference, Reference):
        ref: Reference | None = reference
        if len(reference.spectra) != B or reference.spectra[0].n != n or reference.c != c:
            raise InputError(f"the given reference is for {len(reference.spectra)} network(s), n = "
                             f"{reference.spectra[0].n} and c = {reference.c:g}; this run has {B}, n = {n}, c = {c:g}")
    else:
        given = reference if isinstance(reference, str) or callable(reference) else None
        ref = build_reference(net, pr.X, c, kernel=given) if (given is not None or reference) else None
    lam_max = ref.lambda_max if ref is not None else float("nan")
    lam_min = ref.lambda_min if ref is not None else float("nan")
    lr_max = rule.stable_step(lam_max) if ref is not None else None
    lr_max = float("nan") if lr_max is None else lr_max
    if check_stability:
        _check_step(rule, net, pr.X, c, lr, ref, p.name, norm, lam_max, lr_max)
    gram_on = gram_diagnostics if gram_diagnostics is not None else (n * n * B * m <= 4e9)

    cfg = {"param": p.name, "n": n, "d": net.dim, "m": m, "batch": B, "lr": lr, "steps": int(steps),
           "algorithm": rule.name, "weight_decay": weight_decay, "temperature": temperature,
           "normalization": norm, "dtype": str(net.dtype), "records": rec.tolist(), "tol": tol, "rtol": rtol,
           "init": {**net.meta, "seed": seed_record(net.meta.get("seed"))}, "activation": net.activation,
           "noise_seed": seed_record(noise_seed), "reference": ref is not None,
           "y_sha": hashlib.sha256(pr.Y.tobytes()).hexdigest()[:16],
           "X_sha": hashlib.sha256(pr.X.tobytes()).hexdigest()[:16],
           "W0_sha": hashlib.sha256(net.W.tobytes()).hexdigest()[:16]}
    if pr.device is not None:  # numpy runs keep their configuration (and checkpoint hash) as before
        cfg["device"] = str(pr.device)
        if tf32:
            cfg["tf32"] = True

    recorder = Recorder(B, rec.size + 1)
    hint = (f"the largest stable rate is 2/lambda_max = {lr_max:.6g} for the reference kernel; use a smaller --lr"
            if math.isfinite(lr_max) else "use a smaller --lr")
    obs: list[Observer] = [recorder, DivergenceGuard(1e3 if (check_stability and rule.kernel_gd) else None,
                                                     1.0, hint=hint)]
    if tol is not None:
        obs.append(ToleranceStop(tol))
    if rtol is not None and ref is not None:
        obs.append(PlateauStop(rtol, steps, ref, lr))
    obs.append(Diagnostics(recorder, ref, gram=gram_on, test=test))
    kgap = KernelGap(recorder, ref, lr, test=test) if ref is not None else None
    if kgap is not None:
        obs.append(kgap)
    obs.extend(observers)
    state, stopped, seconds = engine.run(state, steps, obs, record_steps=rec.tolist(), checkpoint=checkpoint,
                                         checkpoint_every=checkpoint_every, checkpoint_seconds=checkpoint_seconds,
                                         on_mismatch=on_mismatch, config=cfg, progress=progress)

    if pr.device is not None:
        from ..torch_backend import from_torch

        state.net = from_torch(state.net)
    steps_rec, metrics = recorder.result()
    pfd = np.full(B, np.nan)
    if kgap is not None and ref is not None:
        Y64 = pr.Y.astype(np.float64)
        u0 = kgap.u0
        sps = ref.spectra
        metrics["predicted_loss"] = np.stack([sps[b].loss_curve(Y64[b], steps_rec, lr) for b in range(B)]) * c
        metrics["predicted_loss_init"] = np.stack([sps[b].loss_curve(Y64[b], steps_rec, lr, u0=u0[b])
                                                   for b in range(B)]) * c
        metrics = {k: metrics[k] for k in sorted(metrics, key=lambda k: list(METRICS).index(k)
                                                 if k in METRICS else len(METRICS))}
        # NaN, not a meaningless 1e8, where the kernel is numerically singular (as complexity() refuses it)
        if "W" in p.trains and lam_min > 0 and lam_max / lam_min <= MAX_CONDITION:
            # minimum-norm movement of the trained parameters: sqrt(g r^T K^-1 r), K = g J J^T
            for b in range(B):
                proj = sps[b].project(Y64[b] - u0[b])
                pfd[b] = math.sqrt(p.grad_multiplier(m) * np.sum(proj**2 / (sps[b].eigenvalues / c)))
    return TrainResult(steps=steps_rec, metrics=metrics, config=cfg, lambda_min=lam_min, lambda_max=lam_max,
                       max_stable_lr=lr_max, predicted_final_dist=pfd, network=state.net, network0=state.net0,
                       n_steps=int(state.step), stopped=stopped, seconds=seconds,
                       reference=ref.kind if ref is not None else "none")
