"""The metric registry: what each metric measures, its canonical unit and its data type.

The data type drives both validation (a count cannot be negative, a ratio lies in [0, 1]) and
the choice of forecast model (positive levels are modelled on logs, counts with a count model,
ratios on the logit scale).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    """Data type of a metric."""

    LEVEL = "level"  # positive money-like level, e.g. revenue (modelled on logs)
    FLOW = "flow"  # non-negative annual addition, e.g. new floor space
    COUNT = "count"  # non-negative integer count, stock or annual flow
    RATIO = "ratio"  # share in [0, 1], e.g. R&D spend / revenue
    REAL = "real"  # any sign, modelled as it is (benchmark series with negative values)


@dataclass(frozen=True)
class Metric:
    """One metric of the long table.

    Attributes
    ----------
    name : str
        Identifier used in the ``metric`` column, e.g. ``"revenue"``.
    unit : str
        Canonical unit every value is converted to (see :mod:`jqforecast.data.units`).
    kind : Kind
        Data type, see :class:`Kind`.
    label_zh, label_en : str
        Human labels for charts and reports.
    stock : bool
        ``True`` for end-of-year stocks (firm counts), ``False`` for annual flows.
    cumulative : bool
        ``True`` for a stock that never falls, such as a running total of recognitions
        (firms keep a city's recognition once given). It is forecast through its annual
        additions, counts of events added up from the last observed value, so its paths
        never fall (:func:`jqforecast.engine.series.additions`); with fewer than three
        years of additions it is modelled as a level whose falling draws are raised to
        the running maximum (:func:`jqforecast.engine.forecast`). A stock that can fall
        (a unicorn that lists stops being one) is ``stock=True`` only.
    """

    name: str
    unit: str
    kind: Kind
    label_zh: str
    label_en: str
    stock: bool = False
    cumulative: bool = False

    def __post_init__(self) -> None:
        if self.cumulative and not self.stock:
            raise ValueError(f"metric {self.name!r}: a cumulative metric is a stock (stock=True)")


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("revenue", "亿元", Kind.LEVEL, "营业收入", "Revenue"),
        Metric("rd_spend", "亿元", Kind.LEVEL, "研发经费支出", "R&D spending"),
        Metric("rd_intensity", "ratio", Kind.RATIO, "研发经费占营收比重", "R&D intensity"),
        Metric("pct_filings", "件", Kind.COUNT, "PCT专利申请量", "PCT applications"),
        Metric(
            "unicorns_champions",
            "家",
            Kind.COUNT,
            "独角兽与隐形冠军企业数",
            "Unicorn and hidden-champion firms",
            stock=True,
        ),
        Metric(
            "smart_factories",
            "家",
            Kind.COUNT,
            "市级认定智能工厂数",
            "City-recognised smart factories",
            stock=True,
            cumulative=True,  # the city's recognitions accumulate (data/raw/SOURCES.md)
        ),
        Metric(
            "incubators", "家", Kind.COUNT, "高质量孵化器数", "High-quality incubators", stock=True
        ),
        Metric(
            "new_space", "万平方米", Kind.FLOW, "新增产业载体空间", "New industrial floor space"
        ),
    ]
}

INDUSTRIES: dict[str, tuple[str, str]] = {
    "ic": ("集成电路", "Integrated circuits"),
    "biomed": ("生物医药", "Biomedicine"),
    "ai": ("人工智能", "Artificial intelligence"),
    "park_total": ("园区合计", "Park total"),
}

LEADING_INDUSTRIES: tuple[str, ...] = ("ic", "biomed", "ai")


def register_metric(metric: Metric) -> None:
    """Register a user-defined metric so that loaders and validation accept it.

    Examples
    --------
    >>> from jqforecast.data.metrics import Metric, Kind, register_metric, METRICS
    >>> register_metric(Metric("exports", "亿元", Kind.LEVEL, "出口额", "Exports"))
    >>> METRICS["exports"].unit
    '亿元'
    """
    METRICS[metric.name] = metric


def register_industry(code: str, label_zh: str, label_en: str) -> None:
    """Register an industry code beyond the built-in ones (``ic``, ``biomed``, ``ai``, ...)."""
    INDUSTRIES[code] = (label_zh, label_en)


def get_metric(name: str) -> Metric:
    """Return the registered metric ``name`` or raise ``KeyError`` naming the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        known = ", ".join(sorted(METRICS))
        raise KeyError(
            f"unknown metric {name!r}; known metrics: {known} "
            "(register new ones with jqforecast.data.metrics.register_metric)"
        ) from None
