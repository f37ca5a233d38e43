r"""The kernel operator on a Dask cluster: row blocks of ``H`` built and kept on the workers, ``H`` never travels.

:class:`DaskKernelOperator` (built by :func:`make_dask_operator`) is a
:class:`~twolayer.kernels.KernelOperator` whose row blocks live on the workers of an existing Dask
cluster (``dask[distributed]``, an optional extra imported only here and only when used), so that
``complexity``, ``spectrum --top K`` and the predicted trajectory (:mod:`twolayer.krylov`) run at
``n`` beyond one machine's memory:

* the unit rows ``X`` (``8nd`` bytes) are scattered once to every worker;
* the rows ``0…n`` are cut into blocks of ``block`` rows; worker ``k`` of ``W`` (sorted by address)
  owns the contiguous run of blocks ``[k B/W, (k+1) B/W)`` of the ``B`` blocks and builds them
  there with the blocked row builder of the matrix-free storage (``_KernelRows.compute``: the
  GEMM cosine of the block against all rows, the angle transform, the near-parallel
  recomputation, the exact diagonal), kept as float64 (``dense64``), rounded once to float32
  (``dense32``) or recomputed at every product (``matrix-free``);
* a product ``HV`` sends ``V`` (``8nk`` bytes; inside the tasks up to 1 MiB, else by one
  broadcast) to the workers, each returns its rows of ``HV`` and the client assembles them in row
  order.

Determinism: every block's product is one ``np.dot`` of the same ``(rows, n)`` float64 block with
``V`` (arrays that arrive misaligned on a worker are first copied to aligned memory, else numpy
would bypass BLAS and round differently), whichever worker runs it and in whatever order. So a
product equals bit for bit that of the local operator with the same entries and block boundaries —
the local ``matrix-free`` operator of ``block_size=block`` for ``dense64`` and ``matrix-free``,
the local float32 matrix of the same entries, blocked alike, for ``dense32`` — provided the
workers run the same BLAS library on the same kind of CPU. The entries are those of the local
matrix-free storage; they differ from a local ``dense64`` build (a SYRK of the whole Gram) by
rounding only, within the float64 build's bound ``ε_build`` (plus ``u₃₂ |H_ij|`` for
``dense32``), see :mod:`twolayer.kernels.operator`.

Memory per worker (:func:`estimate_worker_memory`): ``8nd`` inputs, ``r n`` · 8 (dense64) or · 4
(dense32) bytes for its ``r`` rows (0 matrix-free), three ``block × n`` float64 buffers per thread.
Cost of a product: ``2n²k`` flops spread over the workers (matrix-free: plus the ``2n²d`` GEMM
flops of the rebuild) and the transfer of ``V`` to and ``HV`` from the workers.

Failures are one clear :class:`~twolayer.InputError`, never a hang: an unreachable scheduler
after ``timeout`` seconds (:func:`connect`), a cluster without workers, a worker holding row
blocks that leaves (checked every ``poll`` seconds while a build or product runs), a worker whose
memory limit is below the estimate, and an optional wall-clock ``timeout`` per product.
"""

from __future__ import annotations

import math
import time
import weakref
from concurrent.futures import CancelledError, ThreadPoolExecutor

import numpy as np

from ._errors import InputError
from .kernels._blocks import _fmt_bytes
from .kernels.arccos import _check_scale, _inputs, _member, _normalize
from .kernels.operator import _SLOPE, _U32, _U64, KernelOperator, _free_block, _KernelRows

__all__ = ["DASK_STORAGES", "CONNECT_TIMEOUT_S", "DaskKernelOperator", "connect", "make_dask_operator",
           "estimate_worker_memory"]

#: The storages a Dask operator offers (``memmap`` has no meaning on remote workers).
DASK_STORAGES = ("dense64", "dense32", "matrix-free")
#: Seconds to wait for a scheduler (and for its first worker) before giving up with a message.
CONNECT_TIMEOUT_S = 10
#: Seconds between liveness checks of the workers while a build or product runs.
POLL_S = 1.0
#: A product's ``V`` up to this size travels inside the tasks, above it by one broadcast.
_INLINE_BYTES = 2**20


