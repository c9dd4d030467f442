"""The row form of a SystemState: what row backends store, and how a flush builds it.

Rows (ROW_LAYOUT 3):

* `provider` — one per provider, holding the provider and all its models:
  `{"models": {model id: model}, "provider": provider}`. A probe changes a provider and, now and
  then, its models' reasons and statuses; keeping them in one row makes every probe one row
  write and cuts a 10,000-provider fleet to 10,000 rows instead of 110,000;
* `pool` — a pool's rotation counters (rewritten when one of its models moves);
* `members` — a pool's model ids (rewritten only when the topology changes).

Which of a pool's members are active is not stored: the core keeps a model in its pools' active
sets exactly while the model's status is active (`reconcile` rebuilds pool sets the same way), so
the split is derived from the model statuses at load. A deactivation thus rewrites one provider
row and a few small pool rows, never a 30,000-model member list.

Every row's `data` is canonical JSON (sorted keys, no spaces) and its checksum covers kind, key
and data, so a row that was altered, truncated or written under another key is caught at load.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
from collections.abc import Callable, Mapping
from dataclasses import fields
from operator import attrgetter
from typing import Any

from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.model import ModelState, PoolState
from modelmesh_healthd.state.provider import ProviderState
from modelmesh_healthd.state.system import SystemState
from modelmesh_healthd.storage.base import Envelope, Row, WriteBatch
from modelmesh_healthd.storage.errors import StoreResetError

__all__ = [
    "KINDS",
    "MEMBERS",
    "META",
    "POOL",
    "PROVIDER",
    "ROW_LAYOUT",
    "all_rows",
    "check_follows",
    "encode_json",
    "make_batch",
    "row_checksum",
    "row_for",
    "stray_models",
]

PROVIDER, POOL, MEMBERS = "provider", "pool", "members"
KINDS: tuple[str, ...] = (PROVIDER, POOL, MEMBERS)
META = "meta"

ROW_LAYOUT = 3
"""Version of the row split itself (which kinds exist and what they hold)."""

# One encoder instance: `json.dumps` with non-default options builds a new encoder per call.
# Same options as `canonical_json`, so equal bytes.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
encode_json: Callable[[Any], str] = _ENCODER.encode


def _presorted_encoder() -> Callable[[Any], str]:
    """Canonical JSON of a value whose dicts are all built in sorted key order.

    CPython's C encoder called directly, without re-sorting and without the per-call set-up of
    `JSONEncoder.encode`: the cheapest stdlib way through a 100,000-model full save.
    """
    # The C encoder factory is CPython's accelerator, absent from the typing stubs.
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)

    def refuse(value: object) -> object:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")

    if c_make_encoder is None:  # pragma: no cover - CPython has the C accelerator
        return encode_json
    try:
        c_encode = c_make_encoder(
            None, refuse, json.encoder.encode_basestring, None, ":", ",", False, False, True
        )
    except TypeError:  # pragma: no cover - another Python's json internals
        return encode_json

    def encode(value: Any) -> str:
        return "".join(c_encode(value, 0))

    return encode


_encode_sorted = _presorted_encoder()


def _as_dict(cls: type[Any]) -> Callable[[Any], dict[str, Any]]:
    """`obj.to_dict()` with keys in sorted order, read with one C-level attrgetter.

    Used only if it reproduces `to_dict()` for a default instance; a future `to_dict` with
    computed keys gets the plain (sorted) path instead of wrong rows.
    """
    names = tuple(sorted(cls().to_dict()))

    def plain(obj: Any) -> dict[str, Any]:
        return dict(sorted(obj.to_dict().items()))

    try:
        values = attrgetter(*names)

        def fast(obj: Any) -> dict[str, Any]:
            return dict(zip(names, values(obj), strict=False))  # equal lengths by construction

        sample = cls()
        if list(fast(sample).items()) != list(plain(sample).items()):  # pragma: no cover
            return plain
    except AttributeError:  # pragma: no cover - a to_dict key that is not a field
        return plain
    return fast


_provider_dict = _as_dict(ProviderState)
_model_dict = _as_dict(ModelState)


def row_checksum(kind: str, key: str, data: str) -> str:
    """`sha256:<hex>` over kind, key and data: a row moved under another key fails it too."""
    digest = hashlib.sha256(f"{kind}\x00{key}\x00{data}".encode()).hexdigest()
    return f"sha256:{digest}"


def _row(kind: str, key: str, data: str) -> Row:
    return Row(kind, key, data, row_checksum(kind, key, data))


def _provider_group(state: SystemState, mesh: Mesh, provider: str) -> str | None:
    """A provider row's data: `all_rows`' text for one provider (equal bytes).

    Under `immediate` this runs for every probe (each changes its provider's row), and the
    models are most of the row's text while a healthy model's fields do not change from one
    probe to the next: their text comes from `_model_text`'s shared cache.
    """
    ps = state.providers.get(provider)
    if ps is None:
        return None
    models = state.models
    quote, text_of = _quote, _model_text
    parts = [
        f"{quote(m)}:{text_of(models[m])}"
        for m in _sorted_groups(mesh).get(provider, ())
        if m in models
    ]
    return f'{{"models":{{{",".join(parts)}}},"provider":{_encode_sorted(_provider_dict(ps))}}}'


_model_texts: dict[tuple[int, ...], tuple[tuple[object, ...], str]] = {}
"""Field values' ids -> (the values, the model's JSON), for the few shapes most models share.

