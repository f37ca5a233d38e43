r"""The optional PyTorch backend: the training step and the arc-cosine kernels on a torch device.

PyTorch is never a dependency of the package (``pip install 'twolayer[torch]'``): this module
imports it only inside its functions, and the rest of the package imports this module only when
a ``device`` is asked for (``engine.init(..., device="cuda")``, ``twolayer train --device``).

What runs on the device
-----------------------
* :func:`loss_and_grads` — the same hand-derived gradients as
  :func:`twolayer.networks.loss_and_grads`, with the same formulas, the same order of in-place
  passes and the same two GEMMs per step, ``P = X Wᵀ`` and ``∇_W = (φ'(P) ⊙ e)ᵀ X`` (ReLU'(0) = 0)
  into a preallocated :class:`TorchWorkspace`. On CUDA, float32 GEMMs may use TF32
  (``tf32=True``: ~1e-3 relative error per product instead of ~1e-7; off by default).
* :func:`arccos_kernel` / :func:`first_layer_ntk` — the arc-cosine family (``H^∞`` of Arora et al.
  2019, eq. 3, and the other rows of :data:`twolayer.kernels.KERNELS`) built on the device with the
  numpy builder's numerics: normalized rows, one GEMM, the angle by ``π/2 + arcsin c``, near-parallel
  pairs recomputed from explicit differences, an exactly symmetric result with an exact diagonal;
  :class:`KernelOperator` is its matrix–vector product.

Host and device
---------------
Initial weights are drawn by numpy (:func:`twolayer.networks.init_network`) and moved
(:func:`to_torch`), so one seed starts both backends identically; noise of the noisy rules is drawn
from the same numpy Generators and moved, so the noise stream is identical too. The observers of
the engine read numpy (:func:`from_torch`, :func:`tree_to_host`). In float64 on the CPU the two
backends agree to rounding (≈1e-15 per step; tests: ≤ 1e-10 relative after 50 steps). A float32
run stays within 1e-5 relative of the float64 one in losses and weights (measured ≤ 1e-6 after 50
steps, as numpy's own float32 engine); with TF32 GEMMs on CUDA about 1e-3 (tests: ≤ 1e-2).
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import fields, is_dataclass, replace
from typing import Any
import numpy as np

from ._errors import InputError
from .networks import Network

__all__ = ["require_torch", "resolve_device", "torch_dtype", "numpy_dtype", "to_torch", "from_torch", "to_host",
           "from_host", "tree_to_host", "tree_to_device", "TorchWorkspace", "loss_and_grads", "forward",
           "arccos_kernel", "first_layer_ntk", "KernelOperator", "kernel_operator", "TORCH_ACTIVATIONS"]

#: Rows per elementwise block of the kernel build: about this many entries per block.
_BLOCK_ENTRIES = {"cpu": 2**20, "cuda": 2**26}


# --------------------------------------------------------------------------- torch, devices, dtypes
def require_torch():
    """The ``torch`` module, or :class:`~twolayer.InputError` saying how to install it."""
    try:
        import torch
    except ImportError:
        raise InputError("the torch backend (--device) needs PyTorch, which is not installed: "
                         "pip install 'twolayer[torch]' (CPU only: pip install torch "
                         "--index-url https://download.pytorch.org/whl/cpu)") from None
    return torch


def resolve_device(device):
    """A ``torch.device`` from ``"cpu"``, ``"cuda"``, ``"cuda:K"`` or a ``torch.device``.

    Raises :class:`~twolayer.InputError` when torch is absent, the name is not a CPU or CUDA
    device, or CUDA is asked for and not available.
    """
    torch = require_torch()
    try:
        dev = device if isinstance(device, torch.device) else torch.device(str(device))
    except (RuntimeError, TypeError, ValueError):
        raise InputError(f"unknown device {device!r}; use 'cpu' or 'cuda' (or 'cuda:K')") from None
    if dev.type not in ("cpu", "cuda"):
        raise InputError(f"device {device!r}: the torch backend runs on 'cpu' or 'cuda', not {dev.type!r}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise InputError(f"device {device!r}: CUDA is not available to this torch ({torch.__version__}, "
                             f"torch.cuda.is_available() is False); use --device cpu, or install a CUDA build "
                             f"of torch on a machine with an NVIDIA GPU")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise InputError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are visible")
    return dev


def torch_dtype(dtype):
    """``torch.float32`` or ``torch.float64`` from a numpy dtype, a name or a torch dtype."""
    torch = require_torch()
    if isinstance(dtype, torch.dtype):
        dt = dtype
    else:
        try:
            name = np.dtype(dtype).name
        except TypeError:
            raise InputError(f"dtype must be float32 or float64, got {dtype!r}") from None
        dt = {"float32": torch.float32, "float64": torch.float64}.get(name)
    if dt not in (torch.float32, torch.float64):
        raise InputError(f"dtype must be float32 or float64, got {dtype!r}")
    return dt


def numpy_dtype(dtype) -> np.dtype:
    """The numpy dtype of a torch floating dtype (or of a numpy dtype / name)."""
    torch = require_torch()
    if isinstance(dtype, torch.dtype):
        out = {torch.float32: np.float32, torch.float64: np.float64, torch.bool: np.bool_}.get(dtype)
        if out is None:
            raise InputError(f"no numpy dtype for torch {dtype}")
        return np.dtype(out)
    return np.dtype(dtype)


def to_host(t) -> np.ndarray:
    """A numpy copy of a tensor (any device); never a view of the tensor's memory."""
    return t.detach().to("cpu", copy=True).numpy()


