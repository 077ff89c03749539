"""CLV models that say when not to trust them (issue 18).

Published values through lclib's own prediction path, the BG/NBD expectation where
lifetimes returns NaN, earned statuses on thin cuts of the CDNOW 1/10 sample, honest
fallbacks, and the 05_clv report run end to end on those cuts.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from lclib.analysis import clv
from lclib.engine.summary import customer_summary

ROOT = Path(__file__).resolve().parents[1]
# located without importing lifetimes first (lclib.analysis.clv imports it quietly)
CDNOW_SAMPLE = Path(importlib.util.find_spec("lifetimes").origin).parent / "datasets" / "CDNOW_sample.txt"
PUBLISHED = {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258}  # Fader, Hardie & Lee (2005)
# the BG/NBD fit on the first month of the 1/10 sample (a + b < 1): lifetimes gives NaN there
THIN = {"r": 0.3644, "alpha": 5.976, "a": 0.0817, "b": 0.4194}


def sig3(x: float) -> float:
    return float(f"{x:.3g}")


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return pd.read_csv(CDNOW_SAMPLE, sep=r"\s+", header=None, dtype=str,
                       names=["customer_id", "customer_index", "date", "number_of_cds", "dollar_value"])


@pytest.fixture(scope="module")
def tx(raw) -> pd.DataFrame:
    return pd.DataFrame({"customer_id": raw["customer_id"], "order_id": raw.index.astype(str),
                         "timestamp": pd.to_datetime(raw["date"], format="%Y%m%d"),
                         "amount": raw["dollar_value"].astype(float)})


def _summary(tx: pd.DataFrame, last_day: str) -> pd.DataFrame:
    return customer_summary(tx, last_day, count_by="D", time_unit="W", extras=False)


# ----------------------------------------------------------------------------- the prediction path


def test_conditional_expectation_equals_hardies_published_value_through_lclib():
    fit = clv.fit_from_params("bgnbd", PUBLISHED, time_unit="W")
    # x = 2, t_x = 30.43, T = 38.86 weeks; the next 39 weeks (Hardie's spreadsheet: 1.226)
    direct = clv.conditional_expected_purchases(fit, 39.0, 2, 30.43, 38.86)
    assert float(direct) == pytest.approx(1.226, abs=5e-4)
    one = pd.DataFrame({"frequency": [2], "recency": [30.43], "T": [38.86], "monetary_value": [10.0]})
    scores = clv.predict_customers(fit, 10.0, one, horizon_periods=1, discount_rate_annual=0.0,
                                   time_unit="W", days_per_month=39 * 7)
    assert scores["expected_purchases"].iloc[0] == pytest.approx(1.226, abs=5e-4)
    assert scores["clv"].iloc[0] == pytest.approx(12.26, abs=5e-3)  # 10 per order, no discount, margin 1


def _by_definition(params: dict, t: float, x: int, t_x: float, age: float) -> float:
    """E[X(t) | x, t_x, T] from the model's definition: P(alive) x E[(1 - e^(-lambda p t)) / p | alive].

    Given alive, lambda ~ Gamma(r + x, alpha + T) and p ~ Beta(a, b + x), independent;
    E over lambda is closed, the Beta integral is done numerically (QAWS weights).
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))

    def g(p):
        if p <= 0:
            return (r + x) * t / (alpha + age)
        return -np.expm1((r + x) * np.log((alpha + age) / (alpha + age + p * t))) / p

    value = integrate.quad(g, 0, 1, weight="alg", wvar=(a - 1, b + x - 1), epsabs=1e-13, epsrel=1e-10)[0]
    value /= np.exp(special.betaln(a, b + x))
    if x == 0:
        return value  # BG/NBD: nobody drops out before a repeat purchase
    odds = a / (b + x - 1) * ((alpha + age) / (alpha + t_x)) ** (r + x)
    return value / (1 + odds)


