"""Unknown keys: a close spelling where the key is, else the one place the key belongs."""

from __future__ import annotations

import pytest

from modelmesh_healthd.config.hints import unknown_key_message


@pytest.mark.parametrize(
    ("loc", "message"),
    [
        (("providers", "openai", "base_ur"), "unknown key (did you mean 'base_url'?)"),
        (
            ("providers", "openai", "timeout"),
            "unknown key; did you mean providers.openai.schedule.timeout?",
        ),
        (("interval",), "unknown key; did you mean schedule.interval?"),
        (("max_body",), "unknown key; did you mean http.max_body?"),
        (("schedule", "max_body"), "unknown key; did you mean http.max_body?"),
        (
            ("providers", "a.b", "interval"),
            'unknown key; did you mean providers["a.b"].schedule.interval?',
        ),
        (("kind",), "unknown key; did you mean providers.<id>.kind?"),
        (
            ("daemon", "min_providers"),
            "unknown key; did you mean daemon.network_guard.min_providers?",
        ),
        (
            ("providers", "p", "http", "regex"),
            "unknown key; did you mean providers.p.http.conditions[].regex?",
        ),
        (("providers", "p", "nothing_like_it"), "unknown key"),
        (("providers", "p", "http", "value"), "unknown key"),  # conditions[] or headers[]: no guess
    ],
)
def test_an_unknown_key_gets_the_hint_that_fits(loc: tuple[str, ...], message: str) -> None:
    assert unknown_key_message(loc) == message


def test_a_home_far_below_where_the_key_was_written_is_not_suggested() -> None:
    # `name` is also a key of providers.<id>.http.response_headers[], three sections down.
    assert unknown_key_message(("providers", "p", "name")) == (
        "unknown key; did you mean models.<id>.name?"
    )


def test_no_other_section_is_suggested_for_a_translated_path() -> None:
    assert unknown_key_message(("providers", "p", "timeout"), relocate=False) == "unknown key"
