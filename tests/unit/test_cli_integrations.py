"""The integrations / secrets / audit CLI groups, driven through click's CliRunner."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet

from cli.integrations import audit, integrations, secrets
from tests.control_support import FakeTokenEndpoint


@pytest.fixture
def token_endpoint():
    with FakeTokenEndpoint() as endpoint:
        yield endpoint


@pytest.fixture
def env(data_dir, encryption_key, token_endpoint, monkeypatch):
    monkeypatch.chdir(data_dir)  # no stray .env file is read
    values = {
        "DATA_DIR": str(data_dir),
        "ENCRYPTION_KEY": encryption_key,
        "HUBSPOT_CLIENT_ID": "client-id",
        "HUBSPOT_CLIENT_SECRET": "client-secret",
        "HUBSPOT_API_BASE": token_endpoint.base_url,
    }
    monkeypatch.delenv("CONTROL_DATABASE_URL", raising=False)  # the default SQLite under DATA_DIR
    return values


def run(group, args, env, input=None):
    return CliRunner().invoke(group, args, env=env, input=input, catch_exceptions=False)


def create(env):
    result = run(
        integrations,
        [
            "create",
            "--type",
            "hubspot",
            "--name",
            "CRM",
            "--org",
            "o1",
            "--user",
            "u1",
            "--id",
            "hs1",
            "--config",
            '{"portal": 5}',
        ],
        env,
    )
    assert result.exit_code == 0, result.output
    return result


def test_create_list_show_delete(env):
    assert "created hs1" in create(env).output
    table = run(integrations, ["list"], env).output
    assert table.splitlines()[0].split() == ["ID", "TYPE", "NAME", "STATUS", "ORG", "CREATED"]
    assert "hs1" in table and "pending_auth" in table
    listed = json.loads(run(integrations, ["list", "--json"], env).output)
    assert listed[0]["config"] == {"portal": 5}
    shown = run(integrations, ["show", "hs1"], env).output
    assert "credentials  (none)" in shown
    assert run(integrations, ["delete", "hs1", "--yes"], env).exit_code == 0
    missing = run(integrations, ["show", "hs1"], env)
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_set_token_from_stdin_is_never_echoed(env):
    create(env)
    result = run(integrations, ["set-token", "hs1"], env, input="pat-na1-cli-secret\n")
    assert result.exit_code == 0, result.output
    assert "pat-na1-cli-secret" not in result.output
    assert "active" in result.output
    shown = run(integrations, ["show", "hs1"], env).output
    assert "private_app_token" in shown and "pat-na1-cli-secret" not in shown
    log = run(audit, ["list", "--integration", "hs1"], env).output
    assert "credentials.private_app_token_set" in log and "pat-na1-cli-secret" not in log


def test_auth_url_then_callback(env, token_endpoint):
    create(env)
    url = run(
        integrations, ["auth-url", "hs1", "--redirect-uri", "http://localhost/cb"], env
    ).output.strip()
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    token_endpoint.codes["the-code"] = query["code_challenge"]
    redirected = f"http://localhost/cb?code=the-code&state={query['state']}"
    result = run(integrations, ["callback", "--url", redirected], env)
    assert result.exit_code == 0, result.output
    assert "authorized hs1 (active)" in result.output
    again = run(integrations, ["callback", "--url", redirected], env)
    assert again.exit_code == 1 and "already used" in again.output


def test_secrets_rotate_prints_the_count(env):
    create(env)
    run(integrations, ["set-token", "hs1", "--token", "pat-na1-x"], env)
    rotated_env = env | {
        "ENCRYPTION_KEY": f"{Fernet.generate_key().decode()},{env['ENCRYPTION_KEY']}"
    }
    result = run(secrets, ["rotate"], rotated_env)
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 secrets" in result.output


def test_bad_config_json_is_a_usage_error(env):
    result = run(
        integrations,
        [
            "create",
            "--type",
            "hubspot",
            "--name",
            "x",
            "--org",
            "o",
            "--user",
            "u",
            "--config",
            "{nope",
        ],
        env,
    )
    assert result.exit_code == 2 and "--config" in result.output
