"""Churn from the data: the inactivity window, churn rates, time to churn, drop-off and what-ifs.

Pipeline::

    window = inactivity_window(transactions, cfg.churn.inactivity_days, cfg.churn.inactivity_quantile)
    rates = churn_rate_by_period(transactions, window.days, as_of)       # monthly churn with intervals
    life = churn_lifetimes(transactions, window.days, as_of, customers)  # one row per customer
    life_km = sample_lifetimes(life, cfg.churn.max_survival_customers)    # random sample above the cap
    km = kaplan_meier(life_km, by="acquisition_channel")                  # lifelines KaplanMeierFitter
    test = logrank_by(life_km, "acquisition_channel")                     # lifelines log-rank test
    monthly = pooled_churn_rate(rates, recent_periods=12)                 # recent churn rate, one number
    active = active_customers(transactions, window.days, as_of)           # the base that can be kept
    worth = churn_what_if(rates, len(active), reduction=0.05, horizon_months=12, margin=0.3)
    reached, skipped = lclib.analysis.journey.stage_entries(data.tables, stages)
    drop = stage_dropoff(reached, stages, targets, by="channel")          # funnel losses with intervals
    gain = stage_improvement(reached, stages, targets, value="revenue")   # stage worth improving most

The findings of report 04_churn in words are in :mod:`lclib.analysis.churn_findings`.

Definitions
-----------
Order, as_of
    As in :mod:`lclib.analysis.cohorts`: one distinct order id at its earliest line; only
    transactions before ``as_of`` (default: midnight after the last one) count.
Inter-purchase gap
    Days between a customer's consecutive orders.
Inactivity window ``W``
    ``churn.inactivity_days`` when set, else the ``churn.inactivity_quantile``
    (0.9) quantile of all inter-purchase gaps, rounded up to whole days: 90 % of
    returns happen within ``W`` days, so a customer silent for longer is unlikely
    to be merely between purchases. The observed gaps are biased short (a long gap
    that started recently is not finished yet), so ``W`` errs on the short side.
Churn
    A customer churns after an order when no further order follows within ``W``
    days. The churn becomes known ``W`` days after that order, the *churn date*;
    it can only be observed when the churn date is on or before ``as_of``.
    Customers who come back after churning count as churned, then active again.
Active at a date ``s``
    The customer's last order before ``s`` is less than ``W`` days old.
Churn rate of a period ``[s, e)``
    Among customers active at ``s``, the share whose churn date falls before ``e``
    with no order in between; only periods that have ended by ``as_of``.
Active lifetime (survival analysis)
    Days from a customer's first order to the last order before their first churn.
    Observed when that churn date is on or before ``as_of``; otherwise censored at
    ``as_of - W - first order`` (the latest point by which the end of the lifetime
    would have been seen). Customers whose first order is less than ``W`` days old
    carry no information and are left out. This censoring depends only on the first
    order date, so it is non-informative, as Kaplan-Meier requires.

Everything is vectorized over customers; loops run over periods, stages or groups.
"""

from __future__ import annotations

import contextlib
import math
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from lclib.analysis.cohorts import acquisition_channels
from lclib.engine.orders import customer_runs, orders_table, shift_within
from lclib.engine.contracts import resolve_as_of
from lclib.analysis.intervals import wilson_interval
from lclib.io.columns import ACQUISITION_CHANNEL, AMOUNT, CHANNEL, CUSTOMER_ID, TIMESTAMP
from lclib.analysis.wording import p_text

_DAY = pd.Timedelta(days=1)
#: Window used when the data has too few repeat purchases to derive one.
FALLBACK_WINDOW_DAYS = 365
#: Fewer inter-purchase gaps than this and the window falls back.
MIN_GAPS = 30
#: Relative conversion lift used to rank stages when all of them meet their targets.
IMPROVEMENT_LIFT = 0.10


# ----------------------------------------------------------------------------- inactivity window


@dataclass
class InactivityWindow:
    """The churn inactivity window and where it came from.

    Attributes
    ----------
    days : int
        The window ``W`` in whole days.
    source : str
        ``"config"`` (``churn.inactivity_days``), ``"data"`` (quantile of gaps) or
        ``"fallback"`` (too few gaps: :data:`FALLBACK_WINDOW_DAYS`).
    quantile : float
        The quantile used (or that would have been used).
    gaps : Series
        Inter-purchase gaps in days (float), one per repeat order (``gap_days`` of
        :func:`inter_purchase_gaps`, without its customer index).
    share_within : float
        Share of observed gaps shorter than ``days``.
    sentence : str
        Plain-words description for a report.
    """

    days: int
    source: str
    quantile: float
    gaps: pd.Series
    share_within: float
    sentence: str


