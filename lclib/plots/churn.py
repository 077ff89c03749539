"""Figures of the churn report (see :mod:`lclib.analysis.churn`, :mod:`lclib.analysis.cohorts`, :mod:`lclib.analysis.churn_model`).

Every function takes ``ax=None`` (a new figure when None), checks its input first
(ValueError), titles the plot, labels both axes with units and returns the Axes.
"""

from __future__ import annotations


import matplotlib as mpl
import matplotlib.colors as mcolors
import matplotlib.patches as mpatches
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from lclib.plots.base import (BAD, ERROR_BARS, GOOD, GREY, MAIN, SECOND, _axes, fit_ylabel, panel_grid, percent,
                              period_axis, text_points, thousands, tick_points, words)
from lclib.plots.base import need_columns as _need

_PALETTE = (MAIN, SECOND, GOOD, BAD, "#8c6bb1", "#8c564b", "#e377c2", "#17becf", GREY, "#bcbd22")
#: Curves with more points than this are thinned before drawing (a figure cannot show more).
MAX_CURVE_POINTS = 2000
#: Survival curves drawn on one Axes at most (:func:`plot_survival`); more get small multiples.
MAX_OVERLAID = 3


def _error_bars(value: pd.Series, lower: pd.Series, upper: pd.Series) -> list[np.ndarray]:
    """``[below, above]`` error bar lengths of an interval around ``value``, never negative
    (matplotlib refuses a bound that rounding put a hair on the wrong side of the value)."""
    v = np.asarray(value, dtype=float)
    return [np.clip(v - np.asarray(lower, dtype=float), 0, None), np.clip(np.asarray(upper, dtype=float) - v, 0, None)]


