"""Load the user's files into canonical tables, validated and cleaned with a ledger.

For each table configured under ``inputs`` in ``lclib.yaml``:

1. read the CSV or Parquet file with every column as text (ids stay text:
   ``17850.0`` becomes ``17850``, never a float);
2. check the mapped columns exist and rename them to the canonical names
   of :mod:`lclib.columns`;
3. parse numbers and dates; problems that cannot be cleaned (a text in a number
   column, a missing order id, any rule set to ``error``) are collected over all
   columns with a lazy pandera schema and raised together as :class:`DataError`,
   naming the file, the column and the source lines;
4. apply the cleaning rules in a fixed order, counting every dropped row in the
   :class:`~lclib.ledger.Ledger`: missing id -> exact duplicates -> unparsable
   dates -> future dates -> cancellations -> non-product codes -> non-positive
   prices -> scores out of range -> repeated keys (customers table);
5. check the result against the canonical contract (pandera).

Source line numbers: for CSV the header is line 1, so the first data row is
line 2; for Parquet, row 1 is the first row.
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
from pandera.errors import SchemaErrors

from lclib import columns as C
from lclib.config import CleanRules, Config, TableInput, load_config
from lclib.ledger import Ledger

NA_VALUES = ["", "NA", "N/A", "NULL", "null", "NaN", "nan", "None", "none", "#N/A"]
_FLOAT_ID = re.compile(r"^(-?\d+)\.0+$")
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
    """Read a file with every column as text.

    Returns the frame, indexed by source line number, and the offset used
    (2 for CSV, whose line 1 is the header; 1 for Parquet).
    """
    if not path.is_file():
        raise DataError(f"{_where(table, path)}: file not found")
    fmt = spec.format
    if fmt == "auto":
        fmt = "parquet" if path.suffix.lower() in (".parquet", ".pq") else "csv"
    if fmt == "parquet":
        try:
            df = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises many types
            raise DataError(f"{_where(table, path)}: cannot read as Parquet: {e}") from None
        df = df.apply(_parquet_column_as_text)
        offset = 1
    else:
        opts = spec.read
        try:
            df = pd.read_csv(
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
        df.columns = [str(c).strip() for c in df.columns]
        offset = 2 if opts.header else 1
    df.index = pd.RangeIndex(offset, offset + len(df), name="line")
    return df, offset


def _parquet_column_as_text(s: pd.Series) -> pd.Series:
    """Parquet columns arrive typed; turn them into text the way a CSV would read."""
    if pd.api.types.is_float_dtype(s):
        whole = s.dropna()
        if len(whole) and np.all(np.mod(whole.to_numpy(), 1) == 0):
            return s.astype("Int64").astype("string").astype(object).where(s.notna(), None)
    if pd.api.types.is_datetime64_any_dtype(s):
        return s.dt.strftime("%Y-%m-%d %H:%M:%S").astype(object).where(s.notna(), None)
    return s.astype(object).where(s.notna(), None).map(lambda v: v if v is None else str(v))


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
    out = raw[list(spec.columns.values())].copy()
    out.columns = list(spec.columns.keys())
    return out


# ----------------------------------------------------------------------------- parsing


def normalize_ids(s: pd.Series) -> pd.Series:
    """Ids as trimmed text; float-looking ids such as ``17850.0`` become ``17850``."""
    s = s.astype("string").str.strip()
    s = s.str.replace(_FLOAT_ID, r"\1", regex=True)
    return s.mask(s == "")


def parse_numbers(s: pd.Series, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """Parse text to float; currency symbols and spaces are ignored, failures become NaN."""
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
        iso = _to_datetime(t, format="ISO8601")
        failures = int((iso.isna() & t.notna()).sum())
        out = iso
        if failures:
            inferred = _to_datetime(t, dayfirst=dayfirst)
            if int((inferred.isna() & t.notna()).sum()) < failures:
                out = inferred
    return out.astype("datetime64[ns]")


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


def _format_failures(table: str, path: Path, spec: TableInput, raw: pd.DataFrame,
                     err: SchemaErrors) -> DataError:
    fc = err.failure_cases
    fc = fc[fc["index"].notna()]
    user_name = spec.columns
    lines, problems = [], []
    for (col, check), grp in fc.groupby(["column", "check"], sort=False):
        rows = grp["index"].astype(int).tolist()
        shown = []
        for line in rows[:_MAX_EXAMPLES]:
            v = raw.at[line, col] if col in raw.columns else None
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


def _id_columns(table: str, df: pd.DataFrame) -> list[str]:
    if table == "events":
        return []  # handled jointly: a row needs customer_id or anonymous_id
    if table == "referrals":
        return [c for c in (C.REFERRER_ID, C.REFERRED_ID) if c in df]
    return [C.CUSTOMER_ID] if C.CUSTOMER_ID in df else []


def _date_columns(table: str, df: pd.DataFrame) -> list[str]:
    return [c for c in C.DATE_COLUMNS if c in df]


# ----------------------------------------------------------------------------- cleaning


def load_table(table: str, spec: TableInput, path: Path, ledger: Ledger,
               now: pd.Timestamp | None = None) -> tuple[pd.DataFrame, InputInfo]:
    """Read, validate and clean one table.

    Parameters
    ----------
    table : canonical table name (a key of :data:`lclib.columns.TABLES`).
    spec : its ``inputs.<table>`` block of the configuration.
    path : absolute path of the file.
    ledger : the run's ledger; this table's counts are added to it.
    now : the clock for the future-date rule (default: the current time).

    Returns
    -------
    (DataFrame, InputInfo)
        The canonical table (columns per :mod:`lclib.columns`, a fresh RangeIndex)
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

    # -- parse (raw text kept beside for messages)
    df = pd.DataFrame(index=raw.index)
    for col in raw.columns:
        if col in C.ID_COLUMNS:
            df[col] = normalize_ids(raw[col])
        elif col in C.NUMERIC_COLUMNS:
            df[col] = parse_numbers(raw[col], spec.read.decimal, spec.read.thousands)
        elif col in C.DATE_COLUMNS:
            df[col] = parse_dates(raw[col], spec.read.dayfirst, spec.read.date_format)
        else:
            s = raw[col].astype("string").str.strip()
            df[col] = s.mask(s == "")

    try:
        _hard_check_schema(table, df, raw, rules, now).validate(df, lazy=True)
    except SchemaErrors as e:
        raise _format_failures(table, path, spec, raw, e) from None

    # -- cleaning, in the documented order
    ids = _id_columns(table, df)
    if table == "events":
        id_cols = [c for c in (C.CUSTOMER_ID, C.ANONYMOUS_ID) if c in df]
        df = ledger.drop(table, df, df[id_cols].isna().all(axis=1), "missing_id")
    elif ids:
        df = ledger.drop(table, df, df[ids].isna().any(axis=1), "missing_id")
    if rules.duplicates == "drop":
        # exact duplicates of the whole source row, not just the mapped columns
        dup = raw_all.loc[df.index].duplicated(keep="first")
        df = ledger.drop(table, df, dup, "duplicates")
    for col in _date_columns(table, df):
        df = ledger.drop(table, df, df[col].isna(), "unparsable_dates")
    if rules.future_dates == "drop":
        for col in _date_columns(table, df):
            df = ledger.drop(table, df, df[col] > now, "future_dates")
    if table == "transactions":
        df = _clean_transactions(df, rules, ledger)
    if table == "surveys":
        lo, hi = rules.score_range
        df = ledger.drop(table, df, ~df[C.SCORE].between(lo, hi), "out_of_range")
    if table == "customers":
        df = ledger.drop(table, df, df[C.CUSTOMER_ID].duplicated(keep="first"), "duplicate_key")

    ledger.check(table, len(df))
    df = _contract(table).validate(df.reset_index(drop=True), lazy=False)
    info = InputInfo(table=table, path=str(path), sha256=file_sha256(path), bytes=path.stat().st_size,
                     rows_in=ledger.tables[table].rows_in, rows_kept=len(df))
    dcols = _date_columns(table, df)
    if dcols and len(df):
        info.date_min = str(df[dcols[0]].min())
        info.date_max = str(df[dcols[0]].max())
    return df, info


