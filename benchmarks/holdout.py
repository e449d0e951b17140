"""A train/test pair made from training data alone, to judge a model change before the
real test years are looked at.

Usage::

    python benchmarks/holdout.py [--train ../shared/benchmarks/m3_yearly/m3_yearly_train.csv]
        [--horizon 6] [--skip 0] [--out benchmarks/out/holdout_m3]
    jqforecast benchmark --train benchmarks/out/holdout_m3/train.csv \\
        --test benchmarks/out/holdout_m3/test.csv --horizon 6 --out ... [the options to compare]

Each series' last ``horizon`` training values become its "test" values
(:func:`jqforecast.backtest.data.holdout_split`); series with no more than ``horizon`` values
are left out. On M3 yearly the held-out years end where the real test years begin, so a
change that helps here and not there says the periods differ, not that it was tuned to them
(``benchmarks/RESULTS.md``, session 13). ``--skip K`` drops each series' last ``K``
training values first, so the held-out years are an earlier period: a second yardstick,
since M3's last training years reward what its test years and earlier years do not
(session 19: ``--skip 6``, written to ``benchmarks/out/holdout_m3_back6``). Writes
``train.csv`` and ``test.csv`` (atomically) and prints how many series and values each
holds.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from jqforecast._io import write_csv
from jqforecast.backtest.data import holdout_split


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", default="../shared/benchmarks/m3_yearly/m3_yearly_train.csv")
    ap.add_argument("--horizon", type=int, default=6)
    ap.add_argument("--skip", type=int, default=0, help="drop each series' last K values first")
    ap.add_argument("--out", default="benchmarks/out/holdout_m3")
    args = ap.parse_args()
    fit, held = holdout_split(args.train, args.horizon, args.skip)
    out = Path(args.out)
    for name, frame in (("train", fit), ("test", held)):
        write_csv(out / f"{name}.csv", frame)
        print(f"{out / name}.csv: {frame['unique_id'].nunique()} series, {len(frame)} values")


if __name__ == "__main__":
    main()
