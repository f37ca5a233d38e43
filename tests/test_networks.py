"""Networks: hand-derived gradients against finite differences and torch autograd, the forward
pass against a plain loop, initialization laws, seeds and the symmetric init.

Every test runs in float64 unless it says otherwise (tolerances in ``_helpers.TOL``).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

from twolayer._errors import InputError
from twolayer.networks import (
    ACTIVATIONS,
    PARAMETERIZATIONS,
    Network,
    Workspace,
    forward,
    init_network,
    loss_and_grads,
)

from ._helpers import TOL

PARAMS = list(PARAMETERIZATIONS)
ACTS = list(ACTIVATIONS)
NORMS = ["sum", "mean"]

# plain scalar activations and derivatives (independent of the package's in-place kernels)
PHI = {"relu": lambda z: max(z, 0.0), "tanh": math.tanh, "sigmoid": lambda z: 1.0 / (1.0 + math.exp(-z))}


def _problem(param, act, *, B=3, n=6, d=4, m=5, seed=0, dtype=np.float64):
    """A batch of ``B`` networks of ``param`` with activation ``act`` and one target row each.

    Inputs are Gaussian (not unit norm) so that the check covers general x; targets differ per
    network. The first seed from ``seed`` on with no pre-activation within 1e-3 of 0 is used, so
    that finite differences never straddle the ReLU kink (deterministic search).
    """
    while True:
        rng = np.random.default_rng(1000 + seed)
        X = rng.standard_normal((n, d)) / math.sqrt(d)
        net = init_network(param, d, m, seed=seed, batch=B, kappa=0.7, alpha=1.3, dtype=dtype)
        if np.abs(np.einsum("bmd,nd->bnm", net.W, X)).min() > 1e-3:
            break
        seed += 100
    net = replace(net, activation=act)
    Y = rng.standard_normal((B, n))
    return net, X.astype(dtype), Y.astype(dtype)


def _loss_by_loop(W, a, scale, act, X, Y, c):
    """½ c Σ_b Σ_i (s Σ_r a_r φ(w_r·x_i) − y_bi)², written as explicit loops."""
    phi = PHI[act]
    total = 0.0
    for b in range(W.shape[0]):
        for i in range(X.shape[0]):
            f = scale * sum(a[b, r] * phi(float(W[b, r] @ X[i])) for r in range(W.shape[1]))
            total += 0.5 * c * (f - Y[b, i]) ** 2
    return total


def _central_differences(fun, x, h):
    g = np.zeros_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e.flat[j] = h
        g.flat[j] = (fun(x + e) - fun(x - e)) / (2 * h)
    return g


# --------------------------------------------------------------------------- registry
def test_registry_is_consistent():
    for name, p in PARAMETERIZATIONS.items():
        assert p.name == name
        assert p.activation in ACTIVATIONS
        assert p.trains and p.trains <= {"W", "a"}
        assert p.loss_normalization in NORMS
        assert p.init in ("gaussian", "sphere", "mean-field")
    # the table of the module docstring
    m = 400
    assert PARAMETERIZATIONS["arora"].scale(m) == pytest.approx(1 / 20)
    assert PARAMETERIZATIONS["ema-wu"].scale(m) == 1.0
    assert PARAMETERIZATIONS["mean-field"].scale(m, alpha=3.0) == pytest.approx(3.0 / m)
    assert PARAMETERIZATIONS["mean-field"].grad_multiplier(m) == m
    assert PARAMETERIZATIONS["arora"].grad_multiplier(m) == 1.0
    assert PARAMETERIZATIONS["arora"].trains == {"W"} and PARAMETERIZATIONS["rf"].trains == {"a"}
    assert PARAMETERIZATIONS["both"].trains == {"W", "a"}


@pytest.mark.parametrize("act", ACTS)
def test_activation_derivatives(act):
    """φ' from the closed form, from the in-place value→derivative map, and by differences agree."""
    A = ACTIVATIONS[act]
    z = np.linspace(-3.1, 3.3, 41)
    z = z[np.abs(z) > 1e-3]
    h = 1e-6
    fd = (A.value(z + h) - A.value(z - h)) / (2 * h)
    assert np.allclose(A.deriv(z), fd, rtol=1e-8, atol=1e-9)
    assert np.allclose(A.value(z), [PHI[act](t) for t in z], rtol=1e-15, atol=0)
    V = A.value(z)
    A.deriv_from_value_(V)
    assert np.allclose(V, A.deriv(z), rtol=1e-14, atol=1e-15)
    P = z.copy()
    A.value_(P)
    assert np.array_equal(P, A.value(z))
    if act == "relu":  # ReLU'(0) := 0, as in torch
        assert A.deriv(np.zeros(1))[0] == 0.0


