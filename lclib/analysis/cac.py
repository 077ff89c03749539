"""Customer acquisition cost (CAC) per channel, CLV:CAC and payback.

Pipeline::

    acquired = acquisitions(transactions, customers)              # one row per customer
    cac = cac_by_channel(spend, acquired)                          # spend / new customers per channel
    values = channel_order_values(transactions, acquired["channel"], expected_order_value)
    path = margin_path(values, purchases, margin, discount_rate)   # cumulative margin of a new customer
    econ = channel_economics(cac, path, horizon_months, threshold) # CLV:CAC, payback, verdict
    verdict = clv_cac_verdict(econ, threshold=..., horizon_months=..., longest_months=..., basis=...)
                                                                   # best and worst channel, in words

Definitions
-----------
Acquisition
    A customer is acquired at their **first purchase** (default, ``basis=
    "first_purchase"``): CAC is then the cost of a *paying* customer, which is
    what CLV is compared with. ``basis="signup"`` uses ``customers.signup_date``
    instead (cost per registered account, including those who never buy).
Acquisition channel
    ``customers.acquisition_channel`` when the customers table has it, else the
    channel of the customer's first order
    (:func:`lclib.analysis.cohorts.acquisition_channels`).
Period
    Whole calendar months. Spend of a month is compared with the customers
    acquired in the same month; by default over every month from the first to
    the last month of the spend table. No lag between spend and acquisition is
    modelled.
CAC of a channel
    ``sum(spend) / new customers`` over the period. A channel without any spend
    (organic, direct, ...) has no CAC (NaN, status ``"no spend"``): its
    customers cost nothing that the spend table knows of, so CLV:CAC is
    undefined rather than infinite. A channel with spend but no new customers
    has status ``"spend without new customers"`` and NaN CAC.
Payback period
    Months from acquisition until the cumulative expected margin of a newly
    acquired customer (first order included, discounted like the CLV) covers
    the channel's CAC; 0 when the first order's margin already does.

Everything is vectorized (group-bys, array operations); the inputs are never
modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from lclib.analysis.cohorts import acquisition_channels
from lclib.analysis.wording import display_name
from lclib.engine.orders import orders_table
from lclib.io.columns import ACQUISITION_CHANNEL, AMOUNT, CHANNEL, CUSTOMER_ID, DATE, SIGNUP_DATE, TIMESTAMP
from lclib.io.columns import require_columns

Basis = Literal["first_purchase", "signup"]
#: Channel label of customers without a known acquisition channel.
UNKNOWN = "(unknown)"
#: Default CLV:CAC threshold (``clv.clv_cac_threshold`` in lclib.yaml).
DEFAULT_THRESHOLD = 3.0




#: Per customer: first purchase time, first order's channel and value, orders and total
#: spend (one pass over the lines, DuckDB). Orders are (customer, order id) groups at
#: their earliest line; an order's channel is that of its earliest line with a channel
#: (ties by row position, ``_row``); the first order is the earliest, ties by order id:
#: exactly :func:`lclib.engine.orders.orders_table` and :func:`lclib.analysis.cohorts.acquisition_channels`.
_SQL_FIRST_ORDERS = """
WITH orders AS (
    SELECT customer_id, order_id, MIN("timestamp") AS ts, MAX("timestamp") AS last_ts, FSUM(CAST(amount AS DOUBLE)) AS amount,
           {order_channel} AS channel
    FROM src
    WHERE customer_id IS NOT NULL AND "timestamp" IS NOT NULL
    GROUP BY customer_id, order_id
)
SELECT customer_id, MIN(ts) AS first_ts, MAX(last_ts) AS last_ts,
       arg_min_null(channel, {{'t': ts, 'o': order_id}}) AS channel,
       arg_min_null(amount, {{'t': ts, 'o': order_id}}) AS first_amount,
       COUNT(*) AS orders, FSUM(amount) AS total_amount
FROM orders
GROUP BY customer_id
"""


#: Per customer: first purchase time and the channel of the first line of the first order
#: (earliest line; ties by order id, then row position), NULL kept.
_SQL_FIRST_LINES = """
SELECT customer_id, MIN("timestamp") AS first_ts, {channel} AS channel
FROM src
WHERE customer_id IS NOT NULL AND "timestamp" IS NOT NULL
GROUP BY customer_id
"""

#: Orders (customer, order id groups) and their total value.
_SQL_ORDER_TOTALS = """
SELECT COUNT(*) AS orders, FSUM(amount) AS amount
FROM (SELECT customer_id, order_id, FSUM(CAST(amount AS DOUBLE)) AS amount
      FROM src WHERE customer_id IS NOT NULL AND "timestamp" IS NOT NULL GROUP BY customer_id, order_id) AS o
