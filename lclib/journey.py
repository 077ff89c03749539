"""Journey mapping: who reached which lifecycle stage, and when.

Stages come from configuration (``cfg.journey.stages``): a person enters a stage at
the first of its ``events`` (event types of the events table) or ``facts`` (derived
from the other tables, see :data:`FACT_SOURCES`).
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

from lclib.cohorts import acquisition_channels, orders_table, resolve_as_of
from lclib.columns import (AMOUNT, ANONYMOUS_ID, CHANNEL, CUSTOMER_ID, EVENT_TYPE, REFERRER_ID, SCORE,
                           SIGNUP_DATE, TIMESTAMP)

#: Which table each stage fact comes from.
FACT_SOURCES = {"signup": "customers", "first_purchase": "transactions", "repeat_purchase": "transactions",
                "referral": "referrals", "nps_promoter": "surveys"}


def stage_entries(tables: dict[str, pd.DataFrame | None], stages: Sequence, as_of=None,
                  cohort_freq: str = "Q") -> tuple[pd.DataFrame, list[str]]:
    """One row per person with the time they entered each stage.

    The canonical person x stage table: journey maps, drop-off
    (:func:`lclib.churn.stage_dropoff`) and stage segmentation all start here.

    Persons: the events' ``anonymous_id``; a customer is joined to the person whose
    events carry their ``customer_id`` (the first such person); customers without
    events are persons of their own (keyed by ``customer_id``). A person enters a stage
    at the first of its ``events`` (event types) or ``facts`` (``signup`` = the
    customers' ``signup_date``, ``first_purchase``, ``repeat_purchase`` = second order,
    ``referral`` = first referral made, ``nps_promoter`` = first survey answer of 9+).

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
    orders = orders_table(tx, as_of)

    # customer -> person through the events that carry both ids
    if ev is not None and ANONYMOUS_ID in ev and CUSTOMER_ID in ev:
        both = ev.dropna(subset=[ANONYMOUS_ID, CUSTOMER_ID]).sort_values(TIMESTAMP, kind="stable")
        link = both.drop_duplicates(CUSTOMER_ID).set_index(CUSTOMER_ID)[ANONYMOUS_ID]
    else:
        link = pd.Series(dtype="str")

    def person_of_customer(ids: pd.Series) -> pd.Series:
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
        if ev is not None and st.events:
            hit = ev.loc[ev[EVENT_TYPE].isin(st.events)]
            if len(hit):
                parts.append(hit.set_index("person")[TIMESTAMP])
        if not parts:
            skipped.append(st.name)
            continue
        both = pd.concat(parts)
        columns[st.name] = both.groupby(level=0).min()
    reached = pd.DataFrame(columns)
    reached.index = reached.index.astype("str")
    reached.index.name = "person"

    # attributes: customer id, channel, cohort, revenue
    cust_ids = pd.Series(orders[CUSTOMER_ID].unique())
    if have(cust):
        cust_ids = pd.concat([cust_ids, cust[CUSTOMER_ID].dropna()]).drop_duplicates()
    owner = pd.Series(cust_ids.to_numpy(), index=person_of_customer(cust_ids).to_numpy())
    owner = owner[~owner.index.duplicated()]
    reached[CUSTOMER_ID] = owner.reindex(reached.index)
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
    revenue = orders.groupby(CUSTOMER_ID, observed=True)[AMOUNT].sum()
    reached["revenue"] = revenue.reindex(reached[CUSTOMER_ID]).fillna(0.0).to_numpy()
    reached["is_customer"] = reached[CUSTOMER_ID].isin(orders[CUSTOMER_ID]).to_numpy()
    return reached, skipped
