"""benchmarks/weight_learning_phases.py: jobs grouped into the map calls that ran them."""

from __future__ import annotations

import pytest


@pytest.fixture
def script(load_benchmark):
    return load_benchmark("weight_learning_phases")


def test_phases_measure_wall_busy_and_idle_per_map_call(script):
    """Two workers: a pooled phase where one 150 s fit keeps a worker busy while the other
    waits 90 s, then a phase of small jobs that keeps both busy."""
    log = [
        (1, "_pooled_backtest_fit", 10.0, 40.0),
        (2, "_pooled_backtest_fit", 10.0, 160.0),
        (1, "_pooled_backtest_fit", 40.0, 70.0),
        (2, "_origin_paths", 160.0, 170.0),
        (1, "_origin_paths", 160.0, 170.0),
    ]
    pooled, single = script.phases(log, workers=2)
    assert (pooled["name"], pooled["count"], pooled["start"]) == ("_pooled_backtest_fit", 3, 0.0)
    assert pooled["wall"] == 150.0 and pooled["busy"] == 210.0 and pooled["idle"] == 90.0
    assert pooled["seconds"] == [30.0, 150.0, 30.0]
    assert (single["start"], single["wall"], single["idle"]) == (150.0, 10.0, 0.0)


def test_job_names_look_through_partials_and_chunking(script):
    from functools import partial

    from jqforecast.engine.backtest import _origin_paths
    from jqforecast.engine.parallel import _each

    chunked = partial(_each, partial(_origin_paths, seed=0))
    assert script._job_name(chunked) == "_origin_paths"
    assert script._job_name(partial(abs)) == "abs"
