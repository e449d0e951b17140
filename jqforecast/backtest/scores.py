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
    """``E|A − B|`` for independent samples ``a (..., n)`` and ``b (..., m)`` (same leading
    shape: one value per leading index, all computed at once).

    Exact, in O((n + m) log(n + m)): ``E|A−B| = ∫ F_A(1−F_B) + F_B(1−F_A) dz``, both ECDFs
    read off one merged sort as running counts of each sample's elements (at tied values the
    counts are incomplete only where ``dz = 0``, which adds nothing).

    Examples
    --------
    >>> float(mean_abs_diff(np.array([0.0, 2.0]), np.array([1.0])))  # (1 + 1) / 2
    1.0
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    n, m = a.shape[-1], b.shape[-1]
    merged = np.concatenate([a, b], axis=-1)
    order = np.argsort(merged, axis=-1, kind="stable")
    grid = np.take_along_axis(merged, order, axis=-1)
    from_a = order < n
    fa = np.cumsum(from_a, axis=-1)[..., :-1] / n
    fb = np.cumsum(~from_a, axis=-1)[..., :-1] / m
    dz = np.diff(grid, axis=-1)
    return (dz * (fa * (1 - fb) + fb * (1 - fa))).sum(axis=-1)
