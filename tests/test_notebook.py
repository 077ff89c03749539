"""Notebook helpers: CSV exports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lclib.notebook import export


def test_export_round_trips_values_and_keeps_named_index(tmp_path):
    df = pd.DataFrame(
        {"name": ["a,b", 'say "hi"', None, "x\ny"], "value": [0.1, np.nan, 1e-20, 1 / 3],
         "count": pd.array([1, None, 3, 4], dtype="Int64"),
         "when": pd.to_datetime(["2024-01-01", None, "2024-01-02 03:04:05", "2024-01-01"], format="ISO8601"),
         "flag": [True, False, True, False]},
        index=pd.Index(["c1", "c2", "c3", "c4"], name="customer_id"))
    path = export(df, "customers", tmp_path)
    assert path == tmp_path / "customers.csv"
    back = pd.read_csv(path, parse_dates=["when"], dtype={"customer_id": str, "name": str}).set_index("customer_id")
    assert back.columns.tolist() == ["name", "value", "count", "when", "flag"]
    assert back["name"].tolist()[:2] == ["a,b", 'say "hi"'] and pd.isna(back["name"].iloc[2])
    assert back["name"].iloc[3] == "x\ny"
    np.testing.assert_array_equal(back["value"].to_numpy(), df["value"].to_numpy())  # 17 digits kept
    assert back["count"].isna().tolist() == [False, True, False, False]
    assert back["when"].tolist() == df["when"].tolist()
    assert back["flag"].tolist() == [True, False, True, False]


def test_export_leaves_out_a_default_index_and_does_nothing_without_a_folder(tmp_path):
    export(pd.DataFrame({"a": [1, 2]}), "plain", tmp_path)
    assert (tmp_path / "plain.csv").read_text().splitlines() == ["a", "1", "2"]
    assert export(pd.DataFrame({"a": [1]}), "none", None) is None
