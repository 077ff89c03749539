"""Helpers for the report notebooks: set-up, data access, sentences.

Notebooks stay thin: a parameters cell, then ``cfg, data = open_run(CONFIG, DATA_DIR)``
and one call per question.
"""

from __future__ import annotations

import html
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from lclib.config import Config, load_config
from lclib.io.load import Dataset, load_dataset

#: Characters that make a CSV cell a formula in a spreadsheet (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = r"^[=+\-@\t\r]"
#: ... unless the whole cell is a plain number (``-12``, ``+3.5``, ``1e-5``): that is no formula.
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_MARKDOWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;"})


def setup_notebook() -> None:
    """Plot style and table display for reports (affects this kernel only)."""
    import matplotlib as mpl
    import seaborn as sns

    sns.set_theme(style="whitegrid", context="notebook")
    mpl.rcParams.update({"figure.dpi": 96, "savefig.dpi": 96, "figure.figsize": (9, 3.6)})
    pd.set_option("display.float_format", lambda v: f"{v:,.2f}")
    pd.set_option("display.max_columns", 30)
    pd.set_option("display.width", 140)
    # Library deprecation chatter is for maintainers, not report readers.
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=FutureWarning)


def open_run(config: str | Path | None, data_dir: str | Path | None = None) -> tuple[Config, Dataset]:
    """Load the configuration and the cleaned data a notebook works on.

    Parameters
    ----------
    config : path of the configuration (the runner passes the resolved copy).
    data_dir : cleaned tables cached by ``lclib run``; None loads from the raw files.
    """
    from lclib.engine import sql as engine

    setup_notebook()
    cfg = load_config(config)
    engine.set_default_engine(cfg.analysis.engine)
    if cfg.analysis.engine == "spark":
        from lclib.engine import spark

        spark.configure(cfg.spark.master, cfg.spark.conf)
    cached = data_dir is not None and (Path(data_dir) / "dataset.json").is_file()
    data = load_dataset(cfg, cache_dir=data_dir)
    if cfg.privacy.pseudonymise and not cached:
        # run on its own (not by lclib run, whose cache already holds pseudonyms): the kernel reads the key
        from lclib.io.privacy import pseudonym_key, pseudonymise_dataset

        pseudonymise_dataset(data, pseudonym_key(cfg))
    return cfg, data


def escape_markdown(text: str) -> str:
    """``text`` as Markdown that shows every character as written and makes no HTML, link or image.

    ``&``, ``<`` and ``>`` become HTML entities (no raw HTML tag or autolink can form),
    ``[`` and ``]`` too (no ``[text](url)`` link, ``![alt](src)`` image or reference),
    and the ``:`` of ``://`` and the ``.`` of ``www.`` (no bare URL is turned into a link).
    Markdown emphasis (``**bold**``, ``*italic*``, `` `code` ``) keeps working, so a report
    sentence can be built with an f-string from data and still be safe to display; only
    inside a code span do the entities show as written.
    """
    text = str(text).translate(_MARKDOWN_ESCAPES)
    text = re.sub(r":(?=//)", "&#58;", text)
    return re.sub(r"(?i)\b(www)\.", r"\1&#46;", text)


def say(text: str) -> None:
    """Show a sentence of the report as Markdown (numbers already formatted).

    The text is escaped with :func:`escape_markdown` first: names from the data or the
    configuration (channels, campaigns, ids, the currency label) are shown as text and
    can never add HTML, a link or an image to the published report. Write emphasis in
    Markdown (``**...**``), never in HTML.
    """
    from IPython.display import Markdown, display

    display(Markdown(escape_markdown(text)))


def _is_text(column: pd.Series) -> bool:
    """Words, not numbers: a text column with a run of two letters in some value."""
    if not (pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column)
            or isinstance(column.dtype, pd.CategoricalDtype)):
        return False
    return bool(column.dropna().astype(str).str.contains(r"[^\W\d_]{2}", regex=True).any())


def table(df: pd.DataFrame, formats: dict | str | None = None, *, na_rep: str = "-",
          left: list[str] | None = None, caption: str | None = None):
    """``df`` styled as a report table: one header row, text left-aligned, numbers formatted.

    Named index levels become the first columns, headed by their names (an unnamed
    default 0..n-1 index is left out), so no header row holds only an index name.
    Text columns (and those in ``left``) are left-aligned, headers included; numbers,
    also numbers already formatted as text ("5,271", "51.2%", "1.23x"), keep the
    right alignment of the report's CSS.

    Parameters
    ----------
    df : the table, with reader-facing column and index names.
    formats : format string or {column: format} for :meth:`pandas.io.formats.style.Styler.format`.
    na_rep : shown for missing values.
    left : further columns to left-align.
    caption : optional table caption.

    Returns
    -------
    pandas.io.formats.style.Styler
        Display it (the last expression of a cell, or ``display(...)``).
    """
    plain_index = isinstance(df.index, pd.RangeIndex) and df.index.name is None
    flat = _as_text_where_not_scalar(df.reset_index(drop=plain_index))
    text = [c for c in flat.columns if c in (left or []) or _is_text(flat[c])]
    # every text value and header is HTML-escaped (Styler does not by default): names from the
    # data can never add markup to a report; a format applies after the escaping
    styler = (flat.style.hide(axis="index").format(None, na_rep=na_rep, escape="html")
              .format_index(escape="html", axis="columns"))
    if formats is not None:
        styler = styler.format(formats, na_rep=na_rep, escape="html")
    if text:
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
        positions = [flat.columns.get_loc(c) for c in text]
        styler = styler.set_table_styles([{"selector": f"th.col_heading.col{i}", "props": "text-align: left;"}
                                          for i in positions], overwrite=False)
    if caption:
        styler = styler.set_caption(html.escape(caption))
    return styler


