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


# ----------------------------------------------------------------------------- read at the saved size
# The business HTML shows each figure at its saved size (9-11 inches at the notebook's dpi), so a text's
# size in points is what the reader sees. Checked under matplotlib's defaults and under the reports' style.

import re  # noqa: E402

import matplotlib as mpl  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from lclib.plots import clv as pv  # noqa: E402
from lclib.plots import journey as pj  # noqa: E402
from lclib.plots.base import READABLE_PT, spread  # noqa: E402

SEGMENTS = ["Champions", "Loyal Customers", "Potential Loyalists", "New Customers", "Promising", "Need Attention",
            "About to Sleep", "At Risk", "Can't Lose Them", "Hibernating", "Lost"]


@pytest.fixture(params=["matplotlib", "report"])
def style(request):
    """matplotlib's defaults, or the reports' style (lclib.report.notebook.setup_notebook: seaborn's
    notebook context, 11-12 pt text, 96 dpi)."""
    with mpl.rc_context():
        if request.param == "report":
            from lclib.report.notebook import setup_notebook

            setup_notebook()
        yield request.param


def test_the_report_style_is_seaborns_whitegrid_theme_without_importing_seaborn():
    import subprocess
    import sys

    import matplotlib.colors as mcolors
    import seaborn as sns

    from lclib.plots.base import REPORT_STYLE

    with mpl.rc_context():
        mpl.rcdefaults()
        before = dict(mpl.rcParams)
        sns.set_theme(style="whitegrid", context="notebook")
        seaborns = {k: v for k, v in mpl.rcParams.items() if v != before[k]}
    assert seaborns.pop("image.cmap") == "rocket"  # seaborn's own colour map: the reports name theirs
    with mpl.rc_context():
        mpl.rcdefaults()
        mpl.rcParams.update(REPORT_STYLE)
        ours = {k: v for k, v in mpl.rcParams.items() if v != before[k]}
    assert ours.keys() == seaborns.keys()
    for key in ours:
        if key == "axes.prop_cycle":
            assert [mcolors.to_rgb(c) for c in ours[key].by_key()["color"]] == \
                [mcolors.to_rgb(c) for c in seaborns[key].by_key()["color"]]
        else:
            assert ours[key] == seaborns[key], key
    # and a report kernel's setup does not import seaborn (nor scipy.stats through it)
    code = ("import sys; from lclib.report.notebook import setup_notebook; setup_notebook(); "
            "print('seaborn' in sys.modules, 'scipy.stats' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.split() == ["False", "False"]


def _drawn(fig):
    fig = getattr(fig, "figure", None) or fig  # the figure holding a subfigure
    fig.canvas.draw()
    return fig, fig.canvas.get_renderer()


def _shown_texts(fig) -> list[Text]:
    """Every visible, non-empty text of a drawn figure (titles, labels, tick labels in view, notes)."""
    out = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        axes = t.axes
        if (axes is not None and t in axes.get_xticklabels() + axes.get_yticklabels()
                and not t.get_window_extent().overlaps(axes.get_window_extent().expanded(1.5, 1.5))):
            continue  # a tick outside the view is not drawn
        out.append(t)
    return out


def _overlapping(texts, renderer) -> list[tuple[str, str]]:
    """Pairs of texts whose boxes overlap (the text alone: an annotation's leader line may pass by)."""
    boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for t in texts]
    return [(a, b) for i, (a, ba) in enumerate(boxes) for b, bb in boxes[i + 1:] if ba.overlaps(bb)]


def _inside(box, outer, slack: float = 1.0) -> bool:
    return (box.x0 >= outer.x0 - slack and box.x1 <= outer.x1 + slack and box.y0 >= outer.y0 - slack
            and box.y1 <= outer.y1 + slack)


def _tick_size(axis: str = "x") -> float:
    from matplotlib.font_manager import FontProperties

    return FontProperties(size=mpl.rcParams[f"{axis}tick.labelsize"]).get_size_in_points()


# ----------------------------------------------------------------------------- journey: step times


