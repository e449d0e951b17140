"""Ensemble weights learned from rolling-origin backtests, for two ways of combining members.

``"mixture"`` (linear pool): each draw comes from one member, drawn with probability
``w_i``. Its CRPS against outcome ``y`` is exactly ``Σ w_i E|X_i − y| − ½ Σ w_i w_j
E|X_i − X_j|``, a convex quadratic in ``w`` on the simplex (the second term is an energy
distance), so the weights solve a small quadratic programme.

``"quantile"`` (Vincentisation, quantile averaging): the level-τ quantile of the ensemble is
``Σ w_i Q_i(τ)``, the weighted mean of the members' level-τ quantiles, taken on the
unconstrained scale (log, logit, log(c + ½)) where the members work. A mixture of members
that disagree about the mean is wider than any of them; the quantile average is as wide as
its members on average. On samples, ``Q_i`` is member ``i``'s sorted draws, and the CRPS of
the average is computed exactly from the sorted combination (convex in ``w`` for the log
scale up to the back-transform), minimised with its analytic gradient.

Measured on M3 yearly with session 5's members and weights (``benchmarks/RESULTS.md``):
averaging the members' quantiles instead of mixing them moved the full-history 80 / 95 %
coverage from 85.7 / 96.7 % to 83.5 / 95.2 % and the median's OWA from 0.846 to 0.839.
Lichtendahl, Grushka-Cockayne & Winkler (2013), "Is it better to average probabilities or
quantiles?", Management Science 59(7), give the theory: quantile averages are sharper and
score better when members are not overconfident.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.optimize import minimize

from jqforecast.backtest.scores import mean_abs_diff, spread_sorted
from jqforecast.models.calibration import mixture_pit
from jqforecast.models.transforms import Transform

PRUNE_BELOW = 0.01
Combine = Literal["mixture", "quantile"]
COMBINE_METHODS: tuple[str, ...] = ("mixture", "quantile")
COMBINE: Combine = "mixture"  # the default way members are combined (module docstring)


@dataclass
class BacktestCase:
    """One held-out value: the members' samples (members × draws) on the data scale
    relative to ``base`` (the last training value), the value itself on that scale, how many
    years after the forecast origin it lies, and, for quantile averaging, the same draws on
    the unconstrained scale ``z`` of ``transform``."""

    samples: np.ndarray
    outcome: float
    step: int = 1
    z: np.ndarray | None = None
    transform: Transform | None = None
    base: float = 1.0

    def combined(self, weights: np.ndarray) -> np.ndarray:
        """The quantile-averaged ensemble's draws on the case's (relative data) scale."""
        if self.z is None or self.transform is None:
            raise ValueError("quantile averaging needs the case's unconstrained draws (z)")
        z = quantile_average(self.z, weights)
        return self.transform.inverse(z) / self.base


def quantile_average(z: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Vincentised combination of members' draws ``z (..., members, draws)``: the sorted
    draws' weighted mean, ``(..., draws)`` in increasing order.

    Examples
    --------
    >>> z = np.array([[3.0, 1.0, 2.0], [10.0, 30.0, 20.0]])
    >>> quantile_average(z, np.array([0.5, 0.5])).tolist()
    [5.5, 11.0, 16.5]
    """
    return np.einsum("m,...md->...d", np.asarray(weights, dtype=float), np.sort(z, axis=-1))


def crps_terms(cases: list[BacktestCase]) -> tuple[np.ndarray, np.ndarray]:
    """``A_i = E|X_i − y|`` (M,) and ``B_ij = E|X_i − X_j|`` (M, M), averaged over cases
    (draws sorted once; :func:`~jqforecast.backtest.scores.mean_abs_diff` per member pair)."""
    x = np.sort(np.stack([c.samples for c in cases]), axis=-1)  # (cases, members, draws)
    y = np.array([c.outcome for c in cases])
    a = np.abs(x - y[:, None, None]).mean(axis=(0, 2))
    m = x.shape[1]
    b = np.diag(spread_sorted(x).mean(axis=0))
    for i in range(m):
        for j in range(i + 1, m):
            b[i, j] = b[j, i] = mean_abs_diff(x[:, i], x[:, j], presorted=True).mean()
    return a, b


