"""The fuzz benchmark's oracle: is a request, as it goes on the wire, a genuine delivery?

Written from the scheme table in docs/webhooks.md, not imported from the receiver, so that the
benchmark checks the receiver against its documentation. It also signs the benchmark's genuine
deliveries, so a disagreement shows as genuine deliveries refused. Deliberately lenient where
the documentation leaves room (hex digits in either case, every way a server may join a
repeated header, any signature header a WordPress delivery carries): leniency can only hide a
false accept whose signature carried the right MAC anyway, never report one that did not.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

PROVIDERS = ("hubspot", "salesforce", "wordpress", "github")
HUBSPOT_WINDOW_MS = 300_000
STANDARD_WINDOW_S = 300
FORM = "application/x-www-form-urlencoded"
PING_BODY = re.compile(rb"webhook_id=[0-9]{1,20}")
WORDPRESS_SIGNATURE_HEADERS = (
    "x-wc-webhook-signature",
    "x-wp-webhook-signature",
    "x-wordpress-signature",
    "webhook-signature",
)
_PATH = re.compile(r"/api/v1/webhooks/([^/]+)/([^/]+)")
_V3_DECODED = {
    "3A": ":",
    "2F": "/",
    "3F": "?",
    "40": "@",
    "21": "!",
    "24": "$",
    "27": "'",
    "28": "(",
    "29": ")",
    "2A": "*",
    "2C": ",",
    "3B": ";",
}


@dataclass(frozen=True)
class Integration:
    id: str
    provider: str
    secret: str | None


@dataclass(frozen=True)
class WireRequest:
    """A request exactly as sent: method, raw path and query, header lines, body bytes."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    chunked: bool = False


# -- signing, per the documented formulas ----------------------------------------------------


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def v3_uri(url: str) -> str:
    url = url.split("#", 1)[0]
    return re.sub(
        r"%([0-9A-Fa-f]{2})", lambda m: _V3_DECODED.get(m.group(1).upper(), m.group(0)), url
    )


def hubspot_v3(secret: str, method: str, url: str, body: bytes, timestamp: str) -> str:
    return _b64(_mac(secret.encode(), (method + v3_uri(url)).encode() + body + timestamp.encode()))


def hubspot_v2(secret: str, method: str, url: str, body: bytes) -> str:
    return hashlib.sha256((secret + method + url).encode() + body).hexdigest()


def hubspot_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def github(secret: str, body: bytes) -> str:
    return "sha256=" + _mac(secret.encode(), body).hex()


def woocommerce(secret: str, body: bytes) -> str:
    return _b64(_mac(html.unescape(secret).encode(), body))


def wp_webhooks(secret: str, body: bytes) -> str:
    return _b64(_mac(secret.encode(), body))


def wordpress(secret: str, body: bytes) -> str:
    return _mac(secret.encode(), body).hex()


def salesforce(secret: str, body: bytes, *, hex_form: bool = False) -> str:
    mac = _mac(secret.encode(), body)
    return mac.hex() if hex_form else _b64(mac)


def standard_key(secret: str) -> bytes | None:
    if secret.startswith("whsec_"):
        try:
            return base64.b64decode(secret[6:], validate=True)
        except ValueError:
            return None
    return secret.encode()


