"""Tests for lclib.plots.rfm: labels, argument checks, and that marks match the numbers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import PathPatch, Rectangle  # noqa: E402

from lclib.plots import rfm as P  # noqa: E402
from lclib.analysis.rfm import NEW_ROW, persona_segment_table, rf_heatmap_table, score_customers, segment_summary

NAMES = ["Top", "Mid", "Low"]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scored() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    tx = pd.DataFrame({
        "customer_id": [f"c{i}" for i in rng.integers(0, 150, n)],
        "order_id": [f"o{i}" for i in range(n)],
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D"),
        "amount": rng.gamma(2.0, 20.0, n),
    })
    return score_customers(tx)


@pytest.fixture
def migration() -> pd.DataFrame:
    return pd.DataFrame([[5, 2, 0], [1, 7, 3], [0, 0, 4], [3, 4, 0]],
                        index=pd.Index(NAMES + [NEW_ROW], name="segment_from"),
                        columns=pd.Index(NAMES, name="segment_to"))


def test_segment_shares_bars_are_the_shares(scored):
    summary = segment_summary(scored)
    ax = P.plot_segment_shares(summary)
    assert ax.get_title() == "Segment size against the revenue it brings"
    assert ax.get_xlabel() == "Share of all customers / of all revenue (%)"
    widths = [p.get_width() for p in ax.patches]
    n = len(summary)
    np.testing.assert_allclose(widths[:n], summary["share_customers"])
    np.testing.assert_allclose(widths[n:], summary["share_revenue"].fillna(0))
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"{s} ({n:,})" for s, n in
                                                            zip(summary.index, summary["customers"])]
    assert ax.get_ylabel() == "Segment (customers)"
    with pytest.raises(ValueError, match="share_revenue"):
        P.plot_segment_shares(summary.drop(columns="share_revenue"))
    with pytest.raises(ValueError, match="empty"):
        P.plot_segment_shares(summary.iloc[:0])


def test_rf_heatmap_cells_show_counts_and_means(scored):
    heat = rf_heatmap_table(scored)
    ax = P.plot_rf_heatmap(heat, currency="USD")
    assert ax.get_title() == "Customers per R x F cell (count, mean USD)"
    assert ax.get_ylabel() == "Recency score R (5 = most recent)"
    assert ax.get_xlabel().startswith("Frequency score F")
    image = ax.images[0].get_array()
    # Top row of the image is R = 5.
    np.testing.assert_allclose(image[0].filled(np.nan), heat["mean_monetary_total"].loc[5].to_numpy())
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 25
    total = sum(int(t.split("\n")[0].replace(",", "")) for t in texts if t != "-")
    assert total == len(scored)
    colorbar_label = ax.figure.axes[1].get_ylabel()
    assert colorbar_label == "Mean monetary value (USD per customer)"
    with pytest.raises(ValueError, match="MultiIndex"):
        P.plot_rf_heatmap(heat["customers"])


def test_migration_matrix_shades_row_shares(migration):
    ax = P.plot_migration_matrix(migration)
    shares = ax.images[0].get_array()
    np.testing.assert_allclose(shares[1], np.array([1, 7, 3]) / 11)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["Top (7)", "Mid (11)", "Low (4)", "(new) (7)"]
    assert sorted(int(t.get_text()) for t in ax.texts) == sorted(v for v in migration.to_numpy().ravel() if v)
    assert ax.get_xlabel() == "Segment after" and ax.get_ylabel() == "Segment before (customers)"
    dated = P.plot_migration_matrix(migration, labels=("1 Jan", "1 Apr"))
    assert dated.get_ylabel() == "Segment on 1 Jan (customers)" and dated.get_xlabel() == "Segment on 1 Apr"
    with pytest.raises(ValueError, match="non-negative"):
        P.plot_migration_matrix(migration - 10)


def test_migration_flow_blocks_and_bands_match_counts(migration):
    ax = P.plot_migration_flow(migration, labels=("1 Jan", "1 Apr"))
    assert ax.get_title() == "How customers moved between segments"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1 Jan", "1 Apr"]
    blocks = [p for p in ax.patches if isinstance(p, Rectangle)]
    bands = [p for p in ax.patches if isinstance(p, PathPatch)]
    expected_blocks = list(migration.sum(axis=1)) + list(migration.sum(axis=0))
    assert [b.get_height() for b in blocks] == pytest.approx(expected_blocks)
    assert len(bands) == int((migration.to_numpy() > 0).sum())
    # Each band's width (vertical extent at the left end) is its count.
    left_heights = sorted(round(abs(b.get_path().vertices[0, 1] - b.get_path().vertices[7, 1]), 9)
                          for b in bands)
    assert left_heights == sorted(float(v) for v in migration.to_numpy().ravel() if v)
    # min_share hides small bands but keeps the blocks.
    few = P.plot_migration_flow(migration, min_share=0.1)
    assert len([p for p in few.patches if isinstance(p, PathPatch)]) == int((migration.to_numpy() >= 2.9).sum())
    with pytest.raises(ValueError, match="min_share"):
        P.plot_migration_flow(migration, min_share=1.5)
    with pytest.raises(ValueError, match="no customers"):
        P.plot_migration_flow(migration * 0)


def test_silhouette_marks_the_best_k():
    silhouette = pd.Series([0.3, 0.5, 0.4], index=pd.Index([2, 3, 4], name="k"))
    ax = P.plot_silhouette(silhouette)
    assert ax.get_legend().get_texts()[0].get_text() == "chosen: k = 3"
    assert ax.get_xlabel() == "Number of clusters k"
    with pytest.raises(ValueError, match="non-empty"):
        P.plot_silhouette(pd.Series([], dtype=float))


def test_persona_segments_columns_are_persona_shares(scored):
    personas = pd.Series(np.arange(len(scored)) % 2, index=scored.index)
    table = persona_segment_table(personas, scored["segment"])
    ax = P.plot_persona_segments(table)
    shares = ax.images[0].get_array()
    np.testing.assert_allclose(shares.sum(axis=0), 1.0)
    np.testing.assert_allclose(shares[:, 0], table.loc[0] / table.loc[0].sum())
    assert [t.get_text() for t in ax.get_yticklabels()] == list(table.columns)
    assert ax.get_ylabel() == "Rule segment"
    with pytest.raises(ValueError, match="non-empty"):
        P.plot_persona_segments(table.iloc[:0])


def test_rfm_distribution_bars_count_every_customer(scored):
    for column in ("recency_days", "frequency", "monetary_total"):
        ax = P.plot_rfm_distribution(scored, column, currency="USD")
        assert sum(p.get_height() for p in ax.patches) == len(scored)
        assert ax.get_ylabel() == "Customers"
    ax = P.plot_rfm_distribution(scored, "frequency", max_orders=3)
    heights = [p.get_height() for p in ax.patches]
    f = scored["frequency"]
    assert heights == [(f == 1).sum(), (f == 2).sum(), (f >= 3).sum()]
    assert ax.get_xticklabels()[-1].get_text() == "3+"
    assert P.plot_rfm_distribution(scored, "monetary_total", currency="USD").get_xlabel() == \
        "Total spent (USD per customer; last bar: top 1 %)"
    with pytest.raises(ValueError, match="column must be"):
        P.plot_rfm_distribution(scored, "r_score")
