"""Attribution checked against hand computations on small hand-built path sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lclib.analysis import attribution as A

# start->a 3/4, start->b 1/4; a -> b, c, null 1/3 each; b -> conversion; c -> null.
# P(conv) = 3/4 * 1/3 + 1/4 = 1/2. Without a: 1/4 (effect 1/2); without b: 0 (effect 1);
# without c: 1/2 (effect 0). Credit of 2 conversions in proportion 0.5 : 1 : 0.
HAND = pd.DataFrame({"path": ["a > b", "a", "b", "a > c"], "people": [1, 1, 1, 1], "conversions": [1, 0, 1, 0]})


def test_markov_removal_effect_equals_hand_computation():
    m = A.markov_attribution(HAND)
    assert m.conversion_probability == pytest.approx(0.5)
    r = m.removal.set_index("channel")
    assert r["p_without"].to_dict() == pytest.approx({"a": 0.25, "b": 0.0, "c": 0.5})
    assert r["removal_effect"].to_dict() == pytest.approx({"a": 0.5, "b": 1.0, "c": 0.0})
    assert r["credit"].to_dict() == pytest.approx({"a": 2 / 3, "b": 4 / 3, "c": 0.0})
    assert m.transitions.loc["(start)", "a"] == pytest.approx(0.75)
    assert m.transitions.loc["a", ["b", "c", "(null)"]].tolist() == pytest.approx([1 / 3] * 3)


def test_markov_handles_a_loop_between_channels():
    # a: b 1/2, conv 1/2; b: a 1/2, null 1/2 -> P_a = 2/3, P_b = 1/3, P = (2/3 + 1/3) / 2 = 1/2.
    # Without a: 0 (effect 1). Without b: a converts 1/2 -> P = 1/4 (effect 1/2). Credit 2/3 : 1/3.
    paths = pd.DataFrame({"path": ["a > b > a", "b"], "people": [1, 1], "conversions": [1, 0]})
    m = A.markov_attribution(paths)
    assert m.conversion_probability == pytest.approx(0.5)
    r = m.removal.set_index("channel")
    assert r["removal_effect"].to_dict() == pytest.approx({"a": 1.0, "b": 0.5})
    assert r["credit"].to_dict() == pytest.approx({"a": 2 / 3, "b": 1 / 3})


def test_weighted_paths_equal_the_same_paths_repeated_person_by_person():
    weighted = pd.DataFrame({"path": ["a > b", "b", "c > a"], "people": [3, 2, 4], "conversions": [2, 1, 1]})
    rows = []
    for path, people, conv in weighted.itertuples(index=False):
        rows += [(path, 1, 1)] * conv + [(path, 1, 0)] * (people - conv)
    single = pd.DataFrame(rows, columns=["path", "people", "conversions"])
    a, b = A.channel_credit(weighted).set_index("channel"), A.channel_credit(single).set_index("channel")
    pd.testing.assert_frame_equal(a, b.loc[a.index])


def test_first_and_last_touch_credit_equal_hand_counts():
    assert A.touch_credit(HAND, "first").to_dict() == {"a": 1.0, "b": 1.0, "c": 0.0}
    assert A.touch_credit(HAND, "last").to_dict() == {"a": 0.0, "b": 2.0, "c": 0.0}


def test_channel_credit_columns_each_sum_to_the_conversions():
    c = A.channel_credit(HAND)
    for col in ("first_touch", "last_touch", "markov"):
        assert c[col].sum() == pytest.approx(2.0)
        assert c[f"{col}_share"].sum() == pytest.approx(1.0)
    assert list(c["channel"]) == ["b", "a", "c"]


def test_markov_credit_of_single_channel_paths_equals_conversions_per_channel():
    # without any path crossing channels each removal leaves the others intact
    paths = pd.DataFrame({"path": ["a", "b", "c"], "people": [10, 10, 10], "conversions": [5, 3, 0]})
    c = A.channel_credit(paths).set_index("channel")
    assert c["markov"].to_dict() == pytest.approx({"a": 5.0, "b": 3.0, "c": 0.0})
    assert np.allclose(c["markov"], c["first_touch"])


def test_bad_paths_are_rejected():
    with pytest.raises(ValueError, match="columns"):
        A.markov_attribution(pd.DataFrame({"path": ["a"]}))
    with pytest.raises(ValueError, match="conversions <= people"):
        A.markov_attribution(pd.DataFrame({"path": ["a"], "people": [1], "conversions": [2]}))
    with pytest.raises(ValueError, match="nothing to attribute"):
        A.markov_attribution(pd.DataFrame({"path": [""], "people": [1], "conversions": [1]}))
    with pytest.raises(ValueError, match="first"):
        A.touch_credit(HAND, "middle")