def from_host(arr, like=None, *, device=None, dtype=None):
    """A tensor from the numpy array ``arr`` on ``like``'s device and dtype (or the given ones).

    The cast to the target dtype is done by numpy first (``astype``), so a float64 array becomes
    exactly the float32 numbers numpy would make of it."""
    torch = require_torch()
    dt = like.dtype if like is not None else torch_dtype(dtype if dtype is not None else np.asarray(arr).dtype)
    dev = like.device if like is not None else resolve_device(device or "cpu")
    a = np.asarray(arr)
    if a.dtype != bool:
        a = a.astype(numpy_dtype(dt), copy=False)
    if not (a.flags.c_contiguous and a.flags.writeable):
        a = np.array(a, order="C", copy=True)
    t = torch.from_numpy(a)
    return t.to(device=dev, non_blocking=False) if dev.type != "cpu" else t


def _fresh(arr, device, dtype):
    """A tensor copy of ``arr`` that shares no memory with it."""
    t = from_host(arr, device=device, dtype=dtype)
    return t.clone() if t.device.type == "cpu" else t


def to_torch(net: Network, device="cpu", dtype=None) -> Network:
    """``net`` with ``W`` (B, m, d) and ``a`` (B, m) as tensors on ``device`` (copies).

    ``dtype`` defaults to the network's own. The other fields (scale, activation,
    parameterization, meta) are kept, so the same seed gives the same starting point on both
    backends."""
    dev = resolve_device(device)
    dt = torch_dtype(net.dtype if dtype is None else dtype)
    return replace(net, W=_fresh(net.W, dev, dt), a=_fresh(net.a, dev, dt), meta=dict(net.meta))


def from_torch(net: Network) -> Network:
    """``net`` with numpy copies of its tensors (a numpy network passes through as a copy)."""
    if isinstance(net.W, np.ndarray):
        return net.copy()
    return replace(net, W=to_host(net.W), a=to_host(net.a), meta=dict(net.meta))


def _is_tensor(x) -> bool:
    mod = type(x).__module__ or ""
    return mod.startswith("torch") and hasattr(x, "detach")


