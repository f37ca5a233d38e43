"""The experiments framework end to end at tiny sizes: the registry, --set, run folders, resume
after a kill, configs and errors (each paper's claims are tested in tests/test_<paper>*.py)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from twolayer._errors import InputError
from twolayer.cli import main
from twolayer.experiments import get_experiment, list_experiments, parse_sets, reproduce, resolve_config
from twolayer.runfolder import load_config, load_meta, load_metrics, metric_value

# tiny versions of the laptop presets (seconds each); fig1 and movement claims: tests/test_arora2019_fig1.py,
# fig2 and thm6 claims: tests/test_arora2019_fig2.py
FIG1 = ["n_train=60", "width=300", "steps=400", "records=12", "widths=100,300", "kappas=0.01", "gram_draws=8"]
FIG2 = ["n_train=60", "n_test=40", "noise_levels=0,0.5,1", "width=200", "widths=200", "steps=600", "records=8"]


def _run(tmp_path_factory, name, sets, seeds=None, jobs=1):
    out = tmp_path_factory.mktemp(name) / "run"
    return reproduce(name, out=out, sets=sets, seeds=seeds, jobs=jobs, quiet=True, formats=("png",))


@pytest.fixture(scope="module")
def fig1(tmp_path_factory):
    return _run(tmp_path_factory, "arora2019-fig1", FIG1)


@pytest.fixture(scope="module")
def fig2(tmp_path_factory):
    return _run(tmp_path_factory, "arora2019-fig2", FIG2, seeds=2, jobs=2)


# ------------------------------------------------------------------------------ registry
def test_every_experiment_is_listed_with_both_presets(capsys):
    names = [e["name"] for e in list_experiments()]
    assert names[:4] == ["arora2019-fig1", "arora2019-fig2", "arora2019-thm6", "arora2019-movement"]
    for e in list_experiments():
        assert e["summary"] and {"laptop", "paper"} <= set(e["presets"])
        for preset in e["presets"]:  # every preset resolves to a valid config
            resolve_config(get_experiment(e["name"]), preset=preset)
    assert main(["reproduce", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in names)
    assert main(["reproduce", "--list", "--json"]) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)["experiments"]] == names


def test_set_parses_to_the_field_types_and_refuses_unknown_keys():
    cfg_cls = get_experiment("arora2019-fig2").config
    got = parse_sets(["noise_levels=0,0.25,1", "width=300", "lr=none", "rtol=1e-4"], cfg_cls)
    assert got == {"noise_levels": (0.0, 0.25, 1.0), "width": 300, "lr": None, "rtol": 1e-4}
    with pytest.raises(InputError, match="did you mean width"):
        parse_sets(["widht=3"], cfg_cls)
    with pytest.raises(InputError, match="expected an integer"):
        parse_sets(["width=3.5"], cfg_cls)
    with pytest.raises(InputError, match="key=value"):
        parse_sets(["width"], cfg_cls)
    paper = resolve_config(get_experiment("arora2019-fig1"), preset="paper")
    assert (paper.width, paper.kappa, paper.lr, paper.n_train, paper.n_test) == (10_000, 0.01, 1e-3, 10_000, 2_000)


@pytest.mark.parametrize("argv,msg", [
    (["reproduce", "arora2019-fgi1"], "did you mean arora2019-fig1"),
    (["reproduce", "arora2019-fig1", "--set", "steps=-1"], "steps must be a positive integer"),
    (["reproduce", "arora2019-fig1", "--preset", "huge"], "unknown preset"),
    (["reproduce", "arora2019-fig2", "--set", "noise_levels=0.5"], "at least two distinct"),
    (["reproduce", "arora2019-fig1", "--data", "mnist:/nonexistent/mnist"], "nonexistent"),
    (["reproduce", "arora2019-fig1", "--set", "lr=100"], "2n/lambda_max"),
    (["reproduce"], "--list"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, argv, msg):
    assert main(argv + ["--out", str(tmp_path / "o"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("twolayer: error:") and msg in err
    assert not (tmp_path / "o").exists()  # a run that fails before computing anything leaves no folder


# ------------------------------------------------------------------------------ Figure 2
def test_dask_without_the_package_is_one_clear_error(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if the optional extra were not installed
    assert main(["reproduce", "arora2019-fig1", "--dask", "tcp://127.0.0.1:1", "--out", str(tmp_path / "d")]) == 2
    assert "dask[distributed]" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


# ------------------------------------------------------------------------ resume and report
def test_killed_run_restarts_and_completes_with_the_same_results(fig2, tmp_path):
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "twolayer.cli", "reproduce", "arora2019-fig2", "--out", str(out), "--seeds", "2",
           "--jobs", "2", "--quiet"] + sum((["--set", s] for s in FIG2), [])
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "points").glob("*.npz"))) < 2 and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.npz")}
    assert 1 <= len(before) < 6, "the run should have been killed midway"
    assert main(cmd[3:]) == 0
    after = {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.npz")}
    assert len(after) == 6 and all(after[k] == v for k, v in before.items())  # nothing computed twice
    assert (out / "metrics.csv").read_text() == (fig2 / "metrics.csv").read_text()
    assert load_meta(out)["status"] == "complete"
    assert not [p for p in out.rglob("*") if p.name not in (".sweep.lock", ".run.lock") and (p.name.startswith(".") or ".tmp" in p.name)]


ONE_LONG_POINT = ["n_train=30", "widths=400", "width=400", "kappas=0.01", "kappa=0.01", "seeds=1", "steps=4000",
                  "records=10", "gram_widths=16", "gram_draws=4"]


def test_a_point_killed_midway_resumes_from_its_own_checkpoint(tmp_path, monkeypatch):
    """The paper preset of Fig. 1 is one long point: SIGKILL inside it, and the rerun continues
    from the point's last checkpoint (not from step 0) with bit-identical results."""
    from twolayer.dynamics import checkpoint as ckmod
    from twolayer.dynamics import engine

    clean = reproduce("arora2019-fig1", out=tmp_path / "clean", sets=ONE_LONG_POINT, quiet=True, formats=("png",))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "twolayer.cli", "reproduce", "arora2019-fig1", "--out", str(out), "--quiet",
           "--jobs", "1"] + sum((["--set", s] for s in ONE_LONG_POINT), [])
    env = dict(os.environ, PYTHONWARNINGS="ignore", TWOLAYER_CHECKPOINT_SECONDS="0.2")
    proc = subprocess.Popen(cmd, env=env, start_new_session=True)
    folder = out / "points" / ".checkpoints"
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None and not list(folder.glob("*.npz")):
        time.sleep(0.02)
    time.sleep(0.5)  # a few more checkpoints
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    files = list(folder.glob("*.npz"))
    assert len(files) == 1 and not list((out / "points").glob("*.npz")), "killed inside the one training point"
    step0 = ckmod.load(files[0])[0]["step"]
    assert 0 < step0 < 4000
    applied = []
    real = engine.apply
    monkeypatch.setattr(engine, "apply", lambda state, o: (applied.append(1), real(state, o))[1])
    assert main(cmd[3:]) == 0
    assert len(applied) == 4000 - step0                    # only the steps after the checkpoint
    assert (out / "metrics.csv").read_text() == (clean / "metrics.csv").read_text()
    assert not folder.exists()                             # its checkpoint is gone with the stored result


