"""Rolling-origin backtests of the members on the series' own histories: the cases the
ensemble weights and the recalibration are learned from."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np
import pandas as pd

from jqforecast.engine.parallel import MULTI_CHUNK, Mapper, map_chunked, near_equal_chunks
from jqforecast.engine.series import SeriesData, envelope, member_paths, stream
from jqforecast.models.base import Model
from jqforecast.models.bayes import fit_jointly
from jqforecast.models.ensemble import BacktestCase
from jqforecast.models.transforms import Transform

log = logging.getLogger(__name__)

BACKTEST_ORIGINS = 3  # last k origins per series
BACKTEST_HORIZON = 2  # the plan's horizon: 2025 and 2026
BACKTEST_DRAWS = 400


def backtest_origins(
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
    origins = {s.id: backtest_origins(s, horizon, min_points, recent) for s in series}
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
    paths = fitted.simulate(steps, BACKTEST_DRAWS, stream(seed, m.name, k, c))
    years = fitted.years_ + list(range(end + 1, end + 1 + steps))
    out = {}
    for j, s in enumerate(chunk):
        train = trains[s.id].dropna()
        last = int(train.index[-1])
        cols = [years.index(last + h) for h in range(1, horizon + 1)]
        steps = np.arange(1, horizon + 1)
        out[s.id] = envelope(paths[:, j, cols], float(train.iloc[-1]), steps, s.transform.kind)
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
    for k, train, future in backtest_origins(s, horizon, min_points, recent):
        steps = [int(y - train.index[-1]) for y in future.index]
        try:
            sims = [
                member_paths(
                    m, train, s.transform, max(steps), BACKTEST_DRAWS, stream(seed, s.id, m.name, k)
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
    origins of :func:`backtest_origins` closest to the end (for calibration). ``mapper`` runs the
    series' backtests and the pooled fits (:data:`Mapper`). Each case is scored relative to
    ``scale(transform, training values)`` (default :func:`case_scale`).
    """
    scale = scale or case_scale
    min_points = max(m.min_points for m in [*members, *multi])
    pooled = (
        _multi_backtest_paths(series, list(multi), seed, horizon, min_points, recent, mapper)
        if multi
        else {}
    )
    per_series = map_chunked(
        mapper,
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


def case_scale(transform: Transform, train: np.ndarray) -> float:
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
    >>> from jqforecast.data.metrics import Kind
    >>> round(case_scale(Transform(Kind.LEVEL), np.log([2.0, 4.0, 5.0])), 9)  # changes 2, 1
    1.5
    >>> case_scale(Transform(Kind.REAL), np.array([3.0, -1.0, 0.0]))
    2.5
    >>> case_scale(Transform(Kind.LEVEL), np.log([4.0]))  # one point: its size
    4.0
    """
    values = transform.inverse(np.asarray(train, dtype=float))
    change = float(np.mean(np.abs(np.diff(values)))) if len(values) > 1 else 0.0
    return change or float(abs(values[-1])) or 1.0
