"""RFM analysis: recency, frequency and monetary value per customer.

Pipeline::

    rfm = rfm_table(transactions)              # one row per customer
    scores = rfm_scores(rfm)                   # + r_score, f_score, m_score
    scored = assign_segments(scores)           # + segment (11 named segments)
    summary = segment_summary(scored)          # one row per segment
    # or in one call: scored = score_customers(transactions, as_of, bins=..., rules=...)

    migration = segment_migration(transactions, date_from, date_to)  # from x to counts
    # or, sharing one pass over the order lines with the scored table:
    rfm_from, rfm_to = rfm_snapshots(transactions, [date_from, date_to])
    scored = score_rfm(rfm_to, bins=...)       # rfm_scores + assign_segments
    migration = migration_table(score_rfm(rfm_from)["segment"], scored["segment"])
    moves = migration_summary(migration)       # stayed / left / joined / new per segment
    labels, profile, silhouette = kmeans_personas(scored)           # optional personas
    files = export_tables(scored, key=None)    # CSV-ready tables (ids optionally hashed)


The findings of report 03_rfm in words (sentences, headline rows) are in
:mod:`lclib.analysis.rfm_findings`.

All functions are pure (inputs are never modified) and vectorized. Plotting
lives elsewhere; this module has no matplotlib dependency.

Scores run from 1 to ``bins`` (5 by default) and *high is good* on every
dimension: the most recent, most frequent and biggest-spending customers get
the highest scores.

Segments are defined by rule data (:data:`DEFAULT_SEGMENTS`), a list of plain
dicts that can be loaded from YAML. Each rule is a box of inclusive score
ranges; a rule set must cover every (R, F, M) combination exactly once
(checked by :func:`validate_segment_rules`). The default rules use R and
``FM = (F + M) // 2`` (mean of F and M, rounded *down*): a customer only moves
up an FM level when frequency and spend together earn it (F=2, M=3 gives
FM=2). The resulting grid (Potential Loy. = Potential Loyalists)::

    R   FM=1            FM=2            FM=3            FM=4            FM=5
    5   New Customers   Potential Loy.  Potential Loy.  Champions       Champions
    4   Promising       Potential Loy.  Potential Loy.  Loyal Customers Loyal Customers
    3   About to Sleep  About to Sleep  Need Attention  Loyal Customers Loyal Customers
    2   Hibernating     Hibernating     At Risk         At Risk         Can't Lose Them
    1   Lost            Lost            At Risk         At Risk         Can't Lose Them
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lclib.io.columns import CUSTOMER_ID
from lclib.config.segment_rules import DEFAULT_SEGMENTS, F_SCORE, M_SCORE, R_SCORE, SCORE_COLUMNS, _rule_mask, validate_segment_rules
from lclib.engine.contracts import FREQUENCY, MONETARY_TOTAL, RECENCY_DAYS
from lclib.engine.rfm_table import rfm_snapshots, rfm_table
from lclib.io.columns import require_columns
from lclib.io.privacy import pseudonymise, resolve_secret  # noqa: F401 - moved there, re-exported

SEGMENT = "segment"
PERSONA = "persona"

#: Row label used by :func:`segment_migration` for customers without history
#: at ``date_from``.
NEW_ROW = "(new)"

#: Scored dimension -> (score column, is a higher raw value better?).
_DIMENSIONS = {
    RECENCY_DAYS: (R_SCORE, False),
    FREQUENCY: (F_SCORE, True),
    MONETARY_TOTAL: (M_SCORE, True),
}


# --------------------------------------------------------------------------
# RFM table
# --------------------------------------------------------------------------


# --------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------


def rfm_scores(
    rfm: pd.DataFrame,
    bins: int = 5,
    method: str = "quantile",
    thresholds: Mapping[str, Sequence[float]] | None = None,
    states: pd.Series | None = None,
) -> pd.DataFrame:
    """Add ``r_score``, ``f_score`` and ``m_score`` (ints 1..bins, high = good).

    Parameters
    ----------
    rfm : DataFrame
        Needs ``recency_days``, ``frequency`` and ``monetary_total`` without
        missing values (e.g. the output of :func:`rfm_table`).
    bins : int, default 5
        Number of score levels, at least 2.
    method : {"quantile", "thresholds"}
        ``"quantile"``: a customer's score comes from the share of customers
        with a strictly *worse* value (longer recency, fewer orders, less
        money)::

            score = 1 + floor(bins * n_strictly_worse / n_customers)

        This is ``rank(method="min")`` turned into a percentile, so equal
        values always get equal scores and a tied block takes the score of
        its worst-placed member: the most common low value (e.g. 70 % of
        customers with one order) always scores 1. With no ties and ``n`` a
        multiple of ``bins`` every score holds exactly ``n / bins``
        customers; under heavy ties some scores are skipped (frequency
        scores 1, 4, 5 when 70 % have one order and 15 % two) and a large
        block tied at the best value does not reach the top score (40 %
        tied at the shortest recency get R=4). With fewer than ``bins``
        customers the top scores are unreachable.

        ``"thresholds"``: fixed business cut points from ``thresholds``.
    thresholds : mapping, optional
        Required for ``method="thresholds"``, forbidden otherwise. Maps each of
        ``recency_days``, ``frequency`` and ``monetary_total`` to
        ``bins - 1`` strictly increasing cut points. Intervals are
        right-closed, ``(lo, hi]``: a value equal to a cut point falls in the
        lower interval. For frequency ``[1, 2, 4, 8]`` gives F=1 for
        ``<= 1`` order, F=2 for 2, F=3 for 3-4, F=4 for 5-8, F=5 above 8. For
        recency the order is reversed: ``[30, 90, 180, 365]`` gives R=5 for
        ``<= 30`` days, ..., R=1 for more than 365 days.
    states : Series, optional
        Each customer's lifecycle state at the same date (``state`` of
        :func:`lclib.analysis.stages.customer_states`, indexed by customer id).
        Given, the recency score follows the state so that RFM and the lifecycle
        never disagree: ``lapsed`` scores R=1, ``at_risk`` R=2 and every other
        buyer (new, active, reactivated) R=3..bins by ``method`` among those
        buyers only (bins - 2 levels shifted up by 2). Then no Champion, Loyal
        Customer or other segment written for R >= 3 can be at risk or lapsed,
        and the At Risk, Hibernating and Lost segments hold exactly the at-risk
        and lapsed customers. Needs ``bins >= 3`` and a state for every customer.

    Returns
    -------
    DataFrame
        A copy of ``rfm`` with int64 columns ``r_score``, ``f_score`` and
        ``m_score`` in ``1..bins``.

    Examples
    --------
    >>> rfm = pd.DataFrame({"recency_days": [3, 40, 200, 10], "frequency": [5, 1, 2, 1],
    ...                     "monetary_total": [500.0, 20.0, 80.0, 35.0]},
    ...                    index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
    >>> states = pd.Series(["active", "at_risk", "lapsed", "new"], index=rfm.index)
    >>> rfm_scores(rfm, states=states)[["r_score", "f_score", "m_score"]]
                 r_score  f_score  m_score
    customer_id
    a                  4        4        4
    b                  2        1        1
    c                  1        3        3
    d                  3        1        2

    Raises
    ------
    ValueError
        On a bad ``bins``, ``method`` or ``thresholds``, a missing column or
        missing values.
    """
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"bins must be an integer >= 2, got {bins!r}")
    if method not in ("quantile", "thresholds"):
        raise ValueError(f"method must be 'quantile' or 'thresholds', got {method!r}")
    if method == "quantile" and thresholds is not None:
        raise ValueError("thresholds are only used with method='thresholds'")
    if method == "thresholds":
        thresholds = _check_thresholds(thresholds, bins)
    require_columns(rfm, tuple(_DIMENSIONS), "rfm")
    for column in _DIMENSIONS:
        if rfm[column].isna().any():
            raise ValueError(f"rfm[{column!r}] has missing values")

    out = rfm.copy()
    n = len(rfm)
    for column, (score_column, higher_is_better) in _DIMENSIONS.items():
        values = rfm[column].to_numpy(dtype="float64")
        if method == "quantile":
            n_worse = _min_rank(values if higher_is_better else -values)
            score = 1 + (bins * n_worse) // max(n, 1)
        else:
            n_cuts_below = np.searchsorted(thresholds[column], values, side="left")
            score = 1 + n_cuts_below if higher_is_better else bins - n_cuts_below
        out[score_column] = np.asarray(score, dtype="int64")
    if states is not None:
        out[R_SCORE] = _recency_from_states(rfm, states, bins, method, thresholds)
    return out


#: Recency score of each lifecycle state that is past its purchase cycle (see rfm_scores).
STATE_RECENCY = {"lapsed": 1, "at_risk": 2}


def _recency_from_states(rfm: pd.DataFrame, states: pd.Series, bins: int, method: str,
                         thresholds: Mapping[str, np.ndarray] | None) -> np.ndarray:
    """R scores tied to the lifecycle: 1 lapsed, 2 at risk, 3..bins the other buyers by ``method``."""
    if bins < 3:
        raise ValueError(f"recency scores tied to lifecycle states need bins >= 3, got {bins}")
    state = pd.Series(states).reindex(rfm.index)
    missing = state.isna()
    if missing.any():
        raise ValueError(f"{int(missing.sum())} customers of the RFM table have no lifecycle state "
                         f"(e.g. {list(rfm.index[missing.to_numpy()][:3])}): compute both at the same date")
    state = state.astype(str).to_numpy()
    score = np.select([state == s for s in STATE_RECENCY], list(STATE_RECENCY.values()), default=0)
    rest = score == 0
    days = rfm[RECENCY_DAYS].to_numpy(dtype="float64")[rest]
    levels = bins - 2
    if method == "quantile":
        score[rest] = 3 + (levels * _min_rank(-days)) // max(int(rest.sum()), 1)
    else:  # the top bins - 2 of the configured recency cut points, shifted
        cuts = np.asarray(thresholds[RECENCY_DAYS], dtype="float64")[: levels - 1]
        score[rest] = bins - np.searchsorted(cuts, days, side="left")
    return score.astype("int64")


def score_ranges(scored: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """What each score means in raw values: range and customers per dimension and score.

    Parameters
    ----------
    scored : DataFrame
        Output of :func:`rfm_scores` (raw ``recency_days``, ``frequency``,
        ``monetary_total`` and their scores).
    bins : int, default 5
        Score levels; every score ``1..bins`` gets a row per dimension.

    Returns
    -------
    DataFrame
        MultiIndex ``(dimension, score)`` with dimension in ``recency_days``,
        ``frequency``, ``monetary_total`` and score ``bins..1`` (best first);
        columns ``customers`` (int, 0 when quantile ties skip a score),
        ``share_customers``, ``min`` and ``max`` (raw values; NaN for an
        empty score).
    """
    require_columns(scored, (*_DIMENSIONS, *SCORE_COLUMNS), "scored")
    _check_scores(scored, bins)
    parts = {}
    for column, (score_column, _) in _DIMENSIONS.items():
        grouped = scored.groupby(score_column)[column].agg(["size", "min", "max"])
        grouped = grouped.reindex(range(bins, 0, -1)).rename(columns={"size": "customers"})
        grouped["customers"] = grouped["customers"].fillna(0).astype("int64")
        grouped.insert(1, "share_customers", grouped["customers"] / max(len(scored), 1))
        parts[column] = grouped.rename_axis("score")
    return pd.concat(parts, names=["dimension", "score"])


def score_range_labels(ranges: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The score ranges of :func:`score_ranges` as text, one column per dimension, best score first.

    A range reads ``"lo - hi"`` (``"lo"`` when both are equal, ``"-"`` for an empty
    score). Whole-number dimensions (days, orders) have no decimals; any other
    (money) has two, so neighbouring bands never seem to share a value (``18.40`` and
    ``18.45``, not ``18`` twice).

    Parameters
    ----------
    ranges : from :func:`score_ranges`.
    names : reader-facing column names per dimension (default: the dimension names);
        only the dimensions named are kept, in that order.

    Returns
    -------
    DataFrame
        Index ``Score`` (``bins..1``), one text column per dimension.
    """
    names = dict(names) if names is not None else {d: d for d in ranges.index.unique("dimension")}
    cols = {}
    for dim, label in names.items():
        part = ranges.loc[dim]
        values = pd.concat([part["min"], part["max"]]).dropna()
        whole = bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
        fmt = "{:,.0f}" if whole else "{:,.2f}"
        cols[label] = pd.Series(["-" if n == 0 or pd.isna(lo) else fmt.format(lo) if lo == hi
                                 else f"{fmt.format(lo)} - {fmt.format(hi)}"
                                 for n, lo, hi in zip(part["customers"], part["min"], part["max"])],
                                index=part.index)
    out = pd.DataFrame(cols).sort_index(ascending=False)
    out.index.name = "Score"
    return out


def _check_thresholds(thresholds: Mapping[str, Sequence[float]] | None, bins: int) -> dict[str, np.ndarray]:
    """Validate threshold cut points and return them as float arrays."""
    if not isinstance(thresholds, Mapping):
        raise ValueError(
            "method='thresholds' needs thresholds={'recency_days': [...], "
            "'frequency': [...], 'monetary_total': [...]}"
        )
    missing = [c for c in _DIMENSIONS if c not in thresholds]
    unknown = [c for c in thresholds if c not in _DIMENSIONS]
    if missing or unknown:
        raise ValueError(
            f"thresholds must have exactly the keys {list(_DIMENSIONS)}; "
            f"missing {missing}, unknown {unknown}"
        )
    checked = {}
    for column in _DIMENSIONS:
        try:
            cuts = np.asarray(thresholds[column], dtype="float64")
        except (TypeError, ValueError):
            raise ValueError(f"thresholds[{column!r}] must be a list of numbers") from None
        if cuts.ndim != 1 or len(cuts) != bins - 1:
            raise ValueError(
                f"thresholds[{column!r}] needs bins - 1 = {bins - 1} cut points, "
                f"got {thresholds[column]!r}"
            )
        if not np.isfinite(cuts).all() or (np.diff(cuts) <= 0).any():
            raise ValueError(
                f"thresholds[{column!r}] must be finite and strictly increasing, "
                f"got {thresholds[column]!r}"
            )
        checked[column] = cuts
    return checked


# --------------------------------------------------------------------------
# Segments
# --------------------------------------------------------------------------


def assign_segments(
    scores: pd.DataFrame,
    rules: Sequence[Mapping[str, Any]] | None = None,
    bins: int = 5,
) -> pd.DataFrame:
    """Add a ``segment`` column from ``r_score``, ``f_score`` and ``m_score``.

    Parameters
    ----------
    scores : DataFrame
        Needs integer ``r_score``, ``f_score``, ``m_score`` in ``1..bins``
        (e.g. the output of :func:`rfm_scores`).
    rules : sequence of mappings, optional
        Segment rules (default :data:`DEFAULT_SEGMENTS`), validated with
        :func:`validate_segment_rules`; they do not overlap, so rule order
        only sets the category order.
    bins : int, default 5
        Score levels the rules are written for.

    Returns
    -------
    DataFrame
        A copy of ``scores`` plus ``segment``: categorical with the rule names
        as categories, in rule order.

    Raises
    ------
    ValueError
        If the rules are invalid or scores are missing or outside ``1..bins``.
    """
    if rules is None and bins != 5:
        raise ValueError(
            f"the default segments are written for scores 1..5, not 1..{bins}; "
            f"pass rules for 1..{bins} (rfm.segments in lclib.yaml) or use bins=5"
        )
    rules = DEFAULT_SEGMENTS if rules is None else rules
    validate_segment_rules(rules, bins)
    _check_scores(scores, bins)
    masks = [_rule_mask(rule, scores) for rule in rules]
    codes = np.select(masks, np.arange(len(rules)), default=-1)
    out = scores.copy()
    out[SEGMENT] = pd.Categorical.from_codes(codes, categories=[r["name"] for r in rules])
    return out


def score_customers(
    transactions: pd.DataFrame,
    as_of: str | pd.Timestamp | None = None,
    *,
    bins: int = 5,
    method: str = "quantile",
    thresholds: Mapping[str, Sequence[float]] | None = None,
    rules: Sequence[Mapping[str, Any]] | None = None,
    engine: str | None = None,
) -> pd.DataFrame:
    """The scored customer table in one call: RFM values, scores and segment.

    ``assign_segments(rfm_scores(rfm_table(transactions, as_of), bins, method,
    thresholds), rules, bins)``; the arguments mirror the ``rfm`` section of
    ``lclib.yaml`` (``bins``, ``method``, ``thresholds``, ``segments``); ``engine``: see
    :func:`rfm_table` (None = :func:`lclib.engine.sql.default_engine`).

    Returns
    -------
    DataFrame
        Indexed by ``customer_id``: the :func:`rfm_table` columns, ``r_score``,
        ``f_score``, ``m_score`` and ``segment``.
    """
    return score_rfm(rfm_table(transactions, as_of=as_of, engine=engine), bins=bins, method=method,
                     thresholds=thresholds, rules=rules)


def score_rfm(
    rfm: pd.DataFrame,
    *,
    bins: int = 5,
    method: str = "quantile",
    thresholds: Mapping[str, Sequence[float]] | None = None,
    rules: Sequence[Mapping[str, Any]] | None = None,
    states: pd.Series | None = None,
) -> pd.DataFrame:
    """Scores and segment for an RFM table already computed (e.g. by :func:`rfm_snapshots`).

    ``assign_segments(rfm_scores(rfm, bins, method, thresholds, states), rules, bins)``:
    :func:`score_customers` without the aggregation over the order lines. ``states``
    ties the recency score to the lifecycle state (see :func:`rfm_scores`).
    """
    return assign_segments(rfm_scores(rfm, bins, method, thresholds, states), rules, bins)


def segment_summary(
    scored: pd.DataFrame, rules: Sequence[Mapping[str, Any]] | None = None
) -> pd.DataFrame:
    """Size, revenue and mean RFM values per segment.

    Parameters
    ----------
    scored : DataFrame
        One row per customer with ``segment``, ``recency_days``,
        ``frequency`` and ``monetary_total`` (e.g. from
        :func:`assign_segments`).
    rules : sequence of mappings, optional
        Source of the ``action`` text (default :data:`DEFAULT_SEGMENTS`).

    Returns
    -------
    DataFrame
        Indexed by ``segment`` in category order, every segment included
        (empty ones with 0 customers and NaN means): ``customers`` (int),
        ``share_customers``, ``revenue`` (sum of ``monetary_total``),
        ``share_revenue`` (NaN if total revenue is 0),
        ``mean_recency_days``, ``mean_frequency``, ``mean_monetary_total``
        and ``action`` (empty string if the rules give none).
    """
    require_columns(scored, (SEGMENT, RECENCY_DAYS, FREQUENCY, MONETARY_TOTAL), "scored")
    out = scored.groupby(SEGMENT, observed=False, sort=False).agg(
        customers=(MONETARY_TOTAL, "size"),
        revenue=(MONETARY_TOTAL, "sum"),
        mean_recency_days=(RECENCY_DAYS, "mean"),
        mean_frequency=(FREQUENCY, "mean"),
        mean_monetary_total=(MONETARY_TOTAL, "mean"),
    )
    if isinstance(scored[SEGMENT].dtype, pd.CategoricalDtype):
        out = out.reindex(scored[SEGMENT].cat.categories)
    out["customers"] = out["customers"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0)
    total_revenue = out["revenue"].sum()
    out.insert(1, "share_customers", out["customers"] / max(len(scored), 1))
    out.insert(3, "share_revenue", out["revenue"] / total_revenue if total_revenue else np.nan)
    actions = {r["name"]: r.get("action", "") for r in (DEFAULT_SEGMENTS if rules is None else rules)}
    out["action"] = [actions.get(name, "") for name in out.index]
    out.index.name = SEGMENT
    return out


def segment_states(segments: pd.Series, states: pd.DataFrame) -> pd.DataFrame:
    """How the RFM segments map to the lifecycle states: customers per segment and state.

    RFM segments rank customers against each other; lifecycle states
    (:func:`lclib.analysis.stages.customer_states`) use fixed day thresholds. An RFM "At Risk"
    customer can therefore be *lapsed* in lifecycle terms; this table shows how often.

    Parameters
    ----------
    segments : the ``segment`` column of :func:`score_rfm`, indexed by customer id.
    states : from :func:`lclib.analysis.stages.customer_states` of the same data and date
        (``customer_id`` and ``state`` columns).

    Returns
    -------
    DataFrame
        Index ``segment`` (the segments' order), one int column per lifecycle state
        that holds at least one of the segments' customers (in the states' order).
    """
    if "state" not in states or CUSTOMER_ID not in states:
        raise ValueError("states needs customer_id and state columns (from lclib.analysis.stages.customer_states)")
    ids = states[CUSTOMER_ID]  # masks of values, not of a Series: no look-ups in a text index
    state_of = states.loc[(ids.notna() & ~ids.duplicated()).to_numpy()].set_index(CUSTOMER_ID)["state"]
    state_of.index = state_of.index.astype("str")
    joined = pd.DataFrame({SEGMENT: segments.to_numpy(),
                           "state": state_of.reindex(segments.index.astype("str")).to_numpy()})
    counts = pd.crosstab(joined[SEGMENT], joined["state"])
    if isinstance(segments.dtype, pd.CategoricalDtype):
        counts = counts.reindex(segments.cat.categories, fill_value=0)
    order = list(states["state"].cat.categories) if isinstance(states["state"].dtype, pd.CategoricalDtype) \
        else sorted(counts.columns)
    counts = counts[[c for c in order if c in counts.columns and counts[c].sum() > 0]]
    counts.index.name, counts.columns.name = SEGMENT, None
    return counts.astype("int64")


def segment_migration(
    transactions: pd.DataFrame,
    date_from: str | pd.Timestamp,
    date_to: str | pd.Timestamp,
    *,
    bins: int = 5,
    method: str = "quantile",
    thresholds: Mapping[str, Sequence[float]] | None = None,
    rules: Sequence[Mapping[str, Any]] | None = None,
    engine: str | None = None,
) -> pd.DataFrame:
    """Customer counts moving between segments from one snapshot to another.

    Each snapshot is ``rfm_table(transactions, as_of=date)`` scored with
    ``rfm_scores(..., bins, method, thresholds)`` and segmented with
    ``rules``. With quantile scoring each snapshot is ranked against the
    customers present at that date.

    Parameters
    ----------
    transactions : DataFrame
        As for :func:`rfm_table`.
    date_from, date_to : str or Timestamp
        Snapshot times, ``date_from < date_to``.
    bins, method, thresholds, rules
        Passed to :func:`rfm_scores` and :func:`assign_segments`.
    engine : str, optional
        Passed to :func:`rfm_snapshots` (None = :func:`lclib.engine.sql.default_engine`).

    Returns
    -------
    DataFrame
        Counts (int). Rows: segment at ``date_from`` (index ``segment_from``)
        plus a last row ``"(new)"`` for customers whose first transaction is
        in ``[date_from, date_to)``. Columns: segment at ``date_to``
        (``segment_to``). All segments appear, empty ones as zeros. Every
        customer with a transaction before ``date_to`` is counted once, so
        the total equals the number of customers at ``date_to``.

    Raises
    ------
    ValueError
        If ``date_from >= date_to`` or scoring/segmentation arguments are bad.
    """
    start, end = pd.Timestamp(date_from), pd.Timestamp(date_to)
    if start >= end:
        raise ValueError(f"date_from ({start}) must be before date_to ({end})")
    settings = dict(bins=bins, method=method, thresholds=thresholds, rules=rules)
    # both snapshots from one pass over the lines
    before, after = (score_rfm(t, **settings)[SEGMENT] for t in rfm_snapshots(transactions, [start, end], engine=engine))
    return migration_table(before, after)


def migration_table(before: pd.Series, after: pd.Series) -> pd.DataFrame:
    """The :func:`segment_migration` table from the segments at the two dates.

    Parameters
    ----------
    before, after : Series
        Categorical ``segment`` per customer (index ``customer_id``) at
        ``date_from`` and ``date_to``, as :func:`score_rfm` /
        :func:`assign_segments` return them (same categories). Customers of
        ``after`` missing from ``before`` are counted in the ``"(new)"`` row.

    Returns
    -------
    DataFrame
        As :func:`segment_migration`.
    """
    names = list(after.cat.categories)
    if list(before.cat.categories) == names:
        # count (from, to) code pairs: a bincount instead of a crosstab of 800k labels
        k = len(names)
        origin = before.reindex(after.index).cat.codes.to_numpy(dtype="int64")
        origin[origin < 0] = k  # no segment at date_from: the "(new)" row
        target = after.cat.codes.to_numpy(dtype="int64")
        keep = target >= 0
        counts = np.bincount(origin[keep] * k + target[keep], minlength=(k + 1) * k).reshape(k + 1, k)
        table = pd.DataFrame(counts.astype("int64"), index=names + [NEW_ROW], columns=names)
    else:
        origin = before.reindex(after.index).cat.add_categories(NEW_ROW).fillna(NEW_ROW)
        table = pd.crosstab(origin, after, dropna=False)
        table = table.reindex(index=names + [NEW_ROW], columns=names, fill_value=0).astype("int64")
    table.index = pd.Index(table.index.astype(object), name="segment_from")
    table.columns = pd.Index(table.columns.astype(object), name="segment_to")
    return table


def migration_summary(migration: pd.DataFrame) -> pd.DataFrame:
    """Per segment: who stayed, left, joined and arrived new between two snapshots.

    Parameters
    ----------
    migration : DataFrame
        Output of :func:`segment_migration` (rows: segment at ``date_from``
        plus ``"(new)"``; columns: segment at ``date_to``).

    Returns
    -------
    DataFrame
        Indexed by ``segment`` (the columns of ``migration``), int columns:
        ``customers_before`` (row total), ``stayed`` (diagonal), ``left``
        (``customers_before - stayed``), ``joined`` (came from another
        segment), ``new`` (first purchase between the dates),
        ``customers_after`` (column total; ``stayed + joined + new``) and
        ``net_change`` (``customers_after - customers_before``).

    Raises
    ------
    ValueError
        If ``migration`` lacks the ``"(new)"`` row or a row per column.
    """
    names = list(migration.columns)
    missing = [n for n in names + [NEW_ROW] if n not in migration.index]
    if missing:
        raise ValueError(f"migration table lacks rows {missing}; pass segment_migration() output")
    before = migration.loc[names, names]
    stayed = pd.Series(np.diag(before.to_numpy()), index=names)
    out = pd.DataFrame({
        "customers_before": before.sum(axis=1),
        "stayed": stayed,
        "left": before.sum(axis=1) - stayed,
        "joined": before.sum(axis=0) - stayed,
        "new": migration.loc[NEW_ROW, names],
        "customers_after": migration.sum(axis=0),
    }).astype("int64")
    out["net_change"] = out["customers_after"] - out["customers_before"]
    out.index.name = SEGMENT
    return out


def rf_heatmap_table(scored: pd.DataFrame, bins: int = 5) -> pd.DataFrame:
    """R x F grid of customer counts and mean ``monetary_total``.

    Parameters
    ----------
    scored : DataFrame
        One row per customer with ``r_score``, ``f_score`` (1..bins) and
        ``monetary_total``.
    bins : int, default 5
        Score levels; the grid always has ``bins`` rows and columns.

    Returns
    -------
    DataFrame
        Index ``r_score`` 1..bins (ascending), columns a MultiIndex
        ``(stat, f_score)`` with stat ``"customers"`` (int, 0 for empty
        cells) and ``"mean_monetary_total"`` (NaN for empty cells), so
        ``table["customers"]`` is the R x F count grid.
    """
    require_columns(scored, (R_SCORE, F_SCORE, MONETARY_TOTAL), "scored")
    _check_scores(scored, bins, (R_SCORE, F_SCORE))
    cells = scored.groupby([R_SCORE, F_SCORE]).agg(
        customers=(MONETARY_TOTAL, "size"), mean_monetary_total=(MONETARY_TOTAL, "mean")
    )
    levels = range(1, bins + 1)
    cells = cells.reindex(pd.MultiIndex.from_product([levels, levels], names=[R_SCORE, F_SCORE]))
    cells["customers"] = cells["customers"].fillna(0).astype("int64")
    return cells.unstack(F_SCORE)


# --------------------------------------------------------------------------
# Data-driven personas
# --------------------------------------------------------------------------


def kmeans_personas(
    rfm: pd.DataFrame,
    k_range: Iterable[int] = range(2, 9),
    random_state: int = 0,
    silhouette_sample: int = 2_000,
    fit_sample: int = 50_000,
    n_init: int = 4,
) -> tuple[pd.Series, pd.DataFrame, pd.Series]:
    """Cluster customers with k-means on log-scaled, standardized R, F and M.

    Features are ``log1p`` of ``recency_days``, ``frequency`` and
    ``monetary_total`` (negative totals clipped to 0), each standardized to
    mean 0 and variance 1. For each ``k`` in ``k_range`` (values with
    ``k >= n_customers`` are skipped) k-means is fitted (``n_init`` starts)
    and scored by mean silhouette; the ``k`` with the highest score wins (the
    smallest such ``k`` on ties). With more than ``fit_sample`` customers
    k-means is fitted on a random subsample of that size and every customer
    is then assigned to the nearest centre, so the cost does not grow with
    the customer base. Everything is seeded by ``random_state`` and run on
    one thread: the same input gives the same personas.

    Parameters
    ----------
    rfm : DataFrame
        One row per customer with ``recency_days``, ``frequency``,
        ``monetary_total``; an optional ``segment`` column (from
        :func:`assign_segments`) adds ``dominant_segment`` to the profile.
    k_range : iterable of int, default range(2, 9)
        Candidate cluster counts, each >= 2.
    random_state : int, default 0
        Seed for k-means and silhouette sampling.
    silhouette_sample : int, default 2000
        Silhouette is computed on a random subsample of at most this many
        customers (it is quadratic in their number).
    fit_sample : int, default 50000
        k-means is fitted on at most this many customers (a uniform random
        sample, seeded by ``random_state``); ``rfm.kmeans_max_customers`` in
        ``lclib.yaml``.
    n_init : int, default 4
        k-means++ starts per ``k``; the best inertia is kept.

    Returns
    -------
    labels : Series
        ``persona`` (int 0..k-1) per customer, same index as ``rfm``.
        Personas are numbered by descending mean ``monetary_total``.
    profile : DataFrame
        Indexed by ``persona``: ``customers``, ``share_customers``,
        ``mean_recency_days``, ``mean_frequency``, ``mean_monetary_total``
        and, if ``rfm`` has ``segment``, ``dominant_segment`` (most common
        segment; earliest category on ties).
    silhouette : Series
        Mean silhouette score per evaluated ``k`` (index ``k``).

    Raises
    ------
    ValueError
        If a ``k`` is below 2 or no ``k`` can be evaluated.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler
    from threadpoolctl import threadpool_limits

    require_columns(rfm, tuple(_DIMENSIONS), "rfm")
    ks = [int(k) for k in k_range]
    if any(k < 2 for k in ks):
        raise ValueError(f"every k in k_range must be >= 2, got {ks}")
    n = len(rfm)
    ks = [k for k in ks if k < n]
    if not ks:
        raise ValueError(f"no k in k_range is below the number of customers ({n})")

    features = np.log1p(rfm[list(_DIMENSIONS)].clip(lower=0).to_numpy(dtype="float64"))
    features = StandardScaler().fit_transform(features)
    # The rows silhouette_score(..., sample_size, random_state) would draw: the same
    # for every k, so they are drawn (and validated) once, not once per k.
    sil_rows = (np.random.RandomState(random_state).permutation(n)[:silhouette_sample]
                if n > silhouette_sample else slice(None))
    sil_features = features[sil_rows]
    rng = np.random.default_rng(random_state)
    fit_rows = np.sort(rng.choice(n, fit_sample, replace=False)) if n > fit_sample else slice(None)
    fitted, scores = {}, {}
    # One thread: on a small, shared machine OpenMP spinning makes k-means many
    # times slower, and results do not depend on the thread count.
    with threadpool_limits(limits=1):
        for k in ks:
            model = KMeans(n_clusters=k, n_init=n_init, random_state=random_state)
            fitted[k] = model.fit(features[fit_rows]).predict(features)
            distinct = int(np.count_nonzero(np.bincount(fitted[k], minlength=k)))
            scores[k] = (
                silhouette_score(sil_features, fitted[k][sil_rows])
                if 1 < distinct < n
                else np.nan
            )
    silhouette = pd.Series(scores, name="silhouette", dtype="float64").rename_axis("k")
    if silhouette.isna().all():
        raise ValueError("k-means found fewer than 2 distinct clusters for every k")
    raw = pd.Series(fitted[silhouette.idxmax()], index=rfm.index)

    by_value = rfm[MONETARY_TOTAL].groupby(raw).mean().sort_values(ascending=False, kind="stable")
    labels = raw.map({old: new for new, old in enumerate(by_value.index)}).rename(PERSONA)
    grouped = rfm.groupby(labels)
    profile = grouped.agg(
        customers=(MONETARY_TOTAL, "size"),
        mean_recency_days=(RECENCY_DAYS, "mean"),
        mean_frequency=(FREQUENCY, "mean"),
        mean_monetary_total=(MONETARY_TOTAL, "mean"),
    )
    profile.insert(1, "share_customers", profile["customers"] / n)
    if SEGMENT in rfm:
        profile["dominant_segment"] = grouped[SEGMENT].agg(lambda s: s.mode().iloc[0])
    return labels, profile, silhouette


def persona_segment_table(personas: pd.Series, segments: pd.Series) -> pd.DataFrame:
    """How k-means personas and rule segments overlap: customer counts.

    Parameters
    ----------
    personas : Series
        ``persona`` per customer (from :func:`kmeans_personas`).
    segments : Series
        ``segment`` per customer, same index (from :func:`assign_segments`).

    Returns
    -------
    DataFrame
        Index ``persona`` (ascending), one int column per segment (every
        category of a categorical ``segment``, in category order, zeros
        included). Row sums are the persona sizes.
    """
    if not personas.index.equals(segments.index):
        raise ValueError("personas and segments must have the same index (one row per customer)")
    table = pd.crosstab(personas.rename(PERSONA), segments.rename(SEGMENT), dropna=False)
    if isinstance(segments.dtype, pd.CategoricalDtype):
        table = table.reindex(columns=segments.cat.categories, fill_value=0)
    table.columns = pd.Index(table.columns.astype(object), name=SEGMENT)
    return table.sort_index().astype("int64")


# --------------------------------------------------------------------------
# Privacy
# --------------------------------------------------------------------------


# ``pseudonymise`` and ``resolve_secret`` live in lclib.io.privacy (imported above, re-exported here).


#: Customer lists exported next to the full table: list name -> segments.
#: Default for a future ``rfm.export_lists`` key of ``lclib.yaml``.
DEFAULT_EXPORT_LISTS: dict[str, list[str]] = {
    "vip": ["Champions", "Loyal Customers"],
    "at_risk": ["At Risk", "Can't Lose Them"],
}
#: Index name of exported tables whose ids were pseudonymised.
PSEUDONYM = "customer_pseudonym"


def export_tables(
    scored: pd.DataFrame,
    key: str | None = None,
    lists: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, pd.DataFrame]:
    """The scored customer table and per-segment lists, ready to write as CSV.

    Parameters
    ----------
    scored : DataFrame
        Output of :func:`assign_segments` / :func:`score_customers`, indexed by
        ``customer_id``.
    key : str, optional
        Secret for :func:`lclib.io.privacy.pseudonymise`. When given, the index holds
        keyed hashes instead of customer ids and is named ``customer_pseudonym``.
        Reports do not use it: with ``privacy.pseudonymise`` the ids are already
        pseudonyms when the data are loaded.
    lists : mapping, optional
        List name -> segment names. Every name must be a segment of
        ``scored``. Default :data:`DEFAULT_EXPORT_LISTS`, keeping only the
        segments ``scored`` has (a list left empty is dropped), so custom rules
        do not break the default export.

    Returns
    -------
    dict of DataFrame
        ``"rfm_customers"``: every customer, sorted by ``monetary_total``
        descending (ties by id); then ``"rfm_<list>"`` per list, the customers
        of those segments in the same order. Columns as in ``scored``; the
        segment as plain text.

    Raises
    ------
    ValueError
        If ``scored`` lacks ``segment`` or ``monetary_total``, or a list names
        an unknown segment.
    """
    require_columns(scored, (SEGMENT, MONETARY_TOTAL), "scored")
    known = list(scored[SEGMENT].cat.categories) if isinstance(
        scored[SEGMENT].dtype, pd.CategoricalDtype) else list(scored[SEGMENT].dropna().unique())
    if lists is None:
        lists = {name: [s for s in members if s in known] for name, members in DEFAULT_EXPORT_LISTS.items()}
        lists = {name: members for name, members in lists.items() if members}
    else:
        unknown = sorted({s for members in lists.values() for s in members} - set(known))
        if unknown:
            raise ValueError(f"export lists name unknown segments {unknown}; segments are {known}")

    if scored.index.is_monotonic_increasing and scored[MONETARY_TOTAL].notna().all():
        # already in id order (rfm_table's order): a stable sort on money alone keeps
        # ties by id, without sorting hundreds of thousands of id strings again
        order = np.argsort(-scored[MONETARY_TOTAL].to_numpy(dtype="float64"), kind="stable")
        table = scored.iloc[order].rename_axis(CUSTOMER_ID).reset_index()
    else:
        table = scored.rename_axis(CUSTOMER_ID).reset_index()
        table = table.sort_values([MONETARY_TOTAL, CUSTOMER_ID], ascending=[False, True], kind="stable")
    table[SEGMENT] = table[SEGMENT].astype(object)
    if key is not None:
        table[CUSTOMER_ID] = pseudonymise(table[CUSTOMER_ID], key)
        table = table.rename(columns={CUSTOMER_ID: PSEUDONYM})
    table = table.set_index(table.columns[0])
    out = {"rfm_customers": table}
    for name, members in lists.items():
        # a plain boolean array: indexing with a Series makes pandas hash the id index
        out[f"rfm_{name}"] = table.loc[table[SEGMENT].isin(list(members)).to_numpy()]
    return out


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _min_rank(values: np.ndarray) -> np.ndarray:
    """How many values are strictly smaller than each value (``rank(method="min") - 1``).

    One sort, no NaN allowed: 3-4x faster than pandas' rank on 800k customers.
    """
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts_block = np.empty(len(values), dtype=bool)
    starts_block[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts_block[1:])
    block_start = np.flatnonzero(starts_block)
    n_worse = np.empty(len(values), dtype="int64")
    n_worse[order] = block_start[np.cumsum(starts_block) - 1]
    return n_worse


def _check_scores(
    scores: pd.DataFrame, bins: int, columns: Sequence[str] = SCORE_COLUMNS
) -> None:
    require_columns(scores, columns, "scores")
    for column in columns:
        values = scores[column]
        if not pd.api.types.is_integer_dtype(values) or not values.between(1, bins).all():
            raise ValueError(f"scores[{column!r}] must be integers in 1..{bins} without missing values")


