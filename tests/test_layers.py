"""The layers of docs/architecture.md, checked on the imports.

Each package uses only those below it, and no module reaches itself again through others' imports
(counting the ones made only for type checking: a circle there is a circle in the design).
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "modelmesh_healthd"

# `kinds` is the registry of pure kind specs: every layer may read it, it reads nothing. Each
# kind's behaviour lives in its layer (`probes/kinds/`, `simulator/kinds/`), resolved by name.
ALLOWED = {
    "state": set(),
    "kinds": set(),
    "config": {"state", "kinds"},
    "probes": {"state", "config", "kinds"},
    "storage": {"state", "config"},
    "simulator": {"state", "kinds"},
    "daemon": {"state", "kinds", "config", "probes", "storage", "simulator"},
    # Integrations run inside a router: the store's read API and the admin API (HTTP), nothing
    # of the daemon (see the next test for which parts of storage).
    "integrations": {"state", "storage"},
}

# `left_behind`: how a reader bounds a driver call that may ignore its cancellation.
STORE_READ_API = {"read_only", "notify", "errors", "urls", "left_behind"}

IO_MODULES = {"asyncio", "socket", "os", "pathlib", "subprocess", "threading", "httpx", "sqlite3"}


def project_imports(path: Path) -> set[tuple[str, int]]:
    """(top-level project package or module, line) for every project import in `path`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "modelmesh_healthd" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_a_package_imports_only_the_layers_below_it(package: str) -> None:
    for path in sorted((SRC / package).rglob("*.py")):
        for imported, line in project_imports(path):
            if imported in (package, "__init__", "_lazy"):
                continue  # the top-level package and `_lazy` (it imports nothing of ours)
            assert imported in ALLOWED[package], (
                f"{path.relative_to(SRC)}:{line} imports {imported}"
            )


def test_the_lazy_helper_imports_nothing_of_ours() -> None:
    assert project_imports(SRC / "_lazy.py") == set()


def test_integrations_use_only_the_stores_read_api_never_daemon_internals() -> None:
    for path in sorted((SRC / "integrations").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                parts = node.module.split(".")
                if parts[:2] == ["modelmesh_healthd", "storage"]:
                    where = f"{path.relative_to(SRC)}:{node.lineno} imports {node.module}"
                    assert len(parts) > 2, where
                    assert parts[2] in STORE_READ_API, where


def test_the_state_package_does_no_io() -> None:
    for path in sorted((SRC / "state").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                modules = {node.module.split(".")[0]}
            else:
                continue
            assert not modules & IO_MODULES, f"{path.name}:{node.lineno} imports {modules}"


def test_the_only_clock_read_in_state_is_the_seed_form_of_record_probe() -> None:
    readers = [
        (path.name, [alias.name for alias in node.names])
        for path in sorted((SRC / "state").rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and (
            getattr(node, "module", None) in ("time", "datetime")
            or any(a.name in ("time", "datetime") for a in node.names)
        )
    ]
    assert readers == [("provider.py", ["time"])]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def module_graph() -> dict[str, set[str]]:
    """Project module -> the project modules it imports (a package stands for its __init__)."""
    modules = {_module_name(p): p for p in SRC.rglob("*.py")}

    def resolve(name: str) -> str:
        while name not in modules:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(SRC.name):
                assert node.module is not None
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    deps.add(full if full in modules else resolve(node.module))
            elif isinstance(node, ast.Import):
                deps.update(resolve(a.name) for a in node.names if a.name.startswith(SRC.name))
        graph[module] = deps - {module}
    return graph


def test_no_module_imports_itself_through_others() -> None:
    try:
        graphlib.TopologicalSorter(module_graph()).prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_observers_read_the_daemon_through_its_view_only() -> None:
    graph = module_graph()
    for observer in ("admin", "metrics", "supervision"):
        deps = graph[f"modelmesh_healthd.daemon.{observer}"]
        assert "modelmesh_healthd.daemon.service" not in deps, observer
