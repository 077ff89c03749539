"""The column mapping of each input table checked against lclib's canonical tables.

The configuration maps canonical column names onto the user's own
(``inputs.<table>.columns``); this module knows which canonical columns each
table needs (:data:`lclib.io.columns.TABLES`) and refuses a mapping that lacks
them, before any file is read.
"""

from __future__ import annotations

import difflib

from lclib.config import ConfigError
from lclib.io import columns as C


def check_mappings(inputs) -> None:
    """Raise :class:`~lclib.config.ConfigError` naming the table whose mapping lacks a needed column.

    Parameters
    ----------
    inputs : lclib.config.Inputs
        The ``inputs`` section of a loaded configuration.
    """
    for name, (required, optional) in C.TABLES.items():
        table = getattr(inputs, name)
        if table is None or table.path is None:
            continue
        missing = [c for c in required if c not in table.columns]
        if missing:
            raise ConfigError(
                f"inputs.{name}.columns must map the required column(s) {missing} "
                f"(canonical name: your column name)"
            )
    tx = inputs.transactions.columns
    if C.AMOUNT not in tx and not (C.QUANTITY in tx and C.UNIT_PRICE in tx):
        known = {*C.TABLES["transactions"][0], *C.TABLES["transactions"][1]}
        near = [f"{k!r} (did you mean {m[0]!r}?)" for k in tx if k not in known
                for m in [difflib.get_close_matches(k, [C.AMOUNT, C.QUANTITY, C.UNIT_PRICE], n=1, cutoff=0.8)] if m]
        raise ConfigError(
            "inputs.transactions.columns must map 'amount', or both 'quantity' and "
            "'unit_price' (amount is then quantity x unit_price)"
            + (f"; found {', '.join(near)}" if near else "")
        )
    ev = inputs.events
    if ev is not None and ev.path is not None:
        if C.CUSTOMER_ID not in ev.columns and C.ANONYMOUS_ID not in ev.columns:
            raise ConfigError(
                "inputs.events.columns must map 'customer_id' or 'anonymous_id' (or both)"
            )
