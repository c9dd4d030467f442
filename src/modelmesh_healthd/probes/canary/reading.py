"""Reading a canary's answer: usage (reasoning tokens counted), errors inside HTTP 200 bodies,
the first token. Pure: bytes and arrival times in, a `CanaryReading` out.

The traps (PROVIDERS.md): OpenRouter and OpenAI can send an error inside an HTTP 200 body once
generation has started (`{"error": {...}}` as a JSON body or as a stream chunk; Anthropic's
`event: error`), so a 200 is not read as fine until its body says so; and a 400 from the canary
is never "provider fine".
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from modelmesh_healthd.probes.classifier import Dialect, Reply, judge_error
from modelmesh_healthd.state.outcome import Outcome

__all__ = ["CanaryReading", "Usage", "read_answer"]


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens one canary used, as the provider billed them."""

    prompt: int = 0
    completion: int = 0
    """Output tokens, reasoning included."""
    reasoning: int = 0
    """Of which reasoning (OpenAI `completion_tokens_details.reasoning_tokens`, Gemini
    `thoughtsTokenCount`)."""

    @property
    def total(self) -> int:
        """Prompt + completion."""
        return self.prompt + self.completion


@dataclass(frozen=True, slots=True)
class CanaryReading:
    """What a canary's answer says.

    Attributes:
        outcome: `ok` when a completion came back; else the class of the failure.
        detail: Short, from codes only.
        usage: Billed tokens, when the answer said.
        text: Whether any visible output came back.
        first_token_at: Arrival time of the first generated token (stream), or None.
    """

    outcome: Outcome
    detail: str | None = None
    usage: Usage = Usage()
    text: bool = False
    first_token_at: float | None = None


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _usage(obj: Mapping[str, Any], kind: str, prev: Usage) -> Usage:
    if kind == "gemini":
        u = obj.get("usageMetadata")
        if not isinstance(u, dict):
            return prev
        thoughts = _int(u.get("thoughtsTokenCount"))
        return Usage(
            _int(u.get("promptTokenCount")),
            _int(u.get("candidatesTokenCount")) + thoughts,
            thoughts,
        )
    if kind == "ollama":
        # Only the last object (`done: true`) has the counts; thinking is in `eval_count`,
        # not reported apart.
        if "eval_count" not in obj and "prompt_eval_count" not in obj:
            return prev
        return Usage(_int(obj.get("prompt_eval_count")), _int(obj.get("eval_count")), 0)
    u = obj.get("usage")
    if kind == "anthropic":
        msg = obj.get("message")
        if isinstance(msg, dict) and isinstance(msg.get("usage"), dict):
            u = msg["usage"]
        if not isinstance(u, dict):
            return prev
        return Usage(
            _int(u.get("input_tokens")) or prev.prompt,
            _int(u.get("output_tokens")) or prev.completion,
            0,
        )
    if not isinstance(u, dict):
        return prev
    details = u.get("completion_tokens_details")
    reasoning = _int(details.get("reasoning_tokens")) if isinstance(details, dict) else 0
    return Usage(_int(u.get("prompt_tokens")), _int(u.get("completion_tokens")), reasoning)


def _generated(obj: Mapping[str, Any], kind: str) -> bool:
    """Whether this object carries a generated token (visible text or reasoning)."""
    if kind == "anthropic":
        delta = obj.get("delta")
        if obj.get("type") == "content_block_delta" and isinstance(delta, dict):
            return bool(delta.get("text") or delta.get("thinking"))
        content = obj.get("content")
        return isinstance(content, list) and any(
            isinstance(c, dict) and c.get("text") for c in content
        )
    if kind == "gemini":
        for cand in obj.get("candidates") or ():
            parts = (cand.get("content") or {}).get("parts") if isinstance(cand, dict) else None
            if isinstance(parts, list) and any(
                isinstance(p, dict) and p.get("text") for p in parts
            ):
                return True
        return False
    if kind == "ollama":
        msg = obj.get("message")
        return isinstance(msg, dict) and bool(msg.get("content") or msg.get("thinking"))
    for choice in obj.get("choices") or ():
        if not isinstance(choice, dict):
            continue
        part = choice.get("delta") or choice.get("message") or {}
        if isinstance(part, dict) and (
            part.get("content") or part.get("reasoning_content") or part.get("reasoning")
        ):
            return True
    return False


