"""Figures of the CLV report (see :mod:`lclib.analysis.clv` and :mod:`lclib.analysis.cac`).

Every function takes ``ax=None`` (a new figure when None), checks its input first
(ValueError), titles the plot, labels both axes with units and returns the Axes.
Figures draw aggregates (counts per bin, means per group), never one mark per customer.
"""

from __future__ import annotations


import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from lclib.plots.base import (BAD, GOOD, GREY, MAIN, SECOND, _axes, axes_points, fit_ylabel, panel_grid, spread,
                              text_points, thousands, tick_points)
from lclib.plots.base import need_columns as _need

_UNITS = {"D": "days", "W": "weeks", "W_periods": "weeks"}




def _money(axis, currency: str) -> None:
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))


def plot_repeat_counts(counts: pd.DataFrame, *, ax: Axes | None = None, **kwargs) -> Axes:
    """Customers by number of repeat purchases: actual (bars) against the model (bars beside).

    Parameters
    ----------
    counts : :func:`lclib.analysis.clv.repeat_count_fit` output (index frequency, ``actual``, ``model``).
    **kwargs : passed to both ``ax.bar`` calls.
    """
    _need(counts, ("actual", "model"), "counts")
    ax = _axes(ax)
    x = np.arange(len(counts))
    ax.bar(x - 0.2, counts["actual"], width=0.4, color=MAIN, label="actual", **kwargs)
    ax.bar(x + 0.2, counts["model"], width=0.4, color=SECOND, label="model", **kwargs)
    labels = [str(i) for i in counts.index]
    labels[-1] = f"{labels[-1]}+"
    ax.set_xticks(x, labels)
    ax.set_xlabel("Repeat purchases made (count)")
    ax.set_ylabel("Customers (count)")
    thousands(ax.yaxis)
    ax.set_title("Customers by number of repeat purchases: actual vs model")
    ax.legend(frameon=False)
    return ax


def plot_holdout_by_frequency(by_frequency: pd.DataFrame, unit_label: str = "holdout window", *,
                              ax: Axes | None = None, **kwargs) -> Axes:
    """Mean purchases in the holdout window by calibration purchases: actual vs predicted.

    Parameters
    ----------
    by_frequency : ``HoldoutValidation.by_frequency`` (``actual_mean``, ``predicted_mean``).
    unit_label : words for the holdout window in the y label (e.g. "next 34 weeks").
    **kwargs : passed to both ``ax.plot`` calls.
    """
    _need(by_frequency, ("actual_mean", "predicted_mean"), "by_frequency")
    ax = _axes(ax, size=(9, 4.2))
    x = np.arange(len(by_frequency))
    ax.plot(x, by_frequency["actual_mean"], "o-", color=MAIN, label="actual", **kwargs)
    ax.plot(x, by_frequency["predicted_mean"], "s--", color=SECOND, label="model", **kwargs)
    labels = [str(i) for i in by_frequency.index]
    labels[-1] = f"{labels[-1]}+"
    ax.set_xticks(x, labels)
    ax.set_xlabel("Repeat purchases in the calibration window (count)")
    ax.set_title("Calibration vs holdout purchases: actual and predicted")
    ax.legend(frameon=False)
    fit_ylabel(ax, f"Mean purchases, {unit_label}")  # wrapped when longer than the plot is high
    return ax


