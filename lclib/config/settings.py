"""Load, override and validate ``lclib.yaml``.

The configuration is the one home of every parameter. It is validated on load
with pydantic models that forbid unknown keys, so a typo such as
``inputs.transactions.colums`` is reported with its dotted key instead of
being silently ignored.

Overrides use dotted keys and YAML values (``-p analysis.as_of=2025-06-30``,
``-p inputs.events.path=null``, ``-p report.notebooks=[00_data_overview]``).
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from lclib.config.kpi_catalogue import KPIS  # the one list of KPI names
from lclib.config.segment_rules import validate_segment_rules

#: Where the repository's default configuration lives.
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "lclib.yaml"

#: Environment variable naming the configuration file used when none is given
#: (``lclib run`` without ``--config``, a notebook with ``CONFIG = None``).
CONFIG_ENV = "LCLIB_CONFIG"


def default_config_path() -> Path:
    """The configuration file used when none is given.

    The file named by the environment variable ``LCLIB_CONFIG`` when it is set (a relative
    name is taken from the current directory), else the repository's ``lclib.yaml``, found
    from the location of the lclib package (so the same file from any working directory:
    the repository root, ``notebooks/``, a scheduler's folder or JupyterLab).
    """
    named = os.environ.get(CONFIG_ENV, "").strip()
    return Path(named).expanduser().resolve() if named else DEFAULT_CONFIG


#: Keys whose values are secrets: masked in published reports (config.yaml, run.json).
SECRET_KEYS = ("rfm.pseudonymise_key",)
REDACTED = "***"


def redact_overrides(overrides: list[str] | None) -> list[str]:
    """``-p key=value`` overrides with the values of secret keys masked.

    A secret set through a section (``-p "rfm={pseudonymise_key: ...}"``) is caught
    too: the whole value is masked. A secret given as ``env:NAME`` is kept.
    """
    out = []
    for item in overrides or []:
        key = item.split("=", 1)[0].strip()
        try:
            value = parse_override(item)[1]
        except ConfigError:
            value = REDACTED  # unreadable: mask it if it could hold a secret
        out.append(f"{key}={REDACTED}" if _holds_secret(key, value) else item)
    return out


def _holds_secret(key: str, value: Any) -> bool:
    """Whether ``-p key=value`` sets a secret of :data:`SECRET_KEYS` (other than ``env:NAME``)."""
    for dotted in SECRET_KEYS:
        if key == dotted:
            found = value
        elif dotted.startswith(key + "."):
            found = value
            for part in dotted[len(key) + 1:].split("."):
                found = found.get(part) if isinstance(found, dict) else (found if found == REDACTED else None)
        else:
            continue
        if found is not None and not str(found).startswith("env:"):
            return True
    return False


class ConfigError(ValueError):
    """The configuration is invalid; the message names the key and the problem."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ReadOptions(_Strict):
    """How to parse one input file."""

    delimiter: str = ","
    encoding: str = "utf-8"
    dayfirst: bool = False
    date_format: str | None = None
    decimal: str = "."
    header: bool = True  # false: the file has no header row; name its columns in `names`
    names: list[str] | None = None

    @model_validator(mode="after")
    def _headerless_files_need_names(self) -> "ReadOptions":
        if not self.header and not self.names:
            raise ValueError("header: false needs `names`, the file's column names in order")
        return self
    thousands: str | None = None
    sheet: str | None = None  # reserved for spreadsheet inputs
    # a transactions Parquet file of more lines is cleaned out of core, in parts of about this many
    # lines (whole customers; lclib.io.parts); null: always in memory. Needs typed dates or date_format
    rows_per_part: int | None = Field(4_000_000, ge=1)


class CleanRules(_Strict):
    """Cleaning rules for one table; each is applied where its columns exist.

    ``drop`` removes the rows and counts them in the ledger, ``keep`` leaves them,
    ``error`` stops the load with a message naming file, column and rows.
    """

    missing_id: Literal["drop", "error"] = "drop"
    duplicates: Literal["drop", "keep"] = "drop"
    unparsable_dates: Literal["drop", "error"] = "drop"
    # more unreadable dates than this share of a column is an error (a wrong date_format or
    # dayfirst, not a few bad rows)
    max_unparsable_share: float = Field(0.05, ge=0, le=1)
    future_dates: Literal["drop", "keep", "error"] = "drop"
    # net: a cancellation line (order id starting with cancellation_prefix, or negative quantity /
    # amount) is subtracted from the same customer's earlier purchase lines of the same product,
    # most recent first; an order refunded in full is no order (README "Cleaning rules").
    # drop: cancellation lines are removed and never subtracted; keep: left as they are
    cancellations: Literal["net", "drop", "keep"] = "net"
    cancellation_prefix: str | None = "C"
    nonpositive_price: Literal["drop", "keep", "error"] = "drop"
    non_product_codes: list[str] = Field(default_factory=list)
    score_range: tuple[float, float] = (0, 10)
    out_of_range: Literal["drop", "error"] = "drop"
    # an order is (customer, order id). unique: an order id names one customer's order, so one
    # shared by several customers is an error; per_customer: order numbers restart for each
    # customer (1, 2, 3 ...) and are made unique as <customer_id>/<order_id>
    order_ids: Literal["unique", "per_customer"] = "unique"
    missing_amount: Literal["drop", "error"] = "drop"  # empty amount (or quantity / unit price)
    # infinite amounts, or a line amount (quantity x unit price) larger than max_amount
    nonfinite_amount: Literal["drop", "error"] = "drop"
    max_amount: float = Field(1e12, gt=0)
    zero_quantity: Literal["drop", "keep", "error"] = "drop"
    # dates before the first or after the last day of date_range (inclusive)
    out_of_range_dates: Literal["drop", "error"] = "drop"
    date_range: tuple[dt.date, dt.date] = (dt.date(1900, 1, 1), dt.date(2200, 12, 31))

    @field_validator("date_range")
    @classmethod
    def _dates_a_timestamp_can_hold(cls, v: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
        lo, hi = v
        if not dt.date(1678, 1, 1) <= lo < hi <= dt.date(2261, 12, 31):
            raise ValueError("must be [first, last] with 1678-01-01 <= first < last <= 2261-12-31 "
                             "(the range of a nanosecond timestamp)")
        return v


class TableInput(_Strict):
    """One input table: file, column mapping, parsing and cleaning."""

    path: Path | None = None
    format: Literal["auto", "csv", "parquet"] = "auto"
    columns: dict[str, str] = Field(default_factory=dict)
    read: ReadOptions = Field(default_factory=ReadOptions)
    clean: CleanRules = Field(default_factory=CleanRules)

    @field_validator("columns", mode="before")
    @classmethod
    def _drop_unmapped(cls, v: Any) -> Any:
        # ``quantity: null`` means "I do not have that column".
        if isinstance(v, dict):
            return {k: val for k, val in v.items() if val is not None}
        return v


class Inputs(_Strict):
    transactions: TableInput
    events: TableInput | None = None
    customers: TableInput | None = None
    spend: TableInput | None = None
    referrals: TableInput | None = None
    surveys: TableInput | None = None
    experiments: TableInput | None = None



class Analysis(_Strict):
    as_of: dt.date | None = None
    currency: str = "EUR"
    margin: float = Field(0.30, gt=0, le=1)
    engine: Literal["duckdb", "pandas", "spark"] = "duckdb"  # who computes the heavy aggregations (lclib.engine)
    # customers whose first order in the data falls in its first this-many days may be long-standing
    # customers (left truncation): their cohorts are marked and left out of pooled cohort curves; 0 = off
    left_truncation_days: int = Field(30, ge=0)
    # null: times are the wall time as written (an offset or a Parquet time zone is dropped);
    # a zone name (Europe/Paris, UTC): times with an offset or zone are converted to it,
    # times without one are taken as already in it
    timezone: str | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str | None) -> str | None:
        if v is not None:
            import zoneinfo

            try:
                zoneinfo.ZoneInfo(v)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}; use an IANA name such as Europe/Paris or UTC") from None
        return v


