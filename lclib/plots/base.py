"""Shared pieces of the figure helpers."""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from cycler import cycler
from matplotlib.axes import Axes

#: Colours used across reports: a main colour, a contrast, good and bad.
MAIN, SECOND, GOOD, BAD, GREY = "#3b75af", "#e1812c", "#5a9e6f", "#d9534f", "#9a9a9a"
#: Error bars of bar charts: the near-black they had under seaborn's theme, which makes matplotlib's
#: colour code "k" (the bars' default) this grey (set_theme(color_codes=True))
ERROR_BARS = "0.1"

#: The reports' look: the matplotlib settings ``seaborn.set_theme(style="whitegrid", context="notebook")``
#: makes (seaborn 0.13, its "deep" colour cycle), applied without importing seaborn in every report
#: kernel: seaborn's import brings scipy.stats and statsmodels, 0.8 s of CPU time in a kernel that needs
#: neither. ``tests/test_plots_readable.py`` checks these values against seaborn itself. Left out: the
#: default image colour map (seaborn's "rocket", which only seaborn registers): every image of the
#: reports names its own; and seaborn's colour codes (it makes matplotlib's "k" a 0.1 grey): the only
#: "k" the reports drew, the error bars of bar charts, is :data:`ERROR_BARS`.
REPORT_STYLE = {
    "axes.axisbelow": True, "axes.edgecolor": ".8", "axes.grid": True, "axes.labelcolor": ".15",
    "axes.labelsize": 12.0, "axes.linewidth": 1.25, "axes.titlesize": 12.0,
    "axes.prop_cycle": cycler(color=["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860",
                                     "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD"]),
    "font.sans-serif": ["Arial", "DejaVu Sans", "Liberation Sans", "Bitstream Vera Sans", "sans-serif"],
    "font.size": 12.0, "grid.color": ".8", "grid.linewidth": 1.0, "legend.fontsize": 11.0,
    "legend.title_fontsize": 12.0, "lines.solid_capstyle": "round", "patch.edgecolor": "w",
    "patch.force_edgecolor": True, "text.color": ".15",
    "xtick.bottom": False, "xtick.color": ".15", "xtick.labelsize": 11.0, "xtick.major.size": 6.0,
    "xtick.major.width": 1.25, "xtick.minor.size": 4.0, "xtick.minor.width": 1.0,
    "ytick.left": False, "ytick.color": ".15", "ytick.labelsize": 11.0, "ytick.major.size": 6.0,
    "ytick.major.width": 1.25, "ytick.minor.size": 4.0, "ytick.minor.width": 1.0,
}


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


# ----------------------------------------------------------------------------- readable at the size shown

#: Smallest font size (points) of any text a reader must read, at the figure's saved size.
READABLE_PT = 9.0


def period_axis(ax: Axes, starts, freq: str | None = None) -> None:
    """Date ticks that never overprint: one per period start when there are at most 12 periods,
    labelled like "Feb 2024" (monthly or longer) or "2024-02-05" (shorter); else matplotlib's
    concise automatic dates. ``starts``: the plotted period starts (DatetimeIndex-like)."""
    import matplotlib.dates as mdates

    starts = pd.DatetimeIndex(starts)
    if 0 < len(starts) <= 12:
        ax.set_xticks(starts)
        monthly = freq is not None and str(freq).upper()[:1] in ("M", "Q", "Y", "A")
        ax.set_xticklabels(starts.strftime("%b %Y" if monthly else "%Y-%m-%d"))
        if len(starts) > 6:
            for label in ax.get_xticklabels():
                label.set_rotation(30)
                label.set_ha("right")
    else:
        locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def points(size) -> float:
    """A font size as matplotlib takes it (8, "small", None: the default) in points."""
    from matplotlib.font_manager import FontProperties

    return float(FontProperties(size=size if size is not None else plt.rcParams["font.size"]).get_size_in_points())


def tick_points(axis: str = "y") -> float:
    """The size of tick labels (points) under the current style, never below :data:`READABLE_PT`."""
    return max(READABLE_PT, points(plt.rcParams[f"{axis}tick.labelsize"]))


def text_points(size=None) -> float:
    """``size`` (default: the style's text size) in points, raised to :data:`READABLE_PT` if smaller."""
    return max(READABLE_PT, points(size))


def root_figure(ax: Axes):
    """The Figure ``ax`` is drawn on (the figure holding its subfigure, if it is on one)."""
    fig = ax.figure
    return getattr(fig, "figure", None) or fig


def _renderer(fig):
    canvas = fig.canvas
    return canvas.get_renderer() if hasattr(canvas, "get_renderer") else fig._get_renderer()


def axes_points(ax: Axes) -> tuple[float, float]:
    """Width and height of ``ax`` in points at its figure's size, once the figure's layout engine
    (constrained layout) has placed it with what is drawn so far."""
    fig = root_figure(ax)
    engine = fig.get_layout_engine()
    if engine is not None:
        try:
            engine.execute(fig)
        except Exception:  # noqa: BLE001 - a layout that cannot run yet: the Axes' current place
            pass
    box = ax.get_window_extent()  # pixels at the figure's dpi (an Axes of a subfigure too)
    return 72 * box.width / fig.dpi, 72 * box.height / fig.dpi


