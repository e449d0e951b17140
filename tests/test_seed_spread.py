"""benchmarks/seed_spread.py: the spread of benchmark metrics over seeds."""

from __future__ import annotations

import json
import sys

import pytest


@pytest.fixture
def script(load_benchmark):
    return load_benchmark("seed_spread")


def _run(tmp_path, seed, owa, draws=4000, **recorded):
    d = tmp_path / f"run{seed}"
    d.mkdir()
    metrics = recorded | {
        "train": "t.csv",
        "test": "s.csv",
        "horizon": 6,
        "max_history": None,
        "draws": draws,
        "members": ["theta"],
        "combine": "mixture",
        "seed": seed,
        "weights": {"theta": 0.5, "bayes_growth": 0.5},
        "models": {"jqforecast": {"owa": owa, "brier_mean": 0.13, "coverage_80": 0.8}},
    }
    (d / "metrics.json").write_text(json.dumps(metrics))
    return d


def test_spread_over_three_seeds(script, tmp_path, monkeypatch, capsys):
    runs = [_run(tmp_path, s, v) for s, v in [(0, 0.838), (1, 0.842), (2, 0.834)]]
    out = tmp_path / "spread.json"
    argv = ["seed_spread", *map(str, runs), "--models", "jqforecast", "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    script.main()
    rows = {r["metric"]: r for r in json.loads(out.read_text())["table"]}
    assert rows["owa"]["mean"] == pytest.approx(0.838)
    assert rows["owa"]["sd"] == pytest.approx(0.004)  # sample sd of 0.838 ± 0.004
    assert rows["owa"]["range"] == pytest.approx(0.008)
    assert rows["brier_mean"]["sd"] == pytest.approx(0.0)
    assert "seed 2" in capsys.readouterr().out


def test_runs_that_differ_in_more_than_the_seed_are_refused(script, tmp_path, monkeypatch, capsys):
    runs = [_run(tmp_path, 0, 0.84), _run(tmp_path, 1, 0.83, draws=1000)]
    monkeypatch.setattr(sys, "argv", ["seed_spread", *map(str, runs)])
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert exc.value.code == 2 and "'draws'" in capsys.readouterr().err


def test_runs_with_the_shipped_weights_are_not_mixed_with_learned_ones(
    script, tmp_path, monkeypatch, capsys
):
    """A run made before ``weights_from`` was recorded counts as learned weights."""
    older, learned = _run(tmp_path, 0, 0.84), _run(tmp_path, 1, 0.83, weights_from="learned")
    shipped = _run(tmp_path, 2, 0.80, weights_from="reference")
    monkeypatch.setattr(
        sys, "argv", ["seed_spread", str(older), str(learned), "--out", str(tmp_path / "a.json")]
    )
    script.main()
    monkeypatch.setattr(sys, "argv", ["seed_spread", str(learned), str(shipped)])
    with pytest.raises(SystemExit) as exc:
        script.main()
    assert exc.value.code == 2 and "'weights_from'" in capsys.readouterr().err
