"""Tests for lclib.analysis.cohorts: cohort triangles, retention curves, the repeat-purchase curve.

Hand-built table (as_of 2024-04-01, inactivity window 30 days), one order per line
unless noted:

    C1  2024-01-05 10, 2024-01-20 5, 2024-03-10 20, 2024-04-02 100 (after as_of)
    C2  2024-01-31 8, 2024-02-01 12
    C3  2024-02-15 30 (one order, two lines 10 + 20)
    C4  2024-02-20 5, 2024-03-25 5
    C5  2024-03-31 7
    C6  2024-02-25 10, 2024-03-20 10

The expected values in the tests are worked out by hand in the comments.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lclib.engine.cohort_cells import cohort_cells
from lclib.engine.orders import orders_table
from lclib.analysis.cohorts import repeat_curve_verdict, repeat_purchase_curve, retention_curve, retention_triangle
from lclib.engine.contracts import resolve_as_of
from lclib.analysis.intervals import wilson_interval
from lclib.io.columns import AMOUNT, CHANNEL, CUSTOMER_ID, ORDER_ID, TIMESTAMP

#: every test here runs with the pandas and the DuckDB engine
pytestmark = pytest.mark.usefixtures("both_engines")

AS_OF = pd.Timestamp("2024-04-01")
HAND = [
    ("C1", "O1", "2024-01-05", 10.0), ("C1", "O2", "2024-01-20", 5.0), ("C1", "O3", "2024-03-10", 20.0),
    ("C1", "O4", "2024-04-02", 100.0),
    ("C2", "O5", "2024-01-31", 8.0), ("C2", "O6", "2024-02-01", 12.0),
    ("C3", "O7", "2024-02-15", 10.0), ("C3", "O7", "2024-02-15", 20.0),
    ("C4", "O8", "2024-02-20", 5.0), ("C4", "O9", "2024-03-25", 5.0),
    ("C5", "O10", "2024-03-31", 7.0),
    ("C6", "O11", "2024-02-25", 10.0), ("C6", "O12", "2024-03-20", 10.0),
]


def make_tx(rows) -> pd.DataFrame:
    tx = pd.DataFrame(rows, columns=[CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT])
    tx[TIMESTAMP] = pd.to_datetime(tx[TIMESTAMP])
    return tx


@pytest.fixture
def hand() -> pd.DataFrame:
    return make_tx(HAND)


def random_transactions(seed: int, n_customers: int = 150, start="2023-01-01", days=500) -> pd.DataFrame:
    """Random shop: each customer 1-8 orders of 1-3 lines at random times."""
    rng = np.random.default_rng(seed)
    n_orders = rng.integers(1, 9, n_customers)
    cust = np.repeat(np.arange(n_customers), n_orders)
    first = rng.uniform(0, days, n_customers)
    t = first[cust] + rng.exponential(40, cust.size) * (np.arange(cust.size) - np.repeat(
        np.cumsum(n_orders) - n_orders, n_orders))
    lines = rng.integers(1, 4, cust.size)
    order_idx = np.repeat(np.arange(cust.size), lines)
    ts = pd.Timestamp(start) + pd.to_timedelta(np.round(t[order_idx] * 86400), unit="s")
    return pd.DataFrame({
        CUSTOMER_ID: [f"K{c:04d}" for c in cust[order_idx]],
        ORDER_ID: [f"R{o:05d}" for o in order_idx],
        TIMESTAMP: ts,
        AMOUNT: np.round(rng.gamma(2, 10, order_idx.size), 2),
    })


# ----------------------------------------------------------------------------- helpers


def test_as_of_defaults_to_midnight_after_last_transaction(hand):
    assert resolve_as_of(hand) == pd.Timestamp("2024-04-03")
    assert resolve_as_of(hand, "2024-03-20") == pd.Timestamp("2024-03-20")


def test_orders_table_collapses_lines_and_numbers_orders(hand):
    o = orders_table(hand, AS_OF)
    assert len(o) == 11  # 13 lines = 12 orders (O7 has two lines), O4 is after as_of
    c3 = o.loc[o[CUSTOMER_ID] == "C3"].iloc[0]
    assert c3[AMOUNT] == 30.0 and c3["n"] == 1
    assert o.loc[o[CUSTOMER_ID] == "C1", "n"].tolist() == [1, 2, 3]


def test_orders_table_keeps_the_channel_of_the_earliest_line():
    tx = make_tx([("A", "X", "2024-01-02 10:00", 1.0), ("A", "X", "2024-01-02 09:00", 2.0)])
    tx[CHANNEL] = ["email", "direct"]
    o = orders_table(tx)
    assert o[CHANNEL].tolist() == ["direct"] and o[TIMESTAMP].iloc[0] == pd.Timestamp("2024-01-02 09:00")


def test_wilson_interval_equals_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    k, n = np.array([0, 3, 10, 50, 7]), np.array([10, 10, 10, 200, 9])
    lo, hi = wilson_interval(k, n)
    ref_lo, ref_hi = proportion_confint(k, n, alpha=0.05, method="wilson")
    np.testing.assert_allclose(lo, ref_lo, atol=1e-12)
    np.testing.assert_allclose(hi, ref_hi, atol=1e-12)
    assert np.isnan(wilson_interval([0], [0])[0][0])


# ----------------------------------------------------------------------------- cohorts, hand-computed


def test_retention_triangle_on_the_hand_table(hand):
    tri = retention_triangle(cohort_cells(hand, AS_OF))
    # 2024-01: C1, C2 -> month 1 only C2 (Feb 1), month 2 only C1 (Mar 10)
    # 2024-02: C3, C4, C6 -> month 1: C4 (Mar 25) and C6 (Mar 20)
    # 2024-03: C5 alone; all of March has ended by as_of, so every cell is observable
    expected = pd.DataFrame({0: [1.0, 1.0, 1.0], 1: [0.5, 2 / 3, np.nan], 2: [0.5, np.nan, np.nan]},
                            index=pd.PeriodIndex(["2024-01", "2024-02", "2024-03"], freq="M", name="cohort"))
    expected.columns.name = "period"
    pd.testing.assert_frame_equal(tri, expected)


def test_unfinished_months_are_nan_not_zero(hand):
    cells = cohort_cells(hand, "2024-03-20")  # March is still running
    tri = retention_triangle(cells)
    assert list(tri.index.astype(str)) == ["2024-01", "2024-02"]  # C5 buys after as_of
    assert tri.loc[pd.Period("2024-01", "M"), 1] == 0.5
    assert np.isnan(tri.loc[pd.Period("2024-01", "M"), 2])  # C1 bought on Mar 10 but March is not over
    assert np.isnan(tri.loc[pd.Period("2024-02", "M"), 1])
    row = cells.loc[(cells["cohort"] == pd.Period("2024-01", "M")) & (cells["period"] == 2)].iloc[0]
    assert row["customers"] == 1 and not row["observable"]


def test_revenue_retention_on_the_hand_table(hand):
    tri = retention_triangle(cohort_cells(hand, AS_OF), "revenue")
    # 2024-01: month 0 = 10 + 5 + 8 = 23, month 1 = 12, month 2 = 20
    # 2024-02: month 0 = 30 + 5 + 10 = 45, month 1 = 5 + 10 = 15
    jan, feb = tri.loc[pd.Period("2024-01", "M")], tri.loc[pd.Period("2024-02", "M")]
    assert jan[1] == pytest.approx(12 / 23) and jan[2] == pytest.approx(20 / 23)
    assert feb[1] == pytest.approx(15 / 45)


def test_pooled_retention_curve_weights_cohorts_by_size(hand):
    curve = retention_curve(cohort_cells(hand, AS_OF))
    # month 1: cohorts Jan (2 customers, 1 active) and Feb (3, 2 active) -> 3 of 5
    # month 2: Jan only -> 1 of 2
    assert curve.loc[1, ["cohorts", "base", "active"]].tolist() == [2, 5, 3]
    assert curve.loc[1, "share"] == pytest.approx(0.6)
    assert curve.loc[2, "share"] == pytest.approx(0.5)
    lo, hi = wilson_interval(3, 5)
    assert curve.loc[1, "lower"] == pytest.approx(float(lo)) and curve.loc[1, "upper"] == pytest.approx(float(hi))


def test_retention_value_is_checked(hand):
    with pytest.raises(ValueError, match="customers"):
        retention_triangle(cohort_cells(hand, AS_OF), "orders")


# ----------------------------------------------------------------------------- repeat curve, hand-computed


def test_repeat_purchase_curve_on_the_hand_table(hand):
    curve = repeat_purchase_curve(hand, window_days=30, as_of=AS_OF)
    # eligible: n-th order on or before Mar 2 (30 days before as_of)
    # n=1: C1 (back in 15 d), C2 (1 d), C3 (never), C4 (34 d: too late), C6 (24 d); C5 too recent
    # n=2: C1 (next after 50 d), C2 (none); C4 and C6's second orders are too recent
    # n=3: C1's third order (Mar 10) is too recent -> no row
    assert curve.index.tolist() == [1, 2]
    assert curve.loc[1, ["eligible", "repeated", "customers"]].tolist() == [5, 3, 6]
    assert curve.loc[2, ["eligible", "repeated", "customers"]].tolist() == [2, 0, 4]
    assert curve.loc[1, "p_next"] == pytest.approx(0.6)


def test_repeat_curve_checks_its_arguments(hand):
    with pytest.raises(ValueError, match="window_days"):
        repeat_purchase_curve(hand, 0)
    with pytest.raises(ValueError, match="max_n"):
        repeat_purchase_curve(hand, 30, max_n=0)


def test_verdict_reads_an_increasing_curve_and_a_flat_one():
    up = pd.DataFrame({"eligible": [1000, 400, 200], "repeated": [300, 200, 120]}, index=pd.Index([1, 2, 3], name="n"))
    v = repeat_curve_verdict(up)
    assert v.trend == "increasing" and v.p_first == pytest.approx(0.3)
    assert v.p_later == pytest.approx(320 / 600) and "more likely" in v.sentence
    flat = pd.DataFrame({"eligible": [1000, 600], "repeated": [300, 181]}, index=pd.Index([1, 2], name="n"))
    assert repeat_curve_verdict(flat).trend == "flat"
    down = pd.DataFrame({"eligible": [1000, 600], "repeated": [500, 150]}, index=pd.Index([1, 2], name="n"))
    assert repeat_curve_verdict(down).trend == "decreasing"
    few = pd.DataFrame({"eligible": [1000, 5], "repeated": [500, 4]}, index=pd.Index([1, 2], name="n"))
    assert repeat_curve_verdict(few).trend == "insufficient"


# ----------------------------------------------------------------------------- naive references on random data


def naive_triangle(tx: pd.DataFrame, as_of: pd.Timestamp) -> dict[tuple[str, int], float]:
    """Slow reference: loop over customers and months."""
    tx = tx.loc[tx[TIMESTAMP] < as_of]
    cohorts: dict[str, list[str]] = {}
    months_bought: dict[str, set[int]] = {}
    for cid, g in tx.groupby(CUSTOMER_ID):
        first = g[TIMESTAMP].min()
        key = f"{first.year}-{first.month:02d}"
        cohorts.setdefault(key, []).append(cid)
        months_bought[cid] = {(t.year - first.year) * 12 + t.month - first.month for t in g[TIMESTAMP]}
    out = {}
    for key, members in cohorts.items():
        y, m = map(int, key.split("-"))
        k = 0
        while True:
            start = pd.Timestamp(year=y + (m - 1 + k) // 12, month=(m - 1 + k) % 12 + 1, day=1)
            if start >= as_of:
                break
            end = start + pd.offsets.MonthBegin(1)
            share = sum(k in months_bought[c] for c in members) / len(members)
            out[(key, k)] = share if end <= as_of else np.nan
            k += 1
    return out


def naive_repeat(tx: pd.DataFrame, window_days: float, as_of: pd.Timestamp, max_n: int) -> dict[int, tuple]:
    tx = tx.loc[tx[TIMESTAMP] < as_of]
    w = pd.Timedelta(days=window_days)
    counts: dict[int, list[int]] = {}
    for _, g in tx.groupby(CUSTOMER_ID):
        times = sorted(g.groupby(ORDER_ID)[TIMESTAMP].min())
        for i, t in enumerate(times[:max_n]):
            if t + w <= as_of:
                e, r = counts.setdefault(i + 1, [0, 0])
                back = i + 1 < len(times) and times[i + 1] - t < w
                counts[i + 1] = [e + 1, r + int(back)]
    return {n: tuple(v) for n, v in counts.items() if v[0] > 0}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_triangle_equals_a_naive_reference_on_random_data(seed):
    tx = random_transactions(seed)
    as_of = pd.Timestamp("2024-03-17")  # mid-month: the last month is unfinished
    tri = retention_triangle(cohort_cells(tx, as_of))
    ref = naive_triangle(tx, as_of)
    got = {(str(c), int(k)): tri.loc[c, k] for c in tri.index for k in tri.columns if (str(c), int(k)) in ref}
    assert set(got) == set(ref)
    for key, v in ref.items():
        assert (np.isnan(v) and np.isnan(got[key])) or got[key] == pytest.approx(v), key


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_repeat_curve_equals_a_naive_reference_on_random_data(seed):
    tx = random_transactions(seed)
    as_of = pd.Timestamp("2024-06-01")
    curve = repeat_purchase_curve(tx, window_days=45.5, as_of=as_of, max_n=6)
    ref = naive_repeat(tx, 45.5, as_of, 6)
    assert {n: (int(r.eligible), int(r.repeated)) for n, r in curve.iterrows()} == ref


# ----------------------------------------------------------------------------- orders collapsed once (OrderHistory)


def _reference_orders(transactions: pd.DataFrame, as_of=None) -> pd.DataFrame:
    """The straightforward orders table (sort the lines by strings, group by customer and order)."""
    lines = transactions.loc[transactions[CUSTOMER_ID].notna() & transactions[TIMESTAMP].notna()]
    if as_of is not None:
        lines = lines.loc[lines[TIMESTAMP] < pd.Timestamp(as_of)]
    cols = [CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT] + ([CHANNEL] if CHANNEL in lines else [])
    lines = lines[cols].sort_values([CUSTOMER_ID, ORDER_ID, TIMESTAMP], kind="stable")
    agg = {TIMESTAMP: (TIMESTAMP, "min"), AMOUNT: (AMOUNT, "sum")}
    if CHANNEL in lines:
        agg[CHANNEL] = (CHANNEL, "first")
    out = (lines.groupby([CUSTOMER_ID, ORDER_ID], sort=False, observed=True).agg(**agg).reset_index()
           .sort_values([CUSTOMER_ID, TIMESTAMP, ORDER_ID], kind="stable").reset_index(drop=True))
    out[AMOUNT] = out[AMOUNT].astype("float64")
    out["n"] = out.groupby(CUSTOMER_ID, sort=False, observed=True).cumcount().astype("int64") + 1
    return out[[c for c in (CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT, "n", CHANNEL) if c in out]]


def _messy_lines(seed: int = 3, n: int = 6000) -> pd.DataFrame:
    """Orders whose lines carry different times (some straddle any cutoff), missing ids and channels."""
    rng = np.random.default_rng(seed)
    tx = pd.DataFrame({
        CUSTOMER_ID: pd.array(rng.integers(0, 300, n).astype(str), dtype="str"),
        ORDER_ID: pd.array(rng.integers(0, 1500, n).astype(str), dtype="str"),
        TIMESTAMP: pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300 * 24, n), unit="h"),
        AMOUNT: rng.random(n) * 100,
        CHANNEL: pd.array(rng.choice(["email", "search", None], n), dtype="str"),
    })
    tx.loc[rng.random(n) < 0.02, CUSTOMER_ID] = None
    return tx


def test_orders_table_equals_the_reference_exactly():
    tx = _messy_lines()
    pd.testing.assert_frame_equal(orders_table(tx), _reference_orders(tx), check_exact=True)
    pd.testing.assert_frame_equal(orders_table(tx, "2024-06-01"), _reference_orders(tx, "2024-06-01"),
                                  check_exact=True)


def test_order_history_gives_the_orders_table_at_every_earlier_cutoff():
    from lclib.engine.orders import OrderHistory

    tx = _messy_lines()
    history = OrderHistory(tx)
    assert len(history._spread) > 0  # orders spread over several times exist, so straddling is tested
    pd.testing.assert_frame_equal(history.orders, _reference_orders(tx, history.as_of), check_exact=True)
    for cutoff in pd.date_range("2024-01-03 05:00", "2024-10-20", freq="17D"):
        pd.testing.assert_frame_equal(history.before(cutoff), _reference_orders(tx, cutoff), check_exact=True)
        start = cutoff - pd.Timedelta(days=30)
        seen = tx.loc[tx[CUSTOMER_ID].notna() & (tx[TIMESTAMP] >= start) & (tx[TIMESTAMP] < cutoff), CUSTOMER_ID]
        assert set(history.ids[history.customers_with_lines_in(start, cutoff)]) == set(seen)
    with pytest.raises(ValueError, match="after the history"):
        history.before(history.as_of + pd.Timedelta(days=1))


def test_order_history_gives_a_block_of_customers_rows_of_the_orders_table():
    """``before(cutoff, customers=...)``: those customers' rows of the table at the cutoff, straddling
    orders' earlier lines included, as selecting them from the whole table."""
    from lclib.engine.orders import OrderHistory

    tx = _messy_lines()
    history = OrderHistory(tx)
    rng = np.random.default_rng(5)
    for cutoff in pd.date_range("2024-01-03 05:00", "2024-10-20", freq="41D"):
        whole = history.before(cutoff)
        for chosen in (rng.random(len(history.ids)) < 0.3, np.arange(len(history.ids)) < 100,
                       np.zeros(len(history.ids), dtype=bool)):
            want = whole.loc[whole[CUSTOMER_ID].isin(history.ids[chosen])].reset_index(drop=True)
            got = history.before(cutoff, customers=chosen)
            pd.testing.assert_frame_equal(got, want, check_exact=True)
            assert history.mask_before(cutoff, chosen).sum() == len(want)
            rows, codes = history.before(cutoff, customers=chosen, codes=True)  # each row's customer number
            pd.testing.assert_frame_equal(rows, want, check_exact=True)
            np.testing.assert_array_equal(history.ids[codes].astype(str), want[CUSTOMER_ID].astype(str).to_numpy())
    with pytest.raises(ValueError, match="bool array over"):
        history.before(history.as_of, customers=np.ones(3, dtype=bool))


