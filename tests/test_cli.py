"""The command line: --json contracts, agreement with the API, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from twolayer import bounds as B
from twolayer import kernels as K
from twolayer import spectra as S
from twolayer.cli import main
from twolayer.data import load

from ._helpers import sphere


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv):
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    assert out.count("\n") == 1  # exactly one JSON object on stdout
    return json.loads(out)


def test_spectrum_json_matches_the_api(capsys):
    res = run_json(capsys, "spectrum", "digits")
    ds = load("digits")
    sp = S.spectrum(K.first_layer_ntk(ds.X))
    assert res["n"] == ds.n == len(res["eigenvalues"]) == len(res["projections"])
    assert np.allclose(res["eigenvalues"], sp.eigenvalues, atol=1e-10)
    assert np.allclose(np.abs(res["projections"]), np.abs(sp.project(ds.y)), atol=1e-8)
    assert res["lambda_min"] == pytest.approx(sp.lambda_min) and res["lambda_max"] == pytest.approx(sp.lambda_max)
    assert res["trace"] == pytest.approx(ds.n / 2)
    assert np.all(np.diff(res["eigenvalues"]) <= 0)
    assert res["data"]["provenance"]["source"] == "digits"


def test_complexity_json_matches_the_api_and_has_bound_terms(capsys):
    res = run_json(capsys, "complexity", "digits", "--label-noise", "0.5", "--seed", "3")
    ds = load("digits", label_noise=0.5, seed=3)
    c = B.complexity(K.first_layer_ntk(ds.X), ds.y)
    for key in ("n", "complexity", "yHy", "lambda_min", "condition_number"):
        assert res[key] == pytest.approx(getattr(c, key), rel=1e-10)
    b = res["bound"]
    assert b["total"] == pytest.approx(b["complexity"] + b["train_term"] + b["rademacher_slack"] + b["concentration"])
    clean = run_json(capsys, "complexity", "digits")
    assert clean["complexity"] < res["complexity"]  # noise makes labels more complex


def test_kernel_writes_npy_atomically(capsys, tmp_path):
    out = tmp_path / "sub" / "H.npy"
    res = run_json(capsys, "kernel", "digits", "--kind", "two-layer", "--out", str(out))
    H = np.load(out)
    ds = load("digits")
    assert np.array_equal(H, K.two_layer_ntk(ds.X))
    assert res["shape"] == [ds.n, ds.n] and res["trace"] == pytest.approx(ds.n)
    assert [p.name for p in out.parent.iterdir()] == ["H.npy"]  # no temp files left
    res = run_json(capsys, "kernel", "digits", "--test", "--out", str(tmp_path / "Ht.npy"))
    assert np.load(tmp_path / "Ht.npy").shape == (ds.n, ds.n_test) == tuple(res["shape"])
    # float32 storage: half the file, every entry the float64 value rounded once
    res = run_json(capsys, "kernel", "digits", "--kind", "two-layer", "--dtype", "float32", "--out",
                   str(tmp_path / "H32.npy"))
    H32 = np.load(tmp_path / "H32.npy")
    assert res["dtype"] == "float32" and H32.dtype == np.float32
    assert np.array_equal(H32, H.astype(np.float32))


def test_human_output_without_json(capsys):
    code, out, _ = run(capsys, "complexity", "sphere", "--opt", "n=120", "--opt", "d=6", "--opt", "target=linear")
    assert code == 0 and "complexity sqrt(2 y^T H^-1 y / n)" in out and "Theorem 5.1 bound" in out


@pytest.mark.parametrize("argv,msg", [
    (["complexity", "/nonexistent/file.npz"], "not found"),
    (["spectrum", "nosuchsource"], "unknown data source"),
    (["complexity", "digits", "--classes", "3"], "at least two classes"),
    (["complexity", "digits", "--opt", "oops"], "key=value"),
    (["kernel", "digits", "--out", "H.txt"], ".npy"),
    (["complexity", "digits", "--delta", "2"], "delta"),
    (["report", "/nonexistent/run"], "not a run folder"),
])
def test_errors_are_one_line_on_stderr_with_nonzero_exit(capsys, argv, msg):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.startswith("twolayer: error: ") and err.count("\n") == 1 and msg in err
    assert "Traceback" not in err


def test_singular_data_names_the_rows_and_ridge_fixes_it(capsys, tmp_path):
    X = sphere(30, 4, 1)
    X[9] = X[2]
    np.savez(tmp_path / "dup.npz", X=X, y=np.sign(X[:, 0]))
    code, _, err = run(capsys, "complexity", str(tmp_path / "dup.npz"))
    assert code == 2 and "rows 2 and 9" in err and "--ridge" in err
    res = run_json(capsys, "complexity", str(tmp_path / "dup.npz"), "--ridge", "1e-8")
    assert res["ridge"] == 1e-8 and np.isfinite(res["complexity"])


def test_bad_npz_contents_give_clear_errors(capsys, tmp_path):
    X = sphere(10, 3, 2)
    X[4, 1] = np.nan
    np.savez(tmp_path / "nan.npz", X=X, y=np.ones(10))
    code, _, err = run(capsys, "spectrum", str(tmp_path / "nan.npz"))
    assert code == 2 and "NaN" in err
    np.savez(tmp_path / "short.npz", X=sphere(10, 3, 3), y=np.ones(9))
    code, _, err = run(capsys, "spectrum", str(tmp_path / "short.npz"))
    assert code == 2 and "9" in err and "10" in err


def test_debug_shows_the_traceback(capsys):
    with pytest.raises(Exception, match="unknown data source"):
        main(["--debug", "spectrum", "nosuchsource"])


def test_console_entry_point_runs_as_a_process():
    proc = subprocess.run([sys.executable, "-m", "twolayer.cli", "spectrum", "digits", "--top", "3", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(proc.stdout)["eigenvalues"]) == 3


def test_train_json_has_the_contract_fields_and_matches_the_kernel_theory(capsys):
    res = run_json(capsys, "train", "digits", "--width", "256", "--init-scale", "1", "--lr", "0.01",
                   "--steps", "40", "--seed", "3", "--records", "6")
    for key in ("config", "lambda_min", "lambda_max", "predicted_final_dist", "records"):
        assert key in res
    assert res["config"]["m"] == 256 and res["config"]["lr"] == 0.01 and res["config"]["param"] == "arora"
    recs = res["records"]
    required = {"step", "loss", "predicted_loss", "predicted_loss_init", "dist_from_init", "max_neuron_move",
                "activation_flips", "test_loss", "test_l1", "test_error"}
    assert all(required <= set(r) for r in recs)
    assert recs[0]["step"] == 0 and recs[-1]["step"] == 40
    assert recs[0]["predicted_loss_init"] == pytest.approx(recs[0]["loss"], rel=1e-6)  # same u(0)
    assert recs[0]["predicted_loss"] == pytest.approx(0.5 * 288)  # paper form: u = 0, ||y||^2 = n
    assert recs[-1]["loss"] < 0.2 * recs[0]["loss"]
    ds = load("digits", seed=3)  # the seed also draws the train/test split
    assert res["lambda_max"] == pytest.approx(np.linalg.eigvalsh(K.first_layer_ntk(ds.X))[-1], rel=1e-10)
    assert res["max_stable_lr"] == pytest.approx(2 / res["lambda_max"])


def test_train_refuses_a_diverging_rate_and_names_the_largest_stable_rate(capsys):
    code, out, err = run(capsys, "train", "digits", "--width", "64", "--lr", "1", "--steps", "5")
    assert code == 2 and out == "" and err.count("\n") == 1
    ds = load("digits")
    limit = 2 / np.linalg.eigvalsh(K.first_layer_ntk(ds.X))[-1]
    assert f"{limit:.6g}" in err and "largest stable rate" in err


def test_train_human_summary(capsys):
    code, out, _ = run(capsys, "train", "digits", "--width", "128", "--lr", "0.01", "--steps", "10", "--quiet",
                       "--param", "both")
    assert code == 0 and "both network, m = 128" in out and "loss" in out and "test: error" in out
