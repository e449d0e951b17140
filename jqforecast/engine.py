"""``jqforecast.forecast``: from the long table to joint sample paths.

Per series: transform to the unconstrained scale of its data type → fit every applicable
model → simulate → mix the members with weights learned from rolling-origin backtests →
add the shared derivation uncertainty → back-transform. Every random draw comes from one
seed, through generators keyed by the series id, so results do not depend on series order.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from jqforecast.data.metrics import METRICS
from jqforecast.data.schema import coerce_dtypes, effective_rel_sd
from jqforecast.models.base import Model, TooShortError
from jqforecast.models.ensemble import BacktestCase, allocate_draws, fit_weights
from jqforecast.models.statistical import STATISTICAL_MODELS
from jqforecast.models.transforms import Transform
from jqforecast.result import Forecast, series_id

log = logging.getLogger(__name__)

MIN_POINTS = 3
BACKTEST_ORIGINS = 3  # last k origins per series
BACKTEST_HORIZON = 2  # the plan's horizon: 2025 and 2026
BACKTEST_DRAWS = 400


@dataclass
class SeriesData:
    """One series prepared for the models."""

    id: str
    metric: str
    industry: str
    transform: Transform
    history: pd.Series  # unconstrained scale, consecutive years, NaN for gaps
    observed: pd.Series  # data scale, observed years only
    assumptions: tuple[str, ...]

    @property
    def last_year(self) -> int:
        return int(self.history.index[-1])


def _rng(seed: int, *keys: str | int) -> np.random.Generator:
    """A generator determined by the seed and string/int keys (order-independent streams)."""
    words = [seed] + [zlib.crc32(str(k).encode()) for k in keys]
    return np.random.default_rng(words)


def resolve_models(models: str | Sequence[str | Model]) -> list[Model]:
    """Model instances from ``"auto"``, ``"statistical"``, names or instances."""
    registry = {cls.name: cls for cls in STATISTICAL_MODELS}
    if isinstance(models, str):
        if models in ("auto", "statistical"):
            return [cls() for cls in STATISTICAL_MODELS]
        models = [models]
    out = []
    for m in models:
        if isinstance(m, Model):
            out.append(m.clone())
        elif m in registry:
            out.append(registry[m]())
        else:
            raise ValueError(f"unknown model {m!r}; known: {sorted(registry)} or 'auto'")
    return out


def prepare(data: pd.DataFrame) -> list[SeriesData]:
    """Group the long table into series on their unconstrained scales."""
    data = coerce_dtypes(data)
    prepared, short = [], []
    for (metric, industry), g in data.groupby(["metric", "industry"], sort=True):
        g = g.sort_values("year")
        if len(g) < MIN_POINTS:
            short.append(f"{metric}/{industry} ({len(g)} point(s))")
            continue
        transform = Transform(METRICS[metric].kind)
        years = range(int(g["year"].min()), int(g["year"].max()) + 1)
        z = pd.Series(transform.forward(g["value"].to_numpy()), index=g["year"].to_numpy())
        ids = sorted({a for text in g["assumption"].dropna() for a in str(text).split()})
        prepared.append(
            SeriesData(
                id=series_id(metric, industry),
                metric=metric,
                industry=industry,
                transform=transform,
                history=z.reindex(years),
                observed=g.set_index("year")["value"],
                assumptions=tuple(ids),
            )
        )
    if short:
        raise ValueError(
            f"series with fewer than {MIN_POINTS} points cannot be forecast: "
            + ", ".join(short)
            + ". Add data, or drop the series (its targets are then reported as 'no data')."
        )
    return prepared


def _for_model(model: Model, history: pd.Series) -> pd.Series:
    """History as the model can take it: gaps interpolated on the unconstrained scale."""
    if model.handles_gaps or history.notna().all():
        return history
    return history.interpolate(method="index")


def _member_paths(
    model: Model, history: pd.Series, horizon: int, draws: int, rng: np.random.Generator
) -> np.ndarray:
    return model.clone().fit(_for_model(model, history)).simulate(horizon, draws, rng)


def backtest_cases(series: list[SeriesData], members: list[Model], seed: int) -> list[BacktestCase]:
    """Rolling-origin cases pooled over series: fit on a prefix, score the next 1–2 years."""
    cases = []
    for s in series:
        observed = s.history.dropna()
        n = len(observed)
        for k in range(1, BACKTEST_ORIGINS + 1):
            cut = n - k
            if cut < max(m.min_points for m in members):
                continue
            train = s.history.loc[: observed.index[cut - 1]]
            future = observed.iloc[cut : cut + BACKTEST_HORIZON]
            steps = [int(y - train.index[-1]) for y in future.index]
            try:
                sims = [
                    _member_paths(m, train, max(steps), BACKTEST_DRAWS, _rng(seed, s.id, m.name, k))
                    for m in members
                ]
            except (ValueError, np.linalg.LinAlgError) as err:
                log.info("backtest origin skipped for %s: %s", s.id, err)
                continue
            for step, outcome in zip(steps, future.to_numpy(), strict=True):
                stack = np.stack([p[:, step - 1] for p in sims])
                cases.append(BacktestCase(stack, float(outcome)))
    return cases


def _assumption_sds(data: pd.DataFrame, assumptions: dict | None) -> dict[str, float]:
    """Log-scale sd of each shared assumption: from the registry, else the smallest row rel_sd."""
    sds: dict[str, float] = {}
    rel = effective_rel_sd(coerce_dtypes(data))
    for text, r in zip(data["assumption"], rel, strict=True):
        if text is None or (isinstance(text, float) and np.isnan(text)):
            continue
        for a in str(text).split():
            if assumptions and a in assumptions:
                sds[a] = float(assumptions[a].rel_sd)
            else:
                sds[a] = min(sds.get(a, np.inf), float(r))
    return sds


def forecast(
    data: pd.DataFrame,
    years: Sequence[int] = (2025, 2026),
    models: str | Sequence[str | Model] = "auto",
    draws: int = 4000,
    seed: int = 0,
    assumptions: dict | None = None,
) -> Forecast:
    """Joint sample paths for every series in ``data`` over ``years``.

    Parameters
    ----------
    data : DataFrame
        The validated long table (:func:`jqforecast.load`).
    years : sequence of int
        Years to report. Paths cover every year from the earliest of these (or the year after
        the earliest last observation) to the latest.
    models : "auto", or names / :class:`~jqforecast.models.base.Model` instances
        Ensemble members. Members that need more points than a series has are skipped for it
        (logged in ``meta["skipped"]``).
    draws : int
        Number of joint draws.
    seed : int
        The one seed every random draw flows from.
    assumptions : dict, optional
        Derivation assumptions (``jqforecast.data.derive.load_assumptions()``) giving the
        log-scale sd of each shared assumption named in the ``assumption`` column. By default
        the bundled registry is used for the ids it knows.

    Returns
    -------
    Forecast

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
    series = prepare(data)
    members = resolve_models(models)
    first = min(min(years), min(s.last_year for s in series) + 1)
    grid = list(range(first, max(years) + 1))

    cases = backtest_cases(series, members, seed)
    weights, weight_info = fit_weights(cases, len(members)) if members else (np.array([]), {})
    weight_map = {m.name: float(w) for m, w in zip(members, weights, strict=True)}

    z_paths = np.empty((draws, len(series), len(grid)))
    used: dict[str, dict[str, float]] = {}
    skipped: dict[str, dict[str, str]] = {}
    for j, s in enumerate(series):
        z_paths[:, j, :] = _series_paths(s, members, weight_map, grid, draws, seed, used, skipped)

    # Shared derivation uncertainty: one standard-normal factor per assumption and draw, the
    # same for every series that depends on that assumption.
    sds = _assumption_sds(data, assumptions)
    factors = {a: _rng(seed, "assumption", a).standard_normal(draws) for a in sorted(sds)}
    for j, s in enumerate(series):
        shift = sum((sds[a] * factors[a] for a in s.assumptions), np.zeros(draws))
        z_paths[:, j, :] += shift[:, None]

    values = np.empty_like(z_paths)
    for j, s in enumerate(series):
        values[:, j, :] = s.transform.inverse(z_paths[:, j, :])
    paths = xr.DataArray(
        values,
        dims=("draw", "series", "year"),
        coords={"draw": np.arange(draws), "series": [s.id for s in series], "year": grid},
        name="paths",
    )
    meta = {
        "seed": seed,
        "draws": draws,
        "models": [m.name for m in members],
        "weights": weight_map,
        "weights_info": weight_info,
        "members_used": used,
        "skipped": skipped,
        "assumption_sd": sds,
        "last_observed": {s.id: s.last_year for s in series},
        "units": {s.id: METRICS[s.metric].unit for s in series},
        "uncertainty_included": [
            "process noise (each model's error distribution)",
            "parameter uncertainty (random walk with drift, Theta; dof-corrected scale otherwise)",
            "model uncertainty (ensemble mixture)",
            "derivation uncertainty of derived/estimated data (shared assumption factors)",
        ],
        "uncertainty_not_included": [
            "correlation between series beyond shared assumptions (models are fitted per series)",
        ],
    }
    return Forecast(paths=paths, history=coerce_dtypes(data), meta=meta)


