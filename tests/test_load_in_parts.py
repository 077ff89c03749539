"""A transactions Parquet file cleaned in parts (lclib.io.parts) gives exactly what the in-memory loader gives.

Same cleaned lines (values, dtypes, order), same ledger (counts, example lines, notes),
same input description, same errors; on the messy shop export (planted defects, refunds
netted, float customer ids) split into about ten parts.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import yaml

from lclib.config import load_config
from lclib.io import parts
from lclib.io.dataset import Dataset, load_dataset
from lclib.io.load import DataError

FIXTURES = Path(__file__).parent / "fixtures"
NOW = pd.Timestamp("2026-01-01")
COLUMNS = {"customer_id": "CustomerID", "order_id": "InvoiceNo", "timestamp": "InvoiceDate",
           "quantity": "Quantity", "unit_price": "UnitPrice", "product": "StockCode"}


def _shop(typed_dates: bool) -> pd.DataFrame:
    df = pd.read_csv(FIXTURES / "messy_shop_export.csv", encoding="latin-1", dtype={"InvoiceNo": str})
    if typed_dates:
        df["InvoiceDate"] = pd.to_datetime(df["InvoiceDate"], format="%d/%m/%Y %H:%M", errors="coerce")
    return df


def _config(tmp: Path, data: pd.DataFrame, rows_per_part: int | None, **clean) -> object:
    path = tmp / "shop.parquet"
    if not path.exists():
        data.to_parquet(path, index=False)
    read = {"rows_per_part": rows_per_part}
    if not pd.api.types.is_datetime64_any_dtype(data["InvoiceDate"]):
        read["date_format"] = "%d/%m/%Y %H:%M"
    cfg = {"inputs": {"transactions": {"path": str(path), "columns": COLUMNS, "read": read,
                                       "clean": {"non_product_codes": ["POST", "M", "BANK CHARGES"], **clean}}}}
    p = tmp / f"lclib_{rows_per_part}.yaml"
    p.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return load_config(p)


def _both(tmp: Path, data: pd.DataFrame, executor=None, **clean) -> tuple[Dataset, Dataset]:
    whole = load_dataset(_config(tmp, data, None, **clean), now=NOW)
    in_parts = load_dataset(_config(tmp, data, 500, **clean), now=NOW, executor=executor)
    return whole, in_parts


@pytest.fixture(scope="module")
def pool():
    """Two spawned processes, as the runner's notebook workers clean the parts while the data loads."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


def _assert_same(whole: Dataset, in_parts: Dataset) -> None:
    pd.testing.assert_frame_equal(in_parts.transactions, whole.transactions, check_exact=True)
    assert in_parts.ledger.to_dict() == whole.ledger.to_dict()
    assert in_parts.ledger.text() == whole.ledger.text()  # the reasons in the same order too
    assert [i.__dict__ for i in in_parts.inputs] == [i.__dict__ for i in whole.inputs]


@pytest.mark.parametrize("typed_dates", [False, True], ids=["text dates + date_format", "typed timestamps"])
@pytest.mark.parametrize("cancellations", ["net", "drop"])
def test_cleaning_in_parts_equals_cleaning_in_memory(tmp_path, typed_dates, cancellations):
    data = _shop(typed_dates)
    whole, in_parts = _both(tmp_path, data, cancellations=cancellations)
    assert parts.can_load_in_parts(in_parts.config.inputs.transactions, tmp_path / "shop.parquet")
    _assert_same(whole, in_parts)
    entry = whole.ledger.tables["transactions"]
    # the file's defects are really exercised: duplicates, missing ids, refunds netted from several parts
    assert entry.dropped["duplicates"] > 0 and entry.dropped["missing_id"] > 0
    if cancellations == "net":
        assert entry.dropped["cancellations_netted"] > 0 and "refunds" in entry.notes
        assert whole.transactions["refunded_amount"].gt(0).sum() > 10


