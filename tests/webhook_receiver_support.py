"""Helpers for the receiver's tests: an app on a throwaway data directory with integrations,
and deliveries signed exactly as each provider signs them (through the public sign functions)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from core.clock import clock
from core.settings import Settings
from inbox import Inbox
from pipelines.registry import IntegrationRegistry
from sources.provider import providers
from webhook_receiver.app import create_app
from webhook_receiver.verification import (
    github,
    hubspot,
    salesforce,
    standard_webhooks,
    woocommerce,
    wordpress,
    wp_webhooks,
)

SECRET = "integration-webhook-secret"
# Every provider the receiver has an endpoint for (those with a webhook spec).
WEBHOOK_PROVIDERS = tuple(p.name for p in providers.receiving_webhooks())
API_KEY = "test-api-key-0123456789"
HOST = "localhost"  # the Flask test client's default host


def receiver_settings(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update={"API_KEYS": None, **overrides})


@dataclass
class Delivery:
    path: str
    body: bytes
    headers: dict[str, str]
    content_type: str = "application/json"


@dataclass
class Receiver:
    """An app, its test client, registry and inbox."""

    app: Flask
    registry: IntegrationRegistry
    inbox: Inbox
    client: FlaskClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = self.app.test_client()

    def add(self, type: str, integration_id: str, secret: str | None = SECRET, **config: Any):
        if secret is not None:
            config["webhook_secret"] = secret
        return self.registry.create(
            organization_id="org",
            user_id="user",
            type=type,
            name=f"{type} test",
            config=config,
            integration_id=integration_id,
            actor="test",
        )

    def send(self, delivery: Delivery, **kw: Any):
        return self.client.post(
            delivery.path,
            data=delivery.body,
            headers={"Content-Type": delivery.content_type, **delivery.headers},
            **kw,
        )

    def rows(self) -> list:
        return self.inbox.fetch_ready(limit=100_000)


def build_receiver(settings: Settings, **overrides: Any) -> Receiver:
    settings = receiver_settings(settings, **overrides)
    registry = IntegrationRegistry.from_settings(settings)
    inbox = Inbox.from_settings(settings)
    return Receiver(create_app(settings, registry=registry, inbox=inbox), registry, inbox)


def path(provider: str, integration_id: str) -> str:
    return f"/api/v1/webhooks/{provider}/{integration_id}"


def hubspot_event(event_id: int, **kw: Any) -> dict[str, Any]:
    return {
        "eventId": event_id,
        "subscriptionId": 4242,
        "portalId": 62515,
        "appId": 1160452,
        "occurredAt": 1_700_000_000_000,
        "subscriptionType": "contact.propertyChange",
        "attemptNumber": 0,
        "objectId": 1000 + event_id,
        "propertyName": "email",
        "propertyValue": "a@example.com",
        "changeSource": "CRM_UI",
        **kw,
    }


def hubspot_v3(
    integration_id: str,
    events: Iterable[dict] | bytes,
    secret: str = SECRET,
    *,
    timestamp_ms: int | None = None,
    query: str = "",
) -> Delivery:
    body = events if isinstance(events, bytes) else json.dumps(list(events)).encode()
    url_path = path("hubspot", integration_id) + (f"?{query}" if query else "")
    stamp = str(clock.now_ms() if timestamp_ms is None else timestamp_ms)
    signature = hubspot.sign_v3(secret, "POST", f"http://{HOST}{url_path}", body, stamp)
    return Delivery(
        url_path,
        body,
        {"X-HubSpot-Signature-v3": signature, "X-HubSpot-Request-Timestamp": stamp},
    )


def hubspot_v1(integration_id: str, events: Iterable[dict], secret: str = SECRET) -> Delivery:
    body = json.dumps(list(events)).encode()
    return Delivery(
        path("hubspot", integration_id),
        body,
        {"X-HubSpot-Signature": hubspot.sign_v1(secret, body), "X-HubSpot-Signature-Version": "v1"},
    )


def github_delivery(
    integration_id: str,
    event: str,
    payload: dict | bytes,
    delivery_id: str = "72d3162e-cc78-11e3-81ab-4c9367dc0958",
    secret: str = SECRET,
) -> Delivery:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return Delivery(
        path("github", integration_id),
        body,
        {
            "X-Hub-Signature-256": github.sign(secret, body),
            "X-GitHub-Event": event,
            "X-GitHub-Delivery": delivery_id,
            "X-GitHub-Hook-ID": "1",
        },
    )


def woocommerce_delivery(
    integration_id: str,
    topic: str,
    payload: dict | bytes,
    delivery_id: str | None = "wc-delivery-1",
    secret: str = SECRET,
) -> Delivery:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": topic,
        "X-WC-Webhook-Resource": topic.split(".")[0],
        "X-WC-Webhook-Event": topic.split(".")[-1],
        "X-WC-Webhook-Signature": woocommerce.sign(secret, body),
        "X-WC-Webhook-ID": "12",
    }
    if delivery_id:
        headers["X-WC-Webhook-Delivery-ID"] = delivery_id
    return Delivery(path("wordpress", integration_id), body, headers)


def wp_webhooks_delivery(integration_id: str, payload: dict, secret: str = SECRET) -> Delivery:
    body = json.dumps(payload).encode()
    return Delivery(
        path("wordpress", integration_id),
        body,
        {
            "X-WP-Webhook-Source": "https://blog.example/",
            "X-WP-Webhook-Signature": wp_webhooks.sign(secret, body),
        },
    )


def wordpress_delivery(
    integration_id: str, payload: dict, delivery_id: str | None = None, secret: str = SECRET
) -> Delivery:
    body = json.dumps(payload).encode()
    headers = {"X-WordPress-Signature": wordpress.sign(secret, body)}
    if delivery_id:
        headers["X-WordPress-Delivery-ID"] = delivery_id
    return Delivery(path("wordpress", integration_id), body, headers)


def salesforce_delivery(
    integration_id: str, payload: Any, secret: str = SECRET, **headers: str
) -> Delivery:
    body = json.dumps(payload).encode()
    return Delivery(
        path("salesforce", integration_id),
        body,
        {"X-Salesforce-Signature": salesforce.sign(secret, body), **headers},
    )


def standard_delivery(
    provider: str, integration_id: str, payload: Any, message_id: str, secret: str = SECRET
) -> Delivery:
    body = json.dumps(payload).encode()
    stamp = str(int(clock.time()))
    return Delivery(
        path(provider, integration_id),
        body,
        {
            "webhook-id": message_id,
            "webhook-timestamp": stamp,
            "webhook-signature": standard_webhooks.sign(secret, message_id, stamp, body),
        },
    )


def cdc_event(entity: str, change: str, record_ids: list[str], tx: str, seq: int) -> dict:
    return {
        "ChangeEventHeader": {
            "entityName": entity,
            "changeType": change,
            "recordIds": record_ids,
            "transactionKey": tx,
            "sequenceNumber": seq,
            "commitTimestamp": 1_700_000_000_000,
            "changeOrigin": "com/salesforce/api/rest/66.0",
        },
        "Name": "Acme",
    }
