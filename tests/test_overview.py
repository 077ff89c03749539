"""Data overview: monthly activity and headline counts, the same from both engines."""

from __future__ import annotations

import pandas as pd
import pytest

from lclib.analysis import overview
from lclib.config import load_config
from lclib.io.dataset import load_dataset

LINES = pd.DataFrame({
    "customer_id": ["a", "a", "a", "b", "b", "c"],
    "order_id": ["o1", "o1", "o2", "o3", "o4", "o5"],
    "timestamp": pd.to_datetime(["2024-01-05", "2024-01-05", "2024-03-02", "2024-01-20", "2024-01-21",
                                 "2024-03-31 23:59:59"], format="ISO8601"),
    "amount": [10.0, 5.0, 20.0, 7.0, 8.0, 1.5],
})


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_monthly_activity_by_hand(engine):
    got = overview.monthly_activity(LINES, engine=engine)
    assert [str(m) for m in got.index] == ["2024-01", "2024-02", "2024-03"]  # empty February kept
    assert got["orders"].tolist() == [3, 0, 2]
    assert got["customers"].tolist() == [2, 0, 2]
    assert got["new_customers"].tolist() == [2, 0, 1]  # a and b in January, c in March
    assert got["revenue"].tolist() == [30.0, 0.0, 21.5]
    assert got["average_order_value"].iloc[0] == 10.0 and pd.isna(got["average_order_value"].iloc[1])


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_headline_counts_by_hand(engine):
    got = overview.headline_counts(LINES, engine=engine)
    assert got == {"customers": 3, "orders": 5, "order_lines": 6, "revenue": 51.5,
                   "repeat_customer_share": pytest.approx(200 / 3), "days_covered": 87}


def test_engines_agree_on_the_sample():
    tx = load_dataset(load_config()).transactions
    pd.testing.assert_frame_equal(overview.monthly_activity(tx, engine="duckdb"),
                                  overview.monthly_activity(tx, engine="pandas"), rtol=1e-12)
    a, b = overview.headline_counts(tx, engine="duckdb"), overview.headline_counts(tx, engine="pandas")
    assert a == {k: pytest.approx(v, rel=1e-12) for k, v in b.items()}


def test_distinct_people_counts_a_signed_up_visitor_once():
    ev = pd.DataFrame({
        "anonymous_id": ["v1", "v1", "v2", "v3", None, None],
        "customer_id": [None, "c1", None, "c3", "c1", "c9"],  # c1 = v1; c9 is never linked
        "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05",
                                     "2024-01-06"]),
    })
    # v1 (also c1), v2, v3 (also c3) and c9 (customer events only): 4 persons, not 3 + 3 ids
    assert overview.distinct_people(ev) == 4
    assert overview.distinct_people(pd.DataFrame({"customer_id": ["a", "b", "a"]})) == 2
    assert overview.distinct_people(pd.DataFrame({"date": [1]})) is None


def test_table_overview_people_on_the_sample():
    data = load_dataset(load_config())
    got = overview.table_overview(data).set_index("table")["people"]
    ev = data.tables["events"]
    assert got["events"] == ev["anonymous_id"].nunique()  # every customer's events carry an anonymous id here
    assert got["events"] < ev["anonymous_id"].nunique() + ev["customer_id"].nunique()
    assert got["transactions"] == data.transactions["customer_id"].nunique()
    assert pd.isna(got["spend"])


# -- out of core: the run's cache keeps the transactions on disk; report 00 reads them by path


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_overview_on_a_parquet_path_equals_the_dataframe(tmp_path, engine):
    path = tmp_path / "transactions.parquet"
    LINES.to_parquet(path)
    pd.testing.assert_frame_equal(overview.monthly_activity(str(path), engine=engine),
                                  overview.monthly_activity(LINES, engine=engine))
    assert overview.headline_counts(str(path), engine=engine) == overview.headline_counts(LINES, engine=engine)


