"""Chat completions on the simulator: what a router's real requests meet (OpenAI's format).

`POST .../chat/completions` (with or without `/v1`) on a healthy provider answers a short
completion with `usage`, in OpenAI's shape, which every OpenAI-compatible client and
modelmesh-lite's connectors read. A provider with any other behaviour answers as it answers
everything else (a 500, a hang, a reset...): the server's usual path.

`ChatLog` counts chat requests per provider apart from the probes' requests, so a test can say
how many *user* requests reached each provider.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.shapes import Answer

__all__ = ["ChatLog", "chat_answer", "is_chat_completion"]

_REPLY = "Hello from the simulator."


def is_chat_completion(method: str, tail: str) -> bool:
    """Whether a request under a provider's prefix is a chat completion."""
    return method == "POST" and tail.rstrip("/") in ("v1/chat/completions", "chat/completions")


class ChatLog:
    """Chat completion requests received, per provider."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()

    def count(self, provider: str) -> None:
        """One chat request reached `provider` (whatever it answered)."""
        self._counts[provider] += 1

    def counts(self) -> dict[str, int]:
        """Chat requests per provider that received any."""
        return dict(self._counts)

    def reset(self) -> None:
        """Start counting from zero."""
        self._counts.clear()


def chat_answer(p: SimProvider, body: bytes) -> Answer:
    """A healthy provider's answer to a chat completion request.

    A body that is not a JSON object with a `messages` list gets OpenAI's 400.
    """
    try:
        request: Any = json.loads(body)
    except ValueError:
        request = None
    if not isinstance(request, dict) or not isinstance(request.get("messages"), list):
        return _bad_request("'messages' is a required property")
    model = request.get("model")
    if not isinstance(model, str) or not model:
        return _bad_request("you must provide a model parameter")
    prompt_tokens = (
        sum(
            len(str(m.get("content", "")).split())
            for m in request["messages"]
            if isinstance(m, dict)
        )
        + 3
    )
    completion_tokens = len(_REPLY.split())
    payload = {
        "id": f"chatcmpl-sim-{p.name}",
        "object": "chat.completion",
        "created": 1700000000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": _REPLY},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
        "system_fingerprint": f"sim-{p.name}",
    }
    return Answer(200, json.dumps(payload).encode(), {"x-request-id": "req_sim"})


def _bad_request(message: str) -> Answer:
    body = {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    }
    return Answer(400, json.dumps(body).encode(), {"x-request-id": "req_sim"})
