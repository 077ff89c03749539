"""The findings and sentences of report 01_journey (lclib.analysis.journey_findings), on hand-worked small cases.

Each case is small enough to check by hand: the numbers and the sentences are pinned, including
the branches the notebook's inline ``if``s used to take (no events table, no channel, a stage the
data cannot show, one measurable stage, ties, nobody moving on).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import journey
from lclib.analysis.journey_findings import (
    CHANNEL_STAGE_READING,
    channel_attribution,
    channel_map,
    channel_stage_table,
    conversion_against_targets,
    conversion_by_channel,
    headline_numbers,
    headlines_in_words,
    kpi_findings,
    kpi_text,
    scope_sentence,
    share_text,
    stage_definitions,
    stage_flow,
    step_times,
    steps_with_target,
    touch_path_finding,
)
from lclib.config import Stage

DAY0 = pd.Timestamp("2025-01-01")
AS_OF = pd.Timestamp("2026-01-01")

REACH = Stage(name="reach", label="Reach", events=["visit"], kpi="visits")
LEAD = Stage(name="lead", label="Lead", events=["signup"], kpi="lead_rate", target=0.5)
BUY = Stage(name="conversion", label="Purchase", facts=["first_purchase"], kpi="conversion_rate", target=0.9)
ADVOCACY = Stage(name="advocacy", label="Advocacy", facts=["referral", "nps_promoter"], kpi="referral_rate",
                 target=0.25)


def _reached(people: list[int], gaps: list[float] | None = None, channels: list | None = None) -> pd.DataFrame:
    """A strict funnel: ``people[k]`` persons reach stage k (the first ones), step k taking ``gaps[k-1]`` days."""
    names = [REACH.name, LEAD.name, BUY.name, ADVOCACY.name][:len(people)]
    gaps = gaps or [1.0] * (len(people) - 1)
    n = people[0]
    out = pd.DataFrame(index=pd.Index([f"p{i}" for i in range(n)], name="person"))
    at = pd.Series(DAY0, index=out.index)
    for k, name in enumerate(names):
        if k:
            at = at + pd.Timedelta(days=gaps[k - 1])
        out[name] = at.where(np.arange(n) < people[k])
    out["channel"] = channels if channels is not None else "email"
    return out


def _counts(people: list[int]) -> pd.DataFrame:
    return journey.stage_counts(_reached(people), [REACH, LEAD, BUY, ADVOCACY][:len(people)])


# ----------------------------------------------------------------------------- words for numbers


def test_share_text():
    assert [share_text(v) for v in (0.6333, 0.0, 1, None, np.nan, np.inf)] == \
        ["63.3%", "0.0%", "100.0%", "n/a", "n/a", "n/a"]


def test_kpi_text_says_what_the_figures_say():
    from lclib.plots.journey import format_kpi  # the figures' labels: the same function

    assert format_kpi is kpi_text
    cases = [(50.44, "%"), (12708, "visits"), (12.2, "NPS points"), (-3.0, "NPS points"), (7, ""), (None, "%"),
             (np.nan, "visits")]
    assert [kpi_text(v, u) for v, u in cases] == ["50.4 %", "12,708 visits", "NPS +12", "NPS -3", "7", "n/a", "n/a"]
    assert [kpi_text(v, u) for v, u in cases] == [format_kpi(v, u) for v, u in cases]


# ----------------------------------------------------------------------------- which stages


def test_stage_definitions_mark_the_stages_the_data_cannot_show():
    table = stage_definitions([REACH, LEAD, ADVOCACY], skipped=["lead"])
    assert list(table.index) == ["Reach", "Lead", "Advocacy"]
    assert table.loc["Lead"].tolist() == ["signup event", "Lead rate", "50%", "no (data missing)"]
    assert table.loc["Reach", "Target (of previous stage)"] == "-"
    assert table.loc["Advocacy", "A person enters at"] == "first referral made; or NPS answer of 9 or 10"
    assert table["Measured"].tolist() == ["yes", "no (data missing)", "yes"]


def test_scope_sentence_without_an_events_table():
    scope = journey.journey_scope({"transactions": pd.DataFrame(), "events": None}, [REACH, BUY], ["reach"])
    assert scope.mode == "transactions-only"
    assert scope_sentence(scope, 1234, AS_OF) == (
        "No events table was given, so the journey runs in **transactions-only mode from Purchase onwards**; the "
        "Reach stage cannot be measured and is left out. Channel touchpoints are the orders' channels only. The journey is read "
        "from **1,234 people** (data to 31 Dec 2025).")


def test_scope_sentence_with_every_stage():
    scope = journey.journey_scope({"events": pd.DataFrame({"x": [1]})}, [REACH, BUY], [])
    assert scope_sentence(scope, 5, "2025-07-01") == ("All 2 configured stages can be measured from the data. "
                                                      "The journey is read from **5 people** (data to 30 Jun 2025).")


# ----------------------------------------------------------------------------- flow and drop-out


def test_stage_flow_names_the_leakiest_step_and_the_step_losing_most_people():
    flow = stage_flow(_counts([100, 50, 10]))  # A->B loses 50 of 100 (50 %), B->C 40 of 50 (80 %)
    assert (flow.leakiest, flow.most_lost, flow.leakiest_share) == (1, 0, 0.8)
    assert flow.biggest_drop == ("Lead", "Purchase", 80.0)
    assert flow.people == [("Reach", 100), ("Lead", 50), ("Purchase", 10)]
    assert flow.sentence == (
        "**100 people** entered the journey at Reach; **10** (10.0%) made it to Purchase. The leakiest step in "
        "relative terms is **Lead → Purchase**, where **80.0%** (40 people) drop out; the most people are lost at "
        "**Reach → Lead** (**50**, 50.0%). The first is where a stage loses the largest share of its people, the "
        "second where winning back a fraction of the leavers moves the most people.")
    assert flow.shown.index.name == "Stage"
    assert flow.shown.loc["Lead"].tolist() == [50, 0.5, 40]


def test_stage_flow_ties_go_to_the_earlier_step_and_one_step_may_be_both():
    flow = stage_flow(_counts([100, 50, 25]))  # both steps lose 50 %
    assert (flow.leakiest, flow.most_lost) == (0, 0)
    assert flow.sentence.endswith("The leakiest step in relative terms is **Reach → Lead**, where **50.0%** (50 "
                                  "people) drop out: it is also where the most people are lost, the first place "
                                  "to act.")


def test_stage_flow_skips_a_step_nobody_entered():
    flow = stage_flow(_counts([10, 0, 0]))  # Lead -> Purchase has nobody to lose: no share
    assert (flow.leakiest, flow.most_lost, flow.biggest_drop) == (0, 0, ("Reach", "Lead", 100.0))
    assert "**0** (0.0%) made it to Purchase" in flow.sentence


def test_stage_flow_with_one_stage_or_nobody():
    one = stage_flow(_counts([7]))
    assert one.leakiest is None and one.biggest_drop is None and one.people == [("Reach", 7)]
    assert one.sentence == "Only one stage can be measured, so there is no flow between stages to show."
    nobody = stage_flow(_counts([0, 0]))
    assert nobody.biggest_drop is None and np.isnan(nobody.leakiest_share)
    assert nobody.sentence == "Nobody has reached Reach yet, so there is no flow between stages to show."


# ----------------------------------------------------------------------------- conversion against targets


def test_a_step_significantly_below_target_is_named_with_its_shortfall():
    # Reach -> Lead 6/10 = 60 % (95 % 31-83 %) against 50 %: not below; Lead -> Purchase 2/6 = 33 %
    # (95 % 10-70 %) against 90 %: below, (0.9 - 1/3) x 6 = 3.4 people short
    check = conversion_against_targets(_reached([10, 6, 2]), [REACH, LEAD, BUY])
    assert (check.below, check.steps_with_target) == (1, 2)
    assert check.table["significantly_below"].tolist() == [False, True]
    assert check.sentence == (
        "**1 of 2 steps** converts significantly below target. The costliest is **Lead → Purchase**: 33.3% against its "
        "target of 90.0%, about **3 people** short - the first place to act.")
    shown = check.shown
    assert list(shown.index) == ["Reach → Lead", "Lead → Purchase"]
    assert list(shown.columns) == ["Entered", "Moved on", "Conversion", "95 % low", "95 % high", "Target"]
    assert shown["Moved on"].tolist() == [6, 2]


def test_assumed_targets_and_a_window_are_said():
    check = conversion_against_targets(_reached([10, 6, 2]), [REACH, LEAD, BUY], window_days=30, as_of=AS_OF,
                                       assumed=True)
    assert check.sentence.startswith("**1 of 2 steps** converts significantly below the assumed default target within "
                                     "30 days. The costliest is **Lead → Purchase**: 33.3% against lclib's assumed "
                                     "default target of 90.0%")


def test_no_step_below_target_on_plan_or_assumed():
    stages = [REACH, LEAD, BUY.model_copy(update={"target": 0.2})]
    mine = conversion_against_targets(_reached([10, 6, 2]), stages)
    assert mine.below == 0
    assert mine.sentence == ("No step converts significantly below its target (every step's 95 % interval reaches or "
                             "lies above it), so the funnel is on plan; the drop-out above is the expected shape, not "
                             "an alarm.")
    assumed = conversion_against_targets(_reached([10, 6, 2]), stages, assumed=True)
    assert assumed.sentence == (
        "No step converts significantly below lclib's assumed default target (every step's 95 % interval reaches or "
        "lies above it), but these targets are lclib's assumed defaults, not yours: set your own targets for the "
        "journey stages in the configuration before reading the funnel as on plan.")


def test_one_measurable_stage_has_no_conversion_to_check():
    check = conversion_against_targets(_reached([10]), [BUY])
    assert check.table is None and check.below is None and check.shown is None
    assert check.steps_with_target == 0  # the first stage's target has no step into it
    assert check.sentence == ("With a single measurable stage there is no stage-to-stage conversion to compare with "
                              "targets.")
    assert steps_with_target([REACH, LEAD, BUY, ADVOCACY]) == 3
    assert steps_with_target([LEAD, REACH]) == 0


# ----------------------------------------------------------------------------- KPIs


def _kp() -> pd.DataFrame:
    rows = [("reach", "Reach", "visits", "Site visits", 120.0, "visits", np.nan, "no target", np.nan, np.nan),
            ("lead", "Lead", "lead_rate", "Lead rate", 60.0, "%", 50.0, "met", 31.0, 83.0),
            ("conversion", "Purchase", "conversion_rate", "Conversion rate", 33.3, "%", 90.0, "below", 9.7, 70.0),
            ("advocacy", "Advocacy", "referral_rate", "Referral rate", 20.0, "%", 25.0, "below", 5.0, 40.0),
            ("extra", "Loyalty", "nps", "Net Promoter Score", np.nan, "NPS points", 30.0, "not measurable", np.nan,
             np.nan)]
    kp = pd.DataFrame(rows, columns=["stage", "label", "kpi", "kpi_label", "value", "unit", "target", "status",
                                     "lower", "upper"])
    return kp.assign(definition="d")


def test_kpi_findings_count_met_below_and_not_measurable():
    found = kpi_findings(_kp(), [REACH, LEAD, BUY, ADVOCACY])
    assert (found.met, found.below, found.not_measurable) == (1, ["Purchase", "Advocacy"], ["Loyalty"])
    assert found.sentence == (
        "**1 of 5 stage KPIs meets its target**. Below target: Purchase (Conversion rate 33.3 % vs 90.0 %); Advocacy "
        "(Referral rate 20.0 % vs 25.0 %, not significantly: the 95 % interval reaches the target). Not measurable "
        "with this data: Loyalty. Each KPI is the one number the team owning that stage should move.")
    assert found.notes == []  # no conversion table: nothing to compare a narrower KPI with
    shown = found.shown
    assert shown.loc["Reach"].tolist() == ["Site visits", "120 visits", "-", "no target", "d"]
    assert shown.loc["Loyalty", "Value"] == "n/a" and shown.loc["Loyalty", "Target"] == "NPS +30"


def test_a_kpi_narrower_than_its_stage_gets_a_note():
    conversion = pd.DataFrame({"stage": ["lead", "conversion", "advocacy"], "conversion": [0.6, 1 / 3, 0.5]})
    found = kpi_findings(_kp(), [REACH, LEAD, BUY, ADVOCACY], conversion)
    assert found.notes == [  # the rates of reaching a stage are not narrower; the NPS stage is not measured
        ("Referral rate (20.0 %) is narrower than reaching Advocacy (50.0% of the previous stage, who enter at: first "
        "referral made; or NPS answer of 9 or 10); both are compared with the stage's target of 25.0 %, so one can be "
        "met and the other not.")]


def test_kpi_findings_with_nothing_below():
    kp = _kp().iloc[:2]
    assert kpi_findings(kp, [REACH, LEAD]).sentence == (
        "**1 of 2 stage KPIs meets its target**, none is below target. Each KPI is the one number the team owning "
        "that stage should move.")


# ----------------------------------------------------------------------------- channels on the stages


def _matrix() -> pd.DataFrame:
    rows = [("paid_search", "reach", 40, 0.4, 0.50), ("email", "reach", 40, 0.4, 0.75),
            ("app_push", "lead", 20, 0.5, 0.95), ("email", "lead", 30, 0.75, 0.60),
            ("email", "conversion", 5, 0.5, np.nan)]
    return pd.DataFrame(rows, columns=["channel", "stage", "people", "share_of_stage", "conversion"])


def test_channel_map_names_the_busiest_and_the_strongest_pair():
    where = channel_map(_matrix(), [REACH, LEAD, BUY], touches=321, names={"email": "E-mail"})
    # a tie at the first stage goes to the channel listed first; app push (95 %) has fewer than 30 people
    assert (where.has_channels, where.touches, where.busiest, where.strongest) == \
        (True, 321, "paid_search", ("email", "reach"))
    assert where.sentence == (
        "At Reach, **Paid search** touches the most people (40, 40.0% of the stage). The strongest channel-stage pair "
        "is **E-mail at Reach**: 75.0% of the people it touched there moved on to Lead (among pairs with 30+ people). "
        "Channels that touch many people but move few on are where budget or message should change.")


def test_channel_map_without_a_strong_pair_or_without_channels():
    small = _matrix().assign(people=10)
    assert channel_map(small, [REACH, LEAD, BUY], 5).sentence == (
        "At Reach, **Paid search** touches the most people (10, 40.0% of the stage). Channels that touch many people "
        "but move few on are where budget or message should change.")
    none = channel_map(_matrix().iloc[:0], [REACH, LEAD], 0)
    assert not none.has_channels and none.busiest is None
    assert none.sentence == ("The data has no channel on its events or orders, so no channel can be placed on the "
                             "stages.")


def test_channel_stage_table():
    text = channel_stage_table(_matrix(), [REACH, LEAD, BUY])
    assert text.index.name == "Channel" and text.columns.name is None
    assert list(text.columns) == ["Reach", "Lead", "Purchase"]
    assert text.reset_index().values.tolist() == [  # most people touched over all stages first
        ["email", "40 (75% on)", "30 (60% on)", "5"],
        ["paid_search", "40 (50% on)", "-", "-"],
        ["app_push", "-", "20 (95% on)", "-"]]
    assert channel_stage_table(_matrix().iloc[:0], [REACH]) is None
    assert CHANNEL_STAGE_READING.startswith("Read each cell as")


def test_conversion_by_channel_names_the_step_where_channels_differ_most():
    # Reach -> Lead: x 8/10, y 2/10 (spread 60 points); Lead -> Purchase: x 4/8, y 1/2 (spread 0)
    reached = pd.concat([_reached([10, 8, 4], channels="x"),
                         _reached([10, 2, 1], channels="y").rename(index=lambda p: "q" + p)])
    found = conversion_by_channel(reached, [REACH, LEAD, BUY], names={"y": "Channel Y"}, min_entered=2)
    assert found.comparable and len(found.table) == 4
    assert found.sentence == (
        "Channels differ most at the step **Reach → Lead**: **X** converts 80.0% (95 % 49.0%-94.3%) against "
        "**Channel Y** at 20.0% (5.7%-51.0%). Where the intervals do not overlap the difference is real, and the "
        "weaker channel's people need a different follow-up at that step. (Here people are grouped by acquisition "
        "channel; the journey map above counts every channel that touched people in a stage, so its shares differ.)")


def test_conversion_by_channel_edge_cases():
    stages = [REACH, LEAD]
    single = conversion_by_channel(_reached([10]), [REACH])
    assert single.table is None and not single.comparable
    assert single.sentence == "With a single measurable stage there is no conversion to compare between channels."
    unknown = conversion_by_channel(_reached([30, 20], channels=None).assign(channel=np.nan), stages)
    assert unknown.table is not None and not unknown.comparable
    assert unknown.sentence == ("Every person here has the same acquisition channel (none is known: the data has no "
                                "channel column), so channels cannot be compared.")
    assert conversion_by_channel(_reached([30, 20]), stages).sentence == \
        "Every person here has the same acquisition channel, so channels cannot be compared."
    few = conversion_by_channel(_reached([10, 5]), stages)  # fewer than 20 entering
    assert few.table is not None and few.table.empty
    assert few.sentence == "No channel has 20 or more people entering a step, so channels are not compared."


# ----------------------------------------------------------------------------- step times


def test_step_times_name_the_medians_and_the_slowest_step():
    times = step_times(_reached([10, 6, 2], gaps=[3.0, 12.5]), [REACH, LEAD, BUY])
    assert times.slowest == ("lead", "conversion")
    assert times.table["median_days"].tolist() == [3.0, 12.5]
    assert times.sentence == (
        "Half of the people who move on do so within **3.0 days** to Lead; **12.5 days** to Purchase. The slowest "
        "step is **Lead → Purchase** (90 % within 12 days): follow-up campaigns for it should run over that "
        "horizon, not stop after a week.")
    assert list(times.shown.index) == ["Reach → Lead", "Lead → Purchase"]
    assert times.made["stage"].tolist() == ["lead", "conversion"]


def test_step_times_ties_go_to_the_later_step_and_an_empty_step_is_left_out():
    assert step_times(_reached([10, 6, 2], gaps=[4.0, 4.0]), [REACH, LEAD, BUY]).slowest == ("lead", "conversion")
    skipped = step_times(_reached([10, 6, 0], gaps=[4.0, 9.0]), [REACH, LEAD, BUY])
    assert skipped.made["stage"].tolist() == ["lead"]
    assert "Purchase" not in skipped.sentence and skipped.slowest == ("reach", "lead")


def test_step_times_with_one_stage_or_nobody_moving_on():
    one = step_times(_reached([10]), [REACH])
    assert one.table is None and one.made.empty
    assert one.sentence == "With a single measurable stage there are no step times."
    nobody = step_times(_reached([10, 0]), [REACH, LEAD])
    assert nobody.table is None and nobody.shown is None
    assert nobody.sentence == "Nobody has moved between stages yet, so there are no step times."


# ----------------------------------------------------------------------------- paths and attribution


def _journeys():
    """Six people reach; five buy on day 10. Before buying: p1 search > email, p2 search, p3 email,
    p4 search (never buys), p5 nothing, p6 email > email (a repeat counts once)."""
    stages = [REACH, BUY]
    reached = pd.DataFrame({"reach": [DAY0] * 6,
                            "conversion": [DAY0 + pd.Timedelta(days=10)] * 3 + [pd.NaT] + [DAY0 + pd.Timedelta(days=10)] * 2,
                            "channel": "search"}, index=pd.Index([f"p{i}" for i in range(1, 7)], name="person"))
    rows = [("p1", 1, "search"), ("p1", 2, "email"), ("p2", 1, "search"), ("p3", 1, "email"), ("p4", 1, "search"),
            ("p6", 1, "email"), ("p6", 3, "email"), ("p2", 11, "email")]  # p2's email comes after the purchase
    touches = pd.DataFrame([(p, DAY0 + pd.Timedelta(days=d), c) for p, d, c in rows],
                           columns=["person", "timestamp", "channel"]).sort_values(["person", "timestamp"])
    return reached, stages, touches.assign(kind="visit", stage="reach", stage_index=0)


def test_touch_paths_and_markov_credit():
    reached, stages, touches = _journeys()
    paths = touch_path_finding(touches, reached, stages, top_paths=2)
    assert paths.available and paths.goal == "conversion"
    assert paths.counts["path"].tolist() == ["email", "search", "search > email"]
    assert len(paths.top) == 2 and paths.multi_channel_share == 0.2
    assert paths.sentence == (
        "**5 people** had touchpoints before conversion, along **3 distinct paths**. The most common is **Email** "
        "(2 people, 100.0% convert). **20.0%** of these people saw more than one channel: crediting only the last "
        "click would ignore the channels that opened those journeys.")
    # Markov: start -> search 3/5, email 2/5; search -> email, buy, nothing 1/3 each; email -> buy.
    # P(buy) = 0.6 x 2/3 + 0.4 = 0.8; without search 0.4 (removal effect 0.5), without email
    # 0.2 (0.75): the 4 conversions shared 0.75 : 0.5 = 2.4 email, 1.6 search
    credit = channel_attribution(paths, reached, names={"search": "Search ads"})
    assert credit.credit["channel"].tolist() == ["email", "search"]
    assert credit.credit["markov"].tolist() == pytest.approx([2.4, 1.6])
    assert credit.credit["last_touch"].tolist() == [3.0, 1.0]
    assert (credit.lead, credit.lead_share) == ("email", pytest.approx(0.6))
    assert credit.sentence == (
        "The Markov model credits **Email** with the most conversions (**2**, 60.0%). Compared with last touch it "
        "gives **Search ads** +1 conversion and **Email** -1: budget judged on last clicks alone would under-fund "
        "Search ads. 1 conversion had no earlier touchpoint and is not attributed.")
    assert credit.shown.index.name == "Channel"
    assert list(credit.shown.columns) == ["First touch", "Last touch", "Markov", "Removal effect"]


def test_first_and_last_touch_agreeing_is_said():
    reached, stages, touches = _journeys()
    one_channel = touches.loc[touches["person"].isin(["p2", "p3", "p4"])]  # single-channel paths only
    credit = channel_attribution(touch_path_finding(one_channel, reached, stages), reached)
    assert credit.sentence.endswith(
        "3 conversions had no earlier touchpoint and are not attributed. First and last touch agree for every "
        "channel: in this data each converter's path begins and ends on the same channel (multi-channel paths "
        "return to where they started), so only the Markov model separates the channels in between.")


def test_no_paths_without_touches_or_conversions():
    reached, stages, touches = _journeys()
    none = touch_path_finding(touches.iloc[:0], reached, stages)
    assert not none.available and none.paths is None and np.isnan(none.multi_channel_share)
    assert none.sentence.startswith("No touchpoints come before the first purchase in this data")
    never = touch_path_finding(touches.loc[touches["person"] == "p4"], reached, stages)  # touched, never bought
    assert not never.available and len(never.paths) == 1
    credit = channel_attribution(never, reached)
    assert credit.credit is None and credit.shown is None and credit.lead is None
    assert credit.sentence == "Channel attribution needs touchpoints before the conversion; none are in this data."


# ----------------------------------------------------------------------------- headline numbers


def test_headline_numbers_of_a_full_journey():
    reached, stages, touches = _journeys()
    scope = journey.journey_scope({"events": touches}, stages, [])
    flow = stage_flow(journey.stage_counts(reached, stages))
    targets = conversion_against_targets(reached, stages)
    paths = touch_path_finding(touches, reached, stages)
    kp = pd.DataFrame({"stage": ["reach", "conversion"], "label": ["Reach", "Purchase"],
                       "kpi_label": ["Site visits", "Conversion rate"], "value": [6.0, 83.333], "unit": ["visits", "%"]})
    rows = headline_numbers(scope=scope, flow=flow, targets=targets, kpi=_kpi(kp),
                            where=channel_map(_matrix(), [REACH, LEAD, BUY], 8), times=step_times(reached, stages),
                            paths=paths, credit=channel_attribution(paths, reached))
    assert rows == [
        ("journey_mode", "full", "Journey mode (full / partial / transactions-only)", None),
        ("journey_stages_measured", 2, "Lifecycle stages measured", "stages"),
        ("people_reach", 6, "People who reached Reach", "people"),
        ("people_conversion", 5, "People who reached Purchase", "people"),
        ("largest_dropout_share", 16.7, "Drop-out at the leakiest step (Reach to Purchase)", "%"),
        ("steps_below_target", 0, "Stage steps significantly below target", "steps"),
        ("kpi_reach", 6.0, "Reach: Site visits", "visits"),
        ("kpi_conversion", 83.33, "Purchase: Conversion rate", "%"),
        ("touchpoints", 8, "Touchpoints placed on the journey", "touches"),
        ("median_days_to_conversion", 10.0, "Median days from Reach to Purchase", "days"),
        ("multi_channel_share", 20.0, "People with touchpoints before a first purchase who saw more than one channel",
         "%"),
        ("markov_top_channel", "email", "Channel with the most Markov-credited conversions", None),
        ("markov_top_channel_share", 60.0, "Share of conversions credited to the top Markov channel", "%")]


def _kpi(kp: pd.DataFrame):
    """A :class:`KpiFindings` of a KPI table with only the columns the headline numbers read."""
    from lclib.analysis.journey_findings import KpiFindings

    return KpiFindings(kp, 0, [], [], "", [])


def test_headline_numbers_of_an_order_export_with_one_stage():
    # no events, no channel, one measurable stage: only the mode, the stage and its people and KPI
    reached = _reached([4])[["reach"]]
    scope = journey.journey_scope({"events": None}, [REACH, BUY], ["conversion"])
    paths = touch_path_finding(pd.DataFrame(columns=["person", "timestamp", "channel"]), reached, [REACH])
    kp = pd.DataFrame({"stage": ["reach"], "label": ["Reach"], "kpi_label": ["Site visits"], "value": [np.nan],
                       "unit": ["visits"]})
    rows = headline_numbers(scope=scope, flow=stage_flow(journey.stage_counts(reached, [REACH])),
                            targets=conversion_against_targets(reached, [REACH]), kpi=_kpi(kp),
                            where=channel_map(_matrix().iloc[:0], [REACH], 0), times=step_times(reached, [REACH]),
                            paths=paths, credit=channel_attribution(paths, reached))
    assert rows == [("journey_mode", "transactions-only", "Journey mode (full / partial / transactions-only)", None),
                    ("journey_stages_measured", 1, "Lifecycle stages measured", "stages"),
                    ("people_reach", 4, "People who reached Reach", "people"),
                    ("kpi_reach", None, "Reach: Site visits", "visits")]


def test_headlines_in_words_names_only_the_top_channel():
    entries = [{"name": "markov_top_channel", "value": "paid_search", "unit": ""},
               {"name": "journey_mode", "value": "full_mode", "unit": ""}]
    assert headlines_in_words(entries, {"paid_search": "Google Ads"}) == [
        {"name": "markov_top_channel", "value": "Google Ads", "unit": ""},
        {"name": "journey_mode", "value": "full_mode", "unit": ""}]
    assert entries[0]["value"] == "paid_search"  # the recorded entries are left as they are
