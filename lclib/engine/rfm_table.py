"""Recency, frequency and monetary value per customer at one or several snapshot dates.

The pandas reference and the one-pass SQL for several snapshots.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lclib.engine.contracts import (as_of_after,
    FIRST_PURCHASE,
    FREQUENCY,
    LAST_PURCHASE,
    MONETARY_MEAN,
    MONETARY_TOTAL,
    RECENCY_DAYS,
    RFM_COLUMNS,
    _timestamp_like,
)
from lclib.io.columns import AMOUNT, CUSTOMER_ID, ORDER_ID, TIMESTAMP, require_columns


def rfm_table(
    transactions: pd.DataFrame, as_of: str | pd.Timestamp | None = None, engine: str | None = None
) -> pd.DataFrame:
    """Recency, frequency and monetary value per customer.

    Parameters
    ----------
    transactions : DataFrame
        One row per order line with ``customer_id``, ``order_id``,
        ``timestamp`` (datetime64) and ``amount``. Rows with a missing
        ``customer_id`` are ignored.
    as_of : str or Timestamp, optional
        Snapshot time. Only transactions with ``timestamp < as_of`` count.
        Defaults to midnight after the last transaction's date
        (``max(timestamp).normalize() + 1 day``), so every row counts and a
        customer who bought on the last day has ``recency_days == 1``.

    Returns
    -------
    DataFrame
        Indexed by ``customer_id`` (sorted), one row per customer with at least
        one counted transaction:

        - ``recency_days`` (int): whole days from the *date* of the last
          purchase to the *date* of ``as_of``, both normalized to midnight:
          ``(as_of.normalize() - last_purchase.normalize()).days``.
        - ``frequency`` (int): number of distinct ``order_id``; an order with
          several lines counts once.
        - ``monetary_total`` (float): sum of ``amount``.
        - ``monetary_mean`` (float): ``monetary_total / frequency``, the
          average order value.
        - ``first_purchase``, ``last_purchase`` (datetime64): earliest and
          latest counted ``timestamp``, not normalized.

    Raises
    ------
    ValueError
        If a column is missing, ``timestamp`` is not datetime64, or
        ``as_of`` is omitted for an empty table.

    Notes
    -----
    ``engine`` (``"duckdb"``, ``"pandas"``; None = :func:`lclib.engine.sql.default_engine`)
    chooses who aggregates; both give the same table (money sums to floating-point
    rounding, see :mod:`lclib.engine`).
    """
    require_columns(transactions, (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT), "transactions")
    from lclib.engine import sql as _engine

    if _engine.check_engine(engine) in _engine.SQL_ENGINES and len(transactions) and \
            pd.api.types.is_datetime64_any_dtype(transactions[TIMESTAMP]):
        return _engine.rfm_table_sql(transactions, as_of, con=_engine.connection_for(engine))
    ts = transactions[TIMESTAMP]
    if not pd.api.types.is_datetime64_any_dtype(ts):
        raise ValueError(f"transactions[{TIMESTAMP!r}] must be datetime64, got {ts.dtype}")
    if as_of is None:
        if ts.isna().all():
            raise ValueError("transactions has no timestamps; pass as_of explicitly")
        as_of = as_of_after(ts.max())
    as_of = _timestamp_like(as_of, ts)

    counted = transactions.loc[ts < as_of]
    out = counted.groupby(CUSTOMER_ID, sort=True, observed=True).agg(
        **{
            FIRST_PURCHASE: (TIMESTAMP, "min"),
            LAST_PURCHASE: (TIMESTAMP, "max"),
            FREQUENCY: (ORDER_ID, "nunique"),
            MONETARY_TOTAL: (AMOUNT, "sum"),
        }
    )
    out[RECENCY_DAYS] = (as_of.normalize() - out[LAST_PURCHASE].dt.normalize()).dt.days
    out[MONETARY_TOTAL] = out[MONETARY_TOTAL].astype("float64")
    out[MONETARY_MEAN] = out[MONETARY_TOTAL] / out[FREQUENCY]
    return out[list(RFM_COLUMNS)]


#: RFM aggregates per customer at several snapshot times from one scan of the
#: lines. Snapshot ``{i}`` FILTERs the lines before its time: per customer the
#: first and last time and the sum of ``amount`` over the lines (a compensated ``FSUM``,
#: as :func:`lclib.engine.sql.rfm_table_sql` sums: the same bits run after run),
#: and per customer the orders with a line before that time, counted from the
#: (customer, order) groups: the same as ``COUNT(DISTINCT order_id)``, without a
#: distinct aggregate per snapshot (which costs twice as much on 10M lines).
_SQL_SNAPSHOT_LINES = """
       MIN(ts){cond} AS first_{i},
       MAX(ts){cond} AS last_{i},
       FSUM(amount){cond} AS revenue_{i}"""


_SQL_SNAPSHOT_ORDERS = """
       COUNT(*){cond} AS orders_{i}"""


_SQL_SNAPSHOT_RESULT = """
       first_{i}, last_{i}, COALESCE(orders_{i}, 0) AS orders_{i}, revenue_{i}"""


_SQL_SNAPSHOTS = """
WITH {lines},
per_customer AS (
    SELECT customer_id,{line_columns}
    FROM lines
    GROUP BY customer_id
),
per_order AS (
    SELECT customer_id, order_id, MIN(ts) AS ts
    FROM lines
    WHERE order_id IS NOT NULL
    GROUP BY customer_id, order_id
),
orders AS (
    SELECT customer_id,{order_columns}
    FROM per_order
    GROUP BY customer_id
)
SELECT CAST(customer_id AS VARCHAR) AS customer_id,{result_columns}
FROM per_customer LEFT JOIN orders USING (customer_id)
ORDER BY 1
"""


def rfm_snapshots(
    transactions: pd.DataFrame, dates: Sequence[str | pd.Timestamp], engine: str | None = None
) -> list[pd.DataFrame]:
    """:func:`rfm_table` at several dates, from one pass over the order lines.

    ``rfm_snapshots(tx, [d1, d2])`` equals ``[rfm_table(tx, d1), rfm_table(tx, d2)]``
    (same customers, values and dtypes; money sums to floating-point rounding, as
    between the engines), but with the DuckDB engine the lines are
    read once for all dates (one query, no distinct count per date). The pandas
    engine computes each table in turn.

    Parameters
    ----------
    transactions : DataFrame
        As for :func:`rfm_table`.
    dates : sequence of str or Timestamp
        Exclusive snapshot times (at least one), in any order.
    engine : {"duckdb", "pandas"}, optional
        As for :func:`rfm_table`.

    Returns
    -------
    list of DataFrame
        One :func:`rfm_table` per date, in the order of ``dates``.
    """
    require_columns(transactions, (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT), "transactions")
    stamps = [pd.Timestamp(d) for d in dates]
    if not stamps:
        raise ValueError("dates must name at least one snapshot time")
    from lclib.engine import sql as _engine

    ts = transactions[TIMESTAMP]
    one_pass = (
        len(stamps) > 1
        and _engine.check_engine(engine) in _engine.SQL_ENGINES
        and len(transactions) > 0
        and pd.api.types.is_datetime64_any_dtype(ts)
        and getattr(ts.dtype, "tz", None) is None
        and all(s.tzinfo is None for s in stamps)
    )
    if not one_pass:
        return [rfm_table(transactions, as_of=s, engine=engine) for s in stamps]

    end = max(stamps)
    conds = [f" FILTER (WHERE ts < {_engine.sql_timestamp(s)})" if s < end else "" for s in stamps]
    sql = _SQL_SNAPSHOTS.format(
        lines=_engine.LINES_CTE.format(end=_engine.sql_timestamp(end)),
        line_columns=",".join(_SQL_SNAPSHOT_LINES.format(i=i, cond=c) for i, c in enumerate(conds)),
        order_columns=",".join(_SQL_SNAPSHOT_ORDERS.format(i=i, cond=c) for i, c in enumerate(conds)),
        result_columns=",".join(_SQL_SNAPSHOT_RESULT.format(i=i) for i in range(len(stamps))),
    )
    agg = _engine.query(transactions, sql, _engine.connection_for(engine))
    ids = pd.Index(agg["customer_id"].astype(transactions[CUSTOMER_ID].dtype), name=CUSTOMER_ID)
    tables = []
    for i, as_of in enumerate(stamps):
        present = agg[f"first_{i}"].notna().to_numpy()
        last_purchase = agg[f"last_{i}"][present].astype(ts.dtype)
        revenue = agg[f"revenue_{i}"].to_numpy(dtype="float64")[present]
        orders = agg[f"orders_{i}"].to_numpy(dtype="int64")[present]
        with np.errstate(divide="ignore", invalid="ignore"):  # no order id: as the pandas engine, no warning
            mean = revenue / orders
        out = pd.DataFrame(
            {
                RECENCY_DAYS: (as_of.normalize() - last_purchase.dt.normalize()).dt.days.to_numpy(dtype="int64"),
                FREQUENCY: orders,
                MONETARY_TOTAL: revenue,
                MONETARY_MEAN: mean,
                FIRST_PURCHASE: agg[f"first_{i}"][present].astype(ts.dtype).to_numpy(),
                LAST_PURCHASE: last_purchase.to_numpy(),
            },
            index=ids[present],
        )
        tables.append(out[list(RFM_COLUMNS)])
    return tables
