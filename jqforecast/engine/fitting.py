"""Fitting the multi-series (Bayesian) members, one pooled fit per metric group, spread
over processes, with one automatic refit when the MCMC diagnostics are poor."""

from __future__ import annotations

import multiprocessing
import os
import warnings
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import numpy as np
import pandas as pd

from jqforecast.engine.parallel import Mapper, one_blas_thread
from jqforecast.engine.series import SeriesData, select_members
from jqforecast.models.base import Model
from jqforecast.models.bayes import MultiSeriesModel, fit_jointly


def group_frames(group: list[SeriesData]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The group's histories and measurement sds as years × series frames (NaN gaps)."""
    start = min(int(s.history.index[0]) for s in group)
    years = range(start, max(s.last_year for s in group) + 1)
    frame = pd.DataFrame({s.id: s.history.reindex(years) for s in group})
    noise = pd.DataFrame({s.id: s.noise.reindex(years) for s in group})
    return frame, noise


def fit_multi_series(
    group: list[SeriesData],
    candidates: list[Model],
    seed: int,
    diagnostics: dict,
    skipped: dict,
    prefit: dict | None = None,
) -> dict[str, Model]:
    """The group's fitted multi-series members (one MCMC run each), keyed by member name:
    taken from ``prefit`` (:func:`fit_groups`) when it holds them, else fitted here.

    A failed fit marks the member as skipped for the group (the statistical members still
    forecast it). The park's metric groups are not sampled as one joint model: measured on
    the bundled data that was no faster (23.5 s vs 22.3 s) because NUTS's step size then
    adapts to the hardest group, and revenue's ESS fell below the threshold (61).
    """
    fitted = {}
    for m in candidates:
        if not m.multi_series:
            continue
        key = (group[0].metric, m.name)
        if prefit is None or key not in prefit:
            outcome = _fit_member((m.clone().set_params(seed=seed), group_frames(group)))
        else:
            outcome = prefit[key]
        model, caught = outcome
        for w in caught:  # raised where the fit ran (maybe another process): raise here
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if isinstance(model, Exception):
            for s in group:
                skipped[s.id][m.name] = f"fit failed: {model}"
            continue
        diagnostics[f"{m.name}:{group[0].metric}"] = model.diagnostics_
        fitted[m.name] = model
    return fitted


def _fit_member(job: tuple[MultiSeriesModel, tuple]) -> tuple[MultiSeriesModel | Exception, list]:
    """Fit one multi-series member on one group's frames (:func:`fit_with_retry`): the
    fitted model, or the error that stopped it, and the warnings raised on the way."""
    model, frames = job
    with warnings.catch_warnings(record=True) as caught:
        try:
            fitted: MultiSeriesModel | Exception = fit_with_retry(model, frames)
        except (ValueError, np.linalg.LinAlgError, RuntimeError) as err:
            fitted = err
    return fitted, list(caught)


def fit_groups(
    groups: list[list[SeriesData]],
    members: list[Model],
    weight_map: dict[str, float],
    grid: list[int],
    seed: int,
    jobs: int | None = None,
) -> dict[tuple[str, str], tuple]:
    """Fit every group's multi-series (Bayesian) members at once, the fits spread over
    ``jobs`` processes: ``(metric, member) → (fitted model or error, warnings)`` for
    :func:`simulate_group`'s ``prefit``.

    Why: fitted one after another, each of the bundled data's four group fits compiles its
    model on one core (~1.6 s) and then samples two chains in two processes; spread over two
    processes with the chains of a fit one after another, one fit compiles while the other
    samples and no chain processes are started. Same draws either way (each chain has its
    own seed; test ``test_group_fits_in_processes_give_the_same_forecast``). The largest
    groups are submitted first. Workers are forked (they inherit the imported PyMC; a
    spawned worker would spend ~4 s importing it), so on systems without ``fork``, with
    ``jobs=1``, in a daemon process or for a single fit the groups are fitted here, their
    chains in parallel as before.
    """
    work = []
    for group in groups:
        multi = [
            m for m in select_members(group, members, weight_map, grid, {}, {}) if m.multi_series
        ]
        frames = group_frames(group) if multi else None
        for m in multi:
            work.append(((group[0].metric, m.name), m.clone().set_params(seed=seed), frames))
    work.sort(key=lambda job: -job[2][0].size)  # largest first: the pool then balances
    with _fit_pool(len(work), jobs) as (mapper, cap):
        if cap is not None:  # each fit may start at most ``cap`` chain processes
            for _, m, _ in work:
                m.set_params(cores=min(m.cores, cap))
        results = list(mapper(_fit_member, [(m, f) for _, m, f in work]))
    return {key: result for (key, _, _), result in zip(work, results, strict=True)}


@contextmanager
def _fit_pool(fits: int, jobs: int | None) -> Iterator[tuple[Mapper, int | None]]:
    """A ``map`` for ``fits`` group fits and the most chain processes each fit may start
    (``None``: as many as the model's own ``cores`` asks for)."""
    cpus = os.cpu_count() or 1
    if multiprocessing.current_process().daemon:  # (a pool's worker may start no processes)
        yield map, 1
        return
    workers = min(fits, jobs or cpus)
    if workers <= 1 or "fork" not in multiprocessing.get_all_start_methods():
        yield map, None
        return
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=one_blas_thread) as pool:
        yield pool.map, max(1, cpus // workers)


def fit_with_retry(model: MultiSeriesModel, frames: tuple) -> MultiSeriesModel:
    """Fit ``model``; if its MCMC diagnostics are poor, fit once more with
    :meth:`~jqforecast.models.bayes.MultiSeriesModel.stricter` settings and keep that.

    Measured on the bundled data over 22 seeds at the default settings: 2 of 88 group fits
    had one divergence (seed 19: PCT filings and R&D intensity), which alone makes
    ``jqforecast run`` exit 2. The second attempt costs time only then; its diagnostics
    carry the first attempt's under ``"first_attempt"``, and a warning is raised only when
    it too is poor (the first attempt's warning is held back).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "[^:]*: poor convergence", RuntimeWarning)
        (first,) = fit_jointly([(model, *frames)])
    if first.diagnostics_["ok"]:
        return first
    (second,) = fit_jointly([(first.stricter(), *frames)])
    second.diagnostics_["first_attempt"] = dict(first.diagnostics_)
    return second
