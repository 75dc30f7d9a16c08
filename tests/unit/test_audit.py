"""The audit log: scrubbed details, ordering, and no secret ever reaching a row or a log line."""

from __future__ import annotations

import logging
import string
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import AuthenticationError
from core.settings import Settings
from pipelines.audit import REDACTED, AuditLog, scrub
from pipelines.registry import IntegrationRegistry
from tests.control_support import BACKENDS, FakeTokenEndpoint, open_control_db


@pytest.fixture(params=BACKENDS)
def db(request, tmp_path):
    return open_control_db(request, tmp_path)


def test_scrub_redacts_secret_keys_at_any_depth():
    details = {
        "name": "CRM",
        "Access_Token": "a",
        "nested": {"client_secret": "b", "list": [{"Authorization": "Bearer c"}, {"ok": 1}]},
        "code_verifier": "d",
        "code": "e",
        "api_key": "f",
        "password": "g",
    }
    assert scrub(details) == {
        "name": "CRM",
        "Access_Token": REDACTED,
        "nested": {"client_secret": REDACTED, "list": [{"Authorization": REDACTED}, {"ok": 1}]},
        "code_verifier": REDACTED,
        "code": REDACTED,
        "api_key": REDACTED,
        "password": REDACTED,
    }


def test_record_and_list_newest_first_with_filter_and_limit(db):
    audit = AuditLog(db)
    audit.record(
        "integration.created", actor="alice", integration_id="hs1", details={"refresh_token": "x"}
    )
    audit.record("integration.created", actor="bob", integration_id="hs2")
    audit.record("secrets.rotated", actor="ops", details={"rows": 3})
    assert [e.action for e in audit.list()] == [
        "secrets.rotated",
        "integration.created",
        "integration.created",
    ]
    (entry,) = audit.list("hs1")
    assert (entry.actor, entry.details) == ("alice", {"refresh_token": REDACTED})
    assert len(audit.list(limit=2)) == 2


secret_text = st.text(
    alphabet=string.ascii_letters + string.digits + "-_", min_size=16, max_size=48
)


@pytest.fixture(params=BACKENDS)
def control_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'control.sqlite'}"
    return request.getfixturevalue("postgres_url")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(client_secret=secret_text, private_token=secret_text, bad_code=secret_text)
def test_secrets_never_reach_audit_rows_or_logs(
    client_secret, private_token, bad_code, control_url, data_dir, encryption_key, caplog
):
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    with FakeTokenEndpoint() as endpoint:
        registry = IntegrationRegistry.from_settings(
            Settings(
                DATA_DIR=data_dir,
                ENCRYPTION_KEY=encryption_key,
                CONTROL_DATABASE_URL=control_url,
                HUBSPOT_CLIENT_ID="client-id",
                HUBSPOT_API_BASE=endpoint.base_url,
                _env_file=None,
            )
        )
        endpoint.client_secret = client_secret
        integration = registry.create(
            organization_id="o",
            user_id="u",
            type="hubspot",
            name="CRM",
            config={"client_secret": client_secret},
        )
        url = registry.authorization_url(integration.id, "http://localhost/cb")
        state = parse_qs(urlsplit(url).query)["state"][0]
        with pytest.raises(AuthenticationError) as err:
            registry.complete_callback(state=state, code=bad_code)
        registry.set_private_app_token(integration.id, private_token)
        registry.rotate_keys()
        registry.delete(integration.id)

        with registry.db.engine.connect() as conn:
            rows = repr(conn.execute(sa.select(registry.db.audit_log)).all())
        registry.db.dispose()
    for secret in (client_secret, private_token, bad_code, encryption_key):
        assert secret not in rows
        assert secret not in caplog.text
        assert secret not in str(err.value)
