r"""``arora2019-thm6``: Arora et al. (ICML 2019), Theorem 6.1 / Corollary 6.2.

For targets ``y_i = Σ_j α_j (β_jᵀx_i)^{p_j}`` with ``p_j ∈ {1, 2, 4, …}`` and unit-norm inputs,
``sqrt(yᵀ(H∞)⁻¹y) ≤ 3 Σ_j p_j|α_j|‖β_j‖^{p_j}`` (eq. 13) at every ``n``, so the value levels off
as ``n`` grows. Two targets outside the theorem's class serve as controls: ``random`` (uniform ±1
labels, no bound; ``E[yᵀH⁻¹y] = tr(H⁻¹) ≥ n²/tr(H) = 2n``, so the value grows at least like
``n^{1/2}``) and ``cubic`` (``(βᵀx)³``: smooth, but odd ``p = 3`` is not in the class — the series
of ``H∞`` has only the powers 1 and 2l, so the degree-3 part of the target lies outside the
kernel's range in the limit — judged against the formal value ``3·3·‖β‖³`` of eq. (13)).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..._errors import InputError
from ..._seeds import sample_sphere
from .. import Experiment, RunContext, register, summarize
from .._common import (
    loglog_slope as _slope,
    seed_sequence as _ss,
    rng as _rng,
    check_positive as _check_positive,
    Rows as _Rows,
    gather as _gather,
    table as _table,
)
from ._shared import PAPER, RANDOM_KEY, SAMPLE_KEY
from .thm6_claims import THM6_CLAIMS


# ============================================================================ Theorem 6.1
THM6_TARGETS = ("linear", "quadratic", "cos", "arctan", "linear+quadratic+cos")
#: Targets outside Theorem 6.1's class (negative controls): random ±1 labels and ``(βᵀx)³``.
OUTSIDE_TARGETS = ("random", "cubic")


@dataclass(frozen=True)
class Thm6Config:
    """``arora2019-thm6``. Inputs: uniform points on the sphere ``S^{d-1}`` (default, ``d = 10``)
    or the bundled digits images (``data = "digits"``: all ten classes, unit norm, ``d = 64``);
    the targets are functions of the inputs. Laptop preset: n = 50 … 3,200, 3 nested samples,
    ~15 s. On the digits the values stay far below the bound but are still growing at n = 1,600
    (the images fill a narrow cone of the sphere, where H∞ is ill-conditioned). ``targets`` may also
    name the controls outside the theorem's class, ``random`` (±1 labels) and ``cubic`` ((βᵀx)³)."""

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
        return sample_sphere(rng, n_max, d)
    from sklearn.datasets import load_digits

    X = load_digits().data[rng.permutation(1797)[:n_max]].astype(float)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _thm6_target(cfg: Thm6Config, name: str, d: int):
    """The target ``name`` (a sum of components joined by ``+``), fixed by the root seed only: the
    same function for every ``n`` and every sample. ``β`` has norm ``beta_norm``; the quadratic's
    random symmetric matrix has spectral norm 1. ``cubic`` is ``(βᵀx)³`` (outside the class);
    ``random`` is no function of ``x`` and gives None (its labels come from :func:`_random_labels`)."""
    from ...data import make_target

    if name == "random":
        return None
    names = name.split("+")
    if "random" in names:
        raise InputError("the target 'random' (random ±1 labels) cannot be part of a sum")
    children = _ss(cfg.seed, SAMPLE_KEY, 10_000).spawn(len(names))
    parts = [_cubic(d, child, cfg.beta_norm) if part == "cubic" else
             make_target(part, d=d, seed=child, **({} if part == "quadratic" else {"beta_norm": cfg.beta_norm}))
             for part, child in zip(names, children)]
    out = parts[0]
    for part in parts[1:]:
        out = out + part
    return out


