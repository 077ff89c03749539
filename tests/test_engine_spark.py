"""The Spark backend runs the engine's SQL and returns exactly DuckDB's tables.

One local Spark session for the whole module (starting one costs ~6 s); small data.
Counts, ids, dates and times must be equal; money to 1e-9 relative (Spark adds in
another order).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")

from lclib.config import load_config  # noqa: E402
from lclib.engine import spark as spark_backend  # noqa: E402
from lclib.engine import sql as E  # noqa: E402
from lclib.engine.rfm_table import rfm_snapshots  # noqa: E402
from lclib.io.ledger import Ledger  # noqa: E402
from lclib.io.load import load_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from generate_transactions import generate  # noqa: E402

MONEY = {"monetary_value", "revenue", "monetary_total", "monetary_mean", "cohort_revenue0", "total",
         "first_spend", "abs_total"}


def assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    money = [c for c in expected.columns if c in MONEY]
    exact = [c for c in expected.columns if c not in MONEY]
    pd.testing.assert_frame_equal(got[exact], expected[exact], check_exact=True)
    pd.testing.assert_frame_equal(got[money], expected[money], check_exact=False, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def spark():
    backend = spark_backend.SparkBackend(master="local[2]", conf={"spark.sql.shuffle.partitions": "2",
                                                                  "spark.driver.memory": "1g"})
    yield backend


@pytest.fixture(scope="module")
def duck():
    return E.connection()


@pytest.fixture(scope="module")
def sample_tx() -> pd.DataFrame:
    cfg = load_config(ROOT / "lclib.yaml")
    spec = cfg.table("transactions")
    df, _ = load_table("transactions", spec, cfg.resolve(spec.path), Ledger(), now=pd.Timestamp("2100-01-01"))
    return df


@pytest.fixture(scope="module")
def messy_tx() -> pd.DataFrame:
    """Generated lines plus same-day orders, orders straddling midnight and same-instant orders."""
    base = generate(rows=3_000, days=200, seed=5).to_pandas()
    base["timestamp"] = base["timestamp"].astype("datetime64[ns]")
    same_day = base.iloc[:50].assign(order_id=lambda d: d["order_id"] + "b",
                                     timestamp=lambda d: d["timestamp"].dt.normalize() + pd.Timedelta(hours=23))
    straddle = pd.DataFrame({"customer_id": ["s1", "s1", "s1"], "order_id": ["o1", "o1", "o2"],
                             "timestamp": pd.to_datetime(["2023-03-01 23:59:59", "2023-03-02 00:00:01",
                                                          "2023-03-01 23:59:59"]),
                             "amount": [1e12, 0.01, 0.02]})
    return pd.concat([base, same_day, straddle], ignore_index=True)


@pytest.mark.parametrize("count_by", ["D", "W", "order"])
@pytest.mark.parametrize("extras", [True, False])
def test_customer_summary_on_spark_equals_duckdb(spark, duck, messy_tx, count_by, extras):
    time_unit = "W" if count_by != "D" else "D"
    want = E.customer_summary_sql(messy_tx, count_by=count_by, time_unit=time_unit, extras=extras, con=duck)
    got = E.customer_summary_sql(messy_tx, count_by=count_by, time_unit=time_unit, extras=extras, con=spark)
    assert len(got) > 200
    assert_same(got, want)


def test_sample_summary_rfm_and_cohorts_on_spark_equal_duckdb(spark, duck, sample_tx):
    assert_same(E.customer_summary_sql(sample_tx, con=spark), E.customer_summary_sql(sample_tx, con=duck))
    assert_same(E.rfm_table_sql(sample_tx, con=spark), E.rfm_table_sql(sample_tx, con=duck))
    assert_same(E.cohort_cells_sql(sample_tx, con=spark), E.cohort_cells_sql(sample_tx, con=duck))


def test_rfm_snapshots_in_one_pass_on_spark_equal_duckdb(spark, duck, messy_tx, monkeypatch):
    dates = [pd.Timestamp("2023-04-01"), pd.Timestamp("2023-06-15")]
    want = rfm_snapshots(messy_tx, dates, engine="duckdb")
    monkeypatch.setattr(spark_backend, "_DEFAULT", spark)  # the engine's Spark backend is the test's session
    got = rfm_snapshots(messy_tx, dates, engine="spark")
    for g, w in zip(got, want):
        assert_same(g, w)


def test_overview_counts_on_spark_equal_duckdb(spark, duck, messy_tx):
    want, got = E.headline_counts_sql(messy_tx, con=duck), E.headline_counts_sql(messy_tx, con=spark)
    assert {k: v for k, v in got.items() if k != "revenue"} == {k: v for k, v in want.items() if k != "revenue"}
    assert got["revenue"] == pytest.approx(want["revenue"], rel=1e-9)
    assert_same(E.monthly_activity_sql(messy_tx, con=spark), E.monthly_activity_sql(messy_tx, con=duck))


def test_first_event_times_on_spark_equal_duckdb(spark, duck):
    rng = np.random.default_rng(2)
    events = pd.DataFrame({
        "anonymous_id": rng.choice([f"p{i}" for i in range(300)], 3000),
        "event_type": rng.choice(["visit", "signup", "add_to_cart"], 3000),
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**7, 3000), unit="s"),
    })
    assert_same(E.first_event_times_sql(events, as_of="2024-03-01", con=spark),
                E.first_event_times_sql(events, as_of="2024-03-01", con=duck))


def test_spark_reads_parquet_and_csv_paths_and_spark_frames(spark, duck, messy_tx, tmp_path):
    tx = messy_tx.astype({"customer_id": "str", "order_id": "str"})
    # microseconds, as Spark and DuckDB write them (nanoseconds: the test after this one)
    tx.to_parquet(tmp_path / "lines.parquet", index=False, coerce_timestamps="us")
    tx.to_csv(tmp_path / "lines.csv", index=False)
    want = E.customer_summary_sql(tx, con=duck)
    for source in (tmp_path / "lines.parquet", spark.frame(tx)):
        got = E.customer_summary_sql(source, con=spark)
        assert_same(got.astype({"first_purchase": want["first_purchase"].dtype,
                                "last_purchase": want["last_purchase"].dtype}), want)
    got_csv = E.customer_summary_sql(tmp_path / "lines.csv", con=spark)
    assert (got_csv["frequency"].to_numpy() == want["frequency"].to_numpy()).all()
    np.testing.assert_allclose(got_csv["monetary_value"], want["monetary_value"], rtol=1e-9)


def test_spark_reads_parquet_with_nanosecond_timestamps_as_the_run_cache_writes_them(spark, duck, messy_tx,
                                                                                        tmp_path):
    """pandas (and so the run's cache) writes nanosecond timestamps, which Spark alone refuses to read
    (PARQUET_TYPE_ILLEGAL: report 00 on Spark failed on the cache); they are read as integers and
    rounded to microseconds as DuckDB rounds them, half away from zero."""
    tx = messy_tx.astype({"customer_id": "str", "order_id": "str"})
    tx.loc[0, "timestamp"] = pd.Timestamp("2023-01-05 10:00:00.123456789")  # rounds up to .123457
    path = tmp_path / "cache.parquet"
    tx.to_parquet(path, index=False)
    import pyarrow.parquet as pq

    assert str(pq.read_schema(path).field("timestamp").type) == "timestamp[ns]"
    want = E.customer_summary_sql(path, con=duck)
    got = E.customer_summary_sql(path, con=spark)
    assert_same(got.astype({"first_purchase": want["first_purchase"].dtype,
                            "last_purchase": want["last_purchase"].dtype}), want)
    sql = 'SELECT MIN(CAST("timestamp" AS TIMESTAMP)) AS first, COUNT(*) AS n FROM src WHERE customer_id = {}'
    first = E.query(path, sql.format(repr(tx.loc[0, "customer_id"])), spark)
    assert first["first"].iloc[0] == E.query(path, sql.format(repr(tx.loc[0, "customer_id"])), duck)["first"].iloc[0]
    before_1970 = tmp_path / "old.parquet"
    pd.DataFrame({"timestamp": pd.to_datetime(["1969-12-31 23:59:59.9999995", "1969-12-31 23:59:59.9999996"])}
                 ).to_parquet(before_1970, index=False)
    sql = 'SELECT CAST("timestamp" AS TIMESTAMP) AS t FROM src ORDER BY 1'
    assert E.query(before_1970, sql, spark)["t"].tolist() == E.query(before_1970, sql, duck)["t"].tolist() == [
        pd.Timestamp("1969-12-31 23:59:59.999999"), pd.Timestamp("1970-01-01")]


def test_on_a_cluster_a_file_on_the_drivers_disk_is_read_by_the_driver(spark, duck, messy_tx, tmp_path,
                                                                          monkeypatch):
    """A cluster's executors cannot open the driver's files (the run's cache): such a path is read
    with pyarrow on the driver and sent to Spark; shared storage is left to Spark."""
    tx = messy_tx.astype({"customer_id": "str", "order_id": "str"})
    path = tmp_path / "cache.parquet"
    tx.to_parquet(path, index=False)
    want = E.customer_summary_sql(path, con=duck)
    monkeypatch.setattr(spark, "_master", lambda: "spark://cluster:7077")

    def spark_reads(path):
        raise AssertionError("Spark was asked to read a file on the driver's disk")

    monkeypatch.setattr(spark_backend, "_nanosecond_columns", spark_reads)
    got = E.customer_summary_sql(path, con=spark)
    assert_same(got.astype({"first_purchase": want["first_purchase"].dtype,
                            "last_purchase": want["last_purchase"].dtype}), want)
    with pytest.raises(AssertionError, match="asked to read"):  # not on this disk: Spark's own storage
        spark.frame("s3a://bucket/orders.parquet")
    monkeypatch.setattr(spark, "_master", lambda: "local[2]")
    with pytest.raises(AssertionError, match="asked to read"):  # local mode: Spark reads it
        spark.frame(str(path))


def test_the_overview_of_the_run_cache_on_spark_equals_duckdb(spark, run_cache, monkeypatch):
    """Report 00 profiles the cached transactions file by one engine query: on Spark it failed."""
    from lclib.analysis.overview import table_overview
    from lclib.io.dataset import Dataset

    monkeypatch.setattr(spark_backend, "_DEFAULT", spark)  # the module's session, not a second one
    data = Dataset.open(run_cache, load_config())
    assert data.tables.file("transactions") is not None  # profiled on disk, not in pandas
    got, want = table_overview(data, engine="spark"), table_overview(data, engine="duckdb")
    assert len(want) == 7 and want.loc[want["table"] == "transactions", "people"].item() > 1000
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("name", ["00_data_overview", "01_journey", "02_stages", "03_rfm", "04_churn", "05_clv",
                                  "06_experiments", "07_customer_scores"])
def test_every_report_runs_on_spark_from_the_run_cache(name, spark, run_cache, tmp_path, monkeypatch):
    """``analysis.engine: spark`` on the cache ``lclib run`` writes: each report's cells run (report 00
    failed here while the engine tests above passed on frames)."""
    import matplotlib

    matplotlib.use("Agg")
    from conftest import run_cells

    monkeypatch.setattr(spark_backend, "_DEFAULT", spark)
    monkeypatch.setattr(spark_backend, "configure", lambda *a, **k: None)  # keep the module's session
    queries = []
    real_query = spark.query
    monkeypatch.setattr(spark, "query", lambda source, sql: queries.append(sql) or real_query(source, sql))
    namespace = {"__name__": "__main__", "CONFIG": None, "DATA_DIR": str(run_cache), "OUTPUT_DIR": str(tmp_path),
                 "OVERRIDES": {"analysis.engine": "spark"}, "display": lambda *a, **k: None}
    run_cells(ROOT / "notebooks" / f"{name}.ipynb", namespace)
    assert namespace["cfg"].analysis.engine == "spark"
    # 01 and 02 work on the cached orders table alone; the others query the engine (00: 8 queries)
    assert (len(queries) > 0) == (name not in ("01_journey", "02_stages"))


def test_spark_sql_is_transpiled_from_the_duckdb_text():
    text = spark_backend.to_spark_sql(E.customer_summary_query("W", pd.Timestamp("2025-01-01")))
    assert "`timestamp`" in text and "STRING" in text and "VARCHAR" not in text
    assert "MIN_BY" in text and "DATE_TRUNC('WEEK'" in text


def test_engine_name_spark_is_checked():
    assert E.check_engine("spark") == "spark"
    with pytest.raises(ValueError, match="'duckdb', 'pandas' or 'spark'"):
        E.check_engine("sparkk")
