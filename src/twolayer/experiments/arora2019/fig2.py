"""``arora2019-fig2``: Arora et al. (ICML 2019), Figure 2."""

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


# =============================================================================== Figure 2
@dataclass(frozen=True)
class Fig2Config:
    """``arora2019-fig2``. Defaults = laptop preset: digits 0 vs 1 with 100 training and 200 test
    images (a small training set keeps λ_min(H∞) large enough for GD on noisy labels to get close
    to convergence in 10⁴ steps), 6 noise levels × 2 seeds, about a minute on 2 cores."""

    data: str = "digits"
    classes: tuple[int, ...] = (0, 1)
    n_train: int | None = 100
    n_test: int | None = 200
    seed: int = 0
    seeds: int = 2
    noise_levels: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    width: int = 1000
    kappa: float = 0.01
    lr: float | None = None
    lr_fraction: float = 0.9
    steps: int = 10_000
    rtol: float | None = 1e-3
    records: int = 30
    delta: float = 0.05
    dtype: str = "float64"

    def __post_init__(self):
        _check_positive("width", self.width, True)
        _check_positive("steps", self.steps, True)
        _check_positive("seeds", self.seeds, True)
        levels = tuple(float(p) for p in self.noise_levels)
        if len(levels) < 2 or len(set(levels)) != len(levels) or any(not 0 <= p <= 1 for p in levels):
            raise InputError(f"noise_levels must be at least two distinct portions in [0, 1], got {self.noise_levels!r}")
        object.__setattr__(self, "noise_levels", tuple(sorted(levels)))
        if not 0 < self.lr_fraction < 1:
            raise InputError(f"lr_fraction must lie in (0, 1), got {self.lr_fraction}")


def _noisy_labels(cfg, ds, p: float, s: int) -> tuple[np.ndarray, np.ndarray, int]:
    from ...data import apply_label_noise

    y, idx = apply_label_noise(ds.y, p, _rng(cfg.seed, NOISE_TRAIN_KEY, s))
    yt, _ = apply_label_noise(ds.y_test, p, _rng(cfg.seed, NOISE_TEST_KEY, s))
    return y, yt, int(idx.size)


def _fig2_point(params: dict, seed_seq, *, cfg: Fig2Config):
    """One (noise portion, seed): complexity of the noisy training labels, then GD to convergence."""
    from ...bounds import complexity, generalization_bound
    from ...dynamics import train
    from ...networks import init_network

    ds, H, spec, solver, K_test = _prep(cfg)
    lr, _ = _learning_rate(cfg, spec, ds.n)
    p, s = float(params["noise"]), int(params["seed"])
    y, yt, redrawn = _noisy_labels(cfg, ds, p, s)
    c = complexity(H, y, solver=solver)
    b = generalization_bound(c, delta=cfg.delta)
    net = init_network("arora", ds.d, cfg.width, seed=_ss(cfg.seed, INIT_KEY, s), kappa=cfg.kappa, dtype=cfg.dtype)
    with _steps_bar(cfg.steps, f"fig2 p={p:g} seed {s}") as bar:
        res = train(net, ds.X, y, lr=lr, steps=cfg.steps, normalization="mean", X_test=ds.X_test, y_test=yt,
                    n_records=cfg.records, rtol=cfg.rtol, gram_diagnostics=False, progress=bar)
    f = spec.predict(K_test, y, [res.n_steps], lr, normalization="mean")[0]
    ids = dict(labels="noisy", noise=p, seed=s)
    rows = _Rows()
    last = {k: v[0, -1] for k, v in res.metrics.items()}
    for name, v in [("complexity", c.complexity), ("yHy", c.yHy), ("bound_total", b.total),
                    ("n_redrawn", redrawn), ("n_changed", int(np.count_nonzero(y != ds.y))),
                    ("train_loss", last["loss"]), ("initial_loss", res.metrics["loss"][0, 0]),
                    ("steps_run", res.n_steps), ("stopped_early", res.stopped != "steps"),
                    ("test_error", last["test_error"]), ("test_l1", last["test_l1"]),
                    ("test_loss", last["test_loss"]),
                    ("kernel_test_error", float(np.mean(np.sign(f) != yt))),
                    ("kernel_test_l1", float(np.mean(np.abs(f - yt))))]:
        rows.add(name, v, **ids)
    arrays = {"steps": res.steps, "loss": res.metrics["loss"][0], "test_error": res.metrics["test_error"][0]}
    return rows, arrays