FACTS = ("signup", "first_purchase", "repeat_purchase", "referral", "nps_promoter")


class Stage(_Strict):
    """One lifecycle stage: who is in it, and the KPI that measures it.

    A person enters the stage at the first of ``events`` (event types of the events
    table) or ``facts`` (derived from the other tables: ``signup`` = a customers row,
    ``first_purchase``, ``repeat_purchase`` = second order, ``referral`` = made a
    referral, ``nps_promoter`` = answered 9 or 10).
    """

    name: str
    label: str | None = None
    events: list[str] = Field(default_factory=list)
    facts: list[Literal[FACTS]] = Field(default_factory=list)  # type: ignore[valid-type]
    kpi: str
    #: a share 0-1 for rates; for kpi: nps, the NPS as a share (-1 to 1; 0.3 = NPS 30)
    target: float | None = Field(None, ge=-1, le=1)

    @model_validator(mode="after")
    def _needs_a_definition(self) -> "Stage":

        if not self.events and not self.facts:
            raise ValueError(f"stage {self.name!r} needs 'events' or 'facts' that put a person in it")
        if not self.name.isidentifier():
            raise ValueError(f"stage name {self.name!r} must be a snake_case word; use 'label' for display")
        if self.kpi not in KPIS:
            raise ValueError(f"stage {self.name!r}: unknown kpi {self.kpi!r}; choose one of {', '.join(KPIS)}")
        if self.target is not None and self.target < 0 and self.kpi != "nps":
            raise ValueError(f"stage {self.name!r}: target {self.target} must be a share between 0 and 1")
        return self

    @property
    def title(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()


def _default_stages() -> list[Stage]:
    return [
        Stage(name="reach", label="Reach / awareness", events=["impression", "visit"], kpi="visits"),
        Stage(name="acquisition", label="Acquisition", events=["signup", "add_to_cart"], facts=["signup"],
              kpi="lead_rate", target=0.30),
        Stage(name="conversion", label="Conversion", facts=["first_purchase"], kpi="conversion_rate",
              target=0.60),
        Stage(name="retention", label="Retention", facts=["repeat_purchase"], kpi="repeat_rate",
              target=0.40),
        Stage(name="advocacy", label="Loyalty / advocacy", facts=["referral", "nps_promoter"],
              kpi="referral_rate", target=0.25),
    ]


class Journey(_Strict):
    """Journey mapping: the ordered stages and how paths are read."""

    stages: list[Stage] = Field(default_factory=_default_stages)
    conversion_window_days: int | None = Field(None, gt=0)
    top_paths: int = Field(10, gt=0)
    max_path_length: int = Field(8, gt=0)

    @model_validator(mode="after")
    def _unique(self) -> "Journey":
        names = [s.name for s in self.stages]
        if len(names) < 2:
            raise ValueError("journey.stages needs at least two stages")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"journey.stages: stage names must be unique, repeated: {dup}")
        return self


