"""Charts with one house style: 16:9 slide size, Chinese or English labels, PNG (200 dpi) + SVG.

Charts only read results (a Forecast, a TargetReport, a scenario table); they compute nothing
that a table does not also hold, except the quantiles they draw.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.ticker import PercentFormatter  # noqa: E402

from jqforecast._io import write_atomic  # noqa: E402
from jqforecast.data.units import format_quantity  # noqa: E402
from jqforecast.presentation import checkpoint_level, driver_label  # noqa: E402
from jqforecast.result import Forecast  # noqa: E402
from jqforecast.targets.definitions import Target  # noqa: E402
from jqforecast.targets.evaluate import is_observed_figure, measured_in  # noqa: E402

SLIDE = (13.333, 7.5)  # inches: a 16:9 PowerPoint slide
DPI = 200
CJK_FONTS = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Source Han Sans SC",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
COLORS = {
    "history": "#1f3b57",
    "band": "#2f6f9f",
    "target": "#c0392b",
    "hit": "#2e8b57",
    "miss": "#c0392b",
    "neutral": "#7f8c8d",
}
TEXT = {
    "zh": {
        "history_official": "历史值（官方统计）",
        "history_other": "历史值（估计/推算）",
        "history_range": "历史值的推算不确定性（95%）",
        "checkpoint": "{year}年检查点：{level}（达成概率 {p:.0%}）",
        "median": "预测中位数",
        "band": "{p}% 区间",
        "target": "目标",
        "p_hit": "达成概率",
        "observed": "{year}年实际值 {value}",
        "year": "年份",
        "no_data": "无数据",
        "elicited": "专家判断",
        "summary": "2026年目标达成概率（误差线：90% 区间，含模型分歧）",
        "scenarios": "情景分析：达成概率",
        "baseline": "基准",
    },
    "en": {
        "history_official": "history (official)",
        "history_other": "history (estimated/derived)",
        "history_range": "uncertainty of past estimates (95%)",
        "checkpoint": "{year} checkpoint: {level} (P(hit) {p:.0%})",
        "median": "forecast median",
        "band": "{p}% interval",
        "target": "target",
        "p_hit": "P(hit)",
        "observed": "{year} actual: {value}",
        "year": "year",
        "no_data": "no data",
        "elicited": "elicited",
        "summary": "P(hit) of each 2026 target (bars: 90% interval incl. model disagreement)",
        "scenarios": "Scenarios: probability of hitting each target",
        "baseline": "baseline",
    },
}


def cjk_font() -> str | None:
    """Name of an installed CJK font, or ``None``."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


@contextlib.contextmanager
def house_style(lang: str = "zh") -> Iterator[None]:
    """Matplotlib settings shared by every chart; Chinese needs a real CJK font."""
    font = cjk_font()
    if lang == "zh" and font is None:
        raise RuntimeError(
            "no CJK font installed (run scripts/setup.sh: it installs "
            "fonts-noto-cjk); use --lang en for English labels"
        )
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    with plt.rc_context(
        {
            # Font names, not the generic "sans-serif": text artists keep the family they were
            # created with, so figures saved after this context still render CJK glyphs.
            "font.family": family,
            "axes.unicode_minus": False,
            "font.size": 14,
            "axes.titlesize": 20,
            "axes.labelsize": 15,
            "legend.fontsize": 12,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "figure.dpi": 100,
            "savefig.dpi": DPI,
            "svg.fonttype": "none",
        }
    ):
        yield


