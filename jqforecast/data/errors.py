"""Error and warning types of the data layer."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True)
class Problem:
    """One validation problem at one place in an input file.

    ``row`` is the row number as a spreadsheet shows it (header = row 1 for CSV files; the
    sheet's own row number for Excel files); ``column`` is the column name as received.
    """

    file: str
    row: int | None
    column: str
    value: object
    expected: str

    def __str__(self) -> str:
        value = self.value.item() if hasattr(self.value, "item") else self.value
        where = f"{self.file}, row {self.row}" if self.row is not None else self.file
        return f"{where}, column {self.column!r}: got {value!r}, expected {self.expected}"


class ValidationError(ValueError):
    """Raised when input data breaks the schema; ``problems`` lists every problem found."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = sorted(
            problems, key=lambda p: (p.file, p.row if p.row is not None else -1, p.column)
        )
        n = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems[:200])
        more = f"\n  ... and {n - 200} more" if n > 200 else ""
        super().__init__(f"{n} problem(s) in input data:\n{lines}{more}")

    def to_frame(self) -> pd.DataFrame:
        """The problems as a table (file, row, column, value, expected)."""
        return pd.DataFrame([asdict(p) for p in self.problems])


class DataWarning(UserWarning):
    """Data are usable but the forecasts will be weaker (gaps, very short series)."""
