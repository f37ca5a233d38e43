"""The run-folder contract: TOML round-trip, tidy metrics, atomic writes, metadata."""

from __future__ import annotations

import csv
import json
import math
import os
import tomllib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from twolayer._errors import DataError, InputError
from twolayer.plotting import save_figure
from twolayer.runfolder import (RunFolder, environment_info, load_arrays, load_config, load_meta, load_metrics,
                                metric_value, select_metrics, toml_dumps, write_arrays, write_config, write_metrics)


def _no_temp_files(folder) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".")]


# ----------------------------------------------------------------------------------- TOML
def test_toml_round_trip_nested_config():
    config = {
        "experiment": "demo",
        "seed": 0,
        "big": 2**62,
        "neg": -17,
        "lr": 0.1 + 0.2,                      # not exactly 0.3: must survive bit-for-bit
        "tiny": 5e-324,
        "huge": 1.7976931348623157e308,
        "negzero": -0.0,
        "pos_inf": math.inf,
        "neg_inf": -math.inf,
        "flag": True,
        "off": False,
        "text": 'quote " backslash \\ tab \t newline \n bell \x07 del \x7f unicode λ∞ é',
        "empty_text": "",
        "levels": [0.0, 0.1, 1.0],
        "classes": (0, 1),                      # tuple -> list
        "mixed": [1, "a", 2.5, True],
        "nested_list": [[1, 2], [3.5], []],
        "points": [{"p": 0.5, "name": "x"}, {"p": 1.0, "inner": {"q": 1}}],
        "numpy": {"i": np.int64(3), "f": np.float32(0.5), "arr": np.arange(3), "b": np.bool_(True)},
        "not set": None,                        # omitted
        "weird key.with dots": 1,
        "0\n": {"trailing newline key": 1},
        "data": {"spec": "digits", "n_train": None, "opts": {"deep": {"deeper": [1]}}},
        "empty_table": {},
        "only_tables": {"a": {"x": 1}, "b": {"y": 2}},
    }
    text = toml_dumps(config)
    back = tomllib.loads(text)
    expect = json.loads(json.dumps({k: v for k, v in config.items() if k not in ("not set", "numpy")},
                                   default=list))
    expect["data"].pop("n_train")
    expect["numpy"] = {"i": 3, "f": 0.5, "arr": [0, 1, 2], "b": True}
    for k in ("lr", "tiny", "huge", "pos_inf", "neg_inf"):
        expect[k] = config[k]
    assert back == expect
    assert math.copysign(1.0, back["negzero"]) == -1.0
    assert back["lr"] == 0.1 + 0.2 and back["tiny"] == 5e-324
    assert "not set" not in back


def test_toml_nan_round_trip_and_errors(tmp_path):
    back = tomllib.loads(toml_dumps({"x": math.nan, "t": {"y": [math.nan]}}))
    assert math.isnan(back["x"]) and math.isnan(back["t"]["y"][0])
    with pytest.raises(InputError, match="keys must be strings"):
        toml_dumps({1: "a"})
    with pytest.raises(InputError, match="list containing None"):
        toml_dumps({"a": [1, None]})
    with pytest.raises(InputError, match="cannot store"):
        toml_dumps({"a": object()})
    with pytest.raises(InputError, match="64-bit"):
        toml_dumps({"a": 2**64})
    # through the run folder
    write_config(tmp_path, {"seed": 3, "data": {"spec": "digits"}})
    assert load_config(tmp_path) == {"seed": 3, "data": {"spec": "digits"}}
    (tmp_path / "config.toml").write_text("seed = = 3\n")
    with pytest.raises(DataError, match="not valid TOML"):
        load_config(tmp_path)


_keys = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=8)
_scalars = (st.integers(-2**63, 2**63 - 1) | st.floats(allow_nan=False) | st.booleans()
            | st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12))
