"""HubSpot-shaped injected faults: what a 5xx, a 429, a reset mid-body or malformed JSON look
like from HubSpot's edge. Which request gets which fault is drawn by `sandbox.common.faults`
(never on `/_sandbox/` or `/oauth/` unless `path_regex` names them). `SearchFaults` are the
search index's own: variable index lag and records edited while a search is paged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import orjson
from flask import Response

from sandbox.common.faults import FaultInjector, InjectedConnectionReset
from sandbox.common.ratelimit import RateLimiter
from sandbox.hubspot.responses import JSON_TYPE, correlation_id, rate_limit_body

_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


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


class HubSpotFaultResponses:
    """The `FaultResponses` of the shared gateway (a 429 names the private-app burst limit)."""

    def __init__(self, limiter: RateLimiter) -> None:
        self._limiter = limiter

    def server_error(self, status: int) -> Response:
        return server_error_response(status)

    def rate_limited(self) -> Response:
        return rate_limited_response(self._limiter.burst_limit("private_app"))

    def connection_reset(self) -> Response:
        return reset_response()

    def malformed(self) -> Response:
        return malformed_response()


def hubspot_fault_injector() -> FaultInjector:
    """API faults never hit the admin interface or the OAuth server unless asked to."""
    return FaultInjector(exempt_prefixes=("/_sandbox/", "/oauth/"))


class SearchFaults:
    """Search-side faults of one portal, armed through `/_sandbox/search_faults`.

    - Variable index lag: each write becomes visible to search after its own delay, drawn
      uniformly from [0, index_lag_max_ms] by a seeded stream (the n-th write of a run always
      gets the same delay), as HubSpot's index catches up with some changes later than others.
    - Edit during a search: when the `edit_at_page`-th search of `object_type` since arming
      arrives, `edit_count` records that earlier searches already returned are edited first
      (they move to the end of last-modified order, as if a user saved them meanwhile).
    """

    def __init__(self) -> None:
        self.index_lag_max_ms = 0
        self.seed = 0
        self._draws = 0
        self.edit_at_page: int | None = None
        self.edit_count = 0
        self.object_type: str | None = None
        self._searches = 0
        self._returned: list[int] = []
        self.edited: list[int] = []

    def configure(self, body: dict) -> None:
        """Arm from an admin body; fields left out keep their value."""
        if "index_lag_max_ms" in body:
            self.index_lag_max_ms = max(0, int(body["index_lag_max_ms"]))
        if "seed" in body:
            self.seed, self._draws = int(body["seed"]), 0
        if "edit_at_page" in body:
            page = body["edit_at_page"]
            self.edit_at_page = None if page is None else max(1, int(page))
            self.edit_count = int(body.get("edit_count", 1))
            self.object_type = body.get("object_type")
            self._searches, self._returned, self.edited = 0, [], []

    def describe(self) -> dict:
        return {
            "index_lag_max_ms": self.index_lag_max_ms,
            "seed": self.seed,
            "edit_at_page": self.edit_at_page,
            "edit_count": self.edit_count,
            "object_type": self.object_type,
            "edited": [str(i) for i in self.edited],
        }

    def lag_ms(self) -> int:
        """The extra index delay of the next write (0 unless variable lag is armed)."""
        if self.index_lag_max_ms <= 0:
            return 0
        self._draws += 1
        digest = hashlib.blake2b(f"{self.seed}:lag:{self._draws}".encode(), digest_size=8)
        return int.from_bytes(digest.digest(), "big") % (self.index_lag_max_ms + 1)

    def _armed_for(self, object_type: str) -> bool:
        return self.edit_at_page is not None and self.object_type in (None, object_type)

    def before_search(self, object_type: str) -> list[int]:
        """Ids to edit before this search runs (once, at the armed page), else []."""
        if not self._armed_for(object_type):
            return []
        self._searches += 1
        if self._searches < (self.edit_at_page or 0):
            return []
        self.edit_at_page = None
        self.edited = list(dict.fromkeys(self._returned))[: self.edit_count]
        return self.edited

    def after_search(self, object_type: str, ids: list[int]) -> None:
        if self._armed_for(object_type):
            self._returned.extend(ids)
