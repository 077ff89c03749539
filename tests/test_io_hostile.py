"""Loader under hostile input (issue 16): wrong numbers must not pass silently, and a bad
file is a DataError naming file, column and source lines, never a traceback.

The one-file cases live in tests/bad_inputs/; here are the checks that need more than
one file (CSV against Parquet), the whole dataset (reports' order counts), or a
reference implementation to compare a fast path with.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from lclib.config import ConfigError, TableInput, load_config
from lclib.io import load as lio
from lclib.io.ledger import Ledger
from lclib.io.load import DataError, load_table
from lclib.io.dataset import load_dataset

TX = {c: c for c in ("customer_id", "order_id", "timestamp", "amount")}
NOW = pd.Timestamp("2030-01-01")


def _load(path: Path, columns=None, timezone=None, **blocks):
    spec = TableInput.model_validate({"path": str(path), "columns": columns or TX, **blocks})
    ledger = Ledger()
    df, _ = load_table("transactions", spec, path, ledger, now=NOW, timezone=timezone)
    return df, ledger.tables["transactions"]


def _config(tmp_path: Path, tx: dict, **sections):
    p = tmp_path / "lclib.yaml"
    p.write_text(yaml.safe_dump({"inputs": {"transactions": tx}, **sections}), encoding="utf-8")
    return load_config(p)


# ----------------------------------------------------------------------------- time zones


@pytest.mark.parametrize("timezone", [None, "UTC", "Europe/Paris", "America/New_York"])
def test_the_same_instant_gives_the_same_timestamp_from_csv_and_parquet(tmp_path, timezone):
    instants = pd.Series(pd.to_datetime(["2024-01-01 08:00:00", "2024-07-01 08:00:00", "2024-03-31 00:30:00"])
                         .tz_localize("UTC"))
    base = pd.DataFrame({"customer_id": ["A", "B", "C"], "order_id": ["1", "2", "3"], "amount": [1.0, 2.0, 3.0]})
    paris = instants.dt.tz_convert("Europe/Paris")
    base.assign(timestamp=instants).to_parquet(tmp_path / "utc.parquet")
    base.assign(timestamp=paris).to_parquet(tmp_path / "paris.parquet")
    base.assign(timestamp=paris.map(lambda t: t.isoformat())).to_csv(tmp_path / "paris.csv", index=False)
    base.assign(timestamp=instants.dt.strftime("%Y-%m-%dT%H:%M:%SZ")).to_csv(tmp_path / "utc.csv", index=False)
    got = {f: _load(tmp_path / f, timezone=timezone)[0]["timestamp"].tolist()
           for f in ("utc.parquet", "paris.parquet", "paris.csv", "utc.csv")}
    # the same representation always agrees; with a zone every representation agrees
    assert got["utc.parquet"] == got["utc.csv"]
    assert got["paris.parquet"] == got["paris.csv"]
    if timezone is None:  # wall time as written
        assert got["paris.csv"][0] == pd.Timestamp("2024-01-01 09:00")
        assert got["utc.csv"][0] == instants[0].tz_localize(None)
    else:
        want = instants.dt.tz_convert(timezone).dt.tz_localize(None).tolist()
        assert all(v == want for v in got.values())


def test_timezone_is_a_configuration_key_checked_on_load(tmp_path):
    tx = {"path": "tx.csv", "columns": TX}
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,amount\nA,1,2024-07-01T08:00:00Z,1\n")
    data = load_dataset(_config(tmp_path, tx, analysis={"timezone": "Europe/Paris"}), now=NOW)
    assert data.transactions.timestamp.tolist() == [pd.Timestamp("2024-07-01 10:00")]
    with pytest.raises(ConfigError, match="analysis.timezone: unknown time zone 'Paris'"):
        _config(tmp_path, tx, analysis={"timezone": "Paris"})


def test_typed_parquet_timestamps_out_of_the_nanosecond_range_are_out_of_range_rows(tmp_path):
    import datetime as dt

    stamps = [dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31), dt.datetime(1850, 1, 1), dt.datetime(2024, 5, 5, 10)]
    pq.write_table(pa.table({"customer_id": ["A", "B", "C", "D"], "order_id": ["1", "2", "3", "4"],
                             "timestamp": pa.array(stamps, pa.timestamp("us", tz="UTC")),
                             "amount": [1.0, 2.0, 3.0, 4.0]}), tmp_path / "tx.parquet")
    df, entry = _load(tmp_path / "tx.parquet", timezone="Asia/Tokyo")
    assert entry.dropped == {"out_of_range_dates": 3} and entry.examples["out_of_range_dates"] == [1, 2, 3]
    assert df.timestamp.tolist() == [pd.Timestamp("2024-05-05 19:00")]


# ----------------------------------------------------------------------------- order ids


def _restarting_order_numbers(n_customers: int = 40, orders_each: int = 3) -> pd.DataFrame:
    rows = [(f"C{c:03d}", str(o), f"2024-01-{1 + (c + o) % 28:02d} 10:00:00", 5.0)
            for c in range(n_customers) for o in range(1, orders_each + 1) for _ in range(2)]  # 2 lines an order
    return pd.DataFrame(rows, columns=list(TX))


def test_order_numbers_restarting_per_customer_are_refused_or_counted_per_customer(tmp_path):
    from lclib.analysis.overview import headline_counts, monthly_activity

    _restarting_order_numbers().to_csv(tmp_path / "tx.csv", index=False)
    tx = {"path": "tx.csv", "columns": TX}
    with pytest.raises(DataError, match=r"3 order id\(s\) are used by more than one customer"):
        load_dataset(_config(tmp_path, tx), now=NOW)
    data = load_dataset(_config(tmp_path, {**tx, "clean": {"order_ids": "per_customer"}}), now=NOW)
    assert "3 order id(s) were used by several customers" in data.ledger.tables["transactions"].notes["order_ids"]
    assert data.ledger.to_dict()["transactions"]["notes"]  # saved in run.json
    for engine in ("duckdb", "pandas"):  # "40 customers placed 120 orders", not 3
        counts = headline_counts(data.transactions, engine=engine)
        assert (counts["customers"], counts["orders"]) == (40, 120)
        assert monthly_activity(data.transactions, engine=engine)["orders"].sum() == 120


@pytest.mark.parametrize("seed", range(6))
def test_shared_order_id_detection_equals_the_groupby_reference(seed):
    rng = np.random.default_rng(seed)
    n = 3000
    orders = rng.integers(0, 400 if seed % 2 else 4000, n)
    customers = orders % 97 if seed < 3 else rng.integers(0, 50, n)  # one customer per order, or not
    if seed == 0:
        orders.sort()
        customers = orders % 97  # sorted, adjacent lines: the fast path
    o = pd.Series([f"O{v}" for v in orders], dtype="string")
    c = pd.Series([f"C{v}" for v in customers], dtype="string")
    want = pd.DataFrame({"o": o, "c": c}).groupby("o", sort=False)["c"].nunique()
    want = sorted(want[want > 1].index)
    got = lio._shared_order_ids(o, c)
    assert sorted(got.to_pylist() if got is not None else []) == want


# ----------------------------------------------------------------------------- numbers


def _amounts(n: int = 2000, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(np.exp(rng.normal(3, 2, n)), 2)  # 0.01 .. tens of thousands, cents


@pytest.mark.parametrize("style", ["thousands_comma", "decimal_comma"])
def test_realistic_thousands_and_decimal_comma_files(tmp_path, style):
    values = _amounts()
    if style == "thousands_comma":  # 1,234.50
        text = [f"{v:,.2f}" for v in values]
        right, wrong, hint = {"thousands": ","}, {"decimal": ",", "thousands": "."}, 'read.thousands: ","'
    else:  # 1.234,50
        text = [f"{v:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".") for v in values]
        right, wrong, hint = {"decimal": ",", "thousands": "."}, {"thousands": ","}, 'read.decimal: ","'
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(len(values))],
                          "order_id": [f"O{i}" for i in range(len(values))],
                          "timestamp": "2024-01-02 10:00:00", "amount": text})
    frame.to_csv(tmp_path / "tx.csv", sep=";", index=False)
    df, _ = _load(tmp_path / "tx.csv", read={"delimiter": ";", **right})
    np.testing.assert_array_equal(df.amount.to_numpy(), values)
    with pytest.raises(DataError) as err:  # the other convention: refused with the key to set
        _load(tmp_path / "tx.csv", read={"delimiter": ";", **wrong})
    assert hint in str(err.value) and "fail 'is a number'" in str(err.value)


def test_misgrouped_thousands_are_not_read():
    s = pd.Series(["1,234.5", "12,50", "1,23,456", "1,2345", "-1,000", "€ 2,500.75", "7", "1,234,567"], dtype="str")
    got = lio.parse_numbers(s, ".", ",")
    assert got.isna().tolist() == [False, True, True, True, False, False, False, False]
    assert got.dropna().tolist() == [1234.5, -1000.0, 2500.75, 7.0, 1234567.0]


# ----------------------------------------------------------------------------- lines, files, messages


@pytest.mark.parametrize("text", [
    'a,b\n1,2\n\n3,"x\ny"\r\n\r\n4,"""q""\n\n"\n5,6',
    'a,b\n"h\nh",1\n2,3\n',
    "a,b\n1,2\n3,4\n",
    "a,b\r\n\r\n1,2\r\n",
    'a,b\n1,"a,b\n\n\nc"\n\n2,3\n\n',
    "a,b\n1,2\n   \n\t\r\n,\n3,4\n \n",                # lines of blanks are skipped, "," is a row
    'a,b\n1,"  \n  "\n2,3',
])
def test_source_lines_are_the_lines_an_editor_shows(tmp_path, text):
    path = tmp_path / "f.csv"
    path.write_bytes(text.encode())
    frame, _ = lio.read_raw("transactions", TableInput.model_validate({"path": str(path), "columns": {}}), path)
    # reference: Python's csv module, counting the physical line each record starts on
    want, previous, physical = [], 0, text.split("\n")
    reader = csv.reader(io.StringIO(text, newline=""))
    for record in reader:  # a line that is empty or only spaces, tabs, CR is no row
        if physical[previous].strip(" \t\r"):
            want.append(previous + 1)
        previous = reader.line_num
    assert frame.index.tolist() == want[1:]


