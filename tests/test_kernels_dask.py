"""The kernel operator on a Dask cluster (twolayer.dask_operator): bit-identical products, Krylov complexity
through it, one clear error for an unreachable scheduler or a lost worker, the CLI's --dask."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from twolayer import InputError
from twolayer.bounds import complexity
from twolayer.cli import main
from twolayer.kernels import KernelOperator, first_layer_ntk, make_operator

from ._helpers import sphere

distributed = pytest.importorskip("distributed")

from twolayer.dask_operator import (DaskKernelOperator, connect, estimate_worker_memory,  # noqa: E402
                                    make_dask_operator)

BLOCK = 64
#: Every cluster's HTTP server on a free port (``dashboard_address=None`` still binds 8787, and a second
#: cluster then warns, which the test suite turns into an error).
FREE_PORT = ":0"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=FREE_PORT) as cl:
        yield cl


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster) as c:
        yield c


def _data(n=500, d=8, seed=0):
    X = sphere(n, d, seed=seed) * np.random.default_rng(seed + 1).uniform(0.7, 1.4, n)[:, None]  # non-unit rows
    y = np.where(X[:, 0] + 0.3 * X[:, 1] >= 0, 1.0, -1.0)
    return X, y


def _reference(X, kind, storage):
    """The local operator with the same entries and block boundaries, built without the Dask module."""
    mf = make_operator(X, kind, "matrix-free", block_size=BLOCK, n_jobs=1)
    if storage != "dense32":
        return mf
    n = X.shape[0]
    H32 = mf.todense().astype(np.float32)
    return KernelOperator(n=n, storage="dense32", matrix=H32, kind=kind, unit_error=2.0**-24, n_jobs=1,
                          block_bytes=8 * n * BLOCK)


@pytest.mark.parametrize("storage", ["dense64", "dense32", "matrix-free"])
@pytest.mark.parametrize("kind", ["first-layer", "two-layer"])
def test_products_equal_the_local_operator_bit_for_bit(client, storage, kind):
    n = 450
    X, _ = _data(n)
    op = make_dask_operator(X, kind, storage, client=client, block_size=BLOCK)
    ref = _reference(X, kind, storage)
    assert isinstance(op, DaskKernelOperator) and op.shape == (n, n) and op.storage == storage
    assert len(op.owners) == 2 and sum(len(b) for _, b in op.owners) == -(-n // BLOCK)
    rng = np.random.default_rng(1)
    v, V = rng.standard_normal(n), rng.standard_normal((n, 3))
    assert np.array_equal(op.matvec(v), ref.matvec(v))
    assert np.array_equal(op.matmat(V), ref.matmat(V))
    assert np.array_equal(op.abs_matmat(V), ref.abs_matmat(V))
    assert np.array_equal(op.diagonal(), ref.diagonal())
    if storage != "dense64":  # dense64: the stored block rows; the local matrix-free recomputes a row alone
        idx = [0, 63, 64, 300, n - 1]
        assert np.array_equal(op.rows(idx), ref.rows(idx))
    # and the entries are the kernel's (within float32 rounding for dense32)
    H = first_layer_ntk(X) if kind == "first-layer" else make_operator(X, kind, "dense64").todense()
    tol = 2.0**-24 * np.abs(H).max() * 2 if storage == "dense32" else 1e-13 * np.abs(H).max()
    assert np.abs(op.todense() - H).max() <= tol
    e1 = op.matvec(np.eye(n)[7])
    assert np.array_equal(e1, op.rows([7])[0]) if storage != "matrix-free" else np.allclose(e1, op.rows([7])[0])
    op.close()
    with pytest.raises(InputError, match="closed"):
        op.matvec(v)


def test_worker_processes_over_tcp_give_the_same_bits():
    """Real worker processes (the data and the code pickled over TCP), as on a cluster of machines; arrays
    arrive there misaligned, where numpy would sum without BLAS (caught by this test)."""
    n = 300
    X, _ = _data(n)
    v, V = np.random.default_rng(4).standard_normal(n), np.random.default_rng(5).standard_normal((n, 2))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=FREE_PORT) as cl, \
            distributed.Client(cl) as c:
        assert cl.scheduler_address.startswith("tcp://")
        for storage in ("dense64", "dense32", "matrix-free"):
            op = make_dask_operator(X, "two-layer", storage, client=c, block_size=BLOCK)
            ref = _reference(X, "two-layer", storage)
            assert np.array_equal(op.matvec(v), ref.matvec(v)) and np.array_equal(op.matmat(V), ref.matmat(V))
            op.close()


def test_krylov_complexity_through_dask_equals_the_local_result_and_its_interval(client):
    n = 600
    X, y = _data(n, 6)
    H = first_layer_ntk(X)
    exact = complexity(H, y, method="dense").complexity
    for storage, rank in (("matrix-free", 0), ("dense32", 20)):
        op = make_dask_operator(X, storage=storage, client=client, block_size=BLOCK)
        ref = _reference(X, "first-layer", storage)
        got = complexity(op, y, method="krylov", tol=1e-8, precondition=rank)
        loc = complexity(ref, y, method="krylov", tol=1e-8, precondition=rank, mixed=False)  # as the cluster's product
        assert got.method == "krylov" and got.iterations == loc.iterations
        assert (got.complexity, got.complexity_lower, got.complexity_upper) == \
            (loc.complexity, loc.complexity_lower, loc.complexity_upper)
        slack = 1e-6 if storage == "dense32" else 1e-12  # float32 storage moves the exact value by ~u32 cond
        assert got.complexity_lower * (1 - slack) <= exact <= got.complexity_upper * (1 + slack)
        op.close()


def test_an_unreachable_scheduler_is_one_clear_error_quickly():
    t0 = time.monotonic()
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:1' within 2 s"):
        connect("tcp://127.0.0.1:1", timeout=2)
    assert time.monotonic() - t0 < 10
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        make_dask_operator(np.eye(3), address="tcp://127.0.0.1:1", connect_timeout=1)


def test_a_lost_worker_is_one_clear_error_not_a_hang():
    X, _ = _data(300)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=FREE_PORT) as cl, \
            distributed.Client(cl) as c:
        op = make_dask_operator(X, storage="dense64", client=c, block_size=BLOCK, poll=0.2)
        v = np.ones(300)
        first = op.matvec(v)
        assert np.all(np.isfinite(first))
        cl.scale(1)
        deadline = time.monotonic() + 10
        while len(c.scheduler_info(n_workers=-1)["workers"]) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        t0 = time.monotonic()
        with pytest.raises(InputError, match="lost 1 worker"):
            op.matvec(v)
        assert time.monotonic() - t0 < 10
        op.close()
        op2 = make_dask_operator(X, storage="matrix-free", client=c, block_size=BLOCK, poll=0.2)
        cl.close()  # the scheduler goes
        t0 = time.monotonic()
        with pytest.raises(InputError, match="scheduler is gone"):
            op2.matvec(v)
        assert time.monotonic() - t0 < 10
        op2.close()


def test_parts_survive_pickling_for_spilling_and_hand_over():
    """A worker may spill its part to disk or hand it to another worker: the kernel travels by name."""
    import pickle

    from twolayer.dask_operator import _Part
    from twolayer.kernels.arccos import _normalize

    X, _ = _data(100)
    Xn, norms = _normalize(X)
    V = np.random.default_rng(2).standard_normal((100, 2))
    for storage in ("dense64", "dense32", "matrix-free"):
        part = _Part("two-layer", Xn, norms, 16, [(16, 32), (32, 48)], storage, 2)
        back = pickle.loads(pickle.dumps(part))
        assert np.array_equal(back.product(V, False), part.product(V, False))


def test_memory_estimate_and_the_refusal_above_a_worker_limit(client):
    n, d = 400, 8
    e64, e32, emf = (estimate_worker_memory(n, d, s, 200, BLOCK) for s in ("dense64", "dense32", "matrix-free"))
    assert e64 - e32 == 4 * 200 * n and e32 - emf == 4 * 200 * n and emf >= 8 * n * d
    with pytest.raises(InputError, match="storage must be one of"):
        make_dask_operator(np.eye(4), storage="memmap", client=client)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=FREE_PORT,
                                  memory_limit=200_000) as cl, distributed.Client(cl) as c:
        X, _ = _data(n)
        with pytest.raises(InputError, match="above its memory limit"):
            make_dask_operator(X, storage="dense64", client=c)
        op = make_dask_operator(X, storage="auto", client=c, block_size=16)
        assert op.storage == "matrix-free" and "memory limit" in op.choice["reason"]
        op.close()


def test_the_cli_runs_complexity_spectrum_and_trajectory_on_the_cluster(cluster, capsys):
    addr = cluster.scheduler_address
    data = ["digits", "--n-train", "280", "--json"]

    def run(*argv):
        assert main(list(argv)) == 0
        return json.loads(capsys.readouterr().out)

    got = run("complexity", *data, "--dask", addr, "--tol", "1e-9")
    loc = run("complexity", *data, "--method", "dense")
    assert got["method"] == "krylov" and got["dask_workers"] == 2 and got["storage"] in ("dense64", "dense32")
    assert got["complexity"] == pytest.approx(loc["complexity"], rel=1e-7)
    assert got["complexity_lower"] <= loc["complexity"] * (1 + 1e-12)
    spec = run("spectrum", *data, "--dask", addr, "--storage", "matrix-free", "--top", "3")
    dense = run("spectrum", *data, "--method", "dense")
    assert spec["storage"] == "matrix-free" and spec["method"] == "krylov"
    assert np.allclose(spec["eigenvalues"], dense["eigenvalues"][:3], rtol=1e-9)
    tr = run("trajectory", *data, "--dask", addr, "--lr", "0.001", "--steps", "0,10,100")
    tl = run("trajectory", *data, "--storage", "dense64", "--lr", "0.001", "--steps", "0,10,100")
    assert np.allclose(tr["loss"], tl["loss"], rtol=1e-9)
    assert main(["complexity", "digits", "--n-train", "50", "--dask", addr, "--method", "dense"]) == 2
    assert "--dask apply to the Krylov path only" in capsys.readouterr().err


def test_the_cli_with_an_unreachable_scheduler_prints_one_line(capsys, monkeypatch):
    import twolayer.dask_operator as D

    monkeypatch.setattr(D, "CONNECT_TIMEOUT_S", 1)
    assert main(["complexity", "digits", "--n-train", "50", "--dask", "tcp://127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("twolayer: error: cannot reach the Dask scheduler"), err
