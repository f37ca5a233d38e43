"""The Chen, Cao, Gu, Zhang (2020) experiments end to end at tiny sizes, and the mathematics they rest
on: the twin run is the closed-form Ornstein–Uhlenbeck recursion driven by Algorithm 1's noise, the
engine is dynamics.train's, the Hermite-series kernel is the Monte Carlo tangent kernel, the
linearized theory's floor is the stationary OU formula, and the ReLU complexity is a direct solve."""

from __future__ import annotations

import math

import numpy as np
import pytest

import twolayer.experiments.chen2020 as C
from twolayer.data import apply_label_noise, load
from twolayer.dynamics import empirical_reference, train
from twolayer.experiments import reproduce
from twolayer.kernels import two_layer_ntk
from twolayer.networks import init_network
from twolayer.report import figure_caption
from twolayer.runfolder import load_config, load_meta, load_metrics, metric_value

ALPHA = ["n_train=20", "d=6", "alphas=1,4,16", "lambdas=0.001,0.004", "width=200", "floor_widths=200,800",
         "steps=600", "records=20"]
WIDTH = ["n_train=20", "d=6", "widths=50,800", "steps=300", "records=12"]
GEN = ["n_train=40", "n_test=80", "noise_levels=0,0.5,1", "width=200", "steps=600", "records=6"]


def _run(tmp_path_factory, name, sets, seeds=None, jobs=1):
    out = tmp_path_factory.mktemp(name) / "run"
    return reproduce(name, out=out, sets=sets, seeds=seeds, jobs=jobs, quiet=True, formats=("png",))


def _caption(run, figure):
    return figure_caption(figure, load_metrics(run), load_config(run), load_meta(run))


@pytest.fixture(scope="module")
def alpha_run(tmp_path_factory):
    return _run(tmp_path_factory, "chen2020-alpha", ALPHA, seeds=1)


# ------------------------------------------------------------------------------ end to end
def test_alpha_rate_plateau_and_distance(alpha_run):
    m = load_metrics(alpha_run)
    # decay rate ∝ α²λ₀ (slope 1) and equal to the eigen-computation's within 30%
    assert abs(metric_value(m, "rate_slope") - 1) < 0.15
    assert 0.7 < metric_value(m, "rate_ratio_top") < 1.3
    # KL proxy D falls like α⁻²; the raw movement is dominated by the injected noise
    assert abs(metric_value(m, "dist_slope") + 2) < 0.35
    assert metric_value(m, "raw_over_dist_top") > 5
    # plateau: falls with α, grows ∝ λ and falls ∝ 1/m at the largest α (noise floor nλ/(2m))
    assert metric_value(m, "plateau_ratio_low_high_alpha") > 1
    assert abs(metric_value(m, "plateau_lambda_slope") - 1) < 0.3
    assert abs(metric_value(m, "plateau_width_slope") + 1) < 0.35
    for fig in ("rate", "plateau", "distance"):
        assert (alpha_run / "figures" / f"{fig}.png").stat().st_size > 10_000
        text, agrees = _caption(alpha_run, fig)
        assert agrees is True, text


def test_width_spread_shrinks_and_jobs_do_not_matter(tmp_path_factory):
    one = _run(tmp_path_factory, "chen2020-width", WIDTH, seeds=3, jobs=1)
    two = _run(tmp_path_factory, "chen2020-width", WIDTH, seeds=3, jobs=2)
    assert (one / "metrics.csv").read_bytes() == (two / "metrics.csv").read_bytes()
    m = load_metrics(one)
    small, large = (metric_value(m, "spread_max", width=w) for w in (50, 800))
    assert large < 0.6 * small                      # 16× the width: m^-1/2 predicts 1/4
    assert metric_value(m, "spread_slope") < -0.3
    assert _caption(one, "width")[1] is True


def test_generalization_complexity_and_error_rise_together(tmp_path_factory):
    run = _run(tmp_path_factory, "chen2020-generalization", GEN, seeds=1)
    m = load_metrics(run)
    c = [metric_value(m, "complexity", labels="noisy", noise=p, seed=0) for p in (0.0, 0.5, 1.0)]
    e = [metric_value(m, "test_error", labels="noisy", noise=p, seed=0) for p in (0.0, 0.5, 1.0)]
    assert c[0] < c[1] < c[2]
    assert e[2] > e[0] + 0.2
    assert metric_value(m, "pearson_complexity_test_error") > 0.9
    assert _caption(run, "complexity_vs_test_error")[1] is True
    # the ReLU two-layer NTK complexity is a direct solve with kernels.two_layer_ntk on the same noisy labels
    cfg = C.GeneralizationConfig(n_train=40, n_test=80)
    ds = load("digits", classes=(0, 1), n_train=40, n_test=80, seed=0)
    y, _ = apply_label_noise(ds.y, 0.5, C._rng(0, C.NOISE_TRAIN_KEY, 0))
    direct = math.sqrt(2 * float(y @ np.linalg.solve(two_layer_ntk(ds.X), y)) / ds.n)
    got = metric_value(m, "complexity_relu_ntk", labels="noisy", noise=0.5, seed=0)
    assert got == pytest.approx(direct, rel=1e-9)
    # ... and the tanh one a direct solve with the generalized NTK
    H = C.generalized_ntk(ds.X, activation=cfg.activation)
    assert metric_value(m, "complexity", labels="noisy", noise=0.5, seed=0) == pytest.approx(
        math.sqrt(2 * float(y @ np.linalg.solve(H, y)) / ds.n), rel=1e-8)


# ------------------------------------------------------------------------------ mathematics
def _small():
    ds = load("sphere", n=12, d=4, target="linear", seed=3)
    net = init_network("mean-field", 4, 40, seed=5, alpha=3.0, symmetric=True, batch=1)
    return ds, net