def test_a_directory_or_a_workbook_under_any_name_is_named_for_what_it_is(tmp_path):
    import zipfile

    (tmp_path / "exports").mkdir()
    with pytest.raises(DataError, match="is a directory, not a file"):
        _load(tmp_path / "exports")
    with zipfile.ZipFile(tmp_path / "orders.csv", "w") as z:  # a workbook saved under a .csv name
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DataError, match="looks like an Excel workbook") as err:
        _load(tmp_path / "orders.csv")
    assert "encoding" not in str(err.value)


def test_nothing_left_says_why_without_pointing_at_a_ledger_it_does_not_show(tmp_path):
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,amount\n,O1,2024-01-01,3\nA,O2,2024-01-01,\n")
    with pytest.raises(DataError) as err:
        load_dataset(_config(tmp_path, {"path": "tx.csv", "columns": TX}), now=NOW)
    msg = str(err.value)
    assert "see the ledger" not in msg
    assert "2 rows read, all dropped" in msg and "missing_id): 1, e.g. line(s) 2" in msg
    assert "missing_amount): 1, e.g. line(s) 3" in msg


def test_a_configuration_that_is_not_utf8_is_a_config_error(tmp_path):
    p = tmp_path / "lclib.yaml"
    p.write_bytes("inputs:\n  transactions:\n    path: caf\xe9.csv\n".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        load_config(p)


def test_repeated_parquet_column_is_an_error(tmp_path):
    import datetime as dt

    pq.write_table(pa.table([pa.array(["A"]), pa.array(["O1"]), pa.array([dt.datetime(2024, 1, 1)]),
                             pa.array([1.0]), pa.array([2.0])],
                            names=["customer_id", "order_id", "timestamp", "amount", "amount"]), tmp_path / "t.parquet")
    with pytest.raises(DataError, match=r"column 'amount' appears 2 times \(columns 4, 5\) in the schema"):
        _load(tmp_path / "t.parquet")


def test_new_rules_set_to_error_name_the_lines(tmp_path):
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,quantity,unit_price\n"
                                     "A,O1,2024-01-02,0,2\nB,O2,2024-01-03,1e200,1e200\nC,O3,2024-01-04,1,2\n")
    cols = {"customer_id": "customer_id", "order_id": "order_id", "timestamp": "timestamp",
            "quantity": "quantity", "unit_price": "unit_price"}
    with pytest.raises(DataError) as err:
        _load(tmp_path / "tx.csv", columns=cols, clean={"zero_quantity": "error", "nonfinite_amount": "error"})
    msg = str(err.value)
    assert "column 'quantity': 1 row(s) fail 'is not zero': line 2 ('0')" in msg
    assert "column 'unit_price': 1 row(s) fail 'times quantity is at most 1e+12': line 3 ('1e200')" in msg
