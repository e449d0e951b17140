"""Reader-facing tables for the report: the run folder's CSVs with headers in the report's
language, target labels instead of ids, probabilities in percent and values with units.

The CSVs keep machine-readable ids and raw numbers for analysts; these tables are what a
briefing reader sees (``report.html``). They only reformat: every number comes from a CSV.
"""

from __future__ import annotations

import math

import pandas as pd

from jqforecast.data.units import format_quantity

# Every language's headers must be distinct: they become a table's column names.
HEADERS = {
    "zh": {
        "target": "目标",
        "p_hit": "达成概率",
        "p_interval": "90% 区间",
        "median": "目标年预测中位数",
        "band80": "80% 预测区间",
        "threshold": "目标值",
        "shortfall": "预期缺口",
        "required": "所需年均增速",
        "implied": "预测年均增速",
        "verdict": "判断",
        "note": "说明",
        "from_year": "提升起始年",
        "uplift": "所需增速提升（百分点/年）",
        "achieved": "提升后达成概率",
        "median_after": "提升后目标年中位数",
        "median_change": "中位数提高",
        "member": "模型",
        "weight": "权重",
        "member_p": "单独计算的达成概率",
        "series": "序列",
        "points": "数据点",
        "status": "口径",
        "years": "年份",
        "baseline": "基准",
        "before": "上次达成概率",
        "change": "变化",
        "significant": "超出蒙特卡洛误差",
        "cause": "可能原因",
        "driver": "不确定性来源",
        "var_share": "方差占比",
        "p_low": "低 1 个标准差时达成概率",
        "p_high": "高 1 个标准差时达成概率",
        "checkpoint_year": "检查年份",
        "checkpoint": "需达到的水平",
        "checkpoint_p": "达到该水平时的达成概率",
        "p_reach": "预测达到该水平的概率",
        "assumption": "推算假设",
        "assumed": "假设值",
        "implied_value": "官方数据所示（中位数）",
        "implied68": "68% 区间",
        "evidence": "依据（官方与推算数据之间的变化）",
    },
    "en": {
        "target": "Target",
        "p_hit": "P(hit)",
        "p_interval": "90% interval",
        "median": "Forecast median, target year",
        "band80": "80% forecast interval",
        "threshold": "Threshold",
        "shortfall": "Expected shortfall",
        "required": "Growth needed (a year)",
        "implied": "Growth forecast (a year)",
        "verdict": "Verdict",
        "note": "Note",
        "from_year": "Uplift from",
        "uplift": "Growth uplift needed (pp a year)",
        "achieved": "P(hit) with it",
        "median_after": "Median with it",
        "median_change": "Median raised by",
        "member": "Model",
        "weight": "Weight",
        "member_p": "P(hit) under this model alone",
        "series": "Series",
        "points": "Points",
        "status": "Status",
        "years": "Years",
        "baseline": "baseline",
        "before": "P(hit) last run",
        "change": "Change",
        "significant": "Beyond Monte Carlo error",
        "cause": "Likely cause",
        "driver": "Source of uncertainty",
        "var_share": "Share of variance",
        "p_low": "P(hit) at −1 sd",
        "p_high": "P(hit) at +1 sd",
        "checkpoint_year": "Checkpoint year",
        "checkpoint": "Level to reach",
        "checkpoint_p": "P(hit) when reached",
        "p_reach": "P(reaching it), forecast",
        "assumption": "Derivation assumption",
        "assumed": "Assumed",
        "implied_value": "Implied by official figures (median)",
        "implied68": "68% range",
        "evidence": "From (changes between official and derived figures)",
    },
}

STATUS = {"zh": {"official": "官方", "estimate": "估计", "derived": "推算"}, "en": {}}

