"""What a simulated provider answers, per behaviour, in its kind's shapes.

Pure functions (no server here): a provider's state and a behaviour in, a status, headers and a
body out. The shapes are each kind's (`simulator/kinds/`); the behaviour table is here, once.
"""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import Behaviour, SimProvider
from modelmesh_healthd.simulator.kinds import SIMS
from modelmesh_healthd.simulator.kinds._base import loading_answer
from modelmesh_healthd.simulator.shapes import Answer

__all__ = ["Answer", "answer", "bad_key_answer", "error_answer", "healthy_answer"]

_BAD_GATEWAY = b"<html><head><title>502 Bad Gateway</title></head><body>bad gateway</body></html>"


def bad_key_answer(p: SimProvider) -> Answer:
    """What the kind answers a missing, wrong or revoked key."""
    return SIMS[p.kind].bad_key(p)


def error_answer(p: SimProvider, behaviour: Behaviour) -> Answer:
    """The answer of a non-streaming, non-healthy behaviour, in the kind's shape."""
    sim, b = SIMS[p.kind], behaviour
    if b is Behaviour.KEY_REVOKED:
        return sim.bad_key(p)
    if b is Behaviour.UNAUTHORIZED:
        return sim.unauthorized(p)
    if b is Behaviour.FORBIDDEN:
        return sim.forbidden(p)
    if b is Behaviour.RATE_LIMITED:
        return sim.rate_limited(p)
    if b is Behaviour.INSUFFICIENT_QUOTA:
        return sim.insufficient_quota(p)
    if b is Behaviour.PAYMENT_REQUIRED:
        return sim.payment_required(p)
    if b is Behaviour.OVERLOADED:
        return sim.overloaded(p)
    if b is Behaviour.LOADING:
        # llama.cpp's answer while it loads; any kind may sit behind such a server.
        return loading_answer()
    if b is Behaviour.SERVER_ERROR:
        return sim.server_error(p)
    if b is Behaviour.BAD_GATEWAY:
        return Answer(502, _BAD_GATEWAY, {}, "text/html")
    if b is Behaviour.UNAVAILABLE:
        return sim.unavailable(p)
    raise ValueError(f"{b} is not an error answer")


def healthy_answer(
    p: SimProvider,
    path: str,
    query: Mapping[str, str],
    method: str = "GET",
    body: bytes = b"",
) -> Answer:
    """The correct answer of a healthy provider of this kind to `METHOD /{path}`."""
    sim = SIMS[p.kind]
    found = sim.healthy(p, path, query) if method == "GET" else sim.post(p, path, query, body)
    return found if found is not None else sim.not_found(p, path)


def answer(
    p: SimProvider,
    path: str,
    headers: Mapping[str, str],
    query: Mapping[str, str],
    *,
    method: str = "GET",
    body: bytes = b"",
) -> Answer:
    """The whole answer of provider `p` to a request for `/{path}` (behaviours played at the
    connection level, `STREAMING`, are the server's): its behaviour's error, a refused key,
    a refused request, or the healthy answer. Counts nothing."""
    if p.behaviour is not Behaviour.HEALTHY:
        return error_answer(p, p.behaviour)
    sim = SIMS[p.kind]
    if not sim.key_ok(p, headers, query, path):
        return sim.bad_key(p)
    refused = sim.precheck(headers)
    if refused is not None:
        return refused
    return healthy_answer(p, path, query, method, body)
