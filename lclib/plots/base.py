"""Shared pieces of the figure helpers."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import pandas as pd
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


def need_columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    """Check a plot's input first: a non-empty DataFrame with ``columns`` (ValueError naming ``what``)."""
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{what} must be a DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs column(s) {missing} (has {list(frame.columns)})")
    if frame.empty:
        raise ValueError(f"{what} is empty: nothing to draw")
