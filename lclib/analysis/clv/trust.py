"""When to trust a CLV model: an earned status (ok / weak / unusable), its reason and what to do.

A fit that converged is not yet a model to plan with. :func:`judge_fit` reads a
fit the way a careful analyst would:

* **convergence**: not fitted, not converged, degenerate (a parameter at a
  boundary) or converged only after a fallback penalizer;
* **identifiability**: the 95 % interval of every parameter, as the ratio
  upper / lower; a parameter whose interval spans orders of magnitude is not
  pinned down by the data, whatever its point estimate looks like;
* **data size**: customers, weeks of history, and weeks at the end of the
  window in which nobody bought (an export that stops before the analysis date
  looks like everyone leaving).

:func:`judge_holdout` decides whether the holdout check means anything (a
window long enough, enough purchases in it) and grades its error;
:func:`judge_predictions` counts customers whose prediction is undefined.
:func:`combine` joins them. Every limit is a key of ``clv`` in lclib.yaml
(:class:`TrustLimits`). A :class:`Verdict` says its status, the reasons and the
advice in words; the notebook only prints it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from lclib.analysis.clv.fitting import _MODEL_NAMES, FitResult, _degeneracy, spend_frequency_correlation
from lclib.analysis.clv.validation import HoldoutValidation
from lclib.engine.contracts import UNIT_DAYS

#: The statuses, from best to worst.
STATUSES = ("ok", "weak", "unusable")
#: What each status means for the numbers built on the model.
STATUS_MEANING = {
    "ok": "usable for planning",
    "weak": "usable as a rough guide only",
    "unusable": "its numbers are not used",
}


@dataclass(frozen=True)
class TrustLimits:
    """The limits a model must meet (``clv`` keys of lclib.yaml, same names and defaults)."""

    #: fewer customers in a purchase-model fit: at most "weak"
    min_customers: int = 500
    #: fewer repeat customers: the model is not fitted ("unusable")
    min_repeat_customers: int = 50
    #: a fit's window (longest customer history) shorter than this: "unusable"
    min_calibration_weeks: float = 13.0
    #: a shorter holdout window is no check: no holdout error, model at most "weak"
    min_holdout_weeks: float = 8.0
    #: fewer repeat purchases in the holdout window: no holdout error, model at most "weak"
    min_holdout_purchases: int = 20
    #: more weeks without any purchase at the end of a fit's window: "unusable"
    max_quiet_weeks: float = 8.0
    #: a parameter's 95 % interval upper / lower above this: "weak"
    weak_interval_ratio: float = 10.0
    #: above this: "unusable" (the data do not pin the parameter down)
    unusable_interval_ratio: float = 1000.0
    #: |holdout error| above this many percent: "weak"
    holdout_error_weak_pct: float = 15.0
    #: above this: "unusable"
    holdout_error_unusable_pct: float = 50.0
    #: customers with an undefined prediction: any makes "weak", above this share "unusable"
    max_excluded_share: float = 0.01

    @classmethod
    def from_settings(cls, settings) -> TrustLimits:
        """The limits from ``cfg.clv`` (any object with these attribute names; missing ones keep defaults)."""
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls) if hasattr(settings, f.name)})


#: Settings a reason or advice may name, in words for the business version (:func:`plain_words`).
_SETTING_WORDS = {
    "clv.calibration_end": "the calibration end date (a setting of the configuration)",
    "clv.time_unit: W": "weekly time steps (a setting of the configuration)",
    "clv.penalizer": "fit penalty (a setting of the configuration)",
    "analysis.as_of": "the analysis date (a setting of the configuration)",
    "clv.model": "the purchase model setting of the configuration",
}
_KEY = re.compile(r"`([a-z_]+\.[a-z_]+(?:: [^`]*)?)`")


def plain_words(text: str) -> str:
    """``text`` without configuration keys, for the business version of a report.

    A key cited as a source in brackets (``(at least 500 customers, `clv.min_customers`)``,
    ``(`clv.model`)``) is dropped; a key the sentence acts on (``Move `clv.calibration_end`
    earlier``) becomes words (``the calibration end date (a setting of the configuration)``).
    """
    text = re.sub(r",\s*`[a-z_]+\.[a-z_]+`\)", ")", text)
    text = re.sub(r"\s*\(`[a-z_]+\.[a-z_]+`\)", "", text)
    return _KEY.sub(lambda m: _SETTING_WORDS.get(m.group(1), "a setting of the configuration"), text)


@dataclass
class Finding:
    """One check's outcome: ``status``, ``reason`` (a clause in words) and ``advice`` (a sentence or "").

    ``plain`` : the reason for a business reader (no parameter names, fit values or configuration
    keys), when it differs from ``reason`` beyond the keys; ``reason`` stays the analysts' text
    (and run.json's).
    """

    status: str
    reason: str
    advice: str = ""
    plain: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def plain_reason(self) -> str:
        """The reason in plain words (:attr:`plain`, else :attr:`reason` without configuration keys)."""
        return plain_words(self.plain or self.reason)

    @property
    def plain_advice(self) -> str:
        """The advice without configuration keys."""
        return plain_words(self.advice)


def _rank(status: str) -> int:
    return STATUSES.index(status)


@dataclass
class Verdict:
    """The status a model earned, with the findings behind it.

    Attributes
    ----------
    subject : what is judged, e.g. "The purchase model (BG/NBD)".
    findings : every check's :class:`Finding` (ok ones too: they say what passed).
    """

    subject: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def status(self) -> str:
        """The worst status among the findings ("ok" without findings)."""
        return max((f.status for f in self.findings), key=_rank, default="ok")

    @property
    def reasons(self) -> list[str]:
        """The reasons at the verdict's status, in the order found (for ok: what passed)."""
        return [f.reason for f in self.findings if f.status == self.status]

    def _reasons(self, plain: bool) -> list[str]:
        return [f.plain_reason if plain else f.reason for f in self.findings if f.status == self.status]

    def _advice(self, plain: bool) -> list[str]:
        out: list[str] = []
        for f in self.findings:
            a = f.plain_advice if plain else f.advice
            if f.status == self.status != "ok" and a and a not in out:
                out.append(a)
        return out

    @property
    def concerns(self) -> list[str]:
        """Every reason that is not ok, worst first."""
        bad = [f for f in self.findings if f.status != "ok"]
        return [f.reason for f in sorted(bad, key=lambda f: -_rank(f.status))]

    @property
    def reason(self) -> str:
        """The first reason at the verdict's status (a short text for run.json)."""
        return self.reasons[0] if self.reasons else "every check passed"

    @property
    def advice(self) -> list[str]:
        """What to do, from the findings at the verdict's status (no repeats); none when ok."""
        out: list[str] = []
        for f in self.findings:
            if f.status == self.status != "ok" and f.advice and f.advice not in out:
                out.append(f.advice)
        return out

    @property
    def usable(self) -> bool:
        """True unless the status is "unusable"."""
        return self.status != "unusable"

    def short(self, plain: bool = False) -> str:
        """Status and first reason in one line (Markdown); ``plain``: the reason in plain words."""
        reasons = self._reasons(plain)
        return f"**{self.subject}: {self.status}** ({reasons[0] if reasons else 'every check passed'})"

    def sentence(self, plain: bool = False) -> str:
        """The verdict for a report, in Markdown: status, why, what to do.

        The reasons at the verdict's status come first; lesser concerns follow
        after "Also"; the advice is that of the reasons at the verdict's status.
        ``plain=True``: the business version's words (no parameter names, fit values or
        configuration keys: :attr:`Finding.plain_reason`); the default is the analysts' text.
        """
        head = f"**{self.subject}: {self.status}** ({STATUS_MEANING[self.status]})"
        if self.status == "ok":
            return f"{head}: {_join(self._reasons(plain))}."
        text = f"{head}, because {_join(self._reasons(plain))}."
        lesser = [f.plain_reason if plain else f.reason for f in self.findings
                  if f.status != "ok" and _rank(f.status) < _rank(self.status)]
        if lesser:
            text += f" Also: {_join(lesser)}."
        advice = self._advice(plain)
        if advice:
            text += " **What to do:** " + " ".join(advice)
        return text


def _join(parts: list[str]) -> str:
    parts = [p.rstrip(".") for p in parts if p]
    return "; ".join(parts) if parts else "every check passed"


def combine(subject: str, *verdicts: Verdict | Finding | None) -> Verdict:
    """One verdict from several (their findings together); None entries are skipped."""
    findings: list[Finding] = []
    for v in verdicts:
        if isinstance(v, Finding):
            findings.append(v)
        elif v is not None:
            findings.extend(v.findings)
    return Verdict(subject, findings)


def _g(value: float) -> str:
    """A number for a sentence: 3 significant figures, never "nan" or "inf"."""
    if value is None or not np.isfinite(value):
        return "not measurable"
    return f"{value:.3g}" if 1e-3 <= abs(value) < 1e5 or value == 0 else f"{value:.1e}"


def _weeks(value_in_units: float, time_unit: str) -> float:
    return float(value_in_units) * UNIT_DAYS[time_unit] / 7.0


def span_text(days: float) -> str:
    """A length in words: days below two weeks, else weeks."""
    return f"{days:.0f} day{'s' if round(days) != 1 else ''}" if days < 14 else f"{days / 7:.0f} weeks"


def span_days(days: float) -> str:
    """A length in days, with weeks beside it from two weeks on: ``140 days (20 weeks)``, ``242 days (about 35 weeks)``."""
    if days < 14:
        return span_text(days)
    about = "" if round(days) % 7 == 0 else "about "
    return f"{days:,.0f} days ({about}{days / 7:.0f} weeks)"


_MORE_DATA = ("Fit it on more customers or a longer history; until then use the textbook CLV, "
              "totals and segment averages rather than single customers' values.")


_MORE_SPEND_DATA = ("Fit it on more repeat customers; until then each customer is valued at the observed mean "
                    "order value.")


def _interval_findings(fit: FitResult, limits: TrustLimits) -> list[Finding]:
    advice = _MORE_SPEND_DATA if fit.model == "gamma_gamma" else _MORE_DATA
    ci = fit.confidence_intervals
    out: list[Finding] = []
    widest, widest_ratio = None, 0.0
    for name, row in ci.iterrows():
        lower, upper = float(row["lower"]), float(row["upper"])
        ratio = upper / lower if lower > 0 and np.isfinite(upper) else math.inf
        if not (np.isfinite(lower) and np.isfinite(upper)):
            out.append(Finding("unusable", f"the uncertainty of {name} = {_g(row['estimate'])} cannot be measured "
                                           "(the likelihood is flat or not curved at the fitted values)", advice,
                               plain="the data cannot say how uncertain one of its parameters is"))
        elif ratio > limits.unusable_interval_ratio:
            out.append(Finding("unusable", f"the data do not pin {name} down: its 95 % interval runs from "
                                           f"{_g(lower)} to {_g(upper)} around {_g(row['estimate'])}", advice,
                               plain="the data do not pin one of its parameters down: its plausible values span "
                                     f"more than a factor of {limits.unusable_interval_ratio:,.0f}"))
        elif ratio > limits.weak_interval_ratio:
            out.append(Finding("weak", f"{name} is only loosely pinned down: its 95 % interval runs from {_g(lower)} "
                                       f"to {_g(upper)} (a factor of {ratio:,.0f})", advice,
                               plain=f"the data pin one of its parameters down only loosely (its plausible values "
                                     f"span a factor of {ratio:,.0f})"))
        if np.isfinite(ratio) and ratio > widest_ratio:
            widest, widest_ratio = name, ratio
    if not out and widest is not None:
        out.append(Finding("ok", f"every parameter is pinned down: the widest 95 % interval, {widest}'s, spans a "
                                 f"factor of {widest_ratio:.1f} from low to high",
                           plain="the data pin down every number the model learns"))
    return out


def judge_fit(fit: FitResult, summary: pd.DataFrame | None = None, limits: TrustLimits | None = None, *,
              time_unit: str = "W", subject: str | None = None) -> Verdict:
    """The status a fit earned on its own: convergence, identifiability, data size.

    Parameters
    ----------
    fit : a purchase-model or Gamma-Gamma :class:`FitResult`.
    summary : the customer summary it was fitted on (``frequency``, ``recency``,
        ``T`` in ``time_unit``); needed for the data-size checks of a purchase
        model (customers, weeks of history, weeks without purchases at the end)
        and, for Gamma-Gamma, the check that spend and frequency are independent.
    limits : :class:`TrustLimits` (defaults: lclib.yaml's).
    time_unit : unit of the summary's times.
    subject : words for the model (default e.g. "The purchase model (BG/NBD)").

    Returns
    -------
    Verdict
    """
    limits = limits or TrustLimits()
    name = _MODEL_NAMES[fit.model]
    spend = fit.model == "gamma_gamma"
    subject = subject or (f"The spend model ({name})" if spend else f"The purchase model ({name})")
    findings: list[Finding] = []
    first = fit.warnings[0].split(". ")[0].rstrip(".") if fit.warnings else f"status {fit.status}"
    if fit.status == "insufficient_data":
        findings.append(Finding("unusable", f"it could not be fitted: {first[0].lower()}{first[1:]}",
                                "Wait for more repeat purchases or use a longer export; until then use observed "
                                "repeat rates and the textbook CLV."))
    elif fit.status == "failed" and fit.at_boundary:
        findings.append(Finding("unusable", "the fit ran to the edge of its parameters from every start: these "
                                            "purchase histories cannot tell customers who have stopped buying "
                                            "from customers between purchases",
                                "Use a longer history (several purchase cycles) or the textbook CLV; a "
                                "penalizer or another time unit does not help here.",
                                plain="the fit breaks down: the data cannot tell who has stopped buying"))
    elif fit.status == "failed":
        findings.append(Finding("unusable", "the fit did not converge: the likelihood has no clear maximum for "
                                            "this data",
                                "Try `clv.time_unit: W` or a small `clv.penalizer` (0.001); otherwise use the "
                                "textbook CLV."))
    elif fit.status == "degenerate":
        if spend:
            detail = f"q = {_g(fit.params.get('q', math.nan))} is at most 1, so the fitted order values have no mean"
        else:
            t_max = float(summary["T"].max()) if summary is not None and len(summary) else 1.0
            problem = _degeneracy(fit.model, fit.params, t_max) or "a parameter sits at a boundary"
            detail = f"the fit is degenerate ({problem}): the data carry too little dropout signal"
        findings.append(Finding("unusable", detail, "Use a longer history (several purchase cycles) or the "
                                                    "textbook CLV.",
                                plain=("the fitted order values have no average" if spend else
                                       "the fit breaks down: the data carry too little sign of customers leaving")))
    if fit.converged:  # a degenerate fit's intervals add nothing to "degenerate"
        if len(fit.attempts) > 1:
            findings.append(Finding("weak", f"it converged only on a fallback ({fit.attempts[-1].split(':')[0]}), "
                                            "which biases the parameters",
                                    "Treat the parameters as approximate; a longer history usually lets the "
                                    "requested fit converge."))
        if fit.status == "ok":
            findings += _interval_findings(fit, limits)
    if summary is not None and len(summary) and not spend:
        findings += _data_findings(summary, limits, time_unit)
    if summary is not None and spend and "monetary_value" in summary:
        corr, message = spend_frequency_correlation(summary)
        if message:
            findings.append(Finding("weak", f"order value and purchase frequency correlate (r = {corr:.2f}), "
                                            "against the model's assumption that they are independent",
                                    "Read the expected order values of the most and least frequent buyers with "
                                    "care.",
                                    plain="customers who buy more often spend a different amount per order, "
                                          "against the model's assumption that the two are unrelated"))
    return Verdict(subject, findings)


def _data_findings(summary: pd.DataFrame, limits: TrustLimits, time_unit: str) -> list[Finding]:
    out = []
    n = len(summary)
    if n < limits.min_customers:
        out.append(Finding("weak", f"it rests on only {n:,} customers (at least {limits.min_customers:,} for firm "
                                   "parameters, `clv.min_customers`)", _MORE_DATA))
    history = _weeks(summary["T"].max(), time_unit)
    if history < limits.min_calibration_weeks:
        out.append(Finding("unusable", f"the history is only {history * 7:,.0f} days long (at least "
                                       f"{limits.min_calibration_weeks * 7:,.0f} days, "
                                       f"{limits.min_calibration_weeks:g} weeks, `clv.min_calibration_weeks`): too "
                                       "short to tell customers who left from customers between purchases",
                           f"Run the report once at least {limits.min_calibration_weeks:g} weeks of orders are "
                           "available; until then use the textbook CLV."))
    quiet = _weeks((summary["T"] - summary["recency"]).min(), time_unit)
    if quiet > limits.max_quiet_weeks:
        out.append(Finding("unusable", f"nobody bought anything in the last {span_text(quiet * 7)} of the window "
                                       f"(more than {limits.max_quiet_weeks:g}, `clv.max_quiet_weeks`): the data "
                                       "seem to end before the analysis date, and the model reads that silence as "
                                       "customers leaving",
                           "Check that the export is complete and set `analysis.as_of` to the day after the last "
                           "order."))
    if not out:
        out.append(Finding("ok", f"{n:,} customers over {history:.0f} weeks"))
    return out


@dataclass
class HoldoutCheck:
    """Whether the holdout check means anything, and what it found.

    Attributes
    ----------
    checked : True when the error below is meaningful.
    finding : the :class:`Finding` for the model's verdict (status "weak" when not checked).
    error_pct : (predicted - actual) / actual in percent; None unless ``checked``.
    predicted, actual : holdout repeat purchases (predicted NaN when not fitted).
    customers : customers in the check; days : length of the holdout window.
    calibration : the calibration fit's own :class:`Verdict`.
    """

    checked: bool
    finding: Finding
    error_pct: float | None
    predicted: float
    actual: float
    customers: int
    days: int
    calibration: Verdict

    @property
    def status(self) -> str:
        return self.finding.status

    @property
    def reason(self) -> str:
        return self.finding.reason

    @property
    def plain_reason(self) -> str:
        """The finding in plain words (:attr:`Finding.plain_reason`)."""
        return self.finding.plain_reason


def judge_holdout(val: HoldoutValidation | None, limits: TrustLimits | None = None,
                  holdout_days: int | None = None) -> HoldoutCheck:
    """Decide whether a holdout check is meaningful and grade its error.

    No error is reported (``checked`` False, the model at most "weak") when
    there is no holdout window, the calibration fit is unusable, the window is
    shorter than ``min_holdout_weeks``, or it holds fewer than
    ``min_holdout_purchases`` repeat purchases (none at all included).
    Otherwise |error| above ``holdout_error_weak_pct`` is "weak", above
    ``holdout_error_unusable_pct`` "unusable".

    Parameters
    ----------
    val : :func:`~lclib.analysis.clv.validation.holdout_validation` output, or
        None when no holdout window was left.
    limits : :class:`TrustLimits`.
    holdout_days : length of the window when ``val`` is None (0: none).
    """
    limits = limits or TrustLimits()
    hint = ("Move `clv.calibration_end` earlier (or leave it unset) so that the holdout window lasts at least "
            f"{limits.min_holdout_weeks:g} weeks.")
    if val is None:
        finding = Finding("weak", "it was not checked on later purchases: the calibration end leaves no holdout "
                                  "window", hint)
        return HoldoutCheck(False, finding, None, math.nan, math.nan, 0, holdout_days or 0, Verdict("-"))
    calibration = judge_fit(val.fit, val.per_customer, limits, time_unit=val.time_unit,
                            subject="The calibration fit")
    days, t = val.holdout_days, val.totals
    predicted, actual = float(t["predicted"]), float(t["actual"])
    args = (predicted, actual, int(t["customers"]), days, calibration)

    def unchecked(why: str, advice: str) -> HoldoutCheck:
        return HoldoutCheck(False, Finding("weak", f"it was not checked on later purchases: {why}", advice), None,
                            *args)

    if days / 7 < limits.min_holdout_weeks:
        return unchecked(f"the holdout window is only {span_text(days)} long (at least {limits.min_holdout_weeks:g} "
                         "weeks are needed, `clv.min_holdout_weeks`)", hint)
    if actual == 0:
        return unchecked(f"nobody made a repeat purchase in the {span_text(days)} of the holdout window",
                         "Check that the export is complete and that `analysis.as_of` is the day after the last "
                         "order.")
    if actual < limits.min_holdout_purchases:
        return unchecked(f"the holdout window holds only {actual:.0f} repeat purchases (at least "
                         f"{limits.min_holdout_purchases}, `clv.min_holdout_purchases`), too few to measure an error",
                         hint)
    if not calibration.usable:
        return unchecked(f"the model fitted on the calibration window alone is unusable ({calibration.reason})",
                         "Move `clv.calibration_end` later, or use a longer history.")
    if t.get("undefined", 0) or not np.isfinite(predicted):
        n = int(t.get("undefined", 0))
        return HoldoutCheck(False, Finding("unusable", f"its holdout predictions are undefined for {n:,} customers",
                                           "Try another purchase model (`clv.model`)."), None, *args)
    error = 100.0 * (predicted - actual) / actual
    said = (f"it predicted {predicted:,.0f} repeat purchases in the {span_text(days)} after the calibration window "
            f"and {actual:,.0f} were made ({error:+.1f} %)")
    plain = (f"fitted on the earlier data alone, it predicted {predicted:,.0f} repeat purchases in the following "
             f"{span_days(days)} and {actual:,.0f} were made ({error:+.1f} %)")
    if abs(error) > limits.holdout_error_unusable_pct:
        finding = Finding("unusable", f"{said}, off by more than {limits.holdout_error_unusable_pct:g} %",
                          "Do not plan with its forecasts; use the textbook CLV.",
                          plain=f"{plain}, off by more than {limits.holdout_error_unusable_pct:g} %")
    elif abs(error) > limits.holdout_error_weak_pct:
        finding = Finding("weak", f"{said}, off by more than {limits.holdout_error_weak_pct:g} %",
                          f"Read its forecasts as rough: they were {abs(error):.0f} % off on the holdout.",
                          plain=f"{plain}, off by more than {limits.holdout_error_weak_pct:g} %")
    else:
        finding = Finding("ok", said, plain=plain)
    return HoldoutCheck(True, finding, error, *args)


def judge_predictions(scores: pd.DataFrame, limits: TrustLimits | None = None) -> Verdict:
    """Count the customers :func:`predict_customers` left out for an undefined prediction."""
    limits = limits or TrustLimits()
    excluded = int(scores.attrs.get("excluded", 0))
    total = excluded + len(scores)
    if not excluded:
        return Verdict("The predictions", [Finding("ok", f"every one of the {total:,} customers was scored")])
    share = excluded / total if total else 1.0
    status = "unusable" if share > limits.max_excluded_share else "weak"
    return Verdict("The predictions", [Finding(
        status, f"its predictions are undefined for {excluded:,} of {total:,} customers ({share:.1%}), who are "
                "left out of every CLV number", "Try another purchase model (`clv.model`).")])


def missing_numbers(verdict: Verdict, spend: Verdict | None = None, *, channel_costs: bool = False) -> str:
    """Which numbers of the report are missing because a model is unusable, and why (Markdown)."""
    parts = []
    if not verdict.usable:
        lost = ["each customer's expected purchases and P(still active)", "model-based CLV per customer and for "
                "the whole base", "CLV by RFM segment, by acquisition channel and by cohort", "the top-customer export"]
        if channel_costs:
            lost.append("the model-based CLV:CAC per channel (the textbook formula is used instead)")
        parts.append(f"**Not computed:** {'; '.join(lost)}. Why: {verdict.subject[0].lower()}{verdict.subject[1:]} "
                     f"is unusable ({_join(verdict.reasons[:2])}).")
    if spend is not None and not spend.usable:
        parts.append(f"{spend.subject} is unusable ({_join(spend.concerns[:1])}): every customer is valued at the "
                     "observed mean order value instead of a personal estimate.")
    return plain_words(" ".join(parts))  # read by managers: settings in words, not as keys


def model_comparison_table(comparison: pd.DataFrame, holdout: dict[str, HoldoutCheck] | None = None) -> pd.DataFrame:
    """:func:`~lclib.analysis.clv.fitting.compare_fits` for a report, with each model's holdout error.

    Returns
    -------
    DataFrame
        Index ``Model``; ``Fit``, ``Log-likelihood``, ``AIC``, ``BIC``, ``Holdout error (%)``
        (NaN where the check means nothing), ``Chosen`` ("yes" / "").
    """
    holdout = holdout or {}
    out = pd.DataFrame({
        "Model": comparison["name"].to_numpy(),
        "Fit": comparison["status"].to_numpy(),
        "Log-likelihood": comparison["log_likelihood"].to_numpy(dtype=float),
        "AIC": comparison["aic"].to_numpy(dtype=float),
        "BIC": comparison["bic"].to_numpy(dtype=float),
        "Holdout error (%)": [holdout[m].error_pct if m in holdout and holdout[m].checked else np.nan
                              for m in comparison.index],
        "Chosen": np.where(comparison["chosen"].to_numpy(dtype=bool), "yes", ""),
    })
    return out.set_index("Model")


def choose_on_holdout(comparison: pd.DataFrame, holdout: dict[str, HoldoutCheck] | None) -> tuple[str | None, str]:
    """``clv.model: auto``: the purchase model with the smallest holdout error, and why, in words.

    Among the models whose fit is ok with a finite BIC (``comparison`` of
    :func:`~lclib.analysis.clv.fitting.compare_fits`) and whose holdout check means
    something (:class:`HoldoutCheck` ``checked``), the one whose predicted holdout
    purchases are closest to the actual ones; a tie (within 0.5 points) goes to the lower
    BIC. Without any meaningful holdout check the lowest BIC decides, and the sentence says
    that this is weaker evidence. None when no model has an ok fit.

    Examples
    --------
    >>> comp = pd.DataFrame({"name": ["BG/NBD", "MBG/NBD", "Pareto/NBD"], "status": ["ok", "ok", "weak"],
    ...                      "bic": [100.0, 101.0, 99.0]}, index=["bgnbd", "mbgnbd", "paretonbd"])
    >>> f = Finding("ok", "")
    >>> checks = {m: HoldoutCheck(True, f, e, 0.0, 0.0, 0, 0, None) for m, e in
    ...           [("bgnbd", 12.0), ("mbgnbd", -3.0), ("paretonbd", 0.5)]}
    >>> choose_on_holdout(comp, checks)[0]
    'mbgnbd'
    >>> choose_on_holdout(comp, {})[0]  # no holdout evidence: the lowest BIC among ok fits
    'bgnbd'
    """
    holdout = holdout or {}
    ok = comparison.loc[(comparison["status"] == "ok") & np.isfinite(comparison["bic"].astype(float))]
    if ok.empty:
        return None, "No purchase model has a usable fit on these data, so `clv.model: auto` has nothing to choose."
    by_bic = ok.sort_values("bic", kind="stable")
    tested = {m: abs(holdout[m].error_pct) for m in by_bic.index
              if m in holdout and holdout[m].checked and holdout[m].error_pct is not None}
    if not tested:
        best = by_bic.index[0]
        return best, (f"`clv.model: auto` chose **{ok.loc[best, 'name']}** by the lowest BIC (fit on the calibration "
                      "data only): the holdout window is too short or too quiet to compare the models' predictions.")
    least = min(tested.values())
    best = next(m for m in by_bic.index if m in tested and tested[m] <= least + 0.5)
    others = ", ".join(f"{ok.loc[m, 'name']} {holdout[m].error_pct:+.1f} %" for m in tested if m != best)
    return best, (f"`clv.model: auto` chose **{ok.loc[best, 'name']}**: its predicted repeat purchases in the holdout "
                  f"window were closest to the actual ones ({holdout[best].error_pct:+.1f} %"
                  + (f"; {others}" if others else "") + "), the test that matters for predictions; BIC only "
                  "compares the fits.")