def test_acquisition_channel_is_the_first_orders_sorted_or_not():
    from lclib.analysis.cohorts import acquisition_channels

    orders = orders_table(_messy_lines())
    fast = acquisition_channels(orders)
    shuffled = acquisition_channels(orders.sample(frac=1.0, random_state=0))
    pd.testing.assert_series_equal(fast, shuffled.loc[fast.index])
    assert fast.index.is_unique and len(fast) == orders[CUSTOMER_ID].nunique()


@pytest.mark.parametrize("count_by", ["D", "W", "order"])
def test_compact_lines_give_the_customer_summary_of_the_lines(count_by):
    from lclib.engine.orders import OrderHistory
    from lclib.engine.summary import customer_summary

    # orders spread over several times (messy), and orders of several lines at one time (random shop)
    for tx, cutoff in ((_messy_lines().dropna(subset=[CUSTOMER_ID]), pd.Timestamp("2024-08-01")),
                       (random_transactions(2, n_customers=300), pd.Timestamp("2024-01-01"))):
        history = OrderHistory(tx)
        compact = history.compact_lines(cutoff)
        lines = tx.loc[tx[TIMESTAMP] < cutoff, [CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT]]
        assert len(compact) <= len(lines)  # orders on one time become one row
        want = customer_summary(lines, cutoff - pd.Timedelta(days=1), count_by=count_by, extras=False)
        got = customer_summary(compact, cutoff - pd.Timedelta(days=1), count_by=count_by, extras=False)
        pd.testing.assert_frame_equal(got[["frequency", "recency", "T"]], want[["frequency", "recency", "T"]])
        np.testing.assert_allclose(got["monetary_value"], want["monetary_value"], rtol=1e-9)


