"""The Spark backend: the engine's SQL, written once for DuckDB, run on a SparkSession.

Every heavy aggregation of :mod:`lclib.engine.sql` is one SQL text in DuckDB's
dialect. :func:`to_spark_sql` transpiles it with sqlglot (quoted identifiers to
backticks, ``VARCHAR`` to ``STRING``, ``TIMESTAMP '...'`` literals to
``TIMESTAMP_NTZ``, ``date_trunc('week', ...)`` stays a Monday week) and
:class:`SparkBackend` runs it against a temporary view named ``src``. The small
result (one row per customer or per cell) comes back through Arrow, and the same
pandas post-processing as on DuckDB makes the output contract identical: counts,
dates and times exactly, money to floating-point rounding (Spark adds in another
order).

Why SQL + sqlglot and not Ibis: the queries already exist as plain SQL tested
against the pandas references; transpiling them keeps one text per aggregation
(no second formulation to keep in step), sqlglot is a pure-Python dependency,
and the text a user reads in the code is the text every engine runs.

Sources
-------
A pandas DataFrame (sent to Spark through Arrow, kept for the next query on the
same frame), a Spark DataFrame (used as it is: a table of a cluster or a
lakehouse), or a path: ``.parquet``/``.pq`` or a folder of Parquet files,
``delta:/path/to/table`` for a Delta table (needs the delta-spark package on the
session), any other path CSV with a header row. On a cluster, a Parquet file on the
driver's own disk (the run's cache) is read by the driver and sent to Spark: the executors
cannot open it (:meth:`SparkBackend._parquet`).

Session
-------
:func:`session` reuses the active SparkSession when there is one (a Databricks
notebook, a cluster job) and otherwise starts a local one on ``spark.master``
(``local[*]``), with the session time zone UTC so that naive timestamps round-trip
unchanged. Point at a cluster with ``spark.master: spark://host:7077`` (or
``yarn``) and add settings under ``spark.conf`` in lclib.yaml.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
import warnings
import weakref
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

#: Settings of a session lclib starts itself (a session that already runs keeps its own).
SESSION_DEFAULTS: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",  # naive timestamps come back as they went in
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",  # no progress bars in reports and logs
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.memory": "4g",
}

#: Name of the temporary view the SQL texts read.
SOURCE = "src"


def available() -> bool:
    """True when pyspark is installed."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return False
    return True


