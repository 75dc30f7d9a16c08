"""Every signature vector in shared/vectors/signatures.json, the extra HubSpot vectors of
providers.md 1.11, and how the receiver picks a scheme per provider."""

from __future__ import annotations

import pytest

from tests.shared_vectors import vectors
from webhook_receiver.verification import (
    WOOCOMMERCE_PING,
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

HUBSPOT_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
EXAMPLE_URI = "https://www.example.com/webhook_uri"
SINGLE_QUOTE_BODY = b"{'example_field':'example_value'}"


def req(body: bytes | str, headers: dict[str, str], method="POST", urls=(EXAMPLE_URI,)):
    if isinstance(body, str):
        body = body.encode()
    return SignedRequest(method, tuple(urls), {k.lower(): v for k, v in headers.items()}, body)


def check_github(v):
    assert github.sign(v["secret"], v["body"].encode()) == v["expected_header"]
    request = req(v["body"], {"X-Hub-Signature-256": v["expected_header"]})
    assert verify_delivery("github", request, v["secret"], now_ms=0) == "github-sha256"


def check_hubspot(v):
    body = v["body"].encode()
    scheme = v["scheme"]
    headers = {"Content-Type": "application/json"}
    now_ms = 1_800_000_000_000
    if scheme == "v1":
        assert hubspot.sign_v1(v["secret"], body) == v["expected_header"]
        headers |= {
            "X-HubSpot-Signature": v["expected_header"],
            "X-HubSpot-Signature-Version": "v1",
        }
    elif scheme == "v2":
        assert hubspot.sign_v2(v["secret"], v["method"], v["uri"], body) == v["expected_header"]
        headers |= {
            "X-HubSpot-Signature": v["expected_header"],
            "X-HubSpot-Signature-Version": "v2",
        }
    else:
        ts = v["timestamp_ms"]
        assert hubspot.sign_v3(v["secret"], v["method"], v["uri"], body, ts) == v["expected_header"]
        headers |= {
            "X-HubSpot-Signature-v3": v["expected_header"],
            "X-HubSpot-Request-Timestamp": ts,
        }
        now_ms = int(ts) + 1_000  # the vector's clock, frozen a second after it was signed
    request = req(body, headers, method=v["method"], urls=[v["uri"] or EXAMPLE_URI])
    assert verify_delivery("hubspot", request, v["secret"], now_ms=now_ms) == f"hubspot-{scheme}"


def check_woocommerce(v):
    assert woocommerce.sign(v["secret"], v["body"].encode()) == v["expected_header"]
    request = req(v["body"], {"X-WC-Webhook-Signature": v["expected_header"]})
    assert verify_delivery("wordpress", request, v["secret"], now_ms=0) == "woocommerce-sha256"


def check_standard_webhooks(v):
    body = v["body"].encode()
    assert (
        standard_webhooks.sign(v["secret"], v["webhook_id"], v["timestamp"], body)
        == (v["expected_header"])
    )
    headers = {
        "webhook-id": v["webhook_id"],
        "webhook-timestamp": v["timestamp"],
        # an unrelated signature (the spec's rotation vector) is skipped while another matches
        "webhook-signature": f"v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {v['expected_header']}",
    }
    now_ms = int(v["timestamp"]) * 1000 + 10_000
    for provider in ("salesforce", "wordpress"):
        assert (
            verify_delivery(provider, req(body, headers), v["secret"], now_ms=now_ms)
            == "standard-webhooks-v1"
        )


CHECKS = {
    ("github", "X-Hub-Signature-256"): check_github,
    ("hubspot", "v1"): check_hubspot,
    ("hubspot", "v2"): check_hubspot,
    ("hubspot", "v3"): check_hubspot,
    ("wordpress", "X-WC-Webhook-Signature"): check_woocommerce,
    ("standard-webhooks", "v1"): check_standard_webhooks,
}
SIGNATURE_VECTORS = [v for v in vectors() if v["provider"] != "oauth"]


def test_the_shared_file_holds_signature_vectors():
    assert len(SIGNATURE_VECTORS) >= 6


@pytest.mark.parametrize(
    "vector", SIGNATURE_VECTORS, ids=lambda v: f"{v['provider']}-{v['scheme']}"
)
def test_shared_signature_vector(vector):
    check = CHECKS.get((vector["provider"], vector["scheme"]))
    assert check is not None, f"no check for the new vector {vector['provider']}/{vector['scheme']}"
    check(vector)


@pytest.mark.parametrize(
    ("version", "method", "body", "expected"),
    [
        ("v1", "POST", SINGLE_QUOTE_BODY, "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"),
        ("v2", "POST", b'{"example_field":"example_value"}', "9569219f8ba981ffa6f6f16aa0f48637d35d728c7e4d93d0d52efaa512af7900"),
        ("v2", "POST", SINGLE_QUOTE_BODY, "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"),
    ],
)  # fmt: skip
def test_hubspot_sdk_and_legacy_docs_vectors(version, method, body, expected):
    headers = {"X-HubSpot-Signature": expected, "X-HubSpot-Signature-Version": version}
    request = req(body, headers, method=method)
    assert verify_delivery("hubspot", request, HUBSPOT_SECRET, now_ms=0) == f"hubspot-{version}"


def test_hubspot_v3_decodes_only_the_listed_escapes_in_the_uri():
    called = "https://h.example/api/v1/webhooks/hubspot/x?a=%3a%2F%3F%40%21%24%27%28%29%2A%2C%3B&b=%20%26#frag"
    assert hubspot.v3_uri(called) == (
        "https://h.example/api/v1/webhooks/hubspot/x?a=:/?@!$'()*,;&b=%20%26"
    )
    signed = hubspot.sign_v3("s", "POST", called, b"[]", "1000")
    assert signed == hubspot.sign_v3("s", "POST", hubspot.v3_uri(called), b"[]", "1000")
    request = req(
        b"[]",
        {"X-HubSpot-Signature-v3": signed, "X-HubSpot-Request-Timestamp": "1000"},
        urls=[called],
    )
    assert hubspot.verify(request, "s", now_ms=2000) == "hubspot-v3"


def v3_request(timestamp_ms: int, secret="s", url=EXAMPLE_URI) -> SignedRequest:
    ts = str(timestamp_ms)
    return req(
        b"[]",
        {
            "X-HubSpot-Signature-v3": hubspot.sign_v3(secret, "POST", url, b"[]", ts),
            "X-HubSpot-Request-Timestamp": ts,
        },
    )


@pytest.mark.parametrize("offset_ms", [300_001, -300_001])
def test_hubspot_v3_refuses_a_timestamp_more_than_five_minutes_away(offset_ms):
    now = 1_800_000_000_000
    with pytest.raises(SignatureError) as refused:
        hubspot.verify(v3_request(now - offset_ms), "s", now_ms=now)
    assert refused.value.code == "stale_timestamp"
    assert hubspot.verify(v3_request(now - 300_000), "s", now_ms=now) == "hubspot-v3"


def test_hubspot_v3_does_not_fall_back_to_v1_when_v3_fails():
    request = req(
        b"[]",
        {
            "X-HubSpot-Signature-v3": "bm9wZQ==",
            "X-HubSpot-Request-Timestamp": "1000",
            "X-HubSpot-Signature": hubspot.sign_v1("s", b"[]"),
            "X-HubSpot-Signature-Version": "v1",
        },
    )
    with pytest.raises(SignatureError, match="v3"):
        hubspot.verify(request, "s", now_ms=1000)


def test_hubspot_v2_accepts_the_public_url_behind_a_proxy():
    public = "https://hooks.example.com/api/v1/webhooks/hubspot/acme"
    request = req(
        b"[]",
        {
            "X-HubSpot-Signature": hubspot.sign_v2("s", "POST", public, b"[]"),
            "X-HubSpot-Signature-Version": "v2",
        },
        urls=["http://127.0.0.1:8000/api/v1/webhooks/hubspot/acme", public],
    )
    assert hubspot.verify(request, "s", now_ms=0) == "hubspot-v2"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_signature"),
        ({"X-HubSpot-Signature": "abc"}, "missing_signature"),
        ({"X-HubSpot-Signature": "abc", "X-HubSpot-Signature-Version": "v9"}, "missing_signature"),
        ({"X-HubSpot-Signature": "abc", "X-HubSpot-Signature-Version": "v1"}, "invalid_signature"),
        ({"X-HubSpot-Signature-v3": "abc"}, "missing_signature"),
        (
            {"X-HubSpot-Signature-v3": "abc", "X-HubSpot-Request-Timestamp": "soon"},
            "invalid_signature",
        ),
    ],
)
def test_hubspot_refusals_say_why(headers, code):
    with pytest.raises(SignatureError) as refused:
        hubspot.verify(req(b"[]", headers), "s", now_ms=0)
    assert refused.value.code == code


