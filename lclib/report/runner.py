"""Run the report notebooks and publish ``reports/<run-id>/`` atomically.

``lclib run`` (see :func:`run`):

1. loads and validates the configuration, then loads and cleans the data once
   (a data error stops the run before any notebook starts); with
   ``privacy.pseudonymise`` every customer and anonymous id is replaced by its
   keyed pseudonym here, before the tables are cached (the key stays in this
   process: no file, log or notebook gets it);
2. executes ``notebooks/NN_*.ipynb`` with papermill, ``report.workers`` at a
   time (each in its own kernel, driven by a spawned worker process; with one
   worker in order, by a thread of this process), each within
   ``report.timeout_seconds`` as a whole, passing ``CONFIG`` (the resolved
   configuration), ``DATA_DIR`` (the cleaned tables) and ``OUTPUT_DIR`` (where
   the notebook writes its exports); the workers are started while step 1 loads
   the data, each with the kernel its first notebook runs in
   (:func:`_start_workers`, :mod:`~lclib.report.kernels`);
3. exports each executed notebook twice with nbconvert: ``NN_name.html`` for
   business readers (code hidden) and ``NN_name.analyst.html`` (with code);
4. writes ``run.json`` and ``index.html`` (the headline numbers compared with the previous
   successful run of the same reports folder, the actions, the trend: :mod:`~lclib.report.history`,
   :mod:`~lclib.report.summary`) and renames the finished folder from
   ``reports/.building-<run-id>`` to ``reports/<run-id>``, then points
   ``reports/latest`` at it.

A failing notebook stops the run: nothing is published, the partial folder is
moved to ``reports/failed/<run-id>/`` with ``error.txt`` and the executed
notebook that failed, and :func:`run` returns a non-zero exit code.

Failure is clean: a file that cannot be read or written (disk full, read-only
or missing folder, unreadable input) ends the run with status ``"storage"``
(exit code 3), a message naming the path, and the unfinished folder removed. An
interrupt (Ctrl-C raises KeyboardInterrupt; the CLI turns SIGTERM and SIGHUP into
:class:`Interrupted`) ends the notebook workers and their kernels, removes the
unfinished folder and propagates. A run killed outright (``kill -9``) cannot
clean up: its ``.building-<run-id>`` folder records the owning process
(:data:`OWNER_FILE`) and the next run in the same reports folder removes it once
that process is gone; its workers stop when the runner dies (Linux), and each
kernel stops when its worker does.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import tempfile
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Callable

from lclib import __version__
from lclib.config import ConfigError, load_config, redact_overrides
from lclib.config.glossary import glossary_entries
from lclib.config.headlines import HEADLINES
from lclib.io.load import DataError
from lclib.engine.orders import compact_order_lines_file
from lclib.io.dataset import load_dataset
from lclib.io.memory import release_memory
from lclib.io.parts import can_load_in_parts, parquet_rows
from lclib.io.privacy import pseudonym_key, pseudonymise_dataset
from lclib.report import history, kernels, summary
from lclib.report.environment import process_environment
from lclib.report.worker import (  # storage_message: also the CLI's
    _child_pids, _end_processes, _run_job, _worker_init, _write_whole, execute_notebook, notebook_title,
    storage_message,
)
from lclib.report.record import NOT_ENOUGH_DATA, format_value, read_metrics

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
        """0 ok, 1 a notebook failed, 2 invalid configuration or data, 3 a file could not be read or written."""
        return EXIT_CODES.get(self.status, 1)


#: Exit code of each run status (README "Command line"); an interrupted run exits 128 + the signal number.
EXIT_CODES = {"ok": 0, "failed": 1, "invalid": 2, "storage": 3}

#: File in ``.building-<run-id>/`` naming the process that builds it (removed before publishing).
OWNER_FILE = ".owner.json"


class Interrupted(BaseException):
    """The run was stopped by a signal (the CLI raises it for SIGTERM and SIGHUP; Ctrl-C is
    KeyboardInterrupt). Like KeyboardInterrupt it is not an ``Exception``."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


class StorageError(Exception):
    """A file or folder could not be read or written; the message names it (exit code 3)."""


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
    """A run id such as ``20261123-094501-3f9a``: the start time (sortable to the second)
    and 4 random hex digits, so that runs started in the same second differ. Not yet used
    in ``out_root`` (published, building or failed); :func:`_new_building` claims it."""
    while True:
        run_id = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
        if not any(p.exists() for p in (out_root / run_id, out_root / f".building-{run_id}",
                                        out_root / "failed" / run_id)):
            return run_id


