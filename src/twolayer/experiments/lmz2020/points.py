r"""Configs, data, sweep points and summaries of the Li–Ma–Zhang (COLT 2020) experiments (no I/O).

A point is one model on one replicate at one dimension: a network (``model = "network"``,
``width = m``) trained by the update rule ``algorithm`` and recorded at log-spaced steps, or a
baseline (``ntk``, ``rf``, ``poly{p}``) fitted once. Every point returns tidy rows with ids
``model, d, seed`` (networks also ``width``, recorded steps ``step``, Hermite orders ``order``).

A network point is one run of the training engine (:func:`twolayer.dynamics.run`, set up by
:func:`network_training`) with the rule ``make_rule(algorithm, lr, weight_decay)`` (``gd``:
``add_decayed_weights → scale(−η)``; ``adam``: ``add_decayed_weights → adam_moments → scale(−η)``),
a divergence guard and two probes: the losses, and the exact Hermite energies, population loss
and neuron–teacher alignment of :class:`~twolayer.dynamics.probes.HermiteProbe` at every recorded
step. The closed forms live in :mod:`twolayer.kernels.hermite`; this module only turns the
probes' records into rows.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..._errors import DivergenceError, InputError
from ..._threads import blas_threads
from .._common import checkpointing, Rows, check_positive, rng, seed_sequence
from .hermite import (HERMITE_ORDERS, VAR_ABS, HermiteProjector, abs_hermite_tail, hermite_feature_count, kernel_ridge,
                      poly_ridge, teacher_hermite_energies)

TEACHER_KEY, TRAIN_KEY, TEST_KEY, INIT_KEY = 21, 22, 23, 24
KERNEL_MODELS = ("ntk", "rf")
ALGORITHMS = ("gd", "adam")
#: Per-algorithm defaults of ``lr`` and ``weight_decay`` when the config leaves them unset (None).
#: ``gd`` is the paper's algorithm: plain full-batch GD, no weight decay.
ALGORITHM_DEFAULTS = {"adam": {"lr": 6e-3, "weight_decay": 1e-4}, "gd": {"lr": 2.0, "weight_decay": 0.0}}
#: A Hermite order counts as fitted at the first record where its residual energy is at most
#: this fraction of its step-0 value (the teacher's energy under the symmetric init).
FIT_FRACTION = 0.1
#: Orders the teacher has (odd orders vanish for |z|): the ones the stage-wise claim times.
EVEN_ORDERS = (0, 2, 4)


# =============================================================================== configs
@dataclass(frozen=True)
class _TeacherRunConfig:
    """Settings both Li–Ma–Zhang experiments share: the teacher, the sample, the training run and the
    baselines (the defaults are the ``adam`` preset's)."""

    seed: int = 0
    seeds: int = 3
    dims: tuple[int, ...] = (8, 16, 24)
    samples_factor: float = 8.0
    n_test: int = 4096
    n_hermite: int = 4096
    teacher_w: str = "random"
    algorithm: str = "adam"
    lr: float | None = None
    weight_decay: float | None = None
    steps: int = 4000
    steps_exponent: float = 0.0
    kappa: float = 0.01
    symmetric: bool = True
    records: int = 14
    kernels: tuple[str, ...] = KERNEL_MODELS
    poly_degrees: tuple[int, ...] = (2, 4)
    ridges: tuple[float, ...] = (1e-6, 1e-3, 1e-1, 1.0)
    dtype: str = "float32"

    def __post_init__(self):
        _common_checks(self)


@dataclass(frozen=True)
class SeparationConfig(_TeacherRunConfig):
    """``lmz2020-separation``. Defaults = the ``adam`` preset (d = 8, 16, 24; 3 replicates; Adam + weight decay,
    a variant); the ``laptop`` preset runs the paper's plain GD at d = 6, 8, 10 (see the registry)."""

    width_factor: float = 10.0

    def __post_init__(self):
        super().__post_init__()
        check_positive("width_factor", self.width_factor)


@dataclass(frozen=True)
class WidthConfig(_TeacherRunConfig):
    """``lmz2020-width``. Defaults = the ``adam`` preset (d = 8, 16, 24; m/d = 1, 2, 4, 10; 3 replicates; Adam);
    the ``laptop`` preset runs the paper's plain GD at d = 6, 8, 10 (see the registry)."""

    records: int = 8
    kernels: tuple[str, ...] = ("ntk",)
    poly_degrees: tuple[int, ...] = ()
    width_factors: tuple[float, ...] = (1.0, 2.0, 4.0, 10.0)

    def __post_init__(self):
        super().__post_init__()
        facs = tuple(sorted(float(f) for f in self.width_factors))
        if len(facs) < 2 or len(set(facs)) != len(facs) or facs[0] <= 0:
            raise InputError(f"width_factors must be at least two distinct positive numbers, got "
                             f"{self.width_factors!r}")
        object.__setattr__(self, "width_factors", facs)


def _common_checks(cfg) -> None:
    dims = tuple(sorted(int(v) for v in cfg.dims))
    if not dims or len(set(dims)) != len(dims) or dims[0] < 2:
        raise InputError(f"dims must be distinct integers >= 2, got {cfg.dims!r}")
    object.__setattr__(cfg, "dims", dims)
    if cfg.algorithm not in ALGORITHMS:
        raise InputError(f"algorithm must be one of {', '.join(ALGORITHMS)}, got {cfg.algorithm!r}")
    for name in ("samples_factor", "kappa"):
        check_positive(name, getattr(cfg, name))
    if cfg.lr is not None:
        check_positive("lr", cfg.lr)
    for name in ("seeds", "steps", "n_test", "n_hermite"):
        check_positive(name, getattr(cfg, name), True)
    if cfg.n_hermite < 2:
        raise InputError(f"n_hermite must be at least 2, got {cfg.n_hermite}")
    if cfg.records < 2:
        raise InputError(f"records must be >= 2, got {cfg.records}")
    if cfg.weight_decay is not None and not cfg.weight_decay >= 0:
        raise InputError(f"weight_decay must be >= 0, got {cfg.weight_decay}")
    if not (math.isfinite(cfg.steps_exponent) and cfg.steps_exponent >= 0):
        raise InputError(f"steps_exponent must be a number >= 0, got {cfg.steps_exponent}")
    if cfg.teacher_w not in ("random", "identity"):
        raise InputError(f"teacher_w must be 'random' or 'identity', got {cfg.teacher_w!r}")
    if cfg.dtype not in ("float32", "float64"):
        raise InputError(f"dtype must be float32 or float64, got {cfg.dtype!r}")
    bad = [k for k in cfg.kernels if k not in KERNEL_MODELS]
    if bad:
        raise InputError(f"unknown kernels {bad}; choose from {', '.join(KERNEL_MODELS)}")
    if any(int(p) < 1 or int(p) > 4 for p in cfg.poly_degrees):
        raise InputError(f"poly_degrees must lie in 1..4, got {cfg.poly_degrees!r}")
    if not cfg.ridges or any(not r > 0 for r in cfg.ridges):
        raise InputError(f"ridges must be positive numbers, got {cfg.ridges!r}")
    if min(int(round(cfg.samples_factor * d * d)) for d in dims) < 2:
        raise InputError("samples_factor * d^2 must give at least 2 samples")


def lr_of(cfg) -> float:
    """The step size: ``cfg.lr`` or the algorithm's default (:data:`ALGORITHM_DEFAULTS`)."""
    return float(cfg.lr if cfg.lr is not None else ALGORITHM_DEFAULTS[cfg.algorithm]["lr"])


def weight_decay_of(cfg) -> float:
    """The weight decay λ: ``cfg.weight_decay`` or the algorithm's default (0 for plain GD)."""
    return float(cfg.weight_decay if cfg.weight_decay is not None else ALGORITHM_DEFAULTS[cfg.algorithm]["weight_decay"])


def steps_of(cfg, d: int) -> int:
    r"""Step budget at dimension ``d``: ``round(steps · (d / d_min)^steps_exponent)`` — the paper's
    polynomial time ``poly(d)``; exponent 0 (default) is one budget for every d."""
    return max(1, int(round(cfg.steps * (d / cfg.dims[0]) ** cfg.steps_exponent)))


def n_samples(cfg, d: int) -> int:
    return int(round(cfg.samples_factor * d * d))


def width_of(factor: float, d: int) -> int:
    """``m = round(factor·d)``, at least 2 and even (the symmetric init pairs neurons)."""
    m = max(2, int(round(factor * d)))
    return m + (m % 2)


def baselines_of(cfg) -> list[str]:
    return list(cfg.kernels) + [f"poly{int(p)}" for p in cfg.poly_degrees]


# =============================================================================== data
@functools.lru_cache(maxsize=3)
def _problem(seed: int, d: int, s: int, n: int, n_test: int, teacher_w: str):
    """Teacher, training and test sample of replicate ``s`` at dimension ``d`` (cached per process)."""
    from ...data.teacher import TeacherNetwork, random_orthogonal

    W = np.eye(d) if teacher_w == "identity" else random_orthogonal(d, rng(seed, TEACHER_KEY, d, s))
    teacher = TeacherNetwork(np.full(d, 1.0 / d), W)
    X = rng(seed, TRAIN_KEY, d, s).standard_normal((n, d))
    Xt = rng(seed, TEST_KEY, d, s).standard_normal((n_test, d))
    return teacher, X, teacher(X), Xt, teacher(Xt)


def get_problem(cfg, d: int, s: int):
    return _problem(cfg.seed, d, s, n_samples(cfg, d), cfg.n_test, cfg.teacher_w)


# =============================================================================== points
def network_training(cfg, d: int, m: int, s: int):
    r"""The engine run of one network point: ``(state, observers, record_steps)`` for
    :func:`twolayer.dynamics.run` (``steps_of(cfg, d)`` steps).

    The network (parameterization ``both``, symmetric init) on replicate ``s``'s training sample,
    the loss ``½ n⁻¹ Σ (f(x_i) − y_i)²``, the rule ``make_rule(cfg.algorithm, lr, weight_decay)``
    (``add_decayed_weights(λ) → [adam_moments →] scale(−η)``) and the observers, in order:

    * :class:`~twolayer.dynamics.DivergenceGuard` — a non-finite loss or one above
      ``10⁶ · max(L(0), 10⁻¹²)`` raises :class:`~twolayer.DivergenceError` (attribute ``step``);
    * a :class:`~twolayer.dynamics.Probe` of ``train_mse = 2 L`` and ``test_mse`` (the fresh test sample);
    * a :class:`~twolayer.dynamics.probes.HermiteProbe` of the exact Hermite energies and population
      loss of ``f − f*`` and the alignment with ``W*``.
    """
    from ...dynamics import DivergenceGuard, Probe, engine, make_rule
    from ...dynamics.probes import HermiteProbe
    from ...networks import forward, init_network

    teacher, X, y, Xt, yt = get_problem(cfg, d, s)
    net = init_network("both", d, m, seed=seed_sequence(cfg.seed, INIT_KEY, d, m, s), kappa=cfg.kappa,
                       symmetric=cfg.symmetric, dtype=np.dtype(cfg.dtype))
    lr = lr_of(cfg)
    state = engine.init(net, X, y, make_rule(cfg.algorithm, lr=lr, weight_decay=weight_decay_of(cfg)),
                        normalization="mean")

    def losses(st, out):
        ft = forward(st.net, Xt)[0].astype(np.float64)
        return {"train_mse": 2.0 * float(out["loss"][0]), "test_mse": float(np.mean((ft - yt) ** 2))}

    observers = [DivergenceGuard(factor=1e6, offset=0.0, floor=1e-12,
                                 what=f"training (d = {d}, m = {m}, {cfg.algorithm}, lr = {lr:g})",
                                 hint="use a smaller lr"),
                 Probe(losses),
                 HermiteProbe([("abs", teacher.a, teacher.W)], HERMITE_ORDERS, align_to=teacher.W)]
    return state, observers, record_steps_of(cfg, d)


def network_point(params: dict, *, cfg):
    """Train one network on replicate ``seed`` at dimension ``d`` and width ``width``
    (:func:`network_training`); record at log-spaced steps the test loss (fresh sample), the
    **exact** population loss and Hermite energies of ``f − f*``
    (:func:`~twolayer.kernels.hermite.ridge_hermite_energies`) and the alignment; at the last
    record also the Monte Carlo estimate of the energies with its standard error.

    A blow-up (non-finite or 10⁶-fold grown loss) is caught here: the point records
    ``diverged_at_step`` and NaN finals, so the run finishes and the claims that need the point
    say why they cannot agree."""
    from ...dynamics import engine
    from ...networks import forward

    d, m, s = int(params["d"]), int(params["width"]), int(params["seed"])
    teacher, X, y, Xt, yt = get_problem(cfg, d, s)
    state, observers, rec = network_training(cfg, d, m, s)
    steps = steps_of(cfg, d)
    diverged = None
    try:
        engine.run(state, steps, observers, record_steps=rec, **checkpointing(cfg=repr(cfg), d=d, width=m, seed=s))
    except DivergenceError as err:
        diverged = err.step
    _, losses, hermite = observers
    ids = dict(model="network", d=d, width=m, seed=s)
    rows = Rows()
    arrays = {k: np.full(len(rec), np.nan) for k in ("train_mse", "test_mse", "population_mse", "alignment_mean",
                                                     "alignment_min")}
    arrays["steps"] = np.asarray(rec, dtype=float)
    arrays["hermite"] = np.full((len(rec), len(HERMITE_ORDERS)), np.nan)
    for j, k in enumerate(hermite.steps):
        train_mse, mse = losses.values["train_mse"][j], losses.values["test_mse"][j]
        en, pop, al = hermite.energies[j][0], float(hermite.population[j][0]), hermite.alignment[j][0]
        step_ids = dict(ids, step=k)
        rows.add("train_mse", train_mse, **step_ids)
        rows.add("test_mse", mse, **step_ids)
        rows.add("d_test_mse", d * mse, **step_ids)
        rows.add("d_population_mse", d * pop, **step_ids)
        for order, e in zip(HERMITE_ORDERS, en):
            rows.add("hermite_residual", d * float(e), order=order, **step_ids)
        rows.add("hermite_residual_rest", max(d * (pop - sum(float(e) for e in en)), 0.0), **step_ids)
        rows.add("alignment_mean", float(np.mean(al)), **step_ids)
        rows.add("alignment_min", float(np.min(al)), **step_ids)
        for key, v in (("train_mse", train_mse), ("test_mse", mse), ("population_mse", pop),
                       ("alignment_mean", float(np.mean(al))), ("alignment_min", float(np.min(al)))):
            arrays[key][j] = v
        arrays["hermite"][j] = [d * float(e) for e in en]
    if diverged is not None:
        rows.add("diverged_at_step", diverged, **ids)
    last = len(hermite.steps) - 1
    ok = diverged is None
    for name, key in (("final_test_mse", "test_mse"), ("final_population_mse", "population_mse"),
                      ("final_train_mse", "train_mse"), ("final_alignment_mean", "alignment_mean"),
                      ("final_alignment_min", "alignment_min")):
        rows.add(name, arrays[key][last] if ok else float("nan"), **ids)
    rows.add("final_d_test_mse", d * arrays["test_mse"][last] if ok else float("nan"), **ids)
    rows.add("final_d_population_mse", d * arrays["population_mse"][last] if ok else float("nan"), **ids)
    rows.add("steps_budget", steps, **ids)
    rows.add("n", X.shape[0], **ids)
    if ok:  # Monte Carlo cross-check of the exact final energies, with its standard error
        nh = min(cfg.n_hermite, Xt.shape[0])
        r = forward(state.net, Xt[:nh])[0].astype(np.float64) - yt[:nh]
        est, se = HermiteProjector(Xt[:nh]).energies_se(r)
        for order in HERMITE_ORDERS:
            rows.add("final_hermite_residual_mc", d * est[order], order=order, **ids)
            rows.add("final_hermite_residual_mc_se", d * se[order], order=order, **ids)
            rows.add("final_hermite_residual", arrays["hermite"][last, HERMITE_ORDERS.index(order)],
                     order=order, **ids)
    return rows, arrays


def _kernel_matrices(model: str, X, Xt):
    from ...kernels import random_features_kernel, two_layer_ntk

    f = two_layer_ntk if model == "ntk" else random_features_kernel
    return f(X, n_jobs=1), f(Xt, X, n_jobs=1)


def baseline_point(params: dict, *, cfg):
    """One baseline (kernel ``ntk``/``rf`` or ``poly{p}``) on replicate ``seed`` at dimension ``d``:
    the test loss at every ridge, the best one, and the Monte Carlo Hermite energies (with
    standard errors) of the best predictor's residual.

    Runs with one BLAS thread: a multi-threaded SYRK/Cholesky rounds differently, and the
    numbers must not depend on ``--jobs`` (a pool worker gets one thread per core anyway)."""
    with blas_threads(1):
        return _baseline_point_body(params, cfg)


def _baseline_point_body(params: dict, cfg):
    d, s, model = int(params["d"]), int(params["seed"]), str(params["model"])
    teacher, X, y, Xt, yt = get_problem(cfg, d, s)
    ids = dict(model=model, d=d, seed=s)
    rows = Rows()
    if model in KERNEL_MODELS:
        K, Kt = _kernel_matrices(model, X, Xt)
        scale_ = float(np.mean(np.diag(K)))
        preds = {r: kernel_ridge(K, y, Kt, r * scale_) for r in cfg.ridges}
        rows.add("n_features", float("nan"), **ids)
    else:
        p = int(model.removeprefix("poly"))
        rows.add("n_features", hermite_feature_count(d, p), **ids)
        # weighted features: the mean diagonal of the feature kernel is p + 1
        preds = dict(zip(cfg.ridges, poly_ridge(X, y, Xt, p, [r * (p + 1) for r in cfg.ridges])))
    mses = {r: float(np.mean((f - yt) ** 2)) for r, f in preds.items()}
    best = min(mses, key=mses.get)
    for r, v in mses.items():
        rows.add("test_mse_at_ridge", v, ridge=r, **ids)
    rows.add("best_ridge", best, **ids)
    rows.add("final_test_mse", mses[best], **ids)
    rows.add("final_d_test_mse", d * mses[best], **ids)
    nh = min(cfg.n_hermite, Xt.shape[0])
    est, se = HermiteProjector(Xt[:nh]).energies_se(preds[best][:nh] - yt[:nh])
    for order in HERMITE_ORDERS:
        rows.add("final_hermite_residual_mc", d * est[order], order=order, **ids)
        rows.add("final_hermite_residual_mc_se", d * se[order], order=order, **ids)
    rows.add("n", X.shape[0], **ids)
    return rows, {"prediction": preds[best]}


def teacher_rows(cfg) -> Rows:
    """Self-check: Monte Carlo Hermite energies of ``f*`` on the test sample of every replicate
    (with standard errors) against their closed form; the analytic reference levels."""
    rows = Rows()
    for d in cfg.dims:
        for s in range(cfg.seeds):
            teacher, X, y, Xt, yt = get_problem(cfg, d, s)
            nh = min(cfg.n_hermite, Xt.shape[0])
            est, se = HermiteProjector(Xt[:nh]).energies_se(yt[:nh])
            for k in HERMITE_ORDERS:
                rows.add("teacher_hermite_energy", d * est[k], d=d, order=k, seed=s)
                rows.add("teacher_hermite_energy_se", d * se[k], d=d, order=k, seed=s)
        exact = teacher_hermite_energies(teacher.a)
        for k in HERMITE_ORDERS:
            rows.add("teacher_hermite_energy_exact", d * exact[k], d=d, order=k)
        a2 = float(teacher.a @ teacher.a)
        rows.add("constant_predictor", d * a2 * VAR_ABS, d=d)
        rows.add("floor_degree2", d * a2 * abs_hermite_tail(2), d=d)
        rows.add("floor_degree4", d * a2 * abs_hermite_tail(4), d=d)
        rows.add("teacher_variance_test", d * float(np.var(yt)), d=d)
    return rows


def dispatch_point(params: dict, *, cfg):
    if params["model"] == "network":
        return network_point(params, cfg=cfg)
    return baseline_point(params, cfg=cfg)


def sweep_points(cfg, widths_by_d: dict, baselines: list[str]) -> list[dict]:
    """Sweep points, most expensive first (largest d, networks before baselines) so that a pool
    of two finishes together."""
    pts = []
    for d in sorted(cfg.dims, reverse=True):
        for s in range(cfg.seeds):
            for m in sorted(widths_by_d[d], reverse=True):
                pts.append({"d": d, "model": "network", "width": m, "seed": s})
            for b in baselines:
                pts.append({"d": d, "model": b, "width": 0, "seed": s})
    return pts


# =============================================================================== up-front cost
def _projector_flops(N: int, d: int) -> float:
    """:class:`~twolayer.kernels.hermite.HermiteProjector` on ``N`` points and one ``energies_se`` call:
    the Gram ``XXᵀ`` (``2N²d``) and one ``K_k v`` product (``2N²``) per order."""
    return 2.0 * N * N * d + len(HERMITE_ORDERS) * 2.0 * N * N


def run_cost(cfg, widths_by_d: dict):
    """:class:`twolayer._cost.Cost` of the sweep :func:`sweep_points` and the teacher self-check (an
    upper bound: a diverging network stops early). A network point: ``steps_of(cfg, d)`` steps of the
    two GEMMs on ``n = samples_factor·d²`` samples, at every record a test forward pass and the exact
    Hermite energies of the ``m + d`` ridge functions (``2(m + d)²d``), and the final Monte Carlo
    cross-check on ``n_hermite`` points. A kernel baseline: the train and test Grams, one
    :class:`~twolayer.bounds.KernelSolver` per ridge (Cholesky ``n³/3``, exact ``eigvalsh`` up to 1,000
    rows; the ``eigh`` fallback of a singular system is not counted) and the predictions. A polynomial
    baseline: the same in the dual when it has more features ``F`` than samples, else ``FᵀF`` (``2nF²``)
    and one LU solve (``2F³/3``) per ridge."""
    from ..._cost import Cost
    from .._common import forward_flops, gd_flops, gram_flops, solver_cost

    cost = Cost(dtype=cfg.dtype)
    nh = min(cfg.n_hermite, cfg.n_test)
    nt, ridges = cfg.n_test, len(cfg.ridges)
    for d in cfg.dims:
        n, steps = n_samples(cfg, d), steps_of(cfg, d)
        records = len(record_steps_of(cfg, d))
        one = Cost(_projector_flops(nh, d))                                  # the teacher's self-check
        for m in widths_by_d[d]:
            P = m + d
            one = one + Cost(gd_flops(n, d, m, steps) + records * (forward_flops(nt, d, m) + 2.0 * P * P * d)
                             + forward_flops(nh, d, m) + _projector_flops(nh, d))
        for b in baselines_of(cfg):
            features = hermite_feature_count(d, int(b.removeprefix("poly"))) if b.startswith("poly") else None
            if features is None or features > n:                               # a kernel method in the dual
                one = one + Cost(gram_flops(n, n, d) + gram_flops(nt, n, d) + ridges * 2.0 * nt * n)
                one = one + solver_cost(n).times(ridges)
            else:
                one = one + Cost(2.0 * n * features**2 + ridges * (2.0 * features**3 / 3 + 2.0 * nt * features))
            one = one + Cost(_projector_flops(nh, d))
        cost = cost + one.times(cfg.seeds)
    cost.dtype, cost.upper = cfg.dtype, True
    return cost


def record_steps_of(cfg, d: int) -> list:
    """The recorded steps of a network point at dimension ``d`` (:func:`network_training`)."""
    from ...dynamics import record_schedule

    return record_schedule(steps_of(cfg, d), cfg.records).tolist()


# =============================================================================== summaries
def result_values(results, metric: str, seeds: int, **where) -> np.ndarray:
    """``(seeds,)`` values of the per-point ``metric`` (rows without step/order/ridge) of the
    points matching ``where``; NaN where absent."""
    out = np.full(seeds, np.nan)
    for r in results:
        if all(r.params.get(k) == v for k, v in where.items()):
            for row in r.rows:
                if row["metric"] == metric and not ({"step", "order", "ridge"} & set(row)):
                    out[int(r.params["seed"])] = row["value"]
    return out


def nan_mean_sd(values, axis: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample sd over the finite entries along ``axis`` (NaN mean where none; sd 0 for one)."""
    v = np.asarray(values, dtype=float)
    ok = np.isfinite(v)
    k = ok.sum(axis=axis)
    s = np.where(ok, v, 0.0).sum(axis=axis)
    mean = np.where(k > 0, s / np.maximum(k, 1), np.nan)
    dev = np.where(ok, v - np.expand_dims(mean, axis), 0.0)
    sd = np.where(k > 1, np.sqrt((dev ** 2).sum(axis=axis) / np.maximum(k - 1, 1)), 0.0)
    return mean, sd


def summary_rows(cfg, results, models: list[tuple[str, float]]) -> tuple[Rows, dict]:
    """``d_test_mse_mean`` / ``_sd`` per (model, width factor, d) over the replicates; returns the
    rows and ``{(model, width_factor): (mean (D,), sd (D,))}``."""
    rows, curves = Rows(), {}
    for model, m_fac in models:
        vals = np.full((len(cfg.dims), cfg.seeds), np.nan)
        for i, d in enumerate(cfg.dims):
            where = {"d": d, "model": model}
            if model == "network":
                where["width"] = width_of(m_fac, d)
            vals[i] = result_values(results, "final_d_test_mse", cfg.seeds, **where)
        mean, sd = nan_mean_sd(vals)
        curves[(model, m_fac)] = (mean, sd)
        for i, d in enumerate(cfg.dims):
            extra = {"width_factor": m_fac} if model == "network" else {}
            rows.add("d_test_mse_mean", mean[i], model=model, d=d, **extra)
            rows.add("d_test_mse_sd", sd[i], model=model, d=d, **extra)
    return rows, curves


def network_history(results, d: int, m: int) -> dict:
    """Replicate means of one (d, m) network's records: steps, losses, Hermite energies (× d,
    shape (R, orders)), alignment; plus ``fitted_steps`` ``{order: (seeds,)}`` from :func:`first_fitted_step`."""
    rs = [r for r in results if r.params["model"] == "network" and r.params["d"] == d and r.params["width"] == m]
    out = {"steps": np.asarray(rs[0].arrays["steps"])}
    for key in ("test_mse", "population_mse", "alignment_mean", "alignment_min", "train_mse"):
        out[key] = nan_mean_sd(np.stack([r.arrays[key] for r in rs]), axis=0)[0]
    out["hermite"] = nan_mean_sd(np.stack([r.arrays["hermite"] for r in rs]), axis=0)[0]
    out["fitted_steps"] = {k: np.array([first_fitted_step(r.arrays["steps"], r.arrays["hermite"][:, j])
                                        for r in rs]) for j, k in enumerate(HERMITE_ORDERS) if k in EVEN_ORDERS}
    return out


def first_fitted_step(steps, energies, fraction: float = FIT_FRACTION) -> float:
    r"""First recorded step at which ``energies`` (one Hermite order's residual over the records)
    is at most ``fraction`` × its step-0 value; ``inf`` if never (or if the step-0 value is 0).

    >>> first_fitted_step([0, 10, 100, 1000], [1.0, 0.5, 0.08, 0.01])
    100.0
    """
    e = np.asarray(energies, dtype=float)
    st = np.asarray(steps, dtype=float)
    if e.size == 0 or not (math.isfinite(e[0]) and e[0] > 0):
        return float("inf")
    hit = np.nonzero(np.isfinite(e) & (e <= fraction * e[0]))[0]
    return float(st[hit[0]]) if hit.size else float("inf")
