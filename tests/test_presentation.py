"""Reader-facing report tables: labels, units, percentages and notes in the report's language."""

from __future__ import annotations

import pandas as pd

from jqforecast.presentation import gap_table, scenario_table, summary_table

TARGETS = pd.DataFrame(
    {
        "id": ["revenue", "rd", "space"],
        "label_zh": ["总营收", "研发强度", "新增空间"],
        "label_en": ["Revenue", "R&D intensity", "New space"],
        "kind": ["modelled", "modelled", "no data"],
        "p_hit": [0.4918, 0.286, None],
        "p_hit_lo": [0.47, 0.26, None],
        "p_hit_hi": [0.53, 0.34, None],
        "median": [2983.0, 0.04654, None],
        "lo-80": [1865.0, 0.03123, None],
        "hi-80": [4737.0, 0.06898, None],
        "comparator": [">=", ">=", ">"],
        "threshold": [3000.0, 0.055, 200.0],
        "unit": ["亿元", "ratio", "万平方米"],
        "expected_shortfall": [360.5, 0.01015, None],
        "required_cagr": [0.1346, 0.07722, None],
        "implied_cagr": [0.1314, 0.01887, None],
        "verdict_zh": ["存在缺口", "难以达成", "无法评估"],
        "verdict_en": ["at risk", "unlikely", "not assessable"],
        "note": [None, None, "no data for new_space/park_total"],
    }
)


def test_summary_table_gives_units_percent_and_translated_notes():
    zh = summary_table(TARGETS, "zh").set_index("目标")
    assert zh.loc["研发强度", "目标年预测中位数"] == "4.65 %"  # a ratio, shown in percent
    assert zh.loc["研发强度", "预期缺口"] == "1.01 pp"  # a ratio's difference: points
    assert zh.loc["研发强度", "80% 预测区间"] == "3.12 – 6.90 %"
    assert zh.loc["总营收", "达成概率"] == "49%" and zh.loc["总营收", "90% 区间"] == "47%–53%"
    assert zh.loc["新增空间", "说明"] == "缺少数据：new_space/park_total"
    assert (
        zh.loc["新增空间", "达成概率"] == "—" and zh.loc["新增空间", "目标值"] == "> 200 万平方米"
    )
    en = summary_table(TARGETS, "en").set_index("Target")
    assert en.loc["New space", "Note"] == "no data for new_space/park_total"


def test_gap_table_says_why_in_the_reports_language():
    gaps = pd.DataFrame(
        {
            "target": ["revenue", "revenue", "rd"],
            "from_year": [2025, 2026, 2025],
            "baseline_p_hit": [0.49, 0.49, 0.85],
            "uplift_pp": [21.02, None, 0.0],
            "achieved_p_hit": [0.80, 0.76, 0.85],
            "median_after": [4072.0, None, 0.046],
            "median_change_pct": [36.5, None, 0.0],
            "reachable": [True, False, True],
            "max_pp": [30.0, 30.0, 30.0],
            "observed_in_start_year": ["revenue/ic", None, None],
        }
    )
    zh = gap_table(gaps, TARGETS, "zh")
    assert zh["目标"].tolist() == ["总营收", "总营收", "研发强度"]
    assert zh["所需增速提升（百分点/年）"].tolist() == ["+21.0", "—", "+0.0"]
    assert zh["说明"].tolist() == [
        "revenue/ic 已有 2025 年数据，自次年起提升",
        "每年提升 30 个百分点以内无法达到（最高 76%）",
        "已达到 80%",
    ]
    en = gap_table(gaps, TARGETS, "en")
    assert en["Note"][1] == "out of reach within +30 pp a year (at most 76%)"
    assert en["P(hit) with it"].tolist() == ["80%", "—", "85%"]
    assert en["Median with it"].tolist() == ["4,072 亿元", "—", "4.60 %"]


