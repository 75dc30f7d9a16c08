"""The HubSpot sandbox over real HTTP: pagination, search windows and caps, OAuth with PKCE,
rate limits, faults, admin mutations and scale — the contract our client relies on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.common.server import SandboxServer
from sandbox.hubspot.app import create_app
from sandbox.hubspot.config import HubSpotSandboxConfig
from tests.shared_vectors import shared_dir

PAT = "pat-na1-00000000-0000-0000-0000-000000000000"
AUTH = {"Authorization": f"Bearer {PAT}"}
SMALL = {
    "contacts": 300,
    "companies": 40,
    "deals": 60,
    "ten_second_limit": 100_000,
    "search_per_second": 1000,
}
VECTORS = shared_dir() / "vectors" / "signatures.json"


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with SandboxServer(create_app(HubSpotSandboxConfig(**SMALL))) as server:
        yield server.base_url


@pytest.fixture
def api(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as client:
        client.post("/_sandbox/reset", json=SMALL).raise_for_status()
        yield client


def lastmod_search(
    client: httpx.Client, gte: int | str, after: int = 0, limit: int = 100
) -> httpx.Response:
    return client.post(
        "/crm/v3/objects/contacts/search",
        json={
            "filterGroups": [
                {
                    "filters": [
                        {"propertyName": "lastmodifieddate", "operator": "GTE", "value": str(gte)}
                    ]
                }
            ],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["lastmodifieddate", "email"],
            "limit": limit,
            "after": str(after),
        },
    )


def walk_list(client: httpx.Client, path: str, **params: str) -> list[dict]:
    out: list[dict] = []
    after = None
    while True:
        query = {"limit": "100", **params}
        if after:
            query["after"] = after
        body = client.get(path, params=query).raise_for_status().json()
        out.extend(body["results"])
        nxt = body.get("paging", {}).get("next")
        if not nxt:
            return out
        after = nxt["after"]


def test_pagination_walks_every_id_exactly_once(api: httpx.Client) -> None:
    records = walk_list(api, "/crm/v3/objects/contacts", properties="email,unknown_prop")
    ids = [r["id"] for r in records]
    assert ids == [str(i) for i in range(1, 301)]
    first = records[0]
    assert set(first["properties"]) == {"email"}  # unknown names silently ignored
    assert first["updatedAt"].endswith("Z") and len(first["updatedAt"]) == 24
    companies = walk_list(api, "/crm/v3/objects/companies")
    assert companies[0]["id"] == "1000000001" and len(companies) == 40


def test_list_limit_over_100_is_a_validation_error(api: httpx.Client) -> None:
    resp = api.get("/crm/v3/objects/contacts", params={"limit": 101})
    assert resp.status_code == 400
    assert resp.json()["category"] == "VALIDATION_ERROR"
    assert resp.headers["content-type"] == "application/json;charset=utf-8"


def test_all_values_are_strings_and_associations_inline(api: httpx.Client) -> None:
    body = api.get(
        "/crm/v3/objects/deals", params={"limit": 5, "associations": "companies,contacts"}
    ).json()
    for record in body["results"]:
        assert isinstance(record["id"], str)
        assert all(v is None or isinstance(v, str) for v in record["properties"].values())
        assert record["properties"]["hs_lastmodifieddate"] == record["updatedAt"]
        assert record["associations"]["companies"]["results"][0]["type"] == "deal_to_company"
        assert 1 <= len({a["id"] for a in record["associations"]["contacts"]["results"]}) <= 2


def test_date_versioned_paths_equal_v3(api: httpx.Client) -> None:
    v3 = api.get("/crm/v3/objects/contacts", params={"limit": 7}).json()
    for version in ("2025-09", "2026-03", "2026-09"):
        assert api.get(f"/crm/objects/{version}/0-1", params={"limit": 7}).json() == v3


def test_search_gte_with_ties_and_window_restart(api: httpx.Client) -> None:
    """Restarting a window at the max lastmodified seen re-reads boundary ties, loses none."""
    seen: dict[str, str] = {}
    cursor: int | str = 0
    for _ in range(20):
        after, max_seen = 0, None
        while True:
            body = lastmod_search(api, cursor, after=after, limit=50).json()
            for r in body["results"]:
                seen[r["id"]] = r["properties"]["lastmodifieddate"]
                max_seen = r["properties"]["lastmodifieddate"]
            if "paging" not in body or after + 50 >= 120:  # pretend a 120-row window cap
                break
            after = int(body["paging"]["next"]["after"])
        if "paging" not in body:
            break
        cursor = max_seen  # ISO accepted as well as epoch ms
    assert len(seen) == 300
    values = list(seen.values())
    assert len(set(values)) == 100  # 3 records share each millisecond


def test_search_total_order_and_10k_cap(base_url: str) -> None:
    with httpx.Client(base_url=base_url, headers=AUTH) as api:
        api.post("/_sandbox/reset", json={**SMALL, "contacts": 12_000}).raise_for_status()
        body = lastmod_search(api, 0, after=9_900, limit=100).json()
        assert body["total"] == 12_000 and body["paging"]["next"]["after"] == "10000"
        stamps = [r["properties"]["lastmodifieddate"] for r in body["results"]]
        assert stamps == sorted(stamps)
        resp = lastmod_search(api, 0, after=10_000)
        assert resp.status_code == 400 and resp.json()["category"] == "VALIDATION_ERROR"
        assert "X-HubSpot-RateLimit-Max" not in resp.headers


def test_search_filter_limits(api: httpx.Client) -> None:
    f = {"propertyName": "firstname", "operator": "HAS_PROPERTY"}
    too_many_groups = {"filterGroups": [{"filters": [f]}] * 6}
    too_many_in_group = {"filterGroups": [{"filters": [f] * 7}]}
    too_many_total = {"filterGroups": [{"filters": [f] * 6}] * 3 + [{"filters": [f]}]}
    two_sorts = {"sorts": [{"propertyName": "email"}, {"propertyName": "firstname"}]}
    for body in (too_many_groups, too_many_in_group, too_many_total, two_sorts, {"limit": 201}):
        resp = api.post("/crm/v3/objects/contacts/search", json=body)
        assert resp.status_code == 400, body
        assert resp.json()["category"] == "VALIDATION_ERROR"
    ok = {"filterGroups": [{"filters": [f] * 6}] * 3}
    assert api.post("/crm/v3/objects/contacts/search", json=ok).status_code == 200


def test_search_operators(api: httpx.Client) -> None:
    contact = api.get("/crm/v3/objects/contacts/5").json()
    email = contact["properties"]["email"]

    def search(*filters: dict, **extra: object) -> dict:
        body = {"filterGroups": [{"filters": list(filters)}], "limit": 200, **extra}
        return api.post("/crm/v3/objects/contacts/search", json=body).raise_for_status().json()

    assert [
        r["id"]
        for r in search({"propertyName": "email", "operator": "EQ", "value": email.upper()})[
            "results"
        ]
    ] == ["5"]
    got = search({"propertyName": "hs_object_id", "operator": "IN", "values": ["3", "4", "999"]})
    assert [r["id"] for r in got["results"]] == ["3", "4"]
    between = search(
        {"propertyName": "hs_object_id", "operator": "BETWEEN", "value": "10", "highValue": "19"},
        {"propertyName": "phone", "operator": "HAS_PROPERTY"},
    )
    assert all(10 <= int(r["id"]) <= 19 for r in between["results"]) and between["total"] >= 1
    desc = search(sorts=[{"propertyName": "hs_object_id", "direction": "DESCENDING"}], limit=3)
    assert [r["id"] for r in desc["results"]] == ["300", "299", "298"]


def test_properties_api_lists_and_creates_custom_properties(api: httpx.Client) -> None:
    props = api.get("/crm/v3/properties/contacts").json()["results"]
    custom = [p for p in props if not p.get("hubspotDefined")]
    assert {p["name"] for p in custom} == {f"custom_prop_{k}" for k in range(1, 6)}
    assert any(p["type"] == "enumeration" and p["options"] for p in custom)
    created = api.post(
        "/crm/v3/properties/contacts",
        json={
            "name": "favourite_colour",
            "label": "Colour",
            "type": "string",
            "fieldType": "text",
            "groupName": "contactinformation",
        },
    )
    assert created.status_code == 201
    api.patch(
        "/crm/v3/objects/contacts/1", json={"properties": {"favourite_colour": "teal"}}
    ).raise_for_status()
    got = api.get("/crm/v3/objects/contacts/1", params={"properties": "favourite_colour"}).json()
    assert got["properties"]["favourite_colour"] == "teal"


def _pkce_vector() -> tuple[str, str]:
    for item in json.loads(VECTORS.read_text()):
        if item.get("scheme") == "PKCE S256":
            return item["code_verifier"], item["expected_code_challenge"]
    return (
        "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
    )


def _authorize(client: httpx.Client, challenge: str) -> str:
    resp = client.get(
        "/oauth/authorize",
        params={
            "client_id": "sandbox-client-id",
            "redirect_uri": "http://localhost:9999/callback",
            "scope": "crm.objects.contacts.read oauth",
            "state": "xyz",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert resp.status_code == 302
    query = parse_qs(urlsplit(resp.headers["location"]).query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def _token(client: httpx.Client, **form: str) -> httpx.Response:
    data = {
        "client_id": "sandbox-client-id",
        "client_secret": "sandbox-client-secret",
        "redirect_uri": "http://localhost:9999/callback",
        **form,
    }
    return client.post("/oauth/v1/token", data=data)


def test_oauth_pkce_expiry_and_refresh(base_url: str) -> None:
    verifier, challenge = _pkce_vector()
    from sandbox.common.tokens import s256

    assert s256(verifier) == challenge
    with httpx.Client(base_url=base_url) as client:
        client.post("/_sandbox/reset", json=SMALL).raise_for_status()
        bad = _token(
            client,
            grant_type="authorization_code",
            code=_authorize(client, challenge),
            code_verifier="wrong" * 10,
        )
        assert bad.status_code == 400 and bad.json()["status"] == "BAD_AUTH_CODE"
        code = _authorize(client, challenge)
        tokens = _token(
            client, grant_type="authorization_code", code=code, code_verifier=verifier
        ).json()
        assert tokens["expires_in"] == 1800 and tokens["token_type"] == "bearer"
        reused = _token(client, grant_type="authorization_code", code=code, code_verifier=verifier)
        assert reused.status_code == 400 and reused.json()["status"] == "BAD_AUTH_CODE"
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        ok = client.get("/crm/v3/objects/contacts", headers=headers)
        assert ok.status_code == 200
        assert (
            "X-HubSpot-RateLimit-Daily" not in ok.headers
            and "X-HubSpot-RateLimit-Max" in ok.headers
        )
        assert (
            client.get("/crm/v3/objects/deals", headers=headers).json()["category"]
            == "MISSING_SCOPES"
        )
        client.post("/_sandbox/clock", json={"advance_ms": 1_805_000}).raise_for_status()
        expired = client.get("/crm/v3/objects/contacts", headers=headers)
        assert expired.status_code == 401
        assert expired.json()["category"] == "EXPIRED_AUTHENTICATION"
        assert "expired 5 second(s) ago" in expired.json()["message"]
        fresh = _token(
            client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        ).json()
        again = client.get(
            "/crm/v3/objects/contacts", headers={"Authorization": f"Bearer {fresh['access_token']}"}
        )
        assert again.status_code == 200
        assert (
            _token(client, grant_type="refresh_token", refresh_token="nope").json()["status"]
            == "BAD_REFRESH_TOKEN"
        )
        none = client.get("/crm/v3/objects/contacts")
        assert none.status_code == 401 and none.json()["category"] == "INVALID_AUTHENTICATION"
        assert none.json()["message"].startswith("Authentication credentials not found.")


def test_rate_limit_headers_and_429(api: httpx.Client) -> None:
    api.post(
        "/_sandbox/ratelimits", json={"ten_second_limit": 5, "reset_counters": True}
    ).raise_for_status()
    remaining = []
    for _ in range(5):
        resp = api.get("/crm/v3/objects/companies", params={"limit": 1})
        assert resp.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert resp.headers["X-HubSpot-RateLimit-Daily"] == "625000"
        remaining.append(int(resp.headers["X-HubSpot-RateLimit-Remaining"]))
    assert remaining == [4, 3, 2, 1, 0]
    limited = api.get("/crm/v3/objects/companies")
    assert limited.status_code == 429
    body = limited.json()
    assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
    api.post(
        "/_sandbox/ratelimits",
        json={"search_per_second": 2, "ten_second_limit": 100_000, "reset_counters": True},
    )
    statuses = [api.post("/crm/v3/objects/contacts/search", json={}).status_code for _ in range(4)]
    assert statuses.count(429) >= 1 and statuses[0] == 200


def test_each_fault_kind_is_observable(api: httpx.Client) -> None:
    api.post("/_sandbox/faults", json={"rate_5xx": 1.0, "next_n": 3, "seed": 1}).raise_for_status()
    codes = {api.get("/crm/v3/objects/contacts").status_code for _ in range(3)}
    assert codes <= {502, 503, 504} and api.get("/crm/v3/objects/contacts").status_code == 200
    api.post("/_sandbox/faults", json={"rate_429": 1.0, "next_n": 1})
    limited = api.get("/crm/v3/objects/contacts")
    assert limited.status_code == 429 and limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    api.post("/_sandbox/faults", json={"rate_malformed": 1.0, "next_n": 1})
    with pytest.raises(json.JSONDecodeError):
        json.loads(api.get("/crm/v3/objects/contacts").content)
    api.post("/_sandbox/faults", json={"rate_reset": 1.0, "next_n": 1})
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.get("/crm/v3/objects/contacts")
    api.post(
        "/_sandbox/faults",
        json={"latency_ms": 50, "rate_5xx": 1.0, "path_regex": "^/crm/v3/objects/deals"},
    )
    assert api.get("/crm/v3/objects/contacts").status_code == 200
    assert api.get("/crm/v3/objects/deals").status_code in (502, 503, 504)
    api.delete("/_sandbox/faults")
    log = api.get("/_sandbox/requests").json()["requests"]
    assert {e.get("fault") for e in log} >= {"5xx", "429", "malformed", "reset"}
    summary = api.get("/_sandbox/requests/summary").json()
    assert any(e["path"] == "/crm/v3/objects/<object_type_key>" for e in summary["by_endpoint"])


def test_mutate_changes_lastmodified_and_truth(api: httpx.Client) -> None:
    api.post(
        "/_sandbox/clock", json={"now_ms": 1_767_225_600_000, "freeze": True}
    ).raise_for_status()
    result = api.post("/_sandbox/mutate", json={"object_type": "contacts", "count": 4}).json()
    assert len(result["ids"]) == 4 and result["lastmodified_ms"] == 1_767_225_600_000
    body = lastmod_search(api, result["lastmodified_ms"]).json()
    assert sorted(r["id"] for r in body["results"]) == sorted(result["ids"])
    truth = [json.loads(line) for line in api.get("/_sandbox/truth/contacts").text.splitlines()]
    assert len(truth) == 300
    changed = {t["id"]: t for t in truth if t["id"] in result["ids"]}
    assert all(t["updatedAt"] == "2026-01-01T00:00:00.000Z" for t in changed.values())
    one = api.get(
        f"/crm/v3/objects/contacts/{result['ids'][0]}", params={"properties": "jobtitle"}
    ).json()
    assert one["properties"]["jobtitle"] == changed[result["ids"][0]]["properties"]["jobtitle"]


def test_archive_shows_only_in_archived_list(api: httpx.Client) -> None:
    assert api.delete("/crm/v3/objects/companies/1000000003").status_code == 204
    live = walk_list(api, "/crm/v3/objects/companies")
    archived = walk_list(api, "/crm/v3/objects/companies", archived="true")
    assert "1000000003" not in {r["id"] for r in live}
    assert [r["id"] for r in archived] == ["1000000003"]
    assert archived[0]["archived"] is True and "archivedAt" in archived[0]
    search = api.post("/crm/v3/objects/companies/search", json={"limit": 200}).json()
    assert search["total"] == 39


def test_create_update_conflict_and_batches(api: httpx.Client) -> None:
    created = api.post(
        "/crm/v3/objects/contacts",
        json={"properties": {"email": "New@Example.com", "firstname": "N"}},
    )
    assert created.status_code == 201
    new_id = created.json()["id"]
    dup = api.post("/crm/v3/objects/contacts", json={"properties": {"email": "new@example.com"}})
    assert (
        dup.status_code == 409
        and dup.json()["message"] == f"Contact already exists. Existing ID: {new_id}"
    )
    by_email = api.get("/crm/v3/objects/contacts/new@example.com", params={"idProperty": "email"})
    assert by_email.json()["id"] == new_id
    assert (
        api.patch("/crm/v3/objects/contacts/1", json={"properties": {"nope": "x"}}).status_code
        == 400
    )
    too_many = api.post(
        "/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": str(i)} for i in range(1, 102)]},
    )
    assert too_many.status_code == 400
    partial = api.post(
        "/crm/v3/objects/contacts/batch/read",
        json={"inputs": [{"id": "1"}, {"id": "999999"}], "properties": ["email"]},
    )
    assert partial.status_code == 207 and partial.json()["numErrors"] == 1
    upsert = api.post(
        "/crm/v3/objects/contacts/batch/upsert",
        json={
            "inputs": [
                {"id": "new@example.com", "idProperty": "email", "properties": {"firstname": "Up"}},
                {
                    "id": "other@example.com",
                    "idProperty": "email",
                    "properties": {"firstname": "Other"},
                },
            ]
        },
    ).json()
    assert sorted(r["new"] for r in upsert["results"]) == [False, True]
    assocs = api.post(
        "/crm/v4/associations/contacts/companies/batch/read", json={"inputs": [{"id": "1"}]}
    ).json()
    assert assocs["results"][0]["to"][0]["associationTypes"][0]["category"] == "HUBSPOT_DEFINED"


def test_million_contacts_last_page_and_search(base_url: str) -> None:
    with httpx.Client(base_url=base_url, headers=AUTH, timeout=30) as api:
        api.post("/_sandbox/reset", json={**SMALL, "contacts": 1_000_000}).raise_for_status()
        last = api.get("/crm/v3/objects/contacts", params={"limit": 100, "after": "999901"}).json()
        assert [r["id"] for r in last["results"]][-1] == "1000000" and "paging" not in last
        tail = api.get(
            "/crm/v3/objects/contacts/1000000", params={"properties": "lastmodifieddate"}
        ).json()
        stamp = tail["properties"]["lastmodifieddate"]
        body = lastmod_search(api, stamp).json()
        assert body["total"] == 1 and body["results"][0]["id"] == "1000000"
        page = lastmod_search(api, 0, after=5000, limit=200).json()
        assert page["total"] == 1_000_000 and page["results"][0]["id"] == "5001"
        api.post("/_sandbox/reset", json=SMALL).raise_for_status()
