"""The E–Ma–Wu experiments end to end at tiny sizes: every declared claim agrees on a positive
configuration and disagrees (or stays inconclusive) on a negative control, read from claims.json;
plus checks of the numbers against mathematics done independently here: random features trained
by GD against closed-form linear GD with the feature Gram matrix, its t → ∞ limit against the
minimum-norm least-squares solution, the fitted rate against an eigen-computation, λ_n against
the closed-form kernel, the gap throughout training against separate GD runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

import twolayer.experiments.emawu2019 as E
from twolayer import claims as C
from twolayer._errors import InputError
from twolayer.dynamics import train
from twolayer.experiments import get_experiment, judge_run, list_experiments, reproduce, resolve_config
from twolayer.networks import forward, init_network
from twolayer.runfolder import load_claims, load_config, load_meta, load_metrics, metric_value, select_metrics

NAMES = ("ema-wu2019-gap", "ema-wu2019-convergence", "ema-wu2019-early-stopping")

# tiny versions of the laptop presets (seconds each)
GAP = ["n=40", "n_test=100", "widths=20,40,80,160,320,640", "beta_c=1", "betas=0.3", "time=1000", "steps=40",
       "records=5"]
CONV = ["n=30", "widths=100,3200", "steps=1200", "records=61"]
ES = ["n_values=30,60,120", "widths=240", "n_test=200", "steps=300", "time=2e4", "records=25", "rf_time_max=1e7",
      "interp_n=40", "interp_ratios=0.5,0.9,1,1.1,2,8", "interp_seeds=3"]
# negative controls
GAP_NEG = ["n=40", "n_test=100", "widths=40,80,160,320,640", "beta_c=20", "betas=0.001", "time=1000", "steps=40",
           "records=5"]                                   # c ≫ √m (β not small) and a tiny fixed β
CONV_NEG = ["n=50", "widths=10,20,100", "steps=1200", "records=61"]      # m < n diverges; m = 2n far from 1
ES_NEG = ["n_values=30,60,120", "widths=20", "noise=0", "n_test=200", "steps=300", "time=1e4", "records=25",
          "rf_time_max=1e7", "interp_n=40", "interp_ratios=2,4,8", "interp_seeds=3"]   # m < n, clean labels, no m = n


def _run(tmp_path_factory, name, sets, seeds=1, jobs=1, tag="run"):
    out = tmp_path_factory.mktemp(name) / tag
    return reproduce(name, out=out, sets=sets, seeds=seeds, jobs=jobs, quiet=True, formats=("png",))


def _claims(run) -> dict:
    return {r["claim"]: r for r in load_claims(run)}


@pytest.fixture(scope="module")
def gap(tmp_path_factory):
    return _run(tmp_path_factory, "ema-wu2019-gap", GAP, seeds=3)


@pytest.fixture(scope="module")
def gap_neg(tmp_path_factory):
    return _run(tmp_path_factory, "ema-wu2019-gap", GAP_NEG, seeds=2, tag="neg")


@pytest.fixture(scope="module")
def conv(tmp_path_factory):
    return _run(tmp_path_factory, "ema-wu2019-convergence", CONV, seeds=2)


@pytest.fixture(scope="module")
def es(tmp_path_factory):
    return _run(tmp_path_factory, "ema-wu2019-early-stopping", ES, seeds=2)


@pytest.fixture(scope="module")
def es_neg(tmp_path_factory):
    return _run(tmp_path_factory, "ema-wu2019-early-stopping", ES_NEG, seeds=2, tag="neg")


# ------------------------------------------------------------------------------ registry
def test_registered_with_laptop_and_paper_presets():
    listed = {e["name"]: e for e in list_experiments()}
    for name in NAMES:
        assert {"laptop", "paper"} <= set(listed[name]["presets"]) and listed[name]["summary"]
        laptop = resolve_config(get_experiment(name), preset="laptop")
        paper = resolve_config(get_experiment(name), preset="paper")
        assert laptop != paper


@pytest.mark.parametrize("name, sets, msg", [
    ("ema-wu2019-gap", ["widths=10"], "widths"),
    ("ema-wu2019-gap", ["beta_c=", "betas="], "at least one beta"),
    ("ema-wu2019-gap", ["target=cubic"], "target"),
    ("ema-wu2019-gap", ["time=1e6", "steps=10"], "natural step"),
    ("ema-wu2019-convergence", ["lr_fraction=1.5"], "lr_fraction"),
    ("ema-wu2019-early-stopping", ["rf_time_max=10"], "rf_time_max"),
])
def test_bad_settings_are_refused_with_a_message(tmp_path, name, sets, msg):
    with pytest.raises(InputError, match=msg):
        reproduce(name, out=tmp_path / "x", sets=GAP + sets if name.endswith("gap") else sets, quiet=True,
                  formats=("png",))
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------ gap
def test_gap_claims_agree_at_beta_c_over_m_and_at_a_large_fixed_beta(gap):
    cl = _claims(gap)
    assert set(cl) == {"gap-shrinks-beta-c-over-m", "gap-persists-at-fixed-beta", "kernel-gap-rate"}
    assert {r["figure"] for r in cl.values()} == {"gap_vs_width", "kernel_gap_vs_width"}
    for cid in cl:
        assert cl[cid]["verdict"] == C.AGREES, (cid, cl[cid]["reason"])
        assert cl[cid]["assumptions_met"] is True
    # the statistics are the mean per-replicate slopes: far below −1/2 (≈ the β² ∝ m⁻² of the
    # first-layer kernel part), flat or rising at β = 0.3, and near the Monte Carlo m^-1/2
    assert cl["gap-shrinks-beta-c-over-m"]["statistic"] < -1.5
    assert cl["gap-persists-at-fixed-beta"]["statistic"] > -0.5
    assert -1.0 < cl["kernel-gap-rate"]["statistic"] < -0.2
    m = load_metrics(gap)
    small = metric_value(m, "gap_sup_t_mean", beta_rule="c/m", beta_c=1.0, width=640)
    large = metric_value(m, "gap_sup_t_mean", beta_rule="fixed", beta_c=0.3, width=640)
    assert large > 30 * small
    assert metric_value(m, "stops_shrinking", beta_rule="fixed", beta_c=0.3) == 1.0
    assert metric_value(m, "stops_shrinking", beta_rule="c/m", beta_c=1.0) == 0.0
    # throughout training: the sup over the records is at least the final-time value
    for r in select_metrics(m, "gap_sup_t"):
        ids = {k: r[k] for k in ("beta_rule", "beta_c", "width", "seed")}
        assert r["value"] >= metric_value(m, "gap_sup", **ids) * (1 - 1e-12)
    assert {p.name for p in (gap / "figures").iterdir()} == {"gap_vs_width.png", "kernel_gap_vs_width.png"}
    assert judge_run(gap) == load_claims(gap)


def test_gap_claims_fail_when_beta_is_not_small_or_tiny_fixed(gap_neg):
    cl = _claims(gap_neg)
    # β = 20/m: c > √m at the fitted widths; the c/m claims never agree there
    for cid in ("gap-shrinks-beta-c-over-m", "kernel-gap-rate"):
        assert cl[cid]["verdict"] != C.AGREES and cl[cid]["assumptions_met"] is False
        assert "assumption not met" in cl[cid]["reason"]
    # a tiny fixed β = 0.001 is in the random-feature regime: the gap keeps shrinking
    rec = cl["gap-persists-at-fixed-beta"]
    assert rec["verdict"] == C.DISAGREES and rec["statistic"] < -1.0 and rec["assumptions_met"] is False


def _gap_rows(slopes_by_seed: dict, rule="c/m", c=1.0, metric="gap_sup_t", widths=(100, 200, 400, 800)):
    rows = [{"metric": "width_fit_min", "value": float(widths[0])}]
    for s, e in slopes_by_seed.items():
        for w in widths:
            rows.append({"metric": metric, "value": 0.3 * (w / widths[0]) ** e, "beta_rule": rule, "beta_c": c,
                         "width": w, "seed": s})
    return rows


def test_gap_claims_on_hand_made_rows_decide_with_the_slope_uncertainty():
    """No honest run makes the β = c/m gap or kernel gap shrink slower than m^-1/2 (the β-terms
    are O(1/m) there), so their 'disagrees' branch is checked on hand-made rows."""
    claims = get_experiment("ema-wu2019-gap").claims
    by = lambda recs: {r["claim"]: r for r in recs}  # noqa: E731
    flat = by(C.evaluate(claims, _gap_rows({0: 0.01, 1: -0.02, 2: 0.0})
                         + _gap_rows({0: 0.01, 1: -0.02, 2: 0.0}, metric="kernel_gap_sup_t")))
    assert flat["gap-shrinks-beta-c-over-m"]["verdict"] == C.DISAGREES
    assert flat["kernel-gap-rate"]["verdict"] == C.DISAGREES
    fast = by(C.evaluate(claims, _gap_rows({0: -2.0, 1: -2.1, 2: -1.9})
                         + _gap_rows({0: -0.5, 1: -0.55, 2: -0.45}, metric="kernel_gap_sup_t")))
    assert fast["gap-shrinks-beta-c-over-m"]["verdict"] == C.AGREES
    assert fast["kernel-gap-rate"]["verdict"] == C.AGREES
    # one replicate, two widths: no uncertainty, no verdict
    two = by(C.evaluate(claims, _gap_rows({0: -2.0}, widths=(100, 200))))
    assert two["gap-shrinks-beta-c-over-m"]["verdict"] == C.INCONCLUSIVE
    # a diverged point among the fitted ones: disagrees, with the step in the reason
    rows = _gap_rows({0: -2.0, 1: -2.1}) + [{"metric": "diverged_at_step", "value": 7.0, "beta_rule": "c/m",
                                              "beta_c": 1.0, "width": 800, "seed": 2}]
    rec = by(C.evaluate(claims, rows))["gap-shrinks-beta-c-over-m"]
    assert rec["verdict"] == C.DISAGREES and "diverged at step 7" in rec["reason"]


def test_gap_records_throughout_training_match_separate_runs():
    """The point's segmented GD is the same iterate sequence as one run to each record, and its
    random-feature outputs (exact linear path) equal GD on the random-feature model."""
    cfg = resolve_config(get_experiment("ema-wu2019-gap"), sets=GAP + ["widths=20,80"], seeds=1)
    rows, _ = E.gap.gap_point(dict(beta_rule="fixed", beta_c=0.3, width=80, seed=0), cfg=cfg)
    got = {r["metric"]: r["value"] for r in rows}
    X, y, Xt, _, _, _ = E.gap._gap_prep(cfg.d, cfg.n, cfg.n_test, cfg.target, cfg.target_features, cfg.seed, 0)
    net, rf = E._shared._nets(cfg.d, 80, E._shared._ss(cfg.seed, E._shared.INIT_KEY, 80, 0), 0.3)
    eta0 = cfg.time / cfg.steps
    sups = []
    for k in E.gap.record_steps(cfg):
        a = train(net, X, y, lr=eta0 / 80, steps=int(k), n_records=2, gram_diagnostics=False).network
        b = train(rf, X, y, lr=eta0 / 80, steps=int(k), n_records=2, gram_diagnostics=False).network
        sups.append(np.max(np.abs(forward(a, Xt)[0] - forward(b, Xt)[0])))
    assert got["gap_sup_t"] == pytest.approx(max(sups), rel=1e-8)
    assert got["gap_sup"] == pytest.approx(sups[-1], rel=1e-8)


def test_gap_numbers_do_not_depend_on_jobs(gap, tmp_path):
    other = reproduce("ema-wu2019-gap", out=tmp_path / "jobs2", sets=GAP, seeds=3, jobs=2, quiet=True,
                      formats=("png",))
    assert (other / "metrics.csv").read_bytes() == (gap / "metrics.csv").read_bytes()


# ------------------------------------------------------------------------------ convergence
def _k0_closed_form(X: np.ndarray) -> np.ndarray:
    """k0(x, x') = (sin θ + (π − θ) cos θ) / (2π d) on unit rows, written out here."""
    C = np.clip(X @ X.T, -1.0, 1.0)
    theta = np.arccos(C)
    return (np.sin(theta) + (np.pi - theta) * C) / (2 * np.pi * X.shape[1])


def test_late_rate_is_two_m_lambda_min_for_true_and_random_labels(conv):
    m = load_metrics(conv)
    for lab in ("true", "random"):
        assert abs(metric_value(m, "rate_ratio_mean", labels=lab, width=3200) - 1) < 0.15
        assert metric_value(m, "fit_r2_mean", labels=lab, width=3200) > 0.99
    # a narrow network is not in the kernel regime: on random labels it converges much faster
    assert metric_value(m, "rate_ratio_mean", labels="random", width=100) > 1.5
    rec = _claims(conv)["late-rate-is-2m-lambda-n"]
    assert rec["verdict"] == C.AGREES and rec["assumptions_met"] is True, rec["reason"]
    assert set(rec["statistic"]) == {"true", "random"}
    assert all(abs(v - 1) < E.claims.RATE_TOLERANCE for v in rec["statistic"].values())
    # λ_n of K = k0/n against the kernel written out from its closed form
    cfg = resolve_config(get_experiment("ema-wu2019-convergence"), sets=CONV, seeds=1)
    X = E._train_sample(cfg.d, cfg.n, cfg.seed, 0, cfg.target, cfg.target_features, 0.0)[0]
    lam = np.linalg.eigvalsh(_k0_closed_form(X) / cfg.n)[0]
    assert metric_value(m, "lambda_n") == pytest.approx(lam, rel=1e-8)
    row = select_metrics(m, "rate_2m_lambda", labels="random", width=3200)[0]
    assert row["value"] == pytest.approx(2 * 3200 * lam, rel=1e-8)


def test_convergence_claim_disagrees_below_n_and_records_the_divergence(tmp_path_factory):
    run = _run(tmp_path_factory, "ema-wu2019-convergence", CONV_NEG, seeds=2, tag="neg")
    m = load_metrics(run)
    # m = 10, 20 < n = 50: GD with the kernel's step diverges; the points say where, the run finishes
    div = select_metrics(m, "diverged_at_step")
    assert {r["width"] for r in div} == {10, 20} and all(r["value"] > 0 for r in div)
    # the kernel's step against the width-m Gram at init: above its limit for the narrowest width
    ratios = {r["width"]: metric_value(m, "lr_over_finite_width_limit", width=r["width"], seed=r["seed"]) for r in div}
    assert ratios[10] > 1 > metric_value(m, "lr_over_finite_width_limit", width=100, seed=0)
    assert load_meta(run)["status"] == "complete"
    rec = _claims(run)["late-rate-is-2m-lambda-n"]
    # m = 100 = 2n converged, but far from the kernel rate: disagrees, the diverged widths named
    assert rec["verdict"] == C.DISAGREES and rec["statistic"]["random"] > 2
    assert "diverged at step" in rec["reason"] and "m < n" in rec["reason"]
    # every width below n: nothing converged, the claim disagrees with the reason, no crash
    run = _run(tmp_path_factory, "ema-wu2019-convergence", ["n=50", "widths=10,20", "steps=300", "records=31"],
               seeds=1, tag="all_diverged")
    rec = _claims(run)["late-rate-is-2m-lambda-n"]
    assert rec["verdict"] == C.DISAGREES and rec["assumptions_met"] is False
    assert "diverged at step" in rec["reason"] and (run / "figures" / "risk_decay.png").is_file()


def test_convergence_claim_needs_a_trend_in_m():
    claims = get_experiment("ema-wu2019-convergence").claims
    rows = [{"metric": "n", "value": 30.0}]
    for s, (r1, r2) in enumerate([(1.02, 1.01), (0.99, 1.03), (1.01, 0.98)]):
        for lab, r in (("true", r1), ("random", r2)):
            rows.append({"metric": "rate_ratio", "value": r, "labels": lab, "width": 3200, "seed": s})
    one, = C.evaluate(claims, rows)
    assert one["verdict"] == C.INCONCLUSIVE and "one width only" in one["reason"]
    for s in range(3):
        for lab in ("true", "random"):
            rows.append({"metric": "rate_ratio", "value": 3.0 + s, "labels": lab, "width": 100, "seed": s})
    two, = C.evaluate(claims, rows)
    assert two["verdict"] == C.AGREES
    off = [dict(r, value=r["value"] * 1.3) if r.get("width") == 3200 else r for r in rows]
    assert C.evaluate(claims, off)[0]["verdict"] == C.DISAGREES


def test_random_features_by_gd_equal_closed_form_kernel_gd_and_its_limit():
    """ema-wu-rf trained by dynamics.train is linear GD on the feature Gram ΦΦᵀ: outputs after k
    steps are y − (I − ηΦΦᵀ/n)^k (y − u0), and the module's exact path (used for the long-time
    curves) reproduces them on test points; at k → ∞ it is a0 + Φ⁺(y − Φa0) (numpy lstsq)."""
    rng = np.random.default_rng(5)
    n, d, m, nt = 25, 6, 60, 40
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Xt = rng.standard_normal((nt, d))
    Xt /= np.linalg.norm(Xt, axis=1, keepdims=True)
    y = np.sin(3 * X[:, 0]) + 0.3 * rng.standard_normal(n)
    net = init_network("ema-wu-rf", d, m, seed=11, beta=0.05)
    W0, a0 = net.W[0], net.a[0]
    Phi, Phit = np.maximum(X @ W0.T, 0), np.maximum(Xt @ W0.T, 0)
    G = Phi @ Phi.T / n
    eta = 0.9 * 2 / np.linalg.eigvalsh(G)[-1]
    steps = 150
    res = train(net, X, y, lr=eta, steps=steps, record_steps=[0, 50, steps], gram_diagnostics=False)
    w, V = np.linalg.eigh(G)
    r0 = y - Phi @ a0
    for j, k in enumerate(res.steps):
        resid = V @ ((1 - eta * w) ** k * (V.T @ r0))
        assert res.metrics["loss"][0, j] == pytest.approx(0.5 * np.mean(resid**2), rel=1e-9, abs=1e-15)
    eta0 = eta * m                                  # the module's natural step: lr = eta0/m
    path, lam_min = E._rf_path(Phi, Phit, a0, y, eta0, m)
    assert np.allclose(path.outputs([steps])[0], forward(res.network, Xt)[0], rtol=1e-9, atol=1e-11)
    delta = np.linalg.lstsq(Phi, r0, rcond=None)[0]      # minimum-norm solution (m > n)
    assert np.allclose(path.outputs([np.inf])[0], Phit @ (a0 + delta), rtol=1e-8, atol=1e-9)
    assert lam_min == pytest.approx(np.linalg.eigvalsh(Phi @ Phi.T)[0] / (m * n), rel=1e-8)
    # the fitted late rate of this exactly linear run equals the slowest mode's per-step decay
    per_step = -2 * math.log1p(-eta * w[0])
    long = int(40 / per_step)                        # about 40 e-folds of the slowest mode
    res = train(net, X, y, lr=eta, steps=long, record_steps=np.linspace(0, long, 81).astype(int),
                gram_diagnostics=False)
    loss = res.metrics["loss"][0]
    window = E._late_window(loss, 1e-6, 1e-24)
    rate, r2 = E._fit_rate(res.steps.astype(float), loss, window)
    k = res.steps.astype(float)
    exact = 0.5 * np.mean((V @ ((1 - eta * w)[:, None] ** k[None, :] * (V.T @ r0)[:, None])) ** 2, axis=0)
    x, z = k[window], np.log(exact[window])
    assert rate == pytest.approx(-np.polyfit(x, z, 1)[0], rel=1e-6) and r2 > 0.9999
    assert rate == pytest.approx(per_step, rel=0.02)     # → the slowest mode alone as the window moves out


# ------------------------------------------------------------------------------ early stopping
def test_early_stopping_claims_agree_on_noisy_labels_with_m_above_n(es):
    cl = _claims(es)
    assert set(cl) == {"early-stopped-risk-decays-with-n", "early-stopping-beats-long-time",
                       "stopping-time-grows-like-sqrt-n", "long-time-risk-peaks-at-m-equal-n"}
    assert {r["figure"] for r in cl.values()} == {"early_stopping_scaling", "test_risk_vs_time", "long_time_rf"}
    for cid, rec in cl.items():
        assert rec["verdict"] == C.AGREES, (cid, rec["reason"])
    assert cl["early-stopped-risk-decays-with-n"]["statistic"] < -0.3
    assert cl["long-time-risk-peaks-at-m-equal-n"]["statistic"] == 1.0
    m = load_metrics(es)
    # an interior minimum: the risk rises again after it (noisy labels are being fitted)
    assert metric_value(m, "end_over_min_risk_min", width=240) > 1.2
    assert metric_value(m, "risk_min_mean", n=120, width=240) < metric_value(m, "risk_min_mean", n=30, width=240)
    # the network follows the exact random-feature path near its minimum
    assert metric_value(m, "nn_rf_rel_diff_at_min_max", width=240) < 0.1
    lam = {r["ratio"]: r["value"] for r in select_metrics(m, "interp_lambda_min_median")}
    assert lam[1.0] < 0.1 * min(lam[0.5], lam[2.0])


def test_early_stopping_claims_fail_on_their_negative_controls(es, es_neg):
    cl = _claims(es_neg)
    # m = 20 < n = 120: the decay claim is outside its assumptions and never agrees
    rec = cl["early-stopped-risk-decays-with-n"]
    assert rec["verdict"] != C.AGREES and rec["assumptions_met"] is False and "m < n" in rec["reason"]
    # clean labels: nothing to gain from stopping early, so no agreement
    assert cl["early-stopping-beats-long-time"]["verdict"] != C.AGREES
    assert cl["early-stopping-beats-long-time"]["assumptions_met"] is False
    # a grid m/n ∈ {2, 4, 8} has no interior peak: disagrees
    assert cl["long-time-risk-peaks-at-m-equal-n"]["verdict"] == C.DISAGREES
    # too few values of n for a slope (the positive run's rows at n = 30, 60 only): inconclusive
    rows = [r for r in load_metrics(es) if r.get("n") in (None, 30, 60)]
    two = {r["claim"]: r for r in C.evaluate(get_experiment("ema-wu2019-early-stopping").claims, rows,
                                             load_config(es))}
    for cid in ("early-stopped-risk-decays-with-n", "stopping-time-grows-like-sqrt-n"):
        assert two[cid]["verdict"] == C.INCONCLUSIVE and "too few" in two[cid]["reason"]
    # a peak away from m = n on hand-made rows: disagrees
    rows = [{"metric": "interp_risk_inf", "value": v * (1 + 0.01 * s), "ratio": q, "seed": s}
            for s in range(3) for q, v in ((0.5, 1.0), (1.0, 2.0), (2.0, 3.0), (4.0, 9.0), (8.0, 1.0))]
    rec = {r["claim"]: r for r in C.evaluate(get_experiment("ema-wu2019-early-stopping").claims, rows)}
    assert rec["long-time-risk-peaks-at-m-equal-n"]["verdict"] == C.DISAGREES
    assert rec["long-time-risk-peaks-at-m-equal-n"]["statistic"] == 4.0


def test_figures_have_captions_without_verdict_words(gap, conv, es):
    for run in (gap, conv, es):
        figs = load_meta(run)["figures"]
        assert figs
        for f in (figs.values() if isinstance(figs, dict) else figs):
            text = f.get("caption") if isinstance(f, dict) else None
            assert text, f
            low = text.lower()
            assert not any(w in low for w in ("agree", "holds", "fails", "verdict", "confirm", "consistent"))