def _quiet_imports():
    """pyspark (and sqlglot, which probes for it) warn about pandas 3 when their modules load:
    noise for report readers (lclib's own tests check the results). Returns an entered
    ``warnings.catch_warnings`` context; the caller exits it."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
    return ctx


def _quietly(method):
    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        ctx = _quiet_imports()
        try:
            return method(*args, **kwargs)
        finally:
            ctx.__exit__(None, None, None)
    return wrapper


#: DuckDB's compensated sums and means (the engine's money aggregates, see "Exactness" in
#: :mod:`lclib.engine.sql`) and the Spark aggregate each becomes: Spark has no compensated
#: sum, and its partial sums are combined in no fixed order anyway.
_PLAIN_AGGREGATES = {"FSUM": "SUM", "FAVG": "AVG"}


@functools.lru_cache(maxsize=256)
def to_spark_sql(sql: str) -> str:
    """``sql`` (DuckDB's dialect, as written in :mod:`lclib.engine.sql`) in Spark SQL.

    ``FSUM`` and ``FAVG`` (DuckDB's compensated sum and mean) become ``SUM`` and ``AVG``.

    Examples
    --------
    >>> to_spark_sql('SELECT CAST("timestamp" AS VARCHAR) AS t FROM src')
    'SELECT CAST(`timestamp` AS STRING) AS t FROM src'
    >>> to_spark_sql('SELECT customer_id, FSUM(amount) AS revenue FROM src GROUP BY customer_id')
    'SELECT customer_id, SUM(amount) AS revenue FROM src GROUP BY customer_id'
    """
    ctx = _quiet_imports()
    try:
        import sqlglot
        from sqlglot import exp
    finally:
        ctx.__exit__(None, None, None)

    def plain(node):
        if isinstance(node, exp.Anonymous) and node.name.upper() in _PLAIN_AGGREGATES:
            return exp.func(_PLAIN_AGGREGATES[node.name.upper()], *node.expressions, dialect="spark")
        return node

    return sqlglot.parse_one(sql, read="duckdb").transform(plain).sql(dialect="spark")


def session(master: str | None = None, conf: Mapping[str, Any] | None = None, app_name: str = "lclib"):
    """The active SparkSession, or a new one on ``master`` (default ``local[*]``).

    Parameters
    ----------
    master : Spark master URL (``local[*]``, ``local[2]``, ``spark://host:7077``,
        ``yarn``...); ignored when a session is already active.
    conf : extra Spark settings (``{"spark.executor.memory": "8g"}``), on top of
        :data:`SESSION_DEFAULTS`. In local mode the executors' Python is this interpreter
        (``spark.pyspark.python``) unless ``conf`` or ``PYSPARK_PYTHON`` says otherwise; on a
        cluster it is the cluster's, which needs lclib installed for :func:`lclib.analysis.clv.score_spark`.
    """
    if not available():
        raise ValueError("analysis.engine 'spark' needs the pyspark package: pip install pyspark")
    ctx = _quiet_imports()
    try:
        from pyspark.sql import SparkSession
    finally:
        ctx.__exit__(None, None, None)
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    master = master or "local[*]"
    builder = SparkSession.builder.master(master).appName(app_name)
    settings = {**SESSION_DEFAULTS, **dict(conf or {})}
    if master.startswith("local") and "spark.pyspark.python" not in settings and not os.environ.get("PYSPARK_PYTHON"):
        # Python code on the executors (mapInPandas scoring) runs in this interpreter, with lclib and its
        # packages, not in whatever "python3" is first on the PATH (PySpark reads the variable when the
        # context starts; the setting alone is not used for local workers)
        settings["spark.pyspark.python"] = sys.executable
        os.environ["PYSPARK_PYTHON"] = sys.executable
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    with _jvm_stderr_to(log_path()):
        spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def log_path() -> Path:
    """Where the local Spark JVM writes its own messages (start-up notes, warnings).

    The JVM inherits the Python process's standard error; in a notebook kernel that
    would put Java log lines into the published report. ``$TMPDIR/lclib-spark-<pid>.log``
    instead; errors still reach Python as exceptions.
    """
    import os
    import tempfile

    return Path(tempfile.gettempdir()) / f"lclib-spark-{os.getpid()}.log"


@contextlib.contextmanager
def _jvm_stderr_to(path: Path):
    """Point file descriptor 2 at ``path`` while the JVM starts (it keeps that descriptor)."""
    import os
    import sys

    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):  # pragma: no cover - closed or replaced stderr
        pass
    saved = os.dup(2)
    log = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.dup2(log, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(log)


class SparkBackend:
    """Runs the engine's SQL texts on Spark; see the module docstring.

    Parameters
    ----------
    spark : SparkSession, optional
        Default: :func:`session` with ``master`` and ``conf``.
    master, conf : as for :func:`session` (used only to start a session).
    """

    def __init__(self, spark=None, master: str | None = None, conf: Mapping[str, Any] | None = None):
        self._spark = spark
        self.master = master
        self.conf = dict(conf or {})
        self._kept: tuple | None = None  # (weakref to the pandas frame, its Spark DataFrame)

    @property
    def spark(self):
        if self._spark is None:
            self._spark = session(self.master, self.conf)
        return self._spark

    @_quietly
    def frame(self, source):
        """A Spark DataFrame over ``source`` (see the module docstring)."""
        if hasattr(source, "sparkSession") and hasattr(source, "createOrReplaceTempView"):
            return source
        if isinstance(source, pd.DataFrame):
            kept = self._kept
            if kept is not None and kept[0]() is source and kept[2] == source.shape:
                return kept[1]
            import pyarrow as pa

            table = pa.Table.from_pandas(source, preserve_index=False)
            sdf = self.spark.createDataFrame(table)
            self._kept = (weakref.ref(source), sdf, source.shape)
            return sdf
        if isinstance(source, (str, Path)):
            path = str(source)
            if path.startswith("delta:"):
                return self.spark.read.format("delta").load(path[len("delta:"):])
            if path.lower().endswith((".parquet", ".pq")) or (Path(path).is_dir()):
                return self._parquet(path)
            if not any(ch in path for ch in "*?[") and not Path(path).is_file():
                raise ValueError(f"{path}: file not found")
            # ids stay text: no schema inference (types are cast in the SQL)
            return self.spark.read.option("header", True).option("inferSchema", False).csv(path)
        raise ValueError(f"source must be a DataFrame, a path or a Spark DataFrame, got {type(source).__name__}")

    def _master(self) -> str:
        """The session's master URL ("" for a Spark Connect session: its server is elsewhere)."""
        try:
            return str(self.spark.sparkContext.master)
        except Exception:  # noqa: BLE001 - Spark Connect sessions have no SparkContext
            return ""

    def _parquet(self, path: str):
        """A Parquet file or folder; timestamps in nanoseconds (pandas' and the run cache's unit,
        which Spark refuses: ``PARQUET_TYPE_ILLEGAL``) are read as integers and rounded to
        microseconds as DuckDB's ``CAST(... AS TIMESTAMP)`` rounds them (half away from zero).

        On a cluster (a master that is not ``local``), a path without a URI scheme that exists on
        this machine (the run's cache) is on the driver's disk, which the executors cannot open:
        it is read here with pyarrow and handed to Spark as a DataFrame is. Shared storage
        (``s3://``, ``dbfs:/``, ``hdfs://``...) is read by Spark itself."""
        if not self._master().startswith("local") and not _URI.match(path) and Path(path).exists():
            import pyarrow.parquet as pq

            return self.spark.createDataFrame(pq.read_table(path))
        nanos = _nanosecond_columns(path)
        if not nanos:
            return self.spark.read.parquet(path)
        # a read setting: it only changes files Spark would otherwise refuse to read
        self.spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")
        from pyspark.sql import functions as F

        def micros(name: str) -> str:
            c = "`" + name.replace("`", "``") + "`"
            return (f"timestampadd(MICROSECOND, CASE WHEN {c} >= 0 THEN ({c} + 500) div 1000 "
                    f"ELSE ({c} - 500) div 1000 END, TIMESTAMP_NTZ'1970-01-01 00:00:00')")

        return self.spark.read.parquet(path).withColumns({name: F.expr(micros(name)) for name in nanos})

    def columns(self, source) -> list[str]:
        """Column names of ``source`` (no rows read)."""
        if isinstance(source, pd.DataFrame):
            return list(source.columns)
        return list(self.frame(source).columns)

    @_quietly
    def query(self, source, sql: str) -> pd.DataFrame:
        """Run ``sql`` (DuckDB dialect, reading ``src``) over ``source`` on Spark; a pandas frame back."""
        self.frame(source).createOrReplaceTempView(SOURCE)
        table = self.spark.sql(to_spark_sql(sql)).toArrow()
        return table.to_pandas(date_as_object=False)


#: A path that names its storage (``s3://bucket/...``, ``dbfs:/...``, ``file:/...``).
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:/")


def _nanosecond_columns(path: str) -> list[str]:
    """Columns of a local Parquet file or folder stored as nanosecond timestamps (from the footer;
    a path the driver cannot open, e.g. on a cluster's storage, is left to Spark)."""
    import pyarrow as pa
    import pyarrow.dataset as ds

    try:
        schema = ds.dataset(path, format="parquet").schema
    except (OSError, ValueError, pa.ArrowException):
        return []
    return [f.name for f in schema if pa.types.is_timestamp(f.type) and f.type.unit == "ns"]


_DEFAULT: SparkBackend | None = None
_SETTINGS: dict = {}


def configure(master: str | None = None, conf: Mapping[str, Any] | None = None) -> None:
    """Set the master and settings of the backend :func:`backend` returns (from lclib.yaml ``spark``)."""
    global _DEFAULT
    new = {"master": master, "conf": dict(conf or {})}
    if new != _SETTINGS:
        _SETTINGS.clear()
        _SETTINGS.update(new)
        _DEFAULT = None


def backend() -> SparkBackend:
    """The process's Spark backend (one session per process: starting one costs seconds)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = SparkBackend(master=_SETTINGS.get("master"), conf=_SETTINGS.get("conf"))
    return _DEFAULT
