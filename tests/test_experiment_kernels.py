"""A user's kernel in place of H∞: ``reproduce --kernel`` (arora2019-fig1/-fig2/-movement) and
``train --kernel`` / :func:`twolayer.dynamics.train` ``reference=``.

Positive control: H∞ written independently in a user file (Arora et al. eq. 3 with the angle from
Kahan's atan2 form, no twolayer code) gives the built-in run's numbers to 1e-10 and its verdicts.
Negative control: an RBF kernel (a kernel of no network here) in its place — the same network,
trained the same way — makes the Theorem 4.1 and Lemma C.3 claims disagree, as they must: the
paper's statements are about H∞. Correctness of the plumbing: the recorded predictions and
complexities equal the closed forms computed from the user's matrix directly.
"""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from twolayer import InputError
from twolayer.data import load
from twolayer.dynamics import train
from twolayer.experiments import fingerprint, get_experiment, reproduce, resolve_config
from twolayer.kernels import first_layer_ntk
from twolayer.networks import init_network
from twolayer.runfolder import load_claims, load_metrics, metric_value

from .test_cli import run, run_json

KERNELS = textwrap.dedent('''
    import numpy as np

    def h_inf(X, Z=None):
        Z = X if Z is None else Z
        Xn = X / np.linalg.norm(X, axis=1, keepdims=True)
        Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        diff = np.linalg.norm(Xn[:, None] - Zn[None], axis=2)
        summ = np.linalg.norm(Xn[:, None] + Zn[None], axis=2)
        theta = 2.0 * np.arctan2(diff, summ)
        return (X @ Z.T) * (np.pi - theta) / (2.0 * np.pi)

    def rbf(X, Z=None):
        Z = X if Z is None else Z
        return 0.25 * np.exp(-0.5 * ((X[:, None] - Z[None]) ** 2).sum(-1))
''')

# the kernel regime for the true labels at n = 30 (κ = 1, m = 1600): thm4.1-true-labels agrees with H∞
FIG1 = ["n_train=30", "width=1600", "kappa=1.0", "widths=400,1600", "kappas=1.0", "steps=200", "records=12",
        "gram_draws=8", "gram_widths=16,64,256"]


def _rbf(X, Z=None):
    Z = X if Z is None else Z
    return 0.25 * np.exp(-0.5 * ((X[:, None] - Z[None]) ** 2).sum(-1))


@pytest.fixture(scope="module")
def kernel_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("kernels") / "mykernels.py"
    path.write_text(KERNELS)
    return path


@pytest.fixture(scope="module")
def fig1_runs(tmp_path_factory, kernel_file):
    root = tmp_path_factory.mktemp("fig1-kernels")
    return {name: reproduce("arora2019-fig1", out=root / name, quiet=True, formats=("png",),
                            sets=FIG1 + ([f"kernel={kernel_file}:{name}"] if name != "builtin" else []))
            for name in ("builtin", "h_inf", "rbf")}


def _claims(run_dir):
    return {r["claim"]: r for r in load_claims(run_dir)}


def test_h_inf_written_by_the_user_reproduces_the_builtin_run(fig1_runs):
    a, b = load_metrics(fig1_runs["builtin"]), load_metrics(fig1_runs["h_inf"])
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra["metric"] == rb["metric"]
        assert rb["value"] == pytest.approx(ra["value"], rel=1e-10, abs=1e-12), ra
    ca, cb = _claims(fig1_runs["builtin"]), _claims(fig1_runs["h_inf"])
    assert {k: v["verdict"] for k, v in ca.items()} == {k: v["verdict"] for k, v in cb.items()}
    assert ca["thm4.1-true-labels"]["verdict"] == "agrees"


def test_a_kernel_of_no_network_makes_the_h_inf_claims_disagree(fig1_runs):
    c = _claims(fig1_runs["rbf"])
    assert c["thm4.1-true-labels"]["verdict"] == "disagrees"
    assert c["lemma-c3-slope"]["verdict"] == "disagrees"   # ‖H(0) − K‖ does not shrink with m
    assert c["lemma-c3-bound"]["verdict"] == "disagrees"
    # the network is the same one, trained with the same step (λ_max(H∞) by another LAPACK call: to the
    # last bits): only the predictions changed
    m_b, m_r = load_metrics(fig1_runs["builtin"]), load_metrics(fig1_runs["rbf"])
    assert metric_value(m_r, "lr") == pytest.approx(metric_value(m_b, "lr"), rel=1e-14)
    assert metric_value(m_r, "gd_final_loss", labels="true", kappa=1.0, width=1600, seed=0) == pytest.approx(
        metric_value(m_b, "gd_final_loss", labels="true", kappa=1.0, width=1600, seed=0), rel=1e-9)
    # the plotted prediction is the RBF's closed form (1/2n) Σ (1 − ηλ_i/n)^{2k} (v_iᵀy)²
    ds = load("digits", n_train=30, n_test=0, seed=0)
    lam, V = np.linalg.eigh(_rbf(ds.X))
    lr, k = metric_value(m_r, "lr"), 200
    direct = 0.5 / ds.n * np.sum((1 - lr * lam / ds.n) ** (2 * k) * (V.T @ ds.y) ** 2)
    assert metric_value(m_r, "predicted_loss", labels="true", step=k) == pytest.approx(direct, rel=1e-9)
    # the report says which kernel the verdicts are about
    html = (fig1_runs["rbf"] / "report.html").read_text()
    assert "in place of the paper" in html and "mykernels.py:rbf" in html
    assert "in place of the paper" not in (fig1_runs["builtin"] / "report.html").read_text()


