"""lclib.analysis.cac: acquisitions, CAC per channel, margin paths, CLV:CAC and payback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import cac

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "sample"


def _tiny() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Five customers, two paid channels and one organic; spend in January and February 2024."""
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "b", "c", "d", "e", "f"],
        "order_id": ["1", "2", "3", "4", "5", "6", "7"],
        "timestamp": pd.to_datetime(["2024-01-05", "2024-03-01", "2024-01-20", "2024-02-03", "2024-02-28",
                                     "2024-02-10", "2024-03-15"]),
        "amount": [40.0, 20.0, 10.0, 30.0, 50.0, 25.0, 60.0],
        "channel": ["ads", "email", "ads", "social", "ads", "seo", "ads"],
    })
    customers = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e", "f", "g"],
        "signup_date": pd.to_datetime(["2024-01-01", "2023-12-30", "2024-02-01", "2024-02-20", "2024-02-09",
                                       "2024-02-25", "2024-01-15"]),
        "acquisition_channel": ["ads", "ads", "social", "ads", "seo", "ads", "social"],
    })
    spend = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-01", "2024-02-01"]),
                          "channel": ["ads", "ads", "social", "social"], "amount": [100.0, 50.0, 30.0, 0.0]})
    return tx, customers, spend


def test_cac_by_channel_hand_computed():
    tx, customers, spend = _tiny()
    acquired = cac.acquisitions(tx, customers)
    assert acquired.loc["a", "channel"] == "ads" and acquired.loc["a", "acquired_at"] == pd.Timestamp("2024-01-05")
    table = cac.cac_by_channel(spend, acquired)
    # Jan-Feb 2024: ads won a, b, d (f first bought in March, outside the spend months), social won c, seo won e.
    assert table.attrs["months"] == 2 and str(table.attrs["start"]) == "2024-01"
    assert table.loc["ads", ["spend", "new_customers"]].tolist() == [150.0, 3]
    assert table.loc["ads", "cac"] == pytest.approx(50.0)
    assert table.loc["social", "cac"] == pytest.approx(30.0)
    assert np.isnan(table.loc["seo", "cac"]) and table.loc["seo", "status"] == "no spend"
    assert table.index.tolist() == ["ads", "social", "seo"]
    assert table["share_new_customers"].sum() == pytest.approx(1.0)
    assert cac.blended_cac(table) == pytest.approx(180.0 / 5)
    assert cac.blended_cac(table, paid_only=True) == pytest.approx(180.0 / 4)


def test_cac_by_signup_and_explicit_period():
    tx, customers, spend = _tiny()
    by_signup = cac.cac_by_channel(spend, cac.acquisitions(tx, customers, basis="signup"))
    # signups Jan-Feb: ads a, d, f (b signed up in December), social c, g (g never bought), seo e
    assert by_signup.loc["ads", "new_customers"] == 3 and by_signup.loc["social", "new_customers"] == 2
    assert by_signup.loc["social", "cac"] == pytest.approx(15.0)
    january = cac.cac_by_channel(spend, cac.acquisitions(tx, customers), start="2024-01-15", end="2024-01-31")
    assert january.loc["ads", ["spend", "new_customers", "cac"]].tolist() == [100.0, 2, 50.0]
    assert january.loc["social", "status"] == "spend without new customers"
    assert np.isnan(january.loc["social", "cac"])
    with pytest.raises(ValueError, match="before start"):
        cac.cac_by_channel(spend, cac.acquisitions(tx, customers), start="2024-02-01", end="2024-01-01")
    with pytest.raises(ValueError, match="basis"):
        cac.acquisitions(tx, customers, basis="visit")
    with pytest.raises(ValueError, match="signup_date"):
        cac.acquisitions(tx, customers.drop(columns="signup_date"), basis="signup")
    with pytest.raises(ValueError, match="spend lacks"):
        cac.cac_by_channel(spend.drop(columns="amount"), cac.acquisitions(tx))


def test_acquisition_channel_falls_back_to_first_order():
    tx, _, _ = _tiny()
    acquired = cac.acquisitions(tx)  # no customers table
    assert acquired["channel"].to_dict() == {"a": "ads", "b": "ads", "c": "social", "d": "ads", "e": "seo", "f": "ads"}
    unknown = cac.acquisitions(tx.drop(columns="channel"))
    assert (unknown["channel"] == cac.UNKNOWN).all()


