"""Property tests: a genuine signature verifies, and any change to the body, the timestamp, the
URL, a signed header or the secret makes verification fail, for every scheme."""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from webhook_receiver.verification import (
    SignatureError,
    SignedRequest,
    github,
    hubspot,
    salesforce,
    standard_webhooks,
    verify_delivery,
    woocommerce,
    wordpress,
    wp_webhooks,
)

NOW_MS = 1_800_000_000_000
secrets = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
bodies = st.binary(max_size=300)
paths = st.text("abcdefghijklmnopqrstuvwxyz0123456789-_.~%/:?=&", min_size=1, max_size=40)
skews_ms = st.integers(-299_000, 299_000)


@dataclass(frozen=True)
class Delivery:
    provider: str
    request: SignedRequest
    secret: str
    now_ms: int = NOW_MS


def signed(provider, body, headers, url="https://h.example/hook", method="POST"):
    lowered = {k.lower(): v for k, v in headers.items()}
    return SignedRequest(method, (url,), lowered, body)


def hubspot_v1(secret, body, url, ts):
    headers = {
        "X-HubSpot-Signature": hubspot.sign_v1(secret, body),
        "X-HubSpot-Signature-Version": "v1",
    }
    return Delivery("hubspot", signed("hubspot", body, headers, url), secret)


def hubspot_v2(secret, body, url, ts):
    headers = {
        "X-HubSpot-Signature": hubspot.sign_v2(secret, "POST", url, body),
        "X-HubSpot-Signature-Version": "v2",
    }
    return Delivery("hubspot", signed("hubspot", body, headers, url), secret)


def hubspot_v3(secret, body, url, ts):
    stamp = str(ts)
    headers = {
        "X-HubSpot-Signature-v3": hubspot.sign_v3(secret, "POST", url, body, stamp),
        "X-HubSpot-Request-Timestamp": stamp,
    }
    return Delivery("hubspot", signed("hubspot", body, headers, url), secret)


def github_sha256(secret, body, url, ts):
    return Delivery(
        "github",
        signed("github", body, {"X-Hub-Signature-256": github.sign(secret, body)}, url),
        secret,
    )


def woo(secret, body, url, ts):
    headers = {"X-WC-Webhook-Signature": woocommerce.sign(secret, body)}
    return Delivery("wordpress", signed("wordpress", body, headers, url), secret)


def wpwh(secret, body, url, ts):
    headers = {"X-WP-Webhook-Signature": wp_webhooks.sign(secret, body)}
    return Delivery("wordpress", signed("wordpress", body, headers, url), secret)


def wp_own(secret, body, url, ts):
    headers = {"X-WordPress-Signature": wordpress.sign(secret, body)}
    return Delivery("wordpress", signed("wordpress", body, headers, url), secret)


def sfdc(secret, body, url, ts):
    headers = {"X-Salesforce-Signature": salesforce.sign(secret, body)}
    return Delivery("salesforce", signed("salesforce", body, headers, url), secret)


def stdwh(secret, body, url, ts):
    stamp = str(ts // 1000)
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": standard_webhooks.sign(secret, "msg_1", stamp, body),
    }
    return Delivery("salesforce", signed("salesforce", body, headers, url), secret)


SCHEMES = {
    "hubspot-v1": hubspot_v1,
    "hubspot-v2": hubspot_v2,
    "hubspot-v3": hubspot_v3,
    "github-sha256": github_sha256,
    "woocommerce-sha256": woo,
    "wp-webhooks-sha256": wpwh,
    "wordpress-sha256": wp_own,
    "salesforce-sha256": sfdc,
    "standard-webhooks-v1": stdwh,
}
URL_SIGNED = ("hubspot-v2", "hubspot-v3")
TIMESTAMPED = {
    "hubspot-v3": "x-hubspot-request-timestamp",
    "standard-webhooks-v1": "webhook-timestamp",
}


def verifies(d: Delivery) -> bool:
    try:
        verify_delivery(d.provider, d.request, d.secret, now_ms=d.now_ms)
    except SignatureError:
        return False
    return True


