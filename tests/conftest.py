"""Shared fixtures: a tiny valid export and a config pointing at it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
import yaml

TX = """customer_id,order_id,timestamp,amount,channel
17850.0,O1,2024-01-02 10:00:00,10.50,email
17850.0,O2,2024-02-03 11:00:00,20.00,direct
12346.0,O3,2024-01-15 09:30:00,7.25,paid_search
12346.0,O3,2024-01-15 09:30:00,7.25,paid_search
,O4,2024-01-20 12:00:00,5.00,direct
"""


@pytest.fixture(autouse=True)
def _own_plot_style():
    """Each test starts from and leaves matplotlib's settings as they were: a test that opens a
    run in this process (open_run sets the report's plot style) must not change the font sizes
    the plot tests measure."""
    import matplotlib

    with matplotlib.rc_context():
        yield


@pytest.fixture
def tiny_config(tmp_path: Path) -> Path:
    """A folder with a 5-line transactions export (one duplicate, one guest) and its config."""
    (tmp_path / "tx.csv").write_text(TX, encoding="utf-8")
    cfg = {
        "inputs": {"transactions": {"path": "tx.csv", "columns": {
            "customer_id": "customer_id", "order_id": "order_id", "timestamp": "timestamp",
            "amount": "amount", "channel": "channel"}}},
        "report": {"out": "reports"},
    }
    path = tmp_path / "lclib.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def make_notebook(path: Path, *sources: str) -> Path:
    """Write a notebook with a parameters cell and the given code cells."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell('CONFIG = "../lclib.yaml"\nDATA_DIR = None\nOUTPUT_DIR = None')
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {path.stem}"), params,
                *(nbformat.v4.new_code_cell(s) for s in sources)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


@pytest.fixture(params=["pandas", "duckdb"])
def both_engines(request):
    """Run a test once with each aggregation engine as the default (lclib.engine)."""
    from lclib.engine import sql as engine

    engine.set_default_engine(request.param)
    yield request.param
    engine.set_default_engine(None)


@pytest.fixture(scope="session")
def run_cache(tmp_path_factory) -> Path:
    """The sample's cleaned tables cached as ``lclib run`` caches them (transactions compacted, on disk)."""
    from lclib.config import load_config
    from lclib.engine.orders import compact_order_lines_file
    from lclib.io.dataset import load_dataset

    folder = tmp_path_factory.mktemp("cache")
    load_dataset(load_config()).save(folder)
    compact_order_lines_file(folder / "transactions.parquet")
    return folder


def run_cells(notebook: Path, namespace: dict) -> None:
    """Execute a notebook's code cells in this process (so a patch of lclib applies to them); the
    ``parameters`` cell is skipped: ``namespace`` holds the parameters."""
    import json

    import matplotlib.pyplot as plt

    cells = [c for c in json.loads(notebook.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    for i, cell in enumerate(cells):
        if "parameters" not in (cell.get("metadata", {}).get("tags") or []):
            exec(compile("".join(cell["source"]), f"{notebook.name}, cell {i}", "exec"), namespace)  # noqa: S102
        plt.close("all")
