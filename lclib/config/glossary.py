"""The words the reports use, each with one definition (the glossary of the run index).

Every report uses these names; ``index.html#glossary-<key>`` is each entry's anchor. A
definition may name the run's own thresholds in braces (``{at_risk_days}``), filled by
:func:`glossary_entries` from the run's recorded numbers and configuration; a threshold the
run did not record is said as "set in the configuration".
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

#: key -> (term, definition). Keys are anchors: lowercase, hyphens.
GLOSSARY: dict[str, tuple[str, str]] = {
    "new": ("New / reactivated customer",
            "A customer whose first (new) or first-after-lapsing (reactivated) order was less than "
            "{new_days} days ago."),
    "active": ("Active customer", "A customer who ordered less than {at_risk_days} days ago and is not new or "
                                  "reactivated."),
    "at-risk": ("At risk (lifecycle)",
                "No order for {at_risk_days} days or more but fewer than {lapsed_days}: past "
                "the usual purchase cycle, not yet lapsed. The campaign list of report 07 uses this definition."),
    "lapsed": ("Lapsed / churned customer",
               "No order for {lapsed_days} days or more: the churn inactivity window, so lapsed "
               "and churned are the same customers."),
    "live-base": ("Live customer base", "New, active, reactivated and at-risk customers: everyone who has not lapsed."),
    "stock-flow": ("Stock and flow",
                   "A stock counts customers in a state at a date (a month end); a flow counts customers who moved "
                   "during a period (joined, came back, lapsed). Flows add up to the change of the stock."),
    "at-risk-rfm": ("At risk (RFM segments)",
                    "Customers in the RFM segments At Risk or Can't Lose Them: they bought often or spent much but "
                    "are at risk or lapsed in the lifecycle sense."),
    "at-risk-model": ("At risk (churn model)",
                      "Customers who ordered within the churn window and whose churn probability is at least "
                      "{at_risk_min_probability:.0%}."),
    "repeat-rate": ("Repeat rate", "Share of customers with a second order."),
    "cohort-retention": ("Cohort retention",
                         "Share of a first-purchase cohort (customers whose first order fell in one month) buying "
                         "again in a later month."),
    "churn-rate": ("Monthly churn rate",
                   "Share of the live customers at the start of a month (an order in the last {lapsed_days} days) "
                   "whose silence passes the churn window during that month. Not the textbook CLV's yearly "
                   "non-return, which counts one year's buyers with no order the next year."),
    "textbook-clv": ("Textbook CLV",
                     "Margin per customer per year x expected lifetime in years - acquisition cost (CAC); not "
                     "discounted. The lifetime is 1 / the yearly non-return: the share of one year's buyers with no "
                     "order the next year (a different measure from the monthly churn rate)."),
    "predicted-clv": ("Predicted CLV",
                      "The margin a customer is expected to bring over the next {horizon_months} months, "
                      "from the purchase model (BG/NBD family) and the spend model (Gamma-Gamma), "
                      "discounted at {discount_rate_annual:.0%} a year."),
    "p-alive": ("P(alive)", "The purchase model's probability that a customer still buys from the shop at all."),
    "cac": ("CAC", "Acquisition cost: marketing spend of a channel divided by the new customers it brought."),
    "assumed-default": ("Assumed default",
                        "A target, margin or threshold the configuration does not set: lclib's default is used and "
                        "the reports say so. The Settings section lists every value used."),
}


class _Values(dict):
    def __missing__(self, key: str) -> Any:
        raise KeyError(key)


def glossary_entries(metrics: Mapping[str, Mapping[str, Any]] | None,
                     config: Mapping[str, Any] | None) -> list[dict[str, str]]:
    """The glossary with the run's thresholds filled in: ``[{key, term, definition}]``.

    Examples
    --------
    >>> rows = glossary_entries({"02_stages": {"states_at_risk_days": 31, "states_lapsed_days": 153}}, {})
    >>> [r["definition"] for r in rows if r["key"] == "at-risk"][0][:55]
    'No order for 31 days or more but fewer than 153: past t'
    >>> [r["definition"] for r in rows if r["key"] == "new"][0][:80]
    'A customer whose first (new) or first-after-lapsing (reactivated) order was less'
    """
    metrics, config = metrics or {}, config or {}
    states = metrics.get("02_stages", {})
    values = _Values({
        "new_days": states.get("states_new_days"), "at_risk_days": states.get("states_at_risk_days"),
        "lapsed_days": states.get("states_lapsed_days"),
        "at_risk_min_probability": (config.get("churn") or {}).get("at_risk_min_probability"),
        "horizon_months": (config.get("clv") or {}).get("horizon_months"),
        "discount_rate_annual": (config.get("clv") or {}).get("discount_rate_annual"),
    })
    out = []
    for key, (term, text) in GLOSSARY.items():
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f}
        known = {f: values.get(f) for f in fields}
        if all(v is not None for v in known.values()):
            definition = text.format(**known)
        else:  # a threshold this run did not record: name its setting instead of a number
            definition = string.Formatter().vformat(
                text.replace(":.0%}", "}"), (), {f: (v if v is not None else "the configured number of")
                                                  for f, v in known.items()})
        out.append({"key": key, "term": term, "definition": definition})
    return out
