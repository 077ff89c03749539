"""The cleaned tables of one run: loaded from the user's files, or read from the run's cache.

:func:`load_dataset` loads every configured table (:func:`lclib.io.load.load_table`;
a transactions Parquet file larger than ``read.rows_per_part`` is cleaned out of core
in parts, :mod:`lclib.io.parts`). :class:`Dataset` holds the tables, the ledger and
the input descriptions; :meth:`Dataset.save` writes the cache every notebook of a run
reads, and :meth:`Dataset.open` reads it back, each table only when it is first used.
"""

from __future__ import annotations

import json
import shutil
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from lclib.config import Config, load_config
from lclib.io import columns as C
from lclib.io import parts
from lclib.io.ledger import Ledger
from lclib.io.load import DataError, InputInfo, _ledger_sentence, load_table
from lclib.io.mapping import check_mappings
from lclib.io.parts import TableFile


class Tables(dict):
    """Table name -> DataFrame; a table still on disk (:class:`~lclib.io.parts.TableFile`) is read when first used.

    Used like the plain dict it is (``tables["transactions"]``, ``.get``, ``.items()``,
    ``dict(tables)``, ``.copy()``: DataFrames every time); :meth:`rows` and :meth:`file`
    answer without reading the table.
    """

    def _read(self, name: str) -> pd.DataFrame:
        value = dict.__getitem__(self, name)
        if isinstance(value, TableFile):
            value = value.read()
            dict.__setitem__(self, name, value)
        return value

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self._read(name)

    def get(self, name: str, default=None):
        return self._read(name) if name in self else default

    def values(self):
        return [self._read(n) for n in self]

    def items(self):
        return [(n, self._read(n)) for n in self]

    def __iter__(self):
        # not dict's own iterator: dict(tables), {**tables} and copies then go through __getitem__
        return dict.__iter__(self)

    def copy(self) -> dict:
        return {n: self._read(n) for n in self}

    def pop(self, name: str, *default):
        if name not in self:
            return dict.pop(self, name, *default)
        value = self._read(name)
        dict.pop(self, name)
        return value

    def rows(self, name: str) -> int:
        """Number of rows of table ``name`` (not read when on disk)."""
        value = dict.__getitem__(self, name)
        return value.rows if isinstance(value, TableFile) else len(value)

    def file(self, name: str) -> TableFile | None:
        """The Parquet file of table ``name`` when it has not been read yet, else None."""
        value = dict.get(self, name)
        return value if isinstance(value, TableFile) else None


@dataclass
class Dataset:
    """The canonical tables of one run, with their ledger and input descriptions."""

    config: Config
    tables: dict[str, pd.DataFrame]
    ledger: Ledger
    inputs: list[InputInfo] = field(default_factory=list)

    def __setattr__(self, name, value) -> None:
        if name == "tables" and not isinstance(value, Tables):
            value = Tables(value)
        object.__setattr__(self, name, value)

    def has(self, name: str) -> bool:
        """True when table ``name`` was given and has at least one row."""
        return name in self.tables and self.tables.rows(name) > 0

    def source(self, name: str) -> pd.DataFrame | str | None:
        """Table ``name`` for an engine query: its Parquet path while it is still on disk, else the DataFrame.

        The run's cache keeps the cleaned transactions on disk; the engine functions
        (:mod:`lclib.engine.sql`, and :mod:`lclib.analysis` functions that take a source)
        read a path out of core, so a notebook that only aggregates never holds the
        order lines in pandas (at 100M lines they would not fit). None when the table
        was not given. Reading ``data.<name>`` afterwards still gives the DataFrame.
        """
        if name not in self.tables:
            return None
        on_disk = self.tables.file(name)
        return str(on_disk.path) if on_disk is not None else self.tables[name]

    def __getattr__(self, name: str) -> pd.DataFrame | None:
        if name in C.TABLES:
            return self.__dict__["tables"].get(name)
        raise AttributeError(name)

    # -- cache written by the runner so that every notebook reads the same cleaned data
    def save(self, folder: str | Path) -> Path:
        """Write the cleaned tables (Parquet), ledger and input info to ``folder``.

        A table still on disk is copied (or left where it is when already in ``folder``).
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.tables:
            target = folder / f"{name}.parquet"
            on_disk = self.tables.file(name)
            if on_disk is None:
                self.tables[name].to_parquet(target, index=False)
            elif on_disk.path.resolve() != target.resolve():
                shutil.copyfile(on_disk.path, target)
        meta = {"ledger": self.ledger.to_dict(), "inputs": [i.__dict__ for i in self.inputs]}
        (folder / "dataset.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def open(cls, folder: str | Path, config: Config) -> "Dataset":
        """Read a dataset written by :meth:`save` (each table when it is first used)."""
        folder = Path(folder)
        meta = json.loads((folder / "dataset.json").read_text(encoding="utf-8"))
        tables = {p.stem: TableFile(p, parts.parquet_rows(p)) for p in sorted(folder.glob("*.parquet"))}
        return cls(config, Tables(tables), Ledger.from_dict(meta["ledger"]),
                   [InputInfo(**i) for i in meta["inputs"]])


def load_dataset(config: Config | str | Path | None = None, cache_dir: str | Path | None = None,
                 now: pd.Timestamp | None = None, write_to: str | Path | None = None,
                 executor: Executor | None = None) -> Dataset:
    """Load every configured table (or read the runner's cleaned copy).

    Parameters
    ----------
    config : a :class:`~lclib.config.Config`, or a path to a YAML file (default ``lclib.yaml``).
    cache_dir : folder written by :meth:`Dataset.save`; when given and present the
        cleaned tables are read from it instead of the raw files (the runner loads
        once and every notebook reads this copy).
    now : clock for the future-date rule.
    write_to : the folder the dataset will be saved in (the runner's cache): a
        transactions file cleaned in parts is written there directly and stays on disk
        (a :class:`~lclib.io.parts.TableFile`) until a notebook reads it. None: it is
        read into memory like the other tables.
    executor : a process pool that cleans the parts of a transactions file read in parts
        side by side (:func:`~lclib.io.parts.load_transactions_in_parts`; ``lclib run``
        passes ``report.workers`` processes of its own). None: one part after the other.

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
        path = cfg.resolve(spec.path)
        try:
            if name == "transactions" and path.is_file() and parts.can_load_in_parts(spec, path):
                out = None if write_to is None else Path(write_to) / f"{name}.parquet"
                df, info = parts.load_transactions_in_parts(spec, path, ledger, now=now,
                                                            timezone=cfg.analysis.timezone, out=out,
                                                            executor=executor)
            else:
                df, info = load_table(name, spec, path, ledger, now=now, timezone=cfg.analysis.timezone)
        except DataError as e:
            errors.append(e)
            continue
        tables[name] = df
        infos.append(info)
    if errors:
        raise DataError("\n".join(str(e) for e in errors), [p for e in errors for p in e.problems])
    data = Dataset(cfg, Tables(tables), ledger, infos)
    if data.tables.rows("transactions") == 0:
        raise DataError(f"{cfg.resolve(cfg.inputs.transactions.path)} (inputs.transactions): "
                        f"no transactions left after cleaning: {_ledger_sentence(ledger.tables['transactions'])}")
    return data
