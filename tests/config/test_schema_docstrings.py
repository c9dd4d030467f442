"""The schema's descriptions are the attribute docstrings, as pydantic itself would read them.

The configuration reads its attribute docstrings only when a schema is generated
(config/documented.py). The reference is what pydantic makes when it reads them as each class is
created (`use_attribute_docstrings=True`): a fresh interpreter turns that on for every
configuration class and prints the schema pydantic generates on its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from pydantic.json_schema import GenerateJsonSchema

from modelmesh_healthd.config import Config, ProviderConfig

_PYDANTICS_OWN = """
import json, pydantic
from pydantic import BaseModel

plain = pydantic.ConfigDict
pydantic.ConfigDict = lambda **kw: plain(**kw, use_attribute_docstrings=True)

from modelmesh_healthd.config.root import Config

for mode in ("validation", "serialization"):
    print(json.dumps(BaseModel.model_json_schema.__func__(Config, mode=mode)))
"""


def pydantics_own() -> list[str]:
    done = subprocess.run(
        [sys.executable, "-c", _PYDANTICS_OWN],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.splitlines()


def descriptions(schema: dict[str, Any]) -> list[str]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("description"), str):
                found.append(node["description"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(schema)
    return found


def test_the_schema_is_the_one_pydantic_makes_reading_the_docstrings_itself() -> None:
    validation, serialization = pydantics_own()
    ours = Config.model_json_schema(mode="validation")
    # Compared as text: the same keys in the same order, so `schema` prints the same bytes.
    assert json.dumps(ours) == validation
    assert json.dumps(Config.model_json_schema(mode="serialization")) == serialization
    # The per-provider dataclasses' docstrings, and an inherited type's own description.
    assert "The API it speaks, which decides the probe (see docs/probes.md)." in descriptions(ours)
    assert "Between probes of a healthy provider." in descriptions(ours)


def test_a_schema_generator_of_ones_own_still_gets_the_docstrings() -> None:
    class Sorted(GenerateJsonSchema):
        def generate(self, schema: Any, mode: Any = "validation") -> Any:
            return dict(sorted(super().generate(schema, mode).items()))

    schema = Config.model_json_schema(schema_generator=Sorted)
    assert list(schema) == sorted(schema)
    assert descriptions(schema) == descriptions(Config.model_json_schema())


def test_loading_leaves_the_fields_without_descriptions() -> None:
    # The docstrings are the schema's alone: validating never needs them.
    fields = ProviderConfig.__pydantic_fields__
    assert fields["kind"].description is None
    assert Config.model_json_schema()["$defs"]["ProviderConfig"]["properties"]["kind"][
        "description"
    ].startswith("The API it speaks")
