"""Notebooks under papermill and JupyterLab (issue 19, item 5).

Every report notebook runs from any working directory with its defaults, takes OVERRIDES
(dotted lclib.yaml keys, applied like ``lclib run -p``), re-runs as it is from a published
run, and changes no global pandas option or warning filter of its kernel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from papermill.translators import PythonTranslator

from lclib.config import REDACTED, ConfigError, load_config
from lclib.config.settings import CONFIG_ENV, DEFAULT_CONFIG, default_config_path
from lclib.io.dataset import load_dataset
from lclib.report.notebook import export, notebook_parameters, open_run
from lclib.report.record import read_metrics

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
BIN = Path(sys.executable).parent
#: the notebook parameter contract: name -> (type papermill shows, default)
CONTRACT = {"CONFIG": ("Optional[str]", "None"), "OVERRIDES": ("dict", "{}"),
            "DATA_DIR": ("Optional[str]", "None"), "OUTPUT_DIR": ("Optional[str]", "None")}
#: a setting that visibly changes 00_data_overview: lines above 50 are dropped by the cleaning
MAX_AMOUNT = {"inputs.transactions.clean.max_amount": 50}


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _papermill(*args: str, cwd: Path) -> None:
    done = subprocess.run([str(BIN / "papermill"), "--no-progress-bar", "-k", "python3", *args], cwd=cwd,
                          env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _metrics(path: Path) -> dict:
    return {m["name"]: m["value"] for m in read_metrics(path)}


def _rows_kept(overrides: dict) -> int:
    data = load_dataset(load_config(None, overrides))
    return next(i.rows_kept for i in data.inputs if i.table == "transactions")


def _no_errors_or_warnings(path: Path) -> None:
    nb = nbformat.read(str(path), as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out.get("output_type") != "error", out.get("evalue")
            assert not (out.get("output_type") == "stream" and out.get("name") == "stderr"), out.get("text")


# ----------------------------------------------------------------------------- the parameter contract


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_declares_the_typed_parameters_and_passes_overrides(path):
    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    found = {p.name: (p.inferred_type_name, p.default, p.help) for p in PythonTranslator.inspect(cell)}
    assert {k: v[:2] for k, v in found.items()} == CONTRACT  # what papermill --help-notebook lists
    assert all(help_ for *_, help_ in found.values())
    assert any("open_run(CONFIG, DATA_DIR, OVERRIDES)" in c.source for c in nb.cells if c.cell_type == "code")


def test_default_configuration_is_found_from_the_package_or_lclib_config(tmp_path, monkeypatch):
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert default_config_path() == DEFAULT_CONFIG == ROOT / "lclib.yaml"
    assert load_config(None).base_dir == ROOT
    mine = tmp_path / "mine.yaml"
    mine.write_text((ROOT / "lclib.yaml").read_text())
    monkeypatch.setenv(CONFIG_ENV, "mine.yaml")  # relative: from the current directory
    assert default_config_path() == mine
    assert load_config(None).base_dir == tmp_path
    monkeypatch.setenv(CONFIG_ENV, str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match=f"gone.yaml.*{CONFIG_ENV}"):
        load_config(None)


def test_unknown_overrides_are_errors_naming_the_key():
    with pytest.raises(ConfigError) as err:
        open_run(None, None, {"horizon_months": 24})
    assert "horizon_months: unknown key" in str(err.value) and "did you mean clv.horizon_months" in str(err.value)
    with pytest.raises(ConfigError, match="clv.horizon_month: unknown key.*clv.horizon_months"):
        load_config(None, ["clv.horizon_month=24"])
    with pytest.raises(ConfigError, match="clv.horizon_months: .*set by the override"):
        open_run(None, None, "{clv.horizon_months: many}")  # YAML text, as papermill -p passes it
    with pytest.raises(ConfigError, match="OVERRIDES must be a dict"):
        open_run(None, None, 24)


def test_overrides_apply_like_the_command_line():
    as_dict = load_config(None, {"clv.horizon_months": 24, "inputs.events.path": None})
    as_cli = load_config(None, ["clv.horizon_months=24", "inputs.events.path=null"])
    assert as_dict.model_dump() == as_cli.model_dump() and as_dict.clv.horizon_months == 24


def test_a_notebook_written_before_overrides_still_gets_them():
    namespace = {"open_run": open_run, "OVERRIDES": {"clv.horizon_months": 24}}  # injected by papermill
    exec("cfg, data = open_run(None, None)", namespace)  # noqa: S102 - the old setup cell
    assert namespace["cfg"].clv.horizon_months == 24


def test_the_runner_passes_the_configuration_file_and_masked_overrides(tmp_path):
    params = notebook_parameters(None, ["clv.horizon_months=24", "rfm.pseudonymise_key=s3cret"],
                                 tmp_path / "data", tmp_path / "exports")
    assert params["CONFIG"] == str(default_config_path())
    assert params["OVERRIDES"] == {"clv.horizon_months": 24, "rfm.pseudonymise_key": REDACTED}
    assert set(params) == set(CONTRACT)
    section = notebook_parameters(None, ["rfm={pseudonymise_key: s3cret, bins: 4}"], "d", "o")["OVERRIDES"]
    assert section == {"rfm": {"pseudonymise_key": REDACTED, "bins": 4}}


def _pandas_options() -> dict:
    config = pd._config.config  # noqa: SLF001 - every registered option, the deprecated ones left out
    return {k: pd.get_option(k) for k in config._registered_options if k not in config._deprecated_options}  # noqa: SLF001


def test_open_run_leaves_pandas_options_and_warning_filters_as_they_were():
    open_run(None)  # the libraries it imports set their own filters once, on import
    options, filters = _pandas_options(), list(warnings.filters)
    cfg, data = open_run(None, None, {"clv.horizon_months": 24})
    assert cfg.clv.horizon_months == 24 and len(data.transactions)
    assert _pandas_options() == options
    assert warnings.filters == filters
    assert "0.0023" in repr(pd.Series([0.0023]))  # a user's own p-value keeps its digits


def test_exports_into_a_finished_build_folder_write_nothing(tmp_path):
    df = pd.DataFrame({"a": [1]})
    assert export(df, "x", tmp_path / ".building-20260101-000000-abcd" / "exports") is None
    assert not (tmp_path / ".building-20260101-000000-abcd").exists()
    live = tmp_path / ".building-20260101-000000-beef"
    live.mkdir()
    assert export(df, "x", live / "exports") == live / "exports" / "x.csv"


# ----------------------------------------------------------------------------- executing notebooks


def test_papermill_from_the_repository_root_applies_overrides(tmp_path):
    out = tmp_path / "00.ipynb"
    _papermill("notebooks/00_data_overview.ipynb", str(out), "-y", json.dumps({"OVERRIDES": MAX_AMOUNT}), cwd=ROOT)
    kept = _metrics(out)["transaction_rows_kept"]
    assert kept == _rows_kept(MAX_AMOUNT) < _rows_kept({})
    _no_errors_or_warnings(out)


def test_a_notebook_runs_with_its_defaults_from_another_folder(tmp_path):
    out = tmp_path / "06.ipynb"
    _papermill(str(ROOT / "notebooks" / "06_experiments.ipynb"), str(out), cwd=tmp_path)
    assert _metrics(out)
    _no_errors_or_warnings(out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["06.ipynb"]  # wrote nothing else


def test_the_executed_notebook_of_a_published_run_re_runs_as_it_is(tmp_path):
    reports = tmp_path / "reports"
    done = subprocess.run([str(BIN / "lclib"), "run", "--only", "00", "--out", str(reports), "-q",
                           "-p", "inputs.transactions.clean.max_amount=50"],
                          cwd=tmp_path, env=_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    published = (reports / "latest").resolve()
    executed = published / "notebooks" / "00_data_overview.ipynb"
    exports = sorted(p.name for p in (published / "exports").iterdir())
    again = tmp_path / "again.ipynb"
    _papermill(str(executed), str(again), cwd=ROOT)  # no parameters: as it is
    assert _metrics(again) == _metrics(executed)
    assert _metrics(again)["transaction_rows_kept"] == _rows_kept(MAX_AMOUNT)  # the run's -p override kept
    _no_errors_or_warnings(again)
    assert sorted(p.name for p in reports.iterdir()) == sorted(["latest", published.name])  # no build folder back
    assert sorted(p.name for p in (published / "exports").iterdir()) == exports


def test_overrides_with_dates_are_written_as_json_the_configuration_parses_back():
    import json

    from lclib.config import load_config
    from lclib.report.notebook import notebook_parameters

    params = notebook_parameters(None, ["analysis.as_of=2025-12-01", "clv.calibration_end=2025-06-30"], "/d", "/o")
    assert params["OVERRIDES"] == {"analysis.as_of": "2025-12-01", "clv.calibration_end": "2025-06-30"}
    json.dumps(params)  # papermill writes the parameters as JSON
    cfg = load_config(params["CONFIG"], params["OVERRIDES"])
    assert str(cfg.analysis.as_of) == "2025-12-01"


def test_open_run_in_a_kernel_gives_freed_memory_back_after_every_cell_once(monkeypatch):
    """In IPython, open_run registers one post_run_cell hook (however often a notebook calls it) that hands the
    allocators' free pages back (lclib.io.memory.release_memory); outside IPython it registers nothing."""
    import IPython

    from lclib.report import notebook as nb

    registered, released = [], []

    class Events:
        def register(self, name, fn):
            registered.append((name, fn))

    class Shell:
        events = Events()

    shell = Shell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    monkeypatch.setattr(nb, "release_memory", lambda: released.append(True))
    open_run()
    open_run()
    assert [name for name, _ in registered] == ["post_run_cell"]
    registered[0][1](object())  # IPython passes the cell's result
    assert released == [True]
    monkeypatch.setattr(IPython, "get_ipython", lambda: None)
    registered.clear()
    open_run()
    assert registered == []


def test_release_memory_asks_arrows_pool_and_the_c_heap_and_works_without_malloc_trim(monkeypatch):
    """Both allocators are asked; a C library without malloc_trim (macOS, musl) leaves Arrow's part."""
    import pyarrow as pa

    from lclib.io import memory

    calls = []

    class Pool:
        def release_unused(self):
            calls.append("arrow")

    monkeypatch.setattr(pa, "default_memory_pool", lambda: Pool())
    monkeypatch.setattr(memory, "_malloc_trim", lambda: lambda pad: calls.append(("trim", pad)))
    memory.release_memory()
    assert calls == ["arrow", ("trim", 0)]
    monkeypatch.setattr(memory, "_malloc_trim", lambda: None)
    memory.release_memory()
    assert calls[-1] == "arrow"
