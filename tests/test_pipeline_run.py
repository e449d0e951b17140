"""The main job: outputs, exit codes, atomic `latest`, lock, reproducibility."""

from __future__ import annotations

import multiprocessing
import os
import re
import time

import pandas as pd
import pytest
from typer.testing import CliRunner

from jqforecast.cli import app
from jqforecast.paths import default_data_file
from jqforecast.pipeline.run import (
    EXIT_DATA,
    EXIT_OUTPUT,
    MANIFEST_KEYS,
    Lock,
    RunLocked,
    load_manifest,
    run,
)

runner = CliRunner()


@pytest.mark.slow
def test_run_writes_outputs_and_points_latest(tmp_path):
    result = runner.invoke(
        app,
        ["run", "--quick", "--out", str(tmp_path), "--draws", "400", "--seed", "3", "--verbose"],
    )
    assert result.exit_code == 0, result.output
    # not a terminal (as under cron): plain timestamped lines, one per stage start and end
    lines = result.output.splitlines()
    assert sum(" jqforecast stage " in line and " done " in line for line in lines) == 13
    assert any(line.endswith("jqforecast stage forecast started") for line in lines)
    # --verbose: the members that draw and their shares (--quick: the shipped reference
    # weights learned for the statistical members alone, more than one of them drawing)
    assert re.search(r"rw_drift 0\.\d\d", result.output)
    assert re.search(r"damped_drift 0\.\d\d", result.output)
    latest = tmp_path / "latest"
    assert latest.is_symlink()
    for name in (
        "forecast.nc",
        "forecast.csv",
        "targets.csv",
        "targets_by_member.csv",
        "manifest.json",
    ):
        assert (latest / name).stat().st_size > 0
    manifest = load_manifest(latest)
    targets = pd.read_csv(latest / "targets.csv")
    assert manifest["status"] == "success" and manifest["seed"] == 3
    assert manifest["models"]["stocks_from_additions"] == ["smart_factories/park_total"]
    modelled = targets[targets["kind"] == "modelled"]
    assert (modelled["p_hit_lo"] <= modelled["p_hit"]).all()
    assert (modelled["p_hit"] <= modelled["p_hit_hi"]).all()
    by_member = pd.read_csv(latest / "targets_by_member.csv")
    assert set(by_member["id"]) == set(modelled["id"])
    assert by_member.groupby("id")["weight"].sum().round(9).eq(1).all()
    assert set(manifest["stages"]) == {
        "ingest+validate",
        "targets config",
        "forecast",
        "targets",
        "scenarios",
        "gap closing",
        "sensitivity",
        "checkpoints",
        "write outputs",
        "changes",
        "charts",
        "report.html",
        "briefing.pptx",
    }
    for name in (
        "scenarios.csv",
        "gap_closing.csv",
        "sensitivity.csv",
        "checkpoints.csv",
        "charts/tornado.png",
        "charts/summary.png",
        "charts/summary.svg",
        "charts/fan_leading_revenue.png",
    ):
        assert (latest / name).stat().st_size > 0
    assert set(manifest["charts"]) >= {"summary.png", "fan_leading_revenue.svg"}
    assert set(MANIFEST_KEYS) <= set(manifest)
    html = (latest / "report.html").read_text(encoding="utf-8")
    pngs = sorted((latest / "charts").glob("*.png"))
    assert html.count("data:image/png;base64,") == len(pngs) >= 5
    assert "derived" in html and "leading_revenue" in html
    # reader-facing tables: labels and headers in the report's language, not column ids
    assert "三大先导产业总营收" in html and "提升起始年" in html and "p_hit_mcse" not in html
    from pptx import Presentation

    deck = Presentation(str(latest / "briefing.pptx"))
    modelled = (targets["kind"] == "modelled").sum()
    extra = sum((latest / "charts" / f"{c}.png").exists() for c in ("scenarios", "tornado"))
    sources = int((latest / "sensitivity.csv").stat().st_size > 1)
    # title, summary chart and table, targets, gap-closing table, checkpoints table,
    # scenario comparison / tornado when drawn, the sources-of-uncertainty table, appendix
    assert len(deck.slides) == 1 + 2 + modelled + 1 + 1 + extra + sources + 1
    assert "不确定性来源" in html  # the sources-of-uncertainty table, under the tornado
    tables = [sh.table for s in deck.slides for sh in s.shapes if sh.has_table]
    assert len(tables) == 3 + sources and len(tables[0].rows) == 1 + len(targets)
    assert tables[0].cell(0, 1).text == "达成概率"
    assert len(tables[1].rows) == 1 + 2 * modelled  # two start years each
    assert tables[1].cell(0, 0).text == "目标" and tables[1].cell(0, 1).text == "提升起始年"
    marks = pd.read_csv(latest / "checkpoints.csv")
    assert len(tables[2].rows) == 1 + len(marks) and tables[2].cell(0, 3).text == "需达到的水平"
    sensitivity_rows = len(pd.read_csv(latest / "sensitivity.csv"))
    assert len(tables[3].rows) == 1 + sensitivity_rows
    assert tables[3].cell(0, 1).text == "不确定性来源"
    texts = [sh.text_frame.text for s in deck.slides for sh in s.shapes if sh.has_text_frame]
    assert any("P(hit)" in t or "达成概率" in t for t in texts)
    assert any("2025 年检查点：≥ " in t for t in texts)  # a target slide's checkpoint bullet
    gaps = pd.read_csv(latest / "gap_closing.csv")
    assert set(gaps["from_year"]) == {2025, 2026}
    assert set(gaps["target"]) == set(targets.loc[targets["kind"] == "modelled", "id"])
    closes = [t for t in texts if "弥合缺口" in t]  # one line per target: each start year's uplift
    assert len(closes) == modelled
    assert all(("2025 年起" in t and "2026 年起" in t) or "已达 80%" in t for t in closes)
    for slide in deck.slides:  # every shape visible on the 16:9 slide, none collapsed
        for shape in slide.shapes:
            assert 0 <= shape.left and shape.left + shape.width <= deck.slide_width
            assert 0 <= shape.top and shape.top + shape.height <= deck.slide_height
            assert shape.height > 0 and shape.width > 0
    assert all(len(h) == 64 for h in manifest["inputs"].values())
    assert len(targets) == 7
    assert "存在缺口" in result.output or "有望达成" in result.output


