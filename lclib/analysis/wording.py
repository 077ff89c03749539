"""Numbers and names in words for the sentences of the reports, and each report's "Answers".

- :func:`p_text`: a p-value as a sentence says it.
- :func:`display_name` / :func:`display_names`: a channel, segment or state value as a reader
  sees it (``paid_search`` -> ``Paid search``, or the words set in ``lclib.yaml``'s
  ``display_names``); exports keep the raw values.
- :func:`auc_words` and :data:`PLAIN`: technical terms with a plain sentence beside them.
- :func:`data_to`: the analysis date as every report says it (``data to 31 Dec 2025``, the last day counted).
- :func:`display_path`: a touchpoint path with each channel in words.
- :func:`plural`: a count with its noun (``1 conversion``, ``2 conversions``); :func:`months_covered`
  and :func:`span_words`: a span of days in months, one definition for every report.
- ``*_answers``: one per report (``overview_answers`` for 00_data_overview ... ``scores_answers``
  for 07_customer_scores): the 3-6 sentences with the key numbers a report opens with. Pure:
  values in, Markdown text out (a bullet list, emphasis in ``**``). A value that is None (not
  computed with the data given) leaves its sentence out. Names from the data are put in as they
  are: the notebook shows the text with ``say()``, which escapes it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: A value written in snake_case (lower-case words joined by ``_``): shown as words.
_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")

#: Plain sentences put beside technical terms in the business reports.
PLAIN = {
    "roc_auc": "how often the score ranks a customer who leaves above one who stays (0.5 = a coin toss, 1 = always)",
    "pr_auc": "how well the riskiest customers on the list are really the ones who leave (the base rate = no skill)",
    "brier": "the average squared gap between the predicted probability and what happened (0 = perfect; lower is better)",
    "silhouette": "how clearly the customer groups are separated (from -1 to 1; above 0.5 = clear groups)",
    "log_rank": "a test of whether the groups' survival curves differ by more than chance",
    "holm": "p-values raised to allow for testing several variants at once, so a lucky one does not pass as a win",
    "bgnbd": "a purchase model: each customer buys at their own pace until they silently drop out",
    "gamma_gamma": "a spend model: each customer's typical order value, pulled toward the average when they have few orders",
    "wilson": "the range the true rate lies in with 95 % confidence",
}


def p_text(p: float) -> str:
    """A p-value as a sentence says it: ``p = 0.032``, ``p < 0.001`` (never ``p = 0``)."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"


def display_name(value: Any, names: Mapping[str, str] | None = None) -> Any:
    """``value`` (a channel, segment or state) as a reader sees it.

    The words given for it in ``names`` (``lclib.yaml``'s ``display_names``) win; else a
    snake_case value becomes words (``paid_search`` -> ``Paid search``, ``email`` -> ``Email``);
    anything else (``Champions``, ``Can't Lose Them``, a number, a missing value) is returned
    as it is. Never adds markup: the caller escapes the text as for any value from the data.
    """
    if names and isinstance(value, str) and value in names:
        return names[value]
    if isinstance(value, str) and _SNAKE.fullmatch(value):
        words = value.replace("_", " ")
        return words[:1].upper() + words[1:]
    return value


def display_names(values: Iterable[Any], names: Mapping[str, str] | None = None) -> list[Any]:
    """:func:`display_name` of each value (for a column or an index)."""
    return [display_name(v, names) for v in values]


def auc_words(auc: float | None, subject: str = "the model", *, term: bool = True) -> str:
    """``ROC AUC 0.768`` in words: ``the model ranks a customer who leaves above one who stays 77 % of
    the time (ROC AUC 0.768; 50 % is a coin toss)``; ``term=False`` leaves the technical term out
    (``... 77 % of the time (50 % is a coin toss)``: the business version of a report)."""
    if auc is None or not math.isfinite(auc):
        return f"{subject} could not be rated"
    return (f"{subject} ranks a customer who leaves above one who stays {100 * auc:.0f} % of the time "
            + (f"(ROC AUC {auc:.3f}; 50 % is a coin toss)" if term else "(50 % is a coin toss)"))


