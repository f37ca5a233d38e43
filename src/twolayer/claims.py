r"""Claims an experiment judges: declared predicates over the tidy results, with verdicts that can fail.

A :class:`Claim` is one statement of a paper (with its source: paper, theorem, equation or
figure), a **statistic** computed from the run's tidy metrics, a **decision rule** with a
threshold and the reason for that threshold, and the **assumptions** under which the paper says
the statement holds. Its ``judge`` is a pure function ``Results -> Outcome``: it reads only the
rows of ``metrics.csv`` and the resolved ``config.toml``, so the same claim can be judged on a
fresh run, on a copied run folder, or on hand-made rows in a test.

Verdicts are three: ``agrees`` (the statistic passes the rule with its uncertainty, and the
assumptions are not known to fail: :func:`evaluate` turns an ``agrees`` with
``assumptions_met=False`` into ``inconclusive``),
``disagrees`` (it fails beyond its uncertainty, or the run diverged / hit a numerical failure
that the claim rules out) and ``inconclusive`` (the uncertainty across seeds straddles the
threshold, too few points to fit a slope, a sweep with one value, a statistic that could not
be computed). A claim is never silent: :func:`evaluate` turns a missing statistic into an
``inconclusive`` outcome that names it.

Decisions with noise use the across-seed standard error: :func:`decide_above` /
:func:`decide_below` call a difference significant when it exceeds ``factor`` standard errors
(default 2, about a two-sided 95 % band for a normal mean); with fewer than two seeds the
standard error is unknown and a comparison that needs one is ``inconclusive``.

:func:`evaluate` returns the records of ``claims.json`` (``figure``, ``claim``, ``statement``,
``source``, ``verdict``, ``statistic``, ``threshold``, ``reason``, ``assumptions_met``, plus
``rule``, ``threshold_reason``, ``assumptions``); :func:`caption_sentence` turns one record
into the sentence the report prints under its figure, so caption and badge cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["AGREES", "DISAGREES", "INCONCLUSIVE", "VERDICTS", "Missing", "Outcome", "Claim", "Results",
           "evaluate", "worst_verdict", "count_verdicts", "caption_sentence", "mean_se", "decide_above",
           "decide_below", "decide_within", "slope_fit", "spearman", "pearson", "fmt"]

AGREES, DISAGREES, INCONCLUSIVE = "agrees", "disagrees", "inconclusive"
#: The verdicts, in order of severity for :func:`worst_verdict`.
VERDICTS = (AGREES, INCONCLUSIVE, DISAGREES)


class Missing(LookupError):
    """A statistic a claim needs is not in the results (the point diverged, the sweep lacks the axis, …)."""


@dataclass(frozen=True)
class Outcome:
    """What a claim's ``judge`` returns.

    ``statistic`` and ``threshold`` are numbers (or short strings / small dicts of numbers where a
    claim judges several settings at once); ``reason`` is one or two sentences that a reader can
    check against the figure; ``assumptions_met`` is True/False where the claim knows whether the
    paper's assumptions hold at this setting, else None.
    """

    verdict: str
    statistic: object = None
    threshold: object = None
    reason: str = ""
    assumptions_met: bool | None = None

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict must be one of {VERDICTS}, got {self.verdict!r}")


@dataclass(frozen=True)
class Claim:
    """One judged statement of a paper.

    Parameters
    ----------
    id : str
        Short identifier, unique within the experiment (``"thm4.1-tracks-kernel"``).
    figure : str
        Name of the figure the claim belongs to (its badge and table sit under that figure).
    statement : str
        The paper's statement, in our words.
    source : str
        Paper and place: ``"Arora et al. 2019, Thm 4.1, eq. (8)"``.
    rule : str
        The decision rule in words, threshold included (``"agrees if max_k |L−L̂|/L(0) ≤ 0.05"``).
    threshold_reason : str
        Why that threshold (theory, Monte Carlo error across seeds, …). Never tuned on results.
    judge : callable ``(Results) -> Outcome``
        Pure function of the tidy results. May raise :class:`Missing`.
    assumptions : str
        When the paper says the statement holds (``"m ≫ n⁶/(λ₀⁴κ²δ³)"``); empty if none.
    """

    id: str
    figure: str
    statement: str
    source: str
    rule: str
    threshold_reason: str
    judge: Callable[["Results"], Outcome]
    assumptions: str = ""


@dataclass
class Results:
    """Read-only view of a run's tidy metrics and resolved config for claims.

    Every accessor raises :class:`Missing` (naming the metric and the ids asked for) instead of
    returning a default, so a claim can never pass on absent data.
    """

    metrics: Sequence[Mapping]
    config: Mapping = field(default_factory=dict)

    def rows(self, metric: str, **ids) -> list[Mapping]:
        """Rows of ``metric`` whose ids match ``ids`` (an id given as None must be absent from the row)."""
        out = []
        for r in self.metrics:
            if r.get("metric") != metric:
                continue
            if all((k not in r) if v is None else (k in r and _same(r[k], v)) for k, v in ids.items()):
                out.append(r)
        return out

    def has(self, metric: str, **ids) -> bool:
        return bool(self.rows(metric, **ids))

    def value(self, metric: str, **ids) -> float:
        """The value of the single row of ``metric`` with ``ids`` (the first, if several)."""
        rows = self.rows(metric, **ids)
        if not rows:
            raise Missing(f"{metric}{_ids_text(ids)}")
        return float(rows[0]["value"])

    def series(self, metric: str, by: str, **ids) -> tuple[np.ndarray, np.ndarray]:
        """``(keys, values)`` of ``metric`` over the id ``by`` (sorted by key), rows matching ``ids``."""
        rows = [r for r in self.rows(metric, **ids) if by in r]
        if not rows:
            raise Missing(f"{metric} by {by}{_ids_text(ids)}")
        rows.sort(key=lambda r: r[by])
        return np.array([r[by] for r in rows]), np.array([float(r["value"]) for r in rows])

    def keys(self, metric: str, by: str, **ids) -> list:
        """Distinct values of the id ``by`` among the rows of ``metric`` (sorted)."""
        return sorted({r[by] for r in self.rows(metric, **ids) if by in r})

    def by_seed(self, metric: str, **ids) -> np.ndarray:
        """Values of ``metric`` over its ``seed`` rows (sorted by seed)."""
        return self.series(metric, "seed", **ids)[1]

    def get(self, key: str, default=None):
        """A config value (``config.toml``); ``resolved.*`` keys as ``"resolved.lr"``."""
        cur = self.config
        for part in key.split("."):
            if not isinstance(cur, Mapping) or part not in cur:
                return default
            cur = cur[part]
        return cur


def _same(a, b) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def _ids_text(ids: Mapping) -> str:
    return (" (" + ", ".join(f"{k}={v}" for k, v in ids.items()) + ")") if ids else ""


# ------------------------------------------------------------------------------ evaluation
def evaluate(claims: Iterable[Claim], metrics: Sequence[Mapping], config: Mapping | None = None) -> list[dict]:
    """Judge every claim on the tidy ``metrics`` and ``config``; the records of ``claims.json``.

    A claim whose statistic is missing (:class:`Missing`), or whose arithmetic fails on
    non-finite inputs (:class:`FloatingPointError`), is recorded as ``inconclusive`` with the
    reason; any other exception is a bug of the claim and propagates.
    """
    res = Results(list(metrics), dict(config or {}))
    out = []
    for c in claims:
        try:
            with np.errstate(all="raise", under="ignore"):
                o = c.judge(res)
        except Missing as exc:
            o = Outcome(INCONCLUSIVE, reason=f"not evaluated: the results lack {exc.args[0] if exc.args else exc}")
        except FloatingPointError as exc:
            o = Outcome(INCONCLUSIVE, reason=f"not evaluated: numerical failure computing the statistic ({exc})")
        if not isinstance(o, Outcome):
            raise TypeError(f"claim {c.id}: judge returned {type(o).__name__}, expected Outcome")
        if o.verdict == AGREES and o.assumptions_met is False:  # the rule, enforced for every claim
            o = Outcome(INCONCLUSIVE, o.statistic, o.threshold,
                        f"{o.reason} The statistic passes, but the paper's assumptions are not met at this setting"
                        f"{' (' + c.assumptions + ')' if c.assumptions else ''}, so this run cannot confirm the "
                        f"claim.".strip(), False)
        out.append({"figure": c.figure, "claim": c.id, "statement": c.statement, "source": c.source,
                    "verdict": o.verdict, "statistic": _plain(o.statistic), "threshold": _plain(o.threshold),
                    "reason": o.reason, "assumptions_met": o.assumptions_met, "rule": c.rule,
                    "threshold_reason": c.threshold_reason, "assumptions": c.assumptions})
    return out


def _plain(v):
    if isinstance(v, Mapping):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, np.ndarray)):
        return [_plain(x) for x in v]
    if isinstance(v, (np.generic,)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None if math.isnan(v) else (1e308 if v > 0 else -1e308)
    return v


def worst_verdict(verdicts: Iterable[str]) -> str | None:
    """The most severe of ``verdicts`` (disagrees > inconclusive > agrees); None if empty."""
    vs = list(verdicts)
    return max(vs, key=VERDICTS.index) if vs else None


def count_verdicts(records: Iterable[Mapping]) -> dict[str, int]:
    """``{"agrees": …, "disagrees": …, "inconclusive": …}`` over claim records."""
    out = {v: 0 for v in (AGREES, DISAGREES, INCONCLUSIVE)}
    for r in records:
        out[r["verdict"]] = out.get(r["verdict"], 0) + 1
    return out


def fmt(v, digits: int = 3) -> str:
    """Compact number for sentences: integers as such, others with ``digits`` significant digits."""
    if isinstance(v, Mapping):
        return ", ".join(f"{k}: {fmt(x, digits)}" for k, x in v.items())
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(fmt(x, digits) for x in v) + "]"
    if isinstance(v, str) or v is None:
        return "–" if v is None else v
    x = float(v)
    if math.isnan(x):
        return "–"
    if math.isinf(x) or abs(x) >= 1e307:
        return "∞" if x > 0 else "−∞"
    if x == int(x) and abs(x) < 1e15:
        return str(int(x))
    return f"{x:.{digits}g}"


def caption_sentence(record: Mapping) -> str:
    """The sentence a report prints for one claim record: statement, statistic vs threshold, verdict, reason."""
    stat = f" Statistic {fmt(record.get('statistic'))} vs threshold {fmt(record.get('threshold'))}." \
        if record.get("statistic") is not None else ""
    why = f" {record['reason']}" if record.get("reason") else ""
    return f"{record['statement']} ({record['source']}).{stat} Verdict: {record['verdict']}.{why}"


# ------------------------------------------------------------------------------ statistics
def mean_se(values) -> tuple[float, float, int]:
    """``(mean, standard error of the mean, k)`` over the finite entries; the standard error is
    NaN for fewer than two."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    k = int(v.size)
    if k == 0:
        return float("nan"), float("nan"), 0
    se = float(np.std(v, ddof=1) / math.sqrt(k)) if k > 1 else float("nan")
    return float(np.mean(v)), se, k


