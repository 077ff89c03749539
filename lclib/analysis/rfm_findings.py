"""The findings of report 03_rfm in words: each a value (or small dataclass) with its sentence.

The notebook records and says them; every branch (no history to compare with, one
segment, ties, no customers, personas skipped) lives here and is tested
(``tests/test_rfm_findings.py``). The tables they read come from :mod:`lclib.analysis.rfm`.

Examples
--------
::

    base = customer_base(scored, as_of, currency)          # size, recency, one-order share
    value = segment_value(summary)                         # most valuable and largest segments
    grid = rf_grid_value(rf_heatmap_table(scored))         # best R x F cell, quiet regulars
    moved = segment_moves(before, after, date_from, as_of) # before=None: no history to compare
    personas = find_personas(scored, enabled=True)         # or why they were skipped
    rows = headline_numbers(base.customers, summary, base.one_order_share, ...)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lclib.analysis.rfm import (DEFAULT_EXPORT_LISTS, NEW_ROW, SEGMENT, kmeans_personas,
                                migration_summary, migration_table, persona_segment_table, segment_states)
from lclib.analysis.wording import money, data_to, display_name
from lclib.engine.contracts import FREQUENCY, MONETARY_MEAN, MONETARY_TOTAL, RECENCY_DAYS
from lclib.io.columns import require_columns

#: Row names of :func:`customer_statistics`, in words.
_STATISTICS = {"mean": "Average", "min": "Minimum", "25%": "25th percentile", "50%": "Median",
               "75%": "75th percentile", "max": "Maximum"}

#: The segments of the RFM at-risk list (:data:`DEFAULT_EXPORT_LISTS`): the first win-back target.
WIN_BACK_SEGMENTS: tuple[str, ...] = tuple(DEFAULT_EXPORT_LISTS["at_risk"])

#: Segments whose share of customers is a headline number (when the rules have them).
HEADLINE_SEGMENTS: tuple[str, ...] = ("Champions", "At Risk", "Lost")

#: Fewer customers than this: no k-means personas are looked for.
MIN_PERSONA_CUSTOMERS = 20


def whole_or_one_decimal(value: float) -> str:
    """A number of days or orders as text: no decimals when whole, else one.

    Examples
    --------
    >>> whole_or_one_decimal(213.0), whole_or_one_decimal(213.5), whole_or_one_decimal(1234)
    ('213', '213.5', '1,234')
    """
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def customer_statistics(scored: pd.DataFrame, names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Average, minimum, quartiles and maximum of each customer value (recency, orders, money).

    Parameters
    ----------
    scored : one row per customer (e.g. :func:`score_rfm` output).
    names : column -> reader-facing name; only the columns named are described, in that
        order (default: ``recency_days``, ``frequency``, ``monetary_total`` and
        ``monetary_mean`` under their own names).

    Returns
    -------
    DataFrame
        Index ``Statistic`` (``Average``, ``Minimum``, ``25th percentile``, ``Median``,
        ``75th percentile``, ``Maximum``), one float column per named column.

    Examples
    --------
    >>> scored = pd.DataFrame({"frequency": [1, 1, 2, 4]})
    >>> customer_statistics(scored, {"frequency": "Orders"})["Orders"].tolist()
    [2.0, 1.0, 1.0, 1.5, 2.5, 4.0]
    """
    names = dict(names) if names is not None else {c: c for c in (RECENCY_DAYS, FREQUENCY, MONETARY_TOTAL,
                                                                  MONETARY_MEAN)}
    require_columns(scored, tuple(names), "scored")
    stats = scored[list(names)].describe(percentiles=[0.25, 0.5, 0.75]).drop(index=["count", "std"])
    stats.columns = list(names.values())
    return stats.rename(index=_STATISTICS).rename_axis("Statistic")


@dataclass(frozen=True)
class CustomerBase:
    """How many customers, how recent, how many bought once (see :func:`customer_base`).

    Attributes
    ----------
    customers : number of customers scored.
    median_recency_days : half of the customers last bought within this many days (NaN: none).
    one_order_share : share of customers with a single order (0..1; NaN: none).
    order_value : revenue per order over all orders (not the mean of the customers' averages).
    sentence : the finding in words (Markdown).
    """

    customers: int
    median_recency_days: float
    one_order_share: float
    order_value: float
    sentence: str


