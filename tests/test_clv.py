"""lclib.clv: published CDNOW values, parameter recovery, failure modes, scoring, validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lclib import clv
from lclib.clv import lifetimes
from lclib.summary import customer_summary

import lifetimes.datasets  # after lclib.clv, which imported lifetimes quietly

TRUE_BGNBD = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.4}
TRUE_GG = {"p": 6.25, "q": 3.74, "v": 15.44}


def sig3(x: float) -> float:
    return float(f"{x:.3g}")


@pytest.fixture(scope="module")
def cdnow_tx() -> pd.DataFrame:
    """The 1/10 CDNOW sample bundled with lifetimes as canonical transactions (one line per order)."""
    path = Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt"
    raw = pd.read_csv(
        path, sep=r"\s+", header=None, names=["customer_id", "index", "date", "cds", "amount"],
        dtype={"customer_id": str, "date": str},
    )
    return pd.DataFrame(
        {
            "customer_id": raw["customer_id"],
            "order_id": raw.index.astype(str),
            "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
            "amount": raw["amount"],
        }
    )


@pytest.fixture(scope="module")
def cdnow_days(cdnow_tx) -> pd.DataFrame:
    return customer_summary(cdnow_tx, "1997-09-30", count_by="D", time_unit="D")


@pytest.fixture(scope="module")
def cdnow_daily_fits(cdnow_days) -> tuple[clv.FitResult, clv.FitResult]:
    return clv.fit_bgnbd(cdnow_days, time_unit="D"), clv.fit_gamma_gamma(cdnow_days)


def test_cdnow_bgnbd_published_values(cdnow_tx):
    summary = customer_summary(cdnow_tx, "1997-09-30", count_by="D", time_unit="W")
    assert len(summary) == 2357 and summary["frequency"].sum() == 2457
    fit = clv.fit_bgnbd(summary, time_unit="W")
    assert fit.status == "ok" and fit.converged and fit.warnings == []
    assert {k: sig3(v) for k, v in fit.params.items()} == {"r": 0.243, "alpha": 4.41, "a": 0.793, "b": 2.43}
    assert fit.log_likelihood == pytest.approx(-9582.4, abs=0.05)  # Fader, Hardie & Lee (2005)
    ci = fit.confidence_intervals
    assert (ci["lower"] < ci["estimate"]).all() and (ci["estimate"] < ci["upper"]).all()
    assert ci.loc["r", "se"] == pytest.approx(fit.fitter.standard_errors_["r"])


def test_cdnow_pareto_nbd_published_values_without_intervals(cdnow_tx):
    summary = customer_summary(cdnow_tx, "1997-09-30", time_unit="W")
    fit = clv.fit_bgnbd(summary, model="paretonbd")
    assert fit.status == "ok"
    assert {k: round(v, 2) for k, v in fit.params.items()} == {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    assert fit.log_likelihood == pytest.approx(-9595.0, abs=0.05)
    assert fit.confidence_intervals[["se", "lower", "upper"]].isna().all().all()
    assert any("no confidence intervals" in w for w in fit.warnings)


def test_cdnow_gamma_gamma_published_values():
    summary = lifetimes.datasets.load_cdnow_summary_data_with_monetary_value()
    fit = clv.fit_gamma_gamma(summary)
    assert fit.status == "ok" and fit.n_customers == 946
    assert {k: sig3(v) for k, v in fit.params.items()} == {"p": 6.25, "q": 3.74, "v": 15.4}
    corr, message = clv.spend_frequency_correlation(summary)
    assert corr == pytest.approx(0.11, abs=0.01) and message is None


def test_simulator_matches_model_expectation():
    # Mean repeat purchases by T must equal the BG/NBD closed form E[X(T)] at the true parameters.
    sim = clv.simulate_bgnbd_gg(200_000, **TRUE_BGNBD, **TRUE_GG, T=52.0, seed=7)
    model = lifetimes.BetaGeoFitter()
    model.params_ = pd.Series(TRUE_BGNBD)
    assert sim["frequency"].mean() == pytest.approx(model.expected_number_of_purchases_up_to_time(52.0), rel=0.02)
    assert ((sim["recency"] <= sim["T"]) & ((sim["frequency"] > 0) | (sim["recency"] == 0))).all()
    repeat = sim.loc[sim["frequency"] > 0, "monetary_value"]
    # E[z] = p * E[1/nu] = p * v / (q - 1)
    assert repeat.mean() == pytest.approx(6.25 * 15.44 / 2.74, rel=0.03)


def test_parameter_recovery_from_simulated_customers():
    # 100k customers: standard errors are ~1 % (r, alpha), 2.5 % (a), 3.5 % (b), 1-3 % (p, q, v),
    # so 10 % is a 3-sigma margin and this fixed seed is not cherry-picked.
    ages = np.random.default_rng(1).uniform(26.0, 78.0, 100_000)
    sim = clv.simulate_bgnbd_gg(100_000, **TRUE_BGNBD, **TRUE_GG, T=ages, seed=2)
    bg, gg = clv.fit_bgnbd(sim), clv.fit_gamma_gamma(sim)
    assert bg.status == gg.status == "ok"
    for fit, truth in ((bg, TRUE_BGNBD), (gg, TRUE_GG)):
        for name, value in truth.items():
            assert fit.params[name] == pytest.approx(value, rel=0.10), name


def _steady_buyers(n: int = 2000) -> pd.DataFrame:
    """Everyone buys at a fixed interval from the first purchase to the end: nobody drops out."""
    rng = np.random.default_rng(0)
    age, gap = rng.uniform(20, 52, n), rng.uniform(1, 4, n)
    frequency = np.floor(age / gap).astype("int64")
    return pd.DataFrame({"frequency": frequency, "recency": frequency * gap, "T": age, "monetary_value": 10.0})


def test_no_dropout_gives_degenerate_status_with_plain_message():
    fit = clv.fit_bgnbd(_steady_buyers())
    assert fit.status == "degenerate" and fit.converged and fit.params["a"] < 0.01
    assert "too little dropout signal" in fit.warnings[0] and "overstated" in fit.warnings[0]
    pareto = clv.fit_bgnbd(_steady_buyers(), model="paretonbd")
    assert pareto.status == "degenerate" and "P(alive)" in pareto.warnings[0]


def test_non_convergence_is_reported_not_raised(capsys):
    fit = clv.fit_bgnbd(_steady_buyers(), model="mbgnbd")  # scipy: precision loss
    assert fit.status == "failed" and not fit.converged and fit.params == {} and fit.fitter is None
    assert "did not converge" in fit.warnings[0]
    assert capsys.readouterr().out == ""  # lifetimes printed scipy's result; it was captured


def test_robust_fit_records_fallbacks():
    # Poisson buyers with no dropout, in days: the plain fit fails, penalizer 0.001 "converges" to a ~ 0.
    rng = np.random.default_rng(0)
    age = rng.uniform(20, 52, 2000)
    x = rng.poisson(rng.gamma(2.0, 0.25, 2000) * age)
    summary = pd.DataFrame({"frequency": x, "recency": np.where(x > 0, age * rng.beta(np.maximum(x, 1), 1), 0.0),
                            "T": age})
    fit = clv.fit_bgnbd_robust(summary, time_unit="D")
    assert fit.attempts == [
        "BG/NBD, penalizer 0.0, time in days: failed",
        "BG/NBD, penalizer 0.001, time in days: degenerate",
    ]
    assert fit.status == "degenerate" and fit.penalizer == 0.001
    assert fit.warnings[0].startswith("The requested fit (penalizer 0.0, time in days) did not converge")


def test_robust_fit_failing_everywhere_returns_reason(monkeypatch, capsys):
    def never_converges(self, *args, **kwargs):
        print("scipy result\n message: Desired error not necessarily achieved")
        raise clv.ConvergenceError("The model did not converge.")

    monkeypatch.setattr(lifetimes.BetaGeoFitter, "fit", never_converges)
    fit = clv.fit_bgnbd_robust(_steady_buyers(), time_unit="D")
    assert fit.status == "failed" and len(fit.attempts) == 6  # 3 penalizers x (days, weeks)
    assert fit.attempts[-1] == "BG/NBD, penalizer 0.01, time in weeks: failed"
    assert "none of 6 attempts converged" in fit.warnings[0] and "simple CLV" in fit.warnings[0]
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="cannot score with a failed fit"):
        clv.predict_customers(fit, None, _steady_buyers())


def test_too_few_repeat_customers():
    summary = pd.DataFrame(
        {"frequency": [1] * 10 + [0] * 990, "recency": [3.0] * 10 + [0.0] * 990, "T": 30.0, "monetary_value": 0.0}
    )
    fit = clv.fit_bgnbd_robust(summary)
    assert fit.status == "insufficient_data" and not fit.converged
    assert fit.warnings[0].startswith("Only 10 of 1000 customers bought more than once")
    assert clv.fit_gamma_gamma(summary).status == "insufficient_data"
    assert clv.fit_bgnbd(summary, min_repeat_customers=5).status != "insufficient_data"


def test_gamma_gamma_warns_when_spend_follows_frequency():
    rng = np.random.default_rng(3)
    frequency = rng.integers(1, 10, 500)
    summary = pd.DataFrame({"frequency": frequency, "monetary_value": 10.0 * frequency + rng.gamma(2, 5, 500)})
    corr, message = clv.spend_frequency_correlation(summary)
    assert corr > 0.3 and "frequent buyers spend more per purchase" in message
    assert message in clv.fit_gamma_gamma(summary).warnings


def test_predict_matches_fitter_and_undiscounted_sum(cdnow_days, cdnow_daily_fits):
    bg, gg = cdnow_daily_fits
    scores = clv.predict_customers(bg, gg, cdnow_days, horizon_periods=12, discount_rate_annual=0.0,
                                   margin=0.3, time_unit="D")
    assert list(scores.columns) == ["expected_purchases", "p_alive", "expected_order_value", "clv"]
    assert scores.index.equals(cdnow_days.index)
    x, t_x, age = cdnow_days["frequency"], cdnow_days["recency"], cdnow_days["T"]
    np.testing.assert_allclose(
        scores["expected_purchases"],
        bg.fitter.conditional_expected_number_of_purchases_up_to_time(365.25, x, t_x, age), rtol=1e-12,
    )
    np.testing.assert_allclose(scores["p_alive"], bg.fitter.conditional_probability_alive(x, t_x, age))
    np.testing.assert_allclose(scores["clv"], 0.3 * scores["expected_order_value"] * scores["expected_purchases"],
                               rtol=1e-12)
    discounted = clv.predict_customers(bg, gg, cdnow_days, 12, 0.1, 0.3, "D")
    assert (discounted["clv"] < scores["clv"]).all()


def test_clv_equals_lifetimes_with_its_30_day_months(cdnow_days, cdnow_daily_fits):
    bg, gg = cdnow_daily_fits
    ours = clv.predict_customers(bg, gg, cdnow_days, 12, 1.01**12 - 1, 1.0, "D", days_per_month=30)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = gg.fitter.customer_lifetime_value(
            bg.fitter, cdnow_days["frequency"], cdnow_days["recency"], cdnow_days["T"],
            cdnow_days["monetary_value"], time=12, discount_rate=0.01, freq="D",
        )
    np.testing.assert_allclose(ours["clv"], theirs, rtol=1e-12)
    # With calendar months (30.44 days) the 12-month horizon is 5 days longer: slightly more value.
    calendar = clv.predict_customers(bg, gg, cdnow_days, 12, 1.01**12 - 1, 1.0, "D")
    assert 1.0 < calendar["clv"].sum() / theirs.sum() < 1.02


def test_scoring_converts_summary_units_to_the_fit(cdnow_tx, cdnow_days, cdnow_daily_fits):
    _, gg = cdnow_daily_fits
    weeks = customer_summary(cdnow_tx, "1997-09-30", count_by="D", time_unit="W")
    weekly_fit = clv.fit_bgnbd(weeks, time_unit="W")
    from_days = clv.predict_customers(weekly_fit, gg, cdnow_days, 6, 0.1, 1.0, time_unit="D")
    from_weeks = clv.predict_customers(weekly_fit, gg, weeks, 6, 0.1, 1.0, time_unit="W")
    pd.testing.assert_frame_equal(from_days, from_weeks, rtol=1e-12)


def test_holdout_validation_on_simulated_transactions():
    start = pd.Timestamp("2020-01-06")
    tx = clv.simulate_transactions(20_000, **TRUE_BGNBD, **TRUE_GG, T=78, seed=3, acquisition_period=12, start=start)
    result = clv.holdout_validation(tx, start + pd.Timedelta(days=39 * 7 - 1), start + pd.Timedelta(days=78 * 7 - 1))
    assert result.fit.status == "ok"
    assert abs(result.totals["relative_error"]) < 0.15
    assert result.totals["predicted"] == pytest.approx(result.per_customer["predicted_holdout"].sum())
    assert result.by_frequency.index.tolist() == list(range(8))
    assert result.by_frequency["customers"].sum() == result.totals["customers"] == 20_000
    assert (result.by_frequency["actual_mean"].diff().dropna() > 0).all()  # more past purchases, more future ones


def test_simple_clv_shows_its_inputs():
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta([10, 20, 30, 40, 380, 390], unit="D")
    tx = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "a", "e"], "order_id": list("123456"),
                       "timestamp": days, "amount": [50.0, 50, 50, 50, 100, 300]})
    result = clv.simple_clv(tx, "2024-12-30", margin_rate=0.25, cac=20.0)
    assert (result.active_previous, result.retained, result.active_current) == (4, 1, 2)
    assert result.annual_churn_rate == pytest.approx(0.75)
    assert result.expected_lifetime_years == pytest.approx(1 / 0.75)
    assert result.annual_revenue_per_customer == pytest.approx(200.0)
    assert result.clv == pytest.approx(50.0 / 0.75 - 20.0)
    assert result.notes == []
    assert result.formula.startswith("CLV = annual margin per customer x expected lifetime - CAC = 50.00 x 1.33")


def test_import_is_quiet_and_leaves_pandas_options_alone():
    code = """
import json, warnings
import pandas as pd
from pandas._config.config import _registered_options
def options():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {k: repr(pd.get_option(k)) for k in _registered_options}
before, filters = options(), list(warnings.filters)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import lclib.clv
after = options()
print(json.dumps({"changed": [k for k in before if before[k] != after[k]],
                  "warnings": [str(w.message) for w in caught],
                  "filters_kept": list(warnings.filters) == filters}))
"""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    report = json.loads(run.stdout)
    assert report == {"changed": [], "warnings": [], "filters_kept": True}
    assert run.stderr == ""


def test_fitting_leaves_warning_filters_alone(cdnow_days):
    before = list(warnings.filters)
    clv.fit_bgnbd(cdnow_days)  # lifetimes calls warnings.simplefilter in every likelihood evaluation
    assert warnings.filters == before
