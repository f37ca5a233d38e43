"""The figure builders of :mod:`twolayer.plotting`, read back from the matplotlib objects.

Each test checks what a reader of the figure sees: the drawn x/y data equal the inputs (masked
where the docstring says so), in the promised axes and scales, the axis limits contain the data,
legends list each entry once in the colour of its label set, titles and axis labels are there.

No backend is set anywhere: the package builds :class:`~matplotlib.figure.Figure` objects without
pyplot (a plain ``FigureCanvasBase``), and ``savefig`` renders PNG through Agg; pytest's
``filterwarnings = error`` turns any matplotlib/numpy warning into a failure. The failing-write
case of :func:`~twolayer.plotting.save_figure` (a draw error keeps both previous files) is in
``tests/test_runfolder.py::test_failing_figure_keeps_previous_files``; here only what it does not cover.
"""

from __future__ import annotations

import ast
import inspect
import os
import types
from collections import Counter

import numpy as np
import pytest
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.text import Text

from twolayer import plotting as P
from twolayer._errors import InputError

nan, inf = np.nan, np.inf


# ---------------------------------------------------------------------------------- helpers
def _lines(ax) -> dict:
    """Labelled lines of ``ax`` by label (unlabelled ones are matplotlib's ``_child...``)."""
    out = {}
    for ln in ax.get_lines():
        assert ln.get_label() not in out, f"label {ln.get_label()!r} drawn twice"
        out[ln.get_label()] = ln
    return out


def _xy(line):
    return np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)


def _assert_data(line, x, y):
    gx, gy = _xy(line)
    np.testing.assert_array_equal(gx, np.asarray(x, float))
    np.testing.assert_allclose(gy, np.asarray(y, float), rtol=1e-15, atol=0, equal_nan=True)


def _legend_texts(legend) -> list[str]:
    assert legend is not None, "no legend"
    texts = [t.get_text() for t in legend.get_texts()]
    dup = [t for t, k in Counter(texts).items() if k > 1]
    assert not dup, f"legend lists {dup} more than once"
    return texts


def _legend_colors(legend) -> dict[str, str]:
    return {t.get_text(): to_hex(h.get_color()) for t, h in zip(legend.get_texts(), legend.legend_handles)}


def _contains(lim, values):
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    lo, hi = sorted(lim)
    assert lo <= v.min() and v.max() <= hi, (lim, v.min(), v.max())


def _band(coll, x):
    """(lower, upper) edge of a fill_between band at each of ``x``, from its polygon's vertices."""
    verts = np.concatenate([p.vertices for p in coll.get_paths()])
    lo, hi = [], []
    for xi in x:
        ys = verts[np.isclose(verts[:, 0], xi), 1]
        lo.append(ys.min())
        hi.append(ys.max())
    return np.array(lo), np.array(hi)


def _render(fig, layout: bool = True) -> None:
    """Draw (autoscaling, tick labels, mathtext, with ``layout`` the constrained layout) as saving
    does, without writing a file. The degenerate-input figures are drawn without the layout pass
    (the slow part) -- their layout is that of the regular figures, which are drawn with it."""
    if not layout:
        fig.set_layout_engine("none")
    fig.draw_without_rendering()


STEPS = np.array([0, 1, 2, 5, 10, 50, 100], float)
CURVES = {"true": 0.5 * 0.5 ** STEPS, "random": 1 / (1 + STEPS), "mine": 0.8 * 0.9 ** STEPS}


# ----------------------------------------------------------------------- labels, colours
def test_label_colors_and_names():
    for name, col in [("true", "blue"), ("random", "vermillion"), ("worst_case", "purple"), ("noisy", "green")]:
        assert P.label_color(name) == P.label_color(name, index=5) == P.OKABE_ITO[col]
    assert P.label_name("true") == "true labels" and P.label_name("random") == r"random $\pm1$ labels"
    assert P.label_name("noisy") == "noisy labels" and "v_{\\min}" in P.label_name("worst_case")
    # any other set: shown as given, the index-th palette colour, cycling
    assert P.label_name("my set") == "my set" and P.label_name(3) == "3"
    cols = [P.label_color("x", i) for i in range(len(P._CYCLE) + 1)]
    assert len(set(cols[:-1])) == len(P._CYCLE) and cols[-1] == cols[0]
    assert set(cols) <= set(P.OKABE_ITO.values())


def test_same_label_same_colour_in_every_figure():
    """The fixed sets keep their colour whatever else is drawn; a set of other names gets the same
    colours in the loss and the spectrum figure, and no two sets in a figure share a colour."""
    n = 4
    lam = np.array([4.0, 2.0, 1.0, 0.5])
    for names in (["true", "random"], ["mine", "true"], ["a", "b", "noisy", "random"]):
        loss = P.plot_loss_curves(np.arange(n), {k: np.linspace(1, 0.1, n) for k in names}, linear_xmax=None)
        spec = P.plot_spectrum_projections(lam, {k: np.ones(n) for k in names})
        c_loss = {k: to_hex(_lines(loss.axes[0])[P.label_name(k)].get_color()) for k in names}
        c_spec = {k: to_hex(_lines(spec.axes[0])[P.label_name(k)].get_color()) for k in names}
        assert c_loss == c_spec
        assert len(set(c_loss.values())) == len(names)                 # no two sets share a colour
        assert all(c_loss[k] == P.label_color(k).lower() for k in names if k in P.LABEL_COLORS)
        # the legend shows the same colours
        assert _legend_colors(loss.axes[0].get_legend()) == {P.label_name(k): c for k, c in c_loss.items()}


# --------------------------------------------------------------------------- loss curves
def test_loss_curves_two_panels_data_scales_limits_legend():
    fig = P.plot_loss_curves(STEPS, CURVES, ylabel="risk", title="the title")
    assert len(fig.axes) == 2
    ax_lin, ax_log = fig.axes
    assert (ax_lin.get_xscale(), ax_lin.get_yscale()) == ("linear", "linear")
    assert (ax_log.get_xscale(), ax_log.get_yscale()) == ("log", "log")
    lin, log = _lines(ax_lin), _lines(ax_log)
    for k, y in CURVES.items():
        _assert_data(lin[P.label_name(k)], STEPS, y)
        _assert_data(log[P.label_name(k)], STEPS[1:], y[1:])         # step 0 is not on a log axis
        assert lin[P.label_name(k)].get_linestyle() == "-"           # no measurements: predictions solid
        assert to_hex(lin[P.label_name(k)].get_color()) == to_hex(log[P.label_name(k)].get_color())
    assert to_hex(lin["true labels"].get_color()) == P.label_color("true").lower()
    # "auto": the step by which half of the curves fell below 25% of their start (true: 2, random: 5,
    # mine: 50), rounded up to 1, 2, 2.5 or 5 x 10^k
    first = sorted(STEPS[np.nonzero(y <= 0.25 * y[0])[0][0]] for y in CURVES.values())
    assert first == [2, 5, 50] and ax_lin.get_xlim() == (0, 5)
    assert ax_lin.get_ylim() == pytest.approx((0, 1.05 * 1.0))
    # log panel: from 1e-12 of the largest positive value (0.72 at step 1) to above it, 1.6x margins
    hi = max(y[1:].max() for y in CURVES.values())
    assert ax_log.get_ylim() == pytest.approx((hi * 1e-12 / 1.6, hi * 1.6))
    _contains(ax_log.get_ylim(), [v for y in CURVES.values() for v in y[1:] if v >= hi * 1e-12])
    assert ax_log.get_xlim()[0] <= 1 and ax_log.get_xlim()[1] >= 100
    wide = P.plot_loss_curves(STEPS, CURVES, floor_ratio=1e-40).axes[1]
    _contains(wide.get_ylim(), np.concatenate([y[1:] for y in CURVES.values()]))
    # legend: each label set once, on the linear panel; titles and labels
    assert _legend_texts(ax_lin.get_legend()) == [P.label_name(k) for k in CURVES]
    assert ax_log.get_legend() is None and not fig.legends
    assert fig.get_suptitle() == "the title"
    assert ax_lin.get_title("left") and ax_log.get_title("left") == "log–log axes"
    assert ax_lin.get_ylabel() == "risk" and ax_log.get_ylabel() == "risk (log scale)"
    assert "iteration" in ax_lin.get_xlabel() and "log scale" in ax_log.get_xlabel()


