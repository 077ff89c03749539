"""The engine layer: heavy aggregations as SQL, run by DuckDB, small pandas frames out.

Shops with a few years of order lines have tens of millions of rows. Group-bys
over them in pandas cost a lot of time and memory; the same group-bys as one SQL
query in DuckDB run on both cores, stream Parquet/CSV files without loading
them, and return only the per-customer (or per-cell) result. Every function here
returns exactly the contract of its pandas reference implementation:

=================================  ============================================
engine function                    pandas reference (same output contract)
=================================  ============================================
:func:`customer_summary_sql`       :func:`lclib.engine.summary.customer_summary`
:func:`rfm_table_sql`              :func:`lclib.engine.rfm_table.rfm_table`
:func:`cohort_cells_sql`           :func:`lclib.engine.cohort_cells.cohort_cells`
:func:`first_event_times_sql`      first time of each event type per person
                                   (the heavy step of
                                   :func:`lclib.analysis.journey.stage_entries`)
=================================  ============================================

Sources
-------
Every function takes ``source``: a pandas DataFrame (scanned in place, not
copied), a path to a Parquet or CSV file (``.parquet``/``.pq``, else CSV; a glob
such as ``orders/*.parquet`` works too), or a :class:`duckdb.DuckDBPyRelation`.
Columns must carry the canonical names of :mod:`lclib.io.columns`; Parquet is read
with its own types, CSV with id columns as text and the others typed by DuckDB.
Queries cast timestamps to TIMESTAMP and amounts to DOUBLE, group ids in their
source type (integer ids hash faster than text) and return them as text. Raw
files need the canonical names and clean values: use :mod:`lclib.io` for
user-named, messy files.

Engine neutrality
-----------------
The SQL text lives in this module's ``_SQL_*`` constants (and the fragments
they are assembled from, e.g. :func:`customer_summary_query`) and is plain SQL:
``WITH``, ``GROUP BY``, ``JOIN``, ``COUNT(DISTINCT)``, ``CASE``, ``CAST``,
``EXTRACT``, ``ORDER BY`` and ``TIMESTAMP '...'`` literals (no window
functions), so that a Spark SQL backend can run the same text against a
temporary view named ``src``. Not in the SQL standard but spelled the same in
DuckDB, PostgreSQL and Spark SQL: ``date_trunc('week', ts)`` (Monday weeks);
in DuckDB and Spark SQL (PostgreSQL lacks it): ``MIN_BY(value, key)``, the
customer summary's first-period spend. Only the *source binding* is DuckDB-specific
(:func:`relation`, :func:`query`). Date arithmetic (recency, T, months since)
is done in pandas on the small per-customer result, so that it is identical to
the pandas path. Money is summed with DuckDB's compensated ``FSUM`` and ``FAVG``,
which :func:`lclib.engine.spark.to_spark_sql` turns into Spark's ``SUM`` and ``AVG``.

Exactness
---------
Counts, dates, ``recency`` and ``T`` equal the pandas implementations exactly.
Money columns (sums and means of ``amount``) agree to floating-point rounding
(relative difference below 1e-12). They are compensated sums (``FSUM``, ``FAVG``),
as pandas' group-by sums are, so ten lines of 0.10 make 1.00 as they do in pandas,
and the same lines give the same bits run after run: a plain ``SUM`` adds the
partial sums of DuckDB's threads in whatever order the threads finish, and on
millions of lines a few customers' revenue then moved in the last bit from one
run to the next (and the CLV exports, fitted on those sums, in the 14th digit).
DuckDB timestamps have microsecond precision: ``CAST(... AS TIMESTAMP)`` rounds nanoseconds to
the nearest microsecond, half away from zero (the Spark backend reads nanosecond Parquet the
same way).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Sequence, Union

import numpy as np
import pandas as pd

from lclib.engine import contracts as S  # definitions shared with the pandas paths
from lclib.engine import spark as spark_backend
from lclib.io.columns import AMOUNT, ANONYMOUS_ID, CUSTOMER_ID, EVENT_TYPE, ID_COLUMNS, LINES, ORDER_ID, TIMESTAMP
from lclib.io.parts import sql_text

try:  # duckdb is a dependency; the pandas paths still work without it
    import duckdb
except ImportError:  # pragma: no cover - exercised only without duckdb
    duckdb = None

Source = Union[pd.DataFrame, str, Path, "duckdb.DuckDBPyRelation"]

#: Name under which the source is visible to the SQL text.
SOURCE = "src"
_DAY = pd.Timedelta(days=1)


def available() -> bool:
    """True when DuckDB is installed (the default engine of lclib)."""
    return duckdb is not None


_DEFAULT: str | None = None


def set_default_engine(engine: str | None) -> None:
    """Choose the engine used when a function is called with ``engine=None``.

    ``lclib.report.notebook.open_run`` sets it from ``analysis.engine`` of the
    configuration; None restores the built-in default.
    """
    global _DEFAULT
    _DEFAULT = None if engine is None else check_engine(engine)


def default_engine() -> Literal["duckdb", "pandas", "spark"]:
    """The engine set by :func:`set_default_engine`, else ``"duckdb"`` when installed, else ``"pandas"``."""
    if _DEFAULT is not None:
        return _DEFAULT  # type: ignore[return-value]
    return "duckdb" if available() else "pandas"


#: Engines that run the SQL texts of this module (the others: the pandas references).
SQL_ENGINES = ("duckdb", "spark")


def check_engine(engine: str | None) -> Literal["duckdb", "pandas", "spark"]:
    """Resolve ``engine`` (None = :func:`default_engine`) and validate it."""
    if engine is None:
        return default_engine()
    if engine not in ("duckdb", "pandas", "spark"):
        raise ValueError(f"engine must be 'duckdb', 'pandas' or 'spark', got {engine!r}")
    if engine == "duckdb" and not available():
        raise ValueError("engine='duckdb' needs the duckdb package: pip install duckdb")
    if engine == "spark" and not spark_backend.available():
        raise ValueError("engine='spark' needs the pyspark package: pip install pyspark")
    return engine


def connection_for(engine: str | None):
    """What runs this module's SQL for ``engine``: a DuckDB cursor or the Spark backend.

    ``"pandas"`` (and None when the default is pandas) gets a DuckDB cursor too: the
    few SQL-only steps (exports, reading files) always run on DuckDB.
    """
    if check_engine(engine) == "spark":
        return spark_backend.backend()
    return connection()


def _on_spark(source, con) -> bool:
    """Whether a query over ``source`` with ``con`` runs on Spark."""
    if isinstance(con, spark_backend.SparkBackend):
        return True
    if hasattr(source, "sparkSession") and hasattr(source, "createOrReplaceTempView"):
        return True
    return con is None and default_engine() == "spark"


# ----------------------------------------------------------------------------- sources

_CONNECTION = None


def connection() -> "duckdb.DuckDBPyConnection":
    """A cursor on lclib's in-memory DuckDB database (opened once: opening costs ~0.1 s).

    Each call returns a new cursor, so threads do not share one; DuckDB uses all
    cores and spills to disk beyond its memory limit (80 % of RAM by default). Its
    allocator's background threads hand freed memory back to the system, so a report's
    kernel does not keep the peak of its largest query.
    """
    global _CONNECTION
    if duckdb is None:
        raise ValueError("the DuckDB engine needs the duckdb package: pip install duckdb")
    if _CONNECTION is None:
        _CONNECTION = duckdb.connect(":memory:")
        try:  # memory a query freed goes back to the system, not kept by the allocator for the next one
            _CONNECTION.execute("SET allocator_background_threads = true")  # (10M lines: 0.75 -> 0.31 GB kept)
        except duckdb.Error:  # a DuckDB before 1.1 has no such setting: it keeps its caches, nothing else changes
            pass
    return _CONNECTION.cursor()


def relation(source: Source, con: "duckdb.DuckDBPyConnection | None" = None) -> "duckdb.DuckDBPyRelation":
    """A DuckDB relation over ``source`` (DataFrame, Parquet/CSV path or relation).

    Parameters
    ----------
    source : DataFrame, str or Path, or DuckDBPyRelation
        A path ending in ``.parquet`` or ``.pq`` (globs allowed) is read as
        Parquet, any other path as UTF-8 CSV (comma-separated, ``"`` quotes, a
        header row; id columns of :data:`lclib.io.columns.ID_COLUMNS` as text,
        other types detected by DuckDB). Other dialects: pass
        ``con.read_csv(path, ...)`` as the source.
    con : DuckDB connection, optional
        Default: :func:`connection`.

    Raises
    ------
    ValueError
        For an unsupported source type or a missing file.
    """
    if duckdb is None:
        raise ValueError("the DuckDB engine needs the duckdb package: pip install duckdb")
    if isinstance(source, duckdb.DuckDBPyRelation):
        return source
    con = connection() if con is None else con
    if isinstance(source, pd.DataFrame):
        return con.from_df(source)
    if isinstance(source, (str, Path)):
        path = str(source)
        if not any(ch in path for ch in "*?[") and not Path(path).is_file():
            raise ValueError(f"{path}: file not found")
        if path.lower().endswith((".parquet", ".pq")):
            return con.read_parquet(path)
        # explicit dialect: DuckDB's dialect sniffer alone costs seconds on a busy machine;
        # ids stay text (never 17850 for "017850")
        with open(path, encoding="utf-8", errors="replace") as fh:
            header = [c.strip().strip('"') for c in fh.readline().rstrip("\r\n").split(",")]
        ids = {c: "VARCHAR" for c in header if c in ID_COLUMNS}
        return con.read_csv(path, header=True, delimiter=",", quotechar='"', escapechar='"', dtype=ids or None)
    raise ValueError(f"source must be a DataFrame, a file path or a DuckDB relation, got {type(source).__name__}")


def query(source: Source, sql: str, con: "duckdb.DuckDBPyConnection | None" = None) -> pd.DataFrame:
    """Run ``sql``, which reads the table ``src``, over ``source``; return a pandas frame.

    ``con``: a DuckDB connection, or a :class:`lclib.engine.spark.SparkBackend`
    (None: the default engine's, see :func:`connection_for`). On Spark the text is
    transpiled from DuckDB's dialect (:func:`lclib.engine.spark.to_spark_sql`).
    """
    if _on_spark(source, con):
        return (con if isinstance(con, spark_backend.SparkBackend) else spark_backend.backend()).query(source, sql)
    return relation(source, con).query(SOURCE, sql).df()


def _query_arrow(source: Source, sql: str, con: "duckdb.DuckDBPyConnection | None" = None) -> pd.DataFrame:
    """:func:`query` through Arrow: faster for large results with text columns (dates stay datetime64)."""
    if _on_spark(source, con):
        return query(source, sql, con)  # Spark results always come through Arrow
    table = relation(source, con).query(SOURCE, sql).to_arrow_table()
    return table.to_pandas(date_as_object=False)


def sql_timestamp(value) -> str:
    """A standard SQL ``TIMESTAMP '...'`` literal (values are inlined, never user text)."""
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        raise ValueError(f"time-zone aware timestamps are not supported here: {value!r}")
    return f"TIMESTAMP '{stamp.isoformat(sep=' ')}'"


def columns_of(source: Source) -> list[str]:
    """Column names of ``source`` without reading its rows (a Parquet file's from its footer)."""
    if isinstance(source, pd.DataFrame):
        return list(source.columns)
    if isinstance(source, (str, Path)) and str(source).lower().endswith((".parquet", ".pq")) and Path(source).is_file():
        import pyarrow.parquet as pq

        return list(pq.read_schema(source).names)
    if _on_spark(source, None):
        return spark_backend.backend().columns(source)
    return list(relation(source).columns)


def _require(source: Source, needed: tuple[str, ...], what: str = "transactions") -> None:
    missing = [c for c in needed if c not in columns_of(source)]
    if missing:
        raise ValueError(f"{what} lack column(s) {missing}")


def _timestamp_dtype(source: Source, column: str = TIMESTAMP):
    """The datetime dtype results should carry: the DataFrame's own, else nanoseconds."""
    if isinstance(source, pd.DataFrame) and pd.api.types.is_datetime64_any_dtype(source[column]):
        return source[column].dtype
    return np.dtype("datetime64[ns]")


def _id_dtype(source: Source, column: str = CUSTOMER_ID):
    if isinstance(source, pd.DataFrame):
        return source[column].dtype
    return pd.StringDtype(na_value=np.nan)  # pandas' default text dtype ("str")


# ----------------------------------------------------------------------------- SQL text
# Placeholders in braces are filled from fixed fragments below, never from user input;
# timestamps are inlined as standard TIMESTAMP literals (sql_timestamp).

_SQL_TIME_RANGE = """
SELECT MAX(CAST("timestamp" AS TIMESTAMP)) AS last_time,
       COUNT(*) - COUNT("timestamp") AS missing_times,
       COUNT(*) AS n_rows
FROM src
"""

#: The order lines of a window as the queries below read them: ``lines`` (customer_id,
#: order_id, ts, amount) with known customers, before {end} (exclusive).
LINES_CTE = """lines AS (
    SELECT customer_id, order_id,
           CAST("timestamp" AS TIMESTAMP) AS ts,
           CAST(amount AS DOUBLE) AS amount
    FROM src
    WHERE customer_id IS NOT NULL AND CAST("timestamp" AS TIMESTAMP) < {end}
)"""

#: Per-customer summary (lclib.engine.summary.customer_summary) in one pass, for days, weeks and
#: orders alike. Ids are grouped in their source type and cast to text only in the
#: result (integer ids hash ~1.6x faster than text on 10M lines). A purchase period is
#: a (customer, {key}) group of lines, at {when}; {end} is the exclusive
#: end of the window. Each customer's first period is found by ``MIN_BY`` (DuckDB and
#: Spark SQL) over {rank} (see _RANKS), so the repeat spend is
#: ``total - first_spend`` without a second pass: see :func:`_repeat_means` for the
#: rounding guard that makes this as exact as averaging the repeats. {extra_*} add
#: the line-level columns (first/last purchase, orders, revenue) when asked for: they
#: double the work on millions of lines (orders needs a distinct count).
_SQL_CUSTOMER_SUMMARY = """
WITH {lines},
periods AS (
    SELECT customer_id, {key} AS period_key, {when} AS period_time,
           FSUM(amount) AS spend{extra_periods}
    FROM lines
    GROUP BY customer_id, {key}
),
by_customer AS (
    SELECT customer_id,
           COUNT(*) AS periods,
           MIN(period_time) AS first_time,
           MAX(period_time) AS last_time,
           FSUM(spend) AS total,
           MIN_BY(spend, {rank}) AS first_spend,
           FSUM(ABS(spend)) AS abs_total{extra_customer}
    FROM periods AS p
    GROUP BY customer_id
){extra_orders}
SELECT CAST(c.customer_id AS VARCHAR) AS customer_id, c.periods, c.first_time, c.last_time,
       c.total, c.first_spend, c.abs_total{extra_select}
FROM by_customer AS c{extra_join}
ORDER BY 1
"""

#: Each customer's mean spend per repeat period, by averaging the periods after the
#: first (which a join names): the reference form, used for the few customers where
#: ``total - first_spend`` could lose digits (:func:`_repeat_means`). {only} restricts
#: the lines to named customers (or is empty).
_SQL_REPEAT_MEANS = """
WITH {lines},
periods AS (
    SELECT customer_id, {key} AS period_key, {when} AS period_time, FSUM(amount) AS spend
    FROM lines{only}
    GROUP BY customer_id, {key}
),
{firsts}
SELECT CAST(p.customer_id AS VARCHAR) AS customer_id,
       FAVG(CASE WHEN p.period_key <> f.first_key THEN p.spend END) AS mean_repeat
FROM periods AS p JOIN firsts AS f ON p.customer_id = f.customer_id
GROUP BY p.customer_id
"""

#: count_by -> (period key, period time): a purchase period and when it happened (a
#: day is its own time: no aggregate needed).
_PERIODS = {
    "D": ("CAST(ts AS DATE)", "CAST(ts AS DATE)"),
    "W": ("date_trunc('week', ts)", "MIN(CAST(ts AS DATE))"),  # Monday weeks (pandas W-SUN)
    "order": ("order_id", "MIN(ts)"),
}

#: What orders a customer's periods in time: days and weeks by their key (keys sort as
#: their times); orders by time, then order id (a row value: DuckDB, Spark SQL).
_RANKS = {"D": "period_key", "W": "period_key", "order": "(period_time, period_key)"}

#: Each customer's first purchase period (its key). For days and weeks keys sort
#: as their times; orders are ranked by time, then by order id.
_FIRSTS = {
    "time_ordered_keys": """firsts AS (
    SELECT customer_id, MIN(period_key) AS first_key FROM periods GROUP BY customer_id
)""",
    "order": """first_times AS (
    SELECT customer_id, MIN(period_time) AS first_time FROM periods GROUP BY customer_id
),
firsts AS (
    SELECT p.customer_id, MIN(p.period_key) AS first_key
    FROM periods AS p JOIN first_times AS t
      ON p.customer_id = t.customer_id AND p.period_time = t.first_time
    GROUP BY p.customer_id
)""",
}

_EXTRAS = {
    "extra_periods": ",\n           MIN(ts) AS first_ts, MAX(ts) AS last_ts",
    "extra_customer": """,
           MIN(p.first_ts) AS first_purchase,
           MAX(p.last_ts) AS last_purchase""",
    "extra_orders": """,
orders AS (
    SELECT customer_id, COUNT(*) AS orders
    FROM (SELECT customer_id, order_id FROM lines GROUP BY customer_id, order_id) AS o
    GROUP BY customer_id
)
""",
    "extra_select": ",\n       c.first_purchase, c.last_purchase, o.orders",
    "extra_join": " JOIN orders AS o ON c.customer_id = o.customer_id",
}


def customer_summary_query(count_by: str, end, extras: bool = True) -> str:
    """The SQL text of :func:`customer_summary_sql`'s main query (for reading, or another engine)."""
    key, when = _PERIODS[count_by]
    fill = _EXTRAS if extras else dict.fromkeys(_EXTRAS, "")
    if not extras:
        fill = {**fill, "extra_orders": "\n"}
    return _SQL_CUSTOMER_SUMMARY.format(lines=LINES_CTE.format(end=sql_timestamp(end)), key=key, when=when,
                                        rank=_RANKS[count_by], **fill)


#: At most this many customers are re-averaged by name; more re-average everyone (one pass).
MAX_RECHECK_IDS = 1000


#: A standard SQL string literal (quotes doubled); one home with the loader's DuckDB statements.
_sql_text = sql_text


def repeat_means_query(count_by: str, end, ids: "Sequence[str] | None" = None) -> str:
    """SQL text of each customer's mean repeat-period spend by averaging the repeats.

    ``ids``: only these customers (ids as text, quoted as SQL literals: the list
    travels in the text, so it works on any source, a relation of another
    connection included); None: every customer.
    """
    key, when = _PERIODS[count_by]
    firsts = _FIRSTS["order" if count_by == "order" else "time_ordered_keys"]
    only = ("" if ids is None else
            f"\n    WHERE CAST(customer_id AS VARCHAR) IN ({', '.join(_sql_text(i) for i in ids)})")
    return _SQL_REPEAT_MEANS.format(lines=LINES_CTE.format(end=sql_timestamp(end)), key=key, when=when,
                                    firsts=firsts, only=only)


#: Relative rounding error allowed in ``(total - first_spend) / (periods - 1)``
#: before a customer's repeat mean is recomputed by averaging (see _repeat_means).
REPEAT_MEAN_RTOL = 1e-13


def _repeat_spend(agg: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(periods, total - first_spend) per customer of the main query's result, as floats."""
    n = agg["periods"].to_numpy(dtype="float64")
    return n, agg["total"].to_numpy(dtype="float64") - agg["first_spend"].to_numpy(dtype="float64")


def _needs_recheck(agg: pd.DataFrame) -> np.ndarray:
    """Customers whose ``total - first_spend`` may be off by more than REPEAT_MEAN_RTOL (relative)."""
    n, repeat = _repeat_spend(agg)
    bound = (n + 1) * (np.finfo(np.float64).eps / 2) * agg["abs_total"].to_numpy(dtype="float64")
    return (n > 1) & ~(bound <= REPEAT_MEAN_RTOL * np.abs(repeat))  # NaN bounds recheck too


def _repeat_means(agg: pd.DataFrame, source: Source, count_by: str, end,
                  con: "duckdb.DuckDBPyConnection") -> np.ndarray:
    """Mean spend per repeat period (NaN without repeats) from the main query's sums.

    ``total - first_spend`` is the repeat spend to within ``(n + 1) * u *
    abs_total`` (``n`` periods added in any order, one subtraction; ``u`` = 2**-53,
    ``abs_total`` the sum of the periods' absolute spends). Where that bound exceeds
    :data:`REPEAT_MEAN_RTOL` of the result, as when one large first purchase dwarfs
    small repeats or refunds cancel, those customers' repeats are averaged directly
    by a second query over their lines only (over everyone's when more than
    :data:`MAX_RECHECK_IDS` need it). So every mean is within 1e-13
    (relative) of the average of the repeat periods, as the pandas engine and
    lifetimes compute it; on shop data the second query rarely runs.
    """
    n, repeat = _repeat_spend(agg)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 1, repeat / (n - 1), np.nan)
    recheck = _needs_recheck(agg)
    if recheck.any():
        ids = agg["customer_id"].astype(str).to_numpy()[recheck]
        sql = repeat_means_query(count_by, end, ids if len(ids) <= MAX_RECHECK_IDS else None)
        exact = query(source, sql, con).set_index("customer_id")["mean_repeat"]
        exact.index = exact.index.astype(str)
        mean[recheck] = exact.reindex(ids).to_numpy(dtype="float64")
    return mean


#: Per-customer order aggregates as of a date (lclib.engine.rfm_table.rfm_table).
_SQL_ORDER_AGGREGATES = """
SELECT CAST(customer_id AS VARCHAR) AS customer_id,
       MIN(CAST("timestamp" AS TIMESTAMP)) AS first_purchase,
       MAX(CAST("timestamp" AS TIMESTAMP)) AS last_purchase,
       COUNT(DISTINCT order_id) AS orders,
       FSUM(CAST(amount AS DOUBLE)) AS revenue
FROM src
WHERE customer_id IS NOT NULL AND CAST("timestamp" AS TIMESTAMP) < {as_of}
GROUP BY customer_id
ORDER BY 1
"""

#: Monthly acquisition-cohort cells (lclib.engine.cohort_cells.cohort_cells): orders (lines
#: grouped by customer and order id, at their first line's time), each customer's
#: first order month, then customers and revenue per (cohort month, months since).
_SQL_COHORT_CELLS = """
WITH orders AS (
    SELECT customer_id,
           MIN(CAST("timestamp" AS TIMESTAMP)) AS ts,
           FSUM(CAST(amount AS DOUBLE)) AS amount
    FROM src
    WHERE customer_id IS NOT NULL AND "timestamp" IS NOT NULL
      AND CAST("timestamp" AS TIMESTAMP) < {as_of}
    GROUP BY customer_id, order_id
),
months AS (
    SELECT customer_id, amount,
           CAST(EXTRACT(YEAR FROM ts) AS BIGINT) * 12 + CAST(EXTRACT(MONTH FROM ts) AS BIGINT) - 1 AS month
    FROM orders
),
firsts AS (
    SELECT customer_id, MIN(month) AS cohort_n FROM months GROUP BY customer_id
)
SELECT f.cohort_n, m.month - f.cohort_n AS period,
       COUNT(DISTINCT m.customer_id) AS customers, FSUM(m.amount) AS revenue
FROM months AS m JOIN firsts AS f ON m.customer_id = f.customer_id
GROUP BY f.cohort_n, m.month - f.cohort_n
ORDER BY f.cohort_n, period
"""

#: First time of each event type per person (the heavy step of stage entries).
_SQL_FIRST_EVENT_TIMES = """
SELECT CAST({person} AS VARCHAR) AS person, CAST(event_type AS VARCHAR) AS event_type,
       MIN(CAST("timestamp" AS TIMESTAMP)) AS first_time
FROM src
WHERE {person} IS NOT NULL AND CAST("timestamp" AS TIMESTAMP) < {as_of}
GROUP BY CAST({person} AS VARCHAR), CAST(event_type AS VARCHAR)
"""


# ----------------------------------------------------------------------------- customer summary


def time_range(source: Source, con: "duckdb.DuckDBPyConnection | None" = None
               ) -> tuple[pd.Timestamp | None, int, int]:
    """(last timestamp, rows without a timestamp, rows) of a transactions source."""
    row = query(source, _SQL_TIME_RANGE, con).iloc[0]
    last = None if pd.isna(row["last_time"]) else pd.Timestamp(row["last_time"])
    return last, int(row["missing_times"]), int(row["n_rows"])


def customer_summary_sql(
    source: Source,
    observation_end=None,
    count_by: str = "D",
    time_unit: str = "W",
    monetary: str = "mean_repeat",
    extras: bool = True,
    con: "duckdb.DuckDBPyConnection | None" = None,
) -> pd.DataFrame:
    """:func:`lclib.engine.summary.customer_summary` computed by one SQL query.

    Parameters
    ----------
    source : DataFrame, Parquet/CSV path or DuckDB relation
        Order lines with ``customer_id``, ``order_id``, ``timestamp`` and
        ``amount`` (see the module docstring).
    observation_end, count_by, time_unit, monetary, extras
        As for :func:`lclib.engine.summary.customer_summary`.
    con : DuckDB connection, optional

    Returns
    -------
    DataFrame
        The contract of :func:`lclib.engine.summary.customer_summary`: index
        ``customer_id`` (sorted), ``frequency`` (int64), ``recency``, ``T``,
        ``monetary_value``, ``first_purchase``, ``last_purchase``, ``orders``
        (int64), ``revenue``; only the first four with ``extras=False``.

    Notes
    -----
    The SQL returns per customer the number of purchase periods, the first and
    last period times, the total and first-period spend and the line
    aggregates; ``recency`` and ``T`` are then computed in pandas with the same
    arithmetic as the pandas engine, so they are identical to it. The mean
    repeat spend is ``(total - first) / (periods - 1)``, recomputed by averaging
    the repeats for the customers where rounding could matter (see
    :func:`_repeat_means`).
    """
    _require(source, (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT))
    S._check_options(count_by, time_unit, monetary)
    con = connection_for(None) if con is None else con
    last, missing, n_rows = time_range(source, con)
    if missing:
        raise ValueError("transactions have missing timestamps")
    if n_rows == 0 or last is None:
        return S._empty_summary_of(_id_dtype(source), extras)
    end_day = (last if observation_end is None else pd.Timestamp(observation_end)).normalize()
    end = end_day + _DAY
    agg = _query_arrow(source, customer_summary_query(count_by, end, extras), con)
    if agg.empty:
        return S._empty_summary_of(_id_dtype(source), extras)

    first = pd.to_datetime(agg["first_time"])
    last_time = pd.to_datetime(agg["last_time"])
    if time_unit == "W_periods":  # the floor of the first period is the first floored period
        first, last_time = S._week_start(first), S._week_start(last_time)
    unit = pd.Timedelta(days=S.UNIT_DAYS[time_unit])
    periods = agg["periods"].to_numpy(dtype="int64")
    total = agg["total"].to_numpy(dtype="float64")
    if monetary == "mean_all":
        money = total / periods
    else:
        money = _repeat_means(agg, source, count_by, end, con)
    columns = {
        "frequency": periods - 1,
        "recency": ((last_time - first) / unit).to_numpy(),
        "T": ((S._end_time(end_day, count_by, time_unit) - first) / unit).to_numpy(),
        "monetary_value": np.where(np.isnan(money), 0.0, money),
    }
    if extras:
        ts_dtype = _timestamp_dtype(source)
        columns.update({
            "first_purchase": agg["first_purchase"].astype(ts_dtype).to_numpy(),
            "last_purchase": agg["last_purchase"].astype(ts_dtype).to_numpy(),
            "orders": agg["orders"].to_numpy(dtype="int64"),
            "revenue": total,
        })
    index = pd.Index(agg["customer_id"].astype(_id_dtype(source)), name=CUSTOMER_ID)
    return pd.DataFrame(columns, index=index)


# ----------------------------------------------------------------------------- RFM


def _default_as_of(source: Source, as_of, con=None) -> pd.Timestamp:
    """``as_of``, or midnight after the last transaction's day (as :func:`lclib.engine.contracts.resolve_as_of`)."""
    if as_of is None:
        last, _, _ = time_range(source, con)
        if last is None:
            raise ValueError("transactions have no timestamps; pass as_of explicitly")
        as_of = S.as_of_after(last)
    return pd.Timestamp(as_of)


def rfm_table_sql(source: Source, as_of=None, con: "duckdb.DuckDBPyConnection | None" = None) -> pd.DataFrame:
    """:func:`lclib.engine.rfm_table.rfm_table` (recency, frequency, monetary per customer) in SQL.

    Parameters
    ----------
    source : DataFrame, Parquet/CSV path or DuckDB relation
        Order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).
    as_of : date-like, optional
        Exclusive snapshot time; default midnight after the last transaction's day.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (sorted); ``recency_days`` (int64), ``frequency``
        (int64 distinct orders), ``monetary_total``, ``monetary_mean`` (float64),
        ``first_purchase``, ``last_purchase`` (datetime64), as
        :func:`lclib.engine.rfm_table.rfm_table`.
    """
    _require(source, (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT))
    as_of = _default_as_of(source, as_of, con)
    agg = query(source, _SQL_ORDER_AGGREGATES.format(as_of=sql_timestamp(as_of)), con)
    ts_dtype = _timestamp_dtype(source)
    last_purchase = agg["last_purchase"].astype(ts_dtype)
    revenue = agg["revenue"].to_numpy(dtype="float64")
    orders = agg["orders"].to_numpy(dtype="int64")
    with np.errstate(divide="ignore", invalid="ignore"):  # no order ids: as pandas divides, silently
        mean = revenue / orders
    out = pd.DataFrame(
        {
            S.RECENCY_DAYS: (as_of.normalize() - last_purchase.dt.normalize()).dt.days.to_numpy(dtype="int64"),
            S.FREQUENCY: orders,
            S.MONETARY_TOTAL: revenue,
            S.MONETARY_MEAN: mean,
            S.FIRST_PURCHASE: agg["first_purchase"].astype(ts_dtype).to_numpy(),
            S.LAST_PURCHASE: last_purchase.to_numpy(),
        },
        index=pd.Index(agg["customer_id"].astype(_id_dtype(source)), name=CUSTOMER_ID),
    )
    return out[list(S.RFM_COLUMNS)]


# ----------------------------------------------------------------------------- cohorts


def cohort_cells_sql(source: Source, as_of=None, con: "duckdb.DuckDBPyConnection | None" = None) -> pd.DataFrame:
    """:func:`lclib.engine.cohort_cells.cohort_cells` (monthly acquisition cohorts) in SQL.

    Parameters
    ----------
    source : DataFrame, Parquet/CSV path or DuckDB relation
        Order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).
    as_of : date-like, optional
        Exclusive end of the data (default: midnight after the last transaction).

    Returns
    -------
    DataFrame
        The full triangle, one row per (cohort, period), with ``cohort``
        (Period[M]), ``period``, ``cohort_size``, ``cohort_revenue0``,
        ``customers``, ``revenue`` and ``observable``, as
        :func:`lclib.engine.cohort_cells.cohort_cells`.
    """
    _require(source, (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT))
    as_of = _default_as_of(source, as_of, con)
    cells = query(source, _SQL_COHORT_CELLS.format(as_of=sql_timestamp(as_of)), con)
    if cells.empty:
        return S.empty_cohort_cells()
    cells = cells.astype({"cohort_n": "int64", "period": "int64", "customers": "int64", "revenue": "float64"})
    # every customer buys in month 0 of their own cohort: its customers are the cohort
    sizes = cells.loc[cells["period"] == 0].set_index("cohort_n")["customers"]
    return S.complete_triangle(cells, sizes.astype("int64"), as_of)


# ----------------------------------------------------------------------------- events


def first_event_times_sql(source: Source, as_of=None, person: str = ANONYMOUS_ID,
                          con: "duckdb.DuckDBPyConnection | None" = None) -> pd.DataFrame:
    """First time of each event type per person: the big reduction behind stage entries.

    Parameters
    ----------
    source : DataFrame, Parquet/CSV path or DuckDB relation
        Events with ``person`` (default ``anonymous_id``), ``event_type`` and ``timestamp``.
    as_of : date-like, optional
        Exclusive end (default: no limit).
    person : column identifying a person (``anonymous_id`` or ``customer_id``).

    Returns
    -------
    DataFrame
        Wide: index ``person`` (sorted), one datetime64 column per event type
        (sorted by name; NaT = never), at most persons x event types cells.
    """
    if person not in (ANONYMOUS_ID, CUSTOMER_ID):
        raise ValueError(f"person must be {ANONYMOUS_ID!r} or {CUSTOMER_ID!r}, got {person!r}")
    _require(source, (person, EVENT_TYPE, TIMESTAMP), "events")
    end = sql_timestamp(pd.Timestamp.max.floor("D")) if as_of is None else sql_timestamp(as_of)
    long = query(source, _SQL_FIRST_EVENT_TIMES.format(person=person, as_of=end), con)
    wide = long.pivot(index="person", columns="event_type", values="first_time").sort_index()
    wide.columns.name = None
    return wide.astype(_timestamp_dtype(source)) if len(wide.columns) else wide


# ----------------------------------------------------------------------------- overview

#: Orders, buying customers, revenue and new customers per calendar month
#: (lclib.analysis.overview.monthly_activity); months as (year * 12 + month - 1).
_SQL_MONTHLY_ACTIVITY = """
WITH lines AS (
    SELECT customer_id, order_id, CAST(amount AS DOUBLE) AS amount,
           year(CAST("timestamp" AS TIMESTAMP)) * 12 + month(CAST("timestamp" AS TIMESTAMP)) - 1 AS month_n
    FROM src
    WHERE "timestamp" IS NOT NULL{before}
),
firsts AS (
    SELECT MIN(month_n) AS month_n FROM lines WHERE customer_id IS NOT NULL GROUP BY customer_id
),
new AS (
    SELECT month_n, COUNT(*) AS new_customers FROM firsts GROUP BY month_n
),
months AS (
    SELECT month_n, COUNT(DISTINCT order_id) AS orders, COUNT(DISTINCT customer_id) AS customers,
           FSUM(amount) AS revenue
    FROM lines GROUP BY month_n
)
SELECT m.month_n, m.orders, m.customers, COALESCE(n.new_customers, 0) AS new_customers, m.revenue
FROM months AS m LEFT JOIN new AS n ON m.month_n = n.month_n
ORDER BY m.month_n
"""

#: Whole-table counts (lclib.analysis.overview.headline_counts).
_SQL_HEADLINE_COUNTS = """
WITH kept AS (
    SELECT * FROM src{where}
),
per_customer AS (
    SELECT COUNT(DISTINCT order_id) AS orders FROM kept WHERE customer_id IS NOT NULL GROUP BY customer_id
),
totals AS (
    SELECT COUNT(DISTINCT order_id) AS orders, {order_lines} AS order_lines,
           FSUM(CAST(amount AS DOUBLE)) AS revenue,
           MIN(CAST("timestamp" AS TIMESTAMP)) AS first_time, MAX(CAST("timestamp" AS TIMESTAMP)) AS last_time
    FROM kept
)
SELECT (SELECT COUNT(*) FROM per_customer) AS customers,
       (SELECT COUNT(*) FILTER (WHERE orders > 1) FROM per_customer) AS repeat_customers,
       t.orders, t.order_lines, t.revenue, t.first_time, t.last_time
FROM totals AS t
"""


def monthly_activity_sql(source: Source, con: "duckdb.DuckDBPyConnection | None" = None, end=None) -> pd.DataFrame:
    """Per calendar month: orders, customers, new_customers, revenue (:func:`lclib.analysis.overview.monthly_activity`).

    ``end``: exclusive end (lines at or after it are left out); None: every line.

    Returns
    -------
    DataFrame indexed by ``month`` (Period[M]) with months that have purchases only,
    columns orders, customers, new_customers (int64) and revenue (float64).
    """
    _require(source, (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT))
    before = "" if end is None else f' AND CAST("timestamp" AS TIMESTAMP) < {sql_timestamp(end)}'
    got = query(source, _SQL_MONTHLY_ACTIVITY.format(before=before), con)
    index = pd.PeriodIndex.from_ordinals(
        (got["month_n"].to_numpy(dtype="int64") - 1970 * 12), freq="M").rename("month")
    out = got.drop(columns="month_n").astype(
        {"orders": "int64", "customers": "int64", "new_customers": "int64", "revenue": "float64"})
    out.index = index
    return out


def headline_counts_sql(source: Source, con: "duckdb.DuckDBPyConnection | None" = None, end=None) -> dict:
    """Customers, repeat customers, orders, order lines, revenue, first and last time in one query.

    ``order_lines`` counts cleaned lines: rows, or the sum of ``lines`` in a run's compacted table.
    ``end``: exclusive end (lines at or after it are left out); None: every line.
    """
    _require(source, (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT))
    # a run's compacted table: a row stands for its ``lines`` cleaned order lines
    lines = "CAST(SUM(lines) AS BIGINT)" if LINES in columns_of(source) else "COUNT(*)"
    where = "" if end is None else f' WHERE CAST("timestamp" AS TIMESTAMP) < {sql_timestamp(end)}'
    row = query(source, _SQL_HEADLINE_COUNTS.format(order_lines=lines, where=where), con).iloc[0]
    return {k: row[k] for k in row.index}
