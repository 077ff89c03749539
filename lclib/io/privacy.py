"""Pseudonymised ids: every customer and anonymous id replaced by a keyed hash.

With ``privacy.pseudonymise: true`` in ``lclib.yaml`` the runner calls
:func:`pseudonymise_dataset` right after the data are loaded and cleaned, before the
tables are cached for the notebooks, so every export and every page of a run only
ever holds pseudonyms. The key is read in the runner's process (:func:`pseudonym_key`:
the file ``privacy.key_file`` or else the environment variable named by
``privacy.key_env``) and passed on in memory; it is never written to a
configuration copy, ``run.json``, ``index.html``, a temporary folder or a log.

A pseudonym is the first 16 hex characters of ``HMAC-SHA256(key, str(id))``: the
same id gives the same pseudonym in every table and every run with the same key
(so joins and repeat runs line up), it cannot be reversed or recomputed without
the key, and another key gives other pseudonyms.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from lclib.config import Config, ConfigError
from lclib.io import columns as C

#: Columns replaced by pseudonyms in every canonical table that has them.
PSEUDONYMISED_COLUMNS = (C.CUSTOMER_ID, C.ANONYMOUS_ID, C.REFERRER_ID, C.REFERRED_ID)
#: Hex characters kept of each digest (64 bits: collisions negligible below billions of ids).
PSEUDONYM_LENGTH = 16

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def pseudonymise(ids: pd.Series, key: str, length: int = PSEUDONYM_LENGTH) -> pd.Series:
    """Replace identifiers by a keyed hash.

    Each value is written as ``str(value)``, UTF-8 encoded and hashed with
    HMAC-SHA256 under ``key``; the pseudonym is the first ``length`` hex
    characters of the digest. The mapping is deterministic for a given key,
    cannot be reversed or recomputed without the key, and differs between
    keys. Note ``1`` and ``"1"`` map to the same pseudonym. With the default
    16 hex characters (64 bits) collisions are negligible below billions of
    ids. One HMAC per distinct id (hashing has no vectorised form).

    Parameters
    ----------
    ids : Series
        Identifiers; missing values stay missing.
    key : str
        Secret key, non-empty. Keep it out of the output and version control.
    length : int, default 16
        Hex characters kept, 1..64.

    Returns
    -------
    Series
        Text pseudonyms with the index and name of ``ids`` (the dtype of ``ids``
        when it is a string dtype, else ``str``).
    """
    if not isinstance(key, str) or not key:
        raise ValueError("key must be a non-empty string")
    if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or not 1 <= length <= 64:
        raise ValueError(f"length must be an integer in 1..64, got {length!r}")
    codes, uniques = pd.factorize(ids, use_na_sentinel=True)
    mac = hmac.new(key.encode("utf-8"), digestmod=hashlib.sha256)

    def one(value: object) -> str:
        h = mac.copy()
        h.update(str(value).encode("utf-8"))
        return h.hexdigest()[:length]

    hashed = np.array([one(v) for v in uniques] + [None], dtype=object)  # code -1 (missing) -> None
    dtype = ids.dtype if isinstance(ids.dtype, pd.StringDtype) else "str"
    return pd.Series(hashed[codes], index=ids.index, name=ids.name, dtype=dtype)


def pseudonymise_tables(tables: Mapping[str, pd.DataFrame], key: str,
                        derived_order_ids: bool = False) -> dict[str, pd.DataFrame]:
    """The canonical tables with every id column of :data:`PSEUDONYMISED_COLUMNS` pseudonymised.

    Parameters
    ----------
    tables : table name -> canonical table (as loaded by :func:`lclib.io.dataset.load_dataset`).
    key : the secret key.
    derived_order_ids : True when the transactions had no order id and the loader
        built one from the customer id and the timestamp
        (``<customer_id>@<timestamp>``): those order ids are pseudonymised too.

    Returns
    -------
    dict of DataFrame
        New tables (the inputs are not modified); other columns unchanged.
    """
    out = {}
    for name, df in tables.items():
        cols = [c for c in PSEUDONYMISED_COLUMNS if c in df.columns]
        if name == "transactions" and derived_order_ids and C.ORDER_ID in df.columns:
            cols.append(C.ORDER_ID)
        out[name] = df.assign(**{c: pseudonymise(df[c], key) for c in cols}) if cols else df
    return out


def pseudonymise_dataset(data, key: str):
    """Replace the ids of a loaded :class:`~lclib.io.dataset.Dataset` in place; returns it.

    Order ids the loader derived from customer ids (no ``order_id`` mapped) are
    pseudonymised as well, so no table keeps a raw customer id.
    """
    derived = C.ORDER_ID not in data.config.inputs.transactions.columns
    on_disk = {name: data.tables.file(name) for name in data.tables if data.tables.file(name) is not None}
    for name, table_file in on_disk.items():  # a table cleaned in parts: rewritten batch by batch
        _pseudonymise_file(table_file.path, name, key, derived)
    in_memory = {name: data.tables[name] for name in data.tables if name not in on_disk}
    done = pseudonymise_tables(in_memory, key, derived_order_ids=derived)
    data.tables = {name: on_disk.get(name, done.get(name)) for name in data.tables}
    return data


def _pseudonymise_file(path, name: str, key: str, derived_order_ids: bool, batch_rows: int = 1_000_000) -> None:
    """Pseudonymise the id columns of a Parquet table in place, one batch of rows at a time.

    A value's pseudonym depends on the value and the key only, so batches give what the
    whole table would.
    """
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    schema = pf.schema_arrow
    tmp = f"{path}.pseudonymised"
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            for batch in pf.iter_batches(batch_size=batch_rows):
                frame = pa.Table.from_batches([batch]).to_pandas()
                frame = pseudonymise_tables({name: frame}, key, derived_order_ids=derived_order_ids)[name]
                writer.write_table(pa.Table.from_pandas(frame, schema=schema, preserve_index=False))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def pseudonym_key(cfg: Config, environ: Mapping[str, str] | None = None) -> str | None:
    """The pseudonymisation key of a configuration, or None when ids are kept.

    With ``privacy.pseudonymise: true`` the key is the content of
    ``privacy.key_file`` (when set; surrounding whitespace and the final newline
    are ignored) or else the value of the environment variable named by
    ``privacy.key_env`` (``LCLIB_PSEUDONYM_KEY``). The deprecated
    ``rfm.pseudonymise_key`` (a key, or ``env:NAME``) still works and takes
    precedence.

    Raises
    ------
    ConfigError
        When ids are to be pseudonymised but no key can be read; the message names
        ``privacy.key_env`` / ``privacy.key_file`` and never the key.
    """
    if not cfg.privacy.pseudonymise:
        return None
    environ = os.environ if environ is None else environ
    legacy = cfg.rfm.pseudonymise_key
    if legacy:
        warnings.warn("rfm.pseudonymise_key is deprecated: set privacy.pseudonymise: true and put the key in "
                      "the environment variable named by privacy.key_env or in privacy.key_file",
                      FutureWarning, stacklevel=2)
        return resolve_secret(legacy, environ)
    p = cfg.privacy
    if p.key_file is not None:
        path = cfg.resolve(p.key_file)
        try:
            key = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError(f"privacy.key_file: cannot read the pseudonymisation key from {path} "
                              f"({type(e).__name__})") from None
        if not key:
            raise ConfigError(f"privacy.key_file: {path} is empty; it must hold the pseudonymisation key")
        return key
    if not _ENV_NAME.match(p.key_env or ""):
        raise ConfigError("privacy.key_env must name an environment variable (letters, digits and _), "
                          "not hold the key itself")
    key = environ.get(p.key_env, "").strip()
    if not key:
        raise ConfigError(f"privacy.pseudonymise is true but the environment variable {p.key_env} "
                          "(privacy.key_env) is not set or empty; set it to the key, or point "
                          "privacy.key_file at a file holding the key")
    return key


def resolve_secret(value: str | None, environ: Mapping[str, str] | None = None) -> str | None:
    """A key given as itself or as ``"env:NAME"`` (the deprecated ``rfm.pseudonymise_key`` form).

    Parameters
    ----------
    value : str or None
        The configured value. None (or an empty string) means no key.
    environ : mapping, optional
        Environment to read (default ``os.environ``).

    Returns
    -------
    str or None
        The key, or None.

    Raises
    ------
    ConfigError (a ValueError)
        If ``"env:NAME"`` names an unset or empty variable.
    """
    if not value:
        return None
    if not value.startswith("env:"):
        return value
    name = value[len("env:"):].strip()
    secret = (os.environ if environ is None else environ).get(name, "")
    if not name or not secret:
        raise ConfigError(f"rfm.pseudonymise_key is {value!r} but the environment variable {name!r} is not set")
    return secret

