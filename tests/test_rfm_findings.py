"""The findings and sentences of report 03_rfm (lclib.analysis.rfm), on hand-worked small cases.

Each case is small enough to check by hand: the numbers and the sentences are pinned, including
the branches the notebook's inline ``if``s used to take (no history before the comparison date,
one segment, ties, nothing to show).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import rfm_findings
from lclib.analysis.rfm import rf_heatmap_table, score_ranges
from lclib.analysis.rfm_findings import (CustomerBase, Personas, customer_base, customer_statistics, export_list_labels,
                                export_sentence, find_personas, headline_numbers, headline_segment_shares,
                                lapsed_segments_sentence, persona_sentence, rf_grid_value,
                                score_ranges_sentence, segment_moves, segment_state_shares,
                                segment_value, silhouette_strength, whole_or_one_decimal, win_back_sentence)

LAPSE_TAIL = (" already lapsed by that definition. So the RFM segments with 'at risk' style names are not the "
              "lifecycle state *at risk*: their win-back actions above try to bring back customers who have already "
              "lapsed, who return far less often than customers kept before they lapse.")


# ----------------------------------------------------------------------------- the customer base


def test_whole_or_one_decimal():
    assert [whole_or_one_decimal(v) for v in (213.0, 213.5, 1234, 0.25, np.float64(7))] == \
        ["213", "213.5", "1,234", "0.2", "7"]


def test_customer_statistics_in_words():
    scored = pd.DataFrame({"recency_days": [3, 10, 40, 41], "frequency": [1, 3, 1, 2],
                           "monetary_total": [20.0, 90.0, 40.0, 50.0], "monetary_mean": [20.0, 30.0, 40.0, 25.0]})
    stats = customer_statistics(scored, {"frequency": "Orders", "recency_days": "Recency (days)"})
    assert list(stats.columns) == ["Orders", "Recency (days)"]  # the order of names
    assert stats.index.name == "Statistic"
    assert list(stats.index) == ["Average", "Minimum", "25th percentile", "Median", "75th percentile", "Maximum"]
    assert stats["Orders"].tolist() == [1.75, 1.0, 1.0, 1.5, 2.25, 3.0]
    assert stats["Recency (days)"].tolist() == [23.5, 3.0, 8.25, 25.0, 40.25, 41.0]
    assert list(customer_statistics(scored).columns) == ["recency_days", "frequency", "monetary_total",
                                                          "monetary_mean"]


def test_customer_base_sentence():
    scored = pd.DataFrame({"recency_days": [3, 10, 40, 41], "frequency": [1, 3, 1, 2],
                           "monetary_total": [20.0, 90.0, 40.0, 50.0]})
    base = customer_base(scored, pd.Timestamp("2025-01-01"), "EUR")
    assert (base.customers, base.median_recency_days, base.one_order_share) == (4, 25.0, 0.5)
    assert base.order_value == pytest.approx(200 / 7)
    assert base.sentence == (
        "With **data to 31 Dec 2024**, we have **4 customers**. Half of them last bought within **25 days**; "
        "**50.0%** ordered only once, and an order was worth **28.57 EUR** on average over all orders (the table "
        "averages each customer's own average order, so one-order customers weigh more).")
    # a half-day median keeps its decimal; an order worth 100 or more loses its cents
    two = customer_base(scored.iloc[:2].assign(monetary_total=[250.0, 250.0]), "2025-01-01", "GBP")
    assert "within **6.5 days**" in two.sentence and "worth **125 GBP**" in two.sentence


def test_customer_base_without_customers():
    empty = pd.DataFrame({"recency_days": [], "frequency": [], "monetary_total": []})
    base = customer_base(empty, "2025-01-01", "EUR")
    assert base.customers == 0 and np.isnan(base.one_order_share)
    assert base.sentence == "With **data to 31 Dec 2024**, no customer has bought yet: there is nobody to score."


# ----------------------------------------------------------------------------- what a score means


def _ranges(r_score, f_score, bins):
    scored = pd.DataFrame({"recency_days": [5, 20, 100], "frequency": [1, 1, 4], "monetary_total": [10.0, 20.0, 30.0],
                           "r_score": r_score, "f_score": f_score, "m_score": [1, 2, 3]})
    return score_ranges(scored, bins)


def test_score_ranges_sentence_names_one_unused_frequency_score():
    text = score_ranges_sentence(_ranges([3, 2, 1], [1, 1, 3], 3), 2 / 3)
    assert text == ("A recency score of 3 means a last purchase at most **5 days** ago. Because **66.7%** of "
                    "customers ordered once, they all share frequency score 1 and score 2 is not used for frequency.")


def test_score_ranges_sentence_with_recency_from_the_lifecycle_and_several_unused_scores():
    text = score_ranges_sentence(_ranges([4, 2, 1], [1, 1, 4], 4), 2 / 3, recency_from_states=True,
                                 at_risk_days=31, lapsed_days=153)
    assert text == ("A recency score of 4 means a last purchase at most **5 days** ago. Recency follows the "
                    "lifecycle: R=1 is every customer lapsed (no order for 153 days or more), R=2 every customer at "
                    "risk (31 days or more). Because **66.7%** of customers ordered once, they all share frequency "
                    "score 1 and scores 3, 2 are not used for frequency.")


def test_score_ranges_sentence_every_score_used_and_an_empty_top_recency_score():
    assert score_ranges_sentence(_ranges([3, 2, 1], [1, 2, 3], 3), 2 / 3).endswith("Every frequency score is used.")
    text = score_ranges_sentence(_ranges([2, 2, 1], [1, 2, 3], 3), 2 / 3)
    assert text == "No customer has the top recency score, 3. Every frequency score is used."  # not "nan days"


# ----------------------------------------------------------------------------- segments and their value


def _summary(customers, share_revenue, names=("Champions", "Loyal Customers", "At Risk", "Lost")):
    customers = np.asarray(customers)
    return pd.DataFrame({"customers": customers, "share_customers": customers / max(customers.sum(), 1),
                         "share_revenue": share_revenue}, index=pd.Index(list(names), name="segment"))


def test_segment_value_two_most_valuable_and_the_largest():
    value = segment_value(_summary([10, 20, 30, 40], [0.35, 0.25, 0.30, 0.10]))
    assert value.most_valuable == ["Champions", "At Risk"]
    assert value.most_valuable_share_customers == pytest.approx(0.4)
    assert value.most_valuable_share_revenue == pytest.approx(0.65)
    assert (value.largest, value.largest_customers, value.largest_segment) == ("Lost", 40, ("Lost", 40.0))
    assert value.sentence == (
        "The two most valuable segments, **Champions** and **At Risk**, are **40%** of customers but bring "
        "**65%** of revenue. The largest segment is **Lost** with **40** customers (40%). Every customer is in "
        "exactly one segment: the segments add up to 100 customers.")


def test_segment_value_ties_go_to_the_segment_listed_first():
    value = segment_value(_summary([30, 30, 30, 10], [0.3, 0.3, 0.3, 0.1]))
    assert value.most_valuable == ["Champions", "Loyal Customers"]
    assert value.largest == "Champions"


def test_segment_value_with_one_segment_and_without_customers():
    one = segment_value(_summary([5], [1.0], names=["Everyone"]))
    assert one.most_valuable == ["Everyone"] and one.largest_segment == ("Everyone", 100.0)
    assert one.sentence == "Every customer is in the one segment **Everyone**: 5 customers."
    none = segment_value(_summary([0, 0, 0, 0], [np.nan] * 4))
    assert none.largest is None and none.largest_segment is None and none.most_valuable == []
    assert none.sentence == "No customer is in a segment yet."


def _grid(rows, bins=2):
    scored = pd.DataFrame(rows, columns=["r_score", "f_score", "monetary_total"])
    return rf_heatmap_table(scored.astype({"r_score": "int64", "f_score": "int64"}), bins)


def test_rf_grid_value_best_cell_and_quiet_regulars():
    grid = rf_grid_value(_grid([(1, 2, 100.0), (1, 2, 60.0), (2, 2, 50.0), (2, 1, 10.0)]), "EUR")
    assert (grid.best_cell, grid.best_customers, grid.best_mean_spend, grid.quiet_regulars) == ((1, 2), 2, 80.0, 2)
    assert grid.sentence == (
        "The most valuable cell is R=1, F=2: **2** customers spending **80.00 EUR** each on average. **2** "
        "customers have the top frequency but the lowest recency (R=1, F=2): loyal buyers who have gone quiet and "
        "are worth winning back.")


def test_rf_grid_value_without_quiet_regulars():
    grid = rf_grid_value(_grid([(2, 2, 300.0), (2, 2, 200.0), (1, 1, 5.0)]), "USD")
    assert grid.quiet_regulars == 0
    assert grid.sentence == (
        "The most valuable cell is R=2, F=2: **2** customers spending **250 USD** each on average. No customer "
        "combines the top frequency with the lowest recency (R=1, F=2).")


def test_rf_grid_value_ties_and_an_empty_grid():
    assert rf_grid_value(_grid([(2, 2, 50.0), (1, 1, 50.0)])).best_cell == (1, 1)  # lower R first
    empty = rf_grid_value(_grid([]))
    assert empty.best_cell is None and empty.quiet_regulars == 0
    assert empty.sentence == "No customer is on the recency x frequency grid yet."


# ----------------------------------------------------------------------------- moves between segments

CATS = ["Champions", "At Risk", "Lost"]


def _segments(mapping, cats=CATS):
    return pd.Series(pd.Categorical(list(mapping.values()), categories=cats), index=pd.Index(list(mapping),
                                                                                              name="customer_id"))


def test_segment_moves_without_history():
    after = _segments({"a": "Champions"})
    moves = segment_moves(None, after, pd.Timestamp("2025-10-03"), pd.Timestamp("2026-01-01"))
    assert not moves.has_history and moves.migration is None and moves.summary is None
    assert moves.stayed_share is None and moves.biggest_move is None
    assert moves.days == 90 and moves.labels == ("02 Oct 2025", "31 Dec 2025")
    assert moves.sentence == ("The data start less than 90 days before the analysis date, so there is no earlier "
                              "snapshot to compare with (a shorter comparison period, a setting of the configuration, would give one).")


def test_segment_moves_stayed_biggest_move_grew_and_shrank():
    before = _segments({"a": "Champions", "b": "Champions", "c": "At Risk", "d": "At Risk", "e": "Lost"})
    after = _segments({"a": "Champions", "b": "At Risk", "c": "Lost", "d": "Lost", "e": "Lost",
                       "f": "Champions", "g": "Champions"})
    moves = segment_moves(before, after, "2025-10-01", "2025-12-30")
    assert moves.has_history and moves.stayed_share == pytest.approx(0.4)
    assert moves.biggest_move == ("At Risk", "Lost", 2)
    assert moves.summary["net_change"].to_dict() == {"Champions": 1, "At Risk": -1, "Lost": 2}
    assert moves.sentence == (
        "Between 30 Sep 2025 and 29 Dec 2025 (90 days), **40%** of the 5 existing customers stayed in their "
        "segment and **2** new customers arrived. The biggest single move was **2** customers from **At Risk** to "
        "**Lost**. **Lost** grew the most (+2) and **At Risk** shrank the most (-1).")


def test_segment_moves_nobody_moved_and_no_segment_shrank():
    moves = segment_moves(_segments({"a": "Champions"}), _segments({"a": "Champions", "b": "Lost"}),
                          "2025-10-01", "2025-12-30")
    assert moves.biggest_move is None and moves.stayed_share == 1.0
    assert moves.sentence == (
        "Between 30 Sep 2025 and 29 Dec 2025 (90 days), **100%** of the 1 existing customers stayed in their "
        "segment and **1** new customers arrived. **Lost** grew the most (+1); no segment shrank, as new "
        "customers kept arriving.")


def test_segment_moves_ties_go_to_the_first_origin_and_the_first_segment():
    before = _segments({"a": "Champions", "b": "At Risk"})
    after = _segments({"a": "At Risk", "b": "Lost"})
    moves = segment_moves(before, after, "2025-10-01", "2025-12-30")
    assert moves.biggest_move == ("Champions", "At Risk", 1)  # At Risk -> Lost moved as many
    assert "**Lost** grew the most (+1) and **Champions** shrank the most (-1)." in moves.sentence


def test_segment_moves_with_one_segment():
    moves = segment_moves(_segments({"a": "All"}, ["All"]), _segments({"a": "All", "b": "All"}, ["All"]),
                          "2025-10-01", "2025-12-30")
    assert moves.biggest_move is None and moves.stayed_share == 1.0
    assert moves.sentence.endswith("**All** grew the most (+1); no segment shrank, as new customers kept arriving.")


# ----------------------------------------------------------------------------- actions, lifecycle states


def test_win_back_sentence():
    summary = pd.DataFrame({"customers": [10, 30, 5, 1255], "revenue": [500.0, 300.0, 700.0, 500.0]},
                           index=["Champions", "At Risk", "Can't Lose Them", "Lost"])
    assert win_back_sentence(summary, "EUR") == (
        "**35** customers in the RFM segments At Risk and Can't Lose Them have spent **1,000 EUR** (50% of revenue) "
        "but have not bought for a long time: they are the first win-back target.")
    assert win_back_sentence(summary.drop(index="At Risk"), "EUR").startswith(
        "**5** customers in the RFM segments Can't Lose Them have spent **700 EUR** (41% of revenue)")  # 700 of 1,700
    assert win_back_sentence(summary.drop(index=["At Risk", "Can't Lose Them"]), "EUR") is None  # custom rules


def test_segment_state_shares_and_mostly_lapsed_segments():
    segments = pd.Series(pd.Categorical(["Champions", "Lost", "Lost"], categories=["Champions", "At Risk", "Lost"]),
                         index=pd.Index(["a", "b", "c"], name="customer_id"))
    states = pd.DataFrame({"customer_id": ["a", "b", "c"], "state": ["active", "lapsed", "at_risk"]})
    shares = segment_state_shares(segments, states)
    assert list(shares.columns) == ["active", "at_risk", "lapsed"]
    assert shares.loc["Lost"].tolist() == [0.0, 0.5, 0.5]
    assert shares.loc["At Risk"].isna().all()  # an empty segment: no share, not 0 %
    assert lapsed_segments_sentence(shares, 153) == (
        "A customer counts as **lapsed** in the lifecycle report after **153 days** without an order. Most "
        "customers of **Lost** (50%) have" + LAPSE_TAIL)


def test_lapsed_segments_sentence_every_customer_and_none():
    shares = pd.DataFrame({"active": [1.0, 0.0, 0.0], "lapsed": [0.0, 1.0, 1.0]},
                          index=["Champions", "At Risk", "Lost"])
    assert lapsed_segments_sentence(shares, 200) == (
        "A customer counts as **lapsed** in the lifecycle report after **200 days** without an order. Every "
        "customer of **At Risk, Lost** has" + LAPSE_TAIL)
    few = pd.DataFrame({"active": [1.0, 0.51], "lapsed": [0.0, 0.49]}, index=["Champions", "At Risk"])
    expected = ("A customer counts as **lapsed** in the lifecycle report after **365 days** without an order. "
                "No RFM segment is mostly made of lapsed customers.")
    assert lapsed_segments_sentence(few, 365) == expected
    assert lapsed_segments_sentence(few.drop(columns="lapsed"), 365) == expected  # nobody lapsed at all


# ----------------------------------------------------------------------------- personas


def _personas(customers=1862, fit_sample=50_000, columns=("Champions", "Loyal Customers", "At Risk", "Lost")):
    profile = pd.DataFrame({"share_customers": [0.26, 0.74], "mean_monetary_total": [181.2, 33.0],
                            "dominant_segment": ["At Risk", "Lost"]}, index=pd.Index([0, 1], name="persona"))
    overlap = pd.DataFrame([[10, 10, 60, 20], [0, 5, 100, 600]], index=pd.Index([0, 1], name="persona"),
                           columns=list(columns))
    silhouette = pd.Series({2: 0.44, 3: 0.30}, name="silhouette")
    return Personas(None, profile, silhouette, overlap, customers, fit_sample, None)


def test_persona_sentence_with_the_vip_segments():
    personas = _personas()
    assert personas.found and personas.k == 2
    assert persona_sentence(personas, "EUR") == (
        "The data split best into **2 personas**, with a moderate structure (silhouette 0.44; above 0.5 is clear, "
        "below 0.25 weak). The most valuable, Persona 1, **26%** of customers, spends **181 EUR** on average; "
        "**20%** of it are Champions or Loyal Customers in the rule segments, so both views agree on where the "
        "value sits.")
    only_champions = persona_sentence(personas, "EUR", {"vip": ["Champions"], "at_risk": ["At Risk"]})
    assert "; **10%** of it are Champions in the rule segments" in only_champions


def test_persona_sentence_without_vip_segments_and_fitted_on_a_sample():
    text = persona_sentence(_personas(customers=60_000, columns=("Big", "Medium", "Small", "Tiny")), "EUR")
    assert text.endswith(
        "spends **181 EUR** on average and is mostly **At Risk**. k-means was fitted on a random sample of 50,000 of "
        "the 60,000 customers (a setting of the configuration); every customer was then assigned to the nearest persona.")


def test_silhouette_strength_boundaries():
    assert [silhouette_strength(s) for s in (0.51, 0.5, 0.25, 0.2499)] == \
        ["a clear", "a moderate", "a moderate", "only a weak"]


def test_personas_skipped_when_switched_off_or_too_few():
    scored = pd.DataFrame({"recency_days": range(5), "frequency": 1, "monetary_total": 1.0, "segment": "Lost"})
    off = find_personas(scored, enabled=False)
    assert not off.found and off.k is None and off.overlap is None
    assert persona_sentence(off) == "Personas are switched off in the configuration."
    few = find_personas(scored)
    assert not few.found and persona_sentence(few) == "Only 5 customers: too few to look for personas."


def test_find_personas_clusters_and_counts_the_overlap():
    rng = np.random.default_rng(0)
    n = 40
    high = np.arange(n) < 10  # ten big, frequent, recent customers
    scored = pd.DataFrame({
        "recency_days": np.where(high, rng.integers(1, 10, n), rng.integers(200, 400, n)),
        "frequency": np.where(high, rng.integers(8, 12, n), 1),
        "monetary_total": np.where(high, rng.uniform(500, 900, n), rng.uniform(5, 20, n)),
        "segment": pd.Categorical(np.where(high, "Champions", "Lost"), categories=["Champions", "Lost"]),
    }, index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))
    personas = find_personas(scored, k_range=range(2, 4))
    assert personas.found and personas.k == 2 and personas.customers == n and personas.skipped is None
    assert personas.overlap.loc[0].to_dict() == {"Champions": 10, "Lost": 0}  # persona 0 = the most valuable
    assert "**100%** of it are Champions in the rule segments" in persona_sentence(personas, "EUR")  # no Loyal here


# ----------------------------------------------------------------------------- exports and headline numbers


def test_export_list_labels():
    assert export_list_labels(["rfm_customers", "rfm_vip", "rfm_at_risk"], {}) == [
        "All scored customers", "VIP (RFM segments Champions, Loyal Customers)",
        "At risk (RFM segments At Risk, Can't Lose Them)"]
    lists = {"vip": ["Champions"], "win_back_now": ["Lost", "Hibernating"]}
    assert export_list_labels(["rfm_vip", "rfm_win_back_now"], lists, {"win_back_now": "Call list"}) == [
        "VIP (RFM segments Champions)", "Call list (RFM segments Lost, Hibernating)"]


def test_export_sentence():
    files = {"rfm_customers": pd.DataFrame(index=range(2000)), "rfm_vip": pd.DataFrame(index=range(3)),
             "rfm_at_risk": pd.DataFrame(index=range(1200))}
    assert export_sentence(files, pseudonymised=False, output_folder=False) == (
        "The VIP list holds **3** customers and the RFM at-risk list **1,200**. Customer ids are exported as they "
        "are; turn on pseudonymisation in the configuration before sharing the files. (No output folder was given, "
        "so no file was written.)")
    assert export_sentence({}, pseudonymised=True, output_folder=True) == (
        "The VIP list holds **0** customers and the RFM at-risk list **0**. Customer ids are pseudonymised (keyed "
        "hashes, as in every report of this run).")


def test_headline_numbers_in_recording_order():
    summary = _summary([10, 20, 30, 40], [0.35, 0.25, 0.30, 0.10])
    rows = headline_numbers(100, summary, 0.549, stayed_share=0.7312, compare_days=90, personas=2)
    assert [(name, value, unit) for name, value, _, unit in rows] == [
        ("rfm_customers", 100, "customers"), ("share_champions", 10.0, "%"), ("share_at_risk", 30.0, "%"),
        ("share_lost", 40.0, "%"), ("champions_revenue_share", 35.0, "%"), ("one_order_share", 54.9, "%"),
        ("segment_stayed_share", 73.1, "%"), ("personas", 2, "personas")]
    assert rows[2][2] == "Customers in RFM segment 'At Risk'"
    assert rows[6][2] == "Customers who kept their segment over 90 days"


def test_headline_numbers_without_history_personas_or_champions():
    summary = _summary([5, 5], [0.5, 0.5], names=["Big", "Lost"])
    rows = headline_numbers(10, summary, 0.5)  # no history, personas skipped, custom rules
    assert [name for name, *_ in rows] == ["rfm_customers", "share_lost", "one_order_share"]


def test_headline_segment_shares():
    recorded = {"rfm_customers": 100, "share_champions": 1.8, "share_lost": 39.6, "one_order_share": 54.9}
    assert headline_segment_shares(recorded) == {"Champions": 1.8, "Lost": 39.6}
    assert headline_segment_shares({}) == {}
    assert rfm_findings.segment_share_name("Can't Lose Them") == "share_can't_lose_them"
    assert isinstance(customer_base(pd.DataFrame({"recency_days": [1], "frequency": [1], "monetary_total": [1.0]}),
                                    "2025-01-01"), CustomerBase)
