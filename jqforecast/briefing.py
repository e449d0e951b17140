"""Briefing outputs of a run: a self-contained HTML report and a PPTX deck.

Both only read a run folder's tables and charts (targets.csv, scenarios.csv, gap_closing.csv,
changes.csv, manifest.json, charts/*.png); they compute nothing new.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pandas as pd
from jinja2 import Environment, select_autoescape

from jqforecast import presentation as present
from jqforecast._io import write_atomic, write_text
from jqforecast.data.units import format_quantity
from jqforecast.targets.evaluate import is_observed_figure

WORDS = {
    "zh": {
        "title": "张江高新区金桥园 2026 年目标达成评估",
        "summary": "目标达成概率一览",
        "targets": "分目标分析",
        "scenarios": "情景分析",
        "gap": "缺口弥合：达到 80% 概率所需增速提升",
        "changes": "与上一次运行相比",
        "sens": "敏感性分析",
        "checkpoints": "中期检查点：目标年前一年需达到的水平",
        "checkpoints_note": "联合样本路径把每条路径的前一年与目标年联系起来：前一年（如 2025 年）统计数据公布时，若达到下表水平，目标的达成概率即为所列概率（对每条路径的达成与否按其前一年的值做逻辑回归得到）。",
        "sens_note": "各目标的不确定性来源，按方差占比排序。推算假设（如园区占浦东比重）的占比大，说明不确定性主要在于园区现有规模本身，取得园区官方统计即可大幅缩小，而非取决于未来增速。",
        "anchoring": "官方数据对推算假设的校正",
        "anchoring_note": "同一序列中官方数据与推算数据相邻时，两者之间的变化扣除该序列其余年份的正常增长后，反映推算假设的偏差；据此更新的假设用于所有以其推算的序列（如一个园区官方营收数据同时校正其他产业的推算营收），推算历史据此平移后再拟合模型。",
        "data": "数据来源与口径",
        "diag": "模型诊断",
        "diag_more": "展开：权重、重校准、MCMC 诊断（manifest.json 中的 models 部分）",
        "by_member": "各模型单独给出的达成概率（90% 区间据此计入模型分歧）",
        "p": "达成概率",
        "median": "2026 年预测中位数",
        "actual": "2026 年实际值",
        "short": "低于目标",
        "above": "高于目标",
        "closes": "弥合缺口",
        "uplift": "{year} 年起增速每年 +{pp:.1f} 个百分点",
        "out_of_reach": "{year} 年起难以弥合",
        "already": "已达 80%",
        "observed": "已有实际值",
        "no_change": "无上一次运行可比较",
        "derived_note": "内置数据均为依据公开数据推算（status=derived），非园区官方统计；详见 data/raw/SOURCES.md。",
        "method": "方法：统计模型（带漂移随机游走、阻尼漂移随机游走、指数平滑、ARIMA、Theta）与贝叶斯分层模型（PyMC）组合，联合样本路径逐条计算达成概率；滚动回测显示区间偏差显著的预测期，按真实年度序列的回测重校准分位数（PIT 分位数重校准）；推算假设的不确定性作为共同因子计入；累计认定类指标（如市级智能工厂）按每年新增数（计数模型）预测后逐年累加，不会下降。",
    },
    "en": {
        "title": "Jinqiao Park, Zhangjiang Hi-tech Zone: will the 2026 targets be hit?",
        "summary": "Probability of hitting each target",
        "targets": "Targets one by one",
        "scenarios": "Scenarios",
        "gap": "Closing the gap: growth uplift for P(hit) ≥ 80%",
        "changes": "Changes since the previous run",
        "sens": "Sensitivity",
        "checkpoints": "Checkpoints: the level to reach the year before",
        "checkpoints_note": "The joint sample paths tie each draw's year before the target year to the target year: when that year's figures (e.g. 2025's) are published, a level at the one below gives the target the probability listed (a logistic regression of each draw's hit on its value the year before).",
        "sens_note": "Each target's sources of uncertainty, largest share of variance first. A large share for a derivation assumption (such as the park's share of Pudong) means the uncertainty is mostly what the park's level is today, which an official park figure would settle, rather than what growth will do.",
        "anchoring": "What official figures say about the derivation assumptions",
        "anchoring_note": "Where a series has an official figure next to derived ones, the change between them, beyond the series' usual growth in its other years, measures how far off the derivation assumptions were; the updated assumption applies to every series derived with it (one official park revenue figure re-anchors the other industries' derived revenue too), and the derived history is moved accordingly before the models are fitted.",
        "data": "Data and provenance",
        "diag": "Model diagnostics",
        "diag_more": "Show: weights, recalibration, MCMC diagnostics (manifest.json, models)",
        "by_member": "P(hit) under each ensemble member alone (the 90% interval spans this)",
        "p": "P(hit)",
        "median": "2026 forecast median",
        "actual": "2026 actual",
        "short": "below target by",
        "above": "above target by",
        "closes": "what closes it",
        "uplift": "+{pp:.1f} pp/yr growth from {year}",
        "out_of_reach": "out of reach from {year}",
        "already": "already ≥ 80%",
        "observed": "observed",
        "no_change": "no previous run to compare with",
        "derived_note": "The bundled data are derived from public Shanghai/Pudong figures "
        "(status=derived), not official park statistics; see data/raw/SOURCES.md.",
        "method": "Method: statistical models (random walk with plain and damped drift, ETS, ARIMA, "
        "Theta) and Bayesian pooled models (PyMC) combined in "
        "an ensemble; P(hit) computed draw by draw on joint sample paths; quantiles "
        "recalibrated where rolling-origin backtests of real yearly series showed significant "
        "miscalibration (PIT recalibration); "
        "the uncertainty of derivation assumptions enters as shared factors; running totals "
        "of recognitions (smart factories) are forecast as yearly additions (a count model) "
        "and added up, so they never fall.",
    },
}

HTML = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ w.title }}</title>
<style>
body{font-family:"Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-width:1200px;margin:2em auto;color:#1f2d3a}
table{border-collapse:collapse;margin:1em 0;font-size:14px}td,th{border:1px solid #ccd;padding:4px 8px;text-align:right}
th{background:#eef2f6}td:first-child,th:first-child{text-align:left}img{width:100%;border:1px solid #eee}
.note{color:#7f8c8d;font-size:13px}
</style></head><body>
<h1>{{ w.title }}</h1>
<p class="note">run {{ m.started_at }} · seed {{ m.seed }} · {{ m.draws }} draws · jqforecast {{ m.versions.jqforecast }}{% if m.quick %} · quick mode{% endif %}</p>
<p class="note">{{ w.derived_note }}</p>
<h2>{{ w.summary }}</h2>
{{ targets_html }}
<img alt="summary" src="data:image/png;base64,{{ images['summary'] }}">
<p class="note">{{ w.by_member }}</p>
{{ by_member_html }}
<h2>{{ w.targets }}</h2>
{% for key, img in images.items() if key.startswith('fan_') %}<img alt="{{ key }}" src="data:image/png;base64,{{ img }}">{% endfor %}
<h2>{{ w.gap }}</h2>
{{ gap_html }}
<h2>{{ w.checkpoints }}</h2>
<p class="note">{{ w.checkpoints_note }}</p>
{{ checkpoints_html }}
<h2>{{ w.scenarios }}</h2>
{{ scenarios_html }}
{% if 'scenarios' in images %}<img alt="scenarios" src="data:image/png;base64,{{ images['scenarios'] }}">{% endif %}
{% if 'tornado' in images %}<h2>{{ w.sens }}</h2>
<img alt="tornado" src="data:image/png;base64,{{ images['tornado'] }}">
<p class="note">{{ w.sens_note }}</p>
{{ sensitivity_html }}{% endif %}
{% if anchoring_html %}<h2>{{ w.anchoring }}</h2>
<p class="note">{{ w.anchoring_note }}</p>
{{ anchoring_html }}{% endif %}
<h2>{{ w.changes }}</h2>
{{ changes_html }}
<h2>{{ w.data }}</h2>
{{ data_html }}
<p>{{ w.method }}</p>
<h2>{{ w.diag }}</h2>
<details><summary>{{ w.diag_more }}</summary><pre>{{ diagnostics }}</pre></details>
</body></html>
"""


