"""Shared pieces of the Chen, Cao, Gu, Zhang (2020) experiments: Algorithm 1 with its data-free twin (a thin front of the engine),
the linearized (kernel-regime) theory, data preparation and seeds. The generalized NTK (Hermite series)
lives in :mod:`twolayer.kernels.hermite`; it is re-exported here under its old names."""

from __future__ import annotations

import functools
import math

import numpy as np

from ..._errors import InputError
from ...kernels.hermite import SMOOTH, generalized_ntk, hermite_coefficients  # noqa: F401  (their home; re-exported)
from ...spectra import noisy_gd_linear_theory, spectrum
from .._common import checkpointing, rng as _rng, seed_sequence as _ss

PAPER = ("Chen, Cao, Gu, Zhang. A generalized neural tangent kernel analysis for two-layer neural networks. "
         "NeurIPS 2020 (arXiv 2002.04026)")

INIT_KEY, NOISE_KEY, NOISE_TRAIN_KEY, NOISE_TEST_KEY, DUP_KEY = 21, 22, 23, 24, 25
#: :func:`noisy_gd` calls a run diverged once its loss exceeds ``BLOWUP·(L(0) + 1)`` (a
#: :class:`~twolayer.dynamics.DivergenceGuard` with factor and offset ``BLOWUP``, as
#: :func:`twolayer.dynamics.train` guards GD): no stable run leaves ``[0, L(0)]`` by that much.
BLOWUP = 1e3


def _check_values(name: str, values, minimum: int = 1, integer: bool = False) -> tuple:
    vals = tuple(int(v) if integer else float(v) for v in values)
    if len(vals) < minimum or len(set(vals)) != len(vals) or any(not (v > 0) for v in vals):
        raise InputError(f"{name} must be at least {minimum} distinct positive values, got {values!r}")
    return tuple(sorted(vals))


# ============================================================================ Algorithm 1 and its twin
def _sha(a) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]


def noisy_gd(net, X, y, *, lr: float, steps: int, weight_decay: float, noise_seed, record_steps,
             twin: bool = True, X_test=None, y_test=None) -> dict:
    r"""Algorithm 1 on a mean-field network through the training engine, with its data-free twin.

    :func:`twolayer.dynamics.engine.run` applies :data:`twolayer.dynamics.ALGORITHMS` ``["noisy-gd"]``
    (weight decay λ, temperature λ, noise stream ``noise_seed``) in the ``½n⁻¹Σ`` convention, so
    the final network is :func:`twolayer.dynamics.train`'s. The observers are a
    :class:`~twolayer.dynamics.DivergenceGuard`, a :class:`~twolayer.dynamics.Probe` of the outputs
    (and test metrics) and, with ``twin``, the :class:`~twolayer.dynamics.twin.TwinCoupling`
    (the same rule and noise stream on zero data gradients).

    Returns arrays over the recorded steps (network 0 of the batch): ``steps``, ``loss``,
    ``twin_dist`` (``D = (1/m)Σ‖z_j − z̃_j‖²``), ``raw_dist`` (``(1/m)Σ‖z_j − z_j(0)‖²``),
    ``twin_raw_dist``, ``test_error`` / ``test_loss`` when test data are given, ``outputs``
    (R, n) on ``X``; and ``network`` / ``twin``, the final parameters (``twin`` a Network).

    Raises :class:`twolayer.DivergenceError` (with the attribute ``step``) once the loss is
    non-finite or above ``BLOWUP·(L(0) + 1)``.
    """
    from ...dynamics import DivergenceGuard, Probe, engine, make_rule
    from ...dynamics.twin import TwinCoupling, mean_sq_distance
    from ...networks import forward, seed_record

    def rule():
        return make_rule("noisy-gd", lr=lr, weight_decay=weight_decay, temperature=None, seed=noise_seed)

    def probe(state, out):
        vals = {"loss": float(out["loss"][0]), "outputs": out["u"][0].astype(np.float64)}
        if not twin:
            cur, net0 = state.net, state.net0
            vals["raw_dist"] = float(mean_sq_distance(cur.W[:1], cur.a[:1], net0.W[:1], net0.a[:1])[0])
        if X_test is not None:
            ft = forward(state.net, X_test)[0].astype(np.float64)
            vals["test_error"] = float(np.mean(np.sign(ft) != np.sign(y_test)))
            vals["test_loss"] = float(0.5 * np.mean((ft - y_test) ** 2))
        return vals

    state = engine.init(net, X, y, rule(), normalization="mean")
    rec = Probe(probe)
    tw = TwinCoupling(rule()) if twin else None
    guard = DivergenceGuard(BLOWUP, BLOWUP, what="noisy GD", hint=f"lr = {lr:g}: lower lr_fraction or raise alpha")
    ident = dict(lr=lr, steps=int(steps), weight_decay=weight_decay, noise_seed=seed_record(noise_seed), twin=twin,
                 records=[int(k) for k in record_steps], X=_sha(state.problem.X), y=_sha(state.problem.Y), W0=_sha(net.W),
                 a0=_sha(net.a), test=None if X_test is None else _sha(np.asarray(X_test)))
    engine.run(state, steps, [guard, rec] + ([tw] if twin else []), record_steps=record_steps,
               **checkpointing(**ident))
    res = {"steps": np.array(rec.steps), **{k: np.array(v) for k, v in rec.values.items()}}
    if twin:
        res.update({k: np.array([v[0] for v in tw.values[k]]) for k in ("raw_dist", "twin_dist", "twin_raw_dist")})
    res["network"], res["twin"] = state.net, tw.network(state.net) if twin else None
    return res


