"""Independent computations of the report numbers, from the raw sample files.

Used by ``tests/test_report_numbers.py``. Written from the definitions in lclib's
docstrings and ``lclib.yaml`` with plain pandas / numpy / scipy; nothing here imports
lclib (the segment rules of ``lclib.config.segment_rules`` are passed in as data by the
test), so a wrong number in a report cannot be reproduced here by the same code.

Conventions shared by every report (lclib's module docstrings):

* ``as_of`` = midnight after the last transaction; only rows strictly before it count.
* an order = one order id at its earliest line; a customer's orders by time.
* a person = an events ``anonymous_id``; a customer is the person whose events carry the
  customer id (in the sample every event has an anonymous id, and each customer id
  appears with exactly one of them - :func:`load` checks that).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

DAY = pd.Timedelta(days=1)


@dataclass
class Raw:
    """The raw sample tables, parsed, plus the orders and the configuration."""

    tx: pd.DataFrame
    events: pd.DataFrame
    customers: pd.DataFrame
    referrals: pd.DataFrame
    surveys: pd.DataFrame
    spend: pd.DataFrame
    experiments: pd.DataFrame
    cfg: dict
    as_of: pd.Timestamp
    orders: pd.DataFrame  # customer_id, order_id, ts, amount, channel, n (1 = first order)
    person_of: pd.Series  # customer_id -> anonymous_id
    cache: dict = field(default_factory=dict)


def load(folder: Path, cfg: dict) -> Raw:
    def read(name, dates):
        frame = pd.read_csv(folder / f"{name}.csv", dtype=str)
        for column in dates:
            frame[column] = pd.to_datetime(frame[column])
        return frame

    tx = read("transactions", ["timestamp"]).astype({"amount": float})
    events = read("events", ["timestamp"])
    customers = read("customers", ["signup_date"])
    referrals = read("referrals", ["timestamp"])
    surveys = read("surveys", ["timestamp"]).astype({"score": float})
    spend = read("spend", ["date"]).astype({"amount": float})
    experiments = read("experiments", ["assigned_at"])
    as_of = tx["timestamp"].max().normalize() + DAY
    assert not events["anonymous_id"].isna().any()
    linked = events.dropna(subset=["customer_id"]).sort_values("timestamp", kind="stable")
    assert (linked.groupby("customer_id")["anonymous_id"].nunique() == 1).all()
    person_of = linked.drop_duplicates("customer_id").set_index("customer_id")["anonymous_id"]
    assert customers["customer_id"].isin(person_of.index).all() and tx["customer_id"].isin(person_of.index).all()
    lines = tx.loc[tx["timestamp"] < as_of]
    orders = (lines.groupby(["customer_id", "order_id"], as_index=False)
              .agg(ts=("timestamp", "min"), amount=("amount", "sum"), channel=("channel", "first"))
              .sort_values(["customer_id", "ts", "order_id"], kind="stable").reset_index(drop=True))
    orders["n"] = orders.groupby("customer_id").cumcount() + 1
    return Raw(tx, events, customers, referrals, surveys, spend, experiments, cfg, as_of, orders, person_of)


# ----------------------------------------------------------------------------- 01 journey


def stage_entries(raw: Raw) -> pd.DataFrame:
    """Person x stage entry times of the five configured stages (lclib.yaml ``journey.stages``).

    reach: first impression or visit; acquisition: first signup or add-to-cart event, or the
    signup date - a date-only signup date on the day of the person's first such event yields
    to the event's time; conversion / retention: first / second order; advocacy: first
    referral made or first survey answer of 9-10. Only rows before ``as_of``.
    """
    if "entries" in raw.cache:
        return raw.cache["entries"]
    ev = raw.events.loc[raw.events["timestamp"] < raw.as_of]
    first_event = lambda types: ev.loc[ev["event_type"].isin(types)].groupby("anonymous_id")["timestamp"].min()  # noqa: E731
    by_person = lambda s, ids: pd.Series(s.to_numpy(), index=raw.person_of.reindex(ids).to_numpy())  # noqa: E731
    out = pd.DataFrame({"reach": first_event(["impression", "visit"])})
    e = first_event(["signup", "add_to_cart"])
    cu = raw.customers.loc[raw.customers["signup_date"] < raw.as_of]
    f = by_person(cu["signup_date"], cu["customer_id"]).groupby(level=0).min()
    idx = e.index.union(f.index)
    e, f = e.reindex(idx), f.reindex(idx)
    same_day = (f == f.dt.normalize()) & (e.dt.normalize() == f)
    out = out.join(pd.concat([e, f], axis=1).min(axis=1).where(~same_day, e).rename("acquisition"), how="outer")
    o = raw.orders
    for name, n in (("conversion", 1), ("retention", 2)):
        k = o.loc[o["n"] == n]
        out[name] = by_person(k["ts"], k["customer_id"]).reindex(out.index)
    referral = raw.referrals.loc[raw.referrals["timestamp"] < raw.as_of]
    promoter = raw.surveys.loc[(raw.surveys["timestamp"] < raw.as_of) & (raw.surveys["score"] >= 9)]
    adv = pd.concat([by_person(referral["timestamp"], referral["referrer_id"]),
                     by_person(promoter["timestamp"], promoter["customer_id"])])
    out["advocacy"] = adv.groupby(level=0).min().reindex(out.index)
    raw.cache["entries"] = out
    return out


STAGES = ["reach", "acquisition", "conversion", "retention", "advocacy"]


def funnel(entries: pd.DataFrame) -> pd.DataFrame:
    """In stage k = reached stages 1..k (a strict funnel)."""
    return entries[STAGES].notna().cumprod(axis=1).astype(bool)


def wilson_upper(k: int, n: int, z: float = 1.959963984540054) -> float:
    p = k / n
    return (p + z * z / (2 * n) + z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n)


def touches(raw: Raw) -> pd.DataFrame:
    """Every event and order with a channel, of people in the first stage: person, ts, channel."""
    entries = stage_entries(raw)
    in_funnel = entries.index[entries["reach"].notna()]
    ev = raw.events.loc[(raw.events["timestamp"] < raw.as_of) & raw.events["channel"].notna()]
    ev = pd.DataFrame({"person": ev["anonymous_id"], "ts": ev["timestamp"], "channel": ev["channel"]})
    o = raw.orders.loc[raw.orders["channel"].notna()]
    o = pd.DataFrame({"person": raw.person_of.reindex(o["customer_id"]).to_numpy(), "ts": o["ts"].to_numpy(),
                      "channel": o["channel"].to_numpy()})
    t = pd.concat([ev, o], ignore_index=True)
    return t.loc[t["person"].isin(in_funnel)]


def paths(raw: Raw, max_length: int = 8) -> pd.DataFrame:
    """Channel path per person before their first order (consecutive repeats once, last 8 kept)."""
    entries = stage_entries(raw)
    t = touches(raw).sort_values(["person", "ts"], kind="stable")
    goal = entries["conversion"].reindex(t["person"]).to_numpy()
    t = t.loc[~(t["ts"].to_numpy() >= goal)]
    t = t.loc[(t["person"] != t["person"].shift()) | (t["channel"] != t["channel"].shift())]
    t = t.groupby("person").tail(max_length)
    out = t.groupby("person")["channel"].agg(tuple).rename("path").to_frame()
    out["converted"] = entries["conversion"].reindex(out.index).notna()
    return out


def markov_shares(p: pd.DataFrame) -> pd.Series:
    """First-order Markov removal effects (Anderl et al. 2016), as shares of their sum.

    States start, channels, conversion, null; a channel's removal sends every transition
    into it to null; removal effect = 1 - P(conversion without it) / P(conversion).
    """
    g = p.groupby("path")["converted"].agg(["size", "sum"])
    channels = sorted({c for path in g.index for c in path})
    k = len(channels)
    at = {c: i + 1 for i, c in enumerate(channels)}  # 0 = start, k+1 = conversion, k+2 = null
    counts = np.zeros((k + 3, k + 3))
    for path, (n, conv) in g.iterrows():
        states = [0] + [at[c] for c in path]
        for a, b in zip(states[:-1], states[1:]):
            counts[a, b] += n
        counts[states[-1], k + 1] += conv
        counts[states[-1], k + 2] += n - conv

    def p_conversion(removed=None):
        c = counts.copy()
        if removed is not None:
            c[:, k + 2] += c[:, removed]
            c[:, removed] = 0
        prob = c / np.maximum(c.sum(axis=1, keepdims=True), 1)
        q, r = prob[: k + 1, : k + 1], prob[: k + 1, k + 1]
        return np.linalg.solve(np.eye(k + 1) - q, r)[0]

    base = p_conversion()
    effect = pd.Series({c: 1 - p_conversion(at[c]) / base for c in channels})
    return effect / effect.sum()


# ----------------------------------------------------------------------------- orders, gaps, windows


def gaps_days(raw: Raw) -> pd.Series:
    o = raw.orders
    return ((o["ts"] - o.groupby("customer_id")["ts"].shift()) / DAY).dropna()


def thresholds(raw: Raw) -> dict:
    """Inactivity window W = ceil(90 % quantile of gaps); at risk R = ceil(median gap) (< W); new N = R."""
    g = gaps_days(raw)
    w = math.ceil(g.quantile(raw.cfg["churn"]["inactivity_quantile"]))
    r = min(math.ceil(g.quantile(raw.cfg["states"]["at_risk_quantile"])), w - 1)
    return {"new_days": r, "at_risk_days": r, "lapsed_days": w}


def buyer_states(raw: Raw, d: pd.Timestamp, th: dict) -> pd.Series:
    """Lifecycle state of every customer with an order before ``d`` (lclib.analysis.stages docstring)."""
    o = raw.orders
    if "spells" not in raw.cache:  # a new spell after the first order and after every gap of L days or more
        gap = o["ts"] - o.groupby("customer_id")["ts"].shift()
        starts = gap.isna() | (gap >= pd.Timedelta(days=th["lapsed_days"]))
        raw.cache["spells"] = pd.DataFrame({"start": o["ts"].where(starts).ffill(),
                                            "no": starts.astype(int).groupby(o["customer_id"]).cumsum() - 1})
    sp = raw.cache["spells"]
    before = o["ts"] < d
    last = o.loc[before].groupby("customer_id").tail(1)
    age = (d - last["ts"]) / DAY
    fresh = (d - sp.loc[last.index, "start"]) / DAY < th["new_days"]
    first_spell = sp.loc[last.index, "no"] == 0
    state = np.select([age >= th["lapsed_days"], age >= th["at_risk_days"], fresh & first_spell,
                       fresh & ~first_spell], ["lapsed", "at_risk", "new", "reactivated"], "active")
    return pd.Series(state, index=last["customer_id"].to_numpy())


def month_end_states(raw: Raw, th: dict) -> pd.DataFrame:
    """Buyer states at every month end (= the first instant of the next month) ended by as_of."""
    first_seen = stage_entries(raw)["reach"].min()
    months = pd.period_range(first_seen.to_period("M"), raw.as_of.to_period("M"), freq="M")
    months = months[(months + 1).start_time <= raw.as_of]
    return pd.DataFrame({m: buyer_states(raw, (m + 1).start_time, th) for m in months})


def monthly_churn(raw: Raw, w: int, recent: int = 12) -> pd.DataFrame:
    """Per month [s, e): customers active at s (last order before s less than W days old), those whose
    churn date (that order + W, with no order in between and churn known by as_of) is before e,
    and the revenue in [s, e) of the customers active at s. Only the last ``recent`` months that
    ended by as_of and after first order + W (lclib.analysis.churn docstring)."""
    o = raw.orders
    window = pd.Timedelta(days=w)
    nxt = o.groupby("customer_id")["ts"].shift(-1)
    churn_after = ((nxt - o["ts"]) >= window) | (nxt.isna() & (o["ts"] + window <= raw.as_of))
    first = o["ts"].min()
    periods = pd.period_range(first.to_period("M") + 1, (raw.as_of - pd.Timedelta(microseconds=1)).to_period("M"))
    periods = [p for p in periods if p.end_time < raw.as_of and p.end_time >= first + window]
    rows = []
    for p in periods:
        s, e = p.start_time, (p + 1).start_time
        act = (o["ts"] > s - window) & (o["ts"] < s) & ~(nxt < s)
        churned = act & churn_after & (o["ts"] + window < e)
        base = o["customer_id"].isin(o.loc[act, "customer_id"]) & (o["ts"] >= s) & (o["ts"] < e)
        rows.append((p, int(act.sum()), int(churned.sum()), float(o.loc[base, "amount"].sum())))
    out = pd.DataFrame(rows, columns=["period", "active", "churned", "revenue"]).set_index("period")
    return out.loc[out["active"] > 0].tail(recent)


def repeat_probability(raw: Raw, w: int, n: int) -> float:
    """Of customers whose n-th order is at least W days before as_of: share ordering again within W days."""
    o = raw.orders
    nxt = o.groupby("customer_id")["ts"].shift(-1)
    window = pd.Timedelta(days=w)
    eligible = (o["n"] == n) & (o["ts"] + window <= raw.as_of)
    return float(((nxt - o["ts"]) < window)[eligible].mean())


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Mann-Whitney U / (n+ n-), ties counted half."""
    ranks = stats.rankdata(score)
    pos = np.asarray(y, dtype=bool)
    n1, n0 = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