def plot_frequency_recency(matrix: pd.DataFrame, value: str = "p_alive", time_unit: str = "W", *,
                           ax: Axes | None = None, **kwargs) -> Axes:
    """Heatmap of P(alive) or expected purchases over repeat purchases x recency.

    Parameters
    ----------
    matrix : :func:`lclib.analysis.clv.frequency_recency_matrix` output.
    value : ``"p_alive"`` or ``"expected_purchases"``.
    time_unit : unit of ``recency`` ("D" or "W").
    **kwargs : passed to ``ax.imshow`` (e.g. ``cmap``).
    """
    if value not in ("p_alive", "expected_purchases"):
        raise ValueError(f"value must be 'p_alive' or 'expected_purchases', got {value!r}")
    if time_unit not in _UNITS:
        raise ValueError(f"time_unit must be one of {sorted(_UNITS)}, got {time_unit!r}")
    _need(matrix, ("frequency", "recency", value), "matrix")
    grid = matrix.pivot(index="frequency", columns="recency", values=value).sort_index(ascending=False)
    ax = _axes(ax, size=(9, 4.2))
    kwargs.setdefault("cmap", "viridis")
    if value == "p_alive":
        kwargs.setdefault("vmin", 0.0)
        kwargs.setdefault("vmax", 1.0)
    image = ax.imshow(grid.to_numpy(dtype=float), aspect="auto", interpolation="nearest", **kwargs)
    ax.grid(False)
    bar = ax.figure.colorbar(image, ax=ax)
    unit = _UNITS[time_unit]
    if value == "p_alive":
        bar.set_label("P(still a customer)")
        bar.ax.yaxis.set_major_formatter(mticker.PercentFormatter(1.0))
        title = "Probability a customer is still active, by purchase history"
    else:
        bar.set_label("Expected purchases (count)")
        title = "Expected purchases in the next 4 weeks, by purchase history"
    step = max(1, len(grid.columns) // 6)
    cols = list(range(0, len(grid.columns), step))
    ax.set_xticks(cols, [f"{grid.columns[i]:.0f}" for i in cols])
    ax.set_yticks(range(len(grid.index)), [str(i) for i in grid.index])
    ax.set_xlabel(f"Time from first to last purchase (recency, {unit})")
    ax.set_ylabel("Repeat purchases (count)")
    ax.set_title(title)
    return ax


def plot_clv_distribution(clv: pd.Series, currency: str = "EUR", bins: int = 30, *, horizon_months: int | None = None,
                          ax: Axes | None = None, **kwargs) -> Axes:
    """Histogram of customer lifetime values (counts per bin), clipped at the 99th percentile.

    Parameters
    ----------
    clv : CLV per customer, every value finite: a missing value is refused
        (ValueError), not dropped, so the histogram counts every customer it is given.
    currency : label of the x axis.
    bins : number of bins.
    horizon_months : the months the values cover (predicted CLV over a horizon): said in the
        title and the axis label; None: a lifetime value.
    **kwargs : passed to ``ax.bar``.
    """
    if not isinstance(clv, pd.Series) or clv.empty:
        raise ValueError("clv must be a non-empty Series")
    if bins < 2:
        raise ValueError("bins must be at least 2")
    values = clv.to_numpy(dtype=float)
    undefined = int((~np.isfinite(values)).sum())
    if undefined:
        raise ValueError(f"{undefined:,} of {len(values):,} CLV values are NaN or infinite: leave those customers "
                         "out and say how many (predict_customers(..., undefined='exclude'))")
    top = float(np.quantile(values, 0.99))
    counts, edges = np.histogram(np.clip(values, None, top), bins=bins, range=(min(values.min(), 0.0), top))
    ax = _axes(ax)
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=MAIN, **kwargs)
    mean = float(values.mean())
    ax.axvline(mean, color=BAD, ls="--", label=f"mean {mean:,.2f} {currency}")
    what = (f"Expected margin per customer, next {horizon_months} months" if horizon_months
            else "Expected customer lifetime value")
    ax.set_xlabel(f"{what} ({currency}; last bar: top 1 %)")
    ax.set_ylabel("Customers (count)")
    thousands(ax.yaxis)
    ax.set_title(f"Expected margin per customer over the next {horizon_months} months (predicted CLV)"
                 if horizon_months else "Distribution of customer lifetime value")
    ax.legend(frameon=False)
    return ax


def plot_clv_by_group(table: pd.DataFrame, currency: str = "EUR", title: str = "Mean CLV by group",
                      group_label: str = "Group", *, ax: Axes | None = None, **kwargs) -> Axes:
    """Horizontal bars of mean CLV per group, labelled with customers and share of total CLV.

    Parameters
    ----------
    table : :func:`lclib.analysis.clv.clv_by_group` output.
    title, group_label : figure title and y-axis label.
    **kwargs : passed to ``ax.barh``.
    """
    _need(table, ("customers", "mean_clv", "share_clv"), "table")
    if not np.isfinite(table[["mean_clv", "share_clv"]].to_numpy(dtype=float)).all():
        raise ValueError("mean_clv and share_clv must be finite (an empty bar would hide a missing value)")
    ax = _axes(ax, size=(9, 0.8 + 0.38 * len(table)))
    y = np.arange(len(table))
    ax.barh(y, table["mean_clv"], color=MAIN, **kwargs)
    for yi, (mean, n, share) in enumerate(table[["mean_clv", "customers", "share_clv"]].itertuples(index=False)):
        ax.text(mean, yi, f"  {n:,} customers, {share:.0%} of total", va="center", fontsize=8)
    ax.set_yticks(y, [str(i) for i in table.index])
    ax.invert_yaxis()
    ax.set_xlim(0, max(float(table["mean_clv"].max()), 1e-9) * 1.45)
    ax.set_xlabel(f"Mean expected CLV per customer ({currency})")
    ax.set_ylabel(group_label)
    ax.set_title(title)
    return ax


