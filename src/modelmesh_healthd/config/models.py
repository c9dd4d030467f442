"""The configuration's pydantic models: each section validates itself and rejects unknown keys."""

from __future__ import annotations

import importlib.util
import re
import typing
from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass as pydantic_dataclass

from modelmesh_healthd.config.canary import CanaryConfig, PriceConfig
from modelmesh_healthd.config.section import _Section
from modelmesh_healthd.config.types import ByteSize, Duration, PositiveDuration
from modelmesh_healthd.kinds import KINDS as KIND_SPECS
from modelmesh_healthd.kinds import UNSUPPORTED, kind_names
from modelmesh_healthd.state import DEFAULT_POLICY, Effect, HealthPolicy, Outcome, PolicyError

__all__ = [
    "KINDS",
    "DaemonConfig",
    "HealthConfig",
    "HttpCheckConfig",
    "HttpConfig",
    "LogConfig",
    "ModelConfig",
    "NetworkGuardConfig",
    "PoolConfig",
    "ProviderConfig",
    "ScheduleConfig",
    "ScheduleOverrides",
    "StorageConfig",
]

# The kinds come from the one registry; a Literal built from it keeps `schema`'s enum and
# pydantic's "Input should be 'openai', 'anthropic', ..." message naming every allowed kind.
KINDS: tuple[str, ...] = kind_names()
if typing.TYPE_CHECKING:
    Kind = str
else:
    Kind = Literal[KINDS]

KEYED_KINDS = frozenset(s.name for s in KIND_SPECS.values() if s.key_required)
"""Kinds whose probe proves an API key, which therefore must be given."""

DEFAULT_BASE_URLS: Mapping[str, str] = MappingProxyType(
    {s.name: s.default_base_url for s in KIND_SPECS.values() if s.default_base_url}
)
"""Where each kind lives when `base_url` is not given (the others need one)."""

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$", max_length=200)]
SiteName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=64)]
"""A site's name: no `:`, `@` or space (it is part of store keys and replica ids)."""
_URL = re.compile(r"^https?://[^\s/?#]+(/[^\s?#]*)?$")


# Sections that exist once per provider or model are slotted pydantic dataclasses, not models:
# they validate the same, but an instance costs ~1/4 of a BaseModel's memory, which matters for
# a fleet of 10,000 providers kept for the life of the daemon.
_entity = pydantic_dataclass(
    frozen=True,
    slots=True,
    config=ConfigDict(extra="forbid"),
)


class ScheduleConfig(_Section):
    """When to probe. Defaults for all providers; each provider may override any of them."""

    interval: PositiveDuration = 30.0
    """Between probes of a healthy provider."""
    fast_interval: PositiveDuration = 5.0
    """Between probes while a transition is pending (first failure, first success after down)."""
    down_interval: PositiveDuration = 15.0
    """First wait after a probe of a down provider; doubles per failed probe up to the maximum."""
    down_interval_max: PositiveDuration = 300.0
    """Cap of the growing down interval."""
    jitter: float = Field(0.1, ge=0.0, le=0.5)
    """Each wait is spread uniformly by +/- this fraction, so probes do not march in lockstep."""
    timeout: PositiveDuration = 10.0
    """Whole-probe deadline: connect, TLS, request and body together."""

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for each rule between fields that this schedule breaks."""
        if self.down_interval_max < self.down_interval:
            return [("down_interval_max", "must be at least down_interval")]
        return []


@_entity
class ScheduleOverrides:
    """A provider's deviations from the global schedule."""

    interval: PositiveDuration | None = None
    """Overrides `schedule.interval` for this provider."""
    fast_interval: PositiveDuration | None = None
    """Overrides `schedule.fast_interval`."""
    down_interval: PositiveDuration | None = None
    """Overrides `schedule.down_interval`."""
    down_interval_max: PositiveDuration | None = None
    """Overrides `schedule.down_interval_max`."""
    jitter: float | None = Field(None, ge=0.0, le=0.5)
    """Overrides `schedule.jitter`."""
    timeout: PositiveDuration | None = None
    """Overrides `schedule.timeout` (e.g. a slow local server)."""

    def over(self, base: ScheduleConfig) -> ScheduleConfig:
        """`base` with these overrides applied."""
        names = (
            "interval",
            "fast_interval",
            "down_interval",
            "down_interval_max",
            "jitter",
            "timeout",
        )
        changes = {n: getattr(self, n) for n in names if getattr(self, n) is not None}
        return base.model_copy(update=changes) if changes else base


