r"""Arora, Du, Hu, Li, Wang (ICML 2019): Figures 1 and 2, Theorem 6.1 and the movement of the weights.

Four experiments, each a frozen config → a sweep of independent points → tidy metrics → figures:

``arora2019-fig1``
    GD on true, random and worst-case labels (the unit eigenvector of ``λ_min(H∞)`` scaled to
    ``‖y‖² = n``), trained as one batch of three networks per seed, against the kernel
    prediction ``(1/2n)‖(I − ηH∞/n)^k y‖²`` (eq. 8); eigenvalues of ``H∞`` with the label
    projections ``|v_iᵀy|`` (Fig. 1a–d).
``arora2019-fig2``
    Label-noise portion ``p`` (train and test labels) × seeds: the complexity
    ``sqrt(2yᵀH∞⁻¹y/n)`` (eq. 10) of the training labels and, after GD to convergence, the
    network's test ℓ1 loss and classification error (Fig. 2), with the exact expectation of the
    complexity under noise and the kernel predictor's test error for comparison.
``arora2019-thm6``
    Theorem 6.1 / Corollary 6.2: ``sqrt(yᵀH∞⁻¹y)`` of synthetic targets (linear, quadratic
    ``xᵀAx``, ``cos(βᵀx) − 1``, ``z·arctan(z/2)``, a sum) against the bound as ``n`` grows on
    nested samples: it must stay below the bound and level off.
``arora2019-movement``
    Width × init scale κ: ``‖W(T) − W(0)‖_F`` against ``sqrt(rᵀH∞⁻¹r)``, ``r = y − u(0)``
    (§5.2), the largest per-neuron movement against Lemma C.1 and its ``m^{-1/2}`` decay, and
    the fraction of flipped activation patterns: where the kernel regime holds and where not.

Loss convention: ``½n⁻¹Σ`` (``normalization = "mean"``), which makes every curve start near
0.5 as in the paper's Fig. 1 (papers.md §1.4); the learning rate refers to it and is recorded
with the largest stable one ``2n/λ_max(H∞)``. Seeds: a replicate ``s`` uses
``SeedSequence(seed, spawn_key=(KEY, s))`` for each random choice (``KEY`` = 11 init, 12
random labels, 13 train-label noise, 14 test-label noise, 15 synthetic sample), so every
point's numbers depend only on the root seed and the point, and noise levels share their
draws (common random numbers).
"""

from __future__ import annotations

import contextlib
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
    table as _table,
)

PAPER = "Arora, Du, Hu, Li, Wang. Fine-grained analysis of optimization and generalization for " \
        "overparameterized two-layer neural networks. ICML 2019"

INIT_KEY, RANDOM_KEY, NOISE_TRAIN_KEY, NOISE_TEST_KEY, SAMPLE_KEY = 11, 12, 13, 14, 15
LABEL_SETS = ("true", "random", "worst_case")


# ------------------------------------------------------------------------------ shared
@functools.lru_cache(maxsize=4)
def _prepared(data: str, classes: tuple, n_train, n_test, seed: int):
    """Data set, ``H∞`` of the training inputs, its spectrum and Cholesky solver, and the
    test × train kernel: computed once per process (sweep workers share it across points)."""
    from ..bounds import KernelSolver
    from ..data import load
    from ..kernels import first_layer_ntk
    from ..spectra import spectrum

    ds = load(data, classes=classes, n_train=n_train, n_test=n_test, seed=seed)
    H = first_layer_ntk(ds.X)
    spec = spectrum(H)
    solver = KernelSolver(H, spectrum=spec)
    K_test = first_layer_ntk(ds.X_test, ds.X) if ds.has_test else None
    return ds, H, spec, solver, K_test


def _prep(cfg):
    return _prepared(cfg.data, tuple(cfg.classes), cfg.n_train, cfg.n_test, cfg.seed)


def _learning_rate(cfg, spec, n: int) -> tuple[float, float]:
    """``(η, 2n/λ_max)`` in the ``½n⁻¹Σ`` convention: ``cfg.lr`` or ``cfg.lr_fraction`` × the maximum."""
    max_lr = spec.max_stable_lr("mean")
    lr = cfg.lr if cfg.lr is not None else cfg.lr_fraction * max_lr
    if not 0 < lr < max_lr:
        raise InputError(f"lr = {lr:g} is not in (0, 2n/lambda_max = {max_lr:g}) for this data (loss 1/2 n^-1 sum); "
                         f"use --set lr=... below it or --set lr_fraction=0.5")
    return float(lr), float(max_lr)