def _distributed():
    try:
        import distributed
    except ImportError:
        raise InputError("--dask needs the optional package dask[distributed]: pip install 'dask[distributed]'") from None
    return distributed


def _first(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else ""


def connect(address: str, timeout: float = CONNECT_TIMEOUT_S):
    """A ``distributed.Client`` of the scheduler at ``address`` (e.g. ``tcp://host:8786``), or one clear error.

    Raises :class:`~twolayer.InputError` when the package is missing or the scheduler does not
    answer within ``timeout`` seconds. Cost: one connection.
    """
    distributed = _distributed()
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {address!r} within {timeout:g} s "
                         f"({type(exc).__name__}: {_first(exc)}); check the address "
                         f"(e.g. tcp://host:8786) and that the scheduler runs") from None


def estimate_worker_memory(n: int, d: int, storage: str, rows: int, block: int, threads: int = 1,
                           uses_sin: bool = True) -> int:
    """Bytes of RAM one worker needs to hold ``rows`` rows of an ``n``-row kernel in ``d`` dimensions.

    ``8nd + 8n`` inputs (unit rows, norms), the stored rows (``8 rows n`` dense64, ``4 rows n``
    dense32, 0 matrix-free), ``threads`` × two or three ``block × n`` float64 buffers, one
    product's ``V`` and result (``8n + 8 rows``). Cost ``O(1)``.
    """
    if storage not in DASK_STORAGES:
        raise InputError(f"a Dask operator's storage must be one of auto, {', '.join(DASK_STORAGES)}, got {storage!r}")
    stored = {"dense64": 8, "dense32": 4, "matrix-free": 0}[storage] * rows * n
    buffers = (3 if uses_sin else 2) * 8 * min(block, rows) * n * max(1, threads)
    return int(8 * n * d + 8 * n + stored + buffers + 8 * n + 8 * rows)


# --------------------------------------------------------------------------- on the workers
class _Part:
    """The row blocks ``[r0, r1)`` of ``H`` one worker owns: stored (dense64/dense32) or recomputed."""

    def __init__(self, kind: str, Xn: np.ndarray, norms: np.ndarray, block: int, bounds: list[tuple[int, int]],
                 storage: str, threads: int):
        self.kind = kind
        self.rows = _KernelRows(_member(kind), Xn, norms, block)
        self.bounds, self.storage, self.threads = bounds, storage, max(1, int(threads))
        n = Xn.shape[0]
        self.offsets = np.cumsum([0] + [r1 - r0 for r0, r1 in bounds]).tolist()
        self.data = None
        if storage != "matrix-free":
            data = np.empty((self.offsets[-1], n), dtype=np.float64 if storage == "dense64" else np.float32)
            self.data = data

            def build(t: int) -> None:
                r0, r1 = bounds[t]
                data[self.offsets[t]:self.offsets[t + 1]] = self._compute(r0, r1)  # float32: rounded once

            self._each(build)

    def __getstate__(self) -> dict:
        """Picklable (a worker may spill or hand over its part): the kernel by name, not its functions."""
        state = dict(self.__dict__)
        rows = state.pop("rows")
        state["_rows_args"] = (rows.Xn, rows.norms, rows.block)
        return state

    def __setstate__(self, state: dict) -> None:
        Xn, norms, block = state.pop("_rows_args")
        self.__dict__.update(state)
        if self.data is not None:
            self.data = np.require(self.data, requirements=["C", "A"])
        self.rows = _KernelRows(_member(self.kind), _aligned(Xn), _aligned(norms), block)

    def _compute(self, r0: int, r1: int) -> np.ndarray:
        n = self.rows.Xn.shape[0]
        C, w1, w2 = (np.empty((r1 - r0, n)) for _ in range(3))
        return self.rows.compute(r0, r1, C, w1, w2)

    def _each(self, fn) -> None:
        if self.threads == 1 or len(self.bounds) == 1:
            for t in range(len(self.bounds)):
                fn(t)
        else:
            with ThreadPoolExecutor(max_workers=self.threads) as pool:
                list(pool.map(fn, range(len(self.bounds))))

    def product(self, V: np.ndarray, absolute: bool) -> np.ndarray:
        """Rows of ``SV`` (or ``|S|V``) for the owned blocks, ``(rows, k)``, one ``np.dot`` per block."""
        out = np.empty((self.offsets[-1], V.shape[1]))

        def work(t: int) -> None:
            a, b = self.offsets[t], self.offsets[t + 1]
            if self.data is None:
                B = self._compute(*self.bounds[t])
                if absolute:
                    np.abs(B, out=B)
            elif self.data.dtype == np.float64:
                B = np.abs(self.data[a:b]) if absolute else self.data[a:b]
            else:
                B = self.data[a:b].astype(np.float64)
                if absolute:
                    np.abs(B, out=B)
            np.dot(B, V, out=out[a:b])

        self._each(work)
        return out

    def take(self, local: np.ndarray) -> np.ndarray:
        """Stored rows at local positions ``local`` (float64)."""
        assert self.data is not None
        return np.asarray(self.data[local], dtype=np.float64)