def standard(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    key = standard_key(secret) or b""
    return "v1," + _b64(_mac(key, f"{webhook_id}.{timestamp}.".encode() + body))


# -- reading a request the way a server may -----------------------------------------------------


def normal_name(name: str) -> str:
    """Header names are case-insensitive; WSGI cannot tell `_` from `-` (gunicorn drops such
    headers, werkzeug maps them): the oracle assumes the server might see either."""
    return name.lower().replace("_", "-")


class HeaderView:
    """Every value a server might see for a header: each line alone, or lines joined."""

    def __init__(self, lines: Iterable[tuple[str, str]]) -> None:
        self._lines: dict[str, list[str]] = {}
        self._surely_seen: set[str] = set()  # names sent without `_`: every server sees them
        for name, value in lines:
            self._lines.setdefault(normal_name(name), []).append(value)
            if "_" not in name:
                self._surely_seen.add(normal_name(name))

    def present(self, name: str) -> bool:
        return normal_name(name) in self._lines

    def surely_present(self, name: str) -> bool:
        return normal_name(name) in self._surely_seen

    def names(self) -> list[str]:
        return list(self._lines)

    def surely_seen_names(self) -> list[str]:
        return list(self._surely_seen)

    def candidates(self, name: str) -> set[str]:
        values = self._lines.get(normal_name(name), [])
        out = {v.strip() for v in values}
        if len(values) > 1:
            out |= {",".join(values).strip(), ", ".join(values).strip()}
        return {v for v in out if v}

    def media_type(self) -> set[str]:
        return {v.split(";", 1)[0].strip().lower() for v in self.candidates("content-type")} or {""}


def route(target: str) -> tuple[str, str] | None:
    """(provider, integration id) when the raw target reaches the webhook endpoint."""
    path = target.split("?", 1)[0]
    match = _PATH.fullmatch(unquote(path))
    return (match.group(1), match.group(2)) if match else None


def _hex_equal(expected: str, values: Iterable[str]) -> bool:
    return any(hmac.compare_digest(expected.lower(), v.lower()) for v in values if v.isascii())


def _equal(expected: str, values: Iterable[str]) -> bool:
    return any(hmac.compare_digest(expected, v) for v in values if v.isascii())


@dataclass(frozen=True)
class Oracle:
    """Knows the integrations and the URLs a server may reconstruct for a request."""

    integrations: dict[str, Integration]
    url_bases: Sequence[str]  # scheme://host of the server as called, and WEBHOOK_BASE_URL

    def authentic(self, request: WireRequest, now_s: float) -> bool:
        """May this request be accepted (2xx)? A genuinely signed delivery to an existing
        integration of that provider, or the documented unsigned WooCommerce ping."""
        found = route(request.target)
        if found is None or request.method != "POST":
            return False
        provider, integration_id = found
        integration = self.integrations.get(integration_id)
        if integration is None or integration.provider != provider:
            return False
        headers = HeaderView(request.headers)
        if provider == "wordpress" and self.is_ping(headers, request.body):
            return True
        secret = integration.secret
        if not secret:
            return False
        body = request.body
        if provider == "hubspot":
            return self._hubspot(request, headers, secret, now_s)
        if provider == "github":
            return _hex_equal(github(secret, body), headers.candidates("x-hub-signature-256"))
        if provider == "wordpress":
            return (
                _equal(woocommerce(secret, body), headers.candidates("x-wc-webhook-signature"))
                or _equal(wp_webhooks(secret, body), headers.candidates("x-wp-webhook-signature"))
                or _hex_equal(wordpress(secret, body), headers.candidates("x-wordpress-signature"))
                or self._standard(headers, secret, body, now_s)
            )
        signatures = headers.candidates("x-salesforce-signature")
        return (
            _equal(salesforce(secret, body), signatures)
            or _hex_equal(salesforce(secret, body, hex_form=True), signatures)
            or self._standard(headers, secret, body, now_s)
        )

    @staticmethod
    def is_ping(headers: HeaderView, body: bytes) -> bool:
        """Exactly WooCommerce's ping: `webhook_id=<digits>`, form-encoded or untyped, with
        none of the X-WC-Webhook-* headers and no signature header. A header sent with `_` in
        its name may never reach the app (gunicorn drops it), so only headers every server
        sees can make a ping-shaped request not a ping."""
        return (
            PING_BODY.fullmatch(body) is not None
            and not any(n.startswith("x-wc-webhook-") for n in headers.surely_seen_names())
            and not any(headers.surely_present(n) for n in WORDPRESS_SIGNATURE_HEADERS)
            and headers.media_type() <= {FORM, ""}
        )

    def _urls(self, target: str) -> list[str]:
        return [base + target for base in self.url_bases]

    def _hubspot(
        self, request: WireRequest, headers: HeaderView, secret: str, now_s: float
    ) -> bool:
        body, method = request.body, request.method
        if headers.present("x-hubspot-signature-v3"):  # v3 whenever present, no fallback
            now_ms = now_s * 1000
            for stamp in headers.candidates("x-hubspot-request-timestamp"):
                if not stamp.isdigit() or len(stamp) > 16:
                    continue
                if abs(now_ms - int(stamp)) > HUBSPOT_WINDOW_MS:
                    continue
                for url in self._urls(request.target):
                    expected = hubspot_v3(secret, method, url, body, stamp)
                    if _equal(expected, headers.candidates("x-hubspot-signature-v3")):
                        return True
            return False
        signatures = headers.candidates("x-hubspot-signature")
        versions = {v.lower() for v in headers.candidates("x-hubspot-signature-version")}
        if "v1" in versions and _hex_equal(hubspot_v1(secret, body), signatures):
            return True
        if "v2" in versions:
            return any(
                _hex_equal(hubspot_v2(secret, method, url, body), signatures)
                for url in self._urls(request.target)
            )
        return False

    @staticmethod
    def _standard(headers: HeaderView, secret: str, body: bytes, now_s: float) -> bool:
        if standard_key(secret) is None:
            return False
        for webhook_id in headers.candidates("webhook-id"):
            for stamp in headers.candidates("webhook-timestamp"):
                if not stamp.isdigit() or len(stamp) > 12:
                    continue
                if abs(now_s - int(stamp)) > STANDARD_WINDOW_S:
                    continue
                expected = standard(secret, webhook_id, stamp, body)
                for value in headers.candidates("webhook-signature"):
                    if _equal(expected, value.split(" ")):
                        return True
        return False