def stage_times(scale: float = 1.0) -> pd.DataFrame:
    """Four steps from a couple of days to months (as in the sample data), times ``scale``."""
    q = np.array([[0.5, 1.0, 2.6, 5.5, 9.0], [1.4, 3.0, 5.8, 9.9, 15.7], [4.6, 16.0, 47.1, 122.0, 243.7],
                  [4.3, 12.5, 25.5, 40.2, 60.6]]) * scale
    return pd.DataFrame({"step": [1, 2, 3, 4], "from_stage": ["reach", "acquisition", "conversion", "retention"],
                         "stage": ["acquisition", "conversion", "retention", "advocacy"],
                         "label": ["Acquisition", "Conversion", "Retention", "Loyalty / advocacy"],
                         "people": [2697, 1862, 840, 308], "p10_days": q[:, 0], "p25_days": q[:, 1],
                         "median_days": q[:, 2], "p75_days": q[:, 3], "p90_days": q[:, 4],
                         "mean_days": q[:, 2] * 1.2})


DAY_WORDS = re.compile(r"^\d+ (minute|hour|day|week|month|year)s?$")


@pytest.mark.parametrize("scale", [1.0, 0.02, 8.0])  # days to months; minutes to hours; weeks to years
def test_step_times_axis_reads_in_days_not_powers_of_ten(style, scale):
    ax = pj.plot_stage_times(stage_times(scale))
    _, renderer = _drawn(ax.figure)
    ticks = [t for t in ax.get_xticklabels() if t.get_text()]
    labels = [t.get_text() for t in ticks]
    assert len(labels) >= 2 and all(DAY_WORDS.match(lab) for lab in labels), labels  # "1 day", not 10^0
    assert not any("$" in lab or "^" in lab for lab in labels)
    assert ax.get_xscale() == "log" and not ax.xaxis.get_minorticklocs().size
    assert not _overlapping(ticks, renderer)
    assert min(t.get_fontsize() for t in ticks) >= max(READABLE_PT, _tick_size("x"))
    notes = [t for t in ax.texts if t.get_text().startswith("median")]
    assert len(notes) == 4 and min(t.get_fontsize() for t in notes) >= READABLE_PT
    plot = ax.get_window_extent(renderer)
    assert all(_inside(t.get_window_extent(renderer), plot) for t in notes)  # no note runs past the plot
    assert not _overlapping(notes, renderer)


def test_days_in_words():
    assert pj.days_in_words(1.0) == "1 day" and pj.days_in_words(9.0) == "9 days"
    assert pj.days_in_words(2.63) == "2.6 days" and pj.days_in_words(243.7) == "244 days"
    assert pj.days_in_words(np.nan) == "n/a"


# ----------------------------------------------------------------------------- RFM: segment flow


def sample_migration() -> pd.DataFrame:
    """Segment moves shaped like the sample data's: a few big segments, many of ten to sixty customers."""
    rng = np.random.default_rng(3)
    sizes = np.array([28, 59, 34, 11, 11, 10, 24, 418, 138, 249, 611, 269])
    counts = np.zeros((12, 11))
    for i, n in enumerate(sizes):
        counts[i] = rng.multinomial(n, rng.dirichlet(np.full(11, 0.4)))
    return pd.DataFrame(counts.astype(int), index=[*SEGMENTS, "(new)"], columns=SEGMENTS)


def test_migration_flow_labels_are_tick_sized_and_never_overlap(style):
    migration = sample_migration()
    ax = pr.plot_migration_flow(migration, labels=("02 Oct 2025", "31 Dec 2025"), min_share=0.002)
    fig, renderer = _drawn(ax.figure)
    names = [t for t in ax.texts if re.search(r"\(\d[\d,]*\)$", t.get_text())]
    shown = int((migration.sum(axis=1) > 0).sum() + (migration.sum(axis=0) > 0).sum())
    assert len(names) == shown  # every block named, none dropped
    assert min(t.get_fontsize() for t in names) >= max(READABLE_PT, _tick_size("x"), _tick_size("y"))
    assert not _overlapping(names, renderer)
    assert all(_inside(t.get_window_extent(renderer), fig.bbox) for t in names)
    assert all(_inside(t.get_window_extent(renderer), ax.get_window_extent(renderer), slack=2) for t in names)


