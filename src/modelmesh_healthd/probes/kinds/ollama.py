"""`ollama`: `GET {base}/api/version`; with models, `GET {base}/api/ps` and one `POST
{base}/api/show {model}` per model.

Ollama's `/` answers "Ollama is running" even while generation hangs; `/api/ps` goes through
the scheduler that serves generation (it lists the models loaded now), and `/api/show` reads one
model's manifest (404: that model missing). Neither generates. With `deep` off, the models list
`GET {base}/api/tags` checks them instead. https://github.com/ollama/ollama/blob/main/docs/api.md

Ollama has no key of its own; one set here is sent as Bearer, for an authenticating proxy.
"""

from __future__ import annotations

from modelmesh_healthd.probes.classifier import (
    OK,
    Dialect,
    Finding,
    Reply,
    judge_error,
    judge_list,
    parse_json_object,
    unexpected,
)
from modelmesh_healthd.probes.engine import Step
from modelmesh_healthd.probes.kinds._common import base, headers
from modelmesh_healthd.probes.kinds._rungs import model_judge, model_rung
from modelmesh_healthd.probes.target import ProbeTarget

__all__ = [
    "DIALECT",
    "judge_ollama_ps",
    "judge_ollama_show",
    "judge_ollama_tags",
    "judge_ollama_version",
    "ollama_name",
    "plan",
]

DIALECT = Dialect("ollama")


def ollama_name(name: str) -> str:
    """Ollama's default tag: `llama3.2` is `llama3.2:latest`."""
    return name if ":" in name else f"{name}:latest"


def judge_ollama_version(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /api/version`: `{"version": "0.5.7"}`."""
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now)
    obj = None if reply.truncated else parse_json_object(reply.body)
    if obj is None or not isinstance(obj.get("version"), str):
        return unexpected("no `version`")
    return OK


def judge_ollama_tags(
    reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float
) -> Finding:
    """`GET /api/tags`: `{"models": [{"name": "llama3.2:latest", "model": ...}]}`."""
    return judge_list(
        reply,
        dialect,
        models,
        now,
        field="models",
        keys=("name", "model"),
        normalize=ollama_name,
        complete=lambda obj: True,
    )


def judge_ollama_ps(reply: Reply, dialect: Dialect, models: tuple[str, ...], now: float) -> Finding:
    """`GET /api/ps`: `{"models": [{"name", "model", "expires_at", "size_vram", ...}]}`.

    A model not loaded is not a fault (Ollama loads on demand): the list is read for its shape,
    and each model's presence is left to its `/api/show` rung.
    """
    if not 200 <= reply.status <= 299:
        return judge_error(reply, dialect, now)
    obj = None if reply.truncated else parse_json_object(reply.body)
    if obj is None or not isinstance(obj.get("models"), list):
        return unexpected("no `models` list")
    return OK


judge_ollama_show = model_judge(
    lambda obj: isinstance(obj.get("details"), dict) or isinstance(obj.get("modelfile"), str),
    "no `details`",
)
"""`POST /api/show {"model"}`: `{"modelfile", "parameters", "details": {...}, ...}`; 404
`{"error": "model 'x' not found"}`."""


def plan(target: ProbeTarget) -> tuple[Step, ...]:
    """The requests of one probe of `target`."""
    h = headers(target)
    if target.models and target.deep:
        ps = Step("GET", f"{base(target)}/api/ps", h, judge_ollama_ps)
        show = f"{base(target)}/api/show"
        rungs = (
            model_rung(show, h, {"model": m}, model=m, judge=judge_ollama_show)
            for m in target.upstream_models
        )
        return (ps, *rungs)
    if target.models:
        # /api/tags proves the server is up as well as /api/version does: one request, not two.
        url = f"{base(target)}/api/tags"
        return (Step("GET", url, h, judge_ollama_tags, target.upstream_models),)
    return (Step("GET", f"{base(target)}/api/version", h, judge_ollama_version),)
