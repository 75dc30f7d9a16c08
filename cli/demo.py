"""`platform demo`: the whole path on the embedded default, against a provider's local sandbox.

It goes through the real code paths only: the sandbox kit registers the demo integration and
authorizes it through the provider's real auth flow (the sandbox's OAuth app is stored in the
integration's own config, its secret in the vault, so later `platform sync run` and the schedule
`make dev` turns on need no settings); the full and the incremental sync run as Dagster
materializations on the `DAGSTER_HOME` instance (what the UI shows), with mutations in the
sandbox in between; then the mappings and entity resolution. The sandbox listens on the
provider's fixed port and keeps its issued refresh tokens in `$DATA_DIR/sandbox`, like
`platform sandbox` does, so the integration keeps working against the sandbox `make dev` starts.
It must never use a shortcut a real deployment could not take. Names no provider.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import httpx
from cryptography.fernet import Fernet

from cli.sandbox import DEFAULT_PROVIDER, load_kit
from core.errors import IntegrationError
from core.settings import get_settings

Echo = Callable[[str], None]


def demo_integration_id(provider: str) -> str:
    return f"demo-{provider}"


def _record_local_settings(data_dir: Path, echo: Echo) -> None:
    """Write what the demo's data directory needs into `DATA_DIR/local.env` (0600), unless the
    operator already set it: a generated ENCRYPTION_KEY, and local provider hosts allowed (the
    sandbox is on 127.0.0.1). Settings read that file for this data directory only, so a later
    `platform sync run` or `make dev` in another shell works with no exports."""
    from core.private_files import private_dir
    from core.settings import LOCAL_ENV_FILE, Settings

    private_dir(data_dir)
    env_file = data_dir / LOCAL_ENV_FILE
    current = Settings(DATA_DIR=data_dir)
    lines = env_file.read_text().splitlines() if env_file.exists() else []
    before = len(lines)
    if current.ENCRYPTION_KEY is None:
        legacy = data_dir / "demo-encryption.key"  # where earlier demos kept their key
        key = legacy.read_text().strip() if legacy.exists() else Fernet.generate_key().decode()
        lines.append(f"ENCRYPTION_KEY={key}")
        echo(f"generated a demo ENCRYPTION_KEY in {env_file} (set ENCRYPTION_KEY in production)")
    # Recorded even when this shell allows local hosts (make exports it): the next shell won't.
    if not any(line.startswith("ALLOW_LOCAL_PROVIDER_HOSTS=") for line in lines):
        lines.append("ALLOW_LOCAL_PROVIDER_HOSTS=true")
        echo(f"allowed local provider hosts (the sandbox) for this data directory in {env_file}")
    if len(lines) > before:
        env_file.touch(mode=0o600)
        env_file.chmod(0o600)
        env_file.write_text("\n".join(lines) + "\n")


def _answers(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/_sandbox/health", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def _sandbox(kit, size: int, port: int, state_dir: Path, echo: Echo) -> Iterator[str]:
    """The sandbox on its fixed port: the one already running there (`make dev`), else ours."""
    from sandbox.common.server import start_sandbox_process

    base_url = f"http://127.0.0.1:{port}"
    if _answers(base_url):
        echo(f"using the {kit.provider} sandbox already running on {base_url}")
        yield base_url
        return
    echo(f"starting the {kit.provider} sandbox on {base_url} (about {size:,} records per entity)")
    process = start_sandbox_process(
        kit.demo_config(size, state_dir), port=port, provider=kit.provider
    )
    try:
        yield process.base_url
    finally:
        process.stop()


def run_demo(
    *,
    size: int = 5000,
    mutate: int = 50,
    provider: str = DEFAULT_PROVIDER,
    port: int | None = None,
    echo: Echo = print,
) -> None:
    from dagster_project.materialize import materialize_integration
    from destinations.warehouse import Warehouse, dataset_name
    from pipelines.registry import IntegrationRegistry
    from pipelines.runner import SyncRunner
    from sources.provider import OAUTH_CODE, get_provider

    spec = get_provider(provider)
    kit = load_kit(provider)
    integration_id = demo_integration_id(provider)
    _record_local_settings(get_settings().data_dir, echo)
    settings = get_settings()
    state_dir = settings.data_dir / "sandbox"
    with _sandbox(kit, size, port or kit.default_port, state_dir, echo) as base_url:
        registry = IntegrationRegistry.from_settings(settings)
        if any(i.id == integration_id for i in registry.list()):
            registry.delete(integration_id, actor="demo")
        integration = kit.connect(
            registry,
            base_url,
            integration_id,
            name=f"Demo {spec.title} portal (sandbox)",
            organization_id="demo-org",
            user_id="demo-user",
            actor="demo",
        )
        echo(f"registered integration {integration.id} with the sandbox's app in its config")
        how = "OAuth (authorization code + PKCE S256)" if OAUTH_CODE in spec.auth.flows else "auth"
        echo(f"{how} completed: status {integration.status}")

        # A previous demo's bookmarks would make the first sync incremental: start clean.
        SyncRunner(settings, registry=registry).pipeline(integration.id, spec.name).drop()
        entities = spec.resolve_entities(None)
        dataset = dataset_name(spec.name, integration.id)
        for label, full in (("full sync", True), ("incremental sync", False)):
            if not full:
                changed = [
                    f"{len(kit.mutate(base_url, entity, mutate if i == 0 else max(1, mutate // 5)))}"
                    f" {entity}"
                    for i, entity in enumerate(entities)
                ]
                echo(f"mutated {', '.join(changed)} in the sandbox")
            started = time.monotonic()
            run = materialize_integration(integration.id, full_refresh=full, raise_on_error=False)
            status = "success" if run.success else "failed"
            checks = sum(run.checks.values())
            echo(
                f"{label}: {status} in {time.monotonic() - started:.1f}s (Dagster run "
                f"{run.run_id}, {checks}/{len(run.checks)} checks passed)"
            )
            if not run.success:
                raise IntegrationError(
                    f"the demo's {label} failed; see the Dagster run {run.run_id}"
                )
            for entity, meta in sorted(run.entities.items()):
                rows = int(meta.get("rows_loaded", 0))
                echo(f"  {dataset}.{entity:<20} {rows:>8,} rows loaded")

        warehouse = Warehouse.from_settings(settings)
        echo(f"warehouse: {warehouse.duckdb_path or warehouse.postgres_url}")
        tables = [t for e in entities for t in (e, *spec.entity(e).tables)]
        for table in dict.fromkeys(tables):
            count = warehouse.query(f"SELECT COUNT(*) FROM {dataset}.{table}")[0][0]
            echo(f"  {dataset}.{table:<20} {count:>8,} rows in the warehouse")
        _transform_and_dedup(settings, warehouse, integration.id, echo)
        echo(
            'query it: .venv/bin/python -c "import duckdb; print(duckdb.connect('
            f"'{warehouse.duckdb_path}', read_only=True).sql("
            f"'SELECT * FROM crm.contacts_golden LIMIT 5'))\""
        )
    echo(
        f"day two: `make dev` serves the sandbox on {base_url} again; "
        f"`platform sync run {integration_id}` and its schedule sync against it"
    )


def _transform_and_dedup(settings, warehouse, integration_id: str, echo: Echo) -> None:
    """The shipped canonical mappings, then entity resolution: what the Dagster assets run."""
    from mappings.dedup import DedupEngine, load_match_rules_dir
    from mappings.engine import MappingEngine
    from mappings.spec import load_mappings

    engine = MappingEngine(warehouse, settings)
    for spec in load_mappings(settings.mappings_dir):
        result = engine.run(spec, integration_id=integration_id)
        echo(
            f"mapping {result.mapping}: {result.rows_in:,} in = {result.rows_out:,} to "
            f"{result.target_table} + {result.rows_quarantined:,} quarantined + "
            f"{result.rows_filtered:,} filtered + {result.rows_deduplicated:,} deduplicated "
            f"({result.seconds:.1f}s)"
        )
        for name, nulled in result.nulled_by_field.items():
            if nulled:  # values conversion nulled: never silent
                warned = result.quarantine_warnings_by_field.get(name, 0)
                echo(
                    f"  {name}: {nulled:,} of {result.inputs_by_field[name]:,} values invalid "
                    f"({result.nulled_ratio(name):.1%}) -> NULL"
                    + (
                        f", {warned:,} recorded as warnings in {result.quarantine_table}"
                        if warned
                        else ""
                    )
                )
    dedup = DedupEngine(warehouse)
    for rules in load_match_rules_dir(settings.mappings_dir / "match_rules"):
        result = dedup.run(rules)
        echo(
            f"dedup {result.model}: {result.records:,} records -> {result.golden_rows:,} golden "
            f"in {result.golden_table} ({result.multi_record_clusters:,} merged clusters), "
            f"{result.crosswalk_rows:,} crosswalk rows"
        )
    _relate(settings, warehouse, echo)


def _relate(settings, warehouse, echo: Echo) -> None:
    """Golden records' relations (contact -> company, deal -> company and contacts)."""
    from mappings.dedup import load_match_rules_dir
    from mappings.dedup.relation_rules import load_relations_dir
    from mappings.dedup.relations import RelationsEngine

    models = load_match_rules_dir(settings.mappings_dir / "match_rules")
    relations = load_relations_dir(settings.mappings_dir / "relations", models)
    for r in RelationsEngine(warehouse).run(relations, models).relations:
        primary = (
            f", {r.primary_set:,} with {r.from_golden_table}.{r.primary_column}"
            if r.primary_column
            else ""
        )
        echo(
            f"relation {r.name}: {r.link_rows:,} links -> {r.rows:,} golden pairs in {r.table} "
            f"({r.unresolved:,} unresolved){primary}"
        )


@click.command()
@click.option("--provider", default=DEFAULT_PROVIDER, show_default=True)
@click.option("--size", default=5000, show_default=True, help="Records of the main entity.")
@click.option(
    "--mutate", default=50, show_default=True, help="Records changed before the incremental sync."
)
@click.option("--port", type=int, default=None, help="[default: the sandbox's fixed port]")
def demo(provider: str, size: int, mutate: int, port: int | None) -> None:
    """Sandbox, connect through the provider's auth flow, full sync, mutate, incremental sync,
    mappings and entity resolution; the syncs show in the Dagster UI."""
    try:
        run_demo(size=size, mutate=mutate, provider=provider, port=port, echo=click.echo)
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from exc
