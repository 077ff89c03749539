"""Tests for lclib.plots.churn: every figure returns its Axes, titled and labelled, and checks its input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lclib.analysis import churn as ch  # noqa: E402
from lclib.analysis import churn_model as cm  # noqa: E402
from lclib.analysis import cohorts  # noqa: E402
from lclib.engine.cohort_cells import cohort_cells  # noqa: E402
from lclib.plots import churn as plots  # noqa: E402

from test_churn import STAGES  # noqa: E402
from test_cohorts import AS_OF, HAND, make_tx, random_transactions  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    return random_transactions(4, n_customers=200)


def _labelled(ax, title: str | None = None) -> None:
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
    if title is not None:
        assert ax.get_title() == title


@pytest.fixture
def reached() -> pd.DataFrame:
    return pd.DataFrame({"reach": [True] * 10, "signup": [True] * 6 + [False] * 4,
                         "buy": [True] * 3 + [False] * 7, "again": [True] * 2 + [False] * 8,
                         "grp": list("aaaaabbbbb"), "revenue": [90.0, 90, 30] + [0.0] * 7,
                         "customer": [True] * 3 + [False] * 7})


def test_stage_conversion_draws_one_errorbar_per_group_and_the_targets(reached):
    drop = ch.stage_dropoff(reached, STAGES, by="grp")
    ax = plots.plot_stage_conversion(drop, title="By group")
    _labelled(ax, "By group")
    assert "95 % interval" in ax.get_xlabel()
    assert sorted(t.get_text() for t in ax.get_legend().get_texts()) == ["a", "b", "target"]
    with pytest.raises(ValueError, match="target"):
        plots.plot_stage_conversion(drop.drop(columns="target"))
    with pytest.raises(ValueError, match="empty"):
        plots.plot_stage_conversion(drop.iloc[:0])


def test_improvement_bars_and_basis_in_the_title(reached):
    imp = ch.stage_improvement(reached, STAGES, value="revenue", customer="customer")
    ax = plots.plot_improvement(imp, "GBP")
    _labelled(ax, "What lifting each stage to its target would be worth")
    assert "GBP" in ax.get_xlabel() and len(ax.patches) == len(imp)
    ax = plots.plot_improvement(imp, basis="a 10% better conversion")
    assert "10% better" in ax.get_title()
    with pytest.raises(ValueError, match="extra_revenue"):
        plots.plot_improvement(imp.drop(columns="extra_revenue"))


def test_retention_heatmap_and_curves(tx):
    cells = cohort_cells(tx, "2024-03-17")
    tri = cohorts.retention_triangle(cells)
    ax = plots.plot_retention_heatmap(tri)
    _labelled(ax)
    assert ax.get_ylabel() == "Cohort (month of first purchase)"
    ax = plots.plot_retention_curves(tri, cohorts.retention_curve(cells))
    _labelled(ax, "Retention curves by cohort")
    rev = cohorts.retention_triangle(cells, "revenue")
    ax = plots.plot_retention_curves(rev, cohorts.retention_curve(cells, "revenue"), value_label="revenue")
    assert ax.get_ylabel() == "Revenue vs month 0 (%)"
    with pytest.raises(ValueError, match="triangle"):
        plots.plot_retention_heatmap(tri.iloc[:0])
    with pytest.raises(ValueError, match="share"):
        plots.plot_retention_curves(tri, pd.DataFrame({"x": [1]}))


def test_repeat_curve_and_gap_distribution(tx):
    curve = cohorts.repeat_purchase_curve(tx, 40, "2024-06-01")
    ax = plots.plot_repeat_curve(curve, 40, min_eligible=1)
    _labelled(ax)
    assert ax.get_ylabel() == "P(another order within 40 days) (%)"
    with pytest.raises(ValueError, match="eligible"):
        plots.plot_repeat_curve(curve, 40, min_eligible=10**6)
    gaps = ch.inter_purchase_gaps(tx)
    ax = plots.plot_gap_distribution(gaps, 40)
    _labelled(ax, "How long customers take to come back")
    assert ax.get_legend().get_texts()[0].get_text() == "inactivity window: 40 days"
    with pytest.raises(ValueError, match="gaps"):
        plots.plot_gap_distribution(gaps.iloc[:0], 40)


def test_churn_rate_plot(tx):
    rates = ch.churn_rate_by_period(tx, 40, "2024-06-01")
    ax = plots.plot_churn_rate(rates)
    _labelled(ax, "Churn rate per period")
    assert len(ax.lines[0].get_xdata()) == len(rates)
    with pytest.raises(ValueError, match="churn_rate"):
        plots.plot_churn_rate(rates.drop(columns="churn_rate"))


def test_model_plots_on_a_scored_frame():
    rng = np.random.default_rng(0)
    y = rng.random(400) < 0.4
    p = np.clip(0.4 + 0.3 * (y - 0.4) + rng.normal(0, 0.15, 400), 0.01, 0.99)
    test = pd.DataFrame({"churned": y, "p_model": p, "recency_days": rng.exponential(50, 400)})
    ax = plots.plot_roc(test, {"model": "p_model", "recency": "recency_days"})
    _labelled(ax)
    assert ax.get_legend().get_texts()[0].get_text().startswith("model (AUC 0.")
    with pytest.raises(ValueError, match="missing_score"):
        plots.plot_roc(test, {"x": "missing_score"})
    ax = plots.plot_calibration(cm.calibration_table(y, p))
    _labelled(ax, "Calibration: do predicted probabilities come true?")
    with pytest.raises(ValueError, match="observed"):
        plots.plot_calibration(pd.DataFrame({"predicted": [0.1]}))
    imp = pd.DataFrame({"mean": [0.05, 0.01], "std": [0.01, 0.005]}, index=["recency_days", "frequency"])
    ax = plots.plot_importance(imp)
    _labelled(ax)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["recency days", "frequency"]
    with pytest.raises(ValueError, match="std"):
        plots.plot_importance(imp.drop(columns="std"))


def test_survival_and_what_if():
    life = ch.churn_lifetimes(make_tx(HAND), 30, AS_OF)
    km = ch.kaplan_meier(life, min_customers=1)
    ax = plots.plot_survival(km, title="KM", min_at_risk=0)
    _labelled(ax, "KM")
    assert ax.get_xlabel().startswith("Days since first purchase")  # then how to read the at-risk table
    with pytest.raises(ValueError, match="survival"):
        plots.plot_survival(km.drop(columns="survival"))
    months = pd.period_range("2024-01", periods=12, freq="M")
    rates = pd.DataFrame({"active_start": 100, "churned": 10, "base_revenue": 1000.0}, index=months)
    w = ch.churn_what_if(rates, active=50, reduction=0.05, horizon_months=12, margin=0.3)
    ax = plots.plot_what_if(w.curve, 0.05, "EUR", 12)
    _labelled(ax, "What less churn is worth on the current customer base")
    assert ax.get_ylabel() == "Gain over 12 months (EUR, discounted)"
    with pytest.raises(ValueError, match="extra_margin"):
        plots.plot_what_if(w.curve.drop(columns="extra_margin"), 0.05)


def test_long_curves_are_thinned_before_drawing():
    rng = np.random.default_rng(0)
    n = 20_000
    test = pd.DataFrame({"churned": rng.random(n) < 0.4, "score": rng.random(n)})
    ax = plots.plot_roc(test, {"random": "score"})
    assert len(ax.lines[0].get_xdata()) <= plots.MAX_CURVE_POINTS
    life = pd.DataFrame({"lifetime_days": rng.exponential(100, n), "churned": rng.random(n) < 0.7})
    km = ch.kaplan_meier(life)
    assert len(km) > plots.MAX_CURVE_POINTS
    ax = plots.plot_survival(km, min_at_risk=0)
    x = ax.lines[0].get_xdata()
    assert len(x) <= plots.MAX_CURVE_POINTS + 1 and x[-1] == km["days"].iloc[-1]  # the end of the curve is kept
    ax = plots.plot_survival(km)  # by default a curve stops where fewer than 10 customers are followed
    last_followed = km.loc[km["at_risk"] >= 10, "days"].iloc[-1]
    assert ax.lines[0].get_xdata()[-1] == last_followed < km["days"].iloc[-1]
    assert "fewer than 10 customers" in ax.get_xlabel()


def test_retention_curves_say_too_few_months_instead_of_drawing_one_dot(tx):
    cells = cohort_cells(tx, "2024-03-17")
    tri = cohorts.retention_triangle(cells)
    curve = cohorts.retention_curve(cells)
    one_month = curve.loc[curve.index <= 1]  # month 0 and month 1: a single point after the first purchase
    ax = plots.plot_retention_curves(tri, one_month)
    _labelled(ax, "Retention curves by cohort")
    assert not ax.lines and "Too few months" in ax.texts[0].get_text()
    plt.close("all")


def test_churn_rate_dates_one_labelled_tick_per_month_when_few_months(tx):
    rates = ch.churn_rate_by_period(tx, 40, "2024-06-01")
    few = rates.tail(2)
    ax = plots.plot_churn_rate(few)
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [p.strftime("%b %Y") for p in few.index.to_timestamp()]
    plt.close("all")


def test_retention_curves_say_so_when_no_cohort_is_left_to_pool(tx):
    """A thin cut whose only cohorts are the data's first weeks (left out of the pooled curve): the chart says
    there is nothing to pool instead of failing the report."""
    cells = cohort_cells(tx, "2024-03-17")
    tri = cohorts.retention_triangle(cells)
    curve = cohorts.retention_curve(cells, exclude=list(cells["cohort"].unique()))
    assert curve.empty
    ax = plots.plot_retention_curves(tri, curve)
    _labelled(ax, "Retention curves by cohort")
    assert not ax.lines and ax.texts[0].get_text() == "No cohort to pool into a curve yet"
    plt.close("all")
