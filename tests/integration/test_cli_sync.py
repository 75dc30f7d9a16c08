"""The seed's flow from the command line: create, connect, sync with entities and filters, runs."""

from __future__ import annotations

from click.testing import CliRunner

from cli.main import main
from tests.integration.hubspot_support import PRIVATE_APP_TOKEN


def cli(settings, *args: str, input: str | None = None):
    env = {
        "DATA_DIR": str(settings.data_dir),
        "ENCRYPTION_KEY": settings.ENCRYPTION_KEY.get_secret_value(),
    }
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def test_create_connect_and_sync_from_the_cli(settings, sandbox):
    base = sandbox.base_url
    config = f'{{"api_base": "{base}", "auth_base": "{base}"}}'
    created = cli(
        settings,
        "integrations",
        "create",
        "--type",
        "hubspot",
        "--name",
        "cli portal",
        "--org",
        "org",
        "--user",
        "me",
        "--id",
        "cli-portal",
        "--config",
        config,
    )
    assert created.exit_code == 0, created.output
    token = cli(settings, "integrations", "set-token", "cli-portal", input=PRIVATE_APP_TOKEN + "\n")
    assert token.exit_code == 0, token.output
    assert PRIVATE_APP_TOKEN not in token.output

    synced = cli(
        settings,
        "sync",
        "run",
        "cli-portal",
        "--full",
        "--entity",
        "contacts",
        "--filter",
        "contacts:lifecyclestage:EQ:customer",
    )

    assert synced.exit_code == 0, synced.output
    assert "success" in synced.output
    assert "raw_hubspot_cli_portal.contacts" in synced.output
    runs = cli(settings, "sync", "runs", "--integration", "cli-portal")
    assert "success" in runs.output and "cli-portal" in runs.output


def test_sync_of_an_unknown_integration_is_a_clear_error(settings):
    result = CliRunner().invoke(
        main,
        ["sync", "run", "nope"],
        env={
            "DATA_DIR": str(settings.data_dir),
            "ENCRYPTION_KEY": settings.ENCRYPTION_KEY.get_secret_value(),
        },
    )
    assert result.exit_code != 0
    assert "nope" in result.output


def test_a_malformed_filter_is_refused_before_anything_runs(settings):
    result = cli_safe(settings, "sync", "run", "x", "--filter", "contacts-only")
    assert result.exit_code == 2
    assert "ENTITY:PROPERTY:OPERATOR:VALUE" in result.output


def cli_safe(settings, *args: str):
    env = {
        "DATA_DIR": str(settings.data_dir),
        "ENCRYPTION_KEY": settings.ENCRYPTION_KEY.get_secret_value(),
    }
    return CliRunner().invoke(main, list(args), env=env)
