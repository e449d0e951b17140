"""Validation: every error case names file, row and column; warnings for weak data."""

from __future__ import annotations

import datetime as dt
import warnings

import pandas as pd
import pytest

import jqforecast
from jqforecast.data.errors import DataWarning, ValidationError
from jqforecast.data.validate import validate

GOOD = "revenue,ic,2021,100,亿元,official,src,"


def problems_for(write_csv, rows):
    path = write_csv(rows)
    with pytest.raises(ValidationError) as info:
        jqforecast.load(path, warn=False)
    return path, info.value.problems


@pytest.mark.parametrize(
    ("bad_row", "column", "expected_fragment"),
    [
        ("revenue,ic,2022,abc,亿元,official,src,", "value", "a number"),
        ("revenue,ic,2022,,亿元,official,src,", "value", "empty"),
        ("revenue,ic,2022,-5,亿元,official,src,", "value", "positive level"),
        ("pct_filings,park_total,2022,-1,件,official,src,", "value", "non-negative"),
        ("pct_filings,park_total,2022,10.5,件,official,src,", "value", "whole number"),
        ("rd_intensity,park_total,2022,1.7,ratio,official,src,", "value", "[0, 1]"),
        ("rd_intensity,park_total,2022,170,%,official,src,", "value", "[0, 1]"),
        ("revenue,ic,2099,5,亿元,official,src,", "year", "past or current"),
        ("revenue,ic,twenty,5,亿元,official,src,", "year", "four-digit year"),
        ("revenue,ic,2022,5,吨,official,src,", "unit", "known unit"),
        ("revenue,ic,2022,5,件,official,src,", "unit", "convertible to 亿元"),
        ("revenue,ic,2022,5,亿元,official,,", "source", "citation"),
        ("revenue,ic,2022,5,亿元,,src,", "status", "official | estimate | derived"),
        ("revenue,ic,2022,5,亿元,rumour,src,", "status", "official | estimate | derived"),
        ("exports,ic,2022,5,亿元,official,src,", "metric", "registered metric"),
        ("revenue,steel,2022,5,亿元,official,src,", "industry", "registered industry"),
    ],
)
def test_each_error_names_row_and_column(write_csv, bad_row, column, expected_fragment):
    path, problems = problems_for(write_csv, [GOOD, bad_row])
    assert len(problems) == 1, problems
    (p,) = problems
    assert p.file == path
    assert p.row == 3  # header is line 1, GOOD line 2
    assert p.column == column
    assert expected_fragment in p.expected
    assert path in str(p) and "row 3" in str(p)


def test_duplicates_are_reported_on_every_row(write_csv):
    _, problems = problems_for(write_csv, [GOOD, GOOD.replace("100", "101")])
    assert {p.row for p in problems} == {2, 3}
    assert all(p.column == "metric, industry, year" for p in problems)


def test_all_problems_are_listed_at_once(write_csv):
    rows = [GOOD, "revenue,ic,2022,abc,亿元,official,src,", "revenue,ai,2022,-1,亿元,official,,"]
    _, problems = problems_for(write_csv, rows)
    assert [(p.row, p.column) for p in problems] == [(3, "value"), (4, "source"), (4, "value")]


def test_missing_column_is_reported(write_csv):
    path = write_csv(
        ["revenue,ic,2022,5,亿元,official"], header="metric,industry,year,value,unit,status"
    )
    with pytest.raises(ValidationError, match="'source'"):
        jqforecast.load(path)


def test_future_year_relative_to_today():
    df = pd.DataFrame(
        {
            "metric": ["revenue"],
            "industry": ["ic"],
            "year": [2024],
            "value": [1.0],
            "unit": ["亿元"],
            "status": ["official"],
            "source": ["s"],
            "note": [None],
        }
    )
    validate(df, today=dt.date(2024, 6, 1), warn=False)
    with pytest.raises(ValidationError, match="past or current"):
        validate(df, today=dt.date(2023, 6, 1), warn=False)


def test_warnings_for_gaps_and_short_series(write_csv):
    rows = ["revenue,ic,2019,1,亿元,official,s,", "revenue,ic,2022,2,亿元,official,s,"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jqforecast.load(write_csv(rows))
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    assert any("missing years [2020, 2021]" in m for m in messages)
    assert any("only 2 point(s)" in m for m in messages)


def test_a_falling_cumulative_total_is_flagged_and_a_falling_ordinary_count_is_not(write_csv):
    rows = [
        f"{metric},park_total,{year},{value},家,official,s,"
        for metric in ("smart_factories", "unicorns_champions")
        for year, value in ((2020, 5), (2021, 9), (2022, 8), (2023, 12), (2024, 11))
    ]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        jqforecast.load(write_csv(rows))
    messages = [str(w.message) for w in caught if issubclass(w.category, DataWarning)]
    falls = [m for m in messages if "cumulative total falls" in m]
    assert falls == [
        "series smart_factories/park_total: a cumulative total falls (2021 9 → 2022 8; "
        "2023 12 → 2024 11); check the figures (its forecast never falls below the last one)"
    ]


def test_a_cumulative_metric_must_be_a_stock():
    from jqforecast.data.metrics import Kind, Metric

    with pytest.raises(ValueError, match="'sites': a cumulative metric is a stock"):
        Metric("sites", "家", Kind.COUNT, "基地", "Sites", cumulative=True)


def test_validation_error_to_frame(write_csv):
    _, problems = problems_for(write_csv, [GOOD, "revenue,ic,2022,abc,亿元,official,src,"])
    table = ValidationError(problems).to_frame()
    assert list(table.columns) == ["file", "row", "column", "value", "expected"]
