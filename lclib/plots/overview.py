"""Figures of the data overview (see :mod:`lclib.analysis.overview`)."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import pandas as pd
from matplotlib.axes import Axes

from lclib.plots.base import BAD, MAIN, _axes, analysis_end, mark_partial, partial_periods, percent


def plot_monthly(monthly: pd.DataFrame, column: str, ylabel: str, title: str, *, color: str = "#3b75af",
                 xlabel: str | None = "Month", as_of=None, ax: Axes | None = None, **kwargs) -> Axes:
    """Bar chart of one column of a month-indexed frame (see :func:`lclib.analysis.overview.monthly_activity`).

    Parameters
    ----------
    monthly : frame indexed by a monthly PeriodIndex.
    column : column to draw.
    ylabel : axis label including the unit, e.g. "Revenue (EUR per month)".
    title : figure title.
    xlabel : x-axis label; None leaves it off (the upper of two stacked charts sharing the axis).
    as_of : exclusive end of the data (``resolve_as_of``; default ``monthly.attrs["as_of"]`` when
        set). A month it cuts is drawn lighter and hatched and labelled "partial: to <last day>",
        so that it is not read as a drop; months starting on or after it are left out.
    The x-axis spans the months of the table, without empty room after the last one.
    """
    if column not in monthly:
        raise ValueError(f"column {column!r} not in the monthly table ({list(monthly.columns)})")
    ax = _axes(ax)
    as_of = analysis_end(as_of, monthly)
    if as_of is not None and isinstance(monthly.index, pd.PeriodIndex):
        monthly = monthly.loc[monthly.index.start_time < as_of]
    x = monthly.index.to_timestamp()
    values = monthly[column].to_numpy()
    bars = ax.bar(x, values, width=25, color=color, **kwargs)
    partial = partial_periods(monthly.index, as_of)
    if partial.any():
        mark_partial([b for b, p in zip(bars, partial) if p], color)
        last_day = as_of - pd.Timedelta(days=1)
        for xi, v in zip(x[partial], values[partial]):
            ax.annotate(f"partial:\nto {last_day.day} {last_day:%b}", (xi, v), xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom", fontsize=8, color="#555555")
        ax.margins(y=0.12)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if xlabel:
        ax.set_xlabel(xlabel)
    if len(x):
        ax.set_xlim(x.min() - pd.Timedelta(days=20), x.max() + pd.Timedelta(days=20))
        step = next(k for k, most in ((1, 12), (3, 36), (6, 72), (12, None)) if most is None or len(x) <= most)
        ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=range(1, 13, step)))  # whole months, never mid-month
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m"))
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.grid(axis="y", alpha=0.3)
    ax.grid(axis="x", visible=False)  # no vertical line through the bars
    return ax


def plot_ledger(summary: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Share of rows kept and dropped per table (from ``Ledger.summary()``), labelled with counts."""
    need = {"table", "rows_in", "rows_kept", "rows_dropped"}
    if not need <= set(summary.columns):
        raise ValueError(f"ledger summary needs columns {sorted(need)}")
    ax = _axes(ax, size=(9, 0.6 + 0.45 * len(summary)))
    total = summary["rows_in"].where(summary["rows_in"] > 0, 1)
    kept, dropped = summary["rows_kept"] / total, summary["rows_dropped"] / total
    y = list(range(len(summary)))
    ax.barh(y, kept, color=MAIN, label="kept")
    if dropped.any():  # no empty legend entry when nothing was dropped
        ax.barh(y, dropped, left=kept, color=BAD, label="dropped")
    for yi, k, d in zip(y, summary["rows_kept"], summary["rows_dropped"]):
        ax.text(0.01, yi, f"{k:,} kept" + (f", {d:,} dropped" if d else ""), va="center",
                color="white", fontsize=9)
    ax.set_yticks(y, summary["table"])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    percent(ax.xaxis)
    ax.set_xlabel("Share of rows read (%)")
    ax.set_title("Rows kept and dropped by cleaning, per table")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return ax
