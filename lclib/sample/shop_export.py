"""A small UCI 'Online Retail'-like invoice export with a known number of planted defects, for testing the loader's cleaning rules."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from lclib.sample.draws import choice, rank_by

_SHOP_COLUMNS = (
    "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country",
)


_SHOP_CATALOGUE = (  # (description, price in pence)
    ("WHITE HANGING HEART T-LIGHT HOLDER", 255), ("CRÈME BRÛLÉE RAMEKIN SET", 495),
    ("CAFÉ AU LAIT BOWL", 165), ("MÜSLI STORAGE JAR", 375), ("SMÖRGÅSBORD SERVING BOARD", 850),
    ("PIÑA COLADA GLASS SET", 1250), ("JARDIN D'ÉTÉ NOTEBOOK", 85), ("£1 BIRTHDAY CARD", 42),
    ("CHÂTEAU CANDLE HOLDER", 295), ("NAÏVE ART TEA TOWEL", 125), ("SET OF 3 CAKE TINS, PANTRY DESIGN", 495),
    ("REGENCY CAKESTAND 3 TIER", 1275), ("JUMBO BAG RED RETROSPOT", 195), ("PARTY BUNTING", 465),
    ("LUNCH BAG BLACK SKULL", 165), ("ASSORTED COLOUR BIRD ORNAMENT", 169), ("PACK OF 72 RETROSPOT CAKE CASES", 55),
    ("GARÇON DE CAFÉ APRON", 395), ("DÉCOUPAGE PHOTO FRAME", 210), ("FAÇADE WALL CLOCK", 850),
    ("NOËL WOODEN STAR", 85), ("ZÜRICH ALPINE MUG", 125), ("SÃO PAULO COASTERS", 250), ("ÎLE DE RÉ BEACH TOTE", 325),
    ("HOT WATER BOTTLE KEEP CALM", 495), ("VINTAGE SNAP CARDS", 85), ("ROSES REGENCY TEACUP", 295),
    ("GLASS STAR FROSTED T-LIGHT", 210), ("SPACEBOY LUNCH BOX", 195), ("ÆSOP FABLES STORYBOOK", 425),
)


_SHOP_NON_PRODUCT = (("POST", "POSTAGE", 1800), ("M", "Manual", 250), ("BANK CHARGES", "Bank Charges", 1500))


_SHOP_COUNTRIES = (
    ("United Kingdom", 0.80), ("France", 0.05), ("Germany", 0.05), ("EIRE", 0.03),
    ("España", 0.03), ("Österreich", 0.02), ("Belgium", 0.02),
)


_SHOP_BAD_DATES = ("31/02/2011 10:61", "00/00/0000 00:00", "#VALUE!")


_SHOP_DATE_FORMAT = "%d/%m/%Y %H:%M"


_SHOP_CLEANING_ORDER = (
    "missing_customer_id", "exact_duplicate", "unparsable_date", "cancellation", "non_product_code",
    "non_positive_price",
)


def make_messy_shop_export(path: str | Path, n_customers: int = 300, seed: int = 7) -> dict:
    """Write a UCI "Online Retail"-like invoice-line export with planted defects.

    The CSV (Latin-1, ``\\r\\n`` line ends) has the columns ``InvoiceNo,
    StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID,
    Country``; dates are day-first ``dd/mm/YYYY HH:MM`` (2010-12-01 to
    2011-12-09, business hours), customer ids look like floats (``17850.0``)
    and descriptions and countries contain Latin-1 characters (é, ü, £, ñ...).

    Every customer has 1 + Poisson(2.5) invoices of 1-8 distinct products.
    Then a known number of defective rows is planted, each with exactly one
    defect: lines of guest invoices without CustomerID; extra exact copies of
    clean lines (next to the original); lines with a garbage date string;
    cancellation invoices (``C`` + number, negative Quantity); non-product
    lines (``POST``, ``M``, ``BANK CHARGES``) on clean invoices; zero-price
    product lines on clean invoices. Because the defects are disjoint, the
    clean result does not depend on the order of the cleaning rules; the
    truth nevertheless states the assumed order.

    Parameters
    ----------
    path : path
        CSV to write; the truth goes to ``<stem>.truth.json`` next to it.
    n_customers : int
        Number of customers (all of them keep at least one clean line).
    seed : int
        Random seed; the same seed gives byte-identical files.

    Returns
    -------
    dict
        The truth: ``rows_total``, ``defects`` (rows per defect type,
        duplicates counted as extra copies), ``cleaning_order``, ``clean``
        (``rows``, ``customers``, ``invoices``, ``revenue`` = sum of
        Quantity * UnitPrice, ``orders_per_customer`` keyed by the integer
        CustomerID as text) and format notes.
    """
    if n_customers < 10:
        raise ValueError("n_customers must be at least 10")
    rng = np.random.default_rng(seed)
    path = Path(path)
    n_prod = len(_SHOP_CATALOGUE)
    codes = np.array([f"{c}{s}" for c, s in zip(
        rng.choice(np.arange(20000, 90000), n_prod, replace=False), rng.choice(["", "", "A", "B", "C"], n_prod)
    )], dtype=object)
    desc = np.array([d for d, _ in _SHOP_CATALOGUE], dtype=object)
    price = np.array([p for _, p in _SHOP_CATALOGUE], dtype=np.int64)
    cust_ids = np.sort(rng.choice(np.arange(12346, 18288), n_customers, replace=False))
    c_country = np.array([c for c, _ in _SHOP_COUNTRIES], dtype=object)[
        choice(rng, n_customers, np.array([w for _, w in _SHOP_COUNTRIES]))
    ]
    t_lo = pd.Timestamp("2010-12-01").value // 60_000_000_000  # minutes since epoch
    n_days = (pd.Timestamp("2011-12-09") - pd.Timestamp("2010-12-01")).days + 1

    def invoice_minutes(k: int) -> np.ndarray:
        return t_lo + rng.integers(0, n_days, k) * 1440 + rng.integers(8 * 60, 20 * 60, k)

    # Defect counts scale with the shop size.
    n_guest_inv = max(1, round(0.15 * n_customers))
    n_dup = max(1, round(0.2 * n_customers))
    n_bad_date = len(_SHOP_BAD_DATES)
    n_cancel_inv = max(1, round(0.15 * n_customers))
    n_nonprod = max(1, round(0.15 * n_customers))
    n_zero = max(1, round(0.08 * n_customers))

    # Regular invoices: the first k lines are clean, the next e carry a bad date or a zero price.
    n_inv_c = 1 + rng.poisson(2.5, n_customers)
    inv_cust = np.repeat(np.arange(n_customers), n_inv_c)
    n_inv = inv_cust.size
    inv_min = invoice_minutes(n_inv)
    k = 1 + rng.integers(0, 8, n_inv)
    extra_kind = np.concatenate([np.full(n_bad_date, 1), np.full(n_zero, 2)])  # 1 bad date, 2 zero price
    extra_inv = rng.choice(n_inv, extra_kind.size, replace=False)
    e = np.bincount(extra_inv, minlength=n_inv)
    slot_codes = np.argsort(rng.random((n_inv, n_prod)), axis=1)  # a random permutation per invoice
    n_lines = k + e
    line_inv = np.repeat(np.arange(n_inv), n_lines)
    line_pos = np.arange(line_inv.size) - np.repeat(np.cumsum(n_lines) - n_lines, n_lines)
    line_prod = slot_codes[line_inv, line_pos]
    line_kind = np.zeros(line_inv.size, dtype=np.int64)  # 0 clean
    extra_rows = np.flatnonzero(line_pos >= k[line_inv])
    kinds_by_inv = extra_kind[np.argsort(extra_inv, kind="stable")]  # e rows of invoice i, in invoice order
    line_kind[extra_rows] = kinds_by_inv
    qty_choices = np.array([1, 2, 3, 4, 6, 12, 24])
    regular = pd.DataFrame({
        "inv": line_inv, "minute": inv_min[line_inv], "cust": inv_cust[line_inv], "prod": line_prod,
        "qty": qty_choices[choice(rng, line_inv.size, np.array([0.3, 0.2, 0.1, 0.1, 0.1, 0.15, 0.05]))],
        "price": price[line_prod], "kind": line_kind, "cancel": False, "pos": line_pos,
    })
    regular.loc[regular["kind"] == 2, "price"] = 0

    # Non-product lines on distinct clean invoices.
    np_inv = rng.choice(n_inv, n_nonprod, replace=False)
    np_which = rng.integers(0, len(_SHOP_NON_PRODUCT), n_nonprod)
    nonprod = pd.DataFrame({
        "inv": np_inv, "minute": inv_min[np_inv], "cust": inv_cust[np_inv], "prod": -1 - np_which, "qty": 1,
        "price": np.array([p for *_, p in _SHOP_NON_PRODUCT])[np_which], "kind": 3, "cancel": False,
        "pos": n_lines[np_inv],
    })

    # Guest invoices (no CustomerID) and cancellation invoices, 1-4 distinct products each.
    def own_invoices(n: int, first_inv: int, cust: np.ndarray, kind: int, cancel: bool) -> pd.DataFrame:
        m = 1 + rng.integers(0, 4, n)
        inv = np.repeat(np.arange(n), m)
        pos = np.arange(inv.size) - np.repeat(np.cumsum(m) - m, m)
        prod = np.argsort(rng.random((n, n_prod)), axis=1)[inv, pos]
        qty = 1 + rng.integers(0, 6, inv.size)
        return pd.DataFrame({
            "inv": first_inv + inv, "minute": invoice_minutes(n)[inv], "cust": cust[inv], "prod": prod,
            "qty": -qty if cancel else qty, "price": price[prod], "kind": kind, "cancel": cancel, "pos": pos,
        })

    guests = own_invoices(n_guest_inv, n_inv, np.full(n_guest_inv, -1), 4, False)
    cancels = own_invoices(
        n_cancel_inv, n_inv + n_guest_inv, rng.choice(n_customers, n_cancel_inv), 5, True
    )
    rows = pd.concat([regular, nonprod, guests, cancels], ignore_index=True)

    # Invoice numbers in time order, from 536365 as in the UCI data set.
    inv_keys = rows.groupby("inv")["minute"].first()
    inv_no = pd.Series(536365 + rank_by(inv_keys.to_numpy(), inv_keys.index.to_numpy()), index=inv_keys.index)
    rows["invoice_no"] = inv_no.loc[rows["inv"]].to_numpy()

    # Exact duplicates of clean lines, written right after their original.
    clean_idx = np.flatnonzero(rows["kind"].to_numpy() == 0)
    dup_src = rng.choice(clean_idx, n_dup, replace=False)
    dups = rows.iloc[dup_src].assign(kind=6, dup=1)
    rows = pd.concat([rows.assign(dup=0), dups], ignore_index=True)
    rows = rows.sort_values(["minute", "invoice_no", "pos", "dup"], kind="stable", ignore_index=True)

    # Render the text columns.
    prod = rows["prod"].to_numpy()
    is_np = prod < 0
    np_codes = np.array([c for c, *_ in _SHOP_NON_PRODUCT], dtype=object)
    np_desc = np.array([d for _, d, _ in _SHOP_NON_PRODUCT], dtype=object)
    dates = pd.to_datetime(rows["minute"].to_numpy() * 60, unit="s").strftime(_SHOP_DATE_FORMAT).to_numpy(object)
    bad = np.flatnonzero(rows["kind"].to_numpy() == 1)
    dates[bad] = np.array(_SHOP_BAD_DATES, dtype=object)[np.arange(bad.size) % len(_SHOP_BAD_DATES)]
    cust = rows["cust"].to_numpy()
    out = pd.DataFrame({
        "InvoiceNo": np.where(rows["cancel"], "C", "") + rows["invoice_no"].astype(str),
        "StockCode": np.where(is_np, np_codes[np.maximum(-1 - prod, 0)], codes[np.maximum(prod, 0)]),
        "Description": np.where(is_np, np_desc[np.maximum(-1 - prod, 0)], desc[np.maximum(prod, 0)]),
        "Quantity": rows["qty"].astype(str),
        "InvoiceDate": dates,
        "UnitPrice": [f"{p / 100:.2f}" for p in rows["price"]],
        "CustomerID": np.where(cust >= 0, np.char.add(cust_ids[np.maximum(cust, 0)].astype(str), ".0"), ""),
        "Country": np.where(cust >= 0, c_country[np.maximum(cust, 0)], "United Kingdom"),
    })
    path.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(path, index=False, encoding="latin-1", lineterminator="\r\n")

    kind = rows["kind"].to_numpy()
    clean = rows[kind == 0]
    revenue_pence = int((clean["qty"] * clean["price"]).sum())
    per_cust = clean.groupby("cust")["invoice_no"].nunique()
    truth = {
        "seed": seed,
        "n_customers": n_customers,
        "file": path.name,
        "encoding": "latin-1",
        "line_terminator": "CRLF",
        "columns": list(_SHOP_COLUMNS),
        "date_format": _SHOP_DATE_FORMAT,
        "customer_id_format": "float-looking text, e.g. 17850.0; empty when missing",
        "rows_total": int(len(rows)),
        "defects": {
            "missing_customer_id": int((kind == 4).sum()),
            "exact_duplicate": int((kind == 6).sum()),
            "unparsable_date": int((kind == 1).sum()),
            "cancellation": int((kind == 5).sum()),
            "non_product_code": int((kind == 3).sum()),
            "non_positive_price": int((kind == 2).sum()),
        },
        "defects_disjoint": True,
        "exact_duplicate_rule": "extra copies of a clean row (the first occurrence is kept)",
        "unparsable_date_values": list(_SHOP_BAD_DATES),
        "non_product_codes": [c for c, *_ in _SHOP_NON_PRODUCT],
        "cleaning_order": list(_SHOP_CLEANING_ORDER),
        "clean": {
            "rows": int(len(clean)),
            "customers": int(clean["cust"].nunique()),
            "invoices": int(clean["invoice_no"].nunique()),
            "revenue": round(revenue_pence / 100, 2),
            "orders_per_customer": {str(int(cust_ids[c])): int(n) for c, n in per_cust.items()},
        },
    }
    truth_path = path.with_name(f"{path.stem}.truth.json")
    truth_path.write_text(json.dumps(truth, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    return truth
