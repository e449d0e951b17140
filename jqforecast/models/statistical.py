"""Statistical models for short annual series (adapters over statsmodels and statsforecast).

Each works on the unconstrained scale (logs, logits) given by the driver, or on the data scale
(``data_scale = True``: ETS, ARIMA), and simulates sample paths from its fitted error model.
Short series make parameter uncertainty as large as process noise, so where the model is
simple enough (random walk with drift, Theta) the paths also draw the parameters from their
sampling distribution; for the others the residual scale is drawn per path with the degrees
of freedom left after the fit. Remaining over- or under-confidence is
measured by the backtests (``jqforecast benchmark``) and reported in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from typing import Self

import numpy as np
import pandas as pd
from statsmodels.tsa.statespace.structural import UnobservedComponents

from jqforecast.models.base import Model


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """statsmodels warns on every short-series fit (convergence, frequency); we check results."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _dof_inflation(n: int, k: int) -> float:
    """Scale factor sqrt(n / (n - k)) for a residual sd estimated with k parameters."""
    return float(np.sqrt(n / max(n - k, 1)))


def _sigma_draws(dof: float, draws: int, rng: np.random.Generator) -> np.ndarray:
    """Per-path factors ``σ / s = sqrt(dof / χ²_dof)`` (draws, 1): the sampling uncertainty of
    a residual sd estimated with ``dof`` degrees of freedom, which turns Gaussian paths into
    Student-t-like ones (what a flat-prior Bayesian predictive gives for the scale)."""
    return np.sqrt(dof / rng.chisquare(max(dof, 1.0), size=(draws, 1)))


class RandomWalkDrift(Model):
    """Random walk with drift, Bayesian with conjugate priors (Student-t-like predictive).

    ``y_t = y_{t-1} + c + σ ε_t``. Gaps are handled exactly: a step over ``g`` years has mean
    ``c g`` and variance ``σ² g``. Paths draw ``σ²`` from its scaled inverse-χ² posterior and
    ``c`` from its normal posterior given ``σ²``, so parameter uncertainty widens the paths.

    With 3–5 points the data alone pin down ``σ`` very poorly (one or two degrees of freedom
    give a Cauchy-like predictive with absurd tails), so weak priors carry the information a
    forecaster brings: ``σ² ~ Scaled-Inv-χ²(prior_dof, prior_scale²)`` and
    ``c ~ N(drift_mean, drift_sd²)``. With long series the data dominate.

    Parameters
    ----------
    damping : float
        Multiplies the drift each year ahead (1 = undamped).
    prior_dof, prior_scale : float
        Prior pseudo-observations and scale of the annual volatility on the model scale
        (0.10 = about 10% a year on logs). ``prior_dof=0`` gives the flat-prior predictive.
    drift_mean, drift_sd : float
        Prior of the annual drift on the model scale.
    """

    name = "rw_drift"
    min_points = 3
    handles_gaps = True

    def __init__(
        self,
        damping: float = 1.0,
        prior_dof: float = 3.0,
        prior_scale: float = 0.10,
        drift_mean: float = 0.0,
        drift_sd: float = 0.20,
    ):
        self.damping = damping
        self.prior_dof = prior_dof
        self.prior_scale = prior_scale
        self.drift_mean = drift_mean
        self.drift_sd = drift_sd

    def fit(self, history: pd.Series) -> Self:
        y = self._check_history(history)
        t = np.flatnonzero(np.isfinite(y)).astype(float)
        obs = y[np.isfinite(y)]
        gaps = np.diff(t)
        steps = np.diff(obs)
        span = t[-1] - t[0]
        self.drift_ = float((obs[-1] - obs[0]) / span)
        m = len(steps)
        resid = (steps - self.drift_ * gaps) / np.sqrt(gaps)
        data_dof = m - 1
        self.dof_ = float(self.prior_dof + data_dof)
        if self.dof_ <= 0:
            raise ValueError("rw_drift with prior_dof=0 needs at least 3 points with 2 steps")
        ss = float(resid @ resid) + self.prior_dof * self.prior_scale**2
        self.sigma2_ = max(ss / self.dof_, 1e-10)
        self.span_ = float(span)
        self.last_ = float(obs[-1])
        self.ahead_ = float(len(y) - 1 - t[-1])  # years between last observation and series end
        return self

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        sigma2 = self.sigma2_ * self.dof_ / rng.chisquare(self.dof_, size=(draws, 1))
        # drift | σ²: precision-weighted mix of the prior and the data estimate (var σ²/span)
        prec = self.span_ / sigma2 + 1.0 / self.drift_sd**2
        mean = (self.drift_ * self.span_ / sigma2 + self.drift_mean / self.drift_sd**2) / prec
        drift = mean + rng.standard_normal((draws, 1)) / np.sqrt(prec)
        steps_ahead = int(self.ahead_) + horizon
        damp = self.damping ** np.arange(1, steps_ahead + 1)
        shocks = np.sqrt(sigma2) * rng.standard_normal((draws, steps_ahead))
        paths = self.last_ + np.cumsum(drift * damp + shocks, axis=1)
        return paths[:, -horizon:]


