"""Load the user's files into canonical tables, validated and cleaned with a ledger.

For each table configured under ``inputs`` in ``lclib.yaml``:

1. read the CSV file with every column as text, or the Parquet file with its
   typed columns (ids always end as text: ``17850.0`` becomes ``17850``, never a
   float). A typed Parquet column gives exactly what its text would have given
   (numbers cast, timestamps kept to the second); the text is built only where
   needed (messages quote the value as written, unusual column types);
2. check the mapped columns exist and rename them to the canonical names
   of :mod:`lclib.io.columns`;
3. parse numbers and dates; problems that cannot be cleaned (a text in a number
   column, a missing order id, any rule set to ``error``) are collected over all
   columns with a lazy pandera schema and raised together as :class:`DataError`,
   naming the file, the column and the source lines;
4. apply the cleaning rules in a fixed order, counting every dropped row in the
   :class:`~lclib.io.ledger.Ledger`: missing id -> exact duplicates -> unparsable
   dates -> future dates -> cancellations -> non-product codes -> non-positive
   prices -> scores out of range -> repeated keys (customers table);
5. check the result against the canonical contract (pandera).

Source line numbers: for CSV the header is line 1, so the first data row is
line 2; for Parquet, row 1 is the first row.

Speed: every step is vectorised (pyarrow compute for text, pyarrow's CSV reader
when it reads the file exactly as pandas' C engine would, which is the fallback).
Each fast path keeps a reference implementation beside it (``_read_csv_c``,
``_parse_numbers_text``, ``_to_datetime``, ``_parquet_column_as_text`` +
:func:`parse_text_column`) and ``tests/test_io.py`` checks they agree.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from pandera.errors import SchemaErrors

from lclib.io import columns as C
from lclib.config import CleanRules, Config, ReadOptions, TableInput, load_config
from lclib.io.ledger import Ledger
from lclib.io.mapping import check_mappings

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


@dataclass
class Dataset:
    """The canonical tables of one run, with their ledger and input descriptions."""

    config: Config
    tables: dict[str, pd.DataFrame]
    ledger: Ledger
    inputs: list[InputInfo] = field(default_factory=list)

    def has(self, name: str) -> bool:
        """True when table ``name`` was given and has at least one row."""
        return name in self.tables and len(self.tables[name]) > 0

    def __getattr__(self, name: str) -> pd.DataFrame | None:
        if name in C.TABLES:
            return self.__dict__["tables"].get(name)
        raise AttributeError(name)

    # -- cache written by the runner so that every notebook reads the same cleaned data
    def save(self, folder: str | Path) -> Path:
        """Write the cleaned tables (Parquet), ledger and input info to ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, df in self.tables.items():
            df.to_parquet(folder / f"{name}.parquet", index=False)
        meta = {"ledger": self.ledger.to_dict(), "inputs": [i.__dict__ for i in self.inputs]}
        (folder / "dataset.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def open(cls, folder: str | Path, config: Config) -> "Dataset":
        """Read a dataset written by :meth:`save`."""
        folder = Path(folder)
        meta = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
        tables = {p.stem: pd.read_parquet(p) for p in sorted(folder.glob("*.parquet"))}
        return cls(config, tables, Ledger.from_dict(meta["ledger"]),
                   [InputInfo(**i) for i in meta["inputs"]])


# ----------------------------------------------------------------------------- reading


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _where(table: str, path: Path) -> str:
    return f"{path} (inputs.{table})"


def read_raw(table: str, spec: TableInput, path: Path) -> tuple[pd.DataFrame, int]:
    """Read a file: CSV with every column as text, Parquet with its columns typed.

    Returns the frame, indexed by source line number, and the offset used
    (2 for CSV, whose line 1 is the header; 1 for Parquet). Parquet columns keep
    their types (no text round trip); :func:`_parquet_column_as_text` gives the
    text a CSV would have held where it is needed (messages, unusual types).
    """
    if not path.is_file():
        raise DataError(f"{_where(table, path)}: file not found")
    if _format(spec, path) == "parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises many types
            raise DataError(f"{_where(table, path)}: cannot read as Parquet: {e}") from None
        offset = 1
    else:
        opts = spec.read
        df = _read_csv_pyarrow(path, opts)
        if df is None:
            df = _read_csv_c(table, path, opts)
        df.columns = [str(c).strip() for c in df.columns]
        offset = 2 if opts.header else 1
    df.index = pd.RangeIndex(offset, offset + len(df), name="line")
    return df, offset


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
            keep_default_na=False, na_values=NA_VALUES, skipinitialspace=True,
        )
    except UnicodeDecodeError as e:
        raise DataError(
            f"{_where(table, path)}: the file is not valid {opts.encoding} text "
            f"(byte {e.start}: {e.reason}); set inputs.{table}.read.encoding, "
            f"e.g. latin-1 or cp1252"
        ) from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{_where(table, path)}: the file is empty (no header row)") from None
    except pd.errors.ParserError as e:
        raise DataError(
            f"{_where(table, path)}: cannot split the file into columns: {e}. "
            f"Check inputs.{table}.read.delimiter (now {opts.delimiter!r})"
        ) from None


