"""The findings of report 01_journey in words: each a small dataclass (or a table) with its sentence.

The notebook shows and says them; every branch (no events table, no channel, a stage the data
cannot show, one measurable stage, ties, nobody moving on) lives here and is tested
(``tests/test_journey_findings.py``). The tables they read come from
:mod:`lclib.analysis.journey`, :mod:`lclib.analysis.kpis` and :mod:`lclib.analysis.attribution`.

Examples
--------
::

    reached, skipped = journey.stage_entries(data.tables, cfg.journey.stages, as_of)
    scope = journey.journey_scope(data.tables, cfg.journey.stages, skipped)
    stages = scope.stages
    definitions = stage_definitions(cfg.journey.stages, skipped)     # the stages in words
    flow = stage_flow(journey.stage_counts(reached, stages))          # leakiest step, most people lost
    targets = conversion_against_targets(reached, stages, window_days=w, as_of=as_of, assumed=False)
    kpi = kpi_findings(kpis.stage_kpis(...), stages, targets.table)   # met, below, not measurable
    where = channel_map(matrix, stages, len(touches))                 # the busiest and strongest channels
    by_channel = conversion_by_channel(reached, stages, window_days=w, as_of=as_of)
    times = step_times(reached, stages)                               # median days per step
    paths = touch_path_finding(touches, reached, stages, max_length=8, top_paths=10)
    credit = channel_attribution(paths, reached)                      # Markov against last touch
    rows = headline_numbers(scope=scope, flow=flow, targets=targets, kpi=kpi, where=where, times=times,
                            paths=paths, credit=credit)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd

from lclib.analysis.attribution import channel_credit
from lclib.analysis.journey import (
    JourneyScope,
    conversion_stage,
    describe_entry,
    path_counts,
    stage_conversion,
    stage_times,
    touch_paths,
)
from lclib.analysis.wording import data_to, display_name, display_path, plural
from lclib.config.kpi_catalogue import KPIS

#: A channel-stage pair needs this many people touched to be called the strongest.
MIN_PAIR_PEOPLE = 30

#: A channel needs this many people entering a step to be compared with the others.
MIN_CHANNEL_ENTERED = 20


def share_text(value: float | None) -> str:
    """A share (0..1) as the report writes it: one decimal percent, ``n/a`` when undefined.

    Examples
    --------
    >>> share_text(0.6333), share_text(None), share_text(float("nan"))
    ('63.3%', 'n/a', 'n/a')
    """
    return "n/a" if value is None or not np.isfinite(value) else f"{value:.1%}"


def kpi_text(value: float | None, unit: str) -> str:
    """A KPI value as readers see it: ``"50.4 %"``, ``"12,708 visits"``, ``"NPS +12"``, ``"n/a"``.

    The figures' labels use it too (:data:`lclib.plots.journey.format_kpi`).

    Examples
    --------
    >>> kpi_text(50.44, "%"), kpi_text(12708, "visits"), kpi_text(12.2, "NPS points"), kpi_text(None, "%")
    ('50.4 %', '12,708 visits', 'NPS +12', 'n/a')
    """
    if value is None or not np.isfinite(value):
        return "n/a"
    if unit == "%":
        return f"{value:.1f} %"
    if unit == "NPS points":
        return f"NPS {value:+.0f}"
    return f"{value:,.0f} {unit}".strip()


def _titles(stages: Sequence) -> dict[str, str]:
    return {s.name: s.title for s in stages}


def people(n: float) -> str:
    """A head count as the sentences say it: ``1 person``, ``1,234 people`` (rounded to a whole person).

    Examples
    --------
    >>> people(1), people(0.6), people(1234)
    ('1 person', '1 person', '1,234 people')
    """
    return plural(round(float(n)), "person", "people")


def _count(n: float, noun: str) -> str:
    """A signed change in a count with its noun: ``+1 conversion``, ``-3 conversions``."""
    k = round(float(n))
    return f"{k:+,d} {noun if abs(k) == 1 else noun + 's'}"


# ----------------------------------------------------------------------------- which stages


def stage_definitions(stages: Sequence, skipped: Sequence[str] = ()) -> pd.DataFrame:
    """The configured stages in words: how a person enters, the KPI, the target, whether measured.

    Parameters
    ----------
    stages : ``cfg.journey.stages`` (all of them, measured or not).
    skipped : names of the stages the data cannot show (:func:`~lclib.analysis.journey.stage_entries`).

    Examples
    --------
    >>> from lclib.config import Stage
    >>> stages = [Stage(name="reach", events=["visit"], kpi="visits"),
    ...           Stage(name="conversion", facts=["first_purchase"], kpi="conversion_rate", target=0.6)]
    >>> stage_definitions(stages, ["reach"]).reset_index().values.tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['Reach', 'visit event', 'Site visits', '-', 'no (data missing)'],
     ['Conversion', 'first order', 'Conversion rate', '60%', 'yes']]
    """
    return pd.DataFrame([{"Stage": s.title, "A person enters at": describe_entry(s), "KPI": KPIS[s.kpi][0],
                          "Target (of previous stage)": "-" if s.target is None else f"{s.target:.0%}",
                          "Measured": "yes" if s.name not in skipped else "no (data missing)"}
                         for s in stages]).set_index("Stage")


def scope_sentence(scope: JourneyScope, people_read: int, as_of: Any) -> str:
    """What the data can measure (:attr:`JourneyScope.sentence`) and how many people the journey reads."""
    return scope.sentence + f" The journey is read from **{people(people_read)}** ({data_to(as_of)})."


# ----------------------------------------------------------------------------- flow and drop-out


@dataclass(frozen=True)
class StageFlow:
    """People per stage and where they drop out (see :func:`stage_flow`).

    Attributes
    ----------
    counts : :func:`~lclib.analysis.journey.stage_counts` output.
    leakiest : position of the step losing the largest share of its people (its ``from``
        stage in ``counts``); None with one stage or nobody in the first.
    most_lost : position of the step losing the most people (None likewise).
    leakiest_share : the share the leakiest step loses (0..1; NaN when None).
    sentence : the finding in words (Markdown).
    """

    counts: pd.DataFrame
    leakiest: int | None
    most_lost: int | None
    leakiest_share: float
    sentence: str

    @property
    def people(self) -> list[tuple[str, int]]:
        """``[(stage label, people), ...]`` in journey order (``stages`` of
        :func:`lclib.analysis.wording.journey_answers`)."""
        return list(zip(self.counts["label"], self.counts["people"].astype(int)))

    @property
    def biggest_drop(self) -> tuple[str, str, float] | None:
        """``(from stage, to stage, share lost in percent)`` of the leakiest step; None without one."""
        if self.leakiest is None:
            return None
        labels = self.counts["label"]
        return labels.iloc[self.leakiest], labels.iloc[self.leakiest + 1], 100 * self.leakiest_share

    @property
    def shown(self) -> pd.DataFrame:
        """The counts as the report's table: ``Stage`` index, people, share of the first stage, drop-out."""
        return self.counts.set_index("label")[["people", "share_of_first", "lost_after"]].rename_axis("Stage") \
            .rename(columns={"people": "People", "share_of_first": "Share of first stage",
                             "lost_after": "Drop out before next stage"})


