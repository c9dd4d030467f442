"""Simulated Perplexity: the async jobs list; a bad key is a 401 with an HTML page."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import SimKind
from modelmesh_healthd.simulator.shapes import Answer, json_answer

__all__ = ["SIM"]

_UNAUTHORIZED_HTML = (
    b"<html><head><title>401 Authorization Required</title></head><body><center>"
    b"<h1>401 Authorization Required</h1></center><hr><center>openresty</center></body></html>"
)


class Perplexity(SimKind):
    """Perplexity's documented answers."""

    name = "perplexity"
    default_key = "pplx-sim-0000"
    models = ("sonar", "sonar-pro")

    def bad_key(self, p: SimProvider) -> Answer:
        """401 from its front proxy, as HTML rather than JSON."""
        return Answer(401, _UNAUTHORIZED_HTML, {}, "text/html")

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """`GET /async/chat/completions`: the caller's async jobs (none)."""
        if path == "async/chat/completions":
            return json_answer(200, {"requests": [], "next_token": None})
        return None


SIM = Perplexity()
