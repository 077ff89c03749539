"""The ``lclib`` command: ``run``, ``validate`` and ``sample``.

Exit codes: 0 success; 1 a notebook failed (nothing published); 2 the
configuration or the input data are invalid (the message says where).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _add_config_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", "-c", type=Path, default=None,
                   help="configuration file (default: lclib.yaml of the repository)")
    p.add_argument("-p", "--param", dest="params", action="append", default=[], metavar="KEY=VALUE",
                   help="override a configuration key, e.g. -p analysis.as_of=2025-06-30 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lclib", description="Customer-lifecycle analytics reports.")
    sub = parser.add_subparsers(dest="command", required=True)

    p_run = sub.add_parser("run", help="load the data, run the notebooks, publish reports/<run-id>/")
    _add_config_args(p_run)
    p_run.add_argument("--out", "-o", type=Path, default=None,
                       help="reports root folder (default: report.out of the configuration)")
    p_run.add_argument("--only", action="append", default=None, metavar="NOTEBOOK",
                       help="run only this notebook (stem, number or topic; repeatable)")
    p_run.add_argument("--quiet", "-q", action="store_true", help="no progress lines")

    p_val = sub.add_parser("validate", help="load and check the data, print the ledger; run nothing")
    _add_config_args(p_val)

    p_sam = sub.add_parser("sample", help="generate the sample data of known truth")
    p_sam.add_argument("--out", "-o", type=Path, default=Path("data/sample"), help="output folder")
    p_sam.add_argument("--people", type=int, default=5000, help="number of people reached")
    p_sam.add_argument("--seed", type=int, default=None,
                       help="random seed (default: lclib.sample.DEFAULT_SEED, the committed sample's)")
    p_sam.add_argument("--messy", type=Path, default=None, metavar="CSV",
                       help="also write the messy shop export fixture to this path")
    return parser


def _cmd_run(args: argparse.Namespace) -> int:
    from lclib.report.runner import run

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    result = run(args.config, args.params, out=args.out, only=args.only, progress=progress)
    if result.exit_code:
        print(f"lclib run: {result.status}: {result.message}", file=sys.stderr)
        if result.folder:
            print(f"nothing was published; details kept in {result.folder}", file=sys.stderr)
    else:
        print(result.folder / "index.html")
    return result.exit_code


def _cmd_validate(args: argparse.Namespace) -> int:
    import pandas as pd

    from lclib.config import load_config
    from lclib.io.load import load_dataset

    cfg = load_config(args.config, args.params)
    data = load_dataset(cfg)
    with pd.option_context("display.width", 160, "display.max_colwidth", 60, "display.max_rows", 200):
        print("Ledger (rows read = rows kept + rows dropped):")
        print(data.ledger.to_frame().drop(columns="source").to_string(index=False))
        print()
        summary = data.ledger.summary()
        summary["share_dropped"] = summary["share_dropped"].map(lambda v: f"{v:.1%}")
        print(summary.to_string(index=False))
    print("\ndata OK")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from lclib.sample import DEFAULT_SEED, make_messy_shop_export, write_sample

    paths = write_sample(args.out, n_people=args.people, seed=DEFAULT_SEED if args.seed is None else args.seed)
    for name, path in paths.items():
        print(f"{name:<13} {path}")
    if args.messy:
        make_messy_shop_export(args.messy)
        print(f"{'messy':<13} {args.messy}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lclib`` console script."""
    from lclib.config import ConfigError
    from lclib.io.load import DataError

    args = build_parser().parse_args(argv)
    commands = {"run": _cmd_run, "validate": _cmd_validate, "sample": _cmd_sample}
    try:
        return commands[args.command](args)
    except (ConfigError, DataError) as e:
        print(f"lclib {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
