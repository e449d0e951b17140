"""Benchmark metrics on hand-computed cases, and the harness end to end on a tiny slice."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jqforecast.backtest import metrics as M
from jqforecast.backtest.scores import crps_sample
from jqforecast.engine import MIN_POINTS, resolve_models

M3 = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "m3_yearly"
# the statistical ensemble alone, in process: the harness's cheapest full run
STATISTICAL = {"jobs": 1, "models": ["jqforecast"], "bayes": False}


def test_smape_mase_owa_hand_computed():
    y = np.array([[100.0, 200.0]])
    f = np.array([[110.0, 180.0]])
    # sMAPE = 200/2 (10/210 + 20/380)
    assert M.smape(y, f)[0] == pytest.approx(100 * (10 / 210 + 20 / 380))
    hist = [np.array([10.0, 12.0, 11.0, 15.0])]  # naive errors 2, 1, 4 → scale 7/3
    scale = M.mase_scale(hist)
    assert scale[0] == pytest.approx(7 / 3)
    assert M.mase(y, f, scale)[0] == pytest.approx(15 / (7 / 3))
    assert M.owa(10.0, 2.0, 20.0, 4.0) == pytest.approx(0.5)
    # an exact forecast of zero scores 0, not 0/0
    assert M.smape(np.array([[0.0, 5.0]]), np.array([[0.0, 5.0]]))[0] == 0.0
    assert M.smape(np.array([[0.0]]), np.array([[3.0]]))[0] == pytest.approx(200.0)


def test_coverage_and_msis():
    y = np.array([[1.0, 5.0, 10.0]])
    lo, hi = np.full((1, 3), 2.0), np.full((1, 3), 8.0)
    assert M.coverage(y, lo, hi) == pytest.approx(1 / 3)
    # widths 6 each; misses: 1 below by 1, 1 above by 2 → (18 + 40·1 + 40·2)/3
    assert M.msis(y, lo, hi, np.array([1.0]))[0] == pytest.approx((18 + 40 + 80) / 3)


def test_crps_of_known_distributions():
    rng = np.random.default_rng(0)
    samples = rng.normal(1.0, 2.0, 200_000)
    exact = M.crps_normal(np.array(0.5), np.array(1.0), np.array(2.0))
    assert crps_sample(samples, 0.5) == pytest.approx(float(exact), rel=0.01)
    assert crps_sample(np.array([3.0, 3.0]), 3.0) == 0.0  # a point mass at the outcome


def test_event_probabilities_and_scores():
    last = np.array([100.0])
    probs = M.event_probabilities_gaussian(np.array([110.0]), np.array([10.0]), last)
    assert probs["p_ge_p10"][0] == pytest.approx(0.5)
    assert probs["p_ge_0"][0] == pytest.approx(0.8413447, rel=1e-6)
    assert M.brier(np.array([0.8, 0.2]), np.array([1.0, 0.0])) == pytest.approx(0.04)
    assert M.log_score(np.array([0.5]), np.array([1.0])) == pytest.approx(np.log(2))
    table = M.reliability_table(np.array([0.05, 0.15, 0.95]), np.array([0.0, 1.0, 1.0]), bins=10)
    assert table.loc[0, "n"] == 1 and table.loc[9, "observed_freq"] == 1.0


def test_sample_summaries_score_as_the_gaussian_they_were_drawn_from():
    """A sample model is reduced to summaries in the workers (`summarise`) and scored from
    them; drawn from known Gaussians it must score as those Gaussians do in closed form."""
    from scipy import stats

    from jqforecast.backtest.jq_models import summarise
    from jqforecast.backtest.scoreboard import score

    rng = np.random.default_rng(1)
    n, draws, horizon = 40, 20_000, 3
    mu = rng.uniform(50, 150, (n, horizon))
    sd = rng.uniform(5, 20, (n, horizon))
    histories = [rng.uniform(80, 120, 8) for _ in range(n)]
    last = np.array([h[-1] for h in histories])
    y = mu + sd * rng.standard_normal((n, horizon))
    samples = mu[:, None, :] + sd[:, None, :] * rng.standard_normal((n, draws, horizon))
    gauss = {"mean": mu}
    for level, (lo, hi) in {80: ("lo-80", "hi-80"), 95: ("lo-95", "hi-95")}.items():
        z = stats.norm.ppf(0.5 + level / 200)
        gauss |= {lo: mu - z * sd, hi: mu + z * sd}
    fc = {"Naive2": gauss, "sampled": summarise(samples, y, last)}
    rows, table, _ = score([f"s{i}" for i in range(n)], histories, list(y), fc, event_h=2)
    exact, sampled = rows["Naive2"], rows["sampled"]
    assert sampled["crps_scaled"] == pytest.approx(exact["crps_scaled"], rel=0.01)
    assert sampled["smape"] == pytest.approx(exact["smape"], rel=0.01)
    assert sampled["brier_mean"] == pytest.approx(exact["brier_mean"], abs=0.005)
    for c in ("coverage_80", "coverage_95"):
        assert sampled[c] == pytest.approx(exact[c], abs=0.03)
    # forecasts.csv: a row per model, series and step, series by series; the event
    # probabilities only on the rows of the event's step
    assert len(table) == 2 * n * horizon
    rows_s = table[table["model"] == "sampled"]
    assert list(rows_s["unique_id"][:4]) == ["s0", "s0", "s0", "s1"]
    assert list(rows_s["h"][:4]) == [1, 2, 3, 1]
    assert rows_s["p_ge_0"].notna().to_numpy().tolist() == [False, True, False] * n
    p_exact = 1 - stats.norm.cdf((last - mu[:, 1]) / sd[:, 1])
    np.testing.assert_allclose(rows_s.loc[rows_s["h"] == 2, "p_ge_0"], p_exact, atol=0.015)


@pytest.mark.skipif(not M3.exists(), reason="../shared/benchmarks not beside the repository")
def test_baselines_in_chunks_are_the_baselines_on_all_series_at_once():
    """The baselines go to the workers in chunks; each fit is per series, so the chunks
    must give what one statsforecast call on every series gives, in the input's order."""
    from jqforecast.backtest.baselines import baseline_chunk, baseline_forecasts

    train = pd.read_csv(M3 / "m3_yearly_train.csv")
    ids = sorted(train["unique_id"].unique())[:12][::-1]  # not in the file's order
    histories = [train.loc[train["unique_id"] == i, "y"].to_numpy() for i in ids]
    chunked, seconds = baseline_forecasts(ids, histories, 6, jobs=2)  # 8 chunks
    whole, _ = baseline_chunk((ids, histories, 6))
    assert set(chunked) == {"Naive", "Naive2", "RWD", "AutoETS", "AutoTheta", "AutoARIMA"}
    for name, f in whole.items():
        for column, values in f.items():
            np.testing.assert_array_equal(chunked[name][column], values, err_msg=name)
    np.testing.assert_array_equal(chunked["Naive"]["mean"][:, 0], [h[-1] for h in histories])
    assert all(s > 0 for s in seconds.values())


