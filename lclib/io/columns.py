"""Canonical table and column names: the one place they are defined.

Every analysis module reads and writes these names. The loader (:mod:`lclib.io`)
maps a user's own column names onto them using ``lclib.yaml``.

Tables
------
transactions (required)
    One row per order line. ``customer_id`` (str), ``order_id`` (str; when the
    input has no order id, one order per customer and timestamp:
    ``<customer_id>@<timestamp>``), ``timestamp`` (datetime64), ``amount`` (float,
    line total in the report currency; derived as ``quantity * unit_price`` when
    not given), optional ``quantity``, ``unit_price``, ``channel``, ``product``.
    With ``clean.cancellations: net`` (the default) cancellations are netted from
    the purchase lines they reverse: ``amount`` (and ``quantity``) are then net of
    refunds and the derived column ``refunded_amount`` (float, >= 0, never
    missing) holds the amount netted from each line (0 on lines nothing was
    refunded from), so a line's gross amount is ``amount + refunded_amount``.
    Orders refunded in full are not in the table (the ledger counts them). With
    ``drop`` or ``keep`` the column is absent. It is computed, never mapped.
events (optional)
    One row per touchpoint. ``anonymous_id`` and/or ``customer_id`` (str; at
    least one per row), ``timestamp``, ``event_type`` (str), optional
    ``channel``, ``campaign``.
customers (optional)
    One row per customer. ``customer_id``, ``signup_date`` (datetime64),
    ``acquisition_channel``; any further mapped columns are attributes.
spend (optional)
    Marketing spend. ``date`` (datetime64), ``channel``, ``amount`` (float).
referrals (optional)
    ``referrer_id``, ``referred_id`` (str), ``timestamp``.
surveys (optional)
    ``customer_id``, ``timestamp``, ``score`` (0-10 NPS answer).
experiments (optional)
    ``customer_id``, ``experiment``, ``variant`` (str), ``assigned_at``.
"""

from __future__ import annotations

CUSTOMER_ID = "customer_id"
ANONYMOUS_ID = "anonymous_id"
ORDER_ID = "order_id"
TIMESTAMP = "timestamp"
AMOUNT = "amount"
QUANTITY = "quantity"
UNIT_PRICE = "unit_price"
CHANNEL = "channel"
PRODUCT = "product"
EVENT_TYPE = "event_type"
CAMPAIGN = "campaign"
SIGNUP_DATE = "signup_date"
ACQUISITION_CHANNEL = "acquisition_channel"
DATE = "date"
REFERRER_ID = "referrer_id"
REFERRED_ID = "referred_id"
SCORE = "score"
EXPERIMENT = "experiment"
VARIANT = "variant"
ASSIGNED_AT = "assigned_at"
#: transactions, derived by ``clean.cancellations: net``: the amount netted from the line (>= 0)
REFUNDED_AMOUNT = "refunded_amount"
#: transactions in a run's cache (:func:`lclib.engine.orders.compact_order_lines_file`): how many
#: cleaned order lines one row stands for (the lines of one order at one time are merged)
LINES = "lines"

#: Canonical columns per table as the user maps them: (required, optional).
#: ``amount`` in transactions is required *or* derivable from quantity and
#: unit_price; ``order_id`` is derived when not mapped (see above). After loading,
#: transactions always have ``order_id`` and ``amount``.
TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "transactions": (
        (CUSTOMER_ID, TIMESTAMP),
        (ORDER_ID, AMOUNT, QUANTITY, UNIT_PRICE, CHANNEL, PRODUCT),
    ),
    "events": ((TIMESTAMP, EVENT_TYPE), (CUSTOMER_ID, ANONYMOUS_ID, CHANNEL, CAMPAIGN)),
    "customers": ((CUSTOMER_ID,), (SIGNUP_DATE, ACQUISITION_CHANNEL)),
    "spend": ((DATE, CHANNEL, AMOUNT), ()),
    "referrals": ((REFERRER_ID, REFERRED_ID, TIMESTAMP), ()),
    "surveys": ((CUSTOMER_ID, TIMESTAMP, SCORE), ()),
    "experiments": ((CUSTOMER_ID, EXPERIMENT, VARIANT, ASSIGNED_AT), ()),
}

#: Columns holding identifiers: always read as text, never as numbers.
ID_COLUMNS = (CUSTOMER_ID, ANONYMOUS_ID, ORDER_ID, REFERRER_ID, REFERRED_ID, PRODUCT)
#: Columns holding dates or timestamps.
DATE_COLUMNS = (TIMESTAMP, SIGNUP_DATE, DATE, ASSIGNED_AT)
#: Numeric columns.
NUMERIC_COLUMNS = (AMOUNT, QUANTITY, UNIT_PRICE, SCORE)

#: Channels used by the shipped sample data (users' data may have others).
SAMPLE_CHANNELS = (
    "paid_search",
    "paid_social",
    "organic_social",
    "email",
    "app_push",
    "referral",
    "direct",
)


def require_columns(frame, columns, what: str = "transactions", *, hint: str | None = None) -> None:
    """Check that ``frame`` is a DataFrame with ``columns``: the one input check of lclib.

    Parameters
    ----------
    frame : DataFrame or None
        The table a function was given.
    columns : iterable of str
        Columns the function needs. When :data:`TIMESTAMP` is among them it must
        be datetime64 (the loader makes it so).
    what : str
        The table's name in the message (``"transactions"``, ``"summary"``...).
    hint : str, optional
        How to build a table that has the columns, appended to the message.

    Raises
    ------
    ValueError
        Naming the table, the missing columns and the columns it has.

    Examples
    --------
    >>> import pandas as pd
    >>> require_columns(pd.DataFrame({"customer_id": ["a"]}), ["customer_id", "amount"])
    Traceback (most recent call last):
    ...
    ValueError: transactions lacks column(s) ['amount'] (has ['customer_id'])
    """
    import pandas as pd

    if frame is None:
        raise ValueError(f"{what} is required")
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a DataFrame, got {type(frame).__name__}")
    columns = list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing} (has {list(frame.columns)})"
                         + (f"; {hint}" if hint else ""))
    if TIMESTAMP in columns and not pd.api.types.is_datetime64_any_dtype(frame[TIMESTAMP]):
        raise ValueError(f"{what}[{TIMESTAMP!r}] must be datetime64, got {frame[TIMESTAMP].dtype}")