class DampedDrift(RandomWalkDrift):
    """Random walk with a damped drift: the year-``h`` step carries ``φ^h`` of the drift.

    On logs an undamped drift compounds: a series that grew fast in the past is extrapolated
    to keep growing as fast, which is rarely what happens to yearly economic series (growth
    regresses). ``φ = 0.8`` is the lower end of the damping range the damped-trend literature
    recommends for annual data (Gardner & McKenzie 1985; Hyndman & Athanasopoulos, FPP3
    §8.2 use 0.8–0.98); the ensemble weights, learned by rolling-origin backtests on the
    series themselves, decide how much this member counts against the undamped one.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> y = pd.Series(np.log([100, 110, 121, 133.1]), index=range(2020, 2024))
    >>> m = DampedDrift(prior_scale=1e-6, prior_dof=1e6, drift_sd=1e6).fit(y)
    >>> paths = m.simulate(2, 2000, np.random.default_rng(0))
    >>> bool(abs(np.median(paths[:, 1]) - (y.iloc[-1] + np.log(1.1) * (0.8 + 0.64))) < 1e-3)
    True
    """

    name = "damped_drift"

    def __init__(
        self,
        damping: float = 0.8,
        prior_dof: float = 3.0,
        prior_scale: float = 0.10,
        drift_mean: float = 0.0,
        drift_sd: float = 0.20,
    ):
        super().__init__(damping, prior_dof, prior_scale, drift_mean, drift_sd)


