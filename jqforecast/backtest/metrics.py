"""Accuracy and calibration metrics, defined exactly as in the M4 competition where it has them.

All functions are vectorised over series: arrays are ``(series, horizon)`` unless noted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

EVENT_THRESHOLDS: dict[str, float] = {
    "p_ge_m10": -0.10,
    "p_ge_0": 0.0,
    "p_ge_p10": 0.10,
    "p_ge_p25": 0.25,
}
EVENT_H = 2  # events are about the value two years ahead (the plan's 2026 from 2024)


def smape(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """sMAPE in percent per series: ``200/h Σ |y − f| / (|y| + |f|)`` (M4 definition; a
    term with ``y = f = 0`` counts as 0, an exact forecast).

    Examples
    --------
    >>> float(smape(np.array([[100.0]]), np.array([[110.0]]))[0])  # 200·10/210
    9.523809523809524
    """
    den = np.abs(y) + np.abs(f)
    terms = np.divide(np.abs(y - f), den, out=np.zeros(np.broadcast(y, f).shape), where=den > 0)
    return 200.0 * np.mean(terms, axis=-1)


def mase_scale(history: list[np.ndarray], m: int = 1) -> np.ndarray:
    """In-sample mean absolute ``m``-step naive error per series (the MASE denominator)."""
    return np.array([np.mean(np.abs(h[m:] - h[:-m])) for h in history])


def mase(y: np.ndarray, f: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """MASE per series: mean absolute error divided by the in-sample naive scale."""
    return np.mean(np.abs(y - f), axis=-1) / scale


def owa(smape_model: float, mase_model: float, smape_naive2: float, mase_naive2: float) -> float:
    """Overall weighted average relative to Naive2 (M4): ½ (sMAPE/sMAPE₂ + MASE/MASE₂)."""
    return 0.5 * (smape_model / smape_naive2 + mase_model / mase_naive2)


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of outcomes inside ``[lo, hi]``."""
    return float(np.mean((y >= lo) & (y <= hi)))


def msis(
    y: np.ndarray, lo: np.ndarray, hi: np.ndarray, scale: np.ndarray, alpha: float = 0.05
) -> np.ndarray:
    """Mean scaled interval score per series (M4): width plus 2/α × miss, over the scale.

    Examples
    --------
    >>> float(msis(np.array([[12.0]]), np.array([[8.0]]), np.array([[10.0]]),
    ...            np.array([1.0]))[0])  # 2 + 40·2
    82.0
    """
    score = (hi - lo) + (2 / alpha) * (lo - y) * (y < lo) + (2 / alpha) * (y - hi) * (y > hi)
    return np.mean(score, axis=-1) / scale


def crps_normal(y: np.ndarray, mu: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Closed-form CRPS of a normal forecast (Gneiting & Raftery 2007)."""
    z = (y - mu) / sd
    return sd * (z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi))


def brier(p: np.ndarray, outcome: np.ndarray) -> float:
    """Mean squared error of probabilities against 0/1 outcomes."""
    return float(np.mean((p - outcome) ** 2))


def log_score(p: np.ndarray, outcome: np.ndarray, eps: float = 1e-4) -> float:
    """Mean negative log-likelihood of 0/1 outcomes; probabilities clipped to [eps, 1-eps]."""
    p = np.clip(p, eps, 1 - eps)
    return float(-np.mean(outcome * np.log(p) + (1 - outcome) * np.log1p(-p)))


def reliability_table(p: np.ndarray, outcome: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Binned predicted probability vs observed frequency (for a reliability diagram)."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    rows = []
    for b in range(bins):
        sel = idx == b
        rows.append(
            {
                "bin_lo": edges[b],
                "bin_hi": edges[b + 1],
                "n": int(sel.sum()),
                "mean_predicted": float(p[sel].mean()) if sel.any() else np.nan,
                "observed_freq": float(outcome[sel].mean()) if sel.any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def gaussian_from_interval(
    mean: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float = 95
) -> np.ndarray:
    """Standard deviation implied by a central Gaussian interval."""
    z = stats.norm.ppf(0.5 + level / 200)
    return np.maximum((hi - lo) / (2 * z), 1e-12)


def event_probabilities_gaussian(mean: np.ndarray, sd: np.ndarray, last: np.ndarray) -> dict:
    """P(y ≥ last·(1+g)) for each event threshold from a Gaussian forecast."""
    return {
        k: 1 - stats.norm.cdf((last * (1 + g) - mean) / sd) for k, g in EVENT_THRESHOLDS.items()
    }


def event_probabilities_samples(samples: np.ndarray, last: np.ndarray) -> dict:
    """P(y ≥ last·(1+g)) for each event threshold from samples ``(series, draws)``."""
    return {
        k: np.mean(samples >= (last * (1 + g))[:, None], axis=1)
        for k, g in EVENT_THRESHOLDS.items()
    }
