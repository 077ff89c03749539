"""Notebooks that read another report's exports start after it (notebook metadata ``lclib.after``)."""

from __future__ import annotations

import nbformat
from conftest import make_notebook

from lclib.report.runner import notebook_after, run

SLOW_WRITER = """
import time, pathlib
time.sleep(4)
pathlib.Path(OUTPUT_DIR, "scores.txt").write_text("written")
"""

READER = """
import pathlib
assert pathlib.Path(OUTPUT_DIR, "scores.txt").read_text() == "written", "started before its input was written"
"""


def _after(path, names):
    nb = nbformat.read(str(path), as_version=4)
    nb.metadata["lclib"] = {"after": names}
    nbformat.write(nb, str(path))


def test_a_notebook_waits_for_the_notebooks_it_reads_even_with_free_workers(tiny_config, tmp_path):
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_writer.ipynb", SLOW_WRITER)
    _after(make_notebook(nbdir / "01_reader.ipynb", READER), ["00_writer"])
    assert notebook_after(nbdir / "01_reader.ipynb") == ["00_writer"]
    assert notebook_after(nbdir / "00_writer.ipynb") == []
    result = run(tiny_config, overrides=["report.workers=2"], notebook_dir=nbdir)
    assert result.exit_code == 0, result.message
    assert [r.status for r in result.notebooks] == ["ok", "ok"]


def test_the_customer_view_report_runs_after_churn_and_clv():
    from lclib.report.runner import NOTEBOOK_DIR

    assert notebook_after(NOTEBOOK_DIR / "07_customer_scores.ipynb") == ["04_churn", "05_clv"]


def test_a_folders_first_run_orders_the_report_notebooks_by_their_typical_times():
    """Without an earlier run, 04 and 05 (07 waits for both) first, then 03, the longest left; the two
    workers' shares of the typical times then differ by less than the shortest notebook."""
    from lclib.report.runner import NOTEBOOK_DIR, _start_order, discover_notebooks, notebook_typical_seconds

    paths = discover_notebooks(NOTEBOOK_DIR)
    names = [p.stem for p in paths]
    typical = {p.stem: notebook_typical_seconds(p) for p in paths}
    assert all(v is not None and v > 0 for v in typical.values())
    waits = {i: {names.index(d) for d in notebook_after(p)} for i, p in enumerate(paths)}
    priority = _start_order(names, waits, typical)
    order = sorted(range(len(names)), key=lambda i: (-priority[i], i))
    assert [names[i] for i in order[:3]] == ["04_churn", "05_clv", "03_rfm"]
    free, done, shares = [0.0, 0.0], {}, [0.0, 0.0]  # the run's rule: a free worker takes the first ready one
    todo = list(order)
    while todo:
        w = min(range(2), key=lambda k: free[k])
        i = next(i for i in todo if all(done.get(d, float("inf")) <= free[w] for d in waits[i]))
        todo.remove(i)
        free[w] += typical[names[i]]
        shares[w] += typical[names[i]]
        done[i] = free[w]
    assert abs(shares[0] - shares[1]) < min(typical.values())
    assert _start_order(["x"], {0: set()}, {"x": None}) == {0: 1.0}  # no time known: 1


def test_a_dependency_left_out_of_the_run_does_not_block(tiny_config, tmp_path):
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_other.ipynb", "x = 1")
    _after(make_notebook(nbdir / "01_reader.ipynb", "y = 2"), ["05_not_in_this_run"])
    result = run(tiny_config, overrides=["report.workers=2"], notebook_dir=nbdir)
    assert result.exit_code == 0, result.message


def test_the_longest_work_starts_first_and_a_notebook_others_wait_for_before_its_peers():
    from lclib.report.runner import _start_order

    names = ["00_data_overview", "01_journey", "02_stages", "03_rfm", "04_churn", "05_clv", "06_experiments",
             "07_customer_scores"]
    waits = {i: set() for i in range(8)} | {7: {4, 5}}
    unknown = _start_order(names, waits, None)  # no previous run: the ones 07 waits for first, then in order
    assert sorted(range(8), key=lambda i: (-unknown[i], i)) == [4, 5, 0, 1, 2, 3, 6, 7]
    seconds = {"00_data_overview": 13.4, "01_journey": 16.8, "02_stages": 17.9, "03_rfm": 34.3, "04_churn": 59.6,
               "05_clv": 28.8, "06_experiments": 7.8, "07_customer_scores": 23.3}  # the 10M benchmark's
    known = _start_order(names, waits, seconds)
    assert known[4] == 59.6 + 23.3 and known[5] == 28.8 + 23.3 and known[3] == 34.3
    assert sorted(range(8), key=lambda i: (-known[i], i)) == [4, 5, 3, 7, 2, 1, 0, 6]