def decide_above(value: float, threshold: float, se: float = 0.0, *, factor: float = 2.0) -> str:
    """``agrees`` if ``value − factor·se > threshold``, ``disagrees`` if ``value + factor·se <
    threshold``, else ``inconclusive``. ``se = 0`` means an exact statistic; NaN ``se`` (one
    seed) or a non-finite value gives ``inconclusive`` unless the value clears the threshold
    by construction (exact, ``se = 0``)."""
    if not math.isfinite(value) or not (math.isfinite(se) and se >= 0):
        return INCONCLUSIVE
    if value - factor * se > threshold:
        return AGREES
    if value + factor * se < threshold:
        return DISAGREES
    return INCONCLUSIVE


def decide_below(value: float, threshold: float, se: float = 0.0, *, factor: float = 2.0) -> str:
    """Mirror of :func:`decide_above`: ``agrees`` if ``value + factor·se < threshold``."""
    return decide_above(-value, -threshold, se, factor=factor)


def decide_within(value: float, target: float, tol: float, se: float = 0.0, *, factor: float = 2.0) -> str:
    """``agrees`` if ``|value − target| + factor·se ≤ tol``; ``disagrees`` if ``|value − target| −
    factor·se > tol``; else ``inconclusive``."""
    if not (math.isfinite(value) and math.isfinite(se) and se >= 0):
        return INCONCLUSIVE
    dev = abs(value - target)
    if dev + factor * se <= tol:
        return AGREES
    if dev - factor * se > tol:
        return DISAGREES
    return INCONCLUSIVE


