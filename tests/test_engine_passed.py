"""The engine is passed, never set for the whole kernel: with ``analysis.engine: pandas`` no
report notebook queries DuckDB, and opening a run changes no process-wide default."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from conftest import run_cells  # noqa: E402
from lclib.engine import sql as E  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


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