def test_same_seed_same_targets_csv(tmp_path):
    a = run(out=tmp_path / "a", draws=300, seed=5, quick=True)
    b = run(out=tmp_path / "b", draws=300, seed=5, quick=True)
    assert (a.run_dir / "targets.csv").read_bytes() == (b.run_dir / "targets.csv").read_bytes()


def test_invalid_data_exits_1_and_leaves_latest_untouched(tmp_path):
    good = run(out=tmp_path, draws=200, seed=0, quick=True)
    assert good.exit_code == 0
    before = {p: p.read_bytes() for p in (tmp_path / "latest").rglob("*") if p.is_file()}
    target_before = os.readlink(tmp_path / "latest")
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "metric,industry,year,value,unit,status,source,note\n"
        "revenue,ic,2020,-1,亿元,official,src,\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["run", "--quick", "--data", str(bad), "--out", str(tmp_path)])
    assert result.exit_code == EXIT_DATA
    assert os.readlink(tmp_path / "latest") == target_before
    assert {p: p.read_bytes() for p in (tmp_path / "latest").rglob("*") if p.is_file()} == before
    failed = sorted((tmp_path / "runs").iterdir())[-1]
    assert load_manifest(failed)["status"] == "failed"
    assert "positive level" in (failed / "error.txt").read_text(encoding="utf-8")


