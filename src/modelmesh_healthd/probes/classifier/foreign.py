"""An answer that is not from the expected API at all: another server behind the base URL.

Every provider API answers in JSON, errors included. An HTML page or plain text behind a 404 or
an unreadable body means the base URL reaches some other server (a web page, a proxy's error
page, another program on that port); a "model not found" would then mislead.
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier.replies import Finding, Reply, parse_json_object
from modelmesh_healthd.state.outcome import Outcome

__all__ = ["not_the_api"]

_MISLEADING = frozenset({Outcome.PROTOCOL_ERROR, Outcome.MODEL_NOT_FOUND})


def not_the_api(reply: Reply, kind: str, finding: Finding) -> Finding:
    """Say so when the answer behind a failed finding is not from a `kind` API.

    The verdict becomes `protocol_error` with a detail that names the likely cause. The generic
    `http` kind has no expected body, and a body over the cap keeps its own verdict.

    Args:
        reply: The answer.
        kind: Probe kind.
        finding: The judge's finding on it.

    Returns:
        `finding`, or the protocol error saying the base URL is not the API.
    """
    if kind == "http" or reply.truncated or finding.outcome not in _MISLEADING:
        return finding
    body = reply.body.lstrip()
    if not body:
        return finding
    if body[:1] in (b"{", b"["):
        # JSON: the API's own unless a "model not found" 404 lacks every provider's error
        # object (`{"detail": "Not Found"}` is a web framework's route 404, not a model's).
        obj = parse_json_object(body) if finding.outcome is Outcome.MODEL_NOT_FOUND else None
        if reply.status != 404 or obj is None or "error" in obj:
            return finding
        what = "JSON without an error object"
    else:
        content_type = str(reply.headers.get("content-type", "")).split(";")[0].strip().lower()
        html = content_type == "text/html" or body[:1] == b"<"
        what = "an HTML page" if html else f"{content_type or 'a body'} that is not JSON"
    return Finding(
        Outcome.PROTOCOL_ERROR,
        f"HTTP {reply.status} {what}: not the {kind} API (wrong base URL, or another server "
        "on that port?)",
    )
