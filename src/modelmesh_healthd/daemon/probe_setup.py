"""What each probe is set up with, from the configuration: its target, its schedule, the client.

Not `probes.target`, which defines what a target is; this builds one from `Config`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from modelmesh_healthd.config import Config, ProviderConfig
from modelmesh_healthd.config.models import HttpCheckConfig
from modelmesh_healthd.daemon.timing import Timing
from modelmesh_healthd.probes import (
    AzureOptions,
    BodyCondition,
    ClientOptions,
    Comparison,
    HeaderCondition,
    HttpOptions,
    LocalOptions,
    ProbeTarget,
)

__all__ = ["client_options", "probe_target", "timing_for"]

_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


def probe_target(
    config: Config,
    name: str,
    *,
    models: Iterable[str] | None = None,
    timeout: float | None = None,
) -> ProbeTarget:
    """The ProbeTarget of provider `name`.

    The daemon builds one for each probe rather than keeping one per provider (memory a large
    fleet notices, see docs/benchmarks.md): it passes what it has indexed already.

    Args:
        config: The configuration.
        name: The provider.
        models: Its model ids (default: looked up in `config`, a scan of every model).
        timeout: Its probe timeout (default: from its schedule).
    """
    cfg = config.providers[name]
    pairs: tuple[tuple[str, str], ...] = ()
    if cfg.check_models:
        ids = config.provider_models(name) if models is None else models
        pairs = tuple((m, config.upstream_name(m)) for m in ids)
    return ProbeTarget(
        name=name,
        kind=cfg.kind,
        base_url=cfg.url,
        api_key=cfg.api_key,
        headers={k: v.get_secret_value() for k, v in cfg.headers.items()}
        if cfg.headers
        else _NO_HEADERS,
        models=pairs,
        timeout=config.schedule_for(name).timeout if timeout is None else timeout,
        degraded_after=cfg.degraded_after,
        max_body_bytes=config.http.max_body,
        options=_options(cfg),
        deep=cfg.deep,
    )


def _options(cfg: ProviderConfig) -> AzureOptions | LocalOptions | HttpOptions | None:
    if cfg.kind == "azure-openai" and cfg.api_version:
        return AzureOptions(api_version=cfg.api_version)
    if cfg.kind == "local" and cfg.health_path:
        return LocalOptions(health_path=cfg.health_path)
    if cfg.kind == "http" and cfg.http is not None:
        return _http_options(cfg.http)
    return None


def _http_options(check: HttpCheckConfig) -> HttpOptions:
    return HttpOptions(
        method=check.method,
        path=check.path,
        headers={k: v.get_secret_value() for k, v in check.headers.items()},
        content=check.body.encode() if check.body is not None else None,
        expected_statuses=frozenset(check.expect_status),
        body=tuple(
            BodyCondition(
                json_path=c.path,
                op=Comparison(c.op),
                value=c.value,
                regex=c.regex,
                negate=c.negate,
            )
            for c in check.conditions
        ),
        response_headers=tuple(
            HeaderCondition(name=h.name, op=Comparison(h.op), value=h.value)
            for h in check.response_headers
        ),
        on_condition_failure=check.on_condition_failure,
        follow_redirects=check.follow_redirects,
    )


def timing_for(config: Config, name: str) -> Timing:
    """Provider `name`'s schedule as the scheduler's Timing (one object per distinct schedule)."""
    s = config.schedule_for(name)
    return _timing(
        s.interval, s.fast_interval, s.down_interval, s.down_interval_max, s.jitter, s.timeout
    )


@functools.lru_cache(maxsize=256)
def _timing(*values: float) -> Timing:
    return Timing(*values)


def client_options(config: Config) -> ClientOptions:
    """The shared HTTP client's settings."""
    http = config.http
    return ClientOptions(
        transport=http.transport,
        concurrency=config.daemon.concurrency,
        verify=http.verify,
        ca_bundle=http.ca_bundle,
        trust_env=http.trust_env,
        max_redirects=http.max_redirects,
        user_agent=http.user_agent,
    )