def _table(frame: pd.DataFrame, empty: str) -> str:
    if frame is None or frame.empty:
        return f"<p class='note'>{empty}</p>"
    return frame.to_html(index=False, float_format=lambda x: f"{x:.4g}", na_rep="—", border=0)


def _read(run_dir: Path, name: str) -> pd.DataFrame | None:
    path = run_dir / name
    return pd.read_csv(path) if path.exists() and path.stat().st_size > 1 else None


def write_html(run_dir: str | Path, lang: str = "zh") -> Path:
    """``report.html``: one self-contained file (charts embedded as base64 PNG), its tables
    made for readers by :mod:`jqforecast.presentation` (the CSVs beside it keep the ids and
    raw numbers)."""
    run_dir = Path(run_dir)
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    targets = _read(run_dir, "targets.csv")
    images = {
        p.stem: base64.b64encode(p.read_bytes()).decode("ascii")
        for p in sorted((run_dir / "charts").glob("*.png"))
    }

    def table(name: str, layout, empty: str = "—") -> str:  # a run CSV, laid out for readers
        frame = _read(run_dir, name)
        return _markup(_table(None if frame is None else layout(frame, targets, lang), empty))

    html = (
        Environment(autoescape=select_autoescape())
        .from_string(HTML)
        .render(
            lang=lang,
            w=WORDS[lang],
            m=manifest,
            images=images,
            targets_html=_markup(_table(present.summary_table(targets, lang), "—")),
            gap_html=table("gap_closing.csv", present.gap_table),
            by_member_html=table("targets_by_member.csv", present.member_table),
            scenarios_html=table("scenarios.csv", present.scenario_table),
            sensitivity_html=table("sensitivity.csv", present.sensitivity_table),
            checkpoints_html=table("checkpoints.csv", present.checkpoint_table),
            anchoring_html=_anchoring_html(manifest.get("models", {}), lang),
            changes_html=table("changes.csv", present.change_table, WORDS[lang]["no_change"]),
            data_html=_markup(
                _table(present.data_table(manifest.get("data_summary", {}), lang), "—")
            ),
            diagnostics=json.dumps(manifest.get("models", {}), ensure_ascii=False, indent=1),
        )
    )
    return write_text(run_dir / "report.html", html)


