r"""``chen2020-alpha``: Algorithm 1 across the scaling α (mean-field α = O(1) → NTK α ≫ 1), Thm 4.4.

Chen, Cao, Gu, Zhang (NeurIPS 2020), Theorem 4.4 and Lemma 5.3 (papers.md §3.1): for α above
the threshold (4.1) the training loss decays like ``exp(−c α²λ₀ t)`` down to a floor that
vanishes as λ → 0 or α → ∞, and ``KL(p_t‖p₀) = O(α⁻²λ₀⁻⁴)``. Points (all at fixed data):

* the α sweep at ``(λ, m) = (weight_decay, width)`` on the smooth target (figures ``rate`` (a, b),
  ``plateau`` (a), ``distance``);
* the λ sweep (``lambdas``) and the width sweep (``floor_widths``) at the largest α
  (``plateau`` (b, c));
* the λ₀ sweep at the largest α: the data with a near-duplicate pair at distance ``ε``
  (``dup_eps``, :func:`~._core.near_duplicate`; ``λ₀ ∝ ε²`` while ``λ_max`` and hence the step
  ``η`` stay put) and the worst-case labels ``y ∝ v_min(H)``, whose loss decays at the slowest
  rate ``2(α²λ₀/n + λ)`` of the kernel dynamics (``rate`` (c)).

Step size ``η = lr_fraction · 2n/(α²λ_max(H))``. Because ``η·α²`` is the same for every α, the
kernel dynamics are the same *per step* for every α, and a rate per unit time ``t = ηk`` that
scales like α² is exactly the statement that the curves collapse in ``α²t`` (the kernel
regime); the claim ``thm4.4-rate-alpha2`` is named and judged as that. The λ₀ part is judged
separately (``thm4.4-rate-lambda0``) at one α and one ``η`` (``λ_max`` varies by < 0.1 % over
the ε sweep), so nothing about ``η`` builds in its exponent.

A point that diverges (tiny α, where the kernel-stable step is far too large for the nonlinear
dynamics) is recorded with a ``diverged_at_step`` row and no other metrics; the claims that
needed it say so.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ..._errors import DivergenceError, InputError
from .. import Experiment, RunContext, register, summarize
from .._common import Rows, check_positive, gather, seed_sequence as _ss
from . import claims as K, figures as F
from ._core import (NOISE_KEY, PAPER, SMOOTH, _check_values, _duplicated, _init, _key, _lr, _prep, _record_steps,
                    decay_rate, linear_theory, noisy_gd)

#: The excess loss of the worst-case labels must fall by this factor to define its rate (``e^{0.69}``:
#: reached within ``0.58 κ`` steps at ``lr_fraction = 0.3``, κ = λ_max/λ₀, so κ up to ~5000 fits 3000 steps).
LAMBDA0_DROP = 2.0


@dataclass(frozen=True)
class AlphaConfig:
    """``chen2020-alpha``. Defaults = laptop preset: n = 50 points uniform on ``S⁹`` with the target
    ``linear + cos`` (|y| ≤ 1), tanh, m = 1000 (symmetric pairs), λ = 10⁻³, α = 0.5 … 32, 3000 steps
    of ``η = 0.3 · 2n/(α²λ_max)``, 3 seeds; plateau sweeps at the largest α over λ ∈ {2.5e-4, 1e-3,
    4e-3} and m ∈ {250, 1000, 4000}; λ₀ sweep at the largest α over near-duplicate distances
    ε ∈ {0.4, 0.2, 0.1} (λ₀ from 0.029 to 0.0025) with worst-case labels. Paper-scale preset:
    n = 200, d = 20, m = 10⁴, α up to 128, 20,000 steps, 5 seeds (the paper has no experiment;
    these sizes follow papers.md §3.2: m = 10³–10⁴ particles, n = 50–200 sphere points)."""

    data: str = "sphere"
    n_train: int = 50
    d: int = 10
    target: str = "linear+cos"
    seed: int = 0
    seeds: int = 3
    alphas: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
    weight_decay: float = 1e-3
    lambdas: tuple[float, ...] = (2.5e-4, 1e-3, 4e-3)
    width: int = 1000
    floor_widths: tuple[int, ...] = (250, 1000, 4000)
    dup_eps: tuple[float, ...] = (0.4, 0.2, 0.1)
    lr_fraction: float = 0.3
    steps: int = 3000
    records: int = 60
    activation: str = "tanh"
    dtype: str = "float64"

    def __post_init__(self):
        check_positive("n_train", self.n_train, True)
        check_positive("width", self.width, True)
        check_positive("steps", self.steps, True)
        check_positive("seeds", self.seeds, True)
        check_positive("weight_decay", self.weight_decay)
        object.__setattr__(self, "alphas", _check_values("alphas", self.alphas, 3))
        object.__setattr__(self, "lambdas", _check_values("lambdas", self.lambdas, 1))
        object.__setattr__(self, "floor_widths", _check_values("floor_widths", self.floor_widths, 1, True))
        object.__setattr__(self, "dup_eps", _check_values("dup_eps", self.dup_eps, 1))
        if any(m % 2 for m in (self.width, *self.floor_widths)):
            raise InputError("widths must be even (each neuron is paired with a sign-flipped copy)")
        if any(e >= 1 for e in self.dup_eps):
            raise InputError(f"dup_eps must lie in (0, 1) (a near-duplicate pair), got {self.dup_eps!r}")
        if not 0 < self.lr_fraction < 1:
            raise InputError(f"lr_fraction must lie in (0, 1), got {self.lr_fraction}")
        if self.activation not in SMOOTH:
            raise InputError(f"activation must be one of {', '.join(SMOOTH)} (Chen et al. need a smooth h)")


# ------------------------------------------------------------------------------ points
def alpha_points(cfg: AlphaConfig) -> list[dict]:
    """The sweep: α sweep, λ and m sweeps at the top α (duplicates dropped), λ₀ sweep; × seeds."""
    top = cfg.alphas[-1]
    pts = [(a, cfg.weight_decay, cfg.width) for a in cfg.alphas]
    pts += [(top, lam, cfg.width) for lam in cfg.lambdas]
    pts += [(top, cfg.weight_decay, m) for m in cfg.floor_widths]
    seen, out = set(), []
    for a, lam, m in pts:
        if (a, lam, m) not in seen:
            seen.add((a, lam, m))
            out += [{"alpha": a, "weight_decay": lam, "width": m, "seed": s} for s in range(cfg.seeds)]
    out += [{"alpha": top, "weight_decay": cfg.weight_decay, "width": cfg.width, "dup_eps": e, "seed": s}
            for e in cfg.dup_eps for s in range(cfg.seeds)]
    return out


def _nan_arrays(cfg) -> dict:
    rec = _record_steps(cfg.steps, cfg.records)
    nan = np.full(rec.size, np.nan)
    return {"steps": rec, "loss": nan, "twin_dist": nan, "raw_dist": nan}


def alpha_point(params: dict, *, cfg: AlphaConfig):
    """One (α, λ, m[, ε], seed): Algorithm 1 with its twin; loss, D, raw movement at the records.
    A diverged run gives the rows ``diverged_at_step`` and ``lr`` only (and NaN curves)."""
    a, lam, m, s = float(params["alpha"]), float(params["weight_decay"]), int(params["width"]), int(params["seed"])
    eps = params.get("dup_eps")
    ds, H, spec = _prep(cfg)
    X, y = ds.X, ds.y
    if eps is not None:
        X, y, spec = _duplicated(_key(cfg), float(eps))
    lr = _lr(cfg, spec, ds.n, a)
    ids = dict(alpha=a, weight_decay=lam, width=m, seed=s, **({} if eps is None else {"dup_eps": float(eps)}))
    rows = Rows()
    rows.add("lr", lr, **ids)
    try:
        res = noisy_gd(_init(cfg, ds.d, m, a, s), X, y, lr=lr, steps=cfg.steps, weight_decay=lam,
                       noise_seed=_ss(cfg.seed, NOISE_KEY, s), record_steps=_record_steps(cfg.steps, cfg.records),
                       twin=eps is None)
    except DivergenceError as exc:
        rows.add("diverged_at_step", getattr(exc, "step", -1), **ids)
        return rows, _nan_arrays(cfg)
    steps = res["steps"]
    if eps is not None:
        th = linear_theory(spec.eigenvalues, spec.project(y), alpha=a, lr=lr, weight_decay=lam, steps=0, m=m)
        stationary = th["loss_inf"] + th["floor"]
        for j, k in enumerate(steps):
            rows.add("loss", res["loss"][j], step=int(k), **ids)
        rows.add("rate_lambda0", decay_rate(lr * steps, res["loss"], stationary, drop=LAMBDA0_DROP), **ids)
        rows.add("predicted_stationary_loss", stationary, **ids)
        return rows, {"steps": steps, "loss": res["loss"]}
    tail = steps >= 0.7 * cfg.steps
    plateau = float(np.mean(res["loss"][tail]))
    for j, k in enumerate(steps):
        for name in ("loss", "twin_dist", "raw_dist"):
            rows.add(name, res[name][j], step=int(k), **ids)
    rows.add("plateau", plateau, **ids)
    rows.add("decay_rate", decay_rate(lr * steps, res["loss"], plateau), **ids)
    rows.add("dist_final", res["twin_dist"][-1], **ids)
    rows.add("dist_max", float(np.max(res["twin_dist"])), **ids)
    rows.add("raw_dist_final", res["raw_dist"][-1], **ids)
    rows.add("twin_raw_dist_final", res["twin_raw_dist"][-1], **ids)
    return rows, {"steps": steps, "loss": res["loss"], "twin_dist": res["twin_dist"], "raw_dist": res["raw_dist"]}


def theory_point(cfg, n: int, spec, proj, a: float, lam: float, m: int, drop: float = 10.0, plateau=None) -> dict:
    """Linearized prediction (:func:`twolayer.spectra.noisy_gd_linear_theory`) of one point from the
    Spectrum of ``H`` and the label projections ``proj`` (same order), with its decay rate (same
    definition as the measured one) and its plateau (mean over the last 30 % of steps)."""
    lr = _lr(cfg, spec, n, a)
    dense = np.arange(cfg.steps + 1)
    th = linear_theory(spec.eigenvalues, proj, alpha=a, lr=lr, weight_decay=lam, steps=cfg.steps, m=m)
    th["plateau"] = float(np.mean(th["loss"][dense >= 0.7 * cfg.steps]))
    base = th["loss_inf"] if plateau is None else plateau
    th["rate"] = decay_rate(lr * dense, th["bias"] if plateau is None else th["loss"], base, drop=drop)
    th["lr"], th["dense"] = lr, dense
    return th


def _value(r, metric):
    return next((row["value"] for row in r.rows if row["metric"] == metric), float("nan"))


def alpha_cost(cfg: AlphaConfig, n=None):
    """The arithmetic of a run (for the up-front estimate; an upper bound: a diverging point stops
    early): the generalized NTK Gram and its ``eigh`` of the data and of every near-duplicate data
    set (:func:`._core.prepared_cost`), and one :func:`._core.noisy_gd` run of ``steps`` steps per
    point of :func:`alpha_points` (α, λ and width sweeps, λ₀ sweep, × seeds)."""
    from ._core import data_shape, noisy_gd_cost, prepared_cost

    n, d, _ = data_shape(cfg)
    cost = prepared_cost(n, d).times(1 + len(cfg.dup_eps))
    for p in alpha_points(cfg):
        cost = cost + noisy_gd_cost(n, d, p["width"], cfg.steps, cfg.dtype)
    cost.dtype, cost.upper = cfg.dtype, True
    return cost


# ------------------------------------------------------------------------------ run
def run_alpha(cfg: AlphaConfig, ctx: RunContext) -> None:
    ds, H, spec = _prep(cfg)
    ctx.rf.set_data(ds.provenance)
    mu, proj = spec.eigenvalues, spec.project(ds.y)                     # descending
    lam0 = spec.lambda_min
    top = cfg.alphas[-1]
    ctx.resolve(loss="1/2 n^-1 sum_i (y_i - f(x_i))^2", algorithm="noisy GD with weight decay, temperature = "
                "weight decay (Chen et al. Algorithm 1), both layers, drift m * grad", init="symmetric pairs, f = 0",
                lr_rule="lr_fraction * 2n / (alpha^2 lambda_max(H))", lambda_0=lam0, lambda_max=spec.lambda_max,
                lr={str(a): _lr(cfg, spec, ds.n, a) for a in cfg.alphas},
                kl_proxy="D = (1/m) sum_j |z_j - twin_j|^2 (twin: same init and noise, no data term)",
                lambda0_sweep="near-duplicate pair at distance dup_eps, worst-case labels v_min / max|v_min|, "
                              f"rate = ln {LAMBDA0_DROP:g} / (time for the excess loss to fall {LAMBDA0_DROP:g}x)")
    rows = Rows()
    for name, v in [("n", ds.n), ("d", ds.d), ("lambda_0", lam0), ("lambda_max", spec.lambda_max),
                    ("condition_number", spec.lambda_max / lam0), ("yHy", float(np.sum(proj**2 / mu))),
                    ("label_norm2", float(ds.y @ ds.y))]:
        rows.add(name, v)
    pts = alpha_points(cfg)
    results = ctx.sweep(functools.partial(alpha_point, cfg=cfg), pts, seed=cfg.seed, desc="alpha points")
    rows.extend(gather(results))

    def sel(a, lam, m, eps=None):
        return [r for r in results if (r.params["alpha"], r.params["weight_decay"], r.params["width"],
                                       r.params.get("dup_eps")) == (a, lam, m, eps)]

    def cell(metric, *k):
        return np.array([_value(r, metric) for r in sel(*k)])

    def curves(name, *k):
        return np.stack([np.asarray(r.arrays[name], float) for r in sel(*k)])

    keys = sorted({(p["alpha"], p["weight_decay"], p["width"]) for p in pts if "dup_eps" not in p})
    summary, theory = {}, {}
    for a, lam, m in keys:
        th = theory_point(cfg, ds.n, spec, proj, a, lam, m)
        theory[(a, lam, m)] = th
        ids = dict(alpha=a, weight_decay=lam, width=m)
        tab = {}
        for metric in ("plateau", "decay_rate", "dist_final", "dist_max", "raw_dist_final", "twin_raw_dist_final"):
            tab[metric] = summarize(cell(metric, a, lam, m))
            rows.add(f"{metric}_mean", tab[metric][0], **ids)
            rows.add(f"{metric}_std", tab[metric][1], **ids)
        summary[(a, lam, m)] = tab
        rows.add("alpha2_lambda0", a**2 * lam0, **ids)
        for name, v in [("predicted_rate", th["rate"]), ("predicted_plateau", th["plateau"]),
                        ("predicted_bias", th["loss_inf"]), ("predicted_floor", th["floor"]),
                        ("predicted_dist_final", th["dist"][-1]), ("predicted_dist_noise_free", th["dist_mean"][-1]),
                        ("predicted_dist_inf", th["dist_inf"]), ("slowest_mode_rate", th["rate_min"])]:
            rows.add(name, v, **ids)
    # λ₀ sweep: λ₀ of each data set, the linearized prediction of the worst-case labels' rate
    lam0_tab = {}
    for eps in cfg.dup_eps:
        _, yw, spec_e = _duplicated(_key(cfg), eps)
        lr_e = _lr(cfg, spec_e, ds.n, top)
        th = linear_theory(spec_e.eigenvalues, spec_e.project(yw), alpha=top, lr=lr_e, weight_decay=cfg.weight_decay,
                           steps=cfg.steps, m=cfg.width)
        prate = decay_rate(lr_e * np.arange(cfg.steps + 1), th["loss"], th["loss_inf"] + th["floor"],
                           drop=LAMBDA0_DROP)
        ids = dict(dup_eps=eps)
        rows.add("lambda_0", spec_e.lambda_min, **ids)
        rows.add("lambda_max", spec_e.lambda_max, **ids)
        rows.add("predicted_rate_lambda0", prate, **ids)
        rows.add("slowest_rate_theory", 2 * (top**2 * spec_e.lambda_min / ds.n + cfg.weight_decay), **ids)
        lam0_tab[eps] = dict(lambda_0=spec_e.lambda_min,
                             rate=cell("rate_lambda0", top, cfg.weight_decay, cfg.width, eps),
                             predicted=prate, curves=curves("loss", top, cfg.weight_decay, cfg.width, eps), lr=lr_e,
                             theory=th["loss"])
    ctx.rf.write_metrics(rows)

    al = np.array(cfg.alphas)
    base = [(a, cfg.weight_decay, cfg.width) for a in cfg.alphas]
    rec = np.asarray(results[0].arrays["steps"])
    # stored ascending (lambda_0 first), as the arrays have always been: reversed once, here
    ctx.rf.write_arrays(alphas=al, eigenvalues=mu[::-1], projections=proj[::-1], steps=rec,
                        loss=np.stack([curves("loss", *k).mean(0) for k in base]),
                        twin_dist=np.stack([curves("twin_dist", *k).mean(0) for k in base]),
                        raw_dist=np.stack([curves("raw_dist", *k).mean(0) for k in base]),
                        predicted_loss=np.stack([theory[k]["loss"][rec] for k in base]),
                        predicted_dist=np.stack([theory[k]["dist"][rec] for k in base]))
    rate = np.array([summary[k]["decay_rate"][0] for k in base])
    prate = np.array([theory[k]["rate"] for k in base])
    head = (rf"{ds.name}, $n={ds.n}$, {cfg.activation}, $m={cfg.width}$, $\lambda={cfg.weight_decay:g}$, "
            rf"{cfg.steps} steps of $\eta = {cfg.lr_fraction:g}\cdot 2n/(\alpha^2\lambda_{{\max}})$, "
            rf"mean of {cfg.seeds} seed(s)")
    ctx.save_figure(F.plot_rate(rec, {k[0]: curves("loss", *k) for k in base}, theory, base, rate, prate, lam0,
                                lam0_tab, top, title=head), "rate",
                    caption=F.rate_caption(cfg, lam0, lam0_tab))
    ctx.save_figure(F.plot_plateau(cfg, summary, theory, top, title=head), "plateau", caption=F.plateau_caption(cfg))
    dist = np.array([summary[k]["dist_final"][0] for k in base])
    ctx.save_figure(F.plot_distance(al, dist, np.array([summary[k]["dist_final"][1] for k in base]),
                                    np.array([theory[k]["dist"][-1] for k in base]),
                                    np.array([summary[k]["raw_dist_final"][0] for k in base]),
                                    np.array([summary[k]["twin_raw_dist_final"][0] for k in base]), rec,
                                    {k[0]: curves("twin_dist", *k) for k in base}, title=head),
                    "distance", caption=F.distance_caption(cfg))


register(Experiment(
    name="chen2020-alpha", paper=PAPER, config=AlphaConfig, run=run_alpha,
    summary="Algorithm 1 (noisy GD + weight decay) across α: loss decay rate vs α² (collapse) and vs λ₀ (near-duplicate "
            "data), plateau vs (λ, α, m), distance of p_t from p₀ vs α (slope −2)",
    presets={"laptop": {},
             "paper": {"n_train": 200, "d": 20, "width": 10_000, "floor_widths": (2_500, 10_000, 40_000),
                       "alphas": (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0), "steps": 20_000, "seeds": 5,
                       "records": 100}},
    grid_fields=("seeds", "alphas", "lambdas", "floor_widths", "dup_eps"),
    claims=K.ALPHA_CLAIMS, cost=alpha_cost))
