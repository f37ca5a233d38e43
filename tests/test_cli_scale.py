"""The CLI's operator paths: --storage on complexity / spectrum, the trajectory verb and their JSON."""

from __future__ import annotations


import numpy as np
import pytest

from twolayer import bounds as B
from twolayer import kernels as K
from twolayer.cli import _step_grid
from twolayer.data import load

from .test_cli import run, run_json


@pytest.mark.parametrize("storage", ["dense64", "dense32", "memmap", "matrix-free"])
def test_complexity_storage_json_agrees_with_dense(capsys, storage):
    res = run_json(capsys, "complexity", "digits", "--storage", storage, "--tol", "1e-8")
    ds = load("digits")
    c = B.complexity(K.first_layer_ntk(ds.X), ds.y, method="dense")
    assert res["method"] == "krylov" and res["storage"] == storage and res["storage_requested"] == storage
    assert set(res["memory_estimates"]) == {"dense64", "dense32", "memmap", "matrix-free"}
    f32 = storage in ("dense32", "memmap")
    assert res["products"] == ("mixed" if f32 else "float64") and (res["refinements"] >= 1) is f32
    # float32 storage moves yHy (bounded, reported); float64 storage only by the build's rounding
    assert res["storage_error"] > 1e-9 * c.yHy if f32 else res["storage_error"] <= 1e-9 * c.yHy
    slack = res["storage_error"] + 1e-12 * c.yHy
    assert res["yHy_lower"] - slack <= c.yHy <= res["yHy_upper"] + slack
    assert res["complexity_lower"] <= res["complexity"] <= res["complexity_upper"]


def test_storage_auto_is_recorded(capsys):
    res = run_json(capsys, "complexity", "digits", "--storage", "auto")
    assert res["storage"] == "dense64" and res["storage_requested"] == "auto" and res["storage_reason"]


def test_spectrum_storage_top_k(capsys):
    res = run_json(capsys, "spectrum", "digits", "--storage", "dense32", "--top", "4")
    ds = load("digits")
    w = np.linalg.eigvalsh(K.first_layer_ntk(ds.X))[::-1][:4]
    assert res["method"] == "krylov" and res["storage"] == "dense32"
    assert np.all(np.abs(np.array(res["eigenvalues"]) - w) <= np.array(res["residuals"]) + 1e-5 * w)
    assert res["trace"] == pytest.approx(ds.n / 2)
    assert res["top_method"] == "arpack" and res["tol"] == 1e-7   # few pairs: ARPACK; float32: tol 1e-7


def test_spectrum_top_method_block_on_float32_storage(capsys):
    ds = load("digits")
    w = np.linalg.eigvalsh(K.first_layer_ntk(ds.X))[::-1][:24]
    storage_shift = 2.0**-24 * float(np.abs(K.first_layer_ntk(ds.X)).sum(axis=1).max())  # Weyl: |S - H| <= u G
    for extra, meth in (((), "block"), (("--top-method", "arpack"), "arpack")):
        res = run_json(capsys, "spectrum", "digits", "--storage", "dense32", "--top", "24", *extra)
        assert res["top_method"] == meth and (res["passes"] is not None) is (meth == "block")
        got = np.array(res["eigenvalues"])
        assert np.all(np.abs(got - w) <= np.array(res["residuals"]) + storage_shift), meth
        assert max(res["residuals"]) <= 1e-7 * got[0] * 1.001 or meth == "arpack"
    res = run_json(capsys, "spectrum", "digits", "--storage", "dense64", "--top", "24")
    assert res["top_method"] == "arpack" and res["tol"] == 1e-10


@pytest.mark.parametrize("argv, msg", [
    (("complexity", "digits", "--storage", "dense32", "--method", "dense"), "Krylov path only"),
    (("spectrum", "digits", "--storage", "dense32", "--method", "dense", "--top", "3"), "Krylov path only"),
    (("spectrum", "digits", "--storage", "dense32"), "--top K"),
])
def test_storage_with_the_dense_method_exits_2(capsys, argv, msg):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == "" and msg in err and err.startswith("twolayer: error:")


def test_bad_storage_name_exits_2(capsys):
    code, _, err = run(capsys, "complexity", "digits", "--storage", "float16")
    assert code == 2 and "invalid choice" in err


def test_trajectory_json_matches_the_eigendecomposition(capsys):
    res = run_json(capsys, "trajectory", "digits", "--lr", "0.01", "--steps", "0,1,10,100,1000", "--storage",
                   "matrix-free", "--tol", "1e-8")
    ds = load("digits")
    w, V = np.linalg.eigh(K.first_layer_ntk(ds.X))
    ks = np.array([0, 1, 10, 100, 1000])
    true = 0.5 * ((1 - 0.01 * w[None, :]) ** (2 * ks[:, None]) * (V.T @ ds.y) ** 2).sum(1)
    for key in ("method", "storage", "steps", "loss", "lower", "upper", "error", "iterations", "rule",
                "lambda_min_bound", "lambda_max_bound", "upper_certified", "converged", "lambda_source"):
        assert key in res
    assert res["method"] == "krylov" and res["storage"] == "matrix-free" and res["upper_certified"]
    lo, up = np.array(res["lower"]), np.array(res["upper"])
    assert np.all(lo <= true * (1 + 1e-9) + 1e-12) and np.all(true <= up * (1 + 1e-9) + 1e-12)
    assert res["loss"][0] == pytest.approx(0.5 * float(ds.y @ ds.y))


def test_trajectory_points_grid_and_human_output(capsys):
    ks = _step_grid(None, 1000, 10**6)
    assert ks.size == 1000 and ks[0] == 0 and ks[-1] == 10**6 and np.all(np.diff(ks) >= 1)
    code, out, err = run(capsys, "trajectory", "digits", "--lr", "0.001", "--points", "8", "--max-step", "1000")
    assert code == 0, err
    assert "Lanczos" in out and "k =      1000" in out
    code, _, err = run(capsys, "trajectory", "digits", "--lr", "0.001", "--steps", "1,x")
    assert code == 2 and "--steps" in err
