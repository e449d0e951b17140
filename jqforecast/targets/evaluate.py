"""Target-gap analysis: P(hit), shortfall and growth needed, computed draw by draw."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jqforecast.result import Forecast
from jqforecast.targets.definitions import Target, TargetSet, load
from jqforecast.targets.expression import Term

# Verdict bands on P(hit), documented in the report: on track ≥ 0.7 > at risk ≥ 0.3 > unlikely.
VERDICTS: tuple[tuple[float, str, str], ...] = (
    (0.7, "有望达成", "on track"),
    (0.3, "存在缺口", "at risk"),
    (0.0, "难以达成", "unlikely"),
)
# A target whose year is already observed, exactly (official figures): hit or not.
OBSERVED_VERDICTS = {True: ("已达成", "achieved"), False: ("未达成", "missed")}


def is_observed_figure(row) -> bool:
    """Whether a ``targets.csv`` row reports an observed figure (verdict achieved or
    missed) rather than a probability: its ``median`` is then the figure itself.

    >>> [is_observed_figure({"verdict_en": v}) for v in ("achieved", "missed", "at risk")]
    [True, True, False]
    """
    verdict_en = row["verdict_en"] if isinstance(row, dict | pd.Series) else row.verdict_en
    return verdict_en in {en for _, en in OBSERVED_VERDICTS.values()}


# Level of the P(hit) interval (Monte Carlo error and model uncertainty), z for its tails.
P_INTERVAL = 0.90
_Z = 1.6448536269514722  # scipy.stats.norm.ppf(0.95), kept literal to avoid the import here


def verdict(p: float) -> tuple[str, str]:
    """Chinese and English verdict for a probability of hitting a target.

    Examples
    --------
    >>> verdict(0.85), verdict(0.5), verdict(0.1)
    (('有望达成', 'on track'), ('存在缺口', 'at risk'), ('难以达成', 'unlikely'))
    """
    for bound, zh, en in VERDICTS:
        if p >= bound:
            return zh, en
    return VERDICTS[-1][1:]  # pragma: no cover - p < 0 cannot happen


@dataclass
class TargetReport:
    """One row per target plus joint results. ``table`` is a plain DataFrame."""

    table: pd.DataFrame
    outcomes: pd.DataFrame = field(repr=False)  # draws × modelled targets (measured values)
    hits: pd.DataFrame = field(repr=False)  # draws × modelled targets (bool)
    by_member: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    """P(hit) under each ensemble member alone: ``id, member, weight, p_hit, p_hit_mcse``."""

    @property
    def p_all(self) -> float:
        """P(every modelled target is hit), draw by draw."""
        return float(self.hits.all(axis=1).mean()) if not self.hits.empty else float("nan")

    def correlation(self) -> pd.DataFrame:
        """Spearman correlation between the targets' measured outcomes across draws."""
        return self.outcomes.rank().corr()

    def to_frame(self) -> pd.DataFrame:
        """The per-target table."""
        return self.table.copy()

    def _repr_html_(self) -> str:
        cols = [
            "id",
            "label_zh",
            "kind",
            "p_hit",
            "p_hit_lo",
            "p_hit_hi",
            "median",
            "threshold",
            "unit",
            "expected_shortfall",
            "required_cagr",
            "implied_cagr",
            "verdict_zh",
        ]
        shown = self.table[[c for c in cols if c in self.table]]
        return (
            f"<div><b>TargetReport</b>: P(all modelled targets hit) = {self.p_all:.3f}</div>"
            + shown.to_html(index=False, float_format=lambda x: f"{x:.3g}")
        )


def _lookup(forecast: Forecast):
    def get(term: Term) -> np.ndarray:
        return forecast.values(term.series, term.year)

    return get


def measured(target: Target, forecast: Forecast) -> np.ndarray:
    """The target's measured quantity, one value per draw (e.g. the three industries'
    revenue summed in each draw), on the target's canonical unit.

    Examples
    --------
    >>> import jqforecast
    >>> from jqforecast.targets import load
    >>> fc = jqforecast.forecast(jqforecast.load_default(), draws=200, models="statistical")
    >>> measured(load()["leading_revenue"], fc).shape
    (200,)
    """
    return np.asarray(target.measure.evaluate(_lookup(forecast)), dtype=float)