def test_margin_path_and_payback_hand_computed():
    values = pd.DataFrame({"first_order_value": [100.0, 10.0], "order_value": [50.0, 20.0]}, index=["x", "y"])
    purchases = pd.Series([0.0, 1.0, 1.5, 2.0])
    flat = cac.margin_path(values, purchases, margin=0.5)
    np.testing.assert_allclose(flat["x"], [50.0, 75.0, 87.5, 100.0])
    np.testing.assert_allclose(flat["y"], [5.0, 15.0, 20.0, 25.0])
    monthly = 1.2 ** (1 / 12) - 1
    discounted = cac.margin_path(values, purchases, margin=0.5, discount_rate_annual=0.2)
    assert discounted.loc[2, "y"] == pytest.approx(0.5 * (10 + 20 * (1 / (1 + monthly) + 0.5 / (1 + monthly) ** 2)))
    payback = cac.payback_months(flat, pd.Series({"x": 40.0, "y": 20.0, "z": 1.0}))
    assert payback.to_dict() == {"x": 0.0, "y": 2.0}  # x: the first order pays; y: month 2
    assert np.isnan(cac.payback_months(flat, pd.Series({"x": 500.0, "y": np.nan}))).all()
    linear = cac.linear_margin_path(pd.Series({"x": 120.0}), 3)
    assert linear["x"].tolist() == [0.0, 10.0, 20.0, 30.0]


def test_channel_economics_hand_computed():
    table = pd.DataFrame({"spend": [300.0, 100.0, 0.0], "new_customers": [10, 10, 5], "cac": [30.0, 10.0, np.nan],
                          "status": ["paid", "paid", "no spend"]}, index=["ads", "mail", "seo"])
    path = pd.DataFrame({"ads": [10.0, 20.0, 45.0], "mail": [12.0, 20.0, 40.0], "seo": [5.0, 9.0, 12.0]})
    econ = cac.channel_economics(table, path, horizon_months=2, threshold=3.0)
    assert econ["clv"].tolist() == [45.0, 40.0, 12.0]
    assert econ.loc["ads", "clv_cac"] == pytest.approx(1.5) and econ.loc["mail", "clv_cac"] == pytest.approx(4.0)
    assert econ.loc["ads", "payback_months"] == 2 and econ.loc["mail", "payback_months"] == 0
    assert econ["meets_threshold"].tolist()[:2] == [False, True] and pd.isna(econ.loc["seo", "meets_threshold"])
    assert econ.loc["seo", "verdict"].startswith("no spend recorded")
    assert econ.loc["ads", "verdict"].startswith("below 3:1")
    assert econ.loc["mail", "verdict"].startswith("healthy")
    short = cac.channel_economics(table, path, horizon_months=1, threshold=3.0)
    assert short.loc["ads", "verdict"] == "loses money within 1 months"
    with pytest.raises(ValueError, match="horizon_months"):
        cac.channel_economics(table, path, horizon_months=3)


# ----------------------------------------------------------------------------- the committed sample


@pytest.fixture(scope="module")
def sample():
    tx = pd.read_csv(SAMPLE / "transactions.csv", dtype={"customer_id": str, "order_id": str},
                     parse_dates=["timestamp"])
    customers = pd.read_csv(SAMPLE / "customers.csv", dtype={"customer_id": str}, parse_dates=["signup_date"])
    spend = pd.read_csv(SAMPLE / "spend.csv", parse_dates=["date"])
    truth = json.loads((SAMPLE / "ground_truth.json").read_text(encoding="utf-8"))
    return tx, customers, spend, truth


def test_sample_cac_equals_known_cac_per_paid_channel(sample):
    tx, customers, spend, truth = sample
    table = cac.cac_by_channel(spend, cac.acquisitions(tx, customers))
    paid = table.loc[table["status"] == "paid", "cac"]
    assert paid.round(2).to_dict() == truth["cac"]
    assert sorted(table.index[table["status"] == "no spend"]) == sorted(truth["spend"]["channels_without_spend"])
    # Hand computation: spend per channel / customers whose first order (their acquisition channel) is in 2024-25.
    first = tx.sort_values("timestamp").drop_duplicates("customer_id")
    new = first["customer_id"].map(customers.set_index("customer_id")["acquisition_channel"]).value_counts()
    by_hand = spend.groupby("channel")["amount"].sum() / new
    pd.testing.assert_series_equal(paid.sort_index(), by_hand.dropna().sort_index(), check_names=False)
    # Without a customers table the first order's channel gives the same answer (true by construction).
    no_customers = cac.cac_by_channel(spend, cac.acquisitions(tx))
    pd.testing.assert_frame_equal(no_customers, table)


