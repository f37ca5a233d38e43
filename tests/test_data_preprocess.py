"""Class pairs, stratified subsamples and label noise (Arora et al. 2019, Figure 2 protocol)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twolayer._errors import InputError
from twolayer.data import apply_label_noise, binary_pair, stratified_subsample


# ----------------------------------------------------------------------------- binary_pair
def test_binary_pair_selects_and_maps():
    X = np.arange(12.0).reshape(6, 2)
    y = np.array([3, 1, 3, 7, 1, 2])
    Xp, yp = binary_pair(X, y, classes=(1, 3))
    np.testing.assert_array_equal(Xp, X[[0, 1, 2, 4]])
    np.testing.assert_array_equal(yp, [-1.0, 1.0, -1.0, 1.0])
    # first class against several others
    Xp, yp = binary_pair(X, y, classes=(7, 1, 2))
    np.testing.assert_array_equal(yp, [-1.0, 1.0, -1.0, -1.0])
    with pytest.raises(InputError, match="class\\(es\\) 9 not found.*labels present: 1, 2, 3, 7"):
        binary_pair(X, y, classes=(1, 9))
    with pytest.raises(InputError, match="distinct"):
        binary_pair(X, y, classes=(1, 1))
    with pytest.raises(InputError, match="at least two"):
        binary_pair(X, y, classes=(1,))
    with pytest.raises(InputError, match="one label per row"):
        binary_pair(X, y[:-1])


# ----------------------------------------------------------------------------- subsampling
def test_stratified_subsample_proportions_and_determinism():
    y = np.repeat([0, 1, 2], [600, 300, 100])
    idx = stratified_subsample(y, 100, 3)
    assert idx.size == 100 and np.unique(idx).size == 100
    assert np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(np.bincount(y[idx]), [60, 30, 10])
    np.testing.assert_array_equal(idx, stratified_subsample(y, 100, 3))
    np.testing.assert_array_equal(idx, stratified_subsample(y, 100, np.random.default_rng(3)))
    assert not np.array_equal(idx, stratified_subsample(y, 100, 4))
    np.testing.assert_array_equal(stratified_subsample(y, 1000, 0), np.arange(1000))
    with pytest.raises(InputError, match="cannot draw a subsample of 1001 from 1000"):
        stratified_subsample(y, 1001, 0)
    with pytest.raises(InputError, match="explicit seed"):
        stratified_subsample(y, 10, None)


def test_stratified_subsample_is_uniform_within_class():
    y = np.repeat([0, 1], [50, 50])
    hits = np.zeros(100)
    for s in range(400):
        hits[stratified_subsample(y, 10, s)] += 1
    # every sample has inclusion probability 5/50 = 0.1: 40 expected hits, sd ~ 6
    assert np.all(np.abs(hits - 40) < 30)
    assert abs(hits.mean() - 40) < 1e-12


@settings(max_examples=60, deadline=None)
@given(counts=st.lists(st.integers(1, 30), min_size=1, max_size=6), frac=st.floats(0.01, 1.0),
       seed=st.integers(0, 2**32 - 1))
def test_stratified_subsample_property(counts, frac, seed):
    y = np.repeat(np.arange(len(counts)) * 10 - 5, counts)
    N = y.size
    n = max(1, int(round(frac * N)))
    idx = stratified_subsample(y, n, seed)
    assert idx.size == n and np.unique(idx).size == n and idx.min() >= 0 and idx.max() < N
    got = np.array([np.sum(y[idx] == c) for c in np.unique(y)])
    exact = n * np.array(counts) / N
    assert np.all(got >= np.floor(exact)) and np.all(got <= np.ceil(exact))


# ----------------------------------------------------------------------------- label noise
def _labels(n, seed=0):
    return np.where(np.random.default_rng(seed).random(n) < 0.5, 1.0, -1.0)


@pytest.mark.parametrize("p,n", [(0.1, 1000), (0.25, 10), (0.05, 30), (0.5, 7), (1.0, 13)])
def test_label_noise_redraws_exactly_round_pn(p, n):
    y = _labels(n)
    y_new, idx = apply_label_noise(y, p, 11)
    k = int(np.floor(p * n + 0.5))
    assert idx.size == k and np.unique(idx).size == k
    outside = np.setdiff1d(np.arange(n), idx)
    np.testing.assert_array_equal(y_new[outside], y[outside])  # only the chosen positions change
    assert set(np.unique(y_new)) <= {-1.0, 1.0}
    assert y_new is not y
    np.testing.assert_array_equal(y, _labels(n))  # input not modified


def test_label_noise_p0_and_determinism():
    y = _labels(500)
    y0, idx0 = apply_label_noise(y, 0.0, 1)
    np.testing.assert_array_equal(y0, y)
    assert idx0.size == 0
    a, ia = apply_label_noise(y, 0.3, 5)
    b, ib = apply_label_noise(y, 0.3, np.random.default_rng(5))
    c, _ = apply_label_noise(y, 0.3, 6)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(ia, ib)
    assert not np.array_equal(a, c)


def test_label_noise_draws_are_fair_coins():
    n = 40_000
    y = _labels(n, seed=2)
    # p = 1: labels independent of the originals -> about half agree (sd 0.0025)
    y1, _ = apply_label_noise(y, 1.0, 3)
    assert abs(np.mean(y1 == y) - 0.5) < 0.015
    # among the redrawn positions about half keep their label; overall changes ~ p/2
    y2, idx = apply_label_noise(y, 0.4, 4)
    assert abs(np.mean(y2[idx] != y[idx]) - 0.5) < 0.02
    assert abs(np.mean(y2 != y) - 0.2) < 0.01
    # and the new labels are balanced even when the old ones are all +1
    y3, idx3 = apply_label_noise(np.ones(n), 0.5, 5)
    assert abs(np.mean(y3[idx3] == 1.0) - 0.5) < 0.02


def test_label_noise_rejects_bad_input():
    with pytest.raises(InputError, match=r"must be ±1 labels"):
        apply_label_noise(np.array([0.0, 1.0, 2.0]), 0.5, 0)
    with pytest.raises(InputError, match=r"in \[0, 1\]"):
        apply_label_noise(np.ones(4), 1.5, 0)
    with pytest.raises(InputError, match="explicit seed"):
        apply_label_noise(np.ones(4), 0.5, None)
