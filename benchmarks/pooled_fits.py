"""How the benchmark's pooled Bayesian fits mix: time and diagnostics of single fits.

Usage::

    python benchmarks/pooled_fits.py [--train benchmarks/out/holdout_m3_back6/train.csv]
        [--chunks 0 1 2 ...] [--points 15] [--seed 0] [--out benchmarks/out/pooled_fits.json]

Takes a training file's positive series in file order, splits them into the benchmark's
near-equal chunks of at most :data:`~jqforecast.backtest.jq_models.BAYES_CHUNK`, and fits the
member once per chunk asked for (no second attempt), on each series' last ``--points``
values as the benchmark does. Prints a row a chunk (how many of its series are shorter than
the window, seconds, R-hat max, bulk ESS min, divergences, mean leapfrog steps a draw) and
writes them to ``--out``. Session 20 used it to find why chunks of series of unequal length
mixed poorly (``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from _common import machine

from jqforecast._io import write_json
from jqforecast.backtest import jq_models as J
from jqforecast.data.metrics import Kind
from jqforecast.engine import near_equal_chunks
from jqforecast.engine.fitting import group_frames
from jqforecast.models.bayes import HierarchicalGrowth, fit_jointly


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", default="benchmarks/out/holdout_m3_back6/train.csv")
    parser.add_argument("--chunks", type=int, nargs="+", help="chunk numbers (default: all)")
    parser.add_argument("--points", type=int, default=J.BAYES_POINTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/out/pooled_fits.json")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    train = pd.read_csv(args.train, dtype={"unique_id": str}).sort_values(["unique_id", "t"])
    series = [
        J.benchmark_series(uid, y, Kind.LEVEL)
        for uid, y in ((u, g["y"].to_numpy(float)) for u, g in train.groupby("unique_id"))
        if len(y) >= HierarchicalGrowth.min_points and (y > 0).all()
    ]
    parts = near_equal_chunks(np.arange(len(series)), J.BAYES_CHUNK)
    rows = []
    for c in args.chunks if args.chunks is not None else range(len(parts)):
        group = [series[i] for i in parts[c]]
        model = HierarchicalGrowth(seed=args.seed, cores=1, max_points=args.points)
        t0 = time.perf_counter()
        (fitted,) = fit_jointly([(model, *group_frames(group))])
        d = fitted.diagnostics_
        rows.append(
            {
                "chunk": c,
                "series": len(group),
                "shorter": sum(len(s.history) < args.points for s in group),
                "seconds": time.perf_counter() - t0,
                "rhat_max": d["rhat_max"],
                "ess_bulk_min": d["ess_bulk_min"],
                "divergences": d["divergences"],
                "ok": d["ok"],
                "steps": float(fitted.idata_.sample_stats["n_steps"].mean()),
            }
        )
        r = rows[-1]
        print(
            f"chunk {c:3d}: {r['shorter']:2d} of {r['series']} shorter, {r['seconds']:6.1f} s, "
            f"R-hat {r['rhat_max']:.2f}, ESS {r['ess_bulk_min']:5.0f}, "
            f"{r['divergences']} divergences, {r['steps']:5.0f} steps a draw",
            flush=True,
        )
    table = pd.DataFrame(rows)
    print(
        f"{len(rows)} fits: {table['seconds'].sum():.1f} s, {(~table['ok']).sum()} poor, "
        f"R-hat max {table['rhat_max'].max()}, ESS min {table['ess_bulk_min'].min()}"
    )
    write_json(args.out, {"args": vars(args), "machine": machine(), "rows": rows})


if __name__ == "__main__":
    main()
