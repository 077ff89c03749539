"""The engine is passed, never set for the whole kernel: with ``analysis.engine: pandas`` no
report notebook queries DuckDB, and opening a run changes no process-wide default."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from lclib.config import load_config  # noqa: E402
from lclib.engine import sql as E  # noqa: E402
from lclib.engine.orders import compact_order_lines_file  # noqa: E402
from lclib.io.dataset import load_dataset  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@pytest.fixture(scope="module")
def run_cache(tmp_path_factory):
    """The sample's cleaned tables cached as ``lclib run`` caches them (transactions compacted, on disk)."""
    folder = tmp_path_factory.mktemp("cache")
    load_dataset(load_config()).save(folder)
    compact_order_lines_file(folder / "transactions.parquet")
    return folder


def run_cells(notebook: Path, namespace: dict) -> None:
    """Execute a notebook's code cells in this process (so a patch of lclib applies to them)."""
    cells = [c for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(cells):
        source = "".join(cell["source"])
        if "parameters" in (cell.get("metadata", {}).get("tags") or []):
            continue  # the namespace holds the parameters
        exec(compile(source, f"{notebook.name}, cell {i}", "exec"), namespace)  # noqa: S102 - our own notebooks


@pytest.mark.parametrize("name", ["00_data_overview", "01_journey", "02_stages", "03_rfm", "04_churn", "05_clv",
                                  "06_experiments", "07_customer_scores"])
def test_with_the_pandas_engine_no_notebook_queries_duckdb(name, run_cache, tmp_path, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("queried DuckDB although analysis.engine is pandas: an engine= was not passed")

    monkeypatch.setattr(E, "relation", refuse)
    before = E.default_engine()
    namespace = {"__name__": "__main__", "CONFIG": None, "DATA_DIR": str(run_cache), "OUTPUT_DIR": str(tmp_path),
                 "OVERRIDES": {"analysis.engine": "pandas"}}
    with matplotlib.rc_context():  # open_run sets the report's plot style: not for the tests that follow
        run_cells(NOTEBOOKS / f"{name}.ipynb", namespace)
        matplotlib.pyplot.close("all")
    assert namespace["cfg"].analysis.engine == "pandas"
    assert E.default_engine() == before  # open_run set nothing for the kernel
