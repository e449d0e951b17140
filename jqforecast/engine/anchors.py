"""What official figures say about the shared derivation assumptions.

A derived figure is the true value moved by ``sd_a × f_a`` on its unconstrained scale for
each assumption ``a`` it was derived with (the park's share of Pudong, say): one standard-
normal factor ``f_a`` per assumption, shared by every series derived with it
(:func:`~jqforecast.engine.series.assumption_factors`). An official figure carries none
of it. So where a series has an official figure next to derived ones, the step between
them is its growth *minus* the derived figures' shared error, and — with the growth of the
series' other years as the yardstick — says something about ``f_a``, for *every* series
derived with ``a``: one official park revenue figure re-anchors the other industries'
derived revenue too.

The model (Gaussian and linear, so the posterior is exact given the growth volatility):
between consecutive observed figures of one series, ``Δ`` years apart, the change on the
shift scale is ``μ Δ − Σ_a sd_a f_a (ℓ_a,t − ℓ_a,t−Δ) + e`` with ``Var e = σ² Δ`` plus
both figures' own measurement variances, ``ℓ`` the figures' loadings on each assumption
(1 derived with it, 0 not), ``μ`` the series' drift (flat prior) and ``σ`` its yearly
volatility, estimated from the changes that do not cross a change of loading ("calm"),
shrunk towards a prior scale worth :data:`GROWTH_SD_PRIOR_WEIGHT` pseudo-changes: the
calm changes of the metric's other series pooled with :data:`GROWTH_SD_PRIOR` (so the
other industries' revenue say how volatile revenue is; with nothing to learn from, the
prior itself). A series with a single change across the step (two
figures, one derived, one official) cannot tell growth from step and leaves the factors
as they were. Prior ``f ~ N(0, I)``.

Written out (a regression with a known prior on some coefficients and an unknown drift
per series) because the pieces are a dozen lines of linear algebra; statsmodels' GLS
would need the prior rows appended by hand all the same.

The forecast then draws the factors from the posterior (:meth:`FactorPosterior.draws`),
and every series' history is re-anchored by the posterior mean on its last figure's
footing (:func:`anchor_offsets`), so that the models see no step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from jqforecast.data.metrics import METRICS
from jqforecast.engine.series import assumption_factors, series_rows
from jqforecast.models.transforms import Transform

# Prior yearly volatility of a series' changes on its log scale: the 75th percentile of
# the per-series sd of yearly log changes over M3's 645 yearly series (median 0.081, 75 %
# 0.157, 90 % 0.267; measured 2026-11-27 on ../shared/benchmarks/m3_yearly/m3_yearly_train.csv).
# The upper quartile, not the median: a volatility set too low would make a step look like
# evidence about the factor when it is growth.
GROWTH_SD_PRIOR = 0.16
# Pseudo-changes behind the prior (a scaled inverse-χ² prior; > 2 so its mean is finite)
GROWTH_SD_PRIOR_WEIGHT = 4.0


@dataclass(frozen=True)
class FactorPosterior:
    """The shared derivation factors' distribution given the data: ``N(mean, cov)`` over
    ``names`` (sorted), in units of each assumption's sd; the prior is ``N(0, I)``.
    ``evidence`` lists the series whose steps informed it."""

    names: tuple[str, ...]
    mean: np.ndarray
    cov: np.ndarray
    evidence: tuple[dict, ...] = field(default=())

    @classmethod
    def prior(cls, names) -> FactorPosterior:
        """Nothing learned: ``N(0, I)``."""
        names = tuple(sorted(names))
        return cls(names, np.zeros(len(names)), np.eye(len(names)))

    @property
    def is_prior(self) -> bool:
        """Whether no figure informed the factors."""
        return not self.evidence

    def sd(self) -> dict[str, float]:
        """Each factor's posterior sd (1 a priori)."""
        return dict(zip(self.names, np.sqrt(np.diag(self.cov)).tolist(), strict=True))

    def means(self) -> dict[str, float]:
        """Each factor's posterior mean (0 a priori)."""
        return dict(zip(self.names, self.mean.tolist(), strict=True))

    def draws(self, seed: int, n: int) -> dict[str, np.ndarray]:
        """``n`` joint draws of the factors: ``mean + chol(cov) ε``, with ``ε`` the
        standard-normal streams of :func:`~jqforecast.engine.series.assumption_factors`
        (so the prior's draws are exactly those streams).

        >>> p = FactorPosterior.prior(["b", "a"])
        >>> bool(np.array_equal(p.draws(0, 5)["a"], assumption_factors(0, ["a"], 5)["a"]))
        True
        """
        eps = assumption_factors(seed, self.names, n)
        if self.is_prior:
            return eps
        z = np.stack([eps[a] for a in self.names])
        f = self.mean[:, None] + np.linalg.cholesky(self.cov) @ z
        return dict(zip(self.names, f, strict=True))

    def steps(self) -> str:
        """The steps that informed the factors, in words: ``"revenue/ic 2024-2025; …"``."""
        return "; ".join(f"{e['series']} {', '.join(e['steps'])}" for e in self.evidence)

    def to_dict(self) -> dict:
        """JSON-ready (the forecast's ``meta["assumption_posterior"]``)."""
        return {
            "names": list(self.names),
            "mean": self.mean.tolist(),
            "cov": self.cov.tolist(),
            "evidence": list(self.evidence),
        }

    @classmethod
    def from_dict(cls, d: dict) -> FactorPosterior:
        return cls(
            tuple(d["names"]),
            np.asarray(d["mean"], dtype=float),
            np.asarray(d["cov"], dtype=float).reshape(len(d["names"]), len(d["names"])),
            tuple(d.get("evidence", ())),
        )


