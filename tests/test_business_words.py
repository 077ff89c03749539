"""The business reports (``NN_topic.html``) speak a manager's words.

One run of the sample suite (``lclib run``, ~70 s); the visible text of every business report
and of the index (no code, scripts or styles) is searched for raw channel / state values, model
parameters, diagnostics and configuration keys, which belong to the analysts' version
(``NN_topic.analyst.html``, cells tagged ``analyst_only``) or to run.json. Plus the small
pure helpers behind the wording.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from lclib.analysis import wording
from lclib.analysis.clv.trust import Finding, Verdict, plain_words, span_days
from lclib.report.cli import main


class _Text(HTMLParser):
    """The text a reader sees: everything outside <script>, <style> and code cells' inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.skip, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skip -= 1
        self.parts.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def _visible(path: Path) -> str:
    parser = _Text()
    parser.feed(path.read_text(encoding="utf-8"))
    return "".join(parser.parts)


@pytest.fixture(scope="module")
def business(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("reports")
    assert main(["run", "--out", str(out), "-q"]) == 0
    latest = (out / "latest").resolve()
    pages = sorted(p for p in latest.glob("0*.html") if not p.name.endswith(".analyst.html"))
    assert len(pages) == 8
    return {p.stem: _visible(p) for p in pages}


# raw snake_case values of the sample's channels and states (file names such as rfm_at_risk.csv excepted)
RAW_VALUES = re.compile(r"\b(paid_search|paid_social|organic_social|app_push|at_risk|registered_no_purchase)\b(?![\w.]*\.(csv|parquet))")
# fitted parameters and diagnostics (the analysts' version has them; 06's p-values stay, in brackets
# beside a plain sentence, as notebooks/README.md allows for a technical term)
DIAGNOSTICS = re.compile(r"\br = 0\.|\balpha = |\bROC AUC\b|Brier|log-rank|Drop in ROC AUC", re.IGNORECASE)
# dotted configuration keys (the business text names settings in words)
KEYS = re.compile(r"\b(clv|rfm|privacy|experiments|churn)\.[a-z_]+")


def test_business_reports_show_words_not_raw_values(business):
    found = {name: sorted(set(m.group(1) for m in RAW_VALUES.finditer(text)))
             for name, text in business.items() if name != "07_customer_scores"}
    assert not any(found.values()), found
    # 07's column-meanings table names the export's columns (at_risk_state ...); its campaign list shows states in words
    assert "State" in business["07_customer_scores"]
    assert not re.search(r"\n\s*at_risk\s*\n", business["07_customer_scores"])


def test_business_reports_leave_parameters_and_diagnostics_to_analysts(business):
    found = {name: sorted(set(m.group(0) for m in DIAGNOSTICS.finditer(text))) for name, text in business.items()}
    assert not any(found.values()), found


def test_business_reports_name_settings_in_words(business):
    # 07's column meanings come from lclib.analysis.customer_view (the export's documentation)
    found = {name: sorted(set(m.group(0) for m in KEYS.finditer(text)))
             for name, text in business.items() if name != "07_customer_scores"}
    assert not any(found.values()), found


def test_one_wording_of_the_analysis_date(business):
    for name, text in business.items():
        assert "January 2026" not in text and "Jan 2026" not in text, name  # the exclusive end is never the last day
    for name in ("01_journey", "02_stages", "03_rfm", "04_churn", "06_experiments"):
        assert "data to 31 Dec 2025" in business[name].replace("Data to", "data to"), name


def test_holdout_window_in_days_as_the_index(business):
    assert "242 days (about 35 weeks)" in business["05_clv"]


def test_data_to_names_the_last_day_counted():
    assert wording.data_to(pd.Timestamp("2026-01-01")) == "data to 31 Dec 2025"
    assert wording.data_to("2026-01-01", start=True) == "Data to 31 Dec 2025"


def test_display_path_and_auc_without_the_term():
    assert wording.display_path("paid_search > email", {"email": "Newsletter"}) == "Paid search > Newsletter"
    assert wording.display_path(None) is None
    plain = wording.auc_words(0.768, "The model", term=False)
    assert "77 % of the time" in plain and "AUC" not in plain


def test_plain_verdict_keeps_the_analysts_text():
    finding = Finding("ok", "every parameter is pinned down: the widest 95 % interval, b's, spans a factor of 2.7",
                      plain="the data pin down every number the model learns")
    weak = Finding("weak", "it rests on only 300 customers (at least 500 for firm parameters, `clv.min_customers`)",
                   "Move `clv.calibration_end` earlier.")
    verdict = Verdict("The purchase model (BG/NBD)", [finding, weak])
    assert "`clv.min_customers`" in verdict.sentence() and "b's" not in verdict.sentence()
    plain = verdict.sentence(plain=True)
    assert "clv." not in plain and "(at least 500 for firm parameters)" in plain
    assert "the calibration end date (a setting of the configuration)" in plain
    assert verdict.reason == weak.reason  # run.json's text is unchanged
    assert Verdict("x", [finding]).short(plain=True) == "**x: ok** (the data pin down every number the model learns)"
    assert plain_words("no key here") == "no key here"
    assert span_days(242) == "242 days (about 35 weeks)" and span_days(10) == "10 days"
    assert span_days(140) == "140 days (20 weeks)"  # a whole number of weeks: no "about"


def test_the_index_glossary_defines_words_without_configuration_keys():
    import re

    from lclib.config.glossary import GLOSSARY

    for key, (term, definition) in GLOSSARY.items():
        assert not re.search(r"\b[a-z_]+\.[a-z_]+\b", definition), (key, definition)  # no states.new_days
        words = re.sub(r"\{[^}]*\}", "", definition)  # the run's values are filled into the braces
        assert "lclib.yaml" not in words and "_" not in words, (key, definition)


def test_thin_data_sentences_and_the_customer_table_glossary_name_no_configuration_key():
    """Branches the sample never reaches (a history too short, the customer table's glossary)."""
    import re

    import pandas as pd

    from lclib.analysis.clv.trust import Finding, Verdict, missing_numbers
    from lclib.analysis.customer_view import at_risk_definitions, column_glossary

    key = re.compile(r"\b(?:analysis|inputs|clean|rfm|churn|clv|states|journey)\.[a-z_]+")
    short = Verdict("The purchase model (BG/NBD)", [Finding(
        "unusable", "the history is only 12 weeks long (at least 13 weeks, `clv.min_calibration_weeks`): too short")])
    said = missing_numbers(short)
    assert "Why: the purchase model (BG/NBD) is unusable (the history is only 12 weeks long (at least 13 weeks)" in said
    assert not key.search(said)
    glossary = " ".join(column_glossary()["Meaning"])
    assert not key.search(glossary) and "over the next 12 months" in glossary
    flags = pd.DataFrame({"at_risk_state": [True], "at_risk_rfm": [False], "at_risk_model": [True],
                          "churn_probability": [0.7]})
    assert not key.search(" ".join(at_risk_definitions(flags)["definition"]))