def _thin(n: int, max_points: int = MAX_CURVE_POINTS) -> np.ndarray:
    """Indices of at most ``max_points`` evenly spread points of a curve of ``n`` (first and last kept)."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))




# ----------------------------------------------------------------------------- drop-off


def plot_stage_conversion(drop: pd.DataFrame, *, title: str | None = None, ax: Axes | None = None, **kwargs) -> Axes:
    """Conversion of each stage step with 95 % intervals, per group, against the target.

    Parameters
    ----------
    drop : :func:`lclib.analysis.churn.stage_dropoff` output (one or several groups).
    title : defaults to "Conversion between stages against target".
    **kwargs : passed to ``ax.errorbar``.
    """
    _need(drop, ("group", "step", "label", "from_stage", "conversion", "lower", "upper", "target"), "drop")
    steps = drop[["step", "label"]].drop_duplicates("step").sort_values("step")
    groups = list(dict.fromkeys(drop["group"]))
    ax = _axes(ax, size=(9, 0.9 + 0.55 * len(steps) * max(1, min(len(groups), 4) / 2)))
    y0 = {s: i for i, s in enumerate(steps["step"])}
    width = 0.7
    offsets = np.linspace(-width / 2, width / 2, len(groups)) if len(groups) > 1 else np.zeros(1)
    for g, off, color in zip(groups, offsets, _PALETTE * 4):
        d = drop.loc[drop["group"] == g]
        y = d["step"].map(y0).to_numpy() + off
        ax.errorbar(d["conversion"], y, xerr=_error_bars(d["conversion"], d["lower"], d["upper"]),
                    fmt="o", color=color, ms=5, capsize=2, label=None if g == "all" else str(g), **kwargs)
    targets = drop.drop_duplicates("step").set_index("step")["target"]
    for s, t in targets.items():
        if np.isfinite(t):
            ax.plot([t, t], [y0[s] - 0.45, y0[s] + 0.45], color=BAD, lw=2, zorder=1.5,
                    label="target" if s == targets.dropna().index.min() else None)
    labels = [f"{lab}\n(of {frm.replace('_', ' ')})" for lab, frm in
              drop.drop_duplicates("step").sort_values("step")[["label", "from_stage"]].itertuples(index=False)]
    ax.set_yticks(range(len(steps)), labels)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    percent(ax.xaxis)
    ax.set_xlabel("Conversion from the previous stage (%, 95 % interval)")
    ax.set_ylabel("Stage reached")
    ax.set_title(title or "Conversion between stages against target")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    return ax


def plot_improvement(improvement: pd.DataFrame, currency: str = "EUR", *, basis: str = "its target",
                     ax: Axes | None = None, **kwargs) -> Axes:
    """Revenue gained by lifting each stage to its target (bars), labelled with people gained.

    Parameters
    ----------
    improvement : :func:`lclib.analysis.churn.stage_improvement` output.
    currency : label of the money axis.
    basis : what the improvement is, in words, e.g. ``"its target"`` (default) or
        ``"a 10 % better conversion"`` (when :func:`~lclib.analysis.churn.stage_improvement`
        was called with ``lift``).
    """
    _need(improvement, ("label", "extra", "extra_revenue"), "improvement")
    ax = _axes(ax, size=(9, 0.9 + 0.5 * len(improvement)))
    y = np.arange(len(improvement))
    revenue = improvement["extra_revenue"].fillna(0).to_numpy()
    ax.barh(y, revenue, color=MAIN, **kwargs)
    for yi, r, extra, cust in zip(y, revenue, improvement["extra"],
                                  improvement.get("extra_customers", pd.Series(np.nan, index=improvement.index))):
        text = f"+{extra:,.0f} people" + (f", +{cust:,.0f} customers" if np.isfinite(cust) and cust > 0.5 else "")
        ax.text(r, yi, "  " + (text if extra > 0 else f"already at {basis}"), va="center", fontsize=9)
    ax.set_yticks(y, improvement["label"])
    ax.invert_yaxis()
    ax.set_xlim(0, max(revenue.max(), 1) * 1.6)
    thousands(ax.xaxis)
    ax.set_xlabel(f"Extra revenue if the stage reached {basis} ({currency}, over the data period)")
    ax.set_ylabel("Stage")
    ax.set_title(f"What lifting each stage to {basis} would be worth")
    return ax


# ----------------------------------------------------------------------------- cohorts and repeat purchases


def plot_retention_heatmap(triangle: pd.DataFrame, *, value_label: str = "customers", title: str | None = None,
                           sizes: pd.Series | None = None, min_size: int = 50, marked=(),
                           ax: Axes | None = None, **kwargs) -> Axes:
    """Cohort triangle as a heatmap, each cell labelled with its value; grey cells are not observable yet.

    Values are written in every observable cell from month 1 on whenever they fit at the
    figure's size (8 pt, down to 6.5 pt; left off below). A cohort whose first month is not
    over yet has no observable cell and says so.

    Parameters
    ----------
    triangle : :func:`lclib.analysis.cohorts.retention_triangle` output (index cohort, columns period).
    value_label : ``"customers"`` (share still buying) or ``"revenue"`` (revenue vs month 0).
    sizes : customers per cohort (index cohort): written beside each cohort's label; cohorts
        below ``min_size`` are labelled "small" in grey and their row is faded (and left out of
        the colour scale), so that their noise is not read as signal.
    marked : cohorts to flag with "*" (e.g. left-truncated: their first order in the data is
        not their first order), explained in the x label.
    **kwargs : passed to ``ax.imshow`` (e.g. ``cmap``).
    """
    if not isinstance(triangle, pd.DataFrame) or triangle.empty:
        raise ValueError("triangle must be a non-empty DataFrame (cohorts x months since first purchase)")
    n_rows, n_cols = triangle.shape
    ax = _axes(ax, size=(10, max(3.4, 1.6 + 0.28 * n_rows)))
    values = triangle.to_numpy(dtype=float)
    size_of = (lambda c: int(sizes.get(c, 0))) if sizes is not None else (lambda c: None)
    small = np.array([sizes is not None and size_of(c) < min_size for c in triangle.index])
    later = values[:, 1:] if n_cols > 1 else values
    scale_rows = later[~small] if (~small).any() and np.isfinite(later[~small]).any() else later
    vmax = np.nanquantile(scale_rows, 0.98) if np.isfinite(scale_rows).any() else 1.0
    vmax = max(vmax, 1e-9)
    cmap = mcolors.ListedColormap(mpl.colormaps["Blues"](np.linspace(0.05, 1, 256))).with_extremes(bad="#eeeeee")
    img = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap=kwargs.pop("cmap", cmap), vmin=0,
                    vmax=vmax, interpolation="nearest", **kwargs)
    bar = ax.figure.colorbar(img, ax=ax, pad=0.01)
    bar.ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))
    what = "share of the cohort buying" if value_label == "customers" else "revenue vs month 0"
    bar.set_label(f"{what} (%)")
    for i in np.flatnonzero(small):  # small cohorts faded: their noise is not signal
        ax.add_patch(mpatches.Rectangle((-0.5, i - 0.5), n_cols, 1, facecolor="white", alpha=0.6, lw=0, zorder=2))
    fontsize = _cell_fontsize(ax, n_rows, n_cols, chars=3)
    if fontsize:
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v) and j > 0:
                ax.text(j, i, f"{v:.0%}", ha="center", va="center", fontsize=fontsize, zorder=3,
                        color="#666666" if small[i] else ("white" if v > 0.6 * vmax else "black"))
    for i in range(n_rows):
        if not np.isfinite(values[i]).any():  # the cohort's first month is not over yet
            ax.text(-0.4, i, "first month not over yet", ha="left", va="center", fontsize=8, color="#555555",
                    zorder=3)
    ax.set_xticks(range(n_cols), [str(c) for c in triangle.columns], fontsize=8)
    marked = set(marked)
    labels = []
    for c, is_small in zip(triangle.index, small):
        n = size_of(c)
        label = str(c) + (f"  n={n:,}" if n is not None else "") + (" small" if is_small else "")
        labels.append(label + (" *" if c in marked else ""))
    ax.set_yticks(range(n_rows), labels, fontsize=8)
    for tick, is_small in zip(ax.get_yticklabels(), small):
        if is_small:
            tick.set_color("#888888")
    xlabel = "Months since first purchase (month 0 = the first month; colour scale set by months 1+)"
    if small.any():
        xlabel += f"\nfaded rows: cohorts of fewer than {min_size} customers, too few to read as a trend"
    if marked:
        xlabel += "\n* first month of the data: holds long-standing customers too, left out of the pooled curve"
    ax.set_xlabel(xlabel)
    ax.set_ylabel("Cohort (month of first purchase)")
    ax.set_title(title or ("Cohort retention: share of each cohort buying, by month" if value_label == "customers"
                           else "Revenue retention: cohort revenue relative to its first month"))
    ax.grid(False)
    return ax


def _cell_fontsize(ax: Axes, n_rows: int, n_cols: int, chars: int = 3, largest: float = 8.0,
                   smallest: float = 6.5) -> float | None:
    """Font size (points) that fits ``chars`` characters in a cell of an ``n_rows`` x ``n_cols`` grid
    drawn on ``ax`` at its figure's size, or None when even ``smallest`` does not fit."""
    width, height = ax.figure.get_size_inches()
    box = ax.get_position()
    cell_w = 72 * width * box.width * 0.85 / max(n_cols, 1)  # a colour bar takes part of the width
    cell_h = 72 * height * box.height / max(n_rows, 1)
    size = min(largest, cell_h * 0.6, cell_w / (0.65 * chars))
    return round(size, 1) if size >= smallest else None


