r"""E, Ma, Wu (2019/2020): two-layer network vs. random features under gradient descent.

Three experiments test the statements of papers.md §2 (the paper's six figures were not
retrieved, so none of its numbers are claimed; every setting below is chosen to test a theorem):

``ema-wu2019-gap``
    One initialization (``b_k`` uniform on ``S^{d-1}``, ``a_k = ±β``) trained by GD as a
    two-layer network (both layers, ``ema-wu``) and as a random-feature model (``a`` only,
    ``ema-wu-rf``), compared at the same natural time ``s = m·t`` (step ``η = η₀/m``). Measured:
    the network–random-feature gap ``sup_x |f_NN − f_RF|`` and its RMS over a test grid, as a
    function of the width ``m``, for ``β = c/m`` (Case 2) and for fixed ``β`` (Case 1), and the
    theorem's own quantity ``sup_x |f_NN(x, t) − f_NN(x, 0) − f^ker(x, m t)|``. Case 1 bounds the
    latter by ``C (1/√m + β + √m β³)``. Reported: the fitted log–log slope over the upper half of
    the widths, and for fixed ``β`` the width where the gap stops shrinking (local slope above
    the bound's ``−1/2`` from there on).
``ema-wu2019-convergence``
    True and random labels trained by the same network (a batch of two, one initialization):
    the training risk ``R̂ = (1/2n) Σ (f(x_i) − y_i)²`` decays like ``exp(−2 m λ_n t)`` late in
    training, ``λ_n = λ_min(K)``, ``K_ij = k₀(x_i, x_j)/n`` (the factor 2 follows from
    ``u̇ = −m K (u − y)`` for the squared loss; the paper's constant was not retrieved). The
    fitted late-time rate is compared with ``2 m λ_n``, with the finite-width Gram matrix at
    initialization, and with a fit of the kernel-predicted curve over the same window.
``ema-wu2019-early-stopping``
    Noisy labels (Gaussian noise of standard deviation ``noise`` on the training labels only),
    population risk ``‖f − f*‖²`` on a test sample against training time for several ``(m, n)``:
    where the minimum falls against the theorem's early-stopping time ``t ≈ √n/m`` (natural time
    ``s = m t ≈ √n``; the constant the Lyapunov argument puts in front is ``‖f*‖²_H/2``, which is
    reported too), how the minimal risk scales with ``n`` (bound ``O(1/m + 1/√n)``), and the
    long-time limit of random features (the minimum-norm interpolant ``a_∞ = a₀ + Φ⁺(y − Φa₀)``)
    for ``m/n`` around 1, where ``λ_min(ΦΦᵀ)`` collapses.

Common setting [choices made here, papers.md §2.4]: inputs uniform on ``S^{d-1}``; target in the
paper's class, ``f*(x) = ∫ a*(b) σ(bᵀx) dπ₀(b)`` with ``a*(b) = A Σ_j s_j σ(b*_jᵀb)`` (so
``f* = A Σ_j s_j k₀(b*_j, ·)``, a finite sum of kernel sections: ``γ(f*) < ∞``,
``‖f*‖_H² = A² sᵀ k₀(B*, B*) s``), ``J = target_features`` directions ``b*_j`` with
alternating signs ``s_j``, ``A`` set so that ``E_x f*(x)² = 1`` (from a fixed reference sample of
4,096 points); ``target = "neurons"`` uses ``A Σ_j s_j σ(b*_jᵀx)`` instead (not in ``H_{k₀}``).
``k₀(x, x') = κ₁(x, x')/d`` (papers.md §2.2). Loss ``½n⁻¹Σ`` (``normalization = "mean"``).

Time: the network with step ``η = η₀/m`` follows kernel GD on ``k₀`` with step ``η₀`` in the
natural time ``s = m·t = k·η₀`` after ``k`` steps, whatever ``m``; every figure uses ``s``.

Seeds: a replicate ``s`` draws its training inputs from ``SeedSequence(seed, spawn_key=(22, s))``
(nested: the first ``n`` rows are the same for every ``n``), its label noise from ``(25, s)``,
random labels from ``(26, s)`` and the initialization of width ``m`` from ``(21, m, s)`` (the
network and the random-feature model share it; every ``β`` uses the same draws, so ``β`` acts
as a common-random-numbers factor). The target uses ``(23,)`` and ``(23, 1)``, the test grid
``(24,)``. Each point runs with one BLAS thread, so ``--jobs 1`` and ``--jobs 2`` give identical
numbers.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .._errors import InputError
from . import Experiment, RunContext, register, summarize
from ._common import (
    loglog_slope as _slope,
    seed_sequence as _ss,
    rng as _rng,
    check_positive as _check_positive,
    Rows as _Rows,
    gather as _gather,
    value as _value,
)

PAPER = ("E, Ma, Wu. A comparative analysis of the optimization and generalization property of two-layer neural "
         "network and random feature models under gradient descent dynamics. Sci. China Math. 63:1235-1258 "
         "(2020); arXiv:1904.04326")

INIT_KEY, DATA_KEY, TARGET_KEY, TEST_KEY, NOISE_KEY, RANDOM_KEY = 21, 22, 23, 24, 25, 26
TARGETS = ("sections", "neurons")
LABEL_SETS = ("true", "random")
_REFERENCE_SAMPLE = 4096

#: The network–RF gap "stops shrinking" at the first width from which every local log–log slope
#: is above this (the Case 1 bound's rate m^{-1/2}).
STOP_SLOPE = -0.5
#: Convergence: |fitted rate / (2 m λ_n) − 1| allowed at the largest width.
RATE_TOLERANCE = 0.15
#: Early stopping: accepted range of the fitted exponent of s* in n (the rule t ≈ √n/m gives 1/2).
SSTAR_EXPONENT_RANGE = (0.25, 0.75)


# ------------------------------------------------------------------------------ helpers
def _sorted_unique(name: str, values, kind=float, minimum: int = 1, positive: bool = True) -> tuple:
    vals = tuple(kind(v) for v in values)
    if len(vals) < minimum or len(set(vals)) != len(vals) or (positive and any(v <= 0 for v in vals)):
        raise InputError(f"{name} must be at least {minimum} distinct positive value(s), got {values!r}")
    return tuple(sorted(vals))


def _check_target(target: str, features: int) -> None:
    if target not in TARGETS:
        raise InputError(f"target must be one of {', '.join(TARGETS)}, got {target!r}")
    _check_positive("target_features", features, True)


def _single_thread(func):
    """Run a point with one BLAS thread: small matrices gain nothing from more, and the numbers
    then do not depend on ``--jobs`` (a last point run in-process would otherwise use all cores)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover - comes with scikit-learn
            return func(*args, **kwargs)
        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper


