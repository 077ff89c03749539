"""Tests of the sample-data generator :mod:`lclib.sample` and the shipped files.

Every check recomputes its quantity from the tables with plain pandas and
compares it with the generator's ground truth.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lclib.io import columns as C
from lclib.sample import (TABLE_COLUMNS, bgnbd_expected_repeats, bgnbd_prob_no_repeat, make_messy_shop_export, simulate, simulate_bgnbd, simulate_gamma_gamma, write_sample)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT / "data" / "sample"
FIXTURE = ROOT / "tests" / "fixtures" / "messy_shop_export.csv"
Z99 = 2.5758  # two-sided 99% normal quantile


@pytest.fixture(scope="module")
def sample():
    return simulate()


@pytest.fixture(scope="module")
def truth(sample):
    return sample.truth


def _binomial_ok(k: int, n: int, p: float, z: float = Z99) -> bool:
    """k successes out of n within the two-sided normal-approximation bound (with continuity correction)."""
    return abs(k - n * p) <= z * math.sqrt(n * p * (1 - p)) + 0.5


def _orders(tx: pd.DataFrame) -> pd.DataFrame:
    return tx.groupby(C.ORDER_ID, as_index=False).agg(
        customer_id=(C.CUSTOMER_ID, "first"), timestamp=(C.TIMESTAMP, "first"), channel=(C.CHANNEL, "first"),
        value=(C.AMOUNT, "sum"),
    )


# --- determinism and files -------------------------------------------------


def test_same_seed_same_frames_other_seed_differs():
    a, b, c = simulate(n_people=800, seed=5), simulate(n_people=800, seed=5), simulate(n_people=800, seed=6)
    for name, df in a.tables().items():
        pd.testing.assert_frame_equal(df, b.tables()[name])
    assert a.truth == b.truth
    assert not a.transactions.equals(c.transactions)


def test_write_sample_is_byte_identical(tmp_path):
    p1 = write_sample(tmp_path / "one", n_people=600, seed=3)
    p2 = write_sample(tmp_path / "two", n_people=600, seed=3)
    assert set(p1) == set(TABLE_COLUMNS) | {"ground_truth"}
    for key in p1:
        assert p1[key].read_bytes() == p2[key].read_bytes(), key


def test_shipped_sample_is_reproducible(tmp_path):
    paths = write_sample(tmp_path)
    for key, path in paths.items():
        shipped = SAMPLE_DIR / path.name
        assert shipped.read_bytes() == path.read_bytes(), f"{shipped} is stale: rerun write_sample"
    total = sum((SAMPLE_DIR / p.name).stat().st_size for p in paths.values())
    assert total < 5_000_000


def test_ground_truth_json_is_pretty_and_sorted():
    text = (SAMPLE_DIR / "ground_truth.json").read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


# --- shape of the tables -----------------------------------------------------


def test_columns_are_exactly_canonical(sample):
    for name, df in sample.tables().items():
        assert tuple(df.columns) == TABLE_COLUMNS[name], name
        required, optional = C.TABLES[name]
        assert set(required) <= set(df.columns)
        assert set(df.columns) - set(required) - set(optional) <= {"country"}
        header = (SAMPLE_DIR / f"{name}.csv").read_text(encoding="utf-8").split("\n", 1)[0]
        assert header.split(",") == list(TABLE_COLUMNS[name])


def test_csv_date_formats():
    ts = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
    day = r"^\d{4}-\d{2}-\d{2}$"
    for name, cols in TABLE_COLUMNS.items():
        df = pd.read_csv(SAMPLE_DIR / f"{name}.csv", dtype=str, keep_default_na=False)
        for col in set(cols) & set(C.DATE_COLUMNS):
            pattern = day if col in (C.SIGNUP_DATE, C.DATE) else ts
            assert df[col].str.match(pattern).all(), (name, col)


def test_ids_are_zero_padded_text(sample):
    patterns = {"P": r"^P\d{6}$", "C": r"^C\d{6}$", "O": r"^O\d{7}$"}
    checks = [
        (sample.transactions[C.CUSTOMER_ID], "C"), (sample.transactions[C.ORDER_ID], "O"),
        (sample.events[C.ANONYMOUS_ID], "P"), (sample.events[C.CUSTOMER_ID].dropna(), "C"),
        (sample.customers[C.CUSTOMER_ID], "C"), (sample.referrals[C.REFERRER_ID], "C"),
        (sample.referrals[C.REFERRED_ID], "P"), (sample.surveys[C.CUSTOMER_ID], "C"),
        (sample.experiments[C.CUSTOMER_ID], "C"),
    ]
    for series, prefix in checks:
        assert series.map(type).eq(str).all()
        assert series.str.match(patterns[prefix]).all(), prefix
    assert sample.customers[C.CUSTOMER_ID].is_unique
    # ids are numbered 1..n without gaps
    people = np.sort(sample.events[C.ANONYMOUS_ID].unique())
    assert people[0] == "P000001" and people[-1] == f"P{people.size:06d}"
    raw = pd.read_csv(SAMPLE_DIR / "transactions.csv", dtype=str)
    assert raw[C.CUSTOMER_ID].str.match(patterns["C"]).all()


def test_rows_sorted_by_time(sample):
    for name, df in sample.tables().items():
        col = C.DATE if name == "spend" else C.SIGNUP_DATE if name == "customers" else (
            C.ASSIGNED_AT if name == "experiments" else C.TIMESTAMP)
        assert df[col].is_monotonic_increasing, name


def test_sizes_in_target_ranges(truth):
    rc, tot = truth["row_counts"], truth["realized"]["totals"]
    assert 5000 <= tot["people"] <= 6000
    assert 1500 <= tot["converted"] <= 2500
    assert 3000 <= rc["transactions"] <= 20000
    assert 20000 <= rc["events"] <= 50000


# --- truth vs tables -----------------------------------------------------------


def test_truth_counts_equal_table_counts(sample, truth):
    real = truth["realized"]
    assert truth["row_counts"] == {name: len(df) for name, df in sample.tables().items()}
    ev = sample.events
    first_touch = ev.groupby(C.ANONYMOUS_ID)[C.CHANNEL].first()
    assert first_touch.value_counts().to_dict() == {k: v for k, v in real["people"].items() if v}
    cust = sample.customers.set_index(C.CUSTOMER_ID)[C.ACQUISITION_CHANNEL]
    assert cust.value_counts().to_dict() == {k: v for k, v in real["customers"].items() if v}
    n_orders = _orders(sample.transactions).groupby(C.CUSTOMER_ID).size()
    ch_of = cust.loc[n_orders.index]
    assert ch_of.value_counts().to_dict() == {k: v for k, v in real["converted"].items() if v}
    assert ch_of[n_orders.to_numpy() >= 2].value_counts().to_dict() == {
        k: v for k, v in real["retained"].items() if v
    }
    refs = sample.referrals
    assert cust.loc[refs[C.REFERRER_ID].unique()].value_counts().to_dict() == {
        k: v for k, v in real["advocates"].items() if v
    }
    assert cust.loc[refs[C.REFERRER_ID]].value_counts().to_dict() == {
        k: v for k, v in real["referrals_made"].items() if v
    }
    assert real["totals"]["people"] == ev[C.ANONYMOUS_ID].nunique()
    assert real["totals"]["referrals"] == len(refs) == real["people"]["referral"]


def test_realized_stage_rates_within_binomial_bounds(sample, truth):
    probs = truth["stage_probabilities"]
    ev, tx = sample.events, sample.transactions
    reach_ch = ev.groupby(C.ANONYMOUS_ID)[C.CHANNEL].first()
    signed = set(ev.loc[ev[C.EVENT_TYPE] == "signup", C.ANONYMOUS_ID])
    cust = sample.customers
    obs_end = pd.Timestamp(truth["observation_end"])
    cohort = cust[cust[C.SIGNUP_DATE] < obs_end - pd.Timedelta(days=truth["conversion_delay"]["max_days"] + 1)]
    buyers = set(tx[C.CUSTOMER_ID])
    n_orders = _orders(tx).groupby(C.CUSTOMER_ID).size()
    retained = cust[cust[C.CUSTOMER_ID].isin(n_orders.index[n_orders >= 2])]
    advocates = set(sample.referrals[C.REFERRER_ID])
    for ch in truth["channels"]:
        people = reach_ch.index[reach_ch == ch]
        k = sum(p in signed for p in people)
        assert _binomial_ok(k, len(people), probs["reach_to_acquisition"][ch]), ("acquisition", ch, k, len(people))
        ids = cohort.loc[cohort[C.ACQUISITION_CHANNEL] == ch, C.CUSTOMER_ID]
        k = int(ids.isin(buyers).sum())
        assert _binomial_ok(k, len(ids), probs["acquisition_to_conversion"][ch]), ("conversion", ch, k, len(ids))
        ids = retained.loc[retained[C.ACQUISITION_CHANNEL] == ch, C.CUSTOMER_ID]
        k = int(ids.isin(advocates).sum())
        assert _binomial_ok(k, len(ids), probs["retention_to_advocacy"][ch]), ("advocacy", ch, k, len(ids))


def test_model_implied_retention_matches_realized(sample, truth):
    """Retention is Poisson-binomial with p_i = 1 - P(X(T_i) = 0); check per channel and overall."""
    bg = truth["bgnbd"]
    orders = _orders(sample.transactions).sort_values(C.TIMESTAMP, kind="stable")
    first = orders.groupby(C.CUSTOMER_ID).agg(t1=(C.TIMESTAMP, "first"), n=(C.ORDER_ID, "size"))
    first[C.CHANNEL] = sample.customers.set_index(C.CUSTOMER_ID).loc[first.index, C.ACQUISITION_CHANNEL]
    T = (pd.Timestamp(truth["observation_end"]) - first["t1"]) / pd.Timedelta(weeks=1)
    first["p"] = 1 - bgnbd_prob_no_repeat(T.to_numpy(), bg["r"], bg["alpha"])
    model = truth["stage_probabilities"]["conversion_to_retention_model"]
    for ch, g in first.groupby(C.CHANNEL):
        assert model[ch] == pytest.approx(g["p"].mean(), abs=1e-6)
        k, mean, sd = (g["n"] >= 2).sum(), g["p"].sum(), math.sqrt((g["p"] * (1 - g["p"])).sum())
        assert abs(k - mean) <= Z99 * sd + 0.5, ch
    assert abs((first["n"] >= 2).sum() - first["p"].sum()) <= 3 * math.sqrt((first["p"] * (1 - first["p"])).sum())


def test_acquisition_and_first_order_channel_rule(sample):
    ev = sample.events
    previous = ev.groupby(C.ANONYMOUS_ID)[C.CHANNEL].shift(1)  # channel of the person's previous event
    signups = ev[ev[C.EVENT_TYPE] == "signup"]
    acq = sample.customers.set_index(C.CUSTOMER_ID)[C.ACQUISITION_CHANNEL]
    assert (previous.loc[signups.index].to_numpy() == acq.loc[signups[C.CUSTOMER_ID]].to_numpy()).all()
    assert (signups[C.CHANNEL].to_numpy() == acq.loc[signups[C.CUSTOMER_ID]].to_numpy()).all()
    first = _orders(sample.transactions).sort_values(C.TIMESTAMP, kind="stable").groupby(C.CUSTOMER_ID).first()
    assert (first[C.CHANNEL] == acq.loc[first.index]).all()
    # multi-touch and multi-channel paths exist
    per_person = ev.groupby(C.ANONYMOUS_ID)[C.CHANNEL].nunique()
    assert (per_person > 1).mean() > 0.2


def test_events_carry_customer_id_from_signup_on(sample):
    ev = sample.events
    assert ev[C.ANONYMOUS_ID].notna().all()
    assert set(ev[C.EVENT_TYPE]) <= {"impression", "visit", "signup", "add_to_cart", "email_open", "app_open"}
    signup_at = ev[ev[C.EVENT_TYPE] == "signup"].set_index(C.ANONYMOUS_ID)[C.TIMESTAMP]
    assert signup_at.index.is_unique
    t_signup = ev[C.ANONYMOUS_ID].map(signup_at)
    has_cid = ev[C.CUSTOMER_ID].notna()
    assert (has_cid == (t_signup.notna() & (ev[C.TIMESTAMP] >= t_signup))).all()
    # one anonymous id <-> one customer id
    pairs = ev.loc[has_cid, [C.ANONYMOUS_ID, C.CUSTOMER_ID]].drop_duplicates()
    assert pairs[C.ANONYMOUS_ID].is_unique and pairs[C.CUSTOMER_ID].is_unique
    assert set(pairs[C.CUSTOMER_ID]) == set(sample.customers[C.CUSTOMER_ID])


def test_order_lines_add_up(sample):
    tx = sample.transactions
    cents = (tx[C.AMOUNT] * 100).round().astype(int)
    assert (cents == (tx[C.QUANTITY] * (tx[C.UNIT_PRICE] * 100).round()).astype(int)).all()
    assert (cents > 0).all() and tx[C.QUANTITY].between(1, 3).all()
    assert tx.groupby(C.ORDER_ID).size().between(1, 3).all()
    assert tx.groupby(C.ORDER_ID)[C.TIMESTAMP].nunique().eq(1).all()
    mean_value = _orders(tx)["value"].mean()
    gg = sample.truth["gamma_gamma"]
    assert mean_value == pytest.approx(gg["p"] * gg["v"] / (gg["q"] - 1), rel=0.15)


def test_spend_over_customers_is_exactly_cac(sample, truth):
    first = _orders(sample.transactions).sort_values(C.TIMESTAMP, kind="stable").groupby(C.CUSTOMER_ID).first()
    first["month"] = first[C.TIMESTAMP].dt.to_period("M").dt.to_timestamp()
    spend = sample.spend
    assert set(spend[C.CHANNEL]) == set(truth["cac"])
    for ch, cac in truth["cac"].items():
        mine = first[first[C.CHANNEL] == ch]
        s = spend[spend[C.CHANNEL] == ch].set_index(C.DATE)[C.AMOUNT]
        assert round(s.sum() / len(mine), 2) == cac
        per_month = mine.groupby("month").size().reindex(s.index, fill_value=0)
        assert ((s * 100).round().astype(int) == round(cac * 100) * per_month).all()
        assert truth["realized"]["spend"][ch] == round(s.sum(), 2)


def test_referrals_are_consistent(sample):
    refs, ev = sample.referrals, sample.events
    orders = _orders(sample.transactions).sort_values(C.TIMESTAMP, kind="stable")
    second = orders.groupby(C.CUSTOMER_ID)[C.TIMESTAMP].nth(1)
    second = pd.Series(second.to_numpy(), index=orders.loc[second.index, C.CUSTOMER_ID])
    assert (refs[C.TIMESTAMP].to_numpy() >= second.loc[refs[C.REFERRER_ID]].to_numpy()).all()
    first_ev = ev.groupby(C.ANONYMOUS_ID).first().loc[refs[C.REFERRED_ID]]
    assert (first_ev[C.CHANNEL] == "referral").all()
    assert (first_ev[C.TIMESTAMP].to_numpy() == refs[C.TIMESTAMP].to_numpy()).all()
    assert refs[C.REFERRED_ID].is_unique


def test_experiment_truth(sample, truth):
    ex, t = sample.experiments, truth["experiment"]
    assert ex[C.EXPERIMENT].eq(t["name"]).all() and ex[C.CUSTOMER_ID].is_unique
    assert (ex[C.VARIANT] == "treatment").sum() == t["n_treatment"] == len(ex) // 2
    assert len(ex) == t["n_assigned"] == t["n_treatment"] + t["n_control"]
    at = pd.Timestamp(t["assigned_at"])
    assert ex[C.ASSIGNED_AT].eq(at).all()
    orders = _orders(sample.transactions)
    # eligibility: a second purchase before assignment
    before = orders[orders[C.TIMESTAMP] < at].groupby(C.CUSTOMER_ID).size()
    assert (before.reindex(ex[C.CUSTOMER_ID], fill_value=0) >= 2).all()
    in_window = orders[(orders[C.TIMESTAMP] >= at) & (orders[C.TIMESTAMP] < at + pd.Timedelta(days=t["window_days"]))]
    y = ex[C.CUSTOMER_ID].isin(in_window[C.CUSTOMER_ID])
    assert y[ex[C.VARIANT] == "control"].mean() == pytest.approx(t["control_rate"], abs=1e-6)
    assert y[ex[C.VARIANT] == "treatment"].mean() == pytest.approx(t["treatment_rate"], abs=1e-6)
    assert t["true_ate"] == pytest.approx(t["mean_y1"] - t["mean_y0"], abs=1e-5)
    assert 0 < t["true_ate"] <= t["uplift_u"]
    # the experiment's extra purchases come through email, inside the window, for treated customers only
    assert t["extra_orders"] > 0


def test_nps_surveys(sample, truth):
    sv = sample.surveys
    assert sv[C.SCORE].between(0, 10).all() and sv[C.SCORE].dtype.kind == "i"
    assert set(sv[C.CUSTOMER_ID]) <= set(sample.transactions[C.CUSTOMER_ID])
    n_orders = _orders(sample.transactions).groupby(C.CUSTOMER_ID).size()
    ret = sv[C.CUSTOMER_ID].map(n_orders) >= 2
    got = truth["nps"]["realized_mean_score"]
    assert sv.loc[ret, C.SCORE].mean() == pytest.approx(got["retained"], abs=1e-6)
    assert sv.loc[~ret, C.SCORE].mean() == pytest.approx(got["not_retained"], abs=1e-6)
    assert got["retained"] > got["not_retained"] + 1
    for grp, mask in (("retained", ret), ("not_retained", ~ret)):
        pmf = np.array(truth["nps"]["score_pmf"][grp])
        mean, sd = np.arange(11) @ pmf, math.sqrt((np.arange(11) ** 2) @ pmf - (np.arange(11) @ pmf) ** 2)
        assert abs(sv.loc[mask, C.SCORE].mean() - mean) < 4 * sd / math.sqrt(mask.sum())


# --- the purchase and spend models --------------------------------------------


def _bgnbd_pmf(x_max: int, t: float, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """P(X(t) = x) for x = 0..x_max, Fader, Hardie & Lee (2005) eq. 8, written independently of lclib."""
    x = np.arange(x_max + 1)
    lg = np.vectorize(math.lgamma)
    lbeta = lambda p, q: lg(p) + lg(q) - lg(p + q)  # noqa: E731
    lnb = lg(r + x) - math.lgamma(r) - lg(x + 1.0)  # log Gamma(r+x) / (Gamma(r) x!)
    A, B = alpha / (alpha + t), t / (alpha + t)
    pmf = np.exp(lbeta(a, b + x) - lbeta(a, b) + lnb + r * math.log(A) + x * math.log(B))
    # second term for x > 0: B(a+1, b+x-1)/B(a,b) * [1 - A^r sum_{j<x} NB_j B^j]
    partial = np.cumsum(np.exp(lnb + x * math.log(B)))[:-1]
    pmf[1:] += np.exp(lbeta(a + 1, b + x[1:] - 1) - lbeta(a, b)) * (1 - A**r * partial)
    return pmf


BG = dict(r=0.25, alpha=4.0, a=0.8, b=2.4)


def test_bgnbd_closed_forms_agree():
    for t in (5.0, 52.0, 104.0):
        pmf = _bgnbd_pmf(20_000, t, **BG)
        assert pmf.min() >= 0 and pmf.sum() == pytest.approx(1, abs=1e-6)
        assert bgnbd_expected_repeats(t, **BG)[0] == pytest.approx(np.arange(pmf.size) @ pmf, rel=1e-4)
        assert bgnbd_prob_no_repeat(t, BG["r"], BG["alpha"]) == pytest.approx(pmf[0], rel=1e-12)


@pytest.mark.parametrize("t", [26.0, 104.0])
def test_bgnbd_simulation_matches_closed_form(t):
    n = 20_000
    df = simulate_bgnbd(n, T=t, rng=np.random.default_rng(11), **BG)
    assert list(df.columns) == ["frequency", "recency", "T"]
    x = df["frequency"].to_numpy()
    expected = bgnbd_expected_repeats(t, **BG)[0]
    assert abs(x.mean() - expected) < 4 * x.std() / math.sqrt(n)
    pmf = _bgnbd_pmf(4, t, **BG)
    for k, p in enumerate(pmf):  # the whole distribution, including P(X=0) (no dropout at time 0)
        assert abs((x == k).mean() - p) < 4 * math.sqrt(p * (1 - p) / n), k
    assert ((df["recency"] > 0) == (x > 0)).all() and (df["recency"] <= df["T"]).all()


def test_bgnbd_simulation_with_varying_T():
    n = 20_000
    T = np.random.default_rng(1).uniform(1, 104, n)
    x = simulate_bgnbd(n, T=T, rng=12, **BG)["frequency"].to_numpy()
    expected = bgnbd_expected_repeats(T, **BG)
    assert abs(x.mean() - expected.mean()) < 4 * x.std() / math.sqrt(n)
    p0 = bgnbd_prob_no_repeat(T, BG["r"], BG["alpha"])
    assert abs((x == 0).sum() - p0.sum()) < 4 * math.sqrt((p0 * (1 - p0)).sum())


def test_gamma_gamma_simulation():
    p, q, v = 6.0, 4.0, 15.0
    df = simulate_gamma_gamma(np.full(20_000, 3), p, q, v, rng=np.random.default_rng(2))
    assert len(df) == 60_000 and (df["value"] > 0).all()
    # E[z | nu] = p / nu: z * nu / p has mean 1 and variance 1 / p
    w = df["value"] * df["nu"] / p
    assert abs(w.mean() - 1) < 4 / math.sqrt(p * len(w))
    # nu ~ Gamma(q, rate v): E[nu] = q / v
    nu = df.groupby("customer")["nu"].first()
    assert abs(nu.mean() - q / v) < 4 * math.sqrt(q) / v / math.sqrt(len(nu))
    # E[z] = p v / (q - 1), SE from the per-customer means (orders of one customer are correlated)
    per_customer = df.groupby("customer")["value"].mean()
    assert abs(per_customer.mean() - p * v / (q - 1)) < 4 * per_customer.std() / math.sqrt(len(per_customer))


# --- messy shop export ------------------------------------------------------------


def test_messy_fixture_is_reproducible(tmp_path):
    truth = make_messy_shop_export(tmp_path / "messy_shop_export.csv")
    assert (tmp_path / "messy_shop_export.csv").read_bytes() == FIXTURE.read_bytes()
    shipped = FIXTURE.with_name("messy_shop_export.truth.json")
    assert (tmp_path / "messy_shop_export.truth.json").read_bytes() == shipped.read_bytes()
    assert json.loads(shipped.read_text(encoding="utf-8")) == truth


def test_messy_fixture_counts_match_truth():
    truth = json.loads(FIXTURE.with_name("messy_shop_export.truth.json").read_text(encoding="utf-8"))
    raw = FIXTURE.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    text = raw.decode("latin-1")
    assert "£" in text and "é" in text.lower() and "ü" in text.lower() and "España" in text
    df = pd.read_csv(FIXTURE, encoding="latin-1", dtype=str, keep_default_na=False)
    assert list(df.columns) == truth["columns"]
    assert len(df) == truth["rows_total"]
    d = truth["defects"]

    ids = df["CustomerID"]
    assert ids[ids != ""].str.match(r"^\d{5}\.0$").all()
    step = df[ids != ""]
    assert len(df) - len(step) == d["missing_customer_id"]
    nxt = step.drop_duplicates()
    assert len(step) - len(nxt) == d["exact_duplicate"]
    step = nxt
    when = pd.to_datetime(step["InvoiceDate"], format="%d/%m/%Y %H:%M", errors="coerce")
    assert len(step) - when.notna().sum() == d["unparsable_date"]
    assert (when.dt.day > 12).any()  # day-first really matters
    step, when = step[when.notna()], when[when.notna()]
    cancel = step["InvoiceNo"].str.startswith("C")
    assert (step.loc[cancel, "Quantity"].astype(int) < 0).all()
    assert cancel.sum() == d["cancellation"]
    step = step[~cancel]
    non_product = step["StockCode"].isin(truth["non_product_codes"])
    assert non_product.sum() == d["non_product_code"]
    step = step[~non_product]
    price = step["UnitPrice"].astype(float)
    assert (price <= 0).sum() == d["non_positive_price"]
    clean = step[price > 0]

    c = truth["clean"]
    assert len(clean) == c["rows"] == truth["rows_total"] - sum(d.values())
    assert (clean["Quantity"].astype(int) > 0).all()
    assert clean["CustomerID"].nunique() == c["customers"] == truth["n_customers"]
    assert clean["InvoiceNo"].nunique() == c["invoices"]
    revenue = (clean["Quantity"].astype(int) * clean["UnitPrice"].astype(float)).sum()
    assert revenue == pytest.approx(c["revenue"], abs=0.005)
    per_customer = clean.groupby(clean["CustomerID"].str.removesuffix(".0"))["InvoiceNo"].nunique()
    assert per_customer.to_dict() == c["orders_per_customer"]
    assert truth["cleaning_order"] == [
        "missing_customer_id", "exact_duplicate", "unparsable_date", "cancellation", "non_product_code",
        "non_positive_price",
    ]


def test_messy_defects_are_disjoint():
    """Each defective row has exactly one defect: the counts do not depend on the cleaning order."""
    truth = json.loads(FIXTURE.with_name("messy_shop_export.truth.json").read_text(encoding="utf-8"))
    df = pd.read_csv(FIXTURE, encoding="latin-1", dtype=str, keep_default_na=False)
    flags = pd.DataFrame({
        "missing_customer_id": df["CustomerID"] == "",
        "exact_duplicate": df.duplicated(),
        "unparsable_date": pd.to_datetime(df["InvoiceDate"], format="%d/%m/%Y %H:%M", errors="coerce").isna(),
        "cancellation": df["InvoiceNo"].str.startswith("C"),
        "non_product_code": df["StockCode"].isin(truth["non_product_codes"]),
        "non_positive_price": df["UnitPrice"].astype(float) <= 0,
    })
    assert flags.sum(axis=1).max() == 1
    assert flags.sum().to_dict() == truth["defects"]