def plot_retention_curves(triangle: pd.DataFrame, curve: pd.DataFrame, *, value_label: str = "customers",
                          ax: Axes | None = None, **kwargs) -> Axes:
    """Each cohort's retention (thin grey lines) and the size-weighted pooled curve with its interval.

    With fewer than two months after the first purchase there is no curve to show: the
    Axes says so instead of drawing one dot; with no cohort to pool at all (an empty
    ``curve``: e.g. every cohort is the data's first weeks, left out) it says that.

    Parameters
    ----------
    triangle : :func:`lclib.analysis.cohorts.retention_triangle` output.
    curve : :func:`lclib.analysis.cohorts.retention_curve` output (same ``value``).
    **kwargs : passed to the pooled curve's ``ax.plot``.
    """
    nothing = isinstance(curve, pd.DataFrame) and curve.empty  # no cohort pooled: said on the Axes
    if not nothing:
        _need(curve, ("share", "lower", "upper"), "curve")
    if not isinstance(triangle, pd.DataFrame) or triangle.empty:
        raise ValueError("triangle must be a non-empty DataFrame")
    ax = _axes(ax)
    ax.set_xlabel("Months since first purchase")
    ax.set_ylabel("Share of cohort buying (%)" if value_label == "customers" else "Revenue vs month 0 (%)")
    ax.set_title("Retention curves by cohort" if value_label == "customers" else "Revenue retention curves by cohort")
    pooled = None if nothing else curve.loc[curve.index >= 1]
    if nothing or pooled["share"].notna().sum() < 2:  # one month after the first is a dot, not a curve
        ax.text(0.5, 0.5, "No cohort to pool into a curve yet" if nothing else
                "Too few months since the first purchase\nto draw a curve (fewer than 2)",
                transform=ax.transAxes, ha="center", va="center", fontsize=text_points(), color="#555555")
        ax.set_xticks([])
        ax.set_yticks([])
        return ax
    x = triangle.columns.to_numpy(dtype=float)
    for _, row in triangle.iterrows():  # one line per cohort (a couple of dozen)
        ax.plot(x[1:], row.to_numpy(dtype=float)[1:], color=GREY, lw=0.6, alpha=0.5)
    ax.plot(pooled.index, pooled["share"], color=MAIN, lw=2.2, marker="o", ms=3, label="all cohorts (pooled)",
            **kwargs)
    if pooled["lower"].notna().any():
        ax.fill_between(pooled.index, pooled["lower"], pooled["upper"], color=MAIN, alpha=0.2,
                        label="95 % interval")
    ax.plot([], [], color=GREY, lw=0.6, label="one cohort")
    percent(ax.yaxis)
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=8)
    return ax