def _new_building(out_root: Path) -> tuple[str, Path]:
    """Claim a new run id: create ``.building-<run-id>`` (exclusively) with its owner file."""
    while True:
        run_id = new_run_id(out_root)
        building = out_root / f".building-{run_id}"
        try:
            building.mkdir()
        except FileExistsError:  # another run took it between the check and now
            continue
        try:
            (building / OWNER_FILE).write_text(json.dumps(_owner()), encoding="utf-8")
        except OSError:
            shutil.rmtree(building, ignore_errors=True)
            raise
        return run_id, building


def _record_scratch(building: Path, scratch: Path) -> None:
    """Note the run's temporary folder in its owner file (a later run removes both if killed)."""
    owner = json.loads((building / OWNER_FILE).read_text(encoding="utf-8"))
    (building / OWNER_FILE).write_text(json.dumps({**owner, "scratch": str(scratch)}), encoding="utf-8")


def _reports_folder_problem(out_root: Path, e: OSError) -> str:
    if out_root.exists() and not out_root.is_dir():
        return f"cannot use {out_root} as the reports folder: it is a file"
    return f"cannot create or write the reports folder: {storage_message(e, out_root)}"


def _owner(pid: int | None = None) -> dict:
    """Who builds a folder: host, process id and the process's start time (against pid reuse)."""
    pid = os.getpid() if pid is None else pid
    return {"host": socket.gethostname(), "pid": pid, "started": _process_started(pid)}


def _process_started(pid: int) -> float | None:
    """Start time of process ``pid`` (psutil's create_time), or None when it cannot be told."""
    try:
        import psutil

        return psutil.Process(pid).create_time()
    except Exception:  # psutil missing, or no such process
        return None


