"""Would complex exponential smoothing (CES) add to the ensemble's point forecasts? A probe
on training data only.

Usage::

    python benchmarks/holdout.py                      # benchmarks/out/holdout_m3/{train,test}.csv
    python benchmarks/ces_probe.py --run benchmarks/out/holdout_full_s13_seed0 [--max-history N]
        [--out benchmarks/out/ces_probe.json]

``--run`` is a benchmark run on the held-out training years (its ``forecasts.csv`` holds the
``jqforecast`` rows); ``--max-history`` must be the one that run used. statsforecast's
``AutoCES`` is fitted to the same training values, and the point forecasts
``(1 − w) · jqforecast + w · CES`` for w = 0.1 … 0.4 are scored with the benchmark's metric
functions (OWA against the run's Naive2). A fixed share only points the way: as a member,
CES would get the weight its backtests earn. Prints a table and writes JSON (atomically).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine

from jqforecast._io import write_json
from jqforecast.backtest import metrics as M

SHARES = (0.0, 0.1, 0.2, 0.3, 0.4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", default="benchmarks/out/holdout_m3/train.csv")
    ap.add_argument("--test", default="benchmarks/out/holdout_m3/test.csv")
    ap.add_argument("--run", required=True, help="benchmark output folder on that pair")
    ap.add_argument("--max-history", type=int)
    ap.add_argument("--out", default="benchmarks/out/ces_probe.json")
    args = ap.parse_args()

    from statsforecast import StatsForecast
    from statsforecast.models import AutoCES

    train = pd.read_csv(args.train).sort_values(["unique_id", "t"])
    if args.max_history:
        train = train.groupby("unique_id").tail(args.max_history)
    test = pd.read_csv(args.test).sort_values(["unique_id", "h"])
    horizon = int(test["h"].max())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sf = StatsForecast(models=[AutoCES(season_length=1)], freq=1, n_jobs=2)
        ces = sf.forecast(df=train.rename(columns={"t": "ds"}), h=horizon).reset_index()
    ces["h"] = ces.groupby("unique_id").cumcount() + 1
    runs = pd.read_csv(Path(args.run) / "forecasts.csv")
    runs = runs[runs["model"].isin(["jqforecast", "Naive2"])]
    point = runs.pivot_table(index=["unique_id", "h"], columns="model", values="mean")
    table = test.merge(point.reset_index(), on=["unique_id", "h"]).merge(
        ces[["unique_id", "h", "CES"]], on=["unique_id", "h"]
    )
    table = table.sort_values(["unique_id", "h"])
    ids = table["unique_id"].unique()
    hist = dict(tuple(train.groupby("unique_id")["y"]))
    scale = M.mase_scale([hist[i].to_numpy() for i in ids])
    y = table["y"].to_numpy().reshape(len(ids), horizon)

    def scores(column: str | np.ndarray) -> tuple[float, float]:
        f = table[column].to_numpy() if isinstance(column, str) else column
        f = f.reshape(len(ids), horizon)
        return float(M.smape(y, f).mean()), float(M.mase(y, f, scale).mean())

    naive2 = scores("Naive2")
    rows = []
    for name, forecast in [("CES alone", "CES")] + [
        (f"jqforecast + {w:.1f} CES", (1 - w) * table["jqforecast"] + w * table["CES"])
        for w in SHARES
    ]:
        smape, mase = scores(forecast if isinstance(forecast, str) else forecast.to_numpy())
        owa = M.owa(smape, mase, *naive2)
        rows.append({"forecast": name, "smape": smape, "mase": mase, "owa": owa})
        print(f"{name:<22} sMAPE {smape:6.2f}  MASE {mase:6.3f}  OWA {owa:.4f}")
    write_json(
        Path(args.out),
        {"machine": machine(), "run": args.run, "max_history": args.max_history, "rows": rows},
    )


if __name__ == "__main__":
    main()
