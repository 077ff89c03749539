"""The textbook CLV: margin per customer per year x expected lifetime - CAC, overall and per channel."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lclib.io.columns import AMOUNT, CUSTOMER_ID, TIMESTAMP

#: Below this many previous-period buyers, simple_clv warns that retention is unreliable.
MIN_RETENTION_BASE = 30


@dataclass
class SimpleCLV:
    """Inputs and result of :func:`simple_clv`; ``formula`` renders them for a report."""

    period_days: int
    active_previous: int
    retained: int
    retention_rate: float
    annual_churn_rate: float
    expected_lifetime_years: float
    active_current: int
    revenue_current: float
    annual_revenue_per_customer: float
    margin_rate: float
    annual_margin_per_customer: float
    cac: float
    clv: float
    notes: list[str] = field(default_factory=list)
    #: share of the previous period's buyers who did not buy in the last one (1 - retention_rate)
    period_churn_rate: float = np.nan

    @property
    def formula(self) -> str:
        """The formula with this data's numbers filled in (or why it cannot be filled in)."""
        if not np.isfinite(self.clv):
            return "CLV cannot be computed: " + (" ".join(self.notes) or "no customer bought in the last period.")
        churn = self.period_churn_rate if np.isfinite(self.period_churn_rate) else self.annual_churn_rate
        capped = not (churn > 0 and self.period_days / 365.0 / churn <= self.expected_lifetime_years + 1e-9)
        if capped:
            lifetime = (f"lifetime capped at {self.expected_lifetime_years:g} years, "
                        + (f"yearly non-return {self.annual_churn_rate:.1%}" if self.period_days == 365 else
                           f"non-return {churn:.1%} per {self.period_days} days"))
        elif self.period_days == 365:
            lifetime = (f"lifetime = 1 / {self.annual_churn_rate:.1%} yearly non-return (the share of one year's "
                        "buyers with no order the next year)")
        else:
            lifetime = (f"lifetime = {self.period_days} days / {churn:.1%} non-return per {self.period_days} days "
                        f"= {self.expected_lifetime_years * 365:,.0f} days")
        return (
            f"CLV = annual margin per customer x expected lifetime - CAC = "
            f"{self.annual_margin_per_customer:,.2f} x {self.expected_lifetime_years:.2f} years - "
            f"{self.cac:,.2f} = {self.clv:,.2f}  (annual margin = {self.annual_revenue_per_customer:,.2f} "
            f"revenue x {self.margin_rate:.0%} margin; {lifetime})"
        )


def simple_clv(
    transactions: pd.DataFrame,
    observation_end=None,
    *,
    margin_rate: float = 0.3,
    cac: float = 0.0,
    period_days: int = 365,
    max_lifetime_years: float = 10.0,
) -> SimpleCLV:
    """The textbook CLV: margin per customer per year x expected lifetime - CAC.

    Both inputs come from the data, over the last two periods of
    ``period_days`` ending on ``observation_end`` (inclusive):

    * retention = share of customers active (any purchase) in the previous
      period who are active again in the last one; churn per period = 1 -
      retention; expected lifetime = ``period_days`` / churn per period (in
      years: 1 / annual churn for a 365-day period), capped at
      ``max_lifetime_years`` and with no floor; ``annual_churn_rate`` = 1 -
      retention^(365 / period_days) is shown for comparison;
    * annual revenue per customer = last period's revenue / its active
      customers, scaled to 365 days; times ``margin_rate``.

    Undiscounted and identical for every customer: a benchmark for the
    model-based CLV, not a replacement.

    Parameters
    ----------
    transactions : DataFrame
        Order lines with ``customer_id``, ``timestamp``, ``amount``.
    observation_end : date-like, optional
        Last day counted; defaults to the last transaction's day.
    margin_rate : float
        Gross margin as a share of revenue.
    cac : float
        Customer acquisition cost per customer.
    period_days : int
        Length of each of the two periods compared.
    max_lifetime_years : float
        Cap on the expected lifetime (reached when nobody churns).

    Returns
    -------
    SimpleCLV
        Every input, the result, ``notes`` on caveats and ``formula``.
    """
    ts = pd.to_datetime(transactions[TIMESTAMP])
    end = (ts.max() if observation_end is None else pd.Timestamp(observation_end)).normalize() + pd.Timedelta(days=1)
    length = pd.Timedelta(days=period_days)
    current = (ts >= end - length) & (ts < end)
    previous = (ts >= end - 2 * length) & (ts < end - length)
    customers = transactions[CUSTOMER_ID]
    active_previous = pd.Index(customers[previous].unique())
    active_current = pd.Index(customers[current].unique())
    retained = int(active_previous.isin(active_current).sum())
    revenue = float(transactions.loc[current, AMOUNT].sum())
    return _simple_clv_from_counts(len(active_previous), retained, len(active_current), revenue, ts.min(), end,
                                   period_days, margin_rate, cac, max_lifetime_years)