def _embedded_error(
    obj: Mapping[str, Any], dialect: Dialect, now: float
) -> tuple[Outcome, str] | None:
    """An error object inside a 200 answer, classified by its own code when it has one."""
    err = obj.get("error")
    if obj.get("type") == "error" or err is not None:
        code = err.get("code") if isinstance(err, dict) else None
        status = code if isinstance(code, int) and 400 <= code <= 599 else 500
        finding = judge_error(Reply(status, {}, json.dumps(obj).encode()), dialect, now)
        return finding.outcome, f"error inside an HTTP 200 body ({finding.detail})"
    for choice in obj.get("choices") or ():
        if isinstance(choice, dict) and choice.get("finish_reason") == "error":
            return Outcome.SERVER_ERROR, "error inside an HTTP 200 body (finish_reason error)"
    return None


def _json_lines(body: bytes) -> Iterable[dict[str, Any]]:
    """Ollama's stream: one JSON object per line, no `data:` framing."""
    for line in body.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield value


def _events(body: bytes, stream: bool) -> Iterable[dict[str, Any]]:
    if not stream:
        try:
            value = json.loads(body)
        except ValueError:
            return
        if isinstance(value, dict):
            yield value
        elif isinstance(value, list):  # Gemini's non-SSE stream: a JSON array of chunks
            yield from (v for v in value if isinstance(v, dict))
        return
    for line in body.splitlines():
        data = line.strip()
        if not data.startswith(b"data:"):
            continue
        data = data[5:].strip()
        if data == b"[DONE]":
            continue
        try:
            value = json.loads(data)
        except ValueError:
            continue
        if isinstance(value, dict):
            yield value


def _lines_by_arrival(parts: list[tuple[float, bytes]]) -> list[tuple[float | None, bytes]]:
    """The complete lines of a stream, batched by the chunk whose arrival completed them."""
    out: list[tuple[float | None, bytes]] = []
    buffer = b""
    for at, chunk in parts:
        buffer += chunk
        cut = buffer.rfind(b"\n") + 1
        if cut:
            out.append((at, buffer[:cut]))
            buffer = buffer[cut:]
    if buffer:
        out.append((parts[-1][0], buffer))
    return out


def read_answer(
    status: int,
    headers: Mapping[str, str],
    chunks: Iterable[tuple[float, bytes]],
    *,
    kind: str,
    dialect: Dialect,
    stream: bool,
    now: float,
    model: str | None = None,
) -> CanaryReading:
    """Judge a canary's answer.

    Args:
        status: HTTP status.
        headers: Response headers.
        chunks: (arrival time, bytes) of the body as it came; the first token's time is the
            arrival of the first chunk that holds one.
        kind: The provider's kind (which shape to read).
        dialect: The kind's error traps.
        stream: Server-sent events were asked for.
        now: Wall time, for Retry-After dates.
        model: The model, when the endpoint is that model's own (then a 404 is that model
            missing; see `plan.MODEL_ROUTED`).

    Returns:
        The reading. A non-2xx answer is classified like a probe's (a 400 that is not about the
        key is `protocol_error`, never fine); a 2xx with an error inside it is that error.
    """
    parts = list(chunks)
    body = b"".join(c for _, c in parts)
    if not 200 <= status <= 299:
        finding = judge_error(Reply(status, headers, body), dialect, now, model=model)
        return CanaryReading(finding.outcome, f"canary: {finding.detail}")
    usage, text, first = Usage(), False, None
    seen = False
    # Streamed: each complete line is read as it arrived, so the first token has a time.
    # Unstreamed: the whole body at once.
    batches = _lines_by_arrival(parts) if stream else [(None, body)]
    for at, ready in batches:
        objects = _json_lines(ready) if stream and kind == "ollama" else _events(ready, stream)
        for obj in objects:
            seen = True
            failed = _embedded_error(obj, dialect, now)
            if failed is not None:
                return CanaryReading(failed[0], failed[1], usage, text, first)
            usage = _usage(obj, kind, usage)
            if _generated(obj, kind):
                text = True
                if first is None:
                    first = at
    if not seen:
        return CanaryReading(Outcome.PROTOCOL_ERROR, "canary: answer is not a completion")
    detail = None
    if not text:
        # Sized so reasoning cannot use the whole allowance; if it did, say so (the provider
        # still generated: inference works).
        detail = f"canary: no visible output ({usage.reasoning} reasoning tokens)"
    return CanaryReading(Outcome.OK, detail, usage, text, first)