# --------------------------------------------------------------------------- forward
@pytest.mark.parametrize("param", PARAMS)
@pytest.mark.parametrize("act", ACTS)
def test_forward_equals_plain_loop_and_loss_and_grads_u(param, act):
    net, X, Y = _problem(param, act)
    f = forward(net, X)
    assert f.shape == (net.batch, X.shape[0])
    loop = np.array([[net.scale * sum(net.a[b, r] * PHI[act](float(net.W[b, r] @ x)) for r in range(net.width))
                      for x in X] for b in range(net.batch)])
    assert np.allclose(f, loop, rtol=1e-13, atol=1e-15 * np.abs(loop).max())
    out = loss_and_grads(net, X, Y)
    assert np.array_equal(out["u"], f) or np.allclose(out["u"], f, rtol=1e-15, atol=1e-16)
    for norm, c in (("sum", 1.0), ("mean", 1.0 / X.shape[0])):
        loss = loss_and_grads(net, X, Y, normalization=norm)["loss"]
        assert np.allclose(loss, 0.5 * c * np.sum((loop - Y) ** 2, axis=1), rtol=1e-13)


def test_forward_rejects_wrong_input_shape():
    net = init_network("arora", 4, 6, seed=0)
    with pytest.raises(InputError, match=r"\(n, 4\)"):
        forward(net, np.ones((3, 5)))
    with pytest.raises(InputError):
        forward(net, np.ones(4))


# --------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("param", PARAMS)
def test_gradients_match_central_differences(param, act, norm):
    """∂L/∂W and ∂L/∂a of the hand-derived formulas = central differences of an independent loss."""
    net, X, Y = _problem(param, act, seed=PARAMS.index(param))
    assert np.abs(np.einsum("bmd,nd->bnm", net.W, X)).min() > 1e-3  # no kink within reach of the step
    c = 1.0 / X.shape[0] if norm == "mean" else 1.0
    out = loss_and_grads(net, X, Y, normalization=norm, trains=frozenset({"W", "a"}))
    gW, ga = out["gW"].copy(), out["ga"].copy()
    assert gW.shape == net.W.shape and ga.shape == net.a.shape
    h = 1e-6
    fdW = _central_differences(lambda W: _loss_by_loop(W, net.a, net.scale, act, X, Y, c), net.W, h)
    fda = _central_differences(lambda a: _loss_by_loop(net.W, a, net.scale, act, X, Y, c), net.a, h)
    for g, fd in ((gW, fdW), (ga, fda)):
        scale = np.abs(fd).max()
        assert scale > 0
        np.testing.assert_allclose(g, fd, rtol=1e-6, atol=1e-7 * scale)


@pytest.mark.parametrize("param", PARAMS)
def test_gradients_pass_scipy_check_grad(param):
    """scipy.optimize.check_grad on one network of the batch, in the parameterization's own layers."""
    p = PARAMETERIZATIONS[param]
    net, X, Y = _problem(param, p.activation, B=1, seed=10 + PARAMS.index(param))
    m, d = net.width, net.dim

    def unpack(theta):
        return replace(net, W=theta[: m * d].reshape(1, m, d), a=theta[m * d:].reshape(1, m))

    def fun(theta):
        return float(loss_and_grads(unpack(theta), X, Y, normalization=p.loss_normalization)["loss"][0])

    def grad(theta):
        out = loss_and_grads(unpack(theta), X, Y, normalization=p.loss_normalization)
        return np.concatenate([out["gW"].ravel(), out["ga"].ravel()])

    theta0 = np.concatenate([net.W.ravel(), net.a.ravel()])
    err = scipy.optimize.check_grad(fun, grad, theta0, epsilon=1e-7)
    assert err <= 1e-5 * np.linalg.norm(grad(theta0))


