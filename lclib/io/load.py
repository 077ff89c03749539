"""Load the user's files into canonical tables, validated and cleaned with a ledger.

For each table configured under ``inputs`` in ``lclib.yaml``:

1. refuse what is not a data file (a directory, an Excel workbook, a zip or
   compressed file) and a header that names a mapped column twice;
2. read the CSV file with every column as text, or the Parquet file with its
   typed columns (ids always end as text: ``17850.0`` becomes ``17850``, never a
   float). A typed Parquet column gives exactly what its text would have given
   (numbers cast, timestamps kept to the second); the text is built only where
   needed (messages quote the value as written, unusual column types). Missing
   values: an empty field (or a Parquet null) everywhere; in number and date
   columns also the texts of :data:`NA_VALUES`. In text columns (ids, channels,
   event types, attributes) ``NA``, ``None``, ``null`` are values like any other;
3. check the mapped columns exist and rename them to the canonical names
   of :mod:`lclib.io.columns`;
4. parse numbers (a thousands separator must group three digits) and dates (one
   time-zone rule for text and Parquet: ``analysis.timezone``); problems that
   cannot be cleaned (a text in a number column, a missing order id, any rule set
   to ``error``) are collected over all columns with a lazy pandera schema and
   raised together as :class:`DataError`, naming the file, the column and the
   source lines;
5. apply the cleaning rules in a fixed order, counting every dropped row in the
   :class:`~lclib.io.ledger.Ledger`: missing id -> exact duplicates -> unparsable
   dates -> dates out of range -> future dates -> missing amounts -> non-finite
   amounts -> cancellations -> non-product codes -> zero quantities -> non-positive
   prices -> scores out of range -> repeated keys (customers table). With
   ``clean.cancellations: net`` (the default) the cancellation lines are marked where
   ``drop`` would remove them and netted from the purchases they reverse after the
   non-positive prices (:func:`net_cancellations`: cancellations netted -> unmatched ->
   orders fully refunded);
6. transactions: an order is (customer, order id): an order id shared by several
   customers is an error unless ``clean.order_ids: per_customer`` scopes it;
7. check the result against the canonical contract (pandera).

Source line numbers: for CSV the header is line 1, so the first data row is
line 2, counted as an editor counts lines (blank lines and line breaks inside
quoted fields included); for Parquet, row 1 is the first row.

Speed: every step is vectorised (pyarrow compute for text, pyarrow's CSV reader
when it reads the file exactly as pandas' C engine would, which is the fallback).
Each fast path keeps a reference implementation beside it (``_read_csv_c``,
``_parse_numbers_text``, ``_to_datetime``, ``_parquet_column_as_text`` +
:func:`parse_text_column`) and ``tests/test_io.py`` checks they agree.
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import warnings

import numpy as np
import pandas as pd

import pyarrow
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from lclib.io import columns as C
from lclib.config import CleanRules, Config, ReadOptions, TableInput, load_config
from lclib.io.ledger import REASONS, Ledger
from lclib.io.mapping import check_mappings

if TYPE_CHECKING:  # annotations only: pandera is imported on first use (_pandera)
    import pandera.pandas as pa
    from pandera.errors import SchemaErrors

#: Texts that mean "missing" in number and date columns (an empty field is missing everywhere).
#: Text columns keep them as written: a customer id "NA" or a country "NA" (Namibia) is a value.
NA_VALUES = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "None", "none", "#N/A"]
_FLOAT_ID = re.compile(r"^(-?\d+)\.0+$")
#: the same pattern for pyarrow (RE2): Python's ``\d`` on text is any Unicode decimal digit
_FLOAT_ID_RE2 = r"^(-?\p{Nd}+)\.0+$"
_MAX_EXAMPLES = 5


class DataError(ValueError):
    """Input data that cannot be used as given.

    ``problems`` lists one dict per failing (file, column, check) with the source
    lines and values; ``str(err)`` is the readable report.
    """

    def __init__(self, message: str, problems: list[dict] | None = None):
        super().__init__(message)
        self.problems = problems or []


@dataclass
class InputInfo:
    """What was read for one table: file, hash, size and row counts."""

    table: str
    path: str
    sha256: str
    bytes: int
    rows_in: int
    rows_kept: int
    date_min: str | None = None
    date_max: str | None = None


# ----------------------------------------------------------------------------- reading


def _pandera():
    """pandera's pandas API, imported on first use: a report reading the run's cache validates nothing and
    does not pay for it (0.25 s a kernel, pyspark.pandas included, which pandera imports when pyspark is
    installed and which warns about pandas 3)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*PySpark does not yet fully support pandas.*")
        import pandera.pandas as pa
        import pandera.backends.pandas.builtin_checks  # noqa: F401  (the lazy import that loads pyspark.pandas)
    return pa


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (computed with its line count, see :func:`_scan`)."""
    return _scan(path)[0]


#: (path, size, mtime) -> (sha256, newlines, last byte) of the last files scanned
_SCANS: dict[tuple, tuple[str, int, bytes]] = {}


def _scan(path: Path) -> tuple[str, int, bytes]:
    """One pass over a file: its SHA-256, its number of line feeds and its last byte.

    Kept for the few last files (by size and modification time), so that the loader reads a
    file once for both its line count (:func:`_csv_source_lines`) and its hash (:class:`InputInfo`).
    """
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _SCANS:
        h, newlines, last = hashlib.sha256(), 0, b""
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
                newlines += block.count(b"\n")
                last = block[-1:]
        while len(_SCANS) >= 8:
            _SCANS.pop(next(iter(_SCANS)))
        _SCANS[key] = (h.hexdigest(), newlines, last)
    return _SCANS[key]


def _where(table: str, path: Path) -> str:
    return f"{path} (inputs.{table})"


def read_raw(table: str, spec: TableInput, path: Path) -> tuple[pd.DataFrame, int]:
    """Read a file: CSV with every column as text, Parquet with its columns typed.

    Returns the frame, indexed by source line number, and the offset used
    (2 for CSV, whose line 1 is the header; 1 for Parquet). Parquet columns keep
    their types (no text round trip); :func:`_parquet_column_as_text` gives the
    text a CSV would have held where it is needed (messages, unusual types).
    """
    _check_data_file(table, spec, path)
    if _format(spec, path) == "parquet":
        _check_parquet_columns(table, spec, path)
        try:
            df = read_parquet_exact(path)
        except Exception as e:  # pyarrow raises many types
            raise DataError(f"{_where(table, path)}: cannot read as Parquet: {e}") from None
        df.index = pd.RangeIndex(1, 1 + len(df), name="line")
        return df, 1
    opts = spec.read
    if not opts.header:
        repeated = sorted({n for n in opts.names or [] if (opts.names or []).count(n) > 1})
        if repeated:
            raise DataError(f"{_where(table, path)}: inputs.{table}.read.names repeats "
                            f"{', '.join(map(repr, repeated))}; give every column its own name")
    df = _read_csv_pyarrow(path, opts)
    if df is None:
        df = _read_csv_c(table, path, opts)
    df.columns = _header_names(table, spec, path, list(df.columns))
    offset = 2 if opts.header else 1
    lines = _csv_source_lines(path, len(df), opts.header)
    df.index = pd.RangeIndex(offset, offset + len(df), name="line") if lines is None \
        else pd.Index(lines, name="line")
    return df, offset


def read_parquet_exact(path: Path) -> pd.DataFrame:
    """``pd.read_parquet(path)``, with integer columns that have a missing value read exactly.

    pandas reads an integer column with a gap as float64, which rounds values above 2**53
    (64-bit ids such as ``1152921504606846977``: distinct customers would merge); such a
    column is read as a nullable integer (``Int64``, ``UInt64``) instead.
    """
    import pyarrow.parquet as pq

    return _exact_integers(pd.read_parquet(path), pq.read_schema(path),
                           lambda gaps: pq.read_table(path, columns=gaps))


def read_arrow_exact(path: Path) -> pd.DataFrame:
    """:func:`read_parquet_exact` of an Arrow IPC (Feather V2) file: ``pd.read_feather(path)``, exactly."""
    import pyarrow.ipc as ipc

    def read(columns: list[str]) -> pyarrow.Table:
        with ipc.open_file(path) as f:
            return f.read_all().select(columns)

    with ipc.open_file(path) as f:
        schema = f.schema
    return _exact_integers(pd.read_feather(path), schema, read)


def _exact_integers(df: pd.DataFrame, schema: pyarrow.Schema, read) -> pd.DataFrame:
    """``df`` with its integer columns that pandas read as float (they have a gap) as nullable integers,
    read again from the file by ``read(columns)`` (an Arrow table)."""
    gaps = [f.name for f in schema if pyarrow.types.is_integer(f.type)
            and f.name in df.columns and df[f.name].dtype.kind == "f"]
    if gaps:
        exact = read(gaps)
        for name in gaps:
            col = exact.column(name)
            dtype = pd.UInt64Dtype() if pyarrow.types.is_unsigned_integer(col.type) else pd.Int64Dtype()
            df[name] = col.to_pandas(types_mapper=lambda t, d=dtype: d if pyarrow.types.is_integer(t) else None).array
    return df


#: first bytes of files that are not CSV text: (signature, kind)
_SIGNATURES = (
    (b"PK\x03\x04", "zip"), (b"PK\x05\x06", "zip"), (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "xls"),
    (b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"), (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"PAR1", "parquet"),
)


def _check_data_file(table: str, spec: TableInput, path: Path) -> None:
    """Raise a :class:`DataError` saying what ``path`` is when it cannot be a CSV or Parquet input."""
    where = _where(table, path)
    if path.is_dir():
        raise DataError(f"{where}: is a directory, not a file; point inputs.{table}.path at the CSV or "
                        "Parquet file inside it")
    if not path.exists():
        raise DataError(f"{where}: file not found")
    if not path.is_file():
        raise DataError(f"{where}: is not a regular file")
    with open(path, "rb") as fh:  # unreadable (permissions): the OSError itself, exit code 3 in the CLI
        head = fh.read(8)
    kind = next((k for sig, k in _SIGNATURES if head.startswith(sig)), None)
    if kind == "zip":
        kind = _zip_kind(path)
    export = f"export it as CSV (UTF-8) and point inputs.{table}.path at the CSV file"
    message = {
        "xlsx": f"looks like an Excel workbook (.xlsx), not a CSV or Parquet file: {export}",
        "xls": f"looks like an Excel workbook (.xls, or another old Office file), not a CSV file: {export}",
        "ods": f"looks like an OpenDocument spreadsheet, not a CSV file: {export}",
        "zip": f"is a zip archive, not a CSV or Parquet file: extract the file from it and point "
               f"inputs.{table}.path at it",
    }.get(kind)
    if kind in ("gzip", "bzip2", "xz", "7z"):
        message = f"is a {kind}-compressed file: decompress it and point inputs.{table}.path at the CSV or Parquet file"
    if kind == "parquet" and _format(spec, path) == "csv":
        message = f"is a Parquet file: give it the extension .parquet or set inputs.{table}.format: parquet"
    if message:
        raise DataError(f"{where}: {message}")


def _zip_kind(path: Path) -> str:
    """``xlsx``, ``ods`` or ``zip``: what a zip container holds."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError):
        return "xlsx" if path.suffix.lower() in (".xlsx", ".xlsm") else "zip"
    if any(n.startswith("xl/") for n in names):
        return "xlsx"
    if "content.xml" in names and "mimetype" in names:
        return "ods"
    return "zip"


