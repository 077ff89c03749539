"""Reports that answer first (issue 19, item 2): the Answers of each report, display names,
the preprocessors that put the answers on top and leave analyst-only cells out of the
business version, and ``table(names=...)``."""

from __future__ import annotations

import re

import nbformat
import pandas as pd
import pytest
from nbconvert import HTMLExporter

from lclib.analysis import wording
from lclib.analysis.wording import display_name
from lclib.report import answers
from lclib.report.notebook import table


def bullets(text: str) -> list[str]:
    lines = text.splitlines()
    assert all(line.startswith("- ") for line in lines), text
    return lines


# ----------------------------------------------------------------------------- display names


@pytest.mark.parametrize(("value", "shown"), [
    ("paid_search", "Paid search"), ("app_push", "App push"), ("email", "Email"), ("at_risk", "At risk"),
    ("Champions", "Champions"), ("Can't Lose Them", "Can't Lose Them"), ("Paid Search", "Paid Search"),
    ("2024Q1", "2024Q1"), ("", ""), ("_x", "_x"), ("a__b", "a__b"),
    ('<img src=x onerror=alert("zq")>', '<img src=x onerror=alert("zq")>'),
])
def test_display_name_makes_words_of_snake_case_and_keeps_the_rest(value, shown):
    assert display_name(value) == shown


def test_display_name_uses_the_configured_words_first():
    names = {"paid_search": "Search ads", "Champions": "Best customers"}
    assert display_name("paid_search", names) == "Search ads"
    assert display_name("Champions", names) == "Best customers"
    assert display_name("app_push", names) == "App push"
    assert display_name(None, names) is None
    assert display_name(3, names) == 3
    assert wording.display_names(["paid_search", "email"], names) == ["Search ads", "Email"]


def test_display_names_is_an_empty_mapping_by_default_and_can_be_set(tmp_path):
    from lclib.config import load_config

    assert load_config(None).display_names == {}
    cfg = load_config(None, {"display_names.app_push": "App notifications"})
    assert cfg.display_names == {"app_push": "App notifications"}


def test_table_shows_index_and_chosen_columns_in_words_and_leaves_the_data_alone():
    df = pd.DataFrame({"channel2": ["app_push", "email"], "customer": ["abc_def", "c1"], "n": [1, 2]},
                      index=pd.Index(["paid_search", "<b>x</b>"], name="Channel"))
    html = table(df, names={"email": "E-mail"}, name_columns=["channel2"]).to_html()
    assert "Paid search" in html and "App push" in html and "E-mail" in html
    assert "abc_def" in html  # not a name column: shown as it is (ids are never rewritten)
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert list(df.index) == ["paid_search", "<b>x</b>"] and df["channel2"].tolist() == ["app_push", "email"]
    assert "paid_search" in table(df).to_html()  # without names: as before


# ----------------------------------------------------------------------------- answers per report


def test_overview_answers_state_size_period_and_cleaning():
    text = wording.overview_answers(customers=1862, orders=4415, revenue=132718.84, currency="EUR",
                                    first_date="1 January 2024", last_date="27 December 2025", days_covered=726,
                                    repeat_customer_share=45.11, rows_read=7415, rows_kept=7400,
                                    missing_tables=["surveys"])
    lines = bullets(text)
    assert 3 <= len(lines) <= 6
    assert "**1,862 customers**" in text and "**4,415 orders**" in text and "132,719 EUR" in text
    assert "45 %" in text and "7,400 of 7,415" in text and "15 removed" in text and "surveys" in text
    assert "24 months" in text


def test_journey_answers_name_flow_biggest_drop_and_channel_in_words():
    text = wording.journey_answers(
        stages=[("Reach", 5271), ("Acquisition", 2697), ("Conversion", 1862)],
        biggest_drop=("Acquisition", "Conversion", 30.96), steps_below_target=1, steps_with_target=2,
        median_days_to_conversion=5.8, top_channel="paid_search", top_channel_share=23.62,
        names={})
    assert 3 <= len(bullets(text)) <= 6
    assert "**5,271 people**" in text and "**1,862**" in text and "31 %" in text
    assert "**1 step of 2**" in text and "is clearly below" in text
    assert "**Paid search**" in text and "paid_search" not in text and "24 %" in text and "6 days" in text
    assert "Search ads" in wording.journey_answers(stages=[("A", 2), ("B", 1)], top_channel="paid_search",
                                                   top_channel_share=50.0, names={"paid_search": "Search ads"})