def plot_cac(cac_table: pd.DataFrame, currency: str = "EUR", truth: dict | None = None, *, ax: Axes | None = None,
             **kwargs) -> Axes:
    """CAC per channel (bars); channels without spend are named but have no bar.

    Parameters
    ----------
    cac_table : :func:`lclib.analysis.cac.cac_by_channel` output.
    truth : optional {channel: known CAC}, drawn as markers (sample data).
    **kwargs : passed to ``ax.barh``.
    """
    _need(cac_table, ("cac", "new_customers", "status"), "cac_table")
    ax = _axes(ax, size=(9, 0.8 + 0.38 * len(cac_table)))
    y = np.arange(len(cac_table))
    cost = cac_table["cac"].fillna(0.0)
    ax.barh(y, cost, color=MAIN, **kwargs)
    for yi, (c, n, status) in enumerate(cac_table[["cac", "new_customers", "status"]].itertuples(index=False)):
        text = f"  {c:,.2f} {currency} ({n:,} new)" if status == "paid" else f"  {status} ({n:,} new)"
        ax.text(0 if np.isnan(c) else c, yi, text, va="center", fontsize=8)
    if truth:
        known = [truth.get(ch, np.nan) for ch in cac_table.index]
        ax.plot(known, y, "D", color=BAD, ms=5, label="known CAC")
        ax.legend(frameon=False, loc="lower right")
    ax.set_yticks(y, [str(i) for i in cac_table.index])
    ax.invert_yaxis()
    ax.set_xlim(0, max(float(cost.max()), 1e-9) * 1.5)
    ax.set_xlabel(f"Acquisition cost per new customer ({currency})")
    ax.set_ylabel("Acquisition channel")
    ax.set_title("Customer acquisition cost (CAC) by channel")
    return ax