class ARGrowth(Model):
    """Growth that persists and regresses: AR(1) growth rates around a damped mean.

    On the model scale the growth ``g_t = y_t − y_{t−1}`` follows
    ``g_t = μ + ρ (g_{t−1} − μ) + σ ε_t``: a year of fast growth makes the next one faster
    than average too (``ρ > 0``), as in most yearly economic series, where a random walk with
    drift treats every year's growth as independent. Ahead, the mean growth is damped like
    :class:`DampedDrift`'s (``μ φ^h``) and the last deviation decays as ``ρ^h``. Against the
    random walk this puts the persistence in the expected path instead of the noise: smaller
    one-year-ahead errors, errors that grow faster with the horizon.

    Estimated with conjugate-style priors: ``σ² ~ Scaled-Inv-χ²(prior_dof, prior_scale²)``
    (weaker than the random walk's, since the model needs ``min_points`` = 6 values),
    ``ρ | σ² ~ N(0, rho_sd²)`` shrinking persistence towards none on short series. Paths draw
    ``σ²`` from its posterior, ``ρ | σ²`` from its normal posterior (kept in ±0.95) and
    ``μ`` from ``N(ḡ, σ²/m)``.

    Not in the default ensemble (:data:`OPTIONAL_MODELS`; ask for ``"ar_growth"`` by name).
    On M3's 645 yearly series (full history, horizon 6) it is the best single model on the
    test years (OWA 0.865 as a sample median; damped drift 0.869, AutoTheta 0.874), but the
    rolling-origin backtests that learn the weights gave it none, with full histories or 10
    points, and adding it changed the ensemble only within the optimiser's tolerance
    (``benchmarks/RESULTS.md``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> g = [0.10, 0.08, 0.09, 0.05, 0.06, 0.04, 0.05]  # growth slowing, persistently
    >>> y = pd.Series(np.cumsum([0.0] + g), index=range(2016, 2024))
    >>> m = ARGrowth().fit(y)
    >>> bool(0 < m.rho_ < 1), round(m.mu_, 3)
    (True, 0.067)
    """

    name = "ar_growth"
    min_points = 6

    def __init__(
        self,
        damping: float = 0.8,
        rho_sd: float = 0.3,
        prior_dof: float = 1.0,
        prior_scale: float = 0.10,
    ):
        self.damping = damping
        self.rho_sd = rho_sd
        self.prior_dof = prior_dof
        self.prior_scale = prior_scale

    def fit(self, history: pd.Series) -> Self:
        y = self._check_history(history)
        g = np.diff(y)
        self.mu_ = float(g.mean())
        x, target = g[:-1] - self.mu_, g[1:] - self.mu_
        self.sxx_, self.sxy_ = float(x @ x), float(x @ target)
        self.m_ = len(x)
        self.dof_ = self.prior_dof + self.m_ - 1  # one dof for μ
        # σ² and ρ depend on each other through the prior on ρ; a few fixed-point steps
        sigma2 = float(np.var(g)) or self.prior_scale**2
        for _ in range(5):
            rho = self._rho_mean(sigma2)
            resid = target - rho * x
            sigma2 = (resid @ resid + self.prior_dof * self.prior_scale**2) / self.dof_
        self.sigma2_ = max(float(sigma2), 1e-10)
        self.rho_ = float(self._rho_mean(self.sigma2_))
        self.last_ = float(y[-1])
        self.last_growth_ = float(g[-1])
        return self

    def _rho_precision(self, sigma2: np.ndarray | float) -> np.ndarray | float:
        return self.sxx_ / sigma2 + 1.0 / self.rho_sd**2

    def _rho_mean(self, sigma2: np.ndarray | float) -> np.ndarray | float:
        return (self.sxy_ / sigma2) / self._rho_precision(sigma2)

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        sigma2 = self.sigma2_ * _sigma_draws(self.dof_, draws, rng)[:, 0] ** 2
        rho = self._rho_mean(sigma2) + rng.standard_normal(draws) / np.sqrt(
            self._rho_precision(sigma2)
        )
        rho = np.clip(rho, -0.95, 0.95)
        mu = self.mu_ + rng.standard_normal(draws) * np.sqrt(sigma2 / self.m_)
        deviation = self.last_growth_ - mu
        shocks = np.sqrt(sigma2)[:, None] * rng.standard_normal((draws, horizon))
        growth = np.empty((draws, horizon))
        for h in range(horizon):
            deviation = rho * deviation + shocks[:, h]
            growth[:, h] = mu * self.damping ** (h + 1) + deviation
        return self.last_ + np.cumsum(growth, axis=1)


class _EstimatedScale(Model):
    """Members whose residual sd is estimated from ``n`` values with ``k`` parameters: their
    paths carry that estimate's uncertainty (σ is estimated from n − k residuals: on 12
    points a plug-in σ gave ETS 60 % coverage for a nominal 80 %)."""

    def _set_scale(self, n: int, k: int) -> None:
        """Residual-scale corrections for ``k`` parameters fitted to ``n`` values: the dof
        inflation and the degrees of freedom of the per-path scale draw."""
        self.inflation_ = _dof_inflation(n, k)
        self.dof_ = float(max(n - k, 1))

    def _scale_factors(self, draws: int, rng: np.random.Generator) -> np.ndarray:
        """Per-path factors (draws, 1) on the fitted σ: the dof inflation times a draw of σ
        from its sampling distribution."""
        return self.inflation_ * _sigma_draws(self.dof_, draws, rng)


