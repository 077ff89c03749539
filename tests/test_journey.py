"""Journey map: stage rates recovered from the sample's known truth, hand-built touchpoints and paths."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import scipy.stats  # noqa: E402

from lclib.analysis import attribution as A  # noqa: E402
from lclib.analysis import journey as J  # noqa: E402
from lclib.analysis import kpis as K  # noqa: E402
from lclib.engine import orders as cohorts  # noqa: E402
from lclib.engine.contracts import resolve_as_of  # noqa: E402
from lclib.analysis.intervals import wilson_interval
from lclib.io.columns import CUSTOMER_ID  # noqa: E402
from lclib.config import Stage, load_config  # noqa: E402
from lclib.plots import journey as PJ  # noqa: E402

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"


@pytest.fixture(scope="module")
def sample():
    from lclib.io.dataset import load_dataset

    cfg = load_config()
    return cfg, load_dataset(cfg), json.loads((SAMPLE / "ground_truth.json").read_text())


def _truth_stages(cfg):
    # the truth's advocacy is "made a referral" (p_advocate); the default stage also admits NPS promoters
    stages = list(cfg.journey.stages)
    return stages[:-1] + [Stage(name="advocacy", facts=["referral"], kpi="referral_rate")]


def test_stage_rates_per_reach_channel_recover_the_true_probabilities(sample):
    cfg, data, truth = sample
    sp = truth["stage_probabilities"]
    stages = _truth_stages(cfg)
    reached, skipped = J.stage_entries(data.tables, stages)
    assert skipped == []
    as_of = resolve_as_of(data.transactions)
    plain = J.stage_conversion(reached, stages, by="channel").set_index(["group", "stage"])
    # first purchases are right-censored near the end: measure conversion within the delay's cap,
    # on people who signed up at least that long before the end (the truth's uncensored cohort)
    windowed = J.stage_conversion(reached, stages, by="channel", window_days=truth["conversion_delay"]["max_days"],
                                  as_of=as_of).set_index(["group", "stage"])
    checks = (("reach_to_acquisition", "acquisition", plain), ("acquisition_to_conversion", "conversion", windowed),
              ("conversion_to_retention_model", "retention", plain), ("retention_to_advocacy", "advocacy", plain))
    # 4 steps x 7 channels = 28 intervals: at 95 % each, about one would miss by chance. So the
    # test uses Bonferroni-adjusted Wilson intervals: all 28 cover the truth with >= 95 % probability.
    m = sum(len(sp[key]) for key, _, _ in checks)
    z = float(scipy.stats.norm.ppf(1 - 0.05 / (2 * m)))
    misses = []
    for key, stage, table in checks:
        for channel, p in sp[key].items():
            row = table.loc[(channel, stage)]
            lower, upper = wilson_interval(row["reached"], row["entered"], z=z)
            if not lower <= p <= upper:
                misses.append((key, channel, p, row["conversion"], float(lower), float(upper)))
    assert misses == []
    # the windowed conversion counts exactly the truth's uncensored cohort's rate
    uncensored = truth["realized"]["rates"]["acquisition_to_conversion_uncensored"]
    for channel, rate in uncensored.items():
        assert windowed.loc[(channel, "conversion"), "conversion"] == pytest.approx(rate, abs=5e-6)


def test_time_between_stages_matches_the_simulated_delays(sample):
    cfg, data, truth = sample
    reached, _ = J.stage_entries(data.tables, cfg.journey.stages)
    t = J.stage_times(reached, cfg.journey.stages).set_index("stage")
    d = truth["conversion_delay"]
    mean, sd = d["shape"] * d["scale_days"], np.sqrt(d["shape"]) * d["scale_days"]
    n = t.loc["conversion", "people"]
    assert abs(t.loc["conversion", "mean_days"] - mean) < 3 * sd / np.sqrt(n)
    # reach -> acquisition: the path's exponential length plus minutes to the signup
    m = truth["reach"]["path_length_mean_days"] + truth["reach"]["signup_lag_mean_days"]
    n = t.loc["acquisition", "people"]
    assert abs(t.loc["acquisition", "mean_days"] - m) < 3 * m / np.sqrt(n)
    assert (t["p10_days"] <= t["median_days"]).all() and (t["median_days"] <= t["p90_days"]).all()


def test_touches_placed_on_their_stage_in_blocks_equal_the_whole_table(sample, monkeypatch):
    """Touches are placed on their stage a block at a time (bounded memory at 40M touches): the same table."""
    cfg, data, _ = sample
    reached, _ = J.stage_entries(data.tables, cfg.journey.stages)
    whole = J.touchpoints(data.tables, reached, cfg.journey.stages)
    monkeypatch.setattr(J, "TOUCH_BLOCK_ROWS", 101)
    assert len(whole) > 20 * 101 and whole["stage_index"].nunique() > 2
    pd.testing.assert_frame_equal(J.touchpoints(data.tables, reached, cfg.journey.stages), whole, check_exact=True)


def test_first_touch_credit_on_the_sample_equals_conversions_per_reach_channel(sample):
    # the simulator makes the first touch the reach channel and every converter has touches before buying
    cfg, data, truth = sample
    reached, _ = J.stage_entries(data.tables, cfg.journey.stages)
    touches = J.touchpoints(data.tables, reached, cfg.journey.stages)
    paths = J.touch_paths(touches, reached, J.conversion_stage(cfg.journey.stages), cfg.journey.max_path_length)
    credit = A.channel_credit(J.path_counts(paths)).set_index("channel")
    assert credit["first_touch"].to_dict() == pytest.approx({k: float(v) for k, v in
                                                            truth["realized"]["converted"].items()})
    assert credit["markov"].sum() == pytest.approx(truth["realized"]["totals"]["converted"])


# ----------------------------------------------------------------------------- a hand-built world

AS_OF = pd.Timestamp("2024-02-01")
STAGES = [Stage(name="reach", events=["impression", "visit"], kpi="visits"),
          Stage(name="acquisition", events=["signup"], facts=["signup"], kpi="lead_rate", target=0.6),
          Stage(name="conversion", facts=["first_purchase"], kpi="conversion_rate", target=0.5),
          Stage(name="retention", facts=["repeat_purchase"], kpi="retention_rate")]


def _ts(s):
    return pd.Timestamp(s)


@pytest.fixture
def world():
    ev = pd.DataFrame([
        ("P1", None, "2024-01-01 10:00", "visit", "email"),
        ("P1", None, "2024-01-02 12:00", "impression", "paid_search"),
        ("P1", None, "2024-01-03 09:00", "visit", "email"),
        ("P1", "C1", "2024-01-03 10:00", "signup", "email"),
        ("P1", "C1", "2024-01-04 08:00", "visit", "app_push"),
        ("P2", None, "2024-01-01 11:00", "impression", "paid_search"),
        ("P2", None, "2024-01-05 11:00", "visit", "paid_search"),
    ], columns=["anonymous_id", "customer_id", "timestamp", "event_type", "channel"])
    ev["timestamp"] = pd.to_datetime(ev["timestamp"])
    tx = pd.DataFrame({"customer_id": ["C1", "C1"], "order_id": ["O1", "O2"],
                       "timestamp": pd.to_datetime(["2024-01-05 12:00", "2024-01-20 12:00"]),
                       "amount": [10.0, 20.0], "channel": ["email", "direct"]})
    cust = pd.DataFrame({"customer_id": ["C1"], "signup_date": pd.to_datetime(["2024-01-03"]),
                         "acquisition_channel": ["email"]})
    return {"transactions": tx, "events": ev, "customers": cust}


def test_date_only_signup_yields_to_the_same_day_signup_event(world):
    reached, skipped = J.stage_entries(world, STAGES, as_of=AS_OF)
    assert skipped == []
    assert reached.loc["P1", "acquisition"] == _ts("2024-01-03 10:00")
    assert reached.loc["P1", "reach"] == _ts("2024-01-01 10:00")
    assert reached.loc["P2", ["acquisition", "conversion"]].isna().all()


def test_touches_sit_on_the_stage_the_person_was_in(world):
    reached, _ = J.stage_entries(world, STAGES, as_of=AS_OF)
    t = J.touchpoints(world, reached, STAGES, as_of=AS_OF)
    p1 = t.loc[t["person"] == "P1"]
    assert list(p1["stage"]) == ["reach", "reach", "reach", "acquisition", "acquisition", "conversion", "retention"]
    assert list(p1["kind"])[-2:] == ["order", "order"]
    assert list(t.loc[t["person"] == "P2", "stage"]) == ["reach", "reach"]


def test_channel_stage_matrix_counts_people_and_their_next_step(world):
    reached, _ = J.stage_entries(world, STAGES, as_of=AS_OF)
    m = J.channel_stage_matrix(J.touchpoints(world, reached, STAGES, as_of=AS_OF), reached, STAGES)
    m = m.set_index(["channel", "stage"])
    assert m.loc[("paid_search", "reach"), ["touches", "people", "moved_on"]].tolist() == [3, 2, 1]
    assert m.loc[("paid_search", "reach"), "conversion"] == 0.5
    assert m.loc[("paid_search", "reach"), "share_of_stage"] == 1.0
    assert m.loc[("email", "reach"), "conversion"] == 1.0
    assert m.loc[("app_push", "acquisition"), "people"] == 1
    assert np.isnan(m.loc[("direct", "retention"), "conversion"])


def test_paths_stop_before_the_goal_collapse_repeats_and_keep_the_last_touches(world):
    reached, _ = J.stage_entries(world, STAGES, as_of=AS_OF)
    t = J.touchpoints(world, reached, STAGES, as_of=AS_OF)
    paths = J.touch_paths(t, reached, "conversion", max_length=8)
    assert paths.loc["P1", "path"] == "email > paid_search > email > app_push"
    assert bool(paths.loc["P1", "converted"]) and not bool(paths.loc["P2", "converted"])
    assert paths.loc["P2", "path"] == "paid_search"
    assert J.touch_paths(t, reached, "conversion", max_length=2).loc["P1", "path"] == "email > app_push"
    pc = J.path_counts(paths)
    assert pc["people"].sum() == 2 and pc["conversions"].sum() == 1


def test_conversion_window_drops_late_entrants_and_late_conversions():
    day = pd.Timestamp("2024-01-01")
    d = lambda n: day + pd.Timedelta(days=n) if n is not None else pd.NaT  # noqa: E731
    reached = pd.DataFrame({"a": [d(0), d(0), d(95), d(50)], "b": [d(5), d(20), d(96), None],
                            "channel": ["x", "x", "y", "y"]}, index=["p1", "p2", "p3", "p4"])
    plain = J.stage_conversion(reached, ["a", "b"])
    assert plain[["entered", "reached"]].iloc[0].tolist() == [4, 3]
    w = J.stage_conversion(reached, ["a", "b"], window_days=10, as_of=d(100))
    assert w[["entered", "reached"]].iloc[0].tolist() == [3, 1]
    by = J.stage_conversion(reached, ["a", "b"], by="channel", window_days=10, as_of=d(100)).set_index("group")
    assert by.loc["x", ["entered", "reached"]].tolist() == [2, 1]
    assert by.loc["y", ["entered", "reached"]].tolist() == [1, 0]
    with pytest.raises(ValueError, match="as_of"):
        J.stage_conversion(reached, ["a", "b"], window_days=10)


def test_stage_counts_and_times_follow_the_strict_funnel():
    day = pd.Timestamp("2024-01-01")
    reached = pd.DataFrame({"a": [day, day, day, pd.NaT], "b": [day + pd.Timedelta(days=2), day + pd.Timedelta(days=4),
                                                                pd.NaT, day]}, index=list("pqrs"))
    c = J.stage_counts(reached, ["a", "b"])
    assert c["people"].tolist() == [3, 2] and c["lost_after"].tolist() == [1, 0]
    t = J.stage_times(reached, ["a", "b"])
    assert t.loc[0, "people"] == 2 and t.loc[0, "median_days"] == 3.0 and t.loc[0, "mean_days"] == 3.0


def test_transactions_only_scope_starts_at_conversion_and_says_so(world):
    tables = {"transactions": world["transactions"]}
    reached, skipped = J.stage_entries(tables, STAGES, as_of=AS_OF)
    scope = J.journey_scope(tables, STAGES, skipped)
    assert scope.mode == "transactions-only"
    assert [s.name for s in scope.stages] == ["conversion", "retention"]
    assert "transactions-only mode from Conversion onwards" in scope.sentence
    t = J.touchpoints(tables, reached, scope.stages, as_of=AS_OF)
    assert list(t["stage"]) == ["conversion", "retention"]
    assert J.touch_paths(t, reached, "conversion").empty
    full = J.journey_scope(world, STAGES, [])
    assert full.mode == "full" and J.conversion_stage(STAGES) == "conversion"


# ----------------------------------------------------------------------------- figures


def test_journey_figures_are_titled_labelled_and_reject_bad_input(world):
    reached, _ = J.stage_entries(world, STAGES, as_of=AS_OF)
    counts = J.stage_counts(reached, STAGES)
    kp = K.stage_kpis(world, STAGES, reached, as_of=AS_OF)
    t = J.touchpoints(world, reached, STAGES, as_of=AS_OF)
    m = J.channel_stage_matrix(t, reached, STAGES)
    pc = J.path_counts(J.touch_paths(t, reached, "conversion"))
    axes = [PJ.plot_sankey(counts), PJ.plot_journey_map(kp, counts, m),
            PJ.plot_stage_times(J.stage_times(reached, STAGES)), PJ.plot_top_paths(pc),
            PJ.plot_channel_credit(A.channel_credit(pc))]
    for ax in axes:
        assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    assert axes[1].get_title().startswith("Journey map")
    plt.close("all")
    with pytest.raises(ValueError, match="people"):
        PJ.plot_sankey(counts.drop(columns="people"))
    with pytest.raises(ValueError, match="empty"):
        PJ.plot_top_paths(pc.iloc[:0])
    with pytest.raises(ValueError, match="matrix"):
        PJ.plot_journey_map(kp, counts, pd.DataFrame())
    assert PJ.format_kpi(50.44, "%") == "50.4 %" and PJ.format_kpi(np.nan, "%") == "n/a"


# ----------------------------------------------------------------------------- orders once, fast paths


def _messy_lines(rng, k: int) -> pd.DataFrame:
    """Order lines in every layout orders_table must handle: shuffled or time-sorted runs,
    ties at one instant, ids shared between customers, missing values, integer/object ids."""
    m = int(rng.integers(1, 120))
    orders = pd.DataFrame({"customer_id": rng.choice(["c1", "c2", "ä3", "C4", "b", "c10"], m),
                           "order_id": [f"o{i}" for i in rng.permutation(m)],
                           "timestamp": pd.Timestamp("2024-01-01")
                           + pd.to_timedelta(np.sort(rng.integers(0, 20, m)), "D")})
    lines = orders.loc[orders.index.repeat(rng.integers(1, 4, m))].reset_index(drop=True)
    lines["amount"] = rng.random(len(lines)) * 100
    lines["channel"] = rng.choice(["email", "direct", None] if k % 2 else ["email", "direct"], len(lines))
    if k % 3 == 0:
        lines = lines.sample(frac=1, random_state=k).reset_index(drop=True)  # lines out of time order
    if k % 4 == 0:
        lines.loc[len(lines) // 2, "order_id"] = lines["order_id"].iloc[0]  # an id on two orders
    if k % 5 == 0:
        lines.loc[0, "customer_id"] = None
        lines.loc[len(lines) - 1, "timestamp"] = pd.NaT
    if k % 7 == 0:
        lines["customer_id"] = rng.integers(0, 4, len(lines))
    if k % 6 == 0:
        lines["customer_id"] = lines["customer_id"].astype(object)
    if k % 8 == 0:
        lines = lines.drop(columns="channel")
    return lines


def test_orders_of_is_exactly_the_orders_table():
    from lclib.engine.orders import orders_table

    rng = np.random.default_rng(3)
    for k in range(40):
        lines = _messy_lines(rng, k)
        as_of = None if k % 3 else pd.Timestamp("2024-01-12")
        # exact, money included: the amounts are added in the same order
        pd.testing.assert_frame_equal(cohorts.orders_of(lines, as_of), orders_table(lines, as_of), check_exact=True)


def _as_the_cache_sorts(lines: pd.DataFrame) -> pd.DataFrame:
    """``lines`` with order ids numbered by first time (as most shops number them) and rows by
    customer, time and order id: the run cache's layout (compact_order_lines_file)."""
    lines = lines.dropna(subset=["customer_id", "timestamp", "order_id"]).reset_index(drop=True)
    first = lines.groupby("order_id", sort=False)["timestamp"].transform("min")
    by_time = pd.DataFrame({"t": first, "o": lines["order_id"]}).sort_values(["t", "o"]).drop_duplicates("o")
    names = {o: f"n{i:04d}" for i, o in enumerate(by_time["o"])}
    lines["order_id"] = lines["order_id"].map(names).astype(lines["order_id"].dtype)
    return lines.sort_values(["customer_id", "timestamp", "order_id"], kind="stable").reset_index(drop=True)


