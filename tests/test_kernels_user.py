"""One name for every kernel (:func:`twolayer.kernels.resolve_kernel`) and the CLI's ``--kernel`` / deep ``--kind``.

A user kernel (an RBF in a temporary .py file, or an importable module) through ``complexity``,
``spectrum --json``, ``kernel --out`` and ``trajectory`` equals the direct numpy computation; every
bad spec or bad result is one line on stderr and exit 2, naming the problem; the deep kinds on the
CLI equal :func:`~twolayer.kernels.deep_ntk` / ``deep_nngp``.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

from twolayer import InputError
from twolayer import bounds as B
from twolayer import kernels as K
from twolayer import spectra as S
from twolayer.data import load
from twolayer.krylov import trajectory

from ._helpers import sphere
from .test_cli import run, run_json

DATA = ["sphere", "--opt", "n=40", "--opt", "d=5", "--opt", "target=linear"]

KERNEL_FILE = textwrap.dedent("""
    import numpy as np

    GAMMA = 0.7

    def rbf(X, Z=None):
        Z = X if Z is None else Z
        sq = (X * X).sum(1)[:, None] + (Z * Z).sum(1)[None, :] - 2.0 * X @ Z.T
        return np.exp(-GAMMA * np.maximum(sq, 0.0))

    def wrong_shape(X, Z=None):
        return np.ones((X.shape[0], X.shape[0] + 1))

    def not_symmetric(X, Z=None):
        Z = X if Z is None else Z
        return X @ np.triu(np.ones((X.shape[1], X.shape[1]))) @ Z.T

    def has_nan(X, Z=None):
        K = rbf(X, Z)
        K[3, 1] = np.nan
        return K

    def raises(X, Z=None):
        raise ValueError("gamma must be positive")

    def strings(X, Z=None):
        return [["a"] * X.shape[0]] * X.shape[0]