@pytest.mark.parametrize("param", PARAMS)
def test_untrained_layers_return_none_and_multiplier_scales(param):
    p = PARAMETERIZATIONS[param]
    net, X, Y = _problem(param, p.activation)
    full = loss_and_grads(net, X, Y, normalization=p.loss_normalization, trains=frozenset({"W", "a"}))
    full = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in full.items()}
    out = loss_and_grads(net, X, Y, normalization=p.loss_normalization, trains=p.trains,
                         grad_multiplier=p.grad_multiplier(net.width))
    gm = p.grad_multiplier(net.width)
    for layer, key in (("W", "gW"), ("a", "ga")):
        if layer in p.trains:
            np.testing.assert_allclose(out[key], gm * full[key], rtol=1e-14, atol=0)
        else:
            assert out[key] is None
    assert out["active"] is None
    np.testing.assert_array_equal(out["u"], full["u"])
    none = loss_and_grads(net, X, Y, trains=frozenset())
    assert none["gW"] is None and none["ga"] is None


def test_workspace_reuse_and_activation_pattern():
    net, X, Y = _problem("both", "relu", B=2)
    ws = Workspace(X.shape[0], net)
    a = loss_and_grads(net, X, Y, ws=ws, keep_preactivation=True)
    gW, ga, act = a["gW"].copy(), a["ga"].copy(), a["active"]
    b = loss_and_grads(net, X, Y, ws=ws)  # buffers reused: same results
    np.testing.assert_array_equal(b["gW"], gW)
    np.testing.assert_array_equal(b["ga"], ga)
    expected = (X @ net.W.reshape(-1, net.dim).T) > 0  # (n, B·m), network-major columns
    np.testing.assert_array_equal(act, expected)


@pytest.mark.parametrize("param", PARAMS)
def test_float32_matches_float64_within_dtype_tolerance(param):
    p = PARAMETERIZATIONS[param]
    net64, X, Y = _problem(param, p.activation)
    net32 = replace(net64, W=net64.W.astype(np.float32), a=net64.a.astype(np.float32))
    o64 = loss_and_grads(net64, X, Y, normalization=p.loss_normalization)
    o32 = loss_and_grads(net32, X.astype(np.float32), Y.astype(np.float32), normalization=p.loss_normalization)
    tol = 50 * TOL[np.float32]
    for key in ("u", "loss", "gW", "ga"):
        ref = o64[key]
        assert o32[key].dtype == np.float32
        np.testing.assert_allclose(o32[key], ref, rtol=tol, atol=tol * np.abs(ref).max())


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("act", ACTS)
@pytest.mark.parametrize("param", PARAMS)
def test_gradients_match_torch_autograd(param, act, norm):
    """The same model written plainly in torch (float64); autograd gives the same gradients."""
    torch = pytest.importorskip("torch")
    net, X, Y = _problem(param, act, seed=20 + PARAMS.index(param))
    c = 1.0 / X.shape[0] if norm == "mean" else 1.0
    W = torch.tensor(net.W, dtype=torch.float64, requires_grad=True)
    a = torch.tensor(net.a, dtype=torch.float64, requires_grad=True)
    Xt, Yt = torch.tensor(X, dtype=torch.float64), torch.tensor(Y, dtype=torch.float64)
    phi = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[act]
    u = net.scale * torch.einsum("bm,bnm->bn", a, phi(torch.einsum("bmd,nd->bnm", W, Xt)))
    loss = 0.5 * c * ((u - Yt) ** 2).sum(dim=1)
    loss.sum().backward()
    out = loss_and_grads(net, X, Y, normalization=norm, trains=frozenset({"W", "a"}))
    np.testing.assert_allclose(out["u"], u.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out["loss"], loss.detach().numpy(), rtol=1e-12)
    for mine, theirs in ((out["gW"], W.grad.numpy()), (out["ga"], a.grad.numpy())):
        np.testing.assert_allclose(mine, theirs, rtol=1e-11, atol=1e-13 * np.abs(theirs).max())


