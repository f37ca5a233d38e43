"""Arora et al. (ICML 2019) Fig. 2, Thm 5.1, §5 width independence (``arora2019-fig2``) and Thm 6.1
(``arora2019-thm6``): every declared claim with a positive configuration that agrees and a negative
control that does not, at tiny sizes (seconds each)."""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from twolayer.bounds import polynomial_target_bound
from twolayer.claims import evaluate
from twolayer.data import load
from twolayer.experiments import get_experiment, reproduce
from twolayer.kernels import first_layer_ntk
from twolayer.runfolder import load_claims, load_meta, load_metrics, metric_value, select_metrics

# tiny version of the laptop preset: 3 noise levels × 3 seeds, widths 200/400/800 at p = 0.2
FIG2 = ["n_train=40", "n_test=100", "noise_levels=0,0.5,1", "width=200", "widths=200,400,800", "width_noise=0.2",
        "steps=5000", "records=8"]
NO_WIDTHS = [s if not s.startswith("widths") else "widths=200" for s in FIG2]
THM6 = ["data=sphere", "d=5", "n_values=25,50,100,200,400"]
GATED = ("fig2-test-error-rises", "fig2-true-vs-random", "fig2-test-l1-rises", "fig2-error-tracks-complexity",
         "thm5.1-bound-above-test-loss")
VERDICT_WORDS = re.compile(r"\b(agree|agrees|disagree|disagrees|holds?|fails?|violat\w*|confirm\w*|separates|tracks|"
                           r"inconclusive|verdict)\b", re.I)


def _run(tmp_path_factory, name, exp, sets, seeds, jobs=1, **kw):
    out = tmp_path_factory.mktemp(name) / "run"
    return reproduce(exp, out=out, sets=sets, seeds=seeds, jobs=jobs, quiet=True, formats=("png",), **kw)


def _claims(run) -> dict:
    return {r["claim"]: r for r in load_claims(run)}


@pytest.fixture(scope="module")
def fig2(tmp_path_factory):
    return _run(tmp_path_factory, "fig2", "arora2019-fig2", FIG2, seeds=3, jobs=2)


@pytest.fixture(scope="module")
def fig2_random(tmp_path_factory):
    return _run(tmp_path_factory, "fig2-random", "arora2019-fig2", NO_WIDTHS + ["base_labels=random"], seeds=3, jobs=2)


@pytest.fixture(scope="module")
def fig2_short(tmp_path_factory):
    return _run(tmp_path_factory, "fig2-short", "arora2019-fig2", NO_WIDTHS + ["steps=30"], seeds=2, jobs=2)


# ------------------------------------------------------------------------------ Figure 2, positive
def test_fig2_positive_configuration_agrees_on_every_claim(fig2):
    c = _claims(fig2)
    assert set(c) == {cl.id for cl in get_experiment("arora2019-fig2").claims}
    for cid, rec in c.items():
        assert rec["verdict"] == "agrees", (cid, rec["reason"])
    assert c["fig2-converged"]["statistic"] <= c["fig2-converged"]["threshold"] == pytest.approx(1 / 40)
    for cid in GATED + ("sec5-width-independence",):
        assert c[cid]["assumptions_met"] in (True, None)
    assert "Vacuous" in c["thm5.1-bound-above-test-loss"]["reason"]     # the bound exceeds 1 at this n
    assert "complexity spread across m 0" in c["sec5-width-independence"]["reason"]


