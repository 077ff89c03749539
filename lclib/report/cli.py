"""The ``lclib`` command: ``run``, ``runs``, ``validate`` and ``sample``.

``lclib runs [--out DIR]`` lists the runs of a reports folder (default ``report.out`` of the
configuration, i.e. ``reports/``), published and failed, newest first: run id, status (``ok``,
``failed``, ``invalid``), start time, seconds and the headline numbers of each published run
(a failed run shows the first line of its error instead). Plain text; exit code 0 (an empty or
missing folder prints ``no runs in DIR``).

Exit codes: 0 success; 1 a notebook failed or ran out of time (nothing published);
2 the configuration or the input data are invalid (the message says where); 3 a file
or folder could not be read or written (disk full, read-only or missing folder,
unreadable input; the message names it); 130 stopped by Ctrl-C (SIGINT), 143 by
SIGTERM, 129 by SIGHUP (128 + the signal number): the notebook kernels are stopped
and nothing is published or left behind.
"""

from __future__ import annotations

import argparse
import signal
import sys
from contextlib import contextmanager
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

    p_runs = sub.add_parser("runs", help="list the past runs of a reports folder with their headline numbers")
    p_runs.add_argument("--config", "-c", type=Path, default=None,
                        help="configuration file whose report.out is the folder (default: lclib.yaml of the repository)")
    p_runs.add_argument("--out", "-o", type=Path, default=None,
                        help="reports root folder (default: report.out of the configuration)")

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


@contextmanager
def _stop_signals_raise():
    """SIGTERM and SIGHUP raise :class:`~lclib.report.runner.Interrupted` (as Ctrl-C raises
    KeyboardInterrupt), so that the runner can stop its workers and clean up."""
    from lclib.report.runner import Interrupted

    def stop(signum, frame):
        raise Interrupted(signum)

    saved = {}
    for s in (signal.SIGTERM, signal.SIGHUP):
        try:
            saved[s] = signal.signal(s, stop)
        except ValueError:  # not the main thread
            pass
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler if handler is not None else signal.SIG_DFL)


def _cmd_run(args: argparse.Namespace) -> int:
    from lclib.report.runner import run

    def progress(msg: str) -> None:
        if not args.quiet:
            print(msg, file=sys.stderr, flush=True)

    with _stop_signals_raise():
        result = run(args.config, args.params, out=args.out, only=args.only, progress=progress)
    if result.status == "storage":
        print(f"lclib run: file error: {result.message}; nothing was published", file=sys.stderr)
    elif result.exit_code:
        print(f"lclib run: {result.status}: {result.message}", file=sys.stderr)
        if result.folder:
            print(f"nothing was published; details kept in {result.folder}", file=sys.stderr)
    else:
        print(result.folder / "index.html")
    return result.exit_code


def _cmd_runs(args: argparse.Namespace) -> int:
    from lclib.report.history import runs_table

    if args.out is not None:
        out_root = args.out
    else:
        from lclib.config import load_config

        cfg = load_config(args.config)
        out_root = cfg.resolve(cfg.report.out)
    print(runs_table(out_root))
    return 0


def _cmd_validate(args: argparse.Namespace) -> int:
    import shutil
    import tempfile

    from lclib.config import load_config
    from lclib.io.dataset import load_dataset
    from lclib.io.privacy import pseudonym_key
    from lclib.report.runner import check_enough_data

    cfg = load_config(args.config, args.params)
    # a missing key is reported here as in `lclib run` (exit 2); the ledger holds no ids, so
    # nothing is pseudonymised for it and the key is not kept
    pseudonymised = pseudonym_key(cfg) is not None
    scratch = tempfile.mkdtemp(prefix="lclib-validate-")
    try:  # a large file cleaned in parts stays on disk: only the ledger is shown
        data = load_dataset(cfg, write_to=scratch)
        check_enough_data(cfg, data)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print("Rows read, dropped by each cleaning rule (README 'Cleaning rules and the ledger'), and kept:\n")
    print(data.ledger.text())
    if pseudonymised:
        print("\nids will be pseudonymised (privacy.pseudonymise): the key was found")
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
    import os

    from lclib.report.environment import missing_settings

    # before numpy and Arrow are imported: this process loads and splits the data too
    os.environ.update(missing_settings())
    from lclib.config import ConfigError
    from lclib.io.load import DataError
    from lclib.report.runner import Interrupted, storage_message

    args = build_parser().parse_args(argv)
    commands = {"run": _cmd_run, "runs": _cmd_runs, "validate": _cmd_validate, "sample": _cmd_sample}
    after = "; nothing was published" if args.command == "run" else ""
    try:
        return commands[args.command](args)
    except (ConfigError, DataError) as e:
        print(f"lclib {args.command}: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # e.g. an unreadable configuration or input file
        print(f"lclib {args.command}: file error: {storage_message(e)}{after}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print(f"lclib {args.command}: stopped by Ctrl-C (SIGINT){after}", file=sys.stderr)
        return 128 + signal.SIGINT
    except Interrupted as e:
        print(f"lclib {args.command}: {e}{after}", file=sys.stderr)
        return 128 + e.signum


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