def _cubic(d: int, seed, beta_norm: float):
    """``(βᵀx)³`` with ``‖β‖ = beta_norm``: a one-term :class:`~twolayer.data.PolynomialTarget` with ``p = 3``."""
    from ...data import PolynomialTarget, make_target

    beta = make_target("linear", d=d, seed=seed, beta_norm=beta_norm).terms[0].beta
    return PolynomialTarget([(1.0, beta, 3)], name="cubic", params={"beta_norm": float(beta_norm), "p": 3},
                            note="p = 3 is outside Theorem 6.1 (p must be 1 or even)")


@functools.lru_cache(maxsize=4)
def _random_labels(n_max: int, seed: int, s: int) -> np.ndarray:
    """Nested uniform ±1 labels of sample ``s`` (the first ``n`` for size ``n``)."""
    return _rng(seed, RANDOM_KEY, s).choice([-1.0, 1.0], n_max)


def in_class(target) -> bool:
    """Whether Corollary 6.2 covers the target (every exponent 1 or even); False for random labels."""
    return target is not None and bool(target.cor62_applicable)


def _thm6_point(params: dict, *, cfg: Thm6Config):
    from ...bounds import KernelSolver, complexity, polynomial_target_bound
    from ...kernels import first_layer_ntk

    n, s, name = int(params["n"]), int(params["seed"]), str(params["target"])
    X = _thm6_inputs(cfg.data, cfg.d, cfg.n_values[-1], cfg.seed, s)[:n]
    target = _thm6_target(cfg, name, X.shape[1])
    y = _random_labels(cfg.n_values[-1], cfg.seed, s)[:n] if target is None else np.asarray(target(X), dtype=float)
    H = first_layer_ntk(X)
    c = complexity(H, y, solver=KernelSolver(H))
    ids = dict(target=name, n=n, seed=s)
    rows = _Rows()
    rows.add("sqrt_yHy", math.sqrt(c.yHy), **ids)
    if target is not None and in_class(target):
        rows.add("bound", polynomial_target_bound(target), **ids)
        rows.add("bound_sharp", polynomial_target_bound(target, sharp=True), **ids)
    elif target is not None:  # outside the class: eq. (13)'s formula evaluated anyway (no proof constants)
        rows.add("bound", sum(3.0 * t.p * abs(t.alpha) * float(np.linalg.norm(t.beta)) ** t.p for t in target.terms),
                 **ids)  # random labels have no bound at all
    rows.add("label_norm", math.sqrt(float(y @ y)), **ids)
    rows.add("lambda_min", c.lambda_min, **ids)
    return rows, {}