class States(_Strict):
    """Lifecycle states as of a date; null thresholds are derived from inter-purchase times."""

    new_days: int | None = Field(None, gt=0)
    at_risk_days: int | None = Field(None, gt=0)
    lapsed_days: int | None = Field(None, gt=0)  # null = the churn inactivity window
    at_risk_quantile: float = Field(0.5, gt=0, lt=1)  # at_risk_days: null = this quantile of order gaps


class Rfm(_Strict):
    bins: int = Field(5, ge=2, le=10)
    method: Literal["quantile", "thresholds"] = "quantile"
    thresholds: dict[str, list[float]] | None = None
    # true: the recency score follows the lifecycle state (lapsed R=1, at risk R=2, other buyers
    # R=3..bins), so RFM segments and lifecycle states never disagree; false: recency by `method` alone
    recency_from_states: bool = True
    segments: list[dict[str, Any]] | None = None  # null = lclib.config.segment_rules.DEFAULT_SEGMENTS
    compare_days: int = Field(90, gt=0)  # segment migration: as_of minus this many days
    kmeans: bool = True
    kmeans_k: tuple[int, int] = (2, 8)  # smallest and largest number of personas tried
    # k-means is fitted on a random sample (seeded by random_state) of at most this many
    # customers; every customer is then assigned to the nearest persona
    kmeans_max_customers: int = Field(50_000, ge=100)
    random_state: int = 0
    export_lists: dict[str, list[str]] | None = None  # null = lclib.analysis.rfm.DEFAULT_EXPORT_LISTS
    pseudonymise_key: str | None = None  # deprecated: privacy.pseudonymise (a key set here turns it on)

    @model_validator(mode="after")
    def _rules_cover_every_score(self) -> "Rfm":

        if self.recency_from_states and self.bins < 3:
            raise ValueError(f"rfm.recency_from_states needs rfm.bins >= 3 (lapsed 1, at risk 2, others 3+), "
                             f"got {self.bins}")
        if self.kmeans_k[0] < 2 or self.kmeans_k[1] < self.kmeans_k[0]:
            raise ValueError(f"rfm.kmeans_k {list(self.kmeans_k)} must be [lo, hi] with 2 <= lo <= hi")
        if self.segments is None:
            if self.bins != 5:
                raise ValueError("the default segments are defined on scores 1-5: with rfm.bins "
                                 f"{self.bins}, write your own rfm.segments")
        else:
            validate_segment_rules(self.segments, self.bins)
        if self.method == "thresholds":
            if not self.thresholds:
                raise ValueError("rfm.method 'thresholds' needs rfm.thresholds")
            for dim, cuts in self.thresholds.items():
                if len(cuts) != self.bins - 1:
                    raise ValueError(f"rfm.thresholds.{dim} needs {self.bins - 1} cut points for "
                                     f"{self.bins} scores, got {len(cuts)}")
        return self