def stage_flow(counts: pd.DataFrame) -> StageFlow:
    """How many people get from the first stage to the last, the leakiest step and the step losing most people.

    The leakiest step loses the largest share of the people who entered it; the step losing most
    people may be another one (then both are named). Ties go to the earlier step; a step whose
    stage nobody entered has no share and is never the leakiest.

    Parameters
    ----------
    counts : :func:`~lclib.analysis.journey.stage_counts` output.

    Examples
    --------
    >>> counts = pd.DataFrame({"stage": ["a", "b", "c"], "label": ["A", "B", "C"], "people": [100, 60, 15],
    ...                        "share_of_first": [1.0, 0.6, 0.15], "lost_after": [40, 45, 0]})
    >>> flow = stage_flow(counts)
    >>> flow.leakiest, flow.most_lost, flow.biggest_drop
    (1, 1, ('B', 'C', 75.0))
    >>> print(flow.sentence)  # doctest: +NORMALIZE_WHITESPACE
    **100 people** entered the journey at A; **15** (15.0%) made it to C. The leakiest step in relative
    terms is **B → C**, where **75.0%** (45 people) drop out: it is also where the most people are lost,
    the first place to act.
    """
    counts = counts.reset_index(drop=True)
    if len(counts) < 2:
        return StageFlow(counts, None, None, np.nan,
                         "Only one stage can be measured, so there is no flow between stages to show.")
    if not counts["people"].iloc[0] > 0:
        return StageFlow(counts, None, None, np.nan,
                         f"Nobody has reached {counts['label'].iloc[0]} yet, so there is no flow between stages "
                         "to show.")
    loss = (counts["lost_after"] / counts["people"].where(counts["people"] > 0)).iloc[:-1]
    worst = int(loss.idxmax())
    most = int(counts["lost_after"].iloc[:-1].idxmax())
    label, heads, lost = counts["label"], counts["people"], counts["lost_after"]

    def step(i: int) -> str:
        return f"{label.iloc[i]} → {label.iloc[i + 1]}"

    sentence = (f"**{people(heads.iloc[0])}** entered the journey at {label.iloc[0]}; "
                f"**{heads.iloc[-1]:,}** ({share_text(counts['share_of_first'].iloc[-1])}) made it to "
                f"{label.iloc[-1]}. The leakiest step in relative terms is **{step(worst)}**, where "
                f"**{share_text(loss.iloc[worst])}** ({people(lost.iloc[worst])}) drop out"
                + (f"; the most people are lost at **{step(most)}** (**{lost.iloc[most]:,}**, "
                   f"{share_text(loss.iloc[most])}). The first is where a stage loses the largest share of its "
                   "people, the second where winning back a fraction of the leavers moves the most people."
                   if most != worst else ": it is also where the most people are lost, the first place to act."))
    return StageFlow(counts, worst, most, float(loss.iloc[worst]), sentence)


