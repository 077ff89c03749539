"""Headline numbers: recorded by notebooks, read back by the runner and tests.

A notebook calls :func:`record` for each headline number. The value is written
into the cell's output under its own MIME type (the pattern of
recommenders' ``store_metadata``), so the executed ``.ipynb`` carries it and
:func:`read_metrics` can collect it without re-running anything. The HTML
exports do not show these outputs; :func:`headline_table` shows them to readers.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

MIMETYPE = "application/vnd.lclib.metric+json"

_recorded: list[dict] = []


def _clean(value: Any) -> float | int | str | None:
    if value is None:
        return None
    if hasattr(value, "item"):  # numpy scalar
        value = value.item()
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    return str(value)


def record(name: str, value: Any, label: str | None = None, unit: str | None = None) -> Any:
    """Record one headline number of the current notebook.

    Parameters
    ----------
    name : machine name, ``snake_case``, unique within the notebook.
    value : a number (NaN and inf are recorded as null) or a short text.
    label : words for readers, e.g. "Customers who bought at least once".
    unit : e.g. "customers", "EUR", "%", "days".

    Returns
    -------
    The value, unchanged, so ``n = record("customers", n)`` reads naturally.
    """
    if not name.isidentifier():
        raise ValueError(f"metric name {name!r} must be a snake_case identifier")
    entry = {"name": name, "value": _clean(value), "label": label or name.replace("_", " "), "unit": unit or ""}
    _recorded[:] = [e for e in _recorded if e["name"] != name] + [entry]
    try:
        from IPython import get_ipython
        from IPython.display import display

        if get_ipython() is not None:
            display({MIMETYPE: entry}, raw=True)
    except ImportError:  # pragma: no cover - IPython ships with ipykernel
        pass
    return value


def recorded() -> list[dict]:
    """The entries recorded in this process (notebook kernel), in order."""
    return list(_recorded)


def read_metrics(notebook: str | Path) -> list[dict]:
    """Read the recorded entries back from an executed notebook file.

    Returns a list of ``{"name", "value", "label", "unit"}`` in recording order;
    a name recorded twice keeps its last value.
    """
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    found: dict[str, dict] = {}
    for cell in nb.get("cells", []):
        for out in cell.get("outputs", []):
            entry = out.get("data", {}).get(MIMETYPE)
            if entry is not None:
                found.pop(entry["name"], None)
                found[entry["name"]] = entry
    return list(found.values())


def format_value(value: Any, unit: str = "") -> str:
    """A number as a reader wants it: thousands separators, sensible decimals, unit."""
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if unit == "%":
        return f"{value:.1f} %"
    money = len(unit) == 3 and unit.isalpha() and unit.isupper()  # a currency code: cents matter
    if isinstance(value, int) or float(value).is_integer() and (abs(value) >= 100 or not money):
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:,.0f}"
    elif money:
        text = f"{value:,.2f}"
    elif abs(value) >= 10:
        text = f"{value:,.1f}"
    elif abs(value) >= 1:
        text = f"{value:,.2f}".rstrip("0").rstrip(".")
    else:
        text = f"{value:.3g}"
    if text in ("1", "-1"):
        unit = _singular(unit)
    return f"{text} {unit}".strip()


def _singular(unit: str) -> str:
    """``customers`` -> ``customer`` (for exactly one); units that are not plural words stay."""
    if unit == "people":
        return "person"
    if unit.endswith(("ches", "shes", "sses", "xes")):
        return unit[:-2]
    if unit.endswith("s") and not unit.endswith("ss") and unit[:-1].isalpha() and unit.islower():
        return unit[:-1]
    return unit


#: A headline with no value (too little data for it), as the headline tables and the index say it.
NOT_ENOUGH_DATA = "not enough data to say"


def headline_table(entries: list[dict] | None = None):
    """The recorded headline numbers as a small table for the end of a report.

    Returns a styled table (:func:`lclib.report.notebook.table`): headline labels
    left-aligned, values (number and unit) right-aligned, one header row. Settings the
    report echoed back (:data:`lclib.config.headlines.SETTINGS`, e.g. the at-risk threshold)
    are not rows: they are said under the table ("Settings used: ..."). A headline without a
    value reads :data:`NOT_ENOUGH_DATA` (the report's text says why), as on the index.
    """
    import html

    import pandas as pd

    from lclib.config.headlines import SETTINGS
    from lclib.report.notebook import table

    entries = recorded() if entries is None else entries
    settings = {name for _, name in SETTINGS}
    results = [e for e in entries if e.get("name") not in settings]
    echoed = [e for e in entries if e.get("name") in settings]
    frame = pd.DataFrame([{"Headline": e["label"], "Value": NOT_ENOUGH_DATA if e["value"] is None else
                           format_value(e["value"], e["unit"])} for e in results], columns=["Headline", "Value"])
    styled = table(frame, left=["Headline"]).set_properties(subset=["Value"], **{"text-align": "right"})
    if echoed:  # thresholds the report used are settings, not results: said under the table
        said = "; ".join(f"{e['label']}: {format_value(e['value'], e['unit'])}" for e in echoed)
        styled = styled.set_caption(html.escape(f"Settings used: {said}.")).set_table_styles(
            [{"selector": "caption", "props": "caption-side: bottom; text-align: left; padding-top: 0.4em; "
                                              "font-size: 0.9em; color: #555;"}], overwrite=False)
    return styled
