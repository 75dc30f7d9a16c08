"""HubSpot-shaped error bodies (`ApiError`, 429 bodies); JSON responses themselves come from
`sandbox.common.http`."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response

from sandbox.common.http import JSON_TYPE, json_response

__all__ = ["JSON_TYPE", "ApiError", "error_body", "json_response", "not_found", "rate_limit_body"]


def correlation_id() -> str:
    return str(uuid.uuid4())


def error_body(
    message: str, category: str, *, sub_category: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": correlation_id(),
        "category": category,
    }
    if sub_category:
        body["subCategory"] = sub_category
    body.update(extra)
    return body


class ApiError(Exception):
    """Raised by handlers; rendered as HubSpot's generic error body."""

    def __init__(
        self,
        status: int,
        message: str,
        category: str = "VALIDATION_ERROR",
        *,
        sub_category: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, category, sub_category=sub_category, **extra)

    def response(self) -> Response:
        return json_response(self.body, self.status)


def not_found(message: str = "resource not found") -> ApiError:
    return ApiError(404, message, "OBJECT_NOT_FOUND")


def rate_limit_body(policy: str) -> dict[str, Any]:
    """HubSpot's documented 429 body for the DAILY / TEN_SECONDLY_ROLLING / SECONDLY policies."""
    message = {
        "DAILY": "You have reached your daily limit.",
        "TEN_SECONDLY_ROLLING": "You have reached your ten_secondly_rolling limit.",
        "SECONDLY": "You have reached your secondly limit.",
    }[policy]
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "errorType": "RATE_LIMIT",
        "correlationId": correlation_id(),
        "policyName": policy,
        "requestId": correlation_id(),
    }
    if policy == "TEN_SECONDLY_ROLLING":
        body["groupName"] = "api-calls-private-app"
    return body
