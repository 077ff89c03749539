"""The runner: publishes whole or not at all; run.json and index.html describe the run."""

from __future__ import annotations

import json

from conftest import make_notebook
from lclib.report.runner import discover_notebooks, run

RECORDING = (
    "from lclib.report.notebook import open_run\nfrom lclib.report.record import record\n"
    "cfg, data = open_run(CONFIG, DATA_DIR)\n"
    "record('customers', data.transactions.customer_id.nunique(), 'Customers', 'customers')\n"
    "record('revenue', data.transactions.amount.sum(), 'Revenue', 'EUR')"
)


def test_successful_run_publishes_folder_index_and_metrics(tiny_config, tmp_path):
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_first.ipynb", RECORDING)
    lines: list[str] = []
    result = run(tiny_config, notebook_dir=nbdir, progress=lines.append)
    assert result.exit_code == 0, result.message
    folder = tmp_path / "reports" / result.run_id
    assert result.folder == folder and folder.is_dir()
    assert (tmp_path / "reports" / "latest").resolve() == folder
    assert not list((tmp_path / "reports").glob(".building-*"))
    for name in ("index.html", "run.json", "00_first.html", "00_first.analyst.html", "config.yaml"):
        assert (folder / name).is_file(), name
    rec = json.loads((folder / "run.json").read_text())
    # the loader cleaned the data once: 5 lines in, 1 guest and 1 duplicate dropped
    assert rec["ledger"]["transactions"] == {
        "source": str(tmp_path / "tx.csv"), "rows_in": 5, "rows_kept": 3,
        "dropped": {"missing_id": 1, "duplicates": 1},
        "example_lines": {"missing_id": [6], "duplicates": [5]}}
    assert rec["metrics"] == {"00_first": {"customers": 2, "revenue": 37.75}}
    assert rec["notebooks"][0]["status"] == "ok"
    assert rec["inputs"][0]["rows_in"] == 5 and len(rec["inputs"][0]["sha256"]) == 64
    index = (folder / "index.html").read_text()
    assert "Revenue" in index and "37.75 EUR" in index and "exact duplicate row" in index
    assert any("00_first" in line for line in lines)
    business = (folder / "00_first.html").read_text()
    assert "open_run" not in business  # code hidden from business readers
    assert "open_run" in (folder / "00_first.analyst.html").read_text()


def test_failing_notebook_publishes_nothing_and_keeps_the_failure(tiny_config, tmp_path):
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_ok.ipynb", "x = 1")
    make_notebook(nbdir / "01_broken.ipynb", "raise ValueError('the model did not converge')")
    make_notebook(nbdir / "02_never.ipynb", "x = 2")
    result = run(tiny_config, overrides=["report.workers=1"], notebook_dir=nbdir)
    assert result.exit_code == 1
    reports = tmp_path / "reports"
    assert sorted(p.name for p in reports.iterdir()) == ["failed"]
    failed = reports / "failed" / result.run_id
    error = (failed / "error.txt").read_text()
    assert "01_broken.ipynb" in error and "ValueError: the model did not converge" in error
    assert (failed / "notebooks" / "01_broken.ipynb").is_file()
    assert [r.status for r in result.notebooks] == ["ok", "failed", "pending"]


def test_parallel_run_publishes_the_same_reports_and_fails_as_a_whole(tiny_config, tmp_path):
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_first.ipynb", RECORDING)
    make_notebook(nbdir / "01_second.ipynb", RECORDING.replace("'customers', data", "'buyers', data"))
    lines: list[str] = []
    result = run(tiny_config, overrides=["report.workers=2"], notebook_dir=nbdir, progress=lines.append)
    assert result.exit_code == 0, result.message
    assert any("2 at a time" in line for line in lines)
    rec = json.loads((result.folder / "run.json").read_text())
    assert rec["metrics"] == {"00_first": {"customers": 2, "revenue": 37.75},
                              "01_second": {"buyers": 2, "revenue": 37.75}}
    assert all((result.folder / f"{n}.html").is_file() for n in ("00_first", "01_second"))
    make_notebook(nbdir / "02_broken.ipynb", "raise ValueError('boom')")
    failed = run(tiny_config, overrides=["report.workers=2"], notebook_dir=nbdir)
    assert failed.exit_code == 1 and [r.status for r in failed.notebooks][2] == "failed"
    assert "ValueError: boom" in (tmp_path / "reports" / "failed" / failed.run_id / "error.txt").read_text()
    assert (tmp_path / "reports" / "latest").resolve() == result.folder  # the failed run published nothing


