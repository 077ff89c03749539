"""A plain DataFrame with the user's own column names made into one of lclib's canonical tables.

Every analysis function reads canonical column names (:mod:`lclib.io.columns`).
:func:`canonical` is the one mapping argument for data that did not come through
:func:`lclib.io.load_dataset`: it renames, checks that the needed columns are there,
makes ids text, and turns time-zone-aware timestamps into the naive wall time of one
zone (the same rule as ``analysis.timezone`` for files).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from lclib.io import columns as C

#: Id columns made text (an id is a label, never a number to add).
_ID_COLUMNS = (C.CUSTOMER_ID, C.ANONYMOUS_ID, C.ORDER_ID, C.REFERRER_ID, C.REFERRED_ID)


def canonical(frame: pd.DataFrame, columns: Mapping[str, str] | None = None, *, table: str = "transactions",
              timezone: str | None = None, **names: str) -> pd.DataFrame:
    """``frame`` with lclib's column names, text ids and naive timestamps.

    Parameters
    ----------
    frame : DataFrame
        The user's table (order lines, events, ...), any column names.
    columns : mapping, optional
        Canonical name -> the frame's column name, as ``inputs.<table>.columns`` in
        lclib.yaml (``{"customer_id": "CustomerID", ...}``). Keyword arguments
        (``customer_id="CustomerID"``) do the same and win. Columns that already
        carry a canonical name need no entry.
    table : str
        Which canonical table the frame is (default ``"transactions"``): its
        required columns are checked. For transactions, ``amount`` may be made
        from ``quantity`` x ``unit_price``; without ``order_id`` each customer's
        lines at one timestamp form one order (as the loader does).
    timezone : str, optional
        Time-zone-aware timestamps are converted to this zone and made naive
        (default: UTC for aware values; naive values are kept as they are).

    Returns
    -------
    DataFrame
        A copy with canonical names (other columns kept), ids as text, date columns
        as naive datetime64.

    Raises
    ------
    ValueError
        Naming a mapped column the frame lacks, or a required canonical column missing.

    Examples
    --------
    >>> raw = pd.DataFrame({"Client": [17850, 17850], "Invoice": ["A1", "A2"],
    ...                     "When": pd.to_datetime(["2024-01-02 10:00", "2024-03-01 09:00"]).tz_localize("Europe/Paris"),
    ...                     "Total": [10.5, 20.0]})
    >>> canonical(raw, customer_id="Client", order_id="Invoice", timestamp="When", amount="Total",
    ...           timezone="Europe/Paris")
      customer_id order_id           timestamp  amount
    0       17850       A1 2024-01-02 10:00:00    10.5
    1       17850       A2 2024-03-01 09:00:00    20.0
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"frame must be a DataFrame, got {type(frame).__name__}")
    if table not in C.TABLES:
        raise ValueError(f"table must be one of {sorted(C.TABLES)}, got {table!r}")
    mapping = {**dict(columns or {}), **names}
    required, optional = C.TABLES[table]
    unknown = [k for k in mapping if k not in (*required, *optional)]
    if unknown:
        raise ValueError(f"{unknown} are not canonical {table} columns; choose from {[*required, *optional]}")
    absent = {k: v for k, v in mapping.items() if v not in frame.columns}
    if absent:
        raise ValueError(f"the frame has no column(s) {sorted(absent.values())} (mapped to {sorted(absent)}); "
                         f"it has {list(frame.columns)}")
    out = frame.rename(columns={v: k for k, v in mapping.items()})
    if table == "transactions":
        if C.AMOUNT not in out and C.QUANTITY in out and C.UNIT_PRICE in out:
            out[C.AMOUNT] = pd.to_numeric(out[C.QUANTITY]) * pd.to_numeric(out[C.UNIT_PRICE])
    for col in C.DATE_COLUMNS:
        if col in out:
            out[col] = _naive(out[col], timezone, col)
    for col in _ID_COLUMNS:
        if col in out:
            out[col] = _text_ids(out[col])
    if table == "transactions" and C.ORDER_ID not in out and C.CUSTOMER_ID in out and C.TIMESTAMP in out:
        out[C.ORDER_ID] = out[C.CUSTOMER_ID].astype(str) + "@" + out[C.TIMESTAMP].astype(str)
    needed = [c for c in required if c not in out] + (
        [] if table != "transactions" or C.AMOUNT in out else [C.AMOUNT])
    if table == "transactions" and C.ORDER_ID not in needed and C.ORDER_ID not in out:
        needed.append(C.ORDER_ID)
    if needed:
        raise ValueError(f"{table} needs column(s) {needed}: map them, e.g. canonical(df, {needed[0]}='YourColumn')")
    return out


def _naive(values: pd.Series, timezone: str | None, name: str) -> pd.Series:
    """Datetime64 without a zone: aware values converted to ``timezone`` (UTC by default) first."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        try:
            values = pd.to_datetime(values, format="mixed")
        except (ValueError, TypeError) as err:
            raise ValueError(f"column {name!r} cannot be read as dates: {err}") from None
    tz = getattr(values.dtype, "tz", None)
    if tz is not None:
        values = values.dt.tz_convert(timezone or "UTC").dt.tz_localize(None)
    return values


def _text_ids(values: pd.Series) -> pd.Series:
    """Ids as text; whole floats (17850.0, as pandas reads an id column with gaps) lose their ``.0``."""
    if pd.api.types.is_float_dtype(values):
        whole = values.notna() & np.isfinite(values) & (values == np.floor(values))
        if whole[values.notna()].all():
            return values.astype("Int64").astype("str")
    if pd.api.types.is_string_dtype(values) and not pd.api.types.is_object_dtype(values):
        return values
    return values.astype("str").where(values.notna(), np.nan)