def data_to(as_of: Any, *, start: bool = False) -> str:
    """The one wording of a run's analysis date: ``data to 31 Dec 2025`` (``start``: ``Data to ...``).

    ``as_of`` is the *exclusive* end of the data (the day after the last day counted, as
    ``resolve_as_of`` returns it); the text names the last day counted, never ``as_of`` itself.
    """
    import pandas as pd

    return f"{'Data' if start else 'data'} to {pd.Timestamp(as_of) - pd.Timedelta(days=1):%d %b %Y}"


def display_path(path: Any, names: Mapping[str, str] | None = None, sep: str = " > ") -> Any:
    """A touchpoint path (``paid_search > email``) with each channel in words (``Paid search > Email``)."""
    if not isinstance(path, str):
        return path
    return sep.join(str(display_name(part, names)) for part in path.split(sep))


# ----------------------------------------------------------------------------- formatting


def _ok(v: Any) -> bool:
    return v is not None and not (isinstance(v, float) and not math.isfinite(v))


def _n(v: Any) -> str:
    return f"{v:,.0f}"


def _pct(v: float, digits: int = 0) -> str:
    """A number already in percent (27.5) as ``28 %``."""
    return f"{v:.{digits}f} %"


def money(v: float, currency: str) -> str:
    """An amount as the report sentences say it: ``13,061 EUR``; below 100 with cents (``10.47 EUR``)."""
    text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
    return f"{text} {currency}".strip()


def _bullets(sentences: Iterable[str | None]) -> str:
    """At most six non-empty sentences as a Markdown bullet list."""
    kept = [s.strip() for s in sentences if s and s.strip()][:6]
    return "\n".join(f"- {s}" for s in kept)


def plural(n: float, noun: str, many: str | None = None) -> str:
    """A count with its noun, singular for exactly one: ``1 conversion``, ``2 conversions``,
    ``1,234 people`` (``many`` for an irregular plural: ``plural(1, "person", "people")``).

    Examples
    --------
    >>> plural(1, "conversion"), plural(0, "conversion"), plural(1234, "person", "people")
    ('1 conversion', '0 conversions', '1,234 people')
    """
    return f"{_n(n)} {noun if n == 1 else (many or noun + 's')}"


#: Reader-facing names of the models (the ``clv.model`` values and ``gamma_gamma``); here, not in
#: :mod:`lclib.analysis.clv`, so that naming one imports no model library (the run's index page does).
MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "paretonbd": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma",
               "auto": "the purchase model with the lowest BIC"}

#: Days in an average month (365.25 / 12, rounded): a span of days said in months.
DAYS_PER_MONTH = 30.44


def months_covered(days: float) -> int:
    """A span of ``days`` in whole months, the one conversion of every report (report 00's
    "(3 months)", report 04's "over the 3 months of data"): ``days / 30.44``, rounded.

    Examples
    --------
    >>> months_covered(726), months_covered(105), months_covered(10)
    (24, 3, 0)
    """
    return round(days / DAYS_PER_MONTH)


def span_words(days: float) -> str:
    """A span of ``days`` as a reader says it: ``24 months``, ``1 month``; under half a month, in days.

    Examples
    --------
    >>> span_words(726), span_words(40), span_words(10)
    ('24 months', '1 month', '10 days')
    """
    months = months_covered(days)
    return plural(months, "month") if months >= 1 else plural(days, "day")


# ----------------------------------------------------------------------------- answers per report


