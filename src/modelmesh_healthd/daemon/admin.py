"""The admin HTTP endpoint: health for supervisors, metrics for Prometheus, state for people.

| path                   | answers                                                             |
|------------------------|---------------------------------------------------------------------|
| `/livez`               | 200 while the scheduler makes progress, else 503 (JSON says why)    |
| `/readyz`              | 200 once state is restored and while the store is ready, else 503   |
| `/metrics`             | Prometheus text format                                              |
| `/v1/state`            | the whole state (`SystemState.to_dict()`) with persistence status   |
| `/v1/providers/{name}` | one provider, its models and pools; 404 for an unknown name         |
| `/v1/overrides`        | GET the overrides; POST one (a drain); DELETE `/{target}` (undrain) |

Nothing here is secret: the state holds no keys, store URLs are redacted. It listens on loopback
by default all the same, and writes need the admin bearer token (`admin.auth`, `admin_auth.py`).
| `POST /v1/reports`     | routers' request outcomes (bearer token: see `daemon.reports`)      |
| `/v1/providers/{name}/history` | its and its models' time in each state over 1h, 24h, 7d, 30d |
| `/`                    | the status page (HTML, for people)                                  |

With `admin.base_path` set (`/healthd`), every path is answered under it as well, and the status
page's links carry it.

Nothing here is secret: the state holds no keys, store URLs are redacted. It listens on loopback
by default all the same; only `POST /v1/reports`, the one page that changes anything, takes a token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from modelmesh_healthd import __version__
from modelmesh_healthd.daemon import overrides_api
from modelmesh_healthd.daemon.admin_auth import token_middleware
from modelmesh_healthd.daemon.history_api import history_body
from modelmesh_healthd.daemon.liveness import Liveness
from modelmesh_healthd.daemon.metrics import CONTENT_TYPE, Metrics
from modelmesh_healthd.daemon.reports import ReportIntake
from modelmesh_healthd.daemon.status_page import render_status_page
from modelmesh_healthd.daemon.view import DaemonControls
from modelmesh_healthd.state import phase_of
from modelmesh_healthd.storage.errors import StoreError

__all__ = ["AdminServer"]


class AdminServer:
    """The aiohttp server of the admin endpoint.

    Args:
        daemon: The daemon it reports on; writes go through its controls only.
        daemon: The daemon it reports on (read-only), and asks for a probe when routers' reports
            accuse a provider.
        metrics: Its metrics.
        liveness: The current progress verdict.
        host: Address to bind (an IPv6 literal without brackets).
        port: Port to bind (0: any free one).
    """

    def __init__(
        self,
        daemon: DaemonControls,
        metrics: Metrics,
        liveness: Callable[[], Liveness],
        host: str,
        port: int,
    ) -> None:
        self._daemon = daemon
        self._metrics = metrics
        self._liveness = liveness
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self.reports = ReportIntake(daemon)
        """Routers' reports: passive evidence and usage."""
        self.listen = f"{host}:{port}"
        """Where it listens: the bound port once started (not 0)."""

    async def start(self) -> None:
        """Bind and serve.

        Raises:
            OSError: The address cannot be bound (port in use, no such address, ...).
        """
        admin = self._daemon.config.admin
        base = admin.base_path
        # One token for every write, reports included (a configured `reports_token` is this
        # token under its old name: the configuration maps it).
        app = web.Application(
            middlewares=[token_middleware(lambda: (admin.auth, admin.token), base)]
        )
        # Under the prefix too: a proxy that forwards the path as it came works as well as one
        # that strips it.
        for prefix in dict.fromkeys(("", base)):
            app.router.add_get(f"{prefix}/", self._status_page)
            app.router.add_get(f"{prefix}/livez", self._livez)
            app.router.add_get(f"{prefix}/readyz", self._readyz)
            app.router.add_get(f"{prefix}/metrics", self._metrics_page)
            app.router.add_get(f"{prefix}/v1/state", self._state)
            app.router.add_get(f"{prefix}/v1/providers/{{name}}", self._provider)
            app.router.add_get(f"{prefix}/v1/providers/{{name}}/history", self._history)
            overrides_api.add_routes(app, self._daemon, prefix)
            app.router.add_post(f"{prefix}/v1/reports", self.reports.handle)
        # No access log: a scrape every few seconds would drown the events that matter.
        # A scrape in progress at stop gets 2 s, not aiohttp's default minute.
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await runner.setup()
        try:
            site = web.TCPSite(runner, self._host, self._port, reuse_address=True)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound = runner.addresses[0]
        host = self._host if ":" not in self._host else f"[{self._host}]"
        self.listen = f"{host}:{bound[1]}"

    async def stop(self) -> None:
        """Stop serving (open connections are closed)."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    # --- handlers -----------------------------------------------------------

    async def _status_page(self, _request: web.Request) -> web.Response:
        page = render_status_page(self._daemon, self._daemon.config.admin.base_path)
        return web.Response(
            text=page,
            content_type="text/html",
            charset="utf-8",
            headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
        )

    async def _livez(self, _request: web.Request) -> web.Response:
        verdict = self._liveness()
        return web.json_response(verdict.to_dict(), status=200 if verdict.live else 503)

    async def _readyz(self, _request: web.Request) -> web.Response:
        reasons = self._not_ready()
        body = {"ready": not reasons, "reasons": reasons}
        return web.json_response(body, status=503 if reasons else 200)

    async def _metrics_page(self, _request: web.Request) -> web.Response:
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE})

    async def _state(self, _request: web.Request) -> web.Response:
        d = self._daemon
        try:
            state = await d.state_document()  # a replica's: the shared store's
        except StoreError as exc:
            return web.json_response({"error": str(exc)}, status=503)
        body: dict[str, Any] = {
            "instance": d.config.daemon.instance,
            "writer_id": d.writer_id,
            "version": __version__,
            "generated_at": d.wall_clock(),
            "ready": not self._not_ready(),
            "liveness": self._liveness().to_dict(),
            "counts": d.counts(),
            "sync": None if d.manager is None else d.manager.get_sync_status().to_dict(),
            "state": state,
            "overrides": [o.to_dict() for o in d.overrides()],
        }
        return web.json_response(body)

    async def _provider(self, request: web.Request) -> web.Response:
        d = self._daemon
        name = request.match_info["name"]
        ps = d.state.providers.get(name)
        if ps is None:
            return web.json_response({"error": "unknown provider", "provider": name}, status=404)
        models = d.mesh.provider_models.get(name, ())
        pools = sorted({p for m in models for p in d.mesh.model_pools.get(m, ())})
        body = {
            "provider": name,
            "probed": name in d.probed,
            "healthy": ps.is_healthy(d.policy),
            "phase": str(phase_of(ps, d.policy)),
            "state": ps.to_dict(),
            "models": {m: d.state.models[m].to_dict() for m in models if m in d.state.models},
            "pools": {p: d.state.pools[p].to_dict() for p in pools if p in d.state.pools},
        }
        return web.json_response(body)

    async def _history(self, request: web.Request) -> web.Response:
        d = self._daemon
        name = request.match_info["name"]
        if name not in d.state.providers:
            return web.json_response({"error": "unknown provider", "provider": name}, status=404)
        return web.json_response(history_body(d, name))

    def _not_ready(self) -> list[str]:
        d = self._daemon
        if not d.ready:
            return ["not running: starting or stopping"]
        if d.manager is None:
            return ["no state manager"]
        if d.manager.ready:
            return []
        status = d.manager.get_sync_status()
        if not status.locked:
            return [f"store {status.store}: this daemon does not hold the writer lock"]
        return [f"store {status.store}: last write failed: {status.last_error}"]