def test_recalibration_is_applied_in_the_worker_and_timed_as_part_of_the_forecast():
    """A non-identity recalibration (PITs bunched at ½: intervals too wide) narrows the
    ``jqforecast`` intervals against the raw mixture kept beside it, and its time counts in
    ``jqforecast``'s seconds (it is part of the forecast the user gets)."""
    from jqforecast.backtest.jq_models import UNCALIBRATED, Task, jq_forecasts
    from jqforecast.models.calibration import PITCalibration

    rng = np.random.default_rng(0)
    histories = [100 * np.exp(np.cumsum(rng.normal(0.05, 0.1, 12))) for _ in range(3)]
    outcomes = [h[-1] * np.exp(np.cumsum(rng.normal(0.05, 0.1, 4))) for h in histories]
    pits = np.clip(0.5 + 0.1 * rng.standard_normal(600), 0, 1)
    calibration = PITCalibration.fit(pits, np.repeat([1, 2, 3, 4], 150))
    assert not calibration.is_identity
    task = Task(
        ["a", "b", "c"], histories, 4, ["jqforecast"], {"rw_drift": 1.0}, 2000, 0,
        False, ("rw_drift",), "mixture", outcomes, 2, calibration,
    )  # fmt: skip
    summaries, seconds, _, _ = jq_forecasts(task)
    raw, moved = summaries[UNCALIBRATED], summaries["jqforecast"]
    assert ((moved["hi-80"] - moved["lo-80"]) < 0.8 * (raw["hi-80"] - raw["lo-80"])).all()
    assert seconds["jqforecast"] > seconds[UNCALIBRATED] > 0


