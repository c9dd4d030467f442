"""What every row backend does the same way at load: verify, decide what to set aside, report."""

from __future__ import annotations

from modelmesh_healthd.storage.base import LoadResult, SetAside
from modelmesh_healthd.storage.decode import Decoded

__all__ = ["load_result"]


def load_result(decoded: Decoded, *, row_count: int, moved_to: str | None) -> LoadResult:
    """Turn a verified row store into a LoadResult.

    Args:
        decoded: The outcome of `decode_store`.
        row_count: How many rows the store held (named when the whole store is set aside).
        moved_to: Where the backend moved the bad data (None for a read-only load).

    Returns:
        The good remainder (or None) and one SetAside per bad row, or one for the whole store.
    """
    if decoded.whole_reason is not None:
        what = f"whole store (meta row and {row_count} rows)"
        return LoadResult(None, [SetAside(what, decoded.whole_reason, moved_to)], decoded.epoch)
    aside = [
        SetAside(f"{kind} row {key!r}", reason, moved_to) for kind, key, reason in decoded.bad_rows
    ]
    return LoadResult(decoded.snapshot, aside, decoded.epoch)
