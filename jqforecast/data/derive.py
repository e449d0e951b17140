"""Derive the bundled park-level dataset, top-down, from published figures and assumptions.

No Jinqiao park series is public, so each park value is a published Shanghai or Pudong figure
times documented factors (``data/raw/inputs/assumptions.yaml``), following the recipes in
``data/raw/inputs/derivations.csv``. The output rows carry ``status=derived``, the sources of
the figure and of every factor, the formula in ``note``, a relative standard error combining
the factors' uncertainties, and the ids of the assumptions they share (so the forecast engine
can move all points that share an assumption together).

Why code rather than a spreadsheet: the derivation is re-run and compared with the committed
table in the tests, so every bundled number is reproducible from its sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from jqforecast.data.metrics import METRICS
from jqforecast.data.schema import COLUMNS, coerce_dtypes
from jqforecast.paths import raw_dir

# Relative error of a published figure itself: official statistics as exact, secondary
# reposts (rounding, 口径 differences) as 5%.
FIGURE_REL_SD = {"official": 0.0, "secondary": 0.05}


@dataclass(frozen=True)
class Assumption:
    """A derivation factor with its uncertainty and reasoning."""

    id: str
    value: float
    rel_sd: float
    basis: str
    source: str
    label_zh: str = ""  # short labels for charts (the id when missing)
    label_en: str = ""

    def label(self, lang: str = "zh") -> str:
        """The short label in ``lang`` ("zh" or "en"), else the id."""
        return (self.label_zh if lang == "zh" else self.label_en) or self.id


def load_assumptions(path: str | Path | None = None) -> dict[str, Assumption]:
    """Read the assumptions file (default: the bundled ``data/raw/inputs/assumptions.yaml``)."""
    path = Path(path) if path else raw_dir() / "inputs" / "assumptions.yaml"
    spec = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return {
        key: Assumption(
            key,
            float(v["value"]),
            float(v["rel_sd"]),
            v["basis"],
            v["source"],
            str(v.get("label_zh", "")),
            str(v.get("label_en", "")),
        )
        for key, v in spec.items()
    }


def _find_figure(figures: pd.DataFrame, ref: str) -> pd.Series:
    key, _, expected = ref.strip().partition("=")
    metric, geography, industry, year, period = key.split("/")
    hit = figures[
        (figures["metric"] == metric)
        & (figures["geography"] == geography)
        & (figures["industry"] == industry)
        & (figures["year"] == int(year))
        & (figures["period"] == period)
        & (figures["value"].sub(float(expected)).abs() < 1e-9)
    ]
    if len(hit) != 1:
        raise ValueError(f"derivation figure {ref!r} matches {len(hit)} rows of public_figures.csv")
    return hit.iloc[0]


def derive(
    figures: pd.DataFrame, recipes: pd.DataFrame, assumptions: dict[str, Assumption]
) -> pd.DataFrame:
    """Apply derivation recipes to published figures; return observation rows.

    Each recipe names one or more figures (``metric/geography/industry/year/period=value``,
    joined by ``+`` to add them) and space-separated factor ids. The value is the sum of the
    figures times the product of the factors; ``rel_sd`` is the root sum of squares of the
    factors' and figures' relative errors.
    """
    rows = []
    for recipe in recipes.itertuples(index=False):
        used = [_find_figure(figures, ref) for ref in recipe.figures.split("+")]
        factors = [assumptions[f] for f in recipe.factors.split()]
        base = sum(float(f["value"]) for f in used)
        value = base * math.prod(a.value for a in factors)
        if isinstance(recipe.rounding, str) and recipe.rounding == "whole":
            value = float(round(value))
        else:
            value = round(value, 6)
        fig_sd = max(FIGURE_REL_SD[f["source_type"]] for f in used)
        rel_sd = math.sqrt(fig_sd**2 + sum(a.rel_sd**2 for a in factors))
        figure_text = " + ".join(
            f"{f['value']:g} {f['unit']} ({f['geography']} {f['metric']} "
            f"{f['industry']} {f['year']} {f['period']})"
            for f in used
        )
        factor_text = " × ".join(f"{a.id} {a.value:g}" for a in factors)
        sources = [f["source"] for f in used] + [a.source for a in factors]
        rows.append(
            {
                "metric": recipe.metric,
                "industry": recipe.industry,
                "year": int(recipe.year),
                "value": value,
                "unit": METRICS[recipe.metric].unit,
                "status": "derived",
                "source": "; ".join(dict.fromkeys(sources)),
                "note": f"= {figure_text} × {factor_text}"
                + (", rounded to a whole count" if recipe.rounding == "whole" else ""),
                "rel_sd": round(rel_sd, 4),
                "assumption": " ".join(a.id for a in factors if a.rel_sd >= 0.1) or None,
                "orig_value": None,
                "orig_unit": None,
            }
        )
    return coerce_dtypes(pd.DataFrame(rows, columns=list(COLUMNS)))


def derive_default(inputs_dir: str | Path | None = None) -> pd.DataFrame:
    """Derive the bundled park dataset from ``data/raw/inputs``."""
    inputs = Path(inputs_dir) if inputs_dir else raw_dir() / "inputs"
    figures = pd.read_csv(inputs / "public_figures.csv")
    recipes = pd.read_csv(inputs / "derivations.csv", dtype={"rounding": str})
    return derive(figures, recipes, load_assumptions(inputs / "assumptions.yaml"))
