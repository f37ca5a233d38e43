r"""Paper-style figures (Arora et al. 2019, Figures 1 and 2), as pure functions of arrays.

Every function returns a :class:`matplotlib.figure.Figure` built without :mod:`matplotlib.pyplot`
(no global figure registry, no backend switch, nothing to close) under the package style
:data:`STYLE`: fonts of at least 10 pt, the Okabe–Ito colour-blind-safe palette, thin spines,
light grids, constrained layout (no ``tight_layout`` warnings). Lines on logarithmic axes only ever
receive positive values (non-positive entries are masked first), so no warnings are emitted;
a shaded ``mean ± sd`` band on a log axis whose lower edge reaches zero runs to the bottom of the
panel. Axis limits that a function sets contain every finite value it draws, apart from the
cut-offs its docstring names (a floor, a linear range, y axes starting at 0 for non-negative
quantities); NaN and infinite entries are not drawn and never set a limit. An empty x array is an
:class:`~twolayer.InputError` (nothing to plot), except where a function documents otherwise.

:func:`save_figure` writes ``NAME.png`` (150 dpi) and ``NAME.pdf`` atomically.

Label sets are keyed by name; the names ``true``, ``random``, ``worst_case`` and ``noisy`` get
fixed colours and readable legend entries (:data:`LABEL_NAMES`), any other name gets the next
free palette colour and is shown as given.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from ._errors import InputError
from ._figstyle import apply_style, declutter_ticks, plain_log_labels, style_formats
from ._io import atomic_write_bytes
from ._plot_bounds import LINESTYLES, MARKERS, plot_bound_terms, plot_target_complexity  # noqa: F401  (API)

__all__ = [
    "OKABE_ITO", "STYLE", "LABEL_COLORS", "LABEL_NAMES", "label_color", "label_name",
    "save_figure", "plot_loss_curves", "plot_spectrum_projections", "plot_complexity_vs_noise",
    "plot_eigenvalues", "plot_bound_terms", "plot_target_complexity", "plot_noise_twin_axes", "plain_log_ticks",
]

from ._plotbase import (LABEL_COLORS, LABEL_NAMES, OKABE_ITO, STYLE, _CYCLE, _GREY, _colors,  # noqa: F401
                        _finite_max, _log_limits, _nonempty, _positive, _set_xspan, _show_right_spine, _styled, _vec,
                        label_color, label_name, note_hidden)


def plain_log_ticks(ax, values, axis: str = "x") -> None:
    """On a log ``axis``, major ticks exactly at ``values`` labelled plainly (``250``, ``4000``,
    ``1000000``, ``0.25``; not ``2.5×10²`` nor ``1e+06``), to 6 significant digits, and no minor
    ticks, so sparse sweep values never overlap. Call it after ``set_xscale("log")`` (which
    resets the tickers)."""
    from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

    a = ax.xaxis if axis == "x" else ax.yaxis
    a.set_major_locator(FixedLocator([float(v) for v in values]))
    a.set_major_formatter(lambda v, pos: np.format_float_positional(float(f"{v:.6g}"), trim="-"))
    a.set_minor_locator(NullLocator())
    a.set_minor_formatter(NullFormatter())


# --------------------------------------------------------------------------------- saving
#: Metadata left out so that PNG, PDF and SVG bytes depend on the figure alone (with a fixed SVG id salt).
_NO_DATES = {"png": {"Software": None}, "pdf": {"CreationDate": None}, "svg": {"Date": None}}


def save_figure(fig: Figure, run_folder_or_dir, name: str, *, dpi: int | None = None,
                formats: Sequence[str] = ("png", "pdf"), style: str = "default") -> list[Path]:
    """Write ``fig`` as ``NAME.png`` and ``NAME.pdf``, each atomically; return the paths.

    Before saving, every log axis gets plain tick labels in ``[0.01, 1000]``
    (:func:`twolayer._figstyle.plain_log_labels`: ``2``, not ``2×10⁰``), and ``style="paper"``
    resizes the figure to a 3.3 in / 6.8 in column with print fonts and adds the vector formats
    PDF and SVG (:func:`twolayer._figstyle.apply_style`; the figure is changed in place).

    Each file is replaced atomically on its own (a failure keeps the previous version of that file,
    and leaves no temporary behind). A freshly built figure gives the same PNG, PDF and SVG bytes
    every time (no dates, software versions or random ids in them).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
    run_folder_or_dir : path-like, or an object with a ``figures_dir`` attribute
        A directory (files go directly into it; created if missing), or a
        :class:`~twolayer.runfolder.RunFolder` (files go to its ``figures/``).
    name : str
        File stem: letters, digits, ``_``, ``-`` and ``.``.
    dpi : int, optional
        Resolution of the PNG (default 150; 300 in the paper style).
    formats : sequence of str
        File types to write, each one a format matplotlib can save; all are checked before any file
        is written (an unknown one is an :class:`~twolayer.InputError` that leaves the folder as it was).
    style : {"default", "paper"}
        Figure style (:data:`twolayer._figstyle.STYLES`).
    """
    formats = style_formats(style, formats)
    if not name or any(not (c.isalnum() or c in "_-.") for c in name) or name.startswith("."):
        raise InputError(f"figure name {name!r} must be a plain file stem (letters, digits, _ - .)")
    supported = fig.canvas.get_supported_filetypes()
    unknown = [f for f in formats if f not in supported]
    if unknown:
        raise InputError(f"cannot save figures as {unknown}; supported formats: {sorted(supported)}")
    folder = Path(getattr(run_folder_or_dir, "figures_dir", run_folder_or_dir))
    style_dpi = apply_style(fig, style)
    dpi = style_dpi if dpi is None else dpi
    plain_log_labels(fig)
    if style == "paper":  # after the tick formatters are final: overlapping minor labels go
        declutter_ticks(fig)
    out = []
    with matplotlib.rc_context({**STYLE, "svg.hashsalt": "twolayer"}):
        for fmt in formats:
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt, dpi=dpi, facecolor="white", metadata=_NO_DATES.get(fmt))
            out.append(atomic_write_bytes(folder / f"{name}.{fmt}", buf.getvalue()))
    return out


# ---------------------------------------------------------------------------- loss curves
def _auto_linear_xmax(steps: np.ndarray, curves: Mapping[str, np.ndarray]) -> float:
    """Smallest step by which at least half of the curves fell below 25% of their start."""
    hits = []
    for c in curves.values():
        c = np.asarray(c, dtype=np.float64)
        start = c[0] if c.size and np.isfinite(c[0]) and c[0] > 0 else _finite_max([c], math.nan)
        below = np.nonzero(c <= 0.25 * start)[0]
        hits.append(steps[below[0]] if below.size else np.inf)
    hits.sort()
    k = hits[(len(hits) - 1) // 2] if hits else np.inf
    if not (np.isfinite(k) and k > 0):
        return float(steps[-1])
    return float(min(_nice_ceil(k), steps[-1]))


#: The zoom panel appears when a curve falls to this fraction of its start within ``ZOOM_WITHIN`` of the linear range.
ZOOM_DROP, ZOOM_WITHIN = 0.25, 0.02


def _auto_zoom(xmax: float, pairs) -> float | None:
    """Range of the zoom panel: ``_nice_ceil(4 k)`` for the first step ``k`` at which some curve fell to
    :data:`ZOOM_DROP` of its start, when ``k`` lies within :data:`ZOOM_WITHIN` × ``xmax`` (the curve
    would collapse onto the y axis of the linear panel); else None (no zoom panel)."""
    first = math.inf
    for x, c in pairs:
        c = np.asarray(c, dtype=np.float64)
        if not (c.size and np.isfinite(c[0]) and c[0] > 0):
            continue
        below = np.nonzero(c <= ZOOM_DROP * c[0])[0]
        if below.size and x[below[0]] > 0:
            first = min(first, float(x[below[0]]))
    if not (math.isfinite(first) and first <= ZOOM_WITHIN * xmax):
        return None
    return min(_nice_ceil(4 * first), ZOOM_WITHIN * 5 * xmax)


def _nice_ceil(x: float) -> float:
    """Smallest 1, 2, 2.5 or 5 × 10^k that is >= x."""
    e = 10.0 ** math.floor(math.log10(x))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= x * (1 - 1e-12):
            return m * e
    return 10 * e  # pragma: no cover


@_styled
def plot_loss_curves(steps, curves: Mapping[str, np.ndarray], measured: Mapping[str, np.ndarray] | None = None, *,
                     measured_steps=None, ylabel: str = "training loss", title: str | None = None,
                     linear_xmax="auto", floor_ratio: float = 1e-12, zoom="auto") -> Figure:
    r"""Training loss against GD iteration, one colour per label set (Arora et al. Fig. 1a, c).

    Parameters
    ----------
    steps : array_like, shape (T,)
        Iteration counts (non-negative, increasing) of the predicted curves.
    curves : dict[label, array (T,)]
        Predicted losses, e.g. from :meth:`Spectrum.loss_curve`.
    measured : dict[label, array], optional
        Measured losses (solid line with dots); the predictions are then drawn dashed.
    measured_steps : array_like, optional
        Iterations of the measured values (default ``steps``).
    linear_xmax : "auto", float or None
        Left panel: linear axes as in the paper, up to this iteration (``"auto"``: the step by which
        half of the curves fell below 25% of their start). ``None``: only the log–log panel.
    floor_ratio : float
        The log panel shows at most this many decades below the largest loss.
    zoom : "auto", float or None
        A middle panel with linear axes over the first ``zoom`` iterations (shaded in the linear
        panel). ``"auto"``: shown when some curve falls to 25% of its start within the first 2% of
        the linear range (it would hug the y axis there), over ``[0, nice(4k)]`` for that step ``k``.

    Returns
    -------
    Figure with one panel (log–log), two (linear, log–log) or three (linear, zoom, log–log). The log panel drops step 0 and
    masks non-positive and non-finite losses; the linear panel's y range is ``[0, 1.05 ×`` the
    largest finite loss ``]``. Empty ``steps``: :class:`~twolayer.InputError`.
    """
    steps = _nonempty(_vec(steps, "steps"), "steps")
    if not curves:
        raise InputError("curves is empty; pass at least one {label: loss array}")
    curves = {k: _vec(v, f"curves[{k!r}]", steps.size) for k, v in curves.items()}
    meas_steps = steps if measured_steps is None else _vec(measured_steps, "measured_steps")
    measured = {k: _vec(v, f"measured[{k!r}]", meas_steps.size) for k, v in (measured or {}).items()}
    names = list(dict.fromkeys([*curves, *measured]))
    colors = _colors(names)

    if linear_xmax == "auto":
        linear_xmax = _auto_linear_xmax(steps, curves)
    two = linear_xmax is not None
    if zoom == "auto":
        zoom = _auto_zoom(linear_xmax, [(steps, c) for c in curves.values()] + [(meas_steps, m) for m in measured.values()]) \
            if two else None
    zoom = float(zoom) if two and zoom is not None and 0 < float(zoom) < linear_xmax else None
    ncol = 1 + two + (zoom is not None)
    fig = Figure(figsize=(3.6 + 3.45 * ncol if ncol > 1 else 6.0, 4.2 + 0.5 * bool(measured)), layout="constrained")
    axes = list(np.atleast_1d(fig.subplots(1, ncol)))
    ax_lin, ax_log = (axes[0], axes[-1]) if two else (None, axes[0])
    ax_zoom = axes[1] if zoom is not None else None
    pred_style = "--" if measured else "-"

    def draw(ax, log):
        for name in names:
            c = colors[name]
            if name in curves:
                x, yv = steps, curves[name]
                if log:
                    keep = x > 0
                    x, yv = x[keep], _positive(yv[keep])
                ax.plot(x, yv, pred_style, color=c, lw=2.0,
                        label=label_name(name) + (" (predicted)" if measured else ""))
            if name in measured:
                x, yv = meas_steps, measured[name]
                if log:
                    keep = x > 0
                    x, yv = x[keep], _positive(yv[keep])
                ax.plot(x, yv, "-", marker="o", ms=3.5, lw=1.2, color=c, alpha=0.9,
                        label=label_name(name) + " (measured)")

    if two:
        draw(ax_lin, False)
        ax_lin.set_xlim(0, linear_xmax if linear_xmax > 0 else 1)
        top = _finite_max([*curves.values(), *measured.values()], 0.0)
        ax_lin.set_ylim(0, top * 1.05 if top > 0 else 1)
        ax_lin.set_xlabel("GD iteration $k$")
        ax_lin.set_ylabel(ylabel)
        ax_lin.set_title("linear axes (as in the paper)")
        ax_lin.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4), useMathText=True)
    if ax_zoom is not None:
        draw(ax_zoom, False)
        ax_zoom.set_xlim(0, zoom)
        ax_zoom.set_ylim(*ax_lin.get_ylim())
        ax_zoom.set_xlabel("GD iteration $k$")
        ax_zoom.set_title(f"zoom: the first {zoom:g} iterations")
        ax_lin.axvspan(0, zoom, color=_GREY, alpha=0.12, lw=0, zorder=0)
    draw(ax_log, True)
    ax_log.set_xscale("log")
    lim = _log_limits([v[steps > 0] for v in curves.values()] + [v[meas_steps > 0] for v in measured.values()],
                      floor_ratio)
    if lim is not None:
        ax_log.set_yscale("log")
        ax_log.set_ylim(*lim)
    ax_log.set_xlabel("GD iteration $k$ (log scale)")
    ax_log.set_ylabel(ylabel + " (log scale)")
    ax_log.set_title("log–log axes")
    if measured:  # six or more entries: one legend under both panels, pairs of predicted/measured per column
        handles, labels = (ax_lin if two else ax_log).get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncol=len(names))
    else:  # below the panel, off the data
        (ax_lin if two else ax_log).legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncols=min(len(names), 3),
                                           borderaxespad=0.0)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


# ------------------------------------------------------------------- spectrum projections
@_styled
def plot_spectrum_projections(eigenvalues, projections: Mapping[str, np.ndarray], *, floor: float = 1e-3,
                              reference: float | None = 1.0, title: str | None = None,
                              log_index: bool = True) -> Figure:
    r"""Eigenvalues and label projections (Arora et al. Fig. 1b, d), plus cumulative label energy.

    Top panel: ``|v_iᵀy|`` per label set (left, log scale) and ``λ_i/λ_max`` (right, log scale)
    against the eigen-index ``i`` (1 = largest eigenvalue). Bottom panel: the share of the label
    energy on the top ``i`` eigenvectors, ``Σ_{j≤i} (v_jᵀy)² / ‖y‖²``.

    Parameters
    ----------
    eigenvalues : array_like, shape (n,)
        Descending.
    projections : dict[label, array (n,)]
        ``v_iᵀy`` in the same order (signs are ignored).
    floor : float
        Projections below this are not drawn in the top panel (e.g. the ~1e-15 round-off of the
        worst-case labels off their eigenvector); the axis starts there.
    reference : float or None
        Horizontal reference line: 1 is the RMS of ``v_iᵀy`` for random ``±1`` labels
        (``E(v_iᵀy)² = ‖v_i‖² = 1``). ``None``: no line.
    log_index : bool
        Log-scaled eigen-index axis (zooms in on the top eigenvectors).

    Non-finite entries are not drawn; ratios ``λ_i/λ_max`` that are not positive (or all of them,
    when ``λ_max = λ_1`` is not positive) are masked. Empty ``eigenvalues``:
    :class:`~twolayer.InputError`.
    """
    lam = _nonempty(_vec(eigenvalues, "eigenvalues"), "eigenvalues")
    n = lam.size
    if not projections:
        raise InputError("projections is empty; pass at least one {label: v_i^T y array}")
    projections = {k: _vec(v, f"projections[{k!r}]", n) for k, v in projections.items()}
    colors = _colors(list(projections))
    idx = np.arange(1, n + 1)
    lam_max = float(lam[0])

    fig = Figure(figsize=(8.5, 7.0), layout="constrained")
    ax, ax_e = fig.subplots(2, 1, sharex=True, height_ratios=[1.25, 1])
    many = n > 600
    for name, p in projections.items():
        a = np.abs(p)
        a = np.where(a >= floor, a, np.nan)
        ax.plot(idx, a, "o" if not many else ".", ms=3.2 if not many else 1.5, color=colors[name], alpha=0.75,
                label=label_name(name), rasterized=many)
    if reference is not None:
        ax.axhline(reference, ls="--", lw=1.2, color=OKABE_ITO["black"], alpha=0.7,
                   label=r"$\sqrt{E(v_i^\top y)^2} = 1$ for random $\pm1$ labels")
    ax.set_yscale("log")
    top = _finite_max([np.abs(p) for p in projections.values()], 0.0)
    if reference is not None and np.isfinite(reference):
        top = max(top, float(reference))     # the reference line stays inside the panel
    ax.set_ylim(floor, max(top * 2.0, floor * 10))
    ax.set_ylabel(r"$|v_i^\top y|$ (log scale)")

    ax_r = ax.twinx()
    _show_right_spine(ax_r)
    pos = _positive(lam / lam_max) if np.isfinite(lam_max) and lam_max > 0 else np.full(n, np.nan)
    ax_r.plot(idx, pos, "-", color=_GREY, lw=1.6, label=r"eigenvalue $\lambda_i/\lambda_{\max}$")
    ax_r.set_yscale("log")
    lo = np.nanmin(pos) if np.any(np.isfinite(pos)) else 1e-3
    ax_r.set_ylim(lo / 3, 3 * max(1.0, _finite_max([pos], 1.0)))
    ax_r.set_ylabel(rf"$\lambda_i/\lambda_{{\max}}$, $\lambda_{{\max}} = {_fmt(lam_max)}$ (log scale)", color=_GREY)
    ax_r.tick_params(axis="y", colors=_GREY)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax_r.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="lower left", bbox_to_anchor=(0.0, 1.01), ncols=2,
              markerscale=1.6, borderaxespad=0.2)

    for name, p in projections.items():
        e = np.cumsum(p * p)
        tot = e[-1] if e[-1] > 0 else 1.0
        ax_e.plot(idx, e / tot, "-", color=colors[name], lw=2.0, label=label_name(name), drawstyle="steps-post")
    ax_e.plot(idx, idx / n, ":", color=_GREY, lw=1.4, label=r"uniform spread $i/n$")
    ax_e.set_ylim(-0.02, 1.02)
    ax_e.set_ylabel("cumulative label energy\n" + r"$\Sigma_{j\leq i}\,(v_j^\top y)^2\,/\,\|y\|^2$")
    ax_e.set_xlabel(r"eigen-index $i$ (descending eigenvalue" + (", log scale)" if log_index else ")"))
    ax_e.legend(loc="upper left")
    if log_index:
        ax_e.set_xscale("log")
    ax_e.set_xlim(0.8, n * 1.25 if log_index else n + 1)
    fig.suptitle(title or r"label projections on the eigenvectors of $H^\infty$", fontsize=12,
                 fontweight="bold", x=0.02, ha="left")
    return fig


def _fmt(x: float) -> str:
    """Number for mathtext: 3 significant digits, ``m\\times10^{e}`` outside [1e-3, 1e4)."""
    if not np.isfinite(x):
        return r"\infty" if x > 0 else (r"-\infty" if x < 0 else "nan")
    if x == 0:
        return "0"
    e = math.floor(math.log10(abs(x)))
    if -3 <= e < 3:
        return f"{x:.3g}"
    if e == 3:
        return f"{x:.0f}"
    m = x / 10.0 ** e
    return rf"{m:.3g}\times10^{{{e}}}"


# ------------------------------------------------------------------- complexity vs noise
@_styled
def plot_complexity_vs_noise(noise, complexity, *, spread=None, per_seed=None,
                             reference: Mapping[str, float] | None = None,
                             test_losses: Mapping[str, tuple] | None = None,
                             title: str | None = None) -> Figure:
    r"""Complexity measure ``sqrt(2yᵀH⁻¹y/n)`` against the label-noise portion (Arora et al. Fig. 2).

    Parameters
    ----------
    noise : array_like, shape (P,)
        Noise portions ``p``.
    complexity : array_like, shape (P,)
        Mean complexity over seeds.
    spread : array_like, shape (P,), optional
        Standard deviation over seeds (shaded band ``mean ± spread``).
    per_seed : array_like, shape (P, S), optional
        Individual seeds (small dots).
    reference : dict[str, float or array (P,)], optional
        Reference values: a float is a horizontal line (e.g. ``{"random ±1 labels": 7.2}``), an
        array a curve over ``noise`` (e.g. the expected complexity).
    test_losses : dict[str, (mean (P,), std (P,) or None)], optional
        Test losses against ``p`` (e.g. classification error and ℓ1 loss of a predictor); drawn in
        a second panel on the same ``p`` axis, as the paper's left axis.

    Both panels' y axes start at 0 (complexities and losses are non-negative) and are otherwise
    autoscaled to every drawn value; NaN entries leave gaps. Empty ``noise``:
    :class:`~twolayer.InputError`.
    """
    p = _nonempty(_vec(noise, "noise"), "noise")
    c = _vec(complexity, "complexity", p.size)
    two = bool(test_losses)
    fig = Figure(figsize=(10.5, 6.2) if two else (6.2, 6.2), layout="constrained")
    axes = fig.subplots(1, 2) if two else [fig.subplots(1, 1)]
    ax = axes[0]
    col = OKABE_ITO["green"]
    if per_seed is not None:
        S = np.asarray(per_seed, dtype=np.float64)
        if S.ndim != 2 or S.shape[0] != p.size:
            raise InputError(f"per_seed must have shape ({p.size}, n_seeds), got {S.shape}")
        for j in range(S.shape[1]):
            ax.plot(p, S[:, j], "o", ms=3.2, color=col, alpha=0.35, mec="none",
                    label="individual seeds" if j == 0 else None)
    if spread is not None:
        s = _vec(spread, "spread", p.size)
        ax.fill_between(p, c - s, c + s, color=col, alpha=0.2, lw=0, label="mean ± 1 sd over seeds")
    ax.plot(p, c, "-o", color=col, ms=4.5, lw=2.0, label="complexity (mean)")
    ref_colors = [_GREY, OKABE_ITO["black"], OKABE_ITO["purple"], OKABE_ITO["orange"]]
    ref_styles = ["--", ":", "-.", "--"]
    for j, (name, val) in enumerate((reference or {}).items()):
        kw = dict(ls=ref_styles[j % 4], lw=1.4, color=ref_colors[j % len(ref_colors)], label=name)
        if np.ndim(val) == 0:
            ax.axhline(float(val), **kw)
        else:
            ax.plot(p, _vec(val, f"reference[{name!r}]", p.size), **kw)
    ax.set_xlabel("portion of label noise $p$")
    ax.set_ylabel(r"complexity $\sqrt{2\,y^\top (H^\infty)^{-1} y / n}$")
    ax.set_title("complexity measure (train labels)")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, borderaxespad=0.0)  # outside the data
    if two:
        ax2 = axes[1]
        tl_colors = [OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["vermillion"], OKABE_ITO["purple"]]
        for j, (name, val) in enumerate(test_losses.items()):
            mean, std = val if isinstance(val, tuple) else (val, None)
            m = _vec(mean, f"test_losses[{name!r}]", p.size)
            cc = tl_colors[j % len(tl_colors)]
            if std is not None:
                sd = _vec(std, f"test_losses[{name!r}] std", p.size)
                ax2.fill_between(p, m - sd, m + sd, color=cc, alpha=0.18, lw=0)
            ax2.plot(p, m, "-o", ms=4, color=cc, lw=2.0, label=name)
        ax2.axhline(0.5, ls=":", color=_GREY, lw=1.2, label="chance error (0.5)")
        ax2.set_ylim(bottom=0)
        ax2.set_xlabel("portion of label noise $p$")
        ax2.set_ylabel("test loss")
        ax2.set_title("test loss (noisy test labels)")
        ax2.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=1, borderaxespad=0.0)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


# ----------------------------------------------------------------------------- eigenvalues
@_styled
def plot_eigenvalues(eigenvalues, *, title: str | None = None, annotate: bool = True) -> Figure:
    r"""Eigenvalues ``λ_1 ≥ … ≥ λ_n`` of ``H^∞`` on a log scale, against their index.

    With ``annotate``: ``λ_max``, ``λ_min`` (marked), the condition number and the mean
    eigenvalue ``tr(H)/n`` (= 1/2 for ``H^∞`` of unit-norm inputs) as a reference line.
    Non-positive and non-finite eigenvalues are masked and counted in a note; an empty array
    gives an empty panel.
    """
    lam = _vec(eigenvalues, "eigenvalues")
    n = lam.size
    idx = np.arange(1, n + 1)
    fig = Figure(figsize=(6.8, 4.2), layout="constrained")
    ax = fig.subplots(1, 1)
    pos = _positive(lam)
    ax.plot(idx, pos, "-", color=OKABE_ITO["blue"], lw=2.0, label=r"$\lambda_i(H^\infty)$")
    ax.set_yscale("log")
    hidden = [text.format(k) for k, text in ((int(np.sum(lam <= 0)), "{} eigenvalue(s) <= 0 not shown"),
                                             (int(np.sum(~np.isfinite(lam))), "{} non-finite eigenvalue(s) not shown"))
              if k]
    if hidden:
        ax.text(0.02, 0.02, "; ".join(hidden), transform=ax.transAxes, color=OKABE_ITO["vermillion"])
    if annotate and np.any(np.isfinite(pos)):
        mean = float(np.sum(lam) / n)
        if mean > 0:
            ax.axhline(mean, ls=":", color=_GREY, lw=1.3, label=rf"mean eigenvalue tr$(H)/n = {_fmt(mean)}$")
        ax.plot([1], [pos[0]], "o", color=OKABE_ITO["vermillion"], ms=6,
                label=rf"$\lambda_{{\max}} = {_fmt(lam[0])}$")
        if np.isfinite(pos[-1]):
            ax.plot([n], [pos[-1]], "s", color=OKABE_ITO["purple"], ms=6,
                    label=rf"$\lambda_{{\min}} = {_fmt(lam[-1])}$, "
                          rf"$\lambda_{{\max}}/\lambda_{{\min}} = {_fmt(lam[0] / lam[-1])}$")
    ax.set_xlabel(r"index $i$ (descending)")
    ax.set_ylabel(r"eigenvalue $\lambda_i$ (log scale)")
    ax.set_xlim(0, n * 1.02 + 1)
    ax.set_title(rf"spectrum of $H^\infty$ ($n = {n}$)")
    ax.legend(loc="upper right")
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


# ------------------------------------------------------------------------------ movement
@_styled
def plot_noise_twin_axes(noise, losses: Mapping[str, tuple], complexity: tuple, *, title: str | None = None) -> Figure:
    r"""Arora et al. Fig. 2 in the paper's layout: one panel, test losses on the left axis (0–1
    and above), the complexity measure on the right axis, against the label-noise portion.

    Parameters
    ----------
    noise : array_like, shape (P,)
    losses : dict[str, (mean (P,), sd (P,) or None)]
        Left axis, e.g. test ℓ1 loss and classification error.
    complexity : (mean (P,), sd (P,) or None)
        Right axis: ``sqrt(2yᵀH⁻¹y/n)`` of the training labels.

    Both y ranges start at 0 and contain every finite mean and ``mean + sd`` (the left one at
    least ``[0, 1]``). Empty ``noise``: :class:`~twolayer.InputError`.
    """
    p = _nonempty(_vec(noise, "noise"), "noise")
    fig = Figure(figsize=(7.2, 5.4), layout="constrained")
    ax = fig.subplots(1, 1)
    right = ax.twinx()
    handles, left_vals = [], []
    for j, (name, (mean, sd)) in enumerate(losses.items()):
        c = [OKABE_ITO["orange"], OKABE_ITO["blue"], OKABE_ITO["vermillion"]][j % 3]
        mu = _vec(mean, f"losses[{name!r}]", p.size)
        handles.append(ax.plot(p, mu, "-o", color=c, label=name + " (left)")[0])
        left_vals.append(mu)
        if sd is not None:
            s = _vec(sd, f"losses[{name!r}] sd", p.size)
            ax.fill_between(p, mu - s, mu + s, color=c, alpha=0.18, lw=0)
            left_vals.append(mu + s)
    mean, sd = complexity
    mu = _vec(mean, "complexity", p.size)
    right_vals = [mu]
    handles.append(right.plot(p, mu, "-s", color=OKABE_ITO["green"], lw=2.2,
                              label=r"complexity $\sqrt{2y^\top (H^\infty)^{-1}y/n}$ (right)")[0])
    if sd is not None:
        s = _vec(sd, "complexity sd", p.size)
        right.fill_between(p, mu - s, mu + s, color=OKABE_ITO["green"], alpha=0.15, lw=0)
        right_vals.append(mu + s)
    _show_right_spine(right)
    right.grid(False)
    _set_xspan(ax, p)
    ax.set_ylim(0, max(1.0, _finite_max(left_vals, 0.0) * 1.08))
    top = _finite_max(right_vals, 0.0)
    right.set_ylim(0, top * 1.15 if top > 0 else 1)
    ax.set_xlabel("portion of noise $p$")
    ax.set_ylabel("loss")
    right.set_ylabel("complexity measure")
    # below the axes, outside the data (the curves fill the panel's upper left at high noise)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, borderaxespad=0.0)
    ax.set_title(title or "generalization and complexity against label noise")
    return fig
