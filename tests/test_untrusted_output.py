"""Untrusted input in the published output (issue 16).

Names from the data or the configuration (ids, channels, products, campaigns, experiments,
file names, the currency label) never become markup in an HTML page nor a formula in an
exported CSV, and with ``privacy.pseudonymise`` no raw id and no key is ever published.

The two whole-suite runs use a small hostile copy of the sample data (each about as long as
the sample run: some 30-40 s on an idle 2-core machine).
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import make_notebook

from lclib.report.cli import main
from lclib.report.runner import run

KEY = "pseudonym-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0"
CURRENCY = "<script>alert('currency')</script>"
# every customer / anonymous id keeps a token that survives any escaping, so a grep finds it
CUSTOMER_TOKEN, ANON_TOKEN = "zqcust", "zqanon"
HOSTILE = (
    '<script>alert("{t}")</script>',
    '<img src=x onerror=alert("{t}")>',
    '=HYPERLINK("http://evil.example/{t}","click")',
    "+{t}",
    "-{t}",
    "@{t}",
    "[{t}](javascript:alert(1))",
    '"><svg onload=alert(1)>{t}',
    '<b title=zqinj>{t}</b>',
    '{t}<a href="javascript:alert(1)">x</a>',
    "{t} **bold** http://evil.example/{t}",
)
FILE_NAME = "orders<b title=zqinj>x.csv"  # no "/": a file name
ID_COLUMNS = ("customer_id", "anonymous_id", "referrer_id", "referred_id")


def hostile(value: str, i: int) -> str:
    return HOSTILE[i % len(HOSTILE)].format(t=value)


def _hostile_ids(values: pd.Series) -> pd.Series:
    """C000123 -> a hostile customer id with token zqcust000123; P... -> zqanon... (NaN kept)."""
    def one(v):
        if not isinstance(v, str):
            return v
        token = (CUSTOMER_TOKEN if v.startswith("C") else ANON_TOKEN) + v[1:]
        return hostile(token, int(v[1:]))
    return values.map(one)


def write_hostile_sample(folder: Path, n_people: int = 500) -> tuple[Path, dict]:
    """A small sample with hostile ids and names, and its configuration; returns (config, raw ids)."""
    from lclib.sample import write_sample

    clean = folder / "clean"
    write_sample(clean, n_people=n_people, seed=11)
    data = folder / "data"
    data.mkdir()
    channels = {c: hostile(f"chan_{c}", i) for i, c in enumerate(
        ("paid_search", "paid_social", "organic_social", "email", "app_push", "referral", "direct"))}
    ids: set[str] = set()
    files = {}
    for table in ("transactions", "events", "customers", "spend", "referrals", "surveys", "experiments"):
        df = pd.read_csv(clean / f"{table}.csv", dtype=str, keep_default_na=False, na_values=[""])
        for col in ID_COLUMNS:
            if col in df:
                df[col] = _hostile_ids(df[col])
                ids |= set(df[col].dropna())
        for col in ("channel", "acquisition_channel"):
            if col in df:
                df[col] = df[col].map(lambda c: channels.get(c, c))
        if "product" in df:
            df["product"] = df["product"].map(lambda p: f"=SUM({p})<b title=zqinj>{p}</b>")
        if "campaign" in df:
            df["campaign"] = df["campaign"].map(lambda c: c if pd.isna(c) else f"<img src=x onerror=alert(1)>{c}")
        if "experiment" in df:
            df["experiment"] = "<script>alert('exp')</script>" + df["experiment"]
            df["variant"] = df["variant"].where(df["variant"] == "control", '@variant"><b title=zqinj>treated</b>')
        name = FILE_NAME if table == "transactions" else f"{table}.csv"
        df.to_csv(data / name, index=False)
        files[table] = name
    defaults = yaml.safe_load((Path(__file__).parents[1] / "lclib.yaml").read_text())
    inputs = defaults["inputs"]
    for table, spec in inputs.items():
        spec["path"] = f"data/{files[table]}"
    stages = defaults["journey"]["stages"]
    stages[0]["label"] = '<i onmouseover="alert(1)">Reach</i>'
    cfg = {"inputs": inputs, "analysis": {"currency": CURRENCY}, "journey": {"stages": stages},
           "report": {"out": "reports", "workers": 2}}
    path = folder / "lclib.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    return path, {"ids": sorted(ids), "channels": sorted(channels.values())}


class Elements(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script>."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"
        if self._in_script:
            self.scripts.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts[-1] += data
        else:
            self.text.append(data)


def markup_from_data(page: str) -> list[str]:
    """What in ``page`` is markup that came from the hostile data (empty when safe).

    Every element the hostile strings could make carries a mark: an ``on...`` handler,
    ``src=x``, a ``javascript:`` or evil.example link, ``title=zqinj``, or a script
    calling ``alert(``.
    """
    parser = Elements()
    parser.feed(page)
    found = []
    for tag, attrs in parser.tags:
        found += [f"<{tag} {name}=...>" for name in attrs if name.lower().startswith("on")]
        if tag == "img" and attrs.get("src") == "x":
            found.append("<img src=x>")
        if any("zqinj" in (v or "") for v in attrs.values()):
            found.append(f"<{tag} title=zqinj>")
        href = (attrs.get("href") or "").strip().lower()
        if href.startswith("javascript:") or "evil.example" in href:
            found.append(f"<{tag} href={href}>")
    found += [f"<script>{s[:40]}" for s in parser.scripts if "alert(" in s]
    return found


def page_text(page: str) -> str:
    parser = Elements()
    parser.feed(page)
    return "".join(parser.text)


@pytest.fixture(scope="module")
def hostile_world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    config, raw = write_hostile_sample(folder)
    return folder, config, raw


@pytest.fixture(scope="module")
def plain_run(hostile_world):
    folder, config, raw = hostile_world
    result = run(config, out=folder / "plain")
    assert result.exit_code == 0, result.message
    return result.folder, raw


@pytest.fixture(scope="module")
def pseudonymised_run(hostile_world):
    folder, config, raw = hostile_world
    (folder / "key.txt").write_text(KEY + "\n", encoding="utf-8")
    result = run(config, out=folder / "pseudo",
                 overrides=["privacy.pseudonymise=true", "privacy.key_file=key.txt"])
    assert result.exit_code == 0, result.message
    return result.folder, raw


# ----------------------------------------------------------------------------- whole runs

def test_no_published_page_has_markup_from_the_data(plain_run):
    folder, raw = plain_run
    pages = sorted(folder.glob("*.html"))
    assert {p.name for p in pages} >= {"index.html", "01_journey.html", "05_clv.html"}
    unsafe = {}
    for page in pages:
        found = markup_from_data(page.read_text(encoding="utf-8"))
        if found:
            unsafe[page.name] = found[:5]
    assert not unsafe, unsafe
    # not vacuous: the hostile names reached the pages, as text
    journey = page_text((folder / "01_journey.html").read_text(encoding="utf-8"))
    assert any(c in journey for c in raw["channels"])
    assert '<i onmouseover="alert(1)">Reach</i>' in journey  # a stage label from the configuration
    index = page_text((folder / "index.html").read_text(encoding="utf-8"))
    assert FILE_NAME in index and CURRENCY in index
    assert "shown as in the input data" in index


def test_no_exported_cell_is_a_formula(plain_run):
    folder, _ = plain_run
    exports = sorted((folder / "exports").glob("*.csv"))
    assert len(exports) >= 5
    seen_prefixed = False
    for path in exports:
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.reader(f):
                for cell in row:
                    if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                        try:
                            float(cell)  # a number: no formula
                        except ValueError:
                            pytest.fail(f"{path.name}: cell {cell!r} would be a formula in a spreadsheet")
                    seen_prefixed |= cell.startswith(("'=", "'+", "'-", "'@"))
    assert seen_prefixed  # the hostile ids and names were exported, neutralised


def test_pseudonymised_run_publishes_no_raw_id_and_no_key(pseudonymised_run):
    folder, raw = pseudonymised_run
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert any(p.parent.name == "exports" for p in files) and any(p.parent.name == "notebooks" for p in files)
    # every raw id holds one of the two tokens (in any escaping), so looking for the tokens finds them all
    assert len(raw["ids"]) > 500 and all(CUSTOMER_TOKEN in i or ANON_TOKEN in i for i in raw["ids"])
    tokens = [CUSTOMER_TOKEN.encode(), ANON_TOKEN.encode(), KEY.encode()]
    for path in files:
        content = path.read_bytes()
        leaked = [t.decode() for t in tokens if t in content]
        assert not leaked, f"{path.relative_to(folder)} holds {leaked}"
    rec = json.loads((folder / "run.json").read_text())
    assert rec["config"]["privacy"]["pseudonymise"] is True
    assert "pseudonymised" in rec["privacy"] and "pseudonymised" in (folder / "index.html").read_text()
    # the exports carry pseudonyms: 16 hex characters
    states = pd.read_csv(folder / "exports" / "customer_states.csv", dtype=str)
    for col in ("person", "customer_id"):
        assert states[col].dropna().str.fullmatch("[0-9a-f]{16}").all(), col
    assert states["customer_id"].notna().any()


# ----------------------------------------------------------------------------- the runner and the key


def test_notebooks_get_neither_the_key_nor_raw_ids(tiny_config, tmp_path):
    nbdir = tmp_path / "nbs"
    make_notebook(nbdir / "00_look.ipynb",
                  "from pathlib import Path\nfrom lclib.report.notebook import open_run\n"
                  "from lclib.report.record import record\n"
                  "text = Path(CONFIG).read_text() + ''.join(p.read_bytes().decode('latin-1') "
                  "for p in Path(DATA_DIR).iterdir())\n"
                  "cfg, data = open_run(CONFIG, DATA_DIR)\n"
                  "record('key_seen', int('s3cret' + '-value' in text or 'file-key' + '-value' in text))\n"
                  "record('raw_id_seen', int('17850' in text or '12346' in text))\n"
                  "record('customers', data.transactions.customer_id.nunique())\n"
                  "record('pseudonym_length', int(data.transactions.customer_id.str.len().max()))")
    (tmp_path / "key.txt").write_text("file-key-value\n")
    for overrides in (["privacy.pseudonymise=true", "privacy.key_file=key.txt"],
                      ["rfm={pseudonymise_key: s3cret-value}"],  # the deprecated alias, set through its section
                      ["rfm.pseudonymise_key=s3cret-value"]):
        with pytest.warns(FutureWarning) if "rfm" in overrides[0] else contextlib.nullcontext():
            result = run(tiny_config, overrides=overrides, notebook_dir=nbdir)
        assert result.exit_code == 0, result.message
        rec = json.loads((result.folder / "run.json").read_text())
        assert rec["metrics"]["00_look"] == {"key_seen": 0, "raw_id_seen": 0, "customers": 2, "pseudonym_length": 16}
        for f in result.folder.rglob("*"):
            if f.is_file():
                assert b"s3cret-value" not in f.read_bytes() and b"file-key-value" not in f.read_bytes(), f.name
        assert "s3cret-value" not in json.dumps(rec["overrides"])


def test_a_missing_key_is_a_configuration_error_naming_the_setting(tiny_config, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("LCLIB_PSEUDONYM_KEY", raising=False)
    result = run(tiny_config, overrides=["privacy.pseudonymise=true"], notebook_dir=tmp_path)
    assert result.exit_code == 2 and "privacy.key_env" in result.message and "LCLIB_PSEUDONYM_KEY" in result.message
    assert not (tmp_path / "reports").exists() or not list((tmp_path / "reports").glob("*"))
    result = run(tiny_config, overrides=["privacy.pseudonymise=true", "privacy.key_file=nokey.txt"],
                 notebook_dir=tmp_path)
    assert result.exit_code == 2 and "privacy.key_file" in result.message
    assert main(["validate", "--config", str(tiny_config), "-p", "privacy.pseudonymise=true"]) == 2
    assert "privacy.key_env" in capsys.readouterr().err
    monkeypatch.setenv("LCLIB_PSEUDONYM_KEY", KEY)
    assert main(["validate", "--config", str(tiny_config), "-p", "privacy.pseudonymise=true"]) == 0
    out = capsys.readouterr()
    assert "pseudonymised" in out.out and KEY not in out.out + out.err
    # a key written where the variable's name belongs is refused without being echoed
    assert main(["validate", "--config", str(tiny_config), "-p", "privacy.key_env=my secret key!"]) == 2
    assert "my secret key!" not in capsys.readouterr().err


def test_a_notebook_run_on_its_own_pseudonymises_with_the_key_of_its_kernel(tiny_config, monkeypatch):
    from lclib.io.privacy import pseudonymise
    from lclib.report.notebook import open_run

    monkeypatch.setenv("LCLIB_PSEUDONYM_KEY", KEY)
    path = tiny_config.with_name("private.yaml")
    data = yaml.safe_load(tiny_config.read_text())
    data["privacy"] = {"pseudonymise": True}
    path.write_text(yaml.safe_dump(data))
    with pd.option_context("display.float_format", None):  # open_run sets report display options
        _, loaded = open_run(path, None)
    assert sorted(loaded.transactions["customer_id"].unique()) == sorted(
        pseudonymise(pd.Series(["17850", "12346"]), KEY))


def test_validate_prints_no_id(hostile_world, capsys):
    _, config, _ = hostile_world
    assert main(["validate", "--config", str(config)]) == 0
    out = capsys.readouterr()
    assert CUSTOMER_TOKEN not in out.out + out.err and ANON_TOKEN not in out.out + out.err


# ----------------------------------------------------------------------------- helpers


def test_pseudonymise_tables_replaces_every_id_column_consistently():
    from lclib.io.privacy import pseudonymise, pseudonymise_tables

    tables = {
        "transactions": pd.DataFrame({"customer_id": pd.array(["a", "b"], dtype="string"),
                                      "order_id": ["a@1", "b@2"], "amount": [1.0, 2.0]}),
        "events": pd.DataFrame({"anonymous_id": ["p1", None], "customer_id": [None, "a"], "channel": ["x", "y"]}),
        "referrals": pd.DataFrame({"referrer_id": ["a"], "referred_id": ["p1"]}),
    }
    out = pseudonymise_tables(tables, "k", derived_order_ids=True)
    assert out["transactions"]["customer_id"].tolist() == pseudonymise(pd.Series(["a", "b"]), "k").tolist()
    assert out["transactions"]["customer_id"].dtype == tables["transactions"]["customer_id"].dtype
    assert out["events"]["customer_id"].iloc[1] == out["transactions"]["customer_id"].iloc[0]  # joins still line up
    assert out["referrals"]["referred_id"].iloc[0] == out["events"]["anonymous_id"].iloc[0]
    assert pd.isna(out["events"]["customer_id"].iloc[0]) and pd.isna(out["events"]["anonymous_id"].iloc[1])
    assert not out["transactions"]["order_id"].str.contains("@").any()  # derived from the raw id: replaced
    assert out["events"]["channel"].tolist() == ["x", "y"] and tables["events"]["customer_id"].iloc[1] == "a"
    kept = pseudonymise_tables(tables, "k")
    assert kept["transactions"]["order_id"].tolist() == ["a@1", "b@2"]


def test_pseudonym_key_sources(tmp_path):
    from lclib.config import ConfigError, load_config
    from lclib.io.privacy import pseudonym_key

    (tmp_path / "lclib.yaml").write_text("inputs: {transactions: {path: tx.csv}}\n")
    (tmp_path / "k.txt").write_text("  from-file \n")
    cfg = load_config(tmp_path / "lclib.yaml")
    assert pseudonym_key(cfg, {"LCLIB_PSEUDONYM_KEY": "x"}) is None  # off by default
    on = load_config(tmp_path / "lclib.yaml", ["privacy.pseudonymise=true"])
    assert pseudonym_key(on, {"LCLIB_PSEUDONYM_KEY": "from-env"}) == "from-env"
    other = load_config(tmp_path / "lclib.yaml", ["privacy.pseudonymise=true", "privacy.key_env=MY_KEY"])
    assert pseudonym_key(other, {"MY_KEY": "mine"}) == "mine"
    with pytest.raises(ConfigError, match="MY_KEY.*privacy.key_env"):
        pseudonym_key(other, {"LCLIB_PSEUDONYM_KEY": "not this one"})
    from_file = load_config(tmp_path / "lclib.yaml", ["privacy.pseudonymise=true", "privacy.key_file=k.txt"])
    assert pseudonym_key(from_file, {}) == "from-file"
    assert str(tmp_path / "k.txt") in from_file.to_yaml()  # made absolute in the copies
    (tmp_path / "k.txt").write_text("\n")
    with pytest.raises(ConfigError, match="privacy.key_file.*empty"):
        pseudonym_key(from_file, {})
    legacy = load_config(tmp_path / "lclib.yaml", ["rfm.pseudonymise_key=env:OLD_KEY"])
    assert legacy.privacy.pseudonymise is True
    with pytest.warns(FutureWarning, match="deprecated"):
        assert pseudonym_key(legacy, {"OLD_KEY": "old"}) == "old"


def test_secret_overrides_are_masked_however_they_are_written():
    from lclib.config import redact_overrides

    assert redact_overrides(["rfm.pseudonymise_key=k1", "rfm={pseudonymise_key: k2, bins: 5}",
                             "rfm.pseudonymise_key=env:K", "privacy.pseudonymise=true", "rfm={bins: 4}",
                             "analysis.currency=<b>"]) == [
        "rfm.pseudonymise_key=***", "rfm=***", "rfm.pseudonymise_key=env:K", "privacy.pseudonymise=true",
        "rfm={bins: 4}", "analysis.currency=<b>"]


def test_say_escapes_markup_links_and_images():
    from lclib.report.notebook import escape_markdown

    text = escape_markdown('**<img src=x onerror=alert(1)>** [a](javascript:x) ![i](x) R&D http://e.com www.e.com')
    assert "<" not in text and ">" not in text and "[" not in text and "](" not in text
    assert "**" in text and "R&amp;D" in text and "http://" not in text and "www." not in text
    from nbconvert.filters.markdown_mistune import markdown2html_mistune

    rendered = markdown2html_mistune(text)
    assert "<strong>&lt;img src=x onerror=alert(1)&gt;</strong>" in rendered  # shown as text, still bold
    assert "<a " not in rendered and "<img" not in rendered
    assert page_text(rendered).startswith("<img src=x onerror=alert(1)> [a](javascript:x) ![i](x) R&D")


def test_say_displays_escaped_markdown(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj: shown.append(obj))
    from lclib.report.notebook import say

    say("The channel **<script>alert(1)</script>** grew.")
    assert shown[0].data == "The channel **&lt;script&gt;alert(1)&lt;/script&gt;** grew."


def test_table_escapes_values_headers_and_caption():
    from lclib.report.notebook import table

    df = pd.DataFrame({"Channel": ["<img src=x onerror=alert(1)>", "email"], "Paths": [["<b>a</b>", "b"], None],
                       "<i>Revenue</i>": [1234.5, np.nan], "Note": pd.Categorical(["<svg onload=alert(2)>", "x"])},
                      index=pd.Index(["<u>1</u>", "2"], name="<s>Id</s>"))
    page = table(df, {"<i>Revenue</i>": "{:,.0f}"}, caption="<script>alert(3)</script>").to_html()
    assert not markup_from_data(page)
    assert not re.search(r"<(u|s|i|img|svg|script)\b", page.split("</style>")[-1])
    text = page_text(page)
    for shown in ("<img src=x onerror=alert(1)>", "<i>Revenue</i>", "<s>Id</s>", "<u>1</u>", "1,234",
                  "<svg onload=alert(2)>", "<script>alert(3)</script>", "['<b>a</b>', 'b']"):
        assert shown in text, shown


def test_headline_table_escapes_labels_and_text_values():
    from lclib.report.record import headline_table

    page = headline_table([{"name": "top", "value": "<img src=x onerror=alert(1)>", "label": "<b>Top</b>",
                            "unit": ""},
                           {"name": "rev", "value": 12.5, "label": "Revenue", "unit": "<script>"}]).to_html()
    assert not markup_from_data(page) and "<script>" not in page.split("</style>")[-1]
    assert "<img src=x onerror=alert(1)>" in page_text(page) and "12.5 <script>" in page_text(page)


def test_index_escapes_everything(tmp_path):
    from lclib.report.runner import render_index

    bad = "<img src=x onerror=alert(1)>"
    record = {"run_id": bad, "status": "ok", "started": "x", "seconds": 1.0, "lclib_version": "1",
              "config_file": bad, "overrides": [f"analysis.currency={bad}"], "config": {"analysis": {"currency": bad}},
              "privacy": bad, "inputs": [{"table": "transactions", "path": f"/d/{bad}.csv", "sha256": "0" * 64,
                                          "rows_in": 1, "rows_kept": 1, "date_min": None, "date_max": None}],
              "notebooks": [{"name": "00_x", "title": bad, "status": "ok", "seconds": 1.0, "html": "00_x.html",
                             "analyst_html": "00_x.analyst.html"}],
              "headlines": {"00_x": [{"name": "a", "value": bad, "label": bad, "unit": bad}]},
              "versions": {"x": bad}, "platform": bad}
    ledger = pd.DataFrame([{"table": "transactions", "reason": "rows_in", "description": bad, "rows": 1,
                            "example_lines": bad}])
    page = render_index(record, ledger)
    assert not markup_from_data(page)
    assert page_text(page).count(bad) >= 8


def test_neutralise_formulas_prefixes_text_and_keeps_numbers():
    from lclib.report.notebook import neutralise_formulas

    df = pd.DataFrame({"customer_id": pd.array(["=1+1", "-12", "@SUM(A1)", "C1", None, "\tx", "\rx", "+3.5e2"],
                                               dtype="string"),
                       "net": [-1.5, 2, -3, 4, 5, 6, 7, 8],
                       "mixed": ["-cmd", 1, -2.5, None, "ok", "+x", 3, "-5"],
                       "segment": pd.Categorical(["=A", "B", "=A", "B", "B", "B", "B", "B"]),
                       "=header": 1})
    out = neutralise_formulas(df)
    assert out["customer_id"].tolist()[:4] == ["'=1+1", "-12", "'@SUM(A1)", "C1"]
    assert pd.isna(out["customer_id"].iloc[4]) and out["customer_id"].tolist()[5:] == ["'\tx", "'\rx", "+3.5e2"]
    assert out["customer_id"].dtype == df["customer_id"].dtype
    assert out["net"].tolist() == df["net"].tolist() and out["net"].dtype == "float64"
    assert out["mixed"].tolist()[:3] == ["'-cmd", 1, -2.5] and out["mixed"].iloc[5] == "'+x" and out["mixed"].iloc[7] == "-5"
    assert out["segment"].tolist()[:2] == ["'=A", "B"] and list(out.columns)[-1] == "'=header"
    assert df["customer_id"].iloc[0] == "=1+1" and list(df.columns)[-1] == "=header"  # input unchanged
    same = pd.DataFrame({"a": ["x", "y"], "b": [-1, 2]})
    assert neutralise_formulas(same) is same  # nothing to do: no copy


def test_export_writes_neutralised_text_and_plain_numbers(tmp_path):
    from lclib.report.notebook import export

    df = pd.DataFrame({"channel": ["=HYPERLINK(\"http://x\")", "email", "-", "@me"], "change": [-3, 4, -0.5, 0]},
                      index=pd.Index(["+1", "-2", "=3", "c"], name="customer_id"))
    path = export(df, "t", tmp_path)
    rows = list(csv.reader(path.open(newline="")))
    assert rows[0] == ["customer_id", "channel", "change"]
    assert rows[1][:2] == ["+1", "'=HYPERLINK(\"http://x\")"] and float(rows[1][2]) == -3
    assert [r[0] for r in rows[1:]] == ["+1", "-2", "'=3", "c"]  # ids stay text; plain numbers are no formula
    assert [r[1] for r in rows[1:]][2:] == ["'-", "'@me"]
    back = pd.read_csv(path, dtype={"customer_id": str})
    assert back["change"].tolist() == [-3, 4, -0.5, 0]


@pytest.mark.parametrize("dtype", ["string[python]", "string[pyarrow]", "str", "object"])
def test_formula_cells_are_found_alike_in_every_text_storage(dtype):
    """Arrow-backed text is matched without a Python string per cell (8M ids at 100M lines); same answer."""
    from lclib.report.notebook import _formula_cells

    values = ["=1+1", "-12", "@SUM(A1)", "C1", None, "\tx", "\rx", "+3.5e2", "-cmd"]
    got = _formula_cells(pd.Series(values, dtype=dtype))
    assert got.tolist() == [True, False, True, False, False, True, True, False, True]
