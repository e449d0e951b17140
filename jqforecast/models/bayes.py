"""Bayesian models (PyMC) for short annual series: pooled growth, measurement error, counts.

Both models share one latent structure per series ``s`` on the unconstrained scale::

    x[s, t] = x[s, t-1] + μ_s + σ_s ε[s, t],      ε ~ Student-t(ν = 5)   (robust shocks)
    μ_s = μ₀ + τ · a_s,          a_s ~ N(0, 1)       (growth partially pooled across series)
    log σ_s = log σ₀ + ω · b_s,  b_s ~ N(0, 1)       (volatility partially pooled)

and differ in how ``x`` is observed:

* :class:`HierarchicalGrowth` (levels on logs, ratios on logits):
  ``y[s, t] ~ N(x[s, t], √(σ_obs² + m[s, t]²))`` where ``m`` is the point's own measurement
  error (``rel_sd`` of estimated/derived points), so an estimate moves the forecast less
  than an official figure; a *precise* series (official statistics, median ``m`` at most
  :data:`PRECISE_NOISE`) is observed exactly, ``y = x`` (its revisions and rounding are
  part of the innovations), an estimated point in it with its own ``m`` only;
* :class:`CountGrowth` (counts): ``y[s, t] ~ NegBinomial(exp(x[s, t] + m[s, t] z[s, t]), φ)``,
  whose draws are whole, non-negative numbers by construction.

Ahead of the data the paths continue with the growth damped, ``μ_s φ^h`` in year ``h``
(``damping`` φ = 0.8, as :class:`~jqforecast.models.statistical.DampedDrift`): fitted growth is
not extrapolated at full strength for ever. Missing years are simply unobserved points of the
latent path. The sampler works in coordinates chosen per series (same model, see
:func:`_latent_paths`): the growth and volatility of precise series are sampled centred
where their data pin them (:func:`centred_rows`); for noisy estimates
with Gaussian observations the paths are integrated out exactly and drawn back after
sampling (:mod:`jqforecast.models.integrated`); counts sample non-centred innovations. On
the park's series with their full measurement sd (≈ 0.36 on logs) per-series coordinates
cut NUTS's leapfrog steps 3–5× and raised the ESS of 1 200 draws from ~120 to ~900
(session 3); integrating the estimated paths out then cut the revenue group's
steps from ~123 to ~29 a draw and the cost of a gradient from ~65 to ~35 µs (session 8).

Priors (on the model scale; documented so a reader can argue with them)::

    μ₀ ~ N(0.05, 0.10)      annual growth around +5%, ±10 pp
    τ  ~ HalfNormal(0.05)   industries' growth differs by a few pp
    σ₀ ~ LogNormal(log 0.08, 0.6)   annual volatility ~8% (68% range 4%-15%)
    ω  ~ HalfNormal(0.3)    volatilities differ by up to ~30% between series
    σ_obs ~ HalfNormal(0.02)  residual noise of estimates beyond their own m (noisy series)
    x₀ ~ N(first observation, 1)   weak: a factor e either way (at the series' first year;
                                   the years before it are not part of the model)
    φ  ~ Gamma(2, 0.1)      count over-dispersion (mean 20)

:func:`prior_predictive_check` draws from these priors and summarises the implied growth and
ten-year change, so the priors can be checked against what is plausible for a park economy.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from typing import ClassVar, Self

import numpy as np
import pandas as pd

from jqforecast.models.base import Model

log = logging.getLogger(__name__)

DEFAULT_PRIORS: dict[str, float] = {
    "mu0_mean": 0.05,
    "mu0_sd": 0.10,
    "tau_sd": 0.05,
    "sigma0_median": 0.08,
    "sigma0_logsd": 0.6,
    "omega_sd": 0.3,
    "obs_sd": 0.02,
    "x0_sd": 1.0,
    "nu": 5.0,
    "phi_alpha": 2.0,
    "phi_beta": 0.1,
}
RHAT_MAX = 1.05
#: I² (share of the spread of per-series estimates not due to sampling error) from which
#: precise series' growth or volatility may be sampled centred (see centred_rows)
HETEROGENEITY_MIN = 0.75
#: fewest precise series (with two yearly changes or more) whose spread centred_rows trusts
CENTRED_GROUP_MIN = 10
PRECISE_NOISE = 0.02  # measurement sd (model scale) up to which a series counts as precise
ESS_MIN = 100
INTEGRATED_TARGET_ACCEPT = 0.97  # default when noisy Gaussian paths are integrated out


class MultiSeriesModel(Model):
    """A model fitted jointly to several series (a frame: years × series).

    Parameters
    ----------
    draws, tune, chains : int
        NUTS settings (posterior draws per chain, warm-up steps, chains). Short warm-ups
        are not cheaper: the step size is then poorly adapted and each draw takes far more
        leapfrog steps. Measured on 3 simulated series × 6 years (session 23, 2 seeds, one
        chain process, ~4 s of it compilation): 60 + 60 took 12–13 s at ~240 steps a draw
        with bulk ESS 68–76 (below the threshold: the engine refits); 200 + 200 took 9–10 s
        at ~30 steps with ESS 209–292.
    target_accept : float, optional
        NUTS target acceptance rate; by default 0.95, and the class's
        ``noisy_target_accept`` (0.99 Gaussian, 0.95 counts) when any series is sampled
        non-centred (counts, or ``integrate=False``; see :func:`_target_accept`).
    init : str
        PyMC's NUTS initialisation. A dense mass matrix (``"jitter+adapt_full"``) was tried
        with the earlier all-centred coordinates: on simulated smooth series it adapted
        badly with short tuning (tree depth 10, 3-5× slower), so the default is diagonal.
    priors : dict, optional
        Overrides of :data:`DEFAULT_PRIORS` (merged: ``defaults | overrides``).
    seed : int
        Random seed of the sampler.
    max_points : int, optional
        Fit on the last ``max_points`` years only (``None``: all). Long histories add latent
        states that slow NUTS and, pooled over many series, hurt mixing; the recent past
        carries the growth that matters for a short horizon.
    cores : int
        Chains sampled in parallel processes.
    early_max_treedepth : int
        Largest NUTS tree depth in the first warm-up iterations (PyMC's default is 8: up to
        255 leapfrog steps while the step size and mass matrix are still poor). At 5 the
        warm-up took 3× fewer steps on the park's groups (revenue fit 10.3 → 6.6 s) with the
        same ESS. On M3 (precise data, chunks of 50 series) 8 was slower (benchmark 9.0 →
        13.1 min) and mixed worse (6 of 16 chunk fits poor, ESS min 30, vs 5 and 59 at 5).
        Known limit: on a small precise pooled fit (3 series × 12 points) 300 + 300 draws at
        depth 5 gave bulk ESS 63 in one of four seeds (600 + 600: ≥ 368 in all four); the
        diagnostics say so when it happens.
    sampler : str
        ``"pymc"`` (default) or another ``nuts_sampler`` PyMC accepts, if installed.
        Measured on the bundled data, nutpie was slower here (numba compilation each fit).
    damping : float
        Forecast growth in year ``h`` ahead is ``μ φ^h`` (1 = undamped). Changes only the
        simulation, not the fit. Measured on M3 yearly (``benchmarks/RESULTS.md``, session 6):
        with φ = 0.8 instead of 1 this member alone went from OWA 0.898 to 0.843 on 10-point
        histories and from 0.974 to 0.855 on full ones (Brier 0.1328 → 0.1310 and 0.1362 →
        0.1308), and the ensemble from 0.861 to 0.840 and from 0.848 to 0.842: an undamped
        pooled growth compounds, like the undamped random walk's drift.
    integrate : bool
        Integrate the latent paths of noisy series with Gaussian observations out of the
        posterior and draw them back afterwards (:mod:`jqforecast.models.integrated`; the
        same model). ``False`` samples their innovations non-centred instead: on the park's
        revenue group that took ~123 leapfrog steps a draw at ``target_accept`` 0.99
        against ~29 at 0.97 integrated. Counts and precise series are never integrated.
    """

    multi_series: ClassVar[bool] = True
    handles_gaps = True
    min_points = 3
    #: default ``target_accept`` when any series is sampled non-centred (see _target_accept)
    noisy_target_accept: ClassVar[float] = 0.99
    #: observations Gaussian, so noisy series' paths can be integrated out (``integrate``)
    integrable: ClassVar[bool] = True

    # 300 + 300 per chain: with the per-series coordinates the bundled groups reach a bulk ESS
    # of 240-780 (threshold 100) with no divergences; 600 + 600 cost 1.5x more for no
    # change a forecast can show.
    def __init__(
        self,
        draws: int = 300,
        tune: int = 300,
        chains: int = 2,
        target_accept: float | None = None,
        init: str = "jitter+adapt_diag",
        cores: int = 2,
        sampler: str = "pymc",
        priors: dict | None = None,
        seed: int = 0,
        max_points: int | None = None,
        early_max_treedepth: int = 5,
        damping: float = 0.8,
        integrate: bool = True,
    ):
        self.draws = draws
        self.tune = tune
        self.chains = chains
        self.target_accept = target_accept
        self.init = init
        self.cores = cores
        self.sampler = sampler
        self.priors = priors
        self.seed = seed
        self.max_points = max_points
        self.early_max_treedepth = early_max_treedepth
        self.damping = damping
        self.integrate = integrate

    @property
    def priors_(self) -> dict[str, float]:
        return DEFAULT_PRIORS | (self.priors or {})

    # -------------------------------------------------------------- model
    def _latent(self, pm, y, dims: tuple[str, str], precise: np.ndarray, noise, obs_sd=None):
        """The latent paths ``x`` (series × years) and the observed cells whose likelihood is
        still to be added (:meth:`_observe`); ``precise`` marks the series observed
        exactly (:func:`precise_series`) but for their points with an own measurement sd
        ``noise`` > 0 (series × years), ``obs_sd`` is each cell's total observation sd
        for a Gaussian observation model (``None`` otherwise). See :func:`_latent_paths`."""
        p = self.priors_
        series_dim, year_dim = dims
        mu0 = pm.Normal("mu0", p["mu0_mean"], p["mu0_sd"])
        sigma0 = pm.LogNormal("sigma0", np.log(p["sigma0_median"]), p["sigma0_logsd"])
        if y.shape[0] > 1:
            tau = pm.HalfNormal("tau", p["tau_sd"])
            omega = pm.HalfNormal("omega", p["omega_sd"])
            growth_c, volatility_c = centred_rows(y, precise)
            mu = _pooled(pm, "a", "mu_centred", mu0, tau, growth_c, series_dim)
            if volatility_c.any():
                log_sigma0 = pm.math.log(sigma0)
                b = _pooled(
                    pm, "b", "log_sigma_centred", log_sigma0, omega, volatility_c, series_dim
                )
                sigma = pm.math.exp(b)
            else:  # the graph as before, so fits with no centred row stay bit-identical
                sigma = sigma0 * pm.math.exp(omega * pm.Normal("b", 0, 1, dims=series_dim))
            mu = pm.Deterministic("mu", mu, dims=series_dim)
            sigma = pm.Deterministic("sigma", sigma, dims=series_dim)
        else:
            # One series: the pooling layer (τ, ω and the offsets) is not identified by data
            # and only slows NUTS down (ESS ~30 measured), so growth and volatility are μ₀, σ₀.
            mu = pm.Deterministic("mu", mu0[None], dims=series_dim)
            sigma = pm.Deterministic("sigma", sigma0[None], dims=series_dim)
        return _latent_paths(pm, y, dims, mu, sigma, p, precise, noise, obs_sd, self.integrate)

    def _observation_sd(self, pm, noise: np.ndarray):
        """Each cell's observation sd (series × years) for a Gaussian observation model, or
        ``None`` (the count model observes through a negative binomial)."""
        return None

    def _observe(self, pm, x, y, noise, mask, obs_sd):  # pragma: no cover - interface
        raise NotImplementedError

    def add_to_model(
        self, y: np.ndarray, noise: np.ndarray, years: list[int], series: list[str], prefix=""
    ) -> np.ndarray:
        """Add this model's variables for data ``y`` (series × years, NaN = missing) to the
        PyMC model in context; ``prefix`` keeps dimension names apart in a joint model.
        Returns which series are observed exactly (:func:`precise_series`)."""
        import pymc as pm

        dims = (f"{prefix}series", f"{prefix}year")
        pm.modelcontext(None).add_coords({dims[0]: series, dims[1]: years})
        precise = precise_series(y, noise, gaussian=self.integrable)
        # precise data are observed exactly: an observation sd only where some series is noisy
        sd = None if precise.all() else self._observation_sd(pm, noise)
        x, unobserved_yet = self._latent(pm, y, dims, precise, noise, sd)
        if unobserved_yet.any():  # (no data at all: the prior predictive model)
            self._observe(pm, x, y, noise, unobserved_yet, sd)
        return precise

    def build(self, y: np.ndarray, noise: np.ndarray, years: list[int], series: list[str]):
        """The PyMC model for data ``y`` (series × years, NaN = missing)."""
        import pymc as pm

        with pm.Model() as model:
            self.add_to_model(y, noise, years, series)
        return model

    def fit(self, history: pd.DataFrame, noise: pd.DataFrame | None = None) -> Self:
        """Fit to ``history`` (years × series on the model scale, NaN gaps).

        ``noise`` (same shape) is each point's own measurement sd on the model scale.
        """
        (fitted,) = fit_jointly([(self, history, noise)])
        self.__dict__.update({k: v for k, v in vars(fitted).items() if k.endswith("_")})
        return self

    def _fitted_to(
        self, history: pd.DataFrame, posterior, sample_stats, share_divergences: bool
    ) -> Self:
        """A clone holding ``posterior`` (this model's variables) and its diagnostics."""
        import arviz as az

        fitted = self.clone()
        fitted.idata_ = az.InferenceData(posterior=posterior, sample_stats=sample_stats)
        fitted.years_ = [int(y) for y in history.index]
        fitted.series_ = [str(c) for c in history.columns]
        fitted.last_observed_ = {
            str(s): int(history[s].last_valid_index()) for s in history.columns
        }
        hyper = ["mu0", "sigma0"] + (["tau", "omega"] if len(fitted.series_) > 1 else [])
        fitted.diagnostics_ = diagnostics(fitted.idata_, [*hyper, "mu", "sigma"])
        if share_divergences:
            fitted.diagnostics_["divergences_scope"] = "joint model (all groups together)"
        if not fitted.diagnostics_["ok"]:
            warnings.warn(
                f"{self.name}: poor convergence {fitted.diagnostics_}", RuntimeWarning, stacklevel=3
            )
        return fitted

    def stricter(self) -> Self:
        """An unfitted copy for a second attempt after poor diagnostics: twice the warm-up
        and draws, and half the rejection rate of the ``target_accept`` the fit used
        (0.95 → 0.975, 0.99 → 0.995), i.e. smaller steps through a difficult region.

        Examples
        --------
        >>> model = CountGrowth(draws=300, tune=300)
        >>> model.target_accept_ = 0.95  # as a fit records it
        >>> again = model.stricter()
        >>> again.draws, again.tune, round(again.target_accept, 3)
        (600, 600, 0.975)
        """
        self._check_fitted()
        used = self.target_accept_
        return self.clone().set_params(
            draws=2 * self.draws, tune=2 * self.tune, target_accept=1 - (1 - used) / 2
        )

    def _posterior(self, name: str) -> np.ndarray:
        arr = self.idata_.posterior[name].values
        return arr.reshape(-1, *arr.shape[2:])

    def _predict_latent(
        self, horizon: int, draws: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Latent paths (draws, series, len(years_) + horizon) and the posterior draws used."""
        self._check_fitted()
        x = self._posterior("x")  # (P, S, T)
        mu, sigma = self._posterior("mu"), self._posterior("sigma")
        pick = rng.integers(0, x.shape[0], draws)
        x, mu, sigma = x[pick], mu[pick], sigma[pick]
        shocks = rng.standard_t(self.priors_["nu"], size=(draws, x.shape[1], horizon))
        growth = mu[:, :, None] * self.damping ** np.arange(1, horizon + 1)
        ahead = x[:, :, -1:] + np.cumsum(growth + sigma[:, :, None] * shocks, axis=2)
        return np.concatenate([x, ahead], axis=2), pick

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        """Paths (draws, series, len(years_) + horizon) covering the fitted years and beyond.

        In-sample years carry the posterior of the true value plus observation noise; the
        engine uses them only after each series' last observation.
        """
        raise NotImplementedError  # pragma: no cover - interface


class HierarchicalGrowth(MultiSeriesModel):
    """Pooled log-growth (or logit-growth) model with measurement error; see module doc."""

    name = "bayes_growth"

    def _observation_sd(self, pm, noise):
        obs_sd = pm.HalfNormal("obs_sd", self.priors_["obs_sd"])
        return pm.math.sqrt(obs_sd**2 + noise**2)

    def _observe(self, pm, x, y, noise, mask, obs_sd):
        pm.Normal("y", mu=x[mask], sigma=obs_sd[mask], observed=y[mask])

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        latent, pick = self._predict_latent(horizon, draws, rng)
        if "obs_sd" not in self.idata_.posterior:  # every series precise: observed exactly
            return latent
        obs_sd = self._posterior("obs_sd")[pick][:, None, None]
        noisy = (~self.precise_).astype(float)[None, :, None]  # precise rows: exact
        return latent + obs_sd * rng.standard_normal(latent.shape) * noisy


class CountGrowth(MultiSeriesModel):
    """Negative-binomial counts on a pooled latent log-rate; see module doc."""

    name = "bayes_count"
    integrable = False
    # Park's count groups (PCT filings, smart factories) at 0.95: 1 divergence in 44 fits
    # (22 seeds; seed 19, PCT), bulk ESS >= 270, 1.2 s less sampling than at 0.99; the
    # Gaussian groups at their 0.99 did no better (1 in 44). Poor fits are refitted once
    # with stricter settings by the engine (engine.fitting.fit_with_retry).
    noisy_target_accept = 0.95

    def add_to_model(self, y, noise, years, series, prefix=""):
        # y arrives on the count transform's scale log(c + ½); the likelihood needs counts.
        counts = np.where(np.isfinite(y), np.round(np.exp(y) - 0.5), np.nan)
        return super().add_to_model(counts, noise, years, series, prefix)

    def _latent(self, pm, y, dims, precise, noise, obs_sd=None):
        return super()._latent(pm, np.log(y + 0.5), dims, precise, noise, obs_sd)

    def _observe(self, pm, x, y, noise, mask, obs_sd):
        p = self.priors_
        phi = pm.Gamma("phi", p["phi_alpha"], p["phi_beta"])
        z = pm.Normal("z", 0, 1, shape=int(mask.sum()))
        rate = pm.math.exp(x[mask] + noise[mask] * z)
        pm.NegativeBinomial("y", mu=rate, alpha=phi, observed=y[mask].astype("int64"))

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        latent, pick = self._predict_latent(horizon, draws, rng)
        phi = self._posterior("phi")[pick][:, None, None]
        mean = np.exp(np.clip(latent, None, 30))
        # NB(μ, φ) as a gamma–Poisson mixture: whole, non-negative counts by construction
        counts = rng.poisson(rng.gamma(phi, mean / phi))
        return np.log(counts + 0.5)  # back on the count transform's scale


def fit_jointly(
    jobs: Sequence[tuple[MultiSeriesModel, pd.DataFrame, pd.DataFrame | None]],
) -> list[MultiSeriesModel]:
    """Fit several multi-series models (e.g. one per metric group) in **one** PyMC model.

    Each job is ``(model, history, noise)`` as for :meth:`MultiSeriesModel.fit`. The groups
    stay independent a posteriori (no shared variables) but are compiled and sampled once,
    which saves the fixed cost of a run (~1.5 s: graph rewriting, compilation lookup). NUTS
    then adapts one step size to the hardest group, so for a few dissimilar groups separate
    runs mix better (the engine fits the park's metric groups one by one); the joint form
    suits many small similar series. Sampler settings come from the first job's model.
    Returns fitted clones in job order; their ``diagnostics_`` are per group except
    divergences, which belong to the joint run.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"a": [1.0, 1.1, 1.25, 1.3]}, index=range(2020, 2024))
    >>> job = (HierarchicalGrowth(draws=50, tune=50), frame, None)
    >>> (fitted,) = fit_jointly([job])  # doctest: +SKIP
    """
    import pymc as pm

    if not jobs:
        return []
    frames, noises, precise = [], [], []
    with pm.Model() as joint:
        for i, (model, history, noise) in enumerate(jobs):
            if isinstance(history, pd.Series):
                history = history.to_frame(name=history.name or "series")
            if model.max_points:
                history = history.iloc[-model.max_points :]
                noise = None if noise is None else noise.iloc[-model.max_points :]
            counts = history.notna().sum()
            if (counts < model.min_points).any():
                short = counts[counts < model.min_points].to_dict()
                raise ValueError(
                    f"{model.name} needs {model.min_points} points per series: {short}"
                )
            y = history.to_numpy(dtype=float).T
            m = np.zeros_like(y) if noise is None else np.nan_to_num(noise.to_numpy(float).T)
            years, series = [int(v) for v in history.index], [str(c) for c in history.columns]
            with pm.Model(name=f"g{i}"):
                precise.append(model.add_to_model(y, m, years, series, prefix=f"g{i}::"))
            frames.append(history)
            noises.append(m)
    settings = jobs[0][0]
    # PyMC logs every run's set-up at INFO; our diagnostics_ report what matters.
    logging.getLogger("pymc").setLevel(logging.WARNING)
    target_accept = max(
        _target_accept(model, p) for (model, _, _), p in zip(jobs, precise, strict=True)
    )
    with joint, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if settings.sampler == "pymc":
            step = _nuts_step(settings, target_accept)
        else:
            step = {"target_accept": target_accept, "init": settings.init}
        idata = pm.sample(
            nuts_sampler=settings.sampler,
            draws=settings.draws,
            tune=settings.tune,
            chains=settings.chains,
            cores=settings.cores,
            random_seed=settings.seed,
            progressbar=False,
            compute_convergence_checks=False,
            **step,
        )
    fitted = []
    for i, ((model, _, _), history) in enumerate(zip(jobs, frames, strict=True)):
        prefix = f"g{i}::"
        names = [v for v in idata.posterior.data_vars if str(v).startswith(prefix)]
        part = idata.posterior[names]
        part = part.rename(
            {v: str(v)[len(prefix) :] for v in [*names, *part.dims] if str(v).startswith(prefix)}
        )
        part = _complete_paths(part, model, precise[i], history, noises[i])
        fitted.append(model._fitted_to(history, part, idata.sample_stats, len(jobs) > 1))
        fitted[-1].target_accept_ = target_accept
        fitted[-1].precise_ = precise[i]
    return fitted


def _nuts_step(settings: MultiSeriesModel, target_accept: float) -> dict:
    """``pm.sample`` arguments ``step`` and ``initvals``: the NUTS step (mass-matrix
    adaptation) and jittered start per chain for the model in context, built as
    ``pm.sample`` builds them for the same seed, chains and ``init``.

    Passing it to ``pm.sample`` skips ``assign_step_methods``, which differentiates the whole
    model once per variable only to learn that NUTS can step them (all are continuous here):
    1.7 of the 22 s of the bundled default fit. Same draws as before, to the digit.
    """
    import pymc as pm

    seeds = np.random.default_rng(settings.seed).spawn(settings.chains)
    starts, step = pm.init_nuts(
        init=settings.init,
        chains=settings.chains,
        random_seed=[int(s.integers(2**30)) for s in seeds],
        tune=settings.tune,
        target_accept=target_accept,
        early_max_treedepth=settings.early_max_treedepth,
        progressbar=False,
    )
    return {"step": step, "initvals": starts}


def _latent_paths(pm, y, dims, mu, sigma, p, precise, noise, obs_sd=None, integrate: bool = True):
    """Latent random-walk paths ``x`` (series × years), parametrised per series for NUTS.

    The model is the same for every series: a weak prior ``x[t] ~ N(first + μ₀ᵐ·t, x0_sd·√(1+t))``
    on each state and Student-t innovations ``(x[t] − x[t−1] − μ) / σ``, with ``t`` counted
    from the series' first observation; the years before it are not part of the model in any
    coordinates (:func:`_leading`). Only the coordinates the sampler moves in differ, because
    no single choice suits both kinds of data here:

    * *precise* series (Gaussian observations whose own measurement sd is at most
      :data:`PRECISE_NOISE`, e.g. official statistics): observed exactly, ``x = y``, but for
      a point with an own measurement sd ``m > 0`` (an estimate among official figures),
      which is **data-centred**, ``x = y + m·δ``, ``δ ~ N(0, 1)`` (which *is* the likelihood
      ``N(y | x, m)``: its density and the Jacobian ``m`` cancel); missing years after the
      first observation are free states. (Until session 24 they
      were observed with the group's ``σ_obs`` in data-centred coordinates ``x = y + σ_obs·δ``;
      pooled with series far smoother than ``σ_obs`` that made a funnel, and on M3 the
      posterior of ``σ_obs`` sat at ~0.0005 anyway, see :func:`centred_rows`.)
    * *noisy* series with Gaussian observations (estimates), when ``integrate``:
      **integrated out** (:func:`_integrated_paths`): Student-t innovations as a scale
      mixture, the paths then conditionally Gaussian; no ``x`` for them in the graph, drawn
      back by :func:`_complete_paths`;
    * other *noisy* series (counts, or ``integrate=False``). With noise about the size of the
      volatility (the park's own noise is 0.05–0.09 once shared assumptions are taken out)
      the non-centred form gave bulk ESS 180–330 in 6 seeds, the data-centred one 65–94:
      **non-centred**, ``x = x₀ + cumsum(μ + σ·ε)`` with ``ε ~ Student-t`` (the innovation
      density; the Jacobian ∏σ cancels its 1/σ) and the likelihood added by ``_observe``.
      The centred form forced NUTS to a step size of 0.04 and 140 leapfrog steps per draw
      on the park's revenue (all estimates, sd ≈ 0.36 on logs).

    Returns ``(x, cells)``: ``x`` the sampled rows' paths (``None`` if every row is
    integrated out), ``cells`` the observed cells whose likelihood the caller still has to
    add (those of non-centred series).
    """
    import pytensor.tensor as pt

    n_series, n_years = y.shape
    mask = np.isfinite(y)
    first, prior_mean, prior_var = _state_prior(y, p)
    lead = _leading(y)  # no free variables, random-walk steps or state prior there
    live = ~lead[:, :-1]  # random-walk steps from each series' first observation on
    rows = []
    noisy = np.flatnonzero(~precise)
    if len(noisy) and obs_sd is not None and integrate:
        _integrated_paths(pm, y, mu, sigma, obs_sd, p["nu"], prior_mean, prior_var, noisy)
        noisy = noisy[:0]  # none left to sample non-centred
    if len(noisy):
        start = pm.Flat("x0_offset", shape=len(noisy))  # scaled by x0_sd: prior is below
        x0 = first[noisy] + p["x0_sd"] * start
        eps = _on_steps(live[noisy], 0.0, pm.StudentT, "eps", nu=p["nu"], mu=0.0, sigma=1.0)
        steps = mu[noisy, None] + sigma[noisy, None] * eps
        if not live[noisy].all():
            steps = steps * live[noisy]  # no step before the first observation: x held at x0
        rows.append(pt.concatenate([x0[:, None], x0[:, None] + pt.cumsum(steps, axis=1)], 1))
    exact = np.flatnonzero(precise)
    if len(exact):
        base = np.array([_filled(y[s]) for s in exact])
        seen = mask[exact]
        gaps = ~seen & ~lead[exact]
        x = pt.as_tensor(base)  # observed cells: the data themselves, but ...
        own = seen & (noise[exact] > 0)  # ... an estimate's, with its own sd (data-centred)
        if own.any():
            delta = pm.Normal("delta", 0.0, 1.0, shape=int(own.sum()))
            x = pt.set_subtensor(x[np.nonzero(own)], y[exact][own] + noise[exact][own] * delta)
        if gaps.any():
            free = pm.Flat("x_missing", shape=int(gaps.sum()))
            x = pt.set_subtensor(x[np.nonzero(gaps)], base[gaps] + p["sigma0_median"] * free)
        innovations = (x[:, 1:] - x[:, :-1] - mu[exact, None]) / sigma[exact, None]
        shock = pm.StudentT.dist(nu=p["nu"], mu=0.0, sigma=1.0)
        walked = live[exact]
        if walked.all():  # the graph as before, so fits without leading years stay bit-identical
            walk = pm.logp(shock, innovations).sum() - (n_years - 1) * pt.log(sigma[exact]).sum()
        else:
            walk = (
                pm.logp(shock, innovations[np.nonzero(walked)]).sum()
                - (walked.sum(axis=1) * pt.log(sigma[exact])).sum()
            )
        pm.Potential("random_walk", walk)
        rows.append(x)
    noncentred = np.isin(np.arange(n_series), noisy)
    cells = mask & noncentred[:, None]  # observed cells of non-centred rows: likelihood to add
    stacked = np.concatenate([noisy, exact])  # the row each of ``rows`` holds
    if not len(stacked):
        return None, cells
    x = pt.concatenate(rows, axis=0)[np.argsort(stacked)]
    sampled = np.sort(stacked)
    if len(sampled) == n_series:  # (no row integrated out)
        x = pm.Deterministic("x", x, dims=dims)
    else:  # the other rows are integrated out: completed after sampling (_complete_paths)
        x = pm.Deterministic("x_sampled", x)
    held = lead[sampled]
    weak = pm.Normal.dist(prior_mean[sampled], np.sqrt(np.where(held, 1.0, prior_var[sampled])))
    terms = pm.logp(weak, x)
    if held.any():  # (else the graph as before: fits without leading years stay bit-identical)
        # a 0/1 mask, not indexing: the gradient of indexing a matrix cost ~25 % a draw
        terms = terms * (~held).astype(float)
    pm.Potential("x_prior", terms.sum())
    return x, cells


def centred_rows(y: np.ndarray, precise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Which series (rows of ``y``, model scale) have their growth μ and their log volatility
    sampled **centred** (``μ_s ~ N(μ₀, τ)``) rather than as offsets (``μ_s = μ₀ + τ·a_s``):
    precise series whose own data pin the value more tightly than the series differ.

    The same model in other coordinates. Offsets suit a value the data say little about
    (the park's few noisy series). A value the data pin turns them into a narrow ridge along
    ``(a_s, μ₀, τ)`` — a series whose yearly changes vary by 0.001 fixes its growth to
    ~0.0005 against a spread τ of a few hundredths — which NUTS with a diagonal mass matrix
    follows in tiny steps; centred is the better parametrisation where the data are the
    more informative (Papaspiliopoulos, Roberts and Sköld 2007, Statistical Science 22).

    Each precise series with ``k ≥ 2`` yearly changes of mean ``m`` and sd ``d`` gives an
    estimate with a standard error: growth ``m ± d/√k``, log volatility ``log d ± 1/√(2(k−1))``.
    The spread of the true values across the precise series (τ, ω) is estimated from them
    by DerSimonian–Laird, as in a random-effects meta-analysis (:func:`heterogeneity`);
    a series is centred where its standard error is below that spread, and only when the
    series clearly differ, I² ≥ :data:`HETEROGENEITY_MIN` ("high" heterogeneity, Higgins et
    al. 2003, BMJ 327): in a group of similar series τ is near zero in the posterior and a
    centred value makes the funnel that offsets avoid (3 simulated series × 4 points with
    one growth centred: 3–11 divergences a fit). On simulated groups with equal growth and
    volatility the gate keeps 0–17 % of series centred by chance (mostly with 3 yearly
    changes), against 2–38 % without it. With fewer than :data:`CENTRED_GROUP_MIN` precise
    series none is centred, as no noisy series is: the estimates of spread are then too
    noisy (3 similar simulated series, one with a jump, gave I² = 0.82 for volatility, all
    three centred, 3 divergences). Measured in ``benchmarks/RESULTS.md``, session 24.

    Examples
    --------
    Twelve series, the smooth ones (yearly sd 0.001–0.005) with different growth:

    >>> rng = np.random.default_rng(0)
    >>> scale = np.array([0.001, 0.002, 0.005, 0.2, 0.3, 0.5] * 2)[:, None]
    >>> growth = np.array([0.02, 0.05, 0.1, 0.03, 0.06, 0, 0, 0.08, 0.04, 0.1, 0.02, 0.05])
    >>> y = np.cumsum(growth[:, None] + scale * rng.standard_normal((12, 10)), axis=1)
    >>> g, v = centred_rows(y, np.ones(12, dtype=bool))
    >>> g.astype(int).tolist()  # growth: the smooth series only
    [1, 1, 1, 0, 0, 0, 1, 1, 1, 0, 0, 0]
    >>> bool(v.all())  # log volatilities from 0.001 to 0.5: all
    True
    >>> [bool(r.any()) for r in centred_rows(y[:6], np.ones(6, dtype=bool))]  # too few series
    [False, False]
    """
    n = len(y)
    growth, volatility = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    changes = [r[np.isfinite(r)] for r in np.diff(y, axis=1)]
    k = np.array([len(c) for c in changes])
    rows = np.flatnonzero(precise & (k >= 2))
    if len(rows) < CENTRED_GROUP_MIN:
        return growth, volatility
    k = k[rows]
    mean = np.array([changes[s].mean() for s in rows])
    # floored: an exact line (sd 0) would get an infinite weight
    sd = np.array([max(changes[s].std(ddof=1), 1e-4) for s in rows])
    for centred, estimate, variance in (
        (growth, mean, sd**2 / k),
        (volatility, np.log(sd), 1 / (2 * (k - 1))),
    ):
        tau2, i2 = heterogeneity(estimate, variance)
        centred[rows] = (i2 >= HETEROGENEITY_MIN) & (np.sqrt(variance) < np.sqrt(tau2))
    return growth, volatility


def heterogeneity(estimate: np.ndarray, variance: np.ndarray) -> tuple[float, float]:
    """The spread of true values behind estimates with known sampling ``variance``: the
    DerSimonian–Laird variance ``τ² = max(0, (Q − (n − 1)) / (Σw − Σw²/Σw))`` and
    ``I² = max(0, 1 − (n − 1)/Q)``, where ``w = 1/variance`` and
    ``Q = Σw (estimate − weighted mean)²``. Written here because
    :func:`statsmodels.stats.meta_analysis.combine_effects` (``method_re="dl"``) returns both
    untruncated and, when τ² is negative, warns while computing summaries not needed here;
    the test suite checks the two agree.

    Examples
    --------
    >>> tau2, i2 = heterogeneity(np.array([0.0, 1.0, 2.0]), np.array([0.5, 0.5, 0.5]))
    >>> round(tau2, 6), round(i2, 6)
    (0.5, 0.5)
    """
    w = 1 / variance
    mean = (w * estimate).sum() / w.sum()
    q = (w * (estimate - mean) ** 2).sum()
    df = len(w) - 1
    tau2 = max(0.0, (q - df) / (w.sum() - (w**2).sum() / w.sum()))
    i2 = max(0.0, 1 - df / q) if q > 0 else 0.0
    return float(tau2), float(i2)


def _pooled(pm, offsets: str, centred_name: str, loc, scale, centred: np.ndarray, dim: str):
    """A partially pooled value per series, ``N(loc, scale)``: ``loc + scale·offset`` with
    standard-normal offsets (variable ``offsets``), and for the ``centred`` rows
    (:func:`centred_rows`) the value itself (variable ``centred_name``)."""
    import pytensor.tensor as pt

    if not centred.any():  # the graph as before, so fits with no centred row stay bit-identical
        return loc + scale * pm.Normal(offsets, 0, 1, dims=dim)
    free = pm.Normal(offsets, 0, 1, shape=int((~centred).sum()))
    values = pm.Normal(centred_name, loc, scale, shape=int(centred.sum()))
    order = np.argsort(np.r_[np.flatnonzero(~centred), np.flatnonzero(centred)])
    return pt.concatenate([loc + scale * free, values])[order]


def _on_steps(live: np.ndarray, fill: float, dist, name: str, **params):
    """A PyMC variable ``dist(name, **params)`` per random-walk step (series × years − 1)
    that exists only where ``live`` (from each series' first observation on); the other
    cells hold ``fill``. All live: the variable itself, the graph as before, so fits
    without leading years stay bit-identical."""
    import pytensor.tensor as pt

    if live.all():
        return dist(name, **params, shape=live.shape)
    sampled = dist(name, **params, shape=int(live.sum()))
    # float64 spelt out: pt.full takes a Python float's dtype as float32 (lost precision)
    cells = pt.full(live.shape, fill, dtype="float64")
    return pt.set_subtensor(cells[np.nonzero(live)], sampled)


def _state_prior(y: np.ndarray, p: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each series' first observation and the weak prior ``N(mean, var)`` on its states
    (series × years), counted from the year ``t₀`` of that observation: ``first + μ₀ᵐ·(t − t₀)``
    and ``x0_sd²·(1 + t − t₀)``; before ``t₀`` the variance is infinite (no prior: those
    years are not part of the series' model, see :func:`_leading`)."""
    mask = np.isfinite(y)
    start = np.where(mask.any(axis=1), mask.argmax(axis=1), 0)
    first = np.where(mask.any(axis=1), y[np.arange(len(y)), start], 0.0)
    t = np.arange(y.shape[1])[None, :] - start[:, None]
    var = np.where(t >= 0, p["x0_sd"] ** 2 * (1.0 + t), np.inf)
    return first, first[:, None] + p["mu0_mean"] * t, var


def _leading(y: np.ndarray) -> np.ndarray:
    """Cells (series × years) before each series' first observation.

    Chunks of series of unequal length (the benchmark aligns series at their last value, the
    park's industries start in different years) leave such years in a group's grid. They
    hold no data and are left out of every series' model: no free variables, no random-walk
    steps, no state prior. Sampled as free states they formed a funnel with the series' σ
    (precise data, session 20), and through a state prior anchored at the group's first year
    they pulled a late-starting series' growth towards zero, a prior nobody had specified.
    Their values in ``x`` are placeholders (the first value for sampled rows, the walk run
    backwards for rows integrated out); the engine reads paths after the last observation.
    """
    return np.cumsum(np.isfinite(y), axis=1) == 0


def _integrated_paths(pm, y, mu, sigma, obs_sd, nu, prior_mean, prior_var, rows) -> None:
    """Add the log likelihood of ``rows`` (Gaussian observations) with their paths integrated
    out (:mod:`jqforecast.models.integrated`); Student-t innovations as the scale mixture
    ``σ² λ``, ``λ ~ InvGamma(ν/2, ν/2)``. The paths are drawn back by
    :func:`_complete_paths`."""
    from jqforecast.models.integrated import paths_log_likelihood

    # a mixing weight for each step from the first observation on; 1 before (unused there)
    lam = _on_steps(
        ~_leading(y[rows])[:, :-1], 1.0, pm.InverseGamma, "lam", alpha=nu / 2, beta=nu / 2
    )
    if len(rows) < y.shape[0]:  # (the gradient of indexing is a Python-level Op: avoid it)
        mu, sigma = mu[rows], sigma[rows]
    v = sigma[:, None] ** 2 * lam
    terms = (y[rows], prior_mean[rows], prior_var[rows])
    pm.Potential("paths_integrated", paths_log_likelihood(mu, v, obs_sd[rows] ** 2, *terms))


def _complete_paths(
    part, model: MultiSeriesModel, precise: np.ndarray, history: pd.DataFrame, noise: np.ndarray
):
    """The posterior ``part`` of one group with ``x`` (chain, draw, series, year) complete:
    the paths of the rows integrated out (:func:`_integrated_paths`: the noisy rows of a
    Gaussian model, ``noise`` their own measurement sd, series × years) drawn from
    ``N(P⁻¹b, P⁻¹)`` given each draw's parameters; the precise rows as sampled."""
    import xarray as xr

    from jqforecast.models.integrated import draw_paths

    if "x" in part:
        return part
    y = history.to_numpy(dtype=float).T[~precise]
    _, prior_mean, prior_var = _state_prior(y, model.priors_)
    chains, draws = part.sizes["chain"], part.sizes["draw"]

    def flat(name: str) -> np.ndarray:  # (chain × draw, ...)
        values = part[name].values
        return values.reshape(chains * draws, *values.shape[2:])

    sigma = flat("sigma")[:, ~precise]
    lam = flat("lam")
    live = ~_leading(y)[:, :-1]
    if lam.ndim == 2:  # sampled for the steps from each series' first observation on only
        full = np.ones((len(lam), *live.shape))
        full[:, live] = lam
        lam = full
    obs_var = flat("obs_sd")[:, None, None] ** 2 + noise[~precise] ** 2
    drawn = draw_paths(
        flat("mu")[:, ~precise],
        sigma[..., None] ** 2 * lam,
        obs_var,
        y,
        prior_mean,
        prior_var,
        np.random.default_rng([model.seed, 1]),
    ).reshape(chains, draws, -1, y.shape[1])
    x = np.empty((*drawn.shape[:2], *history.shape[::-1]))
    x[:, :, ~precise] = drawn
    if precise.any():
        x[:, :, precise] = part["x_sampled"].values
    return part.drop_vars([v for v in ("x_sampled",) if v in part]).assign(
        x=xr.DataArray(
            x,
            dims=("chain", "draw", "series", "year"),
            coords={
                "chain": part.chain,
                "draw": part.draw,
                "series": [str(c) for c in history.columns],
                "year": [int(y) for y in history.index],
            },
        )
    )


def precise_series(y: np.ndarray, noise: np.ndarray, gaussian: bool = True) -> np.ndarray:
    """Per series (rows of ``y``): observed exactly (``y = x``)? True for Gaussian
    observations whose median own measurement sd is at most :data:`PRECISE_NOISE`."""
    mask = np.isfinite(y)
    return np.array(
        [
            gaussian and m.any() and np.median(n[m]) <= PRECISE_NOISE
            for n, m in zip(noise, mask, strict=True)
        ],
        dtype=bool,
    )


def _target_accept(model: MultiSeriesModel, precise: np.ndarray) -> float:
    """The model's ``target_accept``, or by default 0.95 when every series is precise and the
    class's ``noisy_target_accept`` when any is sampled non-centred. Measured on the park's
    Gaussian groups (own noise 0.05–0.09 on logs): at 0.95 and 0.98, 4 of 24 fits had 1–2
    divergences (session 3); at 0.95 again in session 4, 6 of 28 fits had 1–16 (R&D
    intensity, seed 10: 16, bulk ESS 42); at 0.99 none in 24 (session 3) and 1 in 44 over
    22 seeds (session 4, seed 19), with bulk ESS ≥ 190, for ~35 % more time, so
    :class:`HierarchicalGrowth` keeps 0.99. Counts mix as well at 0.95 (:class:`CountGrowth`).
    Precise (M3) data keep 0.95. Integrated out (the default for Gaussian noisy series,
    ``integrate``) the same groups take :data:`INTEGRATED_TARGET_ACCEPT` (session 8, seeds
    0-23 each): at 0.97 no divergence in 48 fits (R&D intensity and revenue), bulk ESS ≥ 159,
    14 and 29 leapfrog steps a draw; at 0.95 revenue diverged in 2 of 24 (22 steps); at 0.9
    in 1 of 12 (bulk ESS 81). A poor fit is refitted once by the engine with stricter
    settings (:meth:`MultiSeriesModel.stricter`)."""
    if model.target_accept is not None:
        return model.target_accept
    if precise.all():
        return 0.95
    return (
        INTEGRATED_TARGET_ACCEPT
        if model.integrate and model.integrable
        else model.noisy_target_accept
    )


def _filled(row: np.ndarray) -> np.ndarray:
    """A series with gaps filled by linear interpolation (ends held flat): starting values."""
    seen = np.flatnonzero(np.isfinite(row))
    if not len(seen):
        return np.zeros_like(row)
    return np.interp(np.arange(len(row)), seen, row[seen])


def diagnostics(idata, var_names: list[str]) -> dict:
    """R-hat (max), bulk ESS (min) and divergences, with an ``ok`` flag."""
    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = az.summary(idata, var_names=var_names, kind="diagnostics")
    divergences = int(idata.sample_stats["diverging"].values.sum())
    rhat = float(summary["r_hat"].max())
    ess = float(summary["ess_bulk"].min())
    return {
        "rhat_max": rhat,
        "ess_bulk_min": ess,
        "divergences": divergences,
        "ok": bool(rhat <= RHAT_MAX and ess >= ESS_MIN and divergences == 0),
    }


def prior_predictive_check(
    n_years: int = 10, draws: int = 4000, seed: int = 0, priors: dict | None = None
) -> pd.DataFrame:
    """What the priors alone imply for one series (log scale), by forward simulation.

    Draws μ₀, τ, σ₀, ω and a series' growth and volatility from the priors, then a path of
    ``n_years`` with Student-t shocks. Returns quantiles of the annual growth rate ``e^μ − 1``,
    of the volatility σ, and of the ratio ``exp(x_T − x_0)`` over the path, to check that the
    priors allow plausible park trajectories and exclude absurd ones (the test suite checks
    the median growth is modest and the 90% range of the decade ratio is finite and wide).
    """
    p = DEFAULT_PRIORS | (priors or {})
    rng = np.random.default_rng(seed)
    mu = rng.normal(p["mu0_mean"], p["mu0_sd"], draws) + np.abs(
        rng.normal(0, p["tau_sd"], draws)
    ) * rng.standard_normal(draws)
    sigma = np.exp(
        np.log(p["sigma0_median"])
        + p["sigma0_logsd"] * rng.standard_normal(draws)
        + np.abs(rng.normal(0, p["omega_sd"], draws)) * rng.standard_normal(draws)
    )
    steps = mu[:, None] + sigma[:, None] * rng.standard_t(p["nu"], (draws, n_years - 1))
    ratio = np.exp(steps.sum(axis=1))
    q = [0.05, 0.25, 0.5, 0.75, 0.95]
    return pd.DataFrame(
        {
            "annual_growth": np.quantile(np.exp(mu) - 1, q),
            "volatility": np.quantile(sigma, q),
            f"{n_years - 1}-year ratio": np.quantile(ratio, q),
        },
        index=pd.Index(q, name="quantile"),
    )
