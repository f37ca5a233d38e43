"""`twolayer demo`: the three Arora et al. experiments and one index page (tiny sizes here)."""

from __future__ import annotations

import base64
import re

from twolayer.cli import main
from twolayer.demo import DEMO_EXPERIMENTS, run_demo
from twolayer.runfolder import load_meta

TINY = {"arora2019-fig1": ["n_train=40", "width=100", "steps=100", "records=8"],
        "arora2019-fig2": ["n_train=40", "n_test=30", "noise_levels=0,1", "width=100", "steps=200", "records=5"],
        "arora2019-thm6": ["n_values=20,40,80", "targets=linear"]}


def test_demo_runs_the_three_experiments_and_links_them(tmp_path, capsys):
    index = run_demo(tmp_path / "demo", jobs=1, sets=TINY, formats=("png",))
    assert index == tmp_path / "demo" / "report.html"
    out = capsys.readouterr().out
    assert f"report: {index.resolve()}" in out
    page = index.read_text(encoding="utf-8")
    for name in DEMO_EXPERIMENTS:
        run = tmp_path / "demo" / name
        assert load_meta(run)["status"] == "complete" and (run / "report.html").is_file()
        assert f"href='{name}/report.html'" in page
    # the index embeds every figure of the three runs, byte for byte
    pngs = {p.read_bytes() for p in (tmp_path / "demo").glob("*/figures/*.png")}
    embedded = {base64.b64decode(e) for e in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)}
    assert embedded == pngs and len(pngs) >= 4


def test_demo_cli_reports_bad_jobs(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "d"), "--jobs", "0", "--quiet"]) == 2
    assert "--jobs" in capsys.readouterr().err
