"""Small helpers every experiment module uses: seeds (from :mod:`twolayer._seeds`), checks, tidy rows, tables of
sweep results."""

from __future__ import annotations

import math
import os

import numpy as np

from .._errors import InputError
from .._seeds import rng, seed_sequence  # noqa: F401  (their home is twolayer._seeds; re-exported)

__all__ = ["seed_sequence", "rng", "check_positive", "Rows", "gather", "value", "table", "loglog_slope"]


#: A point's training run writes a checkpoint at least this often (wall seconds; see :func:`checkpointing`);
#: the environment variable ``TWOLAYER_CHECKPOINT_SECONDS`` overrides it.
CHECKPOINT_SECONDS = 60.0


def checkpoint_seconds() -> float:
    """The checkpoint interval of a point's training: ``$TWOLAYER_CHECKPOINT_SECONDS`` or
    :data:`CHECKPOINT_SECONDS`. A value that is not a positive number is one :class:`InputError`."""
    raw = os.environ.get("TWOLAYER_CHECKPOINT_SECONDS")
    if raw is None or raw == "":
        return CHECKPOINT_SECONDS
    try:
        v = float(raw)
    except ValueError:
        v = float("nan")
    if not (math.isfinite(v) and v > 0):
        raise InputError(f"TWOLAYER_CHECKPOINT_SECONDS must be a positive number of seconds, got {raw!r}; unset it "
                         f"for the default {CHECKPOINT_SECONDS:g}")
    return v


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
    out = {"checkpoint": path, "checkpoint_seconds": checkpoint_seconds(), "checkpoint_every": 2**62,
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


# ------------------------------------------------------------------------------ up-front cost counts
# The building blocks of the experiments' ``cost=`` functions (:class:`twolayer._cost.Cost`): flops of
# the dense GEMM-bound kernels, in one place. Elementwise work (activations, noise draws, Adam
# moments) is not counted: the estimates are of the GEMMs and dense factorizations only.

#: Input dimension by data source (the estimate is made before the data are loaded).
DATA_DIMS = {"digits": 64, "mnist": 784, "fashion-mnist": 784, "cifar10": 3072}


def data_dim(data: str, d: int | None = None) -> int:
    """Input dimension of the data source ``data`` before loading it: ``d`` for the synthetic
    sources (``sphere``, ``gaussian``), else the source's image size (784 for an unknown file)."""
    source = str(data).split(":", 1)[0].lower()
    if source in ("sphere", "gaussian") and d is not None:
        return int(d)
    return DATA_DIMS.get(source, 784)


def gd_flops(n: int, d: int, m: int, steps: int, batch: int = 1) -> float:
    """Flops of ``steps`` full-batch (noisy) GD steps of ``batch`` width-``m`` networks on ``n`` points in
    ``d`` dimensions: two GEMMs of ``2 n B m d`` per step (forward ``X Wᵀ`` and the first-layer
    gradient ``Gᵀ X``); the output layer's ``O(n B m)`` is left out."""
    return 4.0 * n * batch * m * d * steps


def forward_flops(n: int, d: int, m: int, batch: int = 1) -> float:
    """Flops of one forward pass of ``batch`` width-``m`` networks on ``n`` points: ``2 n B m d``."""
    return 2.0 * n * batch * m * d


def gram_flops(n: int, n2: int, d: int) -> float:
    """Flops of an ``n × n2`` kernel Gram matrix of inputs in ``d`` dimensions: the GEMM ``X Zᵀ``, ``2 n n2 d``
    (the kernel's elementwise function of it is not counted)."""
    return 2.0 * n * n2 * d


def tangent_gram_flops(n: int, m: int, d: int, n2: int | None = None) -> float:
    """Flops of the empirical tangent Gram (both layers) of a width-``m`` network between ``n`` and ``n2``
    points (default ``n2 = n``; :func:`twolayer.dynamics.empirical_reference`): the pre-activations
    ``2 (n + n2) m d`` (once when ``n2`` is ``n``), ``X Zᵀ`` and the two ``n × m × n2`` GEMMs."""
    same = n2 is None
    n2 = n if same else n2
    return 2.0 * (n if same else n + n2) * m * d + gram_flops(n, n2, d) + 4.0 * n * n2 * m


def cholesky_flops(n: int) -> float:
    """Flops of one Cholesky factorization of ``n × n``: ``n³/3``."""
    return float(n) ** 3 / 3.0


def solver_cost(n: int, dtype: str = "float64"):
    """:class:`twolayer._cost.Cost` of one :class:`twolayer.bounds.KernelSolver` of ``n × n`` without a given
    spectrum: the Cholesky (``n³/3``) and the extreme eigenvalues, exactly (one ``eigvalsh``) up to
    :data:`twolayer.spectra.EXACT_EIGVALS_MAX_N` rows, else 4 steps of 8-column subspace iteration on
    ``H`` and on ``H⁻¹`` (``2 · 4 · 2n² · 8`` flops)."""
    from .._cost import Cost
    from ..spectra import EXACT_EIGVALS_MAX_N

    if n <= EXACT_EIGVALS_MAX_N:
        return Cost(cholesky_flops(n), dtype=dtype, eigvals=[n])
    return Cost(cholesky_flops(n) + 2 * 4 * 2.0 * n * n * 8, dtype=dtype)


def svd_cost(n: int, m: int, dtype: str = "float64"):
    """:class:`twolayer._cost.Cost` of a thin SVD with vectors of ``n × m`` (``numpy.linalg.svd``): about
    ``4 max(n,m) min(n,m)² + 22 min(n,m)³`` flops (Golub & Van Loan's R-SVD), counted as the GEMM part and
    two ``eigh`` of ``min(n, m)`` (``2 · 9 k³``, run at the measured LAPACK rate)."""
    from .._cost import Cost

    k, big = min(n, m), max(n, m)
    return Cost(4.0 * big * k * k, eigh=[k, k], dtype=dtype)


def train_cost(n: int, d: int, m: int, steps: int, *, batch: int = 1, records: int = 0, n_test: int = 0,
               reference: str | None = "closed", dtype: str = "float64"):
    """:class:`twolayer._cost.Cost` of one :func:`twolayer.dynamics.train` call without Gram diagnostics:
    the steps (:func:`gd_flops`); per record the kernel-gap residuals (``2n²`` per network) and, with
    ``n_test`` test points, two test forward passes (the test metrics and the kernel gap on the test
    set); the reference kernel and its ``eigh`` — ``"closed"``: one closed-form Gram (``2n²d``) and one
    ``eigh`` of ``n`` shared by the batch, ``"empirical"``: a tangent Gram and an ``eigh`` per network,
    None: none — and with test points the test kernel and ``K_test V`` (``2 n_test n²``) per network."""
    from .._cost import Cost

    flops = gd_flops(n, d, m, steps, batch) + (records + 1) * batch * 2.0 * n * n
    eigh: list = []
    if reference == "closed":
        flops += gram_flops(n, n, d)
        eigh = [n]
    elif reference == "empirical":
        flops += batch * tangent_gram_flops(n, m, d)
        eigh = [n] * batch
    if n_test:
        flops += (records + 1) * 2 * forward_flops(n_test, d, m, batch)
        if reference is not None:
            test_kernel = gram_flops(n_test, n, d) if reference == "closed" else tangent_gram_flops(n, m, d, n_test)
            flops += batch * (test_kernel + 2.0 * n_test * n * n)
    return Cost(flops, eigh=eigh, dtype=dtype)
