"""Probes of :mod:`twolayer.dynamics.probes`: the neuron–teacher alignment and :class:`HermiteProbe`.

The probe's exact Hermite energies and population loss of ``f − f*`` are checked against the
Monte Carlo U-statistic (within its standard error) and the sample mean on a large Gaussian
sample, for every network of a batch, at the start and at the end of a short run; its records
survive a checkpoint and resume of the engine unchanged.
"""

from __future__ import annotations

import numpy as np
import pytest

from twolayer import InputError
from twolayer import dynamics as D
from twolayer.data.teacher import TeacherNetwork, random_orthogonal
from twolayer.dynamics.probes import HermiteProbe, alignment
from twolayer.kernels.hermite import HermiteProjector
from twolayer.networks import forward, init_network


def test_alignment_is_one_on_the_teacher_and_small_for_random_directions():
    Ws = random_orthogonal(20, np.random.default_rng(6))
    np.testing.assert_allclose(alignment(3.0 * Ws[::-1], Ws), 1.0)
    rand = alignment(np.random.default_rng(7).standard_normal((5, 20)), Ws)
    assert rand.shape == (20,) and np.all(rand < 0.9)
    # a zero neuron counts as cosine 0, not NaN
    assert np.array_equal(alignment(np.zeros((2, 20)), Ws), np.zeros(20))


def _problem(d=3, n=40, seed=0):
    rng = np.random.default_rng(seed)
    teacher = TeacherNetwork(np.array([0.5, 0.3, 0.2]), random_orthogonal(d, rng))
    X = rng.standard_normal((n, d))
    return teacher, X, teacher(X)


def _run(teacher, X, y, steps=30, **run_kw):
    net = init_network("both", X.shape[1], 6, seed=1, batch=2, kappa=0.5)
    state = D.init(net, X, y, D.make_rule("gd", lr=0.2, weight_decay=1e-3), normalization="mean")
    probe = HermiteProbe([("abs", teacher.a, teacher.W)], align_to=teacher.W)
    D.run(state, steps, [probe], record_steps=[0, 7, steps], **run_kw)
    return state, probe


def test_hermite_probe_equals_the_monte_carlo_estimate_within_its_standard_error():
    teacher, X, y = _problem()
    state, probe = _run(teacher, X, y)
    res = probe.result()
    assert res["steps"].tolist() == [0, 7, 30]
    assert res["energies"].shape == (3, 2, 5) and res["population"].shape == (3, 2)
    assert res["alignment"].shape == (3, 2, 3)
    assert not np.allclose(res["energies"][0], res["energies"][-1])     # training changed the residual
    Z = np.random.default_rng(99).standard_normal((4000, 3))
    proj = HermiteProjector(Z)
    for j, net in ((0, state.net0), (2, state.net)):
        r = forward(net, Z).astype(np.float64) - teacher(Z)                  # (B, N)
        for b in range(2):
            est, se = proj.energies_se(r[b])
            for i, k in enumerate(proj.orders):
                assert abs(res["energies"][j, b, i] - est[k]) < 4 * se[k] + 1e-12, (j, b, k)
            sq = r[b] ** 2
            assert abs(res["population"][j, b] - sq.mean()) < 4 * sq.std() / np.sqrt(sq.size), (j, b)
            np.testing.assert_allclose(res["alignment"][j, b], alignment(net.W[b], teacher.W), rtol=1e-14)


def test_hermite_probe_records_survive_a_checkpoint_and_resume(tmp_path):
    teacher, X, y = _problem(seed=3)
    full, full_probe = _run(teacher, X, y)

    class Interrupt(Exception):
        pass

    def stop_at_12(k, steps, loss):
        if k == 12:
            raise Interrupt

    ck = tmp_path / "ck.npz"
    with pytest.raises(Interrupt):
        _run(teacher, X, y, checkpoint=ck, checkpoint_every=5, progress=stop_at_12)
    seen = []
    state, probe = _run(teacher, X, y, checkpoint=ck, checkpoint_every=5, progress=lambda k, s, loss: seen.append(k))
    assert seen[0] == 11                                   # resumed at step 10 (after the records at 0 and 7)
    assert probe.steps == full_probe.steps == [0, 7, 30]
    for key in ("energies", "population", "alignment"):
        np.testing.assert_array_equal(probe.result()[key], full_probe.result()[key])
    np.testing.assert_array_equal(state.net.W, full.net.W)


def test_hermite_probe_refuses_what_has_no_closed_form():
    teacher, X, y = _problem()
    with pytest.raises(InputError, match="relu"):
        HermiteProbe([("tanh", teacher.a, teacher.W)])
    net = init_network("mean-field", 3, 4, seed=0, activation="tanh")
    state = D.init(net, X, y, D.make_rule("gd", lr=0.1))
    with pytest.raises(InputError, match="relu network"):
        D.run(state, 1, [HermiteProbe([("abs", teacher.a, teacher.W)])], record_steps=[0])
