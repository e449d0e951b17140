"""Build ``data/processed`` from ``data/raw``: validate everything first, then write atomically.

Bad input raises before any file is touched, so ``data/processed`` always holds the last good
build.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

import pandas as pd

from jqforecast import __version__
from jqforecast._io import file_sha256, write_json, write_parquet
from jqforecast.data.loaders import _expand, load
from jqforecast.paths import processed_dir, raw_dir


def build(
    raw: str | Path | None = None, out: str | Path | None = None
) -> tuple[pd.DataFrame, Path]:
    """Validate ``raw`` (default ``data/raw``) and write ``out/observations.parquet``.

    Also writes ``out/observations.json`` describing the build: input file hashes, row
    counts per series and status, package version and time.

    Returns the validated table and the Parquet path. Raises
    :class:`~jqforecast.data.errors.ValidationError` without writing anything if any input is
    invalid.
    """
    raw = Path(raw) if raw else raw_dir()
    out = Path(out) if out else processed_dir()
    files = _expand([raw])
    table = load(files)
    parquet = write_parquet(out / "observations.parquet", table)
    series = table.groupby(["metric", "industry"]).agg(
        points=("year", "size"), first=("year", "min"), last=("year", "max")
    )
    write_json(
        out / "observations.json",
        {
            "built_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "jqforecast_version": __version__,
            "inputs": {str(f): file_sha256(f) for f in files},
            "rows": len(table),
            "rows_by_status": table["status"].value_counts().sort_index().to_dict(),
            "series": {f"{m}/{i}": r for (m, i), r in series.to_dict("index").items()},
        },
    )
    return table, parquet


def read_processed(path: str | Path | None = None) -> pd.DataFrame:
    """Read ``data/processed/observations.parquet`` (written by :func:`build`)."""
    return pd.read_parquet(Path(path) if path else processed_dir() / "observations.parquet")
