"""The twin-coupling observer of the engine: an interrupted and resumed run continues the same noise
stream for the network and its twin (identical distances and parameters to an uninterrupted run),
a twin whose noise stream differs from the run's is refused, and the twin of plain noisy GD on
zero gradients is the Ornstein–Uhlenbeck recursion (its variance tends to 2/(2 − ηλ))."""

from __future__ import annotations

import numpy as np
import pytest

from twolayer._errors import InputError
from twolayer.data import load
from twolayer.dynamics import DivergenceGuard, Probe, engine, make_rule
from twolayer.dynamics.twin import TwinCoupling, mean_sq_distance
from twolayer.networks import init_network

LR, LAM, SEED, STEPS = 0.05, 0.3, 11, 60
RECORDS = [0, 5, 17, 30, 44, STEPS]


class _Interrupt(Exception):
    pass


def _problem(batch: int = 2):
    ds = load("sphere", n=12, d=4, target="linear", seed=3)
    net = init_network("mean-field", 4, 40, seed=5, alpha=3.0, symmetric=True, batch=batch)
    return ds, net


def _rule(seed=SEED):
    return make_rule("noisy-gd", lr=LR, weight_decay=LAM, seed=np.random.SeedSequence(seed, spawn_key=(22, 1)))


def _observers():
    probe = Probe(lambda state, out: {"loss": out["loss"].astype(np.float64), "u": out["u"].astype(np.float64)})
    return [DivergenceGuard(1e3, 1e3, what="noisy GD"), probe, TwinCoupling(_rule())]


def _run(ds, net, checkpoint=None, stop_at=None):
    state = engine.init(net, ds.X, ds.y, _rule(), normalization="mean")
    obs = _observers()
    seen = []

    def progress(k, steps, loss):
        seen.append(k)
        if k == stop_at:
            raise _Interrupt

    engine.run(state, STEPS, obs, record_steps=RECORDS, checkpoint=checkpoint, checkpoint_every=10,
               config={"test": "twin"}, progress=progress)
    return state, obs, seen


def test_resumed_twin_run_is_identical_to_an_uninterrupted_one(tmp_path):
    ds, net = _problem()
    ref_state, ref_obs, _ = _run(ds, net)
    ck = tmp_path / "twin.npz"
    with pytest.raises(_Interrupt):
        _run(ds, net, checkpoint=ck, stop_at=37)          # last checkpoint at step 30, killed at 37
    state, obs, seen = _run(ds, net, checkpoint=ck)       # fresh state and observers, resumed
    assert seen[0] == 31                                  # it did resume (from step 30), not restart
    tw, ref_tw = obs[2], ref_obs[2]
    assert tw.steps == ref_tw.steps == RECORDS
    for name in ("twin_dist", "raw_dist", "twin_raw_dist"):
        np.testing.assert_array_equal(np.asarray(tw.values[name]), np.asarray(ref_tw.values[name]))
    np.testing.assert_array_equal(tw.W, ref_tw.W)
    np.testing.assert_array_equal(tw.a, ref_tw.a)
    np.testing.assert_array_equal(state.net.W, ref_state.net.W)
    np.testing.assert_array_equal(state.net.a, ref_state.net.a)
    np.testing.assert_array_equal(np.asarray(obs[1].values["u"]), np.asarray(ref_obs[1].values["u"]))
    # the twin's generators continue where they stopped: one more draw agrees, and differs from a fresh start
    g, g_ref = tw.rule_state[2].rngs[0], ref_tw.rule_state[2].rngs[0]
    x = g.standard_normal(3)
    assert np.array_equal(x, g_ref.standard_normal(3))
    assert not np.array_equal(x, _rule().init({"W": tw.W})[2].rngs[0].standard_normal(3))
    # the distances are what they say: D of each network against its twin
    np.testing.assert_allclose(tw.values["twin_dist"][-1], [
        (np.sum((state.net.W[b] - tw.W[b]) ** 2) + np.sum((state.net.a[b] - tw.a[b]) ** 2)) / net.width
        for b in range(net.batch)], rtol=1e-12)


def test_a_twin_with_another_noise_stream_is_refused():
    ds, net = _problem(batch=1)
    state = engine.init(net, ds.X, ds.y, _rule(), normalization="mean")
    with pytest.raises(InputError, match="twin's rule state differs"):
        engine.run(state, 3, [TwinCoupling(_rule(seed=SEED + 1))])
    with pytest.raises(InputError, match="UpdateRule"):
        TwinCoupling("noisy-gd")


def test_twin_particles_follow_the_ou_recursion_and_its_stationary_variance():
    """The twin's particles follow ``z ← (1 − ηλ) z + sqrt(2ηλ) ξ`` whatever the data: started at
    N(0, 1), the variance per coordinate at step k is ``q^{2k} + (1 − q^{2k}) · 2/(2 − ηλ)``
    (q = 1 − ηλ; ``2ηλ / (1 − q²) = 2/(2 − ηλ)`` the stationary one), while the run itself moves."""
    ds = load("sphere", n=6, d=5, target="linear", seed=2)
    net = init_network("mean-field", 5, 4000, seed=1, alpha=1.0, batch=1)
    lr, lam, k = 0.5, 0.6, 40
    state = engine.init(net, ds.X, ds.y, make_rule("noisy-gd", lr=lr, weight_decay=lam, seed=3), normalization="mean")
    tw = TwinCoupling(make_rule("noisy-gd", lr=lr, weight_decay=lam, seed=3))
    engine.run(state, k, [tw], record_steps=[0, k])
    q = 1 - lr * lam
    var = q ** (2 * k) + (1 - q ** (2 * k)) * 2 / (2 - lr * lam)
    sample = tw.W[0].ravel()
    se = var * np.sqrt(2 / sample.size)
    assert np.var(sample) == pytest.approx(var, abs=5 * se)
    assert abs(np.var(sample) - 1.0) > 10 * se                        # it did move away from N(0, 1)
    assert tw.values["twin_dist"][0][0] == 0.0 < tw.values["twin_dist"][-1][0]   # the data term moved the run


def test_mean_sq_distance_per_network():
    rng = np.random.default_rng(0)
    W1, W2, a1, a2 = rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 5, 2)), rng.standard_normal((3, 5)), \
        rng.standard_normal((3, 5))
    got = mean_sq_distance(W1, a1, W2, a2)
    want = [(np.sum((W1[b] - W2[b]) ** 2) + np.sum((a1[b] - a2[b]) ** 2)) / 5 for b in range(3)]
    np.testing.assert_allclose(got, want, rtol=1e-13)
