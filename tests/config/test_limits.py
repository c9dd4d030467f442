"""The limits of config/limits.py, at their edges: what is just allowed and what is just not."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from modelmesh_healthd.config import ConfigError, load_config, load_config_in_thread, loader
from modelmesh_healthd.config.interpolate import interpolate
from modelmesh_healthd.config.limits import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    MAX_SECRET_BYTES,
    FileRefused,
    read_regular_file,
)
from modelmesh_healthd.config.source import parse_yaml, read_yaml, tidy_strings

GOOD = "providers:\n  local: {kind: ollama}\n"


def test_a_regular_file_within_the_limit_is_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_regular_file(path, 100) == b"x" * 100


def test_a_symbolic_link_to_a_regular_file_is_followed(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"key")
    (tmp_path / "link").symlink_to(tmp_path / "f")
    assert read_regular_file(tmp_path / "link", 100) == b"key"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.write_bytes(b"x" * 101), "is larger than 100 bytes (the limit)"),
        (os.mkfifo, "is a FIFO, not a regular file"),
        (Path.mkdir, "is a directory, not a regular file"),
        (lambda p: p.symlink_to("/dev/null"), "is a character device, not a regular file"),
        (lambda p: None, "No such file or directory"),
    ],
    ids=["oversized", "fifo", "directory", "device", "missing"],
)
def test_anything_else_is_refused_without_being_read(
    make: Callable[[Path], object], reason: str, tmp_path: Path
) -> None:
    path = tmp_path / "f"
    make(path)
    with pytest.raises(FileRefused) as caught:
        read_regular_file(path, 100)
    assert str(caught.value) == reason


def test_a_file_that_says_it_is_empty_is_still_read_only_up_to_the_limit() -> None:
    # /proc files report size 0 whatever they hold: the bound is on what is read.
    with pytest.raises(FileRefused, match="larger than 16 bytes"):
        read_regular_file(Path("/proc/self/status"), 16)


def _aliases(uses: int) -> str:
    anchor = "a: &a [" + ", ".join(["x"] * 999) + "]\n"  # 1,000 values
    return anchor + "b: [" + ", ".join(["*a"] * uses) + "]\n"


def test_aliases_may_stand_for_exactly_the_limit() -> None:
    data = parse_yaml(_aliases(MAX_ALIAS_VALUES // 1000))
    assert len(data["b"]) == MAX_ALIAS_VALUES // 1000
    assert all(item is data["a"] for item in data["b"])  # shared, as yaml.load shares them


def test_one_alias_past_the_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"aliases expand to more than 1,000,000 values"):
        parse_yaml(_aliases(MAX_ALIAS_VALUES // 1000 + 1))


def test_nesting_may_reach_exactly_the_limit() -> None:
    depth = MAX_DEPTH - 1  # the top-level mapping is the first level
    data = parse_yaml("k: " + "[" * depth + "]" * depth)
    for _ in range(depth - 1):
        data = data[0] if isinstance(data, list) else data["k"]
    assert data in ([], [[]])


def test_one_level_past_the_limit_is_refused() -> None:
    with pytest.raises(ConfigError, match="nested more than 64 levels deep"):
        parse_yaml("k: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH)


def test_a_secret_of_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "key").write_bytes(b"k" * MAX_SECRET_BYTES)
    (tmp_path / "c.yaml").write_text("providers:\n  o: {kind: openai, api_key: '${file:key}'}\n")
    config = load_config(tmp_path / "c.yaml", environ={})
    key = config.providers["o"].api_key
    assert key is not None
    assert len(key.get_secret_value()) == MAX_SECRET_BYTES


def test_loading_past_its_time_limit_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD + "pad: [" + ", ".join(["1"] * 10_000) + "]\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={}, time_limit=0.0)
    assert caught.value.render() == f"{path}: (top level): loading took longer than 0s (the limit)"


@pytest.mark.parametrize(
    "raw",
    [b"\xef\xbb\xbf" + GOOD.encode(), GOOD.replace("\n", "\r\n").encode()],
    ids=["byte-order-mark", "crlf"],
)
def test_a_byte_order_mark_or_crlf_line_ends_are_accepted(raw: bytes, tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_bytes(raw)
    assert list(load_config(tmp_path / "c.yaml", environ={}).providers) == ["local"]


def test_a_file_that_is_not_utf8_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_bytes(GOOD.encode() + b"# caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "c.yaml", environ={})
    assert caught.value.render() == f"{tmp_path / 'c.yaml'}: (top level): not UTF-8 text"


def test_a_secret_that_is_not_utf8_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "key").write_bytes(b"\xff\xfe")
    (tmp_path / "c.yaml").write_text("providers:\n  o: {kind: openai, api_key: '${file:key}'}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "c.yaml", environ={})
    assert caught.value.render().endswith(f"secret file {tmp_path / 'key'} is not UTF-8 text")


async def test_loading_in_a_thread_gives_the_config(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(GOOD)
    config = await load_config_in_thread(tmp_path / "c.yaml", {})
    assert list(config.providers) == ["local"]


async def test_a_load_stuck_past_its_limit_is_given_up_while_the_loop_runs_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read the kernel never completes (a hung network filesystem) cannot be made here for
    # real: a loader that waits on an event stands in for it.
    release = threading.Event()

    def stuck(*_: object, **__: object) -> None:
        release.wait(10)

    monkeypatch.setattr(loader, "load_config", stuck)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    try:
        with pytest.raises(ConfigError) as caught:
            await load_config_in_thread(tmp_path / "c.yaml", {}, time_limit=0.2)
    finally:
        release.set()
        ticker.cancel()
    assert caught.value.render() == (
        f"{tmp_path / 'c.yaml'}: (top level): loading took longer than 0.2s (the limit)"
    )
    assert ticks > 20  # about 1.2 s of a 10 ms ticker: the loop was never held


def test_what_aliases_share_stays_shared_through_interpolation_and_tidying() -> None:
    document = read_yaml("a: &a {k: ' ${X} '}\nb: [*a, *a]\n")
    resolved, issues, _ = interpolate(document.data, {"X": "v"}, shared=document.shared)
    tidy = tidy_strings(resolved, shared=document.shared)
    assert (document.shared, issues) == (True, [])
    assert tidy == {"a": {"k": "v"}, "b": [{"k": "v"}, {"k": "v"}]}
    assert tidy["b"][0] is tidy["b"][1] is tidy["a"]
