"""Gap-closing scenarios: transformations of the sample paths (no refitting), and the inverse
question "what uplift gives P(hit) ≥ 80 %?".

A scenario is data (YAML or dataclasses): a list of levers, each acting on some series from
some year. Because a scenario only transforms the existing joint paths, evaluating one takes
milliseconds, and every scenario shares the baseline's random draws (common random numbers),
so differences between scenarios are not Monte Carlo noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from scipy.optimize import brentq

from jqforecast.data.metrics import METRICS, Kind
from jqforecast.result import Forecast, keep_cumulative
from jqforecast.targets.definitions import Target, TargetSet
from jqforecast.targets.definitions import load as load_targets
from jqforecast.targets.evaluate import measured, measured_with_own_error, observed_terms


def _kind(series: str) -> Kind:
    return METRICS[series.split("/")[0]].kind


def _respect_kind(values: np.ndarray, kind: Kind) -> np.ndarray:
    if kind is Kind.COUNT:
        return np.maximum(np.round(values), 0.0)
    if kind is Kind.RATIO:
        return np.clip(values, 1e-9, 1 - 1e-9)
    return np.maximum(values, 0.0)


@dataclass(frozen=True)
class Uplift:
    """Growth uplift of ``pp`` percentage points a year on ``series`` from ``from_year`` on.

    The path in year ``y ≥ start`` is multiplied by ``(1 + pp/100) ** (y − start + 1)`` where
    ``start`` is ``from_year`` or, if later, the year after the series' last observation (a
    policy cannot change a year already observed).
    """

    series: tuple[str, ...]
    pp: float
    from_year: int

    def apply(self, paths, series, years, rng, last_observed: dict | None = None) -> None:
        for s in self.series:
            start = max(self.from_year, (last_observed or {}).get(s, -(10**6)) + 1)
            factor = np.array([(1 + self.pp / 100) ** max(y - start + 1, 0) for y in years])
            j = series.index(s)
            paths[:, j, :] = _respect_kind(paths[:, j, :] * factor, _kind(s))


@dataclass(frozen=True)
class LevelShift:
    """A one-off addition of ``amount`` (canonical unit) to ``series`` in ``year``.

    With probability ``probability`` per draw (a plant that may or may not open), with
    relative uncertainty ``rel_sd`` on its size; ``persist`` keeps it in later years (a new
    plant's revenue) or not (extra filings in one year). Like :class:`Uplift` it never
    changes a year already observed: an addition in or before the series' last observed
    year is in the data already, and the forecast goes on from there.
    """

    series: str
    amount: float
    year: int
    probability: float = 1.0
    rel_sd: float = 0.0
    persist: bool = True

    def apply(self, paths, series, years, rng, last_observed: dict | None = None) -> None:
        j = series.index(self.series)
        happens = rng.random(paths.shape[0]) < self.probability
        size = self.amount * np.exp(self.rel_sd * rng.standard_normal(paths.shape[0]))
        add = np.where(happens, size, 0.0)
        if self.year <= (last_observed or {}).get(self.series, -(10**6)):
            return  # in the data already (the draws are still taken: same stream after it)
        for i, y in enumerate(years):
            if y == self.year or (self.persist and y > self.year):
                paths[:, j, i] = _respect_kind(paths[:, j, i] + add, _kind(self.series))


@dataclass(frozen=True)
class Scenario:
    """A named list of levers."""

    name: str
    levers: tuple[Uplift | LevelShift, ...]
    label_zh: str = ""
    label_en: str = ""

    def apply(self, forecast: Forecast, seed: int = 0) -> Forecast:
        """A new Forecast with the levers applied to copies of the paths."""
        values = forecast.paths.values.copy()
        series, years = forecast.series, forecast.years
        rng = np.random.default_rng([seed, 7])
        last = forecast.meta.get("last_observed", {})
        for lever in self.levers:
            lever.apply(values, series, years, rng, last)
        keep_cumulative(values, series, last, years)  # a lever stops a total, never lowers it
        meta = dict(forecast.meta, scenario=self.name)
        return replace(forecast, paths=forecast.paths.copy(data=values), meta=meta)


def _lever(spec: dict) -> Uplift | LevelShift:
    kind = spec.get("type")
    if kind == "uplift":
        series = spec["series"]
        return Uplift(
            tuple([series] if isinstance(series, str) else series),
            float(spec["pp"]),
            int(spec["from_year"]),
        )
    if kind == "level_shift":
        return LevelShift(
            spec["series"],
            float(spec["amount"]),
            int(spec["year"]),
            float(spec.get("probability", 1.0)),
            float(spec.get("rel_sd", 0.0)),
            bool(spec.get("persist", True)),
        )
    raise ValueError(f"unknown lever type {kind!r}; use 'uplift' or 'level_shift'")


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Scenarios from YAML::

    scenarios:
      - name: ic_push
        label_zh: 集成电路提速
        levers:
          - {type: uplift, series: [revenue/ic], pp: 5, from_year: 2025}
          - {type: level_shift, series: revenue/ai, amount: 150, year: 2026,
             probability: 0.6, rel_sd: 0.2}
    """
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    out = []
    for spec in doc.get("scenarios", []):
        out.append(
            Scenario(
                spec["name"],
                tuple(_lever(x) for x in spec.get("levers", [])),
                spec.get("label_zh", ""),
                spec.get("label_en", ""),
            )
        )
    return out


def evaluable(forecast: Forecast, targets: TargetSet | None = None) -> list[Target]:
    """Modelled targets whose every series and year is in the forecast (default: all seven)."""
    targets = targets if targets is not None else load_targets()
    return [
        t
        for t in targets.modelled()
        if all(s in forecast.series for s in t.series)
        and all(y in forecast.years for y in t.measure.years)
    ]


def p_hit(forecast: Forecast, target: Target) -> float:
    """P(hit) of one target on a forecast."""
    return float(np.mean(target.hit(measured(target, forecast))))


def evaluate_scenarios(
    forecast: Forecast, scenarios: list[Scenario], targets: TargetSet | None = None, seed: int = 0
) -> pd.DataFrame:
    """P(hit) of every modelled target under the baseline and each scenario (long table)."""
    usable = evaluable(forecast, targets)
    rows = []
    for sc in [Scenario("baseline", ()), *scenarios]:
        fc = sc.apply(forecast, seed) if sc.levers else forecast
        for t in usable:
            p = p_hit(fc, t)
            rows.append(
                {
                    "scenario": sc.name,
                    "target": t.id,
                    "p_hit": p,
                    "p_hit_mcse": float(np.sqrt(p * (1 - p) / forecast.n_draws)),
                }
            )
    return pd.DataFrame(rows)


@dataclass
class Solution:
    """The answer of :func:`solve_uplift`."""

    target: str
    series: tuple[str, ...]
    from_year: int
    level: float
    pp: float | None
    achieved: float
    baseline: float
    reachable: bool
    note: str = field(default="")


def solve_uplift(
    forecast: Forecast,
    target: Target,
    series: tuple[str, ...] | None = None,
    from_year: int | None = None,
    level: float = 0.8,
    max_pp: float = 30.0,
) -> Solution:
    """Smallest growth uplift (pp a year, shared by ``series``) with P(hit) ≥ ``level``.

    P(hit) is monotone in the uplift (a larger multiplier never lowers any draw), so a bracketed
    root search on ``P(pp) − level`` finds it; the returned ``pp`` is rounded up to 0.01 pp and
    ``achieved`` is P(hit) at that uplift. If even ``max_pp`` does not reach ``level``, says so.
    ``from_year`` defaults to the first year the forecast was asked for (2025 by default);
    years already observed are never changed.
    """
    series = tuple(series or target.series)
    from_year = from_year or min(forecast.meta.get("years", forecast.years))
    base = p_hit(forecast, target)

    def prob(pp: float) -> float:
        return p_hit(Scenario("solve", (Uplift(series, pp, from_year),)).apply(forecast), target)

    if base >= level:
        return Solution(
            target.id,
            series,
            from_year,
            level,
            0.0,
            base,
            base,
            True,
            "already at or above the requested probability",
        )
    top = prob(max_pp)
    if top < level:
        return Solution(
            target.id,
            series,
            from_year,
            level,
            None,
            top,
            base,
            False,
            f"even +{max_pp:g} pp a year from {from_year} gives P(hit) {top:.2f}",
        )
    root = brentq(lambda pp: prob(pp) - level + 1e-12, 0.0, max_pp, xtol=1e-3)
    pp = float(np.ceil(root * 100) / 100)
    achieved = prob(pp)
    while achieved < level:  # step over the discreteness of an empirical probability
        pp += 0.01
        achieved = prob(pp)
    return Solution(target.id, series, from_year, level, round(pp, 2), achieved, base, True)


GAP_COLUMNS = [
    "target",
    "series",
    "from_year",
    "level",
    "baseline_p_hit",
    "uplift_pp",
    "achieved_p_hit",
    "median_after",
    "median_change_pct",
    "reachable",
    "max_pp",
    "observed_in_start_year",
    "note",
    "observed",
]


def gap_closing(
    forecast: Forecast,
    targets: TargetSet | None = None,
    level: float = 0.8,
    from_years: list[int] | None = None,
    max_pp: float = 30.0,
) -> pd.DataFrame:
    """What growth uplift, from when, gives each target P(hit) ≥ ``level``? (pandas out)

    One row per modelled target (those the forecast covers, see :func:`evaluable`) and start
    year: ``uplift_pp`` is the smallest uplift of the growth rate of every series the target
    measures, in percentage points a year from ``from_year`` on (:func:`solve_uplift`),
    ``achieved_p_hit`` the P(hit) it gives, ``median_after`` the median of the target's
    measure with it (canonical unit) and ``median_change_pct`` how far that is above the
    baseline median (%). ``from_years`` defaults to every
    forecast year up to the target's year, so the table shows what a year's delay costs:
    starting later leaves fewer years to compound, so the yearly uplift needed is never
    smaller. A series observed in or after ``from_year`` is uplifted only from the year
    after its last observation (listed in ``observed_in_start_year``; ``note`` says so).
    ``uplift_pp`` is empty when even ``max_pp`` does not reach ``level`` (``reachable`` is
    ``False``), and when the target's year is already observed: no forecast year is left to
    lift, ``reachable`` says whether the figure meets ``level`` as it is, and ``observed``
    and ``note`` say so.

    Examples
    --------
    >>> import jqforecast
    >>> fc = jqforecast.forecast(jqforecast.load_default(), draws=300, seed=0, models="statistical")
    >>> table = gap_closing(fc)
    >>> sorted(table["from_year"].unique().tolist())
    [2025, 2026]
    >>> table.columns.tolist()[2:7]
    ['from_year', 'level', 'baseline_p_hit', 'uplift_pp', 'achieved_p_hit']
    """
    last = forecast.meta.get("last_observed", {})
    asked = sorted(forecast.meta.get("years", forecast.years))
    rows = []
    for t in evaluable(forecast, targets):
        base_median = np.median(measured(t, forecast))
        observed = observed_terms(t, forecast)
        if observed:  # P(hit) as evaluate_targets gives it; no forecast year left to lift
            p = float(t.hit(measured_with_own_error(t, forecast)).mean())
            years = ", ".join(str(y) for y in t.measure.years)
        for year in from_years or [y for y in asked if y <= t.year]:
            if observed:
                rows.append(
                    {
                        "target": t.id,
                        "series": " + ".join(t.series),
                        "from_year": year,
                        "level": level,
                        "baseline_p_hit": p,
                        "achieved_p_hit": p,
                        "median_after": float(base_median),
                        "reachable": p >= level,
                        "max_pp": max_pp,
                        "note": f"observed ({years}): no forecast year left to lift",
                        "observed": True,
                    }
                )
                continue
            sol = solve_uplift(forecast, t, from_year=year, level=level, max_pp=max_pp)
            late = [s for s in sol.series if last.get(s, -(10**6)) >= year]
            notes = [sol.note] if sol.note else []
            if late:
                notes.append(f"{', '.join(late)} observed in {year}: uplifted from the year after")
            after = change = None
            if sol.pp is not None:
                lifted = Scenario("gap", (Uplift(sol.series, sol.pp, year),)).apply(forecast)
                after = float(np.median(measured(t, lifted)))
                if base_median != 0:  # (a median of 0: no relative change)
                    change = 100 * (after / base_median - 1)
            rows.append(
                {
                    "target": t.id,
                    "series": " + ".join(sol.series),
                    "from_year": year,
                    "level": level,
                    "baseline_p_hit": sol.baseline,
                    "uplift_pp": sol.pp,
                    "achieved_p_hit": sol.achieved,
                    "median_after": after,
                    "median_change_pct": change,
                    "reachable": sol.reachable,
                    "max_pp": max_pp,
                    "observed_in_start_year": " + ".join(late),
                    "note": "; ".join(notes),
                    "observed": False,
                }
            )
    return pd.DataFrame(rows, columns=GAP_COLUMNS)


def sensitivity(forecast: Forecast, targets: TargetSet | None = None) -> pd.DataFrame:
    """Which series' uncertainty, and which derivation assumption, drives each target's
    probability (a tornado table; column ``driver`` says which a row is).

    For every modelled target and every series in its measure: P(hit) when that series' paths
    are moved down and up by one standard deviation of its own log outcome in the target year
    (all other series unchanged, same draws), and the series' share of the measured quantity's
    variance, ``cov(x_s, X) / var(X)`` — exact for sums, where the shares add to one.

    For every shared derivation assumption the measured series carry
    (:meth:`Forecast.assumptions_of`; e.g. the park's share of Pudong behind all three
    revenues): P(hit) were the assumption exactly one of its standard deviations low or high
    in every draw (each draw's factor replaced by its mean ∓ 1 sd — 0 ∓ 1 unless official
    figures informed it — the rest of the draw kept), and the
    share of the quantity's variance that goes with the factor, ``corr(X, factor)²``. It
    says how much of a target's uncertainty is what the park's level *is* (an official
    figure would settle it) rather than what it will do.
    """
    rows = []
    factors = forecast.assumption_factors()
    posterior = forecast.assumption_posterior()
    centre, spread = posterior.means(), posterior.sd()
    for t in evaluable(forecast, targets):
        total = measured(t, forecast)
        var = float(np.var(total))
        base = float(np.mean(t.hit(total)))
        for s in t.series:
            own = np.log(np.maximum(forecast.values(s, t.year), 1e-12))
            sd = float(np.std(own))
            out = {}
            for sign in (-1, 1):
                factor = float(np.exp(sign * sd))

                def shifted(term, factor=factor, s=s):
                    x = forecast.values(term.series, term.year)
                    return x * factor if term.series == s else x

                out[sign] = float(np.mean(t.hit(np.asarray(t.measure.evaluate(shifted)))))
            part = (
                sum(forecast.values(s, y) for y in t.measure.years)
                if "/" not in str(t.measure)
                else forecast.values(s, t.year)
            )
            cov = np.cov(part, total)
            share = float(cov[0, 1] / cov[1, 1]) if var > 0 else float("nan")
            rows.append(_sensitivity_row(t.id, "series", s, base, out, share))
        carried = sorted({a for s in t.series for a in forecast.assumptions_of(s, t.year)})
        for a in carried:  # ∓1 sd around the factor's mean (0 and 1 unless official
            # figures informed it: Forecast.assumption_posterior)
            out = {sign: float(np.mean(t.hit(_assumption_at(
                       t, forecast, a, centre[a] + sign * spread[a], factors[a]))))
                   for sign in (-1, 1)}  # fmt: skip
            share = float(np.corrcoef(total, factors[a])[0, 1] ** 2) if var > 0 else float("nan")
            rows.append(_sensitivity_row(t.id, "assumption", a, base, out, share))
    return pd.DataFrame(rows)


def _sensitivity_row(
    target: str, driver: str, name: str, base: float, out: dict, share: float
) -> dict:
    """One row of :func:`sensitivity`: P(hit) at −1 and +1 sd (``out``) around ``base``."""
    return {
        "target": target,
        "driver": driver,
        "series": name,
        "p_hit": base,
        "p_hit_minus_1sd": out[-1],
        "p_hit_plus_1sd": out[1],
        "swing": out[1] - out[-1],
        "variance_share": share,
    }


def _assumption_at(
    t: Target, forecast: Forecast, assumption: str, at: float, factor: np.ndarray
) -> np.ndarray:
    """The target's measure with every draw's factor of ``assumption`` set to ``at`` (in
    its standard deviations) in the series that carry it, as much as each year carries it
    (:meth:`Forecast.loading`), the rest of each draw kept."""
    sd = forecast.meta["assumption_sd"][assumption]

    def value(term):
        x = forecast.values(term.series, term.year)
        loading = forecast.loading(term.series, assumption, term.year)
        if loading == 0:
            return x
        return forecast.shifted(term.series, x, sd * loading * (at - factor))

    return np.asarray(t.measure.evaluate(value), dtype=float)
