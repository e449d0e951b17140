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

import pandas as pd
from _common import machine, point_scores

from jqforecast._io import write_json

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

    points = point_scores(args.train, args.test, args.run, args.max_history)
    train = pd.read_csv(args.train).sort_values(["unique_id", "t"])
    if args.max_history:
        train = train.groupby("unique_id").tail(args.max_history)
    horizon = points.y.shape[1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sf = StatsForecast(models=[AutoCES(season_length=1)], freq=1, n_jobs=2)
        ces = sf.forecast(df=train.rename(columns={"t": "ds"}), h=horizon).reset_index()
    ces["h"] = ces.groupby("unique_id").cumcount() + 1
    ces = points.table[["unique_id", "h"]].merge(ces[["unique_id", "h", "CES"]], how="left")
    jq = points.table["jqforecast"].to_numpy()
    rows = []
    for name, forecast in [("CES alone", ces["CES"].to_numpy())] + [
        (f"jqforecast + {w:.1f} CES", (1 - w) * jq + w * ces["CES"].to_numpy()) for w in SHARES
    ]:
        smape, mase = points.scores(forecast)
        owa = points.owa(forecast)
        rows.append({"forecast": name, "smape": smape, "mase": mase, "owa": owa})
        print(f"{name:<22} sMAPE {smape:6.2f}  MASE {mase:6.3f}  OWA {owa:.4f}")
    write_json(
        Path(args.out),
        {"machine": machine(), "run": args.run, "max_history": args.max_history, "rows": rows},
    )


if __name__ == "__main__":
    main()
