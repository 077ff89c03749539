"""Configuration: the lclib.yaml schema, its loader and the vocabulary settings are checked against.

The bottom layer of lclib: it imports nothing else of lclib. ``settings`` holds the
schema and :func:`load_config`; ``kpi_catalogue`` the KPI names a stage may use;
``segment_rules`` the RFM segment grid and its validator.
"""

from lclib.config.settings import (  # noqa: F401
    DEFAULT_CONFIG, FACTS, REDACTED, SECRET_KEYS, Analysis, Churn, CleanRules, Clv, Config, ConfigError, Experiments, is_assumed,
    Inputs, Journey, Privacy, ReadOptions, Report, Rfm, Stage, States, TableInput, apply_overrides, load_config, parse_override,
    redact_overrides,
)
