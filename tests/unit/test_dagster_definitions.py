"""Guards on the Dagster graph: the code location loads, and its asset keys change only on purpose.

If the snapshot test fails because you changed the graph deliberately, update
tests/unit/snapshots/asset_keys.txt in the same commit so the change shows up in review.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from core.errors import ValidationError
from dagster_project.definitions import build_definitions
from pipelines.declarations import load_declarations

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_keys.txt"
SHIPPED = Path(__file__).resolve().parents[2] / "pipelines" / "declarations.yaml"


def test_code_location_loads_and_validates():
    from dagster_project import definitions

    repo = definitions.defs.get_repository_def()
    assert repo.get_all_jobs()
    dg.Definitions.validate_loadable(definitions.defs)


def test_asset_keys_match_the_snapshot():
    defs = build_definitions(SHIPPED)
    keys = sorted(k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys())
    assert keys == SNAPSHOT.read_text().split()


def test_every_declared_integration_has_a_schedule_checks_and_the_writer_pool():
    defs = build_definitions(SHIPPED)
    schedules = {s.name for s in defs.schedules or []}
    assert "hubspot_demo_hubspot_schedule" in schedules
    graph = defs.resolve_asset_graph()
    check_names = {k.name for k in graph.asset_check_keys}
    assert {"no_duplicate_ids", "full_sync_not_empty"} <= check_names
    assert any("freshness" in n for n in check_names)
    assets = defs.resolve_assets_def(dg.AssetKey(["hubspot", "demo_hubspot", "contacts"]))
    assert assets.op.pool == "duckdb_writer"


def test_an_invalid_declaration_names_the_file_and_field(tmp_path):
    bad = tmp_path / "decl.yaml"
    bad.write_text(
        "integrations:\n  - id: x\n    type: hubspot\n    entities: [contacts, tickets]\n"
    )
    with pytest.raises(ValidationError, match=r"decl.yaml.*entities"):
        load_declarations(bad)


def test_dagster_cli_validates_the_code_location(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "DAGSTER_HOME": str(tmp_path), "DATA_DIR": str(tmp_path / "data")}
    dagster = Path(sys.executable).parent / "dagster"
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-m", "dagster_project.definitions"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "passed validation" in done.stdout + done.stderr