@pytest.mark.parametrize("cancellations", ["net", "drop"])
def test_parts_cleaned_side_by_side_by_a_process_pool_equal_cleaning_in_memory(tmp_path, pool, cancellations):
    data = _shop(typed_dates=False)
    whole, in_parts = _both(tmp_path, data, executor=pool, cancellations=cancellations)
    _assert_same(whole, in_parts)
    assert whole.ledger.tables["transactions"].dropped["duplicates"] > 0


def test_a_pool_cleans_parts_of_rows_per_part_over_its_size_and_writes_the_same_cache(tmp_path, pool):
    # 4,794 lines, read.rows_per_part 500 on two processes: 20 parts of 250 lines, written as one process
    # writes the parts of read.rows_per_part 250 (the same parts, in the same order)
    data = _shop(typed_dates=True)
    path = tmp_path / "shop.parquet"
    split = parts.split_by_customer
    seen = []
    try:
        parts.split_by_customer = lambda *a: seen.append(a[3]) or split(*a)
        one, _ = parts.load_transactions_in_parts(_config(tmp_path, data, 250).inputs.transactions, path,
                                                  parts.Ledger(), now=NOW, timezone=None,
                                                  out=tmp_path / "one" / "transactions.parquet")
        two, _ = parts.load_transactions_in_parts(_config(tmp_path, data, 500).inputs.transactions, path,
                                                  parts.Ledger(), now=NOW, timezone=None,
                                                  out=tmp_path / "two" / "transactions.parquet", executor=pool)
    finally:
        parts.split_by_customer = split
    assert seen == [20, 20]
    assert pq.read_table(two.path).equals(pq.read_table(one.path))
    assert len(pq.read_table(two.path)) == one.rows == two.rows == 4441


def test_rows_failing_a_hard_check_are_the_same_error_when_a_pool_cleans_the_parts(tmp_path, pool):
    data = _shop(typed_dates=True)
    data["UnitPrice"] = data["UnitPrice"].astype(str)
    data.loc[data.index[::400], "UnitPrice"] = "twelve"
    with pytest.raises(DataError) as one:
        load_dataset(_config(tmp_path, data, 500), now=NOW)
    with pytest.raises(DataError) as two:
        load_dataset(_config(tmp_path, data, 1000), now=NOW, executor=pool)  # the same 10 parts on 2 processes
    assert str(two.value) == str(one.value)
    assert two.value.problems == one.value.problems


def test_a_pool_process_that_dies_while_cleaning_is_said_with_what_to_lower(tmp_path):
    from concurrent.futures import Executor, Future
    from concurrent.futures.process import BrokenProcessPool

    class DeadPool(Executor):
        _max_workers = 2

        def submit(self, fn, *args, **kwargs):
            f = Future()
            f.set_exception(BrokenProcessPool("A process in the process pool was terminated abruptly"))
            return f

    data = _shop(typed_dates=True)
    with pytest.raises(RuntimeError, match=r"a process cleaning the parts of the transactions file \(10 parts, 2 at "
                                           r"a time\) ended unexpectedly, most likely for lack of memory: lower "
                                           r"inputs.transactions.read.rows_per_part or report.workers"):
        load_dataset(_config(tmp_path, data, 1000), now=NOW, executor=DeadPool())
    assert not list(tmp_path.glob("*.partial"))


def test_the_split_keeps_every_line_of_a_customer_in_one_part(tmp_path):
    data = _shop(typed_dates=True)
    data.to_parquet(tmp_path / "shop.parquet", index=False)
    spec = _config(tmp_path, data, 500).inputs.transactions
    files, whole, int_nulls = parts.split_by_customer(spec, tmp_path / "shop.parquet", tmp_path, 10, None)
    got = [pd.read_feather(f) for f in files]
    assert sum(len(g) for g in got) == len(data)
    owners = pd.concat([g[["CustomerID"]].assign(part=i) for i, g in enumerate(got)])
    assert owners.dropna().groupby("CustomerID")["part"].nunique().max() == 1
    assert all(g[parts.LINE].is_monotonic_increasing for g in got)  # source order inside a part
    assert sorted(pd.concat(got)[parts.LINE]) == list(range(1, len(data) + 1))
    assert whole == {"CustomerID": True, "UnitPrice": False} and int_nulls == []
    assert 5 <= sum(len(g) > 0 for g in got) <= 10