def test_each_member_is_fitted_once_for_its_own_row_and_the_ensemble(monkeypatch):
    """Scored alone and inside ``jqforecast`` on the same task, a member is fitted once per
    series (the second row reuses the fit) and every row's paths are the very paths of a
    task that asks for that row alone; the reused fit's time is still charged to each row."""
    from jqforecast.backtest.jq_models import Task, jq_samples
    from jqforecast.models.statistical import AutoARIMA

    fits = []
    fit = AutoARIMA.fit

    def slow_fit(self, y):  # 0.1 s a fit: its time must show in both rows
        fits.append(len(y))
        time.sleep(0.1)
        return fit(self, y)

    monkeypatch.setattr(AutoARIMA, "fit", slow_fit)
    rng = np.random.default_rng(3)
    histories = [100 * np.exp(np.cumsum(rng.normal(0.05, 0.1, 12))) for _ in range(3)]
    members = ("rw_drift", "arima", "theta")
    weights = {"rw_drift": 0.2, "arima": 0.5, "theta": 0.3}

    def task(models):
        return Task(["a", "b", "c"], histories, 4, models, weights, 500, 0, False, members)

    together, seconds, _, _ = jq_samples(task(["jqforecast", "arima", "theta"]))
    assert fits == [12, 12, 12]  # not 6: one fit per series served both rows
    for name in ("jqforecast", "arima", "theta"):
        alone, _, _, _ = jq_samples(task([name]))
        np.testing.assert_array_equal(together[name], alone[name])
    assert seconds["arima"] >= 0.3 and seconds["jqforecast"] >= 0.3  # 3 fits in each row
    assert seconds["theta"] < 0.3


def _slice(tmp_path, n=6):
    train = pd.read_csv(M3 / "m3_yearly_train.csv")
    test = pd.read_csv(M3 / "m3_yearly_test.csv")
    ids = sorted(train["unique_id"].unique())[:n]
    tr, te = tmp_path / "train.csv", tmp_path / "test.csv"
    train[train["unique_id"].isin(ids)].to_csv(tr, index=False)
    test[test["unique_id"].isin(ids)].to_csv(te, index=False)
    return tr, te


def _write_pair(tmp_path, train_rows, test_rows):
    tr, te = tmp_path / "train.csv", tmp_path / "test.csv"
    pd.DataFrame(train_rows, columns=["unique_id", "t", "y"]).to_csv(tr, index=False)
    pd.DataFrame(test_rows, columns=["unique_id", "h", "y"]).to_csv(te, index=False)
    return tr, te


