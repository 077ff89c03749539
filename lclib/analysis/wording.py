"""Numbers in words for sentences built by the analysis modules."""

from __future__ import annotations


def p_text(p: float) -> str:
    """A p-value as a sentence says it: ``p = 0.032``, ``p < 0.001`` (never ``p = 0``)."""
    return "p < 0.001" if p < 0.001 else f"p = {p:.2g}"
