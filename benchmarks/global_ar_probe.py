"""Probe (session 12): a *global* linear AR on log growth, fitted across all series at once.

Usage::

    python benchmarks/global_ar_probe.py \
        [--train ../shared/benchmarks/m3_yearly/m3_yearly_train.csv]

Global models (one set of coefficients for every series; Montero-Manso & Hyndman 2021) are
a candidate ensemble member the pooled Bayesian member does not cover. Training data only:
each M3 training series' last 6 values are held out; the model regresses the log change k
years ahead (k = 1..6, one ridge regression per k, "direct") on the last L yearly log
growths of every window of every series' remaining history, and is scored against
damped drift and Theta on the held-out values (OWA against Naive2, as the benchmark).
Prints the table; nothing is written.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

from jqforecast.backtest import metrics as M
from jqforecast.models.statistical import DampedDrift, Theta

H = 6


def _growth(h: np.ndarray) -> np.ndarray:
    return np.clip(np.diff(np.log(h)), -1.0, 1.0)


def fit_direct(histories: list[np.ndarray], lags: int, ridge: float) -> list[np.ndarray]:
    """Pooled ridge coefficients (intercept first) for each step ahead."""
    coefs = []
    for k in range(1, H + 1):
        x, y = [], []
        for h in histories:
            lg, g = np.log(h), _growth(h)
            for t in range(lags, len(g) - k + 1):  # growths g[t-L:t] → log change t..t+k
                x.append(g[t - lags : t][::-1])
                y.append(lg[t + k] - lg[t])
        xa = np.c_[np.ones(len(x)), np.array(x)]
        penalty = ridge * len(x) * np.diag([0.0] + [1.0] * lags)
        coefs.append(np.linalg.solve(xa.T @ xa + penalty, xa.T @ np.array(y)))
    return coefs


def predict(histories: list[np.ndarray], coefs: list[np.ndarray], lags: int) -> np.ndarray:
    out = []
    for h in histories:
        x = np.r_[1.0, _growth(h)[-lags:][::-1]]
        out.append([h[-1] * np.exp(x @ c) for c in coefs])
    return np.array(out)


def member_median(model, h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        paths = model.fit(pd.Series(np.log(h), index=range(len(h)))).simulate(H, 2000, rng)
    return np.exp(np.median(paths, axis=0))  # the median commutes with exp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--train", default="../shared/benchmarks/m3_yearly/m3_yearly_train.csv")
    args = ap.parse_args()
    train = pd.read_csv(args.train)
    series = [g.sort_values("t")["y"].to_numpy(float) for _, g in train.groupby("unique_id")]
    histories = [s[:-H] for s in series]
    truth = np.array([s[-H:] for s in series])
    scale = M.mase_scale(histories)

    def owa_of(f: np.ndarray) -> tuple[float, float, float]:
        s, m = float(np.mean(M.smape(truth, f))), float(np.mean(M.mase(truth, f, scale)))
        return s, m, M.owa(s, m, s_naive, m_naive)

    naive = np.array([[h[-1]] * H for h in histories])
    s_naive, m_naive = (
        float(np.mean(M.smape(truth, naive))),
        float(np.mean(M.mase(truth, naive, scale))),
    )
    rng = np.random.default_rng(0)
    rows = {
        "damped_drift": np.array([member_median(DampedDrift(), h, rng) for h in histories]),
        "theta": np.array([member_median(Theta(), h, rng) for h in histories]),
    }
    for lags in (1, 2, 3, 4, 5, 6):
        for ridge in (0.0, 0.1, 1.0):
            rows[f"global AR L={lags} ridge={ridge}"] = predict(
                histories, fit_direct(histories, lags, ridge), lags
            )
    print(f"{len(series)} series, last {H} training values held out")
    print(f"{'model':28s} {'sMAPE':>7s} {'MASE':>7s} {'OWA':>7s}")
    for name, f in rows.items():
        s, m, o = owa_of(f)
        print(f"{name:28s} {s:7.2f} {m:7.3f} {o:7.4f}")


if __name__ == "__main__":
    main()
