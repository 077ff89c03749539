"""RFM segment rules as data.

The default grid and the validator that checks a rule set covers every (R, F, M) score
cell exactly once. Lives with the configuration so that lclib.yaml is checked when it is
loaded.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

R_SCORE = "r_score"


F_SCORE = "f_score"


M_SCORE = "m_score"


SCORE_COLUMNS = (R_SCORE, F_SCORE, M_SCORE)


#: Default segment rules, in display order. Keys: ``name``, ``action`` (one
#: sentence) and inclusive ``[lo, hi]`` score ranges on any of ``r``, ``f``,
#: ``m`` and ``fm`` (``(f + m) // 2``); a missing range matches every score.
#: Together they tile the 5 x 5 (R, FM) grid, hence all 125 (R, F, M) cells.
DEFAULT_SEGMENTS: list[dict[str, Any]] = [
    {"name": "Champions", "r": [5, 5], "fm": [4, 5],
     "action": "Reward them with early access and perks and ask for referrals; no discounts needed."},
    {"name": "Loyal Customers", "r": [3, 4], "fm": [4, 5],
     "action": "Upsell higher-value products and invite them into the loyalty programme."},
    {"name": "Potential Loyalists", "r": [4, 5], "fm": [2, 3],
     "action": "Offer a membership or loyalty programme and recommend related products."},
    {"name": "New Customers", "r": [5, 5], "fm": [1, 1],
     "action": "Onboard them well and make the second purchase easy."},
    {"name": "Promising", "r": [4, 4], "fm": [1, 1],
     "action": "Build awareness with useful content and a modest second-order incentive."},
    {"name": "Need Attention", "r": [3, 3], "fm": [3, 3],
     "action": "Send limited-time offers personalised on past purchases before they drift away."},
    {"name": "About to Sleep", "r": [3, 3], "fm": [1, 2],
     "action": "Reconnect with popular products and a small discount before they drift away for good."},
    {"name": "At Risk", "r": [1, 2], "fm": [3, 4],
     "action": "Send personalised win-back messages with relevant offers."},
    {"name": "Can't Lose Them", "r": [1, 2], "fm": [5, 5],
     "action": "Win them back personally (call, survey, strong offer) before a competitor does."},
    {"name": "Hibernating", "r": [2, 2], "fm": [1, 2],
     "action": "Keep contact low-cost with relevant products and occasional special offers."},
    {"name": "Lost", "r": [1, 1], "fm": [1, 2],
     "action": "Try one low-cost reactivation campaign, then stop spending on them."},
]


#: Segment name -> recommended action, for the default rules.
DEFAULT_ACTIONS: dict[str, str] = {s["name"]: s["action"] for s in DEFAULT_SEGMENTS}


_RULE_DIMS = ("r", "f", "m", "fm")


def validate_segment_rules(rules: Sequence[Mapping[str, Any]], bins: int = 5) -> None:
    """Check that segment rules cover every (R, F, M) score cell exactly once.

    Parameters
    ----------
    rules : sequence of mappings
        Each rule has a unique ``name`` (str), an optional ``action`` (str)
        and inclusive ``[lo, hi]`` ranges (integers, ``1 <= lo <= hi <=
        bins``) on any of ``r``, ``f``, ``m`` and ``fm`` where ``fm = (f + m)
        // 2``. A missing range matches every score. See
        :data:`DEFAULT_SEGMENTS`.
    bins : int, default 5
        Score levels; all ``bins ** 3`` combinations are checked.

    Raises
    ------
    ValueError
        On malformed rules, a rule that matches no combination, or
        combinations matched by several rules (overlaps, named with the
        rules involved) or by none (gaps). Combinations are written
        ``(R, F, M)``.
    """
    if not isinstance(rules, Sequence) or isinstance(rules, (str, bytes)) or not rules:
        raise ValueError("rules must be a non-empty list of rule mappings")
    names = []
    for i, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            raise ValueError(f"rule {i} must be a mapping, got {type(rule).__name__}")
        name = rule.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError(f"rule {i} needs a non-empty string 'name'")
        unknown = set(rule) - {"name", "action", *_RULE_DIMS}
        if unknown:
            raise ValueError(f"rule {name!r} has unknown keys {sorted(unknown)}")
        if not isinstance(rule.get("action", ""), str):
            raise ValueError(f"rule {name!r}: 'action' must be a string")
        for dim in _RULE_DIMS:
            if dim in rule and not _is_score_range(rule[dim], bins):
                raise ValueError(
                    f"rule {name!r}: {dim!r} must be [lo, hi] integers with "
                    f"1 <= lo <= hi <= {bins}, got {rule[dim]!r}"
                )
        names.append(name)
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"duplicate rule names: {duplicated}")

    grid = pd.DataFrame(
        list(itertools.product(range(1, bins + 1), repeat=3)), columns=list(SCORE_COLUMNS)
    )
    masks = np.column_stack([_rule_mask(rule, grid) for rule in rules])
    never = [names[j] for j in np.flatnonzero(~masks.any(axis=0))]
    if never:
        raise ValueError(f"rules never match any score combination: {never}")
    cells = [tuple(int(v) for v in row) for row in grid.to_numpy()]
    hits = masks.sum(axis=1)
    problems = []
    overlaps = [
        f"{cells[i]} by {[names[j] for j in np.flatnonzero(masks[i])]}"
        for i in np.flatnonzero(hits > 1)
    ]
    if overlaps:
        problems.append(f"{len(overlaps)} (R, F, M) combinations matched by several rules: "
                        + _shorten(overlaps))
    gaps = [str(cells[i]) for i in np.flatnonzero(hits == 0)]
    if gaps:
        problems.append(f"{len(gaps)} (R, F, M) combinations matched by no rule: " + _shorten(gaps))
    if problems:
        raise ValueError("invalid segment rules: " + "; ".join(problems))


def _is_score_range(value: Any, bins: int) -> bool:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
        return False
    lo, hi = value
    ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (lo, hi))
    return ints and 1 <= lo <= hi <= bins


def _rule_mask(rule: Mapping[str, Any], scores: pd.DataFrame) -> np.ndarray:
    """Boolean array: which rows of ``scores`` the rule's ranges match."""
    r, f, m = (scores[c].to_numpy() for c in SCORE_COLUMNS)
    values = {"r": r, "f": f, "m": m, "fm": (f + m) // 2}
    mask = np.ones(len(scores), dtype=bool)
    for dim in _RULE_DIMS:
        if dim in rule:
            lo, hi = rule[dim]
            mask &= (values[dim] >= lo) & (values[dim] <= hi)
    return mask


def _shorten(items: list[str], limit: int = 20) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items) - limit} more)" if len(items) > limit else "")