def test_migration_flow_labels_stay_beside_their_block_when_there_is_room():
    migration = pd.DataFrame([[50, 10], [5, 100]], index=["A", "B"], columns=["A", "B"])
    ax = pr.plot_migration_flow(migration)
    _drawn(ax.figure)
    assert not [ln for ln in ax.lines]  # no label moved, so no line back to a block
    left = {t.get_text(): t.get_position()[1] for t in ax.texts if t.get_ha() == "right"}
    assert left["A (60)"] == pytest.approx(-30) and left["B (105)"] < left["A (60)"]


# ----------------------------------------------------------------------------- churn: survival panels


def test_survival_panels_have_one_curve_each_and_readable_text(style):
    ax = pc.plot_survival(km_frame(7), title="Time to churn by acquisition channel")
    fig, renderer = _drawn(ax.figure)
    assert fig.get_size_inches()[0] <= 11.01  # shown at most 11 inches wide
    panels = [a for a in fig.axes if a.axison]
    assert len(panels) == 7
    for panel in panels:
        curves = [ln for ln in panel.lines if len(ln.get_xdata()) > 1]
        assert len(curves) == 1 and curves[0].get_color() == pc.MAIN  # the others: one grey range, no lines
        assert panel.collections  # the 95 % band and the range of the other groups
    sizes = {t.get_text(): t.get_fontsize() for t in _shown_texts(fig)}
    assert min(sizes.values()) >= READABLE_PT, {k: v for k, v in sizes.items() if v < READABLE_PT}
    for panel in panels:
        assert not _overlapping([t for t in panel.get_xticklabels() if t.get_text()], renderer)


def test_survival_overlay_texts_are_readable(style):
    ax = pc.plot_survival(km_frame(3))
    fig, _ = _drawn(ax.figure)
    small = {t.get_text(): t.get_fontsize() for t in _shown_texts(fig) if t.get_fontsize() < READABLE_PT}
    assert not small


def test_others_range_spans_the_other_groups():
    km = km_frame(3)
    ax = pc.plot_survival(km, panels=True, min_at_risk=0)
    band = ax.collections[0].get_paths()[0].vertices  # the grey range, drawn first
    day_50 = km.loc[(km["days"] == 50) & (km["group"] != "group_0"), "survival"]
    ys = band[(band[:, 0] >= 50) & (band[:, 0] < 51), 1]  # from day 50 up to the next step of the curves
    assert ys.min() == pytest.approx(day_50.min(), abs=0.01) and ys.max() == pytest.approx(day_50.max(), abs=0.01)


# ----------------------------------------------------------------------------- CLV: payback


def payback(channels: int) -> tuple[pd.DataFrame, pd.Series]:
    months = np.arange(61)
    names = ["Paid search", "Paid social", "Email", "Referral", "App push", "Direct"][:channels]
    path = pd.DataFrame({n: (8.5 + 3.5 * np.sqrt(months)) * (1 - 0.02 * k) for k, n in enumerate(names)},
                        index=pd.Index(months, name="month"))
    cac = pd.Series([42.5, 36.0, 6.0, 10.0, 4.5, np.nan][:channels], index=names)
    return path, cac


def test_payback_of_many_channels_is_small_multiples_with_readable_text(style):
    path, cac = payback(6)  # 5 paid channels and one without spend
    ax = pv.plot_margin_path(path, cac, "EUR")
    fig, renderer = _drawn(ax.figure)
    assert fig.get_size_inches()[0] <= 11.01
    panels = [a for a in fig.axes if a.axison]
    assert [p.get_title() for p in panels] == ["Paid search", "Paid social", "Email", "Referral", "App push"]
    for panel in panels:
        assert len([ln for ln in panel.lines if len(ln.get_xdata()) > 2]) == 1  # one curve a panel
    notes = [t.get_text() for p in panels for t in p.texts]
    assert "CAC 42.50 EUR\nnot paid back in 60 months" in notes
    assert "CAC 6.00 EUR\npaid back on the first order" in notes
    assert any(n.startswith("CAC 10.00 EUR\npaid back in month") for n in notes)
    small = {t.get_text(): t.get_fontsize() for t in _shown_texts(fig) if t.get_fontsize() < READABLE_PT}
    assert not small
    for panel in panels:
        label = panel.yaxis.label
        if label.get_text():
            assert _inside(label.get_window_extent(renderer), fig.bbox)
            assert label.get_window_extent(renderer).height <= panel.get_window_extent(renderer).height + 1
        assert all(_inside(t.get_window_extent(renderer), panel.get_window_extent(renderer)) for t in panel.texts)