def overview_answers(*, customers: int, orders: int, revenue: float, currency: str, first_date: str | None = None,
                     last_date: str | None = None, days_covered: int | None = None,
                     repeat_customer_share: float | None = None, rows_read: int | None = None,
                     rows_kept: int | None = None, missing_tables: Iterable[str] = ()) -> str:
    """Answers of 00_data_overview: what data, how much, what the cleaning kept.

    ``repeat_customer_share`` in percent; dates as text (``1 January 2024``).
    """
    period = (f" from **{first_date}** to **{last_date}**" if first_date and last_date else "")
    months = f" ({span_words(days_covered)})" if _ok(days_covered) else ""
    missing = list(missing_tables)
    return _bullets([
        f"The data holds **{plural(customers, 'customer')}** who placed **{plural(orders, 'order')}** worth "
        f"**{money(revenue, currency)}**{period}{months}.",
        f"**{_pct(repeat_customer_share)}** of customers ordered more than once; the others bought a single time."
        if _ok(repeat_customer_share) else None,
        f"An average order is worth **{money(revenue / orders, currency)}**, and a customer has placed "
        f"{orders / customers:.1f} orders on average." if orders and customers else None,
        (f"The cleaning kept **all {_n(rows_kept)} order lines** read." if rows_kept == rows_read else
         f"The cleaning kept **{_n(rows_kept)} of {_n(rows_read)} order lines** ({_n(rows_read - rows_kept)} removed; "
         "the reasons are listed below).") if _ok(rows_read) and _ok(rows_kept) else None,
        f"Not given, so the reports work without them: {', '.join(missing)}." if missing else None,
    ])


def journey_answers(*, stages: list[tuple[str, int]], biggest_drop: tuple[str, str, float] | None = None,
                    steps_below_target: int | None = None, steps_with_target: int | None = None,
                    median_days_to_conversion: float | None = None, top_channel: str | None = None,
                    top_channel_share: float | None = None, names: Mapping[str, str] | None = None) -> str:
    """Answers of 01_journey.

    stages : ``[(stage label, people), ...]`` in journey order.
    biggest_drop : ``(from stage, to stage, share lost in percent)``.
    top_channel, top_channel_share : the channel credited with most conversions (Markov
        removal effect) and its share of them in percent.
    """
    first = stages[0] if stages else None
    flow = " → ".join(f"{label} **{_n(people)}**" for label, people in stages)
    out = [
        f"Of **{plural(first[1], 'person', 'people')}** who reached *{first[0]}*, **{_n(stages[-1][1])}** got to "
        f"*{stages[-1][0]}*: "
        f"{flow}." if first and len(stages) > 1 else
        (f"The journey can be read for one stage only: {first[0]}, **{plural(first[1], 'person', 'people')}**."
         if first else None),
    ]
    if biggest_drop:
        a, b, share = biggest_drop
        out.append(f"The largest share drops out between *{a}* and *{b}*: **{_pct(share)}** of the people at {a} "
                   "do not go on.")
    if _ok(steps_below_target) and _ok(steps_with_target) and steps_with_target:
        out.append("Every step with a target meets it or may meet it (no step is clearly below)."
                   if steps_below_target == 0 else
                   f"**{plural(steps_below_target, 'step')} of {_n(steps_with_target)}** with a target "
                   f"{'is' if steps_below_target == 1 else 'are'} clearly below it: that is where effort pays first.")
    if _ok(median_days_to_conversion):
        out.append(f"Half of the buyers place their first order within **{median_days_to_conversion:.0f} days** of the "
                   "previous stage.")
    if top_channel is not None and _ok(top_channel_share):
        out.append(f"**{display_name(top_channel, names)}** earns the largest share of conversions "
                   f"(**{_pct(top_channel_share)}** by the journey model that asks what would be lost without each channel).")
    return _bullets(out)


