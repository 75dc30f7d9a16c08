"""HubSpot's admin interface under `/_sandbox/` (no auth): health, data mutation, custom
properties, rate limits, OAuth behaviour, and the NDJSON truth stream tests compare the
warehouse against. Config, reset, clock, API faults, the request log and the webhook sender's
admin are the shared routes of `sandbox.common` (`shared_bp`, `webhooks_bp` here)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import orjson
from flask import Blueprint, Response, request

from sandbox.common.admin import admin_blueprint
from sandbox.common.ratelimit import RateLimiter
from sandbox.common.timefmt import iso_ms
from sandbox.common.webhooks.admin import webhook_admin_blueprint
from sandbox.common.webhooks.dispatcher import WebhookDispatcher
from sandbox.common.webhooks.faults import WebhookFaultInjector
from sandbox.hubspot.faults import SearchFaults
from sandbox.hubspot.objtypes import ObjectType
from sandbox.hubspot.responses import ApiError, json_response
from sandbox.hubspot.routes.common import json_object, object_type, parse_id, state
from sandbox.hubspot.routes.objects import create_record
from sandbox.hubspot.routes.properties import create_property_def
from sandbox.hubspot.state import SandboxState
from sandbox.hubspot.store import ObjectStore
from sandbox.hubspot.values import values_or_raise
from sandbox.hubspot.webhooks import hooks
from sandbox.hubspot.webhooks.settings import WebhookSettings

bp = Blueprint("hubspot_admin", __name__, url_prefix="/_sandbox")


class _WebhookAdmin:
    """The portal's webhook side as the shared `/_sandbox/webhooks` routes see it."""

    settings_model = WebhookSettings

    def __init__(self, st: SandboxState) -> None:
        self._st = st

    @property
    def webhook_settings(self) -> WebhookSettings:
        return self._st.config.webhooks

    @property
    def signing_secret(self) -> str:
        return self._st.webhooks.secret

    @property
    def dispatcher(self) -> WebhookDispatcher:
        return self._st.webhooks.dispatcher

    @property
    def webhook_faults(self) -> WebhookFaultInjector:
        return self._st.webhooks.faults

    def set_webhook_settings(self, settings: WebhookSettings) -> None:
        self._st.set_webhook_settings(settings)


shared_bp = admin_blueprint("hubspot_shared_admin", state)  # config, reset, clock, faults, log
webhooks_bp = webhook_admin_blueprint("hubspot_webhooks_admin", lambda: _WebhookAdmin(state()))


@bp.get("/health")
def health() -> Response:
    st = state()
    return json_response(
        {
            "status": "ok",
            "provider": "hubspot",
            "portal_id": st.config.portal_id,
            "now_ms": st.now_ms(),
            "counts": {name: s.live_count for name, s in st.stores.items()},
        }
    )


def _pick_ids(st: SandboxState, store: ObjectStore, body: dict[str, Any], salt: str) -> list[int]:
    if body.get("ids"):
        ids = [parse_id(i) for i in body["ids"]]
        return [i for i in ids if i is not None and store.is_live(i)]
    count = int(body.get("count", 1))
    live = store.live_count
    if count >= live:
        return list(store.iter_live_ids(0))
    # deterministic pseudo-random choice from (seed, salt, call number)
    chosen: list[int] = []
    seen: set[int] = set()
    n = 0
    span = store.next_id - store.base.first_id
    while len(chosen) < count and span > 0:
        digest = hashlib.blake2b(f"{st.config.seed}:{salt}:{n}".encode(), digest_size=8).digest()
        rid = store.base.first_id + int.from_bytes(digest, "big") % span
        n += 1
        if rid not in seen and store.is_live(rid):
            seen.add(rid)
            chosen.append(rid)
    return sorted(chosen)


def _salt(st: SandboxState, kind: str) -> str:
    st.admin_calls += 1
    return f"{kind}:{st.admin_calls}"


@bp.post("/mutate")
def mutate() -> Response:
    st = state()
    body = json_object()
    otype = object_type(str(body.get("object_type", "")))
    store = st.store(otype)
    with st.lock:
        ids = _pick_ids(st, store, body, _salt(st, "mutate"))
        fixed = values_or_raise(otype, st.properties, body.get("properties"))
        now = edit_records(st, otype, ids, fixed, st.webhooks.admin_origin(body))
    return json_response({"ids": [str(i) for i in ids], "lastmodified_ms": now})


def edit_records(
    st: SandboxState,
    otype: ObjectType,
    ids: list[int],
    fixed: dict[str, str | None] | None = None,
    origin: Any = None,
) -> int:
    """Save these live records now (given values, else made-up ones); caller holds the lock.
    Each write gets its own search visibility (the variable-lag fault draws per write)."""
    store = st.store(otype)
    now = st.now_ms()
    for rid in ids:
        values = dict(fixed) if fixed else _auto_values(otype, rid, now)
        before = store.get(rid) if st.webhooks.active else None
        row = store.update(rid, values, now, st.visible_ms(now))
        if before is not None:
            hooks.on_updated(st, otype, before, row, values, origin)
    return now


@bp.route("/search_faults", methods=["GET", "POST", "DELETE"])
def search_faults() -> Response:
    """Search index faults: `{"index_lag_max_ms", "seed"}` (variable lag per write) and
    `{"edit_at_page", "edit_count", "object_type"}` (edit records earlier pages returned when
    that page is asked for). DELETE disarms both."""
    st = state()
    with st.lock:
        if request.method == "DELETE":
            st.search_faults = SearchFaults()
        elif request.method == "POST":
            st.search_faults.configure(json_object())
        return json_response(st.search_faults.describe())


