"""Property-based: messy generated CSV exports never crash the loader and always balance the ledger.

Each example is a small order export drawn from hostile values (ids that look missing, dates
out of range or with offsets, amounts such as inf, NaN, 12,50 or 1e308, blank lines, quoted
line breaks, CRLF, a byte-order mark) read with random settings and cleaning rules. Whatever
the file, :func:`lclib.io.load.load_table` either raises :class:`DataError` or returns a table
whose ledger balances (rows read = rows kept + rows dropped), whose example lines are lines
where records start, and whose kept rows obey the rules. Derandomized: the same examples
on every run.
"""

from __future__ import annotations

import csv
import io
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

from lclib.config import TableInput  # noqa: E402
from lclib.io.ledger import Ledger  # noqa: E402
from lclib.io.load import DataError, load_table  # noqa: E402

NOW = pd.Timestamp("2026-01-01")
IDS = ["A", "B", "C", "00123", "17850.0", "NA", "None", "null", "", "   ", "Zoë", "a,b", 'q"uote']
ORDERS = ["1", "2", "O1", "O2", "C9", "NA", "", "007", "x\ny"]
DATES = ["2024-01-02 10:00:00", "2024-01-03", "2024-02-30", "", "garbage", "0001-01-01", "9999-12-31",
         "1650-06-01", "2300-01-01", "1899-12-31", "2024-07-01T10:00:00+02:00", "2024-07-01T08:00:00Z",
         "13/01/2024 10:00", "2030-01-01", "NULL"]
AMOUNTS = ["12.5", "7", "", "NaN", "NA", "inf", "-inf", "1e308", "1e13", "-0", "0", "-3", "12,50", "1,234.50",
           "abc", "$4", " 7 ", "1.5e2", "00.50"]
NOTES = ["", "plain", "two\nlines", 'say "hi"', "a,b", "\r\n", "   "]


@st.composite
def exports(draw):
    n = draw(st.integers(0, 12))
    rows = [[draw(st.sampled_from(IDS)), draw(st.sampled_from(ORDERS)), draw(st.sampled_from(DATES)),
             draw(st.sampled_from(AMOUNTS)), draw(st.sampled_from(NOTES))] for _ in range(n)]
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows([["customer_id", "order_id", "timestamp", "amount", "note"],
                                                    *rows])
    lines = buf.getvalue().split("\n")
    # blank lines between records (never inside a quoted field: only after a line ending a record)
    text = ""
    for line in lines:
        text += line + "\n"
        if draw(st.integers(0, 6)) == 0 and text.count('"') % 2 == 0:
            text += draw(st.sampled_from(["\n", "   \n", "\t\n"]))  # blank lines, also of spaces
    if draw(st.booleans()):
        text = text.rstrip("\n")
    if draw(st.booleans()):  # CRLF (a lone carriage return is not a line end: none is drawn)
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    data = text.encode("utf-8")
    if draw(st.integers(0, 5)) == 0:
        data = b"\xef\xbb\xbf" + data
    read = draw(st.sampled_from([{}, {"thousands": ","}, {"dayfirst": True}]))
    clean = {
        "max_unparsable_share": draw(st.sampled_from([0.05, 1.0])),
        "order_ids": draw(st.sampled_from(["unique", "per_customer"])),
        "missing_amount": draw(st.sampled_from(["drop", "drop", "error"])),
        "zero_quantity": "drop",
        "duplicates": draw(st.sampled_from(["drop", "keep"])),
        "cancellations": draw(st.sampled_from(["net", "drop", "keep"])),
        "nonpositive_price": draw(st.sampled_from(["drop", "keep"])),
        "future_dates": draw(st.sampled_from(["drop", "keep"])),
    }
    timezone = draw(st.sampled_from([None, "Europe/Paris"]))
    return data, read, clean, timezone


