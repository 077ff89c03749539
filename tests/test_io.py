"""Loader: a messy shop export configured as a user would, Parquet input, the cache."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from lclib.config import load_config
from lclib.io import DataError, Dataset, load_dataset

FIXTURES = Path(__file__).parent / "fixtures"
TRUTH = json.loads((FIXTURES / "messy_shop_export.truth.json").read_text())
SHOP_CONFIG = {
    "inputs": {"transactions": {
        "path": str(FIXTURES / "messy_shop_export.csv"),
        "columns": {"customer_id": "CustomerID", "order_id": "InvoiceNo", "timestamp": "InvoiceDate",
                    "quantity": "Quantity", "unit_price": "UnitPrice", "product": "StockCode"},
        "read": {"encoding": "latin-1", "date_format": "%d/%m/%Y %H:%M"},
        "clean": {"non_product_codes": ["POST", "M", "BANK CHARGES"]},
    }}
}


@pytest.fixture(scope="module")
def shop() -> Dataset:
    return load_dataset(load_config_from(SHOP_CONFIG), now=pd.Timestamp("2026-01-01"))


def load_config_from(data: dict, tmp: Path | None = None):
    import tempfile

    folder = Path(tmp or tempfile.mkdtemp())
    p = folder / "lclib.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(p)


def test_messy_export_ledger_counts_every_planted_defect(shop):
    entry = shop.ledger.tables["transactions"]
    d = TRUTH["defects"]
    assert entry.rows_in == TRUTH["rows_total"]
    assert entry.dropped == {
        "missing_id": d["missing_customer_id"], "duplicates": d["exact_duplicate"],
        "unparsable_dates": d["unparsable_date"], "cancellations": d["cancellation"],
        "non_product_codes": d["non_product_code"], "nonpositive_price": d["non_positive_price"],
    }
    assert entry.rows_kept == TRUTH["clean"]["rows"] == len(shop.transactions)


def test_messy_export_clean_result_matches_independent_counts(shop):
    tx = shop.transactions
    assert tx.customer_id.nunique() == TRUTH["clean"]["customers"]
    assert tx.order_id.nunique() == TRUTH["clean"]["invoices"]
    assert tx.amount.sum() == pytest.approx(TRUTH["clean"]["revenue"], abs=0.005)
    orders = tx.groupby("customer_id").order_id.nunique().to_dict()
    assert orders == TRUTH["clean"]["orders_per_customer"]


def test_ids_are_text_never_floats(shop):
    ids = shop.transactions.customer_id
    assert pd.api.types.is_string_dtype(ids)
    assert not ids.str.contains(r"\.0$").any()


def test_latin1_descriptions_survive(tmp_path):
    raw = pd.read_csv(FIXTURES / "messy_shop_export.csv", encoding="latin-1", dtype=str)
    assert raw.Description.str.contains("[éüÉÜèàöäç£]", regex=True).any()


def test_parquet_input_with_float_ids_reads_like_csv(tmp_path):
    df = pd.DataFrame({"cid": [17850.0, 12346.0, None], "oid": ["O1", "O2", "O3"],
                       "ts": pd.to_datetime(["2024-01-02 10:00", "2024-01-03 00:00", "2024-01-04 00:00"]),
                       "amt": [10.5, 3.0, 4.0]})
    df.to_parquet(tmp_path / "tx.parquet")
    cfg = load_config_from({"inputs": {"transactions": {"path": "tx.parquet", "columns": {
        "customer_id": "cid", "order_id": "oid", "timestamp": "ts", "amount": "amt"}}}}, tmp_path)
    data = load_dataset(cfg)
    assert data.transactions.customer_id.tolist() == ["17850", "12346"]
    assert data.ledger.tables["transactions"].dropped == {"missing_id": 1}
    assert data.ledger.tables["transactions"].examples["missing_id"] == [3]  # parquet row 3
    assert data.transactions.timestamp.iloc[0] == pd.Timestamp("2024-01-02 10:00")


def test_cache_round_trip_keeps_tables_and_ledger(shop, tmp_path):
    shop.save(tmp_path / "cache")
    again = load_dataset(shop.config, cache_dir=tmp_path / "cache")
    pd.testing.assert_frame_equal(again.transactions, shop.transactions, check_dtype=False)
    assert again.ledger.to_dict() == shop.ledger.to_dict()
    assert [i.sha256 for i in again.inputs] == [i.sha256 for i in shop.inputs]


def test_errors_in_several_tables_are_reported_together(tmp_path):
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,amount\nA,O1,2024-01-01,x\n")
    (tmp_path / "s.csv").write_text("customer_id,timestamp,score\nA,2024-01-01,nine\n")
    cfg = load_config_from({"inputs": {
        "transactions": {"path": "tx.csv", "columns": {"customer_id": "customer_id", "order_id": "order_id",
                                                       "timestamp": "timestamp", "amount": "amount"}},
        "surveys": {"path": "s.csv", "columns": {"customer_id": "customer_id", "timestamp": "timestamp",
                                                 "score": "score"}}}}, tmp_path)
    with pytest.raises(DataError) as err:
        load_dataset(cfg)
    msg = str(err.value)
    assert "tx.csv (inputs.transactions)" in msg and "line 2 ('x')" in msg
    assert "s.csv (inputs.surveys)" in msg and "line 2 ('nine')" in msg
    assert {p["table"] for p in err.value.problems} == {"transactions", "surveys"}


def test_nothing_left_after_cleaning_is_an_error(tmp_path):
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,amount\n,O1,2024-01-01,3\n")
    cfg = load_config_from({"inputs": {"transactions": {"path": "tx.csv", "columns": {
        "customer_id": "customer_id", "order_id": "order_id", "timestamp": "timestamp", "amount": "amount"}}}},
        tmp_path)
    with pytest.raises(DataError, match="no transactions left after cleaning"):
        load_dataset(cfg)


def test_sample_data_loads_whole(tmp_path):
    data = load_dataset(load_config())
    truth = json.loads((Path(__file__).parents[1] / "data/sample/ground_truth.json").read_text())
    assert data.ledger.summary()["rows_dropped"].sum() == 0
    assert len(data.transactions) == truth["row_counts"]["transactions"]


def test_mixed_iso_dates_with_and_without_time_all_parse():
    from lclib.io import parse_dates

    got = parse_dates(pd.Series(["2024-01-02 10:00", "2024-01-03", "2024-01-04T08:30:00+01:00"]))
    assert got.tolist() == [pd.Timestamp("2024-01-02 10:00"), pd.Timestamp("2024-01-03"),
                            pd.Timestamp("2024-01-04 07:30")]


def test_day_first_dates_are_inferred_when_declared():
    from lclib.io import parse_dates

    got = parse_dates(pd.Series(["13/01/2024 08:26", "02/03/2024 09:00"]), dayfirst=True)
    assert got.tolist() == [pd.Timestamp("2024-01-13 08:26"), pd.Timestamp("2024-03-02 09:00")]


def test_space_aligned_file_without_order_ids_loads_with_one_order_per_customer_and_day(tmp_path):
    # CDNOW_master.txt's layout: a header, space-aligned columns, CRLF endings, zero-padded ids
    text = (" customer_id  date number_of_cds  dollar_value\r\n"
            " 00001 19970101  1   11.77\r\n"
            " 00002 19970112  1   12.00\r\n"
            " 00002 19970112  5   77.00\r\n"
            " 00002 19970326  2   20.76\r\n")
    (tmp_path / "cdnow.txt").write_bytes(text.encode())
    cfg = load_config_from({"inputs": {"transactions": {
        "path": str(tmp_path / "cdnow.txt"),
        "columns": {"customer_id": "customer_id", "timestamp": "date", "quantity": "number_of_cds",
                    "amount": "dollar_value"},
        "read": {"delimiter": "whitespace", "date_format": "%Y%m%d"}}}}, tmp_path)
    tx = load_dataset(cfg, now=pd.Timestamp("2026-01-01")).transactions
    assert tx["customer_id"].tolist() == ["00001", "00002", "00002", "00002"]
    assert tx["order_id"].tolist() == ["00001@1997-01-01", "00002@1997-01-12", "00002@1997-01-12",
                                       "00002@1997-03-26"]
    assert tx["amount"].tolist() == [11.77, 12.00, 77.00, 20.76]
    assert tx.groupby("customer_id")["order_id"].nunique().to_dict() == {"00001": 1, "00002": 2}
