"""Simulated AssemblyAI: the transcripts list; the key bare in `authorization`."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]


class AssemblyAI(SimKind):
    """AssemblyAI's documented answers."""

    name = "assemblyai"
    default_key = "aai-sim-0000"
    models = ("best", "nano")

    def error(self, status: int, message: str) -> Answer:
        """`{"error": "text"}`."""
        return json_answer(status, {"error": message})

    def bad_key(self, p: SimProvider) -> Answer:
        """401 `Authentication error, API token missing/invalid`."""
        return self.error(401, "Authentication error, API token missing/invalid")

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """`GET /v2/transcript`: the caller's transcripts (none)."""
        if path == "v2/transcript":
            page = {
                "limit": 1,
                "result_count": 0,
                "current_url": "",
                "prev_url": None,
                "next_url": None,
            }
            return json_answer(200, {"page_details": page, "transcripts": []})
        return None


SIM = AssemblyAI()
