"""Shared bits of the benchmark scripts (run them from the repository root)."""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
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


def interval_and_event_scores(samples: np.ndarray, truth: np.ndarray, bars: list) -> dict:
    """Coverage of the central 80 % and 95 % intervals of ``samples`` (series, draws) and the
    Brier score of "value ≥ bar", averaged over the arrays of ``bars`` (one bar a series each),
    as the simulated-stock benchmarks score them."""
    out = {}
    for level in (80, 95):
        lo, hi = np.quantile(samples, [(100 - level) / 200, 1 - (100 - level) / 200], axis=1)
        out[f"cov{level}"] = float(np.mean((truth >= lo) & (truth <= hi)))
    briers = []
    for bar in bars:
        p = np.mean(samples >= bar[:, None], axis=1)
        briers.append(np.mean((p - (truth >= bar)) ** 2))
    out["brier"] = float(np.mean(briers))
    return out


def stock_parser(doc: str, out: str) -> argparse.ArgumentParser:
    """The options every simulated-stock benchmark takes: ``--series`` (stocks per process
    and history length), ``--draws``, ``--seed``, ``--out``."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--series", type=int, default=40, help="stocks per process and length")
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=out)
    return ap


def stock_benchmark(
    args, command: str, script, sample_route: Callable, line: Callable[[dict], str]
) -> pd.DataFrame:
    """Run a simulated-stock benchmark (``cumulative_stocks.py``, ``firm_stocks.py``; its
    module is ``script``, with ``PROCESSES``, ``LENGTHS``, ``ROUTES``, ``simulate`` and
    ``scores``): every (process, history length, route) cell, with ``args.series`` stocks
    per process and length from ``simulate(process, n_years, rng)`` (one generator seeded
    ``args.seed``), each route's samples from ``sample_route(route, stocks, n_years) ->
    (samples, extra columns)`` scored by ``scores(samples, stocks, n_years)``; one printed
    ``line(cell)`` per cell, then the mean of the scores per route, and the JSON at
    ``args.out`` (atomically) with ``command``. The stocks are series ``sim000``,
    ``sim001``, … (registered as industries here). Returns the cells."""
    processes, lengths = script.PROCESSES, script.LENGTHS
    routes, simulate, scores = script.ROUTES, script.simulate, script.scores
    from jqforecast._io import write_json
    from jqforecast.data.metrics import INDUSTRIES, register_industry

    for i in range(args.series):
        if f"sim{i:03d}" not in INDUSTRIES:
            register_industry(f"sim{i:03d}", f"模拟{i}", f"simulated {i}")
    rng = np.random.default_rng(args.seed)
    cells = []
    for process in processes:
        for n_years in lengths:
            stocks = np.stack([simulate(process, n_years, rng) for _ in range(args.series)])
            for route in routes:
                start = time.perf_counter()
                samples, extra = sample_route(route, stocks, n_years)
                cell = {"process": process, "years": n_years, "route": route, **extra}
                scored = scores(samples, stocks, n_years)
                cell |= scored | {"seconds": round(time.perf_counter() - start, 1)}
                cells.append(cell)
                print(line(cell), flush=True)
    frame = pd.DataFrame(cells)
    summary = frame.groupby("route")[list(scored)].mean()
    print(f"\nmean over the {len(processes) * len(lengths)} cells (process × history length):")
    print(summary.round(4).to_string())
    write_json(
        args.out,
        {
            "command": command,
            "machine": machine(),
            "cells": cells,
            "mean": summary.round(5).to_dict(orient="index"),
        },
    )
    print(f"wrote {args.out}")
    return frame


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
