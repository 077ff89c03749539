"""Churn-risk model: who is about to leave? Features as of a cutoff, a time-based test, baselines.

Pipeline::

    window = lclib.analysis.churn.inactivity_window(...).days
    train_cutoff, test_cutoff = churn_cutoffs(as_of, window, cfg.churn.test_cutoff)
    result = evaluate_churn_model(tables, window, as_of, test_cutoff=..., random_state=cfg.churn.random_state)
    result.metrics          # model vs recency rule vs BG/NBD: ROC AUC, PR AUC, Brier, top-decile lift
    result.calibration      # predicted vs observed churn per decile of the prediction
    result.importance       # permutation importance on the test period
    at_risk = score_customers(result, tables, as_of)   # refit on the latest labelled period, score today

The findings of report 04_churn in words are in :mod:`lclib.analysis.churn_findings`.

Question and label
------------------
At a cutoff date ``c`` every customer with an order before ``c`` is described by
what was known before ``c`` (features) and labelled **churned = no order in
``[c, c + W)``**, ``W`` the inactivity window (:mod:`lclib.analysis.churn`).

Time-based validation
---------------------
The model is trained at ``train_cutoff = test_cutoff - W`` (its labels end exactly at
``test_cutoff``, so nothing from the test period leaks into training) and tested at
``test_cutoff`` (``churn.test_cutoff``, default ``as_of - W``, the latest cutoff whose
label window is complete). Never a random split of one period: churn is forecast
forward in time, and a random split would let the model learn the test period's
seasonality and campaigns.

Features (as of the cutoff; groups missing from the data are listed, not faked)
----------------------------------------------------------------------------------
``rfm`` (transactions)
    ``recency_days``, ``frequency`` (orders), ``monetary_total``, ``monetary_mean``,
    ``orders_in_window`` and ``revenue_in_window`` (the last ``W`` days).
``tenure`` (transactions)
    ``tenure_days`` since the first order.
``inter_purchase`` (transactions)
    ``ipt_mean_days``, ``ipt_std_days``, ``ipt_last_days`` (gaps between orders; NaN
    for one-time buyers) and ``overdue_ratio`` = recency / mean gap.
``channel`` (customers' ``acquisition_channel``, else the first order's ``channel``)
    ``acquisition_channel`` (categorical).
``engagement`` (events with ``customer_id``)
    ``events_30d``, ``events_in_window`` and ``days_since_event`` (NaN without one).
``nps`` (surveys)
    ``nps_last`` (latest score before the cutoff, NaN without) and ``nps_answered``.

The model
---------
A scikit-learn :class:`~sklearn.pipeline.Pipeline`: a ColumnTransformer (numeric
features: log1p of the skewed counts and amounts, median imputation with missing
indicators, standardisation; categorical: one-hot, unknown categories ignored)
followed by an L2-regularised :class:`~sklearn.linear_model.LogisticRegression`.
Logistic regression minimises log-loss, so its probabilities are calibrated on the
training period by construction; the overdue ratio and the log transforms give it
the non-linear "silent for longer than usual" signal. A gradient-boosted
alternative (``model="hgb"``, HistGradientBoostingClassifier wrapped in
:class:`~sklearn.calibration.CalibratedClassifierCV`, isotonic) is available; on
the sample (a few thousand customers) it is no better and less stable.

Baselines
---------
``recency rule``
    Score = days since the last order (the longer the silence, the likelier churn).
``BG/NBD``
    :func:`lclib.analysis.clv.fit_bgnbd_robust` fitted on the orders before the test cutoff;
    scores ``1 - P(alive)`` and the model's own probability of no purchase in the
    next ``W`` days, ``1 - P(alive) + P(alive) ((alpha + T) / (alpha + T + W))^(r + x)``
    (BG/NBD and MBG/NBD; dropout happens only at purchases, so a customer alive at
    ``T`` makes no purchase in ``W`` with the posterior Gamma(r + x, alpha + T) rate's
    Poisson zero probability). When the fit fails or is degenerate the reason is
    returned instead.

Scale
-----
The order lines are collapsed to orders once (:class:`lclib.engine.orders.OrderHistory`);
every cutoff's features and labels are read off that table. Above
``churn.max_model_customers`` customers the model (and the BG/NBD baseline) is fitted
on a uniform random sample of customers (all snapshots of each sampled customer,
seeded by ``churn.random_state``), and permutation importance runs on at most
``churn.max_importance_customers`` test customers; every customer is still scored and
the test metrics use every test customer. Below the caps nothing is sampled.

Everything is vectorized over customers; loops run over a few cutoffs and features.
"""

from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from lclib.analysis.cohorts import acquisition_channels
from lclib.engine.orders import OrderHistory
from lclib.engine.contracts import resolve_as_of
from lclib.analysis.intervals import wilson_interval
from lclib.io.columns import ACQUISITION_CHANNEL, AMOUNT, CHANNEL, CUSTOMER_ID, ORDER_ID, SCORE, TIMESTAMP
from lclib.io.columns import require_columns
from lclib.io.memory import release_memory

_DAY = pd.Timedelta(days=1)

#: Feature groups: name -> (columns, what the group needs, is it categorical).
FEATURE_GROUPS: dict[str, tuple[tuple[str, ...], str]] = {
    "rfm": (("recency_days", "frequency", "monetary_total", "monetary_mean", "orders_in_window",
             "revenue_in_window"), "transactions"),
    "tenure": (("tenure_days",), "transactions"),
    "inter_purchase": (("ipt_mean_days", "ipt_std_days", "ipt_last_days", "overdue_ratio"), "transactions"),
    "channel": ((ACQUISITION_CHANNEL,), "customers.acquisition_channel or transactions.channel"),
    "engagement": (("events_30d", "events_in_window", "days_since_event"), "events with customer_id"),
    "nps": (("nps_last", "nps_answered"), "surveys"),
}
#: Reader-facing names of the feature groups and features ("window" = the inactivity window W).
GROUP_LABELS = {"rfm": "Recency, frequency, spend", "tenure": "Tenure", "inter_purchase": "Time between orders",
                "channel": "Acquisition channel", "engagement": "Site activity", "nps": "NPS survey"}
