"""Experiments report: outcomes after assignment, lifts, tests, SRM, power, verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from scipy import stats  # noqa: E402
from statsmodels.stats.multitest import multipletests  # noqa: E402
from statsmodels.stats.power import NormalIndPower  # noqa: E402
from statsmodels.stats.proportion import (  # noqa: E402
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

from lclib.analysis import experiments as E  # noqa: E402
from lclib.config import load_config  # noqa: E402
from lclib.io.dataset import load_dataset  # noqa: E402
from lclib.plots import experiments as P  # noqa: E402
from lclib.analysis.rfm import assign_segments, rfm_scores  # noqa: E402
from lclib.engine.rfm_table import rfm_table

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def sample():
    cfg = load_config(ROOT / "lclib.yaml")
    data = load_dataset(cfg)
    truth = json.loads((ROOT / "data/sample/ground_truth.json").read_text())["experiment"]
    out = E.experiment_outcomes(data.experiments, data.transactions, cfg.experiments.outcome_window_days,
                                cfg.analysis.as_of)
    return cfg, data, truth, out


def _outcomes(groups: dict[str, tuple[int, int]], rng=None, experiment="exp") -> pd.DataFrame:
    """Outcome rows with exact counts: {variant: (customers, converters)}; revenue drawn per row."""
    rng = rng or np.random.default_rng(1)
    parts = []
    for v, (n, k) in groups.items():
        conv = np.r_[np.ones(k, bool), np.zeros(n - k, bool)]
        parts.append(pd.DataFrame({
            E.EXPERIMENT: experiment, E.CUSTOMER_ID: [f"{v}{i}" for i in range(n)], E.VARIANT: v,
            E.ASSIGNED_AT: pd.Timestamp("2025-01-01"), "window_end": pd.Timestamp("2025-03-02"),
            "complete": True, "orders": conv.astype(int), "converted": conv, "repeat_purchase": conv,
            "revenue": np.where(conv, rng.gamma(2.0, 20.0, n), 0.0)}))
    return pd.concat(parts, ignore_index=True)


# ----------------------------------------------------------------------------- the sample's truth


def test_sample_primary_outcome_matches_truth_definition(sample):
    _, _, truth, out = sample
    s = E.variant_summary(out, metrics=["converted"]).set_index("variant")
    assert s.loc["control", "n"] == truth["n_control"]
    assert s.loc["treatment", "n"] == truth["n_treatment"]
    assert s.loc["control", "value"] == pytest.approx(truth["control_rate"], abs=1e-6)
    assert s.loc["treatment", "value"] == pytest.approx(truth["treatment_rate"], abs=1e-6)


def test_sample_interval_covers_true_ate_and_verdict_is_ship(sample):
    cfg, _, truth, out = sample
    x = cfg.experiments
    comp = E.compare_variants(out, alpha=x.alpha)
    row = comp.loc[comp["metric"] == "converted"].iloc[0]
    assert row["variant"] == "treatment" and row["control"] == "control"
    assert row["abs_low"] <= truth["true_ate"] <= row["abs_high"]
    assert row["significant"]
    power = E.power_analysis(out, x.alpha, x.power, x.target_relative_lift)
    v = E.verdicts(comp, power, E.srm_check(out), E.describe_experiments(out), x.target_relative_lift)
    assert v.loc[truth["name"], "verdict"] == "ship"
    assert v.loc[truth["name"], "variant"] == "treatment"


def test_aa_split_of_sample_control_group_finds_no_effect(sample):
    _, _, _, out = sample
    ctrl = out.loc[out["variant"] == "control"].copy()
    rng = np.random.default_rng(7)
    ctrl["variant"] = np.where(rng.permutation(len(ctrl)) < len(ctrl) // 2, "control", "b")
    comp = E.compare_variants(ctrl)
    assert not comp["significant"].any()
    assert (comp["abs_low"] < 0).all() and (comp["abs_high"] > 0).all()


def test_aa_shuffled_labels_are_significant_at_about_alpha(sample):
    """Over many label shuffles of the sample the false-positive rate is near alpha, not above."""
    _, _, _, out = sample
    rng = np.random.default_rng(11)
    hits = 0
    runs = 100
    base = out[["experiment", "variant", "complete", "converted"]]
    labels = base["variant"].to_numpy()
    for _ in range(runs):
        aa = base.assign(variant=rng.permutation(labels))
        hits += bool(E.compare_variants(aa, metrics=["converted"])["significant"].iloc[0])
    # binomial(100, 0.05): mean 5, P(X > 11) < 0.5 %
    assert hits <= 11


# ----------------------------------------------------------------------------- equal to the libraries


def test_proportion_numbers_equal_statsmodels_on_same_counts():
    out = _outcomes({"control": (400, 60), "treatment": (410, 85)})
    r = E.compare_variants(out, metrics=["converted"]).iloc[0]
    assert r["value"] == 85 / 410 and r["control_value"] == 60 / 400
    assert r["p_value"] == pytest.approx(proportions_ztest([85, 60], [410, 400])[1], rel=1e-12)
    lo, hi = confint_proportions_2indep(85, 410, 60, 400, method="newcomb", compare="diff")
    assert (r["abs_low"], r["abs_high"]) == pytest.approx((lo, hi), rel=1e-12)
    lo, hi = confint_proportions_2indep(85, 410, 60, 400, method="log-adjusted", compare="ratio")
    assert (r["rel_low"], r["rel_high"]) == pytest.approx((lo - 1, hi - 1), rel=1e-12)
    assert r["rel_lift"] == pytest.approx((85 / 410) / (60 / 400) - 1)


def test_revenue_numbers_equal_scipy_welch_on_same_values():
    out = _outcomes({"control": (300, 90), "treatment": (250, 100)})
    r = E.compare_variants(out, metrics=["revenue"]).iloc[0]
    xt = out.loc[out.variant == "treatment", "revenue"].to_numpy()
    xc = out.loc[out.variant == "control", "revenue"].to_numpy()
    res = stats.ttest_ind(xt, xc, equal_var=False)
    ci = res.confidence_interval(0.95)
    assert r["p_value"] == pytest.approx(res.pvalue, rel=1e-12)
    assert (r["abs_low"], r["abs_high"]) == pytest.approx((ci.low, ci.high), rel=1e-12)
    assert r["abs_lift"] == pytest.approx(xt.mean() - xc.mean())
    assert r["rel_low"] < xt.mean() / xc.mean() - 1 < r["rel_high"]


def test_holm_with_three_variants_equals_multipletests():
    out = _outcomes({"control": (500, 50), "b": (500, 70), "c": (500, 80), "d": (500, 52)})
    comp = E.compare_variants(out, metrics=["converted"]).set_index("variant")
    p = [proportions_ztest([k, 50], [500, 500])[1] for k in (70, 80, 52)]
    reject, adj, _, _ = multipletests(p, alpha=0.05, method="holm")
    assert comp.loc[["b", "c", "d"], "p_value"].to_numpy() == pytest.approx(p, rel=1e-12)
    assert comp.loc[["b", "c", "d"], "p_adjusted"].to_numpy() == pytest.approx(adj, rel=1e-12)
    assert list(comp.loc[["b", "c", "d"], "significant"]) == list(reject)
    assert (comp["p_adjusted"] >= comp["p_value"]).all()


def test_variant_summary_intervals_equal_statsmodels():
    from statsmodels.stats.proportion import proportion_confint

    out = _outcomes({"control": (200, 30), "treatment": (200, 45)})
    s = E.variant_summary(out).set_index(["metric", "variant"])
    lo, hi = proportion_confint(45, 200, method="wilson")
    assert (s.loc[("converted", "treatment"), "low"], s.loc[("converted", "treatment"), "high"]) == \
        pytest.approx((lo, hi), rel=1e-9)
    x = out.loc[out.variant == "control", "revenue"].to_numpy()
    lo, hi = stats.t.interval(0.95, len(x) - 1, loc=x.mean(), scale=stats.sem(x))
    assert (s.loc[("revenue", "control"), "low"], s.loc[("revenue", "control"), "high"]) == \
        pytest.approx((lo, hi), rel=1e-9)
    assert s.index[0] == ("converted", "control")  # control listed first


# ----------------------------------------------------------------------------- SRM, power


def test_srm_detects_60_40_split_of_intended_50_50():
    bad = _outcomes({"control": (600, 0), "treatment": (400, 0)})
    s = E.srm_check(bad)
    assert s["mismatch"].all()
    assert s["p_value"].iloc[0] == pytest.approx(stats.chisquare([600, 400]).pvalue)
    ok = E.srm_check(_outcomes({"control": (505, 0), "treatment": (495, 0)}))
    assert not ok["mismatch"].any()
    # the same 60/40 is fine when it was the intended split
    planned = E.srm_check(bad, expected_shares={"exp": {"control": 0.6, "treatment": 0.4}})
    assert not planned["mismatch"].any() and planned["p_value"].iloc[0] == pytest.approx(1.0)


def test_srm_mismatch_makes_the_verdict_stop():
    out = _outcomes({"control": (600, 60), "treatment": (400, 80)})
    comp = E.compare_variants(out)
    v = E.verdicts(comp, E.power_analysis(out), E.srm_check(out), E.describe_experiments(out))
    assert v.loc["exp", "verdict"] == "stop" and "mismatch" in v.loc["exp", "reason"]


def test_power_analysis_matches_normalindpower():
    out = _outcomes({"control": (1000, 200), "treatment": (1000, 210)})
    pw = E.power_analysis(out, alpha=0.05, power=0.8, target_relative_lift=0.10).iloc[0]
    h = proportion_effectsize(0.22, 0.20)
    assert pw["target_rate"] == pytest.approx(0.22)
    assert pw["needed_per_group"] == np.ceil(NormalIndPower().solve_power(h, alpha=0.05, power=0.8, ratio=1))
    # the minimum detectable effect is detected with exactly the requested power at n = 1000
    h_mde = proportion_effectsize(0.20 + pw["mde_abs"], 0.20)
    assert NormalIndPower().power(h_mde, nobs1=1000, alpha=0.05, ratio=1.0) == pytest.approx(0.8, abs=1e-4)
    assert not pw["reached"] and pw["still_needed"] == 2 * (pw["needed_per_group"] - 1000)


# ----------------------------------------------------------------------------- the outcome join


def _tx(rows):
    return pd.DataFrame(rows, columns=["customer_id", "order_id", "timestamp", "amount"]).assign(
        timestamp=lambda d: pd.to_datetime(d["timestamp"]))


def test_outcome_join_counts_only_purchases_inside_the_window():
    exp = pd.DataFrame({"customer_id": ["A", "B", "C", "D"], "experiment": "e",
                        "variant": ["control", "treatment", "control", "treatment"],
                        "assigned_at": pd.to_datetime(["2025-01-10 09:00"] * 4)})
    tx = _tx([
        ("A", "o1", "2025-01-10 08:59", 10.0),   # before assignment: does not count
        ("B", "o2", "2025-01-10 09:00", 20.0),   # at assignment: counts (first order -> not a repeat)
        ("B", "o3", "2025-01-20 00:00", 5.0),    # inside: counts, 2nd order -> repeat
        ("C", "o4", "2025-01-01 00:00", 7.0),    # before
        ("C", "o5", "2025-01-20 09:00", 8.0),    # exactly at window end (10 days): does not count
        ("D", "o6", "2025-01-20 08:59", 3.0),    # last second inside: counts, but first order
        ("D", "o7", "2025-03-01 00:00", 1.0),    # after the window
    ])
    out = E.experiment_outcomes(exp, tx, window_days=10, as_of="2025-04-01").set_index("customer_id")
    assert out["orders"].to_dict() == {"A": 0, "B": 2, "C": 0, "D": 1}
    assert out["converted"].to_dict() == {"A": False, "B": True, "C": False, "D": True}
    assert out["repeat_purchase"].to_dict() == {"A": False, "B": True, "C": False, "D": False}
    assert out["revenue"].to_dict() == {"A": 0.0, "B": 25.0, "C": 0.0, "D": 3.0}
    assert out["complete"].all()


def test_incomplete_windows_are_counted_and_left_out_of_tests():
    exp = pd.DataFrame({"customer_id": ["A", "B", "C"], "experiment": "e", "variant": ["a", "b", "b"],
                        "assigned_at": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-03-25"])})
    tx = _tx([("C", "o1", "2025-03-26", 9.0), ("C", "o2", "2025-04-05", 9.0)])
    out = E.experiment_outcomes(exp, tx, window_days=30, as_of="2025-04-01").set_index("customer_id")
    assert out.loc["C", "orders"] == 1  # the order after as_of is not seen
    assert not out.loc["C", "complete"] and out.loc["A", "complete"]
    ov = E.describe_experiments(out.reset_index())
    assert ov.loc["e", ["assigned", "complete", "incomplete"]].tolist() == [3, 2, 1]
    assert ov.loc["e", "status"] == "partly complete" and ov.loc["e", "control"] == "a"
    s = E.variant_summary(out.reset_index(), metrics=["converted"]).set_index("variant")
    assert s.loc["b", "n"] == 1


def test_running_experiment_is_kept_running():
    out = _outcomes({"control": (100, 10), "treatment": (100, 30)}).assign(complete=False)
    comp = E.compare_variants(out)
    assert comp.empty
    v = E.verdicts(comp, E.power_analysis(out), E.srm_check(out), E.describe_experiments(out))
    assert v.loc["exp", "verdict"] == "keep running" and "window" in v.loc["exp", "reason"]


# ----------------------------------------------------------------------------- rules


@pytest.mark.parametrize("variants, control", [
    (["treatment", "Control"], "Control"), (["B", "a"], "a"), (["v2", "baseline", "ctrl"], "ctrl"),
    (["offer_20", "offer_10"], "offer_10"),
])
def test_control_is_named_control_else_first_alphabetically(variants, control):
    assert E.choose_control(variants) == control


def _verdict(groups, target=0.10):
    out = _outcomes(groups)
    comp = E.compare_variants(out)
    return E.verdicts(comp, E.power_analysis(out, target_relative_lift=target), E.srm_check(out),
                      E.describe_experiments(out), target).loc["exp"]


def test_verdict_stop_when_the_variant_is_significantly_worse():
    assert _verdict({"control": (1000, 300), "treatment": (1000, 200)})["verdict"] == "stop"


def test_verdict_keep_running_when_small_and_not_significant():
    v = _verdict({"control": (200, 40), "treatment": (200, 44)})
    assert v["verdict"] == "keep running" and "more customers" in v["reason"]


def test_verdict_stop_for_futility_when_target_ruled_out_at_planned_size():
    # 40 % vs 40 %, 5,000 per arm: needed for +10 % is ~2,400 per arm; the interval excludes +10 %
    assert _verdict({"control": (5000, 2000), "treatment": (5000, 2000)})["verdict"] == "stop"


def test_verdict_stop_when_conversion_up_but_revenue_down():
    out = _outcomes({"control": (2000, 400), "treatment": (2000, 500)})
    out.loc[out.variant == "treatment", "revenue"] *= 0.3  # heavy discount
    comp = E.compare_variants(out)
    v = E.verdicts(comp, E.power_analysis(out), E.srm_check(out), E.describe_experiments(out)).loc["exp"]
    assert v["verdict"] == "stop" and "revenue" in v["reason"]


# ----------------------------------------------------------------------------- segments


def test_segments_at_assignment_use_history_before_the_start(sample):
    _, data, _, out = sample
    seg = E.segments_at_assignment(data.experiments, data.transactions)
    start = data.experiments["assigned_at"].min()
    expect = assign_segments(rfm_scores(rfm_table(data.transactions, as_of=start)))["segment"]
    got = seg.set_index("customer_id")["segment"].astype(str)
    assert (got == expect.reindex(got.index).astype(str)).all()
    # a customer with no order before the start
    exp = pd.DataFrame({"customer_id": ["X", "Y"], "experiment": "e", "variant": ["a", "b"],
                        "assigned_at": pd.to_datetime(["2025-02-01"] * 2)})
    tx = _tx([("X", "o1", "2025-01-05", 5.0), ("Y", "o2", "2025-02-03", 5.0)])
    s = E.segments_at_assignment(exp, tx).set_index("customer_id")["segment"]
    assert s["Y"] == E.NO_HISTORY and s["X"] != E.NO_HISTORY


def test_segment_breakdown_flags_small_groups(sample):
    _, data, _, out = sample
    seg = E.segments_at_assignment(data.experiments, data.transactions)
    comp = E.compare_variants(out.merge(seg, on=["experiment", "customer_id"]), metrics=["converted"],
                              by=["segment"])
    assert comp["n"].sum() + comp["control_n"].sum() == len(out)
    assert (comp["small"] == (comp[["n", "control_n"]].min(axis=1) < E.MIN_GROUP_SIZE)).all()


# ----------------------------------------------------------------------------- plots


def test_plots_label_axes_and_reject_bad_input():
    out = _outcomes({"control": (300, 60), "b": (300, 80), "c": (300, 70)})
    comp = E.compare_variants(out)
    ax = P.plot_lift(comp, metric="converted")
    assert ax.get_title() and "%" in ax.get_xlabel()
    ax = P.plot_variant_rates(E.variant_summary(out), metric="converted")
    assert ax.get_title() and "%" in ax.get_ylabel()
    plt.close("all")
    with pytest.raises(ValueError):
        P.plot_lift(comp.drop(columns="abs_low"), metric="converted")
    with pytest.raises(ValueError):
        P.plot_lift(comp, metric="nope")
    with pytest.raises(ValueError):
        P.plot_variant_rates(comp.iloc[0:0], metric="converted")


def test_sample_size_curve_matches_power_analysis_and_falls_with_lift():
    out = _outcomes({"control": (1000, 200), "treatment": (1000, 210)})
    curve = E.sample_size_curve(0.2, [0.05, 0.10, 0.20])
    pw = E.power_analysis(out, target_relative_lift=0.10).iloc[0]
    assert curve.loc[1, "needed_per_group"] == pw["needed_per_group"]
    assert curve["needed_per_group"].is_monotonic_decreasing
    ax = P.plot_sample_size(curve, current_per_group=1000, target_relative_lift=0.10)
    assert "log" in ax.get_ylabel() and "%" in ax.get_xlabel()
    plt.close("all")
    with pytest.raises(ValueError):
        E.sample_size_curve(0.0)


def test_sample_analysed_before_windows_end_is_kept_running(sample):
    cfg, data, truth, _ = sample
    as_of = pd.Timestamp(truth["assigned_at"]) + pd.Timedelta(days=30)
    r = E.analyse(data.experiments, data.transactions, truth["window_days"], as_of)
    ov = r["overview"].loc[truth["name"]]
    assert ov["incomplete"] == truth["n_assigned"] and ov["status"] == "running"
    assert r["comparisons"].empty
    assert r["verdicts"].loc[truth["name"], "verdict"] == "keep running"
    # outcomes so far only use orders before as_of
    tx = data.transactions
    seen = tx.loc[(tx.timestamp >= pd.Timestamp(truth["assigned_at"])) & (tx.timestamp < as_of)
                  & tx.customer_id.isin(data.experiments.customer_id), "customer_id"].nunique()
    assert r["outcomes"]["converted"].sum() == seen


def test_two_experiments_get_their_own_control_snapshot_and_tests():
    a = _outcomes({"control": (300, 30), "treatment": (300, 60)}, experiment="onboarding")
    b = _outcomes({"A": (300, 90), "B": (300, 60), "C": (300, 95)}, experiment="loyalty")
    out = pd.concat([a, b], ignore_index=True)
    ov = E.describe_experiments(out)
    assert ov.loc["onboarding", "control"] == "control" and ov.loc["loyalty", "control"] == "A"
    assert ov.loc["loyalty", "variants"] == "A, B, C"
    comp = E.compare_variants(out, metrics=["converted"])
    assert set(zip(comp.experiment, comp.variant)) == {("onboarding", "treatment"), ("loyalty", "B"),
                                                       ("loyalty", "C")}
    v = E.verdicts(comp, E.power_analysis(out), E.srm_check(out), ov)
    assert v.loc["onboarding", "verdict"] == "ship"
    assert v.loc["loyalty", "verdict"] == "keep running"  # B worse, C not different: not all worse


def test_single_variant_experiment_has_nothing_to_compare():
    out = _outcomes({"control": (100, 10)})
    comp = E.compare_variants(out)
    v = E.verdicts(comp, E.power_analysis(out), E.srm_check(out), E.describe_experiments(out)).loc["exp"]
    assert comp.empty and v["verdict"] == "keep running" and "one variant" in v["reason"]


def test_customer_assigned_twice_keeps_first_variant_and_is_counted():
    exp = pd.DataFrame({"customer_id": ["A", "A", "B", "B"], "experiment": "e",
                        "variant": ["treatment", "control", "control", "control"],
                        "assigned_at": pd.to_datetime(["2025-01-02", "2025-01-01", "2025-01-01", "2025-01-05"])})
    tx = _tx([("A", "o1", "2025-01-01 12:00", 4.0), ("B", "o2", "2025-01-03 00:00", 6.0)])
    out = E.experiment_outcomes(exp, tx, window_days=10, as_of="2025-03-01").set_index("customer_id")
    assert len(out) == 2
    assert out.loc["A", "variant"] == "control" and out.loc["A", "switched"]  # earliest assignment kept
    assert out.loc["B", "assigned_at"] == pd.Timestamp("2025-01-01") and not out.loc["B", "switched"]
    assert out.loc["A", "orders"] == 1 and out.loc["B", "revenue"] == 6.0
    assert E.describe_experiments(out.reset_index()).loc["e", "switched"] == 1


def test_lift_plot_by_group_has_a_legend_for_its_colours(sample):
    _, data, _, out = sample
    seg = E.segments_at_assignment(data.experiments, data.transactions)
    comp = E.compare_variants(out.merge(seg, on=["experiment", "customer_id"]), metrics=["converted"],
                              by=["segment"])
    ax = P.plot_lift(comp.loc[comp["abs_lift"].notna()], "converted", by="segment")
    texts = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "too small to read" in texts and any(t.startswith("significantly") or t == "not significant"
                                                 for t in texts)
    plt.close("all")


def test_assignments_after_the_analysis_date_are_left_out_and_counted():
    """A test that starts after the analysis date has not happened yet: no outcomes, no split check."""
    tx = pd.DataFrame({"customer_id": ["a", "b", "c"], "order_id": ["o1", "o2", "o3"],
                       "timestamp": pd.to_datetime(["2024-01-10", "2024-02-10", "2024-03-10"]),
                       "amount": [10.0, 20.0, 30.0]})
    exp = pd.DataFrame({"customer_id": ["a", "b", "c"], "experiment": ["e1", "e1", "e2"],
                        "variant": ["control", "treatment", "control"],
                        "assigned_at": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-03-01"])})
    out = E.experiment_outcomes(exp, tx, 30, as_of="2024-03-01")  # e2's assignment is on the analysis date
    assert out["customer_id"].tolist() == ["a", "b"] and out.attrs["assigned_after_as_of"] == 1
    assert out["orders"].tolist() == [1, 0]  # b's order of 10 Feb is after its window
    none = E.experiment_outcomes(exp, tx, 30, as_of="2023-12-31")
    assert len(none) == 0 and none.attrs["assigned_after_as_of"] == 3


def test_answers_say_no_experiment_had_started():
    from lclib.analysis.wording import experiments_answers

    text = experiments_answers(experiments=0, not_started="data to 05 Apr 2024")
    assert text.startswith("- No experiment had started by the analysis date (data to 05 Apr 2024)")
    assert "no experiments table" not in text
    assert "no experiments table" in experiments_answers(experiments=0)
