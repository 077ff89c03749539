"""The run cache's transactions, one row per order and time (engine.orders.compact_order_lines_file), give every
report the numbers the order lines give: orders, customer summary, RFM values, cohorts, states, monthly activity."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import overview, stages
from lclib.engine.cohort_cells import cohort_cells
from lclib.engine.orders import compact_order_lines_file, orders_table
from lclib.engine.rfm_table import rfm_table
from lclib.engine.summary import customer_summary
from lclib.io.dataset import load_dataset

ROOT = Path(__file__).resolve().parents[1]


def _compact(lines: pd.DataFrame, tmp: Path) -> pd.DataFrame:
    path = tmp / "transactions.parquet"
    lines.to_parquet(path, index=False)
    rows = compact_order_lines_file(path)
    out = pd.read_parquet(path)
    assert rows == len(out)
    assert not (tmp / "duckdb_compact").exists()
    return out


def test_a_hand_worked_order_keeps_its_times_first_channel_and_line_count(tmp_path):
    t = pd.Timestamp("2024-01-01 10:00")
    lines = pd.DataFrame({
        "customer_id": pd.array(["c1", "c1", "c1", "c2"], dtype="string"),
        "order_id": pd.array(["o1", "o1", "o1", "o2"], dtype="string"),
        "timestamp": [t, t, t + pd.Timedelta(hours=1), t],
        "amount": [2.5, 5.0, 1.0, 4.0],
        "product": pd.array(["a", "b", "c", "d"], dtype="string"),
        "channel": pd.array([None, "web", "app", None], dtype="string"),
        "refunded_amount": [0.5, 0.0, 0.0, 1.0],
    })
    got = _compact(lines, tmp_path)
    assert got.columns.tolist() == ["customer_id", "order_id", "timestamp", "amount", "channel", "refunded_amount",
                                    "lines"]
    assert got["customer_id"].tolist() == ["c1", "c1", "c2"]
    assert got["timestamp"].tolist() == [t, t + pd.Timedelta(hours=1), t]
    assert got["amount"].tolist() == [7.5, 1.0, 4.0]
    assert got["channel"].tolist()[:2] == ["web", "app"] and pd.isna(got["channel"].iloc[2])
    assert got["refunded_amount"].tolist() == [0.5, 0.0, 1.0]
    assert got["lines"].tolist() == [2, 1, 1]
    assert got["customer_id"].dtype == lines["customer_id"].dtype  # read back as the loader wrote it
    assert got["timestamp"].dtype == lines["timestamp"].dtype


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    data = load_dataset(ROOT / "lclib.yaml")
    lines = data.transactions
    compact = _compact(lines, tmp_path_factory.mktemp("compact"))
    return data, lines, compact


def _money_close(a: pd.DataFrame, b: pd.DataFrame, money: list[str]) -> None:
    """Equal, the money columns (and any other float column: sums of money) to 1e-12 relative."""
    money = sorted(set(money) | {c for c in b.columns if pd.api.types.is_float_dtype(b[c])})
    pd.testing.assert_frame_equal(a.drop(columns=money), b.drop(columns=money), check_exact=True)
    for col in money:
        np.testing.assert_allclose(a[col].to_numpy(dtype=float), b[col].to_numpy(dtype=float), rtol=1e-12,
                                   atol=1e-9, err_msg=col)


def test_the_sample_has_orders_of_several_lines_and_shrinks(sample):
    _, lines, compact = sample
    assert len(compact) < 0.7 * len(lines)
    assert compact["lines"].sum() == len(lines)


def test_orders_are_the_same_from_lines_and_from_compacted_rows(sample):
    _, lines, compact = sample
    _money_close(orders_table(compact), orders_table(lines), ["amount"])


@pytest.mark.parametrize("engine", ["duckdb", "pandas"])
def test_customer_summary_rfm_and_cohorts_are_the_same(sample, engine):
    _, lines, compact = sample
    _money_close(customer_summary(compact, engine=engine), customer_summary(lines, engine=engine),
                 ["monetary_value"])
    dates = [pd.Timestamp("2025-06-01"), pd.Timestamp("2026-01-01")]
    for date in dates:
        _money_close(rfm_table(compact, date, engine=engine), rfm_table(lines, date, engine=engine), [])
    pd.testing.assert_frame_equal(cohort_cells(compact, engine=engine), cohort_cells(lines, engine=engine))
    _money_close(overview.monthly_activity(compact, engine=engine), overview.monthly_activity(lines, engine=engine),
                 ["revenue", "average_order_value"])
    a, b = overview.headline_counts(compact, engine=engine), overview.headline_counts(lines, engine=engine)
    assert a.pop("revenue") == pytest.approx(b.pop("revenue"), rel=1e-12)
    assert a == b  # order_lines counts the lines the rows stand for


def test_lifecycle_states_are_the_same(sample):
    data, lines, compact = sample
    as_of = pd.Timestamp("2026-01-01")
    th = stages.thresholds_from_config(lines, data.config, as_of)
    assert stages.thresholds_from_config(compact, data.config, as_of) == th
    a = stages.customer_states({**data.tables, "transactions": compact}, th, as_of)
    b = stages.customer_states({**data.tables, "transactions": lines}, th, as_of)
    pd.testing.assert_frame_equal(a, b)


def test_the_cache_is_in_the_order_tables_order_so_orders_are_read_off_in_place(sample):
    """Rows by customer, time and order id: orders_of takes the id and time columns as they are (no copy)."""
    from lclib.engine.orders import _orders_in_place, orders_of

    _, _, compact = sample
    keys = compact[["customer_id", "timestamp", "order_id"]]
    assert keys.equals(keys.sort_values(list(keys.columns), kind="stable").reset_index(drop=True))
    fast = _orders_in_place(compact)
    assert fast is not None  # the sample's order ids rise with time within a customer
    got = orders_of(compact, cache=None)
    assert got["customer_id"].array._pa_array is compact["customer_id"].array._pa_array
    assert np.shares_memory(got["timestamp"].to_numpy(), compact["timestamp"].to_numpy())
    pd.testing.assert_frame_equal(got, orders_table(compact), check_exact=True)
    cut = pd.Timestamp("2025-06-01")  # a cut of sorted rows is read off the same way
    pd.testing.assert_frame_equal(orders_of(compact, cut, cache=None), orders_table(compact, cut), check_exact=True)
