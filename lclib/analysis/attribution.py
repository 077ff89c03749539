"""Channel credit for conversions: first touch, last touch and Markov-chain removal effect.

Input everywhere: the path table of :func:`lclib.analysis.journey.path_counts` - one row per
distinct channel path (channels joined by :data:`lclib.analysis.journey.PATH_SEP`) with the
``people`` who followed it and the ``conversions`` among them. Only paths with at
least one touch take part; conversions without any touchpoint are not attributed.

Markov-chain attribution (first order)
--------------------------------------
States: ``start``, one per channel, and two absorbing states ``conversion`` and
``null``. Every path ``c1 > c2 > ... > cn`` followed by ``people`` people adds
``people`` transitions start -> c1, c1 -> c2, ..., and ``conversions`` transitions
cn -> conversion and ``people - conversions`` transitions cn -> null. Rows are
normalised to probabilities. With Q the transient-to-transient block and R the
transient-to-absorbing block, the absorption probabilities are
B = (I - Q)^-1 R (solved with :func:`numpy.linalg.solve`, never inverted) and the
conversion probability is P = B[start, conversion].

Removing channel c sends every transition into c to ``null``; P_c is the conversion
probability of that chain. The *removal effect* is 1 - P_c / P and the Markov credit
of c is its removal effect over the sum of all removal effects, times the total
conversions (so credits add up to the conversions attributed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lclib.analysis.journey import PATH_SEP

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"


def _check(paths: pd.DataFrame) -> pd.DataFrame:
    need = {"path", "people", "conversions"}
    if not isinstance(paths, pd.DataFrame) or not need <= set(paths.columns):
        raise ValueError(f"paths must be a DataFrame with columns {sorted(need)}")
    p = paths.loc[paths["path"].notna() & (paths["path"].astype("str") != "")]
    people = p["people"].to_numpy(dtype=float)
    conv = p["conversions"].to_numpy(dtype=float)
    if (people < 0).any() or (conv < 0).any() or (conv > people).any():
        raise ValueError("paths need 0 <= conversions <= people on every row")
    return p


def _long(paths: pd.DataFrame) -> pd.DataFrame:
    """One row per (path row, position): ``row``, ``pos``, ``channel``, ``last`` (bool)."""
    split = paths["path"].astype("str").str.split(PATH_SEP, regex=False)
    long = pd.DataFrame({"row": np.arange(len(paths)), "channel": split.to_numpy()}).explode("channel")
    long["pos"] = long.groupby("row", sort=False).cumcount()
    long["last"] = long["row"].to_numpy() != np.roll(long["row"].to_numpy(), -1)
    if len(long):
        long.iloc[-1, long.columns.get_loc("last")] = True
    return long.reset_index(drop=True)


def touch_credit(paths: pd.DataFrame, model: str = "first") -> pd.Series:
    """Conversions credited to the first (``model="first"``) or last (``"last"``) channel of each path.

    Returns
    -------
    Series
        Index channel (every channel seen in the paths), conversions credited (float).
    """
    if model not in ("first", "last"):
        raise ValueError(f"model must be 'first' or 'last', got {model!r}")
    p = _check(paths)
    long = _long(p)
    pick = long.loc[long["pos"] == 0] if model == "first" else long.loc[long["last"]]
    conv = p["conversions"].to_numpy(dtype=float)[pick["row"].to_numpy()]
    credit = pd.Series(conv, index=pick["channel"].to_numpy()).groupby(level=0).sum()
    channels = sorted(long["channel"].unique())
    return credit.reindex(channels, fill_value=0.0).rename(f"{model}_touch").rename_axis("channel")


@dataclass
class MarkovResult:
    """A fitted first-order Markov attribution.

    ``transitions``: row-normalised transition probabilities (DataFrame, states
    start + channels as rows, channels + conversion + null as columns);
    ``conversion_probability``: P(conversion) from start; ``removal``: one row per
    channel with ``p_without``, ``removal_effect``, ``credit`` (conversions) and
    ``share`` (of the credit); ``conversions``: total conversions attributed.
    """

    transitions: pd.DataFrame
    conversion_probability: float
    removal: pd.DataFrame
    conversions: float


def _absorb(Q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Conversion probabilities from every transient state: solve (I - Q) x = r (batched)."""
    eye = np.broadcast_to(np.eye(Q.shape[-1]), Q.shape)
    return np.linalg.solve(eye - Q, r[..., None])[..., 0]


