"""Run the report notebooks and publish ``reports/<run-id>/`` atomically.

``lclib run`` (see :func:`run`):

1. loads and validates the configuration, then loads and cleans the data once
   (a data error stops the run before any notebook starts);
2. executes ``notebooks/NN_*.ipynb`` with papermill, ``report.workers`` at a
   time (each in its own kernel; with one worker in order, in this process),
   passing ``CONFIG`` (the resolved configuration), ``DATA_DIR`` (the cleaned
   tables) and ``OUTPUT_DIR`` (where the notebook writes its exports);
3. exports each executed notebook twice with nbconvert: ``NN_name.html`` for
   business readers (code hidden) and ``NN_name.analyst.html`` (with code);
4. writes ``run.json`` and ``index.html`` and renames the finished folder from
   ``reports/.building-<run-id>`` to ``reports/<run-id>``, then points
   ``reports/latest`` at it.

A failing notebook stops the run: nothing is published, the partial folder is
moved to ``reports/failed/<run-id>/`` with ``error.txt`` and the executed
notebook that failed, and :func:`run` returns a non-zero exit code.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from lclib import __version__
from lclib.config import ConfigError, load_config, redact_overrides
from lclib.io.load import DataError, load_dataset
from lclib.report.record import MIMETYPE, format_value, read_metrics

#: Folder of the notebooks shipped with lclib (the repository's ``notebooks/``).
NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"

PACKAGES = ("lclib", "pandas", "numpy", "scipy", "scikit-learn", "matplotlib", "seaborn",
            "lifetimes", "pandera", "pyarrow", "papermill", "nbconvert", "ipykernel")


@dataclass
class NotebookResult:
    name: str
    title: str = ""
    status: str = "pending"  # ok | failed | skipped
    seconds: float = 0.0
    html: str | None = None
    analyst_html: str | None = None
    error: str | None = None
    headlines: list[dict] = field(default_factory=list)


@dataclass
class RunResult:
    run_id: str
    status: str
    folder: Path | None
    notebooks: list[NotebookResult]
    message: str = ""

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "ok" else (2 if self.status == "invalid" else 1)


def discover_notebooks(folder: Path = NOTEBOOK_DIR, only: list[str] | None = None) -> list[Path]:
    """The ``NN_*.ipynb`` notebooks of ``folder`` in order, optionally filtered.

    ``only`` entries match a notebook's stem (``03_rfm``), its number (``03``) or
    its topic (``rfm``). An entry that matches nothing raises ConfigError.
    """
    found = sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))
    if not only:
        return found
    chosen = []
    for key in only:
        hits = [p for p in found if key in (p.stem, p.stem[:2], p.stem[3:])]
        if not hits:
            names = ", ".join(p.stem for p in found)
            raise ConfigError(f"notebook {key!r} not found; available: {names}")
        chosen.extend(h for h in hits if h not in chosen)
    return sorted(chosen)


def new_run_id(out_root: Path) -> str:
    """A sortable, unique run id such as ``20261123-094501``."""
    base = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id, n = base, 1
    while (out_root / run_id).exists() or (out_root / f".building-{run_id}").exists():
        n += 1
        run_id = f"{base}-{n}"
    return run_id


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def export_html(executed: Path, target: Path, with_code: bool, title: str) -> None:
    """Write one self-contained HTML file (images embedded) from an executed notebook."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor
    from traitlets import Bool
    from traitlets.config import Config as TConfig

    class DropOutputs(Preprocessor):
        """Drop recorded metrics (shown by the headline table) and, for business
        readers, text printed to stderr (warnings are for analysts)."""

        drop_stderr = Bool(False)

        def preprocess_cell(self, cell, resources, index):
            if cell.get("cell_type") == "code":
                cell.outputs = [
                    o for o in cell.get("outputs", [])
                    if MIMETYPE not in o.get("data", {})
                    and not (self.drop_stderr and o.get("output_type") == "stream"
                             and o.get("name") == "stderr")
                ]
            return cell, resources

    c = TConfig()
    c.TagRemovePreprocessor.remove_cell_tags = {"remove_cell"} | (set() if with_code else {"analyst_only"})
    c.TagRemovePreprocessor.remove_input_tags = {"hide_input"}
    c.TagRemovePreprocessor.enabled = True
    exporter = HTMLExporter(config=c, template_name="lab",
                            exclude_input=not with_code,
                            exclude_input_prompt=not with_code,
                            exclude_output_prompt=True)
    exporter.register_preprocessor(TagRemovePreprocessor(config=c), enabled=True)
    exporter.register_preprocessor(DropOutputs(drop_stderr=not with_code), enabled=True)
    nb = nbformat.read(str(executed), as_version=4)
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    target.write_text(body, encoding="utf-8")


