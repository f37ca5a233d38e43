"""twolayer._seeds: purpose-keyed streams are stable (same key, same numbers) and independent (another
purpose or replicate, another stream); children match numpy's spawn; sphere draws are uniform."""

import math

import numpy as np
import pytest

from twolayer import InputError
from twolayer._seeds import as_seed_sequence, child_seed, child_seeds, rng, sample_sphere, seed_sequence


def test_same_key_gives_the_same_stream_on_every_call():
    a = rng(7, 21, 3).standard_normal(1000)
    b = rng(7, 21, 3).standard_normal(1000)
    assert np.array_equal(a, b)
    # the stream is SeedSequence(seed, spawn_key=keys), whatever the integer types
    ref = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(21, 3))).standard_normal(1000)
    assert np.array_equal(a, ref)
    assert np.array_equal(rng(np.int64(7), np.int32(21), 3).standard_normal(1000), a)


def test_streams_do_not_depend_on_what_was_drawn_before():
    first = rng(0, 22).standard_normal(50)
    rng(0, 21).standard_normal(10**5)                 # another purpose drawn in between
    assert np.array_equal(rng(0, 22).standard_normal(50), first)


@pytest.mark.parametrize("other", [(8, 21, 3), (7, 22, 3), (7, 21, 4), (7, 21), (7, 21, 3, 0)])
def test_another_seed_purpose_or_replicate_gives_an_independent_stream(other):
    n = 20_000
    a = rng(7, 21, 3).standard_normal(n)
    b = rng(*other).standard_normal(n)
    assert not np.array_equal(a[:10], b[:10])
    # independent N(0,1) streams: the sample correlation is N(0, 1/n); 5 sd is a 1-in-10^6 event
    assert abs(float(np.corrcoef(a, b)[0, 1])) < 5 / math.sqrt(n)


def test_children_are_what_spawn_makes_and_leave_the_parent_alone():
    parent = seed_sequence(3, 21, 5)
    kids = child_seeds(parent, 3)
    assert parent.n_children_spawned == 0
    spawned = seed_sequence(3, 21, 5).spawn(3)
    for k, s in zip(kids, spawned):
        assert k.spawn_key == s.spawn_key and np.array_equal(k.generate_state(4), s.generate_state(4))
    assert child_seed(parent, 2).spawn_key == (21, 5, 2)


def test_as_seed_sequence_accepts_int_sequence_and_generator():
    ss = np.random.SeedSequence(5)
    assert as_seed_sequence(ss) is ss
    assert np.array_equal(as_seed_sequence(5).generate_state(2), ss.generate_state(2))
    g1, g2 = np.random.default_rng(1), np.random.default_rng(1)
    assert np.array_equal(as_seed_sequence(g1).generate_state(2), as_seed_sequence(g2).generate_state(2))
    with pytest.raises(InputError, match="noise seed must be an int"):
        as_seed_sequence("5", "noise seed")


def test_sphere_draws_are_unit_nested_and_uniform():
    X = sample_sphere(np.random.default_rng(0), 20_000, 3)
    assert X.shape == (20_000, 3) and np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-15)
    # nested: the first rows do not depend on n
    assert np.array_equal(sample_sphere(np.random.default_rng(0), 5, 3), X[:5])
    # uniform on S^2: each coordinate is U(-1, 1) (Archimedes), mean 0, variance 1/3; E[x x^T] = I/3
    n = X.shape[0]
    assert np.all(np.abs(X.mean(axis=0)) < 5 * math.sqrt(1 / 3 / n))
    C = X.T @ X / n
    assert np.max(np.abs(C - np.eye(3) / 3)) < 5 * math.sqrt(4 / 45 / n)   # Var(x_1^2) = 1/5 - 1/9 = 4/45
    hist = np.histogram(X[:, 2], bins=10, range=(-1, 1))[0]
    assert np.all(np.abs(hist - n / 10) < 5 * math.sqrt(n / 10))
