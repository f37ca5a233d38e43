"""Extreme but finite inputs: rows of norm 1e±300 give the right answer after scale-safe
normalization, or one true error naming the fix (never NaN/inf kernels, never a false message)."""

from __future__ import annotations

import numpy as np
import pytest

import twolayer as tl
from twolayer._errors import InputError
from twolayer._validation import row_norms, unit_normalize
from twolayer.cli import main
from twolayer.estimators import unit_rows

RNG = np.random.default_rng(7)
X = RNG.standard_normal((25, 6))
Y = np.sign(RNG.standard_normal(25))
H_UNIT = tl.first_layer_ntk(X / np.linalg.norm(X, axis=1, keepdims=True))


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e-320, 1.0])
def test_row_norms_and_unit_normalize_are_scale_safe(scale):
    true = np.linalg.norm(X, axis=1)
    got = row_norms(X * scale)
    if scale >= 1e-300:     # 1e-320 rows are subnormal: their entries already lost digits
        np.testing.assert_allclose(got / scale, true, rtol=1e-14)
    U = unit_normalize(X * scale)
    # subnormal entries (1e-320) keep only ~4 digits: the direction is right to that precision
    np.testing.assert_allclose(U, X / true[:, None], **({"rtol": 1e-13} if scale >= 1e-300 else {"atol": 1e-3}))
    np.testing.assert_allclose(np.linalg.norm(U, axis=1), 1.0, rtol=1e-15)
    assert np.array_equal(unit_rows(X * scale), U)


@pytest.mark.parametrize("scale, word", [(1e300, "overflow"), (1e200, "overflow"), (1e-300, "underflow")])
def test_kernels_refuse_products_outside_float64_with_the_fix(scale, word):
    with pytest.raises(InputError, match=f"kernel values {word} float64.*unit_normalize"):
        tl.first_layer_ntk(X * scale)
    with pytest.raises(InputError, match=word):
        tl.two_layer_ntk(X * scale)
    # one side large, the other unit: the products fit, and the kernel is exactly homogeneous
    if scale == 1e200:
        np.testing.assert_allclose(tl.two_layer_ntk(X, X * scale) / scale, tl.two_layer_ntk(X), rtol=1e-13,
                                   atol=1e-15)


def test_moderate_scales_are_exact_and_homogeneous():
    # H(x, z) is homogeneous of degree 1 in each argument: H(sx, tz) = s t H(x, z)
    for s in (1e-100, 1e100):
        np.testing.assert_allclose(tl.first_layer_ntk(X * s) / (s * s), tl.first_layer_ntk(X), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_cli_gives_the_right_complexity_on_extreme_rows(tmp_path, capsys, scale):
    path = tmp_path / "x.npz"
    np.savez(path, X=X * scale, y=Y)
    assert main(["complexity", str(path), "--json"]) == 0
    import json

    got = json.loads(capsys.readouterr().out)["complexity"]
    want = tl.complexity(H_UNIT, Y).complexity
    assert got == pytest.approx(want, rel=1e-12)
