"""Simulated completions for the canary: OpenAI-style chat completions (Azure's with its
content-filter annotations), Anthropic messages, Gemini generateContent, Ollama's `/api/chat`,
each streamed (server-sent events; Ollama: one JSON object per line) or not, with the usage
each provider reports (OpenAI's `completion_tokens_details.reasoning_tokens`, Gemini's
`thoughtsTokenCount`, Ollama's `prompt_eval_count`/`eval_count`).

A model's `model_states` entry plays the canary's traps: `error_in_body` (an error inside an
HTTP 200 answer, as OpenRouter and OpenAI send once generation has started), `reasoning_hog`
(reasoning uses the whole output allowance, no visible text), `bad_request` (400), besides
`overloaded` and `loading`. A reasoning model (`o3-mini`, `gemini-2.5-*`, `deepseek-reasoner`)
reasons 64 tokens before answering.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.shapes import Answer, anthropic_error, json_answer, openai_error


class SimKind(Protocol):
    """What a completion needs of its kind: one model's refusal, if any (`SimKind`)."""

    def model_answer(self, p: SimProvider, name: str) -> Answer | None: ...


__all__ = ["anthropic_messages", "gemini_generate", "ollama_chat", "openai_chat"]

PROMPT_TOKENS = 14
ANSWER = "ok"
_REASONING = 64


def _reasons(model: str) -> bool:
    m = model.lower()
    return m.startswith(("o1", "o3", "o4", "gpt-5")) or "2.5" in m or "reasoner" in m


def _sse(events: list[Any], *, named: bool = False) -> Answer:
    lines: list[str] = []
    for e in events:
        if named:
            lines.append(f"event: {e['type']}")
        lines.append("data: " + (e if isinstance(e, str) else json.dumps(e)))
        lines.append("")
    return Answer(200, ("\n".join(lines) + "\n").encode(), {}, "text/event-stream")


def _spend(model: str, state: str | None, cap: int) -> tuple[int, int, str]:
    """(reasoning tokens, visible tokens, text) within an output cap of `cap`."""
    if state == "reasoning_hog":
        return cap, 0, ""
    reasoning = min(_REASONING, max(0, cap - 1)) if _reasons(model) else 0
    return reasoning, 1, ANSWER


_FILTERED = {
    category: {"filtered": False, "severity": "safe"}
    for category in ("hate", "self_harm", "sexual", "violence")
}
_PROMPT_FILTER = [{"prompt_index": 0, "content_filter_results": _FILTERED}]
"""Azure OpenAI's content-filter annotations (its REST reference's chat completion example)."""


def openai_chat(
    sim: SimKind, p: SimProvider, body: dict[str, Any], *, azure: bool = False
) -> Answer:
    """`POST /v1/chat/completions` (`azure`: with Azure's content-filter annotations, a first
    stream chunk with no choices, and the deployment's base model named in `model`)."""
    model = body.get("model")
    if not isinstance(model, str) or not isinstance(body.get("messages"), list):
        return openai_error(
            400, "you must provide a model parameter", "invalid_request_error", None
        )
    refused = sim.model_answer(p, model)
    if refused is not None:
        return refused
    state = p.model_states.get(model)
    if state == "bad_request":
        return openai_error(
            400,
            "Unsupported parameter: 'max_tokens'",
            "invalid_request_error",
            "unsupported_parameter",
        )
    cap = body.get("max_completion_tokens", body.get("max_tokens", 4096))
    cap = cap if isinstance(cap, int) and cap > 0 else 4096
    reasoning, visible, text = _spend(model, state, cap)
    usage = {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": reasoning + visible,
        "total_tokens": PROMPT_TOKENS + reasoning + visible,
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }
    finish = "length" if state == "reasoning_hog" else "stop"
    base = {"id": "chatcmpl-sim", "created": 1700000000, "model": model}
    if azure:
        base["model"] = "gpt-4o-2024-08-06"
    if not body.get("stream"):
        if state == "error_in_body":
            return json_answer(200, {"error": {"message": "Provider returned error", "code": 502}})
        message = {"role": "assistant", "content": text}
        choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish}
        whole = {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
        if azure:
            choice["content_filter_results"] = _FILTERED
            whole["prompt_filter_results"] = _PROMPT_FILTER
        return json_answer(200, whole)
    chunk = {**base, "object": "chat.completion.chunk"}
    events: list[Any] = []
    if azure:  # Azure streams the prompt's filter results first, in a chunk with no choices
        events.append(
            {
                "choices": [],
                "created": 0,
                "id": "",
                "model": "",
                "object": "",
                "prompt_filter_results": _PROMPT_FILTER,
            }
        )
    events.append(
        {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}
    )
    if state == "error_in_body":
        events.append(
            {
                **chunk,
                "error": {"message": "Provider returned error", "code": 502},
                "choices": [{"index": 0, "delta": {"content": ""}, "finish_reason": "error"}],
            }
        )
    else:
        if text:
            events.append({**chunk, "choices": [{"index": 0, "delta": {"content": text}}]})
        events.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({**chunk, "choices": [], "usage": usage})
    events.append("[DONE]")
    return _sse(events)


def anthropic_messages(sim: SimKind, p: SimProvider, body: dict[str, Any]) -> Answer:
    """`POST /v1/messages`."""
    model, cap = body.get("model"), body.get("max_tokens")
    if (
        not isinstance(model, str)
        or not isinstance(cap, int)
        or not isinstance(body.get("messages"), list)
    ):
        return anthropic_error(400, "invalid_request_error", "max_tokens: Field required")
    refused = sim.model_answer(p, model)
    if refused is not None:
        return refused
    state = p.model_states.get(model)
    if state == "bad_request":
        return anthropic_error(400, "invalid_request_error", "max_tokens: too small")
    _, visible, text = _spend(model, state, cap)
    usage = {
        "input_tokens": PROMPT_TOKENS,
        "output_tokens": cap if state == "reasoning_hog" else visible,
    }
    msg = {"id": "msg_sim", "type": "message", "role": "assistant", "model": model}
    if not body.get("stream"):
        content = [{"type": "text", "text": text}] if text else []
        return json_answer(
            200, {**msg, "content": content, "stop_reason": "end_turn", "usage": usage}
        )
    events: list[Any] = [
        {
            "type": "message_start",
            "message": {
                **msg,
                "content": [],
                "usage": {"input_tokens": PROMPT_TOKENS, "output_tokens": 1},
            },
        }
    ]
    if state == "error_in_body":
        events.append(
            {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
        )
    else:
        events.append(
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            }
        )
        if text:
            events.append(
                {
                    "type": "content_block_delta",
                    "index": 0,
                    "delta": {"type": "text_delta", "text": text},
                }
            )
        events.append({"type": "content_block_stop", "index": 0})
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": usage["output_tokens"]},
            }
        )
        events.append({"type": "message_stop"})
    return _sse(events, named=True)