def stages_answers(*, buyers: int, at_risk: int, lapsed: int, at_risk_days: int, lapsed_days: int, currency: str,
                   at_risk_revenue: float | None = None, inflow_per_month: float | None = None,
                   lapsing_per_month: float | None = None, at_risk_to_lapsed_pct: float | None = None,
                   lapsed_to_reactivated_pct: float | None = None, active: int | None = None) -> str:
    """Answers of 02_stages: where the buyers stand today and how the base moves.

    ``active``: buyers who are new, active or reactivated (None: buyers - at risk - lapsed).
    Rates in percent per month.
    """
    active = buyers - at_risk - lapsed if active is None else active
    out = [
        f"Of **{_n(buyers)} buyers**, **{_n(active)}** ({_pct(100 * active / buyers)}) bought recently, **{_n(at_risk)}** "
        f"({_pct(100 * at_risk / buyers)}) are at risk (no order for {at_risk_days} to {lapsed_days} days) and "
        f"**{_n(lapsed)}** ({_pct(100 * lapsed / buyers)}) have lapsed (no order for more than {lapsed_days} days)."
        if buyers else "No customer has bought yet.",
    ]
    if _ok(at_risk_revenue) and at_risk:
        out.append(f"The customers at risk have spent **{money(at_risk_revenue, currency)}** so far: they are the ones "
                   "worth contacting before they lapse.")
    if _ok(inflow_per_month) and _ok(lapsing_per_month):
        verb = ("grows" if inflow_per_month > lapsing_per_month else "shrinks" if inflow_per_month < lapsing_per_month
                else "holds steady")
        out.append(f"Each month about **{_n(inflow_per_month)}** customers come in (first orders and returns) and "
                   f"**{_n(lapsing_per_month)}** lapse: the live base {verb}.")
    if _ok(at_risk_to_lapsed_pct):
        out.append(f"**{_pct(at_risk_to_lapsed_pct)}** of the customers at risk lapse within a month"
                   + (f", while only **{_pct(lapsed_to_reactivated_pct, 1)}** of lapsed customers come back in a month: "
                      "winning them back before they lapse is easier." if _ok(lapsed_to_reactivated_pct) else "."))
    return _bullets(out)


def rfm_answers(*, customers: int, shares: Mapping[str, float], champions_revenue_share: float | None = None,
                one_order_share: float | None = None, stayed_share: float | None = None,
                compare_days: int | None = None, largest_segment: tuple[str, float] | None = None,
                names: Mapping[str, str] | None = None) -> str:
    """Answers of 03_rfm. ``shares``: segment -> share of customers in percent (e.g. Champions,
    At Risk, Lost); ``largest_segment``: (segment, share in percent)."""
    out = []
    champions = shares.get("Champions")
    if _ok(champions):
        out.append(f"**{_pct(champions, 1)}** of the {_n(customers)} customers are Champions (bought recently, often and "
                   "for much)" + (f"; they bring **{_pct(champions_revenue_share, 1)}** of revenue." if _ok(
                       champions_revenue_share) else "."))
    if largest_segment and largest_segment[0] not in shares:
        seg, share = largest_segment
        out.append(f"The largest segment is **{display_name(seg, names)}** with **{_pct(share, 1)}** of customers.")
    risk = [(display_name(s, names), v) for s, v in shares.items() if s != "Champions" and _ok(v)]
    if risk:
        out.append("Slipping away: " + ", ".join(f"**{_pct(v, 1)}** {s}" for s, v in risk) + ".")
    if _ok(one_order_share):
        out.append(f"**{_pct(one_order_share)}** of customers have ordered only once: a second order is the first "
                   "thing to win.")
    if _ok(stayed_share) and _ok(compare_days):
        out.append(f"Over the last {compare_days} days **{_pct(stayed_share)}** of customers kept their segment.")
    return _bullets(out)


