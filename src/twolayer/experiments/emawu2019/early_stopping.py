r"""``ema-wu2019-early-stopping``: early stopping of the network and the long-time limit of random features.

E, Ma, Wu (2019/2020), Case 2 (papers.md §2.3): with ``f* ∈ H_{k₀}``, ``‖a(0)‖ = O(1/√m)`` and
``m ≥ n``, stopping at ``t = O(√n/m)`` (natural time ``s = m t = O(√n)``) gives population risk
``‖f − f*‖² = O(1/m + 1/√n)``; random features trained to ``t = ∞`` converge to the minimum-norm
interpolant ``a_∞ = a₀ + Φ⁺(y − Φa₀)``, whose error bound needs ``λ_min`` of the Gram matrix
bounded away from 0 (``m ≥ λ_min(K)⁻²``): it collapses at ``m ≈ n``.

Noisy labels (Gaussian noise of standard deviation ``noise`` on the training labels only);
the network by GD with the test risk recorded, the random-feature model from the same
initialization and the kernel (``m → ∞``) followed exactly in closed form. A point whose GD
diverges records ``diverged_at_step`` instead of its risks.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..._errors import InputError
from ..._threads import blas_threads
from .. import Experiment, RunContext, register, summarize
from .._common import checkpointing, Rows as _Rows, gather as _gather, loglog_slope as _slope
from ._shared import (INIT_KEY, PAPER, DivergenceError, _check_positive, _check_step, _check_target,
                      _kernel_path, _nets, _provenance, _rf_path, _risk, _single_thread,
                      _sorted_unique, _ss, _target, _test_sample, _time_grid, _train_sample, diverged_rows,
                      nanmean_rows)
from . import claims as _claims
from . import figures as _fig


@dataclass(frozen=True)
class EarlyStoppingConfig:
    """``ema-wu2019-early-stopping``. Defaults = laptop preset: ``d = 10``, ``n ∈ {50, 100, 200,
    400}`` (nested samples), widths ``{400, 3200}`` (``m ≥ n`` as the theorem assumes), label
    noise of standard deviation 0.5 on a unit-RMS target, 1,000 test points, ``β = 1/m``,
    natural time up to ``10⁵`` in 2,000 steps for the network (the random-feature model and the
    kernel are followed exactly, in closed form, to ``rf_time_max`` and to ``t = ∞``), 3
    replicates; the long-time random-feature limit at ``n = interp_n`` for ``m/n`` in
    ``interp_ratios`` over ``interp_seeds`` replicates. About 30 s on 2 cores.

    Paper preset: ``n`` 100 … 3,200, widths ``{3200, 12800}``, 20,000 steps to ``s = 10⁶``,
    ``interp_n = 400``, 5 replicates.
    """

    d: int = 10
    n_values: tuple[int, ...] = (50, 100, 200, 400)
    widths: tuple[int, ...] = (400, 3200)
    n_test: int = 1000
    noise: float = 0.5
    target: str = "sections"
    target_features: int = 4
    seed: int = 0
    seeds: int = 3
    beta_c: float = 1.0
    time: float = 1e5
    steps: int = 2000
    records: int = 40
    rf_time_max: float = 1e8
    interp_n: int = 100
    interp_ratios: tuple[float, ...] = (0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 4.0, 8.0, 16.0)
    interp_seeds: int = 5

    def __post_init__(self):
        for name in ("d", "n_test", "seeds", "steps", "interp_n", "interp_seeds"):
            _check_positive(name, getattr(self, name), True)
        for name in ("time", "rf_time_max", "beta_c"):
            _check_positive(name, getattr(self, name))
        _check_target(self.target, self.target_features)
        if self.noise < 0:
            raise InputError(f"noise must be >= 0, got {self.noise}")
        object.__setattr__(self, "n_values", _sorted_unique("n_values", self.n_values, int, minimum=2))
        object.__setattr__(self, "widths", _sorted_unique("widths", self.widths, int, minimum=1))
        object.__setattr__(self, "interp_ratios", _sorted_unique("interp_ratios", self.interp_ratios, float, minimum=2))
        if not (isinstance(self.records, int) and self.records >= 5):
            raise InputError(f"records must be an integer >= 5, got {self.records!r}")
        if self.rf_time_max < self.time:
            raise InputError(f"rf_time_max ({self.rf_time_max:g}) must be >= time ({self.time:g})")


@_single_thread
def es_point(params: dict, *, cfg: EarlyStoppingConfig):
    """One (n, width, replicate): the network trained by GD with the test risk recorded, and the
    random-feature model from the same initialization ``(seed, 21, m, s)`` followed exactly to
    ``t = ∞``; ``diverged_at_step`` rows if GD diverges (it takes no seed from the sweep: the
    draws are keyed by purpose, see the package docstring)."""
    from ...dynamics import record_schedule, train

    n, m, s = int(params["n"]), int(params["width"]), int(params["seed"])
    X, _, y = _train_sample(cfg.d, n, cfg.seed, s, cfg.target, cfg.target_features, cfg.noise)
    Xt, ft = _test_sample(cfg.d, cfg.n_test, cfg.seed, cfg.target, cfg.target_features)
    eta0 = cfg.time / cfg.steps
    net, _ = _nets(cfg.d, m, _ss(cfg.seed, INIT_KEY, m, s), cfg.beta_c / m)
    ids = dict(n=n, width=m, seed=s)
    try:
        res = train(net, X, y, lr=eta0 / m, steps=cfg.steps, X_test=Xt, y_test=ft,
                    record_steps=record_schedule(cfg.steps, cfg.records), gram_diagnostics=False, **checkpointing())
        W0, a0 = net.W[0], net.a[0]
        path, lam_emp = _rf_path(np.maximum(X @ W0.T, 0), np.maximum(Xt @ W0.T, 0), a0, y, eta0, m)
    except DivergenceError as exc:
        return diverged_rows(exc, **ids), {}
    k_nn = res.steps.astype(float)
    risk_nn = 2.0 * res.metrics["test_loss"][0]          # test_loss = ½ mean (f − f*)²
    k_rf = _time_grid(eta0, cfg.rf_time_max)
    risk_rf = _risk(path.outputs(k_rf), ft)
    risk_rf_nn_steps = _risk(path.outputs(k_nn), ft)
    risk_inf = float(_risk(path.outputs([np.inf]), ft)[0])
    sqrt_n = math.sqrt(n)
    risk_rule = float(_risk(path.outputs([sqrt_n / eta0], flow=True), ft)[0])
    j = 1 + int(np.argmin(risk_nn[1:]))
    i = int(np.argmin(risk_rf))
    rows = _Rows()
    for name, v in [("s_star_nn", k_nn[j] * eta0), ("risk_min_nn", risk_nn[j]), ("risk_end_nn", risk_nn[-1]),
                    ("risk_init", risk_nn[0]), ("s_star_rf", k_rf[i] * eta0), ("risk_min_rf", risk_rf[i]),
                    ("risk_inf_rf", risk_inf), ("risk_at_sqrt_n_rf", risk_rule),
                    ("nn_rf_max_rel_diff", np.max(np.abs(risk_nn - risk_rf_nn_steps) / risk_rf_nn_steps)),
                    ("nn_rf_rel_diff_at_min", abs(risk_nn[j] - risk_rf_nn_steps[j]) / risk_rf_nn_steps[j]),
                    ("lambda_min_rf_gram", lam_emp), ("train_loss_end_nn", res.metrics["loss"][0, -1])]:
        rows.add(name, v, **ids)
    arrays = {"s_nn": k_nn * eta0, "risk_nn": risk_nn, "s_rf": k_rf * eta0, "risk_rf": risk_rf}
    return rows, arrays


@_single_thread
def interp_point(params: dict, *, cfg: EarlyStoppingConfig):
    """One (m/n, replicate) at ``n = interp_n``: the random-feature model's long-time limit, its
    best early-stopped risk and ``λ_min`` of its Gram matrix, all in closed form (init
    ``(seed, 21, m, s)``; no seed is taken from the sweep)."""
    ratio, s = float(params["ratio"]), int(params["seed"])
    n = cfg.interp_n
    m = max(1, int(round(ratio * n)))
    X, _, y = _train_sample(cfg.d, n, cfg.seed, s, cfg.target, cfg.target_features, cfg.noise)
    Xt, ft = _test_sample(cfg.d, cfg.n_test, cfg.seed, cfg.target, cfg.target_features)
    eta0 = cfg.time / cfg.steps
    net, _ = _nets(cfg.d, m, _ss(cfg.seed, INIT_KEY, m, s), cfg.beta_c / m)
    W0, a0 = net.W[0], net.a[0]
    ids = dict(ratio=ratio, width=m, seed=s)
    try:
        path, lam_emp = _rf_path(np.maximum(X @ W0.T, 0), np.maximum(Xt @ W0.T, 0), a0, y, eta0, m)
    except DivergenceError as exc:
        return diverged_rows(exc, **ids), {}
    k = _time_grid(eta0, cfg.rf_time_max)
    risk = _risk(path.outputs(k), ft)
    i = int(np.argmin(risk))
    rows = _Rows()
    for name, v in [("interp_risk_inf", _risk(path.outputs([np.inf]), ft)[0]), ("interp_risk_min", risk[i]),
                    ("interp_s_star", k[i] * eta0), ("interp_lambda_min", lam_emp)]:
        rows.add(name, v, **ids)
    return rows, {}


def _kernel_reference(cfg: EarlyStoppingConfig, n: int, s: int) -> dict:
    """The ``m → ∞`` limit (kernel GD on ``k₀``) for replicate ``s``: best risk, its time, ``t = ∞``."""
    X, _, y = _train_sample(cfg.d, n, cfg.seed, s, cfg.target, cfg.target_features, cfg.noise)
    Xt, ft = _test_sample(cfg.d, cfg.n_test, cfg.seed, cfg.target, cfg.target_features)
    eta0 = cfg.time / cfg.steps
    path = _kernel_path(X, y, Xt, eta0)
    k = _time_grid(eta0, cfg.rf_time_max)
    risk = _risk(path.outputs(k), ft)
    i = int(np.argmin(risk))
    return {"kernel_s_star": k[i] * eta0, "kernel_risk_min": risk[i],
            "kernel_risk_inf": float(_risk(path.outputs([np.inf]), ft)[0]), "s": k * eta0, "risk": risk}


def early_stopping_cost(cfg: EarlyStoppingConfig, n=None):
    """The arithmetic of a run (for the up-front estimate; an upper bound: a diverging point stops
    early, and at most :data:`._shared.TIME_GRID` natural times are evaluated). The step check at
    every ``n``; per (n, width, replicate) one :func:`twolayer.dynamics.train` for ``steps`` steps with
    ``n_test`` test points (:func:`.._common.train_cost`) and the random-feature path
    (:func:`._shared.rf_path_cost`, thin SVD of ``n × m``); per (m/n, replicate) the path at
    ``interp_n``; per (n, replicate) and per ``interp_seeds`` the kernel path
    (:func:`._shared.kernel_path_cost`, one ``eigh`` of ``n``)."""
    from ..._cost import Cost
    from .._common import train_cost
    from ._shared import TIME_GRID, check_step_cost, kernel_path_cost, rf_path_cost

    d, nt = cfg.d, cfg.n_test
    cost = Cost()
    for size in sorted({*cfg.n_values, cfg.interp_n}):
        cost = cost + check_step_cost(size, d)
    for size in cfg.n_values:
        for m in cfg.widths:
            point = (train_cost(size, d, m, cfg.steps, records=cfg.records, n_test=nt)
                     + rf_path_cost(size, nt, d, m, TIME_GRID + cfg.records + 3))
            cost = cost + point.times(cfg.seeds)
        cost = cost + kernel_path_cost(size, nt, d, TIME_GRID + 1).times(cfg.seeds)
    for ratio in cfg.interp_ratios:
        m = max(1, int(round(ratio * cfg.interp_n)))
        cost = cost + rf_path_cost(cfg.interp_n, nt, d, m, TIME_GRID + 1).times(cfg.interp_seeds)
    cost = cost + kernel_path_cost(cfg.interp_n, nt, d, TIME_GRID + 1).times(cfg.interp_seeds)
    cost.upper = True
    return cost


def run_early_stopping(cfg: EarlyStoppingConfig, ctx: RunContext) -> None:
    from ...sweep import grid

    eta0 = cfg.time / cfg.steps
    beta_max = cfg.beta_c / cfg.widths[0]
    n_max = max(cfg.n_values[-1], cfg.interp_n)
    # λ_max of k₀ on n sphere points is ≈ n E k₀ + O(√n), nearly the same for every replicate: check
    # replicate 0 of every n (train() and the random-feature path refuse an unstable step anyway)
    limits = [_check_step(eta0, _train_sample(cfg.d, n, cfg.seed, 0, cfg.target, cfg.target_features, cfg.noise)[0],
                          beta_max, "ema-wu2019-early-stopping") for n in sorted({*cfg.n_values, cfg.interp_n})]
    _, _, _, f_norm = _target(cfg.target, cfg.d, cfg.target_features, cfg.seed)
    ctx.rf.set_data(_provenance(cfg, list(cfg.n_values), {
        "n_test": cfg.n_test, "label_noise": f"Gaussian, sd {cfg.noise:g}, training labels only; test risk against f*",
        "n_max": n_max, "interp_n": cfg.interp_n}))
    ctx.resolve(loss="1/2 n^-1 sum_i (y_i - f(x_i))^2", normalization="mean", natural_step_eta0=eta0,
                lr_rule="eta = eta0 / m (natural time s = m t = k eta0)", max_stable_natural_step=min(limits),
                test_risk="mean over the test sample of (f(x) - f*(x))^2",
                early_stopping_rule="t = sqrt(n)/m, i.e. natural time s = sqrt(n) (Case 2)",
                rf_limit="a_inf = a0 + pinv(Phi) (y - Phi a0), exact; RF and kernel paths in closed form")
    rows = _Rows()
    for name, v in [("d", cfg.d), ("n_test", cfg.n_test), ("noise", cfg.noise), ("natural_step", eta0),
                    ("natural_time", cfg.time), ("target_rkhs_norm", f_norm), ("beta_c", cfg.beta_c)]:
        if math.isfinite(v):
            rows.add(name, v)
    results = ctx.sweep(functools.partial(es_point, cfg=cfg),
                        grid(n=list(cfg.n_values), width=list(cfg.widths), seed=list(range(cfg.seeds))),
                        seed=cfg.seed, desc="early-stopping points")
    interp = ctx.sweep(functools.partial(interp_point, cfg=cfg),
                       grid(ratio=list(cfg.interp_ratios), seed=list(range(cfg.interp_seeds))),
                       seed=cfg.seed, desc="long-time RF points")
    rows.extend(_gather(results))
    rows.extend(_gather(interp))

    ns = np.array(cfg.n_values, float)
    kernel = {}
    with blas_threads(1):
        for n in cfg.n_values:
            refs = [_kernel_reference(cfg, n, s) for s in range(cfg.seeds)]
            kernel[n] = refs
            for key in ("kernel_s_star", "kernel_risk_min", "kernel_risk_inf"):
                vals = np.array([r[key] for r in refs])
                rows.add(f"{key}_mean" if key != "kernel_s_star" else "kernel_s_star_gmean",
                         float(np.exp(np.mean(np.log(vals)))) if key == "kernel_s_star" else float(np.mean(vals)), n=n)
        interp_kernel = [_kernel_reference(cfg, cfg.interp_n, s) for s in range(cfg.interp_seeds)]
    rows.add("interp_kernel_risk_inf_mean", float(np.mean([r["kernel_risk_inf"] for r in interp_kernel])))
    rows.add("interp_kernel_risk_min_mean", float(np.mean([r["kernel_risk_min"] for r in interp_kernel])))

    summary, scaling, itab = summarize_es(cfg, results, interp, f_norm)
    rows.extend(summary)
    ratios = np.array(cfg.interp_ratios)
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(n_values=ns, widths=np.array(cfg.widths, float), interp_ratios=ratios,
                        **{f"interp_{k}": v for k, v in itab.items()},
                        **{f"s_star_m{m}": scaling[m]["s_star"] for m in cfg.widths})

    curves = {}
    for r in results:
        if r.params["seed"] == 0 and "risk_nn" in r.arrays:
            curves[(r.params["width"], r.params["n"])] = r.arrays
    title = (rf"$d={cfg.d}$, noise sd ${cfg.noise:g}$, $\beta={cfg.beta_c:g}/m$, $\eta_0={eta0:.3g}$; "
             r"replicate 0; solid: network (GD), dashed: random features (exact), $\bullet$: minimum, "
             r"$\blacktriangledown$: $s=\sqrt{n}$")
    ns_text = ", ".join(str(n) for n in cfg.n_values)
    ms_text = ", ".join(str(m) for m in cfg.widths)
    ctx.save_figure(
        _fig.plot_test_risk(curves, cfg.widths, cfg.n_values, title=title), "test_risk_vs_time",
        caption=(f"Test risk ‖f − f*‖² on {cfg.n_test} points against the natural time s = m t (log–log), one panel "
                 f"per width m ∈ {{{ms_text}}}, one colour per n ∈ {{{ns_text}}} (training labels with Gaussian "
                 f"noise of sd {cfg.noise:g}, replicate 0): the network by GD (solid, {cfg.steps} steps of η₀/m, "
                 f"η₀ = {eta0:.3g}), the random-feature model from the same initialization followed exactly "
                 f"(dashed), the network's minimum (dot) and the time s = √n of the rule t = √n/m (triangle)."))
    ctx.save_figure(
        _fig.plot_early_stopping_scaling(ns, scaling, kernel, f_norm,
                                         title=rf"mean over {cfg.seeds} replicate(s); $d={cfg.d}$, noise sd "
                                               rf"${cfg.noise:g}$"), "early_stopping_scaling",
        caption=(f"(a) Natural time s* of the smallest test risk and (b) that smallest (early-stopped) risk against "
                 f"the number of training samples n ∈ {{{ns_text}}} (log–log), for the network at each width "
                 f"m ∈ {{{ms_text}}} (mean over {cfg.seeds} replicate(s), sd bars) and the kernel limit m = ∞; "
                 f"guides s = √n, s = ½‖f*‖²_H √n and ∝ n^-1/2, and the kernel interpolant's risk at t = ∞."))
    ctx.save_figure(
        _fig.plot_long_time_rf(ratios, itab, interp_kernel,
                               title=rf"random features at $n={cfg.interp_n}$, median and quartiles over "
                                     rf"{cfg.interp_seeds} replicates"), "long_time_rf",
        caption=(f"Random features at n = {cfg.interp_n}: (a) test risk of the t = ∞ limit (minimum-norm "
                 f"interpolant for m ≥ n, least squares for m < n) and of the best early-stopped time, and (b) "
                 f"λ_min of the feature Gram matrix, against m/n ∈ {{{', '.join(f'{q:g}' for q in cfg.interp_ratios)}}} "
                 f"(log–log; median and quartiles over {cfg.interp_seeds} replicates; dashed: the kernel m = ∞)."))


def _val(result, metric: str) -> float:
    return next((row["value"] for row in result.rows if row["metric"] == metric), float("nan"))


def _gmean_rows(A: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.exp(nanmean_rows(np.log(np.where(A > 0, A, np.nan))))


def _nanmedian_rows(A: np.ndarray) -> np.ndarray:
    out = np.full(A.shape[0], np.nan)
    for i, row in enumerate(A):
        v = row[np.isfinite(row)]
        if v.size:
            out[i] = float(np.median(v))
    return out


def summarize_es(cfg: EarlyStoppingConfig, results, interp, f_norm: float):
    """Replicate summaries per (n, width): geometric-mean ``s*``, mean best risk and its sd, the
    random-feature ``t = ∞`` risk, the network–RF agreement, the mean-curve exponents in ``n``;
    per ``m/n``: mean and median of the long-time, early-stopped risk and ``λ_min``, and where the
    median long-time risk peaks. NaN (diverged) entries are left out; rows only for finite values.
    Returns ``(rows, scaling, itab)``."""
    rows = _Rows()

    def add(metric, v, **ids):
        if np.isfinite(v):
            rows.add(metric, v, **ids)

    def table(metric, **where):
        A = np.full((len(cfg.n_values), cfg.seeds), np.nan)
        for r in results:
            if all(r.params[k] == v for k, v in where.items()):
                A[cfg.n_values.index(r.params["n"]), r.params["seed"]] = _val(r, metric)
        return A

    ns = np.array(cfg.n_values, float)
    scaling = {}
    for m in cfg.widths:
        s_g = _gmean_rows(table("s_star_nn", width=m))
        risk_min = (nanmean_rows(table("risk_min_nn", width=m)), summarize(table("risk_min_nn", width=m))[1])
        risk_inf = (nanmean_rows(table("risk_inf_rf", width=m)), summarize(table("risk_inf_rf", width=m))[1])
        rule = (nanmean_rows(table("risk_at_sqrt_n_rf", width=m)), summarize(table("risk_at_sqrt_n_rf", width=m))[1])
        diffs = table("nn_rf_max_rel_diff", width=m)
        diffs_min = table("nn_rf_rel_diff_at_min", width=m)
        with np.errstate(invalid="ignore", divide="ignore"):
            ends = table("risk_end_nn", width=m) / table("risk_min_nn", width=m)
        for i, n in enumerate(cfg.n_values):
            add("s_star_gmean", s_g[i], n=n, width=m)
            add("s_star_over_sqrt_n", s_g[i] / math.sqrt(n), n=n, width=m)
            if math.isfinite(f_norm):
                add("s_star_over_rule", s_g[i] / (0.5 * f_norm**2 * math.sqrt(n)), n=n, width=m)
            add("risk_min_mean", risk_min[0][i], n=n, width=m)
            add("risk_min_std", risk_min[1][i], n=n, width=m)
            add("risk_inf_rf_mean", risk_inf[0][i], n=n, width=m)
            add("risk_at_sqrt_n_mean", rule[0][i], n=n, width=m)
        add("s_star_exponent", _slope(ns, s_g), width=m)
        add("risk_min_exponent", _slope(ns, risk_min[0]), width=m)
        for name, A, f in (("nn_rf_max_rel_diff_max", diffs, np.max), ("nn_rf_rel_diff_at_min_max", diffs_min, np.max),
                           ("end_over_min_risk_min", ends, np.min)):
            v = A[np.isfinite(A)]
            if v.size:
                add(name, float(f(v)), width=m)
        scaling[m] = {"s_star": s_g, "risk_min": risk_min, "risk_inf": risk_inf, "rule": rule}
    expo = [_slope(ns, scaling[m]["s_star"]) for m in cfg.widths]
    expo = [e for e in expo if np.isfinite(e)]
    if expo:
        add("s_star_exponent_mean", float(np.mean(expo)))

    ratios = np.array(cfg.interp_ratios)
    itab = {}
    for metric in ("interp_risk_inf", "interp_risk_min", "interp_lambda_min"):
        A = np.full((len(ratios), cfg.interp_seeds), np.nan)
        for r in interp:
            A[cfg.interp_ratios.index(r.params["ratio"]), r.params["seed"]] = _val(r, metric)
        itab[metric] = A
        mean, med = nanmean_rows(A), _nanmedian_rows(A)
        for i, q in enumerate(cfg.interp_ratios):
            add(f"{metric}_mean", mean[i], ratio=q)
            add(f"{metric}_median", med[i], ratio=q)
    med_inf = _nanmedian_rows(itab["interp_risk_inf"])
    if np.isfinite(med_inf).any():
        peak = int(np.nanargmax(med_inf))
        add("interp_peak_ratio", ratios[peak])
        add("interp_peak_over_early_stopped", med_inf[peak] / _nanmedian_rows(itab["interp_risk_min"])[peak])
        add("interp_peak_over_largest_ratio", med_inf[peak] / med_inf[-1])
    return rows, scaling, itab


register(Experiment(
    name="ema-wu2019-early-stopping", paper=PAPER, config=EarlyStoppingConfig, run=run_early_stopping,
    summary="Test risk vs training time for several (m, n): minimum vs t = sqrt(n)/m, best risk vs n; "
            "long-time (min-norm) random features around m = n",
    presets={"laptop": {},
             "paper": {"n_values": (100, 200, 400, 800, 1600, 3200), "widths": (3200, 12800), "time": 1e6,
                       "steps": 20_000, "records": 60, "n_test": 4000, "seeds": 5, "interp_n": 400,
                       "interp_seeds": 10}},
    grid_fields=("seeds", "widths", "n_values", "interp_ratios", "interp_seeds"),
    claims=_claims.EARLY_STOPPING_CLAIMS, cost=early_stopping_cost))