# ------------------------------------------------------------------------------ data
def _sphere(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    """``n`` points uniform on ``S^{d-1}``; the first rows do not depend on ``n`` (nested samples)."""
    G = rng.standard_normal((n, d))
    return G / np.linalg.norm(G, axis=1, keepdims=True)


def _k0(X, Z=None) -> np.ndarray:
    """``k₀(x, z) = E_{b∼U(S^{d−1})}[σ(bᵀx)σ(bᵀz)] = κ₁(x, z)/d`` (papers.md §2.2)."""
    from ..kernels import random_features_kernel

    return random_features_kernel(X, Z) / np.shape(X)[1]


def _raw_target(kind: str, X: np.ndarray, Bs: np.ndarray, signs: np.ndarray) -> np.ndarray:
    F = _k0(X, Bs) if kind == "sections" else np.maximum(X @ Bs.T, 0.0)
    return F @ signs


@functools.lru_cache(maxsize=16)
def _target(kind: str, d: int, features: int, seed: int) -> tuple:
    """``(B*, s, A, ‖f*‖_H)`` of the target (root seed only: the same function for every point)."""
    Bs = _sphere(_rng(seed, TARGET_KEY), features, d)
    signs = np.where(np.arange(features) % 2 == 0, 1.0, -1.0)
    ref = _sphere(_rng(seed, TARGET_KEY, 1), _REFERENCE_SAMPLE, d)
    A = 1.0 / math.sqrt(float(np.mean(_raw_target(kind, ref, Bs, signs) ** 2)))
    norm = A * math.sqrt(float(signs @ _k0(Bs) @ signs)) if kind == "sections" else float("inf")
    return Bs, signs, A, norm


def _f_star(kind: str, d: int, features: int, seed: int, X: np.ndarray) -> np.ndarray:
    Bs, signs, A, _ = _target(kind, d, features, seed)
    return A * _raw_target(kind, X, Bs, signs)


def _frozen(*arrays):
    for a in arrays:
        a.setflags(write=False)
    return arrays


@functools.lru_cache(maxsize=16)
def _train_sample(d: int, n: int, seed: int, s: int, kind: str, features: int, noise: float) -> tuple:
    """``(X, f*(X), y)`` of replicate ``s``: nested inputs, labels ``f*(x) + noise·ξ``."""
    X = _sphere(_rng(seed, DATA_KEY, s), n, d)
    f = _f_star(kind, d, features, seed, X)
    y = f + noise * _rng(seed, NOISE_KEY, s).standard_normal(n) if noise else f.copy()
    return _frozen(X, f, y)


@functools.lru_cache(maxsize=4)
def _test_sample(d: int, n_test: int, seed: int, kind: str, features: int) -> tuple:
    Xt = _sphere(_rng(seed, TEST_KEY), n_test, d)
    return _frozen(Xt, _f_star(kind, d, features, seed, Xt))


def _provenance(cfg, n_text, extra: dict | None = None) -> dict:
    _, _, A, norm = _target(cfg.target, cfg.d, cfg.target_features, cfg.seed)
    desc = ("f*(x) = A sum_j s_j k0(b*_j, x), k0 = kappa_1/d (finite sum of kernel sections: a*(b) = A sum_j s_j "
            "relu(b*_j.b), in H_k0)" if cfg.target == "sections"
            else "f*(x) = A sum_j s_j relu(b*_j.x) (single neurons; not in H_k0)")
    out = {"source": "sphere", "inputs": f"uniform on the unit sphere S^{cfg.d - 1}", "d": cfg.d, "n": n_text,
           "target": desc, "target_features": cfg.target_features, "target_signs": "alternating +1, -1",
           "target_scale_A": A, "target_normalization": f"E_x f*(x)^2 = 1 on a fixed reference sample of "
                                                        f"{_REFERENCE_SAMPLE} points",
           "target_rkhs_norm": norm if math.isfinite(norm) else "not in H_k0",
           "nested_samples": True,
           "settings": "chosen here to test the theorems (the paper's six figures were not retrieved; papers.md "
                       "section 2.4)",
           "seed_keys": {"init (m, replicate)": INIT_KEY, "train inputs (replicate)": DATA_KEY,
                         "target": TARGET_KEY, "test grid": TEST_KEY, "label noise (replicate)": NOISE_KEY,
                         "random labels (replicate)": RANDOM_KEY}}
    out.update(extra or {})
    return out


def _sym_lambda_max(A: np.ndarray) -> float:
    import scipy.linalg as sla

    n = A.shape[0]
    return float(sla.eigh(A, eigvals_only=True, subset_by_index=[n - 1, n - 1])[0])


def _check_step(eta0: float, X: np.ndarray, beta_max: float, what: str) -> float:
    """Largest stable natural step ``2n/λ_max(k₀ + β²H∞)`` of the network on ``X``; refuse ``eta0``
    above it (the network's tangent kernel per natural step is ``(k₀ + β² H∞)/n``)."""
    from ..kernels import first_layer_ntk

    n = X.shape[0]
    lam = _sym_lambda_max(_k0(X) + beta_max**2 * first_layer_ntk(X))
    limit = 2.0 * n / lam
    if not eta0 < limit:
        raise InputError(f"{what}: the natural step eta0 = {eta0:.4g} is not below 2n/lambda_max(k0 + beta^2 H) = "
                         f"{limit:.4g} (n = {n}, beta = {beta_max:.3g}); raise steps or lower time "
                         f"(eta0 = time/steps)")
    return limit


def _nets(d: int, m: int, seed: np.random.SeedSequence, beta: float, batch: int = 1):
    """The network and the random-feature model from one initialization (same draws)."""
    from ..networks import init_network

    return (init_network("ema-wu", d, m, seed=seed, beta=beta, batch=batch),
            init_network("ema-wu-rf", d, m, seed=seed, beta=beta, batch=batch))


# =============================================================================== gap
@dataclass(frozen=True)
class GapConfig:
    """``ema-wu2019-gap``. Defaults = laptop preset: ``d = 10``, ``n = 100`` noiseless labels,
    500 test points, widths 10 … 2,560, ``β = 1/m`` and fixed ``β ∈ {0.03, 0.1, 0.3}``, natural
    time ``s = m t = 2,000`` in 100 steps (training risk falls to under 1% of its start), 3
    replicates; about 10 s on 2 cores.

    Paper preset (papers.md §2.4 suggests ``d = 10–20``, ``n = 100–1000``): ``d = 20``,
    ``n = 500``, 2,000 test points, widths 10 … 20,480, ``β = c/m`` with ``c ∈ {0.5, 1, 2}`` and
    fixed ``β ∈ {0.01, 0.03, 0.1, 0.3}``, 400 steps, 5 replicates.
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

    def __post_init__(self):
        for name in ("d", "n", "n_test", "seeds", "steps"):
            _check_positive(name, getattr(self, name), True)
        _check_positive("time", self.time)
        _check_target(self.target, self.target_features)
        ws = _sorted_unique("widths", self.widths, int, minimum=2)
        object.__setattr__(self, "widths", ws)
        object.__setattr__(self, "beta_c", _sorted_unique("beta_c", self.beta_c, float, minimum=0)
                           if self.beta_c else ())
        object.__setattr__(self, "betas", _sorted_unique("betas", self.betas, float, minimum=0) if self.betas else ())
        if not self.beta_c and not self.betas:
            raise InputError("give at least one beta: beta_c (beta = c/m) or betas (fixed beta)")


def _beta_settings(cfg: GapConfig) -> list[tuple[str, float]]:
    return [("c/m", c) for c in cfg.beta_c] + [("fixed", b) for b in cfg.betas]


def _beta_label(rule: str, c: float) -> str:
    if rule == "c/m":
        return r"$\beta = 1/m$" if c == 1 else rf"$\beta = {c:g}/m$"
    return rf"$\beta = {c:g}$"


@functools.lru_cache(maxsize=4)
def _gap_prep(d, n, n_test, kind, features, seed, s):
    from ..spectra import spectrum

    X, _, y = _train_sample(d, n, seed, s, kind, features, 0.0)
    Xt, ft = _test_sample(d, n_test, seed, kind, features)
    return X, y, Xt, ft, spectrum(_k0(X)), _k0(Xt, X)


@_single_thread
def _gap_point(params: dict, seed_seq, *, cfg: GapConfig):
    """One (β rule, c, width, replicate): the network and the RF model from one init, trained
    for ``cfg.steps`` steps of ``η₀/m``; their outputs on the test grid and the kernel flow's."""
    from ..dynamics import train
    from ..networks import forward

    rule, c, m, s = str(params["beta_rule"]), float(params["beta_c"]), int(params["width"]), int(params["seed"])
    beta = c / m if rule == "c/m" else c
    X, y, Xt, ft, spec, Kt = _gap_prep(cfg.d, cfg.n, cfg.n_test, cfg.target, cfg.target_features, cfg.seed, s)
    eta0 = cfg.time / cfg.steps
    net, rf = _nets(cfg.d, m, _ss(cfg.seed, INIT_KEY, m, s), beta)
    res_nn = train(net, X, y, lr=eta0 / m, steps=cfg.steps, n_records=2, gram_diagnostics=False)
    res_rf = train(rf, X, y, lr=eta0 / m, steps=cfg.steps, n_records=2, gram_diagnostics=False)
    f_nn, f_rf = forward(res_nn.network, Xt)[0], forward(res_rf.network, Xt)[0]
    f0 = forward(net, Xt)[0]
    f_ker = spec.predict(Kt, y, [cfg.steps], eta0, normalization="mean")[0]   # f^ker(x, m t), from 0
    gap, kgap = f_nn - f_rf, f_nn - f0 - f_ker
    ids = dict(beta_rule=rule, beta_c=c, width=m, seed=s)
    rows = _Rows()
    for name, v in [("beta", beta), ("gap_sup", np.max(np.abs(gap))), ("gap_rms", np.sqrt(np.mean(gap**2))),
                    ("kernel_gap_sup", np.max(np.abs(kgap))), ("kernel_gap_rms", np.sqrt(np.mean(kgap**2))),
                    ("init_output_rms", np.sqrt(np.mean(f0**2))),
                    ("train_loss_nn", res_nn.metrics["loss"][0, -1]), ("train_loss_rf", res_rf.metrics["loss"][0, -1]),
                    ("initial_loss", res_nn.metrics["loss"][0, 0]),
                    ("test_risk_nn", np.mean((f_nn - ft) ** 2)), ("test_risk_rf", np.mean((f_rf - ft) ** 2)),
                    ("a_gap", np.linalg.norm(res_nn.network.a[0] - res_rf.network.a[0])),
                    ("B_move", np.linalg.norm(res_nn.network.W[0] - net.W[0]))]:
        rows.add(name, v, **ids)
    return rows, {}


def run_gap(cfg: GapConfig, ctx: RunContext) -> None:
    eta0 = cfg.time / cfg.steps
    settings = _beta_settings(cfg)
    beta_max = max([c / cfg.widths[0] for r, c in settings if r == "c/m"] + [c for r, c in settings if r == "fixed"])
    limits = [_check_step(eta0, _train_sample(cfg.d, cfg.n, cfg.seed, s, cfg.target, cfg.target_features, 0.0)[0],
                          beta_max, "ema-wu2019-gap") for s in range(cfg.seeds)]
    ctx.rf.set_data(_provenance(cfg, cfg.n, {"n_test": cfg.n_test, "label_noise": 0.0}))
    ctx.resolve(loss="1/2 n^-1 sum_i (y_i - f(x_i))^2", normalization="mean", natural_step_eta0=eta0,
                lr_rule="eta = eta0 / m (natural time s = m t = k eta0)", natural_time=cfg.time,
                max_stable_natural_step=min(limits),
                models="ema-wu (a and B trained) vs ema-wu-rf (a only), same initialization",
                kernel_reference="f^ker(x, s): GD on k0 = kappa_1/d with step eta0 from f = 0 (theorem's form)")
    rows = _Rows()
    for name, v in [("n", cfg.n), ("d", cfg.d), ("n_test", cfg.n_test), ("natural_step", eta0),
                    ("natural_time", cfg.time), ("steps", cfg.steps)]:
        rows.add(name, v)
    points = [dict(beta_rule=r, beta_c=c, width=m, seed=s) for r, c in settings for m in cfg.widths
              for s in range(cfg.seeds)]
    results = ctx.sweep(functools.partial(_gap_point, cfg=cfg), points, seed=cfg.seed, desc="gap points")
    rows.extend(_gather(results))

    ws = np.array(cfg.widths, float)
    upper = ws >= np.median(ws)
    curves = {}
    for rule, c in settings:
        tab = {}
        for metric in ("gap_sup", "gap_rms", "kernel_gap_sup", "kernel_gap_rms", "train_loss_nn", "train_loss_rf"):
            A = np.full((len(cfg.widths), cfg.seeds), np.nan)
            for r in results:
                if r.params["beta_rule"] == rule and r.params["beta_c"] == c:
                    A[cfg.widths.index(r.params["width"]), r.params["seed"]] = _value(r, metric)
            tab[metric] = summarize(A)
            for i, m in enumerate(cfg.widths):
                rows.add(f"{metric}_mean", tab[metric][0][i], beta_rule=rule, beta_c=c, width=m)
                rows.add(f"{metric}_std", tab[metric][1][i], beta_rule=rule, beta_c=c, width=m)
        ids = dict(beta_rule=rule, beta_c=c)
        for metric in ("gap_sup", "gap_rms", "kernel_gap_sup", "kernel_gap_rms"):
            rows.add(f"{metric}_slope", _slope(ws[upper], tab[metric][0][upper]), **ids)
        local = np.diff(np.log(tab["gap_sup"][0])) / np.diff(np.log(ws))
        stop = _stop_width(cfg.widths, local)
        rows.add("stops_shrinking", stop is not None, **ids)
        if stop is not None:
            rows.add("stop_width", stop, **ids)
            if rule == "fixed":
                rows.add("stop_width_times_beta", stop * c, **ids)
        for i, v in enumerate(local):
            rows.add("gap_sup_local_slope", v, beta_rule=rule, beta_c=c, width=cfg.widths[i + 1])
        curves[(rule, c)] = tab
    fixed = [c for r, c in settings if r == "fixed"]
    if len(fixed) >= 2:
        rows.add("plateau_beta_exponent", _slope(fixed, [curves[("fixed", c)]["gap_sup"][0][-1] for c in fixed]))
    rows.add("width_fit_min", float(ws[upper][0]))
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(widths=ws, **{f"{k}_{rule.replace('/', '_over_')}_{c:g}": curves[(rule, c)][k][0]
                                      for rule, c in settings for k in ("gap_sup", "gap_rms", "kernel_gap_sup")})
    title = (rf"$d={cfg.d}$, $n={cfg.n}$, natural time $s = mt = {cfg.time:g}$ ({cfg.steps} steps of "
             rf"$\eta_0/m$, $\eta_0={eta0:.3g}$); mean $\pm$ sd over {cfg.seeds} replicate(s)")
    stops = {key: _stop_width(cfg.widths, np.diff(np.log(tab["gap_sup"][0])) / np.diff(np.log(ws)))
             for key, tab in curves.items() if key[0] == "fixed"}
    ctx.save_figure(plot_gap(ws, curves, fit_from=float(ws[upper][0]), stops=stops, title=title), "gap_vs_width")
    ctx.save_figure(plot_kernel_gap(ws, curves, fit_from=float(ws[upper][0]), title=title), "kernel_gap_vs_width")


def _stop_width(widths, local_slopes) -> int | None:
    """The first width from which every later local slope is above :data:`STOP_SLOPE`."""
    stop = None
    for i in range(len(local_slopes) - 1, -1, -1):
        if local_slopes[i] > STOP_SLOPE:
            stop = widths[i]
        else:
            break
    return stop


# ========================================================================= convergence
@dataclass(frozen=True)
class ConvergenceConfig:
    """``ema-wu2019-convergence``. Defaults = laptop preset: ``d = 20``, ``n = 50`` (``λ_n``
    large enough, condition number ≈ 230, for the exponential phase to show within 2,500 steps),
    widths 100 … 6,400, ``β = 1/m``, natural step ``η₀ = 0.9 · 2n/λ_max`` of the ``k₀`` Gram
    matrix, 2,500 steps recorded at 101 linearly spaced steps; the late window is where the risk
    is below ``late_ratio`` × its start and above ``floor_ratio`` × its start (floating point);
    2 replicates. About 15–35 s on 2 cores.

    Paper preset: ``n = 100`` (λ_n ≈ 4× smaller, condition number ≈ 850), widths 100 … 25,600,
    20,000 steps, 3 replicates.
    """

    d: int = 20
    n: int = 50
    target: str = "sections"
    target_features: int = 4
    seed: int = 0
    seeds: int = 2
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
def _conv_prep(cfg: ConvergenceConfig, s: int):
    """Data, labels, the spectrum of ``K = k₀/n`` and the natural step of replicate ``s``."""
    from ..spectra import spectrum

    X, f, _ = _train_sample(cfg.d, cfg.n, cfg.seed, s, cfg.target, cfg.target_features, 0.0)
    Y = np.stack([f, _rng(cfg.seed, RANDOM_KEY, s).choice(np.array([-1.0, 1.0]), size=cfg.n)])
    spec = spectrum(_k0(X) / cfg.n)
    # the step does not depend on the widths (a grid field): the network's extra β²H∞/n part of
    # the tangent kernel is O(c²/m²); _check_step refuses a width where it would matter
    eta0 = cfg.lr_fraction * 2.0 / spec.lambda_max
    return X, Y, spec, eta0


def _late_window(loss: np.ndarray, late_ratio: float, floor_ratio: float, minimum: int = 5) -> np.ndarray:
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


def _fit_rate(t: np.ndarray, loss: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """``(rate, R²)`` of ``log L = c − rate·t`` over ``mask``."""
    x, z = t[mask], np.log(loss[mask])
    coef = np.polyfit(x, z, 1)
    resid = z - np.polyval(coef, x)
    ss = float(np.sum((z - z.mean()) ** 2))
    return float(-coef[0]), (1.0 - float(np.sum(resid**2)) / ss) if ss > 0 else 1.0


@_single_thread
def _conv_point(params: dict, seed_seq, *, cfg: ConvergenceConfig):
    """One (width, replicate): one network trained on true and on random labels (a batch of two
    sharing the initialization), loss recorded at linearly spaced steps."""
    from dataclasses import replace

    from ..dynamics import empirical_reference, train
    from ..networks import init_network

    m, s = int(params["width"]), int(params["seed"])
    X, Y, spec, eta0 = _conv_prep(cfg, s)
    one = init_network("ema-wu", cfg.d, m, seed=_ss(cfg.seed, INIT_KEY, m, s), beta=cfg.beta_c / m)
    net = replace(one, W=np.repeat(one.W, 2, axis=0), a=np.repeat(one.a, 2, axis=0))
    rec = np.unique(np.linspace(0, cfg.steps, cfg.records).round().astype(int))
    res = train(net, X, Y, lr=eta0 / m, steps=cfg.steps, record_steps=rec, gram_diagnostics=False)
    t = res.steps * (eta0 / m)                                    # the paper's time t
    lam_n = spec.lambda_min                                        # λ_min(K), K = k0/n
    lam_emp = float(np.linalg.eigvalsh(empirical_reference(one, X) / cfg.n)[0]) / m
    discrete = -math.log1p(-eta0 * lam_n) / (eta0 * lam_n)        # GD step correction of the slowest mode
    rows = _Rows()
    for b, lab in enumerate(LABEL_SETS):
        loss, pred = res.metrics["loss"][b], res.metrics["predicted_loss_init"][b]
        w = _late_window(loss, cfg.late_ratio, cfg.floor_ratio)
        rate, r2 = _fit_rate(t, loss, w)
        wp = w & (pred > 0)
        rate_pred = _fit_rate(t, pred, wp)[0] if wp.sum() >= 2 else float("nan")
        ids = dict(labels=lab, width=m, seed=s)
        for name, v in [("rate", rate), ("rate_2m_lambda", 2 * m * lam_n), ("rate_ratio", rate / (2 * m * lam_n)),
                        ("rate_ratio_empirical", rate / (2 * m * lam_emp)),
                        ("rate_ratio_kernel_curve", rate / rate_pred), ("fit_r2", r2),
                        ("window_start_natural_time", m * t[w][0]), ("window_end_natural_time", m * t[w][-1]),
                        ("initial_loss", loss[0]), ("final_loss", loss[-1]), ("discrete_factor", discrete)]:
            rows.add(name, v, **ids)
    arrays = {"natural_time": res.steps * eta0, "loss": res.metrics["loss"], "predicted": res.metrics["predicted_loss_init"]}
    return rows, arrays


def run_convergence(cfg: ConvergenceConfig, ctx: RunContext) -> None:
    eta0s = [_conv_prep(cfg, s)[3] for s in range(cfg.seeds)]
    for s, eta0 in enumerate(eta0s):
        _check_step(eta0, _conv_prep(cfg, s)[0], cfg.beta_c / cfg.widths[0], "ema-wu2019-convergence")
    X, Y, spec, eta0 = _conv_prep(cfg, 0)
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
    results = ctx.sweep(functools.partial(_conv_point, cfg=cfg), points, seed=cfg.seed, desc="convergence points")
    rows.extend(_gather(results))
    tabs = {}
    for lab in LABEL_SETS:
        for metric in ("rate_ratio", "rate_ratio_empirical", "rate_ratio_kernel_curve", "fit_r2"):
            A = np.full((len(cfg.widths), cfg.seeds), np.nan)
            for r in results:
                A[cfg.widths.index(r.params["width"]), r.params["seed"]] = next(
                    row["value"] for row in r.rows if row["metric"] == metric and row["labels"] == lab)
            tabs[(lab, metric)] = summarize(A)
            for i, m in enumerate(cfg.widths):
                rows.add(f"{metric}_mean", tabs[(lab, metric)][0][i], labels=lab, width=m)
                rows.add(f"{metric}_std", tabs[(lab, metric)][1][i], labels=lab, width=m)
    ctx.rf.write_metrics(rows)
    first = {r.params["width"]: r for r in results if r.params["seed"] == 0}
    ctx.rf.write_arrays(widths=np.array(cfg.widths, float), **{f"loss_m{m}": first[m].arrays["loss"] for m in cfg.widths},
                        natural_time=first[cfg.widths[0]].arrays["natural_time"])
    curves = {m: (first[m].arrays["natural_time"], first[m].arrays["loss"], first[m].arrays["predicted"])
              for m in cfg.widths}
    title = (rf"$\hat R_n = \frac{{1}}{{2n}}\sum_i (f(x_i) - y_i)^2$; $d={cfg.d}$, $n={cfg.n}$, "
             rf"$\beta={cfg.beta_c:g}/m$, natural step $\eta_0={eta0:.3g}$ ($={cfg.lr_fraction:g}\times$ stable), "
             rf"$\lambda_n=\lambda_{{\min}}(K)={spec.lambda_min:.3g}$")
    ctx.save_figure(plot_convergence(curves, spec.lambda_min, np.array(cfg.widths, float), tabs, title=title),
                    "risk_decay")


# ====================================================================== early stopping
@dataclass(frozen=True)
class EarlyStoppingConfig:
    """``ema-wu2019-early-stopping``. Defaults = laptop preset: ``d = 10``, ``n ∈ {50, 100, 200,
    400}`` (nested samples), widths ``{400, 3200}`` (``m ≥ n`` as the theorem assumes), label
    noise of standard deviation 0.5 on a unit-RMS target, 1,000 test points, ``β = 1/m``,
    natural time up to ``10⁵`` in 2,000 steps for the network (the random-feature model and the
    kernel are followed exactly, in closed form, to ``rf_time_max`` and to ``t = ∞``), 2
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
    seeds: int = 2
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


class _LinearPath:
    """Exact GD path of a linear model in function space: test outputs after ``k`` steps are
    ``f0 + T (1 − (1 − x)^k)`` (``T`` n_test × r, ``x`` the per-step contraction rates, ``0 < x < 2``),
    and ``f0 + T·1`` at ``k = ∞``; ``flow`` evaluates gradient flow ``1 − e^{−x k}`` at real ``k``."""

    def __init__(self, T: np.ndarray, x: np.ndarray, f0: np.ndarray):
        self.T, self.x, self.f0 = T, x, f0

    def outputs(self, k, flow: bool = False) -> np.ndarray:
        k = np.asarray(k, dtype=float)[:, None]
        x = self.x[None, :]
        with np.errstate(over="ignore", invalid="ignore"):
            if flow:
                g = np.where(np.isinf(k), 1.0, -np.expm1(-x * np.where(np.isinf(k), 0.0, k)))
            else:
                g = np.where(np.isinf(k), 1.0, 1.0 - np.power(1.0 - x, np.where(np.isinf(k), 0.0, k)))
        return self.f0[None, :] + g @ self.T.T


def _rf_path(Phi, Phit, a0, y, eta0: float, m: int) -> tuple[_LinearPath, float]:
    """GD on ``a`` of ``f = Φa`` with ``lr = η₀/m`` and the loss ``½n⁻¹‖Φa − y‖²`` from ``a0``:
    ``a(k) = a0 + V diag((1 − (1 − x)^k)/σ) Uᵀ(y − Φa0)``, ``x = η₀σ²/(mn)``, and
    ``a(∞) = a0 + Φ⁺(y − Φa0)``
    (the minimum-norm interpolant for ``m ≥ n``, least squares for ``m < n``). Also returns
    ``σ_min(Φ)²/(mn)`` (the smallest eigenvalue of ``ΦΦᵀ/(mn)`` or ``ΦᵀΦ/(mn)``)."""
    n = Phi.shape[0]
    U, S, Vt = np.linalg.svd(Phi, full_matrices=False)
    keep = S > S[0] * max(Phi.shape) * np.finfo(float).eps
    U, S, Vt = U[:, keep], S[keep], Vt[keep]
    coef = (U.T @ (y - Phi @ a0)) / S
    T = (Phit @ Vt.T) * coef[None, :]
    lam_min = float(S[-1] ** 2) / (m * n) if keep.all() else 0.0
    x = eta0 * S**2 / (m * n)
    if not x[0] < 2:
        raise InputError(f"the natural step eta0 = {eta0:.4g} makes GD on the random-feature model of width {m} "
                         f"diverge (it needs eta0 < 2/lambda_max(Phi Phi^T/(mn)) = {2 * eta0 / x[0]:.4g}); raise "
                         f"steps or lower time (eta0 = time/steps)")
    return _LinearPath(T, x, Phit @ a0), lam_min


def _kernel_path(X, y, Xt, eta0: float) -> _LinearPath:
    """Kernel GD on ``k₀`` (the ``m → ∞`` limit) from ``f = 0`` with natural step ``η₀``."""
    n = X.shape[0]
    lam, V = np.linalg.eigh(_k0(X))
    T = (_k0(Xt, X) @ V) * ((V.T @ y) / lam)[None, :]
    return _LinearPath(T, eta0 * lam / n, np.zeros(Xt.shape[0]))


def _time_grid(eta0: float, t_max: float, count: int = 121) -> np.ndarray:
    """Integer steps log-spaced from 1 to ``t_max/η₀``."""
    return np.unique(np.round(np.logspace(0, math.log10(max(t_max / eta0, 1.0)), count))).astype(float)


def _risk(F: np.ndarray, ft: np.ndarray) -> np.ndarray:
    return np.mean((F - ft[None, :]) ** 2, axis=1)


@_single_thread
def _es_point(params: dict, seed_seq, *, cfg: EarlyStoppingConfig):
    """One (n, width, replicate): the network trained by GD with the test risk recorded, and the
    random-feature model from the same initialization followed exactly to ``t = ∞``."""
    from ..dynamics import record_schedule, train

    n, m, s = int(params["n"]), int(params["width"]), int(params["seed"])
    X, _, y = _train_sample(cfg.d, n, cfg.seed, s, cfg.target, cfg.target_features, cfg.noise)
    Xt, ft = _test_sample(cfg.d, cfg.n_test, cfg.seed, cfg.target, cfg.target_features)
    eta0 = cfg.time / cfg.steps
    net, _ = _nets(cfg.d, m, _ss(cfg.seed, INIT_KEY, m, s), cfg.beta_c / m)
    res = train(net, X, y, lr=eta0 / m, steps=cfg.steps, X_test=Xt, y_test=ft,
                record_steps=record_schedule(cfg.steps, cfg.records), gram_diagnostics=False)
    k_nn = res.steps.astype(float)
    risk_nn = 2.0 * res.metrics["test_loss"][0]          # test_loss = ½ mean (f − f*)²
    W0, a0 = net.W[0], net.a[0]
    path, lam_emp = _rf_path(np.maximum(X @ W0.T, 0), np.maximum(Xt @ W0.T, 0), a0, y, eta0, m)
    k_rf = _time_grid(eta0, cfg.rf_time_max)
    risk_rf = _risk(path.outputs(k_rf), ft)
    risk_rf_nn_steps = _risk(path.outputs(k_nn), ft)
    risk_inf = float(_risk(path.outputs([np.inf]), ft)[0])
    sqrt_n = math.sqrt(n)
    risk_rule = float(_risk(path.outputs([sqrt_n / eta0], flow=True), ft)[0])
    j = 1 + int(np.argmin(risk_nn[1:]))
    i = int(np.argmin(risk_rf))
    ids = dict(n=n, width=m, seed=s)
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
def _interp_point(params: dict, seed_seq, *, cfg: EarlyStoppingConfig):
    """One (m/n, replicate) at ``n = interp_n``: the random-feature model's long-time limit, its
    best early-stopped risk and ``λ_min`` of its Gram matrix, all in closed form."""
    ratio, s = float(params["ratio"]), int(params["seed"])
    n = cfg.interp_n
    m = max(1, int(round(ratio * n)))
    X, _, y = _train_sample(cfg.d, n, cfg.seed, s, cfg.target, cfg.target_features, cfg.noise)
    Xt, ft = _test_sample(cfg.d, cfg.n_test, cfg.seed, cfg.target, cfg.target_features)
    eta0 = cfg.time / cfg.steps
    net, _ = _nets(cfg.d, m, _ss(cfg.seed, INIT_KEY, m, s), cfg.beta_c / m)
    W0, a0 = net.W[0], net.a[0]
    path, lam_emp = _rf_path(np.maximum(X @ W0.T, 0), np.maximum(Xt @ W0.T, 0), a0, y, eta0, m)
    k = _time_grid(eta0, cfg.rf_time_max)
    risk = _risk(path.outputs(k), ft)
    i = int(np.argmin(risk))
    ids = dict(ratio=ratio, width=m, seed=s)
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


def run_early_stopping(cfg: EarlyStoppingConfig, ctx: RunContext) -> None:
    from ..sweep import grid

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
    results = ctx.sweep(functools.partial(_es_point, cfg=cfg),
                        grid(n=list(cfg.n_values), width=list(cfg.widths), seed=list(range(cfg.seeds))),
                        seed=cfg.seed, desc="early-stopping points")
    interp = ctx.sweep(functools.partial(_interp_point, cfg=cfg),
                       grid(ratio=list(cfg.interp_ratios), seed=list(range(cfg.interp_seeds))),
                       seed=cfg.seed, desc="long-time RF points")
    rows.extend(_gather(results))
    rows.extend(_gather(interp))

    ns = np.array(cfg.n_values, float)
    kernel = {}
    with _one_blas_thread():
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

    def table(metric, **where):
        A = np.full((len(cfg.n_values), cfg.seeds), np.nan)
        for r in results:
            if all(r.params[k] == v for k, v in where.items()):
                A[cfg.n_values.index(r.params["n"]), r.params["seed"]] = _value(r, metric)
        return A

    scaling = {}
    for m in cfg.widths:
        S = table("s_star_nn", width=m)
        s_g = np.exp(np.mean(np.log(S), axis=1))
        risk_min = summarize(table("risk_min_nn", width=m))
        risk_inf = summarize(table("risk_inf_rf", width=m))
        rule = summarize(table("risk_at_sqrt_n_rf", width=m))
        diff = np.nanmax(table("nn_rf_max_rel_diff", width=m))
        diff_min = np.nanmax(table("nn_rf_rel_diff_at_min", width=m))
        interior = np.nanmin(table("risk_end_nn", width=m) / table("risk_min_nn", width=m))
        for i, n in enumerate(cfg.n_values):
            rows.add("s_star_gmean", s_g[i], n=n, width=m)
            rows.add("s_star_over_sqrt_n", s_g[i] / math.sqrt(n), n=n, width=m)
            if math.isfinite(f_norm):
                rows.add("s_star_over_rule", s_g[i] / (0.5 * f_norm**2 * math.sqrt(n)), n=n, width=m)
            rows.add("risk_min_mean", risk_min[0][i], n=n, width=m)
            rows.add("risk_min_std", risk_min[1][i], n=n, width=m)
            rows.add("risk_inf_rf_mean", risk_inf[0][i], n=n, width=m)
            rows.add("risk_at_sqrt_n_mean", rule[0][i], n=n, width=m)
        rows.add("s_star_exponent", _slope(ns, s_g), width=m)
        rows.add("risk_min_exponent", _slope(ns, risk_min[0]), width=m)
        rows.add("nn_rf_max_rel_diff_max", diff, width=m)
        rows.add("nn_rf_rel_diff_at_min_max", diff_min, width=m)
        rows.add("end_over_min_risk_min", interior, width=m)
        scaling[m] = {"s_star": s_g, "risk_min": risk_min, "risk_inf": risk_inf, "rule": rule}
    rows.add("s_star_exponent_mean", float(np.mean([_slope(ns, scaling[m]["s_star"]) for m in cfg.widths])))

    ratios = np.array(cfg.interp_ratios)
    itab = {}
    for metric in ("interp_risk_inf", "interp_risk_min", "interp_lambda_min"):
        A = np.full((len(ratios), cfg.interp_seeds), np.nan)
        for r in interp:
            A[cfg.interp_ratios.index(r.params["ratio"]), r.params["seed"]] = _value(r, metric)
        itab[metric] = A
        mean, sd = summarize(A)
        for i, q in enumerate(cfg.interp_ratios):
            rows.add(f"{metric}_mean", mean[i], ratio=q)
            rows.add(f"{metric}_median", float(np.median(A[i])), ratio=q)
    med_inf = np.median(itab["interp_risk_inf"], axis=1)
    peak = int(np.argmax(med_inf))
    rows.add("interp_peak_ratio", ratios[peak])
    rows.add("interp_peak_over_early_stopped", med_inf[peak] / float(np.median(itab["interp_risk_min"][peak])))
    rows.add("interp_peak_over_largest_ratio", med_inf[peak] / med_inf[-1])
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(n_values=ns, widths=np.array(cfg.widths, float), interp_ratios=ratios,
                        **{f"interp_{k}": v for k, v in itab.items()},
                        **{f"s_star_m{m}": scaling[m]["s_star"] for m in cfg.widths})

    curves = {}
    for r in results:
        if r.params["seed"] == 0:
            curves[(r.params["width"], r.params["n"])] = r.arrays
    title = (rf"$d={cfg.d}$, noise sd ${cfg.noise:g}$, $\beta={cfg.beta_c:g}/m$, $\eta_0={eta0:.3g}$; "
             r"replicate 0; solid: network (GD), dashed: random features (exact), $\bullet$: minimum, "
             r"$\blacktriangledown$: $s=\sqrt{n}$")
    ctx.save_figure(plot_test_risk(curves, cfg.widths, cfg.n_values, title=title), "test_risk_vs_time")
    ctx.save_figure(plot_early_stopping_scaling(ns, scaling, kernel, f_norm,
                                                title=rf"mean over {cfg.seeds} replicate(s); $d={cfg.d}$, noise sd "
                                                      rf"${cfg.noise:g}$"), "early_stopping_scaling")
    ctx.save_figure(plot_long_time_rf(ratios, itab, interp_kernel,
                                      title=rf"random features at $n={cfg.interp_n}$, median and quartiles over "
                                            rf"{cfg.interp_seeds} replicates"), "long_time_rf")


class _one_blas_thread:
    """Context manager: one BLAS thread (no-op without threadpoolctl)."""

    def __enter__(self):
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover
            self._ctx = None
            return self
        self._ctx = threadpool_limits(limits=1, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self._ctx is not None:
            self._ctx.restore_original_limits()
        return False


# ============================================================================== figures
def _plotting():
    from .. import plotting as P

    return P


def _int_ticks(ax, values) -> None:
    """Major ticks at ``values`` labelled plainly (no ``6×10¹``), no minor tick labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    ax.xaxis.set_major_locator(FixedLocator(list(values)))
    ax.xaxis.set_major_formatter(lambda v, pos: f"{v:g}")
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_minor_formatter(NullFormatter())


def plot_gap(widths, curves, *, fit_from: float, stops=None, title: str | None = None):
    """NN–RF gap (sup and RMS over the test grid) against the width, one colour per β setting,
    with the bound's ``m^{-1/2}`` and an ``m^{-2}`` guide (log–log); ``stops`` (β setting →
    width) are ringed: from there on the gap no longer shrinks at the bound's rate."""
    return _plot_gap_panels(widths, curves, ("gap_sup", "gap_rms"),
                            (r"$\sup_x |f_{NN}(x) - f_{RF}(x)|$", r"RMS$_x\, |f_{NN}(x) - f_{RF}(x)|$"),
                            ("(a) network vs. random features, sup", "(b) network vs. random features, RMS"),
                            fit_from, title, guides=(-0.5, -2.0), stops=stops or {})


def plot_kernel_gap(widths, curves, *, fit_from: float, title: str | None = None):
    """The theorem's quantity ``|f_NN(x,t) − f_NN(x,0) − f^ker(x, mt)|`` (sup and RMS) against the width."""
    return _plot_gap_panels(widths, curves, ("kernel_gap_sup", "kernel_gap_rms"),
                            (r"$\sup_x |f_{NN}(x,t) - f_{NN}(x,0) - f^{ker}(x,mt)|$",
                             r"RMS$_x\, |f_{NN}(x,t) - f_{NN}(x,0) - f^{ker}(x,mt)|$"),
                            ("(a) network vs. kernel limit, sup", "(b) network vs. kernel limit, RMS"),
                            fit_from, title, guides=(-0.5,), stops={})


def _plot_gap_panels(widths, curves, metrics, ylabels, titles, fit_from, title, guides, stops):
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        w = np.asarray(widths, float)
        fig = Figure(figsize=(12.0, 5.0), layout="constrained")
        axes = fig.subplots(1, 2)
        handles = []
        for j, ((rule, c), tab) in enumerate(curves.items()):
            color = P._CYCLE[j % len(P._CYCLE)]
            for ax, metric in zip(axes, metrics):
                mean, sd = tab[metric]
                mu = P._positive(mean)
                line = ax.plot(w, mu, "-o" if rule == "c/m" else "--s", color=color, label=_beta_label(rule, c),
                               lw=2.2 if rule == "c/m" else 1.6, ms=5)[0]
                lo = P._positive(np.maximum(mean - sd, mean * 0.05))
                ax.fill_between(w, lo, P._positive(mean + sd), color=color, alpha=0.15, lw=0)
                if ax is axes[0]:
                    handles.append(line)
        ringed = False
        for key, stop in stops.items():
            if stop is None:
                continue
            i = int(np.flatnonzero(w == stop)[0])
            for ax, metric in zip(axes, metrics):
                h = ax.plot([w[i]], [curves[key][metric][0][i]], "o", ms=15, mfc="none", mec="black", mew=1.3,
                            label="gap stops shrinking", zorder=5)[0]
            if not ringed:
                handles.append(h)
                ringed = True
        ref = next(iter(curves.values()))
        styles = {-0.5: (":", r"$\propto m^{-1/2}$ (Case 1 bound's rate)"), -2.0: ("-.", r"$\propto m^{-2}$")}
        for ax, metric in zip(axes, metrics):
            mean = np.asarray(ref[metric][0], float)
            i0 = int(np.searchsorted(w, fit_from))
            for g in guides:
                ls, lab = styles[g]
                gl = ax.plot(w[i0:], mean[i0] * (w[i0:] / w[i0]) ** g, ls, color=P._GREY, lw=1.4, label=lab)[0]
                if ax is axes[0]:
                    handles.append(gl)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("width $m$")
        for ax, yl, t in zip(axes, ylabels, titles):
            ax.set_ylabel(yl)
            ax.set_title(t)
        fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4))
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()


