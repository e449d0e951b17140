"""Proper scores of sample forecasts (used by the ensemble weights and the benchmark)."""

from __future__ import annotations

import numpy as np


def crps_sample(samples: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    """Continuous ranked probability score of samples against outcomes (lower is better).

    ``CRPS = E|X − y| − ½ E|X − X'|``, computed exactly for the empirical distribution of the
    samples along the last axis, with the sorted-sample identity
    ``E|X − X'| = 2/n² Σ_i (2i − n − 1) x_(i)`` (O(n log n), no n² pairs).

    Parameters
    ----------
    samples : array (..., n)
    y : array (...) or float

    Examples
    --------
    >>> round(float(crps_sample(np.array([0.0, 1.0]), 0.0)), 6)  # ½·1 − ½·½
    0.25
    """
    x = np.sort(np.asarray(samples, dtype=float), axis=-1)
    n = x.shape[-1]
    y = np.asarray(y, dtype=float)[..., None]
    first = np.abs(x - y).mean(axis=-1)
    weights = 2 * np.arange(1, n + 1) - n - 1
    second = (x * weights).sum(axis=-1) * 2 / n**2
    return first - 0.5 * second


def mean_abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``E|A − B|`` for independent samples ``a (..., n)`` and ``b (..., m)``.

    Exact, in O((n + m) log(n + m)): ``E|A−B| = E_A[ F_B-weighted distance ]`` via the
    merged-sort identity ``E|A−B| = ∫ F_A(1−F_B) + F_B(1−F_A) dz``.
    """
    a = np.sort(np.asarray(a, dtype=float), axis=-1)
    b = np.sort(np.asarray(b, dtype=float), axis=-1)
    grid = np.sort(np.concatenate([a, b], axis=-1), axis=-1)
    dz = np.diff(grid, axis=-1)
    mid = grid[..., :-1]
    fa = _ecdf(a, mid)
    fb = _ecdf(b, mid)
    return (dz * (fa * (1 - fb) + fb * (1 - fa))).sum(axis=-1)


def _ecdf(sorted_x: np.ndarray, at: np.ndarray) -> np.ndarray:
    n = sorted_x.shape[-1]
    flat_x = sorted_x.reshape(-1, n)
    flat_at = at.reshape(flat_x.shape[0], -1)
    out = np.stack(
        [np.searchsorted(xi, ai, side="right") for xi, ai in zip(flat_x, flat_at, strict=True)]
    )
    return (out / n).reshape(at.shape)
