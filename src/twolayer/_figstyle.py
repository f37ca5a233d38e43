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
  to ``[6, 9]`` pt (tick labels :data:`PAPER_FONT` pt at the largest), thinner lines, smaller markers,
  titles and labels longer than their panel are wrapped (:func:`fit_titles`), a legend that
  would cover much of its panel moves below it (:func:`legends_below`), and a legend wider than
  its panel or the figure gets its entries wrapped (:func:`fit_legends`). Vector files
  (PDF, SVG) are what a paper uses; the PNG is written at :data:`PAPER_DPI`.

Cost: one walk over the figure's artists, ``O(#artists)``; no drawing.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.ticker import LogFormatterSciNotation

from ._errors import InputError

__all__ = ["PlainLogFormatter", "plain_log_labels", "STYLES", "PAPER_WIDTHS", "SINGLE_MAX", "apply_style",
           "style_formats", "check_style", "paper_width", "fit_legends", "fit_titles", "legends_below", "declutter_ticks", "PLAIN_RANGE"]

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


def _panel_room(ax, fig) -> tuple[float, float]:
    """Width and height (pixels) of ``ax``'s grid cell at the figure's default margins — the room
    its texts have, independent of a layout pass that may already have collapsed it."""
    pos = ax.get_subplotspec().get_position(fig)
    return pos.width * fig.bbox.width, pos.height * fig.bbox.height


def fit_legends(fig) -> int:
    """Make every legend of ``fig`` fit: a figure legend no wider than the figure (made again with
    fewer columns, then wrapped), an axes legend no wider than its panel (long entries wrapped at
    spaces, never inside ``$…$`` math; its column count stays, since matplotlib lays a legend's
    columns out once, when it is made). In the paper
    style fonts shrink less than the figure, and an axes legend wider than its axes makes
    constrained layout collapse the axes. Returns how many legends changed. Cost: one layout pass
    (``draw_without_rendering``) per wrapping step, one in all when everything fits."""
    jobs = [(lg, 0.98 * fig.bbox.width, True) for lg in fig.legends]
    for ax in fig.get_axes():
        lg = ax.get_legend()
        if lg is not None and ax.get_subplotspec() is not None:
            jobs.append((lg, 0.95 * _panel_room(ax, fig)[0], False))
    changed = 0
    for lg, room, of_figure in jobs:
        refit = False
        if of_figure:  # a figure legend of short entries needs fewer columns, not wrapping
            lg, refit = _fewer_columns(fig, lg, room)
        for _ in range(6):  # each pass wraps to the measured shortfall; the text can only get narrower
            fig.draw_without_rendering()
            width = lg.get_window_extent().width
            if width <= room or not _wrap_texts(lg.get_texts(), room / width):
                break
            refit = True
        changed += refit
    return changed


def declutter_ticks(fig) -> int:
    """Drop the minor tick labels of every x axis whose tick labels overlap (a log axis spanning
    about a decade labels its minor ticks, ``3×10⁻³ 4×10⁻³ …``, which a narrow paper panel cannot
    hold); the major labels and every tick mark stay. Returns how many axes changed. Cost: one
    layout pass."""
    from matplotlib.ticker import NullFormatter

    fig.draw_without_rendering()
    changed = 0
    for ax in fig.get_axes():
        boxes = sorted((tick.label1.get_window_extent() for tick in ax.xaxis.get_major_ticks() + ax.xaxis.get_minor_ticks()
                        if tick.label1.get_visible() and tick.label1.get_text()), key=lambda b: b.x0)
        if any(a.x1 > b.x0 + 0.5 for a, b in zip(boxes, boxes[1:])):
            ax.xaxis.set_minor_formatter(NullFormatter())
            changed += 1
    return changed


#: Paper style: an axes legend covering more than this share of its panel moves below the panel.
LEGEND_AREA_MAX = 0.2


def legends_below(fig) -> int:
    """Move every axes legend that covers more than :data:`LEGEND_AREA_MAX` of its panel out of the
    data, centred under the panel's x axis (a fixed distance below the axes, so it stays clear of
    the tick labels and the x label whatever height the layout gives the axes); constrained layout
    then makes room for it, and the figure grows by the tallest moved legend. In the paper style
    fonts shrink less than the figure, so a legend placed in an empty corner at screen size can
    cover the data. Returns how many moved. Cost: one layout pass."""
    from matplotlib.transforms import ScaledTranslation

    fig.draw_without_rendering()
    moved, extra = 0, 0.0
    for ax in fig.get_axes():
        lg = ax.get_legend()
        if lg is None or ax.get_subplotspec() is None:
            continue
        w, h = _panel_room(ax, fig)
        ext = lg.get_window_extent()
        if ext.width * ext.height <= LEGEND_AREA_MAX * w * h:
            continue
        below = ax.xaxis.get_tightbbox()
        drop = (ax.bbox.y0 - below.y0 if below is not None else 0.0) / fig.dpi + 0.04  # inches
        lg.set_loc("upper center")
        lg.set_bbox_to_anchor((0.5, 0.0), transform=ax.transAxes + ScaledTranslation(0, -drop, fig.dpi_scale_trans))
        moved += 1
        extra = max(extra, ext.height / fig.dpi + 0.04)
    if extra:  # the figure grows by the tallest moved legend, so the panels keep their height
        w_in, h_in = fig.get_size_inches()
        fig.set_size_inches(w_in, h_in + extra)
    return moved


