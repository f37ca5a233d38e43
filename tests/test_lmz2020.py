"""Li, Ma, Zhang (2020) experiments: the mathematics they rest on, then each experiment end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer import experiments, report
from twolayer.experiments import reproduce

experiments._load_all()  # register every paper in the canonical order before this module's own import
import twolayer.experiments.lmz2020 as L  # noqa: E402
from twolayer.runfolder import load_metrics, metric_value


# ------------------------------------------------------------------------------ Hermite facts
def test_abs_hermite_coefficients_match_numerical_integration():
    from scipy.integrate import quad
    from scipy.special import eval_hermitenorm

    for k in range(9):
        # c_k = E[|z| He_k(z)]/sqrt(k!), z ~ N(0, 1)
        val, _ = quad(lambda z: abs(z) * eval_hermitenorm(k, z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi),
                      -np.inf, np.inf, points=None, limit=200)
        c = val / math.sqrt(math.factorial(k))
        assert c * c == pytest.approx(L.abs_hermite_coefficient_sq(k), abs=1e-10), k
    assert L.abs_hermite_coefficient_sq(2) == pytest.approx(1 / math.pi)
    assert L.abs_hermite_coefficient_sq(4) == pytest.approx(1 / (12 * math.pi))
    # Parseval: the squared coefficients sum to E|z|^2 = 1 (slowly: tail ~ k^{-1/2})
    partial = sum(L.abs_hermite_coefficient_sq(k) for k in range(0, 20001, 2))
    assert 0.99 < partial < 1.0
    assert L.abs_hermite_tail(2) == pytest.approx(1 - 3 / math.pi)
    assert L.abs_hermite_tail(0) == pytest.approx(1 - 2 / math.pi)


def test_hermite_kernels_equal_the_explicit_feature_gram():
    rng = np.random.default_rng(0)
    X, Z = rng.standard_normal((6, 3)), rng.standard_normal((5, 3))
    for degree in range(5):
        F, G = L.hermite_features(X, degree), L.hermite_features(Z, degree)
        assert F.shape[1] == L.hermite_feature_count(3, degree)
        np.testing.assert_allclose(F @ G.T, L.hermite_sum_kernel(X, Z, degree), rtol=1e-10, atol=1e-10)
    # single orders: the degree-k block of the features
    F4 = L.hermite_features(X, 4)[:, L.hermite_feature_count(3, 3):]
    G4 = L.hermite_features(Z, 4)[:, L.hermite_feature_count(3, 3):]
    S, A, B = X @ Z.T, (X * X).sum(1)[:, None], (Z * Z).sum(1)[None, :]
    np.testing.assert_allclose(F4 @ G4.T, L.hermite_kernel(4, S, A, B, 3), rtol=1e-10, atol=1e-10)


def test_hermite_features_are_orthonormal_under_the_gaussian():
    X = np.random.default_rng(1).standard_normal((200_000, 2))
    F = L.hermite_features(X, 4)
    np.testing.assert_allclose(F.T @ F / X.shape[0], np.eye(F.shape[1]), atol=0.1)


def test_hermite_projector_is_the_u_statistic_of_the_feature_projection():
    # exact identity: sum_{i != j} r_i K_k(x_i, x_j) r_j = ||F_k^T r||^2 - sum_i r_i^2 ||F_k(x_i)||^2
    rng = np.random.default_rng(2)
    X = rng.standard_normal((50, 3))
    r = rng.standard_normal(50) + 2.0
    est = L.HermiteProjector(X, block=16).energies(r)
    for k in range(5):
        lo, hi = (L.hermite_feature_count(3, k - 1) if k else 0), L.hermite_feature_count(3, k)
        F = L.hermite_features(X, k)[:, lo:hi]
        v = r if k == 0 else r - r.mean()
        want = (np.sum((F.T @ v) ** 2) - np.sum(v**2 * np.sum(F**2, axis=1))) / (50 * 49)
        assert est[k] == pytest.approx(want, rel=1e-9, abs=1e-12), k


def test_hermite_projector_recovers_known_energies():
    # r has known Hermite energies {0: 0.25, 1: 1, 2: 1, 3: 0, 4: 0.25}; the estimator is unbiased,
    # so the mean over 8 samples of 1500 points lands within a few standard errors
    est = []
    for seed in range(8):
        X = np.random.default_rng(seed).standard_normal((1500, 4))
        he4 = (X[:, 3] ** 4 - 6 * X[:, 3] ** 2 + 3) / math.sqrt(24)
        r = 0.5 + X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * he4
        e = L.HermiteProjector(X).energies(r)
        est.append([e[k] for k in range(5)])
    mean = np.mean(est, axis=0)
    np.testing.assert_allclose(mean, [0.25, 1.0, 1.0, 0.0, 0.25], atol=0.1)


def test_teacher_hermite_energies_match_closed_form():
    from twolayer.data.teacher import TeacherNetwork, random_orthogonal

    rng = np.random.default_rng(3)
    d = 3
    t = TeacherNetwork(np.array([0.5, 0.3, 0.2]), random_orthogonal(d, rng))
    X = rng.standard_normal((4000, d))
    est = L.HermiteProjector(X).energies(t(X))
    exact = L.teacher_hermite_energies(t.a)
    assert exact[1] == exact[3] == 0.0
    assert exact[2] == pytest.approx(float(t.a @ t.a) / math.pi)
    for k in (1, 2, 3, 4):
        assert est[k] == pytest.approx(exact[k], abs=0.006), (k, est[k], exact[k])
    # the order energies add up to E f*^2
    total = float(t.a.sum() ** 2 * 2 / math.pi + (t.a @ t.a) * (1 - 2 / math.pi))
    assert sum(exact.values()) < total
    assert total - sum(exact.values()) == pytest.approx(float(t.a @ t.a) * L.abs_hermite_tail(4))


# ------------------------------------------------------------------------------ baselines
def test_kernel_ridge_equals_a_direct_solve():
    from twolayer.kernels import two_layer_ntk

    rng = np.random.default_rng(4)
    X, Xt = rng.standard_normal((40, 5)), rng.standard_normal((7, 5))
    y = rng.standard_normal(40)
    K, Kt = two_layer_ntk(X), two_layer_ntk(Xt, X)
    want = Kt @ np.linalg.solve(K + 0.3 * np.eye(40), y)
    np.testing.assert_allclose(L.kernel_ridge(K, y, Kt, 0.3), want, rtol=1e-10)


def test_polynomial_regression_is_exact_in_its_span_and_primal_equals_dual():
    rng = np.random.default_rng(5)
    X, Xt = rng.standard_normal((80, 3)), rng.standard_normal((30, 3))

    def target(Z):
        return 1.0 - Z[:, 0] + 2 * Z[:, 1] * Z[:, 2] + 0.5 * Z[:, 0] ** 2

    [pred] = L.poly_ridge(X, target(X), Xt, 2, [1e-10])
    np.testing.assert_allclose(pred, target(Xt), atol=1e-6)
    # degree 2 cannot fit a quartic: a real error remains
    [bad] = L.poly_ridge(X, X[:, 0] ** 4, Xt, 2, [1e-10])
    assert np.mean((bad - Xt[:, 0] ** 4) ** 2) > 1.0
    y = np.abs(X[:, 0]) + X[:, 1] ** 3
    primal = L.poly_ridge(X, y, Xt, 3, [0.1, 10.0], dual=False)
    dual = L.poly_ridge(X, y, Xt, 3, [0.1, 10.0], dual=True)
    for a, b in zip(primal, dual):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-8)


def test_alignment_is_one_on_the_teacher_and_small_for_random_directions():
    from twolayer.data.teacher import random_orthogonal

    Ws = random_orthogonal(20, np.random.default_rng(6))
    np.testing.assert_allclose(L.alignment(3.0 * Ws[::-1], Ws), 1.0)
    rand = L.alignment(np.random.default_rng(7).standard_normal((5, 20)), Ws)
    assert rand.shape == (20,) and np.all(rand < 0.9)


def test_config_validation():
    from twolayer import InputError

    with pytest.raises(InputError, match="algorithm"):
        L.SeparationConfig(algorithm="sgd")
    with pytest.raises(InputError, match="kernels"):
        L.SeparationConfig(kernels=("gauss",))
    with pytest.raises(InputError, match="width_factors"):
        L.WidthConfig(width_factors=(1.0,))
    assert L.WidthConfig(dims=(16, 8)).dims == (8, 16)


# ------------------------------------------------------------------------------ end to end
TINY = ["dims=8", "steps=2500", "n_test=1024", "n_hermite=1024", "records=6", "ridges=1e-6,1e-2"]


def _caption(run, figure):
    import tomllib

    metrics = load_metrics(run)
    config = tomllib.loads((run / "config.toml").read_text())
    return report.CAPTIONS[f"{config['experiment']}/{figure}"](metrics, config)


def test_separation_end_to_end(tmp_path):
    run = reproduce("lmz2020-separation", out=tmp_path / "sep", sets=TINY + ["poly_degrees=2"], quiet=True,
                    formats=("png",))
    for fig in ("separation", "stagewise", "alignment"):
        assert (run / "figures" / f"{fig}.png").stat().st_size > 10_000
    assert (run / "report.html").exists()
    m = load_metrics(run)
    net = metric_value(m, "d_test_mse_mean", model="network", d=8, width_factor=10.0)
    kernel = min(metric_value(m, "d_test_mse_mean", model=b, d=8) for b in ("ntk", "rf", "poly2"))
    # the claim at d = 8: the network beats every baseline by a wide margin, the baselines stay
    # near the polynomial floors, and all are far below the constant predictor
    assert net < 0.25 * kernel
    assert kernel > 0.005
    assert metric_value(m, "d_test_mse_mean", model="poly2", d=8) > 0.8 * L.abs_hermite_tail(2)
    # the network aligns with the teacher and the stage-wise order: order 4 is the last to fall
    assert metric_value(m, "alignment_final", d=8) > 0.9 > metric_value(m, "alignment_random_init", d=8)
    text, ok = _caption(run, "separation")
    assert ok and "Separation holds" in text
    text, ok = _caption(run, "alignment")
    assert ok
    text, _ = _caption(run, "stagewise")
    assert "order 4" in text
    # the teacher's Hermite energies on the test sample agree with the closed form (order 2)
    est = metric_value(m, "teacher_hermite_energy", d=8, order=2)
    assert est == pytest.approx(metric_value(m, "teacher_hermite_energy_exact", d=8, order=2), rel=0.25)


def test_separation_is_deterministic_and_independent_of_jobs(tmp_path):
    sets = ["dims=4", "steps=200", "n_test=256", "n_hermite=256", "records=3", "poly_degrees=2", "ridges=1e-3"]
    a = reproduce("lmz2020-separation", out=tmp_path / "a", sets=sets, quiet=True, formats=("png",), jobs=1)
    b = reproduce("lmz2020-separation", out=tmp_path / "b", sets=sets, quiet=True, formats=("png",), jobs=2)
    assert (a / "metrics.csv").read_text() == (b / "metrics.csv").read_text()
    c = reproduce("lmz2020-separation", out=tmp_path / "c", sets=sets, seed=1, quiet=True, formats=("png",))
    assert (a / "metrics.csv").read_text() != (c / "metrics.csv").read_text()


def test_width_end_to_end(tmp_path):
    run = reproduce("lmz2020-width", out=tmp_path / "w", sets=TINY + ["width_factors=1,10"], quiet=True,
                    formats=("png",))
    assert (run / "figures" / "width.png").stat().st_size > 10_000
    m = load_metrics(run)
    narrow = metric_value(m, "d_test_mse_mean", model="network", d=8, width_factor=1.0)
    wide = metric_value(m, "d_test_mse_mean", model="network", d=8, width_factor=10.0)
    ntk = metric_value(m, "d_test_mse_mean", model="ntk", d=8)
    # over-parameterization is needed: m = d is worse than the wide network and than the NTK
    assert narrow > 5 * wide
    assert narrow > ntk
    text, ok = _caption(run, "width")
    assert ok and "narrow" in text


def test_listed_with_presets():
    from twolayer.experiments import list_experiments, resolve_config, get_experiment

    names = {e["name"]: e for e in list_experiments()}
    for name in ("lmz2020-separation", "lmz2020-width"):
        assert set(names[name]["presets"]) >= {"laptop", "paper"}
        paper = resolve_config(get_experiment(name), preset="paper")
        assert paper.algorithm == "gd" and 64 in paper.dims
