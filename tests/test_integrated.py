"""Random-walk paths integrated out: the integral, its gradient and the paths drawn back."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, stats

from jqforecast.models.integrated import draw_paths, log_likelihood, paths_log_likelihood

MU, V, OBS_VAR = 0.1, np.array([[0.04, 0.09]]), np.array([[0.01, 0.02, 0.03]])
PRIOR_MEAN, PRIOR_VAR = np.array([[1.0, 1.05, 1.1]]), np.array([[1.0, 2.0, 3.0]])


def _joint_logpdf(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log p(x, y | θ) written out term by term; ``x`` is (..., 3) for a grid of paths."""
    steps = stats.norm.logpdf(np.diff(x, axis=-1), MU, np.sqrt(V[0])).sum(axis=-1)
    prior = stats.norm.logpdf(x, PRIOR_MEAN[0], np.sqrt(PRIOR_VAR[0])).sum(axis=-1)
    seen = np.isfinite(y)
    obs = stats.norm.logpdf(y[seen], x[..., seen], np.sqrt(OBS_VAR[0][seen])).sum(axis=-1)
    return steps + prior + obs


def _conditional(mu, v, obs_var, y, prior_mean, prior_var):
    """Mean and covariance of one path given ``y``, from the dense joint precision built
    from the definitions (random walk + weak prior + observations)."""
    t = len(y)
    diff = np.eye(t)[1:] - np.eye(t)[:-1]  # innovations as rows: x[k + 1] − x[k]
    seen = np.isfinite(y)
    precision = diff.T @ np.diag(1 / v) @ diff + np.diag(1 / prior_var + seen / obs_var)
    lin = diff.T @ (mu / v) + prior_mean / prior_var + np.where(seen, y, 0) / obs_var
    cov = np.linalg.inv(precision)
    return cov @ lin, cov


@pytest.mark.parametrize("y", [[1.0, np.nan, 1.3], [0.9, 1.2, np.nan]])
def test_integral_equals_numerical_integration(y):
    """log p(y | θ) with the path integrated out, against the trapezoidal rule on a 201³ grid
    over ±8 sd of the joint density (a missing year is integrated like any state)."""
    y = np.array(y)
    value = log_likelihood(np.array([MU]), V, OBS_VAR, y[None], PRIOR_MEAN, PRIOR_VAR)[0]
    mode, cov = _conditional(MU, V[0], OBS_VAR[0], y, PRIOR_MEAN[0], PRIOR_VAR[0])
    sd = np.sqrt(np.diag(cov))
    axes = [np.linspace(m - 8 * s, m + 8 * s, 201) for m, s in zip(mode, sd, strict=True)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    shift = float(_joint_logpdf(mode, y))
    mass = np.exp(_joint_logpdf(grid, y) - shift)
    for axis in axes:
        mass = integrate.trapezoid(mass, axis, axis=0)
    assert value == pytest.approx(shift + np.log(mass), abs=1e-6)


def test_impossible_parameters_give_minus_infinity():
    """Negative innovation variances make the precision indefinite: -inf, zero gradient."""
    value, *grad = log_likelihood(
        np.zeros(1),
        np.array([[-0.5]]),
        np.ones((1, 2)),
        np.ones((1, 2)),
        np.zeros((1, 2)),
        np.ones((1, 2)),
    )
    assert value == -np.inf and all(np.all(g == 0) for g in grad)


@st.composite
def paths_problem(draw):
    n_series = draw(st.integers(1, 3))
    t = draw(st.integers(2, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    y = rng.normal(0, 1, (n_series, t))
    y[rng.random(y.shape) < 0.3] = np.nan
    return (
        rng.normal(0, 0.2, n_series),
        rng.uniform(0.002, 0.2, (n_series, t - 1)),
        rng.uniform(0.002, 0.2, (n_series, t)),
        y,
        rng.normal(0, 1, (n_series, t)),
        rng.uniform(0.5, 5, (n_series, t)),
    )


@settings(max_examples=40, deadline=None)
@given(paths_problem())
def test_log_likelihood_gradient_matches_finite_differences(args):
    """The hand-written chain rule through precision_terms, against central differences in
    drift, innovation variances and observation variances (relative steps)."""
    _, *grad = log_likelihood(*args)
    for k in range(3):
        for idx in np.ndindex(args[k].shape):
            h = 1e-6 * max(1.0, abs(args[k][idx]))
            up, down = list(args), list(args)
            up[k], down[k] = args[k].copy(), args[k].copy()
            up[k][idx] += h
            down[k][idx] -= h
            fd = (log_likelihood(*up)[0] - log_likelihood(*down)[0]) / (2 * h)
            assert grad[k][idx] == pytest.approx(fd, rel=1e-4, abs=1e-4 * max(1, abs(fd)))


def test_op_gradient_through_pytensor():
    """The Op inside a PyTensor graph (drift, log innovation and observation variances →
    log p(y | θ)): PyTensor's own numerical gradient check."""
    import pytensor.tensor as pt
    from pytensor.gradient import verify_grad

    y = np.array([[1.0, np.nan, 1.3, 1.2], [0.5, 0.7, np.nan, 0.9]])
    prior_mean, prior_var = np.ones((2, 4)), np.full((2, 4), 2.0)

    def logp(mu, log_v, log_obs_var):
        return paths_log_likelihood(
            mu, pt.exp(log_v), pt.exp(log_obs_var), y, prior_mean, prior_var
        )

    rng = np.random.default_rng(0)
    verify_grad(
        logp,
        [np.array([0.1, -0.2]), rng.normal(-2, 0.5, (2, 3)), rng.normal(-3, 0.5, (2, 4))],
        rng=rng,
    )


def test_paths_are_drawn_from_the_conditional_gaussian():
    """Mean and covariance of 40 000 draws against the dense conditional Gaussian, within
    Monte Carlo error; two series with different parameters, a gap in each."""
    y = np.array([[1.0, np.nan, 1.3, 1.2], [0.5, 0.7, np.nan, 0.9]])
    mu, v = np.array([0.1, -0.05]), np.array([[0.02, 0.05, 0.01], [0.1, 0.03, 0.04]])
    obs_var = np.array([[0.01, 0.01, 0.05, 0.02], [0.03, 0.01, 0.01, 0.2]])
    prior_mean, prior_var = np.ones((2, 4)), np.full((2, 4), 2.0)
    n = 40_000
    x = draw_paths(
        np.tile(mu, (n, 1)),
        np.tile(v, (n, 1, 1)),
        np.tile(obs_var, (n, 1, 1)),
        y,
        prior_mean,
        prior_var,
        np.random.default_rng(3),
    )
    for s in range(2):
        mean, cov = _conditional(mu[s], v[s], obs_var[s], y[s], prior_mean[s], prior_var[s])
        se = np.sqrt(np.diag(cov) / n)
        np.testing.assert_array_less(np.abs(x[:, s].mean(axis=0) - mean), 4 * se)
        np.testing.assert_allclose(np.cov(x[:, s].T), cov, atol=0.03 * np.abs(cov).max())
