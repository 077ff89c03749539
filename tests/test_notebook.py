"""Notebook helpers: CSV exports."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lclib.report.notebook import export


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


def test_table_puts_the_index_in_the_header_row_and_left_aligns_text():
    from lclib.report.notebook import table

    df = pd.DataFrame({"Customers": [1200, 35], "Share": [0.9, 0.1], "Note": ["big", "small"],
                       "Lift": ["1.23x", "0.90x"]},
                      index=pd.Index(["paid_search", "email"], name="Channel"))
    html = table(df, {"Customers": "{:,}", "Share": "{:.1%}"}).to_html()
    head = html.split("<thead>")[1].split("</thead>")[0]
    assert head.count("<tr>") == 1  # one header row: no row holding only the index name
    assert ">Channel</th>" in head and ">Customers</th>" in head
    assert "1,200" in html and "90.0%" in html and "paid_search" in html
    css = html.split("</style>")[0]
    # Channel (col0) and Note (col3) are text: cells and headers left-aligned; numbers, also formatted ones, not
    assert "th.col_heading.col0" in css and "th.col_heading.col3" in css
    assert "col_heading.col1" not in css and "col_heading.col4" not in css
    plain = table(pd.DataFrame({"x": [1.5]}), "{:.1f}").to_html()
    assert ">index<" not in plain and "1.5" in plain  # a default 0..n-1 index is left out


def test_table_keeps_every_level_of_a_multiindex():
    from lclib.report.notebook import table

    df = pd.DataFrame({"n": [1, 2]}, index=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")],
                                                                      names=["Experiment", "Variant"]))
    html = table(df).to_html()
    head = html.split("<thead>")[1].split("</thead>")[0]
    assert ">Experiment</th>" in head and ">Variant</th>" in head and head.count("<tr>") == 1
