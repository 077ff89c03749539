"""Fitting the purchase models (BG/NBD, MBG/NBD, Pareto/NBD) and the Gamma-Gamma spend model.

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

from lclib.analysis import wording
from lclib.engine.contracts import UNIT_DAYS
from lclib.io.columns import require_columns

BGModel = Literal["bgnbd", "mbgnbd", "paretonbd", "auto"]
#: The purchase models ``model="auto"`` compares, in this order (ties keep the first).
PURCHASE_MODELS = ("bgnbd", "mbgnbd", "paretonbd")

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
#: Reader-facing model names (the ``clv.model`` values and ``gamma_gamma``): :data:`lclib.analysis.wording.MODEL_NAMES`.
MODEL_NAMES = _MODEL_NAMES = wording.MODEL_NAMES
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
    comparison : DataFrame or None
        With ``model="auto"`` (:func:`fit_bgnbd_robust`): every model tried,
        see :func:`compare_fits`.
    log_covariance : DataFrame or None
        Covariance of the log-parameters (the scale the intervals are built on);
        None when unknown (not converged, Hessian not positive definite).
        :func:`lclib.analysis.clv.prediction.clv_intervals` draws from it.
    at_boundary : bool
        Status ``"failed"`` because every start ran to the edge of the parameters
        (BG/NBD, MBG/NBD: ``a`` or ``b`` toward 0, the likelihood still rising):
        no penalizer (which pulls every parameter toward 0) or time unit (which
        leaves ``a`` and ``b`` as they are) can give a usable fit, so
        :func:`fit_bgnbd_robust` tries none.
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
    comparison: pd.DataFrame | None = None
    log_covariance: pd.DataFrame | None = None
    at_boundary: bool = False

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


def _numeric_intervals(model: str, params: dict[str, float], data: tuple[np.ndarray, ...],
                       weights: np.ndarray | None = None, step: float = 1e-4) -> pd.DataFrame:
    """95 % intervals from the numerical Hessian of the log-likelihood in log-parameters.

    The same construction as :func:`_confidence_intervals` (Wald on the log scale,
    delta-method standard errors) for a model lifetimes gives no variance matrix
    (Pareto/NBD). Central differences of :func:`_log_likelihood`, step ``step`` in
    each log-parameter; NaN when the Hessian is not positive definite.
    """
    names = _FITTERS[model][1]
    theta = np.log([params[k] for k in names])
    k = len(theta)

    def nll(th):
        return -_log_likelihood(model, dict(zip(names, np.exp(th))), data, weights)

    hessian = np.empty((k, k))
    f0 = nll(theta)
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * step, np.eye(k)[j] * step
            if i == j:
                value = (nll(theta + ei) - 2 * f0 + nll(theta - ei)) / step**2
            else:
                value = (nll(theta + ei + ej) - nll(theta + ei - ej) - nll(theta - ei + ej)
                         + nll(theta - ei - ej)) / (4 * step**2)
            hessian[i, j] = hessian[j, i] = value
    estimate = np.exp(theta)
    with np.errstate(all="ignore"):
        try:
            covariance = np.linalg.inv(hessian)
            se_log = np.sqrt(np.diag(covariance))
        except np.linalg.LinAlgError:
            se_log = np.full(k, np.nan)
        positive = bool(np.all(np.linalg.eigvalsh(hessian) > 0))
        if not positive:
            se_log = np.full(k, np.nan)
        spread = np.exp(_Z95 * se_log)
    out = pd.DataFrame({"estimate": estimate, "se": estimate * se_log, "lower": estimate / spread,
                        "upper": estimate * spread}, index=pd.Index(names, name="param"))
    out.attrs["log_covariance"] = (pd.DataFrame(covariance, index=list(names), columns=list(names))
                                   if positive and np.isfinite(se_log).all() else None)
    return out


def fit_from_params(model: str, params: dict[str, float], *, time_unit: str | None = "W",
                    n_customers: int = 0) -> FitResult:
    """A converged :class:`FitResult` with given parameters (published values, a bootstrap draw).

    Its lifetimes fitter carries ``params``, so every prediction function
    accepts it; intervals are NaN and ``log_likelihood`` is NaN.
    """
    cls, names = _FITTERS[model]
    missing = [k for k in names if k not in params]
    if missing:
        raise ValueError(f"{_MODEL_NAMES[model]} needs parameters {list(names)}; missing {missing}")
    fitter = cls()
    fitter.params_ = pd.Series({k: float(params[k]) for k in names})
    ci = pd.DataFrame({"estimate": [float(params[k]) for k in names], "se": np.nan, "lower": np.nan,
                       "upper": np.nan}, index=pd.Index(names, name="param"))
    return FitResult(model, "ok", dict(fitter.params_), ci, n_customers, np.nan, fitter, time_unit=time_unit)


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


_BOUNDARY_MESSAGE = (
    "{model} did not converge: from every start the fit ran toward the edge of its parameters ({detail} "
    "where it stopped), the likelihood still rising: {meaning}. These purchase histories cannot tell "
    "customers who have stopped buying from customers who are between purchases, and no penalizer or other "
    "time unit changes that (none was tried); report observed repeat rates and the simple CLV formula "
    "instead of model-based CLV."
)
#: What a fit running to each edge would mean: the dropout probability p ~ Beta(a, b) after each purchase.
_BOUNDARY_MEANING = {
    ("a",): "the model would have almost nobody ever stop buying",
    ("b",): "the model would have nearly every buyer stop right after a purchase",
    ("a", "b"): "the model would split customers into some who stop right after a purchase and some who never do",
}


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


class _AtBoundary(ConvergenceError):
    """Every start of a fit stopped short of converging with a dropout parameter at its boundary."""

    def __init__(self, params: dict[str, float]):
        super().__init__(f"every start ran to the boundary {params}")
        self.params = params


#: The parameters scipy's result shows where a failed lifetimes fit stopped (``x``, on the log scale).
_FINAL_X = re.compile(r"^\s*x: (?:array\(\[)?\[?([^\]]*)\]", re.M)


def _stopped_at(printed: str, names: tuple[str, ...]) -> dict[str, float] | None:
    """The parameters (natural scale) where a failed BG/NBD-family fit stopped, read off the scipy result
    lifetimes printed before raising; None when that cannot be read.

    Examples
    --------
    >>> _stopped_at("  success: False\\n        x: [ 1.000e+00 -2.000e+00 -4.000e+01  9.000e+00]\\n",
    ...             ("r", "alpha", "a", "b"))["a"] < 1e-15
    True
    """
    found = _FINAL_X.search(printed)
    if not found:
        return None
    try:
        values = np.exp(np.array(found.group(1).replace(",", " ").split(), dtype=float))
    except ValueError:
        return None
    return dict(zip(names, values.tolist())) if len(values) == len(names) else None


def _fit_from_starts(make_fitter: Callable[[], Any], data: tuple[np.ndarray, ...],
                     starts: tuple[np.ndarray | None, ...], extra: dict | None = None,
                     names: tuple[str, ...] = (), boundary: tuple[str, ...] = ()) -> Any:
    """Fit a lifetimes model from each start in turn until one converges.

    lifetimes minimises with BFGS from one fixed start (log-parameters 0.1, or
    ``None`` below) and raises ConvergenceError when scipy reports a loss of
    precision, which also happens right at the maximum of a flat likelihood: on
    one draw of the sample, Gamma-Gamma stopped with a gradient of 1e-7 at the
    maximum and raised, and the penalized fallback then gave biased parameters.
    Other starts reach the same maximum without the complaint. Re-raises the
    last error when every start fails; :class:`_AtBoundary` when every start
    stopped with one of the parameters named in ``boundary`` below :data:`BOUNDARY`
    (``names``: the model's parameters in the optimizer's order, on the log scale
    it works on): the likelihood rising toward a limit no fit reaches.
    """
    error: Exception | None = None
    stops: list[dict[str, float] | None] = []
    for start in starts:
        fitter = make_fitter()
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            try:
                return fitter.fit(*data, **(extra or {}), **({} if start is None else {"initial_params": start}))
            except ConvergenceError as failed:
                error = failed
        print(printed.getvalue(), end="")  # to the caller's capture, as without the per-start one
        if boundary:
            stops.append(_stopped_at(printed.getvalue(), names))
    if boundary and stops and all(x is not None and min(x[k] for k in boundary) < BOUNDARY for x in stops):
        raise _AtBoundary(stops[-1]) from error
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
                                      {} if weights is None else {"weights": w}, names,
                                      boundary=() if model == "paretonbd" else ("a", "b"))
    except _AtBoundary as stopped:
        edge = tuple(k for k in ("a", "b") if stopped.params[k] < BOUNDARY)
        detail = ", ".join(f"{k} = {stopped.params[k]:.2g}" for k in edge)
        return _not_fitted(model, "failed", n, _BOUNDARY_MESSAGE.format(
            model=name, detail=detail, meaning=_BOUNDARY_MEANING[edge]), at_boundary=True, **extra)
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
    # lifetimes has no variance matrix for Pareto/NBD: intervals from the likelihood's curvature
    ci = (_numeric_intervals(model, params, data) if model == "paretonbd"
          else _confidence_intervals(fitter, names))
    result = FitResult(
        model, "ok", params, ci, n,
        _log_likelihood(model, params, data, None if weights is None else w), fitter, **extra,
    )
    # lifetimes' variance matrices are not symmetric (Gamma-Gamma's off-diagonals differ by 3x on CDNOW):
    # the covariance used for draws comes from lclib's own Hessian, whose diagonal equals lifetimes' errors
    result.log_covariance = (ci if model == "paretonbd" else _numeric_intervals(
        model, params, data, None if weights is None else w)).attrs.pop("log_covariance", None)
    problem = _degeneracy(model, params, float(data[2].max()))
    if problem:
        result.status = "degenerate"
        result.warnings.append(_DEGENERATE_MESSAGE.format(model=name, detail=problem))
    if penalizer > 0:
        result.warnings.append(
            f"Fitted with penalizer {penalizer}, which pulls every parameter toward 0; "
            "estimates are biased by an amount that grows with the penalizer."
        )
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
    penalizer shrinks parameters toward 0 and cannot cure ``a`` near 0; for the
    same reason a fit that failed with every start running to that boundary
    (``at_boundary``) ends the ladder.

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
        converged. With ``model="auto"`` each of :data:`PURCHASE_MODELS` is
        fitted so and the one with the lowest BIC among the non-degenerate fits
        in the requested time unit is returned, ``comparison`` holding
        :func:`compare_fits` of them all.
    """
    if model == "auto":
        fits = {m: fit_bgnbd_robust(summary, penalizer, m, time_unit=time_unit,
                                    min_repeat_customers=min_repeat_customers, fallback_penalizers=fallback_penalizers,
                                    max_fit_customers=max_fit_customers, random_state=random_state)
                for m in PURCHASE_MODELS}
        table = compare_fits(fits, time_unit)
        chosen = fits[table.index[0]]
        chosen.comparison = table
        if table["chosen"].iloc[0]:
            chosen.warnings.append(
                f"{_MODEL_NAMES[chosen.model]} was chosen (`clv.model: auto`): the lowest BIC of "
                f"{', '.join(_MODEL_NAMES[m] for m in PURCHASE_MODELS)} on these data.")
        return chosen
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
        if result.status != "failed" or result.at_boundary:  # converged, or no amount of retrying helps
            result.attempts = attempts
            return _mark_sampled(result, population, "purchase model")
    return _mark_sampled(_not_fitted(
        model, "failed", len(summary) if weights is None else int(weights.sum()),
        f"{_MODEL_NAMES[model]} could not be fitted: none of {len(attempts)} attempts converged "
        f"({'; '.join(attempts)}). The purchase histories do not pin down the model's parameters; "
        "report observed repeat rates and the simple CLV formula instead of model-based CLV.",
        penalizer=penalizer, time_unit=time_unit, attempts=attempts,
    ), population, "purchase model")


