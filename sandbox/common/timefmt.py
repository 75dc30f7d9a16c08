"""Millisecond timestamps as ISO-8601 with milliseconds, UTC (`2024-09-11T13:27:39.356Z`), both ways."""

from __future__ import annotations

import time
from datetime import datetime
from functools import lru_cache


@lru_cache(maxsize=4096)
def _day_prefix(day: int) -> str:
    t = time.gmtime(day * 86400)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"


def iso_ms(ms: int) -> str:
    """Epoch milliseconds → `2024-09-11T13:27:39.356Z`."""
    day, rem = divmod(ms, 86_400_000)
    sec, milli = divmod(rem, 1000)
    minute, second = divmod(sec, 60)
    hour, minute = divmod(minute, 60)
    return f"{_day_prefix(day)}{hour:02d}:{minute:02d}:{second:02d}.{milli:03d}Z"


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
