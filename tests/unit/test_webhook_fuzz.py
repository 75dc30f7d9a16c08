"""Fuzzing the receiver through its HTTP interface: arbitrary input never gets a 5xx, unsigned
input is never accepted (except WooCommerce's exact ping), and correctly signed but arbitrary
bodies are either stored or refused with a 4xx."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.settings import Settings
from tests.webhook_receiver_support import (
    SECRET,
    build_receiver,
    github_delivery,
    hubspot_v3,
    path,
    salesforce_delivery,
    woocommerce_delivery,
)
from tests.webhook_receiver_support import (
    WEBHOOK_PROVIDERS as PROVIDERS,
)
from webhook_receiver.verification import salesforce

SIGNATURE_HEADERS = [
    "X-HubSpot-Signature",
    "X-HubSpot-Signature-Version",
    "X-HubSpot-Signature-v3",
    "X-HubSpot-Request-Timestamp",
    "X-Hub-Signature-256",
    "X-GitHub-Event",
    "X-GitHub-Delivery",
    "X-WC-Webhook-Signature",
    "X-WC-Webhook-Topic",
    "X-WP-Webhook-Signature",
    "X-WordPress-Signature",
    "X-Salesforce-Signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
]
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
content_types = st.sampled_from(
    [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "",
        "application/json; charset=utf-8",
    ]
)
# JSON escapes no UTF-8 can hold (lone surrogates) and NUL, beside ordinary text
odd_text = st.sampled_from(["\ud800", "a\udfff", "\x00", "\u2028"])
json_like = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | odd_text,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
fuzz = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture(scope="module")
def rx(tmp_path_factory):
    data = tmp_path_factory.mktemp("fuzz")
    receiver = build_receiver(
        Settings(DATA_DIR=data, ENCRYPTION_KEY=Fernet.generate_key().decode(), _env_file=None)
    )
    for provider in PROVIDERS:
        receiver.add(provider, f"{provider}-1")
    return receiver


@fuzz
@given(
    provider=st.sampled_from([*PROVIDERS, "unknown"]),
    body=st.binary(max_size=400),
    content_type=content_types,
    headers=st.dictionaries(st.sampled_from(SIGNATURE_HEADERS), header_values, max_size=6),
)
def test_arbitrary_input_is_never_a_5xx_nor_accepted_unsigned(
    rx, provider, body, content_type, headers
):
    before = sum(rx.inbox.counts().values())
    response = rx.client.post(
        path(provider, f"{provider}-1"),
        data=body,
        headers={"Content-Type": content_type, **headers},
    )
    assert response.status_code < 500
    after = sum(rx.inbox.counts().values())
    if 200 <= response.status_code < 300:
        # the only unsigned delivery anyone may make: WooCommerce's exact ping
        assert provider == "wordpress" and body.startswith(b"webhook_id=")
    else:
        assert response.get_json()["error"]["code"]
        assert after == before


@fuzz
@given(
    provider=st.sampled_from(PROVIDERS),
    payload=json_like,
    raw=st.binary(max_size=200),
    use_raw=st.booleans(),
)
def test_signed_arbitrary_bodies_are_stored_or_refused_with_a_4xx(
    rx, provider, payload, raw, use_raw
):
    body = raw if use_raw else json.dumps(payload).encode()
    delivery = {
        "hubspot": lambda: hubspot_v3("hubspot-1", body, SECRET),
        "github": lambda: github_delivery("github-1", "issues", body, secret=SECRET),
        "wordpress": lambda: woocommerce_delivery(
            "wordpress-1", "order.updated", body, secret=SECRET
        ),
        "salesforce": lambda: salesforce_delivery("salesforce-1", None, SECRET),
    }[provider]()
    if provider == "salesforce":
        delivery.body = body
        delivery.headers["X-Salesforce-Signature"] = salesforce.sign(SECRET, body)
    before = sum(rx.inbox.counts().values())

    response = rx.send(delivery)

    assert response.status_code in (202, 400), response.get_data(as_text=True)
    stored = sum(rx.inbox.counts().values()) - before
    if response.status_code == 202:
        assert stored == response.get_json()["accepted"]
    else:
        assert stored == 0
