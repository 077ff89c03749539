"""The headline catalogue: the few numbers a run opens with, and what the rest are.

Every notebook records its numbers with :func:`lclib.report.record.record`; the run index
(``index.html``) and ``run.json`` sort them into three kinds:

- ``headline``: the 5-8 numbers that matter (:data:`HEADLINES`), shown first, each with its
  definition in words and its change since the previous successful run;
- ``setting``: a setting echoed back (a threshold the report used, :data:`SETTINGS`), shown in
  the configuration section, never as a result;
- ``detail``: everything else, shown per report, collapsed.

:data:`ACTIONS` are the recommended actions the index derives from the recorded numbers. This
module is data only (the bottom layer imports nothing of lclib); ``lclib.report.summary``
evaluates it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

#: How a headline value is written: ``count`` (1,862), ``money`` (132,719 EUR, in the unit the
#: notebook recorded: the run's currency), ``percent`` (45.1 %; its change is in points).
Format = Literal["count", "money", "percent"]


@dataclass(frozen=True)
class Headline:
    """One headline number of the run index.

    notebook, name : where the number is recorded (notebook stem, metric name).
    label : plain words, a few of them ("Customers at risk").
    short : a column title for ``lclib runs`` (at most 10 characters).
    definition : one sentence saying what is counted; ``{name}`` fields are filled with
        other numbers recorded by the same notebook (e.g. thresholds), ``{section.key}``
        fields with the run's configuration, as plain numbers.
    good : ``"up"`` when a higher value is better, ``"down"`` when a lower one is.
    fmt : see :data:`Format`.
    settings : dotted configuration keys or sections (``"clv."``) that change what the number
        counts; with one of them changed since the previous run the change is a change of
        definition, not better or worse (:data:`COMMON_SETTINGS` apply to every headline).
    """

    notebook: str
    name: str
    label: str
    short: str
    definition: str
    good: Literal["up", "down"]
    fmt: Format
    settings: tuple[str, ...] = ()


#: Settings every headline depends on: the analysis date, the currency, how the inputs are read and cleaned.
COMMON_SETTINGS: tuple[str, ...] = ("analysis.as_of", "analysis.currency", "inputs.")


#: The numbers that matter, in the order the index shows them.
HEADLINES: tuple[Headline, ...] = (
    Headline("00_data_overview", "revenue", "Revenue", "revenue",
             "Value of all orders kept after cleaning, placed before the analysis date.", "up", "money"),
    Headline("00_data_overview", "customers", "Customers", "customers",
             "Customers with at least one order before the analysis date.", "up", "count"),
    Headline("00_data_overview", "repeat_customer_share", "Repeat customers", "repeat %",
             "Share of customers who ordered more than once.", "up", "percent"),
    Headline("01_journey", "kpi_conversion", "Conversion rate", "convert %",
             "Share of the people in the journey's acquisition stage (with the shipped stages: signed up or "
             "put something in a cart) who went on to a first order.", "up", "percent", ("journey.",)),
    Headline("04_churn", "monthly_churn_rate", "Monthly churn", "churn %",
             "Share of live customers (an order in the last {inactivity_window_days} days) lost each month, "
             "averaged over the last 12 complete months, or fewer when the data are shorter (a customer is lost "
             "after {inactivity_window_days} days without an order).", "down", "percent", ("churn.",)),
    Headline("02_stages", "state_at_risk", "Customers at risk", "at risk",
             "Buyers whose last order was {states_at_risk_days} to {states_lapsed_days} days ago: still "
             "customers, but slipping away.", "down", "count", ("states.",)),
    Headline("05_clv", "mean_clv", "Expected margin per customer", "CLV",
             "The gross margin (not the spend) an average customer is expected to bring in the next "
             "{clv.horizon_months} months: predicted CLV of the purchase and spend models, discounted.", "up", "money",
             ("clv.", "analysis.margin")),
    Headline("05_clv", "blended_cac", "Cost to win a customer", "CAC",
             "All marketing spend divided by the new customers it brought (blended acquisition cost).",
             "down", "money", ("clv.cac_basis",)),
)

#: Settings a notebook echoes back (thresholds it used, configured or derived from the data):
#: shown with the configuration, not as results.
SETTINGS: frozenset[tuple[str, str]] = frozenset({
    ("02_stages", "states_new_days"),
    ("02_stages", "states_at_risk_days"),
    ("02_stages", "states_lapsed_days"),
    ("04_churn", "inactivity_window_days"),
    ("04_churn", "what_if_reduction"),
    ("05_clv", "purchase_model"),
    ("05_clv", "holdout_days"),
})

Kind = Literal["headline", "setting", "detail", "model"]

_HEADLINE_KEYS = {(h.notebook, h.name) for h in HEADLINES}

#: Fitted model parameters and their intervals and log-likelihoods (``bgnbd_full_r_low``,
#: ``gamma_gamma_cal_loglik``): for analysts, kept in run.json and the analyst report, not
#: among the index's numbers.
MODEL_PARAMETER = re.compile(r"^(bgnbd|mbgnbd|paretonbd|pareto_nbd|gamma_gamma)_(full|cal)_")


def kind_of(notebook: str, name: str) -> Kind:
    """``"headline"``, ``"setting"``, ``"model"`` (a fitted model parameter) or ``"detail"`` for a recorded number."""
    if (notebook, name) in _HEADLINE_KEYS:
        return "headline"
    if (notebook, name) in SETTINGS:
        return "setting"
    if MODEL_PARAMETER.match(name):
        return "model"
    return "detail"


@dataclass(frozen=True)
class Action:
    """A recommended action, shown when its condition holds and every field has a value.

    when : ``(notebook, metric)``: the action applies when that number is above 0.
    text : a sentence or two with ``{field}`` placeholders.
    fields : field -> ``(notebook, metric, fmt)`` with fmt ``count``, ``count:<noun>`` (the
        count and the noun, plural unless 1), ``money``, ``percent``, ``points`` (a difference
        of percentages), ``decimal`` (one decimal), ``ratio``, ``days``, ``text`` (the recorded
        text as it is) or ``label`` (the metric's label); notebook ``"config"`` reads a dotted
        key of the run's configuration (fmt ``ratio`` or ``text``).
    notebook, section : the report it links to, and the start of the heading of the section
        (the link goes to that section when the report has it, else to the report).
    export : a CSV file of ``exports/`` to act on, or None.
    """

    key: str
    when: tuple[str, str]
    text: str
    fields: dict[str, tuple[str, str, str]]
    notebook: str
    section: str
    export: str | None = None
    title: str = field(default="")


#: Candidate actions, most important first; the index shows the first 5 that apply.
ACTIONS: tuple[Action, ...] = (
    Action(
        "win_back_at_risk", ("02_stages", "state_at_risk"),
        "{at_risk} buyers ({at_risk_share} of all buyers) have not ordered for {at_risk_days} to "
        "{lapsed_days} days; they have spent {at_risk_revenue} so far. Contact them before they lapse: the "
        "campaign list holds them, most valuable first, with the RFM segment and the churn model's flag beside each.",
        {"at_risk": ("02_stages", "state_at_risk", "count"),
         "at_risk_share": ("02_stages", "at_risk_share_of_buyers", "percent"),
         "at_risk_days": ("02_stages", "states_at_risk_days", "count"),
         "lapsed_days": ("02_stages", "states_lapsed_days", "count"),
         "at_risk_revenue": ("02_stages", "at_risk_revenue_to_date", "money")},
        "07_customer_scores", "The campaign list", "at_risk_campaign.csv",
        title="Win back customers at risk",
    ),
    Action(
        "rebalance_channels", ("05_clv", "channels_below_threshold"),
        "{below} earn back less than {threshold} times what it costs to win a customer there (expected "
        "customer value divided by acquisition cost). {worst_label}: {worst}; {best_label}: {best}. Move "
        "acquisition budget toward the channels that pay back.",
        {"below": ("05_clv", "channels_below_threshold", "count:paid channel"),
         "threshold": ("config", "clv.clv_cac_threshold", "ratio"),
         "worst_label": ("05_clv", "clv_cac_worst", "label"),
         "worst": ("05_clv", "clv_cac_worst", "ratio"),
         "best_label": ("05_clv", "clv_cac_best", "label"),
         "best": ("05_clv", "clv_cac_best", "ratio")},
        "05_clv", "Which channels earn back their acquisition cost", "clv_cac_by_channel.csv",
        title="Shift spend to channels that pay back",
    ),
    Action(
        "improve_stage", ("04_churn", "best_stage_extra_revenue"),
        "Improving {stage} would have brought about {extra} more revenue over the period of the data, more "
        "than any other journey stage. The most people are lost at {step} ({lost} people).",
        {"stage": ("04_churn", "best_stage_to_improve", "text"),
         "extra": ("04_churn", "best_stage_extra_revenue", "money"),
         "step": ("04_churn", "biggest_dropoff_step", "text"),
         "lost": ("04_churn", "biggest_dropoff_lost", "count")},
        "04_churn", "Which stage is worth improving most", "journey_conversion_by_channel.csv",
        title="Fix the weakest journey stage",
    ),
    Action(
        "ship_experiment", ("06_experiments", "experiments_ship"),
        "{ship} earned the verdict 'ship'. {lift_label}: {lift} (95 % interval {low} to {high} "
        "points). Roll the winning variant out.",
        {"ship": ("06_experiments", "experiments_ship", "count:experiment"),
         "lift_label": ("06_experiments", "best_lift_pts", "label"),
         "lift": ("06_experiments", "best_lift_pts", "points"),
         "low": ("06_experiments", "best_lift_low_pts", "decimal"),
         "high": ("06_experiments", "best_lift_high_pts", "decimal")},
        "06_experiments", "Verdict", "experiment_verdicts.csv",
        title="Roll out the test that worked",
    ),
    Action(
        "second_order", ("03_rfm", "one_order_share"),
        "{one_order} of customers have ordered only once. Of first-time buyers {after_first} order again "
        "within {window} days, but {after_second} after a second order. Give first-time buyers a reason "
        "to order again soon: the step to a second order is where most customers are lost.",
        {"one_order": ("03_rfm", "one_order_share", "percent"),
         "after_first": ("04_churn", "repeat_p_after_1st", "percent"),
         "after_second": ("04_churn", "repeat_p_after_2nd", "percent"),
         "window": ("04_churn", "inactivity_window_days", "count")},
        "04_churn", "Does each purchase make the next one more likely", "rfm_customers.csv",
        title="Turn first orders into second ones",
    ),
    Action(
        "keep_champions", ("03_rfm", "share_champions"),
        "Champions are {share} of customers and bring {revenue_share} of revenue: keep them close "
        "(early access, thanks, no discounts they do not need).",
        {"share": ("03_rfm", "share_champions", "percent"),
         "revenue_share": ("03_rfm", "champions_revenue_share", "percent")},
        "03_rfm", "What should we do with each segment", "rfm_vip.csv",
        title="Keep the best customers close",
    ),
)

#: At most this many actions are shown.
MAX_ACTIONS = 5