def _simple_clv_from_counts(n_previous: int, retained: int, n_current: int, revenue: float, first_time,
                            end: pd.Timestamp, period_days: int, margin_rate: float, cac: float,
                            max_lifetime_years: float) -> SimpleCLV:
    """:func:`simple_clv` from its counts: buyers of each period, retained buyers, last period's revenue."""
    length = pd.Timedelta(days=period_days)
    notes = []
    missed = (first_time - (end - 2 * length)) / length
    if 0.1 < missed < 1:
        notes.append(
            f"The data covers only the last {1 - missed:.0%} of the previous period: customers who bought "
            "only before that are missing, which understates churn."
        )
    if n_previous == 0:
        notes.append("No customer bought in the previous period: churn cannot be measured.")
    elif n_previous < MIN_RETENTION_BASE:
        notes.append(
            f"Retention rests on only {n_previous} customers who bought in the previous period: "
            "too few for a reliable lifetime."
        )
    retention = retained / n_previous if n_previous else np.nan
    annual_churn = 1.0 - retention ** (365.0 / period_days)
    # Geometric lifetime in the measured period: 1 / churn periods, each period_days long. No floor:
    # 17 % retention over 28 days is an expected 34 days, not the year that 1 / annual churn (<= 100 %)
    # would give. For a 365-day period this is 1 / annual churn, as before.
    period_churn = 1.0 - retention
    if not np.isfinite(period_churn):
        lifetime = np.nan
    else:
        lifetime = (min(period_days / 365.0 / period_churn, max_lifetime_years) if period_churn > 0
                    else max_lifetime_years)
    if lifetime >= max_lifetime_years:
        notes.append(f"Expected lifetime capped at {max_lifetime_years:g} years.")
    per_customer = revenue / n_current * 365.0 / period_days if n_current else np.nan
    annual_margin = per_customer * margin_rate
    return SimpleCLV(
        period_days, n_previous, retained, retention, annual_churn, lifetime,
        n_current, revenue, per_customer, margin_rate, annual_margin, cac,
        annual_margin * lifetime - cac, notes, period_churn,
    )



