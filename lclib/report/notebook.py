"""Helpers for the report notebooks: set-up, data access, sentences.

Notebooks stay thin: a parameters cell, then ``cfg, data = open_run(CONFIG, DATA_DIR, OVERRIDES)``
and one call per question.

The parameters of every report notebook (the cell tagged ``parameters``; papermill's
``--help-notebook`` lists them with their types)::

    CONFIG: str | None = None  # path to lclib.yaml (None: $LCLIB_CONFIG, else the repository's lclib.yaml)
    OVERRIDES: dict = {}  # dotted lclib.yaml keys -> values, applied like `lclib run -p key=value`
    DATA_DIR: str | None = None  # cleaned tables cached by lclib run (None or gone: load the files named in CONFIG)
    OUTPUT_DIR: str | None = None  # folder for CSV exports (None: no exports)

Nothing here changes a global setting of pandas or of the warnings module: tables are
formatted by :func:`table`, warnings are silenced only around the calls that raise them.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from lclib.config import REDACTED, SECRET_KEYS, Config, ConfigError, load_config, parse_override, redact_overrides
from lclib.config.settings import default_config_path
from lclib.io.dataset import Dataset, load_dataset
from lclib.io.memory import release_memory

#: Characters that make a CSV cell a formula in a spreadsheet (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA = r"^[=+\-@\t\r]"
#: ... unless the whole cell is a plain number (``-12``, ``+3.5``, ``1e-5``): that is no formula.
_PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"
_MARKDOWN_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;"})


def setup_notebook() -> None:
    """Plot style of the reports: seaborn's whitegrid theme (:data:`lclib.plots.base.REPORT_STYLE`), 96 dpi.

    Pandas display options and warning filters are left as they are: the reports format
    their tables with :func:`table` and numbers in their sentences themselves.
    """
    import matplotlib as mpl

    from lclib.plots.base import REPORT_STYLE

    mpl.rcParams.update(REPORT_STYLE)
    mpl.rcParams.update({"figure.dpi": 96, "savefig.dpi": 96, "figure.figsize": (9, 3.6)})


def _release_memory_after_cells() -> None:
    """In an IPython kernel: hand freed memory back to the system after every cell (once per kernel).

    A report builds and drops per-customer frames cell after cell; without this the
    kernel keeps the freed pages and the next cell's peak comes on top of them
    (:func:`lclib.io.memory.release_memory`).
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython ships with jupyterlab
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "_lclib_releases_memory", False):
        return
    shell.events.register("post_run_cell", lambda *_: release_memory())
    shell._lclib_releases_memory = True


def notebook_overrides(overrides: dict | str | list | None) -> dict[str, Any]:
    """A notebook's ``OVERRIDES`` as ``{dotted key: value}``.

    Accepts a dict (``{"clv.horizon_months": 24}``), the same as YAML text
    (``papermill -p OVERRIDES "{clv.horizon_months: 24}"``) or a list of the CLI's
    ``"key=value"`` items; None or empty means none. Raises ConfigError otherwise.
    """
    if overrides is None:
        return {}
    if isinstance(overrides, str):
        if not overrides.strip():
            return {}
        try:
            parsed = yaml.safe_load(overrides)
        except yaml.YAMLError as e:
            raise ConfigError(f"OVERRIDES {overrides!r} is not a YAML mapping of dotted keys to values ({e})") from None
        if not isinstance(parsed, dict):
            raise ConfigError(f"OVERRIDES {overrides!r} must be a mapping of dotted lclib.yaml keys to values, "
                              "e.g. {clv.horizon_months: 24}")
        overrides = parsed
    if isinstance(overrides, (list, tuple)):
        if not all(isinstance(item, str) for item in overrides):
            raise ConfigError("OVERRIDES as a list holds key=value texts, e.g. ['clv.horizon_months=24']")
        return dict(parse_override(item) for item in overrides)
    if not isinstance(overrides, dict):
        raise ConfigError(f"OVERRIDES must be a dict of dotted lclib.yaml keys to values, not {type(overrides).__name__}")
    bad = [k for k in overrides if not isinstance(k, str) or not k.strip()]
    if bad:
        raise ConfigError(f"OVERRIDES keys must be dotted lclib.yaml keys such as 'clv.horizon_months', not {bad[0]!r}")
    return {k.strip(): v for k, v in overrides.items()}


