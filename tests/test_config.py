"""Configuration: defaults, validation messages that name the key, overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from lclib.config import DEFAULT_CONFIG, ConfigError, apply_overrides, load_config, parse_override
from lclib.io.mapping import check_mappings


def load_and_check(path, overrides=None):
    """What the loader does first: read the configuration, then check its column mapping."""
    cfg = load_config(path, overrides)
    check_mappings(cfg.inputs)
    return cfg

MINIMAL = {"inputs": {"transactions": {"path": "tx.csv", "columns": {
    "customer_id": "c", "order_id": "o", "timestamp": "t", "amount": "a"}}}}


def write(tmp_path: Path, data: dict) -> Path:
    p = tmp_path / "lclib.yaml"
    p.write_text(yaml.safe_dump(data), encoding="utf-8")
    return p


def test_repository_config_points_at_the_sample_data():
    cfg = load_config(DEFAULT_CONFIG)
    for name in ("transactions", "events", "customers", "spend", "referrals", "surveys", "experiments"):
        assert cfg.table(name) is not None, name
        assert cfg.resolve(cfg.table(name).path).parent == DEFAULT_CONFIG.parent / "data" / "sample"


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.resolve(cfg.inputs.transactions.path) == tmp_path / "tx.csv"
    assert cfg.table("events") is None


def test_unknown_key_is_named_with_its_dotted_path(tmp_path):
    data = {**MINIMAL, "analysis": {"as_off": "2025-01-01"}}
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, data))
    assert "analysis.as_off: unknown key" in str(err.value)
    assert str(tmp_path / "lclib.yaml") in str(err.value)


def test_every_problem_is_reported_at_once(tmp_path):
    data = {**MINIMAL, "analysis": {"margin": 3, "as_of": "yesterday"}}
    msg = str(pytest.raises(ConfigError, load_config, write(tmp_path, data)).value)
    assert "analysis.margin" in msg and "analysis.as_of" in msg and "(got 3)" in msg


def test_transactions_need_amount_or_quantity_and_price(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    del data["inputs"]["transactions"]["columns"]["amount"]
    msg = str(pytest.raises(ConfigError, load_and_check, write(tmp_path, data)).value)
    assert "'amount', or both 'quantity' and 'unit_price'" in msg
    data["inputs"]["transactions"]["columns"].update(quantity="q", unit_price="p")
    assert load_and_check(write(tmp_path, data)).inputs.transactions.columns["quantity"] == "q"


def test_required_column_mapping_is_named(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    data["inputs"]["surveys"] = {"path": "s.csv", "columns": {"customer_id": "c", "timestamp": "t"}}
    msg = str(pytest.raises(ConfigError, load_and_check, write(tmp_path, data)).value)
    assert "inputs.surveys.columns" in msg and "score" in msg


def test_bad_policy_value_lists_the_allowed_ones(tmp_path):
    data = yaml.safe_load(yaml.safe_dump(MINIMAL))
    data["inputs"]["transactions"]["clean"] = {"duplicates": "remove"}
    msg = str(pytest.raises(ConfigError, load_config, write(tmp_path, data)).value)
    assert "inputs.transactions.clean.duplicates" in msg and "'drop' or 'keep'" in msg


def test_overrides_use_dotted_keys_and_yaml_values(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ["analysis.as_of=2025-06-30", "analysis.margin=0.4",
                                                 "report.notebooks=[00_data_overview]"])
    assert cfg.analysis.as_of == dt.date(2025, 6, 30)
    assert cfg.analysis.margin == 0.4
    assert cfg.report.notebooks == ["00_data_overview"]


def test_override_can_switch_a_table_off():
    cfg = load_config(DEFAULT_CONFIG, ["inputs.events.path=null"])
    assert cfg.table("events") is None


def test_override_errors_name_the_override():
    with pytest.raises(ConfigError, match="must look like key=value"):
        parse_override("analysis.as_of")
    with pytest.raises(ConfigError, match="analysis.currency"):
        apply_overrides({"analysis": {"currency": "EUR"}}, ["analysis.currency.code=USD"])


def test_missing_file_and_invalid_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


def test_resolved_yaml_round_trips(tmp_path):
    cfg = load_config(write(tmp_path, MINIMAL), ["analysis.currency=GBP"])
    again = tmp_path / "resolved.yaml"
    again.write_text(cfg.to_yaml(), encoding="utf-8")
    cfg2 = load_config(again)
    assert cfg2.analysis.currency == "GBP"
    assert cfg2.resolve(cfg2.inputs.transactions.path) == tmp_path / "tx.csv"


def test_segment_rules_with_a_gap_are_rejected_on_load_naming_the_scores():
    rules = [{"name": "High", "r": [3, 5]}, {"name": "Low", "r": [1, 1]}]  # R = 2 is covered by none
    with pytest.raises(ConfigError, match=r"rfm.*\(2, 1, 1\)"):
        load_config(DEFAULT_CONFIG, {"rfm.segments": rules})


def test_rfm_thresholds_need_one_cut_point_fewer_than_scores():
    with pytest.raises(ConfigError, match="rfm.thresholds.frequency needs 4 cut points"):
        load_config(DEFAULT_CONFIG, {"rfm.method": "thresholds", "rfm.thresholds": {
            "recency_days": [30, 90, 180, 365], "frequency": [1, 2], "monetary_total": [50, 100, 250, 500]}})


def test_secret_key_is_masked_in_the_public_dump_unless_it_names_a_variable():
    cfg = load_config(DEFAULT_CONFIG, ["rfm.pseudonymise_key=hunter2"])
    assert cfg.rfm.pseudonymise_key == "hunter2"
    assert cfg.public_dump()["rfm"]["pseudonymise_key"] == "***"
    assert "hunter2" not in cfg.to_yaml(redact=True) and "hunter2" in cfg.to_yaml()
    cfg = load_config(DEFAULT_CONFIG, ["rfm.pseudonymise_key=env:LCLIB_KEY"])
    assert cfg.public_dump()["rfm"]["pseudonymise_key"] == "env:LCLIB_KEY"


def test_misspelled_canonical_column_is_named_with_a_suggestion():
    with pytest.raises(ConfigError, match=r"found 'unitprice' \(did you mean 'unit_price'\?\)") as err:
        load_and_check(DEFAULT_CONFIG, {"inputs.transactions.columns": {
            "customer_id": "c", "order_id": "o", "timestamp": "t", "quantity": "q", "unitprice": "p"}})
    assert "Value error" not in str(err.value)