def test_wordpress_schemes_are_chosen_by_their_header():
    body = b'{"id":7}'
    cases = {
        "X-WC-Webhook-Signature": (woocommerce.sign("k", body), "woocommerce-sha256"),
        "X-WP-Webhook-Signature": (wp_webhooks.sign("k", body), "wp-webhooks-sha256"),
        "X-WordPress-Signature": (wordpress.sign("k", body), "wordpress-sha256"),
    }
    for header, (signature, scheme) in cases.items():
        assert verify_delivery("wordpress", req(body, {header: signature}), "k", now_ms=0) == scheme


def test_woocommerce_decodes_html_entities_in_the_secret_but_wp_webhooks_does_not():
    body = b'{"id":1}'
    assert woocommerce.sign("a&amp;b", body) == wp_webhooks.sign("a&b", body)
    assert wp_webhooks.sign("a&amp;b", body) != wp_webhooks.sign("a&b", body)


def test_woocommerce_ping_is_accepted_only_in_its_exact_shape():
    ping = req(b"webhook_id=42", {"Content-Type": "application/x-www-form-urlencoded"})
    assert verify_delivery("wordpress", ping, None, now_ms=0) == WOOCOMMERCE_PING
    assert woocommerce.ping_webhook_id(ping) == "42"
    not_pings = [
        req(b"webhook_id=42&x=1", {}),
        req(b"webhook_id=abc", {}),
        req(b"webhook_id=42", {"X-WC-Webhook-Topic": "order.created"}),
        req(b"webhook_id=42", {"X-WordPress-Signature": "00"}),
    ]
    for request in not_pings:
        with pytest.raises(SignatureError):
            verify_delivery("wordpress", request, "k", now_ms=0)
    # a ping body on another provider's endpoint is just unsigned
    with pytest.raises(SignatureError):
        verify_delivery("github", ping, "k", now_ms=0)


