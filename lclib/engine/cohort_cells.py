"""Monthly acquisition cohorts.

One row per (cohort, months since first purchase) cell, the pandas reference of
engine.sql.cohort_cells_sql.
"""

from __future__ import annotations

import pandas as pd

from lclib.engine.contracts import _month_number, complete_triangle, empty_cohort_cells, resolve_as_of
from lclib.engine.orders import orders_table
from lclib.io.columns import AMOUNT, CUSTOMER_ID, TIMESTAMP


def cohort_cells(transactions: pd.DataFrame, as_of=None, engine: str | None = None) -> pd.DataFrame:
    """Customers and revenue per (acquisition cohort, months since first purchase).

    Parameters
    ----------
    transactions : DataFrame
        Order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).
    as_of : date-like, optional
        Exclusive end of the data (default: midnight after the last transaction).

    Returns
    -------
    DataFrame
        One row per cohort and month ``0 .. (last cohort month .. as_of)``, every
        cell of the triangle present (zeros where nobody bought), with columns

        - ``cohort`` (Period[M]): month of the first order;
        - ``period`` (int): calendar months since the first order's month;
        - ``cohort_size`` (int): customers whose first order is in the cohort;
        - ``cohort_revenue0`` (float): the cohort's revenue in its month 0;
        - ``customers`` (int): cohort customers with at least one order in that month;
        - ``revenue`` (float): the cohort's revenue in that month;
        - ``observable`` (bool): the calendar month has ended by ``as_of``.

    ``engine`` (``"duckdb"``, ``"pandas"``; None = :func:`lclib.engine.sql.default_engine`)
    chooses who aggregates; both give the same table (revenue to floating-point rounding).
    """
    from lclib.engine import sql as _engine

    as_of = resolve_as_of(transactions, as_of)
    if _engine.check_engine(engine) in _engine.SQL_ENGINES and len(transactions):
        return _engine.cohort_cells_sql(transactions, as_of, con=_engine.connection_for(engine))
    orders = orders_table(transactions, as_of)
    if orders.empty:
        return empty_cohort_cells()
    month = _month_number(orders[TIMESTAMP])
    first = month.groupby(orders[CUSTOMER_ID], sort=False, observed=True).transform("min")
    per_cell = pd.DataFrame({"cohort_n": first, "period": month - first, CUSTOMER_ID: orders[CUSTOMER_ID],
                             "revenue": orders[AMOUNT]})
    cells = per_cell.groupby(["cohort_n", "period"], sort=True).agg(
        customers=(CUSTOMER_ID, "nunique"), revenue=("revenue", "sum"))
    sizes = first.groupby(orders[CUSTOMER_ID], sort=False, observed=True).first().value_counts()
    return complete_triangle(cells.reset_index(), sizes, as_of)
