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