# ----------------------------------------------------------------------------- conversion against targets


def steps_with_target(stages: Sequence) -> int:
    """Steps whose stage has a target (the first stage has no step into it)."""
    return sum(s.target is not None for s in stages[1:])


@dataclass(frozen=True)
class TargetCheck:
    """Stage-to-stage conversion against the targets (see :func:`conversion_against_targets`).

    Attributes
    ----------
    table : :func:`~lclib.analysis.journey.stage_conversion` output (None with one measurable stage).
    below : steps significantly below target (None with one measurable stage).
    steps_with_target : steps whose stage has a target.
    sentence : the finding in words (Markdown).
    """

    table: pd.DataFrame | None
    below: int | None
    steps_with_target: int
    sentence: str
    titles: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def shown(self) -> pd.DataFrame | None:
        """The conversion table as the report shows it, one row per step (``Step`` = "From → To")."""
        if self.table is None:
            return None
        drop = self.table
        steps = drop.assign(Step=drop["from_stage"].map(self.titles) + " → " + drop["label"]).set_index("Step")
        return steps[["entered", "reached", "conversion", "lower", "upper", "target"]].rename(
            columns={"entered": "Entered", "reached": "Moved on", "conversion": "Conversion", "lower": "95 % low",
                     "upper": "95 % high", "target": "Target"})


def conversion_against_targets(reached: pd.DataFrame, stages: Sequence, *, window_days: float | None = None,
                               as_of: Any = None, assumed: bool = False) -> TargetCheck:
    """Which steps convert significantly below their target, and the costliest of them.

    Parameters
    ----------
    reached : :func:`~lclib.analysis.journey.stage_entries` output.
    stages : the measurable stages (:attr:`JourneyScope.stages`).
    window_days, as_of : the conversion window (``journey.conversion_window_days``) and the end of the data.
    assumed : True when the targets are lclib's assumed defaults (``is_assumed(cfg, "journey.stages")``):
        the sentence says so and does not call the funnel on plan.

    The costliest step is the one with the largest shortfall (people short of the target); ties
    go to the earlier step.
    """
    with_target = steps_with_target(stages)
    if len(stages) < 2:
        return TargetCheck(None, None, with_target,
                           "With a single measurable stage there is no stage-to-stage conversion to compare with "
                           "targets.")
    titles = _titles(stages)
    drop = stage_conversion(reached, stages, window_days=window_days, as_of=as_of)
    below = drop.loc[drop["significantly_below"]]
    wtext = f" within {window_days} days" if window_days else ""
    whose = "lclib's assumed default target" if assumed else "its target"
    if len(below):
        b = below.sort_values("shortfall", ascending=False, kind="stable").iloc[0]
        sentence = (f"**{len(below)} of {plural(len(drop), 'step')}** {'converts' if len(below) == 1 else 'convert'} "
                    "significantly below "
                    f"{'the assumed default target' if assumed else 'target'}{wtext}. The costliest is "
                    f"**{titles[b['from_stage']]} → {b['label']}**: {share_text(b['conversion'])} against {whose} of "
                    f"{share_text(b['target'])}, about **{people(b['shortfall'])}** short - the first place "
                    "to act.")
    else:
        sentence = (f"No step converts significantly below {whose}{wtext} (every step's 95 % interval reaches or "
                    "lies above it), "
                    + ("but these targets are lclib's assumed defaults, not yours: set your own targets for the "
                       "journey stages in the configuration before reading the funnel as on plan." if assumed else
                       "so the funnel is on plan; the drop-out above is the expected shape, not an alarm."))
    return TargetCheck(drop, len(below), with_target, sentence, titles)


# ----------------------------------------------------------------------------- KPIs


