"""The benchmark's results for people: the metrics table (text or Markdown) and the
reliability diagram."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def reliability_png(reliab: dict[str, pd.DataFrame], path: Path, event_h: int) -> None:
    """The reliability diagram (``reliability.png``): per model, the observed frequency of
    the events against their binned predicted probability (``reliab``: the reliability
    tables of :func:`~jqforecast.backtest.scoreboard.score`), the diagonal for reference."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 6.0), dpi=150)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect calibration")
    for name, t in reliab.items():
        t = t[t["n"] > 0]
        ax.plot(t["mean_predicted"], t["observed_freq"], marker="o", ms=3, lw=1.2, label=name)
    ax.set_xlabel("predicted P(event)")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"Event-probability reliability (h = {event_h}, four thresholds pooled)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def format_table(result: dict, markdown: bool = False) -> str:
    """The metrics, best OWA first, as a fixed-width text table or a Markdown table.

    ``python -c "import json, sys; from jqforecast.backtest.report import format_table;
    print(format_table(json.load(open(sys.argv[1])), markdown=True))" DIR/metrics.json``
    gives the tables of benchmarks/RESULTS.md.
    """
    cols = {
        "smape": "sMAPE",
        "mase": "MASE",
        "owa": "OWA",
        "crps_scaled": "CRPS/scale",
        "coverage_80": "cov 80",
        "coverage_95": "cov 95",
        "msis_95": "MSIS",
        "brier_mean": "Brier",
        "log_score_mean": "log score",
        "seconds": "s",
        "time_vs_autoets": "×ETS",
    }
    rows = sorted(result["models"].items(), key=lambda kv: kv[1]["owa"])
    if markdown:
        lines = ["| model | " + " | ".join(cols.values()) + " |", "|---" * (len(cols) + 1) + "|"]
        lines += [
            f"| {name} | " + " | ".join(f"{r[c]:.4g}" for c in cols) + " |" for name, r in rows
        ]
        return "\n".join(lines)
    width = max(len(name) for name, _ in rows) + 2
    lines = [f"{'model':<{width}}" + "".join(f"{h:>12}" for h in cols.values())]
    lines += [f"{name:<{width}}" + "".join(f"{r[c]:>12.4f}" for c in cols) for name, r in rows]
    return "\n".join(lines)
