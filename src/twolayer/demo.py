r"""A small, real analysis of Arora et al. (2019) on the bundled digits, all of it on ``H^∞``.

:func:`run_demo` computes, for the binary digits task (default 0 vs 1):

* ``H^∞`` of the training inputs (eq. 3) and its spectrum: eigenvalues, ``λ_min``, ``λ_max``,
  condition number and the identity ``tr H^∞ = n/2`` (unit-norm inputs);
* three label sets — true labels, random ``±1`` labels (seeded) and the worst case
  ``√n·v_min`` — their projections ``v_iᵀy`` and the GD loss curves the kernel dynamics predict
  (eq. 7–8) in the ``½n⁻¹Σ`` convention, with a learning rate that is a stated fraction of the
  largest stable one (``2n/λ_max``) and iterations on a log grid (plus a linear grid for the
  paper-style panel) long enough for the slowest mode to decay;
* the complexity measure ``sqrt(2yᵀH⁻¹y/n)`` (eq. 10) and the explicit terms of the
  Theorem 5.1 bound for each label set and against the label-noise portion ``p`` (a grid of
  ``p`` × seeds; noise from :func:`twolayer.data.apply_label_noise`, mean ± sd);
* the kernel-regime test predictions (the infinite-width limit of GD run to convergence) on the
  held-out digits with equally noised test labels: classification error and ℓ1 loss against
  ``p``, the kernel analogue of Fig. 2's left axis.

It writes a run folder (:mod:`twolayer.runfolder`): ``config.toml``, ``meta.json``,
``metrics.csv``, ``arrays.npz``, five figures and ``report.html``. No network is trained here.

Randomness: the data split uses the data module's streams of ``seed``; the random labels use
``SeedSequence(seed, spawn_key=(1000,))``; replicate ``s`` of the noise sweep uses
``SeedSequence(seed, spawn_key=(1001, s))`` for the training labels and ``(1002, s)`` for the
test labels, shared across noise levels (common random numbers, so the curves are smooth in
``p``).

Run it as ``python -m twolayer.demo OUT``.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ._errors import InputError
from .bounds import KernelSolver, complexity, generalization_bound
from .kernels import first_layer_ntk
from .runfolder import RunFolder
from .spectra import spectrum, worst_case_labels

__all__ = ["DemoConfig", "run_demo", "step_grid", "DEFAULT_NOISE_LEVELS", "LABEL_SETS"]

#: Default label-noise portions ``0, 0.1, …, 1``.
DEFAULT_NOISE_LEVELS = tuple(round(0.1 * i, 1) for i in range(11))
#: Names of the three label sets, as used in ``metrics.csv`` (column ``labels``).
LABEL_SETS = ("true", "random", "worst_case")

RANDOM_LABELS_KEY = 1000
NOISE_TRAIN_KEY = 1001
NOISE_TEST_KEY = 1002


@dataclass(frozen=True)
class DemoConfig:
    """Resolved options of :func:`run_demo` (written to ``config.toml``)."""

    data: str = "digits"
    classes: tuple = (0, 1)
    n_train: int | None = None
    seed: int = 0
    noise_levels: tuple = DEFAULT_NOISE_LEVELS
    seeds: int = 3
    lr: float | None = None
    lr_fraction: float = 0.5
    steps: int | None = None
    steps_per_decade: int = 20
    linear_points: int = 400
    delta: float = 0.05

    def __post_init__(self):
        levels = tuple(float(p) for p in self.noise_levels)
        if len(levels) < 2 or any(not (0.0 <= p <= 1.0) for p in levels) or len(set(levels)) != len(levels):
            raise InputError(f"noise_levels must be at least two distinct portions in [0, 1], got {self.noise_levels!r}")
        object.__setattr__(self, "noise_levels", tuple(sorted(levels)))
        object.__setattr__(self, "classes", tuple(self.classes))
        if int(self.seeds) != self.seeds or self.seeds < 1:
            raise InputError(f"seeds is the number of noise replicates and must be an integer >= 1, got {self.seeds!r}")
        if not (0.0 < self.lr_fraction < 1.0):
            raise InputError(f"lr_fraction must be in (0, 1) (a fraction of the largest stable step), got {self.lr_fraction}")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            raise InputError(f"lr must be a positive number (or None for lr_fraction x the stable maximum), got {self.lr}")
        if self.steps is not None and (int(self.steps) != self.steps or self.steps < 10):
            raise InputError(f"steps is the largest GD iteration and must be an integer >= 10, got {self.steps!r}")
        if not (0.0 < self.delta < 1.0):
            raise InputError(f"delta must be in (0, 1), got {self.delta}")


def step_grid(k_max: int, per_decade: int = 20, linear_points: int = 400) -> np.ndarray:
    """Iterations ``0 … k_max``: a log grid (``per_decade`` points per decade from 1) merged with
    ``linear_points`` evenly spaced iterations (for the linear-axes panel). Integers, sorted, unique."""
    k_max = int(k_max)
    log = np.round(np.logspace(0, math.log10(k_max), max(2, int(per_decade * math.log10(k_max)) + 1)))
    lin = np.round(np.linspace(0, k_max, linear_points + 1))
    return np.unique(np.concatenate([[0.0], log, lin])).astype(np.int64)


def _nice_ceil(x: float) -> int:
    """Smallest number of the form {1, 2, 5} × 10^k that is >= x."""
    e = 10 ** math.floor(math.log10(max(x, 1.0)))
    for m in (1, 2, 5, 10):
        if m * e >= x:
            return int(m * e)
    return int(10 * e)  # pragma: no cover


def _first_step_below(curve: np.ndarray, steps: np.ndarray, frac: float) -> float:
    hit = np.nonzero(curve <= frac * curve[0])[0]
    return float(steps[hit[0]]) if hit.size else float("nan")


def _energy_indices(n: int) -> list[int]:
    ks = {1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000, 50000,
          math.ceil(n / 100), math.ceil(n / 10), n}
    return sorted(k for k in ks if 1 <= k <= n)


def run_demo(out, *, data: str = "digits", classes=(0, 1), n_train: int | None = None,
             noise_levels=DEFAULT_NOISE_LEVELS, seeds: int = 3, seed: int = 0, lr: float | None = None,
             lr_fraction: float = 0.5, steps: int | None = None, delta: float = 0.05,
             figure_formats=("png", "pdf"), quiet: bool = False) -> Path:
    r"""Run the ``H^∞`` analysis of Arora et al. (2019) and write a run folder with a report.

    Parameters
    ----------
    out : path-like
        Run folder to create (or overwrite file by file).
    data : str
        Data source for :func:`twolayer.data.load` (default the bundled digits).
    classes : tuple
        Class pair (first → +1).
    n_train : int, optional
        Stratified subsample of the training set (default: all, 288 for digits 0/1).
    noise_levels : sequence of float
        Label-noise portions ``p`` in [0, 1] (at least 2; default 0, 0.1, …, 1).
    seeds : int
        Replicates of the noise draw per ``p``.
    seed : int
        Root seed of every random choice (split, random labels, noise).
    lr : float, optional
        Learning rate in the ``½n⁻¹Σ`` convention; must be below ``2n/λ_max``. Default:
        ``lr_fraction × 2n/λ_max``.
    lr_fraction : float
        Fraction of the largest stable step used when ``lr`` is not given (default 0.5, i.e.
        ``η_eff λ_max = 1``: every mode decays monotonically).
    steps : int, optional
        Largest GD iteration. Default: ``3/(η_eff λ_min)`` rounded up to 1, 2 or 5 × 10^k, so
        that even the worst-case labels' loss has decayed by ``e⁻⁶``.
    delta : float
        Failure probability of the Theorem 5.1 bound.
    figure_formats : sequence of str
        Formats of each figure (default PNG and PDF; ``("png",)`` saves about a second per figure).
    quiet : bool
        Do not print the location of the report.

    Returns
    -------
    Path of the run folder. Takes about 5 s on 2 cores for the digits.
    """
    from . import report as _report
    from . import plotting as P
    from .data import apply_label_noise, load

    cfg = DemoConfig(data=data, classes=tuple(classes), n_train=n_train, seed=int(seed),
                     noise_levels=tuple(noise_levels), seeds=int(seeds), lr=lr, lr_fraction=float(lr_fraction),
                     steps=None if steps is None else int(steps), delta=float(delta))
    if "png" not in tuple(figure_formats):
        raise InputError(f"figure_formats must include 'png' (the report embeds PNGs), got {figure_formats!r}")
    rf = RunFolder(out, experiment="demo")
    rf.write_config(_config_dict(cfg, resolved=None))

    with rf.stage("data"):
        ds = load(cfg.data, classes=cfg.classes, n_train=cfg.n_train, seed=cfg.seed)
        rf.set_data(ds.provenance)
    n = ds.n
    with rf.stage("kernel"):
        H = first_layer_ntk(ds.X)
        trace = float(np.trace(H))
        K_test = first_layer_ntk(ds.X_test, ds.X) if ds.has_test else None
    with rf.stage("spectrum"):
        spec = spectrum(H)
        solver = KernelSolver(H, spectrum=spec)

    # ---- learning rate and iteration grid (½ n⁻¹ Σ convention)
    max_lr = spec.max_stable_lr("mean")
    lr_used = cfg.lr_fraction * max_lr if cfg.lr is None else float(cfg.lr)
    if not lr_used < max_lr:
        raise InputError(f"lr = {lr_used:g} is not below the largest stable step 2n/lambda_max = {max_lr:g} "
                         f"(loss 1/2 n^-1 sum); pass a smaller lr or lr_fraction < 1")
    eta_eff = lr_used / n
    slow = -math.log1p(-eta_eff * spec.lambda_min) if eta_eff * spec.lambda_min < 1 else 1.0
    k_max = cfg.steps if cfg.steps is not None else _nice_ceil(3.0 / slow)
    grid = step_grid(k_max, cfg.steps_per_decade, cfg.linear_points)
    resolved = dict(lr=lr_used, max_stable_lr=max_lr, eta_eff=eta_eff, k_max=int(k_max), n_steps=int(grid.size))
    rf.write_config(_config_dict(cfg, resolved=resolved))

    rows: list[dict] = []

    def add(metric, value, **ids):
        rows.append({"metric": metric, "value": float(value), **ids})

    for name, v in [("n", n), ("d", ds.d), ("n_test", ds.n_test), ("lambda_min", spec.lambda_min),
                    ("lambda_max", spec.lambda_max), ("condition_number", spec.condition_number),
                    ("trace_H", trace), ("trace_H_expected", n / 2), ("trace_rel_error", abs(trace - n / 2) / (n / 2)),
                    ("mean_eigenvalue", float(np.mean(spec.eigenvalues))),
                    ("max_stable_lr", max_lr), ("lr", lr_used), ("lr_fraction", lr_used / max_lr),
                    ("eta_eff", eta_eff), ("k_max", k_max), ("delta", cfg.delta),
                    ("random_complexity_expected", math.sqrt(2.0 * float(np.sum(1.0 / spec.eigenvalues)) / n))]:
        add(name, v)

    # ---- the three label sets
    with rf.stage("label_sets"):
        rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(RANDOM_LABELS_KEY,)))
        labels = {"true": ds.y, "random": rng.choice(np.array([-1.0, 1.0]), size=n), "worst_case": worst_case_labels(spec)}
        proj, curves, comp, bounds = {}, {}, {}, {}
        for name, y in labels.items():
            proj[name] = spec.project(y)
            curves[name] = spec.loss_curve(y, grid, lr_used, normalization="mean")
            comp[name] = complexity(H, y, solver=solver)
            bounds[name] = generalization_bound(comp[name], delta=cfg.delta)
            c, b = comp[name], bounds[name]
            for metric, v in [("complexity", c.complexity), ("yHy", c.yHy), ("label_norm2", c.label_norm2),
                              ("bound_total", b.total), ("bound_complexity", b.complexity),
                              ("bound_train_term", b.train_term), ("bound_rademacher_slack", b.rademacher_slack),
                              ("bound_concentration", b.concentration), ("bound_union_size", b.union_size),
                              ("initial_loss", curves[name][0]), ("final_loss", curves[name][-1]),
                              ("steps_to_half_loss", _first_step_below(curves[name], grid, 0.5)),
                              ("steps_to_tenth_loss", _first_step_below(curves[name], grid, 0.1)),
                              ("steps_to_hundredth_loss", _first_step_below(curves[name], grid, 0.01))]:
                add(metric, v, labels=name)
            energy = np.cumsum(proj[name] ** 2) / float(np.sum(proj[name] ** 2))
            for k in _energy_indices(n):
                add("label_energy", energy[k - 1], labels=name, index=k)
            for k, loss in zip(grid, curves[name]):
                add("predicted_loss", loss, labels=name, step=int(k))

    # ---- kernel-regime test predictions after k_max steps (GD run to convergence)
    def test_metrics(y_train, y_test):
        f = spec.predict(K_test, y_train, [k_max], lr_used, normalization="mean")[0]
        return float(np.mean(np.sign(f) != y_test)), float(np.mean(np.abs(f - y_test)))

    if K_test is not None:
        err, l1 = test_metrics(ds.y, ds.y_test)
        add("test_error", err, labels="true")
        add("test_l1", l1, labels="true")

    # ---- complexity and bound against label noise
    P_ = len(cfg.noise_levels)
    C = np.empty((P_, cfg.seeds))
    B = np.empty((P_, cfg.seeds))
    TE = np.full((P_, cfg.seeds), np.nan)
    TL = np.full((P_, cfg.seeds), np.nan)
    bound_parts = {k: np.empty((P_, cfg.seeds)) for k in ("train_term", "rademacher_slack", "concentration")}
    expected = np.empty(P_)
    tr_inv = float(np.sum(1.0 / spec.eigenvalues))
    with rf.stage("noise_sweep"):
        for s in range(cfg.seeds):
            ss_train = np.random.SeedSequence(cfg.seed, spawn_key=(NOISE_TRAIN_KEY, s))
            ss_test = np.random.SeedSequence(cfg.seed, spawn_key=(NOISE_TEST_KEY, s))
            for i, p in enumerate(cfg.noise_levels):
                y_noisy, idx = apply_label_noise(ds.y, p, np.random.default_rng(ss_train))
                c = complexity(H, y_noisy, solver=solver)
                b = generalization_bound(c, delta=cfg.delta)
                C[i, s], B[i, s] = c.complexity, b.total
                for k in bound_parts:
                    bound_parts[k][i, s] = getattr(b, k)
                if s == 0:  # exact E[C^2]: k = |idx| redrawn positions, kept pairs keep y_i y_j
                    q = (n - idx.size) * (n - idx.size - 1) / (n * (n - 1))
                    expected[i] = math.sqrt(2.0 / n * (tr_inv + q * (comp["true"].yHy - tr_inv)))
                ids = dict(labels="noisy", noise=float(p), seed=s)
                add("complexity", c.complexity, **ids)
                add("bound_total", b.total, **ids)
                add("n_redrawn", idx.size, **ids)
                add("n_changed", int(np.count_nonzero(y_noisy != ds.y)), **ids)
                if K_test is not None:
                    yt_noisy, _ = apply_label_noise(ds.y_test, p, np.random.default_rng(ss_test))
                    TE[i, s], TL[i, s] = test_metrics(y_noisy, yt_noisy)
                    add("test_error", TE[i, s], **ids)
                    add("test_l1", TL[i, s], **ids)
        ddof = 1 if cfg.seeds > 1 else 0
        for i, p in enumerate(cfg.noise_levels):
            for name, A in [("complexity", C), ("bound_total", B)] + (
                    [("test_error", TE), ("test_l1", TL)] if K_test is not None else []):
                add(f"{name}_mean", np.mean(A[i]), labels="noisy", noise=float(p))
                add(f"{name}_std", np.std(A[i], ddof=ddof), labels="noisy", noise=float(p))
            add("complexity_expected", expected[i], labels="noisy", noise=float(p))

    rf.write_metrics(rows)
    arrays = dict(eigenvalues=spec.eigenvalues, steps=grid, noise_levels=np.array(cfg.noise_levels),
                  complexity_noise=C, complexity_expected=expected, bound_noise=B, y_train=ds.y)
    for name in labels:
        arrays[f"labels_{name}"] = labels[name]
        arrays[f"projections_{name}"] = proj[name]
        arrays[f"loss_{name}"] = curves[name]
    if K_test is not None:
        arrays.update(test_error_noise=TE, test_l1_noise=TL, y_test=ds.y_test)
    rf.write_arrays(**arrays)

    # ---- figures
    fmt = dict(formats=tuple(figure_formats))
    with rf.stage("figures"):
        rf.save_figure(P.plot_loss_curves(
            grid, curves, title=rf"Predicted GD training loss $\frac{{1}}{{2n}}\|(I-\eta H^\infty/n)^k y\|^2$ "
                                rf"(Arora et al. eq. 8), $\eta = {lr_used / max_lr:.2g}\times$ the stable maximum "
                                rf"$2n/\lambda_{{\max}}$"), "loss_curves", **fmt)
        rf.save_figure(P.plot_spectrum_projections(spec.eigenvalues, proj), "spectrum_projections", **fmt)
        tl = None
        if K_test is not None:
            tl = {"classification error (kernel predictor)": (TE.mean(1), TE.std(1, ddof=ddof)),
                  r"$\ell_1$ loss $E|f(x)-y|$ (kernel predictor)": (TL.mean(1), TL.std(1, ddof=ddof))}
        rf.save_figure(P.plot_complexity_vs_noise(
            cfg.noise_levels, C.mean(1), spread=C.std(1, ddof=ddof), per_seed=C,
            reference={r"random $\pm1$ labels, $\sqrt{2\,\mathrm{tr}(H^{-1})/n}$": math.sqrt(2.0 * tr_inv / n),
                       r"expected $\sqrt{E[C^2]}$ under noise $p$": expected},
            test_losses=tl), "complexity_vs_noise", **fmt)
        rf.save_figure(P.plot_eigenvalues(spec.eigenvalues), "eigenvalues", **fmt)
        terms = {r"complexity $\sqrt{2y^\top H^{-1}y/n}$": C.mean(1),
                 r"training term $1/\sqrt{n}$": bound_parts["train_term"].mean(1),
                 r"Rademacher slack $4/\sqrt{n}$": bound_parts["rademacher_slack"].mean(1),
                 r"concentration $3\sqrt{\log(6N_B/\delta)/2n}$": bound_parts["concentration"].mean(1)}
        cmp = {"test error of the kernel predictor": TE.mean(1)} if K_test is not None else None
        rf.save_figure(P.plot_bound_terms(cfg.noise_levels, terms, compare=cmp), "bound_terms", **fmt)

    rf.finish()
    t = time.perf_counter()
    report = _report.build_report(rf.path)
    rf.meta["timings_s"]["report"] = round(time.perf_counter() - t, 6)
    rf.write_meta()
    if not quiet:
        print(f"twolayer demo: {ds.name}, n = {n}; complexity true {comp['true'].complexity:.3g} vs random "
              f"{comp['random'].complexity:.3g} vs worst case {comp['worst_case'].complexity:.3g}")
        print(f"report: {report}")
    return rf.path


def _config_dict(cfg: DemoConfig, resolved: dict | None) -> dict:
    d = asdict(cfg)
    out = {
        "experiment": "demo",
        "seed": cfg.seed,
        "data": {"spec": cfg.data, "classes": list(cfg.classes), "n_train": cfg.n_train, "normalize": True},
        "kernel": {"kind": "first-layer", "matrix": "H-infinity of the training inputs (Arora et al. eq. 3)"},
        "dynamics": {"normalization": "mean", "loss": "1/2 n^-1 sum_i (y_i - u_i)^2", "u0": 0.0,
                     "lr_requested": d["lr"], "lr_fraction": cfg.lr_fraction, "steps_requested": cfg.steps,
                     "steps_per_decade": cfg.steps_per_decade, "linear_points": cfg.linear_points},
        "labels": {"sets": list(LABEL_SETS), "random_stream": [cfg.seed, RANDOM_LABELS_KEY],
                   "worst_case": "sqrt(n) * eigenvector of lambda_min"},
        "noise": {"levels": list(cfg.noise_levels), "replicates": cfg.seeds, "seeds": list(range(cfg.seeds)),
                  "train_stream": [cfg.seed, NOISE_TRAIN_KEY, "replicate"],
                  "test_stream": [cfg.seed, NOISE_TEST_KEY, "replicate"], "applies_to": "train and test labels"},
        "bound": {"delta": cfg.delta, "theorem": "Arora et al. 2019 Theorem 5.1 / Corollary 5.2, explicit terms"},
    }
    if resolved is not None:
        out["dynamics"].update(resolved)
    return out
