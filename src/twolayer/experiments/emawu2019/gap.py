r"""``ema-wu2019-gap``: the two-layer network against random features from one initialization.

E, Ma, Wu (2019/2020), Case 1 (papers.md §2.3): for small ``β``, with high probability

.. math:: \sup_x |f_m(x;Θ_t) − f_m(x;Θ_0) − f^{ker}(x, m t)| ≤ c(δ)\,\frac{n \ln^{3/2} n}{λ_n^2}
          \Big(\frac{1}{\sqrt m} + β + \sqrt m β^3\Big)

uniformly over the training time ``t``. One initialization (``b_k`` uniform on ``S^{d−1}``,
``a_k = ±β``) is trained by GD with ``η = η₀/m`` as the network (``ema-wu``, both layers) and
as the random-feature model (``ema-wu-rf``, ``a`` only; followed exactly in closed form, GD on a
linear model), and compared on a test grid at ``records + 1`` equally spaced natural times
``s = m t = k η₀`` from 0 to ``time``. Per point (tidy rows, ids ``beta_rule, beta_c, width,
seed``):

* ``gap_sup_t = max_k sup_x |f_NN − f_RF|`` and ``gap_rms_t = max_k RMS_x`` — **throughout
  training** (the theorem's uniform-in-time statement); ``gap_sup``/``gap_rms`` at the final time;
* ``kernel_gap_sup_t = max_k sup_x |f_NN(x, t) − f_NN(x, 0) − f^ker(x, m t)|`` (the theorem's
  quantity, ``f^ker`` kernel GD on ``k₀`` from 0), ``kernel_gap_rms_t``, and the final-time ones;
* ``diverged_at_step`` instead, for a point whose GD diverged.

Summaries: means/sds over replicates per width, log–log slopes of the mean curves over the
upper half of the widths, and for fixed ``β`` the width from which the gap stops shrinking at
the bound's rate (every later local slope above ``−1/2``). The claims (``claims.py``) fit
slopes per replicate and decide with their standard error.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .. import Experiment, RunContext, register, summarize
from .._common import Rows as _Rows, gather as _gather, loglog_slope as _slope
from ._shared import (INIT_KEY, PAPER, DivergenceError, _check_positive, _check_step, _check_target,
                      _k0, _nets, _provenance, _rf_path, _single_thread, _sorted_unique, _ss, _test_sample,
                      _train_sample, diverged_rows, diverged_step, nanmean_rows)
from . import claims as _claims
from . import figures as _fig

#: A gap "stops shrinking" from the first width at which every later local log–log slope is above
#: this: the Case 1 bound's rate m^{-1/2}.
STOP_SLOPE = -0.5


@dataclass(frozen=True)
class GapConfig:
    """``ema-wu2019-gap``. Defaults = laptop preset: ``d = 10``, ``n = 100`` noiseless labels,
    500 test points, widths 10 … 2,560, ``β = 1/m`` and fixed ``β ∈ {0.03, 0.1, 0.3}``, natural
    time ``s = m t = 2,000`` in 100 steps (training risk falls to under 1% of its start), the
    gaps recorded at ``records + 1 = 11`` equally spaced times, 3 replicates.

    Paper preset (papers.md §2.4 suggests ``d = 10–20``, ``n = 100–1000``): ``d = 20``,
    ``n = 500``, 2,000 test points, widths 10 … 20,480, ``β = c/m`` with ``c ∈ {0.5, 1, 2}`` and
    fixed ``β ∈ {0.01, 0.03, 0.1, 0.3}``, 400 steps, 20 records, 5 replicates.
    """

    d: int = 10
    n: int = 100
    n_test: int = 500
    target: str = "sections"
    target_features: int = 4
    seed: int = 0
    seeds: int = 3
    widths: tuple[int, ...] = (10, 20, 40, 80, 160, 320, 640, 1280, 2560)
    beta_c: tuple[float, ...] = (1.0,)
    betas: tuple[float, ...] = (0.03, 0.1, 0.3)
    time: float = 2000.0
    steps: int = 100
    records: int = 10

    def __post_init__(self):
        for name in ("d", "n", "n_test", "seeds", "steps", "records"):
            _check_positive(name, getattr(self, name), True)
        _check_positive("time", self.time)
        _check_target(self.target, self.target_features)
        ws = _sorted_unique("widths", self.widths, int, minimum=2)
        object.__setattr__(self, "widths", ws)
        object.__setattr__(self, "beta_c", _sorted_unique("beta_c", self.beta_c, float, minimum=0)
                           if self.beta_c else ())
        object.__setattr__(self, "betas", _sorted_unique("betas", self.betas, float, minimum=0) if self.betas else ())
        if not self.beta_c and not self.betas:
            from ..._errors import InputError

            raise InputError("give at least one beta: beta_c (beta = c/m) or betas (fixed beta)")


def beta_settings(cfg: GapConfig) -> list[tuple[str, float]]:
    """``[("c/m", c), …, ("fixed", β), …]``: the β rules of the sweep."""
    return [("c/m", c) for c in cfg.beta_c] + [("fixed", b) for b in cfg.betas]


def record_steps(cfg: GapConfig) -> np.ndarray:
    """The ``records + 1`` steps ``round(j·steps/records)``, ``j = 0 … records`` (distinct)."""
    return np.unique(np.round(np.linspace(0, cfg.steps, cfg.records + 1)).astype(int))


@functools.lru_cache(maxsize=4)
def _gap_prep(d, n, n_test, kind, features, seed, s):
    from ...spectra import spectrum

    X, _, y = _train_sample(d, n, seed, s, kind, features, 0.0)
    Xt, ft = _test_sample(d, n_test, seed, kind, features)
    return X, y, Xt, ft, spectrum(_k0(X)), _k0(Xt, X)


@_single_thread
def gap_point(params: dict, *, cfg: GapConfig):
    """One (β rule, c, width, replicate): the network and the RF model from one init, trained for
    ``cfg.steps`` steps of ``η₀/m``; their test-grid outputs, and the kernel flow's, compared at
    every record. Seeds: init ``(seed, 21, m, s)``, data ``(seed, 22, s)`` (the sweep's per-point
    seed is not taken: the draws are keyed by purpose, see the package docstring)."""
    from ...dynamics import train
    from ...dynamics.reference import build_reference
    from ...networks import forward, get_parameterization

    rule, c, m, s = str(params["beta_rule"]), float(params["beta_c"]), int(params["width"]), int(params["seed"])
    beta = c / m if rule == "c/m" else c
    ids = dict(beta_rule=rule, beta_c=c, width=m, seed=s)
    X, y, Xt, ft, spec, Kt = _gap_prep(cfg.d, cfg.n, cfg.n_test, cfg.target, cfg.target_features, cfg.seed, s)
    eta0 = cfg.time / cfg.steps
    ks = record_steps(cfg)
    net, rf = _nets(cfg.d, m, _ss(cfg.seed, INIT_KEY, m, s), beta)
    W0, a0 = rf.W[0], rf.a[0]
    n = X.shape[0]
    done = 0
    try:
        # random features: GD on a linear model, exact at every record (train and test outputs at once)
        path, _ = _rf_path(np.maximum(X @ W0.T, 0), np.maximum(np.vstack([X, Xt]) @ W0.T, 0), a0, y, eta0, m)
        F_rf_all = path.outputs(ks)
        F_rf, U_rf = F_rf_all[:, n:], F_rf_all[:, :n]
        # the network: GD in segments between records (the same iterates as one run)
        f0 = forward(net, Xt)[0]
        F_nn, cur, first_loss, last_loss = [f0], net, None, None
        # the parameterization's closed-form reference kernel does not depend on the weights: one
        # kernel and one eigendecomposition for every segment (not one per record)
        p = get_parameterization(net.param)
        ref = build_reference(net, X, 1.0 / n if p.loss_normalization == "mean" else 1.0)
        if ref.kind != "closed form":
            ref = True  # an empirical H(0) belongs to each segment's start: rebuilt per segment
        for k in ks[1:]:
            res = train(cur, X, y, lr=eta0 / m, steps=int(k - done), n_records=2, gram_diagnostics=False,
                        reference=ref)
            first_loss = res.metrics["loss"][0, 0] if first_loss is None else first_loss
            last_loss = res.metrics["loss"][0, -1]
            cur, done = res.network, int(k)
            F_nn.append(forward(cur, Xt)[0])
        F_nn = np.array(F_nn)
    except DivergenceError as exc:
        return diverged_rows(exc, step=done + diverged_step(exc), **ids), {}
    F_ker = spec.predict(Kt, y, ks, eta0, normalization="mean")          # f^ker(x, m t), from 0
    gap, kgap = F_nn - F_rf, F_nn - f0[None, :] - F_ker
    sup, rms = np.max(np.abs(gap), axis=1), np.sqrt(np.mean(gap**2, axis=1))
    ksup, krms = np.max(np.abs(kgap), axis=1), np.sqrt(np.mean(kgap**2, axis=1))
    rows = _Rows()
    for name, v in [("beta", beta), ("gap_sup", sup[-1]), ("gap_rms", rms[-1]),
                    ("kernel_gap_sup", ksup[-1]), ("kernel_gap_rms", krms[-1]),
                    ("gap_sup_t", sup.max()), ("gap_rms_t", rms.max()),
                    ("kernel_gap_sup_t", ksup.max()), ("kernel_gap_rms_t", krms.max()),
                    ("gap_sup_t_at_natural_time", ks[int(np.argmax(sup))] * eta0),
                    ("init_output_rms", np.sqrt(np.mean(f0**2))),
                    ("train_loss_nn", last_loss if last_loss is not None else np.nan),
                    ("train_loss_rf", 0.5 * np.mean((U_rf[-1] - y) ** 2)),
                    ("initial_loss", 0.5 * np.mean((U_rf[0] - y) ** 2)),
                    ("test_risk_nn", np.mean((F_nn[-1] - ft) ** 2)), ("test_risk_rf", np.mean((F_rf[-1] - ft) ** 2)),
                    ("B_move", np.linalg.norm(cur.W[0] - net.W[0]))]:
        if np.isfinite(v):
            rows.add(name, v, **ids)
    return rows, {}


def _val(result, metric: str) -> float:
    return next((row["value"] for row in result.rows if row["metric"] == metric), float("nan"))


def stop_width(widths, local_slopes) -> int | None:
    """The first width from which every later local slope is above :data:`STOP_SLOPE`."""
    stop = None
    for i in range(len(local_slopes) - 1, -1, -1):
        if local_slopes[i] > STOP_SLOPE:
            stop = widths[i]
        else:
            break
    return stop


CURVE_METRICS = ("gap_sup_t", "gap_rms_t", "kernel_gap_sup_t", "kernel_gap_rms_t", "gap_sup", "gap_rms",
                 "kernel_gap_sup", "kernel_gap_rms", "train_loss_nn", "train_loss_rf")


def summarize_gap(cfg: GapConfig, results) -> tuple[_Rows, dict]:
    """Means/sds over replicates per width, mean-curve slopes over the upper half of the widths,
    where fixed-β gaps stop shrinking; ``(rows, curves)`` with ``curves[(rule, c)][metric] =
    (mean, sd)`` over ``cfg.widths`` (NaN where every replicate diverged)."""
    ws = np.array(cfg.widths, float)
    upper = ws >= np.median(ws)
    rows, curves = _Rows(), {}
    for rule, c in beta_settings(cfg):
        tab = {}
        for metric in CURVE_METRICS:
            A = np.full((len(cfg.widths), cfg.seeds), np.nan)
            for r in results:
                if r.params["beta_rule"] == rule and r.params["beta_c"] == c:
                    A[cfg.widths.index(r.params["width"]), r.params["seed"]] = _val(r, metric)
            mean = nanmean_rows(A)
            sd = summarize(A)[1]
            tab[metric] = (mean, sd)
            for i, m in enumerate(cfg.widths):
                if np.isfinite(mean[i]):
                    rows.add(f"{metric}_mean", mean[i], beta_rule=rule, beta_c=c, width=m)
                if np.isfinite(sd[i]):
                    rows.add(f"{metric}_std", sd[i], beta_rule=rule, beta_c=c, width=m)
        ids = dict(beta_rule=rule, beta_c=c)
        for metric in ("gap_sup_t", "gap_rms_t", "kernel_gap_sup_t", "kernel_gap_rms_t", "gap_sup", "gap_rms",
                       "kernel_gap_sup", "kernel_gap_rms"):
            v = _slope(ws[upper], tab[metric][0][upper])
            if np.isfinite(v):
                rows.add(f"{metric}_slope", v, **ids)
        with np.errstate(invalid="ignore", divide="ignore"):
            local = np.diff(np.log(tab["gap_sup_t"][0])) / np.diff(np.log(ws))
        stop = stop_width(cfg.widths, local) if np.all(np.isfinite(local)) else None
        rows.add("stops_shrinking", stop is not None, **ids)
        if stop is not None:
            rows.add("stop_width", stop, **ids)
            if rule == "fixed":
                rows.add("stop_width_times_beta", stop * c, **ids)
        for i, v in enumerate(local):
            if np.isfinite(v):
                rows.add("gap_sup_local_slope", v, beta_rule=rule, beta_c=c, width=cfg.widths[i + 1])
        curves[(rule, c)] = tab
    fixed = [c for r, c in beta_settings(cfg) if r == "fixed"]
    if len(fixed) >= 2:
        v = _slope(fixed, [curves[("fixed", c)]["gap_sup_t"][0][-1] for c in fixed])
        if np.isfinite(v):
            rows.add("plateau_beta_exponent", v)
    rows.add("width_fit_min", float(ws[upper][0]))
    return rows, curves


def gap_cost(cfg: GapConfig, n=None):
    """The arithmetic of a run (for the up-front estimate; an upper bound: a diverging point stops
    early). Per replicate: the step check (:func:`._shared.check_step_cost`) and the kernel set-up
    (``k₀`` Grams, one ``eigh`` of ``n``). Per (β rule, width, replicate): the random-feature path on
    the training and test points at the ``records + 1`` times (:func:`._shared.rf_path_cost`), the
    network's ``steps`` GD steps in ``records`` segments — each a :func:`twolayer.dynamics.train` call
    that builds the closed-form reference again (one ``eigh`` of ``n`` per segment) — its test outputs
    at every record, and the kernel flow's (``K_test V``)."""
    from ..._cost import Cost
    from .._common import forward_flops, gram_flops, train_cost
    from ._shared import check_step_cost, rf_path_cost

    n, d, nt = cfg.n, cfg.d, cfg.n_test
    ks = len(record_steps(cfg))
    setup = check_step_cost(n, d) + Cost(gram_flops(n, n, d) + gram_flops(nt, n, d), eigh=[n])
    cost = setup.times(cfg.seeds)
    for m in cfg.widths:
        point = (rf_path_cost(n, n + nt, d, m, ks) + train_cost(n, d, m, cfg.steps, records=0)
                 + train_cost(n, d, m, 0, records=2).times(ks - 2)
                 + Cost(ks * forward_flops(nt, d, m) + 2.0 * nt * n * (n + ks)))
        cost = cost + point.times(len(beta_settings(cfg)) * cfg.seeds)
    cost.upper = True
    return cost


