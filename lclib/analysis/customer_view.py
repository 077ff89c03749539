"""One row per customer: every score lclib computes, under one set of names.

The lifecycle state (:mod:`lclib.analysis.stages`), the RFM scores and segment
(:mod:`lclib.analysis.rfm`), the churn model's probability
(:mod:`lclib.analysis.churn_model`) and the purchase model's P(alive), expected
purchases and CLV (:mod:`lclib.analysis.clv`) are computed by their own reports;
:func:`customer_scores` joins them on the customer id so that a campaign works
from one table, and :func:`at_risk_definitions` says how the three meanings of
"at risk" relate.

Column contract of :func:`customer_scores` (index ``customer_id``, one row per
customer with a first order before ``as_of``, sorted): the columns of
:data:`COLUMN_MEANINGS`, in that order, each with its meaning there (the report and
its export show the same glossary, :func:`column_glossary`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from lclib.analysis import stages
from lclib.analysis.rfm import score_rfm
from lclib.analysis.wording import UNTRUSTED_CHURN_MODEL, money
from lclib.engine.contracts import resolve_as_of
from lclib.engine.rfm_table import rfm_table
from lclib.io.columns import CUSTOMER_ID, REFUNDED_AMOUNT, TIMESTAMP, require_columns

#: RFM segments that mean "at risk" in campaign terms (the default segment names).
AT_RISK_SEGMENTS = ("At Risk", "Can't Lose Them")

#: The three definitions of "at risk", in words (for tables and the glossary).
AT_RISK_DEFINITIONS = {
    "at_risk_state": "Lifecycle: no order for longer than the usual purchase cycle, not yet lapsed",
    "at_risk_rfm": "RFM segment At Risk or Can't Lose Them: valuable before, no recent order",
    "at_risk_model": "Churn model: ordered within the churn window, probability of no order in the next window "
                     "at or above {at_risk_min_probability}",
}

#: Every column of :func:`customer_scores`, with its meaning (the glossary of the customer table).
COLUMN_MEANINGS = {
    "state": "Lifecycle state on the analysis date (new, active, reactivated, at_risk, lapsed), as in report 02",
    "first_order": "Time of the customer's first order in the data",
    "first_order_at_data_start": "First order within the data's first {left_truncation_days} days: the "
                                 "customer may have bought before the data begin (left truncation)",
    "last_order": "Time of the customer's latest order before the analysis date",
    "orders": "Orders before the analysis date",
    "revenue": "Sum of the customer's order amounts, {refunds}",
    "revenue_gross": "The same before refunds (equal to revenue when nothing was refunded)",
    "days_since_last_order": "Days from the latest order to the analysis date",
    "r_score": "RFM recency score 1-5{recency_rule}",
    "f_score": "RFM frequency score 1-5",
    "m_score": "RFM monetary score 1-5",
    "segment": "RFM segment, as in report 03",
    "churn_probability": "Churn model (report 04): probability of no order in the next churn window",
    "p_alive": "Purchase model (report 05): probability that the customer is still a customer",
    "expected_purchases": "Purchase model: repeat purchases expected over the next {horizon_months} months",
    "predicted_clv": "Predicted CLV (report 05): discounted margin over the next {horizon_months} months",
    "predicted_clv_low": "Low end of the predicted CLV's {interval_level} interval (from the uncertainty of the "
                         "model's parameters; empty when report 05 gave intervals to its top list only)",
    "predicted_clv_high": "High end of that interval",
    "clv_model": "The purchase and spend models behind p_alive, expected_purchases and predicted_clv",
    "expected_next_order": "Latest order plus the customer's own average time between orders (2+ orders)",
    "at_risk_state": "Lifecycle definition of at risk: past the usual purchase cycle, not yet lapsed",
    "at_risk_rfm": "RFM definition: segment At Risk or Can't Lose Them",
    "at_risk_model": "Churn-model definition: ordered within the churn window, churn probability at or above "
                     "{at_risk_min_probability}",
}

SCORE_COLUMNS = tuple(COLUMN_MEANINGS)

#: RFM segments that hold the most valuable recent customers (the VIP export of report 03).
VIP_SEGMENTS = ("Champions", "Loyal Customers")


def states_for_rfm(tables: dict, cfg, thresholds: stages.StateThresholds):
    """The lifecycle states RFM recency follows, as a function of the date (None when it does not).

    With ``cfg.rfm.recency_from_states`` the returned function maps a date to
    :func:`lclib.analysis.stages.buyer_states` at that date under ``thresholds``
    (the run's thresholds: one definition of at risk and lapsed for every date);
    otherwise None, and recency is scored from plain quantiles.
    """
    if not cfg.rfm.recency_from_states:
        return None
    end = resolve_as_of(tables["transactions"], cfg.analysis.as_of)  # the report's orders, read at each date
    return lambda date: stages.buyer_states_at(tables, thresholds, date, max(end, pd.Timestamp(date)))


def rfm_segments(tables: dict, cfg, as_of=None, thresholds: stages.StateThresholds | None = None,
                 rfm: pd.DataFrame | None = None, states: pd.DataFrame | None = None) -> pd.DataFrame:
    """RFM values, scores and segment of every buyer at ``as_of``, as every report computes them.

    The one definition of "RFM segment" in lclib: ``cfg.rfm`` (bins, method,
    thresholds, segment rules) and, with ``rfm.recency_from_states``, recency tied
    to the lifecycle state at ``as_of`` under ``thresholds`` (default: the run's,
    :func:`lclib.analysis.stages.thresholds_from_config` at ``as_of``).

    Parameters
    ----------
    tables : dict of canonical tables (``transactions`` required).
    cfg : the loaded configuration.
    as_of : date-like, optional
        Exclusive end of the data (default ``analysis.as_of`` resolved on the data).
    thresholds : StateThresholds, optional
    rfm : DataFrame, optional
        :func:`lclib.engine.rfm_table.rfm_table` at ``as_of`` when already computed.
    states : DataFrame, optional
        :func:`lclib.analysis.stages.customer_states` at ``as_of`` under ``thresholds``
        when already computed (not computed again).

    Returns
    -------
    DataFrame
        :func:`lclib.analysis.rfm.score_rfm` output (index ``customer_id``).
    """
    tx = tables["transactions"]
    as_of = resolve_as_of(tx, as_of if as_of is not None else cfg.analysis.as_of)
    rfm = rfm if rfm is not None else rfm_table(tx, as_of, engine=cfg.analysis.engine)
    th = thresholds if thresholds is not None else stages.thresholds_from_config(tx, cfg, as_of)
    extra = {}
    if cfg.rfm.recency_from_states and len(rfm):
        extra["states"] = (stages.buyer_states(states) if states is not None
                           else states_for_rfm(tables, cfg, th)(as_of))
    return score_rfm(rfm, bins=cfg.rfm.bins, method=cfg.rfm.method, thresholds=cfg.rfm.thresholds,
                     rules=cfg.rfm.segments, **extra)


def customer_scores(states: pd.DataFrame, scored: pd.DataFrame, as_of, *, churn: pd.DataFrame | None = None,
                    predictions: pd.DataFrame | None = None, clv_model: str | None = None,
                    churn_threshold: float = 0.5, refunds: pd.Series | None = None, data_start=None,
                    left_truncation_days: int = 0,
                    at_risk_segments: Sequence[str] = AT_RISK_SEGMENTS) -> pd.DataFrame:
    """Join every per-customer score on the customer id (see the module docstring for the columns).

    Parameters
    ----------
    states : DataFrame
        :func:`lclib.analysis.stages.customer_states` at ``as_of`` (index person;
        ``customer_id``, ``state``, ``first_order``, ``last_order``, ``orders``,
        ``revenue``, ``days_since_last_order``).
    scored : DataFrame
        :func:`lclib.analysis.rfm.score_rfm` at ``as_of`` (index ``customer_id``;
        ``r_score``, ``f_score``, ``m_score``, ``segment``).
    as_of : date-like
        The analysis date (exclusive end of the data).
    churn : DataFrame, optional
        :func:`lclib.analysis.churn_model.score_customers` output (index customer
        id; ``p_churn`` and ``status``, "active" when the last order is within the
        churn window).
    predictions : DataFrame, optional
        :func:`lclib.analysis.clv.predict_customers` output (index customer id;
        ``p_alive``, ``expected_purchases``, ``clv``).
    clv_model : str, optional
        Name of the model behind ``predictions`` (e.g. "BG/NBD + Gamma-Gamma").
    churn_threshold : float
        ``at_risk_model`` is ``status == "active"`` and ``churn_probability >= churn_threshold``.
    refunds : Series, optional
        Refunded amount per customer id netted from ``revenue`` (gives ``revenue_gross``).
    data_start, left_truncation_days :
        ``first_order_at_data_start`` is a first order before ``data_start + left_truncation_days``
        (all False without ``data_start`` or with 0 days).
    at_risk_segments : sequence of str
        RFM segments flagged in ``at_risk_rfm``.

    Returns
    -------
    DataFrame
        One row per customer with a first order before ``as_of``.

    Examples
    --------
    >>> states = pd.DataFrame({"customer_id": ["a", "b", None], "state": ["active", "lapsed", "prospect"],
    ...     "first_order": pd.to_datetime(["2024-01-01", "2023-01-01", None]),
    ...     "last_order": pd.to_datetime(["2024-03-01", "2023-01-01", None]),
    ...     "orders": [3, 1, 0], "revenue": [90.0, 10.0, 0.0], "days_since_last_order": [31.0, 456.0, None]},
    ...     index=pd.Index(["p1", "p2", "p3"], name="person"))
    >>> scored = pd.DataFrame({"r_score": [4, 1], "f_score": [5, 1], "m_score": [5, 1],
    ...     "segment": ["Loyal Customers", "Lost"]}, index=pd.Index(["a", "b"], name="customer_id"))
    >>> churn = pd.DataFrame({"p_churn": [0.2, 0.9], "status": ["active", "lapsed"]}, index=["a", "b"])
    >>> out = customer_scores(states, scored, "2024-04-01", churn=churn)
    >>> out[["state", "segment", "churn_probability", "at_risk_model"]]  # doctest: +NORMALIZE_WHITESPACE
                  state          segment  churn_probability  at_risk_model
    customer_id
    a            active  Loyal Customers                0.2          False
    b            lapsed             Lost                0.9          False
    >>> out["expected_next_order"].tolist()  # a: 3 orders over 60 days, one every 30 days after 1 March
    [Timestamp('2024-03-31 00:00:00'), NaT]
    """
    require_columns(states, ("customer_id", "state", "first_order", "last_order", "orders", "revenue",
                             "days_since_last_order"), "states")
    require_columns(scored, ("r_score", "f_score", "m_score", "segment"), "scored")
    buyers = states.loc[(states["orders"].to_numpy() > 0) & states[CUSTOMER_ID].notna().to_numpy()]
    buyers = buyers.loc[~buyers[CUSTOMER_ID].duplicated().to_numpy()]  # a mask of values: no look-ups in the index
    buyers = buyers.set_index(CUSTOMER_ID).sort_index()
    out = pd.DataFrame(index=pd.Index(buyers.index, name=CUSTOMER_ID))
    out["state"] = buyers["state"].astype(str)
    for col in ("first_order", "last_order", "orders", "revenue", "days_since_last_order"):
        out[col] = buyers[col]
    gross = out["revenue"] + (pd.Series(refunds, dtype="float64").reindex(out.index).fillna(0.0)
                              if refunds is not None else 0.0)
    out.insert(out.columns.get_loc("revenue") + 1, "revenue_gross", gross)
    rfm = scored.reindex(out.index)
    for col in ("r_score", "f_score", "m_score"):
        out[col] = rfm[col].astype("Int64")
    out["segment"] = rfm["segment"].astype(str).where(rfm["segment"].notna(), None)
    ch = churn.reindex(out.index) if churn is not None else None
    out["churn_probability"] = ch["p_churn"].astype("float64") if ch is not None else np.nan
    pred = predictions.reindex(out.index) if predictions is not None else None
    out["p_alive"] = pred["p_alive"].astype("float64") if pred is not None else np.nan
    out["expected_purchases"] = pred["expected_purchases"].astype("float64") if pred is not None else np.nan
    out["predicted_clv"] = pred["clv"].astype("float64") if pred is not None else np.nan
    for col, source in (("predicted_clv_low", "clv_low"), ("predicted_clv_high", "clv_high")):
        out[col] = pred[source].astype("float64") if pred is not None and source in pred else np.nan
    out["clv_model"] = clv_model if pred is not None and clv_model else None
    out["expected_next_order"] = expected_next_order(out["first_order"], out["last_order"], out["orders"])
    out["first_order_at_data_start"] = (out["first_order"] < data_start + pd.Timedelta(days=left_truncation_days)
                                        if data_start is not None and left_truncation_days > 0 else False)
    out["at_risk_state"] = out["state"].eq("at_risk")
    out["at_risk_rfm"] = out["segment"].isin(list(at_risk_segments))
    out["at_risk_model"] = (out["churn_probability"].ge(churn_threshold) & ch["status"].eq("active")
                            if ch is not None else False)
    out = out[list(SCORE_COLUMNS)]
    out.attrs["as_of"] = pd.Timestamp(as_of)
    return out


def build_customer_scores(tables: dict, cfg, as_of=None, *, churn: pd.DataFrame | None = None,
                          predictions: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`customer_scores` from the tables and the configuration, with the run's definitions.

    The lifecycle state under the run's thresholds
    (:func:`lclib.analysis.stages.thresholds_from_config`), the RFM segment of
    :func:`rfm_segments`, refunds from the loader's ``refunded_amount`` column (when
    refunds were netted), and the models' scores as the churn (04) and CLV (05)
    reports exported them (``churn_scores``, ``clv_scores``).

    Parameters
    ----------
    tables : dict of canonical tables.
    cfg : the loaded configuration.
    as_of : date-like, optional (default ``analysis.as_of`` resolved on the data).
    churn : DataFrame, optional
        ``churn_scores`` of report 04 (index or column ``customer_id``; ``p_churn``, ``status``;
        ``model_beats_recency``, report 04's verdict on its model, the same on every row).
    predictions : DataFrame, optional
        ``clv_scores`` of report 05 (``customer_id``; ``p_alive``, ``expected_purchases``,
        ``clv``, ``clv_model``; ``clv_low``, ``clv_high`` when it has every customer's interval).

    Returns
    -------
    DataFrame
        :func:`customer_scores` output; ``attrs["thresholds"]`` holds the lifecycle thresholds and
        ``attrs["model_beats_recency"]`` report 04's verdict (:func:`churn_model_beats_recency`).
    """
    tx = tables["transactions"]
    as_of = resolve_as_of(tx, as_of if as_of is not None else cfg.analysis.as_of)
    th = stages.thresholds_from_config(tx, cfg, as_of)
    states = stages.customer_states(tables, th, as_of)
    scored = rfm_segments(tables, cfg, as_of, th, states=states)
    refunds = None
    if REFUNDED_AMOUNT in tx:
        before = tx.loc[tx[TIMESTAMP] < as_of]
        refunds = before.groupby(CUSTOMER_ID, sort=False)[REFUNDED_AMOUNT].sum()
    churn = _by_customer(churn)
    predictions = _by_customer(predictions)
    model = None
    if predictions is not None and "clv_model" in predictions and len(predictions):
        model = str(predictions["clv_model"].iloc[0])
    out = customer_scores(states, scored, as_of, churn=churn, predictions=predictions, clv_model=model,
                          churn_threshold=cfg.churn.at_risk_min_probability, refunds=refunds,
                          data_start=tx[TIMESTAMP].min(), left_truncation_days=cfg.analysis.left_truncation_days)
    out.attrs["thresholds"] = th
    out.attrs["model_beats_recency"] = churn_model_beats_recency(churn)
    return out


def churn_model_beats_recency(churn: pd.DataFrame | None) -> bool | None:
    """Report 04's verdict on its churn model, as its ``churn_scores`` export carries it.

    True when the model ranked the customers of the test period better than sorting them by the
    days since their last order (column ``model_beats_recency``, the same on every row), False
    when it did not; None without churn scores, or scores of a run before the column existed.

    Examples
    --------
    >>> churn_model_beats_recency(pd.DataFrame({"p_churn": [0.4], "model_beats_recency": [False]}))
    False
    >>> churn_model_beats_recency(pd.DataFrame({"p_churn": [0.4]})) is None
    True
    """
    if churn is None or "model_beats_recency" not in churn or not len(churn):
        return None
    verdict = churn["model_beats_recency"].dropna()
    return bool(verdict.iloc[0]) if len(verdict) else None


def _by_customer(frame: pd.DataFrame | None) -> pd.DataFrame | None:
    if frame is None:
        return None
    if CUSTOMER_ID in frame.columns:
        frame = frame.set_index(CUSTOMER_ID)
    frame.index = frame.index.astype(str)
    return frame


def expected_next_order(first_order: pd.Series, last_order: pd.Series, orders: pd.Series) -> pd.Series:
    """Last order plus the customer's own average time between orders; NaT with fewer than two orders.

    The rule shop tools such as Klaviyo use for an "expected date of next order": the
    customer's own rhythm, not a model. A date before the analysis date means the
    customer is overdue.
    """
    n = pd.to_numeric(orders).to_numpy(dtype="float64")
    span = (last_order - first_order).to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        gap = np.where(n >= 2, span / np.maximum(n - 1, 1), np.timedelta64("NaT"))
    out = last_order + pd.to_timedelta(gap)
    return out.where(n >= 2)


def at_risk_definitions(scores: pd.DataFrame, cfg=None) -> pd.DataFrame:
    """How the three "at risk" lists overlap: customers in each, and in each pair.

    Parameters
    ----------
    scores : :func:`customer_scores` output.
    cfg : the run's configuration (its churn threshold is said in the definitions; None: the default).

    Returns
    -------
    DataFrame
        Index the three definitions (their column names); columns ``definition``
        (in words), ``customers`` (in the list), and one column per definition
        with the customers in both lists (the diagonal repeats ``customers``).
        A definition that could not be computed (no churn model) has NaN counts.

    Examples
    --------
    >>> s = pd.DataFrame({"at_risk_state": [True, True, False], "at_risk_rfm": [True, False, False],
    ...                   "at_risk_model": [False, True, True], "churn_probability": [0.1, 0.6, 0.7]})
    >>> at_risk_definitions(s)[["customers", "at_risk_state", "at_risk_rfm", "at_risk_model"]]
                   customers  at_risk_state  at_risk_rfm  at_risk_model
    at_risk_state          2              2            1              1
    at_risk_rfm            1              1            1              0
    at_risk_model          2              1            0              2
    """
    names = list(AT_RISK_DEFINITIONS)
    require_columns(scores, names, "scores")
    flags = scores[names].astype(bool).to_numpy()
    both = flags.T.astype("int64") @ flags.astype("int64")
    out = pd.DataFrame(both, index=names, columns=names).astype("float64")
    if "churn_probability" in scores and scores["churn_probability"].isna().all():
        out.loc["at_risk_model", :] = np.nan
        out.loc[:, "at_risk_model"] = np.nan
    out.insert(0, "customers", np.diag(out.to_numpy()))
    words = _setting_words(cfg)
    out.insert(0, "definition", [AT_RISK_DEFINITIONS[n].format(**words) for n in names])
    counts = [c for c in out.columns if c != "definition"]
    if not out[counts].isna().any().any():
        out[counts] = out[counts].astype("int64")
    return out


def _setting_words(cfg=None) -> dict[str, str]:
    """The run's settings that the column meanings name, as values in words (defaults without ``cfg``)."""
    from lclib.config.settings import Analysis, Churn, CleanRules, Clv, Rfm

    if cfg is None:
        churn, analysis, rfm, clv, clean = Churn(), Analysis(), Rfm(), Clv(), CleanRules()
    else:
        churn, analysis, rfm, clv = cfg.churn, cfg.analysis, cfg.rfm, cfg.clv
        clean = cfg.inputs.transactions.clean
    return {
        "at_risk_min_probability": f"{churn.at_risk_min_probability:.0%} (a setting)",
        "left_truncation_days": f"{analysis.left_truncation_days:g}",
        "refunds": ("net of refunds (refunds are netted)" if clean.cancellations == "net"
                    else "as exported (refunds are not netted)"),
        "recency_rule": (" (1 lapsed, 2 at risk, 3-5 recent buyers: set from the lifecycle states)"
                         if rfm.recency_from_states else " (from days since the last order)"),
        "horizon_months": f"{clv.horizon_months:g}",
        "interval_level": f"{clv.interval_level:.0%}",
    }


def column_glossary(cfg=None) -> pd.DataFrame:
    """The columns of :func:`customer_scores` and what each means (index ``Column``), with the run's
    settings (``cfg``; None: the defaults) filled in as values, never as configuration keys.

    Examples
    --------
    >>> column_glossary().loc["expected_purchases", "Meaning"]
    'Purchase model: repeat purchases expected over the next 12 months'
    """
    words = _setting_words(cfg)
    return pd.DataFrame({"Meaning": [m.format(**words) for m in COLUMN_MEANINGS.values()]},
                        index=pd.Index(list(COLUMN_MEANINGS), name="Column"))


def vip_lapsed(scores: pd.DataFrame, vip_segments: Sequence[str] = VIP_SEGMENTS) -> pd.Series:
    """True for customers in a VIP segment who are at risk or lapsed in the lifecycle (should be none)."""
    require_columns(scores, ("segment", "state"), "scores")
    return scores["segment"].isin(list(vip_segments)) & scores["state"].isin(["at_risk", "lapsed"])


def due_soon(scores: pd.DataFrame, days: int = 30) -> pd.Series:
    """True for customers whose ``expected_next_order`` falls in the ``days`` after the analysis date."""
    as_of = scores.attrs.get("as_of")
    nxt = scores["expected_next_order"]
    if as_of is None:
        raise ValueError("scores has no attrs['as_of']: build it with customer_scores")
    return (nxt >= as_of) & (nxt < as_of + pd.Timedelta(days=days))


def campaign_list(scores: pd.DataFrame) -> pd.DataFrame:
    """The campaign at-risk list: lifecycle at-risk customers, most valuable first.

    Rows of ``scores`` with ``at_risk_state``, sorted by ``predicted_clv`` (when the
    purchase model scored them) and then by ``revenue``, both descending; every column
    kept, so the RFM and churn-model definitions travel along as ``at_risk_rfm`` and
    ``at_risk_model``.
    """
    require_columns(scores, ("at_risk_state", "predicted_clv", "revenue"), "scores")
    out = scores.loc[scores["at_risk_state"].to_numpy(dtype=bool)]
    return out.sort_values(["predicted_clv", "revenue"], ascending=False, na_position="last", kind="stable")


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "-"


def at_risk_relation(scores: pd.DataFrame, thresholds) -> str:
    """How the three at-risk lists relate, in words, with the counts that show it.

    The lifecycle list is everyone between ``at_risk_days`` and ``lapsed_days`` without an
    order. With recency tied to the states, the RFM at-risk segments are valuable past
    customers with R = 1 or 2: all of them lifecycle at risk or lapsed. The churn model
    flags customers who ordered within its window, so never a lapsed one.

    The closing advice follows report 04's verdict (``scores.attrs["model_beats_recency"]``,
    :func:`build_customer_scores`): the churn flag picks who comes first only when the model
    ranked customers better than the days since their last order (or when that is not known);
    else the list is to be ordered by days since the last order.
    """
    state, rfm_, model = (scores[c].to_numpy(dtype=bool) for c in ("at_risk_state", "at_risk_rfm", "at_risk_model"))
    lapsed = scores["state"].eq("lapsed").to_numpy()
    n_state, n_rfm, n_model = int(state.sum()), int(rfm_.sum()), int(model.sum())
    rfm_state, rfm_lapsed = int((rfm_ & state).sum()), int((rfm_ & lapsed).sum())
    rfm_other = n_rfm - rfm_state - rfm_lapsed
    text = (f"The **lifecycle** list holds **{n_state:,}** customers: no order for {thresholds.at_risk_days} days or "
            f"more but fewer than {thresholds.lapsed_days} (then they count as lapsed). "
            f"The **RFM** at-risk segments hold **{n_rfm:,}** customers who bought often or spent much: "
            f"{rfm_state:,} of them are at risk in the lifecycle sense and {rfm_lapsed:,} already lapsed")
    text += (f", and {rfm_other:,} neither: their RFM recency score comes from the days since the last order "
             "alone, not from the lifecycle state (scoring it from the lifecycle states, a setting of the "
             "configuration, ties the two). " if rfm_other else
             ", none in another state. ")
    if scores["churn_probability"].isna().all():
        return text + "The **churn model** list is empty: no churn model was built in this run."
    model_state, model_lapsed = int((model & state).sum()), int((model & lapsed).sum())
    return text + (f"The **churn model** flags **{n_model:,}** customers who still ordered within its window but "
                   f"are likely not to order in the next: {model_state:,} of them "
                   f"({_share(model_state, n_model)}) are also lifecycle at risk"
                   + (f" and {model_lapsed:,} lapsed." if model_lapsed else ", none lapsed.")
                   + (f" Use the lifecycle list for win-back timing; {UNTRUSTED_CHURN_MODEL}."
                      if scores.attrs.get("model_beats_recency") is False else
                      " Use the lifecycle list for win-back timing, the churn flag to pick who comes first."))


def recency_setting_note(scores: pd.DataFrame) -> str:
    """For analysts: the setting that ties RFM recency to the lifecycle states, when some RFM
    at-risk customers are neither lifecycle at risk nor lapsed (it is off); "" otherwise."""
    rfm_, state = (scores[c].to_numpy(dtype=bool) for c in ("at_risk_rfm", "at_risk_state"))
    untied = rfm_ & ~state & ~scores["state"].eq("lapsed").to_numpy()
    return ("RFM recency is scored from the days since the last order alone: set "
            "`rfm.recency_from_states: true` in lclib.yaml to score it from the lifecycle states."
            if untied.any() else "")


def campaign_sentence(campaign: pd.DataFrame, currency: str) -> str:
    """One sentence on the campaign list: size, value and overlap with the other definitions."""
    n = len(campaign)
    if not n:
        return "No customer is at risk in the lifecycle sense today, so the campaign list is empty."
    valued = campaign["predicted_clv"].notna()
    text = (f"**{n:,} customers** are on the campaign list (lifecycle at risk), with "
            f"**{money(float(campaign['revenue'].sum()), currency)}** of revenue so far")
    if valued.any():
        text += (f" and **{money(float(campaign.loc[valued, 'predicted_clv'].sum()), currency)}** of predicted CLV "
                 f"({valued.sum():,} valued by the purchase model)")
    text += (f". {int(campaign['at_risk_rfm'].sum()):,} of them are also in an RFM at-risk segment and "
             f"{int(campaign['at_risk_model'].sum()):,} flagged by the churn model. It is exported as "
             "`at_risk_campaign.csv`, most valuable first.")
    return text
