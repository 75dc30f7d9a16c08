"""Every environment variable the README documents is read by the code, and the service identity
ones do what the README says: SERVICE_NAME and ENVIRONMENT label logs and metrics, PORT is the
receiver's default port."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from click.testing import CliRunner

from cli import webhooks as cli_webhooks
from cli.main import main
from core.logging import LOG_FORMAT, install_log_labels
from core.settings import Settings
from tests.webhook_receiver_support import build_receiver

README = Path(__file__).resolve().parents[2] / "README.md"


def _configuration_table() -> str:
    text = README.read_text()
    start = text.index("## Configuration")
    return text[start : text.index("\n## ", start + 1)]


def test_every_variable_in_the_readme_configuration_table_is_a_setting():
    documented = set()
    for line in _configuration_table().splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            for name in re.findall(r"`([A-Z][A-Z0-9_]+)(?:/([A-Z_]+))?`", first_cell):
                documented.add(name[0])
                if name[1]:  # `SALESFORCE_CLIENT_ID/SECRET`
                    documented.add(name[0].rsplit("_", 1)[0] + "_" + name[1])
    assert {"SERVICE_NAME", "PORT", "ENVIRONMENT", "API_KEYS"} <= documented
    assert documented - set(Settings.model_fields) == set()


def test_log_records_carry_service_name_and_environment(settings, caplog):
    labelled = settings.model_copy(update={"SERVICE_NAME": "crm-sync", "ENVIRONMENT": "staging"})
    install_log_labels(labelled)
    try:
        with caplog.at_level(logging.WARNING):
            logging.getLogger("platform.test").warning("hello")
        (record,) = [r for r in caplog.records if r.name == "platform.test"]
        assert (record.service, record.environment) == ("crm-sync", "staging")
        line = logging.Formatter(LOG_FORMAT).format(record)
        assert "[crm-sync/staging] platform.test: hello" in line
    finally:
        install_log_labels(Settings(_env_file=None, DATA_DIR=settings.DATA_DIR))


def test_metrics_carry_service_name_and_environment(settings):
    rx = build_receiver(settings, SERVICE_NAME="crm-sync", ENVIRONMENT="staging")
    text = rx.client.get("/metrics").get_data(as_text=True)
    assert 'platform_service_info{environment="staging",service="crm-sync"} 1.0' in text


def test_port_is_the_receivers_default_port(monkeypatch, data_dir):
    calls = []

    def fake_exec(path, argv):
        calls.append(argv)
        raise SystemExit(0)

    monkeypatch.setattr(cli_webhooks.os, "execv", fake_exec)
    monkeypatch.setenv("DATA_DIR", str(data_dir))
    monkeypatch.setenv("PORT", "9123")
    result = CliRunner().invoke(main, ["webhooks", "serve"])

    assert result.exit_code == 0, result.output
    (argv,) = calls
    assert argv[argv.index("--bind") + 1] == "127.0.0.1:9123"