def churn_answers(*, window_days: int, currency: str, monthly_churn_pct: float | None = None,
                  repeat_after_1st_pct: float | None = None, repeat_after_2nd_pct: float | None = None,
                  at_risk_customers: int | None = None, at_risk_revenue: float | None = None,
                  model_auc: float | None = None, recency_auc: float | None = None,
                  customers_kept: float | None = None, extra_margin: float | None = None,
                  reduction_pct: float | None = None, horizon_months: int | None = None,
                  repeat_trend: str | None = None) -> str:
    """Answers of 04_churn: the churn definition and rate, who is at risk, what keeping them is worth.

    ``repeat_trend``: the repeat-purchase verdict (``RepeatVerdict.trend``); only ``increasing``
    (a significant rise) says the second order is the one to win.
    """
    out = [
        f"A customer counts as gone after **{window_days} days** without an order"
        + (f"; each month about **{_pct(monthly_churn_pct, 1)}** of the live customers (an order within that window) go that quiet." if _ok(
            monthly_churn_pct) else "."),
    ]
    if _ok(repeat_after_1st_pct):
        rises = repeat_trend in (None, "increasing")  # None: a caller without the verdict (as before)
        out.append(f"Only **{_pct(repeat_after_1st_pct)}** of first-time buyers order again within {window_days} days"
                   + ((f", but **{_pct(repeat_after_2nd_pct)}** after a second order: the second order is the one to win."
                       if rises else
                       f", and **{_pct(repeat_after_2nd_pct)}** after a second order (too close to call a difference).")
                      if _ok(repeat_after_2nd_pct) else "."))
    # a model that ranks no better than a coin or than sorting by days since the last order: its list is not news
    weak = _ok(model_auc) and (model_auc < 0.5 or (_ok(recency_auc) and model_auc <= recency_auc))
    if weak:
        base = (f", against {100 * recency_auc:.0f} % for simply sorting by days since the last order"
                if _ok(recency_auc) else "")
        out.append(f"The churn model **cannot be trusted** on this data: it picks the customer who leaves out of a pair "
                   f"(one who leaves, one who stays) only **{100 * model_auc:.0f} %** of the time{base}"
                   + (f"; its list of {plural(at_risk_customers, 'customer')} is no better than that sorting: use the "
                      "lifecycle state *at risk* instead." if _ok(at_risk_customers) and at_risk_customers else "."))
    elif _ok(at_risk_customers):
        one = at_risk_customers == 1
        out.append((f"**{plural(at_risk_customers, 'high-value customer')}** who {'is' if one else 'are'} still active "
                    f"{'is' if one else 'are'} likely to leave"
                    + (f"; {'this customer' if one else 'they'} bought **{money(at_risk_revenue, currency)}** in the "
                       "last 12 months" if _ok(
                        at_risk_revenue) else "")
                    + " (the list is below and in the exports).") if at_risk_customers else
                   "No high-value active customer is likely enough to leave to be listed.")
    if _ok(model_auc) and not weak:
        base = (f", against {100 * recency_auc:.0f} % for simply sorting by days since the last order"
                if _ok(recency_auc) else "")
        out.append(f"The churn model picks the customer who leaves out of a pair (one who leaves, one who stays) "
                   f"**{100 * model_auc:.0f} %** of the time{base}.")
    if _ok(customers_kept) and customers_kept >= 1 and _ok(extra_margin) and _ok(reduction_pct):
        out.append(f"**{reduction_pct:.0f} % less churn** would keep about **{plural(round(customers_kept), 'more customer')}** and "
                   f"**{money(extra_margin, currency)}** more gross margin"
                   + (f" over {horizon_months} months." if _ok(horizon_months) else "."))
    return _bullets(out)


