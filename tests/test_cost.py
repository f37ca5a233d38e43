"""Up-front cost estimates (``Experiment(cost=...)``, :mod:`twolayer._cost`): every experiment declares
one, it scales with the work the run does, and it agrees with an independent count of the
arithmetic a small run actually executes."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from twolayer._cost import Cost, estimate
from twolayer.experiments import EXPERIMENTS, _load_all, reproduce, resolve_config

_load_all()
NAMES = list(EXPERIMENTS)


def _cost(name: str, *sets: str, preset: str = "laptop") -> Cost:
    exp = EXPERIMENTS[name]
    return exp.cost(resolve_config(exp, preset=preset, sets=list(sets)))


def test_every_experiment_declares_a_cost():
    assert len(NAMES) >= 12
    assert [n for n in NAMES if EXPERIMENTS[n].cost is None] == []


@pytest.mark.parametrize("name,preset", [(n, p) for n in NAMES for p in EXPERIMENTS[n].presets])
def test_every_preset_has_a_finite_positive_estimate(name, preset):
    cost = _cost(name, preset=preset)
    here, gpu = estimate(cost)
    assert math.isfinite(cost.gemm_flops) and cost.gemm_flops > 0
    assert all(int(n) == n and n >= 1 for n in [*cost.eigh, *cost.eigvals])
    assert math.isfinite(here) and here > 0 and math.isfinite(gpu) and gpu > 0


def test_paper_presets_cost_more_than_laptop_presets():
    for name in NAMES:
        assert _cost(name, preset="paper").gemm_flops > _cost(name).gemm_flops, name


# ------------------------------------------------------------------------------ scaling
#: Experiments whose laptop preset is dominated by its training steps.
STEP_BOUND = ["arora2019-fig2", "arora2019-movement", "ema-wu2019-convergence", "chen2020-alpha", "chen2020-width",
              "chen2020-generalization", "lmz2020-width"]


@pytest.mark.parametrize("name", STEP_BOUND)
def test_twice_the_steps_is_about_twice_the_arithmetic(name):
    steps = resolve_config(EXPERIMENTS[name]).steps
    one, two = _cost(name), _cost(name, f"steps={2 * steps}")
    assert two.gemm_flops / one.gemm_flops == pytest.approx(2.0, rel=0.05)
    assert sorted(two.eigh) == sorted(one.eigh) and sorted(two.eigvals) == sorted(one.eigvals)


@pytest.mark.parametrize("name", ["arora2019-thm6", "arora2019-fig2", "arora2019-movement", "ema-wu2019-gap",
                                  "ema-wu2019-convergence", "chen2020-alpha", "chen2020-width",
                                  "chen2020-generalization", "lmz2020-separation", "lmz2020-width"])
def test_twice_the_seeds_is_about_twice_the_arithmetic(name):
    seeds = resolve_config(EXPERIMENTS[name]).seeds
    one, two = _cost(name), _cost(name, f"seeds={2 * seeds}")
    assert two.gemm_flops / one.gemm_flops == pytest.approx(2.0, rel=0.05)
    assert len(two.eigh) + len(two.eigvals) <= 2 * (len(one.eigh) + len(one.eigvals))


def test_early_stopping_counts_both_replicate_axes():
    cfg = resolve_config(EXPERIMENTS["ema-wu2019-early-stopping"])
    base = _cost("ema-wu2019-early-stopping")
    both = _cost("ema-wu2019-early-stopping", f"seeds={2 * cfg.seeds}", f"interp_seeds={2 * cfg.interp_seeds}")
    assert both.gemm_flops / base.gemm_flops == pytest.approx(2.0, rel=0.05)


def test_the_step_part_is_exactly_the_gd_gemms_of_every_point():
    """c(2T) − c(T) is ``4 n m d T`` summed over the sweep points (one network each; batch of two
    for the convergence experiment)."""
    cfg = resolve_config(EXPERIMENTS["ema-wu2019-gap"])
    diff = _cost("ema-wu2019-gap", f"steps={2 * cfg.steps}").gemm_flops - _cost("ema-wu2019-gap").gemm_flops
    settings = len(cfg.beta_c) + len(cfg.betas)
    assert diff == pytest.approx(4.0 * cfg.n * cfg.d * cfg.steps * sum(cfg.widths) * settings * cfg.seeds, rel=1e-12)
    cfg = resolve_config(EXPERIMENTS["ema-wu2019-early-stopping"])
    name = "ema-wu2019-early-stopping"
    diff = _cost(name, f"steps={2 * cfg.steps}").gemm_flops - _cost(name).gemm_flops
    assert diff == pytest.approx(4.0 * cfg.d * cfg.steps * sum(cfg.n_values) * sum(cfg.widths) * cfg.seeds, rel=1e-12)
    cfg = resolve_config(EXPERIMENTS["chen2020-width"])
    diff = _cost("chen2020-width", f"steps={2 * cfg.steps}").gemm_flops - _cost("chen2020-width").gemm_flops
    assert diff == pytest.approx(4.0 * cfg.n_train * cfg.d * cfg.steps * sum(cfg.widths) * cfg.seeds, rel=1e-12)


def test_twice_the_width_is_about_twice_the_arithmetic():
    cfg = resolve_config(EXPERIMENTS["chen2020-generalization"])
    one, two = _cost("chen2020-generalization"), _cost("chen2020-generalization", f"width={2 * cfg.width}")
    assert two.gemm_flops / one.gemm_flops == pytest.approx(2.0, rel=0.05)


def test_the_decompositions_listed_are_the_runs():
    cfg = resolve_config(EXPERIMENTS["arora2019-thm6"])
    got = _cost("arora2019-thm6")
    # one KernelSolver per point; exact extreme eigenvalues (eigvalsh) up to 1,000 rows, none above
    assert Counter(got.eigvals) == Counter({n: len(cfg.targets) * cfg.seeds for n in cfg.n_values if n <= 1000})
    assert got.eigh == []
    assert _cost("chen2020-width").eigh == [resolve_config(EXPERIMENTS["chen2020-width"]).n_train]
    cfg = resolve_config(EXPERIMENTS["chen2020-alpha"])
    assert _cost("chen2020-alpha").eigh == [cfg.n_train] * (1 + len(cfg.dup_eps))
    cfg = resolve_config(EXPERIMENTS["ema-wu2019-gap"])
    ks = cfg.records + 1
    points = (len(cfg.beta_c) + len(cfg.betas)) * len(cfg.widths) * cfg.seeds
    # per replicate the k0 spectrum; per point one reference per train segment and the SVD (counted as 2 eigh)
    gap = Counter(_cost("ema-wu2019-gap").eigh)
    assert gap[cfg.n] >= cfg.seeds + points * (ks - 1)
    assert sum(gap.values()) == cfg.seeds + points * (ks - 1) + 2 * points


def test_cost_arithmetic():
    a = Cost(1.0, eigh=[3], eigvals=[5])
    b = a + Cost(2.0, eigh=[4], upper=True)
    assert (b.gemm_flops, b.eigh, b.eigvals, b.upper) == (3.0, [3, 4], [5], True)
    c = b.times(3)
    assert (c.gemm_flops, sorted(c.eigh), c.eigvals) == (9.0, [3, 3, 3, 4, 4, 4], [5, 5, 5])
    assert estimate(Cost(0.0, eigvals=[400]))[0] < estimate(Cost(0.0, eigh=[400]))[0]


# ------------------------------------------------------------------------------ independent count
def test_estimate_matches_the_arithmetic_a_small_run_executes(tmp_path, monkeypatch):
    """Count what a small ``ema-wu2019-convergence`` run really does: the flops of every engine
    evaluation (``4 n B m d`` with gradients, ``2 n B m d`` without) and the size of every dense
    symmetric eigendecomposition; the estimate's GEMM flops must be within a factor of 2 and its
    eigh / eigvals lists must be exactly the decompositions made."""
    import scipy.linalg as sla

    from twolayer import _linalg
    from twolayer.dynamics import engine

    flops, vec, vals = [0.0], [], []
    evaluate = engine.evaluate

    def counted_evaluate(state, *, grads=True, keep_preactivation=False):
        B, m, d = state.net.W.shape
        flops[0] += (4.0 if grads else 2.0) * state.problem.X.shape[0] * B * m * d
        return evaluate(state, grads=grads, keep_preactivation=keep_preactivation)

    np_eigh, np_eigvalsh, sp_eigh, syevd = np.linalg.eigh, np.linalg.eigvalsh, sla.eigh, _linalg.syevd_inplace

    def rec_np_eigh(a, *args, **kw):
        vec.append(np.shape(a)[0])
        return np_eigh(a, *args, **kw)

    def rec_np_eigvalsh(a, *args, **kw):
        vals.append(np.shape(a)[0])
        return np_eigvalsh(a, *args, **kw)

    def rec_sp_eigh(a, *args, **kw):
        (vals if kw.get("eigvals_only") else vec).append(np.shape(a)[0])
        return sp_eigh(a, *args, **kw)

    def rec_syevd(a, *args, vectors=True, **kw):
        (vec if vectors else vals).append(np.shape(a)[0])
        return syevd(a, *args, vectors=vectors, **kw)

    estimate(Cost(1.0))  # the machine's rates are measured once (an eigh of 384), before counting
    monkeypatch.setattr(engine, "evaluate", counted_evaluate)
    monkeypatch.setattr(_linalg, "syevd_inplace", rec_syevd)
    monkeypatch.setattr(np.linalg, "eigh", rec_np_eigh)
    monkeypatch.setattr(np.linalg, "eigvalsh", rec_np_eigvalsh)
    monkeypatch.setattr(sla, "eigh", rec_sp_eigh)
    sets = ["n=17", "d=5", "widths=40,80", "steps=400", "records=20", "seeds=1"]
    reproduce("ema-wu2019-convergence", out=tmp_path / "c", sets=sets, quiet=True, formats=("png",))
    monkeypatch.undo()
    cost = _cost("ema-wu2019-convergence", *sets)
    assert flops[0] > 0
    assert 0.5 < cost.gemm_flops / flops[0] < 2.0
    assert sorted(vec) == sorted(cost.eigh) and sorted(vals) == sorted(cost.eigvals)
