"""The simulated world written as canonical CSV files plus ground_truth.json."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from lclib.io.columns import DATE, SIGNUP_DATE
from lclib.sample.world import _DATE_FORMAT, _TS_FORMAT, DEFAULT_SEED, simulate


def _csv_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Copy of a table with dates formatted as text for writing."""
    out = df.copy()
    for col in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[col]):
            fmt = _DATE_FORMAT if col in (SIGNUP_DATE, DATE) else _TS_FORMAT
            out[col] = out[col].dt.strftime(fmt)
    return out


def write_sample(out_dir: str | Path, n_people: int = 5000, seed: int = DEFAULT_SEED) -> dict[str, Path]:
    """Simulate and write the sample data set.

    Parameters
    ----------
    out_dir : path
        Directory (created if needed) for ``<table>.csv`` and ``ground_truth.json``.
    n_people, seed : int
        Passed to :func:`simulate` (default window 2024-01-01..2025-12-31).

    Returns
    -------
    dict
        Path of each written file, keyed by table name and ``"ground_truth"``.
        Files are UTF-8 with ``\\n`` line ends, amounts with two decimals; the
        same seed gives byte-identical files.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = simulate(n_people=n_people, seed=seed)
    paths: dict[str, Path] = {}
    for name, df in data.tables().items():
        path = out / f"{name}.csv"
        _csv_frame(df).to_csv(path, index=False, lineterminator="\n", float_format="%.2f")
        paths[name] = path
    path = out / "ground_truth.json"
    path.write_text(json.dumps(data.truth, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    paths["ground_truth"] = path
    return paths