class Churn(_Strict):
    inactivity_days: int | None = Field(None, gt=0)  # null = derived from inter-purchase times
    inactivity_quantile: float = Field(0.9, gt=0, lt=1)
    test_cutoff: dt.date | None = None  # null = as_of minus the inactivity window
    what_if_reduction: float = Field(0.05, gt=0, lt=1)
    random_state: int = 0
    # above this many customers the churn model is fitted on the snapshots of a uniform random
    # sample of them (seeded by random_state); every customer is still scored; null = all
    max_model_customers: int | None = Field(50_000, ge=1000)
    # permutation importance on a random sample of at most this many test customers; null = all
    max_importance_customers: int | None = Field(20_000, ge=1000)
    # Kaplan-Meier curves and log-rank tests on a random sample of at most this many customers; null = all
    max_survival_customers: int | None = Field(200_000, ge=1000)
    # the churn model's at-risk list: active customers with a churn probability at or above
    # at_risk_min_probability whose recent revenue is at or above this quantile of active buyers'
    at_risk_min_probability: float = Field(0.5, gt=0, lt=1)
    at_risk_value_quantile: float = Field(0.75, ge=0, lt=1)


class Clv(_Strict):
    model: Literal["bgnbd", "mbgnbd", "paretonbd", "auto"] = "bgnbd"  # auto: lowest BIC of the three
    count_by: Literal["D", "W", "order"] = "D"
    time_unit: Literal["D", "W"] = "W"
    penalizer: float = Field(0.0, ge=0)
    horizon_months: int = Field(12, gt=0)
    discount_rate_annual: float = Field(0.10, ge=0)
    calibration_end: dt.date | None = None  # null = two thirds of the way through the data
    calibration_share: float = Field(2 / 3, gt=0, lt=1)  # with calibration_end null: this share of the days
    min_repeat_customers: int = Field(50, gt=0)
    cac_basis: Literal["first_purchase", "signup"] = "first_purchase"  # when a customer counts as acquired
    clv_cac_threshold: float = Field(3.0, gt=0)
    payback_max_months: int = Field(60, gt=0)
    top_customers: int = Field(100, gt=0)
    # above this many customers the models are fitted on a uniform random sample of them (fixed seed);
    # every customer is still scored; null = always fit on all customers
    max_fit_customers: int | None = Field(100_000, ge=1000)
    # when a model is ok / weak / unusable (lclib.analysis.clv.trust.TrustLimits has the same names)
    min_customers: int = Field(500, gt=0)  # fewer customers: the purchase model is at most weak
    min_calibration_weeks: float = Field(13.0, gt=0)  # a shorter fitted history: unusable
    min_holdout_weeks: float = Field(8.0, gt=0)  # a shorter holdout: no holdout error, model at most weak
    min_holdout_purchases: int = Field(20, gt=0)  # fewer holdout repeat purchases: the same
    max_quiet_weeks: float = Field(8.0, gt=0)  # longer without any purchase at the end of the data: unusable
    weak_interval_ratio: float = Field(10.0, gt=1)  # a parameter's 95 % interval high / low above it: weak
    unusable_interval_ratio: float = Field(1000.0, gt=1)  # above it: unusable
    holdout_error_weak_pct: float = Field(15.0, gt=0)  # |holdout error| above it: weak
    holdout_error_unusable_pct: float = Field(50.0, gt=0)  # above it: unusable
    max_excluded_share: float = Field(0.01, ge=0, lt=1)  # customers with undefined predictions above it: unusable
    # intervals of CLV and expected purchases: parameter draws from the fits' sampling distribution (0 = none)
    bootstrap_draws: int = Field(200, ge=0)
    bootstrap_seed: int = 0
    interval_level: float = Field(0.9, gt=0, lt=1)
    # every customer's interval in clv_scores (and the customer table of report 07) when at most this
    # many customers are scored (the cost is bootstrap_draws scorings); above it, the top list only.
    # null = always every customer
    interval_max_customers: int | None = Field(100_000, ge=1)


