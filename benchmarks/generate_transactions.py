"""Generate N order lines for the benchmarks (vectorized numpy + pyarrow, no Python loops, streamed).

    python benchmarks/generate_transactions.py                 # 10M lines -> benchmarks/data/tx_10M.parquet
    python benchmarks/generate_transactions.py --rows 1000000 --csv
    python benchmarks/generate_transactions.py --rows 100000000    # 100M, written batch by batch

The shop: ``rows / 12.5`` customers (800k for 10M lines) over ``--days`` (730,
two years). Each customer has a first-purchase time uniform over the period and a
Poisson number of repeat orders with a gamma-distributed rate (most buy once or
twice, a few dozens of times), spread uniformly between the first order and the
end; an order has 1 + Poisson(1.5) lines. Several orders on one day, single-
purchase customers and order lines of one order sharing a timestamp all occur.
About 2 % more lines than ``rows`` are drawn and the latest are cut off, so the
history ends a few days before ``--days`` and the last order may lose lines.
About 4 % of lines repeat another line of the same order exactly (same popular
product and quantity): :mod:`lclib.io` drops them as duplicates, the summary
benchmarks count them as lines.
Columns are the canonical ones of :mod:`lclib.io.columns` (``customer_id``,
``order_id``, ``timestamp``, ``product``, ``quantity``, ``unit_price``,
``amount``, ``channel``); rows are sorted by time, as a shop export is.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
CHANNELS = ["paid_search", "paid_social", "organic_social", "email", "app_push", "referral", "direct"]
LINES_PER_ORDER = 2.5  # 1 + Poisson(1.5)
REPEATS_MEAN = 4.0  # mean repeat orders per customer (gamma-Poisson)
REPEATS_SHAPE = 0.5  # gamma shape of the repeat rate: small = very unequal customers


def _ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` + zero-padded numbers, built in Arrow (C++), not Python."""
    text = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, text, "")


def _orders(rows: int, days: int, rng: np.random.Generator):
    """Order-level arrays (customer, time, channel, lines), in time order: about rows / 2.5 orders."""
    # 2 % more customers than needed on average, so the lines rarely run short
    n_customers = max(1, round(1.02 * rows / ((1 + REPEATS_MEAN) * LINES_PER_ORDER)))
    span = np.int64(days) * 86_400  # seconds
    # per customer: first order time and number of repeat orders
    first = rng.integers(0, span, n_customers)
    rate = rng.gamma(REPEATS_SHAPE, REPEATS_MEAN / REPEATS_SHAPE, n_customers)
    # fewer repeats for late starters: the rate applies to the share of the period left
    repeats = rng.poisson(rate * (span - first) / span * 2.0)
    del rate
    orders_per = 1 + repeats
    n_orders = int(orders_per.sum())
    customer_of_order = np.repeat(np.arange(n_customers, dtype=np.int64), orders_per)
    del orders_per, repeats
    is_first = np.ones(n_orders, dtype=bool)
    is_first[1:] = customer_of_order[1:] != customer_of_order[:-1]
    c_first = first[customer_of_order]
    del first
    order_time = np.where(is_first, c_first, c_first + (rng.random(n_orders) * (span - c_first)).astype(np.int64))
    del is_first, c_first
    # order numbers in time order, as a shop numbers them
    by_time = np.argsort(order_time, kind="stable")
    customer_of_order, order_time = customer_of_order[by_time], order_time[by_time]
    del by_time
    order_channel = rng.integers(0, len(CHANNELS), n_orders).astype(np.int8)
    lines_per = (1 + rng.poisson(LINES_PER_ORDER - 1, n_orders)).astype(np.int32)
    return customer_of_order, order_time, order_channel, lines_per


