"""JSON in and out for every sandbox's Flask routes: `json_response` (orjson,
`application/json;charset=utf-8`), request-body parsing, and `SandboxRequestError`, the one
error the shared routes raise.

A provider's app renders `SandboxRequestError` in its own error shape (an errorhandler); this
module knows no provider's error bodies.
"""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response, request

JSON_TYPE = "application/json;charset=utf-8"


class SandboxRequestError(Exception):
    """A request the shared routes refuse (bad JSON, bad settings): status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    resp = Response(orjson.dumps(body), status=status, content_type=JSON_TYPE)
    if headers:
        resp.headers.update(headers)
    return resp


def json_body() -> Any:
    """The request's JSON body ({} when empty); 400 when it does not parse."""
    raw = request.get_data(cache=True)
    if not raw:
        return {}
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise SandboxRequestError(400, f"Invalid input JSON on line 1: {exc}") from exc


def json_object() -> dict[str, Any]:
    """The request's JSON body, which must be an object."""
    body = json_body()
    if not isinstance(body, dict):
        raise SandboxRequestError(400, "Invalid input JSON: expected an object")
    return body
