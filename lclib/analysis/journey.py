"""Journey mapping: who reached which lifecycle stage, when, through which channels.

Stages come from configuration (``cfg.journey.stages``): a person enters a stage at
the first of its ``events`` (event types of the events table) or ``facts`` (derived
from the other tables, see :data:`FACT_SOURCES`).

Pipeline (notebook ``01_journey``)::

    reached, skipped = stage_entries(data.tables, cfg.journey.stages, as_of)  # person x stage entry times
    scope = journey_scope(data.tables, cfg.journey.stages, skipped)           # measurable stages, mode
    counts = stage_counts(reached, scope.stages)                              # people per stage, drop-out
    conv = stage_conversion(reached, scope.stages, by="channel",              # Wilson intervals vs targets
                            window_days=cfg.journey.conversion_window_days, as_of=as_of)
    times = stage_times(reached, scope.stages)                                # median / p90 days per step
    touches = touchpoints(data.tables, reached, scope.stages, as_of)          # events + orders on stages
    matrix = channel_stage_matrix(touches, reached, scope.stages)             # channel x stage overlay
    paths = touch_paths(touches, reached, conversion_stage(scope.stages))     # channel path per person
    pc = path_counts(paths)                                                   # -> lclib.analysis.attribution

Without an events table the journey runs in transactions-only mode: it starts at the
first stage the orders can show (normally conversion) and the orders' channels are the
only touchpoints. Everything is vectorized over people and touches; loops run over
stages or path positions only.

Scale (10M order lines, 800k customers): the orders (:func:`lclib.engine.orders.orders_of`, exactly
:func:`lclib.engine.orders.orders_table`) are built once per transactions frame without
sorting the lines, and shared by :func:`stage_entries`, :func:`touchpoints` and
:mod:`lclib.analysis.stages`; an order export alone is read off them by position
(:func:`_entries_from_orders`); ids are matched by pyarrow hashing
(:func:`_positions`) or integer codes, never through millions of Python strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from lclib.analysis.churn import funnel_matrix, stage_dropoff
from lclib.analysis.cohorts import acquisition_channels
from lclib.engine.orders import orders_of
from lclib.engine.contracts import resolve_as_of
from lclib.analysis.intervals import wilson_interval
from lclib.io.columns import (ACQUISITION_CHANNEL, AMOUNT, ANONYMOUS_ID, CHANNEL, CUSTOMER_ID, EVENT_TYPE, REFERRER_ID, SCORE, SIGNUP_DATE, TIMESTAMP)

#: Which table each stage fact comes from.
FACT_SOURCES = {"signup": "customers", "first_purchase": "transactions", "repeat_purchase": "transactions",
                "referral": "referrals", "nps_promoter": "surveys"}
#: Each stage fact in words, for reports.
FACT_LABELS = {"signup": "sign-up date (customers table)", "first_purchase": "first order",
               "repeat_purchase": "second order", "referral": "first referral made",
               "nps_promoter": "NPS answer of 9 or 10"}


def describe_entry(stage) -> str:
    """How a person enters ``stage`` (a :class:`lclib.config.Stage`), in words.

    Its event types, then its facts (:data:`FACT_LABELS`), e.g. events ``[signup,
    add_to_cart]`` and fact ``signup``: "signup or add to cart event; or sign-up date
    (customers table)".
    """
    parts = []
    events = [e.replace("_", " ") for e in getattr(stage, "events", None) or []]
    if events:
        parts.append(" or ".join(events) + " event")
    parts += [FACT_LABELS.get(f, f.replace("_", " ")) for f in getattr(stage, "facts", None) or []]
    return "; or ".join(parts) if parts else "-"


def customer_links(events: pd.DataFrame | None) -> pd.Series:
    """Which person (anonymous id) each customer is: the rule of :func:`stage_entries`.

    A customer is the person of the first event (by time) that carries both their
    ``customer_id`` and an ``anonymous_id``. Returns a Series customer_id ->
    anonymous_id (empty when no event carries both ids); customers not in it are
    persons of their own.
    """
    if events is None or ANONYMOUS_ID not in events or CUSTOMER_ID not in events:
        return pd.Series(dtype="str")
    both = events.dropna(subset=[ANONYMOUS_ID, CUSTOMER_ID])
    if TIMESTAMP in both:
        both = both.sort_values(TIMESTAMP, kind="stable")
    return both.drop_duplicates(CUSTOMER_ID).set_index(CUSTOMER_ID)[ANONYMOUS_ID]


def stage_entries(tables: dict[str, pd.DataFrame | None], stages: Sequence, as_of=None,
                  cohort_freq: str = "Q") -> tuple[pd.DataFrame, list[str]]:
    """One row per person with the time they entered each stage.

    The canonical person x stage table: journey maps, drop-off
    (:func:`lclib.analysis.churn.stage_dropoff`) and stage segmentation all start here.

    Persons: the events' ``anonymous_id``; a customer is joined to the person whose
    events carry their ``customer_id`` (the first such person); customers without
    events are persons of their own (keyed by ``customer_id``). A person enters a stage
    at the first of its ``events`` (event types) or ``facts`` (``signup`` = the
    customers' ``signup_date``, ``first_purchase``, ``repeat_purchase`` = second order,
    ``referral`` = first referral made, ``nps_promoter`` = first survey answer of 9+).
    A date-only fact (exactly midnight, like a ``signup_date``) that falls on the same
    day as the stage's first event takes the event's exact time, so that touches
    earlier that day stay in the previous stage.

    Parameters
    ----------
    tables : ``data.tables``.
    stages : ``cfg.journey.stages``.
    as_of : only rows before it count (default: midnight after the last transaction).
    cohort_freq : period of the ``cohort`` column (first time the person was seen).

    Returns
    -------
    (reached, skipped)
        ``reached``: index ``person``; one datetime column per usable stage (NaT = not
        reached), ``customer_id``, ``channel`` (acquisition channel, else the channel of
        the person's first event or order, else ``"unknown"``), ``cohort`` (Period),
        ``revenue`` (float, 0 for non-buyers) and ``is_customer`` (bool).
        ``skipped``: names of stages none of whose events or facts exist in the data
        (they cannot be measured and are left out of the funnel).
    """
    tx = tables["transactions"]
    as_of = resolve_as_of(tx, as_of)
    ev, cust = tables.get("events"), tables.get("customers")
    ref, sv = tables.get("referrals"), tables.get("surveys")
    have = lambda t: t is not None and len(t) > 0  # noqa: E731
    ev = ev.loc[ev[TIMESTAMP] < as_of] if have(ev) else None
    orders, codes = orders_of(tx, as_of, codes=True)  # built once per transactions frame
    if ev is None and not (have(cust) or have(ref) or have(sv)) and orders[CUSTOMER_ID].dtype != object \
            and pd.api.types.is_string_dtype(orders[CUSTOMER_ID].dtype):
        fast = _entries_from_orders(orders, codes, stages, cohort_freq)  # an order export alone
        if fast is not None:
            return fast

    link = customer_links(ev)  # customer -> person through the events that carry both ids

    def person_of_customer(ids: pd.Series) -> pd.Series:
        if not len(link):  # no events link customers to persons: a customer is their own person
            return ids.astype("str")
        ids = ids.astype("object")
        mapped = ids.map(link).astype("object")
        return mapped.where(mapped.notna(), ids).astype("str")

    if ev is not None:
        ev_person = ev[ANONYMOUS_ID].astype("object") if ANONYMOUS_ID in ev else pd.Series(None, index=ev.index,
                                                                                          dtype="object")
        if CUSTOMER_ID in ev:
            from_customer = person_of_customer(ev[CUSTOMER_ID].astype("object").fillna(""))
            ev_person = ev_person.where(ev_person.notna(), from_customer.where(ev[CUSTOMER_ID].notna()))
        ev = ev.assign(person=ev_person.astype("str")).loc[ev_person.notna()]

    facts: dict[str, pd.Series] = {}
    first = orders.loc[orders["n"] == 1]
    facts["first_purchase"] = first.set_index(person_of_customer(first[CUSTOMER_ID]))[TIMESTAMP]
    second = orders.loc[orders["n"] == 2]
    facts["repeat_purchase"] = second.set_index(person_of_customer(second[CUSTOMER_ID]))[TIMESTAMP]
    if have(cust) and SIGNUP_DATE in cust:
        c = cust.dropna(subset=[CUSTOMER_ID, SIGNUP_DATE])
        c = c.loc[c[SIGNUP_DATE] < as_of]
        facts["signup"] = c.set_index(person_of_customer(c[CUSTOMER_ID]))[SIGNUP_DATE]
    if have(ref):
        r = ref.dropna(subset=[REFERRER_ID]).loc[lambda d: d[TIMESTAMP] < as_of]
        facts["referral"] = r.set_index(person_of_customer(r[REFERRER_ID]))[TIMESTAMP]
    if have(sv):
        s = sv.loc[(sv[SCORE] >= 9) & (sv[TIMESTAMP] < as_of)].dropna(subset=[CUSTOMER_ID])
        facts["nps_promoter"] = s.set_index(person_of_customer(s[CUSTOMER_ID]))[TIMESTAMP]

    columns, skipped = {}, []
    for st in stages:  # a loop over the handful of stages
        parts = [facts[f] for f in st.facts if f in facts]
        ev_first = None
        if ev is not None and st.events:
            hit = ev.loc[ev[EVENT_TYPE].isin(st.events)]
            if len(hit):
                ev_first = hit.groupby("person")[TIMESTAMP].min()
        if not parts and ev_first is None:
            skipped.append(st.name)
            continue
        if not parts:
            columns[st.name] = ev_first
            continue
        fact_first = pd.concat(parts).groupby(level=0).min()
        if ev_first is None:
            columns[st.name] = fact_first
            continue
        # a date-only fact (midnight, e.g. signup_date) yields to a same-day event's exact time
        idx = fact_first.index.union(ev_first.index)
        f, e = fact_first.reindex(idx), ev_first.reindex(idx)
        first = pd.concat([f, e], axis=1).min(axis=1)
        same_day = (f == f.dt.normalize()) & (e.dt.normalize() == f)
        columns[st.name] = first.where(~same_day, e)
    reached = pd.DataFrame(columns)
    reached.index = reached.index.astype("str")
    reached.index.name = "person"

    # attributes: customer id, channel, cohort, revenue
    heads = np.flatnonzero(orders["n"].to_numpy() == 1)  # each customer's first order (orders: by customer)
    buyers = orders[CUSTOMER_ID].take(heads).reset_index(drop=True)  # = orders' unique ids, in order
    cust_ids = buyers
    if have(cust):
        cust_ids = pd.concat([cust_ids, cust[CUSTOMER_ID].dropna()]).drop_duplicates()
    owner = pd.Series(cust_ids.to_numpy(), index=person_of_customer(cust_ids).to_numpy())
    owner = owner[~owner.index.duplicated()]
    reached[CUSTOMER_ID] = owner.reindex(reached.index)
    if CHANNEL in orders and not (have(cust) and ACQUISITION_CHANNEL in cust
                                  and cust[ACQUISITION_CHANNEL].notna().any()):
        # acquisition_channels' own rule (the first order's channel), read off the sorted orders
        channel = pd.Series(orders[CHANNEL].take(heads).to_numpy(), name=ACQUISITION_CHANNEL,
                            index=pd.Index(buyers, name=CUSTOMER_ID))
    else:
        channel = acquisition_channels(orders, cust)
    by_customer = channel.reindex(reached[CUSTOMER_ID]).to_numpy() if channel is not None else None
    chan = pd.Series(by_customer, index=reached.index, dtype="object") if by_customer is not None else \
        pd.Series(None, index=reached.index, dtype="object")
    if ev is not None and CHANNEL in ev:
        first_touch = ev.sort_values(TIMESTAMP, kind="stable").drop_duplicates("person").set_index("person")[CHANNEL]
        chan = chan.where(chan.notna(), first_touch.reindex(reached.index).astype("object"))
    reached["channel"] = chan.where(chan.notna(), "unknown").astype("str")
    seen = reached[[c for c in columns]].min(axis=1)
    reached["cohort"] = seen.dt.to_period(cohort_freq)
    # the customers' revenue: a group-by on their dense codes (orders are sorted by customer)
    revenue = pd.Series(orders[AMOUNT].to_numpy()).groupby(codes, sort=False).sum().to_numpy()
    at = pd.Index(buyers).get_indexer(reached[CUSTOMER_ID])  # fast isin / reindex
    reached["revenue"] = np.where(at >= 0, revenue[np.maximum(at, 0)] if len(revenue) else 0.0, 0.0)
    reached["is_customer"] = at >= 0
    return reached, skipped


def _arrow_text(values) -> bool:
    arr = getattr(values, "array", values)
    return pd.api.types.is_string_dtype(getattr(arr, "dtype", None)) and hasattr(arr, "__arrow_array__") \
        and not isinstance(arr, np.ndarray)


def _positions(values, keys) -> np.ndarray:
    """Position of each value in ``keys`` (int64; -1 = absent): ``pd.Index(keys).get_indexer(values)``
    for unique keys, the first match otherwise. Arrow-backed text is hashed by pyarrow, without
    making one Python string per value (the cost of a pandas text index at a million people).
    """
    if _arrow_text(values) and _arrow_text(keys):
        import pyarrow as pa
        import pyarrow.compute as pc

        v, k = pa.array(getattr(values, "array", values)), pa.array(getattr(keys, "array", keys))
        if isinstance(k, pa.ChunkedArray):
            k = k.combine_chunks()
        if v.type != k.type:
            v = v.cast(k.type)
        found = pc.fill_null(pc.index_in(v, value_set=k), -1)
        return np.asarray(found.to_numpy(zero_copy_only=False), dtype="int64")
    return pd.Index(keys).get_indexer(values)


def _entries_from_orders(orders: pd.DataFrame, codes: np.ndarray, stages: Sequence,
                         cohort_freq: str) -> tuple[pd.DataFrame, list[str]] | None:
    """:func:`stage_entries` of an order export alone (text customer ids; no events, customers,
    referrals or surveys): the persons are the customers, and every column is read off the orders
    sorted by customer (first order, second order) by position, with no join on the ids.
    Returns None where that does not apply (the general path then runs).
    """
    if not len(orders):
        return None
    n_orders = len(orders)
    heads = np.flatnonzero(orders["n"].to_numpy() == 1)  # each customer's first order, in id order
    count = np.diff(np.r_[heads, n_orders])
    t = orders[TIMESTAMP].to_numpy()
    first = t[heads]
    second = np.where(count >= 2, t[np.minimum(heads + 1, n_orders - 1)], np.datetime64("NaT"))
    facts = {"first_purchase": first, "repeat_purchase": second}
    columns, skipped = {}, []
    for st in stages:  # first <= second: a stage entered at either is entered at the first one present
        got = [f for f in st.facts if f in facts]
        if not got:
            skipped.append(st.name)
        else:
            columns[st.name] = first if "first_purchase" in got else second
    if not columns:
        return None
    any_first = any(v is first for v in columns.values())
    sel = slice(None) if any_first else np.flatnonzero(count >= 2)  # persons: in at least one column
    rows = heads[sel]
    ids = orders[CUSTOMER_ID].take(rows).reset_index(drop=True).astype("str")
    reached = pd.DataFrame({name: v[sel] for name, v in columns.items()}, index=pd.Index(ids, name="person"))
    reached[CUSTOMER_ID] = ids.array
    if CHANNEL in orders:
        chan = orders[CHANNEL].take(rows).reset_index(drop=True)
        reached["channel"] = chan.where(chan.notna(), "unknown").astype("str").array
    else:
        reached["channel"] = pd.Series("unknown", index=reached.index, dtype="str")
    seen = pd.Series(first[sel] if any_first else second[sel], index=reached.index)
    reached["cohort"] = seen.dt.to_period(cohort_freq)
    revenue = pd.Series(orders[AMOUNT].to_numpy()).groupby(codes, sort=False).sum().to_numpy()
    reached["revenue"] = revenue[sel]
    reached["is_customer"] = True
    return reached, skipped


# ----------------------------------------------------------------------------- scope of the journey

#: Separator between channels in a path string ("paid_search > email").
PATH_SEP = " > "


@dataclass
class JourneyScope:
    """Which configured stages the data can measure, and what that means.

    ``stages``: the measurable stage objects (config order); ``skipped``: names of the
    others; ``mode``: ``"full"`` (events and every stage), ``"partial"`` (events, some
    stage facts missing) or ``"transactions-only"`` (no events table: the journey starts
    at the first stage the orders can show, normally conversion); ``sentence``: the
    plain-words statement for the report.
    """

    stages: list
    skipped: list[str]
    mode: str
    sentence: str


def journey_scope(tables: dict[str, pd.DataFrame | None], stages: Sequence, skipped: Sequence[str]) -> JourneyScope:
    """Split the configured stages into measurable and skipped ones and name the mode.

    Parameters
    ----------
    tables : ``data.tables``.
    stages : ``cfg.journey.stages``.
    skipped : second value returned by :func:`stage_entries`.
    """
    kept = [s for s in stages if s.name not in set(skipped)]
    ev = tables.get("events")
    titles = {s.name: s.title for s in stages}
    names = [titles[n] for n in skipped]
    one = len(names) == 1
    lost = (", ".join(names[:-1]) + " and " + names[-1]) if len(names) > 1 else "".join(names)
    lost = f"the {lost} {'stage' if one else 'stages'}" if names else ""
    left_out = f"{'is' if one else 'are'} left out"
    if not kept:
        raise ValueError("none of the configured journey stages can be measured with the data given")
    if ev is None or len(ev) == 0:
        mode = "transactions-only"
        sentence = (f"No events table was given, so the journey runs in **transactions-only mode from "
                    f"{kept[0].title} onwards**" + (f"; {lost} cannot be measured and {left_out}" if lost else "")
                    + ". Channel touchpoints are the orders' channels only.")
    elif skipped:
        mode = "partial"
        sentence = (f"The data measures {len(kept)} of the {len(stages)} configured stages; {lost} cannot be "
                    f"measured (none of {'its' if one else 'their'} events or source tables are present) and "
                    f"{left_out}.")
    else:
        mode = "full"
        sentence = ("The one configured stage can be measured from the data." if len(stages) == 1 else
                    f"All {len(stages)} configured stages can be measured from the data.")
    return JourneyScope(kept, list(skipped), mode, sentence)


def conversion_stage(stages: Sequence) -> str:
    """Name of the stage that counts as a conversion for attribution.

    The first stage whose facts include ``first_purchase``; else a stage named
    ``conversion``; else the last stage.
    """
    for s in stages:
        if "first_purchase" in getattr(s, "facts", []):
            return s.name
    names = [s.name for s in stages]
    return "conversion" if "conversion" in names else names[-1]


# ----------------------------------------------------------------------------- stage-to-stage conversion


def _names(stages: Sequence) -> list[str]:
    return [s if isinstance(s, str) else s.name for s in stages]


def stage_conversion(reached: pd.DataFrame, stages: Sequence, by: str | None = None,
                     window_days: float | None = None, as_of=None, min_entered: int = 1) -> pd.DataFrame:
    """Stage-to-stage conversion with 95 % Wilson intervals, optionally within a conversion window.

    Without a window this is :func:`lclib.analysis.churn.stage_dropoff` (strict funnel, all
    time). With ``window_days`` each step k-1 -> k counts only people who entered
    stage k-1 at least ``window_days`` before ``as_of`` (everyone else has not had
    the full window yet: right-censoring), and they count as converted only when they
    entered stage k within ``window_days`` of entering stage k-1.

    Parameters
    ----------
    reached : :func:`stage_entries` output (datetime stage columns).
    stages : measurable stages (objects with ``name``, ``label``, ``target``) or names.
    by : grouping column of ``reached`` (``"channel"``, ``"cohort"``...).
    window_days : ``cfg.journey.conversion_window_days`` (None = no limit).
    as_of : end of the data; required with ``window_days``.
    min_entered : group-steps with fewer people entering are left out.

    Returns
    -------
    DataFrame
        Columns of :func:`lclib.analysis.churn.stage_dropoff` (``group``, ``step``,
        ``from_stage``, ``stage``, ``label``, ``entered``, ``reached``, ``lost``,
        ``conversion``, ``lower``, ``upper``, ``loss_rate``, ``target``, ``gap``,
        ``significantly_below``, ``shortfall``).
    """
    if window_days is None:
        return stage_dropoff(reached, stages, by=by, min_entered=min_entered)
    if as_of is None:
        raise ValueError("stage_conversion with a conversion window needs as_of")
    if window_days <= 0:
        raise ValueError(f"window_days must be positive, got {window_days}")
    names = _names(stages)
    funnel = funnel_matrix(reached, names)
    window = pd.Timedelta(days=float(window_days))
    last_start = pd.Timestamp(as_of) - window
    parts = []
    for k in range(1, len(names)):  # a loop over the handful of stages
        prev, cur = reached[names[k - 1]], reached[names[k]]
        eligible = funnel[:, k - 1] & (prev <= last_start).to_numpy()
        within = eligible & funnel[:, k] & ((cur - prev) <= window).to_numpy()
        frame = pd.DataFrame({names[k - 1]: eligible, names[k]: within}, index=reached.index)
        if by is not None:
            if by not in reached:
                raise ValueError(f"reached has no column {by!r}")
            frame[by] = reached[by]
        part = stage_dropoff(frame, [stages[k - 1], stages[k]], by=by, min_entered=min_entered)
        parts.append(part.assign(step=k))
    return pd.concat(parts, ignore_index=True).sort_values(["group", "step"], kind="stable").reset_index(drop=True)


def stage_counts(reached: pd.DataFrame, stages: Sequence) -> pd.DataFrame:
    """People in each stage of the strict funnel (reached it and every stage before it).

    Returns
    -------
    DataFrame
        One row per stage in order: ``stage``, ``label``, ``people`` (int),
        ``share_of_first`` (people / people in the first stage), ``lost_after``
        (people who stop here: did not reach the next stage; 0 for the last).
    """
    names = _names(stages)
    counts = funnel_matrix(reached, names).sum(axis=0).astype("int64")
    labels = [s.replace("_", " ").capitalize() if isinstance(s, str) else s.title for s in stages]
    first = counts[0] if counts[0] > 0 else np.nan
    lost = np.append(counts[:-1] - counts[1:], 0)
    return pd.DataFrame({"stage": names, "label": labels, "people": counts, "share_of_first": counts / first,
                         "lost_after": lost})


def stage_times(reached: pd.DataFrame, stages: Sequence) -> pd.DataFrame:
    """Time from each stage to the next among people who made the step (strict funnel).

    Negative gaps (data where a later stage is dated before an earlier one, e.g. a
    signup date recorded after the first order) count as 0 days.

    Returns
    -------
    DataFrame
        One row per step: ``step``, ``from_stage``, ``stage``, ``label``, ``people``
        (made the step), ``mean_days``, ``p10_days``, ``p25_days``, ``median_days``,
        ``p75_days``, ``p90_days`` (float days; NaN when nobody made the step).
    """
    names = _names(stages)
    funnel = funnel_matrix(reached, names)
    labels = [s.replace("_", " ").capitalize() if isinstance(s, str) else s.title for s in stages]
    rows = []
    for k in range(1, len(names)):  # a loop over the handful of stages
        gap = (reached[names[k]] - reached[names[k - 1]]).to_numpy()[funnel[:, k]]
        days = np.clip(gap / np.timedelta64(1, "D"), 0, None).astype(float)
        row = {"step": k, "from_stage": names[k - 1], "stage": names[k], "label": labels[k], "people": days.size}
        q = np.quantile(days, [0.1, 0.25, 0.5, 0.75, 0.9]) if days.size else np.full(5, np.nan)
        row.update(mean_days=days.mean() if days.size else np.nan, p10_days=q[0], p25_days=q[1],
                   median_days=q[2], p75_days=q[3], p90_days=q[4])
        rows.append(row)
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- touchpoints and paths


def _person_of_customer(reached: pd.DataFrame) -> pd.Series:
    """customer_id -> person, from the canonical person table."""
    m = reached[CUSTOMER_ID].dropna()
    return pd.Series(m.index.to_numpy(), index=m.to_numpy().astype("str")).pipe(lambda s: s[~s.index.duplicated()])


#: Touches placed on their stage at a time by :func:`touchpoints` (40M order touches x 5 stages: 1.6 GB of
#: entry times and their copies at once otherwise; any size gives the same stages).
TOUCH_BLOCK_ROWS = 2_000_000


def touchpoints(tables: dict[str, pd.DataFrame | None], reached: pd.DataFrame, stages: Sequence,
                as_of=None) -> pd.DataFrame:
    """Every touchpoint with a channel (events and orders), placed on the stage the person was in.

    A touch at time t belongs to the last stage of the person's strict funnel entered
    at or before t (so the touch that triggers an entry, e.g. the signup event or the
    first order, counts for the stage it starts, and a channel's conversion to the
    next stage in :func:`channel_stage_matrix` is never true by construction); a touch
    before any entry belongs to the first stage. Touches of people outside the funnel (who
    never reached the first stage) are dropped.

    Parameters
    ----------
    tables : ``data.tables`` (events optional; transactions with ``channel`` give orders).
    reached : :func:`stage_entries` output.
    stages : measurable stages (all must be columns of ``reached``).
    as_of : only touches before it (default: as in :func:`stage_entries`).

    Returns
    -------
    DataFrame
        Sorted by person and time: ``person``, ``timestamp``, ``channel`` (str),
        ``kind`` (the event type, or ``"order"``), ``stage`` (name), ``stage_index``
        (0-based position in ``stages``).
    """
    tx = tables["transactions"]
    as_of = resolve_as_of(tx, as_of)
    names = _names(stages)
    to_person = None  # customer_id -> person, built when needed
    parts, rows = [], []  # touches, and their row in reached (-1 = not a person of the table)
    ev = tables.get("events")
    if ev is not None and len(ev) and CHANNEL in ev:
        ev = ev.loc[(ev[TIMESTAMP] < as_of) & ev[CHANNEL].notna()]
        person = ev[ANONYMOUS_ID].astype("object") if ANONYMOUS_ID in ev else pd.Series(None, index=ev.index,
                                                                                      dtype="object")
        if CUSTOMER_ID in ev:
            to_person = _person_of_customer(reached)
            person = person.where(person.notna(), ev[CUSTOMER_ID].astype("object").map(to_person))
        known = person.notna().to_numpy()
        row = np.full(len(ev), -1, dtype="int64")
        row[known] = _positions(person[known].astype("str"), reached.index)
        parts.append(pd.DataFrame({TIMESTAMP: ev[TIMESTAMP].to_numpy(), CHANNEL: ev[CHANNEL].to_numpy(),
                                   "kind": ev[EVENT_TYPE].to_numpy()}))
        rows.append(row)
    if CHANNEL in tx:
        orders, codes = orders_of(tx, as_of, codes=True)
        # each customer's person row, looked up once per customer and spread over their orders
        heads = orders[CUSTOMER_ID].take(np.flatnonzero(orders["n"].to_numpy() == 1))
        if _arrow_text(heads) and _arrow_text(reached[CUSTOMER_ID]):
            at = _positions(heads, reached[CUSTOMER_ID])  # the first person row carrying the customer id
        else:
            to_person = _person_of_customer(reached) if to_person is None else to_person
            person = to_person.reindex(pd.Index(heads.astype("object"))).to_numpy()
            known = pd.notna(person)
            at = np.full(len(person), -1, dtype="int64")
            at[known] = reached.index.get_indexer(pd.Index(person[known]).astype("str"))
        keep = orders[CHANNEL].notna().to_numpy()
        sub = np.flatnonzero(keep)
        parts.append(pd.DataFrame({TIMESTAMP: orders[TIMESTAMP].take(sub).to_numpy(),
                                   CHANNEL: orders[CHANNEL].take(sub).astype("str").array,
                                   "kind": pd.array(["order"], dtype="str").take(np.zeros(len(sub), dtype="int64"))}))
        rows.append(at[codes[sub]] if len(at) else np.zeros(0, dtype="int64"))
    cols = ["person", TIMESTAMP, CHANNEL, "kind", "stage", "stage_index"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols})
    t = pd.concat(parts, ignore_index=True)
    row = np.concatenate(rows)
    funnel = funnel_matrix(reached, names)
    keep = row >= 0
    keep[keep] = funnel[row[keep], 0]
    if not keep.all():  # every touch is usually a funnel person's: no copy of 40M touches then
        t, row = t.loc[keep], row[keep]
    t_ns = t[TIMESTAMP].to_numpy(dtype="datetime64[ns]")
    entry = np.where(funnel, reached[names].to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT"))  # people x stages
    k = len(names)
    idx = np.zeros(len(row), dtype="int64")
    for lo in range(0, len(row), TOUCH_BLOCK_ROWS):  # blocks of touches (their touches x stages arrays), not people
        hi = lo + TOUCH_BLOCK_ROWS
        before = entry[row[lo:hi]] <= t_ns[lo:hi, None]  # NaT compares False
        idx[lo:hi] = np.where(before.any(axis=1), k - 1 - np.argmax(before[:, ::-1], axis=1), 0)
    # sorted by person (text order) and time, ties in table order: one stable sort on integer ranks
    rank = np.empty(len(reached), dtype="int64")
    rank[reached.index.argsort(kind="stable")] = np.arange(len(reached))
    key, t_int = rank[row], t_ns.view("int64")
    if len(key) < 2 or bool(((key[1:] > key[:-1]) | ((key[1:] == key[:-1]) & (t_int[1:] >= t_int[:-1]))).all()):
        order = None  # already in order (orders alone: by customer, then time): the columns as they are
    else:
        order = np.lexsort((t_int, key))

    def taken(values):
        return values if order is None else values.take(order)

    t = pd.DataFrame({"person": reached.index.take(taken(row)).astype("str"),
                      TIMESTAMP: taken(t[TIMESTAMP]).to_numpy(),
                      CHANNEL: taken(t[CHANNEL]).astype("str").array,
                      "kind": taken(t["kind"]).astype("str").array,
                      "stage": pd.array(list(names), dtype="str").take(taken(idx)),
                      "stage_index": taken(idx).astype("int64")})
    return t[cols]


def channel_stage_matrix(touches: pd.DataFrame, reached: pd.DataFrame, stages: Sequence) -> pd.DataFrame:
    """The journey-map overlay: which channels act at which stage, and what follows.

    Parameters
    ----------
    touches : :func:`touchpoints` output.
    reached, stages : as for :func:`touchpoints`.

    Returns
    -------
    DataFrame
        One row per (channel, stage) with touches: ``channel``, ``stage``,
        ``stage_index``, ``touches`` (int), ``people`` (touched there by the channel),
        ``share_of_stage`` (people / people in the stage), ``moved_on`` (of those,
        reached the next stage), ``conversion`` = moved_on / people with 95 % Wilson
        ``lower``/``upper`` (NaN at the last stage).
    """
    names = _names(stages)
    cols = ["channel", "stage", "stage_index", "touches", "people", "share_of_stage", "moved_on", "conversion",
            "lower", "upper"]
    if touches.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols})
    funnel = funnel_matrix(reached, names)
    k = len(names)
    nxt = np.column_stack([funnel[:, 1:], np.zeros(len(reached), dtype=bool)])  # reached stage k+1
    row = _positions(touches["person"], reached.index)
    si = touches["stage_index"].to_numpy().astype("int64")
    ch_code, ch_uni = pd.factorize(touches[CHANNEL], sort=True)
    if (ch_code < 0).any():  # touches without a channel form no cell (as a group-by drops them)
        ok = ch_code >= 0
        row, si, ch_code = row[ok], si[ok], ch_code[ok]
    # integer cells (channel, stage) in sorted order, and distinct (cell, person) pairs: counts by bincount
    n_cells = max(len(ch_uni), 1) * k
    cell = ch_code.astype("int64") * k + si
    P = len(reached) + 1
    pairs = np.sort(cell * P + (row + 1))  # row -1 (not a person) stays apart from the others
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs  # distinct pairs
    p_cell, p_row = pairs // P, pairs % P - 1
    touch_n = np.bincount(cell, minlength=n_cells)
    people_n = np.bincount(p_cell, minlength=n_cells)
    moved = np.bincount(p_cell, weights=nxt[p_row, p_cell % k], minlength=n_cells)
    cells = np.flatnonzero(touch_n)
    out = pd.DataFrame({CHANNEL: pd.Series(ch_uni.array.take(cells // k)) if len(cells) else
                        pd.Series(touches[CHANNEL].array[:0]),
                        "stage_index": (cells % k).astype("int64"), "touches": touch_n[cells].astype("int64"),
                        "people": people_n[cells].astype("int64"), "moved_on": moved[cells].astype("int64")})
    out["stage"] = np.asarray(names, dtype=object)[out["stage_index"].to_numpy()]
    in_stage = funnel.sum(axis=0)
    out["share_of_stage"] = out["people"] / in_stage[out["stage_index"].to_numpy()]
    last = out["stage_index"].to_numpy() == k - 1
    out["conversion"] = np.where(last, np.nan, out["moved_on"] / out["people"])
    lo, hi = wilson_interval(out["moved_on"], out["people"])
    out["lower"], out["upper"] = np.where(last, np.nan, lo), np.where(last, np.nan, hi)
    out["stage"] = out["stage"].astype("str")
    return out[cols].sort_values(["stage_index", "people"], ascending=[True, False], kind="stable") \
        .reset_index(drop=True)


def touch_paths(touches: pd.DataFrame, reached: pd.DataFrame, goal: str, max_length: int = 8) -> pd.DataFrame:
    """Each person's channel path up to the goal stage (the input of attribution).

    Touches at or after the person's entry into ``goal`` are left out; repeated
    consecutive touches on one channel count once (``email > email > search`` is
    ``email > search``: a repeat does not change who gets credit, and Markov
    absorption probabilities do not depend on self-loops); only the last
    ``max_length`` channels are kept.

    Returns
    -------
    DataFrame
        Index ``person`` (people with at least one touch before the goal):
        ``path`` (str, channels joined by :data:`PATH_SEP`), ``length`` (int),
        ``converted`` (bool: reached ``goal``), ``channel`` (the person's channel in
        ``reached``).
    """
    if goal not in reached:
        raise ValueError(f"goal stage {goal!r} is not a column of reached")
    if max_length < 1:
        raise ValueError("max_length must be at least 1")
    nat = np.datetime64("NaT", "ns")

    def lookup(column, persons, missing):  # reached[column].reindex(persons), by position
        at = _positions(persons, reached.index)
        vals = reached[column].to_numpy()
        return np.where(at >= 0, vals[np.maximum(at, 0)] if len(vals) else missing, missing)

    goal_at = lookup(goal, touches["person"], nat).astype("datetime64[ns]")
    t = touches.loc[~(touches[TIMESTAMP].to_numpy(dtype="datetime64[ns]") >= goal_at), ["person", CHANNEL]]
    same = (t["person"].to_numpy() == np.roll(t["person"].to_numpy(), 1)) & \
           (t[CHANNEL].to_numpy() == np.roll(t[CHANNEL].to_numpy(), 1))
    if len(t):
        same[0] = False
    t = t.loc[~same]
    from_end = t.groupby("person", sort=False).cumcount(ascending=False)
    t = t.loc[from_end < max_length]
    pos = t.groupby("person", sort=False).cumcount()
    wide = pd.DataFrame({"person": t["person"].to_numpy(), "pos": pos.to_numpy(), CHANNEL: t[CHANNEL].to_numpy()}) \
        .pivot(index="person", columns="pos", values=CHANNEL)
    cols = ["path", "length", "converted", "channel"]
    if wide.empty:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in cols}, index=pd.Index([], name="person"))
    path = wide[0].astype("str")
    for c in wide.columns[1:]:  # a loop over at most max_length positions
        path = path.where(wide[c].isna(), path + PATH_SEP + wide[c].astype("object").fillna("").astype("str"))
    out = pd.DataFrame({"path": path.astype("str"), "length": wide.notna().sum(axis=1).astype("int64")})
    out["converted"] = ~np.isnat(lookup(goal, out.index, nat).astype("datetime64[ns]"))
    out["channel"] = lookup("channel", out.index, np.nan)
    out.index.name = "person"
    return out[cols]


def path_counts(paths: pd.DataFrame) -> pd.DataFrame:
    """People and conversions per distinct path, most frequent first.

    Returns
    -------
    DataFrame
        ``path``, ``length``, ``people``, ``conversions``, ``conversion_rate`` with 95 %
        Wilson ``lower``/``upper``, ``share_of_people``. The input of
        :mod:`lclib.analysis.attribution`.
    """
    for c in ("path", "converted"):
        if c not in paths:
            raise ValueError(f"paths needs column {c!r}")
    g = paths.groupby("path", sort=False)
    out = pd.DataFrame({"people": g.size(), "conversions": g["converted"].sum().astype("int64")}).reset_index()
    out["length"] = out["path"].str.count(PATH_SEP) + 1
    out["conversion_rate"] = out["conversions"] / out["people"]
    out["lower"], out["upper"] = wilson_interval(out["conversions"], out["people"])
    out["share_of_people"] = out["people"] / max(len(paths), 1)
    out = out.sort_values(["people", "conversions", "path"], ascending=[False, False, True], kind="stable")
    return out[["path", "length", "people", "conversions", "conversion_rate", "lower", "upper",
                "share_of_people"]].reset_index(drop=True)
