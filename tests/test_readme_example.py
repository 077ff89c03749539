"""The README's Python example runs as written (a DataFrame with other column names and aware times)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Use it from Python on your own DataFrame", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_dataframe_example_runs_and_gives_the_hand_counted_numbers(capsys):
    scope: dict = {}
    exec(compile(_example(), "README.md", "exec"), scope)  # noqa: S102 - our own README
    scored, summary = scope["scored"], scope["summary"]
    assert list(scored.index) == ["A", "B", "C"]
    assert scored["frequency"].tolist() == [2, 1, 3]
    assert scored["monetary_total"].tolist() == [75.5, 12.0, 155.0]
    assert scored.loc["C", "recency_days"] == 8  # 2 April 08:00 Paris time -> 10 April: 8 days
    assert summary.loc["C", "frequency"] == 2  # two repeat purchase days after the first
    assert "segment" in capsys.readouterr().out