NO_OVERRIDES = ScheduleOverrides()
"""Shared by every provider that keeps the global schedule."""

NO_HEADERS: dict[str, SecretStr] = {}
"""The headers of every provider that names none: one empty dict, not one apiece (64 bytes per
provider). Configuration is read-only by convention: nothing may add to it."""


class HealthConfig(_Section):
    """The HealthPolicy: see docs/health-model.md for what each number does."""

    ema_alpha: float = DEFAULT_POLICY.ema_alpha
    """Weight of the newest probe in the availability score."""
    min_availability: float = DEFAULT_POLICY.min_availability
    """Below this score the provider is down."""
    recovery_threshold: float = DEFAULT_POLICY.recovery_threshold
    """A down provider comes back only at or above this score..."""
    recovery_successes: int = DEFAULT_POLICY.recovery_successes
    """...and only after this many consecutive successes."""
    loading_grace: Duration = DEFAULT_POLICY.loading_grace
    """How long `loading` answers are tolerated before they count as failures."""
    outcomes: dict[Outcome, Effect] = Field(default_factory=dict)
    """Overrides of what an outcome class does, e.g. `degraded: failure`."""
    degraded_factor: float = DEFAULT_POLICY.degraded_factor
    """A probe over this many times the provider's own latency baseline is slow."""
    degraded_floor: Duration = DEFAULT_POLICY.degraded_floor
    """...and only above this latency (tiny baselines jitter)."""
    latency_alpha: float = DEFAULT_POLICY.latency_alpha
    """Weight of the newest answered probe in the latency baseline (an EMA)."""
    latency_warmup: int = DEFAULT_POLICY.latency_warmup
    """Answered probes before the baseline is trusted."""
    degraded_streak: int = DEFAULT_POLICY.degraded_streak
    """Slow probes in a row that make a provider degraded (as many fast ones bring it back)."""
    quorum: int | None = Field(None, ge=1, le=100)
    """Quorum across sites (needs `daemon.vantage`): a provider goes down only when this many
    sites see it down (capped by the sites alive), and comes back once fewer do. Unset: each
    site decides alone."""

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for each rule between fields that these settings break."""
        try:
            self.policy()
        except PolicyError as exc:
            return [(exc.field, str(exc))]
        return []

    def policy(self) -> HealthPolicy:
        """The HealthPolicy these settings describe."""
        return HealthPolicy(
            ema_alpha=self.ema_alpha,
            min_availability=self.min_availability,
            recovery_threshold=self.recovery_threshold,
            recovery_successes=self.recovery_successes,
            loading_grace=self.loading_grace,
            effects=dict(self.outcomes),
            degraded_factor=self.degraded_factor,
            degraded_floor=self.degraded_floor,
            latency_alpha=self.latency_alpha,
            latency_warmup=self.latency_warmup,
            degraded_streak=self.degraded_streak,
        )


class HttpConfig(_Section):
    """The one shared HTTP client."""

    transport: Literal["httptools", "aiohttp", "httpx"] = "httptools"
    """Under httpx's client: `httptools` (the probes' own keep-alive HTTP/1.1, the cheapest; the
    default), `aiohttp` (the httpx-aiohttp transport) or `httpx` (httpx's own, httpcore)."""
    verify: bool = True
    """Verify TLS certificates."""
    ca_bundle: str | None = None
    """A PEM file of CA certificates to trust instead of the system's."""
    trust_env: bool = False
    """Take proxies (HTTP(S)_PROXY, NO_PROXY) and CA settings from the environment."""
    max_body: ByteSize = 1024 * 1024
    """Most bytes read from one answer; the rest is never downloaded."""
    max_redirects: int = Field(3, ge=0, le=20)
    """Redirects followed by probes that follow redirects."""
    user_agent: str = "modelmesh-healthd"
    """The User-Agent header of every probe."""


class StorageConfig(_Section):
    """Where and when the state is persisted."""

    url: str | None = None
    """`sqlite:////abs/state.db` or `sqlite:///relative/state.db` (SQLAlchemy's forms; default:
    under $STATE_DIRECTORY, else ./state), `file:///…`,
    `memory://`, `redis://host:port/db`, `postgresql://…`."""
    sync_policy: Literal["in-memory", "sync-on-boundary", "periodic", "immediate"] = "immediate"
    """When to write: every change within a quarter second (`immediate`: the changes of each
    0.25 s tick in one transaction), every `sync_interval`, only at start and stop, or never."""
    sync_interval: PositiveDuration = 30.0
    """For `periodic`: time between saves."""


class NetworkGuardConfig(_Section):
    """When every provider fails at once with network errors, the fault is likely ours.

    A timeout or connection error that would take a provider down is applied only once another
    provider has answered since that provider's trouble began; until then it is held back.
    """

    enabled: bool = True
    """Hold back network failures that no other provider's answer confirms."""
    min_providers: int = Field(3, ge=1)
    """The guard only applies to fleets of at least this many probed providers."""


class LogConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    """Lowest level logged (healthy probes are `debug`)."""
    format: Literal["auto", "json", "console"] = "auto"
    """`auto`: JSON when stdout is not a terminal, console output on one."""


class DaemonConfig(_Section):
    instance: Id = "main"
    """Name of this daemon in the writer id of the snapshots and the lock owner."""
    concurrency: int = Field(64, ge=1, le=10_000)
    """Most probes in flight at once."""
    drain_timeout: Duration = 10.0
    """On shutdown, how long in-flight probes may take before they are cancelled."""
    summary_interval: Duration = 60.0
    """Between `daemon.summary` log lines (0 turns them off)."""
    stall_after: PositiveDuration = 60.0
    """The scheduler counts as stalled when a provider has waited this long past its due time
    and no probe completed for as long (fails `/livez`, `health`, and stops systemd watchdog
    pings). Keep it above the longest probe timeout."""
    network_guard: NetworkGuardConfig = NetworkGuardConfig()
    log: LogConfig = LogConfig()
    vantage: SiteName | None = None
    """This daemon's site (e.g. `eu-west`), for a quorum across sites (`health.quorum`): every
    site probes every provider from its own network, its replicas share that work."""
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    """The event loop `run` uses: `uvloop` (libuv; less CPU per probe), asyncio's own, or `auto`
    (uvloop when installed, as it is by default on Linux and macOS)."""

    @field_validator("event_loop")
    @classmethod
    def _event_loop_installed(cls, value: str) -> str:
        if value == "uvloop" and importlib.util.find_spec("uvloop") is None:
            raise ValueError("uvloop is not installed (pip install uvloop), or use auto")
        return value


Comparison = Literal["exists", "absent", "==", "!=", "<", "<=", ">", ">=", "contains", "matches"]
_OP_WORDS = {
    "equals": "==",
    "eq": "==",
    "not_equals": "!=",
    "ne": "!=",
    "lt": "<",
    "le": "<=",
    "gt": ">",
    "ge": ">=",
}


def _op_word(value: object) -> object:
    return _OP_WORDS.get(value, value) if isinstance(value, str) else value


Op = Annotated[Comparison, BeforeValidator(_op_word)]


def _valid_regex(value: str | None) -> str | None:
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
    return value


class BodyCondition(_Section):
    """A condition on the answer's body: a JSON path compared with a value, or a regex.

    `path` is a JSON path into the body (`$.data[0].status`, `status`, `items[-1]["id"]`);
    `regex` is searched in the body text (`negate: true`: must not be found).
    """

    path: str | None = None
    op: Op = "exists"
    value: str | int | float | bool | None = None
    regex: Annotated[str | None, AfterValidator(_valid_regex)] = None
    negate: bool = False

    @model_validator(mode="after")
    def _one_kind(self) -> BodyCondition:
        if (self.path is None) == (self.regex is None):
            raise ValueError("a body condition needs exactly one of `path` and `regex`")
        return self


class HeaderCondition(_Section):
    """A condition on a response header (name case-insensitive)."""

    name: str
    op: Op = "exists"
    value: str | int | float | None = None


class HttpCheckConfig(_Section):
    """The request and success conditions of a generic `http` probe."""

    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    path: str = "/"
    """Appended to the provider's base_url (may carry a query string)."""
    headers: dict[str, SecretStr] = Field(default_factory=dict)
    """Request headers of this check (values treated as secrets)."""
    body: str | None = None
    """Request body, if any."""
    expect_status: list[int] = Field(default_factory=lambda: [200])
    """Statuses that count as an answer; others are classified like any provider's."""
    conditions: list[BodyCondition] = Field(default_factory=list)
    """Conditions on the answer's body; all must hold."""
    response_headers: list[HeaderCondition] = Field(default_factory=list)
    """Conditions on the answer's headers; all must hold."""
    on_condition_failure: Outcome = Outcome.PROTOCOL_ERROR
    """The outcome when a condition does not hold."""
    follow_redirects: bool = False

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("must list at least one status")
        bad = [s for s in value if not 100 <= s <= 599]
        if bad:
            raise ValueError(f"not HTTP statuses: {bad}")
        return value


@_entity
class ProviderConfig:
    """One provider endpoint to probe."""

    kind: Kind
    """The API it speaks, which decides the probe (see docs/probes.md)."""
    base_url: str | None = None
    """API root (default per kind; required for azure-openai, local and http). In ModelMesh's
    shape, ModelMesh's meaning: its connectors append `/v1/...` themselves."""
    api_key: SecretStr | None = None
    """Usually `${ENV_VAR}` or `${file:/run/secrets/…}`; never printed or logged."""
    headers: dict[str, SecretStr] = Field(default_factory=lambda: NO_HEADERS)
    """Extra request headers (values are treated as secrets)."""
    enabled: bool = True
    """A disabled provider is not probed and its models stay in manual standby."""
    check_models: bool = True
    """Check in the same request that the configured models exist at the provider."""
    deep: bool = True
    """Climb the kind's deeper free rungs per model (Anthropic `count_tokens`, Gemini
    `countTokens`, Ollama `/api/show`): per-model health for one more request per model."""
    degraded_after: Duration | None = None
    """Latency above which a correct answer counts as `degraded`."""
    schedule: ScheduleOverrides = NO_OVERRIDES
    api_version: str | None = None
    """azure-openai only: the `api-version` query parameter."""
    health_path: str | None = None
    """local only: the health endpoint (default `/health`)."""
    http: HttpCheckConfig | None = None
    """http only: the request and its success conditions."""
    canary: CanaryConfig | None = None
    """Off unless set: a real, billed minimal completion per model that opts in (docs/canary.md)."""

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not _URL.match(value):
            raise ValueError("must be an http:// or https:// URL without query or fragment")
        return value.rstrip("/") if value else value

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for each rule of the provider's kind that these settings break."""
        out: list[tuple[str, str]] = []
        option = KIND_SPECS[self.kind].option
        if self.base_url is None and self.kind not in DEFAULT_BASE_URLS and self.probed:
            out.append(("base_url", f"required for kind {self.kind}"))
        if self.api_version is not None and option != "api_version":
            out.append(("api_version", "applies only to kind azure-openai"))
        if self.health_path is not None and option != "health_path":
            out.append(("health_path", "applies only to kind local"))
        if self.http is None and option == "http":
            out.append(("http", "required for kind http (the request and its conditions)"))
        if self.http is not None and option != "http":
            out.append(("http", "applies only to kind http"))
        if self.kind in KEYED_KINDS and self.api_key is None and self.enabled:
            out.append(("api_key", f"required for kind {self.kind} (the probe proves it)"))
        return out

    @property
    def probed(self) -> bool:
        """False for kind `unsupported`: never probed, its models never deactivated by us."""
        return self.kind != UNSUPPORTED

    @property
    def url(self) -> str:
        """The effective base URL."""
        return self.base_url or DEFAULT_BASE_URLS.get(self.kind, "")


@_entity
class ModelConfig:
    """A model: which provider serves it, and its name there."""

    provider: Id
    """The id of the provider that serves it."""
    name: str | None = None
    """The provider's id of the model (default: the model id after its first `.`)."""
    enabled: bool = True
    """False keeps the model in manual standby."""
    capabilities: tuple[str, ...] = ()
    """Capability paths (ModelMesh's), used by pools that select by `capability`."""
    canary: bool = False
    """Opt this model in to its provider's canary (which costs tokens; needs a `price`)."""
    price: PriceConfig | None = None
    """USD per million tokens; the canary's cost and budget are counted with it."""

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for each rule between this model's fields that is broken."""
        if self.canary and self.price is None:
            return [("canary", "needs a price (input/output USD per million tokens)")]
        return []


class PoolConfig(_Section):
    """A capability pool: its members are the union of the three selectors."""

    models: list[Id] = Field(default_factory=list)
    """Model ids."""
    providers: list[Id] = Field(default_factory=list)
    """All models of these providers."""
    capability: str | None = None
    """All models whose capabilities include this one (a dotted path, or its last segment)."""
