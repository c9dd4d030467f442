"""`local`: vLLM, llama.cpp and other local servers: `GET {base}/health`, then the models list.

The llama.cpp trap: 503 `Loading model` while it loads is `loading`, not down. vLLM answers 503
when its engine is dead or draining: an outage (`server_error`), not back-pressure.
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import (
    OK,
    Dialect,
    Finding,
    Reply,
    judge_error,
    judge_openai_list,
    too_big,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import base, headers
from modelmesh_healthd.probes.target import LocalOptions, ProbeTarget
from modelmesh_healthd.state.outcome import Outcome

__all__ = ["DIALECT", "OPTIONS", "judge_local_health", "plan"]

DIALECT = Dialect("local", unavailable=Outcome.SERVER_ERROR)
OPTIONS = LocalOptions


def judge_local_health(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /health`: vLLM answers 200 with an empty body, llama.cpp `{"status": "ok"}`.

    llama.cpp answers 503 `Loading model` while it loads (`loading`, see `judge_error`); some
    versions said so with a 200, which is read the same way.
    """
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now)
    if reply.truncated:
        return too_big(reply)
    if reply.body and b"loading model" in reply.body[:512].lower():
        return Finding(Outcome.LOADING, f"HTTP {reply.status} loading model")
    return OK


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    opts = target.options if isinstance(target.options, LocalOptions) else LocalOptions()
    h = headers(target)
    health = Step("GET", base(target) + opts.health_path, h, judge_local_health)
    if not target.models and target.api_key is None:
        return (health,)
    # /health is open on vLLM even with --api-key; the models list is where the key is checked.
    models_url = base(target) + opts.models_path
    return (health, Step("GET", models_url, h, judge_openai_list, target.upstream_models))