def customer_base(scored: pd.DataFrame, as_of: str | pd.Timestamp, currency: str = "") -> CustomerBase:
    """The customer base in one sentence: size, median recency, one-order share, order value.

    Parameters
    ----------
    scored : one row per customer with ``recency_days``, ``frequency`` and ``monetary_total``.
    as_of : the exclusive end of the data (named as its last day, :func:`~lclib.analysis.wording.data_to`).
    currency : label of the money amount.

    Examples
    --------
    >>> scored = pd.DataFrame({"recency_days": [3, 10, 40], "frequency": [1, 3, 1],
    ...                        "monetary_total": [20.0, 90.0, 40.0]})
    >>> base = customer_base(scored, "2025-01-01", "EUR")
    >>> base.customers, round(base.one_order_share, 3), base.order_value
    (3, 0.667, 30.0)
    >>> print(base.sentence)  # doctest: +NORMALIZE_WHITESPACE
    With **data to 31 Dec 2024**, we have **3 customers**. Half of them last bought within **10 days**;
    **66.7%** ordered only once, and an order was worth **30.00 EUR** on average over all orders (the
    table averages each customer's own average order, so one-order customers weigh more).
    """
    require_columns(scored, (RECENCY_DAYS, FREQUENCY, MONETARY_TOTAL), "scored")
    n = len(scored)
    if not n:
        return CustomerBase(0, np.nan, np.nan, np.nan,
                            f"With **{data_to(as_of)}**, no customer has bought yet: there is nobody to score.")
    median = float(scored[RECENCY_DAYS].median())
    one_order = float((scored[FREQUENCY] == 1).mean())
    order_value = float(scored[MONETARY_TOTAL].sum() / scored[FREQUENCY].sum())
    sentence = (f"With **{data_to(as_of)}**, we have **{n:,} customers**. "
                f"Half of them last bought within **{whole_or_one_decimal(median)} days**; "
                f"**{one_order:.1%}** ordered only once, and an order was worth "
                f"**{money(order_value, currency)}** on average over all orders (the table averages each "
                f"customer's own average order, so one-order customers weigh more).")
    return CustomerBase(n, median, one_order, order_value, sentence)


def score_ranges_sentence(ranges: pd.DataFrame, one_order_share: float, *, recency_from_states: bool = False,
                          at_risk_days: int | None = None, lapsed_days: int | None = None) -> str:
    """What the top recency score means, how recency follows the lifecycle, which frequency scores are unused.

    Parameters
    ----------
    ranges : :func:`score_ranges` output (its highest score is the number of score levels).
    one_order_share : share of customers with one order (0..1), the usual reason for unused
        frequency scores (a tied block takes the lowest score).
    recency_from_states : True when R=1 and R=2 are the lapsed and at-risk customers
        (``rfm.recency_from_states``); then ``at_risk_days`` and ``lapsed_days`` are named.
    at_risk_days, lapsed_days : the lifecycle thresholds (:class:`lclib.analysis.stages.StateThresholds`).

    Returns
    -------
    str
        Two or three sentences (Markdown).
    """
    require_columns(ranges, ("customers", "max"), "ranges")
    bins = int(ranges.index.get_level_values("score").max())
    top = ranges.loc[(RECENCY_DAYS, bins)]
    text = (f"A recency score of {bins} means a last purchase at most **{top['max']:,.0f} days** ago. "
            if top["customers"] else f"No customer has the top recency score, {bins}. ")
    if recency_from_states:
        text += (f"Recency follows the lifecycle: R=1 is every customer lapsed (no order for {lapsed_days} days "
                 f"or more), R=2 every customer at risk ({at_risk_days} days or more). ")
    skipped = ranges.loc[FREQUENCY].query("customers == 0").index.tolist()
    if not skipped:
        return text + "Every frequency score is used."
    many = len(skipped) > 1
    return text + (f"Because **{one_order_share:.1%}** of customers ordered once, they all share frequency score 1 "
                   f"and score{'s' if many else ''} {', '.join(map(str, skipped))} {'are' if many else 'is'} "
                   "not used for frequency.")


