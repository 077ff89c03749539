"""The query layer: every heavy aggregation, with its SQL (DuckDB) and pandas implementations.

==========================  ===================================================
module                      computes
==========================  ===================================================
``sql``                     the SQL texts and the DuckDB binding (sources,
                            connection, engine choice)
``contracts``               output columns, units, the analysis date and the
                            finishing steps both implementations share
``orders``                  order lines collapsed into orders (the one order
                            collapse), per-customer order histories
``summary``                 frequency / recency / T / monetary per customer,
                            calibration and holdout split
``rfm_table``               recency, frequency, monetary at snapshot dates
``cohort_cells``            monthly acquisition-cohort cells
==========================  ===================================================

Analysis modules call these and receive small frames (one row per customer
or per cell). Imports only :mod:`lclib.io` and :mod:`lclib.config`.
"""

from lclib.engine.sql import (  # noqa: F401
    available, check_engine, cohort_cells_sql, customer_summary_sql, default_engine, first_event_times_sql,
    headline_counts_sql, monthly_activity_sql, query, relation, rfm_table_sql, set_default_engine,
)
