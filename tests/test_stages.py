"""Tests for lclib.analysis.stages: lifecycle states as of a date, month by month, and transitions.

The hand-written world below uses thresholds new 30, at risk 60, lapsed 120 days.
Each person's state at every month end (as of the first day of the next month) is
worked out by hand in ``EXPECTED``; days since the last order are in the comments.
"""

from __future__ import annotations

from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lclib.analysis import stages as st  # noqa: E402
from lclib.analysis.churn import FALLBACK_WINDOW_DAYS, inactivity_window  # noqa: E402
from lclib.io.columns import (ACQUISITION_CHANNEL, AMOUNT, ANONYMOUS_ID, CHANNEL, CUSTOMER_ID, EVENT_TYPE, ORDER_ID, SIGNUP_DATE, TIMESTAMP)
from lclib.plots import stages as plots  # noqa: E402

TH = st.StateThresholds(new_days=30, at_risk_days=60, lapsed_days=120, sources={}, sentence="")
AS_OF = pd.Timestamp("2024-08-01")
MONTHS = pd.period_range("2024-01", "2024-07", freq="M")

ORDERS = {
    "A": ["2024-01-10", "2024-02-20", "2024-03-15"],
    "B": ["2024-01-05", "2024-06-20", "2024-07-25"],  # gap 167 >= 120: second spell from 06-20
    "C": ["2024-03-10"],
    "D": ["2024-03-20"],
    "E": ["2024-02-15"],
    "F": ["2024-01-01 00:00", "2024-04-10"],  # gap 100 < 120: one spell
    "G": ["2024-01-03", "2024-05-10"],  # gap 128 >= 120: reactivation
    "K": ["2024-04-05"],
}
EVENTS = [  # anonymous_id, customer_id, timestamp, event_type
    ("PD", None, "2024-01-20", "visit"),
    ("PD", "D", "2024-02-10", "signup"),
    ("PE", None, "2024-01-25", "visit"),
    ("PE", "E", "2024-02-05", "add_to_cart"),
    ("PP", None, "2024-03-03", "visit"),
]
SIGNUPS = {"C": "2024-01-15", "R": "2024-06-10"}

# month-end states Jan..Jul 2024 (None = not yet seen); days since last order in brackets
EXPECTED = {
    "A": ["new",  # 22 (first order 22 days ago)
          "active",  # 10, first order 51 days ago
          "active", "active",  # 17, 47
          "at_risk", "at_risk",  # 78, 108
          "lapsed"],  # 139
    "B": ["new", "active",  # 27, 56
          "at_risk", "at_risk",  # 87, 117
          "lapsed",  # 148
          "reactivated",  # 11, spell started 11 days ago after a 167-day gap
          "active"],  # 7, spell started 42 days ago
    "C": ["registered_no_purchase", "registered_no_purchase",  # signed up 01-15
          "new", "active", "at_risk", "at_risk", "lapsed"],  # 22, 52, 83, 113, 143
    "PD": ["prospect",  # visit 01-20
           "registered_no_purchase",  # signup event 02-10
           "new", "active", "at_risk", "at_risk", "lapsed"],  # 12, 42, 73, 103, 133
    "PE": ["prospect", "new",  # 15
           "active", "at_risk", "at_risk", "lapsed", "lapsed"],  # 46, 76, 107, 137, 168
    "F": ["active",  # 31: first order 31 days ago is no longer new
          "at_risk",  # exactly 60 days: at risk
          "at_risk",  # 91
          "active",  # 21, same spell as the first order (gap 100 < 120)
          "active", "at_risk", "at_risk"],  # 52, 82, 113
    "G": ["new", "active", "at_risk", "at_risk",  # 29, 58, 89, 119
          "reactivated",  # 22 after a 128-day gap
          "active", "at_risk"],  # 52, 83
    "K": [None, None, None, "new", "active", "at_risk", "at_risk"],  # 26, 57, 87, 118
    "PP": [None, None, "prospect", "prospect", "prospect", "prospect", "prospect"],
    "R": [None, None, None, None, None, "registered_no_purchase", "registered_no_purchase"],
}