def _map_tree(fn, tree):
    """``tree`` with ``fn`` applied to every leaf (NamedTuple, tuple, list, dict, dataclass containers)."""
    if isinstance(tree, tuple) and hasattr(type(tree), "_fields"):
        return type(tree)(*(_map_tree(fn, c) for c in tree))
    if isinstance(tree, (tuple, list)):
        return type(tree)(_map_tree(fn, c) for c in tree)
    if isinstance(tree, dict):
        return {k: _map_tree(fn, v) for k, v in tree.items()}
    if is_dataclass(tree) and not isinstance(tree, type):
        return replace(tree, **{f.name: _map_tree(fn, getattr(tree, f.name)) for f in fields(tree) if f.init})
    return fn(tree)


def tree_to_host(tree):
    """A state tree (e.g. an update rule's state) with every tensor replaced by a numpy copy;
    other leaves (numbers, Generators) are the same objects."""
    return _map_tree(lambda x: to_host(x) if _is_tensor(x) else x, tree)


def tree_to_device(tree, like):
    """The inverse of :func:`tree_to_host`: numpy arrays of ``tree`` become tensors where ``like``
    (the same structure) has tensors, on their device and dtype; other leaves are kept."""
    if _is_tensor(like):
        return from_host(tree, like).clone() if like.device.type == "cpu" else from_host(tree, like)
    if isinstance(like, tuple) and hasattr(type(like), "_fields"):
        return type(like)(*(tree_to_device(t, ref) for t, ref in zip(tree, like)))
    if isinstance(like, (tuple, list)):
        return type(like)(tree_to_device(t, ref) for t, ref in zip(tree, like))
    if isinstance(like, dict):
        return {k: tree_to_device(tree[k], v) for k, v in like.items()}
    if is_dataclass(like) and not isinstance(like, type):
        return replace(tree, **{f.name: tree_to_device(getattr(tree, f.name), getattr(like, f.name))
                                for f in fields(like) if f.init})
    return tree


# --------------------------------------------------------------------------- activations
def _relu_(P):
    P.clamp_(min=0)


def _relu_deriv_from_value_(V):
    V.gt_(0)  # 1.0 where φ(P) > 0, i.e. P > 0; ReLU'(0) = 0


def _tanh_(P):
    P.tanh_()


def _tanh_deriv_from_value_(V):
    V.square_()
    V.neg_()
    V.add_(1)  # 1 − tanh², as numpy's np.subtract(1, V)


def _sigmoid_(P):
    P.neg_()
    P.exp_()
    P.add_(1)
    P.reciprocal_()  # 1 / (1 + e^{−P}), the numpy pass order


def _sigmoid_deriv_from_value_(V):
    V.mul_(1 - V)


#: activation name -> ``(value_, deriv_from_value_)`` in-place torch forms of
#: :data:`twolayer.activations.ACTIVATIONS` (the same passes).
TORCH_ACTIVATIONS = {
    "relu": (_relu_, _relu_deriv_from_value_),
    "tanh": (_tanh_, _tanh_deriv_from_value_),
    "sigmoid": (_sigmoid_, _sigmoid_deriv_from_value_),
}


def _activation(name: str):
    if name not in TORCH_ACTIVATIONS:
        raise InputError(f"activation {name!r} has no torch form; add it to twolayer.torch_backend.TORCH_ACTIVATIONS "
                         f"or train on numpy (no device)")
    return TORCH_ACTIVATIONS[name]


@contextmanager
def _tf32(on: bool):
    """Allow TF32 in CUDA float32 matmuls inside the block (restored after)."""
    if not on:
        yield
        return
    torch = require_torch()
    old = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32 = old


# --------------------------------------------------------------------------- forward / gradients
class TorchWorkspace:
    """Preallocated device buffers of one training run: ``P`` (n, B·m) and ``G`` (B·m, d).

    ``tf32`` lets CUDA float32 GEMMs use TF32 tensor cores."""

    def __init__(self, n: int, net: Network, tf32: bool = False):
        torch = require_torch()
        kw = {"dtype": net.W.dtype, "device": net.W.device}
        self.P = torch.empty((n, net.batch * net.width), **kw)
        self.G = torch.empty((net.batch * net.width, net.dim), **kw)
        self.tf32 = bool(tf32)