def test_an_official_figure_for_the_target_year_is_reported_as_achieved(tmp_path):
    """Late in 2026 the first official figures arrive: the bundled data plus an official 2026
    PCT count run to the end (the fan chart has no fan to draw), and the target is reported
    as achieved on that figure, not as a probability spread by the derived years' error."""
    data = tmp_path / "park.csv"
    data.write_text(
        default_data_file().read_text(encoding="utf-8")
        + "pct_filings,park_total,2026,650,件,official,a user's official figure,,,,,\n",
        encoding="utf-8",
    )
    result = run(data=[data], out=tmp_path / "out", draws=300, seed=0, quick=True)
    assert result.exit_code == 0, result.error
    row = pd.read_csv(result.run_dir / "targets.csv").set_index("id").loc["pct_filings"]
    assert (row["p_hit"], row["median"], row["verdict_en"]) == (1.0, 650.0, "achieved")
    assert row["note"] == "observed (2026)"
    assert "fan_pct_filings.png" in load_manifest(result.run_dir)["charts"]
    assert (result.run_dir / "report.html").exists() and (result.run_dir / "briefing.pptx").exists()


def test_an_official_figure_corrects_the_assumption_for_the_other_series_too(tmp_path):
    """An official 2025 IC revenue of 800 亿元 replaces the derived 1 075: the step below the
    derived years' trend says the park's share of Pudong was set too high, so the derived
    biomedicine revenue comes down with it (it carries no official figure itself); the
    manifest records the update and the report and the deck show it. The bundled data,
    with no official figure, show no such section."""
    lines = default_data_file().read_text(encoding="utf-8").splitlines(keepends=True)
    official = "revenue,ic,2025,800,亿元,official,a user's official figure,,,,,\n"
    replaced = [official if ln.startswith("revenue,ic,2025,") else ln for ln in lines]
    assert replaced != lines
    data = tmp_path / "park.csv"
    data.write_text("".join(replaced), encoding="utf-8")
    after = run(data=[data], out=tmp_path / "after", draws=400, seed=0, quick=True)
    before = run(out=tmp_path / "before", draws=400, seed=0, quick=True)
    assert after.exit_code == 0 == before.exit_code, after.error
    posterior = load_manifest(after.run_dir)["models"]["assumption_posterior"]
    assert [e["series"] for e in posterior["evidence"]] == ["revenue/ic"]
    share = posterior["names"].index("park_share_of_pudong")
    assert posterior["mean"][share] < 0 and posterior["cov"][share][share] < 1
    assert load_manifest(before.run_dir)["models"]["assumption_posterior"]["evidence"] == []

    def biomed(result):
        f = pd.read_csv(result.run_dir / "forecast.csv").set_index(["unique_id", "year"])
        return f.loc[("revenue/biomed", 2026), "median"]

    assert biomed(after) < 0.95 * biomed(before)
    assert "官方数据对推算假设的校正" in (after.run_dir / "report.html").read_text(encoding="utf-8")
    assert "官方数据对推算假设的校正" not in (before.run_dir / "report.html").read_text(
        encoding="utf-8"
    )
    from pptx import Presentation

    titles = [s.shapes.title.text for s in Presentation(after.run_dir / "briefing.pptx").slides]
    assert "官方数据对推算假设的校正" in titles


def test_a_series_too_short_to_forecast_is_a_manifest_warning_not_a_failure(tmp_path):
    data = tmp_path / "park.csv"
    data.write_text(
        default_data_file().read_text(encoding="utf-8")
        + "new_space,park_total,2024,35,万平方米,official,t,,,,,\n"
        + "new_space,park_total,2025,60,万平方米,official,t,,,,,\n",
        encoding="utf-8",
    )
    result = run(data=[data], out=tmp_path / "out", draws=200, seed=0, quick=True)
    assert result.exit_code == 0, result.error
    warned = load_manifest(result.run_dir)["warnings"]
    assert any(w.startswith("not forecast (fewer than 3 points): new_space") for w in warned)
    row = pd.read_csv(result.run_dir / "targets.csv").set_index("id").loc["new_space"]
    assert row["note"] == "too few points for new_space/park_total (2 point(s); 3 needed)"


