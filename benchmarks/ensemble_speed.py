"""The statistical ensemble's time against AutoETS + AutoTheta (issue #5's speed goal).

Usage::

    python benchmarks/ensemble_speed.py [--repeats 3] [--out benchmarks/out/ensemble_speed.json]
        [--member NAME ...] [--train ../shared/benchmarks/m3_yearly/m3_yearly_train.csv --test ...]
    python benchmarks/ensemble_speed.py --runs RUN_DIR [RUN_DIR ...]   # score finished runs

The goal: the statistical (non-Bayesian) ensemble on all series in at most 2× the time of
statsforecast's AutoETS + AutoTheta measured in the same run. Each repeat runs
``jqforecast benchmark --no-bayes --models jqforecast`` in a fresh process, by default with
the default ensemble's statistical members (``arima`` among them, whose AutoARIMA fits cost
about 18× AutoETS + AutoTheta on their own), or with the members given by ``--member``
(``--member rw_drift --member damped_drift --member theta --member ets``: the four fast
members, the variant measured up to session 15); both sides are timed as the
benchmark times every model, seconds inside the worker processes ÷ workers. The ensemble's
time is its weight learning (backtests, weights, recalibration map; wall time) plus its
forecasting, the recalibration of its draws included (``recalibration`` below is that part:
the ``jqforecast`` row's seconds minus ``jqforecast_uncalibrated``'s). Between runs of the
same code the ratio moves by about ±0.15 on the 2-core machine, as the baselines' own time
does, so several repeats and their median are reported. Prints a table, writes JSON
(atomically).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from _common import machine

from jqforecast._io import write_json
from jqforecast.backtest.jq_models import JQ_MEMBERS

M3 = Path("../shared/benchmarks/m3_yearly")


def ratio_row(metrics: dict) -> dict:
    """The speed goal's numbers of one run, from its ``metrics.json``.

    Examples
    --------
    >>> m = {"weight_learning_seconds": 1.2, "models": {
    ...     "jqforecast": {"seconds": 1.2}, "jqforecast_uncalibrated": {"seconds": 1.0},
    ...     "AutoETS": {"seconds": 0.5}, "AutoTheta": {"seconds": 0.5}}}
    >>> row = ratio_row(m)
    >>> [round(row[k], 3) for k in ("recalibration", "ensemble", "autoets_autotheta", "ratio")]
    [0.2, 2.4, 1.0, 2.4]
    """
    rows = metrics["models"]
    forecasting = rows["jqforecast"]["seconds"]
    raw = rows.get("jqforecast_uncalibrated", {}).get("seconds", forecasting)
    ensemble = metrics["weight_learning_seconds"] + forecasting
    baselines = rows["AutoETS"]["seconds"] + rows["AutoTheta"]["seconds"]
    return {
        "weight_learning": metrics["weight_learning_seconds"],
        "forecasting": forecasting,
        "recalibration": forecasting - raw,
        "ensemble": ensemble,
        "autoets_autotheta": baselines,
        "ratio": ensemble / baselines,
    }


def run_once(
    train: Path, test: Path, out: Path, seed: int, members: tuple[str, ...] = JQ_MEMBERS
) -> dict:
    """One statistical benchmark run of the ensemble of ``members`` in a fresh process; its
    ``metrics.json``."""
    command = [
        shutil.which("jqforecast") or str(Path(sys.executable).with_name("jqforecast")),
        "benchmark",
        *("--train", str(train), "--test", str(test), "--horizon", "6", "--out", str(out)),
        *("--seed", str(seed), "--no-bayes", "--models", "jqforecast"),
        *(arg for m in members for arg in ("--member", m)),
    ]
    subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads((out / "metrics.json").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", type=Path, default=M3 / "m3_yearly_train.csv")
    parser.add_argument("--test", type=Path, default=M3 / "m3_yearly_test.csv")
    parser.add_argument(
        "--member",
        action="append",
        choices=JQ_MEMBERS,
        help="an ensemble member (repeat; default: the default ensemble's statistical members)",
    )
    parser.add_argument("--runs", nargs="+", type=Path, help="score these finished runs instead")
    parser.add_argument("--out", default="benchmarks/out/ensemble_speed.json")
    args = parser.parse_args()
    if args.runs:
        runs = {
            str(d): json.loads((d / "metrics.json").read_text(encoding="utf-8")) for d in args.runs
        }
    else:
        runs = {}
        for i in range(args.repeats):
            where = Path(args.out).with_suffix("") / f"run{i}"
            started = time.perf_counter()
            members = tuple(args.member or JQ_MEMBERS)
            runs[str(where)] = run_once(args.train, args.test, where, args.seed, members)
            print(f"run {i}: {time.perf_counter() - started:.0f} s", flush=True)
    table = pd.DataFrame({name: ratio_row(m) for name, m in runs.items()}).T
    table["members"] = [" ".join(m.get("members", ["?"])) for m in runs.values()]
    print(table.to_string(float_format=lambda x: f"{x:.2f}"))
    median = table.drop(columns="members").median()
    print(
        f"median ratio {median['ratio']:.2f} (range {table['ratio'].min():.2f}–"
        f"{table['ratio'].max():.2f}; goal ≤ 2)"
    )
    write_json(
        args.out,
        {
            "goal": "statistical ensemble ≤ 2 × (AutoETS + AutoTheta), same run",
            "runs": table.reset_index(names="run").to_dict("records"),
            "median": median.to_dict(),
            "machine": machine(),
            "date": time.strftime("%Y-%m-%d"),
        },
    )


if __name__ == "__main__":
    main()
