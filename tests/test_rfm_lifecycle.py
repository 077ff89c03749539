"""RFM and the lifecycle agree: recency scores tied to the lifecycle state (issue 17)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lclib import load_dataset
from lclib.analysis import rfm, stages
from lclib.config import load_config
from lclib.config.segment_rules import DEFAULT_SEGMENTS
from lclib.engine.contracts import resolve_as_of
from lclib.engine.rfm_table import rfm_table

ROOT = Path(__file__).resolve().parents[1]
#: Segments whose rules ask for R >= 3: customers within their purchase cycle.
RECENT_SEGMENTS = [s["name"] for s in DEFAULT_SEGMENTS if s.get("r", [1, 5])[0] >= 3]


@pytest.fixture(scope="module")
def scored_and_states():
    cfg = load_config(ROOT / "lclib.yaml")
    data = load_dataset(cfg)
    tx = data.transactions
    as_of = resolve_as_of(tx, cfg.analysis.as_of)
    th = stages.thresholds_from_config(tx, cfg, as_of)
    states = stages.customer_states(data.tables, th, as_of)
    buyer_state = states.dropna(subset=["customer_id"]).set_index("customer_id")["state"]
    table = rfm_table(tx, as_of)
    scored = rfm.score_rfm(table, states=buyer_state)
    return scored, buyer_state.reindex(scored.index).astype(str)


def test_recent_segments_never_hold_at_risk_or_lapsed_customers(scored_and_states):
    scored, state = scored_and_states
    recent = scored["segment"].isin(RECENT_SEGMENTS).to_numpy()
    assert recent.sum() > 100
    assert not state[recent].isin(["at_risk", "lapsed"]).any()
    # and the VIP list of the default exports (Champions, Loyal Customers) holds no lapsed customer
    vip = scored["segment"].isin(["Champions", "Loyal Customers"]).to_numpy()
    assert vip.sum() > 0 and (state[vip] != "lapsed").all()


def test_recency_score_is_the_state_for_customers_past_their_cycle(scored_and_states):
    scored, state = scored_and_states
    assert (scored.loc[state == "lapsed", "r_score"] == 1).all()
    assert (scored.loc[state == "at_risk", "r_score"] == 2).all()
    others = ~state.isin(["at_risk", "lapsed"])
    assert scored.loc[others, "r_score"].between(3, 5).all()
    # among buyers within their cycle, more recent never scores lower
    sub = scored.loc[others].sort_values("recency_days")
    assert (np.diff(sub["r_score"].to_numpy()) <= 0).all()


def test_lost_and_hibernating_are_exactly_lapsed_and_at_risk(scored_and_states):
    scored, state = scored_and_states
    assert set(state[scored["segment"] == "Lost"]) <= {"lapsed"}
    assert set(state[scored["segment"] == "Hibernating"]) <= {"at_risk"}


def test_states_must_cover_every_scored_customer():
    table = pd.DataFrame({"recency_days": [1, 2], "frequency": [1, 2], "monetary_total": [1.0, 2.0]},
                         index=pd.Index(["a", "b"], name="customer_id"))
    with pytest.raises(ValueError, match="no lifecycle state"):
        rfm.rfm_scores(table, states=pd.Series(["active"], index=["a"]))
    with pytest.raises(ValueError, match="bins >= 3"):
        rfm.rfm_scores(table, bins=2, states=pd.Series(["active", "lapsed"], index=["a", "b"]))