def test_stages_answers_split_buyers_and_say_where_the_base_goes():
    text = wording.stages_answers(buyers=1862, at_risk=512, lapsed=1133, at_risk_days=31, lapsed_days=153,
                                  currency="EUR", at_risk_revenue=44222.22, inflow_per_month=101,
                                  lapsing_per_month=82, at_risk_to_lapsed_pct=17.8, lapsed_to_reactivated_pct=2.5)
    assert 3 <= len(bullets(text)) <= 6
    assert "**217**" in text and "**512** (27 %)" in text and "**1,133** (61 %)" in text
    assert "44,222 EUR" in text and "grows" in text and "18 %" in text and "2.5 %" in text
    assert "shrinks" in wording.stages_answers(buyers=10, at_risk=1, lapsed=1, at_risk_days=1, lapsed_days=2,
                                               currency="EUR", inflow_per_month=1, lapsing_per_month=5)


def test_rfm_answers_give_champions_and_the_slipping_segments():
    text = wording.rfm_answers(customers=1862, shares={"Champions": 1.8, "At Risk": 26.7, "Lost": 39.6},
                               champions_revenue_share=5.2, one_order_share=54.9, stayed_share=73.1,
                               compare_days=90, largest_segment=("Hibernating", 12.5))
    assert 3 <= len(bullets(text)) <= 6
    for piece in ("1.8 %", "5.2 %", "26.7 %", "39.6 %", "55 %", "73 %", "90 days", "**Hibernating**"):
        assert piece in text


def test_churn_answers_in_plain_words_without_model_jargon():
    text = wording.churn_answers(window_days=153, currency="EUR", monthly_churn_pct=13.38, repeat_after_1st_pct=39.83,
                                 repeat_after_2nd_pct=54.25, at_risk_customers=71, at_risk_revenue=21000.0,
                                 model_auc=0.768, recency_auc=0.731, customers_kept=13, extra_margin=220.14,
                                 reduction_pct=5.0, horizon_months=12)
    assert 3 <= len(bullets(text)) <= 6
    for piece in ("153 days", "13.4 %", "40 %", "54 %", "**71 high-value customers**", "21,000 EUR", "77 %", "73 %",
                  "**5 % less churn**", "13 more customers", "220 EUR", "12 months"):
        assert piece in text, piece
    assert not re.search(r"ROC|AUC|Brier|BG/NBD", text)
    empty = wording.churn_answers(window_days=30, currency="EUR", at_risk_customers=0)
    assert "No high-value active customer" in empty


def test_clv_answers_name_every_paid_channel_that_loses_money():
    text = wording.clv_answers(currency="EUR", horizon_months=12, worst=("paid_search", 0.51), best=("app_push", 4.83),
                               losing=[("paid_search", 0.51), ("paid_social", 0.77)])
    assert ("**Paid search** (0.51 EUR) and **Paid social** (0.77 EUR) **lose money**: each EUR spent to win a "
            "customer there brings back less than 1 EUR of expected customer value (shown in brackets).") in text
    one = wording.clv_answers(currency="EUR", horizon_months=12, worst=("paid_search", 0.51), losing=[("paid_search", 0.51)])
    assert "**Paid search loses money**: each EUR spent to win a customer there brings back **0.51 EUR**" in one


def test_churn_answers_do_not_pass_on_the_list_of_a_model_worse_than_sorting_by_recency():
    weak = wording.churn_answers(window_days=37, currency="EUR", at_risk_customers=23, at_risk_revenue=2163.0,
                                 model_auc=0.41, recency_auc=0.62)
    assert "likely to leave" not in weak and "**cannot be trusted**" in weak
    assert "only **41 %** of the time, against 62 % for simply sorting by days since the last order; its list of 23 " \
           "customers is no better than that sorting" in weak
    good = wording.churn_answers(window_days=37, currency="EUR", at_risk_customers=23, model_auc=0.80, recency_auc=0.7)
    assert "**23 high-value customers** who are still active are likely to leave" in good
    assert "cannot be trusted" not in good and "**80 %** of the time" in good


