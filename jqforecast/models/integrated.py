"""Gaussian random-walk paths integrated out of a PyMC model, and drawn back afterwards.

A latent path ``x`` (``T`` years) that follows a random walk with drift ``μ`` and innovation
variances ``v_k``, carries a weak Gaussian prior ``N(c_t, w_t)`` on every state (none, i.e.
flat, where ``w_t = ∞``: years before a series' first observation) and is observed with
Gaussian noise of variance ``n_t`` (where observed) has a joint log density that is
quadratic in ``x``::

    log p(x, y | θ) = const(θ) − ½ xᵀ P x + bᵀ x

with a tridiagonal precision ``P``. The path can therefore be integrated out exactly::

    log p(y | θ) = const(θ) + ½ bᵀ P⁻¹ b − ½ log |P| + (T/2) log 2π

and NUTS samples only the parameters ``θ``; given a posterior draw of ``θ`` the path is
``N(P⁻¹ b, P⁻¹)`` (:func:`draw_paths`). Student-t innovations enter as a scale mixture
(``v_k = σ² λ_k``, ``λ_k ~ InvGamma(ν/2, ν/2)``), so the paths stay conditionally Gaussian.

Why: on the park's revenue (three series of estimates, sd ≈ 0.08 on logs, seven sparse years)
NUTS on the non-centred innovations needed ~123 leapfrog steps a draw at ``target_accept``
0.99; with the paths integrated out ~29 at 0.97 (fewer divergences than ~22 at 0.95).

PyTensor has Cholesky, solve and log-determinant Ops with gradients, but on these tiny batched
matrices each is a Python-level call (measured in session 4: ~315 µs per log density and
gradient), and a Kalman filter unrolled over the years compiled its gradient for minutes.
Building ``P`` and ``b`` in PyTensor with a dense numpy integral (session 8, first version)
cost ~110 µs a gradient, and the revenue group's log density and gradient 29 s of C
compilation on a cold cache (21 s now); the same in numpy ~200 µs (dozens of small array
calls). So the whole ``log p(y | θ)`` and its gradient are one
numba-compiled loop over the series (:func:`log_likelihood`, O(T) per series: ``P`` is
tridiagonal, factorised as ``L D Lᵀ``; the diagonals of ``P⁻¹`` the gradient needs come from
the same factors) inside one small Op (:class:`PathsLogLikelihood`). Tests check it against
quadrature of the joint density and finite differences.
"""

from __future__ import annotations

from math import inf, isnan, log, sqrt

import numba
import numpy as np
import pytensor.tensor as pt
from pytensor.graph.basic import Apply
from pytensor.graph.op import Op

LOG_2PI = float(np.log(2 * np.pi))


@numba.njit(cache=True)
def _terms(m, v, obs_var, y, prior_mean, prior_var, diag, off, lin) -> float:
    """Fill ``diag``, ``off``, ``lin`` (``P`` and ``b`` of one path) and return the terms of
    ``log p(x, y | θ)`` free of ``x``: weak prior, observations, innovations."""
    n_years = len(y)
    const = 0.0
    for t in range(n_years):
        w = prior_var[t]
        if w < inf:
            diag[t] = 1.0 / w
            lin[t] = prior_mean[t] / w
            const -= 0.5 * (prior_mean[t] ** 2 / w + log(w) + LOG_2PI)
        else:  # no prior on this state (flat): a year before the series' first observation
            diag[t] = 0.0
            lin[t] = 0.0
        if not isnan(y[t]):
            n = obs_var[t]
            diag[t] += 1.0 / n
            lin[t] += y[t] / n
            const -= 0.5 * (y[t] ** 2 / n + log(n) + LOG_2PI)
    for k in range(n_years - 1):  # innovation k: x[k + 1] − x[k] − μ, variance v[k]
        r = 1.0 / v[k]
        diag[k] += r
        diag[k + 1] += r
        off[k] = -r
        lin[k] -= m * r
        lin[k + 1] += m * r
        const += -0.5 * m * m * r + 0.5 * log(r) - 0.5 * LOG_2PI
    return const