class Experiments(_Strict):
    outcome_window_days: int = Field(60, gt=0)
    alpha: float = Field(0.05, gt=0, lt=1)
    power: float = Field(0.8, gt=0, lt=1)
    target_relative_lift: float = Field(0.10, gt=0)
    srm_alpha: float = Field(0.001, gt=0, lt=1)  # sample-ratio mismatch flagged below this p-value
    min_group_size: int = Field(30, gt=0)  # smaller groups (e.g. segments) are shown but flagged
    expected_shares: dict[str, dict[str, float]] = Field(default_factory=dict)  # {experiment: {variant: share}}


class Privacy(_Strict):
    """Pseudonymised ids: with ``pseudonymise``, every customer and anonymous id is replaced by
    a keyed HMAC-SHA256 pseudonym right after loading (``lclib.io.privacy``). The key is read
    from the file ``key_file`` when set, else from the environment variable named ``key_env``;
    it never appears in the configuration or anything a run writes."""

    pseudonymise: bool = False
    key_env: str = "LCLIB_PSEUDONYM_KEY"  # the name of the variable, not the key
    key_file: Path | None = None  # a file holding the key (relative: to the configuration's folder)

    @model_validator(mode="after")
    def _key_env_is_a_name(self) -> "Privacy":
        import re

        # checked here, not per field, so that a key written by mistake is not echoed in the message
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", self.key_env):
            raise ValueError("privacy.key_env must be the name of an environment variable (letters, digits, _), "
                             "not the key itself")
        return self


class Report(_Strict):
    out: Path = Path("reports")
    notebooks: list[str] = Field(default_factory=list)
    timeout_seconds: int = Field(1200, gt=0)  # per notebook: all its cells together, kernel start included
    # notebooks executed at the same time (each its own kernel; capped by the CPU count and the free memory: lclib.report.runner.memory_workers).
    # Memory grows with it: each kernel holds its own copy of the transactions.
    workers: int = Field(2, ge=1, le=32)


class Spark(_Strict):
    """Where ``analysis.engine: spark`` runs (lclib.engine.spark)."""

    # Spark master URL: local[*] (all cores of this machine), local[2], spark://host:7077, yarn...
    # An already active SparkSession (Databricks, a cluster job) is used as it is.
    master: str = "local[*]"
    # extra Spark settings for a session lclib starts, e.g. {spark.driver.memory: 8g}
    conf: dict[str, str | int | float | bool] = Field(default_factory=dict)


