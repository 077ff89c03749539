"""The notebook side of ``lclib run``: execute one notebook, export its HTML, run as a worker process.

:mod:`lclib.report.runner` loads the data and schedules; the functions here run a
notebook (:func:`execute_notebook`, papermill) and write its two HTML files
(:func:`export_html`, nbconvert), in a thread of the runner or in a spawned worker
process (:func:`_worker_init`, :func:`_run_job`). A worker imports this module and
what it needs, not the loader: no pandas, DuckDB or pandera in a process that
only waits for its kernel (papermill itself brings numpy and Arrow; ``lclib``
imports its subpackages when first used),
so a worker holds about 125 MiB instead of 190 MiB (measured after the imports and the
exporter warm-up).
"""

from __future__ import annotations

import functools
import json
import os
import re
import signal
import sys
import time
from pathlib import Path
from typing import Iterable

from lclib.report import kernels
from lclib.report.record import MIMETYPE


def storage_message(e: OSError, path: str | Path | None = None) -> str:
    """``<path>: <reason>`` for an OSError: its own file name, else ``path``."""
    name = e.filename if e.filename is not None else path
    reason = e.strerror or str(e) or type(e).__name__
    if e.filename2 is not None:
        name = f"{name} -> {e.filename2}"
    return f"{name}: {reason}" if name is not None else reason


def export_html(executed: Path, target: Path, with_code: bool, title: str, reports: "Iterable[str]" = ()) -> None:
    """Write one self-contained HTML file (images embedded) from an executed notebook.

    ``reports``: the run's notebook stems, for links between reports (:func:`link_report`)."""
    import nbformat

    nb = nbformat.read(str(executed), as_version=4)
    body = _html(nb, with_code, title)
    _write_whole(target, link_report(body, target, with_code, reports))


def _warm_exporter() -> None:
    """Load what :func:`export_html` needs (nbconvert, its templates; about 2 s) before a notebook has run."""
    try:
        import nbformat

        _html(nbformat.v4.new_notebook(), with_code=True, title="")
    except Exception:  # noqa: BLE001 - the first export loads it then
        pass


def _html(nb, with_code: bool, title: str) -> str:
    """The HTML page of the notebook node ``nb`` (see :func:`export_html`)."""
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
    from lclib.report import answers

    answers.register(exporter, with_code=with_code)  # Answers right under the title; analyst-only cells out
    body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": title}})
    return body


#: A report named in a sentence ("report 02"); an export named in code (``customer_scores.csv``).
_REPORT_REF = re.compile(r"\b([Rr]eports? )(0[0-9])\b")
_EXPORT_REF = re.compile(r"<code>([A-Za-z0-9_.-]+\.(?:csv|parquet))</code>")


def link_report(html: str, target: Path, with_code: bool, reports: "Iterable[str]" = ()) -> str:
    """Links a reader of one report needs: back to the run's index and to the other version of
    the report (a line at the top), each export the text names (``<code>x.csv</code>`` of a file
    in ``exports/``), and, in the business version, "report 02" to that report.

    ``reports``: the stems of the run's notebooks (``04_churn``); "report 04" links to the one
    numbered 04. Only such stems and export names matching ``[A-Za-z0-9_.-]+`` go into the
    links; the page text is not otherwise changed.
    """
    folder = target.parent
    stem = target.name.removesuffix(".analyst.html").removesuffix(".html")
    other, label = ((f"{stem}.html", "Business version") if with_code else
                    (f"{stem}.analyst.html", "Version for analysts (code, model diagnostics)"))
    a = 'style="color:#0550ae"'
    nav = (f'<nav class="lclib-nav" style="font:14px/1.4 system-ui,-apple-system,\'Segoe UI\',sans-serif;'
           f'padding:0.6em 10px 0"><a {a} href="index.html">&larr; All reports of this run</a> &middot; '
           f'<a {a} href="{other}">{label}</a></nav>')
    html = html.replace("<main>", "<main>" + nav, 1)
    exports = folder / "exports"
    html = _EXPORT_REF.sub(lambda m: (f'<a {a} href="exports/{m.group(1)}"><code {a}>{m.group(1)}</code></a>'
                                      if (exports / m.group(1)).is_file() else m.group(0)), html)
    if not with_code:
        stems = {name[:2]: name for name in reports if name[:2].isdigit()}
        html = _REPORT_REF.sub(lambda m: (f'<a href="{stems[m.group(2)]}.html">{m.group(1)}{m.group(2)}</a>'
                                          if m.group(2) in stems and stems[m.group(2)] != stem else m.group(0)),
                               html)
    return html


