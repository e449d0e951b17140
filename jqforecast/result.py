"""``Forecast``: labelled joint sample paths ``(draw, series, year)`` and what you can do with them.

Draw ``i`` of every series comes from the same joint draw, so any quantity computed draw by
draw (a sum over industries, a ratio of two metrics, an addition over years) has a proper
distribution: use :meth:`Forecast.derive` or :meth:`Forecast.values`.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from jqforecast._io import write_atomic


def series_id(metric: str, industry: str) -> str:
    """The id of a series: ``"metric/industry"``."""
    return f"{metric}/{industry}"


def keep_cumulative(
    paths: np.ndarray,
    series: Sequence[str],
    last_observed: dict[str, int],
    years: Sequence[int],
    floors: dict[str, float] | None = None,
) -> dict[str, float]:
    """Keep cumulative stocks (:attr:`Metric.cumulative <jqforecast.data.metrics.Metric>`)
    from falling, in place: each path of ``paths`` (draws, series, years) after the series'
    last observed year is raised to the running maximum of its earlier years and, when
    given, the series' floor (``floors``). Returns, per cumulative series, the share of
    draws raised in any year. The forecast uses it with the last observation as the floor,
    scenarios without one (a lever then stops the total growing instead of making it fall).

    Examples
    --------
    >>> paths = np.array([[[1.5, 3.0, 2.5]], [[2.5, 2.6, 2.7]]])  # 2 draws, 1 series, 3 years
    >>> sid = "smart_factories/park_total"
    >>> keep_cumulative(paths, [sid], {sid: 2023}, [2024, 2025, 2026], {sid: 2.0})
    {'smart_factories/park_total': 0.5}
    >>> paths[0, 0].tolist()  # below the floor in 2024, a fall in 2026: both raised
    [2.0, 3.0, 3.0]
    """
    from jqforecast.data.metrics import METRICS

    raised = {}
    for j, sid in enumerate(series):
        if not METRICS[sid.split("/")[0]].cumulative:
            continue
        ahead = np.asarray(years) > last_observed.get(sid, -(10**6))
        block = paths[:, j, ahead]
        start = block if floors is None else np.maximum(block, floors[sid])
        kept = np.maximum.accumulate(start, axis=1)
        raised[sid] = float(np.mean((kept > block).any(axis=1)))
        paths[:, j, ahead] = kept
    return raised


def with_own_error(
    draws: np.ndarray, transform, sd: float, seed: int, series: str, year: int
) -> np.ndarray:
    """``draws`` of a figure's value with its own measurement error added: ``sd`` on the
    unconstrained scale of ``transform``, from the stream keyed by the series and year
    (so every use of one figure draws the same errors). ``sd == 0``: ``draws`` unchanged."""
    if sd == 0.0:
        return draws
    from jqforecast.engine.series import stream

    rng = stream(seed, "own error", series, year)
    return transform.inverse(transform.forward(draws) + sd * rng.standard_normal(len(draws)))


@dataclass
class Forecast:
    """Joint sample paths with their history and how they were made.

    Attributes
    ----------
    paths : xarray.DataArray
        dims ``(draw, series, year)``; for years already observed the draws hold the observed
        value (times the shared derivation factor for derived data, see ``meta``).
    history : DataFrame
        The observations the forecast was fitted on (the long table).
    meta : dict
        ``models``, ``weights``, ``diagnostics``, ``seed``, ``draws``, ``units`` and notes on
        which sources of uncertainty the paths include.
    members : xarray.DataArray, optional
        dims ``(draw, series)``: the ensemble member that simulated each draw of each series
        (``"observed"`` for a series observed through the last year). Lets model uncertainty
        be read off any derived quantity (:meth:`member_of`).
    mixture : xarray.DataArray, optional
        For an ensemble that averages its members' quantiles (``meta["combine"] ==
        "quantile"``): the draws as the labelled members simulated them, before averaging
        (the averaged ``paths`` keep these draws' ranks). :meth:`member_draws` gives them.
    """

    paths: xr.DataArray
    history: pd.DataFrame
    meta: dict = field(default_factory=dict)
    members: xr.DataArray | None = None
    mixture: xr.DataArray | None = None

    # ----------------------------------------------------------------- access
    @property
    def series(self) -> list[str]:
        """Series ids in the forecast."""
        return [str(s) for s in self.paths.coords["series"].values]

    @property
    def years(self) -> list[int]:
        """Years covered by the paths."""
        return [int(y) for y in self.paths.coords["year"].values]

    @property
    def n_draws(self) -> int:
        """Number of joint draws."""
        return int(self.paths.sizes["draw"])

    def values(self, series: str, year: int) -> np.ndarray:
        """Draws of one series in one year (a 1-D array of length ``n_draws``)."""
        if series not in self.series:
            raise KeyError(f"series {series!r} not in forecast; available: {self.series}")
        if year not in self.years:
            raise KeyError(f"year {year} not in forecast; available: {self.years}")
        return self.paths.sel(series=series, year=year).values

    def assumption_factors(self) -> dict[str, np.ndarray]:
        """Each shared derivation assumption's factor, one per draw: the paths of the
        series derived with assumption ``a`` were moved by ``meta["assumption_sd"][a] ×
        factor`` on their unconstrained scale (the same draws as
        :func:`jqforecast.engine.forecast`). Standard normal unless official figures
        informed it (:meth:`assumption_posterior`)."""
        return self.assumption_posterior().draws(int(self.meta.get("seed", 0)), self.n_draws)

    def assumption_posterior(self):
        """The shared factors' distribution the forecast drew from
        (:class:`~jqforecast.engine.anchors.FactorPosterior`: ``N(0, I)`` unless official
        figures next to derived ones informed it; ``evidence`` says which)."""
        from jqforecast.engine.anchors import FactorPosterior

        stored = self.meta.get("assumption_posterior")
        if stored is not None:
            return FactorPosterior.from_dict(stored)
        return FactorPosterior.prior(self.meta.get("assumption_sd", {}))

    def loading(self, series: str, assumption: str, year: int) -> float:
        """How much of ``assumption``'s shift the series' value in ``year`` carries, as the
        forecast applied it (``meta["loadings"]``): 1 for a figure derived with it, 0 for
        an official one, a share across a gap between the two (a year without a figure
        between a derived 2024 and an official 2026: ½), after the last figure the last
        one's. For a year outside the paths, or a forecast without the record: 1 if
        :meth:`assumptions_of` lists it, else 0."""
        stored = self.meta.get("loadings")
        if stored is not None and year in self.years:
            per_year = stored.get(series, {}).get(assumption)
            return 0.0 if per_year is None else float(per_year[self.years.index(year)])
        return 1.0 if assumption in self._figure_assumptions(series, year) else 0.0

    def shifted(self, series: str, values: np.ndarray, shift: np.ndarray | float) -> np.ndarray:
        """``values`` of ``series`` (data scale) moved by a shared derivation ``shift`` as
        the forecast moves them: on the unconstrained scale of the series' data type, and a
        stock forecast through its additions multiplied by ``e^shift`` and kept whole.

        >>> Forecast(None, None, {"stocks_from_additions": ["smart_factories/park_total"]}
        ...          ).shifted("smart_factories/park_total", np.array([10.0]), np.log(1.26))
        array([13.])
        """
        from jqforecast.data.metrics import METRICS
        from jqforecast.models.transforms import Transform

        if series in self.meta.get("stocks_from_additions", ()):
            return np.round(np.asarray(values, dtype=float) * np.exp(shift))
        transform = Transform(METRICS[series.split("/", 1)[0]].kind)
        return transform.inverse(transform.forward(values) + shift)

    def assumptions_of(self, series: str, year: int) -> list[str]:
        """The shared assumptions a series' value in ``year`` carries: those its figure of
        that year was derived with, or, for a year it was not observed in, its latest
        figure's before that year (what a forecast starts from; an official figure: none);
        a year without a figure between a derived and an official one carries a share
        (:meth:`loading`), and counts."""
        stored = self.meta.get("loadings")
        if stored is not None and year in self.years:
            return sorted(a for a in stored.get(series, {}) if self.loading(series, a, year) > 0)
        return self._figure_assumptions(series, year)

    def _figure_assumptions(self, series: str, year: int) -> list[str]:
        """The assumptions of the series' latest figure up to ``year``."""
        metric, industry = series.split("/", 1)
        h = self.history
        if "assumption" not in h:
            return []
        rows = h[(h["metric"] == metric) & (h["industry"] == industry) & (h["year"] <= year)]
        if rows.empty:
            return []
        text = rows.sort_values("year")["assumption"].iloc[-1]
        return sorted(str(text).split()) if pd.notna(text) else []

    def observed_draws(self, series: str, year: int) -> np.ndarray:
        """Draws of the true value behind an observed figure (KeyError if ``year`` was not
        observed): the figure moved by each draw's shared derivation factors, the same
        factors as the paths' (:meth:`assumption_factors`), and by its own measurement
        error (its ``rel_sd`` less the shared part). Constant for an official figure. What
        the charts draw as a past figure's uncertainty.

        Examples
        --------
        >>> fc.observed_draws("revenue/ic", 2024).std() > 0  # a derived figure # doctest: +SKIP
        True
        """
        from jqforecast.data.metrics import METRICS
        from jqforecast.engine.series import own_rel_sd
        from jqforecast.models.transforms import Transform

        metric, industry = series.split("/", 1)
        h = self.history
        row = h[(h["metric"] == metric) & (h["industry"] == industry) & (h["year"] == year)]
        if row.empty:
            raise KeyError(f"{series} has no observed figure for {year}")
        sds = self.meta.get("assumption_sd", {})
        seed, draws = int(self.meta.get("seed", 0)), self.n_draws
        value = float(row["value"].iloc[0])
        carried = self.assumptions_of(series, year)
        transform = Transform(METRICS[metric].kind)
        if carried:
            factors = self.assumption_factors()
            shift = sum(sds[a] * factors[a] for a in carried)
            true = self.shifted(series, np.full(draws, value), shift)
        else:
            true = np.full(draws, value)
        own = float(own_rel_sd(row, sds).iloc[0]) if "status" in row else 0.0
        return with_own_error(true, transform, own, seed, series, year)

    def member_of(self, series: Sequence[str]) -> np.ndarray:
        """Per draw, the member(s) behind ``series`` jointly: ``"theta"`` when one member
        simulated all of them in that draw, ``"bayes_growth+theta"`` for a mixture; all
        ``"unknown"`` for a forecast made without member labels."""
        if self.members is None:
            return np.full(self.n_draws, "unknown")
        labels = self.members.sel(series=list(series)).values.astype(str)
        return np.array(["+".join(sorted(set(row))) for row in labels])

    def member_draws(self) -> Forecast:
        """The forecast whose draw ``i`` of each series is what ``members`` says simulated it:
        the mixture before quantile averaging, or the forecast itself when it is a mixture.
        What "P(hit) under each member" is computed from."""
        if self.mixture is None:
            return self
        return Forecast(
            paths=self.mixture, history=self.history, meta=self.meta, members=self.members
        )

    def derive(self, fn: Callable[[Forecast], np.ndarray], name: str = "derived") -> pd.Series:
        """Distribution of any quantity computed draw by draw.

        Examples
        --------
        >>> total = fc.derive(lambda f: sum(f.values(f"revenue/{i}", 2026)
        ...                                   for i in ("ic", "biomed", "ai")))  # doctest: +SKIP
        """
        out = np.asarray(fn(self), dtype=float)
        if out.shape != (self.n_draws,):
            raise ValueError(f"derive: fn must return one value per draw, got shape {out.shape}")
        return pd.Series(out, name=name).rename_axis("draw")

    # ---------------------------------------------------------------- summaries
    def mean(self) -> pd.DataFrame:
        """Mean of every series and year (series × year)."""
        return self.paths.mean("draw").to_pandas()

    def quantiles(self, q: float | Sequence[float]) -> pd.DataFrame:
        """Quantiles, long format: columns ``series, year, q, value``."""
        qs = np.atleast_1d(q)
        arr = self.paths.quantile(qs, dim="draw")
        return arr.to_dataframe(name="value").reset_index().rename(columns={"quantile": "q"})

    def interval(self, level: float = 80) -> pd.DataFrame:
        """Central interval at ``level`` percent: columns ``series, year, lo, hi``."""
        a = (100 - level) / 200
        lo = self.paths.quantile(a, dim="draw").drop_vars("quantile").to_pandas()
        hi = self.paths.quantile(1 - a, dim="draw").drop_vars("quantile").to_pandas()
        return pd.DataFrame({"lo": lo.stack(), "hi": hi.stack()}).reset_index()

    def to_frame(self, levels: Sequence[float] = (80, 95)) -> pd.DataFrame:
        """Tidy table, statsforecast-style names: ``unique_id, year, mean, median, lo-80, …``."""
        out = self.mean().stack().rename("mean").to_frame()
        out["median"] = self.paths.median("draw").to_pandas().stack()
        for level in levels:
            iv = self.interval(level).set_index(["series", "year"])
            out[f"lo-{level:g}"] = iv["lo"]
            out[f"hi-{level:g}"] = iv["hi"]
        out = out.reset_index().rename(columns={"series": "unique_id"})
        units = self.meta.get("units", {})
        out["unit"] = out["unique_id"].map(units)
        return out

    # ------------------------------------------------------------------ storage
    def to_netcdf(self, path: str | Path) -> Path:
        """Save paths, history and metadata to one NetCDF file (atomically; no pickle)."""
        ds = self.paths.to_dataset(name="paths")
        if self.members is not None:
            ds["members"] = self.members.astype(str)
        if self.mixture is not None:
            ds["mixture"] = self.mixture
        ds.attrs["meta"] = json.dumps(self.meta, ensure_ascii=False, default=str)
        ds.attrs["history"] = self.history.to_json(orient="records", force_ascii=False)
        ds.attrs["format"] = "jqforecast.Forecast/1"
        return write_atomic(path, lambda p: ds.to_netcdf(p, engine="h5netcdf"))

    @classmethod
    def from_netcdf(cls, path: str | Path) -> Forecast:
        """Load a forecast written by :meth:`to_netcdf`."""
        with xr.open_dataset(path, engine="h5netcdf") as ds:
            if ds.attrs.get("format") != "jqforecast.Forecast/1":
                raise ValueError(f"{path} is not a jqforecast forecast file")
            paths = ds["paths"].load()
            members = ds["members"].load().astype(str) if "members" in ds else None
            mixture = ds["mixture"].load() if "mixture" in ds else None
            meta = json.loads(ds.attrs["meta"])
            history = pd.read_json(io.StringIO(ds.attrs["history"]), orient="records")
        paths.coords["series"] = paths.coords["series"].astype(str)
        for extra in (members, mixture):
            if extra is not None:
                extra.coords["series"] = extra.coords["series"].astype(str)
        return cls(paths=paths, history=history, meta=meta, members=members, mixture=mixture)

    def equals(self, other: Forecast) -> bool:
        """Same paths, member labels and member draws (exactly), same coordinates and seed."""

        def same(a: xr.DataArray | None, b: xr.DataArray | None) -> bool:
            return (a is None and b is None) or (
                a is not None and b is not None and bool((a.values == b.values).all())
            )

        return bool(
            self.paths.identical(other.paths)
            and same(self.members, other.members)
            and same(self.mixture, other.mixture)
            and self.meta.get("seed") == other.meta.get("seed")
        )

    # ------------------------------------------------------------------ display
    def __repr__(self) -> str:
        return (
            f"Forecast({len(self.series)} series × {len(self.years)} years × {self.n_draws} draws, "
            f"models={self.meta.get('models')}, seed={self.meta.get('seed')})"
        )

    def _repr_html_(self) -> str:
        table = self.to_frame()
        last = table[table["year"] == table["year"].max()]
        weights = self.meta.get("weights", {})
        w = ", ".join(f"{k} {v:.2f}" for k, v in weights.items()) if weights else "—"
        return (
            f"<div><b>jqforecast.Forecast</b>: {len(self.series)} series, years "
            f"{self.years[0]}–{self.years[-1]}, {self.n_draws} joint draws, seed "
            f"{self.meta.get('seed')}<br>ensemble weights: {w}</div>"
            + last.round(4).to_html(index=False)
        )
