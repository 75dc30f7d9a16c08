"""`platform dedup ...`: entity resolution from the command line: run it, and retrain the
models of probabilistic match rules.

Thin over the public API (`load_match_rules`, `DedupEngine.run` / `.train`); prints and exits
only. A bad match-rule file or a dedup problem prints one line (`file:line: field: message`,
or the error and its hint) and exits 1, never a traceback.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from core.errors import IntegrationError
from core.settings import get_settings

MATCH_RULES_DIR = "match_rules"


@click.group()
def dedup() -> None:
    """Entity resolution: golden records and crosswalks from crm.* (match rules)."""


def _rules_file(model: str, rules_dir: str | None) -> Path:
    folder = Path(rules_dir) if rules_dir else get_settings().mappings_dir / MATCH_RULES_DIR
    path = folder / f"{model}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []
        raise click.ClickException(
            f"no match rules for {model!r} in {folder} (known: {', '.join(known) or 'none'})"
        )
    return path


def _artefacts_dir() -> Path:
    """DATA_DIR/dedup: charts go to <this>/<model>/ (where the Dagster asset puts them)."""
    return get_settings().data_dir / "dedup"


@contextmanager
def _one_line_errors() -> Iterator[None]:
    """A bad match-rule file prints its `file:line: field: message`; a dedup or integration
    problem prints the error and its hint; either exits 1, never a traceback."""
    from mappings.dedup import DedupError, MatchRuleFileError

    try:
        yield
    except MatchRuleFileError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from None
    except (DedupError, IntegrationError) as exc:
        hint = getattr(exc, "hint", None)
        click.echo(f"error: {exc}" + (f" (hint: {hint})" if hint else ""), err=True)
        raise SystemExit(1) from None


@dedup.command("train")
@click.argument("model")
@click.option("--rule", "rule_name", default=None, help="Only this probabilistic rule.")
@click.option("--rules-dir", default=None, help="[default: MAPPINGS_DIR/match_rules]")
@click.option(
    "--charts-dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Where the match-weight and m/u charts go [default: DATA_DIR/dedup/MODEL]",
)
def train(model: str, rule_name: str | None, rules_dir: str | None, charts_dir: str | None) -> None:
    """Retrain MODEL's probabilistic rules on the warehouse's current crm.MODEL and write
    their model files (Splink settings JSON, the path each rule names) and charts."""
    from destinations.warehouse import Warehouse
    from mappings.dedup import DedupEngine, load_match_rules

    with _one_line_errors():
        rules = load_match_rules(_rules_file(model, rules_dir), require_models=False)
        engine = DedupEngine(Warehouse.from_settings(get_settings()))
        trained = engine.train(
            rules, rule_name, Path(charts_dir) if charts_dir else _artefacts_dir() / rules.model
        )
    for t in trained:
        click.echo(
            f"trained {rules.model}.{t.rule} on {t.records:,} records: wrote {t.path} "
            f"(prior match probability {t.probability_two_random_records_match:.3g})"
        )
        for name, path in sorted(t.charts.items()):
            click.echo(f"  {name}: {path}")


@dedup.command("run")
@click.argument("model")
@click.option("--rules-dir", default=None, help="[default: MAPPINGS_DIR/match_rules]")
def run(model: str, rules_dir: str | None) -> None:
    """Resolve crm.MODEL into its golden table and crosswalk (what the Dagster asset does)."""
    from destinations.warehouse import Warehouse
    from mappings.dedup import DedupEngine, load_match_rules

    with _one_line_errors():
        rules = load_match_rules(_rules_file(model, rules_dir))
        result = DedupEngine(
            Warehouse.from_settings(get_settings()), artefacts_dir=_artefacts_dir()
        ).run(rules)
    click.echo(
        f"{result.model}: {result.records:,} records -> {result.clusters:,} golden "
        f"({result.multi_record_clusters:,} with several records) in {result.seconds:.1f} s"
    )
    for r in result.rules:
        click.echo(f"  {r.rule} ({r.type}): {r.edges:,} edges")
    for name, path in sorted(result.artefacts.items()):
        click.echo(f"  {name}: {path}")
