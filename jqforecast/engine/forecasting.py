"""``jqforecast.forecast``: from the long table to joint sample paths.

Per series: transform to the unconstrained scale of its data type → fit every applicable
model → simulate → mix the members with weights learned from rolling-origin backtests →
recalibrate → keep cumulative stocks from falling → add the shared derivation uncertainty →
back-transform (a cumulative stock with enough years is forecast as its annual additions
and added up here). Every random draw comes from one seed, through generators keyed by the
series id, so results do not depend on series order.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from jqforecast.data.errors import DataWarning
from jqforecast.data.metrics import METRICS
from jqforecast.data.schema import coerce_dtypes
from jqforecast.engine.anchors import (
    FactorPosterior,
    anchor_offsets,
    factor_posterior,
    surprises,
)
from jqforecast.engine.fitting import fit_groups
from jqforecast.engine.series import (
    MIN_POINTS,
    SeriesData,
    assumption_sds,
    prepare,
    resolve_models,
    too_short,
)
from jqforecast.engine.simulate import simulate_group
from jqforecast.engine.weights import learn_weights
from jqforecast.models.base import Model
from jqforecast.models.calibration import PITCalibration
from jqforecast.models.ensemble import COMBINE, COMBINE_METHODS, Combine
from jqforecast.result import Forecast
from jqforecast.result import keep_cumulative as keep_paths_cumulative


def forecast(
    data: pd.DataFrame,
    years: Sequence[int] = (2025, 2026),
    models: str | Sequence[str | Model] = "auto",
    draws: int = 4000,
    seed: int = 0,
    assumptions: dict | None = None,
    calibrate: bool = True,
    combine: Combine = COMBINE,
    jobs: int | None = None,
    update_assumptions: bool = True,
) -> Forecast:
    """Joint sample paths for every series in ``data`` over ``years``.

    Parameters
    ----------
    data : DataFrame
        The validated long table (:func:`jqforecast.load`).
    years : sequence of int
        Years to report. Paths cover every year from the earliest of these (or the year after
        the earliest last observation) to the latest.
    models : "auto", "statistical", "bayes", or names / model instances
        Ensemble members. "auto" = the five statistical models (``rw_drift``,
        ``damped_drift``, ``ets``, ``arima``, ``theta``) plus the Bayesian pooled growth model
        (levels, ratios) and count model (counts). Members that need more points than a series
        has are skipped (``meta["skipped"]`` says why). ``arima`` is the slow one (an
        auto.arima search a series, about 18× AutoETS + AutoTheta on M3); leaving it out
        costs accuracy on long series (``benchmarks/RESULTS.md``, session 16).
    draws : int
        Number of joint draws.
    seed : int
        The one seed every random draw flows from.
    assumptions : dict, optional
        Derivation assumptions (``jqforecast.data.derive.load_assumptions()``) giving the
        log-scale sd of each shared assumption named in the ``assumption`` column. By default
        the bundled registry is used for the ids it knows.
    calibrate : bool
        Recalibrate the ensemble's quantiles with the level map learned from the same
        rolling-origin backtests as the weights (or shipped with the reference weights):
        :class:`~jqforecast.models.calibration.PITCalibration`. Ranks of draws are kept, so
        joint quantities stay joint. ``meta["calibration"]`` says what was applied.
    combine : "mixture" or "quantile"
        How members' paths are combined (:mod:`jqforecast.models.ensemble`): a mixture
        (each draw from one member) or the weighted average of the members' quantiles,
        taken on the unconstrained scale and re-joined with the mixture's ranks. The weights
        are learned for the method chosen.
    jobs : int, optional
        Processes for the Bayesian members' group fits (default: one per core, at most one
        per fit); ``1`` fits the groups one after another in this process. Results do not
        depend on it (:func:`fit_groups`).
    update_assumptions : bool
        Let official figures next to derived ones inform the shared derivation factors
        (:func:`~jqforecast.engine.anchors.factor_posterior`): the factors are drawn from
        their posterior and the derived histories re-anchored by its mean
        (``meta["assumption_posterior"]``). ``False`` keeps the prior ``N(0, 1)`` and the
        figures as given (what ``benchmarks/anchoring.py`` compares against). Data with
        no official figure next to a derived one give the same forecast either way.

    Returns
    -------
    Forecast
        Series of one metric (e.g. revenue of the three industries) form a group: each joint
        draw uses the same ensemble member for all of them, and the Bayesian member pools them,
        so their paths keep the correlation the pooled model implies.

    Examples
    --------
    >>> import jqforecast
    >>> fc = jqforecast.forecast(jqforecast.load_default(), draws=500, seed=1)  # doctest: +SKIP
    """
    if assumptions is None:
        from jqforecast.data.derive import load_assumptions

        try:
            assumptions = load_assumptions()
        except FileNotFoundError:
            assumptions = {}
    if combine not in COMBINE_METHODS:
        raise ValueError(f"combine must be one of {COMBINE_METHODS}, got {combine!r}")
    data = coerce_dtypes(data)
    sds = assumption_sds(data, assumptions)
    # Official figures next to derived ones inform the shared factors (prior N(0, I));
    # the histories are re-anchored by the posterior mean, the paths drawn from it.
    posterior = factor_posterior(data, sds) if update_assumptions else FactorPosterior.prior(sds)
    for message in surprises(posterior, sds):
        warnings.warn(message, DataWarning, stacklevel=2)
    series = prepare(data, sds, anchor=anchor_offsets(posterior, sds))
    not_forecast = {sid: f"{n} point(s); {MIN_POINTS} needed" for sid, n in too_short(data).items()}
    members = resolve_models(models, seed)
    first = min(min(years), min(s.last_year for s in series) + 1)
    grid = list(range(first, max(years) + 1))

    weight_map, weight_info = learn_weights(series, members, seed, combine=combine)
    learned = weight_info.pop("calibration", None)
    calibration = PITCalibration.from_dict(learned if calibrate else None)
    z_paths = np.empty((draws, len(series), len(grid)))
    z_mixture = np.empty_like(z_paths) if combine == "quantile" else None
    labels = np.full((draws, len(series)), "observed", dtype=object)
    used: dict[str, dict[str, float]] = {}
    skipped: dict[str, dict[str, str]] = {}
    diagnostics: dict[str, dict] = {}
    position = {s.id: j for j, s in enumerate(series)}
    groups = {m: [s for s in series if s.metric == m] for m in sorted({s.metric for s in series})}
    prefit = fit_groups(list(groups.values()), members, weight_map, grid, seed, jobs)
    for group in groups.values():
        g = simulate_group(group, members, weight_map, grid, draws, seed, combine, prefit=prefit)
        used |= g.used
        skipped |= g.skipped
        diagnostics |= g.diagnostics
        for k, s in enumerate(group):
            ahead = [y - s.last_year for y in grid]
            z_paths[:, position[s.id], :] = calibration.apply(g.paths[:, k, :], ahead)
            labels[:, position[s.id]] = g.members
            if z_mixture is not None:  # the members' own draws, as simulated (not recalibrated)
                own = g.paths if g.mixture is None else g.mixture
                z_mixture[:, position[s.id], :] = own[:, k, :]

    raised = keep_cumulative(z_paths, series, grid)
    if z_mixture is not None:
        keep_cumulative(z_mixture, series, grid)

    # Shared derivation uncertainty: one standard-normal factor per assumption and draw, the
    # same for every series that depends on that assumption (and for the members' own draws),
    # in the years derived with it (an official figure in a derived series carries none).
    factors = posterior.draws(seed, draws)
    # each series' share of each assumption's shift, per year of the paths (1 derived, 0
    # official, between the two across a gap; after the last figure, the last one's)
    loadings = {s.id: {a: s.loading(a, grid) for a in s.assumptions} for s in series}
    shift = np.stack(
        [
            sum(
                (sds[a] * factors[a][:, None] * ell for a, ell in loadings[s.id].items()),
                np.zeros((draws, len(grid))),
            )
            for s in series
        ],
        axis=1,
    )
    paths = _data_scale(z_paths, series, shift, grid)
    mixture = None if z_mixture is None else _data_scale(z_mixture, series, shift, grid)
    meta = {
        "seed": seed,
        "draws": draws,
        "years": sorted(int(y) for y in years),
        "models": [m.name for m in members],
        "weights": weight_map,
        "weights_info": weight_info,
        "combine": combine,
        "calibration": calibration.to_dict(),
        "members_used": used,
        "skipped": skipped,
        "diagnostics": diagnostics,
        "assumption_sd": sds,
        "assumption_posterior": posterior.to_dict(),
        "loadings": {
            sid: {a: ell.tolist() for a, ell in carried.items()}
            for sid, carried in loadings.items()
            if carried
        },
        "last_observed": {s.id: s.last_year for s in series},
        "not_forecast": not_forecast,
        "cumulative_raised": raised,
        "stocks_from_additions": [s.id for s in series if s.stock is not None],
        "units": {s.id: METRICS[s.metric].unit for s in series},
        "uncertainty_included": [
            "process noise (each model's error distribution)",
            "parameter uncertainty (posterior draws; priors in random walk with drift and Theta;"
            " dof-corrected scale for the state-space models)",
            "model uncertainty (ensemble mixture)"
            if combine == "mixture"
            else "model uncertainty (members' quantiles averaged: as wide as the members on "
            "average; their disagreement moves the centre and does not widen it)",
            "measurement error of estimated/derived points (Bayesian members)",
            "derivation uncertainty shared by derived series (one factor per assumption)",
        ]
        + (
            ["cumulative stocks: the running sum of forecast annual additions (counts)"]
            if any(s.stock is not None for s in series)
            else []
        ),
        "uncertainty_not_included": [
            "correlation between metrics beyond shared assumptions",
        ],
    }
    members = xr.DataArray(
        labels.astype(str),
        dims=("draw", "series"),
        coords={"draw": paths.coords["draw"], "series": paths.coords["series"]},
        name="members",
    )
    return Forecast(paths=paths, history=data, meta=meta, members=members, mixture=mixture)


def keep_cumulative(z: np.ndarray, series: list[SeriesData], grid: list[int]) -> dict:
    """Cumulative stocks (:attr:`Metric.cumulative <jqforecast.data.metrics.Metric>`) never
    fall: each path ahead of the last observation is raised, in place, to the running
    maximum of that observation and its own earlier years
    (:func:`jqforecast.result.keep_cumulative`).

    Done on the unconstrained scale (monotone in the value), before the shared derivation
    shift, so under every draw's assumption values the floor is the last observation as
    that draw derives it. The members model a stock as any count; this projection is what
    the data type adds. Returns, per cumulative series, the share of its draws raised in
    any year (``meta["cumulative_raised"]``).

    Examples
    --------
    >>> from jqforecast.models.transforms import Transform
    >>> from jqforecast.data.metrics import Kind
    >>> s = SeriesData("smart_factories/park_total", "smart_factories", "park_total",
    ...                Transform(Kind.COUNT), pd.Series([1.0, 2.0], index=[2022, 2023]),
    ...                pd.Series([0.0, 0.0], index=[2022, 2023]), ())
    >>> z = np.array([[[1.5, 3.0, 2.5]], [[2.5, 2.6, 2.7]]])  # 2 draws, 1 series, 2024-26
    >>> keep_cumulative(z, [s], [2024, 2025, 2026])
    {'smart_factories/park_total': 0.5}
    >>> z[0, 0].tolist()  # below the last value (2.0) in 2024, a fall in 2026: both raised
    [2.0, 3.0, 3.0]
    """
    levels = [j for j, s in enumerate(series) if s.stock is None]  # additions add up anyway
    block = z[:, levels, :]
    raised = keep_paths_cumulative(
        block,
        [series[j].id for j in levels],
        {s.id: s.last_year for s in series},
        grid,
        floors={s.id: float(s.history.iloc[-1]) for s in series},
    )
    z[:, levels, :] = block
    return raised


def _data_scale(
    z: np.ndarray, series: list[SeriesData], shift: np.ndarray, grid: list[int]
) -> xr.DataArray:
    """Paths ``z`` (draws, series, grid) moved by the shared derivation ``shift`` (same
    shape) on the unconstrained scale, back on the data scale and labelled. A stock
    forecast through its additions (:attr:`SeriesData.stock`) is their running sum from
    the last observed stock, times the shared factor (whole numbers, as counts are)."""
    draws = z.shape[0]
    values = np.empty_like(z)
    for j, s in enumerate(series):
        if s.stock is None:
            values[:, j, :] = s.transform.inverse(z[:, j, :] + shift[:, j, :])
            continue
        ahead = np.asarray(grid) > s.last_year
        total = np.tile(s.stock.reindex(grid).to_numpy(), (draws, 1))
        added = np.cumsum(s.transform.inverse(z[:, j, ahead]), axis=1)
        total[:, ahead] = float(s.stock.iloc[-1]) + added
        values[:, j, :] = np.round(total * np.exp(shift[:, j, :]))
    return xr.DataArray(
        values,
        dims=("draw", "series", "year"),
        coords={"draw": np.arange(draws), "series": [s.id for s in series], "year": grid},
        name="paths",
    )
