"""Acquisition cohorts and repeat purchases: who keeps buying, and does buying breed buying?

Pipeline::

    orders = orders_table(transactions)                    # one row per order
    cells = cohort_cells(transactions, as_of)              # cohort x months-since cells
    triangle = retention_triangle(cells, "customers")      # wide shares, NaN = not observable
    curve = retention_curve(cells, "customers")            # pooled curve with 95 % intervals
    repeat = repeat_purchase_curve(transactions, window_days=157, as_of=as_of)
    verdict = repeat_curve_verdict(repeat)                 # does each purchase make the next likelier?

Definitions
-----------
Order
    One distinct ``order_id`` of a customer, at the earliest timestamp of its lines,
    worth the sum of its line amounts (:func:`orders_table`).
As of
    Only transactions with ``timestamp < as_of`` count. ``as_of`` defaults to the
    midnight after the last transaction (as ``lclib.yaml``'s ``analysis.as_of: null``
    and :func:`lclib.rfm.rfm_table`).
Acquisition cohort
    The calendar month of a customer's first order.
Months since first purchase
    Calendar-month difference: an order in March of a customer who first bought on
    31 January is in month 2, whatever the days.
Censoring of cohort cells
    A cell (cohort, months since) is *observable* when its calendar month has ended
    by ``as_of`` (month end <= as_of). Other cells are NaN, never 0: a cohort that
    first bought last month cannot yet show whether it buys in its sixth month. This
    includes month 0 of a cohort whose first month is still running.
Repeat-purchase curve (censoring rule)
    ``P(n+1 | n)`` = among customers whose n-th order was placed at least
    ``window_days`` before ``as_of``, the share whose (n+1)-th order came less than
    ``window_days`` after the n-th. Every counted customer had the same full window
    to come back, so recent customers do not drag the rates down. With the churn
    inactivity window as ``window_days`` this is one minus the probability of
    churning right after the n-th order.

All functions are vectorized (group-bys and array operations; no loop over
customers) and pure: inputs are never modified.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from lclib.columns import ACQUISITION_CHANNEL, AMOUNT, CHANNEL, CUSTOMER_ID, ORDER_ID, TIMESTAMP
from lclib.record import p_text

_Z95 = float(stats.norm.ppf(0.975))

#: Columns of :func:`orders_table`.
ORDER_COLUMNS = (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT, "n")


# ----------------------------------------------------------------------------- helpers


def resolve_as_of(transactions: pd.DataFrame, as_of=None) -> pd.Timestamp:
    """The analysis date: ``as_of`` if given, else midnight after the last transaction.

    Parameters
    ----------
    transactions : DataFrame with a datetime64 ``timestamp``.
    as_of : date-like or None (``analysis.as_of`` of the configuration).

    Returns
    -------
    Timestamp
        Exclusive end of the data: transactions with ``timestamp < as_of`` count.
    """
    if as_of is not None:
        return pd.Timestamp(as_of)
    if TIMESTAMP not in transactions or transactions[TIMESTAMP].isna().all():
        raise ValueError("transactions have no timestamps; pass as_of explicitly")
    return pd.Timestamp(transactions[TIMESTAMP].max()).normalize() + pd.Timedelta(days=1)


def _require(frame: pd.DataFrame, columns, what: str = "transactions") -> None:
    missing = [c for c in columns if c not in frame]
    if missing:
        raise ValueError(f"{what} lack column(s) {missing} (have {list(frame.columns)})")
    if TIMESTAMP in columns and not pd.api.types.is_datetime64_any_dtype(frame[TIMESTAMP]):
        raise ValueError(f"{what}[{TIMESTAMP!r}] must be datetime64, got {frame[TIMESTAMP].dtype}")


def wilson_interval(successes, trials, z: float = _Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (vectorized).

    Parameters
    ----------
    successes, trials : array-like of counts (same shape). Where ``trials == 0``
        both bounds are NaN.
    z : normal quantile; the default gives 95 % intervals.

    Returns
    -------
    (lower, upper) : arrays of floats in [0, 1].

    Notes
    -----
    ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``p = k/n``;
    equals ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.
    Unlike the normal approximation it stays inside [0, 1] and is usable at 0 or n
    successes.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    lower, upper = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    bad = ~(n > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)


def orders_table(transactions: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """Collapse order lines into one row per order, numbered per customer.

    Parameters
    ----------
    transactions : DataFrame
        Order lines with ``customer_id``, ``order_id``, ``timestamp`` (datetime64),
        ``amount`` and optionally ``channel``. Rows without ``customer_id`` are ignored.
    as_of : date-like, optional
        Only lines with ``timestamp < as_of`` count (default: all).

    Returns
    -------
    DataFrame
        Fresh RangeIndex, sorted by customer, time and order id, with
        ``customer_id``, ``order_id``, ``timestamp`` (earliest line), ``amount``
        (sum of lines, float), ``n`` (int: 1 for the customer's first order, 2 for
        the second, ...) and ``channel`` (channel of the order's earliest line)
        when the input has it.

    Notes
    -----
    The ids are factorized once and the lines sorted on integer codes (not on the
    strings); within an order the lines are summed in time order, as a group-by on
    the time-sorted lines would. :class:`OrderHistory` keeps this table and derives
    the table as of any earlier date from it without re-reading the lines.
    """
    return _collapse_lines(transactions, as_of)[0]


def _collapse_lines(transactions: pd.DataFrame, as_of=None, keep_spread: bool = False):
    """:func:`orders_table`, plus (with ``keep_spread``) the lines of orders spread over several times.

    Returns ``(orders, spread, codes, ids)``: ``spread`` has columns ``pos`` (row of the
    order in ``orders``), ``timestamp``, ``amount`` (and ``channel``) in the order the
    lines were summed; ``codes`` (int64 per order, sorted) and ``ids`` (Index of the
    distinct customer ids, sorted) number the customers.
    """
    _require(transactions, (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT))
    keep = transactions[CUSTOMER_ID].notna() & transactions[TIMESTAMP].notna() & transactions[ORDER_ID].notna()
    if as_of is not None:
        keep &= transactions[TIMESTAMP] < pd.Timestamp(as_of)
    has_channel = CHANNEL in transactions
    cols = [CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT] + ([CHANNEL] if has_channel else [])
    lines = transactions.loc[keep.to_numpy(), cols] if not keep.all() else transactions[cols]
    c_codes, c_uni = pd.factorize(lines[CUSTOMER_ID], sort=True)
    o_codes, o_uni = pd.factorize(lines[ORDER_ID], sort=True)
    ts = lines[TIMESTAMP].to_numpy()
    # lines by customer, order id, time (stable: ties keep their input order)
    pair = c_codes.astype("int64") * max(len(o_uni), 1) + o_codes
    if len(ts) < 2 or (ts[1:] >= ts[:-1]).all():  # lines already in time order: one key is enough
        order = np.argsort(pair, kind="stable")
    else:
        order = np.lexsort((ts, pair))
    c_s, o_s, ts_s = c_codes[order], o_codes[order], ts[order]
    n_lines = len(order)
    new = np.ones(n_lines, dtype=bool)
    if n_lines:
        new[1:] = (c_s[1:] != c_s[:-1]) | (o_s[1:] != o_s[:-1])
    grp = np.cumsum(new) - 1  # order number of each sorted line
    starts = np.flatnonzero(new)
    amount = pd.Series(lines[AMOUNT].to_numpy(dtype="float64")[order]).groupby(grp, sort=True).sum().to_numpy()
    g_c, g_o, g_ts = c_s[starts], o_s[starts], ts_s[starts]
    chan = None
    if has_channel:  # first non-missing channel of each order's time-sorted lines, on integer codes
        ch_codes, ch_uni = pd.factorize(lines[CHANNEL])
        ch_s = ch_codes[order]
        where = np.where(ch_s >= 0, np.arange(n_lines), n_lines)
        first_ok = np.minimum.reduceat(where, starts) if n_lines else np.zeros(0, dtype=np.int64)
        chan = np.where(first_ok < n_lines, ch_s[np.minimum(first_ok, max(n_lines - 1, 0))], -1)
    # orders by customer, time, order id (groups are by customer and order id already)
    same_customer = g_c[1:] == g_c[:-1]
    if (~same_customer | (g_ts[1:] >= g_ts[:-1])).all():
        final = np.arange(len(g_c))
    else:
        final = np.lexsort((g_ts, g_c))  # stable: order ids stay ascending at equal times
    out = pd.DataFrame({
        CUSTOMER_ID: c_uni.take(g_c[final]) if len(final) else lines[CUSTOMER_ID].iloc[:0].to_numpy(),
        ORDER_ID: o_uni.take(g_o[final]) if len(final) else lines[ORDER_ID].iloc[:0].to_numpy(),
        TIMESTAMP: g_ts[final],
        AMOUNT: amount[final] if len(final) else np.array([], dtype="float64"),
    })
    for col in (CUSTOMER_ID, ORDER_ID):
        if out[col].dtype != lines[col].dtype:
            out[col] = out[col].astype(lines[col].dtype)
    codes = g_c[final].astype("int64")
    first_of_customer = np.ones(len(final), dtype=bool)
    if len(final):
        first_of_customer[1:] = codes[1:] != codes[:-1]
    run_start = np.maximum.accumulate(np.where(first_of_customer, np.arange(len(final)), 0)) if len(final) else codes
    out["n"] = (np.arange(len(final)) - run_start + 1).astype("int64")
    if has_channel:
        values = (ch_uni.take(chan[final], allow_fill=True) if len(ch_uni)
                  else pd.array([None] * len(final), dtype=lines[CHANNEL].dtype))
        out[CHANNEL] = pd.Series(values, dtype=lines[CHANNEL].dtype)
    out = out[[c for c in (*ORDER_COLUMNS, CHANNEL) if c in out]]
    spread = None
    if keep_spread:
        last = np.r_[starts[1:], n_lines] - 1
        multi = ts_s[last] != g_ts  # orders whose lines carry more than one time
        pos_of_group = np.empty(len(final), dtype="int64")
        pos_of_group[final] = np.arange(len(final))
        line_in_multi = multi[grp]
        sel = order[line_in_multi]
        spread = pd.DataFrame({"pos": pos_of_group[grp[line_in_multi]], TIMESTAMP: ts[sel],
                               AMOUNT: lines[AMOUNT].to_numpy(dtype="float64")[sel]})
        if has_channel:
            spread[CHANNEL] = lines[CHANNEL].iloc[sel].reset_index(drop=True)
    ids = pd.Index(c_uni, name=CUSTOMER_ID)
    if keep_spread:
        spread.attrs["lines"] = (c_codes.astype("int32" if len(c_uni) < 2**31 else "int64"), ts,
                                 lines[AMOUNT].to_numpy())
    return out, spread, codes, ids


class OrderHistory:
    """The orders of one transactions table, collapsed once; the same table as of any earlier date.

    ``OrderHistory(transactions, as_of).before(cutoff)`` equals
    ``orders_table(transactions, cutoff)`` for every ``cutoff <= as_of`` (amounts and
    channels of orders whose lines straddle the cutoff included), without sorting
    the lines again: the churn model needs the orders at half a dozen cutoffs.

    Attributes
    ----------
    transactions : the order lines it was built from (kept by reference).
    as_of : exclusive end (Timestamp).
    orders : ``orders_table(transactions, as_of)``.
    codes : int64 array, the customer number of each order (0 .. k-1, sorted like the ids).
    ids : Index of the distinct customer ids (sorted); ``ids[codes]`` is ``orders.customer_id``.
    complete : no line lacks an order id (lines without one are not in ``orders``).
    """

    def __init__(self, transactions: pd.DataFrame, as_of=None):
        self.transactions = transactions
        self.as_of = resolve_as_of(transactions, as_of)
        self.orders, self._spread, self.codes, self.ids = _collapse_lines(transactions, self.as_of,
                                                                          keep_spread=True)
        # every line has an order id (as lclib.io guarantees): order lines and collapsed orders agree
        self.complete = ORDER_ID not in transactions or not bool(transactions[ORDER_ID].hasnans)
        self._ts = self.orders[TIMESTAMP].to_numpy()
        self._lines = self._spread.attrs.pop("lines")  # line-level customer numbers, times and amounts

    def _check(self, date) -> pd.Timestamp:
        date = pd.Timestamp(date)
        if date > self.as_of:
            raise ValueError(f"{date:%Y-%m-%d} is after the history's end {self.as_of:%Y-%m-%d}")
        return date

    def mask_before(self, cutoff) -> np.ndarray:
        """Bool per order: placed before ``cutoff``."""
        return self._ts < np.datetime64(self._check(cutoff))

    def before(self, cutoff, columns: list[str] | None = None) -> pd.DataFrame:
        """``orders_table(transactions, cutoff)``, exactly (``cutoff <= as_of``).

        ``columns``: only these columns (saves copying the id strings when they are not needed).
        """
        cutoff = self._check(cutoff)
        mask = self.mask_before(cutoff)
        cols = list(self.orders.columns) if columns is None else [c for c in self.orders.columns if c in columns]
        out = self.orders.loc[mask, cols].reset_index(drop=True)
        sp = self._spread
        if len(sp):
            inside = mask[sp["pos"].to_numpy()]
            late = inside & (sp[TIMESTAMP].to_numpy() >= np.datetime64(cutoff))
            if late.any():  # orders with lines on both sides of the cutoff: re-add their earlier lines
                straddle = np.unique(sp["pos"].to_numpy()[late])
                part = sp.loc[np.isin(sp["pos"].to_numpy(), straddle) & ~late & inside]
                new_pos = np.cumsum(mask) - 1
                rows = new_pos[straddle]
                g = part.groupby("pos", sort=True)
                if AMOUNT in out:
                    out.loc[rows, AMOUNT] = g[AMOUNT].sum().reindex(straddle).to_numpy()
                if CHANNEL in out:
                    out.loc[rows, CHANNEL] = g[CHANNEL].first().reindex(straddle).to_numpy()
        return out

    def compact_lines(self, cutoff) -> pd.DataFrame:
        """Lines before ``cutoff`` with each order on one time merged into one row (its total).

        Columns ``customer_id``, ``order_id``, ``timestamp``, ``amount``: per customer
        the same purchase times, days, weeks and orders as the lines, and the same money
        to floating-point rounding - a third of the rows for a per-customer summary
        (:func:`lclib.summary.customer_summary`).
        """
        cutoff = self._check(cutoff)
        cols = [CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT]
        mask = self.mask_before(cutoff)
        sp = self._spread
        if not len(sp):
            return self.orders.loc[mask, cols].reset_index(drop=True)
        multi = np.zeros(len(self.orders), dtype=bool)
        multi[sp["pos"].to_numpy()] = True
        early = sp.loc[sp[TIMESTAMP].to_numpy() < np.datetime64(cutoff)]
        pos = early["pos"].to_numpy()
        extra = pd.DataFrame({CUSTOMER_ID: self.orders[CUSTOMER_ID].take(pos).to_numpy(),
                              ORDER_ID: self.orders[ORDER_ID].take(pos).to_numpy(),
                              TIMESTAMP: early[TIMESTAMP].to_numpy(), AMOUNT: early[AMOUNT].to_numpy()})
        for col in (CUSTOMER_ID, ORDER_ID):
            extra[col] = extra[col].astype(self.orders[col].dtype)
        return pd.concat([self.orders.loc[mask & ~multi, cols], extra], ignore_index=True)

    def line_revenue(self, start, end) -> pd.Series:
        """Sum of line amounts per customer over lines in ``[start, end)`` (``end <= as_of``).

        Equals ``lines[in range].groupby("customer_id")["amount"].sum()`` (same order of
        addition), indexed by the sorted ids of the customers with such lines.
        """
        start, end = pd.Timestamp(start), self._check(end)
        codes, ts, amount = self._lines
        inside = (ts >= np.datetime64(start)) & (ts < np.datetime64(end))
        out = pd.Series(amount[inside]).groupby(codes[inside], sort=True).sum()
        out.index = self.ids[out.index.to_numpy()]
        out.name = AMOUNT
        return out

    def customers_with_lines_in(self, start, end) -> np.ndarray:
        """Bool per customer (``ids``): at least one order line in ``[start, end)`` (``end <= as_of``)."""
        start, end = pd.Timestamp(start), self._check(end)
        lo, hi = np.datetime64(start), np.datetime64(end)
        hit = np.zeros(len(self.ids), dtype=bool)
        hit[self.codes[(self._ts >= lo) & (self._ts < hi)]] = True
        sp = self._spread
        if len(sp):
            t = sp[TIMESTAMP].to_numpy()
            hit[self.codes[sp["pos"].to_numpy()[(t >= lo) & (t < hi)]]] = True
        return hit


def customer_runs(orders: pd.DataFrame) -> np.ndarray:
    """Integer number of each row's customer in a table sorted by customer (e.g. :func:`orders_table`).

    Numbers follow first appearance (so they rise with the rows of a sorted table);
    group-bys and shifts on them are much cheaper than on the id strings.
    """
    return pd.factorize(orders[CUSTOMER_ID])[0].astype("int64")


def shift_within(values: pd.Series, codes: np.ndarray, periods: int = 1) -> pd.Series:
    """``values.groupby(codes).shift(periods)`` (``periods`` 1 or -1) for rows grouped in runs of ``codes``.

    Rows of one customer must be contiguous (a sorted orders table); missing where the
    previous (next) row belongs to another customer.
    """
    if periods not in (1, -1):
        raise ValueError("periods must be 1 or -1")
    v = values.to_numpy()
    out = np.full(len(v), np.datetime64("NaT") if v.dtype.kind == "M" else np.nan, dtype=v.dtype)
    if len(v) > 1:
        same = codes[1:] == codes[:-1]
        if periods == 1:
            out[1:][same] = v[:-1][same]
        else:
            out[:-1][same] = v[1:][same]
    return pd.Series(out, index=values.index, name=values.name)


def _month_number(ts: pd.Series) -> pd.Series:
    """Months since year 0 (year * 12 + month - 1) of each timestamp."""
    return ts.dt.year.astype("int64") * 12 + ts.dt.month.astype("int64") - 1


def _month_start(number: np.ndarray | pd.Series) -> pd.DatetimeIndex:
    number = np.asarray(number, dtype="int64")
    return pd.to_datetime(pd.DataFrame({"year": number // 12, "month": number % 12 + 1, "day": 1}))


# ----------------------------------------------------------------------------- cohorts


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

    ``engine`` (``"duckdb"``, ``"pandas"``; None = :func:`lclib.engine.default_engine`)
    chooses who aggregates; both give the same table (revenue to floating-point rounding).
    """
    from lclib import engine as _engine

    as_of = resolve_as_of(transactions, as_of)
    if _engine.check_engine(engine) == "duckdb" and len(transactions):
        return _engine.cohort_cells_sql(transactions, as_of)
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


def retention_triangle(cells: pd.DataFrame, value: str = "customers") -> pd.DataFrame:
    """The cohort triangle as shares of the cohort, NaN where not observable.

    Parameters
    ----------
    cells : output of :func:`cohort_cells`.
    value : ``"customers"`` - share of the cohort's customers who bought in that
        month (month 0 is 1); ``"revenue"`` - the cohort's revenue in that month as
        a share of its month-0 revenue (revenue retention; can exceed 1).

    Returns
    -------
    DataFrame
        Index ``cohort`` (Period[M]), columns ``period`` 0, 1, ... (int), float values.
    """
    if value not in ("customers", "revenue"):
        raise ValueError(f"value must be 'customers' or 'revenue', got {value!r}")
    base = cells["cohort_size"] if value == "customers" else cells["cohort_revenue0"]
    share = (cells[value] / base).where(cells["observable"])
    wide = share.groupby([cells["cohort"], cells["period"]]).first().unstack("period")
    wide.columns.name = "period"
    return wide.astype("float64")


def retention_curve(cells: pd.DataFrame, value: str = "customers", min_cohorts: int = 1) -> pd.DataFrame:
    """Retention by months since first purchase, pooled over the cohorts that can show it.

    Parameters
    ----------
    cells : output of :func:`cohort_cells`.
    value : ``"customers"`` or ``"revenue"`` (see :func:`retention_triangle`).
    min_cohorts : periods observable in fewer cohorts are left out.

    Returns
    -------
    DataFrame
        Index ``period`` (int), columns ``cohorts`` (observable cohorts pooled),
        ``base`` (their customers, or month-0 revenue), ``active`` (customers who
        bought, or revenue), ``share`` = active / base, and for customers the 95 %
        Wilson interval ``lower``, ``upper`` (NaN for revenue).

    Notes
    -----
    Pooling weights each cohort by its size: the curve at month k is the share of
    all customers whose month k has ended who bought in month k. Later months rest
    on fewer, older cohorts; ``cohorts`` says how many.
    """
    if value not in ("customers", "revenue"):
        raise ValueError(f"value must be 'customers' or 'revenue', got {value!r}")
    seen = cells.loc[cells["observable"]]
    base_col = "cohort_size" if value == "customers" else "cohort_revenue0"
    out = seen.groupby("period").agg(cohorts=("cohort", "nunique"), base=(base_col, "sum"),
                                     active=(value, "sum"))
    out = out.loc[out["cohorts"] >= min_cohorts].copy()
    out["share"] = out["active"] / out["base"]
    if value == "customers":
        out["lower"], out["upper"] = wilson_interval(out["active"], out["base"])
    else:
        out["lower"] = out["upper"] = np.nan
    return out


# ----------------------------------------------------------------------------- repeat purchases


def repeat_purchase_curve(transactions: pd.DataFrame, window_days: float, as_of=None,
                          max_n: int = 10, orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """Probability of an (n+1)-th order within ``window_days`` of the n-th, per n.

    Parameters
    ----------
    transactions : DataFrame
        Order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).
    window_days : float
        How long a customer is given to come back (the churn inactivity window).
    as_of : date-like, optional
        Exclusive end of the data (default: midnight after the last transaction).
    max_n : int
        Largest n reported.
    orders : DataFrame, optional
        ``orders_table(transactions, as_of)`` when already computed (saves collapsing
        the lines again).

    Returns
    -------
    DataFrame
        Index ``n`` (1 .. max_n, rows with no eligible customer left out), columns

        - ``eligible`` (int): customers with an n-th order placed at least
          ``window_days`` before ``as_of`` (right-censoring rule, see module doc);
        - ``repeated`` (int): of those, customers whose next order came less than
          ``window_days`` after the n-th;
        - ``p_next`` = repeated / eligible, and its 95 % Wilson interval ``lower``,
          ``upper``;
        - ``customers`` (int): all customers with at least n orders (eligible or not).
    """
    if not window_days > 0:
        raise ValueError(f"window_days must be positive, got {window_days!r}")
    if max_n < 1:
        raise ValueError(f"max_n must be at least 1, got {max_n!r}")
    as_of = resolve_as_of(transactions, as_of)
    if orders is None:
        orders = orders_table(transactions, as_of)
    window = pd.Timedelta(days=float(window_days))
    nxt = shift_within(orders[TIMESTAMP], customer_runs(orders), -1)
    eligible = (orders[TIMESTAMP] + window <= as_of) & (orders["n"] <= max_n)
    repeated = eligible & nxt.notna() & (nxt - orders[TIMESTAMP] < window)
    n = orders["n"]
    out = pd.DataFrame({
        "eligible": eligible.groupby(n).sum(),
        "repeated": repeated.groupby(n).sum(),
        "customers": n.value_counts(),
    }).loc[lambda d: (d.index <= max_n) & (d["eligible"] > 0)].astype("int64")
    out.index.name = "n"
    out["p_next"] = out["repeated"] / out["eligible"]
    out["lower"], out["upper"] = wilson_interval(out["repeated"], out["eligible"])
    return out[["eligible", "repeated", "p_next", "lower", "upper", "customers"]]


@dataclass
class RepeatVerdict:
    """Does each purchase make the next one more likely? (see :func:`repeat_curve_verdict`)

    Attributes
    ----------
    p_first : float
        P(2nd order | 1 order), the first-to-second return rate.
    p_later : float
        P(next order | n orders) pooled over n >= 2.
    difference : float
        ``p_later - p_first``.
    p_value : float
        Two-sided two-proportion z-test of ``p_later == p_first`` (NaN if untestable).
    trend : str
        ``"increasing"``, ``"decreasing"`` or ``"flat"`` (no significant difference at
        ``alpha``), or ``"insufficient"`` (fewer than ``min_eligible`` eligible either side).
    sentence : str
        The verdict in words, numbers included.
    """

    p_first: float
    p_later: float
    difference: float
    p_value: float
    trend: str
    sentence: str


def repeat_curve_verdict(curve: pd.DataFrame, alpha: float = 0.05, min_eligible: int = 20) -> RepeatVerdict:
    """Test the literature's claim that each purchase makes the next more likely.

    Compares the first-to-second return rate with the pooled rate of later returns
    (n >= 2) with a two-proportion z-test; a customer contributes to the pooled rate
    once per eligible order, so the test is approximate when repeat buyers dominate.

    Parameters
    ----------
    curve : output of :func:`repeat_purchase_curve`.
    alpha : significance level.
    min_eligible : minimum eligible customers on each side to judge.
    """
    need = {"eligible", "repeated"}
    if not need <= set(curve.columns):
        raise ValueError(f"curve needs columns {sorted(need)}")
    first = curve.loc[curve.index == 1]
    later = curve.loc[curve.index >= 2]
    k1, n1 = float(first["repeated"].sum()), float(first["eligible"].sum())
    k2, n2 = float(later["repeated"].sum()), float(later["eligible"].sum())
    p1 = k1 / n1 if n1 else np.nan
    p2 = k2 / n2 if n2 else np.nan
    if n1 < min_eligible or n2 < min_eligible:
        return RepeatVerdict(p1, p2, p2 - p1, np.nan, "insufficient",
                             f"Too few customers can be followed long enough to judge ({n1:.0f} after a first "
                             f"order, {n2:.0f} after later orders; at least {min_eligible} each are needed).")
    pooled = (k1 + k2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    p_value = float(2 * stats.norm.sf(abs(p2 - p1) / se)) if se > 0 else np.nan
    if p_value < alpha:
        trend = "increasing" if p2 > p1 else "decreasing"
    else:
        trend = "flat"
    base = (f"After a first order {p1:.0%} of customers order again within the window; after a second or "
            f"any later order (pooled) {p2:.0%} do")
    diff = f"{100 * (p2 - p1):+.0f} percentage points"
    if trend == "increasing":
        sentence = (f"{base}: each purchase does make the next more likely on this data, as the literature "
                    f"claims (difference {diff}, {p_text(p_value)}). The first repeat purchase is the "
                    "hurdle worth investing in.")
    elif trend == "decreasing":
        sentence = (f"{base}: on this data the claim that each purchase makes the next more likely does "
                    f"not hold - later returns are less likely (difference {diff}, {p_text(p_value)}).")
    else:
        sentence = (f"{base}: the difference ({diff}, {p_text(p_value)}) is not significant, so this "
                    "data neither confirms nor refutes that each purchase makes the next more likely.")
    return RepeatVerdict(p1, p2, p2 - p1, p_value, trend, sentence)


def acquisition_channels(orders: pd.DataFrame, customers: pd.DataFrame | None = None) -> pd.Series | None:
    """Acquisition channel per customer: the customers table's, else the first order's channel.

    Returns None when neither source exists.
    """
    if customers is not None and ACQUISITION_CHANNEL in customers and customers[ACQUISITION_CHANNEL].notna().any():
        return customers.dropna(subset=[CUSTOMER_ID]).drop_duplicates(CUSTOMER_ID).set_index(CUSTOMER_ID)[
            ACQUISITION_CHANNEL]
    if CHANNEL in orders:
        codes = customer_runs(orders)
        ts = orders[TIMESTAMP].to_numpy()
        step = np.diff(codes)
        if (step >= 0).all() and (ts[1:][step == 0] >= ts[:-1][step == 0]).all():  # already sorted (orders_table)
            new = np.r_[True, step != 0] if len(codes) else np.zeros(0, dtype=bool)
            first = orders.loc[new]
        else:
            first = orders.sort_values([CUSTOMER_ID, TIMESTAMP], kind="stable").drop_duplicates(CUSTOMER_ID)
        return first.set_index(CUSTOMER_ID)[CHANNEL].rename(ACQUISITION_CHANNEL)
    return None


# ----------------------------------------------------------------------------- orders, once


def _fast_ids(s: pd.Series) -> bool:
    """True for id columns the fast order table handles (text and integer ids)."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        return False
    if s.dtype == object:
        return pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")
    return pd.api.types.is_integer_dtype(s.dtype) or pd.api.types.is_string_dtype(s.dtype)


def _changes(s: pd.Series) -> np.ndarray:
    """Whether each value differs from the one before it (True for the first): runs of equal ids."""
    if len(s) == 0:
        return np.zeros(0, dtype=bool)
    if pd.api.types.is_string_dtype(s.dtype) and hasattr(s.array, "__arrow_array__"):
        import pyarrow as pa
        import pyarrow.compute as pc

        a = pa.array(s.array)  # arrow-backed text: compared by pyarrow, not one Python object at a time
        differs = pc.not_equal(a[1:], a[:-1]).to_numpy(zero_copy_only=False)
    else:
        v = s.to_numpy()
        differs = v[1:] != v[:-1]
    return np.r_[True, np.asarray(differs, dtype=bool)]


def _increasing(s: pd.Series) -> bool:
    """Whether the values rise strictly (so are distinct: order ids numbered in time order usually
    are), checked by comparing neighbours instead of hashing them all."""
    if len(s) < 2:
        return True
    if pd.api.types.is_string_dtype(s.dtype) and hasattr(s.array, "__arrow_array__"):
        import pyarrow as pa
        import pyarrow.compute as pc

        a = pa.array(s.array)
        return bool(pc.all(pc.less(a[:-1], a[1:])).as_py())
    v = s.to_numpy()
    try:
        return bool((v[:-1] < v[1:]).all())
    except TypeError:  # mixed objects: not comparable
        return False


def _build_orders(tx: pd.DataFrame, as_of) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`lclib.cohorts.orders_table` without sorting the order lines.

    Returns the same frame (columns, dtypes, row order, values: the amount sums run
    over each order's lines in the same order, so they are equal to the last bit),
    and the customers' dense codes in sort order (int64, one per order row).

    How: with the lines in time order (checked in one pass, else one stable argsort
    of the times) an order's first line holds its earliest time. When every line
    counts, the lines are in time order and each order's lines are contiguous with
    an id of its own (the usual export layout; checked), the orders are the runs of
    equal (customer, order) ids, found by comparing neighbours; otherwise the id
    columns are factorized (hash) and the (customer, order) code pairs hashed. Only
    the per-order table is sorted, by integer codes (customer ids factorized in text
    order); order ids are compared as text only to break ties of one customer's
    orders at the same instant.
    """
    ok = tx[CUSTOMER_ID].notna().to_numpy() & tx[TIMESTAMP].notna().to_numpy() & tx[ORDER_ID].notna().to_numpy()
    if as_of is not None:
        ok &= (tx[TIMESTAMP] < pd.Timestamp(as_of)).to_numpy()
    keep = None if ok.all() else np.flatnonzero(ok)  # line rows kept, in time order (None = all, as they are)
    ts = tx[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view("int64")
    if keep is not None:
        ts = ts[keep]
    if len(ts) > 1 and not (ts[1:] >= ts[:-1]).all():
        by_time = np.argsort(ts, kind="stable")
        keep = by_time if keep is None else keep[by_time]
        ts = ts[by_time]
    n = len(ts)

    runs = None
    if keep is None and n:
        run = _changes(tx[CUSTOMER_ID]) | _changes(tx[ORDER_ID])
        starts = np.flatnonzero(run)
        run_ids = tx[ORDER_ID].take(starts).reset_index(drop=True)
        if _increasing(run_ids) or run_ids.is_unique:  # each order is one run of lines
            runs = (run, starts, run_ids)
    if runs is not None:
        run, first_line, run_ids = runs
        gid = np.cumsum(run) - 1
        c_code, c_uni = pd.factorize(tx[CUSTOMER_ID].take(first_line), sort=True)
        g_c = c_code.astype("int64")

        def order_ids(groups):
            return run_ids.array.take(groups)
    else:
        def codes_of(name, sort=False):  # codes of the kept lines, in time order, and the uniques
            code, uniques = pd.factorize(tx[name], sort=sort)
            code = code.astype("int64", copy=False)
            return (code if keep is None else code[keep]), uniques

        c_code, c_uni = codes_of(CUSTOMER_ID, sort=True)
        o_code, o_uni = codes_of(ORDER_ID)
        gid = pd.factorize(c_code * max(len(o_uni), 1) + o_code)[0].astype("int64")
        first_line = np.empty(int(gid.max()) + 1 if n else 0, dtype="int64")
        first_line[gid[::-1]] = np.arange(n - 1, -1, -1)  # the last assignment wins: each group's first line
        g_c, g_o = c_code[first_line], o_code[first_line]

        def order_ids(groups):
            return o_uni.array.take(g_o[groups])
    G = len(first_line)
    # sums as orders_table makes them: each order's lines contiguous, in time order (pandas then adds
    # them with np.add.reduceat, not its compensated per-group loop: the same bits only this way)
    amt = tx[AMOUNT].to_numpy(dtype="float64", na_value=np.nan)
    amt = amt if keep is None else amt[keep]
    if runs is not None and not np.isnan(amt).any():
        amount = np.add.reduceat(amt, first_line) if n else amt  # what pandas runs on contiguous groups
    else:
        g_sorted = gid
        if n > 1 and not (gid[1:] >= gid[:-1]).all():
            perm = np.argsort(gid, kind="stable")
            amt, g_sorted = amt[perm], gid[perm]
        amount = pd.Series(amt).groupby(g_sorted, sort=False).sum().to_numpy()
    g_t = ts[first_line]
    # by customer, time ...: groups are numbered in time order (by their first line), so the group
    # number breaks ties of the customer code as the time would (one unique integer key, no stable sort)
    rank = np.argsort(g_c * max(G, 1) + np.arange(G), kind="quicksort") if G else np.zeros(0, "int64")
    s_c, s_t = g_c[rank], g_t[rank]
    tie = (s_c[1:] == s_c[:-1]) & (s_t[1:] == s_t[:-1])
    if tie.any():  # ... and order id (text order) among one customer's orders at the same instant
        rows = np.flatnonzero(np.r_[tie, False] | np.r_[False, tie])
        block = (np.cumsum(np.r_[True, ~tie]) - 1)[rows]
        id_rank = pd.factorize(pd.Series(order_ids(rank[rows])), sort=True)[0]
        rank[rows] = rank[rows][np.lexsort((id_rank, block))]
    new_c = np.r_[True, s_c[1:] != s_c[:-1]] if G else np.zeros(0, bool)
    start = np.maximum.accumulate(np.where(new_c, np.arange(G), 0)) if G else np.zeros(0, "int64")
    out = pd.DataFrame({
        CUSTOMER_ID: pd.Series(c_uni.array.take(s_c)).astype(tx[CUSTOMER_ID].dtype),
        ORDER_ID: pd.Series(order_ids(rank)).astype(tx[ORDER_ID].dtype),
        TIMESTAMP: pd.Series(g_t[rank].view("datetime64[ns]")).astype(tx[TIMESTAMP].dtype),
        AMOUNT: amount[rank],
        "n": (np.arange(G) - start + 1).astype("int64"),
    })
    if CHANNEL in tx:
        ch = tx[CHANNEL]
        has = ch.notna().to_numpy()
        if keep is not None:
            has = has[keep]
        if runs is not None and has.all():
            line = first_line[rank]
        else:  # each order's first line with a channel (-1: none)
            line = np.full(G, -1, dtype="int64")
            idx = np.flatnonzero(has)
            line[gid[idx][::-1]] = idx[::-1]
            line = line[rank]
        if keep is not None:
            line = np.where(line >= 0, keep[np.maximum(line, 0)], -1)
        out[CHANNEL] = ch.take(line).reset_index(drop=True) if (line >= 0).all() else \
            pd.Series(ch.array.take(line, allow_fill=True))
    return out, (np.cumsum(new_c) - 1).astype("int64")


_ORDERS_CACHE: dict = {}


def _forget(ref) -> None:
    """Drop the kept orders when their transactions frame is garbage-collected."""
    entry = _ORDERS_CACHE.get("entry")
    if entry is not None and entry[0] is ref:
        _ORDERS_CACHE.pop("entry", None)


def _fingerprint(tx: pd.DataFrame) -> tuple:
    """Cheap identity of a transactions frame: shape, columns and two checksums."""
    ts = tx[TIMESTAMP].to_numpy(dtype="datetime64[ns]").view("int64")
    amount = pd.to_numeric(tx[AMOUNT], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return (tx.shape, tuple(tx.columns), int(ts.sum(dtype="int64")), float(np.nansum(amount)))


def orders_of(transactions: pd.DataFrame, as_of=None, codes: bool = False):
    """:func:`lclib.cohorts.orders_table` of the order lines, computed once per frame.

    The same table as ``orders_table(transactions, as_of)`` (columns, dtypes, row
    order and values), built without sorting the lines (see :func:`_build_orders`)
    and kept for the last transactions frame and ``as_of`` asked for: the journey,
    its touchpoints, the people table and both state tables all start from it, so a
    report builds it once. A frame changed in place since (other shape, times or
    amounts) is rebuilt. Ids other than text or integers (categoricals, mixed
    objects) go through :func:`~lclib.cohorts.orders_table` itself.

    Parameters
    ----------
    transactions : order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).
    as_of : only lines with ``timestamp < as_of`` (default: all).
    codes : also return the customers' dense codes (int64 per order row, in
        customer-id order), for group-bys without hashing ids again.

    Returns
    -------
    DataFrame, or (DataFrame, ndarray) with ``codes``.
    Treat the frame as read-only: it is shared between callers.
    """
    _require(transactions, (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT))
    stamp = None if as_of is None else pd.Timestamp(as_of)
    if not (isinstance(transactions[TIMESTAMP].dtype, np.dtype) and _fast_ids(transactions[CUSTOMER_ID])
            and _fast_ids(transactions[ORDER_ID])):  # time zones, categorical or mixed ids: the reference
        out = orders_table(transactions, stamp)
        c = pd.factorize(out[CUSTOMER_ID])[0].astype("int64")  # run numbers: rows are by customer
        return (out, c) if codes else out
    hit = _ORDERS_CACHE.get("entry")
    fp = _fingerprint(transactions)
    if hit is not None and hit[0]() is transactions and hit[1] == stamp and hit[2] == fp:
        out, c = hit[3], hit[4]
    else:
        _ORDERS_CACHE.pop("entry", None)
        out, c = _build_orders(transactions, stamp)
        _ORDERS_CACHE["entry"] = (weakref.ref(transactions, _forget), stamp, fp, out, c)
    return (out, c) if codes else out