def markov_attribution(paths: pd.DataFrame) -> MarkovResult:
    """First-order Markov-chain attribution by removal effect (see the module docstring).

    Parameters
    ----------
    paths : :func:`lclib.analysis.journey.path_counts` output (``path``, ``people``, ``conversions``).

    Returns
    -------
    MarkovResult
    """
    p = _check(paths)
    if p.empty:
        raise ValueError("no paths with touchpoints: nothing to attribute")
    long = _long(p)
    channels = sorted(long["channel"].unique())
    n_ch = len(channels)
    code = pd.Index(channels).get_indexer(long["channel"]) + 1  # 0 = start
    s_conv, s_null = n_ch + 1, n_ch + 2
    people = p["people"].to_numpy(dtype=float)[long["row"].to_numpy()]
    conv = p["conversions"].to_numpy(dtype=float)[long["row"].to_numpy()]
    prev = np.where(long["pos"].to_numpy() == 0, 0, np.roll(code, 1))
    last = long["last"].to_numpy()
    src = np.concatenate([prev, code[last], code[last]])
    dst = np.concatenate([code, np.full(last.sum(), s_conv), np.full(last.sum(), s_null)])
    w = np.concatenate([people, conv[last], people[last] - conv[last]])
    counts = np.zeros((n_ch + 1, n_ch + 3))
    np.add.at(counts, (src, dst), w)
    totals = counts.sum(axis=1, keepdims=True)
    P = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    Q, r = P[:, : n_ch + 1], P[:, s_conv]
    base = float(_absorb(Q, r)[0])
    # removal of channel j (state j+1): no transition reaches it, it converts nobody
    Qs = np.repeat(Q[None], n_ch, axis=0)
    rs = np.repeat(r[None], n_ch, axis=0)
    j = np.arange(n_ch)
    Qs[j, :, j + 1] = 0.0
    Qs[j, j + 1, :] = 0.0
    rs[j, j + 1] = 0.0
    without = _absorb(Qs, rs)[:, 0]
    effect = 1 - without / base if base > 0 else np.full(n_ch, np.nan)
    total = float(p["conversions"].sum())
    s = np.nansum(effect)
    credit = effect / s * total if s > 0 else np.zeros(n_ch)
    removal = pd.DataFrame({"channel": channels, "p_without": without, "removal_effect": effect,
                            "credit": credit, "share": credit / total if total > 0 else np.nan})
    states = [START, *channels]
    trans = pd.DataFrame(P, index=states, columns=[START, *channels, CONVERSION, NULL]).drop(columns=START)
    return MarkovResult(trans, base, removal, total)


def channel_credit(paths: pd.DataFrame) -> pd.DataFrame:
    """First-touch, last-touch and Markov credit side by side.

    Returns
    -------
    DataFrame
        One row per channel (sorted by Markov credit): ``channel``, ``first_touch``,
        ``last_touch``, ``markov`` (conversions credited, float; each column sums to
        the conversions on paths with touches), ``removal_effect``, and the shares
        ``first_touch_share``, ``last_touch_share``, ``markov_share``.
    """
    m = markov_attribution(paths)
    out = pd.concat([touch_credit(paths, "first"), touch_credit(paths, "last"),
                     m.removal.set_index("channel")[["credit", "removal_effect"]].rename(
                         columns={"credit": "markov"})], axis=1).fillna({"first_touch": 0.0, "last_touch": 0.0})
    out.index.name = "channel"
    total = m.conversions if m.conversions > 0 else np.nan
    for c in ("first_touch", "last_touch", "markov"):
        out[f"{c}_share"] = out[c] / total
    return out.sort_values("markov", ascending=False, kind="stable").reset_index()
