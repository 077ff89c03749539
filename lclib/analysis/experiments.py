"""Experiments report: did a lifecycle test (win-back e-mail, onboarding, loyalty offer) work?

Pipeline::

    out = experiment_outcomes(experiments, transactions, window_days, as_of)  # one row per assignment
    overview = describe_experiments(out, as_of)       # variants, control, complete windows, status
    srm = srm_check(experiments)                      # was the split the intended one?
    summary = variant_summary(out)                    # n, rate / mean with 95 % interval per variant
    comp = compare_variants(out, alpha=...)           # lift vs control, intervals, p-values (Holm)
    power = power_analysis(out, alpha, power, target_relative_lift)  # MDE and sample size needed
    seg = segments_at_assignment(experiments, transactions)          # RFM segment at assignment
    verdict = verdicts(comp, power, srm, overview, target_relative_lift)  # ship / stop / keep running

Definitions
-----------
Control variant
    Per experiment, the variant named ``control``, ``ctrl``, ``a`` or ``baseline``
    (case-insensitive, first of these in that order); when none is, the first variant in
    alphabetical order. Every other variant is compared with it.
Outcome window
    A customer assigned at ``t`` is observed over ``[t, t + window_days)``; only orders in
    that window *and* before ``as_of`` count, so nothing from before the assignment and
    nothing after the window can leak in. A window that has not ended by ``as_of`` is
    *incomplete*: those customers are counted and left out of every test (their outcome is
    not known yet); an experiment whose customers are all incomplete is still running.
Metrics (one value per assigned customer)
    ``converted`` (primary): at least one order in the window (churn over the window is its
    complement, so its lift is the same with the sign flipped). ``repeat_purchase``: an
    order in the window that is the customer's second or later order overall.
    ``revenue``: sum of the order amounts in the window (0 without an order).
Tests (statsmodels / scipy, not hand-written formulas)
    Proportions: two-proportion z-test (``proportions_ztest``, pooled variance) for the
    p-value; Newcomb's interval of the difference and the log-adjusted interval of the
    ratio (``confint_proportions_2indep``) for absolute and relative lift. Means (revenue):
    Welch's t-test and its interval of the difference (``scipy.stats.ttest_ind(equal_var=
    False)``); the relative lift's interval is a percentile bootstrap of the ratio of means
    (``scipy.stats.bootstrap``, fixed seed). With more than one treatment variant the
    p-values of one experiment and metric are Holm-corrected (``multipletests``); intervals
    are per comparison. Sample-ratio mismatch: chi-square goodness of fit of the assignment
    counts against the intended shares (equal by default), flagged below
    :data:`SRM_ALPHA`. Power: Cohen's h (``proportion_effectsize``) with ``NormalIndPower``.
Verdict rules (:func:`verdicts`, per experiment, first rule that applies)
    1. **stop** - sample-ratio mismatch: the assignment is broken, no result can be trusted.
    2. **keep running** - no customer has completed the outcome window yet.
    3. **ship** - a variant has a significant positive lift on the primary metric (Holm-
       adjusted p < alpha and the interval of the absolute lift above zero) and no significant
       drop in revenue per customer; the best such variant is named.
    4. **stop** - a variant lifts the primary metric but significantly lowers revenue, or every
       variant is significantly worse than control, or every variant's interval of the
       relative lift lies below the target lift and the test has reached the sample size
       needed for that target (futility).
    5. **keep running** - otherwise (no significant difference yet), with the sample size
       still needed.
Sentences in words (the business report, ``06_experiments.html``)
    :func:`overview_sentence`, :func:`split_sentence`, :func:`comparison_sentence`,
    :func:`revenue_sentence`, :func:`power_sentence`, :func:`segment_sentence` and
    ``verdicts(..., plain=True)``: pure functions, values in, Markdown out. Each finding in
    plain words first ("too large to be chance", "too small to detect a change below 10.2
    points"), the p-value only in brackets after them; no test names (those stay in the
    analysts' version). Experiment and variant names are shown as words
    (:func:`lclib.analysis.wording.display_name`: ``winback_2025`` -> ``Winback 2025``) and put in
    as they are otherwise: the notebook shows the text with ``say()``, which escapes it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)
from statsmodels.stats.weightstats import DescrStatsW

from lclib.engine.orders import orders_table
from lclib.engine.contracts import resolve_as_of
from lclib.analysis.intervals import wilson_interval
from lclib.io.columns import AMOUNT, ASSIGNED_AT, CUSTOMER_ID, EXPERIMENT, ORDER_ID, TIMESTAMP, VARIANT
from lclib.analysis.wording import display_name, money, p_text
from lclib.analysis.rfm import SEGMENT, assign_segments, rfm_scores
from lclib.engine.rfm_table import rfm_table
from lclib.io.columns import require_columns

#: Variant names taken as the control, in order of preference (compared case-insensitively).
CONTROL_NAMES = ("control", "ctrl", "a", "baseline")
#: Metric name -> (kind, label). ``kind`` is "proportion" (0/1 per customer) or "mean".
METRICS: dict[str, tuple[str, str]] = {
    "converted": ("proportion", "Bought within the window"),
    "repeat_purchase": ("proportion", "Repeat purchase (2nd+ order) within the window"),
    "revenue": ("mean", "Revenue per customer in the window"),
}
#: The metric the verdict is decided on.
PRIMARY = "converted"
#: Sample-ratio mismatch is flagged below this chi-square p-value (the usual 0.001; to move to
#: lclib.yaml ``experiments.srm_alpha``).
SRM_ALPHA = 0.001
#: Groups with fewer customers than this in either arm are flagged ``small`` (to move to
#: lclib.yaml ``experiments.min_group_size``).
MIN_GROUP_SIZE = 30
#: Bootstrap resamples for the relative lift of means, and its seed. Large groups get fewer
#: resamples (at least :data:`BOOTSTRAP_MIN_RESAMPLES`) so that resamples x customers stays
#: under :data:`BOOTSTRAP_BUDGET` draws (a few seconds).
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_MIN_RESAMPLES = 500
BOOTSTRAP_BUDGET = 100_000_000
BOOTSTRAP_SEED = 0
#: Segment label of customers without any order before the experiment started.
NO_HISTORY = "No purchase before assignment"

#: Columns of :func:`experiment_outcomes`.
OUTCOME_COLUMNS = (EXPERIMENT, CUSTOMER_ID, VARIANT, ASSIGNED_AT, "window_end", "complete",
                   "orders", "converted", "repeat_purchase", "revenue")


# ----------------------------------------------------------------------------- helpers




def choose_control(variants: Sequence[str]) -> str:
    """The control among ``variants`` (see the module docstring for the rule).

    Parameters
    ----------
    variants : the variant names of one experiment (at least one).

    Returns
    -------
    str
        The first of :data:`CONTROL_NAMES` present (case-insensitive), else the first name
        in alphabetical order.
    """
    names = sorted({str(v) for v in variants})
    if not names:
        raise ValueError("an experiment needs at least one variant")
    lower = {n.lower(): n for n in names}
    for cand in CONTROL_NAMES:
        if cand in lower:
            return lower[cand]
    return names[0]


def _variants(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Experiment -> its variants, control first, then alphabetical."""
    out = {}
    for exp, names in frame.groupby(EXPERIMENT, observed=True)[VARIANT].unique().items():
        names = sorted({str(v) for v in names})
        ctrl = choose_control(names)
        out[exp] = [ctrl] + [v for v in names if v != ctrl]
    return out


def _controls(frame: pd.DataFrame) -> dict[str, str]:
    """Experiment -> control variant."""
    return {exp: names[0] for exp, names in _variants(frame).items()}


# ----------------------------------------------------------------------------- outcomes