def test_churn_answers_call_the_second_order_the_one_to_win_only_when_the_rise_is_real():
    common = dict(window_days=153, currency="EUR", repeat_after_1st_pct=79.0, repeat_after_2nd_pct=83.0)
    assert "the second order is the one to win" in wording.churn_answers(**common, repeat_trend="increasing")
    flat = wording.churn_answers(**common, repeat_trend="flat")
    assert "one to win" not in flat and "**83 %** after a second order (too close to call a difference)" in flat


def test_clv_answers_say_which_channel_loses_money_in_words():
    text = wording.clv_answers(currency="EUR", horizon_months=12, mean_clv=7.01, total_clv=13061.35, simple_clv=10.47,
                               blended_cac=17.93, model_status="ok", holdout_error_pct=-1.7, threshold=3.0,
                               worst=("paid_search", 0.51), best=("app_push", 4.83), channels_below=3)
    lines = bullets(text)
    assert 3 <= len(lines) <= 6
    assert "7.01 EUR" in text and "13,061 EUR" in text and "17.93 EUR" in text and "1.7 %" in text
    assert "**Paid search loses money**" in text and "0.51 EUR" in text and "**App push**" in text
    assert "paid_search" not in text and "can be trusted" in text
    # the textbook CLV is after the cost of winning the customer: said as margin, cost and what is left
    assert ("a customer brings **28.40 EUR** of margin over their lifetime; after the **17.93 EUR** spent on "
            "average to win one, **10.47 EUR** is left.") in text
    losing = wording.clv_answers(currency="EUR", horizon_months=12, simple_clv=-4.70, blended_cac=17.43)
    assert "after the **17.43 EUR** spent on average to win one, each customer **loses 4.70 EUR**." in losing
    weak = wording.clv_answers(currency="EUR", horizon_months=12, model_status="unusable", worst=("tv", 2.0))
    assert "cannot be trusted" in weak and "pays back least" in weak


def test_experiments_answers_give_verdicts_and_the_lift_with_its_range():
    text = wording.experiments_answers(experiments=1, customers=577, verdicts=[("welcome_email", "ship", "B")],
                                       best_lift=("welcome_email, B vs A", 11.2, 4.0, 18.2))
    assert 3 <= len(bullets(text)) <= 6
    assert "**577 customers**" in text and "1 to ship" in text and "**SHIP**" in text and "roll out B" in text
    assert "+11.2 points" in text and "+4.0 and +18.2" in text and "real" in text
    none = wording.experiments_answers(experiments=0)
    assert 3 <= len(bullets(none)) and "no experiments table" in none


def test_scores_answers_compare_the_at_risk_definitions():
    text = wording.scores_answers(customers=1862, at_risk_state=512, at_risk_rfm=663, at_risk_model=548,
                                  campaign_list=512, both_all=300, vip_lapsed=0)
    assert 3 <= len(bullets(text)) <= 6
    for piece in ("1,862 buyers", "**512**", "**663**", "**548**", "**300**", "512 customers", "No Champion"):
        assert piece in text


def test_answers_never_exceed_six_sentences():
    many = wording._bullets([f"Sentence {i}." for i in range(9)])
    assert len(bullets(many)) == 6


def test_auc_words_say_the_ranking_share():
    assert "77 % of the time (ROC AUC 0.768" in wording.auc_words(0.768)
    assert "could not be rated" in wording.auc_words(None)


# ----------------------------------------------------------------------------- preprocessors


