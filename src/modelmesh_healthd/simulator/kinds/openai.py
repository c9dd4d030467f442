"""Simulated OpenAI: `/v1/models`, one model by id, its error codes and rate-limit headers."""

from __future__ import annotations

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import OpenAIStyle
from modelmesh_healthd.simulator.shapes import Answer, openai_error

__all__ = ["SIM"]


class OpenAI(OpenAIStyle):
    """OpenAI's documented answers."""

    name = "openai"
    default_key = "sk-sim-openai-0000"
    models = ("gpt-4o", "gpt-4o-mini", "text-embedding-3-small", "o3-mini")
    url_suffix = "/v1"

    def bad_key(self, p: SimProvider) -> Answer:
        """401 `invalid_api_key`."""
        return openai_error(
            401,
            "Incorrect API key provided: sk-****. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )

    def forbidden(self, p: SimProvider) -> Answer:
        """403 from an unsupported region."""
        return openai_error(
            403,
            "Country, region, or territory not supported",
            "request_forbidden",
            "unsupported_country_region_territory",
        )


SIM = OpenAI()
