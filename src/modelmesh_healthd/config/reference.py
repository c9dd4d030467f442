"""The configuration reference in Markdown, generated from the configuration's JSON Schema.

`modelmesh-healthd schema --markdown` prints it; docs/operations.md holds a copy that a test
keeps equal to it, so the documented keys, types, defaults and descriptions are the code's.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from modelmesh_healthd.config import admin, maintenance, models
from modelmesh_healthd.config.root import Config

_SECTION_MODULES = (models, admin, maintenance)
"""Where the sections' classes are defined, looked up by their schema titles."""

__all__ = ["render_reference"]

_DURATION_HINT = "ms|s|m|h|d"
_SIZE_HINT = "[kKmMgG]i?[bB]"


def render_reference() -> str:
    """Every configuration key, section by section, as Markdown tables.

    Returns:
        The reference, ending with a newline.
    """
    schema = Config.model_json_schema(mode="validation")
    defs: dict[str, Any] = schema["$defs"]
    parts: list[str] = []
    _section(schema, "", defs, parts, Config)
    return "\n".join(parts).rstrip("\n") + "\n"


def _section(
    node: dict[str, Any],
    path: str,
    defs: dict[str, Any],
    out: list[str],
    model: type[Any],
) -> None:
    # BaseModel sections and the pydantic dataclasses of per-provider entities alike.
    fields: dict[str, FieldInfo] = model.__pydantic_fields__
    rows: list[str] = []
    nested: list[tuple[str, dict[str, Any]]] = []
    for key, prop in node.get("properties", {}).items():
        child = _object_of(prop, defs)
        if child is not None:
            nested.append((f"{path}.{key}" if path else key, child))
            continue
        mapped = _object_of(prop.get("additionalProperties", {}), defs)
        if mapped is not None:
            nested.append((f"{path}.{key}.<id>" if path else f"{key}.<id>", mapped))
            continue
        listed = _object_of(prop.get("items", {}), defs) if prop.get("type") == "array" else None
        if listed is not None:
            nested.append((f"{path}.{key}[]", listed))
            continue
        field = fields[key]
        default = (
            "*required*"
            if field.is_required()
            else _default(prop, field.get_default(call_default_factory=True, validated_data={}))
        )
        rows.append(
            f"| `{key}` | {_type(prop, defs)} | {default} | {_text(prop.get('description'))} |"
        )
    if rows:
        out.append(f"### `{path}`\n")
        if node.get("description"):
            out.append(_text(node["description"]) + "\n")
        out += ["| key | type | default | description |", "|---|---|---|---|", *rows, ""]
    for child_path, child in nested:
        cls = next(
            getattr(module, child["title"])
            for module in _SECTION_MODULES
            if hasattr(module, child["title"])
        )
        _section(child, child_path, defs, out, cls)


def _object_of(prop: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """The object schema a property holds (directly or as `X | None`), else None."""
    candidates = [prop, *prop.get("anyOf", [])]
    for candidate in candidates:
        ref = candidate.get("$ref")
        if ref:
            target: dict[str, Any] = defs[ref.rsplit("/", 1)[-1]]
            if target.get("type") == "object":
                return target
    return None


def _type(prop: dict[str, Any], defs: dict[str, Any]) -> str:
    if "$ref" in prop:
        return _type(defs[prop["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop:
        text = json.dumps(prop["anyOf"])
        if _DURATION_HINT in text:
            kind = "duration (`30s`, `2m`, `500ms` or seconds)"
        elif _SIZE_HINT in text:
            kind = "size (`64KiB`, `1MiB` or bytes)"
        else:
            kinds = [_type(p, defs) for p in prop["anyOf"] if p.get("type") != "null"]
            kind = " or ".join(dict.fromkeys(kinds))
        nullable = any(p.get("type") == "null" for p in prop["anyOf"])
        return f"{kind}, optional" if nullable else kind
    kind = prop.get("type", "any")
    if kind == "string" and prop.get("format") == "password":
        return "secret string"
    if kind == "array":
        return f"list of {_type(prop.get('items', {}), defs)}"
    if kind == "object":
        values = _type(prop.get("additionalProperties", {}), defs)
        names = prop.get("propertyNames")
        keys = "outcome" if names else "name"
        return f"map of {keys} → {values}"
    low, high = prop.get("minimum", prop.get("exclusiveMinimum")), prop.get("maximum")
    if kind in ("integer", "number") and (low is not None or high is not None):
        return f"{kind} ({'' if low is None else low}…{'' if high is None else high})"
    return str(kind)


def _default(prop: dict[str, Any], value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, float) and _DURATION_HINT in json.dumps(prop):
        return f"`{_seconds(value)}`"
    if isinstance(value, int) and not isinstance(value, bool) and _SIZE_HINT in json.dumps(prop):
        return f"`{_bytes(value)}`"
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


def _seconds(value: float) -> str:
    for unit, size in (("h", 3600), ("m", 60)):
        if value >= size and value % size == 0:
            return f"{value / size:g}{unit}"
    return f"{value:g}s"


def _bytes(value: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= size and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


def _text(value: str | None) -> str:
    return " ".join((value or "").split()).replace("|", "\\|")
