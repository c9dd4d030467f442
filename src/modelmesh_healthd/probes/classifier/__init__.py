"""The classifier: every rule that turns what a probe saw into an outcome, pure and table-tested.

* `replies`: one answer (`Reply`) and what it shows (`Finding`), with the body helpers.
* `errors`: non-2xx answers of any provider (`judge_error`), read through the kind's `Dialect`.
* `judges`: the judges of answers many kinds share (model lists, JSON objects).
* `conditions`: the generic `http` kind's expected statuses and body/header conditions.
* `exceptions`: network failures (`classify_exception`).

A kind's own judges (OpenRouter's key, Ollama's tags...) live in its kind module.
"""

from modelmesh_healthd.probes.classifier.conditions import (
    JsonPathError,
    judge_http,
    parse_json_path,
)
from modelmesh_healthd.probes.classifier.errors import (
    MAX_RETRY_AFTER,
    OPENAI_HEADROOM,
    PLAIN,
    Dialect,
    ErrorInfo,
    error_info,
    judge_error,
    parse_retry_after,
    rate_limit_headroom,
)
from modelmesh_healthd.probes.classifier.exceptions import classify_exception
from modelmesh_healthd.probes.classifier.judges import (
    Judge,
    judge_json_answer,
    judge_list,
    judge_openai_list,
    judge_single_model,
    listed,
    model_object,
    too_big,
    unexpected,
    with_headroom,
)
from modelmesh_healthd.probes.classifier.replies import (
    OK,
    Finding,
    Reply,
    looks_like_json_object,
    models_finding,
    parse_json_object,
)

__all__ = [
    "MAX_RETRY_AFTER",
    "OK",
    "OPENAI_HEADROOM",
    "PLAIN",
    "Dialect",
    "ErrorInfo",
    "Finding",
    "JsonPathError",
    "Judge",
    "Reply",
    "classify_exception",
    "error_info",
    "judge_error",
    "judge_http",
    "judge_json_answer",
    "judge_list",
    "judge_openai_list",
    "judge_single_model",
    "listed",
    "looks_like_json_object",
    "model_object",
    "models_finding",
    "parse_json_object",
    "parse_json_path",
    "parse_retry_after",
    "rate_limit_headroom",
    "too_big",
    "unexpected",
    "with_headroom",
]
