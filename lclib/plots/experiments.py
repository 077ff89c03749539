"""Figures of the experiments report (see :mod:`lclib.analysis.experiments`).

Every function takes ``ax=None`` (a new figure when None), checks its input first
(ValueError), titles the plot, labels both axes with units and returns the Axes.
"""

from __future__ import annotations


import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D

from lclib.analysis.experiments import METRICS
from lclib.plots.base import BAD, ERROR_BARS, GOOD, GREY, MAIN, SECOND, _axes, percent
from lclib.plots.base import need_columns as _need

_LIFT_COLS = ("experiment", "variant", "metric", "abs_lift", "abs_low", "abs_high", "significant")




def _metric(metric: str) -> tuple[str, str]:
    if metric not in METRICS:
        raise ValueError(f"metric must be one of {list(METRICS)}, got {metric!r}")
    return METRICS[metric]


def plot_lift(comparisons: pd.DataFrame, metric: str = "converted", by: str | None = None, currency: str = "EUR",
              level: float = 0.95, *, title: str | None = None, ax: Axes | None = None, **kwargs) -> Axes:
    """Absolute lift against control with its interval, one row per variant (or group).

    Parameters
    ----------
    comparisons : output of :func:`lclib.analysis.experiments.compare_variants`.
    metric : which metric to draw (rates in percentage points, means in ``currency``).
    by : a breakdown column of ``comparisons`` (e.g. ``"segment"``) used in the row labels;
        rows flagged ``small`` are drawn in grey.
    currency : unit of mean metrics.
    level : confidence level of the intervals (1 - alpha), for the axis label.
    kwargs : passed to ``ax.errorbar``.

    Returns
    -------
    Axes
        Green points: significantly above control; red: significantly below; blue: not
        significant; grey: small groups. A legend names the colours drawn (always with ``by``).
    """
    kind, label = _metric(metric)
    _need(comparisons, _LIFT_COLS + ((by,) if by else ()), "comparisons")
    d = comparisons.loc[(comparisons["metric"] == metric) & comparisons["abs_lift"].notna()]
    if d.empty:
        raise ValueError(f"comparisons hold no rows with a lift for metric {metric!r}")
    parts = []
    if d["experiment"].nunique() > 1:
        parts.append(d["experiment"].astype(str))
    if by:
        parts.append(d[by].astype(str))
    if d["variant"].nunique() > 1 or not parts:
        parts.append(d["variant"].astype(str) + " vs " + d.get("control", pd.Series("control", d.index)).astype(str))
    labels = parts[0]
    for p in parts[1:]:
        labels = labels + " | " + p
    if "small" in d and by:
        labels = labels + np.where(d["small"], " (small)", "")
    ax = _axes(ax, size=(9, 1.2 + 0.4 * len(d)))
    y = np.arange(len(d))
    lift, lo, hi = (d[c].to_numpy(dtype=float) for c in ("abs_lift", "abs_low", "abs_high"))
    colour = np.where(d["significant"] & (lift > 0), GOOD, np.where(d["significant"] & (lift < 0), BAD, MAIN))
    if "small" in d:
        colour = np.where(d["small"], GREY, colour)
    for yi, c in enumerate(colour):
        ax.errorbar(lift[yi], yi, xerr=[[lift[yi] - lo[yi]], [hi[yi] - lift[yi]]], fmt="o", color=c,
                    capsize=4, **kwargs)
    ax.axvline(0, color="black", lw=0.8)
    meaning = {GOOD: "significantly above control", BAD: "significantly below control", MAIN: "not significant",
               GREY: "too small to read"}
    shown = [c for c in meaning if c in set(colour)]
    if by or len(shown) > 1:  # a legend for the colours that are there
        ax.legend([Line2D([], [], marker="o", ls="", color=c) for c in shown], [meaning[c] for c in shown],
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, fontsize=8)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_ylim(len(d) - 0.5, -0.5)
    if kind == "proportion":
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v * 100:+.0f}"))
        ax.set_xlabel(f"Difference to control (percentage points, {level:.0%} interval)")
    else:
        ax.xaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:+,.0f}"))
        ax.set_xlabel(f"Difference to control ({currency} per customer, {level:.0%} interval)")
    ax.set_ylabel(by.replace("_", " ").capitalize() if by else "Variant")
    ax.set_title(title or f"{label}: difference to control")
    ax.grid(axis="x", alpha=0.3)
    return ax