@dataclass(frozen=True)
class SegmentValue:
    """Which segments bring the revenue and which is the largest (see :func:`segment_value`).

    Attributes
    ----------
    most_valuable : the two segments with the largest share of revenue, largest first (one
        when the rules have one segment, none without customers).
    most_valuable_share_customers, most_valuable_share_revenue : their shares together (0..1).
    largest : the segment with the most customers (None without customers).
    largest_customers : its customers.
    largest_share : its share of customers (0..1).
    sentence : the finding in words (Markdown).
    """

    most_valuable: list[str]
    most_valuable_share_customers: float
    most_valuable_share_revenue: float
    largest: str | None
    largest_customers: int
    largest_share: float
    sentence: str

    @property
    def largest_segment(self) -> tuple[str, float] | None:
        """``(largest segment, its share of customers in percent)``, as
        :func:`lclib.analysis.wording.rfm_answers` takes it; None without customers."""
        return None if self.largest is None else (self.largest, 100 * self.largest_share)


def segment_value(summary: pd.DataFrame) -> SegmentValue:
    """The two segments bringing the most revenue against their share of customers, and the largest segment.

    Ties go to the segment listed first (rule order).

    Parameters
    ----------
    summary : :func:`segment_summary` output.

    Examples
    --------
    >>> summary = pd.DataFrame({"customers": [2, 5, 3], "share_customers": [0.2, 0.5, 0.3],
    ...                         "share_revenue": [0.6, 0.1, 0.3]}, index=["Champions", "Lost", "At Risk"])
    >>> v = segment_value(summary)
    >>> v.most_valuable, v.largest, v.largest_segment
    (['Champions', 'At Risk'], 'Lost', ('Lost', 50.0))
    """
    require_columns(summary, ("customers", "share_customers", "share_revenue"), "summary")
    total = int(summary["customers"].sum())
    if not total:
        return SegmentValue([], np.nan, np.nan, None, 0, np.nan, "No customer is in a segment yet.")
    top = summary.sort_values("share_revenue", ascending=False, kind="stable").head(2)
    largest = summary["customers"].idxmax()
    count, share = int(summary.loc[largest, "customers"]), float(summary.loc[largest, "share_customers"])
    top_customers, top_revenue = float(top["share_customers"].sum()), float(top["share_revenue"].sum())
    if len(top) < 2:
        sentence = f"Every customer is in the one segment **{largest}**: {total:,} customers."
    else:
        sentence = (f"The two most valuable segments, **{top.index[0]}** and **{top.index[1]}**, are "
                    f"**{top_customers:.0%}** of customers but bring **{top_revenue:.0%}** of revenue. "
                    f"The largest segment is **{largest}** with **{count:,}** customers ({share:.0%}). "
                    f"Every customer is in exactly one segment: the segments add up to {total:,} customers.")
    return SegmentValue(list(top.index), top_customers, top_revenue, largest, count, share, sentence)


@dataclass(frozen=True)
class GridValue:
    """The most valuable cell of the recency x frequency grid (see :func:`rf_grid_value`).

    Attributes
    ----------
    best_cell : ``(r_score, f_score)`` of the highest mean spend (None: every cell empty).
    best_customers : customers in that cell.
    best_mean_spend : their mean ``monetary_total``.
    quiet_regulars : customers with the top frequency and the lowest recency score (R=1, F=top):
        loyal buyers who have gone quiet.
    sentence : the finding in words (Markdown).
    """

    best_cell: tuple[int, int] | None
    best_customers: int
    best_mean_spend: float
    quiet_regulars: int
    sentence: str


def rf_grid_value(heat: pd.DataFrame, currency: str = "") -> GridValue:
    """Where the value sits on the R x F grid, and how many frequent buyers have gone quiet.

    Ties go to the lower recency score, then the lower frequency score.

    Parameters
    ----------
    heat : :func:`~lclib.analysis.rfm.rf_heatmap_table` output.
    currency : label of the money amount.

    Examples
    --------
    >>> from lclib.analysis.rfm import rf_heatmap_table
    >>> scored = pd.DataFrame({"r_score": [1, 2, 2], "f_score": [2, 1, 2], "monetary_total": [80.0, 10.0, 50.0]})
    >>> grid = rf_grid_value(rf_heatmap_table(scored, bins=2), "EUR")
    >>> grid.best_cell, grid.quiet_regulars
    ((1, 2), 1)
    """
    counts, means = heat["customers"], heat["mean_monetary_total"]
    bins = int(counts.columns.max())
    quiet = int(counts.loc[1, bins])
    filled = means.stack().dropna()
    if filled.empty:
        return GridValue(None, 0, np.nan, quiet, "No customer is on the recency x frequency grid yet.")
    r, f = (int(v) for v in filled.idxmax())
    count, mean = int(counts.loc[r, f]), float(means.loc[r, f])
    sentence = (f"The most valuable cell is R={r}, F={f}: **{count:,}** customers spending "
                f"**{money(mean, currency)}** each on average. "
                + (f"**{quiet:,}** customers have the top frequency but the lowest recency (R=1, F={bins}): loyal "
                   f"buyers who have gone quiet and are worth winning back." if quiet else
                   f"No customer combines the top frequency with the lowest recency (R=1, F={bins})."))
    return GridValue((r, f), count, mean, quiet, sentence)