def test_loss_curves_measured_dashed_predictions_and_masking():
    msteps = STEPS[::2]                                               # 0, 2, 10, 100
    meas = {"true": np.array([0.5, 0.1, 0.0, inf]), "noisy": np.array([0.9, 0.5, 0.3, 0.2])}
    fig = P.plot_loss_curves(STEPS, {"true": CURVES["true"]}, meas, measured_steps=msteps, linear_xmax=10.0)
    ax_lin, ax_log = fig.axes
    lin, log = _lines(ax_lin), _lines(ax_log)
    assert lin["true labels (predicted)"].get_linestyle() == "--"
    m = lin["true labels (measured)"]
    assert m.get_linestyle() == "-" and m.get_marker() == "o"
    _assert_data(m, msteps, meas["true"])                             # linear panel: as given
    _assert_data(log["true labels (measured)"], msteps[1:], [0.1, nan, nan])  # log: 0 and inf masked
    _assert_data(log["noisy labels (measured)"], msteps[1:], meas["noisy"][1:])
    assert ax_lin.get_xlim() == (0, 10)
    assert ax_lin.get_ylim() == pytest.approx((0, 1.05 * 0.9))      # the largest finite loss; inf ignored
    # one legend under both panels, each entry once, predicted/measured pairs in the set's colour
    assert ax_lin.get_legend() is None and len(fig.legends) == 1
    texts = _legend_texts(fig.legends[0])
    assert texts == ["true labels (predicted)", "true labels (measured)", "noisy labels (measured)"]
    cols = _legend_colors(fig.legends[0])
    assert cols["true labels (predicted)"] == cols["true labels (measured)"] == P.label_color("true").lower()
    assert cols["noisy labels (measured)"] == P.label_color("noisy").lower()
    _render(fig)


def test_loss_curves_one_panel_and_degenerate_inputs():
    fig = P.plot_loss_curves(STEPS, {"x": np.zeros(7)}, linear_xmax=None)
    (ax,) = fig.axes
    assert ax.get_xscale() == "log"
    assert np.isnan(_xy(_lines(ax)["x"])[1]).all()                    # zeros: nothing on the log axis
    one = P.plot_loss_curves([0], {"true": [1.0]})                   # one point at step 0
    assert one.axes[0].get_xlim() == (0, 1)
    _assert_data(_lines(one.axes[0])["true labels"], [0], [1.0])
    for f in (one, P.plot_loss_curves([0, 1, 2], {"true": [nan] * 3}),
              P.plot_loss_curves([0, 1, 2], {"true": [inf, 1.0, 0.1]})):
        _render(f, layout=False)
    with pytest.raises(InputError, match="steps is empty"):
        P.plot_loss_curves([], {"true": []})
    with pytest.raises(InputError, match="curves is empty"):
        P.plot_loss_curves(STEPS, {})
    with pytest.raises(InputError, match="entries, expected 7"):
        P.plot_loss_curves(STEPS, {"true": np.ones(3)})
    with pytest.raises(InputError, match=r"measured\['true'\] has 7 entries, expected 2"):
        P.plot_loss_curves(STEPS, {"true": np.ones(7)}, {"true": np.ones(7)}, measured_steps=[0, 1])


# ------------------------------------------------------------------ spectrum projections
LAM = np.array([4.0, 2.0, 1.0, 0.5, 0.25])
PROJ = {"true": np.array([3.0, -1.0, 1e-5, 0.5, 0.1]), "random": np.array([1.0, 1, -1, 1, -1])}


def _spectrum_axes(fig):
    ax, ax_e = fig.axes[0], fig.axes[1]
    (ax_r,) = [a for a in fig.axes if a.get_ylabel().startswith(r"$\lambda_i/\lambda_{\max}$")]
    return ax, ax_r, ax_e


def test_spectrum_projections_panels():
    fig = P.plot_spectrum_projections(LAM, PROJ, title="spec")
    ax, ax_r, ax_e = _spectrum_axes(fig)
    idx = np.arange(1, 6)
    top = _lines(ax)
    # |v_i^T y|, signs dropped, below the floor (1e-3) not drawn
    _assert_data(top["true labels"], idx, [3.0, 1.0, nan, 0.5, 0.1])
    _assert_data(top["random $\\pm1$ labels"], idx, np.ones(5))
    ref = [ln for k, ln in top.items() if "random $\\pm1$ labels" in k and k.startswith("$\\sqrt")]
    assert len(ref) == 1 and tuple(_xy(ref[0])[1]) == (1.0, 1.0)
    assert ax.get_yscale() == "log" and ax.get_ylim() == pytest.approx((1e-3, 6.0))
    # right axis: lambda_i / lambda_max
    (eig,) = ax_r.get_lines()
    _assert_data(eig, idx, LAM / 4.0)
    assert ax_r.get_yscale() == "log"
    _contains(ax_r.get_ylim(), LAM / 4.0)
    assert "4" in ax_r.get_ylabel()                                   # lambda_max = 4 named
    # bottom: cumulative label energy, ending at 1, and the uniform spread i/n
    bottom = _lines(ax_e)
    for k, p in PROJ.items():
        _assert_data(bottom[P.label_name(k)], idx, np.cumsum(p ** 2) / np.sum(p ** 2))
        assert bottom[P.label_name(k)].get_drawstyle() == "steps-post"
    _assert_data(bottom["uniform spread $i/n$"], idx, idx / 5)
    assert ax_e.get_ylim() == (-0.02, 1.02)
    assert ax_e.get_xscale() == ax.get_xscale() == "log" and ax_e.get_xlim() == pytest.approx((0.8, 6.25))
    # colours of the sets agree between panels and with label_color; legends list each entry once
    for k in PROJ:
        assert to_hex(top[P.label_name(k)].get_color()) == to_hex(bottom[P.label_name(k)].get_color()) \
            == P.label_color(k).lower()
    assert len(_legend_texts(ax.get_legend())) == 4 and "eigenvalue" in _legend_texts(ax.get_legend())[-1]
    assert _legend_texts(ax_e.get_legend()) == ["true labels", "random $\\pm1$ labels", "uniform spread $i/n$"]
    assert fig.get_suptitle() == "spec" and ax.get_ylabel() and ax_e.get_xlabel() and ax_e.get_ylabel()
    linear = P.plot_spectrum_projections(LAM, PROJ, log_index=False, reference=None)
    ax, _, ax_e = _spectrum_axes(linear)
    assert ax_e.get_xscale() == "linear" and ax_e.get_xlim() == (0.8, 6)
    assert len(_legend_texts(ax.get_legend())) == 3                  # no reference line