@pytest.mark.parametrize("history", [(0, 0.0, 4.0), (0, 0.0, 2.0), (1, 2.0, 4.0), (5, 4.0, 4.2)])
def test_expectation_is_defined_where_lifetimes_returns_nan(history):
    fit = clv.fit_from_params("bgnbd", THIN, time_unit="W")
    ours = float(clv.conditional_expected_purchases(fit, 52.0, *history))
    assert ours == pytest.approx(_by_definition(THIN, 52.0, *history), rel=1e-6)
    if history == (0, 0.0, 4.0):  # a + b < 1, no repeat purchase: lifetimes' log of a negative 2F1
        with np.errstate(all="ignore"):
            assert np.isnan(fit.fitter.conditional_expected_number_of_purchases_up_to_time(52.0, *history))


def test_expectation_is_smooth_across_the_formulas_removable_singularities():
    near = [clv.conditional_expected_purchases(clv.fit_from_params("bgnbd", {**PUBLISHED, "a": a}), 39, 0, 0, 10)
            for a in (1 - 1e-3, 1.0, 1 + 1e-3)]
    assert np.isfinite(near).all() and near[0] > near[1] > near[2] and near[1] == pytest.approx(np.mean(near), 1e-4)


def test_undefined_predictions_are_an_error_or_a_counted_exclusion():
    fit = clv.fit_from_params("bgnbd", PUBLISHED)
    summary = pd.DataFrame({"frequency": [2, 1, 0], "recency": [30.0, np.nan, 0.0], "T": [38.0, 20.0, 10.0],
                            "monetary_value": [10.0, 5.0, 0.0]}, index=pd.Index(list("abc"), name="customer_id"))
    with pytest.raises(clv.UndefinedPredictionError, match="1 of 3 customers"):
        clv.predict_customers(fit, 10.0, summary)
    scores = clv.predict_customers(fit, 10.0, summary, undefined="exclude")
    assert scores.index.tolist() == ["a", "c"] and scores.attrs["excluded"] == 1
    verdict = clv.judge_predictions(scores)
    assert verdict.status == "unusable" and "1 of 3 customers" in verdict.reason
    with pytest.raises(ValueError, match="undefined"):
        clv.clv_by_group(scores.assign(clv=[1.0, np.nan]), pd.Series({"a": "x", "c": "y"}))


# ----------------------------------------------------------------------------- earned statuses


def test_full_calibration_fit_is_ok_with_published_values(tx):
    summary = _summary(tx, "1997-09-30")
    fit = clv.fit_bgnbd_robust(summary, time_unit="W")
    verdict = clv.judge_fit(fit, summary)
    assert verdict.status == "ok", verdict.sentence()
    assert {k: sig3(v) for k, v in fit.params.items()} == {k: sig3(v) for k, v in PUBLISHED.items()}
    assert "pinned down" in verdict.sentence()


def test_first_month_is_unusable_because_intervals_span_orders_of_magnitude(tx):
    summary = _summary(tx, "1997-01-31")
    fit = clv.fit_bgnbd_robust(summary, time_unit="W")
    assert fit.status == "ok"  # what the optimizer says ...
    verdict = clv.judge_fit(fit, summary)
    assert verdict.status == "unusable"  # ... and what the intervals and the 4-week history say
    text = verdict.sentence()
    assert "do not pin a down" in text and "weeks" in text and "What to do" in text
    assert not re.search(r"\b(nan|inf|None)\b", text)
    gg = clv.fit_gamma_gamma(summary)
    assert clv.judge_fit(gg, summary).status == "unusable"  # p's interval: 0.0002 to 2e7


def test_200_customers_are_never_ok_when_an_interval_spans_an_order_of_magnitude(tx):
    ids = tx["customer_id"].drop_duplicates().sample(200, random_state=1)
    summary = _summary(tx.loc[tx["customer_id"].isin(ids)], "1998-06-30")
    fit = clv.fit_bgnbd_robust(summary, time_unit="W")
    ci = fit.confidence_intervals
    assert (ci["upper"] / ci["lower"]).max() > 10
    verdict = clv.judge_fit(fit, summary)
    assert verdict.status != "ok"
    assert any("200 customers" in c for c in verdict.concerns)