_values = st.recursive(_scalars | st.lists(_scalars, max_size=4),
                       lambda inner: st.dictionaries(_keys, inner, max_size=4), max_leaves=12)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=5))
def test_toml_round_trip_property(config):
    assert tomllib.loads(toml_dumps(config)) == config


# -------------------------------------------------------------------------------- metrics
ROWS = [
    {"metric": "lambda_min", "value": 0.014023788418564415},
    {"metric": "complexity", "value": 0.1 + 0.2, "labels": "true"},
    {"metric": "complexity", "value": 7.25, "labels": "noisy", "noise": 0.5, "seed": 2},
    {"metric": "predicted_loss", "value": 1e-300, "labels": "random", "step": 100},
    {"metric": "label_energy", "value": 1.0, "labels": "true", "index": 288},
    {"metric": "odd", "value": math.inf, "extra": "a,b \"quoted\""},
    {"metric": "missing", "value": math.nan, "labels": "true", "step": 0},
]


def test_metrics_tidy_format_and_parse_back(tmp_path):
    path = write_metrics(tmp_path, ROWS)
    with open(path, newline="") as fh:
        table = list(csv.reader(fh))
    # union of keys, canonical order of the identifying columns, then the others
    assert table[0] == ["metric", "value", "labels", "noise", "seed", "step", "index", "extra"]
    assert len(table) == 1 + len(ROWS)
    assert table[1] == ["lambda_min", "0.014023788418564415", "", "", "", "", "", ""]
    assert table[3] == ["complexity", "7.25", "noisy", "0.5", "2", "", "", ""]
    assert table[6][-1] == 'a,b "quoted"'
    back = load_metrics(tmp_path)
    assert len(back) == len(ROWS)
    for got, want in zip(back, ROWS):
        assert set(got) == set(want)
        for k, v in want.items():
            if isinstance(v, float) and math.isnan(v):
                assert math.isnan(got[k])
            else:
                assert got[k] == v and type(got[k]) is type(v), (k, got[k], v)
    # helpers
    assert metric_value(back, "complexity", labels="true") == 0.1 + 0.2
    assert metric_value(back, "lambda_min") == ROWS[0]["value"]
    with pytest.raises(KeyError):
        metric_value(back, "complexity")            # no row without ids
    assert [r["value"] for r in select_metrics(back, "complexity")] == [0.1 + 0.2, 7.25]
    assert select_metrics(back, "complexity", seed=None) == [back[1]]


def test_metrics_reject_bad_rows(tmp_path):
    for bad, msg in [({"metric": "x", "value": "1.0"}, "not a number"), ({"value": 1.0}, "'metric' and 'value'"),
                     ({"metric": "", "value": 1.0}, "non-empty"), ({"metric": "x", "value": 1, "labels": [1]}, "labels"),
                     ({"metric": "x", "value": 1, "labels": ""}, "empty string")]:
        with pytest.raises(InputError, match=msg):
            write_metrics(tmp_path, [bad])
    (tmp_path / "metrics.csv").write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="metric,value"):
        load_metrics(tmp_path)
    (tmp_path / "metrics.csv").write_text("metric,value,labels\nx,1.0\n")
    with pytest.raises(DataError, match="corrupt"):
        load_metrics(tmp_path)


# -------------------------------------------------------------------------- atomic writes
def test_writes_leave_no_temp_files(tmp_path):
    rf = RunFolder(tmp_path / "run", experiment="t")
    rf.write_config({"a": 1})
    rf.write_metrics(ROWS)
    rf.write_arrays(x=np.arange(4.0))
    fig = Figure()
    fig.subplots().plot([1, 2], [3, 4])
    rf.save_figure(fig, "line", caption="a line")
    rf.finish()
    names = sorted(p.relative_to(rf.path).as_posix() for p in rf.path.rglob("*"))
    assert names == ["arrays.npz", "config.toml", "figures", "figures/line.pdf", "figures/line.png",
                     "meta.json", "metrics.csv"]
    assert _no_temp_files(rf.path) == []


