"""Confidence intervals for proportions (one Wilson interval for every report)."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri

#: Normal quantile of a two-sided 95 % interval (``scipy.stats.norm.ppf(0.975)``, which is ``ndtri``; the
#: special function spares every report kernel that needs no test the 0.6 s import of ``scipy.stats``).
_Z95 = float(ndtri(0.975))


def wilson_interval(successes, trials, z: float = _Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (vectorized).

    Parameters
    ----------
    successes, trials : array-like of counts (same shape). Where ``trials == 0``
        both bounds are NaN.
    z : normal quantile; the default gives 95 % intervals.

    Returns
    -------
    (lower, upper) : arrays of floats in [0, 1].

    Notes
    -----
    ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``p = k/n``;
    equals ``statsmodels.stats.proportion.proportion_confint(method="wilson")``.
    Unlike the normal approximation it stays inside [0, 1] and is usable at 0 or n
    successes.
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1.0 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    # the interval always holds p; rounding can put a bound a hair past it (at k = n the upper
    # bound comes out as 1 - 1e-16), which would make an error bar of negative length
    lower = np.clip(np.minimum(centre - half, p), 0, 1)
    upper = np.clip(np.maximum(centre + half, p), 0, 1)
    bad = ~(n > 0)
    return np.where(bad, np.nan, lower), np.where(bad, np.nan, upper)
