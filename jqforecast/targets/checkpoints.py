"""Interim checkpoints: the level a target's measure must reach a year before the target year
for the target to stay within reach (pandas out).

The joint sample paths tie each draw's 2025 to its 2026, so the chance of hitting the 2026
target *given* what 2025 turns out to be can be read off the draws. That turns a 2026
probability into a figure to watch when the 2025 statistics are published: "if the three
industries' 2025 revenue is at least X 亿元, the 2026 target is hit with probability 80 %".
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.special import logit
from sklearn.linear_model import LogisticRegression

from jqforecast.result import Forecast
from jqforecast.targets.definitions import Target, TargetSet
from jqforecast.targets.definitions import load as load_targets
from jqforecast.targets.evaluate import measured, measured_in, observed_terms, official_terms


def checkpoints(
    forecast: Forecast,
    targets: TargetSet | None = None,
    levels: Sequence[float] = (0.5, 0.8),
    year: int | None = None,
) -> pd.DataFrame:
    """For each modelled single-year target, the value its measure must reach in ``year``
    (default: the year before the target's) for P(hit) to be each of ``levels``.

    P(hit | value in ``year``) is a logistic regression of each draw's hit (target year) on
    its value in ``year`` (on logs when every value is positive), fitted on the joint draws;
    the checkpoint is where the fitted curve crosses the level. A library fit rather than
    bins of draws: smooth and monotone, and it needs no bin width (scikit-learn,
    ``LogisticRegression`` with a very weak penalty, so that a curve steep enough to
    separate hits from misses still has finite coefficients).

    Columns: ``target``, ``year`` (the checkpoint's), ``level``, ``direction`` (``>=``: the
    value must reach at least the checkpoint; ``<=`` for a target that falls with it),
    ``value`` (canonical unit), ``unit``, ``p_reach`` (the forecast's probability that the
    measure gets there), ``p_hit`` (today's P(hit)) and ``note`` (why a row has no value:
    the measure is observed in that year, a multi-year measure, the year not forecast, or
    P(hit) hardly depends on it). For whole-number measures (counts) the checkpoint is the
    next whole number (a count ≥ 12.6 is a count ≥ 13), and ``level`` then a lower bound of
    the P(hit) there.

    Examples
    --------
    >>> import jqforecast
    >>> fc = jqforecast.forecast(jqforecast.load_default(), draws=500, seed=0, models="statistical")
    >>> table = checkpoints(fc)
    >>> table.columns.tolist()[:5]
    ['target', 'year', 'level', 'direction', 'value']
    """
    targets = targets if targets is not None else load_targets()
    rows = []
    for t in targets.modelled():
        if not all(s in forecast.series for s in t.series) or t.year not in forecast.years:
            continue
        at = year if year is not None else t.year - 1
        base = {"target": t.id, "year": at, "unit": t.unit}
        outcome = t.hit(measured(t, forecast))
        p_hit = float(np.mean(outcome))
        note = _why_not(t, forecast, at)
        if note:
            rows += [base | {"level": lv, "p_hit": p_hit, "note": note} for lv in levels]
            continue
        crossings = _crossings(measured_in(t, forecast.values, at), outcome, levels)
        rows += [
            base | {"level": lv, "p_hit": p_hit} | c
            for lv, c in zip(levels, crossings, strict=True)
        ]
    columns = ["target", "year", "level", "direction", "value", "unit", "p_reach", "p_hit", "note"]
    return pd.DataFrame(rows, columns=columns)


def _why_not(target: Target, forecast: Forecast, year: int) -> str:
    """Why a target has no checkpoint in ``year`` ('' if it has one)."""
    if len(target.measure.years) != 1:
        return "multi-year measure: no single earlier value to watch"
    if year not in forecast.years or year >= target.year:
        return f"{year} is not a forecast year before the target's"
    if observed_terms(target, forecast):
        return f"observed ({target.year})"
    if official_terms(target, forecast.history, year):  # nothing left to watch
        return f"observed ({year}): the checkpoint year's figures are official"
    return ""


def _crossings(before: np.ndarray, outcome: np.ndarray, levels: Sequence[float]) -> list[dict]:
    """Where P(hit | value) crosses each of ``levels`` (one fit for all): the checkpoint,
    its direction and the probability of getting there; a note instead when the hits do
    not depend on the value or no draw reaches the level."""

    def everywhere(note: str) -> list[dict]:
        return [{"note": note} for _ in levels]

    if outcome.all() or not outcome.any():
        return everywhere("P(hit) is 0 or 1 whatever the value: no checkpoint")
    positive = bool((before > 0).all())
    x = np.log(before) if positive else before
    spread = float(np.std(x))
    if spread == 0:
        return everywhere("the value does not vary across draws: no checkpoint")
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(((x - x.mean()) / spread)[:, None], outcome)
    slope, intercept = float(fit.coef_[0, 0]), float(fit.intercept_[0])
    if abs(slope) < 0.05:  # P(hit) moves by < ~1 pp across one sd of the value
        return everywhere("P(hit) hardly depends on the value: no checkpoint")
    whole = np.array_equal(before, np.round(before))  # counts: a whole checkpoint
    out = []
    for level in levels:
        value = x.mean() + (float(logit(level)) - intercept) / slope * spread
        value = float(np.exp(value)) if positive else float(value)
        if not before.min() <= value <= before.max():  # an extrapolation: no draw got there
            out.append({"note": "the level lies beyond every draw's value: no checkpoint"})
            continue
        if whole:
            value = float(np.ceil(value) if slope > 0 else np.floor(value))
        reach = before >= value if slope > 0 else before <= value
        out.append(
            {
                "direction": ">=" if slope > 0 else "<=",
                "value": value,
                "p_reach": float(reach.mean()),
            }
        )
    return out