def test_bad_input_cells_are_named_by_file_row_and_column(tmp_path):
    from jqforecast.backtest.data import read_pair
    from jqforecast.data.errors import ValidationError

    train = [["a", 1, 1.0], ["a", 2, "x"], ["a", 3, None], ["a", 3, 4.0], ["a", 4.5, 4.0]]
    tr, te = _write_pair(tmp_path, train, [["a", 1, 2.0]])
    with pytest.raises(ValidationError) as err:
        read_pair(tr, te, horizon=1)
    found = {(p.row, p.column, p.expected) for p in err.value.problems}
    assert found == {
        (3, "y", "a finite number"),
        (4, "y", "a finite number"),
        (5, "t", "one row per unique_id and t"),
        (6, "t", "a whole number"),
    }
    assert all(p.file == str(tr) for p in err.value.problems)
    assert "train.csv, row 3, column 'y': got 'x'" in str(err.value)
    tr, te = _write_pair(tmp_path, [["a", t, t] for t in range(1, 6)], [["a", 1, 6.0]])
    with pytest.raises(ValueError, match="fewer than 2 test values.*--horizon"):
        read_pair(tr, te, horizon=2)
    pd.DataFrame({"unique_id": ["a"], "t": [1]}).to_csv(tr, index=False)
    with pytest.raises(ValueError, match=r"lacks columns \['y'\]"):
        read_pair(tr, te, horizon=1)


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 12), min_size=1, max_size=5),
    horizon=st.integers(1, 6),
    skip=st.integers(0, 4),
)
def test_holdout_split_is_the_training_file_cut_at_the_horizon(
    tmp_path_factory, lengths, horizon, skip
):
    """Held-out values are each long-enough series' last ``horizon`` values (after its last
    ``skip`` are dropped), in order; the rest is its training part; together they are the
    file without the skipped values, and short series go."""
    from jqforecast.backtest.data import holdout_split, read_pair

    rows = [
        [f"s{i}", 1990 + t, float(10 * i + t * t)] for i, n in enumerate(lengths) for t in range(n)
    ]
    tr, _ = _write_pair(tmp_path_factory.mktemp("h"), rows[::-1], [])  # any row order
    fit, held = holdout_split(tr, horizon, skip)
    lengths = [n - skip for n in lengths]
    rows = [r for r in rows if r[1] - 1990 < lengths[int(r[0][1:])]]
    kept = {f"s{i}" for i, n in enumerate(lengths) if n > horizon}
    assert set(fit["unique_id"]) == set(held["unique_id"]) == kept
    steps = held.groupby("unique_id")["h"].agg(list)
    assert all(h == list(range(1, horizon + 1)) for h in steps)
    for sid in kept:
        original = [r[2] for r in rows if r[0] == sid]
        again = fit.loc[fit["unique_id"] == sid, "y"].tolist()
        assert again + held.loc[held["unique_id"] == sid, "y"].tolist() == original
        assert fit.loc[fit["unique_id"] == sid, "t"].is_monotonic_increasing
    if any(n - horizon >= MIN_POINTS for n in lengths):  # the pair is what the harness reads
        d = tmp_path_factory.mktemp("pair")
        fit.to_csv(d / "train.csv", index=False), held.to_csv(d / "test.csv", index=False)
        data = read_pair(d / "train.csv", d / "test.csv", horizon)
        assert set(data.ids) | set(data.excluded) == kept


