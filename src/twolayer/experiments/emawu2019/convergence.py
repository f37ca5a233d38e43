r"""``ema-wu2019-convergence``: exponential decay of the training risk at the rate ``2 m λ_n``.

E, Ma, Wu (2019/2020), papers.md §2.2: in function space the network with ``a = O(β)`` small
follows ``u̇ = −m K^{(m)}(u − y)``, ``K^{(m)} → K``, ``K_ij = k₀(x_i, x_j)/n``; so the empirical
risk ``R̂ = (1/2n) Σ (f(x_i) − y_i)²`` decays exponentially, late in training like
``exp(−2 m λ_n t)``, ``λ_n = λ_min(K)``, whatever the labels (the factor 2 comes from the squared
loss; the paper's constant was not retrieved). One network per (width, replicate) is trained on
true and on random labels (a batch of two sharing the initialization); the late-time rate is
fitted over the window where ``late_ratio ≥ R̂/R̂(0) > floor_ratio`` and divided by ``2 m λ_n``
(``rate_ratio``), by ``2 m λ_min(K^{(m)}(0))`` of the finite-width Gram at initialization
(``rate_ratio_empirical``) and by the rate of the kernel-predicted curve over the same window
(``rate_ratio_kernel_curve``). A point whose GD diverges (``m`` below ``n``: the width-``m``
Gram's ``λ_max`` exceeds the kernel's, so ``η₀`` from the kernel is too large) records
``diverged_at_step`` and ``lr_over_finite_width_limit`` instead of its rates.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..._errors import InputError
from .. import Experiment, RunContext, register, summarize
from .._common import Rows as _Rows, checkpointing, gather as _gather
from ._shared import (INIT_KEY, LABEL_SETS, PAPER, RANDOM_KEY, DivergenceError, _check_positive,
                      _check_step, _check_target, _k0, _provenance, _rng, _single_thread, _sorted_unique, _ss,
                      _train_sample, diverged_rows, nanmean_rows)
from . import claims as _claims
from . import figures as _fig


@dataclass(frozen=True)
class ConvergenceConfig:
    """``ema-wu2019-convergence``. Defaults = laptop preset: ``d = 20``, ``n = 50`` (``λ_n``
    large enough, condition number ≈ 230, for the exponential phase to show within 2,500 steps),
    widths 100 … 6,400, ``β = 1/m``, natural step ``η₀ = 0.9 · 2n/λ_max`` of the ``k₀`` Gram
    matrix, 2,500 steps recorded at 101 linearly spaced steps; the late window is where the risk
    is below ``late_ratio`` × its start and above ``floor_ratio`` × its start (floating point);
    3 replicates. About 20–50 s on 2 cores.

    Paper preset: ``n = 100`` (λ_n ≈ 4× smaller, condition number ≈ 850), widths 100 … 25,600,
    20,000 steps, 3 replicates.
    """

    d: int = 20
    n: int = 50
    target: str = "sections"
    target_features: int = 4
    seed: int = 0
    seeds: int = 3
    widths: tuple[int, ...] = (100, 400, 1600, 6400)
    beta_c: float = 1.0
    lr_fraction: float = 0.9
    steps: int = 2500
    records: int = 101
    late_ratio: float = 1e-6
    floor_ratio: float = 1e-24

    def __post_init__(self):
        for name in ("d", "n", "seeds", "steps"):
            _check_positive(name, getattr(self, name), True)
        _check_positive("beta_c", self.beta_c)
        _check_target(self.target, self.target_features)
        object.__setattr__(self, "widths", _sorted_unique("widths", self.widths, int, minimum=1))
        if not 0 < self.lr_fraction < 1:
            raise InputError(f"lr_fraction must lie in (0, 1), got {self.lr_fraction}")
        if not (isinstance(self.records, int) and self.records >= 10):
            raise InputError(f"records must be an integer >= 10, got {self.records!r}")
        if not 0 < self.floor_ratio < self.late_ratio < 1:
            raise InputError(f"need 0 < floor_ratio < late_ratio < 1, got {self.floor_ratio}, {self.late_ratio}")


@functools.lru_cache(maxsize=4)
def conv_prep(cfg: ConvergenceConfig, s: int):
    """Data, labels, the spectrum of ``K = k₀/n`` and the natural step of replicate ``s``."""
    from ...spectra import spectrum

    X, f, _ = _train_sample(cfg.d, cfg.n, cfg.seed, s, cfg.target, cfg.target_features, 0.0)
    Y = np.stack([f, _rng(cfg.seed, RANDOM_KEY, s).choice(np.array([-1.0, 1.0]), size=cfg.n)])
    spec = spectrum(_k0(X) / cfg.n)
    # the step does not depend on the widths (a grid field): the network's extra β²H∞/n part of
    # the tangent kernel is O(c²/m²); _check_step refuses a width where it would matter
    eta0 = cfg.lr_fraction * spec.max_stable_lr()
    return X, Y, spec, eta0


def late_window(loss: np.ndarray, late_ratio: float, floor_ratio: float, minimum: int = 5) -> np.ndarray:
    """Boolean mask of the late-time records: ``floor < L/L(0) ≤ late``; if fewer than
    ``minimum``, the last ``minimum`` records above the floor."""
    rel = loss / loss[0]
    above = np.isfinite(rel) & (rel > floor_ratio)
    w = above & (rel <= late_ratio)
    if w.sum() < minimum:
        idx = np.flatnonzero(above)[-minimum:]
        w = np.zeros_like(above)
        w[idx] = True
    return w


def fit_rate(t: np.ndarray, loss: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """``(rate, R²)`` of ``log L = c − rate·t`` over ``mask``."""
    x, z = t[mask], np.log(loss[mask])
    coef = np.polyfit(x, z, 1)
    resid = z - np.polyval(coef, x)
    ss = float(np.sum((z - z.mean()) ** 2))
    return float(-coef[0]), (1.0 - float(np.sum(resid**2)) / ss) if ss > 0 else 1.0


@_single_thread
def conv_point(params: dict, *, cfg: ConvergenceConfig):
    """One (width, replicate): one network trained on true and on random labels (a batch of two
    sharing the initialization ``(seed, 21, m, s)``), loss recorded at linearly spaced steps.
    A DivergenceError becomes ``diverged_at_step`` rows (it takes no seed from the sweep: the
    draws are keyed by purpose, see the package docstring)."""
    from dataclasses import replace

    from ...dynamics import empirical_reference, train
    from ...networks import init_network

    m, s = int(params["width"]), int(params["seed"])
    X, Y, spec, eta0 = conv_prep(cfg, s)
    one = init_network("ema-wu", cfg.d, m, seed=_ss(cfg.seed, INIT_KEY, m, s), beta=cfg.beta_c / m)
    net = replace(one, W=np.repeat(one.W, 2, axis=0), a=np.repeat(one.a, 2, axis=0))
    rec = np.unique(np.linspace(0, cfg.steps, cfg.records).round().astype(int))
    eig = np.linalg.eigvalsh(empirical_reference(one, X) / cfg.n) / m            # K^(m)(0), same units as K
    lam_emp, lam_emp_max = float(eig[0]), float(eig[-1])
    try:
        res = train(net, X, Y, lr=eta0 / m, steps=cfg.steps, record_steps=rec, gram_diagnostics=False,
                    **checkpointing())
    except DivergenceError as exc:
        rows = diverged_rows(exc, lr_over_limit=eta0 * lam_emp_max / 2.0, width=m, seed=s)
        rows.add("lambda_max_finite_width", lam_emp_max, width=m, seed=s)
        return rows, {}
    t = res.steps * (eta0 / m)                                    # the paper's time t
    lam_n = spec.lambda_min                                        # λ_min(K), K = k0/n
    discrete = -math.log1p(-eta0 * lam_n) / (eta0 * lam_n)        # GD step correction of the slowest mode
    rows = _Rows()
    for b, lab in enumerate(LABEL_SETS):
        loss, pred = res.metrics["loss"][b], res.metrics["predicted_loss_init"][b]
        w = late_window(loss, cfg.late_ratio, cfg.floor_ratio)
        rate, r2 = fit_rate(t, loss, w)
        wp = w & (pred > 0)
        rate_pred = fit_rate(t, pred, wp)[0] if wp.sum() >= 2 else float("nan")
        ids = dict(labels=lab, width=m, seed=s)
        for name, v in [("rate", rate), ("rate_2m_lambda", 2 * m * lam_n), ("rate_ratio", rate / (2 * m * lam_n)),
                        ("rate_ratio_empirical", rate / (2 * m * lam_emp)),
                        ("rate_ratio_kernel_curve", rate / rate_pred), ("fit_r2", r2),
                        ("window_start_natural_time", m * t[w][0]), ("window_end_natural_time", m * t[w][-1]),
                        ("initial_loss", loss[0]), ("final_loss", loss[-1]), ("discrete_factor", discrete)]:
            if np.isfinite(v):
                rows.add(name, v, **ids)
    rows.add("lr_over_finite_width_limit", eta0 * lam_emp_max / 2.0, width=m, seed=s)
    arrays = {"natural_time": res.steps * eta0, "loss": res.metrics["loss"], "predicted": res.metrics["predicted_loss_init"]}
    return rows, arrays


def _val(result, metric: str, lab: str) -> float:
    return next((row["value"] for row in result.rows if row["metric"] == metric and row.get("labels") == lab),
                float("nan"))


def summarize_convergence(cfg: ConvergenceConfig, results) -> tuple[_Rows, dict]:
    """Means/sds over replicates per (labels, width) of the rate ratios and R²; ``tabs[(lab,
    metric)] = (mean, sd)`` over ``cfg.widths`` (NaN where every replicate diverged)."""
    rows, tabs = _Rows(), {}
    for lab in LABEL_SETS:
        for metric in ("rate_ratio", "rate_ratio_empirical", "rate_ratio_kernel_curve", "fit_r2"):
            A = np.full((len(cfg.widths), cfg.seeds), np.nan)
            for r in results:
                A[cfg.widths.index(r.params["width"]), r.params["seed"]] = _val(r, metric, lab)
            tabs[(lab, metric)] = (nanmean_rows(A), summarize(A)[1])
            for i, m in enumerate(cfg.widths):
                for stat, v in zip(("mean", "std"), (tabs[(lab, metric)][0][i], tabs[(lab, metric)][1][i])):
                    if np.isfinite(v):
                        rows.add(f"{metric}_{stat}", v, labels=lab, width=m)
    return rows, tabs


def convergence_cost(cfg: ConvergenceConfig, n=None):
    """The arithmetic of a run (for the up-front estimate; an upper bound: a diverging point stops
    early). Per replicate: the spectrum of ``k₀/n`` (``2n²d``, one ``eigh`` of ``n``) and the step
    check (:func:`._shared.check_step_cost`). Per (width, replicate): the tangent Gram at
    initialization and its ``eigvalsh``, and one :func:`twolayer.dynamics.train` of a batch of two
    (true and random labels) for ``steps`` steps with the closed-form reference
    (:func:`.._common.train_cost`)."""
    from ..._cost import Cost
    from .._common import gram_flops, tangent_gram_flops, train_cost
    from ._shared import check_step_cost

    n, d = cfg.n, cfg.d
    records = len(np.unique(np.linspace(0, cfg.steps, cfg.records).round().astype(int)))
    cost = (Cost(gram_flops(n, n, d), eigh=[n]) + check_step_cost(n, d)).times(cfg.seeds)
    for m in cfg.widths:
        point = Cost(tangent_gram_flops(n, m, d), eigvals=[n]) + train_cost(n, d, m, cfg.steps, batch=2,
                                                                              records=records)
        cost = cost + point.times(cfg.seeds)
    cost.upper = True
    return cost


def run_convergence(cfg: ConvergenceConfig, ctx: RunContext) -> None:
    eta0s = [conv_prep(cfg, s)[3] for s in range(cfg.seeds)]
    for s, eta0 in enumerate(eta0s):
        _check_step(eta0, conv_prep(cfg, s)[0], cfg.beta_c / cfg.widths[0], "ema-wu2019-convergence")
    X, Y, spec, eta0 = conv_prep(cfg, 0)
    ctx.rf.set_data(_provenance(cfg, cfg.n, {"labels": "true: f*(x) (no noise); random: uniform +-1 per point"}))
    ctx.resolve(loss="1/2 n^-1 sum_i (y_i - f(x_i))^2", normalization="mean", natural_step_eta0=eta0s,
                lr_rule="eta = eta0 / m; eta0 = lr_fraction * 2n / lambda_max(k0 Gram) per replicate",
                gram="K_ij = k0(x_i, x_j) / n; predicted late rate of R = 2 m lambda_min(K) per unit t",
                beta_rule="beta = beta_c / m")
    rows = _Rows()
    for name, v in [("n", cfg.n), ("d", cfg.d), ("lambda_n", spec.lambda_min), ("lambda_max_K", spec.lambda_max),
                    ("condition_number_K", spec.condition_number), ("natural_step", eta0), ("steps", cfg.steps)]:
        rows.add(name, v)
    points = [dict(width=m, seed=s) for m in cfg.widths for s in range(cfg.seeds)]
    results = ctx.sweep(functools.partial(conv_point, cfg=cfg), points, seed=cfg.seed, desc="convergence points")
    rows.extend(_gather(results))
    summary, tabs = summarize_convergence(cfg, results)
    rows.extend(summary)
    ctx.rf.write_metrics(rows)
    # curves: the first replicate that did not diverge at each width
    first = {}
    for r in sorted(results, key=lambda r: r.params["seed"]):
        if "loss" in r.arrays and r.params["width"] not in first:
            first[r.params["width"]] = r
    ctx.rf.write_arrays(widths=np.array(cfg.widths, float), **{f"loss_m{m}": first[m].arrays["loss"] for m in first},
                        **({"natural_time": next(iter(first.values())).arrays["natural_time"]} if first else {}))
    curves = {m: (first[m].arrays["natural_time"], first[m].arrays["loss"], first[m].arrays["predicted"])
              for m in cfg.widths if m in first}
    diverged = sorted({r.params["width"] for r in results if "loss" not in r.arrays})
    title = (rf"$\hat R_n = \frac{{1}}{{2n}}\sum_i (f(x_i) - y_i)^2$; $d={cfg.d}$, $n={cfg.n}$, "
             rf"$\beta={cfg.beta_c:g}/m$, natural step $\eta_0={eta0:.3g}$ ($={cfg.lr_fraction:g}\times$ stable), "
             rf"$\lambda_n=\lambda_{{\min}}(K)={spec.lambda_min:.3g}$")
    ctx.save_figure(
        _fig.plot_convergence(curves, spec.lambda_min, np.array(cfg.widths, float), tabs, title=title), "risk_decay",
        caption=(f"Training risk (1/2n)Σ(f(x_i) − y_i)² against the natural time s = m t for true labels (a) and "
                 f"random ±1 labels (b), one curve per width m ∈ {{{', '.join(str(m) for m in curves)}}} "
                 f"(replicate 0, or the first that did not diverge), with the kernel prediction at the largest "
                 f"width and the slope of exp(−2 m λ_n t), λ_n = λ_min(k₀/n) = {spec.lambda_min:.3g}; (c) the "
                 f"late-time rate fitted where {cfg.late_ratio:g} ≥ R̂/R̂(0) > {cfg.floor_ratio:g}, divided by "
                 f"2 m λ_n and by 2 m λ_min of the width-m Gram at initialization, mean ± sd over {cfg.seeds} "
                 f"replicate(s)" + (f"; GD diverged at m = {', '.join(str(m) for m in diverged)} (no curve)"
                                    if diverged else "") + "."))


register(Experiment(
    name="ema-wu2019-convergence", paper=PAPER, config=ConvergenceConfig, run=run_convergence,
    summary="Exponential decay of the training risk for true and random labels; fitted late rate vs 2 m "
            "lambda_min(K), K = k0/n; diverging widths recorded",
    presets={"laptop": {},
             "paper": {"n": 100, "widths": (100, 400, 1600, 6400, 25600), "steps": 20_000, "records": 201,
                       "seeds": 3}},
    grid_fields=("seeds", "widths"),
    claims=_claims.CONVERGENCE_CLAIMS, cost=convergence_cost))
