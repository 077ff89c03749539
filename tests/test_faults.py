"""Failure is clean and coded (issue 16): signals, full or read-only disks, unreadable files,
bad settings and degenerate data end `lclib run` with a documented exit code, one line on
stderr, nothing published and nothing left running or half-written."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from conftest import make_notebook
from lclib.report import kernels, runner
from lclib.report.cli import main
from lclib.report.runner import OWNER_FILE, check_enough_data, new_run_id, run

# `lclib run` in a child process, on the notebooks of the folder given first
CLI = ("import functools, sys\nfrom pathlib import Path\nfrom lclib.report import cli, runner\n"
       "runner.run = functools.partial(runner.run, notebook_dir=Path(sys.argv[1]))\n"
       "sys.exit(cli.main(sys.argv[2:]))\n")


def _lclib_lines(stderr: str) -> list[str]:
    assert "Traceback" not in stderr, stderr
    return [line for line in stderr.splitlines() if line.startswith("lclib ")]


def _published_before(reports: Path) -> Path:
    """A published run and `latest` pointing at it (as a previous run leaves them)."""
    old = reports / "20200101-000000-0000"
    old.mkdir(parents=True)
    (reports / "latest").symlink_to(old.name, target_is_directory=True)
    return old


def _start_sleeping_run(tmp_path: Path, config: Path, n_notebooks: int, workers: int):
    """Start `lclib run -q` on notebooks that sleep; return the process and, once every
    notebook is running, all its descendant processes (workers, kernels)."""
    nbdir = tmp_path / "nbs"
    for i in range(n_notebooks):
        mark = tmp_path / f"started-{i}"
        make_notebook(nbdir / f"0{i}_sleep.ipynb", f"open({str(mark)!r}, 'w').close()", "import time\ntime.sleep(120)")
    proc = subprocess.Popen([sys.executable, "-c", CLI, str(nbdir), "run", "--config", str(config), "-q",
                             "-p", f"report.workers={workers}"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            # Ctrl-C as in a terminal, even when the tests run in the background
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 25
    while not all((tmp_path / f"started-{i}").exists() for i in range(n_notebooks)):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the notebooks did not start"
        time.sleep(0.1)
    children = psutil.Process(proc.pid).children(recursive=True)
    assert any("ipykernel" in " ".join(c.cmdline()) for c in children)
    return proc, children


@pytest.mark.parametrize(("signum", "code", "n_notebooks", "workers"), [
    (signal.SIGTERM, 143, 2, 2),  # notebooks in worker processes
    (signal.SIGINT, 130, 1, 1),   # one notebook, driven by a thread of the runner
], ids=["sigterm-workers", "sigint-one-worker"])
def test_a_stopped_run_ends_its_kernels_and_leaves_nothing(tiny_config, tmp_path, signum, code, n_notebooks,
                                                           workers):
    reports = tmp_path / "reports"
    old = _published_before(reports)
    proc, children = _start_sleeping_run(tmp_path, tiny_config, n_notebooks, workers)
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=25)
    assert proc.returncode == code, stderr
    how = "Ctrl-C (SIGINT)" if code == 130 else "SIGTERM"
    assert _lclib_lines(stderr) == [f"lclib run: stopped by {how}; nothing was published"]
    _, alive = psutil.wait_procs(children, timeout=5)
    assert not alive, [p.cmdline() for p in alive]
    assert sorted(p.name for p in reports.iterdir()) == ["20200101-000000-0000", "latest"]
    assert (reports / "latest").resolve() == old


def test_a_killed_run_stops_its_kernels_and_the_next_run_removes_its_folder(tiny_config, tmp_path):
    reports = tmp_path / "reports"
    proc, children = _start_sleeping_run(tmp_path, tiny_config, 2, 2)
    proc.kill()  # kill -9: nothing can be cleaned up by the run itself
    proc.wait(10)
    _, alive = psutil.wait_procs(children, timeout=10)  # workers die with the runner, kernels with them
    assert not alive, [p.cmdline() for p in alive]
    (stale,) = reports.glob(".building-*")
    owner = json.loads((stale / OWNER_FILE).read_text())
    assert owner["pid"] == proc.pid
    scratch = Path(owner["scratch"])
    assert scratch.is_dir()  # the cleaned data of the killed run
    # the next run removes both; a folder whose process still runs (this one) is left alone
    live = reports / ".building-20200101-000000-live"
    live.mkdir()
    (live / OWNER_FILE).write_text(json.dumps(runner._owner()))
    assert runner.remove_stale_builds(reports) == [stale]
    assert not stale.exists() and not scratch.exists() and live.exists()


def test_the_next_run_removes_kernel_socket_folders_of_processes_that_no_longer_run(tmp_path):
    import shutil
    import tempfile

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(gone.stdout)
    root = Path(tempfile.gettempdir())
    dead = Path(tempfile.mkdtemp(prefix=f"{kernels.IPC_PREFIX}{dead_pid}-", dir=root))
    (dead / "kernel-1").write_text("")
    live = Path(tempfile.mkdtemp(prefix=f"{kernels.IPC_PREFIX}{os.getpid()}-", dir=root))
    other = root / f"{kernels.IPC_PREFIX}not-a-pid"
    other.mkdir(exist_ok=True)
    try:
        assert runner.remove_stale_builds(tmp_path) == []  # no build left; the socket folders are checked
        assert not dead.exists() and live.exists() and other.exists()
    finally:
        for folder in (dead, live, other):
            shutil.rmtree(folder, ignore_errors=True)


def test_read_only_or_file_out_is_exit_3_with_one_line(tiny_config, tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anywhere: /sys refuses even root
        locked = Path("/sys/lclib-reports")
        if not _mkdir_fails(locked):
            pytest.skip("no read-only folder available")
    else:
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        locked = ro / "reports"
    assert main(["run", "--config", str(tiny_config), "--out", str(locked), "-q"]) == 3
    (line,) = _lclib_lines(capsys.readouterr().err)
    assert line.startswith("lclib run: file error: cannot create or write the reports folder: "
                           f"{locked}: ") and line.endswith("; nothing was published")
    afile = tmp_path / "afile"
    afile.write_text("")
    assert main(["run", "--config", str(tiny_config), "--out", str(afile), "-q"]) == 3
    assert _lclib_lines(capsys.readouterr().err) == [
        f"lclib run: file error: cannot use {afile} as the reports folder: it is a file; nothing was published"]


def _mkdir_fails(path: Path) -> bool:
    try:
        path.mkdir()
    except OSError:
        return True
    path.rmdir()
    return False


def test_unreadable_input_is_exit_3_naming_the_file(tiny_config, tmp_path, capsys, monkeypatch):
    tx = tmp_path / "tx.csv"
    if os.geteuid() == 0:  # root reads anything: make the read fail as it would for a user
        def refuse(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        monkeypatch.setattr("lclib.io.load.file_sha256", refuse)
    else:
        tx.chmod(0)
    for command in (["validate"], ["run", "-q"]):
        assert main([*command, "--config", str(tiny_config)]) == 3
        (line,) = _lclib_lines(capsys.readouterr().err)
        assert f"file error: {tx}: Permission denied" in line
    assert not list((tmp_path / "reports").glob(".building-*"))


def test_full_disk_leaves_no_truncated_file_and_no_empty_error_txt(tiny_config, tmp_path, monkeypatch):
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_first.ipynb", "x = 1")
    reports = tmp_path / "reports"
    old = _published_before(reports)
    write_text = Path.write_text

    def disk_fills_up(self, data, *args, **kwargs):
        if self.name.endswith(".html.part"):  # the first HTML export hits a full disk half-way
            write_text(self, data[: len(data) // 2], *args, **kwargs)
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_fills_up)
    result = run(tiny_config, notebook_dir=nbdir)
    assert result.exit_code == 3 and result.status == "storage" and result.folder is None
    html = reports / f".building-{result.run_id}" / "00_first.html"
    assert result.message == f"00_first.ipynb: {html}: No space left on device"
    # nothing half-written stays: no building folder, no failed/ with an empty error.txt
    assert sorted(p.name for p in reports.iterdir()) == ["20200101-000000-0000", "latest"]
    assert (reports / "latest").resolve() == old


def test_full_temporary_folder_is_exit_3(tiny_config, tmp_path, monkeypatch, capsys):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/tmp/lclib-x")
    monkeypatch.setattr(runner.tempfile, "mkdtemp", full)
    assert main(["run", "--config", str(tiny_config), "-q"]) == 3
    assert _lclib_lines(capsys.readouterr().err) == [(
        "lclib run: file error: cannot create a temporary folder: /tmp/lclib-x: No space left on device; "
        "nothing was published")]
    assert list((tmp_path / "reports").iterdir()) == []


def test_runs_started_in_the_same_second_get_their_own_ids_and_failed_folders(tiny_config, tmp_path, monkeypatch):
    import datetime as dt
    from types import SimpleNamespace

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz=None):
            return cls(2026, 1, 2, 3, 4, 5)

    monkeypatch.setattr(runner, "dt", SimpleNamespace(datetime=Frozen, date=dt.date, time=dt.time))
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,amount,channel\nA,O1,2024-01-01,abc,x\n")
    first, second = run(tiny_config), run(tiny_config)
    assert first.exit_code == second.exit_code == 2
    assert first.run_id != second.run_id and first.run_id.startswith("20260102-030405-")
    failed = tmp_path / "reports" / "failed"
    assert sorted(p.name for p in failed.iterdir()) == sorted([first.run_id, second.run_id])
    assert all((failed / r.run_id / "error.txt").read_text() for r in (first, second))
    ids = {new_run_id(tmp_path) for _ in range(200)}
    assert len(ids) > 190  # 4 random hex digits; a taken one is drawn again when claimed


@pytest.mark.parametrize("as_of", ["2024-13-45", "2024-02-30"])
def test_an_impossible_date_is_exit_2_naming_the_key(tiny_config, capsys, as_of):
    assert main(["validate", "--config", str(tiny_config), "-p", f"analysis.as_of={as_of}"]) == 2
    err = capsys.readouterr().err
    assert "analysis.as_of:" in err and as_of in err and "Traceback" not in err
    text = tiny_config.read_text() + f"analysis:\n  as_of: {as_of}\n"
    tiny_config.write_text(text)
    assert main(["run", "--config", str(tiny_config), "-q"]) == 2
    assert "analysis.as_of:" in capsys.readouterr().err


def test_a_config_that_is_not_utf8_is_exit_2_naming_the_file(tiny_config, capsys):
    tiny_config.write_bytes(tiny_config.read_bytes() + "# caf\xe9\n".encode("latin-1"))
    for command in (["validate"], ["run", "-q"]):
        assert main([*command, "--config", str(tiny_config)]) == 2
        err = capsys.readouterr().err
        assert f"{tiny_config}: not UTF-8" in err and "Traceback" not in err


@pytest.mark.parametrize(("rows", "override", "says"), [
    ("A,O1,2024-01-02 10:00,10\nA,O2,2024-02-03 11:00,20\n", [], "only one customer:"),
    ("A,O1,2024-01-02 10:00,10\nB,O2,2024-01-02 17:00,20\nA,O3,2024-01-02 18:00,5\n", [],
     "only one purchase date (2024-01-02):"),
    ("A,O1,2024-01-02 10:00,10\nB,O2,2024-02-03 11:00,20\n", ["-p", "analysis.as_of=2023-06-30"],
     "no order before analysis.as_of 2023-06-30: the data start on 2024-01-02"),
], ids=["one-customer", "one-day", "as-of-before-the-data"])
def test_degenerate_data_is_exit_2_blaming_the_data(tiny_config, tmp_path, capsys, rows, override, says):
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,amount,channel\n"
                                     + rows.replace("\n", ",web\n"))
    assert main(["validate", "--config", str(tiny_config), *override]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'tx.csv'} (inputs.transactions): {says}" in err and "states." not in err
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_first.ipynb", "raise SystemExit('must not run')")
    result = run(tiny_config, overrides=[o for o in override if o != "-p"], notebook_dir=nbdir)
    assert result.exit_code == 2 and says in result.message


def test_enough_data_passes_the_check(tiny_config):
    from lclib.config import load_config
    from lclib.io.dataset import load_dataset

    cfg = load_config(tiny_config)
    check_enough_data(cfg, load_dataset(cfg))  # 2 customers on 3 days: no error


def test_timeout_is_for_the_whole_notebook(tiny_config, tmp_path):
    nbdir = tmp_path / "nbs"
    # every cell is well within the limit; together they are not
    make_notebook(nbdir / "00_slow.ipynb", *["import time\ntime.sleep(2.5)"] * 5)
    t = time.monotonic()
    result = run(tiny_config, overrides=["report.timeout_seconds=8"], notebook_dir=nbdir)
    assert result.exit_code == 1
    assert "report.timeout_seconds is 8 s for the whole notebook" in result.notebooks[0].error
    assert time.monotonic() - t < 25
    # the executed notebook, written once when it stopped, is kept with the cells that ran
    import nbformat

    kept = nbformat.read(str(tmp_path / "reports" / "failed" / result.run_id / "notebooks" / "00_slow.ipynb"), 4)
    ran = [c for c in kept.cells if c.cell_type == "code" and c.get("execution_count")]
    assert 1 <= len(ran) < 7  # some cells ran (how many depends on the kernel's start), not all 7


def test_the_executed_notebook_is_written_when_it_ends_not_at_every_cell(tmp_path, monkeypatch):
    import papermill.engines
    from lclib.report.worker import execute_notebook

    writes = []
    real = papermill.engines.write_ipynb
    monkeypatch.setattr(papermill.engines, "write_ipynb", lambda nb, path: (writes.append(path), real(nb, path)))
    nb = make_notebook(tmp_path / "nbs" / "00_cells.ipynb", *[f"x = {i}" for i in range(10)])
    (tmp_path / "b" / "notebooks").mkdir(parents=True)
    status, _, error = execute_notebook(nb, tmp_path / "b", {}, str(tmp_path), 60)
    assert (status, error) == ("ok", None)
    assert len(writes) == 2  # when it starts and ends; papermill wrote it 26 times, also at each of 12 cells' start and end
    assert (tmp_path / "b" / "00_cells.html").exists()


def test_the_wilson_interval_holds_its_proportion_and_the_churn_plot_draws_it():
    from lclib.analysis.intervals import wilson_interval
    from lclib.plots.churn import plot_repeat_curve

    n = np.arange(1, 2000)
    for k in (n, np.zeros_like(n), n // 3):
        lower, upper = wilson_interval(k, n)
        assert (lower <= k / n).all() and (upper >= k / n).all() and (lower >= 0).all() and (upper <= 1).all()
    # the first 3,000 lines of the sample: every one of the 10 customers with 6 orders ordered again,
    # and the rounded Wilson bound (1 - 1e-16) made matplotlib refuse a negative error bar
    eligible = np.array([400, 120, 40, 10])
    repeated = np.array([200, 60, 20, 10])
    lower, upper = wilson_interval(repeated, eligible)
    curve = pd.DataFrame({"eligible": eligible, "repeated": repeated, "p_next": repeated / eligible,
                          "lower": lower, "upper": upper}, index=pd.Index([1, 2, 3, 4], name="n"))
    ax = plot_repeat_curve(curve, 90)
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_kernels_are_shut_down_without_an_interrupt():
    """jupyter_client interrupts a kernel before shutting it down; an idle ipykernel then logs
    "KeyboardInterrupt caught in kernel." on the terminal. The runner's kernel manager does not."""
    import asyncio

    km = kernels.quiet_kernel_manager()()
    km.shutting_down = True
    asyncio.run(km._async_interrupt_kernel())  # no kernel, yet no "Cannot interrupt kernel" either
    km.shutting_down = False
    with pytest.raises(RuntimeError, match="Cannot interrupt kernel"):
        asyncio.run(km._async_interrupt_kernel())
