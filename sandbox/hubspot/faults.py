"""HubSpot-shaped injected faults: what a 5xx, a 429, a reset mid-body or malformed JSON look
like from HubSpot's edge. Which request gets which fault is drawn by `sandbox.common.faults`
(never on `/_sandbox/` or `/oauth/` unless `path_regex` names them).
"""

from __future__ import annotations

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
