"""Resumable sweeps: grid order, keys and seeds, parallel == serial, resume after Ctrl-C and kill -9,
fingerprints, corrupt files, exceptions, executors, the on-disk format."""

from __future__ import annotations

import io
import functools
import json
import multiprocessing
import os
import re
import signal
import struct
import subprocess
import sys
import textwrap
import threading
import time
import zipfile
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from twolayer import InputError
from twolayer import sweep
from twolayer.sweep import (
    PointResult,
    ResultStore,
    SweepWarning,
    grid,
    point_key,
    point_seed,
    run_sweep,
)

REPO = Path(__file__).resolve().parents[1]
FINGERPRINT = {"experiment": "test_sweep", "config": {"n": 6}, "version": 1}
SAFE_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+~-]*_[0-9a-f]{16}$")  # no leading . - ~


# ------------------------------------------------------------------------------ point functions
# Module level so that pool workers (fork or spawn) and the killed subprocess can import them.
def noisy_point(params, seed, log=None, sleep=0.0):
    """Draws from the seed it is given; optionally logs its key and sleeps."""
    if log is not None:
        with open(log, "a") as fh:
            fh.write(point_key(params) + "\n")
    if sleep:
        time.sleep(sleep)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(6) + params["noise"]
    rows = [{"metric": "mean", "value": float(x.mean()), **params},
            {"metric": "max", "value": np.float64(x.max()), "step": 3, **params}]
    arrays = {"x": x, "counts": rng.integers(0, 100, size=(2, 3)).astype(np.int32), "label": np.array(["a", "bc"])}
    return rows, arrays


CALLS: list[str] = []


def counting_point(params, seed, interrupt_at=None, fail_at=None):
    """noisy_point that records its calls (serial runs only) and can stop at the n-th call."""
    CALLS.append(point_key(params))
    if len(CALLS) == interrupt_at:
        raise KeyboardInterrupt
    if len(CALLS) == fail_at:
        raise ValueError("boom")
    return noisy_point(params, seed)


def fail_or_sleep(params, seed, bad, log, sleep):
    """Point ``bad`` fails once another worker has started; the others sleep ``sleep`` s."""
    with open(log, "a") as fh:
        fh.write(f"start {os.getpid()}\n")
    if params == bad:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(set(Path(log).read_text().split())) < 3:  # 'start' + 2 pids
            time.sleep(0.01)
        raise ValueError("boom")
    time.sleep(sleep)
    with open(log, "a") as fh:
        fh.write(f"end {os.getpid()}\n")
    return noisy_point(params, seed)


def threads_point(params, seed):
    from threadpoolctl import threadpool_info

    pools = [info["num_threads"] for info in threadpool_info()]
    return [{"omp": os.environ.get("OMP_NUM_THREADS"), "openblas": os.environ.get("OPENBLAS_NUM_THREADS"),
             "max_threads": max(pools, default=1), "n_pools": len(pools), "pid": os.getpid()}], {}


def thread_name_point(params, seed):
    rows, arrays = noisy_point(params, seed)
    rows[0]["thread"] = threading.current_thread().name
    return rows, arrays


def object_point(params, seed):
    return [], {"bad": np.array([{}, 1], dtype=object)}


def keyed_point(params, *, root):
    """A point that takes no seed: it draws from a purpose-keyed stream of its own ids."""
    from twolayer._seeds import rng

    x = rng(root, 21, params["seed"]).standard_normal(4)
    return [{"metric": "x0", "value": float(x[0]), **params}], {"x": x}


@pytest.fixture(autouse=True)
def _clear_calls():
    CALLS.clear()
    yield
    CALLS.clear()


def assert_same(a, b):
    """Same params, rows and arrays (values, dtypes, shapes), point by point."""
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        assert ra.params == rb.params
        assert ra.rows == rb.rows
        assert ra.arrays.keys() == rb.arrays.keys()
        for name in ra.arrays:
            assert ra.arrays[name].dtype == rb.arrays[name].dtype
            np.testing.assert_array_equal(ra.arrays[name], rb.arrays[name])


def reference(tmp_path, points, root_seed, name="reference"):
    """Uninterrupted serial sweep in a fresh folder."""
    return run_sweep(noisy_point, points, store=ResultStore(tmp_path / name, FINGERPRINT), root_seed=root_seed,
                     progress=False)


