"""Time ``lclib run`` (the whole report suite) and the loader on a generated data set.

    python benchmarks/generate_transactions.py                    # once: tx_10M.parquet
    python benchmarks/bench_run.py                                # lclib run on tx_10M.parquet
    python benchmarks/bench_run.py --data benchmarks/data/tx_1M.parquet --only 00_data_overview
    python benchmarks/bench_run.py --load-only --data benchmarks/data/tx_1M.csv

``lclib run`` mode writes a configuration next to the reports (transactions
only: the generated data has no events, customers, spend...; the notebooks must
say so in words) and runs ``lclib run --config <it> --out <folder> -q`` as a
subprocess. It prints the wall time, the peak memory of the largest process of
the run (``getrusage(RUSAGE_CHILDREN).ru_maxrss``), the peak of the summed
memory of the runner, its workers and their kernels (sampled every 0.2 s with
psutil: notebooks run ``report.workers`` at a time), and the per-notebook times
from ``run.json``.

``--load-only`` times the runner's first steps alone in a fresh process (loading and
cleaning, in parts above ``read.rows_per_part`` lines; the data check; the compacted run
cache), with a cProfile breakdown of the slowest steps.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml

HERE = Path(__file__).resolve().parent
LCLIB = Path(sys.executable).with_name("lclib")
TRANSACTION_COLUMNS = ["customer_id", "order_id", "timestamp", "product", "quantity", "unit_price", "amount",
                       "channel"]


def write_config(data: Path, folder: Path) -> Path:
    """A configuration with only the transactions table, pointing at ``data``."""
    cfg = {
        "inputs": {"transactions": {"path": str(data.resolve()),
                                    "columns": {c: c for c in TRANSACTION_COLUMNS}}},
        "report": {"out": str(folder / "reports")},
    }
    path = folder / "bench_lclib.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path


def _watch_memory(pid: int, peak: dict, stop: threading.Event) -> None:
    """Sample the summed RSS of ``pid`` and all its descendants every 0.2 s; keep the maximum."""
    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not stop.is_set():
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for p in procs:
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak["total"] = max(peak.get("total", 0), total)
        stop.wait(0.2)


def bench_run(data: Path, out: Path, only: list[str], workers: int | None = None, engine: str | None = None) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    config = write_config(data, out)
    cmd = [str(LCLIB), "run", "--config", str(config), "--out", str(out / "reports"), "-q"]
    for name in only:
        cmd += ["--only", name]
    if workers is not None:
        cmd += ["-p", f"report.workers={workers}"]
    if engine is not None:
        cmd += ["-p", f"analysis.engine={engine}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak: dict = {}
    stop = threading.Event()
    watcher = threading.Thread(target=_watch_memory, args=(proc.pid, peak, stop), daemon=True)
    watcher.start()
    _, stderr = proc.communicate()
    stop.set()
    watcher.join()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {"command": " ".join(cmd), "exit_code": proc.returncode, "wall_s": wall,
              "cpu_s": (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
              "peak_mb": after.ru_maxrss / 1024, "peak_total_mb": peak.get("total", 0) / 2**20,
              "notebooks": []}
    run_json = _find_run_json(out / "reports")
    if run_json is not None:
        info = json.loads(run_json.read_text(encoding="utf-8"))
        result["run_json"] = str(run_json)
        for nb in info.get("notebooks", []):
            result["notebooks"].append({k: nb.get(k) for k in ("name", "status", "seconds")})
        result["load_s"] = info.get("load_seconds") or info.get("timings", {}).get("load")
    if proc.returncode:
        result["stderr"] = stderr[-4000:]
    return result


def _find_run_json(root: Path) -> Path | None:
    found = sorted(root.glob("**/run.json"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


def bench_load(data: Path) -> dict:
    """Time the runner's first steps in a fresh process (profiled) and return its report.

    As ``lclib run`` does them: ``load_dataset(cfg, write_to=cache)`` (a file above
    ``read.rows_per_part`` lines is cleaned in parts), the data check, ``Dataset.save`` and
    ``compact_order_lines_file``; each step's wall time, CPU time and the peak memory.
    """
    code = f"""