class Config(_Strict):
    """The whole validated configuration. ``base_dir`` anchors relative paths."""

    inputs: Inputs
    analysis: Analysis = Field(default_factory=Analysis)
    journey: Journey = Field(default_factory=Journey)
    states: States = Field(default_factory=States)
    rfm: Rfm = Field(default_factory=Rfm)
    churn: Churn = Field(default_factory=Churn)
    clv: Clv = Field(default_factory=Clv)
    experiments: Experiments = Field(default_factory=Experiments)
    report: Report = Field(default_factory=Report)
    privacy: Privacy = Field(default_factory=Privacy)
    spark: Spark = Field(default_factory=Spark)
    # how channels, segments and states are shown in the reports' text and tables:
    # {value in the data: words}, e.g. {paid_search: Search ads}; a value not listed is shown
    # as words made from its snake_case (paid_search -> Paid search); exports keep the raw values
    display_names: dict[str, str] = Field(default_factory=dict)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

    @model_validator(mode="after")
    def _rfm_key_means_pseudonymise(self) -> "Config":
        # deprecated alias: rfm.pseudonymise_key now pseudonymises every id at load (lclib.io.privacy)
        if self.rfm.pseudonymise_key and not self.privacy.pseudonymise:
            self.privacy.pseudonymise = True
        return self

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the file resolve against."""
        return self._base_dir

    def table(self, name: str) -> TableInput | None:
        """The input block of table ``name``, or None when it is not configured."""
        t = getattr(self.inputs, name)
        return t if t is not None and t.path is not None else None

    def resolve(self, p: Path) -> Path:
        """A path from the config, made absolute against the config's folder."""
        return p if p.is_absolute() else (self.base_dir / p).resolve()

    def public_dump(self) -> dict:
        """The configuration as plain data with secrets (:data:`SECRET_KEYS`) masked.

        A secret given as ``env:NAME`` names a variable, not the secret, and is kept.
        """
        data = self.model_dump(mode="json")
        for dotted in SECRET_KEYS:
            section, key = dotted.split(".")
            value = data[section].get(key)
            if value is not None and not str(value).startswith("env:"):
                data[section][key] = REDACTED
        return data

    def to_yaml(self, absolute_paths: bool = True, redact: bool = False) -> str:
        """The configuration as YAML (paths made absolute by default; secrets masked if ``redact``)."""
        data = self.public_dump() if redact else self.model_dump(mode="json")
        if absolute_paths:
            for name, t in data["inputs"].items():
                if t and t.get("path"):
                    t["path"] = str(self.resolve(Path(t["path"])))
            data["report"]["out"] = str(self.resolve(Path(data["report"]["out"])))
            if data["privacy"].get("key_file"):
                data["privacy"]["key_file"] = str(self.resolve(Path(data["privacy"]["key_file"])))
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


class _YamlLoader(yaml.SafeLoader):
    """``yaml.safe_load`` except that a date-looking value that is no calendar date
    (``2024-13-45``) stays text, so that the schema reports it with its dotted key."""


def _timestamp_or_text(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_YamlLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_or_text)


def _yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_YamlLoader)  # noqa: S506 - a SafeLoader