def test_spectrum_reference_line_stays_in_view():
    """Regression: with projections all far below 1 the top limit was 2 x their maximum, so the
    reference line at 1 (listed in the legend) was outside the panel."""
    fig = P.plot_spectrum_projections(LAM, {"true": np.full(5, 0.01)})
    _contains(fig.axes[0].get_ylim(), [1.0, 0.01])


def test_spectrum_degenerate_inputs():
    # lambda_max = 0: no ratios; projections all NaN or all below the floor: nothing in the top panel
    fig = P.plot_spectrum_projections([0.0, 0.0], {"true": [nan, nan], "random": [0.0, 0.0]})
    assert np.isnan(_xy(_spectrum_axes(fig)[1].get_lines()[0])[1]).all()
    assert all(np.isnan(_xy(ln)[1]).all() for ln in fig.axes[0].get_lines() if ln.get_marker() == "o")
    for f in (fig, P.plot_spectrum_projections([1.0], {"true": [2.0]}),
              P.plot_spectrum_projections([2.0, nan, 0.5], {"true": [nan, 1.0, 2.0]})):
        _render(f, layout=False)
    with pytest.raises(InputError, match="eigenvalues is empty"):
        P.plot_spectrum_projections([], {"true": []})
    with pytest.raises(InputError, match="projections is empty"):
        P.plot_spectrum_projections(LAM, {})
    with pytest.raises(InputError, match="expected 5"):
        P.plot_spectrum_projections(LAM, {"true": np.ones(4)})


# ------------------------------------------------------------------- complexity vs noise
def test_complexity_vs_noise_panels():
    p = np.array([0.0, 0.25, 0.5])
    c, s = np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.2, 0.3])
    seeds = np.array([[0.9, 1.1], [1.8, 2.2], [2.7, 3.3]])
    fig = P.plot_complexity_vs_noise(p, c, spread=s, per_seed=seeds, reference={"rand": 7.0, "exp": [1.5, 2.5, 3.5]},
                                     test_losses={"err": ([0.1, 0.2, 0.3], [0.01, 0.02, 0.03]),
                                                  "l1": np.array([0.2, 0.3, 0.4])}, title="fig2")
    ax, ax2 = fig.axes
    lines = ax.get_lines()
    dots = [ln for ln in lines if ln.get_linestyle() == "None"]
    assert len(dots) == 2 and all(d.get_marker() == "o" for d in dots)
    for j, d in enumerate(dots):
        _assert_data(d, p, seeds[:, j])
    named = _lines(ax)
    _assert_data(named["complexity (mean)"], p, c)
    assert tuple(_xy(named["rand"])[1]) == (7.0, 7.0)                 # a float: horizontal line
    _assert_data(named["exp"], p, [1.5, 2.5, 3.5])                    # an array: a curve over p
    (band,) = ax.collections
    lo, hi = _band(band, p)
    np.testing.assert_allclose(lo, c - s)
    np.testing.assert_allclose(hi, c + s)
    assert ax.get_ylim()[0] == 0
    _contains(ax.get_ylim(), np.r_[c + s, seeds.ravel(), 7.0])
    assert Counter(_legend_texts(ax.get_legend())) == Counter(
        ["individual seeds", "mean ± 1 sd over seeds", "complexity (mean)", "rand", "exp"])
    second = _lines(ax2)
    _assert_data(second["err"], p, [0.1, 0.2, 0.3])
    _assert_data(second["l1"], p, [0.2, 0.3, 0.4])
    assert tuple(_xy(second["chance error (0.5)"])[1]) == (0.5, 0.5)
    assert len(ax2.collections) == 1                                  # sd band only for "err"
    assert ax2.get_ylim()[0] == 0 and _legend_texts(ax2.get_legend()) == ["err", "l1", "chance error (0.5)"]
    assert fig.get_suptitle() == "fig2" and ax.get_title("left") and ax2.get_title("left")
    assert "noise" in ax.get_xlabel() and "complexity" in ax.get_ylabel() and ax2.get_ylabel() == "test loss"
    only = P.plot_complexity_vs_noise(p, c)
    assert len(only.axes) == 1 and list(_lines(only.axes[0])) == ["complexity (mean)"]
    _render(fig)


def test_complexity_vs_noise_degenerate_inputs():
    for f in (P.plot_complexity_vs_noise([0.5], [1.0]),
              P.plot_complexity_vs_noise([0, 0.5, 1], [1.0, nan, 2], spread=[nan, 1, 1],
                                         per_seed=[[1, nan], [nan, nan], [2, 2]], reference={"c": [1, nan, 2]},
                                         test_losses={"e": ([0.1, nan, 0.3], None)})):
        _render(f, layout=False)
    with pytest.raises(InputError, match="noise is empty"):
        P.plot_complexity_vs_noise([], [])
    with pytest.raises(InputError, match=r"per_seed must have shape \(3, n_seeds\)"):
        P.plot_complexity_vs_noise([0, 0.5, 1], [1, 2, 3], per_seed=np.ones((2, 2)))
    with pytest.raises(InputError, match="complexity has 2 entries"):
        P.plot_complexity_vs_noise([0, 0.5, 1], [1, 2])


