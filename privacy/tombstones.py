"""Tombstones: what an erasure leaves behind so erased records stay erased.

One row per erased source record in `platform_privacy.erasure_tombstones` (warehouse):
source (provider), integration id, entity (the raw table), source id, the salted hash of the
e-mail address asked for (NULL for an erasure by golden id), the request id and when.

`purge_erased_records` is the post-load hook the `SyncRunner` calls after every load, under
the DuckDB writer lock: the next sync brings an erased record back from the provider (until
provider-side deletes exist), and the hook removes it again from the raw entity table, the
association tables that name it, dlt's staging copy and the load package just written, before
any mapping reads raw. Mappings rebuild their slice of `crm.*` from raw and dedup reads `crm.*`,
so both skip erased records from then on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from destinations.warehouse import Warehouse, dataset_name
from privacy.artefacts import RowFilter, scrub_pipeline
from privacy.connection import PrivacyConnection

log = logging.getLogger(__name__)

SCHEMA = "platform_privacy"
TABLE = f"{SCHEMA}.erasure_tombstones"


@dataclass(frozen=True)
class Tombstone:
    source: str
    integration_id: str
    entity: str
    source_id: str
    email_hash: str | None
    request_id: str
    erased_at: datetime


def ensure_table(conn: PrivacyConnection) -> None:
    conn.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {TABLE} (source TEXT NOT NULL, integration_id TEXT NOT NULL, "
        "entity TEXT NOT NULL, source_id TEXT NOT NULL, email_hash TEXT, request_id TEXT NOT NULL, "
        "erased_at TIMESTAMPTZ NOT NULL)"
    )


def insert(conn: PrivacyConnection, stones: list[Tombstone]) -> None:
    ensure_table(conn)
    for s in stones:
        conn.execute(
            f"INSERT INTO {TABLE} SELECT ?, ?, ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM "
            f"{TABLE} WHERE source = ? AND integration_id = ? AND entity = ? AND source_id = ?)",
            [
                s.source,
                s.integration_id,
                s.entity,
                s.source_id,
                s.email_hash,
                s.request_id,
                s.erased_at,
                s.source,
                s.integration_id,
                s.entity,
                s.source_id,
            ],
        )


def list_tombstones(warehouse: Warehouse) -> list[Tombstone]:
    with PrivacyConnection.open(warehouse) as conn:
        if not conn.table_exists(TABLE):
            return []
        rows = conn.rows(
            "SELECT source, integration_id, entity, source_id, email_hash, request_id, erased_at "
            f"FROM {TABLE} ORDER BY erased_at, source, integration_id, entity, source_id"
        )
    return [Tombstone(*r) for r in rows]


def singular(entity: str) -> str:
    """`contacts` -> `contact`, `companies` -> `company`: association tables name a linked
    record's id `<singular>_id` (contact_companies.contact_id, deal_contacts.contact_id)."""
    if entity.endswith("ies"):
        return entity[:-3] + "y"
    return entity[:-1] if entity.endswith("s") else entity


def linked_tables(provider: Any) -> list[str]:
    """Every extra table riding along with the provider's entities (association tables)."""
    tables: list[str] = []
    for spec in provider.entities.values():
        tables.extend(t for t in spec.tables if t not in tables)
    return tables


def row_filters(provider: Any, entity: str, ids: set[str]) -> list[RowFilter]:
    """Which rows hold an erased record: its entity row (by primary key) and every association
    row naming it."""
    spec = provider.entities.get(entity)
    key = spec.primary_key[0] if spec is not None and len(spec.primary_key) == 1 else "id"
    frozen = frozenset(ids)
    filters = [RowFilter(entity, key, frozen)]
    filters += [RowFilter(t, f"{singular(entity)}_id", frozen) for t in linked_tables(provider)]
    return filters