@dataclass(frozen=True)
class KpiFindings:
    """Each stage's KPI against its target (see :func:`kpi_findings`).

    Attributes
    ----------
    kpis : :func:`~lclib.analysis.kpis.stage_kpis` output.
    met : KPIs meeting their target.
    below : labels of the stages whose KPI is below target.
    not_measurable : labels of the stages whose KPI the data cannot show.
    sentence : the finding in words (Markdown).
    notes : one sentence per KPI narrower than reaching its stage (a referral rate where the
        stage also admits NPS promoters): both are compared with the same target.
    """

    kpis: pd.DataFrame
    met: int
    below: list[str]
    not_measurable: list[str]
    sentence: str
    notes: list[str]

    @property
    def shown(self) -> pd.DataFrame:
        """The KPIs as the report's table: ``Stage`` index, KPI, value, target, status, definition, in words."""
        kp = self.kpis
        return pd.DataFrame({"Stage": kp["label"], "KPI": kp["kpi_label"],
                             "Value": [kpi_text(v, u) for v, u in zip(kp["value"], kp["unit"])],
                             "Target": [kpi_text(v, u) if np.isfinite(v) else "-"
                                        for v, u in zip(kp["target"], kp["unit"])],
                             "Status": kp["status"], "Definition": kp["definition"]}).set_index("Stage")


def kpi_findings(kp: pd.DataFrame, stages: Sequence, conversion: pd.DataFrame | None = None) -> KpiFindings:
    """How many stage KPIs meet their target, which are below (and whether significantly), which cannot be measured.

    Parameters
    ----------
    kp : :func:`~lclib.analysis.kpis.stage_kpis` output.
    stages : the measurable stages (for how a person enters a stage).
    conversion : :attr:`TargetCheck.table` (None with one measurable stage: no notes on narrower KPIs).

    A KPI below target whose 95 % interval reaches the target is said to be below "not
    significantly".
    """
    met = int((kp["status"] == "met").sum())
    below = kp.loc[kp["status"] == "below"]
    na = kp.loc[kp["status"] == "not measurable", "label"].tolist()
    sentence = (f"**{met} of {plural(len(kp), 'stage KPI')} {'meets its' if met == 1 else 'meet their'} target**"
                + (". Below target: " + "; ".join(
                    f"{r.label} ({r.kpi_label} {kpi_text(r.value, r.unit)} vs {kpi_text(r.target, r.unit)}"
                    + (", not significantly: the 95 % interval reaches the target)" if r.upper >= r.target else ")")
                    for r in below.itertuples()) if len(below) else ", none is below target")
                + (f". Not measurable with this data: {', '.join(na)}" if na else "")
                + ". Each KPI is the one number the team owning that stage should move.")
    notes = []
    if conversion is not None:
        conv = conversion.set_index("stage")["conversion"]
        entries = {s.name: s for s in stages}
        narrower = kp.loc[kp["kpi"].map(lambda k: KPIS[k][1] != "stage_rate") & kp["target"].notna()
                          & kp["stage"].isin(conv.index)]
        notes = [f"{r.kpi_label} ({kpi_text(r.value, r.unit)}) is narrower than reaching {r.label} "
                 f"({share_text(conv[r.stage])} of the previous stage, who enter at: "
                 f"{describe_entry(entries[r.stage])}); both are compared with the stage's target of "
                 f"{kpi_text(r.target, r.unit)}, so one can be met and the other not."
                 for r in narrower.itertuples()]
    return KpiFindings(kp, met, below["label"].tolist(), na, sentence, notes)


# ----------------------------------------------------------------------------- channels on the stages


@dataclass(frozen=True)
class ChannelMap:
    """Which channel touches most people at the first stage, and the strongest channel-stage pair
    (see :func:`channel_map`).

    Attributes
    ----------
    has_channels : is any touchpoint with a channel on the stages?
    touches : touchpoints placed on the journey.
    busiest : the channel touching most people at the first stage (None without channels or touches there).
    strongest : ``(channel, stage)`` with the highest conversion to the next stage among pairs
        with :data:`MIN_PAIR_PEOPLE` or more people (None without one).
    sentence : the finding in words (Markdown).
    """

    has_channels: bool
    touches: int
    busiest: str | None
    strongest: tuple[str, str] | None
    sentence: str


