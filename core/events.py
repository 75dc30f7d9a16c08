"""The shapes a webhook event takes on its way from a provider to a Dagster run.

`SignedRequest` is a delivery exactly as it arrived (what verification signs and parsers read);
`ParsedEvent` is one event a provider's parser found in it; `InboundEvent` is that event as the
inbox stores it (with provider, integration, safe headers and the verifying scheme) and
`StoredEvent` is an inbox row as routing and handlers read it. `PayloadError` is a parser's
refusal; `load_json` / `dump_json` / `storable_text` and the id helpers are what every provider
parser needs.

Plain data and pure functions only: this module never does I/O, never reads Flask, the clock or
the registry, and never names a provider.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# -- a delivery as it arrived -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """A delivery exactly as it arrived: raw body bytes, never re-serialised.

    `urls` lists the URL the sender may have called: as this server saw it (scheme, Host,
    raw path and query), then the public one under WEBHOOK_BASE_URL when that differs (a proxy
    in front). `headers` maps lower-cased names to values.
    """

    method: str
    urls: tuple[str, ...]
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


# -- events found in a delivery -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """One event of a delivery, before the receiver adds provider, integration and headers."""

    delivery_id: str
    event_type: str
    object_type: str | None
    object_id: str | None
    payload: bytes


class PayloadError(Exception):
    """The body or its headers are not what the provider sends: refused, nothing stored.

    `status` is 400 (malformed_json, invalid_payload, missing_header) or 415.
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


# Deeper than any provider's payload (HubSpot's are 2 levels, GitHub's under 10). A limit far
# below the interpreter's recursion limit means an accepted body can be re-encoded here and
# decoded again later (by a handler, deeper in some other stack) without a RecursionError.
MAX_JSON_DEPTH = 64


def load_json(body: bytes) -> Any:
    """Strict JSON (UTF-8, no NaN/Infinity, at most MAX_JSON_DEPTH levels); integers keep every
    digit. Every failure is PayloadError("malformed_json"), never a RecursionError."""
    # A body with fewer brackets than the limit cannot be nested deeper (the common case: a
    # C-speed count and nothing more).
    bracketed = body.count(b"[") + body.count(b"{") > MAX_JSON_DEPTH
    # Deep bodies are refused BEFORE parsing: the parser recurses once per level, and a body
    # nested near the interpreter's limit runs whatever the garbage collector finalizes at that
    # depth out of stack ("exception ignored" in an unrelated object's finalizer), even though
    # the parser's own RecursionError is caught.
    if bracketed and _brackets_nest_deeper(body):
        raise PayloadError(
            "malformed_json",
            f"the body's brackets do not balance or nest deeper than {MAX_JSON_DEPTH} levels",
        )
    try:
        value = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise PayloadError("malformed_json", f"the body is not valid JSON: {exc}") from None
    if bracketed and json_depth(value) > MAX_JSON_DEPTH:
        raise PayloadError(
            "malformed_json", f"the body is nested deeper than {MAX_JSON_DEPTH} levels"
        )
    return value


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_AS_SQUARE = bytes.maketrans(b"{}", b"[]")


def _brackets_nest_deeper(body: bytes) -> bool:
    """Whether the body's brackets nest deeper than MAX_JSON_DEPTH, in C-speed passes only:
    everything but brackets deleted, then each pass removes the innermost pairs, so brackets
    d levels deep are gone after d passes.

    First with strings left in (~5 us for a 100-event batch); only brackets that do not reduce
    that way (deep, unbalanced, or brackets inside strings) pay for blanking the strings (a
    regex pass, ~250 us) and a second count. Strings can only make a body look deeper or
    unbalanced here, except one crafted to look shallow: that body reaches the parser, whose
    RecursionError is caught, and the exact walk after parsing still refuses it."""
    if _reduces_within_limit(body):
        return False
    return not _reduces_within_limit(_JSON_STRING.sub(b"", body))


def _reduces_within_limit(body: bytes) -> bool:
    brackets = body.translate(_AS_SQUARE, _NOT_BRACKETS)
    for _ in range(MAX_JSON_DEPTH):
        if not brackets:
            return True
        brackets = brackets.replace(b"[]", b"")
    return not brackets


def json_depth(value: Any) -> int:
    """How many arrays/objects deep `value` nests (0 for a scalar), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            return deepest  # enough to refuse; no need to walk the rest
        stack.extend((child, depth) for child in children if isinstance(child, (dict, list)))
    return deepest


def dump_json(value: Any) -> bytes:
    """Compact UTF-8 JSON of one event of a batch.

    A body may spell a lone surrogate as an escape (`"\\ud800"`): valid JSON, but no UTF-8
    can hold it, so such an event keeps non-ASCII characters escaped, as the sender wrote them.
    A value that cannot be encoded (nested past the recursion limit: `load_json` refuses those,
    but a parser may build values of its own) is PayloadError("malformed_json").
    """
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        try:
            return text.encode()
        except UnicodeEncodeError:
            return json.dumps(value, separators=(",", ":")).encode()
    except (ValueError, TypeError, RecursionError) as exc:
        raise PayloadError("malformed_json", f"an event could not be re-encoded: {exc}") from None


def storable_text(value: str | None) -> bool:
    """Whether an identifier can be stored as text in either inbox (SQLite needs valid UTF-8,
    so no lone surrogate; Postgres text cannot hold NUL)."""
    if value is None:
        return True
    if "\x00" in value:
        return False
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def body_digest(body: bytes) -> str:
    """Delivery id of last resort: the same body delivered twice is the same delivery."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def scalar_id(value: Any) -> str | None:
    """An id field as text; None for anything that is not a plain number or string."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str) and str(value) != "":
        return str(value)
    return None


def require_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise PayloadError("invalid_payload", f"{what} must be a JSON object")
    return value


# -- events in the inbox ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One event to store; a batched delivery gives several, most deliveries one."""

    provider: str
    integration_id: str
    delivery_id: str  # idempotency key, unique per (provider, integration_id)
    event_type: str
    object_type: str | None
    object_id: str | None
    payload: bytes  # the event's own JSON
    headers: dict[str, str]  # safe headers only (no Authorization, Cookie, API keys)
    verification: str  # the scheme that verified it
    received_at: datetime  # UTC, from core.clock


@dataclass(frozen=True, slots=True)
class StoredEvent(InboundEvent):
    """An inbox row: the event plus its id (the sensor's cursor) and processing state."""

    id: int
    status: str  # pending | dispatched | processed | failed | dead
    attempts: int
    next_attempt_at: datetime | None
    last_error: str | None
    run_key: str | None
