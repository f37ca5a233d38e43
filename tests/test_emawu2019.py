"""The E–Ma–Wu experiments end to end at tiny sizes (the papers' qualitative claims asserted from
metrics.csv), plus checks of the numbers against mathematics done independently here: random
features trained by GD against closed-form linear GD with the feature Gram matrix, its t → ∞
limit against the minimum-norm least-squares solution, the fitted rate against an
eigen-computation, λ_n against the closed-form kernel."""

from __future__ import annotations

import math

import numpy as np
import pytest

import twolayer.experiments.emawu2019 as E
from twolayer._errors import InputError
from twolayer.dynamics import train
from twolayer.experiments import get_experiment, list_experiments, reproduce, resolve_config
from twolayer.networks import forward, init_network
from twolayer.report import figure_caption
from twolayer.runfolder import load_config, load_meta, load_metrics, metric_value, select_metrics

NAMES = ("ema-wu2019-gap", "ema-wu2019-convergence", "ema-wu2019-early-stopping")

# tiny versions of the laptop presets (about a second or two each)
GAP = ["n=40", "n_test=100", "widths=20,80,320,1280", "beta_c=1", "betas=0.3", "time=1000", "steps=40"]
CONV = ["n=30", "widths=200,3200", "steps=1200", "records=61"]
ES = ["n_values=30,60", "widths=240", "n_test=200", "steps=300", "time=2e4", "records=25", "rf_time_max=1e7",
      "interp_n=40", "interp_ratios=0.5,1,2,8", "interp_seeds=3"]


def _run(tmp_path_factory, name, sets, seeds=1, jobs=1, tag="run"):
    out = tmp_path_factory.mktemp(name) / tag
    return reproduce(name, out=out, sets=sets, seeds=seeds, jobs=jobs, quiet=True, formats=("png",))


def _caption(run, name):
    return figure_caption(name, load_metrics(run), load_config(run), load_meta(run))


@pytest.fixture(scope="module")
def gap(tmp_path_factory):
    return _run(tmp_path_factory, "ema-wu2019-gap", GAP)


@pytest.fixture(scope="module")
def conv(tmp_path_factory):
    return _run(tmp_path_factory, "ema-wu2019-convergence", CONV)


@pytest.fixture(scope="module")
def es(tmp_path_factory):
    return _run(tmp_path_factory, "ema-wu2019-early-stopping", ES)


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
def test_gap_shrinks_fast_at_beta_c_over_m_and_stops_at_fixed_beta(gap):
    m = load_metrics(gap)
    slope = metric_value(m, "gap_sup_slope", beta_rule="c/m", beta_c=1.0)
    assert slope < -1.0                       # far faster than the bound's m^-1/2
    assert metric_value(m, "gap_rms_slope", beta_rule="c/m", beta_c=1.0) < -1.0
    assert metric_value(m, "stops_shrinking", beta_rule="fixed", beta_c=0.3) == 1.0
    assert metric_value(m, "stops_shrinking", beta_rule="c/m", beta_c=1.0) == 0.0
    small = metric_value(m, "gap_sup_mean", beta_rule="c/m", beta_c=1.0, width=1280)
    large = metric_value(m, "gap_sup_mean", beta_rule="fixed", beta_c=0.3, width=1280)
    assert large > 30 * small
    # the theorem's quantity (NN minus the kernel flow) decays like m^-1/2, not faster
    assert -0.9 < metric_value(m, "kernel_gap_sup_slope", beta_rule="c/m", beta_c=1.0) < -0.2
    text, ok = _caption(gap, "gap_vs_width")
    assert ok is True and "stops shrinking at m ≈" in text
    assert {p.name for p in (gap / "figures").iterdir()} == {"gap_vs_width.png", "kernel_gap_vs_width.png"}
    assert (gap / "report.html").is_file()


def test_gap_numbers_do_not_depend_on_jobs(gap, tmp_path):
    other = reproduce("ema-wu2019-gap", out=tmp_path / "jobs2", sets=GAP, seeds=1, jobs=2, quiet=True,
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
    assert metric_value(m, "rate_ratio_mean", labels="random", width=200) > 1.5
    assert _caption(conv, "risk_decay")[1] is True
    # λ_n of K = k0/n against the kernel written out from its closed form
    cfg = resolve_config(get_experiment("ema-wu2019-convergence"), sets=CONV, seeds=1)
    X = E._train_sample(cfg.d, cfg.n, cfg.seed, 0, cfg.target, cfg.target_features, 0.0)[0]
    lam = np.linalg.eigvalsh(_k0_closed_form(X) / cfg.n)[0]
    assert metric_value(m, "lambda_n") == pytest.approx(lam, rel=1e-8)
    row = select_metrics(m, "rate_2m_lambda", labels="random", width=3200)[0]
    assert row["value"] == pytest.approx(2 * 3200 * lam, rel=1e-8)


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
def test_early_stopping_minimum_and_long_time_peak_at_m_equal_n(es):
    m = load_metrics(es)
    # an interior minimum: the risk rises again after it (noisy labels are being fitted)
    assert metric_value(m, "end_over_min_risk_min", width=240) > 1.2
    # more data, lower best risk; the best time moves later
    assert metric_value(m, "risk_min_mean", n=60, width=240) < metric_value(m, "risk_min_mean", n=30, width=240)
    assert metric_value(m, "s_star_gmean", n=60, width=240) > metric_value(m, "s_star_gmean", n=30, width=240)
    # the network follows the exact random-feature path near its minimum
    assert metric_value(m, "nn_rf_rel_diff_at_min_max", width=240) < 0.1
    # the long-time random-feature limit blows up at m = n, where λ_min of the Gram collapses
    assert metric_value(m, "interp_peak_ratio") == 1.0
    assert metric_value(m, "interp_peak_over_early_stopped") > 3
    lam = {r["ratio"]: r["value"] for r in select_metrics(m, "interp_lambda_min_median")}
    assert lam[1.0] < 0.1 * min(lam[0.5], lam[2.0])
    assert _caption(es, "long_time_rf")[1] is True
    for name in ("test_risk_vs_time", "early_stopping_scaling"):
        text, ok = _caption(es, name)
        assert isinstance(ok, bool) and "Criterion" in text


def test_captions_turn_to_disagree_when_the_numbers_do():
    rows = [{"metric": "lambda_n", "value": 1e-4}]
    for lab in ("true", "random"):
        for metric, v in (("rate_ratio_mean", 1.0), ("rate_ratio_empirical_mean", 1.0),
                          ("rate_ratio_kernel_curve_mean", 1.0), ("fit_r2_mean", 0.999)):
            rows.append({"metric": metric, "value": v, "labels": lab, "width": 1000})
    assert E._caption_convergence(rows, {})[1] is True
    rows[1]["value"] = 1.4                    # true-label rate 40% off 2mλ_n
    assert E._caption_convergence(rows, {})[1] is False
    interp = [{"metric": "interp_peak_ratio", "value": 4.0}, {"metric": "interp_peak_over_early_stopped", "value": 9.0},
              {"metric": "interp_peak_over_largest_ratio", "value": 2.0}]
    interp += [{"metric": "interp_lambda_min_median", "value": 1e-6, "ratio": q} for q in (1.0, 4.0)]
    assert E._caption_long_time(interp, {})[1] is False      # a peak away from m = n