def test_a_fraction_anywhere_in_the_file_decides_how_float_ids_read_in_every_part(tmp_path):
    # ids stored as floats read as integers only when every value in the file is whole
    data = _shop(typed_dates=True)
    data.loc[data.index[-1], ["CustomerID", "InvoiceNo"]] = [99999.5, "999999"]
    whole, in_parts = _both(tmp_path, data)
    _assert_same(whole, in_parts)
    assert "99999.5" in set(whole.transactions["customer_id"])


@pytest.mark.parametrize("same_part", [False, True], ids=["customers in different parts", "in the same part"])
def test_an_order_id_shared_by_two_customers_is_the_same_error(tmp_path, same_part, pool):
    data = _shop(typed_dates=True)
    ids = data["CustomerID"].dropna().unique()
    part = parts._part_of(pd.Series([str(int(i)) for i in ids], dtype="string"), 10)  # 4,794 lines: 10 parts
    twin = next(i for i in range(1, len(ids)) if (part[i] == part[0]) == same_part and i > 5)
    good = ((data["Quantity"] > 0) & (data["UnitPrice"] > 0) & ~data["InvoiceNo"].str.startswith("C")
            & ~data["StockCode"].isin(["POST", "M", "BANK CHARGES"]) & data["InvoiceDate"].notna()
            & ~data.duplicated(keep=False))
    first = data.index[good & (data["CustomerID"] == ids[0])][0]
    other = data.index[good & (data["CustomerID"] == ids[twin])][0]
    data.loc[other, "InvoiceNo"] = data.loc[first, "InvoiceNo"]
    with pytest.raises(DataError) as whole:
        load_dataset(_config(tmp_path, data, None), now=NOW)
    with pytest.raises(DataError) as in_parts:
        load_dataset(_config(tmp_path, data, 500), now=NOW)
    assert str(in_parts.value) == str(whole.value)
    assert "used by more than one customer" in str(whole.value)
    a, b = _both(tmp_path, data, order_ids="per_customer")
    _assert_same(a, b)
    if same_part:  # found inside a part, across parts (below), and so when processes clean the parts
        with pytest.raises(DataError) as on_a_pool:
            load_dataset(_config(tmp_path, data, 500), now=NOW, executor=pool)
        assert str(on_a_pool.value) == str(whole.value)
    assert "1 order id(s) were used by several customers" in a.ledger.tables["transactions"].notes["order_ids"]


def test_too_many_unreadable_dates_is_the_same_error_counted_on_the_whole_file(tmp_path):
    data = _shop(typed_dates=False)
    bad = np.random.default_rng(3).random(len(data)) < 0.2
    data.loc[bad, "InvoiceDate"] = "not a date"
    with pytest.raises(DataError) as whole:
        load_dataset(_config(tmp_path, data, None), now=NOW)
    with pytest.raises(DataError) as in_parts:
        load_dataset(_config(tmp_path, data, 500), now=NOW)
    assert str(in_parts.value) == str(whole.value)
    # counted after the rows without a customer id and the duplicates are dropped: about a fifth
    assert re.search(r"column 'InvoiceDate': [0-9,]{3,} of 4,[0-9]{3} dates \((19|20|21)%\)", str(whole.value))


def test_text_dates_without_a_format_are_read_in_memory(tmp_path):
    data = _shop(typed_dates=False)
    cfg = _config(tmp_path, data, 500)
    spec = cfg.inputs.transactions.model_copy(update={"read": cfg.inputs.transactions.read.model_copy(
        update={"date_format": None})})
    assert not parts.can_load_in_parts(spec, tmp_path / "shop.parquet")
    assert parts.can_load_in_parts(cfg.inputs.transactions, tmp_path / "shop.parquet")


