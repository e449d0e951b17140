"""The forecast engine: from the validated long table to joint sample paths.

One module per step of the data flow, each usable on its own:

- :mod:`~jqforecast.engine.series` — series on their unconstrained scales
  (:func:`prepare`), the members that suit them (:func:`resolve_models`,
  :func:`~jqforecast.engine.series.applies`), one member's bounded paths for one series;
- :mod:`~jqforecast.engine.anchors` — what official figures next to derived ones say
  about the shared derivation assumptions (:func:`factor_posterior`);
- :mod:`~jqforecast.engine.backtest` — rolling-origin backtest cases of every member
  (:func:`backtest_cases`);
- :mod:`~jqforecast.engine.weights` — ensemble weights and recalibration learned from them
  (:func:`learn_weights`), or the shipped reference set (:func:`shipped_weights`,
  :func:`reference_weights`);
- :mod:`~jqforecast.engine.fitting` — the pooled Bayesian members' group fits, over
  processes (:func:`fit_groups`);
- :mod:`~jqforecast.engine.simulate` — one metric group's ensemble paths
  (:func:`simulate_group`, :func:`combine_members`);
- :mod:`~jqforecast.engine.forecasting` — :func:`forecast`, which runs them in order;
- :mod:`~jqforecast.engine.parallel` — chunks, ``map``-like runners, worker set-up.
"""

from __future__ import annotations

from jqforecast.engine.anchors import FactorPosterior, factor_posterior
from jqforecast.engine.backtest import BACKTEST_HORIZON, backtest_cases
from jqforecast.engine.fitting import fit_groups
from jqforecast.engine.forecasting import forecast
from jqforecast.engine.parallel import MULTI_CHUNK, Mapper, near_equal_chunks, one_blas_thread
from jqforecast.engine.series import MIN_POINTS, SeriesData, applies, prepare, resolve_models
from jqforecast.engine.simulate import GroupPaths, combine_members, simulate_group
from jqforecast.engine.weights import (
    learn_calibration,
    learn_weights,
    reference_weights,
    shipped_weights,
)

__all__ = [
    "BACKTEST_HORIZON",
    "FactorPosterior",
    "MIN_POINTS",
    "MULTI_CHUNK",
    "GroupPaths",
    "Mapper",
    "SeriesData",
    "applies",
    "backtest_cases",
    "combine_members",
    "factor_posterior",
    "fit_groups",
    "forecast",
    "learn_calibration",
    "learn_weights",
    "near_equal_chunks",
    "one_blas_thread",
    "prepare",
    "reference_weights",
    "resolve_models",
    "shipped_weights",
    "simulate_group",
]
