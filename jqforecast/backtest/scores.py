"""Proper scores of sample forecasts (used by the ensemble weights and the benchmark)."""

from __future__ import annotations

import numpy as np


def crps_sample(samples: np.ndarray, y: np.ndarray | float) -> np.ndarray:
    """Continuous ranked probability score of samples against outcomes (lower is better).

    ``CRPS = E|X − y| − ½ E|X − X'|``, computed exactly for the empirical distribution of the
    samples along the last axis, with the sorted-sample identity of :func:`spread_sorted`
    (O(n log n), no n² pairs).

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
    y = np.asarray(y, dtype=float)[..., None]
    return np.abs(x - y).mean(axis=-1) - 0.5 * spread_sorted(x)


def spread_sorted(x: np.ndarray) -> np.ndarray:
    """``E|X − X'|`` of the empirical distribution of samples sorted along the last axis:
    ``2/n² Σ_k (2k − n − 1) x_(k)``.

    Examples
    --------
    >>> float(spread_sorted(np.array([0.0, 1.0])))  # pairs (0,1), (1,0) of four: 2/4
    0.5
    """
    n = x.shape[-1]
    return (x * (2 * np.arange(1, n + 1) - n - 1)).sum(axis=-1) * 2 / n**2


def mean_abs_diff(a: np.ndarray, b: np.ndarray, presorted: bool = False) -> np.ndarray:
    """``E|A − B|`` for independent samples ``a (..., n)`` and ``b (..., m)`` (same leading
    shape: one value per leading index); ``presorted`` if both are sorted along the last axis.

    Exact, in O((n + m) log m) per row: with ``b`` sorted and ``k_i = #{b_j < a_i}``,
    ``Σ_j |a_i − b_j| = a_i (2k_i − m) − 2 S_b(k_i) + S_b(m)`` (``S_b`` the running sums of
    ``b``; tied values contribute 0 on either side). A row loop around ``np.searchsorted``
    because numpy has no batched searchsorted; on M3's 1 740 backtest cases of 1 000 draws
    it is ~3× faster than one batched merged argsort (measured: 0.37 s vs 1.16 s for six
    member pairs of pre-sorted draws).

    Examples
    --------
    >>> float(mean_abs_diff(np.array([0.0, 2.0]), np.array([1.0])))  # (1 + 1) / 2
    1.0
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if not presorted:
        a, b = np.sort(a, axis=-1), np.sort(b, axis=-1)
    lead = a.shape[:-1]
    if b.shape[:-1] != lead:
        raise ValueError(f"leading shapes differ: {a.shape} vs {b.shape}")
    n, m = a.shape[-1], b.shape[-1]
    rows_a, rows_b = a.reshape(-1, n), b.reshape(-1, m)
    sums = np.zeros((len(rows_b), m + 1))
    np.cumsum(rows_b, axis=1, out=sums[:, 1:])
    out = np.empty(len(rows_a))
    for r, (ra, rb, sb) in enumerate(zip(rows_a, rows_b, sums, strict=True)):
        k = np.searchsorted(rb, ra)
        out[r] = (ra * (2 * k - m) - 2 * sb[k] + sb[m]).sum()
    return (out / (n * m)).reshape(lead)
