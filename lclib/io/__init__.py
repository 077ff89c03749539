"""Reading the user's files: column mapping, parsing, cleaning with a ledger, canonical columns.

``columns`` names the canonical tables and columns; ``mapping`` checks a
configuration's column mapping against them; ``load`` reads, parses, validates
and cleans each table; ``ledger`` counts every row a cleaning rule removes;
``frames.canonical`` makes a plain DataFrame with other column names a canonical table.
Imports only :mod:`lclib.config` of lclib.
"""

from lclib.io.frames import canonical  # noqa: F401
from lclib.io.ledger import Ledger  # noqa: F401
from lclib.io.load import DataError, InputInfo, load_table  # noqa: F401
from lclib.io.dataset import Dataset, load_dataset  # noqa: F401