def _aligned(A: np.ndarray) -> np.ndarray:
    """``A`` as an aligned C-contiguous float64 array. Arrays arrive on a worker in network frames that
    may be misaligned (measured: address ≡ 4 mod 8), and numpy then bypasses BLAS for ``matmul``/``dot``
    with its own loops, whose sums round differently: the copy keeps the products bit-identical."""
    return np.require(A, dtype=np.float64, requirements=["C", "A"])


def _build_part(kind, Xn, norms, block, bounds, storage, threads) -> _Part:
    return _Part(kind, _aligned(Xn), _aligned(norms), block, bounds, storage, threads)


def _part_product(part: _Part, V: np.ndarray, absolute: bool) -> np.ndarray:
    return part.product(_aligned(V), absolute)


def _part_rows(part: _Part, local: np.ndarray) -> np.ndarray:
    return part.take(local)


# --------------------------------------------------------------------------- on the client
class DaskKernelOperator(KernelOperator):
    r"""A kernel operator whose row blocks live on the workers of a Dask cluster (see the module docstring).

    Build one with :func:`make_dask_operator`. Products ``matvec`` (n,) → (n,), ``matmat``
    (n, k) → (n, k), ``abs_matmat``, ``product_error_bound``, ``gershgorin_upper``, ``rows(idx)``
    and ``diagonal()`` behave as those of :class:`~twolayer.kernels.KernelOperator` (float64).

    Besides the attributes of :class:`~twolayer.kernels.KernelOperator`:

    Attributes
    ----------
    client : distributed.Client
    block : int
        Rows per block (the block boundaries are ``0, block, 2 block, …``).
    owners : list of (str, list of (int, int))
        Each worker's address and the row ranges it owns.
    worker_memory : dict
        The estimate (bytes) for each worker.
    """

    def __init__(self, *, client, kind: str, Xn: np.ndarray, norms: np.ndarray, storage: str, block: int,
                 owners: list, parts: list, choice: dict, build_error: float, worker_memory: dict,
                 own_client: bool, timeout: float | None, poll: float):
        super().__init__(n=Xn.shape[0], storage=storage, kind=kind, choice=choice, build_error=build_error,
                         unit_error=_U32 if storage == "dense32" else 0.0)
        self.client = client
        self.block = int(block)
        self.owners = owners
        self.worker_memory = worker_memory
        self.timeout, self.poll = timeout, float(poll)
        self._parts = parts
        self._rows_local = _KernelRows(_member(kind), Xn, norms, self.block)
        diag = self._rows_local.diag  # the stored diagonal: float32-rounded for dense32
        self._diag = diag.astype(np.float32).astype(np.float64) if storage == "dense32" else diag
        self._release = weakref.finalize(self, _release, client, parts, own_client)

    # ----------------------------------------------------------------- products
    # matvec / matmat / abs_matmat are KernelOperator's: they check V and call _product, here on the workers
    def _product(self, V: np.ndarray, absolute: bool) -> np.ndarray:
        self._check_open()
        Vc = np.ascontiguousarray(V)
        # a small V rides with the tasks (one round trip fewer); a large one is broadcast once
        vf = Vc if Vc.nbytes <= _INLINE_BYTES else self.client.scatter(Vc, broadcast=True, hash=False)
        futs = [self.client.submit(_part_product, pf, vf, absolute, workers=[w], allow_other_workers=False,
                                   pure=False) for (w, _), pf in zip(self.owners, self._parts)]
        pieces = self._gather(futs, "a product")
        out = np.empty((self.shape[0], Vc.shape[1]))
        for (_, bounds), piece in zip(self.owners, pieces):
            off = 0
            for r0, r1 in bounds:
                out[r0:r1] = piece[off:off + r1 - r0]
                off += r1 - r0
        return out

    # ----------------------------------------------------------------- entries
    def rows(self, idx) -> np.ndarray:
        """Rows ``idx`` of ``S`` (float64, (len(idx), n)): fetched from their workers (matrix-free: recomputed here)."""
        self._check_open()
        ii = np.atleast_1d(np.asarray(idx, dtype=np.intp))
        if self.storage == "matrix-free":
            return self._rows_local.select(ii)
        out = np.empty((ii.size, self.shape[0]))
        asks = []
        for (w, bounds), pf in zip(self.owners, self._parts):
            pos, local = [], []
            off = 0
            for r0, r1 in bounds:
                hit = np.nonzero((ii >= r0) & (ii < r1))[0]
                pos.append(hit)
                local.append(ii[hit] - r0 + off)
                off += r1 - r0
            p, loc = np.concatenate(pos), np.concatenate(local)
            if p.size:
                asks.append((p, self.client.submit(_part_rows, pf, loc, workers=[w], allow_other_workers=False,
                                                   pure=False)))
        got = self._gather([f for _, f in asks], "reading rows")
        for (p, _), rows in zip(asks, got):
            out[p] = rows
        return out

    def todense(self) -> np.ndarray:
        """``S`` as a float64 ``(n, n)`` array (``8n²`` bytes on the client: for small ``n`` and tests)."""
        return self._product(np.eye(self.shape[0]), absolute=False)

    @property
    def nbytes(self) -> int:
        """Bytes of the stored rows over all workers (0 for matrix-free)."""
        per = {"dense64": 8, "dense32": 4}.get(self.storage, 0)
        return per * self.shape[0] * self.shape[0]

    def close(self) -> None:
        """Release the row blocks on the workers (and the client, if this operator opened it)."""
        self._release()

    def __repr__(self) -> str:
        return (f"DaskKernelOperator(n={self.shape[0]}, storage={self.storage!r}, kind={self.kind!r}, "
                f"workers={len(self.owners)})")

    # ----------------------------------------------------------------- watchdog
    def _check_open(self) -> None:
        if not self._release.alive:
            raise InputError("this Dask kernel operator is closed; build a new one")
        _check_client(self.client)

    def _gather(self, futs: list, what: str) -> list:
        return _wait_and_gather(self.client, futs, [w for w, _ in self.owners], what, self.timeout, self.poll)


