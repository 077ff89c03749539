"""Definitions shared by the SQL and the pandas implementations of the heavy aggregations.

Output columns, units, the end of the observation window, the analysis date and the
cohort-triangle completion, each written once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from lclib.io.columns import AMOUNT, CUSTOMER_ID, ORDER_ID, TIMESTAMP

_DAY = pd.Timedelta(days=1)


#: Length of one time unit in days.
UNIT_DAYS: dict[str, float] = {"D": 1.0, "W": 7.0, "W_periods": 7.0}


SUMMARY_COLUMNS = (
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "first_purchase",
    "last_purchase",
    "orders",
    "revenue",
)


#: The model inputs: what ``extras=False`` returns.
MODEL_COLUMNS = ("frequency", "recency", "T", "monetary_value")


def _check(transactions: pd.DataFrame, count_by: str, time_unit: str, monetary: str) -> None:
    missing = [c for c in (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT) if c not in transactions]
    if missing:
        raise ValueError(f"transactions lack column(s) {missing}")
    _check_options(count_by, time_unit, monetary)


def _check_options(count_by: str, time_unit: str, monetary: str) -> None:
    if count_by not in ("D", "W", "order"):
        raise ValueError(f"count_by must be 'D', 'W' or 'order', got {count_by!r}")
    if time_unit not in UNIT_DAYS:
        raise ValueError(f"time_unit must be one of {sorted(UNIT_DAYS)}, got {time_unit!r}")
    if monetary not in ("mean_repeat", "mean_all"):
        raise ValueError(f"monetary must be 'mean_repeat' or 'mean_all', got {monetary!r}")


def _week_start(t: pd.Series | pd.Timestamp):
    """Monday 00:00 of the calendar week (pandas ``W-SUN`` periods, as lifetimes)."""
    if isinstance(t, pd.Series):
        return t.dt.to_period("W").dt.start_time
    return t.to_period("W").start_time


def _end_day(timestamps: pd.Series, observation_end) -> pd.Timestamp:
    """Last calendar day of the window (midnight), defaulting to the last purchase day."""
    end = timestamps.max() if observation_end is None else pd.Timestamp(observation_end)
    return end.normalize()


def _end_time(end_day: pd.Timestamp, count_by: str, time_unit: str) -> pd.Timestamp:
    """The instant ``T`` is measured to (see the module docstring)."""
    if time_unit == "W_periods":
        return _week_start(end_day)
    return end_day + _DAY if count_by == "order" else end_day


def _empty_summary(transactions: pd.DataFrame, extras: bool = True) -> pd.DataFrame:
    return _empty_summary_of(transactions[CUSTOMER_ID].dtype, extras)


def _empty_summary_of(id_dtype, extras: bool = True) -> pd.DataFrame:
    """The summary of no customers, with the contract's dtypes."""
    out = pd.DataFrame(
        {
            "frequency": pd.Series(dtype="int64"),
            "recency": pd.Series(dtype="float64"),
            "T": pd.Series(dtype="float64"),
            "monetary_value": pd.Series(dtype="float64"),
            "first_purchase": pd.Series(dtype="datetime64[ns]"),
            "last_purchase": pd.Series(dtype="datetime64[ns]"),
            "orders": pd.Series(dtype="int64"),
            "revenue": pd.Series(dtype="float64"),
        },
        index=pd.Index([], dtype=id_dtype, name=CUSTOMER_ID),
    )
    return out if extras else out[list(MODEL_COLUMNS)]


def as_of_after(last_timestamp) -> pd.Timestamp:
    """The default analysis date: midnight after the day of the last timestamp (the one rule).

    Examples
    --------
    >>> as_of_after("2025-12-31 23:59:59")
    Timestamp('2026-01-01 00:00:00')
    """
    return pd.Timestamp(last_timestamp).normalize() + _DAY


def resolve_as_of(transactions: "pd.DataFrame | str | Path", as_of=None) -> pd.Timestamp:
    """The analysis date: ``as_of`` if given, else midnight after the last transaction.

    Parameters
    ----------
    transactions : DataFrame with a datetime64 ``timestamp``, or the path of such a
        Parquet file (``Dataset.source``: its last time is read batch by batch, out of core).
    as_of : date-like or None (``analysis.as_of`` of the configuration).

    Returns
    -------
    Timestamp
        Exclusive end of the data: transactions with ``timestamp < as_of`` count.
    """
    if as_of is not None:
        return pd.Timestamp(as_of)
    if isinstance(transactions, (str, Path)):  # a Parquet file: its last time, batch by batch
        last = _last_time(Path(transactions))
        if last is None:
            raise ValueError(f"{transactions}: no timestamps; pass as_of explicitly")
        return as_of_after(last)
    if TIMESTAMP not in transactions or transactions[TIMESTAMP].isna().all():
        raise ValueError("transactions have no timestamps; pass as_of explicitly")
    return as_of_after(transactions[TIMESTAMP].max())


