"""Interim checkpoints: known answers on simulated joint draws, and the bundled run."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import norm

import jqforecast
from jqforecast.result import Forecast
from jqforecast.targets import load
from jqforecast.targets.checkpoints import checkpoints
from jqforecast.targets.evaluate import measured_in


def _forecast(x25: np.ndarray, x26: np.ndarray, status: str = "derived") -> Forecast:
    paths = xr.DataArray(
        np.stack([x25, x26], axis=1)[:, None, :],
        dims=("draw", "series", "year"),
        coords={"draw": range(len(x25)), "series": ["revenue/ic"], "year": [2025, 2026]},
    )
    history = pd.DataFrame(
        {"metric": ["revenue"], "industry": ["ic"], "year": [2024], "value": [1.0],
         "status": [status]}
    )  # fmt: skip
    return Forecast(paths, history, {"last_observed": {"revenue/ic": 2024}})


@pytest.fixture
def one_target(tmp_path):
    spec = tmp_path / "t.yaml"
    spec.write_text(
        "targets:\n  - {id: ic, label_zh: 集成电路, label_en: IC, measure: 'revenue.ic[2026]',"
        " comparator: '>=', threshold: 1.0, unit: 亿元}\n",
        encoding="utf-8",
    )
    return load(spec, include_default=False)


def test_checkpoints_of_a_known_joint_distribution(one_target):
    """log x25 ~ N(0, 1), log x26 = log x25 + N(0, 0.5²), target x26 ≥ 1: P(hit | x25) =
    Φ(log x25 / 0.5), so P(hit) is ½ at x25 = 1 and 0.8 at x25 = exp(0.5 Φ⁻¹(0.8)) = 1.52;
    the logistic fit recovers both (a probit curve, within 0.05 on logs)."""
    rng = np.random.default_rng(1)
    z = rng.standard_normal(20000)
    x25, x26 = np.exp(z), np.exp(z + 0.5 * rng.standard_normal(20000))
    table = checkpoints(_forecast(x25, x26), one_target).set_index("level")
    assert np.log(table.loc[0.5, "value"]) == pytest.approx(0.0, abs=0.05)
    assert np.log(table.loc[0.8, "value"]) == pytest.approx(0.5 * norm.ppf(0.8), abs=0.05)
    assert table.loc[0.8, "direction"] == ">="
    # the forecast's chance of reaching the checkpoint: P(log x25 ≥ 0.42) = 0.34
    assert table.loc[0.8, "p_reach"] == pytest.approx(np.mean(x25 >= table.loc[0.8, "value"]))
    assert table.loc[0.8, "p_reach"] == pytest.approx(1 - norm.cdf(0.5 * norm.ppf(0.8)), abs=0.03)
    assert table["p_hit"].iloc[0] == pytest.approx(np.mean(x26 >= 1))


def test_a_target_that_falls_with_the_value_has_an_upper_checkpoint(one_target):
    rng = np.random.default_rng(2)
    z = rng.standard_normal(5000)
    x25, x26 = np.exp(z), np.exp(-z + 0.5 * rng.standard_normal(5000))
    row = checkpoints(_forecast(x25, x26), one_target, levels=[0.8]).iloc[0]
    assert row["direction"] == "<=" and np.log(row["value"]) == pytest.approx(-0.42, abs=0.06)


def test_no_checkpoint_when_hits_do_not_depend_on_the_value_or_the_year_is_official(one_target):
    rng = np.random.default_rng(3)
    x25 = np.exp(rng.standard_normal(4000))
    x26 = np.exp(rng.standard_normal(4000))  # independent of 2025
    row = checkpoints(_forecast(x25, x26), one_target, levels=[0.5]).iloc[0]
    assert np.isnan(row["value"]) and "hardly depends" in row["note"]
    sure = checkpoints(_forecast(x25, x25 * 0 + 2.0), one_target, levels=[0.5]).iloc[0]
    assert "0 or 1" in sure["note"]
    # P(hit | x25) = Φ(0.3 log x25) stays below 0.9 for every draw: 99 % is not extrapolated
    weak = x25**0.3 * np.exp(rng.standard_normal(4000))
    rare = checkpoints(_forecast(x25, weak), one_target, levels=[0.99]).iloc[0]
    assert np.isnan(rare["value"]) and "beyond every draw" in rare["note"]
    official = _forecast(x25, x26, status="official")
    official.history.loc[0, "year"] = 2025
    official.meta["last_observed"] = {"revenue/ic": 2025}
    row = checkpoints(official, one_target, levels=[0.5]).iloc[0]
    assert np.isnan(row["value"]) and row["note"].startswith("observed (2025)")


def test_bundled_checkpoints_sit_where_the_draws_say():
    """On the bundled data (statistical members), among the draws whose 2025 revenue total
    is near the 80 % checkpoint, about 80 % hit the 2026 target."""
    fc = jqforecast.forecast(jqforecast.load_default(), draws=4000, seed=0, models="statistical")
    table = checkpoints(fc).set_index(["target", "level"])
    assert set(table.index.get_level_values(0)) == {
        "leading_revenue", "rd_intensity", "pct_filings", "smart_factories"
    }  # fmt: skip
    t = load()["leading_revenue"]
    x25 = measured_in(t, fc.values, 2025)
    hit = t.hit(jqforecast.targets.evaluate.measured(t, fc))
    mark = table.loc[("leading_revenue", 0.8), "value"]
    near = np.abs(np.log(x25 / mark)) < 0.05
    assert near.sum() > 100 and 0.65 < hit[near].mean() < 0.95
    assert (table["year"] == 2025).all()


def test_a_count_checkpoint_is_a_whole_number(one_target):
    rng = np.random.default_rng(4)
    x25 = rng.poisson(10, 6000).astype(float)
    x26 = x25 + rng.poisson(3, 6000)
    spec = one_target["ic"]
    from dataclasses import replace

    from jqforecast.targets import TargetSet

    ts = TargetSet({"ic": replace(spec, threshold=14.0)})
    row = checkpoints(_forecast(x25, x26), ts, levels=[0.8]).iloc[0]
    assert row["value"] == np.round(row["value"]) and row["direction"] == ">="
    assert row["p_reach"] == pytest.approx(np.mean(x25 >= row["value"]))
    # P(x25 + Poisson(3) ≥ 14 | x25 = v) ≥ 0.8 first at v = 12 (P 0.80), 11 gives 0.58
    assert row["value"] in (11.0, 12.0, 13.0)
