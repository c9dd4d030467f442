"""What the next write must carry: dirty rows, a full save owed, and what was last written.

The manager's bookkeeping between the live state and the store, kept apart from its scheduling:
`take` serializes what is due (on the loop, in one go: a consistent cut), `failed` puts it back,
`succeeded` records it as written.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
from dataclasses import dataclass

from modelmesh_healthd.state.events import Event
from modelmesh_healthd.state.mesh import Mesh
from modelmesh_healthd.state.system import SystemState
from modelmesh_healthd.storage.base import Row
from modelmesh_healthd.storage.dirty import DirtySet
from modelmesh_healthd.storage.row_encode import KINDS, PROVIDER, all_rows, row_for

__all__ = ["PendingWrites", "Taken"]


@dataclass(frozen=True, slots=True)
class Taken:
    """One write's worth of rows, and the dirty keys they came from.

    Attributes:
        rows: The rows to write (changed ones only, unless `full`).
        keys: The dirty keys taken, per kind (put back if the write fails).
        full: A full save: every row, and nothing else is to remain in the store.
    """

    rows: list[Row]
    keys: dict[str, set[str]]
    full: bool


def _fingerprint(checksum: str) -> int:
    """The first 60 bits of a row's `sha256:<hex>` checksum, to tell whether it changed.

    A small int is a fraction of the checksum string's size, for every provider row, for the life
    of the daemon (docs/benchmarks.md); a changed row passes for unchanged with odds of 2**-60.
    """
    return int(checksum[7:22], 16)


class PendingWrites:
    """Dirty rows, a pending full save, and a fingerprint of every row as last written."""

    __slots__ = ("_dirty", "_written", "full")

    def __init__(self) -> None:
        self._dirty = DirtySet()
        self.full = False
        """The next write must be a full save."""
        self._written: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}

    def __len__(self) -> int:
        """Dirty row keys (candidates: some may turn out unchanged)."""
        return len(self._dirty)

    def any(self) -> bool:
        """Something is owed to the store."""
        return self.full or len(self._dirty) > 0

    def add_events(self, mesh: Mesh, events: Iterable[Event]) -> None:
        """Mark the rows `events` may have changed."""
        self._dirty.add_events(mesh, events)

    def add_provider(self, provider: str) -> None:
        """Mark one provider's row (a change made outside a transition: the canary's spend)."""
        self._dirty.keys[PROVIDER].add(provider)

    def owe_full_save(self) -> None:
        """The next write rewrites everything (new state, or a store that lost its data)."""
        self.full = True
        self._dirty.clear()

    def take(self, state: SystemState, mesh: Mesh) -> Taken:
        """Serialize what is due; the caller must then report `failed` or `succeeded`."""
        full, self.full = self.full, False
        keys = self._dirty.take()
        if full:
            # A full save allocates a row per provider in one burst; the cyclic GC would walk
            # the whole state several times meanwhile, for nothing (rows hold no cycles).
            collecting = gc.isenabled()
            gc.disable()
            try:
                return Taken(all_rows(state, mesh), keys, True)
            finally:
                if collecting:
                    gc.enable()
        rows = []
        for kind, some in keys.items():
            written = self._written[kind]
            for key in some:
                row = row_for(state, mesh, kind, key)
                if row.checksum is None or _fingerprint(row.checksum) != written.get(key):
                    rows.append(row)
        return Taken(rows, keys, False)

    def failed(self, taken: Taken, *, lost_data: bool = False) -> None:
        """A write failed: owe it again.

        Its rows are also forgotten as written: a failed write may still have landed (the
        commit went through, the answer was lost), so they are rewritten next time even if
        they change back meanwhile.

        Args:
            taken: What the failed write carried.
            lost_data: The backend lost what it held: owe a full save.
        """
        self._dirty.merge(taken.keys)
        self.full = self.full or taken.full or lost_data
        for row in taken.rows:
            self._written[row.kind].pop(row.key, None)

    def succeeded(self, taken: Taken) -> None:
        """A write landed: remember each row's fingerprint."""
        if taken.full:
            self._written = {kind: {} for kind in KINDS}
        for row in taken.rows:
            if row.checksum is None:
                self._written[row.kind].pop(row.key, None)
            else:
                self._written[row.kind][row.key] = _fingerprint(row.checksum)
