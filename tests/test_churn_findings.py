"""The findings of report 04_churn in words: lclib.analysis.churn and churn_model's finding functions.

Each finding is worked out by hand on a small table (numbers in the comments) and its
sentence is pinned word for word, including the cases the report used to decide inline:
nothing to compare, a single group, ties, and too little data to say anything.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import churn as ch
from lclib.analysis import churn_model as cm
from lclib.analysis import churn_findings as fd
from lclib.analysis.churn import LogRank, PooledChurn, WhatIf

from test_cohorts import HAND, make_tx

STAGES = [SimpleNamespace(name="a", label="A", target=None), SimpleNamespace(name="b", label="B", target=None),
          SimpleNamespace(name="c", label="C", target=None)]


def people(n: int, *, b: bool = True, c: bool = False, channel=None, cohort: str = "2024Q1") -> list[dict]:
    """``n`` people who all reached stage a, and b and c as given."""
    return [{"a": True, "b": b, "c": c, "channel": channel, "cohort": cohort}] * n


# ----------------------------------------------------------------------------- small helpers


def test_share_text_and_months_of_data():
    assert fd.share_text(0.1344) == "13.4%" and fd.share_text(0.485, 0) == "48%" and fd.share_text(1.0, 0) == "100%"
    assert fd.share_text(np.nan) == "-" and fd.share_text(None) == "-"
    # 15 Jan 2024 .. 31 Dec 2025 (as_of is the midnight after the last day): 717 days, 24 months as report 00 says
    assert fd.months_of_data(pd.Timestamp("2024-01-15"), pd.Timestamp("2026-01-01")) == 24
    assert fd.months_of_data(pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-01")) == 0  # one day
    # a thin cut: 18 Jan .. 30 Apr 2024 is 104 days, 3 months (calendar months touched would say 4)
    assert fd.months_of_data(pd.Timestamp("2024-01-18 03:01"), pd.Timestamp("2024-05-01"),
                             pd.Timestamp("2024-04-30 10:00")) == 3


# ----------------------------------------------------------------------------- where people fall out


def test_biggest_dropoff_and_weakest_step_are_different_steps():
    # a -> b: 10 enter, 6 go on (4 lost, 40 %); b -> c: 6 enter, 3 go on (3 lost, 50 %)
    reached = pd.DataFrame(people(3, c=True) + people(3) + people(4, b=False))
    drop = ch.stage_dropoff(reached, STAGES)
    loss = fd.biggest_dropoff(drop, {"a": "Reach", "b": "Sign-up", "c": "Purchase"})
    assert (loss.step, loss.lost, loss.entered, loss.loss_rate) == (1, 4, 10, pytest.approx(0.4))
    assert loss.sentence == "The most people are lost at **Reach → B**: **4** of 10 (40%) do not go on."
    assert (loss.weakest_step, loss.weakest_name) == (2, "Sign-up → C")


def test_biggest_dropoff_tie_goes_to_the_earlier_step_and_nothing_entered_is_said():
    drop = pd.DataFrame({"step": [1, 2], "from_stage": ["a", "b"], "label": ["B", "C"], "entered": [100, 50],
                         "lost": [20, 20], "loss_rate": [0.2, 0.4]})
    loss = fd.biggest_dropoff(drop, {"a": "A", "b": "B"})
    assert loss.step == 1 and loss.name == "A → B" and loss.weakest_step == 2
    empty = fd.biggest_dropoff(drop.iloc[:0], {})
    assert (empty.step, empty.name, empty.lost, empty.weakest_step) == (0, None, None, 0)
    assert empty.sentence == "No step of the journey has anyone entering it, so no drop-off can be measured."


def test_channels_whose_intervals_do_not_overlap_make_a_real_difference():
    # b -> c: email 10 of 40 (25 %, Wilson 14.2 % - 40.2 %), direct 30 of 40 (75 %, 59.8 % - 85.8 %);
    # 40 people without a channel ("unknown") and 5 by sms (below 30) are not compared
    reached = pd.DataFrame(people(30, channel="email") + people(10, c=True, channel="email")
                           + people(10, channel="direct") + people(30, c=True, channel="direct")
                           + people(40, c=True) + people(5, c=True, channel="sms"))
    spread = fd.channel_conversion_spread(reached, STAGES, 2, "B → C")
    assert spread.comparable and (spread.lowest, spread.highest, spread.differ) == ("email", "direct", True)
    assert sorted(spread.at_step["group"]) == ["direct", "email"]
    assert spread.sentence == (
        "At the weakest step, **B → C**, conversion ranges from **25%** for email (95 % interval 14% – 40%) to "
        "**75%** for direct (60% – 86%): the intervals do not overlap, so the channel makes a real difference here.")


def test_channels_whose_intervals_overlap_may_not_differ_and_one_channel_cannot_be_compared():
    # 18 of 40 (45 %, 31 % - 60 %) against 22 of 40 (55 %, 40 % - 69 %): the intervals overlap
    reached = pd.DataFrame(people(22, channel="paid_search") + people(18, c=True, channel="paid_search")
                           + people(18, channel="email") + people(22, c=True, channel="email"))
    spread = fd.channel_conversion_spread(reached, STAGES, 2, "B → C")
    assert spread.differ is False
    assert spread.sentence == (
        "At the weakest step, **B → C**, conversion ranges from **45%** for paid search (95 % interval 31% – 60%) to "
        "**55%** for email (40% – 69%): the intervals overlap, so the channels may not truly differ at this step.")
    one = fd.channel_conversion_spread(reached.loc[reached["channel"] == "email"], STAGES, 2, "B → C")
    assert not one.comparable and one.lowest is None and one.differ is None
    assert one.sentence.startswith("The data names fewer than two acquisition channels with at least 30 people at "
                                   "this step")
    assert "at least 50 people" in fd.channel_conversion_spread(reached, STAGES, 2, "B → C", min_entered=50).sentence


def test_cohorts_are_compared_earliest_to_latest():
    # b -> c: 2024Q1 12 of 40 (30 %), 2024Q2 8 of 40 (20 %), 2024Q3 only 10 people (left out)
    reached = pd.DataFrame(people(28) + people(12, c=True) + people(32, cohort="2024Q2")
                           + people(8, c=True, cohort="2024Q2") + people(10, c=True, cohort="2024Q3"))
    spread = fd.cohort_conversion_spread(reached, STAGES, 2, "B → C")
    assert (spread.lowest, spread.highest, spread.differ) == ("2024Q2", "2024Q1", None)
    assert spread.sentence == ("At B → C, the 2 quarterly cohorts convert between **20%** and **30%** "
                               "(earliest 2024Q1: 30%, latest 2024Q2: 20%).")
    thin = fd.cohort_conversion_spread(reached.loc[reached["cohort"] != "2024Q2"], STAGES, 2, "B → C", min_entered=35)
    assert not thin.comparable
    assert thin.sentence == ("Fewer than two quarterly cohorts have 35 or more people at this step: no comparison by "
                             "cohort.")


# ----------------------------------------------------------------------------- which stage is worth improving


def test_improvements_rank_at_the_targets_else_at_a_common_lift():
    # a -> b: 100 enter, 50 go on. Target 60 %: 10 more people; target 40 % (met): a 10 % lift, 50 % -> 55 %: 5
    reached = pd.DataFrame({"a": [True] * 100, "b": [True] * 50 + [False] * 50})
    stages = [SimpleNamespace(name="a", label="A", target=None), SimpleNamespace(name="b", label="B", target=0.6)]
    table, basis = fd.rank_stage_improvements(reached, stages)
    assert basis == "its target" and table["extra"].tolist() == [pytest.approx(10)]
    table, basis = fd.rank_stage_improvements(reached, stages, {"b": 0.4})
    assert basis == "a 10% relative lift in conversion"
    assert table["improved"].tolist() == [pytest.approx(0.55)] and table["extra"].tolist() == [pytest.approx(5)]


def improvement(**columns) -> pd.DataFrame:
    base = {"label": ["Sign-up", "Purchase", "Repeat"], "conversion": [0.2, 0.5, 0.4], "improved": [0.3, 0.6, 0.44],
            "extra": [100.0, 50.0, 10.0]}
    return pd.DataFrame({**base, **columns})


def test_best_stage_names_another_stage_that_brings_more_customers():
    imp = improvement(extra_customers=[25.0, 40.0, 0.0], extra_revenue=[2500.0, 2000.0, 10.0])
    best = fd.best_stage_to_improve(imp, "its target", "EUR", 24)
    assert (best.label, best.tied, best.extra_revenue, best.period) == ("Sign-up", ["Sign-up"], 2500.0,
                                                                         "the 24 months of data")
    assert best.sentence == (
        "Lifting **Sign-up** to its target (from 20% to 30%) is worth most: about **100 more people** in that stage, "
        "**25 more customers** and **2,500 EUR** more revenue over the 24 months of data. In customers alone, "
        "Purchase gives most (40).")


def test_best_stage_leaves_out_fewer_than_one_customer():
    imp = improvement(extra_customers=[0.4, 0.3, 0.0], extra_revenue=[45.5, 20.0, 0.0])
    assert fd.best_stage_to_improve(imp, "its target", "GBP", 13).sentence == (
        "Lifting **Sign-up** to its target (from 20% to 30%) is worth most: about **100 more people** in that stage, "
        "**45.50 GBP** more revenue over the 13 months of data.")


def test_stages_worth_the_same_are_a_tie_that_the_value_does_not_break():
    # 13,272.0 and 13,280.0 differ by 0.06 %: within the 0.1 % tolerance
    imp = improvement(extra_customers=[186.0, 186.0, 3.0], extra_revenue=[13272.0, 13280.0, 90.0])
    best = fd.best_stage_to_improve(imp, "a 10% relative lift in conversion", "EUR", 24)
    assert best.label == "Sign-up or Purchase (worth the same)"
    assert best.tied == ["Sign-up", "Purchase"] and best.extra_revenue == 13280.0
    assert best.sentence == (
        "Lifting **Sign-up** (20% → 30%) or **Purchase** (50% → 60%) by a 10% relative lift in conversion is worth "
        "**the same**: about **186 more customers** and **13,280 EUR** more revenue over the 24 months of data, "
        "because every person gained at any of these steps goes through the same later steps at today's rates. The "
        "value does not choose between them: pick the step whose lift is cheapest to buy.")


def test_no_stage_worth_anything_is_no_tie_and_no_pick():
    """No lift adds revenue (a thin cut: every stage meets its target or the people gained have not bought): no
    stage is named - it used to be the first row with '0.00 EUR' - and the index says 'not enough data to say'."""
    imp = improvement(extra_customers=[0.0, 0.0, 0.0], extra_revenue=[0.0, 0.0, np.nan])
    best = fd.best_stage_to_improve(imp, "its target", "EUR", 1)
    assert (best.label, best.tied, best.extra_revenue) == (None, [], 0.0)
    assert best.sentence == (
        "Not enough data to say which stage is worth improving: lifting any stage to its target adds no revenue "
        "over the month of data yet (the stages meet it already, or the people a lift would add have not bought "
        "yet).")


# ----------------------------------------------------------------------------- retention and churn rate


def test_retention_milestones_read_the_months_the_curve_reaches():
    curve = pd.DataFrame({"cohorts": [22, 22, 18, 11], "share": [1.0, 0.158, 0.121, 0.09]}, index=[0, 1, 3, 6])
    revenue = pd.DataFrame({"share": [1.0, 0.17, 0.14, 0.12]}, index=[0, 1, 3, 6])
    kept = fd.retention_milestones(curve, revenue)
    assert kept.months == [1, 3, 6]
    assert kept.sentence == ("Of the customers who bought for the first time, **16%** buy again in month 1, **12%** "
                             "buy again in month 3, **9%** buy again in month 6 after their first (pooled over 22 "
                             "cohorts for month 1, 11 for month 6).")
    assert kept.revenue_sentence == (
        "In revenue, cohorts bring in **17%** of their first month's revenue in month 1, **14%** of their first "
        "month's revenue in month 3, **12%** of their first month's revenue in month 6 - revenue retention, which "
        "counts what the returning customers spend, not only whether they come back.")
    one = fd.retention_milestones(curve.loc[[0, 1]])
    assert one.sentence.endswith("(pooled over 22 cohorts for month 1).") and one.revenue_sentence == ""
    none = fd.retention_milestones(curve.loc[[0]], revenue)
    assert none.months == [] and none.revenue_sentence == ""
    assert none.sentence == "No cohort has completed a month after its first yet."


def test_monthly_churn_pools_the_recent_months_with_a_wilson_interval():
    # 20 + 30 + 25 churned of 3 x 200 live: 12.5 %, Wilson 10.1 % - 15.4 %; 12.5 out of 100 rounds (half to even) to 12
    rates = pd.DataFrame({"active_start": [0, 200, 200, 200], "churned": [0, 20, 30, 25]},
                         index=pd.period_range("2025-09", periods=4, freq="M"))
    found = fd.monthly_churn_finding(rates, 90)
    assert found.percent == 12.5 and found.pooled.periods == 3
    assert found.span == "the last 3 complete months (**Oct 2025 – Dec 2025**)"
    assert found.sentence == (
        "Over the last 3 complete months (**Oct 2025 – Dec 2025**), **12.5%** of the live customers (an order in the "
        "last 90 days) churned each month (95 % interval 10.1% – 15.4%): out of every 100 live customers at the start "
        "of a month, about 12 go silent for good or for at least 90 days.")


def test_a_thin_monthly_churn_rate_is_not_enough_to_say():
    """Two months (the thin cut's 63 % from two months), or many months with few live customers: no number."""
    rates = pd.DataFrame({"active_start": [0, 200, 200], "churned": [0, 20, 30]},
                         index=pd.period_range("2025-10", periods=3, freq="M"))
    two = fd.monthly_churn_finding(rates, 90)
    assert two.percent is None and two.pooled.periods == 2
    assert two.sentence == (
        "Not enough data to say how many customers churn each month: only the last 2 complete months "
        "(**Nov 2025 – Dec 2025**) can be measured, so the rate could lie anywhere between 10% and 16% (95 % "
        "interval). A rate needs at least 3 complete months after a 90-day window.")
    few = pd.DataFrame({"active_start": [5] * 12, "churned": [2] * 12},  # 60 customer-months: 28 % - 53 %
                       index=pd.period_range("2025-01", periods=12, freq="M"))
    thin = fd.monthly_churn_finding(few, 90)
    assert thin.percent is None and "there were only 60 live customer-months" in thin.sentence
    assert fd.monthly_churn_finding(few.assign(active_start=50, churned=20), 90).percent == 40.0  # 600: narrow enough


def test_no_complete_month_is_said_not_guessed():
    # no periods at all, or only periods without live customers at their start
    for rates in (pd.DataFrame({"active_start": [], "churned": []}),
                  pd.DataFrame({"active_start": [0], "churned": [0]}, index=pd.period_range("2025-12", periods=1,
                                                                                             freq="M"))):
        found = fd.monthly_churn_finding(rates, 153)
        assert found.percent is None and found.span == ""
        assert found.sentence == ("The data does not yet cover a complete month after a 153-day window: no monthly "
                                  "churn rate yet.")
    assert fd.pooled_span_words(PooledChurn(np.nan, np.nan, np.nan, 0, None, None, 0, 0)) == ""


# ----------------------------------------------------------------------------- repeat purchases


def test_repeat_finding_lists_the_steps_with_enough_customers():
    # after 1: 300 of 1,000; after 2: 200 of 400; after 3: 12 of 15 (fewer than 20: not said); pooled later 212/415
    repeat = pd.DataFrame({"eligible": [1000, 400, 15], "repeated": [300, 200, 12], "p_next": [0.3, 0.5, 0.8]},
                          index=pd.Index([1, 2, 3], name="n"))
    found = fd.repeat_purchase_finding(repeat)
    assert (found.pct_after_1st, found.pct_after_2nd, found.drawable) == (30.0, 50.0, True)
    assert found.verdict.trend == "increasing"
    assert found.sentence == (found.verdict.sentence + " Step by step: after order 1 **30%** (of 1,000), after order "
                              "2 **50%** (of 400).")


def test_repeat_finding_on_thin_data_says_there_is_not_enough():
    repeat = pd.DataFrame({"eligible": [12, 4], "repeated": [6, 3], "p_next": [0.5, 0.75]},
                          index=pd.Index([1, 2], name="n"))
    found = fd.repeat_purchase_finding(repeat)
    assert found.pct_after_1st is None and found.pct_after_2nd is None and np.isnan(found.p_after_1st)
    assert found.drawable  # 12 customers after a first order: enough to draw, not to judge
    assert found.sentence == ("Too few customers can be followed long enough to judge (12 after a first order, 4 after "
                              "later orders; at least 20 each are needed).")
    assert not fd.repeat_purchase_finding(repeat.assign(eligible=[9, 4])).drawable


# ----------------------------------------------------------------------------- how long customers stay


def test_log_rank_in_words():
    differ = LogRank(12.0, 2, 0.002, ["a", "b", "c"], "")
    same = LogRank(1.0, 1, 0.3, ["a", "b"], "")
    untested = LogRank(np.nan, 0, np.nan, ["a"], "Fewer than two cohort groups with 20+ customers: no comparison "
                                                 "possible.")
    assert fd.lifetime_difference_words(differ, "acquisition channels") == (
        "How long customers stay differs between the 3 acquisition channels by more than chance would explain.")
    assert fd.lifetime_difference_words(same, "quarterly cohorts") == (
        "The 2 quarterly cohorts show no clear difference in how long customers stay: the gaps between the curves "
        "may be chance.")
    assert fd.lifetime_difference_words(untested, "quarterly cohorts") == untested.sentence
    assert fd.lifetime_difference_words(LogRank(4.0, 1, 0.05, ["a", "b"], ""), "x").startswith("The 2 x show no")


def test_survival_sample_note_only_when_sampled():
    assert fd.survival_sample_note(5_000, 5_000) == ""
    assert fd.survival_sample_note(200_000, 1_234_567) == (
        "The survival curves and log-rank tests below use a random sample of 200,000 of the 1,234,567 customers who "
        "can be followed (a setting of the configuration); the table uses all of them.")


def lifetimes(n_churned_at_0: int, n_censored: int, censored_at: float = 100.0, **columns) -> pd.DataFrame:
    n = n_churned_at_0 + n_censored
    frame = pd.DataFrame({"lifetime_days": [0.0] * n_churned_at_0 + [censored_at] * n_censored,
                          "churned": [True] * n_churned_at_0 + [False] * n_censored,
                          "cohort": pd.Period("2024Q1", "Q")})
    return frame.assign(**{k: (v * n if isinstance(v, list) and len(v) == 1 else v) for k, v in columns.items()})


def test_lifetimes_overall_with_a_short_history_and_one_cohort():
    # 40 customers: 20 never return (lifetime 0, churned), 20 still active after 100 days (censored):
    # Kaplan-Meier S(0) = 1 - 20/40 = 50 % churn right away; 180 days lie past the data
    found = fd.lifetimes_by_cohort(lifetimes(20, 20), 30)
    assert found.drawable and found.test is not None and np.isnan(found.test.p_value)
    assert found.sentence == (
        "Over all 40 customers who can be followed, **50%** churn right after their first order (they never come back "
        "within 30 days), and the data is too short to follow them for 180 days. Fewer than two cohort groups with "
        "20+ customers: no comparison possible.")


def test_lifetimes_overall_reads_180_days_and_compares_cohorts():
    # 2024Q1: 10 of 30 churn at once, 20 censored at 400 days; 2024Q2 the same: S(0) = 2/3, S(180) = 2/3
    q1, q2 = lifetimes(10, 20, 400.0), lifetimes(10, 20, 400.0).assign(cohort=pd.Period("2024Q2", "Q"))
    found = fd.lifetimes_by_cohort(pd.concat([q1, q2], ignore_index=True), 90)
    assert found.test.p_value == pytest.approx(1.0)
    assert found.sentence == (
        "Over all 60 customers who can be followed, **33%** churn right after their first order (they never come back "
        "within 90 days), and **67%** are still active 180 days after their first order. The 2 quarterly cohorts "
        "show no clear difference in how long customers stay: the gaps between the curves may be chance.")


def test_too_few_customers_to_follow_is_said():
    found = fd.lifetimes_by_cohort(lifetimes(5, 10), 153)
    assert not found.drawable and found.summary.empty
    assert found.sentence == ("Fewer than 20 customers bought more than 153 days ago: too few to follow how long "
                              "customers stay.")


def test_lifetimes_by_channel_need_two_channels():
    both = pd.concat([lifetimes(20, 20, acquisition_channel=["email"]),
                      lifetimes(5, 35, acquisition_channel=["direct"])], ignore_index=True)
    found = fd.lifetimes_by_channel(both)
    assert found.drawable and found.test.p_value < 0.05 and sorted(found.summary.index) == ["direct", "email"]
    assert found.sentence == ("How long customers stay differs between the 2 acquisition channels by more than chance "
                              "would explain.")
    why = ("Fewer than two acquisition channels with 20 or more customers who can be followed (no customers table "
           "with acquisition_channel and no channel column in the transactions, or too few customers): lifetimes "
           "cannot be compared by channel.")
    one = fd.lifetimes_by_channel(both.loc[both["acquisition_channel"] == "email"])
    assert (one.drawable, one.test, one.summary, one.sentence) == (False, None, None, why)
    none = fd.lifetimes_by_channel(lifetimes(20, 20))  # no channel column at all
    assert none.km is None and none.sentence == why


def test_lifetime_table_in_words():
    summary = pd.DataFrame({"customers": [1200, 35], "churned": [700, 30], "median_days": [np.inf, 0.0],
                            "survival_0d": [0.6, 0.2], "survival_90d": [0.55, 0.1], "survival_180d": [0.5, np.nan],
                            "survival_365d": [np.nan, np.nan]}, index=pd.Index(["email", "direct"], name="group"))
    words = fd.lifetime_table(summary, 153)
    assert words.index.name == "Acquisition channel"
    assert words.loc["email"].tolist() == ["1,200", "700", "60.0%", "over half still active", "55.0%", "50.0%", "-"]
    assert words.loc["direct", "Median active lifetime"] == "0 days (most never return)"
    # a median of 0 for every group says nothing: the column is left out
    assert "Median active lifetime" not in fd.lifetime_table(summary.assign(median_days=0.0), 153)


# ----------------------------------------------------------------------------- what less churn is worth


def test_what_if_sentences():
    w = WhatIf(0.05, 0.134, 0.1273, 729, 5.70, 12, 0.3, 0.1, 13.2, 734.4, 220.3, 24560.0, 7368.0, 0.0299,
               pd.DataFrame(), ["Monthly churn of 13.4 %.", "The 729 customers."])
    assert fd.what_if_sentence(w, "EUR") == (
        "Cutting the monthly churn rate by **5%** in relative terms (from 13.4% to 12.7%) keeps about **13 more of "
        "today's 729 live customers** after 12 months and brings **734 EUR** more revenue, **220 EUR** more gross "
        "margin (discounted) - **+3.0%** on the 7,368 EUR margin the current base would bring anyway. That is far "
        "below the literature's +25 to +125 %, which is on profit after fixed costs and over longer horizons; what "
        "matters is whether keeping those customers costs less than this margin. It is a floor: it follows only "
        "today's live customers at one flat churn rate, without comebacks or new customers, so it is below the CLV "
        "report's model-based value of the whole base.")
    assert fd.assumptions_sentence(w) == "Assumptions: (1) Monthly churn of 13.4 %. (2) The 729 customers."


# ----------------------------------------------------------------------------- the churn model's findings


METRICS = pd.DataFrame(
    {"roc_auc": [0.768, 0.731, 0.5, 0.439, 0.762], "pr_auc": [0.92, 0.89, 0.789, 0.827, 0.908],
     "brier": [0.14, np.nan, 0.166, np.nan, 0.134], "top_decile_capture": [0.124, 0.117, 0.1, 0.12, 0.118],
     "top_decile_lift": [1.23, 1.16, 1.0, 1.2, 1.18]},
    index=pd.Index(["model", "recency rule", "base rate", "BG/NBD 1 - P(alive)", "BG/NBD P(no purchase in window)"],
                   name="scorer"))
# four customers still active at the cutoff (recency under 30 days), two silent; 4 of 6 churn
TEST = pd.DataFrame({"recency_days": [5, 10, 20, 25, 40, 60], "churned": [False, True, False, True, True, True],
                     "p_model": [0.2, 0.6, 0.4, 0.7, 0.9, 0.8],
                     "bgnbd_p_no_purchase": [0.3, 0.4, 0.2, 0.9, 0.95, 0.85]},
                    index=pd.Index([f"C{i}" for i in range(1, 7)], name="customer_id"))
# |0.2 - 0.25| x 2 customers and |0.8 - 0.7| x 4: a gap of 0.5 / 6 = 8 % points
CALIBRATION = pd.DataFrame({"predicted": [0.2, 0.8], "observed": [0.25, 0.7], "customers": [2, 4]})


def fake_result(metrics=METRICS, test=TEST, **changes) -> cm.ChurnModelResult:
    availability = pd.DataFrame({"available": [True, False, False]},
                                index=pd.Index(["rfm", "channel", "nps"], name="group"))
    fields = dict(pipeline=None, train_cutoff=pd.Timestamp("2025-05-01"), test_cutoff=pd.Timestamp("2025-05-31"),
                  window_days=30.0, train_cutoffs=[pd.Timestamp("2025-04-01"), pd.Timestamp("2025-05-01")],
                  features=["recency_days"], availability=availability, train=pd.DataFrame(index=range(6)),
                  test=test, metrics=metrics, calibration=CALIBRATION,
                  importance=pd.DataFrame({"mean": [0.1, 0.05, 0.01]},
                                          index=["orders_in_window", "overdue_ratio", "nps_last"]),
                  bgnbd=None, model_kind="logistic", random_state=0)
    return cm.ChurnModelResult(**{**fields, **changes})


def test_model_trust_against_the_baselines():
    trust = fd.model_trust(fake_result(), min_active=4)
    assert (trust.auc, trust.recency_auc, trust.brier, trust.base_brier) == (0.768, 0.731, 0.14, 0.166)
    assert trust.beats_recency and trust.informative and trust.calibration_gap == pytest.approx(0.5 / 6)
    # test churn 4/6: the riskiest tenth churns at 1.23 x 4/6 = 82 %; no ranking can exceed 6/4 = 1.50 times
    assert trust.sentence == (
        "On the later test period the model ranks churners above stayers with a ROC AUC of **0.768**, against "
        "**0.731** for the recency rule and 0.762 for BG/NBD - it adds information beyond how long a customer has "
        "been silent; BG/NBD ranks almost as well, so the simpler model is a fair substitute for ranking. BG/NBD's "
        "probabilities are closer to what happened (Brier score 0.134 against the model's 0.140). The churn model's "
        "probabilities are informative: Brier score 0.140 against 0.166 for predicting the base rate to everybody; "
        "in the calibration plot the observed churn per tenth of predictions is on average 8% points from the "
        "prediction. The 10 % of customers it rates riskiest churn at 82% and hold 12% of all churners (1.23 times "
        "the base rate; with 67% churning anyway, no ranking can exceed 1.50 times). BG/NBD's P(alive) on its own "
        "ranks poorly (ROC AUC 0.44): the model lets customers drop out only after a repeat purchase, so it rates "
        "every one-time buyer as alive.")
    assert trust.plain_sentence == (
        "How good is the model, tested on a later period it had not seen? The model ranks a customer who leaves above "
        "one who stays 77 % of the time (50 % is a coin toss); sorting customers by the days since their last order "
        "does so 73 % of the time. So the model adds something beyond how long a customer has been silent. The 10 % "
        "of customers it rates riskiest hold **12%** of all customers who left (1.2 times their share). Its "
        "probabilities are close to what happened: on average 8% points off.")


def test_model_trust_among_the_customers_still_active():
    # active C1-C4, 2 of 4 churn. Model 0.2 0.6 0.4 0.7: every churner above every stayer, AUC 1;
    # recency 5 10 20 25: 3 of 4 pairs, 0.75; BG/NBD 0.3 0.4 0.2 0.9: AUC 1 (a tie with the model)
    trust = fd.model_trust(fake_result(), min_active=4)
    assert len(trust.active) == 4 and trust.judge_active and not trust.bgnbd_better_on_active
    assert trust.active_metrics.loc[["model", "recency rule"], "roc_auc"].tolist() == [1.0, 0.75]
    assert trust.active_sentence == (
        "Many test customers had already gone silent for 30 days at the cutoff, and they churn almost surely; among "
        "the **4 customers still active** then (the ones a retention campaign can still reach) 50% churned, and the "
        "model's ROC AUC is **1.000** against 0.750 for the recency rule and 1.000 for BG/NBD: the model still ranks "
        "best where it matters. Its riskiest tenth of them churns at 100%.")
    assert trust.analyst_sentences == [trust.sentence, trust.active_sentence]
    # the model's scores 0.5 0.45 0.4 0.7: 3 of 4 pairs; BG/NBD ranks them better
    worse = fd.model_trust(fake_result(test=TEST.assign(p_model=[0.5, 0.45, 0.4, 0.7, 0.9, 0.8])), min_active=4)
    assert worse.bgnbd_better_on_active
    assert "a baseline ranks these customers at least as well, so the at-risk list below shows BG/NBD's probability " \
           "too." in worse.active_sentence


def test_too_few_active_customers_are_not_judged():
    trust = fd.model_trust(fake_result())  # 4 still active, fewer than 20
    assert not trust.judge_active and not trust.bgnbd_better_on_active
    assert trust.active_sentence == "" and trust.analyst_sentences == [trust.sentence]
    one_class = fd.model_trust(fake_result(test=TEST.assign(churned=[True] * 6)), min_active=4)
    assert not one_class.judge_active


def test_a_model_that_loses_to_the_rule_and_the_base_rate_says_so():
    metrics = METRICS.loc[["model", "recency rule", "base rate"]].copy()
    metrics.loc["model", ["roc_auc", "brier"]] = [0.70, 0.18]
    trust = fd.model_trust(fake_result(metrics=metrics))
    assert not trust.beats_recency and not trust.informative
    assert trust.sentence.startswith(
        "On the later test period the model ranks churners above stayers with a ROC AUC of **0.700**, against "
        "**0.731** for the recency rule - it does not beat the simple recency rule here, so use the rule. The churn "
        "model's probabilities are **not** better than predicting the base rate to everybody (Brier score 0.180 "
        "against 0.166): with 6 training snapshots there is too little history; use the scores as a rough ranking at "
        "most. The 10 % of customers")
    assert "P(alive)" not in trust.sentence
    # 0.700 against 0.731: worse than sorting by days since the last order, so its list is not to be used
    assert "So the model ranks worse than that simple rule (or no better than chance): **do not use its list**" \
        in trust.plain_sentence
    assert trust.plain_sentence.endswith("Its probabilities are no better than saying the average churn rate for "
                                         "everybody.")
    close = metrics.copy()
    close.loc["model", "roc_auc"] = 0.72  # within 0.02 of the rule: as good, the rule is simpler
    assert "So the simple rule does as well: use it. " in fd.model_trust(fake_result(metrics=close)).plain_sentence


def test_bgnbd_ranking_better_overall_is_worth_using_alongside():
    metrics = METRICS.copy()
    metrics.loc["BG/NBD P(no purchase in window)", ["roc_auc", "brier"]] = [0.80, 0.15]
    metrics.loc["BG/NBD 1 - P(alive)", "roc_auc"] = 0.6  # not below 0.6: not called poor
    sentence = fd.model_trust(fake_result(metrics=metrics)).sentence
    assert "; BG/NBD's probability of no order ranks a little better here (0.800), so it is worth using " \
           "alongside. The churn model's" in sentence
    assert "closer to what happened" not in sentence and "P(alive)" not in sentence


def test_training_sentence_names_cutoffs_missing_features_and_notes():
    result = fake_result(notes=["Feature importance is measured on a random sample of 20,000 test customers."])
    assert fd.training_sentence(result) == (
        "Trained on customers as of **01 Apr 2025, 01 May 2025** (6 customer snapshots, labels ending by 31 May 2025) "
        "and tested on **6** customers as of **31 May 2025**, of whom 67% did not order in the following 30 days. Not "
        "available in this data: **channel, nps** - the model uses the other features. Feature importance is measured "
        "on a random sample of 20,000 test customers.")
    everything = fake_result(availability=pd.DataFrame({"available": [True]}, index=pd.Index(["rfm"], name="group")))
    assert fd.training_sentence(everything).endswith("following 30 days. Every feature group was available.")


def test_scorer_table_and_roc_columns_in_words():
    words = fd.scorer_table(METRICS, 30.0)
    assert words.index.name == "Scorer (test period)"
    assert list(words.index) == ["Churn model", "Recency rule (days since last order)", "Base rate (no model)",
                                 "BG/NBD: 1 - P(alive)", "BG/NBD: P(no order in 30 days)"]
    # the churn rate in the riskiest 10 % = lift x the base rate's PR AUC (the churn rate): 1.23 x 0.789 = 97.0 %
    assert words.loc["Churn model"].tolist() == ["0.768", "0.920", "0.140", "97.0%", "12.4%", "1.23x"]
    assert words.loc["Recency rule (days since last order)", "Brier score"] == "-"
    assert fd.scorer_columns(TEST, 30.0) == {"churn model": "p_model", "recency rule": "recency_days",
                                             "BG/NBD P(no order in 30 d)": "bgnbd_p_no_purchase"}
    assert list(fd.scorer_columns(TEST.drop(columns="bgnbd_p_no_purchase"), 30.0)) == ["churn model", "recency rule"]


def test_feature_table_says_why_a_group_is_missing_only_when_one_is():
    tx = make_tx(HAND)
    words = fd.feature_table({"transactions": tx})
    assert words.loc["Recency, frequency, spend", "Available"] == "yes"
    assert words.loc["NPS survey"].tolist() == ["no", "Last NPS score; NPS surveys answered", "no surveys table"]
    full = {"transactions": tx.assign(channel="email"),
            "events": pd.DataFrame({"customer_id": ["C1"], "timestamp": [pd.Timestamp("2024-01-01")]}),
            "surveys": pd.DataFrame({"customer_id": ["C1"], "score": [9]})}
    assert list(fd.feature_table(full).columns) == ["Available", "Features"]


def test_importance_sentence():
    assert fd.importance_sentence(fake_result().importance) == (
        "The model leans most on **orders in the last window, silence vs own usual gap (days since last order / "
        "average gap), last nps score**: mixing up each of them at random costs the model the most of its ranking "
        "accuracy on the test period.")
    assert fd.importance_sentence(pd.DataFrame({"mean": []})) == ("The model has no features whose importance could "
                                                                  "be measured.")


# ----------------------------------------------------------------------------- customers at risk


def at_risk_frame(**columns) -> pd.DataFrame:
    frame = pd.DataFrame({"p_churn": [0.824, 0.561], "value": [229.0, 485.4], "value_at_risk": [188.7, 272.3],
                          "status": ["active", "active"], "recency_days": [147.0, 126.0], "frequency": [9.0, 13.0],
                          "acquisition_channel": ["paid_social", "email"], **columns},
                         index=pd.Index(["C1815", "C0615"], name="customer_id"))
    frame.attrs["value_threshold"] = 85.67
    return frame


def test_at_risk_sentence_counts_and_values_the_list():
    trust = fd.model_trust(fake_result(test=TEST.assign(p_model=[0.5, 0.45, 0.4, 0.7, 0.9, 0.8])), min_active=4)
    at_risk = at_risk_frame()
    text = fd.at_risk_sentence(at_risk, at_risk, min_probability=0.5, window_days=153, currency="EUR", exported=True,
                               trust=trust)
    assert text == ("**2 high-value live customers** (an order in the last 153 days, 12-month revenue of at least "
                    "85.67 EUR) have a churn probability of 50% or more; together they bought **714 EUR** in the last "
                    "12 months, 461 EUR of it weighted by their risk. The full list is exported as "
                    "`churn_at_risk_customers.csv`.")
    listed = fd.at_risk_sentence(at_risk.assign(bgnbd_p_no_order=[0.97, 0.59]), at_risk, min_probability=0.5,
                                 window_days=153, currency="EUR", exported=False, trust=trust)
    # among the active test customers BG/NBD ranks every pair right (100 %), the model 3 of 4 (75 %)
    assert listed.endswith("Run with an output folder (lclib run) to export the full list. The purchase model (BG/NBD) "
                           "ranked the customers still active at the test cutoff better than the churn model (100 % of "
                           "pairs against 75 %), so its probability of no order is listed too: customers high on both "
                           "are the safest picks for a campaign.")
    assert fd.at_risk_revenue(at_risk) == pytest.approx(714.4)


def test_an_empty_at_risk_list_says_how_close_anyone_came():
    scored = at_risk_frame(p_churn=[0.42, 0.3])
    empty = scored.iloc[:0]
    assert fd.at_risk_sentence(empty, scored, min_probability=0.5, window_days=90, currency="EUR", exported=True) == (
        "**No active customer reaches a churn probability of 50%** (the highest is 42.0%), so the list is empty: "
        "lower the threshold (a setting of the configuration) or rank by value at risk in the churn scores export. "
        "The full list is exported as `churn_at_risk_customers.csv`.")
    lapsed = scored.assign(status="lapsed")
    assert "(the highest is undefined)" in fd.at_risk_sentence(empty, lapsed, min_probability=0.5, window_days=90,
                                                               currency="EUR", exported=True)
    assert fd.at_risk_revenue(empty) is None and fd.at_risk_revenue(None) is None


def test_at_risk_table_in_words():
    words = fd.at_risk_table(at_risk_frame(bgnbd_p_no_order=[0.968, 0.592]), 153, "EUR", names={"email": "Newsletter"})
    assert words.index.name == "Customer"
    assert list(words.columns) == ["Churn probability", "Revenue, last 12 months (EUR)", "Value at risk (EUR)",
                                   "Days since last order", "Orders", "Purchase model: chance of no order in 153 days",
                                   "Channel"]
    assert words.loc["C1815"].tolist() == ["82.4%", "229", "189", "147", "9", "96.8%", "Paid social"]
    assert words.loc["C0615", "Channel"] == "Newsletter"
    plain = fd.at_risk_table(at_risk_frame().drop(columns="acquisition_channel"), 153, "EUR", rows=1)
    assert len(plain) == 1 and list(plain.columns)[-1] == "Orders"


def test_bgnbd_is_refitted_only_where_it_ranked_better():
    tx = make_tx(HAND)
    at_risk = at_risk_frame()
    not_better = fd.model_trust(fake_result(), min_active=4)
    assert fd.at_risk_with_bgnbd(at_risk, not_better, tx, pd.Timestamp("2024-04-01"), 30) is at_risk
    better = fd.model_trust(fake_result(test=TEST.assign(p_model=[0.5, 0.45, 0.4, 0.7, 0.9, 0.8])), min_active=4)
    assert fd.at_risk_with_bgnbd(at_risk.iloc[:0], better, tx, pd.Timestamp("2024-04-01"), 30).empty
    # six customers cannot support a BG/NBD fit: no probability, the list stays as it is
    kept = fd.at_risk_with_bgnbd(at_risk, better, tx, pd.Timestamp("2024-04-01"), 30)
    assert "bgnbd_p_no_order" not in kept and kept.equals(at_risk)

