"""Sandbox fidelity as a test: real HubSpot clients, unchanged but for their base URL, against
the sandbox (list, search, batch, associations, properties, schemas, OAuth).

* HubSpot's official Python client (`hubspot-api-client`, a dev dependency in .venv) runs in
  process; its base URL is its own `host` setting (the OAuth consent URL it builds names
  app.hubspot.com, whose origin is swapped for the sandbox's).
* Meltano's singer-sdk tap (PyPI `meltano-tap-hubspot`) runs as a subprocess from its own venv,
  `.venv-peers` (`make peers`, which `make test` runs; its pins clash with ours). It has no
  base-URL setting, so `peer_tap_hubspot.py` swaps the `https://api.hubapi.com` origin at
  `requests.Session.send`; the tap's code, paths, queries and bodies are its own.

Without the peers venv the tap's tests skip with the command that makes it (locally) or fail
(REQUIRE_SERVICES=1, as in CI).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.associations.v4 import (
    BatchInputPublicFetchAssociationsBatchRequest,
    PublicFetchAssociationsBatchRequest,
)
from hubspot.crm.contacts import (
    BatchInputSimplePublicObjectBatchInput,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInput,
    SimplePublicObjectId,
)
from hubspot.crm.properties import ApiException as PropertiesApiException
from hubspot.utils.oauth import get_auth_url

from sandbox.common.server import SandboxServer
from sandbox.hubspot.app import create_app
from sandbox.hubspot.config import HubSpotSandboxConfig
from tests.conftest import service_unavailable
from tests.integration.hubspot_support import PRIVATE_APP_TOKEN, Sandbox

REPO = Path(__file__).resolve().parents[2]
PEERS_PYTHON = Path(os.environ.get("PEERS_VENV", REPO / ".venv-peers")) / "bin" / "python"
TAP_RUNNER = Path(__file__).with_name("peer_tap_hubspot.py")
PORTAL: dict[str, Any] = {
    "contacts": 300,
    "companies": 40,
    "deals": 60,
    "ten_second_limit": 1_000_000,
    "daily_limit": 100_000_000,
    "search_per_second": 1000,
}
CLIENT_ID, CLIENT_SECRET = "sandbox-client-id", "sandbox-client-secret"
REDIRECT_URI = "http://127.0.0.1:9/callback"
SCOPES = ("crm.objects.contacts.read", "crm.objects.companies.read", "crm.objects.deals.read")
TAP_STREAMS = {"contacts", "companies", "deals", "contact_company_associations", "properties"}


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with SandboxServer(create_app(HubSpotSandboxConfig(**PORTAL))) as server:
        yield server.base_url


@pytest.fixture
def sandbox(base_url: str) -> Iterator[Sandbox]:
    box = Sandbox(base_url)
    box.admin("POST", "reset", json=PORTAL)
    try:
        yield box
    finally:
        box.http.close()


@pytest.fixture
def client(sandbox: Sandbox) -> HubSpot:
    return HubSpot(access_token=PRIVATE_APP_TOKEN, host=sandbox.base_url)


def truth(sandbox: Sandbox, object_type: str) -> dict[str, dict]:
    response = sandbox.http.get(f"/_sandbox/truth/{object_type}")
    response.raise_for_status()
    rows = (json.loads(line) for line in response.text.splitlines() if line)
    return {row["id"]: row for row in rows}


def oauth_code(sandbox: Sandbox, scopes: tuple[str, ...]) -> str:
    """The consent step: the URL the client builds, at the sandbox's origin."""
    url = urlsplit(get_auth_url(CLIENT_ID, REDIRECT_URI, scope=scopes, state="s1"))
    response = sandbox.http.get(f"{url.path}?{url.query}")
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["s1"]
    return query["code"][0]


