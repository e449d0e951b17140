"""benchmarks/_common.point_scores and the point-forecast probes built on it, by hand."""

from __future__ import annotations

import json
import sys

import pandas as pd
import pytest


@pytest.fixture
def run(tmp_path):
    """Two series, two years ahead. A: 1, 2, 3 → 4, 5; B: 10, 10, 12 → 12, 14 (MASE scales
    1 and 1). Naive2 (= naive, no season) says 3, 3 and 12, 12; ``jqforecast`` is exact on A
    and naive on B; the baselines are all naive."""
    train = pd.DataFrame(
        {"unique_id": ["A"] * 3 + ["B"] * 3, "t": [1, 2, 3] * 2, "y": [1, 2, 3, 10, 10, 12]}
    )
    test = pd.DataFrame({"unique_id": ["B", "B", "A", "A"], "h": [2, 1, 2, 1], "y": [14, 12, 5, 4]})
    naive = {("A", 1): 3.0, ("A", 2): 3.0, ("B", 1): 12.0, ("B", 2): 12.0}
    jq = {("A", 1): 4.0, ("A", 2): 5.0, ("B", 1): 12.0, ("B", 2): 12.0}
    rows = [
        {
            "unique_id": uid,
            "model": model,
            "h": h,
            "mean": (jq if model == "jqforecast" else naive)[(uid, h)],
        }
        for model in ("jqforecast", "Naive2", "Naive", "RWD", "AutoETS", "AutoTheta", "AutoARIMA")
        for uid, h in naive
    ]
    (tmp_path / "run").mkdir()
    pd.DataFrame(rows).to_csv(tmp_path / "run" / "forecasts.csv", index=False)
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    return tmp_path


# sMAPE of the naive forecasts: A 200·1/7, 200·2/8; B 0, 200·2/26; of jqforecast: B's last only
NAIVE_SMAPE = (200 / 7 + 50 + 0 + 400 / 26) / 4
JQ_SMAPE = (400 / 26) / 4
# MASE: naive (1.5 + 1) / 2, jqforecast (0 + 1) / 2
JQ_OWA = 0.5 * (JQ_SMAPE / NAIVE_SMAPE + 0.5 / 1.25)


def test_point_scores_by_hand(run, load_benchmark):
    common = load_benchmark("_common")
    points = common.point_scores(run / "train.csv", run / "test.csv", run / "run")
    assert points.scores("Naive2") == pytest.approx((NAIVE_SMAPE, 1.25))
    assert points.scores("jqforecast") == pytest.approx((JQ_SMAPE, 0.5))
    assert points.owa("Naive2") == pytest.approx(1.0)
    assert points.owa("jqforecast") == pytest.approx(JQ_OWA)
    assert points.owa(points.table["y"]) == 0.0  # values in the table's order: exact
    # max_history keeps the last points: B's last two (10, 12) have scale 2, A's (2, 3) 1
    short = common.point_scores(run / "train.csv", run / "test.csv", run / "run", 2)
    assert list(short.scale) == [1.0, 2.0]


def test_point_combo_probe_scores_combinations(run, load_benchmark, monkeypatch, capsys):
    probe = load_benchmark("point_combo_probe")
    out = run / "probe.json"
    argv = ["point_combo_probe.py", "--train", str(run / "train.csv"), "--test"]
    argv += [str(run / "test.csv"), "--run", str(run / "run"), "--out", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    probe.main()
    owa = json.loads(out.read_text())["owa"]["run"]
    assert owa["jqforecast"] == pytest.approx(JQ_OWA)
    assert owa["mean(ETS, Theta, ARIMA)"] == pytest.approx(1.0)  # all naive
    assert owa["median(jq, ETS, Theta, ARIMA)"] == pytest.approx(1.0)  # three naive of four
    assert owa["0.8 jq + 0.2 RWD"] < 1.0
    assert "jqforecast" in capsys.readouterr().out
