"""The cleaning ledger: for every table, rows in = rows kept + rows dropped by reason.

Every row the loader removes is counted here under a named reason, with the
first few source line numbers so a user can look the rows up in their file.
The runner saves the ledger with each run and the reports show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

#: Human-readable names of the cleaning reasons, in the order they are applied.
REASONS: dict[str, str] = {
    "missing_id": "no customer id",
    "duplicates": "exact duplicate row",
    "unparsable_dates": "date could not be read",
    "out_of_range_dates": "date outside clean.date_range",
    "future_dates": "dated in the future",
    "missing_amount": "no amount (or quantity, unit price)",
    "nonfinite_amount": "infinite or implausibly large amount",
    "cancellations": "cancellation or return",
    "non_product_codes": "not a product (fee, postage...)",
    "zero_quantity": "zero quantity",
    "nonpositive_price": "zero or negative price",
    # clean.cancellations: net (applied after the rules above; README "Cleaning rules and the ledger")
    "cancellations_netted": "cancellation or return netted from the purchase it reverses",
    "cancellations_unmatched": "cancellation or return with no earlier purchase in the data to net from",
    "fully_refunded": "line of an order refunded in full",
    "out_of_range": "score out of range",
    "duplicate_key": "repeated key (first row kept)",
}

#: Ledger notes that explain reasons: note key -> its reasons (see :meth:`Ledger.to_frame`).
NOTE_REASONS: dict[str, tuple[str, ...]] = {
    "refunds": ("cancellations_netted", "cancellations_unmatched", "fully_refunded"),
}


@dataclass
class TableLedger:
    """Row accounting for one table."""

    table: str
    source: str
    rows_in: int
    dropped: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[int]] = field(default_factory=dict)
    #: what the loader changed without dropping rows (e.g. order ids made per customer): {key: sentence}
    notes: dict[str, str] = field(default_factory=dict)

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def rows_kept(self) -> int:
        return self.rows_in - self.rows_dropped


def keep_rows(frame: pd.DataFrame, keep: np.ndarray) -> pd.DataFrame:
    """``frame.loc[keep]`` (``keep``: a bool array), with its Arrow-backed text columns filtered by
    Arrow: pandas takes them row by row through an index array, five times slower on a million
    lines (a cleaning rule that drops rows copies the whole frame)."""
    mask = None
    columns = {}
    for i, name in enumerate(frame.columns):
        s = frame.iloc[:, i]
        if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow" and hasattr(s.array, "_pa_array"):
            mask = pa.array(keep) if mask is None else mask
            columns[i] = s.dtype.__from_arrow__(s.array._pa_array.filter(mask))
        else:
            columns[i] = s.array[keep]
    out = pd.DataFrame(columns, index=frame.index[keep], copy=False)
    out.columns = frame.columns
    out.attrs = dict(frame.attrs)
    return out


class Ledger:
    """Collects :class:`TableLedger` entries while tables are cleaned."""

    def __init__(self) -> None:
        self.tables: dict[str, TableLedger] = {}

    def open(self, table: str, source: str, rows_in: int) -> TableLedger:
        """Start accounting for ``table`` read from ``source`` with ``rows_in`` rows."""
        entry = TableLedger(table, source, int(rows_in))
        self.tables[table] = entry
        return entry

    def drop(self, table: str, frame: pd.DataFrame, mask: pd.Series, reason: str) -> pd.DataFrame:
        """Remove the rows of ``frame`` where ``mask`` is true and count them under ``reason``.

        ``frame``'s index holds source line numbers; the first five are kept as examples.
        """
        if reason not in REASONS:
            raise KeyError(f"unknown ledger reason {reason!r}")
        mask = mask.fillna(False).astype(bool)
        n = int(mask.sum())
        entry = self.tables[table]
        if n:
            entry.dropped[reason] = entry.dropped.get(reason, 0) + n
            entry.examples.setdefault(reason, []).extend(
                int(i) for i in frame.index[mask.to_numpy()][:5]
            )
        return keep_rows(frame, ~mask.to_numpy())

    def note(self, table: str, key: str, text: str) -> None:
        """Record a change to ``table`` that kept every row (shown beside the counts, saved in run.json)."""
        self.tables[table].notes[key] = text

    def check(self, table: str, rows_kept: int) -> None:
        """Assert the books balance: rows_in - dropped == rows actually kept."""
        entry = self.tables[table]
        if entry.rows_kept != rows_kept:  # pragma: no cover - guards the loader itself
            raise AssertionError(
                f"ledger for {table} does not balance: {entry.rows_in} in, "
                f"{entry.rows_dropped} dropped, {rows_kept} kept"
            )

    def to_frame(self) -> pd.DataFrame:
        """One row per (table, reason) with the dropped count, plus a 'kept' row per table.

        A note that explains a reason (:data:`NOTE_REASONS`: the amounts of refunds netted)
        is added in brackets to the description of the first of its reasons present.

        Columns: table, source, reason, description, rows, example_lines.
        """
        rows = []
        for t in self.tables.values():
            rows.append(dict(table=t.table, source=t.source, reason="rows_in",
                             description="rows read", rows=t.rows_in, example_lines=""))
            told = {next(r for r in reasons if r in t.dropped): t.notes[key]
                    for key, reasons in NOTE_REASONS.items() if key in t.notes and set(reasons) & set(t.dropped)}
            for reason, n in t.dropped.items():
                rows.append(dict(table=t.table, source=t.source, reason=reason,
                                 description=REASONS[reason] + (f" ({told[reason]})" if reason in told else ""),
                                 rows=-n,
                                 example_lines=", ".join(map(str, t.examples.get(reason, [])))))
            rows.append(dict(table=t.table, source=t.source, reason="rows_kept",
                             description="rows kept", rows=t.rows_kept, example_lines=""))
        return pd.DataFrame(rows, columns=["table", "source", "reason", "description", "rows", "example_lines"])

    def wide(self) -> pd.DataFrame:
        """One row per table: rows read, rows dropped per reason (one column each), rows kept.

        Reason columns use the readable descriptions of :data:`REASONS`; only reasons that
        dropped at least one row anywhere appear.
        """
        rows = []
        for t in self.tables.values():
            row = {"table": t.table, "rows read": t.rows_in}
            row.update({f"dropped: {REASONS[r]}": n for r, n in t.dropped.items()})
            row["rows kept"] = t.rows_kept
            rows.append(row)
        df = pd.DataFrame(rows).set_index("table")
        dropped = [c for c in df.columns if c.startswith("dropped: ")]
        df[dropped] = df[dropped].fillna(0).astype(int)
        return df[["rows read", *dropped, "rows kept"]]

    def summary(self) -> pd.DataFrame:
        """Per table: rows_in, rows_kept, rows_dropped and the share dropped."""
        df = pd.DataFrame(
            [dict(table=t.table, source=t.source, rows_in=t.rows_in, rows_kept=t.rows_kept,
                  rows_dropped=t.rows_dropped) for t in self.tables.values()],
            columns=["table", "source", "rows_in", "rows_kept", "rows_dropped"],
        )
        df["share_dropped"] = (df["rows_dropped"] / df["rows_in"].where(df["rows_in"] > 0)).fillna(0.0)
        return df

    def text(self) -> str:
        """The ledger in words, one block per table (what ``lclib validate`` prints).

        Examples
        --------
        >>> led = Ledger()
        >>> _ = led.open("transactions", "orders.csv", 10)
        >>> _ = led.drop("transactions", pd.DataFrame(index=[2, 3, 4]), pd.Series([True, False, True]), "missing_id")
        >>> print(led.text())
        transactions (orders.csv)
                 10  rows read
                 -2  no customer id (missing_id), e.g. lines 2, 4
                  8  rows kept (20.0 % dropped)
        """
        blocks = []
        for t in self.tables.values():
            lines = [f"{t.table} ({t.source})", f"{t.rows_in:>11,}  rows read"]
            for reason, n in t.dropped.items():
                examples = t.examples.get(reason, [])
                eg = f", e.g. line{'s' if len(examples) > 1 else ''} {', '.join(map(str, examples))}" if examples else ""
                lines.append(f"{-n:>11,}  {REASONS[reason]} ({reason}){eg}")
            share = t.rows_dropped / t.rows_in if t.rows_in else 0.0
            lines.append(f"{t.rows_kept:>11,}  rows kept ({share * 100:.1f} % dropped)")
            lines += [f"             note: {text}" for text in t.notes.values()]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks)

    def to_dict(self) -> dict:
        """JSON-ready form (saved as ``ledger`` in run.json); ``notes`` only where there are some."""
        return {
            t.table: {
                "source": t.source,
                "rows_in": t.rows_in,
                "rows_kept": t.rows_kept,
                "dropped": dict(t.dropped),
                "example_lines": {k: v for k, v in t.examples.items()},
                **({"notes": dict(t.notes)} if t.notes else {}),
            }
            for t in self.tables.values()
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Ledger":
        led = cls()
        for table, d in data.items():
            e = led.open(table, d["source"], d["rows_in"])
            e.dropped = {k: int(v) for k, v in d["dropped"].items()}
            e.examples = {k: list(v) for k, v in d.get("example_lines", {}).items()}
            e.notes = dict(d.get("notes", {}))
        return led
