"""Shared start of the Arora et al. experiments: data, H∞, spectrum, solver, learning rate."""


from __future__ import annotations

import contextlib
import re
import functools
import math

import numpy as np

from ..._errors import InputError
from .. import RunContext
from .._common import (
    Rows as _Rows,
    data_dim,
    gd_flops,
)

PAPER = "Arora, Du, Hu, Li, Wang. Fine-grained analysis of optimization and generalization for " \
        "overparameterized two-layer neural networks. ICML 2019"

INIT_KEY, RANDOM_KEY, NOISE_TRAIN_KEY, NOISE_TEST_KEY, SAMPLE_KEY = 11, 12, 13, 14, 15
LABEL_SETS = ("true", "random", "worst_case")


# ------------------------------------------------------------------------------ shared
#: The kernel of the Arora et al. experiments unless ``--kernel`` / ``--set kernel=`` names another.
PAPER_KERNEL = "first-layer"


def check_kernel(spec: str) -> str:
    """``kernel`` of an Arora et al. experiment, checked and in canonical form: a built-in kernel
    name (an alias becomes its canonical name, so that ``H∞`` under any alias is the paper's
    kernel) or ``module:function`` / ``file.py:function`` as given
    (:func:`twolayer.kernels.resolve_kernel`), resolved now so that a wrong name or a failing import
    is one error before anything runs. The deep kernels need options a setting cannot carry: wrap
    one in a function of your own."""
    from ...kernels import DEEP_KERNELS, resolve_kernel

    if not isinstance(spec, str) or not spec:
        raise InputError(f"kernel must be a kernel name or MODULE:FUNCTION, got {spec!r}")
    if spec in DEEP_KERNELS:
        raise InputError(f"kernel={spec} needs depth, w_std, b_std, which a setting cannot carry: write "
                         f"def k(X, Z=None): return twolayer.kernels.deep_kernel(X, Z, kind='{spec}', depth=3) in a "
                         f"file and pass --kernel FILE.py:k")
    fn = resolve_kernel(spec)
    return fn.name if fn.family != "user" else spec


@functools.lru_cache(maxsize=4)
def _prepared(data: str, classes: tuple, n_train, n_test, seed: int, kernel: str = PAPER_KERNEL):
    """Data set, the kernel of the training inputs (``H∞`` unless ``kernel`` names another), its
    spectrum and Cholesky solver, and the test × train kernel: computed once per process (sweep
    workers share it across points)."""
    from ...bounds import KernelSolver
    from ...data import load
    from ...kernels import resolve_kernel
    from ...kernels.user import kernel_identity
    from ...spectra import spectrum

    from ... import __version__
    from ..._cache import cached, digest
    from ...spectra import Spectrum

    ds = load(data, classes=classes, n_train=n_train, n_test=n_test, seed=seed)
    fn = resolve_kernel(kernel)

    def compute():
        H = fn(ds.X)
        sp = spectrum(H)
        return {"H": H, "eigenvalues": sp.eigenvalues, "eigenvectors": sp.eigenvectors,
                "K_test": fn(ds.X_test, ds.X) if ds.has_test else None}

    # in a run folder, large ones are kept in RUN/cache and memory-mapped by every later point and rerun
    ident = kernel_identity(kernel)
    key = digest(ds.X, ds.X_test if ds.has_test else None, version=__version__,
                 kernel="first_layer_ntk" if ident == PAPER_KERNEL else ident)
    got = cached(key, ("H", "eigenvalues", "eigenvectors", "K_test"), compute, rows=ds.n)
    H, K_test = got["H"], got["K_test"]
    spec = Spectrum(eigenvalues=got["eigenvalues"], eigenvectors=got["eigenvectors"])
    solver = KernelSolver(H, spectrum=spec)
    return ds, H, spec, solver, K_test


def _prep(cfg):
    return _prepared(cfg.data, tuple(cfg.classes), cfg.n_train, cfg.n_test, cfg.seed, _kernel(cfg))


