"""Property: any valid table survives save and load unchanged (CSV and Parquet)."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jqforecast
from jqforecast.data.schema import coerce_dtypes

text = (
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zl", "Zp")),
        min_size=1,
        max_size=20,
    )
    .map(str.strip)
    .filter(
        lambda s: (
            s
            and s.casefold() not in {"nan", "na", "n/a", "none", "null"}
            and s not in {"-", "—", "–", "--", "…", "..."}
        )
    )
)

SPECS = {
    "revenue": ("ic", st.floats(0.01, 1e5, allow_nan=False), "亿元"),
    "pct_filings": ("park_total", st.integers(0, 10_000).map(float), "件"),
    "rd_intensity": ("park_total", st.floats(0.0, 1.0, allow_nan=False), "ratio"),
    "new_space": ("park_total", st.floats(0.0, 500.0, allow_nan=False), "万平方米"),
}


@st.composite
def tables(draw):
    rows = []
    for metric in draw(
        st.lists(st.sampled_from(sorted(SPECS)), min_size=1, max_size=4, unique=True)
    ):
        industry, values, unit = SPECS[metric]
        years = draw(st.lists(st.integers(2000, 2024), min_size=1, max_size=6, unique=True))
        for year in years:
            rows.append(
                {
                    "metric": metric,
                    "industry": industry,
                    "year": year,
                    "value": draw(values),
                    "unit": unit,
                    "status": draw(st.sampled_from(["official", "estimate", "derived"])),
                    "source": draw(text),
                    "note": draw(st.none() | text),
                }
            )
    return coerce_dtypes(pd.DataFrame(rows)).sort_values(
        ["metric", "industry", "year"], ignore_index=True
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(table=tables())
def test_csv_and_parquet_roundtrip(tmp_path, table):
    csv_path = tmp_path / "t.csv"
    table.to_csv(csv_path, index=False, float_format="%.17g")
    loaded = jqforecast.load(csv_path, warn=False)
    pd.testing.assert_frame_equal(loaded, table, check_exact=False, rtol=1e-15)

    pq = tmp_path / "t.parquet"
    loaded.to_parquet(pq, index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(pq), loaded)
