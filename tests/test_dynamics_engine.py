"""The engine's extension points, each used the way a newcomer would: a new update rule
(heavy-ball momentum) and a new parameterization, each defined here in a few lines, trained and
resumed; the engine's pieces (init/step/run, observers, generic checkpoints) against each other and
against explicit recursions; and the CLI's ``--algorithm``.
"""

from __future__ import annotations

import json
from typing import NamedTuple

import numpy as np
import pytest

from twolayer import dynamics as D
from twolayer._errors import InputError
from twolayer.cli import main
from twolayer.dynamics import checkpoint as C
from twolayer.kernels import first_layer_ntk
from twolayer.networks import PARAMETERIZATIONS, Parameterization, init_network, register_parameterization

from ._helpers import sphere


# ----------------------------------------------------------------------------- a new rule in a few lines
class Velocity(NamedTuple):
    v: dict


def heavy_ball(lr: float, momentum: float = 0.9, **_) -> D.UpdateRule:
    """Polyak heavy ball: ``v ← μ v − η g``, ``θ ← θ + v``."""

    def init(params):
        return Velocity({k: np.zeros_like(p) for k, p in params.items()})

    def update(grads, state, params):
        for k, g in grads.items():
            state.v[k] *= momentum
            state.v[k] -= lr * g
            g[...] = state.v[k]
        return grads, state

    return D.UpdateRule(init, update, name="heavy-ball",
                        stable_step=lambda lam: 2 * (1 + momentum) / lam)


@pytest.fixture
def registered_heavy_ball():
    D.register_algorithm("heavy-ball", heavy_ball)
    yield
    del D.ALGORITHMS["heavy-ball"]


def _data(n=20, d=5, seed=3):
    X = sphere(n, d, seed)
    return X, np.sign(X[:, 0] - 0.2 * X[:, 2])


def _interrupt_at(step: int):
    """A progress callback that stops the run (as Ctrl-C would) after update ``step``."""

    def progress(k, steps, loss):
        if k == step:
            raise KeyboardInterrupt

    return progress


def _interrupted_and_resumed(net, X, y, ck, *, at: int, every: int, **args):
    """``train`` stopped after update ``at`` with checkpoints every ``every`` steps, then rerun."""
    with pytest.raises(KeyboardInterrupt):
        D.train(net, X, y, checkpoint=ck, checkpoint_every=every, progress=_interrupt_at(at), **args)
    return D.train(net, X, y, checkpoint=ck, checkpoint_every=every, **args)


def test_heavy_ball_on_random_features_is_the_explicit_momentum_recursion():
    """``rf`` trains only ``a``: the loss ½‖sΦa − y‖² is quadratic, so heavy ball is the linear
    recursion ``a_{k+1} = a_k + μ(a_k − a_{k−1}) − η sΦᵀ(sΦa_k − y)``, written out here."""
    X, y = _data()
    net = init_network("rf", X.shape[1], 40, seed=1)
    lr, mu, K = 0.05, 0.8, 30
    res = D.train(net, X, y, lr=lr, steps=K, rule=heavy_ball(lr, mu), gram_diagnostics=False)
    s = net.scale
    Phi = np.maximum(X @ net.W[0].T, 0)
    a, a_prev = net.a[0].copy(), net.a[0].copy()
    for _ in range(K):
        g = s * Phi.T @ (s * Phi @ a - y)
        a, a_prev = a + mu * (a - a_prev) - lr * g, a
    np.testing.assert_allclose(res.network.a[0], a, rtol=1e-12, atol=1e-14)
    assert res.config["algorithm"] == "heavy-ball"
    # its declared stable step is used by the stability check: 2(1 + μ)/λ_max
    np.testing.assert_allclose(res.max_stable_lr, 2 * (1 + mu) / res.lambda_max, rtol=1e-12)


