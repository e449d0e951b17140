"""Target evaluation: known-answer probabilities, comparators, growth formula, no-data rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy import stats

from jqforecast import evaluate_targets
from jqforecast.result import Forecast
from jqforecast.targets import load
from jqforecast.targets.evaluate import _cagr, member_spread, verdict


def _forecast(columns: dict[str, np.ndarray], years=(2025, 2026), history=None) -> Forecast:
    """A Forecast whose paths for each series are the given draws in every year."""
    ids = list(columns)
    n = len(next(iter(columns.values())))
    values = np.stack([np.repeat(columns[s][:, None], len(years), axis=1) for s in ids], axis=1)
    paths = xr.DataArray(
        values,
        dims=("draw", "series", "year"),
        coords={"draw": np.arange(n), "series": ids, "year": list(years)},
    )
    hist = (
        history
        if history is not None
        else pd.DataFrame(columns=["metric", "industry", "year", "value"])
    )
    return Forecast(paths, hist, {"seed": 0})


def test_lognormal_sum_probability_within_mc_error():
    rng = np.random.default_rng(0)
    n = 200_000
    draws = {
        f"revenue/{i}": rng.lognormal(np.log(m), 0.2, n)
        for i, m in (("ic", 1000), ("biomed", 1200), ("ai", 500))
    }
    # large-sample reference from an independent simulation of the same distribution
    ref_rng = np.random.default_rng(99)
    ref = sum(ref_rng.lognormal(np.log(m), 0.2, 2_000_000) for m in (1000, 1200, 500))
    p_ref = float((ref >= 3000).mean())
    row = evaluate_targets(_forecast(draws)).table.set_index("id").loc["leading_revenue"]
    assert abs(row["p_hit"] - p_ref) < 3 * row["p_hit_mcse"] + 1e-3
    assert row["p_hit_mcse"] == pytest.approx(np.sqrt(p_ref * (1 - p_ref) / n), rel=0.05)


def test_normal_ratio_probability_and_shortfall():
    rng = np.random.default_rng(1)
    n = 100_000
    x = rng.normal(0.05, 0.01, n)
    row = evaluate_targets(_forecast({"rd_intensity/park_total": x})).table.set_index("id")
    r = row.loc["rd_intensity"]
    p = 1 - stats.norm.cdf(0.055, 0.05, 0.01)
    assert abs(r["p_hit"] - p) < 4 * r["p_hit_mcse"]
    # E[max(0, T - X)] for normal X: (T-μ)Φ(z) + σφ(z), z = (T-μ)/σ
    z = 0.5
    es = 0.005 * stats.norm.cdf(z) + 0.01 * stats.norm.pdf(z)
    assert r["expected_shortfall"] == pytest.approx(es, rel=0.02)


def test_strict_and_non_strict_comparators_on_atoms():
    x = np.array([200.0] * 50 + [100.0] * 50)  # half the draws exactly at 200 per year
    table = evaluate_targets(
        _forecast({"new_space/park_total": x / 2, "pct_filings/park_total": x * 3})
    ).table.set_index("id")
    assert table.loc["new_space", "p_hit"] == 0.0  # 100 + 100 = 200 is not > 200
    assert table.loc["pct_filings", "p_hit"] == 0.5  # 600 >= 600


def test_required_cagr_hand_computed():
    assert _cagr(3000, 2330.4681, 2) == pytest.approx((3000 / 2330.4681) ** 0.5 - 1)
    assert _cagr(121, 100, 2) == pytest.approx(0.10)
    hist = pd.DataFrame(
        {"metric": ["pct_filings"], "industry": ["park_total"], "year": [2024], "value": [500.0]}
    )
    fc = _forecast({"pct_filings/park_total": np.full(10, 550.0)}, history=hist)
    r = evaluate_targets(fc).table.set_index("id").loc["pct_filings"]
    assert r["base_year"] == 2024
    assert r["required_cagr"] == pytest.approx((600 / 500) ** 0.5 - 1)
    assert r["implied_cagr"] == pytest.approx((550 / 500) ** 0.5 - 1)


def test_no_data_and_elicited_rows_are_labelled():
    table = evaluate_targets(_forecast({"revenue/ic": np.ones(10)})).table.set_index("id")
    assert table.loc["unicorns_champions", "kind"] == "no data"
    assert np.isnan(table.loc["unicorns_champions", "p_hit"])
    assert table.loc["incubator", "kind"] == "elicited"
    assert table.loc["incubator", "verdict_en"] == "not assessed"
    assert len(table) == len(load())


def test_verdict_bands():
    assert verdict(0.7) == ("有望达成", "on track")
    assert verdict(0.69) == ("存在缺口", "at risk")
    assert verdict(0.29) == ("难以达成", "unlikely")


def test_joint_probability_and_correlation():
    rng = np.random.default_rng(2)
    common = rng.standard_normal(50_000)
    fc = _forecast(
        {
            "pct_filings/park_total": np.round(600 + 100 * common),
            "smart_factories/park_total": np.round(15 + 3 * common),
        }
    )
    report = evaluate_targets(fc)
    # the two outcomes move together, so P(both) = P(each) ≈ ½
    assert report.p_all == pytest.approx(report.hits["pct_filings"].mean(), abs=0.01)
    assert report.correlation().loc["pct_filings", "smart_factories"] > 0.99


def test_p_hit_interval_spans_member_disagreement():
    """Two members with known, different P(hit): the 90 % interval reaches both."""
    rng = np.random.default_rng(5)
    n = 40_000
    x = np.concatenate([rng.normal(0.05, 0.01, n // 2), rng.normal(0.06, 0.01, n // 2)])
    fc = _forecast({"rd_intensity/park_total": x})
    labels = np.repeat(["ets", "theta"], n // 2)[:, None]
    fc.members = xr.DataArray(labels, dims=("draw", "series"), coords={"series": fc.series})
    report = evaluate_targets(fc)
    r = report.table.set_index("id").loc["rd_intensity"]
    p_ets, p_theta = 1 - stats.norm.cdf(0.055, [0.05, 0.06], 0.01)
    by = report.by_member.set_index("member")
    assert abs(by.loc["ets", "p_hit"] - p_ets) < 4 * by.loc["ets", "p_hit_mcse"]
    assert abs(by.loc["theta", "p_hit"] - p_theta) < 4 * by.loc["theta", "p_hit_mcse"]
    assert by["weight"].tolist() == [0.5, 0.5]
    assert r["p_hit_lo"] < by.loc["ets", "p_hit"] < r["p_hit"]
    assert r["p_hit"] < by.loc["theta", "p_hit"] < r["p_hit_hi"]
    assert r["p_hit_hi"] - r["p_hit_lo"] < (p_theta - p_ets) + 0.05


def test_p_hit_interval_without_members_is_monte_carlo_only():
    x = np.random.default_rng(6).normal(0.05, 0.01, 10_000)
    r = evaluate_targets(_forecast({"rd_intensity/park_total": x})).table.set_index("id")
    r = r.loc["rd_intensity"]
    half = 1.645 * r["p_hit_mcse"]
    assert r["p_hit_lo"] == pytest.approx(r["p_hit"] - half, abs=1e-3)
    assert r["p_hit_hi"] == pytest.approx(r["p_hit"] + half, abs=1e-3)


def test_minor_member_does_not_stretch_the_interval():
    """A member with 2 % of the draws lies outside a 90 % interval's reach."""
    hit = np.r_[np.ones(200, bool), np.zeros(9800, bool)]
    hit[200 : 200 + 4900] = True  # main member: P = 0.5
    members = np.r_[np.full(200, "odd"), np.full(9800, "main")]
    lo, hi, table = member_spread(hit, members)
    assert table.set_index("member").loc["odd", "p_hit"] == 1.0
    assert hi < 0.55