def _kernel(cfg) -> str:
    return getattr(cfg, "kernel", PAPER_KERNEL)


def _given_kernel(cfg) -> str | None:
    """``cfg.kernel`` when it is not the paper's ``H∞`` (the config holds the canonical name,
    :func:`check_kernel`), else None."""
    spec = _kernel(cfg)
    return None if spec == PAPER_KERNEL else spec


@functools.lru_cache(maxsize=4)
def _network_lambda_max(data: str, classes: tuple, n_train, n_test, seed: int, kernel: str) -> float:
    """``λ_max(H∞)`` of the training inputs (the data set :func:`_prepared` loaded for ``kernel``):
    the network's own stable-step limit when the experiment's kernel is another one. Cost: one
    Gram and one top eigenvalue (``4n³/3``)."""
    from ...kernels import first_layer_ntk
    from ...spectra import top_eigenvalue

    ds = _prepared(data, classes, n_train, n_test, seed, kernel)[0]
    return top_eigenvalue(first_layer_ntk(ds.X))


#: What ``lr`` applies to: ``mean`` — the loss ``½n⁻¹Σ`` the runs report (default), or ``sum`` — the
#: paper's eq. (2) ``½Σ`` taken literally. GD with step η on ``½Σ`` is GD with step ``nη`` on
#: ``½n⁻¹Σ``; the engine always runs the latter, so only the step changes. Why ``mean`` is the
#: default reading of the paper's η = 10⁻³: see :mod:`.fig1` ("The loss convention").
LR_CONVENTIONS = ("mean", "sum")


def check_device(device) -> None:
    """``device`` of a GD experiment's training: None (numpy), ``"cpu"``, ``"cuda"`` or ``"cuda:K"``
    (the torch backend, :func:`twolayer.dynamics.train` ``device=``). Checked by name here; whether
    torch and CUDA are there is checked when the run starts, before any point."""
    if device is not None and not (isinstance(device, str) and re.fullmatch(r"cpu|cuda(:\d+)?", device)):
        raise InputError(f"device must be cpu, cuda or cuda:K (the torch backend), got {device!r}; leave it unset "
                         f"for numpy")


def check_lr_convention(value: str) -> None:
    if value not in LR_CONVENTIONS:
        raise InputError(f"lr_convention must be one of {LR_CONVENTIONS} (the loss the step lr applies to: "
                         f"'mean' = 1/2 n^-1 sum, 'sum' = 1/2 sum as in the paper's eq. 2), got {value!r}")


def _learning_rate(cfg, spec, n: int) -> tuple[float, float]:
    """``(η, 2n/λ_max)`` in the ``½n⁻¹Σ`` convention: ``cfg.lr`` (times ``n`` when
    ``cfg.lr_convention == "sum"``) or ``cfg.lr_fraction`` × the maximum. ``λ_max`` is ``H∞``'s,
    the network's own, also when ``cfg.kernel`` names another kernel for the predictions."""
    if _given_kernel(cfg) is None:
        max_lr = spec.max_stable_lr("mean")
    else:  # the network's step limit is its own kernel's (H-inf), whatever kernel the predictions use
        from ...spectra import gd_stable_step

        max_lr = gd_stable_step(_network_lambda_max(cfg.data, tuple(cfg.classes), cfg.n_train, cfg.n_test,
                                                    cfg.seed, _kernel(cfg))) * n
    scale = n if cfg.lr_convention == "sum" else 1
    lr = cfg.lr * scale if cfg.lr is not None else cfg.lr_fraction * max_lr
    if not 0 < lr < max_lr:
        given = "1/2 sum: below 2/lambda_max" if scale != 1 else "1/2 n^-1 sum: below 2n/lambda_max"
        raise InputError(f"lr = {lr / scale:g} is not in (0, {max_lr / scale:g}) for this data (loss {given}); "
                         f"use --set lr=... below it or --set lr_fraction=0.5")
    return float(lr), float(max_lr)