def delete_raw_rows(
    conn: PrivacyConnection, provider: Any, integration_id: str, entity: str, ids: set[str]
) -> dict[str, int]:
    """Delete an entity's records and their association rows from the raw dataset and dlt's
    staging copy. Returns rows deleted per table."""
    deleted: dict[str, int] = {}
    if not ids:
        return deleted
    dataset = dataset_name(provider.name, integration_id)
    values = sorted(ids)
    placeholders = ", ".join("?" for _ in values)
    for schema in (dataset, f"{dataset}_staging"):
        for f in row_filters(provider, entity, ids):
            qualified = f"{schema}.{f.table}"
            if not conn.table_exists(qualified) or f.column not in conn.columns(qualified):
                continue
            text = "VARCHAR" if conn.dialect == "duckdb" else "TEXT"
            where = f'CAST("{f.column}" AS {text}) IN ({placeholders})'
            count = int(conn.rows(f"SELECT COUNT(*) FROM {qualified} WHERE {where}", values)[0][0])
            if count:
                conn.execute(f"DELETE FROM {qualified} WHERE {where}", values)
                deleted[qualified] = count
    return deleted


def purge_erased_records(
    warehouse: Warehouse, provider: Any, integration_id: str, pipeline: Any = None
) -> dict[str, int]:
    """The runner's post-load hook (the caller holds the DuckDB writer lock): remove the
    integration's tombstoned records again from raw, staging and the new load packages.
    Returns rows deleted per table (empty, and cheap, when nothing was ever erased)."""
    deleted: dict[str, int] = {}
    with PrivacyConnection.open(warehouse) as conn:
        if not conn.table_exists(TABLE):
            return deleted
        rows = conn.rows(
            f"SELECT entity, source_id FROM {TABLE} WHERE source = ? AND integration_id = ?",
            [provider.name, integration_id],
        )
        by_entity: dict[str, set[str]] = {}
        for entity, source_id in rows:
            by_entity.setdefault(entity, set()).add(str(source_id))
        for entity, ids in by_entity.items():
            deleted.update(delete_raw_rows(conn, provider, integration_id, entity, ids))
    if by_entity and pipeline is not None:
        filters = [f for e, ids in by_entity.items() for f in row_filters(provider, e, ids)]
        scrub_pipeline(Path(pipeline.working_dir), filters, only_new=True)
    if deleted:
        log.warning(
            "removed erased records of %s again after the load: %s", integration_id, deleted
        )
    return deleted


def erased_records_present(warehouse: Warehouse, specs: list) -> dict[str, int]:
    """Tombstoned records still present, per table (raw entity tables and each mapping's
    canonical slice): what the `no_erased_records` check requires to be empty."""
    found: dict[str, int] = {}
    with PrivacyConnection.open(warehouse) as conn:
        if not conn.table_exists(TABLE):
            return found
        text = "VARCHAR" if conn.dialect == "duckdb" else "TEXT"
        stones = conn.rows(f"SELECT DISTINCT source, integration_id, entity FROM {TABLE}")
        for source, integration_id, entity in stones:
            raw = f"{dataset_name(source, integration_id)}.{entity}"
            if conn.table_exists(raw) and "id" in conn.columns(raw):
                n = conn.rows(
                    f"SELECT COUNT(*) FROM {raw} WHERE CAST(id AS {text}) IN (SELECT source_id "
                    f"FROM {TABLE} WHERE source = ? AND integration_id = ? AND entity = ?)",
                    [source, integration_id, entity],
                )[0][0]
                if n:
                    found[raw] = found.get(raw, 0) + int(n)
        for spec in specs:
            if not conn.table_exists(spec.target):
                continue
            n = conn.rows(
                f"SELECT COUNT(*) FROM {spec.target} t JOIN {TABLE} s ON s.source = t._source "
                "AND s.integration_id = t._source_integration "
                f"AND s.source_id = CAST(t._source_id AS {text}) AND s.entity = ? "
                "WHERE t._mapping = ?",
                [spec.source.table, spec.name],
            )[0][0]
            if n:
                found[spec.target] = found.get(spec.target, 0) + int(n)
    return found