def _clean_transactions(df: pd.DataFrame, rules: CleanRules, ledger: Ledger) -> pd.DataFrame:
    t = "transactions"
    if rules.cancellations == "drop":
        cancel = pd.Series(False, index=df.index)
        if rules.cancellation_prefix and C.ORDER_ID in df:
            cancel |= df[C.ORDER_ID].str.startswith(rules.cancellation_prefix).fillna(False)
        for col in (C.QUANTITY, C.AMOUNT):
            if col in df:
                cancel |= df[col] < 0
        df = ledger.drop(t, df, cancel, "cancellations")
    if rules.non_product_codes and C.PRODUCT in df:
        codes = {c.strip() for c in rules.non_product_codes}
        df = ledger.drop(t, df, df[C.PRODUCT].isin(codes), "non_product_codes")
    if C.AMOUNT not in df:
        df = df.assign(**{C.AMOUNT: df[C.QUANTITY] * df[C.UNIT_PRICE]})
    if C.ORDER_ID not in df:
        # no order ids (e.g. CDNOW): the lines of one customer at one timestamp form one order
        stamp = df[C.TIMESTAMP].dt.strftime("%Y-%m-%dT%H:%M:%S").str.removesuffix("T00:00:00")
        df = df.assign(**{C.ORDER_ID: df[C.CUSTOMER_ID] + "@" + stamp})
    if rules.nonpositive_price == "drop":
        col = C.UNIT_PRICE if C.UNIT_PRICE in df else C.AMOUNT
        df = ledger.drop(t, df, df[col] <= 0, "nonpositive_price")
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
