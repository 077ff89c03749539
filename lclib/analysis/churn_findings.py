"""The findings of report 04_churn in words: each a value (or small dataclass) with its sentence.

The notebook records and says them; every branch (nothing entered, one channel, ties, no
complete month, thin repeat data, a model that loses to the recency rule, an empty at-risk
list) lives here and is tested (``tests/test_churn_findings.py``). The tables they read come
from :mod:`lclib.analysis.churn` (drop-off, churn rates, survival, what-if) and
:mod:`lclib.analysis.churn_model` (the churn model and its baselines).

Examples
--------
::

    loss = biggest_dropoff(drop, titles)                  # the step losing most people, and the weakest step
    by_channel = channel_conversion_spread(reached, stages, loss.weakest_step, loss.weakest_name)
    table, basis = rank_stage_improvements(reached, stages, value="revenue", customer="is_customer")
    best = best_stage_to_improve(table, basis, currency, months_of_data(first, as_of, last_order))
    kept = retention_milestones(curve, revenue_curve)     # months 1, 3, 6, 12 of the pooled curves
    found = monthly_churn_finding(rates, window.days)     # the pooled rate and its span in words
    again = repeat_purchase_finding(repeat)               # the verdict and the first steps
    channels = lifetimes_by_channel(life, life_km)        # curves, test, summary and sentence
    trust = model_trust(result)                           # model vs baselines, everyone and the still active
    at_risk = at_risk_with_bgnbd(at_risk, trust, transactions, as_of, window)
    export(scores_export(scored, trust), "churn_scores", ...)  # with the verdict report 07 reads
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from lclib.analysis.churn import (IMPROVEMENT_LIFT, LogRank, PooledChurn, WhatIf, kaplan_meier, lifetime_summary,
                                  logrank_by, pooled_churn_rate, stage_dropoff, stage_improvement)
from lclib.analysis.churn_model import (FEATURE_LABELS, GROUP_LABELS, LABEL, ChurnModelResult, available_features,
                                        bgnbd_baseline, scorer_metrics)
from lclib.analysis.cohorts import RepeatVerdict, repeat_curve_verdict
from lclib.analysis.wording import auc_words, display_name, money, months_covered, plural
from lclib.engine.orders import OrderHistory
from lclib.io.columns import ACQUISITION_CHANNEL

_DAY = pd.Timedelta(days=1)


def share_text(value: float | None, digits: int = 1) -> str:
    """A share as the churn report writes it: ``0.134`` -> ``13.4%``; ``-`` when missing.

    Examples
    --------
    >>> share_text(0.1344), share_text(0.49, 0), share_text(float("nan"))
    ('13.4%', '49%', '-')
    """
    return "-" if pd.isna(value) else f"{value:.{digits}%}"


def months_of_data(first, as_of, last=None) -> int:
    """Months of data from the first order to the last one counted, as report 00 says them.

    The days are report 00's ``days_covered`` (last minus first order, in whole days, plus one),
    the months :func:`lclib.analysis.wording.months_covered` of them (``days / 30.44``, rounded):
    a thin cut reads "3 months" in both reports. ``last``: the latest order before ``as_of``
    (default: the last day counted, ``as_of`` - 1 day).

    Examples
    --------
    >>> months_of_data(pd.Timestamp("2024-01-15"), pd.Timestamp("2026-01-01"))
    24
    >>> months_of_data(pd.Timestamp("2024-01-18 03:01"), pd.Timestamp("2024-05-01"), pd.Timestamp("2024-04-30 10:00"))
    3
    """
    last = pd.Timestamp(as_of) - _DAY if last is None or pd.isna(last) else pd.Timestamp(last)
    return months_covered((last - pd.Timestamp(first)).days + 1)


def step_names(drop: pd.DataFrame, titles: Mapping[str, str]) -> pd.Series:
    """Each row of :func:`stage_dropoff` named ``<title of the stage left> → <label of the stage reached>``.

    ``titles``: stage name -> title (``{s.name: s.title for s in cfg.journey.stages}``).
    """
    return drop["from_stage"].map(titles) + " → " + drop["label"]


@dataclass
class Dropoff:
    """Where the journey loses people (see :func:`biggest_dropoff`).

    Attributes
    ----------
    step : int
        The step (1 = first transition) where the most people are lost; 0 when no step has anyone entering.
    name : str or None
        Its name (:func:`step_names`); None without a step.
    lost, entered : int or None
        People lost at that step and people who entered it.
    loss_rate : float
        ``lost / entered``.
    weakest_step : int
        The step with the highest share lost (0 without a step); the step compared by channel and cohort.
    weakest_name : str or None
    sentence : str
        The finding in words.
    """

    step: int
    name: str | None
    lost: int | None
    entered: int | None
    loss_rate: float
    weakest_step: int
    weakest_name: str | None
    sentence: str


def biggest_dropoff(drop: pd.DataFrame, titles: Mapping[str, str]) -> Dropoff:
    """The step that loses the most people, and the weakest step (highest share lost).

    Parameters
    ----------
    drop : :func:`stage_dropoff` without ``by`` (one group, ``"all"``).
    titles : stage name -> title, for :func:`step_names`.

    Returns
    -------
    Dropoff
        Ties go to the earlier step.

    Examples
    --------
    >>> drop = pd.DataFrame({"step": [1, 2], "from_stage": ["visit", "signup"], "label": ["Sign-up", "Purchase"],
    ...                      "entered": [1000, 300], "lost": [700, 240], "loss_rate": [0.7, 0.8]})
    >>> loss = biggest_dropoff(drop, {"visit": "Visit", "signup": "Sign-up"})
    >>> loss.sentence
    'The most people are lost at **Visit → Sign-up**: **700** of 1,000 (70%) do not go on.'
    >>> loss.weakest_name
    'Sign-up → Purchase'
    """
    if drop.empty:
        return Dropoff(0, None, None, None, np.nan, 0, None,
                       "No step of the journey has anyone entering it, so no drop-off can be measured.")
    names = step_names(drop, titles)
    most, weakest = drop["lost"].idxmax(), drop["loss_rate"].idxmax()
    row = drop.loc[most]
    sentence = (f"The most people are lost at **{names[most]}**: **{row['lost']:,}** of "
                f"{row['entered']:,} ({share_text(row['loss_rate'], 0)}) do not go on.")
    return Dropoff(int(row["step"]), names[most], int(row["lost"]), int(row["entered"]), float(row["loss_rate"]),
                   int(drop.loc[weakest, "step"]), names[weakest], sentence)


@dataclass
class StepComparison:
    """Conversion at one step of the journey compared across groups (channels or cohorts).

    Attributes
    ----------
    table : DataFrame
        :func:`stage_dropoff` by group, every step (what the figure draws).
    at_step : DataFrame
        Its rows at the step compared (for channels without ``"unknown"``).
    comparable : bool
        At least two groups at the step: the figure and the comparison are worth showing.
    lowest, highest : str or None
        The groups converting worst and best at the step (the first on ties).
    differ : bool or None
        Channels only: the 95 % intervals of the lowest and highest do not overlap.
    sentence : str
        The finding in words.
    """

    table: pd.DataFrame
    at_step: pd.DataFrame
    comparable: bool
    lowest: str | None
    highest: str | None
    differ: bool | None
    sentence: str


def channel_conversion_spread(reached: pd.DataFrame, stages: Sequence, step: int, step_name: str | None,
                              targets: dict[str, float] | None = None, min_entered: int = 30) -> StepComparison:
    """Which acquisition channel converts worst and best at one step, and whether they truly differ.

    Parameters
    ----------
    reached, stages, targets : as in :func:`stage_dropoff`; ``reached`` has a ``channel`` column.
    step, step_name : the step to compare (:attr:`Dropoff.weakest_step`, ``weakest_name``).
    min_entered : channels with fewer people entering the step are left out (named in the sentence).

    Returns
    -------
    StepComparison
        ``differ``: the lowest channel's interval ends below the highest one's (the channel makes a
        real difference); the ``"unknown"`` channel is never compared.
    """
    by = stage_dropoff(reached, stages, targets, by="channel", min_entered=min_entered)
    at = by.loc[(by["step"] == step) & (by["group"] != "unknown")]
    return _channel_spread(by, at, step_name, min_entered)


def _channel_spread(by: pd.DataFrame, at: pd.DataFrame, step_name: str | None, min_entered: int) -> StepComparison:
    if len(at) < 2:
        return StepComparison(by, at, False, None, None, None,
                              f"The data names fewer than two acquisition channels with at least {min_entered} people "
                              "at this step (no customers table with acquisition_channel, no channel column in the "
                              "transactions and no events), so the funnel cannot be compared by channel.")
    lo, hi = at.loc[at["conversion"].idxmin()], at.loc[at["conversion"].idxmax()]
    differ = bool(lo["upper"] < hi["lower"])
    sentence = (f"At the weakest step, **{step_name}**, conversion ranges from "
                f"**{share_text(lo['conversion'], 0)}** for {lo['group'].replace('_', ' ')} (95 % interval "
                f"{share_text(lo['lower'], 0)} – {share_text(lo['upper'], 0)}) to "
                f"**{share_text(hi['conversion'], 0)}** for {hi['group'].replace('_', ' ')} ({share_text(hi['lower'], 0)} – {share_text(hi['upper'], 0)})"
                + (": the intervals do not overlap, so the channel makes a real difference here." if differ
                   else ": the intervals overlap, so the channels may not truly differ at this step."))
    return StepComparison(by, at, True, lo["group"], hi["group"], differ, sentence)


def cohort_conversion_spread(reached: pd.DataFrame, stages: Sequence, step: int, step_name: str | None,
                             targets: dict[str, float] | None = None, min_entered: int = 30) -> StepComparison:
    """How the quarterly cohorts (quarter first seen) convert at one step: range, earliest and latest.

    Parameters are those of :func:`channel_conversion_spread`; ``reached`` has a ``cohort`` column.
    ``differ`` is None (recent cohorts have had less time, so a difference is no verdict).
    """
    by = stage_dropoff(reached, stages, targets, by="cohort", min_entered=min_entered)
    return _cohort_spread(by, by.loc[by["step"] == step], step_name, min_entered)


def _cohort_spread(by: pd.DataFrame, at: pd.DataFrame, step_name: str | None, min_entered: int) -> StepComparison:
    if len(at) < 2:
        return StepComparison(by, at, False, None, None, None,
                              f"Fewer than two quarterly cohorts have {min_entered} or more people at this step: "
                              "no comparison by cohort.")
    conv = at["conversion"]
    sentence = (f"At {step_name}, the {len(at)} quarterly cohorts convert between "
                f"**{share_text(conv.min(), 0)}** and **{share_text(conv.max(), 0)}** (earliest {at['group'].iloc[0]}: "
                f"{share_text(conv.iloc[0], 0)}, latest {at['group'].iloc[-1]}: {share_text(conv.iloc[-1], 0)}).")
    return StepComparison(by, at, True, at.loc[conv.idxmin(), "group"], at.loc[conv.idxmax(), "group"], None,
                          sentence)


def rank_stage_improvements(reached: pd.DataFrame, stages: Sequence, targets: dict[str, float] | None = None, *,
                            value: str | None = None, customer: str | None = None,
                            lift: float = IMPROVEMENT_LIFT) -> tuple[pd.DataFrame, str]:
    """:func:`stage_improvement` at the targets, or at a common relative ``lift`` when every step meets its target.

    Returns
    -------
    (DataFrame, str)
        The :func:`stage_improvement` table and its basis in words: ``"its target"``, or
        ``"a 10% relative lift in conversion"`` when no step gains anyone at its target.
    """
    table = stage_improvement(reached, stages, targets, value=value, customer=customer)
    if (table["extra"] > 0).any():
        return table, "its target"
    return (stage_improvement(reached, stages, targets, value=value, customer=customer, lift=lift),
            f"a {lift:.0%} relative lift in conversion")


@dataclass
class BestStage:
    """The stage worth improving most (see :func:`best_stage_to_improve`).

    Attributes
    ----------
    label : str or None
        The stage's label, or the tied labels joined by ``or`` with ``(worth the same)``; None when
        no lift adds revenue yet (not enough data to say which stage).
    tied : list of str
        The labels of the stages worth the same (one label without a tie, none when ``label`` is None).
    extra_revenue : float
        Revenue the best lift brings over the months of data (not discounted).
    period : str
        ``the 24 months of data`` (``the month of data``, ``less than a month of data``).
    sentence : str
        The finding in words.
    """

    label: str | None
    tied: list[str]
    extra_revenue: float
    period: str
    sentence: str


def best_stage_to_improve(improvement: pd.DataFrame, basis: str, currency: str, months: int) -> BestStage:
    """Which stage is worth improving most, in revenue, and the sentence saying so.

    Parameters
    ----------
    improvement, basis : :func:`rank_stage_improvements` output.
    currency : the money label.
    months : months the revenue was earned over (:func:`months_of_data`).

    Returns
    -------
    BestStage
        Stages whose extra revenue is equal (relative 0.1 %, or half a cent) are a tie: every person
        gained before the first purchase meets the same later steps, so the value does not choose.
        Without a tie the sentence adds the extra customers (when at least one) and, when another
        stage brings more customers, that stage.

    Examples
    --------
    >>> imp = pd.DataFrame({"label": ["Sign-up", "Purchase"], "conversion": [0.2, 0.5], "improved": [0.3, 0.5],
    ...                     "extra": [100.0, 0.0], "extra_customers": [25.0, 0.0], "extra_revenue": [2500.0, 0.0]})
    >>> best_stage_to_improve(imp, "its target", "EUR", 12).sentence
    'Lifting **Sign-up** to its target (from 20% to 30%) is worth most: about **100 more people** in that stage, **25 more customers** and **2,500 EUR** more revenue over the 12 months of data.'
    """
    period = (f"the {plural(months, 'month')} of data" if months > 1 else "the month of data" if months == 1
              else "less than a month of data")
    value = improvement["extra_revenue"].fillna(0)
    if not (value > 0).any():  # no lift adds revenue: naming a stage (the first row) would be a guess
        return BestStage(None, [], 0.0, period, (
            f"Not enough data to say which stage is worth improving: lifting any stage to {basis} adds no revenue "
            f"over {period} yet (the stages meet it already, or the people a lift would add have not bought yet)."))
    best = improvement.loc[value.idxmax()]
    best_c = improvement.loc[improvement["extra_customers"].fillna(0).idxmax()]
    tied = (improvement.loc[np.isclose(value, best["extra_revenue"], rtol=1e-3, atol=0.005)]
            if best["extra_revenue"] > 0 else improvement.iloc[:0])
    revenue = money(best["extra_revenue"], currency)
    if len(tied) > 1:
        names = " or ".join(f"**{r.label}** ({share_text(r.conversion, 0)} → {share_text(r.improved, 0)})"
                            for r in tied.itertuples())
        sentence = (f"Lifting {names} by {basis} is worth **the same**: about **{best['extra_customers']:,.0f} more "
                    f"customers** and **{revenue}** more revenue over {period}, because every person gained at any "
                    "of these steps goes through the same later steps at today's rates. The value does not choose "
                    "between them: pick the step whose lift is cheapest to buy.")
        return BestStage(" or ".join(tied["label"]) + " (worth the same)", list(tied["label"]),
                         best["extra_revenue"], period, sentence)
    other = not (best_c.name == best.name or best_c["extra_customers"] < 0.5)  # another stage brings more customers
    sentence = (f"Lifting **{best['label']}** to {basis} (from {share_text(best['conversion'], 0)} to "
                f"{share_text(best['improved'], 0)}) is worth most: about **{best['extra']:,.0f} more people** in that "
                "stage, "
                + (f"**{best['extra_customers']:,.0f} more customers** and " if best["extra_customers"] >= 0.5 else "")
                + f"**{revenue}** more revenue over {period}."
                + (f" In customers alone, {best_c['label']} gives most ({best_c['extra_customers']:,.0f})." if other
                   else ""))
    return BestStage(best["label"], [best["label"]], best["extra_revenue"], period, sentence)


@dataclass
class RetentionMilestones:
    """The pooled retention curves read at a few months (see :func:`retention_milestones`).

    Attributes: ``months`` (the months the curve reaches, of those asked), ``sentence``
    (customers who buy again), ``revenue_sentence`` (revenue retention; empty without a
    revenue curve or without months).
    """

    months: list[int]
    sentence: str
    revenue_sentence: str


def retention_milestones(curve: pd.DataFrame, revenue_curve: pd.DataFrame | None = None,
                         months: Sequence[int] = (1, 3, 6, 12)) -> RetentionMilestones:
    """Share of first-time buyers who buy again in month 1, 3, 6 and 12 (and the revenue they bring back).

    Parameters
    ----------
    curve : :func:`lclib.analysis.cohorts.retention_curve` of customers.
    revenue_curve : the same of revenue, or None.
    months : the months to read, those the curve reaches are said.

    Examples
    --------
    >>> curve = pd.DataFrame({"cohorts": [12, 12, 10], "share": [1.0, 0.16, 0.12]}, index=[0, 1, 3])
    >>> retention_milestones(curve).sentence
    'Of the customers who bought for the first time, **16%** buy again in month 1, **12%** buy again in month 3 after their first (pooled over 12 cohorts for month 1, 10 for month 3).'
    """
    shown = [m for m in months if m in curve.index]
    if not shown:
        return RetentionMilestones([], "No cohort has completed a month after its first yet.", "")
    sentence = ("Of the customers who bought for the first time, "
                + ", ".join(f"**{share_text(curve.loc[m, 'share'], 0)}** buy again in month {m}" for m in shown)
                + f" after their first (pooled over {curve.loc[shown[0], 'cohorts']} cohorts for month {shown[0]}"
                + (f", {curve.loc[shown[-1], 'cohorts']} for month {shown[-1]}" if len(shown) > 1 else "") + ").")
    revenue = "" if revenue_curve is None else (
        "In revenue, cohorts bring in "
        + ", ".join(f"**{share_text(revenue_curve.loc[m, 'share'], 0)}** of their first month's revenue in month {m}"
                    for m in shown)
        + " - revenue retention, which counts what the returning customers spend, not only whether they come back.")
    return RetentionMilestones(shown, sentence, revenue)


def pooled_span_words(pooled: PooledChurn) -> str:
    """The months a :class:`PooledChurn` pools, in words ("" when it pools none).

    Examples
    --------
    >>> jan, dec = pd.Period("2025-01", "M"), pd.Period("2025-12", "M")
    >>> pooled_span_words(PooledChurn(0.1, 0.09, 0.11, 12, jan, dec, 1200, 120))
    'the last 12 complete months (**Jan 2025 – Dec 2025**)'
    >>> pooled_span_words(PooledChurn(0.1, 0.09, 0.11, 1, dec, dec, 100, 10))
    'the last complete month (**December 2025**)'
    """
    if pooled.periods == 0:
        return ""
    if pooled.periods == 1:
        return f"the last complete month (**{pooled.last:%B %Y}**)"
    return f"the last {pooled.periods} complete months (**{pooled.first:%b %Y} – {pooled.last:%b %Y}**)"


@dataclass
class MonthlyChurnFinding:
    """The recent monthly churn rate and its sentence (see :func:`monthly_churn_finding`).

    Attributes: ``pooled`` (:class:`PooledChurn`), ``span`` (:func:`pooled_span_words`),
    ``percent`` (the rate in percent rounded to 2 decimals as a headline records it; None
    without a complete month), ``sentence``.
    """

    pooled: PooledChurn
    span: str
    percent: float | None
    sentence: str


#: Fewer complete months than this, or a 95 % interval wider than :data:`MAX_CHURN_INTERVAL`: the
#: monthly churn rate is "not enough to say" (no number recorded).
MIN_CHURN_MONTHS = 3
MAX_CHURN_INTERVAL = 0.20


def monthly_churn_finding(rates: pd.DataFrame, window_days: int, recent_periods: int = 12) -> MonthlyChurnFinding:
    """How many live customers churn each month, pooled over the recent months, in words.

    Thin data (fewer than :data:`MIN_CHURN_MONTHS` complete months, or a 95 % interval
    wider than :data:`MAX_CHURN_INTERVAL`) gets no rate (``percent`` None): the sentence says
    why and gives the interval the rate could lie in.

    Parameters
    ----------
    rates : :func:`churn_rate_by_period` with monthly periods.
    window_days : the inactivity window ``W`` (said in the sentence).
    recent_periods : months pooled (:func:`pooled_churn_rate`).

    Examples
    --------
    >>> rates = pd.DataFrame({"active_start": [200, 200, 200], "churned": [20, 30, 25]},
    ...                      index=pd.period_range("2025-10", periods=3, freq="M"))
    >>> found = monthly_churn_finding(rates, 90)
    >>> found.percent
    12.5
    >>> found.sentence[:96]
    'Over the last 3 complete months (**Oct 2025 – Dec 2025**), **12.5%** of the live customers (an o'
    >>> monthly_churn_finding(rates.iloc[1:], 90).percent is None  # two months: not enough to say
    True
    """
    pooled = pooled_churn_rate(rates, recent_periods)
    if pooled.periods == 0:
        return MonthlyChurnFinding(pooled, "", None, f"The data does not yet cover a complete month after a "
                                   f"{window_days}-day window: no monthly churn rate yet.")
    span = pooled_span_words(pooled)
    if pooled.periods < MIN_CHURN_MONTHS or pooled.upper - pooled.lower > MAX_CHURN_INTERVAL:
        why = (f"only {span} can be measured" if pooled.periods < MIN_CHURN_MONTHS else
               f"over {span} there were only {pooled.active_start:,} live customer-months")
        return MonthlyChurnFinding(pooled, span, None, (
            f"Not enough data to say how many customers churn each month: {why}, so the rate could lie anywhere "
            f"between {share_text(pooled.lower, 0)} and {share_text(pooled.upper, 0)} (95 % interval). "
            f"A rate needs at least {MIN_CHURN_MONTHS} complete months after a {window_days}-day window."))
    sentence = (f"Over {span}, **{share_text(pooled.rate)}** of the live customers (an order in the last {window_days} "
                f"days) churned each month (95 % interval {share_text(pooled.lower)} – {share_text(pooled.upper)}): "
                f"out of every 100 live customers at the start of a month, about {100 * pooled.rate:.0f} go silent "
                f"for good or for at least {window_days} days.")
    return MonthlyChurnFinding(pooled, span, round(100 * pooled.rate, 2), sentence)


@dataclass
class RepeatFinding:
    """Does each purchase make the next one more likely? (see :func:`repeat_purchase_finding`)

    Attributes
    ----------
    verdict : :class:`lclib.analysis.cohorts.RepeatVerdict`
    p_after_1st, p_after_2nd : float
        Share ordering again within the window after the 1st and the 2nd order; NaN with
        fewer than ``min_eligible`` customers to judge.
    pct_after_1st, pct_after_2nd : float or None
        The same in percent rounded to 2 decimals (as recorded); None when NaN.
    drawable : bool
        Some order number has ``min_drawn`` customers or more: the curve is worth drawing.
    sentence : str
        The verdict and the first steps in words.
    """

    verdict: RepeatVerdict
    p_after_1st: float
    p_after_2nd: float
    pct_after_1st: float | None
    pct_after_2nd: float | None
    drawable: bool
    sentence: str


def repeat_purchase_finding(repeat: pd.DataFrame, min_eligible: int = 20, steps_shown: int = 4,
                            min_drawn: int = 10) -> RepeatFinding:
    """The repeat-purchase verdict with the step-by-step rates it rests on.

    Parameters
    ----------
    repeat : :func:`lclib.analysis.cohorts.repeat_purchase_curve`.
    min_eligible : a rate of fewer customers is not said (not enough to say).
    steps_shown : the rates after orders 1 .. ``steps_shown`` are listed.
    min_drawn : :attr:`RepeatFinding.drawable` threshold (the figure's own).

    Examples
    --------
    >>> repeat = pd.DataFrame({"eligible": [1000, 400, 15], "repeated": [300, 200, 12], "p_next": [0.3, 0.5, 0.8]},
    ...                       index=pd.Index([1, 2, 3], name="n"))
    >>> found = repeat_purchase_finding(repeat)
    >>> found.pct_after_1st, found.pct_after_2nd
    (30.0, 50.0)
    >>> found.sentence.split("Step by step: ")[1]
    'after order 1 **30%** (of 1,000), after order 2 **50%** (of 400).'
    """
    verdict = repeat_curve_verdict(repeat, min_eligible=min_eligible)
    enough = repeat["p_next"].where(repeat["eligible"] >= min_eligible)
    p1, p2 = enough.get(1, np.nan), enough.get(2, np.nan)
    steps = repeat.loc[(repeat.index <= steps_shown) & (repeat["eligible"] >= min_eligible)]
    sentence = verdict.sentence + (
        " Step by step: " + ", ".join(f"after order {n} **{share_text(r.p_next, 0)}** (of {int(r.eligible):,})"
                                      for n, r in steps.iterrows()) + "." if len(steps) else "")
    as_pct = [None if pd.isna(p) else float(round(100 * p, 2)) for p in (p1, p2)]  # as recorded
    return RepeatFinding(verdict, float(p1), float(p2), *as_pct, bool((repeat["eligible"] >= min_drawn).any()),
                         sentence)


def lifetime_difference_words(test: LogRank, what: str, alpha: float = 0.05) -> str:
    """A log-rank test in a manager's words (its statistic and p-value are in ``test.sentence``).

    ``what``: the groups as the sentence names them (``"acquisition channels"``). Without a
    test (fewer than two groups) the test's own sentence says why.

    Examples
    --------
    >>> lifetime_difference_words(LogRank(12.0, 2, 0.002, ["a", "b", "c"], ""), "acquisition channels")
    'How long customers stay differs between the 3 acquisition channels by more than chance would explain.'
    """
    if not np.isfinite(test.p_value):
        return test.sentence
    return (f"How long customers stay differs between the {len(test.groups)} {what} by more than chance would explain."
            if test.p_value < alpha else
            f"The {len(test.groups)} {what} show no clear difference in how long customers stay: the gaps between "
            "the curves may be chance.")


def survival_sample_note(sampled: int, total: int) -> str:
    """Say that the survival curves use a random sample (:func:`sample_lifetimes`); "" when they use everyone."""
    if sampled >= total:
        return ""
    return (f"The survival curves and log-rank tests below use a random sample of {sampled:,} of the {total:,} "
            "customers who can be followed (a setting of the configuration); the table uses all of them.")


@dataclass
class LifetimeComparison:
    """Active lifetimes compared across groups (see :func:`lifetimes_by_channel`, :func:`lifetimes_by_cohort`).

    Attributes
    ----------
    km : DataFrame or None
        :func:`kaplan_meier` by group (None when the data has no such column).
    test : LogRank or None
        :func:`logrank_by` (None when not computed).
    summary : DataFrame or None
        :func:`lifetime_summary`: per channel (channels), or of everyone (cohorts).
    drawable : bool
        There are curves worth drawing (channels: two or more; cohorts: one or more).
    sentence : str
        The finding in words.
    """

    km: pd.DataFrame | None
    test: LogRank | None
    summary: pd.DataFrame | None
    drawable: bool
    sentence: str


def lifetimes_by_channel(lifetimes: pd.DataFrame, sample: pd.DataFrame | None = None, min_customers: int = 20,
                         at_days: Sequence[float] = (0, 90, 180, 365)) -> LifetimeComparison:
    """Do customers from different acquisition channels stay for different lengths of time?

    Parameters
    ----------
    lifetimes : :func:`churn_lifetimes` (everyone: the summary table).
    sample : :func:`sample_lifetimes` of it for the curves and the test (None: ``lifetimes``).
    min_customers : channels with fewer customers are left out.
    at_days : days the summary reads the curves at.

    Returns
    -------
    LifetimeComparison
        With fewer than two channels: no test, no summary, and a sentence saying why.
    """
    sample = lifetimes if sample is None else sample
    km = kaplan_meier(sample, by=ACQUISITION_CHANNEL, min_customers=min_customers) \
        if ACQUISITION_CHANNEL in lifetimes else None
    if km is None or km["group"].nunique() < 2:
        return LifetimeComparison(km, None, None, False,
                                  f"Fewer than two acquisition channels with {min_customers} or more customers who can "
                                  "be followed (no customers table with acquisition_channel and no channel column in "
                                  "the transactions, or too few customers): lifetimes cannot be compared by channel.")
    test = logrank_by(sample, ACQUISITION_CHANNEL, min_customers)
    summary = lifetime_summary(lifetimes, by=ACQUISITION_CHANNEL, min_customers=min_customers, at_days=at_days)
    return LifetimeComparison(km, test, summary, True, lifetime_difference_words(test, "acquisition channels"))


def lifetime_table(summary: pd.DataFrame, window_days: int, at_days: Sequence[int] = (90, 180, 365),
                   index_name: str = "Acquisition channel") -> pd.DataFrame:
    """:func:`lifetime_summary` in words, one row per group (numbers formatted as text).

    The median lifetime reads ``over half still active`` when the curve never falls below one
    half and ``0 days (most never return)`` at 0; the column is left out when it is 0 for every
    group. ``at_days``: the ``survival_<d>d`` columns shown besides the one at day 0.
    """
    median = summary["median_days"].map(lambda d: "over half still active" if not np.isfinite(d)
                                        else ("0 days (most never return)" if d == 0 else f"{d:,.0f} days"))
    return pd.DataFrame({
        "Customers": summary["customers"].map("{:,}".format),
        "Churned (observed)": summary["churned"].map("{:,}".format),
        f"Ordered again within {window_days} days": summary["survival_0d"].map(share_text),
        **({"Median active lifetime": median} if (summary["median_days"] != 0).any() else {}),
        **{f"Active after {d} days": summary[f"survival_{d}d"].map(share_text) for d in at_days},
    }).rename_axis(index_name)


def lifetimes_by_cohort(lifetimes: pd.DataFrame, window_days: int, sample: pd.DataFrame | None = None,
                        min_customers: int = 20) -> LifetimeComparison:
    """How long customers stay overall (churn right after the first order, active after 180 days), and
    whether the quarterly cohorts differ.

    Parameters
    ----------
    lifetimes : :func:`churn_lifetimes` with quarterly ``cohort`` (everyone: the overall numbers).
    window_days : the inactivity window ``W`` (said in the sentence).
    sample : :func:`sample_lifetimes` of it for the curves and the test (None: ``lifetimes``).
    min_customers : cohorts with fewer customers are left out; fewer followed customers in all
        and nothing is said but that.

    Returns
    -------
    LifetimeComparison
        ``summary``: :func:`lifetime_summary` of everyone at days 0, 90, 180, 365.
    """
    sample = lifetimes if sample is None else sample
    km = kaplan_meier(sample, by="cohort", min_customers=min_customers)
    overall = lifetime_summary(lifetimes, min_customers=min_customers, at_days=(0, 90, 180, 365))
    test = logrank_by(sample, "cohort", min_customers)
    return LifetimeComparison(km, test, overall, len(km) > 0, _overall_lifetime_sentence(overall, test, window_days,
                                                                                         min_customers))


def _overall_lifetime_sentence(overall: pd.DataFrame, test: LogRank, window_days: int, min_customers: int) -> str:
    if overall.empty:
        return (f"Fewer than {min_customers} customers bought more than {window_days} days ago: too few to follow "
                "how long customers stay.")
    row = overall.iloc[0]
    return (f"Over all {row['customers']:,.0f} customers who can be followed, "
            f"**{share_text(1 - row['survival_0d'], 0)}** churn right after their first order (they never come back within {window_days} days), and "
            + (f"**{share_text(row['survival_180d'], 0)}** are still active 180 days after their first order. "
               if np.isfinite(row["survival_180d"]) else "the data is too short to follow them for 180 days. ")
            + lifetime_difference_words(test, "quarterly cohorts"))


def what_if_sentence(what_if: WhatIf, currency: str) -> str:
    """What cutting churn is worth on today's live customers, and how it compares with the literature's claim.

    ``currency``: the money label (as in the report's Answers).
    """
    w = what_if
    return (f"Cutting the monthly churn rate by **{w.reduction:.0%}** in relative terms (from "
            f"{share_text(w.monthly_churn)} to {share_text(w.monthly_churn_reduced)}) keeps about **{w.customers_kept:,.0f} more of today's "
            f"{w.active_customers:,} live customers** after {w.horizon_months} months and brings "
            f"**{money(w.extra_revenue, currency)}** more revenue, **{money(w.extra_margin, currency)}** more "
            f"gross margin (discounted) - **{w.margin_uplift:+.1%}** on the {money(w.baseline_margin, currency)} "
            "margin the current base would bring anyway. That is far below the literature's +25 to +125 %, which is "
            "on profit after fixed costs and over longer horizons; what matters is whether keeping those customers "
            "costs less than this margin. It is a floor: it follows only today's live customers at one flat churn "
            "rate, without comebacks or new customers, so it is below the CLV report's model-based value of the "
            "whole base.")


def assumptions_sentence(what_if: WhatIf) -> str:
    """The what-if's assumptions numbered in one sentence: ``Assumptions: (1) ... (2) ...``."""
    return "Assumptions: " + " ".join(f"({i}) {a}" for i, a in enumerate(what_if.assumptions, 1))


#: Rows of :func:`scorer_metrics` as a reader names them (``{window}``: the inactivity window in days).
SCORER_LABELS = {"model": "Churn model", "recency rule": "Recency rule (days since last order)",
                 "base rate": "Base rate (no model)", "BG/NBD 1 - P(alive)": "BG/NBD: 1 - P(alive)",
                 "BG/NBD P(no purchase in window)": "BG/NBD: P(no order in {window} days)"}
_BG_ROW, _ALIVE_ROW = "BG/NBD P(no purchase in window)", "BG/NBD 1 - P(alive)"


def _days(window_days: float) -> int | float:
    """The window as a sentence says it: ``153.0`` -> ``153``."""
    return int(window_days) if float(window_days).is_integer() else window_days


def feature_table(tables: dict[str, pd.DataFrame | None]) -> pd.DataFrame:
    """:func:`available_features` in words: one row per feature group, ``Available``, ``Features``
    (their labels, :data:`FEATURE_LABELS`) and ``Why not`` (only when a group is missing)."""
    avail = available_features(tables)
    return pd.DataFrame({
        "Available": avail["available"].map({True: "yes", False: "no"}),
        "Features": avail["features"].map(lambda f: "; ".join(FEATURE_LABELS.get(n, n) for n in f.split(", "))),
        **({"Why not": avail["reason"]} if avail["reason"].astype(bool).any() else {}),
    }).rename(index=GROUP_LABELS).rename_axis("Feature group")


def training_sentence(result: ChurnModelResult) -> str:
    """When the model was trained and tested, on how many customers, and which features it could not use."""
    test_churn = share_text(result.test[LABEL].mean(), 0)
    return (f"Trained on customers as of **{', '.join(f'{c:%d %b %Y}' for c in result.train_cutoffs)}** "
            f"({len(result.train):,} customer snapshots, labels ending by {result.test_cutoff:%d %b %Y}) and tested on "
            f"**{len(result.test):,}** customers as of **{result.test_cutoff:%d %b %Y}**, of whom {test_churn} did not "
            f"order in the following {_days(result.window_days)} days. "
            + (f"Not available in this data: **{', '.join(result.unavailable)}** - the model uses the other features."
               if result.unavailable else "Every feature group was available.")
            + (" " + " ".join(result.notes) if result.notes else ""))


def scorer_table(metrics: pd.DataFrame, window_days: float) -> pd.DataFrame:
    """:func:`scorer_metrics` in words (numbers formatted as text), one row per scorer.

    The churn rate in a scorer's riskiest 10 % is its top-decile lift times the base rate
    (the base-rate row's PR AUC).
    """
    base = metrics.loc["base rate", "pr_auc"]  # the churn rate of these customers
    names = {k: v.format(window=_days(window_days)) for k, v in SCORER_LABELS.items()}
    return pd.DataFrame({
        "ROC AUC": metrics["roc_auc"].map("{:.3f}".format), "PR AUC": metrics["pr_auc"].map("{:.3f}".format),
        "Brier score": metrics["brier"].map(lambda v: "-" if pd.isna(v) else f"{v:.3f}"),
        "Churn rate in its riskiest 10 %": (metrics["top_decile_lift"] * base).map(share_text),
        "Share of all churners in its riskiest 10 %": metrics["top_decile_capture"].map(share_text),
        "Lift (riskiest 10 % vs all)": metrics["top_decile_lift"].map("{:.2f}x".format),
    }).rename(index=names).rename_axis("Scorer (test period)")


def scorer_columns(test: pd.DataFrame, window_days: float) -> dict[str, str]:
    """The scores of a test frame worth a ROC curve: label -> column (BG/NBD only when it was fitted)."""
    scores = {"churn model": "p_model", "recency rule": "recency_days"}
    if "bgnbd_p_no_purchase" in test:
        scores[f"BG/NBD P(no order in {_days(window_days)} d)"] = "bgnbd_p_no_purchase"
    return scores


@dataclass
class ModelTrust:
    """How far the churn model can be trusted, against its baselines (see :func:`model_trust`).

    Attributes
    ----------
    auc, recency_auc : float
        ROC AUC of the model and of the recency rule on the test period.
    brier, base_brier : float
        Brier score of the model and of predicting the base rate to everybody.
    calibration_gap : float
        Mean absolute gap between predicted and observed churn over the calibration bins,
        weighted by customers.
    beats_recency : bool
        The model ranks better than the recency rule at the precision the report records and
        compares (ROC AUC to 3 decimals: a lead of less than 0.0005 is a tie), and better than
        chance (``auc >= 0.5``): the verdict every sentence of report 04 follows, and the
        ``model_beats_recency`` column of its ``churn_scores`` export (:func:`scores_export`).
    informative : bool
        Its probabilities beat the base rate (``brier < base_brier``).
    active : DataFrame
        The test customers still active at the cutoff (an order within the window): their label
        and scores (the columns :func:`~lclib.analysis.churn_model.scorer_metrics` reads).
    active_metrics : DataFrame
        :func:`scorer_metrics` of them.
    judge_active : bool
        At least ``min_active`` of them and both outcomes: enough to rank them.
    bgnbd_better_on_active : bool
        BG/NBD's probability of no order ranks the still-active customers better than the model.
    sentence, active_sentence : str
        The analysts' findings (``active_sentence`` empty when not ``judge_active``).
    plain_sentence : str
        The same in a manager's words (no technical terms).
    """

    auc: float
    recency_auc: float
    brier: float
    base_brier: float
    calibration_gap: float
    beats_recency: bool
    informative: bool
    active: pd.DataFrame
    active_metrics: pd.DataFrame
    judge_active: bool
    bgnbd_better_on_active: bool
    sentence: str
    active_sentence: str
    plain_sentence: str

    @property
    def analyst_sentences(self) -> list[str]:
        """The analysts' findings to show, in order (the active customers' only when judged)."""
        return [self.sentence] + ([self.active_sentence] if self.active_sentence else [])


def model_trust(result: ChurnModelResult, min_active: int = 20) -> ModelTrust:
    """Does the churn model rank better than the recency rule and BG/NBD, are its probabilities
    informative, and does it still rank best among the customers a campaign can reach?

    Parameters
    ----------
    result : :func:`evaluate_churn_model` output.
    min_active : fewer still-active test customers (or a single outcome among them) and they
        are not judged.

    Returns
    -------
    ModelTrust
    """
    m = result.metrics
    auc, auc_rec = m.loc["model", "roc_auc"], m.loc["recency rule", "roc_auc"]
    beats = bool(auc >= 0.5 and round(auc, 3) > round(auc_rec, 3))  # as the recorded ROC AUCs compare
    brier, base_brier = m.loc["model", "brier"], m.loc["base rate", "brier"]
    cal = result.calibration
    cal_gap = float(np.average((cal["predicted"] - cal["observed"]).abs(), weights=cal["customers"]))
    churn_rate = result.test[LABEL].mean()
    has_bg = _BG_ROW in m.index
    bg_auc = m.loc[_BG_ROW, "roc_auc"] if has_bg else np.nan
    lift, capture = m.loc["model", "top_decile_lift"], m.loc["model", "top_decile_capture"]
    sentence = (
        f"On the later test period the model ranks churners above stayers with a ROC AUC of **{auc:.3f}**, against "
        f"**{auc_rec:.3f}** for the recency rule"
        + (f" and {bg_auc:.3f} for BG/NBD" if has_bg else "")
        + (" - it adds information beyond how long a customer has been silent" if beats
           else " - it does not beat the simple recency rule here, so use the rule")
        + (f"; BG/NBD's probability of no order ranks a little better here ({bg_auc:.3f}), so it is "
           "worth using alongside. " if has_bg and bg_auc > auc else
           "; BG/NBD ranks almost as well, so the simpler model is a fair substitute for ranking. "
           if has_bg and bg_auc > auc - 0.01 else ". ")
        + (f"BG/NBD's probabilities are closer to what happened (Brier score {m.loc[_BG_ROW, 'brier']:.3f} against the "
           f"model's {brier:.3f}). " if has_bg and m.loc[_BG_ROW, "brier"] < brier else "")
        + (f"The churn model's probabilities are informative: Brier score {brier:.3f} against {base_brier:.3f} for "
           "predicting the base rate to everybody; in the calibration plot the observed churn per tenth of "
           f"predictions is on average {cal_gap:.0%} points from the prediction. " if brier < base_brier else
           f"The churn model's probabilities are **not** better than predicting the base rate to everybody (Brier "
           f"score {brier:.3f} against {base_brier:.3f}): with {len(result.train):,} training snapshots there is too "
           "little history; use the scores as a rough ranking at most. ")
        + f"The 10 % of customers it rates riskiest churn at {share_text(lift * churn_rate, 0)} and hold "
        f"{share_text(capture, 0)} of all churners ({lift:.2f} times the base rate; with {share_text(churn_rate, 0)} "
        f"churning anyway, no ranking can exceed {min(10, 1 / churn_rate):.2f} times)."
        + (f" BG/NBD's P(alive) on its own ranks poorly (ROC AUC {m.loc[_ALIVE_ROW, 'roc_auc']:.2f}): the model lets "
           "customers drop out only after a repeat purchase, so it rates every one-time buyer as alive."
           if _ALIVE_ROW in m.index and m.loc[_ALIVE_ROW, "roc_auc"] < 0.6 else ""))

    scores = [c for c in (LABEL, "p_model", "recency_days", "bgnbd_p_alive", "bgnbd_p_no_purchase") if c in result.test]
    still = (result.test["recency_days"] < result.window_days).to_numpy()  # still active at the cutoff
    active = result.test.loc[still, scores]
    ma = scorer_metrics(active)
    judge = len(active) >= min_active and active[LABEL].nunique() == 2  # enough to rank them
    bg_better = judge and _BG_ROW in ma.index and ma.loc[_BG_ROW, "roc_auc"] > ma.loc["model", "roc_auc"]
    active_sentence = "" if not judge else (
        f"Many test customers had already gone silent for {_days(result.window_days)} days at the cutoff, and they "
        f"churn almost surely; among the **{len(active):,} customers still active** then (the ones a retention "
        f"campaign can still reach) {share_text(active[LABEL].mean(), 0)} churned, and the model's ROC AUC is "
        f"**{ma.loc['model', 'roc_auc']:.3f}** against {ma.loc['recency rule', 'roc_auc']:.3f} for the recency rule"
        + (f" and {ma.loc[_BG_ROW, 'roc_auc']:.3f} for BG/NBD" if _BG_ROW in ma.index else "")
        + ": " + ("the model still ranks best where it matters."
                  if ma.loc["model", "roc_auc"] >= ma["roc_auc"].drop(["model", "base rate"]).max() else
                  "a baseline ranks these customers at least as well, so the at-risk list below shows BG/NBD's "
                  "probability too.")
        + " Its riskiest tenth of them churns at "
        f"{share_text(ma.loc['model', 'top_decile_lift'] * active[LABEL].mean(), 0)}.")

    plain = ("How good is the model, tested on a later period it had not seen? "
             + auc_words(auc, "The model", term=False) + "; sorting customers by the days since their last order does "
             f"so {100 * auc_rec:.0f} % of the time. "
             + ("So the model adds something beyond how long a customer has been silent. " if beats else
                "So the simple rule does as well: use it. " if auc >= auc_rec - 0.02 and auc >= 0.5 else
                "So the model ranks worse than that simple rule (or no better than chance): **do not use its "
                "list**; sort customers by the days since their last order instead. ")
             + f"The 10 % of customers it rates riskiest hold **{share_text(capture, 0)}** of all customers who left "
             f"({lift:.1f} times their share). "
             + (f"Its probabilities are close to what happened: on average {cal_gap:.0%} points off."
                if brier < base_brier else
                "Its probabilities are no better than saying the average churn rate for everybody"
                + (": use it to rank customers, not to count them." if beats else ".")))
    return ModelTrust(auc, auc_rec, brier, base_brier, cal_gap, beats, bool(brier < base_brier),
                      active, ma, bool(judge), bool(bg_better), sentence, active_sentence, plain)


def scores_export(scored: pd.DataFrame, trust: ModelTrust) -> pd.DataFrame:
    """The ``churn_scores`` export: every customer's scores with report 04's verdict on the model.

    Column ``model_beats_recency`` (the same on every row) is :attr:`ModelTrust.beats_recency`:
    True when the model ranked the test period's customers better than sorting them by days
    since their last order (and better than chance), False otherwise. Report 07 reads it
    (:func:`lclib.analysis.customer_view.churn_model_beats_recency`) and, when False, orders its
    list by days since the last order instead of by the churn flag.
    """
    return scored.assign(model_beats_recency=bool(trust.beats_recency))


def importance_sentence(importance: pd.DataFrame, top: int = 3) -> str:
    """The features the model leans on most (permutation importance, :attr:`ChurnModelResult.importance`).

    Examples
    --------
    >>> imp = pd.DataFrame({"mean": [0.1, 0.05]}, index=["recency_days", "frequency"])
    >>> importance_sentence(imp)
    'The model leans most on **days since last order, orders so far**: mixing up each of them at random costs the model the most of its ranking accuracy on the test period.'
    """
    if importance.empty:
        return "The model has no features whose importance could be measured."
    names = [FEATURE_LABELS.get(n, n).lower() for n in importance.index[:top]]
    return (f"The model leans most on **{', '.join(names)}**: mixing up each of them at random costs the model the "
            "most of its ranking accuracy on the test period.")


def at_risk_with_bgnbd(at_risk: pd.DataFrame, trust: ModelTrust, transactions: pd.DataFrame, as_of,
                       window_days: float, *, history: OrderHistory | None = None, **bgnbd_options) -> pd.DataFrame:
    """``at_risk`` with BG/NBD's probability of no order today beside the model's, where BG/NBD ranked
    the still-active test customers better (:attr:`ModelTrust.bgnbd_better_on_active`).

    BG/NBD is refitted on every order before ``as_of`` (:func:`bgnbd_baseline`, ``bgnbd_options``
    as there). Returns ``at_risk`` as it is when the list is empty, BG/NBD did not rank better or
    the refit gives no probability; else with a column ``bgnbd_p_no_order``.
    """
    if not (trust.bgnbd_better_on_active and len(at_risk)):
        return at_risk
    now = bgnbd_baseline(transactions, as_of, window_days, history=history, **bgnbd_options)
    if now.p_no_purchase is None:
        return at_risk
    return at_risk.assign(bgnbd_p_no_order=now.p_no_purchase.reindex(at_risk.index))


def at_risk_table(at_risk: pd.DataFrame, window_days: float, currency: str, names: dict[str, str] | None = None,
                  rows: int = 10) -> pd.DataFrame:
    """The first ``rows`` customers of :func:`at_risk_list` in words (numbers formatted as text).

    BG/NBD's probability (``bgnbd_p_no_order``, :func:`at_risk_with_bgnbd`) and the acquisition
    channel (in words: ``names``, :func:`lclib.analysis.wording.display_name`) when present.
    """
    show = at_risk.head(rows)
    return pd.DataFrame({
        "Churn probability": show["p_churn"].map(share_text),
        f"Revenue, last 12 months ({currency})": show["value"].map("{:,.0f}".format),
        f"Value at risk ({currency})": show["value_at_risk"].map("{:,.0f}".format),
        "Days since last order": show["recency_days"].map("{:,.0f}".format),
        "Orders": show["frequency"].map("{:,.0f}".format),
        **({f"Purchase model: chance of no order in {_days(window_days)} days":
            show["bgnbd_p_no_order"].map(share_text)} if "bgnbd_p_no_order" in show else {}),
        **({"Channel": show[ACQUISITION_CHANNEL].map(lambda v: display_name(v, names))}
           if ACQUISITION_CHANNEL in show else {}),
    }).rename_axis("Customer")


def at_risk_sentence(at_risk: pd.DataFrame, scored: pd.DataFrame, *, min_probability: float, window_days: float,
                     currency: str, exported: bool, trust: ModelTrust | None = None) -> str:
    """How many high-value live customers are likely to leave and what they bought, or why the list is empty.

    Parameters
    ----------
    at_risk : :func:`at_risk_list` (its ``attrs["value_threshold"]``), maybe :func:`at_risk_with_bgnbd`.
    scored : :func:`score_customers` (the highest probability of an active customer, for an empty list).
    min_probability, window_days, currency : as the list was made.
    exported : the list was written to a file (else the sentence says how to get it).
    trust : :func:`model_trust`, for the sentence on BG/NBD's probability when it is listed.
    """
    w = _days(window_days)
    top_p = scored.loc[(scored["status"] == "active").to_numpy(), "p_churn"].max()
    listed = "bgnbd_p_no_order" in at_risk and trust is not None
    return ((f"**{len(at_risk):,} high-value live customers** (an order in the last {w} days, 12-month revenue of at "
             f"least {money(at_risk.attrs['value_threshold'], currency)}) have a churn probability of "
             f"{min_probability:.0%} or more; together they bought **{money(at_risk['value'].sum(), currency)}** "
             f"in the last 12 months, {money(at_risk['value_at_risk'].sum(), currency)} of it weighted by their "
             "risk. " if len(at_risk) else
             f"**No active customer reaches a churn probability of {min_probability:.0%}** (the highest is "
             f"{share_text(top_p) if pd.notna(top_p) else 'undefined'}), so the list is empty: "
             "lower the threshold (a setting of the configuration) or rank by value at risk in the churn scores "
             "export. ")
            + ("The full list is exported as `churn_at_risk_customers.csv`." if exported else
               "Run with an output folder (lclib run) to export the full list.")
            + (" The purchase model (BG/NBD) ranked the customers still active at the test cutoff better than the "
               f"churn model ({100 * trust.active_metrics.loc[_BG_ROW, 'roc_auc']:.0f} % of pairs against "
               f"{100 * trust.active_metrics.loc['model', 'roc_auc']:.0f} %), so its probability of no order is listed "
               "too: customers high on both are the safest picks for a campaign." if listed else ""))


def at_risk_revenue(at_risk: pd.DataFrame | None) -> float | None:
    """What the listed customers bought in the last 12 months; None without a list or with an empty one."""
    return None if at_risk is None or at_risk.empty else float(at_risk["value"].sum())
