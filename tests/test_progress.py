"""Progress reporting (``twolayer._progress``): bars on a terminal, periodic plain lines in logs."""

from __future__ import annotations

import io

import numpy as np
import pytest

from twolayer import _progress as P


class _Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_in_a_log_every_interval_with_an_eta(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(P.time, "perf_counter", clock)
    monkeypatch.delenv("TWOLAYER_PROGRESS_SECONDS", raising=False)
    log = io.StringIO()
    bar = P.progress_bar(200, "fig2 points", stream=log)
    for step in range(1, 201):
        clock.t = 0.5 * step                      # 100 s in all: lines at 30, 60, 90 s
        bar(step, 200)
    bar.close()
    lines = log.getvalue().splitlines()
    assert len(lines) == 4 and all(line.startswith("fig2 points: ") for line in lines)
    assert lines[0] == "fig2 points: 60/200 (30%), 30s elapsed, ETA 1m10s"   # 70 s left at the current rate
    assert lines[-1] == "fig2 points: 200/200 (100%), 1m40s elapsed"
    assert "\r" not in log.getvalue()


def test_short_work_prints_nothing_and_disabled_progress_never_does(monkeypatch):
    log = io.StringIO()
    bar = P.progress_bar(10, "quick", stream=log)
    for k in range(10):
        bar(k + 1, 10)
    bar.close()
    assert log.getvalue() == ""
    monkeypatch.setenv("TWOLAYER_PROGRESS_SECONDS", "0")
    off = P.progress_bar(10, "off", enabled=False, stream=log)
    off(5, 10)
    off.close()
    assert log.getvalue() == ""


def test_terminal_bar_shows_the_eta(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(P.time, "perf_counter", clock)
    import builtins

    real_import = builtins.__import__

    def no_tqdm(name, *a, **k):
        if name.startswith("tqdm"):
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_tqdm)
    tty = _Tty()
    bar = P.progress_bar(100, "train", stream=tty)
    clock.t = 10.0
    bar(25, 100, 0.5)
    assert "25/100 loss 0.5 10s, ETA 30s" in tty.getvalue()


def test_durations_read_naturally():
    assert [P._duration(s) for s in (0.4, 59, 75, 3599, 4000)] == ["0s", "59s", "1m15s", "59m59s", "1h06m"]


def test_a_long_dense_call_is_announced_with_its_expected_duration(monkeypatch, capsys, tmp_path):
    """eigh / Cholesky cannot be interrupted: with notices on (CLI, reproduce), a call expected to
    take >= NOTICE_FROM_S says so first; off (library use, --quiet) or short, nothing is printed."""
    import twolayer._linalg as L
    from twolayer.bounds import complexity
    from twolayer.cli import main
    from twolayer.spectra import spectrum

    H = np.random.default_rng(0).standard_normal((60, 60))
    H = H @ H.T + 60 * np.eye(60)
    y = np.sign(np.random.default_rng(1).standard_normal(60))
    monkeypatch.setattr(P, "NOTICE_FROM_N", 0)
    # the estimate is the work over the measured rate: 9 n^3 = 1.94e6 flops at 1e4 flop/s = 194 s
    monkeypatch.setattr(L, "machine_rates", lambda dtype="float64": (1e4, 1e4))
    assert L.expected_seconds("eigh", 60) == pytest.approx(9 * 60**3 / 1e4)
    spectrum(H)
    assert capsys.readouterr().err == ""                      # notices off: library use prints nothing
    with P.notices(True):
        spectrum(H)
        err = capsys.readouterr().err
        assert "eigendecomposition of a 60 x 60 matrix, about 3m14s" in err and "Ctrl-C" in err
        complexity(H, y, method="dense")
        assert "Cholesky factorization of a 60 x 60 matrix, about 7s" not in capsys.readouterr().err  # 7.2 s < 10 s
        monkeypatch.setattr(L, "machine_rates", lambda dtype="float64": (1e3, 1e3))
        complexity(H, y, method="dense")
        assert "Cholesky factorization of a 60 x 60 matrix, about 1m12s" in capsys.readouterr().err
    # the CLI turns notices on (and --quiet off)
    monkeypatch.setattr(L, "machine_rates", lambda dtype="float64": (1e4, 1e4))
    X = np.random.default_rng(2).standard_normal((60, 5))
    f = tmp_path / "d.npz"
    np.savez(f, X=X, y=np.sign(X[:, 0]))
    assert main(["spectrum", str(f), "--json"]) == 0
    assert "eigendecomposition of a 60 x 60 matrix" in capsys.readouterr().err
