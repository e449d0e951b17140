"""The README's Python example runs as written (fewer draws, to keep the suite fast)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.mark.slow
def test_readme_python_example_runs(monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "the README has one Python example; update this test if it grows"
    code = blocks[0]
    assert code.count("draws=4000") == 1
    monkeypatch.chdir(README.parent)
    scope: dict = {}
    exec(compile(code.replace("draws=4000", "draws=400"), "README.md", "exec"), scope)
    table = scope["gap_closing"](scope["fc"])
    assert set(table["target"]) == {
        "leading_revenue",
        "rd_intensity",
        "pct_filings",
        "smart_factories",
    }
    assert scope["report"].table["p_hit"].notna().sum() >= 4