# ---------------------------------------------------------------------------- eigenvalues
def test_eigenvalues_line_markers_mean_and_masking():
    lam = np.array([4.0, 2.0, 1.0, 0.5])
    fig = P.plot_eigenvalues(lam, title="eig")
    (ax,) = fig.axes
    lines = _lines(ax)
    _assert_data(lines[r"$\lambda_i(H^\infty)$"], [1, 2, 3, 4], lam)
    assert ax.get_yscale() == "log"
    _contains(ax.get_ylim(), lam)
    _contains(ax.get_xlim(), [1, 4])
    (mx,) = [ln for k, ln in lines.items() if k.startswith(r"$\lambda_{\max} = 4$")]
    _assert_data(mx, [1], [4.0])
    (mn,) = [ln for k, ln in lines.items() if k.startswith(r"$\lambda_{\min} = 0.5$")]
    _assert_data(mn, [4], [0.5])
    assert r"\lambda_{\max}/\lambda_{\min} = 8$" in mn.get_label()
    (mean,) = [ln for k, ln in lines.items() if k.startswith("mean eigenvalue")]
    assert tuple(_xy(mean)[1]) == (1.875, 1.875) and "1.88" in mean.get_label()
    assert len(_legend_texts(ax.get_legend())) == 4
    assert fig.get_suptitle() == "eig" and "n = 4" in ax.get_title("left") and ax.get_xlabel() and ax.get_ylabel()
    assert not ax.texts
    assert list(_lines(P.plot_eigenvalues(lam, annotate=False).axes[0])) == [r"$\lambda_i(H^\infty)$"]

    bad = P.plot_eigenvalues([3.0, 1.0, 0.0, -1e-12, nan])
    (ax,) = bad.axes
    _assert_data(_lines(ax)[r"$\lambda_i(H^\infty)$"], [1, 2, 3, 4, 5], [3.0, 1.0, nan, nan, nan])
    assert [t.get_text() for t in ax.texts] == ["2 eigenvalue(s) <= 0 not shown; 1 non-finite eigenvalue(s) not shown"]
    assert not [k for k in _lines(ax) if "min" in k]                   # lambda_min not marked: not positive
    _contains(ax.get_ylim(), [3.0, 1.0])
    neg = P.plot_eigenvalues([-1.0, -2.0]).axes[0]
    assert np.isnan(_xy(neg.get_lines()[0])[1]).all() and neg.texts[0].get_text() == "2 eigenvalue(s) <= 0 not shown"
    for f in (bad, P.plot_eigenvalues([]), P.plot_eigenvalues([1.0])):
        _render(f, layout=False)


# ---------------------------------------------------------------------------- bound terms
def test_bound_terms_stack_total_compare_and_limits():
    p = np.array([0.0, 0.5, 1.0])
    terms = {"a": np.array([0.1, 0.2, 0.3]), "b": np.array([0.5, 0.5, 0.5])}
    fig = P.plot_bound_terms(p, terms, compare={"test error": [0.2, 2.0, 0.3]}, title="bt")
    (ax,) = fig.axes
    # stacked bottom-up in the given order
    cum = np.cumsum([np.zeros(3), *terms.values()], axis=0)
    assert [c.get_label() for c in ax.collections] == ["a", "b"]
    for k, coll in enumerate(ax.collections):
        lo, hi = _band(coll, p)
        np.testing.assert_allclose(lo, cum[k])
        np.testing.assert_allclose(hi, cum[k + 1])
    lines = _lines(ax)
    _assert_data(lines["bound (sum)"], p, cum[-1])
    _assert_data(lines["test error"], p, [0.2, 2.0, 0.3])
    assert tuple(_xy(lines["1 (trivial for a [0,1] loss)"])[1]) == (1.0, 1.0)
    assert ax.get_xlim() == (0, 1)
    # regression: the compared test error above the bound (2.0 > 0.8) was cut off at 1.08
    assert ax.get_ylim() == pytest.approx((0, 2.0 * 1.08))
    # the legend reads top-down as the stack does
    assert _legend_texts(ax.get_legend()) == ["1 (trivial for a [0,1] loss)", "test error", "bound (sum)", "b", "a"]
    assert fig.get_suptitle() == "bt" and ax.get_title("left") and ax.get_xlabel() and ax.get_ylabel()
    no_thr = P.plot_bound_terms([0, 1], {"c": [0.5, 2.0], "k": [0.1, 0.1]}, threshold=None)
    assert no_thr.axes[0].get_ylim() == pytest.approx((0, 2.1 * 1.08))


def test_bound_terms_degenerate_inputs():
    same = P.plot_bound_terms([0.5, 0.5], {"a": [0.3, 0.4]})
    _contains(same.axes[0].get_xlim(), [0.5])
    zero = P.plot_bound_terms([0, 1], {"a": [0.0, 0.0]}, threshold=None)
    assert zero.axes[0].get_ylim() == (0, 1)
    for f in (same, zero, P.plot_bound_terms([0.5], {"a": [0.3]}),
              P.plot_bound_terms([0, 0.5, 1], {"a": [0.1, nan, 0.2]}),
              P.plot_bound_terms([0, 1], {"a": [nan, nan]}, threshold=None)):
        _render(f, layout=False)
    with pytest.raises(InputError, match="noise is empty"):
        P.plot_bound_terms([], {"a": []})
    with pytest.raises(InputError, match="terms is empty"):
        P.plot_bound_terms([0, 1], {})
    with pytest.raises(InputError, match=r"compare\['m'\] has 1 entries"):
        P.plot_bound_terms([0, 1], {"a": [1, 1]}, compare={"m": [1]})


# ----------------------------------------------------------------------- Theorem 6.1 figure
N = np.array([10.0, 100.0, 1000.0])
MEAS = {"lin": ([0.5, 0.6, 0.65], [0.05, 0.05, 0.05]), "cubic": ([1.0, 1.5, 1.8], None), "rand": ([2.0, 6, 20], None)}


def _data_box(ax):
    """The axes' data area in display coordinates (after a draw)."""
    return ax.get_window_extent()


def _overlaps(a, b) -> bool:
    return a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1


def test_target_complexity_small_multiples_values_bounds_ratios():
    fig = P.plot_target_complexity(N, MEAS, {"lin": 1.0, "cubic": 1.2}, {"lin": 0.8}, title="thm6")
    # one panel per target, then the ratio panel
    assert len(fig.axes) == len(MEAS) + 1
    panels, ax2 = fig.axes[:-1], fig.axes[-1]
    markers = set()
    for j, (ax, (k, (mu, _))) in enumerate(zip(panels, MEAS.items())):
        assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log") and k in ax.get_title("left")
        named = _lines(ax)
        _assert_data(named[k], N, mu)                                  # only this target's curve here
        assert [ln for ln in ax.get_lines() if ln.get_marker() not in ("None", None, "")] == [named[k]]
        assert to_hex(named[k].get_color()) == P._CYCLE[j].lower()
        markers.add(named[k].get_marker())
        bounds = [v for v in ({"lin": [1.0, 0.8], "cubic": [1.2]}.get(k, []))]
        _contains(ax.get_ylim(), list(mu) + bounds)
    assert len(markers) == len(MEAS)                                   # every target its own marker
    # bound (dashed) and proof constant (dotted) in the target's own panel only
    flat = {(ln.get_linestyle(), tuple(_xy(ln)[1])) for ln in panels[0].get_lines()}
    assert ("--", (1.0, 1.0)) in flat and (":", (0.8, 0.8)) in flat
    assert ("--", (1.2, 1.2)) in {(ln.get_linestyle(), tuple(_xy(ln)[1])) for ln in panels[1].get_lines()}
    assert len(panels[2].get_lines()) == 1 and "no Cor. 6.2 bound" in [t.get_text() for t in panels[2].texts]
    lo, hi = _band(panels[0].collections[0], N)
    np.testing.assert_allclose(lo, np.subtract(MEAS["lin"][0], 0.05))
    np.testing.assert_allclose(hi, np.add(MEAS["lin"][0], 0.05))
    # ratio panel: one curve per target with a bound, each with its own marker and line style ...
    ratios = [ln for ln in ax2.get_lines() if ln.get_marker() not in ("None", None, "")]
    assert len(ratios) == 2
    _assert_data(ratios[0], N, np.array(MEAS["lin"][0]) / 1.0)
    _assert_data(ratios[1], N, np.array(MEAS["cubic"][0]) / 1.2)
    assert ratios[0].get_marker() != ratios[1].get_marker() and ratios[0].get_linestyle() != ratios[1].get_linestyle()
    # ... and (regression) a ratio above 1.1 -- the target exceeding its bound -- stays in view
    assert ax2.get_ylim()[0] == 0
    _contains(ax2.get_ylim(), [1.5, 1.1])
    assert _legend_texts(ax2.get_legend()) == ["lin", "cubic"]
    texts = _legend_texts(fig.legends[0])
    assert texts[0].startswith("measured") and "± 1 sd" in texts[1] and len(texts) == 4
    assert fig.get_suptitle() == "thm6" and ax2.get_title("left") and ax2.get_ylabel()
    _render(fig)
    # legends lie outside every data area
    for leg in (ax2.get_legend(), fig.legends[0]):
        box = leg.get_window_extent()
        assert not any(_overlaps(box, _data_box(a)) for a in fig.axes), leg


