"""lclib.engine: the DuckDB SQL paths equal the pandas implementations and lifetimes.

Every engine function is compared with its pandas reference on the same rows:
counts, dates, recency and T must be identical; money (sums and means of
``amount``) equal to 1e-12 relative, because DuckDB adds in parallel in another
order (measured differences: a few 1e-16). DuckDB's money sums are compensated
(``FSUM``), so they are the same bits from run to run.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lclib.engine import sql as E
from lclib.analysis.clv import lifetimes  # imported quietly there
from lclib.engine.cohort_cells import cohort_cells
from lclib.config import load_config
from lclib.io.load import load_table
from lclib.io.ledger import Ledger
from lclib.engine.rfm_table import rfm_table
from lclib.engine.contracts import SUMMARY_COLUMNS
from lclib.engine.summary import calibration_holdout_split, customer_summary

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_transactions import generate  # noqa: E402

MONEY = ("monetary_value", "revenue", "monetary_total", "monetary_mean", "cohort_revenue0",
         "monetary_value_holdout")


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    """Same index, columns and dtypes; money to 1e-12 relative, everything else exactly."""
    assert list(got.columns) == list(expected.columns)
    money = [c for c in expected.columns if c in MONEY]
    exact = [c for c in expected.columns if c not in MONEY]
    pd.testing.assert_frame_equal(got[exact], expected[exact], check_exact=True)
    pd.testing.assert_frame_equal(got[money], expected[money], check_exact=False, rtol=1e-12, atol=0.0)


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    """2,000 lines of the benchmark generator plus edge cases.

    Added: several orders on one day (same day, other order ids), an order whose
    lines straddle midnight, two orders of one customer at the same instant, and a
    single-purchase customer.
    """
    base = generate(rows=2_000, days=120, seed=3).to_pandas()
    base["timestamp"] = base["timestamp"].astype("datetime64[ns]")
    same_day = base.iloc[:40].assign(order_id=lambda d: d["order_id"] + "b",
                                     timestamp=lambda d: d["timestamp"].dt.normalize() + pd.Timedelta(hours=23))
    extra = pd.DataFrame({
        "customer_id": ["Z1", "Z1", "Z1", "Z2", "Z2", "Z3"],
        "order_id": ["z1", "z1", "z2", "y1", "y2", "x1"],
        "timestamp": pd.to_datetime(["2023-02-01 23:59:00", "2023-02-02 00:01:00", "2023-02-10 12:00:00",
                                     "2023-02-03 10:00:00", "2023-02-03 10:00:00", "2023-03-01 08:00:00"]),
        "amount": [10.0, 5.0, 7.0, 3.0, 4.0, 9.5],
    })
    out = pd.concat([base, same_day, extra], ignore_index=True)
    assert (out.groupby("customer_id")["order_id"].nunique() == 1).any()
    return out


@pytest.fixture(scope="module")
def sample_tx() -> pd.DataFrame:
    """The shipped sample's transactions, loaded and cleaned by lclib.io as the notebooks get them."""
    cfg = load_config(ROOT / "lclib.yaml")
    spec = cfg.table("transactions")
    df, _ = load_table("transactions", spec, cfg.resolve(spec.path), Ledger(), now=pd.Timestamp("2100-01-01"))
    return df


# ----------------------------------------------------------------------------- customer summary


@pytest.mark.parametrize("count_by", ["D", "W", "order"])
@pytest.mark.parametrize("time_unit", ["D", "W", "W_periods"])
@pytest.mark.parametrize("end", [None, "2023-03-12"])  # the default, and a Sunday before the last line
def test_summary_duckdb_equals_pandas(tx, count_by, time_unit, end):
    pandas = customer_summary(tx, end, count_by=count_by, time_unit=time_unit, engine="pandas")
    duck = customer_summary(tx, end, count_by=count_by, time_unit=time_unit, engine="duckdb")
    assert list(duck.columns) == list(SUMMARY_COLUMNS)
    assert (pandas["frequency"] == 0).any() and (pandas["frequency"] >= 3).any()
    assert_same(duck, pandas)


@pytest.mark.parametrize("monetary", ["mean_repeat", "mean_all"])
def test_summary_monetary_options_agree(tx, monetary):
    for count_by in ("D", "order"):
        assert_same(customer_summary(tx, count_by=count_by, monetary=monetary, engine="duckdb"),
                    customer_summary(tx, count_by=count_by, monetary=monetary, engine="pandas"))


