"""JSON answers and refusals, one shape for every endpoint: `{"error": {"code", "message"}}`."""

from __future__ import annotations

from typing import Any

import orjson
from flask import Response


class Refusal(Exception):
    """A request we answer with an error status; raising it stores and changes nothing."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status=status, headers=headers, mimetype="application/json")


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> Response:
    return json_response({"error": {"code": code, "message": message}}, status, headers)


def refusal_response(refusal: Refusal) -> Response:
    return error_response(refusal.status, refusal.code, refusal.message, refusal.headers)
