"""The packages that import their names on first use (`_lazy.lazy_exports`) export what they say.

Such a package names each export twice: in the imports under `TYPE_CHECKING` (what type checkers
and readers see) and in the table `lazy_exports` reads at run time. These tests keep the two the
same, and check that every name in `__all__` resolves to the object of the module it names.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "modelmesh_healthd"

LAZY = sorted(
    path.parent.name for path in SRC.glob("*/__init__.py") if "lazy_exports(" in path.read_text()
)


def declared(package: str) -> tuple[dict[str, str], dict[str, str]]:
    """(name -> module under TYPE_CHECKING, name -> module in the `lazy_exports` table)."""
    tree = ast.parse((SRC / package / "__init__.py").read_text())
    typed: dict[str, str] = {}
    table: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                assert imp.module
                for alias in imp.names:
                    typed[alias.name] = imp.module
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            mapping = node.value.args[1]
            assert isinstance(mapping, ast.Dict)
            for key, names in zip(mapping.keys, mapping.values, strict=True):
                assert isinstance(key, ast.Constant)
                for name in ast.literal_eval(names):
                    table[name] = f"modelmesh_healthd.{package}.{key.value}"
    return typed, table


def test_the_lazy_packages_are_found() -> None:
    assert {"config", "state", "storage"} <= set(LAZY)


@pytest.mark.parametrize("package", LAZY)
def test_the_table_names_what_the_type_checking_imports_name(package: str) -> None:
    typed, table = declared(package)
    assert table == typed


@pytest.mark.parametrize("package", LAZY)
def test_every_exported_name_is_its_modules_object(package: str) -> None:
    module = importlib.import_module(f"modelmesh_healthd.{package}")
    _, table = declared(package)
    assert set(module.__all__) <= set(table) | set(vars(module))
    for name in module.__all__:
        if name in table:
            source = importlib.import_module(table[name])
            assert getattr(module, name) is getattr(source, name), name
    assert set(table) <= set(dir(module))


@pytest.mark.parametrize("package", LAZY)
def test_no_exported_name_is_also_a_submodule(package: str) -> None:
    # Importing a submodule binds its name on the package: an export of that name would then be
    # the module, not the object.
    _, table = declared(package)
    submodules = {p.stem for p in (SRC / package).glob("*.py")} | {
        p.parent.name for p in (SRC / package).glob("*/__init__.py")
    }
    assert set(table) & submodules == set()


def test_an_unknown_name_is_an_attribute_error() -> None:
    state = importlib.import_module("modelmesh_healthd.state")
    with pytest.raises(AttributeError, match="no attribute 'NoSuchName'"):
        _ = state.NoSuchName