def test_salesforce_accepts_base64_and_hex_of_the_same_hmac():
    body = b'{"ChangeEventHeader":{"entityName":"Account"}}'
    for signature in (salesforce.sign("k", body), salesforce.sign_hex("k", body).upper()):
        request = req(body, {"X-Salesforce-Signature": signature})
        assert verify_delivery("salesforce", request, "k", now_ms=0) == "salesforce-sha256"
    with pytest.raises(SignatureError):
        verify_delivery(
            "salesforce",
            req(body, {"X-Salesforce-Signature": salesforce.sign("other", body)}),
            "k",
            now_ms=0,
        )


def test_no_secret_configured_is_refused_with_a_clear_reason():
    request = req(b"x", {"X-Hub-Signature-256": github.sign("", b"x")})
    with pytest.raises(SignatureError) as refused:
        verify_delivery("github", request, None, now_ms=0)
    assert refused.value.code == "missing_secret"
    assert "webhook_secret" in refused.value.message


def test_github_and_hubspot_do_not_take_standard_webhooks():
    headers = {
        "webhook-id": "m",
        "webhook-timestamp": "100",
        "webhook-signature": standard_webhooks.sign("k", "m", "100", b"{}"),
    }
    for provider in ("github", "hubspot"):
        with pytest.raises(SignatureError):
            verify_delivery(provider, req(b"{}", headers), "k", now_ms=100_000)
