"""Reports a manager wants to read (issue 19): the answer first, plain words, right grammar.

- 07 follows report 04's verdict on its churn model (``churn_scores.model_beats_recency``):
  when the model ranked customers no better than the days since their last order, 07 neither
  calls its picks the surest nor orders the list by the churn flag.
- Counts next to nouns agree (``1 conversion``), the journey's left-out stages read as stages.
- One definition of a span in months (00's "(3 months)" is 04's "the 3 months of data").
- Business texts name settings in words; configuration keys stay in analyst-only cells.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import churn_findings, journey, wording
from lclib.analysis import customer_view as cv
from lclib.analysis.journey_findings import (
    people,
    scope_sentence,
    stage_flow,
)
from lclib.config import Stage
from lclib.report.notebook import export, read_export

NOTEBOOKS = Path(__file__).parents[1] / "notebooks"
THRESHOLDS = SimpleNamespace(at_risk_days=60, lapsed_days=180)
#: A configuration key as Markdown shows it: `section.key` (also `inputs.<table>.clean`).
BACKTICKED_KEY = re.compile(r"`[a-z_<>]+\.[a-z_<>.]+(?::[^`]*)?`")


def _scores(beats: bool | None) -> pd.DataFrame:
    """Four customers: two lifecycle at risk (one also RFM and model), one lapsed, one active."""
    s = pd.DataFrame({
        "state": ["at_risk", "at_risk", "lapsed", "active"],
        "at_risk_state": [True, True, False, False],
        "at_risk_rfm": [True, False, True, False],
        "at_risk_model": [True, False, False, True],
        "churn_probability": [0.8, 0.3, 0.9, 0.7],
    }, index=pd.Index(["a", "b", "c", "d"], name="customer_id"))
    s.attrs["model_beats_recency"] = beats
    return s


# ----------------------------------------------------------------------------- 07 follows 04's verdict


def test_scores_answers_call_the_overlap_the_surest_picks_only_when_the_model_is_trusted():
    common = {"customers": 100, "at_risk_state": 20, "at_risk_rfm": 15, "at_risk_model": 12, "campaign_list": 20,
              "both_all": 5}
    trusted = wording.scores_answers(**common, model_beats_recency=True)
    assert "**5** are at risk by every definition: the surest picks." in trusted
    assert wording.scores_answers(**common) == trusted  # not known (a run before the column): as before
    untrusted = wording.scores_answers(**common, model_beats_recency=False)
    assert "surest" not in untrusted
    assert ("- **5** are at risk by every definition, but in this run the churn model ranked customers no better "
            "than simply sorting them by days since their last order (report 04), so order the list by days since "
            "the last order, not by the churn flag.") in untrusted
    alone = wording.scores_answers(**{**common, "both_all": None}, model_beats_recency=False)
    assert "- In this run the churn model ranked customers no better than simply sorting" in alone


def test_at_risk_relation_recommends_the_churn_flag_only_when_the_model_beats_recency():
    trusted = cv.at_risk_relation(_scores(True), THRESHOLDS)
    assert trusted.endswith("Use the lifecycle list for win-back timing, the churn flag to pick who comes first.")
    assert cv.at_risk_relation(_scores(None), THRESHOLDS) == trusted
    untrusted = cv.at_risk_relation(_scores(False), THRESHOLDS)
    assert "churn flag to pick who comes first" not in untrusted
    assert untrusted.endswith(
        "Use the lifecycle list for win-back timing; in this run the churn model ranked customers no better than "
        "simply sorting them by days since their last order (report 04), so order the list by days since the last "
        "order, not by the churn flag.")


def test_report_04_exports_its_verdict_and_07_reads_it(tmp_path):
    scored = pd.DataFrame({"p_churn": [0.7, 0.2], "status": ["active", "lapsed"]},
                          index=pd.Index(["a", "b"], name="customer_id"))
    for beats in (True, False):
        out = tmp_path / str(beats)
        export(churn_findings.scores_export(scored, SimpleNamespace(beats_recency=beats)), "churn_scores", out,
               parquet=True)
        back = read_export("churn_scores", out)
        assert back["model_beats_recency"].tolist() == [beats, beats]
        assert pd.read_csv(out / "churn_scores.csv")["model_beats_recency"].tolist() == [beats, beats]
        assert cv.churn_model_beats_recency(back) is beats
    assert "model_beats_recency" not in scored  # the at-risk list of 04 is built from the frame as it was
    assert cv.churn_model_beats_recency(None) is None
    assert cv.churn_model_beats_recency(scored) is None  # churn scores of a run before the column


def test_build_customer_scores_carries_the_verdict():
    from lclib.config import load_config

    rng = np.random.default_rng(0)
    tx = pd.DataFrame([{"customer_id": f"c{i:02d}", "order_id": f"o{i}-{k}", "amount": 10.0 + i,
                        "timestamp": pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 700)))}
                       for i in range(40) for k in range(1 + i % 4)])
    churn = pd.DataFrame({"customer_id": tx["customer_id"].unique(), "p_churn": 0.6, "status": "active"})
    cfg = load_config()
    for beats in (True, False):
        scores = cv.build_customer_scores({"transactions": tx}, cfg, "2026-01-01",
                                          churn=churn.assign(model_beats_recency=beats))
        assert scores.attrs["model_beats_recency"] is beats
        assert "model_beats_recency" not in scores  # the customer table's columns are unchanged
        said = cv.at_risk_relation(scores, scores.attrs["thresholds"])
        assert ("the churn flag to pick who comes first" in said) is beats
    assert cv.build_customer_scores({"transactions": tx}, cfg, "2026-01-01").attrs["model_beats_recency"] is None


def test_the_notebooks_pass_the_verdict_on():
    nb04 = (NOTEBOOKS / "04_churn.ipynb").read_text(encoding="utf-8")
    assert 'export(findings.scores_export(scored, trust), \\"churn_scores\\"' in nb04
    nb07 = (NOTEBOOKS / "07_customer_scores.ipynb").read_text(encoding="utf-8")
    assert 'model_beats_recency=scores.attrs.get(\\"model_beats_recency\\")' in nb07


# ----------------------------------------------------------------------------- words, not keys


def test_at_risk_relation_names_the_recency_setting_in_words_and_leaves_the_key_to_analysts():
    s = _scores(True)
    s.loc["d", "at_risk_rfm"] = True  # an active customer in an RFM at-risk segment: recency not tied to states
    said = cv.at_risk_relation(s, THRESHOLDS)
    assert "and 1 neither: their RFM recency score comes from the days since the last order alone" in said
    assert not BACKTICKED_KEY.search(said) and "quantile" not in said and "rfm." not in said
    assert cv.recency_setting_note(s) == ("RFM recency is scored from the days since the last order alone: set "
                                          "`rfm.recency_from_states: true` in lclib.yaml to score it from the "
                                          "lifecycle states.")
    assert cv.recency_setting_note(_scores(True)) == ""


@pytest.mark.parametrize("name", ["00_data_overview", "04_churn", "05_clv", "07_customer_scores"])
def test_business_markdown_names_no_configuration_key(name):
    nb = json.loads((NOTEBOOKS / f"{name}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] != "markdown" or "analyst_only" in cell["metadata"].get("tags", []):
            continue
        text = "".join(cell["source"])
        assert not BACKTICKED_KEY.search(text), (name, text)
        assert not re.search(r"`signup`|\bquantiles?\b|\bnull\b", text), (name, text)
    assert all(c.get("outputs", []) == [] for c in nb["cells"] if c["cell_type"] == "code")
    assert any("analyst_only" in c["metadata"].get("tags", []) for c in nb["cells"])


def test_report_00_keeps_the_cleaning_key_in_an_analyst_note():
    nb = json.loads((NOTEBOOKS / "00_data_overview.ipynb").read_text(encoding="utf-8"))
    notes = ["".join(c["source"]) for c in nb["cells"] if "analyst_only" in c["metadata"].get("tags", [])]
    assert any("`inputs.<table>.clean`" in n for n in notes)


def test_campaign_sentence_says_money_as_every_report_does():
    campaign = pd.DataFrame({"revenue": [30.25, 26.25], "predicted_clv": [np.nan, 1234.4],
                             "at_risk_rfm": [True, False], "at_risk_model": [False, False]})
    said = cv.campaign_sentence(campaign, "EUR")
    assert "**56.50 EUR** of revenue so far" in said  # wording.money: cents below 100
    assert "**1,234 EUR** of predicted CLV" in said
    assert wording.money(56.5, "EUR") == "56.50 EUR" and wording.money(1234.4, "EUR") == "1,234 EUR"


# ----------------------------------------------------------------------------- grammar


def test_plural_and_people():
    # "1 conversions" in 01's attribution sentence: tests/test_journey_findings.py pins "+1 conversion" and
    # "1 conversion had no earlier touchpoint and is not attributed"
    assert wording.plural(1, "conversion") == "1 conversion" and wording.plural(2, "conversion") == "2 conversions"
    assert wording.plural(0, "step") == "0 steps" and wording.plural(1, "person", "people") == "1 person"
    assert people(1) == "1 person" and people(0.6) == "1 person" and people(2.4) == "2 people"
    assert people(12345) == "12,345 people"


def test_stage_flow_says_one_person():
    counts = pd.DataFrame({"stage": ["a", "b"], "label": ["A", "B"], "people": [1, 0],
                           "share_of_first": [1.0, 0.0], "lost_after": [1, 0]})
    said = stage_flow(counts).sentence
    assert said.startswith("**1 person** entered the journey at A;") and "(1 person) drop out" in said


REACH = Stage(name="reach", events=["visit"], kpi="visits")
LEAD = Stage(name="lead", events=["signup"], kpi="lead_rate")
BUY = Stage(name="purchase", facts=["first_purchase"], kpi="conversion_rate")


def test_the_journey_scope_names_left_out_stages_as_stages():
    no_events = {"transactions": pd.DataFrame(), "events": None}
    one = journey.journey_scope(no_events, [REACH, BUY], ["reach"])
    assert one.sentence == ("No events table was given, so the journey runs in **transactions-only mode from "
                            "Purchase onwards**; the Reach stage cannot be measured and is left out. Channel "
                            "touchpoints are the orders' channels only.")
    two = journey.journey_scope(no_events, [REACH, LEAD, BUY], ["reach", "lead"])
    assert "; the Reach and Lead stages cannot be measured and are left out." in two.sentence
    events = {"events": pd.DataFrame({"x": [1]})}
    partial = journey.journey_scope(events, [REACH, LEAD, BUY], ["lead"])
    assert partial.sentence == ("The data measures 2 of the 3 configured stages; the Lead stage cannot be "
                                "measured (none of its events or source tables are present) and is left out.")
    single = journey.journey_scope(events, [BUY], [])
    assert single.sentence == "The one configured stage can be measured from the data."
    assert scope_sentence(single, 1, "2025-07-01").endswith("The journey is read from **1 person** (data to 30 Jun 2025).")


# ----------------------------------------------------------------------------- one month count


def test_reports_00_and_04_count_the_months_of_a_thin_cut_alike():
    # the thin cut: orders from 18 Jan to 30 Apr 2024, analysis date 1 May 2024
    first, last, as_of = pd.Timestamp("2024-01-18 03:01"), pd.Timestamp("2024-04-30 10:00"), pd.Timestamp("2024-05-01")
    days_covered = (last - first).days + 1  # as lclib.analysis.overview.headline_counts counts them
    said_00 = wording.overview_answers(customers=20, orders=45, revenue=1617.0, currency="EUR",
                                       first_date="18 Jan 2024", last_date="30 Apr 2024", days_covered=days_covered)
    assert "(3 months)" in said_00
    months = churn_findings.months_of_data(first, as_of, last)
    assert months == 3 == wording.months_covered(days_covered)
    imp = pd.DataFrame({"label": ["Sign-up"], "conversion": [0.2], "improved": [0.3], "extra": [10.0],
                        "extra_customers": [2.0], "extra_revenue": [279.0]})
    best = churn_findings.best_stage_to_improve(imp, "its target", "EUR", months)
    assert best.period == "the 3 months of data" and best.sentence.endswith("over the 3 months of data.")
    assert churn_findings.best_stage_to_improve(imp, "its target", "EUR", 1).period == "the month of data"
    assert churn_findings.best_stage_to_improve(imp, "its target", "EUR", 0).period == "less than a month of data"


def test_a_span_under_half_a_month_is_said_in_days():
    assert wording.span_words(10) == "10 days" and wording.span_words(1) == "1 day"
    assert wording.span_words(46) == "2 months" and wording.span_words(40) == "1 month"
    assert "(10 days)" in wording.overview_answers(customers=2, orders=3, revenue=50.0, currency="EUR",
                                                  first_date="1 Jan 2024", last_date="10 Jan 2024", days_covered=10)


# ----------------------------------------------------------------------------- one verdict in 04, its export and 07


def test_a_tie_at_the_precision_04_shows_does_not_beat_recency():
    """A hostile sample read 'adds something' and 'cannot be trusted' in one report (0.910 against 0.910), and 07
    called the churn model's picks the surest: one verdict now, ``ModelTrust.beats_recency``."""
    from test_churn_findings import METRICS, fake_result

    def trust(model: float, recency: float):
        metrics = METRICS.loc[["model", "recency rule", "base rate"]].copy()
        metrics.loc[["model", "recency rule"], "roc_auc"] = [model, recency]
        return churn_findings.model_trust(fake_result(metrics=metrics))

    tie = trust(0.9104, 0.9098)
    assert not tie.beats_recency and "So the simple rule does as well: use it." in tie.plain_sentence
    assert "it does not beat the simple recency rule here" in tie.sentence
    assert "**cannot be trusted**" in wording.churn_answers(window_days=30, currency="EUR", model_auc=0.910,
                                                            recency_auc=0.910)
    assert trust(0.912, 0.9098).beats_recency
    below_chance = trust(0.45, 0.40)  # better than the rule, worse than a coin toss
    assert not below_chance.beats_recency and "**do not use its list**" in below_chance.plain_sentence
    scored = pd.DataFrame({"p_churn": [0.7]}, index=pd.Index(["a"], name="customer_id"))
    assert churn_findings.scores_export(scored, tie)["model_beats_recency"].tolist() == [False]


def test_04_answers_count_one_customer_in_the_singular():
    said = wording.churn_answers(window_days=90, currency="EUR", at_risk_customers=1, at_risk_revenue=250.0,
                                 customers_kept=1.2, extra_margin=28.0, reduction_pct=5, horizon_months=12)
    assert "**1 high-value customer** who is still active is likely to leave; this customer bought" in said
    assert "would keep about **1 more customer** and" in said
    weak = wording.churn_answers(window_days=90, currency="EUR", model_auc=0.6, recency_auc=0.7, at_risk_customers=1)
    assert "its list of 1 customer is no better" in weak
    scores = wording.scores_answers(customers=1, at_risk_state=1, at_risk_rfm=1, campaign_list=1, both_all=1,
                                    vip_lapsed=1, due_30_days=1)
    assert "One row for the **1 buyer**" in scores and "**1** is at risk by every definition" in scores
    assert "holds **1 customer** (at risk" in scores and "**1 customer** is due to order again" in scores
    assert "**1** Champion or Loyal Customer is at risk or lapsed" in scores