def _check_parquet_columns(table: str, spec: TableInput, path: Path) -> None:
    """A Parquet schema that repeats a mapped column name is an error (which one would be used?)."""
    import pyarrow.parquet as pq

    try:
        names = pq.read_schema(path).names
    except Exception:  # unreadable: read_raw words the error
        return
    _refuse_repeated_columns(table, spec, path, names, "schema")


def _refuse_repeated_columns(table: str, spec: TableInput, path: Path, names: list[str],
                             where_named: str = "header") -> None:
    where: dict[str, list[int]] = {}
    for i, name in enumerate(names, start=1):
        where.setdefault(name, []).append(i)
    mapped = set(spec.columns.values())
    repeated = {n: pos for n, pos in where.items() if len(pos) > 1 and n in mapped}
    if repeated:
        parts = [f"column {n!r} appears {len(pos)} times (columns {', '.join(map(str, pos))})"
                 for n, pos in repeated.items()]
        raise DataError(
            f"{_where(table, path)}: {'; '.join(parts)} in the {where_named}; lclib cannot tell which one to use: "
            "rename or remove the others",
            [dict(file=str(path), table=table, column=n, check="column name is unique") for n in repeated],
        )


def _header_names(table: str, spec: TableInput, path: Path, columns: list) -> list[str]:
    """The column names as written (trimmed), each once; a mapped name written twice is an error.

    pandas renames a repeated name (``amount``, ``amount.1``) and would silently use the
    first; the header is then read again as written to tell a repeat from a real ``amount.1``.
    """
    names = [str(c).strip() for c in columns]
    suffixed = [n for n in names if re.fullmatch(r".+\.[0-9]+", n) and n.rsplit(".", 1)[0] in names]
    if not suffixed and len(set(names)) == len(names):
        return names
    if spec.read.header:
        header = _raw_header(path, spec.read)
        _refuse_repeated_columns(table, spec, path, names if header is None else header)
    seen: dict[str, int] = {}
    out = []
    for n in names:  # unmapped repeats (after trimming): made unique as pandas does
        k = seen.get(n, 0)
        seen[n] = k + 1
        out.append(n if k == 0 else f"{n}.{k}")
    return out


def _raw_header(path: Path, opts: ReadOptions) -> list[str] | None:
    """The header row's fields as written (trimmed), or None when it cannot be read."""
    try:
        row = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False, skipinitialspace=True,
                          sep=r"\s+" if opts.delimiter == "whitespace" else opts.delimiter, encoding=opts.encoding)
    except Exception:
        return None
    return [str(v).strip() for v in row.iloc[0]]


def _csv_source_lines(path: Path, n_rows: int, header: bool) -> np.ndarray | None:
    """The source line of each data row of a CSV file, or None when it is row number + offset.

    The readers skip blank lines and read a quoted field across line breaks, so the
    n-th row is not always on line n + 1. Counting the newlines (one fast pass) tells
    whether it is; only when it is not are the records found: a newline outside
    quotes ends a record (quotes counted in blocks with numpy), empty records are
    blank lines. None as well when the records found do not match the rows read
    (unusual quoting), so a message never cites a line computed wrongly twice over.
    Lines end with a line feed (LF or CRLF); a lone carriage return does not end one.
    """
    _, newlines, last = _scan(path)
    lines = newlines + (last not in (b"", b"\n"))
    if lines == n_rows + header:
        return None
    if last == b"\n":  # blank lines at the end only (a common export habit): nothing moves
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 4096))
            tail = fh.read()
        content = tail.rstrip(b"\r\n")
        if content and lines - (tail[len(content):].count(b"\n") - 1) == n_rows + header:
            return None
    starts = _record_start_lines(path)
    if len(starts) != n_rows + header:
        return None
    return starts[int(header):]


#: bytes read at a time when looking for records (small in tests, to cross block ends)
_BLOCK = 1 << 24


def _record_start_lines(path: Path) -> np.ndarray:
    """1-based line numbers where the non-blank records of a CSV file start (``"`` quotes).

    A line feed outside quotes ends a record; a record whose last line holds only
    spaces, tabs or a carriage return is a blank line, which the readers skip (a record
    spanning lines ends with its closing quote, so it is never blank).
    """
    ordinals, blanks = [], []
    parity, seen, offset = 0, 0, 0
    content = tail = False  # a non-blank byte so far on the current line / since the last record's end
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            a = np.frombuffer(block, dtype=np.uint8)
            quotes = np.flatnonzero(a == 0x22)
            nl = np.flatnonzero(a == 0x0A)
            solid = (a != 0x20) & (a != 0x09) & (a != 0x0D) & (a != 0x0A)
            if len(nl):
                cuts = np.r_[0, nl + 1]
                filled = np.add.reduceat(solid[:nl[-1] + 1], cuts[:-1], dtype=np.int64) > 0  # line by line
                filled[0] |= content
                content = bool(solid[nl[-1] + 1:].any())
            else:
                filled = np.zeros(0, dtype=bool)
                content = content or bool(solid.any())
            outside = (np.searchsorted(quotes, nl) + parity) % 2 == 0
            last_end = nl[outside][-1] if outside.any() else -1
            tail = bool(solid[last_end + 1:].any()) or (tail and last_end < 0)
            ordinals.append(np.flatnonzero(outside) + seen + 1)
            blanks.append(~filled[outside])
            parity = (parity + len(quotes)) % 2
            seen += len(nl)
            offset += len(a)
    ordinal = np.concatenate(ordinals) if ordinals else np.zeros(0, dtype=np.int64)
    blank = np.r_[np.concatenate(blanks) if blanks else np.zeros(0, dtype=bool), not tail]
    line = np.r_[1, ordinal + 1]  # record j starts on the line after the feed that ended record j - 1
    return line[~blank]


def _format(spec: TableInput, path: Path) -> str:
    if spec.format != "auto":
        return spec.format
    return "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"


def _read_csv_c(table: str, path: Path, opts: ReadOptions) -> pd.DataFrame:
    """The reference reader: pandas' C engine, every column as text."""
    try:
        return pd.read_csv(
            path, dtype=str, sep=r"\s+" if opts.delimiter == "whitespace" else opts.delimiter,
            encoding=opts.encoding, header=0 if opts.header else None,
            names=None if opts.header else opts.names,
            keep_default_na=False, na_values=[""], skipinitialspace=True,
        )
    except UnicodeDecodeError as e:
        with open(path, "rb") as fh:
            head = fh.read(2)
        hint = "e.g. utf-16 (the file starts with a UTF-16 byte-order mark)" \
            if head in (b"\xff\xfe", b"\xfe\xff") else "e.g. latin-1 or cp1252"
        raise DataError(
            f"{_where(table, path)}: the file is not valid {opts.encoding} text "
            f"(byte {e.start}: {e.reason}); set inputs.{table}.read.encoding, {hint}"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{_where(table, path)}: the file is empty (no header row)") from None
    except pd.errors.ParserError as e:
        if "EOF inside string" in str(e):
            starts = _record_start_lines(path)  # the last record runs from its quote to the end
            line = f" on line {starts[-1]}" if len(starts) else ""
            raise DataError(
                f"{_where(table, path)}: a field opened with a quote (\"){line} is never closed, so the rest "
                f"of the file would be one value; the file may be cut short or hold a stray quote"
            ) from None
        raise DataError(
            f"{_where(table, path)}: cannot split the file into columns: {e}. "
            f"Check inputs.{table}.read.delimiter (now {opts.delimiter!r})"
        ) from None
    except LookupError:
        raise DataError(f"{_where(table, path)}: unknown encoding {opts.encoding!r} "
                        f"(inputs.{table}.read.encoding)") from None


def _read_csv_pyarrow(path: Path, opts: ReadOptions) -> pd.DataFrame | None:
    """Fast multi-threaded read giving exactly what :func:`_read_csv_c` gives, or None.

    pyarrow reads every field as text with no missing-value conversion; empty
    fields are then made missing exactly as the C engine does. Whenever
    the result could differ from the C engine's, None is returned and the caller
    uses the C engine: a whitespace or multi-character delimiter, a field starting
    with a space or tab (``skipinitialspace``), ragged rows, empty, padded or
    repeated header names, a byte-order mark, a quote left open at the end of the
    file (the C engine refuses it, pyarrow reads it), any read error.
    """
    sep = opts.delimiter
    if sep == "whitespace" or len(sep) != 1 or sep in '\r\n" ':
        return None
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
        if head[:3] == b"\xef\xbb\xbf" or head[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return None
        read = pacsv.ReadOptions(encoding=opts.encoding, autogenerate_column_names=False,
                                 column_names=None if opts.header else list(opts.names or []))
        parse = pacsv.ParseOptions(delimiter=sep, quote_char='"', double_quote=True, escape_char=False,
                                   newlines_in_values=True, ignore_empty_lines=True)
        if opts.header:
            with pacsv.open_csv(path, read_options=read, parse_options=parse) as reader:
                names = reader.schema.names
        else:
            names = list(opts.names or [])
        if not names or len(set(names)) != len(names) \
                or any(n.strip() == "" or n[:1] in (" ", "\t") for n in names):
            return None
        conv = pacsv.ConvertOptions(column_types={n: pyarrow.string() for n in names},
                                    null_values=[], strings_can_be_null=False,
                                    quoted_strings_can_be_null=False)
        tbl = pacsv.read_csv(path, read_options=read, parse_options=parse, convert_options=conv)
        if _ends_inside_quotes(path, tbl, opts.encoding):
            return None
    except Exception:  # any doubt: the C engine decides (and words the error)
        return None
    cols = {}
    for name, arr in zip(tbl.column_names, tbl.columns):
        if pc.any(pc.or_(pc.starts_with(arr, " "), pc.starts_with(arr, "\t"))).as_py():
            return None  # skipinitialspace would change it: leave it to the C engine
        cols[name] = pd.Series(pd.arrays.ArrowStringArray(_empty_to_null(arr)), copy=False).astype(str)
    return pd.DataFrame(cols)


def _ends_inside_quotes(path: Path, tbl: pyarrow.Table, encoding: str) -> bool:
    """True when a field of the last row may be a quote opened and never closed.

    Such a field runs to the end of the file: the file then ends with ``"`` and
    the field's text (a properly closed one ends with its closing quote instead).
    """
    if tbl.num_rows == 0:
        return False
    size = path.stat().st_size
    with open(path, "rb") as fh:
        fh.seek(max(0, size - (1 << 20)))
        tail = fh.read()
    for column in tbl.columns:
        value = column[-1].as_py()
        if value is None:
            continue
        text = b'"' + value.encode(encoding)
        if len(text) > len(tail) or tail.endswith(text):
            return True
    return False


def _whole_floats(s: pd.Series) -> bool:
    """True for a float column whose values are all whole numbers an int64 holds (read as integers)."""
    if not pd.api.types.is_float_dtype(s):
        return False
    whole = s.dropna().to_numpy()
    with np.errstate(invalid="ignore"):  # inf is not whole
        return bool(len(whole) and np.all(np.mod(whole, 1) == 0) and np.all(np.abs(whole) < 2.0 ** 63))


def _parquet_column_as_text(s: pd.Series, whole: bool | None = None) -> pd.Series:
    """A typed Parquet column as the text a CSV would hold (None where missing).

    ``whole`` is :func:`_whole_floats` of the *whole* column (give it when ``s``
    holds only some of its rows, e.g. the lines quoted in a message).
    """
    if whole is None:
        whole = _whole_floats(s)
    if pd.api.types.is_float_dtype(s) and whole:
        return s.astype("Int64").astype("string").astype(object).where(s.notna(), None)
    if pd.api.types.is_datetime64_any_dtype(s):
        fmt = "%Y-%m-%d %H:%M:%S" if getattr(s.dt, "tz", None) is None else "%Y-%m-%d %H:%M:%S%z"
        return s.dt.strftime(fmt).astype(object).where(s.notna(), None)
    return s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))