def test_target_complexity_legend_only_lists_drawn_lines_and_masks():
    """Regression: the bound and proof-constant entries were listed even when no such line was drawn."""
    bare = P.plot_target_complexity(N, MEAS, {})
    assert _legend_texts(bare.legends[0]) == ["measured (mean over samples)", "± 1 sd over samples"]
    assert not bare.axes[-1].get_lines()[1:] and bare.axes[-1].get_legend() is None
    assert bare.axes[-1].get_ylim() == (0, 1.1)
    bounds_only = P.plot_target_complexity(N, MEAS, {"lin": 1.0})
    assert len(_legend_texts(bounds_only.legends[0])) == 3
    zero = P.plot_target_complexity([10, 20], {"a": ([0.0, 0.5], [0.6, 0.1])}, {"a": 1.0})
    _assert_data(_lines(zero.axes[0])["a"], [10, 20], [nan, 0.5])      # 0 masked on the log axis
    assert len(zero.axes) == 2
    for f in (zero, P.plot_target_complexity([10], {"a": ([0.5], [0.1])}, {"a": 1.0}),
              P.plot_target_complexity(N, {"a": ([nan, 0.5, 0.6], None)}, {"a": 1.0}, {"a": 0.8})):
        _render(f, layout=False)
    for bad_n, msg in (([], "n_values is empty"), ([0, 10, 20], "positive sample sizes"), ([nan, 1, 2], "positive")):
        with pytest.raises(InputError, match=msg):
            P.plot_target_complexity(bad_n, {"a": ([1.0] * len(bad_n), None)}, {})
    with pytest.raises(InputError, match="measured is empty"):
        P.plot_target_complexity(N, {}, {})


# ------------------------------------------------------------------------ twin-axes Fig. 2
def test_noise_twin_axes_left_right_and_limits():
    p = np.array([0.0, 0.5, 1.0])
    losses = {"l1": ([0.2, 0.6, 0.9], [0.05, 0.3, 0.4]), "err": ([0.1, 0.3, 0.5], None)}
    comp = ([2.0, 4.0, 6.0], [0.5, 1.0, 3.0])
    fig = P.plot_noise_twin_axes(p, losses, comp)
    ax, right = fig.axes
    left = _lines(ax)
    _assert_data(left["l1 (left)"], p, losses["l1"][0])
    _assert_data(left["err (left)"], p, losses["err"][0])
    (cl,) = right.get_lines()
    _assert_data(cl, p, comp[0])
    assert cl.get_label().endswith("(right)") and to_hex(cl.get_color()) == P.OKABE_ITO["green"].lower()
    lo, hi = _band(right.collections[0], p)
    np.testing.assert_allclose(hi, np.add(*comp))
    assert ax.get_xlim() == (0, 1)
    # regression: the limits were 1.08 x / 1.15 x the largest mean, cutting off mean + sd
    assert ax.get_ylim()[0] == 0 and right.get_ylim()[0] == 0
    _contains(ax.get_ylim(), [1.0, 0.9 + 0.4])
    _contains(right.get_ylim(), [6.0 + 3.0])
    assert _legend_texts(ax.get_legend()) == ["l1 (left)", "err (left)", cl.get_label()]
    assert ax.get_ylabel() == "loss" and right.get_ylabel() == "complexity measure" and "noise" in ax.get_xlabel()
    assert ax.get_title("left") == "generalization and complexity against label noise"
    assert P.plot_noise_twin_axes(p, losses, comp, title="T").axes[0].get_title("left") == "T"
    _render(fig)


def test_noise_twin_axes_degenerate_inputs():
    no_losses = P.plot_noise_twin_axes([0, 1], {}, ([1.0, 2.0], None))
    assert no_losses.axes[0].get_ylim() == (0, 1)
    for f in (no_losses, P.plot_noise_twin_axes([0.5], {"l": ([0.3], None)}, ([1.0], None)),
              P.plot_noise_twin_axes([0, 0.5, 1], {"l": ([0.3, nan, 0.4], [nan, 0.1, 0.1])},
                                     ([1.0, nan, 2], [nan, 1, 1])),
              P.plot_noise_twin_axes([0, 1], {"l": ([0.3, 0.4], None)}, ([nan, nan], None))):
        _render(f, layout=False)
    with pytest.raises(InputError, match="noise is empty"):
        P.plot_noise_twin_axes([], {"l": ([], None)}, ([], None))
    with pytest.raises(InputError, match=r"losses\['l'\] sd has 1 entries"):
        P.plot_noise_twin_axes([0, 1], {"l": ([0.3, 0.4], [0.1])}, ([1.0, 2.0], None))


