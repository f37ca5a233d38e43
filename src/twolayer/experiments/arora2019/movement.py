"""``arora2019-movement``: Arora et al. (ICML 2019), movement of the weights (§5.2, Lemma C.1)."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..._errors import InputError
from .. import Experiment, RunContext, register, summarize
from .._common import (
    loglog_slope as _slope,
    seed_sequence as _ss,
    rng as _rng,
    check_positive as _check_positive,
    Rows as _Rows,
    gather as _gather,
    table as _table,
)
from ._shared import (PAPER, INIT_KEY, RANDOM_KEY, NOISE_TRAIN_KEY, NOISE_TEST_KEY, SAMPLE_KEY, LABEL_SETS, _prepared, _prep, _learning_rate, _start, _steps_bar, _record_lr, _spectrum_rows)


# ============================================================================== movement
@dataclass(frozen=True)
class MovementConfig:
    """``arora2019-movement``. Defaults = laptop preset (digits 0 vs 1, n = 100, ~1 min)."""

    data: str = "digits"
    classes: tuple[int, ...] = (0, 1)
    n_train: int | None = 100
    n_test: int | None = 0
    seed: int = 0
    seeds: int = 2
    widths: tuple[int, ...] = (100, 400, 1600, 6400)
    kappas: tuple[float, ...] = (0.01, 1.0)
    lr_fraction: float = 0.5
    lr: float | None = None
    steps: int = 3000
    tol_ratio: float = 1e-4
    dtype: str = "float64"

    def __post_init__(self):
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


def _movement_point(params: dict, seed_seq, *, cfg: MovementConfig):
    from ...bounds import movement_bound
    from ...dynamics import train
    from ...networks import init_network

    ds, H, spec, solver, _ = _prep(cfg)
    lr, _ = _learning_rate(cfg, spec, ds.n)
    m, kappa, s = int(params["width"]), float(params["kappa"]), int(params["seed"])
    net = init_network("arora", ds.d, m, seed=_ss(cfg.seed, INIT_KEY, s), kappa=kappa, dtype=cfg.dtype)
    probe_loss = 0.5 * float(np.mean(ds.y**2))
    with _steps_bar(cfg.steps, f"movement m={m} kappa={kappa:g} seed {s}") as bar:
        res = train(net, ds.X, ds.y, lr=lr, steps=cfg.steps, normalization="mean", n_records=20,
                    tol=cfg.tol_ratio * probe_loss, gram_diagnostics=False, progress=bar)
    last = {k: float(v[0, -1]) for k, v in res.metrics.items()}
    r0 = math.sqrt(2.0 * ds.n * float(res.metrics["loss"][0, 0]))      # ‖y − u(0)‖ (½n⁻¹Σ loss)
    ids = dict(kappa=kappa, width=m, seed=s)
    rows = _Rows()
    for name, v in [("dist_from_init", last["dist_from_init"]), ("predicted_dist", res.predicted_final_dist[0]),
                    ("dist_ratio", last["dist_from_init"] / res.predicted_final_dist[0]),
                    ("max_neuron_move", last["max_neuron_move"]),
                    ("lemma_c1_bound", movement_bound(ds.n, m, r0, spec.lambda_min)),
                    ("activation_flips", last["activation_flips"]), ("final_loss", last["loss"]),
                    ("initial_loss", float(res.metrics["loss"][0, 0])), ("steps_run", res.n_steps)]:
        rows.add(name, v, **ids)
    return rows, {}


def run_movement(cfg: MovementConfig, ctx: RunContext) -> None:
    from ... import plotting as P
    from ...bounds import complexity
    from ...sweep import grid

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
                       "initial_loss"):
            tab[metric] = summarize(_table(results, metric, "width", cfg.widths, cfg.seeds, kappa=kappa))
            for i, m in enumerate(cfg.widths):
                rows.add(f"{metric}_mean", tab[metric][0][i], kappa=kappa, width=m)
        slope = _slope(ws, tab["max_neuron_move"][0])
        rows.add("max_move_slope", slope, kappa=kappa)
        curves[kappa] = tab
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(widths=ws, kappas=np.array(cfg.kappas),
                        **{f"{m}_kappa{i}": curves[k][m][0] for i, k in enumerate(cfg.kappas)
                           for m in ("dist_ratio", "max_neuron_move", "activation_flips")})
    ctx.save_figure(P.plot_movement(ws, curves, title=rf"{ds.name}, $n={ds.n}$: GD for up to {cfg.steps} steps "
                                                      rf"(stop at ${cfg.tol_ratio:g}\times$ the initial loss); "
                                                      rf"mean over {cfg.seeds} seed(s)"), "movement")


register(Experiment(
    name="arora2019-movement", paper=PAPER, config=MovementConfig, run=run_movement,
    summary="§5.2 / Lemma C.1: ‖W−W(0)‖_F → sqrt(r^T H^-1 r) and per-neuron movement ~ m^-1/2 across widths and "
            "init scales",
    presets={"laptop": {},
             "paper": {"data": "mnist:data/mnist", "n_train": 1000, "widths": (1000, 4000, 16000, 64000),
                       "kappas": (0.01, 0.1, 1.0), "steps": 100_000, "seeds": 3, "dtype": "float32"}},
    grid_fields=("seeds", "widths", "kappas")))
