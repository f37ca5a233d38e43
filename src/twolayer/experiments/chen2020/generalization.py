r"""``chen2020-generalization``: Theorem 4.5's complexity ``sqrt(2 yᵀH⁻¹y/n)`` against the test error.

Chen, Cao, Gu, Zhang (NeurIPS 2020), Theorem 4.5 (papers.md §3.1): for α ≳ sqrt(nλ) the 0-1
test error of the network trained by Algorithm 1 is at most ``O(sqrt(yᵀH⁻¹y/n))`` plus
``O(sqrt(log(1/δ)/n))`` and λ-, α-dependent terms, ``H`` the generalized (two-layer) NTK Gram
matrix. Label noise of portion p on train and test labels (Arora et al. 2019, Fig. 2) raises
the complexity; the test error must rise with it, and stay below the bound. The noisy GD here
goes through the shared engine :func:`twolayer.dynamics.train` (algorithm ``noisy-gd``, weight
decay = temperature = λ), which applies the same update as :func:`~._core.noisy_gd`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..._errors import DivergenceError, InputError
from .. import Experiment, RunContext, register, summarize
from .._common import checkpointing, Rows, check_positive, gather, rng as _rng, seed_sequence as _ss
from . import claims as K, figures as F
from ._core import (NOISE_KEY, NOISE_TEST_KEY, NOISE_TRAIN_KEY, PAPER, SMOOTH, _init, _key, _lr, _prep, _prepared,
                    _record_steps)


@dataclass(frozen=True)
class GeneralizationConfig:
    """``chen2020-generalization``. Defaults = laptop preset: digits 0 vs 1 (unit norm, n = 100
    training and 200 test images), label noise p ∈ {0, 0.2, …, 1} on train and test labels (Arora
    et al. Fig. 2), 3 seeds; tanh network, m = 1000, α = 8 (kernel side), λ = 10⁻⁴, 3000 steps.
    Claim tested (Thm 4.5): the test error is controlled by
    ``sqrt(2 yᵀH⁻¹y/n)`` with the two-layer NTK Gram ``H`` of the trained activation, so both rise
    together with the noise, and the complexity stays above the test error. The ReLU two-layer
    NTK (:func:`twolayer.kernels.two_layer_ntk`, closed form) is reported for comparison. The
    theorem's constants and λ-, α-terms were not retrieved; the bound is taken as its label-dependent
    term with constant 1 (claims ``thm4.5-*`` in :mod:`.claims`).
    Paper-scale preset: MNIST 0 vs 1, n = 1000, m = 10⁴, 3 seeds, 20,000 steps."""

    data: str = "digits"
    classes: tuple[int, ...] = (0, 1)
    n_train: int | None = 100
    n_test: int | None = 200
    seed: int = 0
    seeds: int = 3
    noise_levels: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    alpha: float = 8.0
    weight_decay: float = 1e-4
    width: int = 1000
    lr_fraction: float = 0.3
    steps: int = 3000
    records: int = 20
    activation: str = "tanh"
    dtype: str = "float64"

    def __post_init__(self):
        check_positive("alpha", self.alpha)
        check_positive("weight_decay", self.weight_decay)
        check_positive("width", self.width, True)
        check_positive("steps", self.steps, True)
        check_positive("seeds", self.seeds, True)
        if self.width % 2:
            raise InputError("width must be even (each neuron is paired with a sign-flipped copy)")
        levels = tuple(float(p) for p in self.noise_levels)
        if len(levels) < 2 or len(set(levels)) != len(levels) or any(not 0 <= p <= 1 for p in levels):
            raise InputError(f"noise_levels must be at least two distinct portions in [0, 1], got {self.noise_levels!r}")
        object.__setattr__(self, "noise_levels", tuple(sorted(levels)))
        if not 0 < self.lr_fraction < 1:
            raise InputError(f"lr_fraction must lie in (0, 1), got {self.lr_fraction}")
        if self.activation not in SMOOTH:
            raise InputError(f"activation must be one of {', '.join(SMOOTH)} (Chen et al. need a smooth h)")



@functools.lru_cache(maxsize=2)
def _relu_solver_cached(key):
    from ...bounds import KernelSolver
    from ...kernels import two_layer_ntk

    return KernelSolver(two_layer_ntk(_prepared(*key)[0].X))


@functools.lru_cache(maxsize=2)
def _solver_cached(key):
    from ...bounds import KernelSolver

    return KernelSolver(_prepared(*key)[1])


def gen_point(params: dict, *, cfg: GeneralizationConfig):
    """One (noise p, seed): noisy labels, their complexities, Algorithm 1 through
    :func:`twolayer.dynamics.train` to ``steps``, train/test errors and losses."""
    from ...bounds import complexity
    from ...data import apply_label_noise
    from ...dynamics import train
    from ...networks import forward

    ds, H, spec = _prep(cfg)
    p, s = float(params["noise"]), int(params["seed"])
    y, _ = apply_label_noise(ds.y, p, _rng(cfg.seed, NOISE_TRAIN_KEY, s))
    yt, _ = apply_label_noise(ds.y_test, p, _rng(cfg.seed, NOISE_TEST_KEY, s))
    c = complexity(H, y, solver=_solver_cached(_key(cfg)))
    c_relu = complexity(None, y, solver=_relu_solver_cached(_key(cfg)))
    lr = _lr(cfg, spec, ds.n, cfg.alpha)
    ids = dict(labels="noisy", noise=p, seed=s)
    rows = Rows()
    for name, v in [("complexity", c.complexity), ("yHy", c.yHy), ("complexity_relu_ntk", c_relu.complexity),
                    ("n_changed", int(np.count_nonzero(y != ds.y)))]:
        rows.add(name, v, **ids)
    rec = _record_steps(cfg.steps, cfg.records)
    try:
        res = train(_init(cfg, ds.d, cfg.width, cfg.alpha, s), ds.X, y, lr=lr, steps=cfg.steps, algorithm="noisy-gd",
                    weight_decay=cfg.weight_decay, noise_seed=_ss(cfg.seed, NOISE_KEY, s), normalization="mean",
                    X_test=ds.X_test, y_test=yt, record_steps=rec, gram_diagnostics=False, **checkpointing())
    except DivergenceError as exc:
        rows.add("diverged_at_step", getattr(exc, "step", -1), **ids)
        nan = np.full(rec.size, np.nan)
        return rows, {"steps": rec, "loss": nan, "test_error": nan}
    loss, test_error = res.metrics["loss"][0], res.metrics["test_error"][0]
    f = forward(res.network, ds.X)[0].astype(np.float64)
    for name, v in [("train_loss", loss[-1]), ("initial_loss", loss[0]),
                    ("train_error", float(np.mean(np.sign(f) != y))),
                    ("test_error", test_error[-1]), ("test_loss", res.metrics["test_loss"][0][-1]),
                    ("bound_margin", c.complexity - test_error[-1])]:
        rows.add(name, v, **ids)
    return rows, {"steps": res.steps, "loss": loss, "test_error": test_error}


def generalization_cost(cfg: GeneralizationConfig, n=None):
    """The arithmetic of a run (for the up-front estimate; an upper bound: a diverging point stops
    early): the generalized NTK Gram and its ``eigh`` (:func:`._core.prepared_cost`), the two kernel
    solvers of the complexities (generalized and ReLU NTK, :func:`.._common.solver_cost`), and per
    (noise level, seed) one :func:`twolayer.dynamics.train` of ``steps`` noisy-GD steps with the test
    set and the network's empirical tangent kernel at initialization as reference (a tangent Gram
    and an ``eigh`` of ``n``; :func:`.._common.train_cost`) and a last forward pass."""
    from ..._cost import Cost
    from .._common import forward_flops, gram_flops, solver_cost, train_cost
    from ._core import data_shape, prepared_cost

    n, d, nt = data_shape(cfg)
    cost = prepared_cost(n, d) + solver_cost(n).times(2) + Cost(gram_flops(n, n, d))
    rec = len(_record_steps(cfg.steps, cfg.records))
    point = train_cost(n, d, cfg.width, cfg.steps, records=rec, n_test=nt, reference="empirical", dtype=cfg.dtype)
    cost = cost + (point + Cost(forward_flops(n, d, cfg.width))).times(len(cfg.noise_levels) * cfg.seeds)
    cost.dtype, cost.upper = cfg.dtype, True
    return cost


def run_generalization(cfg: GeneralizationConfig, ctx: RunContext) -> None:
    from ...claims import spearman
    from ...sweep import grid

    ds, H, spec = _prep(cfg)
    mu = spec.eigenvalues[::-1]                       # ascending, as the stored array has always been
    if not ds.has_test:
        raise InputError(f"chen2020-generalization needs a test split; {ds.name} has none (use digits, mnist:PATH, "
                         f"cifar10:PATH or a .npz with X_test, y_test)")
    ctx.rf.set_data(ds.provenance)
    lr = _lr(cfg, spec, ds.n, cfg.alpha)
    ctx.resolve(lr=lr, lr_rule="lr_fraction * 2n / (alpha^2 lambda_max(H))", lambda_0=spec.lambda_min,
                kernel=f"generalized two-layer NTK of {cfg.activation} (Hermite series), u ~ N(0,1)",
                complexity="sqrt(2 y^T H^-1 y / n)", engine="twolayer.dynamics.train, algorithm noisy-gd",
                alpha_condition="alpha >= sqrt(n * weight_decay) (Thm 4.5, reviewer's paraphrase)")
    rows = Rows()
    for name, v in [("n", ds.n), ("n_test", ds.n_test), ("d", ds.d), ("lr", lr), ("lambda_min", spec.lambda_min),
                    ("lambda_max", spec.lambda_max), ("condition_number", spec.condition_number),
                    ("random_complexity_expected", math.sqrt(2.0 * float(np.sum(1.0 / mu)) / ds.n)),
                    ("alpha_over_sqrt_n_lambda", cfg.alpha / math.sqrt(ds.n * cfg.weight_decay))]:
        rows.add(name, v)
    levels = list(cfg.noise_levels)
    results = ctx.sweep(functools.partial(gen_point, cfg=cfg), grid(noise=levels, seed=list(range(cfg.seeds))),
                        seed=cfg.seed, desc="generalization points")
    rows.extend(gather(results))
    tabs = {}
    for metric in ("complexity", "complexity_relu_ntk", "test_error", "test_loss", "train_loss", "train_error",
                   "initial_loss"):
        A = np.full((len(levels), cfg.seeds), np.nan)
        for r in results:
            A[levels.index(r.params["noise"]), int(r.params["seed"])] = next(
                (row["value"] for row in r.rows if row["metric"] == metric), float("nan"))
        tabs[metric] = A
        for i, p in enumerate(levels):
            mean, sd = summarize(A[i])
            rows.add(f"{metric}_mean", mean, labels="noisy", noise=p)
            rows.add(f"{metric}_std", sd, labels="noisy", noise=p)
    cm, em = tabs["complexity"].mean(1), tabs["test_error"].mean(1)
    rows.add("spearman_complexity_test_error", spearman(cm, em))
    finite = bool(np.all(np.isfinite(em)))
    rows.add("pearson_complexity_test_error", float(np.corrcoef(cm, em)[0, 1]) if finite and np.std(em) > 0
             else float("nan"))
    rows.add("spearman_relu_complexity_test_error", spearman(tabs["complexity_relu_ntk"].mean(1), em))
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(noise_levels=np.array(levels), eigenvalues=mu,
                        **{f"{m}_by_noise_seed": A for m, A in tabs.items()})
    title = (rf"{ds.name}, $n={ds.n}$, {cfg.activation}, $m={cfg.width}$, $\alpha={cfg.alpha:g}$, "
             rf"$\lambda={cfg.weight_decay:g}$, {cfg.steps} steps; mean $\pm$ sd over {cfg.seeds} seed(s)")
    ctx.save_figure(F.plot_generalization(np.array(levels), tabs, title=title), "complexity_vs_test_error",
                    caption=F.generalization_caption(cfg, ds))


register(Experiment(
    name="chen2020-generalization", paper=PAPER, config=GeneralizationConfig, run=run_generalization,
    summary="Thm 4.5: test error of the noisy-GD network vs the complexity sqrt(2 y^T H^-1 y / n) with the "
            "two-layer NTK, under label noise",
    presets={"laptop": {},
             "paper": {"data": "mnist:data/mnist", "n_train": 1000, "n_test": 2000, "width": 10_000, "seeds": 3,
                       "steps": 20_000, "noise_levels": tuple(round(0.1 * i, 1) for i in range(11))}},
    grid_fields=("seeds", "noise_levels"),
    claims=K.GENERALIZATION_CLAIMS, cost=generalization_cost))
