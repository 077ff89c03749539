"""Every figure function follows one calling convention: data first, ``ax`` keyword-only and last."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import lclib.plots

FUNCTIONS = [
    (module.name, name, fn)
    for module in pkgutil.iter_modules(lclib.plots.__path__, "lclib.plots.")
    for name, fn in inspect.getmembers(importlib.import_module(module.name), inspect.isfunction)
    if name.startswith("plot_") and fn.__module__ == module.name
]


def test_there_are_figure_functions_to_check():
    assert len(FUNCTIONS) >= 30


@pytest.mark.parametrize("module,name,fn", FUNCTIONS, ids=[f"{m}.{n}" for m, n, _ in FUNCTIONS])
def test_ax_is_keyword_only_and_last(module, name, fn):
    params = [p for p in inspect.signature(fn).parameters.values() if p.kind is not p.VAR_KEYWORD]
    assert params[-1].name == "ax", f"{module}.{name}: ax must be the last parameter"
    assert params[-1].kind is inspect.Parameter.KEYWORD_ONLY
    assert params[-1].default is None