def plot_repeat_curve(curve: pd.DataFrame, window_days: float, *, min_eligible: int = 10, ax: Axes | None = None,
                      **kwargs) -> Axes:
    """P(next order within the window | n orders so far) with 95 % Wilson intervals.

    Parameters
    ----------
    curve : :func:`lclib.analysis.cohorts.repeat_purchase_curve` output.
    window_days : the window used (for the axis label).
    min_eligible : points resting on fewer customers are not drawn.
    """
    _need(curve, ("p_next", "lower", "upper", "eligible"), "curve")
    d = curve.loc[curve["eligible"] >= min_eligible]
    if d.empty:
        raise ValueError(f"no n with at least {min_eligible} eligible customers")
    ax = _axes(ax)
    ax.errorbar(d.index, d["p_next"], yerr=_error_bars(d["p_next"], d["lower"], d["upper"]), fmt="o-",
                color=MAIN, capsize=3, **kwargs)
    for n, row in d.iterrows():
        ax.annotate(f"n={int(row['eligible']):,}", (n, row["lower"]), textcoords="offset points", xytext=(0, -12),
                    ha="center", fontsize=8, color="#666666")
    ax.set_ylim(0, 1.05)
    percent(ax.yaxis)
    ax.set_xticks(d.index)
    ax.set_xlabel("Orders placed so far (n)")
    ax.set_ylabel(f"P(another order within {window_days:.0f} days) (%)")
    ax.set_title("Repeat-purchase curve: does each purchase make the next more likely?")
    return ax


# ----------------------------------------------------------------------------- churn definition and rates


def plot_gap_distribution(gaps: pd.Series, window_days: float, *, bins: int = 40, ax: Axes | None = None, **kwargs) -> Axes:
    """Histogram of inter-purchase gaps with the inactivity window marked."""
    if not isinstance(gaps, pd.Series) or gaps.empty:
        raise ValueError("gaps must be a non-empty Series of days between orders")
    ax = _axes(ax)
    upper = max(float(gaps.quantile(0.99)), window_days * 1.1)
    ax.hist(gaps.clip(upper=upper), bins=bins, color=MAIN, **kwargs)
    ax.axvline(window_days, color=BAD, lw=2, label=f"inactivity window: {window_days:.0f} days")
    ax.set_xlabel("Days between two consecutive orders of a customer (last bar: that many or more)")
    ax.set_ylabel("Repeat orders (count)")
    ax.set_title("How long customers take to come back")
    ax.legend(frameon=False)
    thousands(ax.yaxis)
    return ax


