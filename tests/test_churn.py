"""Tests for lclib.analysis.churn: inactivity window, churn rates, lifetimes, survival, what-if, drop-off.

The hand-built table is the one of tests/test_cohorts.py (as_of 2024-04-01, window 30
days); expected values are worked out in the comments.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import churn as ch
from lclib.analysis.intervals import wilson_interval
from lclib.analysis.journey import stage_entries
from lclib.io.columns import ACQUISITION_CHANNEL, CHANNEL, CUSTOMER_ID, ORDER_ID, TIMESTAMP
from lclib.config import Stage, load_config

from test_cohorts import AS_OF, HAND, make_tx, random_transactions

SAMPLE = Path(__file__).parents[1] / "data" / "sample"


@pytest.fixture
def hand() -> pd.DataFrame:
    return make_tx(HAND)


# ----------------------------------------------------------------------------- inactivity window


def test_window_is_the_quantile_of_gaps_rounded_up(hand):
    # gaps: C1 15 and 50 days, C2 1, C4 34, C6 24 (orders after as_of ignored)
    w = ch.inactivity_window(hand, None, 0.5, as_of=AS_OF, min_gaps=1)
    assert sorted(w.gaps.tolist()) == [1.0, 15.0, 24.0, 34.0, 50.0]
    assert w.days == 24 and w.source == "data"
    w = ch.inactivity_window(hand, None, 0.9, as_of=AS_OF, min_gaps=1)
    assert w.days == int(np.ceil(np.quantile([1, 15, 24, 34, 50], 0.9)))  # 43.6 -> 44
    assert w.share_within == pytest.approx(0.8)


def test_configured_window_wins_and_too_few_gaps_fall_back(hand):
    w = ch.inactivity_window(hand, 90, 0.9, as_of=AS_OF)
    assert (w.days, w.source) == (90, "config") and "as set in the configuration" in w.sentence
    assert "churn.inactivity_days" not in w.sentence  # a manager reads words, not keys
    w = ch.inactivity_window(hand, None, 0.9, as_of=AS_OF)  # 5 gaps < MIN_GAPS
    assert (w.days, w.source) == (ch.FALLBACK_WINDOW_DAYS, "fallback")
    with pytest.raises(ValueError, match="quantile"):
        ch.inactivity_window(hand, None, 1.5)


# ----------------------------------------------------------------------------- churn rate


def test_churn_rate_by_month_on_the_hand_table(hand):
    rates = ch.churn_rate_by_period(hand, 30, AS_OF)
    # February (start Feb 1): active C1 (last order Jan 20) and C2 (Jan 31);
    #   C1's next order is 50 days later -> churn date Feb 19, in February; C2 returns.
    # March (start Mar 1): active C2 (Feb 1), C3 (Feb 15), C4 (Feb 20), C6 (Feb 25);
    #   churn dates C2 Mar 2, C3 Mar 16, C4 Mar 21 (next order 34 days later); C6 returns.
    assert [str(p) for p in rates.index] == ["2024-02", "2024-03"]
    assert rates["active_start"].tolist() == [2, 4]
    assert rates["churned"].tolist() == [1, 3]
    assert rates["churn_rate"].tolist() == [0.5, 0.75]
    # revenue from the active customers: Feb C2's 12; Mar C4's 5 + C6's 10
    assert rates["base_revenue"].tolist() == [12.0, 15.0]
    lo, hi = wilson_interval(3, 4)
    assert rates.loc[pd.Period("2024-03", "M"), "lower"] == pytest.approx(float(lo))


def test_churn_rate_periods_stop_at_the_last_complete_one(hand):
    rates = ch.churn_rate_by_period(hand, 30, "2024-03-20")
    assert [str(p) for p in rates.index] == ["2024-02"]


def test_active_customers_at_as_of(hand):
    # last order within 30 days of Apr 1: C1 (Mar 10), C4 (Mar 25), C5 (Mar 31), C6 (Mar 20)
    assert sorted(ch.active_customers(hand, 30, AS_OF)) == ["C1", "C4", "C5", "C6"]


# ----------------------------------------------------------------------------- lifetimes and survival


def test_lifetimes_on_the_hand_table(hand):
    life = ch.churn_lifetimes(hand, 30, AS_OF)
    # C1: first churn after the Jan 20 order -> 15 days; C2: after Feb 1 -> 1 day;
    # C3, C4: after the first order -> 0; C6: still active -> censored at
    # (Apr 1 - 30 d) - Feb 25 = 6 days; C5 bought less than 30 days before as_of: left out
    assert life.index.tolist() == ["C1", "C2", "C3", "C4", "C6"]
    assert life["lifetime_days"].tolist() == [15.0, 1.0, 0.0, 0.0, 6.0]
    assert life["churned"].tolist() == [True, True, True, True, False]
    assert ACQUISITION_CHANNEL not in life  # no channel anywhere


def test_lifetime_channel_comes_from_customers_else_first_order(hand):
    tx = hand.assign(**{CHANNEL: "email"})
    tx.loc[tx[CUSTOMER_ID] == "C3", CHANNEL] = "direct"
    life = ch.churn_lifetimes(tx, 30, AS_OF)
    assert life.loc["C3", ACQUISITION_CHANNEL] == "direct" and life.loc["C1", ACQUISITION_CHANNEL] == "email"
    customers = pd.DataFrame({CUSTOMER_ID: ["C1"], ACQUISITION_CHANNEL: ["referral"]})
    life = ch.churn_lifetimes(tx, 30, AS_OF, customers=customers)
    assert life.loc["C1", ACQUISITION_CHANNEL] == "referral" and life.loc["C3", ACQUISITION_CHANNEL] == "unknown"


def naive_kaplan_meier(durations: np.ndarray, events: np.ndarray) -> dict[float, float]:
    """Product-limit estimate, written out: S(t) = prod over event times (1 - d / n)."""
    s, out = 1.0, {}
    for t in np.unique(durations):
        at_risk = np.sum(durations >= t)
        deaths = np.sum((durations == t) & events)
        s *= 1 - deaths / at_risk
        out[float(t)] = s
    return out


def test_kaplan_meier_equals_the_product_limit_formula():
    rng = np.random.default_rng(5)
    n = 300
    life = pd.DataFrame({"lifetime_days": np.round(rng.exponential(60, n)),  # rounded: many ties
                         "churned": rng.random(n) < 0.7,
                         "grp": rng.choice(["a", "b"], n)})
    km = ch.kaplan_meier(life, by="grp")
    for g in ("a", "b"):
        part = life.loc[life["grp"] == g]
        ref = naive_kaplan_meier(part["lifetime_days"].to_numpy(), part["churned"].to_numpy())
        got = km.loc[km["group"] == g].set_index("days")["survival"]
        for t, v in ref.items():
            assert got[t] == pytest.approx(v, abs=1e-12)
    summary = ch.lifetime_summary(life, by="grp", at_days=(0, 30))
    assert summary.loc["a", "customers"] == (life["grp"] == "a").sum()


def test_logrank_equals_statsmodels_and_detects_a_real_difference():
    from statsmodels.duration.survfunc import survdiff

    rng = np.random.default_rng(11)
    n = 400
    grp = rng.choice(["short", "long", "mid"], n)
    scale = pd.Series(grp).map({"short": 20.0, "mid": 45.0, "long": 80.0}).to_numpy()
    life = pd.DataFrame({"lifetime_days": rng.exponential(scale), "churned": rng.random(n) < 0.8,
                         ACQUISITION_CHANNEL: grp})
    res = ch.logrank_by(life, ACQUISITION_CHANNEL)
    stat, p = survdiff(life["lifetime_days"], life["churned"].astype(int), life[ACQUISITION_CHANNEL])
    assert res.statistic == pytest.approx(stat, rel=1e-9) and res.p_value == pytest.approx(p, rel=1e-6)
    assert res.dof == 2 and res.p_value < 1e-3 and "differ" in res.sentence


def test_logrank_needs_two_groups():
    life = pd.DataFrame({"lifetime_days": [1.0] * 30, "churned": [True] * 30, ACQUISITION_CHANNEL: ["a"] * 30})
    assert np.isnan(ch.logrank_by(life, ACQUISITION_CHANNEL).p_value)


# ----------------------------------------------------------------------------- what-if


def test_what_if_equals_the_geometric_closed_form():
    months = pd.period_range("2024-01", periods=12, freq="M")
    rates = pd.DataFrame({"active_start": 100, "churned": 10, "base_revenue": 1000.0}, index=months)
    w = ch.churn_what_if(rates, active=50, reduction=0.5, horizon_months=12, margin=0.3)
    # churn 10 % a month, 10 per active customer-month; halved churn = 5 %
    assert w.monthly_churn == pytest.approx(0.1) and w.revenue_per_active_month == pytest.approx(10)
    base = 50 * 10 * (1 - 0.9**12) / 0.1
    better = 50 * 10 * (1 - 0.95**12) / 0.05
    assert w.baseline_revenue == pytest.approx(base)
    assert w.extra_revenue == pytest.approx(better - base)
    assert w.extra_margin == pytest.approx(0.3 * (better - base))
    assert w.customers_kept == pytest.approx(50 * (0.95**12 - 0.9**12))
    assert w.margin_uplift == pytest.approx((better - base) / base)
    assert w.curve.loc[0.0, "extra_revenue"] == 0


def test_what_if_discounts_each_month():
    rates = pd.DataFrame({"active_start": [10], "churned": [0], "base_revenue": [100.0]},
                         index=pd.period_range("2024-01", periods=1, freq="M"))
    w = ch.churn_what_if(rates, active=1, reduction=0.1, horizon_months=12, margin=1.0,
                         discount_rate_annual=0.1)
    # no churn: 12 months of 10, each discounted at (1.1)^(h/12): the sum is 120 / 1.1^(mean)
    expected = sum(10 / 1.1 ** (h / 12) for h in range(1, 13))
    assert w.baseline_revenue == pytest.approx(expected)


# ----------------------------------------------------------------------------- drop-off


STAGES = [Stage(name="reach", events=["visit"], kpi="visits"),
          Stage(name="signup", facts=["signup"], kpi="lead_rate", target=0.5),
          Stage(name="buy", facts=["first_purchase"], kpi="conversion_rate", target=0.8),
          Stage(name="again", facts=["repeat_purchase"], kpi="retention_rate", target=0.2)]


@pytest.fixture
def reached() -> pd.DataFrame:
    # 10 people reach; 6 sign up; 3 buy (plus person 9 buys without signing up: not in the
    # strict funnel); 2 buy again. Revenue: buyers 30, repeat buyers 90.
    r = pd.DataFrame({"reach": [True] * 10,
                      "signup": [True] * 6 + [False] * 4,
                      "buy": [True, True, True, False, False, False, False, False, True, False],
                      "again": [True, True] + [False] * 8,
                      "grp": list("aaaaabbbbb")})
    r["revenue"] = np.where(r["again"], 90.0, np.where(r["buy"], 30.0, 0.0))
    r["customer"] = r["buy"]
    return r


def test_an_nps_target_is_not_a_conversion_target(reached):
    # a stage measured by NPS carries an NPS target (0.3 = NPS 30), not a share of the previous stage
    stages = STAGES[:3] + [Stage(name="again", facts=["repeat_purchase"], kpi="nps", target=-0.2)]
    d = ch.stage_dropoff(reached, stages)
    assert np.isnan(d.loc[2, "target"]) and not d.loc[2, "significantly_below"]
    assert ch.stage_improvement(reached, stages).loc[2, "extra"] == 0


def test_stage_dropoff_on_a_hand_funnel(reached):
    d = ch.stage_dropoff(reached, STAGES)
    assert d["entered"].tolist() == [10, 6, 3] and d["reached"].tolist() == [6, 3, 2]
    assert d["lost"].tolist() == [4, 3, 1]
    assert d["conversion"].tolist() == pytest.approx([0.6, 0.5, 2 / 3])
    assert d["gap"].tolist() == pytest.approx([0.1, -0.3, 2 / 3 - 0.2])
    assert d["shortfall"].tolist() == pytest.approx([0, 1.8, 0])  # (0.8 - 0.5) x 6
    lo, hi = wilson_interval(3, 6)
    assert d.loc[1, "lower"] == pytest.approx(float(lo)) and d.loc[1, "upper"] == pytest.approx(float(hi))
    assert not d["significantly_below"].any()  # 6 people: the interval reaches 0.8


def test_stage_dropoff_by_group_and_timestamps(reached):
    ts = reached.copy()
    for c in ("reach", "signup", "buy", "again"):
        ts[c] = pd.Series(pd.Timestamp("2024-01-01"), index=ts.index).where(reached[c])
    d = ch.stage_dropoff(ts, STAGES, by="grp")
    a = d.loc[d["group"] == "a"]
    # group a = people 0-4: all signed up, 0-2 bought, 0-1 again
    assert a["entered"].tolist() == [5, 5, 3] and a["reached"].tolist() == [5, 3, 2]
    b = d.loc[d["group"] == "b"]
    # group b = people 5-9: only 5 signed up and did not buy (8 bought without signing up);
    # the step nobody entered is left out
    assert b["entered"].tolist() == [5, 1] and b["reached"].tolist() == [1, 0]
    with pytest.raises(ValueError, match="stage column"):
        ch.stage_dropoff(reached.drop(columns="buy"), STAGES)


def test_stage_improvement_values_the_gap_to_target(reached):
    imp = ch.stage_improvement(reached, STAGES, value="revenue", customer="customer")
    buy = imp.set_index("stage").loc["buy"]
    # buy: 0.5 -> target 0.8 of 6 signed-up people = 1.8 more buyers
    assert buy["extra"] == pytest.approx(1.8)
    # they continue to "again" at today's 2/3
    assert buy["extra_last_stage"] == pytest.approx(1.8 * 2 / 3)
    # worth: mean revenue of buyers (90 + 90 + 30) / 3 = 70 minus stopped-at-signup (0)
    assert buy["extra_revenue"] == pytest.approx(1.8 * 70)
    assert buy["extra_customers"] == pytest.approx(1.8)
    assert imp.set_index("stage").loc[["signup", "again"], "extra"].tolist() == [0, 0]  # above target
    lifted = ch.stage_improvement(reached, STAGES, value="revenue", lift=0.1).set_index("stage")
    assert lifted.loc["signup", "extra"] == pytest.approx(0.06 * 10)
    # people who signed up are worth (90 + 90 + 30) / 6 = 35; those who stopped at reach
    # (6-9) 30 / 4 = 7.5 (person 8 bought without signing up)
    assert lifted.loc["signup", "extra_revenue"] == pytest.approx(0.6 * (35 - 7.5))


# ----------------------------------------------------------------------------- on the sample (known truth)


@pytest.fixture(scope="module")
def sample():
    from lclib.io.dataset import load_dataset

    cfg = load_config()
    return cfg, load_dataset(cfg)


def test_stage_rates_by_channel_equal_the_samples_realized_truth(sample):
    cfg, data = sample
    truth = json.loads((SAMPLE / "ground_truth.json").read_text())["realized"]["rates"]
    reached, skipped = stage_entries(data.tables, cfg.journey.stages)
    assert skipped == []
    d = ch.stage_dropoff(reached, cfg.journey.stages, by="channel").set_index(["group", "stage"])
    for key, stage in (("reach_to_acquisition", "acquisition"), ("acquisition_to_conversion", "conversion"),
                       ("conversion_to_retention", "retention")):
        for channel, rate in truth[key].items():
            assert d.loc[(channel, stage), "conversion"] == pytest.approx(rate, abs=5e-6), (key, channel)


def test_transactions_only_reach_table_skips_what_it_cannot_see(sample):
    cfg, data = sample
    reached, skipped = stage_entries({"transactions": data.transactions}, cfg.journey.stages)
    assert skipped == ["reach", "acquisition", "advocacy"]
    assert set(reached.columns) >= {"conversion", "retention", "channel", "revenue"}
    assert reached["conversion"].notna().sum() == data.transactions[CUSTOMER_ID].nunique()


def test_sample_lifetimes_do_not_differ_by_channel_as_simulated(sample):
    # every channel shares one BG/NBD repeat process in the sample
    cfg, data = sample
    w = ch.inactivity_window(data.transactions, cfg.churn.inactivity_days, cfg.churn.inactivity_quantile)
    life = ch.churn_lifetimes(data.transactions, w.days, customers=data.customers)
    assert ch.logrank_by(life, ACQUISITION_CHANNEL).p_value > 0.01
    # customers whose first purchase is older than the window: most one-time buyers churn at day 0
    assert life.loc[life["lifetime_days"] == 0, "churned"].all()


def test_churn_rates_on_random_data_equal_a_naive_count():
    tx = random_transactions(7)
    as_of = pd.Timestamp("2024-06-01")
    w = pd.Timedelta(days=40)
    rates = ch.churn_rate_by_period(tx, 40, as_of)
    orders = tx.loc[tx[TIMESTAMP] < as_of].groupby([CUSTOMER_ID, ORDER_ID])[TIMESTAMP].min()
    for period in rates.index[::4]:
        s, e = period.start_time, period.end_time.ceil("D")
        active = churned = 0
        for _, times in orders.groupby(level=0):  # naive: loop over customers
            times = np.sort(times.to_numpy())
            before = times[times < s]
            if not len(before) or before[-1] + w <= s:
                continue
            active += 1
            nxt = times[times >= s]
            churn_date = before[-1] + w
            if churn_date < e and churn_date <= as_of and (not len(nxt) or nxt[0] >= churn_date):
                churned += 1
        assert (rates.loc[period, "active_start"], rates.loc[period, "churned"]) == (active, churned), period


def test_churn_rate_leaves_out_the_warm_up_before_anyone_can_churn(hand):
    # first order Jan 5 + 60 days = Mar 5: nobody can churn before; February ends earlier
    rates = ch.churn_rate_by_period(hand, 60, AS_OF)
    assert [str(p) for p in rates.index] == ["2024-03"]


def test_pooled_churn_rate_sums_the_recent_periods():
    months = pd.period_range("2024-01", periods=4, freq="M")
    rates = pd.DataFrame({"active_start": [0, 100, 50, 50], "churned": [0, 30, 5, 15]}, index=months)
    pooled = ch.pooled_churn_rate(rates, recent_periods=2)
    assert pooled.rate == pytest.approx(20 / 100) and pooled.periods == 2
    assert (str(pooled.first), str(pooled.last)) == ("2024-03", "2024-04")
    lo, hi = wilson_interval(20, 100)
    assert (pooled.lower, pooled.upper) == (pytest.approx(float(lo)), pytest.approx(float(hi)))
    # months without active customers are skipped, not pooled as zeros
    assert ch.pooled_churn_rate(rates, 12).rate == pytest.approx(50 / 200)
    with pytest.raises(ValueError, match="recent_periods"):
        ch.pooled_churn_rate(rates, 0)


def test_kaplan_meier_orders_cohorts_in_time_not_by_size():
    life = pd.DataFrame({"lifetime_days": np.arange(90.0), "churned": True,
                         "cohort": pd.PeriodIndex(["2024Q2"] * 50 + ["2024Q1"] * 40, freq="Q")})
    km = ch.kaplan_meier(life, by="cohort")
    assert list(dict.fromkeys(km["group"])) == ["2024Q1", "2024Q2"]


def test_survival_sample_has_the_cap_size_and_the_same_curve():
    rng = np.random.default_rng(5)
    n = 20_000
    life = pd.DataFrame({"lifetime_days": rng.exponential(200, n), "churned": rng.random(n) < 0.8},
                        index=pd.Index([f"K{i:05d}" for i in range(n)], name=CUSTOMER_ID))
    assert ch.sample_lifetimes(life, None) is life and ch.sample_lifetimes(life, n) is life
    part = ch.sample_lifetimes(life, 5_000, random_state=1)
    assert len(part) == 5_000 and part.index.is_unique and part.index.is_monotonic_increasing
    pd.testing.assert_frame_equal(part, ch.sample_lifetimes(life, 5_000, random_state=1))
    full, sub = ch.lifetime_summary(life), ch.lifetime_summary(part)
    for d in (90, 180, 365):  # Kaplan-Meier on the sample is within sampling error of the full curve
        assert sub[f"survival_{d}d"].iloc[0] == pytest.approx(full[f"survival_{d}d"].iloc[0], abs=0.02)


def test_functions_given_the_orders_equal_the_ones_that_collapse_the_lines():
    from lclib.engine.orders import orders_table
    from lclib.analysis.cohorts import repeat_purchase_curve

    tx = random_transactions(7, n_customers=300)
    tx[CHANNEL] = np.random.default_rng(7).choice(["email", "search", "social"], len(tx))
    as_of = tx[TIMESTAMP].max().normalize() + pd.Timedelta(days=1)
    orders = orders_table(tx, as_of)
    pd.testing.assert_frame_equal(ch.churn_rate_by_period(tx, 40, as_of), ch.churn_rate_by_period(tx, 40, as_of,
                                                                                                 orders=orders))
    pd.testing.assert_frame_equal(ch.churn_lifetimes(tx, 40, as_of), ch.churn_lifetimes(tx, 40, as_of, orders=orders))
    pd.testing.assert_frame_equal(repeat_purchase_curve(tx, 40, as_of), repeat_purchase_curve(tx, 40, as_of,
                                                                                              orders=orders))
    pd.testing.assert_index_equal(ch.active_customers(tx, 40, as_of), ch.active_customers(tx, 40, as_of,
                                                                                          orders=orders))
    assert ch.inactivity_window(tx, as_of=as_of).days == ch.inactivity_window(tx, as_of=as_of, orders=orders).days


def test_active_customers_are_the_same_whatever_the_order_of_the_orders(hand):
    """Counted on customer numbers, not a group-by of the ids: sorted ids out, for sorted or shuffled orders."""
    from lclib.engine.orders import orders_table

    orders = orders_table(hand, AS_OF)
    want = ch.active_customers(hand, 30, AS_OF)
    shuffled = ch.active_customers(hand, 30, AS_OF, orders=orders.sample(frac=1, random_state=3))
    pd.testing.assert_index_equal(shuffled, want)
    assert want.tolist() == ["C1", "C4", "C5", "C6"] and want.name == "customer_id"
    assert ch.active_customers(hand, 30, AS_OF, orders=orders.iloc[:0]).empty