def test_orders_of_reads_lines_in_the_caches_order_in_place_to_the_same_table():
    from lclib.engine.orders import _orders_in_place, orders_table

    rng = np.random.default_rng(13)
    in_place = 0
    for k in range(40):
        lines = _messy_lines(rng, k)
        if lines["customer_id"].dtype == object:  # mixed objects cannot be sorted
            continue
        lines = _as_the_cache_sorts(lines)
        in_place += _orders_in_place(lines) is not None
        for as_of in (None, pd.Timestamp("2024-01-12")):
            pd.testing.assert_frame_equal(cohorts.orders_of(lines, as_of, cache=None), orders_table(lines, as_of),
                                          check_exact=True)
    assert in_place >= 20  # the in-place path was taken, not only the general one
    t = pd.Timestamp("2024-01-01")
    spread = pd.DataFrame({"customer_id": ["c1"] * 3, "order_id": ["o1", "o2", "o1"],  # o1 around o2: not in place
                           "timestamp": [t, t + pd.Timedelta(hours=1), t + pd.Timedelta(hours=2)],
                           "amount": [1.0, 2.0, 4.0]})
    assert _orders_in_place(spread) is None
    assert cohorts.orders_of(spread, cache=None)["amount"].tolist() == [5.0, 2.0]
    adjacent = spread.iloc[[0, 2, 1]].reset_index(drop=True)  # o1's two times together: in place
    assert _orders_in_place(adjacent) is not None
    pd.testing.assert_frame_equal(cohorts.orders_of(adjacent, cache=None), orders_table(adjacent), check_exact=True)


