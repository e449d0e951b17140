"""Quantile recalibration from PIT values: known answers, rank preservation, round trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.special import ndtr as norm_cdf

from jqforecast.models.calibration import (
    LEVELS,
    PITCalibration,
    mixture_pit,
    remap_levels,
    stable_order,
)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(arrays(float, st.tuples(st.integers(2, 60), st.integers(1, 3)), elements=finite))
def test_identity_map_changes_nothing(x):
    np.testing.assert_allclose(remap_levels(x, LEVELS), x, rtol=0, atol=1e-9 * (1 + abs(x).max()))


@settings(max_examples=60, deadline=None)
@given(
    arrays(float, st.tuples(st.integers(2, 80), st.integers(1, 3)), elements=finite),
    arrays(float, 101, elements=st.floats(0, 1)),
)
def test_any_map_keeps_every_draws_rank_and_the_sample_range(x, raw):
    q = np.sort(raw)  # any non-decreasing level map
    y = remap_levels(x, q)
    for j in range(x.shape[1]):
        a, b = x[:, j], y[:, j]
        order = np.argsort(a, kind="stable")
        assert (np.diff(b[order]) >= -1e-9 * (1 + abs(a).max())).all()  # ranks kept
        assert b.min() >= a.min() - 1e-9 and b.max() <= a.max() + 1e-9


# few distinct values, so that most rows have ties; NaN, +0.0 and -0.0 among them
tie_prone = st.sampled_from([-1.5, -0.0, 0.0, 0.25, 2.0, np.nan]) | finite


@settings(max_examples=100, deadline=None)
@given(arrays(float, st.tuples(st.integers(1, 5), st.integers(1, 40)), elements=tie_prone))
def test_stable_order_is_numpys_stable_sort(x):
    """The quicksort-and-mend order equals NumPy's stable argsort, ties and NaN included,
    and the sorted values are the stable sort's bit for bit (the sign of zeros too)."""
    order, xs = stable_order(x)
    expected = np.argsort(x, axis=-1, kind="stable")
    np.testing.assert_array_equal(order, expected)
    want = np.take_along_axis(x, expected, axis=-1)
    np.testing.assert_array_equal(xs, want)
    np.testing.assert_array_equal(np.signbit(xs), np.signbit(want))


def test_remap_levels_of_tied_draws_follows_their_positions():
    """Tied draws are ranked by position. By hand: levels τ = 0.1 … 0.9 move to Q(τ) =
    0.3, 0.5, 0.7, 0.9, 1 (every level up 0.2), positions Q·5 − ½ = 1, 2, 3, 4, 4 (clipped)
    in the sorted sample 1, 1, 1, 2, 3; the three tied 1s have ranks 0, 1, 2 in the order
    they appear, so only the last of them moves, to 2."""
    x = np.array([3.0, 1.0, 1.0, 1.0, 2.0])
    y = remap_levels(x, np.clip(LEVELS + 0.2, 0, 1))
    np.testing.assert_allclose(y, [3.0, 1.0, 1.0, 2.0, 3.0])


def _calibrate(forecast_sd, bias=0.0, n=5000, shrink=0):
    rng = np.random.default_rng(1)
    truth = rng.standard_normal(n)
    pits = norm_cdf((truth - bias) / forecast_sd)
    return PITCalibration.fit(pits, np.ones(n, int), shrink=shrink)


@pytest.mark.parametrize("forecast_sd", [0.5, 2.0])
def test_too_narrow_or_too_wide_intervals_get_nominal_coverage(forecast_sd):
    """Forecasts N(0, sd²) for outcomes N(0, 1): after recalibration new outcomes fall in
    the 80 %/95 % intervals at the nominal rates (±1.5 points; 4000 new outcomes)."""
    cal = _calibrate(forecast_sd)
    rng = np.random.default_rng(2)
    draws = forecast_sd * rng.standard_normal((40000, 1))
    new = cal.apply(draws, steps=[1])
    truth = rng.standard_normal(4000)
    for level in (80, 95):
        lo, hi = np.quantile(new, [(1 - level / 100) / 2, (1 + level / 100) / 2])
        covered = np.mean((truth >= lo) & (truth <= hi))
        assert abs(covered - level / 100) < 0.015, (forecast_sd, level, covered)
    # what the uncalibrated 80 % interval covered: analytic P(|Z| ≤ 1.2816·sd)
    expected = 2 * norm_cdf(1.2816 * forecast_sd) - 1
    stored = cal.to_dict()["backtest_coverage"]["1"]["80"]
    assert stored == pytest.approx(expected, abs=0.02)


