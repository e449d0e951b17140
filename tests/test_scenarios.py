"""Scenarios transform paths; the inverse solve reaches the requested probability."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jqforecast
from jqforecast.scenarios import (
    LevelShift,
    Scenario,
    Uplift,
    evaluate_scenarios,
    gap_closing,
    load_scenarios,
    p_hit,
    sensitivity,
    solve_uplift,
)
from jqforecast.targets import load


@pytest.fixture(scope="module")
def fc():
    return jqforecast.forecast(jqforecast.load_default(), draws=2000, seed=0, models="statistical")


@settings(max_examples=25, deadline=None)
@given(a=st.floats(0, 20), b=st.floats(0, 20))
def test_larger_uplift_never_lowers_p_hit(fc, a, b):
    target = load()["leading_revenue"]
    lo, hi = sorted((a, b))
    p_lo = p_hit(Scenario("x", (Uplift(target.series, lo, 2025),)).apply(fc), target)
    p_hi = p_hit(Scenario("x", (Uplift(target.series, hi, 2025),)).apply(fc), target)
    assert p_hi >= p_lo


@settings(max_examples=25, deadline=None)
@given(amount=st.floats(-5000, 5000), p=st.floats(0, 1))
def test_scenarios_never_produce_negative_or_fractional_counts(fc, amount, p):
    sc = Scenario(
        "x",
        (
            LevelShift("pct_filings/park_total", amount, 2026, p, 0.3),
            LevelShift("revenue/ic", amount, 2025, p, 0.3),
            Uplift(("smart_factories/park_total",), -50.0, 2025),
        ),
    )
    out = sc.apply(fc, seed=1)
    pct = out.paths.sel(series="pct_filings/park_total").values
    assert pct.min() >= 0 and np.all(pct == np.round(pct))
    assert out.paths.sel(series="revenue/ic").values.min() >= 0
    sf = out.paths.sel(series="smart_factories/park_total").values
    assert np.all(sf == np.round(sf))
    # a cumulative total stops growing under a negative uplift; it does not fall
    assert (np.diff(sf, axis=1) >= 0).all()
    base = fc.paths.sel(series="smart_factories/park_total").values
    assert (sf[:, 0] == base[:, 0]).all() and (sf <= base).all()


def test_inverse_solve_reaches_level(fc):
    target = load()["leading_revenue"]
    sol = solve_uplift(fc, target, level=0.8)
    assert sol.reachable and sol.pp > 0
    applied = Scenario("s", (Uplift(sol.series, sol.pp, sol.from_year),)).apply(fc)
    assert p_hit(applied, target) >= 0.8
    below = Scenario("s", (Uplift(sol.series, sol.pp - 0.05, sol.from_year),)).apply(fc)
    assert p_hit(below, target) < 0.8 + 0.01  # the answer is (close to) the smallest


def test_inverse_solve_says_when_unreachable(fc):
    target = load()["rd_intensity"]
    sol = solve_uplift(fc, target, level=0.999, max_pp=0.5)
    assert not sol.reachable and sol.pp is None and "even +0.5 pp" in sol.note


def test_gap_closing_known_answer_a_later_start_compounds_fewer_years(fc):
    """R&D intensity is one series last observed in 2023 with a 2026 target: an uplift u from
    2025 acts on 2026 twice, from 2026 once, so 1 + u_2026 = (1 + u_2025)² (up to the solve's
    0.01 pp rounding), and scaling every draw moves the median by exactly that factor."""
    table = gap_closing(fc, level=0.8, max_pp=100).set_index(["target", "from_year"])
    assert sorted(table.index.get_level_values("from_year").unique()) == [2025, 2026]
    early, late = table.loc[("rd_intensity", 2025)], table.loc[("rd_intensity", 2026)]
    assert early["reachable"] and late["reachable"] and early["uplift_pp"] > 1
    factor = (1 + early["uplift_pp"] / 100) ** 2
    assert abs((1 + late["uplift_pp"] / 100) - factor) < 5e-4
    assert early["median_change_pct"] == pytest.approx(100 * (factor - 1), rel=1e-9)
    base = np.median(fc.values("rd_intensity/park_total", 2026))
    assert early["median_after"] == pytest.approx(base * factor, rel=1e-9)
    reached = table[table["reachable"]]
    assert (reached["achieved_p_hit"] >= 0.8).all()
    wide = table["uplift_pp"].unstack("from_year").dropna()
    assert (wide[2026] >= wide[2025]).all()  # a year's delay never makes it cheaper


def test_gap_closing_names_series_already_observed_in_the_start_year(fc):
    table = gap_closing(fc, level=0.8, from_years=[2025])
    row = table.set_index("target").loc["leading_revenue"]
    assert fc.meta["last_observed"]["revenue/ic"] == 2025  # the bundled data's IC revenue
    assert "revenue/ic observed in 2025" in row["note"]
    assert row["observed_in_start_year"] == "revenue/ic"
    assert list(table["from_year"].unique()) == [2025]
    unreachable = gap_closing(fc, level=0.999, max_pp=0.5)
    assert not unreachable["reachable"].any() and unreachable["uplift_pp"].isna().all()
    assert unreachable["median_change_pct"].isna().all()


@pytest.mark.parametrize(("figure", "reachable"), [(650.0, True), (550.0, False)])
def test_gap_closing_of_a_target_whose_year_is_observed(figure, reachable):
    """An official 2026 PCT count (threshold 600): no forecast year is left to lift, so no
    uplift is solved for; the rows say so and whether the figure meets the level as it is."""
    data = jqforecast.load_default()
    row = (
        data[data["metric"] == "pct_filings"]
        .iloc[[-1]]
        .assign(year=2026, value=figure, status="official", assumption=None, rel_sd=np.nan)
    )
    fc = jqforecast.forecast(
        pd.concat([data, row], ignore_index=True), draws=300, seed=0, models="statistical"
    )
    table = gap_closing(fc, level=0.8).set_index(["target", "from_year"])
    rows = table.loc["pct_filings"]
    assert list(rows.index) == [2025, 2026] and rows["observed"].all()
    assert rows["uplift_pp"].isna().all() and (rows["reachable"] == reachable).all()
    assert (rows["baseline_p_hit"] == float(reachable)).all()
    assert (rows["note"] == "observed (2026): no forecast year left to lift").all()
    assert not table.loc["leading_revenue", "observed"].any()  # 2026 revenue not observed


def test_level_shift_with_probability(fc):
    base = fc.values("revenue/ai", 2026)
    out = LevelShift("revenue/ai", 100.0, 2026, probability=0.5)
    sc = Scenario("plant", (out,)).apply(fc, seed=3)
    diff = sc.values("revenue/ai", 2026) - base
    assert set(np.round(np.unique(diff), 6)) <= {0.0, 100.0}
    assert abs((diff > 0).mean() - 0.5) < 0.05
    np.testing.assert_array_equal(sc.values("revenue/ai", 2025), fc.values("revenue/ai", 2025))


def test_levers_never_change_a_year_already_observed(fc):
    """revenue/ic is observed through 2025 in the bundled data: a 2025 addition is in the
    data already, so neither 2025 nor, for a persisting one, 2026 moves; a 2026 one does."""
    assert fc.meta["last_observed"]["revenue/ic"] == 2025
    for lever in (
        LevelShift("revenue/ic", 200.0, 2025),
        Uplift(("revenue/ic",), 10.0, 2025),
    ):
        sc = Scenario("x", (lever,)).apply(fc, seed=1)
        np.testing.assert_array_equal(sc.values("revenue/ic", 2025), fc.values("revenue/ic", 2025))
    sc = Scenario("x", (LevelShift("revenue/ic", 200.0, 2025),)).apply(fc, seed=1)
    np.testing.assert_array_equal(sc.values("revenue/ic", 2026), fc.values("revenue/ic", 2026))
    sc = Scenario("x", (LevelShift("revenue/ic", 200.0, 2026),)).apply(fc, seed=1)
    diff = sc.values("revenue/ic", 2026) - fc.values("revenue/ic", 2026)
    np.testing.assert_allclose(diff, 200.0)


def test_yaml_scenarios_and_table(fc, tmp_path):
    f = tmp_path / "s.yaml"
    f.write_text(
        "scenarios:\n"
        "  - name: ic_push\n    levers:\n"
        "      - {type: uplift, series: [revenue/ic], pp: 10, from_year: 2025}\n"
        "  - name: new_plant\n    levers:\n"
        "      - {type: level_shift, series: revenue/ai, amount: 300, year: 2026,"
        " probability: 0.6, rel_sd: 0.2}\n",
        encoding="utf-8",
    )
    scenarios = load_scenarios(f)
    table = evaluate_scenarios(fc, scenarios)
    p = table[table["target"] == "leading_revenue"].set_index("scenario")["p_hit"]
    assert p["ic_push"] > p["baseline"] and p["new_plant"] > p["baseline"]


def test_sensitivity_shares_add_up_for_sums_and_swings_are_monotone(fc):
    table = sensitivity(fc)
    revenue = table[(table["target"] == "leading_revenue") & (table["driver"] == "series")]
    assert set(revenue["series"]) == {"revenue/ic", "revenue/biomed", "revenue/ai"}
    assert revenue["variance_share"].sum() == pytest.approx(1.0, abs=1e-9)
    shared = table[(table["target"] == "leading_revenue") & (table["driver"] == "assumption")]
    assert shared["series"].tolist() == ["park_share_of_pudong"]  # all three carry it
    # moving a series up can only help a ">=" target, moving it down only hurt
    assert (table["p_hit_plus_1sd"] >= table["p_hit"]).all()
    assert (table["p_hit_minus_1sd"] <= table["p_hit"]).all()


def test_sensitivity_to_an_assumption_by_hand(tmp_path):
    """One derived series, 100 × exp(0.3 f) in 2026 where f is the forecast's own factor of
    the assumption "share" (sd 0.3), against a target of ≥ 100: P(hit) ½; the assumption
    at +1 sd puts every draw at 100 · e^0.3 (P 1), at −1 sd at 100 · e^−0.3 (P 0); the
    factor carries all of the variance. An official figure carries no assumption."""
    import xarray as xr

    from jqforecast.result import Forecast

    history = pd.DataFrame(
        {"metric": ["revenue", "revenue"], "industry": ["ic", "ai"], "year": [2024, 2024],
         "value": [100.0, 50.0], "status": ["derived", "official"],
         "assumption": ["share", None], "rel_sd": [0.3, None]}
    )  # fmt: skip
    meta = {"seed": 3, "assumption_sd": {"share": 0.3}}
    empty = xr.DataArray(np.zeros((4000, 2, 1)), dims=("draw", "series", "year"),
                         coords={"draw": range(4000), "series": ["revenue/ic", "revenue/ai"],
                                 "year": [2026]})  # fmt: skip
    f = Forecast(empty, history, meta).assumption_factors()["share"]
    paths = empty.copy(data=np.stack([100 * np.exp(0.3 * f), np.full(4000, 50.0)], 1)[..., None])
    fc = Forecast(paths, history, meta)
    assert fc.assumptions_of("revenue/ic", 2026) == ["share"]
    assert fc.assumptions_of("revenue/ai", 2026) == []
    spec = tmp_path / "targets.yaml"
    spec.write_text(
        "targets:\n"
        + "".join(
            f"  - {{id: {i}, label_zh: {i}, label_en: {i}, measure: 'revenue.{i}[2026]',"
            f" comparator: '>=', threshold: {v}, unit: 亿元}}\n"
            for i, v in (("ic", 100), ("ai", 40))
        ),
        encoding="utf-8",
    )
    table = sensitivity(fc, load(spec, include_default=False)).set_index(["target", "driver"])
    row = table.loc[("ic", "assumption")]
    assert row["series"] == "share"
    assert row["p_hit"] == pytest.approx(np.mean(f >= 0))
    assert (row["p_hit_minus_1sd"], row["p_hit_plus_1sd"]) == (0.0, 1.0)
    assert row["variance_share"] > 0.9  # corr(100·e^(0.3f), f)² (not 1: exp is not linear)
    assert "assumption" not in table.loc["ai"].index


def test_sensitivity_to_an_informed_assumption_and_a_gap_year_by_hand(tmp_path):
    """The factor's posterior N(−0.5, 0.5²) (official figures informed it): the assumption
    at ∓1 sd is the factor at −1 / 0, so a series at 100 · e^(0.3 f) is at 74 / 100 against a
    target of ≥ 95 (P 0 / 1). In a gap year carrying half the shift (``meta["loadings"]``
    ½) the same move is half as large: 100 · e^(0.15 (at − f)) around 100 · e^(0.15 f)."""
    import xarray as xr

    from jqforecast.engine.anchors import FactorPosterior
    from jqforecast.engine.series import assumption_factors
    from jqforecast.result import Forecast

    history = pd.DataFrame(
        {"metric": ["revenue"] * 2, "industry": ["ic"] * 2, "year": [2024, 2026],
         "value": [100.0, 120.0], "status": ["derived", "official"],
         "assumption": ["share", None], "rel_sd": [0.3, None]}
    )  # fmt: skip
    posterior = FactorPosterior(("share",), np.array([-0.5]), np.array([[0.25]]), ({"x": 1},))
    meta = {
        "seed": 3,
        "assumption_sd": {"share": 0.3},
        "loadings": {"revenue/ic": {"share": [1.0, 0.5]}},
        "assumption_posterior": posterior.to_dict(),
    }
    coords = {"draw": range(4000), "series": ["revenue/ic"], "year": [2024, 2025]}
    empty = xr.DataArray(np.zeros((4000, 1, 2)), dims=("draw", "series", "year"), coords=coords)
    f = Forecast(empty, history, meta).assumption_factors()["share"]
    eps = assumption_factors(3, ["share"], 4000)["share"]  # the prior's stream
    np.testing.assert_allclose(f, -0.5 + 0.5 * eps, rtol=1e-12)
    x = np.stack([100 * np.exp(0.3 * f), 100 * np.exp(0.15 * f)], axis=1)[:, None, :]
    fc = Forecast(empty.copy(data=x), history, meta)
    assert fc.loading("revenue/ic", "share", 2025) == 0.5
    assert fc.loading("revenue/ic", "share", 2026) == 0.0  # the official figure, not in paths
    assert fc.assumptions_of("revenue/ic", 2025) == ["share"]
    spec = tmp_path / "targets.yaml"
    spec.write_text(
        "targets:\n"
        "  - {id: y24, label_zh: a, label_en: a, measure: 'revenue.ic[2024]', comparator: '>=',"
        " threshold: 95, unit: 亿元}\n"
        "  - {id: y25, label_zh: b, label_en: b, measure: 'revenue.ic[2025]', comparator: '>=',"
        " threshold: 95, unit: 亿元}\n",
        encoding="utf-8",
    )
    table = sensitivity(fc, load(spec, include_default=False)).set_index(["target", "driver"])
    row = table.loc[("y24", "assumption")]
    assert (row["p_hit_minus_1sd"], row["p_hit_plus_1sd"]) == (0.0, 1.0)
    gap = table.loc[("y25", "assumption")]  # 100 · e^(0.15 · (−1)) = 86 < 95 ≤ 100 · e^0 = 100
    assert (gap["p_hit_minus_1sd"], gap["p_hit_plus_1sd"]) == (0.0, 1.0)
    assert gap["p_hit"] == pytest.approx(np.mean(100 * np.exp(0.15 * f) >= 95))