def test_orders_of_rebuilds_for_another_frame_date_or_a_changed_frame():
    rng = np.random.default_rng(5)
    lines = _messy_lines(rng, 1)
    first = cohorts.orders_of(lines)
    assert cohorts.orders_of(lines) is first  # kept for the same frame and date
    assert len(cohorts.orders_of(lines, pd.Timestamp("2024-01-05"))) < len(first)
    lines.loc[0, "amount"] += 1000.0  # changed in place
    assert cohorts.orders_of(lines)["amount"].sum() == pytest.approx(first["amount"].sum() + 1000.0)


@pytest.mark.parametrize("stages", [
    [Stage(name="conversion", facts=["first_purchase"], kpi="conversion_rate"),
     Stage(name="retention", facts=["repeat_purchase"], kpi="retention_rate")],
    [Stage(name="retention", facts=["repeat_purchase"], kpi="retention_rate")],
    [Stage(name="reach", events=["visit"], kpi="visits"),
     Stage(name="buyer", facts=["repeat_purchase", "first_purchase"], kpi="people")],
])
def test_order_export_path_equals_the_general_path(stages):
    from lclib.sample import simulate

    tx = simulate(n_people=400, seed=11).tables()["transactions"]
    fast, skipped = J.stage_entries({"transactions": tx}, stages)
    # a customers table with nothing but the ids takes the general path to the same answer
    ids = pd.DataFrame({CUSTOMER_ID: tx[CUSTOMER_ID].dropna().unique()})
    slow, skipped_slow = J.stage_entries({"transactions": tx, "customers": ids}, stages)
    assert skipped == skipped_slow
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)


