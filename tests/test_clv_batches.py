"""Scoring in batches (Parquet through DuckDB, Spark through mapInPandas) equals scoring the whole table at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import clv
from lclib.engine.summary import customer_summary
from lclib.io.dataset import load_dataset

ROOT = Path(__file__).resolve().parents[1]
# Hardie's published CDNOW estimates (BG/NBD, weeks; Gamma-Gamma)
BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
GG = {"p": 6.25, "q": 3.74, "v": 15.44}
KWARGS = dict(horizon_periods=12, discount_rate_annual=0.1, margin=0.3, time_unit="W")


@pytest.fixture(scope="module")
def models_and_summary():
    data = load_dataset(ROOT / "lclib.yaml")
    summary = customer_summary(data.transactions, time_unit="W")
    summary = summary.loc[summary["frequency"] > 0, ["frequency", "recency", "T", "monetary_value"]]
    return clv.fit_from_params("bgnbd", BGNBD), clv.fit_from_params("gamma_gamma", GG, time_unit=None), summary


def _whole(models_and_summary) -> pd.DataFrame:
    bg, gg, summary = models_and_summary
    return clv.predict_customers(bg, gg, summary, **KWARGS).rename_axis("customer_id").reset_index()


def test_scoring_a_parquet_summary_in_batches_equals_scoring_it_whole(models_and_summary, tmp_path):
    bg, gg, summary = models_and_summary
    src, out = tmp_path / "summary.parquet", tmp_path / "scores.parquet"
    summary.reset_index().to_parquet(src, index=False)
    counts = clv.score_parquet(src, out, bg, gg, batch_customers=97, **KWARGS)
    expected = _whole(models_and_summary)
    assert counts == {"scored": len(summary), "excluded": 0}
    assert len(summary) > 5 * 97  # several batches
    got = pd.read_parquet(out)
    assert list(got.columns) == ["customer_id", *clv.SCORE_COLUMNS]
    pd.testing.assert_frame_equal(got.astype({"customer_id": "str"}), expected.astype({"customer_id": "str"}),
                                  check_exact=False, rtol=1e-12)
    assert got["clv"].gt(0).all() and got["p_alive"].between(0, 1).all()


def test_a_customer_the_model_cannot_score_is_counted_not_silently_nan(models_and_summary, tmp_path):
    bg, gg, summary = models_and_summary
    broken = summary.copy()
    broken.iloc[3, broken.columns.get_loc("T")] = np.inf
    src = tmp_path / "summary.parquet"
    broken.reset_index().to_parquet(src, index=False)
    with pytest.raises(clv.UndefinedPredictionError, match="undefined"):
        clv.score_parquet(src, tmp_path / "a.parquet", bg, gg, batch_customers=50, **KWARGS)
    counts = clv.score_parquet(src, tmp_path / "b.parquet", bg, gg, batch_customers=50, undefined="exclude",
                               **KWARGS)
    assert counts == {"scored": len(summary) - 1, "excluded": 1}


def test_scoring_a_spark_dataframe_on_the_executors_equals_scoring_it_whole(models_and_summary):
    pytest.importorskip("pyspark")
    from lclib.engine import spark as spark_backend

    bg, gg, summary = models_and_summary
    spark = spark_backend.SparkBackend(master="local[2]", conf={"spark.sql.shuffle.partitions": "2",
                                                                "spark.driver.memory": "1g"}).spark
    sdf = spark.createDataFrame(summary.reset_index().astype({"customer_id": "str"})).repartition(3)
    got = clv.score_spark(sdf, bg, gg, **KWARGS).toPandas().sort_values("customer_id", ignore_index=True)
    expected = _whole(models_and_summary).astype({"customer_id": "str"}).sort_values("customer_id",
                                                                                       ignore_index=True)
    pd.testing.assert_frame_equal(got.astype({"customer_id": "str"}), expected, check_exact=False, rtol=1e-12)