@dataclass(frozen=True)
class SegmentMoves:
    """How customers moved between segments from an earlier date (see :func:`segment_moves`).

    Attributes
    ----------
    migration : :func:`migration_table` (None: no customer before the earlier date).
    summary : :func:`migration_summary` of it (None likewise).
    labels : the two dates as the last day counted (``"02 Oct 2025"``), for figures and tables.
    days : days between the two dates.
    stayed_share : share of the earlier customers who kept their segment (0..1; None likewise).
    biggest_move : ``(from, to, customers)`` of the largest move between two different segments
        (None: nobody changed segment, or no history).
    sentence : the finding in words (Markdown).
    """

    migration: pd.DataFrame | None
    summary: pd.DataFrame | None
    labels: tuple[str, str]
    days: int
    stayed_share: float | None
    biggest_move: tuple[str, str, int] | None
    sentence: str

    @property
    def has_history(self) -> bool:
        """Were there customers at the earlier date to compare with?"""
        return self.migration is not None


def segment_moves(before: pd.Series | None, after: pd.Series, date_from: str | pd.Timestamp,
                  as_of: str | pd.Timestamp) -> SegmentMoves:
    """Who kept their segment, the biggest move and the segments that grew and shrank between two dates.

    Ties go to the segment listed first (for the biggest move: the first origin, then the
    first destination).

    Parameters
    ----------
    before : ``segment`` per customer at ``date_from`` (as :func:`score_rfm` gives it), or None
        when the data hold no order before ``date_from``: then only a sentence says so.
    after : ``segment`` per customer at ``as_of`` (same categories).
    date_from, as_of : the two exclusive ends of the data (``as_of - rfm.compare_days`` and ``as_of``).

    Examples
    --------
    >>> cats = ["Champions", "Lost"]
    >>> before = pd.Series(pd.Categorical(["Champions", "Champions"], cats), index=["a", "b"])
    >>> after = pd.Series(pd.Categorical(["Champions", "Lost", "Champions"], cats), index=["a", "b", "c"])
    >>> moves = segment_moves(before, after, "2025-10-01", "2025-12-30")
    >>> moves.stayed_share, moves.biggest_move, moves.labels
    (0.5, ('Champions', 'Lost', 1), ('30 Sep 2025', '29 Dec 2025'))
    """
    start, end = pd.Timestamp(date_from), pd.Timestamp(as_of)
    days = (end - start).days
    labels = (f"{start - pd.Timedelta(days=1):%d %b %Y}", f"{end - pd.Timedelta(days=1):%d %b %Y}")
    if before is None:
        return SegmentMoves(None, None, labels, days, None, None,
                            f"The data start less than {days} days before the analysis date, so there is "
                            "no earlier snapshot to compare with (a shorter comparison period, a setting of the configuration, would give one).")
    migration = migration_table(before, after)
    moves = migration_summary(migration)
    before_total = int(moves["customers_before"].sum())
    stayed_share = float(moves["stayed"].sum() / max(before_total, 1))
    moved = migration.drop(index=NEW_ROW).stack()
    moved = moved[[a != b for a, b in moved.index]]
    biggest = None
    if len(moved) and moved.max() > 0:
        origin, target = moved.idxmax()
        biggest = (origin, target, int(moved.max()))
    grow, shrink = moves["net_change"].idxmax(), moves["net_change"].idxmin()
    grown, shrunk = int(moves.loc[grow, "net_change"]), int(moves.loc[shrink, "net_change"])
    sentence = (f"Between {labels[0]} and {labels[1]} ({days} days), **{stayed_share:.0%}** of the "
                f"{before_total:,} existing customers stayed in their segment and **{int(moves['new'].sum()):,}** "
                f"new customers arrived. "
                + (f"The biggest single move was **{biggest[2]:,}** customers from **{biggest[0]}** to "
                   f"**{biggest[1]}**. " if biggest else "")
                + f"**{grow}** grew the most ({grown:+,})"
                + (f" and **{shrink}** shrank the most ({shrunk:+,})." if shrunk < 0
                   else "; no segment shrank, as new customers kept arriving."))
    return SegmentMoves(migration, moves, labels, days, stayed_share, biggest, sentence)