def test_fig2_numbers_are_the_definitions(fig2):
    m = load_metrics(fig2)
    ds = load("digits", n_train=40, n_test=100, seed=0)
    H = first_layer_ntk(ds.X)
    direct = math.sqrt(2 * ds.y @ np.linalg.solve(H, ds.y) / ds.n)
    for s in range(3):  # the complexity of the clean labels is the direct solve sqrt(2 yᵀH⁻¹y/n)
        assert metric_value(m, "complexity", labels="noisy", noise=0.0, seed=s, width=200) == pytest.approx(direct, rel=1e-9)
    for r in select_metrics(m, "test_l1"):  # ℓ1 ≥ truncated ℓ1 ≥ 0-1 error for ±1 labels, point by point
        ids = {k: r[k] for k in ("labels", "noise", "seed", "width")}
        clipped = metric_value(m, "test_l1_clipped", **ids)
        assert r["value"] >= clipped - 1e-12 >= metric_value(m, "test_error", **ids) - 2e-12
    # p = 0.2 is not a noise level, so all three widths were trained for it; at fixed labels their
    # complexities coincide exactly (eq. 10 has no m)
    for s in range(3):
        vals = {metric_value(m, "complexity", labels="noisy", noise=0.2, seed=s, width=w) for w in (200, 400, 800)}
        assert len(vals) == 1
    # GD stopped at the threshold: every point's final/initial loss is just below 1/n
    for r in select_metrics(m, "train_loss_ratio"):
        assert r["value"] <= 1 / 40


def test_fig2_figures_have_plain_captions_and_badges(fig2):
    meta = load_meta(fig2)
    names = {"complexity_vs_noise", "paper_fig2", "error_vs_complexity", "bound_vs_loss", "error_vs_width"}
    assert names <= set(meta["figures"])
    for name in names:
        cap = meta["figures"][name]["caption"]
        assert cap and not VERDICT_WORDS.search(cap), (name, cap)
        assert (fig2 / "figures" / f"{name}.png").is_file()
    page = (fig2 / "report.html").read_text(encoding="utf-8")
    assert "badge bad" not in page and page.count("badge ok") >= len(names)
    assert {r["figure"] for r in load_claims(fig2)} <= set(meta["figures"])


# ------------------------------------------------------------------------------ Figure 2, negative controls
def test_random_labels_at_every_noise_level_do_not_agree(fig2_random):
    """base_labels=random: no noise level has learnable labels, test error ≈ 0.5 everywhere."""
    c = _claims(fig2_random)
    for cid in ("fig2-test-error-rises", "fig2-true-vs-random", "fig2-error-tracks-complexity",
                "fig2-test-l1-rises", "fig2-complexity-rises"):
        assert c[cid]["verdict"] in ("disagrees", "inconclusive"), (cid, c[cid]["reason"])
    m = load_metrics(fig2_random)
    err = [r["value"] for r in select_metrics(m, "test_error")]
    assert abs(np.mean(err) - 0.5) < 0.1
    assert c["fig2-converged"]["verdict"] == "agrees"  # the training itself is fine: the labels are the control


def test_a_too_short_step_budget_is_reported_and_gates_the_dependent_claims(fig2_short):
    c = _claims(fig2_short)
    assert c["fig2-converged"]["verdict"] == "disagrees"
    assert c["fig2-converged"]["statistic"] > c["fig2-converged"]["threshold"]
    assert "did not reach" in c["fig2-converged"]["reason"]
    for cid in GATED:
        assert c[cid]["verdict"] != "agrees" and c[cid]["assumptions_met"] is False, (cid, c[cid])
    # the complexity does not depend on training: still judged on its own
    assert c["fig2-complexity-rises"]["verdict"] == "agrees"


def test_fig2_jobs_and_executors_do_not_change_numbers(fig2_short, tmp_path):
    sets = NO_WIDTHS + ["steps=30"]
    serial = reproduce("arora2019-fig2", out=tmp_path / "serial", sets=sets, seeds=2, jobs=1, quiet=True,
                       formats=("png",))
    assert (serial / "metrics.csv").read_text() == (fig2_short / "metrics.csv").read_text()
    with ThreadPoolExecutor(2) as ex:  # the path a Dask Client.get_executor() takes
        other = reproduce("arora2019-fig2", out=tmp_path / "executor", sets=sets, seeds=2, quiet=True,
                          formats=("png",), executor=ex)
    assert (other / "metrics.csv").read_text() == (fig2_short / "metrics.csv").read_text()