def test_a_registered_rule_trains_resumes_and_is_offered_by_the_cli(tmp_path, registered_heavy_ball):
    X, y = _data()
    net = init_network("both", X.shape[1], 24, seed=2, batch=2)
    args = dict(lr=0.02, steps=40, algorithm="heavy-ball", n_records=8)
    ref = D.train(net, X, y, **args)
    resumed = _interrupted_and_resumed(net, X, y, tmp_path / "hb.npz", at=23, every=10, **args)
    np.testing.assert_array_equal(ref.network.W, resumed.network.W)
    np.testing.assert_array_equal(ref.metrics["loss"], resumed.metrics["loss"])
    # the velocity is state that matters: a resume that dropped it would restart with v = 0
    restarted = D.init(net, X, y, heavy_ball(0.02))
    D.run(restarted, 20)
    restarted.rule_state = restarted.rule.init(restarted.params)
    D.run(restarted, 40)
    assert not np.array_equal(restarted.net.W, ref.network.W)


@pytest.mark.parametrize("algorithm", list(D.ALGORITHMS))
def test_every_registered_rule_resumes_exactly_through_the_generic_checkpoint(tmp_path, algorithm):
    X, y = _data()
    net = init_network("both", X.shape[1], 16, seed=5, batch=2)
    kw = dict(lr=0.01, weight_decay=0.01, temperature=0.01, seed=9)
    rule = D.make_rule(algorithm, **kw)
    uninterrupted = D.init(net, X, y, rule)
    D.run(uninterrupted, 25)
    ck = tmp_path / "r.npz"
    first = D.init(net, X, y, D.make_rule(algorithm, **kw))
    with pytest.raises(KeyboardInterrupt):
        D.run(first, 25, checkpoint=ck, checkpoint_every=5, progress=_interrupt_at(13))
    again = D.init(net, X, y, D.make_rule(algorithm, **kw))
    D.run(again, 25, checkpoint=ck, checkpoint_every=5)
    np.testing.assert_array_equal(uninterrupted.net.W, again.net.W)
    np.testing.assert_array_equal(uninterrupted.net.a, again.net.a)
    a1, l1 = C.flatten(uninterrupted.rule_state)
    a2, l2 = C.flatten(again.rule_state)
    assert sorted(a1) == sorted(a2)
    for k in a1:
        np.testing.assert_array_equal(a1[k], a2[k])
    assert l1 == l2


def test_checkpoint_of_another_rule_or_an_unsavable_state_is_an_error(tmp_path):
    X, y = _data()
    net = init_network("both", X.shape[1], 8, seed=0)
    ck = tmp_path / "c.npz"
    D.run(D.init(net, X, y, D.make_rule("adam", lr=0.01)), 10, checkpoint=ck, checkpoint_every=5)
    with pytest.raises(InputError, match="does not match this run's state"):
        D.run(D.init(net, X, y, D.make_rule("gd", lr=0.01)), 10, checkpoint=ck)

    class Opaque(NamedTuple):
        thing: object

    bad = D.UpdateRule(lambda p: Opaque({1, 2}), lambda g, s, p: (g, s))
    with pytest.raises(InputError, match="cannot checkpoint a state leaf of type set"):
        D.run(D.init(net, X, y, bad), 10, checkpoint=tmp_path / "bad.npz", checkpoint_every=5)


def test_flatten_restore_round_trip_keeps_types_and_generator_streams():
    class S(NamedTuple):
        m: dict
        t: int
        rngs: tuple

    g = np.random.default_rng(4)
    g.standard_normal(3)
    tree = (None, S({"W": np.arange(6.0).reshape(2, 3)}, 7, (g,)), [1.5, "x"])
    arrays, leaves = C.flatten(tree)
    template = (None, S({"W": np.zeros((2, 3))}, 0, (np.random.default_rng(0),)), [0.0, ""])
    back = C.restore(template, arrays, json.loads(json.dumps(leaves)))
    assert isinstance(back[1], S) and back[1].t == 7 and back[2] == [1.5, "x"]
    np.testing.assert_array_equal(back[1].m["W"], tree[1].m["W"])
    np.testing.assert_array_equal(back[1].rngs[0].standard_normal(5), g.standard_normal(5))
    free = C.restore(C.FREE, *C.flatten({"a": [np.ones(2), 3], "g": np.random.default_rng(1)}))
    assert free["a"][1] == 3 and free["g"].standard_normal() == np.random.default_rng(1).standard_normal()


