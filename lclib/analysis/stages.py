"""Lifecycle states: where each person stands as of a date, month by month, and how they move.

Pipeline::

    th = state_thresholds(transactions, cfg.states.new_days, cfg.states.at_risk_days,
                          cfg.states.lapsed_days, inactivity_days=cfg.churn.inactivity_days,
                          inactivity_quantile=cfg.churn.inactivity_quantile, as_of=as_of)
    now = customer_states(data.tables, th, as_of)     # one row per person: state as of as_of
    summary = state_summary(now)                      # people, revenue, orders per state
    grid = monthly_states(data.tables, th, as_of)     # person x month-end state table
    counts = monthly_state_counts(grid)               # month x state counts (+ newly lapsed)
    moves = transition_matrix(grid)                   # month-to-month transitions, counts and shares

Definitions
-----------
People
    The persons of the canonical person x stage table,
    :func:`lclib.analysis.journey.stage_entries`: an events ``anonymous_id`` joined to the
    ``customer_id`` its events carry, or a customer without events. A person is
    *seen* at their first event (any type), signup or order.
Order
    As in :mod:`lclib.analysis.cohorts` (:func:`~lclib.engine.orders.orders_table`): one distinct
    order id at its earliest line. A person's orders are those of their ``customer_id``.
As of ``d``
    Only what happened strictly before ``d`` counts (``timestamp < d``); ``d``
    defaults to the midnight after the last transaction. "Days ago" is ``(d - t)``
    in days (fractional).
Thresholds (days) ``N = new_days``, ``R = at_risk_days``, ``L = lapsed_days``
    Set in ``lclib.yaml`` (``states``) or, when null, derived from the data's
    inter-purchase gaps (:func:`state_thresholds`): ``L`` is the churn inactivity
    window of :func:`lclib.analysis.churn.inactivity_window` (so churn and lifecycle states
    agree: a lapsed customer is a churned one), ``R`` the median gap rounded up
    (half of returning customers are back within ``R`` days, so a customer silent
    for longer is past their usual purchase cycle), ``N = R`` (a first-time buyer is
    new for one typical purchase cycle). ``R < L`` is required.
Spell
    A maximal run of a customer's orders in which each order follows the previous one
    by less than ``L`` days. The first order, and every order after a gap of ``L``
    days or more (the customer had lapsed), starts a new spell.

States of a person as of ``d`` (exactly one applies, checked in this order)
    Let ``F`` be the first order, ``T`` the last order before ``d`` and ``S`` the
    first order of the spell ``T`` belongs to.

    ``prospect``
        Seen (an event) but neither signed up nor ordered before ``d``.
    ``registered_no_purchase``
        Signed up before ``d`` (``signup_date`` of the customers table, or a
        ``signup`` event, :data:`SIGNUP_EVENTS`) but no order before ``d``.
    ``lapsed``
        Last order ``L`` days ago or more: ``d - T >= L`` (churned).
    ``at_risk``
        ``R <= d - T < L``: past the usual purchase cycle, not yet lapsed.
    ``new``
        ``d - T < R`` and the first order is less than ``N`` days old: ``d - F < N``.
    ``reactivated``
        ``d - T < R``, the current spell is not the first (the customer had lapsed
        and came back) and it started less than ``N`` days ago: ``d - S < N``.
    ``active``
        ``d - T < R`` and neither new nor reactivated (active / regular).

    Recency decides first: a first-time buyer silent for ``R`` days is ``at_risk``
    even when ``N > R``. With ``N <= R`` (the derived default) every new customer is
    recent anyway.

Month ends
    The state "at the end of month m" is the state as of the first instant of month
    m + 1. Only months that have ended by ``as_of`` are shown, from the month the
    first person was seen; a person appears from the first month end after they
    were seen.
Transitions
    Pairs (state at the end of month m, state at the end of month m + 1) of the same
    person, pooled over all consecutive month pairs; people not yet seen at the end
    of month m come from ``not_seen``.

Everything is vectorized: the month-end states of all people are computed at once
as a people x month-ends array (no loop over customers or months), in time and
memory linear in people x months + orders (see ``benchmarks/bench_journey_stages.py``):
each order's state changes are found by ``searchsorted`` and painted into the grid
(:func:`_paint_states`). The orders come from :func:`lclib.engine.orders.orders_of`, built
once per transactions frame and shared with the journey.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from lclib.analysis.churn import MIN_GAPS, inactivity_window
from lclib.engine.orders import orders_of
from lclib.engine.contracts import resolve_as_of
from lclib.io.columns import AMOUNT, CUSTOMER_ID, EVENT_TYPE, ORDER_ID, SIGNUP_DATE, TIMESTAMP
from lclib.config import Stage
from lclib.analysis.journey import _arrow_text, _positions, stage_entries

#: The lifecycle states in display order (pre-purchase, live, lost).
STATES: tuple[str, ...] = ("prospect", "registered_no_purchase", "new", "active", "reactivated", "at_risk",
                           "lapsed")
#: Words for readers.
STATE_LABELS: dict[str, str] = {
    "prospect": "Prospect (reached, no signup)",
    "registered_no_purchase": "Registered, never bought",
    "new": "New",
    "active": "Active / regular",
    "reactivated": "Reactivated",
    "at_risk": "At risk",
    "lapsed": "Lapsed",
    "not_seen": "Not yet seen",
}
#: Origin of people who were not yet seen at the previous month end (transition matrix rows).
NOT_SEEN = "not_seen"
#: Event types that count as a signup (besides the customers table's signup_date).
#: To move to lclib.yaml (``states.signup_events``) when users need other names.
SIGNUP_EVENTS: tuple[str, ...] = ("signup",)
#: Quantile of inter-purchase gaps that gives the derived ``at_risk_days``.
#: Default of ``states.at_risk_quantile`` in lclib.yaml.
AT_RISK_QUANTILE = 0.5

_DAY_NS = 86_400 * 10**9
_CODE = {s: i for i, s in enumerate(STATES)}

#: The live customer base: buyers who have not lapsed.
LIVE_STATES: tuple[str, ...] = ("new", "active", "reactivated", "at_risk")


# ----------------------------------------------------------------------------- thresholds


@dataclass
class StateThresholds:
    """The three state thresholds in days and where each came from.

    Attributes
    ----------
    new_days, at_risk_days, lapsed_days : int
    sources : dict
        Per threshold name: ``"config"``, ``"data"`` or ``"fallback"``.
    sentence : str
        Plain-words description for a report (Markdown).
    """

    new_days: int
    at_risk_days: int
    lapsed_days: int
    sources: dict[str, str]
    sentence: str

    def as_dict(self) -> dict[str, int]:
        """``{"new_days": N, "at_risk_days": R, "lapsed_days": L}``."""
        return {"new_days": self.new_days, "at_risk_days": self.at_risk_days, "lapsed_days": self.lapsed_days}


def state_thresholds(transactions: pd.DataFrame, new_days: int | None = None, at_risk_days: int | None = None,
                     lapsed_days: int | None = None, *, inactivity_days: int | None = None,
                     inactivity_quantile: float = 0.9, as_of=None, min_gaps: int = MIN_GAPS,
                     at_risk_quantile: float = AT_RISK_QUANTILE) -> StateThresholds:
    """Decide the state thresholds: configured values win, null ones are derived from the data.

    Parameters
    ----------
    transactions : order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).
    new_days, at_risk_days, lapsed_days : ``cfg.states``; None = derived.
    inactivity_days, inactivity_quantile : ``cfg.churn``; ``lapsed_days`` defaults to
        the churn inactivity window :func:`lclib.analysis.churn.inactivity_window` built from them.
    as_of : exclusive end of the data.
    min_gaps : fewer inter-purchase gaps than this and the derived values fall back
        (lapsed: :data:`lclib.analysis.churn.FALLBACK_WINDOW_DAYS`, at risk: half of lapsed).

    Returns
    -------
    StateThresholds

    Raises
    ------
    ValueError
        When a threshold is not positive or ``at_risk_days >= lapsed_days``.
    """
    for name, v in (("new_days", new_days), ("at_risk_days", at_risk_days), ("lapsed_days", lapsed_days)):
        if v is not None and not v > 0:
            raise ValueError(f"states.{name} must be a positive number of days, got {v!r}")
    # the churn window reads inter-purchase gaps off the orders: hand it the orders (built once, see
    # lclib.engine.orders.orders_of), numbered by integer customer codes (the gaps are the same; only
    # their count and quantiles are used here)
    end = resolve_as_of(transactions, as_of)
    orders, codes = orders_of(transactions, end, codes=True)
    slim = pd.DataFrame({CUSTOMER_ID: codes, ORDER_ID: np.arange(len(orders), dtype="int64"),
                         TIMESTAMP: orders[TIMESTAMP].to_numpy(), AMOUNT: orders[AMOUNT].to_numpy(),
                         "n": orders["n"].to_numpy()})
    window = inactivity_window(transactions, lapsed_days if lapsed_days is not None else inactivity_days,
                               inactivity_quantile, as_of=end, min_gaps=min_gaps, orders=slim)
    sources: dict[str, str] = {}
    if lapsed_days is not None:
        lapsed, sources["lapsed_days"] = int(lapsed_days), "config"
    else:
        lapsed, sources["lapsed_days"] = window.days, window.source  # churn's own window: one place
    gaps = window.gaps
    if at_risk_days is not None:
        at_risk, sources["at_risk_days"] = int(at_risk_days), "config"
    elif len(gaps) >= min_gaps:
        at_risk, sources["at_risk_days"] = max(1, math.ceil(float(gaps.quantile(at_risk_quantile)))), "data"
        at_risk = min(at_risk, lapsed - 1) if lapsed > 1 else at_risk
    else:
        at_risk, sources["at_risk_days"] = max(1, lapsed // 2), "fallback"
    if new_days is not None:
        new, sources["new_days"] = int(new_days), "config"
    else:
        new, sources["new_days"] = at_risk, sources["at_risk_days"]
    if not at_risk < lapsed:
        raise ValueError(f"states.at_risk_days ({at_risk}) must be smaller than the lapsed threshold ({lapsed} days, "
                         f"{'states.lapsed_days' if lapsed_days is not None else 'the churn inactivity window'})")

    keys = {"new_days": "states.new_days", "at_risk_days": "states.at_risk_days",
            "lapsed_days": "states.lapsed_days" if lapsed_days is not None else "churn.inactivity_days"}

    def why(name: str, derived: str) -> str:
        src = sources[name]
        return {"config": f"set in the configuration ({keys[name]})", "data": derived,
                "fallback": "a default, as there are too few repeat purchases to read a purchase cycle from"}[src]

    sentence = (
        f"A customer is **lapsed** after **{lapsed} days** without an order ("
        + why("lapsed_days", f"the churn inactivity window: {inactivity_quantile:.0%} of returning customers come "
                             f"back within {lapsed} days")
        + f"), **at risk** after **{at_risk} days** ("
        + why("at_risk_days", f"half of returning customers order again within {at_risk} days of their previous "
                              "order, so a customer silent for longer is past their usual purchase cycle")
        + f"), and a first-time or returning buyer counts as **new** or **reactivated** for **{new} days** ("
        + why("new_days", "one typical purchase cycle") + ")."
    )
    return StateThresholds(new, at_risk, lapsed, sources, sentence)


def thresholds_from_config(transactions: pd.DataFrame, cfg, as_of=None) -> StateThresholds:
    """:func:`state_thresholds` with ``cfg.states`` and ``cfg.churn`` of a loaded configuration."""
    return state_thresholds(transactions, cfg.states.new_days, cfg.states.at_risk_days, cfg.states.lapsed_days,
                            inactivity_days=cfg.churn.inactivity_days,
                            inactivity_quantile=cfg.churn.inactivity_quantile, as_of=as_of,
                            at_risk_quantile=cfg.states.at_risk_quantile)


def state_label(state: str, thresholds: StateThresholds) -> str:
    """A state's reader label with its definition in days, for headlines shown next to other reports'.

    "At risk" also names an RFM segment and a churn-model group; this label says which one
    is meant, e.g. ``"At risk (lifecycle state: no order for 31-153 days)"``.

    Parameters
    ----------
    state : one of :data:`STATES`.
    thresholds : from :func:`state_thresholds`.
    """
    if state not in STATES:
        raise ValueError(f"unknown state {state!r}; one of {list(STATES)}")
    n, r, lap = thresholds.new_days, thresholds.at_risk_days, thresholds.lapsed_days
    rule = {
        "prospect": "reached, never signed up or bought",
        "registered_no_purchase": "signed up, no order",
        "new": f"first order less than {n} days ago",
        "active": f"ordered within {r} days, not new",
        "reactivated": f"back after lapsing, within {n} days",
        "at_risk": f"no order for {r}-{lap} days",
        "lapsed": f"no order for {lap}+ days",
    }[state]
    name = {"prospect": "Prospect", "registered_no_purchase": "Registered, never bought"}.get(state,
                                                                                          STATE_LABELS[state])
    return f"{name} (lifecycle state: {rule})"


# ----------------------------------------------------------------------------- people and orders


def people_table(tables: dict[str, pd.DataFrame | None], as_of=None) -> pd.DataFrame:
    """One row per person with the times that decide the pre-purchase states.

    Built on :func:`lclib.analysis.journey.stage_entries` (the canonical person x stage table)
    with two ad-hoc stages: seen (any event, signup or first order) and signed up
    (customers' ``signup_date`` or a :data:`SIGNUP_EVENTS` event).

    Returns
    -------
    DataFrame
        Index ``person`` (str); columns ``seen``, ``signed_up`` (datetime64[ns],
        NaT = never), ``customer_id`` (NaN for people without one) and ``channel``.
    """
    ev = tables.get("events")
    event_types = sorted(ev[EVENT_TYPE].dropna().astype(str).unique()) if ev is not None and len(ev) else []
    stages = [
        Stage(name="seen", events=event_types, facts=["signup", "first_purchase"], kpi="people"),
        Stage(name="signed_up", events=list(SIGNUP_EVENTS), facts=["signup"], kpi="signups"),
    ]
    reached, _ = stage_entries(tables, stages, as_of=as_of)
    out = pd.DataFrame(index=reached.index)
    for name in ("seen", "signed_up"):
        col = reached[name] if name in reached else pd.Series(pd.NaT, index=reached.index)
        out[name] = col.astype("datetime64[ns]")
    out[CUSTOMER_ID] = reached[CUSTOMER_ID]
    out["channel"] = reached["channel"]
    return out.loc[out["seen"].notna().to_numpy()]


def measurable_states(tables: dict[str, pd.DataFrame | None]) -> list[str]:
    """The states the given tables can show, in :data:`STATES` order.

    ``prospect`` needs an events table; ``registered_no_purchase`` needs a customers
    table with ``signup_date`` or :data:`SIGNUP_EVENTS` events. The buyer states only
    need transactions. A state left out is not zero: it cannot be counted.
    """
    ev, cust = tables.get("events"), tables.get("customers")
    has_events = ev is not None and len(ev) > 0
    signups = (cust is not None and len(cust) > 0 and SIGNUP_DATE in cust and bool(cust[SIGNUP_DATE].notna().any())) \
        or (has_events and bool(ev[EVENT_TYPE].isin(list(SIGNUP_EVENTS)).any()))
    ok = {"prospect": has_events, "registered_no_purchase": signups}
    return [s for s in STATES if ok.get(s, True)]


def _spells(orders: pd.DataFrame, lapsed_days: float, codes: np.ndarray | None = None) -> pd.DataFrame:
    """Orders (sorted by customer and time) with ``spell_start`` and ``spell_no`` (0 = first spell).

    ``codes``: the customers' dense codes per order row (:func:`lclib.engine.orders.orders_of`);
    None computes them. Array work on the sorted rows, no group-by on the ids.
    """
    if codes is None:
        codes = pd.factorize(orders[CUSTOMER_ID])[0]
    n = len(orders)
    t = orders[TIMESTAMP].to_numpy()
    pos = np.arange(n)
    new_customer, starts = _spell_starts(t, codes, lapsed_days)
    spell_first = np.maximum.accumulate(np.where(starts, pos, 0)) if n else pos
    customer_first = np.maximum.accumulate(np.where(new_customer, pos, 0)) if n else pos
    count = np.cumsum(starts, dtype="int64")
    return orders.assign(spell_start=t[spell_first], spell_no=count - count[customer_first])


def _spell_starts(t: np.ndarray, codes: np.ndarray, lapsed_days: float) -> tuple[np.ndarray, np.ndarray]:
    """Per order row (sorted by customer and time ``t``: datetime64 or int64 nanoseconds): whether
    it is its customer's first order, and whether it starts a spell (a first order, or one placed
    ``lapsed_days`` or more after the previous one). The one place that cuts orders into spells."""
    n = len(t)
    new_customer = np.r_[True, codes[1:] != codes[:-1]] if n else np.zeros(0, dtype=bool)
    lapse = pd.Timedelta(days=float(lapsed_days))
    gap = (t[1:] - t[:-1]) >= (lapse.value if t.dtype.kind == "i" else lapse.to_timedelta64())
    return new_customer, (new_customer | np.r_[False, gap] if n else new_customer)


def _ns(values) -> np.ndarray:
    """datetime-like values as int64 nanoseconds (NaT -> min int)."""
    return pd.to_datetime(pd.Series(values)).astype("datetime64[ns]").to_numpy().view("int64")


def _states_at(people: pd.DataFrame, orders: pd.DataFrame, dates: Sequence, th: StateThresholds,
               codes: np.ndarray | None = None, grid_only: bool = False) -> dict:
    """State codes of every person at every date: arrays of shape (people, dates).

    ``orders`` come from :func:`_spells`; ``dates`` must be increasing. Returns
    ``state`` (int8 codes of :data:`STATES`, -1 = not yet seen), ``last`` (int64
    row of ``orders`` holding the last order before each date, -1 = none) and ``n``
    (int64 number of orders before each date).

    How: each order counts from the first date after it (``searchsorted``); the
    latest order of each (person, first counting date) is written into a people x
    dates matrix, and a running maximum along the dates carries it forward. That
    is O(people x dates + orders) array work, with no sort of the (people x dates)
    queries and no loop over people or dates.

    ``grid_only``: only ``state``, painted by :func:`_paint_states` (the month-end grid:
    the same codes, with a fraction of the memory traffic).
    """
    P, D = len(people), len(dates)
    d_ns = _ns(dates)
    if D > 1 and not (np.diff(d_ns) > 0).all():
        raise ValueError("dates must be strictly increasing")
    # every person's orders: customer_id -> person row, looked up once per customer (orders are sorted
    # by customer; codes number the customers in that order) and spread over their orders
    if codes is None:
        codes = pd.factorize(orders[CUSTOMER_ID])[0]
    new_customer = np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, dtype=bool)
    heads = np.flatnonzero(new_customer)
    head_ids = orders[CUSTOMER_ID].take(heads)
    if _arrow_text(head_ids) and _arrow_text(people[CUSTOMER_ID]):  # the first person row with the id
        per_customer = _positions(head_ids, people[CUSTOMER_ID]).astype("float64")
        per_customer[per_customer < 0] = np.nan
    else:
        row_of_customer = pd.Series(np.arange(P), index=people[CUSTOMER_ID].to_numpy())
        row_of_customer = row_of_customer[row_of_customer.index.notna() & ~row_of_customer.index.duplicated()]
        per_customer = row_of_customer.reindex(head_ids.to_numpy()).to_numpy()
    o_person = per_customer[np.cumsum(new_customer) - 1] if len(codes) else np.zeros(0)
    keep = ~np.isnan(o_person)
    sub = slice(None) if keep.all() else keep  # usually every order belongs to a person
    o_person = o_person[sub].astype("int64")
    o_t = _ns(orders[TIMESTAMP])[sub]
    o_start = _ns(orders["spell_start"])[sub]
    o_spell = orders["spell_no"].to_numpy()[sub]
    o_pos = np.flatnonzero(keep)  # row in orders
    in_order = len(o_person) < 2 or bool(((o_person[1:] > o_person[:-1]) | (
        (o_person[1:] == o_person[:-1]) & (o_t[1:] >= o_t[:-1]))).all())  # people in customer order (usual)
    if not in_order:
        o_sort = np.lexsort((o_t, o_person))  # by person, then time
        o_person, o_t, o_start, o_spell, o_pos = (x[o_sort] for x in (o_person, o_t, o_start, o_spell, o_pos))
    n_orders = len(o_person)
    first_idx = np.full(P, -1, dtype="int64")
    if n_orders:
        head = np.r_[True, o_person[1:] != o_person[:-1]]
        first_idx[o_person[head]] = np.flatnonzero(head)

    k = np.searchsorted(d_ns, o_t, side="right")  # first date index at which the order counts (t < d)
    if grid_only:
        return _paint_states(people, d_ns, o_person, o_t, o_start, o_spell, k, th)
    # last[p, j] = index (in the sorted orders) of p's last order strictly before dates[j]
    last = np.full((P, D + 1), -1, dtype="int64")
    tail = np.r_[(o_person[1:] != o_person[:-1]) | (k[1:] != k[:-1]), True] if n_orders else np.zeros(0, bool)
    last[o_person[tail], k[tail]] = np.flatnonzero(tail)  # latest order per (person, k): unique cells
    last = np.maximum.accumulate(last[:, :D], axis=1)

    state = _pre_purchase(people, d_ns)
    has = last >= 0
    li = last[has]
    qt = np.broadcast_to(d_ns, (P, D))[has]
    age = (qt - o_t[li]) / _DAY_NS
    fresh = (qt - o_start[li]) / _DAY_NS < th.new_days
    first_spell = o_spell[li] == 0
    state[has] = _buyer_codes(age, fresh, first_spell, th)
    last_pos = np.full((P, D), -1, dtype="int64")
    last_pos[has] = o_pos[li]
    n_before = np.zeros((P, D), dtype="int64")
    n_before[has] = li - np.broadcast_to(first_idx[:, None], (P, D))[has] + 1
    return {"state": state, "last": last_pos, "n": n_before}


def _buyer_codes(age: np.ndarray, fresh: np.ndarray, first_spell: np.ndarray, th: StateThresholds) -> np.ndarray:
    """State codes of buyers from the days since their last order (``age``), whether their
    spell began less than ``new_days`` ago (``fresh``) and whether it is their first spell:
    lapsed, then at risk, then new / reactivated, else active. The one place that ranks them."""
    return np.select(
        [age >= th.lapsed_days, age >= th.at_risk_days, fresh & first_spell, fresh & ~first_spell],
        [_CODE["lapsed"], _CODE["at_risk"], _CODE["new"], _CODE["reactivated"]],
        default=_CODE["active"],
    ).astype("int8")


def _pre_purchase(people: pd.DataFrame, d_ns: np.ndarray) -> np.ndarray:
    """State codes before any order: prospect / registered, -1 = not yet seen (people x dates, int8)."""
    P, D = len(people), len(d_ns)
    nat = np.iinfo("int64").min
    seen, signed = _ns(people["seen"])[:, None], _ns(people["signed_up"])[:, None]
    state = np.full((P, D), -1, dtype="int8")
    state[(seen != nat) & (seen < d_ns)] = _CODE["prospect"]
    state[(seen != nat) & (seen < d_ns) & (signed != nat) & (signed < d_ns)] = _CODE["registered_no_purchase"]
    return state


def _paint_states(people: pd.DataFrame, d_ns: np.ndarray, o_person: np.ndarray, o_t: np.ndarray,
                  o_start: np.ndarray, o_spell: np.ndarray, k: np.ndarray, th: StateThresholds) -> dict:
    """The people x dates state codes of :func:`_states_at`, painted order by order.

    The order that is a person's last before a run of dates holds the person's state
    over that run, and within the run the state changes at most three times, at dates
    found per order by ``searchsorted``: fresh (new or reactivated) while the spell
    started less than N days ago, then active, at risk from R days after the order,
    lapsed from L days after it. Each such segment's start is marked in a people x
    dates array with the segment's number, a running maximum along the dates carries
    it forward, and one lookup turns numbers into codes: work per order and one pass
    over the grid, instead of gathering the order's times into every cell.

    People are painted in blocks of :data:`PAINT_BLOCK_PEOPLE` (their orders are contiguous:
    sorted by person), so the per-order work arrays are a block's, not every order's at once
    (8M customers x 25 month ends: 9 GB of temporaries otherwise).
    """
    P, D = len(people), len(d_ns)
    state = _pre_purchase(people, d_ns)
    if not len(o_person) or not D:
        return {"state": state}
    for lo in range(0, P, PAINT_BLOCK_PEOPLE):  # blocks of a million people, not a loop over people
        hi = min(P, lo + PAINT_BLOCK_PEOPLE)
        i, j = np.searchsorted(o_person, [lo, hi])
        if i < j:
            _paint_block(state[lo:hi], d_ns, o_person[i:j] - lo, o_t[i:j], o_start[i:j], o_spell[i:j], k[i:j], th)
    return {"state": state}


#: People painted at a time by :func:`_paint_states` (bounds its work arrays; any size gives the same grid).
PAINT_BLOCK_PEOPLE = 1_000_000


def _paint_block(state: np.ndarray, d_ns: np.ndarray, o_person: np.ndarray, o_t: np.ndarray,
                 o_start: np.ndarray, o_spell: np.ndarray, k: np.ndarray, th: StateThresholds) -> None:
    """Paint the orders of a block of people (``o_person`` numbered within the block) into ``state``."""
    P, D = state.shape
    tail = np.r_[(o_person[1:] != o_person[:-1]) | (k[1:] != k[:-1]), True]  # last order per (person, k)
    tail &= k < D
    tp, tt, ts, tsp, tk = (x[tail] for x in (o_person, o_t, o_start, o_spell, k))
    same_next = np.r_[tp[1:] == tp[:-1], False]
    end = np.where(same_next, np.r_[tk[1:], D], D)  # the next such order of the person takes over
    day = _DAY_NS

    def first_date_at_or_after(t):  # first date index j with d_j >= t
        return np.searchsorted(d_ns, t, side="left")

    a = np.clip(first_date_at_or_after(tt + th.at_risk_days * day), tk, end)  # at risk from here
    lap = np.clip(first_date_at_or_after(tt + th.lapsed_days * day), a, end)  # lapsed from here
    f = np.clip(first_date_at_or_after(ts + th.new_days * day), tk, a)  # fresh until here
    fresh = np.where(tsp == 0, _CODE["new"], _CODE["reactivated"]).astype("int8")
    seg_start = np.stack([tk, f, a, lap], axis=1)
    seg_end = np.stack([f, a, lap, end], axis=1)
    seg_code = np.stack([fresh, np.full(len(tk), _CODE["active"], dtype="int8"),
                         np.full(len(tk), _CODE["at_risk"], dtype="int8"),
                         np.full(len(tk), _CODE["lapsed"], dtype="int8")], axis=1)
    nonempty = (seg_end > seg_start).ravel()  # row-major: segments in (person, time) order
    s_person = np.repeat(tp, 4)[nonempty]
    s_start = seg_start.ravel()[nonempty]
    s_code = seg_code.ravel()[nonempty]
    idx_type = "int32" if len(s_code) < 2**31 else "int64"
    mark = np.full((P, D), -1, dtype=idx_type)
    mark[s_person, s_start] = np.arange(len(s_code), dtype=idx_type)
    np.maximum.accumulate(mark, axis=1, out=mark)
    painted = mark >= 0
    state[painted] = s_code[mark[painted]]


def _prepare(tables: dict[str, pd.DataFrame | None], th: StateThresholds, as_of, people: pd.DataFrame | None):
    tx = tables["transactions"]
    as_of = resolve_as_of(tx, as_of)
    if people is None:
        people = people_table(tables, as_of)
    elif not {"seen", "signed_up", CUSTOMER_ID} <= set(people.columns):
        raise ValueError("people must come from people_table (columns seen, signed_up, customer_id)")
    orders, codes = orders_of(tx, as_of, codes=True)  # built once per transactions frame
    return as_of, people, _spells(orders, th.lapsed_days, codes), codes


def _categorical(codes: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(codes.astype("int64"), categories=list(STATES))


# ----------------------------------------------------------------------------- states as of a date


def customer_states(tables: dict[str, pd.DataFrame | None], thresholds: StateThresholds,
                    as_of=None, people: pd.DataFrame | None = None) -> pd.DataFrame:
    """Each person's lifecycle state as of ``as_of`` (see the module docstring).

    Parameters
    ----------
    tables : ``data.tables`` (transactions required; events and customers optional).
    thresholds : from :func:`state_thresholds`.
    as_of : exclusive end of the data (default: midnight after the last transaction).
    people : :func:`people_table` of the same tables and ``as_of`` when already built
        (saves building it again); None builds it.

    Returns
    -------
    DataFrame
        Index ``person``; columns ``customer_id`` (NaN for prospects without one),
        ``state`` (Categorical of :data:`STATES`), ``channel``, ``seen``,
        ``first_order``, ``last_order`` (NaT without orders), ``orders`` (int),
        ``revenue`` (float, sum of order amounts), ``days_since_last_order``
        (float, NaN without orders). Only people seen before ``as_of``.
    """
    as_of, people, orders, codes = _prepare(tables, thresholds, as_of, people)
    res = _states_at(people, orders, [as_of], thresholds, codes)
    state, last, n = res["state"][:, 0], res["last"][:, 0], res["n"][:, 0]
    out = people[[CUSTOMER_ID]].copy()
    out["state"] = _categorical(state)
    out["channel"] = people["channel"]
    out["seen"] = people["seen"]
    heads = np.flatnonzero(orders["n"].to_numpy() == 1)  # each customer's first order (orders: by customer)
    head_ids = orders[CUSTOMER_ID].take(heads)
    first = orders[TIMESTAMP].to_numpy()[heads].astype("datetime64[ns]")
    revenue = pd.Series(orders[AMOUNT].to_numpy()).groupby(codes, sort=False).sum().to_numpy()
    if _arrow_text(head_ids) and _arrow_text(people[CUSTOMER_ID]):
        at = _positions(people[CUSTOMER_ID], head_ids)  # each person's customer among the buyers
    else:
        at = pd.Index(head_ids.to_numpy()).get_indexer(people[CUSTOMER_ID].to_numpy())
    found = at >= 0
    out["first_order"] = np.where(found, first[np.maximum(at, 0)] if len(first) else np.datetime64("NaT", "ns"),
                                  np.datetime64("NaT", "ns"))
    last_t = orders[TIMESTAMP].to_numpy().astype("datetime64[ns]")
    out["last_order"] = np.where(last >= 0, last_t[np.maximum(last, 0)], np.datetime64("NaT", "ns"))
    out["orders"] = n
    out["revenue"] = np.where(found, revenue[np.maximum(at, 0)] if len(revenue) else 0.0, 0.0)
    out["days_since_last_order"] = (as_of - out["last_order"]) / pd.Timedelta(days=1)
    return out.loc[state >= 0]


def buyer_states(states: pd.DataFrame) -> pd.Series:
    """Each buyer's lifecycle state, indexed by customer id (the RFM table's index).

    Parameters
    ----------
    states : DataFrame
        :func:`customer_states` output (index ``person``; ``customer_id``,
        ``state``, ``orders``).

    Returns
    -------
    Series
        ``state`` as text for every person with an order and a customer id,
        index ``customer_id`` (sorted, unique): the input of
        :func:`lclib.analysis.rfm.rfm_scores`'s ``states``.

    Examples
    --------
    >>> s = pd.DataFrame({"customer_id": ["b", None, "a"], "state": ["lapsed", "prospect", "active"],
    ...                   "orders": [1, 0, 4]}, index=pd.Index(["p1", "p2", "p3"], name="person"))
    >>> buyer_states(s).to_dict()
    {'a': 'active', 'b': 'lapsed'}
    """
    buyers = states.loc[(states["orders"].to_numpy() > 0) & states[CUSTOMER_ID].notna().to_numpy()]
    out = pd.Series(buyers["state"].astype(str).to_numpy(), index=pd.Index(buyers[CUSTOMER_ID], name=CUSTOMER_ID),
                    name="state")
    if out.index.has_duplicates:
        raise ValueError(f"customer ids with more than one person: {list(out.index[out.index.duplicated()][:3])}")
    return out.sort_index()


def buyer_states_at(tables: dict[str, pd.DataFrame | None], thresholds: StateThresholds, date,
                    as_of=None) -> pd.Series:
    """``buyer_states(customer_states(tables, thresholds, date))`` for a ``date`` up to ``as_of``.

    A buyer's state depends on their own orders only (the people table decides the states
    before a first order, which ``buyer_states`` leaves out), so it is read off the orders
    of the whole data up to ``as_of`` (the report's, kept by
    :func:`lclib.engine.orders.orders_of`): each customer's last order before ``date``,
    the start of its spell and whether that spell is the customer's first. No table built
    for ``date`` and no people table: at 100M order lines those copy most of the orders
    (2 GB) and hold 8M people (1.6 GB) while the report's own tables are held. Used for
    RFM migration and experiments' states at earlier dates
    (:func:`lclib.analysis.customer_view.states_for_rfm`).
    """
    tx = tables["transactions"]
    as_of = resolve_as_of(tx, as_of)
    date = pd.Timestamp(date)
    if date > as_of:
        raise ValueError(f"{date:%Y-%m-%d} is after the data's end {as_of:%Y-%m-%d}")
    orders, codes = orders_of(tx, as_of, codes=True)  # sorted by customer and time
    t = _ns(orders[TIMESTAMP])
    d = _ns([date])[0]
    n = len(t)
    new_customer, starts = _spell_starts(t, codes, thresholds.lapsed_days)
    before = t < d
    # each customer's last order before the date: a row before it whose next row is another customer or not before
    last = np.flatnonzero(before & np.r_[new_customer[1:] | ~before[1:], True]) if n else np.zeros(0, "int64")
    start_rows = np.flatnonzero(starts)
    spell = start_rows[np.searchsorted(start_rows, last, side="right") - 1]  # the start of that order's spell
    first_spell = new_customer[spell]  # the spell began with the customer's first order
    age = (d - t[last]) / _DAY_NS
    fresh = (d - t[spell]) / _DAY_NS < thresholds.new_days
    state = _buyer_codes(age, fresh, first_spell, thresholds)
    ids = orders[CUSTOMER_ID].take(last).astype("str")  # as the people table holds them
    out = pd.Series(np.asarray(STATES, dtype=object)[state], index=pd.Index(ids, name=CUSTOMER_ID), name="state")
    return out.astype("str").sort_index()


def state_summary(states: pd.DataFrame) -> pd.DataFrame:
    """The counts per state marketers ask for.

    Parameters
    ----------
    states : from :func:`customer_states`.

    Returns
    -------
    DataFrame
        Index ``state`` (all of :data:`STATES`, in order); columns ``label``,
        ``people`` (int), ``share`` (of all people, 0-1), ``share_of_buyers`` (of
        people with an order, NaN for the pre-purchase states), ``revenue`` (total
        revenue to date of the people in the state), ``orders_per_person`` (mean) and
        ``median_days_since_last_order`` (NaN for the pre-purchase states).
    """
    if "state" not in states:
        raise ValueError("states needs a 'state' column (from customer_states)")
    g = states.groupby("state", observed=False)
    out = pd.DataFrame({
        "label": [STATE_LABELS[s] for s in STATES],
        "people": g.size().reindex(list(STATES), fill_value=0).astype("int64").to_numpy(),
    }, index=pd.Index(list(STATES), name="state"))
    total = int(out["people"].sum())
    buyers = states["orders"] > 0
    n_buyers = int(buyers.sum())
    out["share"] = out["people"] / total if total else np.nan
    buyer_states = ~out.index.isin(["prospect", "registered_no_purchase"])
    out["share_of_buyers"] = (out["people"] / n_buyers).where(buyer_states) if n_buyers else np.nan
    out["revenue"] = g["revenue"].sum().reindex(out.index).fillna(0.0).to_numpy()
    out["orders_per_person"] = g["orders"].mean().reindex(out.index).to_numpy()
    out["median_days_since_last_order"] = g["days_since_last_order"].median().reindex(out.index).to_numpy()
    return out


# ----------------------------------------------------------------------------- month by month


def month_ends(start, as_of) -> pd.PeriodIndex:
    """Months from the month of ``start`` to the last month that has ended by ``as_of``."""
    start, as_of = pd.Timestamp(start), pd.Timestamp(as_of)
    months = pd.period_range(start.to_period("M"), as_of.to_period("M"), freq="M", name="month")
    return months[(months + 1).start_time <= as_of]


def monthly_states(tables: dict[str, pd.DataFrame | None], thresholds: StateThresholds,
                   as_of=None, people: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every person's state at the end of every month (the person x month state table).

    Parameters
    ----------
    tables : ``data.tables``.
    thresholds : from :func:`state_thresholds`.
    as_of : exclusive end of the data; only months ended by it are included.
    people : :func:`people_table` of the same tables and ``as_of`` when already built.

    Returns
    -------
    DataFrame
        Index ``person``; one column per month (``PeriodIndex`` named ``month``),
        each a Categorical of :data:`STATES`; NaN = not yet seen at that month end.
    """
    as_of, people, orders, codes = _prepare(tables, thresholds, as_of, people)
    months = month_ends(people["seen"].min(), as_of) if len(people) else pd.PeriodIndex([], freq="M",
                                                                                         name="month")
    res = _states_at(people, orders, (months + 1).start_time, thresholds, codes, grid_only=True)["state"]
    out = pd.DataFrame({m: _categorical(res[:, j]) for j, m in enumerate(months)}, index=people.index)
    out.columns = pd.PeriodIndex(months, name="month")
    return out


