"""One KPI per lifecycle stage, always: the contract every report reuses.

Each stage of ``cfg.journey.stages`` names its KPI (``kpi``) and, optionally, a
``target`` (a share, 0-1). :func:`stage_kpis` computes every stage's KPI from the
canonical tables and the person x stage table of :func:`lclib.analysis.journey.stage_entries`
and says whether it meets its target.

KPIs (the names the marketing literature uses, Sterne & Cutler's matrix)
-----------------------------------------------------------------------
Counts (unit: the thing counted; no target):

``impressions``, ``visits``, ``signups``, ``add_to_carts``
    Events of that type before ``as_of`` (events table).
``people``, ``reach``, ``leads``, ``customers``, ``retained_customers``, ``advocates``
    People in the stage of the strict funnel (reached it and every stage before).

Rates (unit ``%``, value and target in percent, 95 % Wilson interval):

``lead_rate``, ``conversion_rate``, ``retention_rate``, ``repeat_rate``,
``advocacy_rate``, ``stage_conversion``
    Share of the previous stage's people who reached this stage
    (:func:`lclib.analysis.journey.stage_conversion`; the first stage has no previous one:
    not measurable).
``referral_rate``
    Share of the previous stage's people (all people for the first stage) who made at
    least one referral (referrals table).

Score:

``nps``
    Net Promoter Score of each customer's latest answer before ``as_of``: % promoters
    (9-10) minus % detractors (0-6), in points from -100 to 100. A target of 0.3 in the
    configuration reads as NPS 30.

Status: ``met`` (value >= target), ``below``, ``no target`` or ``not measurable``
(the stage or the KPI's table is missing from the data).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from lclib.analysis.churn import funnel_matrix
from lclib.engine.contracts import resolve_as_of
from lclib.analysis.intervals import wilson_interval
from lclib.io.columns import CUSTOMER_ID, EVENT_TYPE, REFERRER_ID, SCORE, TIMESTAMP
from lclib.analysis.journey import stage_conversion
from lclib.config.kpi_catalogue import KPIS


COLUMNS = ["stage", "label", "kpi", "kpi_label", "value", "unit", "target", "status", "lower", "upper", "n",
           "people", "definition"]


def _status(value: float, target: float) -> str:
    if not np.isfinite(value):
        return "not measurable"
    if not np.isfinite(target):
        return "no target"
    return "met" if value >= target - 1e-12 else "below"


def nps(scores: pd.Series) -> float:
    """Net Promoter Score of 0-10 answers: % of 9-10 minus % of 0-6 (NaN when empty)."""
    s = pd.to_numeric(scores, errors="coerce").dropna()
    if s.empty:
        return np.nan
    return float(100.0 * ((s >= 9).mean() - (s <= 6).mean()))


def stage_kpis(tables: dict[str, pd.DataFrame | None], stages: Sequence, reached: pd.DataFrame,
               as_of=None, window_days: float | None = None) -> pd.DataFrame:
    """One row per configured stage with its KPI, target and status.

    Parameters
    ----------
    tables : ``data.tables``.
    stages : ``cfg.journey.stages`` (all of them: stages the data cannot measure get a
        row with status ``not measurable``).
    reached : :func:`lclib.analysis.journey.stage_entries` output.
    as_of : end of the data (default: midnight after the last transaction).
    window_days : conversion window for stage rates (``cfg.journey.conversion_window_days``).

    Returns
    -------
    DataFrame
        Columns :data:`COLUMNS`: ``stage``, ``label``, ``kpi``, ``kpi_label``,
        ``value`` (float; rates and NPS in percent / points), ``unit``, ``target``
        (same unit as value; NaN = none), ``status`` (met / below / no target / not
        measurable), ``lower``/``upper`` (95 % interval of rates), ``n`` (the rate's
        denominator or the count), ``people`` (in the stage of the strict funnel),
        ``definition`` (one sentence).

    Raises
    ------
    ValueError
        A stage names a KPI that is not in :data:`KPIS`.
    """
    unknown = {s.name: s.kpi for s in stages if s.kpi not in KPIS}
    if unknown:
        raise ValueError(f"unknown KPI(s) in journey.stages: {unknown}; known KPIs: {sorted(KPIS)}")
    as_of = resolve_as_of(tables["transactions"], as_of)
    measured = [s for s in stages if s.name in reached.columns]
    names = [s.name for s in measured]
    funnel = funnel_matrix(reached, names) if names else np.zeros((len(reached), 0), dtype=bool)
    people = dict(zip(names, funnel.sum(axis=0).astype("int64")))
    conv = (stage_conversion(reached, measured, window_days=window_days, as_of=as_of).set_index("stage")
            if len(measured) >= 2 else pd.DataFrame())
    ev, ref, sv = tables.get("events"), tables.get("referrals"), tables.get("surveys")

    rows = []
    for s in stages:  # a loop over the handful of stages
        label, kind, detail = KPIS[s.kpi]
        target = np.nan if s.target is None else float(s.target)
        row = dict(stage=s.name, label=s.title, kpi=s.kpi, kpi_label=label, value=np.nan, unit="", target=np.nan,
                   lower=np.nan, upper=np.nan, n=np.nan, people=float(people.get(s.name, np.nan)), definition="")
        pos = names.index(s.name) if s.name in names else None
        if kind == "events":
            row["unit"] = detail.replace("_", "-") + "s"
            row["definition"] = f"{label} ({detail} events) before the analysis date."
            if ev is not None and len(ev) and EVENT_TYPE in ev:
                row["value"] = row["n"] = float(((ev[EVENT_TYPE] == detail) & (ev[TIMESTAMP] < as_of)).sum())
            else:
                row["definition"] += " Needs the events table."
        elif kind == "people":
            row["unit"] = "people"
            row["definition"] = "People who reached this stage and every stage before it."
            if pos is not None:
                row["value"] = row["n"] = float(people[s.name])
        elif kind == "stage_rate":
            row["unit"], row["target"] = "%", target * 100
            row["definition"] = "Share of the previous stage's people who reached this stage."
            if pos is not None and pos > 0 and s.name in conv.index:
                c = conv.loc[s.name]
                row.update(value=100 * c["conversion"], lower=100 * c["lower"], upper=100 * c["upper"],
                           n=float(c["entered"]))
            elif pos == 0:
                row["definition"] += " The first measurable stage has no previous stage."
        elif kind == "referral_rate":
            row["unit"], row["target"] = "%", target * 100
            row["definition"] = "Share of the previous stage's people who made at least one referral."
            if pos is not None and ref is not None and len(ref):
                base = funnel[:, pos - 1] if pos > 0 else np.ones(len(reached), dtype=bool)
                r = ref.loc[ref[TIMESTAMP] < as_of, REFERRER_ID].dropna().astype("str")
                referred = reached[CUSTOMER_ID].astype("object").isin(set(r.unique())).to_numpy()
                k, n = int((referred & base).sum()), int(base.sum())
                lo, hi = wilson_interval(k, n)
                row.update(value=100 * k / n if n else np.nan, lower=100 * float(lo), upper=100 * float(hi), n=n)
            elif ref is None or not len(ref):
                row["definition"] += " Needs the referrals table."
        elif kind == "nps":
            row["unit"], row["target"] = "NPS points", target * 100
            row["definition"] = "% promoters (9-10) minus % detractors (0-6), latest answer per customer."
            if sv is not None and len(sv):
                latest = (sv.loc[sv[TIMESTAMP] < as_of].sort_values(TIMESTAMP, kind="stable")
                          .drop_duplicates(CUSTOMER_ID, keep="last"))
                row.update(value=nps(latest[SCORE]), n=float(len(latest)))
            else:
                row["definition"] += " Needs the surveys table."
        if pos is None and kind in ("people", "stage_rate", "referral_rate"):
            row["definition"] += " The data given cannot show this stage."
        row["status"] = _status(row["value"], row["target"])
        rows.append(row)
    return pd.DataFrame(rows)[COLUMNS]
