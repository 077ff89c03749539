"""lclib.engine.summary: hand-checked cases and exact agreement with lifetimes' summary."""

from __future__ import annotations

import functools
import warnings

import numpy as np
import pandas as pd
import pytest

from lclib.analysis.clv import lifetimes  # imported quietly there
from lclib.engine.contracts import SUMMARY_COLUMNS
from lclib.engine.summary import calibration_holdout_split, customer_summary
from lclib.engine.summary import customer_summary as _summary


def _tx(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount"])
    return frame.assign(timestamp=pd.to_datetime(frame["timestamp"]))


@pytest.fixture
def small() -> pd.DataFrame:
    """a: two orders on Mon 2024-01-01, then Wed 01-03 and Mon 01-15; b: one order; c: starts later."""
    return _tx(
        [
            ("a", "a1", "2024-01-01 09:00", 10.0),
            ("a", "a2", "2024-01-01 18:00", 5.0),
            ("a", "a3", "2024-01-03 12:00", 20.0),
            ("a", "a3", "2024-01-03 12:00", 2.0),  # second line of order a3
            ("a", "a4", "2024-01-15 08:00", 30.0),
            ("b", "b1", "2024-01-02 10:00", 7.0),
            ("c", "c1", "2024-01-10 10:00", 1.0),
            ("c", "c2", "2024-01-21 23:00", 3.0),  # Sunday
            ("c", "c3", "2024-01-24 10:00", 4.0),  # after the end used below
        ]
    )


@pytest.fixture(scope="module")
def random_tx() -> pd.DataFrame:
    """400 customers, orders at any minute of 200 days, some orders on the same day, one lone buyer."""
    rng = np.random.default_rng(0)
    n = 3000
    tx = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 400, n).astype(str),
            "order_id": "o" + pd.Series(np.arange(n)).astype(str),
            "timestamp": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 200 * 24 * 60, n), unit="min"),
            "amount": rng.gamma(2.0, 20.0, n).round(2),
        }
    )
    same_day = tx.iloc[:50].assign(
        order_id=lambda d: d["order_id"] + "b", timestamp=lambda d: d["timestamp"].dt.normalize()
    )
    lone = _tx([("lone", "x", "2021-03-01 10:00", 5.0)])
    return pd.concat([tx, same_day, lone], ignore_index=True)