def _codes(grid: pd.DataFrame) -> np.ndarray:
    if grid.shape[1] and not all(isinstance(d, pd.CategoricalDtype) for d in grid.dtypes):
        raise ValueError("grid must be the person x month table of monthly_states")
    return np.column_stack([grid[c].cat.codes.to_numpy() for c in grid.columns]) if grid.shape[1] else \
        np.zeros((len(grid), 0), dtype="int8")


def monthly_state_counts(grid: pd.DataFrame) -> pd.DataFrame:
    """People per state at each month end, and people who lapsed during each month.

    Parameters
    ----------
    grid : from :func:`monthly_states`.

    Returns
    -------
    DataFrame
        Index ``month`` (Period); one int column per state of :data:`STATES`, and
        ``newly_lapsed``: people lapsed at the end of the month who were not lapsed
        (or not yet seen) at the end of the previous one. Flows of the live base (new,
        active, reactivated or at risk; ``live`` is its stock at the month end):
        ``joined`` (live now, never a buyer at the previous month end: first orders),
        ``returned`` (live now, lapsed at the previous month end: reactivations) and
        ``newly_lapsed`` (the only way out), so that ``live`` of a month minus ``live``
        of the previous one is ``joined + returned - newly_lapsed`` (the first month
        starts from zero).

    Examples
    --------
    >>> cells = {"2024-01": ["new", None, "at_risk"], "2024-02": ["active", "new", "lapsed"],
    ...          "2024-03": ["at_risk", "active", "reactivated"]}
    >>> grid = pd.DataFrame({pd.Period(m, "M"): pd.Categorical(v, categories=STATES) for m, v in cells.items()})
    >>> monthly_state_counts(grid)[["live", "joined", "returned", "newly_lapsed"]]  # doctest: +NORMALIZE_WHITESPACE
             live  joined  returned  newly_lapsed
    month
    2024-01     2       2         0             0
    2024-02     2       1         0             1
    2024-03     3       0         1             0
    """
    codes = _codes(grid)
    K = len(STATES)
    counts = np.stack([np.bincount(codes[:, j][codes[:, j] >= 0], minlength=K) for j in range(codes.shape[1])]) \
        if codes.shape[1] else np.zeros((0, K), dtype="int64")
    out = pd.DataFrame(counts, index=pd.PeriodIndex(grid.columns, name="month"), columns=list(STATES))
    lap = codes == _CODE["lapsed"]
    before = np.column_stack([np.zeros(len(grid), bool), lap[:, :-1]]) if codes.shape[1] else lap
    out["newly_lapsed"] = (lap & ~before).sum(axis=0)
    live = np.isin(codes, [_CODE[s] for s in LIVE_STATES])
    was_live = np.column_stack([np.zeros(len(grid), bool), live[:, :-1]]) if codes.shape[1] else live
    out["live"] = live.sum(axis=0)
    out["joined"] = (live & ~was_live & ~before).sum(axis=0)
    out["returned"] = (live & before).sum(axis=0)
    return out.astype("int64")