def notebook_parameters(config: str | Path | None, overrides: list[str] | None, data_dir: str | Path,
                        output_dir: str | Path) -> dict[str, Any]:
    """The parameters ``lclib run`` passes to every report notebook.

    ``CONFIG`` is the run's configuration file (absolute) and ``OVERRIDES`` its ``-p``
    overrides (secret values masked as in ``run.json``): both outlive the run, so an
    executed notebook of a published run re-runs as it is, from any folder. ``DATA_DIR``
    (the cleaned tables in the run's temporary folder) and ``OUTPUT_DIR`` (the exports of
    the folder being built) do not: once they are gone, :func:`open_run` loads the files
    named in CONFIG and :func:`export` writes nothing into a published run.
    """
    path = Path(config).expanduser().resolve() if config is not None else default_config_path()
    items = {}
    for given, shown in zip(overrides or [], redact_overrides(overrides)):
        key, value = parse_override(given)
        items[key] = _json_safe(value if shown == given else _masked(key, value))  # never a secret
    return {"CONFIG": str(path), "OVERRIDES": items, "DATA_DIR": str(data_dir), "OUTPUT_DIR": str(output_dir)}


def _json_safe(value: Any) -> Any:
    """An override value papermill can write into a notebook: dates and times as ISO text
    (the configuration parses them back), containers converted item by item."""
    import datetime as dt

    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _masked(key: str, value: Any) -> Any:
    """``value`` of the override ``key`` with the secrets in it (:data:`SECRET_KEYS`) masked:
    the whole value, or inside a section (``rfm={pseudonymise_key: ...}``) only the secret."""
    import copy

    if not isinstance(value, dict):
        return REDACTED
    value = copy.deepcopy(value)
    for dotted in SECRET_KEYS:
        if dotted.startswith(key + "."):
            *path, last = dotted[len(key) + 1:].split(".")
            node = value
            for part in path:
                node = node.get(part) if isinstance(node, dict) else None
            if isinstance(node, dict) and node.get(last) is not None and not str(node[last]).startswith("env:"):
                node[last] = REDACTED
    return value


_NOT_GIVEN: Any = object()