def forward(net: Network, X):
    """Outputs of a device network, a tensor of shape (B, n). Cost one GEMM ``n·B·m·d``."""
    torch = require_torch()
    Xt = X if _is_tensor(X) else from_host(np.asarray(X), net.W)
    B, m, d = net.batch, net.width, net.dim
    if Xt.ndim != 2 or Xt.shape[1] != d:
        raise InputError(f"inputs must have shape (n, {d}), got {tuple(Xt.shape)}")
    value_, _ = _activation(net.activation)
    P = Xt @ net.W.reshape(B * m, d).T
    value_(P)
    u = torch.matmul(P.view(-1, B, m).transpose(0, 1), net.a[:, :, None])[:, :, 0]
    return u * net.scale


def loss_and_grads(net: Network, X, Y, *, normalization: str = "sum", trains=frozenset({"W", "a"}),
                   grad_multiplier: float = 1.0, ws: TorchWorkspace | None = None, keep_preactivation: bool = False):
    r"""Outputs, losses and hand-derived gradients of a batch of device networks.

    The torch twin of :func:`twolayer.networks.loss_and_grads` (same signature, same formulas:
    ``∇_a = c s φ(P)ᵀe``, ``∇_W = c s · a ⊙ (φ'(P) ⊙ e)ᵀ X``), on tensors of one device and dtype.

    Parameters
    ----------
    net : Network with tensor ``W`` (B, m, d) and ``a`` (B, m) (:func:`to_torch`)
    X : tensor (n, d); Y : tensor (B, n) — same device and dtype
    normalization, trains, grad_multiplier, keep_preactivation
        As in :func:`twolayer.networks.loss_and_grads`.
    ws : TorchWorkspace, optional

    Returns
    -------
    dict of tensors: ``u`` (B, n), ``loss`` (B,), ``gW`` (B, m, d) (a view of the workspace) or
    None, ``ga`` (B, m) or None, ``active`` (n, B·m) bool when requested.

    Notes
    -----
    Cost: two GEMMs of ``n·B·m·d`` multiply-adds (one if only ``a`` is trained), two batched
    matrix–vector products and 2–3 in-place elementwise passes over ``n × B·m``.
    """
    torch = require_torch()
    B, m, d = net.batch, net.width, net.dim
    n = X.shape[0]
    ws = ws or TorchWorkspace(n, net)
    value_, deriv_from_value_ = _activation(net.activation)
    P = ws.P
    W: Any = net.W  # tensors (the Network record is typed for numpy)
    a: Any = net.a
    with _tf32(ws.tf32):
        torch.matmul(X, W.view(B * m, d).T, out=P)
        active = (P > 0) if keep_preactivation else None
        value_(P)  # P <- phi(P)
        P3 = P.view(n, B, m)
        Pb = P3.transpose(0, 1)  # (B, n, m) views with unit column stride
        u = torch.matmul(Pb, a[:, :, None])[:, :, 0]
        u *= net.scale
        e = u - Y
        c = 1.0 / n if normalization == "mean" else 1.0
        loss = (0.5 * c) * torch.einsum("bn,bn->b", e, e)
        coef = c * net.scale * grad_multiplier
        ga = gW = None
        if "a" in trains:
            ga = torch.matmul(Pb.transpose(1, 2), e[:, :, None])[:, :, 0]
            ga *= coef
        if "W" in trains:
            deriv_from_value_(P)  # P <- phi'(pre-activation)
            P3 *= e.T[:, :, None]
            torch.matmul(P.T, X, out=ws.G)
            gW = ws.G.view(B, m, d)
            gW *= (coef * a)[:, :, None]
    return {"u": u, "loss": loss, "gW": gW, "ga": ga, "active": active}


# --------------------------------------------------------------------------- kernels
_INV_TWO_PI = 1.0 / (2.0 * math.pi)