def _release(client, parts, own_client: bool) -> None:
    from distributed.client import ClosedClientError

    try:
        if client.status == "running" and parts:
            client.cancel(parts)
        if own_client:
            client.close()
    except (OSError, TimeoutError, RuntimeError, ValueError, ClosedClientError):  # a cluster already gone
        pass


def _check_client(client) -> None:
    if client.status != "running":
        raise InputError(f"the Dask scheduler is gone (client status {client.status!r}); check that the cluster "
                         f"runs and run the same command again")


def _live_workers(client) -> set[str]:
    """Addresses of the scheduler's workers now; raises InputError when the scheduler is gone."""
    _check_client(client)
    try:
        return set(client.scheduler_info(n_workers=-1).get("workers", {}))
    except (OSError, TimeoutError) as exc:
        raise InputError(f"the Dask scheduler does not answer ({type(exc).__name__}: {_first(exc)}); check that "
                         f"the cluster runs and run the same command again") from None


def _wait_and_gather(client, futs: list, owners: list[str], what: str, timeout: float | None, poll: float,
                     fetch: bool = True):
    """``client.gather(futs)`` (``fetch``; else only wait and raise a task's error), checking every ``poll`` s
    that the scheduler and every owning worker are alive: a lost one is one :class:`InputError`, never a hang."""
    distributed = _distributed()
    start = time.monotonic()
    while True:
        try:
            distributed.wait(futs, timeout=poll)
            break
        except TimeoutError:
            cancelled = False
        except CancelledError:
            cancelled = True
        _check_owners(client, owners, what)
        if cancelled:
            _raise_cancelled(what)
        if timeout is not None and time.monotonic() - start > timeout:
            raise InputError(f"{what} on the Dask cluster did not finish within {timeout:g} s; check the workers' "
                             f"load or pass a larger timeout")
    try:
        if fetch:
            return client.gather(futs)
        for f in futs:
            if f.status == "error":
                f.result()  # re-raises the worker's exception
        return None
    except CancelledError:
        _check_owners(client, owners, what)
        _raise_cancelled(what)