def _as_text_where_not_scalar(frame: pd.DataFrame) -> pd.DataFrame:
    """Values of object columns that are neither text, numbers nor dates (lists, tuples...)
    as their text, so that the table's HTML escaping applies to them too."""
    import datetime as dt
    import numbers

    plain = (str, numbers.Number, dt.date, dt.timedelta, pd.Timestamp, pd.Timedelta, pd.Period, type(None))
    out = frame
    for i, column in enumerate(frame.columns):
        s = frame.iloc[:, i]
        if s.dtype == object and not s.map(lambda v: isinstance(v, plain) or v is pd.NA).all():
            if out is frame:
                out = frame.copy()
            out.isetitem(i, s.map(lambda v: v if isinstance(v, plain) or v is pd.NA else str(v)))
    return out


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with every text cell (and column name) that a spreadsheet would read as a formula
    prefixed by an apostrophe ``'``.

    A text value starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return
    (:data:`FORMULA_PREFIXES`, OWASP's CSV-injection list) becomes ``'=...``; a text that is
    a plain number (``-12``, ``+3.5``, ``1e-5``) is no formula and stays. Number, boolean and
    date columns are never changed (``-3.5`` in a number column stays a number) and text
    columns stay text. Vectorised (pyarrow regex): only the cells that need it are rewritten.
    Returns ``df`` itself when nothing needs changing, else a copy.
    """
    out = df
    for i, column in enumerate(df.columns):
        s = df.iloc[:, i]
        if isinstance(s.dtype, pd.CategoricalDtype):
            if not _formula_cells(pd.Series(s.cat.categories)).any():
                continue
            s = s.astype(object)
        flagged = _formula_cells(s)
        if flagged.any():
            values = s.to_numpy(dtype=object, copy=True)
            values[flagged] = ["'" + v for v in values[flagged]]
            if out is df:
                out = df.copy()
            out.isetitem(i, pd.Series(values, index=s.index, name=s.name,
                                      dtype=s.dtype if isinstance(s.dtype, pd.StringDtype) else object))
    names = [("'" + c) if isinstance(c, str) and _formula_cells(pd.Series([c], dtype=object))[0] else c
             for c in out.columns]
    if names != list(out.columns):
        out = out.copy() if out is df else out
        out.columns = names
    return out


def _formula_cells(s: pd.Series) -> np.ndarray:
    """Boolean mask: text cells of ``s`` that a spreadsheet would run as a formula."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = pd.api.types.infer_dtype(s, skipna=True)
    if kind == "string":
        is_text = None
    elif kind.startswith("mixed"):  # text among numbers or other objects: only the text counts
        is_text = np.fromiter((isinstance(v, str) for v in s.to_numpy(dtype=object)), bool, len(s))
        if not is_text.any():
            return np.zeros(len(s), dtype=bool)
    else:
        return np.zeros(len(s), dtype=bool)
    values = s.to_numpy(dtype=object) if is_text is None else np.where(is_text, s.to_numpy(dtype=object), None)
    arr = pa.array(values, type=pa.large_string(), from_pandas=True)
    formula = pc.and_(pc.match_substring_regex(arr, _FORMULA),
                      pc.invert(pc.match_substring_regex(arr, _PLAIN_NUMBER)))
    return formula.fill_null(False).to_numpy(zero_copy_only=False)


def export(df: pd.DataFrame, name: str, output_dir: str | Path | None) -> Path | None:
    """Write ``df`` to ``<output_dir>/<name>.csv`` (nothing when output_dir is None).

    CSV with a header row, comma-separated, ``"``-quoted where needed, UTF-8; named
    index levels become the first columns (an unnamed default 0..n-1 index is left out);
    missing values are empty fields, booleans ``true``/``false``, timestamps
    ``YYYY-MM-DD HH:MM:SS[.ffffff]``. Written by DuckDB (an 800k-customer table in about
    1 s instead of 7 s with pandas); a frame DuckDB cannot take (exotic column types)
    is written by pandas.

    Formula injection: a text cell (or column name) starting with ``=``, ``+``, ``-``, ``@``,
    a tab or a carriage return gets a leading apostrophe (``'=HYPERLINK(...)``), so a
    spreadsheet shows it as text instead of running it (:func:`neutralise_formulas`).
    Numbers stay numbers (``-3.5`` in a number column is written as it is), a text that is
    a plain number (``-12``) is left as it is, and ids stay text.
    """
    if output_dir is None:
        return None
    path = Path(output_dir) / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    plain_index = isinstance(df.index, pd.RangeIndex) and df.index.name is None
    flat = df.reset_index(drop=plain_index)
    flat.columns = [str(c) for c in flat.columns]
    flat = neutralise_formulas(flat)
    try:
        from lclib.engine import sql as engine

        con = engine.connection()
        con.register("lclib_export", flat)
        try:
            quoted = str(path).replace("'", "''")
            con.execute(f"COPY lclib_export TO '{quoted}' (HEADER, DELIMITER ',')")
        finally:
            con.unregister("lclib_export")
    except Exception:  # noqa: BLE001 - types DuckDB does not take: pandas writes them
        flat.to_csv(path, index=False)
    return path