def test_checkpoint_interval_from_the_environment(monkeypatch):
    from twolayer.experiments._common import CHECKPOINT_SECONDS, checkpoint_seconds

    monkeypatch.delenv("TWOLAYER_CHECKPOINT_SECONDS", raising=False)
    assert checkpoint_seconds() == CHECKPOINT_SECONDS
    monkeypatch.setenv("TWOLAYER_CHECKPOINT_SECONDS", "2.5")
    assert checkpoint_seconds() == 2.5
    for bad in ("0", "-1", "soon", "nan"):
        monkeypatch.setenv("TWOLAYER_CHECKPOINT_SECONDS", bad)
        with pytest.raises(InputError, match="TWOLAYER_CHECKPOINT_SECONDS must be a positive number"):
            checkpoint_seconds()


def test_ctrl_c_marks_the_run_interrupted_and_says_how_to_continue(tmp_path):
    out = tmp_path / "ctrl-c"
    cmd = [sys.executable, "-m", "twolayer.cli", "reproduce", "arora2019-fig2", "--out", str(out), "--seeds", "2",
           "--quiet"] + sum((["--set", s] for s in FIG2), [])
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and len(list((out / "points").glob("*.npz"))) < 1 and proc.poll() is None:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "run the same command again to continue" in err and err.count("\n") == 1
    assert load_meta(out)["status"] == "interrupted"
    assert main(cmd[3:]) == 0 and load_meta(out)["status"] == "complete"