def win_back_sentence(summary: pd.DataFrame, currency: str = "",
                      segments: Sequence[str] = WIN_BACK_SEGMENTS) -> str | None:
    """How many customers the win-back segments hold and what they have spent; None when the rules have none.

    Parameters
    ----------
    summary : :func:`segment_summary` output.
    currency : label of the money amount.
    segments : the win-back segments (default :data:`WIN_BACK_SEGMENTS`); those not in the
        rules are left out.

    Examples
    --------
    >>> summary = pd.DataFrame({"customers": [3, 7], "revenue": [150.0, 50.0]}, index=["At Risk", "Lost"])
    >>> print(win_back_sentence(summary, "EUR"))  # doctest: +NORMALIZE_WHITESPACE
    **3** customers in the RFM segments At Risk have spent **150 EUR** (75% of revenue) but have not
    bought for a long time: they are the first win-back target.
    """
    require_columns(summary, ("customers", "revenue"), "summary")
    risk = [s for s in segments if s in summary.index]
    if not risk:
        return None
    revenue, total = float(summary.loc[risk, "revenue"].sum()), float(summary["revenue"].sum())
    return (f"**{int(summary.loc[risk, 'customers'].sum()):,}** customers in the RFM segments {' and '.join(risk)} "
            f"have spent **{money(revenue, currency)}** ({revenue / total if total else np.nan:.0%} of revenue) "
            "but have not bought for a long time: they are the first win-back target.")


def segment_state_shares(segments: pd.Series, states: pd.DataFrame) -> pd.DataFrame:
    """:func:`segment_states` as shares of each segment's customers (rows sum to 1; NaN for an empty segment)."""
    counts = segment_states(segments, states)
    return counts.div(counts.sum(axis=1).where(lambda s: s > 0), axis=0)


def lapsed_segments_sentence(shares: pd.DataFrame, lapsed_days: int, lapsed: str = "lapsed") -> str:
    """Which RFM segments are mostly (half or more) lapsed customers in lifecycle terms.

    Parameters
    ----------
    shares : :func:`segment_state_shares` output (a column per lifecycle state, raw names).
    lapsed_days : days without an order after which the lifecycle report calls a customer lapsed.
    lapsed : the name of the lapsed state's column.

    Examples
    --------
    >>> shares = pd.DataFrame({"active": [1.0, 0.4, 0.0], "lapsed": [0.0, 0.6, 1.0]},
    ...                       index=["Champions", "At Risk", "Lost"])
    >>> print(lapsed_segments_sentence(shares, 153))  # doctest: +NORMALIZE_WHITESPACE, +ELLIPSIS
    A customer counts as **lapsed** in the lifecycle report after **153 days** without an order. Most
    customers of **At Risk, Lost** (60%, 100%) have already lapsed by that definition. So ...
    """
    share = shares[lapsed].fillna(0) if lapsed in shares else pd.Series(0.0, index=shares.index)
    gone = share[share >= 0.5]
    text = (f"A customer counts as **lapsed** in the lifecycle report after **{lapsed_days} days** without an "
            "order. ")
    if gone.empty:
        return text + "No RFM segment is mostly made of lapsed customers."
    every = bool((gone == 1).all())
    return (text + ("Every customer" if every else "Most customers") + f" of **{', '.join(map(str, gone.index))}** "
            + ("" if every else "(" + ", ".join(f"{v:.0%}" for v in gone) + ") ")
            + ("has" if every else "have") + " already lapsed by that definition. So the RFM segments with "
            "'at risk' style names are not the lifecycle state *at risk*: their win-back actions above try to bring "
            "back customers who have already lapsed, who return far less often than customers kept before they "
            "lapse.")


@dataclass(frozen=True)
class Personas:
    """k-means personas of the customers, or why none were looked for (see :func:`find_personas`).

    Attributes
    ----------
    labels, profile, silhouette : :func:`kmeans_personas` output (None when skipped).
    overlap : :func:`persona_segment_table` of the personas and the rule segments (None when skipped).
    customers : customers clustered (or considered).
    fit_sample : at most this many customers were used to fit k-means.
    skipped : why no personas were looked for (None when found).
    """

    labels: pd.Series | None
    profile: pd.DataFrame | None
    silhouette: pd.Series | None
    overlap: pd.DataFrame | None
    customers: int
    fit_sample: int
    skipped: str | None

    @property
    def found(self) -> bool:
        """Were personas looked for and found?"""
        return self.profile is not None

    @property
    def k(self) -> int | None:
        """The number of personas (the best silhouette); None when skipped."""
        return None if self.silhouette is None else int(self.silhouette.idxmax())