def channel_map(matrix: pd.DataFrame, stages: Sequence, touches: int, names: Mapping[str, str] | None = None,
                min_people: int = MIN_PAIR_PEOPLE) -> ChannelMap:
    """The journey map in words: the busiest channel at the first stage and the channel that moves most people on.

    Parameters
    ----------
    matrix : :func:`~lclib.analysis.journey.channel_stage_matrix` output.
    stages : the measurable stages.
    touches : number of touchpoints placed on the journey (``len(touchpoints(...))``).
    names : ``display_names`` of ``lclib.yaml`` (channels in words).
    min_people : a pair with fewer people touched is not called the strongest.

    Ties go to the channel listed first in ``matrix`` (most people first, then by name).
    """
    if not len(matrix):
        return ChannelMap(False, touches, None, None,
                          "The data has no channel on its events or orders, so no channel can be placed on the "
                          "stages.")
    titles = _titles(stages)
    dn = lambda v: display_name(v, names)
    first = matrix.loc[matrix["stage"] == stages[0].name].sort_values("people", ascending=False, kind="stable")
    big = first.iloc[0] if len(first) else None
    ok = matrix.loc[(matrix["people"] >= min_people) & matrix["conversion"].notna()]
    best = ok.sort_values("conversion", ascending=False, kind="stable").iloc[0] if len(ok) else None
    nxt = {s.name: n.title for s, n in pairwise(stages)}
    sentence = ((f"At {stages[0].title}, **{dn(big['channel'])}** touches the most people ({big['people']:,}, "
                 f"{share_text(big['share_of_stage'])} of the stage). " if big is not None else
                 f"No channel touches people at {stages[0].title}. ")
                + (f"The strongest channel-stage pair is **{dn(best['channel'])} at {titles[best['stage']]}**: "
                   f"{share_text(best['conversion'])} of the people it touched there moved on to "
                   f"{nxt.get(best['stage'], 'the next stage')} (among pairs with {min_people}+ people). "
                   if best is not None else "")
                + "Channels that touch many people but move few on are where budget or message should change.")
    return ChannelMap(True, touches, None if big is None else str(big["channel"]),
                      None if best is None else (str(best["channel"]), str(best["stage"])), sentence)


#: What the channel x stage table means (said under it).
CHANNEL_STAGE_READING = ("Read each cell as *people touched by the channel in that stage (share of them who reached "
                         "the next stage)*. Channels with no entry do not act at that stage - a gap the journey map "
                         "makes visible.")

#: Said instead of the channel x stage table when no touchpoint has a channel.
NO_CHANNEL_STAGE = "No channel touchpoints: the channel x stage matrix is not available."


def channel_stage_table(matrix: pd.DataFrame, stages: Sequence) -> pd.DataFrame | None:
    """Channels down, stages across: people touched, and in brackets the share who moved on.

    Channels with the most people touched (over all stages) first; ``-`` where a channel does
    not act at a stage. None when ``matrix`` is empty.

    Examples
    --------
    >>> from lclib.config import Stage
    >>> stages = [Stage(name="reach", events=["visit"], kpi="visits"),
    ...           Stage(name="conversion", facts=["first_purchase"], kpi="conversion_rate")]
    >>> matrix = pd.DataFrame({"channel": ["email", "search", "email"], "stage": ["reach", "reach", "conversion"],
    ...                        "people": [10, 40, 4], "conversion": [0.5, 0.25, np.nan]})
    >>> channel_stage_table(matrix, stages).reset_index().values.tolist()
    [['search', '40 (25% on)', '-'], ['email', '10 (50% on)', '4']]
    """
    if not len(matrix):
        return None
    m = matrix.assign(stage=matrix["stage"].map(_titles(stages)))
    cell = m.pivot(index="channel", columns="stage", values="people").reindex(columns=[s.title for s in stages])
    conv = m.pivot(index="channel", columns="stage", values="conversion").reindex(columns=cell.columns)
    text = cell.apply(lambda col: col.map(lambda v: "-" if pd.isna(v) else f"{v:,.0f}")) + \
        conv.apply(lambda col: col.map(lambda v: "" if pd.isna(v) else f" ({v:.0%} on)"))
    return text.loc[cell.sum(axis=1).sort_values(ascending=False).index].rename_axis("Channel") \
        .rename_axis(columns=None)


@dataclass(frozen=True)
class ChannelConversion:
    """Stage conversion by acquisition channel (see :func:`conversion_by_channel`).

    Attributes
    ----------
    table : :func:`~lclib.analysis.journey.stage_conversion` by ``channel`` (None with one measurable stage).
    comparable : do two or more channels have enough people at a step?
    sentence : the finding in words (Markdown).
    """

    table: pd.DataFrame | None
    comparable: bool
    sentence: str


