"""Scoring customers with fitted models: expected purchases, P(alive), discounted CLV."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lclib.analysis.clv.fitting import SUMMARY_HINT, FitResult, _fitter_of, _quiet, _rescale, fit_from_params, lifetimes
from lclib.engine.contracts import UNIT_DAYS
from lclib.io.columns import require_columns

#: Days per month used to turn months into model time units.
DAYS_PER_MONTH = 365.25 / 12
#: Below this distance from a removable singularity of the BG/NBD closed form (a = 1, or
#: a + b = 1 for customers without repeat purchases), the value is the mean of the closed form
#: at the parameter +- :data:`_STEP` (an analytic function: error of order _STEP**2).
_NEAR = 1e-7
_STEP = 1e-4


class UndefinedPredictionError(ValueError):
    """A model returned a non-finite prediction (NaN or inf) for some customers."""


def _bgnbd_conditional_expectation(r: float, alpha: float, a: float, b: float, t, x, t_x, age) -> np.ndarray:
    """BG/NBD E[X(t) | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10), defined for every a, b > 0.

    ``(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
    / [1 + (x > 0) * a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x)]``.

    lifetimes 0.11.3 takes the logarithm of the 2F1 term, which is negative for
    customers without repeat purchases when a + b < 1 (its third argument
    a + b - 1 is then in (-1, 0)): it returns NaN there although the
    expectation exists (it equals the model's definition integrated
    numerically, see tests/test_clv_trust.py). Here the term is used as it is,
    and only where it overflows is Euler's transformation
    ``2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z)`` taken in logarithms.
    """
    from scipy.special import hyp2f1

    t, x, t_x, age = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, x, t_x, age)))
    if abs(a - 1.0) < _NEAR:  # removable singularity: (a+b+x-1)/(a-1) -> inf while [...] -> 0
        return 0.5 * (_bgnbd_conditional_expectation(r, alpha, a - _STEP, b, t, x, t_x, age)
                      + _bgnbd_conditional_expectation(r, alpha, a + _STEP, b, t, x, t_x, age))
    near_pole = (x == 0) & (abs(a + b - 1.0) < _NEAR)  # 2F1's third argument ~ 0 (pole times zero)
    if near_pole.any():
        out = _bgnbd_conditional_expectation(r, alpha, a, b, t, np.where(near_pole, 1.0, x), t_x, age)
        below = _bgnbd_conditional_expectation(r, alpha, a, b - _STEP, t[near_pole], 0.0, t_x[near_pole],
                                               age[near_pole])
        above = _bgnbd_conditional_expectation(r, alpha, a, b + _STEP, t[near_pole], 0.0, t_x[near_pole],
                                               age[near_pole])
        out[near_pole] = 0.5 * (below + above)
        return out
    shape_a, shape_b, shape_c = r + x, b + x, a + b + x - 1.0
    z = t / (alpha + age + t)
    log_ratio = shape_a * np.log((alpha + age) / (alpha + age + t))
    hyp = hyp2f1(shape_a, shape_b, shape_c, z)
    term = hyp * np.exp(log_ratio)
    overflow = ~np.isfinite(hyp)
    if overflow.any():
        c, ea, eb, ez = shape_c[overflow], shape_a[overflow], shape_b[overflow], z[overflow]
        term[overflow] = np.exp(np.log(hyp2f1(c - ea, c - eb, c, ez)) + (c - ea - eb) * np.log1p(-ez)
                                + log_ratio[overflow])
    numerator = shape_c / (a - 1.0) * (1.0 - term)
    repeat = x > 0
    denominator = 1.0 + np.where(repeat, a / np.where(repeat, b + x - 1.0, 1.0), 0.0) * (
        (alpha + age) / (alpha + t_x)) ** shape_a
    return numerator / denominator


def conditional_expected_purchases(model: FitResult | Any, t, frequency, recency, T) -> np.ndarray:
    """Expected repeat purchases in the next ``t`` of customers with history (x, t_x, T).

    BG/NBD is evaluated by :func:`_bgnbd_conditional_expectation` (lclib's own,
    defined for every a, b > 0); MBG/NBD and Pareto/NBD by lifetimes. Times are
    in the model's time unit; arguments broadcast.

    Parameters
    ----------
    model : converged :class:`FitResult` or lifetimes fitter.
    t : horizon; frequency, recency, T : the customers' histories.

    Returns
    -------
    ndarray of float. Non-finite values are possible only for MBG/NBD and
    Pareto/NBD (lifetimes' formulas); callers count them
    (:func:`predict_customers`).
    """
    fitter = _fitter_of(model)
    with _quiet():
        if type(fitter) is lifetimes.BetaGeoFitter:  # MBG/NBD subclasses it: exact type
            r, alpha, a, b = (float(fitter.params_[k]) for k in ("r", "alpha", "a", "b"))
            return _bgnbd_conditional_expectation(r, alpha, a, b, t, frequency, recency, T)
        values = fitter.conditional_expected_number_of_purchases_up_to_time(t, frequency, recency, T)
    return np.broadcast_to(np.asarray(values, dtype=float),
                           np.broadcast_shapes(*(np.shape(v) for v in (t, frequency, recency, T))))


def predict_customers(
    bgnbd: FitResult | Any,
    gg: FitResult | Any,
    summary: pd.DataFrame,
    horizon_periods: int = 12,
    discount_rate_annual: float = 0.1,
    margin: float = 1.0,
    time_unit: str = "W",
    days_per_month: float = DAYS_PER_MONTH,
    undefined: str = "raise",
) -> pd.DataFrame:
    """Score customers: future purchases, P(alive), order value and discounted CLV.

    The CLV sums monthly steps k = 1..``horizon_periods``::

        CLV = margin * E[order value] * sum_k (E[X(k m)] - E[X((k-1) m)]) / (1 + d)^k

    where ``X(t)`` is the number of purchases in the next ``t`` model time
    units, ``m`` the length of a month in those units (``days_per_month`` /
    days per unit) and ``d = (1 + discount_rate_annual)^(1/12) - 1`` the
    monthly rate, applied at the end of each month. lifetimes'
    ``customer_lifetime_value`` computes the same sum but counts a month as 30
    units of a daily model (or 4.345 of a weekly one) whatever the data's unit
    is, and evaluates each step twice; pass ``days_per_month=30`` with a daily
    model to reproduce it.

    Parameters
    ----------
    bgnbd : FitResult or lifetimes fitter
        Converged BG/NBD, MBG/NBD or Pareto/NBD fit.
    gg : FitResult or GammaGammaFitter or float
        Converged Gamma-Gamma fit, or a fixed expected order value for every
        customer (e.g. the observed mean order value when the spend model
        cannot be fitted).
    summary : DataFrame
        Customers to score: ``frequency``, ``recency``, ``T`` (in ``time_unit``)
        and ``monetary_value``.
    horizon_periods : int
        Horizon in months (the discounting steps).
    discount_rate_annual : float
        Annual discount rate, e.g. 0.1 for 10 %.
    margin : float
        Profit margin applied to revenue (1.0 gives discounted revenue).
    time_unit : {"D", "W", "W_periods"}
        Unit of the summary's times. When ``bgnbd`` is a FitResult fitted in
        another unit (``fit_bgnbd_robust`` may switch days to weeks), times are
        converted to the fit's unit.
    days_per_month : float
        Calendar days in one step.
    undefined : {"raise", "exclude"}
        What to do when a model returns a non-finite value (NaN, inf) for some
        customers: raise :class:`UndefinedPredictionError` (which counts them),
        or leave those customers out and count them in ``attrs["excluded"]``.
        Never silently NaN.

    Returns
    -------
    DataFrame
        Indexed like ``summary`` (less the excluded customers):
        ``expected_purchases`` (over the horizon), ``p_alive``,
        ``expected_order_value`` (Gamma-Gamma's conditional mean spend per
        purchase) and ``clv``; ``attrs["excluded"]`` (int) and
        ``attrs["scored"]`` (customers scored).
    """
    if undefined not in ("raise", "exclude"):
        raise ValueError(f"undefined must be 'raise' or 'exclude', got {undefined!r}")
    require_columns(summary, ("frequency", "recency", "T", "monetary_value"), "summary", hint=SUMMARY_HINT)
    model_unit = getattr(bgnbd, "time_unit", None) or time_unit
    fitter = _fitter_of(bgnbd)
    spend = None if isinstance(gg, (int, float, np.floating)) else _fitter_of(gg)
    data = _rescale(summary, time_unit, model_unit) if model_unit != time_unit else summary
    x, t_x, age = (data[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    month = days_per_month / UNIT_DAYS[model_unit]
    steps = np.arange(horizon_periods + 1)
    # The purchase model sees a customer only through (x, t_x, T): score each distinct history
    # once (about half the customers on day-counted data) and copy the values back; the
    # functions are elementwise, so the numbers are the same as scoring every row.
    ux, ut, ua, back = _distinct_histories(x, t_x, age)

    with _quiet():
        # cumulative[k, i]: expected purchases of customer i within k months (a loop over months).
        cumulative = np.vstack(
            [np.zeros_like(ux)]
            + [conditional_expected_purchases(fitter, k * month, ux, ut, ua) for k in steps[1:]]
        )[:, back]
        p_alive = np.broadcast_to(fitter.conditional_probability_alive(ux, ut, ua), ux.shape)[back]
        if spend is None:
            order_value = np.full_like(x, float(gg))
        else:
            order_value = spend.conditional_expected_average_profit(x, data["monetary_value"].to_numpy(dtype=float))

    monthly_rate = (1.0 + discount_rate_annual) ** (1.0 / 12.0) - 1.0
    discount = (1.0 + monthly_rate) ** -steps[1:]
    discounted_purchases = discount @ np.diff(cumulative, axis=0)
    scores = pd.DataFrame(
        {
            "expected_purchases": cumulative[-1],
            "p_alive": np.broadcast_to(p_alive, x.shape),
            "expected_order_value": order_value,
            "clv": margin * order_value * discounted_purchases,
        },
        index=summary.index,
    )
    finite = np.isfinite(scores.to_numpy(dtype=float)).all(axis=1)
    bad = int((~finite).sum())
    if bad and undefined == "raise":
        raise UndefinedPredictionError(
            f"The model's predictions are undefined (NaN or infinite) for {bad:,} of {len(scores):,} customers "
            f"(parameters {_params_text(bgnbd)}); pass undefined='exclude' to score the others and count these.")
    if bad:
        scores = scores.loc[finite]
    scores.attrs.update(excluded=bad, scored=len(scores))
    return scores


def _params_text(model) -> str:
    params = model.params if isinstance(model, FitResult) else dict(getattr(model, "params_", {}))
    return ", ".join(f"{k} = {float(v):.3g}" for k, v in params.items())


def _distinct_histories(x: np.ndarray, t_x: np.ndarray, age: np.ndarray):
    """Distinct (x, t_x, T) rows and the index that maps them back to every customer."""
    if len(x) < 100_000:  # small data: score row by row, exactly as before (the saving is at scale)
        return x, t_x, age, np.arange(len(x))
    back = pd.DataFrame({"x": x, "t": t_x, "T": age}).groupby(["x", "t", "T"], sort=False).ngroup().to_numpy()
    first = np.empty(int(back.max()) + 1, dtype="int64")
    first[back[::-1]] = np.arange(len(back))[::-1]  # each history's first customer
    return x[first], t_x[first], age[first], back



def new_customer_purchases(
    fit: FitResult, months: int, days_per_month: float = DAYS_PER_MONTH
) -> pd.Series:
    """Expected cumulative repeat purchases of a customer who has just made a first purchase.

    ``E[X(t)]`` of a randomly chosen customer (BG/NBD eq. 9 and its MBG/NBD and
    Pareto/NBD counterparts) at the end of each month ``0..months``.

    Returns
    -------
    Series
        Index ``month`` (0..months), float values (0 at month 0).

    Raises
    ------
    UndefinedPredictionError
        When the model's formula gives a non-finite value.
    """
    fitter = _fitter_of(fit)
    if months < 0:
        raise ValueError("months must be >= 0")
    steps = np.arange(months + 1)
    t = steps * days_per_month / UNIT_DAYS[fit.time_unit or "W"]
    if type(fitter) is lifetimes.BetaGeoFitter:  # E[X(t)] is E[X(t) | x = t_x = T = 0]: lclib's formula
        values = conditional_expected_purchases(fitter, t, 0.0, 0.0, 0.0)
    else:
        with _quiet():
            values = np.asarray(fitter.expected_number_of_purchases_up_to_time(t), dtype=float)
    values = np.where(steps == 0, 0.0, values)
    if not np.isfinite(values).all():
        raise UndefinedPredictionError(
            f"The model's expected purchases of a new customer are undefined (parameters {_params_text(fit)}).")
    return pd.Series(values, index=pd.RangeIndex(months + 1, name="month"), name="expected_purchases")


def _parameter_draws(fit: FitResult, draws: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """``draws`` parameter sets from the fit's asymptotic sampling distribution (normal in log-parameters)."""
    cov = fit.log_covariance
    if cov is None:
        raise ValueError(f"the {fit.model} fit has no usable covariance (status {fit.status}): no intervals")
    names = list(cov.index)
    theta = np.log([fit.params[k] for k in names])
    values = np.exp(rng.multivariate_normal(theta, cov.to_numpy(dtype=float), size=draws, method="eigh"))
    return [dict(zip(names, row)) for row in values]


def clv_intervals(
    bgnbd: FitResult,
    gg: FitResult | float,
    summary: pd.DataFrame,
    horizon_periods: int = 12,
    discount_rate_annual: float = 0.1,
    margin: float = 1.0,
    time_unit: str = "W",
    *,
    draws: int = 200,
    seed: int = 0,
    level: float = 0.9,
    days_per_month: float = DAYS_PER_MONTH,
) -> pd.DataFrame:
    """Per-customer intervals of CLV and expected purchases from the uncertainty of the parameters.

    A parametric bootstrap of the parameters (Krinsky & Robb): ``draws`` parameter
    sets are drawn from the fits' asymptotic sampling distribution (normal in the
    log-parameters, with the covariance the 95 % intervals come from), every
    customer is scored with each set (:func:`predict_customers`), and the
    interval is the central ``level`` share of the scores. It says how much the
    values move because the data pin the parameters down only so far; it does
    not include the randomness of each customer's own future purchases.

    Parameters
    ----------
    bgnbd, gg, summary, horizon_periods, discount_rate_annual, margin, time_unit, days_per_month
        As in :func:`predict_customers`; ``gg`` may be a fixed order value (then
        only the purchase model varies). Score few customers (e.g. a top list):
        the cost is ``draws`` times a scoring.
    draws : number of parameter sets (``clv.bootstrap_draws``).
    seed : seed of ``numpy.random.default_rng`` (``clv.bootstrap_seed``): the same
        data give the same intervals.
    level : central share covered, e.g. 0.9.

    Returns
    -------
    DataFrame
        Indexed like ``summary``: ``clv_low``, ``clv_high``,
        ``expected_purchases_low``, ``expected_purchases_high``;
        ``attrs["draws"]``, ``attrs["level"]``, ``attrs["seed"]`` and
        ``attrs["undefined_draws"]`` (draws left out because a prediction was
        not finite; counted, never skipped silently).
    """
    if draws < 2:
        raise ValueError(f"draws must be at least 2, got {draws}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    purchase_sets = _parameter_draws(bgnbd, draws, rng)
    spend_sets = _parameter_draws(gg, draws, rng) if isinstance(gg, FitResult) else [float(gg)] * draws
    clv_values = np.full((draws, len(summary)), np.nan)
    purchases = np.full((draws, len(summary)), np.nan)
    unit = bgnbd.time_unit or time_unit
    for i, (p_set, s_set) in enumerate(zip(purchase_sets, spend_sets)):
        purchase_fit = fit_from_params(bgnbd.model, p_set, time_unit=unit)
        spend = fit_from_params("gamma_gamma", s_set) if isinstance(s_set, dict) else s_set
        scores = predict_customers(purchase_fit, spend, summary, horizon_periods, discount_rate_annual, margin,
                                   time_unit, days_per_month, undefined="exclude")
        if scores.attrs["excluded"]:
            continue  # counted below
        clv_values[i], purchases[i] = scores["clv"].to_numpy(), scores["expected_purchases"].to_numpy()
    kept = np.isfinite(clv_values).all(axis=1)
    if kept.sum() < 2:
        raise UndefinedPredictionError(f"{draws - int(kept.sum())} of {draws} parameter draws gave undefined "
                                       "predictions: no intervals")
    tails = [(1 - level) / 2, 1 - (1 - level) / 2]
    low, high = np.quantile(clv_values[kept], tails, axis=0)
    p_low, p_high = np.quantile(purchases[kept], tails, axis=0)
    out = pd.DataFrame({"clv_low": low, "clv_high": high, "expected_purchases_low": p_low,
                        "expected_purchases_high": p_high}, index=summary.index)
    out.attrs.update(draws=draws, level=level, seed=seed, undefined_draws=draws - int(kept.sum()))
    return out


def p_alive_paths(model: FitResult | Any, transactions: pd.DataFrame, customers, end, *, step_days: int = 7,
                  count_by: str = "D", time_unit: str = "W") -> tuple[pd.DataFrame, pd.DataFrame]:
    """P(alive) of a handful of customers through time: how the model reads each purchase and each silence.

    At every ``step_days`` from a customer's first purchase to ``end`` (inclusive day),
    the customer's history up to that day (repeat purchases x, recency t_x, age T, counted
    as the summary counts them: ``count_by`` "D" distinct days, "W" distinct weeks, "order"
    orders) is scored by the purchase model's ``conditional_probability_alive``. P(alive)
    jumps up at a purchase and decays through a silence. Meant for a few example customers
    (the report shows four): the histories are built per customer.

    Parameters
    ----------
    model : converged :class:`FitResult` (or lifetimes fitter) fitted with ``time_unit``.
    transactions : order lines (``customer_id``, ``timestamp``; ``order_id`` for ``count_by="order"``).
    customers : ids to follow.
    end : last day (inclusive) of the path.
    step_days, count_by, time_unit : grid step, purchase counting and the model's time unit.

    Returns
    -------
    (paths, purchases)
        ``paths``: ``customer_id``, ``date``, ``p_alive``; ``purchases``: ``customer_id``,
        ``date`` (one row per counted purchase period).

    Examples
    --------
    >>> fit = fit_from_params("bgnbd", {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5})
    >>> tx = pd.DataFrame({"customer_id": ["a"] * 3, "timestamp": pd.to_datetime(
    ...     ["2024-01-01", "2024-01-15", "2024-02-01"])})
    >>> paths, buys = p_alive_paths(fit, tx, ["a"], "2024-06-01", step_days=30)
    >>> paths["p_alive"].round(3).tolist()  # 31 Jan: x=1, t_x=2, T=4.29 weeks: 1 / (1 + 0.32 (8.29 / 6)^1.25)
    [1.0, 0.676, 0.64, 0.479, 0.356, 0.267]
    """
    end = pd.Timestamp(end).normalize()
    fitter = _fitter_of(model)
    unit = UNIT_DAYS[getattr(model, "time_unit", None) or time_unit]
    lines = transactions.loc[transactions["customer_id"].isin(list(customers))]
    ts = pd.to_datetime(lines["timestamp"])
    lines = lines.loc[ts < end + pd.Timedelta(days=1)].assign(timestamp=ts)
    if count_by == "D":
        period = lines["timestamp"].dt.normalize()
    elif count_by == "W":
        period = lines["timestamp"].dt.to_period("W").dt.start_time
    elif count_by == "order":
        period = lines.groupby(["customer_id", "order_id"])["timestamp"].transform("min")
    else:
        raise ValueError(f"count_by must be 'D', 'W' or 'order', got {count_by!r}")
    buys = pd.DataFrame({"customer_id": lines["customer_id"].to_numpy(), "date": period.to_numpy()})
    buys = buys.drop_duplicates().sort_values(["customer_id", "date"], kind="stable").reset_index(drop=True)
    frames = []
    for cid, own in buys.groupby("customer_id", sort=False):  # a handful of example customers
        times = own["date"].to_numpy(dtype="datetime64[ns]")
        grid = pd.date_range(times[0], end, freq=f"{step_days}D").to_numpy(dtype="datetime64[ns]")
        seen = np.searchsorted(times, grid, side="right")  # periods up to each grid day
        day = np.timedelta64(1, "D")
        x = (seen - 1).astype(float)
        t_x = (times[seen - 1] - times[0]) / day / unit
        age = (grid - times[0]) / day / unit
        with _quiet():
            alive = np.asarray(fitter.conditional_probability_alive(x, t_x, age), dtype=float)
        frames.append(pd.DataFrame({"customer_id": cid, "date": grid, "p_alive": alive}))
    paths = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame({"customer_id": [], "date": pd.to_datetime([]), "p_alive": []}))
    return paths, buys


def example_customers(scores: pd.DataFrame, summary: pd.DataFrame) -> pd.Series:
    """Up to four customers worth following through time, each with why (for :func:`p_alive_paths`).

    The most valuable (highest ``clv``); the frequent buyer the model thinks most likely gone
    (most repeat purchases among P(alive) < 0.5); a steady regular (most repeat purchases
    among P(alive) >= 0.9); a one-time buyer (the longest known). Each is picked once.

    Returns
    -------
    Series indexed by customer id: the reason in words.
    """
    s = scores.join(summary[["frequency", "T"]], how="inner")
    picks: dict = {}

    def take(frame: pd.DataFrame, column: str, why: str, largest: bool = True) -> None:
        frame = frame.loc[~frame.index.isin(list(picks))]
        if len(frame):
            picks[(frame[column].idxmax() if largest else frame[column].idxmin())] = why

    take(s, "clv", "highest predicted value")
    take(s.loc[s["p_alive"] < 0.5], "frequency", "frequent buyer, probably gone")
    take(s.loc[s["p_alive"] >= 0.9], "frequency", "steady regular")
    take(s.loc[s["frequency"] == 0], "T", "one purchase, long ago")
    return pd.Series(picks, name="why", dtype=object)
