"""Cumulative stocks on simulated data with a known truth: forecast through their annual
additions (the default since session 17) or as a level kept from falling (sessions 12–16).

Usage::

    python benchmarks/cumulative_stocks.py [--series 40] [--draws 2000] [--seed 0] [--gap]
        [--out benchmarks/out/cumulative_stocks.json]

No real benchmark of running totals (recognitions, certifications) exists here, so the truth
is simulated. A stock starts at 0–30 and grows each year by negative-binomial additions
(dispersion 5) whose mean follows one of three processes:

* ``steady``: a constant rate of 1–10 a year;
* ``trending``: a log-rate random walk (sd 0.15) with drift −10 % … +20 % a year;
* ``slowing``: a rate falling by 15 % a year from 4–15 (a programme running out of firms).

``--series`` stocks per process and history length (4, 6 or 8 years, the park's smart
factories have 4) are observed as official counts and forecast three years ahead by the
default ensemble, all the stocks of one cell in one call (the Bayesian members pool them),
two ways with the same data and seed:

* ``additions``: the stock as ``smart_factories`` (a cumulative metric: its additions are
  forecast as counts and added up);
* ``level``: the same values as a non-cumulative stock metric (the growth model on
  log(c + ½)), then every path raised to the running maximum of the last observation and
  its earlier years, as :func:`jqforecast.result.keep_cumulative` did in the engine.

Scores of the stock three years ahead: CRPS per unit of the history's mean addition,
coverage of the central 80 % and 95 % intervals, the Brier score of the events "the
stock adds at least k × three years of the history's mean addition" (k = ½, 1, 1½, the
kind of question a target asks), and the share of the level route's draws that had to be
raised. Prints a table and writes JSON (atomically).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd
from _common import interval_and_event_scores, stock_benchmark, stock_parser

from jqforecast import forecast
from jqforecast.backtest.scores import crps_sample

PROCESSES = ("steady", "trending", "slowing")
LENGTHS = (4, 6, 8)
HORIZON = 3
EVENTS = (0.5, 1.0, 1.5)
LAST_YEAR = 2023
ROUTES = {"additions": "smart_factories", "level": "unicorns_champions"}


def simulate(process: str, n_years: int, rng: np.random.Generator) -> np.ndarray:
    """One stock's ``n_years`` observed values and ``HORIZON`` future ones."""
    steps = n_years - 1 + HORIZON
    if process == "steady":
        rate = np.full(steps, rng.uniform(1, 10))
    elif process == "trending":
        drift = rng.uniform(np.log(0.9), np.log(1.2))
        rate = rng.uniform(2, 8) * np.exp(np.cumsum(drift + 0.15 * rng.standard_normal(steps)))
    else:
        rate = rng.uniform(4, 15) * 0.85 ** np.arange(steps)
    phi = 5.0
    added = rng.poisson(rng.gamma(phi, rate / phi))
    return rng.integers(0, 31) + np.r_[0, np.cumsum(added)]


def table(stocks: np.ndarray, n_years: int, metric: str, gap: bool = False) -> pd.DataFrame:
    """The observed part of ``stocks`` (series, years) as the long table; with ``gap`` the
    second-to-last year is missing (4 years: observed in 2020, 2021, 2023, as the park's
    smart factories are)."""
    years = range(LAST_YEAR - n_years + 1, LAST_YEAR + 1)
    rows = [
        {
            "metric": metric,
            "industry": f"sim{i:03d}",
            "year": y,
            "value": float(v),
            "unit": "家",
            "status": "official",
            "source": "simulated",
            "note": None,
            "assumption": None,
            "rel_sd": None,
        }  # fmt: skip
        for i, s in enumerate(stocks)
        for y, v in zip(years, s[:n_years], strict=True)
        if not (gap and y == LAST_YEAR - 1)
    ]
    return pd.DataFrame(rows)


def route_paths(
    route: str, stocks: np.ndarray, n_years: int, draws: int, seed: int, gap: bool = False
):
    """Paths (series, draws) of the stock ``HORIZON`` years ahead, and the share raised."""
    metric = ROUTES[route]
    years = tuple(range(LAST_YEAR + 1, LAST_YEAR + HORIZON + 1))
    data = table(stocks, n_years, metric, gap)
    fc = forecast(data, years=years, draws=draws, seed=seed)
    ids = [f"{metric}/sim{i:03d}" for i in range(len(stocks))]
    paths = fc.paths.sel(series=ids).values  # (draws, series, years)
    raised = np.nan
    if route == "level":  # what keep_cumulative did: the running maximum from the last value
        last = stocks[:, n_years - 1].astype(float)[None, :, None]
        kept = np.maximum.accumulate(np.maximum(paths, last), axis=2)
        raised = float(np.mean((kept > paths).any(axis=2)))
        paths = kept
    return paths[:, :, -1].T, raised


def scores(samples: np.ndarray, stocks: np.ndarray, n_years: int) -> dict:
    """Scores of ``samples`` (series, draws) against the stocks' value ``HORIZON`` ahead."""
    last = stocks[:, n_years - 1].astype(float)
    truth = stocks[:, n_years - 1 + HORIZON].astype(float)
    pace = np.maximum((last - stocks[:, 0]) / (n_years - 1), 0.5)  # mean addition, ≥ ½
    crps = float(np.mean(crps_sample(samples, truth) / pace))
    bars = [last + k * HORIZON * pace for k in EVENTS]
    return {"crps_per_addition": crps} | interval_and_event_scores(samples, truth, bars)


def main() -> None:
    ap = stock_parser(__doc__, "benchmarks/out/cumulative_stocks.json")
    ap.add_argument("--gap", action="store_true", help="the second-to-last year unobserved")
    args = ap.parse_args()
    warnings.simplefilter("ignore")

    def sample_route(route, stocks, n_years):
        samples, raised = route_paths(route, stocks, n_years, args.draws, args.seed, args.gap)
        return samples, {"raised": raised}

    def line(c):
        return (
            f"{c['process']:9s} {c['years']} {c['route']:9s} CRPS/add {c['crps_per_addition']:.3f}"
            f"  cov80 {c['cov80']:.2f}  cov95 {c['cov95']:.2f}"
            f"  Brier {c['brier']:.4f}  raised {c['raised']:.2f}  {c['seconds']} s"
        )

    stock_benchmark(
        args,
        f"python benchmarks/cumulative_stocks.py --series {args.series} --draws {args.draws} "
        f"--seed {args.seed}" + (" --gap" if args.gap else ""),
        sys.modules[__name__],
        sample_route,
        line,
    )


if __name__ == "__main__":
    main()