Each entry holds the values themselves, so no id in its key can be reused by another object
while it is there: the same ids are the very same (immutable) values, so the same text.
Bounded by `_SEEN_MAX` (emptied when full): a fixed few kilobytes, whatever the fleet.
"""


def _model_text(model: ModelState) -> str:
    """`model`'s canonical JSON, from `_model_texts` when its field values are shared."""
    if model.latency_history:  # a list of its own (mutable): never shared
        return _encode_sorted(_model_dict(model))
    values = _model_key(model)
    key = tuple(map(id, values))
    found = _model_texts.get(key)
    if found is not None:
        return found[1]
    text = _encode_sorted(_model_dict(model))
    if len(_model_texts) >= _SEEN_MAX:
        _model_texts.clear()
    _model_texts[key] = (values, text)
    return text


def _pool_header(pool: PoolState) -> str:
    return encode_json({"rotation_count": pool.rotation_count, "last_rotation": pool.last_rotation})


def _pool_members(pool: PoolState) -> str:
    return encode_json({"models": sorted(pool.active_models | pool.standby_models)})


def row_for(state: SystemState, mesh: Mesh, kind: str, key: str) -> Row:
    """The row of `key` as `state` has it now: an upsert, or a deletion when it is gone.

    Args:
        state: The live state.
        mesh: Its topology (which models a provider row holds).
        kind: `provider`, `pool` or `members`.
        key: The provider's or pool's id.

    Returns:
        The row (`data` None: delete it).
    """
    data: str | None = None
    if kind == PROVIDER:
        data = _provider_group(state, mesh, key)
    elif kind in (POOL, MEMBERS):
        pool = state.pools.get(key)
        if pool is not None:
            data = _pool_header(pool) if kind == POOL else _pool_members(pool)
    else:  # pragma: no cover - the manager only asks for the three kinds
        raise ValueError(f"unknown row kind {kind!r}")
    if data is None:
        return Row(kind, key, None, None)
    return _row(kind, key, data)


@functools.lru_cache(maxsize=4)
def _sorted_groups(mesh: Mesh) -> Mapping[str, tuple[str, ...]]:
    """Provider -> its model ids, sorted (row order), computed once per mesh.

    The mesh's own map when its groups are in order already (one model per provider always
    is): a second map, one tuple per provider held for the life of the daemon, is memory a large
    fleet notices (docs/benchmarks.md).
    """
    groups = mesh.provider_models
    if all(_in_order(models) for models in groups.values()):
        return groups
    return {
        p: models if _in_order(models) else tuple(sorted(models)) for p, models in groups.items()
    }


def _in_order(models: tuple[str, ...]) -> bool:
    return all(a < b for a, b in itertools.pairwise(models))