def plot_variant_rates(summary: pd.DataFrame, metric: str = "converted", currency: str = "EUR",
                       level: float = 0.95, *, title: str | None = None, ax: Axes | None = None, **kwargs) -> Axes:
    """Outcome of every variant (rate or mean) with its interval, grouped by experiment.

    Parameters
    ----------
    summary : output of :func:`lclib.analysis.experiments.variant_summary`.
    metric : which metric to draw.
    currency : unit of mean metrics.
    level : confidence level of the intervals (1 - alpha), for the title.
    kwargs : passed to ``ax.bar``.
    """
    kind, label = _metric(metric)
    _need(summary, ("experiment", "metric", "variant", "is_control", "n", "value", "low", "high"), "summary")
    d = summary.loc[summary["metric"] == metric].reset_index(drop=True)
    if d.empty:
        raise ValueError(f"summary holds no rows for metric {metric!r}")
    ax = _axes(ax, size=(9, 3.6))
    multi = d["experiment"].nunique() > 1
    x = np.arange(len(d))
    colour = np.where(d["is_control"], GREY, np.where(np.arange(len(d)) % 2, SECOND, MAIN))
    v = d["value"].to_numpy(dtype=float)
    err = np.vstack([v - d["low"].to_numpy(dtype=float), d["high"].to_numpy(dtype=float) - v])
    kwargs.setdefault("ecolor", ERROR_BARS)
    ax.bar(x, v, color=colour, yerr=err, capsize=5, **kwargs)
    for xi, (val, n) in enumerate(zip(v, d["n"])):
        text = f"{val:.1%}" if kind == "proportion" else f"{val:,.2f}"
        ax.annotate(f"{text}\nn={n:,}", (xi, 0), xytext=(0, 4), textcoords="offset points", ha="center",
                    va="bottom", fontsize=9, color="white")
    names = (d["experiment"].astype(str) + "\n" if multi else "") + d["variant"].astype(str)
    names = names + np.where(d["is_control"], " (control)", "")
    ax.set_xticks(x, names)
    if kind == "proportion":
        percent(ax.yaxis)
        ax.set_ylabel("Customers (%)")
    else:
        ax.set_ylabel(f"{label} ({currency})")
    ax.set_xlabel("Experiment and variant" if multi else "Variant")
    ax.set_title(title or f"{label}, per variant ({level:.0%} intervals)")
    ax.grid(axis="y", alpha=0.3)
    return ax


def plot_sample_size(curve: pd.DataFrame, current_per_group: float | None = None,
                     target_relative_lift: float | None = None, *, title: str | None = None,
                     ax: Axes | None = None, **kwargs) -> Axes:
    """Customers needed per group against the relative lift to detect.

    Parameters
    ----------
    curve : output of :func:`lclib.analysis.experiments.sample_size_curve`.
    current_per_group : customers per group now (a horizontal line), optional.
    target_relative_lift : the lift worth detecting (a vertical line), optional.
    kwargs : passed to ``ax.plot``.
    """
    _need(curve, ("relative_lift", "needed_per_group"), "curve")
    if current_per_group is not None and not current_per_group > 0:
        raise ValueError(f"current_per_group must be positive, got {current_per_group!r}")
    ax = _axes(ax, size=(9, 3.6))
    d = curve.dropna(subset=["needed_per_group"])
    ax.plot(d["relative_lift"], d["needed_per_group"], marker="o", color=MAIN,
            label="needed per group", **kwargs)
    ax.set_yscale("log")
    if current_per_group is not None:
        ax.axhline(current_per_group, color=SECOND, ls="--", label=f"now: {current_per_group:,.0f} per group")
    if target_relative_lift is not None:
        ax.axvline(target_relative_lift, color=GREY, ls=":", label=f"target lift {target_relative_lift:+.0%}")
    percent(ax.xaxis)
    ax.yaxis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlabel("Relative lift to detect (% of the control rate)")
    ax.set_ylabel("Customers needed per group (log scale)")
    ax.set_title(title or "Sample size needed to detect a lift")
    ax.legend(frameon=False)
    ax.grid(alpha=0.3, which="major")
    return ax