# ------------------------------------------------------------------------------ grid, keys, seeds
def test_grid_order_last_axis_fastest():
    assert grid(noise=[0, .5], seed=[0, 1]) == [
        {"noise": 0, "seed": 0}, {"noise": 0, "seed": 1}, {"noise": .5, "seed": 0}, {"noise": .5, "seed": 1}]
    g = grid(a=["x", "y"], b=range(3), c=(True,))
    assert [tuple(p.values()) for p in g] == [(a, b, True) for a in "xy" for b in range(3)]
    assert [list(p) for p in g] == [["a", "b", "c"]] * 6
    assert grid() == [{}]


def test_grid_converts_numpy_scalars():
    g = grid(noise=np.array([0.0, 0.25]), seed=np.arange(2), flag=[np.bool_(True)], name=[np.str_("mnist")])
    assert g[1] == {"noise": 0.0, "seed": 1, "flag": True, "name": "mnist"}
    assert [type(v) for v in g[1].values()] == [float, int, bool, str]


@pytest.mark.parametrize("axes, name", [
    ({"noise": []}, "noise"),
    ({"noise": "abc"}, "noise"),
    ({"seed": 5}, "seed"),
    ({"seed": {1, 2}}, "seed"),
    ({"seed": [[1], [2]]}, "seed"),
    ({"width": [1, 1]}, "width"),
    ({"width": np.zeros((2, 2))}, "width"),
    ({"c": [1j]}, "c"),
])
def test_grid_rejects_bad_axes(axes, name):
    with pytest.raises(InputError, match=f"'{name}'"):
        grid(ok=[1], **axes)


def test_point_key_is_stable_readable_and_safe():
    # golden value: changing it would orphan every stored result
    assert point_key({"noise": 0.5, "seed": 1}) == "noise-0.5_seed-1_6bd6a679e6290472"
    assert point_key({"seed": 1, "noise": 0.5}) == point_key({"noise": np.float64(0.5), "seed": np.int64(1)})
    assert point_key({"lr": 1e-05, "data": "mnist:/x y/z"}).startswith("data-mnist~x~y~z_lr-1e-05_")
    assert len({point_key({"v": v}) for v in (1, 1.0, True, "1", None, "null")}) == 6
    long = point_key({"name": "x" * 500})
    assert SAFE_KEY.match(long) and len(long) < 150
    assert point_key({".hidden": -1}).startswith("p.hidden--1_") and point_key({}).startswith("point_")
    with pytest.raises(InputError, match="'w'"):
        point_key({"w": [1, 2]})


_names = st.text(alphabet="ab ~_-.", min_size=1, max_size=3)       # readable parts collide often
_values = (st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=True)
           | st.text(alphabet="x y~_", max_size=3))


@given(st.lists(st.dictionaries(_names, _values, max_size=3), max_size=12))
def test_point_key_unique_for_distinct_params(points):
    canon = {json.dumps(p, sort_keys=True) for p in points}
    keys = {point_key(p) for p in points}
    assert len(keys) == len(canon)
    assert all(SAFE_KEY.match(k) for k in keys)


def test_point_seed_depends_only_on_root_and_params():
    assert point_seed(0, {"noise": 0.5, "seed": 1}).generate_state(2).tolist() == [3594897964, 3719243135]
    state = lambda root, p: tuple(point_seed(root, p).generate_state(4))  # noqa: E731
    big = grid(noise=[0.0, 0.2, 0.4, 0.6], seed=range(25))
    swapped = grid(seed=range(25), noise=[0.0, 0.2, 0.4, 0.6])           # other axis order, other point order
    assert {state(9, p) for p in big} == {state(9, p) for p in swapped}
    assert state(9, {"noise": 0.4, "seed": 7}) == state(9, {"seed": 7, "noise": 0.4}) \
        == [state(9, p) for p in big if p == {"noise": 0.4, "seed": 7}][0]
    assert len({state(9, p) for p in big}) == 100                          # distinct params, distinct seeds
    assert state(9, big[0]) != state(10, big[0])
    assert point_seed(9, big[3]).entropy == 9
    with pytest.raises(InputError, match="root seed"):
        point_seed(-1, big[0])


@given(st.dictionaries(_names, _values, max_size=3), st.dictionaries(_names, _values, max_size=3))
def test_point_seed_distinct_for_distinct_params(p, q):
    if json.dumps(p, sort_keys=True) != json.dumps(q, sort_keys=True):
        assert tuple(point_seed(0, p).generate_state(4)) != tuple(point_seed(0, q).generate_state(4))