def _run_cache_orders(rng, n: int, customers: int, days: int, channels: bool = False) -> pd.DataFrame:
    """``n`` orders laid out as the run cache holds them: one row each, sorted by customer, time and order id
    (ids numbered in time order); with ``channels`` a channel column with some missing."""
    tx = pd.DataFrame({
        CUSTOMER_ID: pd.array(rng.integers(0, customers, n).astype(str), dtype="str"),
        TIMESTAMP: pd.Timestamp("2024-01-01") + pd.to_timedelta(np.sort(rng.integers(0, days * 24, n)), unit="h"),
        AMOUNT: rng.random(n) * 100,
    })
    if channels:
        tx[CHANNEL] = pd.array(rng.choice(["email", "search", None], n), dtype="str")
    tx[ORDER_ID] = pd.array([f"o{i:05d}" for i in range(n)], dtype="str")
    return tx.sort_values([CUSTOMER_ID, TIMESTAMP, ORDER_ID], kind="stable").reset_index(drop=True)


def test_order_history_reads_the_run_caches_rows_in_place_to_the_same_answers(monkeypatch):
    """One row per order sorted by customer, time and order id (the run cache): read off in place, equal to
    the general path for every method."""
    from lclib.engine import orders as O

    tx = _run_cache_orders(np.random.default_rng(21), 4000, customers=400, days=300, channels=True)
    fast = O.OrderHistory(tx)
    assert O._history_in_place(tx, fast.as_of) is not None
    assert fast.orders[CUSTOMER_ID].array._pa_array is tx[CUSTOMER_ID].array._pa_array  # not copied
    monkeypatch.setattr(O, "_history_in_place", lambda *a: None)
    slow = O.OrderHistory(tx)
    pd.testing.assert_frame_equal(fast.orders, slow.orders, check_exact=True)
    np.testing.assert_array_equal(fast.codes, slow.codes)
    pd.testing.assert_index_equal(fast.ids, slow.ids)
    for cutoff in pd.date_range("2024-01-03 05:00", "2024-10-20", freq="37D"):
        pd.testing.assert_frame_equal(fast.before(cutoff), slow.before(cutoff), check_exact=True)
        pd.testing.assert_frame_equal(fast.compact_lines(cutoff), slow.compact_lines(cutoff), check_exact=True)
        start = cutoff - pd.Timedelta(days=60)
        pd.testing.assert_series_equal(fast.line_revenue(start, cutoff), slow.line_revenue(start, cutoff),
                                       check_exact=True)
        np.testing.assert_array_equal(fast.customers_with_lines_in(start, cutoff),
                                      slow.customers_with_lines_in(start, cutoff))


