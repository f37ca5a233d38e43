r"""``arora2019-movement``: Arora et al. (ICML 2019), movement of the weights (§5.2, Lemma 5.3, Lemma C.1).

Width × init scale κ × seed, GD on the true labels until the loss falls below ``tol_ratio`` of
its start (or ``steps``): ``‖W(T) − W(0)‖_F`` against the kernel-regime movement at the same
step (→ ``sqrt(rᵀH∞⁻¹r)``, ``r = y − u(0)``, once converged), the largest per-neuron movement
against Lemma C.1 and its ``m^{-1/2}`` decay, the kernel drift ``max_k ‖H(k) − H∞‖_F`` and the
flipped activation patterns. Claims (every κ judged): :mod:`.claims_movement`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..._errors import InputError
from .. import Experiment, RunContext, register, summarize
from .._common import (
    checkpointing,
    loglog_slope as _slope,
    seed_sequence as _ss,
    check_positive as _check_positive,
    Rows as _Rows,
    gather as _gather,
    table as _table,
)
from ._shared import PAPER_KERNEL, check_device, check_kernel, check_lr_convention, _given_kernel, PAPER, INIT_KEY, _prep, _learning_rate, _reference, _start, _steps_bar, data_shape, gd_cost


# ============================================================================== movement
@dataclass(frozen=True)
class MovementConfig:
    """``arora2019-movement``. Defaults = laptop preset (digits 0 vs 1, n = 60, ~1 min on 2 cores).

    ``kernel`` (``--kernel`` or ``--set kernel=``): the kernel that replaces ``H∞`` in every
    prediction and measure of the run (trajectories, spectrum, worst-case labels, complexity,
    movement, the drift of ``H(k)``), a built-in name or ``module:function`` /
    ``file.py:function``; the network and its step (from ``H∞``'s ``λ_max``) stay the paper's, so
    the verdicts then judge whether *that* kernel describes the network.
    """

    data: str = "digits"
    classes: tuple[int, ...] = (0, 1)
    n_train: int | None = 60
    n_test: int | None = 0
    seed: int = 0
    seeds: int = 3
    widths: tuple[int, ...] = (100, 400, 1600, 6400)
    kappas: tuple[float, ...] = (0.01, 1.0)
    lr_fraction: float = 0.5
    lr: float | None = None
    lr_convention: str = "mean"
    steps: int = 3000
    tol_ratio: float = 1e-4
    dtype: str = "float64"
    device: str | None = None
    kernel: str = PAPER_KERNEL

    def __post_init__(self):
        check_lr_convention(self.lr_convention)
        object.__setattr__(self, "kernel", check_kernel(self.kernel))
        check_device(self.device)
        for name in ("widths", "kappas"):
            vals = getattr(self, name)
            if len(vals) < 1 or any(v <= 0 for v in vals):
                raise InputError(f"{name} must be positive values, got {vals!r}")
        if len(self.widths) < 2:
            raise InputError("widths needs at least two values to show a trend")
        object.__setattr__(self, "widths", tuple(sorted(int(w) for w in self.widths)))
        object.__setattr__(self, "kappas", tuple(sorted(float(k) for k in self.kappas)))
        _check_positive("steps", self.steps, True)
        _check_positive("seeds", self.seeds, True)


def predicted_movement(spec, r0, lr: float, n: int, steps: int) -> tuple[float, float]:
    r"""Kernel-regime movement of the first layer (Arora et al. §5.2, eq. 11, ``½n⁻¹Σ`` loss):
    ``‖W̃(T) − W(0)‖_F² = Σ_i (1 − (1 − ηλ_i/n)^T)² (v_iᵀr)²/λ_i`` with ``r = y − u(0)`` and ``λ_i``
    the eigenvalues of ``H∞``; ``T → ∞`` gives ``rᵀH∞⁻¹r``. Returns ``(at T, at ∞)``
    (:meth:`twolayer.spectra.Spectrum.movement`; ``n`` is the spectrum's size)."""
    at_T, at_inf = spec.movement(r0, [int(steps), np.inf], lr, normalization="mean")
    return float(at_T), float(at_inf)


def movement_cost(cfg: MovementConfig, n=None):
    """The arithmetic of a run (an upper bound: points stop once the loss falls below its tolerance)."""
    n, d = data_shape(cfg)
    cost = gd_cost(n, d, points=0, batch=1, width=0, steps=0, dtype=cfg.dtype)
    for m in cfg.widths:
        cost = cost + gd_cost(n, d, points=len(cfg.kappas) * cfg.seeds, batch=1, width=m, steps=cfg.steps,
                              grams=20, dtype=cfg.dtype)
    cost.eigh, cost.upper = [n], True
    return cost


def _movement_point(params: dict, *, cfg: MovementConfig):
    from ...bounds import movement_bound
    from ...dynamics import train
    from ...networks import forward, init_network
    from .fig1 import kernel_budget

    ds, H, spec, solver, _ = _prep(cfg)
    lr, _ = _learning_rate(cfg, spec, ds.n)
    m, kappa, s = int(params["width"]), float(params["kappa"]), int(params["seed"])
    net = init_network("arora", ds.d, m, seed=_ss(cfg.seed, INIT_KEY, s), kappa=kappa, dtype=cfg.dtype)
    probe_loss = 0.5 * float(np.mean(ds.y**2))
    with _steps_bar(cfg.steps, f"movement m={m} kappa={kappa:g} seed {s}") as bar:
        res = train(net, ds.X, ds.y, lr=lr, steps=cfg.steps, normalization="mean", n_records=20,
                    tol=cfg.tol_ratio * probe_loss, gram_diagnostics=True, progress=bar,
                    reference=_reference(H, spec, ds.n, net.batch, _given_kernel(cfg)), device=cfg.device, **checkpointing())
    last = {k: float(v[0, -1]) for k, v in res.metrics.items()}
    u0 = forward(res.network0, ds.X).astype(np.float64)[0]
    r0 = ds.y - u0
    pred_T, pred_inf = predicted_movement(spec, r0, lr, ds.n, res.n_steps)
    ids = dict(kappa=kappa, width=m, seed=s)
    rows = _Rows()
    for name, v in [("dist_from_init", last["dist_from_init"]), ("predicted_dist", pred_inf),
                    ("predicted_dist_T", pred_T), ("dist_ratio", last["dist_from_init"] / pred_T),
                    ("dist_ratio_inf", last["dist_from_init"] / pred_inf),
                    ("max_neuron_move", last["max_neuron_move"]),
                    ("lemma_c1_bound", movement_bound(ds.n, m, float(np.linalg.norm(r0)), spec.lambda_min)),
                    ("activation_flips", float(np.max(res.metrics["activation_flips"]))),
                    ("kernel_drift", float(np.max(res.metrics["gram_dist_inf"]))),
                    ("kernel_budget", kernel_budget(spec, ds.y)),
                    ("final_loss", last["loss"]), ("initial_loss", float(res.metrics["loss"][0, 0])),
                    ("steps_run", res.n_steps)]:
        rows.add(name, v, **ids)
    return rows, {}


def run_movement(cfg: MovementConfig, ctx: RunContext) -> None:
    from ...bounds import complexity
    from ...sweep import grid
    from . import figures_fig1 as F

    (ds, H, spec, solver, _), lr, max_lr, rows = _start(cfg, ctx)
    c = complexity(H, ds.y, solver=solver)
    for name, v in [("lr", lr), ("max_stable_lr", max_lr), ("sqrt_yHy", math.sqrt(c.yHy))]:
        rows.add(name, v)
    points = grid(kappa=list(cfg.kappas), width=list(cfg.widths), seed=list(range(cfg.seeds)))
    results = ctx.sweep(functools.partial(_movement_point, cfg=cfg), points, seed=cfg.seed, desc="movement points")
    rows.extend(_gather(results))
    ws = np.array(cfg.widths, float)
    curves = {}
    for kappa in cfg.kappas:
        tab = {}
        for metric in ("dist_ratio", "max_neuron_move", "activation_flips", "lemma_c1_bound", "final_loss",
                       "initial_loss", "kernel_drift"):
            vals = _table(results, metric, "width", cfg.widths, cfg.seeds, kappa=kappa)
            mean, sd = summarize(vals)
            tab[metric] = (mean, sd / math.sqrt(cfg.seeds))
            for i, m in enumerate(cfg.widths):
                rows.add(f"{metric}_mean", mean[i], kappa=kappa, width=m)
        rows.add("max_move_slope", _slope(ws, tab["max_neuron_move"][0]), kappa=kappa)
        curves[kappa] = tab
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(widths=ws, kappas=np.array(cfg.kappas),
                        **{f"{m}_kappa{i}": curves[k][m][0] for i, k in enumerate(cfg.kappas)
                           for m in ("dist_ratio", "max_neuron_move", "activation_flips")})
    ctx.save_figure(F.plot_movement(ws, curves, tol=MOVE_TOL, flip_limit=None,
                                    title=rf"{ds.name}, $n={ds.n}$: GD for up to {cfg.steps} steps "
                                          rf"(stop at ${cfg.tol_ratio:g}\times$ the initial loss); "
                                          rf"mean ± SE over {cfg.seeds} seed(s)"),
                    "movement",
                    caption=(f"For every init scale κ of the run ({', '.join(f'{k:g}' for k in cfg.kappas)}), against "
                             f"the width m: (a) ‖W(T) − W(0)‖_F divided by the kernel-regime movement at the same "
                             f"step, sqrt(Σ_i (1 − (1 − ηλ_i/n)^T)² (v_iᵀr)²/λ_i), r = y − u(0) (→ sqrt(rᵀH∞⁻¹r) once "
                             f"converged), with the band 1 ± {MOVE_TOL:g}; (b) the largest per-neuron movement "
                             f"max_r ‖w_r(T) − w_r(0)‖ with Lemma C.1's bound 4√n‖y − u(0)‖/(√m λ₀) (dashed) and "
                             f"m^-1/2 guides (dotted); (c) the fraction of activation patterns flipped since "
                             f"initialization. n = {ds.n}, {cfg.seeds} seed(s), error bars: standard error."))


from .claims_movement import MOVEMENT_CLAIMS, MOVE_TOL  # noqa: E402

register(Experiment(
    name="arora2019-movement", paper=PAPER, config=MovementConfig, run=run_movement,
    summary="§5.2 / Lemma C.1: ‖W−W(0)‖_F → sqrt(r^T H^-1 r) and per-neuron movement ~ m^-1/2 across widths and "
            "init scales",
    presets={"laptop": {},
             "paper": {"data": "mnist:data/mnist", "n_train": 1000, "widths": (1000, 4000, 16000, 64000),
                       "kappas": (0.01, 0.1, 1.0), "steps": 100_000, "seeds": 3, "dtype": "float32"}},
    grid_fields=("seeds", "widths", "kappas"),
    claims=MOVEMENT_CLAIMS, cost=movement_cost))
