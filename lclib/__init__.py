"""lclib: customer-lifecycle analytics from raw customer data.

Typical use in a notebook::

    import lclib
    data = lclib.load_dataset("lclib.yaml")
    data.transactions.head()

The names below are imported when first used (PEP 562), so that a process that needs
one subpackage (a notebook worker of ``lclib run`` needs :mod:`lclib.report.worker`
only) does not import pandas, Arrow and the loader with ``lclib``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["ConfigError", "DataError", "Dataset", "canonical", "load_config", "load_dataset", "__version__"]

_HOMES = {"ConfigError": "lclib.config", "load_config": "lclib.config", "DataError": "lclib.io",
          "Dataset": "lclib.io", "canonical": "lclib.io", "load_dataset": "lclib.io"}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from lclib.config import ConfigError, load_config
    from lclib.io import DataError, Dataset, canonical, load_dataset


def __getattr__(name: str):
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lclib' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