def _start(cfg, ctx: RunContext):
    """Common start of the GD experiments: data and kernel (:func:`_prepared`), provenance, the
    learning rate (recorded in ``config.toml``) and the spectrum rows. Returns
    ``(prepared, lr, max_lr, rows)``."""
    prepared = _prep(cfg)
    ds, _, spec, _, _ = prepared
    ctx.rf.set_data(ds.provenance)
    lr, max_lr = _learning_rate(cfg, spec, ds.n)
    _record_lr(ctx, lr, max_lr)
    rows = _Rows()
    _spectrum_rows(spec, ds.n, ds.d, rows.add)
    return prepared, lr, max_lr, rows


@contextlib.contextmanager
def _steps_bar(steps: int, desc: str):
    """A progress bar over the GD steps of one point (shown only for points run in this process)."""
    from .._progress import step_progress

    bar = step_progress(steps, desc)
    try:
        yield bar
    finally:
        bar.close()


def _record_lr(ctx: RunContext, lr: float, max_lr: float) -> None:
    ctx.resolve(loss="1/2 n^-1 sum_i (y_i - f(x_i))^2", normalization="mean", lr=lr, max_stable_lr=max_lr,
                lr_fraction_of_max=lr / max_lr, stable_lr_rule="2n / lambda_max(H-infinity)",
                algorithm="full-batch GD, first layer only (Arora et al. Sec. 3.1)")


def _spectrum_rows(spec, n: int, d: int, add) -> None:
    trace = float(np.sum(spec.eigenvalues))
    for name, v in [("n", n), ("d", d), ("lambda_min", spec.lambda_min), ("lambda_max", spec.lambda_max),
                    ("condition_number", spec.condition_number), ("trace_H", trace), ("trace_H_expected", n / 2),
                    ("random_complexity_expected", math.sqrt(2.0 * float(np.sum(1.0 / spec.eigenvalues)) / n))]:
        add(name, v)


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
    from ..spectra import worst_case_labels

    random = _rng(cfg.seed, RANDOM_KEY).choice(np.array([-1.0, 1.0]), size=ds.n)
    return np.stack([ds.y, random, worst_case_labels(spec)])


def _fig1_point(params: dict, seed_seq, *, cfg: Fig1Config):
    """One seed: three networks (true, random, worst-case labels) trained as one batch."""
    from ..dynamics import train
    from ..networks import init_network

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
    from .. import plotting as P
    from ..sweep import grid

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
    from ..data import apply_label_noise

    y, idx = apply_label_noise(ds.y, p, _rng(cfg.seed, NOISE_TRAIN_KEY, s))
    yt, _ = apply_label_noise(ds.y_test, p, _rng(cfg.seed, NOISE_TEST_KEY, s))
    return y, yt, int(idx.size)


def _fig2_point(params: dict, seed_seq, *, cfg: Fig2Config):
    """One (noise portion, seed): complexity of the noisy training labels, then GD to convergence."""
    from ..bounds import complexity, generalization_bound
    from ..dynamics import train
    from ..networks import init_network

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
    from .. import plotting as P
    from ..bounds import complexity, expected_noisy_complexity
    from ..data import label_noise_count
    from ..sweep import grid

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


# ============================================================================ Theorem 6.1
THM6_TARGETS = ("linear", "quadratic", "cos", "arctan", "linear+quadratic+cos")


@dataclass(frozen=True)
class Thm6Config:
    """``arora2019-thm6``. Inputs: uniform points on the sphere ``S^{d-1}`` (default, ``d = 10``)
    or the bundled digits images (``data = "digits"``: all ten classes, unit norm, ``d = 64``);
    the targets are functions of the inputs. Laptop preset: n = 50 … 3,200, 3 nested samples,
    ~15 s. On the digits the values stay far below the bound but are still growing at n = 1,600
    (the images fill a narrow cone of the sphere, where H∞ is ill-conditioned)."""

    data: str = "sphere"
    d: int = 10
    seed: int = 0
    seeds: int = 3
    n_values: tuple[int, ...] = (50, 100, 200, 400, 800, 1600, 3200)
    targets: tuple[str, ...] = THM6_TARGETS
    beta_norm: float = 1.0

    def __post_init__(self):
        if self.data not in ("digits", "sphere"):
            raise InputError(f"arora2019-thm6 takes data 'digits' (images as inputs) or 'sphere', got {self.data!r}")
        _check_positive("seeds", self.seeds, True)
        ns = tuple(int(n) for n in self.n_values)
        if len(ns) < 2 or any(n < 2 for n in ns) or len(set(ns)) != len(ns):
            raise InputError(f"n_values must be at least two distinct sizes >= 2, got {self.n_values!r}")
        object.__setattr__(self, "n_values", tuple(sorted(ns)))
        if self.data == "digits" and ns[-1] > 1797:
            raise InputError(f"the digits have 1,797 images; n_values go up to {ns[-1]} (use data=sphere for more)")
        if not 0 < self.beta_norm < 2:
            raise InputError(f"beta_norm must lie in (0, 2) (the arctan series converges for |z| < 2), got {self.beta_norm}")
        if not self.targets:
            raise InputError("targets must name at least one target")


