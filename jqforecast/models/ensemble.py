"""Ensemble weights that minimise the CRPS of the mixture in rolling-origin backtests.

For a mixture with weights ``w`` of members with samples ``X_i``, the CRPS against outcome
``y`` is exactly ``Σ w_i E|X_i − y| − ½ Σ w_i w_j E|X_i − X_j|``, a convex quadratic in ``w``
on the simplex (the second term is an energy distance). So the weights are the solution of a
small quadratic programme over the backtest cases, not a heuristic inverse-score rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from jqforecast.backtest.scores import mean_abs_diff

PRUNE_BELOW = 0.01


@dataclass
class BacktestCase:
    """Member samples (members × draws) for one held-out value, the value itself, and how
    many years after the forecast origin it lies."""

    samples: np.ndarray
    outcome: float
    step: int = 1


def crps_terms(cases: list[BacktestCase]) -> tuple[np.ndarray, np.ndarray]:
    """``A_i = E|X_i − y|`` (M,) and ``B_ij = E|X_i − X_j|`` (M, M), averaged over cases
    (every case's pairs at once: one batched merged sort per member pair)."""
    x = np.stack([c.samples for c in cases])  # (cases, members, draws)
    y = np.array([c.outcome for c in cases])
    a = np.abs(x - y[:, None, None]).mean(axis=(0, 2))
    m = x.shape[1]
    b = np.empty((m, m))
    for i in range(m):
        for j in range(i, m):
            b[i, j] = b[j, i] = mean_abs_diff(x[:, i], x[:, j]).mean()
    return a, b


def mixture_crps(weights: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Mean CRPS of the mixture given averaged terms ``a`` (M,) and ``b`` (M, M)."""
    return float(weights @ a - 0.5 * weights @ b @ weights)


def fit_weights(
    cases: list[BacktestCase], n_members: int, min_cases: int = 6
) -> tuple[np.ndarray, dict]:
    """Weights on the simplex minimising mean mixture CRPS over ``cases``.

    Returns ``(weights, info)``; with fewer than ``min_cases`` cases the weights are equal and
    ``info["method"]`` says so (the explicit, logged fallback).
    """
    m = n_members
    if len(cases) < min_cases:
        return np.full(m, 1.0 / m), {
            "method": "equal (too few backtest cases)",
            "cases": len(cases),
        }
    a, b = crps_terms(cases)
    start = np.full(m, 1.0 / m)
    res = minimize(
        mixture_crps,
        start,
        args=(a, b),
        jac=lambda w, a, b: a - b @ w,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(m)}],
    )
    w = np.clip(res.x, 0.0, None)
    # Members below 1% are dropped: they change no forecast visibly but cost a full fit each.
    w[w < PRUNE_BELOW] = 0.0
    w = w / w.sum()
    info = {
        "method": "min mixture CRPS (rolling origin)",
        "cases": len(cases),
        "crps_ensemble": mixture_crps(w, a, b),
        "crps_equal": mixture_crps(start, a, b),
        "crps_members": {str(i): float(a[i] - 0.5 * b[i, i]) for i in range(m)},
    }
    return w, info


def allocate_draws(weights: np.ndarray, draws: int) -> np.ndarray:
    """Split ``draws`` among members in proportion to ``weights`` (largest remainder)."""
    raw = np.asarray(weights) * draws
    counts = np.floor(raw).astype(int)
    short = draws - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts
