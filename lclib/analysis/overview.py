"""What data was given: per-table counts and date ranges, monthly activity.

Pure functions from the canonical tables (see :mod:`lclib.io.columns`) to small frames.
"""

from __future__ import annotations

import pandas as pd

from lclib.io import columns as C
from lclib.io.dataset import Dataset


def distinct_people(df: pd.DataFrame) -> int | None:
    """Distinct persons in one table, each counted once (None when it has no id column).

    A table with both an ``anonymous_id`` and a ``customer_id`` (the events) follows
    the person rule of :func:`lclib.analysis.journey.stage_entries`: a person is an anonymous
    id; a row with only a customer id belongs to the anonymous id that the customer's
    first row carrying both ids has, and is a person of its own when no row links
    that customer. So someone who browsed anonymously and later signed up counts once.
    Other tables count the distinct ids of their id columns together (a referrer and
    a referred customer are both customers).
    """
    ids = [c for c in (C.CUSTOMER_ID, C.ANONYMOUS_ID, C.REFERRER_ID) if c in df]
    if not ids:
        return None
    if C.ANONYMOUS_ID in df and C.CUSTOMER_ID in df:
        from lclib.analysis.journey import customer_links  # the one person rule

        link = customer_links(df)
        anon = df[C.ANONYMOUS_ID].dropna().astype("str")
        only_customer = df.loc[df[C.ANONYMOUS_ID].isna(), C.CUSTOMER_ID].dropna()
        linked = only_customer.map(link)
        unlinked = "customer:" + only_customer[linked.isna()].astype("str")  # apart from anonymous ids
        persons = pd.concat([anon, linked.dropna().astype("str"), unlinked])
        others = [df[c].dropna().astype("str") for c in ids if c not in (C.ANONYMOUS_ID, C.CUSTOMER_ID)]
        return int(pd.concat([persons, *others]).nunique())
    if len(ids) == 1:
        return int(df[ids[0]].nunique())
    return int(pd.concat([df[c] for c in ids]).nunique())


def _file_profile(path: str, engine: str | None = None) -> tuple[int | None, pd.Timestamp, pd.Timestamp]:
    """:func:`distinct_people`, first and last date of a table kept on disk, by one engine query."""
    from lclib.engine import sql as _engine

    columns = _engine.columns_of(path)
    ids = [c for c in (C.CUSTOMER_ID, C.REFERRER_ID) if c in columns]  # names from lclib.io.columns only
    dates = [c for c in C.DATE_COLUMNS if c in columns]
    people = ("(SELECT COUNT(DISTINCT id) FROM (" + " UNION ALL ".join(f'SELECT CAST("{c}" AS VARCHAR) AS id FROM src'
                                                                      for c in ids) + "))") if ids else "NULL"
    when = f'CAST("{dates[0]}" AS TIMESTAMP)' if dates else "CAST(NULL AS TIMESTAMP)"
    if _engine.check_engine(engine) not in _engine.SQL_ENGINES:  # pandas: the columns it needs, read
        df = pd.read_parquet(path, columns=ids + dates[:1])
        first, last = (df[dates[0]].min(), df[dates[0]].max()) if dates and len(df) else (pd.NaT, pd.NaT)
        return distinct_people(df), first, last
    sql = f"SELECT {people} AS people, MIN({when}) AS first, MAX({when}) AS last FROM src"
    row = _engine.query(path, sql, _engine.connection_for(engine)).iloc[0]
    return (int(row["people"]) if ids else None), pd.Timestamp(row["first"]), pd.Timestamp(row["last"])


