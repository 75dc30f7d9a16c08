"""`make demo` end to end on a small portal: sandbox process, OAuth, full + incremental sync as
Dagster materializations; then day two: `platform sync run demo-hubspot` against a new sandbox
on the same base URL (as `make dev` / `platform sandbox` starts it) succeeds."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import dagster as dg
import pytest
from click.testing import CliRunner

from cli.demo import run_demo
from cli.main import main
from sandbox.common.server import SandboxServer
from sources.provider import get_provider


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_demo_runs_end_to_end_and_prints_what_it_loaded(tmp_path, monkeypatch):
    for name in ("ENCRYPTION_KEY", "HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "data" / "dagster_home"))
    # As `make demo` runs it: local hosts allowed by an export that a later shell will not have.
    monkeypatch.setenv("ALLOW_LOCAL_PROVIDER_HOSTS", "true")
    (tmp_path / "data" / "dagster_home").mkdir(parents=True)
    port = _free_port()
    lines: list[str] = []

    run_demo(size=300, mutate=10, port=port, echo=lines.append)

    text = "\n".join(lines)
    assert "OAuth (authorization code + PKCE S256) completed: status active" in text
    assert "full sync: success" in text
    assert "incremental sync: success" in text
    assert "mutated 10 contacts" in text
    in_warehouse = {
        line.split()[0]: int(line.split()[1].replace(",", ""))
        for line in lines
        if line.strip().endswith("rows in the warehouse")
    }
    assert in_warehouse["raw_hubspot_demo_hubspot.contacts"] == 300
    assert in_warehouse["raw_hubspot_demo_hubspot.deal_contacts"] > 0
    assert (tmp_path / "data" / "warehouse.duckdb").exists()
    assert "relation contact_companies: " in text  # golden contacts know their company

    # The demo's syncs are materializations on the DAGSTER_HOME instance the UI reads.
    instance = dg.DagsterInstance.get()
    for entity in ("contacts", "companies", "deals"):
        key = dg.AssetKey(["hubspot", "demo_hubspot", entity])
        events = instance.fetch_materializations(key, limit=10).records
        assert len(events) == 2, key  # the full and the incremental sync

    # Day two: the sandbox `make dev` starts (same port, seed, size and state directory; none
    # of the demo's process state) and a sync from the CLI with no OAuth app in the settings.
    kit = get_provider("hubspot").load_sandbox()
    config = kit.serve_config({"contacts": 300}, None, tmp_path / "data" / "sandbox")
    with SandboxServer(kit.build_app(config), port=port):
        result = CliRunner().invoke(main, ["sync", "run", "demo-hubspot"])
        assert result.exit_code == 0, result.output
        assert "success" in result.output
        # ... and from a new shell: only DATA_DIR, no key and no host setting exported.
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("ENCRYPTION_KEY", "ALLOW_LOCAL_PROVIDER_HOSTS", "DAGSTER_HOME")
        }
        env["DATA_DIR"] = str(tmp_path / "data")
        shell = subprocess.run(
            [sys.executable, "-m", "cli.main", "sync", "run", "demo-hubspot"],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert shell.returncode == 0, shell.stdout + shell.stderr
    assert "success" in shell.stdout
    assert oct((tmp_path / "data" / "local.env").stat().st_mode & 0o777) == "0o600"
