"""Charts read at the size they are shown: few curves or small multiples with numbers at risk, no empty
score column, partial months marked, cell labels large enough, every axis labelled. Hand-made frames only."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lclib.plots import churn as pc  # noqa: E402
from lclib.plots import overview as po  # noqa: E402
from lclib.plots import rfm as pr  # noqa: E402
from lclib.plots import stages as ps  # noqa: E402
from lclib.plots.base import PARTIAL_ALPHA, PARTIAL_HATCH, partial_periods, words  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def km_frame(groups: int, days: int = 200, size: int = 100, returned: float = 0.4) -> pd.DataFrame:
    """Kaplan-Meier-like curves: a drop to ``returned`` at day 0, then a slow decline; at risk falls linearly."""
    parts = []
    t = np.arange(0, days + 1, 10, dtype=float)
    for k in range(groups):
        s = returned * np.exp(-t / (150 + 10 * k))
        at_risk = np.maximum(size - k - (t / max(days, 1)) * (size - 5), 1).round()
        parts.append(pd.DataFrame({"group": f"group_{k}", "days": t, "survival": s, "lower": s * 0.9,
                                   "upper": np.minimum(s * 1.1, 1), "at_risk": at_risk}))
    return pd.concat(parts, ignore_index=True)


def _fontsizes(ax) -> list[float]:
    return [t.get_fontsize() for t in ax.texts]


# ----------------------------------------------------------------------------- survival


def test_many_groups_become_small_multiples_with_numbers_at_risk():
    km = km_frame(7)
    ax = pc.plot_survival(km, title="Time to churn by channel")
    panels = [a for a in ax.figure.axes if a.axison]
    assert len(panels) == 7  # one panel per group, the 8th slot of the 2 x 4 grid switched off
    for panel in panels:
        coloured = [ln for ln in panel.lines if ln.get_color() == pc.MAIN and len(ln.get_xdata()) > 1]
        assert len(coloured) == 1  # one curve in colour per panel, the others grey
        labels = [t.get_text() for t in panel.get_xticklabels()]
        assert labels and all("\n(" in lab for lab in labels)  # day, then customers still followed
        assert panel.get_title() and panel.get_xlabel()
    first = panels[0]
    assert first.get_xticklabels()[0].get_text() == "0\n(100)"  # all 100 customers followed on day 0
    assert first.get_ylabel() == "Still active (%)"
    assert ax.figure._suptitle.get_text() == "Time to churn by channel"
    assert first.get_title() == "Group 0 (100)"  # snake_case group names in words


def test_survival_curves_start_after_the_day_0_drop():
    km = km_frame(2)
    ax = pc.plot_survival(km)  # two groups: one Axes
    curve = ax.lines[0]
    assert curve.get_xdata()[0] == 0 and curve.get_ydata()[0] == pytest.approx(0.4)  # no step down from 100 %
    assert ax.get_ylim()[1] <= 0.5  # the height goes to the curves, not to the drop at day 0
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "60% never came back" in legend[0]
    followed = [t.get_text() for t in ax.texts]
    assert "100" in followed and "Group 0" in followed  # the at-risk table under the axis
    assert "customers still followed" in ax.get_xlabel() and ax.get_ylabel().endswith("(%)")


def test_overlay_draws_at_most_max_curves():
    km = km_frame(5)
    ax = pc.plot_survival(km, panels=False, max_curves=3)
    steps = [ln for ln in ax.lines if len(ln.get_xdata()) > 1]
    assert len(steps) == 3
    assert "3 largest of 5" in ax.get_legend().get_title().get_text()


def test_panels_take_the_place_of_a_given_axes():
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4), layout="constrained")
    ax = pc.plot_survival(km_frame(4), ax=left)
    assert left not in fig.axes and right in fig.axes and ax.figure is not None
    fig.canvas.draw()


def test_survival_says_when_nothing_can_be_followed_past_day_0():
    km = km_frame(2, days=0)
    ax = pc.plot_survival(km)
    assert any("Too few customers" in t.get_text() for t in ax.texts)


# ----------------------------------------------------------------------------- R x F grid


def rf_heat(empty_f: int | None = 2) -> pd.DataFrame:
    levels = range(1, 6)
    counts = pd.DataFrame([[10 * r + f for f in levels] for r in levels], index=pd.Index(levels, name="r_score"),
                          columns=pd.Index(levels, name="f_score"))
    means = counts * 1.5
    if empty_f:
        counts[empty_f] = 0
        means[empty_f] = np.nan
    return pd.concat({"customers": counts, "mean_monetary_total": means.astype(float)}, axis=1)


def test_rf_grid_has_no_empty_frequency_column():
    heat = rf_heat(2)
    ax = pr.plot_rf_heatmap(heat)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "3", "4", "5"]
    assert ax.images[0].get_array().shape == (5, 4)
    assert "score 2 not shown: no customer has it" in ax.get_xlabel()
    assert all(t.get_text() not in ("-", "no customers") for t in ax.texts)
    assert min(_fontsizes(ax)) >= 8


def test_rf_grid_can_label_the_empty_column_instead():
    ax = pr.plot_rf_heatmap(rf_heat(2), empty="label")
    assert len(ax.get_xticklabels()) == 5
    assert sum(t.get_text() == "no customers" for t in ax.texts) == 5
    with pytest.raises(ValueError, match="empty"):
        pr.plot_rf_heatmap(rf_heat(2), empty="hide")


def test_rf_grid_without_empty_scores_is_unchanged():
    ax = pr.plot_rf_heatmap(rf_heat(None))
    assert len(ax.get_xticklabels()) == 5 and "not shown" not in ax.get_xlabel()


# ----------------------------------------------------------------------------- heatmap text sizes


def test_migration_heatmap_numbers_are_readable():
    names = ["Champions", "Loyal", "At Risk", "Lost"]
    migration = pd.DataFrame(np.arange(1, 21).reshape(5, 4), index=[*names, "(new)"], columns=names)
    ax = pr.plot_migration_matrix(migration)
    assert ax.texts and min(_fontsizes(ax)) >= 8
    assert ax.get_xlabel() and ax.get_ylabel().endswith("(customers)")


def test_cohort_heatmap_writes_values_and_fades_small_cohorts():
    months = pd.period_range("2024-01", periods=12, freq="M")
    values = np.full((12, 12), np.nan)
    for i in range(12):
        values[i, :12 - i] = [1.0] + [0.1] * (11 - i)
    tri = pd.DataFrame(values, index=months, columns=range(12))
    sizes = pd.Series([20] + [200] * 11, index=months)
    ax = pc.plot_retention_heatmap(tri, sizes=sizes, min_size=50)
    cells = [t for t in ax.texts if t.get_text().endswith("%")]
    assert len(cells) == np.isfinite(values[:, 1:]).sum()  # every observable cell from month 1 on
    assert min(t.get_fontsize() for t in cells) >= 6.5
    assert "faded rows" in ax.get_xlabel()
    assert ax.get_yticklabels()[0].get_text().endswith("small")


def test_cohort_heatmap_says_when_a_cohort_month_is_not_over():
    tri = pd.DataFrame([[1.0, 0.2], [np.nan, np.nan]], index=pd.period_range("2024-01", periods=2, freq="M"),
                       columns=[0, 1])
    ax = pc.plot_retention_heatmap(tri)
    assert any(t.get_text() == "first month not over yet" for t in ax.texts)


# ----------------------------------------------------------------------------- partial months


def monthly_frame() -> pd.DataFrame:
    months = pd.period_range("2024-01", periods=4, freq="M", name="month")
    return pd.DataFrame({"revenue": [100.0, 120.0, 130.0, 40.0], "customers": [10, 12, 13, 4]}, index=months)


def test_partial_last_month_is_hatched_and_noted():
    ax = po.plot_monthly(monthly_frame(), "revenue", "Revenue (EUR per month)", "Revenue", as_of="2024-04-10")
    bars = ax.patches
    assert [b.get_hatch() for b in bars] == [None, None, None, PARTIAL_HATCH]
    assert bars[-1].get_alpha() == PARTIAL_ALPHA and bars[0].get_alpha() is None
    assert any("to 9 Apr" in t.get_text() for t in ax.texts)
    assert ax.get_xlabel() == "Month" and "EUR" in ax.get_ylabel()


def test_complete_months_are_not_marked_and_later_months_are_dropped():
    ax = po.plot_monthly(monthly_frame(), "revenue", "Revenue (EUR per month)", "Revenue", as_of="2024-05-01")
    assert all(b.get_hatch() is None for b in ax.patches) and not ax.texts
    ax = po.plot_monthly(monthly_frame(), "revenue", "Revenue (EUR per month)", "Revenue", as_of="2024-03-01")
    assert len(ax.patches) == 2  # March and April start on or after the analysis date
    ax = po.plot_monthly(monthly_frame(), "revenue", "Revenue (EUR per month)", "Revenue")  # no as_of: as before
    assert len(ax.patches) == 4 and all(b.get_hatch() is None for b in ax.patches)


def test_the_analysis_date_can_ride_on_the_table():
    monthly = monthly_frame()
    monthly.attrs["as_of"] = pd.Timestamp("2024-04-10")
    ax = po.plot_monthly(monthly, "customers", "Customers buying (per month)", "Customers")
    assert ax.patches[-1].get_hatch() == PARTIAL_HATCH


def test_lifecycle_marks_a_partial_month_in_every_stacked_bar():
    months = pd.period_range("2024-01", periods=3, freq="M", name="month")
    counts = pd.DataFrame({s: [5, 6, 7] for s in (*ps.ABOVE, "lapsed", "newly_lapsed")}, index=months)
    ax = ps.plot_lifecycle(counts, as_of="2024-03-15")
    hatched = [p for p in ax.patches if p.get_hatch() == PARTIAL_HATCH]
    assert len(hatched) == len(ps.ABOVE) + 1  # the March bar of each state and the lapsed bar
    assert "not over yet" in ax.get_xlabel()
    assert ps.plot_lifecycle(counts).get_xlabel() == "Month"


def test_partial_periods_and_words():
    months = pd.period_range("2024-01", periods=3, freq="M")
    assert partial_periods(months, "2024-03-31").tolist() == [False, False, True]
    assert partial_periods(months, "2024-04-01").tolist() == [False, False, False]
    assert not partial_periods(months, None).any()
    assert words("paid_search") == "Paid search" and words("2024Q1") == "2024Q1" and words("all") == "All customers"