def test_the_run_cache_keeps_the_cleaned_lines_on_disk_until_a_notebook_reads_them(tmp_path):
    data = _shop(typed_dates=True)
    cache = tmp_path / "cache"
    loaded = load_dataset(_config(tmp_path, data, 500), now=NOW, write_to=cache)
    on_disk = loaded.tables.file("transactions")
    assert on_disk is not None and on_disk.path == cache / "transactions.parquet"
    assert loaded.has("transactions")  # answered from the row count, the file is not read
    assert loaded.tables.file("transactions") is not None
    loaded.save(cache)
    opened = Dataset.open(cache, loaded.config)
    assert opened.tables.file("transactions") is not None
    whole = load_dataset(_config(tmp_path, data, None), now=NOW)
    pd.testing.assert_frame_equal(opened.transactions, whole.transactions, check_exact=True)
    assert opened.tables.file("transactions") is None  # read once, kept
    assert opened.ledger.to_dict() == whole.ledger.to_dict()


def test_the_run_caches_orders_are_the_same_from_lines_cleaned_in_parts_or_in_memory(tmp_path):
    """The parts' cleaned lines are cached in the parts' order with their source line numbers (no sort of
    every line); compacted into orders they give the orders of the lines cleaned in memory, each order's
    channel its first line's in the source (the lines of one order carry different channels here)."""
    from lclib.engine.orders import compact_order_lines_file

    data = _shop(typed_dates=True)
    data["Channel"] = np.random.default_rng(4).choice(["email", "search", None], len(data))
    path = tmp_path / "shop.parquet"
    data.to_parquet(path, index=False)
    cfgs = {}
    for rows in (None, 500):
        cfg = _config(tmp_path, data, rows)
        spec = cfg.inputs.transactions
        cfgs[rows] = cfg.model_copy(update={"inputs": cfg.inputs.model_copy(update={"transactions": spec.model_copy(
            update={"columns": {**spec.columns, "channel": "Channel"}})})})
    on_disk = load_dataset(cfgs[500], now=NOW, write_to=tmp_path / "parts")
    cached = on_disk.tables.file("transactions").path
    lines = pq.read_table(cached, columns=[parts.LINE])[parts.LINE].to_numpy()
    assert not (np.diff(lines) > 0).all()  # not in source order: the compaction must use the line numbers
    in_memory = load_dataset(cfgs[None], now=NOW)
    in_memory.save(tmp_path / "memory")
    rows = compact_order_lines_file(cached)
    assert rows == compact_order_lines_file(tmp_path / "memory" / "transactions.parquet")
    got = pd.read_parquet(cached)
    want = pd.read_parquet(tmp_path / "memory" / "transactions.parquet")
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    several = want.loc[want["lines"] > 1]
    assert len(several) > 100 and got["channel"].notna().sum() > 0
    # lines in any order: the source line numbers, not the file's order, say which line is first
    source = in_memory.transactions.assign(**{parts.LINE: np.arange(len(in_memory.transactions))})
    source.sample(frac=1.0, random_state=2).to_parquet(tmp_path / "shuffled.parquet", index=False)
    compact_order_lines_file(tmp_path / "shuffled.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "shuffled.parquet"), want, check_exact=True)


def test_pseudonymising_a_table_on_disk_gives_the_pseudonyms_of_the_table_in_memory(tmp_path):
    from lclib.io.privacy import pseudonymise_dataset

    data = _shop(typed_dates=True)
    on_disk = load_dataset(_config(tmp_path, data, 500), now=NOW, write_to=tmp_path / "cache")
    in_memory = load_dataset(_config(tmp_path, data, None), now=NOW)
    pseudonymise_dataset(on_disk, "k3y")
    pseudonymise_dataset(in_memory, "k3y")
    assert on_disk.tables.file("transactions") is not None
    pd.testing.assert_frame_equal(on_disk.transactions, in_memory.transactions, check_exact=True)
    assert not set(on_disk.transactions["customer_id"]) & set(data["CustomerID"].dropna().astype(int).astype(str))


def test_the_runner_counts_customers_and_days_of_a_table_on_disk_without_reading_it(tmp_path):
    import datetime as dt

    from lclib.report.runner import check_enough_data

    data = _shop(typed_dates=True)
    cfg = _config(tmp_path, data, 500)
    loaded = load_dataset(cfg, now=NOW, write_to=tmp_path / "cache")
    period = check_enough_data(cfg, loaded)
    assert loaded.tables.file("transactions") is not None
    first = loaded.transactions["timestamp"].min()
    # the period the reports cover (run.json data_period), the same from the file and from memory
    last = loaded.transactions["timestamp"].max()
    assert period == {"first_order": f"{first:%Y-%m-%d}", "last_day": f"{last:%Y-%m-%d}", "as_of_set": False}
    assert check_enough_data(cfg, load_dataset(_config(tmp_path, data, None), now=NOW)) == period
    cut = cfg.model_copy(update={"analysis": cfg.analysis.model_copy(update={"as_of": dt.date(2011, 3, 1)})})
    assert check_enough_data(cut, loaded)["last_day"] == "2011-02-28"
    early = cfg.model_copy(update={"analysis": cfg.analysis.model_copy(update={"as_of": dt.date(2010, 12, 1)})})
    on_disk = load_dataset(early, now=NOW, write_to=tmp_path / "cache2")
    with pytest.raises(DataError, match=f"no order before analysis.as_of 2010-12-01: the data start on {first:%Y-%m-%d}"):
        check_enough_data(early, on_disk)
    in_memory = load_dataset(_config(tmp_path, data, None), now=NOW)
    in_memory.config = early
    with pytest.raises(DataError, match="no order before analysis.as_of 2010-12-01"):
        check_enough_data(early, in_memory)


def test_rows_failing_a_hard_check_in_several_parts_are_reported_with_how_many_parts(tmp_path):
    data = _shop(typed_dates=True)
    data["UnitPrice"] = data["UnitPrice"].astype(str)
    bad = data.index[::400]  # spread over the file, so over the parts
    data.loc[bad, "UnitPrice"] = "twelve"
    with pytest.raises(DataError) as whole:
        load_dataset(_config(tmp_path, data, None), now=NOW)
    with pytest.raises(DataError) as in_parts:
        load_dataset(_config(tmp_path, data, 500), now=NOW)
    assert "'UnitPrice'" in str(whole.value) and "'UnitPrice'" in str(in_parts.value)
    assert re.search(r"These counts are those of one part of the file: it is read in 10 parts of whole customers "
                     r"\(inputs.transactions.read.rows_per_part\), and [2-9]|10 of them have such problems",
                     str(in_parts.value))
    assert {p["column"] for p in in_parts.value.problems} == {"UnitPrice"}


def _odd_types(kind: str) -> pa.Table:
    """The shop export as Parquet with unusual column types."""
    df = _shop(typed_dates=True).dropna(subset=["InvoiceDate"])
    t = pa.Table.from_pandas(df, preserve_index=False)
    col = {n: i for i, n in enumerate(t.column_names)}
    if kind == "dictionary ids":
        ids = pc.cast(pc.cast(t["CustomerID"], pa.int64()), pa.string())
        return t.set_column(col["CustomerID"], "CustomerID", ids.dictionary_encode())
    if kind == "integer ids":
        return t.set_column(col["CustomerID"], "CustomerID", pc.cast(t["CustomerID"], pa.int64()))
    if kind == "decimal prices":
        return t.set_column(col["UnitPrice"], "UnitPrice", pc.cast(t["UnitPrice"], pa.decimal128(12, 2)))
    if kind == "zoned timestamps":
        return t.set_column(col["InvoiceDate"], "InvoiceDate",
                            pc.assume_timezone(t["InvoiceDate"], "Europe/Paris", ambiguous="earliest",
                                               nonexistent="earliest"))
    if kind == "dates only":
        return t.set_column(col["InvoiceDate"], "InvoiceDate", pc.cast(t["InvoiceDate"], pa.date32()))
    raise ValueError(kind)


@pytest.mark.parametrize("kind", ["dictionary ids", "integer ids", "decimal prices", "zoned timestamps",
                                  "dates only"])
def test_unusual_parquet_column_types_clean_in_parts_as_in_memory(tmp_path, kind):
    import pyarrow.parquet as pq

    pq.write_table(_odd_types(kind), tmp_path / "shop.parquet", row_group_size=700)
    data = pd.DataFrame({"InvoiceDate": pd.to_datetime([])})  # the file above is used as it is
    whole, in_parts = _both(tmp_path, data)
    assert parts.can_load_in_parts(in_parts.config.inputs.transactions, tmp_path / "shop.parquet")
    _assert_same(whole, in_parts)
    assert len(whole.transactions) > 4000


def test_64_bit_integer_ids_with_a_gap_are_read_exactly_in_memory_and_in_parts(tmp_path):
    # pandas reads an int64 column with a missing value as float64: ids above 2**53 would be rounded
    import pyarrow.parquet as pq

    n = 1000
    ids = [2**60 + 1 + 2 * (i % 100) for i in range(n)]
    ids[5] = None
    pq.write_table(pa.table({
        "CustomerID": pa.array(ids, pa.int64()), "InvoiceNo": [f"o{i}" for i in range(n)],
        "InvoiceDate": pa.array(pd.date_range("2024-01-01", periods=n, freq="h").to_numpy()),
        "Quantity": pa.array(np.ones(n)), "UnitPrice": pa.array(np.full(n, 2.5)),
        "StockCode": ["A"] * n}), tmp_path / "shop.parquet")
    data = pd.DataFrame({"InvoiceDate": pd.to_datetime([])})
    whole, in_parts = _both(tmp_path, data)
    _assert_same(whole, in_parts)
    got = whole.transactions["customer_id"]
    assert got.nunique() == 100 and "1152921504606846977" in set(got)
    assert whole.ledger.tables["transactions"].dropped == {"missing_id": 1}


def test_per_customer_order_ids_shared_across_parts_count_as_in_memory_with_non_ascii_customer_ids(tmp_path):
    # clean.order_ids: per_customer writes "<customer>/<order>"; the parts read the order ids back
    # from that text to count the shared ones, which must cut multi-byte customer ids right
    n = 3000
    customer = np.random.default_rng(4).integers(0, 300, n)
    order = [f"{c}-{i // 20}" for i, c in enumerate(customer)]  # each customer's own numbers...
    for j in range(10):  # ... but for ten numbers used by two customers each (mostly in two parts)
        order[int(np.flatnonzero(customer == j)[0])] = order[int(np.flatnonzero(customer == j + 150)[0])] = f"S{j}"
    pq.write_table(pa.table({
        "CustomerID": [f"Kundé-東京/{c}" for c in customer], "InvoiceNo": order,
        "InvoiceDate": pa.array(pd.date_range("2024-01-01", periods=n, freq="h").to_numpy()),
        "Quantity": pa.array(np.ones(n)), "UnitPrice": pa.array(np.full(n, 2.5)),
        "StockCode": ["A"] * n}), tmp_path / "shop.parquet")
    data = pd.DataFrame({"InvoiceDate": pd.to_datetime([])})
    whole, in_parts = _both(tmp_path, data, order_ids="per_customer")
    _assert_same(whole, in_parts)
    assert "10 order id(s) were used by several customers" in whole.ledger.tables["transactions"].notes["order_ids"]
    assert in_parts.transactions["order_id"].str.startswith("Kundé-東京/").all()


@pytest.mark.parametrize("emptied", [[0], [0, 1, 2], "all"], ids=["first part", "first three", "every part"])
def test_parts_left_empty_by_cleaning_write_the_same_lines_as_in_memory(tmp_path, emptied):
    # the lines file takes its column types from the first part with lines; a part with none is skipped
    n = 2000
    customer = np.random.default_rng(7).integers(0, 200, n)
    ids = pd.Series([f"c{c}" for c in customer], dtype="string")
    part = parts._part_of(ids, 4)  # 2,000 lines in parts of 500: 4 parts
    gone = np.ones(n, bool) if emptied == "all" else np.isin(part, emptied)
    pq.write_table(pa.table({
        "CustomerID": ids.tolist(), "InvoiceNo": [f"o{i}" for i in range(n)],
        "InvoiceDate": pa.array(pd.date_range("2024-01-01", periods=n, freq="h").to_numpy()),
        "Quantity": pa.array(np.where(gone, 0.0, 2.0)), "UnitPrice": pa.array(np.full(n, 2.5)),
        "StockCode": ["A"] * n}), tmp_path / "shop.parquet")
    data = pd.DataFrame({"InvoiceDate": pd.to_datetime([])})
    if emptied == "all":  # nothing left: the same error either way
        with pytest.raises(DataError) as whole:
            load_dataset(_config(tmp_path, data, None), now=NOW)
        with pytest.raises(DataError) as in_parts:
            load_dataset(_config(tmp_path, data, 500), now=NOW)
        assert str(in_parts.value) == str(whole.value)
        return
    whole, in_parts = _both(tmp_path, data)
    _assert_same(whole, in_parts)
    assert whole.ledger.tables["transactions"].dropped == {"zero_quantity": int(gone.sum())}
    assert 0 < int(gone.sum()) < n


@pytest.mark.parametrize("memory", ["two notebooks at once", "one at a time"])
def test_lclib_run_cleans_the_parts_on_processes_of_their_own_with_the_ledger_of_one_process(tmp_path, monkeypatch,
                                                                                            memory):
    """With report.workers 2, two processes started with the run clean the parts and end once the data is
    loaded, whether the notebooks then run two at a time or (the memory holding one: 100M lines) one."""
    import json

    from conftest import make_notebook
    from lclib.report import runner
    from lclib.report.runner import run

    if memory == "one at a time":
        monkeypatch.setattr(runner, "memory_workers", lambda workers, orders: (1, "1 notebook at a time"))

    data = _shop(typed_dates=True)
    config = _config(tmp_path, data, 500)
    (tmp_path / "lclib.yaml").write_text(yaml.safe_dump({
        "inputs": {"transactions": config.inputs.transactions.model_dump(mode="json", exclude_defaults=True)},
        "analysis": {"as_of": "2011-12-10"}, "report": {"workers": 2}}), encoding="utf-8")
    for name in ("00_a", "01_b"):
        make_notebook(tmp_path / "nbs" / f"{name}.ipynb", "print('ok')")
    executors = []
    load = parts.load_transactions_in_parts
    monkeypatch.setattr(parts, "load_transactions_in_parts",
                        lambda *a, **k: executors.append(k.get("executor")) or load(*a, **k))
    result = run(tmp_path / "lclib.yaml", out=tmp_path / "reports", notebook_dir=tmp_path / "nbs")
    assert result.exit_code == 0, result.error
    assert len(executors) == 1 and parts._pool_size(executors[0]) == 2
    assert not any(p.is_alive() for p in (executors[0]._processes or {}).values())  # ended after loading
    record = json.loads((result.folder / "run.json").read_text(encoding="utf-8"))
    whole = load_dataset(_config(tmp_path, data, None), now=pd.Timestamp.now())
    assert record["ledger"] == json.loads(json.dumps(whole.ledger.to_dict()))
    assert record["inputs"][0]["rows_kept"] == len(whole.transactions)
