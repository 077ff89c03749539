"""Figures of the journey map (see :mod:`lclib.analysis.journey`, :mod:`lclib.analysis.kpis`, :mod:`lclib.analysis.attribution`).

Every function takes ``ax=None`` (a new figure when None), checks its input first
(ValueError), titles the plot, labels both axes with units and returns the Axes.
All of them draw aggregates (stage counts, channel x stage cells, paths), never people.
"""

from __future__ import annotations


import matplotlib.colors as mcolors
import matplotlib.patches as mpatches
import matplotlib.ticker as mticker
from matplotlib.font_manager import FontProperties
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from lclib.plots.base import (BAD, GOOD, GREY, MAIN, READABLE_PT, SECOND, _axes, axes_points, root_figure,
                              text_length, thousands, tick_points)
from lclib.plots.base import need_columns as _need
from lclib.analysis.journey_findings import kpi_text

_STATUS_COLOR = {"met": GOOD, "below": BAD, "no target": GREY, "not measurable": GREY}
_STATUS_MARK = {"met": "on target", "below": "below target", "no target": "no target",
                "not measurable": "not measurable"}




#: A KPI value as readers see it ("50.4 %", "12,708 visits", "NPS +12", "n/a"): the report's words,
#: one definition (:func:`lclib.analysis.journey_findings.kpi_text`).
format_kpi = kpi_text


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


#: Day values a log time axis may be labelled at, in words, most important first (see :func:`day_ticks`).
DAY_TICKS = (
    (1, "1 day"), (7, "1 week"), (30, "1 month"), (365, "1 year"), (1 / 24, "1 hour"), (91, "3 months"),
    (3, "3 days"), (14, "2 weeks"), (182, "6 months"), (730, "2 years"), (6 / 24, "6 hours"), (2, "2 days"),
    (61, "2 months"), (1825, "5 years"), (10 / 1440, "10 minutes"), (1 / 1440, "1 minute"), (3 / 24, "3 hours"),
    (0.5, "12 hours"), (4, "4 days"), (5, "5 days"), (10, "10 days"), (20, "20 days"), (45, "45 days"),
    (120, "4 months"), (270, "9 months"), (1095, "3 years"),
)


def days_in_words(days: float) -> str:
    """A number of days as a reader says it: "0.4 days", "2.6 days", "9 days", "47 days", "1 day"."""
    if not np.isfinite(days):
        return "n/a"
    text = f"{days:,.1f}".removesuffix(".0") if days < 10 else f"{days:,.0f}"
    return f"{text} day" if text == "1" else f"{text} days"


def day_ticks(low: float, high: float, width: float, fontproperties, fig, pad: float = 10.0) -> list[tuple[float, str]]:
    """Ticks in words ("1 day", "1 week", "1 month") for a log axis of days from ``low`` to ``high``
    drawn ``width`` points wide: the most important values first, each kept only where its label
    does not touch one already kept (``pad`` points apart), in increasing order."""
    span = np.log(high) - np.log(low)
    kept: list[tuple[float, float, float, str]] = []  # (left, right, value, label)
    for value, label in DAY_TICKS:
        if not low <= value <= high:
            continue
        centre = (np.log(value) - np.log(low)) / span * width
        half = text_length(label, fontproperties, fig) / 2 + pad / 2
        if all(centre + half <= left or centre - half >= right for left, right, _, _ in kept):
            kept.append((centre - half, centre + half, value, label))
    return [(value, label) for _, _, value, label in sorted(kept, key=lambda k: k[2])]


def plot_stage_times(times: pd.DataFrame, *, title: str | None = None, ax: Axes | None = None) -> Axes:
    """Time from stage to stage: median, quartiles (box) and 10-90 % (whiskers), log scale.

    The day axis is labelled in words ("1 day", "1 week", "1 month"...), as many as fit
    without touching at the figure's size, and each step is written out beside its whisker
    ("median 2.6 days, 90 % within 9 days").

    Parameters
    ----------
    times : :func:`lclib.analysis.journey.stage_times` output.
    """
    _need(times, ("label", "from_stage", "people", "p10_days", "p25_days", "median_days", "p75_days", "p90_days",
                  "mean_days"), "times")
    t = times.loc[times["people"] > 0]
    if t.empty:
        raise ValueError("nobody made any step between stages: nothing to draw")
    ax = _axes(ax, size=(9, 1.2 + 0.8 * len(t)))
    floor = 0.01  # days; a log axis cannot show 0
    stats = [dict(label=f"{r.label}\n(from {r.from_stage.replace('_', ' ')}, n={r.people:,})",
                  whislo=max(r.p10_days, floor), q1=max(r.p25_days, floor), med=max(r.median_days, floor),
                  q3=max(r.p75_days, floor), whishi=max(r.p90_days, floor), mean=max(r.mean_days, floor),
                  fliers=[]) for r in t.itertuples(index=False)]
    ax.bxp(stats, orientation="horizontal", showmeans=False, patch_artist=True, widths=0.42,
           boxprops=dict(facecolor=MAIN, alpha=0.5), medianprops=dict(color=SECOND, lw=2))
    size = max(READABLE_PT, tick_points("x") - 1)
    notes = []
    for i, (r, st) in enumerate(zip(t.itertuples(index=False), stats), start=1):  # above each box
        notes.append(ax.text(st["whislo"], i - 0.26, f"median {days_in_words(r.median_days)}, "
                             f"90 % within {days_in_words(r.p90_days)}", ha="left", va="bottom", fontsize=size,
                             color="#333333"))
    ax.set_xscale("log")
    ax.set_ylim(len(t) + 0.5, 0.35)  # the first row's note fits under the top
    ax.set_xlabel("Time from the previous stage (log scale; box 25-75 %, whiskers 10-90 % of people)")
    ax.set_ylabel("Stage reached")
    ax.set_title(title or "How long each step of the journey takes")
    ax.tick_params(axis="x", labelsize=tick_points("x"))
    # the day range, widened on the right until every note fits inside the plot
    fig = root_figure(ax)
    low = min(st["whislo"] for st in stats) / 1.6
    starts = np.log([st["whislo"] for st in stats])
    lengths = np.array([text_length(n.get_text(), n.get_fontproperties(), fig) for n in notes])
    width, _ = axes_points(ax)
    high = max(st["whishi"] for st in stats) * 1.6
    for _ in range(4):  # a fixed point: the scale depends on the range it sets
        span = np.log(high) - np.log(low)
        high = max(high, float(np.exp(np.max(starts + 1.04 * lengths / max(width, 1.0) * span))))
    ax.set_xlim(low, high)
    width, _ = axes_points(ax)
    ticks = day_ticks(low, high, width, FontProperties(size=tick_points("x")), fig)
    ax.xaxis.set_major_locator(mticker.FixedLocator([v for v, _ in ticks]))
    ax.xaxis.set_major_formatter(mticker.FixedFormatter([lab for _, lab in ticks]))
    ax.xaxis.set_minor_locator(mticker.NullLocator())
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