def _lifetimes_summary(tx: pd.DataFrame, end, freq: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = lifetimes.utils.summary_data_from_transaction_data(
            tx, "customer_id", "timestamp", "amount", observation_period_end=end, freq=freq
        )
    return out.sort_index().astype({"frequency": "int64"})


def assert_same_summary(got: pd.DataFrame, expected: pd.DataFrame, engine: str) -> None:
    """Counts and times identical; money identical for pandas, to 1e-12 relative for DuckDB.

    DuckDB adds spend in parallel, in another order than pandas, so sums and means
    can differ in their last bits (measured: at most 4e-16 relative).
    """
    money = [c for c in ("monetary_value", "revenue") if c in expected]
    exact = [c for c in expected.columns if c not in money]
    pd.testing.assert_frame_equal(got[exact], expected[exact], check_exact=True)
    if engine == "pandas":
        pd.testing.assert_frame_equal(got[money], expected[money], check_exact=True)
    else:
        pd.testing.assert_frame_equal(got[money], expected[money], check_exact=False, rtol=1e-12, atol=0.0)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
@pytest.mark.parametrize("end", [None, "2021-05-16", "2021-02-07"])
@pytest.mark.parametrize(("freq", "count_by", "time_unit"), [("D", "D", "D"), ("W", "W", "W_periods")])
def test_equals_lifetimes_exactly(random_tx, end, freq, count_by, time_unit, engine):
    # 2021-05-16 and 2021-02-07 are Sundays, before the last transaction (see the mid-week test).
    expected = _lifetimes_summary(random_tx, end, freq)
    got = customer_summary(random_tx, end, count_by=count_by, time_unit=time_unit, engine=engine)
    assert (got["frequency"] == 0).any() and (got["frequency"] > 0).any()
    assert_same_summary(got[list(expected.columns)], expected, engine)


@pytest.mark.parametrize("engine", ["pandas", "duckdb"])
def test_mid_week_end_differs_from_lifetimes_weekly_by_design(small, engine):
    # lifetimes (freq='W') counts c's Wednesday purchase after a Monday observation end;
    # customer_summary never looks past observation_end.
    end = "2024-01-22"  # Monday; c3 is on Wednesday of that week
    ours = customer_summary(small, end, count_by="W", time_unit="W_periods", engine=engine)
    theirs = _lifetimes_summary(small, end, "W")
    assert ours.loc["c", "frequency"] == 1 and theirs.loc["c", "frequency"] == 2
    pd.testing.assert_frame_equal(
        ours.loc[["a", "b"], list(theirs.columns)], theirs.loc[["a", "b"]], check_exact=True
    )


@pytest.fixture(params=["pandas", "duckdb"])
def engine(request) -> str:
    return request.param


def test_counting_granularity_and_units_by_hand(small, engine):
    end = "2024-01-21"
    customer_summary = functools.partial(_summary, engine=engine)
    by_day = customer_summary(small, end, count_by="D", time_unit="D")
    assert by_day["frequency"].to_dict() == {"a": 2, "b": 0, "c": 1}
    assert by_day.loc["a", ["recency", "T"]].tolist() == [14.0, 20.0]
    assert by_day.loc["a", "monetary_value"] == pytest.approx((22.0 + 30.0) / 2)  # day 1 (15) is the first

    by_order = customer_summary(small, end, count_by="order", time_unit="D")
    assert by_order.loc["a", "frequency"] == 3
    assert by_order.loc["a", "recency"] == pytest.approx(14 - 1 / 24)  # Jan 1 09:00 to Jan 15 08:00
    assert by_order.loc["a", "T"] == pytest.approx(21 - 9 / 24)  # to midnight after Jan 21
    assert by_order.loc["a", "monetary_value"] == pytest.approx((5 + 22 + 30) / 3)

    by_week = customer_summary(small, end, count_by="W", time_unit="W")
    assert by_week.loc["a", "frequency"] == 1  # weeks of Jan 1 and Jan 15
    assert by_week.loc["a", ["recency", "T"]].tolist() == [2.0, 20 / 7]
    assert by_week.loc["a", "monetary_value"] == 30.0

    floored = customer_summary(small, end, count_by="W", time_unit="W_periods")
    assert floored.loc["c", ["recency", "T"]].tolist() == [1.0, 1.0]  # Mon Jan 8 -> Mon Jan 15 for both

    weeks = customer_summary(small, end, count_by="D", time_unit="W")
    pd.testing.assert_series_equal(weeks["T"], by_day["T"] / 7)


def test_window_and_other_columns(small, engine):
    customer_summary = functools.partial(_summary, engine=engine)
    got = customer_summary(small, "2024-01-21")  # c2 at 23:00 on the end day counts, c3 does not
    assert list(got.columns) == list(SUMMARY_COLUMNS)
    assert got.index.name == "customer_id" and got.index.tolist() == ["a", "b", "c"]
    assert got.loc["c", "last_purchase"] == pd.Timestamp("2024-01-21 23:00")
    assert got["orders"].to_dict() == {"a": 4, "b": 1, "c": 2}
    assert got["revenue"].to_dict() == {"a": 67.0, "b": 7.0, "c": 4.0}
    assert got.loc["b", ["frequency", "recency", "monetary_value"]].tolist() == [0, 0.0, 0.0]
    assert got.dtypes["frequency"] == "int64" and got.dtypes["orders"] == "int64"
    assert got.dtypes["T"] == "float64"
    assert customer_summary(small, "2024-01-01 00:00").loc["a", "frequency"] == 0  # whole day, 18:00 too
    assert customer_summary(small, "2023-12-31").empty


def test_row_order_does_not_matter(random_tx, engine):
    customer_summary = functools.partial(_summary, engine=engine)
    shuffled = random_tx.sample(frac=1.0, random_state=1)
    for count_by in ("D", "W", "order"):
        assert_same_summary(
            customer_summary(shuffled, count_by=count_by), customer_summary(random_tx, count_by=count_by), engine
        )


def test_mean_all_includes_first_period(small, engine):
    customer_summary = functools.partial(_summary, engine=engine)
    got = customer_summary(small, "2024-01-21", monetary="mean_all")
    assert got.loc["a", "monetary_value"] == pytest.approx((15 + 22 + 30) / 3)
    assert got.loc["b", "monetary_value"] == 7.0


def test_bad_arguments(small, engine):
    customer_summary = functools.partial(_summary, engine=engine)
    with pytest.raises(ValueError, match="count_by"):
        customer_summary(small, count_by="M")
    with pytest.raises(ValueError, match="time_unit"):
        customer_summary(small, time_unit="M")
    with pytest.raises(ValueError, match="amount"):
        customer_summary(small.drop(columns="amount"))
    with pytest.raises(ValueError, match="after"):
        calibration_holdout_split(small, "2024-01-10", "2024-01-10")


def test_calibration_holdout_split(small):
    split = calibration_holdout_split(small, "2024-01-07", "2024-01-24", time_unit="D")
    assert split.index.tolist() == ["a", "b"]  # c's first purchase is after calibration
    pd.testing.assert_frame_equal(
        split[list(SUMMARY_COLUMNS)], customer_summary(small, "2024-01-07", time_unit="D").loc[["a", "b"]]
    )
    assert split["frequency_holdout"].to_dict() == {"a": 1, "b": 0}
    assert split["monetary_value_holdout"].to_dict() == {"a": 30.0, "b": 0.0}
    assert split["duration_holdout"].unique().tolist() == [17.0]


def test_holdout_split_reuses_a_given_full_summary(random_tx):
    full = customer_summary(random_tx, "2021-07-01", count_by="W")
    given = calibration_holdout_split(random_tx, "2021-03-03", "2021-07-01", full_summary=full,
                                      holdout_spend=False, count_by="W")
    computed = calibration_holdout_split(random_tx, "2021-03-03", "2021-07-01", count_by="W")
    pd.testing.assert_frame_equal(given, computed.drop(columns="monetary_value_holdout"))
    with pytest.raises(ValueError, match="not the customer summary"):
        calibration_holdout_split(random_tx, "2021-03-03", "2021-07-01", full_summary=full.iloc[:3])


def test_holdout_counts_add_up(random_tx):
    for count_by in ("D", "W", "order"):
        split = calibration_holdout_split(random_tx, "2021-03-03", "2021-07-01", count_by=count_by)
        full = customer_summary(random_tx, "2021-07-01", count_by=count_by).loc[split.index]
        pd.testing.assert_series_equal(
            split["frequency"] + split["frequency_holdout"], full["frequency"], check_names=False
        )
    assert split["duration_holdout"].iloc[0] == pytest.approx(120 / 7)