def find_personas(scored: pd.DataFrame, *, enabled: bool = True, k_range: Iterable[int] = range(2, 9),
                  random_state: int = 0, fit_sample: int = 50_000,
                  min_customers: int = MIN_PERSONA_CUSTOMERS) -> Personas:
    """:func:`kmeans_personas` and their overlap with the segments, unless switched off or too few customers.

    Parameters
    ----------
    scored : :func:`score_rfm` output (with ``segment``).
    enabled : ``rfm.kmeans`` of ``lclib.yaml``.
    k_range, random_state, fit_sample : passed to :func:`kmeans_personas`.
    min_customers : below this many customers no personas are looked for.
    """
    n = len(scored)
    if not enabled or n < min_customers:
        reason = ("Personas are switched off in the configuration." if not enabled
                  else f"Only {n} customers: too few to look for personas.")
        return Personas(None, None, None, None, n, fit_sample, reason)
    labels, profile, silhouette = kmeans_personas(scored, k_range=k_range, random_state=random_state,
                                                  fit_sample=fit_sample)
    overlap = persona_segment_table(labels, scored[SEGMENT])
    return Personas(labels, profile, silhouette, overlap, n, fit_sample, None)


def silhouette_strength(silhouette: float) -> str:
    """How clear a mean silhouette says the groups are: ``"a clear"`` (above 0.5), ``"a moderate"``
    (0.25 to 0.5) or ``"only a weak"`` (below 0.25)."""
    return "a clear" if silhouette > 0.5 else "a moderate" if silhouette >= 0.25 else "only a weak"


def persona_sentence(personas: Personas, currency: str = "",
                     lists: Mapping[str, Sequence[str]] | None = None) -> str:
    """The personas in words: how many, how clearly separated, the most valuable one and how the segments see it.

    Parameters
    ----------
    personas : :func:`find_personas` output; when skipped, the sentence is its reason.
    currency : label of the money amount.
    lists : the export lists (``rfm.export_lists``; None or empty: :data:`DEFAULT_EXPORT_LISTS`):
        the share of the most valuable persona in the ``vip`` list's segments is given, else its
        most common segment.
    """
    if not personas.found:
        return personas.skipped
    profile, overlap, n = personas.profile, personas.overlap, personas.customers
    best = float(personas.silhouette.max())
    vip = [s for s in (lists or DEFAULT_EXPORT_LISTS).get("vip", []) if s in overlap.columns]
    text = (f"The data split best into **{personas.k} personas**, with {silhouette_strength(best)} structure "
            f"(silhouette {best:.2f}; above 0.5 is clear, below 0.25 weak). The most valuable, Persona 1, "
            f"**{profile.loc[0, 'share_customers']:.0%}** of customers, spends "
            f"**{money(profile.loc[0, 'mean_monetary_total'], currency)}** on average")
    if vip:
        vip_share = overlap.loc[0, vip].sum() / overlap.loc[0].sum()
        text += (f"; **{vip_share:.0%}** of it are {' or '.join(vip)} in the rule segments, so both views agree on "
                 "where the value sits.")
    else:
        text += f" and is mostly **{profile.loc[0, 'dominant_segment']}**."
    if n > personas.fit_sample:
        text += (f" k-means was fitted on a random sample of {personas.fit_sample:,} of the {n:,} customers "
                 "(a setting of the configuration); every customer was then assigned to the nearest persona.")
    return text