def run_fig2(cfg: Fig2Config, ctx: RunContext) -> None:
    from ... import plotting as P
    from ...bounds import complexity, expected_noisy_complexity
    from ...data import label_noise_count
    from ...sweep import grid

    ds, *_, K_test = _prep(cfg)
    if K_test is None:
        raise InputError(f"arora2019-fig2 needs a test split; {ds.name} has none (use digits, mnist:PATH, cifar10:PATH "
                         f"or a .npz with X_test, y_test)")
    (ds, H, spec, solver, K_test), lr, max_lr, rows = _start(cfg, ctx)
    for name, v in [("n_test", ds.n_test), ("lr", lr), ("max_stable_lr", max_lr), ("lr_fraction", lr / max_lr),
                    ("width", cfg.width), ("kappa", cfg.kappa), ("steps", cfg.steps), ("delta", cfg.delta)]:
        rows.add(name, v)

    levels = list(cfg.noise_levels)
    results = ctx.sweep(functools.partial(_fig2_point, cfg=cfg), grid(noise=levels, seed=list(range(cfg.seeds))),
                        seed=cfg.seed, desc="fig2 noise x seeds")
    rows.extend(_gather(results))

    tabs = {m: _table(results, m, "noise", levels, cfg.seeds) for m in ("complexity", "test_error", "test_l1", "kernel_test_error", "kernel_test_l1",
                                  "bound_total", "train_loss", "initial_loss", "steps_run")}
    true_c = complexity(H, ds.y, solver=solver)
    trace_inv = float(np.sum(1.0 / spec.eigenvalues))
    expected = np.array([expected_noisy_complexity(true_c.yHy, trace_inv, ds.n, label_noise_count(p, ds.n))
                         for p in levels])
    for i, p in enumerate(levels):
        for m, A in tabs.items():
            mean, sd = summarize(A[i])
            rows.add(f"{m}_mean", mean, labels="noisy", noise=p)
            rows.add(f"{m}_std", sd, labels="noisy", noise=p)
        rows.add("complexity_expected", expected[i], labels="noisy", noise=p)
        rows.add("train_loss_ratio_max", float(np.max(tabs["train_loss"][i] / tabs["initial_loss"][i])),
                 labels="noisy", noise=p)
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(noise_levels=np.array(levels), complexity_expected=expected, eigenvalues=spec.eigenvalues,
                        **{f"{m}_by_noise_seed": A for m, A in tabs.items()})

    C = tabs["complexity"]
    cm, cs = summarize(C)
    te, tl = summarize(tabs["test_error"]), summarize(tabs["test_l1"])
    ke = summarize(tabs["kernel_test_error"])
    ctx.save_figure(P.plot_complexity_vs_noise(
        levels, cm, spread=cs, per_seed=C,
        reference={r"random $\pm1$ labels, $\sqrt{2\,\mathrm{tr}(H^{-1})/n}$": math.sqrt(2.0 * trace_inv / ds.n),
                   r"expected $\sqrt{E[C^2]}$ under noise $p$": expected},
        test_losses={"test classification error (network)": te, r"test $\ell_1$ loss $E|f(x)-y|$ (network)": tl,
                     "test error of the kernel predictor": ke},
        title=rf"{ds.name}: $m={cfg.width}$, $\kappa={cfg.kappa:g}$, GD to convergence; "
              rf"mean $\pm$ sd over {cfg.seeds} seed(s)"), "complexity_vs_noise")
    ctx.save_figure(P.plot_noise_twin_axes(levels, {r"test $\ell_1$ loss": tl, "test classification error": te},
                                           (cm, cs), title=rf"{ds.name}, as in Arora et al. Fig. 2"),
                    "paper_fig2")


register(Experiment(
    name="arora2019-fig2", paper=PAPER, config=Fig2Config, run=run_fig2,
    summary="Fig. 2: complexity sqrt(2 y^T H^-1 y / n) and the trained network's test error/ℓ1 loss vs the "
            "label-noise portion",
    presets={"laptop": {},
             "paper": {"data": "mnist:data/mnist", "n_train": 10_000, "n_test": 2_000, "width": 10_000,
                       "kappa": 0.01, "lr": 1e-3, "steps": 1_000_000, "rtol": 1e-4, "seeds": 3,
                       "noise_levels": tuple(round(0.1 * i, 1) for i in range(11)), "dtype": "float32"}},
    grid_fields=("seeds", "noise_levels")))
