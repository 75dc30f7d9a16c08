"""The gateway steps every sandbox runs around its handlers: start timing, inject an API fault
(drawn by `FaultInjector`, rendered by the provider's `FaultResponses`), and log what the client
really sent and got (`RequestLog`).

A provider's middleware calls these from its Flask before/after hooks, between its own steps
(authentication, scopes, rate limits). This module renders no provider's bodies or headers.
"""

from __future__ import annotations

import time
from typing import Protocol

from flask import Response, g, request

from sandbox.common.faults import FaultInjector
from sandbox.common.reqlog import RequestLog

UNLOGGED_PREFIX = "/_sandbox/requests"  # reading the log is not logged


class FaultResponses(Protocol):
    """What each API fault looks like from the provider's edge."""

    def server_error(self, status: int) -> Response: ...

    def rate_limited(self) -> Response: ...

    def connection_reset(self) -> Response: ...

    def malformed(self) -> Response: ...


def start_request() -> None:
    """Per-request fields the log reads: start time, auth kind (`none` until a provider's
    authentication sets it), injected fault."""
    g.started = time.perf_counter()
    g.auth = "none"
    g.fault = None


def injected_fault(faults: FaultInjector, responses: FaultResponses) -> Response | None:
    """Sleep the configured latency and answer with the fault drawn for this path, if any."""
    kind, latency = faults.decide(request.path)
    if latency:
        time.sleep(latency / 1000)
    if kind is None:
        return None
    g.fault = kind
    if kind == "5xx":
        return responses.server_error(faults.pick_5xx())
    if kind == "429":
        return responses.rate_limited()
    if kind == "reset":
        return responses.connection_reset()
    return responses.malformed()


def log_request(log: RequestLog, resp: Response) -> None:
    """Add this request to the log under its URL rule (the endpoint template)."""
    if request.path.startswith(UNLOGGED_PREFIX):
        return
    entry = {
        "method": request.method,
        "path": request.path,
        "query": request.query_string.decode("latin-1"),
        "status": resp.status_code,
        "auth": g.get("auth", "none"),
        "bytes": resp.calculate_content_length() or 0
        if not resp.is_streamed
        else int(resp.headers.get("Content-Length") or 0),
        "ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 3),
    }
    if g.get("fault"):
        entry["fault"] = g.fault
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    log.add(entry, rule)
