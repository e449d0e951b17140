"""One metric group's ensemble paths: each member simulated, then combined draw by draw
(one member per joint draw for the whole group) or by quantile averaging."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jqforecast.engine.fitting import fit_multi_series
from jqforecast.engine.series import SeriesData, envelope, member_paths, select_members, stream
from jqforecast.models.base import Model
from jqforecast.models.ensemble import COMBINE, Combine, allocate_draws, vincentise


@dataclass
class GroupPaths:
    """One group's ensemble paths and how they were made."""

    paths: np.ndarray  # (draws, series, grid) on the unconstrained scale
    members: np.ndarray  # (draws,) the member behind each draw ("observed": no forecast)
    used: dict[str, dict[str, float]]  # series → member → share of draws
    skipped: dict[str, dict[str, str]]  # series → member → why
    diagnostics: dict[str, dict]  # "member:metric" → MCMC diagnostics
    mixture: np.ndarray | None = None  # quantile averaging: the labelled draws it re-ranked


def simulate_group(
    group: list[SeriesData],
    members: list[Model],
    weight_map: dict[str, float],
    grid: list[int],
    draws: int,
    seed: int,
    combine: Combine = COMBINE,
    extra: dict[str, np.ndarray] | None = None,
    prefit: dict | None = None,
) -> GroupPaths:
    """Ensemble paths of one group (series of one metric) over ``grid``.

    Picks the members that apply and have enough points and weight, fits the multi-series
    (Bayesian) ones on the whole group, and mixes the members' paths draw by draw with
    ``weight_map`` (one member per draw for the whole group, so joint draws stay joint);
    with ``combine="quantile"`` each margin of that mixture is then replaced, rank for
    rank, by the weighted average of the members' quantiles
    (:func:`~jqforecast.models.ensemble.vincentise`). Used by :func:`forecast` for every
    group and by the benchmark for single series. ``extra`` adds members simulated
    elsewhere (name → paths (draws, series, grid), weighted by ``weight_map``; the benchmark's
    Bayesian member, fitted to many series at once). ``prefit`` holds multi-series members
    already fitted (:func:`fit_groups`); the others are fitted here.
    """
    used: dict = {}
    skipped: dict = {}
    diagnostics: dict = {}
    candidates = select_members(group, members, weight_map, grid, used, skipped)
    fitted = fit_multi_series(group, candidates, seed, diagnostics, skipped, prefit)
    paths, labels, mixture = _group_paths(
        group, candidates, weight_map, grid, draws, seed, used, skipped, fitted, combine, extra
    )
    return GroupPaths(paths, labels, used, skipped, diagnostics, mixture)