def _write_whole(target: Path, text: str) -> None:
    """Write ``text`` to ``target`` whole or not at all (a full disk leaves no truncated file)."""
    part = target.with_name(f".{target.name}.part")
    try:
        part.write_text(text, encoding="utf-8")
        os.replace(part, target)
    except OSError as e:
        part.unlink(missing_ok=True)
        if e.filename is None:
            e.filename = str(target)
        raise


def notebook_title(path: Path) -> str:
    """The first Markdown heading of a notebook, or its file name."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    for cell in nb.get("cells", []):
        if cell.get("cell_type") == "markdown":
            for line in "".join(cell.get("source", "")).splitlines():
                if line.startswith("#"):
                    return line.lstrip("#").strip()
    return path.stem


def execute_notebook(path: Path, building: Path, parameters: dict, cwd: str,
                     timeout: int) -> tuple[str, float, str | None]:
    """Execute one notebook into ``building/notebooks`` and export its two HTML files.

    Runs in a worker process or thread (see :func:`_execute_all`), so it takes and
    returns plain values: ``(status, seconds, error)`` with status ``"ok"``, ``"failed"`` (the notebook
    raised, or ran out of time) or ``"storage"`` (a file could not be written; the error
    names it), the execution time, and the short error text.

    ``timeout`` (``report.timeout_seconds``) bounds the whole notebook, kernel start
    included: papermill's ``execution_timeout`` is per cell, so every cell is given what
    is left of the notebook's time.
    """
    import papermill as pm

    _register_engine()
    executed = building / "notebooks" / path.name
    t = time.perf_counter()
    deadline = time.monotonic() + timeout
    try:
        pm.execute_notebook(
            str(path), str(executed), parameters=parameters,
            kernel_name="python3", cwd=cwd, progress_bar=False,
            log_output=False, execution_timeout=timeout,
            timeout_func=lambda cell: max(0.01, deadline - time.monotonic()),
            # the kernel this worker started while the data loaded, if any (lclib.report.kernels)
            kernel_manager_class=kernels.kernel_manager_class(cwd),
            extra_arguments=list(kernels.KERNEL_ARGUMENTS),
            engine_name=ENGINE,
        )
    except TimeoutError as e:  # nbclient's CellTimeoutError (an OSError too: checked first)
        seconds = time.perf_counter() - t
        if time.monotonic() >= deadline - 1:
            return "failed", seconds, (f"TimeoutError: the notebook ran out of time: report.timeout_seconds is "
                                       f"{timeout} s for the whole notebook (stopped after {seconds:.0f} s)")
        return "failed", seconds, _short_error(e)
    except OSError as e:  # papermill could not write the executed notebook
        return "storage", time.perf_counter() - t, storage_message(e, executed)
    except Exception as e:  # papermill raises PapermillExecutionError and others
        if _is_out_of_space(e):  # a cell could not write (an export): the disk, not the notebook
            return "storage", time.perf_counter() - t, f"{e.ename}: {e.evalue}"
        return "failed", time.perf_counter() - t, _short_error(e)
    seconds = time.perf_counter() - t
    title = notebook_title(path)
    try:
        reports = [p.stem for p in path.parent.glob("[0-9][0-9]_*.ipynb")]
        export_html(executed, building / f"{path.stem}.html", with_code=False, title=title, reports=reports)
        export_html(executed, building / f"{path.stem}.analyst.html", with_code=True, title=title, reports=reports)
    except OSError as e:
        return "storage", seconds, storage_message(e, building)
    return "ok", seconds, None


#: the papermill engine :func:`execute_notebook` runs (:func:`_register_engine`)
ENGINE = "lclib"


@functools.cache  # once a process
def _register_engine() -> None:
    """Register papermill's nbclient engine, saving the executed notebook once, when it ends.

    papermill writes the whole notebook (its images included) at every cell's start and end:
    80 writes for the churn report, 1 to 2 s of a worker's CPU time a run at 10M lines, taken
    from the kernels. The executed notebook is read only after its end (the HTML export) or
    its failure (``reports/failed/``); papermill's own ``notebook_complete`` still writes it then,
    after an error or a timeout too, so nothing read is lost.
    """
    from papermill.engines import NBClientEngine, papermill_engines

    class SaveAtEnd(NBClientEngine):
        @classmethod
        def execute_managed_notebook(cls, nb_man, kernel_name, **kwargs):
            path, nb_man.output_path = nb_man.output_path, None  # no write at each cell's start and end
            try:
                return super().execute_managed_notebook(nb_man, kernel_name, **kwargs)
            finally:  # papermill's notebook_complete writes it next, however the cells ended
                nb_man.output_path = path

    papermill_engines.register(ENGINE, SaveAtEnd)


#: errno values of a cell's OSError that mean the disk, not the notebook, failed:
#: ENOSPC, EDQUOT, EFBIG (file size limit), EROFS.
_OUT_OF_SPACE = ("[Errno 28]", "[Errno 122]", "[Errno 27]", "[Errno 30]")


def _is_out_of_space(e: Exception) -> bool:
    return (getattr(e, "ename", None) in ("OSError", "IOError")
            and str(getattr(e, "evalue", "")).startswith(_OUT_OF_SPACE))


#: The runner's process id, in a notebook worker (set by :func:`_worker_init`).
_RUNNER_PID: int | None = None


def _worker_init(runner_pid: int, warm: tuple[str, list] | None = None) -> None:
    """Set up a notebook worker process.

    - Ctrl-C is the runner's to handle (the terminal sends SIGINT to every process of
      the group): the worker ignores it;
    - on SIGTERM it ends its kernel and exits (the runner sends it when it is stopped);
    - on Linux it gets SIGTERM when the runner dies, even by ``kill -9``; a kernel
      exits within a second of its worker (ipykernel watches its parent process);
    - ``warm`` (the notebooks' folder and their imports): it starts the kernel its first
      notebook will run in (:func:`lclib.report.kernels.warm_kernel`; shut down when the
      worker ends, if unused) and loads what an HTML export needs.
    """
    global _RUNNER_PID
    _RUNNER_PID = runner_pid
    _worker_signals()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != runner_pid:  # the runner is already gone
        os._exit(1)
    if warm is not None:
        from multiprocessing import util

        util.Finalize(None, kernels.drop_spare, exitpriority=10)  # a worker ending normally shuts it down
        kernels.warm_kernel(*warm)  # the kernel imports meanwhile
        import papermill  # noqa: F401 - imported by execute_notebook: now, while the data loads

        _warm_exporter()


def _worker_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_stop)


def _worker_stop(signum: int, frame) -> None:
    """SIGTERM in a worker between notebooks or while exporting: end its kernels, exit."""
    _end_processes(_child_pids())
    kernels.remove_socket_folders()
    os._exit(128 + signum)


def _run_job(*job) -> tuple[str, float, str | None]:
    """:func:`execute_notebook` in a worker.

    While a notebook runs, nbclient handles SIGINT and SIGTERM itself (it shuts the kernel
    down, and the notebook fails) and afterwards resets them to the defaults: the
    worker's own handling is set again after every notebook.
    """
    try:
        return execute_notebook(*job)
    finally:
        _worker_signals()
        if _RUNNER_PID is not None and os.getppid() != _RUNNER_PID:
            os._exit(1)  # the runner died meanwhile: nobody wants the result


def _child_pids(pid: int | None = None) -> list[int]:
    """Process ids of the descendants of ``pid`` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            return [c.pid for c in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            return []
    try:  # Linux without psutil: direct children only
        tasks = Path(f"/proc/{pid}/task")
        return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()]
    except (OSError, ValueError):
        return []


def _end_processes(pids: list[int], grace: float = 3.0) -> None:
    """SIGTERM ``pids``, then SIGKILL those still running after ``grace`` seconds."""
    def alive(pid: int) -> bool:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)  # a child of this process: reap it
            return done == 0
        except ChildProcessError:
            pass
        try:
            os.kill(pid, 0)
            return True
        except ProcessLookupError:
            return False
        except PermissionError:
            return True

    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    running = [p for p in pids if alive(p)]
    while running and time.monotonic() < deadline:
        time.sleep(0.05)
        running = [p for p in running if alive(p)]
    for pid in running:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _short_error(e: Exception) -> str:
    """The notebook error without ANSI colour codes, the traceback's last lines first."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).strip()
    ename = getattr(e, "ename", None)
    evalue = getattr(e, "evalue", None)
    head = f"{ename}: {evalue}" if ename else type(e).__name__
    return f"{head}\n\n{text}" if text and text != head else head