def make_tables(orders=ORDERS, events=EVENTS, signups=SIGNUPS) -> dict[str, pd.DataFrame | None]:
    rows = [(c, f"{c}{i}", pd.Timestamp(t), 10.0 * (i + 1)) for c, ts in orders.items() for i, t in enumerate(ts)]
    tx = pd.DataFrame(rows, columns=[CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT])
    tx[CHANNEL] = "email"
    ev = None
    if events:
        ev = pd.DataFrame(events, columns=[ANONYMOUS_ID, CUSTOMER_ID, TIMESTAMP, EVENT_TYPE])
        ev[TIMESTAMP] = pd.to_datetime(ev[TIMESTAMP])
        ev[CHANNEL] = "direct"
    cust = None
    if signups:
        cust = pd.DataFrame({CUSTOMER_ID: list(signups), SIGNUP_DATE: pd.to_datetime(list(signups.values())),
                             ACQUISITION_CHANNEL: "paid_search"})
    return {"transactions": tx, "events": ev, "customers": cust}


@pytest.fixture(scope="module")
def grid() -> pd.DataFrame:
    return st.monthly_states(make_tables(), TH, AS_OF)


# ----------------------------------------------------------------------------- states on the hand table


def test_every_person_has_the_hand_computed_state_at_every_month_end(grid):
    assert list(grid.columns) == list(MONTHS)
    got = {p: [None if pd.isna(v) else v for v in grid.loc[p]] for p in grid.index}
    assert got == EXPECTED


def test_every_state_is_reached_on_the_hand_table():
    reached = {s for row in EXPECTED.values() for s in row if s}
    assert reached == set(st.STATES)


def test_customer_states_as_of_a_date_agree_with_the_month_end_grid():
    tables = make_tables()
    for j, m in enumerate(MONTHS):
        now = st.customer_states(tables, TH, (m + 1).start_time)
        expected = {p: row[j] for p, row in EXPECTED.items() if row[j] is not None}
        assert now["state"].astype(str).to_dict() == expected


def test_customer_states_columns_on_the_hand_table():
    now = st.customer_states(make_tables(), TH, AS_OF)
    a = now.loc["A"]
    assert a[CUSTOMER_ID] == "A" and a["orders"] == 3 and a["revenue"] == pytest.approx(60.0)
    assert a["first_order"] == pd.Timestamp("2024-01-10") and a["last_order"] == pd.Timestamp("2024-03-15")
    assert a["days_since_last_order"] == pytest.approx(139.0)
    assert now.loc["PD", CUSTOMER_ID] == "D" and now.loc["PD", "orders"] == 1  # linked through the signup event
    assert pd.isna(now.loc["PP", CUSTOMER_ID]) and now.loc["PP", "orders"] == 0
    assert pd.isna(now.loc["PP", "days_since_last_order"]) and pd.isna(now.loc["R", "last_order"])


def test_a_prebuilt_people_table_gives_the_same_states(grid):
    tables = make_tables()
    people = st.people_table(tables, AS_OF)
    assert list(people.columns[:3]) == ["seen", "signed_up", CUSTOMER_ID]
    assert people.loc["PD", "signed_up"] == pd.Timestamp("2024-02-10")  # the signup event
    assert people.loc["C", "signed_up"] == pd.Timestamp("2024-01-15")  # the customers table
    pd.testing.assert_frame_equal(st.monthly_states(tables, TH, AS_OF, people), grid)
    pd.testing.assert_frame_equal(st.customer_states(tables, TH, AS_OF, people),
                                  st.customer_states(tables, TH, AS_OF))
    with pytest.raises(ValueError, match="people_table"):
        st.customer_states(tables, TH, AS_OF, people.drop(columns="seen"))