def plot_convergence(curves, lambda_n: float, widths, tabs, *, title: str | None = None):
    """(a, b) training risk against natural time ``m t`` for true and random labels, one colour
    per width, with the kernel prediction (dashed) and the slope ``exp(−2 λ_n m t)`` (grey);
    (c) fitted late rate / ``2 m λ_n`` against the width."""
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(14.0, 5.2), layout="constrained")
        axes = fig.subplots(1, 3)
        handles = []
        for b, lab in enumerate(LABEL_SETS):
            ax = axes[b]
            lows = []
            for j, (m, (s, loss, pred)) in enumerate(curves.items()):
                color = P._CYCLE[j % len(P._CYCLE)]
                h = ax.plot(s, P._positive(loss[b]), "-", color=color, label=f"network, $m = {m}$")[0]
                lows.append(loss[b])
                if b == 0:
                    handles.append(h)
            s, loss, pred = curves[max(curves)]
            h = ax.plot(s, P._positive(pred[b]), "--", color="black", lw=1.2,
                        label=rf"kernel prediction ($m = {max(curves)}$)")[0]
            if b == 0:
                handles.append(h)
            mid = len(s) // 2
            anchor = float(pred[b][mid]) if pred[b][mid] > 0 else float(np.max(pred[b]))
            h = ax.plot(s, anchor * 3.0 * np.exp(-2 * lambda_n * (s - s[mid])), ":", color=P._GREY, lw=1.8,
                        label=r"slope of $e^{-2 m \lambda_n t}$")[0]
            if b == 0:
                handles.append(h)
            lim = P._log_limits([np.concatenate(lows)], floor_ratio=1e-30)
            if lim:
                ax.set_ylim(*lim)
            ax.set_yscale("log")
            ax.ticklabel_format(axis="x", style="sci", scilimits=(0, 0))
            ax.set_xlabel(r"natural time $s = m\,t$")
            ax.set_ylabel(r"training risk $\hat R_n$")
            ax.set_title(f"({'ab'[b]}) {P.label_name(lab)}")
        fig.legend(handles=handles, loc="outside lower center", ncol=len(handles))
        ax = axes[2]
        for lab in LABEL_SETS:
            mean, sd = tabs[(lab, "rate_ratio")]
            ax.errorbar(widths, mean, yerr=sd, fmt="-o", color=P.label_color(lab), capsize=3,
                        label=f"{P.label_name(lab)}: fit / $2m\\lambda_n$")
            mean, _ = tabs[(lab, "rate_ratio_empirical")]
            ax.plot(widths, mean, ":^", color=P.label_color(lab), ms=5,
                    label=f"{P.label_name(lab)}: fit / $2m\\lambda_{{\\min}}(K^{{(m)}}(0))$")
        ax.axhspan(1 - RATE_TOLERANCE, 1 + RATE_TOLERANCE, color=P._GREY, alpha=0.1, lw=0)
        ax.axhline(1.0, color=P._GREY, ls="--", lw=1.2)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("width $m$")
        ax.set_ylabel("late-time rate / prediction")
        ax.set_title("(c) fitted rate vs. $2m\\lambda_n$")
        ax.legend(loc="upper right", fontsize=10)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()


