"""The per-model JSON object answer: the start every judge of one model's answer shares."""

from __future__ import annotations

import json

import pytest

from modelmesh_healthd.probes import dialect_of
from modelmesh_healthd.probes.classifier import (
    Finding,
    Judge,
    Reply,
    judge_single_model,
    model_object,
)
from modelmesh_healthd.probes.kinds import lmstudio
from modelmesh_healthd.probes.kinds._rungs import model_judge
from modelmesh_healthd.state import Outcome

NOW = 1_750_000_000.0
NOT_FOUND = json.dumps({"error": {"message": "m", "code": "model_not_found"}}).encode()
BAD_KEY = json.dumps({"error": {"message": "m", "code": "invalid_api_key"}}).encode()

PREAMBLE_TABLE = [
    # reply, expected: an Outcome when judged before the body is read, else the body it reads
    (Reply(200, {}, b'{"id": "m", "state": "loaded"}'), {"id": "m", "state": "loaded"}),
    (Reply(200, {}, b"{}"), {}),
    (Reply(200, {}, b"[]"), None),
    (Reply(200, {}, b"<html>login</html>"), None),
    (Reply(200, {}, b""), None),
    (Reply(204, {}, b'{"id": "m"}'), {"id": "m"}),
    (Reply(200, {}, b'{"id": "m"}', truncated=True), Outcome.PROTOCOL_ERROR),
    (Reply(404, {}, NOT_FOUND), Outcome.MODEL_NOT_FOUND),
    (Reply(401, {}, BAD_KEY), Outcome.AUTH_INVALID),
    (Reply(429, {"retry-after": "3"}, b""), Outcome.RATE_LIMITED),
    (Reply(500, {}, b"oops"), Outcome.SERVER_ERROR),
]


@pytest.mark.parametrize(("reply", "expected"), PREAMBLE_TABLE)
def test_a_model_answer_is_judged_by_its_status_and_size_before_its_body_is_read(
    reply: Reply, expected: object
) -> None:
    got = model_object(reply, dialect_of("openai"), "m", NOW)
    if isinstance(expected, Outcome):
        assert isinstance(got, Finding)
        assert got.outcome is expected
    else:
        assert got == expected


def test_a_model_answer_cut_at_the_cap_says_so() -> None:
    got = model_object(Reply(200, {}, b'{"id"', truncated=True), dialect_of("openai"), "m", NOW)
    assert isinstance(got, Finding)
    assert "cap" in got.detail


PER_MODEL_JUDGES: list[tuple[str, Judge]] = [
    ("judge_single_model", judge_single_model),
    ("model_judge", model_judge(lambda obj: True, "anything")),
    ("judge_lmstudio_model", lmstudio.judge_lmstudio_model),
]


@pytest.mark.parametrize(
    "reply", [r for r, expected in PREAMBLE_TABLE if isinstance(expected, Outcome)]
)
@pytest.mark.parametrize(("name", "judge"), PER_MODEL_JUDGES)
def test_every_per_model_judge_starts_with_the_shared_preamble(
    name: str, judge: Judge, reply: Reply
) -> None:
    dialect = dialect_of("openai")
    shared = model_object(reply, dialect, "m", NOW)
    assert isinstance(shared, Finding)
    assert judge(reply, dialect, ("m",), NOW) == shared, name


@pytest.mark.parametrize(("name", "judge"), PER_MODEL_JUDGES)
def test_every_per_model_judge_refuses_a_body_that_is_not_a_json_object(
    name: str, judge: Judge
) -> None:
    got = judge(Reply(200, {}, b"[]"), dialect_of("openai"), ("m",), NOW)
    assert got.outcome is Outcome.PROTOCOL_ERROR, name