@pytest.mark.parametrize("as_of, expected", [
    ("2024-01-31", "new"),  # first order 29 days ago
    ("2024-02-01", "active"),  # exactly 30 days: no longer new
    ("2024-04-29", "at_risk"),  # 119 days
    ("2024-04-30", "lapsed"),  # exactly 120 days
])
def test_threshold_boundaries(as_of, expected):
    tables = make_tables({"H": ["2024-01-02 00:00"], "I": ["2024-01-01 00:00"]}, None, None)
    now = st.customer_states(tables, TH, as_of)
    # H is the new/active boundary (first order 2024-01-02), I the at-risk/lapsed one
    who = "H" if expected in ("new", "active") else "I"
    assert now.loc[who, "state"] == expected


def test_orders_at_the_as_of_instant_do_not_count():
    tables = make_tables({"J": ["2024-02-01 00:00"], "Z": ["2024-01-20"]}, None, None)
    assert "J" not in st.customer_states(tables, TH, "2024-02-01").index
    assert st.customer_states(tables, TH, "2024-02-02").loc["J", "state"] == "new"


def test_an_order_at_a_month_boundary_counts_for_the_next_month_end_only():
    tables = make_tables({"M": ["2023-12-15", "2024-03-01 00:00"]}, None, None)
    grid = st.monthly_states(tables, TH, "2024-04-01")
    # end of February = as of 1 March 00:00: the order placed at that instant is not yet counted
    assert grid.loc["M"].astype(str).tolist() == ["new", "active", "at_risk", "active"]  # Dec .. Mar
    assert st.customer_states(tables, TH, "2024-03-01").loc["M", "orders"] == 1


def test_reactivation_needs_a_gap_of_at_least_lapsed_days():
    tables = make_tables({"X": ["2024-01-01", "2024-04-30"], "Y": ["2024-01-01", "2024-04-29"]}, None, None)
    now = st.customer_states(tables, TH, "2024-05-05")
    assert now.loc["X", "state"] == "reactivated"  # gap of exactly 120 days starts a new spell
    assert now.loc["Y", "state"] == "active"  # 119 days: same spell, first order long ago


def test_month_ends_are_the_months_ended_by_as_of():
    assert list(st.month_ends("2024-01-10", "2024-03-15")) == list(pd.period_range("2024-01", "2024-02", freq="M"))
    assert list(st.month_ends("2024-01-10", "2024-03-01")) == list(pd.period_range("2024-01", "2024-02", freq="M"))
    assert len(st.month_ends("2024-01-10", "2024-01-31")) == 0


# ----------------------------------------------------------------------------- counts and transitions


def test_monthly_counts_and_newly_lapsed(grid):
    counts = st.monthly_state_counts(grid)
    for j, m in enumerate(MONTHS):
        expected = Counter(row[j] for row in EXPECTED.values() if row[j] is not None)
        assert counts.loc[m, list(st.STATES)].to_dict() == {s: expected.get(s, 0) for s in st.STATES}
    # B lapses in May, PE in June, A, C and PD in July
    assert counts["newly_lapsed"].tolist() == [0, 0, 0, 0, 1, 1, 3]


def test_transition_matrix_counts_every_month_pair(grid):
    tr = st.transition_matrix(grid)
    expected = Counter()
    for row in EXPECTED.values():
        for a, b in zip(row[:-1], row[1:]):
            if b is not None:
                expected[(a or st.NOT_SEEN, b)] += 1
    got = {(f, t): int(n) for (f, t), n in tr.counts.stack().items() if n}
    assert got == dict(expected)
    assert tr.pairs == len(MONTHS) - 1
    # the transitions the issue names, each present on the hand table
    for a, b in [("new", "active"), ("active", "at_risk"), ("at_risk", "lapsed"), ("lapsed", "reactivated"),
                 ("reactivated", "active"), ("at_risk", "active"), ("prospect", "registered_no_purchase"),
                 ("registered_no_purchase", "new"), ("prospect", "new"), (st.NOT_SEEN, "new")]:
        assert tr.counts.loc[a, b] > 0, (a, b)
    # shares are row shares: all 7 people new at a month end (A, B, G in Jan, PE in Feb, C, PD in Mar,
    # K in Apr) are active at the next
    assert tr.counts.loc["new"].sum() == 7 and tr.rate("new", "active") == 1.0
    # lapsed at a month end with a next one: B (May -> reactivated in June), PE (June -> still lapsed in July)
    assert tr.rate("lapsed", "reactivated") == pytest.approx(1 / 2)
    np.testing.assert_allclose(tr.shares.dropna().sum(axis=1), 1.0)


