"""Claims of ``arora2019-fig1`` (Fig. 1, Thm 4.1, Lemma C.3) and ``arora2019-movement`` (§5.2,
Lemma C.1): each judged on tiny real runs, with positive and negative controls."""

from __future__ import annotations

import math

import numpy as np
import pytest

from twolayer._errors import InputError
from twolayer.claims import evaluate
from twolayer.data import load
from twolayer.experiments import get_experiment, reproduce
from twolayer.kernels import first_layer_ntk
from twolayer.runfolder import load_arrays, load_claims, load_config, load_meta, load_metrics, metric_value

NOT_AGREE = ("disagrees", "inconclusive")
# tiny version of the laptop preset: the loss-curve setting is the paper's κ = 0.01 at m = 1600
FIG1 = ["n_train=40", "widths=100,400,1600", "width=1600", "kappa=0.01", "kappas=0.01,1.0", "steps=300",
        "records=20", "gram_widths=16,64,256,1024", "gram_draws=128"]
MOVE = ["n_train=30", "widths=100,400,1600", "kappas=0.01,1.0", "steps=3000", "seeds=3"]


def _run(tmp_path_factory, name, sets, folder=None):
    out = tmp_path_factory.mktemp(folder or name) / "run"
    return reproduce(name, out=out, sets=sets, quiet=True, formats=("png",))


def _claims(run):
    return {r["claim"]: r for r in load_claims(run)}


@pytest.fixture(scope="module")
def fig1(tmp_path_factory):
    return _run(tmp_path_factory, "arora2019-fig1", FIG1)


@pytest.fixture(scope="module")
def movement(tmp_path_factory):
    return _run(tmp_path_factory, "arora2019-movement", MOVE)


# ------------------------------------------------------------------------------ Figure 1
def test_fig1_run_folder_and_the_kernel_prediction(fig1):
    for name in ("config.toml", "metrics.csv", "arrays.npz", "report.html", "claims.json",
                 *(f"figures/{f}.png" for f in ("loss_curves", "spectrum_projections", "width_sweep",
                                                  "gram_concentration"))):
        assert (fig1 / name).is_file(), name
    cfg, m, arr = load_config(fig1), load_metrics(fig1), load_arrays(fig1)
    assert cfg["width"] == 1600 and load_meta(fig1)["status"] == "complete"
    for lab in ("true", "random", "worst_case"):  # κ = 0.01: u(0) ≈ 0, every curve starts at ≈ 0.5
        assert metric_value(m, "loss", labels=lab, step=0) == pytest.approx(0.5, abs=0.01)
    # the plotted eq. (8) is the closed form (1/2n) Σ (1 − ηλ_i/n)^{2k} (v_iᵀy)²
    ds = load("digits", n_train=40, n_test=0, seed=0)
    lam, V = np.linalg.eigh(first_layer_ntk(ds.X))
    lr, k = metric_value(m, "lr"), int(arr["steps"][-1])
    direct = 0.5 / ds.n * np.sum((1 - lr * lam / ds.n) ** (2 * k) * (V.T @ arr["labels_true"]) ** 2)
    assert arr["predicted_true"][-1] == pytest.approx(direct, rel=1e-9)
    assert abs(V[:, 0] @ arr["labels_worst_case"]) == pytest.approx(math.sqrt(ds.n), rel=1e-9)
    # the Thm 4.1 statistic is max_k |L − L̂| / L(0) of the stored trajectories
    L, P = arr["loss"][0], arr["predicted_loss_init"][0]
    dev = np.max(np.abs(L - P), axis=1) / L[:, 0]
    assert metric_value(m, "kernel_deviation", labels="true", kappa=0.01, width=1600, seed=0) == pytest.approx(dev[0])


def test_fig1_positive_controls_and_the_papers_kappa(fig1):
    c = _claims(fig1)
    assert c["fig1-loss-order"]["verdict"] == "agrees"
    assert c["fig1-energy-top"]["verdict"] == "agrees"
    # true labels at κ = 1 and the largest width: inside the kernel regime, GD follows eq. (8)
    assert c["thm4.1-true-labels"]["verdict"] == "agrees" and c["thm4.1-true-labels"]["assumptions_met"] is True
    assert c["lemma-c3-bound"]["verdict"] == "agrees" and c["lemma-c3-bound"]["statistic"] < 1
    assert c["lemma-c3-slope"]["verdict"] == "agrees"
    assert abs(c["lemma-c3-slope"]["statistic"] + 0.5) < 0.05
    # negative control: the paper's κ = 0.01 at m = 1600 is far from the kernel regime
    rec = c["thm4.1-loss-curves"]
    assert rec["verdict"] == "disagrees" and rec["assumptions_met"] is False
    assert "Assumptions not met at this m" in rec["reason"]
    # random / worst-case labels need a far larger m (their λ_y is small): not the kernel regime here
    rec = c["thm4.1-all-labels"]
    assert rec["verdict"] == "disagrees" and rec["assumptions_met"] is False


def test_fig1_too_narrow_network_disagrees(tmp_path_factory):
    run = _run(tmp_path_factory, "arora2019-fig1", folder="narrow", sets=["n_train=30", "width=20", "kappa=1.0", "widths=10,20",
                                                  "kappas=1.0", "steps=300", "records=15", "gram_draws=8"])
    c = _claims(run)
    assert c["thm4.1-loss-curves"]["verdict"] == "disagrees"
    assert c["thm4.1-all-labels"]["verdict"] == "disagrees" and c["thm4.1-all-labels"]["assumptions_met"] is False