def _last_time(path: Path) -> pd.Timestamp | None:
    """The latest ``timestamp`` of a Parquet file, read one batch at a time (None: none there)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    last = None
    for batch in pq.ParquetFile(path).iter_batches(columns=[TIMESTAMP], batch_size=1 << 20):
        top = pc.max(batch.column(0)).as_py()
        if top is not None and (last is None or top > last):
            last = top
    return None if last is None else pd.Timestamp(last)


def _month_number(ts: pd.Series) -> pd.Series:
    """Months since year 0 (year * 12 + month - 1) of each timestamp."""
    return ts.dt.year.astype("int64") * 12 + ts.dt.month.astype("int64") - 1


def _month_start(number: np.ndarray | pd.Series) -> pd.DatetimeIndex:
    number = np.asarray(number, dtype="int64")
    return pd.to_datetime(pd.DataFrame({"year": number // 12, "month": number % 12 + 1, "day": 1}))


def empty_cohort_cells() -> pd.DataFrame:
    """The :func:`cohort_cells` contract with no rows."""
    return pd.DataFrame({"cohort": pd.PeriodIndex([], freq="M"), "period": [], "cohort_size": [],
                         "cohort_revenue0": [], "customers": [], "revenue": [], "observable": []})


def complete_triangle(cells: pd.DataFrame, sizes: pd.Series, as_of: pd.Timestamp) -> pd.DataFrame:
    """Complete aggregated cohort cells into the full triangle of :func:`cohort_cells`.

    Parameters
    ----------
    cells : columns ``cohort_n`` (month number of the cohort), ``period``, ``customers``,
        ``revenue``; only the cells where somebody bought.
    sizes : customers per cohort, indexed by ``cohort_n``.
    as_of : exclusive end of the data.
    """
    last_month = int(_month_number(pd.Series([as_of - pd.Timedelta(microseconds=1)])).iloc[0])
    cohorts = np.sort(sizes.index.to_numpy(dtype="int64"))
    # full triangle: cohort c has periods 0 .. last_month - c
    span = last_month - cohorts + 1
    grid = pd.DataFrame({
        "cohort_n": np.repeat(cohorts, span),
        "period": np.concatenate([np.arange(s) for s in span]) if len(span) else np.array([], dtype=int),
    })
    out = grid.merge(cells, on=["cohort_n", "period"], how="left")
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64")
    out["cohort_size"] = out["cohort_n"].map(sizes).astype("int64")
    out["cohort_revenue0"] = out["cohort_n"].map(out.loc[out["period"] == 0].set_index("cohort_n")["revenue"])
    month_end = _month_start(out["cohort_n"] + out["period"] + 1)
    out["observable"] = np.asarray(month_end <= as_of)
    out["cohort"] = pd.PeriodIndex(_month_start(out["cohort_n"]), freq="M")
    return out[["cohort", "period", "cohort_size", "cohort_revenue0", "customers", "revenue", "observable"]]


# Columns produced by this module.
RECENCY_DAYS = "recency_days"


FREQUENCY = "frequency"


MONETARY_TOTAL = "monetary_total"


MONETARY_MEAN = "monetary_mean"


FIRST_PURCHASE = "first_purchase"


LAST_PURCHASE = "last_purchase"


RFM_COLUMNS = (
    RECENCY_DAYS,
    FREQUENCY,
    MONETARY_TOTAL,
    MONETARY_MEAN,
    FIRST_PURCHASE,
    LAST_PURCHASE,
)


def _timestamp_like(value: str | pd.Timestamp, reference: pd.Series) -> pd.Timestamp:
    """``value`` as a Timestamp in the time zone of ``reference`` (if any)."""
    stamp = pd.Timestamp(value)
    tz = getattr(reference.dtype, "tz", None)
    if tz is not None and stamp.tzinfo is None:
        stamp = stamp.tz_localize(tz)
    return stamp