def _anchoring_html(models: dict, lang: str):
    """The table of :func:`~jqforecast.presentation.anchoring_table`, or "" when no
    official figure informed an assumption (the section is then left out)."""
    frame = present.anchoring_table(models, lang)
    return "" if frame.empty else _markup(_table(frame, "—"))


def _markup(html: str):
    from markupsafe import Markup

    return Markup(html)  # tables come from pandas' own escaping


def _closes(rows: pd.DataFrame | None, w: dict) -> str:
    """One line from a target's gap_closing.csv rows: the uplift needed per start year."""
    if rows is None or rows.empty:
        return "—"
    if "observed" in rows and rows["observed"].astype(bool).all():  # the target year is in
        return w["observed"]
    if (rows["uplift_pp"] == 0).all():
        return w["already"]
    return "; ".join(
        w["uplift"].format(pp=r.uplift_pp, year=r.from_year)
        if bool(r.reachable)
        else w["out_of_reach"].format(year=r.from_year)
        for r in rows.itertuples()
    )


def _checkpoint_bullets(marks: pd.DataFrame | None, target: str, lang: str) -> list[str]:
    """A target slide's checkpoint line: the level to reach the year before for 80 %."""
    r = present.checkpoint_row(marks, target)
    if r is None:
        return []
    level, year, reach = present.checkpoint_level(r), int(r["year"]), f"{r['p_reach']:.0%}"
    p = f"{present.SHOWN_CHECKPOINT:.0%}"
    if lang == "zh":
        return [f"{year} 年检查点：{level}（达成概率 {p}；预测达到的概率 {reach}）"]
    return [f"{year} checkpoint: {level} (P(hit) {p}; chance of reaching it {reach})"]