# ------------------------------------------------------------------------------ hand-made rows
def _rows(err, bound=5.0, loss=0.3, loss_se=0.01, widths=(10, 100, 1000), noise=(0.0, 1.0), width_noise=0.5,
          ratio=1e-3):
    """Rows as the run writes them: ``err(p, w, s)`` gives the test error; 3 seeds."""
    rows = [{"metric": "n_test", "value": 200.0}]
    points = {(p, widths[0], s) for p in noise for s in range(3)} | {(width_noise, w, s) for w in widths
                                                                     for s in range(3)}
    for p, w, s in sorted(points):
        ids = {"labels": "noisy", "noise": p, "seed": s, "width": w}
        e = err(p, w, s)
        for name, v in (("test_error", e), ("test_l1", 2 * e), ("complexity", 1 + 4 * p + 0.1 * s),
                        ("train_loss_ratio", ratio), ("steps_run", 100.0), ("bound_total", bound),
                        ("test_l1_clipped", loss(p, s) if callable(loss) else loss), ("test_l1_clipped_se", loss_se)):
            rows.append({"metric": name, "value": float(v), **ids})
    return rows


CONFIG = {"noise_levels": [0.0, 1.0], "width": 10, "widths": [10, 100, 1000], "width_noise": [0.5], "steps": 1000,
          "resolved": {"converge_fraction": 0.01}}


def _judge(rows, config=CONFIG):
    return {r["claim"]: r for r in evaluate(get_experiment("arora2019-fig2").claims, rows, config)}


def test_width_independence_disagrees_when_the_error_grows_with_m():
    def growing(p, w, s):
        return 0.1 + 0.1 * math.log10(w) + 0.005 * s

    def flat(p, w, s):
        return 0.2 + 0.01 * ((s + w) % 3)

    c = _judge(_rows(growing))["sec5-width-independence"]
    assert c["verdict"] == "disagrees" and c["statistic"]["slope_p0.5"] == pytest.approx(0.1)
    assert _judge(_rows(flat))["sec5-width-independence"]["verdict"] == "agrees"
    one_seed = [r for r in _rows(growing) if r.get("seed", 0) == 0]  # no spread across seeds: undecidable
    assert _judge(one_seed)["sec5-width-independence"]["verdict"] == "inconclusive"
    # a flat error whose points did not converge is not an agreement
    rec = _judge(_rows(flat, ratio=0.5))["sec5-width-independence"]
    assert rec["verdict"] == "inconclusive" and rec["assumptions_met"] is False


def test_theorem_5_1_disagrees_when_the_test_loss_exceeds_the_bound():
    def err(p, w, s):
        return 0.1 + 0.3 * p

    assert _judge(_rows(err, bound=5.0, loss=0.3))["thm5.1-bound-above-test-loss"]["verdict"] == "agrees"
    rec = _judge(_rows(err, bound=0.5, loss=lambda p, s: 0.4 + 0.3 * p, loss_se=0.02))["thm5.1-bound-above-test-loss"]
    assert rec["verdict"] == "disagrees" and rec["statistic"] == pytest.approx(0.7 / 0.5)
    assert "non-vacuous" in rec["reason"]
    # above the bound by less than 2 test-set SE: not decidable
    rec = _judge(_rows(err, bound=0.5, loss=0.51, loss_se=0.02))["thm5.1-bound-above-test-loss"]
    assert rec["verdict"] == "inconclusive"


def test_correlation_and_separation_claims_decide_with_seeds():
    def rising(p, w, s):
        return 0.05 + 0.4 * p + 0.01 * s

    c = _judge(_rows(rising))
    assert c["fig2-true-vs-random"]["verdict"] == "agrees" and c["fig2-test-error-rises"]["verdict"] == "agrees"

    def falling(p, w, s):
        return 0.45 - 0.4 * p + 0.01 * s

    c = _judge(_rows(falling))
    assert c["fig2-true-vs-random"]["verdict"] == "disagrees"
    assert c["fig2-error-tracks-complexity"]["verdict"] == "disagrees"
    assert c["fig2-test-error-rises"]["verdict"] == "disagrees"


# ----------------------------------------------------------------------------- Theorem 6.1
@pytest.fixture(scope="module")
def thm6(tmp_path_factory):
    return _run(tmp_path_factory, "thm6", "arora2019-thm6", THM6 + ["targets=linear,cos,arctan"], seeds=2)