FEATURE_LABELS = {
    "recency_days": "Days since last order", "frequency": "Orders so far", "monetary_total": "Total spend",
    "monetary_mean": "Average order value", "orders_in_window": "Orders in the last window",
    "revenue_in_window": "Spend in the last window", "tenure_days": "Days since first order",
    "ipt_mean_days": "Average days between orders", "ipt_std_days": "Spread of days between orders",
    "ipt_last_days": "Days between the last two orders",
    "overdue_ratio": "Silence vs own usual gap (days since last order / average gap)",
    ACQUISITION_CHANNEL: "Acquisition channel", "events_30d": "Site events, last 30 days",
    "events_in_window": "Site events in the last window", "days_since_event": "Days since last site event",
    "nps_last": "Last NPS score", "nps_answered": "NPS surveys answered",
}
CATEGORICAL = (ACQUISITION_CHANNEL,)
#: Numeric features that get log1p before scaling (skewed counts, amounts and durations).
LOG_FEATURES = ("recency_days", "frequency", "monetary_total", "monetary_mean", "orders_in_window",
                "revenue_in_window", "tenure_days", "ipt_mean_days", "ipt_std_days", "ipt_last_days",
                "overdue_ratio", "events_30d", "events_in_window", "days_since_event")
LABEL = "churned"


# ----------------------------------------------------------------------------- features and labels