def test_six_weeks_is_unusable_and_the_textbook_lifetime_follows_retention(tx):
    summary = _summary(tx, "1997-02-11")
    verdict = clv.judge_fit(clv.fit_bgnbd_robust(summary, time_unit="W"), summary)
    assert verdict.status == "unusable"
    simple = clv.simple_clv(tx.loc[tx["timestamp"] <= "1997-02-11"], "1997-02-11", margin_rate=0.3,
                            period_days=21)
    # geometric lifetime in the measured period: 21 days / churn per 21 days, no one-year floor
    assert simple.expected_lifetime_years == pytest.approx(21 / 365 / (1 - simple.retention_rate))
    assert simple.expected_lifetime_years < 0.5
    assert f"{simple.period_days} days / " in simple.formula


def test_textbook_lifetime_at_17_percent_retention_over_28_days_is_a_month_not_a_year():
    start = pd.Timestamp("2024-01-01")
    # 100 buyers in the previous 28 days, 17 of them again in the last 28 days
    tx = pd.DataFrame({"customer_id": [f"c{i}" for i in range(100)] + [f"c{i}" for i in range(17)],
                       "order_id": [str(i) for i in range(117)],
                       "timestamp": [start + pd.Timedelta(days=5)] * 100 + [start + pd.Timedelta(days=40)] * 17,
                       "amount": 10.0})
    result = clv.simple_clv(tx, start + pd.Timedelta(days=55), period_days=28)
    assert result.retention_rate == pytest.approx(0.17)
    assert result.expected_lifetime_years * 365 == pytest.approx(28 / 0.83)
    assert "= 34 days" in result.formula


def test_short_or_empty_holdouts_give_no_error(tx):
    summary = _summary(tx, "1997-10-02")
    val = clv.holdout_validation(tx, "1997-09-30", "1997-10-02", summary=summary)
    check = clv.judge_holdout(val)
    assert val.holdout_days == 2 and not check.checked and check.error_pct is None
    assert "2 days" in check.reason and check.status == "weak"
    # three months of orders, analysed a year later: no purchase in the holdout at all
    three = tx.loc[tx["timestamp"] < "1997-04-01"]
    late = _summary(three, "1998-03-31")
    val = clv.holdout_validation(three, "1997-09-30", "1998-03-31", summary=late)
    check = clv.judge_holdout(val)
    assert val.totals["actual"] == 0 and not check.checked and check.error_pct is None
    quiet = clv.judge_fit(clv.fit_bgnbd_robust(late, time_unit="W"), late)
    assert quiet.status == "unusable" and any("nobody bought anything in the last" in c for c in quiet.concerns)


def test_holdout_error_grades_the_model(tx):
    val = clv.holdout_validation(tx, "1997-09-30", "1998-06-30")
    check = clv.judge_holdout(val)
    assert check.checked and check.status == "ok" and check.days == 273
    assert check.error_pct == pytest.approx(100 * val.totals["relative_error"])
    actual = val.totals["actual"]
    for factor, status in ((1.2, "weak"), (1.6, "unusable"), (0.4, "unusable")):
        val.totals["predicted"] = actual * factor
        check = clv.judge_holdout(val)
        assert check.status == status and check.error_pct == pytest.approx(100 * (factor - 1))


def test_weekly_tracking_counts_the_purchases_the_holdout_check_counts(tx):
    fit = clv.fit_from_params("bgnbd", PUBLISHED, time_unit="W")
    tracking = clv.weekly_tracking(tx, fit, "1997-09-30", "1998-06-30")
    assert len(tracking) == 78 and tracking.attrs["calibration_end"] == pd.Timestamp("1997-10-01")
    # 2,457 repeat purchases (distinct days) in the 39 calibration weeks, 1,882 in the 39 after
    assert tracking.loc[39, "actual_cumulative"] == 2457 and tracking["actual"].sum() == 2457 + 1882
    assert tracking.loc[39, "model_cumulative"] == pytest.approx(2457, rel=0.03)  # the paper's close fit
    np.testing.assert_allclose(tracking["model"].cumsum(), tracking["model_cumulative"])


