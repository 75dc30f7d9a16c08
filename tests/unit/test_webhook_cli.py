"""`platform webhooks serve` hands over to gunicorn with the receiver's config and app."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from cli import webhooks as cli
from cli.main import main


def test_the_webhooks_group_is_mounted_on_the_platform_cli():
    result = CliRunner().invoke(main, ["webhooks", "--help"])
    assert result.exit_code == 0
    assert "serve" in result.output


def test_serve_creates_the_inbox_and_execs_gunicorn(monkeypatch, data_dir):
    calls = []

    def fake_exec(path, argv):
        calls.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(cli.os, "execv", fake_exec)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    result = CliRunner().invoke(
        main, ["webhooks", "serve", "--workers", "3", "--bind", "127.0.0.1:9911", "--access-log"]
    )

    assert result.exit_code == 0, result.output
    (argv,) = calls
    assert argv[1:3] == ["-m", "gunicorn"]
    assert argv[argv.index("--config") + 1] == "python:webhook_receiver.gunicorn_config"
    assert argv[argv.index("--workers") + 1] == "3"
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:9911"
    assert argv[argv.index("--access-logfile") + 1] == "-"
    assert argv[-1] == "webhook_receiver.wsgi:app"
    assert (data_dir / "inbox.sqlite").exists()


@pytest.mark.parametrize("workers", ["0", "many"])
def test_serve_refuses_a_bad_worker_count(workers):
    result = CliRunner().invoke(main, ["webhooks", "serve", "--workers", workers])
    assert result.exit_code != 0
    assert "--workers" in result.output


def test_serve_defaults_to_threaded_workers(monkeypatch, data_dir):
    """Issue 9 item 8: sync workers are held whole by a slow client; gthread by default."""
    calls = []

    def fake_exec(path, argv):
        calls.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(cli.os, "execv", fake_exec)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    assert CliRunner().invoke(main, ["webhooks", "serve"]).exit_code == 0
    (argv,) = calls
    assert argv[argv.index("--worker-class") + 1] == "gthread"
    assert argv[argv.index("--threads") + 1] == "64"