def compare_fits(fits: dict[str, FitResult], time_unit: str = "W") -> pd.DataFrame:
    """Purchase-model fits of the same data side by side: log-likelihood, AIC, BIC.

    Parameters
    ----------
    fits : {model: FitResult}, fitted on the same customers.
    time_unit : the requested unit; a fit that switched unit has a likelihood
        on another scale and is not ranked.

    Returns
    -------
    DataFrame
        Index ``model``, best first: ``name``, ``status`` (the fit's), ``parameters``
        (k), ``customers`` (n), ``log_likelihood``, ``aic`` (2k - 2 LL), ``bic``
        (k ln n - 2 LL), ``chosen`` (True for the first row when it is ranked:
        status ok, in ``time_unit``; ranked rows come first by BIC).
    """
    rows = {}
    for model, fit in fits.items():
        k, n = len(_FITTERS[model][1]), fit.n_customers
        ll = fit.log_likelihood if fit.converged else np.nan
        rows[model] = {"name": _MODEL_NAMES[model], "status": fit.status, "parameters": k, "customers": n,
                       "log_likelihood": ll, "aic": 2 * k - 2 * ll, "bic": k * np.log(max(n, 1)) - 2 * ll,
                       "ranked": fit.status == "ok" and (fit.time_unit or time_unit) == time_unit}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "model"
    order = sorted(table.index, key=lambda m: (not table.loc[m, "ranked"], not np.isfinite(table.loc[m, "bic"]),
                                               table.loc[m, "bic"] if np.isfinite(table.loc[m, "bic"]) else 0.0))
    table = table.loc[order]
    table["chosen"] = False
    if table["ranked"].iloc[0]:
        table.iloc[0, table.columns.get_loc("chosen")] = True
    return table.drop(columns="ranked")


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
    repeat = summary.loc[(summary["frequency"] > 0).to_numpy(), ["frequency", "monetary_value"]].astype(float)
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
    repeat = summary.loc[(summary["frequency"] > 0).to_numpy()]
    usable = repeat.loc[(repeat["monetary_value"] > 0).to_numpy()]
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
            log_covariance=_numeric_intervals("gamma_gamma", params, data).attrs["log_covariance"],
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