def test_harness_scores_awkward_series_on_the_same_footing(tmp_path):
    """Series too short for some members, too short or constant to score, with zeros or
    negative values, and a one-year horizon: every model scores the same series, the ones
    left out are listed with their reasons, members too short for a series fall back to the
    random walk with drift (counted), negative series get negative forecasts."""
    from jqforecast.backtest.benchmark import run_benchmark

    rng = np.random.default_rng(5)
    train, test = [], []
    series = {f"p{n}": 100 * np.exp(np.cumsum(rng.normal(0.05, 0.1, n + 1))) for n in (3, 5, 12)}
    series |= {
        "neg": rng.normal(-20, 5, 11),
        "zeros": np.r_[0, 2, 0, 3, 4, 0, 5.0],
        "flat": [5.0] * 6,
    }
    series |= {"two": np.r_[1.0, 2.0, 3.0]}
    for uid, y in series.items():
        train += [[uid, t + 1 + (uid == "neg" and t > 4), v] for t, v in enumerate(y[:-1])]
        test.append([uid, 1, y[-1]])
    test.append(["only_test", 1, 1.0])
    tr, te = _write_pair(tmp_path, train, test)
    result = run_benchmark(
        tr, te, 1, tmp_path / "out", jobs=1, draws=300, models=["jqforecast", "ets"], bayes=False
    )
    assert result["excluded"] == {
        "flat": "constant training values: the MASE scale is zero",
        "only_test": "no training values",
        "two": "2 training values; the models need at least 3",
    }
    assert result["series"] == 5 and result["event_h"] == 1
    assert result["gaps_closed_up"] == {"neg": 1}
    models = result["models"]
    for name, row in models.items():
        assert all(np.isfinite(row[k]) for k in ("smape", "mase", "owa", "crps_scaled")), name
    # ets needs 7 points: p3, p5 and zeros fall back; AutoETS falls back to Naive on p3, p5
    assert models["ets"]["fallback_series"] == 3 and models["jqforecast"]["fallback_series"] == 0
    assert models["AutoETS"]["fallback_series"] >= 2
    fc = pd.read_csv(tmp_path / "out" / "forecasts.csv")
    assert len(fc) == 5 * len(models) and fc["p_ge_0"].notna().all()
    neg = fc[(fc["unique_id"] == "neg") & (fc["model"] == "jqforecast")].iloc[0]
    assert neg["hi-95"] < 0 and neg["lo-95"] < neg["mean"] < neg["hi-95"]
    zeros = fc[(fc["unique_id"] == "zeros") & (fc["model"] == "jqforecast")].iloc[0]
    assert zeros["lo-95"] >= 0


