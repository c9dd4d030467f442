"""The pure classifier: (status, headers, body) -> outcome, for every kind and every trap."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.probes import (
    PROBES,
    Reply,
    dialect_of,
    error_info,
    judge_error,
    parse_retry_after,
)
from modelmesh_healthd.probes.classifier import (
    MAX_RETRY_AFTER,
    OPENAI_HEADROOM,
    Judge,
    judge_json_answer,
    judge_openai_list,
    judge_single_model,
    rate_limit_headroom,
)
from modelmesh_healthd.probes.kinds.anthropic import judge_anthropic_list
from modelmesh_healthd.probes.kinds.cohere import judge_cohere_models
from modelmesh_healthd.probes.kinds.elevenlabs import judge_elevenlabs_models
from modelmesh_healthd.probes.kinds.firecrawl import judge_firecrawl_credits
from modelmesh_healthd.probes.kinds.gemini import judge_gemini_list
from modelmesh_healthd.probes.kinds.local import judge_local_health
from modelmesh_healthd.probes.kinds.ollama import judge_ollama_tags, judge_ollama_version
from modelmesh_healthd.probes.kinds.openrouter import (
    judge_openrouter_key,
)
from modelmesh_healthd.probes.kinds.tavily import judge_tavily_usage
from modelmesh_healthd.probes.kinds.together import judge_together_models
from modelmesh_healthd.state import Outcome

NOW = 1_750_000_000.0
KINDS = tuple(PROBES)


def j(payload: object) -> bytes:
    return json.dumps(payload).encode()


def openai_err(code: str | None, type_: str) -> bytes:
    return j({"error": {"message": "m", "type": type_, "param": None, "code": code}})


def anthropic_err(type_: str) -> bytes:
    return j({"type": "error", "error": {"type": type_, "message": "m"}})


def google_err(code: int, status: str, reason: str | None = None) -> bytes:
    err: dict[str, object] = {"code": code, "message": "m", "status": status}
    if reason:
        err["details"] = [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": reason}]
    return j({"error": err})


ERROR_TABLE = [
    # kind, status, body, expected outcome
    ("openai", 401, openai_err("invalid_api_key", "invalid_request_error"), Outcome.AUTH_INVALID),
    (
        "openai",
        403,
        openai_err("unsupported_country_region_territory", "request_forbidden"),
        Outcome.AUTH_INVALID,
    ),
    ("openai", 429, openai_err("rate_limit_exceeded", "requests"), Outcome.RATE_LIMITED),
    (
        "openai",
        429,
        openai_err("insufficient_quota", "insufficient_quota"),
        Outcome.QUOTA_EXHAUSTED,
    ),
    ("openai", 429, openai_err(None, "insufficient_quota"), Outcome.QUOTA_EXHAUSTED),
    ("openai", 429, b"", Outcome.RATE_LIMITED),
    ("openai", 500, openai_err(None, "server_error"), Outcome.SERVER_ERROR),
    ("openai", 502, b"<html>bad gateway</html>", Outcome.SERVER_ERROR),
    ("openai", 503, openai_err(None, "server_error"), Outcome.OVERLOADED),
    ("openai", 504, b"", Outcome.SERVER_ERROR),
    ("openai", 404, openai_err(None, "invalid_request_error"), Outcome.PROTOCOL_ERROR),
    ("openai", 400, openai_err(None, "invalid_request_error"), Outcome.PROTOCOL_ERROR),
    ("openai", 302, b"", Outcome.PROTOCOL_ERROR),
    ("openai", 408, b"", Outcome.TIMEOUT),
    ("anthropic", 401, anthropic_err("authentication_error"), Outcome.AUTH_INVALID),
    ("anthropic", 402, anthropic_err("billing_error"), Outcome.QUOTA_EXHAUSTED),
    ("anthropic", 403, anthropic_err("permission_error"), Outcome.AUTH_INVALID),
    ("anthropic", 429, anthropic_err("rate_limit_error"), Outcome.RATE_LIMITED),
    ("anthropic", 500, anthropic_err("api_error"), Outcome.SERVER_ERROR),
    ("anthropic", 529, anthropic_err("overloaded_error"), Outcome.OVERLOADED),
    ("gemini", 400, google_err(400, "INVALID_ARGUMENT", "API_KEY_INVALID"), Outcome.AUTH_INVALID),
    ("gemini", 400, google_err(400, "INVALID_ARGUMENT"), Outcome.PROTOCOL_ERROR),
    ("gemini", 400, google_err(400, "FAILED_PRECONDITION"), Outcome.PROTOCOL_ERROR),
    ("gemini", 403, google_err(403, "PERMISSION_DENIED"), Outcome.AUTH_INVALID),
    ("gemini", 429, google_err(429, "RESOURCE_EXHAUSTED"), Outcome.RATE_LIMITED),
    ("gemini", 500, google_err(500, "INTERNAL"), Outcome.SERVER_ERROR),
    ("gemini", 503, google_err(503, "UNAVAILABLE"), Outcome.OVERLOADED),
    ("openrouter", 401, j({"error": {"code": 401, "message": "No auth"}}), Outcome.AUTH_INVALID),
    ("openrouter", 402, j({"error": {"code": 402, "message": "credits"}}), Outcome.QUOTA_EXHAUSTED),
    ("openrouter", 429, j({"error": {"code": 429, "message": "slow down"}}), Outcome.RATE_LIMITED),
    ("azure-openai", 401, j({"error": {"code": "401", "message": "denied"}}), Outcome.AUTH_INVALID),
    ("azure-openai", 403, j({"error": {"code": "403", "message": "no"}}), Outcome.AUTH_INVALID),
    (
        "azure-openai",
        404,
        j({"error": {"code": "404", "message": "Resource not found"}}),
        Outcome.PROTOCOL_ERROR,
    ),
    ("azure-openai", 429, j({"error": {"code": "429", "message": "rate"}}), Outcome.RATE_LIMITED),
    ("ollama", 500, j({"error": "boom"}), Outcome.SERVER_ERROR),
    ("tavily", 432, j({"detail": {"error": "plan limit"}}), Outcome.QUOTA_EXHAUSTED),
    ("tavily", 433, j({"detail": {"error": "paygo limit"}}), Outcome.QUOTA_EXHAUSTED),
    ("openai", 432, b"", Outcome.PROTOCOL_ERROR),
    ("perplexity", 401, b"<html>401 Authorization Required</html>", Outcome.AUTH_INVALID),
    ("deepseek", 402, j({"error": {"message": "Insufficient Balance"}}), Outcome.QUOTA_EXHAUSTED),
    (
        "local",
        503,
        j({"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}}),
        Outcome.LOADING,
    ),
    ("local", 503, j({"status": "loading model"}), Outcome.LOADING),
    ("local", 503, b"", Outcome.SERVER_ERROR),
    ("local", 503, j({"error": {"message": "engine dead"}}), Outcome.SERVER_ERROR),
    ("openai", 503, j({"error": {"code": 503, "message": "Loading model"}}), Outcome.LOADING),
    ("http", 418, b"teapot", Outcome.PROTOCOL_ERROR),
]


@pytest.mark.parametrize(("kind", "status", "body", "expected"), ERROR_TABLE)
def test_an_error_answer_is_classified_as_providers_md_says(
    kind: str, status: int, body: bytes, expected: Outcome
) -> None:
    assert judge_error(Reply(status, {}, body), dialect_of(kind), NOW).outcome is expected


def test_openai_429_insufficient_quota_is_quota_exhausted_not_a_rate_limit() -> None:
    body = openai_err("insufficient_quota", "insufficient_quota")
    got = judge_error(Reply(429, {"retry-after": "20"}, body), dialect_of("openai"), NOW)
    assert got.outcome is Outcome.QUOTA_EXHAUSTED
    assert got.retry_after is None


def test_openai_429_rate_limit_carries_retry_after_and_headroom() -> None:
    headers = {
        "retry-after": "7",
        "x-ratelimit-remaining-requests": "0",
        "x-ratelimit-remaining-tokens": "29000",
    }
    body = openai_err("rate_limit_exceeded", "requests")
    got = judge_error(Reply(429, headers, body), dialect_of("openai"), NOW)
    assert got.outcome is Outcome.RATE_LIMITED
    assert got.retry_after == 7.0
    assert dict(got.headroom) == {"requests": 0.0, "tokens": 29000.0}


def test_gemini_bad_key_as_400_is_auth_invalid_but_a_plain_400_elsewhere_is_not() -> None:
    body = google_err(400, "INVALID_ARGUMENT", "API_KEY_INVALID")
    assert (
        judge_error(Reply(400, {}, body), dialect_of("gemini"), NOW).outcome is Outcome.AUTH_INVALID
    )
    assert (
        judge_error(Reply(400, {}, body), dialect_of("openai"), NOW).outcome
        is Outcome.PROTOCOL_ERROR
    )


def test_gemini_rate_limit_takes_its_delay_from_retry_info_when_no_header() -> None:
    body = j(
        {
            "error": {
                "code": 429,
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "37s"}
                ],
            }
        }
    )
    got = judge_error(Reply(429, {}, body), dialect_of("gemini"), NOW)
    assert (got.outcome, got.retry_after) == (Outcome.RATE_LIMITED, 37.0)


def gemini_quota_failure(quota_id: str) -> bytes:
    return j(
        {
            "error": {
                "code": 429,
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                        "violations": [{"quotaMetric": "m", "quotaId": quota_id}],
                    },
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "21s"},
                ],
            }
        }
    )


@pytest.mark.parametrize(
    ("quota_id", "outcome"),
    [
        ("GenerateRequestsPerMinutePerProjectPerModel-FreeTier", Outcome.RATE_LIMITED),
        ("GenerateRequestsPerDayPerProjectPerModel-FreeTier", Outcome.QUOTA_EXHAUSTED),
        ("GenerateContentInputTokensPerModelPerDay-FreeTier", Outcome.QUOTA_EXHAUSTED),
    ],
)
def test_gemini_resource_exhausted_is_a_quota_only_when_a_daily_quota_ran_out(
    quota_id: str, outcome: Outcome
) -> None:
    got = judge_error(Reply(429, {}, gemini_quota_failure(quota_id)), dialect_of("gemini"), NOW)
    assert got.outcome is outcome


def test_a_404_on_a_model_url_is_that_model_missing() -> None:
    body = openai_err("model_not_found", "invalid_request_error")
    got = judge_error(Reply(404, {}, body), dialect_of("openai"), NOW, model="gpt-x")
    assert got.outcome is Outcome.MODEL_NOT_FOUND
    assert got.missing == frozenset({"gpt-x"})


def test_the_detail_names_codes_but_never_the_providers_message() -> None:
    body = j(
        {"error": {"message": "Incorrect API key provided: sk-abc123", "code": "invalid_api_key"}}
    )
    got = judge_error(Reply(401, {}, body), dialect_of("openai"), NOW)
    assert got.detail is not None
    assert "invalid_api_key" in got.detail
    assert "sk-abc123" not in got.detail


# --- 2xx judges ---------------------------------------------------------------------


def openai_list(*ids: str) -> bytes:
    return j({"object": "list", "data": [{"id": i, "object": "model"} for i in ids]})


MNF, PE, QE, OK_ = (
    Outcome.MODEL_NOT_FOUND,
    Outcome.PROTOCOL_ERROR,
    Outcome.QUOTA_EXHAUSTED,
    Outcome.OK,
)

JUDGE_TABLE = [
    # judge, kind, body, models, expected outcome, expected missing
    (judge_openai_list, "openai", openai_list("a", "b"), (), Outcome.OK, set()),
    (judge_openai_list, "openai", openai_list("a", "b"), ("a",), Outcome.OK, set()),
    (judge_openai_list, "openai", openai_list("a"), ("a", "b"), Outcome.MODEL_NOT_FOUND, {"b"}),
    (judge_openai_list, "openai", b"<html>login</html>", (), Outcome.PROTOCOL_ERROR, set()),
    (judge_openai_list, "openai", b"", (), Outcome.PROTOCOL_ERROR, set()),
    (judge_openai_list, "openai", b'{"data": 3}', ("a",), Outcome.PROTOCOL_ERROR, set()),
    (judge_openai_list, "openai", b'{"data": [', ("a",), Outcome.PROTOCOL_ERROR, set()),
    (judge_single_model, "openai", j({"id": "a", "object": "model"}), ("a",), Outcome.OK, set()),
    (judge_single_model, "openai", b"[]", ("a",), Outcome.PROTOCOL_ERROR, set()),
    (
        judge_anthropic_list,
        "anthropic",
        j({"data": [{"id": "c"}], "has_more": False}),
        ("c", "d"),
        Outcome.MODEL_NOT_FOUND,
        {"d"},
    ),
    (
        judge_anthropic_list,
        "anthropic",
        j({"data": [{"id": "c"}], "has_more": True}),
        ("c", "d"),
        Outcome.OK,
        set(),
    ),
    (judge_anthropic_list, "anthropic", j({"data": []}), (), Outcome.OK, set()),
    (judge_anthropic_list, "anthropic", b"garbage", (), Outcome.PROTOCOL_ERROR, set()),
    (
        judge_gemini_list,
        "gemini",
        j({"models": [{"name": "models/g1"}]}),
        ("g1", "models/g1"),
        Outcome.OK,
        set(),
    ),
    (
        judge_gemini_list,
        "gemini",
        j({"models": [{"name": "models/g1"}]}),
        ("g2",),
        Outcome.MODEL_NOT_FOUND,
        {"g2"},
    ),
    (
        judge_gemini_list,
        "gemini",
        j({"models": [], "nextPageToken": "x"}),
        ("g2",),
        Outcome.OK,
        set(),
    ),
    (
        judge_openrouter_key,
        "openrouter",
        j({"data": {"limit_remaining": 3.5}}),
        (),
        Outcome.OK,
        set(),
    ),
    (
        judge_openrouter_key,
        "openrouter",
        j({"data": {"limit_remaining": 0}}),
        (),
        Outcome.QUOTA_EXHAUSTED,
        set(),
    ),
    (
        judge_openrouter_key,
        "openrouter",
        j({"data": {"limit_remaining": None}}),
        (),
        Outcome.OK,
        set(),
    ),
    (judge_openrouter_key, "openrouter", j({"nodata": 1}), (), Outcome.PROTOCOL_ERROR, set()),
    (judge_ollama_version, "ollama", j({"version": "0.5.7"}), (), Outcome.OK, set()),
    (judge_ollama_version, "ollama", b"Ollama is running", (), Outcome.PROTOCOL_ERROR, set()),
    (
        judge_ollama_tags,
        "ollama",
        j({"models": [{"name": "llama3.2:latest"}]}),
        ("llama3.2",),
        Outcome.OK,
        set(),
    ),
    (
        judge_ollama_tags,
        "ollama",
        j({"models": [{"name": "llama3.2:1b"}]}),
        ("llama3.2",),
        Outcome.MODEL_NOT_FOUND,
        {"llama3.2"},
    ),
    (judge_local_health, "local", b"", (), Outcome.OK, set()),
    (judge_local_health, "local", j({"status": "ok"}), (), Outcome.OK, set()),
    (judge_local_health, "local", j({"status": "loading model"}), (), Outcome.LOADING, set()),
    (judge_together_models, "together", j([{"id": "m/a"}]), ("m/a", "m/b"), MNF, {"m/b"}),
    (judge_together_models, "together", j({"data": []}), ("m/a",), PE, set()),
    (judge_cohere_models, "cohere", j({"models": [{"name": "c"}]}), ("c", "d"), MNF, {"d"}),
    (
        judge_cohere_models,
        "cohere",
        j({"models": [{"name": "c"}], "next_page_token": "x"}),
        ("c", "d"),
        Outcome.OK,
        set(),
    ),
    (judge_elevenlabs_models, "elevenlabs", j([{"model_id": "e"}]), ("e", "f"), MNF, {"f"}),
    (judge_json_answer, "perplexity", j({"requests": []}), (), Outcome.OK, set()),
    (judge_json_answer, "azure-speech", j([{"ShortName": "v"}]), (), Outcome.OK, set()),
    (judge_json_answer, "assemblyai", b"<html>hi</html>", (), PE, set()),
    (judge_firecrawl_credits, "firecrawl", j({"data": {"remaining_credits": 5}}), (), OK_, set()),
    (judge_firecrawl_credits, "firecrawl", j({"data": {"remaining_credits": 0}}), (), QE, set()),
    (judge_firecrawl_credits, "firecrawl", j({"success": True}), (), PE, set()),
    (judge_tavily_usage, "tavily", j({"key": {"usage": 3, "limit": 10}}), (), OK_, set()),
    (judge_tavily_usage, "tavily", j({"key": {"usage": 10, "limit": 10}}), (), QE, set()),
    (judge_tavily_usage, "tavily", j({"key": {"usage": 10, "limit": None}}), (), OK_, set()),
    (judge_tavily_usage, "tavily", j({"account": {}}), (), PE, set()),
]


@pytest.mark.parametrize(("judge", "kind", "body", "models", "expected", "missing"), JUDGE_TABLE)
def test_a_2xx_answer_is_judged_by_its_shape_and_the_models_it_lists(
    *,
    judge: Judge,
    kind: str,
    body: bytes,
    models: tuple[str, ...],
    expected: Outcome,
    missing: set[str],
) -> None:
    got = judge(Reply(200, {}, body), dialect_of(kind), models, NOW)
    assert got.outcome is expected
    assert got.missing == missing


def test_openrouter_reports_the_remaining_credit_as_headroom() -> None:
    got = judge_openrouter_key(
        Reply(200, {}, j({"data": {"limit_remaining": 8.25}})), dialect_of("openrouter"), (), NOW
    )
    assert dict(got.headroom) == {"credits": 8.25}


def test_a_body_cut_at_the_cap_is_a_protocol_error_even_when_it_looks_fine() -> None:
    reply = Reply(200, {}, openai_list("a"), truncated=True)
    assert judge_openai_list(reply, dialect_of("openai"), (), NOW).outcome is Outcome.PROTOCOL_ERROR


def test_anthropic_headroom_headers_are_read_on_a_success() -> None:
    headers = {
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-tokens-remaining": "x",
    }
    got = judge_anthropic_list(
        Reply(200, headers, j({"data": []})), dialect_of("anthropic"), (), NOW
    )
    assert dict(got.headroom) == {"requests": 49.0}


# --- Retry-After ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 1.5 ", 1.5),
        ("0", 0.0),
        ("-3", None),
        ("nan", None),
        ("inf", None),
        ("soon", None),
        ("", None),
        (None, None),
        ("99999999", MAX_RETRY_AFTER),
        (format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True), 30.0),
        (format_datetime(datetime.fromtimestamp(NOW - 30, UTC), usegmt=True), 0.0),
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(
    value: str | None, expected: float | None
) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_retry_after_ms_wins_over_retry_after() -> None:
    headers = {"retry-after-ms": "1500", "retry-after": "9"}
    got = judge_error(Reply(429, headers, b""), dialect_of("openai"), NOW)
    assert got.retry_after == 1.5


def test_headroom_is_empty_for_kinds_without_rate_limit_headers() -> None:
    headers = {"x-ratelimit-remaining-requests": "3"}
    assert dict(rate_limit_headroom(headers, dialect_of("ollama").headroom)) == {}
    assert dict(rate_limit_headroom(headers, OPENAI_HEADROOM)) == {"requests": 3.0}


# --- never raises ----------------------------------------------------------------------

JUDGES = [
    judge_openai_list,
    judge_single_model,
    judge_anthropic_list,
    judge_gemini_list,
    judge_openrouter_key,
    judge_ollama_version,
    judge_ollama_tags,
    judge_local_health,
    judge_json_answer,
    judge_together_models,
    judge_cohere_models,
    judge_elevenlabs_models,
    judge_firecrawl_credits,
    judge_tavily_usage,
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.binary(max_size=256) | json_values.map(lambda v: json.dumps(v).encode())
header_maps = st.dictionaries(
    st.sampled_from(
        [
            "retry-after",
            "retry-after-ms",
            "x-ratelimit-remaining-requests",
            "anthropic-ratelimit-requests-remaining",
        ]
    ),
    st.text(max_size=40),
)


@given(
    status=st.integers(100, 599),
    body=bodies,
    headers=header_maps,
    kind=st.sampled_from(KINDS),
    judge=st.sampled_from(JUDGES),
    truncated=st.booleans(),
)
def test_no_judge_raises_for_any_status_body_or_headers(
    *, status: int, body: bytes, headers: dict[str, str], kind: str, judge: Judge, truncated: bool
) -> None:
    got = judge(Reply(status, headers, body, truncated), dialect_of(kind), ("m1", "m2"), NOW)
    assert isinstance(got.outcome, Outcome)
    if got.retry_after is not None:
        assert 0.0 <= got.retry_after <= MAX_RETRY_AFTER


@given(st.text(max_size=60))
def test_retry_after_parsing_never_raises_and_stays_in_range(value: str) -> None:
    got = parse_retry_after(value, NOW)
    assert got is None or 0.0 <= got <= MAX_RETRY_AFTER


@given(bodies)
def test_error_info_never_raises_and_keeps_only_short_codes(body: bytes) -> None:
    info = error_info(body)
    assert all(len(t) <= 64 and " " not in t for t in info.tokens)
