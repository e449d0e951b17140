"""benchmarks/cumulative_stocks.py: its simulated truth and its scores, by hand."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def bench(load_benchmark):
    return load_benchmark("cumulative_stocks")


@pytest.mark.parametrize("process", ["steady", "trending", "slowing"])
def test_simulated_stocks_are_running_totals(bench, process):
    rng = np.random.default_rng(0)
    for n_years in bench.LENGTHS:
        stock = bench.simulate(process, n_years, rng)
        assert len(stock) == n_years + bench.HORIZON
        assert (np.diff(stock) >= 0).all() and (stock == np.round(stock)).all()


def test_scores_by_hand(bench):
    """Two stocks observed 10, 12, 14, 16 (mean addition 2); truths three years ahead 22 and
    30. Samples of four draws each: CRPS, coverage and Brier worked out by hand."""
    stocks = np.array([[10, 12, 14, 16, 18, 20, 22], [10, 12, 14, 16, 20, 25, 30]])
    exact = bench.scores(np.array([[22.0] * 4, [30.0] * 4]), stocks, 4)
    assert exact["crps_per_addition"] == 0.0 and exact["cov80"] == exact["cov95"] == 1.0
    assert exact["brier"] == 0.0  # events "≥ 16 + k·6" for k = ½, 1, 1½: 19, 22, 25 — all known
    samples = np.array([[20.0, 20.0, 24.0, 24.0], [20.0, 20.0, 24.0, 24.0]])
    s = bench.scores(samples, stocks, 4)
    # E|X − y| − ½E|X − X'|: series 1: 2 − ½·2 = 1; series 2: 8 − 1 = 7; per addition 2
    assert s["crps_per_addition"] == pytest.approx((1 / 2 + 7 / 2) / 2)
    assert s["cov80"] == s["cov95"] == 0.5  # 22 inside 20–24, 30 outside
    # P(≥19, ≥22, ≥25) = 1, ½, 0 for both; outcomes series 1: 1, 1, 0; series 2: 1, 1, 1
    assert s["brier"] == pytest.approx(np.mean([0, 0.25, 0, 0, 0.25, 1]))


def test_the_gap_variant_leaves_out_the_second_to_last_year(bench):
    stocks = np.array([[2, 7, 9, 11, 14, 16, 18]])
    full = bench.table(stocks, 4, "smart_factories")
    gap = bench.table(stocks, 4, "smart_factories", gap=True)
    assert full["year"].tolist() == [2020, 2021, 2022, 2023]
    assert gap["year"].tolist() == [2020, 2021, 2023]  # the park's smart factories' years
    assert gap["value"].tolist() == [2.0, 7.0, 11.0]
