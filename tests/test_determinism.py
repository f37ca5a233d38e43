"""Same seed, same numbers, bit for bit: a point's BLAS thread count is fixed wherever it runs
(this process, a pool worker, a thread executor, a Dask worker) and across resumes."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pytest

from twolayer._errors import InputError
from twolayer.experiments import EXPERIMENTS, Experiment, register, reproduce
from twolayer.sweep import grid


@dataclass(frozen=True)
class _Cfg:
    seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2, 3)
    n: int = 600


def _point(params, seed_seq, *, n):
    """BLAS-heavy arithmetic whose last digits depend on the thread count: GEMM, Cholesky, solve."""
    import scipy.linalg as sla

    rng = np.random.default_rng(seed_seq)
    A = rng.standard_normal((n, n))
    H = A @ A.T / n + np.eye(n)
    y = rng.standard_normal(n)
    c = sla.cho_factor(H)
    x = sla.cho_solve(c, y)
    return [{"metric": "yHy", "value": float(y @ x)}, {"metric": "trace", "value": float(np.trace(H @ H))}], {"x": x}


def _run(cfg, ctx):
    results = ctx.sweep(functools.partial(_point, n=cfg.n), grid(seed=list(cfg.seeds)), seed=cfg.seed)
    rows = [dict(r, seed=res.params["seed"]) for res in results for r in res.rows]
    # set-up work outside the sweep runs under the same thread limit
    rows.append({"metric": "setup_norm", "value": float(np.linalg.norm(np.ones((cfg.n, cfg.n)) @ np.arange(cfg.n)))})
    ctx.rf.write_metrics(rows)


@pytest.fixture
def unit():
    register(Experiment(name="unit-determinism", summary="", config=_Cfg, run=_run, presets={"laptop": {}, "paper": {}},
                        grid_fields=("seeds",)))
    yield
    EXPERIMENTS.pop("unit-determinism")


def _metrics(run):
    return (run / "metrics.csv").read_bytes()


def test_bit_identical_across_jobs_executors_and_resume(unit, tmp_path):
    base = _metrics(reproduce("unit-determinism", out=tmp_path / "serial", quiet=True, formats=("png",)))
    two = _metrics(reproduce("unit-determinism", out=tmp_path / "jobs2", jobs=2, quiet=True, formats=("png",)))
    with ThreadPoolExecutor(2) as ex:
        threaded = _metrics(reproduce("unit-determinism", out=tmp_path / "thr", executor=ex, quiet=True,
                                      formats=("png",)))
    # resume: half the grid in a pool, the rest (one point left: runs in this process) later
    reproduce("unit-determinism", out=tmp_path / "resume", jobs=2, sets=["seeds=0,1,2"], quiet=True, formats=("png",))
    resumed = _metrics(reproduce("unit-determinism", out=tmp_path / "resume", jobs=2, quiet=True, formats=("png",)))
    assert base == two == threaded == resumed


def test_bit_identical_on_a_dask_cluster(unit, tmp_path):
    distributed = pytest.importorskip("distributed")
    base = _metrics(reproduce("unit-determinism", out=tmp_path / "serial", quiet=True, formats=("png",)))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cl, \
            distributed.Client(cl) as client:
        got = _metrics(reproduce("unit-determinism", out=tmp_path / "dask", executor=client.get_executor(),
                                 quiet=True, formats=("png",)))
    assert got == base


def test_another_thread_count_or_version_in_the_same_folder_is_refused(unit, tmp_path, monkeypatch):
    out = tmp_path / "r"
    reproduce("unit-determinism", out=out, quiet=True, formats=("png",), sets=["n=50"])
    with pytest.raises(InputError, match="threads_per_point"):
        reproduce("unit-determinism", out=out, quiet=True, formats=("png",), sets=["n=50"], threads=2)
    import twolayer

    monkeypatch.setattr(twolayer, "__version__", "99.0")
    with pytest.raises(InputError, match="twolayer_version"):
        reproduce("unit-determinism", out=out, quiet=True, formats=("png",), sets=["n=50"])


def _slow_point(params, seed_seq):
    import time

    time.sleep(30)
    return [{"metric": "x", "value": 1.0}], {}


def test_a_dask_sweep_whose_workers_are_gone_stops_with_a_message(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    import twolayer.sweep as S
    from twolayer.experiments import DaskExecutor
    from twolayer.sweep import ResultStore, run_sweep

    monkeypatch.setattr(S, "DEAD_CLUSTER_S", 3.0)
    monkeypatch.setattr(S, "_POLL_S", 0.5)
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cl, \
            distributed.Client(cl) as client:
        ex = DaskExecutor(client)
        assert ex.twolayer_alive()
        import threading

        threading.Timer(2.0, lambda: cl.scale(0)).start()      # every worker leaves mid-sweep
        with pytest.raises(InputError, match="no live workers for 3 s with 2 point"):
            run_sweep(_slow_point, grid(seed=[0, 1]), store=ResultStore(tmp_path / "s", {"x": 1}), root_seed=0,
                      executor=ex, progress=False)