def table_overview(data: Dataset, engine: str | None = None) -> pd.DataFrame:
    """One row per loaded table.

    A table the run's cache still keeps on disk (the transactions of ``lclib run``:
    :meth:`Dataset.source` is its path) is profiled by one engine query, out of core,
    without reading its rows into pandas (``engine``: ``"duckdb"`` or ``"spark"``; ``"pandas"``
    reads the columns it needs; None = :func:`lclib.engine.sql.default_engine`); the result is the same.

    Returns
    -------
    DataFrame with columns table, rows (rows kept by the loader, from the ledger), people (distinct persons where the table has
    ids, each counted once: see :func:`distinct_people`), first, last (its main date column).
    """
    rows = []
    for name in data.tables:
        on_disk = data.tables.file(name)
        if on_disk is not None and C.ANONYMOUS_ID not in _columns(str(on_disk.path)):
            people, first, last = _file_profile(str(on_disk.path), engine)
            n = on_disk.rows
        else:
            df = data.tables[name]
            dates = [c for c in C.DATE_COLUMNS if c in df]
            people = distinct_people(df)
            first = df[dates[0]].min() if dates and len(df) else pd.NaT
            last = df[dates[0]].max() if dates and len(df) else pd.NaT
            n = len(df)
        kept = data.ledger.tables[name].rows_kept if name in data.ledger.tables else n
        rows.append(dict(table=name, rows=kept, people=people, first=first, last=last))
    out = pd.DataFrame(rows, columns=["table", "rows", "people", "first", "last"])
    out["people"] = out["people"].astype("Int64")  # a whole number, missing for tables without ids
    return out


def _columns(source) -> list[str]:
    from lclib.engine import sql as _engine

    return _engine.columns_of(source)


def _frame(source) -> pd.DataFrame:
    """A DataFrame of ``source`` for the pandas paths (a Parquet path is read)."""
    return source if isinstance(source, pd.DataFrame) else pd.read_parquet(source)


def _before(tx: pd.DataFrame, end) -> pd.DataFrame:
    return tx if end is None else tx.loc[tx[C.TIMESTAMP] < pd.Timestamp(end)]


def monthly_activity(transactions: "pd.DataFrame | str", engine: str | None = None, end=None) -> pd.DataFrame:
    """Orders, buying customers, new customers and revenue per calendar month.

    Parameters
    ----------
    transactions : canonical transactions (customer_id, order_id, timestamp, amount), a
        DataFrame or the path of such a Parquet file (:meth:`Dataset.source`: read by the
        engine out of core).
    engine : ``"duckdb"``, ``"spark"`` or ``"pandas"`` (None = :func:`lclib.engine.sql.default_engine`); same result.
    end : exclusive end, e.g. the run's analysis date (``resolve_as_of``): lines at or after it
        are left out, so a month it cuts holds only its days before it. None: every line.

    Returns
    -------
    DataFrame indexed by ``month`` (Period[M]) with columns orders, customers,
    new_customers (first purchase in that month), revenue, average_order_value.
    Months without any purchase inside the range appear with zeros.
    """
    from lclib.engine import sql as _engine

    tx = transactions
    on_file = not isinstance(tx, pd.DataFrame)
    if _engine.check_engine(engine) in _engine.SQL_ENGINES and (on_file or len(tx)):
        out = _engine.monthly_activity_sql(tx, con=_engine.connection_for(engine), end=end)
        if not len(out):
            raise ValueError("monthly_activity: the transactions have no dated rows" + ("" if end is None else
                             f" before {pd.Timestamp(end):%Y-%m-%d}"))
    else:
        tx = _before(_frame(tx), end)
        month = tx[C.TIMESTAMP].dt.to_period("M")
        first_month = tx.groupby(C.CUSTOMER_ID)[C.TIMESTAMP].min().dt.to_period("M")
        g = tx.groupby(month)
        out = pd.DataFrame({
            "orders": g[C.ORDER_ID].nunique(),
            "customers": g[C.CUSTOMER_ID].nunique(),
            "revenue": g[C.AMOUNT].sum(),
        })
        out["new_customers"] = first_month.value_counts().reindex(out.index, fill_value=0)
    full = pd.period_range(out.index.min(), out.index.max(), freq="M", name="month")
    out = out.reindex(full, fill_value=0)
    out["average_order_value"] = out["revenue"] / out["orders"].where(out["orders"] > 0)
    return out[["orders", "customers", "new_customers", "revenue", "average_order_value"]]


