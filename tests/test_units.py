"""Unit normalisation: known answers."""

from __future__ import annotations

import pytest

from jqforecast.data.units import conversion_factor, parse_unit


@pytest.mark.parametrize(
    ("src", "dst", "factor"),
    [
        ("万元", "亿元", 1e-4),
        ("元", "亿元", 1e-8),
        ("亿元", "亿元", 1.0),
        ("bn yuan", "亿元", 10.0),
        ("%", "ratio", 0.01),
        ("％", "ratio", 0.01),
        ("平方米", "万平方米", 1e-4),
        ("m²", "万平方米", 1e-4),
        ("万㎡", "万平方米", 1.0),
        ("件", "件", 1.0),
    ],
)
def test_conversion_factors(src, dst, factor):
    assert conversion_factor(src, dst) == pytest.approx(factor, rel=1e-12)


def test_incompatible_units_raise():
    with pytest.raises(ValueError, match="cannot convert"):
        conversion_factor("件", "家")
    with pytest.raises(ValueError):
        conversion_factor("万元", "万平方米")


def test_unknown_unit_raises_keyerror():
    with pytest.raises(KeyError):
        parse_unit("吨")


def test_loader_converts_and_records(write_csv):
    import jqforecast

    rows = [
        "revenue,ic,2022,2500000,万元,official,src,",
        "new_space,park_total,2022,350000,平方米,official,src,",
        "rd_intensity,park_total,2022,4.5,%,official,src,",
    ]
    df = jqforecast.load(write_csv(rows), warn=False).set_index("metric")
    assert df.loc["revenue", "value"] == pytest.approx(250.0)
    assert df.loc["new_space", "value"] == pytest.approx(35.0)
    assert df.loc["new_space", "unit"] == "万平方米"
    assert df.loc["rd_intensity", "value"] == pytest.approx(0.045)
    assert df.loc["rd_intensity", "orig_unit"] == "%"
    assert df.loc["rd_intensity", "orig_value"] == 4.5