def _read_csv_pyarrow(path: Path, opts: ReadOptions) -> pd.DataFrame | None:
    """Fast multi-threaded read giving exactly what :func:`_read_csv_c` gives, or None.

    pyarrow reads every field as text with no missing-value conversion; the
    ``NA_VALUES`` are then mapped to missing exactly as the C engine does. Whenever
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
    na = pyarrow.array(NA_VALUES, pyarrow.string())
    cols = {}
    for name, arr in zip(tbl.column_names, tbl.columns):
        if pc.any(pc.or_(pc.starts_with(arr, " "), pc.starts_with(arr, "\t"))).as_py():
            return None  # skipinitialspace would change it: leave it to the C engine
        cols[name] = pd.Series(pd.arrays.ArrowStringArray(
            pc.if_else(pc.is_in(arr, value_set=na), _NULL_TEXT, arr)), copy=False).astype(str)
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
    """True for a float column whose values are all whole numbers (read as integers)."""
    if not pd.api.types.is_float_dtype(s):
        return False
    whole = s.dropna()
    with np.errstate(invalid="ignore"):  # inf is not whole
        return bool(len(whole) and np.all(np.mod(whole.to_numpy(), 1) == 0))


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
        return s.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object).where(s.notna(), None)
    return s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))


def _datetime_to_seconds(s: pd.Series) -> pd.Series:
    """Typed timestamps as the text round trip reads them: wall time, whole seconds, ns."""
    if getattr(s.dt, "tz", None) is not None:
        s = s.dt.tz_localize(None)
    return s.dt.floor("s").astype("datetime64[ns]")


def parse_parquet_column(col: str, s: pd.Series, opts: ReadOptions) -> pd.Series:
    """Parse one typed Parquet column to its canonical type without a text round trip.

    Gives exactly what :func:`parse_text_column` gives on the column's text
    (:func:`_parquet_column_as_text`): ids held as whole floats or integers become
    integer text, numbers are cast to float, timestamps keep their wall time to the
    second. Other column types, and timestamps with a ``date_format``, take the text route.
    """
    is_int = pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s)
    is_text = pd.api.types.is_string_dtype(s) and not pd.api.types.is_object_dtype(s)
    if col in C.ID_COLUMNS:
        if pd.api.types.is_float_dtype(s) and _whole_floats(s):
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
            return _datetime_to_seconds(s)
    elif is_text:
        return _strip_text(s)
    return parse_text_column(col, _parquet_column_as_text(s), opts)


def parse_text_column(col: str, s: pd.Series, opts: ReadOptions) -> pd.Series:
    """Parse one text column to its canonical type (ids, numbers, dates, other text)."""
    if col in C.ID_COLUMNS:
        return normalize_ids(s)
    if col in C.NUMERIC_COLUMNS:
        return parse_numbers(s, opts.decimal, opts.thousands)
    if col in C.DATE_COLUMNS:
        return parse_dates(s, opts.dayfirst, opts.date_format)
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
    """The reference parser of :func:`parse_numbers` (pandas on cleaned text)."""
    t = s.astype("string").str.strip()
    if thousands:
        t = t.str.replace(thousands, "", regex=False)
    t = t.str.replace(r"[\s$€£¥]", "", regex=True)
    if decimal != ".":
        t = t.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(t, errors="coerce").astype("float64")


def parse_dates(s: pd.Series, dayfirst: bool = False, date_format: str | None = None) -> pd.Series:
    """Parse text to naive timestamps (UTC when the text has an offset); failures become NaT.

    With ``date_format`` that format is used. Without it, ISO 8601 (which allows
    ``2024-01-03`` beside ``2024-01-02 10:00``) and pandas' inference from the first
    value (honouring ``dayfirst``) are both tried and the one reading more values wins.
    """
    t = s.astype("string").str.strip()
    if date_format:
        out = _to_datetime(t, format=date_format)
    else:
        iso = _iso_dates(t)
        failures = int((iso.isna() & t.notna()).sum())
        out = iso
        if failures:
            inferred = _to_datetime(t, dayfirst=dayfirst)
            if int((inferred.isna() & t.notna()).sum()) < failures:
                out = inferred
    return out.astype("datetime64[ns]")


_YEAR, _MD = r"(1[7-9]|2[01])[0-9]{2}", r"(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
#: the common ISO shapes, read by pyarrow; pandas reads them alike (years 1700-2199:
#: inside the nanosecond range; hours, minutes and seconds in range by the pattern)
_ISO_FAST = (
    (rf"^{_YEAR}-{_MD} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$", "%Y-%m-%d %H:%M:%S"),
    (rf"^{_YEAR}-{_MD}$", "%Y-%m-%d"),
)


def _iso_dates(t: pd.Series) -> pd.Series:
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
        out[rest] = _to_datetime(t[rest], format="ISO8601").astype("datetime64[ns]").to_numpy()
    return pd.Series(out, index=t.index)


def _to_datetime(t: pd.Series, **kwargs) -> pd.Series:
    try:
        out = pd.to_datetime(t, errors="coerce", **kwargs)
    except (ValueError, TypeError):  # e.g. offsets mixed with naive values
        out = pd.to_datetime(t, errors="coerce", utc=True, **kwargs)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _hard_check_schema(table: str, df: pd.DataFrame, raw: pd.DataFrame,
                       rules: CleanRules, now: pd.Timestamp) -> pa.DataFrameSchema:
    """Checks whose failure stops the load (all columns checked at once, lazily)."""
    required, _ = C.TABLES[table]
    if table == "transactions":
        required = (*required, C.ORDER_ID)  # optional to map, but never empty once mapped
    cols: dict[str, pa.Column] = {}

    def add(col: str, check: pa.Check) -> None:
        # ignore_na=False: a missing value must reach the check, not be skipped
        check.ignore_na = False
        cols.setdefault(col, pa.Column(nullable=True, checks=[]))
        cols[col].checks.append(check)

    for col in df.columns:
        if col in C.NUMERIC_COLUMNS:
            r = raw[col]
            add(col, pa.Check(lambda s, r=r: s.notna() | r.isna(), name="is a number"))
        is_id = col in C.ID_COLUMNS and col != C.PRODUCT
        if col in required and not (is_id and col in (C.CUSTOMER_ID, C.REFERRER_ID, C.REFERRED_ID)) \
                and col not in C.DATE_COLUMNS:
            add(col, pa.Check(lambda s, r=raw[col]: r.notna(), name="is present"))
    if rules.missing_id == "error":
        for col in _id_columns(table, df):
            add(col, pa.Check(lambda s, r=raw[col]: r.notna(), name="is present"))
    if rules.unparsable_dates == "error":
        for col in _date_columns(table, df):
            add(col, pa.Check(lambda s: s.notna(), name="is a date"))
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


def _duplicate_key(rows: pd.DataFrame) -> pd.DataFrame:
    """Typed Parquet ``rows`` (all rows of the file) recoded so that two rows are equal exactly when their text is.

    The text of a row (:func:`_parquet_column_as_text`) is a function of its typed values,
    except that it merges values it prints alike: timestamps within the same second
    (and the same wall time in any zone), and ``0.0``/``-0.0`` in whole-float columns.
    Floats with fractions are compared bit for bit (``-0.0`` prints apart from ``0.0``),
    missing values all alike; other column types are compared on their text.
    """
    key = {}
    for col in rows.columns:
        s = rows[col]
        if pd.api.types.is_float_dtype(s):
            if _whole_floats(s):
                key[col] = s.astype("Int64")
            else:
                bits = s.to_numpy(dtype="float64").view("int64")
                key[col] = pd.Series(pd.array(bits, dtype="Int64"), index=s.index).mask(s.isna())
        elif pd.api.types.is_datetime64_any_dtype(s):
            key[col] = _datetime_to_seconds(s)
        elif (pd.api.types.is_integer_dtype(s) and not pd.api.types.is_bool_dtype(s)) \
                or isinstance(s.dtype, pd.StringDtype):
            key[col] = s
        else:
            key[col] = _parquet_column_as_text(s)
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
        lines.append(
            f"  - column {user!r}{'' if user == col else f' ({col})'}: {len(rows)} row(s) fail "
            f"'{check}': {', '.join(shown)}{more}"
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
    limit = spec.clean.max_unparsable_share
    if n == 0 or n_bad == 0 or n_bad / n <= limit:
        return
    user = spec.columns.get(parsed.name, parsed.name)
    lines = bad[bad].index[:5]
    examples = ", ".join(f"line {i} ({source.loc[i]!r})" for i in lines)
    fmt = spec.read.date_format
    raise DataError(
        f"{_where(table, path)}: column {user!r}: {n_bad:,} of {n:,} dates ({n_bad / n:.0%}) cannot be read "
        f"with {'date_format ' + repr(fmt) if fmt else 'automatic detection'} "
        f"(dayfirst: {str(spec.read.dayfirst).lower()}): {examples}. Check inputs.{table}.read.date_format "
        f"and dayfirst; more than clean.max_unparsable_share ({limit:.0%}) unreadable is treated as a "
        f"wrong format, not as bad rows.",
        [dict(file=str(path), column=user, check="dates readable", lines=[int(i) for i in lines])],
    )


def _date_columns(table: str, df: pd.DataFrame) -> list[str]:
    return [c for c in C.DATE_COLUMNS if c in df]


# ----------------------------------------------------------------------------- cleaning


def load_table(table: str, spec: TableInput, path: Path, ledger: Ledger,
               now: pd.Timestamp | None = None) -> tuple[pd.DataFrame, InputInfo]:
    """Read, validate and clean one table.

    Parameters
    ----------
    table : canonical table name (a key of :data:`lclib.io.columns.TABLES`).
    spec : its ``inputs.<table>`` block of the configuration.
    path : absolute path of the file.
    ledger : the run's ledger; this table's counts are added to it.
    now : the clock for the future-date rule (default: the current time).

    Returns
    -------
    (DataFrame, InputInfo)
        The canonical table (columns per :mod:`lclib.io.columns`, a fresh RangeIndex)
        and a description of the input.

    Raises
    ------
    DataError
        Naming the file, the column(s) and the source lines.
    """
    now = pd.Timestamp.now() if now is None else pd.Timestamp(now)
    rules = spec.clean
    raw_all, _ = read_raw(table, spec, path)
    raw = select_columns(table, spec, raw_all, path)
    ledger.open(table, str(path), len(raw))

    # -- parse (the source frame kept beside for messages: text for CSV, typed for Parquet)
    typed = _format(spec, path) == "parquet"
    parse = parse_parquet_column if typed else parse_text_column
    df = pd.DataFrame({col: parse(col, raw[col], spec.read) for col in raw.columns}, index=raw.index)

    try:
        _hard_check_schema(table, df, raw, rules, now).validate(df, lazy=True)
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
        rows = (_duplicate_key(raw_all) if typed else raw_all).loc[df.index]
        df = drop(df, _duplicated_first(rows, df), "duplicates")
    for col in _date_columns(table, df):
        _check_unparsable_share(table, path, spec, df[col], raw[col])
    del raw, raw_all
    for col in _date_columns(table, df):
        df = drop(df, df[col].isna(), "unparsable_dates")
    if rules.future_dates == "drop":
        for col in _date_columns(table, df):
            df = drop(df, df[col] > now, "future_dates")
    if table == "transactions":
        df = _clean_transactions(df, rules, drop)
    if table == "surveys":
        lo, hi = rules.score_range
        df = drop(df, ~df[C.SCORE].between(lo, hi), "out_of_range")
    if table == "customers":
        df = drop(df, df[C.CUSTOMER_ID].duplicated(keep="first"), "duplicate_key")

    ledger.check(table, len(df))
    df = _contract(table).validate(df.reset_index(drop=True), lazy=False)
    info = InputInfo(table=table, path=str(path), sha256=file_sha256(path), bytes=path.stat().st_size,
                     rows_in=ledger.tables[table].rows_in, rows_kept=len(df))
    dcols = _date_columns(table, df)
    if dcols and len(df):
        info.date_min = str(df[dcols[0]].min())
        info.date_max = str(df[dcols[0]].max())
    return df, info


def _dropper(ledger: Ledger, table: str):
    """``ledger.drop`` for ``table``, skipping the copy of the frame when nothing is dropped."""
    def drop(df: pd.DataFrame, mask: pd.Series, reason: str) -> pd.DataFrame:
        if not mask.fillna(False).astype(bool).to_numpy().any():
            return df
        return ledger.drop(table, df, mask, reason)
    return drop


def _clean_transactions(df: pd.DataFrame, rules: CleanRules, drop) -> pd.DataFrame:
    """Cancellations, non-product codes, derived amount and order id, non-positive prices.

    ``drop(df, mask, reason)`` removes rows and counts them (see :func:`_dropper`).
    """
    if rules.cancellations == "drop":
        cancel = pd.Series(False, index=df.index)
        if rules.cancellation_prefix and C.ORDER_ID in df:
            cancel |= df[C.ORDER_ID].str.startswith(rules.cancellation_prefix).fillna(False)
        for col in (C.QUANTITY, C.AMOUNT):
            if col in df:
                cancel |= df[col] < 0
        df = drop(df, cancel, "cancellations")
    if rules.non_product_codes and C.PRODUCT in df:
        codes = {c.strip() for c in rules.non_product_codes}
        df = drop(df, df[C.PRODUCT].isin(codes), "non_product_codes")
    if C.AMOUNT not in df:
        df = df.assign(**{C.AMOUNT: df[C.QUANTITY] * df[C.UNIT_PRICE]})
    if C.ORDER_ID not in df:
        # no order ids (e.g. CDNOW): the lines of one customer at one timestamp form one order
        stamp = df[C.TIMESTAMP].dt.strftime("%Y-%m-%dT%H:%M:%S").str.removesuffix("T00:00:00")
        df = df.assign(**{C.ORDER_ID: df[C.CUSTOMER_ID] + "@" + stamp})
    if rules.nonpositive_price == "drop":
        col = C.UNIT_PRICE if C.UNIT_PRICE in df else C.AMOUNT
        df = drop(df, df[col] <= 0, "nonpositive_price")
    return df


def _contract(table: str) -> pa.DataFrameSchema:
    """The canonical column contract every analysis module may rely on."""
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
    if table == "events":
        cols[C.CUSTOMER_ID] = pa.Column(nullable=True, required=False)
    return pa.DataFrameSchema(cols, strict=False)


# ----------------------------------------------------------------------------- dataset


def load_dataset(config: Config | str | Path | None = None, cache_dir: str | Path | None = None,
                 now: pd.Timestamp | None = None) -> Dataset:
    """Load every configured table (or read the runner's cleaned copy).

    Parameters
    ----------
    config : a :class:`~lclib.config.Config`, or a path to a YAML file (default ``lclib.yaml``).
    cache_dir : folder written by :meth:`Dataset.save`; when given and present the
        cleaned tables are read from it instead of the raw files (the runner loads
        once and every notebook reads this copy).
    now : clock for the future-date rule.

    Raises
    ------
    DataError
        For every table with problems, all reported at once.
    """
    cfg = config if isinstance(config, Config) else load_config(config)
    check_mappings(cfg.inputs)
    if cache_dir is not None and (Path(cache_dir) / "dataset.json").is_file():
        return Dataset.open(cache_dir, cfg)
    ledger = Ledger()
    tables: dict[str, pd.DataFrame] = {}
    infos: list[InputInfo] = []
    errors: list[DataError] = []
    for name in C.TABLES:
        spec = cfg.table(name)
        if spec is None:
            continue
        try:
            df, info = load_table(name, spec, cfg.resolve(spec.path), ledger, now=now)
        except DataError as e:
            errors.append(e)
            continue
        tables[name] = df
        infos.append(info)
    if errors:
        raise DataError("\n".join(str(e) for e in errors), [p for e in errors for p in e.problems])
    if len(tables["transactions"]) == 0:
        raise DataError(f"{cfg.resolve(cfg.inputs.transactions.path)} (inputs.transactions): "
                        "no transactions left after cleaning; see the ledger")
    return Dataset(cfg, tables, ledger, infos)
