"""Figures of the journey map (see :mod:`lclib.analysis.journey`, :mod:`lclib.analysis.kpis`, :mod:`lclib.analysis.attribution`).

Every function takes ``ax=None`` (a new figure when None), checks its input first
(ValueError), titles the plot, labels both axes with units and returns the Axes.
All of them draw aggregates (stage counts, channel x stage cells, paths), never people.
"""

from __future__ import annotations


import matplotlib.colors as mcolors
import matplotlib.patches as mpatches
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from lclib.plots.base import BAD, GOOD, GREY, MAIN, SECOND, _axes, thousands
from lclib.plots.base import need_columns as _need

_STATUS_COLOR = {"met": GOOD, "below": BAD, "no target": GREY, "not measurable": GREY}
_STATUS_MARK = {"met": "on target", "below": "below target", "no target": "no target",
                "not measurable": "not measurable"}




def format_kpi(value: float, unit: str) -> str:
    """A KPI value as readers see it: "50.4 %", "12,708 visits", "NPS +12", "n/a"."""
    if value is None or not np.isfinite(value):
        return "n/a"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "NPS points":
        return f"NPS {value:+.0f}"
    return f"{value:,.0f} {unit}".strip()


def _ribbon(ax: Axes, x0: float, x1: float, top0: float, bot0: float, top1: float, bot1: float, **kw) -> None:
    """A smooth band from [bot0, top0] at x0 to [bot1, top1] at x1."""
    x = np.linspace(x0, x1, 40)
    s = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, 40))
    ax.fill_between(x, bot0 + (bot1 - bot0) * s, top0 + (top1 - top0) * s, linewidth=0, **kw)