#: kind -> in-place torch form ``(C, pmt, s) -> None`` of the rows of ``twolayer.kernels.KERNELS``
#: (the same passes as their numpy ``inplace``); other members use their ``value``.
_TORCH_INPLACE = {
    "kappa0": lambda C, pmt, s: C.copy_(pmt).mul_(_INV_TWO_PI),
    "first-layer": lambda C, pmt, s: C.mul_(pmt).mul_(_INV_TWO_PI),
    "random-features": lambda C, pmt, s: C.mul_(pmt).add_(s).mul_(_INV_TWO_PI),
    "two-layer": lambda C, pmt, s: C.mul_(pmt).mul_(2.0).add_(s).mul_(_INV_TWO_PI),
}


def _mirror_upper(K, panel: int = 4096) -> None:
    """Copy the strict upper triangle of the square ``K`` onto the lower one (exact symmetry), in panels."""
    n = K.shape[0]
    for i0 in range(0, n, panel):
        i1 = min(n, i0 + panel)
        if i1 < n:
            K[i1:, i0:i1].copy_(K[i0:i1, i1:].T)


def arccos_kernel(X, Z=None, *, kind: str = "first-layer", device="cpu", dtype=np.float64,
                  block_size: int | None = None):
    r"""A member of the ReLU arc-cosine family between the rows of ``X`` and ``Z``, built on ``device``.

    The device twin of :func:`twolayer.kernels.arccos_kernel` (formulas in
    :mod:`twolayer.kernels.arccos`; ``first-layer`` is ``H^∞`` of Arora et al. 2019, eq. 3), with the
    same numerics: rows normalized on the host as numpy does, the cosines by one GEMM on the
    device, ``π − θ = π/2 + arcsin c`` elementwise in row blocks, pairs with ``1 − |c| < 1e-4``
    recomputed by ``θ = 2·atan2(‖x̂ − ẑ‖, ‖x̂ + ẑ‖)``, and for ``Z = None`` an exactly symmetric
    result with the exact diagonal. In float64 it equals the numpy build to ~1e-15.

    Shapes: ``X`` (n, d), ``Z`` (n_z, d) or None → a tensor (n, n_z) on ``device`` of ``dtype``
    (float64 default; float32 halves the memory, entries then carry float32 rounding ≈ 6e-8
    relative). ``block_size`` rows per elementwise block (default ≈ 2²⁰ entries on CPU, 2²⁶ on CUDA).

    Cost: one GEMM ``2 n n_z d`` flops and ``O(n n_z)`` elementwise work on the device; memory the
    result plus three blocks.
    """
    from .kernels.arccos import _NEAR_PARALLEL, _check_scale, _inputs, _normalize

    torch = require_torch()
    dev, dt = resolve_device(device), torch_dtype(dtype)
    row, Xa, Za, self_kernel = _inputs(kind, X, Z)
    n, nz = Xa.shape[0], Za.shape[0]
    Xn, xnorm = _normalize(Xa)
    Zn, znorm = (Xn, xnorm) if self_kernel else _normalize(Za)
    _check_scale(row, xnorm, znorm)
    Xt = from_host(Xn, device=dev, dtype=dt)
    Zt = Xt if self_kernel else from_host(Zn, device=dev, dtype=dt)
    K = Xt @ Zt.T
    if self_kernel:
        _mirror_upper(K)
        K.diagonal().zero_()  # set exactly at the end; zero here keeps it out of the near-parallel fix
    scaled = row.degree != 0 and not (np.all(xnorm == 1.0) and np.all(znorm == 1.0))
    xn_t = from_host(xnorm, device=dev, dtype=dt)
    zn_t = xn_t if self_kernel else from_host(znorm, device=dev, dtype=dt)
    block = int(block_size) if block_size else max(1, _BLOCK_ENTRIES[dev.type] // max(1, nz))
    thr = 1.0 - _NEAR_PARALLEL
    half_pi = math.pi / 2
    inplace = _TORCH_INPLACE.get(row.name)
    for start in range(0, n, block):
        C = K[start:start + block]
        lo, hi = torch.aminmax(C)
        near = torch.nonzero(C.abs() > thr) if (hi > thr or lo < -thr) else None
        C.clamp_(-1.0, 1.0)
        pmt = torch.arcsin(C).add_(half_pi)
        s = torch.mul(C, C).neg_().add_(1.0).clamp_(min=0.0).sqrt_() if row.uses_sin else None
        if inplace is not None:
            inplace(C, pmt, s)
        else:
            C.copy_(row.value(C, pmt, s))
        del pmt, s
        if near is not None and near.shape[0]:
            i, j = near[:, 0], near[:, 1]
            xa, zb = Xt[i + start], Zt[j]
            theta = 2.0 * torch.atan2(torch.linalg.vector_norm(xa - zb, dim=1), torch.linalg.vector_norm(xa + zb, dim=1))
            C[i, j] = row.value(torch.cos(theta), math.pi - theta, torch.sin(theta))
        if scaled:
            w = xn_t[start:start + block, None] * zn_t[None, :]
            if row.degree != 1:
                w.pow_(row.degree)
            C *= w
    if self_kernel:
        if scaled:
            diag = torch.full((n,), row.diagonal, dtype=dt, device=dev)
            for _ in range(row.degree):
                diag = diag * xn_t * xn_t
            K.diagonal().copy_(diag)
        else:
            K.diagonal().fill_(row.diagonal)
    return K


def first_layer_ntk(X, Z=None, *, device="cpu", dtype=np.float64, **kw):
    r"""Arora et al. (2019) eq. 3, ``H^∞_{ij} = x_iᵀz_j (π − arccos(x̂_iᵀẑ_j)) / (2π)``, on ``device``.

    Shapes ``X`` (n, d), ``Z`` (n_z, d) or None → tensor (n, n_z); see :func:`arccos_kernel`."""
    return arccos_kernel(X, Z, kind="first-layer", device=device, dtype=dtype, **kw)


class KernelOperator:
    """A kernel matrix held on a torch device, as a linear operator ``v ↦ K v``.

    ``K`` is a tensor (n, n_z). :meth:`matvec` / :meth:`matmat` take numpy arrays (returned as
    float64 numpy) or tensors (returned as tensors on the device); :meth:`aslinearoperator` wraps
    it for scipy's iterative solvers (CG, Lanczos). Cost per product: ``n n_z`` multiply-adds
    per column on the device, plus the host–device copies of the vectors.
    """

    def __init__(self, K):
        if not _is_tensor(K) or K.ndim != 2:
            raise InputError("KernelOperator needs a 2-D torch tensor")
        self.K = K
        self.shape = (int(K.shape[0]), int(K.shape[1]))
        self.dtype = np.dtype(np.float64)

    def _apply(self, A, v):
        if _is_tensor(v):
            return A @ v.to(dtype=A.dtype, device=A.device)
        out = A @ from_host(np.asarray(v, dtype=np.float64), A)
        return to_host(out).astype(np.float64, copy=False)

    def matvec(self, v):
        """``K v``: ``v`` (n_z,) → (n,)."""
        return self._apply(self.K, v)

    def matmat(self, V):
        """``K V``: ``V`` (n_z, k) → (n, k)."""
        return self._apply(self.K, V)

    def rmatvec(self, v):
        """``Kᵀ v``: ``v`` (n,) → (n_z,)."""
        return self._apply(self.K.T, v)

    def __matmul__(self, v):
        return self._apply(self.K, v)

    def diagonal(self) -> np.ndarray:
        """The diagonal of ``K`` (float64 numpy)."""
        return to_host(self.K.diagonal()).astype(np.float64, copy=False)

    def aslinearoperator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` of float64 numpy vectors (for ``cg``, ``eigsh``)."""
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.rmatvec, matmat=self.matmat,
                              dtype=np.float64)


def kernel_operator(X, Z=None, *, kind: str = "first-layer", device="cpu", dtype=np.float64, **kw) -> KernelOperator:
    """:class:`KernelOperator` of :func:`arccos_kernel` (default ``H^∞``) built on ``device``."""
    return KernelOperator(arccos_kernel(X, Z, kind=kind, device=device, dtype=dtype, **kw))
