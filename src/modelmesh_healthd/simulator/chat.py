"""A router's chat completions on the simulator, counted apart from the probes' requests.

The answers themselves are the kinds' (`simulator/kinds/_chat.py`: a healthy provider answers
a completion with `usage` in its API's shape; any other behaviour answers as it answers
everything else). `ChatLog` counts, per provider, the chat requests that reached it whatever it
answered, so a test can say how many *user* requests each provider received.
"""

from __future__ import annotations

from collections import Counter

__all__ = ["ChatLog", "is_chat_completion"]


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
