"""Run over run (issue 19): past runs of a reports folder, the previous successful run, the
changes of the headline numbers, ``lclib runs``, the trend chart.

Unit tests on fabricated run folders (``run.json`` files written by hand): fast, no notebook.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lclib.config.headlines import ACTIONS, HEADLINES, SETTINGS, kind_of
from lclib.report import history, summary
from lclib.report.cli import main

INPUTS = [{"table": "transactions", "path": "/d/tx.csv", "sha256": "a" * 64, "rows_in": 10, "rows_kept": 9}]
CONFIG = {"analysis": {"currency": "EUR", "margin": 0.3}, "report": {"out": "/x", "workers": 2},
          "inputs": {"transactions": {"path": "/d/tx.csv", "read": {"delimiter": ","}}},
          "clv": {"clv_cac_threshold": 3.0}}


def metrics(revenue=1000.0, customers=100, repeat=40.0, churn=10.0, at_risk=20, clv=50.0, cac=12.5):
    return {"00_data_overview": {"revenue": revenue, "customers": customers, "repeat_customer_share": repeat},
            "04_churn": {"monthly_churn_rate": churn, "inactivity_window_days": 90},
            "02_stages": {"state_at_risk": at_risk, "states_at_risk_days": 30, "states_lapsed_days": 90},
            "05_clv": {"mean_clv": clv, "blended_cac": cac}}


def recorded(m: dict) -> dict:
    units = {"revenue": "EUR", "mean_clv": "EUR", "blended_cac": "EUR", "repeat_customer_share": "%",
             "monthly_churn_rate": "%", "customers": "customers", "state_at_risk": "people"}
    return {nb: [{"name": k, "value": v, "label": k.replace("_", " "), "unit": units.get(k, "")}
                 for k, v in names.items()] for nb, names in m.items()}


def write_run(root: Path, run_id: str, status: str = "ok", m: dict | None = None, failed: bool = False,
              inputs=None, config=None, seconds=30.0, error: str | None = None) -> Path:
    folder = (root / "failed" / run_id) if failed else root / run_id
    folder.mkdir(parents=True)
    record = {"run_id": run_id, "status": status, "started": f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T"
              f"{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}", "seconds": seconds}
    if not failed:
        record.update(metrics=m or metrics(), inputs=inputs or INPUTS, config=config or CONFIG)
    if error is not None:
        record["error"] = error
    (folder / "run.json").write_text(json.dumps(record), encoding="utf-8")
    return folder


def test_catalogue_has_5_to_8_headlines_each_defined_and_apart_from_the_settings():
    assert 5 <= len(HEADLINES) <= 8
    keys = [(h.notebook, h.name) for h in HEADLINES]
    assert len(set(keys)) == len(keys) and not set(keys) & SETTINGS
    for h in HEADLINES:
        assert h.good in ("up", "down") and h.fmt in ("count", "money", "percent")
        assert h.label and h.definition.endswith(".") and len(h.short) <= 10
        assert kind_of(h.notebook, h.name) == "headline"
    assert kind_of("02_stages", "states_at_risk_days") == "setting"
    assert kind_of("04_churn", "what_if_reduction") == "setting"
    assert kind_of("05_clv", "bgnbd_full_r") == kind_of("05_clv", "gamma_gamma_cal_v_low") == "model"
    assert kind_of("05_clv", "mean_clv") == "headline" and kind_of("05_clv", "holdout_error_pct") == "detail"
    assert len({a.key for a in ACTIONS}) == len(ACTIONS) >= 3


def test_list_runs_newest_first_with_failed_runs_and_nothing_else(tmp_path):
    write_run(tmp_path, "20260101-090000-aaaa")
    write_run(tmp_path, "20260103-090000-cccc", status="failed", failed=True, error="03_rfm.ipynb failed: boom")
    (tmp_path / "failed" / "20260104-090000-dddd").mkdir()  # an older lclib: error.txt only
    (tmp_path / "failed" / "20260104-090000-dddd" / "error.txt").write_text("\nnotebook 01 failed\nmore\n")
    write_run(tmp_path, "20260102-090000-bbbb")
    (tmp_path / "latest").symlink_to("20260102-090000-bbbb")
    (tmp_path / ".building-20260105-090000-eeee").mkdir()
    (tmp_path / "notes").mkdir()
    runs = history.list_runs(tmp_path)
    assert [(r.run_id, r.status) for r in runs] == [
        ("20260104-090000-dddd", "failed"), ("20260103-090000-cccc", "failed"),
        ("20260102-090000-bbbb", "ok"), ("20260101-090000-aaaa", "ok")]
    assert runs[0].message == "notebook 01 failed" and runs[0].seconds is None
    assert runs[1].message == "03_rfm.ipynb failed: boom" and runs[1].seconds == 30.0
    assert runs[0].started.isoformat() == "2026-01-04T09:00:00"


def test_previous_is_the_newest_successful_run_before_this_one(tmp_path):
    write_run(tmp_path, "20260101-090000-aaaa", m=metrics(revenue=900.0))
    write_run(tmp_path, "20260102-090000-bbbb", m=metrics(revenue=950.0))
    write_run(tmp_path, "20260103-090000-cccc", status="failed", failed=True)  # never "previous"
    write_run(tmp_path, "20260103-100000-cccd", status="storage")  # a published folder that says so
    (tmp_path / "20260103-110000-ccce").mkdir()  # unreadable: no run.json
    write_run(tmp_path, "20260105-090000-eeee")  # started after the current run
    prev = history.previous_successful(tmp_path, "20260104-090000-dddd")
    assert prev.run_id == "20260102-090000-bbbb" and prev.record["metrics"]["00_data_overview"]["revenue"] == 950.0
    assert history.previous_successful(tmp_path, "20260101-090000-aaaa") is None
    ok = history.successful_runs(tmp_path, before="20260104-090000-dddd")
    assert [r.run_id for r in ok] == ["20260101-090000-aaaa", "20260102-090000-bbbb"]
    assert [r.run_id for r in history.successful_runs(tmp_path, limit=2)] == [
        "20260102-090000-bbbb", "20260105-090000-eeee"]


def test_headlines_carry_value_previous_and_change_with_the_right_numbers():
    now = metrics(revenue=1250.0, customers=110, repeat=42.5, churn=9.0, at_risk=25, clv=50.0, cac=15.0)
    prev = {"run_id": "20260101-090000-aaaa", "metrics": metrics()}
    rows = {h["name"]: h for h in summary.headlines(now, recorded(now), prev, {"clv": {"horizon_months": 24}})}
    assert list(rows) == [h.name for h in HEADLINES if h.notebook in now]  # catalogue order, ran notebooks only
    rev = rows["revenue"]
    assert (rev["value"], rev["previous"], rev["change"], rev["change_pct"]) == (1250.0, 1000.0, 250.0, 25.0)
    assert rev["assessment"] == "better" and rev["previous_run_id"] == "20260101-090000-aaaa"
    assert (rev["value_text"], rev["previous_text"], rev["change_text"]) == ("1,250 EUR", "1,000 EUR",
                                                                             "+250 EUR (+25.0 %)")
    assert rows["customers"]["change"] == 10 and rows["customers"]["change_text"] == "+10 (+10.0 %)"
    # percentages change in points, not in per cent of themselves
    assert rows["repeat_customer_share"]["change"] == 2.5 and rows["repeat_customer_share"]["change_pct"] is None
    assert rows["repeat_customer_share"]["change_text"] == "+2.5 pts"
    churn = rows["monthly_churn_rate"]
    assert churn["change"] == -1.0 and churn["assessment"] == "better" and churn["change_text"] == "-1.0 pts"
    assert rows["state_at_risk"]["assessment"] == "worse" and rows["state_at_risk"]["change"] == 5
    assert rows["blended_cac"]["assessment"] == "worse" and rows["blended_cac"]["change_text"] == "+2.50 EUR (+20.0 %)"
    assert rows["mean_clv"]["assessment"] == "unchanged" and rows["mean_clv"]["change_text"] == "no change"
    # definitions in words, the notebook's own thresholds filled in
    assert rows["state_at_risk"]["definition"].startswith("Buyers whose last order was 30 to 90 days ago")
    assert "after 90 days without an order" in churn["definition"]
    assert "in the next 24 months" in rows["mean_clv"]["definition"]  # from the configuration


def test_a_change_that_comes_from_a_changed_setting_is_not_judged_better_or_worse():
    now = metrics(revenue=1250.0, clv=80.0, churn=9.0)
    prev = {"run_id": "r1", "metrics": metrics()}
    rows = {h["name"]: h for h in summary.headlines(now, recorded(now), prev, {}, ["clv.horizon_months"])}
    assert rows["mean_clv"]["assessment"] == "setting changed" and rows["mean_clv"]["change"] == 30.0
    assert rows["mean_clv"]["changed_by"] == ["clv.horizon_months"]
    assert rows["revenue"]["assessment"] == "better" and rows["revenue"]["changed_by"] == []  # not a CLV setting
    # the analysis date changes every number's definition
    rows = {h["name"]: h for h in summary.headlines(now, recorded(now), prev, {}, ["analysis.as_of"])}
    assert {rows[n]["assessment"] for n in ("revenue", "mean_clv", "monthly_churn_rate")} == {"setting changed"}
    assert rows["customers"]["assessment"] == "unchanged"  # no change is no change, whatever the settings


def test_first_run_and_numbers_missing_then_have_no_change():
    now = metrics()
    rows = summary.headlines(now, recorded(now), None)
    assert all(h["previous"] is None and h["change"] is None and h["assessment"] is None for h in rows)
    assert all(h["previous_run_id"] is None and h["change_text"] == "" for h in rows)
    old = {"run_id": "x", "metrics": {"00_data_overview": {"revenue": "n/a", "customers": None}}}
    rows = {h["name"]: h for h in summary.headlines(now, recorded(now), old)}
    assert rows["revenue"]["previous"] is None and rows["customers"]["change"] is None
    assert rows["mean_clv"]["previous"] is None and rows["mean_clv"]["previous_run_id"] == "x"


def test_compare_names_changed_inputs_and_settings_but_not_where_reports_go():
    prev = {"run_id": "20260101-090000-aaaa", "started": "2026-01-01T09:00:00", "inputs": INPUTS, "config": CONFIG}
    same = {"inputs": INPUTS, "config": {**CONFIG, "report": {"out": "/elsewhere", "workers": 1}}}
    c = history.compare(prev, same)
    assert c["inputs_changed"] == [] and c["settings_changed"] == [] and c["previous_run"] == "20260101-090000-aaaa"
    assert c["note"].startswith("Same input files and settings as the previous run (20260101-090000-aaaa")
    moved = {"inputs": [{**INPUTS[0], "path": "/new/place.csv"}],
             "config": {**CONFIG, "inputs": {"transactions": {"path": "/new/place.csv", "read": {"delimiter": ","}}}}}
    assert history.compare(prev, moved)["settings_changed"] == []  # same file content, other folder
    new = {"inputs": [{**INPUTS[0], "sha256": "b" * 64}, {"table": "events", "sha256": "c" * 64}],
           "config": {**CONFIG, "analysis": {"currency": "EUR", "margin": 0.4, "new_key_of_a_later_lclib": 1}}}
    c = history.compare(prev, new)
    assert c["inputs_changed"] == ["events", "transactions"] and c["settings_changed"] == ["analysis.margin"]
    assert "input files differ" in c["note"] and "analysis.margin (0.3 \u2192 0.4)" in c["note"]
    first = history.compare(None, new)
    assert first["previous_run"] is None and first["note"].startswith("First successful run")


def test_runs_table_lists_runs_with_headline_numbers_newest_first(tmp_path):
    write_run(tmp_path, "20260101-090000-aaaa", seconds=61.4)
    write_run(tmp_path, "20260102-090000-bbbb", status="failed", failed=True, seconds=12.0,
              error="04_churn.ipynb failed: ValueError: \x1b[31mred\x1b[0m")
    lines = history.runs_table(tmp_path).splitlines()
    assert [c.strip() for c in lines[0].split("  ") if c.strip()] == ["run", "status", "started", "seconds",
                                                                       *(h.short for h in HEADLINES)]
    assert lines[1].split()[:5] == ["20260102-090000-bbbb", "failed", "2026-01-02", "09:00:00", "12"]
    assert "04_churn.ipynb failed: ValueError: ?[31mred?[0m" in lines[1]  # no escape sequence reaches the terminal
    ok = lines[2].split()
    assert ok[:5] == ["20260101-090000-aaaa", "ok", "2026-01-01", "09:00:00", "61"]
    # revenue, customers, repeat %, convert % (01 not run), churn %, at risk, CLV, CAC
    assert ok[5:] == ["1,000", "100", "40.0%", "-", "10.0%", "20", "50.00", "12.50"]
    assert len(lines) == 3


def test_lclib_runs_prints_the_table_and_exits_0(tmp_path, capsys):
    write_run(tmp_path, "20260101-090000-aaaa")
    assert main(["runs", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("run ") and "20260101-090000-aaaa  ok" in out
    assert main(["runs", "--out", str(tmp_path / "none")]) == 0
    assert capsys.readouterr().out.strip() == f"no runs in {tmp_path / 'none'}"


def test_trend_chart_needs_three_runs_and_draws_one_panel_per_headline(tmp_path):
    recs = [{"run_id": f"2026010{i}-090000-aaaa", "started": f"2026-01-0{i}T09:00:00",
             "metrics": metrics(revenue=1000.0 + 100 * i)} for i in range(1, 4)]
    heads = summary.headlines(recs[-1]["metrics"], recorded(recs[-1]["metrics"]), recs[-2])
    assert history.trend_png(recs[:2], heads) is None
    png = base64.b64decode(history.trend_png(recs, heads))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # a currency with "$" (mathtext in matplotlib) and a run missing a number draw too
    recs[1]["metrics"]["00_data_overview"]["revenue"] = None
    heads[0]["unit"] = "US$ <b>"
    assert history.trend_png(recs, heads)


@pytest.mark.parametrize("value, fmt, unit, text", [
    (132718.84, "money", "EUR", "132,719 EUR"), (17.93, "money", "EUR", "17.93 EUR"),
    (1862, "count", "", "1,862"), (45.11, "percent", "%", "45.1 %"), (None, "money", "EUR", "n/a"),
    (4.83, "ratio", "", "4.83"), (3.0, "ratio", "", "3"), (11.2, "points", "", "+11.2 pts"),
])
def test_format_number(value, fmt, unit, text):
    assert summary.format_number(value, fmt, unit) == text