@numba.njit(cache=True)
def _factor(diag, off, lin, d, low, u) -> bool:
    """``P = L D Lᵀ`` (``d`` the pivots, ``low`` L's subdiagonal) and ``u = P⁻¹ b``; False if
    ``P`` is not positive definite."""
    n_years = len(diag)
    d[0] = diag[0]
    u[0] = lin[0]  # forward substitution L z = b, z kept in u
    for k in range(n_years - 1):
        if not d[k] > 0:
            return False
        low[k] = off[k] / d[k]
        d[k + 1] = diag[k + 1] - low[k] * off[k]
        u[k + 1] = lin[k + 1] - low[k] * u[k]
    if not d[n_years - 1] > 0:
        return False
    u[n_years - 1] /= d[n_years - 1]
    for k in range(n_years - 2, -1, -1):
        u[k] = u[k] / d[k] - low[k] * u[k + 1]
    return True


@numba.njit(cache=True)
def log_likelihood(mu, v, obs_var, y, prior_mean, prior_var):
    """``log p(y | θ)`` summed over ``S`` paths, the paths integrated out, and its gradient.

    Parameters
    ----------
    mu : (S,)
        Drift of each path.
    v : (S, T - 1)
        Variance of each innovation ``x[t + 1] − x[t] − μ``.
    obs_var : (S, T)
        Observation variance of each cell (ignored where ``y`` is NaN).
    y : (S, T)
        Observations, NaN where unobserved.
    prior_mean, prior_var : (S, T)
        The weak Gaussian prior on every state.

    Returns
    -------
    value, d_mu (S,), d_v (S, T − 1), d_obs_var (S, T)
        ``-inf`` and zero gradients if a precision is not positive definite.

    Examples
    --------
    >>> import numpy as np  # one state observed once: log N(y | c, w + n)
    >>> value, *_ = log_likelihood(np.zeros(1), np.ones((1, 0)), np.ones((1, 1)),
    ...                            np.array([[1.0]]), np.zeros((1, 1)), np.ones((1, 1)))
    >>> round(value, 6), round(float(-0.5 * np.log(2 * np.pi * 2) - 0.25), 6)
    (-1.515512, -1.515512)
    """
    n_series, n_years = y.shape
    d_mu, d_v, d_obs = np.zeros(n_series), np.zeros_like(v), np.zeros_like(obs_var)
    diag, lin, d, u, s_diag = np.empty((5, n_years))
    off, low, s_off = np.empty((3, n_years - 1))
    total = 0.0
    for s in range(n_series):
        m = mu[s]
        const = _terms(m, v[s], obs_var[s], y[s], prior_mean[s], prior_var[s], diag, off, lin)
        if not _factor(diag, off, lin, d, low, u):
            return -np.inf, np.zeros_like(d_mu), np.zeros_like(v), np.zeros_like(obs_var)
        quad, logdet = 0.0, 0.0
        for t in range(n_years):
            quad += lin[t] * u[t]
            logdet += log(d[t])
        total += const + 0.5 * quad - 0.5 * logdet + 0.5 * n_years * LOG_2PI
        # diagonal and first off-diagonal of P⁻¹ from the factors (Takahashi's recursion)
        s_diag[n_years - 1] = 1.0 / d[n_years - 1]
        for k in range(n_years - 2, -1, -1):
            s_off[k] = -low[k] * s_diag[k + 1]
            s_diag[k] = 1.0 / d[k] + low[k] ** 2 * s_diag[k + 1]
        # ∂/∂P = −½ (u uᵀ + P⁻¹), ∂/∂b = u; then the chain rule through _terms
        for t in range(n_years):
            if not isnan(y[s, t]):
                n = obs_var[s, t]
                g_diag = -0.5 * (u[t] ** 2 + s_diag[t])
                d_obs[s, t] = (0.5 * y[s, t] ** 2 - g_diag - u[t] * y[s, t]) / n**2 - 0.5 / n
        for k in range(n_years - 1):
            r = 1.0 / v[s, k]
            g_diag = -0.5 * (u[k] ** 2 + s_diag[k] + u[k + 1] ** 2 + s_diag[k + 1])
            g_off = -(u[k] * u[k + 1] + s_off[k])  # off[k] appears twice in P
            du = u[k + 1] - u[k]
            d_r = g_diag - g_off + m * du - 0.5 * m * m + 0.5 / r
            d_v[s, k] = -d_r * r * r
            d_mu[s] += r * du - m * r
    return total, d_mu, d_v, d_obs


