"""Fault injection: latency, 5xx, 429, connection reset mid-body, malformed JSON.

Faults are chosen per request either by rate (seeded RNG) or deterministically for the next N
matching requests. They never touch `/_sandbox/` or `/oauth/` unless `path_regex` matches them.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import orjson
from flask import Response

from sandbox.hubspot.responses import JSON_TYPE, correlation_id, rate_limit_body

KINDS = ("5xx", "429", "reset", "malformed")
_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


class InjectedConnectionReset(Exception):
    """Raised inside a response body to make the server drop the connection mid-body."""


@dataclass
class FaultConfig:
    rate_5xx: float = 0.0
    rate_429: float = 0.0
    latency_ms: int = 0
    rate_reset: float = 0.0
    rate_malformed: float = 0.0
    path_regex: str | None = None
    next_n: int | None = None
    seed: int = 0


class FaultInjector:
    """Holds the active fault configuration and decides per request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.config = FaultConfig()
        self._rng = random.Random(0)
        self._regex: re.Pattern[str] | None = None
        self._remaining: int | None = None

    def configure(self, config: FaultConfig) -> None:
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._regex = re.compile(config.path_regex) if config.path_regex else None
            self._remaining = config.next_n

    def clear(self) -> None:
        self.configure(FaultConfig())

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            data = dict(self.config.__dict__)
            data["next_n_remaining"] = self._remaining
            return data

    def decide(self, path: str) -> tuple[str | None, int]:
        """(fault kind or None, latency ms) for a request path."""
        with self._lock:
            cfg = self.config
            if self._regex is not None:
                if not self._regex.search(path):
                    return None, 0
            elif path.startswith(("/_sandbox/", "/oauth/")):
                return None, 0
            rates = (cfg.rate_5xx, cfg.rate_429, cfg.rate_reset, cfg.rate_malformed)
            kind, self._remaining, applies = draw_fault(KINDS, rates, self._rng, self._remaining)
            return kind, cfg.latency_ms if applies else 0

    def pick_5xx(self) -> int:
        with self._lock:
            return self._rng.choice((502, 503, 504))


def server_error_response(status: int) -> Response:
    """A realistic gateway/server error: HTML for 502, HubSpot-like JSON for 503/504."""
    if status == 502:
        return Response(_BAD_GATEWAY_HTML, status=502, content_type="text/html")
    message = {
        503: "Service Unavailable. The service is temporarily unable to handle the request.",
        504: "The request timed out while waiting for the upstream service. Please retry.",
    }.get(status, "internal error")
    body = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": "INTERNAL_ERROR" if status != 504 else "TIMEOUT",
    }
    return Response(orjson.dumps(body), status=status, content_type=JSON_TYPE)


def rate_limited_response(limit: int) -> Response:
    headers = {
        "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
        "X-HubSpot-RateLimit-Max": str(limit),
        "X-HubSpot-RateLimit-Remaining": "0",
        "X-HubSpot-RateLimit-Secondly": str(max(1, limit // 10)),
        "X-HubSpot-RateLimit-Secondly-Remaining": "0",
    }
    resp = Response(
        orjson.dumps(rate_limit_body("TEN_SECONDLY_ROLLING")),
        status=429,
        content_type=JSON_TYPE,
    )
    resp.headers.update(headers)
    return resp


def reset_response() -> Response:
    """Headers promise the full body; the server sends part of it and drops the connection."""
    body = orjson.dumps({"results": [{"id": str(n), "properties": {}} for n in range(50)]})

    def chunks() -> Iterator[bytes]:
        yield body[: len(body) // 3]
        raise InjectedConnectionReset("injected connection reset")

    resp = Response(chunks(), status=200, content_type=JSON_TYPE)
    resp.headers["Content-Length"] = str(len(body))
    return resp


def malformed_response() -> Response:
    body = orjson.dumps({"results": [{"id": "1", "properties": {"email": "x@example.com"}}]})
    return Response(body[: len(body) // 2], status=200, content_type=JSON_TYPE)


def draw_fault(
    kinds: Sequence[str], rates: Sequence[float], rng: random.Random, remaining: int | None
) -> tuple[str | None, int | None, bool]:
    """Which fault the next request gets: (kind or None, the next-N budget left, whether the
    fault settings apply at all).

    With a next-N budget the first kind with a positive rate applies until the budget is spent
    (then nothing applies, latency included); without one, one uniform draw over the
    cumulative rates picks a kind, or none.
    """
    if remaining is not None:
        if remaining <= 0:
            return None, remaining, False
        kind = next((k for k, r in zip(kinds, rates, strict=True) if r > 0), None)
        return kind, remaining - 1, True
    draw = rng.random()
    acc = 0.0
    for kind, rate in zip(kinds, rates, strict=True):
        acc += rate
        if draw < acc:
            return kind, None, True
    return None, None, True