def base_flows(counts: pd.DataFrame, months: int = 12) -> dict:
    """The live base's flows over the last ``months`` month ends, and its stock before and after.

    Parameters
    ----------
    counts : :func:`monthly_state_counts` output.
    months : how many of the last month ends to sum.

    Returns
    -------
    dict
        ``months`` (used), ``start`` (period of the month end before the window, None when
        the window starts with the data), ``end`` (last month end), ``live_start`` (stock
        before the window, 0 when None), ``live_end``, ``joined``, ``returned``,
        ``lapsed`` (sums over the window) and ``per_month_in`` / ``per_month_out`` (the
        flows in and out per month). ``live_end - live_start == joined + returned - lapsed``.
    """
    window = counts.tail(months)
    n = len(window)
    before = counts.iloc[-n - 1] if len(counts) > n else None
    out = {"months": n, "start": counts.index[-n - 1] if before is not None else None,
           "end": counts.index[-1] if n else None,
           "live_start": int(before["live"]) if before is not None else 0,
           "live_end": int(window["live"].iloc[-1]) if n else 0,
           "joined": int(window["joined"].sum()), "returned": int(window["returned"].sum()),
           "lapsed": int(window["newly_lapsed"].sum())}
    out["per_month_in"] = (out["joined"] + out["returned"]) / n if n else float("nan")
    out["per_month_out"] = out["lapsed"] / n if n else float("nan")
    return out