def observed_terms(target: Target, forecast: Forecast) -> bool:
    """Whether every year the target measures is already observed for its series (the
    measured value is then data, uncertain only as far as the figures are estimated or
    derived: :func:`measured_with_own_error`).

    Examples
    --------
    >>> import jqforecast
    >>> from jqforecast.targets import load
    >>> fc = jqforecast.forecast(jqforecast.load_default(), draws=50, models="statistical")
    >>> observed_terms(load()["leading_revenue"], fc)  # 2026 is not observed yet
    False
    """
    last = forecast.meta.get("last_observed", {})
    return all(term.year <= last.get(term.series, -(10**6)) for term in target.measure.terms)


def measured_with_own_error(target: Target, forecast: Forecast) -> np.ndarray:
    """:func:`measured` for a target whose years are observed, each estimated or derived
    figure's own error drawn around it: its ``rel_sd`` (or the status default) less the
    shared assumptions' part, which the draws carry already, on the metric's unconstrained
    scale, from a stream keyed by the seed, series and year. An official figure stays as
    it is.

    Why here and not in the paths: the statistical members take observed values as exact
    and forecast from the figure as reported, so a draw of the true value belongs to the
    question "was the target hit?", not to the paths the forecast goes on from.

    Examples
    --------
    >>> import numpy as np, pandas as pd, xarray as xr
    >>> from jqforecast.targets import load
    >>> history = pd.DataFrame({"metric": ["pct_filings"], "industry": ["park_total"],
    ...     "year": [2026], "value": [650.0], "status": ["estimate"], "rel_sd": [0.1],
    ...     "assumption": [None]})
    >>> paths = xr.DataArray(np.full((4000, 1, 1), 650.0), dims=("draw", "series", "year"),
    ...     coords={"draw": range(4000), "series": ["pct_filings/park_total"], "year": [2026]})
    >>> fc = Forecast(paths, history, {"seed": 0})
    >>> x = measured_with_own_error(load()["pct_filings"], fc)
    >>> round(float(np.std(np.log(x + 0.5))), 2), float(np.median(x))
    (0.1, 650.0)
    """
    from jqforecast.data.metrics import METRICS
    from jqforecast.engine.series import own_rel_sd
    from jqforecast.models.transforms import Transform
    from jqforecast.result import with_own_error

    history = forecast.history
    if "status" not in history or history.empty:
        return measured(target, forecast)
    sds = own_rel_sd(history, forecast.meta.get("assumption_sd", {}))
    keys = zip(history["metric"], history["industry"], history["year"].astype(int), strict=True)
    own = dict(zip(keys, sds, strict=True))
    seed = int(forecast.meta.get("seed", 0))

    def value(term: Term) -> np.ndarray:
        draws = np.asarray(forecast.values(term.series, term.year), dtype=float)
        sd = own.get((term.metric, term.industry, term.year), 0.0)
        transform = Transform(METRICS[term.metric].kind)
        return with_own_error(draws, transform, sd, seed, term.series, term.year)

    return np.asarray(target.measure.evaluate(value), dtype=float)


def official_terms(target: Target, history: pd.DataFrame, year: int | None = None) -> bool:
    """Whether every (series, year) the target measures is an official figure in the data
    (a gap year between figures, interpolated, is not; without statuses, none is); with
    ``year``, its series' figures in that year instead (a single-year measure moved there,
    as :func:`measured_in` moves it)."""
    if "status" not in history:
        return False
    status = history.set_index(["metric", "industry", "year"])["status"]
    return all(
        status.get((term.metric, term.industry, term.year if year is None else year)) == "official"
        for term in target.measure.terms
    )


def measured_in(target: Target, value_of: Callable[[str, int], object], year: int) -> np.ndarray:
    """A single-year target's measure moved to another ``year`` (e.g. the three industries'
    revenue summed in 2025), from ``value_of(series, year)``: a forecast's ``values`` (one
    value per draw), its ``observed_draws``, or observations (one value).

    Examples
    --------
    >>> from jqforecast.targets import load
    >>> figures = {"revenue/ic": 500.0, "revenue/biomed": 1100.0, "revenue/ai": 400.0}
    >>> float(measured_in(load()["leading_revenue"], lambda s, y: figures[s], 2024))
    2000.0
    """
    (own,) = target.measure.years
    return np.asarray(
        target.measure.evaluate(lambda t: value_of(t.series, t.year - own + year)), dtype=float
    )