def default_period_days(transactions: pd.DataFrame, observation_end=None, min_days: int = 28) -> int:
    """Period for :func:`simple_clv`: a year when the data covers two (5 % tolerance), else half its span.

    Retention is measured from one period to the next, so two full periods are
    needed; shorter periods are annualised by :func:`simple_clv`.

    Returns
    -------
    int
        365, or floor(days covered / 2), at least ``min_days``.
    """
    ts = pd.to_datetime(transactions[TIMESTAMP])
    end = (ts.max() if observation_end is None else pd.Timestamp(observation_end)).normalize() + pd.Timedelta(days=1)
    span = (end - ts.min().normalize()).days
    return 365 if span >= 0.95 * 730 else max(min_days, span // 2)


_SQL_PERIOD_ACTIVITY = """
SELECT customer_id, MIN("timestamp") AS first_time,
       COALESCE(BOOL_OR("timestamp" >= {prev_start} AND "timestamp" < {cur_start}), FALSE) AS previous,
       COALESCE(BOOL_OR("timestamp" >= {cur_start} AND "timestamp" < {end}), FALSE) AS current,
       COALESCE(FSUM(CASE WHEN "timestamp" >= {cur_start} AND "timestamp" < {end} THEN CAST(amount AS DOUBLE) END),
                0.0) AS revenue
FROM src
GROUP BY customer_id
ORDER BY customer_id
"""


def _period_activity(transactions: pd.DataFrame, end: pd.Timestamp, period_days: int,
                     engine: str | None = None) -> pd.DataFrame:
    """Per customer (missing ids: one group): first time, bought in the previous / last period, last period's revenue.

    One DuckDB pass over the lines with ``engine`` ``"duckdb"`` (None = the default engine), else a pandas group-by.
    """
    length = pd.Timedelta(days=period_days)
    ts = pd.to_datetime(transactions[TIMESTAMP])
    tz_free = getattr(ts.dtype, "tz", None) is None
    from lclib.engine import sql as E

    if E.check_engine(engine) == "duckdb" and tz_free:
        lit = E.sql_timestamp
        got = E.query(
            pd.DataFrame({CUSTOMER_ID: transactions[CUSTOMER_ID], TIMESTAMP: ts, AMOUNT: transactions[AMOUNT]}),
            _SQL_PERIOD_ACTIVITY.format(prev_start=lit(end - 2 * length), cur_start=lit(end - length), end=lit(end)))
        index = pd.Index(got[CUSTOMER_ID], name=CUSTOMER_ID)
        if transactions[CUSTOMER_ID].notna().all():
            index = index.astype(transactions[CUSTOMER_ID].dtype)
        return pd.DataFrame({"first_time": got["first_time"].to_numpy(), "previous": got["previous"].to_numpy(bool),
                             "current": got["current"].to_numpy(bool),
                             "revenue": got["revenue"].to_numpy(dtype="float64")}, index=index)
    current = (ts >= end - length) & (ts < end)
    frame = pd.DataFrame({"first_time": ts, "previous": (ts >= end - 2 * length) & (ts < end - length),
                          "current": current,
                          "revenue": transactions[AMOUNT].astype("float64").where(current, 0.0)})
    return frame.groupby(transactions[CUSTOMER_ID].rename(CUSTOMER_ID), dropna=False).agg(
        first_time=("first_time", "min"), previous=("previous", "any"), current=("current", "any"),
        revenue=("revenue", "sum"))


def simple_clv_by_channel(
    transactions: pd.DataFrame,
    channels: pd.Series,
    observation_end=None,
    *,
    margin_rate: float = 0.3,
    cac: pd.Series | None = None,
    period_days: int | None = None,
    max_lifetime_years: float = 10.0,
    engine: str | None = None,
) -> pd.DataFrame:
    """:func:`simple_clv` overall and per acquisition channel, one row each.

    Parameters
    ----------
    transactions : order lines.
    channels : acquisition channel per customer (index ``customer_id``).
    observation_end, margin_rate, max_lifetime_years : as in :func:`simple_clv`.
    period_days : as in :func:`simple_clv`; None = :func:`default_period_days`
        (a year with two years of data, else half the span), stored in
        ``attrs["period_days"]``.
    cac : CAC per channel (index channel); missing channels, and the "All
        customers" row unless ``cac`` has that label, use 0.
    engine : ``"duckdb"``: one query over the lines; otherwise pandas (None = the default engine).

    Returns
    -------
    DataFrame
        Index ``channel`` ("All customers" first); columns ``active_previous``,
        ``retained``, ``retention_rate``, ``annual_churn_rate``,
        ``expected_lifetime_years``, ``annual_revenue_per_customer``,
        ``annual_margin_per_customer``, ``value_before_cac`` (margin x
        lifetime), ``cac``, ``clv`` (value - CAC), ``formula`` and ``notes``
        (caveats in words, "" when none).
    """
    cac = pd.Series(dtype=float) if cac is None else cac
    ts = pd.to_datetime(transactions[TIMESTAMP])
    observation_end = ts.max() if observation_end is None else observation_end
    if period_days is None:
        period_days = default_period_days(transactions, observation_end)
    end = pd.Timestamp(observation_end).normalize() + pd.Timedelta(days=1)
    per_customer = _period_activity(transactions, end, period_days, engine)
    # customers come sorted, as an acquisitions table is: reindex then skips the hash look-ups
    channel_of = channels.reindex(per_customer.index)
    rows = {}
    labels = ["All customers"] + sorted(channel_of.array.dropna().unique().tolist())
    for label in labels:  # a handful of channels, on one row per customer
        part = per_customer if label == "All customers" else per_customer.loc[(channel_of == label).to_numpy()]
        cost = float(cac.get(label, 0.0)) if np.isfinite(cac.get(label, 0.0)) else 0.0
        res = _simple_clv_from_counts(
            int(part["previous"].sum()), int((part["previous"] & part["current"]).sum()), int(part["current"].sum()),
            float(part["revenue"].sum()), part["first_time"].min(), end, period_days, margin_rate, cost,
            max_lifetime_years)
        rows[label] = {
            "active_previous": res.active_previous, "retained": res.retained,
            "retention_rate": res.retention_rate, "annual_churn_rate": res.annual_churn_rate,
            "period_churn_rate": res.period_churn_rate,
            "expected_lifetime_years": res.expected_lifetime_years,
            "annual_revenue_per_customer": res.annual_revenue_per_customer,
            "annual_margin_per_customer": res.annual_margin_per_customer,
            "value_before_cac": res.annual_margin_per_customer * res.expected_lifetime_years,
            "cac": cost, "clv": res.clv, "formula": res.formula, "notes": " ".join(res.notes),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "channel"
    out.attrs["period_days"] = period_days
    return out