def test_failing_write_keeps_previous_file(tmp_path, monkeypatch):
    write_metrics(tmp_path, ROWS)
    write_config(tmp_path, {"seed": 1})
    write_arrays(tmp_path, a=np.ones(3))
    before = {f: (tmp_path / f).read_bytes() for f in ("metrics.csv", "config.toml", "arrays.npz")}

    # an invalid row half-way through: rows before it were already written to the temp file
    with pytest.raises(InputError, match="row 7"):
        write_metrics(tmp_path, ROWS + [{"metric": "bad", "value": "oops"}] + ROWS)
    with pytest.raises(InputError):
        write_config(tmp_path, {"seed": 2, "bad": object()})
    with pytest.raises(InputError, match="dtype object"):
        write_arrays(tmp_path, a=np.array([object()]))

    # the rename itself fails (disk full, crash): nothing replaced, temp file removed
    def boom(src, dst):
        raise OSError("simulated failure")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="simulated"):
        write_metrics(tmp_path, ROWS[:1])
    with pytest.raises(OSError, match="simulated"):
        write_arrays(tmp_path, a=np.zeros(5))
    monkeypatch.undo()

    after = {f: (tmp_path / f).read_bytes() for f in before}
    assert after == before
    assert _no_temp_files(tmp_path) == []
    assert load_metrics(tmp_path)[0]["metric"] == "lambda_min"


def test_failing_figure_keeps_previous_files(tmp_path):
    fig = Figure()
    fig.subplots().plot([0, 1], [0, 1])
    save_figure(fig, tmp_path, "f")
    before = (tmp_path / "f.png").read_bytes(), (tmp_path / "f.pdf").read_bytes()
    bad = Figure()
    bad.subplots().set_title("$\\frac{unclosed$")            # mathtext error at draw time
    with pytest.raises(ValueError):
        save_figure(bad, tmp_path, "f")
    assert ((tmp_path / "f.png").read_bytes(), (tmp_path / "f.pdf").read_bytes()) == before
    assert _no_temp_files(tmp_path) == []
    with pytest.raises(InputError, match="file stem"):
        save_figure(fig, tmp_path, "../escape")


# --------------------------------------------------------------------------- meta, arrays
def test_run_folder_meta_and_arrays(tmp_path):
    rf = RunFolder(tmp_path / "a" / "b", experiment="unit")
    assert rf.figures_dir.is_dir()
    assert load_meta(rf.path)["status"] == "running"
    with rf.stage("work"):
        sum(range(1000))
    with rf.stage("work"):
        pass
    rf.set_data({"source": "x", "arr": np.arange(2), "n": np.int64(3)})
    rf.write_arrays(eigenvalues=np.linspace(1, 0, 5), labels=np.array(["a", "b"]), k=np.arange(3))
    rf.finish()
    meta = load_meta(rf.path)
    assert meta["status"] == "complete" and meta["experiment"] == "unit"
    assert meta["timings_s"]["work"] >= 0 and meta["wall_time_s"] >= meta["timings_s"]["work"]
    assert meta["data"] == {"source": "x", "arr": [0, 1], "n": 3}
    assert meta["started"] <= meta["finished"]
    env = meta["environment"]
    import matplotlib
    import scipy
    import sklearn
    assert env["numpy"] == np.__version__ and env["scipy"] == scipy.__version__
    assert env["sklearn"] == sklearn.__version__ and env["matplotlib"] == matplotlib.__version__
    assert env["twolayer"] and env["python"] and env["hostname"]
    assert "blas" in env and set(environment_info()) == set(env)
    arr = load_arrays(rf.path)
    np.testing.assert_array_equal(arr["eigenvalues"], np.linspace(1, 0, 5))
    assert arr["labels"].tolist() == ["a", "b"] and arr["k"].dtype == np.arange(3).dtype
    with pytest.raises(DataError, match="not found"):
        load_meta(tmp_path)