class _StateSpace(_EstimatedScale):
    """Shared simulate for statsmodels results objects with ``simulate(anchor="end")``."""

    def _simulate_results(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        with _quiet():
            sims = self.results_.simulate(
                nsimulations=horizon, repetitions=draws, anchor="end", rng=rng
            )
            mean = np.asarray(self.results_.forecast(horizon)).reshape(horizon, 1)
        sims = np.asarray(sims).reshape(horizon, draws)
        # Widen around the point forecast for the degrees of freedom the fit used up, and
        # draw the scale per path from its sampling distribution.
        return mean.T + (sims - mean).T * self._scale_factors(draws, rng)

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        return self._simulate_results(horizon, draws, rng)


class ETS(_EstimatedScale):
    """Exponential smoothing chosen by AICc, on the data scale (``data_scale = True``).

    The estimator is statsforecast's ``AutoETS`` (Hyndman et al. 2002/2008, the R
    ``forecast::ets`` algorithm): errors additive or multiplicative, trend none, additive or
    damped additive, no season, estimated by likelihood with the initial states, the model
    picked by AICc. It runs on the data scale because that is where it earns its keep: on
    M3's yearly series AutoETS on the levels scores OWA 0.878, on logs 1.002 (an additive
    trend on logs is exponential growth; our log-scale damped ETS scored 1.030), and mixed
    with the log-scale members it adds what they lack: equal means of theta and damped drift
    with it score 0.850, without it 0.869 (``benchmarks/RESULTS.md``).

    Paths are simulated here, vectorised over draws from the fitted final state (statsforecast's
    own ``simulate`` loops over paths in Python and seeds NumPy's global generator); like the
    other members they carry the scale's estimation uncertainty: σ is drawn per path from
    its sampling distribution with ``n − k`` degrees of freedom and inflated by
    ``sqrt(n / (n − k))`` (``parameter_uncertainty=False`` gives the plug-in paths).

    Parameters
    ----------
    model : str
        statsforecast's model string: error, trend, season, each ``A``, ``M``, ``N`` or ``Z``
        (chosen by AICc); the season must be ``N`` (annual data).
    damped : bool or None
        Damp the trend, or not; ``None`` lets AICc choose.
    parameter_uncertainty : bool
        Widen the paths for the estimated scale (default) or not.

    Multiplicative-error paths stay positive unless a shock is below −100 %; values below the
    data type's range are put on its edge by the driver.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> y = pd.Series(100 + 5.0 * np.arange(12) + np.tile([1.0, -1.0], 6), index=range(2012, 2024))
    >>> m = ETS().fit(y)
    >>> m.components_[1]  # a trend was chosen
    'A'
    >>> paths = m.simulate(2, 4000, np.random.default_rng(0))
    >>> bool(abs(np.median(paths[:, 1]) - 166) < 3)
    True
    """

    name = "ets"
    min_points = 7  # statsforecast's AutoETS refuses fewer ("tiny datasets")
    data_scale = True

    def __init__(
        self, model: str = "ZZN", damped: bool | None = None, parameter_uncertainty: bool = True
    ):
        self.model = model
        self.damped = damped
        self.parameter_uncertainty = parameter_uncertainty

    def fit(self, history: pd.Series) -> Self:
        from statsforecast.ets import ets_f  # 0.6 s import: only when an ETS is fitted

        y = self._check_history(history)
        with _quiet():  # (multiplicative errors are only considered for positive data)
            fitted = ets_f(y, m=1, model=self.model, damped=self.damped)
        error, trend, _, damped = fitted["components"]
        self.components_ = error + trend + ("d" if damped == "D" else "")
        alpha, beta, _, phi = fitted["par"][:4]
        self.alpha_ = float(alpha)
        self.beta_ = float(beta) if trend != "N" else 0.0
        self.phi_ = float(phi) if damped == "D" else 1.0
        self.state_ = np.asarray(fitted["states"][-1], dtype=float)
        self.sigma_ = float(np.sqrt(fitted["sigma2"]))
        self._set_scale(len(y), int(fitted["n_params"]))
        return self

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        # Written out because statsforecast's simulate is a Python loop over paths with a
        # global seed (and, in 2.1.1, drops the trend of undamped models: NaN φ becomes 0);
        # these are its (and R's etscalc) recursions for non-seasonal models.
        self._check_fitted()
        factors = self._scale_factors(draws, rng) if self.parameter_uncertainty else 1.0
        shocks = self.sigma_ * factors * rng.standard_normal((draws, horizon))
        trended = self.components_[1] == "A"
        level = np.full(draws, self.state_[0])
        slope = np.full(draws, self.state_[1] if trended else 0.0)
        out = np.empty((draws, horizon))
        for h in range(horizon):
            carried = self.phi_ * slope
            point = level + carried
            value = (
                point + shocks[:, h] if self.components_[0] == "A" else point * (1 + shocks[:, h])
            )
            new_level = point + self.alpha_ * (value - point)
            if trended:
                slope = carried + self.beta_ / self.alpha_ * (new_level - level - carried)
            level, out[:, h] = new_level, value
        return out


class AutoARIMA(_EstimatedScale):
    """ARIMA chosen by AICc, on the data scale (``data_scale = True``).

    The estimator is statsforecast's ``auto_arima_f`` (the R ``forecast::auto.arima``
    algorithm: differencing chosen by KPSS tests, a stepwise search over the AR and MA orders,
    drift when the series is differenced once). Like :class:`ETS` it works on the values
    themselves, where an ARIMA's linear drift is a trend in levels rather than compounding
    growth; statsforecast's AutoARIMA scores OWA 0.922 on M3's yearly series alone but 0.841
    in an equal mean with theta, damped drift and AutoETS (0.850 without it).

    Forecasts are Gaussian: paths are the point forecast plus the ψ-weighted sum of future
    shocks (ψ from the AR polynomial times the differencing, and the MA polynomial), so the
    joint distribution over the horizon is exact for the fitted model. As for the other
    members, σ is drawn per path from its sampling distribution (``n − k`` degrees of freedom)
    and inflated by ``sqrt(n / (n − k))`` unless ``parameter_uncertainty=False``.
    Missing years are interpolated by the driver (``handles_gaps = False``).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> y = pd.Series(100 + 4.0 * np.arange(15) + np.tile([1.0, -1.0, 0.5], 5))
    >>> paths = AutoARIMA().fit(y).simulate(2, 4000, np.random.default_rng(0))
    >>> bool(abs(np.median(paths[:, 1]) - 164) < 3)
    True
    """

    name = "arima"
    min_points = 6
    data_scale = True

    def __init__(self, parameter_uncertainty: bool = True):
        self.parameter_uncertainty = parameter_uncertainty

    def fit(self, history: pd.Series) -> Self:
        from statsforecast.arima import auto_arima_f

        y = self._check_history(history)
        with _quiet():
            self.model_ = auto_arima_f(y, period=1)
        p, q, _, _, _, d, _ = self.model_["arma"]
        self.order_ = (int(p), int(d), int(q))
        n = len(y) - int(d)  # residuals carrying information after differencing
        k = len(self.model_["coef"]) + 1  # coefficients and the variance
        self.sigma_ = float(np.sqrt(self.model_["sigma2"]))
        self._set_scale(n, k)
        return self

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        from statsforecast.arima import forecast_arima
        from statsmodels.tsa.arima_process import arma2ma

        self._check_fitted()
        with _quiet():
            mean = np.asarray(forecast_arima(self.model_, h=horizon)["mean"], dtype=float)
        state = self.model_["model"]
        ar = np.r_[1.0, -np.asarray(state["phi"], dtype=float)]
        ar = np.convolve(ar, np.r_[1.0, -np.asarray(state["delta"], dtype=float)])
        psi = arma2ma(ar, np.r_[1.0, np.asarray(state["theta"], dtype=float)], lags=horizon)
        steps = np.arange(horizon)
        lag = steps[:, None] - steps[None, :]
        weights = np.where(lag >= 0, psi[np.clip(lag, 0, None)], 0.0)  # (h, h) lower Toeplitz
        factors = self._scale_factors(draws, rng) if self.parameter_uncertainty else 1.0
        shocks = self.sigma_ * factors * rng.standard_normal((draws, horizon))
        return mean + shocks @ weights.T


class LocalLinearTrend(_StateSpace):
    """Local linear trend (level and slope both random walks), UnobservedComponents.

    Handles missing years through the Kalman filter. ``damping`` φ < 1 damps the final
    filtered slope ahead (its expected contribution in year h is ``slope · φ^h`` instead of
    ``slope``; the simulated slope shocks are kept). The default is undamped: a slope that
    follows a jump in the last year is extrapolated as the new trend (M3 series N0037, last
    year 872 → 1 814: six-year median 126 646), and with φ = 0.8 this member alone scored far
    better on M3 at 10 points (OWA 1.334 → 0.972, MSIS 57.8 → 51.3), but the ensemble worse
    (weight 0.073 → 0.024; OWA 0.8396 → 0.8430, CRPS 1.715 → 1.720, Brier 0.1319 → 0.1327;
    only MSIS better, 23.75 → 20.73): its trend-following is what the backtests weight it for
    (``benchmarks/RESULTS.md``, session 6).

    Not in the default ensemble since session 13 (by name: ``models=[..., "local_linear_trend"]``,
    ``--member local_linear_trend``). Its uncertainty grows fastest with the step ahead (a
    random slope), and the weight backtests see mostly the first steps (on 10-point series
    only steps 1–3 of 6): they gave it 0.05–0.27 of the weight. On M3 training data with each
    series' last 6 values held out (``benchmarks/holdout.py``), the ensemble without it
    scored better at 10 points (OWA 0.8365 → 0.8332, MSIS 30.6 → 24.8 at seed 0; equal at
    seed 1, where it had 0.05) and with full histories (OWA 0.8498 → 0.8483, MSIS 32.1 →
    26.3), and took a third less CPU time.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> y = pd.Series(np.log([100, 104, 109, 112, 118, 123, 131, 140]), index=range(2016, 2024))
    >>> a = LocalLinearTrend(damping=1.0).fit(y).simulate(3, 500, np.random.default_rng(0))
    >>> m = LocalLinearTrend(damping=0.5).fit(y)
    >>> b = m.simulate(3, 500, np.random.default_rng(0))
    >>> slope = m.results_.filtered_state[1, -1]
    >>> bool(np.allclose(b - a, slope * (np.cumsum(0.5 ** np.arange(1, 4)) - [1, 2, 3])))
    True
    """

    name = "local_linear_trend"
    min_points = 6
    handles_gaps = True

    def __init__(self, damping: float = 1.0):
        self.damping = damping

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        paths = self._simulate_results(horizon, draws, rng)
        slope = float(self.results_.filtered_state[1, -1])
        h = np.arange(1, horizon + 1)
        return paths + slope * (np.cumsum(self.damping**h) - h)

    def fit(self, history: pd.Series) -> Self:
        y = self._check_history(history)
        with _quiet():
            self.results_ = UnobservedComponents(y, level="local linear trend").fit(disp=False)
        self._set_scale(int(np.isfinite(y).sum()), 3)
        return self


class Theta(Model):
    """The Theta method (SES with drift, Hyndman & Billah 2003), simulated exactly.

    The estimates are those of statsmodels' ``ThetaModel(period=1).fit()`` (OLS trend slope
    ``b0``; SES with the initial level known, ``ℓ₀ = y₀``, and α maximising the Gaussian
    likelihood, i.e. minimising the one-step squared errors; forecast
    ``ℓ_n + b0/2 · (h − 1 + 1/α − (1−α)ⁿ/α)``), computed directly: statsmodels fits the SES
    as a state-space model by L-BFGS with numerical gradients, 14 of the 16 ms a series took
    (5.0 s for M3's 645); here α is searched on a grid, all candidates at once, and refined
    by bounded Brent. On M3's 645 yearly series α agrees with statsmodels' to < 0.01 on 637;
    on the other 8 statsmodels' L-BFGS stopped in a local optimum and this search finds the
    smaller error sum (see the tests).
    Paths are ``ŷ_h + Σ_{j<h} α ε_j + ε_h`` with ``ε ~ N(0, σ²)``, the SES error structure,
    and the drift drawn from its sampling distribution.
    """

    name = "theta"
    min_points = 4

    def __init__(self):
        pass

    def fit(self, history: pd.Series) -> Self:
        y = self._check_history(history)
        n = len(y)
        t = np.arange(n)
        self.b0_ = float(np.polyfit(t, y, 1)[0])
        self.alpha_ = _ses_alpha(y)
        # statsmodels' `sigma2` refits an ARIMA(0,1,1) (about 0.3 s a series); the one-step
        # errors of the fitted SES with half the trend slope (the theta = 2 drift) estimate
        # the same innovation variance directly. The SES run also gives the final level.
        level, errors = y[0], []
        for value in y[1:]:
            errors.append(value - level - self.b0_ / 2)
            level = level + self.alpha_ * (value - level)
        self.level_ = float(level)
        errors = np.asarray(errors)
        self.sigma2_ = float(errors @ errors / max(len(errors) - 2, 1))
        self.n_ = n
        return self

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        self._check_fitted()
        a, h = self.alpha_, np.arange(1, horizon + 1)
        trend = h - 1 + 1 / a - (1 - a) ** self.n_ / a
        mean = (self.level_ + self.b0_ / 2 * trend).reshape(1, horizon)
        sd = np.sqrt(self.sigma2_)
        eps = sd * rng.standard_normal((draws, horizon))
        carried = np.cumsum(eps, axis=1) - eps  # Σ_{j<h} ε_j
        # drift uncertainty: se of the OLS slope of a linear trend over n points
        slope_sd = sd * np.sqrt(12.0 / (self.n_ * (self.n_**2 - 1)))
        drift = slope_sd * rng.standard_normal((draws, 1)) * np.arange(1, horizon + 1)
        return mean + self.alpha_ * carried + eps + drift


def _ses_run(y: np.ndarray, alphas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Simple exponential smoothing from ``ℓ₀ = y₀`` for every α in ``alphas`` at once:
    the sums of squared one-step errors and the final levels."""
    level = np.full(len(alphas), float(y[0]))
    sse = np.zeros(len(alphas))
    for value in y[1:]:
        error = value - level
        sse += error**2
        level = level + alphas * error
    return sse, level


def _ses_alpha(y: np.ndarray, low: float = 1e-4) -> float:
    """The α in [low, 1] minimising the SES one-step squared errors: best of a 101-point grid,
    refined by bounded Brent within one grid step either side.

    Examples
    --------
    >>> y = np.array([1.0, 1.0, 1.0, 5.0, 5.0, 5.0])  # a level shift: follow it at once
    >>> round(_ses_alpha(y), 3)
    1.0
    """
    from scipy.optimize import minimize_scalar

    grid = np.linspace(low, 1.0, 101)
    sse = _ses_run(y, grid)[0]
    best = int(np.argmin(sse))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    found = minimize_scalar(_ses_sse, args=(y,), bounds=(lo, hi), method="bounded")
    return float(found.x if found.fun <= sse[best] else grid[best])


def _ses_sse(alpha: float, y: np.ndarray) -> float:
    """One-step squared-error sum of SES from ``ℓ₀ = y₀`` for one α, the levels run by
    ``scipy.signal.lfilter`` (``ℓ_t = (1−α) ℓ_{t−1} + α y_t``): the Brent refinement calls it
    ~14 times a series, and the C filter is ~10× faster there than :func:`_ses_run`'s
    Python loop over the years (which suits the grid, all α at once)."""
    from scipy.signal import lfilter

    levels = lfilter([alpha], [1.0, alpha - 1.0], y[1:-1], zi=[(1.0 - alpha) * y[0]])[0]
    errors = y[1:] - np.concatenate([y[:1], levels])
    return float(errors @ errors)


STATISTICAL_MODELS: tuple[type[Model], ...] = (
    RandomWalkDrift,
    DampedDrift,
    ETS,
    AutoARIMA,
    Theta,
)
"""The statistical members of the default ensemble (``models="auto"``/``"statistical"``)."""

OPTIONAL_MODELS: tuple[type[Model], ...] = (ARGrowth, LocalLinearTrend)
"""Members available by name but not in the default ensemble (``benchmarks/RESULTS.md``): on
M3 the backtests that set the weights gave ``ar_growth`` none; ``local_linear_trend`` they
weighted on its first steps ahead, and the ensemble was better without it on held-out
training years (session 13)."""