def test_sample_clv_cac_equals_hand_computation(sample):
    tx, customers, spend, truth = sample
    table = cac.cac_by_channel(spend, cac.acquisitions(tx, customers))
    values = cac.channel_order_values(tx, cac.acquisitions(tx, customers)["channel"])
    purchases = pd.Series(np.linspace(0.0, 1.2, 13))  # a made-up path, 0.1 repeat purchases a month
    path = cac.margin_path(values, purchases, margin=0.3)
    econ = cac.channel_economics(table, path, horizon_months=12, threshold=3.0)
    # By hand for paid_search: mean first order, mean repeat order of its customers, known CAC 42.5.
    orders = tx.groupby(["customer_id", "order_id"]).agg(t=("timestamp", "min"), amount=("amount", "sum"))
    orders = orders.reset_index().sort_values(["customer_id", "t"])
    orders["n"] = orders.groupby("customer_id").cumcount()
    orders["channel"] = orders["customer_id"].map(customers.set_index("customer_id")["acquisition_channel"])
    mine = orders.loc[orders["channel"] == "paid_search"]
    value = 0.3 * (mine.loc[mine["n"] == 0, "amount"].mean() + 1.2 * mine.loc[mine["n"] > 0, "amount"].mean())
    assert econ.loc["paid_search", "clv"] == pytest.approx(value)
    assert econ.loc["paid_search", "clv_cac"] == pytest.approx(value / truth["cac"]["paid_search"])
    assert econ.loc["app_push", "clv_cac"] == pytest.approx(econ.loc["app_push", "clv"] / 4.5)
    assert econ.loc[["direct", "organic_social"], "clv_cac"].isna().all()


def test_first_orders_engines_agree_on_ties_and_missing_channels():
    from lclib.engine import sql as engine

    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "b", "c", None],
        "order_id": ["2", "2", "1", "3", "9", "9", "5", "6"],
        "timestamp": pd.to_datetime(["2024-01-05", "2024-01-05", "2024-01-05", "2024-01-01", "2024-02-01",
                                     "2024-02-01", "2024-03-01", "2024-01-01"]).as_unit("ns"),
        "amount": [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
        "channel": ["x", "y", "z", None, None, "w", None, "v"],
    })
    tx = tx.iloc[[1, 0, 2, 3, 5, 4, 6, 7]]  # row order decides ties within an order
    fast = cac.first_orders(tx)
    engine.set_default_engine("pandas")
    try:
        slow = cac.first_orders(tx)
        slow_acq = cac.acquisitions(tx)
    finally:
        engine.set_default_engine(None)
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False)
    pd.testing.assert_frame_equal(cac.acquisitions(tx), slow_acq)
    # a's first order is "3" (earliest, no channel: unknown); b's first line with a channel is "w"
    assert fast["channel"].isna().tolist() == [True, False, True] and fast.loc["b", "channel"] == "w"
    assert fast["orders"].tolist() == [3, 1, 1] and fast.loc["b", "first_order_value"] == 48.0


def test_light_first_purchases_and_mean_order_value_match_the_orders_table():
    from lclib.engine.orders import orders_table

    tx, customers, _ = _tiny()
    tx = pd.concat([tx, tx.assign(order_id="1", channel="late", amount=1.0).iloc[:1]])  # a 2nd line of order 1
    full = cac.first_orders(tx)
    pd.testing.assert_frame_equal(cac.first_purchases(tx), full[["first_purchase", "channel"]])
    assert cac.first_purchases(tx, channel=False)["channel"].isna().all()
    assert cac.mean_order_value(tx) == pytest.approx(orders_table(tx)["amount"].mean(), rel=1e-12)
    pd.testing.assert_frame_equal(cac.acquisitions(tx, customers), cac.acquisitions(tx, customers, firsts=full))


def test_clv_cac_of_a_channel_with_a_handful_of_new_customers_is_not_judged():
    """The thin cut rated Referral 0.05:1 on 2 customers: too few to judge, said with the count."""
    from lclib.analysis.cac import clv_cac_verdict

    econ = pd.DataFrame({"clv_cac": [4.0, 1.5, 0.05], "payback_months": [3.0, np.nan, np.nan],
                         "new_customers": [120, 45, 2]}, index=["email", "paid_search", "referral"])
    v = clv_cac_verdict(econ, threshold=3, horizon_months=12, longest_months=60, basis="the textbook formula")
    assert (v.best, v.worst, v.worst_ratio, v.below) == ("email", "paid_search", 1.5, ["paid_search"])
    assert v.losing == []  # 1.5:1 is below target but earns back its cost
    two = clv_cac_verdict(econ.assign(clv_cac=[4.0, 0.77, 0.51], new_customers=[120, 45, 40]), threshold=3,
                          horizon_months=12, longest_months=60, basis="the textbook formula")
    assert two.losing == [("referral", 0.51), ("paid_search", 0.77)]  # worst first
    assert v.sentence.endswith(" Too few new customers to judge (fewer than 30): **Referral** (2).")
    thin = clv_cac_verdict(econ.assign(new_customers=[5, 4, 2]), threshold=3, horizon_months=12, longest_months=60,
                           basis="the textbook formula")
    assert thin.best is None and np.isnan(thin.best_ratio)
    assert thin.sentence.startswith("No paid channel brought enough new customers to judge its CLV:CAC.")
    one = clv_cac_verdict(econ.assign(new_customers=[120, 4, 2]), threshold=3, horizon_months=12, longest_months=60,
                          basis="the textbook formula")
    assert one.sentence.startswith("Based on the textbook formula, over 12 months: **Email**, the only paid channel "
                                   "rated, returns **4.0:1** and pays back after 3 months. Every paid channel meets")
