"""Read, validate and screen a benchmark's train/test pair (the M3/M4 long layout).

``TRAIN.csv`` holds ``unique_id, t, y`` and ``TEST.csv`` ``unique_id, h, y``. Bad cells are
reported as the data layer reports them (:class:`~jqforecast.data.errors.ValidationError`:
file, spreadsheet row, column, value, what was expected), every problem at once. Series that
no model can be scored on fairly are *excluded* from every model's metrics, each with its
reason, so that all rows of the table are computed on the same series:

* fewer than :data:`~jqforecast.engine.MIN_POINTS` training values (after ``max_history``):
  jqforecast's members need three (statsforecast's AutoETS needs more; it falls back to
  Naive there, see :func:`~jqforecast.backtest.baselines.baseline_forecasts`);
* constant training values: the MASE and MSIS scale (mean absolute one-step change) is zero;
* a series in only one of the two files.

A test file with fewer than ``horizon`` values for some series is an error, not an
exclusion: it usually means the wrong ``--horizon``. Missing years inside a training series
(gaps in ``t``) are closed up, as the M4 files have none; :attr:`BenchmarkData.gaps` lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from jqforecast.data.errors import Problem, ValidationError
from jqforecast.data.metrics import Kind
from jqforecast.engine import MIN_POINTS

COLUMNS = {"train": ("unique_id", "t", "y"), "test": ("unique_id", "h", "y")}


@dataclass
class BenchmarkData:
    """The series to score: ids, training histories and ``horizon`` test values each, and
    the series left out with their reasons."""

    ids: list[str]
    histories: list[np.ndarray]
    outcomes: list[np.ndarray]
    excluded: dict[str, str] = field(default_factory=dict)
    gaps: dict[str, int] = field(default_factory=dict)  # series → missing years closed up


def series_kind(y: np.ndarray) -> Kind:
    """How the jqforecast members model a series: logs if every value is positive, log(y + ½)
    if none is negative, the data scale otherwise (:attr:`Kind.REAL`).

    Examples
    --------
    >>> [series_kind(np.array(v)).value for v in ([1.0, 2.0], [0.0, 2.0], [-1.0, 2.0])]
    ['level', 'flow', 'real']
    """
    if (y > 0).all():
        return Kind.LEVEL
    return Kind.FLOW if (y >= 0).all() else Kind.REAL


def _read(path: str | Path, role: str) -> pd.DataFrame:
    """One file, checked cell by cell: every problem is reported, none is dropped silently."""
    frame = pd.read_csv(path, dtype={"unique_id": str})
    key, time_col = "unique_id", COLUMNS[role][1]
    missing = [c for c in COLUMNS[role] if c not in frame.columns]
    if missing:
        raise ValueError(f"{path}: {role} file lacks columns {missing}; expected {COLUMNS[role]}")
    rows = frame.index.to_numpy() + 2  # spreadsheet rows: the header is row 1
    problems = []
    for col, expected in (
        (time_col, "a whole number"),
        ("y", "a finite number"),
    ):
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = ~np.isfinite(values.to_numpy(float))
        if col == time_col:
            bad |= values.to_numpy(float) % 1 != 0
        problems += [
            Problem(str(path), int(r), col, v, expected)
            for r, v in zip(rows[bad], frame[col][bad], strict=True)
        ]
        frame[col] = values
    problems += [
        Problem(str(path), int(r), key, v, "a series name")
        for r, v in zip(rows[frame[key].isna()], frame[key][frame[key].isna()], strict=True)
    ]
    dup = frame.duplicated([key, time_col], keep="first") & frame[key].notna()
    problems += [
        Problem(str(path), int(r), time_col, v, f"one row per {key} and {time_col}")
        for r, v in zip(rows[dup], frame[time_col][dup], strict=True)
    ]
    if problems:
        raise ValidationError(problems)
    return frame.sort_values([key, time_col])


def read_pair(
    train: str | Path, test: str | Path, horizon: int, max_history: int | None = None
) -> BenchmarkData:
    """Read and screen a train/test pair; keep the last ``max_history`` training points.

    Examples
    --------
    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> tr, te = os.path.join(d, "train.csv"), os.path.join(d, "test.csv")
    >>> _ = open(tr, "w").write("unique_id,t,y\\na,1,1\\na,2,2\\na,3,4\\nb,1,5\\nb,2,5\\nb,3,5\\n")
    >>> _ = open(te, "w").write("unique_id,h,y\\na,1,8\\nb,1,5\\n")
    >>> data = read_pair(tr, te, horizon=1)
    >>> data.ids, data.excluded
    (['a'], {'b': 'constant training values: the MASE scale is zero'})
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    tr, te = _read(train, "train"), _read(test, "test")
    if max_history:
        tr = tr.groupby("unique_id", sort=False).tail(max_history)
    hist = {k: g["y"].to_numpy(float) for k, g in tr.groupby("unique_id")}
    spans = tr.groupby("unique_id")["t"].agg(lambda t: int(t.max() - t.min() + 1 - len(t)))
    outs = {k: g["y"].to_numpy(float) for k, g in te.groupby("unique_id")}
    excluded = {k: "no test values" for k in sorted(set(hist) - set(outs))}
    excluded |= {k: "no training values" for k in sorted(set(outs) - set(hist))}
    short = sorted(k for k in set(hist) & set(outs) if len(outs[k]) < horizon)
    if short:
        raise ValueError(
            f"{test}: {len(short)} series have fewer than {horizon} test values (e.g. "
            f"{', '.join(short[:5])}: {len(outs[short[0]])}); is --horizon right?"
        )
    ids = []
    for k in sorted(set(hist) & set(outs)):
        y = hist[k]
        if len(y) < MIN_POINTS:
            excluded[k] = f"{len(y)} training values; the models need at least {MIN_POINTS}"
        elif np.all(y == y[0]):
            excluded[k] = "constant training values: the MASE scale is zero"
        else:
            ids.append(k)
    if not ids:
        raise ValueError(f"no series left to score in {train} and {test}: {excluded}")
    return BenchmarkData(
        ids,
        [hist[k] for k in ids],
        [outs[k][:horizon] for k in ids],
        dict(sorted(excluded.items())),
        {k: int(spans[k]) for k in ids if spans[k] > 0},
    )


