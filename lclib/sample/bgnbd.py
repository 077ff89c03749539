"""Repeat purchases and order values drawn from the BG/NBD and Gamma-Gamma models as defined, and their closed-form expectations (the truth the sample's CLV checks compare with)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class _BGNBDDraw:
    """Latent BG/NBD draws for ``n`` customers observed on ``(0, T_i]``.

    ``owner``/``time`` list every event of the customers' *underlying* Poisson
    processes in ``(0, T_i]``, sorted by owner then time; the first
    ``n_until_dropout[i]`` events of customer ``i`` are real purchases
    (``kept``), later ones happen after the dropout and are discarded.
    """

    lam: np.ndarray
    p: np.ndarray
    n_until_dropout: np.ndarray
    owner: np.ndarray
    time: np.ndarray
    kept: np.ndarray


def _draw_bgnbd(T: np.ndarray, r: float, alpha: float, a: float, b: float, rng: np.random.Generator) -> _BGNBDDraw:
    """Simulate the BG/NBD purchase process from its definition.

    The customer drops out right after the ``N``-th repeat purchase with
    ``N ~ Geometric(p)`` on ``{1, 2, ...}`` (a coin with probability ``p`` after
    each repeat purchase). With ``M`` the number of events of the Poisson
    process in ``(0, T]`` (``Poisson(lambda T)``, positions i.i.d. uniform), the
    observed repeat purchases are the first ``min(N, M)`` of them. This equals
    cutting a run of exponential gaps at ``T`` but needs no cap on ``N``.
    """
    T = np.asarray(T, dtype=float)
    n = T.size
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = np.clip(rng.beta(a, b, n), 1e-12, 1.0)
    n_until_dropout = rng.geometric(p)
    m = rng.poisson(lam * T)
    owner = np.repeat(np.arange(n), m)
    time = rng.random(owner.size) * T[owner]
    order = np.lexsort((time, owner))
    owner, time = owner[order], time[order]
    first = np.repeat(np.cumsum(m) - m, m)
    rank = np.arange(owner.size) - first
    kept = rank < n_until_dropout[owner]
    return _BGNBDDraw(lam, p, n_until_dropout, owner, time, kept)


def simulate_bgnbd(
    n: int,
    r: float,
    alpha: float,
    a: float,
    b: float,
    T: float | np.ndarray,
    rng: np.random.Generator | int | None = None,
) -> pd.DataFrame:
    """Simulate repeat purchases of ``n`` customers under the BG/NBD model.

    Parameters
    ----------
    n : int
        Number of customers.
    r, alpha : float
        ``lambda ~ Gamma(shape r, rate alpha)``: purchase rate while alive.
    a, b : float
        ``p ~ Beta(a, b)``: dropout probability after each repeat purchase.
    T : float or array of shape (n,)
        Observation length since each customer's first purchase (same unit as
        ``1 / lambda``, e.g. weeks).
    rng : numpy Generator, seed or None

    Returns
    -------
    pandas.DataFrame
        One row per customer with the usual summary columns: ``frequency``
        (number of repeat purchases in ``(0, T]``), ``recency`` (time of the
        last repeat purchase since the first one, 0 without repeats) and ``T``.
    """
    rng = np.random.default_rng(rng)
    T = np.broadcast_to(np.asarray(T, dtype=float), (n,)).copy()
    draw = _draw_bgnbd(T, r, alpha, a, b, rng)
    owner, time = draw.owner[draw.kept], draw.time[draw.kept]
    frequency = np.bincount(owner, minlength=n)
    recency = np.zeros(n)
    recency[owner] = time  # events are sorted by time within owner: the last write wins
    return pd.DataFrame({"frequency": frequency, "recency": recency, "T": T})


def simulate_gamma_gamma(
    n_orders: np.ndarray,
    p: float,
    q: float,
    v: float,
    rng: np.random.Generator | int | None = None,
) -> pd.DataFrame:
    """Simulate order values under the Gamma-Gamma spend model.

    Parameters
    ----------
    n_orders : array of int
        Number of orders of each customer.
    p, q, v : float
        ``nu ~ Gamma(shape q, rate v)`` per customer and each order value
        ``z ~ Gamma(shape p, rate nu)``; ``E[z] = p * v / (q - 1)``.
    rng : numpy Generator, seed or None

    Returns
    -------
    pandas.DataFrame
        One row per order: ``customer`` (position in ``n_orders``), ``nu`` (the
        customer's latent rate) and ``value``.
    """
    rng = np.random.default_rng(rng)
    n_orders = np.asarray(n_orders, dtype=int)
    nu = rng.gamma(q, 1.0 / v, n_orders.size)
    customer = np.repeat(np.arange(n_orders.size), n_orders)
    value = rng.gamma(p, 1.0, customer.size) / nu[customer]
    return pd.DataFrame({"customer": customer, "nu": nu[customer], "value": value})


def bgnbd_prob_no_repeat(t: float | np.ndarray, r: float, alpha: float) -> np.ndarray:
    """BG/NBD ``P(X(t) = 0) = (alpha / (alpha + t)) ** r`` (independent of a, b).

    No dropout can happen before the first repeat purchase, so zero repeats
    means no Poisson event in ``(0, t]``.
    """
    t = np.asarray(t, dtype=float)
    return (alpha / (alpha + t)) ** r


def _hyp2f1_series(a: float, b: float, c: float, z: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Gauss hypergeometric 2F1(a, b; c; z) for 0 <= z < 1 by its power series.

    Enough terms are summed for ``z**n`` to fall below ``e**-60`` at the largest ``z``.
    """
    z = np.atleast_1d(np.asarray(z, dtype=float))
    zmax = float(z.max()) if z.size else 0.0
    n_terms = 200 if zmax <= 0 else int(min(200_000, 200 + 60 / -math.log(zmax)))
    k = np.arange(n_terms - 1, dtype=float)
    ratios = (a + k) * (b + k) / ((c + k) * (k + 1.0))  # coefficient ratios, without z
    log_coef = np.concatenate([[0.0], np.cumsum(np.log(np.abs(ratios)))])
    sign = np.concatenate([[1.0], np.cumprod(np.sign(ratios))])
    n = np.arange(n_terms, dtype=float)
    log_z = np.log(np.where(z > 0, z, 1.0))
    out = np.empty_like(z)
    for lo in range(0, z.size, chunk):  # bounded memory: chunk x n_terms
        terms = sign * np.exp(log_coef + n * log_z[lo : lo + chunk, None])
        out[lo : lo + chunk] = terms.sum(axis=1)
    return np.where(z > 0, out, 1.0)


def bgnbd_expected_repeats(t: float | np.ndarray, r: float, alpha: float, a: float, b: float) -> np.ndarray:
    """BG/NBD expected number of repeat purchases in ``(0, t]`` (FHL 2005, eq. 9).

    ``E[X(t)] = (a+b-1)/(a-1) * [1 - (alpha/(alpha+t))**r * 2F1(r, b; a+b-1; t/(alpha+t))]``,
    valid for ``a != 1`` (for ``a < 1`` both factors are negative).
    """
    t = np.atleast_1d(np.asarray(t, dtype=float))
    uniq, inverse = np.unique(t, return_inverse=True)
    z = uniq / (alpha + uniq)
    h = _hyp2f1_series(r, b, a + b - 1.0, z)
    ex = (a + b - 1.0) / (a - 1.0) * (1.0 - (alpha / (alpha + uniq)) ** r * h)
    return ex[inverse]