@numba.njit(cache=True)
def _draw(mu, v, obs_var, y, prior_mean, prior_var, z):
    """:func:`draw_paths` given the standard normal draws ``z`` (D, S, T). Posterior draws
    have positive variances, so every ``P`` here is positive definite."""
    n_draws, n_series, n_years = z.shape
    x = np.empty_like(z)
    diag, lin, d, u = np.empty((4, n_years))
    off, low = np.empty((2, n_years - 1))
    for i in range(n_draws):
        for s in range(n_series):
            _terms(
                mu[i, s], v[i, s], obs_var[i, s], y[s], prior_mean[s], prior_var[s], diag, off, lin
            )
            _factor(diag, off, lin, d, low, u)
            # x − u = L⁻ᵀ D^(−½) z has covariance L⁻ᵀ D⁻¹ L⁻¹ = P⁻¹
            e = z[i, s, n_years - 1] / sqrt(d[n_years - 1])
            x[i, s, n_years - 1] = u[n_years - 1] + e
            for k in range(n_years - 2, -1, -1):
                e = z[i, s, k] / sqrt(d[k]) - low[k] * e
                x[i, s, k] = u[k] + e
    return x


def draw_paths(mu, v, obs_var, y, prior_mean, prior_var, rng: np.random.Generator) -> np.ndarray:
    """Paths ``x ~ N(P⁻¹ b, P⁻¹)`` given posterior draws of the parameters.

    Parameters
    ----------
    mu : (D, S)
        Drift per draw and series.
    v : (D, S, T - 1)
        Innovation variances per draw.
    obs_var : (D, S, T)
        Observation variances per draw.
    y, prior_mean, prior_var : (S, T)
        The data and the weak prior, as for :func:`log_likelihood`.
    rng : numpy.random.Generator

    Returns
    -------
    ndarray (D, S, T)

    Examples
    --------
    >>> import numpy as np  # one state, prior N(0, 1), observed 1 with variance 1: N(½, ½)
    >>> x = draw_paths(np.zeros((20000, 1)), np.ones((20000, 1, 0)), np.ones((20000, 1, 1)),
    ...                np.ones((1, 1)), np.zeros((1, 1)), np.ones((1, 1)), np.random.default_rng(0))
    >>> round(float(x.mean()), 2), round(float(x.var()), 2)
    (0.5, 0.5)
    """
    args = [
        np.ascontiguousarray(a, dtype=float) for a in (mu, v, obs_var, y, prior_mean, prior_var)
    ]
    return _draw(*args, rng.standard_normal(args[2].shape))


class PathsLogLikelihood(Op):
    """PyTensor Op for :func:`log_likelihood`: inputs ``mu, v, obs_var`` (differentiable) and
    the data ``y, prior_mean, prior_var`` (constants); outputs the value and its gradient
    with respect to the first three, so that log density and gradient share one
    factorisation (the gradient graph reads outputs 1-3)."""

    __props__ = ()

    def make_node(self, *args):
        inputs = [pt.as_tensor_variable(a, dtype="float64") for a in args]
        return Apply(self, inputs, [pt.dscalar()] + [a.type() for a in inputs[:3]])

    def perform(self, node, inputs, outputs):
        value, *grad = log_likelihood(*inputs)
        outputs[0][0] = np.asarray(value)
        for out, g in zip(outputs[1:], grad, strict=True):
            out[0] = g

    def connection_pattern(self, node):
        return [[True] * 4] * 3 + [[False] * 4] * 3

    def L_op(self, inputs, outputs, output_grads):
        from pytensor.gradient import DisconnectedType

        gz, *rest = output_grads
        if not all(isinstance(g.type, DisconnectedType) for g in rest):
            raise NotImplementedError("PathsLogLikelihood: only the value is differentiable")
        return [gz * g for g in outputs[1:]] + [DisconnectedType()() for _ in range(3)]


def paths_log_likelihood(mu, v, obs_var, y, prior_mean, prior_var):
    """:func:`log_likelihood`'s value as a PyTensor scalar (``mu``, ``v``, ``obs_var``
    PyTensor variables; the data arrays)."""
    return PathsLogLikelihood()(mu, v, obs_var, y, prior_mean, prior_var)[0]
