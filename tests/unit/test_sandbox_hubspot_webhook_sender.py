"""The sandbox's webhook sender in isolation: its signatures reproduce the official vectors,
its retry schedule spreads over about a day, subscriptions match the right changes, and bad
settings are refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sandbox.common.webhooks.faults import corrupt
from sandbox.hubspot.objtypes import COMPANIES, CONTACTS
from sandbox.hubspot.webhooks.events import (
    Associated,
    ChangeOrigin,
    Created,
    EventContext,
    Updated,
    changed_values,
    events_for,
)
from sandbox.hubspot.webhooks.settings import DeliveryRetryPolicy, WebhookSettings
from sandbox.hubspot.webhooks.signing import (
    sign_v1,
    sign_v2,
    sign_v3,
    signature_headers,
    v3_uri,
)
from tests.shared_vectors import vectors

API = ChangeOrigin("API", "1234567")


@pytest.mark.parametrize("vector", vectors(provider="hubspot"), ids=lambda v: v["scheme"])
def test_signatures_match_the_shared_vectors(vector: dict) -> None:
    body = vector["body"].encode()
    if vector["scheme"] == "v1":
        actual = sign_v1(vector["secret"], body)
    elif vector["scheme"] == "v2":
        actual = sign_v2(vector["secret"], vector["method"], vector["uri"], body)
    else:
        actual = sign_v3(
            vector["secret"], vector["method"], vector["uri"], body, vector["timestamp_ms"]
        )
    assert actual == vector["expected_header"]


def test_v3_uri_decodes_only_the_listed_escapes() -> None:
    url = "https://h.example/p%3a%2F?q=%40x%2c%20y%25#frag"
    assert v3_uri(url) == "https://h.example/p:/?q=@x,%20y%25"


def test_v3_headers_carry_the_legacy_v1_signature_unless_turned_off() -> None:
    headers = signature_headers("v3", "s", "POST", "https://h/x", b"[]", 1700000000000)
    assert headers["X-HubSpot-Request-Timestamp"] == "1700000000000"
    assert headers["X-HubSpot-Signature"] == sign_v1("s", b"[]")
    assert headers["X-HubSpot-Signature-Version"] == "v1"
    bare = signature_headers("v3", "s", "POST", "https://h/x", b"[]", 1, legacy=False)
    assert set(bare) == {"X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"}


@pytest.mark.parametrize("signature", [sign_v1("s", b"x"), sign_v3("s", "POST", "u", b"", "1")])
def test_a_corrupted_signature_keeps_its_shape_and_changes_its_value(signature: str) -> None:
    bad = corrupt(signature)
    assert bad != signature and len(bad) == len(signature)


def test_default_retry_schedule_spreads_ten_retries_over_about_a_day() -> None:
    policy = DeliveryRetryPolicy()
    delays = [policy.delay_ms(n, 0.5) for n in range(1, policy.max_retries + 1)]
    assert policy.max_retries == 10
    assert delays == sorted(delays) and delays[0] == 60_000
    assert 18 * 3600_000 < sum(delays) < 26 * 3600_000
    low, high = policy.delay_ms(3, 0.0), policy.delay_ms(3, 0.999)
    assert low < policy.delay_ms(3, 0.5) < high  # randomised around the exponential step


def _events(settings: WebhookSettings, change: object) -> list[dict]:
    ids = iter(range(1, 1000))
    return events_for(change, settings, EventContext(62515, 1234567, lambda: next(ids)))  # type: ignore[arg-type]


def test_property_subscriptions_match_by_name_and_object_type() -> None:
    settings = WebhookSettings(
        subscriptions=[
            "contact.propertyChange:email",
            "company.propertyChange",
            {"eventType": "object.propertyChange", "objectTypeId": "0-1"},
        ]
    )
    change = Updated(CONTACTS, 7, {"email": "a@b.c", "city": None}, 5, API)
    events = _events(settings, change)
    assert [(e["subscriptionType"], e["propertyName"]) for e in events] == [
        ("contact.propertyChange", "email"),
        ("object.propertyChange", "email"),
        ("object.propertyChange", "city"),
    ]
    assert events[1]["objectTypeId"] == "0-1" and "objectTypeId" not in events[0]
    assert events[2]["propertyValue"] == ""  # a cleared value


def test_creation_also_reports_set_values_unless_turned_off() -> None:
    change = Created(COMPANIES, 9, {"name": "Acme", "domain": ""}, 5, API)
    on = _events(WebhookSettings(), change)
    assert [(e["subscriptionType"], e.get("propertyName")) for e in on] == [
        ("company.creation", None),
        ("company.propertyChange", "name"),
    ]
    off = _events(WebhookSettings(property_changes_on_creation=False), change)
    assert [e["subscriptionType"] for e in off] == ["company.creation"]


def test_inactive_subscriptions_send_nothing() -> None:
    settings = WebhookSettings(subscriptions=[{"eventType": "contact.creation", "active": False}])
    assert _events(settings, Created(CONTACTS, 1, {}, 5, API)) == []


def test_association_events_carry_the_primary_flag_per_side() -> None:
    change = Associated(CONTACTS, 1, COMPANIES, 2, 5, API, primary_from=True)
    events = _events(WebhookSettings(), change)
    assert [(e["associationType"], e["isPrimaryAssociation"]) for e in events] == [
        ("CONTACT_TO_COMPANY", True),
        ("COMPANY_TO_CONTACT", False),
    ]


def test_changed_values_treat_none_and_empty_alike() -> None:
    before = {"a": "1", "b": None, "c": ""}
    assert changed_values(before, {"a": "1", "b": "", "c": None, "d": "x"}) == {"d": "x"}


@pytest.mark.parametrize(
    "settings",
    [
        {"subscriptions": ["contact.creation", "contact.creation"]},
        {"subscriptions": [{"eventType": "object.creation"}]},
        {"subscriptions": [{"eventType": "contact.creation", "objectTypeId": "0-1"}]},
        {
            "subscriptions": [
                {"id": 3, "eventType": "contact.creation"},
                {"id": 3, "eventType": "deal.creation"},
            ]
        },
        {"subscriptions": ["company.privacyDeletion"]},
        {"signature_url": "not a url"},
        {"retry": {"jitter": 2}},
    ],
)
def test_invalid_settings_are_refused(settings: dict) -> None:
    with pytest.raises(ValidationError):
        WebhookSettings.model_validate(settings)


def test_subscriptions_get_stable_ids_after_the_highest_given() -> None:
    settings = WebhookSettings(
        subscriptions=[{"id": 7, "eventType": "deal.creation"}, "deal.deletion"]
    )
    assert [s.id for s in settings.subscriptions] == [7, 8]
    assert not WebhookSettings().active and WebhookSettings(target_url="http://h/x").active
