"""Target-gap analysis: P(hit), shortfall and growth needed, computed draw by draw."""

from __future__ import annotations

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
            "p_hit_mcse",
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


def evaluate_targets(forecast: Forecast, targets: TargetSet | None = None) -> TargetReport:
    """Evaluate every target on the joint sample paths.

    For modelled targets: P(hit) with its Monte Carlo standard error, the measured quantity's
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
    rows, outcomes, hits = [], {}, {}
    n = forecast.n_draws
    for t in targets.values():
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
            row.update(
                kind="no data",
                p_hit=np.nan,
                note="no data for " + ", ".join(missing or [str(t.measure.years)]),
            )
        else:
            x = np.asarray(t.measure.evaluate(_lookup(forecast)), dtype=float)
            hit = t.hit(x)
            p = float(hit.mean())
            qs = np.quantile(x, [0.025, 0.1, 0.5, 0.9, 0.975])
            upward = t.comparator in (">=", ">")
            shortfall = (
                np.maximum(0.0, t.threshold - x) if upward else np.maximum(0.0, x - t.threshold)
            )
            base_year, base = _base_value(t, forecast.history)
            span = t.year - base_year if base_year is not None else 0
            row.update(
                kind="modelled",
                p_hit=p,
                p_hit_mcse=float(np.sqrt(p * (1 - p) / n)),
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
        p = row["p_hit"]
        zh, en = verdict(p) if np.isfinite(p) else ("无法评估", "not assessed")
        row.update(verdict_zh=zh, verdict_en=en)
        rows.append(row)
    return TargetReport(pd.DataFrame(rows), pd.DataFrame(outcomes), pd.DataFrame(hits))
