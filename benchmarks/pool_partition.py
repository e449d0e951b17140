"""Which series the benchmark's Bayesian member pools together, checked on training data.

Usage::

    python benchmarks/pool_partition.py [--train ../shared/benchmarks/m3_yearly/m3_yearly_train.csv]
        [--chunk 50 ...] [--order file|shifted|bagged|volatility|growth ...] [--holdout 6]
        [--draws 2000] [--damping 0.8] [--points 15 ...] [--prior KEY=VALUE ...]
        [--seed 0] [--out benchmarks/out/pool_partition.json]

The benchmark fits the pooled Bayesian growth member to chunks of at most
:data:`~jqforecast.backtest.jq_models.BAYES_CHUNK` series. To choose that size (and the order
series are chunked in) without looking at the test years, this holds out each series' last
``--holdout`` *training* values, fits the member to the rest in near-equal chunks of at most
``--chunk`` series, taken in file order, in file order shifted by half a chunk, sorted by
the volatility or the mean of their recent log growth, or ``bagged`` (half the draws from the
file-order fits, half from the shifted ones: an average over two partitions), and scores the
held-out values as the benchmark does (OWA against Naive2, CRPS, coverage, Brier). Prints a
table and writes every row to ``--out``. ``--damping``, ``--points`` and ``--prior`` change the
member itself (its damping φ; the window of last values it is fitted on, or several windows
whose fits are mixed; any key of ``bayes.DEFAULT_PRIORS``), to check such choices on
training data rather than on the test years.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from functools import partial

import numpy as np
import pandas as pd
from _common import machine

from jqforecast._io import write_json
from jqforecast.backtest import jq_models as J
from jqforecast.backtest.baselines import baseline_forecasts
from jqforecast.backtest.scoreboard import score
from jqforecast.engine import near_equal_chunks, one_blas_thread


def _order(histories: list[np.ndarray], how: str, chunk: int) -> np.ndarray:
    growth = [np.diff(np.log(h[-J.BAYES_POINTS :])) for h in histories]
    if how == "file":
        return np.arange(len(histories))
    if how == "shifted":
        return np.roll(np.arange(len(histories)), chunk // 2)
    key = [np.std(g) for g in growth] if how == "volatility" else [np.mean(g) for g in growth]
    return np.argsort(key, kind="stable")


def _fit(idx: np.ndarray, ids, histories, horizon, draws, seed, settings) -> dict[str, np.ndarray]:
    warnings.simplefilter("ignore")
    out, diagnostics = J.bayes_samples(  # one pooled fit: the caller makes the partition
        [ids[i] for i in idx],
        [histories[i] for i in idx],
        horizon,
        draws,
        seed,
        chunk=len(idx),
        settings=settings,
    )
    return {k: np.exp(v) for k, v in out.items()}, diagnostics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", default="../shared/benchmarks/m3_yearly/m3_yearly_train.csv")
    parser.add_argument("--chunk", type=int, nargs="+", default=[25, 31, 50, 100, 200])
    parser.add_argument("--order", nargs="+", default=["file"])
    parser.add_argument("--holdout", type=int, default=6)
    parser.add_argument("--draws", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--damping", type=float, help="the member's damping φ (default 0.8)")
    parser.add_argument(
        "--points",
        type=int,
        nargs="+",
        help=f"the member's window: last N values of each series (default {J.BAYES_POINTS}); "
        "several: a mixture of the fits on each window, the draws shared equally",
    )
    parser.add_argument(
        "--prior",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a prior of the Bayesian member (bayes.DEFAULT_PRIORS), repeatable",
    )
    parser.add_argument("--out", default="benchmarks/out/pool_partition.json")
    args = parser.parse_args()
    settings = {"priors": {k: float(v) for k, v in (kv.split("=", 1) for kv in args.prior)}}
    if args.damping is not None:
        settings["damping"] = args.damping
    train = pd.read_csv(args.train, dtype={"unique_id": str}).sort_values(["unique_id", "t"])
    ids, histories, outcomes = [], [], []
    for uid, g in train.groupby("unique_id"):
        y = g["y"].to_numpy(float)
        if len(y) >= args.holdout + 3 and (y > 0).all():
            ids.append(uid)
            histories.append(y[: -args.holdout])
            outcomes.append(y[-args.holdout :])
    base, _ = baseline_forecasts(ids, histories, args.holdout, 2)

    done: dict[tuple[str, int], tuple[np.ndarray, int, int]] = {}

    def samples(how: str, chunk: int) -> tuple[np.ndarray, int, int]:
        """Paths (series, draws, holdout) of the member pooled as ``how`` says, the number of
        pooled fits and of poor ones (each partition fitted once)."""
        if (how, chunk) not in done:
            done[how, chunk] = _samples(how, chunk)
        return done[how, chunk]

    def _samples(how: str, chunk: int) -> tuple[np.ndarray, int, int]:
        if how == "bagged":
            a, b = samples("file", chunk), samples("shifted", chunk)
            half = args.draws // 2
            return (
                np.concatenate([a[0][:, :half], b[0][:, :half]], axis=1),
                a[1] + b[1],
                a[2] + b[2],
            )
        order = _order(histories, how, chunk)
        parts = [np.sort(p) for p in near_equal_chunks(order, chunk)]
        windows = tuple(args.points or [J.BAYES_POINTS])  # several: a mixture of their fits
        fit = partial(
            _fit,
            ids=ids,
            histories=histories,
            horizon=args.holdout,
            draws=args.draws,
            seed=args.seed,
            settings=settings | {"max_points": windows},
        )
        with ProcessPoolExecutor(2, initializer=one_blas_thread) as pool:
            results = list(pool.map(fit, sorted(parts, key=len, reverse=True)))
        paths = {k: v for r in results for k, v in r[0].items()}
        diagnostics = [d for res in results for d in res[1]]
        return (
            np.stack([paths[i] for i in ids]),
            len(diagnostics),
            sum(not d["ok"] for d in diagnostics),
        )

    rows = []
    for how in args.order:
        for chunk in args.chunk:
            t0 = time.perf_counter()
            s, fits, poor = samples(how, chunk)
            fc = {"Naive": base["Naive"], "Naive2": base["Naive2"]}
            last = np.array([h[-1] for h in histories])
            fc["bayes"] = J.summarise(s, np.stack(outcomes), last)
            r = score(ids, histories, outcomes, fc)[0]["bayes"]
            rows.append(
                {
                    "order": how,
                    "chunk": chunk,
                    "fits": fits,
                    "poor_fits": poor,
                    "owa": r["owa"],
                    "crps_scaled": r["crps_scaled"],
                    "coverage_80": r["coverage_80"],
                    "coverage_95": r["coverage_95"],
                    "brier": r["brier_mean"],
                    "seconds": time.perf_counter() - t0,
                }
            )
            print(
                json.dumps(
                    {k: round(v, 4) if isinstance(v, float) else v for k, v in rows[-1].items()}
                )
            )
    table = pd.DataFrame(rows)
    print(table.to_string(index=False, float_format=lambda x: f"{x:.4f}"))
    write_json(
        args.out,
        {"args": vars(args), "series": len(ids), "machine": machine(), "rows": rows},
    )


if __name__ == "__main__":
    main()