NOTES = {
    "zh": {
        "no data for ": "缺少数据：",
        "too few points for ": "数据点不足，未预测：",
        "elicited: not assessed": "专家判断：尚未评估",
        "elicited: ": "专家判断：",
        "already": "已达到 80%",
        "beyond": "每年提升 {max_pp:g} 个百分点以内无法达到（最高 {achieved}）",
        "late": "{series} 已有 {year} 年数据，自次年起提升",
        "observed": "目标年份已有实际值，无可提升的预测年份",
        "observed (": "已有实际值（",
        "): estimated or derived; P(hit) allows for the figures' own error and the shared "
        "derivation error": "年，估计或推算值）：达成概率已计入数值自身误差"
        "与共同推算假设的不确定性",
        ")": "年）",
        "): the checkpoint year's figures are official": "年）：检查年份已有官方数据",
        "multi-year measure: no single earlier value to watch": "跨年累计指标，无单一年份检查点",
        "P(hit) is 0 or 1 whatever the value: no checkpoint": (
            "无论该年水平如何，达成概率均为 0 或 1"
        ),
        "the value does not vary across draws: no checkpoint": "该年水平在各路径间无差异",
        "P(hit) hardly depends on the value: no checkpoint": "达成概率几乎不随该年水平变化",
        "the level lies beyond every draw's value: no checkpoint": "所需水平超出全部预测路径",
    },
    "en": {
        "already": "already at or above 80%",
        "beyond": "out of reach within +{max_pp:g} pp a year (at most {achieved})",
        "late": "{series} observed in {year}: uplifted from the year after",
        "observed": "the target's year is observed: no forecast year left to lift",
    },
}


def _pct(x: float, digits: int = 0) -> str:
    return "—" if pd.isna(x) else f"{100 * x:.{digits}f}%"


def _note(note: object, lang: str) -> str:
    """A targets.csv note (written in English) in the report's language, where it is one
    of the engine's standard notes; other text as it is.

    Examples
    --------
    >>> _note("observed (2026)", "zh"), _note("no data for new_space/park_total", "zh")
    ('已有实际值（2026年）', '缺少数据：new_space/park_total')
    """
    if not isinstance(note, str):
        return ""
    for prefix in ("no data for ", "too few points for ", "elicited: not assessed", "elicited: "):
        if note.startswith(prefix) and prefix in NOTES[lang]:
            return NOTES[lang][prefix] + note[len(prefix) :]
    words = NOTES[lang]
    if note in words and " " in note:  # a whole standard note (not a one-word table key)
        return words[note]
    if note.startswith("observed (") and "observed (" in words:  # observed (2026)[: why]
        years, _, rest = note[len("observed (") :].partition(")")
        return words["observed ("] + years + words.get(")" + rest, ")" + rest)
    return note


def _labels(targets: pd.DataFrame, lang: str) -> dict[str, str]:
    return dict(zip(targets["id"], targets[f"label_{lang}"], strict=True))


