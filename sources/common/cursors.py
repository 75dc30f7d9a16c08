"""Boundary-safe bookmarks of incremental extraction streams, for any provider's dlt source.

A `CursorState` lives in dlt resource state, so it is committed with the load it describes.
The next sync re-reads from the *start* of the sync that wrote it minus the lookback
(`since_ms`): a provider's search index shows a change some wall-clock time after it was made,
so what a sync could have missed was changed shortly before that sync started, whatever the
newest change it saw. The ids whose versions sit inside that window are remembered so that
re-reading them is a no-op. This module holds no provider fact and must never do I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CursorState:
    """The bookmark of one extraction stream, stored in dlt resource state.

    `cursor_ms`: greatest modification time seen, never past a sync's start (reported).
    `anchor_ms`: when the sync that wrote this state started (our clock); None in states
    written before anchors existed, which fall back to `cursor_ms`.
    `boundary`: id -> modification time of the versions read at or after the next `since_ms`.
    """

    cursor_ms: int | None = None
    boundary: dict[str, int] = field(default_factory=dict)
    anchor_ms: int | None = None

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> CursorState:
        raw = raw or {}
        return cls(raw.get("cursor_ms"), dict(raw.get("boundary") or {}), raw.get("anchor_ms"))

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "cursor_ms": self.cursor_ms,
            "boundary": dict(sorted(self.boundary.items())),
        }
        if self.anchor_ms is not None:
            out["anchor_ms"] = self.anchor_ms
        return out

    def since_ms(self, lookback_ms: int) -> int:
        """Where the next incremental read starts: the previous sync's start minus the lookback
        (the provider's index lag is wall time since a change, so only changes made within the
        lookback before that start can have been invisible to it)."""
        anchor = self.anchor_ms if self.anchor_ms is not None else self.cursor_ms
        return max(0, (anchor or 0) - lookback_ms)

    def is_seen(self, record_id: str, ms: int) -> bool:
        return self.boundary.get(record_id) == ms

    def advance(self, seen: dict[str, int], started_ms: int, lookback_ms: int) -> CursorState:
        """New bookmark after a sync that started at `started_ms` and read `seen` (id -> ms):
        anchored at that start, cursor at the greatest lastmod seen but never past the start,
        boundary = the versions that the next sync's window will read again."""
        newest = max(seen.values(), default=None)
        cursor = self.cursor_ms
        if newest is not None:
            cursor = (
                min(newest, started_ms) if cursor is None else max(cursor, min(newest, started_ms))
            )
        if cursor is None:
            return CursorState(None, {}, None)
        floor = started_ms - lookback_ms
        boundary = {i: ms for i, ms in self.boundary.items() if ms >= floor}
        boundary.update({i: ms for i, ms in seen.items() if ms >= floor})
        return CursorState(cursor, boundary, started_ms)

    def same_apart_from_anchor(self, other: CursorState) -> bool:
        """True when only the anchor differs: moving it alone is not worth a load package (an
        idle sync must make none); it moves with the next state that changes anyway."""
        return self.cursor_ms == other.cursor_ms and self.boundary == other.boundary


def filters_key(filters: Sequence[dict[str, Any]] | None) -> str:
    """Filtered syncs keep their own bookmark, so they never move the unfiltered one."""
    if not filters:
        return "all"
    digest = hashlib.sha256(json.dumps(list(filters), sort_keys=True).encode()).hexdigest()
    return f"filtered_{digest[:12]}"