@functools.lru_cache(maxsize=2)
def _thm6_inputs(data: str, d: int, n_max: int, seed: int, s: int) -> np.ndarray:
    """Nested samples: the first ``n`` rows of one draw of ``n_max`` unit-norm inputs."""
    rng = _rng(seed, SAMPLE_KEY, s)
    if data == "sphere":
        X = rng.standard_normal((n_max, d))
    else:
        from sklearn.datasets import load_digits

        X = load_digits().data[rng.permutation(1797)[:n_max]].astype(float)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _thm6_target(cfg: Thm6Config, name: str, d: int):
    """The target ``name`` (a sum of components joined by ``+``), fixed by the root seed only: the
    same function for every ``n`` and every sample. ``β`` has norm ``beta_norm``; the quadratic's
    random symmetric matrix has spectral norm 1."""
    from ..data import make_target

    names = name.split("+")
    children = _ss(cfg.seed, SAMPLE_KEY, 10_000).spawn(len(names))
    parts = [make_target(part, d=d, seed=child, **({} if part == "quadratic" else {"beta_norm": cfg.beta_norm}))
             for part, child in zip(names, children)]
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out


def _thm6_point(params: dict, seed_seq, *, cfg: Thm6Config):
    from ..bounds import KernelSolver, complexity, polynomial_target_bound
    from ..kernels import first_layer_ntk

    n, s, name = int(params["n"]), int(params["seed"]), str(params["target"])
    X = _thm6_inputs(cfg.data, cfg.d, cfg.n_values[-1], cfg.seed, s)[:n]
    target = _thm6_target(cfg, name, X.shape[1])
    y = np.asarray(target(X), dtype=float)
    H = first_layer_ntk(X)
    c = complexity(H, y, solver=KernelSolver(H))
    ids = dict(target=name, n=n, seed=s)
    rows = _Rows()
    rows.add("sqrt_yHy", math.sqrt(c.yHy), **ids)
    rows.add("bound", polynomial_target_bound(target), **ids)
    rows.add("bound_sharp", polynomial_target_bound(target, sharp=True), **ids)
    rows.add("label_norm", math.sqrt(float(y @ y)), **ids)
    rows.add("lambda_min", c.lambda_min, **ids)
    return rows, {}


