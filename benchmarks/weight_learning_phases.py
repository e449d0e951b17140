"""Where the benchmark's weight learning spends its wall time: every job the backtests send to
the workers, with its worker, start and end, grouped into the map calls (phases) they ran in.

Usage::

    python benchmarks/weight_learning_phases.py [--seed 1] [--jobs 2] [--max-history N]
        [--train ../shared/benchmarks/m3_yearly/m3_yearly_train.csv --test ...]
        [--out benchmarks/out/weight_learning_phases_seed1.json]

Learns the default ensemble's weights (statistical members and the pooled Bayesian member)
on the same ``--weight-series 100`` series ``jqforecast benchmark --seed N`` picks, through a
process pool of ``--jobs`` workers whose map records each job. Per phase it prints the jobs,
wall time, busy time summed over jobs and the workers' idle time (``jobs × wall − busy``);
the pooled MCMC fits also one by one. Writes every job and the table as JSON (atomically).
Session 25 used it to see why seed 1's weight learning took 355 s against 247–271 s.
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from _common import machine

from jqforecast._io import write_json
from jqforecast.backtest.data import read_pair
from jqforecast.backtest.jq_models import BAYES, BAYES_POINTS, JQ_MEMBERS, benchmark_series
from jqforecast.data.metrics import Kind
from jqforecast.engine import one_blas_thread, resolve_models
from jqforecast.engine.weights import learn_weights

M3 = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "m3_yearly"


def _job_name(fn) -> str:
    """The function a job runs, through ``partial`` and ``map_chunked``'s ``_each``."""
    while hasattr(fn, "func"):
        fn = fn.args[0] if fn.func.__name__ == "_each" else fn.func
    return fn.__name__


def _timed(fn, item):
    start = time.time()
    out = fn(item)
    return out, (os.getpid(), _job_name(fn), start, time.time())


def phases(log: list[tuple[int, str, float, float]], workers: int) -> list[dict]:
    """Consecutive jobs of one function, as one map call ran them: wall, busy and idle time.

    >>> phases([(1, "a", 0.0, 2.0), (2, "a", 0.0, 1.0), (1, "b", 2.0, 3.0)], 2)[0]["idle"]
    1.0
    """
    out: list[dict] = []
    for pid, name, start, end in log:
        if not out or out[-1]["name"] != name:
            out.append({"name": name, "jobs": []})
        out[-1]["jobs"].append((pid, start, end))
    first = min(start for _, _, start, _ in log)
    for p in out:
        jobs = p.pop("jobs")
        start, end = min(j[1] for j in jobs), max(j[2] for j in jobs)
        busy = sum(j[2] - j[1] for j in jobs)
        p |= {
            "count": len(jobs),
            "start": start - first,
            "wall": end - start,
            "busy": busy,
            "idle": workers * (end - start) - busy,
            "seconds": [j[2] - j[1] for j in jobs],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=Path, default=M3 / "m3_yearly_train.csv")
    ap.add_argument("--test", type=Path, default=M3 / "m3_yearly_test.csv")
    ap.add_argument("--horizon", type=int, default=6)
    ap.add_argument("--max-history", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    data = read_pair(a.train, a.test, a.horizon, a.max_history)
    # the series `jqforecast benchmark --seed N` learns its weights on (benchmark.py)
    pick = np.random.default_rng(a.seed).choice(len(data.ids), size=100, replace=False)
    picked = [benchmark_series(data.ids[i], data.histories[i]) for i in pick]
    picked = [s for s in picked if s.transform.kind is Kind.LEVEL]
    learners = resolve_models([*JQ_MEMBERS, BAYES], a.seed)
    for m in learners:
        if m.multi_series:
            m.set_params(max_points=BAYES_POINTS)
    log: list = []
    with ProcessPoolExecutor(a.jobs, initializer=one_blas_thread) as pool:

        def mapper(fn, items):
            done = list(pool.map(partial(_timed, fn), items))
            log.extend(d[1] for d in done)
            return [d[0] for d in done]

        t0 = time.perf_counter()
        weights, _ = learn_weights(
            picked, learners, a.seed, a.horizon, backtest_multi=True, mapper=mapper
        )
        wall = time.perf_counter() - t0
    table = phases(log, a.jobs)
    print(f"weight learning {wall:.1f} s, {a.jobs} workers, seed {a.seed}; weights {weights}")
    print(f"{'phase':24s} {'jobs':>4s} {'start':>7s} {'wall':>7s} {'busy':>7s} {'idle':>7s}")
    for p in table:
        print(
            f"{p['name']:24s} {p['count']:4d} {p['start']:7.1f} {p['wall']:7.1f} "
            f"{p['busy']:7.1f} {p['idle']:7.1f}",
            " ".join(f"{s:.1f}" for s in p["seconds"]) if p["name"].startswith("_pooled") else "",
        )
    out = a.out or Path(f"benchmarks/out/weight_learning_phases_seed{a.seed}.json")
    write_json(
        out,
        {"machine": machine(), "seed": a.seed, "jobs": a.jobs, "wall": wall, "phases": table},
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