def base_flow_sentence(flows: dict) -> str:
    """The flows of :func:`base_flows` in words: in, out, and the stock they add up to."""
    n = flows["months"]
    if not n:
        return "The data does not yet cover a full month, so there is no monthly history of states."
    since = (f"from **{flows['live_start']:,}** at the end of {flows['start'].strftime('%B %Y')}"
             if flows["start"] is not None else "from zero before the first month of the data")
    gained = flows["joined"] + flows["returned"]
    text = (f"Over the last {n} months **{gained:,} customers came into the live base** (new, active, reactivated "
            f"or at risk): {flows['joined']:,} first-time buyers and {flows['returned']:,} lapsed customers who came "
            f"back, **{flows['per_month_in']:,.0f} a month**. **{flows['lapsed']:,} lapsed** "
            f"(**{flows['per_month_out']:,.0f} a month**). So the live base went {since} to "
            f"**{flows['live_end']:,}** at the end of {flows['end'].strftime('%B %Y')} "
            f"({flows['live_start']:,} + {gained:,} - {flows['lapsed']:,}). ")
    if flows["lapsed"] >= 0.9 * gained:
        return text + "Growth has almost stopped: keeping customers from lapsing now matters as much as winning new ones."
    return text + "Acquisition is carrying growth, and every customer kept from lapsing adds to it."


