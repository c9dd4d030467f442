"""What the deeper rungs cost: requests, CPU and wall time per probe, front door vs ladder.

Run: .venv/bin/python bench/ladder_cost.py [--n 200] [--kinds anthropic,gemini,ollama,lmstudio]

The provider simulator runs in a separate process (127.0.0.1 only) with an Anthropic, a Gemini,
an Ollama and an LM Studio provider of 20 models each; only the prober's CPU is counted
(`time.process_time()` of this process). For 1, 5 and 20 configured models, each row probes
`--n` times in a row with `deep` off (the front door: the models list) and on (the list, then
one free per-model rung each: `count_tokens`, `countTokens`, `/api/show`, `/api/v0/models/{m}`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pydantic import SecretStr

from modelmesh_healthd.probes import ClientOptions, ProbeTarget, build_client, plan, probe
from modelmesh_healthd.state import Outcome

KINDS = {
    "anthropic": ("sk-ant-bench", [f"claude-bench-{i}" for i in range(20)]),
    "gemini": ("AIza-bench", [f"gemini-bench-{i}" for i in range(20)]),
    "ollama": (None, [f"bench{i}:latest" for i in range(20)]),
    "lmstudio": (None, [f"bench-{i}-instruct" for i in range(20)]),
}


def _start(scenario: Path) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelmesh_healthd.simulator",
            "--port",
            "0",
            "--scenario",
            str(scenario),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    base = proc.stdout.readline().strip()
    if not base.startswith("http://127.0.0.1:"):
        proc.kill()
        raise SystemExit(f"simulator did not start: {base!r}")
    return proc, base


async def _row(base: str, kind: str, models: int, deep: bool, n: int) -> tuple[int, float, float]:
    key, names = KINDS[kind]
    target = ProbeTarget(
        name=kind,
        kind=kind,
        base_url=f"{base}/{kind}",
        api_key=SecretStr(key) if key else None,
        models=tuple((f"mesh/{m}", m) for m in names[:models]),
        deep=deep,
        timeout=10.0,
    )
    async with build_client(ClientOptions(concurrency=4, trust_env=False)) as client:
        first = await probe(client, target)
        assert first.outcome is Outcome.OK, (kind, first.detail)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in range(n):
            await probe(client, target)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return len(plan(target)), cpu / n * 1000.0, wall / n * 1000.0


async def _main(n: int, kinds: list[str]) -> None:
    providers = [
        {"name": kind, "kind": kind, "api_key": key, "models": names}
        for kind, (key, names) in KINDS.items()
        if kind in kinds
    ]
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Path(tmp) / "bench.json"
        scenario.write_text(json.dumps({"providers": providers, "steps": []}))
        proc, base = _start(scenario)
        try:
            head = ("kind", "models", "rungs", "requests", "CPU ms", "wall ms")
            print("{:<10} {:>6} {:<6} {:>8} {:>8} {:>8}".format(*head))
            for kind in kinds:
                for models in (1, 5, 20):
                    for deep in (False, True):
                        reqs, cpu, wall = await _row(base, kind, models, deep, n)
                        rungs = "ladder" if deep else "front"
                        print(
                            f"{kind:<10} {models:>6} {rungs:<6} {reqs:>8} {cpu:>8.2f} {wall:>8.2f}"
                        )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="probes per row")
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds to run")
    args = parser.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"--kinds: unknown {', '.join(unknown)}; one of {', '.join(KINDS)}")
    asyncio.run(_main(args.n, kinds))


if __name__ == "__main__":
    main()
