"""What every layer may know about a provider kind: pure data, no behaviour, no imports.

A kind's behaviour lives in two modules named after `KindSpec.module`: the probe side
(`probes/kinds/<module>.py`: plan, judge, error dialect) and the simulator side
(`simulator/kinds/<module>.py`: the provider's documented answers). This spec is what
configuration needs without importing either: the name, the default base URL, how the key
travels and whether one is required.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ConnectorSpec", "KindSpec", "OptionBlock"]

OptionBlock = Literal["api_version", "health_path", "http"]
"""A kind-specific configuration field that only that kind takes."""


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One provider kind, as configuration and documentation see it.

    Attributes:
        name: The `kind:` value in configuration.
        module: The module name of its probe and simulator parts.
        summary: One line for docs and `validate`.
        default_base_url: Where the provider lives when `base_url` is not given; None when
            the user must say (azure-openai, http).
        auth_header: The request header that carries the key (lower case), None for no key.
        auth_prefix: What precedes the key in that header (`Bearer `), often nothing.
        key_required: The probe proves a key, so configuration must give one.
        option: The one kind-specific configuration field it takes, if any.
        docs: The provider documentation behind the probe's endpoint.
        probed: False for `unsupported`: the provider is never probed and never deactivated.
    """

    name: str
    module: str
    summary: str
    default_base_url: str | None
    auth_header: str | None
    auth_prefix: str = ""
    key_required: bool = False
    option: OptionBlock | None = None
    docs: str = ""
    probed: bool = True


@dataclass(frozen=True, slots=True)
class ConnectorSpec:
    """A ModelMesh connector id and the probe kind that checks its provider.

    ModelMesh's base URLs omit the API version segment (it appends `/v1/...` itself); a
    kind's base URL is whatever its plan appends its paths to. `strip` and `append` turn one
    into the other, so a user's `base_url` means what it means to ModelMesh.

    Attributes:
        id: The connector id in ModelMesh's registry (`openai.llm.v1`).
        kind: The probe kind, or None when the provider has no free authenticated endpoint
            (then the provider is `unsupported`: never probed, never deactivated).
        base_url: ModelMesh's default base URL for the connector.
        strip: Removed from the end of a ModelMesh base URL to get the kind's base URL.
        append: Then added to it.
        reason: For an unsupported connector: why it cannot be probed for free.
    """

    id: str
    kind: str | None
    base_url: str
    strip: str = ""
    append: str = ""
    reason: str = ""

    def kind_url(self, modelmesh_url: str) -> str:
        """The kind's base URL for a ModelMesh base URL of this connector."""
        url = modelmesh_url.rstrip("/")
        if self.strip and url.endswith(self.strip):
            url = url[: -len(self.strip)]
        return url + self.append
