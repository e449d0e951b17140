"""benchmarks/firm_stocks.py: its simulated truth and its scores, by hand."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def bench(load_benchmark):
    return load_benchmark("firm_stocks")


@pytest.mark.parametrize("process", ["steady", "growing"])
def test_simulated_stocks_are_whole_and_can_fall(bench, process):
    """Stocks of firms are whole, non-negative counts that move by entries and exits, so
    (unlike a running total) some fall from one year to the next."""
    rng = np.random.default_rng(0)
    stocks = [bench.simulate(process, 8, rng) for _ in range(200)]
    assert all(len(s) == 8 + bench.HORIZON for s in stocks)
    assert all((s >= 0).all() and (s == np.round(s)).all() for s in stocks)
    assert any((np.diff(s) < 0).any() for s in stocks)


def test_growing_entry_raises_the_stock(bench):
    rng = np.random.default_rng(1)
    steady = np.mean([bench.simulate("steady", 8, rng)[-1] for _ in range(400)])
    growing = np.mean([bench.simulate("growing", 8, rng)[-1] for _ in range(400)])
    assert growing > steady


def test_scores_by_hand(bench):
    """Two stocks, last observed 4 (year 4) and 10; three years later 6 and 9. Four draws each:
    CRPS per firm, coverage and the Brier score of "≥ k × last" (k = 1, 1¼, 1½) by hand."""
    stocks = np.array([[3, 3, 4, 4, 5, 5, 6], [8, 9, 9, 10, 10, 9, 9]])
    samples = np.array([[5.0, 5.0, 7.0, 7.0], [9.0, 9.0, 9.0, 9.0]])
    s = bench.scores(samples, stocks, 4)
    # series 1: E|X − 6| = 1, ½E|X − X'| = ½·1 → 0.5 over 4 firms; series 2: exact → 0
    assert s["crps_per_firm"] == pytest.approx((0.5 / 4 + 0.0) / 2)
    assert s["cov80"] == s["cov95"] == 1.0  # 6 inside 5–7; 9 on the point mass
    # bars: series 1 ≥ 4, 5, 6 → P 1, 1, ½ (truth 6: 1, 1, 1); series 2 ≥ 10, 13, 15 → P 0
    # (truth 9: 0, 0, 0)
    assert s["brier"] == pytest.approx(np.mean([0, 0, 0.25, 0, 0, 0]))