def save(fig, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` (200 dpi) and ``stem.svg`` atomically; close the figure."""
    stem = Path(stem)
    paths = [
        write_atomic(stem.with_suffix(".png"), lambda p: fig.savefig(p, format="png", dpi=DPI)),
        write_atomic(stem.with_suffix(".svg"), lambda p: fig.savefig(p, format="svg")),
    ]
    plt.close(fig)
    return paths


def _measure_by_year(target: Target, value_of) -> dict[int, object]:
    """The target's measure moved to each of ``value_of.years`` where its terms have values
    (single-year measures only; :func:`~jqforecast.targets.evaluate.measured_in`)."""
    out = {}
    for y in value_of.years:
        try:
            out[y] = measured_in(target, value_of, y)
        except KeyError:
            continue
    return out


class _Lookup:
    """``(series, year) -> value(s)`` over observations or forecast draws, with ``years``."""

    def __init__(self, get, years):
        self.get, self.years = get, list(years)

    def __call__(self, series: str, year: int):
        return self.get(series, year)


def fan_chart(
    forecast: Forecast,
    target: Target,
    row: pd.Series,
    lang: str = "zh",
    checkpoint: pd.Series | None = None,
):
    """History, 50/80/95% bands of the measured quantity, target line, P(hit) annotated;
    with ``checkpoint`` (a row of :func:`jqforecast.targets.checkpoints.checkpoints` with a
    value) a marker at the level to reach that year."""
    tx = TEXT[lang]
    with house_style(lang):
        fig, ax = plt.subplots(figsize=SLIDE)
        multi_year = len(target.measure.years) > 1
        if not multi_year:
            hist = forecast.history.assign(
                series=forecast.history["metric"] + "/" + forecast.history["industry"]
            )
            values = hist.set_index(["series", "year"])["value"]
            status = hist.set_index(["series", "year"])["status"]
            past = _measure_by_year(
                target, _Lookup(lambda s, y: values.loc[(s, y)], sorted(hist["year"].unique()))
            )
            official = {
                y: all(status.get((s, y)) == "official" for s in target.series) for y in past
            }
            ys = sorted(past)
            ax.plot(ys, [past[y] for y in ys], color=COLORS["history"], lw=1.5)
            for flag, label, face in (
                (True, tx["history_official"], COLORS["history"]),
                (False, tx["history_other"], "white"),
            ):
                sel = [y for y in ys if official[y] == flag]
                if sel:
                    ax.scatter(
                        sel,
                        [past[y] for y in sel],
                        s=70,
                        zorder=3,
                        label=label,
                        facecolor=face,
                        edgecolor=COLORS["history"],
                        lw=1.8,
                    )
            _history_ranges(ax, target, forecast, past, [y for y in ys if not official[y]], tx)
            draws = _measure_by_year(target, _Lookup(forecast.values, forecast.years))
            fyears = [y for y in sorted(draws) if y > max(ys, default=0)]
        else:
            fyears = [target.year]
            draws = {
                target.year: target.measure.evaluate(lambda t: forecast.values(t.series, t.year))
            }
        if fyears:  # (none when the target's year is already observed: history alone)
            median = _fan(ax, np.stack([np.asarray(draws[y]) for y in fyears]), fyears, tx)
            if not multi_year and ys and fyears[0] > ys[-1]:  # from the last value into the fan
                ax.plot(
                    [ys[-1], fyears[0]],
                    [past[ys[-1]], median[0]],
                    color=COLORS["band"],
                    lw=1.2,
                    ls=":",
                )
        if checkpoint is not None and not pd.isna(checkpoint.get("value")):
            _checkpoint_marker(ax, checkpoint, tx)
        ax.axhline(target.threshold, color=COLORS["target"], lw=2)
        ax.annotate(
            f"{tx['target']} {target.comparator} {target.as_written()}",
            (ax.get_xlim()[0], target.threshold),
            xytext=(6, 6),
            textcoords="offset points",
            color=COLORS["target"],
        )
        p = row["p_hit"]
        if is_observed_figure(row):  # observed exactly: say what it was
            figure = format_quantity(row["median"], target.unit)
            text = tx["observed"].format(year=target.year, value=figure)
        else:
            text = f"{tx['p_hit']} {p:.0%} (90%: {row['p_hit_lo']:.0%}–{row['p_hit_hi']:.0%})"
        ax.text(  # top right on a white box: readable over the fan, clear of the legend
            0.99,
            0.97,
            text,
            transform=ax.transAxes,
            ha="right",
            va="top",
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 4},
            fontsize=22,
            weight="bold",
            color=COLORS["hit"] if p >= 0.7 else COLORS["miss"] if p < 0.3 else "#d68910",
        )
        label = target.label_zh if lang == "zh" else target.label_en
        unit = target.unit if target.unit != "ratio" else "%"
        if target.unit == "ratio":  # ratios are stored as fractions and read in percent
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1, decimals=1))
        ax.set_title(
            f"{label}（{row['verdict_zh']}）" if lang == "zh" else f"{label} ({row['verdict_en']})"
        )
        ax.set_xlabel(tx["year"])
        ax.set_ylabel(unit)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.legend(loc="upper left", frameon=False)
        fig.tight_layout()
    return fig


def _checkpoint_marker(ax, checkpoint: pd.Series, tx: dict) -> None:
    """A diamond at the checkpoint year and level, labelled with the level and its P(hit)."""
    year, value = int(checkpoint["year"]), float(checkpoint["value"])
    level = checkpoint_level(checkpoint)
    text = tx["checkpoint"].format(year=year, p=checkpoint["level"], level=level)
    ax.scatter([year], [value], marker="D", s=80, color=COLORS["target"], zorder=4, label=text)


def _history_ranges(ax, target: Target, forecast: Forecast, past: dict, years: list, tx: dict):
    """Whiskers on estimated/derived past figures: the 95 % range of their true value
    (:meth:`Forecast.observed_draws`, the same derivation factors as the fan), so a reader
    sees that the fan's width starts in the history: the level itself is uncertain."""
    draws = _measure_by_year(target, _Lookup(forecast.observed_draws, years))
    shown = [y for y in years if y in draws and np.ptp(np.asarray(draws[y])) > 0]
    if not shown:
        return
    lo, hi = np.quantile(np.stack([np.asarray(draws[y]) for y in shown]), [0.025, 0.975], axis=1)
    centre = np.array([past[y] for y in shown], dtype=float)
    ax.errorbar(
        shown,
        centre,
        yerr=[np.maximum(centre - lo, 0), np.maximum(hi - centre, 0)],
        fmt="none",
        ecolor=COLORS["history"],
        elinewidth=1.2,
        capsize=5,
        alpha=0.7,
        zorder=2,
        label=tx["history_range"],
    )


def _fan(ax, arr: np.ndarray, years: list[int], tx: dict) -> np.ndarray:
    """50/80/95 % bands and the median of ``arr`` (years, draws) over ``years``; returns the
    median."""
    for p, alpha in ((95, 0.15), (80, 0.25), (50, 0.4)):
        lo, hi = np.quantile(arr, [(100 - p) / 200, 1 - (100 - p) / 200], axis=1)
        ax.fill_between(
            years, lo, hi, color=COLORS["band"], alpha=alpha, lw=0, label=tx["band"].format(p=p)
        )
    median = np.median(arr, axis=1)
    ax.plot(years, median, color=COLORS["band"], lw=2.2, ls="--", label=tx["median"])
    return median


def summary_chart(table: pd.DataFrame, lang: str = "zh"):
    """P(hit) of every target with its 90 % interval (Monte Carlo error and the ensemble
    members' disagreement) as error bars; no-data/elicited targets labelled."""
    tx = TEXT[lang]
    with house_style(lang):
        fig, ax = plt.subplots(figsize=SLIDE)
        labels = table["label_zh" if lang == "zh" else "label_en"].tolist()
        y = np.arange(len(table))[::-1]
        for yi, (_, r) in zip(y, table.iterrows(), strict=True):
            if r["kind"] == "modelled":
                color = (
                    COLORS["hit"]
                    if r["p_hit"] >= 0.7
                    else (COLORS["miss"] if r["p_hit"] < 0.3 else "#d68910")
                )
                ax.barh(yi, r["p_hit"], color=color, height=0.6)
                xerr = [[r["p_hit"] - r["p_hit_lo"]], [r["p_hit_hi"] - r["p_hit"]]]
                ax.errorbar(r["p_hit"], yi, xerr=xerr, color="black", capsize=4)
                ax.text(
                    r["p_hit_hi"] + 0.015,
                    yi,
                    f"{r['p_hit']:.0%}",
                    va="center",
                )
            else:
                text = (
                    tx["no_data"]
                    if r["kind"] == "no data"
                    else tx["elicited"] + (f" {r['p_hit']:.0%}" if pd.notna(r["p_hit"]) else "")
                )
                ax.text(0.02, yi, text, va="center", color=COLORS["neutral"], style="italic")
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.7, len(table) - 0.3)  # keep the bottom row's text off the axis
        ax.set_xlim(0, 1.08)  # room for a label right of a bar whose interval reaches 100 %
        ax.set_xticks(np.linspace(0, 1, 6))
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.axvline(0.8, color=COLORS["neutral"], ls=":", lw=1)
        ax.set_title(tx["summary"])
        fig.tight_layout()
    return fig


def scenario_chart(table: pd.DataFrame, labels: dict[str, str], lang: str = "zh"):
    """Grouped bars: P(hit) per target under the baseline and each scenario."""
    tx = TEXT[lang]
    with house_style(lang):
        fig, ax = plt.subplots(figsize=SLIDE)
        wide = table.pivot(index="target", columns="scenario", values="p_hit")
        cols = ["baseline", *[c for c in wide.columns if c != "baseline"]]
        wide = wide[cols]
        x = np.arange(len(wide))
        width = 0.8 / len(cols)
        for k, c in enumerate(cols):
            ax.bar(x + k * width, wide[c], width, label=tx["baseline"] if c == "baseline" else c)
        ax.set_xticks(x + 0.4 - width / 2, [labels.get(t, t) for t in wide.index])
        ax.set_ylim(0, 1)
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.set_title(tx["scenarios"])
        ax.legend(frameon=False)
        fig.tight_layout()
    return fig


def missing_glyph_warnings(fig_factory) -> list[str]:
    """Run ``fig_factory()`` and render to PNG, returning any missing-glyph warnings."""
    import io

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig = fig_factory()
        fig.savefig(io.BytesIO(), format="png")
        plt.close(fig)
    return [str(w.message) for w in caught if "missing from" in str(w.message)]


def tornado_chart(table: pd.DataFrame, labels: dict[str, str], lang: str = "zh"):
    """P(hit) when each driving series, or each shared derivation assumption, moves ±1 sd:
    one horizontal bar per (target, driver) of :func:`jqforecast.scenarios.sensitivity`."""
    word = {
        "zh": (
            "敏感性：各序列或推算假设 ±1 个标准差时的达成概率",
            "达成概率",
            "低 1 个标准差",
            "高 1 个标准差",
            "基准",
        ),
        "en": (
            "Sensitivity: P(hit) with each series or assumption at ±1 sd",
            "P(hit)",
            "−1 sd",
            "+1 sd",
            "baseline",
        ),
    }[lang]
    with house_style(lang):
        fig, ax = plt.subplots(figsize=SLIDE)
        rows = table.sort_values(["target", "swing"]).reset_index(drop=True)
        y = np.arange(len(rows))
        base = rows["p_hit"]
        for col, color, name in (
            ("p_hit_minus_1sd", COLORS["miss"], word[2]),
            ("p_hit_plus_1sd", COLORS["band"], word[3]),
        ):
            ax.barh(y, rows[col] - base, left=base, color=color, height=0.6, label=name)
        ax.scatter(base, y, color="black", zorder=3, s=25, label=word[4])
        drivers = rows["driver"] if "driver" in rows else pd.Series("series", index=rows.index)
        ax.set_yticks(
            y,
            [
                f"{labels.get(t, t)}\n{driver_label(d, s, lang)}"  # two lines: long in English
                for t, s, d in zip(rows["target"], rows["series"], drivers, strict=True)
            ],
        )
        ax.legend(loc="lower right", frameon=False)
        ax.set_xlim(0, 1)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.set_xlabel(word[1])
        fig.suptitle(word[0], fontsize=plt.rcParams["axes.titlesize"])  # over the figure
        fig.tight_layout()
    return fig