def slope_fit(x, y) -> tuple[float, float, int]:
    """Least-squares slope of ``log y`` on ``log x`` over the finite positive pairs:
    ``(slope, standard error, number of points)``. The standard error is the OLS one
    (``s/√Σ(x−x̄)²``); NaN with fewer than three points (two points fit exactly)."""
    x, y = np.asarray(x, float).ravel(), np.asarray(y, float).ravel()
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log(x[ok]), np.log(y[ok])
    k = int(lx.size)
    if k < 2 or np.ptp(lx) == 0:
        return float("nan"), float("nan"), k
    A = np.vstack([lx, np.ones_like(lx)]).T
    coef, *_ = np.linalg.lstsq(A, ly, rcond=None)
    if k < 3:
        return float(coef[0]), float("nan"), k
    resid = ly - A @ coef
    s2 = float(resid @ resid) / (k - 2)
    se = math.sqrt(s2 / float(np.sum((lx - lx.mean()) ** 2)))
    return float(coef[0]), se, k


def spearman(x, y) -> float:
    """Spearman rank correlation (NaN if either side is constant)."""
    from scipy.stats import rankdata

    x, y = np.asarray(x, float), np.asarray(y, float)
    return pearson(rankdata(x), rankdata(y))


def pearson(x, y) -> float:
    """Pearson correlation (NaN if either side is constant)."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.size < 2 or np.std(x) == 0 or np.std(y) == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])