def text_length(text: str, fontproperties, fig) -> float:
    """Length in points of one line of ``text`` in ``fontproperties``, as ``fig`` would draw it."""
    renderer = _renderer(fig)
    w, _, _ = renderer.get_text_width_height_descent(text, fontproperties, ismath=False)
    return w / renderer.points_to_pixels(1.0)


def wrap_to(text: str, length: float, fontproperties, fig) -> str:
    """``text`` broken at spaces into as few lines of at most ``length`` points as it takes, the lines
    as even as they can be and broken after a comma or before a bracket where that costs little
    (a word longer than ``length`` keeps a line of its own); lines already in ``text`` are kept."""
    from itertools import combinations

    out = []
    for paragraph in text.split("\n"):
        words = paragraph.split(" ")
        size = [text_length(w, fontproperties, fig) for w in words]
        space = text_length("a a", fontproperties, fig) - 2 * text_length("a", fontproperties, fig)

        def width(i: int, j: int, size=size, space=space) -> float:
            return sum(size[i:j]) + space * (j - i - 1)

        lines, start = 1, 0  # fewest lines, greedily
        for k in range(1, len(words)):
            if width(start, k + 1) > length:
                lines, start = lines + 1, k
        best, best_score = [], np.inf
        if lines > 1 and len(words) <= 24:
            for cuts in combinations(range(1, len(words)), lines - 1):
                bounds = (0, *cuts, len(words))
                widths = [width(a, b) for a, b in zip(bounds, bounds[1:])]
                nice = sum(words[c - 1].endswith(",") or words[c].startswith("(") for c in cuts)
                score = max(widths) - 0.08 * length * nice + (np.inf if max(widths) > length else 0)
                if score < best_score:
                    best, best_score = list(cuts), score
        if lines > 1 and not best:  # nothing fits: the greedy breaks
            start, best = 0, []
            for k in range(1, len(words)):
                if width(start, k + 1) > length:
                    best.append(k)
                    start = k
        bounds = (0, *best, len(words))
        out.extend(" ".join(words[a:b]) for a, b in zip(bounds, bounds[1:]))
    return "\n".join(out)


def fit_ylabel(ax: Axes, text: str, **kwargs) -> None:
    """Set the y label, wrapped onto more lines when one line would run past the Axes' height
    at the figure's size (so that it never runs past the plot or widens the saved figure)."""
    ax.set_ylabel(text, **kwargs)
    label = ax.yaxis.label
    fig = root_figure(ax)
    longest = max(text_length(line, label.get_fontproperties(), fig) for line in text.split("\n"))
    _, height = axes_points(ax)
    if longest > height:
        ax.set_ylabel(wrap_to(text, 0.95 * height, label.get_fontproperties(), fig), **kwargs)


def spread(wanted, gap: float, low: float = -np.inf, high: float = np.inf) -> np.ndarray:
    """Positions as near ``wanted`` as they can be while at least ``gap`` apart and within [low, high]
    (labels beside a stacked bar or at line ends). Overlapping labels are grouped and each group is
    centred on the mean of what its members wanted; returned in the order of ``wanted``."""
    wanted = np.asarray(wanted, dtype=float)
    if wanted.size == 0:
        return wanted.copy()
    order = np.argsort(wanted, kind="stable")
    groups: list[list[float]] = []  # [sum wanted, count]
    for y in wanted[order]:
        groups.append([y, 1])
        while len(groups) > 1:
            (s0, n0), (s1, n1) = groups[-2], groups[-1]
            end0 = s0 / n0 + (n0 - 1) / 2 * gap
            start1 = s1 / n1 - (n1 - 1) / 2 * gap
            if start1 - end0 >= gap:
                break
            groups[-2:] = [[s0 + s1, n0 + n1]]
    placed = np.concatenate([s / n + (np.arange(n) - (n - 1) / 2) * gap for s, n in groups])
    if np.isfinite(low) and placed[0] < low:  # push the lowest up to the bound, keeping the gaps
        placed = np.maximum(placed, low + np.arange(len(placed)) * gap)
    if np.isfinite(high) and placed[-1] > high:
        placed = np.minimum(placed, high - np.arange(len(placed))[::-1] * gap)
    out = np.empty_like(placed)
    out[order] = placed
    return out


def panel_grid(n: int, ax: Axes | None, *, panel_width: float = 2.75, panel_height: float = 2.5,
               extra_height: float = 1.5, max_width: float = 11.0, sharey: bool = True):
    """``n`` small panels (up to 4 a row) on a new constrained figure sized for them, or on a subfigure
    that takes the place of ``ax`` (removed). Returns (figure or subfigure, flat array of Axes);
    slots beyond ``n`` are switched off."""
    ncols = n if n <= 4 else (3 if n in (5, 6, 9) else 4)
    nrows = int(np.ceil(n / ncols))
    if ax is None:
        width = min(max_width, max(6.0, panel_width * ncols + 0.6))
        container = plt.figure(figsize=(width, extra_height + panel_height * nrows), layout="constrained")
    else:
        container = ax.figure.add_subfigure(ax.get_subplotspec())
        ax.remove()
    axes = container.subplots(nrows, ncols, sharey=sharey, squeeze=False).ravel()
    for panel in axes[n:]:
        panel.set_axis_off()
    return container, axes
