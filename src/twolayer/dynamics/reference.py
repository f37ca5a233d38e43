r"""The reference (kernel-regime) kernel of a network and its spectrum, in the run's loss convention.

In the kernel regime GD with step η moves the outputs by ``u(k+1) = u(k) − η c K (u(k) − y)``
(Arora et al. 2019, eq. 8 and Lemma 4.1), ``c = 1`` for ``½Σ`` and ``1/n`` for ``½n⁻¹Σ``. ``K`` is
the parameterization's closed-form infinite-width kernel where it has one
(:attr:`twolayer.networks.Parameterization.reference`), else the network's own tangent kernel at
initialization — or a kernel the caller gives (:func:`build_reference` ``kernel=``: a name, a
``module:function`` or a callable, :func:`twolayer.kernels.resolve_kernel`), in which case the
predictions are that kernel's and the run measures how well it describes the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .._errors import InputError
from ..kernels.empirical import _derivative_and_value, _tangent_gram
from ..kernels.user import resolve_kernel
from ..networks import Network, get_parameterization
from ..spectra import Spectrum, spectrum

__all__ = ["reference_kernel", "empirical_reference", "Reference", "build_reference", "reference_from_spectrum"]


def reference_kernel(net: Network, X, Z=None) -> np.ndarray | None:
    r"""Infinite-width NTK of the trained layers, in function-space units, or None.

    The parameterization's closed form (for ReLU): ``arora`` ``H^∞`` (Arora et al. eq. 3; independent
    of κ); ``both`` ``H^∞ + κ² κ₁``; ``rf`` ``κ² κ₁``; ``ema-wu`` ``m (κ₁/d + β² H^∞)``; ``ema-wu-rf``
    ``m κ₁ / d`` (E, Ma & Wu 2019, §2). ``None`` for ``mean-field``, a parameterization without a
    closed form, or a non-ReLU activation (use :func:`empirical_reference`).

    Shapes: ``X`` (n, d), ``Z`` (n_z, d) → (n, n_z). Cost: one arc-cosine Gram, ``O(n n_z d)``.
    """
    p = get_parameterization(net.param)
    if p.reference is None or net.activation != "relu":
        return None
    return p.reference(net, X, Z)


def empirical_reference(net: Network, X, Z=None, b: int = 0) -> np.ndarray:
    """The finite network's own tangent kernel at its current weights (network ``b``), same units.

    :func:`twolayer.kernels.empirical_gram` with the network's activation, the layers its
    parameterization trains and the scale ``s² · grad_multiplier(m)``; without the input checks,
    so that a diverged network gives non-finite entries rather than an error. Cost ``O(n n_z m)``.
    """
    p = get_parameterization(net.param)
    Wb, ab = net.W[b].astype(np.float64), net.a[b].astype(np.float64)
    layers = {frozenset({"W"}): "first", frozenset({"a"}): "second", frozenset({"W", "a"}): "both"}[frozenset(p.trains)]
    Xa = np.asarray(X, np.float64)
    s2 = net.scale**2 * p.grad_multiplier(net.width)
    return _tangent_gram(Xa, Wb, ab**2, None if Z is None else np.asarray(Z, np.float64), layers, s2,
                         *_derivative_and_value(net.activation))


@dataclass
class Reference:
    """Reference kernels of a batch and the spectra of ``c·K`` (what the predictions use).

    ``K`` and ``spectra`` have one entry per network (the same object for a shared closed form);
    ``kind`` is ``"closed form"``, ``"empirical H(0)"`` or ``"kernel NAME"`` (a given kernel);
    ``kernel`` is that given kernel's ``K(X, Z)`` (it also builds the test × train kernel), or None."""

    kind: str
    K: list
    spectra: list
    c: float
    kernel: Callable | None = None

    @property
    def lambda_max(self) -> float:
        return max(s.lambda_max for s in self.spectra)

    @property
    def lambda_min(self) -> float:
        return min(s.lambda_min for s in self.spectra)

    def test_kernel(self, net0: Network, Xt, X, b: int) -> np.ndarray:
        """The same kernel between test and training inputs, shape (n_test, n), for network ``b``."""
        if self.kernel is not None:
            return self.kernel(Xt, X)
        closed = reference_kernel(net0, Xt, X)
        return closed if closed is not None else empirical_reference(net0, Xt, X, b=b)


def reference_from_spectrum(K: np.ndarray, spec: Spectrum, c: float, batch: int, kernel=None) -> Reference:
    """A :class:`Reference` from a kernel ``K`` (n, n) decomposed once elsewhere
    (``spec = spectrum(K)``): the spectrum of ``c·K`` is ``spec.scaled(c)``, so no second
    eigendecomposition is made. The caller vouches that ``K`` is the network's reference kernel
    (:func:`reference_kernel`) on the training inputs, or — ``kernel`` given (a spec for
    :func:`twolayer.kernels.resolve_kernel`) — that kernel's matrix on them."""
    K = np.asarray(K)
    if K.ndim != 2 or K.shape[0] != K.shape[1] or spec.n != K.shape[0]:
        raise InputError(f"the reference kernel must be square and match its spectrum (got {K.shape}, "
                         f"spectrum of size {spec.n})")
    if kernel is None:
        return Reference("closed form", [K] * batch, [spec.scaled(c)] * batch, c)
    fn = resolve_kernel(kernel)
    return Reference(f"kernel {fn.name}", [K] * batch, [spec.scaled(c)] * batch, c, kernel=fn)


def build_reference(net: Network, X, c: float, kernel=None) -> Reference:
    """:class:`Reference` of ``net`` on ``X`` (n, d): the parameterization's closed form, else the
    network's own tangent kernel — or ``kernel`` (anything :func:`twolayer.kernels.resolve_kernel`
    takes: ``"two-layer"``, ``"mymod:rbf"``, a callable ``k(X, Z=None)``), whose matrix must be in
    the network's function-space units (``u(k+1) = u(k) − η c K (u(k) − y)``). Cost: the kernel
    plus one ``eigh`` of n × n (per network when there is no closed form)."""
    X64 = np.asarray(X, np.float64)
    B = net.batch
    if kernel is not None:
        fn = resolve_kernel(kernel)
        K = fn(X64)
        return Reference(f"kernel {fn.name}", [K] * B, [spectrum(K * c)] * B, c, kernel=fn)
    K_closed = reference_kernel(net, X64)
    if K_closed is not None:
        sps: list[Spectrum] = [spectrum(K_closed * c)] * B
        return Reference("closed form", [K_closed] * B, sps, c)
    Ks = [empirical_reference(net, X64, b=b) for b in range(B)]
    return Reference("empirical H(0)", Ks, [spectrum(K * c) for K in Ks], c)
