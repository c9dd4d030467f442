"""SQLite store URLs mean what SQLAlchemy (and dj-database-url) make them mean."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from modelmesh_healthd.state import Mesh, initial_state
from modelmesh_healthd.storage import (
    StateManager,
    StoreURLError,
    default_store_url,
    open_store,
    read_snapshot,
)
from modelmesh_healthd.storage._paths import path_from_url


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///state.db", "state.db"),
        ("sqlite:///state/demo.db", "state/demo.db"),
        ("sqlite:////var/lib/healthd/state.db", "/var/lib/healthd/state.db"),
        ("sqlite:relative/state.db", "relative/state.db"),
        ("sqlite:./state/state.db", "state/state.db"),
        ("sqlite:/abs/state.db", "/abs/state.db"),
        ("sqlite:///with%20space.db", "with space.db"),
        ("file:///abs/state.json", "/abs/state.json"),
        ("file:rel/state.json", "rel/state.json"),
    ],
    ids=[
        "three slashes are relative",
        "three slashes with directories are relative",
        "four slashes are absolute",
        "no authority is relative",
        "a dot path is relative",
        "one slash is absolute",
        "escapes are decoded",
        "file URLs keep RFC 8089's absolute form",
        "file URLs without authority are relative",
    ],
)
def test_a_store_url_names_this_file(url: str, path: str) -> None:
    assert path_from_url(url, url) == Path(path)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "sqlite://",
            "store URL 'sqlite://' names no file (SQLAlchemy's in-memory sqlite:// "
            "keeps nothing: use memory://)",
        ),
        (
            "sqlite:///",
            "store URL 'sqlite:///' names no file (SQLAlchemy's in-memory sqlite:// "
            "keeps nothing: use memory://)",
        ),
        (
            "sqlite://host/x.db",
            "store URL 'sqlite://host/x.db' names host 'host': SQLite URLs "
            "name a file, sqlite:///relative/path.db or sqlite:////absolute/path.db",
        ),
    ],
)
def test_a_sqlite_url_without_a_file_is_refused_with_the_forms_it_takes(
    url: str, message: str
) -> None:
    with pytest.raises(StoreURLError) as caught:
        path_from_url(url, url)
    assert str(caught.value) == message


async def test_the_relative_form_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    mesh = Mesh.build(providers=["openai"], models={"openai.gpt-4o": "openai"}, pools={})
    state = initial_state(mesh)
    async with StateManager(open_store("sqlite:///here/state.db")) as manager:
        await manager.load()
        manager.attach(state, mesh)
        assert await manager.sync()
    assert (tmp_path / "here" / "state.db").is_file()
    snapshot = await read_snapshot(f"sqlite:///{tmp_path}/here/state.db")
    assert snapshot is not None
    assert snapshot.state.to_dict() == state.to_dict()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///here/state.db?synchronous=full", "here/state.db"),
        ("sqlite:////abs/state.db?busy_timeout=100", "/abs/state.db"),
    ],
)
def test_store_options_in_the_query_leave_the_path_as_written(url: str, path: str) -> None:
    store = open_store(url)
    assert getattr(store, "path") == Path(path)  # noqa: B009 - SQLiteStore's own attribute


@pytest.mark.parametrize(
    ("environ", "path"),
    [
        ({"STATE_DIRECTORY": "/var/lib/modelmesh-healthd"}, "/var/lib/modelmesh-healthd/state.db"),
        ({"STATE_DIRECTORY": "relative/dir"}, "relative/dir/state.db"),
        ({}, "state/state.db"),
    ],
    ids=["systemd and the container", "a relative state directory", "no state directory"],
)
def test_the_default_store_still_names_the_file_it_named_before(
    environ: dict[str, str], path: str
) -> None:
    url = default_store_url(environ)
    assert path_from_url(url, url) == Path(path)


_SEGMENT = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12
).filter(lambda s: s not in (".", ".."))


@given(st.lists(_SEGMENT, min_size=1, max_size=4))
def test_three_slashes_name_the_relative_path_and_four_the_absolute_one(parts: list[str]) -> None:
    relative = "/".join(parts)
    assert path_from_url(f"sqlite:///{relative}", "u") == Path(relative)
    assert path_from_url(f"sqlite:////{relative}", "u") == Path("/" + relative)


def test_no_test_or_benchmark_builds_a_relative_url_from_an_absolute_path() -> None:
    # `sqlite://{tmp_path}` (three slashes on purpose) used to be absolute; now it is relative
    # and writes under the working directory. Absolute paths take four: `sqlite:///{tmp_path}`.
    # A scheme chosen at run time (scheme, then "://", then tmp_path) hides the same mistake.
    root = Path(__file__).resolve().parents[2]
    offenders = [
        f"{path.relative_to(root)}:{number}"
        for folder in ("tests", "bench", "src")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if ("sqlite://{" in line or "}://{" in line) and "three slashes on purpose" not in line
    ]
    assert offenders == []