def test_auto_compares_the_three_models_and_keeps_the_lowest_bic(tx):
    summary = _summary(tx, "1997-09-30")
    fit = clv.fit_bgnbd_robust(summary, model="auto", time_unit="W")
    table = fit.comparison
    assert set(table.index) == {"bgnbd", "mbgnbd", "paretonbd"} and table["chosen"].sum() == 1
    assert table.index[0] == fit.model and table["bic"].iloc[0] == table["bic"].min()
    assert table.loc["bgnbd", "log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    assert table.loc["paretonbd", "log_likelihood"] == pytest.approx(-9595.0, abs=0.05)
    assert table.loc["bgnbd", "aic"] == pytest.approx(2 * 4 + 2 * 9582.4, abs=0.1)
    shown = clv.model_comparison_table(table)
    assert shown.columns.tolist() == ["Fit", "Log-likelihood", "AIC", "BIC", "Holdout error (%)", "Chosen"]
    assert any("auto" in w for w in fit.warnings)


def test_clv_intervals_are_seeded_and_hold_the_estimate(tx):
    summary = _summary(tx, "1998-06-30")
    bg, gg = clv.fit_bgnbd_robust(summary), clv.fit_gamma_gamma(summary)
    top = clv.predict_customers(bg, gg, summary).nlargest(20, "clv")
    first = clv.clv_intervals(bg, gg, summary.loc[top.index], draws=60, seed=3)
    again = clv.clv_intervals(bg, gg, summary.loc[top.index], draws=60, seed=3)
    pd.testing.assert_frame_equal(first, again)
    assert first.attrs["undefined_draws"] == 0 and first.attrs["level"] == 0.9
    assert ((first["clv_low"] < top["clv"]) & (top["clv"] < first["clv_high"])).all()
    fixed = clv.clv_intervals(bg, 40.0, summary.loc[top.index], draws=60, seed=3)  # only the purchase model varies
    assert (fixed["clv_high"] > fixed["clv_low"]).all()
    with pytest.raises(ValueError, match="covariance"):
        clv.clv_intervals(clv.fit_from_params("bgnbd", PUBLISHED), 40.0, summary.iloc[:3], draws=10)


def test_limits_come_from_the_configuration():
    from lclib.config import load_config

    cfg = load_config(ROOT / "lclib.yaml", ["clv.min_holdout_weeks=3", "clv.weak_interval_ratio=4"])
    limits = clv.TrustLimits.from_settings(cfg.clv)
    assert limits.min_holdout_weeks == 3 and limits.weak_interval_ratio == 4
    assert limits.unusable_interval_ratio == clv.TrustLimits().unusable_interval_ratio == 1000


# ----------------------------------------------------------------------------- the report, end to end

CUTS = {
    "full": ([], None),
    "first_month": (["analysis.as_of=1997-02-01", "clv.calibration_end=null"], None),
    "three_months_late": (["analysis.as_of=1998-04-01"], "1997-04-01"),
    "two_day_holdout": (["analysis.as_of=1997-10-03"], None),
    "six_weeks": (["analysis.as_of=1997-02-12", "clv.calibration_end=null"], None),
}
BAD_TEXT = re.compile(r"\b(nan|NaN|inf|None)\b")


@pytest.fixture(scope="module")
def reports(raw, tmp_path_factory) -> dict[str, Path]:
    """The 05_clv report on each cut of the 1/10 sample (example config + overrides, as a user runs it)."""
    from lclib.report.runner import run

    out: dict[str, Path] = {}
    base = tmp_path_factory.mktemp("clv_cuts")
    for name, (overrides, before) in CUTS.items():
        path = CDNOW_SAMPLE
        if before:
            path = base / f"{name}.txt"
            dates = pd.to_datetime(raw["date"], format="%Y%m%d")
            raw.loc[dates < before].to_csv(path, sep=" ", header=False, index=False)
        result = run(ROOT / "examples" / "cdnow.yaml",
                     [f"inputs.transactions.path={path}", "inputs.transactions.read.header=false",
                      "inputs.transactions.read.names=[customer_id, customer_index, date, number_of_cds, "
                      "dollar_value]", *overrides,
                      # fewer parameter draws on the cuts keep the test short; the full sample runs the defaults
                      *([] if name == "full" else ["clv.bootstrap_draws=40"])], out=base / name, only=["05"])
        assert result.exit_code == 0, name
        out[name] = base / name / "latest"
    return out


def _metrics(folder: Path) -> dict:
    return json.loads((folder / "run.json").read_text())["metrics"]["05_clv"]


def _reader_text(html: str) -> str:
    html = re.sub(r"<style.*?</style>|<script.*?</script>|<img[^>]*>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def _output_text(notebook: Path) -> str:
    """Everything the executed notebook shows a reader (outputs, not code)."""
    nb = json.loads(notebook.read_text())
    parts = []
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            parts.append("".join(cell["source"]))
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            for kind in ("text/markdown", "text/html", "text/plain"):
                if kind in data:
                    parts.append(_reader_text("".join(data[kind])))
            if out.get("output_type") == "stream":
                parts.append(out.get("text", ""))
    return "\n".join(parts)


@pytest.mark.parametrize("cut", list(CUTS))
def test_report_never_shows_nan_inf_or_none(reports, cut):
    folder = reports[cut]
    business = _reader_text((folder / "05_clv.html").read_text())
    shown = _output_text(folder / "notebooks" / "05_clv.ipynb")  # the analyst HTML shows these outputs
    for text in (business, shown):
        found = sorted({m.group(0) for m in BAD_TEXT.finditer(text)})
        assert not found, (cut, found, [text[max(0, m.start() - 80):m.end() + 40] for m in BAD_TEXT.finditer(text)][:3])


def test_report_statuses_on_thin_cuts(reports):
    first = _metrics(reports["first_month"])
    assert first["model_status"] == "unusable" and "mean_clv" not in first
    assert first["bgnbd_full_a_high"] / first["bgnbd_full_a_low"] > 1e6  # recorded, with its interval
    late = _metrics(reports["three_months_late"])
    assert late["model_status"] == "unusable" and late["holdout_error_pct"] is None
    assert late["holdout_status"] == "not checked" and late["holdout_actual"] == 0
    short = _metrics(reports["two_day_holdout"])
    assert short["holdout_error_pct"] is None and short["holdout_days"] == 2 and short["model_status"] == "weak"
    assert short["holdout_status"] == "not checked"
    six = _metrics(reports["six_weeks"])
    assert six["model_status"] == "unusable"
    assert six["simple_lifetime_years"] < 1  # no one-year floor on the textbook lifetime
    html = (reports["six_weeks"] / "05_clv.html").read_text()
    assert "accurate enough to plan with" not in html and "Not computed:" in html


def test_full_sample_records_published_calibration_parameters(reports):
    m = _metrics(reports["full"])
    assert {k: sig3(m[f"bgnbd_cal_{k}"]) for k in PUBLISHED} == {k: sig3(v) for k, v in PUBLISHED.items()}
    assert {k: sig3(m[f"gamma_gamma_cal_{k}"]) for k in ("p", "q", "v")} == {"p": 6.25, "q": 3.74, "v": 15.4}
    assert m["bgnbd_cal_loglik"] == pytest.approx(-9582.4, abs=0.05)
    assert m["bgnbd_cal_r_low"] < m["bgnbd_cal_r"] < m["bgnbd_cal_r_high"]
    assert m["model_status"] == "ok" and m["holdout_status"] == "ok"
    assert m["holdout_predicted"] == pytest.approx(m["holdout_actual"] * (1 + m["holdout_error_pct"] / 100), rel=2e-3)
    for key in ("bgnbd_full_r", "bgnbd_full_loglik", "gamma_gamma_full_p_high", "model_reason", "spend_model_status"):
        assert m[key] is not None, key
