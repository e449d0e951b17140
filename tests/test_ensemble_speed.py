"""benchmarks/ensemble_speed.py: the statistical ensemble's speed goal from benchmark runs."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest


@pytest.fixture
def script(load_benchmark):
    return load_benchmark("ensemble_speed")


def _run(tmp_path, name, weights_s, jq_s, raw_s, ets_s, theta_s):
    d = tmp_path / name
    d.mkdir()
    models = {
        "jqforecast": {"seconds": jq_s},
        "jqforecast_uncalibrated": {"seconds": raw_s},
        "AutoETS": {"seconds": ets_s},
        "AutoTheta": {"seconds": theta_s},
    }
    metrics = {"weight_learning_seconds": weights_s, "models": models, "members": ["ets", "theta"]}
    (d / "metrics.json").write_text(json.dumps(metrics))
    return d


def test_ratio_counts_weights_forecast_and_recalibration(script, tmp_path, monkeypatch, capsys):
    """By hand: (1.0 + 1.5) / (0.5 + 0.75) = 2.0, (1.2 + 1.2) / (0.6 + 0.6) = 2.0 and
    (0.9 + 0.9) / (0.6 + 0.6) = 1.5; median 2.0. Recalibration is the calibrated row's
    seconds minus the raw mixture's."""
    runs = [
        _run(tmp_path, "a", 1.0, 1.5, 1.25, 0.5, 0.75),
        _run(tmp_path, "b", 1.2, 1.2, 1.0, 0.6, 0.6),
        _run(tmp_path, "c", 0.9, 0.9, 0.9, 0.6, 0.6),
    ]
    out = tmp_path / "speed.json"
    argv = ["ensemble_speed.py", "--runs", *map(str, runs), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    script.main()
    printed = capsys.readouterr().out
    assert "median ratio 2.00 (range 1.50–2.00; goal ≤ 2)" in printed
    assert "ets theta" in printed  # which ensemble each run measured
    result = json.loads(out.read_text())
    by_run = {Path(r["run"]).name: r for r in result["runs"]}
    assert by_run["a"]["ratio"] == pytest.approx(2.0)
    assert by_run["a"]["recalibration"] == pytest.approx(0.25)
    assert by_run["c"]["recalibration"] == 0.0
    assert result["median"]["ratio"] == pytest.approx(2.0)


def test_repeats_run_the_default_members_unless_told(script, tmp_path, monkeypatch):
    """Fresh runs measure the default ensemble's statistical members (``arima`` among them)
    unless ``--member`` names others; the command passes them to ``jqforecast benchmark``."""
    commands = []

    def fake_run(command, **kwargs):
        commands.append(command)
        out = Path(command[command.index("--out") + 1])
        out.mkdir(parents=True, exist_ok=True)  # as the benchmark reuses --out
        members = [command[i + 1] for i, a in enumerate(command) if a == "--member"]
        models = {m: {"seconds": 1.0} for m in ("jqforecast", "AutoETS", "AutoTheta")}
        metrics = {"weight_learning_seconds": 1.0, "models": models, "members": members}
        (out / "metrics.json").write_text(json.dumps(metrics))

    monkeypatch.setattr(script.subprocess, "run", fake_run)
    out = tmp_path / "speed.json"
    for extra in ([], ["--member", "ets", "--member", "theta"]):
        argv = ["ensemble_speed.py", "--repeats", "1", "--out", str(out), *extra]
        monkeypatch.setattr(sys, "argv", argv)
        script.main()
    passed = [[c[i + 1] for i, a in enumerate(c) if a == "--member"] for c in commands]
    assert passed[0] == list(script.JQ_MEMBERS) and "arima" in passed[0]
    assert passed[1] == ["ets", "theta"]
    assert json.loads(out.read_text())["runs"][0]["members"] == "ets theta"
