"""``arora2019-fig1``: Arora et al. (ICML 2019), Figure 1."""

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


# =============================================================================== Figure 1
@dataclass(frozen=True)
class Fig1Config:
    """``arora2019-fig1``. Defaults = laptop preset (digits 0 vs 1, n = 288, ~30 s on 2 cores)."""

    data: str = "digits"
    classes: tuple[int, ...] = (0, 1)
    n_train: int | None = None
    n_test: int | None = None
    seed: int = 0
    seeds: int = 1
    width: int = 2000
    kappa: float = 0.01
    lr: float | None = None
    lr_fraction: float = 0.5
    steps: int = 2000
    records: int = 60
    dtype: str = "float64"

    def __post_init__(self):
        _check_positive("width", self.width, True)
        _check_positive("kappa", self.kappa)
        _check_positive("steps", self.steps, True)
        _check_positive("seeds", self.seeds, True)
        if not 0 < self.lr_fraction < 1:
            raise InputError(f"lr_fraction must lie in (0, 1), got {self.lr_fraction}")


def _fig1_labels(cfg, ds, spec) -> np.ndarray:
    from ...spectra import worst_case_labels

    random = _rng(cfg.seed, RANDOM_KEY).choice(np.array([-1.0, 1.0]), size=ds.n)
    return np.stack([ds.y, random, worst_case_labels(spec)])


def _fig1_point(params: dict, seed_seq, *, cfg: Fig1Config):
    """One seed: three networks (true, random, worst-case labels) trained as one batch."""
    from ...dynamics import train
    from ...networks import init_network

    ds, H, spec, solver, _ = _prep(cfg)
    lr, _ = _learning_rate(cfg, spec, ds.n)
    Y = _fig1_labels(cfg, ds, spec)
    s = int(params["seed"])
    net = init_network("arora", ds.d, cfg.width, seed=_ss(cfg.seed, INIT_KEY, s), kappa=cfg.kappa, batch=3,
                       dtype=cfg.dtype)
    with _steps_bar(cfg.steps, f"fig1 seed {s}") as bar:
        res = train(net, ds.X, Y, lr=lr, steps=cfg.steps, normalization="mean", n_records=cfg.records,
                    gram_diagnostics=False, check_stability=True, progress=bar)
    rows = _Rows()
    names = ("loss", "predicted_loss_init", "dist_from_init", "max_neuron_move", "activation_flips")
    for b, lab in enumerate(LABEL_SETS):
        for j, k in enumerate(res.steps):
            for name in names:
                rows.add(name, res.metrics[name][b, j], labels=lab, seed=s, step=int(k))
    arrays = {"steps": res.steps, **{name: res.metrics[name] for name in names}}
    return rows, arrays


def run_fig1(cfg: Fig1Config, ctx: RunContext) -> None:
    from ... import plotting as P
    from ...sweep import grid

    (ds, H, spec, solver, _), lr, max_lr, rows = _start(cfg, ctx)
    for name, v in [("lr", lr), ("max_stable_lr", max_lr), ("lr_fraction", lr / max_lr), ("width", cfg.width),
                    ("kappa", cfg.kappa), ("steps", cfg.steps)]:
        rows.add(name, v)
    Y = _fig1_labels(cfg, ds, spec)
    proj = {lab: spec.project(Y[b]) for b, lab in enumerate(LABEL_SETS)}
    for lab, p in proj.items():
        energy = np.cumsum(p**2) / float(np.sum(p**2))
        for k in sorted({1, max(1, ds.n // 100), math.ceil(ds.n / 10), max(1, ds.n // 2), ds.n}):
            rows.add("label_energy", energy[k - 1], labels=lab, index=k)

    results = ctx.sweep(functools.partial(_fig1_point, cfg=cfg), grid(seed=list(range(cfg.seeds))), seed=cfg.seed,
                        desc="fig1 seeds")
    rows.extend(_gather(results))
    steps = np.asarray(results[0].arrays["steps"])
    loss = np.stack([r.arrays["loss"] for r in results])          # (S, 3, R)
    mean_loss = loss.mean(axis=0)
    predicted = {lab: spec.loss_curve(Y[b], steps, lr, normalization="mean") for b, lab in enumerate(LABEL_SETS)}
    for b, lab in enumerate(LABEL_SETS):
        for j, k in enumerate(steps):
            rows.add("predicted_loss", predicted[lab][j], labels=lab, step=int(k))
            rows.add("loss", mean_loss[b, j], labels=lab, step=int(k))
        rows.add("final_loss", mean_loss[b, -1], labels=lab)
        rows.add("final_predicted_loss", predicted[lab][-1], labels=lab)
        rows.add("complexity", math.sqrt(2.0 * float(np.sum(proj[lab] ** 2 / spec.eigenvalues)) / ds.n), labels=lab)
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(eigenvalues=spec.eigenvalues, steps=steps, loss=loss,
                        **{f"labels_{lab}": Y[b] for b, lab in enumerate(LABEL_SETS)},
                        **{f"projections_{lab}": proj[lab] for lab in LABEL_SETS},
                        **{f"predicted_{lab}": predicted[lab] for lab in LABEL_SETS})

    title = (rf"GD on {ds.name}: $m={cfg.width}$, $\kappa={cfg.kappa:g}$, $\eta={lr:.3g}$ "
             rf"($={lr / max_lr:.2g}\times 2n/\lambda_{{\max}}$); dashed: kernel prediction (eq. 8)")
    measured = {lab: mean_loss[b] for b, lab in enumerate(LABEL_SETS)}
    ctx.save_figure(P.plot_loss_curves(steps, predicted, measured, title=title, linear_xmax=float(steps[-1])),
                    "loss_curves")
    ctx.save_figure(P.plot_spectrum_projections(spec.eigenvalues, proj), "spectrum_projections")


register(Experiment(
    name="arora2019-fig1", paper=PAPER, config=Fig1Config, run=run_fig1,
    summary="Fig. 1: GD loss on true, random and worst-case labels vs the kernel prediction; H∞ spectrum and "
            "label projections",
    presets={"laptop": {},
             "paper": {"data": "mnist:data/mnist", "n_train": 10_000, "n_test": 2_000, "width": 10_000,
                       "kappa": 0.01, "lr": 1e-3, "steps": 1_000_000, "records": 100, "dtype": "float32"}},
    grid_fields=("seeds",)))
