"""`make demo` end to end on a small portal: sandbox process, OAuth, full + incremental sync."""

from __future__ import annotations

import pytest

from pipelines.demo import run_demo


@pytest.mark.slow
def test_demo_runs_end_to_end_and_prints_what_it_loaded(tmp_path, monkeypatch):
    for name in ("ENCRYPTION_KEY", "HUBSPOT_CLIENT_ID", "HUBSPOT_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    lines: list[str] = []

    run_demo(contacts=300, mutate=10, echo=lines.append)

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