def generate_batches(rows: int = 10_000_000, days: int = 730, seed: int = 0, start: str = "2023-01-01",
                     batch_lines: int = 5_000_000):
    """The order lines as Arrow tables of about ``batch_lines`` lines each, in time order.

    Only the order-level arrays (about rows / 2.5 orders) are held whole; the lines are
    drawn and built one batch of whole orders at a time, so 100M lines never sit in memory
    (peak about 2 GB at 100M). The same ``rows``, ``days``, ``seed`` and ``batch_lines``
    always give the same lines.
    """
    rng = np.random.default_rng(seed)
    customer_of_order, order_time, order_channel, lines_per = _orders(rows, days, rng)
    price_of = np.round(np.exp(rng.normal(3.0, 0.8, 2000)), 2)
    ends = np.cumsum(lines_per, dtype=np.int64)
    n_orders = int(np.searchsorted(ends, rows, side="left")) + 1  # orders needed to reach ``rows`` lines
    n_orders = min(n_orders, len(ends))
    origin = np.datetime64(start, "s")
    lo, done = 0, 0
    while lo < n_orders and done < rows:
        hi = min(int(np.searchsorted(ends, done + batch_lines, side="left")) + 1, n_orders)
        order_of_line = np.repeat(np.arange(lo, hi, dtype=np.int64), lines_per[lo:hi])[: rows - done]
        n = len(order_of_line)
        quantity = 1 + rng.poisson(0.4, n)
        product = rng.zipf(1.3, n) % 2000
        price = price_of[product]
        seconds = order_time[order_of_line]
        timestamp = (origin + seconds.astype("timedelta64[s]")).astype("datetime64[us]")
        yield pa.table(
            {
                "customer_id": _ids("C", customer_of_order[order_of_line] + 1, 7),
                "order_id": _ids("O", order_of_line + 1, 9),
                "timestamp": pa.array(timestamp),
                "product": _ids("SKU", product + 1, 4),
                "quantity": pa.array(quantity.astype(np.float64)),
                "unit_price": pa.array(price),
                "amount": pa.array(np.round(quantity * price, 2)),
                "channel": pa.DictionaryArray.from_arrays(
                    pa.array(order_channel[order_of_line]), pa.array(CHANNELS)
                ).cast(pa.string()),
            }
        )
        done += n
        lo = hi


def generate(rows: int = 10_000_000, days: int = 730, seed: int = 0, start: str = "2023-01-01") -> pa.Table:
    """An Arrow table of ``rows`` order lines (see the module docstring), in memory (small sizes)."""
    return pa.concat_tables(generate_batches(rows, days, seed, start))


def label(rows: int) -> str:
    """``10M``, ``1M``, ``100k``, ``2500``: the file name's size tag."""
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if rows >= size and rows % size == 0:
            return f"{rows // size}{suffix}"
    return str(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="order lines (default 10M)")
    parser.add_argument("--days", type=int, default=730, help="length of the history in days")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "data", help="output folder (gitignored)")
    parser.add_argument("--csv", action="store_true", help="also write a CSV copy")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    path = args.out / f"tx_{label(args.rows)}.parquet"
    csv_path = path.with_suffix(".csv")
    writer = csv_writer = None
    lines = 0
    customers: set | None = set() if args.rows <= 20_000_000 else None  # counting ids costs memory at 100M
    try:
        for batch in generate_batches(args.rows, args.days, args.seed):  # streamed: one batch in memory
            if writer is None:
                writer = pq.ParquetWriter(path, batch.schema)
            writer.write_table(batch, row_group_size=1_000_000)
            if args.csv:
                stamp = pc.strftime(pc.cast(batch["timestamp"], pa.timestamp("s")), format="%Y-%m-%d %H:%M:%S")
                flat = batch.set_column(2, "timestamp", stamp)
                if csv_writer is None:
                    csv_writer = pcsv.CSVWriter(csv_path, flat.schema)
                csv_writer.write_table(flat)
            if customers is not None:
                customers.update(pc.unique(batch["customer_id"]).to_pylist())
            lines += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
        if csv_writer is not None:
            csv_writer.close()
    who = f", {len(customers):,} customers" if customers is not None else ""
    print(f"{path}: {lines:,} lines{who} (generated and written in {time.perf_counter() - t0:.1f} s, streamed)"
          + (f"; {csv_path}" if args.csv else ""))

if __name__ == "__main__":
    main()