def all_rows(state: SystemState, mesh: Mesh) -> list[Row]:
    """Every row of `state` (a full save); `state` must be reconciled to `mesh`.

    The provider-row loop is `_provider_group` and `row_checksum` inlined: at 10,000 providers
    and 100,000 models, per-object Python calls are a visible share of the whole save. Most
    models of a fleet hold the very same value objects (a healthy model's zeros, `None`s and
    `"active"`; the decoder shares them too), so a model whose fields are the same objects as an
    earlier one's reuses its JSON instead of encoding it again. Same objects, same text: the
    rows are exactly `_provider_group`'s.
    """
    sha256, encode, quote = hashlib.sha256, _encode_sorted, _quote
    model_dict, provider_dict, model_key = _model_dict, _provider_dict, _model_key
    models, groups = state.models, _sorted_groups(mesh)
    seen: dict[tuple[int, ...], str] = {}
    rows: list[Row] = []
    for provider, ps in state.providers.items():
        parts = []
        for m in groups.get(provider, ()):
            model = models.get(m)
            if model is None:
                continue
            if model.latency_history:  # a list of its own: nothing to share
                text = encode(model_dict(model))
            else:
                key = tuple(map(id, model_key(model)))
                found = seen.get(key)
                if found is None:
                    text = encode(model_dict(model))
                    if len(seen) < _SEEN_MAX:
                        seen[key] = text
                else:
                    text = found
            parts.append(f"{quote(m)}:{text}")
        data = f'{{"models":{{{",".join(parts)}}},"provider":{encode(provider_dict(ps))}}}'
        digest = sha256(f"{PROVIDER}\x00{provider}\x00{data}".encode()).hexdigest()
        rows.append(Row(PROVIDER, provider, data, f"sha256:{digest}"))
    for name, pool in state.pools.items():
        rows.append(_row(POOL, name, _pool_header(pool)))
        rows.append(_row(MEMBERS, name, _pool_members(pool)))
    return rows


_quote: Callable[[str], str] = json.encoder.encode_basestring  # the encoders' own key quoting
_model_key = attrgetter(*(f.name for f in fields(ModelState) if f.name != "latency_history"))
_SEEN_MAX = 64
"""Distinct models remembered per full save: the few shapes most models share, not all."""


def make_batch(envelope: Envelope, rows: list[Row], *, replace: bool) -> WriteBatch:
    """Wrap rows with their meta row."""
    meta = encode_json(
        {
            "layout": ROW_LAYOUT,
            "schema_version": envelope.schema_version,
            "written_at": envelope.written_at,
            "writer_id": envelope.writer_id,
            "epoch": envelope.epoch,
            "timestamp": envelope.timestamp,
        }
    )
    return WriteBatch(envelope, rows, replace, meta, row_checksum(META, META, meta))


def stray_models(state: SystemState, mesh: Mesh) -> list[str]:
    """Models of `state` that no provider row would hold (their provider is not in the state
    or the mesh does not know them): a state not reconciled to `mesh`."""
    return sorted(m for m in state.models if mesh.model_provider.get(m) not in state.providers)


def check_follows(stored_meta: str | None, batch: WriteBatch, store: str) -> None:
    """Refuse an incremental batch unless the store holds exactly the write before it.

    An incremental batch only carries what changed since the writer's previous write; applied
    to anything else (a Redis restarted from an older RDB snapshot, a restored backup, a write
    of another writer in between, a commit that landed although it reported a failure) it
    would leave the store a mix. Epochs of one writer's successful writes are consecutive, so
    the meta row must hold the batch's epoch minus one.

    Raises:
        StoreResetError: It does not: the writer must rewrite everything.
    """
    if batch.replace:
        return
    expected = batch.envelope.epoch - 1
    try:
        found = None if stored_meta is None else json.loads(stored_meta).get("epoch")
    except (ValueError, AttributeError):
        found = None
    if found != expected:
        raise StoreResetError(
            f"{store} holds epoch {found}, not {expected} as last written: it was rolled back "
            "or written by someone else; rewriting in full"
        )