def plot_clv_cac(economics: pd.DataFrame, threshold: float = 3.0, *, ax: Axes | None = None, **kwargs) -> Axes:
    """CLV:CAC per paid channel against the threshold (green: meets it, red: below).

    Parameters
    ----------
    economics : :func:`lclib.analysis.cac.channel_economics` output.
    threshold : the target ratio, drawn as a dashed line.
    **kwargs : passed to ``ax.barh``.
    """
    _need(economics, ("clv_cac",), "economics")
    if not threshold > 0:
        raise ValueError("threshold must be positive")
    rows = economics.loc[economics["clv_cac"].notna()]
    if rows.empty:
        raise ValueError("no channel has a CLV:CAC ratio (no spend, or no value estimate)")
    ax = _axes(ax, size=(9, 0.8 + 0.38 * len(rows)))
    y = np.arange(len(rows))
    colors = [GOOD if v >= threshold else (SECOND if v >= 1 else BAD) for v in rows["clv_cac"]]
    ax.barh(y, rows["clv_cac"], color=colors, **kwargs)
    for yi, v in enumerate(rows["clv_cac"]):
        ax.text(v, yi, f"  {v:.1f}:1", va="center", fontsize=8)
    ax.axvline(threshold, color=GREY, ls="--", label=f"target {threshold:g}:1")
    ax.axvline(1.0, color=BAD, ls=":", label="break-even 1:1")
    ax.set_yticks(y, [str(i) for i in rows.index])
    ax.invert_yaxis()
    ax.set_xlim(0, max(float(rows["clv_cac"].max()), threshold) * 1.25)
    ax.set_xlabel("CLV : CAC (margin per new customer / acquisition cost, ratio)")
    ax.set_ylabel("Acquisition channel")
    ax.set_title("CLV to CAC ratio by paid channel")
    ax.legend(frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return ax


#: Paid channels drawn on one Axes at most by :func:`plot_margin_path`; more get one panel each.
MAX_PAYBACK_LINES = 2


def _payback_month(values: pd.Series, cac: float):
    """The first month (index label) whose cumulative margin reaches ``cac``, or None."""
    reached = values.index[values.to_numpy(dtype=float) >= cac]
    return reached[0] if len(reached) else None


def _payback_words(month, last, currency: str, cac: float) -> str:
    if month is None:
        return f"CAC {cac:,.2f} {currency}: not paid back in {last:g} months"
    if month == 0:
        return f"CAC {cac:,.2f} {currency}: paid back on the first order"
    return f"CAC {cac:,.2f} {currency}: paid back in month {month:g}"


def plot_margin_path(path: pd.DataFrame, cac: pd.Series, currency: str = "EUR", *, panels: bool | None = None,
                     ax: Axes | None = None, **kwargs) -> Axes:
    """Cumulative margin of a new customer by month per paid channel, with its CAC as a dashed line.

    Up to :data:`MAX_PAYBACK_LINES` channels share one Axes, each line named at its end (and
    its CAC line too); more channels get one small panel each (small multiples, a shared
    margin axis), the channel's curve against its own CAC with the month it pays back.

    Parameters
    ----------
    path : month x channel cumulative margin (:func:`lclib.analysis.cac.margin_path`).
    cac : CAC per channel; channels with a finite CAC are drawn, in the order of ``cac``.
    panels : True draws one panel per channel, False one Axes; None (default) panels when
        there are more than :data:`MAX_PAYBACK_LINES` paid channels. Panels take the place of
        ``ax`` (a subfigure of its figure) or make a new figure; the first panel is returned.
    **kwargs : passed to ``ax.plot``.
    """
    if not isinstance(path, pd.DataFrame) or path.empty:
        raise ValueError("path must be a non-empty DataFrame")
    order = [c for c in cac.index if c in path.columns] + [c for c in path.columns if c not in cac.index]
    paid = list(dict.fromkeys(c for c in order if np.isfinite(cac.get(c, np.nan))))
    if not paid:
        raise ValueError("no channel of path has a CAC")
    use_panels = len(paid) > MAX_PAYBACK_LINES if panels is None else bool(panels)
    if use_panels and len(paid) > 1 and (ax is None or ax.get_subplotspec() is not None):
        return _payback_panels(path, cac, paid, currency, ax, **kwargs)
    ax = _axes(ax, size=(9, 4.2))
    palette = (MAIN, SECOND, GOOD, BAD, "#8c6bb1", "#8c564b", "#e377c2", "#17becf", GREY, "#bcbd22")
    colors = dict(zip(paid, palette * 3))
    for ch in paid:
        ax.plot(path.index, path[ch], color=colors[ch], lw=2, label=str(ch), **kwargs)
        ax.axhline(cac[ch], color=colors[ch], ls="--", lw=1)
    ax.set_xlabel("Months since the first purchase")
    _money(ax.yaxis, currency)
    ax.set_title("Payback: cumulative margin (lines) against CAC (dashed)")
    fit_ylabel(ax, f"Cumulative margin per new customer ({currency})")
    ax.tick_params(labelsize=tick_points())
    ax.set_ylim(0, max(float(path[paid].max().max()), float(cac[paid].max())) * 1.1)
    # names at the right end of each line and of each CAC line, at least a line apart
    last = path.index[-1]
    wanted = [float(path[ch].iloc[-1]) for ch in paid] + [float(cac[ch]) for ch in paid]
    names = [str(ch) for ch in paid] + [f"CAC {ch} ({cac[ch]:,.2f})" for ch in paid]
    cols = [colors[ch] for ch in paid] * 2
    _end_labels(ax, last, wanted, names, cols)
    return ax


def _end_labels(ax: Axes, x, wanted, names, colors) -> None:
    """Names just right of the plot at heights ``wanted`` (data), moved apart to a line each."""
    size = text_points(tick_points() - 1)
    _, height = axes_points(ax)
    low, high = ax.get_ylim()
    per_pt = (high - low) / max(height, 1.0)
    placed = spread(wanted, 1.3 * size * per_pt, low, high)
    for y, yp, name, color in zip(wanted, placed, names, colors):
        moved = abs(yp - y) > 0.25 * size * per_pt  # a thin line back to its height
        ax.annotate(name, (1.0, y), xycoords=("axes fraction", "data"), xytext=(10 if moved else 6, (yp - y) / per_pt),
                    textcoords="offset points", ha="left", va="center", fontsize=size, color=color,
                    arrowprops=dict(arrowstyle="-", color=color, lw=0.7, shrinkA=1, shrinkB=0) if moved else None)


def _payback_panels(path: pd.DataFrame, cac: pd.Series, paid: list, currency: str, ax: Axes | None,
                    **kwargs) -> Axes:
    """Small multiples of :func:`plot_margin_path`: one panel per paid channel, its curve and its CAC."""
    container, axes = panel_grid(len(paid), ax, panel_width=3.2, panel_height=2.6, extra_height=1.2)
    top = max(float(path[paid].max().max()), float(cac[paid].max())) * 1.12
    small = text_points(tick_points() - 1)
    last = path.index[-1]
    for panel, ch in zip(axes, paid):
        values = path[ch]
        panel.plot(path.index, values, color=MAIN, lw=2, label=str(ch), **kwargs)
        panel.axhline(cac[ch], color=BAD, ls="--", lw=1.2)
        month = _payback_month(values, float(cac[ch]))
        if month is not None:
            panel.plot([month], [cac[ch]], "o", color=BAD, ms=5, zorder=3)
        note = _payback_words(month, last, currency, float(cac[ch])).replace(": ", "\n")
        if cac[ch] > 0.45 * top:  # a high CAC: the note in the lower right, under the rising curve
            panel.text(0.97, 0.04, note, transform=panel.transAxes, ha="right", va="bottom", fontsize=small,
                       color=BAD)
        else:  # a low one: just above its line on the right, under the curve that rose past it
            panel.annotate(note, (0.97, cac[ch]), xycoords=("axes fraction", "data"), xytext=(0, 4),
                           textcoords="offset points", ha="right", va="bottom", fontsize=small, color=BAD)
        panel.set_ylim(0, top)
        _money(panel.yaxis, currency)
        panel.tick_params(labelsize=small)
        panel.set_title(str(ch), fontsize=text_points(tick_points()))
        panel.set_xlabel("Months since the first purchase", fontsize=small)
        if panel.get_subplotspec().is_first_col():
            fit_ylabel(panel, f"Cumulative margin per new customer ({currency})", fontsize=small)
    container.suptitle("Payback: cumulative margin of a new customer (line) against the channel's CAC (dashed)",
                       fontsize=text_points(tick_points()) + 1)
    return axes[0]


def plot_tracking(tracking: pd.DataFrame, cumulative: bool = True, *, ax: Axes | None = None, **kwargs) -> Axes:
    """Repeat purchases week by week (or cumulated): actual against the model, calibration end marked.

    Parameters
    ----------
    tracking : :func:`lclib.analysis.clv.weekly_tracking` output (``week_end``,
        ``actual``, ``model``, ``actual_cumulative``, ``model_cumulative``;
        ``attrs["calibration_end"]`` draws the dashed line where the holdout starts).
    cumulative : cumulative totals (True) or purchases per week.
    **kwargs : passed to both ``ax.plot`` calls.
    """
    columns = ("actual_cumulative", "model_cumulative") if cumulative else ("actual", "model")
    _need(tracking, ("week_end", *columns), "tracking")
    if tracking.empty:
        raise ValueError("tracking must have at least one week")
    ax = _axes(ax)
    ax.plot(tracking["week_end"], tracking[columns[0]], color=MAIN, label="actual", **kwargs)
    ax.plot(tracking["week_end"], tracking[columns[1]], color=SECOND, ls="--", label="model", **kwargs)
    split = tracking.attrs.get("calibration_end")
    if split is not None:
        ax.axvline(pd.Timestamp(split), color=GREY, ls=":", label="end of calibration")
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("Week ending (date)")
    thousands(ax.yaxis)
    ax.set_title("Cumulative repeat purchases: actual vs model" if cumulative
                 else "Weekly repeat purchases: actual vs model")
    ax.legend(frameon=False)
    fit_ylabel(ax, "Repeat purchases, cumulative (count)" if cumulative else "Repeat purchases per week (count)")
    return ax
