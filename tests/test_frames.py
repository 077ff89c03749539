"""lclib.canonical: a plain DataFrame with the user's names becomes a canonical table."""

from __future__ import annotations

import pandas as pd
import pytest

import lclib


def raw() -> pd.DataFrame:
    return pd.DataFrame({
        "cid": [17850.0, 17850.0, 12346.0], "inv": ["1", "2", "3"],
        "ts": pd.to_datetime(["2024-01-01 23:30", "2024-06-01 12:00", "2024-02-01 00:15"]).tz_localize("UTC"),
        "qty": [2, 1, 3], "price": [1.5, 10.0, 2.0], "other": ["x", "y", "z"],
    })


def test_aware_times_become_the_wall_time_of_the_zone_asked_for():
    paris = lclib.canonical(raw(), customer_id="cid", order_id="inv", timestamp="ts", quantity="qty",
                            unit_price="price", timezone="Europe/Paris")
    assert paris["timestamp"].dt.tz is None
    assert paris["timestamp"].iloc[0] == pd.Timestamp("2024-01-02 00:30")  # UTC+1 in winter
    assert paris["timestamp"].iloc[1] == pd.Timestamp("2024-06-01 14:00")  # UTC+2 in summer
    utc = lclib.canonical(raw(), {"customer_id": "cid", "order_id": "inv", "timestamp": "ts", "quantity": "qty",
                                  "unit_price": "price"})
    assert utc["timestamp"].iloc[0] == pd.Timestamp("2024-01-01 23:30")


def test_ids_are_text_amount_is_quantity_times_price_and_other_columns_stay():
    out = lclib.canonical(raw(), customer_id="cid", order_id="inv", timestamp="ts", quantity="qty", unit_price="price")
    assert out["customer_id"].tolist() == ["17850", "17850", "12346"]
    assert out["amount"].tolist() == [3.0, 10.0, 6.0]
    assert "other" in out


def test_without_order_ids_a_customer_timestamp_is_one_order():
    out = lclib.canonical(raw().drop(columns="inv"), customer_id="cid", timestamp="ts", amount="price")
    assert out["order_id"].nunique() == 3


def test_wrong_mappings_are_named():
    with pytest.raises(ValueError, match=r"no column\(s\) \['CustomerID'\]"):
        lclib.canonical(raw(), customer_id="CustomerID", timestamp="ts", amount="price")
    with pytest.raises(ValueError, match="not canonical transactions columns"):
        lclib.canonical(raw(), client="cid")
    with pytest.raises(ValueError, match=r"needs column\(s\) \['amount'\]"):
        lclib.canonical(raw(), customer_id="cid", order_id="inv", timestamp="ts")