def test_customer_runs_numbers_rising_ids_by_neighbours_and_any_other_order_by_factorize():
    """Sorted arrow text and integer ids are numbered without hashing; unsorted, missing or object ids fall back to
    pd.factorize: the numbers are the same either way (first appearance)."""
    from lclib.engine.orders import customer_runs

    rng = np.random.default_rng(5)
    ids = np.sort(rng.integers(0, 50, 500))
    for column in (pd.array(ids.astype(str).astype(object), dtype="str"), ids):
        frame = pd.DataFrame({CUSTOMER_ID: column})
        frame = frame.sort_values(CUSTOMER_ID, kind="stable").reset_index(drop=True)
        want = pd.factorize(frame[CUSTOMER_ID])[0]
        np.testing.assert_array_equal(customer_runs(frame), want)
        shuffled = frame.sample(frac=1, random_state=2)
        np.testing.assert_array_equal(customer_runs(shuffled), pd.factorize(shuffled[CUSTOMER_ID])[0])
    with_missing = pd.DataFrame({CUSTOMER_ID: pd.array(["a", "a", None, "b"], dtype="str")})
    np.testing.assert_array_equal(customer_runs(with_missing), [0, 0, -1, 1])


def test_order_history_and_orders_of_share_one_table_of_the_run_caches_orders():
    """Built in either order, OrderHistory and orders_of hand out the same orders frame (one per report, not two)."""
    from lclib.engine import orders as O

    tx = _run_cache_orders(np.random.default_rng(8), 600, customers=90, days=200)
    O.clear_orders_cache()
    history = O.OrderHistory(tx)
    orders, codes = O.orders_of(tx, history.as_of, codes=True)
    assert orders is history.orders and codes is history.codes
    O.clear_orders_cache()
    first = O.orders_of(tx, history.as_of)
    assert O.OrderHistory(tx).orders is first
    pd.testing.assert_frame_equal(first, O.orders_table(tx, history.as_of), check_exact=True)
    O.clear_orders_cache()