def run_gap(cfg: GapConfig, ctx: RunContext) -> None:
    eta0 = cfg.time / cfg.steps
    settings = beta_settings(cfg)
    beta_max = max([c / cfg.widths[0] for r, c in settings if r == "c/m"] + [c for r, c in settings if r == "fixed"])
    limits = [_check_step(eta0, _train_sample(cfg.d, cfg.n, cfg.seed, s, cfg.target, cfg.target_features, 0.0)[0],
                          beta_max, "ema-wu2019-gap") for s in range(cfg.seeds)]
    ctx.rf.set_data(_provenance(cfg, cfg.n, {"n_test": cfg.n_test, "label_noise": 0.0}))
    ctx.resolve(loss="1/2 n^-1 sum_i (y_i - f(x_i))^2", normalization="mean", natural_step_eta0=eta0,
                lr_rule="eta = eta0 / m (natural time s = m t = k eta0)", natural_time=cfg.time,
                max_stable_natural_step=min(limits), record_steps=record_steps(cfg).tolist(),
                models="ema-wu (a and B trained, GD) vs ema-wu-rf (a only, exact GD path), same initialization",
                kernel_reference="f^ker(x, s): GD on k0 = kappa_1/d with step eta0 from f = 0 (theorem's form)",
                gap_over_time="sup over the recorded steps of the sup / RMS over the test grid")
    rows = _Rows()
    for name, v in [("n", cfg.n), ("d", cfg.d), ("n_test", cfg.n_test), ("natural_step", eta0),
                    ("natural_time", cfg.time), ("steps", cfg.steps), ("records", cfg.records)]:
        rows.add(name, v)
    points = [dict(beta_rule=r, beta_c=c, width=m, seed=s) for r, c in settings for m in cfg.widths
              for s in range(cfg.seeds)]
    results = ctx.sweep(functools.partial(gap_point, cfg=cfg), points, seed=cfg.seed, desc="gap points")
    rows.extend(_gather(results))
    summary, curves = summarize_gap(cfg, results)
    rows.extend(summary)
    ctx.rf.write_metrics(rows)
    ws = np.array(cfg.widths, float)
    ctx.rf.write_arrays(widths=ws, **{f"{k}_{rule.replace('/', '_over_')}_{c:g}": curves[(rule, c)][k][0]
                                      for rule, c in settings for k in ("gap_sup_t", "gap_rms_t", "kernel_gap_sup_t")})
    fit_from = float(ws[ws >= np.median(ws)][0])
    title = (rf"$d={cfg.d}$, $n={cfg.n}$, natural time $s = mt \leq {cfg.time:g}$ ({cfg.steps} steps of "
             rf"$\eta_0/m$, $\eta_0={eta0:.3g}$, {len(record_steps(cfg))} records); mean $\pm$ sd over "
             rf"{cfg.seeds} replicate(s)")
    stops = {}
    for key, tab in curves.items():
        if key[0] == "fixed":
            with np.errstate(invalid="ignore", divide="ignore"):
                local = np.diff(np.log(tab["gap_sup_t"][0])) / np.diff(np.log(ws))
            stops[key] = stop_width(cfg.widths, local) if np.all(np.isfinite(local)) else None
    settings_text = ", ".join(f"β = {c:g}/m" if r == "c/m" else f"β = {c:g}" for r, c in settings)
    ctx.save_figure(
        _fig.plot_gap(ws, curves, fit_from=fit_from, stops=stops, title=title), "gap_vs_width",
        caption=(f"Network (both layers trained) minus random features (first layer frozen) from the same "
                 f"initialization, on {cfg.n_test} test points: (a) the largest sup over x and (b) the largest RMS "
                 f"over x, each maximized over the {len(record_steps(cfg))} recorded natural times s = m t ≤ "
                 f"{cfg.time:g}, against the width m (log–log), for {settings_text}; mean ± sd over {cfg.seeds} "
                 f"replicate(s); guides ∝ m^-1/2 and ∝ m^-2 from m = {fit_from:g}; rings (panel a) mark, for a fixed β, "
                 f"the first width from which every later local log–log slope of the mean sup gap is above "
                 f"{STOP_SLOPE:g} (the gap may still fall there, only slower than m^-1/2)."))
    ctx.save_figure(
        _fig.plot_kernel_gap(ws, curves, fit_from=fit_from, title=title), "kernel_gap_vs_width",
        caption=(f"The quantity Case 1 bounds, |f_NN(x, t) − f_NN(x, 0) − f^ker(x, m t)| with f^ker kernel GD on "
                 f"k₀ = κ₁/d from 0: (a) sup and (b) RMS over {cfg.n_test} test points, maximized over the recorded "
                 f"times, against the width m (log–log) for {settings_text}; mean ± sd over {cfg.seeds} "
                 f"replicate(s); guide ∝ m^-1/2 from m = {fit_from:g}."))


register(Experiment(
    name="ema-wu2019-gap", paper=PAPER, config=GapConfig, run=run_gap,
    summary="NN (both layers) vs random features from one init at the same natural time m·t: sup/RMS gap over "
            "training vs width for beta = c/m and fixed beta, and the theorem's |f_NN − f_NN(0) − f^ker|",
    presets={"laptop": {},
             "paper": {"d": 20, "n": 500, "n_test": 2000, "widths": tuple(10 * 2**i for i in range(12)),
                       "beta_c": (0.5, 1.0, 2.0), "betas": (0.01, 0.03, 0.1, 0.3), "steps": 400, "records": 20,
                       "seeds": 5}},
    grid_fields=("seeds", "widths", "beta_c", "betas"),
    claims=_claims.GAP_CLAIMS, cost=gap_cost))