def test_fig2_complexity_is_the_users_kernels(tmp_path, kernel_file):
    run_dir = reproduce("arora2019-fig2", out=tmp_path / "run", quiet=True, formats=("png",), seeds=1,
                        sets=["n_train=30", "n_test=40", "noise_levels=0,1", "width=200", "widths=200", "steps=300",
                              "records=4", f"kernel={kernel_file}:rbf"])
    ds = load("digits", n_train=30, n_test=40, seed=0)
    direct = np.sqrt(2.0 * ds.y @ np.linalg.solve(_rbf(ds.X), ds.y) / ds.n)
    got = metric_value(load_metrics(run_dir), "complexity", labels="noisy", noise=0.0, seed=0, width=200)
    assert got == pytest.approx(direct, rel=1e-8)


def test_the_fingerprint_follows_the_kernel_files_content(tmp_path):
    path = tmp_path / "k.py"
    path.write_text(KERNELS)
    exp = get_experiment("arora2019-movement")
    fp = lambda: fingerprint(exp, resolve_config(exp, sets=[f"kernel={path}:rbf"]))["config"]["kernel"]  # noqa: E731
    before = fp()
    path.write_text(KERNELS.replace("0.25", "0.5"))
    assert fp() != before and fp().startswith(f"{path}:rbf@sha256:")
    # the paper's kernel and its aliases keep the plain name (stored runs stay valid)
    assert fingerprint(exp, resolve_config(exp))["config"]["kernel"] == "first-layer"
    # an alias of H-inf is the paper's kernel: stored under the canonical name, no "other kernel" note
    assert resolve_config(exp, sets=["kernel=h-infinity"]).kernel == "first-layer"


def test_train_reference_takes_a_kernel(kernel_file):
    ds = load("digits", n_train=40, n_test=0, seed=0)
    net = init_network("arora", ds.d, 300, seed=0, kappa=1.0)
    res = train(net, ds.X, ds.y, lr=0.02, steps=100, n_records=5, reference=_rbf)
    lam, V = np.linalg.eigh(_rbf(ds.X))
    p = V.T @ ds.y
    direct = [0.5 * np.sum((1 - 0.02 * lam) ** (2 * k) * p**2) for k in res.steps]
    assert np.allclose(res.metrics["predicted_loss"][0], direct, rtol=1e-9)
    assert res.reference.startswith("kernel ")
    # the network's own closed form gives other predictions (the RBF is not its kernel)
    own = train(net, ds.X, ds.y, lr=0.02, steps=100, n_records=5)
    assert np.array_equal(own.metrics["loss"], res.metrics["loss"])
    assert not np.allclose(own.metrics["predicted_loss"], res.metrics["predicted_loss"], rtol=1e-2)


def test_train_step_is_checked_against_the_networks_kernel_not_the_given_one(kernel_file):
    ds = load("digits", n_train=40, n_test=0, seed=0)
    net = init_network("arora", ds.d, 300, seed=0, kappa=1.0)
    lam_net = np.linalg.eigvalsh(first_layer_ntk(ds.X))[-1]
    with pytest.raises(Exception, match="2/lambda_max"):
        train(net, ds.X, ds.y, lr=3.0 / lam_net, steps=5, reference=_rbf, check_stability=True)


def test_cli_train_kernel(capsys, kernel_file):
    base = ["train", "digits", "--n-train", "40", "--width", "300", "--lr", "0.02", "--steps", "100", "--init-scale",
            "1", "--records", "5"]
    res = run_json(capsys, *base, "--kernel", f"{kernel_file}:rbf")
    assert res["reference_kernel"] == f"kernel {kernel_file}:rbf"
    ds = load("digits", n_train=40, seed=0)
    lam, V = np.linalg.eigh(_rbf(ds.X))
    assert res["lambda_max"] == pytest.approx(lam[-1], rel=1e-12)
    code, out, err = run(capsys, *base, "--kernel", f"{kernel_file}:nope")
    assert code == 2 and "has no function 'nope'" in err and err.count("\n") == 1


def test_cli_reproduce_kernel_errors(capsys, kernel_file, tmp_path):
    code, _, err = run(capsys, "reproduce", "chen2020-alpha", "--kernel", f"{kernel_file}:rbf", "--out", str(tmp_path))
    assert code == 2 and "has no kernel to replace" in err and "arora2019-fig1" in err
    code, _, err = run(capsys, "reproduce", "arora2019-fig1", "--kernel", "deep-ntk", "--out", str(tmp_path))
    assert code == 2 and "needs depth" in err and "FILE.py:k" in err
    code, _, err = run(capsys, "reproduce", "arora2019-fig1", "--kernel", "no_such_module:k", "--out", str(tmp_path))
    assert code == 2 and "cannot import module 'no_such_module'" in err
    assert not any(tmp_path.iterdir())  # nothing written before the error
    shown = json.loads(run(capsys, "reproduce", "arora2019-movement", "--kernel", f"{kernel_file}:rbf",
                           "--show-config", "--json")[1])
    assert shown["kernel"] == f"{kernel_file}:rbf"
    with pytest.raises(InputError, match="kernel must be"):
        resolve_config(get_experiment("arora2019-fig1"), sets=["kernel="])
