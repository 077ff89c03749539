"""Benchmark: RFM scoring of N transactions (default 10M lines, ~800k customers).

Times ``rfm_table`` -> ``rfm_scores`` -> ``assign_segments`` (+ ``segment_summary``)
on order lines already in memory, and reports wall time per step and the peak
resident memory of the process (``resource.getrusage``, data included).

    python benchmarks/bench_rfm.py                 # 10M lines
    python benchmarks/bench_rfm.py --n 1e6         # smaller run
    python benchmarks/bench_rfm.py --data benchmarks/data/tx_10M.parquet

Data: ``--data`` reads a Parquet file of canonical transactions; otherwise the
lines are generated in memory with ``generate_transactions.generate`` (the shared
benchmark generator in this folder) or, if that module is absent, with the
vectorized generator below. Loading or generating is not part of the timing.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from lclib.io.columns import AMOUNT, CUSTOMER_ID, ORDER_ID, TIMESTAMP
from lclib.analysis.rfm import assign_segments, rfm_scores, segment_summary
from lclib.engine.rfm_table import rfm_table

#: Order lines per customer on average (10M lines -> 800k customers).
LINES_PER_CUSTOMER = 12.5
#: Order lines per order on average.
LINES_PER_ORDER = 2.0


def make_transactions(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` canonical order lines over two years, customers with skewed order counts."""
    rng = np.random.default_rng(seed)
    n_customers = max(1, int(n / LINES_PER_CUSTOMER))
    n_orders = max(1, int(n / LINES_PER_ORDER))
    # Every customer has one order, every order one line; the rest are spread
    # skewed over customers (a few heavy buyers, many one-order customers) and
    # uniformly over orders.
    weights = rng.pareto(1.5, n_customers) + 0.05
    order_customer = np.concatenate([
        np.arange(n_customers),
        rng.choice(n_customers, size=max(0, n_orders - n_customers), p=weights / weights.sum()),
    ])
    n_orders = len(order_customer)
    order_time = pd.Timestamp("2023-01-01").value + rng.integers(0, 730 * 86_400, n_orders) * 10**9
    order_line = np.sort(np.concatenate([np.arange(n_orders), rng.integers(0, n_orders, max(0, n - n_orders))]))
    customer_ids = pd.array([f"C{i:07d}" for i in range(n_customers)], dtype="str")
    order_ids = pd.array([f"O{i:08d}" for i in range(n_orders)], dtype="str")
    return pd.DataFrame({
        CUSTOMER_ID: customer_ids[order_customer[order_line]],
        ORDER_ID: order_ids[order_line],
        TIMESTAMP: pd.to_datetime(order_time[order_line]),
        AMOUNT: np.round(rng.gamma(2.0, 15.0, n), 2),
    })


def load_transactions(path: Path | None, n: int, seed: int) -> tuple[pd.DataFrame, str]:
    """Canonical transaction lines as pandas (ids as text), and where they came from."""
    columns = [CUSTOMER_ID, ORDER_ID, TIMESTAMP, AMOUNT]
    if path is not None:
        return pd.read_parquet(path, columns=columns), str(path)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    try:
        from generate_transactions import generate  # type: ignore[import-not-found]
    except ImportError:
        return make_transactions(n, seed), "built-in generator"
    table = generate(n, seed=seed).select(columns)
    return table.to_pandas(), "generate_transactions.generate"


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 / (1024 if sys.platform == "darwin" else 1)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=10e6, help="transaction lines (default 1e7)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None, help="Parquet file of canonical transactions")
    args = parser.parse_args(argv)
    n = int(args.n)

    t0 = time.perf_counter()
    tx, source = load_transactions(args.data, n, args.seed)
    t_gen = time.perf_counter() - t0
    rss_data = _peak_rss_mb()
    print(f"data: {len(tx):,} lines, {tx[CUSTOMER_ID].nunique():,} customers ({source}, {t_gen:.1f} s, "
          f"peak RSS so far {rss_data:,.0f} MB)")

    times = {}
    t = time.perf_counter()
    rfm = rfm_table(tx)
    times["rfm_table"] = time.perf_counter() - t
    t = time.perf_counter()
    scores = rfm_scores(rfm)
    times["rfm_scores"] = time.perf_counter() - t
    t = time.perf_counter()
    scored = assign_segments(scores)
    times["assign_segments"] = time.perf_counter() - t
    t = time.perf_counter()
    summary = segment_summary(scored)
    times["segment_summary"] = time.perf_counter() - t
    total = sum(times.values())
    assert summary["customers"].sum() == len(rfm)

    for step, seconds in times.items():
        print(f"{step:>16}: {seconds:6.2f} s")
    print(f"{'total':>16}: {total:6.2f} s for {len(rfm):,} customers")
    print(f"peak RSS: {_peak_rss_mb():,.0f} MB (data alone: {rss_data:,.0f} MB)")
    return {**times, "total": total, "peak_rss_mb": _peak_rss_mb()}


if __name__ == "__main__":
    main()