def _datetime_to_seconds(s: pd.Series, timezone: str | None = None) -> pd.Series:
    """Typed timestamps as the text round trip reads them: whole seconds, ns, naive.

    A time-zone-aware column gives its wall time in its own zone, or with ``timezone``
    (``analysis.timezone``) the wall time in that zone; a naive column is kept as it is.
    Times outside the nanosecond range become :data:`_FAR_PAST` / :data:`_FAR_FUTURE`.
    """
    if getattr(s.dt, "tz", None) is not None:
        if timezone:
            s = s.dt.tz_convert(timezone)
        s = s.dt.tz_localize(None)
    return _as_ns(s.dt.floor("s"))


#: what a date outside the datetime64[ns] range (1677-09-21 .. 2262-04-11) becomes: it is
#: kept as a date far out of any ``clean.date_range`` (dropped as out of range, never as unreadable)
_FAR_PAST, _FAR_FUTURE = np.datetime64("1677-09-22", "ns"), np.datetime64("2262-04-11", "ns")


def _as_ns(out: pd.Series) -> pd.Series:
    """Naive timestamps of any unit as ``datetime64[ns]``, those out of its range clamped."""
    if out.dtype == "datetime64[ns]":
        return out
    v = out.to_numpy()
    lo, hi = v < _FAR_PAST, v > _FAR_FUTURE
    if lo.any() or hi.any():
        v = v.copy()
        v[lo] = _FAR_PAST
        v[hi] = _FAR_FUTURE
    return pd.Series(v.astype("datetime64[ns]"), index=out.index, name=out.name)


def parse_parquet_column(col: str, s: pd.Series, opts: ReadOptions, timezone: str | None = None,
                         whole: bool | None = None) -> pd.Series:
    """Parse one typed Parquet column to its canonical type without a text round trip.

    Gives exactly what :func:`parse_text_column` gives on the column's text
    (:func:`_parquet_column_as_text`): ids held as whole floats or integers become
    integer text, numbers are cast to float, timestamps keep their wall time to the
    second. Other column types, and timestamps with a ``date_format``, take the text route.
    ``whole``: :func:`_whole_floats` of the whole column when ``s`` holds only a part of it.
    """
    if whole is None:
        whole = _whole_floats(s)
    is_int = pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s)
    is_text = pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s)
    if col in C.ID_COLUMNS:
        if pd.api.types.is_float_dtype(s) and whole:
            return s.astype("Int64").astype("string")
        if is_int:
            return s.astype("string")
        if is_text:
            return normalize_ids(s)
    elif col in C.NUMERIC_COLUMNS:
        if pd.api.types.is_float_dtype(s) or is_int:
            return s.astype("float64")
    elif col in C.DATE_COLUMNS:
        if pd.api.types.is_datetime64_any_dtype(s):  # typed timestamps need no date_format
            return _datetime_to_seconds(s, timezone)
    elif is_text:
        return _strip_text(s)
    return parse_text_column(col, _parquet_column_as_text(s, whole), opts, timezone)


def parse_text_column(col: str, s: pd.Series, opts: ReadOptions, timezone: str | None = None) -> pd.Series:
    """Parse one text column to its canonical type (ids, numbers, dates, other text)."""
    if col in C.ID_COLUMNS:
        return normalize_ids(s)
    if col in C.NUMERIC_COLUMNS:
        return parse_numbers(s, opts.decimal, opts.thousands)
    if col in C.DATE_COLUMNS:
        return parse_dates(s, opts.dayfirst, opts.date_format, timezone)
    return _strip_text(s)


_NULL_TEXT = pyarrow.scalar(None, pyarrow.string())


def _arrow(s: pd.Series) -> pyarrow.ChunkedArray:
    """Text of ``s`` as a pyarrow string array (what ``s.astype("string")`` holds)."""
    arr = (s if s.dtype == "string" else s.astype("string")).array
    return pyarrow.chunked_array(arr._pa_array)


def _from_arrow(arr: pyarrow.ChunkedArray, index: pd.Index) -> pd.Series:
    """A pyarrow string array as a ``string`` (NA-backed) Series on ``index``."""
    return pd.Series(pd.arrays.ArrowStringArray(arr), index=index, copy=False)


def _empty_to_null(t: pyarrow.ChunkedArray) -> pyarrow.ChunkedArray:
    return pc.if_else(pc.equal(t, ""), _NULL_TEXT, t)


def _strip_text(s: pd.Series) -> pd.Series:
    """Trimmed text, empty -> missing (``string`` dtype)."""
    return _from_arrow(_empty_to_null(pc.utf8_trim_whitespace(_arrow(s))), s.index)


