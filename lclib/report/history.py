"""Run over run: the past runs of a reports folder, the previous successful one, what changed.

A reports folder (``lclib run --out DIR``) holds published runs ``DIR/<run-id>/`` (each with
``run.json``) and failed ones ``DIR/failed/<run-id>/`` (``error.txt``; ``run.json`` with
``status``, ``started``, ``seconds`` and ``error`` since lclib wrote one there). This module
only reads them: :func:`list_runs` (``lclib runs``), :func:`previous_successful` (what a new
run compares itself with), :func:`compare` (are the inputs and settings the same?) and
:func:`trend_png` (the small multiples of the headline numbers over the runs).

A run folder is never trusted: an unreadable or malformed ``run.json`` is skipped (or listed
as ``unreadable``), never fatal, and texts from it are only ever shown escaped.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lclib.config.headlines import HEADLINES
from lclib.report.summary import format_number, number

#: A run folder's name: ``YYYYMMDD-HHMMSS`` and four hex digits (older lclib: nothing, or ``-2``).
RUN_ID = re.compile(r"^(\d{8}-\d{6})(-[0-9a-f]{4}|-\d{1,3})?$")

#: Configuration keys that do not change a number: where the reports go and how they run.
#: Input paths are compared by the files' SHA-256 instead.
_NOT_SETTINGS = re.compile(r"^(report\.|spark\.|inputs\.[a-z_]+\.path$|analysis\.engine$)")


@dataclass
class RunInfo:
    """One run of a reports folder."""

    run_id: str
    status: str  # ok | failed | invalid | storage | unreadable
    folder: Path
    started: dt.datetime | None = None
    seconds: float | None = None
    message: str = ""
    record: dict = field(default_factory=dict, repr=False)

    @property
    def published(self) -> bool:
        return self.status == "ok" and self.folder.parent.name != "failed"


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _started(run_id: str, record: dict) -> dt.datetime | None:
    text = record.get("started")
    if isinstance(text, str):
        try:
            return dt.datetime.fromisoformat(text)
        except ValueError:
            pass
    try:
        return dt.datetime.strptime(run_id[:15], "%Y%m%d-%H%M%S")
    except ValueError:
        return None


def _first_line(text: str, limit: int = 160) -> str:
    line = next((s.strip() for s in text.splitlines() if s.strip()), "")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _run_info(folder: Path, failed: bool) -> RunInfo:
    record = _read_json(folder / "run.json")
    error = ""
    if failed:
        try:
            error = (folder / "error.txt").read_text(encoding="utf-8", errors="replace")
        except OSError:
            pass
    if record is None:
        status = "failed" if failed else "unreadable"
        record = {}
    else:
        status = str(record.get("status") or ("failed" if failed else "ok"))
        if failed and status == "ok":  # a published run.json never lands in failed/
            status = "failed"
    message = str(record.get("error") or "") or _first_line(error)
    return RunInfo(folder.name, status, folder, _started(folder.name, record), number(record.get("seconds")),
                   _first_line(message), record)


def _order(r: RunInfo) -> tuple:
    """Runs in the order they started (to the second: the run id's time), then ended."""
    return (r.run_id[:15], r.seconds or 0.0, r.run_id)


def list_runs(out_root: str | Path) -> list[RunInfo]:
    """Every run of a reports folder, published and failed, newest first (by start, then end)."""
    out_root = Path(out_root)
    runs = []
    for parent, failed in ((out_root, False), (out_root / "failed", True)):
        try:
            entries = list(parent.iterdir())
        except OSError:
            continue
        for p in entries:
            if RUN_ID.match(p.name) and p.is_dir() and not p.is_symlink():
                runs.append(_run_info(p, failed))
    return sorted(runs, key=_order, reverse=True)


def successful_runs(out_root: str | Path, before: str | None = None, limit: int | None = None) -> list[RunInfo]:
    """Published runs whose ``run.json`` says ``ok``, oldest first: only those other than run
    ``before`` that started no later (to the second) when given, only the newest ``limit`` when
    given (and only the ``run.json`` files needed are read)."""
    try:
        names = sorted((p.name for p in Path(out_root).iterdir() if RUN_ID.match(p.name)), reverse=True)
    except OSError:
        return []
    runs: list[RunInfo] = []
    for name in names:
        # past the limit, read on only through runs started in the same second as the last one
        if limit is not None and len(runs) >= limit and name[:15] != runs[-1].run_id[:15]:
            break
        folder = Path(out_root) / name
        if before is not None and (name == before or name[:15] > before[:15]):
            continue
        if folder.is_symlink() or not folder.is_dir():
            continue
        info = _run_info(folder, failed=False)
        if info.published:
            runs.append(info)
    runs.sort(key=_order)
    return runs if limit is None else runs[-limit:]


def previous_successful(out_root: str | Path, run_id: str) -> RunInfo | None:
    """The newest published run started before ``run_id`` (failed runs never count)."""
    runs = successful_runs(out_root, before=run_id, limit=1)
    return runs[-1] if runs else None


# ----------------------------------------------------------------------------- comparison


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: data}