def gemini_generate(
    sim: SimKind, p: SimProvider, name: str, body: dict[str, Any], *, stream: bool
) -> Answer:
    """`POST /v1beta/models/{m}:generateContent` and `:streamGenerateContent?alt=sse`."""
    refused = sim.model_answer(p, name)
    if refused is not None:
        return refused
    if not isinstance(body.get("contents"), list):
        return json_answer(
            400,
            {
                "error": {
                    "code": 400,
                    "status": "INVALID_ARGUMENT",
                    "message": "contents is not specified",
                }
            },
        )
    state = p.model_states.get(name)
    gen = body.get("generationConfig") or {}
    cap = gen.get("maxOutputTokens", 8192) if isinstance(gen, dict) else 8192
    thinking = (
        (gen.get("thinkingConfig") or {}).get("thinkingBudget") if isinstance(gen, dict) else None
    )
    reasoning, visible, text = _spend(name, state, cap)
    if isinstance(thinking, int):
        reasoning = min(reasoning, thinking)
    usage = {
        "promptTokenCount": PROMPT_TOKENS,
        "candidatesTokenCount": visible,
        "totalTokenCount": PROMPT_TOKENS + visible + reasoning,
    }
    if reasoning:
        usage["thoughtsTokenCount"] = reasoning
    parts = [{"text": text}] if text else []
    cand = {
        "content": {"role": "model", "parts": parts},
        "finishReason": "MAX_TOKENS" if state == "reasoning_hog" else "STOP",
        "index": 0,
    }
    if state == "error_in_body":
        payload: dict[str, Any] = {
            "error": {"code": 503, "status": "UNAVAILABLE", "message": "The model is overloaded."}
        }
    else:
        payload = {"candidates": [cand], "usageMetadata": usage, "modelVersion": name}
    if not stream:
        return json_answer(200, payload)
    return _sse([payload])


def ollama_chat(sim: SimKind, p: SimProvider, body: dict[str, Any]) -> Answer:
    """`POST /api/chat`: streamed by default, as newline-delimited JSON objects, the last one
    (`done: true`) with the counts; `options.num_predict` caps the generated tokens."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        return json_answer(400, {"error": "model is required"})
    name = model if ":" in model else f"{model}:latest"
    refused = sim.model_answer(p, name)
    if refused is not None:
        return refused
    state = p.model_states.get(name)
    if state == "bad_request":
        return json_answer(400, {"error": "invalid options"})
    options = body.get("options") or {}
    cap = options.get("num_predict", 128) if isinstance(options, dict) else 128
    cap = cap if isinstance(cap, int) and cap > 0 else 128
    reasoning, visible, text = _spend(model, state, cap)
    head = {"model": model, "created_at": "2025-01-01T00:00:00.000000Z"}
    done = {
        **head,
        "done": True,
        "done_reason": "length" if state == "reasoning_hog" else "stop",
        "total_duration": 5191566416,
        "load_duration": 2154458,
        "prompt_eval_count": PROMPT_TOKENS,
        "prompt_eval_duration": 383809000,
        "eval_count": reasoning + visible,
        "eval_duration": 4799921000,
    }
    thinking = "hmm " * reasoning
    if body.get("stream", True) is False:
        if state == "error_in_body":
            return json_answer(200, {"error": "an error was encountered while running the model"})
        message = {"role": "assistant", "content": text}
        if thinking:
            message["thinking"] = thinking
        return json_answer(200, {**done, "message": message})
    lines: list[dict[str, Any]] = []
    if thinking:
        lines.append(
            {
                **head,
                "message": {"role": "assistant", "content": "", "thinking": thinking},
                "done": False,
            }
        )
    if state == "error_in_body":
        lines.append({"error": "an error was encountered while running the model"})
    else:
        if text:
            lines.append({**head, "message": {"role": "assistant", "content": text}, "done": False})
        lines.append({**done, "message": {"role": "assistant", "content": ""}})
    payload = "".join(json.dumps(line) + "\n" for line in lines).encode()
    return Answer(200, payload, {}, "application/x-ndjson")
