"""The experiments report in a manager's words (``lclib.analysis.experiments``' sentence functions).

Each finding is said in plain words first, the p-value only in brackets after them; test names
(z-test, Welch, bootstrap, Holm), "sample-ratio" and "minimum detectable effect" stay in the
analysts' version; experiment and variant names are shown as words and stay text once escaped.
Sentences are pinned, with the edge cases: no comparison yet, not significant, significant loss,
split mismatch, too small a test.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import experiments as E
from lclib.report.notebook import escape_markdown

#: Technical terms a business sentence must not use (the p-value is written "p = ...", in brackets).
JARGON = re.compile(r"z-test|Holm|Welch|bootstrap|\bMDE\b|sample-ratio|p-value|minimum detectable|chi-square|"
                    r"significan|\bSRM\b", re.IGNORECASE)


def _row(**kw) -> dict:
    """A comparison row as compare_variants gives it (the sample's winback test by default)."""
    row = {"experiment": "winback_2025", "variant": "treatment", "control": "control", "n": 288, "control_n": 289,
           "value": 0.319, "control_value": 0.208, "abs_lift": 0.111, "abs_low": 0.040, "abs_high": 0.182,
           "rel_lift": 0.54, "p_value": 0.0023, "p_adjusted": 0.0023, "significant": True}
    row.update(kw)
    return row


def _power(**kw) -> dict:
    row = {"experiment": "winback_2025", "variant": "treatment", "control_rate": 0.208, "n": 288, "control_n": 289,
           "mde_abs": 0.102, "mde_rel": 0.49, "target_rate": 0.2288, "needed_per_group": 6206.0, "reached": False,
           "still_needed": 11835.0}
    row.update(kw)
    return row


def _outcomes(groups: dict[str, tuple[int, int]], experiment: str = "exp", complete: bool = True) -> pd.DataFrame:
    """Outcome rows with exact counts: {variant: (customers, buyers)}; revenue 40 per buyer."""
    parts = []
    for v, (n, k) in groups.items():
        conv = np.r_[np.ones(k, bool), np.zeros(n - k, bool)]
        parts.append(pd.DataFrame({
            E.EXPERIMENT: experiment, E.CUSTOMER_ID: [f"{v}{i}" for i in range(n)], E.VARIANT: v,
            E.ASSIGNED_AT: pd.Timestamp("2025-01-01"), "window_end": pd.Timestamp("2025-03-02"),
            "complete": complete, "orders": conv.astype(int), "converted": conv, "repeat_purchase": conv,
            "revenue": np.where(conv, 40.0 + np.arange(n) % 7, 0.0), "switched": False}))
    return pd.concat(parts, ignore_index=True)


def _verdicts(out: pd.DataFrame, target: float = 0.10, **kw) -> tuple[pd.Series, pd.Series]:
    """(the analysts' verdict row, the plain one) of experiment ``exp``."""
    comp = E.compare_variants(out)
    args = (comp, E.power_analysis(out, target_relative_lift=target), E.srm_check(out), E.describe_experiments(out),
            target)
    return E.verdicts(*args).loc["exp"], E.verdicts(*args, plain=True, **kw).loc["exp"]


# ----------------------------------------------------------------------------- chance


def test_chance_words_put_the_p_value_in_brackets_after_the_words():
    assert E.chance_words(0.0023, True) == "too large to be chance (p = 0.0023)"
    assert E.chance_words(0.34, False) == "could be chance (p = 0.34)"
    assert E.chance_words(0.0001, True) == "too large to be chance (p < 0.001)"
    assert E.chance_words(0.012, True, compared=3) == ("too large to be chance (p = 0.012, allowing for 3 variants "
                                                       "tested at once)")
    assert E.chance_words(float("nan"), False) == "could be chance"


# ----------------------------------------------------------------------------- buying rate


def test_comparison_sentence_significant_rise():
    assert E.comparison_sentence(_row(), "60 days") == (
        "**Winback 2025**, Treatment against Control: **31.9 %** of 288 customers bought within 60 days, against "
        "**20.8 %** of 289 in the control group: **11.1 points more** (the true difference lies between +4.0 and "
        "+18.2 points with 95 % confidence; +54 % relative). The difference is too large to be chance "
        "(p = 0.0023): per 100 customers reached, about **11 more** bought.")


def test_comparison_sentence_not_significant():
    text = E.comparison_sentence(_row(value=0.22, abs_lift=0.012, abs_low=-0.05, abs_high=0.075, rel_lift=0.06,
                                      p_adjusted=0.71, significant=False), "60 days")
    assert text.endswith(
        "**1.2 points more** (the true difference lies between -5.0 and +7.5 points with 95 % confidence; +6 % "
        "relative). The difference could be chance (p = 0.71), so it proves no effect either way.")


def test_comparison_sentence_significant_loss():
    text = E.comparison_sentence(_row(value=0.15, abs_lift=-0.058, abs_low=-0.10, abs_high=-0.016, rel_lift=-0.28,
                                      p_adjusted=0.012, significant=True), "60 days", compared=2)
    assert text.endswith(
        "**5.8 points fewer** (the true difference lies between -10.0 and -1.6 points with 95 % confidence; -28 % "
        "relative). The difference is too large to be chance (p = 0.012, allowing for 2 variants tested at once): "
        "the variant did worse than the control group (about **6 fewer** buyers per 100 customers reached).")


def test_comparison_sentence_same_share_and_level():
    text = E.comparison_sentence(_row(value=0.208, abs_lift=0.0, abs_low=-0.06, abs_high=0.06, rel_lift=0.0,
                                      p_adjusted=1.0, significant=False), "30 days", level=0.9)
    assert "**the same share** (the true difference lies between -6.0 and +6.0 points with 90 % confidence" in text


def test_comparison_sentence_no_comparison_yet():
    text = E.comparison_sentence(_row(control_n=0, value=0.3, control_value=np.nan, abs_lift=np.nan, abs_low=np.nan,
                                      abs_high=np.nan, rel_lift=np.nan, p_adjusted=np.nan, significant=False),
                                 "60 days")
    assert text == ("**Winback 2025**, Treatment against Control: no comparison yet: no customer of Control has "
                    "completed the window of 60 days.")


def test_names_from_the_configuration_win():
    text = E.comparison_sentence(_row(), "60 days", names={"winback_2025": "Win-back mail 2025", "treatment": "Mail"})
    assert text.startswith("**Win-back mail 2025**, Mail against Control:")


# ----------------------------------------------------------------------------- revenue


def test_revenue_sentence_not_significant_gain():
    assert E.revenue_sentence(_row(value=14.33, control_value=11.43, abs_lift=2.90, abs_low=-3.0, abs_high=8.8,
                                   p_adjusted=0.34, significant=False), "EUR") == (
        "**Winback 2025**, Treatment: revenue per assigned customer over the window was **14.33 EUR** against "
        "**11.43 EUR** in the control group (+2.90 EUR; the true difference lies between -3.00 and +8.80 EUR with "
        "95 % confidence). The difference could be chance (p = 0.34): revenue per customer varies a lot, so this "
        "test cannot tell a revenue change from chance; it shows no sign of harm either.")


def test_revenue_sentence_not_significant_drop_does_not_claim_no_harm():
    text = E.revenue_sentence(_row(value=10.0, control_value=11.5, abs_lift=-1.5, abs_low=-6.2, abs_high=3.1,
                                   p_adjusted=0.5, significant=False), "EUR")
    assert text.endswith("; a loss of up to 6.20 EUR per customer is not ruled out.") and "no sign of harm" not in text


def test_revenue_sentence_significant_loss_and_gain():
    loss = E.revenue_sentence(_row(value=8.0, control_value=12.0, abs_lift=-4.0, abs_low=-6.0, abs_high=-2.0,
                                   p_adjusted=0.001, significant=True), "EUR")
    assert loss.endswith("A loss too large to be chance (p = 0.001): check the offer's cost.")
    gain = E.revenue_sentence(_row(value=140.0, control_value=120.0, abs_lift=20.0, abs_low=5.0, abs_high=35.0,
                                   p_adjusted=0.004, significant=True), "USD")
    assert "was **140 USD** against **120 USD**" in gain and gain.endswith("A gain too large to be chance (p = 0.004).")


def test_revenue_sentence_no_comparison_yet():
    assert E.revenue_sentence(_row(n=0, abs_lift=np.nan), "EUR") == (
        "**Winback 2025**, Treatment: no comparison of revenue yet: no customer of Treatment has completed the window.")


# ----------------------------------------------------------------------------- is the test big enough?


def test_power_sentence_too_small_test():
    assert E.power_sentence(_power(), 0.10) == (
        "**Winback 2025**, Treatment: with 289 customers in the control group and 288 in the variant, the test is "
        "too small to detect a change below **10.2 points** (20.8 % → 31.0 % of customers buying, a rise of 49 %; "
        "the smallest rise it catches 80 % of the time). A change worth having, a rise of 10 % of the control "
        "group's share (20.8 % → 22.9 %), needs **6,206 customers per group**: more than the test has, so a small "
        "but worthwhile effect could go unseen; a 'no difference' here is not proof of no effect.")


def test_power_sentence_too_small_test_that_found_a_rise():
    text = E.power_sentence(_power(), 0.10, found=0.111, power=0.9)
    assert "the smallest rise it catches 90 % of the time" in text
    assert text.endswith(
        "could go unseen. The rise it did find (+11.1 points) was large enough to show, but a test this size only "
        "flags large effects, so the true rise is probably smaller than measured (plan with the lower end of the "
        "range).")


def test_power_sentence_big_enough():
    text = E.power_sentence(_power(n=7000, control_n=7000, mde_abs=0.019, mde_rel=0.091, reached=True,
                                   still_needed=0.0), 0.10)
    assert "the test can detect a change of **1.9 points** or more (20.8 % → 22.7 %" in text
    assert text.endswith("needs **6,206 customers per group**: the test is that big, so such a change would show.")


def test_power_sentence_edge_cases():
    assert E.power_sentence(_power(control_n=0, control_rate=np.nan, mde_abs=np.nan), 0.10) == (
        "**Winback 2025**, Treatment: no customer of the control group has completed the window yet, so the test's "
        "size cannot be judged.")
    nobody = E.power_sentence(_power(control_rate=0.0, mde_abs=0.05, mde_rel=np.nan, target_rate=0.0,
                                     needed_per_group=np.nan), 0.10)
    assert "(0.0 % → 5.0 % of customers buying; the smallest" in nobody
    assert nobody.endswith("How many customers a rise of 10 % of the control group's share needs cannot be worked "
                           "out: no customer of the control group bought.")
    tiny = E.power_sentence(_power(n=3, control_n=3, mde_abs=np.nan, mde_rel=np.nan), 0.10)
    assert "the test is too small to detect even a rise to 100 % of customers buying." in tiny


# ----------------------------------------------------------------------------- the split


def _srm(counts: dict[str, int], p: float, mismatch: bool, experiment: str = "winback_2025",
         shares: dict[str, float] | None = None) -> pd.DataFrame:
    share = shares or {v: 1 / len(counts) for v in counts}
    return pd.DataFrame({"experiment": experiment, "variant": list(counts), "n": list(counts.values()),
                         "expected_share": [share[v] for v in counts], "p_value": p, "mismatch": mismatch})


def test_split_sentence_as_planned():
    assert E.split_sentence(_srm({"control": 289, "treatment": 288}, 0.967, False)) == (
        "The split between groups is as planned (a check that the group sizes match the plan: p = 0.97).")
    two = pd.concat([_srm({"a": 100, "b": 104}, 0.78, False, "e1"), _srm({"a": 50, "b": 61}, 0.3, False, "e2")])
    assert E.split_sentence(two) == ("The split between groups is as planned in every experiment (a check that the "
                                     "group sizes match the plan: p = 0.3 or more in each).")
    assert E.split_sentence(_srm({}, 1.0, False).iloc[0:0]) == ""


def test_split_sentence_mismatch():
    assert E.split_sentence(_srm({"control": 600, "treatment": 400}, 2.5e-10, True)) == (
        "The split between groups is **not as planned** in **Winback 2025** (Control 600, Treatment 400 customers "
        "where the plan was an equal split; a check that the group sizes match: p < 0.001): the assignment is "
        "broken, so its results cannot be trusted.")
    planned = E.split_sentence(_srm({"control": 500, "offer_a": 500}, 1e-6, True, shares={"control": 0.7,
                                                                                             "offer_a": 0.3}))
    assert "(Control 500, Offer a 500 customers where the plan was a split of 70 % / 30 %;" in planned


def test_overview_sentence_counts_who_is_left_out():
    out = _outcomes({"control": (100, 10), "treatment": (100, 12)})
    out.loc[out.index[:30], "complete"] = False
    out.loc[out.index[:2], "switched"] = True
    text = E.overview_sentence(E.describe_experiments(out), E.srm_check(out), "60 days", "data to 31 Dec 2025",
                               assigned_after=5)
    assert text == (
        "**1 experiment** with **200 customers** assigned. Outcomes are counted over **60 days** after assignment "
        "(data to 31 Dec 2025). 5 assignments on or after the analysis date are left out: they had not happened by "
        "then. **30 customers** are still inside their window: they are counted here but left out of every "
        "comparison until their window ends. **2 customers** were assigned to more than one variant of the same "
        "experiment (a tracking or assignment problem); they are analysed in the variant they got first. The split "
        "between groups is as planned (a check that the group sizes match the plan: p = 1).")


# ----------------------------------------------------------------------------- segments


def _by_segment(rows: list[tuple[str, float, bool, bool]]) -> pd.DataFrame:
    """(segment, lift, significant, small) -> compare_variants(by=["segment"]) rows."""
    return pd.DataFrame([{"experiment": "winback_2025", "segment": s, "metric": "converted", "variant": "treatment",
                          "control": "control", "control_value": 0.12, "value": 0.12 + d, "abs_lift": d,
                          "abs_low": d - 0.09, "abs_high": d + 0.09, "significant": sig, "small": small}
                         for s, d, sig, small in rows])


def test_segment_sentence():
    text = E.segment_sentence(_by_segment([("At Risk", 0.16, True, False), ("Lost", 0.02, False, False),
                                           ("Champions", 0.3, False, True)]))
    assert text == (
        "Among segments with enough customers, the largest rise was in **At Risk** (Winback 2025, Treatment): "
        "12 % → 28 % of customers bought (+16 points; the true change lies between +7 and +25 points with 95 % "
        "confidence). Too large to be chance on its own in: At Risk. 1 segment group is too small to read (grey).")
    none = E.segment_sentence(_by_segment([("Lost", -0.02, False, False)]))
    assert "the best result was in **Lost**" in none
    assert none.endswith("In no segment on its own is the rise too large to be chance. ")  # no small group to count
    assert E.segment_sentence(_by_segment([("Lost", 0.2, False, True)]), min_group_size=50) == (
        "Every segment group is too small (under 50 customers in a group) to read a difference.")
    assert E.segment_sentence(_by_segment([]).reindex(columns=["abs_lift", "small"])) == (
        "No segment has customers in both groups yet.")


# ----------------------------------------------------------------------------- verdicts in words


def test_plain_verdict_ship():
    raw, plain = _verdicts(_outcomes({"control": (1000, 200), "b_offer": (1000, 300)}))
    assert raw["verdict"] == plain["verdict"] == "ship" and raw["variant"] == plain["variant"] == "b_offer"
    assert raw["reason"].startswith("b_offer raised 'bought within the window' from 20.0% to 30.0% (+10.0 pts, 95% "
                                    "interval")  # the analysts' text (exported) is unchanged
    assert plain["reason"].startswith(
        "B offer raised the share of customers who bought within the window from 20.0 % to 30.0 % (+10.0 points; "
        "the true rise lies between +6.2 and +13.7 points with 95 % confidence): a rise too large to be chance "
        "(p < 0.001), and revenue per customer shows no drop beyond chance.")


def test_plain_verdict_split_mismatch():
    raw, plain = _verdicts(_outcomes({"control": (600, 60), "treatment": (400, 80)}))
    assert raw["verdict"] == plain["verdict"] == "stop" and "Sample-ratio mismatch" in raw["reason"]
    assert plain["reason"] == ("The split between groups is not as planned (Control 600, Treatment 400 customers; a "
                               "check that the group sizes match: p < 0.001), so no result can be trusted. Fix the "
                               "assignment and restart.")


def test_plain_verdict_significant_loss_and_revenue_harm():
    _, worse = _verdicts(_outcomes({"control": (1000, 300), "treatment": (1000, 200)}))
    assert worse["verdict"] == "stop"
    assert worse["reason"] == "Every variant did worse than Control, by more than chance explains (Treatment -10.0 points)."
    out = _outcomes({"control": (2000, 400), "treatment": (2000, 500)})
    out.loc[out.variant == "treatment", "revenue"] *= 0.3  # heavy discount
    _, harm = _verdicts(out)
    assert harm["verdict"] == "stop" and harm["reason"] == (
        "Treatment raised the share of customers who bought within the window (+5.0 points) but lowered revenue per "
        "customer by more than chance explains: the extra orders cost more than they bring.")


def test_plain_verdict_too_small_test_and_futility():
    _, small = _verdicts(_outcomes({"control": (200, 40), "treatment": (200, 44)}))
    assert small["verdict"] == "keep running"
    assert re.fullmatch(r"No difference beyond chance yet; about [\d,]+ more customers are needed to detect a rise "
                        r"of 10 % of the control group's share\.", small["reason"]), small["reason"]
    _, futile = _verdicts(_outcomes({"control": (5000, 2000), "treatment": (5000, 2000)}))
    assert futile["verdict"] == "stop" and futile["reason"] == (
        "The test has the customers it needs, and even the top of the likely range of every variant's change lies "
        "below a rise of 10 % of the control group's share: a change worth having is ruled out.")


def test_plain_verdict_no_comparison_yet_and_one_group():
    _, running = _verdicts(_outcomes({"control": (100, 10), "treatment": (100, 30)}, complete=False))
    assert running["verdict"] == "keep running" and running["reason"] == (
        "No customer has completed the outcome window yet (the last window ends 02 Mar 2025): there is no result "
        "to judge.")
    _, alone = _verdicts(_outcomes({"control": (100, 10)}))
    assert alone["reason"] == "Only one group (Control) was assigned: there is nothing to compare it with."


# ----------------------------------------------------------------------------- no jargon, names stay text


def _all_sentences(names=None) -> list[str]:
    rows = [_row(), _row(significant=False, p_adjusted=0.4), _row(abs_lift=-0.05, value=0.158, significant=True),
            _row(control_n=0, abs_lift=np.nan)]
    out = [E.comparison_sentence(r, "60 days", compared=2, names=names) for r in rows]
    out += [E.revenue_sentence(r, "EUR", names=names) for r in rows]
    out += [E.power_sentence(_power(), 0.1, found=0.1, names=names), E.power_sentence(_power(reached=True), 0.1),
            E.split_sentence(_srm({"control": 600, "treatment": 400}, 1e-9, True), names),
            E.segment_sentence(_by_segment([("At Risk", 0.16, True, False)]), names=names)]
    for groups in ({"control": (1000, 200), "b": (1000, 300)}, {"control": (600, 60), "b": (400, 80)},
                   {"control": (1000, 300), "b": (1000, 200)}, {"control": (200, 40), "b": (200, 44)},
                   {"control": (5000, 2000), "b": (5000, 2000)}):
        out.append(_verdicts(_outcomes(groups), names=names)[1]["reason"])
    return out


def test_business_sentences_use_no_technical_terms():
    for text in _all_sentences():
        assert not JARGON.search(text), text
        assert "winback_2025" not in text and "_" not in text, text  # names in words


def test_hostile_names_stay_text_once_escaped():
    """The sentences put names in as they are; ``say()`` (escape_markdown) makes them text."""
    evil = '<script>alert("x")</script>'
    row = _row(experiment=evil, variant='"><img src=x onerror=alert(1)>', control="[c](javascript:alert(1))")
    for text in (E.comparison_sentence(row, "60 days"), E.revenue_sentence(row, "EUR"),
                 E.power_sentence({**_power(), "experiment": evil}, 0.1)):
        assert evil in text  # not mangled by the analysis layer
        shown = escape_markdown(text)
        assert "<" not in shown and ">" not in shown and "](" not in shown, shown


def test_in_words_leaves_the_frame_and_its_numbers_alone():
    comp = pd.DataFrame({"experiment": ["winback_2025"], "variant": ["treatment"], "control": ["control"],
                         "segment": pd.Categorical(["At Risk"]), "abs_lift": [0.111]})
    shown = E.in_words(comp, {"treatment": "Win-back mail"}, ["experiment", "variant", "control", "segment"])
    assert shown.iloc[0].tolist() == ["Winback 2025", "Win-back mail", "Control", "At Risk", 0.111]
    assert comp["experiment"].iloc[0] == "winback_2025"  # the exported frame keeps raw values


@pytest.mark.parametrize("as_of", [None, "2025-07-20"])
def test_sample_sentences(as_of):
    """The shipped sample: the sentences the business report shows (complete; then windows still running)."""
    from pathlib import Path

    from lclib.config import load_config
    from lclib.io.dataset import load_dataset

    cfg = load_config(Path(__file__).resolve().parents[1] / "lclib.yaml")
    data = load_dataset(cfg)
    out = E.experiment_outcomes(data.experiments, data.transactions, 60, as_of or cfg.analysis.as_of)
    comp = E.compare_variants(out)
    srm, overview = E.srm_check(out), E.describe_experiments(out)
    plain = E.verdicts(comp, E.power_analysis(out), srm, overview, plain=True)
    assert E.split_sentence(srm) == ("The split between groups is as planned (a check that the group sizes match "
                                     "the plan: p = 0.97).")
    if as_of:
        assert comp.empty and plain.loc["winback_2025", "reason"].startswith("No customer has completed")
        return
    prim = comp.loc[comp["metric"] == "converted"].iloc[0]
    assert E.comparison_sentence(prim, "60 days").startswith(
        "**Winback 2025**, Treatment against Control: **31.9 %** of 288 customers bought within 60 days, against "
        "**20.8 %** of 289 in the control group: **11.2 points more** (the true difference lies between +4.0 and "
        "+18.2 points with 95 % confidence; +54 % relative). The difference is too large to be chance (p = 0.0023)")
    assert plain.loc["winback_2025", "verdict"] == "ship"
