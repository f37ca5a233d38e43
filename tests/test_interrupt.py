"""Ctrl-C during a long LAPACK call acts at once (``twolayer._interrupt``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from twolayer._interrupt import THREAD_FROM, interruptible
from twolayer.spectra import spectrum


def test_results_and_errors_are_those_of_a_direct_call():
    import scipy.linalg as sla

    A = np.random.default_rng(0).standard_normal((THREAD_FROM, 40))
    H = A @ A.T + np.eye(THREAD_FROM)
    w, V = sla.eigh(H, check_finite=False, driver="evd")       # the LAPACK call spectrum() makes
    sp = spectrum(H)                                           # dsyevd through ctypes, in a worker thread
    np.testing.assert_array_equal(sp.eigenvalues, w[::-1])
    np.testing.assert_array_equal(np.abs(sp.eigenvectors), np.abs(V[:, ::-1]))
    np.testing.assert_array_equal(spectrum(H.copy(), overwrite=True).eigenvalues, w[::-1])
    with pytest.raises(ZeroDivisionError):
        interruptible(lambda: 1 / 0, size=THREAD_FROM)
    assert interruptible(max, 3, 4, size=THREAD_FROM) == 4


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("args", ["", ", overwrite=True"])
def test_sigint_during_a_long_eigh_ends_the_command_within_seconds(tmp_path, args):
    """A 4000 × 4000 ``eigh`` with vectors takes tens of seconds on 2 cores; SIGINT after 1 s
    must end the process within a few seconds with KeyboardInterrupt (before: when LAPACK returned)."""
    script = tmp_path / "long.py"
    script.write_text(textwrap.dedent("""
        import sys, time
        import numpy as np
        from twolayer.spectra import spectrum
        A = np.random.default_rng(0).standard_normal((4000, 4000))
        H = A @ A.T
        print("ready", flush=True)
        t0 = time.perf_counter()
        try:
            spectrum(H ARGS)
        except KeyboardInterrupt:
            print(f"interrupted after {time.perf_counter() - t0:.1f}", flush=True)
            sys.exit(130)
        print("finished", flush=True)
    """).replace(" ARGS", args))
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "ready"
    time.sleep(1.0)
    t0 = time.perf_counter()
    p.send_signal(signal.SIGINT)
    out, _ = p.communicate(timeout=60)
    waited = time.perf_counter() - t0
    assert p.returncode == 130 and "interrupted" in out, out
    assert waited < 10, f"took {waited:.1f} s to act on SIGINT"