def summary_table(targets: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """One row per target from ``targets.csv``: P(hit) and its interval, the forecast
    median and 80 % interval with units, the threshold, expected shortfall, growth needed
    against growth forecast, verdict.

    Examples
    --------
    >>> row = {"id": "x", "label_zh": "营收", "label_en": "Revenue", "kind": "modelled",
    ...        "p_hit": 0.4918, "p_hit_lo": 0.47, "p_hit_hi": 0.53, "median": 2983.0,
    ...        "lo-80": 1865.0, "hi-80": 4737.0, "comparator": ">=", "threshold": 3000.0,
    ...        "unit": "亿元", "expected_shortfall": 360.5, "required_cagr": 0.1346,
    ...        "implied_cagr": 0.1314, "verdict_zh": "存在缺口", "verdict_en": "at risk",
    ...        "note": None}
    >>> summary_table(pd.DataFrame([row]), "en").iloc[0].tolist()[:5]
    ['Revenue', '49%', '47%–53%', '2,983 亿元', '1,865 – 4,737 亿元']
    """
    h = HEADERS[lang]
    rows = []
    for r in targets.to_dict("records"):
        modelled = r["kind"] == "modelled"
        unit = r["unit"]
        band = (
            f"{format_quantity(r['lo-80'], unit).rsplit(' ', 1)[0]} – "
            f"{format_quantity(r['hi-80'], unit)}"
            if modelled
            else "—"
        )
        rows.append(
            {
                h["target"]: r[f"label_{lang}"],
                h["p_hit"]: _pct(r["p_hit"]),
                h["p_interval"]: f"{_pct(r['p_hit_lo'])}–{_pct(r['p_hit_hi'])}"
                if modelled
                else "—",
                h["median"]: format_quantity(r["median"], unit) if modelled else "—",
                h["band80"]: band,
                h["threshold"]: f"{r['comparator']} {format_quantity(r['threshold'], unit)}",
                h["shortfall"]: format_quantity(r["expected_shortfall"], unit, difference=True)
                if modelled
                else "—",
                h["required"]: _pct(r["required_cagr"], 1),
                h["implied"]: _pct(r["implied_cagr"], 1),
                h["verdict"]: r[f"verdict_{lang}"],
                h["note"]: _note(r["note"], lang),
            }
        )
    return pd.DataFrame(rows)


def gap_table(gaps: pd.DataFrame, targets: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """``gap_closing.csv`` for readers: per target and start year, the growth uplift that
    gives P(hit) ≥ 80 %, the P(hit) it gives and how far it lifts the target year's median."""
    h, notes, labels = HEADERS[lang], NOTES[lang], _labels(targets, lang)
    units = dict(zip(targets["id"], targets["unit"], strict=True))
    rows = []
    for r in gaps.itertuples(index=False):
        said = []
        observed = getattr(r, "observed", False)  # (runs before session 16 lack the column)
        if not pd.isna(observed) and bool(observed):
            said.append(notes["observed"])
        elif r.reachable and r.uplift_pp == 0:
            said.append(notes["already"])
        elif not r.reachable:
            said.append(notes["beyond"].format(max_pp=r.max_pp, achieved=_pct(r.achieved_p_hit)))
        if isinstance(r.observed_in_start_year, str) and r.observed_in_start_year:
            said.append(notes["late"].format(series=r.observed_in_start_year, year=r.from_year))
        rows.append(
            {
                h["target"]: labels.get(r.target, r.target),
                h["from_year"]: r.from_year,
                h["p_hit"]: _pct(r.baseline_p_hit),
                h["uplift"]: "—" if pd.isna(r.uplift_pp) else f"+{r.uplift_pp:.1f}",
                h["achieved"]: _pct(r.achieved_p_hit)
                if r.reachable and not pd.isna(r.uplift_pp)
                else "—",
                h["median_after"]: "—"
                if pd.isna(r.median_after)
                else format_quantity(r.median_after, units.get(r.target, "")),
                h["median_change"]: "—"
                if pd.isna(r.median_change_pct)
                else f"+{r.median_change_pct:.1f}%",
                h["note"]: "；".join(said) if lang == "zh" else "; ".join(said),
            }
        )
    return pd.DataFrame(rows)


def member_table(by_member: pd.DataFrame, targets: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """``targets_by_member.csv`` for readers: P(hit) under each ensemble member alone."""
    h, labels = HEADERS[lang], _labels(targets, lang)
    return pd.DataFrame(
        {
            h["target"]: by_member["id"].map(labels),
            h["member"]: by_member["member"],
            h["weight"]: by_member["weight"].map(lambda w: f"{w:.3f}"),
            h["member_p"]: by_member["p_hit"].map(_pct),
        }
    )


SHOWN_CHECKPOINT = 0.8  # the level charts and slides show (the table has every level)


def checkpoint_row(marks: pd.DataFrame | None, target: str) -> pd.Series | None:
    """``target``'s row of ``checkpoints.csv`` at :data:`SHOWN_CHECKPOINT`, if it has a
    value (None otherwise): what its fan chart marks and its slide says."""
    if marks is None or marks.empty:
        return None
    shown = marks[
        (marks["target"] == target) & (marks["level"] == SHOWN_CHECKPOINT) & marks["value"].notna()
    ]
    return None if shown.empty else shown.iloc[0]


def checkpoint_level(row) -> str:
    """A checkpoint (a row of ``checkpoints.csv`` with a value) as written: ``≥ 2,976 亿元``."""
    sign = "≤" if getattr(row, "direction", ">=") == "<=" else "≥"
    return f"{sign} {format_quantity(row.value, row.unit)}"


def checkpoint_table(table: pd.DataFrame, targets: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """``checkpoints.csv`` for readers: per target, the level its measure must reach in the
    checkpoint year (with units, ``≥`` or ``≤``) for P(hit) to be each level, and the
    forecast's chance of getting there; rows without a checkpoint say why."""
    h, labels = HEADERS[lang], _labels(targets, lang)
    rows = []
    for r in table.itertuples(index=False):
        level = _note(r.note, lang) if pd.isna(r.value) else checkpoint_level(r)
        rows.append(
            {
                h["target"]: labels.get(r.target, r.target),
                h["checkpoint_year"]: r.year,
                h["checkpoint_p"]: _pct(r.level),
                h["checkpoint"]: level,
                h["p_reach"]: _pct(r.p_reach),
            }
        )
    return pd.DataFrame(rows)


ASSUMPTION_PREFIX = {"zh": "推算假设：", "en": "assumption: "}


def driver_label(driver: str, name: str, lang: str = "zh") -> str:
    """A row of ``sensitivity.csv`` in words: a series by its industry, a derivation
    assumption by its label in ``assumptions.yaml`` (its id if it has none).

    >>> driver_label("series", "revenue/ic"), driver_label("assumption", "park_share_of_pudong")
    ('集成电路', '推算假设：金桥园区占浦东比重')
    """
    from jqforecast.data.metrics import INDUSTRIES

    if driver == "assumption":
        return ASSUMPTION_PREFIX[lang] + _assumption_labels(lang).get(name, name)
    code = name.split("/")[-1]
    return INDUSTRIES.get(code, (name, name))[0 if lang == "zh" else 1]


def _assumption_labels(lang: str) -> dict[str, str]:
    from jqforecast.data.derive import load_assumptions

    try:
        return {a: spec.label(lang) for a, spec in load_assumptions().items()}
    except (FileNotFoundError, KeyError, ValueError):  # no bundled registry: ids are shown
        return {}


def sensitivity_table(
    sensitivity: pd.DataFrame, targets: pd.DataFrame, lang: str = "zh"
) -> pd.DataFrame:
    """``sensitivity.csv`` for readers: per target (file order), each source of uncertainty
    (series or derivation assumption) by its share of the variance, largest first, with
    P(hit) when it is one standard deviation low or high."""
    h, labels = HEADERS[lang], _labels(targets, lang)
    order = {t: k for k, t in enumerate(targets["id"])}
    drivers = sensitivity.get("driver", pd.Series("series", index=sensitivity.index))
    frame = sensitivity.assign(_driver=drivers, _order=sensitivity["target"].map(order))
    frame = frame.sort_values(["_order", "variance_share"], ascending=[True, False])
    return pd.DataFrame(
        {
            h["target"]: frame["target"].map(labels),
            h["driver"]: [
                driver_label(d, s, lang)
                for d, s in zip(frame["_driver"], frame["series"], strict=True)
            ],
            h["var_share"]: frame["variance_share"].map(_pct),
            h["p_low"]: frame["p_hit_minus_1sd"].map(_pct),
            h["p_high"]: frame["p_hit_plus_1sd"].map(_pct),
        }
    )


def anchoring_table(models: dict, lang: str = "zh") -> pd.DataFrame:
    """What official figures next to derived ones say about the derivation assumptions
    (the forecast's ``assumption_posterior``, in ``manifest.json`` ``models``): each
    assumption they informed, its assumed value and the value they imply, ``assumed ×
    e^(sd × f)`` at the factor's posterior median and 68 % range. Empty when no official
    figure informed any (the bundled data).

    >>> post = {"names": ["park_share_of_pudong"], "mean": [-0.5], "cov": [[0.25]],
    ...         "evidence": [{"series": "revenue/ic", "steps": ["2024-2025"]}]}
    >>> t = anchoring_table({"assumption_posterior": post,
    ...                      "assumption_sd": {"park_share_of_pudong": 0.35}}, "en")
    >>> t.iloc[0, 1:4].tolist()
    ['0.28', '0.235', '0.197–0.28']
    """
    from jqforecast.data.derive import load_assumptions
    from jqforecast.engine.anchors import FactorPosterior

    h = HEADERS[lang]
    stored = models.get("assumption_posterior")
    columns = [h["assumption"], h["assumed"], h["implied_value"], h["implied68"], h["evidence"]]
    if not stored or not stored.get("evidence"):
        return pd.DataFrame(columns=columns)
    posterior = FactorPosterior.from_dict(stored)
    sds, mean, spread = models.get("assumption_sd", {}), posterior.means(), posterior.sd()
    try:
        registry = load_assumptions()
    except (FileNotFoundError, KeyError, ValueError):
        registry = {}
    labels = _assumption_labels(lang)
    steps = posterior.steps()
    rows = []
    for a in posterior.names:
        if abs(mean[a]) < 1e-9 and abs(spread[a] - 1.0) < 1e-9:
            continue  # not informed
        value = float(registry[a].value) if a in registry else 1.0
        at = [value * math.exp(sds.get(a, 0.0) * (mean[a] + k * spread[a])) for k in (-1, 0, 1)]
        rows.append([labels.get(a, a), f"{value:.3g}", f"{at[1]:.3g}",
                     f"{at[0]:.3g}–{at[2]:.3g}", steps])  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def scenario_table(
    scenarios: pd.DataFrame, targets: pd.DataFrame, lang: str = "zh"
) -> pd.DataFrame:
    """``scenarios.csv`` as targets × scenarios, P(hit) in percent (baseline first)."""
    labels = _labels(targets, lang)
    wide = scenarios.pivot(index="target", columns="scenario", values="p_hit")
    order = ["baseline", *[s for s in dict.fromkeys(scenarios["scenario"]) if s != "baseline"]]
    rows = [t for t in targets["id"] if t in wide.index]  # the targets file's order
    wide = wide.loc[rows, [s for s in order if s in wide]].map(_pct)
    wide.index = [labels.get(t, t) for t in wide.index]
    wide.columns = [HEADERS[lang]["baseline"] if c == "baseline" else c for c in wide.columns]
    return wide.rename_axis(HEADERS[lang]["target"]).reset_index()


CAUSES = {
    "zh": {
        "data": "数据",
        "targets config": "目标配置",
        "scenarios config": "情景配置",
        "software": "软件",
        "seed": "随机种子",
        "draws": "抽样次数",
        "quick mode": "快速模式",
        "none (same inputs and settings)": "无（输入与设置相同）",
        "within Monte Carlo error": "在蒙特卡洛误差之内",
    },
    "en": {},
}


def change_table(changes: pd.DataFrame, targets: pd.DataFrame, lang: str = "zh") -> pd.DataFrame:
    """``changes.csv`` for readers: P(hit) last run and now, the move in points, whether it
    exceeds twice the Monte Carlo error, and what changed between the runs."""
    h, labels, words = HEADERS[lang], _labels(targets, lang), CAUSES[lang]
    yes_no = {True: "是", False: "否"} if lang == "zh" else {True: "yes", False: "no"}
    return pd.DataFrame(
        {
            h["target"]: changes["target"].map(lambda t: labels.get(t, t)),
            h["before"]: changes["p_hit_previous"].map(_pct),
            h["p_hit"]: changes["p_hit"].map(_pct),
            h["change"]: changes["change"].map(lambda x: f"{100 * x:+.1f} pp"),
            h["significant"]: changes["significant"].astype(bool).map(yes_no),
            h["cause"]: changes["cause"].map(
                lambda c: "、".join(words.get(p, p) for p in c.split(", ")) if words else c
            ),
        }
    )


def data_table(summary: dict, lang: str = "zh") -> pd.DataFrame:
    """The manifest's ``data_summary`` (series → points, status, years) with headers."""
    h = HEADERS[lang]
    return pd.DataFrame(
        [
            {
                h["series"]: sid,
                h["points"]: v.get("points"),
                h["status"]: STATUS[lang].get(v.get("status"), v.get("status")),
                h["years"]: v.get("years"),
            }
            for sid, v in summary.items()
        ]
    )