def plot_churn_rate(rates: pd.DataFrame, *, ax: Axes | None = None, **kwargs) -> Axes:
    """Churn rate per period with its 95 % interval."""
    _need(rates, ("churn_rate", "lower", "upper"), "rates")
    ax = _axes(ax)
    periods = isinstance(rates.index, pd.PeriodIndex)
    x = rates.index.to_timestamp() if periods else rates.index
    ax.plot(x, rates["churn_rate"], color=MAIN, marker="o", ms=3, label="churn rate", **kwargs)
    if pd.api.types.is_datetime64_any_dtype(x):
        period_axis(ax, x, rates.index.freqstr if periods else None)  # a few periods: one labelled tick each
    ax.fill_between(x, rates["lower"], rates["upper"], color=MAIN, alpha=0.2, label="95 % interval")
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_locator(mticker.MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))  # 2 %, 5 %, ... not 2.5 %
    percent(ax.yaxis, decimals=1 if ax.get_ylim()[1] < 0.05 else 0)
    ax.set_xlabel("Period start")
    ax.set_title("Churn rate per period")
    ax.legend(frameon=False)
    fit_ylabel(ax, "Churned during the period (% of active at its start)")  # wrapped when longer than the plot
    return ax


# ----------------------------------------------------------------------------- model