def churn_cutoffs(as_of, window_days: float, test_cutoff=None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The training and test cutoffs of the time-based split.

    ``test = test_cutoff`` (``churn.test_cutoff``) or ``as_of - W`` (midnight);
    ``train = test - W``. Raises ValueError when the test label window
    ``[test, test + W)`` is not complete by ``as_of``.
    """
    as_of = pd.Timestamp(as_of)
    window = pd.Timedelta(days=float(window_days))
    test = (as_of - window).normalize() if test_cutoff is None else pd.Timestamp(test_cutoff)
    if test + window > as_of:
        raise ValueError(f"churn.test_cutoff {test:%Y-%m-%d} is too late: its {window.days}-day label window "
                         f"runs past the end of the data ({as_of:%Y-%m-%d}); use {as_of - window:%Y-%m-%d} or earlier")
    return test - window, test


def churn_labels(transactions: pd.DataFrame, cutoff, window_days: float,
                 history: OrderHistory | None = None, customers: np.ndarray | None = None) -> pd.Series:
    """Churn label per customer with an order before ``cutoff``: no order in ``[cutoff, cutoff + W)``.

    ``history`` (an :class:`~lclib.engine.orders.OrderHistory` of ``transactions`` reaching
    past ``cutoff + W``) gives the same labels from the collapsed orders; with it,
    ``customers`` (bool per ``history.ids``) keeps only those customers.

    Returns a bool Series named ``churned``, indexed by ``customer_id`` (sorted).
    """
    require_columns(transactions, (CUSTOMER_ID, TIMESTAMP))
    cutoff = pd.Timestamp(cutoff)
    end = cutoff + pd.Timedelta(days=float(window_days))
    if _usable(history, transactions, end) and history.complete:
        seen = np.zeros(len(history.ids), dtype=bool)
        seen[history.codes[history.mask_before(cutoff)]] = True
        if customers is not None:
            seen &= customers
        known = np.flatnonzero(seen)
        came_back = history.customers_with_lines_in(cutoff, end)
        out = pd.Series(~came_back[known], index=history.ids[known], name=LABEL)
        out.index.name = CUSTOMER_ID
        return out
    ts, ids = transactions[TIMESTAMP], transactions[CUSTOMER_ID]
    known = pd.Index(ids[(ts < cutoff) & ids.notna()].unique()).sort_values()
    came_back = ids[(ts >= cutoff) & (ts < cutoff + pd.Timedelta(days=float(window_days)))].unique()
    out = pd.Series(~known.isin(came_back), index=known, name=LABEL)
    out.index.name = CUSTOMER_ID
    return out


def available_features(tables: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """Which feature groups the data supports, and why a group is missing.

    Parameters
    ----------
    tables : mapping of table name to frame (None or absent = not provided), e.g.
        ``data.tables``.

    Returns
    -------
    DataFrame
        Index ``group``; columns ``available`` (bool), ``features`` (comma-separated),
        ``source`` and ``reason`` (empty when available).
    """
    tx = tables.get("transactions")
    cust, ev, sv = tables.get("customers"), tables.get("events"), tables.get("surveys")
    has = {
        "rfm": (True, ""), "tenure": (True, ""), "inter_purchase": (True, ""),
        "channel": ((cust is not None and ACQUISITION_CHANNEL in cust and cust[ACQUISITION_CHANNEL].notna().any())
                    or (tx is not None and "channel" in tx and tx["channel"].notna().any()),
                    "no customers table with acquisition_channel and no channel column in transactions"),
        "engagement": (ev is not None and len(ev) > 0 and CUSTOMER_ID in ev and ev[CUSTOMER_ID].notna().any(),
                       "no events table (or no events carry a customer_id)"),
        "nps": (sv is not None and len(sv) > 0, "no surveys table"),
    }
    rows = []
    for group, (cols, source) in FEATURE_GROUPS.items():
        ok, reason = has[group]
        rows.append({"group": group, "available": bool(ok), "features": ", ".join(cols), "source": source,
                     "reason": "" if ok else reason})
    return pd.DataFrame(rows).set_index("group")


def _usable(history, transactions, end) -> bool:
    """Whether ``history`` was built from ``transactions`` and reaches ``end``."""
    return history is not None and history.transactions is transactions and pd.Timestamp(end) <= history.as_of


#: Customers whose order features :func:`churn_features` computes at a time: the group-bys' temporaries
#: are a block's (8M customers, 40M orders at once: 3.6 GB above the result; in blocks: 0.4 GB).
FEATURE_BLOCK_CUSTOMERS = 1_000_000


def churn_features(tables: dict[str, pd.DataFrame | None], cutoff, window_days: float,
                   history: OrderHistory | None = None, customers: np.ndarray | None = None) -> pd.DataFrame:
    """Features per customer as of ``cutoff`` (only what was known before it).

    Parameters
    ----------
    tables : mapping of table name to frame (``data.tables``); ``transactions``
        is required, ``customers``, ``events`` and ``surveys`` are used when present.
    cutoff : date-like; only rows with ``timestamp < cutoff`` are used.
    window_days : the inactivity window ``W`` (for the "last W days" features).
    history : optional :class:`~lclib.engine.orders.OrderHistory` of the transactions
        reaching ``cutoff`` or later (built once for many cutoffs; same result).
    customers : optional bool array over ``history.ids`` (needs ``history``): only these
        customers' rows (what a training sample needs, without the others' work).

    Returns
    -------
    DataFrame
        Index ``customer_id`` (sorted; customers with an order before ``cutoff``),
        one column per feature of the available groups (see the module docstring;
        :func:`available_features` says which).

    Notes
    -----
    The order features of each customer depend on their own orders only, so they are computed
    for :data:`FEATURE_BLOCK_CUSTOMERS` customers at a time and stacked (the same table).
    """
    tx = tables["transactions"]
    cutoff = pd.Timestamp(cutoff)
    window = pd.Timedelta(days=float(window_days))
    if not _usable(history, tx, cutoff):
        history = OrderHistory(tx, cutoff)
    if customers is not None and customers.shape != (len(history.ids),):
        raise ValueError("customers must be a bool array over history.ids")
    avail = available_features(tables)["available"]
    cust = tables.get("customers")
    from_customers = bool(avail["channel"]) and (
        (cust is not None and ACQUISITION_CHANNEL in cust and cust[ACQUISITION_CHANNEL].notna().any())
        or CHANNEL not in history.orders)
    first_channel = bool(avail["channel"]) and not from_customers
    parts = [_order_features(history, cutoff, window, block, first_channel)
             for block in _customer_blocks(len(history.ids), customers)] \
        or [_order_features(history, cutoff, window, customers, first_channel)]  # no customer: the empty table
    out = parts[0] if len(parts) == 1 else pd.concat(parts)
    del parts
    if from_customers:
        channel = acquisition_channels(history.orders.iloc[:0], cust)  # the customers table's channels
        out[ACQUISITION_CHANNEL] = channel.reindex(out.index).astype("object").where(
            lambda s: s.notna(), "unknown").astype("str")
    if avail["engagement"]:
        ev = tables["events"]
        ev = ev.loc[ev[CUSTOMER_ID].notna() & (ev[TIMESTAMP] < cutoff), [CUSTOMER_ID, TIMESTAMP]]
        eg = ev.groupby(CUSTOMER_ID, observed=True)[TIMESTAMP]
        out["events_30d"] = (ev[TIMESTAMP] >= cutoff - pd.Timedelta(days=30)).groupby(
            ev[CUSTOMER_ID], observed=True).sum().reindex(out.index, fill_value=0).astype("float64")
        out["events_in_window"] = (ev[TIMESTAMP] >= cutoff - window).groupby(
            ev[CUSTOMER_ID], observed=True).sum().reindex(out.index, fill_value=0).astype("float64")
        out["days_since_event"] = ((cutoff - eg.max()) / _DAY).reindex(out.index)
    if avail["nps"]:
        sv = tables["surveys"]
        sv = sv.loc[sv[CUSTOMER_ID].notna() & (sv[TIMESTAMP] < cutoff)].sort_values(TIMESTAMP, kind="stable")
        latest = sv.groupby(CUSTOMER_ID, observed=True)[SCORE].last()
        out["nps_last"] = latest.reindex(out.index).astype("float64")
        out["nps_answered"] = out["nps_last"].notna().astype("float64")
    cols = [c for grp, (cs, _) in FEATURE_GROUPS.items() if avail[grp] for c in cs]
    out = out[cols]
    out.index.name = CUSTOMER_ID
    return out


def _customer_blocks(n_customers: int, customers: np.ndarray | None):
    """``customers`` (None: everyone), cut into bool arrays of at most :data:`FEATURE_BLOCK_CUSTOMERS`
    consecutive customer numbers (a single block when they are that few)."""
    size = FEATURE_BLOCK_CUSTOMERS
    if n_customers <= size:
        yield customers
        return
    for lo in range(0, n_customers, size):  # a loop over blocks of a million customers, not over customers
        block = np.zeros(n_customers, dtype=bool)
        block[lo:lo + size] = True if customers is None else customers[lo:lo + size]
        if block.any():
            yield block


def _order_features(history: OrderHistory, cutoff: pd.Timestamp, window: pd.Timedelta,
                    customers: np.ndarray | None, first_channel: bool) -> pd.DataFrame:
    """The order features (and, with ``first_channel``, the first order's channel) of ``customers``
    (None: everyone) as of ``cutoff``, indexed by their ids in customer order."""
    orders, codes = history.before(cutoff, [TIMESTAMP, AMOUNT, "n", CHANNEL], customers, codes=True)
    # customers as integer numbers (orders are sorted by customer): group-bys on them, not on the id strings
    key = pd.Series(codes, name=CUSTOMER_ID)
    g = orders.groupby(key, sort=True)
    first, last = g[TIMESTAMP].min(), g[TIMESTAMP].max()
    recent = orders[TIMESTAMP] >= cutoff - window
    gaps = (orders[TIMESTAMP] - g[TIMESTAMP].shift(1)) / _DAY
    gg = gaps.groupby(key, sort=True)
    out = pd.DataFrame({
        "recency_days": (cutoff - last) / _DAY,
        "frequency": g.size().astype("float64"),
        "monetary_total": g[AMOUNT].sum(),
        "orders_in_window": recent.groupby(key, sort=True).sum().astype("float64"),
        "revenue_in_window": orders[AMOUNT].where(recent, 0.0).groupby(key, sort=True).sum(),
        "tenure_days": (cutoff - first) / _DAY,
        "ipt_mean_days": gg.mean(),
        "ipt_std_days": gg.std(),
        "ipt_last_days": gg.last(),
    })
    out.index = history.ids[out.index.to_numpy()]
    out["monetary_mean"] = out["monetary_total"] / out["frequency"]
    out["overdue_ratio"] = out["recency_days"] / out["ipt_mean_days"].where(out["ipt_mean_days"] > 0)
    if first_channel:  # orders are sorted by customer and time: one n == 1 per customer
        out[ACQUISITION_CHANNEL] = orders.loc[orders["n"].to_numpy() == 1, CHANNEL].fillna("unknown").astype(
            "str").array  # text dtype even for a block without orders
    return out


def labelled_frame(tables: dict[str, pd.DataFrame | None], cutoff, window_days: float,
                   history: OrderHistory | None = None, customers: np.ndarray | None = None) -> pd.DataFrame:
    """Features as of ``cutoff`` joined with the label ``churned`` (bool); ``customers``: see
    :func:`churn_features`."""
    feats = churn_features(tables, cutoff, window_days, history, customers)
    labels = churn_labels(tables["transactions"], cutoff, window_days, history, customers)
    if _usable(history, tables["transactions"], pd.Timestamp(cutoff) + pd.Timedelta(days=float(window_days))) \
            and history.complete:  # both indexed by the customers with an order before the cutoff, in order
        return feats.assign(**{LABEL: labels.to_numpy()})
    return feats.join(labels, how="left")


# ----------------------------------------------------------------------------- the model


def build_pipeline(numeric: list[str], categorical: list[str], random_state: int = 0,
                   model: Literal["logistic", "hgb"] = "logistic") -> Pipeline:
    """The churn model as an unfitted scikit-learn Pipeline (ColumnTransformer + classifier).

    Parameters
    ----------
    numeric, categorical : feature columns of each kind (as produced by :func:`churn_features`).
    random_state : ``churn.random_state``.
    model : ``"logistic"`` (default, see the module docstring) or ``"hgb"``.
    """
    logged = [c for c in numeric if c in LOG_FEATURES]
    plain = [c for c in numeric if c not in LOG_FEATURES]
    log1p = FunctionTransformer(lambda x: np.log1p(np.clip(x, 0, None)), feature_names_out="one-to-one")
    parts = []
    if logged:
        parts.append(("log", make_pipeline(log1p, SimpleImputer(strategy="median", add_indicator=True),
                                           StandardScaler()), logged))
    if plain:
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                           StandardScaler()), plain))
    if categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=10, sparse_output=False),
                      categorical))
    pre = ColumnTransformer(parts, remainder="drop")
    if model == "logistic":
        clf = LogisticRegression(C=1.0, max_iter=2000, random_state=random_state)
    elif model == "hgb":
        clf = CalibratedClassifierCV(
            HistGradientBoostingClassifier(max_depth=3, learning_rate=0.05, max_iter=200, l2_regularization=1.0,
                                           random_state=random_state),
            method="isotonic", cv=5)
    else:
        raise ValueError(f"model must be 'logistic' or 'hgb', got {model!r}")
    return Pipeline([("features", pre), ("classifier", clf)])


def _split_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    cats = [c for c in frame.columns if c in CATEGORICAL]
    nums = [c for c in frame.columns if c not in CATEGORICAL and c not in (LABEL, "cutoff")]
    return nums, cats


def stacked_frame(tables: dict[str, pd.DataFrame | None], last_cutoff, window_days: float, n_cutoffs: int = 3,
                  step_days: int = 30, history: OrderHistory | None = None,
                  customers: np.ndarray | None = None) -> pd.DataFrame:
    """Labelled frames at ``last_cutoff`` and ``n_cutoffs - 1`` earlier cutoffs, stacked.

    Cutoffs are ``last_cutoff - i * step_days`` (i = 0 .. n_cutoffs - 1); every label
    window ends by ``last_cutoff + W``. Cutoffs with no customers or a single label
    class are skipped. A customer appears once per cutoff; column ``cutoff`` says which.
    """
    last = pd.Timestamp(last_cutoff)
    frames = []
    for i in range(max(1, n_cutoffs)):  # a loop over a few cutoffs
        cut = last - pd.Timedelta(days=i * step_days)
        frame = labelled_frame(tables, cut, window_days, history, customers)
        if len(frame) and frame[LABEL].nunique() == 2:
            frames.append(frame.assign(cutoff=cut))
    if not frames:
        return labelled_frame(tables, last, window_days, history, customers).assign(cutoff=last)
    return pd.concat(frames)


# ----------------------------------------------------------------------------- metrics


def top_share_capture(y: np.ndarray, score: np.ndarray, share: float = 0.1) -> tuple[float, float]:
    """Capture and lift of the top ``share`` of scores.

    Returns
    -------
    (capture, lift)
        capture = share of all churners found among the top-scored ``share`` of
        customers (ties broken by order); lift = churn rate in that top group / base rate.
    """
    y = np.asarray(y, dtype=float)
    score = np.asarray(score, dtype=float)
    k = max(1, int(round(share * len(y))))
    top = np.argsort(-score, kind="stable")[:k]
    churners = y.sum()
    capture = float(y[top].sum() / churners) if churners else np.nan
    lift = float(y[top].mean() / y.mean()) if y.mean() > 0 else np.nan
    return capture, lift


def _array(values, dtype) -> np.ndarray:
    """``values`` as a numpy array of ``dtype``; a Series through ``to_numpy``: ``np.asarray`` of a Series
    looks attribute names up in its index, which hashes every customer id of a text index (0.2 s a call
    for a million customers)."""
    if isinstance(values, pd.Series):
        return values.to_numpy(dtype=dtype)
    return np.asarray(values, dtype=dtype)


def churn_metrics(y, score, is_probability: bool = True) -> dict[str, float]:
    """ROC AUC, PR AUC (average precision), Brier score and top-decile capture/lift.

    ``brier`` is NaN when ``score`` is not a probability (e.g. days of recency).
    """
    y, score = _array(y, bool), _array(score, float)
    capture, lift = top_share_capture(y, score, 0.1)
    two = y.any() and (~y).any()
    return {
        "roc_auc": float(roc_auc_score(y, score)) if two else np.nan,
        "pr_auc": float(average_precision_score(y, score)) if two else np.nan,
        "brier": float(brier_score_loss(y, score)) if is_probability else np.nan,
        "top_decile_capture": capture,
        "top_decile_lift": lift,
    }


def scorer_metrics(test: pd.DataFrame) -> pd.DataFrame:
    """Every scorer's :func:`churn_metrics` on rows of a test frame (all of them, or a subset).

    Parameters
    ----------
    test : ``ChurnModelResult.test`` or a subset of its rows (e.g. the customers
        still active at the cutoff: ``recency_days < window``): the label, ``p_model``,
        ``recency_days`` and, when the baseline was fitted, ``bgnbd_p_alive`` and
        ``bgnbd_p_no_purchase``.

    Returns
    -------
    DataFrame
        Index ``scorer``: ``model``, ``recency rule``, ``base rate`` (everyone gets
        the churn rate of these rows), ``BG/NBD 1 - P(alive)`` (no Brier score: not
        the label's probability) and ``BG/NBD P(no purchase in window)`` when present;
        columns of :func:`churn_metrics`. Empty without rows.
    """
    cols = ["roc_auc", "pr_auc", "brier", "top_decile_capture", "top_decile_lift"]
    if test.empty:
        return pd.DataFrame(columns=cols, index=pd.Index([], name="scorer"), dtype=float)
    y = test[LABEL].to_numpy()
    rows = {"model": churn_metrics(y, test["p_model"]),
            "recency rule": churn_metrics(y, test["recency_days"], is_probability=False)}
    base = float(y.mean())
    rows["base rate"] = {"roc_auc": 0.5, "pr_auc": base, "brier": base * (1 - base),
                         "top_decile_capture": 0.1, "top_decile_lift": 1.0}
    if "bgnbd_p_alive" in test:
        m = churn_metrics(y, 1 - test["bgnbd_p_alive"], is_probability=True)
        m["brier"] = np.nan  # 1 - P(alive) is not the probability of the label
        rows["BG/NBD 1 - P(alive)"] = m
    if "bgnbd_p_no_purchase" in test:
        rows["BG/NBD P(no purchase in window)"] = churn_metrics(y, test["bgnbd_p_no_purchase"])
    metrics = pd.DataFrame.from_dict(rows, orient="index")[cols]
    metrics.index.name = "scorer"
    return metrics


def calibration_table(y, prob, n_bins: int = 10) -> pd.DataFrame:
    """Observed churn rate vs mean predicted probability per quantile bin of the prediction.

    Returns
    -------
    DataFrame
        One row per bin: ``predicted`` (mean predicted), ``observed`` (churn rate),
        ``customers``, ``lower``, ``upper`` (95 % Wilson interval of ``observed``).
    """
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    edges = np.unique(np.quantile(prob, np.linspace(0, 1, n_bins + 1)))
    bins = np.clip(np.searchsorted(edges[1:-1], prob, side="right"), 0, len(edges) - 2)
    frame = pd.DataFrame({"bin": bins, "y": y, "p": prob})
    out = frame.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"), customers=("y", "size"),
                                   churned=("y", "sum"))
    out["lower"], out["upper"] = wilson_interval(out["churned"], out["customers"])
    return out.drop(columns="churned").reset_index(drop=True)


# ----------------------------------------------------------------------------- BG/NBD baseline


@dataclass
class BGNBDBaseline:
    """BG/NBD scores at the test cutoff, or why there are none.

    ``p_alive`` and ``p_no_purchase`` are Series indexed by ``customer_id`` (None
    when the fit is unusable); ``status`` is the fit's status; ``note`` says in words
    what happened.
    """

    p_alive: pd.Series | None
    p_no_purchase: pd.Series | None
    status: str
    note: str
    params: dict[str, float] = field(default_factory=dict)


def bgnbd_p_no_purchase(p_alive, r: float, alpha: float, frequency, T, horizon: float) -> np.ndarray:
    """BG/NBD probability of no purchase in the next ``horizon`` time units.

    ``1 - P(alive) + P(alive) ((alpha + T) / (alpha + T + horizon))^(r + x)``: a
    customer who is alive at ``T`` cannot drop out before their next purchase
    (BG/NBD and MBG/NBD drop out only at purchases), and given the history their
    purchase rate is Gamma(r + x, alpha + T), whose Poisson probability of zero
    events in ``horizon`` is the power term.

    Parameters
    ----------
    p_alive : P(alive | x, t_x, T) per customer (e.g. lifetimes'
        ``conditional_probability_alive``).
    r, alpha : fitted purchase-rate parameters (rates per time unit).
    frequency, T : repeat purchases ``x`` and age ``T`` per customer (same unit).
    horizon : length of the window in the same unit.
    """
    p_alive = np.asarray(p_alive, dtype=float)
    x, age = np.asarray(frequency, dtype=float), np.asarray(T, dtype=float)
    quiet = ((alpha + age) / (alpha + age + float(horizon))) ** (r + x)
    return 1.0 - p_alive + p_alive * quiet


def bgnbd_baseline(transactions: pd.DataFrame, cutoff, window_days: float, *, model: str = "bgnbd",
                   penalizer: float = 0.0, count_by: str = "D", time_unit: str = "W",
                   min_repeat_customers: int = 50, max_fit_customers: int | None = None,
                   history: OrderHistory | None = None, engine: str | None = None) -> BGNBDBaseline:
    """Fit BG/NBD on orders before ``cutoff`` and score each customer (see module docstring).

    ``max_fit_customers``: fit on a random sample of this many customers when there are
    more (:func:`lclib.analysis.clv.fit_bgnbd_robust`); every customer is scored. ``history``: the
    summary is built from :meth:`~lclib.engine.orders.OrderHistory.compact_lines` (same
    frequency, recency and T; money to floating-point rounding). ``engine``: of the customer
    summary (None = :func:`lclib.engine.sql.default_engine`); evaluate_churn_model passes it
    in ``bgnbd_options``.

    Uses :func:`lclib.engine.summary.customer_summary` and :func:`lclib.analysis.clv.fit_bgnbd_robust`.
    Never raises for a bad fit: ``status`` and ``note`` explain it.
    """
    try:
        from lclib.analysis import clv
        from lclib.engine.contracts import UNIT_DAYS
        from lclib.engine.summary import customer_summary
    except ImportError as error:  # pragma: no cover - lclib.analysis.clv ships with lclib
        return BGNBDBaseline(None, None, "missing", f"lclib.analysis.clv is not available ({error}).")
    cutoff = pd.Timestamp(cutoff)
    if _usable(history, transactions, cutoff) and history.complete:  # a third of the rows, same purchase times
        # every order on one time (e.g. the run cache) and a midnight cutoff: the summary ignores the later
        # orders itself, so they are passed as they are (no copy of 40M orders' ids at 100M lines)
        lines = history.orders[[CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT]] \
            if history.single_time_orders and cutoff == cutoff.normalize() else history.compact_lines(cutoff)
    elif cutoff == cutoff.normalize():  # the summary ignores lines after observation_end: no copy of the lines
        lines = transactions
    else:
        lines = transactions.loc[transactions[TIMESTAMP] < cutoff, [CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT]]
    summary = customer_summary(lines, observation_end=cutoff - _DAY, count_by=count_by, time_unit=time_unit,
                               extras=False, engine=engine)
    sample = {} if max_fit_customers is None else {"max_fit_customers": max_fit_customers}
    fit = clv.fit_bgnbd_robust(summary, penalizer, model, time_unit=time_unit,
                               min_repeat_customers=min_repeat_customers, **sample)
    if fit.status != "ok":
        if fit.status == "degenerate":  # the CLV report explains degeneracy at length; here one sentence
            why = ("the model finds almost no dropout in this data (degenerate fit), so it cannot tell "
                   "who is about to leave.")
        elif fit.at_boundary:
            why = ("on this data the fit runs to the edge of the model's parameters (the purchase histories do "
                   "not separate customers who have stopped buying from those between purchases), so it has no "
                   "view of who is about to leave.")
        else:
            why = fit.warnings[0] if fit.warnings else f"the fit is {fit.status}."
        return BGNBDBaseline(None, None, fit.status, f"No BG/NBD baseline: {why}")
    unit = fit.time_unit or time_unit
    factor = UNIT_DAYS[time_unit] / UNIT_DAYS[unit]
    x = summary["frequency"].to_numpy(dtype=float)
    t_x, age = summary["recency"].to_numpy(dtype=float) * factor, summary["T"].to_numpy(dtype=float) * factor
    with clv._quiet():
        p_alive = np.asarray(fit.fitter.conditional_probability_alive(x, t_x, age), dtype=float)
    p_alive = np.broadcast_to(p_alive, x.shape)
    idx = summary.index
    fitted_on = (f"a random sample of {max_fit_customers:,} of the {len(summary):,} customers'"
                 if max_fit_customers is not None and len(summary) > max_fit_customers
                 else f"{len(summary):,} customers'")
    note = f"{clv._MODEL_NAMES[model]} fitted on {fitted_on} orders before {cutoff:%d %b %Y}."
    p_none = None
    if model in ("bgnbd", "mbgnbd"):
        horizon = float(window_days) / UNIT_DAYS[unit]
        p_none = pd.Series(bgnbd_p_no_purchase(p_alive, fit.params["r"], fit.params["alpha"], x, age, horizon),
                           index=idx, name="bgnbd_p_no_purchase")
    else:
        note += " Only P(alive) is scored for this model."
    return BGNBDBaseline(pd.Series(p_alive, index=idx, name="bgnbd_p_alive"), p_none, fit.status, note,
                         dict(fit.params))


# ----------------------------------------------------------------------------- evaluation


@dataclass
class ChurnModelResult:
    """Outcome of :func:`evaluate_churn_model`.

    Attributes
    ----------
    pipeline : fitted scikit-learn Pipeline (trained at ``train_cutoff``).
    train_cutoff, test_cutoff : Timestamps of the time-based split.
    window_days : the label window ``W``.
    features : columns fed to the model.
    availability : :func:`available_features` table.
    train_cutoffs : the cutoffs stacked for training (``train_cutoff`` and up to two
        earlier ones, 30 days apart: more examples of the same question).
    train, test : labelled frames (features + ``churned``; ``train`` also ``cutoff``); ``test`` also has the
        scores ``p_model``, ``recency_days`` and, when available, ``bgnbd_p_alive`` and
        ``bgnbd_p_no_purchase``.
    metrics : DataFrame, one row per scorer (``model``, ``recency rule``, BG/NBD
        rows, ``base rate``) with ``roc_auc``, ``pr_auc``, ``brier``,
        ``top_decile_capture``, ``top_decile_lift``.
    calibration : :func:`calibration_table` of the model on the test period.
    importance : permutation importance (ROC AUC drop) per feature on the test
        period: ``mean``, ``std``, sorted descending.
    bgnbd : :class:`BGNBDBaseline`.
    model_kind : ``"logistic"`` or ``"hgb"``.
    notes : plain-words remarks for the report (including any sampling above the caps).
    train_customers : distinct customers in the training snapshots.
    fit_customers : of them, those whose snapshots the model was fitted on (all of them
        up to ``max_model_customers``, else a random sample of that size).
    importance_customers : test customers the permutation importance was computed on.
    history : the :class:`~lclib.engine.orders.OrderHistory` of the transactions (reused by
        :func:`score_customers`).
    """

    pipeline: Pipeline
    train_cutoff: pd.Timestamp
    test_cutoff: pd.Timestamp
    window_days: float
    train_cutoffs: list[pd.Timestamp]
    features: list[str]
    availability: pd.DataFrame
    train: pd.DataFrame
    test: pd.DataFrame
    metrics: pd.DataFrame
    calibration: pd.DataFrame
    importance: pd.DataFrame
    bgnbd: BGNBDBaseline
    model_kind: str
    random_state: int
    notes: list[str] = field(default_factory=list)
    train_customers: int = 0
    fit_customers: int = 0
    importance_customers: int = 0
    history: OrderHistory | None = field(default=None, repr=False)

    @property
    def unavailable(self) -> list[str]:
        """Feature groups the data could not supply."""
        return list(self.availability.index[~self.availability["available"]])


@contextlib.contextmanager
def _fit_quietly():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)  # e.g. all-NaN feature on a small period
        yield


def sample_customers(frame: pd.DataFrame, max_customers: int | None, random_state: int = 0) -> np.ndarray:
    """Bool mask of the rows of ``frame`` (indexed by ``customer_id``, a customer may have
    several rows) that belong to a uniform random sample of ``max_customers`` customers.

    All rows are kept when there are at most ``max_customers`` customers (or it is None).
    The sample depends only on the sorted customer ids and ``random_state``.
    """
    codes, ids = pd.factorize(frame.index, sort=True)
    if max_customers is None or len(ids) <= max_customers:
        return np.ones(len(frame), dtype=bool)
    chosen = np.zeros(len(ids), dtype=bool)
    chosen[np.random.default_rng(random_state).choice(len(ids), size=int(max_customers), replace=False)] = True
    return chosen[codes]


def _customer_subset(history: OrderHistory, cutoff, max_customers: int | None,
                     random_state: int) -> tuple[np.ndarray | None, int]:
    """(bool mask over ``history.ids`` or None for all, customers with an order before ``cutoff``).

    The same draw as :func:`sample_customers` on a frame of those customers (sorted ids).
    """
    seen = np.zeros(len(history.ids), dtype=bool)
    seen[history.codes[history.mask_before(cutoff)]] = True
    pool = np.flatnonzero(seen)
    if max_customers is None or len(pool) <= max_customers:
        return None, len(pool)
    chosen = np.zeros(len(history.ids), dtype=bool)
    chosen[pool[np.random.default_rng(random_state).choice(len(pool), size=int(max_customers), replace=False)]] = True
    return chosen, len(pool)


def evaluate_churn_model(tables: dict[str, pd.DataFrame | None], window_days: float, as_of=None, *,
                         test_cutoff=None, random_state: int = 0, model: Literal["logistic", "hgb"] = "logistic",
                         bgnbd_options: dict | None = None, n_repeats: int = 10, n_train_cutoffs: int = 3,
                         step_days: int = 30, max_customers: int | None = None,
                         max_importance_customers: int | None = None,
                         history: OrderHistory | None = None) -> ChurnModelResult:
    """Train at the earlier cutoff, test at the later one, compare with the baselines.

    Parameters
    ----------
    tables : ``data.tables`` (transactions required; customers, events, surveys optional).
    window_days : inactivity window ``W`` (label window and cutoff spacing).
    as_of : exclusive end of the data (default: midnight after the last transaction).
    test_cutoff : ``churn.test_cutoff`` (default ``as_of - W``).
    random_state : ``churn.random_state`` (model and permutation importance).
    model : ``"logistic"`` or ``"hgb"``, see :func:`build_pipeline`.
    bgnbd_options : keyword arguments for :func:`bgnbd_baseline` (``model``,
        ``penalizer``, ``count_by``, ``time_unit``, ``min_repeat_customers`` from ``cfg.clv``).
    n_repeats : permutation-importance repeats.
    n_train_cutoffs, step_days : training stacks the train cutoff and earlier ones
        ``step_days`` apart (:func:`stacked_frame`); all their labels end by the test cutoff.
    max_customers : ``churn.max_model_customers``; with more customers in the training
        snapshots, the model is fitted on the snapshots of a uniform random sample of this
        many customers (``random_state``); None = all. Every test customer is still scored.
        The BG/NBD baseline is fitted on a sample of the same size (unless
        ``bgnbd_options`` sets ``max_fit_customers``).
    max_importance_customers : ``churn.max_importance_customers``; permutation importance
        on a random sample of this many test customers when there are more; None = all.
    history : :class:`~lclib.engine.orders.OrderHistory` of the transactions up to ``as_of``
        when already built (else it is built here).

    Returns
    -------
    ChurnModelResult

    Raises
    ------
    ValueError
        When a period has no customers or only one class of label.
    """
    tx = tables["transactions"]
    as_of = resolve_as_of(tx, as_of)
    train_cut, test_cut = churn_cutoffs(as_of, window_days, test_cutoff)
    if not _usable(history, tx, as_of):
        history = OrderHistory(tx, as_of)  # the orders, collapsed once for every cutoff
    # above the cap only a random sample of the customers known at the training cutoff is built and fitted on
    subset = _customer_subset(history, train_cut, max_customers, random_state)[0] if history.complete else None
    train = stacked_frame(tables, train_cut, window_days, n_train_cutoffs, step_days, history, subset)
    test = labelled_frame(tables, test_cut, window_days, history)
    release_memory()  # the feature builds' temporaries, before the fits
    for name, frame, cut in (("training", train, train_cut), ("test", test, test_cut)):
        if frame.empty or frame[LABEL].nunique() < 2:
            raise ValueError(f"the {name} period (cutoff {cut:%Y-%m-%d}) has {len(frame)} customers and "
                             f"{frame[LABEL].nunique() if len(frame) else 0} label class(es): too little history "
                             "before it to train and test a churn model")
    nums, cats = _split_columns(train)
    pipe = build_pipeline(nums, cats, random_state, model)
    n_train_customers = int(train.index.nunique()) if subset is None else \
        _customer_subset(history, train_cut, None, random_state)[1]
    fit_rows = sample_customers(train, max_customers, random_state)
    if not fit_rows.all():
        train = train.loc[fit_rows]
    n_fit_customers = int(train.index.nunique())
    y_test = test[LABEL].to_numpy()
    with _fit_quietly():
        pipe.fit(train[nums + cats], train[LABEL].to_numpy())
        p_test = predict_in_batches(pipe, test, columns=nums + cats)  # no copy of every test customer's features
    test["p_model"] = p_test

    bg = bgnbd_baseline(tx, test_cut, window_days, history=history,
                        **{"max_fit_customers": max_customers, **(bgnbd_options or {})})
    release_memory()
    notes = []
    if bg.p_alive is not None:
        test["bgnbd_p_alive"] = bg.p_alive.reindex(test.index)
        if bg.p_no_purchase is not None:
            test["bgnbd_p_no_purchase"] = bg.p_no_purchase.reindex(test.index)
        if "random sample" in bg.note:
            notes.append(bg.note)
    else:
        notes.append(bg.note)
    metrics = scorer_metrics(test)

    if n_fit_customers < n_train_customers:
        notes.append(f"The model was fitted on the snapshots of a random sample of {n_fit_customers:,} of the "
                     f"{n_train_customers:,} customers with a training snapshot (churn.max_model_customers); "
                     f"every one of the {len(test):,} test customers is scored.")
    imp_rows = sample_customers(test, max_importance_customers, random_state)
    X_imp, y_imp = (test[nums + cats], y_test) if imp_rows.all() else (test.loc[imp_rows, nums + cats],
                                                                        y_test[imp_rows])
    if not imp_rows.all():
        notes.append(f"Feature importance is measured on a random sample of {len(X_imp):,} test customers "
                     "(churn.max_importance_customers).")
    with _fit_quietly():
        imp = permutation_importance(pipe, X_imp, y_imp, scoring="roc_auc", n_repeats=n_repeats,
                                     random_state=random_state)
    importance = pd.DataFrame({"mean": imp.importances_mean, "std": imp.importances_std},
                              index=pd.Index(nums + cats, name="feature")).sort_values("mean", ascending=False)
    cutoffs = sorted(pd.Timestamp(c) for c in train["cutoff"].unique())
    return ChurnModelResult(pipe, train_cut, test_cut, float(window_days), cutoffs, nums + cats,
                            available_features(tables), train, test, metrics,
                            calibration_table(y_test, p_test), importance, bg, model, random_state, notes,
                            n_train_customers, n_fit_customers, len(X_imp), history)


#: Customers scored at a time (:func:`predict_in_batches`): the pipeline's transformed copy of the
#: features is a batch's, not every customer's (8M customers: several GB at once otherwise).
SCORE_BATCH_ROWS = 500_000


def predict_in_batches(pipe, features: pd.DataFrame, batch_rows: int | None = None,
                       columns: list[str] | None = None) -> np.ndarray:
    """``pipe.predict_proba(features[columns])[:, 1]``, computed ``batch_rows`` rows at a time (same values).

    ``columns`` (default: all) are taken batch by batch, so the model's columns of a wider frame are
    never copied whole.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> X = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0]})
    >>> m = LogisticRegression().fit(X, [0, 0, 1, 1])
    >>> bool(np.allclose(predict_in_batches(m, X, batch_rows=3), m.predict_proba(X)[:, 1]))
    True
    """
    size = SCORE_BATCH_ROWS if batch_rows is None else batch_rows
    cols = list(features.columns) if columns is None else list(columns)
    features = features.reset_index(drop=True)  # no copy; the model reads values, not a text index's look-ups
    if len(features) <= size:
        return pipe.predict_proba(features[cols])[:, 1]
    return np.concatenate([pipe.predict_proba(features.iloc[i:i + size][cols])[:, 1]
                           for i in range(0, len(features), size)])  # a loop over batches, not customers


def score_customers(result: ChurnModelResult, tables: dict[str, pd.DataFrame | None], as_of=None,
                    value_days: int = 365, max_customers: int | None = None) -> pd.DataFrame:
    """Refit the model on the latest labelled period and score every customer as of ``as_of``.

    The pipeline of ``result`` is cloned and refitted at ``result.test_cutoff`` (labels
    ``[test_cutoff, test_cutoff + W)``, the most recent complete ones) stacked with as
    many earlier cutoffs as in training, then applied to features as of ``as_of``.

    Parameters
    ----------
    result : :func:`evaluate_churn_model` output.
    tables : ``data.tables``.
    as_of : scoring date (default: midnight after the last transaction).
    value_days : the customer's value is their revenue in the last ``value_days`` days.
    max_customers : ``churn.max_model_customers``: the refit uses the snapshots of a
        random sample of this many customers when there are more (as in
        :func:`evaluate_churn_model`); every customer is scored.

    Returns
    -------
    DataFrame
        Index ``customer_id``, sorted by ``value_at_risk`` descending: ``p_churn``
        (probability of no order in the next ``W`` days), ``value`` (recent revenue),
        ``value_at_risk`` = p_churn x value, ``status`` (``"active"`` = last order
        less than ``W`` days ago, else ``"lapsed"``), ``recency_days``, ``frequency``,
        ``monetary_total`` and ``acquisition_channel`` when known.
    """
    from sklearn.base import clone

    tx = tables["transactions"]
    as_of = resolve_as_of(tx, as_of)
    history = result.history if _usable(result.history, tx, as_of) else OrderHistory(tx, as_of)
    step = (result.train_cutoffs[1] - result.train_cutoffs[0]).days if len(result.train_cutoffs) > 1 else 30
    # as stacked_frame(tables, result.test_cutoff, ...), reusing the evaluation's test frame for the test cutoff
    keep_cols = set(result.features) | {LABEL}
    test_cols = [c for c in result.test.columns if c in keep_cols]
    at_test = None
    subset = None
    if history.complete:  # above the cap: build and fit only a random sample of customers (as evaluate does)
        subset, known = _customer_subset(history, result.test_cutoff, max_customers, result.random_state)
        if subset is not None:
            if known != len(result.test):  # the test frame is not this history's: sample its rows instead
                subset = None
            else:  # the sample's rows only (no copy of every test customer's features)
                seen = np.zeros(len(history.ids), dtype=bool)
                seen[history.codes[history.mask_before(result.test_cutoff)]] = True
                at_test = result.test.loc[subset[np.flatnonzero(seen)], test_cols]
    if at_test is None:
        at_test = result.test[test_cols]
    frames = []
    for i in range(max(1, len(result.train_cutoffs))):  # a loop over a few cutoffs
        cut = result.test_cutoff - pd.Timedelta(days=i * step)
        frame = at_test if i == 0 else labelled_frame(tables, cut, result.window_days, history, subset)
        if len(frame) and frame[LABEL].nunique() == 2:
            frames.append(frame.assign(cutoff=cut))
    latest = pd.concat(frames) if frames else at_test.assign(cutoff=result.test_cutoff)
    rows = sample_customers(latest, max_customers, result.random_state)
    if not rows.all():
        latest = latest.loc[rows]
    pipe = clone(result.pipeline)
    with _fit_quietly():
        pipe.fit(latest[result.features], latest[LABEL].to_numpy())
    now = churn_features(tables, as_of, result.window_days, history)
    release_memory()
    with _fit_quietly():
        p = predict_in_batches(pipe, now, columns=result.features)
    start = as_of - pd.Timedelta(days=value_days)
    if history.complete:
        value = history.line_revenue(start, as_of)
    else:
        ts = tx[TIMESTAMP]
        value = tx.loc[((ts >= start) & (ts < as_of)).to_numpy(), [CUSTOMER_ID, AMOUNT]].groupby(
            CUSTOMER_ID, observed=True)[AMOUNT].sum()
    value = value.reindex(now.index, fill_value=0.0).to_numpy(dtype="float64")
    at_risk = p * value
    order = descending_order(at_risk, p)  # the rows are taken in this order once (8M customers: no sorted copy)
    keep = [c for c in ("recency_days", "frequency", "monetary_total", ACQUISITION_CHANNEL) if c in now]
    active = now["recency_days"].to_numpy(dtype="float64", na_value=np.nan)[order] < result.window_days
    return pd.DataFrame({"p_churn": p[order], "value": value[order], "value_at_risk": at_risk[order],
                         "status": np.where(active, "active", "lapsed"),
                         **{c: now[c].array.take(order) for c in keep}}, index=now.index.take(order), copy=False)


def descending_order(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Positions sorting rows by ``first`` then ``second``, both descending, ties in their order, missing last.

    The order of ``frame.sort_values([a, b], ascending=False, kind="stable")`` for two float
    columns, without its copy of the frame or its factorizing of the keys.

    Examples
    --------
    >>> descending_order(np.array([1.0, 3.0, 3.0, np.nan, 1.0]), np.array([0.5, 0.1, 0.2, 0.9, 0.5])).tolist()
    [2, 1, 0, 4, 3]
    """
    a, b = np.asarray(first, dtype="float64"), np.asarray(second, dtype="float64")
    return np.lexsort((np.where(np.isnan(b), np.inf, -b), np.where(np.isnan(a), np.inf, -a)))


