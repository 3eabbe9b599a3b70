"""The package's layout holds: layers import only downwards, no import circle, no module
too long to read in a sitting, and the top of the package stays small (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import ROOT

PACKAGE = ROOT / "dbx_inventory"
# Lowest first: a module may import from its own layer and the ones before it.
LAYERS = ["", "transport", "scan", "runners", "outputs", "cli"]
MAX_LINES = 450
MAX_TOP_MODULES = 8


def _name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_name(path): path for path in PACKAGE.rglob("*.py")}


def _imports(path: Path, known: set[str]) -> set[str]:
    """The package's modules this one imports, anywhere in it (lazy imports too), except
    under `if TYPE_CHECKING:`."""
    tree = ast.parse(path.read_text("utf-8"))
    typing_only = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test)
                   for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in known}


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if len(parts) > 2 or parts[1:] and parts[1] in LAYERS \
        else 0


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def _wrong_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{module} imports {used}" for module, uses in graph.items()
                  for used in uses
                  if _layer(used) > _layer(module) and not module.startswith(used + "."))


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    # A package's __init__ is imported with each of its modules: that edge is no circle.
    graph = {module: {used for used in uses if not module.startswith(used + ".")}
             for module, uses in graph.items()}
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for used in sorted(graph.get(module, ())):
            if state.get(used) == 1:
                circles.append(path[path.index(used):] + [used])
            elif not state.get(used):
                visit(used, path + [used])
        state[module] = 2

    for module in sorted(graph):
        if not state.get(module):
            visit(module, [module])
    return circles


def test_layers_import_only_downwards():
    assert _wrong_imports(_graph()) == []


def test_no_import_circle():
    assert _circles(_graph()) == []


def test_modules_stay_short_and_the_top_stays_small():
    long = {name: lines for name, path in _modules().items()
            if (lines := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}
    top = sorted(path.name for path in PACKAGE.glob("*.py"))
    assert len(top) <= MAX_TOP_MODULES, top
    assert sorted(path.name for path in PACKAGE.iterdir() if path.is_dir()
                  and path.name != "__pycache__") == sorted(layer for layer in LAYERS if layer)


def test_the_fake_workspace_is_kept_the_same_way():
    """The fake workspace models the platform every test stands on: short modules too,
    and no circle between them (a type-only import is not one)."""
    fake = ROOT / "fake_workspace"
    long = {path.name: lines for path in fake.glob("*.py")
            if (lines := len(path.read_text("utf-8").splitlines())) > MAX_LINES}
    assert long == {}
    stems = {path.stem for path in fake.glob("*.py")}  # `from .model import` names "model"
    assert _circles({path.stem: _imports(path, stems) for path in fake.glob("*.py")}) == []


def test_the_checks_see_a_wrong_import_and_a_circle():
    """The checks can fail: an upward import and a circle of three are both caught."""
    upward = {"dbx_inventory.scan.discover": {"dbx_inventory.cli.console"},
              "dbx_inventory.cli.console": {"dbx_inventory.humanize"}}
    assert _wrong_imports(upward) == ["dbx_inventory.scan.discover imports "
                                      "dbx_inventory.cli.console"]
    circle = {"dbx_inventory.runners.spark.a": {"dbx_inventory.runners.spark.b"},
              "dbx_inventory.runners.spark.b": {"dbx_inventory.runners.spark.c"},
              "dbx_inventory.runners.spark.c": {"dbx_inventory.runners.spark.a"}}
    assert len(_circles(circle)) == 1
    # A package importing its own module is not a circle.
    assert _circles({"dbx_inventory.scan": {"dbx_inventory.scan.roots"},
                     "dbx_inventory.scan.roots": {"dbx_inventory.scan"}}) == []
