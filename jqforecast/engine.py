"""``jqforecast.forecast``: from the long table to joint sample paths.

Per series: transform to the unconstrained scale of its data type → fit every applicable
model → simulate → mix the members with weights learned from rolling-origin backtests →
add the shared derivation uncertainty → back-transform. Every random draw comes from one
seed, through generators keyed by the series id, so results do not depend on series order.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from jqforecast.data.metrics import METRICS, Kind
from jqforecast.data.schema import coerce_dtypes, effective_rel_sd
from jqforecast.models.base import Model, TooShortError
from jqforecast.models.bayes import CountGrowth, HierarchicalGrowth, MultiSeriesModel, fit_jointly
from jqforecast.models.calibration import PITCalibration
from jqforecast.models.ensemble import (
    COMBINE,
    COMBINE_METHODS,
    BacktestCase,
    Combine,
    allocate_draws,
    ensemble_pit,
    fit_weights,
    vincentise,
)
from jqforecast.models.statistical import OPTIONAL_MODELS, STATISTICAL_MODELS
from jqforecast.models.transforms import Transform
from jqforecast.result import Forecast, series_id

log = logging.getLogger(__name__)

MIN_POINTS = 3
BACKTEST_ORIGINS = 3  # last k origins per series
BACKTEST_HORIZON = 2  # the plan's horizon: 2025 and 2026
BACKTEST_DRAWS = 400
MAX_LOG_CHANGE_PER_YEAR = 1.0
MULTI_CHUNK = 50  # most series per pooled MCMC fit when fitting or backtesting many series


def near_equal_chunks(idx: np.ndarray, size: int) -> list[np.ndarray]:
    """``idx`` in order, cut into the fewest chunks of at most ``size``, sizes within one
    (so no pool is left with the few series that remain after full ones).

    Examples
    --------
    >>> [len(c) for c in near_equal_chunks(np.arange(101), 50)]
    [34, 34, 33]
    >>> near_equal_chunks(np.arange(0), 50)  # nothing to cut: no chunks
    []
    """
    return np.array_split(idx, -(-len(idx) // size)) if len(idx) else []


@dataclass
class SeriesData:
    """One series prepared for the models."""

    id: str
    metric: str
    industry: str
    transform: Transform
    history: pd.Series  # unconstrained scale, consecutive years, NaN for gaps
    noise: pd.Series  # each point's own measurement sd on that scale (0 = official)
    assumptions: tuple[str, ...]

    @property
    def last_year(self) -> int:
        return int(self.history.index[-1])

    @property
    def n_obs(self) -> int:
        return int(self.history.notna().sum())


def _rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A generator determined by the seed and string/int keys (order-independent streams)."""
    words = [seed] + [zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(words)


def resolve_models(models: str | Sequence[str | Model], seed: int = 0) -> list[Model]:
    """Model instances from ``"auto"`` (the default ensemble), ``"statistical"``, ``"bayes"``,
    names (the optional members too) or instances."""
    bayes = [HierarchicalGrowth(seed=seed), CountGrowth(seed=seed)]
    registry = {cls.name: cls for cls in (*STATISTICAL_MODELS, *OPTIONAL_MODELS)}
    registry |= {m.name: type(m) for m in bayes}
    if isinstance(models, str):
        if models == "auto":
            return [cls() for cls in STATISTICAL_MODELS] + bayes
        if models == "statistical":
            return [cls() for cls in STATISTICAL_MODELS]
        if models == "bayes":
            return bayes
        models = [models]
    out = []
    for m in models:
        if isinstance(m, Model):
            out.append(m.clone())
        elif m in registry:
            cls = registry[m]
            out.append(cls(seed=seed) if issubclass(cls, MultiSeriesModel) else cls())
        else:
            raise ValueError(f"unknown model {m!r}; known: {sorted(registry)} or 'auto'")
    return out


def applies(model: Model, s: SeriesData) -> bool:
    """Whether a model suits a series' data type (count models only for counts, and back;
    the growth model's priors are on a log or logit scale: not for series of any sign)."""
    is_count = s.transform.kind is Kind.COUNT
    if isinstance(model, CountGrowth):
        return is_count
    if isinstance(model, HierarchicalGrowth):
        return s.transform.kind not in (Kind.COUNT, Kind.REAL)
    return True


def _assumption_sds(data: pd.DataFrame, assumptions: dict | None) -> dict[str, float]:
    """Log-scale sd of each shared assumption: from the registry, else the smallest row rel_sd."""
    sds: dict[str, float] = {}
    rel = effective_rel_sd(data)
    for text, r in zip(data["assumption"], rel, strict=True):
        if text is None or (isinstance(text, float) and np.isnan(text)):
            continue
        for a in str(text).split():
            if assumptions and a in assumptions:
                sds[a] = float(assumptions[a].rel_sd)
            else:
                sds[a] = min(sds.get(a, np.inf), float(r))
    return sds


def prepare(data: pd.DataFrame, assumption_sd: dict[str, float] | None = None) -> list[SeriesData]:
    """Group the long table into series on their unconstrained scales.

    Each point's own measurement sd is its ``rel_sd`` (or the status default) with the shared
    assumptions' part removed in quadrature: the shared part moves whole series together and
    is added to the paths as one factor, so it must not also count as independent noise.
    """
    data = coerce_dtypes(data)
    assumption_sd = assumption_sd or {}
    data["_noise"] = effective_rel_sd(data)
    prepared, short = [], []
    for (metric, industry), g in data.groupby(["metric", "industry"], sort=True):
        g = g.sort_values("year")
        if len(g) < MIN_POINTS:
            short.append(f"{metric}/{industry} ({len(g)} point(s))")
            continue
        transform = Transform(METRICS[metric].kind)
        years = range(int(g["year"].min()), int(g["year"].max()) + 1)
        z = pd.Series(transform.forward(g["value"].to_numpy()), index=g["year"].to_numpy())
        ids = sorted({a for text in g["assumption"].dropna() for a in str(text).split()})
        shared2 = sum(assumption_sd.get(a, 0.0) ** 2 for a in ids)
        own = np.sqrt(np.maximum(g["_noise"].to_numpy() ** 2 - shared2, 0.0))
        prepared.append(
            SeriesData(
                id=series_id(metric, industry),
                metric=metric,
                industry=industry,
                transform=transform,
                history=z.reindex(years),
                noise=pd.Series(own, index=g["year"].to_numpy()).reindex(years),
                assumptions=tuple(ids),
            )
        )
    if short:
        raise ValueError(
            f"series with fewer than {MIN_POINTS} points cannot be forecast: "
            + ", ".join(short)
            + ". Add data, or drop the series (its targets are then reported as 'no data')."
        )
    return prepared


def _for_model(model: Model, history: pd.Series) -> pd.Series:
    """History as the model can take it: gaps interpolated on the unconstrained scale."""
    if model.handles_gaps or history.notna().all():
        return history
    return history.interpolate(method="index")


def _member_paths(
    model: Model,
    history: pd.Series,
    transform: Transform,
    horizon: int,
    draws: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """A member's paths on the unconstrained scale, bounded to a plausible envelope around
    the last observation. A ``data_scale`` member fits the back-transformed history.

    Trend models with a random slope (local linear trend) occasionally simulate explosive
    paths whose exp() dominates every mean-based score; paths are clipped to at most
    :data:`MAX_LOG_CHANGE_PER_YEAR` per year from the last observed value (×2.7 up or ÷2.7
    down a year), far outside any economic series here but a guard against such blow-ups.
    Series of any sign (:attr:`Kind.REAL`) have no log scale and are not bounded.
    """
    fit_on = _for_model(model, history)
    if model.data_scale:
        fit_on = pd.Series(transform.inverse(fit_on.to_numpy(), whole=False), fit_on.index)
    paths = model.clone().fit(fit_on).simulate(horizon, draws, rng)
    if model.data_scale:
        paths = transform.forward(paths)
    if transform.kind is Kind.REAL:
        return paths
    last = history.dropna()
    ahead = int(history.index[-1] - last.index[-1])
    return _envelope(paths, float(last.iloc[-1]), ahead + np.arange(1, horizon + 1))


def _envelope(paths: np.ndarray, last: float, years_ahead: np.ndarray) -> np.ndarray:
    """Clip paths (…, steps) to ±:data:`MAX_LOG_CHANGE_PER_YEAR` per year from ``last``.

    Applied to every member alike, the Bayesian ones included: with 3–5 points their
    Student-t paths have tails that, after exp(), reach 10⁵× the last value (measured on M3
    windows of 5 points: mean backtest CRPS 620 against 0.12 for the statistical members).
    """
    bound = MAX_LOG_CHANGE_PER_YEAR * np.asarray(years_ahead, dtype=float)
    return np.clip(paths, last - bound, last + bound)


def _origins(
    s: SeriesData, horizon: int, min_points: int, recent: bool = False
) -> list[tuple[int, pd.Series, pd.Series]]:
    """Rolling origins of one series: ``(k, train, future)`` for the last
    :data:`BACKTEST_ORIGINS` origins that leave ``horizon`` years to score (fewer on short
    series), skipping origins with fewer than ``min_points`` training points. With
    ``recent`` the origins are the last ``k`` years, each scoring up to ``min(k, horizon)``
    years: forecasts made from (nearly) the whole history, as the real one is."""
    observed = s.history.dropna()
    n = len(observed)
    out = []
    for k in range(1, BACKTEST_ORIGINS + 1):
        cut = n - k if recent else n - max(horizon, 1) - k + 1
        if cut < min_points:
            cut = n - k  # short series: score what is left after the origin
        if cut < min_points:
            continue
        out.append(
            (k, s.history.loc[: observed.index[cut - 1]], observed.iloc[cut : cut + horizon])
        )
    return out


Mapper = Callable[[Callable, Iterable], Iterable]
"""``map``-like: apply a picklable function to each item (the builtin ``map`` runs in
process; ``ProcessPoolExecutor.map`` or a Dask client's map spread backtests over cores or
machines). Every backtest draw comes from a stream keyed by series, member and origin, so
the results do not depend on the mapper."""


def _multi_backtest_paths(
    series: list[SeriesData],
    members: list[Model],
    seed: int,
    horizon: int,
    min_points: int,
    recent: bool = False,
    mapper: Mapper = map,
) -> dict[tuple[str, int], list[np.ndarray]]:
    """Multi-series members' paths at every backtest origin: ``(series id, k) → [paths
    (draws, steps) per member]``. One pooled fit per origin, member and metric group (in
    near-equal chunks of at most :data:`MULTI_CHUNK` series), so backtesting costs a few MCMC
    runs, not one per series; the fits are independent jobs for ``mapper``."""
    origins = {s.id: _origins(s, horizon, min_points, recent) for s in series}
    jobs = []
    for k in range(1, BACKTEST_ORIGINS + 1):
        trains = {s.id: o[1] for s in series for o in origins[s.id] if o[0] == k}
        for metric in sorted({s.metric for s in series}):
            group = [s for s in series if s.metric == metric and s.id in trains]
            for part in near_equal_chunks(np.arange(len(group)), MULTI_CHUNK):
                c, chunk = int(part[0]), [group[i] for i in part]
                jobs += [
                    (m, k, c, chunk, {s.id: trains[s.id] for s in chunk}, seed, horizon)
                    for m in members
                ]
    out: dict[tuple[str, int], list[np.ndarray]] = {}
    for job, paths in zip(jobs, mapper(_pooled_backtest_fit, jobs), strict=True):
        k = job[1]
        for sid, bounded in paths.items():  # members in order: jobs list them per chunk
            out.setdefault((sid, k), []).append(bounded)
    return out


def _pooled_backtest_fit(job: tuple) -> dict[str, np.ndarray]:
    """One pooled fit of a multi-series member at one origin: bounded paths per series."""
    m, k, c, chunk, trains, seed, horizon = job
    frame = pd.DataFrame(trains).sort_index()
    noise = pd.DataFrame({s.id: s.noise.reindex(frame.index) for s in chunk})
    end = int(frame.index[-1])
    steps = horizon + end - min(int(t.index[-1]) for t in trains.values())
    (fitted,) = fit_jointly([(m.clone().set_params(seed=seed, cores=1), frame, noise)])
    paths = fitted.simulate(steps, BACKTEST_DRAWS, _rng(seed, m.name, k, c))
    years = fitted.years_ + list(range(end + 1, end + 1 + steps))
    out = {}
    for j, s in enumerate(chunk):
        train = trains[s.id].dropna()
        last = int(train.index[-1])
        cols = [years.index(last + h) for h in range(1, horizon + 1)]
        out[s.id] = _envelope(paths[:, j, cols], float(train.iloc[-1]), np.arange(1, horizon + 1))
    return out


def _origin_paths(
    s: SeriesData,
    members: list[Model],
    seed: int,
    horizon: int,
    min_points: int,
    recent: bool,
) -> list[tuple[int, pd.Series, pd.Series, list[int], list[np.ndarray]]]:
    """Every backtest origin of one series with each single-series member's paths:
    ``(k, train, future, steps, [paths])``, ``steps`` being the years after the origin of
    the ``future`` values; origins where a member fails are skipped (logged)."""
    out = []
    for k, train, future in _origins(s, horizon, min_points, recent):
        steps = [int(y - train.index[-1]) for y in future.index]
        try:
            sims = [
                _member_paths(
                    m, train, s.transform, max(steps), BACKTEST_DRAWS, _rng(seed, s.id, m.name, k)
                )
                for m in members
            ]
        except (ValueError, np.linalg.LinAlgError) as err:
            log.info("backtest origin skipped for %s: %s", s.id, err)
            continue
        out.append((k, train, future, steps, sims))
    return out


def backtest_cases(
    series: list[SeriesData],
    members: list[Model],
    seed: int,
    horizon: int = BACKTEST_HORIZON,
    multi: Sequence[Model] = (),
    recent: bool = False,
    mapper: Mapper = map,
    scale: Callable[[Transform, np.ndarray], float] | None = None,
) -> list[BacktestCase]:
    """Rolling-origin cases pooled over series: fit on a prefix, score the next years.

    The last :data:`BACKTEST_ORIGINS` origins that leave ``horizon`` years to score are used
    (the final origins leave fewer when the series is short), so weights are learned for the
    horizon the forecast is for. Each case stacks ``members`` then ``multi`` (multi-series
    members, fitted pooled per origin; see :func:`_multi_backtest_paths`). ``recent``: the
    origins of :func:`_origins` closest to the end (for calibration). ``mapper`` runs the
    series' backtests and the pooled fits (:data:`Mapper`). Each case is scored relative to
    ``scale(transform, training values)`` (default :func:`_case_scale`).
    """
    scale = scale or _case_scale
    min_points = max(m.min_points for m in [*members, *multi])
    pooled = (
        _multi_backtest_paths(series, list(multi), seed, horizon, min_points, recent, mapper)
        if multi
        else {}
    )
    per_series = mapper(
        partial(
            _origin_paths,
            members=members,
            seed=seed,
            horizon=horizon,
            min_points=min_points,
            recent=recent,
        ),
        series,
    )
    cases = []
    for s, origins in zip(series, per_series, strict=True):
        for k, train, future, steps, sims in origins:
            if multi:
                if (s.id, k) not in pooled:
                    continue
                sims = sims + pooled[(s.id, k)]
            base = scale(s.transform, train.dropna().to_numpy())
            for step, outcome in zip(steps, future.to_numpy(), strict=True):
                z = np.stack([p[:, step - 1] for p in sims])
                truth = float(s.transform.inverse(np.array([outcome]))[0]) / base
                cases.append(
                    BacktestCase(
                        s.transform.inverse(z) / base, truth, step, z, s.transform, base, s.id
                    )
                )
    return cases


def _case_scale(transform: Transform, train: np.ndarray) -> float:
    """The positive scale a backtest case is scored relative to, so that series weigh alike
    in the weights' CRPS: the mean absolute yearly change of the training values on the data
    scale (the MASE scale; scoring is on the data scale because a member's explosive right
    tail looks harmless on logs but is what a user sees after exp()). A series without
    change (or one point) is scored relative to its last value's size, or 1.

    Why this scale, not the last value (used up to session 9): relative to its level a
    volatile series' errors are large, so a few such series decided the weights; on M3's
    training data weights learned in these units (and bagged, as ``fit_weights`` does)
    carried over to other series better when scored in them (excess CRPS over the best
    weights 1.4 % against 4.1 % full history, 0.8 % against 4.7 % at 10 points;
    ``benchmarks/weight_stability.py``, ``benchmarks/RESULTS.md`` session 10); scored
    relative to the level, 1.9 % against 2.5 % full history but 4.0 % against 3.8 % at 10
    points. The benchmark's CRPS is scaled by the yearly change too.

    Examples
    --------
    >>> round(_case_scale(Transform(Kind.LEVEL), np.log([2.0, 4.0, 5.0])), 9)  # changes 2, 1
    1.5
    >>> _case_scale(Transform(Kind.REAL), np.array([3.0, -1.0, 0.0]))
    2.5
    >>> _case_scale(Transform(Kind.LEVEL), np.log([4.0]))  # one point: its size
    4.0
    """
    values = transform.inverse(np.asarray(train, dtype=float))
    change = float(np.mean(np.abs(np.diff(values)))) if len(values) > 1 else 0.0
    return change or float(abs(values[-1])) or 1.0


def learn_weights(
    series: list[SeriesData],
    members: list[Model],
    seed: int,
    horizon: int = BACKTEST_HORIZON,
    backtest_multi: bool = False,
    mapper: Mapper = map,
    combine: Combine = COMBINE,
) -> tuple[dict[str, float], dict]:
    """Ensemble weights minimising the ensemble's CRPS over rolling-origin backtests, for the
    ``combine`` method (:mod:`jqforecast.models.ensemble`).

    Multi-series (Bayesian) members are backtested only with ``backtest_multi`` (a pooled
    MCMC fit per origin: the benchmark does it; the nightly run does not, as it would triple
    its time and the park's 3–5-point series give too few cases anyway); otherwise they get
    the explicit fallback share ``1 / (statistical members + 1)``. With fewer than 6 cases in
    all, the weights are the shipped reference weights (:func:`reference_weights`), and equal
    weights only if those are missing; ``info["method"]`` always says which. ``mapper``
    runs the backtests (:data:`Mapper`; the benchmark passes a process pool's).
    """
    single = [m for m in members if not m.multi_series]
    multi = [m for m in members if m.multi_series]
    weights, info = _learn_weights(
        series, single, multi, seed, horizon, backtest_multi, mapper, combine
    )
    if info.get("method", "").startswith("equal"):
        reference, ref_info = shipped_weights(members, combine)
        if reference:
            return reference, ref_info | {"cases": info.get("cases", 0)}
    return weights, info


def shipped_weights(
    members: Sequence[Model],
    combine: Combine = COMBINE,
    why: str = "too few own backtest cases",
) -> tuple[dict[str, float], dict]:
    """The shipped reference weights for ``members`` (:func:`reference_weights`) with an
    ``info`` dict as :func:`learn_weights` gives (``method`` saying where they come from and
    ``why``; the recalibration learned with them under ``"calibration"``); both empty when
    there are none. :func:`learn_weights` falls back to them; ``jqforecast benchmark
    --weights reference`` scores them on other data.
    """
    reference, ref = reference_weights(members)
    if not reference:
        return {}, {}
    calibration = ref.pop("calibration", {})
    where = (
        f"{ref['series']} {Path(ref['file']).name} series, last {ref['points_per_series']} points"
    )
    if ref["members"] == "statistical":
        where += "; learned for the statistical members alone"
    if calibration:
        calibration["source"] = f"reference ({where}): {calibration.get('source', '')}"
    learned_for = ref.get("combine", "mixture")
    if learned_for != combine:
        where += f"; learned for the {learned_for} combination, used for {combine}"
    method = f"reference: learned on real yearly series as short as these ({where}); {why}"
    return reference, {"method": method, "reference": ref, "calibration": calibration}


def reference_weights(members: Sequence[Model]) -> tuple[dict[str, float], dict]:
    """Weights learned on a reference set of short real yearly series (M3), for ``members``.

    Made by ``benchmarks/reference_weights.py`` and shipped as
    ``jqforecast/models/reference_weights.json`` (with the command, data hash and date).
    ``bayes_count`` takes ``bayes_growth``'s weight (M3 has no count series; both are the
    pooled Bayesian member); members not in the reference get 0. Without a multi-series
    (Bayesian) member among ``members`` the weights are the ones learned for the statistical
    members alone (the file's ``"statistical"`` section): with the Bayesian member taking most
    of the weight, the others' shares in the full set say little about how to combine them
    without it. Returns ``(weights, provenance)`` (with the quantile recalibration learned
    alongside, ``"calibration"``, and ``"members"``: which set), both empty if the file is
    absent or none of ``members`` is in it.

    >>> weights, provenance = reference_weights(resolve_models("statistical"))
    >>> provenance["members"], round(sum(weights.values()), 6)
    ('statistical', 1.0)
    """
    path = Path(__file__).parent / "models" / "reference_weights.json"
    if not path.exists():
        return {}, {}
    data = json.loads(path.read_text(encoding="utf-8"))
    which = "all"
    if not any(m.multi_series for m in members) and "statistical" in data:
        which = "statistical"
    chosen = data if which == "all" else data[which]
    known = chosen["weights"] | {"bayes_count": chosen["weights"].get("bayes_growth", 0.0)}
    weights = {m.name: float(known.get(m.name, 0.0)) for m in members}
    provenance = data["learned_on"] | {
        "calibration": chosen.get("calibration", {}),
        "members": which,
    }
    return (weights, provenance) if sum(weights.values()) > 0 else ({}, {})


def _learn_weights(
    series: list[SeriesData],
    single: list[Model],
    multi: list[Model],
    seed: int,
    horizon: int,
    backtest_multi: bool,
    mapper: Mapper = map,
    combine: Combine = COMBINE,
) -> tuple[dict[str, float], dict]:
    """:func:`learn_weights` from the series' own backtests (equal weights if too few)."""
    members = [*single, *multi]
    with_multi = backtest_multi and bool(multi)
    scored = members if with_multi else single
    cases = (
        backtest_cases(
            series, single, seed, horizon, multi=multi if with_multi else (), mapper=mapper
        )
        if scored
        else []
    )
    w, info = (
        fit_weights(cases, len(scored), combine=combine, seed=seed)
        if scored
        else (np.array([]), {})
    )
    if info.get("method", "").startswith("equal"):
        return {m.name: 1.0 for m in members}, info  # all equal, normalised per group
    if scored:  # (nothing backtested, nothing to calibrate with)
        scored_multi = multi if with_multi else ()
        calibration = learn_calibration(
            _recent_cases(series, single, seed, horizon, scored_multi, cases, mapper), w, combine
        )
        if not with_multi and multi:
            calibration = replace(
                calibration,
                source=calibration.source + "; statistical members only (the "
                "Bayesian share was not backtested)",
            )
        info["calibration"] = calibration.to_dict()
    if with_multi:
        info["bayes_share"] = "learned (pooled fits per backtest origin)"
        return {m.name: float(x) for m, x in zip(scored, w, strict=True)}, info
    share = 1.0 / (len(single) + 1) if multi else 0.0  # Bayesian members, as one block
    weights = {m.name: float(x) * (1.0 - share) for m, x in zip(single, w, strict=True)}
    weights |= {m.name: share for m in multi}
    info["bayes_share"] = f"{share:.3f} (fallback: not backtested)" if multi else "none"
    return weights, info


def _recent_cases(
    series: list[SeriesData],
    single: list[Model],
    seed: int,
    horizon: int,
    multi: Sequence[Model],
    cases: list[BacktestCase],
    mapper: Mapper = map,
) -> list[BacktestCase]:
    """Backtest cases from the most recent origins (:func:`_origins` with ``recent``), for
    the calibration; ``cases`` themselves when the weight backtests already used them (short
    series).

    Why not the weight backtests: for a horizon of h years those forecast from h + k − 1 years
    before the end, on shorter histories, and are worse than the real forecast. Measured on
    M3 yearly (full history, h = 6), a map learned from them said the 80 % intervals covered
    72–81 % and widened them; on the test years they had covered 85 % and the recalibrated
    ones 87 % (OWA 0.864 → 0.871, Brier 0.1349 → 0.1384). With 10-point histories, whose
    backtests already come from the last three origins, the map moved coverage to 82.0 / 95.0 %
    and improved OWA, MSIS and Brier.
    """
    min_points = max(m.min_points for m in [*single, *multi])

    def cuts(s: SeriesData, recent: bool) -> list[tuple[int, int]]:
        return [(k, len(t)) for k, t, _ in _origins(s, horizon, min_points, recent)]

    if all(cuts(s, False) == cuts(s, True) for s in series):
        return cases
    return backtest_cases(series, single, seed, horizon, multi=multi, recent=True, mapper=mapper)


def learn_calibration(
    cases: list[BacktestCase], weights: np.ndarray, combine: Combine = COMBINE
) -> PITCalibration:
    """Quantile recalibration of the weighted ensemble, from the PITs of its backtest cases
    (:class:`~jqforecast.models.calibration.PITCalibration`); one level map per step."""
    pits = np.array([ensemble_pit(c, weights, combine) for c in cases])
    steps = np.array([c.step for c in cases])
    return PITCalibration.fit(pits, steps, source=f"rolling-origin backtests ({len(cases)} cases)")


def forecast(
    data: pd.DataFrame,
    years: Sequence[int] = (2025, 2026),
    models: str | Sequence[str | Model] = "auto",
    draws: int = 4000,
    seed: int = 0,
    assumptions: dict | None = None,
    calibrate: bool = True,
    combine: Combine = COMBINE,
    jobs: int | None = None,
) -> Forecast:
    """Joint sample paths for every series in ``data`` over ``years``.

    Parameters
    ----------
    data : DataFrame
        The validated long table (:func:`jqforecast.load`).
    years : sequence of int
        Years to report. Paths cover every year from the earliest of these (or the year after
        the earliest last observation) to the latest.
    models : "auto", "statistical", "bayes", or names / model instances
        Ensemble members. "auto" = the six statistical models plus the Bayesian pooled
        growth model (levels, ratios) and count model (counts). Members that need more points
        than a series has are skipped (``meta["skipped"]`` says why).
    draws : int
        Number of joint draws.
    seed : int
        The one seed every random draw flows from.
    assumptions : dict, optional
        Derivation assumptions (``jqforecast.data.derive.load_assumptions()``) giving the
        log-scale sd of each shared assumption named in the ``assumption`` column. By default
        the bundled registry is used for the ids it knows.
    calibrate : bool
        Recalibrate the ensemble's quantiles with the level map learned from the same
        rolling-origin backtests as the weights (or shipped with the reference weights):
        :class:`~jqforecast.models.calibration.PITCalibration`. Ranks of draws are kept, so
        joint quantities stay joint. ``meta["calibration"]`` says what was applied.
    combine : "mixture" or "quantile"
        How members' paths are combined (:mod:`jqforecast.models.ensemble`): a mixture
        (each draw from one member) or the weighted average of the members' quantiles,
        taken on the unconstrained scale and re-joined with the mixture's ranks. The weights
        are learned for the method chosen.
    jobs : int, optional
        Processes for the Bayesian members' group fits (default: one per core, at most one
        per fit); ``1`` fits the groups one after another in this process. Results do not
        depend on it (:func:`fit_groups`).

    Returns
    -------
    Forecast
        Series of one metric (e.g. revenue of the three industries) form a group: each joint
        draw uses the same ensemble member for all of them, and the Bayesian member pools them,
        so their paths keep the correlation the pooled model implies.

    Examples
    --------
    >>> import jqforecast
    >>> fc = jqforecast.forecast(jqforecast.load_default(), draws=500, seed=1)  # doctest: +SKIP
    """
    if assumptions is None:
        from jqforecast.data.derive import load_assumptions

        try:
            assumptions = load_assumptions()
        except FileNotFoundError:
            assumptions = {}
    if combine not in COMBINE_METHODS:
        raise ValueError(f"combine must be one of {COMBINE_METHODS}, got {combine!r}")
    data = coerce_dtypes(data)
    sds = _assumption_sds(data, assumptions)
    series = prepare(data, sds)
    members = resolve_models(models, seed)
    first = min(min(years), min(s.last_year for s in series) + 1)
    grid = list(range(first, max(years) + 1))

    weight_map, weight_info = learn_weights(series, members, seed, combine=combine)
    learned = weight_info.pop("calibration", None)
    calibration = PITCalibration.from_dict(learned if calibrate else None)
    z_paths = np.empty((draws, len(series), len(grid)))
    z_mixture = np.empty_like(z_paths) if combine == "quantile" else None
    labels = np.full((draws, len(series)), "observed", dtype=object)
    used: dict[str, dict[str, float]] = {}
    skipped: dict[str, dict[str, str]] = {}
    diagnostics: dict[str, dict] = {}
    position = {s.id: j for j, s in enumerate(series)}
    groups = {m: [s for s in series if s.metric == m] for m in sorted({s.metric for s in series})}
    prefit = fit_groups(list(groups.values()), members, weight_map, grid, seed, jobs)
    for group in groups.values():
        g = simulate_group(group, members, weight_map, grid, draws, seed, combine, prefit=prefit)
        used |= g.used
        skipped |= g.skipped
        diagnostics |= g.diagnostics
        for k, s in enumerate(group):
            ahead = [y - s.last_year for y in grid]
            z_paths[:, position[s.id], :] = calibration.apply(g.paths[:, k, :], ahead)
            labels[:, position[s.id]] = g.members
            if z_mixture is not None:  # the members' own draws, as simulated (not recalibrated)
                own = g.paths if g.mixture is None else g.mixture
                z_mixture[:, position[s.id], :] = own[:, k, :]

    raised = _keep_cumulative(z_paths, series, grid)
    if z_mixture is not None:
        _keep_cumulative(z_mixture, series, grid)

    # Shared derivation uncertainty: one standard-normal factor per assumption and draw, the
    # same for every series that depends on that assumption (and for the members' own draws).
    factors = {a: _rng(seed, "assumption", a).standard_normal(draws) for a in sorted(sds)}
    shift = np.stack(
        [sum((sds[a] * factors[a] for a in s.assumptions), np.zeros(draws)) for s in series],
        axis=1,
    )
    paths = _data_scale(z_paths, series, shift, grid)
    mixture = None if z_mixture is None else _data_scale(z_mixture, series, shift, grid)
    meta = {
        "seed": seed,
        "draws": draws,
        "years": sorted(int(y) for y in years),
        "models": [m.name for m in members],
        "weights": weight_map,
        "weights_info": weight_info,
        "combine": combine,
        "calibration": calibration.to_dict(),
        "members_used": used,
        "skipped": skipped,
        "diagnostics": diagnostics,
        "assumption_sd": sds,
        "last_observed": {s.id: s.last_year for s in series},
        "cumulative_raised": raised,
        "units": {s.id: METRICS[s.metric].unit for s in series},
        "uncertainty_included": [
            "process noise (each model's error distribution)",
            "parameter uncertainty (posterior draws; priors in random walk with drift and Theta;"
            " dof-corrected scale for the state-space models)",
            "model uncertainty (ensemble mixture)"
            if combine == "mixture"
            else "model uncertainty (members' quantiles averaged: as wide as the members on "
            "average; their disagreement moves the centre and does not widen it)",
            "measurement error of estimated/derived points (Bayesian members)",
            "derivation uncertainty shared by derived series (one factor per assumption)",
        ],
        "uncertainty_not_included": [
            "correlation between metrics beyond shared assumptions",
        ],
    }
    members = xr.DataArray(
        labels.astype(str),
        dims=("draw", "series"),
        coords={"draw": paths.coords["draw"], "series": paths.coords["series"]},
        name="members",
    )
    return Forecast(paths=paths, history=data, meta=meta, members=members, mixture=mixture)


def _keep_cumulative(z: np.ndarray, series: list[SeriesData], grid: list[int]) -> dict:
    """Cumulative stocks (:attr:`Metric.cumulative <jqforecast.data.metrics.Metric>`) never
    fall: each path ahead of the last observation is raised, in place, to the running
    maximum of that observation and its own earlier years.

    Done on the unconstrained scale (monotone in the value), before the shared derivation
    shift, so under every draw's assumption values the floor is the last observation as
    that draw derives it. The members model a stock as any count; this projection is what
    the data type adds. Returns, per cumulative series, the share of its draws raised in
    any year (``meta["cumulative_raised"]``).

    Examples
    --------
    >>> from jqforecast.models.transforms import Transform
    >>> from jqforecast.data.metrics import Kind
    >>> s = SeriesData("smart_factories/park_total", "smart_factories", "park_total",
    ...                Transform(Kind.COUNT), pd.Series([1.0, 2.0], index=[2022, 2023]),
    ...                pd.Series([0.0, 0.0], index=[2022, 2023]), ())
    >>> z = np.array([[[1.5, 3.0, 2.5]], [[2.5, 2.6, 2.7]]])  # 2 draws, 1 series, 2024-26
    >>> _keep_cumulative(z, [s], [2024, 2025, 2026])
    {'smart_factories/park_total': 0.5}
    >>> z[0, 0].tolist()  # below the last value (2.0) in 2024, a fall in 2026: both raised
    [2.0, 3.0, 3.0]
    """
    raised = {}
    years = np.asarray(grid)
    for j, s in enumerate(series):
        if not METRICS[s.metric].cumulative:
            continue
        ahead = years > s.last_year
        block = z[:, j, ahead]
        kept = np.maximum.accumulate(np.maximum(block, s.history.iloc[-1]), axis=1)
        raised[s.id] = float(np.mean((kept > block).any(axis=1)))
        z[:, j, ahead] = kept
    return raised


def _data_scale(
    z: np.ndarray, series: list[SeriesData], shift: np.ndarray, grid: list[int]
) -> xr.DataArray:
    """Paths ``z`` (draws, series, grid) moved by the shared derivation ``shift`` (draws,
    series) on the unconstrained scale, back on the data scale and labelled."""
    draws = z.shape[0]
    values = np.empty_like(z)
    for j, s in enumerate(series):
        values[:, j, :] = s.transform.inverse(z[:, j, :] + shift[:, j, None])
    return xr.DataArray(
        values,
        dims=("draw", "series", "year"),
        coords={"draw": np.arange(draws), "series": [s.id for s in series], "year": grid},
        name="paths",
    )


def _candidates(
    group: list[SeriesData],
    members: list[Model],
    weight_map: dict[str, float],
    grid: list[int],
    used: dict,
    skipped: dict,
) -> list[Model]:
    """The members that will forecast ``group``: applicable, enough points, non-zero weight.

    Records why the others are skipped; empty when every series is observed to the last year.
    Raises :class:`~jqforecast.models.base.TooShortError` when the group needs a forecast
    and no member can make one (e.g. only ``ets`` asked for and a series of five points).
    """
    for s in group:
        skipped[s.id] = {}
        used[s.id] = {}
    n_min = min(s.n_obs for s in group)
    candidates = []
    for m in members:
        if not all(applies(m, s) for s in group):
            continue
        if n_min < m.min_points:
            for s in group:
                skipped[s.id][m.name] = f"needs {m.min_points} points, group has {n_min}"
            continue
        candidates.append(m)
    if all(s.last_year >= max(grid) for s in group):
        return []
    if not candidates:
        raise TooShortError(
            f"no model can forecast {[s.id for s in group]}: "
            + "; ".join(sorted({f"{m} {why}" for s in group for m, why in skipped[s.id].items()}))
        )
    total = sum(weight_map.get(m.name, 0.0) for m in candidates)
    return [m for m in candidates if total == 0 or weight_map.get(m.name, 0.0) > 0]


def _group_frames(group: list[SeriesData]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The group's histories and measurement sds as years × series frames (NaN gaps)."""
    start = min(int(s.history.index[0]) for s in group)
    years = range(start, max(s.last_year for s in group) + 1)
    frame = pd.DataFrame({s.id: s.history.reindex(years) for s in group})
    noise = pd.DataFrame({s.id: s.noise.reindex(years) for s in group})
    return frame, noise


def _fit_multi_series(
    group: list[SeriesData],
    candidates: list[Model],
    seed: int,
    diagnostics: dict,
    skipped: dict,
    prefit: dict | None = None,
) -> dict[str, Model]:
    """The group's fitted multi-series members (one MCMC run each), keyed by member name:
    taken from ``prefit`` (:func:`fit_groups`) when it holds them, else fitted here.

    A failed fit marks the member as skipped for the group (the statistical members still
    forecast it). The park's metric groups are not sampled as one joint model: measured on
    the bundled data that was no faster (23.5 s vs 22.3 s) because NUTS's step size then
    adapts to the hardest group, and revenue's ESS fell below the threshold (61).
    """
    fitted = {}
    for m in candidates:
        if not m.multi_series:
            continue
        key = (group[0].metric, m.name)
        if prefit is None or key not in prefit:
            outcome = _fit_member((m.clone().set_params(seed=seed), _group_frames(group)))
        else:
            outcome = prefit[key]
        model, caught = outcome
        for w in caught:  # raised where the fit ran (maybe another process): raise here
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if isinstance(model, Exception):
            for s in group:
                skipped[s.id][m.name] = f"fit failed: {model}"
            continue
        diagnostics[f"{m.name}:{group[0].metric}"] = model.diagnostics_
        fitted[m.name] = model
    return fitted


def _fit_member(job: tuple[MultiSeriesModel, tuple]) -> tuple[MultiSeriesModel | Exception, list]:
    """Fit one multi-series member on one group's frames (:func:`_fit_with_retry`): the
    fitted model, or the error that stopped it, and the warnings raised on the way."""
    model, frames = job
    with warnings.catch_warnings(record=True) as caught:
        try:
            fitted: MultiSeriesModel | Exception = _fit_with_retry(model, frames)
        except (ValueError, np.linalg.LinAlgError, RuntimeError) as err:
            fitted = err
    return fitted, list(caught)


def fit_groups(
    groups: list[list[SeriesData]],
    members: list[Model],
    weight_map: dict[str, float],
    grid: list[int],
    seed: int,
    jobs: int | None = None,
) -> dict[tuple[str, str], tuple]:
    """Fit every group's multi-series (Bayesian) members at once, the fits spread over
    ``jobs`` processes: ``(metric, member) → (fitted model or error, warnings)`` for
    :func:`simulate_group`'s ``prefit``.

    Why: fitted one after another, each of the bundled data's four group fits compiles its
    model on one core (~1.6 s) and then samples two chains in two processes; spread over two
    processes with the chains of a fit one after another, one fit compiles while the other
    samples and no chain processes are started. Same draws either way (each chain has its
    own seed; test ``test_group_fits_in_processes_give_the_same_forecast``). The largest
    groups are submitted first. Workers are forked (they inherit the imported PyMC; a
    spawned worker would spend ~4 s importing it), so on systems without ``fork``, with
    ``jobs=1``, in a daemon process or for a single fit the groups are fitted here, their
    chains in parallel as before.
    """
    work = []
    for group in groups:
        multi = [m for m in _candidates(group, members, weight_map, grid, {}, {}) if m.multi_series]
        frames = _group_frames(group) if multi else None
        for m in multi:
            work.append(((group[0].metric, m.name), m.clone().set_params(seed=seed), frames))
    work.sort(key=lambda job: -job[2][0].size)  # largest first: the pool then balances
    with _fit_pool(len(work), jobs) as (mapper, cap):
        if cap is not None:  # each fit may start at most ``cap`` chain processes
            for _, m, _ in work:
                m.set_params(cores=min(m.cores, cap))
        results = list(mapper(_fit_member, [(m, f) for _, m, f in work]))
    return {key: result for (key, _, _), result in zip(work, results, strict=True)}


@contextmanager
def _fit_pool(fits: int, jobs: int | None) -> Iterator[tuple[Mapper, int | None]]:
    """A ``map`` for ``fits`` group fits and the most chain processes each fit may start
    (``None``: as many as the model's own ``cores`` asks for)."""
    cpus = os.cpu_count() or 1
    if multiprocessing.current_process().daemon:  # (a pool's worker may start no processes)
        yield map, 1
        return
    workers = min(fits, jobs or cpus)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield map, None
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=one_blas_thread) as pool:
        yield pool.map, max(1, cpus // workers)


def one_blas_thread() -> None:
    """Worker initializer: one BLAS thread per process. OpenBLAS otherwise starts a thread
    per core in every worker, and its busy-waiting threads fight over the cores: measured
    on 2 cores, backtesting the statsmodels members on 30 M3 series took 14.3 s in one
    process, 29.8 s in two workers, 6.6 s in two single-threaded workers. (Dask's workers
    get the same limit from its default ``OPENBLAS_NUM_THREADS=1``.)"""
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)


def _fit_with_retry(model: MultiSeriesModel, frames: tuple) -> MultiSeriesModel:
    """Fit ``model``; if its MCMC diagnostics are poor, fit once more with
    :meth:`~jqforecast.models.bayes.MultiSeriesModel.stricter` settings and keep that.

    Measured on the bundled data over 22 seeds at the default settings: 2 of 88 group fits
    had one divergence (seed 19: PCT filings and R&D intensity), which alone makes
    ``jqforecast run`` exit 2. The second attempt costs time only then; its diagnostics
    carry the first attempt's under ``"first_attempt"``, and a warning is raised only when
    it too is poor (the first attempt's warning is held back).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "[^:]*: poor convergence", RuntimeWarning)
        (first,) = fit_jointly([(model, *frames)])
    if first.diagnostics_["ok"]:
        return first
    (second,) = fit_jointly([(first.stricter(), *frames)])
    second.diagnostics_["first_attempt"] = dict(first.diagnostics_)
    return second


@dataclass
class GroupPaths:
    """One group's ensemble paths and how they were made."""

    paths: np.ndarray  # (draws, series, grid) on the unconstrained scale
    members: np.ndarray  # (draws,) the member behind each draw ("observed": no forecast)
    used: dict[str, dict[str, float]]  # series → member → share of draws
    skipped: dict[str, dict[str, str]]  # series → member → why
    diagnostics: dict[str, dict]  # "member:metric" → MCMC diagnostics
    mixture: np.ndarray | None = None  # quantile averaging: the labelled draws it re-ranked


def simulate_group(
    group: list[SeriesData],
    members: list[Model],
    weight_map: dict[str, float],
    grid: list[int],
    draws: int,
    seed: int,
    combine: Combine = COMBINE,
    extra: dict[str, np.ndarray] | None = None,
    prefit: dict | None = None,
) -> GroupPaths:
    """Ensemble paths of one group (series of one metric) over ``grid``.

    Picks the members that apply and have enough points and weight, fits the multi-series
    (Bayesian) ones on the whole group, and mixes the members' paths draw by draw with
    ``weight_map`` (one member per draw for the whole group, so joint draws stay joint);
    with ``combine="quantile"`` each margin of that mixture is then replaced, rank for
    rank, by the weighted average of the members' quantiles
    (:func:`~jqforecast.models.ensemble.vincentise`). Used by :func:`forecast` for every
    group and by the benchmark for single series. ``extra`` adds members simulated
    elsewhere (name → paths (draws, series, grid), weighted by ``weight_map``; the benchmark's
    Bayesian member, fitted to many series at once). ``prefit`` holds multi-series members
    already fitted (:func:`fit_groups`); the others are fitted here.
    """
    used: dict = {}
    skipped: dict = {}
    diagnostics: dict = {}
    candidates = _candidates(group, members, weight_map, grid, used, skipped)
    fitted = _fit_multi_series(group, candidates, seed, diagnostics, skipped, prefit)
    paths, labels, mixture = _group_paths(
        group, candidates, weight_map, grid, draws, seed, used, skipped, fitted, combine, extra
    )
    return GroupPaths(paths, labels, used, skipped, diagnostics, mixture)


def _group_paths(
    group: list[SeriesData],
    candidates: list[Model],
    weight_map: dict[str, float],
    grid: list[int],
    draws: int,
    seed: int,
    used: dict,
    skipped: dict,
    fitted: dict[str, Model],
    combine: Combine = COMBINE,
    extra: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Paths (draws, series, grid) of one group on the unconstrained scale, per draw the
    member that simulated them (``"observed"`` when the group needs no forecast) and, for
    quantile averaging, the labelled mixture it re-ranked (else ``None``).

    Every draw index is assigned one member for the whole group, so a joint model's draw
    stays joint across the group's series. Observed years hold the (interpolated) data.
    ``fitted`` holds the multi-series members already fitted (:func:`_fit_multi_series`).
    With ``combine="quantile"`` every member simulates all ``draws`` (its whole marginal
    distribution enters the quantile average) and the label is the member whose draw gave
    the combined draw its ranks.
    """
    out = np.empty((draws, len(group), len(grid)))
    for k, s in enumerate(group):
        filled = s.history.interpolate(method="index")
        for i, year in enumerate(grid):
            if year <= s.last_year:
                out[:, k, i] = filled.get(year, np.nan)
    if not candidates:
        return out, np.full(draws, "observed", dtype=object), None

    sims: dict[str, np.ndarray] = {}  # member → (draws_m, series, grid) filled after last obs
    weights = {m.name: weight_map.get(m.name, 0.0) for m in candidates}
    weights |= {name: weight_map.get(name, 0.0) for name in extra or {}}
    total = sum(weights.values())
    for m in candidates:
        share = weights[m.name] / total if total else 1.0
        count = draws if combine == "quantile" else max(int(np.ceil(draws * share)), 1)
        if m.multi_series:
            m = fitted.get(m.name)
            if m is None:  # the joint fit failed; already recorded in ``skipped``
                continue
        try:
            sims[m.name] = _member_group_paths(m, group, grid, count, seed)
        except (ValueError, np.linalg.LinAlgError, RuntimeError) as err:
            for s in group:
                skipped[s.id][m.name] = f"fit failed: {err}"
    sims |= extra or {}
    if not sims:
        raise RuntimeError(f"every model failed for {[s.id for s in group]}: {skipped}")
    mixed, labels, w, mixture = combine_members(
        sims, weights, draws, seed, tuple(s.id for s in group), combine
    )
    before = None if mixture is None else out.copy()
    for k, s in enumerate(group):
        future = [i for i, y in enumerate(grid) if y > s.last_year]
        out[:, k, future] = mixed[:, k, future]
        if before is not None:
            before[:, k, future] = mixture[:, k, future]
        used[s.id] = {name: float(x) for name, x in zip(sims, w, strict=True)}
    return out, labels, before


def combine_members(
    sims: dict[str, np.ndarray],
    weights: dict[str, float],
    draws: int,
    seed: int,
    key: tuple,
    combine: Combine = COMBINE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Combine members' paths ``sims`` (member → (draws_m, …)) into ``draws`` joint draws.

    Each draw index is assigned one member, in proportion to ``weights`` and in an order
    drawn from the stream ``key`` (a member with fewer paths than its share, because another
    member failed, is resampled). With ``combine="quantile"`` that mixture's margins are then
    replaced rank for rank by the members' weighted quantile average
    (:func:`~jqforecast.models.ensemble.vincentise`; every member must then have ``draws``
    paths). Returns the paths, each draw's member label, the normalised weights and, for
    quantile averaging, the labelled mixture it re-ranked (else ``None``).
    """
    names = list(sims)
    w = np.array([weights[n] for n in names], dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(names), 1.0 / len(names))
    assignment = np.repeat(np.arange(len(names)), allocate_draws(w, draws))
    assignment = assignment[_rng(seed, *key, "assign").permutation(draws)]
    mixed = np.empty((draws, *sims[names[0]].shape[1:]))
    for idx, name in enumerate(names):
        rows = np.flatnonzero(assignment == idx)
        member = sims[name]
        if len(member) < len(rows):  # another member failed and this one takes its share
            extra = _rng(seed, name, "refill").integers(0, len(member), len(rows) - len(member))
            member = np.concatenate([member, member[extra]])
        mixed[rows] = member[: len(rows)]
    labels = np.array(names, dtype=object)[assignment]
    if combine == "quantile" and len(names) > 1:
        averaged = vincentise(mixed, np.stack([sims[n][:draws] for n in names]), w)
        return averaged, labels, w, mixed
    return mixed, labels, w, None


def _member_group_paths(
    model: Model,
    group: list[SeriesData],
    grid: list[int],
    draws: int,
    seed: int,
    key: tuple | None = None,
) -> np.ndarray:
    """One member's paths (draws, series, grid) for a group; valid after each last year.

    A multi-series member arrives fitted (jointly with the other groups) and simulates from
    the random stream ``key`` (default: the group's metric and the member's name); single-series
    members are fitted here, series by series.
    """
    out = np.full((draws, len(group), len(grid)), np.nan)
    if model.multi_series:
        years = model.years_
        end = years[-1]
        horizon = max(grid) - end
        stream = _rng(seed, *(key or (group[0].metric, model.name)))
        paths = model.simulate(max(horizon, 0), draws, stream)
        all_years = list(years) + list(range(end + 1, end + 1 + max(horizon, 0)))
        paths = paths[:, :, [all_years.index(y) for y in grid]]
        for k, s in enumerate(group):
            last = float(s.history.dropna().iloc[-1])
            ahead = np.maximum(np.array(grid) - s.last_year, 0)
            paths[:, k, :] = _envelope(paths[:, k, :], last, ahead)
        return paths
    for k, s in enumerate(group):
        horizon = max(grid) - s.last_year
        if horizon <= 0:
            continue
        p = _member_paths(
            model, s.history, s.transform, horizon, draws, _rng(seed, s.id, model.name)
        )
        for i, y in enumerate(grid):
            if y > s.last_year:
                out[:, k, i] = p[:, y - s.last_year - 1]
    return out