def build(scheme, secret, body, path, ts=NOW_MS):
    return SCHEMES[scheme](secret, body, f"https://h.example/{path}", ts)


schemes = pytest.mark.parametrize("scheme", sorted(SCHEMES))
few = settings(max_examples=60, deadline=None)


@schemes
@few
@given(secret=secrets, body=bodies, path=paths, skew=skews_ms)
def test_a_genuine_signature_verifies(scheme, secret, body, path, skew):
    d = build(scheme, secret, body, path, NOW_MS + skew)
    assert verify_delivery(d.provider, d.request, d.secret, now_ms=NOW_MS) == scheme


@schemes
@few
@given(secret=secrets, body=bodies, other=bodies, path=paths)
def test_any_change_to_the_body_fails(scheme, secret, body, other, path):
    assume(other != body)
    d = build(scheme, secret, body, path)
    assert not verifies(replace(d, request=replace(d.request, body=other)))


@schemes
@few
@given(secret=secrets, other=secrets, body=bodies, path=paths)
def test_another_secret_fails(scheme, secret, other, body, path):
    assume(other != secret)
    if scheme == "woocommerce-sha256":
        import html

        assume(html.unescape(other) != html.unescape(secret))
    d = build(scheme, secret, body, path)
    assert not verifies(replace(d, secret=other))


@pytest.mark.parametrize("scheme", URL_SIGNED)
@few
@given(secret=secrets, body=bodies, path=paths, other=paths)
def test_any_change_to_the_url_fails(scheme, secret, body, path, other):
    url, other_url = f"https://h.example/{path}", f"https://h.example/{other}"
    assume(hubspot.v3_uri(url) != hubspot.v3_uri(other_url))
    d = build(scheme, secret, body, path)
    assert not verifies(replace(d, request=replace(d.request, urls=(other_url,))))


@pytest.mark.parametrize("scheme", sorted(TIMESTAMPED))
@few
@given(secret=secrets, body=bodies, path=paths, shift=skews_ms)
def test_any_change_to_the_timestamp_fails(scheme, secret, body, path, shift):
    d = build(scheme, secret, body, path)
    header = TIMESTAMPED[scheme]
    stamp = int(d.request.headers[header])
    changed = stamp + (shift if scheme == "hubspot-v3" else shift // 1000)
    assume(changed != stamp)
    headers = {**d.request.headers, header: str(changed)}
    assert not verifies(replace(d, request=replace(d.request, headers=headers)))


@few
@given(
    secret=secrets,
    body=bodies,
    webhook_id=st.text("abcdefghijklmnop_0123456789", min_size=1, max_size=20),
)
def test_any_change_to_the_signed_webhook_id_fails(secret, body, webhook_id):
    assume(webhook_id != "msg_1")
    d = build("standard-webhooks-v1", secret, body, "hook")
    headers = {**d.request.headers, "webhook-id": webhook_id}
    assert not verifies(replace(d, request=replace(d.request, headers=headers)))


@pytest.mark.parametrize("scheme", ["hubspot-v2", "hubspot-v3"])
@few
@given(
    secret=secrets,
    body=bodies,
    path=paths,
    method=st.sampled_from(["GET", "PUT", "PATCH", "DELETE"]),
)
def test_any_change_to_the_method_fails(scheme, secret, body, path, method):
    d = build(scheme, secret, body, path)
    assert not verifies(replace(d, request=replace(d.request, method=method)))


@schemes
@few
@given(
    secret=secrets,
    body=bodies,
    path=paths,
    position=st.integers(0, 200),
    char=st.characters(codec="ascii"),
)
def test_any_change_to_the_signature_header_fails(scheme, secret, body, path, position, char):
    d = build(scheme, secret, body, path)
    name = next(
        n for n in d.request.headers if "signature" in n and n != "x-hubspot-signature-version"
    )
    value = d.request.headers[name]
    index = position % len(value)
    changed = value[:index] + char + value[index + 1 :]
    assume(changed.lower() != value.lower() and changed.strip() == changed)
    headers = {**d.request.headers, name: changed}
    assert not verifies(replace(d, request=replace(d.request, headers=headers)))