def test_headline_counts_count_the_lines_a_compacted_row_stands_for(tmp_path):
    from lclib.engine.orders import compact_order_lines_file

    path = tmp_path / "transactions.parquet"
    LINES.to_parquet(path)
    assert compact_order_lines_file(path) == 5  # o1's two lines at one time become one row
    for source in (str(path), pd.read_parquet(path)):
        got = overview.headline_counts(source, engine="duckdb")
        assert (got["order_lines"], got["orders"], got["revenue"]) == (6, 5, 51.5)


def test_as_of_of_a_parquet_path_is_midnight_after_its_last_time(tmp_path):
    from lclib.engine.contracts import resolve_as_of

    path = tmp_path / "transactions.parquet"
    LINES.to_parquet(path)
    assert resolve_as_of(str(path)) == resolve_as_of(LINES) == pd.Timestamp("2024-04-01")
    assert resolve_as_of(str(path), "2024-02-01") == pd.Timestamp("2024-02-01")
    LINES.assign(timestamp=pd.NaT).to_parquet(path)
    with pytest.raises(ValueError, match="no timestamps"):
        resolve_as_of(str(path))


def test_cached_run_reports_00_without_reading_the_transactions(tmp_path):
    """A dataset opened from a run's cache answers report 00 by engine queries on the file:
    the same table as from the DataFrames, and the transactions are never read into pandas."""
    cfg = load_config()
    loaded = load_dataset(cfg)
    loaded.save(tmp_path / "cache")
    cached = load_dataset(cfg, cache_dir=tmp_path / "cache")
    source = cached.source("transactions")
    assert isinstance(source, str) and source.endswith("transactions.parquet")
    got = overview.table_overview(cached).set_index("table").sort_index()
    pd.testing.assert_frame_equal(got, overview.table_overview(loaded).set_index("table").sort_index())
    pd.testing.assert_frame_equal(overview.monthly_activity(source), overview.monthly_activity(loaded.transactions),
                                  rtol=1e-12)
    assert cached.tables.file("transactions") is not None  # still on disk: nothing read it
    assert isinstance(cached.source("transactions"), str)
    cached.transactions  # reading it ...
    assert isinstance(cached.source("transactions"), pd.DataFrame)  # ... makes the DataFrame the source
    assert cached.source("no_such_table") is None


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_an_analysis_date_cuts_the_overview(engine, tmp_path):
    """Report 00 counts what every report counts: orders before the analysis date (a month it cuts
    holds only its days before it)."""
    end = pd.Timestamp("2024-03-02")  # keeps a's o1, b's o3 and o4; leaves out o2 (2 March) and o5
    got = overview.headline_counts(LINES, engine=engine, end=end)
    assert got == {"customers": 2, "orders": 3, "order_lines": 4, "revenue": 30.0,
                   "repeat_customer_share": 50.0, "days_covered": 17}
    monthly = overview.monthly_activity(LINES, engine=engine, end=end)
    assert [str(m) for m in monthly.index] == ["2024-01"] and monthly["revenue"].tolist() == [30.0]
    path = tmp_path / "t.parquet"
    LINES.to_parquet(path)
    assert overview.headline_counts(str(path), engine=engine, end=end) == got


def test_analysis_window_sentence_says_what_is_left_out():
    s = overview.analysis_window_sentence(pd.Timestamp("2024-03-02"), pd.Timestamp("2024-03-31 23:59:59"),
                                          {"orders": 2, "revenue": 21.5}, "EUR")
    assert s == ("The analysis date is set earlier than the data: every report counts **data to 01 Mar 2024** and "
                 "leaves out the **2 orders** (21.50 EUR) placed after it, the numbers below included.")
    assert overview.analysis_window_sentence(pd.Timestamp("2024-04-01"), pd.Timestamp("2024-03-31 23:59:59"),
                                             {"orders": 0, "revenue": 0.0}) == ""
