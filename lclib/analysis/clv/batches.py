"""Every customer scored in batches: Arrow batches of a Parquet summary (DuckDB), or a Spark DataFrame.

The models are fitted on one machine on a seeded sample (:func:`~lclib.analysis.clv.fitting.fit_sample`);
scoring needs only each customer's own ``frequency``, ``recency``, ``T`` and ``monetary_value``,
so it runs batch by batch with :func:`~lclib.analysis.clv.prediction.predict_customers` (vectorised,
no per-customer loop), wherever the customers are: a Parquet file of any size read in Arrow
batches by DuckDB (:func:`score_parquet`), or a Spark DataFrame scored on the executors with
``mapInPandas`` (:func:`score_spark`; the pattern of Databricks' CLV solution accelerator). The
scores equal :func:`predict_customers` on the whole table (tested in ``tests/test_clv_batches.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from lclib.analysis.clv.prediction import predict_customers
from lclib.io.columns import CUSTOMER_ID
from lclib.io.parts import files_sql

#: Columns of every scored batch, after ``customer_id``.
SCORE_COLUMNS = ("expected_purchases", "p_alive", "expected_order_value", "clv")
#: Customers per batch (a batch of scores is about 50 MB).
BATCH_CUSTOMERS = 500_000


def score_batches(batches: Iterable[pd.DataFrame], bgnbd, gg, **kwargs: Any) -> Iterator[pd.DataFrame]:
    """:func:`predict_customers` on each batch of a customer summary.

    Parameters
    ----------
    batches : pandas frames with ``customer_id`` (a column, or the index) and ``frequency``,
        ``recency``, ``T``, ``monetary_value``.
    bgnbd, gg : the fitted models (as :func:`predict_customers`).
    **kwargs : the other arguments of :func:`predict_customers` (``horizon_periods``,
        ``discount_rate_annual``, ``margin``, ``time_unit``, ``undefined``...).

    Yields
    ------
    DataFrame
        ``customer_id`` and :data:`SCORE_COLUMNS`, one row per scored customer of the batch
        (``attrs["excluded"]``: customers left out with ``undefined="exclude"``).
    """
    for batch in batches:
        if CUSTOMER_ID in batch.columns:
            batch = batch.set_index(CUSTOMER_ID)
        scores = predict_customers(bgnbd, gg, batch, **kwargs)
        out = scores.rename_axis(CUSTOMER_ID).reset_index()
        out.attrs.update(scores.attrs)
        yield out


def score_parquet(summary: str | Path, out: str | Path, bgnbd, gg, *, batch_customers: int = BATCH_CUSTOMERS,
                  **kwargs: Any) -> dict[str, int]:
    """Score every customer of a Parquet summary into a Parquet file, batch by batch (DuckDB, Arrow).

    Memory holds one batch of ``batch_customers`` customers at a time, whatever the file's size.

    Returns
    -------
    dict
        ``scored`` and ``excluded`` customers (``undefined="exclude"``).
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    con = duckdb.connect()
    reader = con.sql(f"SELECT * FROM {files_sql([Path(summary)])}").to_arrow_reader(batch_customers)
    counts = {"scored": 0, "excluded": 0}
    writer = None
    try:
        frames = (batch.to_pandas() for batch in reader)
        for scores in score_batches(frames, bgnbd, gg, **kwargs):
            table = pa.Table.from_pandas(scores, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(out, table.schema)
            writer.write_table(table)
            counts["scored"] += len(scores)
            counts["excluded"] += int(scores.attrs.get("excluded", 0))
    finally:
        if writer is not None:
            writer.close()
        con.close()
    return counts


def score_spark(summary, bgnbd, gg, **kwargs: Any):
    """Score every customer of a Spark DataFrame on the executors (``mapInPandas``).

    Parameters
    ----------
    summary : pyspark DataFrame with ``customer_id`` (text) and ``frequency``, ``recency``,
        ``T``, ``monetary_value`` (for example ``spark.createDataFrame(summary.reset_index())``,
        or the same columns computed by Spark SQL over the lakehouse's order lines).
    bgnbd, gg, **kwargs : as :func:`score_batches` (the fits are shipped to the executors).

    Returns
    -------
    pyspark DataFrame
        ``customer_id`` and :data:`SCORE_COLUMNS` (doubles), lazily computed. With
        ``undefined="raise"`` (the default) a customer the model cannot score fails the job
        with :class:`~lclib.analysis.clv.prediction.UndefinedPredictionError`'s message.
    """
    schema = f"{CUSTOMER_ID} string, " + ", ".join(f"{c} double" for c in SCORE_COLUMNS)
    needed = [CUSTOMER_ID, "frequency", "recency", "T", "monetary_value"]

    def score(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for scores in score_batches(frames, bgnbd, gg, **kwargs):
            yield scores.astype({CUSTOMER_ID: "str"})

    return summary.select(*needed).mapInPandas(score, schema=schema)
