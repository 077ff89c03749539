"""The index opens with a summary (issue 19): headline numbers with their change since the
previous successful run, recommended actions, settings apart, details collapsed; every text
from the data escaped.

The runs use the real runner on the tiny export of ``conftest`` with a stand-in
``00_data_overview`` notebook (a few seconds each); one run uses the shipped
``00_data_overview`` notebook on the sample data.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest
from conftest import make_notebook

from lclib.report import history
from lclib.report.cli import main
from lclib.report.runner import render_index, run

BAD = "<img src=x onerror=alert(1)>"

OVERVIEW = (
    "from lclib.report.notebook import open_run\nfrom lclib.report.record import record\n"
    "cfg, data = open_run(CONFIG, DATA_DIR)\n"
    "tx = data.transactions\n"
    "orders = tx.groupby('customer_id')['order_id'].nunique()\n"
    "record('customers', orders.size, 'Customers with at least one order', 'customers')\n"
    "record('revenue', tx.amount.sum(), 'Revenue', 'EUR')\n"
    "record('repeat_customer_share', round(100 * (orders > 1).mean(), 2), 'Repeat customers', '%')\n"
    f"record('top_channel', {BAD!r} * 20, '<b>Top channel</b>')\n"
    "record('days_covered', 3, 'Days covered', 'days')"
)


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def injected(page: str) -> list[str]:
    """Markup in ``page`` that only hostile data could have made (empty when all was escaped)."""
    p = _Tags()
    p.feed(page)
    found = [f"<{t} {a}=...>" for t, attrs in p.tags for a in attrs if a.lower().startswith("on")]
    found += [f"<{t} src=x>" for t, attrs in p.tags if attrs.get("src") == "x"]
    found += [f"<{t}>" for t, _ in p.tags if t in ("script", "svg", "iframe")]
    return found


def text_of(page: str) -> str:
    p = _Tags()
    p.feed(page)
    return "".join(p.text)


def headline(record: dict, name: str) -> dict:
    (h,) = [h for h in record["headlines"] if h["name"] == name]
    return h


@pytest.fixture
def overview_dir(tmp_path: Path) -> Path:
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_data_overview.ipynb", OVERVIEW)
    return nbdir


def test_consecutive_runs_show_their_changes_and_failed_runs_are_never_previous(tiny_config, tmp_path,
                                                                                  overview_dir, capsys):
    reports = tmp_path / "reports"
    first = run(tiny_config, notebook_dir=overview_dir)
    assert first.exit_code == 0, first.message
    rec1 = json.loads((first.folder / "run.json").read_text())
    assert rec1["previous_run"] is None and rec1["comparison"]["note"].startswith("First successful run")
    rev = headline(rec1, "revenue")
    assert (rev["value"], rev["previous"], rev["change"], rev["previous_run_id"]) == (37.75, None, None, None)
    assert [h["name"] for h in rec1["headlines"]] == ["revenue", "customers", "repeat_customer_share"]
    assert set(rec1["headlines"][0]) >= {"notebook", "name", "label", "definition", "value", "previous", "change",
                                         "previous_run_id"}
    index1 = text_of((first.folder / "index.html").read_text())
    assert "first run" in index1 and "37.75 EUR" in index1 and "data:image/png" not in index1

    # new data: customer 12346 orders again
    with (tmp_path / "tx.csv").open("a") as f:
        f.write("12346.0,O5,2024-02-10 10:00:00,12.25,email\n")
    second = run(tiny_config, notebook_dir=overview_dir)
    assert second.exit_code == 0, second.message
    rec2 = json.loads((second.folder / "run.json").read_text())
    assert rec2["previous_run"] == first.run_id
    assert rec2["comparison"]["inputs_changed"] == ["transactions"] and rec2["comparison"]["settings_changed"] == []
    rev, cust, rep = (headline(rec2, n) for n in ("revenue", "customers", "repeat_customer_share"))
    assert (rev["value"], rev["previous"], rev["change"], rev["change_pct"]) == (50.0, 37.75, 12.25, 32.45)
    assert rev["assessment"] == "better" and rev["previous_run_id"] == first.run_id
    assert (cust["value"], cust["previous"], cust["change"], cust["assessment"]) == (2, 2, 0, "unchanged")
    assert (rep["value"], rep["previous"], rep["change"], rep["change_pct"]) == (100.0, 50.0, 50.0, None)
    page2 = (second.folder / "index.html").read_text()
    index2 = text_of(page2)
    assert "+12.25 EUR (+32.5 %)" in index2 and "+50.0 pts" in index2 and "no change" in index2
    assert "input files differ" in index2 and f"../{first.run_id}/index.html" in page2
    # the summary comes first, settings and details after it
    assert index2.index("At a glance") < index2.index("Recommended actions") < index2.index("More numbers")

    # a failed run in between (here: invalid data, no notebook started) is listed, never compared with
    good = (tmp_path / "tx.csv").read_text()
    (tmp_path / "tx.csv").write_text(good + "12346.0,O6,2024-02-11 10:00:00,abc,email\n")
    failed = run(tiny_config, notebook_dir=overview_dir)
    assert failed.exit_code == 2
    (tmp_path / "tx.csv").write_text(good)
    third = run(tiny_config, overrides=["analysis.margin=0.5"], notebook_dir=overview_dir)
    assert third.exit_code == 0, third.message
    rec3 = json.loads((third.folder / "run.json").read_text())
    assert rec3["previous_run"] == second.run_id and headline(rec3, "revenue")["previous"] == 50.0
    assert headline(rec3, "revenue")["change"] == 0 and rec3["comparison"]["inputs_changed"] == []
    assert rec3["comparison"]["settings_changed"] == ["analysis.margin"]
    page3 = (third.folder / "index.html").read_text()
    assert 'src="data:image/png;base64,' in page3  # three successful runs: the trend chart
    assert "over the last 3 successful runs" in text_of(page3)

    # lclib runs: all four, newest first, the failed one with its error
    assert main(["runs", "--out", str(reports)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines[1:]] == [
        [third.run_id, "ok"], [failed.run_id, "invalid"], [second.run_id, "ok"], [first.run_id, "ok"]]
    assert "invalid values - column 'amount'" in lines[2]
    assert lines[3].split()[5:8] == ["50.00", "2", "100.0%"]  # revenue, customers, repeat %
    assert lines[4].split()[5:8] == ["37.75", "2", "50.0%"]
    fail_rec = json.loads((reports / "failed" / failed.run_id / "run.json").read_text())
    assert fail_rec["status"] == "invalid" and fail_rec["seconds"] > 0 and "('abc')" in fail_rec["error"]

    # every text from the data escaped; the summary holds headlines only, the rest per report, collapsed
    page1 = (first.folder / "index.html").read_text()
    assert not injected(page1) and not injected(page3)
    assert BAD * 20 in index1 and "<b>Top channel</b>" in index1 and "<b>Top channel</b>" not in page1
    kinds = {e["name"]: e["kind"] for e in rec1["recorded"]["00_data_overview"]}
    assert kinds == {"customers": "headline", "revenue": "headline", "repeat_customer_share": "headline",
                     "top_channel": "detail", "days_covered": "detail"}
    summary = page1.split('id="summary"')[1].split('id="actions"')[0]
    assert "Top channel" not in summary and "Days covered" not in summary
    assert re.search(r"<details><summary>00_data_overview \(2 numbers\)</summary>", page1)


def test_render_index_escapes_every_new_text(tmp_path):
    record = {
        "run_id": "r", "status": "ok", "started": "2026-01-01T00:00:00", "seconds": 1.0, "lclib_version": "1",
        "config_file": "c", "overrides": [], "config": {}, "privacy": "", "inputs": [], "versions": {},
        "platform": "p",
        "notebooks": [{"name": "04_churn", "title": BAD, "status": "ok", "seconds": 1.0, "html": "04_churn.html",
                       "analyst_html": "04_churn.analyst.html"}],
        "metrics": {"04_churn": {"monthly_churn_rate": BAD}},
        "recorded": {"04_churn": [
            {"name": "monthly_churn_rate", "value": BAD, "label": BAD, "unit": BAD, "kind": "headline"},
            {"name": "what_if_reduction", "value": BAD, "label": BAD, "unit": BAD, "kind": "setting"},
            {"name": "x", "value": BAD, "label": BAD, "unit": BAD, "kind": "detail"}]},
        "headlines": [{"notebook": "04_churn", "name": "monthly_churn_rate", "label": BAD, "definition": BAD,
                       "value": BAD, "value_text": BAD, "previous_text": BAD, "change_text": BAD, "change": 1.0,
                       "assessment": "worse", "previous": 1.0}],
        "comparison": {"previous_run": 'x"><script>alert(2)</script>', "note": BAD},
        "actions": [{"key": "k", "title": BAD, "text": BAD, "notebook": "04_churn", "html": "04_churn.html",
                     "anchor": 'a" onmouseover="alert(3)', "export": f'{BAD}.csv'}],
    }
    page = render_index(record, pd.DataFrame(columns=["table", "reason", "description", "rows", "example_lines"]))
    assert not injected(page) and "<script>alert(2)" not in page
    assert text_of(page).count(BAD) >= 10


def test_index_counts_model_parameters_instead_of_listing_them():
    record = {
        "run_id": "r", "status": "ok", "started": "2026-01-01T00:00:00", "seconds": 1.0, "lclib_version": "1",
        "config_file": "c", "overrides": [], "config": {}, "privacy": "", "inputs": [], "versions": {},
        "platform": "p", "notebooks": [{"name": "05_clv", "title": "CLV", "status": "ok", "seconds": 1.0,
                                        "html": "05_clv.html", "analyst_html": "05_clv.analyst.html"}],
        "metrics": {"05_clv": {}}, "headlines": [], "actions": [],
        "recorded": {"05_clv": [
            {"name": "holdout_error_pct", "value": -1.7, "label": "Holdout error", "unit": "%", "kind": "detail"},
            {"name": "bgnbd_full_r", "value": 0.276, "label": "BG/NBD, all data: r", "unit": "", "kind": "model"},
            {"name": "bgnbd_full_r_low", "value": 0.249, "label": "BG/NBD, all data: r, low", "unit": "",
             "kind": "model"}]},
    }
    text = text_of(render_index(record, pd.DataFrame(columns=["table", "reason", "description", "rows",
                                                              "example_lines"])))
    assert "Holdout error" in text and "BG/NBD, all data: r" not in text
    assert "The 2 fitted model parameters (with their intervals) are for analysts" in text


def test_the_shipped_overview_notebook_feeds_the_summary(tmp_path):
    """The real ``00_data_overview`` on the sample data, after a fabricated earlier run: its
    headline numbers are found and compared (a renamed metric would fail here)."""
    reports = tmp_path / "reports"
    earlier = reports / "20000101-000000-abcd"
    earlier.mkdir(parents=True)
    (earlier / "run.json").write_text(json.dumps({
        "run_id": earlier.name, "status": "ok", "started": "2000-01-01T00:00:00",
        "metrics": {"00_data_overview": {"revenue": 100000.0, "customers": 2000, "repeat_customer_share": 50.0}}}))
    (reports / "failed" / "20000102-000000-abcd").mkdir(parents=True)  # a later failed run is no "previous"
    result = run(out=reports, only=["00"], overrides=["report.workers=1"])
    assert result.exit_code == 0, result.message
    rec = json.loads((result.folder / "run.json").read_text())
    assert rec["previous_run"] == earlier.name
    m = rec["metrics"]["00_data_overview"]
    rev, cust, rep = (headline(rec, n) for n in ("revenue", "customers", "repeat_customer_share"))
    assert rev["value"] == m["revenue"] and rev["change"] == round(m["revenue"] - 100000.0, 6)
    assert cust["change"] == m["customers"] - 2000 and rep["change"] == round(m["repeat_customer_share"] - 50.0, 6)
    assert rev["change_pct"] == round(100 * (m["revenue"] - 100000.0) / 100000.0, 2)
    assert [r.run_id for r in history.list_runs(reports)][1:] == ["20000102-000000-abcd", earlier.name]


def test_index_shows_names_from_the_data_in_words_in_the_other_numbers():
    record = {
        "run_id": "r", "status": "ok", "started": "2026-01-01T00:00:00", "seconds": 1.0, "lclib_version": "1",
        "config_file": "c", "overrides": [], "config": {"display_names": {"app_push": "App notifications"}},
        "privacy": "", "inputs": [], "versions": {}, "platform": "p",
        "notebooks": [{"name": "01_journey", "title": "Journey", "status": "ok", "seconds": 1.0,
                       "html": "01_journey.html", "analyst_html": "01_journey.analyst.html"}],
        "metrics": {"01_journey": {"markov_top_channel": "paid_search", "second": "app_push"}},
        "recorded": {"01_journey": [
            {"name": "markov_top_channel", "value": "paid_search", "label": "Top channel", "unit": "", "kind": "detail"},
            {"name": "second", "value": "app_push", "label": "Second", "unit": "", "kind": "detail"},
            {"name": "sentence", "value": "Paid search, as said", "label": "Reason", "unit": "", "kind": "detail"}]},
        "headlines": [], "comparison": {"previous_run": None, "note": ""}, "actions": [],
    }
    page = text_of(render_index(record, pd.DataFrame(columns=["table", "reason", "description", "rows",
                                                              "example_lines"])))
    assert "Paid search" in page and "App notifications" in page and "Paid search, as said" in page
    assert "paid_search" not in page.split("Configuration")[0] and "app_push" not in page.split("Configuration")[0]


def test_a_headline_without_a_number_says_not_enough_data_and_links_to_the_report():
    record = {
        "run_id": "r", "status": "ok", "started": "2026-01-01T00:00:00", "seconds": 1.0, "lclib_version": "1",
        "config_file": "c", "overrides": [], "config": {}, "privacy": "", "inputs": [], "versions": {},
        "platform": "p", "notebooks": [{"name": "05_clv", "title": "CLV", "status": "ok", "seconds": 1.0,
                                        "html": "05_clv.html", "analyst_html": "05_clv.analyst.html"}],
        "metrics": {"05_clv": {"mean_clv": None}}, "actions": [], "recorded": {"05_clv": []},
        "headlines": [{"notebook": "05_clv", "name": "mean_clv", "label": "Expected margin per customer",
                       "definition": "d", "value": None, "value_text": "n/a", "previous_text": "", "change_text": "",
                       "change": None, "assessment": None, "previous": None}],
    }
    page = render_index(record, pd.DataFrame(columns=["table", "reason", "description", "rows", "example_lines"]))
    assert 'not enough data to say: <a href="05_clv.html">the report says why</a>' in page


def test_the_index_sums_up_the_input_data_in_a_line_and_links_report_00_for_the_detail():
    """The files and ledger are report 00's: the index says the totals, links there and keeps its tables closed."""
    record = {
        "run_id": "r", "status": "ok", "started": "2026-01-01T00:00:00", "seconds": 1.0, "lclib_version": "1",
        "config_file": "c", "overrides": [], "config": {}, "privacy": "", "versions": {}, "platform": "p",
        "inputs": [{"table": "transactions", "path": "t.csv", "rows_in": 1200, "rows_kept": 1150, "date_min": None,
                    "date_max": None, "sha256": "ab" * 32},
                   {"table": "events", "path": "e.csv", "rows_in": 300, "rows_kept": 300, "date_min": None,
                    "date_max": None, "sha256": "cd" * 32}],
        "notebooks": [{"name": "00_data_overview", "title": "Data overview: what we were given", "status": "ok",
                       "seconds": 1.0, "html": "00_data_overview.html",
                       "analyst_html": "00_data_overview.analyst.html"}],
        "metrics": {}, "headlines": [], "actions": [], "recorded": {},
    }
    ledger = pd.DataFrame([{"table": "transactions", "reason": "duplicate", "description": "exact duplicate lines",
                            "rows": 50, "example_lines": "3, 9"}])
    page = render_index(record, ledger)
    section = page.split('<h2 id="inputs">')[1].split("<h2 ")[0]
    line = section.split("<details>")[0]
    assert " ".join(text_of(line).split()) == (
        "Input data 2 input tables: 1,500 rows read, 1,450 kept (50 dropped, each for a stated reason). The files, "
        "what each holds and every cleaning step are in report 00 (Data overview).")
    assert '<a href="00_data_overview.html">' in line
    closed = section.split("<details>")[1]  # the tables are kept, but closed
    assert "exact duplicate lines" in closed and "t.csv" in closed and "<details open" not in section