def plot_roc(test: pd.DataFrame, scores: dict[str, str], label: str = "churned", *, ax: Axes | None = None) -> Axes:
    """ROC curves of several scores on the test period.

    Parameters
    ----------
    test : frame with the label column and the score columns.
    scores : {legend name: column}; higher score = more likely to churn.
    """
    from sklearn.metrics import roc_auc_score, roc_curve

    _need(test, [label, *scores.values()], "test")
    ax = _axes(ax, size=(5.5, 5))
    for (name, col), color in zip(scores.items(), _PALETTE):
        ok = test[col].notna().to_numpy()
        y, s = test.loc[ok, label].to_numpy(), test.loc[ok, col].to_numpy()
        fpr, tpr, _ = roc_curve(y, s)
        auc = roc_auc_score(y, s)
        keep = _thin(len(fpr))
        fpr, tpr = fpr[keep], tpr[keep]
        ax.plot(fpr, tpr, color=color, label=f"{name} (AUC {auc:.2f})")
    ax.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1, label="chance")
    percent(ax.xaxis)
    percent(ax.yaxis)
    ax.set_xlabel("Stayers flagged as churners (false positive rate, %)")
    ax.set_ylabel("Churners caught (true positive rate, %)")
    ax.set_title("Who will churn: model against baselines (test period)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    return ax


def plot_calibration(calibration: pd.DataFrame, *, ax: Axes | None = None, **kwargs) -> Axes:
    """Observed churn rate against predicted probability per bin, with 95 % intervals."""
    _need(calibration, ("predicted", "observed", "lower", "upper"), "calibration")
    ax = _axes(ax, size=(5.5, 5))
    ax.plot([0, 1], [0, 1], color=GREY, ls="--", lw=1, label="perfect calibration")
    c = calibration
    ax.errorbar(c["predicted"], c["observed"], yerr=_error_bars(c["observed"], c["lower"], c["upper"]),
                fmt="o-", color=MAIN, capsize=3, label="model (test period)", **kwargs)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    percent(ax.xaxis)
    percent(ax.yaxis)
    ax.set_xlabel("Predicted churn probability (%, mean per bin)")
    ax.set_ylabel("Observed churn rate (%, 95 % interval)")
    ax.set_title("Calibration: do predicted probabilities come true?")
    ax.legend(frameon=False, fontsize=8, loc="upper left")
    return ax


def plot_importance(importance: pd.DataFrame, *, top: int = 15, labels: dict[str, str] | None = None,
                    ax: Axes | None = None, **kwargs) -> Axes:
    """Permutation importance (drop in ROC AUC when a feature is shuffled), with its spread.

    ``labels`` maps feature names to reader-facing ones (others: underscores as spaces).
    """
    _need(importance, ("mean", "std"), "importance")
    d = importance.sort_values("mean", ascending=False).head(top)
    ax = _axes(ax, size=(9, 0.8 + 0.3 * len(d)))
    y = np.arange(len(d))
    kwargs.setdefault("ecolor", ERROR_BARS)
    ax.barh(y, d["mean"], xerr=d["std"], color=MAIN, capsize=2, **kwargs)
    ax.set_yticks(y, [(labels or {}).get(str(i), str(i).replace("_", " ")) for i in d.index])
    ax.invert_yaxis()
    ax.axvline(0, color=GREY, lw=1)
    ax.set_xlabel("Drop in ROC AUC when the feature is shuffled (AUC points)")
    ax.set_ylabel("Feature")
    ax.set_title("What the churn model relies on (permutation importance, test period)")
    return ax


# ----------------------------------------------------------------------------- survival and what-if


def plot_survival(km: pd.DataFrame, *, title: str | None = None, max_groups: int = 8, min_at_risk: int = 10,
                  max_curves: int = MAX_OVERLAID, panels: bool | None = None, labels: dict | None = None,
                  ax: Axes | None = None, **kwargs) -> Axes:
    """Kaplan-Meier curves of the active lifetime per group, with 95 % bands and numbers at risk.

    Up to ``max_curves`` groups share one Axes (legend and a table of the customers still
    followed under the day axis); more groups get one small panel each (small multiples, up
    to four a row, at most 11 inches wide), one curve a panel: the group in colour against
    the range of the other groups (a grey area), with the customers still followed under
    each day tick. Every text is at least 9 points at the figure's size. Each curve starts at day 0 at the share of customers still active
    after their first order (one-time buyers end their lifetime at day 0), marked with a
    dot and written as "x % never came back", instead of a drop from 100 % that would take
    most of the height.

    Parameters
    ----------
    km : :func:`lclib.analysis.churn.kaplan_meier` output.
    title : the figure's title (the panels' common title).
    max_groups : only the first (largest) groups are drawn.
    min_at_risk : a curve stops where fewer customers than this are still followed
        (``at_risk``): its tail would rest on a handful of people.
    max_curves : most curves drawn on one Axes.
    panels : True draws one panel per group, False one Axes; None (default) panels when
        there are more than ``max_curves`` groups. Panels take the place of ``ax`` (a
        subfigure of its figure) or make a new figure; the first panel is returned.
    labels : group name -> label shown; default: the name in words ("paid_search" -> "Paid search").
    **kwargs : passed to ``ax.step`` of each group's curve.

    A curve with more than :data:`MAX_CURVE_POINTS` steps is drawn through that many
    evenly spread ones (the last kept), as :func:`plot_roc` thins its curves.
    """
    _need(km, ("group", "days", "survival", "lower", "upper"), "km")
    if max_groups < 1 or max_curves < 1:
        raise ValueError(f"max_groups and max_curves must be >= 1, got {max_groups} and {max_curves}")
    all_groups = list(dict.fromkeys(km["group"]))
    curves = {}
    for g in all_groups[:max_groups]:
        full = km.loc[(km["group"] == g) & (km["days"] >= 0)].sort_values("days", kind="stable")
        d = full
        if "at_risk" in d and min_at_risk:
            d = d.loc[d["at_risk"] >= min_at_risk]
        if d.empty:
            continue
        s0 = float(full["survival"].iloc[0]) if full["days"].iloc[0] == 0 else 1.0
        n = full["at_risk"].iloc[0] if "at_risk" in full else np.nan
        curves[g] = (d.iloc[_thin(len(d))], full, s0, int(n) if np.isfinite(n) else None)
    name = {g: str((labels or {}).get(g, words(g))) for g in curves}
    xmax = max((float(c[0]["days"].max()) for c in curves.values()), default=0.0)
    top = min(1.0, np.ceil(max((c[2] for c in curves.values()), default=1.0) * 1.12 * 10) / 10) or 0.1
    shown = f" (the {max_groups} largest of {len(all_groups)} groups)" if len(all_groups) > max_groups else ""
    stop = f"; a curve stops where fewer than {min_at_risk} customers are still followed" if min_at_risk else ""
    title = (title or "Time to churn (Kaplan-Meier)") + shown
    use_panels = len(curves) > max_curves if panels is None else bool(panels)
    if use_panels and len(curves) > 1 and (ax is None or ax.get_subplotspec() is not None):
        return _survival_panels(curves, name, xmax, top, title, stop, ax, **kwargs)

    ax = _axes(ax, size=(9, 3.8 + 0.2 * min(len(curves), max_curves)))
    drawn = list(curves)[:max_curves]
    ticks = _day_ticks(xmax, 5)
    size = text_points(tick_points("x") - 1)  # the at-risk table and the legend: a little under the ticks
    row = 1.3 * size  # points between two rows of the at-risk table
    below = 2.2 * tick_points("x") + 4  # the table starts under the day tick labels
    for k, (g, color) in enumerate(zip(drawn, _PALETTE)):
        d, full, s0, n = curves[g]
        label = name[g] + (f"\n{n:,} customers, {1 - s0:.0%} never came back" if n is not None else "")
        _draw_km(ax, d, s0, color, label, **kwargs)
        if "at_risk" in full:  # the at-risk table: one row per curve under the day axis
            for t in ticks:
                ax.annotate(f"{_at_risk(full, t):,}", (t, 0), xycoords=("data", "axes fraction"),
                            xytext=(0, -below - row * k), textcoords="offset points", ha="center", va="top",
                            fontsize=size, color=color)
            ax.annotate(name[g], (0, 0), xycoords="axes fraction", xytext=(-8, -below - row * k),
                        textcoords="offset points", ha="right", va="top", fontsize=size, color=color)
    has_table = bool(drawn) and "at_risk" in km
    _day_axis(ax, xmax, ticks, top)
    ax.tick_params(labelsize=tick_points("x"))
    xlabel = "Days since first purchase"
    if has_table:
        xlabel += "\nnumbers under the axis: customers still followed on that day"
        xlabel += f"\n(a curve stops where fewer than {min_at_risk} customers are followed)" if min_at_risk else ""
    elif stop:
        xlabel += f" (a curve stops where fewer than {min_at_risk} customers are still followed)"
    ax.set_xlabel(xlabel, labelpad=4 + (row * len(drawn) + 6 if has_table else 0))
    ax.set_ylabel("Customers still active (%)")
    ax.set_title(title)
    if xmax <= 0:
        ax.text(0.5, 0.5, "Too few customers can be followed past their first order yet\nto draw a curve"
                + (f" (fewer than {min_at_risk} per group)" if min_at_risk else ""), transform=ax.transAxes,
                ha="center", va="center", fontsize=text_points(), color="#555555")
    if len(curves) > len(drawn):
        note = f"the {len(drawn)} largest of {len(curves)} groups"
    else:
        note = None
    if drawn:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=size, title=note,
                  title_fontsize=size)
    return ax


