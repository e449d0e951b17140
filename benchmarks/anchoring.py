"""Official figures informing the shared derivation factors, on simulated data with a known
truth (:mod:`jqforecast.engine.anchors`).

Usage::

    python benchmarks/anchoring.py [--datasets 300] [--forecasts 30] [--draws 1000] [--seed 0]
        [--out benchmarks/out/anchoring.json]

The park's situation, simulated: three revenue series (IC, biomedicine, AI) whose true
log levels are random walks with drift (drift 2–15 % a year, yearly volatility σ), every
figure derived with one shared assumption of sd 0.3 (true = derived × e^(0.3 f), f drawn
from N(0, 1) for each data set), except IC's last year, an official figure.

Part 1, the factor (``--datasets`` data sets per cell; cells: σ = 0.05, 0.1, 0.2, 0.3 or
drawn per series from M3's yearly series — the per-series sd of yearly log changes of
``../shared/benchmarks/m3_yearly/m3_yearly_train.csv``, when it is there — × 5 or 7 years):
coverage of the posterior's central 50 / 80 / 90 / 95 % intervals of the true factor, the
mean z-score, the posterior mean's RMSE (the prior's mean 0 has RMSE 1) and the median
posterior sd.

Part 2, the forecast (``--forecasts`` data sets per cell, σ = 0.1 and 0.2, 7 years, the
statistical ensemble, two years ahead): ``jqforecast.forecast`` with and without
``update_assumptions``, scored on the true total of the three revenues and on the true
biomedicine and AI revenues (the series *without* an official figure, which only the
shared factor ties to IC's): CRPS relative to the truth, coverage of the 80 % and 95 %
intervals, and the Brier score of the events "total ≥ k × last year's true total", k =
1.0, 1.2, 1.4. Prints tables and writes JSON (atomically).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from _common import machine

from jqforecast import forecast
from jqforecast._io import write_json
from jqforecast.backtest.scores import crps_sample
from jqforecast.engine.anchors import factor_posterior

SD = 0.3  # the shared assumption's sd on the log scale
INDUSTRIES = ("ic", "biomed", "ai")
M3_TRAIN = Path("../shared/benchmarks/m3_yearly/m3_yearly_train.csv")
LEVELS = (50, 80, 90, 95)
EVENTS = (1.0, 1.2, 1.4)
AHEAD = 2


def m3_volatilities() -> np.ndarray | None:
    """Per-series sd of yearly log changes over M3's yearly training series (None if the
    file is not beside the repository)."""
    if not M3_TRAIN.exists():
        return None
    d = pd.read_csv(M3_TRAIN).sort_values(["unique_id", "t"])
    sds = d.groupby("unique_id")["y"].apply(lambda y: np.diff(np.log(y.to_numpy())).std(ddof=1))
    return sds.to_numpy()


def simulate(rng, n_years: int, sigma, f: float) -> tuple[pd.DataFrame, dict]:
    """One data set (the long table) and the true values of every series, observed years
    and ``AHEAD`` more. ``sigma``: a number, or an array to draw each series' from."""
    years = list(range(2025 - n_years, 2025 + AHEAD))
    frames, truth = [], {}
    for industry in INDUSTRIES:
        s = float(rng.choice(sigma)) if np.ndim(sigma) else float(sigma)
        true = np.log(rng.uniform(100, 1000)) + np.cumsum(
            rng.normal(rng.uniform(0.02, 0.15), s, len(years))
        )
        truth[industry] = pd.Series(np.exp(true), index=years)
        observed = years[:n_years]
        derived = [industry != "ic" or y < observed[-1] for y in observed]
        d = np.asarray(derived, dtype=float)
        frames.append(
            pd.DataFrame(
                {
                    "metric": "revenue",
                    "industry": industry,
                    "year": observed,
                    "value": np.exp(true[:n_years] - SD * f * d),
                    "unit": "亿元",
                    "status": ["derived" if x else "official" for x in derived],
                    "rel_sd": [SD if x else np.nan for x in derived],
                    "assumption": ["share" if x else None for x in derived],
                }
            )
        )
    return pd.concat(frames, ignore_index=True), truth