def notebook_title(path: Path) -> str:
    """The first Markdown heading of a notebook, or its file name."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def _log(progress: Callable[[str], None] | None, msg: str) -> None:
    if progress:
        progress(msg)


def run(
    config: str | Path | None = None,
    overrides: list[str] | None = None,
    out: str | Path | None = None,
    only: list[str] | None = None,
    notebook_dir: Path = NOTEBOOK_DIR,
    progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Build a report folder; see the module docstring for the steps.

    Parameters
    ----------
    config : path of the YAML configuration (default: the repository's ``lclib.yaml``).
    overrides : ``["key=value", ...]`` applied on top of the file.
    out : root folder for reports (default: ``report.out`` of the configuration).
    only : notebooks to run (stems, numbers or topics); default ``report.notebooks`` or all.
    notebook_dir : where the ``NN_*.ipynb`` notebooks are.
    progress : callable receiving one line per step (the CLI prints them).

    Returns
    -------
    RunResult
        ``exit_code`` is 0 when everything was published, 1 when a notebook failed,
        2 when the configuration or the data were invalid.
    """
    started = dt.datetime.now()
    t0 = time.perf_counter()
    try:
        cfg = load_config(config, overrides)
        out_root = Path(out).resolve() if out else cfg.resolve(cfg.report.out)
        notebooks = discover_notebooks(notebook_dir, only or cfg.report.notebooks or None)
    except ConfigError as e:
        return RunResult("", "invalid", None, [], str(e))
    out_root.mkdir(parents=True, exist_ok=True)
    run_id = new_run_id(out_root)
    building = out_root / f".building-{run_id}"
    building.mkdir()
    scratch = Path(tempfile.mkdtemp(prefix=f"lclib-{run_id}-"))
    results = [NotebookResult(p.stem, notebook_title(p)) for p in notebooks]
    try:
        _log(progress, f"lclib run {run_id}: loading data ({cfg.base_dir})")
        try:
            data = load_dataset(cfg)
        except DataError as e:
            (building / "error.txt").write_text(str(e) + "\n", encoding="utf-8")
            _move_to_failed(building, out_root, run_id)
            return RunResult(run_id, "invalid", out_root / "failed" / run_id, results, str(e))
        data_dir = data.save(scratch / "data")
        for info in data.inputs:
            _log(progress, f"  {info.table:<13} {info.rows_in:>10,} rows in, {info.rows_kept:>10,} kept")
        # notebooks read the full configuration from the scratch folder; the published
        # copy has its secrets masked
        resolved = scratch / "config.yaml"
        resolved.write_text(cfg.to_yaml(), encoding="utf-8")
        (building / "config.yaml").write_text(cfg.to_yaml(redact=True), encoding="utf-8")
        (building / "exports").mkdir()
        (building / "notebooks").mkdir()

        # the notebooks read the cached tables; the runner needs only the ledger and inputs now
        data.tables = {}
        workers = max(1, min(cfg.report.workers, len(notebooks), os.cpu_count() or 1))
        parameters = {"CONFIG": str(resolved), "DATA_DIR": str(data_dir), "OUTPUT_DIR": str(building / "exports")}
        jobs = [(path, building, parameters, str(notebook_dir), cfg.report.timeout_seconds) for path in notebooks]
        failed = _execute_all(jobs, results, workers, progress)
        if failed is not None:
            res = results[failed]
            path = notebooks[failed]
            (building / "error.txt").write_text(
                f"notebook {path.name} failed after {res.seconds:.1f} s\n\n{res.error}\n", encoding="utf-8")
            _move_to_failed(building, out_root, run_id)
            return RunResult(run_id, "failed", out_root / "failed" / run_id, results,
                             f"{path.name} failed: {res.error}")

        record = {
            "run_id": run_id,
            "status": "ok",
            "started": started.isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - t0, 2),
            "lclib_version": __version__,
            "config_file": str(Path(config).resolve()) if config else str(cfg.base_dir / "lclib.yaml"),
            "overrides": redact_overrides(overrides),
            "config": json.loads(json.dumps(cfg.public_dump())),
            "inputs": [i.__dict__ for i in data.inputs],
            "ledger": data.ledger.to_dict(),
            "notebooks": [
                {k: v for k, v in r.__dict__.items() if k != "headlines"} for r in results
            ],
            "metrics": {r.name: {h["name"]: h["value"] for h in r.headlines} for r in results},
            "headlines": {r.name: r.headlines for r in results},
            "versions": package_versions(),
            "platform": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        }
        (building / "run.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        (building / "index.html").write_text(render_index(record, data.ledger.to_frame()), encoding="utf-8")
        final = out_root / run_id
        os.rename(building, final)
        _point_latest(out_root, run_id)
        _log(progress, f"published {final} in {record['seconds']:.0f} s")
        return RunResult(run_id, "ok", final, results)
    except BaseException:
        if building.exists():
            (building / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
            _move_to_failed(building, out_root, run_id)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def execute_notebook(path: Path, building: Path, parameters: dict, cwd: str,
                     timeout: int) -> tuple[str, float, str | None]:
    """Execute one notebook into ``building/notebooks`` and export its two HTML files.

    Runs in a worker process when the runner executes notebooks in parallel, so it
    takes and returns plain values: ``(status, seconds, error)`` with status
    ``"ok"`` or ``"failed"``, the execution time, and the short error text.
    """
    import papermill as pm

    executed = building / "notebooks" / path.name
    t = time.perf_counter()
    try:
        pm.execute_notebook(
            str(path), str(executed), parameters=parameters,
            kernel_name="python3", cwd=cwd, progress_bar=False,
            log_output=False, execution_timeout=timeout,
            # the kernel's own start-up chatter is not the reader's business
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except Exception as e:  # papermill raises PapermillExecutionError and others
        return "failed", time.perf_counter() - t, _short_error(e)
    seconds = time.perf_counter() - t
    title = notebook_title(path)
    export_html(executed, building / f"{path.stem}.html", with_code=False, title=title)
    export_html(executed, building / f"{path.stem}.analyst.html", with_code=True, title=title)
    return "ok", seconds, None


def _execute_all(jobs: list[tuple], results: list[NotebookResult], workers: int,
                 progress: Callable[[str], None] | None) -> int | None:
    """Run the notebooks, ``workers`` at a time; return the index of the first failure or None.

    With one worker the notebooks run one after the other in this process and the
    first failure stops the run (the rest stay ``pending``). With more, each runs
    in a spawned worker process (own kernel); after a failure no further notebook
    starts, those already running finish (their folder must be complete before it
    moves to ``failed/``), and the run fails.
    """
    n = len(jobs)

    def finish(i: int, outcome: tuple[str, float, str | None]) -> bool:
        res = results[i]
        res.status, res.seconds, res.error = outcome
        name = jobs[i][0].stem
        if res.status != "ok":
            _log(progress, f"      {name} FAILED: {res.error.splitlines()[0] if res.error else ''}")
            return False
        res.html, res.analyst_html = f"{name}.html", f"{name}.analyst.html"
        res.headlines = read_metrics(jobs[i][1] / "notebooks" / jobs[i][0].name)
        _log(progress, f"      {name} ok in {res.seconds:.1f} s, {len(res.headlines)} headline numbers")
        return True

    if workers == 1:
        for i, job in enumerate(jobs):
            _log(progress, f"[{i + 1}/{n}] {job[0].stem} ...")
            if not finish(i, execute_notebook(*job)):
                return i
        return None

    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    first_failure: int | None = None
    # spawn, not fork: the runner process holds DuckDB / Arrow thread pools
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        pending = {}
        for i, job in enumerate(jobs):
            pending[pool.submit(execute_notebook, *job)] = i
        _log(progress, f"running {n} notebooks, {workers} at a time")
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                if future.cancelled():
                    continue
                error = future.exception()
                outcome = _worker_failure(error) if error else future.result()
                if not finish(i, outcome) and (first_failure is None or i < first_failure):
                    first_failure = i
            if first_failure is not None:
                for future in pending:
                    future.cancel()  # not started yet: stays pending
    return first_failure


def _worker_failure(error: BaseException) -> tuple[str, float, str]:
    """The outcome of a worker that died (e.g. killed for lack of memory)."""
    return "failed", 0.0, f"the worker process running the notebook failed: {type(error).__name__}: {error}"


def _short_error(e: Exception) -> str:
    """The notebook error without ANSI colour codes, the traceback's last lines first."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    ename = getattr(e, "ename", None)
    evalue = getattr(e, "evalue", None)
    head = f"{ename}: {evalue}" if ename else type(e).__name__
    return f"{head}\n\n{text}" if text and text != head else head


def _move_to_failed(building: Path, out_root: Path, run_id: str) -> None:
    failed = out_root / "failed"
    failed.mkdir(exist_ok=True)
    os.rename(building, failed / run_id)


def _point_latest(out_root: Path, run_id: str) -> None:
    link = out_root / "latest"
    tmp = out_root / f".latest-{run_id}"
    try:
        if tmp.is_symlink() or tmp.exists():
            tmp.unlink()
        tmp.symlink_to(run_id, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:  # e.g. no symlinks on this filesystem: leave a pointer file instead
        (out_root / "LATEST").write_text(run_id + "\n", encoding="utf-8")


def render_index(record: dict, ledger_frame) -> str:
    """The run's ``index.html``: headlines, notebooks, inputs, ledger, config, versions."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("lclib.report", "templates"), autoescape=select_autoescape())
    env.filters["num"] = lambda v, unit="": format_value(v, unit)
    return env.get_template("index.html.j2").render(
        run=record, ledger=ledger_frame.to_dict("records"),
        config_yaml=_yaml(record["config"]),
        titles={nb["name"]: nb.get("title") or nb["name"] for nb in record["notebooks"]},
    )


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
