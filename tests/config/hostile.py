"""Hostile configurations, each built in a directory, with the one line it must produce.

What an attacker with write access to a configuration file (or to a secret file it names) would
try, or an operator's mistake would do: YAML bombs, endless or blocking secret files, deep
nesting, a huge or blocking configuration file. Shared by the process tests and the reload test.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROVIDER = '  openai: {kind: openai, base_url: "http://127.0.0.1:9/v1", api_key: "%s"}\n'
PROVIDERS = "providers:\n" + PROVIDER % "sk-test"


def _alias_bomb() -> str:
    # Nine anchors, each a list repeating the one before nine times: 9**9 strings when expanded.
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return PROVIDERS + "\n".join(lines) + "\n"


def _merge_bomb() -> str:
    # Merge keys only: each mapping merges the one before nine times over.
    lines = ["m0: &m0 {k: 1}"]
    for i in range(1, 12):
        merged = ", ".join([f"*m{i - 1}"] * 9)
        lines.append(f"m{i}: &m{i} {{<<: [{merged}], k{i}: 1}}")
    return PROVIDERS + "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Hostile:
    """One case: how to build it in a directory, and the line it must produce (`{dir}` is the
    directory)."""

    name: str
    build: Callable[[Path], None]
    line: str


def _write(text: str) -> Callable[[Path], None]:
    def build(directory: Path) -> None:
        (directory / "c.yaml").write_text(text)

    return build


def _secret(make: Callable[[Path], None]) -> Callable[[Path], None]:
    def build(directory: Path) -> None:
        make(directory / "secret")
        (directory / "c.yaml").write_text("providers:\n" + PROVIDER % "${file:secret}")

    return build


def _dev_zero(directory: Path) -> None:
    (directory / "c.yaml").write_text("providers:\n" + PROVIDER % "${file:/dev/zero}")


def _oversized(path: Path) -> None:
    path.write_bytes(b"k" * (64 * 1024 + 1))


def _huge_config(directory: Path) -> None:
    with (directory / "c.yaml").open("wb") as f:
        f.truncate(16 * 1024 * 1024 + 1)  # sparse: nothing is written, the size is what counts


def _huge_section(directory: Path) -> None:
    outcomes = ", ".join(f"k{i}: failure" for i in range(100_001))
    (directory / "c.yaml").write_text(PROVIDERS + "health:\n  outcomes: {" + outcomes + "}\n")


def wrong_values(directory: Path, count: int = 200_000) -> None:
    """A fleet of `count` providers that are all wrong: one error each (not one line)."""
    entries = "".join(f"  p{i}: 1\n" for i in range(count))
    (directory / "c.yaml").write_text("providers:\n" + entries)


def _fifo_config(directory: Path) -> None:
    os.mkfifo(directory / "c.yaml")


CASES = [
    Hostile(
        "alias_bomb",
        _write(_alias_bomb()),
        "c.yaml:9: g[0]: YAML aliases expand to more than 1,000,000 values (the limit)",
    ),
    Hostile(
        "merge_key_bomb",
        _write(_merge_bomb()),
        "c.yaml:9: m6.<<[6]: YAML aliases expand to more than 1,000,000 values (the limit)",
    ),
    Hostile(
        "secret_file_is_dev_zero",
        _dev_zero,
        "c.yaml:2: providers.openai.api_key: cannot read secret file /dev/zero: "
        "is a character device, not a regular file",
    ),
    Hostile(
        "secret_file_is_a_fifo",
        _secret(os.mkfifo),
        "c.yaml:2: providers.openai.api_key: cannot read secret file {dir}/secret: "
        "is a FIFO, not a regular file",
    ),
    Hostile(
        "secret_file_is_a_directory",
        _secret(Path.mkdir),
        "c.yaml:2: providers.openai.api_key: cannot read secret file {dir}/secret: "
        "is a directory, not a regular file",
    ),
    Hostile(
        "secret_file_is_oversized",
        _secret(_oversized),
        "c.yaml:2: providers.openai.api_key: cannot read secret file {dir}/secret: "
        "is larger than 64 KiB (the limit)",
    ),
    Hostile(
        "nesting_5000_lists_deep",
        _write(PROVIDERS + "deep: " + "[" * 5000 + "]" * 5000 + "\n"),
        "c.yaml:3: deep: nested more than 64 levels deep (the limit)",
    ),
    Hostile(
        "nesting_5000_mappings_deep",
        _write(PROVIDERS + "deep: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n"),
        "c.yaml:3: deep" + ".a" * 63 + ": nested more than 64 levels deep (the limit)",
    ),
    Hostile(
        "config_file_over_16_mib",
        _huge_config,
        "c.yaml: (top level): cannot read: is larger than 16 MiB (the limit)",
    ),
    Hostile(
        "section_of_100001_values",
        _huge_section,
        "c.yaml:1: (top level): holds more than 100,000 values "
        "(the limit for everything outside providers, models and pools)",
    ),
    Hostile(
        "config_file_is_a_fifo",
        _fifo_config,
        "c.yaml: (top level): cannot read: is a FIFO, not a regular file",
    ),
]
