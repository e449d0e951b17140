"""Shared bits of the benchmark scripts (run them from the repository root)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from jqforecast.backtest import metrics as M


def machine() -> dict:
    """Where a measurement ran: CPU count, platform and Python version."""
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


@dataclass
class PointScores:
    """Point forecasts of a finished benchmark run, lined up with the outcomes, and the
    benchmark's own metric functions to score any forecast built from them."""

    table: pd.DataFrame  # unique_id, h, y, and one column of point forecasts per model
    y: np.ndarray  # outcomes (series, horizon)
    scale: np.ndarray  # each series' MASE scale

    def scores(self, forecast) -> tuple[float, float]:
        """Mean sMAPE and MASE of ``forecast`` (a column name or values in ``table``'s order)."""
        values = self.table[forecast] if isinstance(forecast, str) else forecast
        f = np.asarray(values, dtype=float).reshape(self.y.shape)
        return float(M.smape(self.y, f).mean()), float(M.mase(self.y, f, self.scale).mean())

    def owa(self, forecast) -> float:
        """OWA of ``forecast`` against the run's own Naive2."""
        return M.owa(*self.scores(forecast), *self.scores("Naive2"))


def point_scores(
    train: str | Path, test: str | Path, run: str | Path, max_history: int | None = None
) -> PointScores:
    """:class:`PointScores` of the run in folder ``run`` (its ``forecasts.csv``) on the
    train/test pair it was run on; ``max_history`` must be the one the run used."""
    history = pd.read_csv(train).sort_values(["unique_id", "t"])
    if max_history:
        history = history.groupby("unique_id").tail(max_history)
    outcomes = pd.read_csv(test).sort_values(["unique_id", "h"])
    runs = pd.read_csv(Path(run) / "forecasts.csv")
    point = runs.pivot_table(index=["unique_id", "h"], columns="model", values="mean")
    table = outcomes.merge(point.reset_index(), on=["unique_id", "h"])
    table = table.sort_values(["unique_id", "h"]).reset_index(drop=True)
    ids = table["unique_id"].unique()
    by_id = dict(tuple(history.groupby("unique_id")["y"]))
    scale = M.mase_scale([by_id[i].to_numpy() for i in ids])
    y = table["y"].to_numpy().reshape(len(ids), int(outcomes["h"].max()))
    return PointScores(table, y, scale)
