"""lclib.analysis.clv.findings (and the report words of lclib.analysis.cac): the 05_clv report's
findings and their sentences, on hand-worked cases with the numbers worked out in the comments."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import cac, clv
from lclib.analysis.clv import findings
from lclib.analysis.clv.trust import Finding, TrustLimits, Verdict
from lclib.engine.summary import customer_summary

# ----------------------------------------------------------------------------- money


def test_money_is_rounded_to_cents_first_then_written_as_the_headlines_write_it():
    assert findings.money_text(1234.567, "EUR") == "1,235 EUR"
    assert findings.money_text(99.996, "EUR") == "100 EUR"  # 100.00 after rounding: no cents from 100 up
    assert findings.money_text(12.3, "USD") == "12.30 USD"
    assert findings.money_text(-5.5, "EUR") == "-5.50 EUR"
    assert findings.money_text(np.nan, "EUR") == "n/a"


# ----------------------------------------------------------------------------- what a customer costs


def _acquired(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    """(customer, channel, month) rows as cac.acquisitions returns them."""
    frame = pd.DataFrame(rows, columns=["customer_id", "channel", "month"]).set_index("customer_id")
    frame["month"] = pd.PeriodIndex(frame["month"], freq="M")
    return frame


@pytest.fixture
def acquired() -> pd.DataFrame:
    # paid_search: 3 new in January, 1 in February; email: 5 in January; organic: 1 in February
    return _acquired([(f"p{i}", "paid_search", "2024-01" if i < 3 else "2024-02") for i in range(4)]
                     + [(f"e{i}", "email", "2024-01") for i in range(5)] + [("o0", "organic", "2024-02")])


@pytest.fixture
def spend() -> pd.DataFrame:
    return pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-01", "2024-02-01"]),
                         "channel": ["paid_search", "email", "paid_search"], "amount": [300.0, 50.0, 300.0]})


def test_acquisition_costs_stop_at_the_last_whole_month_before_the_analysis_date(acquired, spend):
    """An analysis date inside the spend table: spend and new customers over whole months before it
    (the thin cut divided two years of spend by three months of buyers)."""
    cut = findings.acquisition_costs(spend, acquired, currency="EUR", last_day="2024-02-10")  # February cut: January
    assert cut.table.attrs["end"] == pd.Period("2024-01", "M")
    # January: 300 + 50 spent, 3 + 5 new customers (February's 300 and its 2 new ones are left out)
    assert cut.blended == pytest.approx(350 / 8) and cut.cac_per_channel["paid_search"] == pytest.approx(100.0)
    assert cut.sentence.startswith("From **January 2024** to **January 2024** 350 EUR of marketing spend won **8**")
    whole = findings.acquisition_costs(spend, acquired, currency="EUR", last_day="2024-02-29")  # February complete
    assert whole.blended == pytest.approx(65.0)
    late = findings.acquisition_costs(spend, acquired, currency="EUR", last_day="2025-06-30")  # after the spend: all
    assert late.blended == pytest.approx(65.0)
    none = findings.acquisition_costs(spend, acquired, currency="EUR", last_day="2024-01-20")
    assert none.table is None and not none.known
    assert none.sentence == ("No whole month of marketing spend lies before the analysis date (the spend table "
                             "starts in January 2024, the data end on 20 Jan 2024), so acquisition cost cannot be "
                             "computed yet.")


def test_acquisition_costs_per_channel_blended_and_in_words(acquired, spend):
    people = pd.DataFrame({"customer_id": ["p0", "e0"], "signup_date": pd.to_datetime(["2023-11-02", "2024-01-05"])})
    costs = findings.acquisition_costs(spend, acquired, people, data_start=pd.Timestamp("2024-01-03 10:00"),
                                       currency="EUR", names={"organic": "Search engines"})
    # 650 spent, 10 new customers: 65 blended; 9 of them in channels with spend: 72.22
    assert costs.blended == pytest.approx(65.0) and costs.paid_blended == pytest.approx(650 / 9)
    assert costs.signed_up_early == 1  # p0 signed up in November, before the first transaction
    # paid search 600 / 4 = 150, email 50 / 5 = 10; organic has no CAC; the blended one is "All customers"
    assert costs.cac_per_channel.to_dict() == {"paid_search": 150.0, "email": 10.0, "All customers": 65.0}
    assert costs.known
    assert costs.sentence == (
        "From **January 2024** to **February 2024** 650 EUR of marketing spend won **10** first-time buyers: a "
        "blended CAC of **65.00 EUR** per customer, **72.22 EUR** counting only the customers of channels with "
        "spend. The most expensive channel is **Paid search** (150 EUR per customer), the cheapest **Email** "
        "(10.00 EUR). Search engines had no recorded spend: their CAC is undefined (zero in the simple CLV below), "
        "which flatters them if they cost staff time or tools. Caution: **1** of the customers counted as new "
        "signed up before the transactions start; if they bought before then too (a cut export), they are not new "
        "and CAC is understated.")


def test_without_a_spend_table_there_is_no_cost_and_the_sentence_says_what_to_add(acquired):
    costs = findings.acquisition_costs(None, acquired, currency="EUR")
    assert costs.table is None and np.isnan(costs.blended) and costs.signed_up_early == 0
    assert costs.cac_per_channel.empty and not costs.known
    assert costs.sentence == (
        "No spend table was provided, so acquisition cost cannot be computed: CLV below is shown before acquisition "
        "cost and the CLV:CAC comparison is skipped. Add a spend table (date, channel, amount) to the "
        "configuration's inputs to get it.")


def test_one_paid_channel_is_both_the_most_expensive_and_the_cheapest(acquired, spend):
    only_email = spend.loc[spend["channel"] == "email"]
    costs = findings.acquisition_costs(only_email, acquired.loc[acquired["channel"] == "email"], currency="EUR")
    assert costs.sentence == (
        "From **January 2024** to **January 2024** 50.00 EUR of marketing spend won **5** first-time buyers: a "
        "blended CAC of **10.00 EUR** per customer, **10.00 EUR** counting only the customers of channels with "
        "spend. The most expensive channel is **Email** (10.00 EUR per customer), the cheapest **Email** (10.00 EUR). ")


def test_a_spend_table_without_new_customers_has_no_cac_at_all():
    spend = pd.DataFrame({"date": pd.to_datetime(["2024-03-01"]), "channel": ["tv"], "amount": [1000.0]})
    costs = findings.acquisition_costs(spend, _acquired([("a", "email", "2024-01")]), currency="EUR")
    assert np.isnan(costs.blended) and not costs.known  # nothing to compare CLV with
    assert "a blended CAC of **n/a** per customer" in costs.sentence
    assert "most expensive" not in costs.sentence


def test_where_the_acquisition_channel_comes_from_and_who_signed_up_before_the_data():
    tx = pd.DataFrame(columns=["customer_id", "channel"])
    assert cac.acquisition_channel_source(tx) == "the channel of each customer's first order"
    assert cac.acquisition_channel_source(tx[["customer_id"]]) is None
    people = pd.DataFrame({"customer_id": ["a", "a", "b"], "acquisition_channel": ["email"] * 3,
                           "signup_date": pd.to_datetime(["2024-01-01", "2020-01-01", "2024-01-02"])})
    assert cac.acquisition_channel_source(tx[["customer_id"]], people) == "the customers table"
    # a's first row counts (2024-01-01, not before 1 January); b signed up after it
    assert cac.signed_up_before(people, ["a", "b"], "2024-01-01 18:00") == 0
    assert cac.signed_up_before(people, ["a", "b"], "2024-01-02") == 1
    assert cac.signed_up_before(None, ["a"], "2024-01-02") == 0
    assert cac.signed_up_before(people.drop(columns="signup_date"), ["a"], "2024-01-02") == 0


def test_the_cac_table_in_words():
    table = pd.DataFrame({"spend": [600.0], "new_customers": [4], "cac": [150.0], "share_new_customers": [1.0],
                          "status": ["paid"]}, index=pd.Index(["paid_search"], name="channel"))
    shown, formats = cac.cac_report_table(table, "GBP")
    assert list(shown.columns) == ["Spend (GBP)", "New customers", "CAC (GBP)", "Share of new customers", "Status"]
    assert shown.index.name == "Channel" and formats["Share of new customers"] == "{:.1%}"


# ----------------------------------------------------------------------------- the textbook formula


def _simple(clv_all: float = 300.0, notes: str = "", period: int = 365) -> pd.DataFrame:
    """A hand-made simple_clv_by_channel table: the whole base and two channels."""
    out = pd.DataFrame({
        "active_previous": [200, 120, 80], "retention_rate": [0.5, 0.6, 0.4],
        "expected_lifetime_years": [2.0, 2.5, 1.6667], "annual_margin_per_customer": [200.0, 220.0, 150.0],
        "value_before_cac": [400.0, 550.0, 250.0], "cac": [100.0, 80.0, 140.0], "clv": [clv_all, 470.0, 110.0],
        "formula": ["CLV = 200.00 x 2.00 years - 100.00 = 300.00"] * 3, "notes": [notes, "", ""],
    }, index=pd.Index(["All customers", "email", "paid_search"], name="channel"))
    out.attrs["period_days"] = period
    return out


def test_the_textbook_clv_with_costs_over_a_year_and_its_range_over_channels():
    found = findings.textbook_clv_finding(_simple(), currency="EUR", margin=0.3)
    assert found.overall["clv"] == 300.0
    assert list(found.table.index) == ["All customers", "email", "paid_search"]
    assert list(found.table.columns)[-2:] == ["CAC (EUR)", "CLV (EUR)"]
    assert found.formats["CLV (EUR)"] == "{:,.2f}" and found.formats["Bought again (%)"] == "{:.1%}"
    assert found.sentence == (
        "With this data's numbers: **CLV = 200.00 x 2.00 years - 100.00 = 300.00**.\n\n"
        "By acquisition channel the textbook CLV runs from **110 EUR** (Paid search) to **470 EUR** (Email). It "
        "treats every customer alike and ignores discounting: a benchmark for the model below.")


def test_the_textbook_clv_without_costs_on_a_short_history_with_the_assumed_margin():
    found = findings.textbook_clv_finding(_simple(notes="Only 30 buyers in the previous period.", period=180),
                                          currency="EUR", margin=0.3, margin_assumed=True, cac_known=False,
                                          by_channel=False)
    assert list(found.table.index) == ["All customers"]  # no channel known: the whole base only
    assert "CAC (EUR)" not in found.table and "CLV (EUR)" not in found.table
    assert found.sentence == (
        "The data covers less than two years, so retention is measured between two periods of **180 days**; the "
        "expected lifetime is that period divided by the share who did not come back, and the margin is scaled to "
        "a year.\n\n"
        "With this data's numbers: **CLV = 200.00 x 2.00 years - 100.00 = 300.00**. The margin rate of 30% is "
        "lclib's **assumed default**, not a figure of this business: set the margin in the configuration to your "
        "gross margin, as every CLV below scales with it. CAC counts as 0 only because no spend table was given: "
        "this is the value before acquisition cost. Caveat: Only 30 buyers in the previous period.\n\n"
        "By acquisition channel the textbook CLV runs from **110 EUR** (Paid search) to **470 EUR** (Email). It "
        "treats every customer alike and ignores discounting: a benchmark for the model below.")


def test_an_undefined_textbook_clv_adds_no_caveat_and_one_channel_no_range():
    simple = _simple(clv_all=np.nan, notes="No customer bought in the last period.").iloc[:2]
    found = findings.textbook_clv_finding(simple, currency="EUR", margin=0.3, cac_known=False)
    assert found.sentence == "With this data's numbers: **CLV = 200.00 x 2.00 years - 100.00 = 300.00**."


# ----------------------------------------------------------------------------- the purchase model


def test_repeat_count_gap_is_the_share_of_customers_put_at_another_count():
    counts = pd.DataFrame({"actual": [60, 30, 10], "model": [57.0, 33.0, 10.0]})
    assert findings.repeat_count_gap(counts) == pytest.approx(0.03)  # (3 + 3 + 0) / 2 / 100


@pytest.mark.parametrize("model, status, ending", [
    ([57.0, 33.0, 10.0], "ok", "**3.0%** of customers, a close fit."),
    ([57.0, 33.0, 10.0], "weak", "**3.0%** of customers, a close fit of the counts, although that does not make "
                                 "loosely pinned parameters firm."),
    ([50.0, 40.0, 10.0], "ok", "**10.0%** of customers, so read its predictions with care."),
])
def test_repeat_count_sentence_grades_the_fit_of_the_counts(model, status, ending):
    counts = pd.DataFrame({"actual": [60, 30, 10], "model": model})
    said = findings.repeat_count_sentence(40, 100, "BG/NBD", status, counts)
    assert said == ("**40 of 100 customers** (40%) bought more than once. The BG/NBD model reproduces how many "
                    "customers made 0, 1, 2, ... repeat purchases: model and data differ for " + ending)


def test_repeat_count_sentence_without_counts_and_for_an_unusable_fit():
    assert findings.repeat_count_sentence(1234, 5000, "Pareto/NBD", "ok") == (
        "**1,234 of 5,000 customers** bought more than once; Pareto/NBD was fitted.")
    counts = pd.DataFrame({"actual": [60, 40], "model": [60.0, 40.0]})
    assert findings.repeat_count_sentence(4, 10, "BG/NBD", "unusable", counts) == (
        "**4 of 10 customers** bought more than once. The BG/NBD fit is unusable (above), so its predictions are "
        "**not used** below: the sections that need the model say so, and the channel comparison falls back on the "
        "textbook formula.")


@pytest.fixture(scope="module")
def simulated() -> tuple[pd.DataFrame, pd.DataFrame, pd.Timestamp]:
    """600 simulated customers (BG/NBD + Gamma-Gamma, CDNOW-like parameters), 78 weeks, their summary."""
    tx = clv.simulate_transactions(600, 0.25, 4.0, 0.8, 2.4, 6.25, 3.74, 15.44, 78, seed=1, acquisition_period=26)
    last_day = tx["timestamp"].max().normalize()
    return tx, customer_summary(tx, last_day, count_by="D", time_unit="W", extras=False), last_day


def test_a_chosen_model_fits_on_all_data_and_on_the_calibration_window(simulated):
    tx, summary, last_day = simulated
    model = findings.choose_purchase_model(tx, summary, pd.Timestamp("2020-12-31"), last_day, TrustLimits())
    assert model.fit.model == "bgnbd" and model.name == "BG/NBD" and model.comparison is None
    assert model.calibration_fit is model.validation.fit and model.validation.fit.model == "bgnbd"
    assert model.customers == 600 and model.repeat_customers == int((summary["frequency"] > 0).sum())
    assert model.repeat_counts is not None and model.repeat_counts["actual"].sum() == 600
    assert model.sentence == (model.check.short(plain=True) + ". The verdict on the model, with its holdout check, "
                              "follows two sections below.")
    assert model.counts_sentence == findings.repeat_count_sentence(
        model.repeat_customers, 600, "BG/NBD", model.check.status, model.repeat_counts)


def test_auto_chooses_on_the_holdout_refits_and_says_why(simulated):
    tx, summary, last_day = simulated
    model = findings.choose_purchase_model(tx, summary, pd.Timestamp("2020-12-31"), last_day, TrustLimits(),
                                           model="auto")
    table = model.comparison
    assert list(table["Chosen"]).count("yes") == 1 and table["Holdout error (%)"].notna().all()
    chosen = table.index[table["Chosen"] == "yes"][0]
    smallest = table["Holdout error (%)"].abs().idxmin()
    assert chosen == smallest == model.name  # the holdout decides (here beyond the 0.5-point tie)
    assert model.validation.fit.model == model.fit.model  # the check is the chosen model's
    assert not any("`clv.model: auto`" in w for w in model.fit.warnings)  # the choice is said once, below
    assert model.sentence.startswith(f"`clv.model: auto` chose **{model.name}**: its predicted repeat purchases")
    assert "The table shows each model's fit" in model.sentence


def test_without_a_holdout_window_there_is_no_validation(simulated):
    tx, summary, last_day = simulated
    model = findings.choose_purchase_model(tx, summary, last_day, last_day, TrustLimits())
    assert model.validation is None and model.calibration_fit is None
    assert findings.fit_windows_sentence(600, last_day, "W", model.validation) == (
        "Rates are per week. All data: the 600 customers' histories up to **28 June 2021**; no calibration window "
        "is left before it.")


def test_fit_windows_sentence_names_the_calibration_customers():
    val = clv.HoldoutValidation(pd.DataFrame({"frequency": [0, 1, 2]}), {}, pd.DataFrame(), None,
                                pd.Timestamp("2024-03-31"), pd.Timestamp("2024-12-31"), "D")
    assert findings.fit_windows_sentence(1500, pd.Timestamp("2024-12-31"), "D", val) == (
        "Rates are per day. All data: the 1,500 customers' histories up to **31 December 2024**; calibration: the 3 "
        "customers who had bought by **31 March 2024**, their histories up to that day.")


def test_calibration_window_end_is_the_setting_or_two_thirds_of_the_data():
    tx = pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01 10:00", "2024-04-01 16:00"])})
    assert findings.calibration_window_end(tx) == pd.Timestamp("2024-03-01")  # 91 days x 2/3 = 60.7 days
    assert findings.calibration_window_end(tx, None, 0.5) == pd.Timestamp("2024-02-15")
    assert findings.calibration_window_end(tx, "2024-02-01") == pd.Timestamp("2024-02-01")


def test_estimate_formats_cover_the_estimate_columns_only():
    assert findings.estimate_formats(["Parameter", "All data: estimate", "All data: 95 % interval"]) == {
        "All data: estimate": "{:.4g}"}


# ----------------------------------------------------------------------------- the holdout check


def _fit_with_intervals(params: dict[str, float]) -> clv.FitResult:
    """A converged BG/NBD fit with firm intervals (each parameter within a factor of 1.5)."""
    fit = clv.fit_from_params("bgnbd", params, n_customers=100)
    estimate = pd.Series(params)
    fit.confidence_intervals = pd.DataFrame({"estimate": estimate, "se": 0.1, "lower": estimate / 1.2,
                                             "upper": estimate * 1.2})
    return fit


def _validation(predicted: float, actual: float, by_frequency: pd.DataFrame | None = None) -> clv.HoldoutValidation:
    """A holdout check of 100 customers over the 140 days (20 weeks) after 31 March 2024."""
    per_customer = pd.DataFrame({"frequency": [1] * 100, "recency": [30.0] * 100, "T": [32.0] * 100,
                                 "monetary_value": [20.0] * 100})
    groups = by_frequency if by_frequency is not None else pd.DataFrame(
        {"customers": [100], "actual_mean": [1.0], "predicted_mean": [1.0]}, index=pd.Index([1], name="frequency_cal"))
    return clv.HoldoutValidation(per_customer, {"customers": 100.0, "predicted": predicted, "actual": actual,
                                                "undefined": 0.0}, groups,
                                 _fit_with_intervals({"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.4}),
                                 pd.Timestamp("2024-03-31"), pd.Timestamp("2024-08-18"), "W")


def test_a_holdout_within_the_limit_is_said_with_its_numbers():
    found = findings.holdout_finding(_validation(110.0, 100.0), TrustLimits(), "2024-03-31", "2024-08-18", "BG/NBD")
    assert found.checked and found.check.error_pct == pytest.approx(10.0)  # (110 - 100) / 100
    assert found.window == "140 days (20 weeks)"
    assert found.sentence == (
        "Fitted up to **31 March 2024**, the model predicted **110** repeat purchases by these 100 customers in the "
        "following 140 days (20 weeks); they made **100**. The aggregate error is **+10.0 %** - within the 15 % the "
        "configuration allows.")
    assert found.analyst_sentence == (
        "Calibration fit (BG/NBD, up to 31 Mar 2024): r = 0.25, alpha = 4, a = 0.8, b = 2.4. Holdout window: 140 "
        "days (at least `clv.min_holdout_weeks` = 8 weeks and `clv.min_holdout_purchases` = 20 repeat purchases); "
        "error limit `clv.holdout_error_weak_pct` = 15 %.")


def test_a_holdout_off_by_more_than_the_limit_and_an_uneven_group():
    groups = pd.DataFrame({"customers": [60, 25, 15], "actual_mean": [0.5, 1.0, 2.0],
                           "predicted_mean": [0.55, 1.6, 2.1]}, index=pd.Index([0, 1, 2], name="frequency_cal"))
    found = findings.holdout_finding(_validation(70.0, 100.0, groups), TrustLimits(), "2024-03-31", "2024-08-18",
                                     "BG/NBD")
    said, group = found.sentence.split("\n\n")
    assert said.endswith("The aggregate error is **-30.0 %** - more than 15 % off, so treat the forecasts below as "
                         "rough.")
    # groups of at least 20: 0 (+10 %) and 1 (+60 %); group 2 is too small to judge, and not the top here
    assert group == (
        "By group the fit is less even: for the 25 customers with **1** repeat purchases in the calibration window "
        "the model predicted 1.60 purchases each against 1.00 made (**+60%**), so per-customer forecasts for that "
        "group are less reliable than the total.")


def test_without_a_holdout_window_no_error_is_reported_and_the_advice_is_in_words():
    found = findings.holdout_finding(None, TrustLimits(), "2024-08-18", "2024-08-18", "BG/NBD")
    assert not found.checked and found.check.error_pct is None and found.window == "0 days"
    assert found.sentence == (
        "**No holdout error is reported:** the calibration end leaves no holdout window. Move the calibration end "
        "date (a setting of the configuration) earlier (or leave it unset) so that the holdout window lasts at "
        "least 8 weeks.")
    assert found.analyst_sentence == (
        "Holdout check: it was not checked on later purchases: the calibration end leaves no holdout window. Move "
        "`clv.calibration_end` earlier (or leave it unset) so that the holdout window lasts at least 8 weeks.")


def test_a_holdout_with_too_few_purchases_is_not_checked():
    found = findings.holdout_finding(_validation(12.0, 10.0), TrustLimits(), "2024-03-31", "2024-08-18", "BG/NBD")
    assert not found.checked
    assert found.sentence.startswith("**No holdout error is reported:** the holdout window holds only 10 repeat "
                                     "purchases (at least 20), too few to measure an error.")


def test_uneven_group_sentence_judges_only_groups_large_enough_and_with_purchases():
    groups = pd.DataFrame({"customers": [500, 100, 5], "actual_mean": [0.2, 1.0, 2.0],
                           "predicted_mean": [0.21, 1.05, 9.0]}, index=pd.Index([0, 1, 2], name="frequency_cal"))
    assert findings.uneven_group_sentence(groups) == ""  # +5 % at most among the judged groups
    none_bought = groups.assign(actual_mean=[0.0, 1.0, 2.0])
    assert findings.uneven_group_sentence(none_bought) == ""


def test_trust_limits_sentence_names_every_limit():
    assert findings.trust_limits_sentence(TrustLimits(holdout_error_weak_pct=20)) == (
        "Limits (`clv` keys of lclib.yaml): `clv.weak_interval_ratio` = 10, `clv.unusable_interval_ratio` = 1000, "
        "`clv.min_customers` = 500, `clv.min_holdout_weeks` = 8, `clv.min_holdout_purchases` = 20, "
        "`clv.holdout_error_weak_pct` = 20, `clv.holdout_error_unusable_pct` = 50.")


# ----------------------------------------------------------------------------- who is still active


def test_still_active_sentence_reads_the_corners_of_the_grid():
    grid = pd.DataFrame({"frequency": [0, 1, 1, 2, 2], "recency": [0.0, 4.0, 52.0, 4.0, 52.0],
                         "p_alive": [1.0, 0.30, 0.90, 0.20, 0.95]})
    # repeat buyers whose last purchase was in week 4: at most 30 %; who just bought: at least 90 %
    assert findings.still_active_sentence(grid, "W") == (
        "Customers who bought but not lately are the ones at risk: a customer whose repeat purchases all came in "
        "their first 4 weeks and none since is still active with a probability of at most **30%**, while one who "
        "has just bought again is active with at least **90%**. One caution: the model lets a customer drop out "
        "only after a repeat purchase, so a one-time buyer always counts as active (the bottom row); their expected "
        "purchases are low but not zero, which lifts segments made of one-time buyers (such as *Lost* or "
        "*Hibernating*) in the value charts below.")
    assert "their first 10 days and none since" in findings.still_active_sentence(grid.assign(
        recency=[0.0, 10.0, 300.0, 10.0, 300.0]), "D")


def test_still_active_is_not_available_without_a_usable_model():
    assert findings.still_active_sentence(None) == "Not available: the purchase model is unusable (see above)."


# ----------------------------------------------------------------------------- the spend model


def test_a_usable_spend_model_gives_the_average_order_value(simulated):
    tx, summary, last_day = simulated
    spend = findings.fit_spend_model(summary, None, TrustLimits(), observed_order_value=12.5, holdout_checked=False,
                                     currency="EUR")
    assert spend.usable and spend.order_value_model is spend.fit and spend.calibration_fit is None
    assert spend.value_check is None  # no holdout window: spend is not checked on one
    p, q, v = (spend.fit.params[k] for k in ("p", "q", "v"))
    paragraphs = spend.sentence.split("\n\n")
    assert paragraphs[0] == spend.check.sentence(plain=True)
    assert paragraphs[-1] == (f"The model puts the average order value at **{findings.money_text(p * v / (q - 1), 'EUR')}"
                              "** (observed: 12.50 EUR).")
    assert "hardly depends on how often they buy, as the model assumes." in spend.sentence  # simulated independent
    assert spend.analyst_sentence == (spend.check.sentence() + "\n\nOrder value and purchase frequency correlate at "
                                      f"**r = {spend.correlation:.2f}** among repeat customers.")


def test_thin_data_leave_the_spend_model_unusable_and_every_customer_at_the_observed_value():
    summary = pd.DataFrame({"frequency": [0, 1, 0, 2], "recency": [0.0, 3.0, 0.0, 5.0], "T": [10.0] * 4,
                            "monetary_value": [0.0, 20.0, 0.0, 30.0]})
    spend = findings.fit_spend_model(summary, None, TrustLimits(), observed_order_value=12.5, holdout_checked=True,
                                     currency="EUR")
    assert not spend.usable and spend.order_value_model == 12.5 and np.isnan(spend.correlation)
    assert spend.sentence.endswith("Without a usable spend model every customer is valued at the observed mean "
                                   "order value, **12.50 EUR**.")
    assert "correlate" not in spend.analyst_sentence and "Among repeat customers" not in spend.sentence


# ----------------------------------------------------------------------------- what each customer is worth


@pytest.fixture
def two_customers() -> tuple[pd.DataFrame, pd.DataFrame]:
    summary = pd.DataFrame({"frequency": [3, 0], "recency": [20.0, 0.0], "T": [30.0, 25.0],
                            "monetary_value": [25.0, 0.0]}, index=pd.Index(["a", "b"], name="customer_id"))
    tx = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b"], "order_id": ["1", "2", "3", "4", "5"],
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01", "2024-05-20",
                                                    "2024-02-10"]),
                       "amount": [10.0, 20.0, 30.0, 25.0, 8.0]})
    return summary, tx


BGNBD = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.4}


def test_an_unusable_model_scores_nobody(two_customers):
    summary, _ = two_customers
    verdict = Verdict("The purchase model (BG/NBD)", [Finding("unusable", "the history is only 6 weeks long")])
    scores, after = findings.score_customers(clv.fit_from_params("bgnbd", BGNBD), 20.0, summary, verdict,
                                             TrustLimits(), horizon_months=12, discount_rate_annual=0.1, margin=0.3)
    assert scores is None and after is verdict


def test_a_usable_model_scores_every_customer_and_adds_the_predictions_check(two_customers):
    summary, _ = two_customers
    verdict = Verdict("The purchase model (BG/NBD)", [Finding("weak", "it rests on only 2 customers")])
    scores, after = findings.score_customers(clv.fit_from_params("bgnbd", BGNBD), 20.0, summary, verdict,
                                             TrustLimits(), horizon_months=12, discount_rate_annual=0.1, margin=0.3)
    assert list(scores.index) == ["a", "b"] and after.status == "weak"
    assert [f.reason for f in after.findings] == ["it rests on only 2 customers",
                                                  "every one of the 2 customers was scored"]


def test_interval_scope_needs_draws_and_every_covariance():
    covariance = pd.DataFrame(np.eye(1))
    fit = SimpleNamespace(log_covariance=covariance)
    spend = clv.fit_from_params("gamma_gamma", {"p": 6.0, "q": 4.0, "v": 15.0})
    assert findings.interval_scope(200, fit, 20.0, 500, 1000) == "every"  # a fixed order value needs none
    assert findings.interval_scope(200, fit, 20.0, 5000, 1000) == "top"
    assert findings.interval_scope(200, fit, 20.0, 5000, None) == "every"
    assert findings.interval_scope(0, fit, 20.0, 500, 1000) == "none"
    assert findings.interval_scope(200, SimpleNamespace(log_covariance=None), 20.0, 500, 1000) == "none"
    assert findings.interval_scope(200, fit, spend, 500, 1000) == "none"  # the spend model's is unknown
    spend.log_covariance = covariance
    assert findings.interval_scope(200, fit, spend, 500, 1000) == "every"


def test_value_sentence_and_excluded_customers():
    scores = pd.DataFrame({"clv": [50.0, 30.0, 10.0, 5.0, 5.0], "expected_purchases": [4.0, 2.0, 1.0, 0.5, 0.5]})
    # 100 of margin, 20 each, median 10; the top 10 % is the best one customer: 50 of 100
    assert findings.value_sentence(scores, horizon_months=6, discount_rate_annual=0.08, currency="USD") == (
        "Over the next **6 months** the 5 customers are expected to make **8** purchases worth **100 USD** of margin "
        "(discounted at 8% a year): **20.00 USD** per customer on average, median 10.00 USD. The top 10 % of "
        "customers hold **50%** of it.")
    nothing = findings.value_sentence(scores * 0, horizon_months=6, discount_rate_annual=0.08, currency="USD")
    assert nothing.endswith("median 0.00 USD.")  # no share of nothing
    assert findings.excluded_sentence(scores) == ""
    scores.attrs["excluded"] = 1234
    assert findings.excluded_sentence(scores) == (
        "**1,234 customers are left out** of every number below: the model's formula gives no prediction for their "
        "histories (counted in the status above).")


def test_the_top_customers_with_their_history_and_the_list_in_words(two_customers):
    summary, tx = two_customers
    scores = pd.DataFrame({"expected_purchases": [2.0, 0.5], "p_alive": [0.9, 1.0],
                           "expected_order_value": [24.0, 15.0], "clv": [14.4, 2.25]}, index=summary.index)
    intervals = pd.DataFrame({"clv_low": [10.0, 1.0], "clv_high": [20.0, 4.0], "expected_purchases_low": [1.0, 0.1]},
                             index=summary.index)
    top = findings.top_customers_table(scores, tx, 1, intervals)
    assert list(top.index) == ["a"] and top.loc["a", "orders"] == 4 and top.loc["a", "revenue"] == 85.0
    assert list(top.columns)[-2:] == ["clv_low", "clv_high"]
    assert top.loc["a", "first_purchase"] == pd.Timestamp("2024-01-01")
    shown, formats = findings.top_customers_report_table(top, currency="EUR", horizon_months=12, level=0.9)
    assert shown.index.name == "Customer" and "CLV 90% low (EUR)" in shown and formats["P(still active)"] == "{:.0%}"
    bare, bare_formats = findings.top_customers_report_table(top.drop(columns=["clv_low", "clv_high"]),
                                                             currency="EUR", horizon_months=12, level=0.9)
    assert set(bare_formats) <= set(bare.columns)  # no format for a column that is not shown


def _value(scope: str, every: bool, with_intervals: bool, customers: int = 3) -> findings.CustomerValue:
    top = pd.DataFrame({"clv": [3.0, 2.0]}, index=["a", "b"])
    if with_intervals:
        top = top.assign(clv_low=[1.0, 1.0], clv_high=[4.0, 3.0])
    scores = pd.DataFrame({"clv": np.ones(customers)})
    return findings.CustomerValue(scores, top, top, {}, scope, every, "", "", draws=200, level=0.9,
                                  max_customers=2)


def test_the_top_list_sentence_says_where_the_intervals_are():
    head = "The 2 most valuable customers are listed above (first 10)"
    spread = (" Their 90% intervals show how far each value moves with the uncertainty of the model (200 simulated "
              "versions of it); they leave out the chance in each customer's own future purchases.")
    assert _value("every", True, True).top_sentence("/tmp/run/exports/top_customers_clv.csv") == (
        head + " and exported to `top_customers_clv.csv`." + spread + " Every customer's interval is in the export "
        "`clv_scores` (columns `clv_low`, `clv_high`, `expected_purchases_low`, `expected_purchases_high`).")
    assert _value("top", False, True).top_sentence() == (
        head + "." + spread + " With 3 customers, only this list has intervals (more than 2 customers, the limit of "
        "the configuration).")
    failed = (" There are no intervals: too many of the model's simulated versions give no prediction for these "
              "customers, another sign that its parameters are poorly pinned down.")
    assert _value("top", False, False).top_sentence() == head + "." + failed
    assert _value("every", False, False).top_sentence() == head + "." + failed
    assert _value("none", False, False).top_sentence() == head + "."


def test_customer_value_finding_without_intervals(two_customers):
    summary, tx = two_customers
    fit = clv.fit_from_params("bgnbd", BGNBD)  # no covariance: no intervals
    scores = clv.predict_customers(fit, 20.0, summary, 12, 0.1, 0.3, "W")
    value = findings.customer_value_finding(scores, fit, 20.0, summary, tx, model_name="BG/NBD", status="ok",
                                            horizon_months=12, discount_rate_annual=0.1, margin=0.3, time_unit="W",
                                            currency="EUR", top_customers=5, draws=200)
    assert value.scope == "none" and not value.every
    assert list(value.scores.columns[-2:]) == ["clv_model", "model_status"] and "clv_low" not in value.scores
    assert set(value.scores["clv_model"]) == {"BG/NBD"} and len(value.top) == 2 and "clv_low" not in value.top
    assert value.excluded_sentence == ""
    assert value.sentence == findings.value_sentence(scores, horizon_months=12, discount_rate_annual=0.1,
                                                     currency="EUR")
    assert value.top_sentence() == "The 2 most valuable customers are listed above (first 10)."


def test_without_a_usable_model_the_report_names_what_is_missing_and_the_textbook_figure():
    verdict = Verdict("The purchase model (BG/NBD)", [Finding("unusable", "the history is only 6 weeks long")])
    textbook = pd.Series({"value_before_cac": 120.0, "expected_lifetime_years": 1.5})
    said = findings.no_model_sentence(verdict, None, textbook, channel_costs=True, currency="EUR")
    assert said.startswith("**Not computed:** each customer's expected purchases and P(still active); ")
    assert "the model-based CLV:CAC per channel (the textbook formula is used instead)" in said
    assert said.endswith("is unusable (the history is only 6 weeks long). The textbook CLV above (**120 EUR** per "
                         "customer before acquisition cost, an expected lifetime of 18.0 months from the measured "
                         "retention) is the figure to work with.")  # 1.5 years = 18 months
    none = findings.no_model_sentence(verdict, None, pd.Series({"value_before_cac": np.nan, "expected_lifetime_years": 0.0}), channel_costs=False,
                                      currency="EUR")
    assert none.endswith("The textbook CLV cannot be computed either: this data does not support a lifetime value "
                         "estimate yet.") and "CLV:CAC" not in none


def test_the_analysts_sentences_of_the_top_list():
    assert findings.p_alive_paths_sentence("BG/NBD", "bgnbd").startswith(
        "BG/NBD can only lose a customer right after a repeat purchase")
    assert findings.p_alive_paths_sentence("MBG/NBD", "mbgnbd") == (
        "MBG/NBD lets a customer leave at any time, so every silence lowers the curve.")
    assert findings.top_list_settings_sentence(50, 0, 7, 0.8) == (
        "List length `clv.top_customers` = 50; intervals from `clv.bootstrap_draws` = 0 parameter draws, seed "
        "`clv.bootstrap_seed` = 7, level `clv.interval_level` = 0.8.")


# ----------------------------------------------------------------------------- where the value sits


@pytest.fixture
def four_scores() -> pd.DataFrame:
    return pd.DataFrame({"clv": [100.0, 50.0, 30.0, 20.0], "p_alive": [0.9, 0.8, 0.5, 0.4],
                         "expected_purchases": [5.0, 2.0, 1.0, 1.0]}, index=["c1", "c2", "c3", "c4"])


def test_value_by_group_finds_the_segment_and_channel_that_hold_the_value(four_scores):
    segments = pd.Series(["Champions", "Champions", "Lost", "Lost"], index=four_scores.index)
    channels = pd.Series(["email", "paid_search", "email", "paid_search"], index=four_scores.index)
    cohorts = pd.Series(pd.Categorical(["2024Q1"] * 4), index=four_scores.index)
    where = findings.value_by_group(four_scores, segments, channels, cohorts, currency="EUR")
    # Champions 150 of 200 (75 %), 75 each; email (100 + 30) / 2 = 65, paid search (50 + 20) / 2 = 35
    assert where.by_segment.loc["Champions", "share_clv"] == pytest.approx(0.75)
    assert where.sentence == (
        "**Champions** hold the largest share of future value (**75%**); the most valuable customers on average are "
        "**Champions** (75.00 EUR each). By channel, **Email** customers are worth most (65.00 EUR) and **Paid "
        "search** customers least (35.00 EUR). ")  # one cohort: nothing to compare
    two = cohorts.cat.set_categories(["2023Q4", "2024Q1"]).where(four_scores.index != "c1", "2023Q4")
    unknown = findings.value_by_group(four_scores, segments, channels, two, channel_known=False, currency="EUR")
    assert unknown.sentence.endswith(
        "(75.00 EUR each). No acquisition channel is known (no customers table and no order channel). Recent cohorts "
        "are worth more ahead of them than old ones simply because more of them are still active.")
    assert list(unknown.by_cohort.index) == ["2023Q4", "2024Q1"]


def test_first_purchase_quarters_are_in_time_order():
    tx = pd.DataFrame({"customer_id": ["a", "a", "b", "c"], "order_id": ["1", "2", "3", "4"],
                       "timestamp": pd.to_datetime(["2024-02-01", "2023-12-30", "2024-10-01", "2024-01-05"]),
                       "amount": [1.0, 1.0, 1.0, 1.0]})
    quarters = findings.first_purchase_quarters(tx, pd.Index(["b", "a", "c"], name="customer_id"))
    assert list(quarters) == ["2024Q4", "2023Q4", "2024Q1"]
    assert list(quarters.cat.categories) == ["2023Q4", "2024Q1", "2024Q4"]


# ----------------------------------------------------------------------------- which channels pay back


def _cac_table(rows: dict[str, tuple[float, int]]) -> pd.DataFrame:
    """channel -> (spend, new customers) as cac.cac_by_channel returns them."""
    frame = pd.DataFrame(rows, index=["spend", "new_customers"]).T
    frame["new_customers"] = frame["new_customers"].astype("int64")
    paid = frame["spend"] > 0
    frame["cac"] = (frame["spend"] / frame["new_customers"]).where(paid & (frame["new_customers"] > 0))
    frame["status"] = np.where(paid & (frame["new_customers"] > 0), "paid",
                               np.where(paid, "spend without new customers", "no spend"))
    return frame.rename_axis("channel")


def _payback(cac_table, simple, **kw) -> findings.ChannelPayback:
    options = dict(fit=None, scores=None, spend_usable=False, simple=simple, horizon_months=12,
                   payback_max_months=24, margin=0.3, discount_rate_annual=0.0, threshold=3.0,
                   min_customers=1)  # hand-worked channels of a few customers: rated all the same
    return findings.channel_payback(cac_table, pd.DataFrame(), pd.Series(dtype=object), **{**options, **kw})


@pytest.fixture
def textbook_margins() -> pd.DataFrame:
    return pd.DataFrame({"annual_margin_per_customer": [90.0, 120.0, 60.0]},
                        index=pd.Index(["All customers", "email", "paid_search"], name="channel"))


def test_without_a_model_a_channel_earns_its_margin_only_for_its_expected_lifetime():
    """The thin cut: 74 EUR a year but a lifetime of 0.17 years must not 'pay back after 7 months'."""
    margins = pd.DataFrame({"annual_margin_per_customer": [90.0, 74.0], "expected_lifetime_years": [1.0, 0.17]},
                           index=pd.Index(["All customers", "paid_search"], name="channel"))
    found = _payback(_cac_table({"paid_search": (1700.0, 40)}), margins)  # 42.50 EUR per new customer
    path = found.path["paid_search"]
    assert path.iloc[-1] == pytest.approx(74.0 * 0.17)  # margin x lifetime: 12.58, the textbook value before CAC
    assert path.loc[2] == pytest.approx(74.0 * 2 / 12) and path.loc[3] == pytest.approx(74.0 * 0.17)
    assert found.economics.loc["paid_search", "clv_cac"] == pytest.approx(74.0 * 0.17 / 42.5)
    assert "does not pay back within 24 months" in found.sentence


def test_without_spend_or_without_a_paid_channel_the_comparison_is_skipped(textbook_margins):
    none = _payback(None, textbook_margins)
    assert none.economics is None and not none.verdict.rated and none.verdict.best_pair is None
    assert none.sentence == "Skipped: no spend table, so there is no acquisition cost to compare with."
    free = _payback(_cac_table({"organic": (0.0, 10), "tv": (500.0, 0)}), textbook_margins)
    assert free.economics is None and free.sentence == "Skipped: no channel has both spend and new customers."


def test_without_a_model_the_textbook_margin_decides_which_channels_pay_back(textbook_margins):
    table = _cac_table({"email": (250.0, 10), "paid_search": (600.0, 20)})  # CAC 25 and 30
    found = _payback(table, textbook_margins)
    # 12 months of 120 a year = 120: 120 / 25 = 4.8; 60 / 30 = 2.0. Margin 10 a month covers 25 in month 3,
    # 5 a month covers 30 in month 6
    assert found.economics["clv_cac"].to_dict() == pytest.approx({"email": 4.8, "paid_search": 2.0})
    assert found.verdict.best_pair == ("email", 4.8) and found.verdict.worst_pair == ("paid_search", 2.0)
    assert found.verdict.below == ["paid_search"] and len(found.path) == 25  # months 0..24
    assert found.sentence == (
        "Based on the textbook formula (annual margin / 12 a month for the expected lifetime), as no model could be used, over 12 months: "
        "**Email** returns **4.8:1** and pays back after 3 months; **Paid search** returns **2.0:1** and pays back "
        "after 6 months. Below the 3:1 target: **Paid search** - cut their cost per customer or raise their "
        "customers' value before scaling them up.")


def test_one_paid_channel_is_best_and_worst_and_meets_the_target(textbook_margins):
    found = _payback(_cac_table({"email": (250.0, 10), "organic": (0.0, 5)}), textbook_margins,
                     names={"email": "Newsletter"})
    assert found.verdict.best == found.verdict.worst == "email" and found.verdict.below == []
    # one paid channel: named once, not as both the best and the worst
    assert found.sentence.endswith("**Newsletter**, the only paid channel rated, returns **4.8:1** and pays back "
                                   "after 3 months. Every paid channel meets the 3:1 target.")


def test_a_paid_channel_without_a_value_cannot_be_rated(textbook_margins):
    found = _payback(_cac_table({"tv": (900.0, 3)}), textbook_margins)  # no textbook margin for tv
    assert found.economics is not None and not found.verdict.rated and np.isnan(found.verdict.best_ratio)
    assert found.sentence == ("No paid channel has both an acquisition cost and a value estimate: CLV:CAC cannot "
                              "be computed.")


def test_with_a_model_every_channel_is_valued_by_it_and_the_sentence_says_so(two_customers, textbook_margins):
    summary, tx = two_customers
    fit = clv.fit_from_params("bgnbd", BGNBD)
    scores = clv.predict_customers(fit, 20.0, summary, 12, 0.1, 0.3, "W")
    channels = pd.Series(["email", "paid_search"], index=summary.index)
    found = findings.channel_payback(_cac_table({"email": (5.0, 1), "paid_search": (50.0, 1)}), tx, channels,
                                     fit=fit, scores=scores, spend_usable=False, simple=textbook_margins,
                                     horizon_months=12, payback_max_months=24, margin=0.3,
                                     discount_rate_annual=0.1, threshold=3.0, min_customers=1)
    assert found.sentence.startswith("Based on the BG/NBD model and observed order values, over 12 months: **Email**")
    assert found.sentence.endswith("the channel differences in retention seen in the textbook table are not in these "
                                   "values.")
    # first orders: a 10, b 8 (x 0.3 margin) -> the value of a new email customer starts at 3.00
    assert found.path.loc[0].to_dict() == pytest.approx({"email": 3.0, "paid_search": 2.4})


def test_payback_in_the_table_and_in_a_sentence():
    assert [cac.payback_text(m) for m in (0, 6.4, np.nan)] == ["first order", "6", "-"]
    assert cac.payback_words(0, 60) == "pays back on the first order"
    assert cac.payback_words(np.nan, 24) == "does not pay back within 24 months"
    econ = pd.DataFrame({"new_customers": [4], "cac": [150.0], "clv": [400.0], "clv_cac": [2.67],
                         "payback_months": [0.0], "verdict": ["below 3:1"]}, index=pd.Index(["tv"], name="channel"))
    shown, formats = cac.clv_cac_report_table(econ, "EUR", 12)
    assert shown.loc["tv", "Payback (months)"] == "first order"
    assert list(shown.columns)[2] == "Value of a new customer, 12 months (EUR)" and formats["CLV:CAC"] == "{:.2f}"


# ----------------------------------------------------------------------------- the recorded numbers


def _headlines(**kw) -> list[tuple]:
    options = dict(customers=1000, repeat_customers=400, count_by="D",
                   textbook=pd.Series({"clv": 123.456, "expected_lifetime_years": 1.987}), blended_cac=np.nan,
                   model_status="unusable", model_name="BG/NBD", holdout_error_pct=None, value_check=None,
                   scores=None, horizon_months=12,
                   clv_cac=cac.ClvCacVerdict(None, None, np.nan, np.nan, [], "Skipped."), threshold=3.0,
                   spend_status="unusable", currency="EUR")
    return findings.headline_numbers(**{**options, **kw})


def test_headlines_of_a_thin_run_leave_out_what_was_not_computed():
    entries = _headlines()
    assert [e[0] for e in entries] == ["customers_modelled", "repeat_customers", "simple_clv", "blended_cac",
                                       "model_status", "holdout_error_pct", "spend_holdout_error_pct",
                                       "revenue_holdout_error_pct", "spend_model_status", "simple_lifetime_years"]
    values = {e[0]: e[1] for e in entries}
    assert values["simple_clv"] == 123.46 and values["simple_lifetime_years"] == 1.99
    assert values["blended_cac"] is None and values["holdout_error_pct"] is None
    assert entries[1][2] == "Customers with a repeat purchase (orders on one day count once, as the model counts)"
    assert entries[4] == ("model_status", "unusable", "Purchase model (BG/NBD): ok, weak or unusable")


def test_headlines_of_a_full_run_with_the_channels_in_words():
    scores = pd.DataFrame({"clv": [10.004, 20.0], "expected_purchases": [1.26, 2.0]})
    value_check = clv.ValueHoldout(True, 100.0, 22.0, 20.0, 2200.0, 2000.0, "")
    verdict = cac.ClvCacVerdict("email", "paid_search", 4.756, 1.234, ["paid_search"], "")
    entries = _headlines(scores=scores, clv_cac=verdict, blended_cac=41.237, holdout_error_pct=-3.26,
                         value_check=value_check, count_by="W", names={"paid_search": "Google Ads"})
    values = {e[0]: e[1] for e in entries}
    assert values["mean_clv"] == 15.0 and values["total_clv"] == 30.0 and values["expected_purchases"] == 3.3
    assert values["blended_cac"] == 41.24 and values["holdout_error_pct"] == -3.3
    assert values["spend_holdout_error_pct"] == 10.0 and values["revenue_holdout_error_pct"] == 10.0
    assert values["clv_cac_best"] == 4.76 and values["clv_cac_worst"] == 1.23 and values["channels_below_threshold"] == 1
    labels = {e[0]: e[2] for e in entries}
    assert labels["clv_cac_worst"] == "CLV:CAC of the worst paid channel (Google Ads)"
    assert labels["clv_cac_best"] == "CLV:CAC of the best paid channel (Email)"
    assert labels["repeat_customers"].startswith("Customers with a repeat purchase (orders in one week count once")
    assert [e[0] for e in entries][-2:] == ["spend_model_status", "simple_lifetime_years"]


def test_model_details_keep_one_shape_with_and_without_a_holdout(simulated):
    tx, summary, last_day = simulated
    for cal_end in (pd.Timestamp("2020-12-31"), last_day):
        model = findings.choose_purchase_model(tx, summary, cal_end, last_day, TrustLimits())
        holdout = findings.holdout_finding(model.validation, TrustLimits(), cal_end, last_day, model.name)
        spend = findings.fit_spend_model(summary, model.validation, TrustLimits(), observed_order_value=30.0,
                                         holdout_checked=holdout.checked)
        verdict = clv.combine("The purchase model (BG/NBD)", model.check, holdout.check.finding)
        details = findings.model_details(verdict=verdict, spend=spend, holdout=holdout.check, scores=None,
                                         fit=model.fit, validation=model.validation)
        names = [d[0] for d in details]
        assert names[:10] == ["model_reason", "spend_model_reason", "holdout_status", "holdout_reason",
                              "holdout_days", "holdout_customers", "holdout_predicted", "holdout_actual",
                              "excluded_customers", "purchase_model"]
        assert len(names) == len(set(names)) == 10 + 13 + 13 + 10 + 10  # 4 + 4 + 3 + 3 parameters, x3, + loglik
        values = dict((d[0], d[1]) for d in details)
        assert values["excluded_customers"] is None and values["purchase_model"] == "bgnbd"
        if cal_end == last_day:  # no calibration window: its fits are there, empty
            assert values["holdout_status"] == "not checked" and values["bgnbd_cal_r"] is None
            assert values["gamma_gamma_cal_p"] is None and values["holdout_days"] == 0
        else:
            assert values["holdout_status"] == holdout.check.status and values["bgnbd_cal_r"] is not None
            assert values["holdout_days"] == 179 and dict((d[0], d[2]) for d in details)["holdout_days"] == (
                "Holdout window")  # one label every run: the value carries the days


def test_the_textbook_table_names_the_buyers_column_by_the_period_it_counts():
    """One meaning per name: a 180-day retention period is not called a year."""
    year = findings.textbook_clv_finding(_simple(), currency="EUR", margin=0.3)
    short = findings.textbook_clv_finding(_simple(period=180), currency="EUR", margin=0.3)
    assert list(year.table.columns)[0] == "Buyers in the previous year" and year.formats[year.table.columns[0]] == "{:,}"
    assert list(short.table.columns)[0] == "Buyers in the previous 180 days"
    assert short.formats["Buyers in the previous 180 days"] == "{:,}"


def test_an_interval_too_wide_for_a_float_says_its_factor_in_powers_of_ten_without_a_warning():
    """A diverged fit's interval (1.3e-170 to 2.46e+182, seen on a hostile shop export) overflowed
    upper / lower: a RuntimeWarning in the analyst report and "a factor of inf" in the table."""
    import warnings

    from lclib.analysis.clv.tables import _interval_text

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _interval_text(1.3e-170, 2.46e182, 10.0) == "1.3e-170 to 2.46e+182 (a factor of about 1e+352)"
        assert _interval_text(0.5, 40.0, 10.0) == "0.5 to 40 (a factor of 80)"
        assert _interval_text(1e-3, 1e3, 10.0) == "0.001 to 1e+03 (a factor of 1.0e+06)"
        assert _interval_text(2.0, 3.0, 10.0) == "2 to 3"
        assert _interval_text(0.0, 3.0, 10.0) == "not measurable"
