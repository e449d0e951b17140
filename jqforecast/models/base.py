"""The model contract, in the spirit of scikit-learn estimators.

``__init__`` only stores settings; ``fit(history) -> self`` learns and sets attributes ending
in ``_``; ``simulate(horizon, draws, rng) -> ndarray (draws, horizon)`` returns sample paths
on the model's (unconstrained) scale for the ``horizon`` years after the last observed one.
A model with ``data_scale = True`` works on the data scale instead (levels, counts, ratios as
measured): the driver hands it the back-transformed history and maps its paths to the
unconstrained scale (values outside the data type's range land on its edge).

``history`` is a float ``pandas.Series`` indexed by consecutive integer years; missing years
inside it are ``NaN``. Models that cannot handle gaps say so with ``handles_gaps = False`` and
the driver interpolates for them (and records that it did). A model with
``multi_series = True`` (the pooled Bayesian members) is instead fitted once on a group of
series (a wide frame) and simulates them jointly; the driver fits it per metric group.
"""

from __future__ import annotations

import functools
import inspect
from typing import ClassVar, Self

import numpy as np
import pandas as pd


class NotFittedError(ValueError, AttributeError):
    """A model was used before ``fit``."""


class TooShortError(ValueError):
    """The series has fewer points than the model needs (the model is skipped)."""


class Model:
    """Base class: parameter handling, fitted-state checks and history checks."""

    name: ClassVar[str] = "model"
    min_points: ClassVar[int] = 3
    handles_gaps: ClassVar[bool] = False
    data_scale: ClassVar[bool] = False
    multi_series: ClassVar[bool] = False  # True: fit jointly on a group of series (pooled)

    # scikit-learn style: parameters are the __init__ signature
    @classmethod
    @functools.cache  # (signature inspection was ~0.1 ms a clone, thousands in a backtest)
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict:
        """Settings as passed to ``__init__``."""
        return {k: getattr(self, k) for k in self._param_names()}

    def set_params(self, **params) -> Self:
        """Change settings (invalidates nothing: refit to use them)."""
        for k, v in params.items():
            if k not in self._param_names():
                raise ValueError(f"{type(self).__name__} has no parameter {k!r}")
            setattr(self, k, v)
        return self

    def clone(self) -> Self:
        """An unfitted copy with the same settings."""
        return type(self)(**self.get_params())

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    # -------------------------------------------------------------- checks
    def _check_history(self, history: pd.Series) -> np.ndarray:
        y = np.asarray(history, dtype=float)
        n = int(np.isfinite(y).sum())
        if n < self.min_points:
            raise TooShortError(f"{self.name} needs at least {self.min_points} points, got {n}")
        if not self.handles_gaps and not np.isfinite(y).all():
            raise ValueError(f"{self.name} cannot handle missing years; interpolate first")
        return y

    def _check_fitted(self) -> None:
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(history)")

    # ------------------------------------------------------------ contract
    def fit(self, history: pd.Series) -> Self:  # pragma: no cover - interface
        raise NotImplementedError

    def simulate(self, horizon: int, draws: int, rng: np.random.Generator) -> np.ndarray:
        """Sample paths ``(draws, horizon)`` on the model's scale."""
        raise NotImplementedError  # pragma: no cover - interface
