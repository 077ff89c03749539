"""The findings of the CLV report (05_clv), each with the sentence that says it.

Every question of the report is answered by one call here: what a customer costs
(:func:`acquisition_costs`), what the textbook formula says (:func:`textbook_clv_finding`),
which purchase model is used and how well it reproduces the purchases seen
(:func:`choose_purchase_model`), whether it predicted the holdout window
(:func:`holdout_finding`), what the spend model says (:func:`fit_spend_model`), what each
customer is worth (:func:`score_customers`, :func:`customer_value_finding`), where the value
sits (:func:`value_by_group`) and which channels pay back (:func:`channel_payback`); then the
numbers the notebook records (:func:`headline_numbers`, :func:`model_details`).

Each returns a small dataclass: the values it found and ``sentence``, the finding in words
(Markdown, numbers already formatted, names from the data put in as they are: the notebook
shows it with ``say()``, which escapes it). Pure: tables and values in, values and text out;
nothing here records, displays or writes a file. Money is written as the report's headline
numbers are (:func:`money_text`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lclib.analysis import cac
from lclib.analysis.clv.fitting import (
    MODEL_NAMES, FitResult, fit_bgnbd_robust, fit_gamma_gamma, spend_frequency_correlation,
)
from lclib.analysis.clv.prediction import (
    UndefinedPredictionError, clv_intervals, new_customer_purchases, predict_customers,
)
from lclib.analysis.clv.tables import clv_by_group, fit_metrics
from lclib.analysis.clv.trust import (
    HoldoutCheck, TrustLimits, Verdict, choose_on_holdout, combine, judge_fit, judge_holdout, judge_predictions,
    missing_numbers, model_comparison_table, span_days, span_text,
)
from lclib.analysis.clv.validation import (
    HoldoutValidation, ValueHoldout, default_calibration_end, holdout_validation, repeat_count_fit,
    value_holdout_check,
)
from lclib.analysis.wording import display_name, money
from lclib.engine.contracts import UNIT_DAYS
from lclib.io.columns import CUSTOMER_ID, DATE

#: The row of :func:`~lclib.analysis.clv.simple.simple_clv_by_channel` for the whole base.
ALL = "All customers"
#: How the purchase model counts purchases (``clv.count_by``), for a headline's label.
COUNTED = {"D": "orders on one day count once", "W": "orders in one week count once", "order": "each order counts"}


def money_text(value: float, currency: str) -> str:
    """An amount as the report writes it: rounded to cents, then ``1,234 EUR`` or ``12.35 EUR``; ``n/a`` if undefined.

    Examples
    --------
    >>> money_text(1234.567, "EUR"), money_text(12.345, "EUR"), money_text(float("nan"), "EUR")
    ('1,235 EUR', '12.35 EUR', 'n/a')
    """
    value = float(value)
    return money(round(value, 2), currency) if np.isfinite(value) else "n/a"


def _names(names: Mapping[str, str] | None):
    return lambda value: display_name(value, names)


def _paragraphs(*parts: str) -> str:
    """Sentences that the report shows as separate paragraphs (empty ones left out)."""
    return "\n\n".join(p for p in parts if p)


# ----------------------------------------------------------------------------- what a customer costs


#: Said when the data have no spend table.
NO_SPEND = ("No spend table was provided, so acquisition cost cannot be computed: CLV below is shown "
            "before acquisition cost and the CLV:CAC comparison is skipped. Add a spend table "
            "(date, channel, amount) to the configuration's inputs to get it.")


@dataclass
class AcquisitionCosts:
    """What it costs to win a customer, per channel (see :func:`acquisition_costs`).

    Attributes
    ----------
    table : :func:`lclib.analysis.cac.cac_by_channel` output, or None without a spend table.
    blended : all spend / all new customers (NaN without a spend table or without new customers).
    paid_blended : the same over the channels with spend.
    signed_up_early : new customers who signed up before the transactions start.
    sentence : the finding in words.
    """

    table: pd.DataFrame | None
    blended: float
    paid_blended: float
    signed_up_early: int
    sentence: str

    @property
    def cac_per_channel(self) -> pd.Series:
        """Each channel's known CAC, with ``All customers`` = the blended CAC when it is known
        (the ``cac`` of :func:`~lclib.analysis.clv.simple.simple_clv_by_channel`)."""
        out = self.table["cac"].dropna() if self.table is not None else pd.Series(dtype=float)
        if np.isfinite(self.blended):
            out[ALL] = self.blended
        return out

    @property
    def known(self) -> bool:
        """True when some acquisition cost is known (a channel's or the blended one)."""
        return not self.cac_per_channel.empty


def last_complete_month(last_day) -> pd.Period:
    """The last calendar month that ends on or before ``last_day`` (the last day counted).

    Examples
    --------
    >>> last_complete_month("2024-04-05"), last_complete_month("2024-03-31")
    (Period('2024-03', 'M'), Period('2024-03', 'M'))
    """
    day = pd.Timestamp(last_day)
    month = day.to_period("M")
    return month if (day + pd.Timedelta(days=1)).to_period("M") != month else month - 1


def acquisition_costs(spend: pd.DataFrame | None, acquired: pd.DataFrame, customers: pd.DataFrame | None = None, *,
                      data_start=None, currency: str = "", names: Mapping[str, str] | None = None,
                      last_day=None) -> AcquisitionCosts:
    """CAC per channel over the months of the spend table, blended, and what the numbers mean.

    With ``last_day`` (the last day the reports count, the day before the analysis date) spend
    and new customers are counted over whole months up to the last month that ends by then:
    a spend table that runs past the analysis date is cut, and a month the date cuts is left out
    (its spend is a month's, its new customers only part of it). No whole month: no CAC, said.

    Parameters
    ----------
    spend : the spend table (``date``, ``channel``, ``amount``), or None when the data have none.
    acquired : :func:`lclib.analysis.cac.acquisitions` output.
    customers : the customers table, if any (its ``signup_date`` warns of customers counted as
        new who signed up before the transactions start).
    data_start : the first transaction's time.
    currency : for the sentence.
    names : ``display_names`` of the configuration (channels in words).
    last_day : the last day counted (None: every month of the spend table).

    Examples
    --------
    >>> acquisition_costs(None, pd.DataFrame(columns=["channel", "month"])).sentence.split(":")[0]
    'No spend table was provided, so acquisition cost cannot be computed'
    """
    if spend is None:
        return AcquisitionCosts(None, np.nan, np.nan, 0, NO_SPEND)
    end = None
    if last_day is not None:
        months = pd.to_datetime(spend[DATE]).dt.to_period("M")
        end = min(last_complete_month(last_day), months.max())
        if end < months.min():
            return AcquisitionCosts(None, np.nan, np.nan, 0, (
                f"No whole month of marketing spend lies before the analysis date (the spend table starts in "
                f"{months.min():%B %Y}, the data end on {pd.Timestamp(last_day):%d %b %Y}), so acquisition cost "
                "cannot be computed yet."))
    table = cac.cac_by_channel(spend, acquired, end=end)
    blended, paid = cac.blended_cac(table), cac.blended_cac(table, paid_only=True)
    early = cac.signed_up_before(customers, acquired.index, data_start) if data_start is not None else 0
    dn = _names(names)

    def amount(v):
        return money_text(v, currency)

    priced = table.loc[table["status"] == "paid", "cac"]
    free = table.index[table["status"] == "no spend"].tolist()
    sentence = (f"From **{table.attrs['start']:%B %Y}** to **{table.attrs['end']:%B %Y}** "
                f"{amount(table['spend'].sum())} of marketing spend won **{table['new_customers'].sum():,}** "
                f"first-time buyers: a blended CAC of **{amount(blended)}** per customer, **{amount(paid)}** counting "
                f"only the customers of channels with spend. "
                + (f"The most expensive channel is **{dn(priced.idxmax())}** ({amount(priced.max())} per customer), "
                   f"the cheapest **{dn(priced.idxmin())}** ({amount(priced.min())}). " if len(priced) else "")
                + (f"{', '.join(map(dn, free))} had no recorded spend: their CAC is undefined (zero in the simple "
                   "CLV below), which flatters them if they cost staff time or tools. " if free else "")
                + (f"Caution: **{early:,}** of the customers counted as new signed up before the transactions "
                   "start; if they bought before then too (a cut export), they are not new and CAC is understated."
                   if early else ""))
    return AcquisitionCosts(table, blended, paid, early, sentence)


# ----------------------------------------------------------------------------- the textbook formula


@dataclass
class TextbookCLV:
    """The textbook CLV for the report (see :func:`textbook_clv_finding`).

    Attributes
    ----------
    overall : the ``All customers`` row of the textbook table.
    table : the rows and columns the report shows, columns in words.
    formats : the format of each shown column.
    sentence : the finding in words (the period, the formula with this data's numbers, the
        range over channels).
    """

    overall: pd.Series
    table: pd.DataFrame
    formats: dict[str, str]
    sentence: str


def textbook_clv_finding(simple: pd.DataFrame, *, currency: str, margin: float, margin_assumed: bool = False,
                         cac_known: bool = True, by_channel: bool = True,
                         names: Mapping[str, str] | None = None) -> TextbookCLV:
    """What a customer is worth by the textbook formula, in a table and in words.

    Parameters
    ----------
    simple : :func:`~lclib.analysis.clv.simple.simple_clv_by_channel` output.
    currency : for the column names and the sentence.
    margin : the margin rate used.
    margin_assumed : True when the margin is lclib's default, not the user's (the sentence asks
        for the real one).
    cac_known : False without any acquisition cost: the table leaves out CAC and CLV, and the
        sentence says that CAC counts as 0.
    by_channel : False when no acquisition channel is known: the table shows the whole base only.
    names : ``display_names`` of the configuration (channels in words).
    """
    overall = simple.loc[ALL]
    dn = _names(names)
    period = simple.attrs["period_days"]
    buyers = "Buyers in the previous year" if period == 365 else f"Buyers in the previous {period} days"
    columns = {"active_previous": buyers, "retention_rate": "Bought again (%)",
               "expected_lifetime_years": "Expected lifetime (years)",
               "annual_margin_per_customer": f"Margin per customer per year ({currency})",
               "value_before_cac": f"Value before CAC ({currency})", "cac": f"CAC ({currency})",
               "clv": f"CLV ({currency})"}
    if not cac_known:  # no spend table: no CAC to subtract (the formula says CLV before acquisition cost)
        columns = {k: v for k, v in columns.items() if k not in ("cac", "clv")}
    rows = simple if by_channel else simple.loc[[ALL]]
    shown = rows[list(columns)].rename(columns=columns).rename_axis("Channel")
    formats = {buyers: "{:,}", "Bought again (%)": "{:.1%}",
               "Expected lifetime (years)": "{:.2f}", **{v: "{:,.2f}" for v in list(columns.values())[3:]}}
    defined = np.isfinite(overall["clv"])
    period_sentence = ("" if period == 365 else
                       f"The data covers less than two years, so retention is measured between two periods of "
                       f"**{period} days**; the expected lifetime is that period divided by the share who did not "
                       "come back, and the margin is scaled to a year.")
    formula = (f"With this data's numbers: **{overall['formula']}**."
               + (f" The margin rate of {margin:.0%} is lclib's **assumed default**, not a figure of this business: "
                  "set the margin in the configuration to your gross margin, as every CLV below scales with it."
                  if margin_assumed else "")
               + (" CAC counts as 0 only because no spend table was given: this is the value before acquisition "
                  "cost." if not cac_known and defined else "")
               + (f" Caveat: {overall['notes']}" if overall["notes"] and defined else ""))
    per_channel = simple.drop(index=ALL)["clv"].dropna()
    spread = ("" if len(per_channel) < 2 else
              f"By acquisition channel the textbook CLV runs from **{money_text(per_channel.min(), currency)}** "
              f"({dn(per_channel.idxmin())}) to **{money_text(per_channel.max(), currency)}** "
              f"({dn(per_channel.idxmax())}). It treats every customer alike and ignores discounting: a benchmark "
              "for the model below.")
    return TextbookCLV(overall, shown, formats, _paragraphs(period_sentence, formula, spread))


# ----------------------------------------------------------------------------- the purchase model


@dataclass
class PurchaseModel:
    """The purchase model the report uses and how well it fits (see :func:`choose_purchase_model`).

    Attributes
    ----------
    fit : the fit on all the data (the one that predicts).
    check : :func:`~lclib.analysis.clv.trust.judge_fit` of it.
    validation : the holdout validation of the same model (None without a holdout window).
    comparison : with ``clv.model: auto``, the models side by side
        (:func:`~lclib.analysis.clv.trust.model_comparison_table`); else None.
    customers, repeat_customers : customers in the summary, and those who bought more than once.
    repeat_counts : model against actual customers by repeat purchases (None when not drawn: the
        fit is unusable or not a BG/NBD-type model).
    sentence : the choice (auto only), the fit's status and its notes, in words.
    counts_sentence : what the repeat-purchase counts show (:func:`repeat_count_sentence`).
    """

    fit: FitResult
    check: Verdict
    validation: HoldoutValidation | None
    comparison: pd.DataFrame | None
    customers: int
    repeat_customers: int
    repeat_counts: pd.DataFrame | None
    sentence: str
    counts_sentence: str

    @property
    def name(self) -> str:
        """The model in words (``BG/NBD``)."""
        return MODEL_NAMES[self.fit.model]

    @property
    def calibration_fit(self) -> FitResult | None:
        """The same model fitted on the calibration window alone (None without a holdout window)."""
        return self.validation.fit if self.validation is not None else None


def calibration_window_end(transactions: pd.DataFrame, calibration_end=None, share: float = 2 / 3) -> pd.Timestamp:
    """The last day of the calibration window: ``clv.calibration_end`` when set, else ``share`` of the way
    through the data (:func:`~lclib.analysis.clv.validation.default_calibration_end`).

    Examples
    --------
    >>> tx = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01", "2024-01-31"])})
    >>> calibration_window_end(tx), calibration_window_end(tx, "2024-01-10")
    (Timestamp('2024-01-21 00:00:00'), Timestamp('2024-01-10 00:00:00'))
    """
    return pd.Timestamp(calibration_end) if calibration_end else default_calibration_end(transactions, share)


def choose_purchase_model(transactions: pd.DataFrame, summary: pd.DataFrame, calibration_end, last_day,
                          limits: TrustLimits, *, model: str = "bgnbd", penalizer: float = 0.0,
                          count_by: str = "D", time_unit: str = "W", min_repeat_customers: int = 50,
                          max_fit_customers: int | None = None, engine: str | None = None) -> PurchaseModel:
    """Fit the purchase model on all the data and on the calibration window; with ``auto``, choose it.

    ``model="auto"``: :func:`~lclib.analysis.clv.fitting.fit_bgnbd_robust` fits the three models;
    each is checked on the holdout window and :func:`~lclib.analysis.clv.trust.choose_on_holdout`
    picks the one that predicted it best (the lowest BIC without holdout evidence); the chosen one
    is refitted when the fit's own pick differs. Its notes about ``auto`` are dropped from
    ``fit.warnings``: the choice is said, with its reason, in ``sentence``.

    Parameters
    ----------
    transactions : order lines up to ``last_day``.
    summary : :func:`lclib.engine.summary.customer_summary` at ``last_day``.
    calibration_end, last_day : last days (inclusive) of the calibration window and of the data;
        no holdout validation when ``calibration_end`` is not before ``last_day``.
    limits : :class:`~lclib.analysis.clv.trust.TrustLimits`.
    model, penalizer, count_by, time_unit, min_repeat_customers, max_fit_customers
        The ``clv`` settings of the same names.
    engine : ``"duckdb"``, ``"spark"`` or ``"pandas"`` of the queries over the lines (the run's ``analysis.engine``;
        None = :func:`lclib.engine.sql.default_engine`).
    """
    options = dict(min_repeat_customers=min_repeat_customers, max_fit_customers=max_fit_customers)
    holdout_options = dict(penalizer=penalizer, count_by=count_by, time_unit=time_unit, summary=summary,
                           engine=engine, **options)
    has_holdout = pd.Timestamp(calibration_end) < pd.Timestamp(last_day)

    def validate(m):
        return holdout_validation(transactions, calibration_end, last_day, model=m, **holdout_options)

    fit = fit_bgnbd_robust(summary, penalizer, model, time_unit=time_unit, **options)
    check = judge_fit(fit, summary, limits, time_unit=time_unit)
    val = validate(fit.model) if has_holdout else None
    table, choice = None, ""
    if fit.comparison is not None:  # clv.model: auto - the holdout decides, BIC only without holdout evidence
        runs = {m: (val if m == fit.model else validate(m)) for m in fit.comparison.index} if val is not None else {}
        checks = {m: judge_holdout(v, limits) for m, v in runs.items()}
        pick, why = choose_on_holdout(fit.comparison, checks)
        comparison = fit.comparison.assign(chosen=fit.comparison.index == pick)
        if pick is not None and pick != fit.model:  # refit the chosen model on all customers
            fit = fit_bgnbd_robust(summary, penalizer, pick, time_unit=time_unit, **options)
            check = judge_fit(fit, summary, limits, time_unit=time_unit)
            val = runs[pick] if pick in runs else validate(pick)
        fit.comparison = comparison
        fit.warnings = [w for w in fit.warnings if "`clv.model: auto`" not in w]  # said in `choice`
        table = model_comparison_table(comparison, checks)
        choice = (why + " The table shows each model's fit (BIC: log-likelihood penalised for its number of "
                  "parameters) and holdout error (blank where the check means nothing).")
    name = MODEL_NAMES[fit.model]
    repeaters = int((summary["frequency"] > 0).sum())
    counts = (repeat_count_fit(fit, summary, time_unit) if check.usable and fit.model in ("bgnbd", "mbgnbd")
              else None)
    sentence = _paragraphs(choice, check.short(plain=True) + ". The verdict on the model, with its holdout check, "
                           "follows two sections below.", *(f"**Note:** {w}" for w in fit.warnings))
    return PurchaseModel(fit, check, val, table, len(summary), repeaters, counts, sentence,
                         repeat_count_sentence(repeaters, len(summary), name, check.status, counts))


def repeat_count_gap(counts: pd.DataFrame) -> float:
    """Share of customers the model puts at another number of repeat purchases than the data do.

    Half the sum of the absolute differences (``model`` - ``actual``), over the customers.

    Examples
    --------
    >>> repeat_count_gap(pd.DataFrame({"actual": [60, 30, 10], "model": [55.0, 35.0, 10.0]}))
    0.05
    """
    return float((counts["model"] - counts["actual"]).abs().sum() / 2 / counts["actual"].sum())


def repeat_count_sentence(repeat_customers: int, customers: int, name: str, status: str,
                          counts: pd.DataFrame | None = None) -> str:
    """How many customers bought again, and how well the model reproduces the counts.

    Parameters
    ----------
    repeat_customers, customers : customers with a repeat purchase, and all.
    name : the model in words.
    status : the fit's status (``ok``, ``weak``, ``unusable``).
    counts : :func:`~lclib.analysis.clv.validation.repeat_count_fit` output, or None when it is
        not drawn (the model is unusable, or has no repeat-count formula).

    Examples
    --------
    >>> repeat_count_sentence(40, 100, "Pareto/NBD", "ok")
    '**40 of 100 customers** bought more than once; Pareto/NBD was fitted.'
    """
    head = f"**{repeat_customers:,} of {customers:,} customers**"
    if status == "unusable":
        return (f"{head} bought more than once. The {name} fit is unusable (above), so its predictions are "
                "**not used** below: the sections that need the model say so, and the channel comparison falls "
                "back on the textbook formula.")
    if counts is None:
        return f"{head} bought more than once; {name} was fitted."
    gap = repeat_count_gap(counts)
    return (f"{head} ({repeat_customers / customers:.0%}) bought more than once. The {name} model reproduces how many "
            f"customers made 0, 1, 2, ... repeat purchases: model and data differ for **{gap:.1%}** of customers, "
            + ("a close fit." if gap < 0.05 and status == "ok" else
               "a close fit of the counts, although that does not make loosely pinned parameters firm." if gap < 0.05
               else "so read its predictions with care."))


def fit_windows_sentence(customers: int, last_day, time_unit: str,
                         validation: HoldoutValidation | None = None) -> str:
    """The unit of the rates and the histories each fit saw (analysts' version).

    Parameters
    ----------
    customers : customers in the fit on all the data; last_day : its last day (inclusive).
    time_unit : ``"D"`` or ``"W"``, the unit of the rates.
    validation : the holdout validation (its calibration customers and window), or None.

    Examples
    --------
    >>> fit_windows_sentence(1200, pd.Timestamp("2025-12-31"), "W")
    "Rates are per week. All data: the 1,200 customers' histories up to **31 December 2025**; no calibration window is left before it."
    """
    unit = {"D": "day", "W": "week"}[time_unit]
    return (f"Rates are per {unit}. All data: the {customers:,} customers' histories up to **{last_day:%d %B %Y}**"
            + (f"; calibration: the {len(validation.per_customer):,} customers who had bought by "
               f"**{validation.calibration_end:%d %B %Y}**, their histories up to that day." if validation is not None
               else "; no calibration window is left before it."))


def estimate_formats(columns) -> dict[str, str]:
    """Formats of a parameter table (:func:`~lclib.analysis.clv.tables.parameter_comparison`): estimates to 4 figures."""
    return {col: "{:.4g}" for col in columns if col.endswith("estimate")}


# ----------------------------------------------------------------------------- the holdout check


@dataclass
class HoldoutFinding:
    """What the holdout check found, in words (see :func:`holdout_finding`).

    Attributes
    ----------
    check : :func:`~lclib.analysis.clv.trust.judge_holdout` output.
    window : the holdout window's length in words (``242 days (35 weeks)``).
    sentence : the finding for every reader.
    analyst_sentence : the calibration fit's parameters and the limits (analysts' version).
    """

    check: HoldoutCheck
    window: str
    sentence: str
    analyst_sentence: str

    @property
    def checked(self) -> bool:
        """True when the check means something (a holdout error is reported)."""
        return self.check.checked


def uneven_group_sentence(by_frequency: pd.DataFrame, min_customers: int = 20, tolerance: float = 0.1) -> str:
    """The group of customers (by calibration repeat purchases) the model predicts worst, if off by more than ``tolerance``.

    Groups of fewer than ``min_customers`` are not judged; "" when the fit is even, or when a
    judged group made no purchase (no relative error).

    Examples
    --------
    >>> groups = pd.DataFrame({"customers": [500, 100, 40], "actual_mean": [0.2, 1.0, 2.0],
    ...                        "predicted_mean": [0.21, 1.05, 1.5]}, index=pd.Index([0, 1, 2], name="frequency_cal"))
    >>> print(uneven_group_sentence(groups))
    By group the fit is less even: for the 40 customers with **2 or more** repeat purchases in the calibration window the model predicted 1.50 purchases each against 2.00 made (**-25%**), so per-customer forecasts for that group - which fills the top of the value list - are less reliable than the total.
    """
    g = by_frequency.loc[by_frequency["customers"] >= min_customers]
    if not len(g) or not (g["actual_mean"] > 0).all():
        return ""
    gap = g["predicted_mean"] / g["actual_mean"] - 1
    k = gap.abs().idxmax()
    if not abs(gap[k]) > tolerance:
        return ""
    top = k == by_frequency.index.max()  # the last bin pools "N or more"
    return (f"By group the fit is less even: for the {g.loc[k, 'customers']:,.0f} customers with "
            f"**{k:.0f}{' or more' if top else ''}** repeat purchases in the calibration window the model predicted "
            f"{g.loc[k, 'predicted_mean']:.2f} purchases each against {g.loc[k, 'actual_mean']:.2f} made "
            f"(**{gap[k]:+.0%}**), so per-customer forecasts for that group"
            + (" - which fills the top of the value list -" if top else "")
            + " are less reliable than the total.")


def holdout_finding(validation: HoldoutValidation | None, limits: TrustLimits, calibration_end, last_day,
                    name: str) -> HoldoutFinding:
    """Does the model predict purchases it has not seen? The check, judged and said.

    Parameters
    ----------
    validation : :func:`~lclib.analysis.clv.validation.holdout_validation` output, or None
        without a holdout window.
    limits : :class:`~lclib.analysis.clv.trust.TrustLimits`.
    calibration_end, last_day : last days (inclusive) of the calibration window and of the data.
    name : the purchase model in words.
    """
    calibration_end = pd.Timestamp(calibration_end)
    hold = judge_holdout(validation, limits, holdout_days=max(0, (pd.Timestamp(last_day) - calibration_end).days))
    window = span_days(hold.days)  # days, with weeks beside them (the index says days too)
    if not hold.checked:
        return HoldoutFinding(
            hold, window,
            f"**No holdout error is reported:** "
            f"{hold.plain_reason.removeprefix('it was not checked on later purchases: ')}. " + hold.finding.plain_advice,
            f"Holdout check: {hold.reason}. {hold.finding.advice}")
    weak = limits.holdout_error_weak_pct
    said = (f"Fitted up to **{calibration_end:%d %B %Y}**, the model predicted **{hold.predicted:,.0f}** repeat "
            f"purchases by these {hold.customers:,} customers in the following {window}; they made "
            f"**{hold.actual:,.0f}**. The aggregate error is **{hold.error_pct:+.1f} %**"
            + (f" - within the {weak:g} % the configuration allows." if hold.status == "ok"
               else f" - more than {weak:g} % off, so treat the forecasts below as rough."))
    fit = validation.fit
    fitted = ", ".join(f"{k} = {v:.3g}" for k, v in fit.params.items())
    if fit.sampled:
        fitted += (f"; fitted on a random sample of {fit.n_customers:,} of the {fit.n_population:,} "
                   "customers, predictions for all of them")
    analyst = (f"Calibration fit ({name}, up to {calibration_end:%d %b %Y}): {fitted}. Holdout window: {hold.days} "
               f"days (at least `clv.min_holdout_weeks` = {limits.min_holdout_weeks:g} weeks and "
               f"`clv.min_holdout_purchases` = {limits.min_holdout_purchases} repeat purchases); error limit "
               f"`clv.holdout_error_weak_pct` = {weak:g} %.")
    return HoldoutFinding(hold, window, _paragraphs(said, uneven_group_sentence(validation.by_frequency)), analyst)


#: The limits :func:`trust_limits_sentence` names.
_LIMIT_KEYS = ("weak_interval_ratio", "unusable_interval_ratio", "min_customers", "min_holdout_weeks",
               "min_holdout_purchases", "holdout_error_weak_pct", "holdout_error_unusable_pct")


def trust_limits_sentence(limits: TrustLimits) -> str:
    """The limits behind the model's status, with their configuration keys (analysts' version).

    Examples
    --------
    >>> trust_limits_sentence(TrustLimits())[:80]
    'Limits (`clv` keys of lclib.yaml): `clv.weak_interval_ratio` = 10, `clv.unusable'
    """
    return "Limits (`clv` keys of lclib.yaml): " + ", ".join(
        f"`clv.{k}` = {getattr(limits, k):g}" for k in _LIMIT_KEYS) + "."


# ----------------------------------------------------------------------------- who is still active


def still_active_sentence(grid: pd.DataFrame | None, time_unit: str = "W") -> str:
    """What the frequency x recency grid says about who is still active.

    Parameters
    ----------
    grid : :func:`~lclib.analysis.clv.validation.frequency_recency_matrix` output, or None when
        the purchase model is unusable.
    time_unit : unit of the grid's ``recency``.

    Examples
    --------
    >>> still_active_sentence(None)
    'Not available: the purchase model is unusable (see above).'
    """
    if grid is None:
        return "Not available: the purchase model is unusable (see above)."
    with_repeat = grid.loc[grid["frequency"] > 0]
    early = with_repeat["recency"].min()
    dormant = with_repeat.loc[with_repeat["recency"] == early, "p_alive"].max()
    recent = with_repeat.loc[with_repeat["recency"] == with_repeat["recency"].max(), "p_alive"].min()
    return ("Customers who bought but not lately are the ones at risk: a customer whose repeat purchases all came in "
            f"their first {span_text(early * UNIT_DAYS[time_unit])} and none since is still active with a "
            f"probability of at most **{dormant:.0%}**, while one who has just bought again is active with at least "
            f"**{recent:.0%}**. One caution: the model lets a customer drop out only after a repeat purchase, so a "
            "one-time buyer always counts as active (the bottom row); their expected purchases are low but not zero, "
            "which lifts segments made of one-time buyers (such as *Lost* or *Hibernating*) in the value charts below.")


# ----------------------------------------------------------------------------- the spend model


@dataclass
class SpendModel:
    """The spend model (Gamma-Gamma) and what it says (see :func:`fit_spend_model`).

    Attributes
    ----------
    fit, calibration_fit : the fits on all the data and on the calibration window (None without one).
    check : :func:`~lclib.analysis.clv.trust.judge_fit` of ``fit``.
    correlation : order value against purchase frequency among repeat customers (NaN: too few).
    observed_order_value : the mean order value in the data.
    value_check : the spend model and the CLV's revenue on the holdout window (None unless the
        holdout check means something).
    sentence : the finding for every reader; analyst_sentence : with the fit's numbers.
    """

    fit: FitResult
    calibration_fit: FitResult | None
    check: Verdict
    correlation: float
    observed_order_value: float
    value_check: ValueHoldout | None
    sentence: str
    analyst_sentence: str

    @property
    def usable(self) -> bool:
        return self.check.usable

    @property
    def order_value_model(self) -> FitResult | float:
        """What values each order: the spend model when usable, else the observed mean order value."""
        return self.fit if self.usable else self.observed_order_value


def fit_spend_model(summary: pd.DataFrame, validation: HoldoutValidation | None, limits: TrustLimits, *,
                    observed_order_value: float, holdout_checked: bool, currency: str = "",
                    penalizer: float = 0.0, min_repeat_customers: int = 50,
                    max_fit_customers: int | None = None) -> SpendModel:
    """Fit Gamma-Gamma on all the data and on the calibration window, judge it, and say what it found.

    Parameters
    ----------
    summary : the customer summary (``frequency``, ``monetary_value``).
    validation : the purchase model's holdout validation (its ``per_customer`` is the
        calibration summary), or None.
    limits : :class:`~lclib.analysis.clv.trust.TrustLimits`.
    observed_order_value : the mean order value (:func:`lclib.analysis.cac.mean_order_value`).
    holdout_checked : True when the purchase model's holdout check means something: only then is
        the spend checked on the holdout window.
    currency : for the sentences.
    penalizer, min_repeat_customers, max_fit_customers : the ``clv`` settings.
    """
    corr, corr_message = spend_frequency_correlation(summary)
    options = dict(min_repeat_customers=min_repeat_customers, max_fit_customers=max_fit_customers)
    gg = fit_gamma_gamma(summary, penalizer, **options)
    gg_cal = fit_gamma_gamma(validation.per_customer, penalizer, **options) if validation is not None else None
    check = judge_fit(gg, summary, limits)
    value_check = (value_holdout_check(validation, gg_cal, currency) if gg_cal is not None and holdout_checked
                   else None)
    if check.usable:
        p, q, v = (gg.params[k] for k in ("p", "q", "v"))
        value = (f"The model puts the average order value at **{money_text(p * v / (q - 1), currency)}** "
                 f"(observed: {money_text(observed_order_value, currency)}).")
    else:
        value = (f"Without a usable spend model every customer is valued at the observed mean order value, "
                 f"**{money_text(observed_order_value, currency)}**.")
    independent = ("" if not np.isfinite(corr) else "Among repeat customers, what a customer spends per order "
                   + ("hardly depends on how often they buy, as the model assumes." if corr_message is None
                      else "moves with how often they buy, against the model's assumption: see the note above."))
    sentence = _paragraphs(check.sentence(plain=True), *(f"**Note:** {w}" for w in gg.warnings), independent, value,
                           value_check.reason if value_check is not None else "")
    analyst = _paragraphs(check.sentence(), f"Order value and purchase frequency correlate at **r = {corr:.2f}** "
                          "among repeat customers." if np.isfinite(corr) else "")
    return SpendModel(gg, gg_cal, check, corr, observed_order_value, value_check, sentence, analyst)


# ----------------------------------------------------------------------------- what each customer is worth


def score_customers(fit: FitResult, order_value: FitResult | float, summary: pd.DataFrame, verdict: Verdict,
                    limits: TrustLimits, *, horizon_months: int, discount_rate_annual: float, margin: float,
                    time_unit: str = "W") -> tuple[pd.DataFrame | None, Verdict]:
    """Each customer's expected purchases and CLV, when the purchase model may be used, and the verdict after.

    Customers whose prediction is undefined are left out and counted
    (:func:`~lclib.analysis.clv.trust.judge_predictions` joins the verdict); when the verdict is
    then unusable, or was already, there are no scores.

    Returns
    -------
    (scores or None, Verdict)
        :func:`~lclib.analysis.clv.prediction.predict_customers` output, and the verdict on the model.
    """
    if not verdict.usable:
        return None, verdict
    scores = predict_customers(fit, order_value, summary, horizon_months, discount_rate_annual, margin, time_unit,
                               undefined="exclude")
    verdict = combine(verdict.subject, verdict, judge_predictions(scores, limits))
    return (scores if verdict.usable else None), verdict


def interval_scope(draws: int, fit: FitResult, order_value: FitResult | float, customers: int,
                   max_customers: int | None) -> str:
    """Which customers get a CLV interval: ``"every"`` customer, the ``"top"`` list only, or ``"none"``.

    None without parameter draws or without the fits' covariance (a fixed order value needs
    none); the top list only above ``max_customers`` (``clv.interval_max_customers``; None: no limit).
    """
    spend_varies = isinstance(order_value, FitResult)
    if not (draws and fit.log_covariance is not None and (not spend_varies or order_value.log_covariance is not None)):
        return "none"
    return "top" if max_customers is not None and customers > max_customers else "every"


def customer_intervals(fit: FitResult, order_value: FitResult | float, summary: pd.DataFrame, *,
                       horizon_months: int, discount_rate_annual: float, margin: float, time_unit: str,
                       draws: int, seed: int, level: float) -> pd.DataFrame | None:
    """:func:`~lclib.analysis.clv.prediction.clv_intervals` of the customers of ``summary``; None when too many
    parameter draws give no prediction."""
    try:
        return clv_intervals(fit, order_value, summary, horizon_months, discount_rate_annual, margin, time_unit,
                             draws=draws, seed=seed, level=level)
    except UndefinedPredictionError:
        return None


def excluded_sentence(scores: pd.DataFrame) -> str:
    """Say how many customers have no prediction ("" when none).

    Examples
    --------
    >>> scores = pd.DataFrame({"clv": [1.0]})
    >>> scores.attrs["excluded"] = 3
    >>> excluded_sentence(scores)[:35]
    '**3 customers are left out** of eve'
    """
    n = scores.attrs.get("excluded", 0)
    return (f"**{n:,} customers are left out** of every number below: the model's formula gives no "
            "prediction for their histories (counted in the status above)." if n else "")


def value_sentence(scores: pd.DataFrame, *, horizon_months: int, discount_rate_annual: float, currency: str,
                   status: str = "ok") -> str:
    """What the base is worth over the horizon: purchases, margin, mean and median, and the top decile's share.

    Examples
    --------
    >>> scores = pd.DataFrame({"clv": [50.0, 30.0, 10.0, 5.0, 5.0], "expected_purchases": [4.0, 2.0, 1.0, 0.5, 0.5]})
    >>> print(value_sentence(scores, horizon_months=12, discount_rate_annual=0.1, currency="EUR", status="weak"))
    **Read these as a rough guide**: the purchase model is weak (see its status above). Over the next **12 months** the 5 customers are expected to make **8** purchases worth **100 EUR** of margin (discounted at 10% a year): **20.00 EUR** per customer on average, median 10.00 EUR. The top 10 % of customers hold **50%** of it.
    """
    total, mean = scores["clv"].sum(), scores["clv"].mean()
    top_decile = scores["clv"].nlargest(max(1, len(scores) // 10)).sum() / total if total > 0 else np.nan
    return (("**Read these as a rough guide**: the purchase model is weak (see its status above). "
             if status == "weak" else "")
            + f"Over the next **{horizon_months} months** the {len(scores):,} customers are expected to make "
            f"**{scores['expected_purchases'].sum():,.0f}** purchases worth **{money_text(total, currency)}** of "
            f"margin (discounted at {discount_rate_annual:.0%} a year): **{money_text(mean, currency)}** per customer "
            f"on average, median {money_text(scores['clv'].median(), currency)}."
            + (f" The top 10 % of customers hold **{top_decile:.0%}** of it." if np.isfinite(top_decile) else ""))


def top_customers_table(scores: pd.DataFrame, transactions: pd.DataFrame, n: int,
                        intervals: pd.DataFrame | None = None, engine: str | None = None) -> pd.DataFrame:
    """The ``n`` customers of highest CLV with their history so far and, when given, their CLV interval.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (highest CLV first); ``first_purchase``, ``last_purchase``,
        ``orders``, ``revenue``, the columns of ``scores`` and, with ``intervals``, ``clv_low``, ``clv_high``.
    """
    best = scores.nlargest(n, "clv")
    spread = intervals[["clv_low", "clv_high"]] if intervals is not None else pd.DataFrame(index=best.index)
    history = cac.first_orders(transactions.loc[transactions[CUSTOMER_ID].isin(best.index)], engine)
    return history[["first_purchase", "last_purchase", "orders", "revenue"]].join(best, how="right").join(spread)


def top_customers_report_table(top: pd.DataFrame, *, currency: str, horizon_months: int, level: float,
                               rows: int = 10) -> tuple[pd.DataFrame, dict[str, str]]:
    """The first ``rows`` of :func:`top_customers_table` with columns in words, and their formats."""
    pct = f"{level:.0%}"
    labels = {"first_purchase": "First purchase", "last_purchase": "Last purchase", "orders": "Orders",
              "revenue": f"Revenue so far ({currency})",
              "expected_purchases": f"Expected purchases, {horizon_months} months",
              "p_alive": "P(still active)", "expected_order_value": f"Expected order value ({currency})",
              "clv": f"CLV, {horizon_months} months ({currency})", "clv_low": f"CLV {pct} low ({currency})",
              "clv_high": f"CLV {pct} high ({currency})"}
    shown = top.head(rows).rename(columns=labels).rename_axis("Customer")
    formats = {"First purchase": "{:%Y-%m-%d}", "Last purchase": "{:%Y-%m-%d}", labels["revenue"]: "{:,.2f}",
               labels["expected_purchases"]: "{:.2f}", "P(still active)": "{:.0%}",
               labels["expected_order_value"]: "{:,.2f}", labels["clv"]: "{:,.2f}", labels["clv_low"]: "{:,.2f}",
               labels["clv_high"]: "{:,.2f}"}
    return shown, {k: v for k, v in formats.items() if k in shown.columns}


@dataclass
class CustomerValue:
    """What each customer is worth (see :func:`customer_value_finding`).

    Attributes
    ----------
    scores : every scored customer, with ``clv_low`` ... when every customer has an interval,
        ``clv_model`` and ``model_status`` (the ``clv_scores`` export).
    top : :func:`top_customers_table` (the ``top_customers_clv`` export).
    top_shown, top_formats : its first rows for the report, and their formats.
    scope : which customers were to get an interval (:func:`interval_scope`).
    every : True when every customer has one.
    excluded_sentence, sentence : before and after the distribution chart.
    """

    scores: pd.DataFrame
    top: pd.DataFrame
    top_shown: pd.DataFrame
    top_formats: dict[str, str]
    scope: str
    every: bool
    excluded_sentence: str
    sentence: str
    draws: int = 0
    level: float = 0.9
    max_customers: int | None = None

    def top_sentence(self, exported: str | Path | None = None) -> str:
        """The top list in words: its length, where it was exported (``exported``: the file), its intervals."""
        top, customers = self.top, len(self.scores)
        pct = f"{self.level:.0%}"
        return (f"The {len(top):,} most valuable customers are listed above (first 10)"
                + (f" and exported to `{Path(exported).name}`." if exported else ".")
                + (f" Their {pct} intervals show how far each value moves with the uncertainty of the model "
                   f"({self.draws} simulated versions of it); they leave out the chance in each customer's own "
                   "future purchases." if "clv_low" in top else "")
                + (" Every customer's interval is in the export `clv_scores` (columns `clv_low`, `clv_high`, "
                   "`expected_purchases_low`, `expected_purchases_high`)." if self.every else
                   f" With {customers:,} customers, only this list has intervals (more than "
                   f"{self.max_customers:,} customers, the limit of the configuration)." if self.scope == "top"
                   and "clv_low" in top else
                   " There are no intervals: too many of the model's simulated versions give no prediction for these "
                   "customers, another sign that its parameters are poorly pinned down." if self.scope != "none"
                   else ""))


def customer_value_finding(scores: pd.DataFrame, fit: FitResult, order_value: FitResult | float,
                           summary: pd.DataFrame, transactions: pd.DataFrame, *, model_name: str, status: str,
                           horizon_months: int, discount_rate_annual: float, margin: float, time_unit: str,
                           currency: str, top_customers: int = 100, draws: int = 0, seed: int = 0,
                           level: float = 0.9, max_customers: int | None = None,
                           engine: str | None = None) -> CustomerValue:
    """The base's value, the top-customer list and the CLV intervals (every customer's, or the list's).

    Parameters
    ----------
    scores : :func:`score_customers` output (not None).
    fit, order_value : the purchase model and what values an order (:attr:`SpendModel.order_value_model`).
    summary : the customer summary.
    transactions : order lines (for the top customers' history).
    model_name, status : the purchase model in words and its status (in the export; a weak model
        makes the sentence say "rough guide").
    horizon_months, discount_rate_annual, margin, time_unit : as for the scores.
    currency : for the sentences and column names.
    top_customers, draws, seed, level, max_customers : ``clv.top_customers``,
        ``clv.bootstrap_draws``, ``clv.bootstrap_seed``, ``clv.interval_level``,
        ``clv.interval_max_customers``.
    engine : ``"duckdb"``, ``"spark"`` or ``"pandas"`` of the queries over the lines (the run's ``analysis.engine``;
        None = :func:`lclib.engine.sql.default_engine`).
    """
    scope = interval_scope(draws, fit, order_value, len(scores), max_customers)
    options = dict(horizon_months=horizon_months, discount_rate_annual=discount_rate_annual, margin=margin,
                   time_unit=time_unit, draws=draws, seed=seed, level=level)
    spread_all = (customer_intervals(fit, order_value, summary.loc[scores.index], **options) if scope == "every"
                  else None)
    every = spread_all is not None
    best = scores.nlargest(top_customers, "clv").index
    spread = (spread_all.loc[best] if every else
              customer_intervals(fit, order_value, summary.loc[best], **options) if scope == "top" else None)
    top = top_customers_table(scores, transactions, top_customers, spread, engine)
    shown, formats = top_customers_report_table(top, currency=currency, horizon_months=horizon_months, level=level)
    export = (scores.join(spread_all) if every else scores).assign(clv_model=model_name, model_status=status)
    return CustomerValue(export, top, shown, formats, scope, every, excluded_sentence(scores),
                         value_sentence(scores, horizon_months=horizon_months,
                                        discount_rate_annual=discount_rate_annual, currency=currency, status=status),
                         draws, level, max_customers)


def no_model_sentence(verdict: Verdict, spend_check: Verdict | None, textbook: pd.Series, *, channel_costs: bool,
                      currency: str) -> str:
    """Which numbers are missing without a usable purchase model, and the textbook figure to use instead.

    Parameters
    ----------
    verdict, spend_check : the purchase and spend models' verdicts.
    textbook : the ``All customers`` row of the textbook table (``value_before_cac``,
        ``expected_lifetime_years``).
    channel_costs : True when there is a spend table (the channel comparison falls back too).
    currency : for the sentence.
    """
    return (missing_numbers(verdict, spend_check, channel_costs=channel_costs) + " "
            + (f"The textbook CLV above (**{money_text(textbook['value_before_cac'], currency)}** per customer before "
               f"acquisition cost, an expected lifetime of {textbook['expected_lifetime_years'] * 12:.1f} months from "
               "the measured retention) is the figure to work with." if np.isfinite(textbook["value_before_cac"])
               else "The textbook CLV cannot be computed either: this data does not support a lifetime value "
                    "estimate yet."))


def p_alive_paths_sentence(name: str, model: str) -> str:
    """How the purchase model reads a history (analysts' version of the P(still a customer) paths).

    Examples
    --------
    >>> p_alive_paths_sentence("Pareto/NBD", "paretonbd")
    'Pareto/NBD lets a customer leave at any time, so every silence lowers the curve.'
    """
    return f"{name} " + ("can only lose a customer right after a repeat purchase, so a one-time buyer stays at 100 % "
                         "here: their risk shows in their low expected purchases, not in this curve."
                         if model == "bgnbd" else "lets a customer leave at any time, so every silence lowers the curve.")


def top_list_settings_sentence(top_customers: int, draws: int, seed: int, level: float) -> str:
    """The settings behind the top-customer list, with their configuration keys (analysts' version).

    Examples
    --------
    >>> top_list_settings_sentence(100, 200, 0, 0.9)
    'List length `clv.top_customers` = 100; intervals from `clv.bootstrap_draws` = 200 parameter draws, seed `clv.bootstrap_seed` = 0, level `clv.interval_level` = 0.9.'
    """
    return (f"List length `clv.top_customers` = {top_customers}; intervals from `clv.bootstrap_draws` = "
            f"{draws} parameter draws, seed `clv.bootstrap_seed` = {seed}, level "
            f"`clv.interval_level` = {level:g}.")


# ----------------------------------------------------------------------------- where the value sits


def first_purchase_quarters(transactions: pd.DataFrame, customers: pd.Index, engine: str | None = None) -> pd.Series:
    """Each customer's first-purchase quarter (``2024Q3``), categorical in time order, indexed like ``customers``.

    ``engine``: of :func:`lclib.analysis.cac.first_purchases` (None = the default engine)."""
    quarters = cac.first_purchases(transactions, channel=False, engine=engine)["first_purchase"].reindex(customers).dt.to_period("Q")
    text = quarters.astype(str)
    return pd.Series(pd.Categorical(text, categories=sorted(text.unique())), index=customers)


@dataclass
class ValueByGroup:
    """Where the value sits (see :func:`value_by_group`): :func:`~lclib.analysis.clv.tables.clv_by_group`
    by RFM segment, acquisition channel and first-purchase quarter, and the finding in words."""

    by_segment: pd.DataFrame
    by_channel: pd.DataFrame
    by_cohort: pd.DataFrame
    sentence: str

    @property
    def segments_with_customers(self) -> pd.DataFrame:
        """The segments that hold at least one scored customer."""
        return self.by_segment.loc[self.by_segment["customers"] > 0]


def value_by_group(scores: pd.DataFrame, segments: pd.Series, channels: pd.Series, cohorts: pd.Series, *,
                   channel_known: bool = True, currency: str = "",
                   names: Mapping[str, str] | None = None) -> ValueByGroup:
    """CLV by RFM segment, acquisition channel and cohort, and which group holds the value.

    Parameters
    ----------
    scores : the customers' scores (``clv``, ``p_alive``, ``expected_purchases``).
    segments, channels, cohorts : each customer's RFM segment, acquisition channel and
        first-purchase quarter (:func:`first_purchase_quarters`).
    channel_known : False when no source gives an acquisition channel: the sentence says so.
    currency, names : for the sentence (channels in words).
    """
    dn = _names(names)
    by_segment, by_channel = clv_by_group(scores, segments), clv_by_group(scores, channels)
    by_cohort = clv_by_group(scores, cohorts)
    seg = by_segment.loc[by_segment["customers"] > 0]
    sentence = (f"**{seg['share_clv'].idxmax()}** hold the largest share of future value "
                f"(**{seg['share_clv'].max():.0%}**); the most valuable customers on average are "
                f"**{seg['mean_clv'].idxmax()}** ({money_text(seg['mean_clv'].max(), currency)} each). "
                + (f"By channel, **{dn(by_channel['mean_clv'].idxmax())}** customers are worth most "
                   f"({money_text(by_channel['mean_clv'].max(), currency)}) and "
                   f"**{dn(by_channel['mean_clv'].idxmin())}** customers least "
                   f"({money_text(by_channel['mean_clv'].min(), currency)}). " if channel_known else
                   "No acquisition channel is known (no customers table and no order channel). ")
                + ("Recent cohorts are worth more ahead of them than old ones simply because more of them are still "
                   "active." if len(by_cohort) > 1 else ""))
    return ValueByGroup(by_segment, by_channel, by_cohort, sentence)


# ----------------------------------------------------------------------------- which channels pay back


@dataclass
class ChannelPayback:
    """Which channels earn back their acquisition cost (see :func:`channel_payback`).

    Attributes
    ----------
    economics : :func:`lclib.analysis.cac.channel_economics` output (None when skipped).
    path : the cumulative margin of a new customer by month and channel (None when skipped).
    verdict : :func:`lclib.analysis.cac.clv_cac_verdict` (the best and worst channel, those below
        the threshold, the sentence).
    """

    economics: pd.DataFrame | None
    path: pd.DataFrame | None
    verdict: cac.ClvCacVerdict

    @property
    def sentence(self) -> str:
        return self.verdict.sentence


def channel_payback(cac_table: pd.DataFrame | None, transactions: pd.DataFrame, channels: pd.Series, *,
                    fit: FitResult, scores: pd.DataFrame | None, spend_usable: bool, simple: pd.DataFrame,
                    horizon_months: int, payback_max_months: int, margin: float, discount_rate_annual: float,
                    threshold: float, names: Mapping[str, str] | None = None,
                    engine: str | None = None, min_customers: int = cac.MIN_CHANNEL_CUSTOMERS) -> ChannelPayback:
    """CLV:CAC and payback per paid channel, from the model's values or, without it, the textbook formula.

    The value of a new customer is the margin of the first order plus the expected margin of
    the repeat orders (:func:`lclib.analysis.cac.margin_path`: the purchase model's purchases of
    a new customer, each channel's order values, from the spend model when ``spend_usable``);
    without scores (no usable purchase model) the textbook annual margin accrues month by month
    (:func:`lclib.analysis.cac.linear_margin_path`). Skipped (a sentence that says why) without a
    spend table or without a channel that has both spend and new customers.

    Parameters
    ----------
    cac_table : :func:`lclib.analysis.cac.cac_by_channel` output, or None without spend.
    transactions : order lines; channels : each customer's acquisition channel.
    fit : the purchase model; scores : :func:`score_customers` output or None.
    spend_usable : whether the spend model is usable (its expected order values are used).
    simple : the textbook table (:func:`~lclib.analysis.clv.simple.simple_clv_by_channel`).
    horizon_months, payback_max_months, margin, discount_rate_annual, threshold : the settings.
    names : ``display_names`` of the configuration (channels in words).
    engine : ``"duckdb"``, ``"spark"`` or ``"pandas"`` of the queries over the lines (the run's ``analysis.engine``;
        None = :func:`lclib.engine.sql.default_engine`).
    min_customers : a channel with fewer new customers is not rated (:func:`~lclib.analysis.cac.clv_cac_verdict`).
    """
    def skipped(why: str) -> ChannelPayback:
        return ChannelPayback(None, None, cac.ClvCacVerdict(None, None, np.nan, np.nan, [], why))

    if cac_table is None:
        return skipped("Skipped: no spend table, so there is no acquisition cost to compare with.")
    if not (cac_table["status"] == "paid").any():
        return skipped("Skipped: no channel has both spend and new customers.")
    months = max(payback_max_months, horizon_months)
    if scores is not None:
        values = cac.channel_order_values(transactions, channels, scores["expected_order_value"] if spend_usable
                                          else None, engine=engine)
        path = cac.margin_path(values, new_customer_purchases(fit, months), margin, discount_rate_annual)
        basis = f"the {MODEL_NAMES[fit.model]} model" + (" and Gamma-Gamma" if spend_usable
                                                          else " and observed order values")
    else:
        by_channel = simple.drop(index=ALL)
        path = cac.linear_margin_path(by_channel["annual_margin_per_customer"].dropna(), months,
                                      by_channel.get("expected_lifetime_years"))
        basis = ("the textbook formula (annual margin / 12 a month for the expected lifetime), as no model could "
                 "be used")
    econ = cac.channel_economics(cac_table, path, horizon_months, threshold)
    verdict = cac.clv_cac_verdict(econ, threshold=threshold, horizon_months=horizon_months, longest_months=months,
                                  basis=basis, one_purchase_model=scores is not None, names=names,
                                  min_customers=min_customers)
    return ChannelPayback(econ, path, verdict)


# ----------------------------------------------------------------------------- the recorded numbers


def _rounded(value: float | None, digits: int) -> float | None:
    return round(float(value), digits) if value is not None and np.isfinite(value) else None


def headline_numbers(*, customers: int, repeat_customers: int, count_by: str, textbook: pd.Series,
                     blended_cac: float, model_status: str, model_name: str, holdout_error_pct: float | None,
                     value_check: ValueHoldout | None, scores: pd.DataFrame | None, horizon_months: int,
                     clv_cac: cac.ClvCacVerdict, threshold: float, spend_status: str, currency: str,
                     names: Mapping[str, str] | None = None) -> list[tuple]:
    """The report's headline numbers as ``(name, value, label[, unit])`` for ``record(*entry)``, in order.

    ``mean_clv``, ``total_clv`` and ``expected_purchases`` are left out without scores, the
    CLV:CAC numbers without a rated channel; an undefined number is None.
    """
    dn = _names(names)
    checked = value_check is not None and value_check.checked
    out = [
        ("customers_modelled", customers, "Customers in the CLV analysis", "customers"),
        ("repeat_customers", repeat_customers,
         f"Customers with a repeat purchase ({COUNTED[count_by]}, as the model counts)", "customers"),
        ("simple_clv", round(float(textbook["clv"]), 2), "Textbook CLV (margin x lifetime - blended CAC)", currency),
        ("blended_cac", _rounded(blended_cac, 2), "Blended CAC (all spend / new customers)", currency),
        ("model_status", model_status, f"Purchase model ({model_name}): ok, weak or unusable"),
        ("holdout_error_pct", _rounded(holdout_error_pct, 1),
         "Holdout error of predicted repeat purchases (+ = over-predicted)", "%"),
        ("spend_holdout_error_pct", round(value_check.order_value_error_pct, 1) if checked else None,
         "Holdout error of the spend model's order value (+ = over-predicted)", "%"),
        ("revenue_holdout_error_pct", round(value_check.revenue_error_pct, 1) if checked else None,
         "Holdout error of the predicted revenue behind the CLV (purchases x order value, + = over-predicted)", "%"),
    ]
    if scores is not None:
        out += [("mean_clv", round(float(scores["clv"].mean()), 2), f"Mean expected CLV, next {horizon_months} months",
                 currency),
                ("total_clv", round(float(scores["clv"].sum()), 2),
                 f"Total expected CLV of the base, next {horizon_months} months", currency),
                ("expected_purchases", round(float(scores["expected_purchases"].sum()), 1),
                 f"Expected purchases, next {horizon_months} months", "purchases")]
    if clv_cac.rated:
        out += [("clv_cac_best", round(clv_cac.best_ratio, 2), f"CLV:CAC of the best paid channel ({dn(clv_cac.best)})",
                 "ratio"),
                ("clv_cac_worst", round(clv_cac.worst_ratio, 2),
                 f"CLV:CAC of the worst paid channel ({dn(clv_cac.worst)})", "ratio"),
                ("channels_below_threshold", len(clv_cac.below), f"Paid channels below {threshold:g}:1", "channels")]
    return out + [
        ("spend_model_status", spend_status, "Spend model (Gamma-Gamma): ok, weak or unusable"),
        ("simple_lifetime_years", round(float(textbook["expected_lifetime_years"]), 2),
         "Textbook CLV: expected lifetime from the measured retention", "years"),
    ]


def model_details(*, verdict: Verdict, spend: SpendModel, holdout: HoldoutCheck, scores: pd.DataFrame | None,
                  fit: FitResult, validation: HoldoutValidation | None) -> list[tuple]:
    """The model details run.json keeps beside the headlines, as ``(name, value, label[, unit])``, in order.

    Each status's reason, the holdout totals, the customers left out, the model used, and both
    fits' parameters with their 95 % intervals and log-likelihoods
    (:func:`~lclib.analysis.clv.tables.fit_metrics`).
    """
    name = MODEL_NAMES[fit.model]
    return [
        ("model_reason", verdict.reason, "Purchase model: reason for its status"),
        ("spend_model_reason", spend.check.reason, "Spend model: reason for its status"),
        ("holdout_status", holdout.status if holdout.checked else "not checked",
         "Holdout check: ok, weak, unusable or not checked"),
        ("holdout_reason", holdout.reason, "Holdout check: what it found"),
        ("holdout_days", holdout.days, "Holdout window", "days"),  # the value says the days; one label every run
        ("holdout_customers", holdout.customers, "Customers in the holdout check", "customers"),
        ("holdout_predicted", round(holdout.predicted, 1), "Holdout repeat purchases predicted by the calibration fit",
         "purchases"),
        ("holdout_actual", holdout.actual, "Holdout repeat purchases made", "purchases"),
        ("excluded_customers", scores.attrs["excluded"] if scores is not None else None,
         "Customers left out for an undefined prediction", "customers"),
        ("purchase_model", fit.model, "Purchase model used"),
        *fit_metrics(fit, f"{fit.model}_full", f"{name}, all data"),
        *fit_metrics(validation.fit if validation is not None else None, f"{fit.model}_cal",
                     f"{name}, calibration window", model=fit.model),
        *fit_metrics(spend.fit, "gamma_gamma_full", "Gamma-Gamma, all data"),
        *fit_metrics(spend.calibration_fit, "gamma_gamma_cal", "Gamma-Gamma, calibration window", model="gamma_gamma"),
    ]


__all__ = [
    "ALL", "COUNTED", "NO_SPEND", "AcquisitionCosts", "ChannelPayback", "CustomerValue", "HoldoutFinding",
    "PurchaseModel", "SpendModel", "TextbookCLV", "ValueByGroup", "acquisition_costs", "calibration_window_end",
    "channel_payback",
    "choose_purchase_model", "customer_intervals", "customer_value_finding", "estimate_formats", "excluded_sentence",
    "first_purchase_quarters", "fit_spend_model", "fit_windows_sentence", "headline_numbers", "holdout_finding",
    "interval_scope", "model_details", "money_text", "no_model_sentence", "p_alive_paths_sentence",
    "repeat_count_gap", "repeat_count_sentence", "score_customers", "still_active_sentence", "textbook_clv_finding",
    "top_customers_report_table", "top_customers_table", "top_list_settings_sentence", "trust_limits_sentence",
    "uneven_group_sentence", "value_by_group", "value_sentence",
]