def _observed(columns: dict[str, np.ndarray], last: int, status: str = "official") -> Forecast:
    """Draws for 2025–2026 with the series observed up to ``last``, the last as ``status``."""
    history = pd.DataFrame(
        [
            {"metric": s.split("/")[0], "industry": s.split("/")[1], "year": last, "value": 1.0}
            | {"status": status}
            for s in columns
        ]
    )
    fc = _forecast(columns, history=history)
    fc.meta["last_observed"] = dict.fromkeys(columns, last)
    return fc


@pytest.mark.parametrize(
    ("value", "verdicts"), [(650.0, ("已达成", "achieved")), (550.0, ("未达成", "missed"))]
)
def test_a_target_year_observed_exactly_is_achieved_or_missed(value, verdicts):
    """An official 2026 figure (the same value in every draw) is data: P(hit) 1 or 0 and the
    verdict says it happened, not that it is likely."""
    row = evaluate_targets(_observed({"pct_filings/park_total": np.full(500, value)}, 2026))
    r = row.table.set_index("id").loc["pct_filings"]
    assert r["p_hit"] == float(value >= 600)
    assert (r["verdict_zh"], r["verdict_en"]) == verdicts
    assert r["note"] == "observed (2026)"


def test_an_observed_but_derived_target_year_keeps_its_probability():
    """A derived 2026 figure still spreads over the draws (its derivation's uncertainty): the
    verdict is the probability band's, and the note says what the probability allows for."""
    x = np.random.default_rng(0).lognormal(np.log(650), 0.3, 2000)
    r = evaluate_targets(_observed({"pct_filings/park_total": x}, 2026, "derived")).table
    r = r.set_index("id").loc["pct_filings"]
    assert 0.5 < r["p_hit"] < 1.0
    assert r["verdict_en"] == verdict(r["p_hit"])[1]
    assert r["note"] == (
        "observed (2026): estimated or derived; P(hit) allows for the figures' own error and "
        "the shared derivation error"
    )