def open_run(config: str | Path | None = None, data_dir: str | Path | None = None,
             overrides: dict | str | list | None = _NOT_GIVEN) -> tuple[Config, Dataset]:
    """Load the configuration and the cleaned data a notebook works on.

    Works from any working directory (the repository root, ``notebooks/``, JupyterLab,
    a scheduler's folder): a relative ``config`` is taken from the current directory,
    None means :func:`lclib.config.settings.default_config_path` (the file named by the
    environment variable ``LCLIB_CONFIG``, else the repository's ``lclib.yaml``), and
    relative paths inside the file resolve against the file's folder.

    Parameters
    ----------
    config : path of the configuration (``lclib run`` passes the run's configuration file).
    data_dir : cleaned tables cached by ``lclib run`` (used as they are: overrides of
        ``inputs`` do not reload them); None, or a folder without them (the run's
        temporary folder is removed when the run ends), loads and cleans the files
        named in the configuration.
    overrides : ``{dotted key: value}`` applied on top of the file exactly like
        ``lclib run -p key=value`` (:func:`lclib.config.apply_overrides`); an unknown
        key or a bad value is a ConfigError naming it. See :func:`notebook_overrides`.
        Not given (a notebook written before ``OVERRIDES``, ``open_run(CONFIG, DATA_DIR)``):
        the ``OVERRIDES`` papermill injected into the calling notebook, if any, so that
        ``lclib run -p`` reaches such a notebook too.

    Changes no pandas option and no warning filter of the kernel (only the plot style,
    :func:`setup_notebook`), and sets no default engine: a notebook passes
    ``engine=cfg.analysis.engine`` to each call that queries. In an IPython kernel it
    registers, once, a ``post_run_cell`` hook that hands freed memory back to the system
    after every cell (:func:`lclib.io.memory.release_memory`; touches no data).
    """
    if overrides is _NOT_GIVEN:
        import sys

        overrides = sys._getframe(1).f_globals.get("OVERRIDES")  # noqa: SLF001 - the notebook's namespace
    cfg = load_config(config, notebook_overrides(overrides))
    setup_notebook()
    _release_memory_after_cells()
    # the engine is not set for the whole kernel: each notebook passes cfg.analysis.engine to the
    # calls that query (engine=...); Spark's session settings are the process's own by nature
    if cfg.analysis.engine == "spark":
        from lclib.engine import spark

        spark.configure(cfg.spark.master, cfg.spark.conf)
    cached = data_dir is not None and (Path(data_dir) / "dataset.json").is_file()
    data = load_dataset(cfg, cache_dir=data_dir)
    if cfg.privacy.pseudonymise and not cached:
        # run on its own (not by lclib run, whose cache already holds pseudonyms): the kernel reads the key
        from lclib.io.privacy import pseudonym_key, pseudonymise_dataset

        if cfg.rfm.pseudonymise_key == REDACTED:
            raise ConfigError("rfm.pseudonymise_key is masked (***) in these parameters: give the key through "
                              "privacy.key_env or privacy.key_file, or as OVERRIDES {'rfm.pseudonymise_key': 'env:NAME'}")
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
          left: list[str] | None = None, caption: str | None = None,
          names: dict | None = None, name_columns: list[str] | None = None):
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
    names : show channel, segment and state values in words: the run's ``cfg.display_names``
        (``{value: words}``; a value not in it and written in snake_case becomes words,
        ``paid_search`` -> ``Paid search``: :func:`lclib.analysis.wording.display_name`).
        Given (even empty), the index values (unless the index is the plain 0..n-1) and the values
        of ``name_columns`` are shown so; the data and the exports keep the raw values.
    name_columns : further columns holding channel, segment or state values (never ids: a
        pseudonym such as ``a3f0...`` would look like snake_case).

    Returns
    -------
    pandas.io.formats.style.Styler
        Display it (the last expression of a cell, or ``display(...)``).
    """
    plain_index = isinstance(df.index, pd.RangeIndex) and df.index.name is None
    if names is not None:
        df = _in_words(df, names, name_columns, plain_index)
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


def _in_words(df: pd.DataFrame, names: dict, columns: list[str] | None, plain_index: bool) -> pd.DataFrame:
    """``df`` with its index values (unless ``plain_index``) and the values of ``columns``
    as display names (:func:`lclib.analysis.wording.display_name`)."""
    from lclib.analysis.wording import display_name

    def words(values):
        return [display_name(v, names) for v in values]

    out = df.copy()
    if not plain_index:
        if isinstance(out.index, pd.MultiIndex):
            out.index = pd.MultiIndex.from_arrays([words(out.index.get_level_values(i)) for i in range(out.index.nlevels)],
                                                  names=out.index.names)
        else:
            out.index = pd.Index(words(out.index), name=out.index.name)
    for c in columns or []:
        if c in out.columns:
            s = out[c]
            out[c] = s.map(lambda v: display_name(v, names)) if not isinstance(s.dtype, pd.CategoricalDtype) \
                else s.astype(object).map(lambda v: display_name(v, names))
    return out


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

    if isinstance(s.dtype, pd.StringDtype) and hasattr(s.array, "__arrow_array__"):
        arr = pa.array(s.array)  # Arrow-backed text: matched where it lies, no Python string per cell
    else:
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


def _in_finished_build(folder: Path) -> bool:
    """Whether ``folder`` lies in a ``.building-<run-id>`` folder of ``lclib run`` that no longer exists."""
    for part in (folder, *folder.parents):
        if part.name.startswith(".building-"):
            return not part.is_dir()
    return False


def read_export(name: str, output_dir: str | Path | None) -> pd.DataFrame | None:
    """Read back ``<output_dir>/<name>.parquet`` written by an earlier report of the run.

    None when there is no output folder or the file is not there (the report that writes
    it found nothing to write, or did not run before this one): the caller says so.
    """
    if output_dir is None:
        return None
    path = Path(output_dir) / f"{name}.parquet"
    return pd.read_parquet(path) if path.is_file() else None


def export(df: pd.DataFrame, name: str, output_dir: str | Path | None, *, parquet: bool = False) -> Path | None:
    """Write ``df`` to ``<output_dir>/<name>.csv`` (nothing when output_dir is None, or lies in
    the build folder of a run that has finished since: see the end).

    With ``parquet=True`` also ``<name>.parquet`` (typed columns, the index levels as
    columns; text cells as they are: Parquet is read by code, not by a spreadsheet).

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

    An ``output_dir`` inside the folder of a run being built (``<out>/.building-<run-id>/``,
    what ``lclib run`` passes) that is gone writes nothing and returns None.
    """
    if output_dir is None or _in_finished_build(Path(output_dir)):
        # a run's build folder that is gone: that run was published (or failed) since, and a
        # re-run of one of its executed notebooks neither changes its exports nor revives the folder
        return None
    path = Path(output_dir) / f"{name}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    plain_index = isinstance(df.index, pd.RangeIndex) and df.index.name is None
    flat = df.reset_index(drop=plain_index)
    flat.columns = [str(c) for c in flat.columns]
    flat.attrs = {}  # report-side notes (thresholds, dates) are not part of the file
    if parquet:
        flat.to_parquet(path.with_suffix(".parquet"), index=False)
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
