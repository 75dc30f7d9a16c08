"""Millisecond timestamps as HubSpot writes and reads them (ISO-8601 with milliseconds, UTC)."""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache


@lru_cache(maxsize=65536)
def iso_ms(ms: int) -> str:
    """Epoch milliseconds → `2024-09-11T13:27:39.356Z`."""
    t = time.gmtime(ms // 1000)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}.{ms % 1000:03d}Z"
    )


def parse_ms(value: object) -> int | None:
    """Epoch-ms string/int or ISO-8601 (date or datetime) → epoch ms; None when unparseable."""
    if value is None:
        return None
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if not text:
        return None
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        from datetime import UTC

        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)
