"""Figures of the RFM report (see :mod:`lclib.analysis.rfm`).

Every function takes ``ax=None`` (a new figure when None), checks its input first
(ValueError), titles the plot, labels both axes with units and returns the Axes.
All draw aggregates (segment tables, score grids, migration counts), never one
mark per customer.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.font_manager import FontProperties
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path as MplPath

from lclib.plots.base import (BAD, MAIN, SECOND, _axes, axes_points, percent, root_figure, spread, text_length,
                              thousands, tick_points)
from lclib.plots.base import need_columns as _need

#: One colour per segment position (11 default segments, then repeated).
SEGMENT_COLOURS = (
    "#1b7837", "#5aae61", "#a6dba0", "#3b75af", "#92c5de", "#f1b6da",
    "#fdb863", "#e08214", "#d9534f", "#b2abd2", "#8c8c8c",
)

#: Colour of the flows of customers that were not in any segment before.
NEW_COLOUR = "#17becf"




def _colours(names: Sequence[str]) -> dict[str, str]:
    return {name: SEGMENT_COLOURS[i % len(SEGMENT_COLOURS)] for i, name in enumerate(names)}


def plot_rfm_distribution(rfm: pd.DataFrame, column: str, currency: str = "EUR", *, max_orders: int = 10,
                          ax: Axes | None = None, **kwargs) -> Axes:
    """Customers by recency, frequency or monetary value (bars of binned counts).

    Parameters
    ----------
    rfm : one row per customer (:func:`lclib.engine.rfm_table.rfm_table` output).
    column : ``"recency_days"`` (30-day bins), ``"frequency"`` (one bar per order
        count, the last bar ``max_orders`` or more) or ``"monetary_total"``
        (20 bins up to the 99th percentile, the last bar holding everything above).
    currency : label of the monetary unit.
    max_orders : frequencies from this value up share the last bar.
    **kwargs : passed to ``ax.bar``.
    """
    labels = {"recency_days": "Days since the last purchase (30-day bins)",
              "frequency": "Orders per customer",
              "monetary_total": f"Total spent ({currency} per customer; last bar: top 1 %)"}
    if column not in labels:
        raise ValueError(f"column must be one of {list(labels)}, got {column!r}")
    _need(rfm, (column,), "rfm")
    if max_orders < 2:
        raise ValueError(f"max_orders must be >= 2, got {max_orders}")
    values = rfm[column].to_numpy(dtype="float64")
    ax = _axes(ax, size=(4, 3))
    if column == "frequency":
        clipped = np.minimum(values, max_orders).astype("int64")
        counts = np.bincount(clipped, minlength=max_orders + 1)[1:]
        x = np.arange(1, max_orders + 1)
        ax.bar(x, counts, width=0.8, color=MAIN, **kwargs)
        ax.set_xticks(x, [str(v) for v in x[:-1]] + [f"{max_orders}+"])
    else:
        top = np.nanpercentile(values, 99) if column == "monetary_total" else np.nanmax(values)
        step = 30.0 if column == "recency_days" else max(top, 1e-9) / 20
        edges = np.arange(0, max(top, step) + step, step)
        counts, edges = np.histogram(np.clip(values, edges[0], edges[-1]), bins=edges)
        ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=MAIN, edgecolor="white",
               **kwargs)
    thousands(ax.yaxis)
    ax.set_xlabel(labels[column])
    ax.set_ylabel("Customers")
    ax.set_title({"recency_days": "Recency", "frequency": "Frequency", "monetary_total": "Monetary value"}[column])
    return ax


def plot_segment_shares(summary: pd.DataFrame, *, ax: Axes | None = None, **kwargs) -> Axes:
    """Share of customers and share of revenue per segment, side by side.

    Parameters
    ----------
    summary : :func:`lclib.analysis.rfm.segment_summary` output (``share_customers``,
        ``share_revenue``, ``customers``; one row per segment). Each tick label
        reads "Segment (customers)".
    **kwargs : passed to both ``ax.barh`` calls.
    """
    _need(summary, ("customers", "share_customers", "share_revenue"), "summary")
    ax = _axes(ax, size=(9, 0.8 + 0.38 * len(summary)))
    y = np.arange(len(summary))
    h = 0.4
    ax.barh(y - h / 2, summary["share_customers"].fillna(0), height=h, color=MAIN, label="customers", **kwargs)
    ax.barh(y + h / 2, summary["share_revenue"].fillna(0), height=h, color=SECOND, label="revenue", **kwargs)
    # the customer count goes into the segment's tick label, in the ticks' own size and colour
    ax.set_yticks(y, [f"{s} ({int(n):,})" for s, n in zip(summary.index, summary["customers"])])
    ax.invert_yaxis()
    percent(ax.xaxis)
    ax.set_xlabel("Share of all customers / of all revenue (%)")
    ax.set_ylabel("Segment (customers)")
    ax.set_title("Segment size against the revenue it brings")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)  # beside the bars, never over one
    ax.grid(axis="y", visible=False)
    return ax


def plot_rf_heatmap(heat: pd.DataFrame, currency: str = "EUR", *, empty: str = "drop", ax: Axes | None = None,
                    **kwargs) -> Axes:
    """R x F grid shaded by mean monetary value, each cell labelled with its customers.

    Parameters
    ----------
    heat : :func:`lclib.analysis.rfm.rf_heatmap_table` output (index ``r_score``, columns
        ``(stat, f_score)`` with stats ``customers`` and ``mean_monetary_total``).
    currency : label of the monetary unit.
    empty : what to do with a score that no customer has (with the quantile method a frequency
        score is skipped when many customers tie, e.g. over half ordered once): ``"drop"``
        (default) leaves its column or row out and says so in the axis label; ``"label"``
        keeps it, written "no customers".
    **kwargs : passed to ``ax.imshow`` (e.g. ``cmap``).
    """
    if not isinstance(heat, pd.DataFrame) or not isinstance(heat.columns, pd.MultiIndex):
        raise ValueError("heat must be the rf_heatmap_table() output (MultiIndex columns)")
    stats = set(heat.columns.get_level_values(0))
    if not {"customers", "mean_monetary_total"} <= stats:
        raise ValueError(f"heat needs stats 'customers' and 'mean_monetary_total', has {sorted(stats)}")
    if empty not in ("drop", "label"):
        raise ValueError(f"empty must be 'drop' or 'label', got {empty!r}")
    counts = heat["customers"].sort_index(ascending=False)  # best recency at the top
    means = heat["mean_monetary_total"].sort_index(ascending=False)
    empty_f = [f for f in counts.columns if counts[f].sum() == 0]
    empty_r = [r for r in counts.index if counts.loc[r].sum() == 0]
    if empty == "drop" and len(empty_f) < counts.shape[1] and len(empty_r) < counts.shape[0]:
        counts = counts.drop(index=empty_r, columns=empty_f)
        means = means.drop(index=empty_r, columns=empty_f)
    ax = _axes(ax, size=(7.5, 4.8))
    img = ax.imshow(np.ma.masked_invalid(means.to_numpy(dtype="float64")), aspect="auto",
                    cmap=kwargs.pop("cmap", "YlGn"), **kwargs)
    bar = ax.figure.colorbar(img, ax=ax, pad=0.02)
    bar.set_label(f"Mean monetary value ({currency} per customer)")
    finite = means.to_numpy(dtype="float64")
    threshold = np.nanmax(finite) * 0.6 if np.isfinite(finite).any() else np.inf
    for i, r in enumerate(counts.index):
        for j, f in enumerate(counts.columns):
            n, m = int(counts.loc[r, f]), means.loc[r, f]
            if n:
                text = f"{n:,}\n{m:,.0f} {currency}"
            else:
                text = "no customers" if f in empty_f or r in empty_r else "-"
            ax.text(j, i, text, ha="center", va="center", fontsize=9 if n else 8,
                    color="white" if np.isfinite(m) and m > threshold else ("black" if n else "#777777"))
    ax.set_xticks(range(len(counts.columns)), [str(c) for c in counts.columns])
    ax.set_yticks(range(len(counts.index)), [str(r) for r in counts.index])
    xlabel = "Frequency score F (1 = fewest orders, 5 = most)"
    ylabel = "Recency score R (5 = most recent)"
    dropped_f = [f for f in empty_f if f not in counts.columns]
    dropped_r = [r for r in empty_r if r not in counts.index]
    if dropped_f:
        xlabel += (f"\nscore {_listed(dropped_f)} not shown: no customer has it "
                   "(many customers share the same number of orders)")
    if dropped_r:
        ylabel += f"\nscore {_listed(dropped_r)} not shown: no customer"
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(f"Customers per R x F cell (count, mean {currency})")
    ax.grid(False)
    return ax


def _listed(values) -> str:
    """1 -> "1"; [2, 3] -> "2 and 3"."""
    values = [str(v) for v in values]
    return values[0] if len(values) == 1 else ", ".join(values[:-1]) + " and " + values[-1]


def plot_migration_matrix(migration: pd.DataFrame, *, labels: tuple[str, str] | None = None,
                          ax: Axes | None = None, **kwargs) -> Axes:
    """Where each segment's customers went: row shares shaded, counts written.

    Parameters
    ----------
    migration : :func:`lclib.analysis.rfm.segment_migration` output (counts; rows segment
        before plus ``"(new)"``, columns segment after).
    labels : names of the two snapshots, e.g. their dates (axis labels read
        "Segment on <label>"); default "before" and "after".
    **kwargs : passed to ``ax.imshow`` (e.g. ``cmap``).
    """
    if not isinstance(migration, pd.DataFrame) or migration.empty:
        raise ValueError("migration must be a non-empty segment_migration() table")
    counts = migration.to_numpy(dtype="float64")
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise ValueError("migration counts must be finite and non-negative")
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    ax = _axes(ax, size=(10, 1.6 + 0.42 * len(migration)))
    img = ax.imshow(shares, aspect="auto", cmap=kwargs.pop("cmap", "Blues"), vmin=0, vmax=1, **kwargs)
    bar = ax.figure.colorbar(img, ax=ax, pad=0.01)
    bar.set_label("Share of the row's customers (%)")
    percent(bar.ax.yaxis)
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            if counts[i, j]:
                ax.text(j, i, f"{int(counts[i, j]):,}", ha="center", va="center", fontsize=9,
                        color="white" if shares[i, j] > 0.55 else "black")
    rows = [f"{name} ({int(t):,})" for name, t in zip(migration.index, totals[:, 0])]
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xticks(range(migration.shape[1]), [str(c) for c in migration.columns], rotation=35, ha="right")
    before, after = labels if labels is not None else ("before", "after")
    ax.set_ylabel(f"Segment {'on ' if labels else ''}{before} (customers)")
    ax.set_xlabel(f"Segment {'on ' if labels else ''}{after}")
    ax.set_title("Segment migration: where each segment's customers went (number of customers)")
    ax.grid(False)
    return ax


def plot_migration_flow(migration: pd.DataFrame, *, min_share: float = 0.0, labels: tuple[str, str] | None = None,
                        title: str | None = None, ax: Axes | None = None, **kwargs) -> Axes:
    """Flow diagram of segment migration: stacked segments before (left) and after (right).

    Each band joins a segment before to a segment after with a width
    proportional to the customers moving; bands take the colour of their
    origin (rows that are not a segment, such as ``"(new)"``, are teal).
    Each block is named with its customers in the size of tick labels (at least
    9 points); names of small neighbouring blocks are moved apart to a line each
    and joined to their block by a thin line, and the plot is made wide enough
    for the longest name.

    Parameters
    ----------
    migration : :func:`lclib.analysis.rfm.segment_migration` output (counts).
    min_share : bands below this share of all customers are not drawn (the
        stacked bars still count them), to keep the picture readable.
    labels : names of the two snapshots, e.g. their dates (default: the
        index and column names of ``migration``).
    title : default "How customers moved between segments".
    **kwargs : passed to each band's ``PathPatch`` (e.g. ``alpha``).
    """
    if not isinstance(migration, pd.DataFrame) or migration.empty:
        raise ValueError("migration must be a non-empty segment_migration() table")
    counts = migration.to_numpy(dtype="float64")
    if (counts < 0).any() or not np.isfinite(counts).all():
        raise ValueError("migration counts must be finite and non-negative")
    total = counts.sum()
    if total <= 0:
        raise ValueError("migration has no customers: nothing to draw")
    if not 0 <= min_share < 1:
        raise ValueError(f"min_share must be in [0, 1), got {min_share}")

    ax = _axes(ax, size=(9, max(7.0, 1.6 + 0.45 * max(counts.shape))))
    gap = 0.012 * total
    colours = _colours([str(c) for c in migration.columns])
    left_names = [str(i) for i in migration.index]
    right_names = [str(c) for c in migration.columns]
    left_colour = [colours.get(n, NEW_COLOUR) for n in left_names]

    def stack(sizes: np.ndarray) -> np.ndarray:
        """Top position of each block, stacked downwards from 0 with gaps."""
        tops = np.zeros(len(sizes))
        position = 0.0
        for i, size in enumerate(sizes):
            tops[i] = position
            position -= size + (gap if size > 0 else 0)
        return tops

    out_sizes, in_sizes = counts.sum(axis=1), counts.sum(axis=0)
    left_top, right_top = stack(out_sizes), stack(in_sizes)
    x0, x1, width = 0.0, 1.0, 0.06
    sides = ((left_top, out_sizes, left_names, x0 - width, "right", left_colour),
             (right_top, in_sizes, right_names, x1, "left", [colours[n] for n in right_names]))
    for tops, sizes, names, x, align, cols in sides:
        for top, size, name, colour in zip(tops, sizes, names, cols):
            if size > 0:
                ax.add_patch(Rectangle((x, top - size), width, size, color=colour, lw=0))

    # Bands: leave each left block top-down in right-segment order, enter each
    # right block top-down in left-segment order.
    left_cursor, right_cursor = left_top.copy(), right_top.copy()
    patch_kw = {"alpha": 0.45, "lw": 0, **kwargs}
    for i in range(counts.shape[0]):
        for j in range(counts.shape[1]):
            size = counts[i, j]
            if size <= 0:
                continue
            ya, yb = left_cursor[i], right_cursor[j]
            left_cursor[i] -= size
            right_cursor[j] -= size
            if size < min_share * total:
                continue
            xm = (x0 + x1) / 2
            verts = [(x0, ya), (xm, ya), (xm, yb), (x1, yb), (x1, yb - size), (xm, yb - size),
                     (xm, ya - size), (x0, ya - size), (x0, ya)]
            codes = [MplPath.MOVETO, MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4, MplPath.LINETO,
                     MplPath.CURVE4, MplPath.CURVE4, MplPath.CURVE4, MplPath.CLOSEPOLY]
            ax.add_patch(PathPatch(MplPath(verts, codes), facecolor=left_colour[i], **patch_kw))

    bottom = min(left_top[-1] - out_sizes[-1], right_top[-1] - in_sizes[-1]) - gap
    ax.set_ylim(bottom, gap)
    if labels is None:
        labels = (str(migration.index.name or "before"), str(migration.columns.name or "after"))
    ax.set_xticks([x0 - width / 2, x1 + width / 2], list(labels))
    ax.set_yticks([])
    ax.set_xlabel("Snapshot (band width = number of customers moving)")
    ax.set_ylabel(f"Customers ({int(total):,} in all, stacked)")
    ax.set_title(title or "How customers moved between segments")
    ax.grid(False)
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    _flow_labels(ax, sides, x0 - width, x1 + width, gap)
    return ax


def _flow_labels(ax: Axes, sides, left_edge: float, right_edge: float, gap: float) -> None:
    """Name each block of :func:`plot_migration_flow` beside it, in the size of tick labels, at least a line
    apart (a label moved off its block is joined to it by a thin line), and widen the x range until
    the longest names fit inside the plot."""
    size = max(tick_points("x"), tick_points("y"))
    font = FontProperties(size=size)
    fig = root_figure(ax)
    width_pt, height_pt = axes_points(ax)
    y_low, y_high = ax.get_ylim()
    per_pt = (y_high - y_low) / max(height_pt, 1.0)  # data units of y per point
    line = 1.3 * size * per_pt  # one label's height and a little air
    offset, margin = 10.0, 4.0  # points between a block and its names, and at the plot's edges
    texts, widest = [], []
    for tops, sizes, names, _, align, _ in sides:
        shown = [(top - size_ / 2, f"{name} ({int(size_):,})") for top, size_, name in zip(tops, sizes, names)
                 if size_ > 0]
        wanted = np.array([y for y, _ in shown])
        placed = spread(wanted, line, y_low + line / 2, y_high - line / 2)
        texts.append((align, wanted, placed, [t for _, t in shown]))
        widest.append(max((text_length(t, font, fig) for _, t in shown), default=0.0))
    # x range R such that the names (in points) plus the blocks (in data units) fill the width
    room = 1.0 - (sum(widest) + 2 * (offset + margin)) / max(width_pt, 1.0)
    span = (right_edge - left_edge) / max(room, 0.25)
    per_x = span / max(width_pt, 1.0)  # data units of x per point
    ax.set_xlim(left_edge - (widest[0] + offset + margin) * per_x, right_edge + (widest[1] + offset + margin) * per_x)
    for align, wanted, placed, names in texts:
        edge, sign = (left_edge, -1) if align == "right" else (right_edge, 1)
        tx = edge + sign * offset * per_x
        for y, yp, name in zip(wanted, placed, names):
            ax.text(tx, yp, name, ha=align, va="center", fontsize=size)
            if abs(yp - y) > 0.25 * size * per_pt:  # moved off its block: a thin line back to it
                ax.plot([edge + sign * 1.5 * per_x, tx - sign * 1.5 * per_x], [y, yp], color="#888888", lw=0.7,
                        solid_capstyle="butt")


def plot_silhouette(silhouette: pd.Series, *, ax: Axes | None = None, **kwargs) -> Axes:
    """Mean silhouette score per number of clusters, the chosen k marked.

    Parameters
    ----------
    silhouette : :func:`lclib.analysis.rfm.kmeans_personas` third output (index ``k``).
    **kwargs : passed to ``ax.plot``.
    """
    if not isinstance(silhouette, pd.Series) or silhouette.dropna().empty:
        raise ValueError("silhouette must be a non-empty Series indexed by k")
    ax = _axes(ax, size=(7, 3.2))
    ax.plot(silhouette.index, silhouette.to_numpy(), marker="o", color=MAIN, **kwargs)
    best = silhouette.idxmax()
    ax.plot([best], [silhouette.loc[best]], marker="o", ms=12, mfc="none", mec=BAD, mew=2,
            label=f"chosen: k = {best}")
    ax.set_xticks(list(silhouette.index))
    ax.set_xlabel("Number of clusters k")
    ax.set_ylabel("Mean silhouette (-1 to 1)")
    ax.set_title("Choosing the number of personas (higher = better separated)")
    ax.legend(frameon=False)
    return ax


def plot_persona_segments(table: pd.DataFrame, *, ax: Axes | None = None, **kwargs) -> Axes:
    """Which rule segments each k-means persona is made of (share of the persona).

    Parameters
    ----------
    table : :func:`lclib.analysis.rfm.persona_segment_table` output (persona x segment
        counts). Drawn with segments as rows and personas as columns.
    **kwargs : passed to ``ax.imshow`` (e.g. ``cmap``).
    """
    if not isinstance(table, pd.DataFrame) or table.empty:
        raise ValueError("table must be a non-empty persona_segment_table() output")
    counts = table.to_numpy(dtype="float64").T  # segments x personas
    totals = counts.sum(axis=0, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    ax = _axes(ax, size=(4.5 + 1.1 * len(table), 0.9 + 0.4 * table.shape[1]))
    img = ax.imshow(shares, aspect="auto", cmap=kwargs.pop("cmap", "Purples"), vmin=0, vmax=1, **kwargs)
    bar = ax.figure.colorbar(img, ax=ax, pad=0.02)
    bar.set_label("Share of the persona's customers (%)")
    percent(bar.ax.yaxis)
    for i in range(shares.shape[0]):
        for j in range(shares.shape[1]):
            if counts[i, j]:
                ax.text(j, i, f"{shares[i, j]:.0%}", ha="center", va="center", fontsize=8,
                        color="white" if shares[i, j] > 0.55 else "black")
    ax.set_xticks(range(len(table)), [f"Persona {p}\n({int(t):,})" for p, t in zip(table.index, totals[0])])
    ax.set_yticks(range(table.shape[1]), [str(c) for c in table.columns])
    ax.set_xlabel("k-means persona (customers)")
    ax.set_ylabel("Rule segment")
    ax.set_title("Rule segments inside each persona")
    ax.grid(False)
    return ax