def _check_owners(client, owners: list[str], what: str) -> None:
    gone = sorted(set(owners) - _live_workers(client))
    if gone:
        raise InputError(f"the Dask cluster lost {len(gone)} worker(s) holding row blocks of the kernel "
                         f"({', '.join(gone[:3])}{', ...' if len(gone) > 3 else ''}) during {what}; the "
                         f"operator cannot continue: check the workers and run the same command again")


def _raise_cancelled(what: str):
    raise InputError(f"the Dask cluster cancelled {what} (a worker left, or the scheduler restarted); check the "
                     f"workers and run the same command again")


def make_dask_operator(X, kind: str = "first-layer", storage: str = "auto", *, client=None,
                       address: str | None = None, block_size: int | None = None, timeout: float | None = None,
                       connect_timeout: float | None = None, poll: float = POLL_S) -> DaskKernelOperator:
    r"""The arc-cosine kernel ``kind`` of the rows of ``X`` as a :class:`DaskKernelOperator` on a Dask cluster.

    Parameters
    ----------
    X : array_like, shape (n, d)
        Inputs (as :func:`~twolayer.kernels.make_operator`).
    kind : str
        A row of :data:`~twolayer.kernels.KERNELS` (default ``first-layer``: ``H^∞`` of Arora et al.
        2019 eq. 3).
    storage : {"auto", "dense64", "dense32", "matrix-free"}
        What each worker keeps (``auto``: the first of dense64, dense32 whose estimate fits every
        worker's memory limit, else matrix-free; recorded in ``choice``).
    client : distributed.Client, optional
        A connected client; otherwise ``address`` is connected to (and the client closed with
        the operator).
    block_size : int, optional
        Rows per block (default: the matrix-free default, at most ``⌈n / 2W⌉`` for ``W`` workers).
    timeout : float, optional
        Wall-clock limit of one build or product in seconds (default: none; lost workers and a
        lost scheduler are detected every ``poll`` seconds whatever the limit).
    connect_timeout : float, optional
        Seconds to wait for the scheduler and for a first worker (default
        :data:`CONNECT_TIMEOUT_S`).

    Returns
    -------
    DaskKernelOperator

    Notes
    -----
    Cost: scattering ``8nd`` bytes to each worker and the build of its blocks (``2 r n d`` GEMM
    flops + the angle transform for its ``r`` rows; none for matrix-free).
    """
    _distributed()
    connect_timeout = CONNECT_TIMEOUT_S if connect_timeout is None else float(connect_timeout)
    own = client is None
    if own:
        if address is None:
            raise InputError("make_dask_operator needs client= or address=")
        client = connect(address, connect_timeout)
    try:
        return _make(X, kind, storage, client, own, block_size, timeout, connect_timeout, poll)
    except BaseException:
        if own:
            _release(client, [], True)
        raise


