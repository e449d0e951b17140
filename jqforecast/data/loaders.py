"""Read what economists actually receive into the validated long table.

* CSV in UTF-8, UTF-8 with BOM, UTF-16 (Excel's "Unicode text") or GBK/GB18030, comma,
  tab or semicolon separated, long layout (one row per metric, industry and year).
* Excel ``.xlsx`` in long layout, or in the wide layout of statistical yearbooks: years as
  columns, possibly a title row above the header and footnotes below the table.

Every reader keeps where each value came from (file, row, column) so validation errors point
at the cell to fix. :func:`load` is the public entry point.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd
from openpyxl.utils import get_column_letter

from jqforecast.data.errors import Problem, ValidationError
from jqforecast.data.normalise import canonical_column, clean_text, parse_year
from jqforecast.data.validate import validate

PathLike = str | os.PathLike[str]

_FOOTNOTE = re.compile(r"^(注|说明|资料来源|数据来源|来源|note|notes|source|sources|\*)", re.I)
_SOURCE_NOTE = re.compile(r"^(资料来源|数据来源|来源|source|sources)\s*[:：]\s*(.+)$", re.I)
ID_COLUMNS = ("metric", "industry", "unit", "status", "source", "note", "rel_sd", "assumption")


def decode_bytes(data: bytes, file: str = "<bytes>") -> tuple[str, str]:
    """Decode a text file, trying UTF-16/UTF-8 (with or without BOM), then GB18030.

    GB18030 is a superset of GBK and GB2312, so one attempt covers all three. Returns
    ``(text, encoding)``.

    Examples
    --------
    >>> decode_bytes("指标".encode("gbk"))
    ('指标', 'gb18030')
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16"), "utf-16"
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ValidationError(
        [Problem(file, None, "<file>", "undecodable bytes", "text in UTF-8, UTF-16 or GBK/GB18030")]
    )


def read_csv(path: PathLike) -> pd.DataFrame:
    """Read a long-layout CSV file as text cells, with ``_file``/``_row`` origin columns."""
    file = str(path)
    text, _ = decode_bytes(Path(path).read_bytes(), file)
    try:
        delimiter = csv.Sniffer().sniff(text[:4096], delimiters=",\t;").delimiter
    except csv.Error:
        delimiter = ","
    frame = pd.read_csv(
        io.StringIO(text), sep=delimiter, dtype=str, keep_default_na=False, skip_blank_lines=True
    )
    frame = frame.loc[:, [not str(c).startswith("Unnamed:") for c in frame.columns]]
    frame["_file"] = file
    frame["_row"] = _csv_line_numbers(text, delimiter, len(frame))
    return frame


