"""Where the bundled data and outputs live.

jqforecast is installed in editable mode from its repository (README command (a)), so the
bundled dataset is found next to the package: ``<repo>/data/raw``. Set ``JQFORECAST_HOME`` to
use another project folder with the same layout (``data/raw``, ``data/processed``, ``reports``).
"""

from __future__ import annotations

import os
from pathlib import Path


def project_root() -> Path:
    """The project folder: ``$JQFORECAST_HOME`` or the repository holding this package."""
    env = os.environ.get("JQFORECAST_HOME")
    return Path(env) if env else Path(__file__).resolve().parents[1]


def raw_dir() -> Path:
    """``data/raw``: source data as received, with provenance."""
    return project_root() / "data" / "raw"


def processed_dir() -> Path:
    """``data/processed``: validated, derived tables written by ``jqforecast data build``."""
    return project_root() / "data" / "processed"


def default_data_file() -> Path:
    """The bundled default dataset (park-level series, long layout)."""
    return raw_dir() / "jinqiao_park.csv"


def reports_dir() -> Path:
    """``reports``: generated outputs."""
    return project_root() / "reports"
