"""How much the benchmark's numbers move with the seed: a table over runs of the same command.

Usage::

    python benchmarks/seed_spread.py RUN_DIR [RUN_DIR ...] [--models jqforecast bayes_growth]
        [--out benchmarks/out/seed_spread.json]

Each ``RUN_DIR`` is the ``--out`` folder of one ``jqforecast benchmark`` run; the runs should
differ only in ``--seed`` (checked: same train/test files, horizon, history, draws, members,
combination, where the weights come from).
The seed picks the series whose backtests learn the ensemble weights and drives every MCMC
chain and sample path, so the spread over seeds is the yardstick a difference between two
configurations has to clear. Prints, per model and metric, each run's value and their mean,
standard deviation and range, and writes them to ``--out``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from jqforecast._io import write_json

METRICS = ("owa", "smape", "mase", "crps_scaled", "coverage_80", "coverage_95", "msis_95")
SAME = ("train", "test", "horizon", "max_history", "draws", "members", "combine", "weights_from")
OLDER = {"weights_from": "learned"}  # what runs made before a key was recorded had


def spread(runs: list[dict], models: list[str]) -> pd.DataFrame:
    """One row per model and metric: the runs' values (columns ``seed <s>``), mean, sd, range.

    Examples
    --------
    >>> runs = [{"seed": s, "models": {"m": {"owa": v, "brier_mean": v / 10}}}
    ...         for s, v in [(0, 0.84), (1, 0.83)]]
    >>> spread(runs, ["m"]).loc[("m", "owa"), ["mean", "range"]].round(3).tolist()
    [0.835, 0.01]
    """
    rows = {}
    for model in models:
        for metric in (*METRICS, "brier_mean"):
            values = {
                f"seed {r['seed']}": r["models"][model][metric]
                for r in runs
                if metric in r["models"].get(model, {})
            }
            if not values:
                continue
            v = pd.Series(values)
            rows[model, metric] = {
                **values,
                "mean": v.mean(),
                "sd": v.std(ddof=1) if len(v) > 1 else float("nan"),
                "range": v.max() - v.min(),
            }
    return pd.DataFrame.from_dict(rows, orient="index")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--models", nargs="+", default=["jqforecast", "bayes_growth"])
    parser.add_argument("--out", default="benchmarks/out/seed_spread.json")
    args = parser.parse_args()
    runs = [json.loads((d / "metrics.json").read_text(encoding="utf-8")) for d in args.runs]
    for key in SAME:
        values = {json.dumps(r.get(key, OLDER.get(key))) for r in runs}
        if len(values) > 1:
            parser.error(
                f"the runs differ in {key!r} ({', '.join(sorted(values))}), not only the seed"
            )
    table = spread(runs, args.models)
    print(table.to_string(float_format=lambda x: f"{x:.4f}"))
    weights = pd.DataFrame({f"seed {r['seed']}": r["weights"] for r in runs}).fillna(0.0)
    print("\nensemble weights\n" + weights.to_string(float_format=lambda x: f"{x:.3f}"))
    write_json(
        args.out,
        {
            "runs": [str(d) for d in args.runs],
            "table": [
                {"model": m, "metric": k, **row} for (m, k), row in table.to_dict("index").items()
            ],
            "weights": weights.to_dict(),
        },
    )


if __name__ == "__main__":
    main()
