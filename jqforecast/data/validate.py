"""Validation of observation tables: every problem named by file, row, column and value.

Validation runs at the edge, before anything slow. It collects *all* problems (pandera's lazy
mode plus the parsing problems found by the loaders) and raises one :class:`ValidationError`
listing them, so an analyst fixes a file in one pass instead of one error at a time.
"""

from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Iterable

import pandas as pd
import pandera.errors as pa_errors

from jqforecast.data.errors import DataWarning, Problem, ValidationError
from jqforecast.data.metrics import METRICS
from jqforecast.data.normalise import normalise
from jqforecast.data.schema import (
    COLUMN_EXPECTATIONS,
    KEY,
    ROW_CHECKS,
    coerce_dtypes,
    observation_schema,
)

MIN_POINTS_WARNING = 5
MIN_FORECAST_POINTS = 3  # fewer: the series is not forecast (``engine.MIN_POINTS``)


def _origin(df: pd.DataFrame, index: object, default_file: str) -> tuple[str, int | None]:
    if "_file" in df and "_row" in df:
        row = df.at[index, "_row"]
        return str(df.at[index, "_file"]), (int(row) if pd.notna(row) else None)
    return default_file, int(index) + 2  # header is row 1


def _origin_column(df: pd.DataFrame, index: object, column: str) -> str:
    """Column name as received (a wide Excel sheet puts values under year headers)."""
    if column == "value" and "_value_col" in df and pd.notna(df.at[index, "_value_col"]):
        return str(df.at[index, "_value_col"])
    return column


def schema_problems(
    df: pd.DataFrame, file: str = "<frame>", today: _dt.date | None = None
) -> list[Problem]:
    """Run the pandera schema lazily and translate its failure cases into :class:`Problem` s."""
    schema = observation_schema(today)
    data = df[[c for c in df.columns if not c.startswith("_")]]
    try:
        schema.validate(data, lazy=True)
    except pa_errors.SchemaErrors as err:
        return _translate(err.failure_cases, df, file)
    return []


def _translate(cases: pd.DataFrame, df: pd.DataFrame, file: str) -> list[Problem]:
    problems: dict[tuple, Problem] = {}
    for case in cases.itertuples(index=False):
        check, index = str(case.check), case.index
        if index is None or pd.isna(index):
            # Column-level failure (missing column, wrong dtype): no single row to blame.
            key = (None, case.column, check)
            problems[key] = Problem(file, None, str(case.column), case.failure_case, check)
            continue
        file_i, row = _origin(df, index, file)
        if check in ROW_CHECKS:
            column = ROW_CHECKS[check][0].column
            expected = ROW_CHECKS[check][0].expected
            value = df.at[index, column]
            if check == "unit_is_canonical":
                value = f"{value} for metric {df.at[index, 'metric']}"
        elif check == "multiple_fields_uniqueness":
            column = ", ".join(KEY)
            value = tuple(df.loc[index, KEY])
            expected = (
                "one row per (metric, industry, year): this key appears more than once (to "
                "replace a derived or estimated figure with an official one, delete the "
                "old row; rows are never overridden silently)"
            )
        else:
            column = str(case.column)
            value = case.failure_case
            expected = COLUMN_EXPECTATIONS.get(column, check)
        column = _origin_column(df, index, column)
        problems[(file_i, row, column, check)] = Problem(file_i, row, column, value, expected)
    return list(problems.values())


def series_warnings(df: pd.DataFrame) -> list[str]:
    """Warnings (not errors): gaps in a series' years, series with fewer than 5 points, and
    cumulative stocks (:attr:`Metric.cumulative`) that fall from one year to the next."""
    messages = []
    for (metric, industry), g in df.groupby(["metric", "industry"], sort=True):
        years = sorted(g["year"])
        if metric in METRICS and METRICS[metric].cumulative:
            ordered = g.sort_values("year")
            falls = [
                f"{y0} {v0:g} → {y1} {v1:g}"
                for y0, v0, y1, v1 in zip(
                    ordered["year"],
                    ordered["value"],
                    ordered["year"].iloc[1:],
                    ordered["value"].iloc[1:],
                    strict=False,
                )
                if v1 < v0
            ]
            if falls:
                messages.append(
                    f"series {metric}/{industry}: a cumulative total falls ({'; '.join(falls)});"
                    " check the figures (its forecast never falls below the last one)"
                )
        missing = sorted(set(range(years[0], years[-1] + 1)) - set(years))
        if missing:
            messages.append(f"series {metric}/{industry}: missing years {missing}")
        if len(years) < MIN_FORECAST_POINTS:
            messages.append(
                f"series {metric}/{industry}: only {len(years)} point(s) "
                f"(< {MIN_FORECAST_POINTS}); it is not forecast and its targets are "
                "reported as having too few points"
            )
        elif len(years) < MIN_POINTS_WARNING:
            messages.append(
                f"series {metric}/{industry}: only {len(years)} point(s) "
                f"(< {MIN_POINTS_WARNING}); forecasts will rest mostly on priors and pooling"
            )
    return messages


def validate(
    df: pd.DataFrame,
    file: str = "<frame>",
    extra_problems: Iterable[Problem] = (),
    today: _dt.date | None = None,
    warn: bool = True,
) -> pd.DataFrame:
    """Validate an observation table; return it with canonical dtypes or raise.

    Parameters
    ----------
    df : DataFrame
        Long table with the schema columns (and optionally the loaders' ``_file``/``_row``
        origin columns, which are used for error messages and then dropped).
    file : str
        Name used in messages when ``df`` carries no origin columns.
    extra_problems : iterable of Problem
        Problems found earlier (e.g. non-numeric cells found while parsing).
    today : date, optional
        Reference date for the "no future years" rule (default: today).
    warn : bool
        Emit :class:`DataWarning` for gaps and short series.

    Raises
    ------
    ValidationError
        Listing every problem, each with file, row, column, value and what was expected.

    Examples
    --------
    >>> import pandas as pd
    >>> from jqforecast.data.validate import validate, ValidationError
    >>> bad = pd.DataFrame({"metric": ["revenue"], "industry": ["ic"], "year": [2020],
    ...     "value": [-5.0], "unit": ["亿元"], "status": ["official"], "source": ["x"],
    ...     "note": [None]})
    >>> try:
    ...     validate(bad, file="in.csv", warn=False)
    ... except ValidationError as e:
    ...     print(e.problems[0])
    in.csv, row 2, column 'value': got -5.0, expected a positive level (> 0)
    """
    parsed, problems = normalise(df, file)
    problems = [*extra_problems, *problems]
    if any(p.value == "missing" and p.row is None for p in problems):
        raise ValidationError(problems)  # without its columns the table cannot be checked
    clean = parsed
    if problems:
        # Rows that failed parsing are already reported; validate the rest so the user sees
        # every remaining problem too.
        bad_rows = {(p.file, p.row) for p in problems}
        keep = [(f, r) not in bad_rows for f, r in zip(clean["_file"], clean["_row"], strict=True)]
        clean = clean[keep]
    origin = clean[["_file", "_row", "_value_col"]]
    typed = coerce_dtypes(clean.drop(columns=origin.columns))
    typed.index = clean.index
    typed = typed.join(origin)
    problems += schema_problems(typed, file=file, today=today)
    if problems:
        raise ValidationError(problems)
    if warn:
        for message in series_warnings(typed):
            warnings.warn(message, DataWarning, stacklevel=2)
    return coerce_dtypes(typed).sort_values(KEY, ignore_index=True)
