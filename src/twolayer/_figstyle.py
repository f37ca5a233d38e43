r"""What every saved figure gets at save time: plain log-axis tick labels and the figure styles.

Two passes that :func:`twolayer.plotting.save_figure` applies to any figure, whoever built it:

* :func:`plain_log_labels` — on logarithmic axes, tick labels in ``[0.01, 1000]`` are written as
  plain numbers (``2``, ``0.05``, ``300``), not ``2×10⁰``; outside that range matplotlib's
  ``m×10ᵉ`` labels stay. Which ticks are labelled is matplotlib's choice as before (only the text
  changes), and an axis whose formatter was set by hand (e.g. :func:`plotting.plain_log_ticks`)
  is left alone.
* :func:`apply_style` — ``"default"`` leaves the figure as built (screen figures, 150 dpi PNG);
  ``"paper"`` resizes it to a journal column, :data:`PAPER_WIDTHS` (3.3 in single column for
  figures built up to :data:`SINGLE_MAX` wide, 6.8 in double column above), keeping the aspect
  ratio, and sets print font sizes: every font scaled by ``min(PAPER_FONT_SCALE, W/w)`` for the
  built width ``w`` and column width ``W`` (the screen layout is kept, nothing overflows), clipped
  to ``[6, 9]`` pt (tick labels :data:`PAPER_FONT` pt at the largest), thinner lines, smaller markers. Vector files
  (PDF, SVG) are what a paper uses; the PNG is written at :data:`PAPER_DPI`.

Cost: one walk over the figure's artists, ``O(#artists)``; no drawing.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import LogFormatterSciNotation

from ._errors import InputError

__all__ = ["PlainLogFormatter", "plain_log_labels", "STYLES", "PAPER_WIDTHS", "SINGLE_MAX", "apply_style",
           "style_formats", "check_style", "paper_width", "PLAIN_RANGE"]

#: Tick values written as plain numbers on log axes (inclusive).
PLAIN_RANGE = (0.01, 1000.0)
#: Figure styles :func:`apply_style` knows.
STYLES = ("default", "paper")
#: Column widths (inches) of the paper style.
PAPER_WIDTHS = {"single": 3.3, "double": 6.8}
#: Figures built at most this wide (inches) become single-column figures in the paper style.
SINGLE_MAX = 5.0
#: Paper style: tick-label size (pt), the factor on every other font size, and its clip (pt).
PAPER_FONT, PAPER_FONT_SCALE, PAPER_FONT_RANGE = 7.0, 0.72, (6.0, 9.0)
#: Paper style: PNG resolution, and the factors on line widths and marker sizes.
PAPER_DPI, PAPER_LINE_SCALE, PAPER_MARKER_SCALE = 300, 0.6, 0.7


def _plain(x: float) -> str:
    """``x`` to 4 significant digits, positional (``2``, ``0.05``, ``250``, ``0.025``)."""
    return np.format_float_positional(float(f"{x:.4g}"), trim="-")


class PlainLogFormatter(LogFormatterSciNotation):
    r"""matplotlib's log-axis formatter, except that a labelled tick ``x`` with
    ``0.01 ≤ |x| ≤ 1000`` (:data:`PLAIN_RANGE`) reads as a plain number (``"2"``, ``"0.05"``)
    instead of ``2×10^0`` / ``5×10^{-2}``. Same constructor and same choice of labelled ticks as
    :class:`matplotlib.ticker.LogFormatterSciNotation`."""

    def __call__(self, x, pos=None):
        s = super().__call__(x, pos)
        lo, hi = PLAIN_RANGE
        if not s or not (math.isfinite(x) and lo * (1 - 1e-9) <= abs(x) <= hi * (1 + 1e-9)):
            return s
        return self.fix_minus(_plain(x))


def _plainify(axis) -> None:
    for which in ("major", "minor"):
        f = axis.get_major_formatter() if which == "major" else axis.get_minor_formatter()
        if type(f) is not LogFormatterSciNotation:  # set by hand, or not a log axis: leave it
            continue
        new = PlainLogFormatter(base=f._base, labelOnlyBase=f.labelOnlyBase, minor_thresholds=f.minor_thresholds,
                                linthresh=f._linthresh)
        (axis.set_major_formatter if which == "major" else axis.set_minor_formatter)(new)


def plain_log_labels(fig) -> None:
    """Give every log-scaled x and y axis of ``fig`` (all its axes, twins and insets included) the
    :class:`PlainLogFormatter` for major and minor ticks; axes with a hand-set formatter are kept.
    Call it after the scales are set (``set_xscale("log")`` resets the formatters)."""
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                _plainify(axis)


def style_formats(style: str, formats) -> tuple:
    """The file types to save under ``style``: ``formats`` as given, plus ``svg`` and ``pdf``
    (vector) for the paper style. Unknown ``style``: :class:`~twolayer.InputError`."""
    check_style(style)
    out = tuple(formats)
    if style == "paper":
        out += tuple(f for f in ("pdf", "svg") if f not in out)
    return out


def check_style(style: str) -> str:
    """``style`` if it is one of :data:`STYLES`, else an :class:`~twolayer.InputError` naming them."""
    if style not in STYLES:
        raise InputError(f"unknown figure style {style!r}; choose one of {', '.join(STYLES)}")
    return style


def paper_width(fig) -> float:
    """The column width (inches) a figure of ``fig``'s current size gets in the paper style."""
    w = float(fig.get_size_inches()[0])
    return PAPER_WIDTHS["single"] if w <= SINGLE_MAX else PAPER_WIDTHS["double"]


def apply_style(fig, style: str = "default") -> int:
    """Restyle ``fig`` in place for ``style`` (see the module docstring) and return the PNG dpi to
    save it at (150 default, :data:`PAPER_DPI` paper). The default style changes nothing.

    The paper style scales the size to ``(W, H·W/w)`` for the built size ``(w, H)`` and column
    width ``W`` = :func:`paper_width`; it is meant to be applied once, to a figure about to be saved.
    """
    check_style(style)
    if style == "default":
        return 150
    from matplotlib.layout_engine import ConstrainedLayoutEngine
    from matplotlib.lines import Line2D
    from matplotlib.text import Text

    w, h = (float(v) for v in fig.get_size_inches())
    W = paper_width(fig)
    fig.set_size_inches(W, h * W / w)
    # fonts shrink at least as much as the width (the screen layout is kept), never below 6 pt
    scale = min(PAPER_FONT_SCALE, W / w)
    lo, hi = PAPER_FONT_RANGE
    for t in fig.findobj(Text):
        t.set_fontsize(min(hi, max(lo, t.get_fontsize() * scale)))
    for ax in fig.get_axes():
        ax.tick_params(which="both", labelsize=min(hi, max(lo, PAPER_FONT * scale / PAPER_FONT_SCALE)), width=0.6,
                       length=2.5, pad=2)
    line = max(0.5, min(PAPER_LINE_SCALE, W / w))
    for ln in fig.findobj(Line2D):
        ln.set_linewidth(ln.get_linewidth() * line)
        ln.set_markersize(ln.get_markersize() * max(line, PAPER_MARKER_SCALE * line / PAPER_LINE_SCALE))
    engine = fig.get_layout_engine()
    if isinstance(engine, ConstrainedLayoutEngine):
        engine.set(w_pad=0.02, h_pad=0.02)
    return PAPER_DPI

