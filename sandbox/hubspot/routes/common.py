"""Helpers shared by the route modules: state access, object-type and id parsing, paging
cursors, path prefixes. JSON bodies are parsed by `sandbox.common.http` (re-exported here); its
`SandboxRequestError` renders as HubSpot's VALIDATION_ERROR body (see `app.py`)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import current_app, request

from sandbox.common.http import json_body as json_body
from sandbox.common.http import json_object as json_object
from sandbox.hubspot.objtypes import ObjectType, resolve, resolve_any
from sandbox.hubspot.responses import ApiError
from sandbox.hubspot.state import SandboxState

DATE_VERSIONS = ("2025-09", "2026-03", "2026-09", "2025-09-beta", "2026-03-beta", "2026-09-beta")
OBJECT_PREFIXES = ("/crm/v3/objects",) + tuple(f"/crm/objects/{v}" for v in DATE_VERSIONS)
PROPERTY_PREFIXES = ("/crm/v3/properties",) + tuple(f"/crm/properties/{v}" for v in DATE_VERSIONS)
EXTENSION = "hubspot_sandbox"


def state() -> SandboxState:
    return current_app.extensions[EXTENSION]


def object_type(key: str) -> ObjectType:
    otype = resolve(key)
    if otype is None:
        raise ApiError(400, f"Unable to infer object type from: {key}", "VALIDATION_ERROR")
    return otype


def property_object_type(key: str) -> ObjectType:
    """Object type of a metadata route: HubSpot's catalog types too (tickets, calls...), which
    have property definitions in every portal even where the sandbox stores no records."""
    otype = resolve_any(key)
    if otype is None:
        raise ApiError(400, f"Unable to infer object type from: {key}", "VALIDATION_ERROR")
    return otype


def int_arg(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ApiError(400, f"Invalid value for {name}: {raw}", "VALIDATION_ERROR") from exc


def bool_arg(name: str, default: bool = False) -> bool:
    raw = request.args.get(name)
    return default if raw is None else raw.lower() == "true"


def parse_id(raw: Any) -> int | None:
    try:
        value = int(str(raw))
    except ValueError:
        return None
    return value if value > 0 else None


def encode_cursor(next_id: int) -> str:
    return base64.b64encode(f"{next_id}\n".encode()).decode()


def decode_cursor(raw: str) -> int:
    text = raw.strip()
    if text.isdigit():
        return int(text)
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=False).decode().strip()
        return int(decoded)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(400, f"Invalid paging cursor: {raw}", "VALIDATION_ERROR") from exc


def add_rules(
    bp: Any, prefixes: tuple[str, ...], suffix: str, view: Any, methods: list[str]
) -> None:
    for n, prefix in enumerate(prefixes):
        bp.add_url_rule(
            prefix + suffix, endpoint=f"{view.__name__}_{n}", view_func=view, methods=methods
        )