import cProfile, io, json, pstats, resource, shutil, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, {str(HERE)!r})
from bench_run import write_config
from lclib.config import load_config
from lclib.engine.orders import compact_order_lines_file
from lclib.io.dataset import load_dataset
from lclib.report.runner import check_enough_data
folder = Path(tempfile.mkdtemp())
cfg = load_config(write_config(Path({str(data)!r}), folder))
prof = cProfile.Profile()
steps = {{}}
t0 = c0 = None
def step(name, f):
    t, c = time.perf_counter(), time.process_time()
    out = f()
    steps[name] = round(time.perf_counter() - t, 1)
    return out
t0, c0 = time.perf_counter(), time.process_time()
prof.enable()
data = step("load_dataset", lambda: load_dataset(cfg, write_to=folder / "cache"))
step("check_enough_data", lambda: check_enough_data(cfg, data))
step("save", lambda: data.save(folder / "cache"))
rows = step("compact", lambda: compact_order_lines_file(folder / "cache" / "transactions.parquet", scratch=folder))
prof.disable()
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
stream = io.StringIO()
pstats.Stats(prof, stream=stream).sort_stats("cumulative").print_stats(r"lclib/|pandera|read_csv|read_parquet", 25)
print(json.dumps({{"rows": data.ledger.tables["transactions"].rows_kept, "cache_rows": rows, "wall_s": wall,
                  "cpu_s": cpu, "steps": steps, "parts": bool(data.tables.file("transactions")),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "profile": stream.getvalue()}}))
shutil.rmtree(folder, ignore_errors=True)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-4000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data" / "tx_10M.parquet")
    parser.add_argument("--out", type=Path, default=None, help="reports folder (default: a temporary one)")
    parser.add_argument("--only", action="append", default=[], help="run only this notebook (repeatable)")
    parser.add_argument("--load-only", action="store_true", help="time the loading steps of lclib run alone")
    parser.add_argument("--profile-lines", type=int, default=40, help="lines of the loader profile shown")
    parser.add_argument("--workers", type=int, default=None,
                        help="report.workers for the run (default: the configuration's, 2)")
    parser.add_argument("--engine", choices=["duckdb", "pandas", "spark"], default=None,
                        help="analysis.engine for the run (default: duckdb)")
    args = parser.parse_args(argv)
    if not args.data.is_file():
        print(f"{args.data} not found: run benchmarks/generate_transactions.py first", file=sys.stderr)
        return 2
    print(f"data: {args.data}; load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.load_only:
        r = bench_load(args.data)
        print(f"loading (as lclib run does{', in parts' if r['parts'] else ', in memory'}): {r['rows']:,} lines kept, "
              f"{r['cache_rows']:,} rows in the run cache; {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, "
              f"peak {r['peak_mb']:.0f} MB; steps (s): {r['steps']}")
        print("\n".join(r["profile"].splitlines()[: args.profile_lines]))
        return 0
    out = args.out or Path(tempfile.mkdtemp(prefix="lclib_bench_run_"))
    r = bench_run(args.data, out, args.only, args.workers, args.engine)
    print(f"lclib run: exit {r['exit_code']}, {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, "
          f"peak {r['peak_mb']:.0f} MB (largest process), {r['peak_total_mb']:.0f} MB (all processes at once); "
          f"load average at the end {os.getloadavg()[0]:.1f}; reports in {out / 'reports'}")
    for nb in r["notebooks"]:
        print(f"  {nb['name']}: {nb['status']}, {nb['seconds']:.1f} s" if nb.get("seconds") is not None
              else f"  {nb['name']}: {nb['status']}")
    if r.get("stderr"):
        print(r["stderr"], file=sys.stderr)
    return r["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