# --- hubspot-api-client ---------------------------------------------------------------------
def test_official_client_lists_every_record(client: HubSpot, sandbox: Sandbox) -> None:
    contacts = client.crm.contacts.get_all(properties=["email", "lastmodifieddate"])
    expected = truth(sandbox, "contacts")
    assert sorted(c.id for c in contacts) == sorted(expected)
    for contact in contacts[:25]:
        assert contact.properties["email"] == expected[contact.id]["properties"]["email"]
    assert len(client.crm.companies.get_all()) == PORTAL["companies"]
    assert len(client.crm.deals.get_all()) == PORTAL["deals"]


def test_official_client_search_finds_every_change(client: HubSpot, sandbox: Sandbox) -> None:
    changed = sandbox.mutate("contacts", 50)
    request = PublicObjectSearchRequest(
        filter_groups=[
            FilterGroup(
                filters=[
                    Filter(
                        property_name="lastmodifieddate",
                        operator="GTE",
                        value=str(changed["lastmodified_ms"]),
                    )
                ]
            )
        ],
        sorts=[{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        properties=["email", "lastmodifieddate"],
        limit=20,
    )
    found: list[str] = []
    while True:
        page = client.crm.contacts.search_api.do_search(public_object_search_request=request)
        assert page.total == 50
        found += [r.id for r in page.results]
        if page.paging is None:
            break
        request.after = page.paging.next.after
    assert sorted(found) == sorted(changed["ids"])


def test_official_client_generic_search_ands_top_level_filters(
    client: HubSpot, sandbox: Sandbox
) -> None:
    """HubSpot's search docs also accept `filters` at the top level, ANDed; the client's
    generic `api_request` sends it as written (its typed request model has no such field)."""
    changed = sandbox.mutate("contacts", 50)
    since = {"propertyName": "lastmodifieddate", "operator": "GTE"}
    body = {
        "filters": [{**since, "value": str(changed["lastmodified_ms"])}],
        "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
        "limit": 100,
    }
    response = client.api_request(
        {
            "method": "POST",
            "base_url": sandbox.base_url,
            "path": "/crm/v3/objects/contacts/search",
            "body": body,
        }
    )
    assert response.status_code == 200, response.text
    page = response.json()
    assert page["total"] == 50
    assert sorted(r["id"] for r in page["results"]) == sorted(changed["ids"])


def test_official_client_generic_call_reads_legacy_v2_properties(client: HubSpot) -> None:
    response = client.api_request(
        {"base_url": client.config["host"], "path": "/properties/v2/contacts/properties"}
    )
    assert response.status_code == 200, response.text
    names = {p["name"]: p for p in response.json()}
    assert {"email", "lastmodifieddate", "custom_prop_1"} <= set(names)
    assert names["email"]["hubspotDefined"] is True
    assert names["custom_prop_1"]["hubspotDefined"] is None


def test_official_client_batch_read_and_update(client: HubSpot, sandbox: Sandbox) -> None:
    ids = sorted(truth(sandbox, "contacts"), key=int)[:5]
    read = client.crm.contacts.batch_api.read(
        batch_read_input_simple_public_object_id=BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids], properties=["jobtitle"]
        )
    )
    assert sorted(r.id for r in read.results) == ids
    client.crm.contacts.batch_api.update(
        batch_input_simple_public_object_batch_input=BatchInputSimplePublicObjectBatchInput(
            inputs=[
                SimplePublicObjectBatchInput(id=i, properties={"jobtitle": "Peer"}) for i in ids
            ]
        )
    )
    after = truth(sandbox, "contacts")
    assert all(after[i]["properties"]["jobtitle"] == "Peer" for i in ids)