def mixture_crps(weights: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Mean CRPS of the mixture given averaged terms ``a`` (M,) and ``b`` (M, M)."""
    return float(weights @ a - 0.5 * weights @ b @ weights)


@dataclass
class _QuantileTerms:
    """Cases of one data type stacked for :func:`quantile_crps`: sorted unconstrained draws
    ``z (cases, members, draws)``, bases and outcomes."""

    transform: Transform
    z: np.ndarray
    base: np.ndarray
    outcome: np.ndarray


def quantile_terms(cases: list[BacktestCase]) -> list[_QuantileTerms]:
    """Stack the cases by data type (one back-transform each), draws sorted once."""
    kinds: dict = {}
    for c in cases:
        if c.z is None or c.transform is None:
            raise ValueError("quantile averaging needs the cases' unconstrained draws (z)")
        kinds.setdefault(c.transform, []).append(c)
    return [
        _QuantileTerms(
            t,
            np.sort(np.stack([c.z for c in group]), axis=-1),
            np.array([c.base for c in group]),
            np.array([c.outcome for c in group]),
        )
        for t, group in kinds.items()
    ]


def quantile_crps(weights: np.ndarray, terms: list[_QuantileTerms]) -> tuple[float, np.ndarray]:
    """Mean CRPS of the quantile-averaged ensemble over the cases, and its gradient in ``w``.

    With the combined draws sorted, ``x_(k) = inverse(Σ_i w_i z_i(k)) / base``, the CRPS is
    ``mean_k |x_(k) − y| − Σ_k (2k − n − 1) x_(k) / n²`` (:func:`~jqforecast.backtest.scores.
    crps_sample`'s identity), so ``∂/∂x_(k) = sign(x_(k) − y)/n − (2k − n − 1)/n²`` and the
    chain rule through the back-transform gives the gradient.
    """
    total = sum(len(t.outcome) for t in terms)
    value, grad = 0.0, np.zeros(len(weights))
    for t in terms:
        n = t.z.shape[-1]
        zc = np.einsum("m,cmd->cd", weights, t.z)
        x = t.transform.inverse(zc, whole=False) / t.base[:, None]
        rank = (2 * np.arange(1, n + 1) - n - 1) / n**2
        value += float((np.abs(x - t.outcome[:, None]).mean(axis=1) - x @ rank).sum())
        dx = (np.sign(x - t.outcome[:, None]) / n - rank) * t.transform.inverse_slope(zc)
        grad += np.einsum("cd,cmd->m", dx / t.base[:, None], t.z)
    return value / total, grad / total


def fit_weights(
    cases: list[BacktestCase], n_members: int, min_cases: int = 6, combine: Combine = COMBINE
) -> tuple[np.ndarray, dict]:
    """Weights on the simplex minimising the ensemble's mean CRPS over ``cases``, for the
    ``combine`` method (``"mixture"`` or ``"quantile"``; see the module docstring).

    Returns ``(weights, info)``; with fewer than ``min_cases`` cases the weights are equal and
    ``info["method"]`` says so (the explicit, logged fallback).
    """
    m = n_members
    if combine not in COMBINE_METHODS:
        raise ValueError(f"combine must be one of {COMBINE_METHODS}, got {combine!r}")
    if len(cases) < min_cases:
        return np.full(m, 1.0 / m), {
            "method": "equal (too few backtest cases)",
            "cases": len(cases),
        }
    if combine == "mixture":
        a, b = crps_terms(cases)

        def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
            return mixture_crps(w, a, b), a - b @ w

        members = {str(i): float(a[i] - 0.5 * b[i, i]) for i in range(m)}
    else:
        terms = quantile_terms(cases)

        def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
            return quantile_crps(w, terms)

        members = {str(i): objective(np.eye(m)[i])[0] for i in range(m)}
    start = np.full(m, 1.0 / m)
    res = minimize(
        objective,
        start,
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(m)}],
    )
    w = np.clip(res.x, 0.0, None)
    # Members below 1% are dropped: they change no forecast visibly but cost a full fit each.
    w[w < PRUNE_BELOW] = 0.0
    w = w / w.sum()
    info = {
        "method": f"min {combine} CRPS (rolling origin)",
        "combine": combine,
        "cases": len(cases),
        "crps_ensemble": objective(w)[0],
        "crps_equal": objective(start)[0],
        "crps_members": members,
    }
    return w, info


def ensemble_pit(case: BacktestCase, weights: np.ndarray, combine: Combine = COMBINE) -> float:
    """PIT of the case's outcome under the weighted ensemble, ties counted half (mid-PIT)."""
    if combine == "quantile":
        return mixture_pit(case.combined(weights)[None, :], np.ones(1), case.outcome)
    return mixture_pit(case.samples, weights, case.outcome)


def vincentise(mixture: np.ndarray, members: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Draws whose margins are the quantile average of ``members (members, draws, …)`` and
    whose ranks (the copula: which draw is high in which year and series) are those of
    ``mixture (draws, …)``, a mixture of the same members' joint draws.

    Quantile averaging is defined margin by margin; reordering each margin's combined
    quantiles by the mixture's ranks (ensemble copula coupling, Schefzik, Thorarinsdottir
    & Gneiting 2013) keeps the draws joint, so sums over series and paths over years stay
    proper joint quantities.

    Examples
    --------
    >>> mix = np.array([[2.0], [0.0], [1.0]])  # draw 0 is the highest
    >>> members = np.array([[[0.0], [1.0], [2.0]], [[2.0], [4.0], [6.0]]])
    >>> vincentise(mix, members, np.array([0.5, 0.5]))[:, 0].tolist()
    [4.0, 1.0, 2.5]
    """
    combined = quantile_average(np.moveaxis(members, (0, 1), (-2, -1)), weights)  # (…, draws)
    ranks = np.argsort(np.argsort(mixture, axis=0, kind="stable"), axis=0, kind="stable")
    return np.take_along_axis(np.moveaxis(combined, -1, 0), ranks, axis=0)


def allocate_draws(weights: np.ndarray, draws: int) -> np.ndarray:
    """Split ``draws`` among members in proportion to ``weights`` (largest remainder)."""
    raw = np.asarray(weights) * draws
    counts = np.floor(raw).astype(int)
    short = draws - counts.sum()
    order = np.argsort(-(raw - counts), kind="stable")
    counts[order[:short]] += 1
    return counts
