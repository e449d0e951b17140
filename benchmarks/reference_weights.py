"""Learn the ensemble weights used when a series is too short to backtest on its own.

Usage::

    python benchmarks/reference_weights.py \
        --train ../shared/benchmarks/m3_yearly/m3_yearly_train.csv \
        [--points 7] [--series 200] [--combine mixture|quantile]
        [--out jqforecast/models/reference_weights.json]

The park's series have 3–5 points: too few rolling-origin cases (< 6) to learn weights from
the series themselves. Rather than fall back to equal weights, the engine uses weights learned
the same way (mixture CRPS, rolling origins, horizon 2, the Bayesian member backtested with
pooled fits) on real yearly series cut to the same length: the last ``--points`` values of
``--series`` randomly chosen M3 yearly *training* series (the M3 test values are not used).
Only members that can forecast series this short take part. The quantile recalibration of
the weighted mixture (``jqforecast.models.calibration``) is learned from the same backtests
and shipped with the weights. A second set, learned the same way for the statistical members
alone (section ``"statistical"``), is what a forecast without the Bayesian member uses
(``jqforecast run --quick``, ``models="statistical"``). The JSON records the command,
data file hash and date, so the numbers in the package can be regenerated and checked.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from jqforecast._io import file_sha256, write_json
from jqforecast.backtest.jq_models import benchmark_series
from jqforecast.data.metrics import Kind
from jqforecast.engine import BACKTEST_HORIZON, learn_weights, resolve_models
from jqforecast.models.ensemble import COMBINE, COMBINE_METHODS

MEMBERS = ["rw_drift", "damped_drift", "theta", "bayes_growth"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", required=True)
    parser.add_argument("--points", type=int, default=7, help="values kept per series")
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--combine", choices=COMBINE_METHODS, default=COMBINE)
    parser.add_argument("--out", default="jqforecast/models/reference_weights.json")
    args = parser.parse_args()
    train = pd.read_csv(args.train).sort_values(["unique_id", "t"])
    groups = {k: g["y"].to_numpy(float)[-args.points :] for k, g in train.groupby("unique_id")}
    ids = sorted(k for k, y in groups.items() if len(y) == args.points and (y > 0).all())
    pick = np.random.default_rng(args.seed).choice(len(ids), args.series, replace=False)
    series = [benchmark_series(ids[i], groups[ids[i]], Kind.LEVEL) for i in sorted(pick)]
    t0 = time.perf_counter()
    members = resolve_models(MEMBERS, args.seed)
    weights, info = learn_weights(
        series, members, args.seed, BACKTEST_HORIZON, True, combine=args.combine
    )
    seconds = time.perf_counter() - t0
    statistical = [m for m in members if not m.multi_series]
    s_weights, s_info = learn_weights(
        series, statistical, args.seed, BACKTEST_HORIZON, True, combine=args.combine
    )
    result = {
        "weights": weights,
        "calibration": info.pop("calibration", {}),
        "info": info,
        "statistical": {
            "weights": s_weights,
            "calibration": s_info.pop("calibration", {}),
            "info": s_info,
        },
        "learned_on": {
            "file": args.train,
            "sha256": file_sha256(Path(args.train)),
            "series": len(series),
            "points_per_series": args.points,
            "horizon": BACKTEST_HORIZON,
            "seed": args.seed,
            "combine": args.combine,
            "date": time.strftime("%Y-%m-%d"),
            "seconds": round(seconds, 1),
            "command": "python benchmarks/reference_weights.py --train "
            f"{args.train} --points {args.points} --series {args.series} --seed {args.seed}"
            f" --combine {args.combine}",
        },
    }
    write_json(Path(args.out), result)
    print(json.dumps(result, indent=1, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
