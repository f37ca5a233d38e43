"""The run folder's cache of H∞ and its eigendecomposition (``twolayer._cache``): computed once,
memory-mapped by later points and reruns, the same numbers."""

from __future__ import annotations

import numpy as np
import pytest

from twolayer import _cache
from twolayer.experiments import reproduce
from twolayer.experiments.arora2019 import _shared

SETS = ["n_train=40", "widths=50,100", "kappas=1.0", "steps=20"]


def test_a_rerun_reads_the_kernel_and_spectrum_from_the_cache_with_the_same_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(_cache, "CACHE_FROM", 10)
    _shared._prepared.cache_clear()
    first = reproduce("arora2019-movement", out=tmp_path / "run", sets=SETS, seeds=1, quiet=True, formats=("png",))
    files = sorted(p.name for p in (first / "cache").rglob("*") if p.is_file())
    assert files == ["H.npy", "K_test.none", "eigenvalues.npy", "eigenvectors.npy"]
    computed = _shared._prepared("digits", (0, 1), 40, 0, 0)
    _shared._prepared.cache_clear()
    calls = []
    import twolayer.kernels as K

    real = K.first_layer_ntk
    monkeypatch.setattr(K, "first_layer_ntk", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setenv(_cache.ENV, str(first / "cache"))
    again = _shared._prepared("digits", (0, 1), 40, 0, 0)
    assert not calls                                            # nothing recomputed
    assert isinstance(again[1], np.memmap) and not again[1].flags.writeable
    np.testing.assert_array_equal(again[1], computed[1])
    np.testing.assert_array_equal(again[2].eigenvalues, computed[2].eigenvalues)
    np.testing.assert_array_equal(again[2].eigenvectors, computed[2].eigenvectors)
    _shared._prepared.cache_clear()


def test_other_inputs_get_other_keys_and_small_matrices_are_not_cached(tmp_path, monkeypatch):
    X = np.arange(12.0).reshape(4, 3)
    assert _cache.digest(X, kernel="a") != _cache.digest(X + np.eye(4, 3), kernel="a")
    assert _cache.digest(X, kernel="a") != _cache.digest(X, kernel="b")
    monkeypatch.setenv(_cache.ENV, str(tmp_path))
    out = _cache.cached("k", ("A",), lambda: {"A": np.ones(3)}, rows=_cache.CACHE_FROM - 1)
    assert not isinstance(out["A"], np.memmap) and not any(tmp_path.iterdir())


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_a_damaged_cache_file_is_recomputed(tmp_path, monkeypatch, damage):
    monkeypatch.setenv(_cache.ENV, str(tmp_path))
    make = lambda: {"A": np.arange(6.0)}  # noqa: E731
    _cache.cached("k", ("A",), make, rows=_cache.CACHE_FROM)
    f = tmp_path / "k" / "A.npy"
    f.write_bytes(f.read_bytes()[:20] if damage == "truncate" else b"not an npy file")
    out = _cache.cached("k", ("A",), make, rows=_cache.CACHE_FROM)
    np.testing.assert_array_equal(out["A"], np.arange(6.0))
