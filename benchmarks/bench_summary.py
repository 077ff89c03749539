"""Benchmark the customer summary: lclib (DuckDB, pandas) against lifetimes.

    python benchmarks/generate_transactions.py            # once: benchmarks/data/tx_10M.parquet
    python benchmarks/bench_summary.py                    # all contenders on the 10M file
    python benchmarks/bench_summary.py --data benchmarks/data/tx_1M.parquet --check

Every contender runs in its own fresh Python process (``subprocess``), one after
the other, so that peak memory is its own: the child reports
``resource.getrusage(RUSAGE_SELF).ru_maxrss`` (peak resident set size, imports
included), its wall times and its CPU time (user + system, all threads:
DuckDB uses both cores, lifetimes and pandas one). On a shared machine wall
time depends on the other load; the load average is printed with the results.
Contenders:

``lifetimes``
    ``pd.read_parquet`` of the three columns it uses (customer, timestamp,
    amount) + ``lifetimes.utils.summary_data_from_transaction_data`` (``freq`` =
    ``--freq``, default ``D``).
``lclib-duckdb-model``
    ``customer_summary(path, engine="duckdb", extras=False)``: one SQL query
    reading the Parquet file directly, returning what lifetimes returns (the
    four model columns): the like-for-like comparison.
``lclib-duckdb``
    ``customer_summary(path, engine="duckdb")``: the full contract, also
    first/last purchase, orders (a distinct count of order ids) and revenue.
``lclib-duckdb-frame``
    ``pd.read_parquet`` + ``customer_summary(frame, engine="duckdb")``: the
    notebooks' case, where the lines are already in memory.
``lclib-pandas``
    ``pd.read_parquet`` + ``customer_summary(frame, engine="pandas")``.

lclib uses the definitions that equal lifetimes' (``count_by=D, time_unit=D`` for
``--freq D``; ``count_by=W, time_unit=W_periods`` for ``--freq W``). ``--check``
also compares every result with lifetimes' (frequency, recency, T exactly;
monetary_value to 1e-12 relative), outside the timed part. The table reports
wall time of load + summary, peak memory, and the ratios to lifetimes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONTENDERS = ("lifetimes", "lclib-duckdb-model", "lclib-duckdb", "lclib-duckdb-frame", "lclib-pandas")
LCLIB_ARGS = {"D": {"count_by": "D", "time_unit": "D"}, "W": {"count_by": "W", "time_unit": "W_periods"}}
COLUMNS = ["customer_id", "order_id", "timestamp", "amount"]
LIFETIMES_COLUMNS = ["customer_id", "timestamp", "amount"]  # it never reads order ids


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(name: str, data: str, freq: str, out: str | None) -> dict:
    """Run one contender in this (fresh) process and return its measurements."""
    t_start = time.perf_counter()
    import warnings

    import pandas as pd

    from lclib.engine.summary import customer_summary

    if name == "lifetimes":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import lifetimes.utils
    imports_mb = _peak_mb()
    c0 = _cpu_s()
    t0 = time.perf_counter()
    frame = None
    if name in ("lifetimes", "lclib-duckdb-frame", "lclib-pandas"):
        frame = pd.read_parquet(data, columns=LIFETIMES_COLUMNS if name == "lifetimes" else COLUMNS)
    t1 = time.perf_counter()
    if name == "lifetimes":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = lifetimes.utils.summary_data_from_transaction_data(
                frame, "customer_id", "timestamp", "amount", freq=freq)
    elif name == "lclib-duckdb-model":
        result = customer_summary(data, engine="duckdb", extras=False, **LCLIB_ARGS[freq])
    elif name == "lclib-duckdb":
        result = customer_summary(data, engine="duckdb", **LCLIB_ARGS[freq])
    elif name == "lclib-duckdb-frame":
        result = customer_summary(frame, engine="duckdb", **LCLIB_ARGS[freq])
    else:
        result = customer_summary(frame, engine="pandas", **LCLIB_ARGS[freq])
    t2 = time.perf_counter()
    cpu = _cpu_s() - c0
    peak = _peak_mb()
    if out:
        keep = ["frequency", "recency", "T", "monetary_value"]
        result[keep].astype({"frequency": "int64"}).sort_index().to_parquet(out)
    return {"contender": name, "rows": None, "customers": len(result), "load_s": t1 - t0,
            "summary_s": t2 - t1, "wall_s": t2 - t0, "cpu_s": cpu, "process_s": t2 - t_start,
            "imports_mb": imports_mb, "peak_mb": peak}


def run_child(name: str, data: Path, freq: str, out: Path | None) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--data", str(data), "--freq", freq]
    if out is not None:
        cmd += ["--out", str(out)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def check(results: dict[str, Path]) -> dict[str, str]:
    """Compare every contender's summary with lifetimes'."""
    import numpy as np
    import pandas as pd

    ref = pd.read_parquet(results["lifetimes"])
    verdict = {}
    for name, path in results.items():
        if name == "lifetimes":
            continue
        got = pd.read_parquet(path)
        got.index = got.index.astype(ref.index.dtype)
        got = got.sort_index()  # lclib returns ids as text, sorted as text; integer ids sort otherwise
        same_index = got.index.equals(ref.index)
        exact = same_index and all(np.array_equal(got[c].to_numpy(), ref[c].to_numpy())
                                   for c in ("frequency", "recency", "T"))
        rel = float((np.abs(got["monetary_value"] - ref["monetary_value"])
                     / ref["monetary_value"].abs().clip(lower=1e-300)).max()) if same_index else float("nan")
        verdict[name] = (f"frequency/recency/T {'identical' if exact else 'DIFFER'}, "
                         f"monetary_value max rel. diff {rel:.1e}")
    return verdict


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except OSError:
        mem_kb = 0
    import duckdb
    import pandas as pd

    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({cpu}), "
            f"{mem_kb / 1024 ** 2:.0f} GB RAM, load average {os.getloadavg()[0]:.1f}; "
            f"Python {platform.python_version()}, pandas {pd.__version__}, duckdb {duckdb.__version__}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data" / "tx_10M.parquet")
    parser.add_argument("--freq", choices=["D", "W"], default="D", help="lifetimes' freq (lclib: matching options)")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--check", action="store_true", help="compare every result with lifetimes'")
    parser.add_argument("--json", type=Path, default=None, help="also write the measurements here")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(child(args.child, str(args.data), args.freq, args.out)))
        return 0
    if not args.data.is_file():
        print(f"{args.data} not found: run benchmarks/generate_transactions.py first", file=sys.stderr)
        return 2
    if args.check and "lifetimes" not in args.contenders:
        parser.error("--check needs the lifetimes contender")
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(args.data).metadata.num_rows
    print(f"data: {args.data} ({rows:,} order lines), freq={args.freq}")
    print(f"machine: {machine()}", flush=True)
    measured, outputs = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.contenders:
            out = Path(tmp) / f"{name}.parquet" if args.check else None
            m = run_child(name, args.data, args.freq, out)
            m["rows"] = rows
            measured.append(m)
            if out is not None:
                outputs[name] = out
            print(f"  {name}: {m['wall_s']:.1f} s, peak {m['peak_mb']:.0f} MB", flush=True)
        verdict = check(outputs) if args.check else {}

    base = next((m for m in measured if m["contender"] == "lifetimes"), None)
    print()
    print("| contender | customers | load s | summary s | wall s (load + summary) | CPU s | peak MB | "
          "wall: lifetimes / this | CPU: lifetimes / this | peak: this / lifetimes |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for m in measured:
        speed = f"{base['wall_s'] / m['wall_s']:.1f}x" if base else "-"
        cpu = f"{base['cpu_s'] / m['cpu_s']:.1f}x" if base else "-"
        memory = f"{m['peak_mb'] / base['peak_mb']:.2f}" if base else "-"
        print(f"| {m['contender']} | {m['customers']:,} | {m['load_s']:.1f} | {m['summary_s']:.1f} | "
              f"{m['wall_s']:.1f} | {m['cpu_s']:.1f} | {m['peak_mb']:.0f} | {speed} | {cpu} | {memory} |")
    for name, text in verdict.items():
        print(f"check {name} vs lifetimes: {text}")
    if args.json:
        args.json.write_text(json.dumps({"data": str(args.data), "rows": rows, "freq": args.freq,
                                         "machine": machine(), "results": measured, "check": verdict}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