# ------------------------------------------------------------------------------ store
def test_save_load_roundtrip(tmp_path):
    store = ResultStore(tmp_path / "s", FINGERPRINT)
    result = PointResult({"noise": np.float64(0.5), "seed": np.int64(1)},
                         [{"metric": "m", "value": np.float32(0.25), "t": (1, 2)}],
                         {"a": np.arange(6.0).reshape(2, 3).T, "file": np.int8(3)}, 1.2345678901234567)
    path = store.save(result)
    assert path == tmp_path / "s" / f"{point_key({'seed': 1, 'noise': 0.5})}.npz"
    assert store.has({"seed": 1, "noise": 0.5}) and not store.has({"seed": 2, "noise": 0.5})
    back = store.load({"noise": 0.5, "seed": 1})
    assert back.params == {"noise": 0.5, "seed": 1} and type(back.params["seed"]) is int
    assert back.rows == [{"metric": "m", "value": 0.25, "t": [1, 2]}]
    assert back.seconds == 1.2345678901234567
    np.testing.assert_array_equal(back.arrays["a"], np.arange(6.0).reshape(2, 3).T)
    assert back.arrays["file"].shape == () and back.arrays["file"].dtype == np.int8
    assert store.completed() == [{"noise": 0.5, "seed": 1}]
    with pytest.raises(KeyError):
        store.load({"noise": 0.5, "seed": 2})
    assert json.loads((tmp_path / "s" / "fingerprint.json").read_text()) == FINGERPRINT


def test_point_file_is_a_plain_npz_without_pickle(tmp_path):
    store = ResultStore(tmp_path / "s", FINGERPRINT)
    p = {"noise": 0.5, "seed": 1}
    (result,) = run_sweep(noisy_point, [p], store=store, root_seed=3, progress=False)
    with np.load(store.path(p), allow_pickle=False) as z:
        assert set(z.files) == {"_sweep_meta", "x", "counts", "label"}
        meta = json.loads(z["_sweep_meta"].tobytes().decode())
        np.testing.assert_array_equal(z["x"], result.arrays["x"])
        assert z["label"].tolist() == ["a", "bc"]
    assert meta["params"] == p and meta["rows"] == result.rows and meta["seconds"] == result.seconds
    assert meta["seed"] == {"root": 3, "spawn_key": list(point_seed(3, p).spawn_key)}
    with pytest.raises(InputError, match="object"):
        run_sweep(object_point, [{"seed": 0}], store=store, root_seed=3, progress=False)
    assert not store.has({"seed": 0})


def test_different_fingerprint_is_refused_with_the_fix(tmp_path):
    fp = {"experiment": "fig2", "config": {"width": 100, "lr": 0.1}, "version": "0.1.0"}
    folder = tmp_path / "out"
    run_sweep(noisy_point, grid(noise=[0.0], seed=[0]), store=ResultStore(folder, fp), root_seed=0, progress=False)
    stored = (folder / "fingerprint.json").read_text()
    ResultStore(folder, {"version": "0.1.0", "config": {"lr": 0.1, "width": 100}, "experiment": "fig2"})  # same
    with pytest.raises(InputError) as info:
        ResultStore(folder, {**fp, "config": {"width": 200, "lr": 0.1}})
    msg = str(info.value)
    assert "different configuration" in msg and "config.width" in msg and "100" in msg and "200" in msg
    assert "--out" in msg and "delete the folder" in msg and "lr" not in msg
    with pytest.raises(InputError, match="extra"):
        ResultStore(folder, {**fp, "extra": 1})
    assert (folder / "fingerprint.json").read_text() == stored
    (folder / "fingerprint.json").write_text("{not json")
    with pytest.raises(InputError, match="unreadable.*delete the folder"):
        ResultStore(folder, fp)
    (folder / "fingerprint.json").unlink()
    with pytest.raises(InputError, match="no fingerprint.json.*delete the folder"):
        ResultStore(folder, fp)


