"""Tests for lclib.analysis.rfm."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lclib.io.columns import AMOUNT, CUSTOMER_ID, ORDER_ID, TIMESTAMP
from lclib.config import load_config
from lclib.io.dataset import load_dataset
from lclib.config.segment_rules import DEFAULT_ACTIONS, DEFAULT_SEGMENTS, validate_segment_rules
from lclib.analysis.rfm import (DEFAULT_EXPORT_LISTS, NEW_ROW, assign_segments, export_tables, kmeans_personas, migration_summary, migration_table, persona_segment_table, pseudonymise, resolve_secret, rf_heatmap_table, rfm_scores, score_customers, score_rfm, score_ranges, segment_migration, segment_summary)
from lclib.engine.rfm_table import rfm_snapshots, rfm_table

#: every test here runs with the pandas and the DuckDB engine
pytestmark = pytest.mark.usefixtures("both_engines")

SEGMENT_NAMES = [
    "Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising",
    "Need Attention", "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost",
]


def make_transactions(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=[CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT])
    frame[TIMESTAMP] = pd.to_datetime(frame[TIMESTAMP])
    return frame


# --------------------------------------------------------------------------
# Hand-computed example: 12 customers, as_of = 2024-07-01 (midnight).
# --------------------------------------------------------------------------
# (customer, order, timestamp, line amount). Several lines per order, two
# orders on one day (A), a late-evening purchase (C) and one purchase on/after
# as_of (B2) that must be ignored.
HAND_ROWS = [
    ("A", "A1", "2024-01-10 10:00", 200.0),
    ("A", "A2", "2024-03-05 11:00", 150.0),
    ("A", "A2", "2024-03-05 11:00", 50.0),
    ("A", "A3", "2024-05-20 12:00", 200.0),
    ("A", "A4", "2024-06-30 09:00", 200.0),
    ("A", "A5", "2024-06-30 18:30", 200.0),
    ("B", "B1", "2024-06-30 08:00", 30.0),
    ("B", "B1", "2024-06-30 08:00", 20.0),
    ("B", "B2", "2024-07-03 10:00", 999.0),  # after as_of: ignored
    ("K", "K1", "2024-06-26 14:00", 60.0),
    ("D", "D1", "2024-02-01 09:00", 100.0),
    ("D", "D2", "2024-04-15 09:00", 100.0),
    ("D", "D3", "2024-06-23 09:00", 100.0),
    ("C", "C1", "2023-11-11 10:00", 150.0),
    ("C", "C2", "2024-01-20 10:00", 150.0),
    ("C", "C3", "2024-04-04 10:00", 150.0),
    ("C", "C4", "2024-06-17 23:59", 150.0),
    ("L", "L1", "2024-02-14 10:00", 100.0),
    ("L", "L2", "2024-04-01 10:00", 100.0),
    ("L", "L3", "2024-06-01 10:00", 120.0),
    ("L", "L3", "2024-06-01 10:00", 80.0),
    ("E", "E1", "2024-03-10 10:00", 80.0),
    ("E", "E2", "2024-05-17 10:00", 120.0),
    ("G", "G1", "2023-08-01 10:00", 175.0),
    ("G", "G2", "2023-10-01 10:00", 175.0),
    ("G", "G3", "2024-01-15 10:00", 175.0),
    ("G", "G4", "2024-05-02 10:00", 175.0),
    ("F", "F1", "2024-04-02 10:00", 50.0),
    ("H", "H1", "2023-12-14 10:00", 80.0),
    ("I", "I1", "2023-06-01 10:00", 60.0),
    ("I", "I2", "2023-09-05 10:00", 60.0),
    ("J", "J1", "2022-06-01 10:00", 250.0),
    ("J", "J2", "2022-08-01 10:00", 250.0),
    ("J", "J3", "2022-10-01 10:00", 250.0),
    ("J", "J4", "2022-12-01 10:00", 250.0),
    ("J", "J5", "2023-02-01 10:00", 250.0),
    ("J", "J6", "2023-05-28 10:00", 250.0),
]
HAND_AS_OF = "2024-07-01"

# n = 12 customers, bins = 5: score = 1 + floor(5 * n_worse / 12), so
# n_worse 0-2 -> 1, 3-4 -> 2, 5-7 -> 3, 8-9 -> 4, 10-11 -> 5.
#
# R (n_worse = customers with strictly larger recency):
#   A,B 1d: 10 -> 5 | K 5d: 9 -> 4 | D 8d: 8 -> 4 | C 14d: 7 -> 3 | L 30d: 6 -> 3
#   E 45d: 5 -> 3 | G 60d: 4 -> 2 | F 90d: 3 -> 2 | H 200d: 2 -> 1 | I 300d: 1 -> 1
#   J 400d: 0 -> 1
# F (n_worse = customers with fewer orders):
#   1 order (B,K,F,H): 0 -> 1 | 2 (E,I): 4 -> 2 | 3 (D,L): 6 -> 3 | 4 (C,G): 8 -> 4
#   5 (A): 10 -> 5 | 6 (J): 11 -> 5
# M (n_worse = customers with a smaller total):
#   50 (B,F): 0 -> 1 | 60 K: 2 -> 1 | 80 H: 3 -> 2 | 120 I: 4 -> 2 | 200 E: 5 -> 3
#   300 D: 6 -> 3 | 400 L: 7 -> 3 | 600 C: 8 -> 4 | 700 G: 9 -> 4 | 1000 A: 10 -> 5
#   1500 J: 11 -> 5
# FM = (F + M) // 2, segment from the (R, FM) grid in DEFAULT_SEGMENTS.
HAND_EXPECTED = pd.DataFrame(
    [
        # id  rec freq  total   mean     R  F  M  FM segment
        ("A", 1, 5, 1000.0, 200.0, 5, 5, 5, "Champions"),  # FM 5
        ("B", 1, 1, 50.0, 50.0, 5, 1, 1, "New Customers"),  # FM 1
        ("C", 14, 4, 600.0, 150.0, 3, 4, 4, "Loyal Customers"),  # FM 4
        ("D", 8, 3, 300.0, 100.0, 4, 3, 3, "Potential Loyalists"),  # FM 3
        ("E", 45, 2, 200.0, 100.0, 3, 2, 3, "About to Sleep"),  # FM 2 (2.5 rounded down)
        ("F", 90, 1, 50.0, 50.0, 2, 1, 1, "Hibernating"),  # FM 1
        ("G", 60, 4, 700.0, 175.0, 2, 4, 4, "At Risk"),  # FM 4
        ("H", 200, 1, 80.0, 80.0, 1, 1, 2, "Lost"),  # FM 1
        ("I", 300, 2, 120.0, 60.0, 1, 2, 2, "Lost"),  # FM 2
        ("J", 400, 6, 1500.0, 250.0, 1, 5, 5, "Can't Lose Them"),  # FM 5
        ("K", 5, 1, 60.0, 60.0, 4, 1, 1, "Promising"),  # FM 1
        ("L", 30, 3, 400.0, 400.0 / 3, 3, 3, 3, "Need Attention"),  # FM 3
    ],
    columns=[CUSTOMER_ID, "recency_days", "frequency", "monetary_total", "monetary_mean",
             "r_score", "f_score", "m_score", "segment"],
).set_index(CUSTOMER_ID)


@pytest.fixture
def hand_transactions() -> pd.DataFrame:
    return make_transactions(HAND_ROWS)


def test_hand_example_rfm_scores_and_segments(hand_transactions):
    original = hand_transactions.copy()
    rfm = rfm_table(hand_transactions, as_of=HAND_AS_OF)
    rfm_before = rfm.copy()
    scored = assign_segments(rfm_scores(rfm))
    pd.testing.assert_frame_equal(hand_transactions, original)  # inputs untouched
    pd.testing.assert_frame_equal(rfm, rfm_before)
    expected = HAND_EXPECTED
    assert list(scored.index) == list(expected.index)
    for column in ["recency_days", "frequency", "r_score", "f_score", "m_score"]:
        assert scored[column].tolist() == expected[column].tolist(), column
    for column in ["monetary_total", "monetary_mean"]:
        np.testing.assert_allclose(scored[column], expected[column], err_msg=column)
    assert scored["segment"].astype(str).tolist() == expected["segment"].tolist()
    assert set(scored["segment"]) == set(SEGMENT_NAMES)  # every segment once or more
    assert scored.loc["A", "first_purchase"] == pd.Timestamp("2024-01-10 10:00")
    assert scored.loc["A", "last_purchase"] == pd.Timestamp("2024-06-30 18:30")
    assert scored.loc["C", "last_purchase"] == pd.Timestamp("2024-06-17 23:59")


def test_rfm_table_columns_and_dtypes(hand_transactions):
    rfm = rfm_table(hand_transactions, as_of=HAND_AS_OF)
    assert list(rfm.columns) == ["recency_days", "frequency", "monetary_total", "monetary_mean",
                                 "first_purchase", "last_purchase"]
    assert rfm.index.name == CUSTOMER_ID
    assert rfm["recency_days"].dtype == np.int64
    assert rfm["frequency"].dtype == np.int64
    assert rfm["monetary_total"].dtype == np.float64


def test_as_of_filtering_and_default(hand_transactions):
    # Default as_of is midnight after the last date (2024-07-03) -> 2024-07-04,
    # so B2 counts and B's recency is 1 day.
    full = rfm_table(hand_transactions)
    assert full.loc["B", "frequency"] == 2
    assert full.loc["B", "monetary_total"] == 1049.0
    assert full.loc["B", "recency_days"] == 1
    assert full.loc["A", "recency_days"] == 4  # 2024-06-30 -> 2024-07-04

    # timestamp < as_of: a purchase exactly at as_of does not count.
    at_b2 = rfm_table(hand_transactions, as_of="2024-07-03 10:00")
    assert at_b2.loc["B", "frequency"] == 1
    # Intra-day as_of: dates are normalized, so same-day purchases give 0 days.
    later = rfm_table(hand_transactions, as_of="2024-07-03 10:01")
    assert later.loc["B", "frequency"] == 2
    assert later.loc["B", "recency_days"] == 0

    # Customers with no transaction before as_of are absent.
    early = rfm_table(hand_transactions, as_of="2023-01-01")
    assert list(early.index) == ["J"]
    assert early.loc["J", "frequency"] == 4
    assert early.loc["J", "recency_days"] == 31  # 2022-12-01 -> 2023-01-01

    empty = rfm_table(hand_transactions, as_of="2000-01-01")
    assert empty.empty and "recency_days" in empty.columns


def test_multi_line_orders_and_same_day_orders():
    tx = make_transactions([
        ("x", "o1", "2024-01-01 09:00", 10.0),
        ("x", "o1", "2024-01-01 09:00", 5.0),
        ("x", "o1", "2024-01-01 09:00", 5.0),
        ("x", "o2", "2024-01-01 12:00", 30.0),
        ("x", "o3", "2024-01-01 20:00", 10.0),
    ])
    rfm = rfm_table(tx)
    assert rfm.loc["x", "frequency"] == 3
    assert rfm.loc["x", "monetary_total"] == 60.0
    assert rfm.loc["x", "monetary_mean"] == 20.0
    assert rfm.loc["x", "recency_days"] == 1


def test_rfm_table_bad_input(hand_transactions):
    with pytest.raises(ValueError, match=r"lacks column\(s\)"):
        rfm_table(hand_transactions.drop(columns=[AMOUNT]))
    with pytest.raises(ValueError, match="datetime64"):
        rfm_table(hand_transactions.assign(**{TIMESTAMP: hand_transactions[TIMESTAMP].astype(str)}))


def test_rfm_table_matches_independent_recomputation():
    rng = np.random.default_rng(42)
    n_orders = 3000
    orders = pd.DataFrame({
        CUSTOMER_ID: [f"c{i:03d}" for i in rng.integers(0, 400, n_orders)],
        ORDER_ID: [f"o{i:05d}" for i in range(n_orders)],
        TIMESTAMP: pd.Timestamp("2023-01-01")
        + pd.to_timedelta(rng.integers(0, 730 * 24 * 60, n_orders), unit="min"),
    })
    lines = orders.loc[orders.index.repeat(rng.integers(1, 4, n_orders))].reset_index(drop=True)
    lines[AMOUNT] = rng.gamma(2.0, 20.0, len(lines)).round(2)
    as_of = pd.Timestamp("2024-06-15")

    got = rfm_table(lines, as_of=as_of)

    # Plain pandas, computed differently: one row per order first.
    kept = lines[lines[TIMESTAMP] < as_of]
    per_order = kept.groupby([CUSTOMER_ID, ORDER_ID]).agg(t=(TIMESTAMP, "first"), amt=(AMOUNT, "sum"))
    per_order = per_order.reset_index()
    by_customer = per_order.groupby(CUSTOMER_ID)
    frequency = by_customer.size()
    total = by_customer["amt"].sum()
    last_day = by_customer["t"].max().dt.floor("D")
    recency = (as_of - last_day) // pd.Timedelta(days=1)

    assert got.index.tolist() == sorted(kept[CUSTOMER_ID].unique())
    assert got["frequency"].tolist() == frequency.loc[got.index].tolist()
    assert got["recency_days"].tolist() == recency.loc[got.index].tolist()
    np.testing.assert_allclose(got["monetary_total"], total.loc[got.index])
    np.testing.assert_allclose(got["monetary_mean"], (total / frequency).loc[got.index])
    assert (got["first_purchase"] == by_customer["t"].min().loc[got.index]).all()


# --------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------


def rfm_frame(recency, frequency, monetary) -> pd.DataFrame:
    return pd.DataFrame(
        {"recency_days": recency, "frequency": frequency, "monetary_total": monetary},
        index=pd.Index([f"c{i}" for i in range(len(recency))], name=CUSTOMER_ID),
    )


def test_quantile_heavy_ties():
    # 70 customers with one order, 15 with two, 15 with 3..17.
    frequency = [1] * 70 + [2] * 15 + list(range(3, 18))
    monetary = [20.0] * 30 + [float(v) for v in range(21, 91)]
    recency = list(range(100))
    scores = rfm_scores(rfm_frame(recency, frequency, monetary))
    f = scores["f_score"]
    assert (f.iloc[:70] == 1).all()
    assert (f.iloc[70:85] == 4).all()  # 70 of 100 strictly worse -> 1 + floor(3.5)
    assert (f.iloc[85:] == 5).all()
    assert (scores["m_score"].iloc[:30] == 1).all()  # tied lowest spend
    # No ties in recency, 100 customers: exactly 20 per score, 0-19 days -> 5.
    assert scores["r_score"].value_counts().to_dict() == {s: 20 for s in range(1, 6)}
    assert (scores["r_score"].iloc[:20] == 5).all()
    for column in ["r_score", "f_score", "m_score"]:
        assert scores[column].between(1, 5).all() and scores[column].dtype == np.int64


def test_quantile_equal_values_equal_scores_and_monotone():
    rng = np.random.default_rng(7)
    rfm = rfm_frame(
        rng.integers(0, 30, 500), rng.integers(1, 6, 500), rng.choice([10.0, 25.0, 99.0, 500.0], 500)
    )
    for bins in (3, 5, 10):
        scores = rfm_scores(rfm, bins=bins)
        for column, score, sign in [("recency_days", "r_score", -1), ("frequency", "f_score", 1),
                                    ("monetary_total", "m_score", 1)]:
            assert scores.groupby(column)[score].nunique().eq(1).all()
            assert scores[score].between(1, bins).all()
            ordered = scores.sort_values(column)[score].to_numpy()
            assert (np.diff(ordered) * sign >= 0).all()  # better value, score never lower
        assert scores["m_score"][scores["monetary_total"] == 10.0].eq(1).all()


def test_thresholds_boundaries():
    rfm = rfm_frame(
        recency=[0, 30, 31, 90, 180, 365, 366],
        frequency=[1, 2, 3, 4, 5, 8, 9],
        monetary=[0.0, 50.0, 50.01, 100.0, 300.0, 1000.0, 1000.5],
    )
    thresholds = {"recency_days": [30, 90, 180, 365], "frequency": [1, 2, 4, 8],
                  "monetary_total": [50, 100, 300, 1000]}
    scores = rfm_scores(rfm, method="thresholds", thresholds=thresholds)
    # Right-closed (lo, hi]: a value on a cut point falls in the lower interval.
    assert scores["r_score"].tolist() == [5, 5, 4, 4, 3, 2, 1]
    assert scores["f_score"].tolist() == [1, 2, 3, 3, 4, 4, 5]
    assert scores["m_score"].tolist() == [1, 1, 2, 2, 3, 4, 5]
    three = rfm_scores(rfm, bins=3, method="thresholds",
                       thresholds={"recency_days": [30, 365], "frequency": [1, 4],
                                   "monetary_total": [100, 1000]})
    assert three["r_score"].tolist() == [3, 3, 2, 2, 2, 2, 1]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"bins": 1}, "bins"),
        ({"bins": 2.5}, "bins"),
        ({"method": "kmeans"}, "method"),
        ({"thresholds": {"frequency": [1]}}, "only used with method='thresholds'"),
        ({"method": "thresholds"}, "needs thresholds"),
        ({"method": "thresholds", "thresholds": {"frequency": [1, 2, 3, 4]}}, "missing"),
        ({"method": "thresholds", "thresholds": {"recency_days": [1, 2, 3, 4], "frequency": [1, 2, 3, 4],
                                                 "monetary_total": [1, 2, 3, 4], "x": [1]}}, "unknown"),
        ({"method": "thresholds", "thresholds": {"recency_days": [1, 2, 3], "frequency": [1, 2, 3, 4],
                                                 "monetary_total": [1, 2, 3, 4]}}, "4 cut points"),
        ({"method": "thresholds", "thresholds": {"recency_days": [1, 2, 2, 4], "frequency": [1, 2, 3, 4],
                                                 "monetary_total": [1, 2, 3, 4]}}, "strictly increasing"),
    ],
)
def test_rfm_scores_bad_arguments(kwargs, message):
    rfm = rfm_frame([1, 2, 3], [1, 2, 3], [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=message):
        rfm_scores(rfm, **kwargs)


def test_rfm_scores_bad_frame():
    with pytest.raises(ValueError, match=r"lacks column\(s\)"):
        rfm_scores(rfm_frame([1], [1], [1.0]).drop(columns=["frequency"]))
    with pytest.raises(ValueError, match="missing values"):
        rfm_scores(rfm_frame([1, np.nan], [1, 1], [1.0, 2.0]))


# --------------------------------------------------------------------------
# Segment rules
# --------------------------------------------------------------------------


def all_cells() -> pd.DataFrame:
    return pd.DataFrame(list(itertools.product(range(1, 6), repeat=3)),
                        columns=["r_score", "f_score", "m_score"])


def test_default_rules_cover_all_125_combinations_exactly_once():
    validate_segment_rules(DEFAULT_SEGMENTS)
    assert [rule["name"] for rule in DEFAULT_SEGMENTS] == SEGMENT_NAMES
    # Independent check in plain Python.
    for r, f, m in itertools.product(range(1, 6), repeat=3):
        values = {"r": r, "f": f, "m": m, "fm": (f + m) // 2}
        matching = [rule["name"] for rule in DEFAULT_SEGMENTS
                    if all(rule[d][0] <= values[d] <= rule[d][1] for d in values if d in rule)]
        assert len(matching) == 1, ((r, f, m), matching)
    segments = assign_segments(all_cells())["segment"]
    assert segments.notna().all()
    assert list(segments.cat.categories) == SEGMENT_NAMES
    assert set(segments) == set(SEGMENT_NAMES)
    assert set(DEFAULT_ACTIONS) == set(SEGMENT_NAMES)
    assert all(isinstance(a, str) and a.endswith(".") for a in DEFAULT_ACTIONS.values())


def test_default_rules_spot_checks():
    cells = pd.DataFrame([(5, 5, 5), (5, 1, 2), (5, 2, 1), (5, 1, 3), (1, 5, 5), (1, 4, 5), (2, 3, 3),
                          (3, 3, 3), (3, 2, 3)], columns=["r_score", "f_score", "m_score"])
    assert assign_segments(cells)["segment"].astype(str).tolist() == [
        "Champions", "New Customers", "New Customers", "Potential Loyalists", "Can't Lose Them",
        "At Risk", "At Risk", "Need Attention", "About to Sleep",
    ]


def test_validate_rules_reports_overlap():
    rules = copy.deepcopy(DEFAULT_SEGMENTS)
    rules[0]["r"] = [4, 5]  # Champions now overlaps Loyal Customers at R=4
    with pytest.raises(ValueError, match="several rules") as info:
        validate_segment_rules(rules)
    assert "(4, 4, 4) by ['Champions', 'Loyal Customers']" in str(info.value)
    assert "(5, 5, 5)" not in str(info.value)


def test_validate_rules_reports_gap():
    rules = [rule for rule in DEFAULT_SEGMENTS if rule["name"] != "Lost"]
    with pytest.raises(ValueError, match="no rule") as info:
        validate_segment_rules(rules)
    message = str(info.value)
    assert "10 (R, F, M) combinations matched by no rule" in message
    assert "(1, 1, 1)" in message and "(1, 3, 2)" in message
    assert "(2, 1, 1)" not in message


@pytest.mark.parametrize(
    "rules, message",
    [
        ([], "non-empty"),
        ([{"r": [1, 5]}], "name"),
        ([{"name": "All", "r": [0, 5]}], "1 <= lo <= hi <= 5"),
        ([{"name": "All", "r": [5, 1]}], "1 <= lo <= hi <= 5"),
        ([{"name": "All", "x": [1, 5]}], "unknown keys"),
        ([{"name": "All"}, {"name": "All"}], "duplicate"),
        ([{"name": "All"}, {"name": "Never", "f": [1, 1], "m": [1, 1], "fm": [3, 3]}], "never match"),
    ],
)
def test_validate_rules_malformed(rules, message):
    with pytest.raises(ValueError, match=message):
        validate_segment_rules(rules)


def test_custom_rules_and_bins():
    rules = [{"name": "Recent", "r": [2, 3]}, {"name": "Old", "r": [1, 1], "action": "Let go."}]
    validate_segment_rules(rules, bins=3)
    scored = assign_segments(all_cells().clip(upper=3).drop_duplicates(), rules, bins=3)
    assert list(scored["segment"].cat.categories) == ["Recent", "Old"]
    with pytest.raises(ValueError, match="no rule"):
        validate_segment_rules(rules, bins=5)
    with pytest.raises(ValueError, match=r"1\.\.5"):
        assign_segments(all_cells().assign(r_score=6))
    with pytest.raises(ValueError, match="default segments are written for scores 1..5"):
        assign_segments(all_cells().clip(upper=3), bins=3)


# --------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------


def random_transactions(seed: int = 1, customers: int = 300, orders: int = 1500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        CUSTOMER_ID: [f"c{i}" for i in rng.integers(0, customers, orders)],
        ORDER_ID: [f"o{i}" for i in range(orders)],
        TIMESTAMP: pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, orders), unit="D"),
        AMOUNT: rng.gamma(2.0, 30.0, orders),
    })


def test_segment_summary(hand_transactions):
    scored = assign_segments(rfm_scores(rfm_table(hand_transactions, as_of=HAND_AS_OF)))
    summary = segment_summary(scored)
    assert list(summary.index) == SEGMENT_NAMES
    assert summary["customers"].sum() == 12
    assert summary["share_customers"].sum() == pytest.approx(1.0)
    assert summary["share_revenue"].sum() == pytest.approx(1.0)
    assert summary.loc["Lost", "customers"] == 2
    assert summary.loc["Lost", "revenue"] == 200.0  # H 80 + I 120
    assert summary.loc["Lost", "mean_recency_days"] == 250.0
    assert summary.loc["Need Attention", "mean_frequency"] == 3.0
    assert summary.loc["Champions", "action"] == DEFAULT_ACTIONS["Champions"]

    big = assign_segments(rfm_scores(rfm_table(random_transactions())))
    big_summary = segment_summary(big)
    assert big_summary["customers"].sum() == len(big)
    assert big_summary["share_customers"].sum() == pytest.approx(1.0)
    assert big_summary["revenue"].sum() == pytest.approx(big["monetary_total"].sum())


def test_segment_migration(hand_transactions):
    tx = random_transactions()
    date_from, date_to = "2024-01-01", "2024-07-01"
    table = segment_migration(tx, date_from, date_to)
    at_from = assign_segments(rfm_scores(rfm_table(tx, as_of=date_from)))
    at_to = assign_segments(rfm_scores(rfm_table(tx, as_of=date_to)))
    assert list(table.index) == SEGMENT_NAMES + [NEW_ROW]
    assert list(table.columns) == SEGMENT_NAMES
    assert table.to_numpy().sum() == len(at_to)
    assert table.loc[NEW_ROW].sum() == len(at_to) - len(at_from) > 0
    assert (table.drop(index=NEW_ROW).sum(axis=1) == at_from["segment"].value_counts()[SEGMENT_NAMES]).all()
    assert (table.sum(axis=0) == at_to["segment"].value_counts()[SEGMENT_NAMES]).all()

    # Hand example: K's and B's only counted orders come after 2024-06-25.
    small = segment_migration(hand_transactions, "2024-06-25", HAND_AS_OF)
    assert small.loc[NEW_ROW].sum() == 2
    assert small.loc[NEW_ROW, "New Customers"] == 1  # B
    with pytest.raises(ValueError, match="before"):
        segment_migration(tx, date_to, date_from)


def test_rf_heatmap_table(hand_transactions):
    scored = rfm_scores(rfm_table(hand_transactions, as_of=HAND_AS_OF))
    table = rf_heatmap_table(scored)
    counts, means = table["customers"], table["mean_monetary_total"]
    assert counts.shape == (5, 5) and list(counts.index) == [1, 2, 3, 4, 5]
    assert counts.to_numpy().sum() == 12
    assert counts.loc[5, 5] == 1 and means.loc[5, 5] == 1000.0  # A
    assert counts.loc[1, 5] == 1 and means.loc[1, 5] == 1500.0  # J
    assert counts.loc[5, 1] == 1 and means.loc[5, 1] == 50.0  # B
    assert counts.loc[3, 5] == 0 and np.isnan(means.loc[3, 5])


# --------------------------------------------------------------------------
# Personas and pseudonyms
# --------------------------------------------------------------------------


def test_kmeans_personas_finds_three_clusters():
    rng = np.random.default_rng(3)
    centres = [(5, 20, 5000.0), (60, 5, 500.0), (400, 1, 30.0)]  # (R days, F, M)
    frames = []
    for i, (recency, frequency, monetary) in enumerate(centres):
        n = 60
        frames.append(pd.DataFrame({
            "recency_days": np.round(recency * rng.lognormal(0, 0.15, n)),
            "frequency": np.maximum(1, np.round(frequency * rng.lognormal(0, 0.15, n))),
            "monetary_total": monetary * rng.lognormal(0, 0.15, n),
            "true": i,
        }))
    rfm = pd.concat(frames, ignore_index=True)
    scored = assign_segments(rfm_scores(rfm))
    labels, profile, silhouette = kmeans_personas(scored, k_range=range(2, 7))
    assert silhouette.idxmax() == 3
    assert list(silhouette.index) == [2, 3, 4, 5, 6]
    assert len(profile) == 3 and profile["customers"].sum() == len(rfm)
    # Clusters recover the generating groups; persona 0 is the highest value.
    assert pd.crosstab(labels, rfm["true"]).to_numpy().tolist() == [[60, 0, 0], [0, 60, 0], [0, 0, 60]]
    dominant = scored.groupby(labels)["segment"].agg(lambda s: s.value_counts().idxmax())
    assert profile["dominant_segment"].tolist() == dominant.tolist()
    assert profile.loc[2, "dominant_segment"] == "Lost"  # long-gone one-off small spenders
    assert profile["share_customers"].sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match=">= 2"):
        kmeans_personas(rfm, k_range=[1, 2])


def test_pseudonymise():
    ids = pd.Series([f"cust-{i}" for i in range(10_000)], name=CUSTOMER_ID)
    first = pseudonymise(ids, key="secret")
    assert first.equals(pseudonymise(ids, key="secret"))
    assert first.name == CUSTOMER_ID and first.index.equals(ids.index)
    assert first.str.len().eq(16).all() and first.str.fullmatch("[0-9a-f]+").all()
    assert first.nunique() == 10_000
    other = pseudonymise(ids, key="other")
    assert (first != other).all()
    # Documented construction: HMAC-SHA256 hex digest, truncated.
    import hashlib
    import hmac
    assert first[0] == hmac.new(b"secret", b"cust-0", hashlib.sha256).hexdigest()[:16]
    with_missing = pseudonymise(pd.Series(["a", None, "a"]), key="k", length=8)
    assert with_missing[0] == with_missing[2] and pd.isna(with_missing[1]) and len(with_missing[0]) == 8
    with pytest.raises(ValueError, match="key"):
        pseudonymise(ids, key="")
    with pytest.raises(ValueError, match="length"):
        pseudonymise(ids, key="k", length=0)


def test_default_rules_round_trip_through_yaml():
    yaml = pytest.importorskip("yaml")
    loaded = yaml.safe_load(yaml.safe_dump(DEFAULT_SEGMENTS, sort_keys=False))
    assert loaded == DEFAULT_SEGMENTS
    validate_segment_rules(loaded)


# --------------------------------------------------------------------------
# A real-looking shop export, loaded through lclib.io
# --------------------------------------------------------------------------


def independently_cleaned_shop_lines(path, truth) -> pd.DataFrame:
    """The messy fixture cleaned with plain pandas from the rules in its truth file."""
    raw = pd.read_csv(path, encoding=truth["encoding"], dtype=str, keep_default_na=False)
    raw = raw[raw["CustomerID"].str.strip() != ""]
    raw = raw[~raw.duplicated(keep="first")]
    when = pd.to_datetime(raw["InvoiceDate"], format=truth["date_format"], errors="coerce")
    raw, when = raw[when.notna()], when[when.notna()]
    quantity, price = raw["Quantity"].astype(float), raw["UnitPrice"].astype(float)
    keep = (~raw["InvoiceNo"].str.startswith("C") & (quantity >= 0)
            & ~raw["StockCode"].isin(truth["non_product_codes"]) & (price > 0))
    return pd.DataFrame({
        "customer": raw["CustomerID"].str.replace(r"\.0$", "", regex=True),
        "invoice": raw["InvoiceNo"], "when": when, "amount": quantity * price,
    })[keep]


def test_messy_shop_export_rfm_matches_independent_pandas_and_segments_sum(tmp_path):
    fixtures = Path(__file__).parent / "fixtures"
    truth = json.loads((fixtures / "messy_shop_export.truth.json").read_text())
    config = {"inputs": {"transactions": {
        "path": str(fixtures / "messy_shop_export.csv"),
        "columns": {"customer_id": "CustomerID", "order_id": "InvoiceNo", "timestamp": "InvoiceDate",
                    "quantity": "Quantity", "unit_price": "UnitPrice", "product": "StockCode"},
        "read": {"encoding": "latin-1", "date_format": "%d/%m/%Y %H:%M"},
        # the truth's revenue drops cancellations; netting them is tests/test_refunds.py
        "clean": {"non_product_codes": ["POST", "M", "BANK CHARGES"], "cancellations": "drop"},
    }}}
    (tmp_path / "lclib.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    cfg = load_config(tmp_path / "lclib.yaml")
    data = load_dataset(cfg, now=pd.Timestamp("2026-01-01"))

    scored = assign_segments(rfm_scores(rfm_table(data.transactions), cfg.rfm.bins, cfg.rfm.method,
                                        cfg.rfm.thresholds), cfg.rfm.segments, cfg.rfm.bins)

    lines = independently_cleaned_shop_lines(fixtures / "messy_shop_export.csv", truth)
    assert len(lines) == truth["clean"]["rows"]  # the independent cleaning is the truth's
    analysis_day = lines["when"].max().floor("D") + pd.Timedelta(days=1)
    per_customer = lines.groupby("customer").agg(
        last=("when", "max"), orders=("invoice", lambda s: len(set(s))), total=("amount", "sum"))
    recency = (analysis_day - per_customer["last"].dt.floor("D")).dt.days

    assert sorted(scored.index) == sorted(per_customer.index)
    assert len(scored) == truth["clean"]["customers"] == 300
    expected = per_customer.loc[scored.index]
    assert scored["recency_days"].tolist() == recency.loc[scored.index].tolist()
    assert scored["frequency"].tolist() == expected["orders"].tolist()
    assert scored["frequency"].to_dict() == truth["clean"]["orders_per_customer"]
    np.testing.assert_allclose(scored["monetary_total"], expected["total"], rtol=1e-12)
    np.testing.assert_allclose(scored["monetary_mean"], expected["total"] / expected["orders"], rtol=1e-12)
    assert scored["monetary_total"].sum() == pytest.approx(truth["clean"]["revenue"], abs=0.005)

    summary = segment_summary(scored)
    assert summary["customers"].sum() == len(scored) == 300
    assert scored["segment"].notna().all()
    assert summary["revenue"].sum() == pytest.approx(truth["clean"]["revenue"], abs=0.005)


# --------------------------------------------------------------------------
# One-call scoring, migration summary, persona comparison, exports
# --------------------------------------------------------------------------


def test_score_customers_is_the_pipeline_with_config_arguments(hand_transactions):
    expected = assign_segments(rfm_scores(rfm_table(hand_transactions, as_of=HAND_AS_OF)))
    pd.testing.assert_frame_equal(score_customers(hand_transactions, HAND_AS_OF), expected)
    thresholds = {"recency_days": [30, 365], "frequency": [1, 4], "monetary_total": [100, 1000]}
    rules = [{"name": "Recent", "r": [2, 3]}, {"name": "Old", "r": [1, 1]}]
    got = score_customers(hand_transactions, HAND_AS_OF, bins=3, method="thresholds",
                          thresholds=thresholds, rules=rules)
    # J (400 days) is the only customer beyond 365 days.
    assert got.index[got["segment"] == "Old"].tolist() == ["J"]
    assert got.loc["A", "r_score"] == 3 and got.loc["A", "f_score"] == 3 and got.loc["A", "m_score"] == 2


def test_migration_summary_by_hand():
    names = ["Top", "Low"]
    migration = pd.DataFrame([[5, 2], [1, 7], [3, 4]], index=pd.Index(names + [NEW_ROW], name="segment_from"),
                             columns=pd.Index(names, name="segment_to"))
    got = migration_summary(migration)
    assert got.loc["Top"].to_dict() == {"customers_before": 7, "stayed": 5, "left": 2, "joined": 1, "new": 3,
                                        "customers_after": 9, "net_change": 2}
    assert got.loc["Low"].to_dict() == {"customers_before": 8, "stayed": 7, "left": 1, "joined": 2, "new": 4,
                                        "customers_after": 13, "net_change": 5}
    with pytest.raises(ValueError, match="lacks rows"):
        migration_summary(migration.drop(index=NEW_ROW))


def test_migration_summary_identities_on_random_data():
    tx = random_transactions(seed=5)
    moves = migration_summary(segment_migration(tx, "2024-03-01", "2024-09-01"))
    assert list(moves.index) == SEGMENT_NAMES
    assert (moves["customers_after"] == moves["stayed"] + moves["joined"] + moves["new"]).all()
    assert moves["left"].sum() == moves["joined"].sum()  # every move leaves one segment for another
    assert moves["customers_before"].sum() == len(rfm_table(tx, as_of="2024-03-01"))
    assert moves["customers_after"].sum() == len(rfm_table(tx, as_of="2024-09-01"))


def test_persona_segment_table_counts_every_customer():
    index = pd.Index(list("abcdef"), name=CUSTOMER_ID)
    personas = pd.Series([1, 0, 0, 1, 1, 0], index=index, name="persona")
    segments = pd.Series(pd.Categorical(["Lost", "Champions", "Champions", "Lost", "Champions", "Lost"],
                                        categories=SEGMENT_NAMES), index=index)
    table = persona_segment_table(personas, segments)
    assert list(table.columns) == SEGMENT_NAMES and list(table.index) == [0, 1]
    assert table.loc[0, "Champions"] == 2 and table.loc[0, "Lost"] == 1
    assert table.loc[1, "Champions"] == 1 and table.loc[1, "Lost"] == 2
    assert table.to_numpy().sum() == 6 and table.drop(columns=["Champions", "Lost"]).eq(0).all().all()
    with pytest.raises(ValueError, match="same index"):
        persona_segment_table(personas.iloc[:3], segments)


def test_kmeans_personas_is_deterministic():
    rfm = rfm_table(random_transactions(seed=9))
    first = kmeans_personas(rfm, k_range=range(2, 5), random_state=1)
    again = kmeans_personas(rfm, k_range=range(2, 5), random_state=1)
    pd.testing.assert_series_equal(first[0], again[0])
    pd.testing.assert_series_equal(first[2], again[2])
    # Fitted on a subsample, every customer still gets a persona, reproducibly.
    sub = kmeans_personas(rfm, k_range=[3], fit_sample=100, silhouette_sample=150)
    assert sub[0].index.equals(rfm.index) and sub[0].nunique() == 3
    pd.testing.assert_series_equal(sub[0], kmeans_personas(rfm, k_range=[3], fit_sample=100,
                                                           silhouette_sample=150)[0])


def test_export_tables_lists_and_pseudonyms(hand_transactions):
    scored = score_customers(hand_transactions, HAND_AS_OF)
    files = export_tables(scored)
    assert list(files) == ["rfm_customers", "rfm_vip", "rfm_at_risk"]
    full = files["rfm_customers"]
    assert full.index.name == CUSTOMER_ID and len(full) == 12
    assert full.index[:3].tolist() == ["J", "A", "G"]  # by total spend 1500, 1000, 700
    assert full["segment"].dtype == object
    # Champions A, Loyal C; At Risk G, Can't Lose Them J (hand example segments).
    assert files["rfm_vip"].index.tolist() == ["A", "C"]
    assert files["rfm_at_risk"].index.tolist() == ["J", "G"]
    assert set(DEFAULT_EXPORT_LISTS) == {"vip", "at_risk"}

    hashed = export_tables(scored, key="s3cret")
    table = hashed["rfm_customers"]
    assert table.index.name == "customer_pseudonym"
    assert table.index.tolist() == pseudonymise(full.index.to_series(), "s3cret").tolist()
    assert not set(table.index) & set(scored.index)
    pd.testing.assert_frame_equal(table.reset_index(drop=True), full.reset_index(drop=True))
    assert hashed["rfm_vip"].index.tolist() == pseudonymise(pd.Series(["A", "C"]), "s3cret").tolist()

    custom = export_tables(scored, lists={"sleepers": ["About to Sleep", "Hibernating"]})
    assert list(custom) == ["rfm_customers", "rfm_sleepers"]
    assert sorted(custom["rfm_sleepers"].index) == ["E", "F"]
    with pytest.raises(ValueError, match="unknown segments"):
        export_tables(scored, lists={"x": ["Whales"]})
    # Default lists keep only the segments custom rules have.
    other = assign_segments(rfm_scores(rfm_table(hand_transactions, as_of=HAND_AS_OF)),
                            [{"name": "Champions", "r": [3, 5]}, {"name": "Rest", "r": [1, 2]}])
    assert list(export_tables(other)) == ["rfm_customers", "rfm_vip"]


def test_score_ranges_by_hand(hand_transactions):
    ranges = score_ranges(score_customers(hand_transactions, HAND_AS_OF))
    assert list(ranges.loc["recency_days"].index) == [5, 4, 3, 2, 1]
    # From the hand computation: R5 = A, B (1 day); R3 = C, L, E (14-45 days).
    assert ranges.loc[("recency_days", 5)].to_dict() == {"customers": 2, "share_customers": 2 / 12,
                                                         "min": 1, "max": 1}
    assert ranges.loc[("recency_days", 3), ["customers", "min", "max"]].tolist() == [3, 14, 45]
    assert ranges.loc[("frequency", 5), ["customers", "min", "max"]].tolist() == [2, 5, 6]
    assert ranges.loc[("monetary_total", 1), ["customers", "min", "max"]].tolist() == [3, 50.0, 60.0]
    assert ranges.groupby(level="dimension")["customers"].sum().eq(12).all()
    # Heavy ties skip a score: it is listed with 0 customers.
    tied = rfm_scores(rfm_frame(list(range(10)), [1] * 7 + [2, 3, 4], [float(v) for v in range(10)]))
    f = score_ranges(tied).loc["frequency"]
    assert f["customers"].tolist() == [2, 1, 0, 0, 7] and np.isnan(f.loc[3, "min"])


def test_resolve_secret_reads_env_references():
    assert resolve_secret(None) is None and resolve_secret("") is None
    assert resolve_secret("plain-key") == "plain-key"
    assert resolve_secret("env:RFM_KEY", {"RFM_KEY": "s3cret"}) == "s3cret"
    with pytest.raises(ValueError, match="RFM_KEY"):
        resolve_secret("env:RFM_KEY", {})


def test_pseudonym_helpers_moved_to_lclib_io_privacy_and_stay_importable_here():
    from lclib.io import privacy

    assert pseudonymise is privacy.pseudonymise and resolve_secret is privacy.resolve_secret
    ids = pd.Series(["a", None, "b"], dtype="string")
    hashed = pseudonymise(ids, key="k")
    assert hashed.dtype == ids.dtype and pd.isna(hashed[1])  # a string dtype and missing values kept


# --------------------------------------------------------------------------
# Scale: one pass for several snapshots, sampled k-means, fast export order
# --------------------------------------------------------------------------


def multi_line_transactions(seed: int = 4, lines: int = 3000) -> pd.DataFrame:
    """Orders of several lines, some spanning a snapshot time; a few missing customer and order ids."""
    rng = np.random.default_rng(seed)
    order = rng.integers(0, 1200, lines)
    start = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730 * 24, 1200), unit="h")
    tx = pd.DataFrame({
        CUSTOMER_ID: pd.array([f"c{i % 250:03d}" for i in order], dtype="str"),
        ORDER_ID: pd.array([f"o{i}" for i in order], dtype="str"),
        TIMESTAMP: start[order] + pd.to_timedelta(rng.integers(0, 600, lines), unit="min"),
        AMOUNT: np.round(rng.gamma(2.0, 30.0, lines), 2),
    })
    tx.loc[rng.choice(lines, 20, replace=False), CUSTOMER_ID] = None
    tx.loc[rng.choice(lines, 10, replace=False), ORDER_ID] = None  # not counted as orders
    return tx


def test_rfm_snapshots_equal_one_rfm_table_per_date():
    tx = multi_line_transactions()
    dates = ["2024-03-01", "2023-06-15", "2025-01-01", "2022-12-01"]  # any order; the last before all data
    snapshots = rfm_snapshots(tx, dates)
    assert len(snapshots) == len(dates)
    for date, snapshot in zip(dates, snapshots):
        pd.testing.assert_frame_equal(snapshot, rfm_table(tx, as_of=date), check_exact=False, rtol=1e-12)
    assert len(snapshots[3]) == 0 and len(snapshots[1]) < len(snapshots[0]) < len(snapshots[2])
    pd.testing.assert_frame_equal(rfm_snapshots(tx, ["2024-03-01"])[0], rfm_table(tx, as_of="2024-03-01"))
    with pytest.raises(ValueError, match="at least one"):
        rfm_snapshots(tx, [])


def test_migration_from_shared_snapshots_equals_segment_migration():
    tx = multi_line_transactions(seed=5)
    date_from, date_to = pd.Timestamp("2024-05-01"), pd.Timestamp("2024-11-01")
    rfm_from, rfm_to = rfm_snapshots(tx, [date_from, date_to])
    scored = score_rfm(rfm_to)
    pd.testing.assert_frame_equal(scored, score_customers(tx, date_to), check_exact=False, rtol=1e-12)
    table = migration_table(score_rfm(rfm_from)["segment"], scored["segment"])
    pd.testing.assert_frame_equal(table, segment_migration(tx, date_from, date_to))
    assert table.to_numpy().sum() == len(scored)
    assert table.loc[NEW_ROW].sum() == len(scored) - len(rfm_from) > 0


def test_kmeans_cap_fits_on_the_documented_sample_and_finds_the_same_personas(monkeypatch):
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(11)
    centres = [(5, 20, 5000.0), (60, 5, 500.0), (400, 1, 30.0)]
    rfm = pd.concat([pd.DataFrame({
        "recency_days": np.round(r * rng.lognormal(0, 0.15, 1000)),
        "frequency": np.maximum(1, np.round(f * rng.lognormal(0, 0.15, 1000))),
        "monetary_total": m * rng.lognormal(0, 0.15, 1000),
    }) for r, f, m in centres], ignore_index=True)
    full_labels, full_profile, full_silhouette = kmeans_personas(rfm, k_range=range(2, 6))

    fitted_rows = []
    fit = KMeans.fit
    monkeypatch.setattr(KMeans, "fit", lambda self, X, *a, **k: fitted_rows.append(len(X)) or fit(self, X, *a, **k))
    labels, profile, silhouette = kmeans_personas(rfm, k_range=range(2, 6), fit_sample=300)
    assert fitted_rows == [300] * 4  # one fit per k, each on 300 of the 3,000 customers
    assert labels.index.equals(rfm.index)  # ... and a persona for everyone
    assert silhouette.idxmax() == full_silhouette.idxmax() == 3
    assert (labels == full_labels).mean() > 0.99
    assert profile["customers"].sum() == len(rfm)
    np.testing.assert_allclose(profile["mean_monetary_total"], full_profile["mean_monetary_total"], rtol=0.02)
    # Below the cap nothing is sampled: the default fits on everyone.
    fitted_rows.clear()
    kmeans_personas(rfm, k_range=[3])
    assert fitted_rows == [len(rfm)]


def test_kmeans_max_customers_config_key():
    from lclib.config import Rfm

    assert Rfm().kmeans_max_customers == 50_000
    assert Rfm(kmeans_max_customers=200_000).kmeans_max_customers == 200_000
    with pytest.raises(ValueError):
        Rfm(kmeans_max_customers=10)


def test_export_tables_same_order_for_sorted_and_shuffled_ids():
    scored = score_customers(multi_line_transactions(seed=6), "2025-01-01")
    scored["monetary_total"] = np.round(scored["monetary_total"], -1)  # many ties, broken by id
    assert scored.index.is_monotonic_increasing
    fast = export_tables(scored)
    slow = export_tables(scored.sample(frac=1.0, random_state=0))
    assert list(fast) == list(slow)
    for name in fast:
        pd.testing.assert_frame_equal(fast[name], slow[name])
    full = fast["rfm_customers"].reset_index()
    expected = full.sort_values(["monetary_total", CUSTOMER_ID], ascending=[False, True])
    assert full[CUSTOMER_ID].tolist() == expected[CUSTOMER_ID].tolist()


def test_quantile_scores_equal_pandas_min_rank_on_ties():
    from lclib.analysis.rfm import _min_rank

    rng = np.random.default_rng(8)
    for values in (rng.integers(0, 15, 5000).astype(float), np.round(rng.gamma(2, 30, 5000), 0),
                   np.array([0.0, -0.0, 2.0, -0.0, 1.0]), np.array([7.0])):
        for v in (values, -values):
            expected = pd.Series(v).rank(method="min").to_numpy(dtype="int64") - 1
            np.testing.assert_array_equal(_min_rank(v), expected)


def test_score_range_labels_never_share_a_value():
    from lclib.analysis.rfm import score_range_labels
    ranges = pd.DataFrame(
        {"customers": [2, 0, 3, 1, 1], "share_customers": [0.4, 0, 0.6, 0.5, 0.5],
         "min": [18.45, np.nan, 2.0, 3.0, 1.0], "max": [29.10, np.nan, 18.40, 5.0, 1.0]},
        index=pd.MultiIndex.from_tuples([("monetary_total", 3), ("monetary_total", 2), ("monetary_total", 1),
                                         ("frequency", 2), ("frequency", 1)], names=["dimension", "score"]))
    got = score_range_labels(ranges, {"frequency": "Orders", "monetary_total": "Spent"})
    assert list(got.columns) == ["Orders", "Spent"] and got.index.name == "Score"
    assert got["Spent"].tolist() == ["18.45 - 29.10", "-", "2.00 - 18.40"]  # money: two decimals
    assert got["Orders"].dropna().tolist() == ["3 - 5", "1"]  # whole numbers: none, equal ends once


def test_score_range_labels_bands_do_not_overlap_on_the_sample():
    from lclib.analysis.rfm import score_range_labels
    cfg = load_config()
    scored = score_customers(load_dataset(cfg).transactions)
    labels = score_range_labels(score_ranges(scored, 5))
    for column in labels:
        bands = [b.split(" - ") for b in labels[column] if b != "-"]
        ends = [(b[0], b[-1]) for b in bands]
        for (lo_hi, hi_lo) in zip(ends[1:], ends[:-1]):  # a lower score's top is not the next score's bottom
            assert lo_hi[1] != hi_lo[0]


def test_segment_states_crosstab_by_hand():
    from lclib.analysis.rfm import segment_states
    segments = pd.Series(pd.Categorical(["At Risk", "At Risk", "Champions"], categories=["Champions", "At Risk"]),
                         index=["a", "b", "c"], name="segment")
    states = pd.DataFrame({"customer_id": ["a", "b", "c", None],
                           "state": pd.Categorical(["lapsed", "at_risk", "active", "prospect"],
                                                   categories=["prospect", "active", "at_risk", "lapsed"])})
    got = segment_states(segments, states)
    assert got.index.tolist() == ["Champions", "At Risk"] and got.columns.tolist() == ["active", "at_risk", "lapsed"]
    assert got.loc["At Risk"].tolist() == [0, 1, 1] and got.loc["Champions"].tolist() == [1, 0, 0]


def test_segment_states_on_the_sample_covers_every_scored_customer():
    from lclib.analysis import stages
    from lclib.engine.contracts import resolve_as_of
    from lclib.analysis.rfm import segment_states
    cfg = load_config()
    data = load_dataset(cfg)
    as_of = resolve_as_of(data.transactions, cfg.analysis.as_of)
    scored = score_customers(data.transactions, as_of)
    th = stages.thresholds_from_config(data.transactions, cfg, as_of)
    got = segment_states(scored["segment"], stages.customer_states(data.tables, th, as_of))
    assert int(got.to_numpy().sum()) == len(scored)
    assert set(got.columns) <= {"new", "active", "reactivated", "at_risk", "lapsed"}  # buyers only