def _base_value(target: Target, history: pd.DataFrame) -> tuple[int | None, float]:
    """Latest year at which the measure can be computed from observations alone."""
    if len(target.measure.years) != 1:
        return None, float("nan")  # multi-year measures (additions over years) have no base
    obs = history.set_index(["metric", "industry", "year"])["value"]
    years = sorted(history["year"].unique(), reverse=True)
    for year in years:
        if year >= target.year:
            continue
        try:
            value = target.measure.evaluate(
                lambda t, y=year: float(obs.loc[(t.metric, t.industry, y)])
            )
        except KeyError:
            continue
        return int(year), float(value)
    return None, float("nan")


def _cagr(end: float, start: float, years: int) -> float:
    if years <= 0 or not (start > 0) or not (end > 0):
        return float("nan")
    return float((end / start) ** (1.0 / years) - 1.0)


def member_spread(
    hit: np.ndarray,
    members: np.ndarray,
    level: float = P_INTERVAL,
    pooled: np.ndarray | None = None,
) -> tuple[float, float, pd.DataFrame]:
    """A ``level`` interval for P(hit) covering Monte Carlo error and model uncertainty.

    ``members`` labels each draw with the ensemble member(s) that produced it. P(hit) is
    computed under each member alone; the interval runs from the weighted lower
    ``(1 − level)/2`` quantile of these member probabilities minus its Monte Carlo error to
    the upper one plus its error (so a member carrying less than 5 % of the draws does not
    stretch a 90 % interval), and always contains the pooled P(hit) ± its own MC error.
    ``pooled``: the ensemble's hits when they are not ``hit`` itself (an ensemble that
    averages quantiles: ``hit`` is then computed on the members' own draws).

    Examples
    --------
    >>> hit = np.array([1, 1, 1, 0] * 250 + [1, 0, 0, 0] * 250, dtype=bool)
    >>> lo, hi, table = member_spread(hit, np.repeat(["a", "b"], 1000))
    >>> table[["member", "p_hit"]].to_dict("list")
    {'member': ['a', 'b'], 'p_hit': [0.75, 0.25]}
    >>> round(lo, 3), round(hi, 3)
    (0.227, 0.773)
    """
    hit = np.asarray(hit, dtype=float)
    names, inverse = np.unique(np.asarray(members).astype(str), return_inverse=True)
    n_k = np.bincount(inverse)
    p_k = np.bincount(inverse, weights=hit) / n_k
    se_k = np.sqrt(p_k * (1 - p_k) / n_k)
    table = pd.DataFrame(
        {"member": names, "weight": n_k / len(hit), "p_hit": p_k, "p_hit_mcse": se_k}
    )
    tail = (1 - level) / 2
    order = np.argsort(p_k, kind="stable")
    cum = np.cumsum(table["weight"].to_numpy()[order])
    lower = order[np.searchsorted(cum, tail, side="right")]
    upper = order[np.searchsorted(cum, 1 - tail, side="left").clip(max=len(order) - 1)]
    p = float(np.mean(hit if pooled is None else pooled))
    se = np.sqrt(p * (1 - p) / len(hit))
    lo = min(p_k[lower] - _Z * se_k[lower], p - _Z * se)
    hi = max(p_k[upper] + _Z * se_k[upper], p + _Z * se)
    return float(max(lo, 0.0)), float(min(hi, 1.0)), table


