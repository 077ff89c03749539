"""The example configurations in examples/ load real files as documented."""

from __future__ import annotations

from pathlib import Path

import importlib.util

import pandas as pd
import pytest

from lclib.config import load_config
from lclib.io.dataset import load_dataset

EXAMPLES = Path(__file__).parents[1] / "examples"
# located without importing lifetimes (its import changes a pandas option)
CDNOW_MASTER = Path(importlib.util.find_spec("lifetimes").origin).parent / "datasets" / "CDNOW_master.txt"
SHOP = Path(__file__).parent / "fixtures" / "messy_shop_export.csv"


def test_cdnow_example_reads_the_whole_master_file_as_published():
    cfg = load_config(EXAMPLES / "cdnow.yaml", [f"inputs.transactions.path={CDNOW_MASTER}"])
    data = load_dataset(cfg, now=pd.Timestamp("2026-01-01"))
    tx = data.transactions
    # CDNOW master: 69,659 purchase records of 23,570 customers, Jan 1997 - Jun 1998
    assert len(tx) == 69_659 and data.ledger.tables["transactions"].rows_in == 69_659
    assert tx["customer_id"].nunique() == 23_570
    assert tx["customer_id"].str.len().eq(5).all()
    assert tx["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert tx["timestamp"].max() == pd.Timestamp("1998-06-30")
    raw = pd.read_csv(CDNOW_MASTER, sep=r"\s+")
    assert tx["amount"].sum() == pytest.approx(raw["dollar_value"].sum())


def test_online_retail_example_cleans_the_shop_export_by_the_documented_rules():
    cfg = load_config(EXAMPLES / "online_retail.yaml", [f"inputs.transactions.path={SHOP}"])
    data = load_dataset(cfg, now=pd.Timestamp("2026-01-01"))
    dropped = data.ledger.tables["transactions"].dropped
    # clean.cancellations: net (the default): the 114 cancellation lines are netted (31) or unmatched (83);
    # one order is refunded in full (tests/test_refunds.py recomputes these independently)
    assert dropped == {"missing_id": 106, "duplicates": 60, "unparsable_dates": 3, "non_product_codes": 45,
                       "nonpositive_price": 24, "cancellations_netted": 31, "cancellations_unmatched": 83,
                       "fully_refunded": 1}
    assert not data.transactions["customer_id"].str.endswith(".0").any()


def test_headerless_cdnow_sample_reads_with_named_columns():
    sample = CDNOW_MASTER.with_name("CDNOW_sample.txt")
    cfg = load_config(EXAMPLES / "cdnow.yaml", {
        "inputs.transactions.path": str(sample),
        "inputs.transactions.read.header": False,
        "inputs.transactions.read.names": ["customer_id", "customer_index", "date", "number_of_cds",
                                           "dollar_value"]})
    tx = load_dataset(cfg, now=pd.Timestamp("2026-01-01")).transactions
    # the 1/10 sample of the BG/NBD paper: 2,357 customers, 6,919 purchase records
    assert len(tx) == 6_919 and tx["customer_id"].nunique() == 2_357


def test_headerless_file_without_names_is_a_config_error():
    from lclib.config import ConfigError

    with pytest.raises(ConfigError, match="header: false needs `names`"):
        load_config(EXAMPLES / "cdnow.yaml", {"inputs.transactions.read.header": False})


def test_cdnow_sample_through_the_clv_report_gives_the_published_bgnbd_fit(tmp_path):
    """The user's route: example config + overrides, the 05_clv notebook, the HTML a reader sees."""
    from lclib.report.cli import main

    sample = CDNOW_MASTER.with_name("CDNOW_sample.txt")
    assert main(["run", "--config", str(EXAMPLES / "cdnow.yaml"), "--only", "05", "--out", str(tmp_path), "-q",
                 "-p", f"inputs.transactions.path={sample}", "-p", "inputs.transactions.read.header=false",
                 "-p", "inputs.transactions.read.names=[customer_id, customer_index, date, number_of_cds, "
                       "dollar_value]"]) == 0
    html = (tmp_path / "latest" / "05_clv.analyst.html").read_text()  # parameters: analyst version
    # Fader, Hardie & Lee (2005): r 0.2426, alpha 4.4135, a 0.7929, b 2.4258 (39-week calibration)
    assert "r = 0.243, alpha = 4.41, a = 0.793, b = 2.43" in html
