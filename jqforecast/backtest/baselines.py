"""The statsforecast baselines of the benchmark (Naive, Naive2, random walk with drift,
AutoETS, AutoTheta, AutoARIMA), fitted per series in chunks on the same workers as
jqforecast's models and timed the same way."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from jqforecast.backtest.distribute import join_chunks, series_chunks
from jqforecast.engine import Mapper

BASELINES = ("Naive", "Naive2", "RWD", "AutoETS", "AutoTheta", "AutoARIMA")
LEVELS = (80, 95)  # the central intervals every model gives


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

    The series go to ``mapper`` in chunks (:func:`~jqforecast.backtest.distribute.series_chunks`),
    so the baselines run where jqforecast's models run, processes or a Dask cluster; a statsforecast
    fit is per series, so the chunking does not change a forecast.
    """
    parts = series_chunks(len(ids), jobs)
    chunks = [([ids[i] for i in p], [histories[i] for i in p], horizon) for p in parts]
    results = list(mapper(baseline_chunk, chunks))
    out = join_chunks([r[0] for r in results])
    seconds = {name: sum(r[1][name] for r in results) for name in out}
    # Naive2 = naive forecast of the seasonally adjusted series; yearly data have no season.
    out["Naive2"], seconds["Naive2"] = out["Naive"], seconds["Naive"]
    return out, seconds


def baseline_chunk(
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


def same_as_naive(forecasts: dict[str, dict]) -> dict[str, int]:
    """Per statsforecast baseline, the series whose forecast (mean and both intervals) is
    Naive's to the last digit: where the model failed and ``fallback_model=Naive()`` stood
    in (AutoETS needs 6+ points, AutoTheta 4+), or it chose a plain random walk itself."""
    naive = forecasts["Naive"]
    return {
        name: int(np.all([np.all(f[c] == naive[c], axis=1) for c in naive], axis=0).sum())
        for name, f in forecasts.items()
        if name not in ("Naive", "Naive2")
    }