def select_columns(table: str, spec: TableInput, raw: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Pick the mapped columns and rename them to canonical names (error if any is absent)."""
    missing = {canon: user for canon, user in spec.columns.items() if user not in raw.columns}
    if missing:
        parts = []
        for canon, user in missing.items():
            near = difflib.get_close_matches(user, list(raw.columns), n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            parts.append(f"column {user!r} (mapped to {canon}){hint}")
        hint = ""
        if len(raw.columns) == 1:
            seps = [d for d in (";", "\t", "|", ",") if d in raw.columns[0] and d != spec.read.delimiter]
            if seps:
                hint = f" The header looks {seps[0]!r}-separated: set inputs.{table}.read.delimiter."
        raise DataError(
            f"{_where(table, path)}: missing {'; '.join(parts)}. "
            f"The file has columns: {', '.join(map(repr, raw.columns))}. "
            f"Fix inputs.{table}.columns in the configuration.{hint}",
            [dict(file=str(path), column=u, check="column exists") for u in missing.values()],
        )
    # no copy: copy-on-write keeps ``raw`` intact, and the selection shares its memory
    out = raw[list(spec.columns.values())]
    out.columns = list(spec.columns.keys())
    return out


# ----------------------------------------------------------------------------- parsing


def normalize_ids(s: pd.Series) -> pd.Series:
    """Ids as trimmed text; float-looking ids such as ``17850.0`` become ``17850``."""
    t = pc.utf8_trim_whitespace(_arrow(s))
    if pc.any(pc.match_substring(t, ".")).as_py():  # a third of the time when no id holds a dot
        t = pc.replace_substring_regex(t, _FLOAT_ID_RE2, r"\1")
    return _from_arrow(_empty_to_null(t), s.index)


def parse_numbers(s: pd.Series, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """Parse text to float; currency symbols and spaces are ignored, failures become NaN.

    Plain decimals (``-12.5``, ``7``: at most 15 characters, so at most 15 digits,
    which every correct parser reads to the same float) are cast by pyarrow; only
    the other values (currency, separators, exponents, zeros, text...) take the
    cleaning route of :func:`_parse_numbers_text`.
    """
    a = pc.utf8_trim_whitespace(_arrow(s))
    plain = pc.and_(pc.match_substring_regex(a, r"^-?[0-9]+(\.[0-9]+)?$"),
                    pc.less_equal(pc.utf8_length(a), 15))
    if thousands:  # "1.500" with thousands "." is 1500, not 1.5
        plain = pc.and_(plain, pc.invert(pc.match_substring(a, thousands)))
    fast = pc.cast(pc.if_else(plain, a, _NULL_TEXT), pyarrow.float64())
    # "-0" is 0.0 through pandas (read as an integer), -0.0 through pyarrow: zeros go the long way
    plain = pc.fill_null(pc.and_(plain, pc.not_equal(fast, 0.0)), False)
    out = fast.to_numpy().astype("float64", copy=True)
    rest = ~plain.to_numpy()
    if rest.any():
        out[rest] = _parse_numbers_text(s[rest], decimal, thousands).to_numpy()
    return pd.Series(out, index=s.index)


def _parse_numbers_text(s: pd.Series, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """The reference parser of :func:`parse_numbers` (pandas on cleaned text).

    With ``thousands``, a value holding that separator must group three digits
    after each one (``1,234,567.5``) with only digits after the decimal separator;
    any other (``12,50`` with thousands ``,``: a decimal comma) cannot be read, so
    it fails "is a number" instead of being read 100 times too large.
    """
    t = s.astype("string").str.strip()
    misgrouped = None
    if thousands:
        u = t.str.replace(r"[$€£¥]", "", regex=True).str.strip()
        grouped = rf"[+-]?[0-9]{{1,3}}(?:{re.escape(thousands)}[0-9]{{3}})+(?:{re.escape(decimal)}[0-9]*)?"
        misgrouped = (u.str.contains(thousands, regex=False) & ~u.str.fullmatch(grouped)).fillna(False)
        t = t.str.replace(thousands, "", regex=False)
    t = t.str.replace(r"[\s$€£¥]", "", regex=True)
    if decimal != ".":
        t = t.str.replace(decimal, ".", regex=False)
    out = pd.to_numeric(t, errors="coerce").astype("float64")
    if misgrouped is not None and misgrouped.any():
        out[misgrouped.to_numpy(dtype=bool)] = np.nan
    return out


def _number_hint(table: str, values: pd.Series, opts: ReadOptions) -> str:
    """A hint on ``read.decimal`` / ``read.thousands`` when failing number texts suggest one."""
    v = values.dropna().astype(str).str.replace(r"[\s$€£¥]", "", regex=True)
    if v.empty:
        return ""
    comma_decimal = v.str.fullmatch(r"[+-]?(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]+),[0-9]+")
    comma_thousands = v.str.fullmatch(r"[+-]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?")
    read = f"inputs.{table}.read"
    if opts.decimal != "," and (comma_decimal & ~comma_thousands).any():
        also = ' and thousands: "."' if v.str.contains(r"\.[0-9]{3},", regex=True).any() \
            else (" and thousands: null" if opts.thousands == "," else "")
        return f'; they look like decimal-comma numbers: set {read}.decimal: ","{also}'
    if opts.thousands != "," and (comma_thousands & ~comma_decimal).any():
        also = ' and decimal: "."' if opts.decimal == "," else ""
        return f'; they look like numbers with "," between thousands: set {read}.thousands: ","{also}'
    if opts.decimal != "," and opts.thousands != "," and comma_decimal.all():
        return (f'; "," may be the decimal separator (set {read}.decimal: ",") or the thousands separator '
                f'(set {read}.thousands: ",")')
    return ""


def parse_dates(s: pd.Series, dayfirst: bool = False, date_format: str | None = None,
                timezone: str | None = None) -> pd.Series:
    """Parse text to naive timestamps; failures become NaT.

    With ``date_format`` that format is used. Without it, ISO 8601 (which allows
    ``2024-01-03`` beside ``2024-01-02 10:00``) and pandas' inference from the first
    value (honouring ``dayfirst``) are both tried and the one reading more values wins.

    Time zones (``analysis.timezone``): a trailing UTC offset (``Z``, ``+02:00``,
    ``+0200``, ``+02``, ``UTC``) is read apart from the wall time. Without
    ``timezone`` the wall time as written is kept (``2024-01-01T10:00:00+02:00`` is
    10:00); with it, a time with an offset is converted to that zone (08:00 UTC is
    09:00 in Europe/Paris in winter) and a time without one is taken as already
    in it. Dates outside the nanosecond range (before 1677-09-22, after 2262-04-10)
    become :data:`_FAR_PAST` / :data:`_FAR_FUTURE`: out of any ``clean.date_range``.
    """
    t = s.astype("string").str.strip()
    t, offsets = _split_offsets(t)
    if date_format and offsets is not None:
        date_format = re.sub(r"\s*%[zZ]", "", date_format)
    if date_format:
        out = _to_datetime(t, timezone, format=date_format)
    else:
        iso = _iso_dates(t, timezone)
        failures = int((iso.isna() & t.notna()).sum())
        out = iso
        if failures:
            inferred = _to_datetime(t, timezone, dayfirst=dayfirst)
            if int((inferred.isna() & t.notna()).sum()) < failures:
                out = inferred
    out = _as_ns(out)
    if offsets is not None and timezone:
        shifted = ~np.isnan(offsets) & out.notna().to_numpy()
        utc = out[shifted] - pd.to_timedelta(offsets[shifted], unit="min")
        out = out.copy()
        out[shifted] = utc.dt.tz_localize("UTC").dt.tz_convert(timezone).dt.tz_localize(None).astype(
            "datetime64[ns]")
    return out


#: a date-time ending in a UTC offset: the wall time (t) and the offset (z)
_OFFSET = (r"^(?P<t>.*[0-9]:[0-5][0-9](?::[0-5][0-9](?:[.,][0-9]+)?)?)\s*"
           r"(?P<z>Z|z|UTC|GMT|[+-][01][0-9](?::?[0-5][0-9])?)$")
_OFFSET_PARTS = r"^(?P<sign>[+-])(?P<h>[0-9]{2}):?(?P<m>[0-9]{2})?$"


def _split_offsets(t: pd.Series) -> tuple[pd.Series, np.ndarray | None]:
    """Date-times with a trailing UTC offset split into the wall time as written and the offset.

    Returns the text without offsets and the offsets in minutes (NaN where a value
    has none), or ``(t, None)`` when no value has one. Values 10 or 19 characters long
    (``2024-01-02``, ``2024-01-02 10:00:00``) cannot hold one and are not searched.
    """
    a = _arrow(t)
    n = pc.utf8_length(a)
    maybe = pc.fill_null(pc.and_(pc.not_equal(n, 10), pc.not_equal(n, 19)), False)
    if not pc.any(maybe).as_py():
        return t, None
    rows = np.flatnonzero(maybe.to_numpy(zero_copy_only=False))
    parts = pc.extract_regex(a.filter(maybe), _OFFSET).combine_chunks()
    found = pc.is_valid(parts).to_numpy(zero_copy_only=False)
    if not found.any():
        return t, None
    parts = parts.filter(pyarrow.array(found))
    z = pc.extract_regex(parts.field("z"), _OFFSET_PARTS)
    numeric = pc.is_valid(z).to_numpy(zero_copy_only=False)

    def number(name: str) -> np.ndarray:  # a group that did not take part is null or ""
        text = pc.fill_null(z.field(name), "")
        return pc.cast(pc.if_else(pc.equal(text, ""), "0", text), pyarrow.int64()).to_numpy(zero_copy_only=False)

    hours, mins = number("h"), number("m")
    sign = np.where(pc.fill_null(pc.equal(z.field("sign"), "-"), False).to_numpy(zero_copy_only=False), -1, 1)
    offsets = np.full(len(t), np.nan)
    offsets[rows[found]] = np.where(numeric, sign * (hours * 60 + mins), 0)
    mask = np.zeros(len(t), dtype=bool)
    mask[rows[found]] = True
    naive = pc.replace_with_mask(a.combine_chunks(), pyarrow.array(mask), parts.field("t"))
    return _from_arrow(pyarrow.chunked_array([naive]), t.index), offsets


_YEAR, _MD = r"(1[7-9]|2[01])[0-9]{2}", r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
#: the common ISO shapes, read by pyarrow; pandas reads them alike (years 1700-2199:
#: inside the nanosecond range; hours, minutes and seconds in range by the pattern)
_ISO_FAST = (
    (rf"^{_YEAR}-{_MD} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$", "%Y-%m-%d %H:%M:%S"),
    (rf"^{_YEAR}-{_MD}$", "%Y-%m-%d"),
)


def _iso_dates(t: pd.Series, timezone: str | None = None) -> pd.Series:
    """``_to_datetime(t, format="ISO8601")`` as ``datetime64[ns]``, fast for the common shapes.

    Values shaped ``YYYY-MM-DD HH:MM:SS`` or ``YYYY-MM-DD`` are parsed by pyarrow and
    kept when the day read back is the day written (pyarrow rolls 30 February over
    to March; pandas refuses it); every other value is parsed by pandas.
    """
    a = _arrow(t)
    out = np.full(len(t), np.datetime64("NaT", "ns"))
    done = np.zeros(len(t), dtype=bool)
    for pattern, fmt in _ISO_FAST:
        shaped = pc.fill_null(pc.match_substring_regex(a, pattern), False)
        if not pc.any(shaped).as_py():
            continue
        text = pc.if_else(shaped, a, _NULL_TEXT)
        stamp = pc.strptime(text, format=fmt, unit="s", error_is_null=True)
        day = pc.cast(pc.utf8_slice_codeunits(text, 8, 10), pyarrow.int64())
        ok = pc.fill_null(pc.equal(pc.day(stamp), day), False).to_numpy(zero_copy_only=False)
        out[ok] = stamp.to_numpy()[ok].astype("datetime64[ns]")
        done |= ok
    rest = ~done
    if rest.any():
        out[rest] = _as_ns(_to_datetime(t[rest], timezone, format="ISO8601")).to_numpy()
    return pd.Series(out, index=t.index)


def _to_datetime(t: pd.Series, timezone: str | None = None, **kwargs) -> pd.Series:
    """``pd.to_datetime`` made naive: offsets the text still holds follow ``analysis.timezone``.

    One offset throughout: its wall time (or, with ``timezone``, converted to it). Mixed
    offsets (pandas needs ``utc=True``): UTC, or converted to ``timezone``. The common
    offset forms are read apart beforehand (:func:`_split_offsets`); this covers the rest.
    """
    mixed = False
    try:
        out = pd.to_datetime(t, errors="coerce", **kwargs)
    except (ValueError, TypeError):  # e.g. offsets mixed with naive values
        out = pd.to_datetime(t, errors="coerce", utc=True, **kwargs)
        mixed = True
    if getattr(out.dt, "tz", None) is not None:
        if timezone or mixed:
            out = out.dt.tz_convert(timezone or "UTC")
        out = out.dt.tz_localize(None)
    return out


def _hard_check_schema(table: str, df: pd.DataFrame, raw: pd.DataFrame,
                       rules: CleanRules, now: pd.Timestamp) -> pa.DataFrameSchema:
    """Checks whose failure stops the load (all columns checked at once, lazily)."""
    pa = _pandera()
    required, _ = C.TABLES[table]
    if table == "transactions":
        required = (*required, C.ORDER_ID)  # optional to map, but never empty once mapped
    cols: dict[str, pa.Column] = {}

    def add(col: str, check: pa.Check) -> None:
        # ignore_na=False: a missing value must reach the check, not be skipped
        check.ignore_na = False
        cols.setdefault(col, pa.Column(nullable=True, checks=[]))
        cols[col].checks.append(check)

    amounts = _amount_sources(table, df)
    for col in df.columns:
        if col in C.NUMERIC_COLUMNS:
            r = raw[col]
            add(col, pa.Check(lambda s, r=r: s.notna() | r.isna(), name="is a number"))
        is_id = col in C.ID_COLUMNS and col != C.PRODUCT
        if col in required and not (is_id and col in (C.CUSTOMER_ID, C.REFERRER_ID, C.REFERRED_ID)) \
                and col not in C.DATE_COLUMNS and col not in amounts:
            # numbers: present as written; text: present once trimmed (an id of spaces is missing)
            add(col, pa.Check((lambda s, r=raw[col]: r.notna()) if col in C.NUMERIC_COLUMNS
                              else (lambda s: s.notna()), name="is present"))
    if rules.missing_id == "error":
        for col in _id_columns(table, df):
            add(col, pa.Check(lambda s: s.notna(), name="is present"))
    if rules.unparsable_dates == "error":
        for col in _date_columns(table, df):
            add(col, pa.Check(lambda s: s.notna(), name="is a date"))
    if rules.out_of_range_dates == "error":
        lo, hi = rules.date_range
        for col in _date_columns(table, df):
            add(col, pa.Check(lambda s: ~_outside(s, rules.date_range), name=f"is between {lo} and {hi}"))
    if rules.missing_amount == "error":
        for col in amounts:
            add(col, pa.Check(lambda s, r=raw[col]: r.notna(), name="is present"))
    if rules.nonfinite_amount == "error":
        top = rules.max_amount
        for col in amounts:
            add(col, pa.Check(lambda s: s.isna() | (np.isfinite(s) & (s.abs() <= top)),
                              name=f"is finite and at most {top:g}"))
        if amounts == [C.QUANTITY, C.UNIT_PRICE]:
            add(C.UNIT_PRICE, pa.Check(lambda s, q=df[C.QUANTITY]: ~_too_big(q * s, top),
                                       name=f"times quantity is at most {top:g}"))
    if table == "transactions" and rules.zero_quantity == "error" and C.QUANTITY in df:
        add(C.QUANTITY, pa.Check(lambda s: s != 0, name="is not zero"))
    if rules.future_dates == "error":
        for col in _date_columns(table, df):
            add(col, pa.Check(lambda s: ~(s > now), name=f"is not after {now:%Y-%m-%d %H:%M}"))
    if table == "transactions" and rules.nonpositive_price == "error":
        col = C.UNIT_PRICE if C.UNIT_PRICE in df else C.AMOUNT
        add(col, pa.Check(lambda s: ~(s <= 0), name="is positive"))
    if table == "surveys" and rules.out_of_range == "error":
        lo, hi = rules.score_range
        add(C.SCORE, pa.Check(lambda s: s.isna() | s.between(lo, hi), name=f"is within {lo:g}-{hi:g}"))
    return pa.DataFrameSchema(cols)


def _duplicated_first(rows: pd.DataFrame, parsed: pd.DataFrame) -> pd.Series:
    """``rows.duplicated(keep="first")``, compared in full only where a duplicate is possible.

    ``parsed`` holds the canonical columns parsed from the same lines (same index): equal
    source rows parse to equal values, so a row whose parsed numbers and dates (cheap to
    hash) are unique cannot be a duplicate. The full comparison of every source column
    then runs on the remaining candidates only (9 % of the lines of the 10M benchmark
    file: 6 s instead of 17 s). The result is exactly ``rows.duplicated(keep="first")``.
    """
    cheap = [c for c in parsed.columns
             if pd.api.types.is_numeric_dtype(parsed[c]) or pd.api.types.is_datetime64_any_dtype(parsed[c])]
    if not cheap:
        return rows.duplicated(keep="first")
    hashes = pd.util.hash_pandas_object(parsed[cheap], index=False)
    maybe = hashes.duplicated(keep=False).to_numpy()
    out = np.zeros(len(rows), dtype=bool)
    if maybe.any():
        out[maybe] = rows.loc[maybe].duplicated(keep="first").to_numpy()
    return pd.Series(out, index=rows.index)


def _duplicate_key(rows: pd.DataFrame, whole: dict[str, bool] | None = None) -> pd.DataFrame:
    """Typed Parquet ``rows`` (all rows of the file) recoded so that two rows are equal exactly when their text is.

    The text of a row (:func:`_parquet_column_as_text`) is a function of its typed values,
    except that it merges values it prints alike: timestamps within the same second
    (and the same wall time in any zone), and ``0.0``/``-0.0`` in whole-float columns.
    Floats with fractions are compared bit for bit (``-0.0`` prints apart from ``0.0``),
    missing values all alike; other column types are compared on their text. ``whole``:
    :func:`_whole_floats` per column of the whole file when ``rows`` are a part of it.
    """
    key = {}
    for col in rows.columns:
        s = rows[col]
        if pd.api.types.is_float_dtype(s):
            if _whole_floats(s) if whole is None or col not in whole else whole[col]:
                key[col] = s.astype("Int64")
            else:
                bits = s.to_numpy(dtype="float64").view("int64")
                key[col] = pd.Series(pd.array(bits, dtype="Int64"), index=s.index).mask(s.isna())
        elif pd.api.types.is_datetime64_any_dtype(s):  # the instant to the second, in any unit
            if getattr(s.dt, "tz", None) is not None:
                s = s.dt.tz_convert("UTC").dt.tz_localize(None)
            key[col] = s.dt.floor("s")
        elif (pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s)) \
                or isinstance(s.dtype, pd.StringDtype):
            key[col] = s
        else:
            key[col] = _parquet_column_as_text(s, None if whole is None else whole.get(col))
    return pd.DataFrame(key, index=rows.index)


def _format_failures(table: str, path: Path, spec: TableInput, raw: pd.DataFrame,
                     err: SchemaErrors, typed: bool = False) -> DataError:
    fc = err.failure_cases
    fc = fc[fc["index"].notna()]
    user_name = spec.columns
    lines, problems = [], []
    for (col, check), grp in fc.groupby(["column", "check"], sort=False):
        rows = grp["index"].astype(int).tolist()
        shown = []
        for line in rows[:_MAX_EXAMPLES]:
            v = _source_text(raw, col, line, typed)
            shown.append(f"line {line} ({'empty' if v is None or pd.isna(v) else repr(v)})")
        more = f" and {len(rows) - _MAX_EXAMPLES} more" if len(rows) > _MAX_EXAMPLES else ""
        user = user_name.get(col, col)
        hint = ""
        if check == "is a number" and col in raw.columns and not typed:
            hint = _number_hint(table, raw[col].loc[rows], spec.read)
        lines.append(
            f"  - column {user!r}{'' if user == col else f' ({col})'}: {len(rows)} row(s) fail "
            f"'{check}': {', '.join(shown)}{more}{hint}"
        )
        problems.append(dict(file=str(path), table=table, column=user_name.get(col, col),
                             canonical=col, check=check, rows=len(rows), lines=rows[:100]))
    return DataError(f"{_where(table, path)}: invalid values\n" + "\n".join(lines), problems)


def _source_text(raw: pd.DataFrame, col: str, line: int, typed: bool) -> object:
    """The value of ``col`` at source ``line`` as the file's text (None when missing)."""
    if col not in raw.columns:
        return None
    if not typed:
        return raw.at[line, col]
    s = raw[col]
    return _parquet_column_as_text(s.loc[[line]], whole=_whole_floats(s)).iloc[0]


def _id_columns(table: str, df: pd.DataFrame) -> list[str]:
    if table == "events":
        return []  # handled jointly: a row needs customer_id or anonymous_id
    if table == "referrals":
        return [c for c in (C.REFERRER_ID, C.REFERRED_ID) if c in df]
    return [C.CUSTOMER_ID] if C.CUSTOMER_ID in df else []


def _check_unparsable_share(table: str, path: Path, spec: TableInput, parsed: pd.Series,
                            source: pd.Series) -> None:
    """Raise when more than ``clean.max_unparsable_share`` of a date column cannot be read.

    A few unreadable dates are bad rows (dropped and counted); most of a column
    unreadable means the format is wrong, and dropping would silently lose the data.
    """
    bad = parsed.isna()
    n_bad, n = int(bad.sum()), len(parsed)
    if n == 0 or n_bad == 0 or n_bad / n <= spec.clean.max_unparsable_share:
        return
    raise unparsable_share_error(table, path, spec, str(parsed.name), n_bad, n,
                                 [(int(i), source.loc[i]) for i in bad[bad].index[:5]])


def unparsable_share_error(table: str, path: Path, spec: TableInput, col: str, n_bad: int, n: int,
                           examples: list[tuple[int, object]]) -> DataError:
    """The error of :func:`_check_unparsable_share`: ``n_bad`` of ``n`` dates of ``col`` unreadable.

    ``examples``: the first (source line, text as written) pairs.
    """
    limit = spec.clean.max_unparsable_share
    user = spec.columns.get(col, col)
    lines = [line for line, _ in examples]
    examples = ", ".join(f"line {i} ({text!r})" for i, text in examples)
    fmt = spec.read.date_format
    return DataError(
        f"{_where(table, path)}: column {user!r}: {n_bad:,} of {n:,} dates ({n_bad / n:.0%}) cannot be read "
        f"with {'date_format ' + repr(fmt) if fmt else 'automatic detection'} "
        f"(dayfirst: {str(spec.read.dayfirst).lower()}): {examples}. Check inputs.{table}.read.date_format "
        f"and dayfirst; more than clean.max_unparsable_share ({limit:.0%}) unreadable is treated as a "
        f"wrong format, not as bad rows.",
        [dict(file=str(path), column=user, check="dates readable", lines=[int(i) for i in lines])],
    )


def _date_columns(table: str, df: pd.DataFrame) -> list[str]:
    return [c for c in C.DATE_COLUMNS if c in df]


def _amount_sources(table: str, df: pd.DataFrame) -> list[str]:
    """The columns an amount comes from: ``amount``, or quantity and unit price (transactions, spend)."""
    if table not in ("transactions", "spend"):
        return []
    if C.AMOUNT in df:
        return [C.AMOUNT]
    return [C.QUANTITY, C.UNIT_PRICE] if C.QUANTITY in df and C.UNIT_PRICE in df else []


def _outside(s: pd.Series, date_range: tuple[dt.date, dt.date]) -> pd.Series:
    """Dates before the first or after the last day of ``date_range`` (missing dates are not)."""
    lo, hi = date_range
    return (s < pd.Timestamp(lo)) | (s >= pd.Timestamp(hi) + pd.Timedelta(days=1))


def _too_big(amount: pd.Series, top: float) -> pd.Series:
    """Amounts that are infinite, the NaN of inf x 0, or larger than ``top`` (missing stays False)."""
    v = amount.to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        return pd.Series(~np.isfinite(v) | (np.abs(v) > top), index=amount.index)


# ----------------------------------------------------------------------------- cleaning


def load_table(table: str, spec: TableInput, path: Path, ledger: Ledger,
               now: pd.Timestamp | None = None, timezone: str | None = None) -> tuple[pd.DataFrame, InputInfo]:
    """Read, validate and clean one table.

    Parameters
    ----------
    table : canonical table name (a key of :data:`lclib.io.columns.TABLES`).
    spec : its ``inputs.<table>`` block of the configuration.
    path : absolute path of the file.
    ledger : the run's ledger; this table's counts are added to it.
    now : the clock for the future-date rule (default: the current time, in ``timezone``).
    timezone : ``analysis.timezone``: times with an offset or a zone are converted to it
        and made naive; None keeps the wall time as written (see :func:`parse_dates`).

    Returns
    -------
    (DataFrame, InputInfo)
        The canonical table (columns per :mod:`lclib.io.columns`, a fresh RangeIndex)
        and a description of the input. A large transactions file is cleaned in parts
        instead by :func:`lclib.io.dataset.load_dataset` (:mod:`lclib.io.parts`).

    Raises
    ------
    DataError
        Naming the file, the column(s) and the source lines.
    """
    now = _clock(now, timezone)
    raw_all, _ = read_raw(table, spec, path)
    ledger.open(table, str(path), len(raw_all))
    df = clean_rows(table, spec, path, raw_all, ledger, now, timezone)
    if table == "transactions" and C.ORDER_ID in spec.columns:
        df = _order_ids_per_customer(table, spec, path, df, ledger)

    ledger.check(table, len(df))
    df = _contract(table).validate(df.reset_index(drop=True), lazy=False, inplace=True)  # no coercion: no copy
    info = InputInfo(table=table, path=str(path), sha256=file_sha256(path), bytes=path.stat().st_size,
                     rows_in=ledger.tables[table].rows_in, rows_kept=len(df))
    dcols = _date_columns(table, df)
    if dcols and len(df):
        info.date_min = str(df[dcols[0]].min())
        info.date_max = str(df[dcols[0]].max())
    return df, info


def clean_rows(table: str, spec: TableInput, path: Path, raw_all: pd.DataFrame, ledger: Ledger,
               now: pd.Timestamp, timezone: str | None, *, unparsable: dict | None = None,
               nets: list | None = None, whole: dict[str, bool] | None = None) -> pd.DataFrame:
    """Parse, check and clean the rows ``raw_all`` of ``path`` (:func:`read_raw`'s frame, or a part of it).

    Every cleaning rule that looks at one row, or at the rows of one customer (duplicates,
    refund netting), in the documented order; the order-id check and the column contract
    are left to the caller, which also opened ``table`` in ``ledger``. Returns the cleaned
    canonical rows indexed by source line.

    ``unparsable`` (a dict): the unreadable dates are counted into it per date column
    (``bad``, ``n``, ``examples``) instead of checked against ``clean.max_unparsable_share``
    here; ``nets`` (a list): the :class:`NetResult` of refund netting is appended to it
    instead of written as a ledger note; ``whole``: :func:`_whole_floats` of the whole file's
    float columns by source name. All three for a caller that cleans a file in parts.
    """
    rules = spec.clean
    raw = _na_as_missing(select_columns(table, spec, raw_all, path))

    # -- parse (the source frame kept beside for messages: text for CSV, typed for Parquet)
    typed = _format(spec, path) == "parquet"
    if typed:
        w = {canon: (whole or {}).get(user) for canon, user in spec.columns.items()}
        df = pd.DataFrame({col: parse_parquet_column(col, raw[col], spec.read, timezone, w[col])
                           for col in raw.columns}, index=raw.index)
    else:
        df = pd.DataFrame({col: parse_text_column(col, raw[col], spec.read, timezone) for col in raw.columns},
                          index=raw.index)

    schema = _hard_check_schema(table, df, raw, rules, now)  # imports pandera, its warning filtered
    from pandera.errors import SchemaErrors

    try:
        schema.validate(df, lazy=True, inplace=True)  # checks only (no coercion): no copy of the lines
    except SchemaErrors as e:
        raise _format_failures(table, path, spec, raw, e, typed) from None

    # -- cleaning, in the documented order
    drop = _dropper(ledger, table)
    ids = _id_columns(table, df)
    if table == "events":
        id_cols = [c for c in (C.CUSTOMER_ID, C.ANONYMOUS_ID) if c in df]
        df = drop(df, df[id_cols].isna().all(axis=1), "missing_id")
    elif ids:
        df = drop(df, df[ids].isna().any(axis=1), "missing_id")
    if rules.duplicates == "drop":
        # exact duplicates of the whole source row, not just the mapped columns. Checked
        # on all rows: copies of a row share its ids, so a group of copies is either
        # dropped whole for a missing id or kept whole, and "first" is the same row
        rows = (_duplicate_key(raw_all, whole) if typed else raw_all).loc[df.index]
        df = drop(df, _duplicated_first(rows, df), "duplicates")
    for col in _date_columns(table, df):
        if unparsable is None:
            _check_unparsable_share(table, path, spec, df[col], raw[col])
        else:  # counted here, checked on the whole file by the caller
            bad = df[col].isna()
            got = unparsable.setdefault(col, {"bad": 0, "n": 0, "examples": []})
            got["bad"] += int(bad.sum())
            got["n"] += len(bad)
            got["examples"] += [(int(i), raw[col].loc[i]) for i in bad[bad].index[:5]]
    del raw, raw_all
    for col in _date_columns(table, df):
        df = drop(df, df[col].isna(), "unparsable_dates")
    for col in _date_columns(table, df):
        df = drop(df, _outside(df[col], rules.date_range), "out_of_range_dates")
    if rules.future_dates == "drop":
        for col in _date_columns(table, df):
            df = drop(df, df[col] > now, "future_dates")
    df = _clean_amounts(table, df, rules, drop)
    if table == "transactions":
        df = _clean_transactions(df, rules, drop, lambda key, text: ledger.note(table, key, text), nets=nets)
    if table == "surveys":
        lo, hi = rules.score_range
        df = drop(df, ~df[C.SCORE].between(lo, hi), "out_of_range")
    if table == "customers":
        df = drop(df, df[C.CUSTOMER_ID].duplicated(keep="first"), "duplicate_key")
    return df


def _clock(now: pd.Timestamp | None, timezone: str | None) -> pd.Timestamp:
    """The naive clock of the future-date rule: now (or ``now``) as wall time in ``timezone``."""
    stamp = pd.Timestamp.now(tz=timezone) if now is None else pd.Timestamp(now)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(timezone).tz_localize(None) if timezone else stamp.tz_localize(None)
    return stamp


def _na_as_missing(raw: pd.DataFrame) -> pd.DataFrame:
    """``raw`` with the texts of :data:`NA_VALUES` made missing in its number and date columns.

    Text columns (ids included) keep them: only an empty field is a missing id.
    """
    na = pyarrow.array(NA_VALUES, pyarrow.string())
    out = {}
    for col in raw.columns:
        s = raw[col]
        if (col in C.NUMERIC_COLUMNS or col in C.DATE_COLUMNS) and isinstance(s.dtype, pd.StringDtype):
            a = _arrow(s)
            hit = pc.is_in(a, value_set=na)
            if pc.any(hit).as_py():
                out[col] = _from_arrow(pc.if_else(hit, _NULL_TEXT, a), s.index)
    return raw.assign(**out) if out else raw


def _dropper(ledger: Ledger, table: str):
    """``ledger.drop`` for ``table``, skipping the copy of the frame when nothing is dropped."""
    def drop(df: pd.DataFrame, mask: pd.Series, reason: str) -> pd.DataFrame:
        if not mask.fillna(False).astype(bool).to_numpy().any():
            return df
        return ledger.drop(table, df, mask, reason)
    return drop


def _clean_amounts(table: str, df: pd.DataFrame, rules: CleanRules, drop) -> pd.DataFrame:
    """Missing and non-finite amounts (transactions, spend).

    Missing: an empty amount, or quantity or unit price when the amount is derived.
    Non-finite: infinite, or larger than ``clean.max_amount`` (``1e308`` would sum to
    infinity; quantity x unit price may overflow).
    """
    sources = _amount_sources(table, df)
    if not sources:
        return df
    df = drop(df, df[sources].isna().any(axis=1), "missing_amount")
    with np.errstate(over="ignore", invalid="ignore"):
        amount = df[C.AMOUNT] if C.AMOUNT in df else df[C.QUANTITY] * df[C.UNIT_PRICE]
    return drop(df, _too_big(amount, rules.max_amount), "nonfinite_amount")


def _order_ids_per_customer(table: str, spec: TableInput, path: Path, df: pd.DataFrame,
                            ledger: Ledger) -> pd.DataFrame:
    """Make sure an order id names one customer's order (``clean.order_ids``).

    Reports count orders as distinct order ids; an id shared by several customers
    (order numbers restarting per customer: 1, 2, 3 ...) would merge their orders.
    ``unique`` (default): such an id is an error naming the column, the customers and
    lines. ``per_customer``: every order id becomes ``<customer_id>/<order_id>``.
    """
    shared = _shared_order_ids(df[C.ORDER_ID], df[C.CUSTOMER_ID])
    if spec.clean.order_ids == "unique":
        if shared is not None:
            raise _shared_order_ids_error(table, spec, path, df, shared)
        return df
    ledger.note(table, "order_ids", (
        f"order ids read per customer (clean.order_ids: per_customer) and written <customer_id>/<order_id>; "
        f"{0 if shared is None else len(shared):,} order id(s) were used by several customers"))
    cust, order = _arrow(df[C.CUSTOMER_ID]), _arrow(df[C.ORDER_ID])
    ids = pc.binary_join_element_wise(cust, order.cast(cust.type), pyarrow.scalar("/", cust.type))
    return df.assign(**{C.ORDER_ID: _from_arrow(ids, df.index)})


def _shared_order_ids(order: pd.Series, customer: pd.Series) -> pyarrow.Array | None:
    """The order ids used by more than one customer (first-seen order), or None.

    Fast for the usual export, where the lines of an order are adjacent: the rows are
    cut into runs of one (order, customer); when no order id starts two runs (checked
    without hashing when the ids increase), none is shared. Otherwise the runs'
    customers are compared per order id (min and max code).
    """
    if len(order) < 2:
        return None
    o, c = _arrow(order), _arrow(customer)
    same = pc.and_(pc.equal(o[1:], o[:-1]), pc.equal(c[1:], c[:-1]))
    start = np.r_[True, ~pc.fill_null(same, False).to_numpy(zero_copy_only=False)]
    ro, rc = o.filter(pyarrow.array(start)), c.filter(pyarrow.array(start))
    if len(ro) < 2 or pc.all(pc.fill_null(pc.greater(ro[1:], ro[:-1]), False)).as_py():
        return None  # increasing order ids (the usual export): none starts two runs
    if pc.count_distinct(ro).as_py() == len(ro):
        return None
    od = pc.dictionary_encode(ro).combine_chunks()
    ci = pc.dictionary_encode(rc).combine_chunks().indices.to_numpy(zero_copy_only=False).astype(np.int64)
    oi = od.indices.to_numpy(zero_copy_only=False)
    lo = np.full(len(od.dictionary), np.iinfo(np.int64).max)
    hi = np.full(len(od.dictionary), -1)
    np.minimum.at(lo, oi, ci)
    np.maximum.at(hi, oi, ci)
    shared = lo != hi
    return od.dictionary.filter(pyarrow.array(shared)) if shared.any() else None


def _shared_order_ids_error(table: str, spec: TableInput, path: Path, df: pd.DataFrame,
                            shared: pyarrow.Array) -> DataError:
    user_o, user_c = spec.columns[C.ORDER_ID], spec.columns[C.CUSTOMER_ID]
    on_shared = df[df[C.ORDER_ID].isin(shared.to_pylist())]
    examples, lines = [], []
    for oid in shared[:3].to_pylist():
        firsts = on_shared[on_shared[C.ORDER_ID] == oid].groupby(C.CUSTOMER_ID, sort=False).head(1)
        who = [f"customer {c!r} (line {line})" for line, c in firsts[C.CUSTOMER_ID].head(2).items()]
        more = f" and {len(firsts) - 2} more" if len(firsts) > 2 else ""
        examples.append(f"order id {oid!r}: {' and '.join(who)}{more}")
        lines += [int(i) for i in firsts.index[:2]]
    n, people = len(shared), on_shared[C.CUSTOMER_ID].nunique()
    return DataError(
        f"{_where(table, path)}: column {user_o!r}{'' if user_o == C.ORDER_ID else ' (order_id)'}: "
        f"{n:,} order id(s) are used by more than one customer (column {user_c!r}; {people:,} customers "
        f"involved), e.g. {'; '.join(examples)}. "
        f"Reports count an order per order id, so these customers' orders would be merged. If order numbers "
        f"restart for each customer (1, 2, 3 ...), set inputs.{table}.clean.order_ids: per_customer; "
        f"otherwise map a column that identifies one order.",
        [dict(file=str(path), table=table, column=user_o, canonical=C.ORDER_ID,
              check="used by one customer", rows=int(len(on_shared)), lines=lines)],
    )


def _cancellation_mask(df: pd.DataFrame, rules: CleanRules) -> pd.Series:
    """Cancellation lines: order id starting with ``clean.cancellation_prefix``, or a negative quantity or amount."""
    cancel = pd.Series(False, index=df.index)
    if rules.cancellation_prefix and C.ORDER_ID in df:
        cancel |= df[C.ORDER_ID].str.startswith(rules.cancellation_prefix).fillna(False)
    for col in (C.QUANTITY, C.AMOUNT):
        if col in df:
            cancel |= df[col] < 0
    return cancel


def _clean_transactions(df: pd.DataFrame, rules: CleanRules, drop, note=None, nets: list | None = None) -> pd.DataFrame:
    """Cancellations, non-product codes, zero quantities, derived amount and order id, non-positive prices.

    ``drop(df, mask, reason)`` removes rows and counts them (see :func:`_dropper`);
    ``note(key, text)`` records a ledger note. ``clean.cancellations: drop`` removes the
    cancellation lines first; ``net`` marks them first and nets them last (after
    non-product codes, zero quantities and non-positive prices, so that refunds are netted
    only from purchase lines that are kept; see :func:`net_cancellations`).
    """
    cancel = _cancellation_mask(df, rules) if rules.cancellations != "keep" else None
    if rules.cancellations == "drop":
        df = drop(df, cancel, "cancellations")
    if rules.non_product_codes and C.PRODUCT in df:
        codes = {c.strip() for c in rules.non_product_codes}
        df = drop(df, df[C.PRODUCT].isin(codes), "non_product_codes")
    if rules.zero_quantity == "drop" and C.QUANTITY in df:
        df = drop(df, df[C.QUANTITY] == 0, "zero_quantity")
    if C.AMOUNT not in df:
        df = df.assign(**{C.AMOUNT: df[C.QUANTITY] * df[C.UNIT_PRICE]})
    if C.ORDER_ID not in df:
        # no order ids (e.g. CDNOW): the lines of one customer at one timestamp form one order
        stamp = df[C.TIMESTAMP].dt.strftime("%Y-%m-%dT%H:%M:%S").str.removesuffix("T00:00:00")
        df = df.assign(**{C.ORDER_ID: df[C.CUSTOMER_ID] + "@" + stamp})
    if rules.nonpositive_price == "drop":
        col = C.UNIT_PRICE if C.UNIT_PRICE in df else C.AMOUNT
        bad = df[col] <= 0
        if rules.cancellations == "net" and col == C.AMOUNT:
            bad &= ~cancel.loc[df.index]  # a negative amount is what makes a refund line, netted below
        df = drop(df, bad, "nonpositive_price")
    if rules.cancellations == "net":
        if C.REFUNDED_AMOUNT in df:
            raise DataError(f"inputs.transactions.columns maps {C.REFUNDED_AMOUNT!r}, which "
                            "clean.cancellations: net computes; map that column under another name")
        net = net_cancellations(df, cancel.loc[df.index])
        df = drop(net.lines, net.cancellation_netted, "cancellations_netted")
        df = drop(df, net.cancellation_unmatched.loc[df.index], "cancellations_unmatched")
        df = drop(df, net.fully_refunded.loc[df.index], "fully_refunded")
        if nets is not None:
            nets.append(net)
        elif note is not None and net.cancellations:
            note("refunds", net.sentence())
    return df


#: relative tolerance of the refund arithmetic (quantities and amounts are sums of floats)
_REFUND_TOL = 1e-9


@dataclass
class NetResult:
    """What :func:`net_cancellations` did: the lines (purchases netted, cancellations still in) and figures.

    The boolean masks share the index of ``lines``; the loader drops the rows they mark,
    each under its own ledger reason.
    """

    lines: pd.DataFrame
    cancellation_netted: pd.Series      # cancellation lines of which some quantity was netted
    cancellation_unmatched: pd.Series   # cancellation lines with no earlier purchase to net from
    fully_refunded: pd.Series           # lines of orders refunded in full
    cancellations: int = 0              # cancellation lines
    gross: float = 0.0                  # purchase amount before netting (lines kept by the other rules)
    netted: float = 0.0                 # amount netted from purchase lines (sum of refunded_amount)
    orders_netted: int = 0              # orders with at least one line netted (fully refunded included)
    orders_fully_refunded: int = 0
    unmatched: float = 0.0              # amount of the cancellation lines that matched nothing
    excess: float = 0.0                 # amount of netted cancellation lines beyond what was bought before
    excess_lines: int = 0               # netted cancellation lines with such an excess
    basis: str = ""                     # how a cancellation finds its purchases, in words

    @property
    def net(self) -> float:
        return self.gross - self.netted

    def sentence(self) -> str:
        """The ledger note: how much was netted from how many orders, what could not be matched."""
        n_net, n_unm = int(self.cancellation_netted.sum()), int(self.cancellation_unmatched.sum())
        n_full = int(self.fully_refunded.sum())
        def n(count: int, word: str) -> str:
            return f"{count:,} {word}{'' if count == 1 else 's'}"

        text = (f"{self.netted:,.2f} of refunds netted from {n(self.orders_netted, 'order')} "
                f"({n(n_net, 'cancellation line')}; clean.cancellations: net, matched on the {self.basis}); "
                f"{n(self.orders_fully_refunded, 'order')} fully refunded ({n(n_full, 'line')} removed); "
                f"revenue {self.gross:,.2f} gross, {self.net:,.2f} net")
        if n_unm:
            text += (f"; {self.unmatched:,.2f} of cancellations unmatched ({n(n_unm, 'line')} with no earlier "
                     f"purchase in the data to reverse), dropped and not netted")
        if self.excess_lines:
            text += (f"; {self.excess:,.2f} of netted cancellation lines exceeded what was bought before them "
                     f"({n(self.excess_lines, 'line')}): that part was not netted")
        return text


def net_cancellations(df: pd.DataFrame, cancel: pd.Series) -> NetResult:
    """Net cancellation lines from the purchases they reverse (``clean.cancellations: net``).

    Parameters
    ----------
    df : DataFrame
        Canonical transaction lines (``amount`` and ``order_id`` present), purchases and
        cancellations together, indexed by source line.
    cancel : Series of bool
        Which lines are cancellations (:func:`_cancellation_mask`), same index.

    Returns
    -------
    NetResult
        ``lines``: ``df`` with purchase lines reduced by what was refunded and a column
        ``refunded_amount`` (>= 0; 0 on lines nothing was netted from and on the
        cancellation lines), plus the masks of the lines to drop and the figures.

    The rule. A cancellation line reverses earlier purchase lines of the same customer and
    *item*: the same ``product`` when the column is mapped; without one, the same unit price
    when quantities are given (``unit_price``, or ``amount / quantity``), else the same
    amount (a whole line, to the 6th decimal). It takes, most recent first, from the lines
    dated on or before it (at the same time purchases come first; among lines of one time
    the later source line is the more recent), consuming quantity (without a quantity
    column: amount; without product or quantity: one line per cancellation line), so one
    cancellation may span several earlier lines and a partial one reduces a line. A line's
    quantity and amount are reduced in proportion; ``refunded_amount`` holds what was taken,
    so gross = amount + refunded_amount and net = amount. Earlier cancellations consume
    first. A cancellation of which nothing could be matched is *unmatched*; the part of a
    cancellation beyond what was bought before it is not netted (stated in the note). An
    order whose every line was refunded in full is marked ``fully_refunded``.

    Vectorised: for each item the lines are sorted by time and the matching is the
    reflected running sum (Lindley's recursion ``A = max(0, A_prev + x)``, closed form
    ``S - min(0, cummin(S))``) forwards for what each cancellation takes and backwards for
    what each purchase gives; both give the same last-in-first-out matching.
    """
    cancel = cancel.astype(bool).to_numpy()
    out = df.assign(**{C.REFUNDED_AMOUNT: 0.0})
    none = pd.Series(False, index=df.index)
    has_q, has_p = C.QUANTITY in df, C.PRODUCT in df
    basis = ("same customer and product" if has_p else
             "same customer and unit price (no product column)" if has_q else
             "same customer and amount, a whole line (no product or quantity column)")
    purchase_amount = df[C.AMOUNT].to_numpy(dtype=float)[~cancel]
    res = NetResult(out, none, none.copy(), none.copy(), cancellations=int(cancel.sum()),
                    gross=float(purchase_amount.sum()), basis=basis)
    if not cancel.any():
        return res

    amount = df[C.AMOUNT].to_numpy(dtype=float)
    if has_q:
        units = np.abs(df[C.QUANTITY].to_numpy(dtype=float))
    elif has_p:
        units = np.abs(amount)
    else:
        units = np.ones(len(df))
    if has_p:
        item = df[C.PRODUCT]
    elif has_q:
        price = df[C.UNIT_PRICE] if C.UNIT_PRICE in df else df[C.AMOUNT] / df[C.QUANTITY]
        item = price.abs().round(6).where(np.isfinite(price))
    else:
        item = df[C.AMOUNT].abs().round(6)

    # only purchases of customers who cancelled something take part
    cust = df[C.CUSTOMER_ID]
    involved = cancel | cust.isin(cust[cancel].unique()).to_numpy()
    rows = np.flatnonzero(involved)
    keys = pd.DataFrame({"c": cust.iloc[rows].reset_index(drop=True), "i": item.iloc[rows].reset_index(drop=True)})
    group = keys.groupby(["c", "i"], sort=False, dropna=True).ngroup()
    group = group.fillna(-1).to_numpy(dtype=np.int64)  # -1: no item (an empty product), never matched
    ok = group >= 0
    rows, group = rows[ok], group[ok]
    is_cancel = cancel[rows]
    stamp = df[C.TIMESTAMP].to_numpy()[rows].astype("datetime64[ns]").view("int64")
    order = np.lexsort((rows, is_cancel, stamp, group))  # by item, time, purchases first, source line
    rows, group, is_cancel = rows[order], group[order], is_cancel[order]
    u = units[rows]

    def taken(x: np.ndarray, g: np.ndarray) -> np.ndarray:
        """Per row, ``A_prev - A`` of the reflected running sum ``A = max(0, A_prev + x)`` within groups."""
        s = pd.Series(x).groupby(g).cumsum()
        low = s.groupby(g).cummin().clip(upper=0.0)
        level = (s - low).to_numpy()
        prev = pd.Series(level).groupby(g).shift(1, fill_value=0.0).to_numpy()
        return np.clip(prev - level, 0.0, None)

    # forwards: stock bought minus taken; a cancellation takes min(its units, stock)
    took = taken(np.where(is_cancel, -u, u), group)
    # backwards: demand of later cancellations; a purchase gives min(its units, demand)
    back = slice(None, None, -1)
    gave = taken(np.where(is_cancel, u, -u)[back], group[back])[back]
    tol = _REFUND_TOL * np.maximum(u, 1.0)
    took = np.where(took <= tol, 0.0, np.where(took >= u - tol, u, took))
    gave = np.where(gave <= tol, 0.0, np.where(gave >= u - tol, u, gave))

    # purchases: reduce quantity and amount by the share given
    p_rows, p_gave, p_u = rows[~is_cancel], gave[~is_cancel], u[~is_cancel]
    p_rows, p_gave, p_u = p_rows[p_gave > 0], p_gave[p_gave > 0], p_u[p_gave > 0]
    full = p_gave >= p_u
    if has_p and not has_q:
        refunded = p_gave.copy()  # units are money
    else:
        refunded = amount[p_rows] * (p_gave / p_u)
    refunded[full] = amount[p_rows][full]
    refunded_col = np.zeros(len(df))
    refunded_col[p_rows] = refunded
    new_amount = amount.copy()
    new_amount[p_rows] = np.where(full, 0.0, amount[p_rows] - refunded)
    changes = {C.AMOUNT: new_amount, C.REFUNDED_AMOUNT: refunded_col}
    if has_q:
        qty = df[C.QUANTITY].to_numpy(dtype=float).copy()
        qty[p_rows] = np.where(full, 0.0, qty[p_rows] - p_gave)
        changes[C.QUANTITY] = qty
    out = df.assign(**changes)

    # cancellations: netted (something taken) or unmatched (nothing)
    c_rows, c_took, c_u = rows[is_cancel], took[is_cancel], u[is_cancel]
    took_all = np.zeros(len(df))
    took_all[c_rows] = c_took
    netted_c = cancel & (took_all > 0)
    unmatched_c = cancel & ~netted_c
    share_left = np.ones(len(df))
    with np.errstate(invalid="ignore", divide="ignore"):
        share_left[c_rows] = np.where(c_u > 0, (c_u - c_took) / c_u, 1.0)
    c_amount = np.abs(amount) * share_left

    # orders refunded in full: every line of the order gave all its units (only orders netted from are looked at)
    line_full = np.zeros(len(df), dtype=bool)
    line_full[p_rows[full]] = True
    oid = df[C.ORDER_ID]
    candidates = np.flatnonzero(~cancel & oid.isin(oid.iloc[p_rows].unique()).to_numpy())
    orders = pd.DataFrame({"c": cust.iloc[candidates].reset_index(drop=True),
                           "o": oid.iloc[candidates].reset_index(drop=True), "full": line_full[candidates]})
    per_order = orders.groupby(["c", "o"], sort=False)["full"]
    gone = np.zeros(len(df), dtype=bool)
    gone[candidates[per_order.transform("all").to_numpy(dtype=bool)]] = True
    order_full = per_order.all()

    res.lines = out
    res.cancellation_netted = pd.Series(netted_c, index=df.index)
    res.cancellation_unmatched = pd.Series(unmatched_c, index=df.index)
    res.fully_refunded = pd.Series(gone, index=df.index)
    res.netted = float(refunded_col.sum())
    res.orders_netted = int(len(pd.DataFrame({"c": cust.iloc[p_rows].to_numpy(), "o": oid.iloc[p_rows].to_numpy()})
                                .drop_duplicates()))
    res.orders_fully_refunded = int(order_full.sum())
    res.unmatched = float(c_amount[unmatched_c].sum())
    excess = netted_c & (share_left > 0)
    res.excess, res.excess_lines = float(c_amount[excess].sum()), int(excess.sum())
    return res


def _contract(table: str) -> pa.DataFrameSchema:
    """The canonical column contract every analysis module may rely on."""
    pa = _pandera()
    required, optional = C.TABLES[table]
    cols: dict[str, pa.Column] = {}
    for col in (*required, *optional):
        if col in C.DATE_COLUMNS:
            cols[col] = pa.Column("datetime64[ns]", nullable=col not in required, required=col in required)
        elif col in C.NUMERIC_COLUMNS:
            cols[col] = pa.Column(float, nullable=col not in required, required=col in required)
        else:
            cols[col] = pa.Column(nullable=True, required=col in required)
    if table == "transactions":
        cols[C.AMOUNT] = pa.Column(float, nullable=False, required=True)
        cols[C.ORDER_ID] = pa.Column(nullable=False, required=True)
        cols[C.REFUNDED_AMOUNT] = pa.Column(float, pa.Check.ge(0), nullable=False, required=False)
    if table == "events":
        cols[C.CUSTOMER_ID] = pa.Column(nullable=True, required=False)
    return pa.DataFrameSchema(cols, strict=False)


# ----------------------------------------------------------------------------- dataset


def _ledger_sentence(entry) -> str:
    """One table's ledger in words, for a message printed where the ledger is not."""
    if not entry.dropped:
        return f"{entry.rows_in:,} rows read (the file has no data rows)"
    parts = [f"{REASONS[r]} ({r}): {n:,}, e.g. line(s) {', '.join(map(str, entry.examples.get(r, [])[:3]))}"
             for r, n in entry.dropped.items()]
    return f"{entry.rows_in:,} rows read, all dropped: " + "; ".join(parts) + \
        f". Check the cleaning rules (inputs.{entry.table}.clean; README 'Cleaning rules and the ledger')"