def export_list_labels(files: Iterable[str], lists: Mapping[str, Sequence[str]] | None = None,
                       names: Mapping[str, str] | None = None) -> list[str]:
    """The exported tables of :func:`export_tables` named in words, each list with its segments.

    Parameters
    ----------
    files : the table names (``rfm_customers``, ``rfm_<list>``).
    lists : the export lists (None or empty: :data:`DEFAULT_EXPORT_LISTS`).
    names : ``display_names`` of ``lclib.yaml`` for the list names.

    Examples
    --------
    >>> export_list_labels(["rfm_customers", "rfm_vip", "rfm_at_risk"])  # doctest: +NORMALIZE_WHITESPACE
    ['All scored customers', 'VIP (RFM segments Champions, Loyal Customers)',
     "At risk (RFM segments At Risk, Can't Lose Them)"]
    """
    lists = lists or DEFAULT_EXPORT_LISTS
    out = []
    for file in files:
        if file == "rfm_customers":
            out.append("All scored customers")
            continue
        name = file.removeprefix("rfm_")
        out.append(f"{'VIP' if name == 'vip' else display_name(name, names)} "
                   f"(RFM segments {', '.join(lists.get(name, []))})")
    return out


def export_sentence(files: Mapping[str, pd.DataFrame], *, pseudonymised: bool, output_folder: bool) -> str:
    """The size of the VIP and at-risk lists, whether the ids are pseudonyms and whether files were written.

    Parameters
    ----------
    files : :func:`export_tables` output.
    pseudonymised : ``privacy.pseudonymise`` of the run.
    output_folder : was an output folder given (else nothing was written)?
    """
    return (f"The VIP list holds **{len(files.get('rfm_vip', [])):,}** customers and the RFM at-risk list "
            f"**{len(files.get('rfm_at_risk', [])):,}**. "
            + ("Customer ids are pseudonymised (keyed hashes, as in every report of this run)." if pseudonymised
               else "Customer ids are exported as they are; turn on pseudonymisation in the configuration before "
                    "sharing the files.")
            + ("" if output_folder else " (No output folder was given, so no file was written.)"))


def segment_share_name(segment: str) -> str:
    """The headline name of a segment's share of customers: ``"At Risk"`` -> ``"share_at_risk"``."""
    return f"share_{segment.lower().replace(' ', '_')}"


def headline_numbers(customers: int, summary: pd.DataFrame, one_order_share: float, *,
                     stayed_share: float | None = None, compare_days: int | None = None,
                     personas: int | None = None) -> list[tuple[str, Any, str, str]]:
    """The report's headline numbers as ``(name, value, label, unit)``, in the order they are recorded.

    Shares are in percent, rounded to one decimal as the sentences show them. A segment of
    :data:`HEADLINE_SEGMENTS` the rules do not have, a ``stayed_share`` or ``personas`` that is
    None (no history, no personas) is left out.

    Examples
    --------
    >>> summary = pd.DataFrame({"share_customers": [0.25, 0.75], "share_revenue": [0.6, 0.4]},
    ...                        index=["Champions", "Lost"])
    >>> [(name, float(value)) for name, value, *_ in headline_numbers(8, summary, 0.5)]  # doctest: +NORMALIZE_WHITESPACE
    [('rfm_customers', 8.0), ('share_champions', 25.0), ('share_lost', 75.0),
     ('champions_revenue_share', 60.0), ('one_order_share', 50.0)]
    """
    out: list[tuple[str, Any, str, str]] = [("rfm_customers", customers, "Customers scored", "customers")]
    out += [(segment_share_name(name), round(100 * summary.loc[name, "share_customers"], 1),
             f"Customers in RFM segment '{name}'", "%") for name in HEADLINE_SEGMENTS if name in summary.index]
    if "Champions" in summary.index:
        out.append(("champions_revenue_share", round(100 * summary.loc["Champions", "share_revenue"], 1),
                    "Revenue from RFM segment 'Champions'", "%"))
    out.append(("one_order_share", round(100 * one_order_share, 1), "Customers with a single order", "%"))
    if stayed_share is not None:
        out.append(("segment_stayed_share", round(100 * stayed_share, 1),
                    f"Customers who kept their segment over {compare_days} days", "%"))
    if personas is not None:
        out.append(("personas", personas, "Data-driven personas (k-means)", "personas"))
    return out


def headline_segment_shares(recorded: Mapping[str, Any]) -> dict[str, float]:
    """The shares of :data:`HEADLINE_SEGMENTS` among recorded headline numbers, by segment
    (the ``shares`` of :func:`lclib.analysis.wording.rfm_answers`).

    Examples
    --------
    >>> headline_segment_shares({"share_champions": 1.8, "share_lost": 39.6, "rfm_customers": 10})
    {'Champions': 1.8, 'Lost': 39.6}
    """
    return {s: recorded[segment_share_name(s)] for s in HEADLINE_SEGMENTS if segment_share_name(s) in recorded}
