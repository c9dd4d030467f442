"""Nothing secret reaches a store: the raw content of every backend is searched for a key."""

from __future__ import annotations

from pathlib import Path

import pytest
from raw_store_support import RawStore

from modelmesh_healthd.state import Mesh, Observation, Outcome, apply_probe, initial_state
from modelmesh_healthd.storage import StateManager, open_store

API_KEY = "sk-test-4f1c9a7e-DO-NOT-PERSIST"

CONFIG = {
    "providers": {
        "openai": {"base_url": "https://api.openai.com/v1", "api_key": API_KEY},
        "groq": {"base_url": "https://api.groq.com/openai/v1", "api_key": API_KEY[::-1]},
    },
    "models": {
        "gpt-4o": {"provider": "openai"},
        "llama-3.1-70b": {"provider": "groq"},
    },
    "pools": {"chat": {"models": ["gpt-4o", "llama-3.1-70b"]}},
}
"""Config-like data as the daemon will hold it: the keys travel next to the ids."""


def _raw_content(backend: str, store_url: str, request: pytest.FixtureRequest) -> str:
    if backend == "file":
        directory = Path(store_url.removeprefix("file://")).parent
        return "\n".join(
            p.read_bytes().decode("utf-8", "replace") for p in directory.iterdir() if p.is_file()
        )
    raw: RawStore = request.getfixturevalue("raw")
    return raw.dump()


async def test_no_store_holds_a_provider_key(
    backend: str, store_url: str, request: pytest.FixtureRequest
) -> None:
    mesh = Mesh.build(
        CONFIG["providers"],
        {m: spec["provider"] for m, spec in CONFIG["models"].items()},
        {p: spec["models"] for p, spec in CONFIG["pools"].items()},
    )
    state = initial_state(mesh)
    async with StateManager(open_store(store_url)) as manager:
        await manager.load()
        manager.attach(state, mesh)
        for provider, spec in CONFIG["providers"].items():
            detail = f"401 from {spec['base_url']}"  # what a careful probe reports
            manager.record(
                apply_probe(
                    mesh, state, provider, Observation(Outcome.AUTH_INVALID, detail=detail), 1.0
                )
            )
        assert await manager.sync()
        content = _raw_content(backend, store_url, request)
    assert "gpt-4o" in content  # the search does look at the stored state
    assert "401 from https://api.openai.com/v1" in content
    assert API_KEY not in content
    assert API_KEY[::-1] not in content