def test_official_client_reads_associations(client: HubSpot, sandbox: Sandbox) -> None:
    ids = sorted(truth(sandbox, "contacts"), key=int)[:20]
    batch = client.crm.associations.v4.batch_api.get_page(
        from_object_type="contacts",
        to_object_type="companies",
        batch_input_public_fetch_associations_batch_request=(
            BatchInputPublicFetchAssociationsBatchRequest(
                inputs=[PublicFetchAssociationsBatchRequest(id=i) for i in ids]
            )
        ),
    )
    by_contact = {r._from.id: {str(t.to_object_id) for t in r.to} for r in batch.results}
    assert by_contact, "the sandbox portal associates contacts with companies"
    one = next(iter(by_contact))
    page = client.crm.associations.v4.basic_api.get_page("contacts", one, "companies")
    assert {str(r.to_object_id) for r in page.results} == by_contact[one]


def test_official_client_reads_properties_and_schemas(client: HubSpot) -> None:
    props = client.crm.properties.core_api.get_all(object_type="contacts").results
    assert {"email", "lastmodifieddate", "custom_prop_1"} <= {p.name for p in props}
    calls = client.crm.properties.core_api.get_all(object_type="calls").results
    assert "hs_call_title" in {p.name for p in calls}
    one = client.crm.properties.core_api.get_by_name(object_type="deals", property_name="amount")
    assert one.type == "number"
    assert client.crm.schemas.core_api.get_all().results == []


def test_official_client_oauth_code_refresh_and_introspection(sandbox: Sandbox) -> None:
    tokens_api = HubSpot(host=sandbox.base_url).oauth.tokens_api
    tokens = tokens_api.create(
        grant_type="authorization_code",
        code=oauth_code(sandbox, SCOPES),
        redirect_uri=REDIRECT_URI,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert tokens.token_type == "bearer" and tokens.expires_in == 1800
    oauth_client = HubSpot(access_token=tokens.access_token, host=sandbox.base_url)
    page = oauth_client.crm.contacts.basic_api.get_page(limit=10)
    assert len(page.results) == 10
    info = oauth_client.oauth.access_tokens_api.get(token=tokens.access_token)
    assert set(SCOPES) <= set(info.scopes)
    refreshed = tokens_api.create(
        grant_type="refresh_token",
        refresh_token=tokens.refresh_token,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
    )
    assert refreshed.access_token != tokens.access_token
    missing_scope = HubSpot(access_token=refreshed.access_token, host=sandbox.base_url)
    with pytest.raises(PropertiesApiException) as refused:
        missing_scope.crm.properties.core_api.get_all(object_type="tickets")
    assert refused.value.status == 403


# --- meltano-tap-hubspot --------------------------------------------------------------------
def run_tap(base_url: str, tmp: Path, config: dict, *args: str) -> list[dict]:
    """The tap as a program; its Singer messages from stdout."""
    if not PEERS_PYTHON.exists():
        service_unavailable(f"no peers venv at {PEERS_PYTHON.parent.parent}: run `make peers`")
    config_path = tmp / "tap-config.json"
    config_path.write_text(json.dumps(config))
    command = [str(PEERS_PYTHON), str(TAP_RUNNER), base_url, "--config", str(config_path)]
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, timeout=300, cwd=tmp, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-5000:])
    assert done.returncode == 0, f"tap-hubspot exited {done.returncode}"
    if "--discover" in args:
        return [json.loads(done.stdout)]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def tap_config(**extra: Any) -> dict:
    return {"start_date": "2020-01-01T00:00:00Z", "associations": {"contact": ["company"]}, **extra}


def select(catalog: dict, keep: set[str]) -> dict:
    for stream in catalog["streams"]:
        for entry in stream["metadata"]:
            if entry["breadcrumb"] == []:
                entry["metadata"]["selected"] = stream["tap_stream_id"] in keep
    return catalog


def discover(base_url: str, tmp: Path, config: dict) -> Path:
    (catalog,) = run_tap(base_url, tmp, config, "--discover")
    streams = {s["tap_stream_id"] for s in catalog["streams"]}
    assert TAP_STREAMS | {"tickets", "calls", "emails"} <= streams
    path = tmp / "catalog.json"
    path.write_text(json.dumps(select(catalog, TAP_STREAMS)))
    return path


