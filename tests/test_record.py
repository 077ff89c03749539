"""Recording headline numbers and reading them back from a notebook file."""

from __future__ import annotations


from pathlib import Path

import nbformat
import numpy as np
import pytest

from lclib.report.record import MIMETYPE, format_value, read_metrics, record, recorded


def test_record_returns_value_and_cleans_numpy_and_nan():
    assert record("n_customers", np.int64(5)) == 5
    record("rate", float("nan"))
    got = {e["name"]: e["value"] for e in recorded()}
    assert got["n_customers"] == 5 and type(got["n_customers"]) is int
    assert got["rate"] is None


def test_record_rejects_names_that_are_not_identifiers():
    with pytest.raises(ValueError, match="snake_case"):
        record("conversion rate", 0.3)


def test_read_metrics_keeps_last_value_per_name(tmp_path):
    nb = nbformat.v4.new_notebook()
    out = lambda name, v: nbformat.v4.new_output("display_data", data={MIMETYPE: {"name": name, "value": v, "label": name, "unit": ""}})
    cell = nbformat.v4.new_code_cell("")
    cell.outputs = [out("a", 1), out("b", 2.5), out("a", 3)]
    nb.cells = [cell]
    path = tmp_path / "x.ipynb"
    nbformat.write(nb, str(path))
    assert [(e["name"], e["value"]) for e in read_metrics(path)] == [("b", 2.5), ("a", 3)]


@pytest.mark.parametrize("value, unit, text", [
    (1234567, "customers", "1,234,567 customers"),
    (37.75, "EUR", "37.75 EUR"),
    (12.345, "%", "12.3 %"),
    (0.01234, "", "0.0123"),
    (None, "EUR", "n/a"),
    (2500.0, "EUR", "2,500 EUR"),
    (9.0, "EUR", "9.00 EUR"),
    (14.6, "customers", "14.6 customers"),
    (78.2, "customers", "78.2 customers"),
    (2.8, "days", "2.8 days"),
    (5.0, "stages", "5 stages"),
    (0.81, "", "0.81"),
    (1, "experiments", "1 experiment"),  # one of a plural unit reads singular
    (1.0, "people", "1 person"),
    (1, "touches", "1 touch"),
    (1.0, "EUR", "1.00 EUR"),
    (1, "ratio", "1 ratio"),
    (1, "%", "1.0 %"),
    (0, "experiments", "0 experiments"),
])
def test_format_value(value, unit, text):
    assert format_value(value, unit) == text


def test_p_values_read_as_sentences_say_them():
    from lclib.analysis.wording import p_text

    assert p_text(0.0) == "p < 0.001" and p_text(0.0004) == "p < 0.001"
    assert p_text(0.0321) == "p = 0.032" and p_text(0.5) == "p = 0.5"


def test_headline_table_has_one_header_row_and_readable_alignment():
    from lclib.report.record import headline_table

    html = headline_table([{"label": "People who reached Retention", "value": 840, "unit": "people"},
                           {"label": "Lead rate", "value": 51.2, "unit": "%"}]).to_html()
    head = html.split("<thead>")[1].split("</thead>")[0]
    assert head.count("<tr>") == 1 and ">Headline</th>" in head and ">Value</th>" in head
    assert "840 people" in html and "51.2 %" in html


def test_headline_table_says_the_settings_under_the_table_not_as_results():
    from lclib.report.record import headline_table

    html = headline_table([{"name": "monthly_churn_rate", "label": "Monthly churn rate", "value": 13.4, "unit": "%"},
                           {"name": "inactivity_window_days", "label": "Inactivity window <b>", "value": 153,
                            "unit": "days"}]).to_html()
    body = html.split("<tbody>")[1].split("</tbody>")[0]
    assert "Monthly churn rate" in body and "Inactivity window" not in body
    caption = html.split("<caption>")[1].split("</caption>")[0]
    assert caption == "Settings used: Inactivity window &lt;b&gt;: 153 days."


def test_headline_table_says_not_enough_data_for_a_headline_without_a_value_as_the_index_does():
    from lclib.report.record import NOT_ENOUGH_DATA, headline_table

    html = headline_table([{"name": "monthly_churn_rate", "label": "Monthly churn rate", "value": None, "unit": "%"},
                           {"name": "x", "label": "Customers", "value": 12, "unit": "customers"}]).to_html()
    assert NOT_ENOUGH_DATA in html and "n/a" not in html and "12 customers" in html
    template = (Path(__file__).resolve().parents[1] / "lclib/report/templates/index.html.j2").read_text()
    assert NOT_ENOUGH_DATA in template  # one wording on the index and in the reports