def parse_override(item: str) -> tuple[str, Any]:
    """Split ``key.sub=value`` into the dotted key and its YAML-parsed value."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key=value, e.g. analysis.as_of=2025-06-30")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {item!r} has an empty key")
    try:
        value = _yaml_load(raw) if raw.strip() else None
    except yaml.YAMLError as e:
        raise ConfigError(f"override {key}: value {raw!r} is not valid YAML ({e})") from None
    return key, value


def apply_overrides(data: dict, overrides: list[str] | dict[str, Any] | None) -> dict:
    """Return a copy of ``data`` with dotted-key overrides applied.

    Parameters
    ----------
    data : dict
        Raw configuration mapping (as read from YAML).
    overrides : list of "key=value" strings or dict of {dotted key: value}
    """
    import copy

    out = copy.deepcopy(data)
    items = overrides.items() if isinstance(overrides, dict) else map(parse_override, overrides or [])
    for key, value in items:
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                if node.get(part) is not None:
                    raise ConfigError(f"override {key}: {part!r} is not a section")
                node[part] = {}
            node = node[part]
        node[parts[-1]] = value
    return out


def _dotted_keys(model: type[BaseModel] = None, prefix: str = "") -> list[str]:
    """Every dotted key of the schema (sections and their settings; list items left out)."""
    model = Config if model is None else model
    keys = []
    for name, field in model.model_fields.items():
        keys.append(prefix + name)
        annotation = field.annotation
        for candidate in (annotation, *getattr(annotation, "__args__", ())):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                keys.extend(_dotted_keys(candidate, f"{prefix}{name}."))
                break
    return keys


def _unknown_key_hint(loc: str) -> str:
    """``did you mean clv.horizon_months?`` for an unknown key whose last part is a known setting."""
    import difflib

    keys = _dotted_keys()
    last = loc.rsplit(".", 1)[-1]
    near = [k for k in keys if k.rsplit(".", 1)[-1] == last and k != loc] or difflib.get_close_matches(loc, keys, 3, 0.8)
    return f"; did you mean {' or '.join(near[:3])}?" if near else ""


def _format_validation_error(err: ValidationError, source: str, overridden: list[str] | None = None) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-"))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = f"unknown key (check the spelling{_unknown_key_hint(loc)}; see README 'Configuration')"
        elif e["type"] == "missing":
            msg = "required key is missing"
        value = e.get("input")
        shown = "" if e["type"] in ("missing", "extra_forbidden") or isinstance(value, dict) or loc in SECRET_KEYS \
            else f" (got {value!r})"
        origin = next((k for k in overridden or [] if loc == k or loc.startswith(k + ".")), None)
        shown += f" (set by the override {origin})" if origin else ""
        lines.append(f"  - {loc or '<top level>'}: {msg}{shown}")
    return "\n".join(lines)


def load_config(
    path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None
) -> Config:
    """Read, override and validate a configuration file.

    Parameters
    ----------
    path : path to a YAML file; default :func:`default_config_path` (the file named by
        ``LCLIB_CONFIG``, else the repository's ``lclib.yaml``).
    overrides : ``["key=value", ...]`` (the CLI's ``-p``, values read as YAML) or
        ``{"key": value}`` (a notebook's ``OVERRIDES``) with dotted keys; applied by
        :func:`apply_overrides` before validation, so an unknown key is an error naming it.

    Returns
    -------
    Config
        Validated configuration; relative paths resolve against the file's folder.

    Raises
    ------
    ConfigError
        Naming the file, the dotted key and what is wrong.
    """
    given = path is not None
    path = Path(path).expanduser() if given else default_config_path()
    if not path.is_file():
        if given:
            raise ConfigError(f"configuration file not found: {path}")
        how = (f"named by the environment variable {CONFIG_ENV}" if os.environ.get(CONFIG_ENV, "").strip()
               else f"the repository's default; set {CONFIG_ENV} or pass the path of your lclib.yaml")
        raise ConfigError(f"configuration file not found: {path} ({how})")
    try:
        data = _yaml_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.start}: {e.reason}); save the configuration "
                          "as UTF-8") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (inputs, analysis, report)")
    data = apply_overrides(data, overrides)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        keys = list(overrides) if isinstance(overrides, dict) else [parse_override(o)[0] for o in overrides or []]
        raise ConfigError(_format_validation_error(e, str(path), keys)) from None
    cfg._base_dir = path.resolve().parent
    return cfg


def is_assumed(cfg: BaseModel, key: str) -> bool:
    """True when the dotted ``key`` was set neither in the configuration file nor by an override.

    Its value is then lclib's default, and a report must call it an *assumed default*
    ("a 30 % margin, assumed: set analysis.margin"), never the user's setting.

    Examples
    --------
    >>> cfg = Config.model_validate({"inputs": {"transactions": {"path": "tx.csv"}}, "analysis": {"currency": "GBP"}})
    >>> is_assumed(cfg, "analysis.currency"), is_assumed(cfg, "analysis.margin"), is_assumed(cfg, "journey.stages")
    (False, True, True)
    """
    node: Any = cfg
    for part in key.split("."):
        if not isinstance(node, BaseModel) or part not in type(node).model_fields:
            raise KeyError(f"unknown configuration key {key!r}")
        if part not in node.model_fields_set:
            return True
        node = getattr(node, part)
    return False
