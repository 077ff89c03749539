"""P(alive) paths of example customers: the BG/NBD formula at every grid day, jumps at purchases."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd
import pytest

from lclib.analysis import clv
from lclib.plots.alive import plot_p_alive_paths

PARAMS = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}


def bgnbd_p_alive(x, t_x, T, r=0.25, alpha=4.0, a=0.8, b=2.5):
    """Fader, Hardie & Lee (2005), eq. (B1): 1 for x = 0."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = 1.0 / (1.0 + (a / (b + x - 1)) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    return np.where(x > 0, p, 1.0)


@pytest.fixture
def tx():
    days = ["2024-01-01", "2024-01-01", "2024-01-15", "2024-02-01"]  # two lines on the first day: one period
    return pd.DataFrame({"customer_id": ["a"] * 4 + ["b"] * 2,
                         "order_id": ["1", "2", "3", "4", "5", "6"],
                         "timestamp": pd.to_datetime(days + ["2024-03-01", "2024-03-08"])})


def test_p_alive_path_equals_the_closed_form_at_every_grid_day(tx):
    fit = clv.fit_from_params("bgnbd", PARAMS)
    paths, buys = clv.p_alive_paths(fit, tx, ["a", "b"], "2024-06-30", step_days=7)
    a = paths.loc[paths["customer_id"] == "a"]
    days = np.array(["2024-01-01", "2024-01-15", "2024-02-01"], dtype="datetime64[ns]")
    grid = a["date"].to_numpy(dtype="datetime64[ns]")
    seen = np.searchsorted(days, grid, side="right")
    week = np.timedelta64(7, "D")
    expected = bgnbd_p_alive(seen - 1, (days[seen - 1] - days[0]) / week, (grid - days[0]) / week)
    np.testing.assert_allclose(a["p_alive"], expected, rtol=1e-10)
    assert buys.loc[buys["customer_id"] == "a", "date"].tolist() == list(pd.to_datetime(days))  # distinct days
    assert a["date"].iloc[0] == pd.Timestamp("2024-01-01") and a["date"].iloc[-1] <= pd.Timestamp("2024-06-30")


def test_p_alive_falls_through_a_silence_and_jumps_at_a_purchase(tx):
    fit = clv.fit_from_params("bgnbd", PARAMS)
    paths, _ = clv.p_alive_paths(fit, tx, ["a"], "2024-06-30", step_days=1)
    p = paths.set_index("date")["p_alive"]
    after = p.loc["2024-02-01":]
    assert (np.diff(after.to_numpy()) <= 1e-12).all()  # no purchase after 1 Feb: only decays
    assert p.loc["2024-02-01"] > p.loc["2024-01-31"]  # the purchase lifts it


def test_weekly_counting_merges_purchases_of_one_week(tx):
    fit = clv.fit_from_params("bgnbd", PARAMS)
    _, buys = clv.p_alive_paths(fit, tx, ["b"], "2024-06-30", count_by="W")
    assert len(buys) == 2  # 1 March (Friday) and 8 March: two Monday weeks
    with pytest.raises(ValueError, match="count_by"):
        clv.p_alive_paths(fit, tx, ["b"], "2024-06-30", count_by="month")


def test_example_customers_are_distinct_and_say_why():
    scores = pd.DataFrame({"clv": [50.0, 5.0, 20.0, 1.0], "p_alive": [0.95, 0.2, 0.97, 1.0]},
                          index=["top", "gone", "regular", "once"])
    summary = pd.DataFrame({"frequency": [3, 9, 6, 0], "T": [30.0, 50.0, 40.0, 60.0]}, index=scores.index)
    picks = clv.example_customers(scores, summary)
    assert picks.to_dict() == {"top": "highest predicted value", "gone": "frequent buyer, probably gone",
                               "regular": "steady regular", "once": "one purchase, long ago"}


def test_alive_paths_plot_one_panel_per_customer(tx):
    fit = clv.fit_from_params("bgnbd", PARAMS)
    paths, buys = clv.p_alive_paths(fit, tx, ["a", "b"], "2024-06-30")
    ax = plot_p_alive_paths(paths, buys, titles={"a": "steady"})
    axes = ax.figure.axes
    assert len(axes) == 2 and axes[0].get_title() == "steady" and axes[1].get_title() == "b"
    assert "P(still a customer)" in axes[0].get_ylabel()
    green = [line for line in axes[0].lines if line.get_color() == "#2e7d32"]
    assert len(green) == 3  # one tick per purchase day
