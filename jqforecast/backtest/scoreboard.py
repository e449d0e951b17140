"""Scoring the benchmark's forecasts against the test values: the metrics per model, the
``forecasts.csv`` rows and the reliability tables, from each model's summaries (a sample
model's) or its mean and intervals (a Gaussian-interval baseline's)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jqforecast.backtest import metrics as M

INTERVAL_COLUMNS = ("lo-80", "hi-80", "lo-95", "hi-95")


def score(
    ids,
    histories,
    outcomes,
    fc: dict[str, dict],
    event_h: int = M.EVENT_H,
):
    """Metrics per model, the forecasts table and reliability tables.

    ``fc`` holds per model the point forecast (``"mean"``) and 80/95 % bounds, arrays (series,
    horizon); a sample model's entry (:func:`~jqforecast.backtest.jq_models.summarise`) also carries
    its CRPS per series and step and its event probabilities, while a Gaussian-interval baseline's
    are derived here from its mean and 95 % interval. The events are about the value ``event_h``
    years ahead (two, or one if the horizon is one year).
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