def test_a_failing_chart_is_an_output_error_and_leaves_latest_untouched(tmp_path, monkeypatch):
    good = run(out=tmp_path, draws=200, seed=0, quick=True)
    target_before = os.readlink(tmp_path / "latest")

    def broken(*args, **kwargs):
        raise ValueError("need at least one array to stack")

    monkeypatch.setattr("jqforecast.pipeline.run.write_charts", broken)
    result = run(out=tmp_path, draws=200, seed=0, quick=True)  # never raises
    assert result.exit_code == EXIT_OUTPUT and good.exit_code == 0
    assert os.readlink(tmp_path / "latest") == target_before
    assert load_manifest(result.run_dir)["status"] == "failed"
    assert "need at least one array" in (result.run_dir / "error.txt").read_text(encoding="utf-8")


def test_lock_blocks_a_second_run_and_clears_stale(tmp_path):
    lock = tmp_path / ".lock"
    with Lock(lock), pytest.raises(RunLocked, match=str(os.getpid())):
        run(out=tmp_path, draws=50, quick=True)
    lock.write_text("999999999")  # left by a killed run: its lock died with it
    assert run(out=tmp_path, draws=50, quick=True).exit_code == 0
    assert lock.read_text() == ""  # released


def _hold_lock(path, barrier, results):
    barrier.wait()  # every process tries at the same moment
    try:
        with Lock(path):
            results.put("ran")
            time.sleep(1.0)
    except RunLocked:
        results.put("locked")


def test_concurrent_runs_do_not_both_proceed(tmp_path):
    """Six processes try to take the lock at once, twice over: exactly one runs each time."""
    ctx = multiprocessing.get_context("fork")
    for _ in range(2):
        barrier, results = ctx.Barrier(6), ctx.Queue()
        procs = [
            ctx.Process(target=_hold_lock, args=(tmp_path / ".lock", barrier, results))
            for _ in range(6)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
        outcomes = sorted(results.get(timeout=5) for _ in procs)
        assert outcomes == ["locked"] * 5 + ["ran"]


def test_a_killed_run_does_not_block_the_next(tmp_path):
    ctx = multiprocessing.get_context("fork")
    barrier, results = ctx.Barrier(1), ctx.Queue()
    holder = ctx.Process(target=_hold_lock, args=(tmp_path / ".lock", barrier, results))
    holder.start()
    assert results.get(timeout=10) == "ran"
    holder.kill()
    holder.join()
    with Lock(tmp_path / ".lock"):
        assert (tmp_path / ".lock").read_text() == str(os.getpid())


def test_changes_table_compares_with_previous_run(tmp_path):
    run(out=tmp_path, draws=300, seed=0, quick=True)
    second = run(out=tmp_path, draws=300, seed=1, quick=True)
    changes = pd.read_csv(second.run_dir / "changes.csv")
    assert set(changes["target"]) == {
        "leading_revenue",
        "rd_intensity",
        "pct_filings",
        "smart_factories",
    }
    assert (changes["mc_se"] > 0).all()
    moved = changes[changes["significant"]]
    assert moved["cause"].str.contains("seed").all()
    assert (changes.loc[~changes["significant"], "cause"] == "within Monte Carlo error").all()


def test_a_move_is_put_down_to_the_software_or_the_machine_that_changed(tmp_path):
    """Same version number, different code: the manifest's source fingerprint differs, so a
    significant move names the software as its cause (not "none"); another processor (MCMC
    rounding differs across CPUs) names the machine, unless the previous manifest predates
    the machine record."""
    import json
    import shutil

    from jqforecast.pipeline.run import changes_since, machine_fingerprint, source_fingerprint

    first = run(out=tmp_path / "a", draws=300, seed=0, quick=True)
    previous = tmp_path / "previous"
    shutil.copytree(first.run_dir, previous)
    manifest = load_manifest(first.run_dir)
    assert manifest["versions"]["jqforecast_source"] == source_fingerprint()
    assert manifest["machine"] == machine_fingerprint()
    table = pd.read_csv(first.run_dir / "targets.csv")
    moved = table.assign(p_hit=table["p_hit"].where(table["id"] != "pct_filings", 0.1))

    def cause_after(edit) -> str:
        old = json.loads(json.dumps(manifest))
        edit(old)
        (previous / "manifest.json").write_text(json.dumps(old), encoding="utf-8")
        changes = changes_since(previous, moved, manifest).set_index("target")
        assert changes.loc["pct_filings", "significant"]
        same = changes_since(previous, table, manifest).set_index("target")
        assert not same["significant"].any()
        return changes.loc["pct_filings", "cause"]

    assert cause_after(lambda m: m["versions"].update(jqforecast_source="0" * 16)) == "software"
    assert cause_after(lambda m: m["machine"].update(cpu="another CPU")) == "machine"
    assert cause_after(lambda m: m.pop("machine")) == "none (same inputs and settings)"


def test_source_fingerprint_follows_the_package_files(tmp_path):
    from jqforecast.pipeline.run import source_fingerprint

    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "a.py").write_text("x = 1\n")
    (package / "sub" / "w.json").write_text("{}")
    before = source_fingerprint(package)
    (package / "notes.txt").write_text("not code")  # other files do not count
    assert source_fingerprint(package) == before
    (package / "sub" / "w.json").write_text('{"a": 1}')
    assert source_fingerprint(package) != before