def _report_notebook():
    v4 = nbformat.v4
    nb = v4.new_notebook()
    title = v4.new_markdown_cell("# Churn: who leaves\n\nIntro.")
    params = v4.new_code_cell("CONFIG = None")
    params.metadata["tags"] = ["parameters"]
    section = v4.new_markdown_cell("## First section")
    detail = v4.new_code_cell("x = 1", outputs=[v4.new_output("display_data", {"text/markdown": "DETAIL-TEXT"})])
    technical = v4.new_code_cell("p", outputs=[v4.new_output("display_data", {"text/markdown": "PARAMETER-TABLE"})])
    technical.metadata["tags"] = ["analyst-only"]
    technical2 = v4.new_markdown_cell("OLD-SPELLING")
    technical2.metadata["tags"] = ["analyst_only"]
    headline = v4.new_markdown_cell("## Headline numbers")
    answer = v4.new_code_cell("say(answers)",
                              outputs=[v4.new_output("display_data", {"text/markdown": "- ANSWER-ONE\n- ANSWER-TWO"})])
    answer.metadata["tags"] = ["answers"]
    nb.cells = [title, params, section, detail, technical, technical2, headline, answer]
    return nb


def _export(nb, with_code: bool) -> str:
    exporter = HTMLExporter(template_name="lab", exclude_input=not with_code, exclude_input_prompt=not with_code,
                            exclude_output_prompt=True)
    answers.register(exporter, with_code=with_code)
    body, _ = exporter.from_notebook_node(nb)
    return body


def test_exported_html_has_the_answers_before_the_first_section():
    html = _export(_report_notebook(), with_code=False)
    assert html.count("ANSWER-ONE") == 1
    heading = html.index('id="Answers"')
    assert html.index("Churn: who leaves") < heading < html.index("ANSWER-ONE") < html.index('id="First-section"')
    assert html.index("ANSWER-TWO") < html.index("DETAIL-TEXT") < html.index('id="Headline-numbers"')


def test_business_html_leaves_analyst_only_cells_out_and_the_analyst_html_keeps_them():
    business = _export(_report_notebook(), with_code=False)
    analyst = _export(_report_notebook(), with_code=True)
    assert "PARAMETER-TABLE" not in business and "OLD-SPELLING" not in business
    assert "PARAMETER-TABLE" in analyst and "OLD-SPELLING" in analyst
    assert analyst.index('id="Answers"') < analyst.index('id="First-section"')


def test_move_answers_keeps_an_answers_heading_of_the_notebook_and_adds_none_twice():
    nb = _report_notebook()
    own = nbformat.v4.new_markdown_cell("## Answers")
    own.metadata["tags"] = ["answers"]
    nb.cells.insert(len(nb.cells) - 1, own)
    moved = answers.move_answers(nb)
    sources = [c.source for c in moved.cells]
    assert sources[0].startswith("# Churn") and sources[1] == "## Answers" and sources[2] == "say(answers)"
    assert sources.count("## Answers") == 1
    assert answers.move_answers(answers.move_answers(nb)).cells[1].source == "## Answers"  # idempotent


def test_a_notebook_without_answers_or_title_is_left_as_it_is():
    nb = _report_notebook()
    nb.cells = [c for c in nb.cells if "answers" not in c.metadata.get("tags", [])]
    before = [c.source for c in nb.cells]
    assert [c.source for c in answers.move_answers(nb).cells] == before
    untitled = _report_notebook()
    untitled.cells = untitled.cells[1:]
    assert answers.move_answers(untitled).cells[0].source == "## Answers"


def test_every_report_notebook_has_tagged_answers_at_its_end():
    from pathlib import Path

    for path in sorted(Path(__file__).parents[1].joinpath("notebooks").glob("[0-9][0-9]_*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tagged = [i for i, c in enumerate(nb.cells) if "answers" in c.metadata.get("tags", [])]
        assert tagged and tagged[-1] == len(nb.cells) - 1, path.name
        code = [nb.cells[i] for i in tagged if nb.cells[i].cell_type == "code"]
        assert len(code) == 1 and "_answers(" in code[0].source and "say(" in code[0].source, path.name
        assert "headline_table(" in "".join(c.source for c in nb.cells[:tagged[0]]), path.name


def test_churn_answers_leave_out_a_what_if_that_keeps_less_than_one_customer():
    from lclib.analysis.wording import churn_answers

    text = churn_answers(window_days=50, currency="GBP", customers_kept=0.4, extra_margin=47.45, reduction_pct=5,
                         horizon_months=12)
    assert "less churn" not in text
    text = churn_answers(window_days=50, currency="GBP", customers_kept=13, extra_margin=220.0, reduction_pct=5,
                         horizon_months=12)
    assert "**13 more customers**" in text
