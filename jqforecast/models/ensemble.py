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
BAG = 50  # bootstrap resamples of the backtest series whose optimal weights are averaged
Combine = Literal["mixture", "quantile"]
COMBINE_METHODS: tuple[str, ...] = ("mixture", "quantile")
COMBINE: Combine = "mixture"  # the default way members are combined (module docstring)


@dataclass
class BacktestCase:
    """One held-out value: the members' samples (members × draws) on the data scale
    relative to ``base`` (a positive scale of its series, ``engine.backtest.case_scale``: the mean
    absolute yearly change of the training values), the value itself on that scale, how many
    years after the forecast origin it lies, and, for quantile averaging, the same draws on
    the unconstrained scale ``z`` of ``transform``."""

    samples: np.ndarray
    outcome: float
    step: int = 1
    z: np.ndarray | None = None
    transform: Transform | None = None
    base: float = 1.0
    series: str = ""  # the series it was held out of (cases of one series are correlated)

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


def case_terms(cases: list[BacktestCase]) -> tuple[np.ndarray, np.ndarray]:
    """Per case ``A_i = E|X_i − y|`` (cases, M) and ``B_ij = E|X_i − X_j|`` (cases, M, M)
    (draws sorted once; :func:`~jqforecast.backtest.scores.mean_abs_diff` per member pair)."""
    x = np.sort(np.stack([c.samples for c in cases]), axis=-1)  # (cases, members, draws)
    y = np.array([c.outcome for c in cases])
    a = np.abs(x - y[:, None, None]).mean(axis=2)
    m = x.shape[1]
    b = np.zeros((len(cases), m, m))
    b[:, np.arange(m), np.arange(m)] = spread_sorted(x)
    for i in range(m):
        for j in range(i + 1, m):
            b[:, i, j] = b[:, j, i] = mean_abs_diff(x[:, i], x[:, j], presorted=True)
    return a, b


