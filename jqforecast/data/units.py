"""Explicit unit normalisation for Chinese statistics.

Chinese statistical releases mix 亿元, 万元 and 元, percentages and ratios, 万平方米 and m²,
件 and 家. Every value is converted to its metric's canonical unit, and the conversion is
recorded (``orig_value``, ``orig_unit`` columns) so a reader can always see what was received.

Why a hand-written table rather than ``pint``: the units here are few, several are Chinese
counting words with no physical dimension (件, 家), and a ten-line table is easier to audit
than a unit registry extension.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True)
class Unit:
    """A unit: its dimension and the factor that converts one of it to the dimension's base."""

    symbol: str
    dimension: str
    to_base: float


# Base units: money → 元, ratio → 1, area → m², counts → 1 of the counted thing.
_UNITS: list[tuple[tuple[str, ...], Unit]] = [
    (("亿元", "亿", "100m yuan", "yi yuan"), Unit("亿元", "money", 1e8)),
    (("万元", "万", "10k yuan"), Unit("万元", "money", 1e4)),
    (("元", "yuan", "cny", "rmb"), Unit("元", "money", 1.0)),
    (("十亿元", "bn yuan", "billion yuan", "cny bn"), Unit("十亿元", "money", 1e9)),
    (("ratio", "比例", "share", "fraction"), Unit("ratio", "ratio", 1.0)),
    (("%", "％", "percent", "百分比"), Unit("%", "ratio", 0.01)),
    (("‰", "per mille"), Unit("‰", "ratio", 0.001)),
    (("万平方米", "万m²", "万m2", "万㎡"), Unit("万平方米", "area", 1e4)),
    (("平方米", "m²", "m2", "㎡", "sqm"), Unit("平方米", "area", 1.0)),
    (("平方公里", "km²", "km2"), Unit("平方公里", "area", 1e6)),
    (("件", "项", "applications"), Unit("件", "count_items", 1.0)),
    (("家", "个", "firms", "enterprises"), Unit("家", "count_units", 1.0)),
]

UNITS: dict[str, Unit] = {alias.casefold(): unit for aliases, unit in _UNITS for alias in aliases}


def normalise_symbol(text: str) -> str:
    """Canonical lookup key for a unit string: NFKC, stripped, case-folded, no brackets."""
    text = unicodedata.normalize("NFKC", str(text)).strip().strip("()（）[]").strip()
    return text.casefold()


def parse_unit(text: str) -> Unit:
    """Return the :class:`Unit` for ``text`` (any known alias) or raise ``KeyError``.

    Examples
    --------
    >>> parse_unit("万元").to_base
    10000.0
    >>> parse_unit("％").symbol
    '%'
    """
    key = normalise_symbol(text)
    if key not in UNITS:
        raise KeyError(text)
    return UNITS[key]


def known_units() -> list[str]:
    """Sorted list of accepted unit spellings (for error messages)."""
    return sorted({u.symbol for _, u in _UNITS})


def conversion_factor(from_unit: str, to_unit: str) -> float:
    """Factor ``f`` such that ``value_in_to_unit = f * value_in_from_unit``.

    Raises ``ValueError`` if the two units measure different things.

    Examples
    --------
    >>> conversion_factor("万元", "亿元")
    0.0001
    >>> conversion_factor("%", "ratio")
    0.01
    >>> conversion_factor("平方米", "万平方米")
    0.0001
    """
    src, dst = parse_unit(from_unit), parse_unit(to_unit)
    if src.dimension != dst.dimension:
        raise ValueError(
            f"cannot convert {from_unit!r} ({src.dimension}) to {to_unit!r} ({dst.dimension})"
        )
    return src.to_base / dst.to_base


def format_quantity(value: float, unit: str, difference: bool = False) -> str:
    """A value with its unit as a reader expects it; ratios (stored as fractions) in percent,
    differences of ratios in percentage points.

    Examples
    --------
    >>> format_quantity(3023.4, "亿元"), format_quantity(0.04661, "ratio")
    ('3,023 亿元', '4.66 %')
    >>> format_quantity(0.0084, "ratio", difference=True)
    '0.84 pp'
    """
    if unit == "ratio":
        return f"{100 * value:.2f} {'pp' if difference else '%'}"
    return f"{value:,.4g} {unit}"


def format_as_written(value: float, unit: str) -> str:
    """A threshold as the plan writes it (``5.5 %``, ``3,000 亿元``, ``8,000,000 万元``), in
    full, without the rounding of :func:`format_quantity`; a bare ratio in percent.

    Examples
    --------
    >>> format_as_written(8_000_000, "万元"), format_as_written(5.5, "%")
    ('8,000,000 万元', '5.5 %')
    >>> format_as_written(1.3, "ratio")
    '130.00 %'
    """
    if unit == "ratio":
        return format_quantity(value, unit)
    return f"{value:,.12g} {unit}"