def clv_answers(*, currency: str, horizon_months: int, mean_clv: float | None = None, total_clv: float | None = None,
                simple_clv: float | None = None, blended_cac: float | None = None, model_status: str | None = None,
                holdout_error_pct: float | None = None, threshold: float | None = None,
                worst: tuple[str, float] | None = None, best: tuple[str, float] | None = None,
                channels_below: int | None = None, names: Mapping[str, str] | None = None,
                losing: Sequence[tuple[str, float]] | None = None) -> str:
    """Answers of 05_clv: what a customer is worth, whether the model can be trusted, which
    channels pay back. ``worst`` / ``best``: ``(channel, CLV:CAC ratio)`` of paid channels;
    ``losing``: every paid channel below 1:1, worst first (all are named, not only the worst)."""
    out = []
    if _ok(mean_clv):
        out.append(f"An average customer is expected to bring **{money(mean_clv, currency)}** of gross margin in the next "
                   f"{horizon_months} months (today's value), **{money(total_clv, currency)}** for the whole base."
                   if _ok(total_clv) else
                   f"An average customer is expected to bring **{money(mean_clv, currency)}** in the next "
                   f"{horizon_months} months.")
    if _ok(simple_clv) and _ok(blended_cac):  # simple_clv is after the cost of winning the customer
        out.append(f"By the textbook formula a customer brings **{money(simple_clv + blended_cac, currency)}** of "
                   f"margin over their lifetime; after the **{money(blended_cac, currency)}** spent on average to win "
                   + (f"one, **{money(simple_clv, currency)}** is left." if simple_clv >= 0 else
                      f"one, each customer **loses {money(-simple_clv, currency)}**."))
    if model_status:
        words = {"ok": "can be trusted", "weak": "should be read with care", "unusable": "cannot be trusted"}
        out.append(f"The purchase forecast {words.get(model_status, model_status)}"
                   + (f": on months it had not seen, it missed the real number of repeat purchases by "
                      f"**{abs(holdout_error_pct):.1f} %**." if _ok(holdout_error_pct) else "."))
    if losing and len(losing) > 1:
        named = [f"**{display_name(c, names)}** ({r:.2f} {currency})" for c, r in losing]
        out.append(f"{', '.join(named[:-1])} and {named[-1]} **lose money**: each {currency} spent to win a customer "
                   "there brings back less than 1 " + f"{currency} of expected customer value (shown in brackets).")
    elif worst and _ok(worst[1]):
        ch, ratio = display_name(worst[0], names), worst[1]
        lead = f"**{ch} loses money**:" if ratio < 1 else f"**{ch}** pays back least:"
        out.append(f"{lead} each {currency} spent to win a customer there brings back **{ratio:.2f} {currency}** "
                   "of expected customer value.")
    if best and _ok(best[1]) and (not worst or best[0] != worst[0]):
        out.append(f"**{display_name(best[0], names)}** pays back best: **{best[1]:.2f} {currency}** per {currency} spent"
                   + (f"; {plural(channels_below, 'paid channel')} earn{'s' if channels_below == 1 else ''} back "
                      f"less than {threshold:g} times their cost: move budget toward the channels that pay back." if _ok(channels_below) and
                      channels_below and _ok(threshold) else "."))
    return _bullets(out)


def experiments_answers(*, experiments: int, customers: int | None = None,
                        verdicts: Iterable[tuple[str, str, str | None]] = (),
                        best_lift: tuple[str, float, float, float] | None = None,
                        not_started: str | None = None) -> str:
    """Answers of 06_experiments.

    verdicts : ``[(experiment, verdict, variant to ship or None), ...]``.
    best_lift : ``(what: "experiment, variant vs control", lift, low, high)`` in percentage points.
    not_started : the analysis date in words (``data_to``) when the data has an experiments table
        but no assignment before it: nothing to analyse yet.
    """
    if not experiments and not_started:
        return _bullets([f"No experiment had started by the analysis date ({not_started}): every assignment "
                         "in the experiments table is later, so there is nothing to evaluate yet.",
                         "Run the reports with a later analysis date to judge the tests."])
    if not experiments:
        return _bullets(["No experiment was analysed: the data has no experiments table.",
                         "Add one (customer, experiment, variant, assignment time) to see which tests worked.",
                         "The other reports do not need it."])
    verdicts = list(verdicts)
    counts = {}
    for _, v, _ in verdicts:
        counts[v] = counts.get(v, 0) + 1
    out = [f"**{plural(experiments, 'experiment')}** analysed"
           + (f" with **{_n(customers)} customers**" if _ok(customers) else "") + ": "
           + ", ".join(f"{n} to {v}" for v, n in counts.items()) + "." if counts else
           f"**{plural(experiments, 'experiment')}** analysed."]
    for name, verdict, variant in verdicts[:3]:
        out.append(f"**{name}**: **{verdict.upper()}**" + (f" - roll out {variant}." if verdict == "ship" and variant
                                                          else "."))
    if best_lift and all(_ok(x) for x in best_lift[1:]):
        what, lift, low, high = best_lift
        sure = ("the whole range is above zero, so the rise is real" if low > 0 else
                "the range includes zero, so it may be chance")
        out.append(f"The largest change in the share of customers who buy: **{lift:+.1f} points** ({what}); the true "
                   f"change lies between {low:+.1f} and {high:+.1f} points with 95 % confidence: {sure}.")
    return _bullets(out)


