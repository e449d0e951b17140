"""Shared fixtures: small valid tables and file writers for loader tests."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

HEADER = "metric,industry,year,value,unit,status,source,note"


@pytest.fixture
def valid_rows() -> list[str]:
    return [
        "revenue,ic,2019,100,亿元,official,浦东统计年鉴2020,",
        "revenue,ic,2020,110,亿元,official,浦东统计年鉴2021,",
        "revenue,ic,2021,125,亿元,estimate,新闻报道 example.org/a,约数",
        "revenue,ic,2022,140,亿元,official,浦东统计年鉴2023,",
        "revenue,ic,2023,150,亿元,official,浦东统计年鉴2024,",
    ]


@pytest.fixture
def write_csv(tmp_path):
    """Write header + rows to a CSV in the given encoding; return its path."""

    def _write(
        rows: list[str],
        encoding: str = "utf-8",
        name: str = "data.csv",
        header: str = HEADER,
        sep: str = ",",
    ) -> str:
        text = "\n".join([header, *rows]) + "\n"
        if sep != ",":
            text = text.replace(",", sep)
        path = tmp_path / name
        path.write_bytes(text.encode(encoding))
        return str(path)

    return _write


def frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


BENCHMARKS = Path(__file__).parents[1] / "benchmarks"


@pytest.fixture
def load_benchmark(monkeypatch):
    """Import a script of ``benchmarks/`` by name (``"seed_spread"``), its folder on
    ``sys.path`` for the scripts' shared ``_common`` and each other."""

    def _load(name: str):
        monkeypatch.syspath_prepend(str(BENCHMARKS))
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module

    return _load