def run_thm6(cfg: Thm6Config, ctx: RunContext) -> None:
    from ... import plotting as P
    from ...sweep import grid

    ctx.rf.set_data({"source": cfg.data, "inputs": "bundled digits images, all classes, unit norm" if cfg.data ==
                     "digits" else f"uniform on the sphere S^{cfg.d - 1}", "nested_samples": True,
                     "n_values": list(cfg.n_values), "targets": list(cfg.targets), "beta_norm": cfg.beta_norm})
    d = 64 if cfg.data == "digits" else cfg.d
    classes = {name: in_class(_thm6_target(cfg, name, d)) for name in cfg.targets}  # refuses a bad name first
    points = grid(target=list(cfg.targets), n=list(cfg.n_values), seed=list(range(cfg.seeds)))
    results = ctx.sweep(functools.partial(_thm6_point, cfg=cfg), points, seed=cfg.seed, desc="thm6 points")
    rows = _gather(results)
    ns = np.array(cfg.n_values, float)
    half = np.arange(ns.size) >= ns.size - upper_half_size(ns.size)
    measured, bounds, sharp, slopes = {}, {}, {}, {}
    for name in cfg.targets:
        A = _table(results, "sqrt_yHy", "n", cfg.n_values, cfg.seeds, target=name)
        get = {row["metric"]: row["value"] for r in results if r.params["target"] == name for row in r.rows}
        measured[name] = summarize(A)
        slopes[name] = _slope(ns[half], measured[name][0][half])
        for i, n in enumerate(cfg.n_values):
            rows.add("sqrt_yHy_mean", measured[name][0][i], target=name, n=n)
            rows.add("sqrt_yHy_std", measured[name][1][i], target=name, n=n)
        rows.add("in_class", classes[name], target=name)
        if "bound" in get:  # random labels have none; cubic has the formula only, no proof constants
            bounds[name] = get["bound"]
            rows.add("bound_cor62", bounds[name], target=name)
            rows.add("max_over_bound", float(np.max(A)) / bounds[name], target=name)
        if "bound_sharp" in get:
            sharp[name] = get["bound_sharp"]
            rows.add("bound_proof", sharp[name], target=name)
        rows.add("growth_slope_upper_half", slopes[name], target=name)
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(n_values=ns, **{f"sqrt_yHy_{k.replace('+', '_')}": measured[k][0] for k in cfg.targets})
    outside = [t for t in cfg.targets if not classes[t]]
    caption = (f"sqrt(yᵀ(H∞)⁻¹y) against the sample size n, one panel per target (nested samples; line: the "
               f"mean, band: ± 1 sd over {cfg.seeds} sample(s); inputs: "
               + ("the digits images, unit norm" if cfg.data == "digits" else f"uniform on the sphere in d = {cfg.d}")
               + f"; ‖β‖ = {cfg.beta_norm:g}), with the Corollary 6.2 value 3 Σ p_j|α_j|‖β_j‖^p_j (dashed) and the "
               f"proof's sharper constants (dotted); last panel: the ratio to the Corollary 6.2 value, one marker and line "
               f"style per target, so coinciding curves stay apart. "
               + (f"Targets outside Theorem 6.1's class: {', '.join(outside)} (random labels have no bound line; "
                  f"for cubic the dashed line is the formula evaluated outside its hypothesis). " if outside else ""))
    ctx.save_figure(P.plot_target_complexity(ns, measured, bounds, sharp,
                                             title=rf"Theorem 6.1 on {cfg.data}: $\sqrt{{y^\top H^{{-1}} y}}$ vs "
                                                   rf"$n$ (mean $\pm$ sd, {cfg.seeds} nested samples), "
                                                   rf"$\|\beta\| = {cfg.beta_norm:g}$"), "target_complexity",
                    caption=caption)


def thm6_cost(cfg: Thm6Config, n=None):
    """The arithmetic of a run (for the up-front estimate): every (target, n, sample) point builds
    ``H∞`` of its ``n`` inputs (``2n²d``) and factors it once (:func:`.._common.solver_cost`: the
    Cholesky ``n³/3`` and, up to 1,000 rows, one ``eigvalsh`` for the exact extreme eigenvalues)."""
    from ..._cost import Cost
    from .._common import gram_flops, solver_cost

    d = 64 if cfg.data == "digits" else cfg.d
    cost = Cost()
    for size in cfg.n_values:
        one = solver_cost(size) + Cost(gram_flops(size, size, d))
        cost = cost + one.times(len(cfg.targets) * cfg.seeds)
    return cost


def upper_half_size(n_sizes: int) -> int:
    """How many of the largest sizes the growth exponent is fitted on: the upper half, at least 2."""
    return max(2, (n_sizes + 1) // 2)


register(Experiment(
    name="arora2019-thm6", paper=PAPER, config=Thm6Config, run=run_thm6,
    summary="Thm 6.1 / Cor 6.2: sqrt(y^T H^-1 y) of polynomial-like targets vs the bound as n grows (levels off)",
    presets={"laptop": {},
             "paper": {"data": "sphere", "d": 10, "n_values": (100, 200, 400, 800, 1600, 3200, 6400, 12800),
                       "seeds": 5}},
    grid_fields=("seeds", "n_values", "targets"),
    claims=THM6_CLAIMS, cost=thm6_cost))