def test_an_observed_estimate_is_not_taken_as_the_true_value():
    """A preliminary 2026 estimate of 650 (rel_sd 0.1 on the log(c + ½) scale) against a
    threshold of 600: the true value is drawn around the estimate, P(hit) ≈
    Φ(log(650.5 / 600.5) / 0.1) ≈ 0.79 (not 1), an official 650 is achieved outright."""
    fc = _observed({"pct_filings/park_total": np.full(20_000, 650.0)}, 2026, "estimate")
    fc.history["rel_sd"] = 0.1
    r = evaluate_targets(fc).table.set_index("id").loc["pct_filings"]
    expected = stats.norm.cdf(np.log(650.5 / 599.5) / 0.1)  # P(count ≥ 600) after rounding
    assert r["p_hit"] == pytest.approx(expected, abs=4 * r["p_hit_mcse"])
    assert r["verdict_en"] == "on track" and r["median"] == pytest.approx(650, abs=2)
    official = _observed({"pct_filings/park_total": np.full(50, 650.0)}, 2026)
    assert evaluate_targets(official).table.set_index("id").loc["pct_filings", "p_hit"] == 1.0
    # a history without statuses (a hand-made Forecast): nothing counts as official
    fc = _forecast({"pct_filings/park_total": np.full(50, 650.0)})
    fc.meta["last_observed"] = {"pct_filings/park_total": 2026}
    r = evaluate_targets(fc).table.set_index("id").loc["pct_filings"]
    assert r["verdict_en"] == "on track" and "estimated or derived" in r["note"]
    x = np.random.default_rng(0).lognormal(np.log(650), 0.3, 2000)
    # not yet observed: no note
    r = evaluate_targets(_observed({"pct_filings/park_total": x}, 2025)).table
    assert r.set_index("id").loc["pct_filings", "note"] == ""