@pytest.mark.slow
def test_full_default_run_with_bayesian_members(tmp_path):
    """README command (a) in miniature: every member, MCMC diagnostics checked (exit 2 if poor)."""
    result = run(out=tmp_path, draws=1000, seed=0)
    assert result.exit_code == 0, result.error
    manifest = load_manifest(result.run_dir)
    diagnostics = manifest["models"]["diagnostics"]
    assert {"bayes_growth:revenue", "bayes_count:pct_filings"} <= set(diagnostics)
    assert all(d["ok"] for d in diagnostics.values())
    weights = manifest["models"]["weights"]
    assert weights["bayes_growth"] > 0 and weights["bayes_count"] > 0


def test_scenarios_file_gives_scenario_chart_in_report_and_deck(tmp_path):
    """With lever sets (the shipped example), P(hit) per scenario is charted, embedded in
    report.html and on a slide, next to the baseline."""
    from pathlib import Path

    from pptx import Presentation

    example = Path(__file__).parents[1] / "reports" / "scenarios.example.yaml"
    result = run(out=tmp_path, draws=300, seed=0, quick=True, scenarios_file=example)
    assert result.exit_code == 0, result.error
    table = pd.read_csv(result.run_dir / "scenarios.csv")
    assert table["scenario"].nunique() > 1 and "baseline" in set(table["scenario"])
    charts = result.run_dir / "charts"
    assert (charts / "scenarios.png").stat().st_size > 10_000
    assert (charts / "scenarios.svg").exists()
    html = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64") >= len(list(charts.glob("*.png")))
    deck = Presentation(result.run_dir / "briefing.pptx")
    pictures = sum(shape.shape_type == 13 for slide in deck.slides for shape in slide.shapes)
    assert pictures >= len(list(charts.glob("*.png")))


def test_english_report_and_deck(tmp_path):
    """``--lang en``: charts, report and slides in English, same numbers as in Chinese."""
    from pptx import Presentation

    en = run(out=tmp_path / "en", draws=300, seed=2, quick=True, lang="en")
    zh = run(out=tmp_path / "zh", draws=300, seed=2, quick=True, lang="zh")
    assert en.exit_code == 0 and zh.exit_code == 0
    html = (en.run_dir / "report.html").read_text(encoding="utf-8")
    assert '<html lang="en">' in html and "Closing the gap" in html
    assert "Revenue of the three leading industries" in html and "Uplift from" in html
    deck = Presentation(str(en.run_dir / "briefing.pptx"))
    texts = [sh.text_frame.text for s in deck.slides for sh in s.shapes if sh.has_text_frame]
    assert any("what closes it" in t for t in texts)
    assert not any("弥合缺口" in t for t in texts)
    for name in ("targets.csv", "gap_closing.csv"):  # the language changes words, not numbers
        assert (en.run_dir / name).read_bytes() == (zh.run_dir / name).read_bytes()
