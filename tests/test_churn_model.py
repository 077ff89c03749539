"""Tests for lclib.analysis.churn_model: features as of a cutoff, labels, time-based split, metrics, baselines.

Hand-computed cases use the table of tests/test_cohorts.py; model checks run on the
shipped sample (simulated from a known BG/NBD churn process with a fixed seed) with
``churn.random_state`` 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import churn as ch
from lclib.analysis import churn_model as cm
from lclib.engine.contracts import resolve_as_of
from lclib.io.columns import ACQUISITION_CHANNEL, AMOUNT, CHANNEL, CUSTOMER_ID, EVENT_TYPE, ORDER_ID, SCORE, TIMESTAMP
from lclib.config import load_config

from test_cohorts import HAND, make_tx

CUT = pd.Timestamp("2024-03-01")


@pytest.fixture
def hand() -> pd.DataFrame:
    return make_tx(HAND)


# ----------------------------------------------------------------------------- hand-computed features and labels


def test_labels_are_no_order_in_the_window_after_the_cutoff(hand):
    y = cm.churn_labels(hand, CUT, 30)
    # window [Mar 1, Mar 31): C1 back Mar 10, C4 Mar 25, C6 Mar 20; C2 and C3 silent;
    # C5 first buys Mar 31 (after the cutoff): not a customer at the cutoff
    assert y.index.tolist() == ["C1", "C2", "C3", "C4", "C6"]
    assert y.tolist() == [False, True, True, False, False]
    # the window is half-open: C5's Mar 31 order is outside [Mar 1, Mar 31) and C1's Apr 2 too
    assert cm.churn_labels(hand, "2024-03-11", 20)["C1"]


def test_features_on_the_hand_table(hand):
    f = cm.churn_features({"transactions": hand}, CUT, 30)
    assert f.index.tolist() == ["C1", "C2", "C3", "C4", "C6"]
    c1, c2, c3 = f.loc["C1"], f.loc["C2"], f.loc["C3"]
    # C1: orders Jan 5 (10) and Jan 20 (5): 41 days silent, one 15-day gap, first order 56 days ago
    assert (c1["recency_days"], c1["frequency"], c1["monetary_total"], c1["monetary_mean"]) == (41, 2, 15, 7.5)
    assert (c1["tenure_days"], c1["ipt_mean_days"], c1["ipt_last_days"]) == (56, 15, 15)
    assert c1["overdue_ratio"] == pytest.approx(41 / 15) and np.isnan(c1["ipt_std_days"])
    assert (c1["orders_in_window"], c1["revenue_in_window"]) == (0, 0)
    # C2: Jan 31 and Feb 1 are both within the last 30 days (from Jan 31 00:00)
    assert (c2["recency_days"], c2["orders_in_window"], c2["revenue_in_window"], c2["ipt_mean_days"]) == (
        29, 2, 20, 1)
    # C3: one order of two lines (10 + 20) on Feb 15: no gaps
    assert (c3["frequency"], c3["monetary_total"], c3["recency_days"]) == (1, 30, 15)
    assert np.isnan(c3["ipt_mean_days"]) and np.isnan(c3["overdue_ratio"])
    # transactions without channel, no other tables: only the transaction groups
    assert list(f.columns) == [c for g in ("rfm", "tenure", "inter_purchase") for c in cm.FEATURE_GROUPS[g][0]]


def test_engagement_nps_and_channel_features_on_a_hand_case(hand):
    tx = hand.assign(**{CHANNEL: "email"})
    events = pd.DataFrame({CUSTOMER_ID: ["C1", "C1", "C1", "C2", None],
                           TIMESTAMP: pd.to_datetime(["2024-01-10", "2024-02-20", "2024-03-05", "2024-02-28",
                                                      "2024-02-28"]),
                           EVENT_TYPE: "visit"})
    surveys = pd.DataFrame({CUSTOMER_ID: ["C1", "C1", "C2"],
                            TIMESTAMP: pd.to_datetime(["2024-01-21", "2024-02-10", "2024-03-02"]),
                            SCORE: [3.0, 9.0, 0.0]})
    customers = pd.DataFrame({CUSTOMER_ID: ["C1"], ACQUISITION_CHANNEL: ["referral"]})
    f = cm.churn_features({"transactions": tx, "events": events, "surveys": surveys, "customers": customers},
                          CUT, 30)
    # C1: events Jan 10 and Feb 20 before the cutoff (Mar 5 is after): 1 in 30 days, 10 days since the
    # last (2024 is a leap year)
    assert f.loc["C1", ["events_30d", "events_in_window", "days_since_event"]].tolist() == [1, 1, 10]
    assert f.loc["C3", ["events_30d", "events_in_window"]].tolist() == [0, 0]
    assert np.isnan(f.loc["C3", "days_since_event"])
    # NPS: C1's latest answer before the cutoff is 9; C2 answered after it
    assert f.loc["C1", "nps_last"] == 9 and f.loc["C1", "nps_answered"] == 1
    assert np.isnan(f.loc["C2", "nps_last"]) and f.loc["C2", "nps_answered"] == 0
    # the customers table wins where it has the customer; others are "unknown"
    assert f.loc["C1", ACQUISITION_CHANNEL] == "referral" and f.loc["C2", ACQUISITION_CHANNEL] == "unknown"


def test_top_decile_capture_and_lift_by_hand():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 1])
    score = np.array([0.9, 0.8, 0.7, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.05])
    capture, lift = cm.top_share_capture(y, score, 0.2)  # top 2: one churner of three
    assert capture == pytest.approx(1 / 3) and lift == pytest.approx(0.5 / 0.3)


def test_calibration_table_by_hand():
    prob = np.r_[[0.1] * 5, [0.9] * 5]
    y = np.r_[[0, 0, 0, 0, 1], [1, 1, 1, 1, 0]]
    cal = cm.calibration_table(y, prob, n_bins=2)
    assert cal["predicted"].tolist() == pytest.approx([0.1, 0.9])
    assert cal["observed"].tolist() == pytest.approx([0.2, 0.8])
    assert cal["customers"].tolist() == [5, 5]


def test_bgnbd_no_purchase_probability_equals_a_monte_carlo_of_the_posterior():
    # alive customers buy at a rate drawn from the posterior Gamma(r + x, alpha + T);
    # P(no purchase in h) = 1 - P(alive) + P(alive) P(Poisson(lambda h) = 0)
    rng = np.random.default_rng(3)
    r, alpha, x, T, h, p_alive = 0.25, 4.0, 3.0, 40.0, 20.0, 0.7
    lam = rng.gamma(r + x, 1 / (alpha + T), 400_000)
    quiet = (rng.poisson(lam * h) == 0).mean()
    got = cm.bgnbd_p_no_purchase([p_alive], r, alpha, [x], [T], h)[0]
    assert got == pytest.approx(1 - p_alive + p_alive * quiet, abs=3e-3)


def test_bgnbd_baseline_explains_a_fit_it_cannot_make(hand):
    bg = cm.bgnbd_baseline(hand, CUT, 30)  # a handful of customers: far below min_repeat_customers
    assert bg.p_alive is None and bg.status != "ok" and bg.note.startswith("No BG/NBD baseline")


def test_bgnbd_baseline_says_in_one_sentence_when_the_fit_runs_to_the_edge():
    # 1,000 customers first seen on 1 Jan, the repeat buyers' last order on day 29 of 30: nobody has
    # stopped, every start of BG/NBD runs toward a = 0 and the ladder stops there (3 fits, not 9)
    frequency = np.random.default_rng(1).integers(0, 3, 1000)
    customer = np.arange(1000)
    days = np.concatenate([np.zeros(1000), np.full((frequency >= 1).sum(), 29), np.full((frequency >= 2).sum(), 15)])
    who = np.concatenate([customer, customer[frequency >= 1], customer[frequency >= 2]])
    lines = pd.DataFrame({"customer_id": [f"c{i}" for i in who], "order_id": [f"o{i}" for i in range(len(who))],
                          "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(days, "D"), "amount": 10.0})
    bg = cm.bgnbd_baseline(lines, "2024-01-31", 30)
    assert bg.status == "failed" and bg.p_alive is None
    assert bg.note == ("No BG/NBD baseline: on this data the fit runs to the edge of the model's parameters (the "
                       "purchase histories do not separate customers who have stopped buying from those between "
                       "purchases), so it has no view of who is about to leave.")


def test_cutoffs_are_one_window_apart_and_the_test_window_must_be_complete():
    train, test = cm.churn_cutoffs("2025-01-01", 30)
    assert test == pd.Timestamp("2024-12-02") and train == test - pd.Timedelta(days=30)
    assert cm.churn_cutoffs("2025-01-01", 30, "2024-11-01")[1] == pd.Timestamp("2024-11-01")
    with pytest.raises(ValueError, match="too late"):
        cm.churn_cutoffs("2025-01-01", 30, "2024-12-15")


# ----------------------------------------------------------------------------- on the sample (known process)


@pytest.fixture(scope="module")
def sample():
    from lclib.io.dataset import load_dataset

    cfg = load_config()
    data = load_dataset(cfg)
    window = ch.inactivity_window(data.transactions, cfg.churn.inactivity_days, cfg.churn.inactivity_quantile)
    return cfg, data, window.days


@pytest.fixture(scope="module")
def result(sample):
    cfg, data, w = sample
    return cm.evaluate_churn_model(data.tables, w, cfg.analysis.as_of, test_cutoff=cfg.churn.test_cutoff,
                                   random_state=cfg.churn.random_state, n_repeats=2)


def test_model_beats_the_recency_rule_on_the_later_test_period(result):
    m = result.metrics
    assert result.test_cutoff > result.train_cutoff
    assert m.loc["model", "roc_auc"] > m.loc["recency rule", "roc_auc"] + 0.01
    assert m.loc["model", "pr_auc"] > m.loc["recency rule", "pr_auc"]
    assert m.loc["model", "top_decile_lift"] > 1
    assert result.unavailable == []  # the sample has every table


def test_model_is_calibrated_on_the_test_period(result):
    m, cal = result.metrics, result.calibration
    assert m.loc["model", "brier"] < m.loc["base rate", "brier"]
    # the base rate's Brier score is p (1 - p) of the test period
    p = result.test[cm.LABEL].mean()
    assert m.loc["base rate", "brier"] == pytest.approx(p * (1 - p))
    assert cal["customers"].sum() == len(result.test)
    # deciles of the prediction: observed rates rise with the prediction and sit close to it
    assert cal["observed"].corr(cal["predicted"], method="spearman") > 0.9
    gap = np.average((cal["predicted"] - cal["observed"]).abs(), weights=cal["customers"])
    assert gap < 0.08
    assert abs(result.test["p_model"].mean() - p) < 0.06


def _before(tables: dict, cutoff: pd.Timestamp) -> dict:
    """Every timestamped table cut at ``cutoff`` (customers kept: a static attribute)."""
    out = {}
    for name, df in tables.items():
        out[name] = df.loc[df[TIMESTAMP] < cutoff] if df is not None and TIMESTAMP in df else df
    return out


def test_training_uses_nothing_from_the_test_period(sample, result):
    cfg, data, w = sample
    window = pd.Timedelta(days=w)
    # every training label window ends at or before the test cutoff
    assert max(result.train_cutoffs) + window <= result.test_cutoff
    assert set(result.train["cutoff"]) == set(result.train_cutoffs)
    # the training set and the fitted model are the same when everything from the test
    # cutoff on is deleted from the data
    past = _before(data.tables, result.test_cutoff)
    train = cm.stacked_frame(past, result.train_cutoff, w, len(result.train_cutoffs))
    pd.testing.assert_frame_equal(train, result.train)
    nums, cats = cm._split_columns(train)
    pipe = cm.build_pipeline(nums, cats, cfg.churn.random_state).fit(train[nums + cats], train[cm.LABEL])
    p = pipe.predict_proba(result.test[nums + cats])[:, 1]
    np.testing.assert_allclose(p, result.test["p_model"], rtol=1e-10)


def test_features_never_use_data_after_the_cutoff(sample):
    cfg, data, w = sample
    cutoff = pd.Timestamp("2025-03-01")
    before = cm.churn_features(data.tables, cutoff, w)
    # append future orders (existing and new customers), events and survey answers
    tx = data.transactions
    future_tx = tx.sample(500, random_state=1).assign(**{TIMESTAMP: cutoff + pd.Timedelta(hours=1),
                                                         AMOUNT: 1e6})
    future_tx[ORDER_ID] = "F" + pd.Series(np.arange(len(future_tx)).astype(str), index=future_tx.index)
    new = future_tx.head(50).assign(**{CUSTOMER_ID: "NEW" + future_tx.head(50)[ORDER_ID]})
    ev, sv = data.events, data.surveys
    future_ev = ev.dropna(subset=[CUSTOMER_ID]).sample(500, random_state=2).assign(
        **{TIMESTAMP: cutoff + pd.Timedelta(days=1)})
    future_sv = sv.sample(200, random_state=3).assign(**{TIMESTAMP: cutoff, SCORE: 0.0})
    tables = dict(data.tables, transactions=pd.concat([tx, future_tx, new], ignore_index=True),
                  events=pd.concat([ev, future_ev], ignore_index=True),
                  surveys=pd.concat([sv, future_sv], ignore_index=True))
    after = cm.churn_features(tables, cutoff, w)
    pd.testing.assert_frame_equal(after, before)
    # and the same as on data cut at the cutoff
    pd.testing.assert_frame_equal(cm.churn_features(_before(data.tables, cutoff), cutoff, w), before)


def test_transactions_only_run_uses_what_it_has_and_lists_the_rest(sample):
    cfg, data, w = sample
    tx = data.transactions
    res = cm.evaluate_churn_model({"transactions": tx}, w, random_state=0, n_repeats=1)
    assert res.unavailable == ["engagement", "nps"]
    assert "no events table" in res.availability.loc["engagement", "reason"]
    assert not set(res.features) & {"events_30d", "days_since_event", "nps_last", "nps_answered"}
    assert ACQUISITION_CHANNEL in res.features  # from the first order's channel
    assert res.metrics.loc["model", "roc_auc"] > 0.7
    # without a channel column either: three groups missing, the model still runs and scores
    bare = {"transactions": tx.drop(columns=[CHANNEL])}
    res = cm.evaluate_churn_model(bare, w, random_state=0, n_repeats=1)
    assert res.unavailable == ["channel", "engagement", "nps"]
    assert ACQUISITION_CHANNEL not in res.features
    scored = cm.score_customers(res, bare)
    assert len(scored) == tx[CUSTOMER_ID].nunique() and scored["p_churn"].between(0, 1).all()


def test_scored_list_values_recent_revenue_and_sorts_by_value_at_risk(sample, result):
    cfg, data, w = sample
    scored = cm.score_customers(result, data.tables)
    tx = data.transactions
    as_of = resolve_as_of(tx)
    assert scored["value_at_risk"].is_monotonic_decreasing
    assert scored["value_at_risk"].to_numpy() == pytest.approx((scored["p_churn"] * scored["value"]).to_numpy())
    recent = tx.loc[tx[TIMESTAMP] >= as_of - pd.Timedelta(days=365)].groupby(CUSTOMER_ID)[AMOUNT].sum()
    some = scored.index[:20]
    assert scored.loc[some, "value"].to_numpy() == pytest.approx(recent.reindex(some, fill_value=0).to_numpy())
    assert ((scored["status"] == "active") == (scored["recency_days"] < w)).all()


def test_at_risk_list_keeps_active_valuable_likely_churners():
    scored = pd.DataFrame({
        "p_churn": [0.9, 0.6, 0.4, 0.95, 0.7, 0.8],
        "value": [100.0, 400.0, 500.0, 300.0, 0.0, 50.0],
        "status": ["active", "active", "active", "lapsed", "active", "active"],
    }, index=pd.Index(list("abcdef"), name=CUSTOMER_ID))
    scored["value_at_risk"] = scored["p_churn"] * scored["value"]
    out = cm.at_risk_list(scored, min_probability=0.5, value_quantile=0.5)
    # active buyers' values 100, 400, 500, 50 -> median 250: b (400) qualifies, c is not likely
    # enough, d is lapsed, e bought nothing, a and f are below the value threshold
    assert out.index.tolist() == ["b"] and out.attrs["value_threshold"] == 250
    with pytest.raises(ValueError, match="score_customers"):
        cm.at_risk_list(scored.drop(columns="status"))


def test_model_beats_the_recency_rule_on_another_simulated_world():
    # the same known process, drawn with another seed: the margin is not luck of the shipped sample
    from lclib.sample import simulate

    tables = simulate(n_people=5000, seed=1).tables()
    w = ch.inactivity_window(tables["transactions"], None, 0.9).days
    res = cm.evaluate_churn_model(tables, w, random_state=0, n_repeats=1)
    m = res.metrics
    assert m.loc["model", "roc_auc"] > m.loc["recency rule", "roc_auc"] + 0.01
    assert m.loc["model", "brier"] < m.loc["base rate", "brier"]


# ----------------------------------------------------------------------------- size caps and the shared order history


def test_sample_customers_keeps_whole_customers_and_everyone_below_the_cap():
    frame = pd.DataFrame({"x": range(12)}, index=pd.Index(list("aabbccddeeff"), name=CUSTOMER_ID))
    assert cm.sample_customers(frame, None).all() and cm.sample_customers(frame, 6).all()
    rows = cm.sample_customers(frame, 4, random_state=1)
    kept = frame.index[rows]
    assert kept.nunique() == 4 and len(kept) == 8  # both snapshots of each chosen customer
    np.testing.assert_array_equal(rows, cm.sample_customers(frame.iloc[::-1], 4, random_state=1)[::-1])


def test_features_and_labels_from_one_history_equal_the_direct_ones(sample):
    from lclib.engine.orders import OrderHistory

    cfg, data, w = sample
    tx = data.transactions
    history = OrderHistory(tx)
    for cutoff in (history.as_of - pd.Timedelta(days=w), history.as_of - pd.Timedelta(days=2 * w + 30),
                   history.as_of):
        pd.testing.assert_frame_equal(cm.churn_features(data.tables, cutoff, w, history),
                                      cm.churn_features(data.tables, cutoff, w), check_exact=True)
    cutoff = history.as_of - pd.Timedelta(days=w)
    pd.testing.assert_series_equal(cm.churn_labels(tx, cutoff, w, history), cm.churn_labels(tx, cutoff, w))


@pytest.mark.parametrize("which", ["customers table, events, surveys", "first order's channel", "straddling orders"])
def test_features_computed_in_blocks_of_customers_equal_the_whole_table(sample, monkeypatch, which):
    """Above FEATURE_BLOCK_CUSTOMERS the order features are built a block of customers at a time (bounded
    memory at 8M customers): the same table, for everyone and for a sample of customers."""
    from lclib.engine.orders import OrderHistory
    from test_cohorts import _messy_lines

    cfg, data, w = sample
    if which == "customers table, events, surveys":
        tables = data.tables
        assert {"customers", "events", "surveys"} <= {k for k, v in tables.items() if v is not None}
    elif which == "first order's channel":
        tables = {"transactions": data.transactions}
    else:
        tables = {"transactions": _messy_lines().dropna(subset=[CUSTOMER_ID])}
    history = OrderHistory(tables["transactions"])
    rng = np.random.default_rng(1)
    chosen = rng.random(len(history.ids)) < 0.4
    ts = tables["transactions"][TIMESTAMP]
    cutoffs = (history.as_of, ts.quantile(0.7), ts.quantile(0.4))  # the messy lines' times are not midnights
    whole = {(c, k): cm.churn_features(tables, c, w, history, customers)
             for c in cutoffs for k, customers in (("all", None), ("some", chosen))}
    monkeypatch.setattr(cm, "FEATURE_BLOCK_CUSTOMERS", 37)
    assert len(history.ids) > 5 * 37
    for (c, k), want in whole.items():
        got = cm.churn_features(tables, c, w, history, None if k == "all" else chosen)
        pd.testing.assert_frame_equal(got, want, check_exact=True)
        assert len(got) > 37  # several blocks
    if which == "first order's channel":
        assert ACQUISITION_CHANNEL in got
    nobody = np.zeros(len(history.ids), dtype=bool)
    pd.testing.assert_frame_equal(cm.churn_features(tables, cutoffs[0], w, history, nobody),
                                  whole[(cutoffs[0], "all")].iloc[:0])


def test_model_cap_fits_on_a_customer_sample_and_still_scores_everyone(sample, result):
    cfg, data, w = sample
    capped = cm.evaluate_churn_model(data.tables, w, cfg.analysis.as_of, test_cutoff=cfg.churn.test_cutoff,
                                     random_state=cfg.churn.random_state, n_repeats=2, max_customers=500,
                                     max_importance_customers=300)
    assert result.fit_customers == result.train_customers > 500  # the sample is below the default caps
    assert result.importance_customers == len(result.test)
    assert capped.fit_customers == 500 == capped.train.index.nunique()
    assert capped.train_customers == result.train_customers and len(capped.train) < len(result.train)
    assert capped.importance_customers == 300
    assert len(capped.test) == len(result.test) and capped.test["p_model"].notna().all()
    assert any("random sample of 500" in n for n in capped.notes)
    # a logistic model on half the customers ranks almost as well as on all of them
    assert capped.metrics.loc["model", "roc_auc"] == pytest.approx(result.metrics.loc["model", "roc_auc"], abs=0.02)
    scored = cm.score_customers(capped, data.tables, cfg.analysis.as_of, max_customers=500)
    full = cm.score_customers(result, data.tables, cfg.analysis.as_of)
    assert len(scored) == len(full)
    # refitted on 500 of the ~1,000 customers of this small shop: the same ranking, with sampling noise
    assert scored["p_churn"].corr(full.loc[scored.index, "p_churn"], method="spearman") > 0.8


def test_capped_training_builds_only_the_sampled_customers_snapshots(sample):
    cfg, data, w = sample
    capped = cm.evaluate_churn_model(data.tables, w, cfg.analysis.as_of, random_state=3, n_repeats=1,
                                     max_customers=400)
    full = cm.stacked_frame(data.tables, capped.train_cutoff, w, len(capped.train_cutoffs))
    # the same customers as sampling the rows of the full training frame, with the same features and labels
    pd.testing.assert_frame_equal(capped.train, full.loc[cm.sample_customers(full, 400, random_state=3)])


def test_scorer_metrics_on_a_subset_are_the_metrics_of_those_rows():
    from lclib.analysis.churn_model import churn_metrics, scorer_metrics

    rng = np.random.default_rng(0)
    n = 400
    test = pd.DataFrame({"churned": rng.random(n) < 0.6, "p_model": rng.random(n),
                         "recency_days": rng.integers(0, 400, n).astype(float), "bgnbd_p_alive": rng.random(n)})
    active = test.loc[test["recency_days"] < 150]
    got = scorer_metrics(active)
    assert list(got.index) == ["model", "recency rule", "base rate", "BG/NBD 1 - P(alive)"]
    want = churn_metrics(active["churned"], active["p_model"])
    assert got.loc["model", "roc_auc"] == pytest.approx(want["roc_auc"])
    assert got.loc["base rate", "brier"] == pytest.approx(active["churned"].mean() * (1 - active["churned"].mean()))
    assert np.isnan(got.loc["BG/NBD 1 - P(alive)", "brier"])
    assert scorer_metrics(test.iloc[:0]).empty


def test_customers_are_scored_in_batches_to_the_same_probabilities(monkeypatch):
    """Scoring every customer in batches (bounded memory at 8M customers) changes no probability."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from lclib.analysis import churn_model as cm

    rng = np.random.default_rng(2)
    X = pd.DataFrame({"recency": rng.random(1003) * 100, "channel": rng.choice(["a", "b", "c"], 1003)})
    y = (X["recency"] + rng.normal(0, 20, 1003) > 50).astype(int)
    pipe = make_pipeline(ColumnTransformer([("n", StandardScaler(), ["recency"]),
                                            ("c", OneHotEncoder(handle_unknown="ignore"), ["channel"])]),
                         LogisticRegression()).fit(X, y)
    whole = pipe.predict_proba(X)[:, 1]
    for size in (1, 100, 1002, 1003, 5000):
        np.testing.assert_allclose(cm.predict_in_batches(pipe, X, batch_rows=size), whole, rtol=1e-12)
    monkeypatch.setattr(cm, "SCORE_BATCH_ROWS", 64)
    np.testing.assert_allclose(cm.predict_in_batches(pipe, X), whole, rtol=1e-12)
    # the model's columns of a wider frame, taken batch by batch
    wider = X.assign(noise=rng.random(1003), churned=y.astype(bool))
    np.testing.assert_allclose(cm.predict_in_batches(pipe, wider, columns=["recency", "channel"]), whole,
                               rtol=1e-12)


def test_descending_order_is_pandas_stable_descending_sort_of_two_columns():
    """Ties (many zero values at risk), missing values and signed zeros sort as frame.sort_values does."""
    rng = np.random.default_rng(12)
    n = 5000
    first = np.round(rng.random(n) * 5) * rng.integers(0, 2, n)  # many ties, half zeros
    second = np.round(rng.random(n), 1)
    first[rng.integers(0, n, 40)] = np.nan
    second[rng.integers(0, n, 40)] = np.nan
    first[rng.integers(0, n, 40)] = -0.0
    frame = pd.DataFrame({"a": first, "b": second})
    want = frame.sort_values(["a", "b"], ascending=False, kind="stable").index.to_numpy()
    np.testing.assert_array_equal(cm.descending_order(first, second), want)
