"""Official figures inform the shared derivation factors (jqforecast.engine.anchors)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jqforecast.engine.anchors import (
    GROWTH_SD_PRIOR,
    FactorPosterior,
    anchor_offsets,
    factor_posterior,
)
from jqforecast.engine.series import prepare
from jqforecast.models.transforms import Transform


def _rows(metric, industry, years, values, statuses, assumptions, rel_sd=0.3):
    n = len(years)
    return pd.DataFrame(
        {
            "metric": metric,
            "industry": industry,
            "year": list(years),
            "value": list(values),
            "unit": "亿元" if metric == "revenue" else "家",
            "status": statuses,
            "rel_sd": [rel_sd if s != "official" else np.nan for s in statuses][:n],
            "assumption": assumptions,
        }
    )


def _park(rng, f, years=range(2018, 2025), sd=0.3, sigma=0.1, official_last=("ic",)):
    """Three revenue series, true log levels a random walk with drift; each figure derived
    (true × e^(−sd f)) except the last year of the series in ``official_last``."""
    frames = []
    for industry in ("ic", "biomed", "ai"):
        mu = rng.uniform(0.02, 0.15)
        true = np.log(rng.uniform(100, 1000)) + np.cumsum(rng.normal(mu, sigma, len(years)))
        derived = [industry not in official_last or k < len(years) - 1 for k in range(len(years))]
        values = np.exp(true - sd * f * np.asarray(derived, dtype=float))
        statuses = ["derived" if d else "official" for d in derived]
        frames.append(
            _rows(
                "revenue",
                industry,
                years,
                values,
                statuses,
                ["share" if d else None for d in derived],
                rel_sd=sd,
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_the_factor_behind_simulated_derived_figures_is_recovered_and_calibrated():
    """Known truth: the factor drawn from its prior, three series derived with it, one with
    an official last figure. Over 300 data sets the posterior's 90 % interval covers the
    true factor about 90 % of the time (the growth volatility's prior is set above the
    truth's, so a little more), the posterior mean is much closer to the truth than the
    prior's 0, and the sd shrinks from 1."""
    rng = np.random.default_rng(7)
    z, sds, errors = [], [], []
    for _ in range(300):
        f = rng.standard_normal()
        post = factor_posterior(_park(rng, f), {"share": 0.3})
        m, s = post.means()["share"], post.sd()["share"]
        z.append((m - f) / s)
        sds.append(s)
        errors.append(m - f)
    z = np.asarray(z)
    covered = np.mean(np.abs(z) < 1.645)
    assert 0.86 <= covered <= 0.995
    assert abs(np.mean(z)) < 0.15  # unbiased
    assert np.sqrt(np.mean(np.square(errors))) < 0.6  # against 1.0 for the prior's mean
    assert 0.3 < np.median(sds) < 0.7


def test_a_derived_then_official_pair_alone_says_nothing():
    """Two figures, one derived and one official: growth and the step cannot be told apart,
    so the factor keeps its prior; series without an official figure say nothing either."""
    rows = _rows("revenue", "ic", [2023, 2024], [100.0, 60.0], ["derived", "official"],
                 ["share", None])  # fmt: skip
    post = factor_posterior(rows, {"share": 0.3})
    assert post.means()["share"] == pytest.approx(0.0, abs=1e-6)
    assert post.sd()["share"] == pytest.approx(1.0, abs=1e-6)
    derived = _rows("revenue", "ai", range(2018, 2024), np.geomspace(50, 90, 6),
                    ["derived"] * 6, ["share"] * 6)  # fmt: skip
    assert factor_posterior(derived, {"share": 0.3}).is_prior


def test_a_step_is_put_on_the_assumption_with_the_larger_sd():
    """A figure derived with two assumptions (sd 0.3 and 0.05) and then an official one 30 %
    below the trend: the step goes mostly to the wide assumption, the two factors'
    posterior is negatively correlated (one explains what the other does not), and an
    assumption no figure crossed keeps its prior."""
    years = list(range(2016, 2025))
    values = [100 * 1.08**k for k in range(8)] + [100 * 1.08**8 * 0.7]
    rows = _rows("revenue", "ic", years, values, ["derived"] * 8 + ["official"],
                 ["wide narrow"] * 8 + [None], rel_sd=0.31)  # fmt: skip
    sds = {"wide": 0.3, "narrow": 0.05, "other": 0.2}
    post = factor_posterior(rows, sds)
    m, cov = post.means(), post.cov
    assert m["wide"] * 0.3 < 3 * m["narrow"] * 0.05 < 0  # both say "derived too high"
    corr = cov[0, 1] / np.sqrt(cov[0, 0] * cov[1, 1])  # names sorted: narrow, other, wide
    assert post.names == ("narrow", "other", "wide") and cov[0, 2] < 0 and corr == 0
    assert m["other"] == 0.0 and post.sd()["other"] == pytest.approx(1.0)
    # the step the factors explain, on the log scale, is close to the observed −0.357
    explained = 0.3 * m["wide"] + 0.05 * m["narrow"]
    assert -0.357 < explained < -0.2


def test_the_growth_volatility_is_learned_from_the_calm_changes():
    """Steady calm changes (a constant growth rate) shrink the volatility below the prior;
    wild ones raise it, and the same step then says less about the factor."""
    years = list(range(2016, 2025))
    statuses = ["derived"] * 8 + ["official"]
    shares = ["share"] * 8 + [None]
    calm = [100 * 1.08**k for k in range(8)] + [100 * 1.08**8 * 0.7]
    wild = [100 * 1.08**k * (1.3 if k % 2 else 0.75) for k in range(8)] + [100 * 1.08**8 * 0.7]
    p_calm = factor_posterior(_rows("revenue", "ic", years, calm, statuses, shares), {"share": 0.3})
    p_wild = factor_posterior(_rows("revenue", "ic", years, wild, statuses, shares), {"share": 0.3})
    assert p_calm.evidence[0]["growth_sd"] < GROWTH_SD_PRIOR < p_wild.evidence[0]["growth_sd"]
    assert p_calm.sd()["share"] < p_wild.sd()["share"] < 1.0


def test_prepare_re_anchors_the_derived_history_and_keeps_the_figures_as_given():
    """With the true offset as the anchor, the history the models see is the true series
    (a straight line here, no step before the official figure); ``observed`` gives back the
    figures as written, and the last figure never moves."""
    years = list(range(2018, 2025))
    true = 100 * 1.1 ** np.arange(7)
    f, sd = -1.2, 0.3  # the derived figures were e^(0.36) too high
    values = true * np.exp(-sd * f * np.r_[np.ones(6), 0.0])
    rows = _rows("revenue", "ic", years, values, ["derived"] * 6 + ["official"],
                 ["share"] * 6 + [None], rel_sd=sd)  # fmt: skip
    (s,) = prepare(rows, {"share": sd}, anchor={"share": sd * f})
    np.testing.assert_allclose(s.history.to_numpy(), np.log(true), atol=1e-12)
    np.testing.assert_allclose(s.observed.to_numpy(), np.log(values), atol=1e-12)
    assert s.anchor.iloc[-1] == 0.0
    (plain,) = prepare(rows, {"share": sd})
    assert plain.anchor is None and np.array_equal(plain.history, plain.observed)


def test_a_re_anchored_stock_keeps_its_figures_and_adds_up_the_moved_additions():
    """A cumulative stock derived for five years, then an official count: the additions the
    count model sees come from the re-anchored stock (no jump into the official year), the
    stock kept for the observed years is the figures as given."""
    years = list(range(2019, 2025))
    derived = [2.0, 5.0, 9.0, 12.0, 16.0]
    rows = _rows("smart_factories", "park_total", years, derived + [40.0],
                 ["derived"] * 5 + ["official"], ["share"] * 5 + [None], rel_sd=0.4)  # fmt: skip
    post = factor_posterior(rows, {"share": 0.4})
    assert post.means()["share"] > 0  # the official count is above the derived ones' trend
    (s,) = prepare(rows, {"share": 0.4}, anchor=anchor_offsets(post, {"share": 0.4}))
    assert s.stock.tolist() == derived + [40.0]
    added = Transform(s.transform.kind).inverse(s.history.to_numpy(), whole=False)
    (raw,) = prepare(rows, {"share": 0.4})
    raw_added = Transform(raw.transform.kind).inverse(raw.history.to_numpy(), whole=False)
    assert added[-1] < raw_added[-1] == pytest.approx(24.0)  # 40 − 16, before re-anchoring
    assert added.sum() == pytest.approx(40.0 - 2.0 * np.exp(0.4 * post.means()["share"]))


@settings(max_examples=40, deadline=None)
@given(
    steps=st.lists(st.floats(-0.5, 0.5), min_size=3, max_size=9),
    last=st.floats(-1.0, 1.0),
    sd=st.floats(0.01, 1.0),
)
def test_evidence_never_widens_a_factor_and_the_draws_follow_the_posterior(steps, last, sd):
    """Whatever the figures: the posterior sd is at most the prior's 1, the covariance is
    symmetric positive definite, and the draws have the posterior's mean and sd."""
    levels = np.exp(np.cumsum(np.r_[0.0, steps, last]))
    n = len(levels)
    rows = _rows("revenue", "ic", range(2000, 2000 + n), 100 * levels,
                 ["derived"] * (n - 1) + ["official"], ["share"] * (n - 1) + [None],
                 rel_sd=sd)  # fmt: skip
    post = factor_posterior(rows, {"share": sd})
    assert post.sd()["share"] <= 1.0 + 1e-12
    assert np.all(np.linalg.eigvalsh(post.cov) > 0)
    draws = post.draws(3, 20000)["share"]
    assert np.mean(draws) == pytest.approx(post.means()["share"], abs=0.03)
    assert np.std(draws) == pytest.approx(post.sd()["share"], rel=0.03)
    assert FactorPosterior.from_dict(post.to_dict()).means() == post.means()


def test_the_volatility_prior_comes_from_the_metric_s_other_series():
    """An evidence series with two calm changes learns little about its own volatility:
    other series of the same metric that swing widely raise it (and the step then says
    less), steady ones lower it; series of another metric do not count."""
    years = list(range(2020, 2025))
    ic = _rows("revenue", "ic", years, [100, 110, 121, 133, 100], ["derived"] * 4 + ["official"],
               ["share"] * 4 + [None])  # fmt: skip

    def other(metric, industry, swing):
        values = [100 * 1.1**k * (swing if k % 2 else 1 / swing) for k in range(6)]
        return _rows(metric, industry, range(2019, 2025), values, ["derived"] * 6,
                     ["share"] * 6)  # fmt: skip

    def growth_sd(*others):
        post = factor_posterior(pd.concat([ic, *others], ignore_index=True), {"share": 0.3})
        (e,) = post.evidence
        return e["growth_sd"], post.sd()["share"]

    alone = growth_sd()
    wild = growth_sd(other("revenue", "ai", 1.4), other("revenue", "biomed", 1.4))
    steady = growth_sd(other("revenue", "ai", 1.0), other("revenue", "biomed", 1.0))
    elsewhere = growth_sd(other("pct_filings", "park_total", 1.4))
    assert steady[0] < alone[0] < wild[0] and steady[1] < alone[1] < wild[1]
    assert elsewhere == pytest.approx(alone)


def test_an_official_figure_far_outside_the_assumed_range_is_warned_about():
    """An official figure a quarter of the derived trend puts the factor beyond 2.5 prior
    sds: the forecast goes on, with a warning that asks whether the official figure measures
    the same thing (口径); an ordinary step gives none."""
    import warnings

    from jqforecast.data.errors import DataWarning
    from jqforecast.engine import forecast

    years = list(range(2018, 2025))
    statuses, shares = ["derived"] * 6 + ["official"], ["share"] * 6 + [None]
    trend = [100 * 1.08**k for k in range(7)]
    far = _rows("revenue", "ic", years, trend[:6] + [trend[6] / 4], statuses, shares)
    with pytest.warns(DataWarning, match="same 口径"):
        fc = forecast(far, years=(2025,), draws=200, seed=0, assumptions={}, models="statistical")
    assert fc.assumption_posterior().means()["share"] < -2.5
    near = _rows("revenue", "ic", years, trend[:6] + [trend[6] * 0.85], statuses, shares)
    with warnings.catch_warnings():
        warnings.simplefilter("error", DataWarning)
        forecast(near, years=(2025,), draws=200, seed=0, assumptions={}, models="statistical")