def holdout_split(
    train: str | Path, horizon: int, skip: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A train/test pair made from a training file alone: each series' last ``horizon``
    values become its test values (``unique_id, h, y``), the rest its training values.
    With ``skip`` each series' last ``skip`` values are dropped first, so the held-out years
    are an earlier period (a second yardstick: on M3 the last training years are unusual,
    ``benchmarks/RESULTS.md``, session 19).

    This is how a change to the models is judged before the real test years are looked at:
    run the benchmark on the pair this returns (``benchmarks/holdout.py`` writes it), where
    the "test" is still training data. Series with no more than ``horizon + skip`` values
    are left out (they would keep no training value).

    Examples
    --------
    >>> import tempfile, os
    >>> tr = os.path.join(tempfile.mkdtemp(), "train.csv")
    >>> _ = open(tr, "w").write("unique_id,t,y\\na,1,1\\na,2,2\\na,3,4\\na,4,8\\nb,1,5\\n")
    >>> fit, held = holdout_split(tr, horizon=2)
    >>> fit.to_dict("list")
    {'unique_id': ['a', 'a'], 't': [1, 2], 'y': [1, 2]}
    >>> held.to_dict("list")
    {'unique_id': ['a', 'a'], 'h': [1, 2], 'y': [4, 8]}
    >>> fit, held = holdout_split(tr, horizon=2, skip=1)  # the year 4 value dropped first
    >>> fit["y"].tolist(), held["y"].tolist()
    ([1], [2, 4])
    """
    if horizon < 1:
        raise ValueError(f"horizon must be at least 1, got {horizon}")
    if skip < 0:
        raise ValueError(f"skip must be at least 0, got {skip}")
    frame = _read(train, "train")
    by = frame.groupby("unique_id", sort=False)
    ahead = by.cumcount(ascending=False) - skip  # 0 for each series' last value kept
    size = by["t"].transform("size") - skip
    frame = frame[(size > horizon) & (ahead >= 0)]
    ahead = ahead[frame.index]
    held = frame[ahead < horizon].assign(h=horizon - ahead[ahead < horizon])
    fit = frame[ahead >= horizon]
    return (
        fit[["unique_id", "t", "y"]].reset_index(drop=True),
        held[["unique_id", "h", "y"]].reset_index(drop=True),
    )
