"""The project's own import graph, read from the source with ``ast`` (nothing is imported).

An edge ``a -> b`` is an import of project module ``b`` that runs when ``a`` is imported: module level,
inside classes and ``try``/``if`` blocks, but not inside functions (a deferred import runs later, when
its function is called) and not under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

PACKAGES = ("corpus", "platform_assets", "sensors", "resources", "agent")


def project_modules(root: Path, packages: tuple[str, ...] = PACKAGES) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file of ``packages`` under ``root``."""
    out: dict[str, Path] = {}
    for pkg in packages:
        for path in sorted((root / pkg).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _targets(module: str, path: Path, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        base = base[: len(base) - node.level + 1]
        prefix = ".".join([*base, node.module] if node.module else base)
    else:
        prefix = node.module or ""
    # `from pkg import name`: name may be a submodule (an edge to it) or an attribute (an edge to pkg)
    return [prefix, *(f"{prefix}.{alias.name}" for alias in node.names)]


def import_time_imports(module: str, path: Path, modules: dict[str, Path], *, deferred: bool = False) -> set[str]:
    """The project modules that importing ``module`` imports directly (``deferred``: also those
    imported inside its functions)."""
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _targets(module, path, node):
                    while target and target not in modules:
                        target = target.rpartition(".")[0]
                    if target and target != module:
                        found.add(target)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if deferred:
                    visit(node.body)
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                visit(node.orelse)
            else:
                for field in ("body", "orelse", "finalbody", "handlers", "cases"):
                    for child in getattr(node, field, None) or []:
                        visit(child.body if isinstance(child, ast.ExceptHandler | ast.match_case) else [child])

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)).body)
    return found


def import_graph(root: Path, packages: tuple[str, ...] = PACKAGES, *, deferred: bool = False) -> dict[str, set[str]]:
    modules = project_modules(root, packages)
    return {m: import_time_imports(m, p, modules, deferred=deferred) for m, p in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle (``[a, b, ..., a]``), or None when the graph has none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(exc.args[1])
    return None


def external_imports(path: Path) -> set[str]:
    """Top-level names of every absolute import in ``path``, deferred ones included."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found