def plot_test_risk(curves, widths, n_values, *, title: str | None = None):
    """Test risk against natural time, one panel per width, one colour per ``n``: the network
    (solid, GD records), the random-feature model from the same init (dashed, exact), the
    network's minimum (dot) and the rule's time ``s = √n`` (triangle on the time axis)."""
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.2 * len(widths) + 0.6, 5.2), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(widths), sharey=True))
        for ax, m in zip(axes, widths):
            for j, n in enumerate(n_values):
                arr = curves.get((m, n))
                if arr is None:
                    continue
                color = P._CYCLE[j % len(P._CYCLE)]
                s, r = arr["s_nn"][1:], arr["risk_nn"][1:]
                ax.plot(s, r, "-", color=color, lw=2.0, label=f"$n = {n}$")
                ax.plot(arr["s_rf"], arr["risk_rf"], "--", color=color, lw=1.1)
                i = int(np.argmin(r))
                ax.plot(s[i], r[i], "o", color=color, ms=7, mec="white")
                ax.plot([math.sqrt(n)], [0.0], "v", color=color, ms=9, transform=ax.get_xaxis_transform(),
                        clip_on=False)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(r"natural time $s = m\,t$")
            ax.set_title(f"width $m = {m}$")
        axes[0].set_ylabel(r"test risk $\|f - f^*\|^2$")
        axes[0].legend(loc="lower left", fontsize=10)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()


