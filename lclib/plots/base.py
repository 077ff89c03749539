"""Shared pieces of the figure helpers."""

from __future__ import annotations

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
from matplotlib.axes import Axes

#: Colours used across reports: a main colour, a contrast, good and bad.
MAIN, SECOND, GOOD, BAD, GREY = "#3b75af", "#e1812c", "#5a9e6f", "#d9534f", "#9a9a9a"


def _axes(ax: Axes | None, size: tuple[float, float] = (9, 3.6)) -> Axes:
    """The given Axes, or a new one on a new constrained-layout figure."""
    if ax is None:
        _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def thousands(axis) -> None:
    """Format an axis' tick labels with thousands separators (1,234)."""
    axis.set_major_formatter(mticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))


def percent(axis, decimals: int = 0) -> None:
    """Format an axis holding shares (0-1) as percentages."""
    axis.set_major_formatter(mticker.PercentFormatter(1.0, decimals=decimals))