def headline_counts(transactions: "pd.DataFrame | str", engine: str | None = None, end=None) -> dict[str, float]:
    """Customers, orders, revenue, repeat-customer share and the covered period in days.

    ``transactions``: a DataFrame or the path of a Parquet file of them (:meth:`Dataset.source`).
    ``end``: exclusive end, e.g. the run's analysis date: lines at or after it are left out
    (every report counts only what happened before it). None: every line.
    ``engine``: ``"duckdb"``, ``"spark"`` or ``"pandas"`` (None = :func:`lclib.engine.sql.default_engine`); same result.
    ``order_lines`` counts the cleaned lines (a row of a run's compacted table counts its ``lines``).
    """
    from lclib.engine import sql as _engine

    tx = transactions
    on_file = not isinstance(tx, pd.DataFrame)
    if _engine.check_engine(engine) in _engine.SQL_ENGINES and (on_file or len(tx)):
        got = _engine.headline_counts_sql(tx, con=_engine.connection_for(engine), end=end)
        customers = int(got["customers"])
        return {
            "customers": customers,
            "orders": int(got["orders"]),
            "order_lines": int(got["order_lines"]),
            "revenue": float(got["revenue"]),
            "repeat_customer_share": float(got["repeat_customers"] / customers * 100) if customers else float("nan"),
            "days_covered": int((pd.Timestamp(got["last_time"]) - pd.Timestamp(got["first_time"])).days + 1),
        }
    tx = _before(_frame(tx), end)
    orders_per_customer = tx.groupby(C.CUSTOMER_ID)[C.ORDER_ID].nunique()
    return {
        "customers": int(orders_per_customer.size),
        "orders": int(tx[C.ORDER_ID].nunique()),
        "order_lines": int(tx[C.LINES].sum()) if C.LINES in tx else int(len(tx)),
        "revenue": float(tx[C.AMOUNT].sum()),
        "repeat_customer_share": float((orders_per_customer > 1).mean() * 100),
        "days_covered": int((tx[C.TIMESTAMP].max() - tx[C.TIMESTAMP].min()).days + 1),
    }


def analysis_window_sentence(as_of, last_time, left_out: dict[str, float] | None, currency: str = "") -> str:
    """What an analysis date before the end of the data leaves out, in words ("" when nothing).

    Parameters
    ----------
    as_of : the run's analysis date (exclusive end, :func:`lclib.engine.contracts.resolve_as_of`).
    last_time : the last order time in the data.
    left_out : ``orders`` and ``revenue`` at or after ``as_of`` (None or no orders: nothing left out).
    currency : for the revenue.

    Examples
    --------
    >>> analysis_window_sentence(pd.Timestamp("2024-04-06"), pd.Timestamp("2025-12-31 18:00"),
    ...                          {"orders": 4021, "revenue": 125036.4}, "EUR")
    'The analysis date is set earlier than the data: every report counts **data to 05 Apr 2024** and leaves out the **4,021 orders** (125,036 EUR) placed after it, the numbers below included.'
    >>> analysis_window_sentence(pd.Timestamp("2026-01-01"), pd.Timestamp("2025-12-31 18:00"), None)
    ''
    """
    from lclib.analysis.wording import data_to, money

    if not left_out or not left_out.get("orders") or pd.Timestamp(last_time) < pd.Timestamp(as_of):
        return ""
    return (f"The analysis date is set earlier than the data: every report counts **{data_to(as_of)}** and "
            f"leaves out the **{int(left_out['orders']):,} orders** ({money(left_out['revenue'], currency)}) "
            "placed after it, the numbers below included.")