# --------------------------------------------------------------------------- initialization
def test_gaussian_init_law():
    """Arora et al. eq. 1: w ~ N(0, κ² I), a ~ unif{±1}, s = m^{-1/2}."""
    kappa, m, d = 0.3, 20_000, 5
    net = init_network("arora", d, m, seed=1, kappa=kappa)
    assert net.W.shape == (1, m, d) and net.a.shape == (1, m) and net.dtype == np.float64
    w = net.W.ravel()
    N = w.size
    assert abs(w.mean()) < 4 * kappa / math.sqrt(N)
    assert abs(w.var() / kappa**2 - 1) < 4 * math.sqrt(2 / N)
    assert set(np.unique(net.a)) == {-1.0, 1.0}
    assert abs(net.a.mean()) < 4 / math.sqrt(m)
    assert net.scale == pytest.approx(m ** -0.5)
    assert net.meta["kappa"] == kappa


def test_sphere_init_law():
    """E–Ma–Wu: b ~ U(S^{d−1}), a = ±β (default β = 1/m), s = 1."""
    m, d = 5000, 6
    net = init_network("ema-wu", d, m, seed=2)
    assert np.allclose(np.linalg.norm(net.W[0], axis=1), 1.0, atol=1e-14)
    assert np.allclose(np.abs(net.a), 1.0 / m) and net.meta["beta"] == 1.0 / m
    assert abs(net.W[0].mean(axis=0)).max() < 4 / math.sqrt(m * d)  # isotropic: E b = 0
    assert net.scale == 1.0
    net = init_network("ema-wu-rf", d, 10, seed=2, beta=0.25)
    assert np.allclose(np.abs(net.a), 0.25)


def test_mean_field_init_law():
    """Chen et al.: (θ, u) ~ N(0, I), s = α/m."""
    m, d = 20_000, 3
    net = init_network("mean-field", d, m, seed=3, alpha=2.5)
    for v in (net.W.ravel(), net.a.ravel()):
        assert abs(v.mean()) < 4 / math.sqrt(v.size)
        assert abs(v.var() - 1) < 4 * math.sqrt(2 / v.size)
    assert net.scale == pytest.approx(2.5 / m)
    assert net.activation == "tanh"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_honoured(dtype):
    net = init_network("both", 3, 8, seed=0, dtype=dtype)
    assert net.W.dtype == dtype and net.a.dtype == dtype
    assert forward(net, np.ones((2, 3))).dtype == dtype


def test_seeds_same_different_and_batch_prefix():
    """Same seed → same networks; network b of a batch does not depend on the batch size."""
    a = init_network("both", 4, 16, seed=7, batch=5)
    b = init_network("both", 4, 16, seed=7, batch=5)
    np.testing.assert_array_equal(a.W, b.W)
    np.testing.assert_array_equal(a.a, b.a)
    c = init_network("both", 4, 16, seed=8, batch=5)
    assert not np.array_equal(a.W, c.W)
    three = init_network("both", 4, 16, seed=7, batch=3)
    np.testing.assert_array_equal(a.W[:3], three.W)
    np.testing.assert_array_equal(a.a[:3], three.a)
    one = init_network("both", 4, 16, seed=7)
    np.testing.assert_array_equal(a.W[:1], one.W)
    # the networks of a batch are independent draws, not copies
    assert not np.array_equal(a.W[0], a.W[1])
    # the documented spawning rule: network b uses SeedSequence(seed).spawn(batch)[b]
    g = np.random.default_rng(np.random.SeedSequence(7).spawn(5)[3])
    np.testing.assert_array_equal(a.W[3], g.standard_normal((16, 4)))


def test_same_seed_sequence_gives_same_networks():
    ss = np.random.SeedSequence(5)
    a = init_network("arora", 4, 8, seed=ss, batch=2)
    b = init_network("arora", 4, 8, seed=ss, batch=2)
    np.testing.assert_array_equal(a.W, b.W)


