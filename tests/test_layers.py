"""The package's layers hold: read from the code's own imports, so the tree cannot drift."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "vibeimg"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def _runtime_imports(path: Path, name: str) -> set[str]:
    """Modules ``path`` imports when it runs (not those under ``if TYPE_CHECKING:``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(child) for child in ast.walk(node))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    imported: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            # "from package import module" imports the module; names import their module.
            modules = {f"{base}.{alias.name}" for alias in node.names} & set(MODULE_NAMES)
            imported.update(modules or {base})
    return imported


MODULES = _modules()
MODULE_NAMES = list(MODULES)
IMPORTS = {name: _runtime_imports(path, name) for name, path in MODULES.items()}


def _uses(name: str, prefix: str) -> bool:
    return any(i == prefix or i.startswith(prefix + ".") for i in IMPORTS[name])


def test_no_module_is_over_400_lines() -> None:
    """A module that grows past about 400 lines has two jobs."""
    long = {name: n for name, path in MODULES.items()
            if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert long == {}


def test_the_core_knows_nothing_of_the_command_line() -> None:
    """Only vibeimg.cli imports Typer or the CLI; only it and ui.py import Rich."""
    core = [n for n in MODULES if not n.startswith("vibeimg.cli") and n != "vibeimg.__main__"]
    assert [n for n in core if _uses(n, "vibeimg.cli") or _uses(n, "typer")
            or _uses(n, "click")] == []
    assert [n for n in core if _uses(n, "rich") and n != "vibeimg.ui"] == []


def test_the_python_api_does_not_go_through_the_command_line() -> None:
    """vibeimg.api composes the jobs directly: it imports nothing of vibeimg.cli."""
    assert [n for n in MODULES if n.startswith("vibeimg.api") and _uses(n, "vibeimg.cli")] == []


def test_there_is_no_import_circle() -> None:
    """Imports between the package's modules run one way: no module reaches itself."""
    graph = {name: {m for m in MODULES if m != name and m in imports}
             for name, imports in IMPORTS.items()}
    # A package's __init__ that only documents it imports nothing: not a node of a circle.
    state: dict[str, int] = {}
    circles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                circles.append([*trail[trail.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert circles == []