def test_scenario_table_follows_the_targets_order_with_the_baseline_first():
    scenarios = pd.DataFrame(
        {
            "scenario": ["push", "push", "baseline", "baseline"],
            "target": ["rd", "revenue", "rd", "revenue"],
            "p_hit": [0.4, 0.7, 0.286, 0.4918],
        }
    )
    table = scenario_table(scenarios, TARGETS, "zh")
    assert table.columns.tolist() == ["目标", "基准", "push"]
    assert table["目标"].tolist() == ["总营收", "研发强度"]
    assert table["基准"].tolist() == ["49%", "29%"]


def test_change_table_translates_causes_and_signs_the_move():
    from jqforecast.presentation import change_table

    changes = pd.DataFrame(
        {
            "target": ["revenue", "rd"],
            "p_hit_previous": [0.32, 0.29],
            "p_hit": [0.50, 0.286],
            "change": [0.18, -0.004],
            "mc_se": [0.011, 0.010],
            "significant": [True, False],
            "cause": ["software, seed", "within Monte Carlo error"],
        }
    )
    zh = change_table(changes, TARGETS, "zh")
    assert zh["变化"].tolist() == ["+18.0 pp", "-0.4 pp"]
    assert zh["可能原因"].tolist() == ["软件、随机种子", "在蒙特卡洛误差之内"]
    assert zh["超出蒙特卡洛误差"].tolist() == ["是", "否"]
    assert change_table(changes, TARGETS, "en")["Likely cause"][0] == "software, seed"


def test_sensitivity_table_orders_sources_by_their_share_in_the_targets_order():
    from jqforecast.presentation import sensitivity_table

    sens = pd.DataFrame(
        {
            "target": ["rd", "revenue", "revenue", "revenue"],
            "driver": ["series", "series", "assumption", "assumption"],
            "series": ["rd_intensity/park_total", "revenue/ic", "park_share_of_pudong", "x_y"],
            "p_hit": [0.286, 0.49, 0.49, 0.49],
            "p_hit_minus_1sd": [0.056, 0.34, 0.004, 0.4],
            "p_hit_plus_1sd": [0.691, 0.67, 0.998, 0.6],
            "swing": [0.635, 0.33, 0.994, 0.2],
            "variance_share": [1.0, 0.376, 0.86, 0.01],
        }
    )
    zh = sensitivity_table(sens, TARGETS, "zh")
    assert zh.columns.tolist() == [
        "目标", "不确定性来源", "方差占比", "低 1 个标准差时达成概率", "高 1 个标准差时达成概率"
    ]  # fmt: skip
    assert zh.values.tolist() == [
        ["总营收", "推算假设：金桥园区占浦东比重", "86%", "0%", "100%"],
        ["总营收", "集成电路", "38%", "34%", "67%"],
        ["总营收", "推算假设：x_y", "1%", "40%", "60%"],  # not in assumptions.yaml: its id
        ["研发强度", "园区合计", "100%", "6%", "69%"],
    ]
    en = sensitivity_table(sens, TARGETS, "en")
    assert en.iloc[0, :2].tolist() == ["Revenue", "assumption: Jinqiao's share of Pudong"]
    assert en.iloc[1, 1] == "Integrated circuits"


def test_checkpoint_table_gives_levels_with_units_and_says_why_when_none():
    from jqforecast.presentation import checkpoint_table

    marks = pd.DataFrame(
        {
            "target": ["revenue", "rd"],
            "year": [2025, 2025],
            "level": [0.8, 0.8],
            "direction": [">=", None],
            "value": [2975.8, None],
            "unit": ["亿元", "ratio"],
            "p_reach": [0.418, None],
            "p_hit": [0.49, 0.29],
            "note": [None, "observed (2025): the checkpoint year's figures are official"],
        }
    )
    zh = checkpoint_table(marks, TARGETS, "zh")
    assert zh.columns.tolist() == [
        "目标", "检查年份", "达到该水平时的达成概率", "需达到的水平", "预测达到该水平的概率"
    ]  # fmt: skip
    assert zh.iloc[0].tolist() == ["总营收", 2025, "80%", "≥ 2,976 亿元", "42%"]
    assert zh.iloc[1, 3].startswith("已有实际值（2025年）") and zh.iloc[1, 4] == "—"
