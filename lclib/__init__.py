"""lclib: customer-lifecycle analytics from raw customer data.

Typical use in a notebook::

    import lclib
    data = lclib.load_dataset("lclib.yaml")
    data.transactions.head()
"""

from lclib.config import ConfigError, load_config
from lclib.io import DataError, Dataset, canonical, load_dataset

__version__ = "0.1.0"
__all__ = ["ConfigError", "DataError", "Dataset", "canonical", "load_config", "load_dataset", "__version__"]