def _group_paths(
    group: list[SeriesData],
    candidates: list[Model],
    weight_map: dict[str, float],
    grid: list[int],
    draws: int,
    seed: int,
    used: dict,
    skipped: dict,
    fitted: dict[str, Model],
    combine: Combine = COMBINE,
    extra: dict[str, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Paths (draws, series, grid) of one group on the unconstrained scale, per draw the
    member that simulated them (``"observed"`` when the group needs no forecast) and, for
    quantile averaging, the labelled mixture it re-ranked (else ``None``).

    Every draw index is assigned one member for the whole group, so a joint model's draw
    stays joint across the group's series. Observed years hold the (interpolated) data.
    ``fitted`` holds the multi-series members already fitted (:func:`fit_multi_series`).
    With ``combine="quantile"`` every member simulates all ``draws`` (its whole marginal
    distribution enters the quantile average) and the label is the member whose draw gave
    the combined draw its ranks.
    """
    out = np.empty((draws, len(group), len(grid)))
    for k, s in enumerate(group):
        filled = s.observed.interpolate(method="index")  # the figures as given
        for i, year in enumerate(grid):
            if year <= s.last_year:
                out[:, k, i] = filled.get(year, np.nan)
    if not candidates:
        return out, np.full(draws, "observed", dtype=object), None

    sims: dict[str, np.ndarray] = {}  # member → (draws_m, series, grid) filled after last obs
    weights = {m.name: weight_map.get(m.name, 0.0) for m in candidates}
    weights |= {name: weight_map.get(name, 0.0) for name in extra or {}}
    total = sum(weights.values())
    for m in candidates:
        share = weights[m.name] / total if total else 1.0
        count = draws if combine == "quantile" else max(int(np.ceil(draws * share)), 1)
        if m.multi_series:
            m = fitted.get(m.name)
            if m is None:  # the joint fit failed; already recorded in ``skipped``
                continue
        try:
            sims[m.name] = member_group_paths(m, group, grid, count, seed)
        except (ValueError, np.linalg.LinAlgError, RuntimeError) as err:
            for s in group:
                skipped[s.id][m.name] = f"fit failed: {err}"
    sims |= extra or {}
    if not sims:
        raise RuntimeError(f"every model failed for {[s.id for s in group]}: {skipped}")
    mixed, labels, w, mixture = combine_members(
        sims, weights, draws, seed, tuple(s.id for s in group), combine
    )
    before = None if mixture is None else out.copy()
    for k, s in enumerate(group):
        future = [i for i, y in enumerate(grid) if y > s.last_year]
        out[:, k, future] = mixed[:, k, future]
        if before is not None:
            before[:, k, future] = mixture[:, k, future]
        used[s.id] = {name: float(x) for name, x in zip(sims, w, strict=True)}
    return out, labels, before


def combine_members(
    sims: dict[str, np.ndarray],
    weights: dict[str, float],
    draws: int,
    seed: int,
    key: tuple,
    combine: Combine = COMBINE,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Combine members' paths ``sims`` (member → (draws_m, …)) into ``draws`` joint draws.

    Each draw index is assigned one member, in proportion to ``weights`` and in an order
    drawn from the stream ``key`` (a member with fewer paths than its share, because another
    member failed, is resampled). With ``combine="quantile"`` that mixture's margins are then
    replaced rank for rank by the members' weighted quantile average
    (:func:`~jqforecast.models.ensemble.vincentise`; every member must then have ``draws``
    paths). Returns the paths, each draw's member label, the normalised weights and, for
    quantile averaging, the labelled mixture it re-ranked (else ``None``).
    """
    names = list(sims)
    w = np.array([weights[n] for n in names], dtype=float)
    w = w / w.sum() if w.sum() > 0 else np.full(len(names), 1.0 / len(names))
    assignment = np.repeat(np.arange(len(names)), allocate_draws(w, draws))
    assignment = assignment[stream(seed, *key, "assign").permutation(draws)]
    mixed = np.empty((draws, *sims[names[0]].shape[1:]))
    for idx, name in enumerate(names):
        rows = np.flatnonzero(assignment == idx)
        member = sims[name]
        if len(member) < len(rows):  # another member failed and this one takes its share
            extra = stream(seed, name, "refill").integers(0, len(member), len(rows) - len(member))
            member = np.concatenate([member, member[extra]])
        mixed[rows] = member[: len(rows)]
    labels = np.array(names, dtype=object)[assignment]
    if combine == "quantile" and len(names) > 1:
        averaged = vincentise(mixed, np.stack([sims[n][:draws] for n in names]), w)
        return averaged, labels, w, mixed
    return mixed, labels, w, None


def member_group_paths(
    model: Model,
    group: list[SeriesData],
    grid: list[int],
    draws: int,
    seed: int,
    key: tuple | None = None,
) -> np.ndarray:
    """One member's paths (draws, series, grid) for a group; valid after each last year.

    A multi-series member arrives fitted (jointly with the other groups) and simulates from
    the random stream ``key`` (default: the group's metric and the member's name); single-series
    members are fitted here, series by series.
    """
    out = np.full((draws, len(group), len(grid)), np.nan)
    if model.multi_series:
        years = model.years_
        end = years[-1]
        horizon = max(grid) - end
        rng = stream(seed, *(key or (group[0].metric, model.name)))
        paths = model.simulate(max(horizon, 0), draws, rng)
        all_years = list(years) + list(range(end + 1, end + 1 + max(horizon, 0)))
        paths = paths[:, :, [all_years.index(y) for y in grid]]
        for k, s in enumerate(group):
            last = float(s.history.dropna().iloc[-1])
            ahead = np.maximum(np.array(grid) - s.last_year, 0)
            paths[:, k, :] = envelope(paths[:, k, :], last, ahead, s.transform.kind)
        return paths
    for k, s in enumerate(group):
        horizon = max(grid) - s.last_year
        if horizon <= 0:
            continue
        p = member_paths(
            model, s.history, s.transform, horizon, draws, stream(seed, s.id, model.name)
        )
        for i, y in enumerate(grid):
            if y > s.last_year:
                out[:, k, i] = p[:, y - s.last_year - 1]
    return out
