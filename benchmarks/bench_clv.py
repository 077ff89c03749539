"""Time BG/NBD + Gamma-Gamma fitting and scoring at scale (issue target: 1M customers <= 60 s).

    python benchmarks/bench_clv.py                         # 1M simulated customers
    python benchmarks/bench_clv.py --data benchmarks/data/tx_10M.parquet   # summary of generated lines

Without ``--data`` the customer summaries are simulated from BG/NBD + Gamma-Gamma
(:func:`lclib.analysis.clv.simulate_bgnbd_gg`, 78 weeks of observation); with it they
are computed from the order lines by the DuckDB engine (``count_by=D``,
``time_unit=W``, model columns only). Then :func:`lclib.analysis.clv.fit_bgnbd`,
:func:`lclib.analysis.clv.fit_gamma_gamma` and :func:`lclib.analysis.clv.predict_customers`
(12-month CLV) are timed one after the other in this process; peak memory is
the process's ``ru_maxrss``.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000, help="simulated customers")
    parser.add_argument("--data", type=Path, default=None, help="order lines (Parquet) instead of a simulation")
    args = parser.parse_args(argv)

    from lclib.analysis.clv import fit_bgnbd, fit_gamma_gamma, predict_customers, simulate_bgnbd_gg
    from lclib.engine.summary import customer_summary

    print(f"load average {os.getloadavg()[0]:.1f}", flush=True)
    steps = []
    t = time.perf_counter()
    if args.data is None:
        summary = simulate_bgnbd_gg(args.customers, r=0.25, alpha=4.0, a=0.8, b=2.4, p=6.0, q=3.8, v=15.0,
                                    T=78.0, seed=0)
        steps.append(("simulate summaries", time.perf_counter() - t))
    else:
        summary = customer_summary(args.data, count_by="D", time_unit="W", engine="duckdb", extras=False)
        steps.append(("customer summary (DuckDB)", time.perf_counter() - t))
    print(f"{len(summary):,} customers, {(summary['frequency'] > 0).mean():.0%} with repeat purchases", flush=True)
    t0 = time.perf_counter()
    t = time.perf_counter()
    bg = fit_bgnbd(summary, time_unit="W")
    steps.append((f"BG/NBD fit ({bg.status})", time.perf_counter() - t))
    t = time.perf_counter()
    gg = fit_gamma_gamma(summary)
    steps.append((f"Gamma-Gamma fit ({gg.status})", time.perf_counter() - t))
    t = time.perf_counter()
    scores = predict_customers(bg, gg, summary, horizon_periods=12, time_unit="W")
    steps.append(("score: purchases, P(alive), 12-month CLV", time.perf_counter() - t))
    total = time.perf_counter() - t0
    for name, seconds in steps:
        print(f"  {name:45s} {seconds:6.1f} s")
    print(f"  {'fit + scoring':45s} {total:6.1f} s (target <= 60 s for 1M customers)")
    print(f"  peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; "
          f"BG/NBD {bg.params}, Gamma-Gamma {gg.params}; {len(scores):,} customers scored")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