def _auto_values(otype: ObjectType, rid: int, now: int) -> dict[str, str | None]:
    tag = f"{now % 100000}"
    if otype.name == "contacts":
        return {"jobtitle": f"Mutated {tag}", "city": f"City {rid % 97}"}
    if otype.name == "companies":
        return {"city": f"City {tag}", "numberofemployees": str(rid % 1000 + int(tag) % 7)}
    return {"amount": f"{(rid % 5000) + int(tag) % 100}.00", "dealname": f"Deal {rid} v{tag}"}


@bp.post("/create")
def create() -> Response:
    st = state()
    body = json_object()
    otype = object_type(str(body.get("object_type", "")))
    count = int(body.get("count", 1))
    props = body.get("properties") or {}
    ids: list[str] = []
    with st.lock:
        origin = st.webhooks.admin_origin(body)
        for _ in range(count):
            nxt = st.store(otype).next_id
            values = dict(props) or _new_values(otype, nxt)
            row = create_record(st, otype, {"properties": values}, origin)
            ids.append(str(row.id))
        now = st.store(otype).get(int(ids[-1])).updated_ms if ids else st.now_ms()  # type: ignore[union-attr]
    return json_response({"ids": ids, "lastmodified_ms": now})


def _new_values(otype: ObjectType, rid: int) -> dict[str, str]:
    if otype.name == "contacts":
        return {
            "firstname": "New",
            "lastname": f"Contact{rid}",
            "email": f"new.contact.{rid}@example.net",
        }
    if otype.name == "companies":
        return {"name": f"New Company {rid}", "domain": f"newcompany{rid}.com"}
    return {
        "dealname": f"New Deal {rid}",
        "amount": "1000",
        "dealstage": "appointmentscheduled",
        "pipeline": "default",
    }


@bp.post("/archive")
def archive() -> Response:
    st = state()
    body = json_object()
    otype = object_type(str(body.get("object_type", "")))
    store = st.store(otype)
    with st.lock:
        ids = _pick_ids(st, store, body, _salt(st, "archive"))
        now = st.now_ms()
        origin = st.webhooks.admin_origin(body)
        for rid in ids:
            hooks.archive(st, otype, rid, now, origin)
    return json_response({"ids": [str(i) for i in ids], "archived_ms": now})


@bp.post("/properties")
def add_property() -> Response:
    st = state()
    body = json_object()
    otype = object_type(str(body.pop("object_type", "")))
    with st.lock:
        prop = create_property_def(st, otype, body)
    return json_response(prop.to_json(), 201)


@bp.post("/ratelimits")
def ratelimits() -> Response:
    st = state()
    body = json_object()
    allowed = {"ten_second_limit", "oauth_ten_second_limit", "daily_limit", "search_per_second"}
    unknown = set(body) - allowed - {"reset_counters"}
    if unknown:
        raise ApiError(400, f"unknown fields: {sorted(unknown)}", "VALIDATION_ERROR")
    with st.lock:
        st.config = st.config.model_copy(update={k: v for k, v in body.items() if k in allowed})
        old = st.limiter
        st.limiter = RateLimiter(
            st.config.ten_second_limit,
            st.config.oauth_ten_second_limit,
            st.config.daily_limit,
            st.config.search_per_second,
        )
        if not body.get("reset_counters"):
            st.limiter._windows, st.limiter._search = old._windows, old._search
            st.limiter._day, st.limiter._daily_count = old._day, old._daily_count
    return json_response({k: getattr(st.config, k) for k in sorted(allowed)})


@bp.post("/oauth")
def oauth_settings() -> Response:
    st = state()
    body = json_object()
    with st.lock:
        if "deny_consent" in body:
            st.deny_consent = bool(body["deny_consent"])
        update = {
            k: body[k]
            for k in ("rotate_refresh_tokens", "access_token_ttl", "enforce_scopes")
            if k in body
        }
        st.config = st.config.model_copy(update=update)
    return json_response(
        {
            "deny_consent": st.deny_consent,
            "rotate_refresh_tokens": st.config.rotate_refresh_tokens,
            "access_token_ttl": st.config.access_token_ttl,
            "enforce_scopes": st.config.enforce_scopes,
        }
    )


@bp.get("/truth/<object_type_key>")
def truth(object_type_key: str) -> Response:
    st = state()
    otype = object_type(object_type_key)
    mode = request.args.get("archived", "false").lower()
    store = st.store(otype)
    names = list(st.properties.by_type[otype.name])

    def stream() -> Iterator[bytes]:
        with st.lock:
            if mode == "true":
                ids: Any = list(store.archived_ids)
            elif mode == "all":
                ids = sorted(set(store.iter_live_ids(0)) | set(store.archived_ids))
            else:
                ids = None
        id_iter = ids if ids is not None else store.iter_live_ids(0)
        buf: list[bytes] = []
        for rid in id_iter:
            row = store.get(rid)
            if row is None:
                continue
            buf.append(
                orjson.dumps(
                    {
                        "id": str(rid),
                        "properties": {n: row.props.get(n) for n in names},
                        "createdAt": iso_ms(row.created_ms),
                        "updatedAt": iso_ms(row.updated_ms),
                        "archived": row.archived,
                    }
                )
                + b"\n"
            )
            if len(buf) >= 500:
                yield b"".join(buf)
                buf = []
        if buf:
            yield b"".join(buf)

    return Response(stream(), content_type="application/x-ndjson")