def _reference(H, spec, n: int, batch: int, kernel: str | None = None):
    """The set-up's ``H∞`` (or the given ``kernel``'s matrix ``H``) and its spectrum as the training
    runs' reference kernel in the ``½n⁻¹Σ`` convention
    (:func:`twolayer.dynamics.reference_from_spectrum`): decomposed once per process, not again in
    every point."""
    from ...dynamics import reference_from_spectrum

    return reference_from_spectrum(H, spec, 1.0 / n, batch, kernel=kernel)


def data_shape(cfg) -> tuple[int, int]:
    """``(n, d)`` of the training set before loading it: ``n_train`` (digits: 360 when unset) and
    the source's input dimension (784 for an unknown file)."""
    source = str(cfg.data).split(":", 1)[0].lower()
    n = cfg.n_train if cfg.n_train is not None else (360 if source == "digits" else 10_000)
    return int(n), data_dim(source)


def gd_cost(n: int, d: int, *, points: int, batch: int, width: int, steps: int, grams: int = 0, dtype="float64"):
    """:class:`twolayer._cost.Cost` of ``points`` GD runs of ``batch`` networks of width ``width``:
    two GEMMs of ``n·B·m·d`` per step (Arora et al. §3: forward and the first-layer gradient), plus
    ``grams`` empirical tangent Grams (``n² m`` each), plus one ``eigh`` of ``H∞`` (n × n)."""
    from ..._cost import Cost

    return Cost(gemm_flops=points * (gd_flops(n, d, width, steps, batch) + 2.0 * grams * n * n * width),
                eigh=[n], dtype=dtype)


def _start(cfg, ctx: RunContext):
    """Common start of the GD experiments: data and kernel (:func:`_prepared`), provenance, the
    learning rate (recorded in ``config.toml``) and the spectrum rows. Returns
    ``(prepared, lr, max_lr, rows)``."""
    if getattr(cfg, "device", None) is not None:  # no torch, or no CUDA: one error before any point runs
        from ...torch_backend import resolve_device

        resolve_device(cfg.device)
    prepared = _prep(cfg)
    ds, _, spec, _, _ = prepared
    ctx.rf.set_data(ds.provenance)
    lr, max_lr = _learning_rate(cfg, spec, ds.n)
    _record_lr(ctx, lr, max_lr, cfg.lr_convention, ds.n)
    rows = _Rows()
    _spectrum_rows(spec, ds.n, ds.d, rows.add)
    return prepared, lr, max_lr, rows


@contextlib.contextmanager
def _steps_bar(steps: int, desc: str):
    """A progress bar over the GD steps of one point (shown only for points run in this process)."""
    from ..._progress import step_progress

    bar = step_progress(steps, desc)
    try:
        yield bar
    finally:
        bar.close()


def _record_lr(ctx: RunContext, lr: float, max_lr: float, convention: str, n: int) -> None:
    ctx.resolve(loss="1/2 n^-1 sum_i (y_i - f(x_i))^2", normalization="mean", lr=lr, max_stable_lr=max_lr,
                lr_convention=convention, lr_in_its_convention=lr / n if convention == "sum" else lr,
                lr_fraction_of_max=lr / max_lr, stable_lr_rule="2n / lambda_max(H-infinity)",
                algorithm="full-batch GD, first layer only (Arora et al. Sec. 3.1)")


def _spectrum_rows(spec, n: int, d: int, add) -> None:
    trace = float(np.sum(spec.eigenvalues))
    for name, v in [("n", n), ("d", d), ("lambda_min", spec.lambda_min), ("lambda_max", spec.lambda_max),
                    ("condition_number", spec.condition_number), ("trace_H", trace), ("trace_H_expected", n / 2),
                    ("random_complexity_expected", math.sqrt(2.0 * float(np.sum(1.0 / spec.eigenvalues)) / n))]:
        add(name, v)