def shift_scale(metric: str, values: np.ndarray) -> np.ndarray:
    """Values on the scale the shared factors move them on: the data type's unconstrained
    scale, and logs for a cumulative stock (the forecast multiplies a stock by the factor)."""
    if METRICS[metric].cumulative:
        return np.log(np.maximum(np.asarray(values, dtype=float), 0.5))
    return Transform(METRICS[metric].kind).forward(values)


def factor_posterior(data: pd.DataFrame, sds: dict[str, float]) -> FactorPosterior:
    """The shared factors' posterior given every series' steps between figures with
    different loadings (module docstring); the prior when there are none.

    ``data``: the validated long table; ``sds``: each assumption's log-scale sd
    (:func:`~jqforecast.engine.series.assumption_sds`).

    Examples
    --------
    A series derived with ``share`` (sd 0.3) for six years, growing 5 % a year, then an
    official figure 20 % below the trend: the derived figures were too high, the factor
    is negative (true = derived × e^(0.3 f)):

    >>> years = list(range(2018, 2025))
    >>> values = [100 * 1.05 ** k for k in range(6)] + [100 * 1.05 ** 6 * 0.8]
    >>> rows = pd.DataFrame({"metric": "revenue", "industry": "ic", "year": years,
    ...     "value": values, "status": ["derived"] * 6 + ["official"],
    ...     "rel_sd": [0.3] * 6 + [None], "assumption": ["share"] * 6 + [None]})
    >>> p = factor_posterior(rows, {"share": 0.3})
    >>> round(p.means()["share"], 2), round(p.sd()["share"], 2)
    (-0.61, 0.43)
    """
    names = tuple(sorted(sds))
    changes = [
        c
        for (metric, industry), g, loadings, own in series_rows(data, sds)
        if (c := _changes(f"{metric}/{industry}", metric, g, loadings, own, names, sds))
    ]
    blocks = [_block(c, changes) for c in changes if c.crossing.any()]
    if not blocks:
        return FactorPosterior.prior(sds)
    k = len(names)
    rows = sum(len(b[1]) for b in blocks)
    x = np.zeros((rows, k + len(blocks)))
    y, w = np.empty(rows), np.empty(rows)
    at = 0
    for j, (design, d, var, _) in enumerate(blocks):
        n = len(d)
        x[at : at + n, :k] = design[:, :k]
        x[at : at + n, k + j] = design[:, k]
        y[at : at + n], w[at : at + n] = d, 1.0 / var
        at += n
    prior = np.diag(np.r_[np.ones(k), np.full(len(blocks), 1e-8)])  # drifts: flat
    cov = np.linalg.inv(x.T @ (w[:, None] * x) + prior)
    mean = cov @ (x.T @ (w * y))
    cov_f = (cov[:k, :k] + cov[:k, :k].T) / 2
    return FactorPosterior(names, mean[:k], cov_f, tuple(b[3] for b in blocks))


@dataclass(frozen=True)
class _Changes:
    """One series' changes between consecutive figures on the shift scale."""

    series: str
    metric: str
    d: np.ndarray  # the changes
    span: np.ndarray  # years each spans
    step: np.ndarray  # (changes, factors): each factor's coefficient, −sd_a Δℓ_a
    own_var: np.ndarray  # both figures' own measurement variances
    years: np.ndarray  # the figures' years

    @property
    def crossing(self) -> np.ndarray:
        """The changes across a change of loading (the others are "calm")."""
        return np.abs(self.step).sum(axis=1) > 1e-12

    def calm_residuals(self) -> tuple[float, int]:
        """Sum of squared per-year residuals of the calm changes about their own drift, and
        its degrees of freedom (the drift takes one); (0, 0) with fewer than two."""
        calm = ~self.crossing
        if calm.sum() < 2:
            return 0.0, 0
        d, span = self.d[calm], self.span[calm]
        mu = d.sum() / span.sum()
        return float(((d - mu * span) ** 2 / span).sum()), int(calm.sum() - 1)