@pytest.mark.parametrize("damage", ["truncate", "empty", "flip"])
def test_corrupt_point_file_is_warned_about_and_recomputed(tmp_path, damage):
    points = grid(noise=[0.0, 0.5], seed=[0, 1])
    store = ResultStore(tmp_path / "s", FINGERPRINT)
    ref = run_sweep(noisy_point, points, store=store, root_seed=5, progress=False)
    victim = store.path(points[1])
    raw = bytearray(victim.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "empty":
        raw = bytearray()
    else:  # one byte in the middle of the compressed data of array x: only the CRC-32 can tell
        with zipfile.ZipFile(victim) as zf:
            info = zf.getinfo("x.npy")
        name_len, extra_len = struct.unpack("<HH", raw[info.header_offset + 26: info.header_offset + 30])
        raw[info.header_offset + 30 + name_len + extra_len + info.compress_size // 2] ^= 0xFF
    victim.write_bytes(bytes(raw))
    with pytest.warns(SweepWarning, match=re.escape(victim.name)):
        assert not store.has(points[1])
    with pytest.warns(SweepWarning, match=re.escape(victim.name)):
        again = run_sweep(counting_point, points, store=ResultStore(tmp_path / "s", FINGERPRINT), root_seed=5,
                          progress=False)
    assert CALLS == [point_key(points[1])]
    assert_same(again, ref)
    assert store.has(points[1])  # repaired, no warning now


def test_misplaced_point_files_are_not_trusted(tmp_path):
    points = grid(noise=[0.0, 0.5], seed=[0])
    other = ResultStore(tmp_path / "other", {**FINGERPRINT, "config": {"n": 7}})
    run_sweep(noisy_point, points, store=other, root_seed=0, progress=False)
    store = ResultStore(tmp_path / "s", FINGERPRINT)
    run_sweep(noisy_point, points[:1], store=store, root_seed=0, progress=False)
    store.path(points[1]).write_bytes(store.path(points[0]).read_bytes())     # a file renamed to another point
    store.path(points[0]).write_bytes(other.path(points[0]).read_bytes())     # made under another fingerprint
    with pytest.warns(SweepWarning):
        assert store.completed() == []
    with pytest.warns(SweepWarning) as record:
        res = run_sweep(counting_point, points, store=store, root_seed=0, progress=False)
    messages = " ".join(str(w.message) for w in record)
    assert "different fingerprint" in messages and "not the one its name says" in messages
    assert CALLS == [point_key(p) for p in points]
    assert_same(res, reference(tmp_path, points, root_seed=0))


# ------------------------------------------------------------------------------ running
def test_parallel_equals_serial_and_uses_the_point_seed(tmp_path):
    points = grid(noise=[0.0, 0.5, 1.0], seed=[0, 1, 2])
    serial = reference(tmp_path, points, root_seed=11)
    parallel = run_sweep(noisy_point, points, store=ResultStore(tmp_path / "par", FINGERPRINT), root_seed=11, jobs=2,
                         progress=False)
    assert_same(serial, parallel)
    for p, r in zip(points, serial):
        rows, arrays = noisy_point(p, point_seed(11, p))
        np.testing.assert_array_equal(r.arrays["x"], arrays["x"])
        assert r.rows[1]["value"] == float(rows[1]["value"]) and r.params == p and r.seconds > 0
    assert len({r.arrays["x"].tobytes() for r in serial}) == len(points)


def test_spawn_process_executor_gives_the_same_results_and_stays_open(tmp_path):
    points = grid(noise=[0.0, 1.0], seed=[0, 1])
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        spawned = run_sweep(noisy_point, points, store=ResultStore(tmp_path / "sp", FINGERPRINT), root_seed=4,
                            executor=ex, progress=False)
        assert ex.submit(abs, -3).result() == 3
    assert_same(spawned, reference(tmp_path, points, root_seed=4))


def test_thread_executor_is_used_and_not_shut_down(tmp_path):
    points = grid(noise=[0.0, 1.0], seed=[0, 1, 2])
    with ThreadPoolExecutor(2, thread_name_prefix="sweeptest") as ex:
        res = run_sweep(thread_name_point, points, store=ResultStore(tmp_path / "t", FINGERPRINT), root_seed=2,
                        executor=ex, jobs=1, progress=False)
        assert ex.submit(abs, -3).result() == 3
    assert all(r.rows[0].pop("thread").startswith("sweeptest") for r in res)
    assert_same(res, reference(tmp_path, points, root_seed=2))


def test_pool_workers_limit_blas_threads(tmp_path):
    env_before = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    res = run_sweep(threads_point, grid(seed=[0, 1, 2]), store=ResultStore(tmp_path / "t", FINGERPRINT),
                    root_seed=0, jobs=2, threads_per_point=1, progress=False)
    for r in res:
        (row,) = r.rows
        assert row["pid"] != os.getpid()
        assert row["omp"] == "1" and row["openblas"] == "1"
        assert row["n_pools"] >= 1 and row["max_threads"] == 1
    assert {k: os.environ.get(k) for k in env_before} == env_before  # limits apply in the workers only


def test_bad_arguments_are_refused_before_any_work(tmp_path):
    store = ResultStore(tmp_path / "s", FINGERPRINT)
    with pytest.raises(InputError, match="twice"):
        run_sweep(counting_point, [{"seed": 1}, {"seed": np.int64(1)}], store=store, root_seed=0)
    for bad in ({"jobs": 0}, {"jobs": True}, {"jobs": 1.5}, {"threads_per_point": 0}, {"root_seed": -2}):
        with pytest.raises(InputError, match=next(iter(bad)).replace("_", "[_ ]")):
            run_sweep(counting_point, [{"seed": 1}], store=store, **{"root_seed": 0, **bad})
    with pytest.raises(InputError, match="top-level function"):
        run_sweep(lambda p, s: ([], {}), [{"seed": 1}], store=store, root_seed=0, jobs=2)
    assert CALLS == [] and store.completed() == []


def test_other_root_seed_is_refused(tmp_path):
    points = grid(noise=[0.0], seed=[0, 1])
    run_sweep(noisy_point, points, store=ResultStore(tmp_path / "s", FINGERPRINT), root_seed=1, progress=False)
    with pytest.raises(InputError, match=r"root seed 1 .*root seed 2"):
        run_sweep(counting_point, points, store=ResultStore(tmp_path / "s", FINGERPRINT), root_seed=2)
    assert CALLS == []


def test_resume_after_keyboard_interrupt(tmp_path):
    points = grid(noise=[0.0, 0.5], seed=[0, 1, 2])
    keys = [point_key(p) for p in points]
    folder = tmp_path / "s"
    with pytest.raises(KeyboardInterrupt) as info:
        run_sweep(functools.partial(counting_point, interrupt_at=3), points, store=ResultStore(folder, FINGERPRINT),
                  root_seed=3, progress=False)
    assert not getattr(info.value, "__notes__", None)
    assert CALLS == keys[:3]
    assert sorted(p.name for p in folder.glob("*.npz")) == sorted(f"{k}.npz" for k in keys[:2])
    store = ResultStore(folder, FINGERPRINT)
    assert store.completed() == sorted(points[:2], key=point_key)
    seconds = [store.load(p).seconds for p in points[:2]]

    CALLS.clear()
    resumed = run_sweep(counting_point, points, store=store, root_seed=3, progress=False)
    assert CALLS == keys[2:]
    assert [r.seconds for r in resumed[:2]] == seconds
    assert_same(resumed, reference(tmp_path, points, root_seed=3))


def test_exception_in_a_point_keeps_earlier_points_and_names_the_point(tmp_path):
    points = grid(noise=[0.0, 0.5], seed=[0, 1])
    store = ResultStore(tmp_path / "s", FINGERPRINT)
    with pytest.raises(ValueError, match="boom") as info:
        run_sweep(functools.partial(counting_point, fail_at=3), points, store=store, root_seed=0, progress=False)
    assert any(repr(points[2]) in note for note in info.value.__notes__)
    assert CALLS == [point_key(p) for p in points[:3]]        # serial: the 4th never started
    assert store.completed() == sorted(points[:2], key=point_key)


def test_exception_in_a_pool_stops_the_running_points(tmp_path):
    log = tmp_path / "log.txt"
    points = grid(seed=range(6))
    func = functools.partial(fail_or_sleep, bad=points[0], log=str(log), sleep=5.0)
    t0 = time.monotonic()
    with pytest.raises(ValueError, match="boom") as info:
        run_sweep(func, points, store=ResultStore(tmp_path / "s", FINGERPRINT), root_seed=0, jobs=2, progress=False)
    assert time.monotonic() - t0 < 4.0
    assert any("{'seed': 0}" in note for note in info.value.__notes__)
    pids = {int(w.split()[1]) for w in log.read_text().splitlines() if w.startswith("start")}
    assert len(pids) == 2
    assert _wait_gone(pids, timeout=3.0), "the sleeping worker was not stopped"
    assert "end" not in log.read_text()
    assert ResultStore(tmp_path / "s", FINGERPRINT).completed() == []


def test_one_sweep_at_a_time_per_folder(tmp_path):
    pytest.importorskip("fcntl")
    folder = tmp_path / "s"
    store = ResultStore(folder, FINGERPRINT)
    with subprocess.Popen(
            [sys.executable, "-c", "import fcntl, os, sys\n"
             "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.lockf(fd, fcntl.LOCK_EX)\n"
             "os.write(fd, b'4242 otherhost'); print('locked', flush=True); sys.stdin.read()",
             str(folder / ".sweep.lock")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        try:
            assert holder.stdout.readline().strip() == "locked"
            with pytest.raises(InputError, match="sweep folder .* is in use by 4242 otherhost"):
                run_sweep(counting_point, [{"noise": 0.0}], store=store, root_seed=0)
            assert CALLS == []
        finally:
            holder.stdin.close()
            holder.wait(timeout=10)
    run_sweep(counting_point, [{"noise": 0.0}], store=store, root_seed=0, progress=False)
    assert len(CALLS) == 1

    def nested(params, seed):  # a second sweep into the same folder from this process
        return run_sweep(noisy_point, [params], store=store, root_seed=0, progress=False)[0].rows, {}
    with pytest.raises(InputError, match="in use by this process"):
        run_sweep(nested, [{"noise": 1.0}], store=store, root_seed=0, progress=False)


def test_progress_counts_stored_points_as_done(tmp_path, monkeypatch):
    import twolayer.sweep as sweep_module

    calls = []

    class Bar:
        def __call__(self, step, total, loss=None):
            calls.append((step, total))

        def close(self):
            calls.append("close")

    def fake_progress_bar(total, desc="", enabled=True, stream=None, reused=0):
        calls.append((desc, total, enabled))
        return Bar()

    monkeypatch.setattr(sweep_module, "progress_bar", fake_progress_bar)
    points = grid(noise=[0.0], seed=range(4))
    store = ResultStore(tmp_path / "s", FINGERPRINT)
    run_sweep(noisy_point, points[:1], store=store, root_seed=0, progress=False)
    assert calls == [("points", 1, False), (0, 1), (1, 1), "close"]
    calls.clear()
    run_sweep(noisy_point, points, store=store, root_seed=0, jobs=2, desc="fig2")
    assert calls == [("fig2", 4, True), (1, 4), (2, 4), (3, 4), (4, 4), "close"]


# ------------------------------------------------------------------------------ kill -9
def _state(pid: int) -> str | None:
    """Linux process state letter, or None when the process is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _wait_gone(pids, timeout: float) -> bool:
    if not Path("/proc/self/stat").exists():
        return True  # cannot tell off Linux
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(_state(p) in (None, "Z") for p in pids):
            return True
        time.sleep(0.02)
    return False


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_resume_after_sigkill(tmp_path):
    folder, log1, log2 = tmp_path / "s", tmp_path / "log1.txt", tmp_path / "log2.txt"
    points = grid(noise=[0.0, 0.5, 1.0], seed=[0, 1, 2, 3])
    keys = {point_key(p) for p in points}
    script = textwrap.dedent(f"""
        import functools
        from tests.test_sweep import FINGERPRINT, noisy_point
        from twolayer.sweep import ResultStore, run_sweep
        run_sweep(functools.partial(noisy_point, log={str(log1)!r}, sleep=0.25), {points!r},
                  store=ResultStore({str(folder)!r}, FINGERPRINT), root_seed=7, jobs=2, progress=False)
    """)
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, stdout=subprocess.DEVNULL, stderr=err)
    workers = []
    try:
        deadline = time.monotonic() + 60
        while len(list(folder.glob("*.npz"))) < 2:
            assert proc.poll() is None, (tmp_path / "stderr.txt").read_text()
            assert time.monotonic() < deadline, "the sweep did not start"
            time.sleep(0.01)
        workers = _children(proc.pid)
        started = log1.read_text().split()
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
        saved = list(folder.glob("*.npz"))
        # orphaned pool workers notice the parent is gone and leave
        assert _wait_gone(workers, timeout=5.0), "pool workers outlived the killed sweep"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in workers:
            if _state(pid) not in (None, "Z"):
                os.kill(pid, signal.SIGKILL)

    before = {p.name[:-4] for p in folder.glob("*.npz")}
    assert 2 <= len(before) < len(points), "the kill came too late to test anything"
    # results were saved as they came, not at the end: only the points in flight were unsaved
    assert len(started) <= len(saved) + 4
    assert {point_key(p) for p in ResultStore(folder, FINGERPRINT).completed()} == before  # all complete, no warning
    (folder / f".{sorted(keys - before)[0]}.npz.x1y2z3ab.tmp").write_bytes(b"half-written")  # a write cut short

    resumed = run_sweep(functools.partial(noisy_point, log=str(log2)), points,
                        store=ResultStore(folder, FINGERPRINT), root_seed=7, jobs=2, progress=False)
    recomputed = Counter(log2.read_text().split())
    assert set(recomputed) == keys - before and set(recomputed.values()) == {1}
    assert_same(resumed, reference(tmp_path, points, root_seed=7))
    assert {p.name for p in folder.iterdir()} == {"fingerprint.json", ".sweep.lock"} | {f"{k}.npz" for k in keys}


def _point_with_inner_bar(params, seed):
    from twolayer._progress import step_progress

    bar = step_progress(10, f"inner {params['x']}")
    for k in range(1, 11):
        bar(k, 10, 0.5)
    bar.close()
    return [{"metric": "x", "value": float(params["x"])}], {}


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_inner_progress_bars_only_for_points_run_here(tmp_path, monkeypatch):
    """A point's own bar (e.g. over GD steps) shows when the sweep runs it in this process with
    progress on, and never when progress is off or outside a sweep."""
    monkeypatch.setitem(sys.modules, "tqdm", None)  # the plain text bar, whatever is installed
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    fake = _Tty()
    monkeypatch.setattr(sys, "stderr", fake)
    pts = sweep.grid(x=[1, 2])
    sweep.run_sweep(_point_with_inner_bar, pts, store=sweep.ResultStore(tmp_path / "a", {"k": 1}), root_seed=0)
    assert "inner 1" in fake.getvalue() and "inner 2" in fake.getvalue() and "10/10" in fake.getvalue()
    fake.seek(0)
    fake.truncate()
    sweep.run_sweep(_point_with_inner_bar, pts, store=sweep.ResultStore(tmp_path / "b", {"k": 1}), root_seed=0,
                    progress=False)
    _point_with_inner_bar({"x": 3}, None)
    assert "inner" not in fake.getvalue()


# ------------------------------------------------------------------------------ point functions without a seed
class _Called:
    def __call__(self, params, seed):
        return [], {}


def test_takes_seed_reads_the_positional_parameters():
    assert sweep.takes_seed(noisy_point) and sweep.takes_seed(lambda params, seed: None)
    assert sweep.takes_seed(lambda *args: None) and sweep.takes_seed(_Called())
    assert not sweep.takes_seed(functools.partial(keyed_point, root=0))
    assert not sweep.takes_seed(lambda params: None)
    assert sweep.takes_seed(functools.partial(noisy_point, log=None))
    with pytest.raises(InputError, match="no positional parameter"):
        sweep.takes_seed(lambda *, params: None)


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_point_without_a_seed_is_called_with_its_params_only(tmp_path, jobs):
    """Its numbers come from (root, its own ids) alone: the same in any grid, order, jobs or root
    seed of the sweep; the sweep's seed is still recorded, so a resume with another one is refused."""
    func = functools.partial(keyed_point, root=7)
    store = ResultStore(tmp_path / "s", FINGERPRINT)
    res = run_sweep(func, grid(seed=[0, 1, 2]), store=store, root_seed=3, jobs=jobs, progress=False)
    other = run_sweep(func, grid(seed=[2, 0]), store=ResultStore(tmp_path / "o", FINGERPRINT), root_seed=99,
                      progress=False)
    from twolayer._seeds import rng

    for r in res:
        np.testing.assert_array_equal(r.arrays["x"], rng(7, 21, r.params["seed"]).standard_normal(4))
    assert [o.arrays["x"].tolist() for o in other] == [res[2].arrays["x"].tolist(), res[0].arrays["x"].tolist()]
    with pytest.raises(InputError, match="root seed"):
        run_sweep(func, grid(seed=[0, 1, 2]), store=store, root_seed=4, progress=False)


# ----------------------------------------------------------------------------- in-point checkpoints
_TRAIN_LOG: list = []


def _training_point(params, *, interrupt_at=None):
    """A point whose work is a training run made resumable by ``experiments._common.checkpointing``."""
    from twolayer.dynamics import train
    from twolayer.experiments._common import checkpointing
    from twolayer.networks import init_network

    X = np.random.default_rng(0).standard_normal((20, 4))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = np.sign(X[:, 0])
    net = init_network("arora", 4, 32, seed=int(params["seed"]))

    def progress(k, steps, loss):
        _TRAIN_LOG.append(k)
        if k == interrupt_at:
            raise KeyboardInterrupt

    kw = checkpointing()
    kw["checkpoint_every"] = 10
    res = train(net, X, y, lr=0.2, steps=60, n_records=5, progress=progress, **kw)
    return [{"metric": "loss", "value": float(res.metrics["loss"][0, -1])}], {"W": res.network.W}


def test_a_killed_point_continues_from_its_checkpoint_and_cleans_it_up(tmp_path):
    from twolayer.sweep import CHECKPOINT_DIR

    clean = run_sweep(_training_point, [{"seed": 1}], store=ResultStore(tmp_path / "a", {"v": 1}), root_seed=0,
                      progress=False)
    store = ResultStore(tmp_path / "b", {"v": 1})
    with pytest.raises(KeyboardInterrupt):
        run_sweep(functools.partial(_training_point, interrupt_at=37), [{"seed": 1}], store=store, root_seed=0,
                  progress=False)
    ck = list((tmp_path / "b" / CHECKPOINT_DIR).glob("*.npz"))
    assert len(ck) == 1                                   # the point's checkpoint at step 30 survived
    _TRAIN_LOG.clear()
    again = run_sweep(_training_point, [{"seed": 1}], store=store, root_seed=0, progress=False)
    assert _TRAIN_LOG[0] == 31                            # resumed after step 30, not from scratch
    np.testing.assert_array_equal(again[0].arrays["W"], clean[0].arrays["W"])
    assert again[0].rows[0]["value"] == clean[0].rows[0]["value"]
    assert not ck[0].exists()                             # deleted once the result was stored
    # outside a sweep the helper asks for nothing
    from twolayer.experiments._common import checkpointing
    assert checkpointing() == {}


def test_a_finished_point_does_not_pull_the_checkpoint_folder_from_under_a_running_one(tmp_path, monkeypatch):
    """The interleaving a pooled sweep produced on CI: worker B has made ``.checkpoints/`` and is
    about to write its file when the main process stores point A and drops A's checkpoint. Dropping
    A's must not remove the folder B writes into (it did: B failed with FileNotFoundError)."""
    import tempfile

    from twolayer.dynamics import checkpoint as ckmod
    from twolayer.sweep import CHECKPOINT_DIR, _checkpoint_path, _drop_checkpoint

    store = ResultStore(tmp_path / "s", {"v": 1})
    real = tempfile.mkstemp

    def finish_a_first(*args, **kw):
        _drop_checkpoint(store, "a" * 16)   # the main process, between B's mkdir and B's temporary file
        return real(*args, **kw)

    monkeypatch.setattr(tempfile, "mkstemp", finish_a_first)
    b = _checkpoint_path(store, "b" * 16)
    ckmod.save(b, {"x": np.arange(3.0)}, {"step": 1})
    assert b.exists()
    monkeypatch.undo()
    # the folder goes once the whole sweep is done
    run_sweep(_training_point, [{"seed": 1}, {"seed": 2}], store=store, root_seed=0, progress=False)
    _drop_checkpoint(store, "b" * 16)
    # a writer killed mid-write (SIGKILL) leaves its temporary there: the finished sweep removes it too
    (store.directory / CHECKPOINT_DIR / ".0123456789abcdef.npz.k2j3h4.tmp").write_bytes(b"half")
    run_sweep(_training_point, [{"seed": 1}, {"seed": 2}], store=store, root_seed=0, progress=False)
    assert not (store.directory / CHECKPOINT_DIR).exists()


def test_reused_points_are_counted_and_reported(tmp_path, capsys, monkeypatch):
    """Points stored by an earlier run are reported as reused (stderr and ``store.reused``), and a
    plain-line bar counts them as done but not into its ETA."""
    from twolayer.sweep import grid, run_sweep

    store = ResultStore(tmp_path / "s", FINGERPRINT)
    run_sweep(noisy_point, grid(noise=[0.0, 0.5], seed=[0, 1, 2]), store=store, root_seed=0, progress=False)
    assert store.reused == (0, 6)
    assert capsys.readouterr().err == ""                              # progress off: nothing printed
    monkeypatch.setenv("TWOLAYER_PROGRESS_SECONDS", "0")
    more = grid(noise=[0.0, 0.5], seed=[0, 1, 2, 3, 4])
    again = ResultStore(tmp_path / "s", FINGERPRINT)
    run_sweep(noisy_point, more, store=again, root_seed=0, progress=True, desc="pts")
    assert again.reused == (6, 10)
    err = capsys.readouterr().err
    assert f"pts: 6 of 10 points reused from {again.directory}" in err
    assert "pts: 10/10 (100%, 6 reused)" in err
    # nothing stored: no reuse line
    run_sweep(noisy_point, grid(noise=[0.9], seed=[0]), store=ResultStore(tmp_path / "t", FINGERPRINT),
              root_seed=0, progress=True, desc="new")
    assert "reused" not in capsys.readouterr().err


def test_plain_bar_ticks_between_steps():
    """Regression: the bar froze while a point computed; a ticking plain bar writes its clock."""
    from twolayer._progress import progress_bar, ticking

    buf = io.StringIO()
    bar = progress_bar(4, "p", stream=buf, reused=1)
    bar.every = 0.05
    bar(1, 4)
    with ticking(bar, every=0.02):
        time.sleep(0.3)                                               # a long point, no new step
    lines = [ln for ln in buf.getvalue().splitlines() if ln]
    assert len(lines) >= 2 and all(ln.startswith("p: 1/4 (25%, 1 reused)") for ln in lines)
    assert "twolayer-progress" not in {t.name for t in threading.enumerate()}
