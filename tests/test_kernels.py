"""Kernels started ahead of their notebook (lclib.report.kernels) and the workers started while the data loads."""

from __future__ import annotations

import sys
import time

import nbformat
import papermill as pm
import psutil
import pytest

from conftest import make_notebook
from lclib.report import kernels
from lclib.report.runner import run


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


def _ends(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def test_notebook_imports_lists_absolute_imports_once_and_skips_magics(tmp_path):
    a = _notebook(tmp_path / "a.ipynb", "import pandas as pd\nimport os.path", "%matplotlib inline\nimport json",
                  "from lclib.analysis import rfm, stages\nfrom . import nothing\nfrom x import *")
    b = _notebook(tmp_path / "b.ipynb", "import pandas as pd\ndef f():\n    from lclib.analysis import rfm, stages")
    assert kernels.notebook_imports([a, b, tmp_path / "missing.ipynb"]) == [
        ("pandas", []), ("os.path", []), ("lclib.analysis", ["rfm", "stages"]), ("x", [])]


def test_the_warm_up_imports_and_leaves_no_name_even_when_an_import_fails():
    sys.modules.pop("colorsys", None)
    namespace: dict = {}
    exec(kernels.warm_code([("no_such_module_anywhere", []), ("colorsys", []), ("lclib.analysis", ["wording"])]),
         namespace)
    assert set(namespace) == {"__builtins__"}
    assert "colorsys" in sys.modules and "lclib.analysis.wording" in sys.modules


def test_a_notebook_runs_in_the_warm_kernel_from_execution_count_one(tmp_path):
    """The worker's first notebook gets the kernel started ahead: the modules are there, no name of the
    warm-up is, its cells are numbered from 1, and the kernel is shut down with the notebook."""
    nb = _notebook(tmp_path / "nb.ipynb",
                   "import sys\nprint('colorsys' in sys.modules, [n for n in dir() if 'lclib' in n])",
                   "import os\nprint(os.getcwd())")
    assert kernels.warm_kernel(str(tmp_path), [("colorsys", [])])
    km = kernels._SPARE[0]
    kernel_pid = km.provisioner.process.pid
    out = pm.execute_notebook(str(nb), str(tmp_path / "out.ipynb"), kernel_name="python3", cwd=str(tmp_path),
                              progress_bar=False, kernel_manager_class=kernels.kernel_manager_class(str(tmp_path)),
                              extra_arguments=list(kernels.KERNEL_ARGUMENTS))
    first, second = out.cells
    assert first.outputs[0]["text"] == "True []\n"
    assert (first.execution_count, second.execution_count) == (1, 2)
    assert second.outputs[0]["text"].strip() == str(tmp_path)
    assert kernels._SPARE is None  # handed out once
    assert _ends(kernel_pid), "the warm kernel outlived its notebook"


@pytest.mark.skipif(sys.platform == "win32", reason="Unix sockets: POSIX only")
def test_report_kernels_talk_over_unix_sockets_in_a_private_folder_removed_with_the_kernel(tmp_path):
    """No TCP port is picked and bound later (two kernels starting at once could pick the same one); the
    sockets' folder is the user's only, at an absolute path (the kernel runs in another folder)."""
    import os
    import stat

    from jupyter_core.utils import run_sync

    assert kernels.warm_kernel(str(tmp_path), [("colorsys", [])])
    km, kc, msg_id, _ = kernels._SPARE
    folder = os.path.dirname(km.ip)
    assert km.transport == "ipc" and os.path.isabs(km.ip) and os.path.basename(folder).startswith(kernels.IPC_PREFIX)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert kernels.take_spare(str(tmp_path)) is km  # its warm-up answered over those sockets
    assert sorted(os.listdir(folder)) == [f"kernel-{i}" for i in range(1, 6)]
    run_sync(km.shutdown_kernel)(now=True)
    run_sync(km.cleanup_resources)()
    assert not os.path.exists(folder)
    assert kernels.warm_kernel(str(tmp_path), [])  # a worker stopped: its kernels' folders go too
    folder = os.path.dirname(kernels._SPARE[0].ip)
    kernels._SPARE[0].provisioner.process.kill()
    kernels.remove_socket_folders()
    assert not os.path.exists(folder)
    kernels.drop_spare()


def test_a_spare_kernel_for_another_folder_or_a_dead_one_is_not_used(tmp_path):
    assert kernels.warm_kernel(str(tmp_path), [])
    pid = kernels._SPARE[0].provisioner.process.pid
    assert kernels.take_spare(str(tmp_path / "elsewhere")) is None  # and it is shut down
    assert kernels._SPARE is None
    assert _ends(pid)
    assert kernels.warm_kernel(str(tmp_path), [])
    kernels._SPARE[0].provisioner.process.kill()
    assert kernels.take_spare(str(tmp_path), timeout=5) is None
    assert kernels.take_spare(str(tmp_path)) is None  # nothing left


def test_invalid_data_ends_the_workers_started_while_it_loaded(tiny_config, tmp_path):
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,amount,channel\n"
                                     "A,O1,2024-01-02 10:00,10,web\nA,O2,2024-02-03 11:00,20,web\n")
    nbdir = tmp_path / "nbs"
    for name in ("01_a", "02_b"):
        make_notebook(nbdir / f"{name}.ipynb", "print(1)")
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = run(tiny_config, overrides=["report.workers=2"], notebook_dir=nbdir)
    assert result.status == "invalid" and "only one customer" in result.message
    left = [p for p in psutil.Process().children(recursive=True) if p.pid not in before and p.is_running()
            and p.status() != psutil.STATUS_ZOMBIE
            and "resource_tracker" not in " ".join(p.cmdline())]  # multiprocessing's, for the test process's life
    assert left == []