def _fewer_columns(fig, lg, room: float):
    """``(legend, changed)``: the figure legend ``lg`` made again from its own handles and texts
    with the most columns (fewer than now) that fit in ``room`` pixels, at the same place and font
    size; ``lg`` itself when it fits or has one column."""
    from matplotlib.legend import Legend

    ncols = int(getattr(lg, "_ncols", 1))
    fig.draw_without_rendering()
    if ncols <= 1 or lg.get_window_extent().width <= room:
        return lg, False
    name = {v: k for k, v in Legend.codes.items()}.get(lg._loc if isinstance(lg._loc, int) else -1)
    outside = getattr(lg, "_outside_loc", None)
    if name is None:  # placed by coordinates: leave it
        return lg, False
    if outside in ("left", "right"):
        loc = f"outside {outside} {name.split()[0] if ' ' in name else 'center'}"
    else:
        loc = f"outside {name}" if outside else name
    handles, labels = list(lg.legend_handles), [t.get_text() for t in lg.get_texts()]
    size = lg.get_texts()[0].get_fontsize() if lg.get_texts() else None
    frame = lg.get_frame_on()
    lg.remove()
    new = lg
    for n in range(ncols - 1, 0, -1):
        new = fig.legend(handles, labels, loc=loc, ncols=n, fontsize=size, frameon=frame)
        fig.draw_without_rendering()
        if n == 1 or new.get_window_extent().width <= room:
            break
        new.remove()
    return new, True


def fit_titles(fig) -> int:
    """Wrap (at spaces outside ``$…$``) every axes title, x label, y label and text note longer than
    its panel's width (height, for rotated ones), and the figure title longer than the figure
    (see :func:`fit_legends` for why). Returns how many texts were wrapped. Cost: one layout pass."""
    fig.draw_without_rendering()
    jobs = []
    for ax in fig.get_axes():
        if ax.get_subplotspec() is None:  # an inset: its text is the host's business
            continue
        w, h = _panel_room(ax, fig)
        for t in (ax.title, getattr(ax, "_left_title", None), getattr(ax, "_right_title", None), ax.xaxis.label):
            if t is not None:
                jobs.append((t, 1.05 * w, "width"))
        jobs.append((ax.yaxis.label, 1.05 * h, "height"))
        for t in ax.texts:  # notes placed in the panel: they stick out of a narrowed axes as a legend does
            jobs.append((t, 0.9 * (h if abs(t.get_rotation() - 90) < 1 else w),
                         "height" if abs(t.get_rotation() - 90) < 1 else "width"))
    sup = getattr(fig, "_suptitle", None)
    if sup is not None:
        jobs.append((sup, 0.98 * fig.bbox.width, "width"))
    wrapped = 0
    for t, room, along in jobs:
        if not t.get_text() or not t.get_visible():
            continue
        ext = t.get_window_extent()
        length = ext.width if along == "width" else ext.height
        if length > room > 0 and _wrap_texts([t], room / length):
            wrapped += 1
    return wrapped


def _wrap_texts(texts, factor: float) -> bool:
    """Wrap each text to ``factor`` (< 1) of its longest line, at spaces outside ``$…$``; False when
    nothing could be wrapped further."""
    wrapped = False
    for t in texts:
        lines = t.get_text().split("\n")
        target = max(8, int(max(len(ln) for ln in lines) * factor * 0.9))
        new = "\n".join(_wrap_line(ln, target) for ln in lines)
        if new != t.get_text():
            t.set_text(new)
            wrapped = True
    return wrapped


def _wrap_line(line: str, width: int) -> str:
    words, out, cur, math_open = line.split(" "), [], "", False
    for w in words:
        if cur and not math_open and len(cur) + 1 + len(w) > width:
            out.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
        if w.count("$") % 2:
            math_open = not math_open
    out.append(cur)
    return "\n".join(out)


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
    import warnings

    with warnings.catch_warnings():  # the layout passes before the refit may collapse; the final one must not
        warnings.filterwarnings("ignore", message="constrained_layout not applied")
        fit_titles(fig)
        fit_legends(fig)  # before the move, so that the figure grows by the wrapped legend's height
        legends_below(fig)
    return PAPER_DPI