@dataclass
class Transitions:
    """Month-to-month state transitions pooled over all consecutive month pairs.

    Attributes
    ----------
    counts : DataFrame
        Index ``from`` (``not_seen`` then :data:`STATES`), columns ``to``
        (:data:`STATES`): people who were in state ``from`` at the end of a month
        and in ``to`` at the end of the next one, summed over month pairs.
    shares : DataFrame
        ``counts`` divided by their row totals (NaN for rows with no people).
    pairs : int
        Number of month pairs pooled.
    """

    counts: pd.DataFrame
    shares: pd.DataFrame
    pairs: int

    def rate(self, src: str, dst: str) -> float:
        """Share of people in ``src`` at a month end who are in ``dst`` at the next."""
        return float(self.shares.loc[src, dst])


def transition_matrix(grid: pd.DataFrame, last_months: int | None = None) -> Transitions:
    """Month-to-month transition counts and shares between states.

    Parameters
    ----------
    grid : from :func:`monthly_states`.
    last_months : pool only the last this many month pairs (None = all).

    Returns
    -------
    Transitions
    """
    if last_months is not None and not last_months > 0:
        raise ValueError(f"last_months must be positive, got {last_months!r}")
    codes = _codes(grid)
    if last_months is not None:
        codes = codes[:, -(last_months + 1):]
    K = len(STATES)
    src, dst = codes[:, :-1].ravel().astype("int64"), codes[:, 1:].ravel().astype("int64")
    keep = dst >= 0
    flat = np.bincount((src[keep] + 1) * K + dst[keep], minlength=(K + 1) * K).reshape(K + 1, K)
    idx = pd.Index([NOT_SEEN, *STATES], name="from")
    counts = pd.DataFrame(flat, index=idx, columns=pd.Index(list(STATES), name="to")).astype("int64")
    totals = counts.sum(axis=1)
    shares = counts.div(totals.where(totals > 0), axis=0)
    return Transitions(counts, shares, max(codes.shape[1] - 1, 0))


