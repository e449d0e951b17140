"""How the benchmark spreads its series: the ``map`` (process pool, Dask cluster or in
process), the chunks of series each job gets, and joining the chunks' summaries back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

import numpy as np

from jqforecast.backtest.data import series_kind
from jqforecast.backtest.jq_models import BAYES_CHUNK
from jqforecast.data.metrics import Kind
from jqforecast.engine import Mapper, near_equal_chunks, one_blas_thread

# A worker holds a task's draws (series × draws × horizon per model) until it has reduced
# them (jq_forecasts): ≤ 100 series keep that near 150 MB at 4 000 draws, whatever the data.
TASK_SERIES = 100


@contextmanager
def open_mapper(backend: str, jobs: int, client=None) -> Iterator[Mapper]:
    """The ``map`` the weight backtests and the forecasting chunks run with: a Dask client's
    (``backend="dask"``; a local cluster of ``jobs`` processes unless ``client`` is given),
    a process pool's (``jobs > 1``) or the builtin one. Results do not depend on it."""
    if backend == "dask":
        own = client is None
        if own:
            from dask.distributed import Client

            client = Client(processes=True, n_workers=jobs, threads_per_worker=1)
        try:
            yield lambda fn, items: client.gather(client.map(fn, list(items), pure=False))
        finally:
            if own:
                client.close()
    elif jobs == 1:
        yield map
    else:
        with ProcessPoolExecutor(max_workers=jobs, initializer=one_blas_thread) as pool:
            yield pool.map


def cluster_threads(client) -> int:
    """Worker threads of a Dask cluster (``client``'s): the workers a run on it has, for its
    chunking and its time per worker."""
    workers = client.scheduler_info()["workers"].values()
    return max(sum(int(w["nthreads"]) for w in workers), 1)


def series_chunks(n: int, jobs: int) -> list[np.ndarray]:
    """``range(n)`` in order, in about four chunks a worker of at most :data:`TASK_SERIES`.

    Examples
    --------
    >>> [len(c) for c in series_chunks(645, 2)]
    [81, 81, 81, 81, 81, 80, 80, 80]
    >>> len(series_chunks(23_000, 2))  # M4 Yearly: chunks of at most 100
    230
    >>> [len(c) for c in series_chunks(10, 2)]  # four a worker, however small
    [2, 2, 1, 1, 1, 1, 1, 1]
    """
    return np.array_split(np.arange(n), min(n, max(4 * jobs, -(-n // TASK_SERIES))))


def partition_series(histories: Sequence[np.ndarray], bayes: bool, jobs: int) -> list[np.ndarray]:
    """Indices of the series of each forecasting task.

    With the Bayesian member each task is one pooled fit: the positive series, in file order, in
    near-equal chunks of at most :data:`~jqforecast.backtest.jq_models.BAYES_CHUNK` (so the fits,
    and every number, are the same whatever the number of workers), and the other series in tasks of
    their own. Without it, about four tasks a worker, of at most :data:`TASK_SERIES` series (the
    single-series members' draws are keyed by series, so the split does not change them either).
    """
    if not bayes:
        return series_chunks(len(histories), jobs)
    positive = np.array([series_kind(y) is Kind.LEVEL for y in histories])
    parts = []
    for idx in (np.flatnonzero(positive), np.flatnonzero(~positive)):
        if len(idx):
            parts += near_equal_chunks(idx, BAYES_CHUNK)
    return parts


def join_chunks(chunks: list[dict[str, dict[str, np.ndarray]]]) -> dict[str, dict[str, np.ndarray]]:
    """Per model and quantity, the chunks' arrays joined along the series axis, in order."""
    first = chunks[0]
    return {m: {k: np.concatenate([c[m][k] for c in chunks]) for k in first[m]} for m in first}
