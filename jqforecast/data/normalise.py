"""Turn a table as received (Chinese or English headers, text cells, mixed units) into the
canonical observation table, reporting every cell that cannot be parsed.

This is the one place where column names, status words, numbers and units are interpreted;
the loaders only read bytes into a table, and validation only checks the result.
"""

from __future__ import annotations

import math
import re
import unicodedata

import numpy as np
import pandas as pd

from jqforecast.data.errors import Problem
from jqforecast.data.metrics import METRICS
from jqforecast.data.schema import COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS
from jqforecast.data.units import conversion_factor, known_units, parse_unit

COLUMN_ALIASES: dict[str, str] = {
    "指标": "metric",
    "指标名称": "metric",
    "行业": "industry",
    "产业": "industry",
    "年份": "year",
    "年度": "year",
    "年": "year",
    "数值": "value",
    "值": "value",
    "单位": "unit",
    "计量单位": "unit",
    "状态": "status",
    "数据状态": "status",
    "来源": "source",
    "数据来源": "source",
    "资料来源": "source",
    "备注": "note",
    "说明": "note",
    "notes": "note",
    "相对标准误": "rel_sd",
    "假设": "assumption",
}

STATUS_ALIASES: dict[str, str] = {
    "官方": "official",
    "统计": "official",
    "公布": "official",
    "估计": "estimate",
    "估算": "estimate",
    "预估": "estimate",
    "推算": "derived",
    "测算": "derived",
    "派生": "derived",
}

INDUSTRY_ALIASES: dict[str, str] = {
    "集成电路": "ic",
    "生物医药": "biomed",
    "人工智能": "ai",
    "园区合计": "park_total",
    "合计": "park_total",
}

_MISSING_TEXT = {"", "-", "—", "–", "--", "…", "...", "nan", "na", "n/a", "none", "null"}
_YEAR = re.compile(r"^(\d{4})(?:\.0+)?\s*年?$")


def clean_text(cell: object, nfkc: bool = True) -> str | None:
    """Stripped text; ``None`` for empty or missing cells.

    Identifiers are NFKC-normalised (full-width letters and digits become ASCII); free text
    such as citations is kept as written (``nfkc=False``).
    """
    if cell is None or (isinstance(cell, float) and math.isnan(cell)):
        return None
    text = str(cell).strip()
    if nfkc:
        text = unicodedata.normalize("NFKC", text)
    return None if unicodedata.normalize("NFKC", text).casefold() in _MISSING_TEXT else text


def parse_number(cell: object) -> float | None:
    """Parse a numeric cell as Chinese spreadsheets write it; ``None`` if the cell is empty.

    Accepts full-width digits, thousands separators and surrounding spaces. Raises
    ``ValueError`` for anything else (e.g. ``"约600"``, ``"n.a. (保密)"``), so that
    approximations are entered as numbers with ``status=estimate`` instead of as text.

    Examples
    --------
    >>> parse_number("１，２３４.５")
    1234.5
    >>> parse_number(" ") is None
    True
    """
    if isinstance(cell, int | float | np.integer | np.floating) and not isinstance(cell, bool):
        return None if math.isnan(float(cell)) else float(cell)
    text = clean_text(cell)
    if text is None:
        return None
    text = text.replace(",", "").replace(" ", "")
    return float(text)  # raises ValueError with the offending text


def parse_year(cell: object) -> int | None:
    """Parse ``2019``, ``"2019"``, ``"2019年"`` or ``2019.0``; ``None`` if not a year."""
    text = clean_text(cell)
    if text is None:
        return None
    match = _YEAR.match(text)
    return int(match.group(1)) if match else None


def canonical_column(name: object) -> str:
    """Map a received column header to a schema column name (Chinese aliases included)."""
    key = unicodedata.normalize("NFKC", str(name)).strip()
    return COLUMN_ALIASES.get(key, key.casefold())