def factor_cell(rng, n: int, n_years: int, sigma) -> dict:
    """Part 1: the posterior of the factor over ``n`` data sets."""
    z, sds, errors = [], [], []
    for _ in range(n):
        f = rng.standard_normal()
        data, _ = simulate(rng, n_years, sigma, f)
        post = factor_posterior(data, {"share": SD})
        m, s = post.means()["share"], post.sd()["share"]
        z.append((m - f) / s)
        sds.append(s)
        errors.append(m - f)
    z = np.asarray(z)
    from scipy.stats import norm

    out = {f"cov{q}": float(np.mean(np.abs(z) < norm.ppf(0.5 + q / 200))) for q in LEVELS}
    return out | {
        "mean_z": float(z.mean()),
        "rmse": float(np.sqrt(np.mean(np.square(errors)))),
        "median_sd": float(np.median(sds)),
    }


def forecast_cell(rng, n: int, sigma: float, draws: int, seed: int) -> list[dict]:
    """Part 2: scores of both routes on ``n`` data sets (7 years each)."""
    rows = []
    target_year = 2024 + AHEAD
    for k in range(n):
        f = rng.standard_normal()
        data, truth = simulate(rng, 7, sigma, f)
        total_true = sum(truth[i][target_year] for i in INDUSTRIES)
        last_total = sum(truth[i][2024] for i in INDUSTRIES)
        for update in (True, False):
            fc = forecast(
                data,
                years=(2025, target_year),
                models="statistical",
                draws=draws,
                seed=seed + k,
                assumptions={},
                update_assumptions=update,
            )
            total = sum(fc.values(f"revenue/{i}", target_year) for i in INDUSTRIES)
            row = {"update": update, "sigma": sigma, "f": f}
            for name, x, y in (
                ("total", total, total_true),
                *((i, fc.values(f"revenue/{i}", target_year), truth[i][target_year])
                  for i in ("biomed", "ai")),
            ):  # fmt: skip
                row[f"crps_{name}"] = float(crps_sample(x[None, :], np.array([y]))[0] / y)
                for q in (80, 95):
                    lo, hi = np.quantile(x, [0.5 - q / 200, 0.5 + q / 200])
                    row[f"cov{q}_{name}"] = float(lo <= y <= hi)
            row["brier_total"] = float(
                np.mean(
                    [
                        (np.mean(total >= e * last_total) - float(total_true >= e * last_total))
                        ** 2
                        for e in EVENTS
                    ]
                )
            )
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=int, default=300, help="data sets per factor cell")
    ap.add_argument("--forecasts", type=int, default=30, help="data sets per forecast cell")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="benchmarks/out/anchoring.json")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(args.seed)
    vols = m3_volatilities()
    sigmas: list = [0.05, 0.1, 0.2, 0.3] + ([vols] if vols is not None else [])
    cells = []
    print("Part 1: the factor's posterior (coverage of the true factor)")
    for sigma in sigmas:
        for n_years in (5, 7):
            label = "M3" if np.ndim(sigma) else f"{sigma:g}"
            cell = {"sigma": label, "years": n_years} | factor_cell(
                rng, args.datasets, n_years, sigma
            )
            cells.append(cell)
            print(
                f"σ {label:>4s}  {n_years} years  "
                + "  ".join(f"cov{q} {cell[f'cov{q}']:.3f}" for q in LEVELS)
                + f"  mean z {cell['mean_z']:+.3f}  RMSE {cell['rmse']:.3f}"
                f"  median sd {cell['median_sd']:.3f}",
                flush=True,
            )
    print("\nPart 2: the forecast two years ahead, with and without the update")
    start = time.perf_counter()
    rows = []
    for sigma in (0.1, 0.2):
        rows += forecast_cell(rng, args.forecasts, sigma, args.draws, args.seed)
    frame = pd.DataFrame(rows)
    summary = frame.drop(columns="f").groupby(["sigma", "update"]).mean()
    print(summary.round(4).T.to_string())
    print(f"({time.perf_counter() - start:.0f} s)")
    write_json(
        args.out,
        {
            "command": "python benchmarks/anchoring.py "
            f"--datasets {args.datasets} --forecasts {args.forecasts} --draws {args.draws} "
            f"--seed {args.seed}",
            "machine": machine(),
            "factor_cells": cells,
            "forecast_rows": rows,
            "forecast_mean": {
                f"sigma={s} update={u}": v
                for (s, u), v in summary.round(5).to_dict(orient="index").items()
            },
        },
    )
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