# ----------------------------------------------------------------------------- 03 RFM


def rfm_scored(raw: Raw, d: pd.Timestamp, rules: list[dict], bins: int = 5,
               states: pd.Series | None = None) -> pd.DataFrame:
    """RFM values at d, quantile scores 1 + floor(bins x strictly-worse share), segment by rule data.

    With ``states`` (each buyer's lifecycle state at d; ``rfm.recency_from_states``) the recency
    score follows the state: lapsed R=1, at risk R=2, every other buyer 3..bins by quantile among
    those buyers only.
    """
    lines = raw.tx.loc[raw.tx["timestamp"] < d]
    g = lines.groupby("customer_id")
    out = pd.DataFrame({"recency_days": (d.normalize() - g["timestamp"].max().dt.normalize()).dt.days,
                        "frequency": g["order_id"].nunique(), "monetary_total": g["amount"].sum()})
    n = len(out)
    for col, score, better in (("recency_days", "r", -1), ("frequency", "f", 1), ("monetary_total", "m", 1)):
        worse = (better * out[col]).rank(method="min") - 1
        out[score] = (1 + (bins * worse) // n).astype(int)
    if states is not None:
        state = states.reindex(out.index)
        assert state.notna().all()
        rest = ~state.isin(["lapsed", "at_risk"])
        worse = (-out.loc[rest, "recency_days"]).rank(method="min") - 1
        out["r"] = np.where(state == "lapsed", 1, 2)
        out.loc[rest, "r"] = (3 + ((bins - 2) * worse) // int(rest.sum())).astype(int)
    out["fm"] = (out["f"] + out["m"]) // 2
    out["segment"] = None
    for rule in rules:
        hit = pd.Series(True, index=out.index)
        for dim in ("r", "f", "m", "fm"):
            if dim in rule:
                hit &= out[dim].between(*rule[dim])
        assert out.loc[hit, "segment"].isna().all(), "segment rules overlap"
        out.loc[hit, "segment"] = rule["name"]
    assert out["segment"].notna().all()
    return out


# ----------------------------------------------------------------------------- 05 CLV


def bgnbd_summary(raw: Raw, end_day: pd.Timestamp | None = None) -> pd.DataFrame:
    """Repeat purchases per distinct day; recency and T in weeks (days / 7) to ``end_day`` (inclusive; default
    the last day of data); monetary value = mean spend of the repeat days (lclib.engine.summary docstring,
    the clv defaults count_by D, time_unit W). Customers with a purchase by ``end_day``."""
    end_day = (raw.as_of - DAY).normalize() if end_day is None else end_day
    lines = raw.tx.loc[raw.tx["timestamp"] < end_day + DAY].assign(day=lambda f: f["timestamp"].dt.normalize())
    days = lines.groupby(["customer_id", "day"], as_index=False)["amount"].sum()
    g = days.groupby("customer_id")
    first, last = g["day"].min(), g["day"].max()
    out = pd.DataFrame({"frequency": g.size() - 1, "recency": (last - first).dt.days / 7.0,
                        "T": (end_day - first).dt.days / 7.0})
    repeat = days.loc[days.groupby("customer_id").cumcount() > 0]
    out["monetary_value"] = repeat.groupby("customer_id")["amount"].mean().reindex(out.index).fillna(0.0)
    return out


def bgnbd_loglik(params, x, t_x, T):
    """BG/NBD log-likelihood per customer (Fader, Hardie & Lee 2005, eq. 6)."""
    r, alpha, a, b = params
    common = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    one = special.betaln(a, b + x) - special.betaln(a, b) - (r + x) * np.log(alpha + T)
    two = np.where(x > 0, special.betaln(a + 1, np.maximum(b + x - 1, 1e-12)) - special.betaln(a, b)
                   - (r + x) * np.log(alpha + t_x), -np.inf)
    return common + np.logaddexp(one, two)


def gamma_gamma_loglik(params, x, m):
    """Gamma-Gamma log-likelihood of x repeat purchases of mean value m (Fader & Hardie 2013)."""
    p, q, v = params
    return (special.gammaln(p * x + q) - special.gammaln(p * x) - special.gammaln(q) + q * np.log(v)
            + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(x * m + v))


@dataclass
class Fit:
    """A maximum-likelihood fit: estimates, 95 % Wald intervals on the log scale, log-likelihood."""

    params: np.ndarray
    low: np.ndarray
    high: np.ndarray
    loglik: float


def mle(loglik, k: int) -> Fit:
    """Maximise ``loglik(params)`` over positive parameters (Nelder-Mead, then BFGS on their logs).

    Intervals: exp(log estimate +- 1.96 se), se from the inverse of the observed information in the
    log parameters (central differences).
    """
    nll = lambda lp: -loglik(np.exp(lp))  # noqa: E731
    start = optimize.minimize(nll, np.zeros(k), method="Nelder-Mead",
                              options={"maxiter": 5000, "xatol": 1e-8, "fatol": 1e-10})
    lp = optimize.minimize(nll, start.x, method="BFGS", options={"gtol": 1e-8}).x
    h, eye = 1e-4, np.eye(k)
    hess = np.array([[(nll(lp + h * (eye[i] + eye[j])) - nll(lp + h * (eye[i] - eye[j]))
                       - nll(lp - h * (eye[i] - eye[j])) + nll(lp - h * (eye[i] + eye[j]))) / (4 * h * h)
                      for j in range(k)] for i in range(k)])
    se = np.sqrt(np.diag(np.linalg.inv(hess)))
    return Fit(np.exp(lp), np.exp(lp - 1.959963984540054 * se), np.exp(lp + 1.959963984540054 * se), -nll(lp))


def fit_bgnbd(s: pd.DataFrame) -> Fit:
    x, t_x, T = (s[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    return mle(lambda p: bgnbd_loglik(p, x, t_x, T).sum(), 4)


def fit_gamma_gamma(s: pd.DataFrame) -> Fit:
    """On repeat customers with positive spend."""
    rep = s.loc[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    x, m = rep["frequency"].to_numpy(float), rep["monetary_value"].to_numpy(float)
    return mle(lambda p: gamma_gamma_loglik(p, x, m).sum(), 3)


def bgnbd_conditional_expected(params, t, x, t_x, T):
    """E[purchases in (T, T + t] | x, t_x, T] (Fader, Hardie & Lee 2005, eq. 10)."""
    r, alpha, a, b = params
    h = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * h)
    return num / (1 + (x > 0) * a / (b + x - 1 + (x == 0)) * ((alpha + T) / (alpha + t_x)) ** (r + x))


def bgnbd_expected_new(params, t):
    """E[X(t)] of a new customer (Fader, Hardie & Lee 2005, eq. 9)."""
    r, alpha, a, b = params
    t = np.asarray(t, dtype=float)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, t / (alpha + t)))


def gamma_gamma_expected_value(params, x, m):
    """E[order value | x repeat purchases of mean value m] (a population mean for x = 0)."""
    p, q, v = params
    w = p * x / (p * x + q - 1)
    return (1 - w) * p * v / (q - 1) + w * m


def acquisitions(raw: Raw) -> pd.DataFrame:
    """Per customer: first purchase month and the customers table's acquisition channel."""
    first = raw.orders.loc[raw.orders["n"] == 1].set_index("customer_id")["ts"]
    ch = raw.customers.drop_duplicates("customer_id").set_index("customer_id")["acquisition_channel"]
    return pd.DataFrame({"month": first.dt.to_period("M"), "channel": ch.reindex(first.index)})


def cac_table(raw: Raw) -> pd.DataFrame:
    """Spend and first-time buyers per channel over the spend table's months; CAC = spend / buyers."""
    months = raw.spend["date"].dt.to_period("M")
    acq = acquisitions(raw)
    acq = acq.loc[(acq["month"] >= months.min()) & (acq["month"] <= months.max())]
    out = pd.DataFrame({"spend": raw.spend.groupby("channel")["amount"].sum(),
                        "new": acq["channel"].value_counts()}).fillna(0.0)
    out["cac"] = (out["spend"] / out["new"]).where((out["spend"] > 0) & (out["new"] > 0))
    return out


# ----------------------------------------------------------------------------- 06 experiments


def experiment_outcomes(raw: Raw, window_days: float) -> pd.DataFrame:
    """Per assignment: bought (any order in [assigned_at, assigned_at + window) and before as_of), revenue."""
    ex = raw.experiments.sort_values("assigned_at", kind="stable").drop_duplicates(["experiment", "customer_id"])
    o = raw.orders.merge(ex, on="customer_id")
    inside = (o["ts"] >= o["assigned_at"]) & (o["ts"] < o["assigned_at"] + pd.Timedelta(days=window_days)) \
        & (o["ts"] < raw.as_of)
    got = o.loc[inside].groupby(["experiment", "customer_id"])["amount"].agg(["size", "sum"])
    out = ex.set_index(["experiment", "customer_id"]).join(got)
    out["converted"] = out["size"].fillna(0) > 0
    out["revenue"] = out["sum"].fillna(0.0)
    out["complete"] = out["assigned_at"] + pd.Timedelta(days=window_days) <= raw.as_of
    return out.reset_index()[["experiment", "customer_id", "variant", "converted", "revenue", "complete"]]


def newcombe_interval(k1: int, n1: int, k0: int, n0: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) of p1 - p0, from two Wilson intervals."""
    def wilson(k, n):
        p, c = k / n, z * z / n
        mid, half = (p + c / 2) / (1 + c), z * math.sqrt(p * (1 - p) / n + c / (4 * n)) / (1 + c)
        return p, mid - half, mid + half

    (p1, l1, u1), (p0, l0, u0) = wilson(k1, n1), wilson(k0, n0)
    d = p1 - p0
    return d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