def _series_paths(
    s: SeriesData,
    members: list[Model],
    weight_map: dict[str, float],
    grid: list[int],
    draws: int,
    seed: int,
    used: dict,
    skipped: dict,
) -> np.ndarray:
    """Paths of one series on the unconstrained scale over ``grid`` (observed years filled)."""
    filled = s.history.interpolate(method="index")
    out = np.empty((draws, len(grid)))
    future = [y for y in grid if y > s.last_year]
    for i, year in enumerate(grid):
        if year <= s.last_year:
            out[:, i] = filled.get(year, np.nan)
    if not future:
        used[s.id] = {}
        return out
    horizon = future[-1] - s.last_year
    fitted: list[tuple[Model, float]] = []
    skipped[s.id] = {}
    n_obs = int(s.history.notna().sum())
    for m in members:
        if n_obs < m.min_points:
            skipped[s.id][m.name] = f"needs {m.min_points} points, series has {n_obs}"
            continue
        fitted.append((m, weight_map.get(m.name, 0.0)))
    if not fitted:
        raise TooShortError(f"no model can forecast {s.id} ({n_obs} points)")
    w = np.array([wt for _, wt in fitted])
    w = w / w.sum() if w.sum() > 0 else np.full(len(fitted), 1.0 / len(fitted))
    counts = allocate_draws(w, draws)
    chunks = []
    used[s.id] = {}
    for (m, _), c, wi in zip(fitted, counts, w, strict=True):
        if c == 0:
            continue
        try:
            chunks.append(_member_paths(m, s.history, horizon, int(c), _rng(seed, s.id, m.name)))
            used[s.id][m.name] = float(wi)
        except (ValueError, np.linalg.LinAlgError) as err:
            skipped[s.id][m.name] = f"fit failed: {err}"
    if not chunks:
        raise RuntimeError(f"every model failed for {s.id}: {skipped[s.id]}")
    sims = np.concatenate(chunks)
    if len(sims) < draws:  # a member failed: refill from the others, keeping the seed's stream
        extra = _rng(seed, s.id, "refill").integers(0, len(sims), draws - len(sims))
        sims = np.concatenate([sims, sims[extra]])
    sims = sims[_rng(seed, s.id, "shuffle").permutation(draws)]
    for i, year in enumerate(grid):
        if year > s.last_year:
            out[:, i] = sims[:, year - s.last_year - 1]
    return out