def test_edge_cases_by_hand(tx):
    got = customer_summary(tx, "2023-03-12", count_by="D", time_unit="D", engine="duckdb")
    # Z1: order z1 straddles midnight (two purchase days), z2 on Feb 10: 3 days, 2 orders
    assert got.loc["Z1", ["frequency", "orders"]].tolist() == [2, 2]
    assert got.loc["Z1", "recency"] == 9.0 and got.loc["Z1", "monetary_value"] == pytest.approx(6.0)
    # Z2: two orders at the same instant are one purchase day
    assert got.loc["Z2", ["frequency", "orders", "revenue"]].tolist() == [0, 2, 7.0]
    by_order = customer_summary(tx, "2023-03-12", count_by="order", time_unit="D", engine="duckdb")
    assert by_order.loc["Z2", "frequency"] == 1
    assert by_order.loc["Z2", "monetary_value"] == 4.0  # y1 < y2 by id: y2 is the repeat
    assert got.loc["Z3", ["frequency", "recency", "T"]].tolist() == [0, 0.0, 11.0]


def _cancelling_lines() -> pd.DataFrame:
    """Customers whose repeat spend is lost to rounding in ``total - first``.

    BIG: a first day of 1e12 then repeats of 0.01 and 0.02 (mean 0.015);
    REFUND: repeats of +5.1 and -5.1 (mean exactly 0); PLAIN: ordinary amounts.
    """
    return pd.DataFrame({
        "customer_id": ["BIG"] * 3 + ["REFUND"] * 3 + ["PLAIN"] * 3,
        "order_id": [f"o{i}" for i in range(9)],
        "timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-01-05 10:00", "2024-01-09 10:00"] * 3),
        "amount": [1e12, 0.01, 0.02, 100.0, 5.1, -5.1, 20.0, 30.5, 12.25],
    })


def test_repeat_means_survive_cancellation(monkeypatch):
    """(total - first) / (n - 1) alone is wrong here; the guard re-averages exactly those customers."""
    lines = _cancelling_lines()
    naive_big = ((1e12 + 0.01 + 0.02) - 1e12) / 2
    assert abs(naive_big - 0.015) / 0.015 > 1e-9  # the shortcut really loses digits on BIG

    rechecked: list[str] = []
    real_sql = E.repeat_means_query

    def spy(count_by, end, ids=None):
        rechecked.extend(ids if ids is not None else ["(everyone)"])
        return real_sql(count_by, end, ids)

    monkeypatch.setattr(E, "repeat_means_query", spy)
    got = E.customer_summary_sql(lines, count_by="D", time_unit="D", extras=False)
    assert sorted(rechecked) == ["BIG", "REFUND"]  # PLAIN keeps the one-pass result
    assert got.loc["BIG", "monetary_value"] == pytest.approx(0.015, rel=1e-13)
    assert got.loc["REFUND", "monetary_value"] == 0.0
    assert got.loc["PLAIN", "monetary_value"] == pytest.approx((30.5 + 12.25) / 2, rel=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = lifetimes.utils.summary_data_from_transaction_data(
            lines, "customer_id", "timestamp", "amount", freq="D").sort_index()
    got.index = got.index.astype(expected.index.dtype)
    assert_same(got[["monetary_value"]], expected[["monetary_value"]])
    rechecked.clear()  # orders: the first is ranked by time, then order id; same guard
    by_order = E.customer_summary_sql(lines, count_by="order", time_unit="D", extras=False)
    assert sorted(rechecked) == ["BIG", "REFUND"]
    assert_same(by_order, customer_summary(lines, count_by="order", time_unit="D", extras=False, engine="pandas"))
    for cap, named in ((1000, ["BIG", "REFUND"]), (1, ["(everyone)"])):  # a relation of another connection;
        rechecked.clear()                                                  # more customers than are named
        monkeypatch.setattr(E, "MAX_RECHECK_IDS", cap)
        from_relation = E.customer_summary_sql(E.relation(lines), count_by="D", time_unit="D", extras=False)
        assert sorted(rechecked) == named
        assert from_relation.loc["BIG", "monetary_value"] == pytest.approx(0.015, rel=1e-13)
        assert from_relation.loc["REFUND", "monetary_value"] == 0.0


def test_money_sums_are_compensated_ten_lines_of_ten_cents_make_one_euro():
    """A plain SUM adds ten 0.10 to 0.9999999999999999; FSUM, like pandas' group-by sums, to 1.0."""
    assert sum([0.1] * 10) != 1.0  # what naive left-to-right adding gives
    lines = pd.DataFrame({
        "customer_id": ["C"] * 12,
        "order_id": [f"o{i}" for i in range(10)] + ["p1", "p2"],
        "timestamp": pd.to_datetime(["2024-03-01 10:00"] * 10 + ["2024-03-08 10:00", "2024-03-15 10:00"]),
        "amount": [0.1] * 10 + [0.1, 0.2],
    })
    summary = E.customer_summary_sql(lines, count_by="D", time_unit="D")
    assert summary.loc["C", "revenue"] == 1.3 == customer_summary(lines, count_by="D", time_unit="D",
                                                                   engine="pandas").loc["C", "revenue"]
    assert E.rfm_table_sql(lines).loc["C", "monetary_total"] == 1.3
    by_order = E.customer_summary_sql(lines.iloc[:10], count_by="order", time_unit="D", extras=False)
    assert by_order.loc["C", "monetary_value"] == 0.1  # FAVG of nine repeats of 0.10
    cells = E.cohort_cells_sql(lines.iloc[:10])
    assert cells["revenue"].tolist() == [1.0]


def test_money_sums_are_the_same_bits_run_after_run():
    """400,000 lines of 20 customers on four threads: every run the same revenue to the last bit.

    With a plain SUM the threads' partial sums were added in the order the threads finished:
    most runs of this test then differed from the first in a few customers' revenue.
    """
    import duckdb

    rng = np.random.default_rng(7)
    n = 400_000
    lines = pd.DataFrame({
        "customer_id": rng.integers(0, 20, n).astype(str),
        "order_id": np.arange(n).astype(str),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 3, n), unit="D"),
        "amount": np.round(rng.lognormal(3, 1.5, n), 2),
    })
    runs = []
    for _ in range(6):
        con = duckdb.connect()
        con.execute("SET threads = 4")
        runs.append(E.customer_summary_sql(lines, con=con))
        con.close()
    for run in runs[1:]:
        pd.testing.assert_frame_equal(run, runs[0], check_exact=True)
    assert_same(runs[0], customer_summary(lines, engine="pandas"))