def test_transition_matrix_last_months_only(grid):
    tr = st.transition_matrix(grid, last_months=1)  # June -> July only
    assert tr.pairs == 1
    assert tr.counts.loc["reactivated", "active"] == 1  # B
    assert tr.counts.loc["at_risk", "lapsed"] == 3  # A, C, PD
    with pytest.raises(ValueError):
        st.transition_matrix(grid, last_months=0)


def test_state_summary_counts_people_and_revenue():
    now = st.customer_states(make_tables(), TH, AS_OF)
    s = st.state_summary(now)
    assert list(s.index) == list(st.STATES)
    assert s["people"].to_dict() == {s_: Counter(r[-1] for r in EXPECTED.values())[s_] for s_ in st.STATES}
    assert s["share"].sum() == pytest.approx(1.0)
    assert s.loc["lapsed", "revenue"] == pytest.approx(60.0 + 10 + 10 + 10)  # A, C, PD, PE
    assert s.loc["lapsed", "share_of_buyers"] == pytest.approx(4 / 8)
    assert pd.isna(s.loc["prospect", "share_of_buyers"])


# ----------------------------------------------------------------------------- thresholds


def _regular_tx(n_customers: int, gaps: list[float]) -> pd.DataFrame:
    start = pd.Timestamp("2023-01-01")
    rows = []
    for c in range(n_customers):  # building test data, not analysis code
        t = start + pd.Timedelta(days=c)
        rows.append((f"C{c}", f"O{c}-0", t))
        for i, g in enumerate(gaps):
            t = t + pd.Timedelta(days=g)
            rows.append((f"C{c}", f"O{c}-{i + 1}", t))
    tx = pd.DataFrame(rows, columns=[CUSTOMER_ID, ORDER_ID, TIMESTAMP])
    tx[AMOUNT] = 10.0
    return tx


def test_derived_thresholds_are_the_median_gap_and_the_churn_window():
    tx = _regular_tx(20, [10, 20, 40, 80])  # 80 gaps: median 30, 0.9 quantile 80
    th = st.state_thresholds(tx, as_of="2024-06-01")
    assert th.at_risk_days == 30 and th.new_days == 30
    assert th.lapsed_days == inactivity_window(tx, None, 0.9, as_of="2024-06-01").days == 80
    assert th.sources == {"lapsed_days": "data", "at_risk_days": "data", "new_days": "data"}
    assert "30 days" in th.sentence and "80 days" in th.sentence
    # the churn configuration moves the lapsed threshold with it
    th = st.state_thresholds(tx, inactivity_days=100, as_of="2024-06-01")
    assert (th.lapsed_days, th.sources["lapsed_days"]) == (100, "config")
    assert "churn.inactivity_days" in th.sentence and th.at_risk_days == 30


def test_configured_thresholds_win_and_are_checked():
    tx = _regular_tx(20, [10, 20, 40, 80])
    th = st.state_thresholds(tx, 14, 45, 200, as_of="2024-06-01")
    assert th.as_dict() == {"new_days": 14, "at_risk_days": 45, "lapsed_days": 200}
    assert set(th.sources.values()) == {"config"} and "states.new_days" in th.sentence
    with pytest.raises(ValueError, match="at_risk_days"):
        st.state_thresholds(tx, None, 90, 80)
    with pytest.raises(ValueError, match="positive"):
        st.state_thresholds(tx, 0, None, None)


def test_too_few_repeat_purchases_fall_back():
    tx = _regular_tx(2, [10])
    th = st.state_thresholds(tx, as_of="2024-06-01")
    assert th.lapsed_days == FALLBACK_WINDOW_DAYS and th.at_risk_days == FALLBACK_WINDOW_DAYS // 2
    assert th.sources["at_risk_days"] == "fallback" and "too few" in th.sentence


# ----------------------------------------------------------------------------- optional tables and scale


