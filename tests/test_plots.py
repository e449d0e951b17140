"""Charts: Chinese labels render with a real CJK font (no missing-glyph boxes), 16:9 PNG+SVG."""

from __future__ import annotations

import pytest
from matplotlib.image import imread

import jqforecast
from jqforecast import plots
from jqforecast.targets import load


@pytest.fixture(scope="module")
def results():
    fc = jqforecast.forecast(jqforecast.load_default(), draws=500, seed=0, models="statistical")
    return fc, jqforecast.evaluate_targets(fc)


def test_a_cjk_font_is_installed():
    assert plots.cjk_font() is not None, "install fonts-noto-cjk (scripts/setup.sh does)"


@pytest.mark.parametrize("target_id", ["leading_revenue", "rd_intensity", "pct_filings"])
def test_no_missing_glyphs_in_chinese_charts(results, target_id):
    fc, report = results
    row = report.table.set_index("id").loc[target_id]
    target = load()[target_id]
    assert plots.missing_glyph_warnings(lambda: plots.fan_chart(fc, target, row, "zh")) == []
    assert plots.missing_glyph_warnings(lambda: plots.summary_chart(report.table, "zh")) == []


def test_missing_glyph_check_can_fail():
    import matplotlib.pyplot as plt

    def dejavu_only():
        fig, ax = plt.subplots()
        ax.set_title("三大先导产业", fontfamily="DejaVu Sans")
        return fig

    assert plots.missing_glyph_warnings(dejavu_only)  # the check does detect fallback boxes


def test_saved_charts_are_16_9_at_200_dpi(results, tmp_path):
    fc, report = results
    paths = plots.save(plots.summary_chart(report.table, "en"), tmp_path / "summary")
    png = imread(paths[0])
    height, width = png.shape[:2]
    assert width / height == pytest.approx(16 / 9, rel=0.01)
    assert width >= 13.3 * 200 - 2
    assert paths[1].read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_report_headers_are_distinct_in_every_language():
    from jqforecast.presentation import HEADERS

    for lang, words in HEADERS.items():
        assert len(set(words.values())) == len(words), lang


def test_ratio_targets_are_drawn_in_percent_levels_in_their_unit(results):
    fc, report = results
    rows = report.table.set_index("id")
    ratio = plots.fan_chart(fc, load()["rd_intensity"], rows.loc["rd_intensity"], "zh")
    ax = ratio.axes[0]
    ax.figure.canvas.draw()
    ticks = [t.get_text() for t in ax.get_yticklabels() if t.get_text()]
    assert ticks and all(t.endswith("%") for t in ticks) and ax.get_ylabel() == "%"
    level = plots.fan_chart(fc, load()["leading_revenue"], rows.loc["leading_revenue"], "zh")
    assert level.axes[0].get_ylabel() == "亿元"


def test_derived_past_figures_carry_whiskers_of_their_own_uncertainty(results):
    """The bundled history is derived: each past total of the three industries gets a
    whisker spanning the 95 % range of its true value (the same derivation factors as the
    fan), and the whisker's label says what it is."""
    import numpy as np

    fc, report = results
    target = load()["leading_revenue"]
    fig = plots.fan_chart(fc, target, report.table.set_index("id").loc["leading_revenue"], "zh")
    ax = fig.axes[0]
    (bars,) = ax.containers
    segments = bars.lines[2][0].get_segments()
    years = [int(seg[0][0]) for seg in segments]
    assert years == [2021, 2024]  # the years all three industries were observed
    for year, seg in zip(years, segments, strict=True):
        total = sum(fc.observed_draws(f"revenue/{i}", year) for i in ("ic", "biomed", "ai"))
        assert [seg[0][1], seg[1][1]] == pytest.approx(np.quantile(total, [0.025, 0.975]))
    assert "历史值的推算不确定性（95%）" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_official_past_figures_have_no_whiskers():
    import pandas as pd

    rows = [
        {"metric": "pct_filings", "industry": "park_total", "year": y, "value": v,
         "unit": "件", "status": "official", "source": "test"}
        for y, v in zip(range(2018, 2024), [300, 350, 420, 480, 560, 640], strict=True)
    ]  # fmt: skip
    fc = jqforecast.forecast(pd.DataFrame(rows), draws=300, seed=0, models="statistical")
    report = jqforecast.evaluate_targets(fc)
    row = report.table.set_index("id").loc["pct_filings"]
    ax = plots.fan_chart(fc, load()["pct_filings"], row, "zh").axes[0]
    assert not ax.containers


def test_the_tornado_names_the_derivation_assumptions_that_drive_a_target(results):
    """The bundled revenues are all derived with the park's share of Pudong: its row is in
    the tornado, labelled in words from assumptions.yaml, not by its id."""
    from jqforecast.scenarios import sensitivity

    fc, report = results
    labels = dict(zip(report.table["id"], report.table["label_zh"], strict=True))
    ax = plots.tornado_chart(sensitivity(fc), labels, "zh").axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert "三大先导产业总营收\n推算假设：金桥园区占浦东比重" in ticks
    assert not any("park_share_of_pudong" in t for t in ticks)


def test_every_bundled_assumption_has_labels_in_both_languages():
    from jqforecast.data.derive import load_assumptions

    for a in load_assumptions().values():
        assert a.label("zh") != a.id and a.label("en") != a.id, a.id


def test_a_fan_chart_marks_its_checkpoint_without_missing_glyphs(results):
    from jqforecast.targets.checkpoints import checkpoints

    fc, report = results
    target = load()["leading_revenue"]
    row = report.table.set_index("id").loc["leading_revenue"]
    marks = checkpoints(fc).set_index(["target", "level"])
    mark = marks.loc[("leading_revenue", 0.8)].rename(None)
    mark["target"], mark["level"] = "leading_revenue", 0.8

    def draw():
        return plots.fan_chart(fc, target, row, "zh", mark)

    assert plots.missing_glyph_warnings(draw) == []
    ax = draw().axes[0]
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith("2025年检查点：≥ ") and "达成概率 80%" in t for t in texts)
    (diamond,) = [c for c in ax.collections if c.get_label().startswith("2025年检查点")]
    assert diamond.get_offsets().tolist() == [[2025.0, pytest.approx(mark["value"])]]
