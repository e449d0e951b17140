"""How well ensemble weights learned on a few series carry to others, on training data only.

Usage::

    python benchmarks/weight_stability.py
        [--train ../shared/benchmarks/m3_yearly/m3_yearly_train.csv]
        [--test ../shared/benchmarks/m3_yearly/m3_yearly_test.csv] [--horizon 6]
        [--max-history N] [--series 200] [--learn 100 ...] [--splits 40] [--boot 50] [--seed 0]
        [--out benchmarks/out/weight_stability.json]

The benchmark learns the ``jqforecast`` weights from rolling-origin backtests of 100 randomly
chosen series; on M3 another seed (another 100 series) gave other weights and a worse
ensemble. This backtests every member (the pooled Bayesian one included, as the benchmark
does) on ``--series`` series once, keeps each series' mixture-CRPS terms, then many times
splits the series at random into ``--learn`` to learn weights on and the rest to score them
on, for several ways of learning weights:

* ``optimal``: the weights minimising the mixture CRPS of the learning series (the default);
* ``bagged``: the mean of the optimal weights of ``--boot`` bootstrap resamples of the
  learning series (Breiman's bagging; resampling series, as a series' cases are correlated);
* ``equal``: every member alike; ``shrunk``: half optimal, half equal;
* ``oracle``: the optimal weights of the scoring series themselves (a bound, not a method).

Weights are learned and scored in two units: relative to the last training value at each
origin (``last``, the weights' objective up to session 9) and relative to the series' mean
absolute yearly change over its training values (``mase``, the benchmark's CRPS scale; the
library's objective since session 10 uses the same change up to each origin). Prints each
method's held-out CRPS in both units (mean over splits), its excess over the best weights for
the scoring series in that unit, and how much its weights move between splits; writes every
split to ``--out``. Several ``--learn`` sizes (e.g. ``--series 400 --learn 100 200``) are
scored on the same series in every split (those left after the largest learning set), so
how much more learning series help is measured like for like. The test file is read only so
that the series are screened exactly as the benchmark screens them; its values are not used.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections import defaultdict
from dataclasses import replace

import numpy as np
import pandas as pd
from _common import machine

from jqforecast._io import write_json
from jqforecast.backtest import jq_models as J
from jqforecast.backtest.data import read_pair, series_kind
from jqforecast.backtest.distribute import open_mapper
from jqforecast.data.metrics import Kind
from jqforecast.engine import backtest_cases, resolve_models
from jqforecast.models.ensemble import (
    crps_terms,
    mixture_crps,
    mixture_objective,
    simplex_minimum,
)


def _level(transform, train: np.ndarray) -> float:
    """Cases scored relative to the last training value (the weights' scale up to session 9);
    the MASE units are derived from these per series (:func:`series_terms`)."""
    return float(transform.inverse(train[-1:])[0])


def series_terms(cases, unit=None) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Per series: ids, case counts ``n (S,)`` and the mixture-CRPS terms ``a (S, M)``,
    ``b (S, M, M)`` averaged over its cases (:func:`~jqforecast.models.ensemble.crps_terms`).
    The cases are relative to the last training value; ``unit`` maps a series id to another
    unit (on that scale), e.g. its mean absolute yearly change (the MASE scale)."""
    by_series = defaultdict(list)
    for c in cases:
        f = c.base / unit[c.series] if unit else 1.0
        by_series[c.series].append(replace(c, samples=c.samples * f, outcome=c.outcome * f))
    ids = sorted(by_series)
    terms = [crps_terms(by_series[s]) for s in ids]
    n = np.array([len(by_series[s]) for s in ids], dtype=float)
    return ids, n, np.stack([t[0] for t in terms]), np.stack([t[1] for t in terms])


def pooled(idx: np.ndarray, n, a, b) -> tuple[np.ndarray, np.ndarray]:
    """The terms of the cases of series ``idx`` together (case-weighted means)."""
    w = n[idx] / n[idx].sum()
    return np.tensordot(w, a[idx], 1), np.tensordot(w, b[idx], 1)


def optimal(idx: np.ndarray, n, a, b) -> np.ndarray:
    """Mixture-CRPS-optimal weights of series ``idx`` (as ``fit_weights`` learns them)."""
    ai, bi = pooled(idx, n, a, b)
    return simplex_minimum(mixture_objective(ai, bi), len(ai))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", default="../shared/benchmarks/m3_yearly/m3_yearly_train.csv")
    parser.add_argument("--test", default="../shared/benchmarks/m3_yearly/m3_yearly_test.csv")
    parser.add_argument("--horizon", type=int, default=6)
    parser.add_argument("--max-history", type=int)
    parser.add_argument("--series", type=int, default=200)
    parser.add_argument("--learn", type=int, nargs="+", default=[100])
    parser.add_argument("--splits", type=int, default=40)
    parser.add_argument("--boot", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", default="benchmarks/out/weight_stability.json")
    args = parser.parse_args()

    data = read_pair(args.train, args.test, args.horizon, args.max_history)
    positive = [i for i, y in enumerate(data.histories) if series_kind(y) is Kind.LEVEL]
    rng = np.random.default_rng(args.seed)
    pick = rng.choice(positive, size=min(args.series, len(positive)), replace=False)
    series = [J.benchmark_series(data.ids[i], data.histories[i]) for i in pick]
    learners = resolve_models([*J.JQ_MEMBERS, J.BAYES], args.seed)
    single = [m for m in learners if not m.multi_series]
    multi = [m.set_params(max_points=J.BAYES_POINTS) for m in learners if m.multi_series]
    names = [m.name for m in [*single, *multi]]

    t0 = time.perf_counter()
    warnings.simplefilter("ignore")
    with open_mapper("local", args.jobs) as mapper:
        cases = backtest_cases(
            series, single, args.seed, args.horizon, multi=multi, mapper=mapper, scale=_level
        )
    backtest_seconds = time.perf_counter() - t0
    mase = {
        s.id: float(np.mean(np.abs(np.diff(s.transform.inverse(s.history.dropna().to_numpy())))))
        for s in series
    }
    units = {"last": series_terms(cases), "mase": series_terms(cases, mase)}
    ids, n = units["last"][:2]
    print(f"{len(cases)} backtest cases of {len(ids)} series in {backtest_seconds:.0f} s")

    rows, weights = [], defaultdict(list)
    m_count = len(names)
    top = max(args.learn)
    for split in range(args.splits):
        perm = rng.permutation(len(ids))
        score = perm[top:]  # the same scoring series for every learning size
        scored = {u: pooled(score, n, a, b) for u, (_, _, a, b) in units.items()}
        for size in args.learn:
            learn = perm[:size]
            boots = [rng.choice(learn, size=len(learn), replace=True) for _ in range(args.boot)]
            found = {}
            for unit, (_, _, a, b) in units.items():
                w_opt = optimal(learn, n, a, b)
                found[unit, "optimal"] = w_opt
                found[unit, "bagged"] = np.mean([optimal(i, n, a, b) for i in boots], axis=0)
                found[unit, "shrunk"] = 0.5 * w_opt + 0.5 / m_count
                found[unit, "oracle"] = optimal(score, n, a, b)
            found["-", "equal"] = np.full(m_count, 1.0 / m_count)
            for (unit, method), w in found.items():
                weights[size, unit, method].append(w)
                crps = {f"crps_{u}": mixture_crps(w, *terms) for u, terms in scored.items()}
                rows.append(
                    {"split": split, "learn": size, "learned_on": unit, "method": method}
                    | crps
                    | dict(zip(names, w.tolist(), strict=True))
                )
    table = pd.DataFrame(rows)
    for u in units:  # excess over the best weights for the scoring series in that unit
        oracle = table[(table["method"] == "oracle") & (table["learned_on"] == u)]
        best = oracle.groupby("split")[f"crps_{u}"].first()  # the same for every size
        table[f"excess_{u}_pct"] = 100 * (table[f"crps_{u}"] / table["split"].map(best) - 1)
    summary = table.groupby(["learn", "learned_on", "method"], sort=False)[
        [c for c in table if c.startswith(("crps_", "excess_"))]
    ].mean()
    summary["weight_sd"] = [np.std(weights[k], axis=0).mean() for k in summary.index]
    mean_w = pd.DataFrame(
        {f"{size}/{u}/{m}": np.mean(w, axis=0) for (size, u, m), w in weights.items()},
        index=names,
    )
    print(summary.to_string(float_format=lambda x: f"{x:.4f}"))
    print("\nmean weights over splits\n" + mean_w.to_string(float_format=lambda x: f"{x:.3f}"))
    write_json(
        args.out,
        {
            "args": vars(args),
            "machine": machine(),
            "members": names,
            "series": ids,
            "cases": len(cases),
            "backtest_seconds": backtest_seconds,
            "summary": summary.reset_index().to_dict("records"),
            "mase_scale": mase,
            "mean_weights": mean_w.to_dict(),
            "splits": rows,
        },
    )


if __name__ == "__main__":
    main()