def plot_early_stopping_scaling(ns, scaling, kernel, f_norm: float, *, title: str | None = None):
    """(a) the optimal natural time ``s*`` against ``n`` with ``√n`` and ``‖f*‖²_H √n/2``;
    (b) the minimal test risk against ``n`` with an ``n^{-1/2}`` guide and the kernel limit."""
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12.0, 5.0), layout="constrained")
        a1, a2 = fig.subplots(1, 2)
        for j, (m, sc) in enumerate(scaling.items()):
            color = P._CYCLE[j % len(P._CYCLE)]
            a1.plot(ns, sc["s_star"], "-o", color=color, label=f"network, $m = {m}$")
            mean, sd = sc["risk_min"]
            a2.errorbar(ns, mean, yerr=sd, fmt="-o", color=color, capsize=3, label=f"network, $m = {m}$ (best $t$)")
        ks = np.array([np.exp(np.mean(np.log([r["kernel_s_star"] for r in kernel[n]]))) for n in kernel])
        kr = np.array([np.mean([r["kernel_risk_min"] for r in kernel[n]]) for n in kernel])
        a1.plot(ns, ks, "--d", color="black", lw=1.2, label=r"kernel limit $m=\infty$")
        a2.plot(ns, kr, "--d", color="black", lw=1.2, label=r"kernel limit $m=\infty$ (best $t$)")
        ki = np.array([np.mean([r["kernel_risk_inf"] for r in kernel[n]]) for n in kernel])
        a2.plot(ns, ki, "-.", color=P._GREY, lw=1.2, label=r"kernel limit, $t = \infty$ (interpolant)")
        a1.plot(ns, np.sqrt(ns), ":", color=P._GREY, lw=1.6, label=r"rule $s = \sqrt{n}$ ($t = \sqrt{n}/m$)")
        if math.isfinite(f_norm):
            a1.plot(ns, 0.5 * f_norm**2 * np.sqrt(ns), "-.", color=P._GREY, lw=1.6,
                    label=r"$s = \frac{1}{2}\|f^*\|_{H}^2\sqrt{n}$")
        a2.plot(ns, kr[0] * np.sqrt(ns[0] / ns), ":", color=P._GREY, lw=1.6, label=r"$\propto n^{-1/2}$")
        for ax in (a1, a2):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("training samples $n$")
            _int_ticks(ax, ns)
        a1.set_ylabel(r"natural time of the minimum, $s^* = m\,t^*$")
        a1.set_title("(a) where the test risk is smallest")
        a2.set_ylabel(r"test risk $\|f - f^*\|^2$")
        a2.set_title("(b) best early-stopped risk")
        a1.legend(loc="center right", fontsize=10)
        a2.legend(loc="upper right", fontsize=10)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()