# ----------------------------------------------------------------------------- a new parameterization
@pytest.fixture
def sphere_ntk():
    """Arora et al.'s network with first-layer weights uniform on the sphere instead of Gaussian.

    ``H^∞`` depends on ``w`` only through the half-spaces ``{w·x ≥ 0}``, which are the same for
    ``w`` and ``w/‖w‖``: so the same closed form (Arora et al. eq. 3) is its reference kernel."""

    def draw(g, half, d, kappa, beta):
        w = g.standard_normal((half, d))
        return kappa * w / np.linalg.norm(w, axis=1, keepdims=True), g.choice([-1.0, 1.0], half)

    p = register_parameterization(Parameterization(
        "sphere-ntk", "relu", frozenset({"W"}), "sum", "sphere-ntk", "Arora et al. with w ~ U(S^{d-1})", draw=draw,
        reference=lambda net, X, Z: first_layer_ntk(X, Z)))
    yield p
    del PARAMETERIZATIONS["sphere-ntk"]


def test_a_new_parameterization_trains_with_its_reference_kernel_and_resumes(tmp_path, sphere_ntk):
    X, y = _data(n=16, d=4)
    net = init_network("sphere-ntk", X.shape[1], 4000, seed=3)
    np.testing.assert_allclose(np.linalg.norm(net.W[0], axis=1), 1.0, rtol=1e-12)
    # its empirical H(0) is a Monte Carlo estimate of the declared reference: error ~ m^-1/2
    H0 = D.empirical_reference(net, X)
    assert np.abs(H0 - first_layer_ntk(X)).max() < 6 / np.sqrt(4000)
    args = dict(lr=0.5, steps=200, n_records=10, gram_diagnostics=False)
    res = D.train(net, X, y, **args)
    assert res.reference == "closed form"
    # kernel regime: the loss follows the init-corrected linear prediction
    L, Lp = res.metrics["loss"][0], res.metrics["predicted_loss_init"][0]
    assert L[-1] < 0.05 * L[0]
    np.testing.assert_allclose(L, Lp, rtol=0.1, atol=1e-3 * L[0])
    again = _interrupted_and_resumed(net, X, y, tmp_path / "p.npz", at=77, every=25, **args)
    np.testing.assert_array_equal(res.network.W, again.network.W)
    np.testing.assert_array_equal(res.metrics["kernel_gap_sup"], again.metrics["kernel_gap_sup"])


def test_an_unregistered_or_ill_formed_parameterization_is_refused():
    p = Parameterization("loose", "relu", frozenset({"W"}), "sum", "gaussian", "not registered")
    with pytest.raises(InputError, match="not registered"):
        init_network(p, 3, 4, seed=0)
    with pytest.raises(InputError, match="trains must be"):
        Parameterization("bad", "relu", frozenset({"b"}), "sum", "gaussian", "")
    with pytest.raises(InputError, match="already registered"):
        register_parameterization(PARAMETERIZATIONS["arora"])


# ----------------------------------------------------------------------------- engine pieces
def test_run_equals_repeated_step_and_train_equals_run():
    X, y = _data()
    net = init_network("both", X.shape[1], 12, seed=8)
    rule = lambda: D.make_rule("noisy-gd", lr=0.02, weight_decay=0.05, seed=3)  # noqa: E731
    s1 = D.init(net, X, y, rule())
    D.run(s1, 15)
    s2 = D.init(net, X, y, rule())
    for _ in range(15):
        D.step(s2)
    np.testing.assert_array_equal(s1.net.W, s2.net.W)
    res = D.train(net, X, y, lr=0.02, steps=15, algorithm="noisy-gd", weight_decay=0.05, noise_seed=3,
                  check_stability=False)
    np.testing.assert_array_equal(res.network.W, s1.net.W)
    assert s1.step == 15 and res.n_steps == 15


