"""What the fuzz benchmark sends: hypothesis strategies for delivery recipes, and the step that
turns a recipe into bytes on the wire at send time (so timestamps are fresh when signed).

Five kinds of recipe, each with its own expectation:

- `random`: arbitrary provider, integration, method, content type, headers and body. Never
  accepted unless the oracle says it is genuine (only the WooCommerce ping can be).
- `forged`: a genuine delivery, then one to three mutations (signature bit flips, truncation,
  case changes, another scheme, another secret, the body or timestamp changed after signing,
  stale or future timestamps, headers dropped, duplicated or renamed, another path, query,
  content type or method). Accepted only if the oracle still finds it genuine.
- `signed_malformed`: correctly signed, but the body is not JSON, or not the shape the docs
  require, or a required header is missing: exactly 400, nothing stored.
- `signed_arbitrary`: correctly signed arbitrary JSON-ish bodies (deep, deep inside a
  two-event batch, huge, odd escapes):
  202, 400, or 413 exactly when over the size limit; never 5xx.
- `genuine`: what each provider really sends: must be accepted (the control that keeps the
  oracle honest).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st

from bench import webhook_fuzz_oracle as sig
from bench.webhook_fuzz_oracle import FORM, Integration, WireRequest

JSON = "application/json"
MAX_BODY = 1_048_576  # WEBHOOK_MAX_BODY_BYTES, the default the benchmark runs with
SCHEMES = {
    "hubspot": ("hubspot-v3", "hubspot-v2", "hubspot-v1"),
    "github": ("github",),
    "wordpress": ("woocommerce", "wp-webhooks", "wordpress", "standard", "ping"),
    "salesforce": ("salesforce", "salesforce-hex", "standard"),
}
SIGNATURE_HEADERS = (
    "X-HubSpot-Signature",
    "X-HubSpot-Signature-Version",
    "X-HubSpot-Signature-v3",
    "X-HubSpot-Request-Timestamp",
    "X-Hub-Signature-256",
    "X-Hub-Signature",
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-WC-Webhook-Signature",
    "X-WC-Webhook-Topic",
    "X-WC-Webhook-Delivery-ID",
    "X-WP-Webhook-Signature",
    "X-WordPress-Signature",
    "X-Salesforce-Signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
)
CONTENT_TYPES = (
    JSON,
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    FORM,
    "text/plain",
    "application/xml",
    "multipart/form-data; boundary=x",
    "application/json-patch+json",
    "",
    ";",
    "application/json;;;",
)
HUBSPOT_TYPES = ("contact.propertyChange", "company.creation", "deal.deletion", "object.merge")
GITHUB_EVENTS = ("issues", "push", "pull_request", "ping", "star", "workflow_run")
WOO_TOPICS = ("order.updated", "product.created", "customer.deleted", "action.woocommerce_x")


# -- recipes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipe:
    """Everything needed to build one request except the clock (timestamps are signed when
    the request is sent)."""

    kind: str
    provider: str  # in the path
    integration: str  # in the path (quoted when built)
    scheme: str | None  # how a signed kind is signed
    body: tuple  # a body spec, see make_body
    content_type: str | None = JSON
    headers: tuple[tuple[str, str], ...] = ()  # extra header lines (random kind)
    mutations: tuple[tuple, ...] = ()
    ts_offset_s: int = 0  # timestamp skew for the timestamped schemes
    ids: tuple[str, str] = ("1", "d-1")  # event/object id and delivery id
    event: str = "issues"  # GitHub event, WooCommerce topic
    method: str = "POST"
    query: str = ""
    chunked: bool = False


@dataclass
class Built:
    """A materialized request plus what the checks need to know about it."""

    recipe: Recipe
    request: WireRequest
    authentic: bool
    over_limit: bool
    notes: list[str] = field(default_factory=list)


header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
)
ids = st.integers(1, 2**53).map(str)
offsets_ok = st.integers(-250, 250)
offsets_stale = st.one_of(st.integers(310, 10**7), st.integers(-(10**7), -310))
surrogates = st.sampled_from(["\ud800", "\udfff", "\udbff\udc00", "a\ud83d", "\x00", "\u2028"])
texts = st.one_of(st.text(max_size=20), surrogates)
json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(10**300, 10**310)
    | st.floats(allow_nan=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=16,
)


def valid_event(provider: str, scheme: str | None, object_id: str, delivery: str) -> Any:
    """The JSON each provider really sends (enough fields for the receiver's parsing)."""
    if provider == "hubspot":
        return [
            {
                "eventId": int(object_id),
                "subscriptionType": "contact.propertyChange",
                "objectId": int(object_id) % 1_000_000,
                "occurredAt": 1_700_000_000_000,
                "propertyName": "email",
                "propertyValue": "a@example.com",
            }
        ]
    if provider == "github":
        return {"action": "opened", "issue": {"id": int(object_id)}, "after": "abc"}
    if provider == "salesforce":
        return {
            "ChangeEventHeader": {
                "entityName": "Account",
                "changeType": "UPDATE",
                "recordIds": [f"001{object_id}"],
                "transactionKey": f"tx-{delivery}",
                "sequenceNumber": 1,
            },
            "Name": "Acme",
        }
    if scheme == "woocommerce":
        return {"id": int(object_id), "status": "processing"}
    return {"type": "post.updated", "data": {"id": int(object_id), "post_type": "post"}}


@st.composite
def malformed_bodies(draw: st.DrawFn, provider: str) -> tuple:
    """Bodies the docs say are a 400 for this provider: not strict UTF-8 JSON, or (HubSpot,
    GitHub, Salesforce) not the documented shape."""
    base = json.dumps(valid_event(provider, None, "1", "d-1")).encode()
    syntax = draw(
        st.sampled_from(
            [
                "empty",
                "truncate",
                "bad_utf8",
                "nan",
                "garbage_after",
                "trailing_comma",
                "single_quotes",
                "control_char",
                "comment",
                "unclosed_deep",
                "utf16",
            ]
        )
    )
    shapes = {
        "hubspot": [
            {"eventId": 1, "subscriptionType": "contact.creation"},
            [],
            [1, 2],
            [{"subscriptionType": "contact.creation"}],
            [{"eventId": 1}],
            [{"eventId": True, "subscriptionType": "x"}],
            [{"eventId": None, "subscriptionType": "x"}],
            [{"eventId": 1.5, "subscriptionType": "x"}],
            [{"eventId": 1, "subscriptionType": ""}],
            [{"eventId": 1, "subscriptionType": 7}],
            [{"eventId": 1, "subscriptionType": "x"}, "not an event"],
            "a string",
            None,
        ],
        "github": [[], [{"a": 1}], "text", 12, None, True],
        "salesforce": [
            [],
            12,
            "text",
            None,
            [1],
            {"Name": "no event"},
            {"ChangeEventHeader": {"changeType": "UPDATE"}},
            {"ChangeEventHeader": {"entityName": "", "changeType": "UPDATE"}},
            [{"type": "x.y"}, {"nothing": True}],
        ],
    }.get(provider, [])
    if shapes and draw(st.booleans()):
        return ("bytes", json.dumps(draw(st.sampled_from(shapes))).encode())
    if syntax == "empty":
        return ("bytes", draw(st.sampled_from([b"", b" ", b"\n\t "])))
    if syntax == "truncate":
        return ("bytes", base[: draw(st.integers(0, len(base) - 1))])
    if syntax == "bad_utf8":
        at = draw(st.integers(0, len(base)))
        bad = draw(st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x80", b"\xf8\x88"]))
        return ("bytes", base[:at] + bad + base[at:])
    if syntax == "nan":
        literal = draw(st.sampled_from([b"NaN", b"Infinity", b"-Infinity"]))
        return ("bytes", b'{"eventId": ' + literal + b', "x": [' + literal + b"]}")
    if syntax == "garbage_after":
        return ("bytes", base + draw(st.sampled_from([b"x", b"{}", b",", b"]", b"\x00"])))
    if syntax == "trailing_comma":
        return ("bytes", b'[{"eventId": 1, "subscriptionType": "a.b",}]')
    if syntax == "single_quotes":
        return ("bytes", base.replace(b'"', b"'"))
    if syntax == "control_char":
        return ("bytes", b'{"type": "a\x01b", "x": "\x1f"}')
    if syntax == "comment":
        return ("bytes", b"/* hi */ " + base)
    if syntax == "unclosed_deep":
        return ("deep", draw(st.integers(1, 200_000)), draw(st.sampled_from(["[", '{"a":'])), False)
    return ("bytes", base.decode().encode("utf-16"))


arbitrary_bodies = st.one_of(
    st.tuples(st.just("json"), json_like, st.booleans()),
    st.tuples(st.just("bytes"), st.binary(max_size=300)),
    st.tuples(
        st.just("deep"), st.integers(1, 200_000), st.sampled_from(["[", '{"a":']), st.just(True)
    ),
    st.tuples(
        st.just("deep"),
        st.integers(1, 25_000),
        st.just('[{"eventId":1,"subscriptionType":"x","n":'),
        st.just(True),
    ),
    # A two-event batch (each event re-encoded on its own) with a value nested `depth` deep,
    # often right around the interpreter's recursion limit, where parsing still fit the stack
    # and re-encoding did not (a 500, issue 9 item 9).
    st.tuples(st.just("deep_batch"), st.one_of(st.integers(1, 3_000), st.integers(900, 1_000))),
    st.tuples(st.just("huge"), st.integers(MAX_BODY - 2_000, MAX_BODY + 50_000)),
    st.tuples(st.just("bom"), json_like),
    st.tuples(st.just("events"), st.lists(st.tuples(ids, texts, texts), min_size=1, max_size=5)),
)

random_bodies = st.one_of(
    st.tuples(st.just("bytes"), st.binary(max_size=500)),
    st.tuples(st.just("json"), json_like, st.booleans()),
    st.tuples(st.just("ping"), st.integers(0, 10**21)),
    st.tuples(st.just("text"), st.text(max_size=200), st.sampled_from(["utf-8", "latin-1"])),
    st.tuples(st.just("huge"), st.integers(MAX_BODY - 10, MAX_BODY + 200_000)),
)


def random_headers() -> st.SearchStrategy:
    names = st.one_of(
        st.sampled_from(SIGNATURE_HEADERS),
        st.sampled_from(SIGNATURE_HEADERS).map(str.upper),
        st.sampled_from(SIGNATURE_HEADERS).map(lambda n: n.replace("-", "_")),
        st.text(string.ascii_letters + string.digits + "-", min_size=1, max_size=20),
    )
    return st.lists(st.tuples(names, header_text), max_size=6).map(tuple)


def mutations() -> st.SearchStrategy:
    one = st.one_of(
        st.tuples(st.just("sig_flip"), st.integers(0, 10_000), st.integers(1, 60)),
        st.tuples(st.just("sig_truncate"), st.integers(0, 100)),
        st.tuples(st.just("sig_case")),
        st.tuples(st.just("sig_scheme"), st.integers(0, 10)),
        st.tuples(st.just("wrong_secret"), st.sampled_from(["other", "empty", "prefix"])),
        st.tuples(st.just("body_after"), st.sampled_from(["flip", "append", "cut", "space"])),
        st.tuples(st.just("ts_after"), st.integers(-5, 5).filter(bool)),
        st.tuples(st.just("ts_stale"), offsets_stale),
        st.tuples(st.just("ts_garbage"), st.sampled_from(["", "abc", "-1", "1e12", "9" * 40])),
        st.tuples(st.just("drop_header"), st.integers(0, 20)),
        st.tuples(st.just("dup_header"), st.integers(0, 20), st.booleans()),
        st.tuples(st.just("rename_header"), st.integers(0, 20), st.sampled_from(["up", "_"])),
        st.tuples(st.just("other_integration"), st.sampled_from(INTEGRATION_IDS + ("nope",))),
        st.tuples(st.just("other_provider"), st.sampled_from([*sig.PROVIDERS, "slack"])),
        st.tuples(st.just("query"), st.sampled_from(["a=1", "x=%2F", "v=2&w=", "q"])),
        st.tuples(st.just("content_type"), st.sampled_from(CONTENT_TYPES)),
        st.tuples(st.just("method"), st.sampled_from(["PUT", "GET", "PATCH", "DELETE"])),
        st.tuples(st.just("chunked")),
    )
    return st.lists(one, min_size=1, max_size=3).map(tuple)


INTEGRATIONS = (
    Integration("hubspot-1", "hubspot", "hs-secret-1"),
    Integration("github-1", "github", "gh-secret-1"),
    Integration("wordpress-1", "wordpress", "wp&amp;secret-1"),
    Integration("salesforce-1", "salesforce", "whsec_c2FsZXNmb3JjZS1zZWNyZXQtMQ=="),
    Integration("github-nosecret", "github", None),
    Integration("wordpress-nosecret", "wordpress", None),
)
INTEGRATION_IDS = tuple(i.id for i in INTEGRATIONS)
SIGNED = {p: f"{p}-1" for p in sig.PROVIDERS}  # the integration each signed kind goes to
# Share of the examples each kind gets (hypothesis itself would not keep a mix steady).
KINDS = {
    "forged": 0.40,
    "random": 0.20,
    "signed_malformed": 0.15,
    "signed_arbitrary": 0.15,
    "genuine": 0.10,
}


@st.composite
def recipes(draw: st.DrawFn, kind: str) -> Recipe:
    if kind == "random":
        return Recipe(
            kind=kind,
            provider=draw(st.sampled_from([*sig.PROVIDERS, "unknown"]) | st.text(max_size=12)),
            integration=draw(st.sampled_from(INTEGRATION_IDS) | st.text(min_size=1, max_size=20)),
            scheme=None,
            body=draw(random_bodies),
            content_type=draw(st.sampled_from(CONTENT_TYPES) | st.none() | header_text),
            headers=draw(random_headers()),
            method=draw(st.sampled_from(["POST"] * 9 + ["GET", "PUT"])),
            chunked=draw(st.booleans()),
        )
    provider = draw(st.sampled_from(sig.PROVIDERS))
    schemes = SCHEMES[provider]
    if kind in ("signed_malformed", "signed_arbitrary"):
        schemes = tuple(s for s in schemes if s != "ping")
    scheme = draw(st.sampled_from(schemes))
    recipe = Recipe(
        kind=kind,
        provider=provider,
        integration=SIGNED[provider],
        scheme=scheme,
        body=("valid",),
        content_type=FORM if scheme == "ping" else JSON,
        ts_offset_s=draw(offsets_ok),
        ids=(draw(ids), draw(st.uuids().map(str) | ids)),
        event=draw(st.sampled_from(WOO_TOPICS if provider == "wordpress" else GITHUB_EVENTS)),
    )
    if kind == "genuine":
        if provider == "github" and draw(st.booleans()):
            recipe = replace(recipe, body=("form",), content_type=FORM)
        return recipe
    if kind == "forged":
        return replace(recipe, mutations=draw(mutations()))
    if kind == "signed_malformed":
        missing = {"github": ["X-GitHub-Event", "X-GitHub-Delivery"]}
        if scheme == "woocommerce":
            missing["wordpress"] = ["X-WC-Webhook-Topic"]
        if provider in missing and draw(st.integers(0, 4)) == 0:
            return replace(
                recipe, mutations=(("unsigned_drop", draw(st.sampled_from(missing[provider]))),)
            )
        return replace(recipe, body=draw(malformed_bodies(provider)))
    return replace(recipe, body=draw(arbitrary_bodies))


# -- materializing ----------------------------------------------------------------------------


def make_body(recipe: Recipe) -> bytes:
    spec = recipe.body
    tag = spec[0]
    object_id, delivery = recipe.ids
    if tag == "valid":
        if recipe.scheme == "ping":
            return f"webhook_id={int(object_id) % 10**9}".encode()
        return json.dumps(valid_event(recipe.provider, recipe.scheme, object_id, delivery)).encode()
    if tag == "form":
        event = valid_event("github", None, object_id, delivery)
        return urlencode({"payload": json.dumps(event)}).encode()
    if tag == "bytes":
        return spec[1]
    if tag == "json":
        text = json.dumps(spec[1], ensure_ascii=spec[2])
        return text.encode("utf-8", "surrogatepass")
    if tag == "deep":
        depth, opener, closed = spec[1], spec[2], spec[3]
        closer = {"[": "]", '{"a":': "}"}.get(opener, "}]")
        inner = opener * depth + ("1" + closer * depth if closed else "")
        return inner.encode()
    if tag == "deep_batch":
        nested = b"[" * spec[1] + b"1" + b"]" * spec[1]
        first = b'{"eventId":1,"subscriptionType":"contact.creation","objectId":1,"n":'
        second = b'{"eventId":2,"subscriptionType":"contact.creation","objectId":2}'
        return b"[" + first + nested + b"}," + second + b"]"
    if tag == "huge":
        size = spec[1]
        item = b'"' + b"x" * 1000 + b'",'
        body = b"[" + item * (size // len(item) + 1)
        return body[: size - 2] + b"1]"
    if tag == "bom":
        return b"\xef\xbb\xbf" + json.dumps(spec[1]).encode()
    if tag == "events":  # HubSpot-like batches with odd strings where the receiver reads them
        events = [
            {"eventId": eid, "subscriptionType": f"contact.{suffix}", "objectId": oid, "n": 1}
            for eid, suffix, oid in spec[1]
        ]
        return json.dumps(events).encode()
    if tag == "ping":
        return f"webhook_id={spec[1]}".encode()
    if tag == "text":
        return spec[1].encode(spec[2], "replace")
    raise ValueError(f"unknown body spec {tag}")


def _quote_segment(text: str) -> str:
    segment = quote(text, safe="")
    return "%2E" * len(segment) if segment in (".", "..") else segment


def _signature_header(scheme: str) -> str | None:
    return {
        "hubspot-v3": "X-HubSpot-Signature-v3",
        "hubspot-v2": "X-HubSpot-Signature",
        "hubspot-v1": "X-HubSpot-Signature",
        "github": "X-Hub-Signature-256",
        "woocommerce": "X-WC-Webhook-Signature",
        "wp-webhooks": "X-WP-Webhook-Signature",
        "wordpress": "X-WordPress-Signature",
        "salesforce": "X-Salesforce-Signature",
        "salesforce-hex": "X-Salesforce-Signature",
        "standard": "webhook-signature",
    }.get(scheme)


def _sign(
    scheme: str, secret: str, url: str, body: bytes, recipe: Recipe, now_s: float
) -> list[tuple[str, str]]:
    """The provider's headers for a delivery of `body`, signed with `secret` for `url`."""
    object_id, delivery = recipe.ids
    stamp_ms = str(int(now_s * 1000) + recipe.ts_offset_s * 1000)
    stamp_s = str(int(now_s) + recipe.ts_offset_s)
    if scheme == "hubspot-v3":
        return [
            ("X-HubSpot-Signature-v3", sig.hubspot_v3(secret, "POST", url, body, stamp_ms)),
            ("X-HubSpot-Request-Timestamp", stamp_ms),
        ]
    if scheme == "hubspot-v2":
        return [
            ("X-HubSpot-Signature", sig.hubspot_v2(secret, "POST", url, body)),
            ("X-HubSpot-Signature-Version", "v2"),
        ]
    if scheme == "hubspot-v1":
        return [
            ("X-HubSpot-Signature", sig.hubspot_v1(secret, body)),
            ("X-HubSpot-Signature-Version", "v1"),
        ]
    if scheme == "github":
        return [
            ("X-Hub-Signature-256", sig.github(secret, body)),
            ("X-GitHub-Event", recipe.event),
            ("X-GitHub-Delivery", delivery),
        ]
    if scheme == "woocommerce":
        return [
            ("X-WC-Webhook-Signature", sig.woocommerce(secret, body)),
            ("X-WC-Webhook-Topic", recipe.event),
            ("X-WC-Webhook-Delivery-ID", delivery),
            ("X-WC-Webhook-Source", "https://shop.example/"),
        ]
    if scheme == "wp-webhooks":
        return [("X-WP-Webhook-Signature", sig.wp_webhooks(secret, body))]
    if scheme == "wordpress":
        return [
            ("X-WordPress-Signature", sig.wordpress(secret, body)),
            ("X-WordPress-Delivery-ID", delivery),
        ]
    if scheme in ("salesforce", "salesforce-hex"):
        value = sig.salesforce(secret, body, hex_form=scheme == "salesforce-hex")
        return [("X-Salesforce-Signature", value), ("X-Salesforce-Delivery-ID", delivery)]
    if scheme == "standard":
        return [
            ("webhook-id", delivery),
            ("webhook-timestamp", stamp_s),
            ("webhook-signature", sig.standard(secret, delivery, stamp_s, body)),
        ]
    return []  # the ping is unsigned


class Materializer:
    """Builds the wire request of a recipe for one server (its URL bases) at send time."""

    def __init__(self, oracle: sig.Oracle) -> None:
        self.oracle = oracle
        self.secrets = {i.id: i.secret for i in oracle.integrations.values()}

    def build(self, recipe: Recipe, now_s: float) -> Built:
        provider, integration = recipe.provider, recipe.integration
        method, query, chunked = recipe.method, recipe.query, recipe.chunked
        content_type = recipe.content_type
        body = make_body(recipe)
        headers: list[tuple[str, str]] = []
        secret = self.secrets.get(integration) or ""
        scheme = recipe.scheme
        notes: list[str] = []
        # signed kinds: sign first, then mutate what went on the wire
        target = self._target(provider, integration, query)
        sign_url = self.oracle.url_bases[0] + target
        if scheme:
            headers = _sign(scheme, secret, sign_url, body, recipe, now_s)
        headers.extend(recipe.headers)
        for mutation in recipe.mutations:
            name = mutation[0]
            notes.append(name)
            sig_name = _signature_header(scheme or "")
            if name == "sig_flip" and sig_name:
                headers = _edit(headers, sig_name, lambda v, m=mutation: _flip(v, m[1], m[2]))
            elif name == "sig_truncate" and sig_name:
                headers = _edit(headers, sig_name, lambda v, m=mutation: v[: m[1] % max(len(v), 1)])
            elif name == "sig_case" and sig_name:
                headers = _edit(headers, sig_name, str.swapcase)
            elif name == "sig_scheme" and scheme:
                headers = _other_scheme(headers, scheme, mutation[1], secret, body)
            elif name == "wrong_secret" and scheme:
                other = {"other": "gh-secret-1", "empty": "", "prefix": secret[:-1]}[mutation[1]]
                if other == secret:
                    other = "hs-secret-1"
                signed = _sign(scheme, other, sign_url, body, recipe, now_s)
                headers = [h for h in headers if h[0] not in {n for n, _ in signed}] + signed
            elif name == "body_after":
                body = _mutate_body(body, mutation[1])
            elif name == "ts_after":
                headers = _shift_timestamp(headers, mutation[1])
            elif name == "ts_stale" and scheme:
                stale = replace(recipe, ts_offset_s=mutation[1])
                signed = _sign(scheme, secret, sign_url, body, stale, now_s)
                headers = [h for h in headers if h[0] not in {n for n, _ in signed}] + signed
            elif name == "ts_garbage":
                headers = _edit(headers, "X-HubSpot-Request-Timestamp", lambda v, m=mutation: m[1])
                headers = _edit(headers, "webhook-timestamp", lambda v, m=mutation: m[1])
            elif name == "drop_header" and headers:
                headers.pop(mutation[1] % len(headers))
            elif name == "unsigned_drop":
                headers = [h for h in headers if h[0] != mutation[1]]
            elif name == "dup_header" and headers:
                line = headers[mutation[1] % len(headers)]
                headers.append(line if mutation[2] else (line[0], line[1][::-1] or "x"))
            elif name == "rename_header" and headers:
                at = mutation[1] % len(headers)
                line = headers[at]
                renamed = line[0].upper() if mutation[2] == "up" else line[0].replace("-", "_")
                headers[at] = (renamed, line[1])
            elif name == "other_integration":
                integration = mutation[1]
            elif name == "other_provider":
                provider = mutation[1]
            elif name == "query":
                query = mutation[1]
            elif name == "content_type":
                content_type = mutation[1]
            elif name == "method":
                method = mutation[1]
            elif name == "chunked":
                chunked = True
        if content_type is not None:
            headers.append(("Content-Type", content_type))
        # Servers strip a value's surrounding whitespace (HTTP clients refuse to send it).
        lines = tuple((n, v.strip(" \t")) for n, v in headers)
        request = WireRequest(
            method, self._target(provider, integration, query), lines, body, chunked
        )
        return Built(
            recipe,
            request,
            authentic=self.oracle.authentic(request, now_s),
            over_limit=len(body) > MAX_BODY,
            notes=notes,
        )

    @staticmethod
    def _target(provider: str, integration: str, query: str) -> str:
        path = f"/api/v1/webhooks/{_quote_segment(provider)}/{_quote_segment(integration)}"
        return path + (f"?{query}" if query else "")


def _edit(headers: list[tuple[str, str]], name: str, change) -> list[tuple[str, str]]:
    return [(n, change(v) if n.lower() == name.lower() else v) for n, v in headers]


def _flip(value: str, position: int, bit: int) -> str:
    if not value:
        return "A"
    at = position % len(value)
    flipped = chr((ord(value[at]) ^ (1 << (bit % 6))) % 0x7F or 0x41)
    if flipped in "\r\n\x00" or not flipped.isprintable():
        flipped = "Z" if value[at] != "Z" else "Y"
    return value[:at] + flipped + value[at + 1 :]


def _mutate_body(body: bytes, how: str) -> bytes:
    if how == "flip" and body:
        return body[:-1] + bytes([body[-1] ^ 0x01])
    if how == "append":
        return body + b" "
    if how == "cut":
        return body[:-1]
    return b" " + body


def _shift_timestamp(headers: list[tuple[str, str]], by: int) -> list[tuple[str, str]]:
    def shift(value: str, unit: int) -> str:
        return str(int(value) + by * unit) if value.isdigit() else value

    headers = _edit(headers, "X-HubSpot-Request-Timestamp", lambda v: shift(v, 1000))
    return _edit(headers, "webhook-timestamp", lambda v: shift(v, 1))


def _other_scheme(
    headers: list[tuple[str, str]], scheme: str, choice: int, secret: str, body: bytes
) -> list[tuple[str, str]]:
    """Present the delivery under a scheme it was not signed with (or a look-alike)."""
    if scheme == "github":
        if choice % 2:
            return _edit(headers, "X-Hub-Signature-256", lambda v: v.replace("sha256=", "sha1="))
        return [("X-Hub-Signature" if n == "X-Hub-Signature-256" else n, v) for n, v in headers]
    if scheme in ("hubspot-v1", "hubspot-v2"):
        swap = {"v1": "v2", "v2": "v1"} if choice % 3 else {"v1": "v3", "v2": ""}
        return _edit(headers, "X-HubSpot-Signature-Version", lambda v: swap.get(v, v))
    if scheme == "hubspot-v3":
        if choice % 2:  # the v3 value offered as a v1 signature
            return [
                ("X-HubSpot-Signature" if n == "X-HubSpot-Signature-v3" else n, v)
                for n, v in headers
            ] + [("X-HubSpot-Signature-Version", "v1")]
        return headers + [("X-HubSpot-Signature", sig.hubspot_v1("wrong", body))]
    if scheme == "standard":
        return _edit(headers, "webhook-signature", lambda v: v.replace("v1,", "v2,"))
    if scheme in ("woocommerce", "wp-webhooks", "wordpress"):
        names = ["X-WC-Webhook-Signature", "X-WP-Webhook-Signature", "X-WordPress-Signature"]
        current = _signature_header(scheme)
        other = [n for n in names if n != current][choice % 2]
        return [(other if n == current else n, v) for n, v in headers]
    if scheme == "salesforce":  # base64 value, but presented as if it were the hex form
        return _edit(headers, "X-Salesforce-Signature", lambda v: v.encode().hex()[:64])
    return _edit(headers, "X-Salesforce-Signature", lambda v: v[::-1])
