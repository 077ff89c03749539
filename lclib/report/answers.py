"""Reports that answer first: nbconvert preprocessors for the HTML export of a report notebook.

A report's "Answers" (3-6 sentences with its key numbers, built by the ``*_answers``
functions of :mod:`lclib.analysis.wording`) can only be computed once every section has run,
so the notebook keeps them in its last cells, tagged ``answers`` in the cell metadata. When
the HTML is written, :class:`MoveAnswers` moves those cells right after the title cell,
under a ``## Answers`` heading, so a reader sees the answers first and the detail below.

:class:`DropAnalystOnly` drops the cells tagged ``analyst-only`` (or ``analyst_only``, the
spelling the runner's ``TagRemovePreprocessor`` already removes) from the business version:
parameter tables of the models and the technical diagnostics stay in ``NN_topic.analyst.html``.

Wiring (in the function that exports HTML, after the exporter is built)::

    from lclib.report import answers
    answers.register(exporter, with_code=with_code)
"""

from __future__ import annotations

from typing import Any

from nbconvert.preprocessors import Preprocessor
from traitlets import Set, Unicode

#: Tag of the cells moved to the top of the report.
ANSWERS_TAG = "answers"
#: Tags of the cells left out of the business version (both spellings).
ANALYST_ONLY_TAGS = frozenset({"analyst-only", "analyst_only"})
#: The heading put above the moved cells (unless they bring their own).
ANSWERS_HEADING = "## Answers"


def _tags(cell: Any) -> set[str]:
    return set(cell.get("metadata", {}).get("tags", []) or [])


def _is_heading(cell: Any, level: int) -> bool:
    if cell.get("cell_type") != "markdown":
        return False
    source = "".join(cell.get("source", "")) if isinstance(cell.get("source"), list) else cell.get("source", "")
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    return first.startswith("#" * level + " ")


def title_index(cells: list) -> int | None:
    """Position of the title cell: the first Markdown cell whose first line is a ``# `` heading
    (None when the notebook has none)."""
    for i, cell in enumerate(cells):
        if _is_heading(cell, 1):
            return i
    return None


def move_answers(nb: Any, heading: str = ANSWERS_HEADING, tag: str = ANSWERS_TAG) -> Any:
    """``nb`` with its cells tagged ``tag`` moved right after the title cell (the first
    ``# `` heading; without one, to the top), under a Markdown cell ``heading`` unless one of
    the moved cells is a Markdown cell starting with that heading. The moved cells keep their
    order. A notebook without such cells is returned unchanged. Changes ``nb`` in place.
    """
    from nbformat import v4

    moved = [c for c in nb.cells if tag in _tags(c)]
    if not moved:
        return nb
    rest = [c for c in nb.cells if tag not in _tags(c)]
    has_heading = any(c.get("cell_type") == "markdown" and "".join(c.get("source", "")).lstrip().startswith(heading)
                      for c in moved)
    if not has_heading:
        cell = v4.new_markdown_cell(heading)
        cell.metadata["tags"] = [tag]
        cell["id"] = "answers-heading"
        moved = [cell, *moved]
    at = title_index(rest)
    at = 0 if at is None else at + 1
    nb.cells = rest[:at] + moved + rest[at:]
    return nb


def drop_analyst_only(nb: Any, tags: frozenset[str] = ANALYST_ONLY_TAGS) -> Any:
    """``nb`` without the cells tagged ``analyst-only`` / ``analyst_only``. Changes ``nb`` in place."""
    nb.cells = [c for c in nb.cells if not (_tags(c) & tags)]
    return nb


class MoveAnswers(Preprocessor):
    """nbconvert preprocessor: the cells tagged ``answers`` go right after the title cell,
    under a ``## Answers`` heading (:func:`move_answers`)."""

    tag = Unicode(ANSWERS_TAG).tag(config=True)
    heading = Unicode(ANSWERS_HEADING).tag(config=True)

    def preprocess(self, nb, resources):
        return move_answers(nb, self.heading, self.tag), resources


class DropAnalystOnly(Preprocessor):
    """nbconvert preprocessor: the cells tagged ``analyst-only`` (or ``analyst_only``) are
    left out; register it for the business version only (:func:`register`)."""

    tags = Set(set(ANALYST_ONLY_TAGS)).tag(config=True)

    def preprocess(self, nb, resources):
        return drop_analyst_only(nb, frozenset(self.tags)), resources


def register(exporter: Any, with_code: bool) -> Any:
    """Register the report preprocessors on an nbconvert exporter: answers first in both
    versions; analyst-only cells dropped when ``with_code`` is false (the business version).
    Returns the exporter."""
    exporter.register_preprocessor(MoveAnswers(), enabled=True)
    if not with_code:
        exporter.register_preprocessor(DropAnalystOnly(), enabled=True)
    return exporter
