"""Accepted deliveries for every provider and scheme: what lands in the inbox, duplicates,
secrets from the vault (and their fallbacks), the integration cache, health and metrics."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

from core.clock import clock
from tests.webhook_receiver_support import (
    SECRET,
    build_receiver,
    cdc_event,
    github_delivery,
    hubspot_event,
    hubspot_v1,
    hubspot_v3,
    path,
    salesforce_delivery,
    standard_delivery,
    woocommerce_delivery,
    wordpress_delivery,
    wp_webhooks_delivery,
)
from webhook_receiver.verification import salesforce


@pytest.fixture
def rx(settings):
    receiver = build_receiver(settings)
    # v3 only by default; these tests also send v1.
    receiver.add("hubspot", "acme", webhook_signature_versions=["v1", "v2", "v3"])
    receiver.add("github", "gh")
    receiver.add("wordpress", "wp")
    receiver.add("salesforce", "sf")
    yield receiver
    clock.reset()


def accepted(response, inserted: int, duplicates: int = 0, status: int = 202) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.get_json() == {"accepted": inserted, "duplicates": duplicates}


def test_a_hubspot_batch_becomes_one_row_per_event(rx):
    clock.freeze(1_800_000_000.0)
    events = [
        hubspot_event(11),
        hubspot_event(12, subscriptionType="company.creation", objectId=77),
        hubspot_event(13, subscriptionType="object.propertyChange", objectTypeId="0-3"),
        hubspot_event(14, subscriptionType="contact.merge", objectId=None, primaryObjectId=5),
    ]
    delivery = hubspot_v3("acme", events)

    accepted(rx.send(delivery), 4)

    rows = rx.rows()
    assert [(r.delivery_id, r.event_type, r.object_type, r.object_id) for r in rows] == [
        ("11", "contact.propertyChange", "contacts", "1011"),
        ("12", "company.creation", "companies", "77"),
        ("13", "object.propertyChange", "deals", "1013"),
        ("14", "contact.merge", "contacts", "5"),
    ]
    assert json.loads(rows[0].payload) == events[0]
    assert {r.provider for r in rows} == {"hubspot"}
    assert {r.integration_id for r in rows} == {"acme"}
    assert {r.verification for r in rows} == {"hubspot-v3"}
    assert rows[0].received_at.timestamp() == 1_800_000_000.0
    assert rows[0].headers["x-hubspot-signature-v3"] == delivery.headers["X-HubSpot-Signature-v3"]


def test_a_one_event_batch_stores_the_exact_bytes_of_its_event(rx):
    raw = b' [ {"eventId": 7, "subscriptionType": "deal.creation", "objectId": 123456789012345678901} ]\n'
    accepted(rx.send(hubspot_v3("acme", raw)), 1)
    row = rx.rows()[0]
    assert (
        row.payload
        == b'{"eventId": 7, "subscriptionType": "deal.creation", "objectId": 123456789012345678901}'
    )
    assert (row.object_type, row.object_id) == ("deals", "123456789012345678901")


def test_a_redelivered_batch_is_2xx_with_no_new_row(rx):
    accepted(rx.send(hubspot_v3("acme", [hubspot_event(1), hubspot_event(2)])), 2)

    # HubSpot's retry of the same events (attemptNumber 1), plus one new event
    retry = [hubspot_event(1, attemptNumber=1), hubspot_event(2, attemptNumber=1), hubspot_event(3)]
    accepted(rx.send(hubspot_v3("acme", retry)), 1, 2)
    accepted(rx.send(hubspot_v3("acme", retry)), 0, 3)

    assert [r.delivery_id for r in rx.rows()] == ["1", "2", "3"]


def test_hubspot_v1_is_accepted_with_its_scheme_recorded(rx):
    accepted(rx.send(hubspot_v1("acme", [hubspot_event(5)])), 1)
    assert rx.rows()[0].verification == "hubspot-v1"


def test_hubspot_verifies_with_the_app_client_secret_when_no_webhook_secret(settings):
    rx = build_receiver(settings, HUBSPOT_CLIENT_SECRET=SecretStr("app-client-secret"))
    rx.add("hubspot", "portal", secret=None)
    rx.add("hubspot", "own-app", secret=None, client_secret="own-app-secret")

    accepted(rx.send(hubspot_v3("portal", [hubspot_event(1)], secret="app-client-secret")), 1)
    accepted(rx.send(hubspot_v3("own-app", [hubspot_event(1)], secret="own-app-secret")), 1)


def test_webhook_secret_falls_back_to_the_process_setting(settings):
    rx = build_receiver(settings, WEBHOOK_SECRET=SecretStr("global-secret"))
    rx.add("github", "gh", secret=None)
    delivery = github_delivery("gh", "push", {"after": "abc"}, secret="global-secret")
    accepted(rx.send(delivery), 1)


def test_the_webhook_secret_is_vaulted_not_kept_in_config(rx):
    integration = rx.registry.get("gh")
    assert "webhook_secret" not in integration.config
    assert "webhook_secret" in rx.registry.vault.kinds("gh")


def test_github_push_and_ping(rx):
    push = github_delivery("gh", "push", {"after": "deadbeef", "ref": "refs/heads/main"}, "d-1")
    ping = github_delivery("gh", "ping", {"zen": "Keep it logically awesome.", "hook_id": 1}, "d-2")

    accepted(rx.send(push), 1)
    accepted(rx.send(ping), 1)
    accepted(rx.send(push), 0, 1)

    rows = rx.rows()
    assert [(r.delivery_id, r.event_type, r.object_type, r.object_id) for r in rows] == [
        ("d-1", "push", "commits", "deadbeef"),
        ("d-2", "ping", None, None),
    ]
    assert rows[0].payload == push.body
    assert rows[0].verification == "github-sha256"


def test_github_form_encoded_payload(rx):
    from urllib.parse import urlencode

    payload = json.dumps({"action": "opened", "issue": {"id": 9, "number": 3}})
    delivery = github_delivery("gh", "issues", urlencode({"payload": payload}).encode())
    delivery.content_type = "application/x-www-form-urlencoded"

    accepted(rx.send(delivery), 1)

    row = rx.rows()[0]
    assert (row.event_type, row.object_type, row.object_id) == ("issues", "issues", "9")
    assert json.loads(row.payload)["action"] == "opened"


def test_woocommerce_delivery_and_ping(rx):
    order = woocommerce_delivery("wp", "order.updated", {"id": 731, "status": "processing"})
    accepted(rx.send(order), 1)

    ping = rx.client.post(
        path("wordpress", "wp"),
        data=b"webhook_id=12",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    accepted(ping, 1, status=200)  # WooCommerce wants exactly 200 for its ping
    accepted(
        rx.client.post(path("wordpress", "wp"), data=b"webhook_id=12", content_type=""),
        0,
        1,
        status=200,
    )

    rows = rx.rows()
    assert [(r.event_type, r.object_type, r.object_id, r.verification) for r in rows] == [
        ("order.updated", "orders", "731", "woocommerce-sha256"),
        ("ping", None, None, "woocommerce-ping"),
    ]
    assert rows[0].delivery_id == "wc-delivery-1"
    assert json.loads(rows[1].payload) == {"webhook_id": "12"}


def test_woocommerce_without_a_delivery_id_dedups_by_body(rx):
    order = woocommerce_delivery("wp", "product.deleted", {"id": 5}, delivery_id=None)
    accepted(rx.send(order), 1)
    accepted(rx.send(order), 0, 1)
    assert rx.rows()[0].delivery_id.startswith("sha256:")


def test_wp_webhooks_and_our_plugin(rx):
    accepted(rx.send(wp_webhooks_delivery("wp", {"trigger": "post_update", "post_id": 44})), 1)
    own = {"type": "post.updated", "data": {"id": 45, "post_type": "page"}}
    accepted(rx.send(wordpress_delivery("wp", own, delivery_id="n-1")), 1)

    rows = rx.rows()
    assert [(r.event_type, r.object_type, r.object_id, r.verification) for r in rows] == [
        ("post_update", None, "44", "wp-webhooks-sha256"),
        ("post.updated", "pages", "45", "wordpress-sha256"),
    ]
    assert rows[1].delivery_id == "n-1"


def test_salesforce_change_events_single_array_and_cometd(rx):
    single = cdc_event("Account", "UPDATE", ["001A"], "tx-1", 1)
    accepted(rx.send(salesforce_delivery("sf", single)), 1)
    batch = [
        cdc_event("Contact", "CREATE", ["003A"], "tx-2", 1),
        cdc_event("Contact", "UPDATE", ["003B", "003C"], "tx-2", 2),
    ]
    accepted(rx.send(salesforce_delivery("sf", batch)), 2)
    cometd = {
        "channel": "/data/AccountChangeEvent",
        "data": {
            "payload": cdc_event("Account", "DELETE", ["001B"], "tx-3", 1),
            "event": {"replayId": 991},
        },
    }
    accepted(rx.send(salesforce_delivery("sf", cometd)), 1)
    accepted(rx.send(salesforce_delivery("sf", batch)), 0, 2)

    rows = rx.rows()
    assert [(r.delivery_id, r.event_type, r.object_type, r.object_id) for r in rows] == [
        ("tx-1:1", "Account.UPDATE", "Account", "001A"),
        ("tx-2:1", "Contact.CREATE", "Contact", "003A"),
        ("tx-2:2", "Contact.UPDATE", "Contact", None),
        ("991", "Account.DELETE", "Account", "001B"),
    ]
    assert json.loads(rows[1].payload) == batch[0]


def test_salesforce_hex_signature_and_standard_webhooks(rx):
    body = json.dumps({"type": "opportunity.closed", "data": {"id": "006X"}}).encode()
    headers = {
        "X-Salesforce-Signature": salesforce.sign_hex(SECRET, body),
        "X-Salesforce-Delivery-ID": "r-1",
    }
    accepted(
        rx.client.post(
            path("salesforce", "sf"), data=body, headers=headers, content_type="application/json"
        ),
        1,
    )
    accepted(
        rx.send(
            standard_delivery(
                "salesforce", "sf", {"type": "account.updated", "data": {"id": "001Z"}}, "msg_1"
            )
        ),
        1,
    )
    accepted(
        rx.send(
            standard_delivery(
                "wordpress", "wp", {"type": "post.deleted", "data": {"id": 3}}, "msg_2"
            )
        ),
        1,
    )

    rows = rx.rows()
    assert [(r.delivery_id, r.event_type, r.object_type, r.object_id, r.verification) for r in rows] == [
        ("r-1", "opportunity.closed", "opportunity", "006X", "salesforce-sha256"),
        ("msg_1", "account.updated", "account", "001Z", "standard-webhooks-v1"),
        ("msg_2", "post.deleted", "posts", "3", "standard-webhooks-v1"),
    ]  # fmt: skip


def test_credentials_headers_are_never_stored(rx):
    delivery = github_delivery("gh", "push", {"after": "x"})
    delivery.headers |= {"Authorization": "Bearer leaked", "Cookie": "s=1", "X-API-Key": "k"}
    accepted(rx.send(delivery), 1)
    headers = rx.rows()[0].headers
    assert not {"authorization", "cookie", "x-api-key"} & set(headers)
    assert headers["x-github-event"] == "push"


def test_a_deleted_integration_stops_being_accepted_within_the_cache_ttl(rx, monkeypatch):
    accepted(rx.send(github_delivery("gh", "push", {"after": "1"}, "a")), 1)
    rx.registry.delete("gh")  # behind the app's back, as another process would

    # still cached for a moment ...
    assert rx.send(github_delivery("gh", "push", {"after": "2"}, "b")).status_code == 202
    # ... and refused once the entry expires
    directory = rx.app.extensions["webhook_receiver"].directory
    monkeypatch.setattr(directory, "_monotonic", lambda: 10**9)
    response = rx.send(github_delivery("gh", "push", {"after": "3"}, "c"))
    assert response.status_code == 404


def test_the_integration_lookup_is_cached_on_the_hot_path(rx, monkeypatch):
    accepted(rx.send(github_delivery("gh", "push", {"after": "1"}, "a")), 1)

    def no_db(*_a, **_k):
        raise AssertionError("the control database was read on a cached delivery")

    monkeypatch.setattr(rx.registry, "get", no_db)
    accepted(rx.send(github_delivery("gh", "push", {"after": "2"}, "b")), 1)


def test_health_reports_the_inbox(rx):
    rx.send(hubspot_v3("acme", [hubspot_event(1)]))
    body = rx.client.get("/health").get_json()
    assert body["status"] == "ok"
    assert body["inbox"]["reachable"] is True
    assert body["inbox"]["backend"] == "sqlite"
    assert body["inbox"]["counts"]["pending"] == 1


def test_health_is_503_when_the_inbox_is_unreachable(settings, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a directory")
    rx = build_receiver(settings, INBOX_DATABASE_URL=f"sqlite:///{blocked}/inbox.sqlite")
    response = rx.client.get("/health")
    assert response.status_code == 503
    assert response.get_json()["inbox"]["reachable"] is False


def metric(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(
                p.split("=", 1)
                for p in line[line.find("{") + 1 : line.find("}")].split(",")
                if "=" in p
            )
            if all(found.get(k) == f'"{v}"' for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_received_accepted_rejected_duplicates_and_dead_letters(rx):
    rx.send(hubspot_v3("acme", [hubspot_event(1), hubspot_event(2)]))
    rx.send(hubspot_v3("acme", [hubspot_event(2)]))
    rx.send(hubspot_v3("acme", [hubspot_event(3)], secret="forged"))
    rx.send(hubspot_v3("nobody", [hubspot_event(3)]))
    rx.client.post(path("stripe", "x"), data=b"{}", content_type="application/json")
    first = rx.rows()[0].id
    rx.inbox.mark_failed([first], "boom", [])

    response = rx.client.get("/metrics")
    text = response.get_data(as_text=True)

    assert response.content_type.startswith("text/plain")
    assert metric(text, "webhook_deliveries_received_total", provider="hubspot") == 4
    assert metric(text, "webhook_deliveries_received_total", provider="unknown") == 1
    assert metric(text, "webhook_events_accepted_total", provider="hubspot") == 2
    assert metric(text, "webhook_events_duplicate_total", provider="hubspot") == 1
    assert (
        metric(
            text,
            "webhook_deliveries_rejected_total",
            provider="hubspot",
            reason="invalid_signature",
        )
        == 1
    )
    assert (
        metric(
            text,
            "webhook_deliveries_rejected_total",
            provider="hubspot",
            reason="unknown_integration",
        )
        == 1
    )
    assert (
        metric(
            text, "webhook_deliveries_rejected_total", provider="unknown", reason="unknown_provider"
        )
        == 1
    )
    assert (
        metric(text, "webhook_processing_seconds_count", provider="hubspot", outcome="accepted")
        == 2
    )
    assert metric(text, "webhook_dead_letters") == 1
    assert metric(text, "webhook_inbox_events", status="pending") == 1
    assert metric(text, "webhook_inbox_up") == 1