# ------------------------------------------------------------------------- plain log ticks
def test_plain_log_ticks_labels_at_the_given_values():
    fig = P.plot_eigenvalues([4.0, 2.0, 1.0])
    ax = fig.axes[0]
    ax.set_xscale("log")
    values = [250, 4000, 1e6, 0.25, 2.5e-5]
    P.plain_log_ticks(ax, values)
    P.plain_log_ticks(ax, [0.5, 2, 1 / 3], axis="y")
    ax.set_xlim(1e-5, 2e6)
    ax.set_ylim(0.2, 5)
    fig.draw_without_rendering()
    assert list(ax.get_xticks()) == [float(v) for v in values]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["250", "4000", "1000000", "0.25", "0.000025"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0.5", "2", "0.333333"]
    assert len(ax.xaxis.get_minorticklocs()) == 0 and len(ax.yaxis.get_minorticklocs()) == 0


# ----------------------------------------------------------------------- style and backend
def test_style_fonts_and_no_pyplot():
    fig = P.plot_loss_curves(STEPS, CURVES, {"true": CURVES["true"]}, title="t")
    assert type(fig.canvas) is FigureCanvasBase                       # no GUI backend, no pyplot registry
    _render(fig)
    texts = [t for t in fig.findobj(Text) if t.get_text() and t.get_visible()]
    assert len(texts) > 10 and min(t.get_fontsize() for t in texts) >= 10
    # the module never imports pyplot (nor selects a backend): PNGs are rendered by Agg via savefig
    tree = ast.parse(inspect.getsource(P))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {f"{n.module}.{a.name}" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                 for a in n.names}
    assert not {m for m in imported if "pyplot" in m or m.endswith(".use")}, imported
    assert "matplotlib.use(" not in inspect.getsource(P)


# ---------------------------------------------------------------------------------- saving
def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def _figure():
    """A small figure (save_figure is generic; the builders are drawn above)."""
    fig = Figure(figsize=(3, 2))
    fig.subplots().plot([1, 2, 3], [3, 1, 2], label="$x^2$")
    fig.axes[0].set_title("t")
    return fig


def test_save_figure_formats_dpi_folder_and_reproducible_bytes(tmp_path):
    paths = P.save_figure(_figure(), tmp_path / "new" / "dir", "eig", dpi=40, formats=("png", "pdf", "svg"))
    assert paths == [tmp_path / "new" / "dir" / f"eig.{f}" for f in ("png", "pdf", "svg")]
    assert sorted(p.name for p in (tmp_path / "new" / "dir").iterdir()) == ["eig.pdf", "eig.png", "eig.svg"]
    png, pdf, svg = (p.read_bytes() for p in paths)
    assert _png_size(png) == (120, 80) and pdf[:5] == b"%PDF-" and b"<svg" in svg
    # into a RunFolder's figures/ (anything with figures_dir); no date, version or random id in the
    # files: a rebuilt figure gives the same bytes
    run = types.SimpleNamespace(figures_dir=tmp_path / "run" / "figures")
    again = P.save_figure(_figure(), run, "eig", dpi=40, formats=("png", "pdf", "svg"))
    assert [p.parent for p in again] == [run.figures_dir] * 3
    assert [p.read_bytes() for p in again] == [png, pdf, svg]
    # default: PNG and PDF, 150 dpi
    assert [p.name for p in P.save_figure(_figure(), tmp_path / "two", "x")] == ["x.png", "x.pdf"]
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == ["x.pdf", "x.png"]
    assert _png_size((tmp_path / "two" / "x.png").read_bytes()) == (450, 300)
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp") or p.name.startswith(".")]


def test_save_figure_refuses_bad_names_and_formats_before_writing(tmp_path):
    P.save_figure(_figure(), tmp_path, "f", formats=("png",))
    before = (tmp_path / "f.png").read_bytes()
    for name in ("", ".hidden", "a/b", "a b", "f\n", "/x"):
        with pytest.raises(InputError, match="plain file stem"):
            P.save_figure(_figure(), tmp_path, name)
    # regression: an unknown format failed only after the PNG had been replaced
    with pytest.raises(InputError, match=r"cannot save figures as \['pnj'\]"):
        P.save_figure(P.plot_eigenvalues([1.0, 0.1]), tmp_path, "f", formats=("png", "pnj"))
    assert (tmp_path / "f.png").read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_save_figure_each_file_is_atomic_on_its_own(tmp_path, monkeypatch):
    """The rename of the PDF fails after the PNG was written: the new PNG is in place, the previous
    PDF untouched, no temporary left (a draw failure, which keeps both, is in test_runfolder.py)."""
    P.save_figure(_figure(), tmp_path, "f", dpi=40)
    old_pdf = (tmp_path / "f.pdf").read_bytes()
    real = os.replace

    def replace(src, dst):
        if str(dst).endswith(".pdf"):
            raise OSError("simulated failure")
        return real(src, dst)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError, match="simulated"):
        P.save_figure(_figure(), tmp_path, "f", dpi=20)
    monkeypatch.undo()
    assert _png_size((tmp_path / "f.png").read_bytes()) == (60, 40)
    assert (tmp_path / "f.pdf").read_bytes() == old_pdf
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pdf", "f.png"]


# -------------------------------------------------------------- edge cases (from test_report)
def test_figure_functions_edge_cases_emit_no_warnings(tmp_path):
    """Zeros on log axes, measured vs predicted, large n, a non-positive eigenvalue: no warnings (-W error)."""
    steps = np.array([0, 1, 2, 5, 10, 50, 100])
    pred = {"true": 0.5 * 0.5 ** steps, "custom set": np.r_[0.5, 0.4, 0.3, 0.0, 0.0, 0.0, 0.0]}
    meas = {"true": 0.5 * 0.52 ** steps[::2]}
    figs = {
        "a": P.plot_loss_curves(steps, pred, meas, measured_steps=steps[::2], title="t"),
        "b": P.plot_loss_curves(steps, {"x": np.zeros(7)}, linear_xmax=None),
        "c": P.plot_spectrum_projections(np.linspace(2, 0.01, 700), {"true": np.r_[26.0, np.zeros(699)],
                                                                     "random": np.ones(700)}),
        "d": P.plot_eigenvalues(np.array([3.0, 1.0, 0.0, -1e-12])),
        "e": P.plot_complexity_vs_noise([0, 0.5, 1], [1, 2, 3]),
        "f": P.plot_bound_terms([0, 1], {"c": [0.5, 2.0], "k": [0.1, 0.1]}, threshold=None),
    }
    for name, fig in figs.items():
        (png,) = P.save_figure(fig, tmp_path, name, dpi=40, formats=("png",))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # measured curves drawn solid with markers, predictions dashed
    ax_lin = figs["a"].axes[0]
    styles = {ln.get_label(): ln.get_linestyle() for ln in ax_lin.get_lines()}
    assert styles["true labels (predicted)"] == "--" and styles["true labels (measured)"] == "-"
    # more than 600 eigen-indices: small rasterized dots
    (true_dots, rand_dots) = [ln for ln in figs["c"].axes[0].get_lines() if ln.get_marker() == "."]
    assert true_dots.get_rasterized() and len(true_dots.get_xdata()) == 700
    with pytest.raises(InputError, match="entries, expected"):
        P.plot_loss_curves(steps, {"true": np.ones(3)})


# ------------------------------------------------- issue 13: ticks, zoom, legends, vacuous, paper style
def _log_fig(lo, hi):
    fig = Figure(figsize=(4, 3), layout="constrained")
    ax = fig.subplots()
    ax.plot([1, 2, 3], [lo, (lo * hi) ** 0.5, hi])
    ax.set_yscale("log")
    return fig, ax