def test_plain_order_export_has_only_buyer_states():
    tables = make_tables(events=None, signups=None)
    now = st.customer_states(tables, TH, AS_OF)
    assert set(now.index) == set(ORDERS)  # customers are persons of their own
    assert not now["state"].isin(["prospect", "registered_no_purchase"]).any()
    assert now.loc["B", "state"] == "active" and now.loc["E", "state"] == "lapsed"
    grid = st.monthly_states({"transactions": tables["transactions"]}, TH, AS_OF)
    assert grid.loc["B"].astype(str).tolist() == EXPECTED["B"]


def test_measurable_states_name_what_the_tables_can_show():
    assert st.measurable_states(make_tables()) == list(st.STATES)
    buyers = ["new", "active", "reactivated", "at_risk", "lapsed"]
    assert st.measurable_states(make_tables(events=None, signups=None)) == buyers
    assert st.measurable_states(make_tables(events=None)) == ["registered_no_purchase", *buyers]
    visits_only = [e for e in EVENTS if e[3] != "signup"]
    assert st.measurable_states(make_tables(events=visits_only, signups=None)) == ["prospect", *buyers]


def _reference_state(orders: list[pd.Timestamp], seen, signed, d: pd.Timestamp, th) -> str | None:
    """The module docstring's definitions, written out per person (slow, obvious)."""
    if seen is None or pd.isna(seen) or not seen < d:
        return None
    before = sorted(t for t in orders if t < d)
    if not before:
        return "registered_no_purchase" if signed is not None and not pd.isna(signed) and signed < d else "prospect"
    age = (d - before[-1]) / pd.Timedelta(days=1)
    if age >= th.lapsed_days:
        return "lapsed"
    if age >= th.at_risk_days:
        return "at_risk"
    k = len(before) - 1
    while k > 0 and (before[k] - before[k - 1]) / pd.Timedelta(days=1) < th.lapsed_days:
        k -= 1
    if (d - before[k]) / pd.Timedelta(days=1) < th.new_days:
        return "new" if k == 0 else "reactivated"
    return "active"


