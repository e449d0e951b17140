"""jqforecast's models on a chunk of benchmark series, run inside a worker: the sample paths
of the ensemble and of each member asked for (the pooled Bayesian member fitted per chunk),
the recalibration applied as :func:`jqforecast.forecast` applies it, and everything reduced
to the summaries the metrics need before it leaves the worker (:func:`jq_forecasts`)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jqforecast.backtest import metrics as M
from jqforecast.backtest.data import series_kind
from jqforecast.backtest.scores import crps_sample
from jqforecast.data.metrics import Kind
from jqforecast.engine import (
    MULTI_CHUNK,
    SeriesData,
    near_equal_chunks,
    resolve_models,
    simulate_group,
)
from jqforecast.engine.fitting import fit_with_retry, group_frames
from jqforecast.engine.simulate import member_group_paths
from jqforecast.models.base import Model, TooShortError
from jqforecast.models.bayes import HierarchicalGrowth
from jqforecast.models.calibration import PITCalibration
from jqforecast.models.ensemble import COMBINE, Combine, allocate_draws
from jqforecast.models.statistical import OPTIONAL_MODELS, STATISTICAL_MODELS
from jqforecast.models.transforms import Transform

JQ_MEMBERS = tuple(cls.name for cls in STATISTICAL_MODELS)  # the statistical ensemble
KNOWN_MEMBERS = JQ_MEMBERS + tuple(cls.name for cls in OPTIONAL_MODELS)  # may be asked for
BAYES = "bayes_growth"
UNCALIBRATED = "jqforecast_uncalibrated"  # the ensemble before quantile recalibration
# The pooled Bayesian member is fitted to chunks of BAYES_CHUNK series at once (one PyMC
# model, growth and volatility pooled across the chunk), on each series' last BAYES_POINTS
# values aligned at their ends: 645 separate MCMC runs would take hours. The same size as
# the pools of the member's weight backtests.
BAYES_CHUNK = MULTI_CHUNK
# The window: the member's drift and volatility come from the last BAYES_POINTS values,
# 15 (chosen for speed: long histories slow NUTS). Session 19 measured other windows
# (benchmarks/RESULTS.md, "Tried, not adopted: a shorter window for the Bayesian member"):
# 8 points won on the last held-out training years (the member alone OWA 0.828 vs 0.852,
# the ensemble 0.839 vs 0.848) but lost on an earlier held-out period (the member 0.832 vs
# 0.822) and on the test years (the ensemble 0.848 vs 0.846 full, 0.851 vs 0.841 at 10
# points): which window is best depends on the period. Session 20: a mixture of the fits on
# 8 and 15 points (max_points=(8, 15)) likewise gained on the last held-out years and lost
# on the earlier ones (ensemble OWA -0.008 / -0.011 vs +0.003 / +0.001).
BAYES_POINTS = 15


@dataclass
class Task:
    """A chunk of series for one worker."""

    ids: list[str]
    histories: list[np.ndarray]
    horizon: int
    models: list[str]
    weights: dict[str, float]
    draws: int
    seed: int
    bayes: bool = False  # fit the pooled Bayesian member (and mix it into "jqforecast")
    members: tuple[str, ...] = JQ_MEMBERS  # the statistical members of "jqforecast"
    combine: Combine = COMBINE  # how "jqforecast" combines its members
    # For scoring in the worker (never seen by a model): the test values, the step the
    # events are about, and the ensemble's recalibration learned with its weights.
    outcomes: list[np.ndarray] = field(default_factory=list)
    event_h: int = M.EVENT_H
    calibration: PITCalibration = field(default_factory=PITCalibration)


def benchmark_series(uid: str, y: np.ndarray, kind: Kind | None = None) -> SeriesData:
    """A benchmark series as the engine's members take it (``kind``:
    :func:`~jqforecast.backtest.data.series_kind`)."""
    transform = Transform(kind or series_kind(y))
    years = np.arange(1 - len(y), 1)  # every series ends at "year" 0: origins line up
    return SeriesData(
        id=str(uid),
        metric="benchmark",
        industry=str(uid),
        transform=transform,
        history=pd.Series(transform.forward(y), index=years),
        noise=pd.Series(np.zeros(len(y)), index=years),
        assumptions=(),
    )


def bayes_samples(
    ids: Sequence[str],
    histories: Sequence[np.ndarray],
    horizon: int,
    draws: int,
    seed: int,
    chunk: int = BAYES_CHUNK,
    settings: dict | None = None,
) -> tuple[dict[str, np.ndarray], list[dict]]:
    """Pooled Bayesian growth paths (draws, horizon) per series on the model (log) scale,
    and each chunk's MCMC diagnostics.

    Series are fitted in near-equal chunks of at most ``chunk`` (one
    :class:`HierarchicalGrowth` each, one chain process at a time inside a benchmark
    worker), on their last :data:`BAYES_POINTS` values aligned at the forecast origin, and
    refitted once with stricter settings when the diagnostics are poor, as
    :func:`~jqforecast.forecast` does; each chunk's paths come from a random stream named
    after its first series. ``settings`` are further :class:`HierarchicalGrowth` parameters
    (``benchmarks/pool_partition.py`` tries priors, damping and ``max_points`` with them).
    A sequence of windows as ``max_points`` mixes fits on each window (the draws shared as
    equally as they divide; one diagnostics entry per fit): averaging forecasts across
    estimation windows (Pesaran and Timmermann, 2007, J. Econometrics 137).
    """
    settings = {"seed": seed, "cores": 1, "max_points": BAYES_POINTS} | (settings or {})
    windows = settings.pop("max_points")
    windows = list(windows) if isinstance(windows, (list, tuple)) else [windows]
    shares = allocate_draws(np.full(len(windows), 1 / len(windows)), draws)
    grid = list(range(1, horizon + 1))
    out, diagnostics = {}, []
    for part in near_equal_chunks(np.arange(len(ids)), chunk):
        group = [benchmark_series(ids[i], histories[i], Kind.LEVEL) for i in part]
        frames = group_frames(group)  # log scale, every series ending at year 0
        mixed = []
        for window, share in zip(windows, shares.tolist(), strict=True):
            # as forecast() fits a group: once more with stricter settings if diagnostics are poor
            model = fit_with_retry(HierarchicalGrowth(**settings, max_points=window), frames)
            key = ("bayes", group[0].id, *([window] if len(windows) > 1 else []))
            mixed.append(member_group_paths(model, group, grid, share, seed, key=key))
            diagnostics.append(model.diagnostics_)
        paths = np.concatenate(mixed, axis=0)
        out.update({s.id: paths[:, k, :] for k, s in enumerate(group)})
    return out, diagnostics


FALLBACK = "rw_drift"  # what a member's row shows for a series it cannot forecast


@dataclass
class FitMemo:
    """Fits of one series' members shared between the ensemble's row and each member's own
    row (:class:`FitOnce`), and the seconds of fits a row reused instead of paying."""

    fits: dict[tuple, tuple[Model | Exception, float]] = field(default_factory=dict)
    reused_seconds: float = 0.0

    def take_reused(self) -> float:
        """Seconds of reused fits since the last call (charged to the row that reused them)."""
        seconds, self.reused_seconds = self.reused_seconds, 0.0
        return seconds


class FitOnce(Model):
    """A single-series member that fits a given history once and remembers it.

    The benchmark scores every member twice on each series, inside the ensemble
    (``"jqforecast"``) and alone, and fitting is the costly part (the ``arima`` member's
    auto.arima search took 180 of the 2 workers' 560 CPU seconds on M3, session 24): the
    fits are deterministic, so the second row simulates from the first row's fitted model
    with its own random stream and gets the very same paths. A reused fit's seconds are
    added to :attr:`FitMemo.reused_seconds`, so each row is still timed as if it had fitted
    alone. Written here, not with :func:`functools.cache`, because the engine calls
    ``model.clone().fit(history)`` and the memo must outlive the clones.

    >>> from jqforecast.models.statistical import RandomWalkDrift
    >>> memo = FitMemo()
    >>> y = pd.Series([1.0, 1.2, 1.1, 1.4], index=[-3, -2, -1, 0])
    >>> a = FitOnce(RandomWalkDrift(), memo).clone().fit(y)
    >>> b = FitOnce(RandomWalkDrift(), memo).clone().fit(y)
    >>> a.fitted_ is b.fitted_, len(memo.fits)
    (True, 1)
    """

    def __init__(self, model: Model, memo: FitMemo | None = None):
        self.model = model
        self.memo = FitMemo() if memo is None else memo
        # the engine reads these as class attributes of a member
        self.name = model.name  # type: ignore[misc]
        self.min_points = model.min_points  # type: ignore[misc]
        self.handles_gaps = model.handles_gaps  # type: ignore[misc]
        self.data_scale = model.data_scale  # type: ignore[misc]

    def fit(self, history: pd.Series) -> FitOnce:
        key = (self.name, history.index[0], history.index[-1], history.to_numpy().tobytes())
        if key in self.memo.fits:
            fitted, seconds = self.memo.fits[key]
            self.memo.reused_seconds += seconds
        else:
            t0 = time.perf_counter()
            try:
                fitted = self.model.clone().fit(history)
            except Exception as err:  # remembered too: the other row fails alike, as before
                fitted = err
            self.memo.fits[key] = fitted, time.perf_counter() - t0
        if isinstance(fitted, Exception):
            raise fitted
        self.fitted_ = fitted
        return self

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        return self.fitted_.simulate(horizon, draws, rng)


def jq_samples(
    task: Task,
) -> tuple[dict[str, np.ndarray], dict[str, float], list[dict], dict[str, int]]:
    """Samples (series, draws, horizon) per jqforecast model for a chunk, fit times, the
    Bayesian chunks' diagnostics and, per model, how many series fell back to
    :data:`FALLBACK`.

    ``"jqforecast"`` combines the statistical members' paths and, when the Bayesian member is on,
    its paths with the learned weights, as :func:`jqforecast.forecast` does; members that cannot
    forecast a series (too few points, or a failed fit) are left out of its mixture there, as in
    :func:`jqforecast.forecast`. A single member's row shows :data:`FALLBACK`'s paths for such a
    series (the M4 convention of a simple fallback, counted in ``metrics.json``), and
    ``bayes_growth``'s for series with a value ≤ 0, which it does not model.
    """
    warnings.simplefilter("ignore")
    wanted = {*task.members, *(m for m in task.models if m in KNOWN_MEMBERS), FALLBACK}
    members = {m.name: m for m in resolve_models(sorted(wanted), task.seed)}
    memo = FitMemo()  # one series' fits, shared by its rows (cleared per series)
    members = {name: FitOnce(m, memo) for name, m in members.items()}
    out: dict[str, list] = {name: [] for name in task.models}
    seconds = dict.fromkeys(task.models, 0.0)
    fallbacks = dict.fromkeys(task.models, 0)
    series = [benchmark_series(uid, y) for uid, y in zip(task.ids, task.histories, strict=True)]
    bayes: dict[str, np.ndarray] = {}
    diagnostics: list[dict] = []
    positive = [k for k, s in enumerate(series) if s.transform.kind is Kind.LEVEL]
    if task.bayes and positive:
        t0 = time.perf_counter()
        bayes, diagnostics = bayes_samples(
            [task.ids[k] for k in positive],
            [task.histories[k] for k in positive],
            task.horizon,
            task.draws,
            task.seed,
        )
        seconds[BAYES] = time.perf_counter() - t0
    grid = list(range(1, task.horizon + 1))

    def paths(s: SeriesData, chosen: list, weights: dict, extra=None) -> np.ndarray:
        z = simulate_group([s], chosen, weights, grid, task.draws, task.seed, task.combine, extra)
        return z.paths[:, 0, :]

    for s in series:
        memo.fits.clear()
        for name in task.models:
            t0 = time.perf_counter()
            try:
                if name == BAYES:
                    z = bayes.get(s.id)  # None for a series with a value ≤ 0
                elif name == "jqforecast":
                    extra = {BAYES: bayes[s.id][:, None, :]} if s.id in bayes else None
                    z = paths(s, [members[m] for m in task.members], task.weights, extra)
                else:
                    z = paths(s, [members[name]], {name: 1.0})
            except (TooShortError, RuntimeError):  # too short, or every fit failed
                z = None
            if z is None:
                z = paths(s, [members[FALLBACK]], {FALLBACK: 1.0})
                fallbacks[name] += 1
            out[name].append(s.transform.inverse(z))
            seconds[name] += time.perf_counter() - t0 + memo.take_reused()
    return {k: np.stack(v) for k, v in out.items()}, seconds, diagnostics, fallbacks


def jq_forecasts(
    task: Task,
) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, float], list[dict], dict[str, int]]:
    """:func:`jq_samples` for a chunk, reduced in the worker to what
    :func:`~jqforecast.backtest.scoreboard.score` needs (:func:`summarise`), so that no process ever
    holds every series' draws: on M4 Yearly's 23 000 series the draws of one model alone would take
    4.4 GB (4 000 draws × 6 years).

    The ensemble's recalibration (``task.calibration``) is applied here, as
    :func:`~jqforecast.forecast` applies it; the raw mixture is kept as
    :data:`UNCALIBRATED`, so the effect of recalibration is measured, not assumed.
    Returns summaries per model, times (``jqforecast``'s including its recalibration; up to
    session 14 that was left out, ~0.6 s of 2 workers' time on M3), Bayesian diagnostics and
    fallback counts.
    """
    samples, seconds, diagnostics, fallbacks = jq_samples(task)
    if "jqforecast" in samples and not task.calibration.is_identity:
        t0 = time.perf_counter()
        raw = samples["jqforecast"]
        samples[UNCALIBRATED] = raw
        seconds[UNCALIBRATED] = seconds["jqforecast"]
        moved = task.calibration.apply(np.moveaxis(raw, 1, 0), range(1, task.horizon + 1))
        samples["jqforecast"] = np.moveaxis(moved, 0, 1)
        seconds["jqforecast"] += time.perf_counter() - t0  # part of the forecast, timed too
    outcomes = np.stack(task.outcomes)
    last = np.array([h[-1] for h in task.histories])
    summaries = {m: summarise(s, outcomes, last, task.event_h) for m, s in samples.items()}
    return summaries, seconds, diagnostics, fallbacks


def summarise(
    samples: np.ndarray,
    outcomes: np.ndarray,
    last: np.ndarray,
    event_h: int = M.EVENT_H,
) -> dict[str, np.ndarray]:
    """Per-series summaries of sample paths ``(series, draws, horizon)``: the point forecast
    (``"mean"``, the sample median), the 80 % and 95 % bounds, each series' CRPS per step
    against ``outcomes (series, horizon)`` (``"crps"``, on the data scale) and the event
    probabilities about step ``event_h`` given the last observed values (``"p_ge_m10"`` …).

    Examples
    --------
    >>> s = np.arange(1.0, 6.0)[None, :, None]  # one series, draws 1..5, one step
    >>> f = summarise(s, np.array([[3.0]]), np.array([3.0]), event_h=1)
    >>> float(f["mean"][0, 0]), float(f["p_ge_0"][0]), round(float(f["crps"][0, 0]), 3)
    (3.0, 0.6, 0.4)

    (CRPS = E|X − 3| − ½ E|X − X'| = 6/5 − ½ · 40/25.)
    """
    q = np.quantile(samples, [0.1, 0.9, 0.025, 0.975, 0.5], axis=1)
    # The point forecast of a sample model is its median: back-transformed from logs the mean
    # is pulled up by the right tail, which absolute-error metrics punish.
    out = {"mean": q[4], "lo-80": q[0], "hi-80": q[1], "lo-95": q[2], "hi-95": q[3]}
    out["crps"] = crps_sample(np.moveaxis(samples, 1, 2), outcomes)
    return out | M.event_probabilities_samples(samples[:, :, event_h - 1], last)
