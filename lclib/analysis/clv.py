"""Customer lifetime value: BG/NBD-family and Gamma-Gamma fits, scoring, validation.

Everything here takes a customer summary from :mod:`lclib.engine.summary` (index
``customer_id``; columns ``frequency`` (int), ``recency``, ``T``,
``monetary_value``) and never loops over customers.

Fits never raise into a report: :func:`fit_bgnbd`, :func:`fit_bgnbd_robust` and
:func:`fit_gamma_gamma` return a :class:`FitResult` whose ``status`` is one of

``"ok"``
    converged, parameters inside plausible bounds;
``"degenerate"``
    converged, but a parameter sits at a boundary (for BG/NBD ``a`` or ``b``
    near 0): the numbers exist but mean little; ``warnings`` says why in words;
``"failed"``
    the optimizer did not converge (or lifetimes raised); ``warnings`` says why;
``"insufficient_data"``
    too few repeat customers to fit at all.

lifetimes 0.11.3 is imported through :func:`_import_lifetimes`, which keeps its
import-time side effects (a pandas option, warning filters, deprecation
warnings) out of the caller's process; every fit runs with scipy's printing
and numpy's floating-point warnings captured.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np
import pandas as pd

from lclib.io.columns import AMOUNT, CUSTOMER_ID, ORDER_ID, TIMESTAMP
from lclib.engine.contracts import UNIT_DAYS
from lclib.engine.summary import calibration_holdout_split
from lclib.io.columns import require_columns

BGModel = Literal["bgnbd", "mbgnbd", "paretonbd"]

#: Default minimum number of customers with ``frequency > 0`` needed to fit.
#: How to build the per-customer summary the model functions take.
SUMMARY_HINT = "build it with lclib.engine.summary.customer_summary"

MIN_REPEAT_CUSTOMERS = 50
#: Penalizers tried, in order, when a fit does not converge.
FALLBACK_PENALIZERS = (0.001, 0.01)
#: Below this a Beta (BG/NBD ``a``, ``b``) or Gamma shape (Pareto ``s``) is "at the boundary".
BOUNDARY = 0.01
#: |corr(frequency, monetary_value)| above this breaks Gamma-Gamma's independence assumption.
CORRELATION_THRESHOLD = 0.3
#: Below this many previous-period buyers, simple_clv warns that retention is unreliable.
MIN_RETENTION_BASE = 30
#: Days per month used to turn months into model time units.
DAYS_PER_MONTH = 365.25 / 12
_Z95 = 1.959963984540054
#: Default cap on the customers a model is fitted on (``clv.max_fit_customers``); None = no cap.
MAX_FIT_CUSTOMERS: int | None = None
#: Seed of the uniform random sample drawn above the cap (fixed: the same data gives the same fit).
FIT_SAMPLE_SEED = 0


def _import_lifetimes():
    """Import lifetimes without leaking its side effects into this process.

    lifetimes 0.11.3 sets ``pd.options.mode.chained_assignment = None`` (a
    Pandas4Warning under pandas 3), installs a global
    ``warnings.simplefilter("ignore", FutureWarning)`` and imports modules that
    add filters of their own. The import runs inside ``catch_warnings`` (which
    restores the warning filters) and every pandas option it changed is set
    back. Reading or resetting deprecated options warns too, hence all of it
    under the same silence.
    """
    from pandas._config.config import _registered_options  # the only list of all options

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        before = {key: pd.get_option(key) for key in _registered_options}
        import lifetimes
        import lifetimes.utils

        for key, value in before.items():
            if pd.get_option(key) != value:
                pd.set_option(key, value)
    return lifetimes


lifetimes = _import_lifetimes()
ConvergenceError = lifetimes.utils.ConvergenceError

_FITTERS = {
    "bgnbd": (lifetimes.BetaGeoFitter, ("r", "alpha", "a", "b")),
    "mbgnbd": (lifetimes.ModifiedBetaGeoFitter, ("r", "alpha", "a", "b")),
    "paretonbd": (lifetimes.ParetoNBDFitter, ("r", "alpha", "s", "beta")),
    "gamma_gamma": (lifetimes.GammaGammaFitter, ("p", "q", "v")),
}
_MODEL_NAMES = {"bgnbd": "BG/NBD", "mbgnbd": "MBG/NBD", "paretonbd": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma"}
_UNIT_NAMES = {"D": "days", "W": "weeks", "W_periods": "whole weeks"}


@contextlib.contextmanager
def _quiet():
    """Capture stdout (lifetimes prints scipy's result before raising) and silence warnings.

    Also undoes the ``warnings.simplefilter`` calls lifetimes makes inside every
    likelihood evaluation.
    """
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer), warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield buffer


@dataclass
class FitResult:
    """Outcome of one model fit, successful or not.

    Attributes
    ----------
    model : str
        ``"bgnbd"``, ``"mbgnbd"``, ``"paretonbd"`` or ``"gamma_gamma"``.
    status : str
        ``"ok"``, ``"degenerate"``, ``"failed"`` or ``"insufficient_data"``.
    params : dict of str to float
        Fitted parameters (empty unless converged). Rates are per ``time_unit``.
    confidence_intervals : DataFrame
        Index: parameter; columns ``estimate``, ``se`` (delta method, as
        lifetimes), ``lower``, ``upper`` (95 %, Wald on the log scale the
        optimizer works on, so always positive). NaN where lifetimes has no
        variance matrix (Pareto/NBD).
    n_customers : int
        Customers in the fitted data.
    log_likelihood : float
        Unpenalized log-likelihood in the data's own time unit (NaN if not fitted).
    fitter : object or None
        The fitted lifetimes object, for its prediction methods.
    warnings : list of str
        Plain-English messages for a report, most important first.
    penalizer : float
        The penalizer of this fit.
    time_unit : str or None
        Unit of ``recency``/``T`` in the fitted data, when known.
    attempts : list of str
        One line per fit tried by :func:`fit_bgnbd_robust`.
    n_population : int or None
        Customers before sampling when the fit ran on a uniform random sample
        of them (``max_fit_customers``); None when it used them all.
    """

    model: str
    status: str
    params: dict[str, float]
    confidence_intervals: pd.DataFrame
    n_customers: int
    log_likelihood: float
    fitter: Any = None
    warnings: list[str] = field(default_factory=list)
    penalizer: float = 0.0
    time_unit: str | None = None
    attempts: list[str] = field(default_factory=list)
    n_population: int | None = None

    @property
    def sampled(self) -> bool:
        """True when the fit ran on a random sample of the customers (see ``n_population``)."""
        return self.n_population is not None and self.n_population > self.n_customers

    @property
    def converged(self) -> bool:
        """True when the optimizer converged (status ``ok`` or ``degenerate``)."""
        return self.status in ("ok", "degenerate")


def _not_fitted(model: str, status: str, n: int, message: str, **kwargs) -> FitResult:
    names = _FITTERS[model][1]
    ci = pd.DataFrame(np.nan, index=pd.Index(names, name="param"), columns=["estimate", "se", "lower", "upper"])
    return FitResult(model, status, {}, ci, n, np.nan, None, [message], **kwargs)




#: What each fitted parameter means, for reports (rates per the summary's time unit).
PARAMETER_MEANINGS = {
    ("bgnbd", "r"): "purchase rates while active: Gamma shape",
    ("bgnbd", "alpha"): "purchase rates while active: Gamma scale (mean rate r / alpha)",
    ("bgnbd", "a"): "chance to drop out after a purchase: Beta a (mean a / (a + b))",
    ("bgnbd", "b"): "chance to drop out after a purchase: Beta b",
    ("paretonbd", "s"): "drop-out rates: Gamma shape",
    ("paretonbd", "beta"): "drop-out rates: Gamma scale (mean rate s / beta)",
    ("gamma_gamma", "p"): "spend of one order around the customer's mean: Gamma shape",
    ("gamma_gamma", "q"): "customers' mean order values: Gamma shape",
    ("gamma_gamma", "v"): "customers' mean order values: Gamma scale (mean order value p v / (q - 1))",
}
for _name in ("r", "alpha", "a", "b"):
    PARAMETER_MEANINGS[("mbgnbd", _name)] = PARAMETER_MEANINGS[("bgnbd", _name)]
for _name in ("r", "alpha"):
    PARAMETER_MEANINGS[("paretonbd", _name)] = PARAMETER_MEANINGS[("bgnbd", _name)]


def parameter_table(fit: FitResult) -> pd.DataFrame:
    """A fit's parameters and 95 % intervals, labelled for a report.

    Returns
    -------
    DataFrame
        One row per parameter, in the model's order: ``Parameter`` (its name),
        ``Meaning`` (:data:`PARAMETER_MEANINGS`), ``Estimate``, ``Standard error``,
        ``95 % low``, ``95 % high`` (from ``fit.confidence_intervals``; NaN where
        unknown). Rates are per the summary's time unit.
    """
    ci = fit.confidence_intervals
    return pd.DataFrame({
        "Parameter": list(ci.index),
        "Meaning": [PARAMETER_MEANINGS.get((fit.model, name), "") for name in ci.index],
        "Estimate": ci["estimate"].to_numpy(),
        "Standard error": ci["se"].to_numpy(),
        "95 % low": ci["lower"].to_numpy(),
        "95 % high": ci["upper"].to_numpy(),
    })


def _confidence_intervals(fitter, names: tuple[str, ...]) -> pd.DataFrame:
    estimate = np.array([float(fitter.params_[k]) for k in names])
    variance = getattr(fitter, "variance_matrix_", None)  # ParetoNBDFitter has none
    # A boundary fit can have a Hessian that is not positive definite: NaN, not a warning.
    with np.errstate(all="ignore"):
        if variance is None:
            se = np.full(len(names), np.nan)
        else:
            se = np.sqrt(np.diag(variance.loc[list(names), list(names)]))
        spread = np.exp(_Z95 * se / estimate)
        lower, upper = estimate / spread, estimate * spread
    return pd.DataFrame(
        {"estimate": estimate, "se": se, "lower": lower, "upper": upper}, index=pd.Index(names, name="param")
    )


def _log_likelihood(model: str, params: dict[str, float], data: tuple[np.ndarray, ...],
                    weights: np.ndarray | None = None) -> float:
    """Unpenalized log-likelihood at ``params`` on unscaled data.

    lifetimes reports a per-customer value on internally rescaled times (and
    Pareto/NBD a total), so it is recomputed here to be comparable to the
    literature (CDNOW BG/NBD: -9582.4).
    """
    cls, names = _FITTERS[model]
    values = np.array([params[k] for k in names])
    weights = np.ones(len(data[0])) if weights is None else np.asarray(weights, dtype=float)
    with _quiet():  # lifetimes' likelihoods call warnings.simplefilter
        if model == "paretonbd":  # natural parameters, returns the total
            return -float(cls._negative_log_likelihood(values, *data, weights, 0.0))
        return -float(cls._negative_log_likelihood(np.log(values), *data, weights, 0.0)) * weights.sum()


_DEGENERATE_MESSAGE = (
    "{model} fit is degenerate ({detail}). The data carries too little dropout signal: the model "
    "cannot tell customers who have stopped buying from customers who are between purchases, so it "
    "concludes that almost nobody leaves. P(alive) will be close to 1 for nearly everyone, and "
    "expected purchases and CLV numbers will be overstated. A longer history, a time unit closer to "
    "the purchase cycle, or the simple CLV formula are safer bases for decisions."
)


def _degeneracy(model: str, params: dict[str, float], t_max: float) -> str | None:
    """Plain-words description of a boundary fit, or None."""
    if not all(np.isfinite(v) and v > 0 for v in params.values()):
        return f"non-finite or non-positive parameters {params}"
    problems = []
    dropout = ("a", "b") if model in ("bgnbd", "mbgnbd") else ("s",)
    problems += [f"{k} = {params[k]:.3g} is at its lower bound" for k in dropout if params[k] < BOUNDARY]
    if model == "paretonbd" and params["s"] / params["beta"] * t_max < BOUNDARY:
        problems.append(f"mean dropout rate s/beta = {params['s'] / params['beta']:.2g} per unit is ~0")
    r, alpha = params["r"], params["alpha"]
    if not 1e-3 < r < 1e3 or not 1e-4 < r / alpha * t_max < 1e4:
        problems.append(f"purchase-rate parameters r = {r:.3g}, alpha = {alpha:.3g} are extreme")
    return "; ".join(problems) or None


def _fit_from_starts(make_fitter: Callable[[], Any], data: tuple[np.ndarray, ...],
                     starts: tuple[np.ndarray | None, ...], extra: dict | None = None) -> Any:
    """Fit a lifetimes model from each start in turn until one converges.

    lifetimes minimises with BFGS from one fixed start (log-parameters 0.1, or
    ``None`` below) and raises ConvergenceError when scipy reports a loss of
    precision, which also happens right at the maximum of a flat likelihood: on
    one draw of the sample, Gamma-Gamma stopped with a gradient of 1e-7 at the
    maximum and raised, and the penalized fallback then gave biased parameters.
    Other starts reach the same maximum without the complaint. Re-raises the
    last error when every start fails.
    """
    error: Exception | None = None
    for start in starts:
        fitter = make_fitter()
        try:
            return fitter.fit(*data, **(extra or {}), **({} if start is None else {"initial_params": start}))
        except ConvergenceError as failed:
            error = failed
    raise error


def fit_bgnbd(
    summary: pd.DataFrame,
    penalizer: float = 0.0,
    model: BGModel = "bgnbd",
    *,
    time_unit: str | None = None,
    min_repeat_customers: int = MIN_REPEAT_CUSTOMERS,
    weights: np.ndarray | None = None,
) -> FitResult:
    """Fit a BG/NBD, MBG/NBD or Pareto/NBD purchase model once, without raising.

    Parameters
    ----------
    summary : DataFrame
        Customer summary with ``frequency``, ``recency``, ``T``.
    penalizer : float
        lifetimes' L2 penalizer on the parameters (shrinks them toward 0).
    model : {"bgnbd", "mbgnbd", "paretonbd"}
        Which model.
    time_unit : str, optional
        Unit of ``recency``/``T``; recorded in the result for scoring.
    min_repeat_customers : int
        Minimum number of customers with ``frequency > 0``; below it nothing is
        fitted and ``status`` is ``"insufficient_data"``.
    weights : array of int, optional
        BG/NBD and MBG/NBD only: the number of customers each row of
        ``summary`` stands for (rows are then distinct histories, see
        :func:`compress_histories`). The likelihood, and so the fit, is the
        same as on the expanded rows; counts are in customers.

    Returns
    -------
    FitResult
        See its docstring. Pareto/NBD starts from fixed initial values (lifetimes
        would draw them from numpy's global random state).
    """
    if model not in ("bgnbd", "mbgnbd", "paretonbd"):
        raise ValueError(f"model must be 'bgnbd', 'mbgnbd' or 'paretonbd', got {model!r}")
    require_columns(summary, ("frequency", "recency", "T"), "summary", hint=SUMMARY_HINT)
    if weights is not None and model == "paretonbd":
        raise ValueError("weights are supported for BG/NBD and MBG/NBD only")
    w = np.ones(len(summary), dtype="int64") if weights is None else np.asarray(weights, dtype="int64")
    name, n = _MODEL_NAMES[model], int(w.sum())
    extra = {"penalizer": penalizer, "time_unit": time_unit}
    repeaters = int(w[(summary["frequency"] > 0).to_numpy()].sum())
    if repeaters < min_repeat_customers:
        return _not_fitted(
            model, "insufficient_data", n,
            f"Only {repeaters} of {n} customers bought more than once (at least {min_repeat_customers} "
            f"are needed). {name} learns purchase rates and dropout from repeat purchases, so it "
            "cannot be fitted; report repeat rates and the simple CLV formula instead.",
            **extra,
        )
    data = tuple(summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    cls, names = _FITTERS[model]
    # Pareto/NBD starts from fixed values (lifetimes would draw them from numpy's global state).
    starts = (np.ones(4), np.zeros(4)) if model == "paretonbd" else (None, np.zeros(4), np.ones(4))
    try:
        with _quiet() as printed:
            fitter = _fit_from_starts(lambda: cls(penalizer_coef=penalizer), data, starts,
                                      {} if weights is None else {"weights": w})
    except ConvergenceError:
        found = re.search(r"message:\s*(.+)", printed.getvalue())
        detail = f" (scipy: {found.group(1).strip()})" if found else ""
        return _not_fitted(
            model, "failed", n,
            f"{name} did not converge with penalizer {penalizer}{detail}. The likelihood has no "
            "clear maximum for this data; a small penalizer or weekly time units often help.",
            **extra,
        )
    except Exception as error:  # lifetimes' input checks, singular Hessians, ...
        return _not_fitted(model, "failed", n, f"{name} could not be fitted: {error}", **extra)

    params = {k: float(fitter.params_[k]) for k in names}
    result = FitResult(
        model, "ok", params, _confidence_intervals(fitter, names), n,
        _log_likelihood(model, params, data, None if weights is None else w), fitter, **extra,
    )
    problem = _degeneracy(model, params, float(data[2].max()))
    if problem:
        result.status = "degenerate"
        result.warnings.append(_DEGENERATE_MESSAGE.format(model=name, detail=problem))
    if penalizer > 0:
        result.warnings.append(
            f"Fitted with penalizer {penalizer}, which pulls every parameter toward 0; "
            "estimates are biased by an amount that grows with the penalizer."
        )
    if model == "paretonbd":
        result.warnings.append("lifetimes computes no standard errors for Pareto/NBD: no confidence intervals.")
    return result


def fit_sample(
    summary: pd.DataFrame, max_customers: int | None, random_state: int = FIT_SAMPLE_SEED
) -> pd.DataFrame:
    """A uniform random sample of ``max_customers`` rows of ``summary``, or ``summary`` itself.

    The models' likelihoods are sums over independent customers, so a uniform
    sample estimates the same parameters (with wider intervals) at a fraction
    of the cost: on 800k customers a fit takes ~15 s, on 200k ~4 s, with
    standard errors of ~1 % on BG/NBD's ``r`` and ``alpha``. The rows keep their
    order; ``random_state`` fixes the draw.

    Parameters
    ----------
    summary : DataFrame, one row per customer.
    max_customers : int or None
        Cap; None (or a cap at least the number of rows) returns ``summary``
        unchanged, so small data are fitted exactly as without a cap.
    random_state : seed of ``numpy.random.default_rng``.
    """
    if max_customers is None or len(summary) <= max_customers:
        return summary
    if max_customers < 1:
        raise ValueError(f"max_customers must be positive, got {max_customers}")
    rows = np.random.default_rng(random_state).choice(len(summary), size=int(max_customers), replace=False)
    return summary.iloc[np.sort(rows)]


def compress_histories(summary: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Distinct (``frequency``, ``recency``, ``T``) rows of ``summary`` and how many customers have each.

    BG/NBD's likelihood depends on a customer only through these three numbers,
    so fitting the distinct rows with these counts as weights maximises the same
    likelihood on fewer rows (about half of them for day-counted data).
    """
    keys = summary[["frequency", "recency", "T"]]
    grouped = keys.groupby(list(keys.columns), sort=True).size()
    rows = grouped.index.to_frame(index=False)
    return rows, grouped.to_numpy(dtype="int64")


def _sample_note(what: str, used: int, population: int) -> str:
    return (f"The {what} was fitted on a uniform random sample of {used:,} of the {population:,} "
            f"{'repeat customers with positive spend' if what == 'spend model' else 'customers'} "
            "(`clv.max_fit_customers`), which estimates the same parameters as all of them with "
            "slightly wider intervals; predictions are made for every customer.")


def _mark_sampled(result: FitResult, population: int, what: str) -> FitResult:
    result.n_population = population
    if result.sampled:
        result.warnings.append(_sample_note(what, result.n_customers, population))
    return result


def _rescale(summary: pd.DataFrame, from_unit: str, to_unit: str) -> pd.DataFrame:
    factor = UNIT_DAYS[from_unit] / UNIT_DAYS[to_unit]
    return summary.assign(recency=summary["recency"] * factor, T=summary["T"] * factor)


def fit_bgnbd_robust(
    summary: pd.DataFrame,
    penalizer: float = 0.0,
    model: BGModel = "bgnbd",
    *,
    time_unit: str = "W",
    min_repeat_customers: int = MIN_REPEAT_CUSTOMERS,
    fallback_penalizers: tuple[float, ...] = FALLBACK_PENALIZERS,
    max_fit_customers: int | None = MAX_FIT_CUSTOMERS,
    random_state: int = FIT_SAMPLE_SEED,
) -> FitResult:
    """Fit as asked; if that does not converge, try the documented fallbacks.

    The order is: the requested penalizer, then each larger one in
    ``fallback_penalizers`` (0.001, 0.01); if ``time_unit`` is ``"D"``, the same
    ladder again with times converted to weeks (days / 7). The first attempt that
    converges is returned, with a warning when it is not the one asked for, and
    ``attempts`` lists every try. A degenerate fit is returned as is: a
    penalizer shrinks parameters toward 0 and cannot cure ``a`` near 0.

    Parameters
    ----------
    summary : DataFrame
        Customer summary with ``frequency``, ``recency``, ``T`` in ``time_unit``.
    penalizer, model, min_repeat_customers
        As in :func:`fit_bgnbd`.
    time_unit : {"D", "W", "W_periods"}
        Unit of the summary's times.
    fallback_penalizers : tuple of float
        Penalizers to try after the requested one.
    max_fit_customers : int, optional
        Above this many customers every attempt is fitted on the same uniform
        random sample of this size (:func:`fit_sample`, seed ``random_state``);
        ``n_population`` and a warning in words say so. None: all customers.
    random_state : int
        Seed of that sample.

    Returns
    -------
    FitResult
        ``time_unit`` says which unit the parameters are in (``"W"`` after a
        switch from days); status ``"failed"`` with a plain reason if nothing
        converged.
    """
    population = len(summary)
    summary = fit_sample(summary, max_fit_customers, random_state)
    weights = None
    if len(summary) < population and model in ("bgnbd", "mbgnbd"):  # sampled: fit distinct histories, weighted
        summary, weights = compress_histories(summary)
    ladder = [penalizer] + [p for p in fallback_penalizers if p > penalizer]
    plan = [(p, time_unit) for p in ladder]
    if time_unit == "D":
        plan += [(p, "W") for p in ladder]
    attempts: list[str] = []
    for i, (pen, unit) in enumerate(plan):
        data = summary if unit == time_unit else _rescale(summary, time_unit, unit)
        result = fit_bgnbd(data, pen, model, time_unit=unit, min_repeat_customers=min_repeat_customers,
                           weights=weights)
        attempts.append(f"{_MODEL_NAMES[model]}, penalizer {pen}, time in {_UNIT_NAMES[unit]}: {result.status}")
        if result.converged and i > 0:
            result.warnings.insert(
                0,
                f"The requested fit (penalizer {penalizer}, time in {_UNIT_NAMES[time_unit]}) did not "
                f"converge; these results use penalizer {pen} with time in {_UNIT_NAMES[unit]}.",
            )
        if result.status != "failed":  # converged, or no amount of retrying helps
            result.attempts = attempts
            return _mark_sampled(result, population, "purchase model")
    return _mark_sampled(_not_fitted(
        model, "failed", len(summary) if weights is None else int(weights.sum()),
        f"{_MODEL_NAMES[model]} could not be fitted: none of {len(attempts)} attempts converged "
        f"({'; '.join(attempts)}). The purchase histories do not pin down the model's parameters; "
        "report observed repeat rates and the simple CLV formula instead of model-based CLV.",
        penalizer=penalizer, time_unit=time_unit, attempts=attempts,
    ), population, "purchase model")


def spend_frequency_correlation(
    summary: pd.DataFrame, threshold: float = CORRELATION_THRESHOLD
) -> tuple[float, str | None]:
    """Check Gamma-Gamma's assumption that spend per purchase is independent of frequency.

    Parameters
    ----------
    summary : DataFrame
        Customer summary with ``frequency`` and ``monetary_value``.
    threshold : float
        Largest acceptable absolute Pearson correlation.

    Returns
    -------
    corr : float
        Pearson correlation of ``frequency`` and ``monetary_value`` among
        customers with ``frequency > 0`` (NaN with fewer than 3 of them).
    message : str or None
        Plain-English warning when ``|corr| > threshold``, else None.
    """
    require_columns(summary, ("frequency", "monetary_value"), "summary", hint=SUMMARY_HINT)
    repeat = summary.loc[summary["frequency"] > 0, ["frequency", "monetary_value"]].astype(float)
    corr = float(repeat["frequency"].corr(repeat["monetary_value"])) if len(repeat) > 2 else np.nan
    if not abs(corr) > threshold:
        return corr, None
    direction = "more" if corr > 0 else "less"
    return corr, (
        f"Spend per purchase and purchase frequency are correlated (r = {corr:.2f}): frequent buyers "
        f"spend {direction} per purchase. Gamma-Gamma assumes they are independent, so its expected "
        "order values, and the CLV built on them, are biased for the most and least frequent buyers."
    )


def fit_gamma_gamma(
    summary: pd.DataFrame,
    penalizer: float = 0.0,
    *,
    min_repeat_customers: int = MIN_REPEAT_CUSTOMERS,
    fallback_penalizers: tuple[float, ...] = FALLBACK_PENALIZERS,
    max_fit_customers: int | None = MAX_FIT_CUSTOMERS,
    random_state: int = FIT_SAMPLE_SEED,
) -> FitResult:
    """Fit the Gamma-Gamma spend model on repeat customers, without raising.

    When the fit at ``penalizer`` does not converge, each larger penalizer of
    ``fallback_penalizers`` is tried in turn (as :func:`fit_bgnbd_robust`
    does); the first that converges is returned with a warning saying so, and
    ``attempts`` lists every try.

    Parameters
    ----------
    summary : DataFrame
        Customer summary with ``frequency`` and ``monetary_value`` (mean spend
        per repeat purchase, lifetimes' convention).
    penalizer : float
        lifetimes' L2 penalizer.
    min_repeat_customers : int
        Minimum number of customers with ``frequency > 0`` and positive spend.
    fallback_penalizers : tuple of float
        Penalizers tried after a fit that does not converge.
    max_fit_customers : int, optional
        Above this many usable repeat customers the fit runs on a uniform
        random sample of this size of them (:func:`fit_sample`, seed
        ``random_state``); ``n_population`` and a warning say so. None: all.
    random_state : int
        Seed of that sample.

    Returns
    -------
    FitResult
        ``model="gamma_gamma"``; ``n_customers`` counts the repeat customers
        used. Warnings cover the frequency-spend correlation, customers left
        out for non-positive spend, fallbacks and ``q <= 1`` (no finite mean
        spend: status ``"degenerate"``).
    """
    require_columns(summary, ("frequency", "monetary_value"), "summary", hint=SUMMARY_HINT)
    repeat = summary.loc[summary["frequency"] > 0]
    usable = repeat.loc[repeat["monetary_value"] > 0]
    _, correlated = spend_frequency_correlation(summary)
    notes = [correlated] if correlated else []
    if len(usable) < len(repeat):
        notes.append(
            f"{len(repeat) - len(usable)} repeat customers with zero or negative spend (refunds?) "
            "were left out of the spend model."
        )
    if len(usable) < min_repeat_customers:
        return _not_fitted(
            "gamma_gamma", "insufficient_data", len(usable),
            f"Only {len(usable)} repeat customers with positive spend (at least {min_repeat_customers} "
            "are needed): the spend model cannot be fitted; use the observed mean order value.",
            penalizer=penalizer,
        )
    population = len(usable)
    usable = fit_sample(usable, max_fit_customers, random_state)
    data = (usable["frequency"].to_numpy(dtype=float), usable["monetary_value"].to_numpy(dtype=float))
    names = _FITTERS["gamma_gamma"][1]
    attempts: list[str] = []
    for pen in [penalizer] + [p for p in fallback_penalizers if p > penalizer]:
        try:
            with _quiet():
                fitter = _fit_from_starts(lambda: lifetimes.GammaGammaFitter(penalizer_coef=pen), data,
                                          (None, np.zeros(3), np.ones(3)))
        except Exception as error:  # ConvergenceError included
            reason = "did not converge" if isinstance(error, ConvergenceError) else f"failed ({error})"
            attempts.append(f"Gamma-Gamma, penalizer {pen}: {reason}")
            continue
        attempts.append(f"Gamma-Gamma, penalizer {pen}: converged")
        params = {k: float(fitter.params_[k]) for k in names}
        result = FitResult(
            "gamma_gamma", "ok", params, _confidence_intervals(fitter, names), len(usable),
            _log_likelihood("gamma_gamma", params, data), fitter, penalizer=pen, attempts=attempts,
        )
        if pen != penalizer:
            result.warnings.append(
                f"The spend model did not converge with penalizer {penalizer}; these results use penalizer "
                f"{pen}, which pulls the parameters toward 0 and biases expected order values somewhat."
            )
        if not params["q"] > 1:
            result.status = "degenerate"
            result.warnings.append(
                f"Gamma-Gamma fit is degenerate (q = {params['q']:.3g} <= 1): the fitted spend "
                "distribution has no finite mean, so expected order values are meaningless."
            )
        result.warnings += notes
        return _mark_sampled(result, population, "spend model")
    failed = _not_fitted(
        "gamma_gamma", "failed", len(usable),
        f"The spend model (Gamma-Gamma) could not be fitted: none of {len(attempts)} attempts converged "
        f"({'; '.join(attempts)}). Usually the order values differ too little between customers for the "
        "model to separate a customer's typical order value from chance; use the observed mean order value.",
        penalizer=penalizer, attempts=attempts,
    )
    failed.warnings += notes
    return _mark_sampled(failed, population, "spend model")


def _fitter_of(model) -> Any:
    """The lifetimes fitter inside a FitResult (or the fitter itself)."""
    if isinstance(model, FitResult):
        if not model.converged:
            raise ValueError(f"cannot score with a {model.status} fit: {' '.join(model.warnings)}")
        return model.fitter
    return model


def predict_customers(
    bgnbd: FitResult | Any,
    gg: FitResult | Any,
    summary: pd.DataFrame,
    horizon_periods: int = 12,
    discount_rate_annual: float = 0.1,
    margin: float = 1.0,
    time_unit: str = "W",
    days_per_month: float = DAYS_PER_MONTH,
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

    Returns
    -------
    DataFrame
        Indexed like ``summary``: ``expected_purchases`` (over the horizon),
        ``p_alive``, ``expected_order_value`` (Gamma-Gamma's conditional
        mean spend per purchase) and ``clv``.
    """
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
            + [fitter.conditional_expected_number_of_purchases_up_to_time(k * month, ux, ut, ua) for k in steps[1:]]
        )[:, back]
        p_alive = np.broadcast_to(fitter.conditional_probability_alive(ux, ut, ua), ux.shape)[back]
        if spend is None:
            order_value = np.full_like(x, float(gg))
        else:
            order_value = spend.conditional_expected_average_profit(x, data["monetary_value"].to_numpy(dtype=float))

    monthly_rate = (1.0 + discount_rate_annual) ** (1.0 / 12.0) - 1.0
    discount = (1.0 + monthly_rate) ** -steps[1:]
    discounted_purchases = discount @ np.diff(cumulative, axis=0)
    return pd.DataFrame(
        {
            "expected_purchases": cumulative[-1],
            "p_alive": np.broadcast_to(p_alive, x.shape),
            "expected_order_value": order_value,
            "clv": margin * order_value * discounted_purchases,
        },
        index=summary.index,
    )


def _distinct_histories(x: np.ndarray, t_x: np.ndarray, age: np.ndarray):
    """Distinct (x, t_x, T) rows and the index that maps them back to every customer."""
    if len(x) < 100_000:  # small data: score row by row, exactly as before (the saving is at scale)
        return x, t_x, age, np.arange(len(x))
    back = pd.DataFrame({"x": x, "t": t_x, "T": age}).groupby(["x", "t", "T"], sort=False).ngroup().to_numpy()
    first = np.empty(int(back.max()) + 1, dtype="int64")
    first[back[::-1]] = np.arange(len(back))[::-1]  # each history's first customer
    return x[first], t_x[first], age[first], back


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
    """

    per_customer: pd.DataFrame
    totals: dict[str, float]
    by_frequency: pd.DataFrame
    fit: FitResult


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

    Returns
    -------
    HoldoutValidation
        Predictions are NaN when the fit failed (see ``fit.warnings``).
    """
    split = calibration_holdout_split(transactions, calibration_end, observation_end, full_summary=summary,
                                      holdout_spend=False, count_by=count_by, time_unit=time_unit, extras=False)
    fit = fit_bgnbd_robust(
        split, penalizer, model, time_unit=time_unit, min_repeat_customers=min_repeat_customers,
        max_fit_customers=max_fit_customers, random_state=random_state,
    )
    per_customer = split[["frequency", "recency", "T", "frequency_holdout", "duration_holdout"]].copy()
    if fit.converged:
        factor = UNIT_DAYS[time_unit] / UNIT_DAYS[fit.time_unit]
        x, t_x, age, duration = (
            per_customer[c].to_numpy(dtype=float) * (1 if c == "frequency" else factor)
            for c in ("frequency", "recency", "T", "duration_holdout")
        )
        ux, ut, ua, back = _distinct_histories(x, t_x, age)  # one holdout duration for everyone
        with _quiet():
            predicted = np.broadcast_to(fit.fitter.conditional_expected_number_of_purchases_up_to_time(
                duration[0] if len(duration) else 0.0, ux, ut, ua), ux.shape)[back]
    else:
        predicted = np.nan
    per_customer["predicted_holdout"] = predicted

    actual, total = float(per_customer["frequency_holdout"].sum()), float(per_customer["predicted_holdout"].sum())
    totals = {
        "customers": float(len(per_customer)),
        "predicted": total if fit.converged else np.nan,
        "actual": actual,
        "relative_error": (total - actual) / actual if fit.converged and actual > 0 else np.nan,
    }
    bins = per_customer["frequency"].clip(upper=max_frequency_bin).rename("frequency_cal")
    by_frequency = per_customer.groupby(bins).agg(
        customers=("frequency_holdout", "size"),
        actual_mean=("frequency_holdout", "mean"),
        predicted_mean=("predicted_holdout", "mean"),
    )
    return HoldoutValidation(per_customer, totals, by_frequency, fit)


@dataclass
class SimpleCLV:
    """Inputs and result of :func:`simple_clv`; ``formula`` renders them for a report."""

    period_days: int
    active_previous: int
    retained: int
    retention_rate: float
    annual_churn_rate: float
    expected_lifetime_years: float
    active_current: int
    revenue_current: float
    annual_revenue_per_customer: float
    margin_rate: float
    annual_margin_per_customer: float
    cac: float
    clv: float
    notes: list[str] = field(default_factory=list)

    @property
    def formula(self) -> str:
        """The formula with this data's numbers filled in (or why it cannot be filled in)."""
        if not np.isfinite(self.clv):
            return "CLV cannot be computed: " + (" ".join(self.notes) or "no customer bought in the last period.")
        capped = not (self.annual_churn_rate > 0 and 1 / self.annual_churn_rate <= self.expected_lifetime_years + 1e-9)
        lifetime = (f"lifetime capped at {self.expected_lifetime_years:g} years, annual churn "
                    f"{self.annual_churn_rate:.1%}" if capped else f"lifetime = 1 / {self.annual_churn_rate:.1%} annual churn")
        return (
            f"CLV = annual margin per customer x expected lifetime - CAC = "
            f"{self.annual_margin_per_customer:,.2f} x {self.expected_lifetime_years:.2f} years - "
            f"{self.cac:,.2f} = {self.clv:,.2f}  (annual margin = {self.annual_revenue_per_customer:,.2f} "
            f"revenue x {self.margin_rate:.0%} margin; {lifetime})"
        )


def simple_clv(
    transactions: pd.DataFrame,
    observation_end=None,
    *,
    margin_rate: float = 0.3,
    cac: float = 0.0,
    period_days: int = 365,
    max_lifetime_years: float = 10.0,
) -> SimpleCLV:
    """The textbook CLV: margin per customer per year x expected lifetime - CAC.

    Both inputs come from the data, over the last two periods of
    ``period_days`` ending on ``observation_end`` (inclusive):

    * retention = share of customers active (any purchase) in the previous
      period who are active again in the last one; annual churn
      = 1 - retention^(365 / period_days); expected lifetime = 1 / annual churn
      years, capped at ``max_lifetime_years``;
    * annual revenue per customer = last period's revenue / its active
      customers, scaled to 365 days; times ``margin_rate``.

    Undiscounted and identical for every customer: a benchmark for the
    model-based CLV, not a replacement.

    Parameters
    ----------
    transactions : DataFrame
        Order lines with ``customer_id``, ``timestamp``, ``amount``.
    observation_end : date-like, optional
        Last day counted; defaults to the last transaction's day.
    margin_rate : float
        Gross margin as a share of revenue.
    cac : float
        Customer acquisition cost per customer.
    period_days : int
        Length of each of the two periods compared.
    max_lifetime_years : float
        Cap on the expected lifetime (reached when nobody churns).

    Returns
    -------
    SimpleCLV
        Every input, the result, ``notes`` on caveats and ``formula``.
    """
    ts = pd.to_datetime(transactions[TIMESTAMP])
    end = (ts.max() if observation_end is None else pd.Timestamp(observation_end)).normalize() + pd.Timedelta(days=1)
    length = pd.Timedelta(days=period_days)
    current = (ts >= end - length) & (ts < end)
    previous = (ts >= end - 2 * length) & (ts < end - length)
    customers = transactions[CUSTOMER_ID]
    active_previous = pd.Index(customers[previous].unique())
    active_current = pd.Index(customers[current].unique())
    retained = int(active_previous.isin(active_current).sum())
    revenue = float(transactions.loc[current, AMOUNT].sum())
    return _simple_clv_from_counts(len(active_previous), retained, len(active_current), revenue, ts.min(), end,
                                   period_days, margin_rate, cac, max_lifetime_years)


def _simple_clv_from_counts(n_previous: int, retained: int, n_current: int, revenue: float, first_time,
                            end: pd.Timestamp, period_days: int, margin_rate: float, cac: float,
                            max_lifetime_years: float) -> SimpleCLV:
    """:func:`simple_clv` from its counts: buyers of each period, retained buyers, last period's revenue."""
    length = pd.Timedelta(days=period_days)
    notes = []
    missed = (first_time - (end - 2 * length)) / length
    if 0.1 < missed < 1:
        notes.append(
            f"The data covers only the last {1 - missed:.0%} of the previous period: customers who bought "
            "only before that are missing, which understates churn."
        )
    if n_previous == 0:
        notes.append("No customer bought in the previous period: churn cannot be measured.")
    elif n_previous < MIN_RETENTION_BASE:
        notes.append(
            f"Retention rests on only {n_previous} customers who bought in the previous period: "
            "too few for a reliable lifetime."
        )
    retention = retained / n_previous if n_previous else np.nan
    annual_churn = 1.0 - retention ** (365.0 / period_days)
    if not np.isfinite(annual_churn):
        lifetime = np.nan
    else:
        lifetime = min(1.0 / annual_churn, max_lifetime_years) if annual_churn > 0 else max_lifetime_years
    if lifetime >= max_lifetime_years:
        notes.append(f"Expected lifetime capped at {max_lifetime_years:g} years.")
    per_customer = revenue / n_current * 365.0 / period_days if n_current else np.nan
    annual_margin = per_customer * margin_rate
    return SimpleCLV(
        period_days, n_previous, retained, retention, annual_churn, lifetime,
        n_current, revenue, per_customer, margin_rate, annual_margin, cac,
        annual_margin * lifetime - cac, notes,
    )


def _simulate_events(
    rng: np.random.Generator, T: np.ndarray, r: float, alpha: float, a: float, b: float,
    p: float, q: float, v: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Repeat purchases of BG/NBD + Gamma-Gamma customers observed for T after their first.

    Returns (customer index, time, amount) of every repeat purchase, sorted by
    customer then time, and each customer's spend scale nu.
    """
    n = len(T)
    rate = rng.gamma(r, 1.0 / alpha, n)  # lambda ~ Gamma(shape r, rate alpha)
    dropout = np.maximum(rng.beta(a, b, n), 1e-12)  # p ~ Beta(a, b)
    nu = rng.gamma(q, 1.0 / v, n)  # nu ~ Gamma(shape q, rate v)
    # While alive, purchases form a Poisson process; after each repeat purchase the
    # customer leaves with probability p, so at most `survive` ~ Geometric(p) (1, 2, ...)
    # of them happen. Given N events in (0, T], their times are sorted uniforms.
    n_events = rng.poisson(rate * T)
    survive = rng.geometric(dropout)
    owner = np.repeat(np.arange(n), n_events)
    time = rng.uniform(0.0, 1.0, owner.size) * T[owner]
    order = np.lexsort((time, owner))
    owner, time = owner[order], time[order]
    rank = np.arange(owner.size) - np.repeat(np.cumsum(n_events) - n_events, n_events)
    keep = rank < survive[owner]
    owner, time = owner[keep], time[keep]
    amount = rng.gamma(p, 1.0 / nu[owner])  # z ~ Gamma(shape p, rate nu)
    return owner, time, amount, nu


def simulate_bgnbd_gg(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    v: float,
    T: float | np.ndarray,
    seed: int | None = None,
) -> pd.DataFrame:
    """Simulate customer summaries from the BG/NBD and Gamma-Gamma definitions.

    Each customer makes a first purchase at time 0 and is observed until ``T``.
    Purchase rate lambda ~ Gamma(r, rate alpha); dropout probability
    p_drop ~ Beta(a, b); while alive, repeat purchases arrive as a Poisson
    process with rate lambda, and after each repeat purchase (never at time 0)
    the customer leaves for good with probability p_drop. Spend: nu ~ Gamma(q,
    rate v) per customer, each repeat purchase z ~ Gamma(p, rate nu). This is
    the process whose likelihood lifetimes' BetaGeoFitter maximises (lifetimes'
    own generator is not).

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha, a, b : float
        BG/NBD parameters; alpha in the time unit of ``T``.
    p, q, v : float
        Gamma-Gamma parameters.
    T : float or array of shape (n,)
        Observation length after each first purchase.
    seed : int, optional
        Seed for ``numpy.random.default_rng``.

    Returns
    -------
    DataFrame
        Index ``customer_id`` (0..n-1); ``frequency`` (int64), ``recency``,
        ``T``, ``monetary_value`` (mean repeat spend, 0 without repeats), in
        continuous time.
    """
    rng = np.random.default_rng(seed)
    age = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    owner, time, amount, _ = _simulate_events(rng, age, r, alpha, a, b, p, q, v)
    frequency = np.bincount(owner, minlength=n)
    recency = np.zeros(n)
    np.maximum.at(recency, owner, time)
    spend = np.bincount(owner, weights=amount, minlength=n)
    return pd.DataFrame(
        {
            "frequency": frequency.astype("int64"),
            "recency": recency,
            "T": age,
            "monetary_value": np.divide(spend, frequency, out=np.zeros(n), where=frequency > 0),
        },
        index=pd.RangeIndex(n, name=CUSTOMER_ID),
    )


def simulate_transactions(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    p: float,
    q: float,
    v: float,
    T: float,
    seed: int | None = None,
    *,
    acquisition_period: float = 0.0,
    start="2020-01-01",
    unit_days: float = 7.0,
) -> pd.DataFrame:
    """Simulate order lines (one line per order) from the BG/NBD + Gamma-Gamma process.

    Customers' first purchases are spread uniformly over ``acquisition_period``
    after ``start``; each is then observed until ``T`` after ``start``. Process
    as in :func:`simulate_bgnbd_gg`; the first purchase's amount is drawn like
    the others.

    Parameters
    ----------
    n, r, alpha, a, b, p, q, v, seed
        As in :func:`simulate_bgnbd_gg`.
    T : float
        Study length in model time units, from ``start``.
    acquisition_period : float
        Window (model time units) over which first purchases are spread.
    start : date-like
        Calendar time of t = 0.
    unit_days : float
        Days per model time unit (7 for weekly parameters).

    Returns
    -------
    DataFrame
        ``customer_id`` (str), ``order_id`` (str), ``timestamp``, ``amount``,
        sorted by customer and time.
    """
    rng = np.random.default_rng(seed)
    entry = rng.uniform(0.0, acquisition_period, n)
    owner, time, amount, nu = _simulate_events(rng, T - entry, r, alpha, a, b, p, q, v)
    first_amount = rng.gamma(p, 1.0 / nu)
    who = np.concatenate([np.arange(n), owner])
    when = np.concatenate([entry, entry[owner] + time])
    order = np.lexsort((when, who))
    who, when = who[order], when[order]
    return pd.DataFrame(
        {
            CUSTOMER_ID: "c" + pd.Series(who).astype("str"),
            ORDER_ID: "o" + pd.Series(np.arange(who.size)).astype("str"),
            TIMESTAMP: pd.Timestamp(start) + pd.to_timedelta(when * unit_days, unit="D"),
            AMOUNT: np.concatenate([first_amount, amount])[order],
        }
    )


# ----------------------------------------------------------------------------- report helpers


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
        expected = fitter.conditional_expected_number_of_purchases_up_to_time(
            next_periods * factor, freq, rec * factor, age)
    return pd.DataFrame({"frequency": freq.astype("int64"), "recency": rec, "p_alive": np.asarray(p_alive, float),
                         "expected_purchases": np.asarray(expected, float)})


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
    """
    fitter = _fitter_of(fit)
    if months < 0:
        raise ValueError("months must be >= 0")
    steps = np.arange(months + 1)
    t = steps * days_per_month / UNIT_DAYS[fit.time_unit or "W"]
    with _quiet():
        values = np.asarray(fitter.expected_number_of_purchases_up_to_time(t), dtype=float)
    values = np.where(steps == 0, 0.0, values)
    return pd.Series(values, index=pd.RangeIndex(months + 1, name="month"), name="expected_purchases")


def clv_by_group(scores: pd.DataFrame, groups: pd.Series, min_customers: int = 1) -> pd.DataFrame:
    """Customers, mean and total CLV per group (segment, channel, cohort...).

    Parameters
    ----------
    scores : :func:`predict_customers` output (``clv``, ``p_alive``,
        ``expected_purchases``), indexed by customer.
    groups : Series indexed by customer; customers without a group count as "(unknown)".
    min_customers : groups smaller than this are pooled into "(other)".

    Returns
    -------
    DataFrame
        Index: group (in the order of ``groups``' categories when categorical,
        else by total CLV, largest first); ``customers``, ``mean_clv``,
        ``median_clv``, ``total_clv``, ``share_clv`` (of the base's total),
        ``mean_p_alive``, ``mean_expected_purchases``.
    """
    require_columns(scores, ("clv", "p_alive", "expected_purchases"), "scores")
    g = groups.reindex(scores.index)
    categorical = isinstance(g.dtype, pd.CategoricalDtype)
    g = g.astype("object").where(g.notna(), "(unknown)")
    if min_customers > 1:
        sizes = g.map(g.value_counts())
        g = g.where(sizes >= min_customers, "(other)")
    out = scores.groupby(g.rename("group"), sort=False).agg(
        customers=("clv", "size"), mean_clv=("clv", "mean"), median_clv=("clv", "median"),
        total_clv=("clv", "sum"), mean_p_alive=("p_alive", "mean"),
        mean_expected_purchases=("expected_purchases", "mean"),
    )
    total = float(scores["clv"].sum())
    out.insert(4, "share_clv", out["total_clv"] / total if total else np.nan)
    if categorical:
        order = [c for c in groups.cat.categories if c in out.index]
        return out.reindex(order + [c for c in out.index if c not in order])
    return out.sort_values("total_clv", ascending=False)


def default_period_days(transactions: pd.DataFrame, observation_end=None, min_days: int = 28) -> int:
    """Period for :func:`simple_clv`: a year when the data covers two (5 % tolerance), else half its span.

    Retention is measured from one period to the next, so two full periods are
    needed; shorter periods are annualised by :func:`simple_clv`.

    Returns
    -------
    int
        365, or floor(days covered / 2), at least ``min_days``.
    """
    ts = pd.to_datetime(transactions[TIMESTAMP])
    end = (ts.max() if observation_end is None else pd.Timestamp(observation_end)).normalize() + pd.Timedelta(days=1)
    span = (end - ts.min().normalize()).days
    return 365 if span >= 0.95 * 730 else max(min_days, span // 2)


_SQL_PERIOD_ACTIVITY = """
SELECT customer_id, MIN("timestamp") AS first_time,
       COALESCE(BOOL_OR("timestamp" >= {prev_start} AND "timestamp" < {cur_start}), FALSE) AS previous,
       COALESCE(BOOL_OR("timestamp" >= {cur_start} AND "timestamp" < {end}), FALSE) AS current,
       COALESCE(SUM(CASE WHEN "timestamp" >= {cur_start} AND "timestamp" < {end} THEN CAST(amount AS DOUBLE) END),
                0.0) AS revenue
FROM src
GROUP BY customer_id
ORDER BY customer_id
"""


def _period_activity(transactions: pd.DataFrame, end: pd.Timestamp, period_days: int) -> pd.DataFrame:
    """Per customer (missing ids: one group): first time, bought in the previous / last period, last period's revenue.

    One DuckDB pass over the lines when the engine is available, else a pandas group-by.
    """
    length = pd.Timedelta(days=period_days)
    ts = pd.to_datetime(transactions[TIMESTAMP])
    tz_free = getattr(ts.dtype, "tz", None) is None
    from lclib.engine import sql as engine

    if engine.check_engine(None) == "duckdb" and tz_free:
        lit = engine.sql_timestamp
        got = engine.query(
            pd.DataFrame({CUSTOMER_ID: transactions[CUSTOMER_ID], TIMESTAMP: ts, AMOUNT: transactions[AMOUNT]}),
            _SQL_PERIOD_ACTIVITY.format(prev_start=lit(end - 2 * length), cur_start=lit(end - length), end=lit(end)))
        index = pd.Index(got[CUSTOMER_ID], name=CUSTOMER_ID)
        if transactions[CUSTOMER_ID].notna().all():
            index = index.astype(transactions[CUSTOMER_ID].dtype)
        return pd.DataFrame({"first_time": got["first_time"].to_numpy(), "previous": got["previous"].to_numpy(bool),
                             "current": got["current"].to_numpy(bool),
                             "revenue": got["revenue"].to_numpy(dtype="float64")}, index=index)
    current = (ts >= end - length) & (ts < end)
    frame = pd.DataFrame({"first_time": ts, "previous": (ts >= end - 2 * length) & (ts < end - length),
                          "current": current,
                          "revenue": transactions[AMOUNT].astype("float64").where(current, 0.0)})
    return frame.groupby(transactions[CUSTOMER_ID].rename(CUSTOMER_ID), dropna=False).agg(
        first_time=("first_time", "min"), previous=("previous", "any"), current=("current", "any"),
        revenue=("revenue", "sum"))


def simple_clv_by_channel(
    transactions: pd.DataFrame,
    channels: pd.Series,
    observation_end=None,
    *,
    margin_rate: float = 0.3,
    cac: pd.Series | None = None,
    period_days: int | None = None,
    max_lifetime_years: float = 10.0,
) -> pd.DataFrame:
    """:func:`simple_clv` overall and per acquisition channel, one row each.

    Parameters
    ----------
    transactions : order lines.
    channels : acquisition channel per customer (index ``customer_id``).
    observation_end, margin_rate, max_lifetime_years : as in :func:`simple_clv`.
    period_days : as in :func:`simple_clv`; None = :func:`default_period_days`
        (a year with two years of data, else half the span), stored in
        ``attrs["period_days"]``.
    cac : CAC per channel (index channel); missing channels, and the "All
        customers" row unless ``cac`` has that label, use 0.

    Returns
    -------
    DataFrame
        Index ``channel`` ("All customers" first); columns ``active_previous``,
        ``retained``, ``retention_rate``, ``annual_churn_rate``,
        ``expected_lifetime_years``, ``annual_revenue_per_customer``,
        ``annual_margin_per_customer``, ``value_before_cac`` (margin x
        lifetime), ``cac``, ``clv`` (value - CAC), ``formula`` and ``notes``
        (caveats in words, "" when none).
    """
    cac = pd.Series(dtype=float) if cac is None else cac
    ts = pd.to_datetime(transactions[TIMESTAMP])
    observation_end = ts.max() if observation_end is None else observation_end
    if period_days is None:
        period_days = default_period_days(transactions, observation_end)
    end = pd.Timestamp(observation_end).normalize() + pd.Timedelta(days=1)
    per_customer = _period_activity(transactions, end, period_days)
    # customers come sorted, as an acquisitions table is: reindex then skips the hash look-ups
    channel_of = channels.reindex(per_customer.index)
    rows = {}
    labels = ["All customers"] + sorted(channel_of.dropna().unique().tolist())
    for label in labels:  # a handful of channels, on one row per customer
        part = per_customer if label == "All customers" else per_customer.loc[(channel_of == label).to_numpy()]
        cost = float(cac.get(label, 0.0)) if np.isfinite(cac.get(label, 0.0)) else 0.0
        res = _simple_clv_from_counts(
            int(part["previous"].sum()), int((part["previous"] & part["current"]).sum()), int(part["current"].sum()),
            float(part["revenue"].sum()), part["first_time"].min(), end, period_days, margin_rate, cost,
            max_lifetime_years)
        rows[label] = {
            "active_previous": res.active_previous, "retained": res.retained,
            "retention_rate": res.retention_rate, "annual_churn_rate": res.annual_churn_rate,
            "expected_lifetime_years": res.expected_lifetime_years,
            "annual_revenue_per_customer": res.annual_revenue_per_customer,
            "annual_margin_per_customer": res.annual_margin_per_customer,
            "value_before_cac": res.annual_margin_per_customer * res.expected_lifetime_years,
            "cac": cost, "clv": res.clv, "formula": res.formula, "notes": " ".join(res.notes),
        }
    out = pd.DataFrame.from_dict(rows, orient="index")
    out.index.name = "channel"
    out.attrs["period_days"] = period_days
    return out
