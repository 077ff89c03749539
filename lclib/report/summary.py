"""The summary a run index opens with: headline numbers with their change, and actions.

Reads what the notebooks recorded (``run.json`` ``metrics`` and ``recorded``) and the
catalogue :mod:`lclib.config.headlines`; computes nothing over customers. The texts built
here may hold names from the data (channels, stages, experiments): they are plain text, and
the index escapes them (jinja autoescape).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from lclib.config.headlines import (
    ACTIONS,
    COMMON_SETTINGS,
    HEADLINES,
    MAX_ACTIONS,
    Action,
    Headline,
    kind_of,
)
from lclib.report.record import format_value


def number(value: Any) -> float | None:
    """``value`` as a finite float, or None (text, null, NaN, a bool from a hostile file)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def format_number(value: Any, fmt: str, unit: str = "") -> str:
    """A headline value as readers want it: ``count`` 1,862 · ``money`` 132,719 EUR (cents under
    100) · ``percent`` 45.1 % · ``points`` +11.2 pts · ``ratio`` 4.83 · ``days`` 31 days;
    ``n/a`` when there is no number."""
    if fmt == "text":
        return "n/a" if value is None else str(value)
    v = number(value)
    if v is None:
        return "n/a" if value is None or not isinstance(value, str) else value
    if fmt == "count":
        return f"{v:,.0f}" if v.is_integer() or abs(v) >= 100 else f"{v:,.1f}"
    if fmt == "money":
        text = f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.2f}"
        return f"{text} {unit}".strip()
    if fmt == "percent":
        return f"{v:.1f} %"
    if fmt == "points":
        return f"{v:+.1f} pts"
    if fmt == "decimal":
        return f"{v:,.1f}"
    if fmt == "ratio":
        return f"{v:.2f}".rstrip("0").rstrip(".") if v.is_integer() else f"{v:.2f}"
    if fmt == "days":
        return f"{v:,.0f} days" if v.is_integer() else f"{v:,.1f} days"
    return format_value(v, unit)


def format_change(change: float | None, change_pct: float | None, fmt: str, unit: str = "") -> str:
    """The change of a headline: ``+1.2 pts`` for percentages, ``+120 EUR (+0.9 %)`` for money,
    ``+12 (+0.6 %)`` for counts, ``no change`` for 0, ``""`` when there is none."""
    if change is None:
        return ""
    if change == 0:
        return "no change"
    if fmt == "percent":
        return f"{change:+.1f} pts" if abs(change) >= 0.05 else f"{change:+.2g} pts"
    if fmt == "money":
        body = f"{change:+,.0f}" if abs(change) >= 100 else f"{change:+,.2f}"
        body = f"{body} {unit}".strip()
    elif fmt == "count":
        body = f"{change:+,.0f}" if float(change).is_integer() or abs(change) >= 100 else f"{change:+,.1f}"
    else:
        body = f"{change:+,.3g}"
    if change_pct is not None:
        body += f" ({change_pct:+.1f} %)"
    return body