@pytest.mark.parametrize("param", PARAMS)
def test_symmetric_init_gives_zero_function(param):
    d, m = 5, 64
    net = init_network(param, d, m, seed=4, batch=2, symmetric=True, beta=0.3, kappa=2.0)
    X = np.random.default_rng(0).standard_normal((9, d))
    f = forward(net, X)
    P = np.maximum(np.abs(np.einsum("bmd,nd->bnm", net.W, X)), 1.0)
    scale = abs(net.scale) * (np.abs(net.a)[:, None, :] * P).sum(axis=2)  # size of the cancelled terms
    assert np.all(np.abs(f) <= 1e-13 * scale)
    h = m // 2
    np.testing.assert_array_equal(net.W[:, :h], net.W[:, h:])
    np.testing.assert_array_equal(net.a[:, :h], -net.a[:, h:])
    # and the non-symmetric draw is not identically zero
    assert np.abs(forward(init_network(param, d, m, seed=4, beta=0.3, kappa=2.0), X)).max() > 0


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 9).map(lambda k: 2 * k), d=st.integers(1, 6), batch=st.integers(1, 3),
       seed=st.integers(0, 2**31))
def test_symmetric_init_property(m, d, batch, seed):
    net = init_network("both", d, m, seed=seed, batch=batch, symmetric=True)
    X = np.random.default_rng(seed).standard_normal((4, d))
    assert np.abs(forward(net, X)).max() <= 1e-13 * max(1.0, np.abs(X).sum()) * math.sqrt(m)


def test_init_rejects_bad_arguments():
    with pytest.raises(InputError, match="even"):
        init_network("arora", 3, 7, seed=0, symmetric=True)
    with pytest.raises(InputError, match="unknown parameterization"):
        init_network("nope", 3, 8, seed=0)
    with pytest.raises(InputError, match="explicit seed|seed must be"):
        init_network("arora", 3, 8, seed=None)
    with pytest.raises(InputError, match="kappa"):
        init_network("arora", 3, 8, seed=0, kappa=0.0)
    with pytest.raises(InputError, match="dtype"):
        init_network("arora", 3, 8, seed=0, dtype=np.float16)
    for bad in ({"m": 0}, {"d": 0}, {"batch": 0}):
        kw = {"d": 3, "m": 8, "batch": 1} | bad
        with pytest.raises(InputError, match=">= 1"):
            init_network("arora", kw["d"], kw["m"], seed=0, batch=kw["batch"])


def test_network_properties_and_copy():
    net = init_network("both", 3, 8, seed=0, batch=2)
    assert (net.batch, net.width, net.dim) == (2, 8, 3)
    cp = net.copy()
    cp.W[...] = 0
    assert np.abs(net.W).max() > 0
    manual = Network(W=net.W[1:2], a=net.a[1:2], scale=net.scale, activation=net.activation, param=net.param,
                     meta=net.meta)
    np.testing.assert_array_equal(forward(manual, np.eye(3))[0], forward(net, np.eye(3))[1])


def test_init_network_takes_another_activation_and_the_dynamics_use_the_empirical_kernel():
    from twolayer import dynamics as D
    from twolayer.networks import ACTIVATIONS

    X = np.random.default_rng(0).standard_normal((6, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    sig = init_network("mean-field", 3, 8, seed=1, activation="sigmoid")
    tanh = init_network("mean-field", 3, 8, seed=1)
    assert (sig.activation, tanh.activation) == ("sigmoid", "tanh")
    np.testing.assert_array_equal(sig.W, tanh.W)  # same draws, only the activation differs
    z = X @ sig.W[0].T
    np.testing.assert_allclose(forward(sig, X)[0], sig.scale * ACTIVATIONS["sigmoid"].value(z) @ sig.a[0], rtol=1e-12)
    relu_as_tanh = init_network("both", 3, 8, seed=1, activation="tanh")
    assert D.reference_kernel(relu_as_tanh, X) is None  # the closed form is for ReLU only
    assert D.reference_kernel(init_network("both", 3, 8, seed=1), X) is not None
    with pytest.raises(InputError, match="unknown activation"):
        init_network("both", 3, 8, seed=1, activation="gelu")