def test_vectorized_states_match_a_per_person_reference_on_simulated_data():
    from lclib.sample import simulate

    tables = simulate(n_people=600, seed=7).tables()
    th = st.StateThresholds(20, 45, 100, {}, "")
    grid = st.monthly_states(tables, th, "2026-01-01")
    people = st.people_table(tables, "2026-01-01")
    tx = tables["transactions"]
    by_customer = tx.groupby(CUSTOMER_ID)[TIMESTAMP].apply(lambda s: sorted(s.unique())).to_dict()
    sample = grid.index[:: max(1, len(grid) // 150)]
    assert grid.notna().to_numpy().any()
    for p in sample:  # a reference loop inside the test only
        cid = people.loc[p, CUSTOMER_ID]
        ords = by_customer.get(cid, []) if isinstance(cid, str) else []
        for m in grid.columns[::3]:
            exp = _reference_state(ords, people.loc[p, "seen"], people.loc[p, "signed_up"], (m + 1).start_time, th)
            got = grid.loc[p, m]
            assert (None if pd.isna(got) else got) == exp, (p, m)
    assert set(grid.stack().dropna().unique()) == set(st.STATES)


# ----------------------------------------------------------------------------- plots


def test_plots_are_titled_labelled_and_check_their_arguments(grid):
    counts = st.monthly_state_counts(grid)
    ax = plots.plot_lifecycle(counts)
    assert ax.get_title() and "customers" in ax.get_ylabel().lower() and ax.get_xlabel() == "Month"
    heights = [p.get_height() for p in ax.patches]
    assert min(heights) == -counts["newly_lapsed"].max()  # lapsed during the month, below the axis
    ax = plots.plot_lifecycle(counts, lapsed="all")
    assert min(p.get_height() for p in ax.patches) == -counts["lapsed"].max()
    ax = plots.plot_transitions(st.transition_matrix(grid))
    assert ax.get_title() and "end of" in ax.get_ylabel() and "end of" in ax.get_xlabel()
    now = st.customer_states(make_tables(), TH, AS_OF)
    ax = plots.plot_state_counts(st.state_summary(now))
    assert ax.get_title() and "people" in ax.get_xlabel()
    with pytest.raises(ValueError):
        plots.plot_lifecycle(counts.drop(columns="new"))
    with pytest.raises(ValueError):
        plots.plot_lifecycle(counts, lapsed="sometimes")
    with pytest.raises(ValueError):
        plots.plot_state_counts(pd.DataFrame({"x": [1]}))
    plt.close("all")


def test_thresholds_are_read_from_the_configuration():
    from lclib.config import load_config

    tx = _regular_tx(20, [10, 20, 40, 80])
    cfg = load_config(overrides=["states.new_days=14", "states.at_risk_days=45", "states.lapsed_days=200"])
    assert st.thresholds_from_config(tx, cfg, "2024-06-01").as_dict() == {
        "new_days": 14, "at_risk_days": 45, "lapsed_days": 200}
    cfg = load_config(overrides=["churn.inactivity_quantile=0.5"])  # states null: lapsed follows churn
    th = st.thresholds_from_config(tx, cfg, "2024-06-01")
    assert th.lapsed_days == inactivity_window(tx, None, 0.5, as_of="2024-06-01").days == 30


@pytest.mark.parametrize("th", [st.StateThresholds(20, 45, 100, {}, ""), st.StateThresholds(60, 30, 90, {}, ""),
                                st.StateThresholds(1, 2, 3, {}, "")])
def test_painted_month_grid_equals_the_state_of_every_cell(th, monkeypatch):
    from lclib.engine.orders import orders_of
    from lclib.sample import simulate

    tables = simulate(n_people=500, seed=3).tables()
    as_of = pd.Timestamp("2026-01-01")
    people = st.people_table(tables, as_of)
    orders, codes = orders_of(tables["transactions"], as_of, codes=True)
    orders = st._spells(orders, th.lapsed_days, codes)
    dates = pd.date_range("2023-12-01", "2026-01-01", freq="MS")
    painted = st._states_at(people, orders, dates, th, codes, grid_only=True)["state"]
    cellwise = st._states_at(people, orders, dates, th, codes)["state"]
    np.testing.assert_array_equal(painted, cellwise)
    assert len(set(np.unique(painted)) - {-1}) >= 5
    # painted in blocks of people (bounded work arrays): any block size gives the same grid
    for block in (1, 7, 64):
        monkeypatch.setattr(st, "PAINT_BLOCK_PEOPLE", block)
        np.testing.assert_array_equal(st._states_at(people, orders, dates, th, codes, grid_only=True)["state"],
                                      cellwise)


def test_state_label_names_the_definition():
    from lclib.analysis.stages import StateThresholds, state_label
    th = StateThresholds(31, 31, 153, {}, "")
    assert state_label("at_risk", th) == "At risk (lifecycle state: no order for 31-153 days)"
    assert state_label("lapsed", th) == "Lapsed (lifecycle state: no order for 153+ days)"
    with pytest.raises(ValueError):
        state_label("At Risk", th)


def test_monthly_moves_say_only_what_the_month_ends_show(grid):
    """Full data: the three moves and the advice; a state nobody was in at a month end is said so, never 'n/a'."""
    moves = st.transition_matrix(grid)
    said = st.monthly_moves(moves, TH)
    assert said.lapse == moves.rate("at_risk", "lapsed") and said.react == moves.rate("lapsed", "reactivated")
    assert said.sentence.startswith(f"Each month **{said.back:.1%}** of at-risk customers order again")
    assert said.sentence.endswith("time win-back offers to the at-risk state.") and "n/a" not in said.sentence
    no_lapsed = st.Transitions(moves.counts.copy(), moves.shares.copy(), moves.pairs)
    no_lapsed.counts.loc["lapsed"] = 0
    thin = st.monthly_moves(no_lapsed, TH)
    assert np.isnan(thin.react) and "no customer had lapsed at a month end yet" in thin.sentence
    assert "time win-back offers" not in thin.sentence and "nan" not in thin.sentence
    none = st.monthly_moves(st.Transitions(moves.counts, moves.shares, 0), TH)
    assert none.sentence.startswith("Fewer than two month ends") and np.isnan(none.lapse)


def test_monthly_moves_say_how_many_new_customers_are_still_new_a_month_later():
    names = ["not_seen", *st.STATES]
    counts = pd.DataFrame(0, index=names, columns=list(st.STATES))
    counts.loc["new", ["new", "active", "at_risk"]] = [6, 3, 1]  # a customer stays new for 182 days
    shares = counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)
    said = st.monthly_moves(st.Transitions(counts, shares, 3), st.StateThresholds(182, 182, 365, {}, ""))
    assert ("Of new customers, **30.0%** are active a month later and **10.0%** at risk (60.0% are still new: a "
            "customer counts as new for 182 days)") in said.sentence


def test_buyer_states_at_an_earlier_date_read_off_the_whole_data_equal_the_states_built_for_that_date():
    """Hand table (prospects, signups linking people to customers) at every month end and the sample's tables
    (events, customers, 1,862 buyers) a day to 400 days back: the same buyers in the same states."""
    from lclib.report.notebook import open_run

    tables = make_tables()
    for m in MONTHS:
        date = (m + 1).start_time
        pd.testing.assert_series_equal(st.buyer_states_at(tables, TH, date, AS_OF),
                                       st.buyer_states(st.customer_states(tables, TH, date)))
    cfg, data = open_run()
    as_of = pd.Timestamp(data.transactions["timestamp"].max()).normalize() + pd.Timedelta(days=1)
    th = st.thresholds_from_config(data.transactions, cfg, as_of)
    for days in (0, 1, 90, 400):
        date = as_of - pd.Timedelta(days=days)
        got = st.buyer_states_at(data.tables, th, date, as_of)
        pd.testing.assert_series_equal(got, st.buyer_states(st.customer_states(data.tables, th, date)))
    assert len(got) == 745 and set(got) <= set(st.STATES)
    with pytest.raises(ValueError, match="after the data's end"):
        st.buyer_states_at(tables, TH, AS_OF + pd.Timedelta(days=1), AS_OF)


def test_buyer_states_at_dates_on_the_thresholds_and_between_an_orders_lines():
    """Orders whose lines straddle the dates, and dates exactly N, R and L days after an order or a spell
    start (the boundaries of new, at risk and lapsed), at any time of day: the states built for the date."""
    from test_cohorts import _messy_lines

    tx = _messy_lines(seed=11).dropna(subset=["customer_id"])
    # a gap of exactly L = 60 days starts a new spell (reactivated on Mar 15); an hour less does not
    exact = pd.DataFrame({"customer_id": ["gap60", "gap60", "gap59", "gap59"], "order_id": ["g1", "g2", "g3", "g4"],
                          "timestamp": pd.to_datetime(["2024-01-10 10:00", "2024-03-10 10:00", "2024-01-10 10:00",
                                                       "2024-03-10 09:00"]), "amount": 10.0, "channel": "email"})
    tx = pd.concat([tx, exact.astype({c: tx[c].dtype for c in exact})], ignore_index=True)
    tables = {"transactions": tx}
    th = st.StateThresholds(new_days=20, at_risk_days=35, lapsed_days=60, sources={}, sentence="")
    as_of = tx["timestamp"].max().normalize() + pd.Timedelta(days=1)
    assert st.buyer_states_at(tables, th, "2024-03-15", as_of)[["gap60", "gap59"]].tolist() == ["reactivated",
                                                                                                "active"]
    times = tx["timestamp"].sort_values().iloc[::700]
    dates = [t + pd.Timedelta(days=k) for t in times for k in (0, 20, 35, 60)] + [as_of]
    checked = 0
    for date in sorted(d for d in dates if d <= as_of):
        got = st.buyer_states_at(tables, th, date, as_of)
        want = st.buyer_states(st.customer_states(tables, th, date))
        if len(want):
            pd.testing.assert_series_equal(got, want)
        else:  # the first order's time: nobody has bought yet
            assert got.empty
        checked += len(got)
    assert checked > 2000