def _record_lines(data: bytes) -> list[int]:
    """Reference: the line each non-empty record starts on (Python's csv module)."""
    text = data.decode("utf-8-sig")
    physical = text.split("\n")
    starts, previous = [], 0
    reader = csv.reader(io.StringIO(text, newline=""))
    for record in reader:  # a line that is empty or only spaces, tabs, CR is no row
        if physical[previous].strip(" \t\r"):
            starts.append(previous + 1)
        previous = reader.line_num
    return starts


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(exports())
def test_messy_exports_load_or_fail_with_a_data_error_and_the_ledger_balances(example):
    data, read, clean, timezone = example
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tx.csv"
        path.write_bytes(data)
        spec = TableInput.model_validate({
            "path": str(path), "read": read, "clean": clean,
            "columns": {c: c for c in ("customer_id", "order_id", "timestamp", "amount")}})
        ledger = Ledger()
        try:
            df, info = load_table("transactions", spec, path, ledger, now=NOW, timezone=timezone)
        except DataError as e:
            assert str(e).startswith(str(path)), str(e)  # every message names the file
            return
    entry = ledger.tables["transactions"]
    starts = _record_lines(data)
    assert entry.rows_in == len(starts) - 1 == len(df) + sum(entry.dropped.values()) == info.rows_kept + \
        entry.rows_dropped
    data_lines = set(starts[1:])
    for reason, lines in entry.examples.items():
        assert set(lines) <= data_lines, (reason, lines, starts)
    if len(df):
        assert df["customer_id"].notna().all() and df["order_id"].notna().all()
        assert np.isfinite(df["amount"]).all() and (df["amount"].abs() <= 1e12).all()
        assert df["timestamp"].between(pd.Timestamp("1900-01-01"), pd.Timestamp("2200-12-31 23:59:59")).all()
        owners = df.groupby("order_id")["customer_id"].nunique()
        assert (owners == 1).all()  # an order id names one customer's order


FIELD = st.lists(st.sampled_from(list('ab ,"\t') + ["\n", "\r\n"]), max_size=6).map("".join)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(records=st.lists(st.lists(FIELD, min_size=1, max_size=3), min_size=1, max_size=8),
       blanks=st.lists(st.sampled_from(["", "\n", "  \n", "\t\r\n", "\n\n"]), min_size=9, max_size=9),
       end=st.sampled_from(["", "\n", "\r\n", "\n  \n"]), block=st.integers(1, 9))
def test_record_start_lines_equal_pythons_csv_module_across_block_ends(records, blanks, end, block):
    from lclib.io import load as lio

    text = ""
    for i, record in enumerate(records):
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow(record)
        text += blanks[i] + buf.getvalue()
    text = text[:-1] + end  # the last record's own line feed replaced by the file's ending
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "f.csv"
        path.write_bytes(text.encode())
        saved, lio._BLOCK = lio._BLOCK, block  # a few bytes at a time: quotes and lines cross block ends
        try:
            got = lio._record_start_lines(path).tolist()
        finally:
            lio._BLOCK = saved
    assert got == _record_lines(text.encode())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=0, max_size=40), st.sampled_from([1, 2, 3]))
def test_keeping_rows_equals_selecting_them_with_loc(keep, chunks):
    """``ledger.keep_rows`` (Arrow text filtered by Arrow) gives ``frame.loc[keep]`` exactly: values,
    dtypes (``str``, ``string``, nullable integers, categories, times), index, column names, attrs;
    text stored in several Arrow chunks too."""
    import pyarrow as pa

    from lclib.io.ledger import keep_rows

    n = len(keep)
    text = [None if i % 5 == 0 else f"é{i}" for i in range(n)]
    frame = pd.DataFrame({
        "a": pd.Series(text, dtype="str"), "b": pd.Series(text, dtype="string"),
        "n": pd.array([None if i % 3 == 0 else i for i in range(n)], dtype="Int64"),
        "c": pd.Categorical([["x", "y"][i % 2] for i in range(n)]),
        "t": pd.date_range("2024-01-01", periods=n, freq="h"), "f": np.arange(n) / 3,
        "o": pd.Series([("q", i) for i in range(n)], dtype=object),
    }, index=pd.Index(np.arange(1, n + 1) * 7, name="line"))
    if chunks > 1 and n:  # text as pyarrow holds it after reading a file in batches
        cut = np.array_split(np.arange(n), chunks)
        arr = pa.chunked_array([pa.array([text[i] for i in part], pa.large_string()) for part in cut])
        frame["a"] = pd.Series(frame["a"].dtype.__from_arrow__(arr), index=frame.index)
    frame.columns.name = "field"
    frame.attrs["source"] = "shop.csv"
    mask = np.array(keep, dtype=bool)
    got = keep_rows(frame, mask)
    pd.testing.assert_frame_equal(got, frame.loc[mask], check_exact=True)
    assert got.attrs == {"source": "shop.csv"} and got.columns.name == "field"
