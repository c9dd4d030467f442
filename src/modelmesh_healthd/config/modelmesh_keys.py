"""Every key ModelMesh documents, and what the daemon does with each.

The table is the contract of "your ModelMesh YAML as it is": a key listed here is accepted in a
ModelMesh file. A key with a `use` means something for health and is used as it says; a key
with a `why` is ModelMesh's alone (routing, budgets, its own storage...) and is ignored, and
`validate --show` lists the ones a file holds. Any other key is a typo, reported with the
closest known key.

Sources: ModelMesh's docs/SystemConfiguration.md, the keys its shipped YAML files use, and the
keys modelmesh-lite 0.1.1's code reads (`observability.connector`, `pools.*.failure_threshold`).
The same table is rendered in docs/modelmesh.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

__all__ = ["MM_KEYS", "OPEN", "MMKey", "children_of", "lookup"]

OPEN: Literal["open"] = "open"
"""A block whose keys are connector-specific and passed through by ModelMesh: any key goes."""


@dataclass(frozen=True, slots=True)
class MMKey:
    """One documented ModelMesh key.

    Attributes:
        path: Dotted key path; `*` stands for a provider, model or pool id.
        use: What the daemon does with it (None: ignored).
        why: Why it is ignored, when it is.
        block: For a mapping: OPEN when any key may appear in it, else None (its known keys
            are the table's entries one level below).
    """

    path: str
    use: str | None = None
    why: str | None = None
    block: Literal["open"] | None = None


_ROUTING = "routing behaviour of ModelMesh's router; the daemon probes, it does not route"
_BUDGET = "spend and quota accounting of ModelMesh's router"
_CAPS = "what the model can do, for ModelMesh's request matching"

MM_KEYS: tuple[MMKey, ...] = (
    # -- secrets ----------------------------------------------------------------------------
    MMKey("secrets", use="resolves `${secrets:NAME}` (env and dotenv stores)", block=OPEN),
    # -- providers --------------------------------------------------------------------------
    MMKey("providers.*", use="one provider to probe, keyed by its connector id"),
    MMKey("providers.*.connector", use="the connector id, which chooses the probe"),
    MMKey(
        "providers.*.config",
        use="api_key, base_url (and endpoint/api_base/host/url), "
        "api_version and headers are read; the rest is the connector's",
        block=OPEN,
    ),
    MMKey("providers.*.enabled", use="false: not probed, its models stay in manual standby"),
    MMKey("providers.*.api_key", use="the key the probe proves"),
    MMKey("providers.*.base_url", use="where the probe goes, in ModelMesh's meaning"),
    MMKey("providers.*.auth", why="authentication method and key rotation of the router"),
    MMKey("providers.*.auth.method", why="the router's authentication method"),
    MMKey("providers.*.auth.key_rotation", why="the router's key rotation"),
    MMKey("providers.*.quota", why=_BUDGET),
    MMKey("providers.*.quota.query_current", why=_BUDGET),
    MMKey("providers.*.quota.query_remaining", why=_BUDGET),
    MMKey("providers.*.quota.reset_schedule", why=_BUDGET),
    MMKey("providers.*.budget", why=_BUDGET),
    MMKey("providers.*.budget.daily_limit", why=_BUDGET),
    MMKey("providers.*.budget.monthly_limit", why=_BUDGET),
    MMKey("providers.*.discovery", why="model discovery at ModelMesh's start"),
    MMKey("providers.*.discovery.enumerate_models", why="model discovery at ModelMesh's start"),
    MMKey("providers.*.discovery.model_details", why="model discovery at ModelMesh's start"),
    MMKey("providers.*.discovery.capability_query", why="model discovery at ModelMesh's start"),
    MMKey("providers.*.batch", why="batch submission support"),
    MMKey("providers.*.batch.supported", why="batch submission support"),
    MMKey("providers.*.batch.max_items", why="batch submission support"),
    MMKey("providers.*.files", why="file upload support"),
    MMKey("providers.*.files.upload", why="file upload support"),
    MMKey("providers.*.files.max_size", why="file upload support"),
    MMKey("providers.*.fine_tuning", why="fine-tuning support"),
    MMKey("providers.*.fine_tuning.supported", why="fine-tuning support"),
    # -- models -----------------------------------------------------------------------------
    MMKey("models.*", use="a model whose provider's health decides its pool status"),
    MMKey("models.*.provider", use="the provider that serves it"),
    MMKey("models.*.capabilities", use="pool membership, by ModelMesh's capability tree"),
    MMKey("models.*.delivery", why=_CAPS),
    *(MMKey(f"models.*.delivery.{k}", why=_CAPS) for k in ("synchronous", "streaming", "batch")),
    MMKey("models.*.batch", why=_CAPS),
    *(
        MMKey(f"models.*.batch.{k}", why=_CAPS)
        for k in (
            "max_items",
            "max_payload",
            "completion_window",
            "cost_discount",
            "callback",
            "polling",
            "partial_results",
        )
    ),
    MMKey("models.*.features", why=_CAPS),
    *(
        MMKey(f"models.*.features.{k}", why=_CAPS)
        for k in (
            "tool_calling",
            "structured_output",
            "json_mode",
            "system_prompt",
            "grounding",
            "logprobs",
            "fine_tunable",
        )
    ),
    MMKey("models.*.constraints", why=_CAPS),
    *(
        MMKey(f"models.*.constraints.{k}", why=_CAPS)
        for k in (
            "context_window",
            "max_output_tokens",
            "max_images",
            "max_file_size",
            "supported_languages",
        )
    ),
    # -- pools ------------------------------------------------------------------------------
    MMKey("pools.*", use="a pool whose members the daemon keeps true"),
    MMKey("pools.*.capability", use="pool membership, by ModelMesh's capability tree"),
    MMKey("pools.*.models", use="pool membership: these models too"),
    MMKey("pools.*.providers", use="pool membership: capability matches only from these"),
    MMKey(
        "pools.*.excluded_providers",
        why="documented but not applied by modelmesh-lite 0.1.1, so not applied here either "
        "(pool members match ModelMesh's)",
    ),
    MMKey("pools.*.model_priority", why=_ROUTING),
    MMKey("pools.*.provider_priority", why=_ROUTING),
    MMKey("pools.*.strategy", why=_ROUTING),
    MMKey("pools.*.fallback_strategy", why=_ROUTING),
    MMKey("pools.*.balance_mode", why=_ROUTING),
    MMKey("pools.*.on_budget_exceeded", why=_BUDGET),
    MMKey(
        "pools.*.failure_threshold",
        why="failed requests before ModelMesh's router puts a model on standby (its own "
        "passive rule, beside the daemon's)",
    ),
    MMKey("pools.*.deactivation", why="the router's own deactivation triggers"),
    *(
        MMKey(f"pools.*.deactivation.{k}", why="the router's own deactivation triggers")
        for k in (
            "retry_limit",
            "error_rate_threshold",
            "error_codes",
            "request_limit",
            "token_limit",
            "budget_limit",
            "quota_window",
            "maintenance_window",
        )
    ),
    MMKey(
        "pools.*.recovery",
        why="the router's own recovery triggers; the daemon's probes decide recovery here",
    ),
    *(
        MMKey(f"pools.*.recovery.{k}", why="the router's own recovery triggers")
        for k in (
            "cooldown",
            "probe_on_start",
            "probe_interval",
            "on_quota_reset",
            "quota_reset_schedule",
        )
    ),
    MMKey("pools.*.retry", why=_ROUTING),
    *(
        MMKey(f"pools.*.retry.{k}", why=_ROUTING)
        for k in (
            "max_attempts",
            "backoff",
            "initial_delay",
            "max_delay",
            "retryable_codes",
            "non_retryable_codes",
            "scope",
            "honor_retry_after",
        )
    ),
    MMKey("pools.*.rate_limit", why=_ROUTING),
    *(
        MMKey(f"pools.*.rate_limit.{k}", why=_ROUTING)
        for k in ("threshold", "min_delta", "max_rpm")
    ),
    MMKey(
        "pools.*.provider_deactivation",
        why="the daemon always takes every model of an unhealthy provider out of every pool",
    ),
    MMKey(
        "pools.*.provider_recovery",
        why="the daemon always restores a recovered provider's models after its probes pass",
    ),
    # -- storage ----------------------------------------------------------------------------
    MMKey(
        "storage",
        use="only `url` is the daemon's (its state store); the rest is ModelMesh's own",
        block=OPEN,
    ),
    MMKey("storage.url", use="the daemon's state store (not a ModelMesh key)"),
    MMKey(
        "storage.connector",
        why="ModelMesh's own state store; the daemon's is `run --store` or `storage.url`",
    ),
    MMKey(
        "storage.sync_policy",
        why="when ModelMesh saves its own state; the daemon writes every change at once, so "
        "attached routers see it",
    ),
    MMKey("storage.sync_interval", why="when ModelMesh saves its own state"),
    # -- observability ----------------------------------------------------------------------
    MMKey("observability", why="ModelMesh's routing events, request logs and statistics"),
    MMKey("observability.connector", why="ModelMesh's observability connector"),
    MMKey("observability.routing", why="ModelMesh's routing events"),
    *(
        MMKey(f"observability.routing.{k}", why="ModelMesh's routing events")
        for k in ("connector", "url", "path")
    ),
    MMKey("observability.logging", why="ModelMesh's request log"),
    *(
        MMKey(f"observability.logging.{k}", why="ModelMesh's request log")
        for k in ("connector", "level", "path")
    ),
    MMKey("observability.statistics", why="ModelMesh's statistics"),
    *(
        MMKey(f"observability.statistics.{k}", why="ModelMesh's statistics")
        for k in ("connector", "path", "flush_interval")
    ),
    # -- discovery --------------------------------------------------------------------------
    MMKey("discovery", use="`health` sets the probe schedule and policy; `sync` is ignored"),
    MMKey("discovery.sync", why="ModelMesh's model catalogue sync"),
    *(
        MMKey(f"discovery.sync.{k}", why="ModelMesh's model catalogue sync")
        for k in ("enabled", "interval", "auto_register", "providers")
    ),
    MMKey("discovery.health", use="the daemon is this health monitor"),
    MMKey(
        "discovery.health.enabled",
        why="running the daemon is what turns health monitoring on",
    ),
    MMKey(
        "discovery.health.interval",
        use="`schedule.interval`: between probes of a healthy provider",
    ),
    MMKey("discovery.health.timeout", use="`schedule.timeout`: the whole-probe deadline"),
    MMKey(
        "discovery.health.failure_threshold",
        use="`health.ema_alpha`: chosen so that this many consecutive failed probes take a "
        "healthy provider down",
    ),
    MMKey(
        "discovery.health.providers",
        why="the daemon probes every enabled provider (set `enabled: false` to leave one out)",
    ),
    # -- connectors and proxy ---------------------------------------------------------------
    MMKey("connectors", why="ModelMesh's custom connector packages"),
    MMKey("connectors.packages", why="ModelMesh's custom connector packages"),
    MMKey("proxy", why="ModelMesh's OpenAI-compatible proxy server"),
    *(
        MMKey(f"proxy.{k}", why="ModelMesh's OpenAI-compatible proxy server")
        for k in ("host", "port", "endpoints")
    ),
    MMKey("proxy.auth", why="ModelMesh's OpenAI-compatible proxy server", block=OPEN),
    MMKey("proxy.cors", why="ModelMesh's OpenAI-compatible proxy server", block=OPEN),
)

_BY_PATH: dict[str, MMKey] = {k.path: k for k in MM_KEYS}


def lookup(pattern: str) -> MMKey | None:
    """The table entry of a key path pattern (`providers.*.budget`), if documented."""
    return _BY_PATH.get(pattern)


@cache
def children_of(pattern: str) -> tuple[str, ...]:
    """The documented keys one level below `pattern` (`""`: the top level)."""
    prefix = pattern + "." if pattern else ""
    out: list[str] = []
    for key in MM_KEYS:
        if key.path.startswith(prefix):
            rest = key.path[len(prefix) :]
            if rest and "." not in rest and rest != "*":
                out.append(rest)
    return tuple(out)