@dataclass
class MonthlyMoves:
    """The month-to-month moves report 02 says in words (:func:`monthly_moves`).

    Rates are shares of the people in a state at a month end who are in another at the
    next (NaN when nobody was in that state at a month end: never 0 for "unknown").
    ``back``: at risk -> active or reactivated; ``lapse``: at risk -> lapsed; ``react``:
    lapsed -> reactivated; ``keep``: new -> active; ``new_risk``: new -> at risk.
    """

    back: float
    lapse: float
    react: float
    keep: float
    new_risk: float
    sentence: str


def monthly_moves(moves: Transitions, thresholds: StateThresholds) -> MonthlyMoves:
    """Read the at-risk, lapsed and new customers' monthly moves off ``moves``, with a sentence
    that says only what the data show (a state nobody was in at a month end is said so, not "n/a").

    Examples
    --------
    >>> import pandas as pd
    >>> names = ["not_seen"] + list(STATES)
    >>> counts = pd.DataFrame(0, index=names, columns=list(STATES))
    >>> counts.loc["new", ["active", "at_risk"]] = [3, 1]
    >>> shares = counts.div(counts.sum(axis=1).replace(0, float("nan")), axis=0)
    >>> m = monthly_moves(Transitions(counts, shares, 2), StateThresholds(31, 31, 153, {}, ""))
    >>> m.sentence
    'No customer was at risk or lapsed at a month end yet, so how many of them come back cannot be measured. Of new customers, **75.0%** are active a month later and **25.0%** at risk: a first-time buyer who has not ordered again within 31 days counts as at risk, so the second-order nudge belongs in the first month.'
    """
    nan = float("nan")
    if not moves.pairs:
        return MonthlyMoves(nan, nan, nan, nan, nan, "Fewer than two month ends are covered, so month-to-month "
                                                    "transitions cannot be shown yet.")

    def rate(a: str, b: str) -> float:
        return moves.rate(a, b) if moves.counts.loc[a].sum() else nan

    back, lapse = rate("at_risk", "active") + rate("at_risk", "reactivated"), rate("at_risk", "lapsed")
    react, keep, new_risk = rate("lapsed", "reactivated"), rate("new", "active"), rate("new", "at_risk")
    parts = []
    if not math.isnan(lapse) and not math.isnan(react):
        parts.append(f"Each month **{back:.1%}** of at-risk customers order again and **{lapse:.1%}** lapse; only "
                     f"**{react:.1%}** of lapsed customers come back in a given month.")
    elif not math.isnan(lapse):
        parts.append(f"Each month **{back:.1%}** of at-risk customers order again and **{lapse:.1%}** lapse; no "
                     "customer had lapsed at a month end yet, so win-backs cannot be measured.")
    elif not math.isnan(react):
        parts.append(f"Only **{react:.1%}** of lapsed customers come back in a given month; no customer was at "
                     "risk at a month end yet.")
    else:
        parts.append("No customer was at risk or lapsed at a month end yet, so how many of them come back cannot "
                     "be measured.")
    if not math.isnan(keep):
        still = rate("new", "new")  # a customer stays new for new_days: longer than a month, most still are
        parts.append(f"Of new customers, **{keep:.1%}** are active a month later and **{new_risk:.1%}** at risk"
                     + (f" ({still:.1%} are still new: a customer counts as new for {thresholds.new_days} days)"
                        if still >= 0.005 else "")
                     + f": a first-time buyer who has not ordered again within {thresholds.at_risk_days} days "
                     "counts as at risk, so the second-order nudge belongs in the first month.")
    if not math.isnan(lapse) and not math.isnan(react):
        parts.append("A customer is far easier to keep while at risk than to win back once lapsed: time win-back "
                     "offers to the at-risk state.")
    return MonthlyMoves(back, lapse, react, keep, new_risk, " ".join(parts))
