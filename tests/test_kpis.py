"""One KPI per stage: values on hand-built data and on the sample's realized truth, status against target."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import kpis as K
from lclib.config import Stage, load_config
from lclib.analysis.journey import stage_entries

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "sample"
AS_OF = pd.Timestamp("2024-03-01")


def _tables():
    ev = pd.DataFrame({"anonymous_id": ["P1", "P1", "P2", "P3", "P3"], "customer_id": [None, "C1", None, None, "C3"],
                       "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03",
                                                    "2024-01-04"]),
                       "event_type": ["visit", "signup", "impression", "visit", "signup"],
                       "channel": ["email"] * 5})
    tx = pd.DataFrame({"customer_id": ["C1", "C1", "C3"], "order_id": ["O1", "O2", "O3"],
                       "timestamp": pd.to_datetime(["2024-01-05", "2024-02-01", "2024-01-06"]),
                       "amount": [1.0, 2.0, 3.0]})
    ref = pd.DataFrame({"referrer_id": ["C1"], "referred_id": ["P9"], "timestamp": pd.to_datetime(["2024-02-02"])})
    sv = pd.DataFrame({"customer_id": ["C1", "C1", "C3", "C4", "C5"], "score": [0, 10, 9, 8, 3],
                       "timestamp": pd.to_datetime(["2024-01-10", "2024-02-10", "2024-01-10", "2024-01-10",
                                                    "2024-01-10"])})
    return {"transactions": tx, "events": ev, "referrals": ref, "surveys": sv}


STAGES = [Stage(name="reach", events=["impression", "visit"], kpi="visits"),
          Stage(name="acquisition", events=["signup"], kpi="lead_rate", target=0.5),
          Stage(name="conversion", facts=["first_purchase"], kpi="conversion_rate", target=1.0),
          Stage(name="retention", facts=["repeat_purchase"], kpi="retention_rate", target=0.6),
          Stage(name="advocacy", facts=["referral"], kpi="referral_rate"),
          Stage(name="promoters", facts=["nps_promoter"], kpi="nps", target=0.3)]


def test_stage_kpis_equal_hand_counts_and_statuses():
    t = _tables()
    reached, _ = stage_entries(t, STAGES, as_of=AS_OF)
    k = K.stage_kpis(t, STAGES, reached, as_of=AS_OF).set_index("stage")
    assert list(k.columns) == [c for c in K.COLUMNS if c != "stage"]
    assert k.loc["reach", ["value", "unit", "status"]].tolist() == [2.0, "visits", "no target"]
    # 2 of 3 reached people signed up: 66.7 % against 50 %
    assert k.loc["acquisition", "value"] == pytest.approx(200 / 3)
    assert k.loc["acquisition", ["target", "status", "n"]].tolist() == [50.0, "met", 3.0]
    assert k.loc["conversion", ["value", "status"]].tolist() == [100.0, "met"]
    assert k.loc["retention", ["value", "status"]].tolist() == [50.0, "below"]
    assert k.loc["retention", "lower"] < 50 < k.loc["retention", "upper"]
    assert k.loc["advocacy", ["value", "status"]].tolist() == [100.0, "no target"]
    # latest answers: C1 10, C3 9, C4 8, C5 3 -> 50 % promoters - 25 % detractors
    assert k.loc["promoters", ["value", "unit", "target", "status"]].tolist() == [25.0, "NPS points", 30.0, "below"]
    assert k.loc["reach", "people"] == 3 and k.loc["retention", "people"] == 1


def test_nps_is_promoters_minus_detractors():
    assert K.nps(pd.Series([10, 9, 8, 7, 6, 0])) == pytest.approx(100 * (2 / 6 - 2 / 6))
    assert K.nps(pd.Series([10, 10])) == 100.0
    assert np.isnan(K.nps(pd.Series([], dtype=float)))


def test_stages_the_data_cannot_show_are_not_measurable():
    t = {"transactions": _tables()["transactions"]}
    reached, skipped = stage_entries(t, STAGES, as_of=AS_OF)
    k = K.stage_kpis(t, STAGES, reached, as_of=AS_OF).set_index("stage")
    assert len(k) == len(STAGES)
    assert k.loc[["reach", "acquisition", "advocacy", "promoters"], "status"].eq("not measurable").all()
    assert "Needs the events table" in k.loc["reach", "definition"]
    # conversion is now the first stage: no previous stage to convert from
    assert k.loc["conversion", "status"] == "not measurable"
    assert k.loc["retention", ["value", "status"]].tolist() == [50.0, "below"]


def test_unknown_kpi_is_rejected_when_the_configuration_loads():
    with pytest.raises(ValueError, match="unknown kpi 'converion_rate'.*conversion_rate"):
        Stage(name="conversion", facts=["first_purchase"], kpi="converion_rate")


def test_sample_kpis_equal_the_realized_truth():
    from lclib.io.dataset import load_dataset

    cfg = load_config()
    data = load_dataset(cfg)
    totals = json.loads((SAMPLE / "ground_truth.json").read_text())["realized"]["totals"]
    reached, _ = stage_entries(data.tables, cfg.journey.stages)
    k = K.stage_kpis(data.tables, cfg.journey.stages, reached).set_index("stage")
    assert k.loc["acquisition", "value"] == pytest.approx(100 * totals["customers"] / totals["people"])
    assert k.loc["conversion", "value"] == pytest.approx(100 * totals["converted"] / totals["customers"])
    assert k.loc["retention", "value"] == pytest.approx(100 * totals["retained"] / totals["converted"])
    # referral rate = advocates (made a referral) among retained customers
    advocates = sum(json.loads((SAMPLE / "ground_truth.json").read_text())["realized"]["advocates"].values())
    assert k.loc["advocacy", "value"] == pytest.approx(100 * advocates / totals["retained"])
    assert k.loc["reach", "value"] == (data.events["event_type"] == "visit").sum()
