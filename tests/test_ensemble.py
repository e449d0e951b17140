"""Ensemble combination: mixture vs quantile averaging, their CRPS, weights and joint draws."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jqforecast.backtest.scores import crps_sample
from jqforecast.data.metrics import Kind
from jqforecast.models.ensemble import (
    BacktestCase,
    case_terms,
    crps_terms,
    ensemble_pit,
    fit_weights,
    quantile_average,
    quantile_crps,
    quantile_terms,
    vincentise,
)
from jqforecast.models.transforms import Transform


def _cases(rng, centres, sd, n_cases=400, draws=200, kind=Kind.LEVEL, truth_sd=None):
    """Cases whose members draw N(centre_i, sd²) on the unconstrained scale and whose
    outcome is drawn from N(0, truth_sd²) there (data scale relative to a random base)."""
    t = Transform(kind)
    out = []
    for _ in range(n_cases):
        base = abs(float(t.inverse(rng.normal(0, 1), whole=False))) or 1.0  # a positive scale
        shift = float(t.forward(base))
        z = shift + np.array(centres)[:, None] + sd * rng.standard_normal((len(centres), draws))
        y = float(t.inverse(shift + (truth_sd or sd) * rng.standard_normal(), whole=False))
        out.append(BacktestCase(t.inverse(z, whole=False) / base, y / base, 1, z, t, base))
    return out


@pytest.mark.parametrize("kind", [Kind.LEVEL, Kind.RATIO, Kind.FLOW, Kind.REAL])
def test_quantile_crps_is_the_sample_crps_of_the_combination_with_exact_gradient(kind):
    rng = np.random.default_rng(0)
    cases = _cases(rng, [-0.5, 0.2, 0.8], 0.3, n_cases=30, draws=50, kind=kind)
    terms = quantile_terms(cases)
    w = np.array([0.2, 0.5, 0.3])
    value, grad = quantile_crps(w, terms)
    direct = np.mean([crps_sample(c.combined(w), c.outcome) for c in cases])
    assert value == pytest.approx(direct, rel=1e-10)
    # each case combined by hand: sorted draws, weighted, back-transformed
    c = cases[0]
    by_hand = c.transform.inverse(w @ np.sort(c.z, axis=1), whole=False) / c.base
    np.testing.assert_allclose(np.sort(c.combined(w)), by_hand, rtol=1e-12)
    eps = 1e-6
    numeric = [
        (quantile_crps(w + eps * e, terms)[0] - quantile_crps(w - eps * e, terms)[0]) / (2 * eps)
        for e in np.eye(3)
    ]
    np.testing.assert_allclose(grad, numeric, rtol=1e-4, atol=1e-8)


def test_quantile_weights_recover_the_average_that_is_the_truth():
    """Members N(−1, σ²) and N(2, σ²) on logs, outcomes N(0, σ²): the quantile average with
    weights (2/3, 1/3) *is* the outcome distribution, so the CRPS-optimal weights are those.
    The best mixture of the two is far worse (it is bimodal, the truth is not)."""
    rng = np.random.default_rng(1)
    cases = _cases(rng, [-1.0, 2.0], 0.3, n_cases=600, draws=200)
    w, info = fit_weights(cases, 2, combine="quantile")
    assert w == pytest.approx([2 / 3, 1 / 3], abs=0.03)
    assert info["combine"] == "quantile" and info["crps_ensemble"] <= info["crps_equal"]
    w_mix, info_mix = fit_weights(cases, 2, combine="mixture")
    assert info_mix["crps_ensemble"] > 1.5 * info["crps_ensemble"]
    # PITs of the fitted quantile average are uniform: its 80 % interval covers ~80 %
    pits = np.array([ensemble_pit(c, w, "quantile") for c in cases])
    assert 0.75 <= np.mean((pits > 0.1) & (pits < 0.9)) <= 0.85
    with pytest.raises(ValueError, match="combine must be one of"):
        fit_weights(cases, 2, combine="median")


@given(st.lists(st.integers(0, 3), min_size=8, max_size=8), st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_case_weights_count_a_case_as_often_as_a_copy_would(times, seed):
    """Bagging resamples series whole: a case drawn k times weighs k in the objective, exactly
    as k copies of it would (value and gradient, both combinations)."""
    if sum(times) == 0:
        times = [1] + times[1:]
    rng = np.random.default_rng(seed)
    cases = _cases(rng, [-0.3, 0.4], 0.3, n_cases=8, draws=30)
    copies = [c for c, k in zip(cases, times, strict=True) for _ in range(k)]
    w = rng.dirichlet(np.ones(2))
    got = quantile_crps(w, quantile_terms(cases), np.array(times, dtype=float))
    want = quantile_crps(w, quantile_terms(copies))
    assert got[0] == pytest.approx(want[0], rel=1e-10)
    np.testing.assert_allclose(got[1], want[1], rtol=1e-10, atol=1e-14)
    a, b = case_terms(cases)
    a2, b2 = crps_terms(copies)
    cw = np.array(times, dtype=float) / sum(times)
    np.testing.assert_allclose(cw @ a, a2, rtol=1e-12)
    np.testing.assert_allclose(np.tensordot(cw, b, 1), b2, rtol=1e-12)


def test_bagged_weights_resample_series_reproducibly():
    rng = np.random.default_rng(3)
    cases = _cases(rng, [-0.4, 0.3], 0.3, n_cases=60, draws=100)
    named = [replace(c, series=f"s{i // 6}") for i, c in enumerate(cases)]  # 10 series
    w1, info = fit_weights(named, 2, bag=30, seed=7)
    w2, _ = fit_weights(named, 2, bag=30, seed=7)
    np.testing.assert_array_equal(w1, w2)  # one seed, one answer
    assert info["bagged"] == 30 and "bagged over 30" in info["method"]
    assert not np.array_equal(w1, fit_weights(named, 2, bag=30, seed=8)[0])
    # one series only: every resample is the whole set, so bagging changes nothing
    single = [replace(c, series="one") for c in cases]
    np.testing.assert_allclose(
        fit_weights(single, 2, bag=10)[0], fit_weights(single, 2, bag=0)[0], atol=1e-12
    )
    assert fit_weights(single, 2, bag=0)[1]["bagged"] == 0


def test_quantile_average_needs_the_unconstrained_draws():
    case = BacktestCase(np.ones((2, 5)), 1.0)
    with pytest.raises(ValueError, match="unconstrained draws"):
        fit_weights([case] * 6, 2, combine="quantile")


@given(
    st.integers(1, 4),
    st.integers(2, 40),
    st.integers(1, 3),
    st.integers(0, 2**32 - 1),
)
@settings(max_examples=50, deadline=None)
def test_vincentise_has_averaged_margins_and_the_mixtures_ranks(members, draws, cols, seed):
    rng = np.random.default_rng(seed)
    sims = rng.normal(rng.normal(size=(members, 1, cols)), 1.0, size=(members, draws, cols))
    w = rng.dirichlet(np.ones(members))
    mixture = rng.normal(size=(draws, cols))
    out = vincentise(mixture, sims, w)
    for j in range(cols):
        np.testing.assert_allclose(np.sort(out[:, j]), quantile_average(sims[:, :, j], w))
        np.testing.assert_array_equal(
            np.argsort(out[:, j], kind="stable"), np.argsort(mixture[:, j], kind="stable")
        )


def _revenue(seed=11, n=14):
    rng = np.random.default_rng(seed)
    years = list(range(2024 - n, 2024))
    return pd.concat(
        pd.DataFrame(
            {
                "metric": "revenue",
                "industry": ind,
                "year": years,
                "value": np.exp(5 + np.cumsum(0.06 + 0.1 * rng.standard_normal(n))),
                "unit": "亿元",
                "status": "official",
                "source": "test",
            }
        )
        for ind in ("ic", "biomed", "ai")
    )


def test_forecast_combines_quantiles_and_keeps_draws_joint():
    """``forecast(combine="quantile")``: each margin is the weighted average (on logs) of the
    members' quantiles, checked against the members' own forecasts (same keyed streams);
    the mixture is still there and differs. (That the draws keep the mixture's ranks is
    the property test of ``vincentise`` above.)"""
    from jqforecast.engine import forecast

    data = _revenue()
    kw = dict(draws=600, seed=5, models=["rw_drift", "damped_drift", "theta"], calibrate=False)
    kw |= dict(assumptions={})
    q = forecast(data, combine="quantile", **kw)
    assert q.meta["combine"] == "quantile"
    assert q.equals(forecast(data, combine="quantile", **kw))
    sid, year = "revenue/ic", 2026
    w = {m: x for m, x in q.meta["members_used"][sid].items() if x > 0}
    assert len(w) >= 2
    logs = []
    own = q.member_draws()  # the labelled draws before averaging
    labels = own.members.sel(series=sid).values
    for m in w:  # each member alone, its weight 1: its own full set of draws
        alone = forecast(data, **kw | {"models": [m]})
        logs.append(np.log(alone.values(sid, year)))
        # the draws labelled m are m's own draws, in its order
        mine = own.values(sid, year)[labels == m]
        np.testing.assert_array_equal(mine, alone.values(sid, year)[: len(mine)])
    expected = np.exp(quantile_average(np.stack(logs), np.array(list(w.values()))))
    np.testing.assert_allclose(np.sort(q.values(sid, year)), expected, rtol=1e-9)
    m = forecast(data, combine="mixture", **kw)
    assert m.meta["combine"] == "mixture" and m.mixture is None and m.member_draws() is m
    assert not np.allclose(np.sort(m.values(sid, year)), expected)


def test_member_draws_survive_storage_and_drive_the_member_spread(tmp_path):
    """A quantile-averaged forecast keeps the members' own draws through NetCDF, and the
    per-member P(hit) of the plan's revenue target comes from them (on the averaged draws
    every member's label would carry the ensemble's values)."""
    import jqforecast
    from jqforecast.engine import forecast
    from jqforecast.result import Forecast

    data = _revenue()
    data["value"] *= 1000 / data.groupby("industry")["value"].transform("last")  # ~3000 in all
    q = forecast(
        data,
        draws=600,
        seed=2,
        models=["rw_drift", "damped_drift", "theta"],
        assumptions={},
        combine="quantile",
    )
    back = Forecast.from_netcdf(q.to_netcdf(tmp_path / "q.nc"))
    assert back.equals(q) and back.mixture is not None
    report = jqforecast.evaluate_targets(q)

    def total(f: Forecast) -> np.ndarray:
        return sum(f.values(f"revenue/{i}", 2026) for i in ("ic", "biomed", "ai"))

    row = report.table.set_index("id").loc["leading_revenue"]
    assert row["p_hit"] == pytest.approx(np.mean(total(q) >= 3000))
    assert 0.05 < row["p_hit"] < 0.95
    by_member = report.by_member[report.by_member["id"] == "leading_revenue"]
    labels = q.member_draws().member_of(["revenue/ic", "revenue/biomed", "revenue/ai"])
    assert len(by_member) >= 2
    for _, r in by_member.iterrows():
        own = total(q.member_draws())[labels == r["member"]]
        assert r["p_hit"] == pytest.approx(np.mean(own >= 3000))
    assert row["p_hit_lo"] <= by_member["p_hit"].max() and row["p_hit_lo"] <= row["p_hit"]


def test_short_series_say_which_combination_the_reference_weights_were_learned_for():
    import jqforecast
    from jqforecast.engine import forecast

    kw = dict(draws=200, seed=0, models=["rw_drift", "damped_drift", "theta"])
    q = forecast(jqforecast.load_default(), combine="quantile", **kw)
    assert q.meta["weights_info"]["method"].startswith("reference")
    assert (
        "learned for the mixture combination, used for quantile"
        in (q.meta["weights_info"]["method"])
    )
    m = forecast(jqforecast.load_default(), **kw)
    assert "used for" not in m.meta["weights_info"]["method"]
    with pytest.raises(ValueError, match="combine must be one of"):
        forecast(jqforecast.load_default(), combine="median", **kw)