def test_bias_is_removed():
    cal = _calibrate(1.0, bias=0.5)
    draws = 0.5 + np.random.default_rng(3).standard_normal((40000, 1))
    assert np.median(cal.apply(draws, steps=[1])) == pytest.approx(0.0, abs=0.05)


def test_few_cases_move_the_map_little_and_steps_are_separate():
    rng = np.random.default_rng(4)
    pits = np.concatenate([np.full(5, 0.5), np.full(2000, 0.5) + 0.1 * rng.standard_normal(2000)])
    steps = np.array([1] * 5 + [2] * 2000)
    cal = PITCalibration.fit(np.clip(pits, 0, 1), steps)
    assert np.abs(cal.level_map(1) - LEVELS).max() < 0.03  # 5 cases vs 100 of prior
    assert np.abs(cal.level_map(2) - LEVELS).max() > 0.25
    np.testing.assert_array_equal(cal.level_map(7), cal.level_map(2))  # beyond: the last step
    x = rng.standard_normal((100, 3))
    out = cal.apply(x, steps=[0, 1, 2])
    np.testing.assert_array_equal(out[:, 0], x[:, 0])  # observed year untouched


def test_round_trip_and_identity():
    cal = _calibrate(2.0, shrink=100)
    back = PITCalibration.from_dict(cal.to_dict())
    for s in cal.maps:
        np.testing.assert_allclose(back.level_map(s), cal.level_map(s), atol=1e-5)
    assert back.cases == cal.cases
    assert PITCalibration.from_dict(None).is_identity
    x = np.random.default_rng(5).standard_normal((50, 2))
    np.testing.assert_array_equal(PITCalibration().apply(x, [1, 2]), x)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        PITCalibration.fit(np.array([0.2, 1.5]), np.array([1, 1]))
    with pytest.raises(ValueError, match="shape"):
        PITCalibration.fit(np.array([0.2]), np.array([1, 1]))


def test_mixture_pit_known_answer():
    samples = np.array([[0.0, 1.0, 2.0, 3.0], [10.0, 11.0, 12.0, 13.0]])
    # member 1: 2 below, 1 tie → 2.5/4; member 2: none below → 0
    assert mixture_pit(samples, np.array([0.5, 0.5]), 2.0) == pytest.approx(0.5 * 2.5 / 4)


def test_steps_are_recalibrated_only_where_backtests_reject_nominal_coverage():
    """Calibrated PITs (uniform) leave the step's map the identity in most draws (two
    binomial tests at 5 %: the family-wise rate is 5–10 %); too-wide forecasts (sd 2 for
    N(0, 1) outcomes, 300 cases: 80 % intervals cover ~99 %) are always recalibrated."""
    rng = np.random.default_rng(8)
    applied = [
        PITCalibration.fit(rng.uniform(size=300), np.ones(300, int)).applied[1] for _ in range(400)
    ]
    assert 0.02 < np.mean(applied) < 0.12
    calm = PITCalibration.fit(rng.uniform(size=300), np.ones(300, int), significance=1e-9)
    assert calm.is_identity and calm.applied == {1: False}
    assert PITCalibration.from_dict(calm.to_dict()).is_identity  # stored, still the identity
    np.testing.assert_array_equal(calm.apply(np.arange(6.0)[:, None], [1]), np.arange(6.0)[:, None])
    wide = PITCalibration.fit(norm_cdf(rng.standard_normal(300) / 2), np.ones(300, int))
    assert wide.applied == {1: True} and not wide.is_identity
    assert wide.coverage[1]["80"] > 0.95
    back = PITCalibration.from_dict(wide.to_dict())
    assert back.applied == wide.applied and back.coverage == wide.coverage
    everything = PITCalibration.fit(rng.uniform(size=300), np.ones(300, int), significance=None)
    assert everything.applied == {1: True} and not everything.is_identity
