"""The H-infinity demo on the real bundled digits: files, and the paper's claims in its metrics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer._errors import InputError
from twolayer.data import load
from twolayer.demo import run_demo, step_grid
from twolayer.kernels import first_layer_ntk
from twolayer.runfolder import load_arrays, load_config, load_meta, load_metrics, metric_value, select_metrics

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
NOISE = (0.0, 0.5, 1.0)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "run"
    path = run_demo(out, noise_levels=NOISE, seeds=2, quiet=True)
    assert path == out
    return path


@pytest.fixture(scope="module")
def metrics(run):
    return load_metrics(run)


def test_all_files_written(run):
    for name in ("config.toml", "meta.json", "metrics.csv", "arrays.npz", "report.html"):
        assert (run / name).is_file() and (run / name).stat().st_size > 0, name
    pngs = sorted((run / "figures").glob("*.png"))
    assert len(pngs) >= 4
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 10_000, png.name
        pdf = png.with_suffix(".pdf").read_bytes()
        assert pdf[:5] == b"%PDF-" and pdf.rstrip().endswith(b"%%EOF"), png.name
    assert {p.stem for p in pngs} >= {"loss_curves", "spectrum_projections", "complexity_vs_noise", "eigenvalues"}
    assert not [p for p in run.rglob("*") if p.name.endswith(".tmp")]
    meta = load_meta(run)
    assert meta["status"] == "complete" and meta["experiment"] == "demo"
    assert meta["data"]["source"] == "digits" and meta["data"]["counts"]["n_train"] == 288
    assert set(meta["timings_s"]) >= {"data", "kernel", "spectrum", "noise_sweep", "figures", "report"}
    cfg = load_config(run)
    assert cfg["noise"]["levels"] == list(NOISE) and cfg["noise"]["seeds"] == [0, 1]
    assert cfg["data"]["classes"] == [0, 1] and cfg["seed"] == 0
    assert cfg["dynamics"]["normalization"] == "mean"
    assert 0 < cfg["dynamics"]["lr"] < cfg["dynamics"]["max_stable_lr"]


def test_spectrum_and_trace_recorded(run, metrics):
    n = metric_value(metrics, "n")
    assert n == 288 and metric_value(metrics, "d") == 64
    # tr H = n/2 for unit-norm inputs, recorded and true
    assert metric_value(metrics, "trace_H_expected") == n / 2
    assert metric_value(metrics, "trace_H") == pytest.approx(n / 2, rel=1e-13)
    arr = load_arrays(run)
    lam = arr["eigenvalues"]
    assert np.all(np.diff(lam) <= 0) and lam[-1] > 0
    assert lam.sum() == pytest.approx(n / 2, rel=1e-12)
    assert metric_value(metrics, "lambda_min") == lam[-1] and metric_value(metrics, "lambda_max") == lam[0]
    assert metric_value(metrics, "condition_number") == pytest.approx(lam[0] / lam[-1], rel=1e-12)
    # label projections preserve the norm (orthonormal eigenvectors): sum (v_i^T y)^2 = ||y||^2 = n
    for name in ("true", "random", "worst_case"):
        assert np.sum(arr[f"projections_{name}"] ** 2) == pytest.approx(n, rel=1e-10)
        assert metric_value(metrics, "label_energy", labels=name, index=int(n)) == pytest.approx(1.0, abs=1e-12)
    # worst-case labels live on the last eigenvector
    assert arr["projections_worst_case"][-1] ** 2 == pytest.approx(n, rel=1e-10)


def test_complexity_true_below_random_and_matches_direct_solve(run, metrics):
    c_true = metric_value(metrics, "complexity", labels="true")
    c_rand = metric_value(metrics, "complexity", labels="random")
    c_worst = metric_value(metrics, "complexity", labels="worst_case")
    assert c_true < c_rand < c_worst
    # independent recomputation from the data: sqrt(2 y^T H^-1 y / n)
    ds = load("digits", classes=(0, 1), seed=0)
    H = first_layer_ntk(ds.X)
    direct = math.sqrt(2 * ds.y @ np.linalg.solve(H, ds.y) / ds.n)
    assert c_true == pytest.approx(direct, rel=1e-9)
    # worst case: y = sqrt(n) v_min gives y^T H^-1 y = n / lambda_min
    lam_min = metric_value(metrics, "lambda_min")
    assert c_worst == pytest.approx(math.sqrt(2 / lam_min), rel=1e-8)
    # the Theorem 5.1 bound orders the label sets the same way
    assert metric_value(metrics, "bound_total", labels="true") < metric_value(metrics, "bound_total", labels="random")


def test_complexity_increases_with_noise(run, metrics):
    means = [metric_value(metrics, "complexity_mean", labels="noisy", noise=p) for p in NOISE]
    assert means[0] < means[1] < means[2]                       # the paper's Figure 2 claim
    assert means[0] == pytest.approx(metric_value(metrics, "complexity", labels="true"), rel=1e-12)
    for s in (0, 1):                                             # and for every seed separately
        c0 = metric_value(metrics, "complexity", labels="noisy", noise=0.0, seed=s)
        c1 = metric_value(metrics, "complexity", labels="noisy", noise=1.0, seed=s)
        assert c1 > 3 * c0
    # at p = 1 labels are uniform: E[C^2] = 2 tr(H^-1)/n exactly, and the recorded expectation says so
    ref = metric_value(metrics, "random_complexity_expected")
    assert metric_value(metrics, "complexity_expected", labels="noisy", noise=1.0) == pytest.approx(ref, rel=1e-12)
    assert means[2] == pytest.approx(ref, rel=0.1)
    # the kernel predictor's test error grows from (near) zero to chance level
    e0 = metric_value(metrics, "test_error_mean", labels="noisy", noise=0.0)
    e1 = metric_value(metrics, "test_error_mean", labels="noisy", noise=1.0)
    assert e0 < 0.05 and 0.25 < e1 < 0.75


def test_predicted_losses_worst_case_slowest(run, metrics):
    curves = {}
    for name in ("true", "random", "worst_case"):
        rows = sorted(select_metrics(metrics, "predicted_loss", labels=name), key=lambda r: r["step"])
        curves[name] = (np.array([r["step"] for r in rows]), np.array([r["value"] for r in rows]))
    steps = curves["true"][0]
    assert steps[0] == 0 and steps.size > 100
    for name, (k, loss) in curves.items():
        np.testing.assert_array_equal(k, steps)
        assert loss[0] == pytest.approx(0.5, rel=1e-12)         # 1/(2n) ||y||^2 with ||y||^2 = n
        assert np.all(np.diff(loss) <= 1e-15)                    # eta_eff * lambda_max <= 1: monotone
    t, r, w = (curves[n][1][1:] for n in ("true", "random", "worst_case"))
    assert np.all(w >= r) and np.all(r >= t) and np.all(w > t)
    halves = {n: metric_value(metrics, "steps_to_half_loss", labels=n) for n in curves}
    assert halves["true"] < halves["random"] < halves["worst_case"]
    # independent check of eq. 8 at a few iterations: 1/(2n) ||(I - eta/n H)^k y||^2
    ds = load("digits", classes=(0, 1), seed=0)
    H = first_layer_ntk(ds.X)
    lr = load_config(run)["dynamics"]["lr"]
    M = np.eye(ds.n) - lr / ds.n * H
    for k in (1, 7, 250):
        j = int(np.searchsorted(steps, k))
        assert steps[j] == k
        res = np.linalg.matrix_power(M, k) @ ds.y
        assert curves["true"][1][j] == pytest.approx(res @ res / (2 * ds.n), rel=1e-9)


def test_step_grid_and_bad_learning_rate(tmp_path):
    g = step_grid(20000, per_decade=10, linear_points=20)
    assert g[0] == 0 and g[-1] == 20000 and np.all(np.diff(g) > 0)
    assert {1, 10, 100, 1000, 10000, 9000}.issubset(g.tolist())      # log grid and linear grid (step 1000)
    with pytest.raises(InputError, match="largest stable step"):
        run_demo(tmp_path / "x", noise_levels=(0, 1), seeds=1, lr=1e6, quiet=True)
    with pytest.raises(InputError, match="noise_levels"):
        run_demo(tmp_path / "y", noise_levels=(0.5,), quiet=True)
    with pytest.raises(InputError, match="lr_fraction"):
        run_demo(tmp_path / "z", lr_fraction=1.5, quiet=True)


def test_same_seed_same_numbers_and_prints_report(run, metrics, tmp_path, capsys):
    again = run_demo(tmp_path / "again", noise_levels=NOISE, seeds=2, quiet=False, figure_formats=("png",))
    out = capsys.readouterr().out
    assert str(again / "report.html") in out and "complexity true" in out
    assert load_metrics(again) == metrics
    assert not list((again / "figures").glob("*.pdf")) and len(list((again / "figures").glob("*.png"))) >= 4
