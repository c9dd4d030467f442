"""The configuration's attribute docstrings, read when a JSON Schema is generated.

Each field of the configuration is documented by the string under it, and `schema` (editors) and
the reference (`schema --markdown`, docs/operations.md) show those strings as descriptions.
pydantic can read them itself as each class is created (`use_attribute_docstrings`), but it finds
each class's source by walking the frames and tokenizing its lines: a large share of what every
command that reads a configuration spent before it started, for strings only the schema shows.
Here they are read from each module's syntax tree (once) while a schema is generated, and each
goes where pydantic would have put it, so the schema is the same.
"""

from __future__ import annotations

import ast
import functools
import inspect
import sys
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["Documented", "attribute_docstrings"]


class _WithDocstrings(GenerateJsonSchema):
    """A field without an explicit `description` gets its attribute docstring as one.

    pydantic merges a field's own description over its type's schema (`{**type's, **field's}`):
    the docstring is merged the same way, at the same step.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._classes: list[type] = []  # the model or dataclass being generated, innermost last
        self._names: dict[int, str] = {}  # id of a model's field schema -> the field's name

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        self._classes.append(schema["cls"])
        try:
            return super().model_schema(schema)
        finally:
            self._classes.pop()

    def dataclass_schema(self, schema: core_schema.DataclassSchema) -> JsonSchemaValue:
        self._classes.append(schema["cls"])
        try:
            return super().dataclass_schema(schema)
        finally:
            self._classes.pop()

    def model_fields_schema(self, schema: core_schema.ModelFieldsSchema) -> JsonSchemaValue:
        self._names.update((id(field), name) for name, field in schema["fields"].items())
        return super().model_fields_schema(schema)

    def model_field_schema(self, schema: core_schema.ModelField) -> JsonSchemaValue:
        return self._documented(super().model_field_schema(schema), self._names.get(id(schema)))

    def dataclass_field_schema(self, schema: core_schema.DataclassField) -> JsonSchemaValue:
        return self._documented(super().dataclass_field_schema(schema), schema["name"])

    def _documented(self, json_schema: JsonSchemaValue, name: str | None) -> JsonSchemaValue:
        if name is None or not self._classes:
            return json_schema
        doc = field_docstring(self._classes[-1], name)
        return json_schema if doc is None else {**json_schema, "description": doc}


@functools.cache
def _with_docstrings(generator: type[GenerateJsonSchema]) -> type[GenerateJsonSchema]:
    if issubclass(generator, _WithDocstrings):
        return generator
    documenting: type[GenerateJsonSchema] = type(
        generator.__name__, (_WithDocstrings, generator), {}
    )
    return documenting


class Documented(BaseModel):
    """A model whose attribute docstrings are its fields' descriptions in its JSON Schema."""

    @classmethod
    def model_json_schema(cls, *args: Any, **kwargs: Any) -> dict[str, Any]:
        arguments = inspect.signature(BaseModel.model_json_schema).bind(*args, **kwargs)
        generator = arguments.arguments.get("schema_generator", GenerateJsonSchema)
        arguments.arguments["schema_generator"] = _with_docstrings(generator)
        return super().model_json_schema(*arguments.args, **arguments.kwargs)


def field_docstring(cls: type, name: str) -> str | None:
    """The docstring of field `name` of `cls`, unless the field has a `description` of its own.

    As pydantic reads them: an inherited field has its declaring class's docstring.
    """
    fields = getattr(cls, "__pydantic_fields__", {})
    if name not in fields or fields[name].description is not None:
        return None
    for owner in cls.__mro__:
        if name in inspect.get_annotations(owner):
            return attribute_docstrings(owner).get(name)
    return None


@functools.cache
def _class_nodes(module: str) -> dict[str, ast.ClassDef]:
    tree = ast.parse(inspect.getsource(sys.modules[module]))
    return {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}


@functools.cache
def attribute_docstrings(cls: type) -> dict[str, str]:
    """Attribute name -> its docstring (a string right after an annotated attribute).

    For a class defined at the top level of its module; {} for any other.
    """
    node = _class_nodes(cls.__module__).get(cls.__qualname__)
    docs: dict[str, str] = {}
    if node is None:
        return docs
    target: str | None = None
    previous: ast.stmt | None = None
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            target = stmt.target.id
        elif (
            isinstance(stmt, ast.Expr)
            and isinstance(stmt.value, ast.Constant)
            and isinstance(stmt.value.value, str)
            and isinstance(previous, ast.AnnAssign)
            and target is not None
        ):
            docs[target] = inspect.cleandoc(stmt.value.value)
            target = None
        previous = stmt
    return docs