def test_log_tick_labels_plain_in_range_scientific_outside(tmp_path):
    """Regression: minor log ticks read ``2×10^0``; in [0.01, 1000] they are plain numbers now, at
    save time for any figure; decades outside the range keep matplotlib's 10^k."""
    fig, ax = _log_fig(1.2, 5.5)
    P.save_figure(fig, tmp_path, "t", formats=("png",))
    texts = [t.get_text() for t in ax.get_yticklabels(minor=True) + ax.get_yticklabels() if t.get_text()]
    assert "2" in texts and "3" in texts and not any("10^" in t or "times" in t for t in texts), texts
    wide, ax2 = _log_fig(1e-4, 1e5)
    P.save_figure(wide, tmp_path, "w", formats=("png",))
    shown = [(t.get_position()[1], t.get_text()) for t in ax2.get_yticklabels() if t.get_text()]
    assert {"1", "100"} <= {t for _, t in shown} and any("10^{-4}" in t for _, t in shown)
    for v, t in shown:                        # plain inside [0.01, 1000], 10^k outside
        assert (t == np.format_float_positional(v, trim="-")) == (0.01 <= v <= 1000), (v, t)
    # a formatter set by hand (plain_log_ticks) is kept
    fig3, ax3 = _log_fig(1.0, 100.0)
    P.plain_log_ticks(ax3, [1, 7, 100], axis="y")
    P.save_figure(fig3, tmp_path, "h", formats=("png",))
    assert [t.get_text() for t in ax3.get_yticklabels()] == ["1", "7", "100"]


def test_loss_curves_zoom_panel_when_a_curve_collapses_onto_the_y_axis():
    """Regression: the true-label curve fell within the first 1 % of the iterations and hugged the
    linear panel's y axis; a middle panel now shows the first iterations."""
    steps = np.unique(np.r_[np.arange(0, 50), np.linspace(50, 1000, 40)])
    fast, slow = 0.5 * 0.5 ** steps, 0.5 * np.exp(-steps / 400)
    fig = P.plot_loss_curves(steps, {"true": fast, "random": slow}, linear_xmax=1000.0)
    assert len(fig.axes) == 3
    ax_lin, ax_zoom, ax_log = fig.axes
    assert ax_zoom.get_xscale() == "linear" and ax_log.get_xscale() == "log"
    # true labels fall to 25 % at k = 2 (0.2 % of 1000): the zoom spans nice(4 × 2) = 10 iterations
    assert ax_zoom.get_xlim() == (0, 10) and "10" in ax_zoom.get_title("left")
    _assert_data(_lines(ax_zoom)["true labels"], steps, fast)
    assert ax_zoom.get_ylim() == ax_lin.get_ylim()
    # no collapse, or zoom=None: no zoom panel
    assert len(P.plot_loss_curves(steps, {"random": slow}, linear_xmax=1000.0).axes) == 2
    assert len(P.plot_loss_curves(steps, {"true": fast}, linear_xmax=1000.0, zoom=None).axes) == 2
    assert P.plot_loss_curves(steps, {"true": fast}, linear_xmax=1000.0, zoom=50).axes[1].get_xlim() == (0, 50)


def _legend_off_data(fig):
    fig.draw_without_rendering()
    legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None] + list(fig.legends)
    assert legends
    for leg in legends:
        box = leg.get_window_extent()
        for a in fig.axes:
            d = a.get_window_extent()
            assert not (box.x0 < d.x1 and d.x0 < box.x1 and box.y0 < d.y1 and d.y0 < box.y1), (leg, a)


def test_legends_lie_outside_the_data_areas():
    """Regression: legends drawn on the curves (loss curves, Fig. 2 panels, the bound terms)."""
    _legend_off_data(P.plot_loss_curves(STEPS, CURVES))
    _legend_off_data(P.plot_loss_curves(STEPS, CURVES, {"true": CURVES["true"]}))
    p = np.array([0.0, 0.5, 1.0])
    _legend_off_data(P.plot_complexity_vs_noise(p, [1, 2, 3], spread=[0.1, 0.1, 0.1], reference={"r": 2.0},
                                                test_losses={"err": ([0.1, 0.3, 0.5], None)}))
    _legend_off_data(P.plot_bound_terms(p, {"a": [0.5, 1, 2], "b": [0.1, 0.1, 0.1]}))


def test_bound_terms_vacuous_mark_only_above_the_range():
    p = np.array([0.0, 0.5, 1.0])
    above = P.plot_bound_terms(p, {"a": [0.5, 1.0, 2.0], "b": [0.1, 0.1, 0.1]})
    texts = [t.get_text() for t in above.axes[0].texts]
    assert any(t.startswith("vacuous") and "2 of 3" in t for t in texts), texts
    below = P.plot_bound_terms(p, {"a": [0.2, 0.3, 0.4], "b": [0.1, 0.1, 0.1]})
    assert not [t for t in below.axes[0].texts if "vacuous" in t.get_text()]


def test_fig2_bound_vs_loss_vacuous_mark_only_above_the_range():
    from twolayer.experiments.arora2019.fig2_figures import plot_bound_vs_loss

    p, z = [0.0, 0.5, 1.0], [0.01, 0.01, 0.01]
    loss, err, comp = ([0.1, 0.3, 0.5], z), ([0.05, 0.2, 0.4], z), ([0.5, 0.9, 2.0], z)
    vac = plot_bound_vs_loss(p, ([0.8, 2.96, 6.75], z), loss, err, comp)
    ax = vac.axes[0]
    legend = _legend_texts(ax.get_legend())
    assert any("vacuous (> 1) at 2 of 3 levels" in t for t in legend), legend
    assert [t.get_text() for t in ax.texts] == ["vacuous region (bound > 1)"]
    _contains(ax.get_ylim(), [6.75 + 0.01, 0.05])
    fine = plot_bound_vs_loss(p, ([0.6, 0.8, 0.95], z), loss, err, comp).axes[0]
    assert not any("vacuous" in t for t in _legend_texts(fine.get_legend()))
    assert not any("vacuous" in t.get_text() for t in fine.texts)