def conversion_by_channel(reached: pd.DataFrame, stages: Sequence, *, window_days: float | None = None,
                          as_of: Any = None, names: Mapping[str, str] | None = None,
                          min_entered: int = MIN_CHANNEL_ENTERED) -> ChannelConversion:
    """The step where acquisition channels differ most in conversion, its best and its worst channel.

    Parameters
    ----------
    reached : :func:`~lclib.analysis.journey.stage_entries` output (with ``channel``).
    stages : the measurable stages.
    window_days, as_of : as for :func:`conversion_against_targets`.
    names : ``display_names`` of ``lclib.yaml``.
    min_entered : channel-steps with fewer people entering are left out.

    The step with the widest spread (highest minus lowest conversion) is named; ties go to the
    earlier step, and within a step to the channel listed first.
    """
    if len(stages) < 2:
        return ChannelConversion(None, False,
                                 "With a single measurable stage there is no conversion to compare between channels.")
    by = stage_conversion(reached, stages, by="channel", window_days=window_days, as_of=as_of,
                          min_entered=min_entered)
    if not len(by):
        return ChannelConversion(by, False, f"No channel has {min_entered} or more people entering a step, so "
                                            "channels are not compared.")
    if by["group"].nunique() < 2:
        return ChannelConversion(by, False, "Every person here has the same acquisition channel"
                                 + (" (none is known: the data has no channel column)"
                                    if set(by["group"]) <= {"unknown"} else "")
                                 + ", so channels cannot be compared.")
    titles = _titles(stages)
    dn = lambda v: display_name(v, names)
    spread = by.groupby("step")["conversion"].agg(lambda s: s.max() - s.min())
    s = by.loc[by["step"] == spread.idxmax()].sort_values("conversion", kind="stable")
    lo, hi = s.iloc[0], s.iloc[-1]
    pct = share_text
    return ChannelConversion(by, True, (
        f"Channels differ most at the step **{titles[hi['from_stage']]} → {hi['label']}**: **{dn(hi['group'])}** "
        f"converts {pct(hi['conversion'])} (95 % {pct(hi['lower'])}-{pct(hi['upper'])}) against **{dn(lo['group'])}** "
        f"at {pct(lo['conversion'])} ({pct(lo['lower'])}-{pct(lo['upper'])}). Where the intervals do not overlap "
        "the difference is real, and the weaker channel's people need a different follow-up at that step. (Here "
        "people are grouped by acquisition channel; the journey map above counts every channel that touched people "
        "in a stage, so its shares differ.)"))


# ----------------------------------------------------------------------------- step times


@dataclass(frozen=True)
class StepTimes:
    """How long each step takes among the people who made it (see :func:`step_times`).

    Attributes
    ----------
    table : :func:`~lclib.analysis.journey.stage_times` output (None with one measurable stage or
        when nobody made a step: nothing to draw).
    slowest : ``(from stage, to stage)`` of the step with the longest median (None likewise).
    sentence : the finding in words (Markdown).
    titles : stage name -> title.
    """

    table: pd.DataFrame | None
    slowest: tuple[str, str] | None
    sentence: str
    titles: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def made(self) -> pd.DataFrame:
        """The steps somebody made (rows of :attr:`table` with people; empty without a table)."""
        return self.table.loc[self.table["people"] > 0] if self.table is not None else pd.DataFrame(
            columns=["step", "from_stage", "stage", "label", "people", "median_days", "p90_days"])

    @property
    def shown(self) -> pd.DataFrame | None:
        """The step times as the report's table (``Step`` = "From → To"; people, median, 90th percentile, mean)."""
        if self.table is None:
            return None
        t = self.table
        return t.assign(Step=t["from_stage"].map(self.titles) + " → " + t["label"]).set_index("Step")[
            ["people", "median_days", "p90_days", "mean_days"]].rename(
            columns={"people": "People", "median_days": "Median (days)", "p90_days": "90th percentile (days)",
                     "mean_days": "Mean (days)"})


def step_times(reached: pd.DataFrame, stages: Sequence) -> StepTimes:
    """Median days of each step and the slowest step (by median; ties go to the later step).

    Parameters
    ----------
    reached : :func:`~lclib.analysis.journey.stage_entries` output.
    stages : the measurable stages.
    """
    if len(stages) < 2:
        return StepTimes(None, None, "With a single measurable stage there are no step times.")
    titles = _titles(stages)
    times = stage_times(reached, stages)
    t = times.loc[times["people"] > 0]
    if not len(t):
        return StepTimes(None, None, "Nobody has moved between stages yet, so there are no step times.", titles)
    slow = t.sort_values("median_days", kind="stable").iloc[-1]
    sentence = ("Half of the people who move on do so within "
                + "; ".join(f"**{r.median_days:,.1f} days** to {r.label}" for r in t.itertuples())
                + f". The slowest step is **{titles[slow['from_stage']]} → {slow['label']}** (90 % within "
                  f"{plural(round(slow['p90_days']), 'day')}): follow-up campaigns for it should run over that horizon, not stop "
                  "after a week.")
    return StepTimes(times, (str(slow["from_stage"]), str(slow["stage"])), sentence, titles)