def test_repeat_mean_bound_flags_only_where_rounding_can_matter():
    agg = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "periods": [1, 3, 3, 200],
                        "total": [5.0, 1e12 + 0.03, 60.0, 2e4], "first_spend": [5.0, 1e12, 20.0, 100.0],
                        "abs_total": [5.0, 1e12 + 0.03, 60.0, 2e4]})
    flagged = E._needs_recheck(agg)
    # a: no repeats; b: 1e12 first vs 0.03 of repeats; c, d: bound ~1e-14 relative or less
    assert flagged.tolist() == [False, True, False, False]


@pytest.mark.parametrize(("freq", "count_by", "time_unit"), [("D", "D", "D"), ("W", "W", "W_periods")])
@pytest.mark.parametrize("end", [None, "2023-03-12"])
def test_summary_equals_lifetimes_on_parquet(tmp_path, freq, count_by, time_unit, end):
    """Read straight from a Parquet file, as the benchmarks do, and compare with lifetimes."""
    table = generate(rows=5_000, days=150, seed=11)
    frame = table.to_pandas()
    path = tmp_path / "tx.parquet"
    frame.to_parquet(path)
    # the generated data ends on Sunday 2023-05-28 (its last line): lifetimes' W window agrees
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = lifetimes.utils.summary_data_from_transaction_data(
            frame, "customer_id", "timestamp", "amount", observation_period_end=end, freq=freq
        ).sort_index().astype({"frequency": "int64"})
    got = E.customer_summary_sql(str(path), end, count_by=count_by, time_unit=time_unit)
    assert (got["frequency"] == 0).mean() > 0.2  # many single-purchase customers
    got = got[list(expected.columns)]
    got.index = got.index.astype(expected.index.dtype)
    assert_same(got, expected)


def test_sources_give_the_same_summary(tx, tmp_path):
    expected = E.customer_summary_sql(tx)
    parquet, csv = tmp_path / "tx.parquet", tmp_path / "tx.csv"
    tx.to_parquet(parquet)
    tx.to_csv(csv, index=False)
    rel = E.relation(tx)
    for source in (str(parquet), parquet, csv, rel):
        got = E.customer_summary_sql(source)
        got.index = got.index.astype(expected.index.dtype)
        assert_same(got, expected)


def test_empty_window_keeps_the_contract(tx):
    for engine in ("pandas", "duckdb"):
        got = customer_summary(tx, "2000-01-01", engine=engine)
        assert got.empty and list(got.columns) == list(SUMMARY_COLUMNS)
        assert got.dtypes["frequency"] == "int64" and got.index.name == "customer_id"


def test_calibration_holdout_split_engines_agree(tx):
    kwargs = dict(calibration_end="2023-02-28", observation_end="2023-04-15", count_by="D", time_unit="W")
    assert_same(calibration_holdout_split(tx, engine="duckdb", **kwargs),
                calibration_holdout_split(tx, engine="pandas", **kwargs))