def plot_long_time_rf(ratios, itab, kernel_refs, *, title: str | None = None):
    """(a) the random-feature model's long-time (minimum-norm / least-squares) test risk and its
    best early-stopped risk against ``m/n``; (b) ``λ_min`` of its Gram matrix."""
    P = _plotting()

    @P._styled
    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12.0, 5.0), layout="constrained")
        a1, a2 = fig.subplots(1, 2)
        for key, color, lab in (("interp_risk_inf", P.OKABE_ITO["vermillion"], r"long-time limit $t = \infty$"),
                                ("interp_risk_min", P.OKABE_ITO["blue"], r"early-stopped (best $t$)")):
            A = itab[key]
            med, lo, hi = np.median(A, axis=1), np.quantile(A, 0.25, axis=1), np.quantile(A, 0.75, axis=1)
            a1.plot(ratios, med, "-o", color=color, label=lab)
            a1.fill_between(ratios, lo, hi, color=color, alpha=0.18, lw=0)
        k_inf = float(np.mean([r["kernel_risk_inf"] for r in kernel_refs]))
        k_min = float(np.mean([r["kernel_risk_min"] for r in kernel_refs]))
        a1.axhline(k_inf, color=P.OKABE_ITO["vermillion"], ls="--", lw=1.1, label=r"kernel $m=\infty$, $t=\infty$")
        a1.axhline(k_min, color=P.OKABE_ITO["blue"], ls="--", lw=1.1, label=r"kernel $m=\infty$, best $t$")
        A = itab["interp_lambda_min"]
        a2.plot(ratios, P._positive(np.median(A, axis=1)), "-o", color=P.OKABE_ITO["green"])
        for ax in (a1, a2):
            ax.axvline(1.0, color=P._GREY, ls=":", lw=1.2)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("width / samples, $m/n$")
            _int_ticks(ax, [q for q in (0.25, 0.5, 1, 2, 4, 8, 16, 32) if ratios[0] <= q <= ratios[-1]])
        a1.set_ylabel(r"test risk $\|f - f^*\|^2$")
        a1.set_title("(a) random features: long time vs. early stopping")
        a2.set_ylabel(r"$\lambda_{\min}$ of $\Phi\Phi^\top/(mn)$ or $\Phi^\top\Phi/(mn)$")
        a2.set_title("(b) smallest eigenvalue of the feature Gram matrix")
        a1.legend(loc="upper right", fontsize=10)
        if title:
            fig.suptitle(title, fontsize=11)
        return fig

    return draw()