@pytest.mark.slow
@pytest.mark.skipif(not M3.exists(), reason="../shared/benchmarks not beside the repository")
def test_harness_end_to_end_on_a_slice(tmp_path):
    from typer.testing import CliRunner

    from jqforecast.cli import app

    tr, te = _slice(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "benchmark",
            "--train",
            str(tr),
            "--test",
            str(te),
            "--horizon",
            "6",
            "--out",
            str(out),
            "--jobs",
            "1",
            "--draws",
            "200",
            "--max-history",
            "10",
            "--weight-series",
            "4",
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    models = metrics["models"]
    # the weights were learned on 4 of the 6 series, listed so the run can be reproduced
    ids = set(pd.read_csv(tr)["unique_id"])
    assert len(set(metrics["weight_series"])) == 4 and set(metrics["weight_series"]) <= ids
    assert {"jqforecast", "theta", "Naive2", "AutoETS", "AutoTheta", "AutoARIMA", "RWD"} <= set(
        models
    )
    # the pooled Bayesian member ran and holds its share of the default ensemble's draws
    assert "bayes_growth" in models and "bayes_growth" in metrics["weights"]
    assert metrics["bayes_fits"]["chunks"] >= 1 and metrics["bayes_fits"]["points"] == 15
    assert models["Naive2"]["owa"] == pytest.approx(1.0)
    # time in all and per series (issue #5), and its parts, which it contains
    parts = ("weight_learning_seconds", "jq_wall_seconds", "baselines_wall_seconds")
    assert metrics["total_seconds"] >= sum(metrics[k] for k in parts) > 0
    assert metrics["seconds_per_series"] == pytest.approx(metrics["total_seconds"] / 6)
    assert "s a series" in result.output
    # 10 points leave no origin with 6 years to score for a member needing 7 (ets): the
    # backtests score steps 1-3 only, and the run records that the later steps are not
    assert metrics["weights_info"]["steps_not_backtested"] == [4, 5, 6]
    assert set(metrics["weights_info"]["cases_per_step"]) == {"1", "2", "3"}
    # the recalibration learned on the training backtests is recorded; when it moves the
    # quantiles, the raw mixture is scored beside the default so its effect is measured
    recalibrated = any(metrics["calibration"].get("applied", {}).values())
    assert ("jqforecast_uncalibrated" in models) == recalibrated
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert len(forecasts) == 6 * 6 * len(models)
    h2 = forecasts[forecasts["h"] == 2]
    assert h2[["p_ge_m10", "p_ge_0", "p_ge_p10", "p_ge_p25"]].notna().all().all()
    # probabilities of nested events are ordered: P(≥ −10%) ≥ P(≥ 0) ≥ P(≥ +10%) ≥ P(≥ +25%)
    assert (h2["p_ge_m10"] >= h2["p_ge_0"] - 1e-12).all()
    assert (h2["p_ge_p10"] >= h2["p_ge_p25"] - 1e-12).all()
    assert (out / "reliability.png").stat().st_size > 0
    # recompute one metric independently from forecasts.csv
    test = pd.read_csv(te).rename(columns={"y": "actual"})
    naive = forecasts[forecasts["model"] == "Naive"].merge(test, on=["unique_id", "h"])
    inside = (naive["actual"] >= naive["lo-95"]) & (naive["actual"] <= naive["hi-95"])
    assert inside.mean() == pytest.approx(models["Naive"]["coverage_95"])


@pytest.mark.slow
@pytest.mark.skipif(not M3.exists(), reason="../shared/benchmarks not beside the repository")
def test_dask_backend_gives_the_same_numbers(tmp_path):
    """A running Dask cluster, reached by its scheduler's address (``--scheduler``, as a
    cluster of several machines would be), gives every number the local run gives."""
    from dask.distributed import LocalCluster
    from typer.testing import CliRunner

    from jqforecast.backtest.benchmark import run_benchmark
    from jqforecast.cli import app

    tr, te = _slice(tmp_path, n=4)
    local = run_benchmark(
        tr, te, 6, tmp_path / "local", jobs=1, draws=100, models=["theta", "rw_drift"]
    )
    command = ["benchmark", "--train", str(tr), "--test", str(te), "--out", str(tmp_path / "dask")]
    command += ["--draws", "100", "--models", "theta", "--models", "rw_drift"]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False) as cluster:
        ran = CliRunner().invoke(app, [*command, "--scheduler", cluster.scheduler_address])
    assert ran.exit_code == 0, ran.output
    dask = json.loads((tmp_path / "dask" / "metrics.json").read_text())
    # the cluster's one worker thread is the run's one worker
    assert (dask["backend"], dask["jobs"]) == ("dask", 1)
    assert dask["dask_scheduler"] == cluster.scheduler_address
    # every row, the statsforecast baselines included (they run on the workers too)
    assert set(dask["models"]) == set(local["models"]) >= {"theta", "AutoARIMA", "Naive2"}
    for m, scores in local["models"].items():
        for k in ("smape", "mase", "crps_scaled", "coverage_95", "brier_mean"):
            assert dask["models"][m][k] == scores[k], (m, k)


def test_an_unreachable_scheduler_is_a_clear_error(tmp_path):
    from typer.testing import CliRunner

    from jqforecast.cli import app

    command = ["benchmark", "--train", "a.csv", "--test", "b.csv", "--out", str(tmp_path)]
    ran = CliRunner().invoke(app, [*command, "--scheduler", "nonsense://nowhere"])
    assert ran.exit_code == 1
    assert "cannot reach the Dask scheduler" in ran.output and "nonsense://nowhere" in ran.output
    assert not any(tmp_path.iterdir())  # nothing written