def run_thm6(cfg: Thm6Config, ctx: RunContext) -> None:
    from .. import plotting as P
    from ..sweep import grid

    ctx.rf.set_data({"source": cfg.data, "inputs": "bundled digits images, all classes, unit norm" if cfg.data ==
                     "digits" else f"uniform on the sphere S^{cfg.d - 1}", "nested_samples": True,
                     "n_values": list(cfg.n_values), "targets": list(cfg.targets), "beta_norm": cfg.beta_norm})
    for name in cfg.targets:  # refuse a bad target name before the sweep starts
        _thm6_target(cfg, name, 64 if cfg.data == "digits" else cfg.d)
    points = grid(target=list(cfg.targets), n=list(cfg.n_values), seed=list(range(cfg.seeds)))
    results = ctx.sweep(functools.partial(_thm6_point, cfg=cfg), points, seed=cfg.seed, desc="thm6 points")
    rows = _gather(results)
    ns = np.array(cfg.n_values, float)
    measured, bounds, sharp, slopes = {}, {}, {}, {}
    for name in cfg.targets:
        A = _table(results, "sqrt_yHy", "n", cfg.n_values, cfg.seeds, target=name)
        get = {row["metric"]: row["value"] for r in results if r.params["target"] == name for row in r.rows}
        bounds[name], sharp[name] = get["bound"], get["bound_sharp"]
        measured[name] = summarize(A)
        half = np.arange(ns.size) >= ns.size - max(2, (ns.size + 1) // 2)  # the upper half, at least 2 sizes
        slopes[name] = _slope(ns[half], measured[name][0][half])
        for i, n in enumerate(cfg.n_values):
            rows.add("sqrt_yHy_mean", measured[name][0][i], target=name, n=n)
            rows.add("sqrt_yHy_std", measured[name][1][i], target=name, n=n)
        rows.add("bound_cor62", bounds[name], target=name)
        rows.add("bound_proof", sharp[name], target=name)
        rows.add("max_over_bound", float(np.max(A)) / bounds[name], target=name)
        rows.add("growth_slope_upper_half", slopes[name], target=name)
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(n_values=ns, **{f"sqrt_yHy_{k.replace('+', '_')}": measured[k][0] for k in cfg.targets})
    ctx.save_figure(P.plot_target_complexity(ns, measured, bounds, sharp,
                                             title=rf"Theorem 6.1 on {cfg.data}: $\sqrt{{y^\top H^{{-1}} y}}$ vs "
                                                   rf"$n$ (mean $\pm$ sd, {cfg.seeds} nested samples), "
                                                   rf"$\|\beta\| = {cfg.beta_norm:g}$"), "target_complexity")


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
    from ..bounds import movement_bound
    from ..dynamics import train
    from ..networks import init_network

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
    from .. import plotting as P
    from ..bounds import complexity
    from ..sweep import grid

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


# ============================================================================== registry
register(Experiment(
    name="arora2019-fig1", paper=PAPER, config=Fig1Config, run=run_fig1,
    summary="Fig. 1: GD loss on true, random and worst-case labels vs the kernel prediction; H∞ spectrum and "
            "label projections",
    presets={"laptop": {},
             "paper": {"data": "mnist:data/mnist", "n_train": 10_000, "n_test": 2_000, "width": 10_000,
                       "kappa": 0.01, "lr": 1e-3, "steps": 1_000_000, "records": 100, "dtype": "float32"}},
    grid_fields=("seeds",)))

register(Experiment(
    name="arora2019-fig2", paper=PAPER, config=Fig2Config, run=run_fig2,
    summary="Fig. 2: complexity sqrt(2 y^T H^-1 y / n) and the trained network's test error/ℓ1 loss vs the "
            "label-noise portion",
    presets={"laptop": {},
             "paper": {"data": "mnist:data/mnist", "n_train": 10_000, "n_test": 2_000, "width": 10_000,
                       "kappa": 0.01, "lr": 1e-3, "steps": 1_000_000, "rtol": 1e-4, "seeds": 3,
                       "noise_levels": tuple(round(0.1 * i, 1) for i in range(11)), "dtype": "float32"}},
    grid_fields=("seeds", "noise_levels")))

register(Experiment(
    name="arora2019-thm6", paper=PAPER, config=Thm6Config, run=run_thm6,
    summary="Thm 6.1 / Cor 6.2: sqrt(y^T H^-1 y) of polynomial-like targets vs the bound as n grows (levels off)",
    presets={"laptop": {},
             "paper": {"data": "sphere", "d": 10, "n_values": (100, 200, 400, 800, 1600, 3200, 6400, 12800),
                       "seeds": 5}},
    grid_fields=("seeds", "n_values", "targets")))

register(Experiment(
    name="arora2019-movement", paper=PAPER, config=MovementConfig, run=run_movement,
    summary="§5.2 / Lemma C.1: ‖W−W(0)‖_F → sqrt(r^T H^-1 r) and per-neuron movement ~ m^-1/2 across widths and "
            "init scales",
    presets={"laptop": {},
             "paper": {"data": "mnist:data/mnist", "n_train": 1000, "widths": (1000, 4000, 16000, 64000),
                       "kappas": (0.01, 0.1, 1.0), "steps": 100_000, "seeds": 3, "dtype": "float32"}},
    grid_fields=("seeds", "widths", "kappas")))


# ============================================================================== captions
# Each caption states what the paper predicts and whether this run agrees, from metrics.csv alone.
from .. import report as _report  # noqa: E402  (report does not import experiments at module level)


@_report.register_caption("arora2019-fig1/loss_curves")
def _caption_fig1(metrics, config):
    text, ok = _report.CAPTIONS["loss_curves"](metrics, config)
    final = {lab: _report.metric_value(metrics, "final_loss", labels=lab) for lab in LABEL_SETS}
    measured_ok = final["true"] < final["random"] < final["worst_case"]
    text += (f" Measured after {_report._fmt(config.get('steps'))} steps (mean over {config.get('seeds', 1)} "
             f"seed(s)): " + ", ".join(f"{_report._fmt(final[lab], 3)} for {lab.replace('_', '-')} labels"
                                       for lab in LABEL_SETS)
             + f"; the measured ordering true < random < worst-case {'holds' if measured_ok else 'FAILS'}.")
    return text, bool(ok and measured_ok)


@_report.register_caption("arora2019-fig2/complexity_vs_noise")
def _caption_fig2(metrics, config):
    text, ok = _report.CAPTIONS["complexity_vs_noise"](metrics, config)
    text = text.replace("The kernel predictor's test error", "The trained network's test error")
    p, e = _report._by_noise(metrics, "test_error_mean")
    _, ke = _report._by_noise(metrics, "kernel_test_error_mean")
    _, ratio = _report._by_noise(metrics, "train_loss_ratio_max")
    text += (f" The network and the kernel predictor differ in test error by at most "
             f"{_report._fmt(float(np.max(np.abs(e - ke))), 3)}; training reached at most "
             f"{_report._fmt(float(np.max(ratio)), 3)} of the initial loss (largest at p = "
             f"{_report._fmt(p[int(np.argmax(ratio))])}).")
    return text, ok


@_report.register_caption("arora2019-fig2/paper_fig2")
def _caption_fig2_paper(metrics, config):
    text, ok = _caption_fig2(metrics, config)
    return ("The same numbers in the paper's layout (one panel, loss on the left axis, complexity on the right). "
            + text.split(". ", 1)[1]), ok


@_report.register_caption("arora2019-thm6/target_complexity")
def _caption_thm6(metrics, config):
    rows = _report.select_metrics(metrics, "max_over_bound")
    if not rows:
        raise KeyError("max_over_bound")
    worst = max(rows, key=lambda r: r["value"])
    slopes = {r["target"]: r["value"] for r in _report.select_metrics(metrics, "growth_slope_upper_half")}
    holds = worst["value"] <= 1.0
    flat = max(slopes.values()) < LEVEL_OFF_SLOPE
    text = (f"Theorem 6.1 / Corollary 6.2 bound sqrt(yᵀH∞⁻¹y) for these targets by a constant independent of n, so "
            f"the measured value must stay below the bound and level off as n grows. Largest measured/bound ratio: "
            f"{_report._fmt(worst['value'], 3)} ({worst['target']}); growth exponent of the measured value over the "
            f"upper half of n (log–log slope): " + ", ".join(f"{t} {_report._fmt(v, 2)}" for t, v in slopes.items())
            + f" (random labels would grow like n^0.5; 'levels off' here means every slope < {LEVEL_OFF_SLOPE}). "
            f"Bound {'holds' if holds else 'VIOLATED'}, {'levels off' if flat else 'still growing'}: "
            f"{_report._verdict(holds and flat)}.")
    return text, bool(holds and flat)


@_report.register_caption("arora2019-movement/movement")
def _caption_movement(metrics, config):
    kappas = sorted({r["kappa"] for r in _report.select_metrics(metrics, "max_move_slope")})
    widths = sorted({r["width"] for r in _report.select_metrics(metrics, "dist_ratio_mean")})
    if not kappas or not widths:
        raise KeyError("movement metrics")
    parts, ok = [], True
    for kappa in kappas:
        ratio = _report.metric_value(metrics, "dist_ratio_mean", kappa=kappa, width=widths[-1])
        flips = _report.metric_value(metrics, "activation_flips_mean", kappa=kappa, width=widths[-1])
        slope = _report.metric_value(metrics, "max_move_slope", kappa=kappa)
        parts.append(f"κ = {_report._fmt(kappa)}: ‖W−W(0)‖_F / sqrt(rᵀH⁻¹r) = {_report._fmt(ratio, 3)} at m = "
                     f"{_report._fmt(widths[-1])}, {_report._pct(flips)} of activation patterns flipped, "
                     f"max per-neuron movement ∝ m^{_report._fmt(slope, 2)}")
    k = kappas[-1]  # the largest init scale is the one the kernel regime should hold for at these widths
    ratio_k = _report.metric_value(metrics, "dist_ratio_mean", kappa=k, width=widths[-1])
    slope_k = _report.metric_value(metrics, "max_move_slope", kappa=k)
    ok = abs(ratio_k - 1) < 0.1 and abs(slope_k + 0.5) < 0.15
    return ("§5.2 and Lemma C.1 predict that in the kernel regime the first layer moves in total by sqrt(rᵀH∞⁻¹r), "
            "independent of the width, while each neuron moves by O(m^-1/2); the regime needs m large against 1/κ² "
            "(Lemma 5.3). " + "; ".join(parts) + f". At κ = {_report._fmt(k)} the ratio is within 10% of 1 and the "
            f"slope within 0.15 of −1/2: {_report._verdict(ok)}."), bool(ok)


#: A growth exponent below this counts as levelled off (random labels give 0.5).
LEVEL_OFF_SLOPE = 0.15