def test_other_settings_in_the_same_folder_are_refused_but_a_longer_grid_reuses_points(fig2, tmp_path):
    out = tmp_path / "copy"
    shutil.copytree(fig2, out)
    with pytest.raises(InputError, match="width"):
        reproduce("arora2019-fig2", out=out, sets=[s if not s.startswith("width") else "width=250" for s in FIG2],
                  seeds=2, quiet=True, formats=("png",))
    stored = {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.npz")}
    reproduce("arora2019-fig2", out=out, sets=FIG2, seeds=3, quiet=True, formats=("png",))
    now = {p.name: p.stat().st_mtime_ns for p in (out / "points").glob("*.npz")}
    assert len(now) == 9 and all(now[k] == v for k, v in stored.items())


def test_report_rebuilds_from_a_copied_folder(fig1, tmp_path, capsys):
    copy = tmp_path / "elsewhere" / fig1.name
    shutil.copytree(fig1, copy)
    (copy / "report.html").unlink()
    assert main(["report", str(copy)]) == 0
    assert (copy / "report.html").read_text(encoding="utf-8") == (fig1 / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow  # starts a one-worker Dask cluster (a few seconds)
def test_a_dask_cluster_runs_the_sweep_with_the_same_numbers(fig2, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        out = reproduce("arora2019-fig2", out=tmp_path / "dask", sets=FIG2, seeds=2, quiet=True, formats=("png",),
                        executor=client.get_executor())
    assert (out / "metrics.csv").read_text() == (fig2 / "metrics.csv").read_text()


def test_paper_preset_reads_local_mnist_files(tmp_path):
    """The paper preset end to end on tiny IDX files made here (the paper's m, κ, η; shrunk n, steps)."""
    from .test_data_mnist import make_arrays, write_idx_folder

    write_idx_folder(tmp_path / "mnist", make_arrays(n_train=300, n_test=150))  # 60 + 30 images of classes 0, 1
    run = reproduce("arora2019-fig1", out=tmp_path / "run", preset="paper", data=f"mnist:{tmp_path / 'mnist'}",
                    sets=["n_train=40", "n_test=20", "width=64", "steps=50", "records=5"], quiet=True,
                    formats=("png",))
    cfg, meta, m = load_config(run), load_meta(run), load_metrics(run)
    assert cfg["preset"] == "paper" and cfg["kappa"] == 0.01 and cfg["lr"] == 1e-3 and cfg["dtype"] == "float32"
    assert cfg["resolved"]["lr"] == 1e-3 and cfg["resolved"]["normalization"] == "mean"
    assert meta["status"] == "complete" and meta["data"]["source"] == "mnist"
    assert all(len(f["sha256"]) == 64 for f in meta["data"]["files"])
    assert metric_value(m, "n") == 40 and (run / "figures" / "loss_curves.png").is_file()


def test_show_config_prints_the_resolved_settings_and_runs_nothing(capsys, tmp_path):
    assert main(["reproduce", "arora2019-fig2", "--preset", "paper", "--set", "width=500", "--seeds", "4",
                 "--show-config", "--json", "--out", str(tmp_path / "x")]) == 0
    got = json.loads(capsys.readouterr().out)
    assert (got["preset"], got["width"], got["seeds"], got["kappa"], got["steps"]) == ("paper", 500, 4, 0.01, 1_000_000)
    assert not (tmp_path / "x").exists()
    assert main(["reproduce", "arora2019-thm6", "--show-config"]) == 0
    import tomllib

    text = capsys.readouterr().out
    assert tomllib.loads(text)["n_values"] == [50, 100, 200, 400, 800, 1600, 3200]


def test_up_front_cost_estimate_is_recorded_and_scales_with_the_work(tmp_path):
    """The estimate counts the GD GEMMs: twice the steps, about twice the arithmetic; it is
    recorded in meta.json and printed before a run that is not quiet."""
    from twolayer._cost import estimate
    from twolayer.experiments import get_experiment, resolve_config

    exp = get_experiment("arora2019-fig1")
    small = exp.cost(resolve_config(exp, sets=["steps=1000"]))
    big = exp.cost(resolve_config(exp, sets=["steps=2000"]))
    gd = big.gemm_flops - small.gemm_flops          # the GD part of 1000 steps
    n, d = 60, 64
    pts = resolve_config(exp).seeds * len(resolve_config(exp).widths) * len(resolve_config(exp).kappas)
    assert gd == pytest.approx(4.0 * n * 3 * d * 1000 * sum(resolve_config(exp).widths) * pts
                               / len(resolve_config(exp).widths), rel=1e-12)
    assert estimate(big)[0] > estimate(small)[0]
    out = reproduce("arora2019-movement", out=tmp_path / "m", sets=["n_train=30", "widths=50,100", "kappas=1.0",
                                                                   "steps=20"], seeds=1, quiet=True, formats=("png",))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["cost_estimate"]["seconds_here"] > 0 and meta["cost_estimate"]["eigh"] == [30]


def test_the_gd_experiments_train_on_the_torch_backend_with_the_same_numbers(tmp_path):
    """``--device`` / ``--set device=``: the paper preset is a GPU job; on torch-CPU (float64) every
    metric equals the numpy run's to rounding (same drawn weights, same two GEMMs per step)."""
    pytest.importorskip("torch")
    sets = ["n_train=30", "widths=100,400", "width=400", "kappas=0.01", "kappa=0.01", "seeds=1", "steps=200",
            "records=10", "gram_widths=16", "gram_draws=4"]
    a = reproduce("arora2019-fig1", out=tmp_path / "numpy", sets=sets, quiet=True, formats=("png",))
    b = tmp_path / "torch"
    assert main(["reproduce", "arora2019-fig1", "--out", str(b), "--quiet", "--device", "cpu"]
                + sum((["--set", s] for s in sets), [])) == 0
    assert load_config(b)["device"] == "cpu"
    ma, mb = load_metrics(a), load_metrics(b)
    assert [r["metric"] for r in ma] == [r["metric"] for r in mb]
    for ra, rb in zip(ma, mb):
        va, vb = float(ra["value"]), float(rb["value"])
        assert abs(va - vb) <= 1e-12 * max(abs(va), 1e-300) + 1e-300, ra["metric"]


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "tpu"])
def test_a_bad_device_is_one_clear_error(bad):
    with pytest.raises(InputError, match="device must be cpu, cuda or cuda:K"):
        resolve_config(get_experiment("arora2019-fig2"), sets=[f"device={bad}"])