def test_bad_inputs_raise(tx, tmp_path):
    with pytest.raises(ValueError, match="engine"):
        customer_summary(tx, engine="sparkle")
    with pytest.raises(ValueError, match="amount"):
        E.customer_summary_sql(tx.drop(columns="amount"))
    with pytest.raises(ValueError, match="count_by"):
        E.customer_summary_sql(tx, count_by="M")
    with pytest.raises(ValueError, match="not found"):
        E.customer_summary_sql(tmp_path / "nope.parquet")
    with pytest.raises(ValueError, match="missing timestamps"):
        E.customer_summary_sql(tx.assign(timestamp=tx["timestamp"].where(tx.index != 5)))
    with pytest.raises(ValueError, match="source must be"):
        E.relation(42)
    with pytest.raises(ValueError, match="time-zone"):
        E.sql_timestamp(pd.Timestamp("2024-01-01", tz="UTC"))


# ----------------------------------------------------------------------------- RFM and cohorts


@pytest.mark.parametrize("as_of", [None, "2024-06-15 12:00"])
def test_rfm_table_sql_equals_rfm_table_on_sample(sample_tx, as_of):
    expected = rfm_table(sample_tx, as_of, engine="pandas")
    got = E.rfm_table_sql(sample_tx, as_of)
    assert len(expected) > 300
    assert_same(got, expected)


@pytest.mark.parametrize("as_of", [None, "2024-06-15 12:00"])
def test_cohort_cells_sql_equals_cohort_cells_on_sample(sample_tx, as_of):
    expected = cohort_cells(sample_tx, as_of, engine="pandas")
    got = E.cohort_cells_sql(sample_tx, as_of)
    assert expected["customers"].sum() > 300
    assert (~expected["observable"]).any() == (as_of is not None)  # a mid-month as_of censors cells
    assert_same(got, expected)


def test_cohort_cells_sql_from_parquet(sample_tx, tmp_path):
    path = tmp_path / "tx.parquet"
    sample_tx.to_parquet(path)
    assert_same(E.cohort_cells_sql(path), cohort_cells(sample_tx, engine="pandas"))


def test_first_event_times_equal_a_pandas_group_by():
    events = pd.read_csv(ROOT / "data" / "sample" / "events.csv", dtype=str)
    events["timestamp"] = pd.to_datetime(events["timestamp"]).astype("datetime64[ns]")
    as_of = pd.Timestamp("2024-09-01")
    kept = events.loc[events["timestamp"] < as_of]
    expected = kept.groupby(["anonymous_id", "event_type"])["timestamp"].min().unstack("event_type")
    expected.columns.name, expected.index.name = None, "person"
    got = E.first_event_times_sql(events, as_of)
    got.index = got.index.astype(expected.index.dtype)
    assert len(got) > 1000 and list(got.columns) == sorted(events["event_type"].unique())
    pd.testing.assert_frame_equal(got, expected[list(got.columns)])
    with pytest.raises(ValueError, match="person"):
        E.first_event_times_sql(events, person="visitor")


def test_engine_resolution():
    assert E.check_engine(None) == "duckdb" and E.default_engine() == "duckdb"
    assert E.check_engine("pandas") == "pandas"
    assert np.isclose(E.query(pd.DataFrame({"x": [1.0, 2.0]}), "SELECT SUM(x) AS s FROM src")["s"].iloc[0], 3.0)


@pytest.mark.parametrize("count_by", ["D", "W", "order"])
def test_model_columns_only(tx, count_by):
    full = customer_summary(tx, "2023-03-12", count_by=count_by, engine="pandas")
    for engine in ("pandas", "duckdb"):
        lean = customer_summary(tx, "2023-03-12", count_by=count_by, engine=engine, extras=False)
        assert list(lean.columns) == ["frequency", "recency", "T", "monetary_value"]
        assert_same(lean, full[list(lean.columns)])
    assert list(customer_summary(tx, "2000-01-01", extras=False).columns) == list(lean.columns)


def test_csv_ids_stay_text(tmp_path):
    path = tmp_path / "tx.csv"
    path.write_text("customer_id,order_id,timestamp,amount\n"
                    "007,1,2024-01-01 10:00:00,5.0\n7,2,2024-01-02 10:00:00,6.0\n007,3,2024-01-09 10:00:00,7.0\n",
                    encoding="utf-8")
    got = E.customer_summary_sql(path, count_by="D", time_unit="D")
    assert got.index.tolist() == ["007", "7"]  # text order, leading zeros kept
    assert got["frequency"].tolist() == [1, 0] and got["orders"].tolist() == [2, 1]
    assert got.loc["007", ["recency", "T"]].tolist() == [8.0, 8.0]
