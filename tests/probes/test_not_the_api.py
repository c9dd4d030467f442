"""An answer that is not from the expected API says so, instead of a misleading verdict."""

from __future__ import annotations

import pytest

from modelmesh_healthd.probes.classifier.foreign import not_the_api
from modelmesh_healthd.probes.classifier.replies import Finding, Reply
from modelmesh_healthd.state import Outcome

HTML = {"content-type": "text/html; charset=utf-8"}
TEXT = {"content-type": "text/plain"}
JSON = {"content-type": "application/json"}
NOT_FOUND = Finding(Outcome.MODEL_NOT_FOUND, "HTTP 404", missing=frozenset({"gpt-4o"}))
BAD = Finding(Outcome.PROTOCOL_ERROR, "HTTP 404 (wrong base URL or resource?)")
HINT = "(wrong base URL, or another server on that port?)"


@pytest.mark.parametrize(
    ("reply", "kind", "judgement", "detail"),
    [
        (
            Reply(404, HTML, b"<!doctype html><h1>Not Found</h1>"),
            "openai",
            NOT_FOUND,
            f"HTTP 404 an HTML page: not the openai API {HINT}",
        ),
        (
            Reply(404, {}, b"  <html>nope</html>"),
            "anthropic",
            BAD,
            f"HTTP 404 an HTML page: not the anthropic API {HINT}",
        ),
        (
            Reply(404, TEXT, b"404 page not found"),
            "ollama",
            BAD,
            f"HTTP 404 text/plain that is not JSON: not the ollama API {HINT}",
        ),
        (
            Reply(200, HTML, b"<html>welcome</html>"),
            "gemini",
            Finding(Outcome.PROTOCOL_ERROR, "unexpected body: not a JSON object"),
            f"HTTP 200 an HTML page: not the gemini API {HINT}",
        ),
        (
            Reply(404, JSON, b'{"detail": "Not Found"}'),
            "openai",
            NOT_FOUND,
            f"HTTP 404 JSON without an error object: not the openai API {HINT}",
        ),
    ],
    ids=[
        "a 404 web page is not a missing model",
        "an HTML page without a content type",
        "plain text from another server",
        "a 200 web page",
        "a web framework's route 404 is not a missing model",
    ],
)
def test_a_foreign_answer_becomes_a_protocol_error_naming_the_likely_cause(
    reply: Reply, kind: str, judgement: Finding, detail: str
) -> None:
    assert not_the_api(reply, kind, judgement) == Finding(Outcome.PROTOCOL_ERROR, detail)


@pytest.mark.parametrize(
    ("reply", "kind", "judgement"),
    [
        (Reply(404, JSON, b'{"error": {"code": "model_not_found"}}'), "openai", NOT_FOUND),
        (
            Reply(404, JSON, b'{"type": "error", "error": {"type": "not_found_error"}}'),
            "anthropic",
            NOT_FOUND,
        ),
        (Reply(404, JSON, b'{"error": "model \'x\' not found"}'), "ollama", NOT_FOUND),
        (Reply(404, JSON, b'{"detail": "Not Found"}'), "openai", BAD),
        (Reply(404, {}, b""), "openai", BAD),
        (Reply(404, HTML, b"<html></html>"), "http", BAD),
        (
            Reply(502, HTML, b"<html>Bad Gateway</html>"),
            "openai",
            Finding(Outcome.SERVER_ERROR, "HTTP 502"),
        ),
        (
            Reply(401, HTML, b"<html>denied</html>"),
            "openai",
            Finding(Outcome.AUTH_INVALID, "HTTP 401"),
        ),
        (
            Reply(200, HTML, b"<html>" + b"x" * 100, truncated=True),
            "openai",
            Finding(Outcome.PROTOCOL_ERROR, "body over the 106-byte cap"),
        ),
    ],
    ids=[
        "the API's own JSON 404",
        "anthropic's JSON 404",
        "ollama's error string",
        "a route 404 on a list URL already says wrong base URL",
        "an empty body says nothing",
        "the generic http kind",
        "a proxy's 502 page is still an outage",
        "a proxy's 401 page is still a refusal",
        "a body over the cap keeps its verdict",
    ],
)
def test_an_answer_that_may_be_the_api_keeps_its_verdict(
    reply: Reply, kind: str, judgement: Finding
) -> None:
    assert not_the_api(reply, kind, judgement) is judgement
