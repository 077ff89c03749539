"""lclib.plots.clv: every figure is titled, labelled with units, and rejects bad input."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from lclib.plots import clv as plots  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _counts() -> pd.DataFrame:
    return pd.DataFrame({"actual": [50, 20, 10], "model": [49.0, 21.5, 9.5]},
                        index=pd.RangeIndex(3, name="frequency"))


def _grid() -> pd.DataFrame:
    f, r = np.meshgrid(np.arange(3), np.linspace(0, 10, 3), indexing="ij")
    g = pd.DataFrame({"frequency": f.ravel(), "recency": r.ravel()})
    g = g.loc[(g["frequency"] > 0) == (g["recency"] > 0)]
    return g.assign(p_alive=np.linspace(0.2, 1, len(g)), expected_purchases=np.linspace(0, 2, len(g)))


def _economics() -> pd.DataFrame:
    return pd.DataFrame({"cac": [30.0, 10.0, np.nan], "new_customers": [10, 10, 5], "clv": [45.0, 40.0, 12.0],
                         "clv_cac": [1.5, 4.0, np.nan], "status": ["paid", "paid", "no spend"]},
                        index=["ads", "mail", "seo"])


def test_repeat_counts_labels_and_pooled_last_bin():
    ax = plots.plot_repeat_counts(_counts())
    assert ax.get_title() == "Customers by number of repeat purchases: actual vs model"
    assert ax.get_xlabel() == "Repeat purchases made (count)"
    assert ax.get_ylabel() == "Customers (count)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2+"]
    assert len(ax.patches) == 6
    with pytest.raises(ValueError, match="model"):
        plots.plot_repeat_counts(_counts().drop(columns="model"))


def test_holdout_by_frequency_draws_actual_and_model():
    table = pd.DataFrame({"customers": [5, 4], "actual_mean": [0.2, 1.0], "predicted_mean": [0.25, 0.9]})
    ax = plots.plot_holdout_by_frequency(table, "holdout window (26 weeks)")
    assert ax.get_ylabel() == "Mean purchases, holdout window (26 weeks)"
    assert ax.get_title() == "Calibration vs holdout purchases: actual and predicted"
    assert [line.get_label() for line in ax.get_lines()] == ["actual", "model"]
    with pytest.raises(ValueError, match="empty"):
        plots.plot_holdout_by_frequency(table.iloc[:0])


def test_frequency_recency_heatmap():
    ax = plots.plot_frequency_recency(_grid(), "p_alive", "W")
    assert ax.get_xlabel() == "Time from first to last purchase (recency, weeks)"
    assert ax.get_ylabel() == "Repeat purchases (count)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["2", "1", "0"]  # most purchases on top
    assert ax.images[0].get_array().shape == (3, 3)
    ax2 = plots.plot_frequency_recency(_grid(), "expected_purchases", "D")
    assert "next 4 weeks" in ax2.get_title() and "days" in ax2.get_xlabel()
    with pytest.raises(ValueError, match="value"):
        plots.plot_frequency_recency(_grid(), "clv")
    with pytest.raises(ValueError, match="time_unit"):
        plots.plot_frequency_recency(_grid(), time_unit="M")


def test_clv_distribution_counts_every_customer():
    values = pd.Series(np.random.default_rng(0).gamma(1.0, 10.0, 1000))
    ax = plots.plot_clv_distribution(values, "USD", bins=20)
    assert sum(p.get_height() for p in ax.patches) == 1000
    assert ax.get_xlabel().startswith("Expected customer lifetime value (USD")
    assert ax.get_title() == "Distribution of customer lifetime value"
    with pytest.raises(ValueError):
        plots.plot_clv_distribution(pd.Series([], dtype=float))
    with pytest.raises(ValueError, match="bins"):
        plots.plot_clv_distribution(values, bins=1)


def test_clv_by_group_bars():
    table = pd.DataFrame({"customers": [3, 1], "mean_clv": [10.0, 5.0], "share_clv": [0.86, 0.14]},
                         index=["Champions", "Lost"])
    ax = plots.plot_clv_by_group(table, "EUR", "Mean CLV by RFM segment", "RFM segment")
    assert ax.get_title() == "Mean CLV by RFM segment" and ax.get_ylabel() == "RFM segment"
    assert ax.get_xlabel() == "Mean expected CLV per customer (EUR)"
    assert [p.get_width() for p in ax.patches] == [10.0, 5.0]
    with pytest.raises(ValueError, match="share_clv"):
        plots.plot_clv_by_group(table.drop(columns="share_clv"))


def test_cac_bars_name_channels_without_spend():
    ax = plots.plot_cac(_economics(), "EUR", truth={"ads": 30.0, "mail": 10.0})
    texts = [t.get_text() for t in ax.texts]
    assert any("no spend" in t for t in texts) and any("30.00 EUR" in t for t in texts)
    assert ax.get_xlabel() == "Acquisition cost per new customer (EUR)"
    assert ax.get_title() == "Customer acquisition cost (CAC) by channel"
    with pytest.raises(ValueError, match="status"):
        plots.plot_cac(_economics().drop(columns="status"))


def test_clv_cac_bars_only_rated_channels_and_threshold():
    ax = plots.plot_clv_cac(_economics(), threshold=3.0)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["ads", "mail"]
    assert ax.get_title() == "CLV to CAC ratio by paid channel"
    assert "target 3:1" in [line.get_label() for line in ax.get_lines()]
    with pytest.raises(ValueError, match="no channel"):
        plots.plot_clv_cac(_economics().assign(clv_cac=np.nan))
    with pytest.raises(ValueError, match="threshold"):
        plots.plot_clv_cac(_economics(), threshold=0)


def test_margin_path_draws_paid_channels():
    path = pd.DataFrame({"ads": [10.0, 20.0, 45.0], "seo": [5.0, 9.0, 12.0]})
    ax = plots.plot_margin_path(path, pd.Series({"ads": 30.0, "seo": np.nan}), "EUR")
    assert [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")] == ["ads"]
    assert ax.get_xlabel() == "Months since the first purchase"
    assert ax.get_ylabel() == "Cumulative margin per new customer (EUR)"
    with pytest.raises(ValueError, match="no channel"):
        plots.plot_margin_path(path, pd.Series({"ads": np.nan}))


def test_clv_figures_refuse_undefined_values_instead_of_dropping_them():
    with pytest.raises(ValueError, match="1 of 3 CLV values are NaN"):
        plots.plot_clv_distribution(pd.Series([1.0, np.nan, 3.0]))
    table = pd.DataFrame({"customers": [3, 1], "mean_clv": [10.0, np.nan], "share_clv": [0.86, 0.14]},
                         index=["Champions", "Lost"])
    with pytest.raises(ValueError, match="finite"):
        plots.plot_clv_by_group(table)


def test_tracking_lines_and_calibration_marker():
    tracking = pd.DataFrame({"week_end": pd.date_range("2024-01-08", periods=4, freq="7D"),
                             "actual": [1.0, 2, 3, 4], "model": [1.5, 2, 2.5, 3]})
    tracking["actual_cumulative"], tracking["model_cumulative"] = tracking["actual"].cumsum(), tracking["model"].cumsum()
    tracking.attrs["calibration_end"] = pd.Timestamp("2024-01-20")
    ax = plots.plot_tracking(tracking)
    assert [line.get_label() for line in ax.lines] == ["actual", "model", "end of calibration"]
    assert ax.lines[0].get_ydata()[-1] == 10.0
    assert ax.get_ylabel() == "Repeat purchases, cumulative (count)"
    weekly = plots.plot_tracking(tracking, cumulative=False)
    assert weekly.get_title() == "Weekly repeat purchases: actual vs model"
    with pytest.raises(ValueError):
        plots.plot_tracking(tracking.drop(columns="model"), cumulative=False)