def _csv_line_numbers(text: str, delimiter: str, n: int) -> list[int]:
    """Line number of each data record as an editor shows it (header = line 1)."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    lines = []
    for record in reader:
        if any(cell.strip() for cell in record):
            lines.append(reader.line_num)
    return lines[1 : n + 1]


def read_excel(path: PathLike, sheet: str | int = 0, **defaults: str) -> pd.DataFrame:
    """Read an Excel sheet in long or wide (years as columns) layout.

    The header row is found automatically: the first row holding either a ``year``/``年份``
    column (long layout) or at least one year-like header such as ``2019`` or ``2019年`` (wide
    layout). Rows above it (titles) are ignored; rows after the table that start with 注 /
    说明 / 资料来源 / Note / Source are footnotes, and a "资料来源：…" footnote becomes the
    source of rows that give none. ``defaults`` fill identifier columns the sheet lacks
    (e.g. ``unit="亿元"``, ``status="official"``).
    """
    file = str(path)
    grid = pd.read_excel(path, sheet_name=sheet, header=None, dtype=object)
    header_at, layout = _find_header(grid)
    if header_at is None:
        raise ValidationError(
            [
                Problem(
                    file,
                    None,
                    "<header>",
                    "no header row",
                    "a row with year columns (2019, 2019年, ...) or with a 'year'/'年份' column",
                )
            ]
        )
    header = [clean_text(c) or "" for c in grid.iloc[header_at]]
    body = grid.iloc[header_at + 1 :]
    footnote_source = None
    rows: list[dict] = []
    for offset, (_, cells) in enumerate(body.iterrows()):
        excel_row = header_at + 2 + offset  # sheet row numbers start at 1
        first = next((clean_text(c) for c in cells if clean_text(c)), None)
        if first is None:
            continue
        if _FOOTNOTE.match(first) and all(clean_text(c) is None for c in cells.iloc[1:]):
            match = _SOURCE_NOTE.match(clean_text(cells.iloc[0], nfkc=False) or "")
            footnote_source = footnote_source or (match.group(2) if match else None)
            continue
        rows.extend(_records(cells.tolist(), header, layout, file, excel_row))
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    for column, default in defaults.items():
        frame[column] = (
            frame[column].where(frame[column].notna(), default) if column in frame else default
        )
    if footnote_source is not None:
        current = frame["source"] if "source" in frame else pd.Series(None, index=frame.index)
        frame["source"] = current.where(current.notna(), footnote_source)
    return frame


def _find_header(grid: pd.DataFrame) -> tuple[int | None, str | None]:
    for i, cells in grid.iterrows():
        names = [canonical_column(c) for c in cells if clean_text(c)]
        if "year" in names and "value" in names:
            return int(i), "long"
        if any(parse_year(c) is not None for c in cells) and (
            "metric" in names or "industry" in names or "unit" in names
        ):
            return int(i), "wide"
    return None, None


def _records(cells: list, header: list[str], layout: str, file: str, row: int) -> Iterable[dict]:
    named = {canonical_column(h): c for h, c in zip(header, cells, strict=True) if h}
    if layout == "long":
        yield {**named, "_file": file, "_row": row}
        return
    ids = {k: named.get(k) for k in ID_COLUMNS if k in named}
    for j, (h, cell) in enumerate(zip(header, cells, strict=True)):
        year = parse_year(h)
        if year is None or clean_text(cell) is None:
            continue
        yield {
            **ids,
            "year": year,
            "value": cell,
            "_file": file,
            "_row": row,
            "_value_col": f"{h} ({get_column_letter(j + 1)}{row})",
        }


def read_table(path: PathLike, **defaults: str) -> pd.DataFrame:
    """Read one CSV/TSV/TXT or Excel file into a raw long table (not yet validated)."""
    suffix = Path(path).suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return read_excel(path, **defaults)
    if suffix in (".csv", ".tsv", ".txt"):
        frame = read_csv(path)
        for column, default in defaults.items():
            frame[column] = frame[column].replace("", default) if column in frame else default
        return frame
    raise ValidationError(
        [Problem(str(path), None, "<file>", suffix, "a .csv, .tsv, .txt or .xlsx file")]
    )


def load(paths: PathLike | Sequence[PathLike], warn: bool = True, **defaults: str) -> pd.DataFrame:
    """Load, normalise and validate one or several data files into the long table.

    Parameters
    ----------
    paths : path or list of paths
        CSV (UTF-8, BOM, UTF-16, GBK/GB18030) or Excel files, long or wide layout. A
        directory loads every ``*.csv``/``*.xlsx`` file directly in it (not in sub-folders).
    warn : bool
        Emit :class:`~jqforecast.data.errors.DataWarning` for gaps and short series.
    **defaults : str
        Values for identifier columns a file lacks, e.g. ``status="official"``.

    Returns
    -------
    DataFrame
        Columns ``metric, industry, year, value, unit, status, source, note, rel_sd,
        assumption, orig_value, orig_unit``; values in canonical units.

    Raises
    ------
    ValidationError
        Listing every problem in every file (file, row, column, value, expected).

    Examples
    --------
    >>> import jqforecast
    >>> df = jqforecast.load_default()
    >>> sorted(df["metric"].unique())[:2]
    ['pct_filings', 'rd_intensity']
    """
    files = _expand(paths)
    frames = [read_table(p, **defaults) for p in files]
    frames = [f for f in frames if not f.empty]
    if not frames:
        raise ValidationError(
            [
                Problem(
                    ", ".join(map(str, files)),
                    None,
                    "<file>",
                    "no rows",
                    "at least one observation",
                )
            ]
        )
    return validate(pd.concat(frames, ignore_index=True), file=str(files[0]), warn=warn)


def _expand(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files: list[Path] = []
    for item in map(Path, items):
        if item.is_dir():
            files += sorted(
                p
                for p in item.iterdir()
                if p.suffix.lower() in (".csv", ".xlsx") and not p.name.startswith((".", "~$"))
            )
        elif not item.exists():
            raise FileNotFoundError(f"data file not found: {item}")
        else:
            files.append(item)
    return files
