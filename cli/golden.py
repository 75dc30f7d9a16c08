"""`platform golden show ID`: one golden record's page, read-only from the warehouse.

Prints the golden record's fields, its members (source, integration, source id, updated at, the
rule that linked each and, where the crosswalk has them, the match weight or probability), its
merge history (the merges table) and its relations (the bridge tables of mappings/relations/),
each related record with its golden id and name. `--json` prints the same as one JSON object.

The model is found by the id (every model's golden table is searched) or given with `--model`.
An id that is no golden id exits 1 with a message; one retired by a merge says which id it
became. Nothing here writes: the warehouse is opened read-only (cli/warehouse.py).
"""

from __future__ import annotations

import json
from typing import Any

import click

from cli.warehouse import WarehouseSession, format_table
from core.errors import IntegrationError
from core.settings import get_settings

MATCH_RULES_DIR = "match_rules"
RELATIONS_DIR = "relations"
# Which golden column names a related record, first present wins.
NAME_COLUMNS = ("name", "full_name", "email", "domain")
MEMBER_COLUMNS = (
    "_source",
    "_source_integration",
    "_source_id",
    "_source_updated_at",
    "match_rule",
)
MEMBER_SKIP = ("golden_id", "_loaded_at")


@click.group()
def golden() -> None:
    """Golden records (cross-source dedup): look one up with its members and relations."""


@golden.command("show")
@click.argument("golden_id")
@click.option("--model", default=None, help="The model (contacts, companies, deals ...).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--limit", default=50, show_default=True, help="Related records listed per relation.")
def show(golden_id: str, model: str | None, as_json: bool, limit: int) -> None:
    """A golden record's fields, members, merge history and relations."""
    models, relations = _declarations()
    if model is not None and model not in {m.model for m in models}:
        raise click.BadParameter(
            f"no match rules for {model!r} (models: {', '.join(m.model for m in models)})",
            param_hint="--model",
        )
    candidates = [m for m in models if model in (None, m.model)]
    session = WarehouseSession.open()
    try:
        page = GoldenPage(session, models, relations, limit).build(golden_id, candidates)
    finally:
        session.close()
    if as_json:
        click.echo(json.dumps(page, default=str, indent=2))
    else:
        click.echo("\n".join(render(page)))


def _declarations():
    from mappings.dedup import load_match_rules_dir
    from mappings.dedup.relation_rules import load_relations_dir

    directory = get_settings().mappings_dir
    try:
        models = load_match_rules_dir(directory / MATCH_RULES_DIR)
        relations = load_relations_dir(directory / RELATIONS_DIR, models)
    except IntegrationError as exc:
        raise click.ClickException(str(exc)) from None
    if not models:
        raise click.ClickException(f"no match-rule files in {directory / MATCH_RULES_DIR}")
    return models, relations


