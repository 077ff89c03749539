"""Benchmark: the person x stage table and lifecycle states scale linearly with the number of people.

Generates simulated worlds of growing size with :func:`lclib.sample.simulate` and times

* ``journey.stage_entries``  - the canonical person x stage table (default stages);
* ``stages.state_thresholds`` - thresholds derived from inter-purchase gaps;
* ``stages.people_table``     - seen / signed-up times per person (built on stage_entries);
* ``stages.customer_states``  - every person's state as of the analysis date;
* ``stages.monthly_states``   - every person's state at every month end (24 months);
* ``stages.transition_matrix`` + ``monthly_state_counts`` - the month-to-month summaries.

For each size it prints the seconds (best of ``--repeat`` runs) and the microseconds per
person; the last column is the per-person time relative to the smallest size. Linear
scaling shows as ratios near 1 (fixed overheads make small worlds look relatively slow,
so ratios below 1 are normal; a quadratic step would show ratios growing with size).

Run from the repository root::

    python benchmarks/bench_journey_stages.py                      # 5k, 20k, 80k people
    python benchmarks/bench_journey_stages.py --sizes 5000 40000 --repeat 3
    python benchmarks/bench_journey_stages.py --max-ratio 2        # exit 1 if per-person time grows > 2x

Measured 2026-11-23 15:25 on the 2-core development machine (load average about 1), best of
2. 80k people = 84k persons, 124k order lines, 376k events: ``stage_entries`` 1.2 s,
``people_table`` 1.1 s, ``customer_states`` 0.07 s, ``monthly_states`` (24 month ends)
0.10 s, counts + transitions 0.05 s; all steps 2.5 s (30 us per person). Per-person times at
80k are 0.2-0.5x those at 5k for every step: linear (the small worlds carry fixed
overheads). An earlier measurement (load about 6, before the integer-code rewrites of
journey and stages) took 6.2 s for ``stage_entries`` alone at 80k.
"""

from __future__ import annotations

import argparse
import sys
import time

import pandas as pd

from lclib.analysis import stages
from lclib.config import Journey
from lclib.analysis.journey import stage_entries
from lclib.sample import simulate

AS_OF = pd.Timestamp("2026-01-01")  # the day after the simulated window (2024-01-01 .. 2025-12-31)


def _best(fn, repeat: int):
    """Best wall time of ``repeat`` calls, and the last result."""
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run(sizes: list[int], repeat: int = 1, seed: int = 20240101) -> pd.DataFrame:
    """Time every step at every size.

    Returns
    -------
    DataFrame
        One row per (size, step): ``n_people`` (simulate argument), ``persons``
        (rows of the person x stage table), ``order_lines``, ``step``, ``seconds``,
        ``us_per_person`` and ``ratio`` (per-person time / the smallest size's).
    """
    journey_stages = Journey().stages
    rows = []
    for n in sizes:
        tables = simulate(n_people=n, seed=seed).tables()
        tx = tables["transactions"]
        steps = {}
        steps["journey.stage_entries"], (reached, _) = _best(
            lambda: stage_entries(tables, journey_stages, as_of=AS_OF), repeat)
        steps["stages.state_thresholds"], th = _best(lambda: stages.state_thresholds(tx, as_of=AS_OF), repeat)
        steps["stages.people_table"], people = _best(lambda: stages.people_table(tables, AS_OF), repeat)
        steps["stages.customer_states"], _ = _best(lambda: stages.customer_states(tables, th, AS_OF, people),
                                                   repeat)
        steps["stages.monthly_states"], grid = _best(lambda: stages.monthly_states(tables, th, AS_OF, people),
                                                     repeat)
        steps["stages.counts+transitions"], _ = _best(
            lambda: (stages.monthly_state_counts(grid), stages.transition_matrix(grid)), repeat)
        for step, sec in steps.items():
            rows.append({"n_people": n, "persons": len(reached), "order_lines": len(tx), "step": step,
                         "seconds": sec, "us_per_person": 1e6 * sec / len(reached)})
    out = pd.DataFrame(rows)
    base = out.loc[out["n_people"] == min(sizes)].set_index("step")["us_per_person"]
    out["ratio"] = out["us_per_person"] / out["step"].map(base)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[5000, 20000, 80000], help="n_people per world")
    p.add_argument("--repeat", type=int, default=1, help="runs per step; the best time is kept")
    p.add_argument("--max-ratio", type=float, default=None,
                   help="fail (exit 1) when a step's per-person time at the largest size exceeds this multiple "
                        "of the smallest size's")
    args = p.parse_args(argv)
    res = run(sorted(args.sizes), args.repeat)
    pd.set_option("display.width", 140)
    print(res.to_string(index=False, formatters={"seconds": "{:.3f}".format, "us_per_person": "{:.1f}".format,
                                                 "ratio": "{:.2f}".format}))
    total = res.groupby("n_people")[["persons", "seconds"]].agg({"persons": "first", "seconds": "sum"})
    total["us_per_person"] = 1e6 * total["seconds"] / total["persons"]
    print("\nAll steps:\n" + total.to_string(formatters={"seconds": "{:.3f}".format,
                                                          "us_per_person": "{:.1f}".format}))
    if args.max_ratio is not None:
        worst = res.loc[res["n_people"] == max(args.sizes), "ratio"].max()
        if worst > args.max_ratio:
            print(f"\nper-person time grew {worst:.2f}x > {args.max_ratio}x: not linear", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
