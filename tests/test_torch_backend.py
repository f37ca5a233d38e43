"""The torch backend (``twolayer.torch_backend``, ``train(device=...)``, ``twolayer train --device``).

Checked against mathematics and against the numpy engine it must reproduce: the hand-derived
gradients against ``torch.autograd`` of the same network; training on torch-CPU in float64 against
the numpy engine step for step (the same numpy-drawn weights and the same noise stream, so only
rounding separates them); float32 against float64 within the documented tolerance; the kernel
build against the numpy builder and the closed form; checkpoints, observers and the CLI. CUDA
cases run where CUDA is present (``benchmarks/gpu_check.sh``) and are skipped by marker elsewhere.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import NamedTuple

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from twolayer import dynamics as D  # noqa: E402
from twolayer import kernels as K  # noqa: E402
from twolayer import networks as N  # noqa: E402
from twolayer import torch_backend as tb  # noqa: E402
from twolayer._errors import InputError  # noqa: E402
from twolayer.cli import main  # noqa: E402

from ._helpers import sphere  # noqa: E402

HAS_CUDA = torch.cuda.is_available()
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA device (run benchmarks/gpu_check.sh on a GPU)")
DEVICES = ["cpu", pytest.param("cuda", marks=needs_cuda)]
#: torch float64 against numpy float64 after 50 steps (measured ~1e-15 on CPU).
RTOL64 = 1e-10
#: float32 (no TF32) against the float64 run, relative, over the runs below (measured <= 1e-6).
RTOL32 = 1e-5
#: TF32 GEMMs (10-bit mantissa inputs) against the float64 run.
RTOL_TF32 = 1e-2


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _data(n=24, d=6, seed=1):
    X = sphere(n, d, seed)
    return X, np.sign(X[:, 0] - 0.3 * X[:, 1])


def _rel(a, b) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("param,act,norm", [("arora", "relu", "sum"), ("both", "relu", "mean"),
                                            ("mean-field", "tanh", "mean"), ("mean-field", "sigmoid", "sum"),
                                            ("ema-wu", "relu", "mean")])
def test_gradients_equal_autograd_of_the_same_network(device, param, act, norm):
    """``∇_W = c s a ⊙ (φ'(P) ⊙ e)ᵀX`` and ``∇_a = c s φ(P)ᵀe`` on the device against torch.autograd of
    ``L = (c/2)‖s Σ_r a_r φ(w_r·x) − y‖²`` (times the time scale), a batch of two networks."""
    X, y = _data()
    Y = np.stack([y, -y])
    kw = {"activation": act} if N.get_parameterization(param).free_activation else {}
    net = N.init_network(param, X.shape[1], 10, seed=3, batch=2, **kw)
    p = N.get_parameterization(param)
    dnet = tb.to_torch(net, device)
    Xd, Yd = tb.from_host(X, dnet.W), tb.from_host(Y, dnet.W)
    out = tb.loss_and_grads(dnet, Xd, Yd, normalization=norm, trains=p.trains,
                            grad_multiplier=p.grad_multiplier(net.width), keep_preactivation=True)
    W = dnet.W.clone().requires_grad_(True)
    a = dnet.a.clone().requires_grad_(True)
    phi = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[act]
    u = net.scale * torch.einsum("bm,bnm->bn", a, phi(torch.einsum("bmd,nd->bnm", W, Xd)))
    c = 1.0 / X.shape[0] if norm == "mean" else 1.0
    loss = 0.5 * c * ((u - Yd) ** 2).sum(dim=1)
    loss.sum().backward()
    g = p.grad_multiplier(net.width)
    assert torch.allclose(out["u"], u.detach(), rtol=1e-12, atol=1e-14)
    assert torch.allclose(out["loss"], loss.detach(), rtol=1e-12, atol=1e-14)
    if "W" in p.trains:
        assert torch.allclose(out["gW"], g * W.grad, rtol=1e-11, atol=1e-14)
    if "a" in p.trains:
        assert torch.allclose(out["ga"], g * a.grad, rtol=1e-11, atol=1e-14)
    assert torch.equal(out["active"], (Xd @ dnet.W.reshape(-1, X.shape[1]).T) > 0)


def test_relu_derivative_at_zero_is_zero():
    """A pre-activation exactly 0 contributes nothing to ∇_W (ReLU'(0) = 0, as numpy's engine)."""
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    net = N.Network(W=np.array([[[0.0, 1.0]]]), a=np.array([[1.0]]), scale=1.0)
    dnet = tb.to_torch(net, "cpu")
    Y = np.array([[1.0, 0.0]])
    out = tb.loss_and_grads(dnet, tb.from_host(X, dnet.W), tb.from_host(Y, dnet.W), trains={"W"})
    ref = N.loss_and_grads(net, X, Y, trains={"W"})
    assert out["gW"].numpy().tolist() == ref["gW"].tolist() == [[[0.0, 1.0]]]  # row 0 (P = 0) adds nothing


def test_forward_equals_numpy():
    X, _ = _data()
    net = N.init_network("both", X.shape[1], 12, seed=4, batch=3)
    assert _rel(tb.forward(tb.to_torch(net, "cpu"), X).numpy(), N.forward(net, X)) < 1e-13


def test_same_seed_starts_both_backends_identically():
    net = N.init_network("arora", 5, 8, seed=7, batch=2)
    dnet = tb.to_torch(net, "cpu")
    assert np.array_equal(dnet.W.numpy(), net.W) and np.array_equal(dnet.a.numpy(), net.a)
    dnet.W.add_(1.0)  # a copy, never a view of the numpy weights
    assert not np.array_equal(dnet.W.numpy(), net.W)
    back = tb.from_torch(dnet)
    assert isinstance(back.W, np.ndarray) and np.array_equal(back.W, net.W + 1.0)


# ----------------------------------------------------------------------------- training against numpy
CASES = [("arora", "gd"), ("arora", "noisy-gd"), ("arora", "adam"), ("both", "gd"), ("both", "noisy-gd"),
         ("both", "adam"), ("ema-wu", "gd"), ("ema-wu", "noisy-gd"), ("ema-wu", "adam"), ("mean-field", "gd"),
         ("mean-field", "noisy-gd"), ("mean-field", "adam")]


def _train_args(param, algorithm, **kw):
    lr = {"gd": 0.05, "noisy-gd": 0.05, "adam": 1e-2}[algorithm]
    if param in ("ema-wu", "mean-field") and algorithm != "adam":
        lr = 0.5
    args = {"lr": lr, "steps": 50, "algorithm": algorithm, "n_records": 8, "noise_seed": 11}
    if algorithm == "noisy-gd":
        args["weight_decay"] = 0.05  # temperature = weight decay: the noise is on
    args.update(kw)
    return args


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("param,algorithm", CASES)
def test_float64_training_equals_the_numpy_engine(device, param, algorithm):
    """Same seed, same noise stream: after 50 steps the parameters and every recorded metric agree
    to rounding (the backends differ only in the order of floating-point sums)."""
    X, y = _data()
    Y = np.stack([y, np.random.default_rng(5).choice([-1.0, 1.0], y.size)])
    net = N.init_network(param, X.shape[1], 16, seed=2, batch=2)
    args = _train_args(param, algorithm)
    ref = D.train(net, X, Y, **args)
    got = D.train(net, X, Y, device=device, **args)
    assert isinstance(got.network.W, np.ndarray) and got.network.W.dtype == np.float64
    assert _rel(got.network.W, ref.network.W) < RTOL64 and _rel(got.network.a, ref.network.a) < RTOL64
    assert ref.n_steps == got.n_steps == 50 and got.config["device"] == device and "device" not in ref.config
    assert sorted(got.metrics) == sorted(ref.metrics)
    for k, v in ref.metrics.items():
        scale = max(np.nanmax(np.abs(v)), 1e-300)
        assert np.nanmax(np.abs(got.metrics[k] - v)) <= RTOL64 * scale, k
    assert _rel(ref.network.W, ref.network0.W) > 1e-4  # the run moved: the comparison is not trivial


def test_the_noise_comparison_can_fail():
    """Negative control: another noise seed moves the torch run far beyond the tolerance."""
    X, y = _data()
    net = N.init_network("both", X.shape[1], 16, seed=2)
    ref = D.train(net, X, y, **_train_args("both", "noisy-gd"))
    other = D.train(net, X, y, device="cpu", **_train_args("both", "noisy-gd", noise_seed=12))
    assert _rel(other.network.W, ref.network.W) > 1e3 * RTOL64


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("param,algorithm", [("arora", "gd"), ("both", "adam"), ("ema-wu", "gd"),
                                             ("mean-field", "adam")])
def test_float32_stays_within_the_documented_tolerance(device, param, algorithm):
    """float32 on the device follows the float64 run within ``RTOL32`` (torch_backend docstring),
    like numpy's own float32 engine."""
    X, y = _data(n=40, d=8)
    args = _train_args(param, algorithm, reference=False)
    r64 = D.train(N.init_network(param, 8, 30, seed=2, batch=2), X, y, **args)
    net32 = N.init_network(param, 8, 30, seed=2, batch=2, dtype=np.float32)
    t32 = D.train(net32, X, y, device=device, **args)
    n32 = D.train(net32, X, y, **args)
    assert t32.network.W.dtype == np.float32
    for r in (t32, n32):
        assert _rel(r.metrics["loss"], r64.metrics["loss"]) < RTOL32
        assert _rel(r.network.W, r64.network.W) < RTOL32
    assert _rel(t32.metrics["loss"], r64.metrics["loss"]) > 1e-9  # it is float32 arithmetic


@needs_cuda
def test_tf32_on_cuda_stays_within_its_tolerance():
    X, y = _data(n=64, d=32)
    args = _train_args("arora", "gd", reference=False)
    r64 = D.train(N.init_network("arora", 32, 256, seed=2), X, y, **args)
    net32 = N.init_network("arora", 32, 256, seed=2, dtype=np.float32)
    t = D.train(net32, X, y, device="cuda", tf32=True, **args)
    assert _rel(t.metrics["loss"], r64.metrics["loss"]) < RTOL_TF32
    assert t.config["tf32"] is True and torch.backends.cuda.matmul.allow_tf32 is False  # restored


# ----------------------------------------------------------------------------- engine pieces
def test_observers_read_numpy_and_the_numpy_path_is_not_wrapped():
    X, y = _data()
    net = N.init_network("both", X.shape[1], 8, seed=1)
    seen = []

    def probe(state, out):
        seen.append((type(state.net.W), type(out["u"]), type(out["active"]), type(state.problem.X)))
        return {"w0": float(state.net.W[0, 0, 0])}

    for device in (None, "cpu"):
        state = D.init(net, X, y, D.make_rule("gd", lr=0.05), device=device)
        pr = D.Probe(probe)
        D.run(state, 5, [pr], record_steps=[0, 5])
        assert all(s == (np.ndarray, np.ndarray, np.ndarray, np.ndarray) for s in seen)
        vals = pr.values["w0"]
        assert vals[0] == net.W[0, 0, 0] and vals[1] != vals[0]  # the view follows the device weights
        seen.clear()
    st = D.init(net, X, y, D.make_rule("gd", lr=0.05))
    out = D.evaluate(st)
    assert D.engine.host_view(st, out) == (st, out)  # numpy: the objects themselves


def test_engine_step_by_step_on_the_device():
    X, y = _data()
    net = N.init_network("arora", X.shape[1], 8, seed=1)
    a = D.init(net, X, y, D.make_rule("gd", lr=0.1))
    b = D.init(net, X, y, D.make_rule("gd", lr=0.1), device="cpu")
    assert isinstance(b.params["W"], torch.Tensor) and b.params["W"].data_ptr() == b.net.W.data_ptr()
    for _ in range(10):
        D.step(a)
        D.step(b)
    assert b.step == 10 and _rel(b.net.W.numpy(), a.net.W) < RTOL64


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("algorithm", ["adam", "noisy-gd"])
def test_a_device_run_resumes_from_its_checkpoint_with_identical_numbers(tmp_path, algorithm):
    """Adam's moments (tensors) and the noise Generators go through the checkpoint and back."""
    X, y = _data()
    net = N.init_network("both", X.shape[1], 8, seed=1)
    args = {**_train_args("both", algorithm), "steps": 30, "device": "cpu"}
    full = D.train(net, X, y, **args)
    ck = tmp_path / "ck.npz"

    def stop_at_17(k, steps, loss):
        if k == 17:
            raise _Interrupt

    with pytest.raises(_Interrupt):
        D.train(net, X, y, checkpoint=ck, checkpoint_every=5, progress=stop_at_17, **args)
    resumed = D.train(net, X, y, checkpoint=ck, checkpoint_every=5, **args)
    assert np.array_equal(resumed.network.W, full.network.W) and np.array_equal(resumed.network.a, full.network.a)
    assert np.array_equal(resumed.metrics["loss"], full.metrics["loss"])
    with pytest.raises(InputError, match="different run"):  # a numpy run does not take the device checkpoint
        D.train(net, X, y, checkpoint=ck, **{k: v for k, v in args.items() if k != "device"})


def test_twin_coupling_on_a_device_run_equals_numpy():
    """The data-free twin (numpy, on the host) runs beside a device noisy run with the same noise."""
    X, y = _data()
    net = N.init_network("mean-field", X.shape[1], 12, seed=1)
    args = _train_args("mean-field", "noisy-gd", steps=20)
    rule = lambda: D.make_rule("noisy-gd", lr=args["lr"], weight_decay=0.05, seed=11)  # noqa: E731
    out = []
    for device in (None, "cpu"):
        tw = D.TwinCoupling(rule())
        D.train(net, X, y, rule=rule(), observers=[tw], device=device, **args)
        out.append(np.asarray(tw.values["twin_dist"]))
    assert out[0][-1, 0] > 0 and _rel(out[1], out[0]) < RTOL64


class _Heavy(NamedTuple):
    v: dict


def test_a_user_rule_with_in_place_operators_runs_on_the_device():
    """Heavy ball written with ``*=``/``-=`` on its state works unchanged on tensors."""
    def init(params):
        return _Heavy({k: 0 * p for k, p in params.items()})

    def update(grads, state, params):
        for k, g in grads.items():
            state.v[k] *= 0.9
            state.v[k] -= 0.05 * g
            g[...] = state.v[k]
        return grads, state

    rule = D.UpdateRule(init, update, name="heavy-ball")
    X, y = _data()
    net = N.init_network("both", X.shape[1], 8, seed=1)
    ref = D.train(net, X, y, lr=0.05, steps=20, rule=rule)
    got = D.train(net, X, y, lr=0.05, steps=20, rule=rule, device="cpu")
    assert _rel(got.network.W, ref.network.W) < RTOL64


def test_device_errors_are_one_line_input_errors():
    X, y = _data()
    net = N.init_network("arora", X.shape[1], 8, seed=1)
    with pytest.raises(InputError, match="cpu' or 'cuda"):
        D.init(net, X, y, D.make_rule("gd", lr=0.1), device="meta")
    with pytest.raises(InputError, match="unknown device"):
        tb.resolve_device("gpu0")
    if not HAS_CUDA:
        with pytest.raises(InputError, match="CUDA is not available"):
            D.train(net, X, y, lr=0.1, steps=2, device="cuda")


def test_without_torch_the_device_path_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(InputError, match=r"pip install 'twolayer\[torch\]'"):
        tb.resolve_device("cpu")
    code = main(["train", "sphere", "--n-train", "10", "--width", "4", "--lr", "0.1", "--steps", "2",
                 "--device", "cpu"])
    assert code == 2 and "needs PyTorch" in capsys.readouterr().err


def test_the_numpy_engine_never_imports_torch():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from twolayer.cli import main\n"
            "assert main(['train', 'sphere', '--n-train', '12', '--width', '6', '--lr', '0.1', '--steps', '3', "
            "'--quiet']) == 0\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr


# ----------------------------------------------------------------------------- kernels
def _awkward_rows():
    """Unit and non-unit rows, exact duplicates up to scale, antipodal and nearly parallel pairs."""
    rng = np.random.default_rng(0)
    X = sphere(60, 7, 3)
    X = np.vstack([X, 2.5 * X[:3], X[3:5] * (1 + 1e-9) + 1e-9, -X[6:8]])
    return X * rng.uniform(0.5, 2.0, (X.shape[0], 1))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", list(K.KERNELS))
def test_kernel_build_equals_the_numpy_builder(device, kind):
    X, Z = _awkward_rows(), sphere(9, 7, 4)
    ref, got = K.arccos_kernel(X, kind=kind), tb.arccos_kernel(X, kind=kind, device=device).cpu().numpy()
    assert np.max(np.abs(got - ref)) <= 1e-12 * np.max(np.abs(ref))
    assert np.array_equal(got, got.T) and np.array_equal(np.diag(got), np.diag(ref))  # exact symmetry, diagonal
    cross = tb.arccos_kernel(X, Z, kind=kind, device=device, block_size=5).cpu().numpy()
    assert np.max(np.abs(cross - K.arccos_kernel(X, Z, kind=kind))) <= 1e-12 * np.max(np.abs(ref))


def test_first_layer_ntk_is_eq3_on_the_circle():
    """Arora et al. eq. 3 on unit vectors at angle θ: ``H = cos θ (π − θ)/(2π)``, θ exact here."""
    t = np.linspace(0.0, 3.0, 31)
    X = np.stack([np.cos(t), np.sin(t)], axis=1)
    H = tb.first_layer_ntk(X).numpy()
    theta = np.abs(t[:, None] - t[None, :])
    assert np.max(np.abs(H - np.cos(theta) * (np.pi - theta) / (2 * np.pi))) < 1e-14
    H32 = tb.first_layer_ntk(X, dtype=np.float32)
    assert H32.dtype == torch.float32 and np.max(np.abs(H32.numpy() - H)) < 1e-6


@pytest.mark.parametrize("device", DEVICES)
def test_kernel_operator_products_and_cg(device):
    from scipy.sparse.linalg import cg

    X = sphere(80, 10, 5)
    H = K.first_layer_ntk(X)
    op = tb.kernel_operator(X, device=device)
    v = np.random.default_rng(1).standard_normal((80, 3))
    assert _rel(op.matvec(v[:, 0]), H @ v[:, 0]) < 1e-13 and _rel(op.matmat(v), H @ v) < 1e-13
    assert _rel(op.rmatvec(v[:, 1]), H.T @ v[:, 1]) < 1e-13 and np.array_equal(op.diagonal(), np.diag(H))
    tv = torch.as_tensor(v[:, 0], device=device)
    assert isinstance(op @ tv, torch.Tensor)
    x, info = cg(op.aslinearoperator(), v[:, 0], rtol=1e-12, maxiter=500)
    assert info == 0 and np.linalg.norm(H @ x - v[:, 0]) <= 1e-10 * np.linalg.norm(v[:, 0])


# ----------------------------------------------------------------------------- the CLI
def _cli_json(capsys, *extra):
    code = main(["train", "sphere", "--n-train", "30", "--width", "20", "--lr", "0.1", "--steps", "25",
                 "--records", "6", "--json", *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_cli_device_cpu_reproduces_the_numpy_run(capsys):
    ref = _cli_json(capsys)
    got = _cli_json(capsys, "--device", "cpu")
    assert got["config"]["device"] == "cpu" and "device" not in ref["config"]
    assert [r["step"] for r in got["records"]] == [r["step"] for r in ref["records"]]
    for a, b in zip(got["records"], ref["records"]):
        for k, v in b.items():
            if v is not None:
                assert a[k] == pytest.approx(v, rel=1e-10, abs=1e-14), k


@pytest.mark.skipif(HAS_CUDA, reason="checks the message of a machine without CUDA")
def test_cli_device_cuda_without_cuda_exits_2_with_a_message(capsys):
    code = main(["train", "sphere", "--n-train", "10", "--width", "4", "--lr", "0.1", "--steps", "2",
                 "--device", "cuda"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("twolayer: error:") and "CUDA is not available" in err
    assert err.count("\n") == 1


def test_cli_tf32_needs_a_device(capsys):
    code = main(["train", "sphere", "--n-train", "10", "--width", "4", "--lr", "0.1", "--steps", "2", "--tf32"])
    assert code == 2 and "--tf32" in capsys.readouterr().err