# ============================================================================ linearized theory
#: The kernel-regime prediction of Algorithm 1 (its home is :mod:`twolayer.spectra`).
linear_theory = noisy_gd_linear_theory


# ============================================================================ shared pieces
@functools.lru_cache(maxsize=4)
def _prepared(data: str, n_train, n_test, d: int, target: str, classes: tuple, activation: str, seed: int):
    """Data set (unit-norm inputs), the generalized NTK Gram ``H`` of the training inputs and its
    :class:`~twolayer.spectra.Spectrum` (descending); computed once per process."""
    from ...data import load

    if data in ("sphere", "gaussian"):
        ds = load(data, n_train=n_train, n_test=n_test or None, d=d, target=target, seed=seed)
    else:
        ds = load(data, classes=classes, n_train=n_train, n_test=n_test, seed=seed)
    if not np.allclose(np.linalg.norm(ds.X, axis=1), 1.0, atol=1e-8):
        raise InputError(f"{ds.name}: Chen et al.'s kernel here needs unit-norm inputs; load it with normalization on")
    H = generalized_ntk(ds.X, activation=activation)
    spec = spectrum(H)
    if spec.lambda_min <= 0:
        raise InputError(f"{ds.name}: the generalized NTK Gram matrix is singular (lambda_min = "
                         f"{spec.lambda_min:.3g}); remove duplicate inputs or use fewer samples")
    return ds, H, spec


def _lr(cfg, spec, n: int, alpha: float) -> float:
    """``η = lr_fraction · 2n / (α² λ_max(H))``: the largest stable kernel step
    (:func:`twolayer.dynamics.gd_stable_step`) of the tangent kernel ``α²H/n`` (½n⁻¹Σ convention)."""
    from ...dynamics import gd_stable_step

    return float(cfg.lr_fraction * gd_stable_step(alpha**2 * spec.lambda_max / n))


def _record_steps(steps: int, records: int, tail: float = 0.3) -> np.ndarray:
    """Log-spaced records plus 11 evenly spaced ones over the last ``tail`` of the run (the plateau)."""
    from ...dynamics import record_schedule

    lin = np.round(np.linspace((1 - tail) * steps, steps, 11)).astype(int)
    return np.unique(np.concatenate([record_schedule(steps, records), lin]))


def decay_rate(t, loss, plateau: float, drop: float = 10.0) -> float:
    r"""Decay rate of the excess loss: ``ln(drop) / t*`` with ``t*`` the first time
    ``L(t) − plateau ≤ (L(0) − plateau)/drop``, ``log(L − plateau)`` interpolated linearly in ``t``.

    >>> t = np.linspace(0, 5, 51)
    >>> round(decay_rate(t, 1e-3 + np.exp(-2 * t), 1e-3), 6)
    2.0
    """
    t, loss = np.asarray(t, float), np.asarray(loss, float)
    ex = loss - plateau
    goal = ex[0] / drop
    hit = np.nonzero(ex <= goal)[0]
    if ex[0] <= 0 or hit.size == 0:
        return float("nan")
    j = int(hit[0])
    if j == 0:
        return float("nan")
    y0, y1 = math.log(max(ex[j - 1], 1e-300)), math.log(max(ex[j], 1e-300))
    g = math.log(goal)
    tj = t[j] if y1 == y0 else t[j - 1] + (t[j] - t[j - 1]) * (g - y0) / (y1 - y0)
    return float(math.log(drop) / tj)


def _key(cfg) -> tuple:
    return (cfg.data, cfg.n_train, getattr(cfg, "n_test", 0), getattr(cfg, "d", 10), getattr(cfg, "target", "linear"),
            tuple(getattr(cfg, "classes", (0, 1))), cfg.activation, cfg.seed)


