"""Customer lifetime value: BG/NBD-family and Gamma-Gamma fits, scoring, validation.

Everything here takes a customer summary from :mod:`lclib.engine.summary` (index
``customer_id``; columns ``frequency`` (int), ``recency``, ``T``,
``monetary_value``) and never loops over customers. The modules, by job:

:mod:`~lclib.analysis.clv.fitting`
    the lifetimes import, :class:`FitResult`, :func:`fit_bgnbd`,
    :func:`fit_bgnbd_robust`, :func:`fit_gamma_gamma`, :func:`fit_sample`,
    degeneracy checks;
:mod:`~lclib.analysis.clv.prediction`
    :func:`predict_customers`, :func:`new_customer_purchases`,
    :func:`conditional_expected_purchases` (lclib's BG/NBD formula, defined
    where lifetimes' returns NaN);
:mod:`~lclib.analysis.clv.batches`
    every customer scored batch by batch: :func:`score_parquet` (DuckDB Arrow batches),
    :func:`score_spark` (``mapInPandas`` on a Spark DataFrame);
:mod:`~lclib.analysis.clv.validation`
    :func:`holdout_validation`, :func:`repeat_count_fit`,
    :func:`frequency_recency_matrix`, :func:`default_calibration_end`,
    :func:`weekly_tracking`;
:mod:`~lclib.analysis.clv.simple`
    the textbook CLV (:func:`simple_clv`, :func:`simple_clv_by_channel`);
:mod:`~lclib.analysis.clv.simulation`
    customers and order lines simulated from the models' definitions;
:mod:`~lclib.analysis.clv.tables`
    report tables and recorded values (:func:`parameter_table`,
    :func:`parameter_comparison`, :func:`clv_by_group`, :func:`fit_metrics`);
:mod:`~lclib.analysis.clv.trust`
    the status a model earned (ok / weak / unusable) with its reason and
    advice: :func:`judge_fit`, :func:`judge_holdout`, :func:`judge_predictions`.

Every public name (and the private helpers other modules and tests use) is
re-exported here: ``from lclib.analysis import clv; clv.fit_bgnbd(...)`` and
``from lclib.analysis.clv import fit_bgnbd`` both work.
"""

from __future__ import annotations

from lclib.analysis.clv.fitting import (
    BOUNDARY,
    CORRELATION_THRESHOLD,
    FALLBACK_PENALIZERS,
    FIT_SAMPLE_SEED,
    MAX_FIT_CUSTOMERS,
    MIN_REPEAT_CUSTOMERS,
    MODEL_NAMES,
    PURCHASE_MODELS,
    SUMMARY_HINT,
    BGModel,
    ConvergenceError,
    FitResult,
    compare_fits,
    compress_histories,
    fit_bgnbd,
    fit_bgnbd_robust,
    fit_from_params,
    fit_gamma_gamma,
    fit_sample,
    lifetimes,
    spend_frequency_correlation,
)
from lclib.analysis.clv.fitting import _FITTERS as _FITTERS
from lclib.analysis.clv.fitting import _MODEL_NAMES as _MODEL_NAMES
from lclib.analysis.clv.fitting import _UNIT_NAMES as _UNIT_NAMES
from lclib.analysis.clv.fitting import _confidence_intervals as _confidence_intervals
from lclib.analysis.clv.fitting import _degeneracy as _degeneracy
from lclib.analysis.clv.fitting import _fitter_of as _fitter_of
from lclib.analysis.clv.fitting import _log_likelihood as _log_likelihood
from lclib.analysis.clv.fitting import _quiet as _quiet
from lclib.analysis.clv.fitting import _rescale as _rescale
from lclib.analysis.clv.prediction import (
    example_customers,
    p_alive_paths,
    DAYS_PER_MONTH,
    UndefinedPredictionError,
    clv_intervals,
    conditional_expected_purchases,
    new_customer_purchases,
    predict_customers,
)
from lclib.analysis.clv.prediction import _distinct_histories as _distinct_histories
from lclib.analysis.clv.batches import SCORE_COLUMNS, score_batches, score_parquet, score_spark
from lclib.analysis.clv.simple import (
    MIN_RETENTION_BASE,
    SimpleCLV,
    default_period_days,
    simple_clv,
    simple_clv_by_channel,
)
from lclib.analysis.clv.simulation import simulate_bgnbd_gg, simulate_transactions
from lclib.analysis.clv.tables import (
    PARAMETER_MEANINGS,
    clv_by_group,
    fit_metrics,
    parameter_comparison,
    parameter_table,
)
from lclib.analysis.clv.trust import (
    STATUSES,
    Finding,
    HoldoutCheck,
    TrustLimits,
    Verdict,
    combine,
    judge_fit,
    judge_holdout,
    judge_predictions,
    missing_numbers,
    model_comparison_table,
    choose_on_holdout,
    span_text,
)
from lclib.analysis.clv.validation import (
    ValueHoldout,
    value_holdout_check,
    HoldoutValidation,
    default_calibration_end,
    frequency_recency_matrix,
    holdout_validation,
    repeat_count_fit,
    weekly_tracking,
)
from lclib.analysis.clv.validation import _bg_pmf as _bg_pmf
from lclib.analysis.clv.findings import *  # noqa: E402,F401,F403 - the 05_clv report's findings (findings.__all__)

__all__ = [
    "ValueHoldout", "value_holdout_check", "BOUNDARY", "CORRELATION_THRESHOLD", "DAYS_PER_MONTH", "FALLBACK_PENALIZERS", "FIT_SAMPLE_SEED",
    "MAX_FIT_CUSTOMERS", "MIN_REPEAT_CUSTOMERS", "MODEL_NAMES", "PURCHASE_MODELS", "MIN_RETENTION_BASE", "PARAMETER_MEANINGS", "STATUSES",
    "SUMMARY_HINT", "BGModel", "ConvergenceError", "Finding", "FitResult", "HoldoutCheck", "HoldoutValidation",
    "SimpleCLV", "TrustLimits", "UndefinedPredictionError", "Verdict",
    "clv_by_group", "clv_intervals", "combine", "compare_fits", "compress_histories", "conditional_expected_purchases", "default_calibration_end",
    "default_period_days", "fit_bgnbd", "fit_bgnbd_robust", "fit_from_params", "fit_gamma_gamma", "fit_metrics",
    "fit_sample", "frequency_recency_matrix", "holdout_validation", "judge_fit", "judge_holdout",
    "judge_predictions", "lifetimes", "missing_numbers", "model_comparison_table", "choose_on_holdout", "new_customer_purchases", "parameter_comparison",
    "parameter_table", "predict_customers", "repeat_count_fit", "simple_clv", "simple_clv_by_channel",
    "simulate_bgnbd_gg", "simulate_transactions", "span_text", "spend_frequency_correlation", "weekly_tracking",
    "SCORE_COLUMNS", "score_batches", "score_parquet", "score_spark",
]