# ----------------------------------------------------------------------------- paths and attribution


@dataclass(frozen=True)
class TouchPaths:
    """The channel paths before the conversion (see :func:`touch_path_finding`).

    Attributes
    ----------
    goal : the stage counted as the conversion (:func:`~lclib.analysis.journey.conversion_stage`).
    paths : :func:`~lclib.analysis.journey.touch_paths` output (None without touchpoints).
    counts : :func:`~lclib.analysis.journey.path_counts` output (None when no path led to a
        conversion: then there is nothing to attribute).
    top : the most common paths (at most ``top_paths`` rows of ``counts``; None likewise).
    multi_channel_share : share of the people with paths who saw more than one channel (0..1; NaN when None).
    sentence : the finding in words (Markdown).
    """

    goal: str
    paths: pd.DataFrame | None
    counts: pd.DataFrame | None
    top: pd.DataFrame | None
    multi_channel_share: float
    sentence: str

    @property
    def available(self) -> bool:
        """Did any path lead to a conversion (so paths and attribution can be shown)?"""
        return self.counts is not None


def touch_path_finding(touches: pd.DataFrame, reached: pd.DataFrame, stages: Sequence, *, max_length: int = 8,
                       top_paths: int = 10, names: Mapping[str, str] | None = None) -> TouchPaths:
    """The common channel paths before the conversion, and how many people saw more than one channel.

    Parameters
    ----------
    touches : :func:`~lclib.analysis.journey.touchpoints` output.
    reached : :func:`~lclib.analysis.journey.stage_entries` output.
    stages : the measurable stages.
    max_length, top_paths : ``journey.max_path_length`` and ``journey.top_paths``.
    names : ``display_names`` of ``lclib.yaml`` (channels of the paths in words).
    """
    goal = conversion_stage(stages)
    paths = touch_paths(touches, reached, goal, max_length) if len(touches) else None
    if paths is None or not len(paths) or not paths["converted"].any():
        return TouchPaths(goal, paths, None, None, np.nan,
                          "No touchpoints come before the first purchase in this data (an order export carries no "
                          "pre-purchase events), so touchpoint paths and channel attribution are not available. Add "
                          "an events table to see them.")
    pc = path_counts(paths)
    top = pc.head(top_paths)
    multi = (paths["length"] > 1).mean()
    sentence = (f"**{people(len(paths))}** had touchpoints before {goal.replace('_', ' ')}, along "
                f"**{plural(len(pc), 'distinct path')}**. The most common is **{display_path(top.path.iloc[0], names)}** "
                f"({people(top.people.iloc[0])}, {share_text(top.conversion_rate.iloc[0])} convert). "
                f"**{share_text(multi)}** of these people saw more than one channel: crediting only the last click "
                "would ignore the channels that opened those journeys.")
    return TouchPaths(goal, paths, pc, top, multi, sentence)


@dataclass(frozen=True)
class Attribution:
    """First-touch, last-touch and Markov credit of the channels (see :func:`channel_attribution`).

    Attributes
    ----------
    credit : :func:`~lclib.analysis.attribution.channel_credit` output (None without paths).
    lead : the channel the Markov model credits most (None likewise).
    lead_share : its share of the conversions (0..1; NaN when None).
    sentence : the finding in words (Markdown).
    """

    credit: pd.DataFrame | None
    lead: str | None
    lead_share: float
    sentence: str

    @property
    def shown(self) -> pd.DataFrame | None:
        """The credits as the report's table: ``Channel`` index, first touch, last touch, Markov, removal effect."""
        if self.credit is None:
            return None
        return self.credit.set_index("channel")[["first_touch", "last_touch", "markov", "removal_effect"]] \
            .rename_axis("Channel").rename(columns={"first_touch": "First touch", "last_touch": "Last touch",
                                                    "markov": "Markov", "removal_effect": "Removal effect"})


