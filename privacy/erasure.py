"""Erasure requests: remove one person from the warehouse and the run artefacts, keep a
tombstone, audit it.

`Erasure(settings).erase(email=...)` (or `golden_id=...`, `dry_run=True`):

1. **Find** the person's source records: rows of every canonical table whose `kind: email`
   columns (mapping `pii:` sections) hold the address, its quarantine rows whose raw record
   holds it, and raw rows whose mapped e-mail column holds it (records not mapped yet); then,
   through each model's crosswalk, every member of the golden records those belong to, from
   every source and integration. By golden id: that golden record's members (following a
   recorded merge of the id).
2. **Remove** (one warehouse transaction): the raw entity rows, the association rows naming
   them and dlt's staging copies; their canonical rows and quarantine rows; the golden rows,
   their crosswalk rows and merge-log rows. Nothing is anonymised in place in the warehouse:
   every row that holds the person is deleted.
3. **Tombstone** each record (source, integration, entity, source id, salted e-mail hash,
   request id, time), so the runner's post-load hook removes it again after every sync.
4. **Artefacts**: the rows are removed from dlt's load packages under DATA_DIR, the webhook
   inbox's events and dead letters about those records are deleted (the inbox's newest event
   is blanked instead), the analyst tables are rebuilt, and the DuckDB file is rewritten so
   deleted rows do not linger in its free blocks (Postgres: `VACUUM FULL` of the touched tables).
5. **Audit**: `privacy.erased` in the audit log with the request id, the e-mail's salted hash
   (never the address), counts per table and per source.

`dry_run=True` does step 1 and counts what step 2 and 4 would remove; it changes nothing.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from typing import Any

from core.clock import clock
from core.errors import NotFoundError, ValidationError
from core.settings import Settings
from destinations.warehouse import Warehouse, dataset_name
from mappings.dedup import MatchRules, load_match_rules_dir
from mappings.spec import MappingSpec, column_of, load_mappings
from privacy.artefacts import pipeline_dir, scrub_pipeline
from privacy.connection import PrivacyConnection
from privacy.policy import email_fields, email_hash, normalize_email
from privacy.tombstones import TABLE as TOMBSTONES
from privacy.tombstones import (
    Tombstone,
    delete_raw_rows,
    insert,
    row_filters,
)
from privacy.views import ANALYST_ROLE, AnalystViews

MATCH_RULES_DIR = "match_rules"


class ErasureNotFound(NotFoundError):
    """Nothing in the warehouse belongs to the person asked for: nothing was changed."""


@dataclass(frozen=True, order=True)
class SourceRecord:
    """One source record of the person: where it came from and how it was found."""

    source: str
    integration_id: str
    entity: str
    source_id: str
    target: str | None = None  # canonical table, when a mapping writes one
    golden_id: str | None = None
    found_by: str = ""  # email | quarantine | raw | crosswalk | golden_id

    @property
    def member(self) -> tuple[str, str, str]:
        return (self.source, self.integration_id, self.source_id)


@dataclass
class ErasureReport:
    request_id: str
    dry_run: bool
    email_hash: str | None
    golden_ids: dict[str, list[str]]  # golden table -> ids
    records: list[SourceRecord]
    unresolved: list[str] = field(default_factory=list)  # members whose raw table is unknown
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows removed (or to remove)
    artefact_files: list[str] = field(default_factory=list)
    artefact_rows: int = 0
    inbox_events: int = 0
    cleared: dict[str, int] = field(default_factory=dict)  # table.column -> ids set NULL
    analyst_tables: dict[str, int] = field(default_factory=dict)
    compacted: bool = False

    def by_source(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for r in self.records:
            key = f"{r.source}/{r.integration_id}/{r.entity}"
            counts[key] = counts.get(key, 0) + 1
        return counts


class Erasure:
    """Finds and erases one person; see the module docstring for what it touches."""

    def __init__(
        self,
        settings: Settings,
        *,
        warehouse: Warehouse | None = None,
        specs: list[MappingSpec] | None = None,
        rules: list[MatchRules] | None = None,
        integrations: dict[str, list[str]] | None = None,
        inbox: Any = None,
        audit: Any = None,
        providers: Any = None,
        analyst_role: str = ANALYST_ROLE,
    ) -> None:
        self.settings = settings
        self.warehouse = warehouse or Warehouse.from_settings(settings)
        self.specs = specs if specs is not None else load_mappings(settings.mappings_dir)
        # only the tables of the match rules are needed: an untrained probabilistic model
        # must not block an erasure
        self.rules = (
            rules
            if rules is not None
            else load_match_rules_dir(settings.mappings_dir / MATCH_RULES_DIR, require_models=False)
        )
        self._integrations = integrations
        self._inbox = inbox
        self._audit = audit
        self.analyst_role = analyst_role
        if providers is None:
            from sources.provider import providers as registered

            providers = registered
        self.providers = providers

    @property
    def salt(self) -> str:
        return self.settings.SECRET_KEY.get_secret_value()

    # --- finding ------------------------------------------------------------------------

    def integrations(self) -> dict[str, list[str]]:
        """provider -> registered integration ids (where raw-only records are looked for)."""
        if self._integrations is None:
            from pipelines.registry import IntegrationRegistry

            registry = IntegrationRegistry.from_settings(self.settings)
            found: dict[str, list[str]] = {}
            for integration in registry.list():
                found.setdefault(integration.type, []).append(integration.id)
            self._integrations = found
        return self._integrations

    def find(
        self, conn: PrivacyConnection, *, email: str | None, golden_id: str | None
    ) -> tuple[list[SourceRecord], dict[str, list[str]], list[str]]:
        if (email is None) == (golden_id is None):
            raise ValidationError("give exactly one of --email or --golden-id")
        seeds: dict[tuple[str, str, str], SourceRecord] = {}
        if email is not None:
            address = normalize_email(email)
            if "@" not in address:
                raise ValidationError(f"{email!r} is not an e-mail address")
            for record in self._by_email(conn, address):
                seeds.setdefault((*record.member, record.entity), record)
        golden: dict[str, set[str]] = {}
        if golden_id is not None:
            golden = self._golden_by_id(conn, golden_id)
            if not golden:
                return [], {}, []
        members, unresolved = self._expand(conn, seeds, golden)
        records = sorted({(*r.member, r.entity): r for r in members}.values())
        return records, {t: sorted(ids) for t, ids in golden.items()}, unresolved

    def _by_email(self, conn: PrivacyConnection, address: str) -> list[SourceRecord]:
        out: list[SourceRecord] = []
        text = "VARCHAR" if conn.dialect == "duckdb" else "TEXT"
        for spec in self.specs:
            fields = email_fields(spec)
            if not fields:
                continue
            entity = spec.source.table
            if conn.table_exists(spec.target):
                columns = conn.columns(spec.target)
                for f in (f for f in fields if f in columns):
                    for src, integ, sid in conn.rows(
                        f"SELECT _source, _source_integration, CAST(_source_id AS {text}) "
                        f'FROM {spec.target} WHERE _mapping = ? AND lower(trim("{f}")) = ?',
                        [spec.name, address],
                    ):
                        out.append(
                            SourceRecord(src, integ, entity, sid, spec.target, found_by="email")
                        )
            if conn.table_exists(spec.quarantine_table):
                for src, integ, sid, record in conn.rows(
                    f"SELECT _source, _source_integration, CAST(_source_id AS {text}), "
                    f"CAST(record AS {text}) FROM {spec.quarantine_table} "
                    "WHERE _mapping = ? AND strpos(lower(CAST(record AS "
                    f"{text})), ?) > 0",
                    [spec.name, address],
                ):
                    if _record_holds(record, address):
                        out.append(
                            SourceRecord(
                                src, integ, entity, sid, spec.target, found_by="quarantine"
                            )
                        )
            sources = [spec.fields[f].source for f in fields if spec.fields[f].source]
            id_column = column_of(spec.source.id)
            for integration_id in self.integrations().get(spec.source.provider, []):
                raw = f"{dataset_name(spec.source.provider, integration_id)}.{entity}"
                if not conn.table_exists(raw):
                    continue
                columns = conn.columns(raw)
                for path in sources:
                    column = column_of(path)
                    if column not in columns:
                        continue
                    for (sid,) in conn.rows(
                        f'SELECT CAST("{id_column}" AS {text}) FROM {raw} '
                        f'WHERE lower(trim("{column}")) = ?',
                        [address],
                    ):
                        out.append(
                            SourceRecord(
                                spec.source.provider,
                                integration_id,
                                entity,
                                sid,
                                spec.target,
                                found_by="raw",
                            )
                        )
        return out

    def _golden_by_id(self, conn: PrivacyConnection, golden_id: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for model in self.rules:
            ids = {golden_id}
            if conn.table_exists(model.merges):
                ids |= {
                    r[0]
                    for r in conn.rows(
                        f"SELECT golden_id FROM {model.merges} WHERE previous_id = ? "
                        "AND reason = 'merged'",
                        [golden_id],
                    )
                }
            if not conn.table_exists(model.crosswalk):
                continue
            marks = ", ".join("?" for _ in ids)
            hits = conn.rows(
                f"SELECT DISTINCT golden_id FROM {model.crosswalk} WHERE golden_id IN ({marks})",
                sorted(ids),
            )
            if hits:
                found.setdefault(model.golden, set()).update(r[0] for r in hits)
        return found

    def _expand(
        self,
        conn: PrivacyConnection,
        seeds: dict[tuple[str, str, str, str], SourceRecord],
        golden: dict[str, set[str]],
    ) -> tuple[list[SourceRecord], list[str]]:
        """Every member of the golden records the seeds belong to (or of the golden ids)."""
        records = list(seeds.values())
        unresolved: list[str] = []
        text = "VARCHAR" if conn.dialect == "duckdb" else "TEXT"
        for model in self.rules:
            if not conn.table_exists(model.crosswalk):
                continue
            ids = set(golden.get(model.golden, set()))
            for r in seeds.values():
                if r.target != model.source:
                    continue
                ids |= {
                    row[0]
                    for row in conn.rows(
                        f"SELECT golden_id FROM {model.crosswalk} WHERE _source = ? AND "
                        f"_source_integration = ? AND CAST(_source_id AS {text}) = ?",
                        list(r.member),
                    )
                }
            if not ids:
                continue
            golden.setdefault(model.golden, set()).update(ids)
            marks = ", ".join("?" for _ in ids)
            members = conn.rows(
                f"SELECT golden_id, _source, _source_integration, CAST(_source_id AS {text}) "
                f"FROM {model.crosswalk} WHERE golden_id IN ({marks})",
                sorted(ids),
            )
            mapped = self._mapping_of(conn, model.source, members)
            for gid, src, integ, sid in members:
                entity = mapped.get((src, integ, sid))
                if entity is None:
                    unresolved.append(f"{model.crosswalk}: {src}/{integ}/{sid}")
                    continue
                seed = next((r for r in seeds.values() if r.member == (src, integ, sid)), None)
                records.append(
                    SourceRecord(
                        src,
                        integ,
                        entity,
                        sid,
                        model.source,
                        gid,
                        seed.found_by if seed else "crosswalk",
                    )
                )
        # a seed and its crosswalk twin: keep the one that carries the golden id
        best: dict[tuple[str, str, str, str], SourceRecord] = {}
        for r in records:
            key = (*r.member, r.entity)
            if key not in best or (best[key].golden_id is None and r.golden_id is not None):
                best[key] = r
        return list(best.values()), unresolved

    def _mapping_of(
        self, conn: PrivacyConnection, target: str, members: list[tuple]
    ) -> dict[tuple[str, str, str], str]:
        """The raw entity of each crosswalk member: from its canonical row's `_mapping`, else
        the only mapping of that source writing the target."""
        by_name = {s.name: s for s in self.specs}
        out: dict[tuple[str, str, str], str] = {}
        text = "VARCHAR" if conn.dialect == "duckdb" else "TEXT"
        if conn.table_exists(target):
            for _, src, integ, sid in members:
                for (mapping,) in conn.rows(
                    f"SELECT _mapping FROM {target} WHERE _source = ? AND _source_integration = ? "
                    f"AND CAST(_source_id AS {text}) = ?",
                    [src, integ, sid],
                ):
                    if mapping in by_name:
                        out[(src, integ, sid)] = by_name[mapping].source.table
        for _, src, integ, sid in members:
            if (src, integ, sid) in out:
                continue
            candidates = {
                s.source.table
                for s in self.specs
                if s.target == target and s.source.provider == src
            }
            if len(candidates) == 1:
                out[(src, integ, sid)] = candidates.pop()
        return out

    # --- erasing ------------------------------------------------------------------------

    def erase(
        self,
        *,
        email: str | None = None,
        golden_id: str | None = None,
        dry_run: bool = False,
        actor: str = "system",
        compact: bool = True,
    ) -> ErasureReport:
        """Erase (or with `dry_run`, list) the person; raises ErasureNotFound when nothing
        belongs to them (nothing is changed then)."""
        request_id = uuid.uuid4().hex
        hashed = email_hash(email, self.salt) if email is not None else None
        with self.warehouse.writer_lock():
            with PrivacyConnection.open(self.warehouse) as conn:
                records, golden, unresolved = self.find(conn, email=email, golden_id=golden_id)
                if not records:
                    raise ErasureNotFound(_nothing_found(conn, email, golden_id, hashed))
                report = ErasureReport(request_id, dry_run, hashed, golden, records, unresolved)
                if dry_run:
                    self._remove(conn, report, dry_run=True)
                else:
                    with conn.transaction():
                        self._remove(conn, report, dry_run=False)
                        insert(
                            conn,
                            [
                                Tombstone(
                                    r.source,
                                    r.integration_id,
                                    r.entity,
                                    r.source_id,
                                    hashed,
                                    request_id,
                                    clock.now(),
                                )
                                for r in records
                            ],
                        )
                    views = AnalystViews(
                        self.warehouse, self.salt, role=self.analyst_role
                    ).refresh_on(conn, self.specs, self.rules)
                    report.analyst_tables = views.tables
                    if compact and conn.dialect == "postgres":
                        for table in report.rows:
                            conn.execute(f"VACUUM FULL {table}")
                        report.compacted = True
            if not dry_run and compact and self.warehouse.kind == "duckdb":
                _compact_duckdb(self.warehouse)
                report.compacted = True
            # under the writer lock too: a sync writing packages meanwhile waits for it
            self._artefacts(report, dry_run)
        if not dry_run:
            self._audit_log().record(
                "privacy.erased",
                actor=actor,
                details={
                    "request_id": request_id,
                    "email_hash": hashed,
                    "golden_ids": golden,
                    "records": len(records),
                    "by_source": report.by_source(),
                    "tables": report.rows,
                    "artefact_files": len(report.artefact_files),
                    "artefact_rows": report.artefact_rows,
                    "inbox_events": report.inbox_events,
                },
            )
        return report

    def _remove(self, conn: PrivacyConnection, report: ErasureReport, *, dry_run: bool) -> None:
        rows = report.rows
        text = "VARCHAR" if conn.dialect == "duckdb" else "TEXT"
        grouped: dict[tuple[str, str, str], set[str]] = {}
        for r in report.records:
            grouped.setdefault((r.source, r.integration_id, r.entity), set()).add(r.source_id)
        for (source, integration_id, entity), ids in grouped.items():
            provider = self.providers.get(source)
            if dry_run:
                counted = _count_raw(conn, provider, integration_id, entity, ids)
            else:
                counted = delete_raw_rows(conn, provider, integration_id, entity, ids)
            for table, n in counted.items():
                rows[table] = rows.get(table, 0) + n
        member = f"_source = ? AND _source_integration = ? AND CAST(_source_id AS {text}) = ?"
        targets = {s.target for s in self.specs} | {s.quarantine_table for s in self.specs}
        for table in sorted(targets):
            if not conn.table_exists(table):
                continue
            for r in report.records:
                if r.target is None or table not in (r.target, f"{r.target}_quarantine"):
                    continue
                _delete(conn, table, member, list(r.member), rows, dry_run)
        for model in self.rules:
            ids = report.golden_ids.get(model.golden, [])
            if not ids:
                continue
            marks = ", ".join("?" for _ in ids)
            for table, where, params in (
                (model.golden, f"golden_id IN ({marks})", ids),
                (model.crosswalk, f"golden_id IN ({marks})", ids),
                (model.merges, f"golden_id IN ({marks}) OR previous_id IN ({marks})", ids + ids),
            ):
                if conn.table_exists(table):
                    _delete(conn, table, where, params, rows, dry_run)
        self._relations(conn, report, dry_run)

    def _relations(self, conn: PrivacyConnection, report: ErasureReport, dry_run: bool) -> None:
        """Golden ids of the person held by other tables (golden relations): a bridge row
        (`crm.golden_deal_contacts`) is deleted; a primary column of another model's golden
        table (`company_golden_id`-style) is set to NULL, the row stays."""
        ids = sorted({i for found in report.golden_ids.values() for i in found})
        if not ids:
            return
        marks = ", ".join("?" for _ in ids)
        goldens = {m.golden for m in self.rules}
        handled = goldens | {m.crosswalk for m in self.rules} | {m.merges for m in self.rules}
        for schema in sorted({g.split(".", 1)[0] for g in goldens}):
            for _, name in sorted(conn.tables(schema)):
                table = f"{schema}.{name}"
                columns = [c for c in conn.columns(table) if c.endswith("_golden_id")]
                if not columns or (table in handled and table not in goldens):
                    continue
                if table not in goldens:
                    where = " OR ".join(f'"{c}" IN ({marks})' for c in columns)
                    _delete(conn, table, where, ids * len(columns), report.rows, dry_run)
                    continue
                for column in columns:
                    count = int(
                        conn.rows(
                            f'SELECT COUNT(*) FROM {table} WHERE "{column}" IN ({marks})', ids
                        )[0][0]
                    )
                    if count and not dry_run:
                        conn.execute(
                            f'UPDATE {table} SET "{column}" = NULL WHERE "{column}" IN ({marks})',
                            ids,
                        )
                    if count:
                        report.cleared[f"{table}.{column}"] = count

    def _artefacts(self, report: ErasureReport, dry_run: bool) -> None:
        grouped: dict[tuple[str, str], dict[str, set[str]]] = {}
        for r in report.records:
            grouped.setdefault((r.source, r.integration_id), {}).setdefault(r.entity, set()).add(
                r.source_id
            )
        for (source, integration_id), entities in grouped.items():
            provider = self.providers.get(source)
            filters = [f for e, ids in entities.items() for f in row_filters(provider, e, ids)]
            root = pipeline_dir(self.settings.dlt_pipelines_dir, source, integration_id)
            scrubbed = scrub_pipeline(root, filters, dry_run=dry_run)
            report.artefact_files += scrubbed.files_rewritten
            report.artefact_rows += scrubbed.rows_removed
            if dry_run:
                continue
            inbox = self._inbox_store()
            for entity, ids in entities.items():
                report.inbox_events += inbox.erase_objects(source, integration_id, entity, ids)

    def _inbox_store(self) -> Any:
        if self._inbox is None:
            from inbox import Inbox

            self._inbox = Inbox.from_settings(self.settings)
        return self._inbox

    def _audit_log(self) -> Any:
        if self._audit is None:
            from pipelines.audit import AuditLog
            from pipelines.control_db import ControlDatabase

            db = ControlDatabase.from_settings(self.settings)
            db.create_all()
            self._audit = AuditLog(db)
        return self._audit


def _delete(
    conn: PrivacyConnection,
    table: str,
    where: str,
    params: list,
    rows: dict[str, int],
    dry_run: bool,
) -> None:
    count = int(conn.rows(f"SELECT COUNT(*) FROM {table} WHERE {where}", params)[0][0])
    if not count:
        return
    if not dry_run:
        conn.execute(f"DELETE FROM {table} WHERE {where}", params)
    rows[table] = rows.get(table, 0) + count


def _count_raw(
    conn: PrivacyConnection, provider: Any, integration_id: str, entity: str, ids: set[str]
) -> dict[str, int]:
    counts: dict[str, int] = {}
    dataset = dataset_name(provider.name, integration_id)
    text = "VARCHAR" if conn.dialect == "duckdb" else "TEXT"
    values = sorted(ids)
    marks = ", ".join("?" for _ in values)
    for schema in (dataset, f"{dataset}_staging"):
        for f in row_filters(provider, entity, ids):
            table = f"{schema}.{f.table}"
            if conn.table_exists(table) and f.column in conn.columns(table):
                n = int(
                    conn.rows(
                        f'SELECT COUNT(*) FROM {table} WHERE CAST("{f.column}" AS {text}) '
                        f"IN ({marks})",
                        values,
                    )[0][0]
                )
                if n:
                    counts[table] = n
    return counts


def _record_holds(record: str | None, address: str) -> bool:
    """Whether a quarantined raw record (JSON text) holds the address as a whole value."""
    try:
        data = json.loads(record or "")
    except ValueError:
        return False
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and normalize_email(value) == address:
            return True
    return False


def _nothing_found(
    conn: PrivacyConnection, email: str | None, golden_id: str | None, hashed: str | None
) -> str:
    asked = f"e-mail {email!r}" if email is not None else f"golden id {golden_id!r}"
    if hashed is not None and conn.table_exists(TOMBSTONES):
        erased = conn.rows(
            f"SELECT COUNT(*), MAX(erased_at) FROM {TOMBSTONES} WHERE email_hash = ?", [hashed]
        )[0]
        if erased[0]:
            return (
                f"no record of {asked} is left: {erased[0]} record(s) were erased at "
                f"{erased[1]}; nothing was changed"
            )
    return f"no record of {asked} in the warehouse; nothing was changed"


def _compact_duckdb(warehouse: Warehouse) -> None:
    """Rewrite the DuckDB file (caller holds the writer lock): deleted rows otherwise stay in
    its free blocks until reused."""
    import duckdb

    assert warehouse.duckdb_path is not None
    path = warehouse.duckdb_path
    fresh = path.with_name(path.name + ".compact")
    for leftover in (fresh, fresh.with_name(fresh.name + ".wal")):
        leftover.unlink(missing_ok=True)
    conn = duckdb.connect(str(path))
    try:
        conn.execute("CHECKPOINT")
        name = conn.execute("SELECT current_database()").fetchone()[0]
        conn.execute(f"ATTACH '{str(fresh).replace(chr(39), chr(39) * 2)}' AS privacy_compact")
        conn.execute(f'COPY FROM DATABASE "{name}" TO privacy_compact')
        conn.execute("DETACH privacy_compact")
    finally:
        conn.close()
    os.chmod(fresh, os.stat(path).st_mode & 0o777)
    os.replace(fresh, path)
    path.with_name(path.name + ".wal").unlink(missing_ok=True)
