"""The OpenAPI description names exactly the app's routes, resolves every reference, and lists
every status the receiver really answers."""

from __future__ import annotations

import json
import re

import pytest

from tests.webhook_receiver_support import (
    WEBHOOK_PROVIDERS as PROVIDERS,
)
from tests.webhook_receiver_support import (
    build_receiver,
    github_delivery,
    hubspot_event,
    hubspot_v3,
)

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def rx(settings):
    receiver = build_receiver(settings)
    receiver.add("hubspot", "acme")
    receiver.add("github", "gh")
    return receiver


@pytest.fixture
def doc(rx):
    response = rx.client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def flask_operations(app) -> set[tuple[str, str]]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        template = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        paths = (
            [template.replace("{provider}", p) for p in PROVIDERS]
            if "{provider}" in template
            else [template]
        )
        for path in paths:
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                out.add((path, method.lower()))
    return out


def documented_operations(doc) -> set[tuple[str, str]]:
    return {(path, m) for path, item in doc["paths"].items() for m in item if m in HTTP_METHODS}


def test_the_description_names_exactly_the_apps_routes(rx, doc):
    assert doc["openapi"] == "3.1.0"
    assert documented_operations(doc) == flask_operations(rx.app)


def test_every_reference_resolves_and_operation_ids_are_unique(doc):
    refs = re.findall(r'"\$ref": "#/([^"]+)"', json.dumps(doc))
    assert refs
    for ref in refs:
        node = doc
        for part in ref.split("/"):
            node = node[part]
    ids = [
        op["operationId"]
        for _, item in doc["paths"].items()
        for m, op in item.items()
        if m in HTTP_METHODS
    ]
    assert len(ids) == len(set(ids))


def test_path_parameters_are_declared(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            declared = {
                p["name"]
                for p in item.get("parameters", []) + op.get("parameters", [])
                if p["in"] == "path"
            }
            assert declared == set(re.findall(r"{(\w+)}", path)), (path, method)


def test_every_webhook_refusal_is_documented_with_its_headers(doc):
    for provider in PROVIDERS:
        op = doc["paths"][f"/api/v1/webhooks/{provider}/{{integration_id}}"]["post"]
        assert {"202", "400", "401", "404", "413", "415", "429", "503"} <= set(op["responses"])
        assert "Retry-After" in op["responses"]["429"]["headers"]
        assert op["requestBody"]["required"] is True
    github = doc["paths"]["/api/v1/webhooks/github/{integration_id}"]["post"]
    required = {p["name"] for p in github["parameters"] if p["in"] == "header" and p["required"]}
    assert required == {"X-Hub-Signature-256", "X-GitHub-Event", "X-GitHub-Delivery"}


def test_the_integrations_api_declares_its_security_and_the_callback_none(doc):
    assert doc["paths"]["/api/v1/integrations"]["post"]["security"]
    assert doc["paths"]["/api/v1/oauth/callback"]["get"]["security"] == []


def test_live_answers_are_documented(rx, doc):
    """Real answers of the app (success and refusals) use statuses its description lists."""
    checks = [
        ("/api/v1/webhooks/hubspot/{integration_id}", "post", rx.send(hubspot_v3("acme", [hubspot_event(1)]))),
        ("/api/v1/webhooks/hubspot/{integration_id}", "post", rx.send(hubspot_v3("acme", b"{"))),
        ("/api/v1/webhooks/hubspot/{integration_id}", "post", rx.send(hubspot_v3("none", [hubspot_event(1)]))),
        ("/api/v1/webhooks/github/{integration_id}", "post", rx.send(github_delivery("gh", "push", {}, secret="x"))),
        ("/api/v1/integrations", "get", rx.client.get("/api/v1/integrations")),
        ("/api/v1/oauth/callback", "get", rx.client.get("/api/v1/oauth/callback?state=x")),
        ("/health", "get", rx.client.get("/health")),
        ("/metrics", "get", rx.client.get("/metrics")),
    ]  # fmt: skip
    for path, method, response in checks:
        assert str(response.status_code) in doc["paths"][path][method]["responses"], (
            path,
            response.status_code,
        )