@settings(max_examples=60, deadline=None)
@given(
    signs=st.lists(st.sampled_from([1.0, 0.0, -1.0]), min_size=1, max_size=260),
    jobs=st.integers(1, 16),
)
def test_pooled_fits_do_not_depend_on_the_number_of_workers(signs, jobs):
    """With the Bayesian member each forecasting task is one pooled fit of positive series
    (≤ 50, near-equal, in file order) whatever ``jobs`` is; every series is in one task."""
    from jqforecast.backtest.distribute import partition_series
    from jqforecast.backtest.jq_models import BAYES_CHUNK

    histories = [np.array([1.0, 2.0, s]) for s in signs]  # positive iff the sign is +
    parts = partition_series(histories, True, jobs)
    assert [p.tolist() for p in parts] == [p.tolist() for p in partition_series(histories, True, 1)]
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(signs)))
    for p in parts:
        assert len({signs[i] > 0 for i in p}) == 1 and (np.diff(p) > 0).all()
    positive = [len(p) for p in parts if signs[p[0]] > 0]
    assert all(n <= BAYES_CHUNK for n in positive)
    assert not positive or max(positive) - min(positive) <= 1


def test_bayes_samples_mix_windows():
    """Several windows mix fits on each: the draws are shared as they divide, the first
    window's share depends only on its last values (a change just outside it moves the other
    share only), and one diagnostics entry per fit."""
    from jqforecast.backtest.jq_models import bayes_samples

    rng = np.random.default_rng(3)
    ids = ["a", "b", "c"]
    histories = [np.exp(np.cumsum(rng.normal(0.05, 0.1, 9))) for _ in ids]
    fast = {"draws": 200, "tune": 200}  # faster than 60 + 60 (MultiSeriesModel: draws, tune)

    def run(hs, windows):
        return bayes_samples(ids, hs, 2, 7, 0, settings=fast | {"max_points": windows})

    mixed, diag = run(histories, (4, 6))
    assert len(diag) == 2 and all(p.shape == (7, 2) for p in mixed.values())
    moved = [h.copy() for h in histories]
    moved[0][-5] *= 1.5  # inside the last 6 values, outside the last 4
    again, _ = run(moved, (4, 6))
    for k in ids:
        np.testing.assert_array_equal(mixed[k][:4], again[k][:4])  # the 4-point share: 4 draws
    assert not np.allclose(mixed["a"][4:], again["a"][4:])


@pytest.mark.skipif(not M3.exists(), reason="../shared/benchmarks not beside the repository")
@pytest.mark.parametrize("combine", ["mixture", "quantile"])
def test_ensemble_members_can_be_chosen(tmp_path, combine):
    """Only the chosen members are backtested and combined (the fast statistical ensemble),
    by either method, weights learned for it; a member name the harness does not know is a
    clear error."""
    from jqforecast.backtest.benchmark import run_benchmark

    tr, te = _slice(tmp_path, n=6)
    chosen = ["theta", "damped_drift"]
    result = run_benchmark(
        tr, te, 6, tmp_path / "out", draws=100, members=chosen, combine=combine, **STATISTICAL
    )
    assert result["combine"] == combine
    assert result["weights_info"]["method"].startswith(f"min {combine} CRPS (rolling origin)")
    assert result["weights_info"]["bagged"] == 50
    assert result["members"] == chosen
    assert set(result["weights"]) == set(chosen)
    assert len(result["weights_info"]["crps_members"]) == len(chosen)
    # full histories: every step of the horizon is backtested
    per_step = result["weights_info"]["cases_per_step"]
    assert (
        list(per_step) == [1, 2, 3, 4, 5, 6]
        and "steps_not_backtested" not in result["weights_info"]
    )
    assert "jqforecast" in result["models"]
    with pytest.raises(ValueError, match="unknown ensemble members.*'nope'"):
        run_benchmark(tr, te, 6, tmp_path / "bad", members=["theta", "nope"], bayes=False)


