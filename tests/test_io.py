"""Loader: a messy shop export configured as a user would, Parquet input, the cache."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from lclib.config import load_config
from lclib.io.load import DataError
from lclib.io.dataset import Dataset, load_dataset

FIXTURES = Path(__file__).parent / "fixtures"
TRUTH = json.loads((FIXTURES / "messy_shop_export.truth.json").read_text())
SHOP_CONFIG = {
    "inputs": {"transactions": {
        "path": str(FIXTURES / "messy_shop_export.csv"),
        "columns": {"customer_id": "CustomerID", "order_id": "InvoiceNo", "timestamp": "InvoiceDate",
                    "quantity": "Quantity", "unit_price": "UnitPrice", "product": "StockCode"},
        "read": {"encoding": "latin-1", "date_format": "%d/%m/%Y %H:%M"},
        # the planted-defect truth counts cancellations dropped; netting them is tests/test_refunds.py
        "clean": {"non_product_codes": ["POST", "M", "BANK CHARGES"], "cancellations": "drop"},
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


def test_typed_parquet_timestamps_ignore_a_date_format_meant_for_text(tmp_path):
    df = pd.DataFrame({"cid": ["A", "B"], "oid": ["O1", "O2"],
                       "ts": pd.to_datetime(["2024-01-02 10:00", "2024-01-03 00:00"]), "amt": [10.5, 3.0]})
    df.to_parquet(tmp_path / "tx.parquet")
    cfg = load_config_from({"inputs": {"transactions": {"path": "tx.parquet", "columns": {
        "customer_id": "cid", "order_id": "oid", "timestamp": "ts", "amount": "amt"},
        "read": {"date_format": "%d/%m/%Y %H:%M"}}}}, tmp_path)
    tx = load_dataset(cfg, now=pd.Timestamp("2026-01-01")).transactions
    assert tx.timestamp.tolist() == [pd.Timestamp("2024-01-02 10:00"), pd.Timestamp("2024-01-03")]


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
    from lclib.io.load import parse_dates

    got = parse_dates(pd.Series(["2024-01-02 10:00", "2024-01-03", "2024-01-04T08:30:00+01:00"]))
    # analysis.timezone null: the wall time as written (the offset is dropped)
    assert got.tolist() == [pd.Timestamp("2024-01-02 10:00"), pd.Timestamp("2024-01-03"),
                            pd.Timestamp("2024-01-04 08:30")]
    utc = parse_dates(pd.Series(["2024-01-02 10:00", "2024-01-04T08:30:00+01:00"]), timezone="UTC")
    assert utc.tolist() == [pd.Timestamp("2024-01-02 10:00"), pd.Timestamp("2024-01-04 07:30")]


def test_day_first_dates_are_inferred_when_declared():
    from lclib.io.load import parse_dates

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


# ----------------------------------------------------------------------------- fast paths
# Each fast path of the loader must give exactly what its reference implementation
# (the text route the loader used before) gives: same values, same dtypes, same ledger.

from lclib.io import load as lio  # noqa: E402
from lclib.config import ReadOptions  # noqa: E402

TX_COLUMNS = {"customer_id": "cid", "order_id": "oid", "timestamp": "ts", "amount": "amt",
              "quantity": "qty", "product": "sku", "channel": "ch"}


def _typed_frame() -> pd.DataFrame:
    """Typed columns as a Parquet export holds them: float ids, ints, timestamps, padded text."""
    return pd.DataFrame({
        "cid": [17850.0, 12346.0, None, 17850.0, 13000.0, 13000.0, 14000.0],
        "oid": ["O1", "O2", "O3", "O1", " O4 ", "O5", "C6"],
        "ts": pd.to_datetime(["2024-01-02 10:00:05", "2024-01-03 00:00:00", "2024-01-04 00:00:00",
                              "2024-01-02 10:00:05", "2024-02-01 08:30:00", "2024-02-02 09:00:00",
                              "2024-02-03 09:00:00"]),
        "amt": [10.5, 3.0, 4.0, 10.5, 0.0, 7.25, -2.0],
        "qty": pd.array([1, 2, 1, 1, 3, 1, -1], dtype="int64"),
        "sku": ["A", "B", "B", "A", "POST", "C ", "D"],
        "ch": ["email", " direct", "email", "email", "", "email", "paid_search"],
        "note": ["x", "y", "z", "x", "w", "v", "u"],  # not mapped, still part of the duplicate check
    })


def _load(tmp_path: Path, name: str) -> Dataset:
    cfg = load_config_from({"inputs": {"transactions": {"path": name, "columns": TX_COLUMNS, "clean": {
        "non_product_codes": ["POST"], "cancellations": "drop"}}}}, tmp_path)
    return load_dataset(cfg, now=pd.Timestamp("2026-01-01"))


def test_typed_parquet_gives_the_same_tables_and_ledger_as_the_same_data_in_csv(tmp_path):
    df = _typed_frame()
    df.to_parquet(tmp_path / "tx.parquet")
    text = df.copy()
    text["cid"] = text["cid"].map(lambda v: "" if pd.isna(v) else f"{v:.1f}")  # "17850.0", as exports write
    text.to_csv(tmp_path / "tx.csv", index=False)
    pq_data, csv_data = _load(tmp_path, "tx.parquet"), _load(tmp_path, "tx.csv")
    pd.testing.assert_frame_equal(pq_data.transactions, csv_data.transactions, check_exact=True)
    pq_ledger, csv_ledger = pq_data.ledger.tables["transactions"], csv_data.ledger.tables["transactions"]
    # same drops; Parquet rows count from 1, CSV lines from 2 (the header is line 1)
    assert pq_ledger.dropped == csv_ledger.dropped == {
        "missing_id": 1, "duplicates": 1, "cancellations": 1, "non_product_codes": 1}
    assert {k: [v + 1 for v in lines] for k, lines in pq_ledger.examples.items()} == csv_ledger.examples
    tx = pq_data.transactions
    assert tx.customer_id.tolist() == ["17850", "12346", "13000"]
    assert tx.order_id.tolist() == ["O1", "O2", "O5"] and tx["product"].tolist() == ["A", "B", "C"]
    assert tx.quantity.dtype == "float64" and tx.channel.tolist() == ["email", "direct", "email"]


@pytest.mark.parametrize("col, values", [
    ("customer_id", pd.Series([17850.0, None, 3.0])),                  # whole floats -> integer text
    ("customer_id", pd.Series([1.5, None, -2.0])),                     # not all whole: as written
    ("customer_id", pd.Series([9.3e18, 1.0])),                         # whole but beyond int64: as written
    ("customer_id", pd.Series([17850, 3], dtype="int64")),
    ("customer_id", pd.Series([" a ", None, "", "12.00"], dtype="str")),
    ("customer_id", pd.Series(pd.to_datetime(["2024-01-01", None]))),  # odd type: the text route
    ("amount", pd.Series([1.0, -0.0, None, 1e20, 0.1 + 0.2, 1 / 3])),
    ("amount", pd.Series([1.25, float("inf"), -7.5], dtype="float32")),
    ("quantity", pd.Series([3, -1, 0], dtype="int64")),
    ("quantity", pd.Series([True, False])),                            # bools: text, "is a number" fails
    ("amount", pd.Series(["$1,5", " 7 ", None], dtype="str")),
    ("timestamp", pd.Series(pd.to_datetime(["2024-01-02 10:00:05.999", None, "1999-12-31 23:59:59.5"]))),
    ("timestamp", pd.Series(pd.to_datetime(["2024-01-02 10:00:05", "2024-06-01 00:00:00"]))
     .dt.tz_localize("Europe/Paris")),
    ("timestamp", pd.Series(["2024-01-02", " 2024-01-03 10:00:00", "bad"], dtype="str")),
    ("channel", pd.Series([" email ", "", None], dtype="str")),
    ("channel", pd.Series([1.0, 2.0, None])),
])
def test_typed_parquet_column_parses_like_its_text(col, values):
    opts = ReadOptions()
    got = lio.parse_parquet_column(col, values, opts)
    want = lio.parse_text_column(col, lio._parquet_column_as_text(values), opts)
    pd.testing.assert_series_equal(got, want, check_exact=True)
    if got.dtype == "float64":  # -0.0 and 0.0 compare equal: check the sign too
        assert (got.map(lambda v: str(v)) == want.map(lambda v: str(v))).all()


def test_typed_parquet_duplicates_are_the_rows_whose_text_is_equal():
    import numpy as np

    near = float(np.nextafter(0.1, 1))  # "0.10000000000000002": not the text of 0.1
    frame = pd.DataFrame({
        "ts": pd.to_datetime(["2024-01-02 10:00:05.1", "2024-01-02 10:00:05.9", "2024-01-02 10:00:06", None, None,
                              None, None, None], format="ISO8601"),
        "whole": [1.0, 1.0, 1.0, -0.0, 0.0, 2.0, 2.0, 2.0],   # "1", "1", "1", "0", "0", "2"...
        "frac": [0.5, 0.5, 0.5, -0.0, 0.0, 0.1, near, None],  # "-0.0" and "0.0" differ as text
        "txt": pd.Series(["a", "a", "a", None, None, "b", "b", "b"], dtype="str"),
        "n": [1, 1, 2, 3, 3, 4, 4, 4],
    })
    want = frame.apply(lio._parquet_column_as_text).duplicated()
    got = lio._duplicate_key(frame).duplicated()
    assert got.tolist() == want.tolist() == [False, True, False, False, False, False, False, False]
    twice = pd.concat([frame, frame], ignore_index=True)  # the second copy: all duplicates
    assert lio._duplicate_key(twice).duplicated().tolist() == [False, True, False, False, False, False,
                                                                   False, False] + [True] * 8


def test_parquet_error_message_quotes_the_value_as_written(tmp_path):
    df = _typed_frame().assign(amt=pd.Series(["10.5", "abc", "4", "1", "2", "3", "4"], dtype="str"),
                               cid=lambda d: d.cid.fillna(1.0))
    df.to_parquet(tmp_path / "tx.parquet")
    with pytest.raises(DataError) as err:
        _load(tmp_path, "tx.parquet")
    assert "column 'amt' (amount): 1 row(s) fail 'is a number': line 2 ('abc')" in str(err.value)


@pytest.mark.parametrize("text, read, fast_used", [
    ('a,b,c\n1,NA,"x, y"\n,"",null\n"q""uote",#N/A,x  \n\n4,5,6\n', {}, True),
    ("a;b\n1,5;2\nN/A;x\n", {"delimiter": ";"}, True),
    ("a,b\r\nNA ,2\r\n\"\",nan\r\n", {}, True),          # CRLF; "NA " is text, "" is missing
    ("1|2\n3|\n", {"delimiter": "|", "header": False, "names": ["a", "b"]}, True),
    ("a,b\n\xe9t\xe9,1\n", {"encoding": "latin-1"}, True),
    ("a,b\n1, 2\n3,4\n", {}, False),                 # skipinitialspace matters: C engine
    ("a,b\n1,2,3\n4,5\n", {}, False),                # ragged: C engine (its own message)
    ("a,a\n1,2\n", {}, False),                        # repeated header: C engine renames
    ('a,b\n1,"two\nlines"\n', {}, True),             # a quoted value spanning lines
    ("\ufeffa,b\n1,2\n", {}, False),                 # byte-order mark
    ("a b\n1 2\n", {"delimiter": "whitespace"}, False),
    ('a,b\n1,"2\n', {}, False),                      # quote never closed: the C engine's error
    ('a,b\n1,"2', {}, False),
    ('a,b\nx,"y"z\n"ab"c,d\n1,""', {}, False),       # odd quoting (may end open): C engine
    ('a,b\nx,"y"z\n"ab"c,d\n1,"2"\n', {}, True),
])
def test_fast_csv_reader_reads_exactly_like_the_c_engine_or_declines(tmp_path, text, read, fast_used):
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode(read.get("encoding", "utf-8")))
    opts = ReadOptions(**read)
    fast = lio._read_csv_pyarrow(path, opts)
    assert (fast is not None) == fast_used
    if fast_used:
        pd.testing.assert_frame_equal(fast, lio._read_csv_c("transactions", path, opts), check_exact=True)


def test_fast_csv_reader_is_used_for_plain_files(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text("a,b\nNA,2\n3,x\n")
    fast = lio._read_csv_pyarrow(path, ReadOptions())
    # only an empty field is missing when reading; NA is text until a number or date column parses it
    assert fast is not None and fast["a"].tolist() == ["NA", "3"]


def test_number_fast_path_equals_the_cleaning_parser():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.normal(0, 10.0 ** rng.integers(0, 12, 20000))
    vals = [f"{v:.{d}f}" for v, d in zip(x, rng.integers(0, 8, len(x)))] + [str(v) for v in rng.random(2000)]
    vals += ["-0", "0", "-0.0", "00.50", "1e5", " 3 ", "$4", "1,234.5", "1.234,5", "1 000", "", None, "x",
             "inf", "+5", ".5", "5.", "-12345678901234", "123456789012345678", "€ 12,50"]
    s = pd.Series(vals, dtype="str")
    for decimal, thousands in [(".", None), (".", ","), (",", "."), (",", " ")]:
        got = lio.parse_numbers(s, decimal, thousands)
        want = lio._parse_numbers_text(s, decimal, thousands)
        pd.testing.assert_series_equal(got, want, check_exact=True)
        assert np.array_equal(np.signbit(got.fillna(1.0)), np.signbit(want.fillna(1.0)))


def test_iso_date_fast_path_equals_pandas_iso8601():
    import numpy as np

    rng = np.random.default_rng(0)
    start = pd.Timestamp("1680-01-01").value // 10**9
    ts = pd.to_datetime(rng.integers(0, 570 * 365 * 86400, 20000) + start, unit="s")
    vals = list(ts.strftime("%Y-%m-%d %H:%M:%S")) + list(ts[:5000].strftime("%Y-%m-%d"))
    vals += ["2023-02-30 00:00:00", "2023-02-29", "2024-02-29", "1900-02-29", "2000-02-29 01:02:03",
             "2023-01-01 24:00:00", "2023-01-01 23:59:60", "2023-13-01", "2023-04-31", "2023-01-01T10:00",
             "2024-01-04T08:30:00+01:00", "", None, "x", "2023-1-1", "2023-01-01 10:00"]
    t = pd.Series(vals, dtype="string")
    got = lio._iso_dates(t)
    want = lio._to_datetime(t, format="ISO8601").astype("datetime64[ns]")
    pd.testing.assert_series_equal(got, want, check_exact=True)
    assert got.isna().sum() == 10  # 7 impossible dates, "", None, "x"


def test_duplicate_check_on_candidates_equals_the_full_comparison():
    # _duplicated_first compares whole rows only where the parsed numbers and dates repeat
    rng = np.random.default_rng(3)
    n = 5000
    text = pd.DataFrame({
        "id": rng.choice(["a", "b", "c", None], n), "note": rng.choice(["x", "y", None], n),
        "when": rng.choice(["2024-01-01", "2024-01-02", "bad"], n), "amount": rng.choice(["1.5", "2", "", "-0"], n),
    }, dtype="str")
    parsed = pd.DataFrame({"when": pd.to_datetime(text["when"], errors="coerce"),
                           "amount": pd.to_numeric(text["amount"], errors="coerce")})
    expected = text.duplicated(keep="first")
    assert 0 < expected.sum() < n
    pd.testing.assert_series_equal(lio._duplicated_first(text, parsed), expected)
    # no cheap column: the full comparison
    pd.testing.assert_series_equal(lio._duplicated_first(text, parsed[[]]), expected)
