"""Packages whose names are imported on first use (PEP 562).

Importing any module of a package runs the package's `__init__` first. When that file imports
every module to re-export its names, one command that needs one module pays for all of them:
`validate` needs the health policy, not the core's events and transitions. A package built with
`lazy_exports` keeps its public names (`from modelmesh_healthd.state import HealthPolicy` works
as before, and type checkers read the imports under `TYPE_CHECKING`), but each name's module
is imported only when the name is first asked for.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, Sequence[str]]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module-level `__getattr__` and `__dir__` of `package`.

    Args:
        package: The package's `__name__`.
        exports: Module (relative to the package) -> the names the package re-exports from it.
    """
    where = {name: f"{package}.{module}" for module, names in exports.items() for name in names}
    namespace = sys.modules[package].__dict__

    def getattr_(name: str) -> Any:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # once: later lookups find it without this function
        return value

    def dir_() -> list[str]:
        return sorted(set(namespace) | set(where))

    return getattr_, dir_
