r"""``chen2020-width``: propagation of chaos for Algorithm 1 at fixed (α, λ) and growing width m.

Chen, Cao, Gu, Zhang (NeurIPS 2020) analyse the infinite-width (mean-field) limit
``∂_t p_t = −α∇·(p_t g_t) + λ[∇·(p_t z) + Δp_t]`` (papers.md §3.1); the finite-m network with
i.i.d. particles from ``p₀`` and independent Langevin noise is its particle approximation, whose
empirical measure converges to ``p_t`` with fluctuations ``O(m^{-1/2})`` (propagation of chaos;
papers.md §3.2 item 2). Observable: the outputs ``f(x_i, t)`` on the training inputs. Two
*twins* (replicas ``2j`` and ``2j+1``: independent initial particles and independent noise, same
data and settings) differ by ``Δ_j(t) = RMS_i |f_{2j}(x_i, t) − f_{2j+1}(x_i, t)| / √2`` (an
estimate of the across-replica sd); ``max_t Δ_j`` should fall like ``m^{-1/2}``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..._errors import DivergenceError, InputError
from .. import Experiment, RunContext, register
from .._common import Rows, check_positive, gather, loglog_slope, seed_sequence as _ss
from . import claims as K, figures as F
from ._core import NOISE_KEY, PAPER, SMOOTH, _check_values, _init, _lr, _prep, _record_steps, noisy_gd


@dataclass(frozen=True)
class WidthConfig:
    """``chen2020-width``. Defaults = laptop preset: the data of ``chen2020-alpha`` (n = 50 on ``S⁹``),
    α = 1 (mean-field scaling), λ = 10⁻³, m ∈ {100, 400, 1600, 6400}, 4 seeds (2 twin pairs:
    independent initializations and noise), 1500 steps. Paper-scale preset: n = 200, m up to
    25,600, 8 seeds, 10,000 steps."""

    data: str = "sphere"
    n_train: int = 50
    d: int = 10
    target: str = "linear+cos"
    seed: int = 0
    seeds: int = 4
    alpha: float = 1.0
    weight_decay: float = 1e-3
    widths: tuple[int, ...] = (100, 400, 1600, 6400)
    lr_fraction: float = 0.3
    steps: int = 1500
    records: int = 40
    activation: str = "tanh"
    dtype: str = "float64"

    def __post_init__(self):
        check_positive("alpha", self.alpha)
        check_positive("weight_decay", self.weight_decay)
        check_positive("steps", self.steps, True)
        check_positive("seeds", self.seeds, True)
        if self.seeds < 2:
            raise InputError("chen2020-width needs at least 2 seeds (it measures the spread across seeds)")
        object.__setattr__(self, "widths", _check_values("widths", self.widths, 2, True))
        if any(m % 2 for m in self.widths):
            raise InputError("widths must be even (each neuron is paired with a sign-flipped copy)")
        if not 0 < self.lr_fraction < 1:
            raise InputError(f"lr_fraction must lie in (0, 1), got {self.lr_fraction}")
        if self.activation not in SMOOTH:
            raise InputError(f"activation must be one of {', '.join(SMOOTH)} (Chen et al. need a smooth h)")


def width_point(params: dict, *, cfg: WidthConfig):
    """One (m, seed): Algorithm 1 without twin; the loss and the outputs ``f(x_i)`` at the records."""
    ds, H, spec = _prep(cfg)
    m, s = int(params["width"]), int(params["seed"])
    lr = _lr(cfg, spec, ds.n, cfg.alpha)
    rec = _record_steps(cfg.steps, cfg.records)
    rows = Rows()
    try:
        res = noisy_gd(_init(cfg, ds.d, m, cfg.alpha, s), ds.X, ds.y, lr=lr, steps=cfg.steps,
                       weight_decay=cfg.weight_decay, noise_seed=_ss(cfg.seed, NOISE_KEY, s), record_steps=rec,
                       twin=False)
    except DivergenceError as exc:
        rows.add("diverged_at_step", getattr(exc, "step", -1), width=m, seed=s)
        return rows, {"steps": rec, "loss": np.full(rec.size, np.nan), "outputs": np.full((rec.size, ds.n), np.nan)}
    for j, k in enumerate(res["steps"]):
        rows.add("loss", res["loss"][j], width=m, seed=s, step=int(k))
    rows.add("final_loss", res["loss"][-1], width=m, seed=s)
    return rows, {"steps": res["steps"], "loss": res["loss"], "outputs": res["outputs"]}


def twin_spreads(U: np.ndarray) -> np.ndarray:
    r"""``U`` (S, R, n) outputs of S replicas at R records → (S//2, R): for the pair ``(2j, 2j+1)``,
    ``RMS_i |U_{2j} − U_{2j+1}| / √2`` at each record (the sd of one replica if the two are
    independent draws).

    >>> U = np.zeros((4, 2, 3)); U[1] += 2.0
    >>> twin_spreads(U).round(3).tolist()
    [[1.414, 1.414], [0.0, 0.0]]
    """
    S = U.shape[0] // 2 * 2
    D = U[0:S:2] - U[1:S:2]
    return np.sqrt(np.mean(D**2, axis=2) / 2.0)


def width_cost(cfg: WidthConfig, n=None):
    """The arithmetic of a run (for the up-front estimate; an upper bound: a diverging point stops
    early): the generalized NTK Gram and its ``eigh`` (:func:`._core.prepared_cost`) and one
    :func:`._core.noisy_gd` run of ``steps`` steps per (width, seed)."""
    from ._core import data_shape, noisy_gd_cost, prepared_cost

    n, d, _ = data_shape(cfg)
    cost = prepared_cost(n, d)
    for m in cfg.widths:
        cost = cost + noisy_gd_cost(n, d, m, cfg.steps, cfg.dtype).times(cfg.seeds)
    cost.dtype, cost.upper = cfg.dtype, True
    return cost


def run_width(cfg: WidthConfig, ctx: RunContext) -> None:
    from ...sweep import grid

    ds, H, spec = _prep(cfg)
    ctx.rf.set_data(ds.provenance)
    lr = _lr(cfg, spec, ds.n, cfg.alpha)
    ctx.resolve(lr=lr, lr_rule="lr_fraction * 2n / (alpha^2 lambda_max(H))", lambda_0=spec.lambda_min,
                spread="RMS over training points of the across-seed sd of f(x_i, t); max over recorded t",
                twin_spread="pairs of seeds (2j, 2j+1): RMS_i |f_2j(x_i,t) - f_2j+1(x_i,t)| / sqrt 2; max over t")
    rows = Rows()
    for name, v in [("n", ds.n), ("d", ds.d), ("lr", lr), ("lambda_0", spec.lambda_min),
                    ("lambda_max", spec.lambda_max)]:
        rows.add(name, v)
    results = ctx.sweep(functools.partial(width_point, cfg=cfg), grid(width=list(cfg.widths),
                                                                     seed=list(range(cfg.seeds))),
                        seed=cfg.seed, desc="width points")
    rows.extend(gather(results))
    rec = np.asarray(results[0].arrays["steps"])
    loss, spread, pairs = {}, {}, {}
    for m in cfg.widths:
        rs = sorted((r for r in results if r.params["width"] == m), key=lambda r: r.params["seed"])
        L = np.stack([np.asarray(r.arrays["loss"], float) for r in rs])                    # (S, R)
        U = np.stack([np.asarray(r.arrays["outputs"], float) for r in rs])                 # (S, R, n)
        loss[m] = L
        spread[m] = np.sqrt(np.mean(np.var(U, axis=0, ddof=1), axis=1))                   # (R,)
        pairs[m] = twin_spreads(U)                                                          # (S//2, R)
        for j, k in enumerate(rec):
            rows.add("loss_mean", L[:, j].mean(), width=m, step=int(k))
            rows.add("loss_std", L[:, j].std(ddof=1), width=m, step=int(k))
            rows.add("output_spread", spread[m][j], width=m, step=int(k))
        rows.add("spread_max", float(np.max(spread[m])), width=m)
        rows.add("spread_final", float(spread[m][-1]), width=m)
        rows.add("loss_std_max", float(np.max(L.std(axis=0, ddof=1))), width=m)
        for j, P in enumerate(pairs[m]):
            rows.add("twin_spread_max", float(np.max(P)), width=m, pair=j)
    widest = loss[cfg.widths[-1]].mean(0)
    for m in cfg.widths[:-1]:
        rows.add("mean_loss_gap_to_widest", float(np.max(np.abs(loss[m].mean(0) - widest))), width=m)
    ws = np.array(cfg.widths, float)
    smax = np.array([np.max(spread[m]) for m in cfg.widths])
    rows.add("spread_slope", loglog_slope(ws, smax))
    rows.add("spread_monotone", float(np.all(np.diff(smax) < 0)))
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(widths=ws, steps=rec, **{f"loss_m{m}": loss[m] for m in cfg.widths},
                        **{f"spread_m{m}": spread[m] for m in cfg.widths},
                        **{f"twin_spread_m{m}": pairs[m] for m in cfg.widths})
    title = (rf"{ds.name}, $n={ds.n}$, {cfg.activation}, $\alpha={cfg.alpha:g}$, $\lambda={cfg.weight_decay:g}$, "
             rf"$\eta={lr:.3g}$, {cfg.seeds} seeds per width")
    pmax = {m: pairs[m].max(axis=1) for m in cfg.widths}
    ctx.save_figure(F.plot_width(rec * lr, loss, spread, ws, smax, pmax, title=title), "width",
                    caption=F.width_caption(cfg))


register(Experiment(
    name="chen2020-width", paper=PAPER, config=WidthConfig, run=run_width,
    summary="Algorithm 1 at fixed (α, λ) with growing width m: twin trajectories converge, their spread "
            "shrinks like m^-1/2 (propagation of chaos)",
    presets={"laptop": {},
             "paper": {"n_train": 200, "d": 20, "widths": (400, 1600, 6400, 25_600), "seeds": 8, "steps": 10_000,
                       "records": 80}},
    grid_fields=("seeds", "widths"),
    claims=K.WIDTH_CLAIMS, cost=width_cost))