@pytest.mark.skipif(not M3.exists(), reason="../shared/benchmarks not beside the repository")
def test_shipped_reference_weights_can_be_scored(tmp_path):
    """``weights_from="reference"`` scores the weights and recalibration shipped for short
    series (what the park's forecast uses) instead of learning any: nothing is backtested,
    the statistical set is used without the Bayesian member, and its recalibration is applied
    (the raw mixture scored beside it) as with learned weights."""
    from jqforecast.backtest.benchmark import run_benchmark
    from jqforecast.backtest.jq_models import JQ_MEMBERS
    from jqforecast.engine import reference_weights

    tr, te = _slice(tmp_path, n=6)
    shipped_config = {"draws": 200, "max_history": 7, "weights_from": "reference"}
    result = run_benchmark(tr, te, 2, tmp_path / "out", **shipped_config, **STATISTICAL)
    shipped, provenance = reference_weights(resolve_models(list(JQ_MEMBERS)))
    assert provenance["members"] == "statistical"
    assert result["weights"] == shipped and result["weights_from"] == "reference"
    assert result["weights_info"]["method"].startswith("reference")
    assert result["weights_info"]["method"].endswith("--weights reference")
    assert result["weight_series"] == []
    assert result["calibration"]["maps"] == provenance["calibration"]["maps"]
    applied = any(result["calibration"]["applied"].values())
    assert ("jqforecast_uncalibrated" in result["models"]) == applied
    with pytest.raises(ValueError, match="weights_from must be one of learned, reference"):
        run_benchmark(tr, te, 2, tmp_path / "bad", bayes=False, weights_from="shipped")
    from typer.testing import CliRunner

    from jqforecast.cli import EXIT_DATA, app

    args = ["benchmark", "--train", str(tr), "--test", str(te), "--out", str(tmp_path / "cli")]
    bad = CliRunner().invoke(app, [*args, "--weights", "shipped"])
    assert bad.exit_code == EXIT_DATA and "--weights must be one of learned, reference" in (
        bad.output
    )
    assert not (tmp_path / "cli").exists()  # refused before anything ran or was written


@pytest.mark.slow
def test_backtests_spread_over_processes_give_the_same_weights():
    """The benchmark runs the weight backtests (single-series members per series, pooled
    Bayesian fits per origin) through a process pool: the weights and the recalibration
    must be those of the in-process run, to the digit (every draw is keyed, not ordered)."""
    from concurrent.futures import ProcessPoolExecutor

    from jqforecast.backtest.jq_models import benchmark_series
    from jqforecast.data.metrics import Kind
    from jqforecast.engine import learn_weights
    from jqforecast.models.bayes import HierarchicalGrowth
    from jqforecast.models.statistical import DampedDrift, Theta

    rng = np.random.default_rng(4)
    series = [
        benchmark_series(f"s{i}", 100 * np.exp(np.cumsum(rng.normal(0.05, 0.1, 12))), Kind.LEVEL)
        for i in range(6)
    ]
    members = [Theta(), DampedDrift(), HierarchicalGrowth(draws=200, tune=200, max_points=8)]
    here = learn_weights(series, members, 3, 2, backtest_multi=True)
    with ProcessPoolExecutor(max_workers=2) as pool:
        spread = learn_weights(series, members, 3, 2, backtest_multi=True, mapper=pool.map)
    assert spread[0] == here[0]
    assert spread[1]["calibration"] == here[1]["calibration"]
    assert here[0]["bayes_growth"] > 0  # the pooled member was backtested and weighted


@given(
    st.integers(1, 4),
    st.integers(1, 30),
    st.integers(1, 30),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
@settings(max_examples=60, deadline=None)
def test_mean_abs_diff_is_the_average_over_all_pairs(batch, n, m, seed, ties):
    """The running-sum E|A − B| equals the brute-force mean of |a_i − b_j| over all pairs,
    batched, with ties within and across the samples (rounded values)."""
    from jqforecast.backtest.scores import mean_abs_diff

    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=(batch, n)), rng.normal(1.0, 2.0, size=(batch, m))
    if ties:
        a, b = np.round(a), np.round(b)
    brute = np.abs(a[:, :, None] - b[:, None, :]).mean(axis=(1, 2))
    np.testing.assert_allclose(mean_abs_diff(a, b), brute, rtol=1e-12, atol=1e-12)
