"""`platform mappings ...`: validate mapping files and preview a mapping against the warehouse.

Thin over the public API (`load_mapping`, `MappingEngine.preview`); prints and exits only.
`validate` prints `file:line: field: message` per broken file (`--all`: one line per problem)
and exits 1 if any is broken; `preview` prints the same line for a bad file, never a traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from core.errors import IntegrationError
from core.settings import get_settings


@click.group()
def mappings() -> None:
    """Declarative mappings from raw source tables to the canonical crm.* models."""


def _files(paths: tuple[str, ...]) -> list[Path]:
    from mappings.spec import mapping_files

    targets = [Path(p) for p in paths] or [get_settings().mappings_dir]
    found: list[Path] = []
    for target in targets:
        found.extend(mapping_files(target) if target.is_dir() else [target])
    return found


@mappings.command("validate")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--all", "show_all", is_flag=True, help="Print every problem of a file, one per line."
)
def validate(paths: tuple[str, ...], show_all: bool) -> None:
    """Check mapping files (default: every *.yaml in MAPPINGS_DIR)."""
    from mappings.errors import MappingFileError
    from mappings.spec import load_mapping

    broken = 0
    files = _files(paths)
    for path in files:
        try:
            spec = load_mapping(path)
        except MappingFileError as exc:
            broken += 1
            for problem in exc.problems if show_all else [exc]:
                click.echo(str(problem))
            continue
        click.echo(
            f"ok {path}: {spec.name} -> {spec.target} "
            f"({len(spec.fields)} fields, {len(spec.rules)} rules)"
        )
    if not files:
        click.echo("no mapping files found", err=True)
        raise SystemExit(1)
    if broken:
        raise SystemExit(1)


def _resolve(mapping: str):
    from mappings.spec import load_mapping, mapping_files

    path = Path(mapping)
    if path.suffix in (".yaml", ".yml") or path.exists():
        return load_mapping(path)
    for candidate in mapping_files(get_settings().mappings_dir):
        spec = load_mapping(candidate)
        if spec.name == mapping:
            return spec
    raise click.BadParameter(f"no mapping named {mapping!r} in {get_settings().mappings_dir}")


def _cell(value: Any, width: int = 28) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


@mappings.command("preview")
@click.argument("mapping")
@click.option("--integration", "integration_id", required=True, help="Integration id.")
@click.option("-n", "--limit", default=20, show_default=True, help="Rows and rejects to show.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def preview(mapping: str, integration_id: str, limit: int, as_json: bool) -> None:
    """Transform MAPPING (a file or a mapping name) for one integration; write nothing."""
    from destinations.warehouse import Warehouse
    from mappings.engine import MappingEngine

    settings = get_settings()
    try:  # a bad file or a template past a limit prints file:line: field: message
        spec = _resolve(mapping)
        result = MappingEngine(Warehouse.from_settings(settings), settings).preview(
            spec, integration_id=integration_id, limit=limit
        )
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from exc
    c = result.counts
    summary = {
        "rows_in": c.rows_in,
        "rows_out": c.rows_out,
        "rows_quarantined": c.rows_quarantined,
        "rows_deduplicated": c.rows_deduplicated,
        "rows_filtered": c.rows_filtered,
        "warnings": c.warnings_by_rule,
    }
    if as_json:
        payload = {
            "mapping": spec.name,
            "counts": summary,
            "rows": result.rows,
            "rejects": result.rejects,
        }
        click.echo(json.dumps(payload, indent=2, default=str))
        return
    click.echo(
        f"{spec.name} -> {spec.target} for {integration_id}: {c.rows_in:,} in, {c.rows_out:,} "
        f"out, {c.rows_quarantined:,} quarantined, {c.rows_deduplicated:,} deduplicated, "
        f"{c.rows_filtered:,} filtered (nothing written)"
    )
    for rule, count in c.warnings_by_rule.items():
        click.echo(f"  warning {rule}: {count:,} rows")
    if result.rows:
        columns = list(result.rows[0])
        click.echo("\n" + " | ".join(columns))
        for row in result.rows:
            click.echo(" | ".join(_cell(row[k]) for k in columns))
    click.echo(f"\nrejects ({c.rows_quarantined:,}):")
    for reject in result.rejects:
        click.echo(f"  {reject['_source_id']}  {reject['rule']}: {reject['reason']}")