def test_orders_of_lets_go_of_a_collected_frame():
    import gc

    lines = _messy_lines(np.random.default_rng(9), 1)
    cohorts.orders_of(lines)
    assert len(cohorts.ORDERS_CACHE) == 1
    del lines
    gc.collect()
    assert len(cohorts.ORDERS_CACHE) == 0


def test_orders_cache_counts_hits_and_can_be_cleared_or_bypassed():
    lines = _messy_lines(np.random.default_rng(4), 1)
    cache = cohorts.OrdersCache()
    first = cohorts.orders_of(lines, cache=cache)
    assert cohorts.orders_of(lines, cache=cache) is first
    assert cache.info() == {"hits": 1, "misses": 1, "entries": 1}
    assert cohorts.orders_of(lines, pd.Timestamp("2024-01-05"), cache=cache) is not first  # another key
    cache.clear()
    assert cache.info() == {"hits": 0, "misses": 0, "entries": 0}
    assert cohorts.orders_of(lines, cache=None) is not cohorts.orders_of(lines, cache=None)
    pd.testing.assert_frame_equal(cohorts.orders_of(lines, cache=None), first)


def test_describe_entry_names_events_and_facts_in_words():
    from lclib.config import Stage
    from lclib.analysis.journey import describe_entry

    stage = Stage(name="acquisition", events=["signup", "add_to_cart"], facts=["signup"], kpi="lead_rate")
    assert describe_entry(stage) == "signup or add to cart event; or sign-up date (customers table)"
    loyal = Stage(name="advocacy", facts=["referral", "nps_promoter"], kpi="referral_rate")
    assert describe_entry(loyal) == "first referral made; or NPS answer of 9 or 10"


def test_orders_cache_keeps_the_whole_table_when_a_cut_at_an_earlier_date_is_asked_for():
    """A report's one-off cut (states a quarter ago) is built for its caller and not kept in place of the
    whole-data table the rest of the report reads."""
    lines = _messy_lines(np.random.default_rng(4), 1)
    cache = cohorts.OrdersCache()
    whole = cohorts.orders_of(lines, cache=cache)
    early = pd.Timestamp("2024-01-05")
    cut = cohorts.orders_of(lines, early, cache=cache)
    pd.testing.assert_frame_equal(cut, cohorts.orders_table(lines, early))
    assert len(cut) < len(whole)
    assert cohorts.orders_of(lines, cache=cache) is whole  # still kept: a hit, not rebuilt
    assert cohorts.orders_of(lines, early, cache=cache) is not cut  # the cut was not kept
    other = lines.iloc[:-3].copy()  # another frame: its table replaces the entry whatever its size
    assert cohorts.orders_of(other, cache=cache) is cohorts.orders_of(other, cache=cache)
