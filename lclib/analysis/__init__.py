"""One module per question, pure functions from tables to tables.

Shared building blocks have one home each: order collapse and the analysis date
in :mod:`lclib.engine`, Wilson intervals in :mod:`lclib.analysis.intervals`,
numbers in words in :mod:`lclib.analysis.wording`. Analysis modules never
import :mod:`lclib.report` or :mod:`lclib.plots`, and never record headline
numbers: they return values, the notebooks record them.
"""