def test_payback_of_two_channels_names_each_line_at_its_end(style):
    path, cac = payback(2)
    ax = pv.plot_margin_path(path, cac, "EUR")
    fig, renderer = _drawn(ax.figure)
    assert ax.get_legend() is None
    names = [t for t in ax.texts]
    assert {t.get_text() for t in names} == {"Paid search", "Paid social", "CAC Paid search (42.50)",
                                             "CAC Paid social (36.00)"}
    assert not _overlapping(names, renderer)  # the two curves end a hair apart: their names do not
    assert min(t.get_fontsize() for t in names) >= READABLE_PT
    assert all(_inside(t.get_window_extent(renderer), fig.bbox) for t in names)
    overlay = pv.plot_margin_path(*payback(5), panels=False)
    fig, renderer = _drawn(overlay.figure)
    assert not _overlapping(overlay.texts, renderer)


# ----------------------------------------------------------------------------- long axis labels


def _holdout(ax=None):
    table = pd.DataFrame({"customers": [699, 264, 79], "actual_mean": [0.36, 0.64, 1.03],
                          "predicted_mean": [0.36, 0.51, 0.98]})
    return pv.plot_holdout_by_frequency(table, "holdout window, 242 days (about 35 weeks)", ax=ax)


def _churn_rate(ax=None):
    months = pd.period_range("2024-06", periods=19, freq="M")
    rates = pd.DataFrame({"churn_rate": 0.13, "lower": 0.1, "upper": 0.16}, index=months)
    return pc.plot_churn_rate(rates, ax=ax)


def _tracking(ax=None):
    weeks = pd.date_range("2024-01-07", periods=100, freq="7D")
    t = pd.DataFrame({"week_end": weeks, "actual": 20.0, "model": 19.0})
    t["actual_cumulative"], t["model_cumulative"] = t["actual"].cumsum(), t["model"].cumsum()
    return pv.plot_tracking(t, ax=ax)


@pytest.mark.parametrize("draw", [_holdout, _churn_rate, _tracking])
@pytest.mark.parametrize("shared", [False, True])  # its own figure, or one of two side by side (12 x 3.8)
def test_long_y_labels_are_wrapped_inside_the_plot(style, draw, shared):
    ax = draw(plt.subplots(1, 2, figsize=(12, 3.8), layout="constrained")[1][0] if shared else None)
    fig, renderer = _drawn(ax.figure)
    label = ax.yaxis.label
    box, plot = label.get_window_extent(renderer), ax.get_window_extent(renderer)
    assert box.height <= plot.height + 1, label.get_text()  # not longer than the plot is high
    assert _inside(box, fig.bbox)
    assert label.get_fontsize() >= READABLE_PT


def test_labels_that_fit_stay_on_one_line():
    table = pd.DataFrame({"customers": [5, 4], "actual_mean": [0.2, 1.0], "predicted_mean": [0.25, 0.9]})
    assert pv.plot_holdout_by_frequency(table, "holdout window (26 weeks)").get_ylabel() == \
        "Mean purchases, holdout window (26 weeks)"
    ax = _holdout()
    assert ax.get_ylabel().replace("\n", " ") == "Mean purchases, holdout window, 242 days (about 35 weeks)"


def test_spread_keeps_order_and_gaps_and_stays_in_bounds():
    wanted = np.array([5.0, 0.0, 0.2, 0.1, 9.9])
    placed = spread(wanted, 1.0, low=-0.5, high=10.0)
    assert np.argsort(placed).tolist() == np.argsort(wanted, kind="stable").tolist()
    assert np.diff(np.sort(placed)).min() >= 1.0 - 1e-9
    assert placed.min() >= -0.5 and placed.max() <= 10.0
    assert placed[0] == 5.0  # a label with room stays where it was wanted
    assert placed[[1, 2, 3]].mean() == pytest.approx(0.1 + 0.4, abs=0.5)  # a crowd is centred near its wish
    assert spread([], 1.0).size == 0
