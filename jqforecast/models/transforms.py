"""Map each data type to an unconstrained scale where the models work, and back.

positive levels and flows → log; counts → log(c + ½) and back to whole, non-negative numbers;
ratios in (0, 1) → logit; real numbers of any sign (benchmark series) stay as they are.
Models simulate on the unconstrained scale, so back-transformed paths always respect the data
type (no negative revenue, no ratio above one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from jqforecast.data.metrics import Kind

_EPS = 1e-9


@dataclass(frozen=True)
class Transform:
    """Forward and inverse transform for one data type."""

    kind: Kind

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Data scale → unconstrained scale (values outside the type's range, as a data-scale
        model's paths can reach, land on its edge)."""
        x = np.asarray(x, dtype=float)
        if self.kind is Kind.REAL:
            return x
        if self.kind is Kind.RATIO:
            p = np.clip(x, _EPS, 1 - _EPS)
            return np.log(p) - np.log1p(-p)
        if self.kind in (Kind.COUNT, Kind.FLOW):
            return np.log(np.maximum(x, 0.0) + 0.5)
        return np.log(np.maximum(x, _EPS))

    def inverse(self, z: np.ndarray, whole: bool = True) -> np.ndarray:
        """Unconstrained scale → data scale (counts rounded to whole, non-negative numbers
        unless ``whole=False``, which gives the continuous value a data-scale model fits)."""
        z = np.asarray(z, dtype=float)
        if self.kind is Kind.REAL:
            return z
        if self.kind is Kind.RATIO:
            return 1.0 / (1.0 + np.exp(-z))
        if self.kind is Kind.COUNT and whole:
            return np.maximum(np.round(np.exp(z) - 0.5), 0.0)
        if self.kind in (Kind.COUNT, Kind.FLOW):
            return np.maximum(np.exp(z) - 0.5, 0.0)
        return np.exp(z)

    def inverse_slope(self, z: np.ndarray) -> np.ndarray:
        """Derivative of ``inverse(z, whole=False)`` with respect to ``z`` (0 where a
        count or flow sits on its floor)."""
        z = np.asarray(z, dtype=float)
        if self.kind is Kind.REAL:
            return np.ones_like(z)
        if self.kind is Kind.RATIO:
            p = 1.0 / (1.0 + np.exp(-z))
            return p * (1.0 - p)
        e = np.exp(z)
        if self.kind in (Kind.COUNT, Kind.FLOW):
            return np.where(e > 0.5, e, 0.0)
        return e
