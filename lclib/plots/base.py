"""Shared pieces of the figure helpers."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
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


#: How a period cut by the analysis date is drawn: lighter, hatched (see :func:`mark_partial`).
PARTIAL_ALPHA, PARTIAL_HATCH = 0.45, "///"


def words(name) -> str:
    """A snake_case value in words for a reader ("paid_search" -> "Paid search"); other values unchanged."""
    text = str(name)
    if text == "all":
        return "All customers"
    if "_" in text or (text.isalpha() and text.islower()):
        text = text.replace("_", " ").strip()
        return text[:1].upper() + text[1:]
    return text


def analysis_end(as_of=None, frame: pd.DataFrame | None = None) -> pd.Timestamp | None:
    """The exclusive end of the data: ``as_of`` if given, else ``frame.attrs["as_of"]``, else None."""
    if as_of is None and frame is not None:
        as_of = frame.attrs.get("as_of")
    return None if as_of is None else pd.Timestamp(as_of)


def partial_periods(index: pd.PeriodIndex, as_of) -> np.ndarray:
    """True for each period that has started but not ended by ``as_of`` (exclusive end of the data)."""
    if as_of is None or not isinstance(index, pd.PeriodIndex) or not len(index):
        return np.zeros(len(index), dtype=bool)
    as_of = pd.Timestamp(as_of)
    starts, ends = index.start_time, (index + 1).start_time
    return np.asarray((starts < as_of) & (ends > as_of), dtype=bool)


def mark_partial(patches, color: str | None = None) -> None:
    """Draw bars of a period the analysis date cuts lighter and hatched (their value is not a full period's)."""
    for p in patches:
        p.set_alpha(PARTIAL_ALPHA)
        p.set_hatch(PARTIAL_HATCH)
        p.set_edgecolor(color or p.get_facecolor())
        p.set_linewidth(0.0)