def _pdf_size_in(data: bytes) -> tuple[float, float]:
    import re

    m = re.search(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", data)
    assert m, "no MediaBox"
    return float(m.group(1)) / 72, float(m.group(2)) / 72


def test_save_figure_paper_style_column_widths_vector_print_fonts(tmp_path):
    narrow, _ = _log_fig(1.0, 50.0)                                    # built 4 x 3 in: single column
    paths = P.save_figure(narrow, tmp_path, "one", style="paper")
    assert [p.suffix for p in paths] == [".png", ".pdf", ".svg"]       # the vector formats are added
    w, h = _pdf_size_in(paths[1].read_bytes())
    assert w == pytest.approx(3.3, abs=0.01) and h == pytest.approx(3 * 3.3 / 4, abs=0.01)
    svg = paths[2].read_text(encoding="utf-8")
    assert "<path" in svg and "<image" not in svg                     # lines are vector paths, no raster
    assert 'width="237.6pt"' in svg
    assert _png_size(paths[0].read_bytes())[0] == round(3.3 * 300)     # 300 dpi PNG
    sizes = [t.get_fontsize() for t in narrow.findobj(Text) if t.get_text()]
    assert sizes and min(sizes) >= 6 and max(sizes) <= 9
    eig = P.plot_eigenvalues([4.0, 2.0, 1.0, 0.5])                     # 6.8 in: double column, as built
    P.save_figure(eig, tmp_path, "eig", style="paper", formats=("pdf",))
    assert _pdf_size_in((tmp_path / "eig.pdf").read_bytes()) == pytest.approx((6.8, 4.2), abs=0.01)
    wide = P.plot_loss_curves(STEPS, CURVES)                            # 10.5 in: double column
    P.save_figure(wide, tmp_path, "two", style="paper", formats=("pdf",))
    assert _pdf_size_in((tmp_path / "two.pdf").read_bytes())[0] == pytest.approx(6.8, abs=0.01)
    wide_sizes = [t.get_fontsize() for t in wide.findobj(Text) if t.get_text()]
    assert min(wide_sizes) >= 6 and max(wide_sizes) <= 12 * 6.8 / 10.5 + 1e-9     # shrunk with the width
    assert sorted(p.name for p in tmp_path.glob("two.*")) == ["two.pdf", "two.svg"]
    # the default style leaves the size alone; an unknown style is refused before writing
    fig = _figure()
    P.save_figure(fig, tmp_path, "d", formats=("pdf",))
    assert _pdf_size_in((tmp_path / "d.pdf").read_bytes()) == pytest.approx((3.0, 2.0), abs=0.01)
    with pytest.raises(InputError, match="unknown figure style 'poster'"):
        P.save_figure(_figure(), tmp_path, "x", style="poster")
    assert not (tmp_path / "x.png").exists()


def test_note_hidden_names_non_positive_values_on_log_axes():
    """A negative energy is never dropped from a log axis silently: the panel says how many."""
    fig, ax = _log_fig(0.1, 1.0)
    assert P.note_hidden(ax, [0.1, 0.5, nan]) == "" and not ax.texts
    text = P.note_hidden(ax, [0.1, 0.0, -0.14], [[1.0, 0.0]])
    assert text == "not shown (log axis): 2 zero(s), 1 negative value(s), min -0.14"
    assert [t.get_text() for t in ax.texts] == [text]
    assert P.note_hidden(ax, [1.0, 1e-9, 0.5], floor=1e-6) == "not shown (log axis): 1 below the axis"


def test_lmz_stagewise_figure_notes_a_negative_energy():
    from twolayer.experiments.lmz2020.figures import plot_stagewise

    steps = np.array([0.0, 10.0, 100.0])
    herm = np.array([[1.0, 0.0, 0.5, 0.0, 0.2], [0.5, 0.01, 0.2, 0.01, 0.1], [0.1, 0.01, 0.05, -0.14, 0.05]])
    fig = plot_stagewise({8: {"steps": steps, "test_mse": np.array([0.3, 0.2, 0.1]), "hermite": herm}})
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert notes == ["not shown (log axis): 2 zero(s), 1 negative value(s), min -0.14"]
    # the axis spans STAGE_DECADES below the largest value (8 x 0.3 = 2.4), not down to round-off
    assert fig.axes[0].get_ylim() == pytest.approx((2.4e-8, 4.8))


def test_gap_ring_follows_the_stated_slope_rule_and_sits_on_its_panel():
    """Regression: the "stops shrinking" ring was drawn on both panels (the rule is applied to the
    sup gap only) and claimed the gap stopped shrinking where it still fell, only more slowly."""
    from twolayer.experiments.emawu2019.figures import plot_gap
    from twolayer.experiments.emawu2019.gap import STOP_SLOPE, stop_width

    w = np.array([10.0, 20.0, 40.0, 80.0])
    sup = np.array([1.0, 0.5, 0.4, 0.33])                               # slopes -1, -0.32, -0.28
    local = np.diff(np.log(sup)) / np.diff(np.log(w))
    assert STOP_SLOPE == -0.5 and stop_width(list(w.astype(int)), local) == 20
    assert stop_width([10, 20], np.array([-0.9])) is None
    tab = {"gap_sup_t": (sup, 0.1 * sup), "gap_rms_t": (sup / 2, 0.1 * sup)}
    fig = plot_gap(w, {("fixed", 0.1): tab}, fit_from=20.0, stops={("fixed", 0.1): 20})
    a, b = fig.axes[:2]
    ring = [ln for ln in a.get_lines() if ln.get_markersize() == 15]
    assert len(ring) == 1 and not [ln for ln in b.get_lines() if ln.get_markersize() == 15]
    _assert_data(ring[0], [20.0], [0.5])                                # on the curve, at the stated width
    assert "-1/2" in ring[0].get_label() and "slower" in ring[0].get_label()


def test_paper_style_refits_a_wide_screen_figure(tmp_path):
    """A 17 in, three-panel screen figure (long in-panel legends, a six-column figure legend, long
    titles, a log axis over one decade) shrunk to 6.8 in: fonts cannot shrink as much as the width,
    so without refitting constrained layout collapses the axes and legends cover the data. After
    the paper style: no collapse, every legend clear of the data and inside its panel or the figure,
    no overlapping tick labels, and no line break inside ``$…$`` math."""
    import warnings

    from matplotlib.figure import Figure

    fig = Figure(figsize=(17, 4.6), layout="constrained")
    axes = fig.subplots(1, 3)
    x = np.geomspace(3e-3, 3e-2, 20)
    for k, ax in enumerate(axes):
        for i in range(5):
            ax.plot(x, x ** (i + 1), label=f"measured series number {i} with a long explanation $\\propto m^{{-1/2}}$")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"({'abc'[k]}) a rather long panel title that was written for a wide screen figure")
        ax.legend(loc="lower right")
    h, lab = axes[0].get_legend_handles_labels()
    names = [f"network of width m = {100 * 2**i} (measured)" for i in range(5)]
    fig.legend(h, names, loc="outside lower center", ncols=5)
    fig.suptitle("a title " * 12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # constrained layout's "axes sizes collapsed" would be raised
        P.save_figure(fig, tmp_path, "wide", style="paper", formats=("png",))
    fig.draw_without_rendering()
    W = fig.bbox.width
    for ax in axes:
        assert ax.bbox.width > 0.15 * W and ax.bbox.height > 0.15 * fig.bbox.height   # not collapsed
        lg = ax.get_legend()
        box = lg.get_window_extent()
        assert box.y1 <= ax.bbox.y0 + 1                                  # moved under the data
        # wrapping counts characters and ``$…$`` source renders narrower than it reads, so the fit
        # is to about the panel's width; what must hold is that legends never meet (below)
        assert box.width <= ax.get_subplotspec().get_position(fig).width * W * 1.1
        for t in lg.get_texts():
            assert all(line.count("$") % 2 == 0 for line in t.get_text().split("\n"))
        labels = sorted((t.label1.get_window_extent() for t in ax.xaxis.get_major_ticks() + ax.xaxis.get_minor_ticks()
                         if t.label1.get_visible() and t.label1.get_text()), key=lambda b: b.x0)
        assert all(a.x1 <= b.x0 + 0.5 for a, b in zip(labels, labels[1:]))
    boxes = sorted((ax.get_legend().get_window_extent() for ax in axes), key=lambda b: b.x0)
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:])) and boxes[0].x0 >= 0 and boxes[-1].x1 <= W
    (flg,) = fig.legends
    assert flg.get_window_extent().width <= 0.98 * W + 1 and flg._ncols < 5
    assert [t.get_text() for t in flg.get_texts()] == names    # short entries: fewer columns, no wrapping