def channel_attribution(paths: TouchPaths, reached: pd.DataFrame,
                        names: Mapping[str, str] | None = None) -> Attribution:
    """Which channel the Markov model credits most, and which gain and lose most against last touch.

    Parameters
    ----------
    paths : :func:`touch_path_finding` output.
    reached : :func:`~lclib.analysis.journey.stage_entries` output (conversions without a touch
        before them are counted from it and said to be unattributed).
    names : ``display_names`` of ``lclib.yaml``.

    The channels gaining and losing most are the first of equal differences in credit order.
    """
    if not paths.available:
        return Attribution(None, None, np.nan,
                           "Channel attribution needs touchpoints before the conversion; none are in this data.")
    dn = lambda v: display_name(v, names)
    credit = channel_credit(paths.counts)
    diff = (credit["markov"] - credit["last_touch"]).to_numpy()
    up, down = credit.iloc[int(np.argmax(diff))], credit.iloc[int(np.argmin(diff))]
    lead = credit.iloc[0]
    no_touch = int(reached[paths.goal].notna().sum() - paths.paths["converted"].sum())
    sentence = (f"The Markov model credits **{dn(lead['channel'])}** with the most conversions "
                f"(**{lead['markov']:,.0f}**, {share_text(lead['markov_share'])}). Compared with last touch it gives "
                f"**{dn(up['channel'])}** {_count(up['markov'] - up['last_touch'], 'conversion')} and "
                f"**{dn(down['channel'])}** {down['markov'] - down['last_touch']:+,.0f}: budget judged on last clicks "
                f"alone would under-fund {dn(up['channel'])}."
                + (f" {plural(no_touch, 'conversion')} had no earlier touchpoint and "
                   f"{'is' if no_touch == 1 else 'are'} not attributed." if no_touch else "")
                + (" First and last touch agree for every channel: in this data each converter's path begins and "
                   "ends on the same channel (multi-channel paths return to where they started), so only the Markov "
                   "model separates the channels in between."
                   if np.allclose(credit["first_touch"], credit["last_touch"]) else ""))
    return Attribution(credit, str(lead["channel"]), float(lead["markov_share"]), sentence)


# ----------------------------------------------------------------------------- headline numbers


def headline_numbers(*, scope: JourneyScope, flow: StageFlow, targets: TargetCheck, kpi: KpiFindings,
                     where: ChannelMap, times: StepTimes, paths: TouchPaths,
                     credit: Attribution) -> list[tuple[str, Any, str, str | None]]:
    """The report's headline numbers as ``(name, value, label, unit)``, in the order they are recorded.

    Shares are in percent, rounded as the sentences show them. A number a section could not
    compute (one stage, no channels, no paths) is left out; a KPI the data cannot show is None.
    """
    counts = flow.counts
    out: list[tuple[str, Any, str, str | None]] = [
        ("journey_mode", scope.mode, "Journey mode (full / partial / transactions-only)", None),
        ("journey_stages_measured", len(scope.stages), "Lifecycle stages measured", "stages")]
    out += [(f"people_{r.stage}", int(r.people), f"People who reached {r.label}", "people") for r in counts.itertuples()]
    if flow.leakiest is not None:
        i = flow.leakiest
        out.append(("largest_dropout_share", round(100 * flow.leakiest_share, 1),
                    f"Drop-out at the leakiest step ({counts['label'].iloc[i]} to {counts['label'].iloc[i + 1]})", "%"))
    if targets.below is not None:
        out.append(("steps_below_target", targets.below, "Stage steps significantly below target", "steps"))
    out += [(f"kpi_{r.stage}", None if not np.isfinite(r.value) else round(float(r.value), 2),
             f"{r.label}: {r.kpi_label}", r.unit) for r in kpi.kpis.itertuples()]
    if where.has_channels:
        out.append(("touchpoints", int(where.touches), "Touchpoints placed on the journey", "touches"))
    out += [(f"median_days_to_{r.stage}", round(float(r.median_days), 1),
             f"Median days from {times.titles[r.from_stage]} to {r.label}", "days") for r in times.made.itertuples()]
    if paths.available:
        out.append(("multi_channel_share", round(100 * paths.multi_channel_share, 1),
                    "People with touchpoints before a first purchase who saw more than one channel", "%"))
    if credit.credit is not None:
        out += [("markov_top_channel", credit.lead, "Channel with the most Markov-credited conversions", None),
                ("markov_top_channel_share", round(100 * credit.lead_share, 2),
                 "Share of conversions credited to the top Markov channel", "%")]
    return out


def headlines_in_words(entries: Sequence[Mapping[str, Any]],
                       names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Recorded headline entries with the top channel in words (``run.json`` keeps the raw value).

    Examples
    --------
    >>> headlines_in_words([{"name": "markov_top_channel", "value": "paid_search"}, {"name": "x", "value": "email"}])
    [{'name': 'markov_top_channel', 'value': 'Paid search'}, {'name': 'x', 'value': 'email'}]
    """
    return [{**e, "value": display_name(e["value"], names)} if e["name"] == "markov_top_channel" else dict(e)
            for e in entries]
