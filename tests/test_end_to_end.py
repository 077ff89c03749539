"""End to end: `lclib run` on the shipped sample, metrics read back from run.json.

The recorded headline numbers are compared with an independent pandas computation on the
raw sample files (recommenders' "record results for tests" pattern).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lclib.report.cli import main
from lclib.report.runner import NOTEBOOK_DIR

SAMPLE = Path(__file__).parents[1] / "data" / "sample"


@pytest.fixture(scope="module")
def run_record(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("reports")
    assert main(["run", "--out", str(out), "-q"]) == 0
    latest = out / "latest"
    return {"folder": latest.resolve(), **json.loads((latest / "run.json").read_text())}


def test_every_notebook_ran_and_was_exported(run_record):
    names = [p.stem for p in sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))]
    assert [nb["name"] for nb in run_record["notebooks"]] == names
    for nb in run_record["notebooks"]:
        assert nb["status"] == "ok"
        html = (run_record["folder"] / nb["html"]).read_text()
        assert "Traceback" not in html and "Warning" not in html, nb["name"]
        assert run_record["metrics"][nb["name"]], f"{nb['name']} recorded no headline numbers"


def test_overview_metrics_equal_an_independent_computation(run_record):
    tx = pd.read_csv(SAMPLE / "transactions.csv", dtype={"customer_id": str, "order_id": str})
    m = run_record["metrics"]["00_data_overview"]
    assert m["customers"] == tx.customer_id.nunique()
    assert m["orders"] == tx.order_id.nunique()
    assert m["revenue"] == pytest.approx(tx.amount.sum(), abs=0.01)
    repeat = (tx.groupby("customer_id").order_id.nunique() > 1).mean() * 100
    assert m["repeat_customer_share"] == pytest.approx(repeat, abs=0.01)
    assert m["transaction_rows_read"] == m["transaction_rows_kept"] == len(tx)


def test_run_json_describes_inputs_and_ledger(run_record):
    tables = {i["table"]: i for i in run_record["inputs"]}
    assert set(tables) == {"transactions", "events", "customers", "spend", "referrals", "surveys",
                           "experiments"}
    for name, info in tables.items():
        led = run_record["ledger"][name]
        assert led["rows_in"] == led["rows_kept"] + sum(led["dropped"].values()) == info["rows_in"]
    assert run_record["versions"]["pandas"] == pd.__version__


def test_validate_prints_the_ledger(capsys):
    assert main(["validate"]) == 0
    out = capsys.readouterr().out
    assert "rows read" in out and "transactions" in out and "data OK" in out


def test_validate_names_the_bad_key(capsys):
    assert main(["validate", "-p", "analysis.currancy=USD"]) == 2
    assert "analysis.currancy: unknown key" in capsys.readouterr().err


def test_sample_command_reproduces_the_shipped_sample(tmp_path, capsys):
    assert main(["sample", "--out", str(tmp_path)]) == 0
    for f in SAMPLE.iterdir():
        assert (tmp_path / f.name).read_bytes() == f.read_bytes(), f.name


OPTIONAL_TABLES = ("events", "customers", "spend", "referrals", "surveys", "experiments")


def _run_quietly(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "reports"
    assert main(["run", "--out", str(out), "-q", *args]) == 0
    latest = out / "latest"
    return {"folder": latest.resolve(), **json.loads((latest / "run.json").read_text())}


def _assert_clean_reports(record: dict) -> None:
    for nb in record["notebooks"]:
        assert nb["status"] == "ok", nb["name"]
        html = (record["folder"] / nb["html"]).read_text()
        assert "Traceback" not in html and "Warning" not in html, nb["name"]
        assert record["metrics"][nb["name"]], f"{nb['name']} recorded no headline numbers"


def test_a_plain_order_export_runs_every_notebook(tmp_path):
    """Transactions only (no events, customers, spend, referrals, surveys, experiments)."""
    overrides = [a for t in OPTIONAL_TABLES for a in ("-p", f"inputs.{t}=null")]
    record = _run_quietly(tmp_path, *overrides)
    assert [i["table"] for i in record["inputs"]] == ["transactions"]
    _assert_clean_reports(record)


def test_a_messy_shop_export_runs_every_notebook(tmp_path):
    """The UCI-like invoice-line fixture, configured as a user would write it."""
    fixture = Path(__file__).parent / "fixtures" / "messy_shop_export.csv"
    cfg = {"inputs": {"transactions": {
        "path": str(fixture),
        "columns": {"customer_id": "CustomerID", "order_id": "InvoiceNo", "timestamp": "InvoiceDate",
                    "quantity": "Quantity", "unit_price": "UnitPrice", "product": "StockCode"},
        "read": {"encoding": "latin-1", "date_format": "%d/%m/%Y %H:%M"},
        "clean": {"non_product_codes": ["POST", "M", "BANK CHARGES"]}}},
        "analysis": {"currency": "GBP"}}
    path = tmp_path / "shop.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    record = _run_quietly(tmp_path, "--config", str(path))
    led = record["ledger"]["transactions"]
    # 114 cancellation lines netted or unmatched, plus the one line of the order refunded in full
    assert led["rows_in"] == 4794 and sum(led["dropped"].values()) == 106 + 60 + 3 + 114 + 45 + 24 + 1
    assert "of refunds netted from 29 orders" in led["notes"]["refunds"]
    _assert_clean_reports(record)
