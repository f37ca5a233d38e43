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

import functools
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
from cycler import cycler
from matplotlib.figure import Figure

from ._errors import InputError
from ._io import atomic_write_bytes

__all__ = [
    "OKABE_ITO", "STYLE", "LABEL_COLORS", "LABEL_NAMES", "label_color", "label_name",
    "save_figure", "plot_loss_curves", "plot_spectrum_projections", "plot_complexity_vs_noise",
    "plot_eigenvalues", "plot_bound_terms", "plot_target_complexity", "plot_noise_twin_axes", "plain_log_ticks",
]

#: Okabe & Ito (2008) colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "purple": "#CC79A7",
}
_CYCLE = [OKABE_ITO[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky_blue", "black")]
_GREY = "#555555"

#: Fixed colours of the named label sets (the same in every figure of a run).
LABEL_COLORS = {"true": OKABE_ITO["blue"], "random": OKABE_ITO["vermillion"],
                "worst_case": OKABE_ITO["purple"], "noisy": OKABE_ITO["green"]}
#: Legend text of the named label sets.
LABEL_NAMES = {"true": "true labels", "random": r"random $\pm1$ labels",
               "worst_case": r"worst case ($\sqrt{n}\,v_{\min}$)", "noisy": "noisy labels"}

#: The rc parameters every figure is built and saved under.
STYLE = {
    "font.size": 10.5,
    "axes.titlesize": 11.5,
    "axes.titleweight": "bold",
    "axes.titlelocation": "left",
    "axes.labelsize": 10.5,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "legend.fontsize": 10,
    "legend.frameon": False,
    "axes.linewidth": 0.8,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "xtick.major.width": 0.8,
    "ytick.major.width": 0.8,
    "xtick.minor.width": 0.6,
    "ytick.minor.width": 0.6,
    "lines.linewidth": 1.8,
    "lines.markersize": 4,
    "axes.prop_cycle": cycler(color=_CYCLE),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "pdf.fonttype": 42,
    "mathtext.fontset": "dejavusans",
}


def _styled(func):
    """Build the figure under :data:`STYLE` (rc parameters are read when artists are created)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with matplotlib.rc_context(STYLE):
            return func(*args, **kwargs)
    return wrapper


def label_color(name: str, index: int = 0) -> str:
    """Colour of a label set: fixed for the named sets, else the ``index``-th palette colour."""
    return LABEL_COLORS.get(name, _CYCLE[index % len(_CYCLE)])


def label_name(name: str) -> str:
    """Legend text of a label set."""
    return LABEL_NAMES.get(name, str(name))


def _colors(names) -> dict[str, str]:
    free = [c for c in _CYCLE if c not in {LABEL_COLORS[n] for n in names if n in LABEL_COLORS}]
    out, j = {}, 0
    for n in names:
        if n in LABEL_COLORS:
            out[n] = LABEL_COLORS[n]
        else:
            out[n] = free[j % len(free)]
            j += 1
    return out


def _vec(a, name: str, n: int | None = None) -> np.ndarray:
    v = np.asarray(a, dtype=np.float64).reshape(-1) if np.ndim(a) else np.asarray([a], dtype=np.float64)
    if n is not None and v.shape[0] != n:
        raise InputError(f"{name} has {v.shape[0]} entries, expected {n} (one per x value)")
    return v


def _positive(a: np.ndarray) -> np.ndarray:
    """Copy with non-positive (and non-finite) entries replaced by NaN, for log axes."""
    out = np.array(a, dtype=np.float64)
    out[~(np.isfinite(out) & (out > 0))] = np.nan
    return out


def _nonempty(v: np.ndarray, name: str) -> np.ndarray:
    if v.size == 0:
        raise InputError(f"{name} is empty; there is nothing to plot")
    return v


def _finite_max(arrays, default: float) -> float:
    """Largest finite entry of ``arrays`` (``default`` if there is none), without NaN warnings."""
    vals = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays]) if arrays else np.array([])
    vals = vals[np.isfinite(vals)]
    return float(vals.max()) if vals.size else default


def _set_xspan(ax, x: np.ndarray) -> None:
    """x limits at the finite extremes of ``x`` (left to autoscaling when they coincide)."""
    f = x[np.isfinite(x)]
    if f.size and f.max() > f.min():
        ax.set_xlim(float(f.min()), float(f.max()))


def _log_limits(arrays, floor_ratio: float = 1e-12) -> tuple[float, float] | None:
    vals = np.concatenate([np.ravel(a) for a in arrays]) if arrays else np.array([])
    vals = vals[np.isfinite(vals) & (vals > 0)]
    if vals.size == 0:
        return None
    hi = float(vals.max())
    lo = max(float(vals.min()), hi * floor_ratio)
    if lo >= hi:
        lo = hi / 10
    return lo / 1.6, hi * 1.6


def _show_right_spine(ax) -> None:
    ax.spines["right"].set_visible(True)
    ax.grid(False)


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


def save_figure(fig: Figure, run_folder_or_dir, name: str, *, dpi: int = 150,
                formats: Sequence[str] = ("png", "pdf")) -> list[Path]:
    """Write ``fig`` as ``NAME.png`` and ``NAME.pdf``, each atomically; return the paths.

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
    dpi : int
        Resolution of the PNG.
    formats : sequence of str
        File types to write, each one a format matplotlib can save; all are checked before any file
        is written (an unknown one is an :class:`~twolayer.InputError` that leaves the folder as it was).
    """
    if not name or any(not (c.isalnum() or c in "_-.") for c in name) or name.startswith("."):
        raise InputError(f"figure name {name!r} must be a plain file stem (letters, digits, _ - .)")
    supported = fig.canvas.get_supported_filetypes()
    unknown = [f for f in formats if f not in supported]
    if unknown:
        raise InputError(f"cannot save figures as {unknown}; supported formats: {sorted(supported)}")
    folder = Path(getattr(run_folder_or_dir, "figures_dir", run_folder_or_dir))
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
                     linear_xmax="auto", floor_ratio: float = 1e-12) -> Figure:
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

    Returns
    -------
    Figure with one panel (log–log) or two (linear, log–log). The log panel drops step 0 and
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
    fig = Figure(figsize=(10.5, 4.2 + 0.5 * bool(measured)) if two else (6.0, 4.2 + 0.5 * bool(measured)),
                 layout="constrained")
    axes = fig.subplots(1, 2) if two else [fig.subplots(1, 1)]
    ax_lin, ax_log = (axes[0], axes[1]) if two else (None, axes[0])
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
    else:
        (ax_lin if two else ax_log).legend(loc="best")
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


# ----------------------------------------------------------------------------- bound terms
@_styled
def plot_bound_terms(noise, terms: Mapping[str, np.ndarray], *, compare: Mapping[str, np.ndarray] | None = None,
                     threshold: float | None = 1.0, title: str | None = None) -> Figure:
    r"""Terms of a generalization bound stacked against the label-noise portion.

    Parameters
    ----------
    noise : array_like, shape (P,)
    terms : dict[str, array (P,)]
        Non-negative terms, stacked bottom-up in the given order (their sum is the bound).
    compare : dict[str, array (P,)], optional
        Lines to compare the bound with (e.g. a measured test error).
    threshold : float, optional
        Horizontal line (default 1: a bound on a [0, 1] loss above 1 says nothing).

    The y range ``[0, 1.08 × max]`` contains the bound, every ``compare`` line and the threshold.
    Empty ``noise``: :class:`~twolayer.InputError`.
    """
    p = _nonempty(_vec(noise, "noise"), "noise")
    if not terms:
        raise InputError("terms is empty; pass at least one {name: array}")
    T = {k: _vec(v, f"terms[{k!r}]", p.size) for k, v in terms.items()}
    fig = Figure(figsize=(9.6, 4.4), layout="constrained")
    ax = fig.subplots(1, 1)
    fills = [OKABE_ITO["green"], OKABE_ITO["sky_blue"], OKABE_ITO["orange"], OKABE_ITO["yellow"], OKABE_ITO["purple"]]
    ax.stackplot(p, *T.values(), labels=list(T), colors=fills[:len(T)], alpha=0.85, edgecolor="white", lw=0.6)
    total = np.sum(list(T.values()), axis=0)
    ax.plot(p, total, "-", color=OKABE_ITO["black"], lw=1.6, label="bound (sum)")
    cmp = {name: _vec(v, f"compare[{name!r}]", p.size) for name, v in (compare or {}).items()}
    for j, (name, v) in enumerate(cmp.items()):
        ax.plot(p, v, "-o", ms=4, lw=2.0, color=[OKABE_ITO["blue"], OKABE_ITO["vermillion"]][j % 2], label=name)
    if threshold is not None:
        ax.axhline(threshold, ls="--", color=_GREY, lw=1.3, label=f"{threshold:g} (trivial for a [0,1] loss)")
    _set_xspan(ax, p)
    top = max(_finite_max([total, *cmp.values()], 0.0), threshold or 0)
    ax.set_ylim(0, top * 1.08 if top > 0 else 1)
    ax.set_xlabel("portion of label noise $p$")
    ax.set_ylabel("bound on test error")
    ax.set_title("Theorem 5.1 bound, explicit terms")
    h, lab = ax.get_legend_handles_labels()
    ax.legend(h[::-1], lab[::-1], loc="upper left", bbox_to_anchor=(1.02, 1.0), labelspacing=0.9,
              borderaxespad=0.0)
    if title:
        fig.suptitle(title, fontsize=12, fontweight="bold")
    return fig


# ------------------------------------------------------------------------- Theorem 6.1
@_styled
def plot_target_complexity(n_values, measured: Mapping[str, tuple], bounds: Mapping[str, float],
                           sharp: Mapping[str, float] | None = None, *, title: str | None = None) -> Figure:
    r"""``sqrt(yᵀH⁻¹y)`` of each target against the sample size, with its Corollary 6.2 bound.

    Parameters
    ----------
    n_values : array_like, shape (N,)
        Sample sizes (log-scaled x axis).
    measured : dict[target, (mean (N,), sd (N,) or None)]
    bounds : dict[target, float]
        Corollary 6.2 bound ``3 Σ p_j|α_j|‖β_j‖^{p_j}`` (dashed line, same colour).
    sharp : dict[target, float], optional
        The proof's sharper constants (dotted line).

    The left panel shows the values, the right one the ratio measured / bound (≤ 1 is what the
    theorem asserts), both against ``n``; the ratio axis is ``[0, 1.1]``, extended to contain every
    finite ratio (a target above its bound stays visible). Non-positive means are masked on the log
    axis. The legend's bound and proof-constant entries appear only when such lines are drawn.
    Empty or non-positive ``n_values``: :class:`~twolayer.InputError`.
    """
    n = _nonempty(_vec(n_values, "n_values"), "n_values")
    if not np.all(np.isfinite(n) & (n > 0)):
        raise InputError(f"n_values must be positive sample sizes (log axis), got {n.tolist()}")
    if not measured:
        raise InputError("measured is empty; pass at least one {target: (mean, sd)}")
    from matplotlib.lines import Line2D

    fig = Figure(figsize=(11.5, 5.2), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    handles, ratios = [], []
    drew_bound = drew_sharp = False
    for j, (name, (mean, sd)) in enumerate(measured.items()):
        c = _CYCLE[j % len(_CYCLE)]
        mu = _vec(mean, f"measured[{name!r}]", n.size)
        handles.append(ax.plot(n, _positive(mu), "-o", color=c, label=name)[0])
        if sd is not None:
            s = _vec(sd, f"sd[{name!r}]", n.size)
            ax.fill_between(n, mu - s, mu + s, color=c, alpha=0.18, lw=0)
        if name in bounds:
            ax.axhline(bounds[name], ls="--", color=c, lw=1.2)
            ratios.append(_positive(mu) / bounds[name])
            ax2.plot(n, ratios[-1], "-o", color=c)
            drew_bound = True
        if sharp and name in sharp:
            ax.axhline(sharp[name], ls=":", color=c, lw=1.4)
            drew_sharp = True
    if drew_bound:
        handles.append(Line2D([], [], color=_GREY, ls="--", lw=1.2,
                              label=r"Cor. 6.2 bound $3\sum_j p_j|\alpha_j|\,\|\beta_j\|^{p_j}$"))
    if drew_sharp:
        handles.append(Line2D([], [], color=_GREY, ls=":", lw=1.4, label="proof constants (sharper)"))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sample size $n$")
    ax.set_ylabel(r"$\sqrt{y^\top (H^\infty)^{-1} y}$ (log scale)")
    ax.set_title("(a) measured value and its bounds")
    ax2.axhline(1.0, color=_GREY, ls="--", lw=1.2)
    ax2.set_xscale("log")
    ax2.set_ylim(0, max(1.1, 1.05 * _finite_max(ratios, 0.0)))
    ax2.set_xlabel("sample size $n$")
    ax2.set_ylabel("measured / Cor. 6.2 bound")
    ax2.set_title("(b) ratio: the theorem asserts < 1 for every $n$")
    fig.legend(handles=handles, loc="outside lower center", ncol=min(len(handles), 4))
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
