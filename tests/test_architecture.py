"""The package layout: layers checked by import-linter, and no import cycle between any two modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["lclib.report", "lclib.plots", "lclib.analysis", "lclib.engine", "lclib.io", "lclib.config"]


def _graph() -> grimp.ImportGraph:
    return grimp.build_graph("lclib", cache_dir=None)


def _cycle(graph: grimp.ImportGraph) -> list[str] | None:
    """One import cycle among lclib's modules (every import, also those inside functions), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if state.get(imported) == 1:
                return stack[stack.index(imported):] + [imported]
            if imported not in state:
                found = visit(imported)
                if found:
                    return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph.modules):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_import_contracts_in_pyproject_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "0 broken" in done.stdout


def test_no_module_imports_a_module_that_imports_it_back():
    graph = _graph()
    # packages import their own submodules in __init__ (re-exports); judge modules, not package objects
    for package in ("lclib", *LAYERS, "lclib.sample"):
        for child in graph.find_children(package) if package in graph.modules else ():
            if graph.direct_import_exists(importer=package, imported=child):
                graph.remove_import(importer=package, imported=child)
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_cycle_finder_finds_a_cycle():
    graph = grimp.ImportGraph()
    for a, b in (("p.a", "p.b"), ("p.b", "p.c"), ("p.c", "p.a")):
        graph.add_import(importer=a, imported=b)
    assert _cycle(graph) == ["p.a", "p.b", "p.c", "p.a"]


def test_every_module_sits_in_a_layer_or_beside_them():
    graph = _graph()
    homes = (*LAYERS, "lclib.sample")
    stray = [m for m in graph.modules if m != "lclib" and not m.startswith(tuple(h for h in homes))]
    assert stray == []


def test_lower_layers_never_import_higher_ones_even_inside_functions():
    graph = _graph()
    for i, upper in enumerate(LAYERS):
        for lower in LAYERS[i + 1:]:
            chains = graph.find_shortest_chains(importer=lower, imported=upper, as_packages=True)
            assert not chains, f"{lower} imports {upper}: {sorted(chains)[:3]}"