""")


def _rbf(X, Z=None, gamma=0.7):
    Z = X if Z is None else Z
    return np.exp(-gamma * np.sum((X[:, None, :] - Z[None, :, :]) ** 2, axis=-1))


@pytest.fixture
def kfile(tmp_path):
    path = tmp_path / "mykernels.py"
    path.write_text(KERNEL_FILE, encoding="utf-8")
    return path


def one_line_error(capsys, *argv, match: str):
    code, out, err = run(capsys, *argv)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("twolayer: error:"), (code, err)
    assert match in lines[0], lines[0]
    return lines[0]


# ============================================================================ Python
def test_resolve_kernel_names_the_table_the_deep_kernels_and_callables():
    X, Z = sphere(12, 4, 0), sphere(5, 4, 1)
    assert np.array_equal(K.resolve_kernel("two-layer")(X, Z), K.two_layer_ntk(X, Z))
    assert K.resolve_kernel("ntk").name == "two-layer"  # an alias
    f = K.resolve_kernel("deep-ntk", depth=2, b_std=0.1)
    assert f.family == "deep" and f.options == {"depth": 2, "w_std": np.sqrt(2.0), "b_std": 0.1}
    assert np.array_equal(f(X), K.deep_ntk(X, depth=2, b_std=0.1))
    g = K.resolve_kernel(_rbf)
    np.testing.assert_allclose(g(X), _rbf(X), rtol=1e-15)
    np.testing.assert_allclose(g(X, Z), _rbf(X, Z), rtol=1e-15)
    assert K.kernel_kinds()[-2:] == ("deep-ntk", "deep-nngp")


def test_resolve_kernel_loads_a_file_and_a_module(kfile, monkeypatch):
    X = sphere(10, 3, 2)
    f = K.resolve_kernel(f"{kfile}:rbf")
    np.testing.assert_allclose(f(X), _rbf(X), rtol=1e-13, atol=1e-15)
    assert np.array_equal(f(X), f(X).T)
    monkeypatch.syspath_prepend(str(kfile.parent))
    g = K.resolve_kernel("mykernels:rbf")
    np.testing.assert_allclose(g(X, X[:4]), _rbf(X, X[:4]), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("spec, options, match", [
    ("rbf", {}, "unknown kernel 'rbf'"),
    ("deep-ntk", {}, "needs depth"),
    ("deep-ntk", {"depth": 2, "gamma": 1.0}, "takes the options depth, w_std, b_std"),
    ("deep-nngp", {"depth": -1}, "depth must be"),
    ("two-layer", {"depth": 2}, "apply to the deep kernels"),
    ("no_such_module_xyz:rbf", {}, "cannot import module 'no_such_module_xyz'"),
    ("./nowhere/k.py:rbf", {}, "no such kernel file"),
    (":rbf", {}, "name both parts"),
    (42, {}, "a kernel is a name"),
])
def test_resolve_kernel_refuses_bad_specs(spec, options, match):
    with pytest.raises(InputError, match=match):
        K.resolve_kernel(spec, **options)


@pytest.mark.parametrize("name, match", [
    ("wrong_shape", "returned shape (9, 10), expected (9, 9)"),
    ("not_symmetric", "is not symmetric"),
    ("has_nan", "1 NaN or inf entries (first at [3, 1]"),
    ("raises", "raised ValueError: gamma must be positive"),
    ("strings", "not a real numeric array"),
])
def test_a_user_kernels_result_is_checked(kfile, name, match):
    with pytest.raises(InputError, match=match.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        K.resolve_kernel(f"{kfile}:{name}")(sphere(9, 3, 3))


# ============================================================================ CLI: user kernels
def test_cli_complexity_and_spectrum_of_a_user_kernel_equal_numpy(capsys, kfile):
    ds = load("sphere", n=40, d=5, target="linear")
    H = _rbf(ds.X)
    res = run_json(capsys, "complexity", *DATA, "--kernel", f"{kfile}:rbf")
    c = B.complexity(H, ds.y)
    assert res["kind"] == f"{kfile}:rbf"
    for key in ("complexity", "yHy", "lambda_min", "lambda_max"):
        assert res[key] == pytest.approx(getattr(c, key), rel=1e-9)
    sp = S.spectrum(H)
    res = run_json(capsys, "spectrum", *DATA, "--kernel", f"{kfile}:rbf")
    np.testing.assert_allclose(res["eigenvalues"], sp.eigenvalues, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(np.abs(res["projections"]), np.abs(sp.project(ds.y)), rtol=1e-7, atol=1e-9)
    assert res["trace"] == pytest.approx(40.0)  # k(x, x) = 1


def test_cli_kernel_out_and_trajectory_of_a_user_kernel(capsys, kfile, tmp_path, monkeypatch):
    ds = load("sphere", n=40, d=5, target="linear", n_test=7)
    monkeypatch.syspath_prepend(str(kfile.parent))
    out = tmp_path / "H.npy"
    res = run_json(capsys, "kernel", *DATA, "--n-test", "7", "--test", "--kernel", "mykernels:rbf", "--out", str(out),
                   "--dtype", "float32")
    G = np.load(out)
    assert res["kind"] == "mykernels:rbf" and G.dtype == np.float32 and G.shape == (40, 7)
    np.testing.assert_allclose(G, _rbf(ds.X, ds.X_test), rtol=6e-8, atol=1e-12)
    res = run_json(capsys, "trajectory", *DATA, "--kernel", f"{kfile}:rbf", "--lr", "0.01", "--steps", "0,10,100")
    want = trajectory(K.KernelOperator.from_matrix(_rbf(load("sphere", n=40, d=5, target="linear").X)),
                      load("sphere", n=40, d=5, target="linear").y, [0, 10, 100], 0.01)
    np.testing.assert_allclose(res["loss"], want.value, rtol=1e-8)
    assert res["storage"] == "dense64"


@pytest.mark.parametrize("spec, match", [
    ("rbf", "unknown kernel 'rbf'"),
    ("no_such_module_xyz:rbf", "cannot import module 'no_such_module_xyz'"),
    ("{dir}/missing.py:rbf", "no such kernel file"),
    ("{file}:nope", "has no function 'nope' (it defines"),
    ("{file}:GAMMA", "is a float, not a function"),
    ("{file}:wrong_shape", "returned shape (40, 41), expected (40, 40)"),
    ("{file}:not_symmetric", "is not symmetric"),
    ("{file}:has_nan", "NaN or inf entries"),
    ("{file}:raises", "raised ValueError"),
    ("{broken}:rbf", "failed (RuntimeError: boom)"),
])
def test_cli_bad_user_kernels_are_one_line_and_exit_2(capsys, kfile, spec, match):
    broken = kfile.parent / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n", encoding="utf-8")
    spec = spec.format(dir=kfile.parent, file=kfile, broken=broken)
    for verb in (["complexity"], ["spectrum", "--json"]):
        one_line_error(capsys, *verb, *DATA, "--kernel", spec, match=match)


@pytest.mark.parametrize("extra, match", [
    (["--kind", "two-layer", "--kernel", "a:b"], "--kernel and --kind both choose the kernel"),
    (["--kind", "deep-ntk"], "--kind deep-ntk needs --depth L"),
    (["--depth", "2"], "--depth applies to --kind deep-ntk / deep-nngp only"),
    (["--kind", "two-layer", "--w-std", "1", "--b-std", "0.1"], "--w-std, --b-std apply to"),
    (["--kernel", "{file}:rbf", "--depth", "2"], "not to a user kernel"),
    (["--kernel", "{file}:rbf", "--storage", "matrix-free"], "--storage matrix-free needs an arc-cosine --kind"),
    (["--kind", "deep-ntk", "--depth", "2", "--storage", "memmap"], "use --storage dense64 or dense32"),
    (["--kind", "deep-ntk", "--depth", "2", "--dask", "tcp://127.0.0.1:1"], "drop --dask"),
    (["--kind", "deep-ntk", "--depth", "-1"], "--depth: expected a non-negative integer"),
])
def test_cli_kernel_option_conflicts_are_one_line(capsys, kfile, extra, match):
    extra = [e.format(file=kfile) for e in extra]
    if "--dask" in extra or "--storage" in extra:
        one_line_error(capsys, "complexity", *DATA, *extra, match=match)
        return
    code, out, err = run(capsys, "complexity", *DATA, *extra)
    assert code == 2 and match in err, err


# ============================================================================ CLI: deep kernels
def test_cli_deep_kinds_equal_the_api(capsys, tmp_path):
    ds = load("sphere", n=40, d=5, target="linear")
    res = run_json(capsys, "complexity", *DATA, "--kind", "deep-ntk", "--depth", "3", "--b-std", "0.2",
                   "--w-std", "1.3")
    c = B.complexity(K.deep_ntk(ds.X, depth=3, w_std=1.3, b_std=0.2), ds.y)
    assert res["kind"] == "deep-ntk" and res["kernel_options"] == {"depth": 3, "w_std": 1.3, "b_std": 0.2}
    assert res["complexity"] == pytest.approx(c.complexity, rel=1e-10)
    res = run_json(capsys, "spectrum", *DATA, "--kind", "deep-nngp", "--depth", "2")
    sp = S.spectrum(K.deep_nngp(ds.X, depth=2))
    np.testing.assert_allclose(res["eigenvalues"], sp.eigenvalues, rtol=1e-10, atol=1e-13)
    assert res["kernel_options"]["w_std"] == pytest.approx(np.sqrt(2.0))
    res = run_json(capsys, "spectrum", *DATA, "--kind", "deep-ntk", "--depth", "2", "--method", "krylov", "--top", "3",
                   "--storage", "dense32")
    top = np.linalg.eigvalsh(K.deep_ntk(ds.X, depth=2))[::-1][:3]
    np.testing.assert_allclose(res["eigenvalues"], top, rtol=1e-6)
    assert res["storage"] == "dense32"
    out = tmp_path / "D.npy"
    run_json(capsys, "kernel", *DATA, "--kind", "deep-ntk", "--depth", "1", "--out", str(out))
    # depth 1 without bias: sigma_w^4/d times the project's two-layer NTK (here 4/5)
    # (atol: entries near 0 after cancellation carry one rounding of the O(1) terms)
    np.testing.assert_allclose(np.load(out), 4.0 / 5.0 * K.two_layer_ntk(ds.X), rtol=1e-13, atol=1e-15)