def plot_sankey(counts: pd.DataFrame, *, title: str | None = None, ax: Axes | None = None) -> Axes:
    """Flows between stages and drop-out, drawn from stage counts (matplotlib only).

    Parameters
    ----------
    counts : :func:`lclib.analysis.journey.stage_counts` output (``label``, ``people``, ``lost_after``).
    title : defaults to "Flow of people through the stages, and where they drop out".
    """
    _need(counts, ("label", "people", "lost_after"), "counts")
    n = counts["people"].to_numpy(dtype=float)
    lost = counts["lost_after"].to_numpy(dtype=float)
    if n[0] <= 0:
        raise ValueError("the first stage has no people: nothing to draw")
    k = len(n)
    ax = _axes(ax, size=(10, 4.6))
    w, gap = 0.08, 0.15 * n[0]
    drop_top = -n[0] - gap
    for i in range(k):  # a loop over the handful of stages
        ax.add_patch(mpatches.Rectangle(
            (i - w / 2, -n[i]), w, n[i], color=MAIN, zorder=3))
        ax.text(i, n[0] * 0.04, f"{counts['label'].iloc[i]}\n{n[i]:,.0f} ({n[i] / n[0]:.0%})", ha="center",
                va="bottom", fontsize=9, fontweight="bold")
        if i < k - 1:
            _ribbon(ax, i + w / 2, i + 1 - w / 2, 0, -n[i + 1], 0, -n[i + 1], color=MAIN, alpha=0.35)
            if lost[i] > 0:
                xd = i + 0.55
                _ribbon(ax, i + w / 2, xd - w / 2, -n[i + 1], -n[i], drop_top, drop_top - lost[i], color=BAD,
                        alpha=0.35)
                ax.add_patch(mpatches.Rectangle(
                    (xd - w / 2, drop_top - lost[i]), w, lost[i], color=BAD, zorder=3))
                ax.text(xd + w, drop_top - lost[i] / 2, f"dropped\n{lost[i]:,.0f} ({lost[i] / n[i]:.0%})",
                        va="center", ha="left", fontsize=8, color=BAD)
    ax.set_xlim(-0.5, k - 0.3)
    ax.set_ylim(drop_top - max(lost.max(), n[0] * 0.05) * 1.05, n[0] * 0.3)
    ax.set_xticks([])  # the stage names head the columns
    ax.set_yticks([])
    ax.set_xlabel("Lifecycle stages, left to right (band height = people)")
    ax.set_ylabel("People (band height; red = dropped out)")
    ax.grid(False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_title(title or "Flow of people through the stages, and where they drop out")
    return ax


def plot_journey_map(kpis: pd.DataFrame, counts: pd.DataFrame, matrix: pd.DataFrame, *, title: str | None = None,
                     max_channels: int = 10, ax: Axes | None = None) -> Axes:
    """The ten-second journey map: stages across, channels down, KPI per stage on top, drop-off marked.

    Cells: share of the stage's people the channel touched while they were in it
    (shade) and, written in the cell, the conversion to the next stage of those
    people. Header: each stage's KPI coloured by its status against target, the people
    in the stage, and the share lost between stages in red.

    Parameters
    ----------
    kpis : :func:`lclib.analysis.kpis.stage_kpis` output.
    counts : :func:`lclib.analysis.journey.stage_counts` output (the stages drawn, in order).
    matrix : :func:`lclib.analysis.journey.channel_stage_matrix` output (may be empty).
    max_channels : channels with the most people touched are shown.
    """
    _need(kpis, ("stage", "kpi_label", "value", "unit", "target", "status"), "kpis")
    _need(counts, ("stage", "label", "people", "lost_after"), "counts")
    need_m = ("channel", "stage", "people", "share_of_stage", "conversion")
    if not isinstance(matrix, pd.DataFrame) or not set(need_m) <= set(matrix.columns):
        raise ValueError(f"matrix needs columns {list(need_m)}")
    stages = list(counts["stage"])
    k = len(stages)
    top = (matrix.groupby("channel")["people"].sum().sort_values(ascending=False).index[:max_channels]
           if len(matrix) else pd.Index([]))
    channels = list(top)
    c = len(channels)
    share = np.full((max(c, 1), k), np.nan)
    conv = np.full((max(c, 1), k), np.nan)
    if c:
        m = matrix.loc[matrix["channel"].isin(channels) & matrix["stage"].isin(stages)]
        r = pd.Index(channels).get_indexer(m["channel"])
        s = pd.Index(stages).get_indexer(m["stage"])
        share[r, s] = m["share_of_stage"].to_numpy(dtype=float)
        conv[r, s] = m["conversion"].to_numpy(dtype=float)
    ax = _axes(ax, size=(2.0 + 1.9 * k, 2.4 + 0.42 * max(c, 1)))
    cmap = mcolors.LinearSegmentedColormap.from_list("lc", ["#f4f7fb", MAIN])
    if c:
        ax.imshow(np.ma.masked_invalid(share), cmap=cmap, vmin=0, vmax=max(np.nanmax(share), 0.05), aspect="auto",
                  extent=(-0.5, k - 0.5, c - 0.5, -0.5))
        for i in range(c):  # loops over a handful of channels x stages
            for j in range(k):
                if np.isfinite(share[i, j]):
                    dark = share[i, j] > 0.6 * np.nanmax(share)
                    txt = f"{share[i, j]:.0%}" + (f"\n→ {conv[i, j]:.0%}" if np.isfinite(conv[i, j]) else "")
                    ax.text(j, i, txt, ha="center", va="center", fontsize=8, color="white" if dark else "#222")
    else:
        ax.text((k - 1) / 2, 0, "no channel touchpoints in the data", ha="center", va="center", color=GREY)
    kp = kpis.set_index("stage")
    n = counts["people"].to_numpy(dtype=float)
    for j, st in enumerate(stages):
        row = kp.loc[st] if st in kp.index else None
        color = _STATUS_COLOR.get(row["status"], GREY) if row is not None else GREY
        text = (f"{row['kpi_label']}\n{format_kpi(row['value'], row['unit'])}" if row is not None else "")
        if row is not None and np.isfinite(row["target"]):
            text += f" (target {format_kpi(row['target'], row['unit'])})"
        ax.text(j, -2.35, counts["label"].iloc[j], ha="center", va="center", fontsize=10, fontweight="bold")
        ax.text(j, -1.65, text, ha="center", va="center", fontsize=8, color="white",
                bbox=dict(boxstyle="round,pad=0.3", fc=color, ec="none"))
        ax.text(j, -0.95, f"{n[j]:,.0f} people", ha="center", va="center", fontsize=9)
        if j < k - 1 and n[j] > 0:
            ax.text(j + 0.5, -0.95, f"▼ {counts['lost_after'].iloc[j] / n[j]:.0%}\nlost", ha="center",
                    va="center", fontsize=8, color=BAD, fontweight="bold")
    ax.set_xlim(-0.5, k - 0.5)
    ax.set_ylim(max(c, 1) - 0.5, -2.7)
    ax.set_xticks([])  # the stage names head the columns
    ax.set_yticks(range(c), channels) if c else ax.set_yticks([])
    ax.axhline(-0.5, color="#444", lw=0.8)
    ax.grid(False)
    ax.set_xlabel("Lifecycle stage  (cell: share of the stage's people the channel touched;  "
                  "→ their conversion to the next stage, %)")
    ax.set_ylabel("Channel")
    ax.set_title(title or "Journey map: KPI and drop-off per stage, channels acting at each stage")
    return ax


def plot_stage_times(times: pd.DataFrame, *, title: str | None = None, ax: Axes | None = None) -> Axes:
    """Time from stage to stage: median, quartiles (box) and 10-90 % (whiskers), log scale.

    Parameters
    ----------
    times : :func:`lclib.analysis.journey.stage_times` output.
    """
    _need(times, ("label", "from_stage", "people", "p10_days", "p25_days", "median_days", "p75_days", "p90_days",
                  "mean_days"), "times")
    t = times.loc[times["people"] > 0]
    if t.empty:
        raise ValueError("nobody made any step between stages: nothing to draw")
    ax = _axes(ax, size=(9, 0.9 + 0.6 * len(t)))
    floor = 0.01  # days; a log axis cannot show 0
    stats = [dict(label=f"{r.label}\n(from {r.from_stage.replace('_', ' ')}, n={r.people:,})",
                  whislo=max(r.p10_days, floor), q1=max(r.p25_days, floor), med=max(r.median_days, floor),
                  q3=max(r.p75_days, floor), whishi=max(r.p90_days, floor), mean=max(r.mean_days, floor),
                  fliers=[]) for r in t.itertuples(index=False)]
    ax.bxp(stats, orientation="horizontal", showmeans=False, patch_artist=True,
           boxprops=dict(facecolor=MAIN, alpha=0.5), medianprops=dict(color=SECOND, lw=2))
    for i, r in enumerate(t.itertuples(index=False), start=1):
        ax.text(max(r.p90_days, floor) * 1.15, i, f"median {r.median_days:,.1f} d, p90 {r.p90_days:,.0f} d",
                va="center", fontsize=8)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("Days from the previous stage (log scale; box 25-75 %, whiskers 10-90 %)")
    ax.set_ylabel("Stage reached")
    ax.set_title(title or "How long each step of the journey takes")
    return ax


def plot_top_paths(top: pd.DataFrame, *, title: str | None = None, ax: Axes | None = None) -> Axes:
    """Most common touchpoint paths: people per path (bar) and their conversion rate (label).

    Parameters
    ----------
    top : the first rows of :func:`lclib.analysis.journey.path_counts`.
    """
    _need(top, ("path", "people", "conversion_rate"), "top")
    ax = _axes(ax, size=(9, 0.8 + 0.38 * len(top)))
    y = np.arange(len(top))
    ax.barh(y, top["people"].to_numpy(), color=MAIN)
    for yi, (p, r) in enumerate(zip(top["people"], top["conversion_rate"])):
        ax.text(p, yi, f"  {r:.0%} convert", va="center", fontsize=8)
    ax.set_yticks(y, top["path"])
    ax.invert_yaxis()
    ax.set_xlim(0, top["people"].max() * 1.25)
    thousands(ax.xaxis)
    ax.set_xlabel("People whose touchpoints before a first purchase followed the path (people)")
    ax.set_ylabel("Channel path (first > ... > last touch)")
    ax.set_title(title or "Most common touchpoint paths and how often they convert")
    return ax


def plot_channel_credit(credit: pd.DataFrame, *, title: str | None = None, ax: Axes | None = None) -> Axes:
    """Conversions credited per channel by first touch, last touch and Markov removal effect.

    Parameters
    ----------
    credit : :func:`lclib.analysis.attribution.channel_credit` output.
    """
    _need(credit, ("channel", "first_touch", "last_touch", "markov"), "credit")
    ax = _axes(ax, size=(9, 0.9 + 0.5 * len(credit)))
    y = np.arange(len(credit))
    h = 0.26
    for off, col, lab, color in ((-h, "first_touch", "first touch", GREY), (0, "last_touch", "last touch", SECOND),
                                 (h, "markov", "Markov removal effect", MAIN)):
        ax.barh(y + off, credit[col].to_numpy(dtype=float), height=h, color=color, label=lab)
    ax.set_yticks(y, credit["channel"])
    ax.invert_yaxis()
    thousands(ax.xaxis)
    ax.set_xlabel("Conversions credited (conversions)")
    ax.set_ylabel("Channel")
    ax.legend(loc="lower right", frameon=False, fontsize=8)
    ax.set_title(title or "Which channels earn the conversions: three attribution models")
    return ax
