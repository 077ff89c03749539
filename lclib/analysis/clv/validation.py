"""Checking a purchase model: holdout validation, repeat-count fit, frequency x recency grid."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lclib.analysis.clv.fitting import (
    FIT_SAMPLE_SEED, MAX_FIT_CUSTOMERS, MIN_REPEAT_CUSTOMERS, SUMMARY_HINT, BGModel, FitResult, _fitter_of, _quiet,
    fit_bgnbd_robust, lifetimes,
)
from lclib.analysis.clv.prediction import _distinct_histories, conditional_expected_purchases
from lclib.engine.contracts import UNIT_DAYS
from lclib.engine.summary import calibration_holdout_split
from lclib.io.columns import CUSTOMER_ID, ORDER_ID, TIMESTAMP, require_columns


@dataclass
class HoldoutValidation:
    """Result of :func:`holdout_validation`.

    Attributes
    ----------
    per_customer : DataFrame
        Calibration summary plus ``frequency_holdout`` (actual),
        ``predicted_holdout`` and ``duration_holdout``.
    totals : dict of str to float
        ``customers``, ``predicted``, ``actual`` (holdout purchases, summed) and
        ``relative_error`` = (predicted - actual) / actual.
    by_frequency : DataFrame
        Index: calibration frequency (last bin pools "N or more"); columns
        ``customers``, ``actual_mean``, ``predicted_mean`` holdout purchases.
    fit : FitResult
        The calibration fit.
    calibration_end, observation_end : Timestamp or None
        Last days (inclusive) of the calibration and holdout windows.
    time_unit : str
        Unit of the summary's times (``recency``, ``T``, ``duration_holdout``).
    """

    per_customer: pd.DataFrame
    totals: dict[str, float]
    by_frequency: pd.DataFrame
    fit: FitResult
    calibration_end: pd.Timestamp | None = None
    observation_end: pd.Timestamp | None = None
    time_unit: str = "W"

    @property
    def holdout_days(self) -> int:
        """Days in the holdout window (0 when unknown)."""
        if self.calibration_end is None or self.observation_end is None:
            return 0
        return max(0, (self.observation_end - self.calibration_end).days)


def holdout_validation(
    transactions: pd.DataFrame,
    calibration_end,
    observation_end,
    *,
    model: BGModel = "bgnbd",
    penalizer: float = 0.0,
    count_by: str = "D",
    time_unit: str = "W",
    max_frequency_bin: int = 7,
    min_repeat_customers: int = MIN_REPEAT_CUSTOMERS,
    summary: pd.DataFrame | None = None,
    max_fit_customers: int | None = MAX_FIT_CUSTOMERS,
    random_state: int = FIT_SAMPLE_SEED,
    engine: str | None = None,
) -> HoldoutValidation:
    """Fit on a calibration window and compare predicted with actual holdout purchases.

    Parameters
    ----------
    transactions : DataFrame
        Order lines (``customer_id``, ``order_id``, ``timestamp``, ``amount``).
    calibration_end, observation_end : date-like
        Last days (inclusive) of the calibration and holdout windows.
    model, penalizer, min_repeat_customers
        Passed to :func:`fit_bgnbd_robust`.
    count_by, time_unit
        Summary choices, see :mod:`lclib.engine.summary`.
    max_frequency_bin : int
        Calibration frequencies at or above it share the last bin.
    summary : DataFrame, optional
        ``customer_summary(transactions, observation_end, count_by, time_unit)``
        when the caller already has it (the report does): the holdout counts
        are then its frequencies minus the calibration window's, and only the
        calibration window is summarised again. Same result as without it.
    max_fit_customers, random_state
        Passed to :func:`fit_bgnbd_robust`: above the cap the calibration fit
        runs on a uniform random sample; every customer is predicted.
    engine : str, optional
        Of the calibration summary (None = :func:`lclib.engine.sql.default_engine`).

    Returns
    -------
    HoldoutValidation
        Predictions are NaN when the fit failed (see ``fit.warnings``);
        ``totals["undefined"]`` counts customers whose prediction is not finite
        (then ``totals["predicted"]`` is NaN, not a sum that skips them).
        ``per_customer`` keeps the calibration ``monetary_value`` (for a
        calibration Gamma-Gamma fit) and ``monetary_value_holdout`` (holdout spend per
        holdout purchase, for :func:`value_holdout_check`).
    """
    split = calibration_holdout_split(transactions, calibration_end, observation_end, full_summary=summary,
                                      holdout_spend=True, count_by=count_by, time_unit=time_unit, extras=False,
                                      engine=engine)
    fit = fit_bgnbd_robust(
        split, penalizer, model, time_unit=time_unit, min_repeat_customers=min_repeat_customers,
        max_fit_customers=max_fit_customers, random_state=random_state,
    )
    per_customer = split[["frequency", "recency", "T", "monetary_value", "frequency_holdout",
                          "monetary_value_holdout", "duration_holdout"]].copy()
    if fit.converged:
        factor = UNIT_DAYS[time_unit] / UNIT_DAYS[fit.time_unit]
        x, t_x, age, duration = (
            per_customer[c].to_numpy(dtype=float) * (1 if c == "frequency" else factor)
            for c in ("frequency", "recency", "T", "duration_holdout")
        )
        ux, ut, ua, back = _distinct_histories(x, t_x, age)  # one holdout duration for everyone
        predicted = np.broadcast_to(conditional_expected_purchases(
            fit, duration[0] if len(duration) else 0.0, ux, ut, ua), ux.shape)[back]
    else:
        predicted = np.nan
    per_customer["predicted_holdout"] = predicted

    undefined = int((~np.isfinite(per_customer["predicted_holdout"].to_numpy(dtype=float))).sum()) if fit.converged else 0
    actual = float(per_customer["frequency_holdout"].sum())
    # a sum over customers, never skipping an undefined prediction: NaN as soon as one is undefined
    total = float(per_customer["predicted_holdout"].to_numpy(dtype=float).sum()) if fit.converged else np.nan
    totals = {
        "customers": float(len(per_customer)),
        "predicted": total,
        "actual": actual,
        "relative_error": (total - actual) / actual if actual > 0 else np.nan,
        "undefined": float(undefined),
    }
    bins = per_customer["frequency"].clip(upper=max_frequency_bin).rename("frequency_cal")
    by_frequency = per_customer.groupby(bins).agg(
        customers=("frequency_holdout", "size"),
        actual_mean=("frequency_holdout", "mean"),
        predicted_mean=("predicted_holdout", "mean"),
    )
    return HoldoutValidation(per_customer, totals, by_frequency, fit, pd.Timestamp(calibration_end).normalize(),
                             pd.Timestamp(observation_end).normalize(), time_unit)


def default_calibration_end(transactions: pd.DataFrame, share: float = 2 / 3) -> pd.Timestamp:
    """The day ``share`` of the way from the first to the last transaction (``clv.calibration_end: null``).

    Parameters
    ----------
    transactions : DataFrame with a datetime64 ``timestamp``.
    share : float in (0, 1).

    Returns
    -------
    Timestamp
        Midnight of that day: the last (inclusive) day of the calibration window.
    """
    if not 0 < share < 1:
        raise ValueError(f"share must be in (0, 1), got {share}")
    ts = pd.to_datetime(transactions[TIMESTAMP])
    if ts.isna().all():
        raise ValueError("transactions have no timestamps")
    start, end = ts.min().normalize(), ts.max().normalize()
    return (start + (end - start) * share).normalize()


def _bg_pmf(model: str, params: dict[str, float], t: np.ndarray, x: int) -> np.ndarray:
    """P(X(t) = x) of a randomly chosen BG/NBD or MBG/NBD customer, vectorized over ``t``.

    Fader, Hardie & Lee (2005), eq. 8; for MBG/NBD (Batislam et al. 2007) the
    dropout may also happen at time 0, shifting ``b`` by one in the Beta terms.
    Equals lifetimes' ``probability_of_n_purchases_up_to_time`` (which takes a
    scalar ``t``).
    """
    from scipy.special import betaln, gammaln, xlogy

    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    t = np.asarray(t, dtype=float)
    log_odds0 = r * np.log(alpha / (alpha + t))
    ratio = t / (alpha + t)
    shift = 1 if model == "mbgnbd" else 0
    nbd_x = np.exp(gammaln(r + x) - gammaln(r) - gammaln(x + 1) + log_odds0 + xlogy(x, ratio))
    first = np.exp(betaln(a, b + x + shift) - betaln(a, b)) * nbd_x
    if x == 0 and shift == 0:
        return first
    j = np.arange(x)[:, None]
    terms = np.exp(gammaln(r + j) - gammaln(r) - gammaln(j + 1) + xlogy(j, ratio[None, :]))
    partial = np.exp(log_odds0) * terms.sum(axis=0)
    second = np.exp(betaln(a + 1, b + x - 1 + shift) - betaln(a, b)) * (1.0 - partial)
    return first + second


def repeat_count_fit(
    fit: FitResult, summary: pd.DataFrame, time_unit: str = "W", max_frequency: int = 7
) -> pd.DataFrame:
    """Model vs actual number of customers by repeat purchases made (the classic fit check).

    The expected number of customers with ``x`` repeat purchases is
    ``sum_i P(X(T_i) = x)`` over the customers, each observed for their own
    ``T_i``; the last row pools ``max_frequency`` or more.

    Parameters
    ----------
    fit : converged BG/NBD or MBG/NBD :class:`FitResult` (Pareto/NBD: ValueError).
    summary : the fitted customer summary (``frequency``, ``T`` in ``time_unit``).
    time_unit : unit of the summary's ``T`` (converted to the fit's unit).
    max_frequency : last, pooled, bin.

    Returns
    -------
    DataFrame
        Index ``frequency`` 0..max_frequency; columns ``actual`` (customers) and
        ``model`` (expected customers); both columns sum to the customers.
    """
    _fitter_of(fit)
    if fit.model not in ("bgnbd", "mbgnbd"):
        raise ValueError(f"repeat_count_fit needs a BG/NBD or MBG/NBD fit, got {fit.model}")
    require_columns(summary, ("frequency", "T"), "summary", hint=SUMMARY_HINT)
    age = summary["T"].to_numpy(dtype=float) * UNIT_DAYS[time_unit] / UNIT_DAYS[fit.time_unit or time_unit]
    # The pmf depends on T alone: evaluate it once per distinct T (a few thousand at most), weighted.
    ages, weight = np.unique(age, return_counts=True)
    with _quiet():
        expected = [float(_bg_pmf(fit.model, fit.params, ages, x) @ weight) for x in range(max_frequency)]
    expected.append(len(summary) - sum(expected))
    actual = summary["frequency"].clip(upper=max_frequency).value_counts().reindex(range(max_frequency + 1),
                                                                                  fill_value=0)
    return pd.DataFrame(
        {"actual": actual.to_numpy(dtype="int64"), "model": expected},
        index=pd.RangeIndex(max_frequency + 1, name="frequency"),
    )


def frequency_recency_matrix(
    fit: FitResult,
    summary: pd.DataFrame,
    time_unit: str = "W",
    next_periods: float | None = None,
    max_frequency: int | None = None,
    n_recency: int = 12,
) -> pd.DataFrame:
    """P(alive) and expected purchases of hypothetical customers on a frequency x recency grid.

    Every grid customer is observed for ``T`` = the longest ``T`` of the
    summary (lifetimes' matrix plots use the same convention), so the grid
    reads "a customer who has been with us since the start".

    Parameters
    ----------
    fit : converged purchase-model :class:`FitResult`.
    summary : customer summary (sets ``T`` and the grid's range).
    time_unit : unit of the summary's times and of ``next_periods``.
    next_periods : horizon of ``expected_purchases`` in ``time_unit``
        (default: 4 weeks' worth).
    max_frequency : highest frequency on the grid (default: the summary's 99th percentile, at least 5).
    n_recency : number of recency steps from 0 to ``T``.

    Returns
    -------
    DataFrame
        Long format: ``frequency`` (int), ``recency`` (in ``time_unit``),
        ``p_alive``, ``expected_purchases``. Cells with ``frequency > 0`` and
        ``recency = 0`` or ``frequency = 0`` and ``recency > 0`` are impossible
        and left out.
    """
    fitter = _fitter_of(fit)
    require_columns(summary, ("frequency", "T"), "summary", hint=SUMMARY_HINT)
    if n_recency < 2:
        raise ValueError("n_recency must be at least 2")
    t_max = float(summary["T"].max())
    if max_frequency is None:
        max_frequency = max(5, int(np.ceil(summary["frequency"].quantile(0.99))))
    next_periods = 28.0 / UNIT_DAYS[time_unit] if next_periods is None else next_periods
    freq, rec = np.meshgrid(np.arange(max_frequency + 1), np.linspace(0.0, t_max, n_recency + 1), indexing="ij")
    freq, rec = freq.ravel().astype(float), rec.ravel()
    possible = (freq > 0) == (rec > 0)
    freq, rec = freq[possible], rec[possible]
    factor = UNIT_DAYS[time_unit] / UNIT_DAYS[fit.time_unit or time_unit]
    age = np.full_like(rec, t_max * factor)
    with _quiet():
        p_alive = np.broadcast_to(fitter.conditional_probability_alive(freq, rec * factor, age), freq.shape)
    expected = conditional_expected_purchases(fitter, next_periods * factor, freq, rec * factor, age)
    return pd.DataFrame({"frequency": freq.astype("int64"), "recency": rec, "p_alive": np.asarray(p_alive, float),
                         "expected_purchases": np.asarray(expected, float)})


def _expected_new_customer(fit: FitResult, t: np.ndarray) -> np.ndarray:
    """E[X(t)] of a customer who has just made a first purchase, for an array of ``t`` (model units)."""
    fitter = _fitter_of(fit)
    if type(fitter) is lifetimes.BetaGeoFitter:  # lclib's formula: E[X(t) | x = t_x = T = 0]
        return conditional_expected_purchases(fitter, t, 0.0, 0.0, 0.0)
    with _quiet():
        return np.asarray(fitter.expected_number_of_purchases_up_to_time(t), dtype=float)


def weekly_tracking(
    transactions: pd.DataFrame,
    fit: FitResult,
    calibration_end,
    observation_end,
    *,
    count_by: str = "D",
) -> pd.DataFrame:
    """Repeat purchases week by week, actual against the model, across calibration and holdout.

    The tracking chart of Fader, Hardie & Lee (2005, figure 3): for the customers
    whose first purchase is on or before ``calibration_end`` (those of the
    holdout check), the model's expected cumulative repeat purchases at time
    tau are ``sum_i E[X(tau - s_i)]`` over customers first seen at ``s_i``
    (``E[X(t)]`` from the fit's parameters, eq. 9), against the repeat purchases
    made. The fit is usually the calibration fit: the weeks after
    ``calibration_end`` are then out of sample.

    Parameters
    ----------
    transactions : order lines (``customer_id``, ``timestamp``; ``order_id`` with
        ``count_by="order"``).
    fit : converged purchase-model :class:`FitResult` (its ``time_unit`` gives the scale).
    calibration_end, observation_end : last days (inclusive) of the two windows.
    count_by : {"D", "W", "order"}: purchases counted as the summary counts them
        (distinct days, distinct calendar weeks, orders).

    Returns
    -------
    DataFrame
        Index ``week`` (1, 2, ...: 7-day steps from the first purchase day);
        ``week_end`` (exclusive end), ``actual``, ``model`` (repeat purchases in
        the week), ``actual_cumulative``, ``model_cumulative``; the last week is
        cut at ``observation_end``. ``attrs["calibration_end"]`` is the first
        holdout day (exclusive end of calibration).
    """
    require_columns(transactions, (CUSTOMER_ID, TIMESTAMP), "transactions")
    _fitter_of(fit)
    if count_by not in ("D", "W", "order"):
        raise ValueError(f"count_by must be 'D', 'W' or 'order', got {count_by!r}")
    cal_stop = pd.Timestamp(calibration_end).normalize() + pd.Timedelta(days=1)
    stop = pd.Timestamp(observation_end).normalize() + pd.Timedelta(days=1)
    ts = pd.to_datetime(transactions[TIMESTAMP])
    inside = (ts < stop).to_numpy()
    who = transactions[CUSTOMER_ID].to_numpy()[inside]
    day = ts.to_numpy()[inside].astype("datetime64[D]")
    if count_by == "D":
        key = day
    elif count_by == "W":
        key = pd.DatetimeIndex(day).to_period("W").start_time.to_numpy().astype("datetime64[D]")
    else:
        require_columns(transactions, (ORDER_ID,), "transactions")
        key = transactions[ORDER_ID].to_numpy()[inside]
    events = pd.DataFrame({"who": who, "key": key, "day": day}).groupby(["who", "key"], sort=False)["day"].min()
    events = events.reset_index(level="key", drop=True)
    first = events.groupby(level=0).min()
    cohort = first.index[first.to_numpy() < np.datetime64(cal_stop.date(), "D")]
    first = first.loc[cohort]
    events = events.loc[events.index.isin(cohort)]
    start = np.datetime64(first.min(), "D") if len(first) else np.datetime64(cal_stop.date(), "D")
    n_weeks = max(1, int(np.ceil((np.datetime64(stop.date(), "D") - start).astype(int) / 7)))
    ends = start + np.arange(1, n_weeks + 1) * np.timedelta64(7, "D")
    ends[-1] = min(ends[-1], np.datetime64(stop.date(), "D"))
    # repeat purchases: every counted event but each customer's first
    repeat_days = np.sort(events.to_numpy().astype("datetime64[D]"))
    made = np.searchsorted(repeat_days, ends, side="left") - np.searchsorted(np.sort(first.to_numpy().astype(
        "datetime64[D]")), ends, side="left")
    # model: sum over first-purchase days s of count(s) * E[X(end - s)], zero before s
    starts, counts = np.unique(first.to_numpy().astype("datetime64[D]"), return_counts=True)
    unit_days = UNIT_DAYS[fit.time_unit or "W"]
    age_days = (ends[:, None] - starts[None, :]).astype(int).astype(float)
    expected = _expected_new_customer(fit, np.clip(age_days, 0.0, None).ravel() / unit_days).reshape(age_days.shape)
    model_cum = (np.where(age_days > 0, expected, 0.0) * counts[None, :]).sum(axis=1)
    out = pd.DataFrame({"week_end": pd.to_datetime(ends), "actual_cumulative": made.astype(float),
                        "model_cumulative": model_cum}, index=pd.RangeIndex(1, n_weeks + 1, name="week"))
    out.insert(1, "actual", np.diff(out["actual_cumulative"].to_numpy(), prepend=0.0))
    out.insert(2, "model", np.diff(out["model_cumulative"].to_numpy(), prepend=0.0))
    out.attrs["calibration_end"] = cal_stop
    return out


@dataclass
class ValueHoldout:
    """Result of :func:`value_holdout_check`: the spend model and CLV against the holdout window.

    Attributes
    ----------
    checked : bool
        True when there are holdout purchases to compare with and both calibration fits
        converged; otherwise the numbers are NaN and ``reason`` says why.
    purchases : holdout purchases (periods, as the purchase model counts them) of the
        calibration customers.
    order_value_predicted, order_value_actual : spend per holdout purchase, predicted by the
        calibration Gamma-Gamma fit for the purchases actually made, and observed.
    revenue_predicted, revenue_actual : holdout revenue of the calibration customers: the
        purchase model's predicted purchases x the spend model's order value, summed, and
        observed (the revenue behind the CLV, undiscounted and before margin).
    reason : a sentence in words (why not checked, or the result).
    """

    checked: bool
    purchases: float
    order_value_predicted: float
    order_value_actual: float
    revenue_predicted: float
    revenue_actual: float
    reason: str

    @property
    def order_value_error_pct(self) -> float:
        return _error_pct(self.order_value_predicted, self.order_value_actual)

    @property
    def revenue_error_pct(self) -> float:
        return _error_pct(self.revenue_predicted, self.revenue_actual)


def _error_pct(predicted: float, actual: float) -> float:
    return 100.0 * (predicted - actual) / actual if np.isfinite(predicted) and actual > 0 else float("nan")


def value_holdout_check(validation: HoldoutValidation, gg_cal, currency: str = "") -> ValueHoldout:
    """Check the spend model and the CLV's revenue on the holdout window (BTYD users' holdout check of spend).

    The calibration Gamma-Gamma fit (``gg_cal``, fitted on ``validation.per_customer``)
    gives each calibration customer an expected spend per purchase E(M | x, m); with the
    calibration purchase model's predicted holdout purchases (``validation``) that is a
    predicted holdout revenue per customer. Both are compared with what the customers
    spent in the holdout window (``monetary_value_holdout`` x ``frequency_holdout`` of
    :func:`lclib.engine.summary.calibration_holdout_split`: the holdout days' spend of
    customers with a holdout purchase).

    Parameters
    ----------
    validation : :func:`holdout_validation` output.
    gg_cal : FitResult of :func:`~lclib.analysis.clv.fitting.fit_gamma_gamma` on
        ``validation.per_customer`` (or a lifetimes GammaGammaFitter).
    currency : label for the sentence.

    Returns
    -------
    ValueHoldout
    """
    from lclib.analysis.clv.fitting import _fitter_of

    pc = validation.per_customer
    nan = float("nan")
    if validation.calibration_end is None or validation.observation_end is None:
        return ValueHoldout(False, 0.0, nan, nan, nan, nan, "No holdout window, so spend is not checked.")
    purchases = pc["frequency_holdout"].to_numpy(dtype=float)
    spend = pc["monetary_value_holdout"].to_numpy(dtype=float) * purchases
    n_purchases, revenue = float(purchases.sum()), float(spend.sum())
    fitted = getattr(gg_cal, "converged", True) and getattr(validation.fit, "converged", True)
    if n_purchases <= 0 or not fitted:
        why = ("no calibration customer bought in the holdout window" if n_purchases <= 0 else
               "the calibration fit of the spend or purchase model did not converge")
        return ValueHoldout(False, n_purchases, nan, revenue / n_purchases if n_purchases else nan, nan, revenue,
                            f"Spend is not checked on the holdout window: {why}.")
    expected = _fitter_of(gg_cal).conditional_expected_average_profit(
        pc["frequency"].to_numpy(dtype=float), pc["monetary_value"].to_numpy(dtype=float))
    expected = np.asarray(expected, dtype=float)
    predicted_purchases = pc["predicted_holdout"].to_numpy(dtype=float)
    if not (np.isfinite(expected).all() and np.isfinite(predicted_purchases).all()):
        bad = int((~(np.isfinite(expected) & np.isfinite(predicted_purchases))).sum())
        return ValueHoldout(False, n_purchases, nan, revenue / n_purchases, nan, revenue,
                            f"Spend is not checked on the holdout window: the models give no prediction for "
                            f"{bad:,} customers.")
    out = ValueHoldout(True, n_purchases, float((expected * purchases).sum() / n_purchases), revenue / n_purchases,
                       float((expected * predicted_purchases).sum()), revenue, "")
    cur = f" {currency}" if currency else ""
    out.reason = (f"On the holdout window the spend model expected **{out.order_value_predicted:,.2f}{cur}** per "
                  f"purchase against **{out.order_value_actual:,.2f}{cur}** spent ({out.order_value_error_pct:+.1f} %), "
                  f"and the two models together expected **{out.revenue_predicted:,.0f}{cur}** of revenue from the "
                  f"calibration customers against **{out.revenue_actual:,.0f}{cur}** ({out.revenue_error_pct:+.1f} %).")
    return out