def _is_stale(building: Path) -> bool:
    """True when ``building`` belongs to a run on this host whose process is gone."""
    try:
        owner = json.loads((building / OWNER_FILE).read_text(encoding="utf-8"))
        pid, host = int(owner["pid"]), owner["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return False  # no owner (an older lclib, or just being created): leave it
    if host != socket.gethostname():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    started = owner.get("started")
    return started is not None and _process_started(pid) not in (None, started)  # pid reused


def remove_stale_builds(out_root: Path, progress: Callable[[str], None] | None = None) -> list[Path]:
    """Remove the ``.building-*`` folders (and their temporary folders) of killed runs, and the kernel
    socket folders of processes that no longer run (:func:`lclib.report.kernels.remove_stale_socket_folders`)."""
    kernels.remove_stale_socket_folders()
    removed = []
    for building in sorted(out_root.glob(".building-*")):
        if building.is_dir() and _is_stale(building):
            scratch = _scratch_of(building)
            shutil.rmtree(building, ignore_errors=True)
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
            _log(progress, f"removed {building.name}, left by a run that was killed")
            removed.append(building)
    return removed


def _scratch_of(building: Path) -> Path | None:
    try:
        scratch = json.loads((building / OWNER_FILE).read_text(encoding="utf-8")).get("scratch")
    except (OSError, ValueError, AttributeError):
        return None
    # only ever a folder this runner made (lclib-<run-id>-*)
    return Path(scratch) if scratch and Path(scratch).name.startswith(f"lclib-{building.name[10:]}-") else None


def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


#: What one report's kernel may need at its peak: a base plus this much per cached order row
#: (measured 2026-12-03: 40M cached orders, 8M customers, 10-16 GB a kernel; 4M orders 1.8-2.6 GB).
KERNEL_BASE_BYTES = 600_000_000
KERNEL_BYTES_PER_ORDER = 350


def memory_workers(workers: int, orders: int, available: int | None = None) -> tuple[int, str | None]:
    """As many notebooks at once as the free memory holds, at most ``workers``; and why, when fewer.

    Each kernel reads the run's cached orders and builds per-customer tables: it may need
    ``KERNEL_BASE_BYTES + KERNEL_BYTES_PER_ORDER x orders`` at its peak. Two such kernels
    at 40M orders (100M order lines) would not fit a 24 GB machine, and a kernel the system
    kills leaves an obscure failure; so the runner starts no more at once than 80 % of the
    memory available now holds (never fewer than one).

    Examples
    --------
    >>> memory_workers(2, 4_000_000, available=24 * 10**9)  # 10M lines: both workers
    (2, None)
    >>> memory_workers(2, 40_000_000, available=24 * 10**9)[0]  # 100M lines: one at a time
    1
    """
    if available is None:
        try:
            import psutil

            available = psutil.virtual_memory().available
        except Exception:  # noqa: BLE001 - memory cannot be read: keep the configured workers
            return workers, None
    need = KERNEL_BASE_BYTES + KERNEL_BYTES_PER_ORDER * max(0, int(orders))
    fits = max(1, int(0.8 * available // need))
    if fits >= workers:
        return workers, None
    return fits, (f"{fits} notebook{'s' if fits != 1 else ''} at a time, not {workers} (report.workers): "
                  f"each may need about {need / 1e9:.0f} GB at {orders:,} cached orders and "
                  f"{available / 1e9:.0f} GB are free")


def _transactions_file(cfg) -> Path | None:
    """The configured transactions file when it exists, else None."""
    spec = cfg.inputs.transactions
    if spec is None or spec.path is None:
        return None
    path = cfg.resolve(spec.path)
    return path if path.is_file() else None


def _source_lines(cfg) -> int:
    """Lines of the transactions file when its footer says (Parquet), else 0: an upper bound on the
    orders the run will cache, so that no worker is started ahead of a run :func:`memory_workers`
    will give fewer (100M lines: one notebook at a time)."""
    path = _transactions_file(cfg)
    return parquet_rows(path) if path is not None and path.suffix.lower() == ".parquet" else 0


def _in_parts(cfg) -> bool:
    """True when the transactions file will be cleaned in parts (:func:`lclib.io.parts.can_load_in_parts`)."""
    path = _transactions_file(cfg)
    return path is not None and can_load_in_parts(cfg.inputs.transactions, path)  # as load_dataset decides


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
        ``exit_code`` is 0 when everything was published, 1 when a notebook failed
        (or ran out of ``report.timeout_seconds``), 2 when the configuration or the data
        were invalid, 3 when a file could not be read or written (``status`` ``"storage"``).

    Raises
    ------
    KeyboardInterrupt, Interrupted
        After ending the workers and removing the unfinished folder.

    Notes
    -----
    The kernels and workers the run starts get the allocation settings of
    :mod:`~lclib.report.environment` (no transparent huge pages for their arrays) unless
    the environment sets those variables; the caller's environment is restored afterwards.
    """
    with process_environment():
        return _run(config, overrides, out, only, notebook_dir, progress)


def _run(config, overrides, out, only, notebook_dir, progress) -> RunResult:
    """:func:`run` within its process environment."""
    started = dt.datetime.now()
    t0 = time.perf_counter()
    try:
        cfg = load_config(config, overrides)
        out_root = Path(out).resolve() if out else cfg.resolve(cfg.report.out)
        notebooks = discover_notebooks(notebook_dir, only or cfg.report.notebooks or None)
        # read now (a missing key is a configuration error, before any work), kept in memory only
        key = pseudonym_key(cfg)
    except ConfigError as e:
        return RunResult("", "invalid", None, [], str(e))
    results = [NotebookResult(p.stem, notebook_title(p)) for p in notebooks]
    try:
        out_root.mkdir(parents=True, exist_ok=True)
        remove_stale_builds(out_root, progress)
        run_id, building = _new_building(out_root)
    except OSError as e:
        return RunResult("", "storage", None, results, _reports_folder_problem(out_root, e))
    scratch: Path | None = None
    pool = None
    try:
        try:
            scratch = Path(tempfile.mkdtemp(prefix=f"lclib-{run_id}-"))
        except OSError as e:
            raise StorageError(f"cannot create a temporary folder: {storage_message(e, tempfile.gettempdir())}") from e
        _record_scratch(building, scratch)
        # the notebook workers start (and each warms a kernel) while the data loads: see _start_workers
        planned = max(1, min(cfg.report.workers, len(notebooks), os.cpu_count() or 1))
        cleaners = None
        if planned > 1 and memory_workers(planned, _source_lines(cfg))[0] == planned:
            pool = _start_workers(planned, notebook_dir, notebooks)
        if planned > 1 and _in_parts(cfg):
            # processes of their own clean a large file's parts side by side and end once it is loaded: the
            # notebook workers, which run on, do not keep the loader's imports (130 MiB at once at 10M lines)
            cleaners = _start_workers(planned)
        _log(progress, f"lclib run {run_id}: loading data ({cfg.base_dir})")
        try:
            # a large file is cleaned in parts and written there
            data = load_dataset(cfg, write_to=scratch / "data", executor=cleaners)
            period = check_enough_data(cfg, data)
        except DataError as e:
            (building / "error.txt").write_text(str(e) + "\n", encoding="utf-8")
            _write_failure_record(building, run_id, "invalid", started, t0, str(e), results)
            _move_to_failed(building, out_root, run_id)
            return RunResult(run_id, "invalid", out_root / "failed" / run_id, results, str(e))
        finally:
            if cleaners is not None:
                _stop_workers(cleaners)
                cleaners = None
        if key is not None:
            # before anything is cached or published: the notebooks only ever see pseudonyms
            pseudonymise_dataset(data, key)
            key = None
            _log(progress, "  customer and anonymous ids pseudonymised (privacy.pseudonymise)")
        try:
            data_dir = data.save(scratch / "data")
            # every report reads orders: the lines of one order at one time merged, out of core
            compact_order_lines_file(data_dir / "transactions.parquet", scratch=scratch)
        except OSError as e:
            raise StorageError(f"cannot write the cleaned data to the temporary folder: "
                               f"{storage_message(e, scratch)}") from e
        for info in data.inputs:
            _log(progress, f"  {info.table:<13} {info.rows_in:>10,} rows in, {info.rows_kept:>10,} kept")
        # notebooks read the configuration from the scratch folder: secrets masked there too (the
        # tables are already pseudonymised, no notebook needs a key; a killed run leaves no key behind)
        resolved = scratch / "config.yaml"
        resolved.write_text(cfg.to_yaml(redact=True), encoding="utf-8")
        (building / "config.yaml").write_text(cfg.to_yaml(redact=True), encoding="utf-8")
        (building / "exports").mkdir()
        (building / "notebooks").mkdir()

        # the notebooks read the cached tables; the runner needs only the ledger and inputs now, and hands
        # the loader's freed memory back (0.3 GB at 10M lines, held while every notebook runs otherwise)
        data.tables = {}
        release_memory()
        workers, why = memory_workers(planned, parquet_rows(data_dir / "transactions.parquet"))
        if why:
            _log(progress, f"  {why}")
        if pool is not None and workers != planned:  # fewer at once than started: no idle worker holds memory
            _stop_workers(pool)
            pool = None
        from lclib.report.notebook import notebook_parameters  # CONFIG and OVERRIDES outlive the run: re-runnable

        parameters = notebook_parameters(config, overrides, data_dir, building / "exports")
        jobs = [(path, building, parameters, str(notebook_dir), cfg.report.timeout_seconds) for path in notebooks]
        earlier_run = history.successful_runs(out_root, before=run_id, limit=1)
        if earlier_run:  # the notebooks' times in the folder's previous run
            seconds = {nb["name"]: nb.get("seconds") for nb in (earlier_run[-1].record.get("notebooks") or [])
                       if isinstance(nb, dict)}
        else:  # the folder's first run: their typical times
            seconds = {p.stem: notebook_typical_seconds(p) for p in notebooks}
        started_workers, pool = pool, None  # _execute_all ends them
        failed = _execute_all(jobs, results, workers, progress, seconds, started_workers)
        if failed is not None:
            res = results[failed]
            path = notebooks[failed]
            if res.status == "storage":
                raise StorageError(f"{path.name}: {res.error}")
            (building / "error.txt").write_text(
                f"notebook {path.name} failed after {res.seconds:.1f} s\n\n{res.error}\n", encoding="utf-8")
            _write_failure_record(building, run_id, "failed", started, t0,
                                  f"{path.name} failed: {(res.error or '').strip()}", results)
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
            "privacy": privacy_note(cfg),
            "data_period": period,
            "inputs": [i.__dict__ for i in data.inputs],
            "ledger": data.ledger.to_dict(),
            "notebooks": [
                {k: v for k, v in r.__dict__.items() if k != "headlines"} for r in results
            ],
            "metrics": {r.name: {h["name"]: h["value"] for h in r.headlines} for r in results},
            "recorded": summary.recorded_with_kinds({r.name: r.headlines for r in results}),
            "versions": package_versions(),
            "platform": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
        }
        # run over run: the newest published run started before this one (failed runs never count)
        earlier = history.successful_runs(out_root, before=run_id, limit=history.TREND_RUNS - 1)
        previous = earlier[-1].record if earlier else None
        record["previous_run"] = earlier[-1].run_id if earlier else None
        record["comparison"] = history.compare(previous, record)
        record["headlines"] = summary.headlines(record["metrics"], record["recorded"], previous, record["config"],
                                                record["comparison"]["settings_changed"])
        record["actions"] = summary.actions(record["metrics"], record["recorded"], record["config"], building)
        try:
            trend = history.trend_png([r.record for r in earlier] + [record], record["headlines"])
        except Exception as e:  # a chart is not worth a failed run: the table has the numbers
            trend = None
            _log(progress, f"  trend chart left out: {type(e).__name__}: {e}")
        (building / "run.json").write_text(json.dumps(record, indent=2, default=str), encoding="utf-8")
        (building / "index.html").write_text(
            render_index(record, data.ledger.to_frame(), trend, len(earlier) + 1), encoding="utf-8")
        final = out_root / run_id
        (building / OWNER_FILE).unlink()
        os.rename(building, final)
        _point_latest(out_root, run_id)
        _log(progress, f"published {final} in {record['seconds']:.0f} s")
        return RunResult(run_id, "ok", final, results)
    except (StorageError, OSError) as e:
        with _signals_ignored():
            shutil.rmtree(building, ignore_errors=True)
        message = str(e) if isinstance(e, StorageError) else storage_message(e, out_root)
        return RunResult(run_id, "storage", None, results, message)
    except Exception:  # a bug: keep what there is, with the traceback, in failed/
        with _signals_ignored():
            _keep_failure(building, out_root, run_id, traceback.format_exc())
        raise
    except BaseException:  # interrupted (Ctrl-C, SIGTERM): the workers are ended; nothing stays
        with _signals_ignored():
            shutil.rmtree(building, ignore_errors=True)
            kernels.remove_socket_folders()  # of a kernel this process ran (one worker) and ended
        raise
    finally:
        if pool is not None:  # the run ended before its notebooks (invalid data, an error, an interrupt)
            with _signals_ignored():
                _stop_workers(pool)
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


def notebook_after(path: Path) -> list[str]:
    """The notebooks ``path`` reads exports from (its metadata ``lclib.after``, e.g.
    ``["04_churn", "05_clv"]``): in a run it starts only once those have finished. In
    the sequential order of the numbers they already come first."""
    meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    return [str(name) for name in meta.get("lclib", {}).get("after", [])]


def notebook_typical_seconds(path: Path) -> float | None:
    """A notebook's typical time (its metadata ``lclib.typical_seconds``: seconds measured on 10M order
    lines, two at a time on two cores), or None. Only its size against the other notebooks' counts: it
    orders the notebooks of a reports folder's first run, which has no earlier run's times."""
    meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    value = meta.get("lclib", {}).get("typical_seconds")
    return float(value) if isinstance(value, (int, float)) and value > 0 else None


def _start_order(names: list[str], waits: dict[int, set[int]], seconds: dict[str, float] | None) -> dict[int, float]:
    """Priority of each notebook (higher starts first): its time plus the longest chain of notebooks waiting for it.

    ``seconds``: each notebook's time in the previous successful run, or its typical time
    (:func:`notebook_typical_seconds`) in a reports folder's first run (unknown: 1), so the
    longest notebooks, and those others wait for, start first and the workers finish together.
    """
    own = {i: float((seconds or {}).get(name) or 1.0) for i, name in enumerate(names)}
    after: dict[int, list[int]] = {i: [j for j, deps in waits.items() if i in deps] for i in own}
    chain: dict[int, float] = {}

    def length(i: int, seen: frozenset = frozenset()) -> float:
        if i not in chain:
            later = [length(j, seen | {i}) for j in after[i] if j not in seen]
            chain[i] = own[i] + max(later, default=0.0)
        return chain[i]

    return {i: length(i) for i in own}


def _execute_all(jobs: list[tuple], results: list[NotebookResult], workers: int,
                 progress: Callable[[str], None] | None, seconds: dict[str, float] | None = None,
                 pool=None) -> int | None:
    """Run the notebooks, ``workers`` at a time; return the index of the first failure or None.

    With one worker the notebooks run one after the other, each driven by a thread of
    this process (:func:`_run_in_thread`), and the first failure stops the run (the rest
    stay ``pending``). With more, each runs in a spawned worker process
    (:func:`_worker_init`, own kernel); after a failure no further notebook starts, those
    already running finish (their folder must be complete before it moves to
    ``failed/``), and the run fails. A free worker takes the ready notebook with the
    longest expected time ahead (:func:`_start_order`, from ``seconds``: the previous run's). Either way the main thread only waits, so that an
    interrupt (KeyboardInterrupt, :class:`Interrupted`) reaches it at once: the kernels
    (and workers) are ended before it propagates.

    ``pool``: the workers :func:`_start_workers` started while the data loaded (``workers``
    of them); None starts them here. It is shut down when this returns or raises.
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
        _log(progress, f"      {name} ok in {res.seconds:.1f} s, {len(res.headlines)} numbers recorded")
        return True

    if workers == 1:
        if pool is not None:
            _stop_workers(pool)
        for i, job in enumerate(jobs):
            _log(progress, f"[{i + 1}/{n}] {job[0].stem} ...")
            if not finish(i, _run_in_thread(job)):
                return i
        return None

    from concurrent.futures import FIRST_COMPLETED, wait

    first_failure: int | None = None
    if pool is None:
        pool = _start_workers(workers)
    names = [job[0].stem for job in jobs]
    waits = {i: {names.index(d) for d in notebook_after(job[0]) if d in names} for i, job in enumerate(jobs)}
    waiting, finished = set(range(n)), set()
    pending: dict = {}
    priority = _start_order(names, waits, seconds)

    def submit_ready() -> None:  # a notebook starts once those it reads from (metadata lclib.after) are done
        ready = sorted((i for i in waiting if waits[i] <= finished), key=lambda i: (-priority[i], i))
        for i in ready[:max(0, workers - len(pending))]:  # one per free worker: a later one may come first
            waiting.discard(i)
            pending[pool.submit(_run_job, *jobs[i])] = i

    try:
        submit_ready()
        _log(progress, f"running {n} notebooks, {workers} at a time")
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                i = pending.pop(future)
                finished.add(i)
                if future.cancelled():
                    continue
                error = future.exception()
                outcome = _worker_failure(error) if error else future.result()
                if not finish(i, outcome) and (first_failure is None or i < first_failure):
                    first_failure = i
            if first_failure is not None:
                waiting.clear()  # never started: stay pending
                for future in pending:
                    future.cancel()  # not started yet: stays pending
            else:
                submit_ready()
        if waiting:
            raise ConfigError("notebooks wait for each other (metadata lclib.after): "
                              + ", ".join(names[i] for i in sorted(waiting)))
    except BaseException:
        with _signals_ignored():
            _stop_workers(pool)
        raise
    pool.shutdown(wait=True)
    return first_failure


def _run_in_thread(job: tuple) -> tuple[str, float, str | None]:
    """:func:`execute_notebook` driven by a thread of this process, the main thread waiting.

    The main thread stays free for signals (nbclient, run in the main thread, would take
    SIGINT and SIGTERM over). On an interrupt the kernel the thread drives is ended, the
    thread given a moment to finish, and the interrupt propagates.
    """
    import threading

    before = set(_child_pids())
    box: dict = {}

    def target() -> None:
        try:
            box["outcome"] = execute_notebook(*job)
        except BaseException as e:  # handed to the main thread
            box["error"] = e

    thread = threading.Thread(target=target, name=f"lclib-{job[0].stem}", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.25)
    except BaseException:
        with _signals_ignored():
            _end_processes([pid for pid in _child_pids() if pid not in before])
            thread.join(10)
        raise
    if "error" in box:
        raise box["error"]
    return box["outcome"]


# ----------------------------------------------------------------------------- worker processes

def _start_workers(workers: int, notebook_dir: Path | None = None, notebooks: list[Path] = ()):
    """Start ``workers`` notebook worker processes now, not when the first notebook is submitted.

    Each worker imports papermill and nbconvert and, given ``notebook_dir``, starts a
    kernel there with the modules ``notebooks`` import already imported
    (:mod:`lclib.report.kernels`): started before the data is loaded, that work (about
    5 s of a worker's and its kernel's time at 10M lines) is done while the loader
    leaves a core idle, and the first two notebooks start at once. Without
    ``notebook_dir`` the processes load nothing ahead: the runner cleans a large file's
    parts on such a pool (:func:`lclib.io.parts.clean_part`) and ends it after loading.
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    warm = (str(notebook_dir), kernels.notebook_imports(notebooks)) if notebook_dir is not None else None
    # spawn, not fork: the runner process holds DuckDB / Arrow thread pools
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_init, initargs=(os.getpid(), warm))
    for _ in range(workers):  # a process is spawned per task submitted while none is idle
        pool.submit(int)
    return pool


def _stop_workers(pool) -> None:
    """End the worker processes of ``pool`` and their kernels (after an interrupt; the cleaning
    processes once the data is loaded)."""
    procs = [p for p in (getattr(pool, "_processes", None) or {}).values() if p.is_alive()]
    kernel_pids = [pid for p in procs for pid in _child_pids(p.pid)]
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.terminate()  # SIGTERM: the worker shuts its kernel down and exits
    deadline = time.monotonic() + 10
    for p in procs:
        p.join(max(0.0, deadline - time.monotonic()))
        if p.is_alive():
            p.kill()
            p.join(1)
    _end_processes(kernel_pids, grace=1.0)


@contextmanager
def _signals_ignored():
    """Let a clean-up finish: SIGINT, SIGTERM and SIGHUP are ignored meanwhile (main thread only)."""
    saved = {}
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        try:
            saved[s] = signal.signal(s, signal.SIG_IGN)
        except (ValueError, OSError):  # not the main thread
            pass
    try:
        yield
    finally:
        for s, handler in saved.items():
            if handler is not None:
                signal.signal(s, handler)


def _worker_failure(error: BaseException) -> tuple[str, float, str]:
    """The outcome of a worker that died (e.g. killed for lack of memory)."""
    return "failed", 0.0, f"the worker process running the notebook failed: {type(error).__name__}: {error}"


def _write_failure_record(building: Path, run_id: str, status: str, started: dt.datetime, t0: float,
                          error: str, results: list[NotebookResult]) -> None:
    """``run.json`` of a failed run (``lclib runs`` lists it): status, start, seconds, the
    error's first line and the notebooks' outcomes. Best effort: a full disk leaves none."""
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    first = lines[0] if lines else ""
    if " failed: " not in first:  # a data error: its lines say together what is wrong where
        first = " ".join(lines)
    elif len(lines) > 1 and ": " not in first.partition(" failed: ")[2]:
        first = f"{first.rstrip(':')}: {lines[1]}"  # "TypeError" alone: its message is the next line
    record = {
        "run_id": run_id, "status": status, "started": started.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 2), "lclib_version": __version__,
        "error": first[:300],
        "notebooks": [{k: v for k, v in r.__dict__.items() if k != "headlines"} for r in results],
    }
    try:
        _write_whole(building / "run.json", json.dumps(record, indent=2, default=str))
    except OSError:
        pass


def _move_to_failed(building: Path, out_root: Path, run_id: str) -> None:
    failed = out_root / "failed"
    failed.mkdir(exist_ok=True)
    (building / OWNER_FILE).unlink(missing_ok=True)
    os.rename(building, failed / run_id)


def _keep_failure(building: Path, out_root: Path, run_id: str, error: str) -> None:
    """Move an unfinished folder to ``failed/<run-id>/`` with ``error.txt``; remove it if
    that cannot be written (a full disk must not leave an empty error.txt behind)."""
    if not building.exists():
        return
    try:
        _write_whole(building / "error.txt", error)
        _move_to_failed(building, out_root, run_id)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)


def check_enough_data(cfg, data) -> dict:
    """Stop on transactions too few to report on (DataError: exit code 2, before any notebook).

    The reports compare customers and read purchase cycles and trends over time: they need
    orders of at least two customers on at least two different days before ``analysis.as_of``.

    Returns the period the reports cover (``run.json`` ``data_period``): ``first_order`` (ISO
    date of the first order counted), ``last_day`` (the last day counted: the day before
    ``analysis.as_of``, or the day of the last order) and ``as_of_set`` (``analysis.as_of`` given).
    """
    from lclib.io.columns import CUSTOMER_ID, TIMESTAMP

    where = f"{cfg.resolve(cfg.inputs.transactions.path)} (inputs.transactions)"
    as_of = cfg.analysis.as_of
    end = None if as_of is None else dt.datetime.combine(as_of, dt.time())
    on_disk = data.tables.file("transactions")
    if on_disk is not None:  # cleaned in parts: counted by DuckDB from the file, never read whole
        import duckdb

        from lclib.io.parts import files_sql

        src = files_sql([on_disk.path])
        ts, cid = f'"{TIMESTAMP}"', f'"{CUSTOMER_ID}"'
        cut = "" if end is None else f" WHERE {ts} < TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}'"
        with duckdb.connect() as con:
            first_all = con.execute(f"SELECT min({ts}) FROM {src}").fetchone()[0]
            n, customers, days, first, last = con.execute(
                f"SELECT count(*), count(DISTINCT {cid}), count(DISTINCT CAST({ts} AS DATE)), "
                f"min({ts}), max({ts}) FROM {src}{cut}").fetchone()
    else:
        tx = data.transactions
        first_all = tx[TIMESTAMP].min()
        if end is not None:
            tx = tx.loc[tx[TIMESTAMP] < end]
        n, customers = len(tx), tx[CUSTOMER_ID].nunique()
        days, first, last = tx[TIMESTAMP].dt.normalize().nunique(), tx[TIMESTAMP].min(), tx[TIMESTAMP].max()
    if as_of is not None and n == 0:
        raise DataError(f"{where}: no order before analysis.as_of {as_of}: the data start on "
                        f"{first_all:%Y-%m-%d}; set analysis.as_of after that date, or leave it null "
                        "(the day after the last order)")
    before = f" before analysis.as_of {as_of}" if as_of is not None else ""
    if customers < 2:
        raise DataError(f"{where}: only one customer{before}: the reports compare customers (segments, "
                        "churn, lifetime value) and need orders of at least 2 customers")
    if days < 2:
        raise DataError(f"{where}: only one purchase date ({first:%Y-%m-%d}){before}: the "
                        "reports read purchase cycles and trends over time and need orders on at least 2 "
                        "different days")
    import pandas as pd

    last_day = (end - dt.timedelta(days=1)).date() if end is not None else pd.Timestamp(last).date()
    return {"first_order": f"{pd.Timestamp(first):%Y-%m-%d}", "last_day": f"{last_day:%Y-%m-%d}",
            "as_of_set": as_of is not None}


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


def privacy_note(cfg) -> str:
    """One sentence for ``run.json`` and ``index.html``: are the ids in this run pseudonyms?"""
    if cfg.privacy.pseudonymise:
        return ("Customer and anonymous ids are pseudonymised: every id in the reports and exports is a keyed "
                "pseudonym (16 characters), replaced right after loading, so the lists cannot be traced back to a "
                "person without the key.")
    return ("Customer and anonymous ids are shown as in the input data (pseudonymisation is switched off in the "
            "configuration): treat the reports and exports as personal data.")


def render_index(record: dict, ledger_frame, trend_png: str | None = None, trend_runs: int = 0) -> str:
    """The run's ``index.html``: the summary (headline numbers with their change since the
    previous run, the trend of the last runs, recommended actions), reports, the other numbers
    per report (collapsed), settings, inputs, ledger, config, versions.

    ``trend_png`` is the base64 PNG of :func:`lclib.report.history.trend_png` (None: no chart)
    drawn from ``trend_runs`` runs.
    Every value is HTML-escaped (autoescape is forced on: the template's ``.j2`` name
    would leave jinja's ``select_autoescape()`` off), so names from the data or the
    configuration (file names, the currency label, overrides, metric texts) are shown as text.
    """
    from jinja2 import Environment, PackageLoader

    recorded = record.get("recorded")
    heads = record.get("headlines")
    if recorded is None and isinstance(heads, dict):  # a record of lclib before the summary
        recorded, heads = summary.recorded_with_kinds(heads), None
    recorded = recorded or {}
    if heads is None:
        heads = summary.headlines(record.get("metrics") or {}, recorded, None, record.get("config") or {})
    env = Environment(loader=PackageLoader("lclib.report", "templates"), autoescape=True)
    env.filters["num"] = lambda v, unit="": NOT_ENOUGH_DATA if v is None else format_value(v, unit)  # as the reports say it
    env.filters["long_date"] = lambda v: f"{dt.date.fromisoformat(str(v)):%d %b %Y}"
    return env.get_template("index.html.j2").render(
        run=record, ledger=ledger_frame.to_dict("records"),
        config_yaml=_yaml(record["config"]),
        titles={nb["name"]: nb.get("title") or nb["name"] for nb in record["notebooks"]},
        headlines=heads, actions=record.get("actions") or [],
        comparison=record.get("comparison") or history.compare(None, record),
        details={nb: [_in_words(e, (record.get("config") or {}).get("display_names")) for e in entries
                      if e.get("kind") == "detail"] for nb, entries in recorded.items()},
        model_parameters=sum(e.get("kind") == "model" and e.get("value") is not None
                             for entries in recorded.values() for e in entries),
        settings=[(nb, _in_words(e, (record.get("config") or {}).get("display_names"))) for nb, entries
                  in recorded.items() for e in entries if e.get("kind") == "setting"],
        trend_png=trend_png, trend_runs=trend_runs,
        glossary=glossary_entries(record.get("metrics"), record.get("config")),
        headlines_missing=len({(h.notebook, h.name) for h in HEADLINES}
                              - {(h["notebook"], h["name"]) for h in heads if isinstance(h, dict)}),
    )


def _in_words(entry: dict, names: dict | None) -> dict:
    """A recorded entry whose text value is a snake_case name from the data (``paid_search``)
    shown as the reports show it (``display_names``, else words: ``Paid search``); a model's
    code (``bgnbd``) as its name (``BG/NBD``)."""
    from lclib.analysis.wording import MODEL_NAMES, display_name  # not lclib.analysis.clv: no lifetimes import

    value = entry.get("value")
    if entry.get("name") == "purchase_model" and value in MODEL_NAMES:
        return {**entry, "value": MODEL_NAMES[value]}
    if isinstance(value, str) and "_" in value:
        return {**entry, "value": display_name(value, names or {})}
    return entry


def _yaml(data: dict) -> str:
    import yaml

    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