#: Said in 07 when report 04's churn model ranked customers no better than the days since their last order.
UNTRUSTED_CHURN_MODEL = ("in this run the churn model ranked customers no better than simply sorting them by days "
                         "since their last order (report 04), so order the list by days since the last order, not "
                         "by the churn flag")


def scores_answers(*, customers: int, at_risk_state: int, at_risk_rfm: int, campaign_list: int,
                   at_risk_model: int | None = None, both_all: int | None = None, vip_lapsed: int | None = None,
                   due_30_days: int | None = None, base_clv: float | None = None, currency: str = "",
                   model_beats_recency: bool | None = None) -> str:
    """Answers of 07_customer_scores: one table per customer, the at-risk definitions, the list.

    ``model_beats_recency``: report 04's verdict (its ``churn_scores`` column of that name); False
    (the churn model ranked customers no better than days since the last order) says so instead of
    calling the customers at risk by every definition the surest picks; None: not known (no churn model).
    """
    out = [
        (f"One row for each of the **{_n(customers)} buyers**" if customers != 1 else "One row for the **1 buyer**")
        + ": lifecycle state, RFM segment, churn and value scores "
        "side by side (exported as `customer_scores.csv`).",
        f"Customers at risk by each definition: **{_n(at_risk_state)}** by lifecycle state (no recent order), "
        f"**{_n(at_risk_rfm)}** by RFM segment"
        + (f", **{_n(at_risk_model)}** by the churn model" if _ok(at_risk_model) else "") + ".",
    ]
    untrusted = model_beats_recency is not None and not model_beats_recency
    if _ok(both_all):
        out.append(f"**{_n(both_all)}** {'is' if both_all == 1 else 'are'} at risk by every definition"
                   + (f", but {UNTRUSTED_CHURN_MODEL}." if untrusted else ": the surest picks."))
    elif untrusted:
        out.append(UNTRUSTED_CHURN_MODEL[:1].upper() + UNTRUSTED_CHURN_MODEL[1:] + ".")
    out.append(f"The campaign list holds **{plural(campaign_list, 'customer')}** (at risk by lifecycle state), most valuable "
               "first.")
    if _ok(vip_lapsed):
        out.append("No Champion or Loyal Customer is at risk or lapsed: the definitions agree on the best customers."
                   if vip_lapsed == 0 else
                   (f"**{_n(vip_lapsed)}** Champions or Loyal Customers are at risk or lapsed: their RFM recency does "
                    "not follow the lifecycle states, so the segment names overstate them." if vip_lapsed != 1 else
                    "**1** Champion or Loyal Customer is at risk or lapsed: its RFM recency does not follow the "
                    "lifecycle states, so the segment name overstates it."))
    if _ok(due_30_days) and due_30_days:
        out.append(f"**{plural(due_30_days, 'customer')}** {'is' if due_30_days == 1 else 'are'} due to order again "
                   "in the next 30 days by their own rhythm "
                   "(expected next order).")
    if _ok(base_clv):
        out.append(f"The purchase model values the customer base at **{base_clv:,.0f} {currency}**".rstrip()
                   + " of discounted margin over the CLV horizon.")
    return _bullets(out)
