"""P(alive) of a few example customers through time (the BTYD users' "alive path")."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from lclib.plots.base import need_columns, percent


def plot_p_alive_paths(paths: pd.DataFrame, purchases: pd.DataFrame, *, titles: dict | None = None,
                       ax: Axes | None = None) -> Axes:
    """One small panel per customer: P(alive) over time, with a tick at each purchase.

    Parameters
    ----------
    paths : :func:`lclib.analysis.clv.p_alive_paths` paths (``customer_id``, ``date``, ``p_alive``).
    purchases : its purchases (``customer_id``, ``date``).
    titles : customer id -> panel title (e.g. why the customer was picked); default the id.
    ax : an Axes whose place the panels take (default: a new figure).

    Returns
    -------
    Axes of the first panel.
    """
    need_columns(paths, ("customer_id", "date", "p_alive"), "paths")
    need_columns(purchases, ("customer_id", "date"), "purchases")
    ids = list(dict.fromkeys(paths["customer_id"]))
    if not ids:
        raise ValueError("paths is empty: no customer to draw")
    cols = min(2, len(ids))
    rows = int(np.ceil(len(ids) / cols))
    if ax is None:
        fig = plt.figure(figsize=(10, 2.6 * rows + 0.4), layout="constrained")
    else:
        fig = ax.figure
        spec = ax.get_subplotspec()
        ax.remove()
    grid = (fig.add_gridspec(rows, cols) if ax is None else spec.subgridspec(rows, cols))
    first = None
    for i, cid in enumerate(ids):
        a = fig.add_subplot(grid[i // cols, i % cols], sharey=first)
        first = first or a
        own = paths.loc[paths["customer_id"] == cid]
        a.plot(own["date"], own["p_alive"], color="#3a6ea5", lw=1.8, drawstyle="steps-post")
        for d in purchases.loc[purchases["customer_id"] == cid, "date"]:
            a.axvline(d, color="#2e7d32", lw=0.8, alpha=0.7)
        a.set_ylim(0, 1.05)
        percent(a.yaxis)
        a.set_title((titles or {}).get(cid, str(cid)), fontsize=10)
        a.set_ylabel("P(still a customer)", fontsize=9)
        a.tick_params(labelsize=8)
        for label in a.get_xticklabels():
            label.set_rotation(30)
            label.set_ha("right")
    fig.suptitle("How the purchase model reads purchases (green) and silences: P(still a customer), by week",
                 fontsize=11)
    return first