def test_two_notebooks_at_once_both_run_in_kernels_started_while_the_data_loaded(tiny_config, tmp_path):
    nbdir = tmp_path / "nbs"
    probe = "import sys\nprint('lclib.analysis.wording' in sys.modules)"
    for name in ("01_a", "02_b"):
        make_notebook(nbdir / f"{name}.ipynb", "from lclib.analysis import wording", probe)
    # the probe cell runs first in each kernel: the import is there only if the kernel was warmed
    for path in nbdir.glob("*.ipynb"):
        nb = nbformat.read(str(path), as_version=4)
        nb.cells[2], nb.cells[3] = nb.cells[3], nb.cells[2]
        nbformat.write(nb, str(path))
    result = run(tiny_config, overrides=["report.workers=2"], notebook_dir=nbdir)
    assert result.status == "ok", result.error
    for name in ("01_a", "02_b"):
        nb = nbformat.read(str(result.folder / "notebooks" / f"{name}.ipynb"), as_version=4)
        probed = next(c for c in nb.cells if c.source == probe)
        assert probed.outputs[0]["text"] == "True\n"


def test_no_worker_is_started_ahead_of_a_run_the_memory_gives_one_at_a_time(tiny_config, tmp_path, monkeypatch):
    from lclib.report import runner

    nbdir = tmp_path / "nbs"
    for name in ("01_a", "02_b"):
        make_notebook(nbdir / f"{name}.ipynb", "print(1)")
    monkeypatch.setattr(runner, "memory_workers", lambda workers, orders, available=None: (1, "one at a time"))
    monkeypatch.setattr(runner, "_start_workers", lambda *a, **k: pytest.fail("workers started ahead"))
    result = run(tiny_config, overrides=["report.workers=2"], notebook_dir=nbdir)
    assert result.status == "ok", result.message


def test_the_lines_of_a_parquet_source_bound_the_orders_before_loading(tmp_path):
    import pandas as pd

    from lclib.config import load_config
    from lclib.report.runner import _source_lines

    pd.DataFrame({"customer_id": ["a", "b", "c"], "order_id": ["1", "2", "3"], "amount": 1.0,
                  "timestamp": pd.to_datetime(["2024-01-01"] * 3)}).to_parquet(tmp_path / "tx.parquet")
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,amount\na,1,2024-01-01,1\n", encoding="utf-8")
    for name, lines in (("tx.parquet", 3), ("tx.csv", 0), ("missing.parquet", 0)):
        (tmp_path / "lclib.yaml").write_text(f"inputs:\n  transactions:\n    path: {name}\n    columns: "
                                             "{customer_id: customer_id, order_id: order_id, timestamp: "
                                             "timestamp, amount: amount}\n", encoding="utf-8")
        assert _source_lines(load_config(tmp_path / "lclib.yaml")) == lines


def test_process_environment_adds_only_the_unset_variables_and_removes_them_afterwards(monkeypatch):
    from lclib.report.environment import PROCESS_ENVIRONMENT, process_environment

    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")  # the user's choice
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    import os

    with process_environment() as added:
        assert added == {"ARROW_DEFAULT_MEMORY_POOL": "system"}
        assert os.environ["ARROW_DEFAULT_MEMORY_POOL"] == PROCESS_ENVIRONMENT["ARROW_DEFAULT_MEMORY_POOL"]
        assert os.environ["NUMPY_MADVISE_HUGEPAGE"] == "1"
    assert "ARROW_DEFAULT_MEMORY_POOL" not in os.environ
    assert os.environ["NUMPY_MADVISE_HUGEPAGE"] == "1"


@pytest.mark.parametrize("workers", [1, 2])
def test_report_kernels_ask_for_no_huge_pages_unless_the_environment_says_otherwise(tiny_config, tmp_path,
                                                                                   monkeypatch, workers):
    import os

    nbdir = tmp_path / "nbs"
    probe = ("import numpy, pyarrow\n"
             "print(numpy._core.multiarray._get_madvise_hugepage(), pyarrow.default_memory_pool().backend_name)")
    make_notebook(nbdir / "01_a.ipynb", probe)
    make_notebook(nbdir / "02_b.ipynb", "print(1)")
    monkeypatch.delenv("NUMPY_MADVISE_HUGEPAGE", raising=False)
    monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL", raising=False)
    result = run(tiny_config, overrides=[f"report.workers={workers}"], notebook_dir=nbdir)
    assert result.status == "ok", result.message
    nb = nbformat.read(str(result.folder / "notebooks" / "01_a.ipynb"), as_version=4)
    assert next(c for c in nb.cells if c.source == probe).outputs[0]["text"] == "False system\n"
    assert "NUMPY_MADVISE_HUGEPAGE" not in os.environ and "ARROW_DEFAULT_MEMORY_POOL" not in os.environ

    monkeypatch.setenv("NUMPY_MADVISE_HUGEPAGE", "1")
    monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "mimalloc")
    result = run(tiny_config, overrides=[f"report.workers={workers}"], notebook_dir=nbdir)
    assert result.status == "ok", result.message
    nb = nbformat.read(str(result.folder / "notebooks" / "01_a.ipynb"), as_version=4)
    assert next(c for c in nb.cells if c.source == probe).outputs[0]["text"] == "True mimalloc\n"
