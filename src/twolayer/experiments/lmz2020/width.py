r"""``lmz2020-width``: sufficient over-parameterization is needed (m ~ d against m = 10d).

Li, Ma, Zhang (COLT 2020) report simulations in which GD with too few neurons does not learn
``f* = aᵀ|W*x|``: ``|z| = relu(z) + relu(−z)`` needs two neurons per teacher direction and the
analysis needs ``m ≫ d``. Same teacher and samples as ``lmz2020-separation``, widths
``m = width_factor · d``; figure ``width`` (``d × test loss`` against ``m/d``); claims in :mod:`.claims`.
"""

from __future__ import annotations

import functools

import numpy as np

from .. import Experiment, RunContext, register
from .._common import Rows
from ._setup import PAPER, record_setup
from .claims import WIDTH_CLAIMS
from .figures import floors, plot_width
from .points import (WidthConfig, baselines_of, dispatch_point, lr_of, network_history, run_cost, summary_rows,
                     sweep_points, teacher_rows, width_of)


def width_cost(cfg: WidthConfig, n=None):
    """The arithmetic of a run (for the up-front estimate): :func:`.points.run_cost` with the widths
    ``m = width_factor·d`` of every factor."""
    return run_cost(cfg, {d: sorted({width_of(f, d) for f in cfg.width_factors}) for d in cfg.dims})


def run_width(cfg: WidthConfig, ctx: RunContext) -> None:
    widths = {d: sorted({width_of(f, d) for f in cfg.width_factors}) for d in cfg.dims}
    record_setup(cfg, ctx, widths)
    baselines = baselines_of(cfg)
    results = ctx.sweep(functools.partial(dispatch_point, cfg=cfg), sweep_points(cfg, widths, baselines),
                        seed=cfg.seed, desc="lmz2020 width points")
    rows = Rows()
    for r in results:
        rows.extend(r.rows)
    rows.extend(teacher_rows(cfg))
    models = [("network", f) for f in cfg.width_factors] + [(b, 0) for b in baselines]
    srows, curves = summary_rows(cfg, results, models)
    rows.extend(srows)
    facs = np.array(cfg.width_factors, float)
    table = np.stack([curves[("network", f)][0] for f in cfg.width_factors], axis=1)  # (D, F)
    sds = np.stack([curves[("network", f)][1] for f in cfg.width_factors], axis=1)
    base = {b: curves[(b, 0)][0] for b in baselines}
    for i, d in enumerate(cfg.dims):
        rows.add("narrow_over_wide", table[i, 0] / table[i, -1], d=d)
        if baselines:
            best = min(base[b][i] for b in baselines)
            rows.add("best_baseline_d_test_mse", best, d=d)
            rows.add("narrow_over_best_baseline", table[i, 0] / best, d=d)
            rows.add("wide_over_best_baseline", table[i, -1] / best, d=d)
        for f in cfg.width_factors:
            h = network_history(results, d, width_of(f, d))
            rows.add("alignment_final_by_width", h["alignment_mean"][-1], d=d, width_factor=f)
            rows.add("train_mse_final_by_width", d * h["train_mse"][-1], d=d, width_factor=f)
    ctx.rf.write_metrics(rows)
    ctx.rf.write_arrays(dims=np.array(cfg.dims, float), width_factors=facs, d_test_mse=table, d_test_mse_sd=sds,
                        **{f"d_test_mse_{b}": v for b, v in base.items()})
    ctx.save_figure(plot_width(np.array(cfg.dims), facs, table, sds, base, floors(),
                               title=rf"over-parameterization: width $m$ vs. $d\times$ test loss "
                                     rf"($n={cfg.samples_factor:g}d^2$, {cfg.algorithm}, {cfg.steps} steps)"),
                    "width",
                    caption=f"d × test loss (line: mean, band: ± 1 sd over {cfg.seeds} replicates, its lower edge clipped at 5 % "
                            f"of the mean on the log axis) of the ReLU network against m/d = "
                            f"{', '.join(f'{f:g}' for f in cfg.width_factors)}, one colour per d = "
                            f"{', '.join(map(str, cfg.dims))} ({cfg.algorithm}, lr {lr_of(cfg):g}); dashed: "
                            f"the baselines {', '.join(baselines) or '(none)'} at the same d; grey: the best constant "
                            f"and degree-≤2 polynomial levels.")


register(Experiment(
    name="lmz2020-width", paper=PAPER, config=WidthConfig, run=run_width,
    summary="Over-parameterization is needed: the network with m ~ d vs m = 10d vs the NTK on f* = a^T|W*x|",
    # laptop: the paper's plain GD at d = 6, 8, 10, budget 6000·(d/6)³; adam: the Adam variant at d = 8, 16, 24
    presets={"laptop": {"algorithm": "gd", "dims": (6, 8, 10), "steps": 6000, "steps_exponent": 3.0},
             "adam": {},
             "gd": {"algorithm": "gd", "dims": (8, 12), "seeds": 3, "steps": 4000, "steps_exponent": 2.0},
             "paper": {"dims": (8, 16, 32, 64), "seeds": 3, "width_factors": (1.0, 2.0, 4.0, 10.0, 50.0),
                       "n_test": 20_000, "algorithm": "gd", "lr": 2.0, "steps": 20_000, "steps_exponent": 1.0,
                       "records": 20, "kernels": ("ntk", "rf"), "poly_degrees": (2, 4), "dtype": "float64"}},
    grid_fields=("seeds", "dims", "width_factors"), claims=WIDTH_CLAIMS, cost=width_cost))
