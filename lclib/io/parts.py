"""A large transactions file cleaned out of core, in parts of whole customers.

A Parquet file of more than ``inputs.transactions.read.rows_per_part`` lines is never
held whole in pandas. It is read in Arrow batches and split by customer into parts of
about that many lines (every line of a customer in the same part, in source order,
with its source line number; scratch files in Arrow IPC); each part is cleaned by
:func:`lclib.io.load.clean_rows`, the same code that cleans a whole file (:func:`clean_part`:
one after the other, or side by side on a process pool: ``lclib run`` starts ``report.workers``),
and its cleaned lines are appended to one Parquet file in the parts' order with their source
line numbers (:class:`TableFile`): the run's compaction into orders sorted by customer
reads them so, without a first sort of every line; a caller without a run cache gets
them sorted back into source order.

Every rule gives what it gives on the whole file, because each looks at one line or
at the lines of one customer: parsing, the hard checks, missing ids, exact duplicates
(copies of a line share its customer id), dates, amounts, cancellations and refund
netting (a refund reverses the same customer's purchases). The rules that look across
customers are applied to the whole file: the share of unreadable dates
(``clean.max_unparsable_share``), an order id used by several customers
(``clean.order_ids``), and which float columns hold whole numbers (read as integer ids).
The ledger's counts are summed and its example lines are the first five of the file.
Tested against the in-memory loader for equality (``tests/test_load_in_parts.py``).

Text dates without ``read.date_format`` are read by a rule that looks at the whole
column (ISO 8601 or pandas' inference, whichever reads more); a file storing its dates
as text without a ``date_format`` is therefore loaded in memory as before
(:func:`can_load_in_parts`).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lclib.config import TableInput
from lclib.io import columns as C
from lclib.io.ledger import Ledger
from lclib.io.memory import release_memory

#: Arrow batch read at a time while splitting the file (lines)
BATCH_ROWS = 1_000_000
#: the source line number column of the parts
LINE = "__lclib_line"
#: how the split's scratch files are written: Arrow IPC (Feather V2) with LZ4, the source's own types,
#: three times faster to write and twice as fast to read back as Parquet; LZ4 rather than zstd: 1.7 s less
#: CPU time at 10M lines for scratch files twice as large (404 against 218 MiB), kept only while loading
_SCRATCH = pa.ipc.IpcWriteOptions(compression="lz4")
#: at most this many parts (one open file each while splitting); a smaller read.rows_per_part is raised
MAX_PARTS = 256


class TableFile:
    """A cleaned table kept on disk as Parquet (``path``, ``rows``) until a notebook reads it.

    The lines a large file's parts clean are written in the order the parts give them, each
    with its source line number (column :data:`LINE`): the run compacts them into orders
    sorted by customer next (:func:`lclib.engine.orders.compact_order_lines_file`, which takes
    the first line's channel by that number), so sorting every line into source order first
    would be a sort of all the lines for nothing. :meth:`read` gives them in source order.
    """

    def __init__(self, path: str | Path, rows: int):
        self.path = Path(path)
        self.rows = int(rows)

    def read(self) -> pd.DataFrame:
        """The table as ``pd.read_parquet`` gives it (lines with a :data:`LINE` column: sorted by it,
        without it), with a lower peak: Arrow's buffers are freed column by column as pandas takes
        them, and given back to the system after (40M cached orders: 4.6 GB peak and 3.7 GB kept,
        against 5.7 and 5.8)."""
        table = pq.read_table(self.path)
        if LINE in table.column_names:  # cleaned lines in the parts' order: source order back
            import pyarrow.compute as pc

            table = table.take(pc.sort_indices(table[LINE])).drop_columns([LINE])
        df = table.to_pandas(self_destruct=True, split_blocks=True)
        del table
        release_memory()
        return df

    def __repr__(self) -> str:
        return f"TableFile({str(self.path)!r}, rows={self.rows:,})"


def parquet_rows(path: Path) -> int:
    """Number of rows of a Parquet file, from its footer (0 when it cannot be read: the loader says why)."""
    try:
        return pq.ParquetFile(path).metadata.num_rows
    except Exception:  # noqa: BLE001 - unreadable: read_raw words the error
        return 0


def can_load_in_parts(spec: TableInput, path: Path) -> bool:
    """True when ``path`` (Parquet) is larger than ``read.rows_per_part`` and its dates can be read in parts.

    Dates must be typed (timestamp or date) or ``read.date_format`` given: reading text
    dates without a format is decided on the whole column.
    """
    limit = spec.read.rows_per_part
    if not limit or parquet_rows(path) <= limit:
        return False
    try:
        schema = pq.read_schema(path)
    except Exception:  # noqa: BLE001
        return False
    for canon, user in spec.columns.items():
        if canon in C.DATE_COLUMNS and user in schema.names and not spec.read.date_format:
            t = schema.field(user).type
            if not (pa.types.is_timestamp(t) or pa.types.is_date(t)):
                return False
    return True


def _part_of(ids: pd.Series, parts: int, con=None) -> np.ndarray:
    """Part number (0 .. parts - 1) of each parsed customer id; a missing id goes to part 0.

    DuckDB's ``hash`` of the id's text, a function of the id alone (the same part in every batch),
    read from the Arrow array as it is: 0.03 s of CPU time for a million ids, against 0.18 s for
    pandas' hash, which first makes a Python string of every id. ``con``: a DuckDB connection to
    use (a new one otherwise).
    """
    import duckdb

    from lclib.io.load import _arrow

    con = duckdb.connect() if con is None else con
    hashed = con.from_arrow(pa.table({"id": _arrow(ids)})).select(f"(hash(id) % {int(parts)})::BIGINT AS part")
    out = np.asarray(hashed.fetchnumpy()["part"], dtype=np.int64)
    out[ids.isna().to_numpy()] = 0
    return out


def _is_whole(arr: pa.ChunkedArray | pa.Array) -> bool | None:
    """:func:`lclib.io.load._whole_floats` of one batch: None when it holds no value."""
    v = arr.drop_null().to_numpy(zero_copy_only=False)
    v = v[~np.isnan(v)]  # NaN is missing, as pandas' dropna() has it
    if not len(v):
        return None
    with np.errstate(invalid="ignore"):
        return bool(np.all(np.mod(v, 1) == 0) and np.all(np.abs(v) < 2.0 ** 63))


def split_by_customer(spec: TableInput, path: Path, folder: Path, parts: int, timezone: str | None
                      ) -> tuple[list[Path], dict[str, bool]]:
    """Write the lines of ``path`` into ``parts`` Arrow IPC files by customer, with their source line numbers.

    Returns the files; for every float column, whether all its values in the file are whole
    numbers (:func:`lclib.io.load._whole_floats` of the whole column); and the integer columns
    with a missing value somewhere in the file (read as nullable integers, in every part).
    """
    import duckdb

    from lclib.io.load import parse_parquet_column

    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow.append(pa.field(LINE, pa.int64()))
    files = [folder / f"raw_{i:04d}.arrow" for i in range(parts)]
    floats = [f.name for f in pf.schema_arrow if pa.types.is_floating(f.type)]
    integers = [f.name for f in pf.schema_arrow if pa.types.is_integer(f.type)]
    whole: dict[str, bool | None] = {name: None for name in floats}
    nulls = dict.fromkeys(integers, False)
    user_id = spec.columns[C.CUSTOMER_ID]
    id_whole = None  # float ids read as integers only when every id of the file is whole
    if user_id in floats:
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=[user_id]):
            w = _is_whole(batch.column(0))
            if w is not None:
                id_whole = w if id_whole is None else (id_whole and w)
    line = 1
    writers: list = []
    con = duckdb.connect()  # the parts' hashes (_part_of)
    try:
        writers += [pa.ipc.new_file(f, schema, options=_SCRATCH) for f in files]
        for batch in pf.iter_batches(batch_size=BATCH_ROWS):
            n = batch.num_rows
            ids = parse_parquet_column(C.CUSTOMER_ID, batch.column(user_id).to_pandas(), spec.read, timezone,
                                       bool(id_whole) if user_id in floats else None)
            part = _part_of(ids, parts, con)
            for name in floats:
                w = _is_whole(batch.column(name))
                if w is not None:
                    whole[name] = w if whole[name] is None else (whole[name] and w)
            for name in integers:
                nulls[name] = nulls[name] or batch.column(name).null_count > 0
            tbl = pa.Table.from_batches([batch]).append_column(LINE, pa.array(np.arange(line, line + n)))
            line += n
            order = np.argsort(part, kind="stable")
            bounds = np.searchsorted(part[order], np.arange(parts + 1))
            tbl = tbl.take(order)  # one gather, then a slice per part (six times faster than a take per part)
            for i in range(parts):
                if bounds[i + 1] > bounds[i]:
                    writers[i].write_table(tbl.slice(bounds[i], bounds[i + 1] - bounds[i]))
    finally:
        con.close()
        for w in writers:
            w.close()
    return files, {k: bool(v) for k, v in whole.items() if v is not None}, [k for k, v in nulls.items() if v]


def _merge_ledger(ledger: Ledger, table: str, part: Ledger) -> None:
    """Add a part's drops to ``ledger``: counts summed, the first five example lines of the file kept,
    the reasons in the order the rules apply (as cleaning the whole file lists them)."""
    from lclib.io.ledger import REASONS

    entry, got = ledger.tables[table], part.tables[table]
    for reason, n in got.dropped.items():
        entry.dropped[reason] = entry.dropped.get(reason, 0) + n
        entry.examples[reason] = sorted(entry.examples.get(reason, []) + got.examples.get(reason, []))[:5]
    rank = {r: i for i, r in enumerate(REASONS)}
    entry.dropped = dict(sorted(entry.dropped.items(), key=lambda kv: rank[kv[0]]))
    entry.examples = dict(sorted(entry.examples.items(), key=lambda kv: rank[kv[0]]))
    entry.notes.update(got.notes)


def _slim(net):
    """A :class:`~lclib.io.load.NetResult` without its lines, its masks reduced to their true rows."""
    if net.lines is None:
        return net
    net.lines = None
    for name in ("cancellation_netted", "cancellation_unmatched", "fully_refunded"):
        mask = getattr(net, name)
        setattr(net, name, mask[mask.to_numpy(dtype=bool)])
    return net


def _merge_nets(nets: list):
    """The :class:`~lclib.io.load.NetResult` figures of all parts as one (for the ledger note)."""
    from lclib.io.load import NetResult

    def trues(name: str) -> pd.Series:
        got = [getattr(r, name)[getattr(r, name)] for r in nets]
        return pd.concat(got, ignore_index=True) if got else pd.Series([], dtype=bool)

    out = NetResult(pd.DataFrame(), trues("cancellation_netted"), trues("cancellation_unmatched"),
                    trues("fully_refunded"), basis=nets[0].basis if nets else "")
    for name in ("cancellations", "gross", "netted", "orders_netted", "orders_fully_refunded", "unmatched",
                 "excess", "excess_lines"):
        setattr(out, name, sum(getattr(r, name) for r in nets))
    return out


def duckdb_out_of_core(folder: Path, memory_limit: str = "1GB"):
    """A DuckDB connection that spills to ``folder`` beyond ``memory_limit`` (sorts and group-bys of big files)."""
    import duckdb

    con = duckdb.connect()
    tmp = folder / "duckdb_tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    con.execute(f"SET temp_directory = {sql_text(tmp.as_posix())}")
    con.execute(f"SET memory_limit = '{memory_limit}'")
    con.execute("SET preserve_insertion_order = false")
    return con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_text(value: str) -> str:
    """A standard SQL string literal (quotes doubled): a path or a text in a DuckDB statement."""
    return "'" + str(value).replace("'", "''") + "'"


def files_sql(files: list[Path]) -> str:
    """``read_parquet([...])`` of ``files``, quoted for DuckDB."""
    return "read_parquet([" + ", ".join(sql_text(f.as_posix()) for f in files) + "])"


def load_transactions_in_parts(spec: TableInput, path: Path, ledger: Ledger, *, now: pd.Timestamp | None,
                               timezone: str | None, out: Path | None = None, executor: Executor | None = None):
    """Read, check and clean a large transactions Parquet file part by part.

    Parameters
    ----------
    spec, path, ledger, now, timezone : as :func:`lclib.io.load.load_table`.
    out : where to write the cleaned lines (``transactions.parquet`` of the run's cache);
        None: a temporary file, read back into pandas and removed.
    executor : a process pool (:class:`concurrent.futures.ProcessPoolExecutor`) whose
        ``max_workers`` processes clean the parts side by side (:func:`clean_part`); the parts
        are then ``read.rows_per_part / max_workers`` lines, so that the lines held at once
        stay about ``read.rows_per_part``. None: the parts are cleaned one after the other
        in this process. The ledger and the cleaned lines are the same either way (the file
        written holds the lines of its parts in their order: the same file for the same parts).

    Returns
    -------
    (TableFile or DataFrame, InputInfo)
        The cleaned lines in source order, as :func:`lclib.io.load.load_table` gives them
        (a :class:`TableFile` when ``out`` is given), and the input's description.
    """
    from lclib.io import load as L

    table = "transactions"
    now = L._clock(now, timezone)
    L._check_data_file(table, spec, path)
    L._check_parquet_columns(table, spec, path)
    names = pq.read_schema(path).names
    L.select_columns(table, spec, pd.DataFrame(columns=names), path)  # a missing column: the usual message
    n_rows = parquet_rows(path)
    ledger.open(table, str(path), n_rows)
    workers = _pool_size(executor)
    per_part = max(1, spec.read.rows_per_part // workers)
    n_parts = min(MAX_PARTS, max(1, -(-n_rows // per_part)))
    if workers > 1 and n_parts % workers:  # every worker the same number of parts
        n_parts = min(MAX_PARTS, n_parts + workers - n_parts % workers)
    scratch = Path(tempfile.mkdtemp(prefix="lclib-parts-"))
    # the cleaned lines, written part after part in the parts' order with their source line numbers
    lines_file = scratch / "transactions.parquet" if out is None else out.with_name(out.name + ".partial")
    writer = _LinesWriter(lines_file)
    futures: list = []
    try:
        raw_files, whole, int_nulls = split_by_customer(spec, path, scratch, n_parts, timezone)
        args = (spec, path, int_nulls, whole, now, timezone)
        if workers == 1:  # no executor, or one of one process
            results = (clean_part(*args, raw) for raw in raw_files)
        else:  # in the parts' order, whichever finishes first: the file written is the same
            futures = [executor.submit(clean_part, *args, raw, raw.with_name(raw.stem + "_clean.arrow"))
                       for raw in raw_files]
            results = (_result(f, n_parts, workers) for f in futures)
        unparsable: dict = {}
        nets: list = []
        orders = _OrderIdsAcrossParts()
        failed: list = []
        kept, first, last = 0, None, None
        for got in results:
            if got.error is not None:  # the other parts are checked too, then all are reported
                failed.append((got.first_line, got.error))
                continue
            _merge_ledger(ledger, table, got.ledger)
            for col, counts in got.unparsable.items():
                into = unparsable.setdefault(col, {"bad": 0, "n": 0, "examples": []})
                into["bad"] += counts["bad"]
                into["n"] += counts["n"]
                into["examples"] += counts["examples"]
            nets += got.nets
            orders.add_summary(got.inside, got.hashes)
            kept += got.kept
            if got.first is not None:
                first = got.first if first is None else min(first, got.first)
                last = got.last if last is None else max(last, got.last)
            if not failed:  # the file fails: the other parts are only checked
                writer.write_table(got.table())
            got.discard()
        writer.close()
        if failed:
            raise _parts_error(failed, n_parts)
        for col, counts in unparsable.items():
            _check_share(table, path, spec, col, counts)
        if nets and spec.clean.cancellations == "net":
            merged = _merge_nets(nets)
            if merged.cancellations:
                ledger.note(table, "refunds", merged.sentence())
        per_customer = C.ORDER_ID in spec.columns and spec.clean.order_ids == "per_customer"
        _order_ids(table, spec, path, orders.shared_lines(lines_file, per_customer), ledger)
        ledger.check(table, kept)
        info = L.InputInfo(table=table, path=str(path), sha256=L.file_sha256(path), bytes=path.stat().st_size,
                           rows_in=n_rows, rows_kept=kept,
                           date_min=None if first is None else str(first),
                           date_max=None if last is None else str(last))
        if out is not None:  # the run's cache: in the parts' order with the line numbers (TableFile)
            lines_file.replace(out)
            return TableFile(out, kept), info
        return TableFile(lines_file, kept).read(), info  # in source order
    finally:
        for f in futures:  # an error or an interrupt: the parts not started yet are not cleaned for nothing
            f.cancel()
        writer.close()
        lines_file.unlink(missing_ok=True)
        shutil.rmtree(scratch, ignore_errors=True)


def _result(future, n_parts: int, workers: int) -> "PartResult":
    """A part's :class:`PartResult` from the pool; a process of the pool that died (the system ending it
    for lack of memory, most likely) is said in words, with what to lower."""
    from concurrent.futures import BrokenExecutor

    try:
        return future.result()
    except BrokenExecutor as e:
        raise RuntimeError(
            f"a process cleaning the parts of the transactions file ({n_parts} parts, {workers} at a time) ended "
            f"unexpectedly, most likely for lack of memory: lower inputs.transactions.read.rows_per_part or "
            f"report.workers") from e


def _pool_size(executor: Executor | None) -> int:
    """How many processes ``executor`` runs at once (1 without one)."""
    return 1 if executor is None else max(1, int(getattr(executor, "_max_workers", 1)))


@dataclass
class PartResult:
    """What cleaning one part gives (:func:`clean_part`): everything the loader merges, and the lines.

    ``lines``: the cleaned lines with their source line numbers (column :data:`LINE`), as an
    Arrow table, or the Arrow IPC file holding them when the part was cleaned in another
    process; None when the part failed (``error``, a :class:`~lclib.io.load.DataError`).
    """

    ledger: Ledger
    first_line: int = 0
    error: Exception | None = None
    unparsable: dict = field(default_factory=dict)
    nets: list = field(default_factory=list)
    inside: pd.DataFrame | None = None
    hashes: np.ndarray | None = None
    kept: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    lines: pa.Table | Path | None = None

    def table(self) -> pa.Table:
        if isinstance(self.lines, Path):
            with pa.memory_map(str(self.lines)) as source:
                return pa.ipc.open_file(source).read_all()
        return self.lines

    def discard(self) -> None:
        if isinstance(self.lines, Path):
            self.lines.unlink(missing_ok=True)
        self.lines = None


def clean_part(spec: TableInput, path: Path, int_nulls: list[str], whole: dict[str, bool], now: pd.Timestamp,
               timezone: str | None, raw_file: Path, to: Path | None = None) -> PartResult:
    """Clean one part written by :func:`split_by_customer` (and remove its file); picklable, for a process pool.

    Every rule of :func:`lclib.io.load.clean_rows`, the column contract, the part's order ids
    (:meth:`_OrderIdsAcrossParts.summary`) and its dates; the order ids are written
    ``<customer_id>/<order_id>`` under ``clean.order_ids: per_customer``. ``to``: write the
    cleaned lines to this Arrow IPC file (another process's result) instead of returning them.
    """
    from lclib.io import load as L

    table = "transactions"
    raw_all = L.read_arrow_exact(raw_file)
    raw_file.unlink()
    lines = raw_all.pop(LINE).to_numpy()
    raw_all.index = pd.Index(lines, name="line")
    for col in int_nulls:  # as the whole file reads: an integer column with a gap is nullable
        if col in raw_all and raw_all[col].dtype.kind in "iu":
            raw_all[col] = raw_all[col].astype("UInt64" if raw_all[col].dtype.kind == "u" else "Int64")
    got = PartResult(Ledger(), first_line=int(lines.min()) if len(lines) else 0)
    got.ledger.open(table, str(path), len(raw_all))
    try:
        df = L.clean_rows(table, spec, path, raw_all, got.ledger, now, timezone,
                          unparsable=got.unparsable, nets=got.nets, whole=whole)
    except L.DataError as e:
        got.error = e
        return got
    finally:
        del raw_all
    got.nets = [_slim(r) for r in got.nets]  # the figures only, not the part's lines
    df = L._contract(table).validate(df, lazy=False, inplace=True)  # no coercion: no copy
    if C.ORDER_ID in spec.columns:
        got.inside, got.hashes = _OrderIdsAcrossParts.summary(df)
    got.kept = len(df)
    if len(df):
        got.first, got.last = df[C.TIMESTAMP].min(), df[C.TIMESTAMP].max()
    if C.ORDER_ID in spec.columns and spec.clean.order_ids == "per_customer":  # checked on the whole file later
        df[C.ORDER_ID] = df[C.CUSTOMER_ID] + "/" + df[C.ORDER_ID]
    lines_table = pa.Table.from_pandas(df.assign(**{LINE: df.index.to_numpy()}), preserve_index=False)
    del df
    if to is None:
        got.lines = lines_table
    else:
        with pa.OSFile(str(to), "wb") as sink, pa.ipc.new_file(sink, lines_table.schema) as w:
            w.write_table(lines_table)
        got.lines = to
        del lines_table
        release_memory()  # before the process's next part
    return got


class _LinesWriter:
    """One Parquet file written a part's cleaned lines (an Arrow table) at a time, with the first part's column types
    (an empty part is written only when every part is empty)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: pq.ParquetWriter | None = None
        self._empty: pa.Table | None = None

    def write_table(self, table: pa.Table) -> None:
        if not len(table):
            self._empty = table if self._empty is None else self._empty
            return
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.path, table.schema)
        elif not table.schema.equals(self._writer.schema, check_metadata=False):
            table = table.cast(self._writer.schema)
        self._writer.write_table(table)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        elif self._empty is not None:
            pq.write_table(self._empty, self.path)
            self._empty = None


def _parts_error(failed: list, n_parts: int):
    """One error for the parts whose rows failed a hard check: the first part's message, and how many more."""
    from lclib.io.load import DataError

    def first_line(f) -> int:
        lines = [line for p in f[1].problems for line in p.get("lines", [])]
        return min(lines) if lines else f[0]

    failed = sorted(failed, key=first_line)
    first = failed[0][1]
    problems = [p for _, e in failed for p in e.problems]
    if not problems:  # not about rows (e.g. a column the configuration may not map): said as it is
        return first
    if len(failed) == 1:
        return DataError(str(first) + f" (this file is read in {n_parts} parts of whole customers, "
                         "inputs.transactions.read.rows_per_part; only this part has such problems)", problems)
    lines = sorted({line for p in problems for line in p.get("lines", [])})[:10]
    return DataError(
        str(first) + f"\n  These counts are those of one part of the file: it is read in {n_parts} parts of whole "
        f"customers (inputs.transactions.read.rows_per_part), and {len(failed)} of them have such problems "
        f"(lines {', '.join(map(str, lines))}...).", problems)


def _check_share(table: str, path: Path, spec: TableInput, col: str, got: dict) -> None:
    """``clean.max_unparsable_share`` on the whole file's counts (as :func:`lclib.io.load._check_unparsable_share`)."""
    from lclib.io.load import unparsable_share_error

    if got["n"] and got["bad"] and got["bad"] / got["n"] > spec.clean.max_unparsable_share:
        raise unparsable_share_error(table, path, spec, col, got["bad"], got["n"], sorted(got["examples"])[:5])


def _distinct(values: np.ndarray) -> np.ndarray:
    """``np.unique(values)`` by a sort: numpy 2.4's ``unique`` hashes and is ten times slower on
    a million 64-bit hashes (1.5 s against 0.1 s)."""
    s = np.sort(values)
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


class _OrderIdsAcrossParts:
    """Finds the order ids used by several customers when the customers are split into parts.

    Inside a part, :func:`lclib.io.load._shared_order_ids` (exact). Across parts, an order id
    in two parts is necessarily used by two customers: each part's distinct order ids are
    hashed, the hashes seen in more than one part are the candidates, and their lines are
    read back (two columns) and compared exactly. Memory: 8 bytes per distinct order id.
    """

    def __init__(self) -> None:
        self.hashes: list[np.ndarray] = []
        self.inside: list[pd.DataFrame] = []

    @staticmethod
    def _hash(ids: pd.Series) -> np.ndarray:
        """64-bit hash of each id's text (the same whatever the Series' string dtype)."""
        return pd.util.hash_array(ids.to_numpy(dtype=object, na_value=None), categorize=False)

    @classmethod
    def summary(cls, df: pd.DataFrame) -> tuple[pd.DataFrame | None, np.ndarray]:
        """A part's lines whose order id several of its customers use (None: none), and the sorted
        hashes of its distinct order ids: what :meth:`add_summary` takes (computed where the part is cleaned)."""
        from lclib.io.load import _shared_order_ids

        shared = _shared_order_ids(df[C.ORDER_ID], df[C.CUSTOMER_ID])
        inside = None
        if shared is not None:
            hit = df[C.ORDER_ID].isin(shared.to_pylist())
            inside = df.loc[hit, [C.CUSTOMER_ID, C.ORDER_ID]]
        distinct = pd.Series(pd.unique(df[C.ORDER_ID]), dtype=df[C.ORDER_ID].dtype)
        return inside, _distinct(cls._hash(distinct))

    def add_summary(self, inside: pd.DataFrame | None, hashes: np.ndarray | None) -> None:
        if inside is not None:
            self.inside.append(inside)
        if hashes is not None:
            self.hashes.append(hashes)

    def shared_lines(self, lines_file: Path, prefixed: bool = False) -> pd.DataFrame:
        """Lines (index: source line; ``customer_id``, ``order_id``) of every order id used by several customers.

        ``lines_file``: the cleaned lines with their source line numbers; ``prefixed``: their order
        ids are written ``<customer_id>/<order_id>`` (``clean.order_ids: per_customer``).
        """
        found = list(self.inside)
        h = np.sort(np.concatenate(self.hashes)) if self.hashes else np.zeros(0, dtype=np.uint64)
        twice = _distinct(h[1:][h[1:] == h[:-1]]) if len(h) > 1 else h[:0]
        if len(twice) and lines_file.exists():
            import duckdb

            cid, oid = _quote(C.CUSTOMER_ID), _quote(C.ORDER_ID)
            order = f"substr({oid}, length({cid}) + 2)" if prefixed else oid
            con = duckdb.connect()
            try:
                reader = con.sql(f"SELECT {cid}, {order} AS {oid}, {_quote(LINE)} "
                                 f"FROM {files_sql([lines_file])}").to_arrow_reader(BATCH_ROWS)
                for batch in reader:
                    part = batch.to_pandas()
                    hit = np.isin(self._hash(part[C.ORDER_ID]), twice)
                    if hit.any():
                        rows = part.loc[hit]
                        found.append(rows.set_index(pd.Index(rows[LINE].to_numpy(), name="line"))
                                     [[C.CUSTOMER_ID, C.ORDER_ID]])
            finally:
                con.close()
        if not found:
            return pd.DataFrame(columns=[C.CUSTOMER_ID, C.ORDER_ID])
        lines = pd.concat(found)
        lines = lines[~lines.index.duplicated()].sort_index()
        people = lines.groupby(C.ORDER_ID, sort=False)[C.CUSTOMER_ID].nunique()
        return lines[lines[C.ORDER_ID].isin(people.index[people > 1])]


def _order_ids(table: str, spec: TableInput, path: Path, shared_lines: pd.DataFrame, ledger: Ledger) -> bool:
    """``clean.order_ids`` on the whole file; True when the order ids are to be written per customer."""
    from lclib.io import load as L

    if C.ORDER_ID not in spec.columns:
        return False
    shared = pa.array(pd.unique(shared_lines[C.ORDER_ID]).tolist(), pa.string()) if len(shared_lines) else None
    if spec.clean.order_ids == "unique":
        if shared is not None:
            raise L._shared_order_ids_error(table, spec, path, shared_lines, shared)
        return False
    ledger.note(table, "order_ids", (
        f"order ids read per customer (clean.order_ids: per_customer) and written <customer_id>/<order_id>; "
        f"{0 if shared is None else len(shared):,} order id(s) were used by several customers"))
    return True


def _pandas_metadata(like: pa.Schema, columns: list[str]) -> bytes | None:
    """``like``'s pandas description (the dtypes its file was written with) of ``columns`` only, or None.

    Written with a file, it makes pandas read the columns back with those dtypes (``string``
    stays ``string``, not ``str``).
    """
    meta = (like.metadata or {}).get(b"pandas")
    if meta is None:
        return None
    pandas_meta = json.loads(meta)
    pandas_meta["columns"] = [c for c in pandas_meta.get("columns", []) if c.get("name") in columns]
    return json.dumps(pandas_meta).encode()


def write_query(con, sql: str, target: Path, like: pa.Schema, columns: list[str]) -> int:
    """Write the result of a DuckDB query to ``target`` with DuckDB's own Parquet writer; returns its rows.

    Streamed and spilled within the connection's ``memory_limit`` (a result read back into
    Python would be held whole). The pandas description of ``columns`` in ``like`` goes with
    the file, so pandas reads the columns back with the dtypes the loader gave them.
    """
    meta = _pandas_metadata(like, columns)
    kv = "" if meta is None else ", KV_METADATA {pandas: " + sql_text(meta.decode()) + "}"
    target.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"COPY ({sql}) TO {sql_text(target.as_posix())} (FORMAT parquet{kv})")
    return pq.ParquetFile(target).metadata.num_rows