def _inputs(record: dict) -> dict[str, str]:
    found = {}
    for i in record.get("inputs") or []:
        if isinstance(i, dict) and i.get("table"):
            found[str(i["table"])] = str(i.get("sha256") or "")
    return found


def _short(value: Any, width: int = 40) -> str:
    """A setting's value for a sentence: its text, cut to ``width`` characters."""
    text = "none" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def compare(previous: dict | None, record: dict) -> dict:
    """Whether this run read the same data with the same settings as the previous one.

    Returns ``{previous_run, previous_started, inputs_changed, settings_changed, note}``:
    ``inputs_changed`` the tables whose file differs (SHA-256; a table added or removed
    counts), ``settings_changed`` the dotted configuration keys whose value differs (where the
    reports go, the engine and input paths excluded: the files are compared by content; keys
    only one of the runs has, from another lclib version, too), ``note`` one or two sentences
    for readers.
    """
    if not previous:
        return {"previous_run": None, "previous_started": None, "inputs_changed": [], "settings_changed": [],
                "note": "First successful run in this folder: there is nothing to compare with yet."}
    before, now = _inputs(previous), _inputs(record)
    inputs_changed = sorted(t for t in set(before) | set(now) if before.get(t) != now.get(t))
    old, new = _flatten(previous.get("config") or {}), _flatten(record.get("config") or {})
    # a key only one run has came with another lclib version (every key has a default): not a setting changed
    settings_changed = sorted(k for k in set(old) & set(new) if not _NOT_SETTINGS.match(k) and old[k] != new[k])
    prev_id = str(previous.get("run_id") or "")
    started = str(previous.get("started") or "")
    when = f"the previous run ({prev_id}, started {started.replace('T', ' ')})"
    parts = []
    if inputs_changed:
        parts.append(f"The input files differ from {when}: {', '.join(inputs_changed)}; the changes below "
                     "reflect the new data.")
    if settings_changed:
        shown = ", ".join(f"{k} ({_short(old[k])} \u2192 {_short(new[k])})" for k in settings_changed[:6]) + (
            f" and {len(settings_changed) - 6} more" if len(settings_changed) > 6 else "")
        parts.append(f"Settings differ from {'it' if inputs_changed else when}: {shown}; a number that depends "
                     "on a changed setting is marked not comparable, and other changes may come from the settings "
                     "too, not from the business.")
    if not parts:
        parts.append(f"Same input files and settings as {when}: the numbers are expected to be the same.")
    versions = (previous.get("lclib_version"), record.get("lclib_version"))
    if versions[0] and versions[1] and versions[0] != versions[1]:
        parts.append(f"That run was made with lclib {versions[0]}, this one with {versions[1]}.")
    return {"previous_run": prev_id or None, "previous_started": started or None,
            "inputs_changed": inputs_changed, "settings_changed": settings_changed, "note": " ".join(parts)}


# ----------------------------------------------------------------------------- listing


def _cell(value: Any, fmt: str, unit: str) -> str:
    if value is None:
        return "-"
    text = format_number(value, fmt, "")
    return text.replace(" %", "%")


