"""Benchmark harness: jqforecast vs standard baselines on any long-format yearly data set.

Input: ``TRAIN.csv`` with ``unique_id, t, y`` and ``TEST.csv`` with ``unique_id, h, y`` (the
M3/M4 layout). Every model forecasts every series; metrics follow the M4 definitions
(:mod:`jqforecast.backtest.metrics`). The weight backtests (per series, and the pooled
Bayesian fits per origin) and the forecasting of every model, baselines included, in chunks
of series, run in parallel processes (``backend="local"``) or on a Dask cluster
(``backend="dask"``) through the same ``map``. Each chunk comes back as summaries (quantiles,
CRPS, event probabilities), never as draws, so the coordinating process's memory does not
grow with the number of series (M4 Yearly's 23 000 or more).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jqforecast._io import write_csv, write_json
from jqforecast.backtest import metrics as M
from jqforecast.backtest.data import read_pair, series_kind
from jqforecast.backtest.scores import crps_sample
from jqforecast.data.metrics import Kind
from jqforecast.engine import (
    MULTI_CHUNK,
    Mapper,
    SeriesData,
    learn_weights,
    near_equal_chunks,
    one_blas_thread,
    resolve_models,
    shipped_weights,
    simulate_group,
)
from jqforecast.engine.fitting import fit_with_retry, group_frames
from jqforecast.engine.simulate import member_group_paths
from jqforecast.models.base import TooShortError
from jqforecast.models.bayes import HierarchicalGrowth
from jqforecast.models.calibration import PITCalibration
from jqforecast.models.ensemble import COMBINE, Combine
from jqforecast.models.statistical import OPTIONAL_MODELS, STATISTICAL_MODELS
from jqforecast.models.transforms import Transform

BASELINES = ("Naive", "Naive2", "RWD", "AutoETS", "AutoTheta", "AutoARIMA")
JQ_MEMBERS = tuple(cls.name for cls in STATISTICAL_MODELS)  # the statistical ensemble
KNOWN_MEMBERS = JQ_MEMBERS + tuple(cls.name for cls in OPTIONAL_MODELS)  # may be asked for
BAYES = "bayes_growth"
WEIGHTS_FROM = ("learned", "reference")  # where run_benchmark's ensemble weights come from
UNCALIBRATED = "jqforecast_uncalibrated"  # the ensemble before quantile recalibration
# The pooled Bayesian member is fitted to chunks of BAYES_CHUNK series at once (one PyMC
# model, growth and volatility pooled across the chunk), on each series' last BAYES_POINTS
# values aligned at their ends: 645 separate MCMC runs would take hours. The same size as
# the pools of the member's weight backtests.
BAYES_CHUNK = MULTI_CHUNK
BAYES_POINTS = 15
LEVELS = (80, 95)
INTERVAL_COLUMNS = ("lo-80", "hi-80", "lo-95", "hi-95")
# A worker holds a task's draws (series × draws × horizon per model) until it has reduced
# them (jq_forecasts): ≤ 100 series keep that near 150 MB at 4 000 draws, whatever the data.
TASK_SERIES = 100


@dataclass
class Task:
    """A chunk of series for one worker."""

    ids: list[str]
    histories: list[np.ndarray]
    horizon: int
    models: list[str]
    weights: dict[str, float]
    draws: int
    seed: int
    bayes: bool = False  # fit the pooled Bayesian member (and mix it into "jqforecast")
    members: tuple[str, ...] = JQ_MEMBERS  # the statistical members of "jqforecast"
    combine: Combine = COMBINE  # how "jqforecast" combines its members
    # For scoring in the worker (never seen by a model): the test values, the step the
    # events are about, and the ensemble's recalibration learned with its weights.
    outcomes: list[np.ndarray] = field(default_factory=list)
    event_h: int = M.EVENT_H
    calibration: PITCalibration = field(default_factory=PITCalibration)


def _series_data(uid: str, y: np.ndarray, kind: Kind | None = None) -> SeriesData:
    """A benchmark series as the engine's members take it (``kind``: :func:`series_kind`)."""
    transform = Transform(kind or series_kind(y))
    years = np.arange(1 - len(y), 1)  # every series ends at "year" 0: origins line up
    return SeriesData(
        id=str(uid),
        metric="benchmark",
        industry=str(uid),
        transform=transform,
        history=pd.Series(transform.forward(y), index=years),
        noise=pd.Series(np.zeros(len(y)), index=years),
        assumptions=(),
    )


