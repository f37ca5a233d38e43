"""One owner per run folder; true run status after signals and write failures (twolayer._lock, reproduce)."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass

import pytest

from twolayer._errors import InputError
from twolayer._lock import hold
from twolayer.experiments import EXPERIMENTS, RUN_LOCK, Experiment, register, reproduce
from twolayer.runfolder import load_meta

fcntl = pytest.importorskip("fcntl")

HOLD_SCRIPT = ("import fcntl, os, sys\n"
               "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); fcntl.lockf(fd, fcntl.LOCK_EX)\n"
               "os.write(fd, b'pid 4242 on otherhost since 2026-01-01T00:00:00Z'); print('locked', flush=True)\n"
               "sys.stdin.read()")


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("existing", [True, False])
def test_a_refused_run_touches_nothing_and_names_the_owner(tmp_path, existing):
    out = tmp_path / "run"
    out.mkdir()
    if existing:  # a live run's record
        (out / "config.toml").write_text('experiment = "arora2019-thm6"\nwidth = 7\n')
        (out / "meta.json").write_text('{"status": "running"}')
    with subprocess.Popen([sys.executable, "-c", HOLD_SCRIPT, str(out / RUN_LOCK)], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True) as owner:
        try:
            assert owner.stdout.readline().strip() == "locked"
            before = _snapshot(out)
            with pytest.raises(InputError, match="run folder .* is in use by pid 4242 on otherhost since 2026"):
                reproduce("arora2019-thm6", out=out, quiet=True, formats=("png",))
            assert _snapshot(out) == before and out.is_dir()
        finally:
            owner.stdin.close()
            owner.wait(timeout=10)


def test_a_stale_lock_of_a_dead_owner_is_taken_over(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / RUN_LOCK).write_text("pid 999999 on deadhost since 2020-01-01T00:00:00Z\n")   # nobody holds it
    with hold(out / RUN_LOCK, "x"):
        assert (out / RUN_LOCK).read_text().startswith(f"pid {os.getpid()} on ")
        with pytest.raises(InputError, match="in use by this process"):
            with hold(out / RUN_LOCK, "x"):
                pass


@dataclass(frozen=True)
class _Cfg:
    seed: int = 0
    fail: str = "enospc"


def _failing_run(cfg, ctx):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(ctx.rf.path / "arrays.npz"))


@pytest.fixture
def failing_experiment():
    register(Experiment(name="unit-failing", summary="unit", config=_Cfg, run=_failing_run,
                        presets={"laptop": {}, "paper": {}}))
    yield
    EXPERIMENTS.pop("unit-failing")


def test_disk_full_is_one_error_and_status_failed_with_the_reason(failing_experiment, tmp_path):
    out = tmp_path / "run"
    with pytest.raises(InputError, match=r"arrays\.npz: No space left on device.*free space or choose another --out"):
        reproduce("unit-failing", out=out, quiet=True, formats=("png",))
    meta = load_meta(out)
    assert meta["status"] == "failed" and "No space left" in meta["error"]


SLOW = textwrap.dedent("""
    import sys, time
    from dataclasses import dataclass
    from twolayer.experiments import Experiment, register, reproduce

    @dataclass(frozen=True)
    class Cfg:
        seed: int = 0

    def run(cfg, ctx):
        print("running", flush=True)
        time.sleep(60)

    register(Experiment(name="unit-slow", summary="", config=Cfg, run=run, presets={"laptop": {}, "paper": {}}))
    try:
        reproduce("unit-slow", out=sys.argv[1], quiet=True, formats=("png",))
    except KeyboardInterrupt as exc:
        print("interrupted:", exc, flush=True)
        sys.exit(130)
""")


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_leave_status_interrupted(tmp_path, sig):
    out = tmp_path / "run"
    with subprocess.Popen([sys.executable, "-c", SLOW, str(out)], stdout=subprocess.PIPE, text=True) as proc:
        assert proc.stdout.readline().strip() == "running"
        assert json.loads((out / "meta.json").read_text())["status"] == "running"
        t = time.monotonic()
        proc.send_signal(getattr(signal, sig))
        rest = proc.stdout.read()
        assert proc.wait(timeout=20) == 130 and time.monotonic() - t < 20
    assert f"received {sig}" in rest
    assert load_meta(out)["status"] == "interrupted"


def test_status_is_complete_only_with_the_report(monkeypatch, tmp_path):
    import twolayer.report as R

    def no_space(run):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(run / "report.html"))

    monkeypatch.setattr(R, "build_report", no_space)
    out = tmp_path / "run"
    with pytest.raises(InputError, match="cannot write the claims or the report.*No space left"):
        reproduce("arora2019-thm6", out=out, quiet=True, formats=("png",),
                  sets=["n_values=20,40", "targets=linear", "seeds=1"])
    meta = load_meta(out)
    assert meta["status"] == "failed" and "No space left" in meta["error"]


def _killer_point(params, seed_seq):
    if params["seed"] == 1:
        os.kill(os.getpid(), signal.SIGKILL)   # a pool worker killed (out of memory, by hand, ...)
    return [{"metric": "x", "value": 1.0}], {}


def _killer_run(cfg, ctx):
    from twolayer.sweep import grid

    ctx.sweep(_killer_point, grid(seed=[0, 1, 2]), seed=0)


@pytest.fixture
def killer_experiment():
    register(Experiment(name="unit-killer", summary="unit", config=_Cfg, run=_killer_run,
                        presets={"laptop": {}, "paper": {}}))
    yield
    EXPERIMENTS.pop("unit-killer")


def test_a_killed_pool_worker_is_one_line_and_status_failed(killer_experiment, tmp_path, capsys):
    from twolayer.cli import main

    out = tmp_path / "run"
    assert main(["reproduce", "unit-killer", "--jobs", "2", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("twolayer: error: a worker process died") and err.count("\n") == 1
    meta = load_meta(out)
    assert meta["status"] == "failed" and "BrokenProcessPool" in meta["error"]


def test_temporaries_a_killed_run_left_are_removed_by_the_next_owner(tmp_path):
    out = tmp_path / "run"
    sets = ["n_values=20,40", "targets=linear", "seeds=1"]
    reproduce("arora2019-thm6", out=out, quiet=True, formats=("png",), sets=sets)
    stale = [out / ".metrics.csv.abcd1234.tmp", out / "figures" / ".target_complexity.png.x1y2z3.tmp"]
    for p in stale:
        p.write_bytes(b"half-written")
    keep = out / "notes.tmp.txt"            # not one of our temporaries
    keep.write_text("mine")
    reproduce("arora2019-thm6", out=out, quiet=True, formats=("png",), sets=sets)
    assert not any(p.exists() for p in stale) and keep.read_text() == "mine"


def test_point_files_record_the_package_version(tmp_path):
    import twolayer
    from twolayer.sweep import _read_npz

    out = tmp_path / "run"
    reproduce("arora2019-thm6", out=out, quiet=True, formats=("png",), sets=["n_values=20,40", "targets=linear",
                                                                          "seeds=1"])
    files = sorted((out / "points").glob("*.npz"))
    assert files and all(_read_npz(f)[1]["twolayer"] == twolayer.__version__ for f in files)