def test_twin_is_the_closed_form_ou_recursion_with_the_same_noise():
    ds, net = _small()
    lr, lam, steps = 0.05, 0.3, 40
    res = C.noisy_gd(net, ds.X, ds.y, lr=lr, steps=steps, weight_decay=lam, noise_seed=11, record_steps=[0, steps])
    W, a = C.ou_twin(net, lr=lr, weight_decay=lam, steps=steps, noise_seed=11)
    np.testing.assert_allclose(res["twin"].W, W, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(res["twin"].a, a, rtol=1e-12, atol=1e-13)
    # a different noise seed gives a different twin (the check can fail)
    W2, _ = C.ou_twin(net, lr=lr, weight_decay=lam, steps=steps, noise_seed=12)
    assert np.max(np.abs(W2 - W)) > 1e-2
    # D is the mean squared particle distance to the twin
    dW, da = res["network"].W[0] - W[0], res["network"].a[0] - a[0]
    assert res["twin_dist"][-1] == pytest.approx(float((np.sum(dW**2) + np.sum(da**2)) / net.width), rel=1e-9)


def test_engine_matches_dynamics_train_exactly():
    ds, net = _small()
    kw = dict(lr=0.05, steps=30, weight_decay=0.2)
    mine = C.noisy_gd(net, ds.X, ds.y, noise_seed=7, record_steps=[0, 30], twin=False, **kw)
    ref = train(net, ds.X, ds.y, algorithm="noisy-gd", noise_seed=7, n_records=2, gram_diagnostics=False, **kw)
    np.testing.assert_array_equal(mine["network"].W, ref.network.W)
    np.testing.assert_array_equal(mine["network"].a, ref.network.a)
    assert mine["loss"][-1] == pytest.approx(float(ref.metrics["loss"][0, -1]), rel=1e-12)


def test_generalized_ntk_is_the_tangent_kernel_of_a_wide_network():
    from scipy.integrate import quad

    ds = load("sphere", n=5, d=6, seed=1)
    H = C.generalized_ntk(ds.X)
    # diagonal: E[tanh(z)^2] + E[tanh'(z)^2], z ~ N(0, 1)
    phi = lambda z, f: f(z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    diag = quad(phi, -40, 40, args=(lambda z: math.tanh(z) ** 2,))[0] + \
        quad(phi, -40, 40, args=(lambda z: (1 - math.tanh(z) ** 2) ** 2,))[0]
    assert H[0, 0] == pytest.approx(diag, rel=1e-10)
    # Monte Carlo: the empirical tangent kernel of the mean-field network at alpha = 1 is (1/m) Σ_j … → H
    m = 100_000
    K = empirical_reference(init_network("mean-field", 6, m, seed=2, alpha=1.0), ds.X)
    assert np.max(np.abs(K - H)) < 6 * 1.5 / math.sqrt(m)
    assert np.max(np.abs(K - H)) > 0            # a finite sample, not the same formula


def test_linear_theory_noise_floor_and_rates():
    mu = np.array([0.1, 0.5, 2.0])
    proj = np.array([0.3, -0.2, 1.0])
    n, alpha, lam, m = 3, 4.0, 1e-3, 500
    lr = 0.5 * 2 * n / (alpha**2 * mu[-1])
    th = C.linear_theory(mu, proj, alpha=alpha, lr=lr, weight_decay=lam, steps=4000, m=m)
    # noise-free part: the closed form c_i(k) = c_inf (1 − (1 − ηa_i)^k)
    a = alpha**2 * mu / n + lam
    c = alpha * proj / (n * a) * (1 - (1 - lr * a) ** 37)
    assert th["bias"][37] == pytest.approx(0.5 * np.sum((alpha * mu * c - proj) ** 2) / n, rel=1e-10)
    assert th["dist_mean"][37] == pytest.approx(float(mu @ c**2), rel=1e-10)
    # the noise part of the loss reaches the stationary OU floor (λ/m) Σ 1/(2 − ηα²μ/n) ≈ nλ/(2m)
    assert th["loss"][-1] - th["bias"][-1] == pytest.approx(th["floor"], rel=0.05)
    assert th["floor"] == pytest.approx(n * lam / (2 * m), rel=1.0)
    # the decay rate of the noise-free loss is set by α² (per unit time η k)
    t = lr * np.arange(4001)
    r1 = C.decay_rate(t, th["bias"], th["loss_inf"])
    th2 = C.linear_theory(mu, proj, alpha=2 * alpha, lr=lr / 4, weight_decay=lam / 4, steps=4000)
    r2 = C.decay_rate(t / 4, th2["bias"], th2["loss_inf"])
    assert r2 / r1 == pytest.approx(4.0, rel=0.02)


def test_configs_refuse_bad_settings():
    from twolayer._errors import InputError

    with pytest.raises(InputError, match="even"):
        C.AlphaConfig(width=101)
    with pytest.raises(InputError, match="smooth"):
        C.AlphaConfig(activation="relu")
    with pytest.raises(InputError, match="2 seeds"):
        C.WidthConfig(seeds=1)
    with pytest.raises(InputError, match="unit-norm"):
        C.generalized_ntk(np.array([[2.0, 0.0]]))


def test_listed_with_presets():
    from twolayer.experiments import get_experiment, list_experiments, resolve_config

    names = {e["name"] for e in list_experiments()}
    assert {"chen2020-alpha", "chen2020-width", "chen2020-generalization"} <= names
    for name in ("chen2020-alpha", "chen2020-width", "chen2020-generalization"):
        for preset in ("laptop", "paper"):
            resolve_config(get_experiment(name), preset=preset)
