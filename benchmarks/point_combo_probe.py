"""Would combining the ensemble's point forecast with the baselines' improve it? A probe on
finished benchmark runs.

Usage::

    python benchmarks/point_combo_probe.py --run benchmarks/out/holdout_full_s13_seed{0,1,2} \\
        [--train benchmarks/out/holdout_m3/train.csv --test benchmarks/out/holdout_m3/test.csv]
        [--max-history N] [--out benchmarks/out/point_combo_probe.json]

Each ``--run`` is a benchmark folder on the same train/test pair (``--max-history`` the one
the runs used); its ``forecasts.csv`` holds the ``jqforecast`` and baseline point forecasts.
Scored with the benchmark's metric functions (OWA against each run's Naive2): the ensemble's
own point forecast (its sample median), simple combinations in the spirit of SCUM
(Petropoulos & Svetunkov 2020: the median of ETS, CES, ARIMA and Theta forecasts), and fixed
shares of one baseline. A fixed combination only points the way; decide on held-out
training years (``benchmarks/holdout.py``), not on the test years. Prints a table, writes
JSON (atomically).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine, point_scores

from jqforecast._io import write_json


def _share(baseline: str, w: float = 0.2):
    """``(1 − w) · jqforecast + w · baseline``."""
    return lambda t: (1 - w) * t["jqforecast"] + w * t[baseline]


COMBINATIONS = {
    "jqforecast": lambda t: t["jqforecast"],
    "median(jq, ETS, Theta, ARIMA)": lambda t: np.median(
        t[["jqforecast", "AutoETS", "AutoTheta", "AutoARIMA"]], axis=1
    ),
    "median(jq, ETS, Theta)": lambda t: np.median(
        t[["jqforecast", "AutoETS", "AutoTheta"]], axis=1
    ),
    "mean(ETS, Theta, ARIMA)": lambda t: t[["AutoETS", "AutoTheta", "AutoARIMA"]].mean(axis=1),
    **{f"0.8 jq + 0.2 {b}": _share(b) for b in ("AutoTheta", "AutoETS", "RWD", "Naive")},
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", default="benchmarks/out/holdout_m3/train.csv")
    ap.add_argument("--test", default="benchmarks/out/holdout_m3/test.csv")
    ap.add_argument("--run", nargs="+", required=True, help="benchmark output folders")
    ap.add_argument("--max-history", type=int)
    ap.add_argument("--out", default="benchmarks/out/point_combo_probe.json")
    args = ap.parse_args()
    owa = {}
    for run in args.run:
        points = point_scores(args.train, args.test, run, args.max_history)
        owa[Path(run).name] = {
            name: points.owa(combine(points.table)) for name, combine in COMBINATIONS.items()
        }
    table = pd.DataFrame(owa).T
    print(table.to_string(float_format=lambda x: f"{x:.4f}"))
    write_json(
        Path(args.out),
        {
            "machine": machine(),
            "train": args.train,
            "test": args.test,
            "max_history": args.max_history,
            "owa": owa,
        },
    )


if __name__ == "__main__":
    main()