"""


def first_purchases(transactions: pd.DataFrame, channel: bool = True, engine: str | None = None) -> pd.DataFrame:
    """Each customer's first purchase time and acquisition channel by first order, in one light pass.

    Same values as the ``first_purchase`` and ``channel`` columns of
    :func:`first_orders`, at a third of its cost on millions of lines (one
    group per customer instead of one per order): the channel is that of the
    first order's earliest line, and only when that line has none does the
    full :func:`first_orders` look further (rare).

    Parameters
    ----------
    transactions : order lines.
    channel : False to skip the channel (NaN).
    engine : ``"duckdb"`` runs one query; another engine (``"pandas"``, ``"spark"``: this is a
        per-customer pass over a pandas frame) the pandas path. None = :func:`lclib.engine.sql.default_engine`.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (sorted); ``first_purchase``, ``channel``.
    """
    has_channel = channel and CHANNEL in transactions
    if not _use_engine(transactions, engine):
        return first_orders(transactions, engine)[["first_purchase", "channel"]]
    from lclib.engine import sql as E

    cols = [CUSTOMER_ID, "order_id", TIMESTAMP] + ([CHANNEL] if has_channel else [])
    lines = transactions[cols].assign(_row=np.arange(len(transactions))) if has_channel else transactions[cols]
    got = E.query(lines, _SQL_FIRST_LINES.format(channel=(
        f"arg_min_null({CHANNEL}, {{'t': \"timestamp\", 'o': order_id, 'r': _row}})" if has_channel
        else "CAST(NULL AS VARCHAR)")))
    if has_channel and got["channel"].isna().any():  # a first line without channel: look at its order's others
        return first_orders(transactions, engine)[["first_purchase", "channel"]]
    out = pd.DataFrame({
        "first_purchase": got["first_ts"].astype(transactions[TIMESTAMP].dtype).to_numpy(),
        "channel": got["channel"].to_numpy(),
    }, index=pd.Index(got["customer_id"], name=CUSTOMER_ID).astype(transactions[CUSTOMER_ID].dtype))
    return out.sort_index()


def mean_order_value(transactions: pd.DataFrame, engine: str | None = None) -> float:
    """Mean value of an order (sum of its lines), as ``orders_table(transactions)["amount"].mean()``.

    NaN without orders. Computed by DuckDB with ``engine`` ``"duckdb"`` (equal to
    floating-point rounding), else in pandas; None = :func:`lclib.engine.sql.default_engine`.
    """
    if not _use_engine(transactions, engine):
        return float(orders_table(transactions)[AMOUNT].mean())
    from lclib.engine import sql as E

    got = E.query(transactions[[CUSTOMER_ID, "order_id", TIMESTAMP, AMOUNT]], _SQL_ORDER_TOTALS).iloc[0]
    return float(got["amount"]) / int(got["orders"]) if int(got["orders"]) else np.nan


def _use_engine(transactions: pd.DataFrame, engine: str | None = None) -> bool:
    from lclib.engine import sql as E

    return (E.check_engine(engine) == "duckdb" and isinstance(transactions, pd.DataFrame)
            and pd.api.types.is_datetime64_any_dtype(transactions[TIMESTAMP])
            and getattr(transactions[TIMESTAMP].dtype, "tz", None) is None)


def first_orders(transactions: pd.DataFrame, engine: str | None = None) -> pd.DataFrame:
    """Each customer's first order and order totals, from one pass over the order lines.

    The same orders as :func:`lclib.engine.orders.orders_table` (lines grouped by
    customer and order id, at their earliest line), without sorting the lines:
    run by DuckDB (:mod:`lclib.engine`) with ``engine`` ``"duckdb"``, else from
    ``orders_table`` (None = :func:`lclib.engine.sql.default_engine`). Money sums agree with ``orders_table`` to floating-point
    rounding.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (sorted); ``first_purchase`` (time of the first
        order), ``last_purchase`` (latest line), ``channel`` (its channel, NaN without one or without a
        ``channel`` column), ``first_order_value``, ``orders`` (int) and
        ``revenue`` (all orders).
    """
    need = [CUSTOMER_ID, "order_id", TIMESTAMP, AMOUNT]
    require_columns(transactions, need, "transactions")
    has_channel = CHANNEL in transactions
    if _use_engine(transactions, engine):
        from lclib.engine import sql as E

        cols = need + ([CHANNEL] if has_channel else [])
        lines = transactions[cols].assign(_row=np.arange(len(transactions)))
        sql = _SQL_FIRST_ORDERS.format(order_channel=(
            f"arg_min({CHANNEL}, {{'t': \"timestamp\", 'r': _row}})" if has_channel else "CAST(NULL AS VARCHAR)"))
        got = E.query(lines, sql)
        out = pd.DataFrame({
            "first_purchase": got["first_ts"].astype(transactions[TIMESTAMP].dtype).to_numpy(),
            "last_purchase": got["last_ts"].astype(transactions[TIMESTAMP].dtype).to_numpy(),
            "channel": got["channel"].to_numpy(),
            "first_order_value": got["first_amount"].to_numpy(dtype="float64"),
            "orders": got["orders"].to_numpy(dtype="int64"),
            "revenue": got["total_amount"].to_numpy(dtype="float64"),
        }, index=pd.Index(got["customer_id"], name=CUSTOMER_ID).astype(transactions[CUSTOMER_ID].dtype))
        return out.sort_index()
    orders = orders_table(transactions)
    first = orders.loc[orders["n"] == 1].set_index(CUSTOMER_ID)
    by_customer = orders.groupby(CUSTOMER_ID, sort=True)
    return pd.DataFrame({
        "first_purchase": first[TIMESTAMP],
        "last_purchase": transactions.loc[transactions[CUSTOMER_ID].notna()].groupby(CUSTOMER_ID)[TIMESTAMP].max(),
        "channel": first[CHANNEL] if has_channel else pd.Series(np.nan, index=first.index, dtype=object),
        "first_order_value": first[AMOUNT],
        "orders": by_customer.size().astype("int64"),
        "revenue": by_customer[AMOUNT].sum(),
    }).rename_axis(CUSTOMER_ID).sort_index()


def acquisitions(
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    basis: Basis = "first_purchase",
    firsts: pd.DataFrame | None = None,
    engine: str | None = None,
) -> pd.DataFrame:
    """When and through which channel each customer was acquired.

    Parameters
    ----------
    transactions : order lines (``customer_id``, ``order_id``, ``timestamp``,
        ``amount``, optional ``channel``).
    customers : optional customers table (``customer_id``, optional
        ``signup_date``, ``acquisition_channel``).
    basis : {"first_purchase", "signup"}
        Acquisition moment, see the module docstring. ``"signup"`` needs
        ``customers.signup_date``.
    firsts : DataFrame, optional
        ``first_orders(transactions)`` or ``first_purchases(transactions)``
        when the caller already has it (saves a pass over the lines).
    engine : of :func:`first_purchases` (None = :func:`lclib.engine.sql.default_engine`).

    Returns
    -------
    DataFrame
        Index ``customer_id``; ``channel`` (str, "(unknown)" when no source
        gives one), ``acquired_at`` (datetime64), ``month`` (Period[M]).
        Customers without an acquisition moment (no order for
        ``first_purchase``, no signup date for ``signup``) are left out.
    """
    if basis not in ("first_purchase", "signup"):
        raise ValueError(f"basis must be 'first_purchase' or 'signup', got {basis!r}")
    from_customers = (customers is not None and ACQUISITION_CHANNEL in customers
                      and customers[ACQUISITION_CHANNEL].notna().any())
    if firsts is None:
        firsts = first_purchases(transactions, channel=not from_customers, engine=engine)
    if from_customers:
        channels = acquisition_channels(firsts.iloc[:0], customers)  # the customers table's channel
    else:
        channels = firsts["channel"] if CHANNEL in transactions else None
    if basis == "first_purchase":
        when = firsts["first_purchase"]
    else:
        require_columns(customers, (CUSTOMER_ID, SIGNUP_DATE), "customers (for basis='signup')")
        when = customers.dropna(subset=[CUSTOMER_ID, SIGNUP_DATE]).drop_duplicates(CUSTOMER_ID).set_index(
            CUSTOMER_ID)[SIGNUP_DATE]
    when = pd.to_datetime(when).rename("acquired_at")
    channel = (channels.reindex(when.index) if channels is not None else pd.Series(index=when.index, dtype=object))
    out = pd.DataFrame({
        "channel": channel.astype("object").where(channel.notna(), UNKNOWN).astype("str").to_numpy(),
        "acquired_at": when.to_numpy(),
    }, index=when.index.rename(CUSTOMER_ID))
    out["month"] = out["acquired_at"].dt.to_period("M")
    return out.sort_index()


def cac_by_channel(spend: pd.DataFrame, acquired: pd.DataFrame, start=None, end=None) -> pd.DataFrame:
    """Spend, new customers and CAC per channel over whole months.

    Parameters
    ----------
    spend : spend table (``date``, ``channel``, ``amount``).
    acquired : :func:`acquisitions` output (``channel``, ``month``).
    start, end : date-like, optional
        First and last month counted (any day inside them). Default: the first
        and last month of the spend table.

    Returns
    -------
    DataFrame
        Index ``channel`` (paid channels first, by spend); ``spend`` (float),
        ``new_customers`` (int), ``cac`` (float, NaN unless both are positive),
        ``share_new_customers``, ``status`` ("paid", "no spend" or "spend
        without new customers"). ``attrs`` holds ``start`` and ``end``
        (Period[M]) and ``months``.
    """
    require_columns(spend, (DATE, CHANNEL, AMOUNT), "spend")
    require_columns(acquired, ("channel", "month"), "acquired")
    spend_month = pd.to_datetime(spend[DATE]).dt.to_period("M")
    if spend_month.isna().all() and (start is None or end is None):
        raise ValueError("the spend table has no dates: pass start and end")
    first = pd.Period(start, "M") if start is not None else spend_month.min()
    last = pd.Period(end, "M") if end is not None else spend_month.max()
    if last < first:
        raise ValueError(f"end ({last}) is before start ({first})")
    in_spend = (spend_month >= first) & (spend_month <= last)
    in_acq = (acquired["month"] >= first) & (acquired["month"] <= last)
    money = spend.loc[in_spend].groupby(spend.loc[in_spend, CHANNEL].astype("str"))[AMOUNT].sum()
    new = acquired.loc[in_acq, "channel"].astype("str").value_counts()
    out = pd.DataFrame({"spend": money, "new_customers": new}).fillna(0.0)
    out["new_customers"] = out["new_customers"].astype("int64")
    out["spend"] = out["spend"].astype("float64")
    paid, buying = out["spend"] > 0, out["new_customers"] > 0
    out["cac"] = (out["spend"] / out["new_customers"]).where(paid & buying)
    total = out["new_customers"].sum()
    out["share_new_customers"] = out["new_customers"] / total if total else np.nan
    out["status"] = np.select([paid & buying, paid], ["paid", "spend without new customers"], "no spend")
    out = out.sort_values(["spend", "new_customers"], ascending=False)
    out.index.name = "channel"
    out.attrs.update(start=first, end=last, months=int((last - first).n + 1))
    return out


def blended_cac(cac_table: pd.DataFrame, paid_only: bool = False) -> float:
    """Total spend / total new customers: all channels (blended) or only channels with spend.

    Returns NaN when there are no new customers.
    """
    require_columns(cac_table, ("spend", "new_customers", "status"), "cac_table")
    rows = cac_table.loc[cac_table["status"] != "no spend"] if paid_only else cac_table
    n = rows["new_customers"].sum()
    return float(rows["spend"].sum() / n) if n else np.nan


def channel_order_values(
    transactions: pd.DataFrame,
    channels: pd.Series,
    expected_order_value: pd.Series | None = None,
    firsts: pd.DataFrame | None = None,
    engine: str | None = None,
) -> pd.DataFrame:
    """Mean first-order value and expected later order value per acquisition channel.

    Parameters
    ----------
    transactions : order lines.
    channels : acquisition channel per customer (index ``customer_id``).
    expected_order_value : optional per-customer expected order value (e.g.
        Gamma-Gamma's, :func:`lclib.analysis.clv.predict_customers`); without it the
        mean observed value of repeat orders is used (of all orders when a
        channel has no repeat order).
    firsts : DataFrame, optional
        ``first_orders(transactions)`` when the caller already has it.
    engine : of :func:`first_orders` (None = :func:`lclib.engine.sql.default_engine`).

    Returns
    -------
    DataFrame
        Index ``channel``; ``customers``, ``first_order_value``, ``order_value``.
    """
    first = first_orders(transactions, engine) if firsts is None else firsts  # one row per customer, no sort of lines
    channel = pd.Series(first.index, index=first.index).map(channels).astype("object").fillna(UNKNOWN)
    first = first.assign(channel=channel.to_numpy())
    out = first.groupby("channel").agg(customers=("orders", "size"), first_order_value=("first_order_value", "mean"))
    if expected_order_value is not None:
        per_customer = expected_order_value.reindex(first.index.to_numpy())
        value = pd.Series(per_customer.to_numpy(), index=first["channel"].to_numpy()).groupby(level=0).mean()
    else:
        sums = first.assign(repeat_orders=first["orders"] - 1,
                            repeat_revenue=first["revenue"] - first["first_order_value"]).groupby("channel")[
            ["repeat_orders", "repeat_revenue", "orders", "revenue"]].sum()
        repeat = (sums["repeat_revenue"] / sums["repeat_orders"]).where(sums["repeat_orders"] > 0)
        value = repeat.reindex(out.index).fillna(sums["revenue"] / sums["orders"])
    out["order_value"] = value.reindex(out.index)
    out.index.name = "channel"
    return out


def margin_path(
    values: pd.DataFrame,
    purchases: pd.Series,
    margin: float,
    discount_rate_annual: float = 0.0,
) -> pd.DataFrame:
    """Cumulative discounted margin of a newly acquired customer, month by month, per channel.

    ``path[m] = margin * (first_order_value + order_value * sum_{k<=m} dX_k / (1 + d)^k)``
    with ``dX_k`` the expected repeat purchases in month ``k`` and ``d`` the
    monthly rate equivalent to ``discount_rate_annual`` (as
    :func:`lclib.analysis.clv.predict_customers`). The first order is at month 0,
    undiscounted.

    Parameters
    ----------
    values : :func:`channel_order_values` output (``first_order_value``, ``order_value``).
    purchases : cumulative expected repeat purchases by month 0..H
        (:func:`lclib.analysis.clv.new_customer_purchases`).
    margin : gross margin share.
    discount_rate_annual : e.g. 0.1.

    Returns
    -------
    DataFrame
        Index ``month`` (0..H), one column per channel.
    """
    require_columns(values, ("first_order_value", "order_value"), "values")
    if not 0 < margin <= 1:
        raise ValueError(f"margin must be in (0, 1], got {margin}")
    steps = np.arange(len(purchases))
    monthly = (1.0 + discount_rate_annual) ** (1.0 / 12.0) - 1.0
    increments = np.diff(purchases.to_numpy(dtype=float), prepend=0.0)
    discounted = np.cumsum(increments / (1.0 + monthly) ** steps)
    path = margin * (values["first_order_value"].to_numpy()[None, :]
                     + np.outer(discounted, values["order_value"].to_numpy()))
    return pd.DataFrame(path, index=pd.RangeIndex(len(purchases), name="month"), columns=values.index)


def linear_margin_path(annual_margin: pd.Series, months: int, lifetime_years: pd.Series | None = None) -> pd.DataFrame:
    """Cumulative margin growing by annual margin / 12 a month (the simple-CLV view), months 0..``months``.

    ``lifetime_years``: each channel's expected lifetime (the textbook formula's); the margin stops
    growing after it, so the path ends at margin x lifetime, the textbook value before CAC, instead
    of running on for ``months`` whatever the lifetime (None or missing: no cap).

    Examples
    --------
    >>> linear_margin_path(pd.Series({"email": 12.0}), 4, pd.Series({"email": 0.25}))["email"].tolist()
    [0.0, 1.0, 2.0, 3.0, 3.0]
    """
    steps = np.arange(months + 1) / 12.0
    years = np.repeat(steps[:, None], len(annual_margin), axis=1)
    if lifetime_years is not None:
        cap = lifetime_years.reindex(annual_margin.index).to_numpy(dtype=float)
        years = np.minimum(years, np.where(np.isfinite(cap), cap, np.inf))
    return pd.DataFrame(years * annual_margin.to_numpy(dtype=float),
                        index=pd.RangeIndex(months + 1, name="month"), columns=annual_margin.index)


def payback_months(path: pd.DataFrame, cac: pd.Series) -> pd.Series:
    """First month at which a channel's cumulative margin reaches its CAC.

    Returns
    -------
    Series
        Index: the channels of ``path``; float months (0 when the first month
        already covers CAC), NaN when CAC is unknown or not reached within the path.
    """
    cost = cac.reindex(path.columns).to_numpy(dtype=float)
    reached = path.to_numpy() >= cost[None, :]
    first = reached.argmax(axis=0).astype(float)
    first[~reached.any(axis=0) | ~np.isfinite(cost)] = np.nan
    return pd.Series(path.index.to_numpy()[0] + first, index=path.columns, name="payback_months")


def channel_economics(
    cac_table: pd.DataFrame,
    path: pd.DataFrame,
    horizon_months: int,
    threshold: float = DEFAULT_THRESHOLD,
) -> pd.DataFrame:
    """CLV:CAC and payback per channel, flagged against a threshold.

    Parameters
    ----------
    cac_table : :func:`cac_by_channel` output.
    path : cumulative margin of a new customer by month and channel
        (:func:`margin_path` or :func:`linear_margin_path`); at least
        ``horizon_months`` + 1 rows.
    horizon_months : the CLV horizon: ``clv`` = ``path`` at that month.
    threshold : CLV:CAC below it is flagged (3.0 = the usual 3:1 rule).

    Returns
    -------
    DataFrame
        Index channel (those of ``cac_table``); ``new_customers``, ``cac``,
        ``clv`` (margin per new customer over the horizon, before CAC),
        ``clv_cac`` (NaN when CAC is undefined), ``payback_months``,
        ``meets_threshold`` (boolean, NA when undefined) and ``verdict`` (words).
    """
    require_columns(cac_table, ("new_customers", "cac", "status"), "cac_table")
    if horizon_months >= len(path):
        raise ValueError(f"path has {len(path)} months, horizon_months={horizon_months} needs more")
    if not threshold > 0:
        raise ValueError("threshold must be positive")
    out = cac_table[["new_customers", "cac", "status"]].copy()
    out["clv"] = path.iloc[horizon_months].reindex(out.index)
    out["clv_cac"] = out["clv"] / out["cac"]
    out["payback_months"] = payback_months(path, out["cac"]).reindex(out.index)
    meets = (out["clv_cac"] >= threshold).astype("boolean")
    out["meets_threshold"] = meets.where(out["clv_cac"].notna(), pd.NA)
    longest = len(path) - 1
    out["verdict"] = np.select(
        [out["status"] == "no spend", out["status"] != "paid", out["clv"].isna(),
         out["clv_cac"] >= threshold, out["clv_cac"] >= 1],
        ["no spend recorded: CAC undefined", "spend but no new customers", "no value estimate",
         f"healthy (at least {threshold:g}:1)", f"below {threshold:g}:1 - earns back its cost but thinly"],
        f"loses money within {horizon_months} months",
    )
    out.loc[out["payback_months"].isna() & (out["status"] == "paid"), "verdict"] += \
        f"; not paid back within {longest} months"
    return out


# ----------------------------------------------------------------------------- the report's words


def acquisition_channel_source(transactions: pd.DataFrame, customers: pd.DataFrame | None = None) -> str | None:
    """Where :func:`acquisitions` takes each customer's channel from, in words (None: nowhere).

    Examples
    --------
    >>> acquisition_channel_source(pd.DataFrame(columns=["customer_id", "channel"]))
    "the channel of each customer's first order"
    >>> acquisition_channel_source(pd.DataFrame(columns=["customer_id"]),
    ...                            pd.DataFrame(columns=["customer_id", "acquisition_channel"]))
    'the customers table'
    >>> acquisition_channel_source(pd.DataFrame(columns=["customer_id"])) is None
    True
    """
    if customers is not None and ACQUISITION_CHANNEL in customers:
        return "the customers table"
    return "the channel of each customer's first order" if CHANNEL in transactions else None


def signed_up_before(customers: pd.DataFrame | None, customer_ids, day) -> int:
    """How many of ``customer_ids`` signed up before the midnight that starts ``day``.

    Customers counted as new at their first purchase but signed up before the transactions
    start may have bought before them too (a cut export): they are not new, and CAC is then
    understated. 0 without a customers table or without ``signup_date``.

    Examples
    --------
    >>> people = pd.DataFrame({"customer_id": ["a", "b", "c"],
    ...                        "signup_date": pd.to_datetime(["2023-12-30", "2024-01-01", None])})
    >>> signed_up_before(people, ["a", "b", "c", "d"], pd.Timestamp("2024-01-01 09:30"))
    1
    """
    if customers is None or SIGNUP_DATE not in customers:
        return 0
    signup = customers.drop_duplicates(CUSTOMER_ID).set_index(CUSTOMER_ID)[SIGNUP_DATE]
    return int((signup.reindex(customer_ids) < pd.Timestamp(day).normalize()).sum())


def cac_report_table(cac_table: pd.DataFrame, currency: str) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`cac_by_channel` with its columns in words, and the formats to show them with.

    Returns
    -------
    (DataFrame, dict)
        Index ``Channel``; ``Spend (EUR)``, ``New customers``, ``CAC (EUR)``, ``Share of new
        customers``, ``Status``; the formats by column.
    """
    shown = cac_table.rename(columns={"spend": f"Spend ({currency})", "new_customers": "New customers",
                                      "cac": f"CAC ({currency})", "share_new_customers": "Share of new customers",
                                      "status": "Status"}).rename_axis("Channel")
    formats = {f"Spend ({currency})": "{:,.2f}", "New customers": "{:,}", f"CAC ({currency})": "{:,.2f}",
               "Share of new customers": "{:.1%}"}
    return shown, formats


def payback_text(months: float) -> str:
    """A payback period as the CLV:CAC table shows it: ``first order``, ``7`` (months) or ``-`` (never).

    Examples
    --------
    >>> [payback_text(m) for m in (0, 6.0, float("nan"))]
    ['first order', '6', '-']
    """
    return "first order" if months == 0 else (f"{months:.0f}" if np.isfinite(months) else "-")


def payback_words(months: float, longest_months: int) -> str:
    """A channel's payback in a sentence (``pays back after 7 months``), ``longest_months``: the path's end.

    Examples
    --------
    >>> payback_words(0, 60), payback_words(7.0, 60), payback_words(float("nan"), 60)
    ('pays back on the first order', 'pays back after 7 months', 'does not pay back within 60 months')
    """
    if not np.isfinite(months):
        return f"does not pay back within {longest_months} months"
    return f"pays back {'on the first order' if months == 0 else f'after {months:.0f} months'}"


def clv_cac_report_table(economics: pd.DataFrame, currency: str,
                         horizon_months: int) -> tuple[pd.DataFrame, dict[str, str]]:
    """:func:`channel_economics` with its columns in words (payback by :func:`payback_text`), and formats.

    Returns
    -------
    (DataFrame, dict)
        Index ``Channel``; ``New customers``, ``CAC (EUR)``, ``Value of a new customer, 12 months
        (EUR)``, ``CLV:CAC``, ``Payback (months)``, ``Verdict``; the formats by column.
    """
    columns = {"new_customers": "New customers", "cac": f"CAC ({currency})",
               "clv": f"Value of a new customer, {horizon_months} months ({currency})", "clv_cac": "CLV:CAC",
               "payback_months": "Payback (months)", "verdict": "Verdict"}
    shown = economics[list(columns)].assign(payback_months=economics["payback_months"].map(payback_text))
    formats = {"New customers": "{:,}", f"CAC ({currency})": "{:,.2f}", columns["clv"]: "{:,.2f}",
               "CLV:CAC": "{:.2f}"}
    return shown.rename(columns=columns).rename_axis("Channel"), formats


#: Said when no paid channel can be rated (:func:`clv_cac_verdict`).
NO_RATIO = "No paid channel has both an acquisition cost and a value estimate: CLV:CAC cannot be computed."
#: Fewer new customers than this in a channel: its CLV:CAC is not judged (a ratio from a handful of
#: customers is noise).
MIN_CHANNEL_CUSTOMERS = 30


@dataclass
class ClvCacVerdict:
    """Which paid channels earn back their acquisition cost (see :func:`clv_cac_verdict`).

    Attributes
    ----------
    best, worst : the channels with the highest and lowest CLV:CAC (None when no channel is rated).
    best_ratio, worst_ratio : their CLV:CAC (NaN when no channel is rated).
    below : the rated channels below the threshold, in the table's order.
    sentence : the finding in words (Markdown).
    losing : ``(channel, CLV:CAC)`` of the rated channels below 1:1 (they lose money), worst first.
    """

    best: str | None
    worst: str | None
    best_ratio: float
    worst_ratio: float
    below: list = field(default_factory=list)
    sentence: str = ""
    losing: list = field(default_factory=list)

    @property
    def rated(self) -> bool:
        """True when at least one paid channel has a CLV:CAC."""
        return self.best is not None

    @property
    def best_pair(self) -> tuple[str, float] | None:
        """``(best channel, its CLV:CAC)`` or None (for :func:`lclib.analysis.wording.clv_answers`)."""
        return (self.best, float(self.best_ratio)) if self.rated else None

    @property
    def worst_pair(self) -> tuple[str, float] | None:
        """``(worst channel, its CLV:CAC)`` or None."""
        return (self.worst, float(self.worst_ratio)) if self.rated else None


def clv_cac_verdict(economics: pd.DataFrame, *, threshold: float, horizon_months: int, longest_months: int,
                    basis: str, one_purchase_model: bool = False,
                    names: Mapping[str, str] | None = None,
                    min_customers: int = MIN_CHANNEL_CUSTOMERS) -> ClvCacVerdict:
    """The best and worst paid channel by CLV:CAC, those below the threshold, and the sentence that says so.

    Parameters
    ----------
    economics : :func:`channel_economics` output (``clv_cac``, ``payback_months``).
    threshold : the CLV:CAC target (3.0 = 3:1).
    horizon_months : the CLV horizon, for the sentence.
    longest_months : the last month of the margin path (a channel not paid back by then "does not pay back").
    basis : what the values rest on, in words (``the BG/NBD model and Gamma-Gamma``).
    one_purchase_model : True when one purchase model values every channel's customers: the sentence
        then says that CLV:CAC mostly follows CAC.
    names : ``display_names`` of the configuration (channels in words).
    min_customers : a channel with fewer new customers (``new_customers`` column, when there is
        one) is not rated: the sentence names it as too small to judge.

    Examples
    --------
    >>> econ = pd.DataFrame({"clv_cac": [4.0, 1.5, np.nan], "payback_months": [3.0, np.nan, np.nan]},
    ...                     index=["email", "paid_search", "organic"])
    >>> v = clv_cac_verdict(econ, threshold=3, horizon_months=12, longest_months=60, basis="the textbook formula")
    >>> v.best, v.worst_ratio, v.below
    ('email', 1.5, ['paid_search'])
    >>> print(v.sentence)
    Based on the textbook formula, over 12 months: **Email** returns **4.0:1** and pays back after 3 months; **Paid search** returns **1.5:1** and does not pay back within 60 months. Below the 3:1 target: **Paid search** - cut their cost per customer or raise their customers' value before scaling them up.
    """
    rated = economics["clv_cac"].dropna()
    few = []
    if "new_customers" in economics:
        n = economics["new_customers"].reindex(rated.index)
        few = rated.index[n < min_customers].tolist()
        rated = rated.drop(few)

    def dn(value):
        return display_name(value, names)

    too_few = (f" Too few new customers to judge (fewer than {min_customers}): "
               + ", ".join(f"**{dn(c)}** ({int(economics.loc[c, 'new_customers']):,})" for c in few) + "."
               if few else "")
    if rated.empty:
        return ClvCacVerdict(None, None, np.nan, np.nan, [], (NO_RATIO + too_few) if not few else
                             "No paid channel brought enough new customers to judge its CLV:CAC." + too_few)
    best, worst = rated.idxmax(), rated.idxmin()
    below = rated.index[rated < threshold].tolist()

    def payback(channel) -> str:
        return payback_words(economics.loc[channel, "payback_months"], longest_months)

    pair = (f"**{dn(best)}** returns **{rated.max():.1f}:1** and {payback(best)}; **{dn(worst)}** returns "
            f"**{rated.min():.1f}:1** and {payback(worst)}" if best != worst else
            f"**{dn(best)}**, the only paid channel rated, returns **{rated.max():.1f}:1** and {payback(best)}")
    sentence = (f"Based on {basis}, over {horizon_months} months: {pair}. "
                + (f"Below the {threshold:g}:1 target: **{', '.join(map(dn, below))}** - cut their cost per customer "
                   "or raise their customers' value before scaling them up." if below
                   else f"Every paid channel meets the {threshold:g}:1 target.")
                + (" One purchase model serves every channel: a new customer is expected to buy again at the same "
                   "rate whichever channel brought them, and only order values differ by channel, so CLV:CAC here "
                   "mostly follows CAC; the channel differences in retention seen in the textbook table are not in "
                   "these values." if one_purchase_model else "")
                + too_few)
    losing = [(c, float(r)) for c, r in rated[rated < 1].sort_values(kind="stable").items()]
    return ClvCacVerdict(best, worst, float(rated.max()), float(rated.min()), below, sentence, losing)