def recorded_with_kinds(recorded: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Each notebook's recorded entries with their ``kind`` (headline, setting or detail)."""
    return {nb: [{**e, "kind": kind_of(nb, e.get("name", ""))} for e in entries]
            for nb, entries in recorded.items()}


def _definition(h: Headline, same_notebook: dict[str, Any], config: dict) -> str:
    """The catalogue definition with the notebook's own numbers (``{name}``) and configuration
    values (``{section.key}``) filled in (``n/a`` if missing)."""
    def fill(m: re.Match) -> str:
        key = m.group(1)
        v = number(_config_value(config, key) if "." in key else same_notebook.get(key))
        return "n/a" if v is None else format_number(v, "count")

    return re.sub(r"\{([a-z_0-9.]+)\}", fill, h.definition)


def headlines(metrics: dict[str, dict[str, Any]], recorded: dict[str, list[dict]],
              previous: dict | None, config: dict | None = None,
              settings_changed: list[str] | tuple[str, ...] = ()) -> list[dict]:
    """The headline numbers of a run, each compared with the previous successful run.

    Parameters
    ----------
    metrics : this run's ``run.json`` ``metrics`` (notebook -> name -> value).
    recorded : this run's recorded entries (notebook -> list of ``{name, value, label, unit}``).
    previous : the previous successful run's ``run.json`` (its ``metrics`` are read), or None.
    config : this run's ``run.json`` ``config`` (values some definitions name).
    settings_changed : dotted keys whose value differs from the previous run
        (:func:`lclib.report.history.compare`); a headline that depends on one of them
        (its ``settings`` or :data:`~lclib.config.headlines.COMMON_SETTINGS`) gets the
        assessment ``setting changed`` instead of better or worse, and ``changed_by`` lists them.

    Returns
    -------
    One dict per catalogue headline whose notebook ran, in catalogue order: ``notebook``,
    ``name``, ``label``, ``definition``, ``value``, ``unit``, ``fmt``, ``good`` (``up`` or
    ``down``), ``previous`` (null: first run, or not recorded then), ``change`` (value -
    previous; for percentages in points), ``change_pct`` (relative change in %, null for
    percentages and when previous is 0), ``assessment`` (``better``, ``worse``, ``unchanged``,
    ``setting changed`` or null), ``changed_by`` (the changed settings it depends on),
    ``previous_run_id`` and the texts ``value_text``, ``previous_text``,
    ``change_text``.
    """
    prev_metrics = (previous or {}).get("metrics") or {}
    prev_id = (previous or {}).get("run_id")
    out = []
    for h in HEADLINES:
        if h.notebook not in metrics:
            continue
        entry = next((e for e in recorded.get(h.notebook, []) if e.get("name") == h.name), {})
        unit = str(entry.get("unit") or "")
        fmt, definition = h.fmt, _definition(h, metrics[h.notebook], config or {})
        if fmt == "percent" and entry and unit != "%":  # configured as something else: say what it is
            fmt, definition = "other", str(entry.get("label") or h.label)
        raw = metrics[h.notebook].get(h.name)
        value = number(raw)
        prev_nb = prev_metrics.get(h.notebook) if isinstance(prev_metrics, dict) else None
        prev = number(prev_nb.get(h.name)) if isinstance(prev_nb, dict) else None
        change = change_pct = None
        if value is not None and prev is not None:
            change = round(value - prev, 6)
            if fmt != "percent" and prev != 0:
                change_pct = round(100 * change / abs(prev), 2)
        assessment = None
        prefixes = (*COMMON_SETTINGS, *h.settings)
        changed_by = [k for k in settings_changed if k.startswith(prefixes)] if prev is not None else []
        if change is not None:
            assessment = "unchanged" if change == 0 else "setting changed" if changed_by else (
                "better" if (change > 0) == (h.good == "up") else "worse")
        out.append({
            "notebook": h.notebook, "name": h.name, "label": h.label, "definition": definition,
            "value": value if value is not None else raw, "unit": unit, "fmt": fmt, "good": h.good,
            "previous": prev, "change": change, "change_pct": change_pct, "assessment": assessment,
            "changed_by": changed_by,
            "previous_run_id": prev_id,
            "value_text": format_number(raw, fmt, unit),
            "previous_text": "" if prev is None else format_number(prev, fmt, unit),
            "change_text": format_change(change, change_pct, fmt, unit),
        })
    return out


# ----------------------------------------------------------------------------- actions


def find_anchor(html: str, section: str) -> str | None:
    """The ``id`` of the first heading of an nbconvert page whose text starts with ``section``.

    nbconvert gives every Markdown heading an id made of its words joined by ``-``
    (``Which-stage-is-worth-improving-most?``); a heading renamed later simply loses the
    anchor (the link then opens the report at its top).
    """
    want = re.sub(r"\s+", "-", section.strip()).lower()
    for m in re.finditer(r'<h[1-6][^>]*\bid="([^"]+)"', html):
        if m.group(1).lower().startswith(want):
            return m.group(1)
    return None


def _config_value(config: dict, dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _fill(action: Action, metrics: dict, recorded: dict, config: dict) -> str | None:
    values = {}
    for key, (nb, name, fmt) in action.fields.items():
        if nb == "config":
            raw, unit = _config_value(config, name), ""
        else:
            raw = (metrics.get(nb) or {}).get(name)
            entry = next((e for e in recorded.get(nb, []) if e.get("name") == name), None)
            unit = str((entry or {}).get("unit") or "")
            if fmt == "label":
                raw = (entry or {}).get("label")
        if raw is None or (fmt not in ("text", "label") and number(raw) is None):
            return None
        if fmt.startswith("count:"):
            noun = fmt[6:] if number(raw) == 1 else fmt[6:] + "s"
            values[key] = f"{format_number(raw, 'count')} {noun}"
        else:
            values[key] = str(raw) if fmt == "label" else format_number(raw, fmt, unit)
    return action.text.format(**values)


def actions(metrics: dict[str, dict[str, Any]], recorded: dict[str, list[dict]], config: dict,
            folder: Path | None = None, exports: set[str] | None = None) -> list[dict]:
    """The recommended actions of a run: the first :data:`~lclib.config.headlines.MAX_ACTIONS`
    catalogue actions whose condition holds (its number above 0) and whose numbers were all
    recorded.

    Each is ``{key, title, text, notebook, html, anchor, export}``: ``html`` the business report
    to open, ``anchor`` its section id (null when ``folder`` has no such heading), ``export`` the
    CSV under ``exports/`` (null when the run did not write it; ``exports`` lists the files
    written, by default those in ``folder/exports``).
    """
    if exports is None and folder is not None and (folder / "exports").is_dir():
        exports = {p.name for p in (folder / "exports").iterdir()}
    pages: dict[str, str] = {}
    out = []
    for action in ACTIONS:
        if len(out) >= MAX_ACTIONS:
            break
        nb, name = action.when
        trigger = number((metrics.get(nb) or {}).get(name))
        if trigger is None or trigger <= 0 or action.notebook not in metrics:
            continue
        text = _fill(action, metrics, recorded, config)
        if text is None:
            continue
        html = f"{action.notebook}.html"
        anchor = None
        if folder is not None:
            if html not in pages:
                try:
                    pages[html] = (folder / html).read_text(encoding="utf-8")
                except OSError:
                    pages[html] = ""
            anchor = find_anchor(pages[html], action.section)
        export = action.export if action.export and exports is not None and action.export in exports else None
        out.append({"key": action.key, "title": action.title, "text": text, "notebook": action.notebook,
                    "html": html, "anchor": anchor, "export": export})
    return out