# ============================================================================== registry
register(Experiment(
    name="ema-wu2019-gap", paper=PAPER, config=GapConfig, run=run_gap,
    summary="NN (both layers) vs random features from one init at the same natural time m·t: sup/RMS gap vs "
            "width for beta = c/m and fixed beta; fitted slope and where the gap stops shrinking",
    presets={"laptop": {},
             "paper": {"d": 20, "n": 500, "n_test": 2000, "widths": tuple(10 * 2**i for i in range(12)),
                       "beta_c": (0.5, 1.0, 2.0), "betas": (0.01, 0.03, 0.1, 0.3), "steps": 400, "seeds": 5}},
    grid_fields=("seeds", "widths", "beta_c", "betas")))

register(Experiment(
    name="ema-wu2019-convergence", paper=PAPER, config=ConvergenceConfig, run=run_convergence,
    summary="Exponential decay of the training risk for true and random labels; fitted late rate vs 2 m "
            "lambda_min(K), K = k0/n",
    presets={"laptop": {},
             "paper": {"n": 100, "widths": (100, 400, 1600, 6400, 25600), "steps": 20_000, "records": 201,
                       "seeds": 3}},
    grid_fields=("seeds", "widths")))

register(Experiment(
    name="ema-wu2019-early-stopping", paper=PAPER, config=EarlyStoppingConfig, run=run_early_stopping,
    summary="Test risk vs training time for several (m, n): minimum vs t = sqrt(n)/m, best risk vs n; "
            "long-time (min-norm) random features around m = n",
    presets={"laptop": {},
             "paper": {"n_values": (100, 200, 400, 800, 1600, 3200), "widths": (3200, 12800), "time": 1e6,
                       "steps": 20_000, "records": 60, "n_test": 4000, "seeds": 5, "interp_n": 400,
                       "interp_seeds": 10}},
    grid_fields=("seeds", "widths", "n_values", "interp_ratios", "interp_seeds")))
