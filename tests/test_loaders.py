"""Loaders: encodings, layouts and Chinese headers all give the same validated table."""

from __future__ import annotations

import openpyxl
import pytest

import jqforecast
from jqforecast.data.errors import ValidationError


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_csv_encodings_give_identical_tables(write_csv, valid_rows, encoding):
    reference = jqforecast.load(write_csv(valid_rows, "utf-8", name="ref.csv"), warn=False)
    loaded = jqforecast.load(write_csv(valid_rows, encoding), warn=False)
    assert loaded.equals(reference)
    assert loaded["source"].iloc[0] == "浦东统计年鉴2020"
    assert loaded["value"].tolist() == [100.0, 110.0, 125.0, 140.0, 150.0]


def test_tab_separated_with_chinese_headers_and_words(write_csv):
    header = "指标,行业,年份,数值,单位,状态,来源,备注"
    rows = [
        "revenue,集成电路,2022年,１２０００,万元,官方,统计公报,",
        "revenue,集成电路,2023年,1.5,亿元,估计,新闻,",
    ]
    path = write_csv(rows, "gbk", header=header, sep="\t")
    df = jqforecast.load(path, warn=False)
    assert df["industry"].tolist() == ["ic", "ic"]
    assert df["status"].tolist() == ["official", "estimate"]
    assert df["value"].tolist() == pytest.approx([1.2, 1.5])
    assert df["orig_value"].iloc[0] == 12000 and df["orig_unit"].iloc[0] == "万元"


def _wide_workbook(path, title=True, footnote=True):
    wb = openpyxl.Workbook()
    ws = wb.active
    if title:
        ws.append(["金桥园区主要指标（2019-2023年）"])
        ws.append([])
    ws.append(["指标", "行业", "单位", "状态", "2019年", "2020年", "2021年", 2022, "2023"])
    ws.append(["revenue", "集成电路", "亿元", "official", 100, 110, None, 140, "150"])
    ws.append(["pct_filings", "park_total", "件", "official", 300, 320, 350, 390, 410])
    ws.append(["rd_intensity", "park_total", "%", "estimate", 3.1, 3.3, 3.4, 3.6, 3.9])
    if footnote:
        ws.append([])
        ws.append(["注：2021年集成电路营收数据暂缺。"])
        ws.append(["资料来源：浦东新区统计年鉴（示例）"])
    wb.save(path)
    return str(path)


def test_wide_excel_with_title_and_footnotes(tmp_path):
    df = jqforecast.load(_wide_workbook(tmp_path / "wide.xlsx"), warn=False)
    assert len(df) == 4 + 5 + 5  # the empty 2021 cell is no observation
    ic = df[(df.metric == "revenue") & (df.industry == "ic")]
    assert ic["year"].tolist() == [2019, 2020, 2022, 2023]
    rd = df[df.metric == "rd_intensity"].set_index("year")["value"]
    assert rd[2023] == pytest.approx(0.039)
    assert set(df["source"]) == {"浦东新区统计年鉴（示例）"}  # taken from the footnote


def test_wide_excel_errors_name_the_cell(tmp_path):
    path = _wide_workbook(tmp_path / "wide.xlsx")
    wb = openpyxl.load_workbook(path)
    wb.active["F5"] = "n.a."  # revenue/ic 2020
    wb.save(path)
    with pytest.raises(ValidationError) as info:
        jqforecast.load(path, warn=False)
    (problem,) = info.value.problems
    assert problem.row == 4 + 1
    assert "2020年" in problem.column and "F5" in problem.column
    assert problem.value == "n.a."


def test_directory_loads_all_tables(tmp_path, write_csv, valid_rows):
    write_csv(valid_rows[:3], name="a.csv")
    write_csv(valid_rows[3:], name="b.csv")
    df = jqforecast.load(tmp_path, warn=False)
    assert df["year"].tolist() == [2019, 2020, 2021, 2022, 2023]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        jqforecast.load(tmp_path / "nope.csv")
