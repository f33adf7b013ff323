"""No circular imports in the package, and every module imports on its own.

The import graph is read from the source (every import of a package module, at the top, inside a
function or under ``TYPE_CHECKING``): a cycle anywhere in it fails, naming its modules. Then each
module is imported first, alone, in a process that has imported Airflow but nothing of the package:
a module that works only when another was imported before it fails here.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = "airflow_provider_clevertap"
ROOT = Path(__file__).resolve().parents[1]


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of the package under ``root``, by dotted name (a package by its own name)."""
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imported(module: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The package's modules ``module`` imports anywhere in its source."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*package[: len(package) - node.level + 1], *([base] if base else [])])
            # "from package import module" imports the module; "from module import name" the module.
            targets.update(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names)
    return {target for target in targets if target in known and target != module}


def cycles(known: dict[str, Path]) -> list[list[str]]:
    """The import graph's strongly connected components of more than one module (Tarjan)."""
    graph = {module: imported(module, path, known) for module, path in known.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(graph[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = stack[stack.index(module) :]
            del stack[stack.index(module) :]
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return found


def test_the_package_has_no_circular_imports():
    assert cycles(modules()) == []


def test_a_cycle_is_found_where_two_modules_import_each_other(tmp_path):
    package = tmp_path / PACKAGE
    (package / "state").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "state" / "__init__.py").write_text("")
    (package / "state" / "table.py").write_text(f"from {PACKAGE}.state import writes\n")
    (package / "state" / "writes.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .table import SyncState\n"
    )

    assert cycles(modules(tmp_path)) == [[f"{PACKAGE}.state.table", f"{PACKAGE}.state.writes"]]


# Imports Airflow and the package's third-party dependencies once, then imports each module in a
# forked child of its own (nothing of the package loaded before it): a fresh interpreter's state
# at a fraction of the cost of starting one per module.
_IMPORT_EACH = """
import importlib, json, os, sys, traceback
import airflow, airflow.providers.common.sql.hooks.sql, airflow.providers.http.hooks.http
names = json.loads(sys.argv[1])
loaded = [name for name in sys.modules if name.split(".")[0] == names[0]]
failures = {}
for name in names:
    read, write = os.pipe()
    child = os.fork()
    if child == 0:
        os.close(read)
        for module in loaded:
            del sys.modules[module]
        try:
            importlib.import_module(name)
            code = 0
        except BaseException:
            os.write(write, traceback.format_exc().encode())
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode()
    if os.waitpid(child, 0)[1] != 0:
        failures[name] = text or "the child died"
print(json.dumps(failures))
"""


def test_every_module_imports_first_and_alone():
    names = sorted(modules())
    assert names[0] == PACKAGE
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_EACH, json.dumps(names)],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    assert json.loads(done.stdout.splitlines()[-1]) == {}
