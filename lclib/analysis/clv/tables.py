"""Report tables of the CLV models: labelled parameters, CLV by group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lclib.analysis.clv.fitting import _FITTERS, FitResult
from lclib.io.columns import require_columns


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



def clv_by_group(scores: pd.DataFrame, groups: pd.Series, min_customers: int = 1) -> pd.DataFrame:
    """Customers, mean and total CLV per group (segment, channel, cohort...).

    Parameters
    ----------
    scores : :func:`predict_customers` output (``clv``, ``p_alive``,
        ``expected_purchases``), indexed by customer.
    groups : Series indexed by customer; customers without a group count as "(unknown)".
    min_customers : groups smaller than this are pooled into "(other)".

    Raises
    ------
    ValueError
        When a score is NaN or infinite (means would skip it without saying so).

    Returns
    -------
    DataFrame
        Index: group (in the order of ``groups``' categories when categorical,
        else by total CLV, largest first); ``customers``, ``mean_clv``,
        ``median_clv``, ``total_clv``, ``share_clv`` (of the base's total),
        ``mean_p_alive``, ``mean_expected_purchases``.
    """
    require_columns(scores, ("clv", "p_alive", "expected_purchases"), "scores")
    undefined = int((~np.isfinite(scores[["clv", "p_alive", "expected_purchases"]].to_numpy(dtype=float))).any(
        axis=1).sum())
    if undefined:  # a group mean would skip them silently
        raise ValueError(f"{undefined:,} customers have an undefined (NaN or infinite) score; leave them out "
                         "(predict_customers(..., undefined='exclude')) and say how many")
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


def _interval_text(lower: float, upper: float, weak_ratio: float) -> str:
    if not (np.isfinite(lower) and np.isfinite(upper)) or lower <= 0:
        return "not measurable"
    text = f"{lower:.3g} to {upper:.3g}"
    with np.errstate(over="ignore"):  # 1e-170 to 1e+182: the factor is past any float
        ratio = upper / lower
    if not np.isfinite(ratio):
        factor = f"about 1e+{np.log10(upper) - np.log10(lower):.0f}"
    else:
        factor = f"{ratio:,.0f}" if ratio < 1e4 else f"{ratio:.1e}"
    return f"{text} (a factor of {factor})" if ratio > weak_ratio else text


def parameter_comparison(full: FitResult, calibration: FitResult | None = None,
                         weak_ratio: float = 10.0) -> pd.DataFrame:
    """The fit on all the data beside the calibration-window fit, with 95 % intervals in words.

    Parameters
    ----------
    full : the fit used for predictions (all the data).
    calibration : the fit the holdout check uses (data up to the calibration end), or None.
    weak_ratio : intervals whose upper / lower exceeds it say the factor
        (``clv.weak_interval_ratio``).

    Returns
    -------
    DataFrame
        One row per parameter: ``Parameter``, ``Meaning``, ``All data: estimate``,
        ``All data: 95 % interval`` and, with ``calibration``, the same two for
        ``Calibration``. Estimates are NaN and intervals "not fitted" when a fit
        did not converge; an interval that cannot be measured reads "not measurable".
    """
    names = list(full.confidence_intervals.index)
    out = pd.DataFrame({"Parameter": names,
                        "Meaning": [PARAMETER_MEANINGS.get((full.model, n), "") for n in names]})
    for label, fit in (("All data", full), ("Calibration", calibration)):
        if fit is None:
            continue
        ci = fit.confidence_intervals.reindex(names)
        fitted = fit.converged
        out[f"{label}: estimate"] = ci["estimate"].to_numpy(dtype=float) if fitted else np.nan
        out[f"{label}: 95 % interval"] = [
            _interval_text(lo, hi, weak_ratio) if fitted else "not fitted"
            for lo, hi in zip(ci["lower"].to_numpy(dtype=float), ci["upper"].to_numpy(dtype=float))]
    return out


def _number(value: float) -> float | None:
    """A recorded number: 6 significant figures, None when undefined."""
    value = float(value)
    return float(f"{value:.6g}") if np.isfinite(value) else None


def fit_metrics(fit: FitResult | None, key: str, label: str, model: str | None = None) -> list[tuple]:
    """Headline entries of one fit: each parameter with its 95 % interval, and the log-likelihood.

    The notebook records them (``for m in fit_metrics(...): record(*m)``); analysis
    modules never record. Names are ``{key}_{parameter}``, ``..._low``,
    ``..._high`` and ``{key}_loglik``; every name is present whether the fit
    converged or not (value None then), so run.json keeps one shape.

    Parameters
    ----------
    fit : the fit, or None when it was not attempted.
    key : name prefix, e.g. ``"bgnbd_cal"``.
    label : words for the labels, e.g. "BG/NBD, calibration window".
    model : the model (for its parameter names) when ``fit`` is None.

    Returns
    -------
    list of (name, value, label, unit)
    """
    names = _FITTERS[fit.model if fit is not None else model][1]
    ci = (fit.confidence_intervals.reindex(list(names)) if fit is not None and fit.converged
          else pd.DataFrame(np.nan, index=list(names), columns=["estimate", "lower", "upper"]))
    out = []
    for name in names:
        row = ci.loc[name]
        out += [(f"{key}_{name}", _number(row["estimate"]), f"{label}: {name}", ""),
                (f"{key}_{name}_low", _number(row["lower"]), f"{label}: {name}, 95 % interval low", ""),
                (f"{key}_{name}_high", _number(row["upper"]), f"{label}: {name}, 95 % interval high", "")]
    loglik = fit.log_likelihood if fit is not None and fit.converged else np.nan
    out.append((f"{key}_loglik", _number(loglik), f"{label}: log-likelihood", ""))
    return out