class GoldenPage:
    """Reads one golden record's page through a read-only warehouse session."""

    def __init__(self, session: WarehouseSession, models, relations, limit: int) -> None:
        self.session = session
        self.mark = "?" if session.kind == "duckdb" else "%s"
        self.models = {m.model: m for m in models}
        self.relations = relations
        self.limit = limit

    def query(self, sql: str, params: list | None = None) -> tuple[list[str], list[tuple]]:
        cursor = self.session.conn.execute(sql, params or [])
        columns = [d[0] for d in cursor.description]
        return columns, list(cursor.fetchall())

    def exists(self, qualified: str) -> bool:
        schema, table = qualified.split(".", 1)
        _, rows = self.query(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = "
            f"{self.mark} AND table_name = {self.mark}",
            [schema, table],
        )
        return bool(rows[0][0])

    def build(self, golden_id: str, candidates) -> dict[str, Any]:
        for rules in candidates:
            if not self.exists(rules.golden):
                continue
            columns, rows = self.query(
                f"SELECT * FROM {rules.golden} WHERE golden_id = {self.mark}", [golden_id]
            )
            if rows:
                return {
                    "model": rules.model,
                    "golden_id": golden_id,
                    "table": rules.golden,
                    "fields": dict(zip(columns, rows[0], strict=True)),
                    "members": self.members(rules, golden_id),
                    "merges": self.merges(rules, golden_id),
                    "relations": self.related(rules.model, golden_id),
                }
        raise click.ClickException(self.not_found(golden_id, candidates))

    def not_found(self, golden_id: str, candidates) -> str:
        for rules in candidates:
            if not self.exists(rules.merges):
                continue
            _, rows = self.query(
                f"SELECT golden_id, reason, recorded_at FROM {rules.merges} WHERE previous_id = "
                f"{self.mark} ORDER BY recorded_at DESC LIMIT 1",
                [golden_id],
            )
            if rows:
                now, reason, when = rows[0]
                gone = f"{golden_id} is no longer a golden {rules.model} id"
                if reason == "removed" or not now:
                    return f"{gone}: removed at {when} (no source record left)"
                into = "merged into" if reason == "merged" else f"{reason} to"
                return f"{gone}: {into} {now} at {when}; see `platform golden show {now}`"
        searched = ", ".join(r.golden for r in candidates)
        return f"no golden record with id {golden_id} (searched {searched})"

    def members(self, rules, golden_id: str) -> list[dict[str, Any]]:
        columns, rows = self.query(
            f"SELECT * FROM {rules.crosswalk} WHERE golden_id = {self.mark} "
            "ORDER BY _source, _source_integration, _source_id",
            [golden_id],
        )
        order = [c for c in MEMBER_COLUMNS if c in columns]
        order += [c for c in columns if c not in order and c not in MEMBER_SKIP]
        return [{c: dict(zip(columns, row, strict=True))[c] for c in order} for row in rows]

    def merges(self, rules, golden_id: str) -> list[dict[str, Any]]:
        if not self.exists(rules.merges):
            return []
        columns, rows = self.query(
            f"SELECT previous_id, golden_id, reason, recorded_at FROM {rules.merges} "
            f"WHERE golden_id = {self.mark} OR previous_id = {self.mark} "
            "ORDER BY recorded_at, previous_id",
            [golden_id, golden_id],
        )
        return [dict(zip(columns, row, strict=True)) for row in rows]

    def name_sql(self, qualified: str) -> str:
        schema, table = qualified.split(".", 1)
        _, rows = self.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            f"{self.mark} AND table_name = {self.mark}",
            [schema, table],
        )
        present = {str(r[0]) for r in rows}
        for column in NAME_COLUMNS:
            if column in present:
                return f'g."{column}"'
        if {"first_name", "last_name"} <= present:
            return "concat_ws(' ', g.first_name, g.last_name)"
        return "CAST(NULL AS VARCHAR)" if self.session.kind == "duckdb" else "CAST(NULL AS TEXT)"

    def related(self, model: str, golden_id: str) -> list[dict[str, Any]]:
        out = []
        for relation in self.relations:
            ends = []
            if relation.from_.model == model:
                ends.append(("to", relation.from_, relation.to))
            if relation.to.model == model:
                ends.append(("from", relation.to, relation.from_))
            for direction, mine, other in ends:
                entry: dict[str, Any] = {
                    "relation": relation.name,
                    "direction": direction,
                    "model": other.model,
                    "table": relation.bridge,
                }
                out.append(entry)
                if not self.exists(relation.bridge):
                    entry.update(total=0, records=[], missing=True)
                    continue
                entry.update(self._pairs(relation, mine.column, other, golden_id))
        return out

    def _pairs(self, relation, mine: str, other, golden_id: str) -> dict[str, Any]:
        table, theirs = relation.bridge, other.column
        golden = self.models[other.model].golden
        _, total = self.query(
            f'SELECT COUNT(*) FROM {table} WHERE "{mine}" = {self.mark}', [golden_id]
        )
        columns, rows = self.query(
            f'SELECT b."{theirs}" AS golden_id, {self.name_sql(golden)} AS name, b.is_primary, '
            f'b._links AS links FROM {table} b LEFT JOIN {golden} g ON g.golden_id = b."{theirs}" '
            f'WHERE b."{mine}" = {self.mark} ORDER BY b.is_primary DESC, b._links DESC, '
            f'b."{theirs}" LIMIT {int(self.limit)}',
            [golden_id],
        )
        return {
            "total": int(total[0][0]),
            "records": [dict(zip(columns, row, strict=True)) for row in rows],
        }


def render(page: dict[str, Any]) -> list[str]:
    """The page as text: sections of aligned tables."""
    lines = [f"golden {page['model']} {page['golden_id']} ({page['table']})", "", "fields:"]
    fields = {k: v for k, v in page["fields"].items() if k != "golden_id"}
    width = max((len(k) for k in fields), default=0)
    lines += [f"  {k.ljust(width)}  {'NULL' if v is None else v}" for k, v in fields.items()]
    members = page["members"]
    lines += ["", f"members ({len(members)}):"]
    if members:
        columns = list(members[0])
        lines += [
            "  " + line
            for line in format_table(
                [c.lstrip("_").replace("_", " ") for c in columns],
                [tuple(m[c] for c in columns) for m in members],
            )
        ]
    merges = page["merges"]
    lines += ["", f"merge history ({len(merges)}):"]
    if not merges:
        lines.append("  none")
    for event in merges:
        if event["previous_id"] == page["golden_id"]:
            what = f"this id -> {event['golden_id']}"
        else:
            what = f"{event['previous_id']} -> this id"
        lines.append(f"  {event['recorded_at']}  {event['reason']:<8} {what}")
    lines += ["", "relations:"]
    if not page["relations"]:
        lines.append("  none declared")
    for entry in page["relations"]:
        arrow = "->" if entry["direction"] == "to" else "<-"
        head = f"  {entry['relation']} {arrow} {entry['model']}"
        if entry.get("missing"):
            lines.append(f"{head}: {entry['table']} not built yet (materialize the relations)")
            continue
        lines.append(f"{head} ({entry['total']}):")
        if not entry["records"]:
            lines.append("    none")
        for record in entry["records"]:
            mark = " (primary)" if record["is_primary"] else ""
            lines.append(f"    {record['golden_id']}  {record['name'] or ''}{mark}".rstrip())
        hidden = entry["total"] - len(entry["records"])
        if hidden > 0:
            lines.append(f"    ... and {hidden} more (--limit)")
    return lines