def _make(X, kind, storage, client, own, block_size, timeout, connect_timeout, poll):
    if storage not in ("auto",) + DASK_STORAGES:
        raise InputError(f"a Dask operator's storage must be one of auto, {', '.join(DASK_STORAGES)}, got "
                         f"{storage!r} (memmap files do not travel to workers)")
    row, Xa, _, _ = _inputs(kind, X, None)
    n, d = Xa.shape
    try:
        client.wait_for_workers(1, timeout=connect_timeout)
    except TimeoutError:
        raise InputError(f"the Dask cluster has no workers (waited {connect_timeout:g} s); start workers and run "
                         f"the same command again") from None
    info = client.scheduler_info(n_workers=-1)["workers"]
    workers = sorted(info)
    W = len(workers)
    cap = max(1, math.ceil(n / (2 * W)))  # at least two blocks per worker
    block = _free_block(block_size, n) if block_size is not None else min(_free_block(None, n), cap)

    def layout(block: int) -> list:
        starts = list(range(0, n, block))
        B = len(starts)
        return [(w, [(s, min(n, s + block)) for s in starts[k * B // W:(k + 1) * B // W]])
                for k, w in enumerate(workers) if starts[k * B // W:(k + 1) * B // W]]

    owners = layout(block)
    threads = {w: int(info[w].get("nthreads", 1) or 1) for w in workers}
    limits = {w: int(info[w].get("memory_limit", 0) or 0) for w in workers}

    def est(s: str) -> dict:
        return {w: estimate_worker_memory(n, d, s, sum(r1 - r0 for r0, r1 in b), block, threads[w], row.uses_sin)
                for w, b in owners}

    ests = {s: est(s) for s in DASK_STORAGES}

    def fits(s: str) -> bool:
        return all(limits[w] == 0 or ests[s][w] <= limits[w] for w, _ in owners)

    chosen, reason = storage, f"requested, on {len(owners)} Dask worker(s)"
    if storage == "auto":
        chosen = next((s for s in DASK_STORAGES if fits(s)), "matrix-free")
        reason = (f"the first of dense64, dense32, matrix-free whose rows fit every one of the {len(owners)} Dask "
                  f"workers' memory limits")
    if not fits(chosen):
        w = max(owners, key=lambda o: ests[chosen][o[0]] - limits[o[0]])[0]
        raise InputError(f"the {chosen} rows of the {n}x{n} kernel need {_fmt_bytes(ests[chosen][w])} on Dask worker "
                         f"{w}, above its memory limit {_fmt_bytes(limits[w])}; use --storage dense32 or matrix-free, "
                         f"or more workers")
    worker_memory = est(chosen)
    lim = [v for v in limits.values() if v] or [None]
    choice = {"storage": chosen, "requested": storage, "reason": reason, "memory_limit": min(lim) if lim[0] else None,
              "estimates": {s: max(ests[s].values()) for s in DASK_STORAGES}, "workers": len(owners),
              "block": block}
    Xn, norms = _normalize(Xa)
    Xn = np.ascontiguousarray(Xn, dtype=np.float64)
    _check_scale(row, norms, norms)
    s_ = (float(np.max(norms)) ** 2) ** row.degree
    build = (_SLOPE.get(row.name, 12.3) * (d + 3) + 8.0 * abs(float(row.diagonal))) * _U64 * s_
    xf = client.scatter(Xn, broadcast=True, hash=False)
    nf = client.scatter(norms, broadcast=True, hash=False)
    parts = [client.submit(_build_part, row.name, xf, nf, block, b, chosen, threads[w], workers=[w],
                           allow_other_workers=False, pure=False) for w, b in owners]
    try:
        _wait_and_gather(client, parts, [w for w, _ in owners], "building the kernel's row blocks", timeout, poll,
                         fetch=False)
    except BaseException:
        client.cancel(parts)
        raise
    return DaskKernelOperator(client=client, kind=row.name, Xn=Xn, norms=norms, storage=chosen, block=block,
                              owners=owners, parts=parts, choice=choice, build_error=build,
                              worker_memory=worker_memory, own_client=own, timeout=timeout, poll=poll)
