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

from lclib import columns as C

#: Where the repository's default configuration lives.
DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "lclib.yaml"


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
    thousands: str | None = None
    sheet: str | None = None  # reserved for spreadsheet inputs


class CleanRules(_Strict):
    """Cleaning rules for one table; each is applied where its columns exist.

    ``drop`` removes the rows and counts them in the ledger, ``keep`` leaves them,
    ``error`` stops the load with a message naming file, column and rows.
    """

    missing_id: Literal["drop", "error"] = "drop"
    duplicates: Literal["drop", "keep"] = "drop"
    unparsable_dates: Literal["drop", "error"] = "drop"
    future_dates: Literal["drop", "keep", "error"] = "drop"
    cancellations: Literal["drop", "keep"] = "drop"
    cancellation_prefix: str | None = "C"
    nonpositive_price: Literal["drop", "keep", "error"] = "drop"
    non_product_codes: list[str] = Field(default_factory=list)
    score_range: tuple[float, float] = (0, 10)
    out_of_range: Literal["drop", "error"] = "drop"


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

    @model_validator(mode="after")
    def _check_mappings(self) -> "Inputs":
        for name, (required, optional) in C.TABLES.items():
            table = getattr(self, name)
            if table is None or table.path is None:
                continue
            missing = [c for c in required if c not in table.columns]
            if missing:
                raise ValueError(
                    f"inputs.{name}.columns must map the required column(s) {missing} "
                    f"(canonical name: your column name)"
                )
        tx = self.transactions.columns
        if C.AMOUNT not in tx and not (C.QUANTITY in tx and C.UNIT_PRICE in tx):
            raise ValueError(
                "inputs.transactions.columns must map 'amount', or both 'quantity' and "
                "'unit_price' (amount is then quantity x unit_price)"
            )
        ev = self.events
        if ev is not None and ev.path is not None:
            if C.CUSTOMER_ID not in ev.columns and C.ANONYMOUS_ID not in ev.columns:
                raise ValueError(
                    "inputs.events.columns must map 'customer_id' or 'anonymous_id' (or both)"
                )
        return self


class Analysis(_Strict):
    as_of: dt.date | None = None
    currency: str = "EUR"
    margin: float = Field(0.30, gt=0, le=1)


class Report(_Strict):
    out: Path = Path("reports")
    notebooks: list[str] = Field(default_factory=list)
    timeout_seconds: int = Field(1200, gt=0)


class Config(_Strict):
    """The whole validated configuration. ``base_dir`` anchors relative paths."""

    inputs: Inputs
    analysis: Analysis = Field(default_factory=Analysis)
    report: Report = Field(default_factory=Report)
    _base_dir: Path = PrivateAttr(default_factory=Path.cwd)

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

    def to_yaml(self, absolute_paths: bool = True) -> str:
        """The configuration as YAML (paths made absolute by default)."""
        data = self.model_dump(mode="json")
        if absolute_paths:
            for name, t in data["inputs"].items():
                if t and t.get("path"):
                    t["path"] = str(self.resolve(Path(t["path"])))
            data["report"]["out"] = str(self.resolve(Path(data["report"]["out"])))
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def parse_override(item: str) -> tuple[str, Any]:
    """Split ``key.sub=value`` into the dotted key and its YAML-parsed value."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} must look like key=value, e.g. analysis.as_of=2025-06-30")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {item!r} has an empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
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


def _format_validation_error(err: ValidationError, source: str) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith("function-"))
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see README 'Configuration')"
        elif e["type"] == "missing":
            msg = "required key is missing"
        value = e.get("input")
        shown = "" if e["type"] in ("missing", "extra_forbidden") or isinstance(value, dict) else f" (got {value!r})"
        lines.append(f"  - {loc or '<top level>'}: {msg}{shown}")
    return "\n".join(lines)


def load_config(
    path: str | Path | None = None, overrides: list[str] | dict[str, Any] | None = None
) -> Config:
    """Read, override and validate a configuration file.

    Parameters
    ----------
    path : path to a YAML file; defaults to the repository's ``lclib.yaml``.
    overrides : ``["key=value", ...]`` or ``{"key": value}`` with dotted keys.

    Returns
    -------
    Config
        Validated configuration; relative paths resolve against the file's folder.

    Raises
    ------
    ConfigError
        Naming the file, the dotted key and what is wrong.
    """
    path = Path(path) if path is not None else DEFAULT_CONFIG
    if not path.is_file():
        raise ConfigError(f"configuration file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections (inputs, analysis, report)")
    data = apply_overrides(data, overrides)
    try:
        cfg = Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_validation_error(e, str(path))) from None
    cfg._base_dir = path.resolve().parent
    return cfg
