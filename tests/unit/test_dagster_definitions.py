"""Guards on the Dagster graph: the code location loads, and its asset keys change only on purpose.

If a snapshot test fails because you changed the graph deliberately, update
tests/unit/snapshots/asset_keys.txt (asset keys) or definition_names.txt (jobs, schedules,
sensors) in the same commit so the change shows up in review.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

import sources.provider
from core.errors import ValidationError
from core.settings import Settings
from dagster_project.definitions import build_definitions
from dagster_project.defs.integrations.definitions import integrations_definitions
from dagster_project.defs.mappings.definitions import mappings_definitions
from dagster_project.resources import PlatformResource
from pipelines.declarations import Declarations, IntegrationDeclaration, load_declarations
from sources.provider import (
    STATIC_TOKEN,
    AuthSpec,
    EntitySpec,
    HostPolicy,
    Provider,
    ProviderConfig,
    ProviderRegistry,
)

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_keys.txt"
NAMES_SNAPSHOT = Path(__file__).parent / "snapshots" / "definition_names.txt"
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


def definition_names(defs: dg.Definitions) -> list[str]:
    repo = defs.get_repository_def()
    return sorted(
        [f"job {j.name}" for j in repo.get_all_jobs() if not j.name.startswith("__")]
        + [f"schedule {s.name}" for s in repo.schedule_defs]
        + [f"sensor {s.name}" for s in repo.sensor_defs]
    )


def test_job_schedule_and_sensor_names_match_the_snapshot():
    names = definition_names(build_definitions(SHIPPED))
    assert names == [line for line in NAMES_SNAPSHOT.read_text().splitlines() if line.strip()]


def _provider(name: str, *, extracts: bool = True) -> Provider:
    """A provider that is data only: enough for the factory, which never calls client/source."""
    return Provider(
        name=name,
        title=name.title(),
        config_schema=ProviderConfig,
        hosts=HostPolicy(),
        auth=AuthSpec(flows=(STATIC_TOKEN,)),
        entities={
            "widgets": EntitySpec("widgets", "updated_at", description="Widgets of a shop"),
            "orders": EntitySpec("orders", "updated_at", primary_key=("shop", "number")),
        },
        client=(lambda context: None) if extracts else None,
        source=(lambda client, request: None) if extracts else None,
    )


def _declared(id_: str, provider: str, entities: list[str]) -> IntegrationDeclaration:
    # model_construct: the declaration schema may not know the test's providers.
    return IntegrationDeclaration.model_construct(
        id=id_, type=provider, entities=entities, schedule="0 * * * *", freshness_hours=24.0
    )


@pytest.fixture
def two_more_providers(monkeypatch):
    registry = ProviderRegistry(
        [*sources.provider.providers.all(), _provider("acme"), _provider("inert", extracts=False)]
    )
    monkeypatch.setattr(sources.provider, "providers", registry)


def test_any_provider_gets_its_own_keys_and_names_per_integration(two_more_providers):
    declarations = Declarations.model_construct(
        integrations=[
            _declared("shop-1", "acme", ["widgets", "orders"]),
            _declared("shop-2", "acme", ["widgets"]),
            _declared("dormant", "inert", ["widgets"]),  # cannot extract: skipped, no error
        ]
    )
    defs = dg.Definitions.merge(
        integrations_definitions(declarations, schedules_running=False),
        dg.Definitions(resources={"platform": PlatformResource()}),
    )
    dg.Definitions.validate_loadable(defs)
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == [
        "acme/shop_1/orders",
        "acme/shop_1/widgets",
        "acme/shop_2/widgets",
    ]
    assert definition_names(defs) == [
        "job acme_shop_1_sync",
        "job acme_shop_2_sync",
        "schedule acme_shop_1_schedule",
        "schedule acme_shop_2_schedule",
        "sensor acme_shop_1_freshness_sensor",
        "sensor acme_shop_2_freshness_sensor",
    ]
    widgets = graph.get(dg.AssetKey(["acme", "shop_1", "widgets"]))
    assert widgets.group_name == "acme_shop_1"
    assert set(widgets.kinds) == {"acme", "dlt", "duckdb"}
    assert "Widgets of a shop" in (widgets.description or "")
    checks = {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys}
    assert ("acme/shop_1/orders", "no_duplicate_ids") in checks
    assert ("acme/shop_2/widgets", "full_sync_not_empty") in checks


def test_a_mapping_depends_on_the_raw_asset_of_the_provider_its_spec_names(
    two_more_providers, tmp_path
):
    root = tmp_path / "mappings"
    root.mkdir()
    (root / "acme_widgets.yaml").write_text(
        "name: acme_widgets\n"
        "source: {provider: acme, table: widgets}\n"
        "target: crm.widgets\n"
        "fields:\n  label: {source: properties.label}\n"
    )
    declarations = Declarations.model_construct(
        integrations=[
            _declared("shop-1", "acme", ["widgets"]),
            _declared("dormant", "inert", ["widgets"]),
            IntegrationDeclaration(id="portal", type="hubspot"),
        ]
    )
    settings = Settings(DATA_DIR=tmp_path / "data", MAPPINGS_DIR=root, _env_file=None)
    defs = dg.Definitions.merge(
        mappings_definitions(declarations, settings),
        dg.Definitions(resources={"platform": PlatformResource()}),
    )
    graph = defs.resolve_asset_graph()
    mapped = [k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable]
    assert mapped == [dg.AssetKey(["mappings", "shop_1", "acme_widgets"])]
    assert graph.get(mapped[0]).parent_keys == {dg.AssetKey(["acme", "shop_1", "widgets"])}