def evaluate_targets(forecast: Forecast, targets: TargetSet | None = None) -> TargetReport:
    """Evaluate every target on the joint sample paths.

    For modelled targets: P(hit) with its Monte Carlo standard error and a 90 % interval
    ``p_hit_lo``–``p_hit_hi`` that also spans the ensemble members' disagreement
    (:func:`member_spread`; per member in ``report.by_member``), the measured quantity's
    median and 80%/95% intervals, the gap and expected shortfall ``E[max(0, T − X)]`` (for
    ``>=``/``>`` targets), the growth rate (CAGR from the last year the measure is observed)
    needed to reach the target and the one the forecast's median implies, and a verdict.
    Targets whose series are not in the data are reported as ``no data``; elicited targets
    carry the analyst's probability, labelled as elicited.

    Examples
    --------
    >>> import jqforecast
    >>> fc = jqforecast.forecast(jqforecast.load_default(), draws=500)  # doctest: +SKIP
    >>> jqforecast.evaluate_targets(fc).table[["id", "p_hit"]]  # doctest: +SKIP
    """
    targets = targets if targets is not None else load()
    rows, outcomes, hits, spread = [], {}, {}, []
    n = forecast.n_draws
    for t in targets.values():
        observed = official = False
        row = {
            "id": t.id,
            "label_zh": t.label_zh,
            "label_en": t.label_en,
            "measure": str(t.measure),
            "comparator": t.comparator,
            "threshold": t.threshold,
            "unit": t.unit,
            "threshold_as_written": t.threshold_as_written,
            "unit_as_written": t.unit_as_written,
            "firmness": t.firmness,
            "year": t.year,
        }
        missing = [s for s in t.series if s not in forecast.series]
        if not t.modelled:
            p = t.elicited.probability
            row.update(
                kind="elicited",
                p_hit=np.nan if p is None else p,
                note=f"elicited: {t.elicited.status}"
                + (f" ({t.elicited.by})" if t.elicited.by else ""),
            )
        elif missing or any(y not in forecast.years for y in t.measure.years):
            short = forecast.meta.get("not_forecast", {})
            too_few = [f"{s} ({short[s]})" for s in missing if s in short]
            row.update(
                kind="no data",
                p_hit=np.nan,
                note="too few points for " + ", ".join(too_few)
                if too_few
                else "no data for " + ", ".join(missing or [str(t.measure.years)]),
            )
        else:
            observed = observed_terms(t, forecast)
            official = observed and official_terms(t, forecast.history)
            # an observed estimate is not the true value: its own error is drawn around it
            x = measured_with_own_error(t, forecast) if observed else measured(t, forecast)
            hit = t.hit(x)
            p = float(hit.mean())
            qs = np.quantile(x, [0.025, 0.1, 0.5, 0.9, 0.975])
            upward = t.comparator in (">=", ">")
            shortfall = (
                np.maximum(0.0, t.threshold - x) if upward else np.maximum(0.0, x - t.threshold)
            )
            own = forecast.member_draws()  # each member's own draws (quantile averaging)
            # (observed years are data in every member's draws: no disagreement to add)
            own_hit = hit if own is forecast or observed else t.hit(measured(t, own))
            lo, hi, members = member_spread(own_hit, own.member_of(t.series), pooled=hit)
            spread.append(members.assign(id=t.id))
            base_year, base = _base_value(t, forecast.history)
            span = t.year - base_year if base_year is not None else 0
            row.update(
                kind="modelled",
                p_hit=p,
                p_hit_mcse=float(np.sqrt(p * (1 - p) / n)),
                p_hit_lo=lo,
                p_hit_hi=hi,
                median=qs[2],
                **{"lo-95": qs[0], "lo-80": qs[1], "hi-80": qs[3], "hi-95": qs[4]},
                gap=t.threshold - qs[2],
                gap_pct=(t.threshold - qs[2]) / t.threshold,
                expected_shortfall=float(shortfall.mean()),
                base_year=base_year,
                base_value=base,
                required_cagr=_cagr(t.threshold, base, span),
                implied_cagr=_cagr(qs[2], base, span),
                note="",
            )
            outcomes[t.id], hits[t.id] = x, hit
        exact = False
        if row["kind"] == "modelled" and observed:
            exact = official and bool(np.ptp(x) == 0)
            years = ", ".join(str(y) for y in t.measure.years)
            row["note"] = f"observed ({years})" + (
                ""
                if exact
                else ": estimated or derived; P(hit) allows for the figures' own error "
                "and the shared derivation error"
            )
        p = row["p_hit"]
        if exact:
            zh, en = OBSERVED_VERDICTS[bool(p == 1.0)]
        else:
            zh, en = verdict(p) if np.isfinite(p) else ("无法评估", "not assessed")
        row.update(verdict_zh=zh, verdict_en=en)
        rows.append(row)
    by_member = pd.concat(spread, ignore_index=True) if spread else pd.DataFrame()
    if not by_member.empty:
        by_member = by_member[["id", "member", "weight", "p_hit", "p_hit_mcse"]]
    return TargetReport(
        pd.DataFrame(rows), pd.DataFrame(outcomes), pd.DataFrame(hits), by_member=by_member
    )
