"""Simulated Azure AI Speech: the voices list, `Ocp-Apim-Subscription-Key`."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]


class AzureSpeech(SimKind):
    """Azure AI Speech's documented answers."""

    name = "azure-speech"
    default_key = "azure-speech-sim-0000"
    models = ("en-US-JennyNeural",)

    def error(self, status: int, message: str) -> Answer:
        """`{"error": {"code": "status", "message"}}`."""
        return json_answer(status, {"error": {"code": str(status), "message": message}})

    def bad_key(self, p: SimProvider) -> Answer:
        """401 access denied."""
        return self.error(
            401,
            "Access denied due to invalid subscription key or wrong API endpoint.",
        )

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """`GET /cognitiveservices/voices/list`."""
        if path == "cognitiveservices/voices/list":
            voices = [
                {
                    "Name": f"Microsoft Server Speech Text to Speech Voice ({m})",
                    "ShortName": m,
                    "Gender": "Female",
                    "Locale": "en-US",
                    "VoiceType": "Neural",
                }
                for m in p.listed
            ]
            return json_answer(200, voices)
        return None


SIM = AzureSpeech()
