"""Small helpers every experiment module uses: seeds (from :mod:`twolayer._seeds`), checks, tidy rows, tables of
sweep results."""

from __future__ import annotations

import numpy as np

from .._errors import InputError
from .._seeds import rng, seed_sequence  # noqa: F401  (their home is twolayer._seeds; re-exported)

__all__ = ["seed_sequence", "rng", "check_positive", "Rows", "gather", "value", "table", "loglog_slope"]


#: A point's training run writes a checkpoint at least this often (wall seconds; see :func:`checkpointing`).
CHECKPOINT_SECONDS = 60.0


def checkpointing(**config) -> dict:
    """Keyword arguments that make a point's training run resumable inside a sweep: the point's
    checkpoint file (:func:`twolayer.sweep.point_checkpoint`), written every
    :data:`CHECKPOINT_SECONDS` s, a stale one discarded; ``config`` (for
    :func:`twolayer.dynamics.engine.run`, which cannot derive one) identifies the run. Empty
    outside a sweep."""
    from ..sweep import point_checkpoint

    path = point_checkpoint()
    if path is None:
        return {}
    # by wall time only: short points write nothing, long ones lose at most a minute
    out = {"checkpoint": path, "checkpoint_seconds": CHECKPOINT_SECONDS, "checkpoint_every": 2**62,
           "on_mismatch": "restart"}
    if config:
        out["config"] = config
    return out


def check_positive(name: str, value, integer: bool = False) -> None:
    """Raise :class:`InputError` unless ``value`` is a positive number (integer if asked)."""
    ok = value is not None and value > 0 and (not integer or int(value) == value)
    if not ok:
        raise InputError(f"{name} must be a positive {'integer' if integer else 'number'}, got {value!r}")


class Rows(list):
    """Tidy rows: ``add(metric, value, **ids)`` appends ``{"metric", "value", **ids}``."""

    def add(self, metric: str, value, **ids) -> None:
        self.append({"metric": metric, "value": float(value), **ids})


def gather(results) -> Rows:
    """The rows of every point result, in order."""
    rows = Rows()
    for r in results:
        rows.extend(r.rows)
    return rows


def value(result, metric: str) -> float:
    """The value of ``metric`` in one point result (the first row with that name)."""
    return next(row["value"] for row in result.rows if row["metric"] == metric)


def table(results, metric: str, axis: str, values, seeds: int, **where) -> np.ndarray:
    """``(len(values), seeds)`` array of ``metric`` from the point results, indexed by the point
    parameter ``axis`` (position in ``values``) and ``seed``; only points whose parameters match
    ``where``; NaN where a point is missing."""
    out = np.full((len(values), seeds), np.nan)
    index = {v: i for i, v in enumerate(values)}
    for r in results:
        if all(r.params[k] == v for k, v in where.items()):
            out[index[r.params[axis]], int(r.params["seed"])] = value(r, metric)
    return out


def loglog_slope(x, y) -> float:
    """Least-squares slope of ``log y`` on ``log x`` over the finite positive pairs (NaN if fewer
    than two): the fitted exponent ``a`` of ``y ∝ x^a``."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])