def _at_risk(full: pd.DataFrame, t: float) -> int:
    """Customers still followed on day ``t`` (at risk at the first event time from ``t`` on)."""
    later = full.loc[full["days"] >= t, "at_risk"]
    return int(later.iloc[0]) if len(later) else 0


def _day_ticks(xmax: float, bins: int) -> np.ndarray:
    """Round day ticks from 0 to ``xmax`` (a month of days when nothing is followed past day 0)."""
    hi = xmax if xmax > 0 else 30.0
    ticks = mticker.MaxNLocator(nbins=bins, steps=[1, 2, 3, 5, 10], integer=True).tick_values(0, hi)
    return ticks[(ticks >= 0) & (ticks <= hi + 1e-9)]


def _day_axis(ax: Axes, xmax: float, ticks: np.ndarray, top: float) -> None:
    hi = xmax if xmax > 0 else 30.0
    ax.set_xlim(-0.02 * hi, hi * 1.03)
    ax.set_xticks(ticks)
    ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_ylim(0, top)
    percent(ax.yaxis)


def _draw_km(ax: Axes, d: pd.DataFrame, s0: float, color: str, label: str | None, lw: float = 1.8,
             **kwargs) -> None:
    """One Kaplan-Meier curve from day 0 (at ``s0``, marked with a dot) with its 95 % band."""
    x = d["days"].to_numpy(dtype=float)
    ax.step(x, d["survival"].to_numpy(dtype=float), where="post", color=color, lw=lw, label=label, **kwargs)
    ax.fill_between(x, d["lower"].to_numpy(dtype=float), d["upper"].to_numpy(dtype=float), step="post",
                    color=color, alpha=0.15, lw=0)
    ax.plot([0.0], [s0], "o", color=color, ms=4, zorder=3)