def inter_purchase_gaps(transactions: pd.DataFrame, as_of=None, orders: pd.DataFrame | None = None) -> pd.Series:
    """Days between consecutive orders of the same customer.

    ``orders``: ``orders_table(transactions, as_of)`` when already computed.

    Returns
    -------
    Series of float days, one per order after a customer's first, indexed by
    ``customer_id`` and named ``gap_days``.
    """
    if orders is None:
        orders = orders_table(transactions, resolve_as_of(transactions, as_of))
    days, keep = _gap_days(orders)
    return pd.Series(days, index=pd.Index(orders.loc[keep, CUSTOMER_ID], name=CUSTOMER_ID),
                     name="gap_days", dtype="float64")


def _gap_days(orders: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(float days between consecutive orders of a customer, bool per order: it has a previous one)."""
    prev = shift_within(orders[TIMESTAMP], customer_runs(orders), 1)
    gaps = ((orders[TIMESTAMP] - prev) / _DAY).to_numpy(dtype="float64", na_value=np.nan)
    keep = ~np.isnan(gaps)
    return gaps[keep], keep


def inactivity_window(transactions: pd.DataFrame, inactivity_days: int | None = None,
                      quantile: float = 0.9, as_of=None, min_gaps: int = MIN_GAPS,
                      orders: pd.DataFrame | None = None) -> InactivityWindow:
    """Decide the churn inactivity window from the inter-purchase-time distribution.

    Parameters
    ----------
    transactions : order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).
    inactivity_days : ``churn.inactivity_days``; when given it is used as is.
    quantile : ``churn.inactivity_quantile``, in (0, 1).
    as_of : exclusive end of the data.
    min_gaps : below this many gaps the window falls back to :data:`FALLBACK_WINDOW_DAYS`.
    orders : ``orders_table(transactions, as_of)`` when already computed.

    Returns
    -------
    InactivityWindow
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    if inactivity_days is not None and not inactivity_days > 0:
        raise ValueError(f"inactivity_days must be positive, got {inactivity_days!r}")
    if orders is None:
        orders = orders_table(transactions, resolve_as_of(transactions, as_of))
    gaps = pd.Series(_gap_days(orders)[0], name="gap_days")  # without the ids (32M of them at 100M lines)
    q_days = float(gaps.quantile(quantile)) if len(gaps) else math.nan
    if inactivity_days is not None:
        days, source = int(inactivity_days), "config"
        sentence = (f"A customer counts as churned after **{days} days** without an order, as set in the "
                    f"configuration"
                    + (f"; {quantile:.0%} of returns in this data come within {q_days:.0f} days." if len(gaps)
                       else "."))
    elif len(gaps) < min_gaps:
        days, source = FALLBACK_WINDOW_DAYS, "fallback"
        sentence = (f"Only {len(gaps)} repeat purchases exist - too few to read a purchase cycle from - so a "
                    f"customer counts as churned after **{days} days** without an order (a default; the number of "
                    "days can be set in the configuration).")
    else:
        days, source = max(1, math.ceil(q_days)), "data"
        sentence = (f"{quantile:.0%} of returning customers come back within **{days} days** of their previous "
                    f"order (from {len(gaps):,} repeat purchases), so a customer silent for longer counts as "
                    "churned.")
    share = float((gaps < days).mean()) if len(gaps) else math.nan
    return InactivityWindow(days, source, quantile, gaps, share, sentence)


# ----------------------------------------------------------------------------- churn events and rates


def _order_spells(orders: pd.DataFrame, window: pd.Timedelta, as_of: pd.Timestamp,
                  codes: np.ndarray | None = None) -> pd.DataFrame:
    """Orders with their next order time and whether a churn follows them."""
    nxt = shift_within(orders[TIMESTAMP], customer_runs(orders) if codes is None else codes, -1)
    gap = nxt - orders[TIMESTAMP]
    churn_after = (gap >= window) | (nxt.isna() & (orders[TIMESTAMP] + window <= as_of))
    return orders.assign(next_order=nxt, churn_after=churn_after.to_numpy(),
                         churn_date=(orders[TIMESTAMP] + window).where(churn_after))