def test_invalid_data_stops_before_any_notebook(tiny_config, tmp_path):
    (tmp_path / "tx.csv").write_text("customer_id,order_id,timestamp,amount,channel\nA,O1,2024-01-01,abc,email\n")
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_first.ipynb", "raise SystemExit('must not run')")
    result = run(tiny_config, notebook_dir=nbdir)
    assert result.exit_code == 2
    assert "line 2 ('abc')" in result.message
    assert not (tmp_path / "reports" / "latest").exists()


def test_invalid_config_is_exit_code_2(tmp_path):
    result = run(tmp_path / "missing.yaml")
    assert result.exit_code == 2 and "not found" in result.message


def test_only_selects_by_stem_number_or_topic(tmp_path):
    for name in ("00_data_overview", "03_rfm", "05_clv"):
        make_notebook(tmp_path / f"{name}.ipynb", "")
    pick = discover_notebooks(tmp_path, ["rfm", "00", "05_clv"])
    assert [p.stem for p in pick] == ["00_data_overview", "03_rfm", "05_clv"]
    import pytest

    from lclib.config import ConfigError
    with pytest.raises(ConfigError, match="available: 00_data_overview, 03_rfm, 05_clv"):
        discover_notebooks(tmp_path, ["churn"])


def test_secret_key_reaches_neither_the_notebooks_nor_the_published_reports(tiny_config, tmp_path):
    # the ids are pseudonymised before the notebooks start: they get the key masked in OVERRIDES,
    # the run's -p overrides (tests/test_untrusted_output.py::test_notebooks_get_neither_the_key_nor_raw_ids)
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_key.ipynb",
                  "from lclib.config import load_config\nfrom lclib.report.record import record\n"
                  "record('key_length', len(load_config(CONFIG, OVERRIDES).rfm.pseudonymise_key))")
    result = run(tiny_config, overrides=["rfm.pseudonymise_key=s3cret-value"], notebook_dir=nbdir)
    assert result.exit_code == 0, result.message
    folder = tmp_path / "reports" / result.run_id
    rec = json.loads((folder / "run.json").read_text())
    assert rec["metrics"]["00_key"]["key_length"] == len("***")
    assert rec["config"]["rfm"]["pseudonymise_key"] == "***"
    assert rec["overrides"] == ["rfm.pseudonymise_key=***"]
    for f in folder.rglob("*"):
        if f.is_file():
            assert b"s3cret-value" not in f.read_bytes(), f.name


def test_reports_link_to_the_index_the_other_version_named_exports_and_named_reports(tmp_path):
    from lclib.report.worker import link_report

    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "churn_scores.csv").write_text("x\n")
    html = ("<html><body><main><p>See report 02 and report 04, <code>churn_scores.csv</code> and "
            "<code>missing.csv</code>; reports 09.</p></main></body></html>")
    stems = ["02_stages", "04_churn"]
    business = link_report(html, tmp_path / "04_churn.html", False, stems)
    assert 'href="index.html">&larr; All reports of this run</a>' in business
    assert 'href="04_churn.analyst.html">' in business
    assert 'See <a href="02_stages.html">report 02</a> and report 04,' in business  # not a link to itself
    assert 'href="exports/churn_scores.csv"><code style="color:#0550ae">churn_scores.csv</code></a>' in business
    assert "<code>missing.csv</code>;" in business and "reports 09" in business  # nothing to link to
    analyst = link_report(html, tmp_path / "04_churn.analyst.html", True, stems)
    assert 'href="04_churn.html">Business version</a>' in analyst and "02_stages.html" not in analyst


def test_the_runner_starts_no_more_notebooks_at_once_than_the_free_memory_holds():
    from lclib.report.runner import KERNEL_BASE_BYTES, KERNEL_BYTES_PER_ORDER, memory_workers

    assert memory_workers(2, 4_000_000, available=24 * 10**9) == (2, None)  # 10M lines on 24 GB: two at once
    n, why = memory_workers(2, 40_000_000, available=24 * 10**9)  # 100M lines: one at a time, and why
    assert n == 1 and why == ("1 notebook at a time, not 2 (report.workers): each may need about 15 GB at "
                              "40,000,000 cached orders and 24 GB are free")
    need = KERNEL_BASE_BYTES + KERNEL_BYTES_PER_ORDER * 10_000_000
    assert memory_workers(4, 10_000_000, available=int(3 * need / 0.8) + 1)[0] == 3
    assert memory_workers(3, 10**12, available=10**9)[0] == 1  # never fewer than one