def test_fig1_random_labels_passed_off_as_true_are_not_ordered(tmp_path_factory):
    run = _run(tmp_path_factory, "arora2019-fig1", folder="fake", sets=["n_train=40", "true_labels=random", "width=400", "kappa=1.0",
                                                "widths=400", "kappas=1.0", "steps=300", "records=10",
                                                "gram_draws=8"])
    c = _claims(run)
    assert c["fig1-energy-top"]["verdict"] in NOT_AGREE
    assert c["fig1-loss-order"]["verdict"] in NOT_AGREE
    # one width: no slope, so the trend claim cannot pass
    assert c["thm4.1-gap-falls"]["verdict"] == "inconclusive"


def test_fig1_gap_does_not_fall_at_the_papers_kappa(fig1):
    rows = [r for r in load_metrics(fig1) if r.get("kappa") in (None, 0.01)]
    rec, = [r for r in evaluate(get_experiment("arora2019-fig1").claims, rows, load_config(fig1))
            if r["claim"] == "thm4.1-gap-falls"]
    assert rec["verdict"] == "disagrees" and rec["statistic"] > -0.25 and rec["assumptions_met"] is False


def _gram_rows(slope, scale=1.0):
    rows = [{"metric": "gram_draws", "value": 8.0}]
    rng = np.random.default_rng(0)
    for w in (16, 64, 256, 1024):
        rows.append({"metric": "gram_bound", "value": 10.0 * w ** -0.5, "width": w})
        for g in range(8):
            v = scale * w ** slope * math.exp(0.01 * rng.standard_normal())
            rows += [{"metric": "gram_dev_fro", "value": v, "width": w, "seed": g},
                     {"metric": "gram_dev_fro_max", "value": v, "width": w, "seed": g}]
    return rows


def test_lemma_c3_claims_fail_on_a_wrong_rate_or_a_broken_bound():
    claims = get_experiment("arora2019-fig1").claims
    got = {r["claim"]: r for r in evaluate(claims, _gram_rows(-0.5))}
    assert got["lemma-c3-slope"]["verdict"] == "agrees" and got["lemma-c3-bound"]["verdict"] == "agrees"
    got = {r["claim"]: r for r in evaluate(claims, _gram_rows(-0.3))}
    assert got["lemma-c3-slope"]["verdict"] == "disagrees"
    got = {r["claim"]: r for r in evaluate(claims, _gram_rows(-0.5, scale=20.0))}
    assert got["lemma-c3-bound"]["verdict"] == "disagrees"


# ------------------------------------------------------------------------------ movement
def test_movement_is_judged_at_every_kappa(movement):
    c = _claims(movement)
    rec = c["movement-total"]
    assert rec["verdict"] == "disagrees" and "Breaks at κ = 0.01" in rec["reason"]
    assert set(rec["statistic"]) == {"kappa=0.01", "kappa=1"} and rec["assumptions_met"] is False
    assert abs(rec["statistic"]["kappa=1"] - 1) < 0.1
    assert c["movement-per-neuron-slope"]["verdict"] in NOT_AGREE   # κ = 0.01 is outside the kernel regime
    assert c["lemma-c1-bound"]["verdict"] == "agrees"
    assert (movement / "figures" / "movement.png").is_file()


def test_movement_agrees_in_the_kernel_regime(movement):
    rows = [r for r in load_metrics(movement) if r.get("kappa") in (None, 1.0)]
    got = {r["claim"]: r for r in evaluate(get_experiment("arora2019-movement").claims, rows, load_config(movement))}
    for cid in ("movement-total", "movement-per-neuron-slope", "lemma-c1-bound"):
        assert got[cid]["verdict"] == "agrees", (cid, got[cid]["reason"])
    assert got["movement-total"]["assumptions_met"] is True


def test_movement_claims_fail_on_hand_made_violations(movement):
    claims = get_experiment("arora2019-movement").claims
    rows = [dict(r) for r in load_metrics(movement) if r.get("kappa") in (None, 1.0)]
    for r in rows:
        if r["metric"] == "max_neuron_move":
            r["value"] *= (r["width"] / 100) ** 0.3       # decays like m^-0.13 instead of m^-1/2
        if r["metric"] == "lemma_c1_bound":
            r["value"] *= 1e-3                             # a bound 1000× tighter than Lemma C.1's
    got = {r["claim"]: r for r in evaluate(claims, rows)}
    assert got["movement-per-neuron-slope"]["verdict"] == "disagrees"
    assert got["lemma-c1-bound"]["verdict"] == "disagrees"


def test_lr_convention_sum_is_a_step_n_times_larger_on_the_mean_loss():
    """GD with step η on ½Σ is GD with step nη on ½n⁻¹Σ: the ``sum`` reading of the paper's η
    (eq. 2 taken literally) only rescales the step, and its stability limit is 2/λ_max."""
    from twolayer.experiments.arora2019._shared import _learning_rate
    from twolayer.experiments.arora2019.fig1 import Fig1Config
    from twolayer.spectra import spectrum

    rng = np.random.default_rng(0)
    A = rng.standard_normal((30, 30))
    spec = spectrum(A @ A.T + np.eye(30))
    n, eta = 30, 0.5 / spec.lambda_max
    lr_sum, max_lr = _learning_rate(Fig1Config(lr=eta, lr_convention="sum"), spec, n)
    lr_mean, _ = _learning_rate(Fig1Config(lr=eta * n), spec, n)
    assert lr_sum == pytest.approx(lr_mean, rel=1e-15) and max_lr == pytest.approx(2 * n / spec.lambda_max)
    with pytest.raises(InputError, match="below 2/lambda_max"):
        _learning_rate(Fig1Config(lr=2.5 / spec.lambda_max, lr_convention="sum"), spec, n)
    with pytest.raises(InputError, match="lr_convention must be one of"):
        Fig1Config(lr_convention="median")
