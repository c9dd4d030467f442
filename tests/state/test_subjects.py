"""History subjects: `Subjects` behaves as a dict of subject strings, and keeps the names put."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.state.subjects import (
    MODEL,
    PROVIDER,
    Subjects,
    model_subject,
    provider_subject,
    split_subject,
)


@pytest.mark.parametrize(
    ("subject", "key"),
    [
        ("provider:a", (PROVIDER, "a")),
        ("model:a.m", (MODEL, "a.m")),
        ("model:provider:x", (MODEL, "provider:x")),
        ("provider:", (PROVIDER, "")),
        ("pool:p", ("", "pool:p")),
        ("", ("", "")),
        ("Provider:a", ("", "Provider:a")),
    ],
)
def test_a_subject_splits_into_its_prefix_and_name(subject: str, key: tuple[str, str]) -> None:
    assert split_subject(subject) == key
    assert key[0] + key[1] == subject


def test_the_subject_of_a_provider_and_of_a_model_split_back_to_their_names() -> None:
    assert split_subject(provider_subject("a")) == (PROVIDER, "a")
    assert split_subject(model_subject("a.m")) == (MODEL, "a.m")


subjects = st.one_of(
    st.text(max_size=6).map(provider_subject),
    st.text(max_size=6).map(model_subject),
    st.text(max_size=10),
)
operations = st.lists(
    st.tuples(st.sampled_from(["set", "del", "merge"]), subjects, st.integers()), max_size=30
)


@given(operations)
def test_subjects_answer_as_a_dict_of_the_same_changes_would(
    ops: list[tuple[str, str, int]],
) -> None:
    mine: Subjects[int] = Subjects()
    model: dict[str, int] = {}
    for op, subject, value in ops:
        if op == "set":
            mine[subject] = value
            model[subject] = value
        elif op == "merge":
            mine.merge(Subjects({subject: value}))
            model[subject] = value
        elif subject in model:
            del mine[subject]
            del model[subject]
    assert mine == model
    assert len(mine) == len(model)
    assert list(mine.in_order()) == sorted(model)
    assert all((s in mine) == (s in model) for _, s, _ in ops)


def test_a_value_put_by_key_is_kept_under_the_name_string_given() -> None:
    name = "".join(["p", "1"])  # a string object of its own, equal to "p1"
    histories: Subjects[int] = Subjects()
    histories.put((PROVIDER, name), 1)
    histories.put((PROVIDER, "p1"), 2)  # an equal name keeps the first string
    [(prefix, kept)] = list(histories.keys_named())
    assert (prefix, histories.find((PROVIDER, "p1"))) == (PROVIDER, 2)
    assert kept is name


def test_adopt_and_merge_take_the_given_name_string_for_a_present_subject() -> None:
    loaded: Subjects[int] = Subjects({"provider:p1": 1, "model:p1.m": 2})
    mesh_name, mesh_model = "".join(["p", "1"]), "".join(["p1", ".m"])
    loaded.adopt((PROVIDER, mesh_name))
    batch: Subjects[int] = Subjects()
    batch.put((MODEL, mesh_model), 3)
    loaded.merge(batch)
    assert dict(loaded) == {"provider:p1": 1, "model:p1.m": 3}
    kept = [name for _, name in loaded.keys_named()]
    assert any(name is mesh_name for name in kept)
    assert any(name is mesh_model for name in kept)


def test_a_subject_is_not_found_by_another_type_of_key() -> None:
    assert 1 not in Subjects({"provider:a": 1})
    assert Subjects({"provider:a": 1}).find((MODEL, "a")) is None