def churn_rate_by_period(transactions: pd.DataFrame, window_days: float, as_of=None,
                         freq: str = "M", orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """Churn rate per calendar period, with 95 % Wilson intervals.

    Parameters
    ----------
    transactions : order lines.
    window_days : the inactivity window ``W`` in days.
    as_of : exclusive end of the data.
    freq : pandas period frequency, ``"M"`` (months) or ``"Q"`` (quarters).
    orders : ``orders_table(transactions, as_of)`` when already computed.

    Returns
    -------
    DataFrame
        Index ``period`` (Period), only periods that have ended by ``as_of``, start
        after the first order and end after ``first order + W`` (before that nobody
        can have churned yet: a warm-up whose rates would be 0 by construction); columns ``active_start`` (customers active at
        the period start), ``churned`` (of them, churned during the period),
        ``churn_rate``, ``lower``, ``upper`` and ``base_revenue`` (revenue in the
        period from the customers active at its start).
    """
    if not window_days > 0:
        raise ValueError(f"window_days must be positive, got {window_days!r}")
    as_of = resolve_as_of(transactions, as_of)
    window = pd.Timedelta(days=float(window_days))
    if orders is None:
        orders = orders_table(transactions, as_of)
    codes = customer_runs(orders)
    orders = _order_spells(orders, window, as_of, codes)
    cols = ["active_start", "churned", "churn_rate", "lower", "upper", "base_revenue"]
    if orders.empty:
        return pd.DataFrame(columns=cols, index=pd.PeriodIndex([], freq=freq, name="period"))
    first = orders[TIMESTAMP].min()
    periods = pd.period_range(first.to_period(freq) + 1, (as_of - pd.Timedelta(microseconds=1)).to_period(freq),
                              freq=freq, name="period")
    periods = periods[(periods.end_time < as_of) & (periods.end_time >= first + window)]
    # numpy on the time axis (nanoseconds); missing next order / churn date = never
    never = np.iinfo("int64").max
    t = orders[TIMESTAMP].to_numpy().astype("datetime64[ns]").view("int64")
    nxt = orders["next_order"].to_numpy().astype("datetime64[ns]").view("int64").copy()
    nxt[orders["next_order"].isna().to_numpy()] = never
    cdate = orders["churn_date"].to_numpy().astype("datetime64[ns]").view("int64").copy()
    cdate[~orders["churn_after"].to_numpy()] = never
    w = window.value
    amount = orders[AMOUNT].to_numpy()
    by_time = np.argsort(t, kind="stable")
    t_sorted = t[by_time]
    flag = np.zeros(int(codes.max()) + 1 if len(codes) else 0, dtype=bool)
    rows = []
    for p in periods:  # a loop over a handful of periods
        s = p.start_time.as_unit("ns").value
        e = (p.end_time + pd.Timedelta(microseconds=1)).as_unit("ns").value
        # the order that is each customer's latest before s, still inside the window at s
        cand = by_time[np.searchsorted(t_sorted, s - w, side="right"):np.searchsorted(t_sorted, s, side="left")]
        act = cand[nxt[cand] >= s]
        n_churned = int((cdate[act] < e).sum())
        flag[codes[act]] = True
        inside = np.sort(by_time[np.searchsorted(t_sorted, s, side="left"):np.searchsorted(t_sorted, e, side="left")])
        inside = inside[flag[codes[inside]]]
        flag[codes[act]] = False
        rows.append((len(act), n_churned, float(pd.Series(amount[inside]).sum())))
    out = pd.DataFrame(rows, columns=["active_start", "churned", "base_revenue"], index=periods)
    out["churn_rate"] = (out["churned"] / out["active_start"]).where(out["active_start"] > 0)
    out["lower"], out["upper"] = wilson_interval(out["churned"], out["active_start"])
    return out[cols]


@dataclass
class PooledChurn:
    """Churn rate pooled over recent periods (see :func:`pooled_churn_rate`).

    Attributes: ``rate`` (churned / active at the periods' starts), ``lower``,
    ``upper`` (95 % Wilson interval), ``periods`` (how many were pooled), ``first``,
    ``last`` (the first and last period pooled; None when there is none),
    ``active_start`` and ``churned`` (summed over the periods).
    """

    rate: float
    lower: float
    upper: float
    periods: int
    first: pd.Period | None
    last: pd.Period | None
    active_start: int
    churned: int


def pooled_churn_rate(rates: pd.DataFrame, recent_periods: int = 12) -> PooledChurn:
    """The churn rate of the last ``recent_periods`` periods with active customers, pooled.

    Pooling weights each period by its active customers (``sum churned / sum
    active_start``), so it is the rate per customer-period of the recent past.

    Parameters
    ----------
    rates : :func:`churn_rate_by_period` output.
    recent_periods : how many of the latest periods to pool.
    """
    need = {"active_start", "churned"}
    if not need <= set(rates.columns):
        raise ValueError(f"rates need columns {sorted(need)}; build them with churn_rate_by_period")
    if recent_periods < 1:
        raise ValueError(f"recent_periods must be at least 1, got {recent_periods!r}")
    recent = rates.loc[rates["active_start"] > 0].tail(recent_periods)
    n, k = int(recent["active_start"].sum()), int(recent["churned"].sum())
    lo, hi = wilson_interval([k], [n])
    return PooledChurn(k / n if n else np.nan, float(lo[0]), float(hi[0]), len(recent),
                       recent.index[0] if len(recent) else None, recent.index[-1] if len(recent) else None, n, k)


def active_customers(transactions: pd.DataFrame, window_days: float, as_of=None,
                     orders: pd.DataFrame | None = None) -> pd.Index:
    """Customers active at ``as_of``: last order less than ``window_days`` before it.

    ``orders``: ``orders_table(transactions, as_of)`` when already computed.
    """
    as_of = resolve_as_of(transactions, as_of)
    if orders is None:
        orders = orders_table(transactions, as_of)
    codes = customer_runs(orders)  # numbers, not a group-by of the id strings (40M orders at 100M lines)
    ts = orders[TIMESTAMP].to_numpy()
    new = codes[1:] != codes[:-1]
    if len(codes) and (codes[1:] >= codes[:-1]).all() and ((ts[1:] >= ts[:-1]) | new).all():
        ends = np.r_[np.flatnonzero(new), len(codes) - 1]  # sorted by customer and time: the last row is the last order
        last, heads = ts[ends], ends
    else:
        last = pd.Series(ts).groupby(codes, sort=True).max().to_numpy()
        heads = pd.Series(np.arange(len(codes))).groupby(codes, sort=True).first().to_numpy()
    live = last + np.timedelta64(pd.Timedelta(days=float(window_days))) > np.datetime64(as_of)
    ids = orders[CUSTOMER_ID].take(heads[live])
    return pd.Index(ids.sort_values().array, name=CUSTOMER_ID)


# ----------------------------------------------------------------------------- survival


def churn_lifetimes(transactions: pd.DataFrame, window_days: float, as_of=None,
                    customers: pd.DataFrame | None = None, cohort_freq: str = "Q",
                    orders: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per customer: active lifetime until first churn, censored as in the module doc.

    Parameters
    ----------
    transactions : order lines.
    window_days : the inactivity window ``W``.
    as_of : exclusive end of the data.
    customers : optional customers table; its ``acquisition_channel`` is used when
        present, else the channel of the first order (transactions' ``channel``).
    cohort_freq : period of the acquisition cohort (month of first order ``"M"``,
        quarter ``"Q"``).
    orders : ``orders_table(transactions, as_of)`` when already computed.

    Returns
    -------
    DataFrame
        Index ``customer_id``; columns ``first_purchase``, ``lifetime_days`` (float,
        >= 0), ``churned`` (bool: the end was observed), ``cohort`` (Period) and
        ``acquisition_channel`` (str, ``"unknown"`` when not known; absent when
        neither source exists). Customers whose first order is less than ``W``
        days before ``as_of`` are left out.
    """
    as_of = resolve_as_of(transactions, as_of)
    window = pd.Timedelta(days=float(window_days))
    if orders is None:
        orders = orders_table(transactions, as_of)
    codes = customer_runs(orders)  # rises with the sorted customer ids
    orders = _order_spells(orders, window, as_of, codes)
    key = pd.Series(codes, index=orders.index)
    first = orders[TIMESTAMP].groupby(key, sort=True).min()
    churn_after = orders["churn_after"].to_numpy()
    end = orders.loc[churn_after, TIMESTAMP].groupby(key[churn_after], sort=True).min()
    end = end.reindex(first.index)
    firsts = np.flatnonzero(np.r_[True, np.diff(codes) != 0]) if len(codes) else np.zeros(0, dtype=np.int64)
    first.index = end.index = pd.Index(orders[CUSTOMER_ID].iloc[firsts], name=CUSTOMER_ID)
    horizon = (as_of - window - first) / _DAY
    out = pd.DataFrame({"first_purchase": first,
                        "lifetime_days": ((end - first) / _DAY).fillna(horizon),
                        "churned": end.notna()})
    followed = (horizon >= 0).to_numpy()
    out = out.loc[followed]
    out["cohort"] = out["first_purchase"].dt.to_period(cohort_freq)
    if (customers is None or ACQUISITION_CHANNEL not in customers or customers[ACQUISITION_CHANNEL].isna().all()) \
            and CHANNEL in orders:  # the first order's channel, read off the sorted orders
        channel = orders[CHANNEL].iloc[firsts[followed]]
        out[ACQUISITION_CHANNEL] = channel.fillna("unknown").astype("str").to_numpy()
    else:
        channel = acquisition_channels(orders, customers)
        if channel is not None:
            out[ACQUISITION_CHANNEL] = channel.reindex(out.index).fillna("unknown").astype("str")
    out.index.name = CUSTOMER_ID
    return out


def sample_lifetimes(lifetimes: pd.DataFrame, max_customers: int | None, random_state: int = 0) -> pd.DataFrame:
    """A uniform random sample of ``max_customers`` rows of :func:`churn_lifetimes` (all rows when fewer).

    Kaplan-Meier curves and log-rank tests on a few hundred thousand customers are as
    precise as anyone can read them; drawing them on millions costs time and memory.
    The sample keeps the input's order and depends only on ``random_state``
    (``churn.random_state``); ``max_customers`` is ``churn.max_survival_customers``.
    """
    if max_customers is None or len(lifetimes) <= max_customers:
        return lifetimes
    rng = np.random.default_rng(random_state)
    rows = np.sort(rng.choice(len(lifetimes), size=int(max_customers), replace=False))
    return lifetimes.iloc[rows]


@contextlib.contextmanager
def _quiet_lifelines():
    """lifelines (0.30) calls pandas APIs deprecated in pandas 3: keep that noise out of reports."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def kaplan_meier(lifetimes: pd.DataFrame, by: str | None = None, min_customers: int = 20) -> pd.DataFrame:
    """Kaplan-Meier curves of the active lifetime, overall or per group (lifelines).

    Parameters
    ----------
    lifetimes : output of :func:`churn_lifetimes`.
    by : grouping column (e.g. ``"acquisition_channel"``, ``"cohort"``), or None.
    min_customers : groups with fewer customers are left out.

    Returns
    -------
    DataFrame
        Long format: ``group`` (str; ``"all"`` without ``by``), ``days`` (timeline),
        ``survival`` (share still active), ``lower``, ``upper`` (95 % exponential
        Greenwood intervals, lifelines' default), ``at_risk``. One row per distinct
        time plus time 0. Groups are ordered by size (cohorts,
        a Period column, in time order).
    """
    with _quiet_lifelines():
        from lifelines import KaplanMeierFitter

    groups = _groups(lifetimes, by, min_customers)
    parts = []
    for name, part in groups:  # a loop over a handful of groups
        with _quiet_lifelines():
            km = KaplanMeierFitter().fit(part["lifetime_days"].to_numpy(), part["churned"].to_numpy(), label="survival")
        ci = km.confidence_interval_survival_function_
        at_risk = km.event_table["at_risk"].reindex(km.timeline)
        parts.append(pd.DataFrame({
            "group": str(name), "days": km.timeline,
            "survival": km.survival_function_["survival"].to_numpy(),
            "lower": ci.iloc[:, 0].to_numpy(), "upper": ci.iloc[:, 1].to_numpy(),
            "at_risk": at_risk.to_numpy(),
        }))
    if not parts:
        return pd.DataFrame(columns=["group", "days", "survival", "lower", "upper", "at_risk"])
    return pd.concat(parts, ignore_index=True)


def lifetime_summary(lifetimes: pd.DataFrame, by: str | None = None, min_customers: int = 20,
                     at_days: Sequence[float] = (0, 90, 180, 365)) -> pd.DataFrame:
    """Per group: customers, churn events, median active lifetime and survival at given days.

    Returns
    -------
    DataFrame
        Index ``group``; columns ``customers``, ``churned``, ``median_days`` (inf
        when the curve never falls below one half) and ``survival_<d>d`` per ``at_days``
        (share still active d days after the first order; NaN past the data).
    """
    with _quiet_lifelines():
        from lifelines import KaplanMeierFitter

    rows = {}
    for name, part in _groups(lifetimes, by, min_customers):
        with _quiet_lifelines():
            km = KaplanMeierFitter().fit(part["lifetime_days"].to_numpy(), part["churned"].to_numpy())
            at = km.survival_function_at_times(list(at_days)).to_numpy()
        last = float(part["lifetime_days"].max())
        row = {"customers": len(part), "churned": int(part["churned"].sum()),
               "median_days": float(km.median_survival_time_)}
        row.update({f"survival_{d:g}d": (v if d <= last else np.nan) for d, v in zip(at_days, at)})
        rows[str(name)] = row
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "group"
    return out


def _groups(lifetimes: pd.DataFrame, by: str | None, min_customers: int):
    need = {"lifetime_days", "churned"} | ({by} if by else set())
    missing = need - set(lifetimes.columns)
    if missing:
        raise ValueError(f"lifetimes lack column(s) {sorted(missing)}; build them with churn_lifetimes")
    if by is None:
        return [("all", lifetimes)] if len(lifetimes) >= min_customers else []
    sizes = lifetimes[by].value_counts()
    if isinstance(lifetimes[by].dtype, pd.PeriodDtype):  # cohorts: in time order, not by size
        sizes = sizes.sort_index()
    keep = [k for k in sizes.index if sizes[k] >= min_customers]
    return [(k, lifetimes.loc[(lifetimes[by] == k).to_numpy()]) for k in keep]


@dataclass
class LogRank:
    """Log-rank test of equal lifetime curves across groups (lifelines).

    Attributes: ``statistic`` (chi-squared), ``dof``, ``p_value``, ``groups`` (the
    groups compared), ``sentence`` (in words).
    """

    statistic: float
    dof: int
    p_value: float
    groups: list[str]
    sentence: str


def logrank_by(lifetimes: pd.DataFrame, by: str, min_customers: int = 20, alpha: float = 0.05) -> LogRank:
    """Multivariate log-rank test: do the groups' active lifetimes differ?

    Groups with fewer than ``min_customers`` customers are left out. With fewer
    than two groups nothing is tested (NaN).
    """
    groups = _groups(lifetimes, by, min_customers)
    names = [str(k) for k, _ in groups]
    if len(groups) < 2:
        return LogRank(np.nan, 0, np.nan, names, f"Fewer than two {by} groups with {min_customers}+ customers: "
                       "no comparison possible.")
    with _quiet_lifelines():
        from lifelines.statistics import multivariate_logrank_test

        data = pd.concat([p for _, p in groups])
        res = multivariate_logrank_test(data["lifetime_days"].to_numpy(), data[by].astype("str").to_numpy(),
                                       data["churned"].to_numpy())
    p = float(res.p_value)
    label = by.replace("_", " ")
    if p < alpha:
        sentence = (f"Active lifetimes differ between the {len(names)} {label}s (log-rank test, {p_text(p)}): "
                    f"where a customer came from predicts how long they stay.")
    else:
        sentence = (f"The {len(names)} {label}s show no significant difference in how long customers stay "
                    f"(log-rank test, {p_text(p)}): differences between the curves may be chance.")
    return LogRank(float(res.test_statistic), int(res.degrees_of_freedom), p, names, sentence)


# ----------------------------------------------------------------------------- what-if


@dataclass
class WhatIf:
    """What a churn reduction is worth (see :func:`churn_what_if`).

    Attributes
    ----------
    reduction : float
        Relative churn reduction, e.g. 0.05 = monthly churn rate x 0.95.
    monthly_churn : float
        Baseline monthly churn rate (pooled over the recent months used).
    monthly_churn_reduced : float
    active_customers : int
        Customers active at ``as_of`` (the base that is kept or lost).
    revenue_per_active_month : float
        Revenue per active customer per month (recent months).
    horizon_months, margin, discount_rate_annual : the assumptions used.
    customers_kept : float
        Extra customers still active at the horizon.
    extra_revenue, extra_margin : float
        Discounted extra revenue and margin over the horizon from the current base.
    baseline_revenue, baseline_margin : float
        Discounted revenue and margin of the current base without the reduction.
    margin_uplift : float
        ``extra_margin / baseline_margin``.
    curve : DataFrame
        Index ``reduction`` (0 .. 0.25), columns ``customers_kept``, ``extra_revenue``,
        ``extra_margin``, ``margin_uplift``.
    assumptions : list of str
        Plain-words assumptions for the report.
    """

    reduction: float
    monthly_churn: float
    monthly_churn_reduced: float
    active_customers: int
    revenue_per_active_month: float
    horizon_months: int
    margin: float
    discount_rate_annual: float
    customers_kept: float
    extra_revenue: float
    extra_margin: float
    baseline_revenue: float
    baseline_margin: float
    margin_uplift: float
    curve: pd.DataFrame
    assumptions: list[str] = field(default_factory=list)


def _base_value(n0: float, churn: np.ndarray, arpu: float, horizon: int, monthly_discount: float):
    """Survivors at the horizon and discounted revenue over it, for each churn rate."""
    h = np.arange(1, horizon + 1)
    alive_start = (1.0 - churn[:, None]) ** (h[None, :] - 1)  # share of the base active at month h's start
    revenue = n0 * arpu * (alive_start * (1 + monthly_discount) ** -h[None, :]).sum(axis=1)
    return n0 * (1.0 - churn) ** horizon, revenue


def churn_what_if(rates: pd.DataFrame, active: int, reduction: float, horizon_months: int, margin: float,
                  discount_rate_annual: float = 0.0, recent_periods: int = 12, currency: str = "") -> WhatIf:
    """Value of cutting the churn rate by ``reduction`` (relative) on the current customer base.

    Parameters
    ----------
    rates : output of :func:`churn_rate_by_period` with monthly periods.
    active : customers active at ``as_of`` (:func:`active_customers`).
    reduction : relative cut in the monthly churn rate (``churn.what_if_reduction``).
    horizon_months : ``clv.horizon_months``.
    margin : ``analysis.margin``, gross margin as a share of revenue.
    discount_rate_annual : ``clv.discount_rate_annual``; monthly revenue is discounted
        at ``(1 + d)^(1/12) - 1`` per month, at each month's end.
    recent_periods : the last this many months set the churn rate and the revenue
        per active customer.
    currency : label of money amounts in the ``assumptions`` sentences.

    Returns
    -------
    WhatIf

    Notes
    -----
    Model: the active base decays geometrically, ``N_h = N_0 (1 - c)^h``; each
    customer active at a month's start brings the recent revenue per active
    customer-month that month. Only the current base is valued: no new customers,
    no comeback of churned customers, constant spend and margin.
    """
    if not 0 <= reduction < 1:
        raise ValueError(f"reduction must be in [0, 1), got {reduction!r}")
    if horizon_months < 1:
        raise ValueError(f"horizon_months must be at least 1, got {horizon_months!r}")
    need = {"active_start", "churned", "base_revenue"}
    if not need <= set(rates.columns):
        raise ValueError(f"rates need columns {sorted(need)}; build them with churn_rate_by_period")
    recent = rates.loc[rates["active_start"] > 0].tail(recent_periods)
    exposure = float(recent["active_start"].sum())
    churn = pooled_churn_rate(rates, recent_periods).rate
    arpu = float(recent["base_revenue"].sum()) / exposure if exposure else np.nan
    monthly_discount = (1.0 + discount_rate_annual) ** (1.0 / 12.0) - 1.0

    grid = np.round(np.unique(np.r_[np.linspace(0, 0.25, 26), reduction]), 6)
    survivors, revenue = _base_value(float(active), churn * (1 - grid), arpu, horizon_months, monthly_discount)
    base_surv, base_rev = survivors[0], revenue[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        curve = pd.DataFrame({
            "customers_kept": survivors - base_surv,
            "extra_revenue": revenue - base_rev,
            "extra_margin": margin * (revenue - base_rev),
            "margin_uplift": (revenue - base_rev) / base_rev,
        }, index=pd.Index(grid, name="reduction"))
    at = curve.loc[round(reduction, 6)]
    assumptions = [
        f"Monthly churn of {churn:.1%} = the pooled rate of the last {len(recent)} complete months; "
        f"{reduction:.0%} less churn means {churn * (1 - reduction):.2%} a month.",
        f"The {active:,} customers active today are followed for {horizon_months} months; new customers and "
        "comebacks of churned customers are not counted.",
        f"Each active customer brings {arpu:,.2f}{' ' + currency if currency else ''} of revenue a month "
        f"(recent average), at a {margin:.0%} margin, "
        f"discounted at {discount_rate_annual:.0%} a year.",
        "Profit claims in the literature (+25 to +125 %) are on profit after fixed costs; this is the change in "
        "gross margin from the existing base, so the two are not the same percentage.",
    ]
    return WhatIf(reduction, churn, churn * (1 - reduction), int(active), arpu, int(horizon_months), margin,
                  discount_rate_annual, float(at["customers_kept"]), float(at["extra_revenue"]),
                  float(at["extra_margin"]), float(base_rev), float(margin * base_rev),
                  float(at["margin_uplift"]), curve, assumptions)


# ----------------------------------------------------------------------------- drop-off between stages


def _stage_spec(stages: Sequence, targets: dict[str, float] | None) -> list[tuple[str, str, float]]:
    """(name, label, target) per stage from config Stage objects or plain names."""
    out = []
    for s in stages:
        if isinstance(s, str):
            name, label, target = s, s.replace("_", " ").capitalize(), None
        else:
            name, label, target = s.name, (getattr(s, "label", None) or s.name), getattr(s, "target", None)
            if getattr(s, "kpi", None) == "nps":  # an NPS target (0.3 = NPS 30), not a conversion share
                target = None
        if targets and name in targets:
            target = targets[name]
        out.append((name, label, np.nan if target is None else float(target)))
    if len(out) < 2:
        raise ValueError("at least two stages are needed")
    return out


def funnel_matrix(reached: pd.DataFrame, names: list[str]) -> np.ndarray:
    """Boolean persons x stages: in stage k = reached stages 1..k (a strict funnel)."""
    missing = [n for n in names if n not in reached]
    if missing:
        raise ValueError(f"reached lacks stage column(s) {missing} (have {list(reached.columns)})")
    cols = []
    for n in names:
        col = reached[n]
        cols.append(col.notna().to_numpy() if pd.api.types.is_datetime64_any_dtype(col)
                    else col.fillna(False).astype(bool).to_numpy())
    return np.logical_and.accumulate(np.column_stack(cols), axis=1)


def stage_dropoff(reached: pd.DataFrame, stages: Sequence, targets: dict[str, float] | None = None,
                  by: str | None = None, min_entered: int = 1) -> pd.DataFrame:
    """Losses between consecutive stages against their targets, with 95 % Wilson intervals.

    Parameters
    ----------
    reached : DataFrame
        One row per person; one column per stage name, bool or datetime (the entry
        time, NaT = never reached). A person counts in stage k only if they reached
        stages 1..k (a strict funnel), so a conversion rate is always "of those in
        the previous stage".
    stages : ordered ``cfg.journey.stages`` (objects with ``name``, ``label``,
        ``target``) or stage names. The target of a stage whose ``kpi`` is ``"nps"``
        is an NPS, not a conversion share, and is ignored here.
    targets : optional {stage name: target conversion from the previous stage};
        overrides the stages' own ``target``.
    by : optional grouping column of ``reached`` (channel, acquisition cohort...).
    min_entered : group-steps with fewer people entering are left out.

    Returns
    -------
    DataFrame
        One row per (group, step) in stage order: ``group`` (``"all"`` without
        ``by``), ``step`` (1 = first transition), ``from_stage``, ``stage``, ``label``,
        ``entered`` (in the previous stage), ``reached``, ``lost`` = entered - reached,
        ``conversion``, ``lower``, ``upper``, ``loss_rate`` = 1 - conversion,
        ``target``, ``gap`` = conversion - target, ``significantly_below``
        (the interval's upper bound is under the target), ``shortfall`` = people the
        step would keep at its target, ``max(0, target - conversion) x entered``.
    """
    spec = _stage_spec(stages, targets)
    names = [n for n, _, _ in spec]
    funnel = funnel_matrix(reached, names)
    if by is None:
        codes, labels = np.zeros(len(reached), dtype=np.int64), np.array(["all"], dtype=object)
    else:
        if by not in reached:
            raise ValueError(f"reached has no column {by!r}")
        # count per distinct value (integer codes), then name the groups: missing = "unknown"
        codes, uniques = pd.factorize(reached[by])
        labels = np.array([str(u) for u in uniques] + ["unknown"], dtype=object)
        codes = np.where(codes < 0, len(uniques), codes)
    per_code = np.stack([np.bincount(codes, weights=funnel[:, k], minlength=len(labels))
                         for k in range(funnel.shape[1])], axis=1).astype("int64")
    present = np.bincount(codes, minlength=len(labels)) > 0  # only groups that occur
    counts = pd.DataFrame(per_code[present], columns=names, index=labels[present]).groupby(level=0, sort=True).sum()
    rows = []
    for k in range(1, len(spec)):  # a loop over the handful of stages
        name, label, target = spec[k]
        entered, got = counts[names[k - 1]], counts[name]
        rows.append(pd.DataFrame({"group": counts.index, "step": k, "from_stage": names[k - 1], "stage": name,
                                  "label": label, "entered": entered.to_numpy(), "reached": got.to_numpy(),
                                  "target": target}))
    out = pd.concat(rows, ignore_index=True)
    out = out.loc[out["entered"] >= min_entered].reset_index(drop=True)
    out["lost"] = out["entered"] - out["reached"]
    out["conversion"] = out["reached"] / out["entered"].where(out["entered"] > 0)
    out["lower"], out["upper"] = wilson_interval(out["reached"], out["entered"])
    out["loss_rate"] = 1 - out["conversion"]
    out["gap"] = out["conversion"] - out["target"]
    out["significantly_below"] = (out["upper"] < out["target"]).fillna(False).astype(bool)
    out["shortfall"] = (out["target"] - out["conversion"]).clip(lower=0) * out["entered"]
    cols = ["group", "step", "from_stage", "stage", "label", "entered", "reached", "lost", "conversion", "lower",
            "upper", "loss_rate", "target", "gap", "significantly_below", "shortfall"]
    return out[cols].sort_values(["group", "step"], kind="stable").reset_index(drop=True)


def _worth(extra: float, x: np.ndarray | None, inside: np.ndarray, stopped: np.ndarray) -> float:
    """extra x (mean of x among people in the stage - mean among those who stopped before it)."""
    if x is None:
        return np.nan
    if extra == 0:
        return 0.0
    if not inside.any() or not stopped.any():
        return np.nan
    return extra * float(x[inside].mean() - x[stopped].mean())


def stage_improvement(reached: pd.DataFrame, stages: Sequence, targets: dict[str, float] | None = None,
                      value: str | None = None, customer: str | None = None,
                      lift: float | None = None) -> pd.DataFrame:
    """What raising each stage's conversion to its target (or by a relative lift) would be worth.

    For step k (stage k-1 -> k) below its target, ``extra`` = (target - conversion)
    x people entering more people reach stage k. With ``lift`` the improved rate is
    ``min(1, conversion x (1 + lift))`` for every step instead, which ranks the stages
    when all of them already meet their targets. They are propagated through the
    later steps at today's rates (``extra_last_stage`` = extra x product of the later
    conversions) and valued with what people who reached stage k are worth over what
    people who stopped at stage k-1 are worth (today's means, which already include
    the later conversions):

        extra_customers = extra x (share of customers | in stage k - share | stopped at k-1)
        extra_revenue   = extra x (mean value | in stage k - mean value | stopped at k-1)

    Parameters
    ----------
    reached, stages, targets : as in :func:`stage_dropoff` (whole population, no groups).
    value : column of ``reached`` with each person's revenue to date (NaN = 0).
    customer : bool column of ``reached``: the person bought at least once.
    lift : relative conversion lift applied to every step instead of the targets
        (e.g. :data:`IMPROVEMENT_LIFT`); None = use the targets.

    Returns
    -------
    DataFrame
        One row per step: ``stage``, ``label``, ``entered``, ``conversion``, ``target``,
        ``improved`` (the rate assumed), ``extra`` (people), ``extra_last_stage``, ``extra_customers``, ``extra_revenue``
        (NaN without ``value``/``customer``); sorted by the stage order. Steps without
        a target or already at it have ``extra`` 0.
    """
    spec = _stage_spec(stages, targets)
    names = [n for n, _, _ in spec]
    funnel = funnel_matrix(reached, names)
    n_in = funnel.sum(axis=0).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        conv = n_in[1:] / n_in[:-1]
    val = reached[value].fillna(0).to_numpy(dtype=float) if value else None
    cust = reached[customer].fillna(False).astype(bool).to_numpy() if customer else None
    rows = []
    for k in range(1, len(spec)):  # a loop over the handful of stages
        name, label, target = spec[k]
        rate = conv[k - 1]
        goal = min(1.0, rate * (1 + lift)) if lift is not None else target
        extra = max(0.0, goal - rate) * n_in[k - 1] if np.isfinite(goal) and np.isfinite(rate) else 0.0
        later = float(np.prod(conv[k:])) if k < len(conv) else 1.0
        inside, stopped = funnel[:, k], funnel[:, k - 1] & ~funnel[:, k]

        rows.append({"stage": name, "label": label, "entered": int(n_in[k - 1]), "conversion": rate,
                     "target": target, "improved": goal, "extra": extra, "extra_last_stage": extra * later,
                     "extra_customers": _worth(extra, None if cust is None else cust.astype(float), inside,
                                               stopped),
                     "extra_revenue": _worth(extra, val, inside, stopped)})
    out = pd.DataFrame(rows)
    return out
