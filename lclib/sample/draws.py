"""Small vectorised drawing and ranking helpers shared by the simulated world and the shop export."""

from __future__ import annotations

import numpy as np


def choice(rng: np.random.Generator, size: int, probs: np.ndarray) -> np.ndarray:
    """Indices drawn with the given probabilities (normalized)."""
    probs = np.asarray(probs, dtype=float)
    return rng.choice(probs.size, size=size, p=probs / probs.sum())


def rank_by(*keys: np.ndarray) -> np.ndarray:
    """0-based rank of each element when sorted by ``keys`` (first key primary)."""
    order = np.lexsort(keys[::-1])
    rank = np.empty(order.size, dtype=np.int64)
    rank[order] = np.arange(order.size)
    return rank
