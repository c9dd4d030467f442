"""The history store, on every backend: what one process saves, another reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modelmesh_healthd.state.history import DOWN, UP, History, record
from modelmesh_healthd.storage.errors import StoreUnavailableError, StoreURLError
from modelmesh_healthd.storage.history_store import open_history_store, read_histories

T0 = 86_400_000.0


def two_changes() -> History:
    return record(record(History(), T0, UP), T0 + 60, DOWN)


async def test_an_empty_store_holds_no_history(store_url: str) -> None:
    loaded = await read_histories(store_url)
    assert loaded.histories == {}
    assert loaded.skipped == {}


async def test_saved_histories_are_read_back_by_another_opening(store_url: str) -> None:
    async with open_history_store(store_url) as store:
        await store.save({"provider:a": two_changes(), "model:a.m": record(History(), T0, UP)})
    loaded = await read_histories(store_url)
    assert loaded.histories == {
        "provider:a": two_changes(),
        "model:a.m": record(History(), T0, UP),
    }


async def test_a_save_replaces_only_the_subjects_it_names(store_url: str) -> None:
    async with open_history_store(store_url) as store:
        await store.save({"provider:a": two_changes(), "provider:b": two_changes()})
        later = record(two_changes(), T0 + 120, UP)
        await store.save({"provider:a": later})
    loaded = await read_histories(store_url)
    assert loaded.histories == {"provider:a": later, "provider:b": two_changes()}


async def test_a_memory_store_of_another_name_does_not_see_the_history() -> None:
    async with open_history_store("memory://history-one") as store:
        await store.save({"provider:a": two_changes()})
    assert (await read_histories("memory://history-two")).histories == {}


async def test_a_malformed_document_is_skipped_with_its_reason(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    (tmp_path / "state.db.history.json").write_text(
        '{"provider:a": {"entries": [[1, "sideways"]]}, "provider:b": {"entries": [[1, "up"]]}}'
    )
    loaded = await read_histories(url)
    assert list(loaded.histories) == ["provider:b"]
    assert "sideways" in loaded.skipped["provider:a"]


@pytest.mark.parametrize("load_first", [True, False])
async def test_a_file_save_keeps_other_documents_and_a_malformed_one_as_they_were(
    tmp_path: Path, load_first: bool
) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    (tmp_path / "state.db.history.json").write_text(
        '{"provider:a": {"entries": [[1, "sideways"]]}, "provider:b": {"entries": [[1, "up"]]}}'
    )
    async with open_history_store(url) as store:
        if load_first:
            await store.load()
        await store.save({"provider:c": two_changes()})
        await store.save({"provider:d": two_changes()})
    loaded = await read_histories(url)
    assert loaded.histories == {
        "provider:b": record(History(), 1.0, UP),
        "provider:c": two_changes(),
        "provider:d": two_changes(),
    }
    assert "sideways" in loaded.skipped["provider:a"]


async def test_a_failed_file_save_is_not_written_by_the_next_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/d/state.db"
    path = tmp_path / "d" / "state.db.history.json"
    async with open_history_store(url) as store:
        await store.save({"provider:a": two_changes()})
        (tmp_path / "d").rename(tmp_path / "away")
        (tmp_path / "d").write_text("a file where the directory was")
        with pytest.raises(StoreUnavailableError):
            await store.save({"provider:b": two_changes()})
        (tmp_path / "d").unlink()
        (tmp_path / "away").rename(tmp_path / "d")
        await store.save({"provider:c": two_changes()})
    loaded = await read_histories(url)
    assert loaded.histories == {"provider:a": two_changes(), "provider:c": two_changes()}
    assert list(json.loads(path.read_text())) == ["provider:a", "provider:c"]


@pytest.mark.parametrize(
    ("replaced_by", "left"),
    [
        ('{"provider:x": {"entries": [[1, "up"]]}}', {"provider:x": record(History(), 1.0, UP)}),
        (
            '{\n"provider:z": {"entries": [[1, "up"]]},\n'
            '"provider:x": {"entries": [[1, "up"]]}\n}\n',
            {"provider:x": record(History(), 1.0, UP), "provider:z": record(History(), 1.0, UP)},
        ),
        ("not JSON at all", {}),
        ('{\n"provider:x": {"entries": [[1, "up"]]},\n', {}),
    ],
    ids=["one line", "out of order", "unreadable", "cut short"],
)
async def test_a_history_file_replaced_between_saves_is_read_as_it_is_then(
    tmp_path: Path, replaced_by: str, left: dict[str, History]
) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    async with open_history_store(url) as store:
        await store.save({"provider:a": two_changes()})
        (tmp_path / "state.db.history.json").write_text(replaced_by)
        await store.save({"provider:b": two_changes()})
    loaded = await read_histories(url)
    assert loaded.histories == {**left, "provider:b": two_changes()}


async def test_a_file_save_merges_in_subject_order_and_copies_the_others_lines(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path}/state.db"
    path = tmp_path / "state.db.history.json"
    async with open_history_store(url) as store:
        await store.save({"provider:b": two_changes(), "model:b.m": two_changes()})
        before = path.read_text().splitlines()
        await store.save({"provider:a": two_changes(), "provider:c": two_changes()})
        await store.save({"provider:b": record(two_changes(), T0 + 120, UP)})
    lines = path.read_text().splitlines()
    assert [json.loads(f"{{{line.rstrip(',')}}}") for line in lines[1:-1]] == [
        {"model:b.m": two_changes().to_dict()},
        {"provider:a": two_changes().to_dict()},
        {"provider:b": record(two_changes(), T0 + 120, UP).to_dict()},
        {"provider:c": two_changes().to_dict()},
    ]
    assert lines[1] == before[1]  # the model's line, copied as it was


def test_an_unknown_scheme_is_refused_in_one_line() -> None:
    with pytest.raises(StoreURLError, match="no history store for URL scheme 'ftp'"):
        open_history_store("ftp://x")


async def test_an_unreachable_redis_is_unavailable_without_the_password() -> None:
    url = "redis://:hunter2@127.0.0.1:1/0?timeout=0.5"
    with pytest.raises(StoreUnavailableError) as caught:
        await read_histories(url)
    assert "hunter2" not in str(caught.value)


async def test_an_unreachable_postgres_is_unavailable_without_the_password() -> None:
    url = "postgresql://u:hunter2@127.0.0.1:1/db?timeout=1"
    with pytest.raises(StoreUnavailableError) as caught:
        await read_histories(url)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("backend", ["redis", "postgres"])
async def test_a_replicated_store_url_keeps_its_history_like_any_other(
    backend: str, redis_url: str, postgres_url: str
) -> None:
    # The replicas' options belong to the daemon; the driver must never see them.
    url = (redis_url if backend == "redis" else postgres_url) + "&replicas=on&lease_ttl=5"
    async with open_history_store(url) as store:
        await store.save({"provider:a": two_changes()})
    assert (await read_histories(url)).histories == {"provider:a": two_changes()}