def _changes(series, metric, g, loadings, own, names, sds) -> _Changes | None:
    """:class:`_Changes` of one series (None with fewer than two figures)."""
    ok = np.isfinite(g["value"].to_numpy(dtype=float))
    years = g["year"].to_numpy()[ok]
    if len(years) < 2:
        return None
    x = shift_scale(metric, g["value"].to_numpy(dtype=float)[ok])
    sd = np.array([sds[a] for a in names])
    load = loadings.reindex(columns=names, fill_value=0.0).to_numpy(dtype=float)[ok] * sd
    own = np.asarray(own, dtype=float)[ok]
    return _Changes(
        series,
        metric,
        np.diff(x),
        np.diff(years).astype(float),
        -np.diff(load, axis=0),  # the factors' part of each change: −Σ sd_a f_a Δℓ_a
        own[1:] ** 2 + own[:-1] ** 2,
        years,
    )


def _block(c: _Changes, every: list[_Changes]):
    """One evidence series' rows of the regression: (design (changes × [factors…, drift]),
    changes, variances, summary).

    The yearly volatility σ: a scaled inverse-χ² prior with :data:`GROWTH_SD_PRIOR_WEIGHT`
    degrees of freedom, its scale the calm changes of the *other* series of the same metric
    pooled with :data:`GROWTH_SD_PRIOR` (as much weight as one series' worth of pseudo-
    changes), updated with the series' own calm changes."""
    pooled, dof_pooled = GROWTH_SD_PRIOR_WEIGHT * GROWTH_SD_PRIOR**2, GROWTH_SD_PRIOR_WEIGHT
    for other in every:
        if other.metric == c.metric and other.series != c.series:
            r2, dof = other.calm_residuals()
            pooled, dof_pooled = pooled + r2, dof_pooled + dof
    dof, scale2 = GROWTH_SD_PRIOR_WEIGHT, pooled / dof_pooled
    resid2, own_dof = c.calm_residuals()
    if own_dof:
        scale2 = (dof * scale2 + resid2) / (dof + own_dof)
        dof += own_dof
    # σ² is itself uncertain (scaled inverse-χ² with ``dof`` degrees of freedom): its mean,
    # dof / (dof − 2) × the scale, widens the evidence as a Student-t would on few changes
    sigma2 = scale2 * dof / (dof - 2)
    crossing = c.crossing
    summary = {
        "series": c.series,
        "steps": [
            f"{a}-{b}" for a, b in zip(c.years[:-1][crossing], c.years[1:][crossing], strict=True)
        ],
        "changes": int(len(c.d)),
        "growth_sd": float(np.sqrt(sigma2)),
    }
    return np.column_stack([c.step, c.span]), c.d, sigma2 * c.span + c.own_var, summary


# A posterior mean this many prior sds from 0: the official figures contradict the assumed
# range (e.g. the park's share of Pudong at 0.28 · e^(±2.5 · 0.35) = 0.12 or 0.67); more
# often than not a sign that the official figure measures something else (another 口径).
SURPRISE_SD = 2.5


def surprises(posterior: FactorPosterior, sds: dict[str, float]) -> list[str]:
    """Messages for the assumptions the official figures put more than :data:`SURPRISE_SD`
    prior sds away from their assumed value (the forecast warns with them).

    >>> p = FactorPosterior(("share",), np.array([-3.0]), np.array([[0.1]]),
    ...                     ({"series": "revenue/ic", "steps": ["2024-2025"]},))
    >>> surprises(p, {"share": 0.35})[0][:66]
    'official figures put share at -3.0 sd (×0.35 of its assumed value)'
    """
    out = []
    for a, m in posterior.means().items():
        if abs(m) > SURPRISE_SD:
            out.append(
                f"official figures put {a} at {m:+.1f} sd (×{np.exp(sds[a] * m):.2f} of its "
                f"assumed value), outside the range assumed for it; check that the official "
                f"figures measure what the derived ones do (the same 口径): {posterior.steps()}"
            )
    return out


def anchor_offsets(posterior: FactorPosterior, sds: dict[str, float]) -> dict[str, float]:
    """Each assumption's posterior-mean shift on the unconstrained scale, ``sd_a × mean_a``:
    what :func:`~jqforecast.engine.series.prepare` moves each derived figure by, relative to
    its series' last figure, so the models see the history without the step the factors
    explain (nonzero entries only)."""
    return {a: sds[a] * m for a, m in posterior.means().items() if m != 0.0}
