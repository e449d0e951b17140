"""The bundled dataset: reproducible from its sources, fully provenanced, valid."""

from __future__ import annotations

import pandas as pd
import pytest

import jqforecast
from jqforecast.data.derive import derive_default, load_assumptions
from jqforecast.data.schema import effective_rel_sd
from jqforecast.paths import default_data_file, raw_dir


def test_committed_dataset_equals_its_derivation():
    committed = jqforecast.load_default()
    derived = derive_default()
    pd.testing.assert_frame_equal(
        committed, derived.sort_values(["metric", "industry", "year"], ignore_index=True)
    )


def test_every_value_has_source_status_and_note():
    df = jqforecast.load_default()
    assert df["source"].str.len().min() > 10
    assert set(df["status"]) <= {"official", "estimate", "derived"}
    derived = df[df["status"] == "derived"]
    assert derived["note"].str.startswith("= ").all()
    assert (effective_rel_sd(derived) > 0).all()


def test_a_derivation_by_hand():
    df = jqforecast.load_default().set_index(["metric", "industry", "year"])
    # Shanghai IC 2021 = 2500 亿元 (public_figures.csv) × Pudong IC share 0.80 × park share 0.28
    assert df.loc[("revenue", "ic", 2021), "value"] == pytest.approx(2500 * 0.80 * 0.28)
    # Pudong 2024 three-industry total 8323.1 × 0.28 equals the sum of the 2024 park industries
    total_2024 = sum(df.loc[("revenue", i, 2024), "value"] for i in ("ic", "biomed", "ai"))
    assert total_2024 == pytest.approx(8323.1 * 0.28, rel=1e-5)


def test_assumptions_are_documented_and_used():
    assumptions = load_assumptions()
    recipes = pd.read_csv(raw_dir() / "inputs" / "derivations.csv")
    used = {f for factors in recipes["factors"] for f in factors.split()}
    assert used == set(assumptions)
    for a in assumptions.values():
        assert a.basis and a.source and a.rel_sd >= 0


def test_sources_md_lists_every_series():
    text = (raw_dir() / "SOURCES.md").read_text(encoding="utf-8")
    df = jqforecast.load_default()
    for metric, industry in df.groupby(["metric", "industry"]).groups:
        assert f"{metric}/{industry}" in text
    assert default_data_file().exists()