def test_thm6_positive_targets_stay_below_the_bound_and_level_off(thm6):
    c = _claims(thm6)
    for cid in ("thm6-below-bound", "thm6-levels-off"):
        assert c[cid]["verdict"] == "agrees" and c[cid]["assumptions_met"] is True, c[cid]
    assert c["thm6-below-bound"]["statistic"] < 1
    assert all(v < 0.25 for v in c["thm6-levels-off"]["statistic"].values())
    m = load_metrics(thm6)
    for target in ("linear", "cos", "arctan"):
        bound = metric_value(m, "bound_cor62", target=target)
        for r in select_metrics(m, "sqrt_yHy", target=target):
            assert r["value"] <= bound
            assert r["value"] <= metric_value(m, "bound_proof", target=target) * (1 + 1e-9)
    # an independent check of one point: the first 100 rows of the seed-0 sample
    from twolayer.experiments.arora2019.thm6 import Thm6Config, _thm6_inputs, _thm6_target

    cfg = Thm6Config(data="sphere", d=5, n_values=(25, 50, 100, 200, 400), targets=("linear",), seeds=2)
    X = _thm6_inputs("sphere", 5, 400, 0, 0)[:100]
    t = _thm6_target(cfg, "linear", 5)
    y = t(X)
    assert metric_value(m, "sqrt_yHy", target="linear", n=100, seed=0) == pytest.approx(
        math.sqrt(y @ np.linalg.solve(first_layer_ntk(X), y)), rel=1e-9)
    assert metric_value(m, "bound", target="linear", n=100, seed=0) == pytest.approx(3 * np.linalg.norm(t.terms[0].beta))
    assert polynomial_target_bound(t) == pytest.approx(3.0)  # beta_norm = 1
    page = (thm6 / "report.html").read_text(encoding="utf-8")
    assert "badge ok" in page and "badge bad" not in page
    assert not VERDICT_WORDS.search(load_meta(thm6)["figures"]["target_complexity"]["caption"])


def test_thm6_random_labels_do_not_level_off(tmp_path_factory):
    """Random ±1 labels: E[yᵀH⁻¹y] = tr H⁻¹ ≥ 2n, the value grows like n^0.5 or faster."""
    c = _claims(_run(tmp_path_factory, "thm6-random", "arora2019-thm6", THM6 + ["targets=random"], seeds=2))
    assert c["thm6-levels-off"]["verdict"] == "disagrees" and c["thm6-levels-off"]["assumptions_met"] is False
    assert c["thm6-levels-off"]["statistic"]["random"] > 0.5
    assert c["thm6-below-bound"]["verdict"] == "inconclusive"   # no bound exists for random labels


def test_thm6_an_odd_power_outside_the_class_exceeds_the_formula(tmp_path_factory):
    """(βᵀx)³: H∞'s series has only the powers 1 and 2l, so the cubic part is not in the kernel's range and
    sqrt(yᵀH⁻¹y) grows past eq. (13)'s formula 9‖β‖³; the claims say so with assumptions not met."""
    run = _run(tmp_path_factory, "thm6-cubic", "arora2019-thm6", THM6 + ["targets=linear,cubic"], seeds=2)
    c = _claims(run)
    for cid in ("thm6-below-bound", "thm6-levels-off"):
        assert c[cid]["verdict"] == "disagrees" and c[cid]["assumptions_met"] is False, c[cid]
    assert "cubic" in c["thm6-below-bound"]["reason"] and c["thm6-below-bound"]["statistic"] > 1
    assert metric_value(load_metrics(run), "bound_cor62", target="cubic") == pytest.approx(9.0)


def test_thm6_with_two_sizes_fits_the_slope_through_both(tmp_path):
    run = reproduce("arora2019-thm6", out=tmp_path / "two", sets=["n_values=20,40", "targets=linear", "d=5"],
                    seeds=1, quiet=True, formats=("png",))
    m = load_metrics(run)
    a, b = (metric_value(m, "sqrt_yHy", target="linear", n=n, seed=0) for n in (20, 40))
    assert metric_value(m, "growth_slope_upper_half", target="linear") == pytest.approx(math.log(b / a) / math.log(2))
    # one sample and two sizes: the slope has no standard error, so the claim cannot decide
    assert _claims(run)["thm6-levels-off"]["verdict"] == "inconclusive"