def _others_range(curves: dict, g, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest survival of the groups other than ``g`` on each day of ``grid`` (NaN where
    none of them is still drawn): the grey range a panel compares its group with."""
    values = []
    for other, (o, *_rest) in curves.items():
        if other == g:
            continue
        days, surv = o["days"].to_numpy(dtype=float), o["survival"].to_numpy(dtype=float)
        at = np.searchsorted(days, grid, side="right") - 1
        v = np.where((at >= 0) & (grid <= days[-1]), surv[np.clip(at, 0, None)], np.nan)
        values.append(v)
    if not values:
        return np.full(len(grid), np.nan), np.full(len(grid), np.nan)
    stacked = np.vstack(values)
    seen = np.isfinite(stacked).any(axis=0)
    low = np.where(seen, np.nanmin(np.where(np.isfinite(stacked), stacked, np.inf), axis=0), np.nan)
    high = np.where(seen, np.nanmax(np.where(np.isfinite(stacked), stacked, -np.inf), axis=0), np.nan)
    return low, high


def _survival_panels(curves: dict, name: dict, xmax: float, top: float, title: str, stop: str,
                     ax: Axes | None, **kwargs) -> Axes:
    """Small multiples of :func:`plot_survival`: one panel per group, a single curve each, the range of
    the other groups as a grey area behind it; every text at least :data:`~lclib.plots.base.READABLE_PT`."""
    n = len(curves)
    container, axes = panel_grid(n, ax, panel_width=2.7, panel_height=2.55)
    ticks = _day_ticks(xmax, 4)
    small = text_points(tick_points("x") - 1)  # ticks and notes in the panels
    grid = np.linspace(0.0, max(xmax, 1e-9), 400)
    for panel, g in zip(axes, curves):
        d, full, s0, size = curves[g]
        low, high = _others_range(curves, g, grid)
        ok = np.isfinite(low)
        if ok.any():
            panel.fill_between(grid, np.where(ok, low, 0), np.where(ok, high, 0), where=ok, color=GREY, alpha=0.3,
                               lw=0, zorder=1)
        _draw_km(panel, d, s0, MAIN, None, lw=2, **kwargs)
        _day_axis(panel, xmax, ticks, top)
        if "at_risk" in full:
            panel.set_xticks(ticks, [f"{t:,.0f}\n({_at_risk(full, t):,})" for t in ticks])
        panel.tick_params(labelsize=small)
        panel.set_title(name[g] + (f" ({size:,})" if size is not None else ""), fontsize=text_points(tick_points()))
        panel.text(0.97, 0.95, f"{1 - s0:.0%} never\ncame back", transform=panel.transAxes, ha="right",
                   va="top", fontsize=small, color="#444444")
        panel.set_xlabel("Days since first order", fontsize=small)
        if panel.get_subplotspec().is_first_col():
            panel.set_ylabel("Still active (%)", fontsize=small)
        if xmax <= 0:
            panel.text(0.5, 0.45, "too few followed\npast day 0 yet", transform=panel.transAxes, ha="center",
                       fontsize=small, color="#555555")
    container.suptitle(title, fontsize=text_points(tick_points()) + 1)
    container.supxlabel("Blue: the group (dot: still active after the first order; band: 95 % interval); grey "
                        "area: the range of the other groups.\nIn brackets under each day: customers still followed"
                        + stop + ".", fontsize=small, color="#444444")
    return axes[0]


def plot_what_if(curve: pd.DataFrame, reduction: float, currency: str = "EUR", horizon_months: int = 12, *,
                 ax: Axes | None = None, **kwargs) -> Axes:
    """Extra margin over the horizon against the churn reduction, the configured one marked."""
    _need(curve, ("extra_margin", "extra_revenue"), "curve")
    ax = _axes(ax)
    x = curve.index.to_numpy(dtype=float)
    ax.plot(x, curve["extra_revenue"], color=GREY, lw=1.5, label="extra revenue")
    ax.plot(x, curve["extra_margin"], color=MAIN, lw=2, label="extra margin", **kwargs)
    at = curve.loc[curve.index[np.argmin(np.abs(x - reduction))]]
    ax.scatter([reduction], [at["extra_margin"]], color=BAD, zorder=3, label=f"{reduction:.0%} less churn")
    percent(ax.xaxis)
    thousands(ax.yaxis)
    ax.set_xlabel("Relative reduction of the monthly churn rate (%)")
    ax.set_ylabel(f"Gain over {horizon_months} months ({currency}, discounted)")
    ax.set_title("What less churn is worth on the current customer base")
    ax.legend(frameon=False)
    return ax
