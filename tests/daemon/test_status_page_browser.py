"""The status page in a real headless Chromium, through an outage of a daemon process.

The daemon runs as a process, probing the simulator; the page is fetched behind the path prefix
`/healthd` by Chromium (`--dump-dom` for what it shows, `--screenshot` at a phone's width for
people). Screenshots are kept under the test's tmp dir and their paths printed (pytest -s), or
in $MODELMESH_HEALTHD_ARTIFACTS when set (CI uploads that directory).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import time
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path

import httpx
from daemon_support import KEYS, config_text, fleet
from ops_support import daemon_process

from modelmesh_healthd.simulator import Simulator
from tool_support import tool

PHONE = "390,1500"


class Page(HTMLParser):
    """What the DOM says: each element's attributes by data-provider / data-pool, and links."""

    def __init__(self, dom: str) -> None:
        super().__init__()
        self.dom = dom
        self.providers: dict[str, str] = {}
        self.incidents: list[str] = []
        self.pools_in_incident: list[str] = []
        self.links: list[str] = []
        self.bars: dict[str, list[str]] = {}
        self.meta: dict[str, str] = {}
        self._provider: str | None = None
        self.feed(dom)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if "provider" in classes:
            self._provider = a["data-provider"]
            self.providers[self._provider] = a["data-state"]
            self.bars[self._provider] = []
        if "incident-provider" in classes:
            self.incidents.append(a["data-provider"])
        if "incident-pool" in classes:
            self.pools_in_incident.append(a["data-pool"])
        if tag == "span" and self._provider and "title" in a and classes[0].startswith("s-"):
            self.bars[self._provider].append(classes[0].removeprefix("s-"))
        if tag == "a":
            self.links.append(a["href"])
        if tag == "meta":
            self.meta[a.get("name") or a.get("http-equiv") or a.get("charset", "")] = a.get(
                "content", ""
            )


async def chromium(url: str, profile: Path, *args: str) -> str:
    """Run headless Chromium on `url`; its stdout."""
    proc = await asyncio.create_subprocess_exec(
        tool("chromium"),
        "--headless",
        "--no-sandbox",  # tests may run as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--no-proxy-server",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode == 0, f"chromium exited {proc.returncode}"
    return out.decode()


async def dump(url: str, profile: Path) -> Page:
    return Page(await chromium(url, profile, "--dump-dom"))


async def screenshot(url: str, profile: Path, path: Path) -> Path:
    await chromium(url, profile, f"--screenshot={path}", f"--window-size={PHONE}")
    assert path.stat().st_size > 1000
    artifacts = os.environ.get("MODELMESH_HEALTHD_ARTIFACTS")
    if artifacts:
        Path(artifacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(artifacts) / path.name)
    print(f"status page screenshot: {path}")
    return path


async def served(url: str, ready: Callable[[Page], bool], within: float = 20.0) -> Page:
    """Poll the page over plain HTTP until `ready` holds (the browser then looks at it)."""
    deadline = time.monotonic() + within
    async with httpx.AsyncClient(trust_env=False, timeout=5.0) as client:
        while True:
            try:
                page = Page((await client.get(url)).text)
                if ready(page):
                    return page
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the page at {url} never got ready"
            await asyncio.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_the_status_page_shows_an_outage_in_a_browser_before_during_and_after(
    tmp_path: Path,
) -> None:
    tool("chromium")
    port = free_port()
    store = f"sqlite:///{tmp_path}/state.db"
    config = tmp_path / "healthd.yaml"
    profile = tmp_path / "chromium-profile"
    url = f"http://127.0.0.1:{port}/healthd/"
    async with Simulator(fleet()) as sim:
        text = config_text(sim.base_url, store).replace(
            "admin: {enabled: false}",
            f'admin: {{listen: "127.0.0.1:{port}", base_path: /healthd}}',
        )
        config.write_text(text)
        async with daemon_process(config) as daemon:
            await daemon.wait_for("daemon.started")
            await served(url, lambda page: page.providers == dict.fromkeys("abcd", "up"))

            before = await dump(url, profile)
            assert before.providers == dict.fromkeys("abcd", "up")
            assert "No current incidents." in before.dom
            assert before.meta["viewport"].startswith("width=device-width")
            assert before.meta["refresh"].isdigit()
            assert before.links
            assert all(link.startswith("/healthd/") for link in before.links), before.links
            assert all(len(bar) == 24 for bar in before.bars.values())
            await screenshot(url, profile, tmp_path / "status-before.png")

            sim.set_behaviour("a", "server_error")
            await daemon.wait_for("provider.down", provider="a")
            during = await dump(url, profile)
            assert during.providers["a"] == "down"
            assert {during.providers[n] for n in "bcd"} == {"up"}
            assert during.incidents == ["a"]
            assert "provider_unavailable" in during.dom
            assert "a.gpt-4o" in during.dom  # a pool's standby model, with its reason
            assert during.bars["a"][-1] == "down"
            await screenshot(url, profile, tmp_path / "status-during.png")

            sim.set_behaviour("a", "healthy")
            await daemon.wait_for("provider.up", provider="a")
            after = await dump(url, profile)
            assert after.providers == dict.fromkeys("abcd", "up")
            assert after.incidents == []
            assert after.bars["a"][-1] == "down"  # the outage stays in the last hour's bar
            await screenshot(url, profile, tmp_path / "status-after.png")

            for page in (before, during, after):
                for key in KEYS.values():
                    assert key not in page.dom
            daemon.signal(signal.SIGTERM)
            assert await daemon.finish() == 0