def at_risk_list(scored: pd.DataFrame, min_probability: float = 0.5, value_quantile: float = 0.75) -> pd.DataFrame:
    """High-value customers at risk: active, valuable and likely to churn.

    Parameters
    ----------
    scored : :func:`score_customers` output.
    min_probability : a customer is at risk from this churn probability on.
    value_quantile : high value = recent revenue at or above this quantile of the
        recent revenue of active customers who bought in the value period.

    Returns
    -------
    DataFrame
        The rows of ``scored`` with ``status == "active"``, ``p_churn >= min_probability``
        and ``value`` at or above the threshold, sorted by ``value_at_risk`` descending;
        ``attrs["value_threshold"]`` holds the value threshold used.
    """
    need = ("p_churn", "value", "value_at_risk", "status")
    missing = [c for c in need if c not in scored]
    if missing:
        raise ValueError(f"scored lacks column(s) {missing}; build it with score_customers")
    if not 0 <= min_probability <= 1 or not 0 <= value_quantile <= 1:
        raise ValueError("min_probability and value_quantile must be in [0, 1]")
    active = (scored["status"] == "active").to_numpy()
    buyers = scored.loc[active & (scored["value"] > 0).to_numpy(), "value"]
    threshold = float(buyers.quantile(value_quantile)) if len(buyers) else np.inf
    likely = (scored["p_churn"] >= min_probability).to_numpy()
    out = scored.loc[active & likely & (scored["value"] >= threshold).to_numpy()]
    out = out.sort_values(["value_at_risk", "p_churn"], ascending=False, kind="stable").copy()
    out.attrs["value_threshold"] = threshold
    return out