def write_pptx(run_dir: str | Path, lang: str = "zh") -> Path:
    """``briefing.pptx``: title, summary (chart, then a native, editable table), one slide
    per modelled target, the gap-closing table (native too), the scenario comparison and the sensitivity tornado
    (when the run drew them), data & method."""
    from pptx import Presentation
    from pptx.util import Inches, Pt

    run_dir = Path(run_dir)
    w = WORDS[lang]
    manifest = json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    targets = _read(run_dir, "targets.csv")
    gaps = _read(run_dir, "gap_closing.csv")
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)

    def new_slide(layout: int):
        # python-pptx's default template is 4:3: stretch its placeholders to the 16:9 width.
        slide = deck.slides.add_slide(deck.slide_layouts[layout])
        for shape in slide.placeholders:
            top, height = shape.top, shape.height  # inherited from the layout until set
            shape.left, shape.width = Inches(0.6), deck.slide_width - Inches(1.2)
            shape.top, shape.height = top, height
        return slide

    title = new_slide(0)
    title.shapes.title.text = w["title"]
    title.placeholders[1].text = f"{manifest['started_at']} · seed {manifest['seed']}"

    def picture_slide(heading: str, image: Path, bullets: list[str] | None = None):
        slide = new_slide(5)
        slide.shapes.title.text = heading
        top, bottom = Inches(1.4), deck.slide_height - Inches(0.2)
        # 16:9 charts: as wide as the space left of the bullets allows, never below the slide
        width = min(Inches(9.0) if bullets else Inches(12.3), int((bottom - top) * 16 / 9))
        left = Inches(0.4) if bullets else (deck.slide_width - width) // 2
        slide.shapes.add_picture(str(image), left, top, width=width)
        if bullets:
            box = slide.shapes.add_textbox(Inches(9.6), Inches(1.6), Inches(3.5), Inches(5))
            frame = box.text_frame
            frame.word_wrap = True
            for k, text in enumerate(bullets):
                para = frame.paragraphs[0] if k == 0 else frame.add_paragraph()
                para.text = text
                para.font.size = Pt(16)
        return slide

    def table_slide(heading: str, frame: pd.DataFrame, size: int = 12):
        """A native table (editable, ready to paste), one row per frame row."""
        slide = new_slide(5)
        slide.shapes.title.text = heading
        rows, cols = len(frame) + 1, len(frame.columns)
        height = min(Inches(0.42) * rows, deck.slide_height - Inches(1.7))
        shape = slide.shapes.add_table(
            rows, cols, Inches(0.4), Inches(1.4), deck.slide_width - Inches(0.8), height
        )
        for j, column in enumerate(frame.columns):
            shape.table.cell(0, j).text = str(column)
        for i, values in enumerate(frame.itertuples(index=False), start=1):
            for j, value in enumerate(values):
                shape.table.cell(i, j).text = "" if pd.isna(value) else str(value)
        for cell in (shape.table.cell(i, j) for i in range(rows) for j in range(cols)):
            for para in cell.text_frame.paragraphs:
                para.font.size = Pt(size)
        return slide

    picture_slide(w["summary"], run_dir / "charts" / "summary.png")
    summary = present.summary_table(targets, lang)
    h = present.HEADERS[lang]
    table_slide(w["summary"], summary.drop(columns=[h["band80"], h["note"]]), size=11)
    marks = _read(run_dir, "checkpoints.csv")
    for row in targets.itertuples():
        chart = run_dir / "charts" / f"fan_{row.id}.png"
        if row.kind != "modelled" or not chart.exists():
            continue
        closes = _closes(gaps[gaps["target"] == row.id] if gaps is not None else None, w)
        exact = is_observed_figure(row)  # a figure, not a probability
        bullets = [
            f"{w['p']}: {row.p_hit:.0%} (90%: {row.p_hit_lo:.0%}–{row.p_hit_hi:.0%})",
            f"{w['actual'] if exact else w['median']}: {format_quantity(row.median, row.unit)}; "
            f"{w['short'] if row.gap > 0 else w['above']} {format_quantity(abs(row.gap), row.unit, difference=True)}",
            f"{w['closes']}: {closes}",
        ][int(exact) :] + _checkpoint_bullets(marks, row.id, lang)
        label = getattr(row, f"label_{lang}")
        picture_slide(f"{label} — {getattr(row, f'verdict_{lang}')}", chart, bullets)
    if gaps is not None and not gaps.empty:
        table_slide(w["gap"], present.gap_table(gaps, targets, lang))
    if marks is not None and not marks.empty:
        table_slide(w["checkpoints"], present.checkpoint_table(marks, targets, lang))
    for stem, heading in (("scenarios", w["scenarios"]), ("tornado", w["sens"])):
        if (run_dir / "charts" / f"{stem}.png").exists():
            picture_slide(heading, run_dir / "charts" / f"{stem}.png")
    sensitivity = _read(run_dir, "sensitivity.csv")
    if sensitivity is not None and not sensitivity.empty:
        table_slide(w["sens"], present.sensitivity_table(sensitivity, targets, lang), size=11)
    anchoring = present.anchoring_table(manifest.get("models", {}), lang)
    if not anchoring.empty:
        table_slide(w["anchoring"], anchoring, size=11)

    appendix = new_slide(1)
    appendix.shapes.title.text = w["data"]
    body = appendix.placeholders[1].text_frame
    body.text = w["derived_note"]
    body.add_paragraph().text = w["method"]
    for para in body.paragraphs:
        para.font.size = Pt(16)
    return write_atomic(run_dir / "briefing.pptx", lambda p: deck.save(str(p)))
