"""Large n on one machine: the self Gram in GEMM panels and the blocked Cholesky stay off the
large multithreaded DSYRK that crashes OpenBLAS (SIGSEGV) from n ≈ 15,000 at d = 784 on some
CPUs; checked against plain products and factorizations, and once end to end at n = 16,000."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from twolayer._linalg import cholesky_lower
from twolayer.kernels import first_layer_ntk, gram_upper_tiles


@pytest.mark.parametrize("n, panel", [(300, 64), (257, 64), (64, 64), (200, 1000)])
def test_gram_panels_equal_the_product_and_are_exactly_symmetric(n, panel):
    A = np.random.default_rng(n).standard_normal((n, 17))
    out = np.empty((n, n))
    gram_upper_tiles(A, out, panel=panel)
    np.testing.assert_allclose(out, A @ A.T, rtol=0, atol=1e-12)
    assert np.array_equal(out, out.T)


def test_kernel_built_in_panels_matches_the_one_call_build(monkeypatch):
    X = np.random.default_rng(1).standard_normal((500, 20))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    one = first_layer_ntk(X)
    import twolayer.kernels as K

    monkeypatch.setattr(K, "GRAM_PANEL_ROWS", 96)
    monkeypatch.setattr(K.gram_upper_tiles, "__defaults__", (96,))
    panels = first_layer_ntk(X)
    np.testing.assert_allclose(panels, one, rtol=0, atol=1e-13)
    assert np.array_equal(panels, panels.T) and np.all(np.diag(panels) == 0.5)


@pytest.mark.parametrize("n, block", [(700, 128), (513, 100), (50, 1024)])
def test_blocked_cholesky_is_the_cholesky_factor(n, block):
    rng = np.random.default_rng(n)
    A = rng.standard_normal((n, n // 2 + 3))
    M = A @ A.T / n + 0.1 * np.eye(n)
    c, lower = cholesky_lower(M, block=block, blocked_from=0)
    L = np.tril(c)
    assert lower and np.abs(L - np.linalg.cholesky(M)).max() < 1e-12
    M2 = M.copy()
    c2, _ = cholesky_lower(M2, overwrite=True, block=block, blocked_from=0)
    assert np.shares_memory(c2, M2) and np.array_equal(np.tril(c2), L)   # in place: no copy of the matrix
    bad = M.copy()
    bad[n // 2, n // 2] = -1.0
    with pytest.raises(np.linalg.LinAlgError, match="not positive definite"):
        cholesky_lower(bad, block=block, blocked_from=0)


BIG = textwrap.dedent("""
    import json, sys, time
    import numpy as np
    import twolayer as tl
    n, d = 16_000, 784
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)); X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.sign(rng.standard_normal(n))
    t = time.perf_counter()
    H = tl.first_layer_ntk(X)
    t_kernel = time.perf_counter() - t
    trace = float(np.trace(H))
    # an independent solve: conjugate gradients on H (well conditioned on the sphere S^783)
    x = np.zeros(n); r = y.copy(); p = r.copy(); rr = r @ r
    for it in range(200):
        Hp = H @ p; a = rr / (p @ Hp); x += a * p; r -= a * Hp; new = r @ r
        if np.sqrt(new) < 1e-11 * np.sqrt(y @ y): break
        p = r + (new / rr) * p; rr = new
    t = time.perf_counter()
    c = tl.complexity(H, y, method="dense")  # the blocked Cholesky path (auto would take CG here)
    t_chol = time.perf_counter() - t
    print(json.dumps({"trace": trace, "yHy": c.yHy, "yHy_cg": float(y @ x), "cg_iterations": it + 1,
                      "t_kernel": t_kernel, "t_complexity": t_chol}))
""")


@pytest.mark.slow
def test_n_16000_d_784_kernel_and_complexity_finish(tmp_path):
    r = subprocess.run([sys.executable, "-c", BIG], capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"exit {r.returncode} (a negative code is the signal, -11 = SIGSEGV): {r.stderr[-2000:]}"
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert got["trace"] == pytest.approx(8000.0, rel=1e-13)          # diagonal exactly 1/2 on unit rows
    assert got["yHy"] == pytest.approx(got["yHy_cg"], rel=1e-8)     # Cholesky vs CG, independent