def records(messages: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def last_state(messages: list[dict]) -> dict:
    return [m["value"] for m in messages if m["type"] == "STATE"][-1]


def test_tap_full_then_incremental_delivers_every_change(sandbox: Sandbox, tmp_path: Path) -> None:
    config = tap_config(access_token=PRIVATE_APP_TOKEN)
    catalog = discover(sandbox.base_url, tmp_path, config)
    full = run_tap(sandbox.base_url, tmp_path, config, "--catalog", str(catalog))
    for object_type in ("contacts", "companies", "deals"):
        assert sorted(r["id"] for r in records(full, object_type)) == sorted(
            truth(sandbox, object_type)
        ), object_type
    pairs = {(r["from_id"], r["to_id"]) for r in records(full, "contact_company_associations")}
    expected_pairs = {
        (cid, str(company))
        for cid, companies in sandbox_associations(sandbox, truth(sandbox, "contacts")).items()
        for company in companies
    }
    assert pairs == expected_pairs and pairs
    assert {r["name"] for r in records(full, "properties")} >= {"hs_note_body", "hs_object_id"}

    state_path = tmp_path / "state.json"
    state_path.write_text(json.dumps(last_state(full)))
    changed = {
        "contacts": sandbox.mutate("contacts", 50)["ids"],
        "companies": sandbox.mutate("companies", 5)["ids"],
        "deals": sandbox.mutate("deals", 5)["ids"],
    }
    incremental = run_tap(
        sandbox.base_url, tmp_path, config, "--catalog", str(catalog), "--state", str(state_path)
    )
    for object_type, ids in changed.items():
        now = truth(sandbox, object_type)
        delivered = {r["id"]: r for r in records(incremental, object_type)}
        missing = sorted(set(ids) - set(delivered), key=int)
        assert not missing, f"{object_type}: {len(missing)} of {len(ids)} changes not delivered"
        for rid in ids:
            assert delivered[rid]["properties"] == {
                k: v for k, v in now[rid]["properties"].items() if k in delivered[rid]["properties"]
            }
        # the incremental read only what changed (plus the bookmark's boundary rows)
        assert len(delivered) < len(now) / 2


def sandbox_associations(sandbox: Sandbox, contacts: dict[str, dict]) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    ids = sorted(contacts, key=int)
    for start in range(0, len(ids), 1000):
        response = sandbox.http.post(
            "/crm/v4/associations/contacts/companies/batch/read",
            json={"inputs": [{"id": i} for i in ids[start : start + 1000]]},
            headers={"Authorization": f"Bearer {PRIVATE_APP_TOKEN}"},
        )
        response.raise_for_status()
        for result in response.json()["results"]:
            out[result["from"]["id"]] = {t["toObjectId"] for t in result["to"]}
    return out


def test_tap_over_oauth_refresh_token(sandbox: Sandbox, tmp_path: Path) -> None:
    tokens = httpx.post(
        f"{sandbox.base_url}/oauth/v1/token",
        data={
            "grant_type": "authorization_code",
            "code": oauth_code(sandbox, SCOPES),
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        },
    ).json()
    config = tap_config(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, refresh_token=tokens["refresh_token"]
    )
    # Discovery asks for the properties of every type; those outside the granted scopes are
    # 403 (HubSpot's answer, which the tap tolerates), the granted ones 200.
    catalog = discover(sandbox.base_url, tmp_path, config)
    catalog.write_text(json.dumps(select(json.loads(catalog.read_text()), {"contacts"})))
    messages = run_tap(sandbox.base_url, tmp_path, config, "--catalog", str(catalog))
    assert sorted(r["id"] for r in records(messages, "contacts")) == sorted(
        truth(sandbox, "contacts")
    )
    token_requests = [r for r in sandbox.requests() if r.get("path") == "/oauth/v1/token"]
    assert token_requests, "the tap refreshed its token at the sandbox"
