"""The base of the configuration's sections: strict, frozen, documented by attribute docstrings."""

from __future__ import annotations

from pydantic import ConfigDict

from modelmesh_healthd.config.documented import Documented

__all__ = ["_STRICT", "_Section"]

# Attribute docstrings become descriptions in `schema` (editors) and the docs reference, read
# only when a schema is asked for (config/documented.py).
# Strings arrive stripped and shared (`source.tidy_strings`): pydantic keeps them as they are.
_STRICT = ConfigDict(extra="forbid", frozen=True)


class _Section(Documented):
    model_config = _STRICT
