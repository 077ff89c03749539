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
    and :func:`lclib.engine.rfm_table.rfm_table`).
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

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from lclib.io.columns import ACQUISITION_CHANNEL, CHANNEL, CUSTOMER_ID, TIMESTAMP
from lclib.analysis.wording import p_text
from lclib.analysis.intervals import wilson_interval
from lclib.engine.contracts import resolve_as_of
from lclib.engine.orders import customer_runs, orders_table, shift_within


# ----------------------------------------------------------------------------- helpers




# ----------------------------------------------------------------------------- cohorts


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


def left_truncated_cohorts(cells: pd.DataFrame, data_start, days: int) -> list:
    """Cohorts mostly made of first orders in the data's first ``days`` days.

    The data start in the middle of customers' histories: a customer whose first order
    *in the data* falls in its first weeks may have bought for years (left truncation).
    A cohort is flagged when at least half of its observed days (from the data start or
    its month's start, to its month's end) fall in those first ``days`` days: it mixes
    new and long-standing customers and keeps far more of them, so it is left out of
    pooled curves and marked in tables and charts. ``days = 0``: none.

    Examples
    --------
    >>> cells = pd.DataFrame({"cohort": pd.PeriodIndex(["2024-01", "2024-02", "2024-03"], freq="M")})
    >>> left_truncated_cohorts(cells, pd.Timestamp("2024-01-10"), 30)  # Feb: 8 of 29 days in the window
    [Period('2024-01', 'M')]
    >>> left_truncated_cohorts(cells, pd.Timestamp("2024-01-25"), 30)  # Feb: 23 of 29 days
    [Period('2024-01', 'M'), Period('2024-02', 'M')]
    """
    if days <= 0:
        return []
    start = pd.Timestamp(data_start)
    end = start + pd.Timedelta(days=days)
    out = []
    for c in sorted(pd.PeriodIndex(pd.unique(cells["cohort"]), freq="M")):  # months, not customers
        lo, hi = max(c.start_time, start), (c + 1).start_time
        inside = (min(hi, end) - lo) / (hi - lo) if hi > lo else 0.0
        if inside >= 0.5:
            out.append(c)
    return out


def left_truncation_sentence(cohorts: list, days: int) -> str:
    """Say which cohorts :func:`left_truncated_cohorts` left out of the pooled curves, and why ("" for none)."""
    if not cohorts:
        return ""
    many = len(cohorts) > 1
    names = ", ".join(f"{c:%B %Y}" for c in cohorts)
    return (f"The cohort{'s' if many else ''} of {names} (marked *) {'fall' if many else 'falls'} mostly within the "
            f"data's first {days} days, so {'they' if many else 'it'} also {'hold' if many else 'holds'} customers who "
            f"bought before the data begin and return more often than new ones: {'they are' if many else 'it is'} left "
            "out of the pooled curves (the number of days is a setting of the configuration).")


def retention_curve(cells: pd.DataFrame, value: str = "customers", min_cohorts: int = 1,
                    exclude=()) -> pd.DataFrame:
    """Retention by months since first purchase, pooled over the cohorts that can show it.

    Parameters
    ----------
    cells : output of :func:`cohort_cells`.
    value : ``"customers"`` or ``"revenue"`` (see :func:`retention_triangle`).
    min_cohorts : periods observable in fewer cohorts are left out.
    exclude : cohorts left out of the pooling (e.g. :func:`left_truncated_cohorts`).

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
    seen = cells.loc[cells["observable"] & ~cells["cohort"].isin(list(exclude))]
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
    p_value = float(2 * ndtr(-abs(p2 - p1) / se)) if se > 0 else np.nan  # 2 * scipy.stats.norm.sf(|z|)
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