def _prep(cfg):
    return _prepared(*_key(cfg))


def _init(cfg, d: int, m: int, alpha: float, s: int):
    from ...networks import init_network

    return init_network("mean-field", d, m, seed=_ss(cfg.seed, INIT_KEY, s), alpha=alpha, symmetric=True,
                        dtype=cfg.dtype, activation=cfg.activation)




# ============================================================================ up-front cost counts
def data_shape(cfg) -> tuple[int, int, int]:
    """``(n, d, n_test)`` of the data before loading them: ``n_train`` (360 for an unset digits split,
    10,000 otherwise), ``d`` of the synthetic sources or the image size
    (:func:`.._common.data_dim`), ``n_test`` (``n`` when unset, 0 without a test split)."""
    from .._common import data_dim

    n = cfg.n_train if cfg.n_train is not None else (360 if str(cfg.data).startswith("digits") else 10_000)
    nt = getattr(cfg, "n_test", 0)
    return int(n), data_dim(cfg.data, getattr(cfg, "d", None)), int(n if nt is None else nt)


def prepared_cost(n: int, d: int):
    """:class:`twolayer._cost.Cost` of :func:`_prepared` (or of one :func:`_duplicated` data set): the
    generalized NTK Gram of ``n`` points (``2n²d`` for ``XXᵀ``; its Hermite series is elementwise) and
    its spectrum (one ``eigh`` of ``n``)."""
    from ..._cost import Cost
    from .._common import gram_flops

    return Cost(gram_flops(n, n, d), eigh=[n])


def noisy_gd_cost(n: int, d: int, m: int, steps: int, dtype: str = "float64"):
    """:class:`twolayer._cost.Cost` of one :func:`noisy_gd` run: ``steps`` steps of the two GEMMs
    (:func:`.._common.gd_flops`); the twin's update and the Langevin noise are elementwise ``O(md)``
    per step and not counted (with ``d`` of 10–20 the noise draws and ``tanh`` take as long as the
    GEMMs on a CPU: the estimate is then a lower bound of the time)."""
    from ..._cost import Cost
    from .._common import gd_flops

    return Cost(gd_flops(n, d, m, steps), dtype=dtype)


# ============================================================================ data sets with a smaller λ₀
def near_duplicate(X, eps: float, rng) -> np.ndarray:
    r"""``X`` (n, d) with its last row replaced by a near-duplicate of row 0:
    ``x_{n−1} = (x_0 + ε u)/‖x_0 + ε u‖`` with ``u ⟂ x_0`` a random unit vector from ``rng``.

    Two inputs at distance ``≈ ε`` make the Gram matrix of a smooth kernel nearly singular:
    ``λ₀ = λ_min(H) ∝ ε²`` as ``ε → 0`` (the difference of the two feature maps is
    ``ε·∂_u φ(x_0) + O(ε²)``), while ``λ_max(H)`` (set by all n points) hardly moves. So a sweep
    over ε changes λ₀ at a fixed step size ``η ∝ 1/λ_max``.

    >>> X = np.eye(3)
    >>> Y = near_duplicate(X, 0.1, np.random.default_rng(0))
    >>> bool(np.allclose(np.linalg.norm(Y, axis=1), 1) and abs(Y[2] @ Y[0] - 1 / math.sqrt(1.01)) < 1e-12)
    True
    """
    X = np.array(X, dtype=np.float64)
    x0 = X[0]
    u = rng.standard_normal(X.shape[1])
    u -= (u @ x0) * x0
    u /= np.linalg.norm(u)
    z = x0 + float(eps) * u
    X[-1] = z / np.linalg.norm(z)
    return X


@functools.lru_cache(maxsize=8)
def _duplicated(key: tuple, eps: float):
    """The data of ``key`` with a near-duplicate pair at distance ``eps`` (:func:`near_duplicate`,
    stream ``DUP_KEY``), the worst-case labels ``y = v_min/max|v_min|`` (the bottom eigenvector of
    its generalized NTK Gram, scaled to ``|y| ≤ 1``), and the Spectrum of that Gram."""
    ds = _prepared(*key)[0]
    X = near_duplicate(ds.X, eps, _rng(key[-1], DUP_KEY))
    spec = spectrum(generalized_ntk(X, activation=key[6]))
    vmin = spec.eigenvectors[:, -1]
    v = vmin * (1.0 if vmin[np.argmax(np.abs(vmin))] > 0 else -1.0)
    return X, v / np.max(np.abs(v)), spec