def normalise(raw: pd.DataFrame, file: str = "<frame>") -> tuple[pd.DataFrame, list[Problem]]:
    """Parse a received long table into canonical columns, types and units.

    Parameters
    ----------
    raw : DataFrame
        Long table as read (any dtypes). May carry ``_file``/``_row``/``_value_col`` origin
        columns from a loader; otherwise rows are numbered as in a CSV file with a header.
    file : str
        File name for messages when ``raw`` carries no ``_file`` column.

    Returns
    -------
    (DataFrame, list of Problem)
        The table with schema columns plus origin columns, values in canonical units and the
        conversion recorded in ``orig_value``/``orig_unit``; and every cell that could not be
        parsed. Rows with a problem are kept (their bad cells as missing) so that validation
        can still report other problems in them.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = pd.DataFrame({"指标": ["revenue"], "行业": ["集成电路"], "年份": ["2023年"],
    ...     "数值": ["25,000"], "单位": ["万元"], "状态": ["官方"], "来源": ["统计公报"],
    ...     "备注": [""]})
    >>> df, problems = normalise(raw)
    >>> cols = ["industry", "year", "value", "unit", "orig_value", "orig_unit"]
    >>> df.loc[0, cols].astype(str).tolist()
    ['ic', '2023', '2.5', '亿元', '25000.0', '万元']
    """
    names = {c: canonical_column(c) for c in raw.columns if not str(c).startswith("_")}
    df = raw.rename(columns=names).reset_index(drop=True)
    if "_file" not in df:
        df["_file"] = file
    if "_row" not in df:
        df["_row"] = np.arange(len(df)) + 2
    problems = [
        Problem(file, None, col, "missing", f"a column named {col!r}")
        for col in REQUIRED_COLUMNS
        if col not in df and col != "note"
    ]
    if problems:
        return df, problems
    unknown = [c for c in df.columns if not c.startswith("_") and c not in COLUMNS]
    problems += [
        Problem(file, None, c, "unexpected column", "only " + ", ".join(COLUMNS)) for c in unknown
    ]
    for col in OPTIONAL_COLUMNS + ("note",):
        if col not in df:
            df[col] = None
    records = [_normalise_row(row, problems) for row in df.to_dict("records")]
    out = pd.DataFrame.from_records(records, columns=[*COLUMNS, "_file", "_row", "_value_col"])
    out.index = df.index
    return out, problems


def _normalise_row(row: dict, problems: list[Problem]) -> dict:
    file, line = str(row["_file"]), row["_row"]
    line = int(line) if line is not None and not pd.isna(line) else None
    value_col = row.get("_value_col") or "value"

    def bad(column: str, value: object, expected: str) -> None:
        problems.append(Problem(file, line, column, value, expected))

    out = {k: row.get(k) for k in COLUMNS}
    out.update(_file=file, _row=line, _value_col=row.get("_value_col"))
    metric = clean_text(row["metric"])
    industry = clean_text(row["industry"])
    out["metric"] = metric
    out["industry"] = INDUSTRY_ALIASES.get(industry, industry) if industry else None
    for col in ("source", "note", "assumption", "orig_unit"):
        out[col] = clean_text(row.get(col), nfkc=col == "orig_unit")
    status = clean_text(row["status"])
    out["status"] = STATUS_ALIASES.get(status, status.casefold()) if status else None

    year = parse_year(row["year"])
    if year is None:
        bad("year", row["year"], "a four-digit year such as 2023 or 2023年")
    out["year"] = year if year is not None else -1

    for col in ("rel_sd", "orig_value"):
        try:
            out[col] = parse_number(row.get(col))
        except ValueError:
            bad(col, row.get(col), "empty or a number")
            out[col] = None

    try:
        value = parse_number(row["value"])
    except ValueError:
        value = None
        bad(value_col, row["value"], "a number (write approximations as numbers, status=estimate)")
    else:
        if value is None:
            bad(value_col, row["value"], "a number (the cell is empty)")
    out["value"] = value if value is not None else math.nan

    unit_text = clean_text(row["unit"])
    if unit_text is None:
        bad("unit", row["unit"], "a unit such as " + ", ".join(known_units()))
        return out
    try:
        unit = parse_unit(unit_text)
    except KeyError:
        bad("unit", unit_text, "a known unit: " + ", ".join(known_units()))
        return out
    if metric not in METRICS:
        out["unit"] = unit.symbol  # the schema reports the unknown metric
        return out
    canon = METRICS[metric].unit
    try:
        factor = conversion_factor(unit.symbol, canon)
    except ValueError:
        bad("unit", unit_text, f"a unit convertible to {canon} for metric {metric}")
        return out
    out["unit"] = canon
    if unit.symbol != canon and value is not None:
        out["orig_value"], out["orig_unit"] = value, unit.symbol
        out["value"] = value * factor
    return out
