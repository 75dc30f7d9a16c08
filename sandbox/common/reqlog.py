"""Request log of the sandbox: what the client really sent, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import Counter, deque
from typing import Any


class RequestLog:
    """Bounded, thread-safe log of request entries with increasing `seq`."""

    def __init__(self, max_entries: int = 200_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._seq = 0
        self._by_template: Counter[tuple[str, str]] = Counter()
        self._by_status: Counter[int] = Counter()

    def add(self, entry: dict[str, Any], template: str) -> None:
        with self._lock:
            self._seq += 1
            entry["seq"] = self._seq
            self._entries.append(entry)
            self._by_template[(entry["method"], template)] += 1
            self._by_status[entry["status"]] += 1

    def since(self, seq: int) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._entries if e["seq"] > seq]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._by_template.clear()
            self._by_status.clear()

    def summary(self) -> dict[str, Any]:
        with self._lock:
            return {
                "total": sum(self._by_status.values()),
                "last_seq": self._seq,
                "by_endpoint": [
                    {"method": m, "path": p, "count": n}
                    for (m, p), n in sorted(self._by_template.items())
                ],
                "by_status": {str(s): n for s, n in sorted(self._by_status.items())},
            }