def test_probe_records_at_record_steps_and_stops_end_the_run():
    X, y = _data()
    net = init_network("arora", X.shape[1], 16, seed=1)
    probe = D.Probe(lambda state, out: {"loss": float(out["loss"][0]), "u": out["u"][0].copy()})
    state = D.init(net, X, y, D.make_rule("gd", lr=0.3))
    _, stopped, _ = D.run(state, 500, [probe, D.ToleranceStop(1e-2)], record_steps=[0, 5, 10])
    assert stopped == "tol" and probe.steps[:3] == [0, 5, 10] and probe.steps[-1] == state.step
    assert probe.values["loss"][-1] < 1e-2 <= probe.values["loss"][-2]
    np.testing.assert_allclose(0.5 * np.sum((probe.values["u"][1] - y) ** 2), probe.values["loss"][1], rtol=1e-12)


def test_train_without_reference_skips_the_kernel_and_its_metrics():
    X, y = _data()
    net = init_network("both", X.shape[1], 16, seed=1)
    res = D.train(net, X, y, lr=0.01, steps=10, algorithm="adam", weight_decay=1e-3, reference=False)
    assert res.reference == "none" and np.isnan(res.lambda_max) and "kernel_gap_sup" not in res.metrics
    with pytest.raises(InputError, match="rtol"):
        D.train(net, X, y, lr=0.01, steps=10, rtol=0.1, reference=False)


# ----------------------------------------------------------------------------- CLI
def test_cli_train_takes_every_registered_algorithm(capsys):
    base = ["train", "digits", "--width", "16", "--lr", "0.01", "--steps", "5", "--json"]
    for algorithm in D.ALGORITHMS:
        assert main(base + ["--algorithm", algorithm]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["config"]["algorithm"] == algorithm
    assert main(base + ["--algorithm", "gd", "--noise-temp", "0.1"]) == 2
    assert "draws no noise" in capsys.readouterr().err


def test_a_reference_decomposed_once_gives_the_same_run_without_a_second_eigh(monkeypatch):
    """``reference_from_spectrum``: the spectrum of ``H/n`` is that of ``H`` scaled (same vectors),
    so an experiment's set-up decomposition serves every training run."""
    from twolayer import spectra
    from twolayer.dynamics import reference as R

    X, y = _data(n=24, d=5)
    net = init_network("arora", X.shape[1], 64, seed=4, batch=2)
    H = first_layer_ntk(X)
    spec = spectra.spectrum(H)
    np.testing.assert_allclose(spec.scaled(1 / 24).eigenvalues, np.linalg.eigvalsh(H / 24)[::-1], rtol=1e-12)
    args = dict(lr=0.5 * 2 * 24 / spec.lambda_max, steps=30, normalization="mean", n_records=6, X_test=X[:4],
                y_test=y[:4])
    built = D.train(net, X, y, **args)
    calls = []
    monkeypatch.setattr(R, "spectrum", lambda *a, **k: calls.append(1))  # a second decomposition would fail
    given = D.train(net, X, y, reference=D.reference_from_spectrum(H, spec, 1 / 24, 2), **args)
    assert not calls
    np.testing.assert_array_equal(built.network.W, given.network.W)
    for k in built.metrics:
        np.testing.assert_allclose(given.metrics[k], built.metrics[k], rtol=1e-9, atol=1e-12, err_msg=k)
    with pytest.raises(InputError, match="this run has 2"):
        D.train(net, X, y, reference=D.reference_from_spectrum(H, spec, 1 / 24, 3), **args)