def bayes_samples(
    ids: Sequence[str],
    histories: Sequence[np.ndarray],
    horizon: int,
    draws: int,
    seed: int,
    chunk: int = BAYES_CHUNK,
    settings: dict | None = None,
) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Pooled Bayesian growth paths (draws, horizon) per series on the model (log) scale,
    and each chunk's MCMC diagnostics.

    Series are fitted in near-equal chunks of at most ``chunk`` (one
    :class:`HierarchicalGrowth` each, one chain process at a time inside a benchmark
    worker), on their last :data:`BAYES_POINTS` values aligned at the forecast origin, and
    refitted once with stricter settings when the diagnostics are poor, as
    :func:`~jqforecast.forecast` does; each chunk's paths come from a random stream named
    after its first series. ``settings`` are further :class:`HierarchicalGrowth` parameters
    (``benchmarks/pool_partition.py`` tries priors and damping with them).
    """
    out, diagnostics = {}, []
    for part in near_equal_chunks(np.arange(len(ids)), chunk):
        group = [_series_data(ids[i], histories[i], Kind.LEVEL) for i in part]
        frames = group_frames(group)  # log scale, every series ending at year 0
        # as forecast() fits a group: once more with stricter settings if diagnostics are poor
        model = fit_with_retry(
            HierarchicalGrowth(seed=seed, cores=1, max_points=BAYES_POINTS, **(settings or {})),
            frames,
        )
        grid = list(range(1, horizon + 1))
        paths = member_group_paths(model, group, grid, draws, seed, key=("bayes", group[0].id))
        out.update({s.id: paths[:, k, :] for k, s in enumerate(group)})
        diagnostics.append(model.diagnostics_)
    return out, diagnostics


FALLBACK = "rw_drift"  # what a member's row shows for a series it cannot forecast


def jq_samples(
    task: Task,
) -> tuple[dict[str, np.ndarray], dict[str, float], list[dict], dict[str, int]]:
    """Samples (series, draws, horizon) per jqforecast model for a chunk, fit times, the
    Bayesian chunks' diagnostics and, per model, how many series fell back to
    :data:`FALLBACK`.

    ``"jqforecast"`` combines the statistical members' paths and, when the Bayesian member
    is on, its paths with the learned weights, as :func:`forecast` does; members that cannot
    forecast a series (too few points, or a failed fit) are left out of its mixture there,
    as in :func:`forecast`. A single member's row shows :data:`FALLBACK`'s paths for such a
    series (the M4 convention of a simple fallback, counted in ``metrics.json``), and
    ``bayes_growth``'s for series with a value ≤ 0, which it does not model.
    """
    warnings.simplefilter("ignore")
    wanted = {*task.members, *(m for m in task.models if m in KNOWN_MEMBERS), FALLBACK}
    members = {m.name: m for m in resolve_models(sorted(wanted), task.seed)}
    out: dict[str, list] = {name: [] for name in task.models}
    seconds = dict.fromkeys(task.models, 0.0)
    fallbacks = dict.fromkeys(task.models, 0)
    series = [_series_data(uid, y) for uid, y in zip(task.ids, task.histories, strict=True)]
    bayes: dict[str, np.ndarray] = {}
    diagnostics: list[dict] = []
    positive = [k for k, s in enumerate(series) if s.transform.kind is Kind.LEVEL]
    if task.bayes and positive:
        t0 = time.perf_counter()
        bayes, diagnostics = bayes_samples(
            [task.ids[k] for k in positive],
            [task.histories[k] for k in positive],
            task.horizon,
            task.draws,
            task.seed,
        )
        seconds[BAYES] = time.perf_counter() - t0
    grid = list(range(1, task.horizon + 1))

    def paths(s: SeriesData, chosen: list, weights: dict, extra=None) -> np.ndarray:
        z = simulate_group([s], chosen, weights, grid, task.draws, task.seed, task.combine, extra)
        return z.paths[:, 0, :]

    for s in series:
        for name in task.models:
            t0 = time.perf_counter()
            try:
                if name == BAYES:
                    z = bayes.get(s.id)  # None for a series with a value ≤ 0
                elif name == "jqforecast":
                    extra = {BAYES: bayes[s.id][:, None, :]} if s.id in bayes else None
                    z = paths(s, [members[m] for m in task.members], task.weights, extra)
                else:
                    z = paths(s, [members[name]], {name: 1.0})
            except (TooShortError, RuntimeError):  # too short, or every fit failed
                z = None
            if z is None:
                z = paths(s, [members[FALLBACK]], {FALLBACK: 1.0})
                fallbacks[name] += 1
            out[name].append(s.transform.inverse(z))
            seconds[name] += time.perf_counter() - t0
    return {k: np.stack(v) for k, v in out.items()}, seconds, diagnostics, fallbacks


def jq_forecasts(
    task: Task,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float], list[dict], dict[str, int]]:
    """:func:`jq_samples` for a chunk, reduced in the worker to what :func:`score` needs
    (:func:`summarise`), so that no process ever holds every series' draws: on M4 Yearly's
    23 000 series the draws of one model alone would take 4.4 GB (4 000 draws × 6 years).

    The ensemble's recalibration (``task.calibration``) is applied here, as
    :func:`~jqforecast.forecast` applies it; the raw mixture is kept as
    :data:`UNCALIBRATED`, so the effect of recalibration is measured, not assumed.
    Returns summaries per model, times (``jqforecast``'s including its recalibration; up to
    session 14 that was left out, ~0.6 s of 2 workers' time on M3), Bayesian diagnostics and
    fallback counts.
    """
    samples, seconds, diagnostics, fallbacks = jq_samples(task)
    if "jqforecast" in samples and not task.calibration.is_identity:
        t0 = time.perf_counter()
        raw = samples["jqforecast"]
        samples[UNCALIBRATED] = raw
        seconds[UNCALIBRATED] = seconds["jqforecast"]
        moved = task.calibration.apply(np.moveaxis(raw, 1, 0), range(1, task.horizon + 1))
        samples["jqforecast"] = np.moveaxis(moved, 0, 1)
        seconds["jqforecast"] += time.perf_counter() - t0  # part of the forecast, timed too
    outcomes = np.stack(task.outcomes)
    last = np.array([h[-1] for h in task.histories])
    summaries = {m: summarise(s, outcomes, last, task.event_h) for m, s in samples.items()}
    return summaries, seconds, diagnostics, fallbacks


def summarise(
    samples: np.ndarray,
    outcomes: np.ndarray,
    last: np.ndarray,
    event_h: int = M.EVENT_H,
) -> dict[str, np.ndarray]:
    """Per-series summaries of sample paths ``(series, draws, horizon)``: the point forecast
    (``"mean"``, the sample median), the 80 % and 95 % bounds, each series' CRPS per step
    against ``outcomes (series, horizon)`` (``"crps"``, on the data scale) and the event
    probabilities about step ``event_h`` given the last observed values (``"p_ge_m10"`` …).

    Examples
    --------
    >>> s = np.arange(1.0, 6.0)[None, :, None]  # one series, draws 1..5, one step
    >>> f = summarise(s, np.array([[3.0]]), np.array([3.0]), event_h=1)
    >>> float(f["mean"][0, 0]), float(f["p_ge_0"][0]), round(float(f["crps"][0, 0]), 3)
    (3.0, 0.6, 0.4)

    (CRPS = E|X − 3| − ½ E|X − X'| = 6/5 − ½ · 40/25.)
    """
    q = np.quantile(samples, [0.1, 0.9, 0.025, 0.975, 0.5], axis=1)
    # The point forecast of a sample model is its median: back-transformed from logs the mean
    # is pulled up by the right tail, which absolute-error metrics punish.
    out = {"mean": q[4], "lo-80": q[0], "hi-80": q[1], "lo-95": q[2], "hi-95": q[3]}
    out["crps"] = crps_sample(np.moveaxis(samples, 1, 2), outcomes)
    return out | M.event_probabilities_samples(samples[:, :, event_h - 1], last)


def baseline_forecasts(
    ids: Sequence[str],
    histories: Sequence[np.ndarray],
    horizon: int,
    jobs: int,
    mapper: Mapper = map,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """statsforecast baselines: mean and 80/95 % intervals per model, arrays (series,
    horizon) in the order of ``ids``; and each model's fitting and forecasting seconds
    inside the workers, summed over chunks (``jobs`` sets the number of chunks).

    The series go to ``mapper`` in chunks (:func:`_chunks`), so the baselines run where
    jqforecast's models run, processes or a Dask cluster; a statsforecast fit is per series,
    so the chunking does not change a forecast.
    """
    parts = _chunks(len(ids), jobs)
    chunks = [([ids[i] for i in p], [histories[i] for i in p], horizon) for p in parts]
    results = list(mapper(_baseline_chunk, chunks))
    out = _joined([r[0] for r in results])
    seconds = {name: sum(r[1][name] for r in results) for name in out}
    # Naive2 = naive forecast of the seasonally adjusted series; yearly data have no season.
    out["Naive2"], seconds["Naive2"] = out["Naive"], seconds["Naive"]
    return out, seconds


def _joined(chunks: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Per model and quantity, the chunks' arrays joined along the series axis, in order."""
    first = chunks[0]
    return {m: {k: np.concatenate([c[m][k] for c in chunks]) for k in first[m]} for m in first}


def _baseline_chunk(
    chunk: tuple[list[str], list[np.ndarray], int],
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float]]:
    """Each statsforecast baseline on one chunk of series, fitted and timed on its own
    (single process: the chunks are the parallelism)."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, Naive, RandomWalkWithDrift

    ids, histories, horizon = chunk
    df = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, [len(h) for h in histories]),
            "ds": np.concatenate([np.arange(1, len(h) + 1) for h in histories]),
            "y": np.concatenate(histories),
        }
    )
    specs = {
        "Naive": Naive(),
        "RWD": RandomWalkWithDrift(),
        "AutoETS": AutoETS(season_length=1),
        "AutoTheta": AutoTheta(season_length=1),
        "AutoARIMA": AutoARIMA(season_length=1),
    }
    out, seconds = {}, {}
    for name, model in specs.items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sf = StatsForecast(models=[model], freq=1, n_jobs=1, fallback_model=Naive())
            fc = sf.forecast(df=df, h=horizon, level=list(LEVELS))
        seconds[name] = time.perf_counter() - t0
        fc = fc.set_index("unique_id").loc[ids]
        col = [c for c in fc.columns if c not in ("ds",) and "-lo-" not in c and "-hi-" not in c][0]
        res = {"mean": fc[col].to_numpy().reshape(len(ids), horizon)}
        for lv in LEVELS:
            res[f"lo-{lv}"] = fc[f"{col}-lo-{lv}"].to_numpy().reshape(len(ids), horizon)
            res[f"hi-{lv}"] = fc[f"{col}-hi-{lv}"].to_numpy().reshape(len(ids), horizon)
        out[name] = res
    return out, seconds


def _same_as_naive(forecasts: dict[str, dict]) -> dict[str, int]:
    """Per statsforecast baseline, the series whose forecast (mean and both intervals) is
    Naive's to the last digit: where the model failed and ``fallback_model=Naive()`` stood
    in (AutoETS needs 6+ points, AutoTheta 4+), or it chose a plain random walk itself."""
    naive = forecasts["Naive"]
    return {
        name: int(np.all([np.all(f[c] == naive[c], axis=1) for c in naive], axis=0).sum())
        for name, f in forecasts.items()
        if name not in ("Naive", "Naive2")
    }


def score(
    ids,
    histories,
    outcomes,
    fc: dict[str, dict],
    event_h: int = M.EVENT_H,
):
    """Metrics per model, the forecasts table and reliability tables.

    ``fc`` holds per model the point forecast (``"mean"``) and 80/95 % bounds, arrays
    (series, horizon); a sample model's entry (:func:`summarise`) also carries its CRPS per
    series and step and its event probabilities, while a Gaussian-interval baseline's are
    derived here from its mean and 95 % interval. The events are about the value
    ``event_h`` years ahead (two, or one if the horizon is one year).
    """
    y = np.stack(outcomes)
    scale = M.mase_scale(histories)
    last = np.array([h[-1] for h in histories])
    outcome_ev = {
        k: (y[:, event_h - 1] >= last * (1 + g)).astype(float)
        for k, g in M.EVENT_THRESHOLDS.items()
    }
    o_all = np.concatenate([outcome_ev[k] for k in M.EVENT_THRESHOLDS])
    rows, tables, reliab = {}, [], {}
    for name, f in fc.items():
        point = f["mean"]
        if "crps" in f:
            crps = float(np.mean(f["crps"].mean(axis=1) / scale))
            probs = {k: f[k] for k in M.EVENT_THRESHOLDS}
        else:
            sd = M.gaussian_from_interval(point, f["lo-95"], f["hi-95"], 95)
            crps = float(np.mean(M.crps_normal(y, point, sd).mean(axis=1) / scale))
            probs = M.event_probabilities_gaussian(point[:, event_h - 1], sd[:, event_h - 1], last)
        briers = {k: M.brier(probs[k], outcome_ev[k]) for k in M.EVENT_THRESHOLDS}
        rows[name] = {
            "smape": float(M.smape(y, point).mean()),
            "mase": float(M.mase(y, point, scale).mean()),
            "crps_scaled": crps,
            "coverage_80": M.coverage(y, f["lo-80"], f["hi-80"]),
            "coverage_95": M.coverage(y, f["lo-95"], f["hi-95"]),
            "msis_95": float(M.msis(y, f["lo-95"], f["hi-95"], scale).mean()),
            "brier": briers,
            "brier_mean": float(np.mean(list(briers.values()))),
            "log_score_mean": float(
                np.mean([M.log_score(probs[k], outcome_ev[k]) for k in M.EVENT_THRESHOLDS])
            ),
        }
        p_all = np.concatenate([probs[k] for k in M.EVENT_THRESHOLDS])
        reliab[name] = M.reliability_table(p_all, o_all)
        tables.append(_forecast_rows(ids, name, f, probs, event_h))
    base = rows["Naive2"]
    for r in rows.values():
        r["owa"] = M.owa(r["smape"], r["mase"], base["smape"], base["mase"])
    return rows, pd.concat(tables, ignore_index=True), reliab


def _forecast_rows(ids, name: str, f: dict, probs: dict, event_h: int) -> pd.DataFrame:
    """``forecasts.csv`` rows of one model: a row per series and step, series by series;
    the event probabilities on the rows of step ``event_h``."""
    n, horizon = f["mean"].shape
    table = pd.DataFrame(
        {
            "unique_id": np.repeat(np.asarray(ids, dtype=object), horizon),
            "model": name,
            "h": np.tile(np.arange(1, horizon + 1), n),
        }
        | {c: np.asarray(f[c], dtype=float).ravel() for c in ("mean", *INTERVAL_COLUMNS)}
    )
    at_event = table["h"].to_numpy() == event_h
    for k in M.EVENT_THRESHOLDS:
        table[k] = np.nan
        table.loc[at_event, k] = probs[k]
    return table


@contextmanager
def _mapper(backend: str, jobs: int, client=None) -> Iterator[Mapper]:
    """The ``map`` the weight backtests and the forecasting chunks run with: a Dask client's
    (``backend="dask"``; a local cluster of ``jobs`` processes unless ``client`` is given),
    a process pool's (``jobs > 1``) or the builtin one. Results do not depend on it."""
    if backend == "dask":
        own = client is None
        if own:
            from dask.distributed import Client

            client = Client(processes=True, n_workers=jobs, threads_per_worker=1)
        try:
            yield lambda fn, items: client.gather(client.map(fn, list(items), pure=False))
        finally:
            if own:
                client.close()
    elif jobs == 1:
        yield map
    else:
        with ProcessPoolExecutor(max_workers=jobs, initializer=one_blas_thread) as pool:
            yield pool.map


def _chunks(n: int, jobs: int) -> list[np.ndarray]:
    """``range(n)`` in order, in about four chunks a worker of at most :data:`TASK_SERIES`.

    Examples
    --------
    >>> [len(c) for c in _chunks(645, 2)]
    [81, 81, 81, 81, 81, 80, 80, 80]
    >>> len(_chunks(23_000, 2))  # M4 Yearly: chunks of at most 100
    230
    >>> [len(c) for c in _chunks(10, 2)]  # four a worker, however small
    [2, 2, 1, 1, 1, 1, 1, 1]
    """
    return np.array_split(np.arange(n), min(n, max(4 * jobs, -(-n // TASK_SERIES))))


def _partition(histories: Sequence[np.ndarray], bayes: bool, jobs: int) -> list[np.ndarray]:
    """Indices of the series of each forecasting task.

    With the Bayesian member each task is one pooled fit: the positive series, in file
    order, in near-equal chunks of at most :data:`BAYES_CHUNK` (so the fits, and every
    number, are the same whatever the number of workers), and the other series in tasks of
    their own. Without it, about four tasks a worker, of at most :data:`TASK_SERIES` series
    (the single-series members' draws are keyed by series, so the split does not change
    them either).
    """
    if not bayes:
        return _chunks(len(histories), jobs)
    positive = np.array([series_kind(y) is Kind.LEVEL for y in histories])
    parts = []
    for idx in (np.flatnonzero(positive), np.flatnonzero(~positive)):
        if len(idx):
            parts += near_equal_chunks(idx, BAYES_CHUNK)
    return parts


def run_benchmark(
    train: str | Path,
    test: str | Path,
    horizon: int,
    out: str | Path,
    max_history: int | None = None,
    models: Sequence[str] | None = None,
    jobs: int | None = None,
    backend: str = "local",
    draws: int = 4000,
    seed: int = 0,
    weight_series: int = 100,
    dask_client=None,
    bayes: bool = True,
    members: Sequence[str] | None = None,
    combine: Combine = COMBINE,
    weights_from: str = "learned",
) -> dict:
    """Run the benchmark and write ``metrics.json``, ``forecasts.csv``, reliability files.

    Ensemble weights are learned by rolling-origin backtests on the *training* part of up to
    ``weight_series`` randomly chosen series (the test values are never used); with
    ``weights_from="reference"`` they are instead the weights and recalibration shipped for
    series too short to backtest (:func:`~jqforecast.engine.shipped_weights`, what the park's
    forecast uses), so the benchmark scores that configuration on data it was not learned
    from. With
    ``bayes`` (default) the pooled Bayesian growth member runs too (positive series only; see
    :func:`bayes_samples`), is backtested with the others (pooled fits per origin, on the
    positive ones of those series) and takes its learned share of the ``jqforecast`` draws,
    as members do in :func:`jqforecast.forecast`. Input is read and screened by
    :func:`~jqforecast.backtest.data.read_pair` (series left out: ``result["excluded"]``);
    each series is modelled on the scale :func:`~jqforecast.backtest.data.series_kind`
    chooses. ``members`` names the statistical members of the
    ``jqforecast`` ensemble (default: all of :data:`JQ_MEMBERS`); only they are backtested.
    ``combine`` is how the ensemble combines its members (weights are learned for it).
    ``draws`` defaults to :func:`jqforecast.forecast`'s 4 000: an event probability read off
    N draws adds its Monte Carlo variance, ~p(1 − p)/N, to the Brier score (measured on M3
    full history: 0.1302 with 1 000 draws, 0.1299 with 4 000; OWA 0.8421 → 0.8405).
    """
    started = time.perf_counter()
    jobs = jobs or os.cpu_count() or 1
    out = Path(out)
    data = read_pair(train, test, horizon, max_history)
    ids, histories, outcomes = data.ids, data.histories, data.outcomes
    jq_models = list(models or ("jqforecast", *JQ_MEMBERS, BAYES))
    unknown = set(jq_models) - {"jqforecast", *KNOWN_MEMBERS, BAYES}
    if unknown:
        raise ValueError(
            f"unknown models {sorted(unknown)}; choose from jqforecast, "
            f"{', '.join(KNOWN_MEMBERS)}, {BAYES}"
        )
    members = tuple(members or JQ_MEMBERS)
    if not set(members) <= set(KNOWN_MEMBERS):
        raise ValueError(
            f"unknown ensemble members {sorted(set(members) - set(KNOWN_MEMBERS))}; "
            f"choose from {', '.join(KNOWN_MEMBERS)}"
        )
    if weights_from not in WEIGHTS_FROM:
        raise ValueError(f"weights_from must be one of {', '.join(WEIGHTS_FROM)}")
    positive = any(series_kind(y) is Kind.LEVEL for y in histories)
    # The Bayesian member models log growth: positive series only. Off with --no-bayes.
    use_bayes = bayes and positive and ("jqforecast" in jq_models or BAYES in jq_models)
    if not use_bayes:
        jq_models = [m for m in jq_models if m != BAYES]

    # The baselines need statsforecast anyway; imported before a local pool forks, the
    # workers of the `ets` and `arima` members inherit it instead of importing it each inside
    # the timed weight learning (1.4 s; the baselines' times exclude their import too).
    import statsforecast.arima  # noqa: F401
    import statsforecast.ets  # noqa: F401

    with _mapper(backend, jobs, dask_client) as mapper:
        t0 = time.perf_counter()
        learners = resolve_models([*members, *([BAYES] if use_bayes else [])], seed)
        for m in learners:  # the Bayesian member is backtested as it forecasts: recent points
            if m.multi_series:
                m.set_params(max_points=BAYES_POINTS)
        picked: list[SeriesData] = []  # the series whose backtests learn the weights
        if weights_from == "reference":
            weights, weight_info = shipped_weights(learners, combine, "--weights reference")
            if not weights:
                raise ValueError(f"no shipped reference weights for {sorted(members)}")
        else:
            rng = np.random.default_rng(seed)
            pick = rng.choice(len(ids), size=min(weight_series, len(ids)), replace=False)
            picked = [_series_data(ids[i], histories[i]) for i in pick]
            if use_bayes:  # every member must apply to the backtest series: positive ones only
                picked = [s for s in picked if s.transform.kind is Kind.LEVEL]
            weights, weight_info = learn_weights(
                picked,
                learners,
                seed,
                horizon,
                backtest_multi=use_bayes,
                mapper=mapper,
                combine=combine,
            )
        weight_seconds = time.perf_counter() - t0
        calibration = PITCalibration.from_dict(weight_info.pop("calibration", None))
        event_h = min(M.EVENT_H, horizon)

        parts = _partition(histories, use_bayes, jobs)
        tasks = [
            Task(
                [ids[i] for i in part],
                [histories[i] for i in part],
                horizon,
                jq_models,
                weights,
                draws,
                seed,
                use_bayes,
                members,
                combine,
                [outcomes[i] for i in part],
                event_h,
                calibration,
            )
            for part in parts
        ]
        t0 = time.perf_counter()
        # each worker returns summaries, not draws (jq_forecasts): memory stays per chunk
        results = list(mapper(jq_forecasts, tasks))
        wall_jq = time.perf_counter() - t0
        t0 = time.perf_counter()
        base_fc, base_seconds = baseline_forecasts(ids, histories, horizon, jobs, mapper)
        wall_baselines = time.perf_counter() - t0
    back = np.argsort(np.concatenate(parts))  # tasks' series order → file order
    summaries = {
        m: {k: v[back] for k, v in f.items()} for m, f in _joined([r[0] for r in results]).items()
    }
    cpu_seconds = {m: sum(r[1][m] for r in results) for m in summaries}
    fits = [d for r in results for d in r[2]]
    fallbacks = {m: sum(r[3].get(m, 0) for r in results) for m in summaries}

    fc = dict(base_fc) | summaries
    fallbacks |= _same_as_naive(base_fc)
    rows, table, reliab = score(ids, histories, outcomes, fc, event_h)

    # every model timed alike: its seconds inside the workers ÷ workers
    worker_seconds = base_seconds | cpu_seconds
    for name, r in rows.items():
        r["seconds"] = float(worker_seconds.get(name, np.nan) / max(jobs, 1))
        r["time_vs_autoets"] = float(worker_seconds.get(name, np.nan) / base_seconds["AutoETS"])
        r["fallback_series"] = int(fallbacks.get(name, 0))
    total = time.perf_counter() - started
    result = {
        "train": str(train),
        "test": str(test),
        "horizon": horizon,
        "series": len(ids),
        "excluded": data.excluded,
        "gaps_closed_up": data.gaps,
        "event_h": event_h,
        "max_history": max_history,
        "draws": draws,
        "seed": seed,
        "jobs": jobs,
        "backend": backend,
        "members": list(members),
        "combine": combine,
        "weights_from": weights_from,
        "weights": weights,
        "weight_series": [s.id for s in picked],
        "weights_info": weight_info,
        "calibration": calibration.to_dict(),
        "weight_learning_seconds": weight_seconds,
        "jq_wall_seconds": wall_jq,
        "jq_cpu_seconds": cpu_seconds,
        "baselines_wall_seconds": wall_baselines,
        # reading the input to the scores, pool start-up included (not writing the files)
        "total_seconds": total,
        "seconds_per_series": total / len(ids),
        "bayes_fits": {
            "chunks": len(fits),
            "series_per_chunk": BAYES_CHUNK,
            "points": BAYES_POINTS,
            "refitted": sum("first_attempt" in d for d in fits),
            "poor_convergence": sum(not d["ok"] for d in fits),
            "rhat_max": max((d["rhat_max"] for d in fits), default=None),
            "ess_bulk_min": min((d["ess_bulk_min"] for d in fits), default=None),
            "divergences": sum(d["divergences"] for d in fits),
        },
        "models": rows,
    }
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "metrics.json", result)
    write_csv(out / "forecasts.csv", table)
    write_csv(
        out / "reliability.csv",
        pd.concat([t.assign(model=m) for m, t in reliab.items()], ignore_index=True),
    )
    _reliability_png(reliab, out / "reliability.png", event_h)
    return result


def _reliability_png(reliab: dict[str, pd.DataFrame], path: Path, event_h: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 6.0), dpi=150)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for name, t in reliab.items():
        t = t[t["n"] > 0]
        ax.plot(t["mean_predicted"], t["observed_freq"], marker="o", ms=3, lw=1.2, label=name)
    ax.set_xlabel("predicted P(event)")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"Event-probability reliability (h = {event_h}, four thresholds pooled)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def format_table(result: dict, markdown: bool = False) -> str:
    """The metrics, best OWA first, as a fixed-width text table or a Markdown table.

    ``python -c "import json, sys; from jqforecast.backtest.benchmark import format_table;
    print(format_table(json.load(open(sys.argv[1])), markdown=True))" DIR/metrics.json``
    gives the tables of benchmarks/RESULTS.md.
    """
    cols = {
        "smape": "sMAPE",
        "mase": "MASE",
        "owa": "OWA",
        "crps_scaled": "CRPS/scale",
        "coverage_80": "cov 80",
        "coverage_95": "cov 95",
        "msis_95": "MSIS",
        "brier_mean": "Brier",
        "log_score_mean": "log score",
        "seconds": "s",
        "time_vs_autoets": "×ETS",
    }
    rows = sorted(result["models"].items(), key=lambda kv: kv[1]["owa"])
    if markdown:
        lines = ["| model | " + " | ".join(cols.values()) + " |", "|---" * (len(cols) + 1) + "|"]
        lines += [
            f"| {name} | " + " | ".join(f"{r[c]:.4g}" for c in cols) + " |" for name, r in rows
        ]
        return "\n".join(lines)
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"{'model':<{width}}" + "".join(f"{h:>12}" for h in cols.values())]
    lines += [f"{name:<{width}}" + "".join(f"{r[c]:>12.4f}" for c in cols) for name, r in rows]
    return "\n".join(lines)