def experiment_outcomes(experiments: pd.DataFrame, transactions: pd.DataFrame,
                        window_days: float, as_of=None) -> pd.DataFrame:
    """One row per assigned customer with the outcomes observed after assignment.

    Parameters
    ----------
    experiments : DataFrame
        ``customer_id``, ``experiment``, ``variant``, ``assigned_at`` (datetime64). A customer
        assigned twice to the same experiment keeps the earliest assignment.
    transactions : DataFrame
        Order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).
    window_days : float
        Length of the outcome window (``experiments.outcome_window_days``).
    as_of : date-like, optional
        Exclusive end of the data (default: midnight after the last transaction).

    Returns
    -------
    DataFrame
        Columns :data:`OUTCOME_COLUMNS` plus ``switched``: ``window_end = assigned_at + window_days``;
        ``complete`` (bool, ``window_end <= as_of``); ``orders`` (int, orders with
        ``assigned_at <= timestamp < min(window_end, as_of)``); ``converted`` (bool,
        orders >= 1); ``repeat_purchase`` (bool, one of those orders is the customer's 2nd
        or later order overall); ``revenue`` (float, their total amount); ``switched`` (bool:
        the customer was also assigned to another variant of the experiment - a data problem;
        they are analysed in their first variant, as first assigned).
        Assignments at or after ``as_of`` have not happened by the analysis date and are left
        out; ``attrs["assigned_after_as_of"]`` counts them.
    """
    require_columns(experiments, (CUSTOMER_ID, EXPERIMENT, VARIANT, ASSIGNED_AT), "experiments")
    if not window_days > 0:
        raise ValueError(f"window_days must be positive, got {window_days!r}")
    as_of = resolve_as_of(transactions, as_of)
    a = experiments[[EXPERIMENT, CUSTOMER_ID, VARIANT, ASSIGNED_AT]].dropna()
    later = a[ASSIGNED_AT] >= as_of  # not assigned yet at the analysis date: not part of this analysis
    n_later = int(later.sum())
    a = a.loc[~later]
    n_var = a.groupby([EXPERIMENT, CUSTOMER_ID], observed=True)[VARIANT].nunique().rename("switched") > 1
    a = (a.sort_values([EXPERIMENT, CUSTOMER_ID, ASSIGNED_AT], kind="stable")
          .drop_duplicates([EXPERIMENT, CUSTOMER_ID], keep="first").reset_index(drop=True))
    a = a.merge(n_var.reset_index(), on=[EXPERIMENT, CUSTOMER_ID], how="left")
    a[VARIANT] = a[VARIANT].astype(str)
    a["window_end"] = a[ASSIGNED_AT] + pd.Timedelta(days=float(window_days))
    a["complete"] = a["window_end"] <= as_of

    # only assigned customers' orders matter; their order numbers ``n`` count their whole history
    assigned = pd.Index(a[CUSTOMER_ID].unique())
    lines = transactions.loc[assigned.get_indexer(transactions[CUSTOMER_ID]) >= 0]  # (hash join, fast on str)
    orders = orders_table(lines, as_of)[[CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT, "n"]]
    j = a[[EXPERIMENT, CUSTOMER_ID, ASSIGNED_AT, "window_end"]].merge(orders, on=CUSTOMER_ID)
    j = j.loc[(j[TIMESTAMP] >= j[ASSIGNED_AT]) & (j[TIMESTAMP] < j["window_end"])]
    agg = j.assign(repeat=j["n"] >= 2).groupby([EXPERIMENT, CUSTOMER_ID], observed=True).agg(
        orders=(ORDER_ID, "size"), revenue=(AMOUNT, "sum"), repeat_purchase=("repeat", "any"))
    out = a.merge(agg.reset_index(), on=[EXPERIMENT, CUSTOMER_ID], how="left")
    out["orders"] = out["orders"].fillna(0).astype("int64")
    out["revenue"] = out["revenue"].fillna(0.0).astype("float64")
    out["repeat_purchase"] = out["repeat_purchase"].fillna(False).astype(bool)
    out["converted"] = out["orders"] > 0
    out = out[[*OUTCOME_COLUMNS, "switched"]]
    out.attrs["assigned_after_as_of"] = n_later
    return out


def describe_experiments(outcomes: pd.DataFrame) -> pd.DataFrame:
    """What each experiment is: variants, control, dates, complete and incomplete windows.

    Parameters
    ----------
    outcomes : output of :func:`experiment_outcomes`.

    Returns
    -------
    DataFrame
        Indexed by ``experiment``: ``control`` (str), ``variants`` (comma-separated, control
        first), ``n_variants``, ``assigned`` (customers), ``complete`` (windows ended),
        ``incomplete`` (still in their window, left out of the tests), ``switched`` (customers
        assigned to more than one variant; 0 when the column is absent), ``first_assigned``,
        ``last_assigned``, ``last_window_end`` and ``status`` ("complete", "partly complete"
        or "running").
    """
    require_columns(outcomes, OUTCOME_COLUMNS, "outcomes")
    variants = _variants(outcomes)
    g = outcomes.groupby(EXPERIMENT, observed=True)
    out = g.agg(assigned=(CUSTOMER_ID, "size"), complete=("complete", "sum"),
                first_assigned=(ASSIGNED_AT, "min"), last_assigned=(ASSIGNED_AT, "max"),
                last_window_end=("window_end", "max"), n_variants=(VARIANT, "nunique"))
    out["complete"] = out["complete"].astype("int64")
    out["incomplete"] = out["assigned"] - out["complete"]
    out["switched"] = (g["switched"].sum().astype("int64") if "switched" in outcomes
                       else pd.Series(0, index=out.index, dtype="int64"))
    out["control"] = [variants[e][0] for e in out.index]
    out["variants"] = [", ".join(variants[e]) for e in out.index]
    out["status"] = np.select([out["incomplete"] == 0, out["complete"] > 0], ["complete", "partly complete"],
                              default="running")
    return out[["control", "variants", "n_variants", "assigned", "complete", "incomplete", "switched",
                "first_assigned", "last_assigned", "last_window_end", "status"]]


# ----------------------------------------------------------------------------- sample ratio


