"""Simulating customers from the BG/NBD and Gamma-Gamma definitions (tests, benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lclib.io.columns import AMOUNT, CUSTOMER_ID, ORDER_ID, TIMESTAMP


def _simulate_events(
    rng: np.random.Generator, T: np.ndarray, r: float, alpha: float, a: float, b: float,
    p: float, q: float, v: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Repeat purchases of BG/NBD + Gamma-Gamma customers observed for T after their first.

    Returns (customer index, time, amount) of every repeat purchase, sorted by
    customer then time, and each customer's spend scale nu.
    """
    n = len(T)
    rate = rng.gamma(r, 1.0 / alpha, n)  # lambda ~ Gamma(shape r, rate alpha)
    dropout = np.maximum(rng.beta(a, b, n), 1e-12)  # p ~ Beta(a, b)
    nu = rng.gamma(q, 1.0 / v, n)  # nu ~ Gamma(shape q, rate v)
    # While alive, purchases form a Poisson process; after each repeat purchase the
    # customer leaves with probability p, so at most `survive` ~ Geometric(p) (1, 2, ...)
    # of them happen. Given N events in (0, T], their times are sorted uniforms.
    n_events = rng.poisson(rate * T)
    survive = rng.geometric(dropout)
    owner = np.repeat(np.arange(n), n_events)
    time = rng.uniform(0.0, 1.0, owner.size) * T[owner]
    order = np.lexsort((time, owner))
    owner, time = owner[order], time[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(n_events) - n_events, n_events)
    keep = rank < survive[owner]
    owner, time = owner[keep], time[keep]
    amount = rng.gamma(p, 1.0 / nu[owner])  # z ~ Gamma(shape p, rate nu)
    return owner, time, amount, nu


def simulate_bgnbd_gg(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    v: float,
    T: float | np.ndarray,
    seed: int | None = None,
) -> pd.DataFrame:
    """Simulate customer summaries from the BG/NBD and Gamma-Gamma definitions.

    Each customer makes a first purchase at time 0 and is observed until ``T``.
    Purchase rate lambda ~ Gamma(r, rate alpha); dropout probability
    p_drop ~ Beta(a, b); while alive, repeat purchases arrive as a Poisson
    process with rate lambda, and after each repeat purchase (never at time 0)
    the customer leaves for good with probability p_drop. Spend: nu ~ Gamma(q,
    rate v) per customer, each repeat purchase z ~ Gamma(p, rate nu). This is
    the process whose likelihood lifetimes' BetaGeoFitter maximises (lifetimes'
    own generator is not).

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, a, b : float
        BG/NBD parameters; alpha in the time unit of ``T``.
    p, q, v : float
        Gamma-Gamma parameters.
    T : float or array of shape (n,)
        Observation length after each first purchase.
    seed : int, optional
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (0..n-1); ``frequency`` (int64), ``recency``,
        ``T``, ``monetary_value`` (mean repeat spend, 0 without repeats), in
        continuous time.
    """
    rng = np.random.default_rng(seed)
    age = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    owner, time, amount, _ = _simulate_events(rng, age, r, alpha, a, b, p, q, v)
    frequency = np.bincount(owner, minlength=n)
    recency = np.zeros(n)
    np.maximum.at(recency, owner, time)
    spend = np.bincount(owner, weights=amount, minlength=n)
    return pd.DataFrame(
        {
            "frequency": frequency.astype("int64"),
            "recency": recency,
            "T": age,
            "monetary_value": np.divide(spend, frequency, out=np.zeros(n), where=frequency > 0),
        },
        index=pd.RangeIndex(n, name=CUSTOMER_ID),
    )


def simulate_transactions(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    v: float,
    T: float,
    seed: int | None = None,
    *,
    acquisition_period: float = 0.0,
    start="2020-01-01",
    unit_days: float = 7.0,
) -> pd.DataFrame:
    """Simulate order lines (one line per order) from the BG/NBD + Gamma-Gamma process.

    Customers' first purchases are spread uniformly over ``acquisition_period``
    after ``start``; each is then observed until ``T`` after ``start``. Process
    as in :func:`simulate_bgnbd_gg`; the first purchase's amount is drawn like
    the others.

    Parameters
    ----------
    n, r, alpha, a, b, p, q, v, seed
        As in :func:`simulate_bgnbd_gg`.
    T : float
        Study length in model time units, from ``start``.
    acquisition_period : float
        Window (model time units) over which first purchases are spread.
    start : date-like
        Calendar time of t = 0.
    unit_days : float
        Days per model time unit (7 for weekly parameters).

    Returns
    -------
    DataFrame
        ``customer_id`` (str), ``order_id`` (str), ``timestamp``, ``amount``,
        sorted by customer and time.
    """
    rng = np.random.default_rng(seed)
    entry = rng.uniform(0.0, acquisition_period, n)
    owner, time, amount, nu = _simulate_events(rng, T - entry, r, alpha, a, b, p, q, v)
    first_amount = rng.gamma(p, 1.0 / nu)
    who = np.concatenate([np.arange(n), owner])
    when = np.concatenate([entry, entry[owner] + time])
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    return pd.DataFrame(
        {
            CUSTOMER_ID: "c" + pd.Series(who).astype("str"),
            ORDER_ID: "o" + pd.Series(np.arange(who.size)).astype("str"),
            TIMESTAMP: pd.Timestamp(start) + pd.to_timedelta(when * unit_days, unit="D"),
            AMOUNT: np.concatenate([first_amount, amount])[order],
        }
    )
