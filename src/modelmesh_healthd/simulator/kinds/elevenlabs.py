"""Simulated ElevenLabs: `/v1/models` as a bare array, `xi-api-key`, `{"detail": ...}` errors."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]


class ElevenLabs(SimKind):
    """ElevenLabs' documented answers."""

    name = "elevenlabs"
    default_key = "sk_sim_elevenlabs_0000"
    models = ("eleven_multilingual_v2", "eleven_flash_v2_5")

    def error(self, status: int, message: str) -> Answer:
        """`{"detail": {"status": ..., "message": ...}}`."""
        return json_answer(status, {"detail": {"status": "error", "message": message}})

    def bad_key(self, p: SimProvider) -> Answer:
        """401 `invalid_api_key`."""
        body = {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}
        return json_answer(401, body)

    def rate_limited(self, p: SimProvider) -> Answer:
        """429 `too_many_concurrent_requests`."""
        body = {
            "detail": {
                "status": "too_many_concurrent_requests",
                "message": "Too many concurrent requests",
            }
        }
        return json_answer(429, body, {"retry-after": f"{p.retry_after:g}"})

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """`GET /v1/models`."""
        if path == "v1/models":
            return json_answer(200, [{"model_id": m, "name": m} for m in p.listed])
        return None


SIM = ElevenLabs()