def srm_check(experiments: pd.DataFrame, expected_shares: Mapping[str, Mapping[str, float]] | None = None,
              threshold: float = SRM_ALPHA) -> pd.DataFrame:
    """Sample-ratio mismatch: are the assignment counts the intended split?

    Parameters
    ----------
    experiments : DataFrame with ``experiment``, ``variant`` and ``customer_id`` (one row per
        assignment; the experiments table or :func:`experiment_outcomes`).
    expected_shares : {experiment: {variant: share}}, optional
        Intended split (normalized); experiments not named are expected to split equally.
    threshold : flag a mismatch when the chi-square p-value is below this.

    Returns
    -------
    DataFrame
        One row per experiment and variant: ``experiment``, ``variant``, ``n``,
        ``share``, ``expected_share``, ``expected_n``, and per experiment ``chi2``,
        ``p_value`` (``scipy.stats.chisquare``) and ``mismatch`` (bool).
    """
    require_columns(experiments, (EXPERIMENT, VARIANT, CUSTOMER_ID), "experiments")
    expected_shares = expected_shares or {}
    counts = (experiments.drop_duplicates([EXPERIMENT, CUSTOMER_ID])
              .groupby([EXPERIMENT, VARIANT], observed=True).size().rename("n").reset_index())
    counts[VARIANT] = counts[VARIANT].astype(str)
    parts = []
    for exp, grp in counts.groupby(EXPERIMENT, sort=True, observed=True):
        grp = grp.copy()
        want = expected_shares.get(exp)
        if want is None:
            share = np.full(len(grp), 1.0 / len(grp))
        else:
            missing = set(grp[VARIANT]) - set(want)
            if missing:
                raise ValueError(f"expected_shares[{exp!r}] lacks variant(s) {sorted(missing)}")
            share = grp[VARIANT].map(want).to_numpy(dtype=float)
            share = share / share.sum()
        total = grp["n"].sum()
        grp["share"] = grp["n"] / total
        grp["expected_share"] = share
        grp["expected_n"] = share * total
        if len(grp) > 1:
            res = stats.chisquare(grp["n"].to_numpy(dtype=float), grp["expected_n"].to_numpy())
            chi2, p = float(res.statistic), float(res.pvalue)
        else:
            chi2, p = 0.0, 1.0
        grp["chi2"], grp["p_value"], grp["mismatch"] = chi2, p, p < threshold
        parts.append(grp)
    cols = [EXPERIMENT, VARIANT, "n", "share", "expected_share", "expected_n", "chi2", "p_value", "mismatch"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


# ----------------------------------------------------------------------------- per variant


def _check_metrics(metrics: Sequence[str] | None, outcomes: pd.DataFrame) -> list[str]:
    metrics = list(METRICS) if metrics is None else list(metrics)
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric(s) {unknown}; known: {list(METRICS)}")
    require_columns(outcomes, (EXPERIMENT, VARIANT, "complete", *metrics), "outcomes")
    return metrics


def variant_summary(outcomes: pd.DataFrame, metrics: Sequence[str] | None = None,
                    alpha: float = 0.05, complete_only: bool = True) -> pd.DataFrame:
    """Size and outcome of every variant, with a (1 - alpha) interval.

    Parameters
    ----------
    outcomes : output of :func:`experiment_outcomes`.
    metrics : names from :data:`METRICS` (default all).
    alpha : 1 - confidence level.
    complete_only : use only customers whose window has ended (default).

    Returns
    -------
    DataFrame
        One row per experiment, metric and variant (control first): ``experiment``,
        ``metric``, ``variant``, ``is_control``, ``n``, ``value`` (rate or mean), ``low``,
        ``high`` (Wilson interval for rates, t interval for means).
    """
    metrics = _check_metrics(metrics, outcomes)
    data = outcomes.loc[outcomes["complete"]] if complete_only else outcomes
    controls = _controls(outcomes)
    rows = []
    for (exp, var), g in data.groupby([EXPERIMENT, VARIANT], sort=True, observed=True):
        for m in metrics:
            x = g[m].to_numpy(dtype=float)
            if METRICS[m][0] == "proportion":
                lo, hi = wilson_interval(x.sum(), len(x), z=stats.norm.ppf(1 - alpha / 2))
                lo, hi = float(lo), float(hi)
            elif len(x) > 1 and x.std() > 0:
                lo, hi = DescrStatsW(x).tconfint_mean(alpha)
            else:
                lo = hi = float(x.mean()) if len(x) else np.nan
            rows.append({EXPERIMENT: exp, "metric": m, VARIANT: var, "is_control": var == controls[exp],
                         "n": len(x), "value": float(x.mean()) if len(x) else np.nan, "low": lo, "high": hi})
    out = pd.DataFrame(rows, columns=[EXPERIMENT, "metric", VARIANT, "is_control", "n", "value", "low", "high"])
    if out.empty:
        return out
    out["_m"] = out["metric"].map({m: i for i, m in enumerate(metrics)})
    return (out.sort_values([EXPERIMENT, "_m", "is_control", VARIANT], ascending=[True, True, False, True])
               .drop(columns="_m").reset_index(drop=True))


def _compare_proportions(xt: np.ndarray, xc: np.ndarray, alpha: float) -> dict:
    kt, nt, kc, nc = float(xt.sum()), len(xt), float(xc.sum()), len(xc)
    out = {"test": "two-proportion z-test", "p_value": np.nan, "abs_low": np.nan, "abs_high": np.nan,
           "rel_low": np.nan, "rel_high": np.nan}
    if nt == 0 or nc == 0:
        return out
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if 0 < kt + kc < nt + nc:
            out["p_value"] = float(proportions_ztest([kt, kc], [nt, nc])[1])
        else:  # nobody or everybody converted in both arms: no evidence of a difference
            out["p_value"] = 1.0
        lo, hi = confint_proportions_2indep(kt, nt, kc, nc, method="newcomb", compare="diff", alpha=alpha)
        out["abs_low"], out["abs_high"] = float(lo), float(hi)
        if kc > 0 and kt > 0:
            lo, hi = confint_proportions_2indep(kt, nt, kc, nc, method="log-adjusted", compare="ratio",
                                                alpha=alpha)
            out["rel_low"], out["rel_high"] = float(lo) - 1, float(hi) - 1
    return out


def _ratio_of_means(a, b, axis=-1):
    return np.mean(a, axis=axis) / np.mean(b, axis=axis) - 1


def _compare_means(xt: np.ndarray, xc: np.ndarray, alpha: float, seed: int) -> dict:
    out = {"test": "Welch's t-test", "p_value": np.nan, "abs_low": np.nan, "abs_high": np.nan,
           "rel_low": np.nan, "rel_high": np.nan}
    if len(xt) < 2 or len(xc) < 2:
        return out
    if xt.std() == 0 and xc.std() == 0:
        out["p_value"] = 1.0 if xt[0] == xc[0] else 0.0
        d = xt.mean() - xc.mean()
        out["abs_low"] = out["abs_high"] = d
        return out
    res = stats.ttest_ind(xt, xc, equal_var=False)
    ci = res.confidence_interval(1 - alpha)
    out["p_value"], out["abs_low"], out["abs_high"] = float(res.pvalue), float(ci.low), float(ci.high)
    if xc.mean() > 0:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            resamples = int(np.clip(BOOTSTRAP_BUDGET // (len(xt) + len(xc)), BOOTSTRAP_MIN_RESAMPLES,
                                    BOOTSTRAP_RESAMPLES))
            boot = stats.bootstrap((xt, xc), _ratio_of_means, n_resamples=resamples,
                                   confidence_level=1 - alpha, method="percentile", vectorized=True,
                                   batch=max(1, 5_000_000 // (len(xt) + len(xc))),  # bounded memory
                                   rng=np.random.default_rng(seed))
        out["rel_low"], out["rel_high"] = float(boot.confidence_interval.low), float(boot.confidence_interval.high)
        out["test"] = "Welch's t-test (relative: bootstrap)"
    return out


def compare_variants(outcomes: pd.DataFrame, metrics: Sequence[str] | None = None, alpha: float = 0.05,
                     by: Sequence[str] | None = None, complete_only: bool = True,
                     min_group_size: int = MIN_GROUP_SIZE, seed: int = BOOTSTRAP_SEED) -> pd.DataFrame:
    """Lift of every variant against its experiment's control, with intervals and p-values.

    Parameters
    ----------
    outcomes : output of :func:`experiment_outcomes` (plus any ``by`` columns).
    metrics : names from :data:`METRICS` (default all).
    alpha : significance level; intervals are (1 - alpha).
    by : extra columns to break the comparison down by (e.g. ``["segment"]``); each group is
        tested on its own.
    complete_only : use only customers whose window has ended (default).
    min_group_size : comparisons with fewer customers in either arm are flagged ``small``.
    seed : seed of the bootstrap of the relative lift of means.

    Returns
    -------
    DataFrame
        One row per experiment (x ``by``), metric and non-control variant: ``experiment``,
        *by columns*, ``metric``, ``variant``, ``control``, ``n``, ``control_n``, ``value``,
        ``control_value``, ``abs_lift`` (value - control_value), ``abs_low``, ``abs_high``,
        ``rel_lift`` (value / control_value - 1), ``rel_low``, ``rel_high``, ``p_value``,
        ``p_adjusted`` (Holm over the variants of one experiment, group and metric),
        ``significant`` (p_adjusted < alpha), ``test``, ``small`` (bool).
    """
    metrics = _check_metrics(metrics, outcomes)
    by = list(by or [])
    require_columns(outcomes, by, "outcomes")
    variants = _variants(outcomes)
    data = outcomes.loc[outcomes["complete"]] if complete_only else outcomes
    keys = [EXPERIMENT, *by]
    rows = []
    for key, g in data.groupby(keys, sort=True, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        exp = key[0]
        ctrl, others = variants[exp][0], variants[exp][1:]
        arms = {v: a for v, a in g.groupby(VARIANT, sort=True, observed=True)}
        for m in metrics:
            kind = METRICS[m][0]
            xc = arms[ctrl][m].to_numpy(dtype=float) if ctrl in arms else np.array([])
            block = []
            for v in others:
                xt = arms[v][m].to_numpy(dtype=float) if v in arms else np.array([])
                res = (_compare_proportions(xt, xc, alpha) if kind == "proportion"
                       else _compare_means(xt, xc, alpha, seed))
                vt = float(xt.mean()) if len(xt) else np.nan
                vc = float(xc.mean()) if len(xc) else np.nan
                block.append({**dict(zip(keys, key)), "metric": m, VARIANT: v, "control": ctrl,
                              "n": len(xt), "control_n": len(xc), "value": vt, "control_value": vc,
                              "abs_lift": vt - vc, "rel_lift": vt / vc - 1 if vc > 0 else np.nan, **res,
                              "small": min(len(xt), len(xc)) < min_group_size})
            p = np.array([b["p_value"] for b in block], dtype=float)
            ok = ~np.isnan(p)
            adj = np.full(len(p), np.nan)
            if ok.sum() > 1:
                adj[ok] = multipletests(p[ok], alpha=alpha, method="holm")[1]
            else:  # Holm over a single comparison is that comparison's p-value
                adj[ok] = p[ok]
            for b, pa in zip(block, adj):
                b["p_adjusted"] = float(pa)
                b["significant"] = bool(pa < alpha)
            rows.extend(block)
    cols = [*keys, "metric", VARIANT, "control", "n", "control_n", "value", "control_value", "abs_lift",
            "abs_low", "abs_high", "rel_lift", "rel_low", "rel_high", "p_value", "p_adjusted", "significant",
            "test", "small"]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------- power


def _rate_for_effect(h: float, p_control: float) -> float:
    """The rate above ``p_control`` whose Cohen's h against it is ``h`` (NaN if none)."""
    f = lambda p: float(proportion_effectsize(p, p_control)) - h  # noqa: E731
    if not 0 <= p_control < 1 or f(1.0) < 0:
        return np.nan
    return float(optimize.brentq(f, p_control, 1.0))


def _needed_per_group(p_control: float, relative_lift: float, alpha: float, power: float) -> float:
    """Customers per arm (1:1) to detect ``p_control -> p_control x (1 + lift)`` (NaN if impossible)."""
    target = p_control * (1 + relative_lift)
    if not (0 < p_control < 1 and 0 < target < 1) or relative_lift == 0:
        return np.nan
    h = float(proportion_effectsize(target, p_control))
    return float(np.ceil(NormalIndPower().solve_power(effect_size=h, nobs1=None, alpha=alpha, power=power,
                                                      ratio=1.0)))


def sample_size_curve(control_rate: float, relative_lifts: Sequence[float] = tuple(np.arange(0.05, 0.51, 0.05)),
                      alpha: float = 0.05, power: float = 0.8) -> pd.DataFrame:
    """Customers needed per arm against the relative lift one wants to detect.

    Parameters
    ----------
    control_rate : the control's rate (0-1, exclusive).
    relative_lifts : lifts relative to the control rate (e.g. 0.10 = +10 %).
    alpha, power : two-sided significance level and power.

    Returns
    -------
    DataFrame
        ``relative_lift``, ``target_rate``, ``needed_per_group`` (NaN where the target rate
        would reach 100 %); same method as :func:`power_analysis`.
    """
    if not 0 < control_rate < 1:
        raise ValueError(f"control_rate must be strictly between 0 and 1, got {control_rate!r}")
    lifts = np.asarray(relative_lifts, dtype=float)
    return pd.DataFrame({"relative_lift": lifts, "target_rate": control_rate * (1 + lifts),
                         "needed_per_group": [_needed_per_group(control_rate, lift, alpha, power)
                                              for lift in lifts]})


def power_analysis(outcomes: pd.DataFrame, alpha: float = 0.05, power: float = 0.8,
                   target_relative_lift: float = 0.10, metric: str = PRIMARY) -> pd.DataFrame:
    """Minimum detectable effect now, and the sample size a target lift needs.

    Parameters
    ----------
    outcomes : output of :func:`experiment_outcomes` (complete windows are used).
    alpha, power : two-sided significance level and power (``experiments.alpha``, ``.power``).
    target_relative_lift : the lift worth detecting, relative to the control rate
        (``experiments.target_relative_lift``).
    metric : a proportion metric of :data:`METRICS`.

    Returns
    -------
    DataFrame
        One row per experiment and non-control variant: ``experiment``, ``variant``,
        ``control_rate``, ``n``, ``control_n``, ``mde_abs`` / ``mde_rel`` (smallest upward
        change detectable with this power at the current sizes, in rate points / relative to
        control), ``target_rate`` (control_rate x (1 + target)), ``needed_per_group``
        (customers per arm for the target at 1:1), ``reached`` (both arms at least that big),
        ``still_needed`` (customers still to add over both arms, 0 when reached).

    Notes
    -----
    Effect sizes are Cohen's h (``proportion_effectsize``) solved with
    ``statsmodels.stats.power.NormalIndPower`` (two-sided), as in the usual A/B calculators.
    """
    if METRICS.get(metric, ("",))[0] != "proportion":
        raise ValueError(f"metric must be a proportion metric of {list(METRICS)}, got {metric!r}")
    require_columns(outcomes, (EXPERIMENT, VARIANT, "complete", metric), "outcomes")
    variants_of = _variants(outcomes)
    data = outcomes.loc[outcomes["complete"]]
    stats_ = data.groupby([EXPERIMENT, VARIANT], observed=True)[metric].agg(["size", "mean"])
    solver = NormalIndPower()
    rows = []
    for exp, (ctrl, *variants) in variants_of.items():
        nc, pc = (stats_.loc[(exp, ctrl)] if (exp, ctrl) in stats_.index else (0, np.nan))
        for v in variants:
            nt = int(stats_.loc[(exp, v), "size"]) if (exp, v) in stats_.index else 0
            mde = np.nan
            if nc > 0 and nt > 0 and 0 <= pc < 1:
                h = solver.solve_power(effect_size=None, nobs1=nc, alpha=alpha, power=power, ratio=nt / nc)
                mde = _rate_for_effect(float(h), float(pc))
            target = pc * (1 + target_relative_lift) if pc == pc else np.nan
            needed = _needed_per_group(float(pc), target_relative_lift, alpha, power)
            reached = bool(needed == needed and nc >= needed and nt >= needed)
            still = (max(needed - nc, 0) + max(needed - nt, 0)) if needed == needed else np.nan
            rows.append({EXPERIMENT: exp, VARIANT: v, "control_rate": float(pc), "n": nt, "control_n": int(nc),
                         "mde_abs": mde - pc, "mde_rel": (mde - pc) / pc if pc > 0 else np.nan,
                         "target_rate": target, "needed_per_group": needed, "reached": reached,
                         "still_needed": still})
    cols = [EXPERIMENT, VARIANT, "control_rate", "n", "control_n", "mde_abs", "mde_rel", "target_rate",
            "needed_per_group", "reached", "still_needed"]
    return pd.DataFrame(rows, columns=cols)


# ----------------------------------------------------------------------------- segments


def segments_at_assignment(experiments: pd.DataFrame, transactions: pd.DataFrame, bins: int = 5,
                           method: str = "quantile", thresholds=None, rules=None, states_at=None,
                           engine: str | None = None) -> pd.DataFrame:
    """RFM segment of every assigned customer on the day their experiment started.

    Parameters
    ----------
    experiments : DataFrame with ``experiment``, ``customer_id`` and ``assigned_at``.
    transactions : order lines.
    bins, method, thresholds, rules : as in :func:`lclib.analysis.rfm.rfm_scores` and
        :func:`lclib.analysis.rfm.assign_segments` (``cfg.rfm``).
    states_at : callable, optional
        Date -> each buyer's lifecycle state (:func:`lclib.analysis.customer_view.states_for_rfm`):
        recency then follows the state as in the RFM report (``rfm.recency_from_states``).
    engine : of the RFM values (:func:`lclib.engine.rfm_table.rfm_table`; None = the default engine).

    Returns
    -------
    DataFrame
        ``experiment``, ``customer_id``, ``segment`` (categorical: the rule names plus
        :data:`NO_HISTORY`). Scores use every customer's orders before the experiment's
        first assignment (``lclib.engine.rfm_table.rfm_table(as_of=first assigned_at)``), scored against
        the whole customer base at that time, so all of an experiment's customers are
        segmented on the same snapshot.
    """
    require_columns(experiments, (EXPERIMENT, CUSTOMER_ID, ASSIGNED_AT), "experiments")
    a = experiments[[EXPERIMENT, CUSTOMER_ID, ASSIGNED_AT]].dropna().drop_duplicates([EXPERIMENT, CUSTOMER_ID])
    parts = []
    for exp, g in a.groupby(EXPERIMENT, sort=True, observed=True):  # one snapshot per experiment
        start = g[ASSIGNED_AT].min()
        rfm = rfm_table(transactions, as_of=start, engine=engine)
        seg = pd.Series(dtype=object, name=SEGMENT)
        if len(rfm):
            states = {"states": states_at(start)} if states_at is not None else {}
            seg = assign_segments(rfm_scores(rfm, bins=bins, method=method, thresholds=thresholds, **states),
                                  rules=rules, bins=bins)[SEGMENT]
        cats = list(seg.cat.categories) if isinstance(seg.dtype, pd.CategoricalDtype) else []
        s = g[CUSTOMER_ID].map(seg.astype(object)).fillna(NO_HISTORY)
        parts.append(pd.DataFrame({EXPERIMENT: exp, CUSTOMER_ID: g[CUSTOMER_ID].to_numpy(),
                                   SEGMENT: pd.Categorical(s, categories=[*cats, NO_HISTORY])}))
    if not parts:
        return pd.DataFrame(columns=[EXPERIMENT, CUSTOMER_ID, SEGMENT])
    cats = list(dict.fromkeys(c for p in parts for c in p[SEGMENT].cat.categories))
    out = pd.concat([p.assign(**{SEGMENT: p[SEGMENT].astype(object)}) for p in parts], ignore_index=True)
    out[SEGMENT] = pd.Categorical(out[SEGMENT], categories=cats)
    return out


# ----------------------------------------------------------------------------- sentences in words

#: What a metric measures, as a business sentence says it.
PLAIN_METRICS = {
    "converted": "the share of customers who bought within the window",
    "repeat_purchase": "the share of customers with a repeat purchase (a second or later order) within the window",
    "revenue": "revenue per customer in the window",
}


def _words(value: Any, names: Mapping[str, str] | None = None) -> str:
    """A name from the data (experiment, variant) as words: ``winback_2025`` -> ``Winback 2025``."""
    return str(display_name(value, names))


def _missing(x: Any) -> bool:
    """None, NaN or infinite (a value that was not computed)."""
    try:
        return not np.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def _share(x: float, digits: int = 1) -> str:
    """A rate (0-1) as ``20.8 %``."""
    return f"{100 * x:.{digits}f} %"


def _points(x: float, digits: int = 1) -> str:
    """A difference of two rates (0-1) in signed percentage points: ``+11.2``."""
    return f"{100 * x:+.{digits}f}"


def _level(x: float) -> str:
    """A confidence level, a power or a relative change (0-1) as ``95 %``."""
    return f"{100 * x:.0f} %"


def _count(n: int, word: str) -> str:
    return f"{n:,} {word if n == 1 else word + 's'}"


def _not_complete(row: Mapping[str, Any], names: Mapping[str, str] | None) -> str:
    """The group(s) of a comparison without a customer whose window has ended."""
    groups = [_words(row[c], names) for c, n in (("control", "control_n"), (VARIANT, "n"))
              if c in row and not row[n]]
    return " or ".join(groups) or "either group"


def in_words(frame: pd.DataFrame, names: Mapping[str, str] | None = None,
             columns: Sequence[str] = (EXPERIMENT, VARIANT, "control")) -> pd.DataFrame:
    """A copy of ``frame`` with experiment and variant names as words, for figures.

    Parameters
    ----------
    frame : any frame of this module (comparisons, summary...); it is not changed.
    names : ``display_names`` of the configuration (its words win).
    columns : the columns holding names from the data (those present are converted).

    Returns
    -------
    DataFrame
        The same rows and numbers; each name as :func:`lclib.analysis.wording.display_name`
        shows it (``winback_2025`` -> ``Winback 2025``). Exports keep the raw frame.

    Examples
    --------
    >>> in_words(pd.DataFrame({"experiment": ["winback_2025"], "variant": ["treatment"]}))
         experiment    variant
    0  Winback 2025  Treatment
    """
    out = frame.copy()
    for c in columns:
        if c in out.columns:
            out[c] = out[c].astype(object).map(lambda v: display_name(v, names))
    return out


def chance_words(p: float, significant: bool, compared: int = 1) -> str:
    """Whether a difference is beyond chance, in words first, the p-value in brackets.

    Parameters
    ----------
    p : the p-value (raised for the number of variants when ``compared`` > 1).
    significant : the difference is significant at the level of the comparisons.
    compared : variants compared with the same control group; with more than one the
        p-value was raised to allow for that (Holm's correction), and the brackets say so.

    Returns
    -------
    str
        A clause without a full stop ("too large to be chance" or "could be chance").

    Examples
    --------
    >>> chance_words(0.0023, True)
    'too large to be chance (p = 0.0023)'
    >>> chance_words(0.34, False)
    'could be chance (p = 0.34)'
    >>> chance_words(0.012, True, compared=3)
    'too large to be chance (p = 0.012, allowing for 3 variants tested at once)'
    """
    verdict = "too large to be chance" if significant else "could be chance"
    if _missing(p):
        return verdict
    return f"{verdict} ({p_text(p)}" + (f", allowing for {compared} variants tested at once)" if compared > 1 else ")")


def split_sentence(srm: pd.DataFrame, names: Mapping[str, str] | None = None) -> str:
    """Was the split between the groups the planned one? In words, the p-value in brackets.

    Parameters
    ----------
    srm : :func:`srm_check` (one row per experiment and variant).
    names : ``display_names`` of the configuration.

    Returns
    -------
    str
        One sentence ("" without an experiment). The experiments whose split is not as
        planned (a sample-ratio mismatch) are named with their group sizes and the plan.

    Examples
    --------
    >>> srm = pd.DataFrame({"experiment": "winback_2025", "variant": ["control", "treatment"],
    ...                     "n": [289, 288], "expected_share": 0.5, "p_value": 0.967, "mismatch": False})
    >>> split_sentence(srm)
    'The split between groups is as planned (a check that the group sizes match the plan: p = 0.97).'
    """
    if srm.empty:
        return ""
    per = srm.groupby(EXPERIMENT, sort=False, observed=True).agg(p=("p_value", "first"), bad=("mismatch", "first"))
    bad = [e for e in per.index if bool(per.loc[e, "bad"])]
    if not bad:
        p = p_text(per["p"].min())
        return ("The split between groups is as planned (a check that the group sizes match the plan: "
                f"{p})." if len(per) == 1 else
                f"The split between groups is as planned in every experiment (a check that the group sizes match "
                f"the plan: {p} or more in each).")
    parts = []
    for exp in bad:
        g = srm.loc[srm[EXPERIMENT] == exp]
        shares = g["expected_share"].to_numpy(dtype=float)
        plan = ("an equal split" if np.allclose(shares, shares[0]) else
                "a split of " + " / ".join(_level(s) for s in shares))
        counts = ", ".join(f"{_words(v, names)} {n:,}" for v, n in zip(g[VARIANT], g["n"]))
        parts.append(f"**{_words(exp, names)}** ({counts} customers where the plan was {plan}; a check that the "
                     f"group sizes match: {p_text(per.loc[exp, 'p'])})")
    return ("The split between groups is **not as planned** in " + "; ".join(parts) + ": the assignment is broken, "
            f"so {'its' if len(bad) == 1 else 'their'} results cannot be trusted.")


def overview_sentence(overview: pd.DataFrame, srm: pd.DataFrame, window: str, data_to: str,
                      assigned_after: int = 0, names: Mapping[str, str] | None = None) -> str:
    """What was analysed: experiments, customers, the window, who is left out, and the split.

    Parameters
    ----------
    overview : :func:`describe_experiments`.
    srm : :func:`srm_check`.
    window : the outcome window in words (``60 days``).
    data_to : the analysis date in words (:func:`lclib.analysis.wording.data_to`).
    assigned_after : assignments on or after the analysis date (left out; ``attrs`` of
        :func:`experiment_outcomes`).
    names : ``display_names`` of the configuration.

    Returns
    -------
    str
        A few sentences (Markdown emphasis), ending with :func:`split_sentence`.
    """
    inc, switched = int(overview["incomplete"].sum()), int(overview["switched"].sum())
    return (f"**{_count(len(overview), 'experiment')}** with **{int(overview['assigned'].sum()):,} customers** "
            f"assigned. Outcomes are counted over **{window}** after assignment ({data_to}). "
            + (f"{_count(assigned_after, 'assignment')} on or after the analysis date are left out: they had not "
               "happened by then. " if assigned_after else "")
            + (f"**{inc:,} customers** are still inside their window: they are counted here but left out of every "
               "comparison until their window ends. " if inc else "Every customer's window is complete. ")
            + (f"**{switched:,} customers** were assigned to more than one variant of the same experiment (a "
               "tracking or assignment problem); they are analysed in the variant they got first. " if switched else "")
            + split_sentence(srm, names))


def comparison_sentence(row: Mapping[str, Any], window: str, level: float = 0.95, compared: int = 1,
                        names: Mapping[str, str] | None = None) -> str:
    """One variant against its control on the buying rate, in words.

    Parameters
    ----------
    row : a row of :func:`compare_variants` for a proportion metric (``experiment``,
        ``variant``, ``control``, ``n``, ``control_n``, ``value``, ``control_value``,
        ``abs_lift``, ``abs_low``, ``abs_high``, ``rel_lift``, ``p_adjusted``, ``significant``).
    window : the outcome window in words (``60 days``).
    level : confidence level of the intervals (1 - alpha).
    compared : variants of the experiment compared with the same control (their p-values are
        raised to allow for it).
    names : ``display_names`` of the configuration.

    Returns
    -------
    str
        Two or three sentences: both shares, the difference in points with the range the
        true difference lies in, and whether it is beyond chance (the p-value in brackets).

    Examples
    --------
    >>> row = {"experiment": "winback_2025", "variant": "treatment", "control": "control", "n": 288,
    ...        "control_n": 289, "value": 0.319, "control_value": 0.208, "abs_lift": 0.112,
    ...        "abs_low": 0.040, "abs_high": 0.182, "rel_lift": 0.54, "p_adjusted": 0.0023,
    ...        "significant": True}
    >>> print(comparison_sentence(row, "60 days"))  # doctest: +NORMALIZE_WHITESPACE
    **Winback 2025**, Treatment against Control: **31.9 %** of 288 customers bought within 60 days,
    against **20.8 %** of 289 in the control group: **11.2 points more** (the true difference lies
    between +4.0 and +18.2 points with 95 % confidence; +54 % relative). The difference is too large
    to be chance (p = 0.0023): per 100 customers reached, about **11 more** bought.
    """
    head = f"**{_words(row[EXPERIMENT], names)}**, {_words(row[VARIANT], names)} against {_words(row['control'], names)}: "
    lift = row["abs_lift"]
    if not row["n"] or not row["control_n"] or _missing(lift):
        return head + (f"no comparison yet: no customer of {_not_complete(row, names)} has completed the "
                       f"window of {window}.")
    change = ("**the same share**" if round(100 * abs(lift), 1) == 0 else
              f"**{100 * abs(lift):.1f} points {'more' if lift > 0 else 'fewer'}**")
    brackets = []
    if not (_missing(row.get("abs_low")) or _missing(row.get("abs_high"))):
        brackets.append(f"the true difference lies between {_points(row['abs_low'])} and {_points(row['abs_high'])} "
                        f"points with {_level(level)} confidence")
    if not _missing(row.get("rel_lift")):
        brackets.append(f"{100 * row['rel_lift']:+.0f} % relative")
    text = (head + f"**{_share(row['value'])}** of {row['n']:,} customers bought within {window}, against "
            f"**{_share(row['control_value'])}** of {row['control_n']:,} in the control group: {change}"
            + (f" ({'; '.join(brackets)}). " if brackets else ". "))
    chance = chance_words(row["p_adjusted"], bool(row["significant"]), compared)
    if not row["significant"]:
        return text + f"The difference {chance}, so it proves no effect either way."
    if lift > 0:
        return text + f"The difference is {chance}: per 100 customers reached, about **{100 * lift:.0f} more** bought."
    return (text + f"The difference is {chance}: the variant did worse than the control group (about "
            f"**{100 * -lift:.0f} fewer** buyers per 100 customers reached).")


def revenue_sentence(row: Mapping[str, Any], currency: str, level: float = 0.95, compared: int = 1,
                     names: Mapping[str, str] | None = None) -> str:
    """One variant against its control on revenue per customer, in words.

    Parameters
    ----------
    row : a row of :func:`compare_variants` for the ``revenue`` metric.
    currency : the currency label (``analysis.currency``).
    level, compared, names : as in :func:`comparison_sentence`.

    Returns
    -------
    str
        Revenue per assigned customer in both groups, the difference with its range, and
        whether it is a gain, a loss or could be chance (the p-value in brackets).

    Examples
    --------
    >>> row = {"experiment": "winback_2025", "variant": "treatment", "control": "control", "n": 288,
    ...        "control_n": 289, "value": 14.33, "control_value": 11.43, "abs_lift": 2.90,
    ...        "abs_low": -3.00, "abs_high": 8.80, "p_adjusted": 0.34, "significant": False}
    >>> print(revenue_sentence(row, "EUR"))  # doctest: +NORMALIZE_WHITESPACE
    **Winback 2025**, Treatment: revenue per assigned customer over the window was **14.33 EUR**
    against **11.43 EUR** in the control group (+2.90 EUR; the true difference lies between -3.00 and
    +8.80 EUR with 95 % confidence). The difference could be chance (p = 0.34): revenue per customer
    varies a lot, so this test cannot tell a revenue change from chance; it shows no sign of harm either.
    """
    head = f"**{_words(row[EXPERIMENT], names)}**, {_words(row[VARIANT], names)}: "
    lift = row["abs_lift"]
    if not row["n"] or not row["control_n"] or _missing(lift):
        return head + (f"no comparison of revenue yet: no customer of {_not_complete(row, names)} has completed "
                       "the window.")
    cur = f" {currency}" if currency else ""
    span = ("" if _missing(row.get("abs_low")) or _missing(row.get("abs_high")) else
            f"; the true difference lies between {row['abs_low']:+,.2f} and {row['abs_high']:+,.2f}{cur} with "
            f"{_level(level)} confidence")
    text = (head + f"revenue per assigned customer over the window was **{money(row['value'], currency)}** against "
            f"**{money(row['control_value'], currency)}** in the control group ({lift:+,.2f}{cur}{span}). ")
    chance = chance_words(row["p_adjusted"], bool(row["significant"]), compared)
    if row["significant"]:
        return text + (f"A gain {chance}." if lift > 0 else f"A loss {chance}: check the offer's cost.")
    return (text + f"The difference {chance}: revenue per customer varies a lot, so this test cannot tell a revenue "
            "change from chance" + ("; it shows no sign of harm either." if lift >= 0 or _missing(row.get("abs_low"))
                                    else f"; a loss of up to {money(-row['abs_low'], currency)} per customer is not "
                                         "ruled out."))


def power_sentence(row: Mapping[str, Any], target_relative_lift: float, found: float | None = None,
                   power: float = 0.8, names: Mapping[str, str] | None = None) -> str:
    """Is the test big enough? The smallest change it can detect and the size a worthwhile change needs.

    Parameters
    ----------
    row : a row of :func:`power_analysis` (``experiment``, ``variant``, ``control_rate``, ``n``,
        ``control_n``, ``mde_abs``, ``mde_rel``, ``target_rate``, ``needed_per_group``, ``reached``).
    target_relative_lift : the rise worth having, relative to the control rate
        (``experiments.target_relative_lift``).
    found : the rise the comparison found beyond chance (rate difference, 0-1), None if none.
    power : the chance of catching a real effect the sizes are worked out for.
    names : ``display_names`` of the configuration.

    Returns
    -------
    str
        "too small to detect a change below X points" (or "can detect a change of X points or
        more" once the planned size is reached), then the customers a worthwhile rise needs.

    Examples
    --------
    >>> row = {"experiment": "winback_2025", "variant": "treatment", "control_rate": 0.208, "n": 288,
    ...        "control_n": 289, "mde_abs": 0.102, "mde_rel": 0.49, "target_rate": 0.2288,
    ...        "needed_per_group": 6206.0, "reached": False}
    >>> print(power_sentence(row, 0.10))  # doctest: +NORMALIZE_WHITESPACE
    **Winback 2025**, Treatment: with 289 customers in the control group and 288 in the variant, the test
    is too small to detect a change below **10.2 points** (20.8 % → 31.0 % of customers buying, a rise of
    49 %; the smallest rise it catches 80 % of the time). A change worth having, a rise of 10 % of the
    control group's share (20.8 % → 22.9 %), needs **6,206 customers per group**: more than the test
    has, so a small but worthwhile effect could go unseen; a 'no difference' here is not proof of no effect.
    """
    head = f"**{_words(row[EXPERIMENT], names)}**, {_words(row[VARIANT], names)}: "
    n, nc, pc, mde = row["n"], row["control_n"], row["control_rate"], row["mde_abs"]
    if not n or not nc or _missing(pc):
        group = " or ".join(g for g, k in (("the control group", nc), ("the variant", n)) if not k) or "either group"
        return head + f"no customer of {group} has completed the window yet, so the test's size cannot be judged."
    text = head + f"with {nc:,} customers in the control group and {n:,} in the variant, "
    if _missing(mde):
        text += ("every customer of the control group bought, so no rise can be measured. " if pc >= 1 else
                 "the test is too small to detect even a rise to 100 % of customers buying. ")
    else:
        rel = "" if _missing(row.get("mde_rel")) else f", a rise of {_level(row['mde_rel'])}"
        text += ((f"the test can detect a change of **{100 * mde:.1f} points** or more" if row["reached"] else
                  f"the test is too small to detect a change below **{100 * mde:.1f} points**")
                 + f" ({_share(pc)} → {_share(pc + mde)} of customers buying{rel}; the smallest rise it catches "
                   f"{_level(power)} of the time). ")
    target = f"a rise of {_level(target_relative_lift)} of the control group's share"
    needed = row["needed_per_group"]
    if _missing(needed):
        return text + (f"How many customers {target} needs cannot be worked out: "
                       + ("no customer of the control group bought." if pc <= 0 else
                          "it would take the share to 100 % or more."))
    text += (f"A change worth having, {target} ({_share(pc)} → {_share(row['target_rate'])}), needs "
             f"**{needed:,.0f} customers per group**: ")
    if row["reached"]:
        return text + "the test is that big, so such a change would show."
    text += "more than the test has, so a small but worthwhile effect could go unseen"
    if found is not None and not _missing(found) and found > 0:
        return text + (f". The rise it did find ({_points(found)} points) was large enough to show, but a test this "
                       "size only flags large effects, so the true rise is probably smaller than measured (plan "
                       "with the lower end of the range).")
    return text + "; a 'no difference' here is not proof of no effect."


def segment_sentence(by_segment: pd.DataFrame, level: float = 0.95, min_group_size: int = MIN_GROUP_SIZE,
                     names: Mapping[str, str] | None = None) -> str:
    """For whom did it work? The best segment with enough customers, in words.

    Parameters
    ----------
    by_segment : :func:`compare_variants` with ``by=["segment"]`` (one proportion metric).
    level : confidence level of the intervals (1 - alpha).
    min_group_size : the size below which a group is flagged ``small`` (for the wording).
    names : ``display_names`` of the configuration.

    Returns
    -------
    str
        The segment with the largest difference among those with enough customers, its range,
        the segments where the rise is beyond chance on its own, and how many are too small.
    """
    rows = by_segment.loc[by_segment["abs_lift"].notna()]
    small = int(rows["small"].sum())
    big = rows.loc[~rows["small"]]
    if big.empty:
        return (f"Every segment group is too small (under {min_group_size} customers in a group) to read a difference."
                if len(rows) else "No segment has customers in both groups yet.")
    b = big.sort_values("abs_lift", ascending=False).iloc[0]
    sig = [_words(s, names) for s in big.loc[big["significant"] & (big["abs_lift"] > 0), SEGMENT].astype(str)]
    return (f"Among segments with enough customers, {'the largest rise' if b['abs_lift'] > 0 else 'the best result'} "
            f"was in **{_words(b[SEGMENT], names)}** ({_words(b[EXPERIMENT], names)}, {_words(b[VARIANT], names)}): "
            f"{_share(b['control_value'], 0)} → {_share(b['value'], 0)} of customers bought "
            f"({_points(b['abs_lift'], 0)} points; the true change lies between {_points(b['abs_low'], 0)} and "
            f"{_points(b['abs_high'], 0)} points with {_level(level)} confidence). "
            + (f"Too large to be chance on its own in: {', '.join(sig)}. " if sig else
               "In no segment on its own is the rise too large to be chance. ")
            + (f"{_count(small, 'segment group')} {'is' if small == 1 else 'are'} too small to read (grey)."
               if small else ""))


# ----------------------------------------------------------------------------- verdicts


def _pct(x: float) -> str:
    return f"{x:.1%}"


def _pts(x: float) -> str:
    return f"{x * 100:+.1f} pts"


def verdicts(comparisons: pd.DataFrame, power: pd.DataFrame, srm: pd.DataFrame, overview: pd.DataFrame,
             target_relative_lift: float = 0.10, primary: str = PRIMARY,
             harm_metric: str = "revenue", alpha: float = 0.05, *, plain: bool = False,
             names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Ship, stop or keep running, per experiment, with the reason in words.

    Parameters
    ----------
    comparisons : :func:`compare_variants` (without ``by``) holding ``primary`` and, when
        available, ``harm_metric``.
    power : :func:`power_analysis`.
    srm : :func:`srm_check`.
    overview : :func:`describe_experiments`.
    target_relative_lift : lift worth having (``experiments.target_relative_lift``).
    primary : metric the decision is made on; ``harm_metric``: metric that must not drop.
    alpha : the level the comparisons were made at (only used in the wording of intervals).
    plain : word the reasons for the business report: plain words first, the technical
        term only in brackets (``p = 0.0023``), no test names, variant names as words
        (:func:`lclib.analysis.wording.display_name` with ``names``). Default (False): the
        analysts' wording with the raw names, as exported. The verdicts are the same.
    names : ``display_names`` of the configuration (only with ``plain``).

    Returns
    -------
    DataFrame
        Indexed by ``experiment``: ``verdict`` ("ship", "stop", "keep running"), ``variant``
        (the variant to ship, else empty) and ``reason`` (one or two sentences). The rules
        are listed in the module docstring.
    """
    rows = []
    what = f"'{METRICS[primary][1].lower()}'" if primary in METRICS else primary
    what_plain = PLAIN_METRICS.get(primary, what)
    ci = f"{1 - alpha:.0%} interval"
    level = _level(1 - alpha)
    nm = lambda v: _words(v, names)
    for exp, info in overview.iterrows():
        comp = comparisons.loc[(comparisons[EXPERIMENT] == exp) & (comparisons["metric"] == primary)]
        harm = comparisons.loc[(comparisons[EXPERIMENT] == exp) & (comparisons["metric"] == harm_metric)]
        pw = power.loc[power[EXPERIMENT] == exp].set_index(VARIANT)
        s = srm.loc[srm[EXPERIMENT] == exp]
        note = (f" {int(info['incomplete']):,} customers still inside their window were left out."
                if info["incomplete"] > 0 and info["complete"] > 0 else "")
        verdict, variant, reason, words = "keep running", "", "", ""
        if len(s) and bool(s["mismatch"].iloc[0]):
            counts = ", ".join(f"{v} {n:,}" for v, n in zip(s[VARIANT], s["n"]))
            verdict, reason = "stop", (f"Sample-ratio mismatch ({counts}; chi-square {p_text(s['p_value'].iloc[0])}): "
                                       "the split is not the intended one, so no result can be trusted. "
                                       "Fix the assignment and restart.")
            words = ("The split between groups is not as planned ("
                     + ", ".join(f"{nm(v)} {n:,}" for v, n in zip(s[VARIANT], s["n"]))
                     + f" customers; a check that the group sizes match: {p_text(s['p_value'].iloc[0])}), so no "
                     "result can be trusted. Fix the assignment and restart.")
        elif info["n_variants"] < 2:
            reason = f"Only one variant ({info['control']}) was assigned: there is nothing to compare it with."
            words = f"Only one group ({nm(info['control'])}) was assigned: there is nothing to compare it with."
        elif info["complete"] == 0 or comp.empty:
            reason = f"No customer has completed the outcome window yet (last window ends {info['last_window_end']:%d %b %Y})."
            words = (f"No customer has completed the outcome window yet (the last window ends "
                     f"{info['last_window_end']:%d %b %Y}): there is no result to judge.")
        else:
            harmed = set(harm.loc[harm["significant"] & (harm["abs_lift"] < 0), VARIANT])
            up = comp.loc[comp["significant"] & (comp["abs_lift"] > 0) & (comp["abs_low"] > 0)]
            down = comp.loc[comp["significant"] & (comp["abs_lift"] < 0)]
            winners = up.loc[~up[VARIANT].isin(harmed)]
            if len(winners):
                w = winners.sort_values("abs_lift", ascending=False).iloc[0]
                verdict, variant = "ship", w[VARIANT]
                reason = (f"{w[VARIANT]} raised {what} from {_pct(w['control_value'])} to {_pct(w['value'])} "
                          f"({_pts(w['abs_lift'])}, {ci} {_pts(w['abs_low'])} to {_pts(w['abs_high'])}, "
                          f"{p_text(w['p_adjusted'])}) without a significant drop in revenue per customer.")
                words = (f"{nm(w[VARIANT])} raised {what_plain} from {_share(w['control_value'])} to "
                         f"{_share(w['value'])} ({_points(w['abs_lift'])} points; the true rise lies between "
                         f"{_points(w['abs_low'])} and {_points(w['abs_high'])} points with {level} confidence): "
                         f"a rise {chance_words(w['p_adjusted'], True, len(comp))}, and revenue per customer shows "
                         "no drop beyond chance.")
            elif len(up):
                w = up.iloc[0]
                verdict = "stop"
                reason = (f"{w[VARIANT]} raised {what} ({_pts(w['abs_lift'])}) but significantly lowered revenue "
                          "per customer: the extra orders cost more than they bring.")
                words = (f"{nm(w[VARIANT])} raised {what_plain} ({_points(w['abs_lift'])} points) but lowered "
                         "revenue per customer by more than chance explains: the extra orders cost more than "
                         "they bring.")
            elif len(down) == len(comp):
                verdict = "stop"
                reason = "Every variant did significantly worse than " + f"{comp['control'].iloc[0]} " + \
                    "(" + ", ".join(f"{r[VARIANT]} {_pts(r['abs_lift'])}" for _, r in down.iterrows()) + ")."
                words = (f"Every variant did worse than {nm(comp['control'].iloc[0])}, by more than chance "
                         "explains (" + ", ".join(f"{nm(r[VARIANT])} {_points(r['abs_lift'])} points"
                                                  for _, r in down.iterrows()) + ").")
            else:
                futile = comp["rel_high"].lt(target_relative_lift).all() and \
                    pw.reindex(comp[VARIANT])["reached"].fillna(False).all()
                if futile:
                    verdict = "stop"
                    reason = (f"The test has the planned sample size and every interval of the relative lift lies "
                              f"below the target of {target_relative_lift:+.0%}: an effect worth having is ruled out.")
                    words = (f"The test has the customers it needs, and even the top of the likely range of every "
                             f"variant's change lies below a rise of {_level(target_relative_lift)} of the control "
                             "group's share: a change worth having is ruled out.")
                else:
                    still = pw.reindex(comp[VARIANT])["still_needed"].max()
                    reason = ("No significant difference yet" + (
                        f"; about {still:,.0f} more customers are needed to detect a {target_relative_lift:+.0%} "
                        "relative lift." if still == still and still > 0 else
                        f", but the interval still includes the {target_relative_lift:+.0%} target lift."))
                    words = ("No difference beyond chance yet" + (
                        f"; about {still:,.0f} more customers are needed to detect a rise of "
                        f"{_level(target_relative_lift)} of the control group's share." if not _missing(still) and still > 0
                        else f", and a rise of {_level(target_relative_lift)} of the control group's share is still "
                             "within the likely range."))
        rows.append({EXPERIMENT: exp, "verdict": verdict, VARIANT: variant,
                     "reason": (words if plain else reason) + note})
    return pd.DataFrame(rows, columns=[EXPERIMENT, "verdict", VARIANT, "reason"]).set_index(EXPERIMENT)


def analyse(experiments: pd.DataFrame, transactions: pd.DataFrame, window_days: float, as_of=None,
            alpha: float = 0.05, power: float = 0.8, target_relative_lift: float = 0.10) -> dict[str, pd.DataFrame]:
    """The whole report in one call: outcomes, overview, SRM, summary, comparisons, power, verdicts.

    Returns a dict with keys ``outcomes``, ``overview``, ``srm``, ``summary``, ``comparisons``,
    ``power`` and ``verdicts`` (see the functions of the same names).
    """
    out = experiment_outcomes(experiments, transactions, window_days, as_of)
    overview = describe_experiments(out)
    srm = srm_check(out)
    comp = compare_variants(out, alpha=alpha)
    pw = power_analysis(out, alpha=alpha, power=power, target_relative_lift=target_relative_lift)
    return {"outcomes": out, "overview": overview, "srm": srm, "summary": variant_summary(out, alpha=alpha),
            "comparisons": comp, "power": pw,
            "verdicts": verdicts(comp, pw, srm, overview, target_relative_lift, alpha=alpha)}
