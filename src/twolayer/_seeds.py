r"""Randomness in one place: purpose-keyed seed sequences, their children, and uniform sphere draws.

Every random choice of the package draws from a stream named by its *purpose*:

.. math:: \text{stream}(s, k_1, …, k_j) = \texttt{SeedSequence}(s, \text{spawn\_key}=(k_1, …, k_j))

with ``s`` the root seed and ``(k_1, …)`` small integers naming the purpose (``21`` = initialization,
``22`` = training inputs, …) and the replicate (width, dimension, seed index). Two consequences:

* a stream depends only on ``(s, keys)``: not on which other streams were drawn, in what order, in
  which process or on how many jobs; and
* the same keys give the same draws wherever they are used, which is how an experiment shares its
  draws across the settings it compares (common random numbers: the network and the random-feature
  model from one initialization, every β or α of one replicate).

``SeedSequence`` hashes the whole key tuple, so streams with different keys are statistically
independent (numpy's guarantee); :func:`child_seeds` gives the children ``spawn`` would make
without mutating the parent. Costs: a ``SeedSequence`` is a few microseconds; a sphere draw is one
Gaussian draw and one row-norm pass, ``O(n d)``.
"""

from __future__ import annotations

import numpy as np

from ._errors import InputError

__all__ = ["seed_sequence", "rng", "child_seeds", "child_seed", "as_seed_sequence", "sample_sphere"]


def seed_sequence(seed: int, key: int, *more: int) -> np.random.SeedSequence:
    """``SeedSequence(seed, spawn_key=(key, *more))``: one independent stream per purpose ``key``
    (and replicate ``more``), the same on every machine.

    >>> seed_sequence(0, 21, 3).spawn_key
    (21, 3)
    """
    return np.random.SeedSequence(int(seed), spawn_key=(int(key), *(int(v) for v in more)))


def rng(seed: int, key: int, *more: int) -> np.random.Generator:
    """A generator on :func:`seed_sequence` ``(seed, key, *more)``."""
    return np.random.default_rng(seed_sequence(seed, key, *more))


def child_seeds(ss: np.random.SeedSequence, count: int) -> list[np.random.SeedSequence]:
    """The first ``count`` children of ``ss`` as ``ss.spawn(count)`` makes them, without mutating
    ``ss``: ``SeedSequence(ss.entropy, spawn_key=(*ss.spawn_key, b), pool_size=ss.pool_size)``."""
    return [child_seed(ss, b) for b in range(int(count))]


def child_seed(ss: np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """Child ``index`` of ``ss`` (see :func:`child_seeds`)."""
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + (int(index),), pool_size=ss.pool_size)


def as_seed_sequence(seed, what: str = "seed") -> np.random.SeedSequence:
    """A SeedSequence from an int, a SeedSequence (returned as it is) or a Generator (one draw
    from it, deterministically: the Generator advances); ``what`` names it in the error."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    if isinstance(seed, (int, np.integer)):
        return np.random.SeedSequence(int(seed))
    raise InputError(f"{what} must be an int, a SeedSequence or a Generator, got {type(seed).__name__}")


def sample_sphere(rng: np.random.Generator, n: int, d: int) -> np.ndarray:
    r"""``n`` points uniform on the unit sphere :math:`S^{d-1}`, shape ``(n, d)``, float64.

    Normalized standard Gaussian rows (the Gaussian is rotation invariant, so ``g/‖g‖`` is
    uniform): one ``rng.standard_normal((n, d))`` draw, then division by the row norms. The
    first rows do not depend on ``n`` (nested samples). Cost ``O(n d)``.

    >>> X = sample_sphere(np.random.default_rng(0), 4, 3)
    >>> X.shape, bool(np.allclose(np.linalg.norm(X, axis=1), 1.0))
    ((4, 3), True)
    """
    G = rng.standard_normal((int(n), int(d)))
    G /= np.linalg.norm(G, axis=1, keepdims=True)
    return G
