"""Boundary-safe bookmarks of incremental extraction streams, for any provider's dlt source.

A `CursorState` lives in dlt resource state, so it is committed with the load it describes.
It never moves past the moment a sync started, and remembers the ids whose versions sit inside
the lookback window so that re-reading them is a no-op. This module holds no provider fact and
must never do I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CursorState:
    """The bookmark of one extraction stream, stored in dlt resource state."""

    cursor_ms: int | None = None
    boundary: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> CursorState:
        raw = raw or {}
        return cls(raw.get("cursor_ms"), dict(raw.get("boundary") or {}))

    def dump(self) -> dict[str, Any]:
        return {"cursor_ms": self.cursor_ms, "boundary": dict(sorted(self.boundary.items()))}

    def is_seen(self, record_id: str, ms: int) -> bool:
        return self.boundary.get(record_id) == ms

    def advance(self, seen: dict[str, int], started_ms: int, lookback_ms: int) -> CursorState:
        """New bookmark: greatest lastmod seen but never past the sync start, plus the ids
        whose versions sit inside the lookback window (so re-reading them is a no-op)."""
        newest = max(seen.values(), default=None)
        cursor = self.cursor_ms
        if newest is not None:
            cursor = (
                min(newest, started_ms) if cursor is None else max(cursor, min(newest, started_ms))
            )
        if cursor is None:
            return CursorState(None, {})
        floor = cursor - lookback_ms
        boundary = {i: ms for i, ms in self.boundary.items() if ms >= floor}
        boundary.update({i: ms for i, ms in seen.items() if ms >= floor})
        return CursorState(cursor, boundary)


def filters_key(filters: Sequence[dict[str, Any]] | None) -> str:
    """Filtered syncs keep their own bookmark, so they never move the unfiltered one."""
    if not filters:
        return "all"
    digest = hashlib.sha256(json.dumps(list(filters), sort_keys=True).encode()).hexdigest()
    return f"filtered_{digest[:12]}"
