"""The one definition of the tidy observation table (a pandera schema).

Every piece of jqforecast reads and writes this long table::

    metric, industry, year, value, unit, status, source, note,
    rel_sd, assumption, orig_value, orig_unit

``value`` is always in the metric's canonical unit (see :mod:`jqforecast.data.metrics`);
``orig_value``/``orig_unit`` record what was received before conversion. ``rel_sd`` is the
relative (log-scale) standard error of a value that is not an official statistic, and
``assumption`` names the derivation assumption it depends on: points that share an assumption
(e.g. one assumed park share of a Pudong figure) share its error, which the forecast engine
carries into the sample paths as one common factor.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pandera.pandas as pa

from jqforecast.data.metrics import INDUSTRIES, METRICS, Kind

STATUSES: tuple[str, ...] = ("official", "estimate", "derived")

REQUIRED_COLUMNS: tuple[str, ...] = (
    "metric",
    "industry",
    "year",
    "value",
    "unit",
    "status",
    "source",
    "note",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("rel_sd", "assumption", "orig_value", "orig_unit")
COLUMNS: tuple[str, ...] = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
KEY: list[str] = ["metric", "industry", "year"]

# Default relative standard error by status when a row gives none: official statistics are
# taken as exact, news estimates and top-down derivations as noisy.
DEFAULT_REL_SD: dict[str, float] = {"official": 0.0, "estimate": 0.05, "derived": 0.10}


@dataclass(frozen=True)
class RowCheck:
    """A row-wise check across columns, with what it reports when it fails."""

    column: str
    expected: str


def _kind(metric: pd.Series) -> pd.Series:
    return metric.map(lambda m: METRICS[m].kind.value if m in METRICS else None)


def _unit_is_canonical(df: pd.DataFrame) -> pd.Series:
    canon = df["metric"].map(lambda m: METRICS[m].unit if m in METRICS else None)
    return canon.isna() | (df["unit"] == canon)


def _level_positive(df: pd.DataFrame) -> pd.Series:
    return (_kind(df["metric"]) != Kind.LEVEL.value) | (df["value"] > 0)


def _flow_count_nonnegative(df: pd.DataFrame) -> pd.Series:
    kind = _kind(df["metric"])
    return ~kind.isin([Kind.COUNT.value, Kind.FLOW.value]) | (df["value"] >= 0)


def _count_whole(df: pd.DataFrame) -> pd.Series:
    return (_kind(df["metric"]) != Kind.COUNT.value) | (np.mod(df["value"], 1.0) == 0)


def _ratio_in_unit_interval(df: pd.DataFrame) -> pd.Series:
    return (_kind(df["metric"]) != Kind.RATIO.value) | df["value"].between(0.0, 1.0)


ROW_CHECKS: dict[str, tuple[RowCheck, object]] = {
    "unit_is_canonical": (
        RowCheck("unit", "the metric's canonical unit (use the loaders to convert)"),
        _unit_is_canonical,
    ),
    "level_positive": (RowCheck("value", "a positive level (> 0)"), _level_positive),
    "count_nonnegative": (
        RowCheck("value", "a non-negative count or addition (>= 0)"),
        _flow_count_nonnegative,
    ),
    "count_whole": (RowCheck("value", "a whole number for a count"), _count_whole),
    "ratio_in_0_1": (
        RowCheck("value", "a ratio in [0, 1] (percent values need unit '%')"),
        _ratio_in_unit_interval,
    ),
}

COLUMN_EXPECTATIONS: dict[str, str] = {
    "metric": "a registered metric (" + ", ".join(sorted(METRICS)) + ")",
    "industry": "a registered industry code (" + ", ".join(sorted(INDUSTRIES)) + ")",
    "year": "a past or current calendar year (1949 .. this year)",
    "value": "a finite number",
    "unit": "a unit string",
    "status": "one of " + " | ".join(STATUSES),
    "source": "a non-empty citation (title + address or document number)",
    "note": "text or empty",
    "rel_sd": "empty or a relative standard error >= 0",
    "assumption": "empty or the id of a derivation assumption",
    "orig_value": "empty or the value as received",
    "orig_unit": "empty or the unit as received",
}


def observation_schema(today: _dt.date | None = None) -> pa.DataFrameSchema:
    """Build the pandera schema of the observation table.

    Built on call (not at import) so that metrics or industries registered by the user, and
    today's date for the "no future years" rule, are taken into account.

    Examples
    --------
    >>> import pandas as pd
    >>> from jqforecast.data.schema import observation_schema, empty_frame
    >>> observation_schema().validate(empty_frame()).shape[1]
    12
    """
    this_year = (today or _dt.date.today()).year
    nonblank = pa.Check(lambda s: s.astype(str).str.strip().str.len() > 0, name="non_blank")
    return pa.DataFrameSchema(
        {
            "metric": pa.Column(str, pa.Check.isin(sorted(METRICS)), nullable=False),
            "industry": pa.Column(str, pa.Check.isin(sorted(INDUSTRIES)), nullable=False),
            "year": pa.Column(
                "int64", pa.Check.in_range(1949, this_year, include_max=True), nullable=False
            ),
            "value": pa.Column(
                "float64", pa.Check(lambda s: np.isfinite(s), name="finite"), nullable=False
            ),
            "unit": pa.Column(str, nullable=False),
            "status": pa.Column(str, pa.Check.isin(list(STATUSES)), nullable=False),
            "source": pa.Column(str, nonblank, nullable=False),
            "note": pa.Column(str, nullable=True),
            "rel_sd": pa.Column("float64", pa.Check.ge(0), nullable=True),
            "assumption": pa.Column(str, nullable=True),
            "orig_value": pa.Column("float64", nullable=True),
            "orig_unit": pa.Column(str, nullable=True),
        },
        checks=[pa.Check(fn, name=name) for name, (_, fn) in ROW_CHECKS.items()],
        unique=KEY,
        strict=True,
        ordered=False,
        coerce=False,
        name="observations",
    )


def empty_frame() -> pd.DataFrame:
    """An empty observation table with the right columns and dtypes."""
    return coerce_dtypes(pd.DataFrame({c: [] for c in COLUMNS}))


def coerce_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """Give an observation table its canonical dtypes and column order (no validation)."""
    out = df.copy()
    for col in COLUMNS:
        if col not in out:
            out[col] = np.nan if col in ("rel_sd", "orig_value") else None
    text_columns = ("metric", "industry", "unit", "status", "source", "note", "assumption")
    for col in (*text_columns, "orig_unit"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    out["year"] = out["year"].astype("int64")
    for col in ("value", "rel_sd", "orig_value"):
        out[col] = out[col].astype("float64")
    return out[list(COLUMNS)].reset_index(drop=True)


def effective_rel_sd(df: pd.DataFrame) -> pd.Series:
    """Relative standard error per row: the row's ``rel_sd`` or its status default."""
    return df["rel_sd"].fillna(df["status"].map(DEFAULT_REL_SD)).astype(float)
