"""The bad-input corpus: each folder of tests/bad_inputs/ is one malformed export.

A case either expects a DataError whose message names the file, the column and
the rows (``expect.error``: fragments that must all appear), or a clean load
whose ledger counts exactly the rows dropped per reason (``expect.dropped``),
with rows read = rows kept + rows dropped. ``timezone`` sets ``analysis.timezone``;
``expect.notes`` lists fragments of the ledger's notes (changes that kept every row).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from lclib.io import columns as C
from lclib.config import TableInput
from lclib.io.load import DataError, load_table
from lclib.io.ledger import Ledger

CORPUS = Path(__file__).parent / "bad_inputs"
CASES = sorted(p for p in CORPUS.iterdir() if (p / "case.yaml").is_file())
NOW = pd.Timestamp("2026-01-01")


def _spec(case: dict) -> TableInput:
    required, _ = C.TABLES[case["table"]]
    columns = {c: c for c in required}
    if case["table"] == "transactions":
        columns.update({C.ORDER_ID: C.ORDER_ID, C.AMOUNT: C.AMOUNT})
    if case["table"] == "events":
        columns.update({C.ANONYMOUS_ID: C.ANONYMOUS_ID, C.CUSTOMER_ID: C.CUSTOMER_ID})
    columns.update(case.get("columns", {}))
    return TableInput.model_validate(
        {"path": case["path"], "columns": columns, "read": case.get("read", {}), "clean": case.get("clean", {})}
    )


def test_corpus_has_at_least_fifteen_cases():
    assert len(CASES) >= 15


@pytest.mark.parametrize("folder", CASES, ids=[p.name for p in CASES])
def test_bad_input_case(folder: Path):
    case = yaml.safe_load((folder / "case.yaml").read_text(encoding="utf-8"))
    spec, expect, ledger = _spec(case), case["expect"], Ledger()
    path = folder / case["path"]
    if "error" in expect:
        with pytest.raises(DataError) as err:
            load_table(case["table"], spec, path, ledger, now=NOW, timezone=case.get("timezone"))
        message = str(err.value)
        missing = [frag for frag in expect["error"] if frag not in message]
        assert not missing, f"message lacks {missing}:\n{message}"
        wrong = [frag for frag in expect.get("absent", []) if frag in message]
        assert not wrong, f"message should not say {wrong}:\n{message}"
        return
    df, info = load_table(case["table"], spec, path, ledger, now=NOW, timezone=case.get("timezone"))
    entry = ledger.tables[case["table"]]
    assert len(df) == expect["kept"] == info.rows_kept
    assert entry.dropped == expect["dropped"]
    assert entry.rows_in == len(df) + sum(entry.dropped.values())
    for reason, lines in expect.get("lines", {}).items():
        assert entry.examples[reason] == lines
    notes = " ".join(entry.notes.values())
    assert [n for n in expect.get("notes", []) if n not in notes] == [], notes
    assert bool(entry.notes) == bool(expect.get("notes")), notes
    for col, values in expect.get("values", {}).items():
        got = df[col]
        if col in C.DATE_COLUMNS:
            got = got.dt.strftime("%Y-%m-%d %H:%M:%S")
        assert got.tolist() == values
