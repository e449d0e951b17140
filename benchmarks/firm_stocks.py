"""Stocks of firms (unicorns and hidden champions, incubators) on simulated data with a known
truth: the growth model on log(c + ½), as ``stock=True`` metrics are routed since session
16, against the negative-binomial count model meant for counts of events.

Usage::

    python benchmarks/firm_stocks.py [--series 40] [--draws 2000] [--seed 0]
        [--out benchmarks/out/firm_stocks.json]

Why a stock of firms is routed to the growth model (``engine.series.applies``): the count
model takes each year's count as a fresh negative-binomial draw around a latent rate, so its
paths jump by sampling noise from year to year, while a stock of firms moves only by entries
and exits and is persistent. That was argued from one case (official counts 3, 4, 5); this
script measures it. A stock starts at 2–30 firms; each year every firm leaves with
probability ``exit`` (listing, acquisition, losing the title: 5–20 %) and new firms enter,
Poisson with a rate that is

* ``steady``: constant, 1–4 a year;
* ``growing``: 1–3 a year rising 10–30 % a year (a programme gathering pace).

``--series`` stocks per process and history length (4, 6 or 8 official yearly counts) are
forecast three years ahead by the default ensemble, all stocks of one cell in one call, two
ways with the same data and seed: as ``unicorns_champions`` (a stock: the growth model) and
as ``pct_filings`` (a count of events: the count model). Scores of the count three years
ahead: CRPS per firm of the last count (÷ max(last, 1)), coverage of the central 80 % and
95 % intervals, and the Brier score of "the count three years ahead ≥ k × the last count"
(k = 1, 1.25, 1.5: a target such as "8 firms" from 6). Prints a table, writes JSON
(atomically).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from _common import interval_and_event_scores, stock_benchmark, stock_parser
from cumulative_stocks import HORIZON, LAST_YEAR, table

from jqforecast import forecast
from jqforecast.backtest.scores import crps_sample

PROCESSES = ("steady", "growing")
LENGTHS = (4, 6, 8)
EVENTS = (1.0, 1.25, 1.5)
ROUTES = {"stock": "unicorns_champions", "count": "pct_filings"}


def simulate(process: str, n_years: int, rng: np.random.Generator) -> np.ndarray:
    """One stock's ``n_years`` observed counts and ``HORIZON`` future ones."""
    steps = n_years - 1 + HORIZON
    leave = rng.uniform(0.05, 0.20)
    if process == "steady":
        rate = np.full(steps, rng.uniform(1, 4))
    else:
        rate = rng.uniform(1, 3) * rng.uniform(1.1, 1.3) ** np.arange(steps)
    stock = [int(rng.integers(2, 31))]
    for r in rate:
        stock.append(int(rng.binomial(stock[-1], 1 - leave) + rng.poisson(r)))
    return np.array(stock)


def route_samples(route: str, stocks: np.ndarray, n_years: int, draws: int, seed: int):
    """Samples (series, draws) of the count ``HORIZON`` years ahead."""
    metric = ROUTES[route]
    data = table(stocks, n_years, metric)
    years = tuple(range(LAST_YEAR + 1, LAST_YEAR + HORIZON + 1))
    fc = forecast(data, years=years, draws=draws, seed=seed)
    ids = [f"{metric}/sim{i:03d}" for i in range(len(stocks))]
    return fc.paths.sel(series=ids, year=years[-1]).values.T, fc.meta["members_used"]


def scores(samples: np.ndarray, stocks: np.ndarray, n_years: int) -> dict:
    """Scores of ``samples`` (series, draws) against the counts ``HORIZON`` ahead."""
    last = stocks[:, n_years - 1].astype(float)
    truth = stocks[:, n_years - 1 + HORIZON].astype(float)
    crps = float(np.mean(crps_sample(samples, truth) / np.maximum(last, 1)))
    bars = [np.ceil(k * last) for k in EVENTS]
    return {"crps_per_firm": crps} | interval_and_event_scores(samples, truth, bars)


def main() -> None:
    ap = stock_parser(__doc__, "benchmarks/out/firm_stocks.json")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    def sample_route(route, stocks, n_years):
        samples, used = route_samples(route, stocks, n_years, args.draws, args.seed)
        return samples, {"bayes": sorted({m for u in used.values() for m in u if "bayes" in m})}

    def line(c):
        return (
            f"{c['process']:8s} {c['years']} {c['route']:6s} {'+'.join(c['bayes']):13s}"
            f" CRPS/firm {c['crps_per_firm']:.3f}  cov80 {c['cov80']:.2f}"
            f"  cov95 {c['cov95']:.2f}  Brier {c['brier']:.4f}  {c['seconds']} s"
        )

    stock_benchmark(
        args,
        f"python benchmarks/firm_stocks.py --series {args.series} --draws {args.draws} "
        f"--seed {args.seed}",
        sys.modules[__name__],
        sample_route,
        line,
    )


if __name__ == "__main__":
    main()