def crps_terms(cases: list[BacktestCase]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`case_terms` averaged over the cases: ``A`` (M,) and ``B`` (M, M)."""
    a, b = case_terms(cases)
    return a.mean(axis=0), b.mean(axis=0)


def mixture_crps(weights: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Mean CRPS of the mixture given averaged terms ``a`` (M,) and ``b`` (M, M)."""
    return float(weights @ a - 0.5 * weights @ b @ weights)


def mixture_objective(a: np.ndarray, b: np.ndarray):
    """``w → (mean CRPS of the mixture, its gradient)`` for averaged terms ``a``, ``b``: the
    objective :func:`simplex_minimum` takes."""
    return lambda w: (mixture_crps(w, a, b), a - b @ w)


@dataclass
class _QuantileTerms:
    """Cases of one data type stacked for :func:`quantile_crps`: sorted unconstrained draws
    ``z (cases, members, draws)``, bases, outcomes and the cases' positions in the list
    they came from."""

    transform: Transform
    z: np.ndarray
    base: np.ndarray
    outcome: np.ndarray
    index: np.ndarray


def quantile_terms(cases: list[BacktestCase]) -> list[_QuantileTerms]:
    """Stack the cases by data type (one back-transform each), draws sorted once."""
    kinds: dict = {}
    for i, c in enumerate(cases):
        if c.z is None or c.transform is None:
            raise ValueError("quantile averaging needs the cases' unconstrained draws (z)")
        kinds.setdefault(c.transform, []).append(i)
    return [
        _QuantileTerms(
            t,
            np.sort(np.stack([cases[i].z for i in rows]), axis=-1),
            np.array([cases[i].base for i in rows]),
            np.array([cases[i].outcome for i in rows]),
            np.array(rows),
        )
        for t, rows in kinds.items()
    ]


def quantile_crps(
    weights: np.ndarray, terms: list[_QuantileTerms], case_weights: np.ndarray | None = None
) -> tuple[float, np.ndarray]:
    """Mean CRPS of the quantile-averaged ensemble over the cases, and its gradient in ``w``;
    ``case_weights`` (one per case of the original list, default 1) weight the mean.

    With the combined draws sorted, ``x_(k) = inverse(Σ_i w_i z_i(k)) / base``, the CRPS is
    ``mean_k |x_(k) − y| − Σ_k (2k − n − 1) x_(k) / n²`` (:func:`~jqforecast.backtest.scores.
    crps_sample`'s identity), so ``∂/∂x_(k) = sign(x_(k) − y)/n − (2k − n − 1)/n²`` and the
    chain rule through the back-transform gives the gradient.
    """
    if case_weights is None:
        case_weights = np.ones(sum(len(t.outcome) for t in terms))
    total = case_weights.sum()
    value, grad = 0.0, np.zeros(len(weights))
    for t in terms:
        n, cw = t.z.shape[-1], case_weights[t.index]
        zc = np.einsum("m,cmd->cd", weights, t.z)
        x = t.transform.inverse(zc, whole=False) / t.base[:, None]
        rank = (2 * np.arange(1, n + 1) - n - 1) / n**2
        value += float(cw @ (np.abs(x - t.outcome[:, None]).mean(axis=1) - x @ rank))
        dx = (np.sign(x - t.outcome[:, None]) / n - rank) * t.transform.inverse_slope(zc)
        grad += np.einsum("cd,cmd->m", dx * (cw / t.base)[:, None], t.z)
    return value / total, grad / total


def fit_weights(
    cases: list[BacktestCase],
    n_members: int,
    min_cases: int = 6,
    combine: Combine = COMBINE,
    bag: int = BAG,
    seed: int = 0,
) -> tuple[np.ndarray, dict]:
    """Weights on the simplex minimising the ensemble's mean CRPS over ``cases``, for the
    ``combine`` method (``"mixture"`` or ``"quantile"``; see the module docstring), bagged:
    the mean of the minimising weights of ``bag`` bootstrap resamples of the cases' *series*
    (a series' cases are correlated, so series are resampled whole; cases without a series
    name count as their own), drawn from ``seed``. ``bag=0`` gives the weights of the cases
    as they are.

    Why bagged (Breiman 1996): weights minimising the CRPS of 100 series' backtests follow
    those few series; on M3 yearly the benchmark's ensemble changed with the seed that picks
    them (OWA 0.834 / 0.845 / 0.890 at 10 points, session 9's code). On training data alone
    (``benchmarks/weight_stability.py``: backtests of 200 series, weights learned on 100,
    scored on the other 100, 40 splits; ``benchmarks/RESULTS.md``, session 10) bagging moved
    the held-out CRPS's excess over the best possible weights by −0.05 / +0.07 points (full
    history / 10 points, MASE units) and −0.23 / −0.41 points relative to the level, and
    made the weights steadier between splits: a small, mostly favourable change for 50
    solves of a small quadratic programme (mixture) on terms computed once.

    Returns ``(weights, info)``; with fewer than ``min_cases`` cases the weights are equal and
    ``info["method"]`` says so (the explicit, logged fallback).

    Examples
    --------
    Two series whose cases prefer different members: the bagged weights are a compromise
    that leans to neither resample's extreme.

    >>> rng = np.random.default_rng(0)
    >>> def case(good, series):  # member `good` is centred on the outcome, the other off
    ...     x = rng.normal(1.0, 0.1, (2, 400)); x[1 - good] += 0.5
    ...     return BacktestCase(x, 1.0, series=series)
    >>> cases = [case(0, "a")] * 6 + [case(1, "b")] * 4
    >>> w, info = fit_weights(cases, 2, bag=20)
    >>> bool(0.2 < w[1] < 0.8), info["bagged"]
    (True, 20)
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
        a, b = case_terms(cases)

        def objective_for(cw: np.ndarray):  # the cases' terms pooled once per case weighting
            return mixture_objective(cw @ a / cw.sum(), np.tensordot(cw, b, 1) / cw.sum())

    else:
        terms = quantile_terms(cases)

        def objective_for(cw: np.ndarray):
            return lambda w: quantile_crps(w, terms, cw)

    objective = objective_for(np.ones(len(cases)))
    members = {str(i): objective(np.eye(m)[i])[0] for i in range(m)}
    start = np.full(m, 1.0 / m)
    w = _bagged_minimum(objective_for, m, [c.series for c in cases], bag, seed)
    info = {
        "method": f"min {combine} CRPS (rolling origin)"
        + (f", bagged over {bag} bootstrap resamples of series" if bag else ""),
        "combine": combine,
        "cases": len(cases),
        "bagged": bag,
        "crps_ensemble": objective(w)[0],
        "crps_equal": objective(start)[0],
        "crps_members": members,
    }
    return w, info


def _bagged_minimum(objective_for, m: int, series: list[str], bag: int, seed: int) -> np.ndarray:
    """:func:`simplex_minimum` of ``objective_for(case_weights)`` on all cases (``bag=0``) or
    averaged over ``bag`` bootstrap resamples of ``series`` (one entry per case), pruned and
    renormalised like one minimum."""
    if not bag:
        return simplex_minimum(objective_for(np.ones(len(series))), m)
    units = [s or f"case {i}" for i, s in enumerate(series)]
    names, unit = np.unique(units, return_inverse=True)
    rng = np.random.default_rng(seed)
    found = []
    for _ in range(bag):
        times = np.bincount(rng.integers(len(names), size=len(names)), minlength=len(names))
        found.append(simplex_minimum(objective_for(times[unit]), m))
    return _pruned(np.mean(found, axis=0))


def simplex_minimum(objective, m: int) -> np.ndarray:
    """Weights on the simplex minimising ``objective(w) → (value, gradient)`` (SLSQP from
    equal weights); members below :data:`PRUNE_BELOW` are dropped, as they change no
    forecast visibly but cost a full fit each, and the rest renormalised.

    Examples
    --------
    Mixture CRPS terms of two members that disagree (``E|X₁ − X₂|`` = 2), the first a little
    closer to the outcomes: CRPS(p, 1 − p) = 0.7 − 1.2 p + p², least at p = 0.6.

    >>> a, b = np.array([1.0, 1.2]), np.array([[1.0, 2.0], [2.0, 1.0]])
    >>> simplex_minimum(mixture_objective(a, b), 2).round(3).tolist()
    [0.6, 0.4]
    """
    res = minimize(
        objective,
        np.full(m, 1.0 / m),
        jac=True,
        method="SLSQP",
        bounds=[(0.0, 1.0)] * m,
        constraints=[{"type": "eq", "fun": lambda w: w.sum() - 1.0, "jac": lambda w: np.ones(m)}],
    )
    return _pruned(res.x)


def _pruned(w: np.ndarray) -> np.ndarray:
    """Weights below :data:`PRUNE_BELOW` set to 0, the rest renormalised to sum 1."""
    w = np.clip(w, 0.0, None)
    w[w < PRUNE_BELOW] = 0.0
    return w / w.sum()


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
