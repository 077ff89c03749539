"""Figures of lifecycle states (see :mod:`lclib.analysis.stages`)."""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from lclib.plots.base import (BAD, GOOD, GREY, MAIN, SECOND, _axes, analysis_end, mark_partial, partial_periods,
                              percent, thousands)
from lclib.analysis.stages import STATE_LABELS, STATES, Transitions

#: One colour per state, shared by every figure of the topic.
STATE_COLOURS = {
    "prospect": "#c9c9c9",
    "registered_no_purchase": GREY,
    "new": GOOD,
    "active": MAIN,
    "reactivated": "#8c6bb1",
    "at_risk": SECOND,
    "lapsed": BAD,
}
#: States stacked above the axis in :func:`plot_lifecycle`, bottom first.
ABOVE = ("new", "reactivated", "active", "at_risk")


def plot_lifecycle(counts: pd.DataFrame, lapsed: str = "newly", above=ABOVE, *, as_of=None, ax: Axes | None = None,
                   **kwargs) -> Axes:
    """Monthly lifecycle bars: buyer states stacked above the axis, lapsed customers below.

    Parameters
    ----------
    counts : from :func:`lclib.analysis.stages.monthly_state_counts` (month x state counts and
        ``newly_lapsed``).
    lapsed : ``"newly"`` (default) draws the customers who lapsed during the month below
        the axis, as product-analytics lifecycle charts draw "dormant" users; ``"all"``
        draws every lapsed customer at the month end.
    above : states stacked above the axis, bottom first.
    as_of : exclusive end of the data (default ``counts.attrs["as_of"]`` when set). A month it
        cuts (not over yet) is drawn lighter and hatched with a note; ``monthly_state_counts``
        holds ended months only, so this marks something only for tables built otherwise.
    **kwargs : passed to ``Axes.bar``.
    """
    if lapsed not in ("newly", "all"):
        raise ValueError(f"lapsed must be 'newly' or 'all', got {lapsed!r}")
    need = [*above, "lapsed", "newly_lapsed"]
    missing = [c for c in need if c not in counts]
    if missing:
        raise ValueError(f"counts lack column(s) {missing}; pass monthly_state_counts(...)")
    if not isinstance(counts.index, pd.PeriodIndex):
        raise ValueError("counts must be indexed by month (PeriodIndex)")
    ax = _axes(ax, size=(9, 4.2))
    x = counts.index.to_timestamp()
    bottom = np.zeros(len(counts))
    for s in above:
        v = counts[s].to_numpy(dtype=float)
        ax.bar(x, v, bottom=bottom, width=25, color=STATE_COLOURS[s], label=STATE_LABELS[s], **kwargs)
        bottom += v
    down = counts["newly_lapsed" if lapsed == "newly" else "lapsed"].to_numpy(dtype=float)
    ax.bar(x, -down, width=25, color=STATE_COLOURS["lapsed"],
           label="Lapsed during the month" if lapsed == "newly" else "Lapsed (all)", **kwargs)
    partial = partial_periods(counts.index, analysis_end(as_of, counts))
    if partial.any():
        for bars in ax.containers:  # one per stacked state
            mark_partial([p for p, cut in zip(bars.patches, partial) if cut])
    ax.axhline(0, color="black", linewidth=0.8)
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{abs(v):,.0f}"))
    ax.set_title("Customers by lifecycle state at each month end")
    ax.set_ylabel("Customers (lapsed below the axis)")
    ax.set_xlabel("Month" + (" (hatched: month not over yet)" if partial.any() else ""))
    ax.grid(axis="y", alpha=0.3)
    ax.xaxis.set_major_locator(mdates.MonthLocator(bymonth=(1, 4, 7, 10)))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%b\n%Y"))
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=len(above) + 1, frameon=False)  # clear of "Month"
    return ax


def plot_transitions(transitions: Transitions, *, min_people: int = 1, ax: Axes | None = None, **kwargs) -> Axes:
    """Heat map of month-to-month transition shares, each cell labelled with share and count.

    Parameters
    ----------
    transitions : from :func:`lclib.analysis.stages.transition_matrix`.
    min_people : rows (origin states) with fewer people than this are left out.
    **kwargs : passed to ``Axes.imshow``.
    """
    if not isinstance(transitions, Transitions):
        raise ValueError("transitions must come from lclib.analysis.stages.transition_matrix")
    counts = transitions.counts
    rows = counts.index[counts.sum(axis=1) >= min_people]
    cols = [c for c in counts.columns if counts[c].sum() > 0]
    if not len(rows) or not cols:
        raise ValueError("no transitions to draw (fewer than two month ends?)")
    shares = transitions.shares.loc[rows, cols]
    n = counts.loc[rows, cols]
    ax = _axes(ax, size=(9, 0.9 + 0.5 * len(rows)))
    im = ax.imshow(shares.to_numpy(dtype=float), cmap=kwargs.pop("cmap", "Blues"), vmin=0, vmax=1,
                   aspect="auto", **kwargs)
    for i in range(len(rows)):  # a loop over the handful of states
        for j in range(len(cols)):
            if n.iat[i, j]:
                v = shares.iat[i, j]
                ax.text(j, i, f"{v:.0%}\n({n.iat[i, j]:,})", ha="center", va="center", fontsize=8,
                        color="white" if v > 0.6 else "black")
    ax.set_xticks(range(len(cols)), [STATE_LABELS[c] for c in cols], rotation=25, ha="right")
    ax.set_yticks(range(len(rows)), [STATE_LABELS[r] for r in rows])
    ax.set_xlabel("State at the end of the next month")
    ax.set_ylabel("State at the end of a month")
    ax.set_title(f"Where people go from one month end to the next (row shares, {transitions.pairs} month pairs)")
    cbar = ax.figure.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    cbar.set_label("Share of the row (%)")
    percent(cbar.ax.yaxis)
    ax.grid(False)
    return ax


def plot_state_counts(summary: pd.DataFrame, *, ax: Axes | None = None, **kwargs) -> Axes:
    """Horizontal bars of people per state, labelled with count and share.

    Shares have one decimal, as in the report's state table (0.3 %, not 0 %).

    Parameters
    ----------
    summary : from :func:`lclib.analysis.stages.state_summary`.
    **kwargs : passed to ``Axes.barh``.
    """
    need = {"people", "share"}
    if not need <= set(summary.columns) or not set(summary.index) <= set(STATES):
        raise ValueError(f"summary needs columns {sorted(need)} and an index of states; pass state_summary(...)")
    ax = _axes(ax, size=(9, 0.8 + 0.4 * len(summary)))
    y = np.arange(len(summary))
    ax.barh(y, summary["people"], color=[STATE_COLOURS[s] for s in summary.index], **kwargs)
    top = max(float(summary["people"].max()), 1.0)
    for yi, (n, sh) in enumerate(zip(summary["people"], summary["share"])):
        ax.text(n + top * 0.01, yi, f"{n:,} ({sh:.1%})" if pd.notna(sh) else f"{n:,}", va="center", fontsize=9)
    ax.set_yticks(y, [STATE_LABELS[s] for s in summary.index])
    ax.invert_yaxis()
    ax.set_xlim(0, top * 1.18)
    thousands(ax.xaxis)
    ax.set_xlabel("Number of people")
    ax.set_title("People per lifecycle state")
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", visible=False)  # no line through the count labels
    return ax
