"""Up-front cost estimates: how long a preset will take here, and on one GPU.

An experiment declares its work as a :class:`Cost` (floating-point operations of its GEMMs and the
sizes of its dense eigendecompositions); :func:`estimate` turns it into seconds with rates
measured on this machine in a fraction of a second (one GEMM and one ``eigh`` at small size,
best of three, scaled by the operation count), and prints the line ``reproduce`` shows before it
starts, e.g. ``≈ 20 days on this machine (2 cores, 60 GFLOP/s); ≈ 3 h on one GPU at 50 TFLOP/s``.
The GPU figure assumes :data:`GPU_FLOPS` and is marked as assumed; both are estimates of the
arithmetic, not of I/O or Python overhead (a lower bound for small work).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ._linalg import EIGH_FLOPS_PER_N3, machine_rates

#: ``eigvalsh`` (eigenvalues only) costs about this many flops per n³ (the tridiagonal reduction).
EIGVALS_FLOPS_PER_N3 = 4.0 / 3.0

__all__ = ["Cost", "estimate", "describe", "GPU_FLOPS"]

#: Assumed sustained GEMM rate of one data-centre GPU in float32 (flop/s), for the GPU estimate.
GPU_FLOPS = 50e12


@dataclass
class Cost:
    """Work of a run: ``gemm_flops`` (flops of its GEMM-bound parts, e.g. ``4 n B m d`` per GD step
    for the two GEMMs of a batch of ``B`` networks; Cholesky factorizations as ``n³/3``), the sizes
    ``eigh`` of its dense eigendecompositions with vectors (``9n³`` flops each) and ``eigvals`` of
    those for eigenvalues only (``eigvalsh``, ``4n³/3``); ``dtype`` of the GEMMs; ``upper`` when the
    work may stop early (a tolerance, a plateau, a diverging point), so that the estimate is an
    upper bound."""

    gemm_flops: float = 0.0
    eigh: list = field(default_factory=list)
    dtype: str = "float64"
    upper: bool = False
    eigvals: list = field(default_factory=list)

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(self.gemm_flops + other.gemm_flops, list(self.eigh) + list(other.eigh), self.dtype,
                    self.upper or other.upper, list(self.eigvals) + list(other.eigvals))

    def times(self, k: int) -> "Cost":
        """The work of ``k`` copies (``k`` sweep points of the same size)."""
        return Cost(k * self.gemm_flops, list(self.eigh) * int(k), self.dtype, self.upper, list(self.eigvals) * int(k))


def estimate(cost: Cost) -> tuple[float, float]:
    """``(seconds here, seconds on one GPU)`` for ``cost``."""
    gemm, eig = machine_rates(cost.dtype)
    eigh_flops = (sum(EIGH_FLOPS_PER_N3 * float(n) ** 3 for n in cost.eigh)
                  + sum(EIGVALS_FLOPS_PER_N3 * float(n) ** 3 for n in cost.eigvals))
    here = cost.gemm_flops / gemm + eigh_flops / eig
    gpu = (cost.gemm_flops + eigh_flops) / GPU_FLOPS  # eigh on a GPU runs far below its GEMM rate: optimistic
    return here, gpu


def _human(seconds: float) -> str:
    for unit, size in (("days", 86400.0), ("h", 3600.0), ("min", 60.0)):
        if seconds >= 1.5 * size:
            return f"{seconds / size:.0f} {unit}" if seconds / size >= 10 else f"{seconds / size:.1f} {unit}"
    return f"{max(seconds, 1):.0f} s"


def describe(cost: Cost) -> str:
    """One line: the estimate here (with the measured rate and core count) and on one GPU."""
    here, gpu = estimate(cost)
    gemm, _ = machine_rates(cost.dtype)
    sign = "≤" if cost.upper else "≈"
    return (f"{sign} {_human(here)} of arithmetic on this machine ({os.cpu_count()} cores, {gemm / 1e9:.0f} GFLOP/s "
            f"{cost.dtype} GEMM measured); {sign} {_human(gpu)} on one GPU at {GPU_FLOPS / 1e12:.0f} TFLOP/s (assumed)")
