r"""The range of each loss a bound is stated for, in one place, and what makes a bound vacuous.

A bound on the expected value of a loss that takes values in ``[lo, hi]`` says nothing once it is
above ``hi`` (the expectation is at most ``hi`` anyway): such a bound is *vacuous*. Figures and the
report mark it so (:data:`VACUOUS`), never silently.

* :data:`LOSS_RANGES` — loss name → ``(lo, hi)``: the truncated ℓ1 loss ``min(|f(x) − y|, 1)`` of
  Arora et al. (2019) Theorem 5.1 and the 0–1 classification error, both ``[0, 1]``.
* :data:`BOUND_LOSS` — metric name of a bound (as written to ``metrics.csv``) → the loss it bounds.

Cost: dictionary look-ups.
"""

from __future__ import annotations

import math

__all__ = ["LOSS_RANGES", "BOUND_LOSS", "VACUOUS", "loss_range", "is_vacuous"]

#: Loss name → (lower, upper) end of its range.
LOSS_RANGES = {
    "l1_truncated": (0.0, 1.0),   # min(|f(x) − y|, 1), Arora et al. 2019 Theorem 5.1
    "zero_one": (0.0, 1.0),       # classification error
}
#: Metric of a bound → the loss it bounds.
BOUND_LOSS = {"bound_total": "l1_truncated"}
#: The word figures and tables attach to a vacuous bound.
VACUOUS = "vacuous"


def loss_range(loss: str) -> tuple[float, float]:
    """``(lo, hi)`` of ``loss`` (a key of :data:`LOSS_RANGES`; KeyError naming the known ones otherwise)."""
    try:
        return LOSS_RANGES[loss]
    except KeyError:
        raise KeyError(f"unknown loss {loss!r}; known: {', '.join(LOSS_RANGES)}") from None


def is_vacuous(bound: float, loss: str = "l1_truncated") -> bool:
    """True when ``bound`` lies above the upper end of ``loss``'s range (a NaN bound is not vacuous:
    it is missing). Example: ``is_vacuous(2.96)`` and not ``is_vacuous(0.8)`` for the [0, 1] loss."""
    b = float(bound)
    return not math.isnan(b) and b > loss_range(loss)[1]