def _plain(text: str) -> str:
    """Text for a terminal: control characters (escape sequences from a hostile file) shown as ``?``."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f]", "?", text)


def runs_table(out_root: str | Path) -> str:
    """``lclib runs``: one line per run, newest first: run id, status, start, seconds and the
    headline numbers (a failed run: the first line of its error instead)."""
    runs = list_runs(out_root)
    if not runs:
        return f"no runs in {out_root}"
    heads = [(h, h.short) for h in HEADLINES]
    rows = []
    for r in runs:
        metrics = r.record.get("metrics") if isinstance(r.record.get("metrics"), dict) else {}
        row = [r.run_id, r.status, f"{r.started:%Y-%m-%d %H:%M:%S}" if r.started else "-",
               "-" if r.seconds is None else f"{r.seconds:.0f}"]
        if r.published:
            for h, _ in heads:
                nb = metrics.get(h.notebook)
                row.append(_cell(number(nb.get(h.name)) if isinstance(nb, dict) else None, h.fmt, ""))
        else:
            row.append(r.message or "-")
        rows.append([_plain(c) for c in row])
    header = ["run", "status", "started", "seconds"] + [s for _, s in heads]
    ncols = len(header)
    widths = [max([len(header[i])] + [len(row[i]) for row in rows if len(row) == ncols and i < len(row)])
              for i in range(ncols)]
    numeric = set(range(3, ncols))

    def line(row: list[str]) -> str:
        if len(row) < ncols:  # a failed run: its message runs across the number columns
            head = "  ".join(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(row[:4]))
            return f"{head}  {row[4]}".rstrip()
        return "  ".join(c.rjust(widths[i]) if i in numeric else c.ljust(widths[i]) for i, c in enumerate(row)).rstrip()

    return "\n".join([line(header)] + [line(r) for r in rows])


# ----------------------------------------------------------------------------- trend chart

#: At most this many runs (the newest) are drawn.
TREND_RUNS = 12

def _mpl_text(text: str) -> str:
    """Text matplotlib draws as it is: ``$`` (a currency such as ``US$``) would start mathtext."""
    return _plain(text).replace("$", r"\$")


def trend_png(records: list[dict], headlines: list[dict]) -> str | None:
    """Small multiples of the headline numbers over runs, as a base64 PNG; None with fewer than 3.

    ``records`` are the ``run.json`` records of the successful runs, oldest first, the current
    one last; ``headlines`` the current run's (:func:`lclib.report.summary.headlines`): one panel
    each, in their order, the value of every run that recorded it (a gap where one did not).
    """
    records = records[-TREND_RUNS:]
    if len(records) < 3 or not headlines:
        return None
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    n = len(headlines)
    cols = min(4, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(2.6 * cols, 2.05 * rows), dpi=110)
    FigureCanvasAgg(fig)
    x = list(range(len(records)))
    labels = []
    for rec in records:
        started = _started(str(rec.get("run_id") or ""), rec)
        labels.append(f"{started:%d %b\n%H:%M}" if started else "?")
    for k, h in enumerate(headlines):
        ax = fig.add_subplot(rows, cols, k + 1)
        ys = []
        for rec in records:
            nb = (rec.get("metrics") or {}).get(h["notebook"]) if isinstance(rec.get("metrics"), dict) else None
            ys.append(number(nb.get(h["name"])) if isinstance(nb, dict) else None)
        ys_plot = [float("nan") if y is None else y for y in ys]
        ax.plot(x, ys_plot, color="#0550ae", marker="o", markersize=3, linewidth=1.4)
        if ys[-1] is not None:
            ax.plot([x[-1]], [ys[-1]], marker="o", markersize=5.5, color="#0550ae")
        title = h["label"] if len(h["label"]) <= 30 else h["label"][:29] + "…"
        ax.set_title(_mpl_text(title), fontsize=8.5, loc="left")
        unit = "%" if h.get("fmt") == "percent" else str(h.get("unit") or "")
        ax.set_ylabel(_mpl_text(unit[:12]) or "value", fontsize=7.5)
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3g}"))
        ticks = sorted({0, len(x) - 1, (len(x) - 1) // 2})
        ax.set_xticks(ticks)
        ax.set_xticklabels([labels[i] for i in ticks], fontsize=6.5)
        ax.set_xlim(-0.3, len(x) - 0.7)
        ax.tick_params(axis="y", labelsize=7)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.grid(axis="y", color="#eee", linewidth=0.8)
    fig.supxlabel("run (start date and time)", fontsize=7.5)
    fig.tight_layout(pad=0.6, h_pad=1.0, w_pad=1.0)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")
