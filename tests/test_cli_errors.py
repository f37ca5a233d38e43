"""The CLI's one error boundary: every failure a user can cause is one line on stderr and exit 2,
nothing half-written is left; a bug says it is one (exit 1) and --debug shows its traceback."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest

from twolayer import cli
from twolayer.bounds import complexity
from twolayer.cli import main, user_error_message
from twolayer.kernels import first_layer_ntk

from ._helpers import sphere


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(capsys, *argv, match: str, code: int = 2):
    got, out, err = run(capsys, *argv)
    assert got == code, (got, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("twolayer: error:"), err
    assert "Traceback" not in err and match in lines[0], lines[0]
    return lines[0]


TRAIN = ["train", "digits", "--width", "10", "--lr", "0.001", "--steps", "3"]


@pytest.mark.parametrize("extra, match", [
    (["--records", "abc"], "--records: expected a positive integer or 'all', got 'abc'"),
    (["--records", "0"], "--records: expected a positive integer or 'all'"),
    (["--weight-decay", "-1"], "--weight-decay: expected a non-negative finite number, got '-1'"),
    (["--param", "mean-field", "--alpha", "0"], "--alpha: expected a positive finite number, got '0'"),
    (["--init-scale", "inf"], "--init-scale: expected a positive finite number, got 'inf'"),
    (["--beta", "nan"], "--beta: expected a positive finite number"),
    (["--tol", "nan"], "--tol: expected a non-negative finite number"),
    (["--rtol", "2"], "--rtol: expected a number in (0, 1)"),
    (["--seed", "-3"], "--seed: expected a non-negative integer"),
    (["--label-noise", "1.5"], "--label-noise: expected a portion in [0, 1]"),
])
def test_option_values_are_checked_before_anything_runs(capsys, extra, match):
    one_line_error(capsys, *TRAIN, *extra, match=match)


def test_source_options_accept_a_scalar_where_a_list_is_expected(capsys):
    code, out, err = run(capsys, "complexity", "poly", "--opt", "degrees=2", "--json")
    assert code == 0, err
    assert json.loads(out)["complexity"] > 0
    one_line_error(capsys, "complexity", "poly", "--opt", "degrees=0", match="degrees must be positive integers")


def test_kernel_out_on_a_full_disk_is_one_error_and_leaves_nothing(capsys, tmp_path, monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "posix_fallocate", full)
    out = tmp_path / "K.npy"
    line = one_line_error(capsys, "kernel", "digits", "--out", str(out), match="No space left on device")
    assert str(out) in line and "free some space" in line
    assert list(tmp_path.iterdir()) == []        # no temporary left behind


def _can_mount() -> bool:
    if sys.platform != "linux" or os.geteuid() != 0:
        return False
    probe = "/tmp/twolayer-mount-probe"
    os.makedirs(probe, exist_ok=True)
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe], capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", probe], capture_output=True)
    return ok


@pytest.mark.skipif(not _can_mount(), reason="needs root and mount to make a tiny / read-only file system")
@pytest.mark.parametrize("opts, match", [("size=256k", "No space left on device"), ("ro", "Read-only file system")])
def test_real_full_and_read_only_file_systems(tmp_path, opts, match):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(mnt)], check=True)
    try:
        r = subprocess.run([sys.executable, "-m", "twolayer.cli", "kernel", "digits", "--out", str(mnt / "K.npy")],
                           capture_output=True, text=True)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and match in r.stderr, r.stderr
        assert os.listdir(mnt) == []
        r = subprocess.run([sys.executable, "-m", "twolayer.cli", "reproduce", "arora2019-thm6", "--quiet",
                            "--out", str(mnt / "run"), "--set", "n_values=20,40", "--set", "targets=linear"],
                           capture_output=True, text=True)
        assert r.returncode == 2 and r.stderr.count("\n") == 1 and match in r.stderr and "Traceback" not in r.stderr
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_over_long_and_missing_paths_name_the_users_path(capsys, tmp_path):
    long = tmp_path / ("a" * 300 + ".npy")
    line = one_line_error(capsys, "kernel", "digits", "--out", str(long), match="File name too long")
    assert "use a shorter file name" in line and ".tmp" not in line
    # a 240-character name is legal: its temporary must not be what fails
    ok = tmp_path / ("b" * 240 + ".npy")
    assert run(capsys, "kernel", "digits", "--out", str(ok))[0] == 0 and ok.is_file()
    line = one_line_error(capsys, "kernel", "digits", "--out", "/proc/no/such/K.npy", match="No such file or directory: /proc/no")
    assert ".tmp" not in line


def test_report_on_malformed_files(capsys, tmp_path):
    run_dir = tmp_path / "r"
    run_dir.mkdir()
    (run_dir / "meta.json").write_text("[1, 2]")
    one_line_error(capsys, "report", str(run_dir), match="holds a JSON list")
    (run_dir / "meta.json").write_bytes(b"\xff\xfe{")
    one_line_error(capsys, "report", str(run_dir), match="not valid JSON")
    (run_dir / "meta.json").write_text('{"figures": 3, "environment": "x", "status": "complete"}')
    code, out, err = run(capsys, "report", str(run_dir))
    assert code == 0 and "malformed entries of meta.json: figures, environment" in (run_dir / "report.html").read_text()


def test_report_embeds_only_regular_files_inside_the_folder(capsys, tmp_path):
    from matplotlib.figure import Figure

    from twolayer.runfolder import RunFolder

    rf = RunFolder(tmp_path / "r", experiment="unit")
    fig = Figure(figsize=(1, 1))
    rf.save_figure(fig, "real", formats=("png",))
    rf.finish()
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"\x89PNG SECRET CONTENT")
    (rf.figures_dir / "stolen.png").symlink_to(secret)
    assert run(capsys, "report", str(rf.path))[0] == 0
    page = (rf.path / "report.html").read_text()
    import base64

    assert "stolen" not in page and base64.b64encode(secret.read_bytes()).decode() not in page and "fig-real" in page


def test_user_errors_and_bugs_are_told_apart(capsys, monkeypatch):
    assert "worker process died" in user_error_message(BrokenProcessPool("x"))
    assert "Dask cluster failed" in user_error_message(TimeoutError("no scheduler"))
    assert "not valid in this system's encoding" in user_error_message(UnicodeEncodeError("utf-8", "\udcff", 0, 1, "x"))
    assert user_error_message(KeyError("oops")) is None

    def buggy(args):
        raise KeyError("an internal key")

    monkeypatch.setattr(cli, "cmd_complexity", buggy)
    parser_main = cli.main
    code = parser_main(["complexity", "digits"])
    err = capsys.readouterr().err
    assert code == 1 and "internal error (KeyError" in err and "this is a bug" in err and "--debug" in err
    with pytest.raises(KeyError):
        parser_main(["--debug", "complexity", "digits"])


def test_bad_dask_address_is_one_line(capsys):
    pytest.importorskip("distributed")
    line = one_line_error(capsys, "reproduce", "arora2019-thm6", "--dask", "tcp://127.0.0.1:1", "--quiet",
                          match="cannot reach the Dask scheduler at 'tcp://127.0.0.1:1'")
    assert "check the address" in line


def test_non_utf8_output_path(capsys, tmp_path):
    path = os.fsdecode(os.fsencode(str(tmp_path)) + b"/K\xff.npy")   # a surrogate-escaped file name
    code, out, err = run(capsys, "kernel", "digits", "--out", path, "--json")
    assert code in (0, 2) and "Traceback" not in err
    if code == 2:
        assert err.startswith("twolayer: error:") and err.count("\n") == 1
    else:
        assert json.loads(out)["n"] == 288


@pytest.mark.parametrize("setting", ["kappa=inf", "kappa=nan", "lr_fraction=-inf"])
def test_set_refuses_non_finite_numbers_before_running(capsys, tmp_path, setting):
    one_line_error(capsys, "reproduce", "arora2019-fig1", "--set", setting, "--out", str(tmp_path / "r"),
                   match="expected a finite number")
    assert not (tmp_path / "r").exists()


def test_train_on_singular_data_gives_no_meaningless_predicted_distance(capsys, tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 5))
    X = np.vstack([X, X[:1]])                       # a duplicate row: H-infinity is singular
    path = tmp_path / "dup.npz"
    np.savez(path, X=X, y=np.sign(rng.standard_normal(21)))
    code, out, err = run(capsys, "train", str(path), "--width", "64", "--lr", "0.001", "--steps", "10", "--json")
    assert code == 0, err
    assert json.loads(out)["predicted_final_dist"] is None           # NaN -> null in JSON
    code, out, err = run(capsys, "train", str(path), "--width", "64", "--lr", "0.001", "--steps", "10")
    assert "undefined: the kernel is numerically singular" in out


@pytest.mark.parametrize("verb", ["complexity", "spectrum", "trajectory", "train"])
def test_zero_one_labels_are_refused_by_every_verb_that_reads_labels(capsys, tmp_path, verb):
    """A .npz with labels in {0, 1}: exit 2 with one line naming the +1/-1 assumption and --classes;
    --classes 1,0 (1 -> +1) gives the complexity of the +-1 labels 2y - 1; the kernel verb ignores y."""
    X = sphere(30, 4, 5)
    b = (X[:, 0] > 0).astype(int)
    np.savez(tmp_path / "b.npz", X=X, y=b)
    np.savez(tmp_path / "t.npz", X=X, y=2.0 * b - 1)
    extra = {"trajectory": ["--lr", "0.1", "--steps", "1,10"],
             "train": ["--width", "8", "--lr", "0.001", "--steps", "2"]}.get(verb, [])
    one_line_error(capsys, verb, str(tmp_path / "b.npz"), *extra,
                   match="y of b.npz takes only the values 0 and 1, but the complexity of Arora et al. (2019) "
                         "assumes +1/-1 labels")
    line = one_line_error(capsys, verb, str(tmp_path / "b.npz"), *extra, match="pass --classes 1,0")
    assert "2*y - 1" in line
    if verb == "complexity":
        code, out, err = run(capsys, verb, str(tmp_path / "b.npz"), "--classes", "1,0", "--json")
        assert code == 0, err
        ref = complexity(first_layer_ntk(X), 2.0 * b - 1)
        assert json.loads(out)["complexity"] == pytest.approx(ref.complexity, rel=1e-12)
        code, out, err = run(capsys, verb, str(tmp_path / "t.npz"), "--json")
        assert code == 0 and json.loads(out)["complexity"] == pytest.approx(ref.complexity, rel=1e-12)


def test_zero_one_test_labels_are_refused_and_the_kernel_verb_ignores_labels(capsys, tmp_path):
    X, Xt = sphere(12, 3, 6), sphere(5, 3, 7)
    np.savez(tmp_path / "tt.npz", X=X, y=np.sign(X[:, 0]), X_test=Xt, y_test=(Xt[:, 0] > 0) * 1.0)
    one_line_error(capsys, "complexity", str(tmp_path / "tt.npz"), match="y_test of tt.npz takes only the values 0")
    np.savez(tmp_path / "b.npz", X=X, y=(X[:, 0] > 0) * 1.0)
    code, _, err = run(capsys, "kernel", str(tmp_path / "b.npz"), "--out", str(tmp_path / "K.npy"))
    assert code == 0, err
    np.testing.assert_allclose(np.load(tmp_path / "K.npy"), first_layer_ntk(X), rtol=1e-12)


def test_fig2_refuses_one_training_point_before_any_point_runs(capsys, tmp_path):
    one_line_error(capsys, "reproduce", "arora2019-fig2", "--set", "n_train=1", "--out", str(tmp_path / "r"),
                   match="n_train must be an integer >= 2")
    assert not (tmp_path / "r").exists()
