"""Benchmark harness: jqforecast vs standard baselines on any long-format yearly data set.

Input: ``TRAIN.csv`` with ``unique_id, t, y`` and ``TEST.csv`` with ``unique_id, h, y`` (the
M3/M4 layout). Every model forecasts every series; metrics follow the M4 definitions
(:mod:`jqforecast.backtest.metrics`). The weight backtests (per series, and the pooled
Bayesian fits per origin) and the forecasting of every model, baselines included, in chunks
of series, run in parallel processes (``backend="local"``) or on a Dask cluster
(``backend="dask"``) through the same ``map``. Each chunk comes back as summaries (quantiles,
CRPS, event probabilities), never as draws, so the coordinating process's memory does not
grow with the number of series (M4 Yearly's 23 000 or more).

This module is the run (:func:`run_benchmark`); its parts: :mod:`~jqforecast.backtest.data`
(reading and screening the input), :mod:`~jqforecast.backtest.jq_models` (jqforecast's models
on a chunk of series, in a worker), :mod:`~jqforecast.backtest.baselines` (statsforecast),
:mod:`~jqforecast.backtest.distribute` (the map and the chunks),
:mod:`~jqforecast.backtest.scoreboard` (metrics per model, ``forecasts.csv``) and
:mod:`~jqforecast.backtest.report` (table, reliability diagram).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from jqforecast._io import write_csv, write_json
from jqforecast.backtest import metrics as M
from jqforecast.backtest.baselines import baseline_forecasts, same_as_naive
from jqforecast.backtest.data import read_pair, series_kind
from jqforecast.backtest.distribute import (
    cluster_threads,
    join_chunks,
    open_mapper,
    partition_series,
)
from jqforecast.backtest.jq_models import (
    BAYES,
    BAYES_CHUNK,
    BAYES_POINTS,
    JQ_MEMBERS,
    KNOWN_MEMBERS,
    Task,
    benchmark_series,
    jq_forecasts,
)
from jqforecast.backtest.report import format_table, reliability_png
from jqforecast.backtest.scoreboard import score
from jqforecast.data.metrics import Kind
from jqforecast.engine import SeriesData, learn_weights, resolve_models, shipped_weights
from jqforecast.models.calibration import PITCalibration
from jqforecast.models.ensemble import COMBINE, Combine

__all__ = ["WEIGHTS_FROM", "format_table", "run_benchmark"]

WEIGHTS_FROM = ("learned", "reference")  # where run_benchmark's ensemble weights come from


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
    ``weights_from="reference"`` they are instead the weights and recalibration shipped for series
    too short to backtest (:func:`~jqforecast.engine.shipped_weights`, what the park's forecast
    uses), so the benchmark scores that configuration on data it was not learned from. With
    ``bayes`` (default) the pooled Bayesian growth member runs too (positive series only; see
    :func:`~jqforecast.backtest.jq_models.bayes_samples`), is backtested with the others (pooled
    fits per origin, on the positive ones of those series) and takes its learned share of the
    ``jqforecast`` draws, as members do in :func:`jqforecast.forecast`. Input is read and screened
    by :func:`~jqforecast.backtest.data.read_pair` (series left out: ``result["excluded"]``); each
    series is modelled on the scale :func:`~jqforecast.backtest.data.series_kind` chooses.
    ``members`` names the statistical members of the ``jqforecast`` ensemble (default: all of
    :data:`~jqforecast.backtest.jq_models.JQ_MEMBERS`); only they are backtested. ``combine`` is how
    the ensemble combines its members (weights are learned for it). ``draws`` defaults to
    :func:`jqforecast.forecast`'s 4 000: an event probability read off N draws adds its Monte Carlo
    variance, ~p(1 − p)/N, to the Brier score (measured on M3 full history: 0.1302 with 1 000 draws,
    0.1299 with 4 000; OWA 0.8421 → 0.8405).

    ``dask_client``: a connected ``dask.distributed.Client`` to run on, a running cluster of
    any number of machines (``jqforecast benchmark --scheduler ADDRESS``); the backend is
    then Dask and, unless ``jobs`` is given, the cluster's worker threads are the workers
    (the chunks and the time per worker follow them). Without it, ``backend="dask"`` starts
    a local cluster of ``jobs`` processes.
    """
    started = time.perf_counter()
    if dask_client is not None:
        backend = "dask"  # a running cluster: its worker threads are the workers
        jobs = jobs or cluster_threads(dask_client)
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

    with open_mapper(backend, jobs, dask_client) as mapper:
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
            picked = [benchmark_series(ids[i], histories[i]) for i in pick]
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

        parts = partition_series(histories, use_bayes, jobs)
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
        m: {k: v[back] for k, v in f.items()}
        for m, f in join_chunks([r[0] for r in results]).items()
    }
    cpu_seconds = {m: sum(r[1][m] for r in results) for m in summaries}
    fits = [d for r in results for d in r[2]]
    fallbacks = {m: sum(r[3].get(m, 0) for r in results) for m in summaries}

    fc = dict(base_fc) | summaries
    fallbacks |= same_as_naive(base_fc)
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
        "dask_scheduler": None if dask_client is None else dask_client.scheduler.address,
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
    reliability_png(reliab, out / "reliability.png", event_h)
    return result
