r"""The shared base of :mod:`twolayer.plotting` and its bound figures (:mod:`twolayer._plot_bounds`):
the rc style :data:`STYLE`, the Okabe–Ito palette and the label-set colours and names, and the small
array helpers every figure builder uses (1-D float vectors with a length check, masking for log
axes, finite maxima, log limits). No figure is built here.
"""

from __future__ import annotations

import functools

import matplotlib
import numpy as np
from cycler import cycler

from ._errors import InputError

__all__ = ["OKABE_ITO", "STYLE", "LABEL_COLORS", "LABEL_NAMES", "label_color", "label_name"]

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


def note_hidden(ax, *arrays, where: tuple[float, float] = (0.02, 0.02), floor: float | None = None) -> str:
    """Say on ``ax`` (axes coordinates ``where``) how many finite values of ``arrays`` a log axis
    does not show: ``"not shown (log axis): 2 zero(s), 1 negative value(s), min -0.14"`` (and, with
    ``floor``, the positive ones below the axis's lower limit); return the text (``""`` and nothing
    drawn when every finite value is shown). A negative energy or loss is thus never dropped
    silently. Cost ``O(total size)``."""
    vals = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays]) if arrays else np.array([])
    vals = vals[np.isfinite(vals)]
    zeros, neg = int(np.sum(vals == 0)), int(np.sum(vals < 0))
    low = int(np.sum((vals > 0) & (vals < floor))) if floor is not None else 0
    parts = ([f"{zeros} zero(s)"] * bool(zeros) + [f"{neg} negative value(s), min {vals.min():.3g}"] * bool(neg)
             + [f"{low} below the axis"] * bool(low))
    if not parts:
        return ""
    text = "not shown (log axis): " + ", ".join(parts)
    ax.text(*where, text, transform=ax.transAxes, ha="left", va="bottom", fontsize=9,
            color=OKABE_ITO["vermillion"] if neg else _GREY)
    return text
