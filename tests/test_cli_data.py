"""CLI: validate exit codes; data build never overwrites processed data with bad input."""

from __future__ import annotations

import shutil

from typer.testing import CliRunner

from jqforecast.cli import app
from jqforecast.paths import raw_dir

runner = CliRunner()


def test_validate_bundled_data_exits_0():
    result = runner.invoke(app, ["validate", str(raw_dir())])
    assert result.exit_code == 0, result.output
    assert "valid: 22 rows" in result.output


def test_validate_bad_file_exits_1_and_lists_problems(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "metric,industry,year,value,unit,status,source,note\n"
        "revenue,ic,2020,abc,亿元,official,src,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "row 2" in result.output and "'value'" in result.output


def test_build_with_bad_input_leaves_processed_untouched(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(raw_dir(), raw)
    out = tmp_path / "processed"
    assert (
        runner.invoke(app, ["data", "build", "--raw", str(raw), "--out", str(out)]).exit_code == 0
    )
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert "observations.parquet" in before
    (raw / "extra.csv").write_text(
        "metric,industry,year,value,unit,status,source,note\n"
        "revenue,ic,2020,-1,亿元,official,src,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["data", "build", "--raw", str(raw), "--out", str(out)])
    assert result.exit_code == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_derive_check_reports_up_to_date():
    result = runner.invoke(app, ["data", "derive", "--check"])
    assert result.exit_code == 0 and "up to date" in result.output
