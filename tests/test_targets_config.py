"""Targets as configuration: the seven defaults, user files, clear config errors."""

from __future__ import annotations

import numpy as np
import pytest

from jqforecast import targets
from jqforecast.targets import Expression, ExpressionError, TargetConfigError


def test_seven_default_targets():
    ts = targets.load()
    assert list(ts) == [
        "leading_revenue",
        "unicorns_champions",
        "rd_intensity",
        "pct_filings",
        "incubator",
        "smart_factories",
        "new_space",
    ]
    rev = ts["leading_revenue"]
    assert rev.series == ("revenue/ic", "revenue/biomed", "revenue/ai")
    assert (rev.comparator, rev.threshold, rev.unit, rev.firmness) == (">=", 3000, "亿元", "力争")
    assert ts["rd_intensity"].threshold == pytest.approx(0.055)
    assert ts["new_space"].comparator == ">" and ts["new_space"].measure.years == (2025, 2026)
    assert not ts["incubator"].modelled and ts["incubator"].elicited.probability is None
    assert all(t.year == 2026 for t in ts.values())


def test_comparators_strict_and_not():
    ts = targets.load()
    x = np.array([599.0, 600.0, 601.0])
    assert ts["pct_filings"].hit(x).tolist() == [False, True, True]
    assert ts["new_space"].hit(np.array([200.0, 200.01])).tolist() == [False, True]


def test_user_file_adds_and_overrides(tmp_path):
    f = tmp_path / "mine.yaml"
    f.write_text(
        "targets:\n"
        "  - id: pct_filings\n    measure: pct_filings.park_total[2026]\n"
        "    comparator: '>='\n    threshold: 700\n    unit: 件\n"
        "  - id: ai_revenue\n    measure: revenue.ai[2026]\n    comparator: '>='\n"
        "    threshold: 50\n    unit: bn yuan\n    firmness: 力争\n",
        encoding="utf-8",
    )
    ts = targets.load(f)
    assert len(ts) == 8
    assert ts["pct_filings"].threshold == 700
    assert ts["ai_revenue"].threshold == pytest.approx(500.0)  # 50 bn yuan = 500 亿元
    assert list(targets.load(f, include_default=False)) == ["pct_filings", "ai_revenue"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("measure: __import__('os').system('x')", "only series references"),
        ("measure: revenue.steel[2026]", "unknown industry"),
        ("measure: exports.ic[2026]", "unknown metric"),
        ("measure: revenue.ic", "only series references"),
    ],
)
def test_bad_measures_are_rejected(tmp_path, body, message):
    f = tmp_path / "bad.yaml"
    f.write_text(
        f"targets:\n  - id: x\n    {body}\n    comparator: '>='\n    threshold: 1\n"
        "    unit: 亿元\n",
        encoding="utf-8",
    )
    with pytest.raises(TargetConfigError, match=message) as info:
        targets.load(f, include_default=False)
    assert "bad.yaml" in str(info.value) and "'x'" in str(info.value)


def test_other_config_errors(tmp_path):
    f = tmp_path / "bad.yaml"
    base = "targets:\n  - id: x\n    measure: revenue.ic[2026]\n    threshold: 1\n"
    for extra, message in [
        ("    comparator: '=='\n    unit: 亿元\n", "comparator"),
        ("    comparator: '>='\n    unit: 件\n", "cannot be converted"),
        ("    comparator: '>='\n    unit: 亿元\n    firmness: 超过\n", "needs"),
        ("    comparator: '>='\n", "missing field 'unit'"),
    ]:
        f.write_text(base + extra, encoding="utf-8")
        with pytest.raises(TargetConfigError, match=message):
            targets.load(f, include_default=False)


def test_expression_evaluates_draw_by_draw():
    e = Expression.parse("rd_spend.park_total[2026] / revenue.park_total[2026] * 100")
    draws = {"rd_spend": np.array([5.0, 6.0]), "revenue": np.array([100.0, 100.0])}
    assert e.evaluate(lambda t: draws[t.metric]).tolist() == [5.0, 6.0]
    with pytest.raises(ExpressionError):
        Expression.parse("revenue.ic[2026] ** 2")
