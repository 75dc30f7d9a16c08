"""The HubSpot dlt source: contacts, companies and deals with every property, their associations,
and archived records, full or incremental, yielding Arrow tables.

Incremental state lives in dlt's resource state, so it is committed with the load it describes.
Boundary safety (DESIGN decision 5) is built in: we search with GTE from `cursor - lookback`,
drop records whose (id, lastmod) we already loaded, and never move the cursor past the moment
the sync started. Build a fresh source object for every run (decision 6).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import dlt
import pyarrow as pa

from core.clock import Clock, clock
from sources.common.prefetch import prefetch
from sources.hubspot.arrow import (
    association_table,
    inline_association_rows,
    records_to_table,
    v4_association_rows,
)
from sources.hubspot.client import ASSOCIATION_BATCH_SIZE, HubSpotClient, iso_ms, lastmod_ms
from sources.hubspot.entities import AssociationSpec, HubSpotEntity, resolve_entities

ProgressCallback = Callable[[str, int], None]

DEFAULT_LOOKBACK_MS = 60_000
DEFAULT_BATCH_ROWS = 5_000


@dataclass
class EntityReport:
    """What one entity's extraction did, for run metadata and the sync-run log."""

    mode: str = "incremental"
    rows: int = 0
    archived_rows: int = 0
    association_rows: dict[str, int] = field(default_factory=dict)
    cursor_ms: int | None = None


@dataclass
class CursorState:
    """The bookmark of one extraction stream, stored in dlt resource state."""

    cursor_ms: int | None = None
    boundary: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, raw: dict[str, Any] | None) -> CursorState:
        raw = raw or {}
        return cls(raw.get("cursor_ms"), dict(raw.get("boundary") or {}))

    def dump(self) -> dict[str, Any]:
        return {"cursor_ms": self.cursor_ms, "boundary": dict(sorted(self.boundary.items()))}

    def is_seen(self, record_id: str, ms: int) -> bool:
        return self.boundary.get(record_id) == ms

    def advance(self, seen: dict[str, int], started_ms: int, lookback_ms: int) -> CursorState:
        """New bookmark: greatest lastmod seen but never past the sync start, plus the ids
        whose versions sit inside the lookback window (so re-reading them is a no-op)."""
        newest = max(seen.values(), default=None)
        cursor = self.cursor_ms
        if newest is not None:
            cursor = (
                min(newest, started_ms) if cursor is None else max(cursor, min(newest, started_ms))
            )
        if cursor is None:
            return CursorState(None, {})
        floor = cursor - lookback_ms
        boundary = {i: ms for i, ms in self.boundary.items() if ms >= floor}
        boundary.update({i: ms for i, ms in seen.items() if ms >= floor})
        return CursorState(cursor, boundary)


def archived_ms(record: dict[str, Any]) -> int:
    """When a record was archived (falls back to updatedAt), in epoch ms."""
    return iso_ms(record.get("archivedAt") or record.get("updatedAt"))


def filters_key(filters: Sequence[dict[str, Any]] | None) -> str:
    """Filtered syncs keep their own bookmark, so they never move the unfiltered one."""
    if not filters:
        return "all"
    digest = hashlib.sha256(json.dumps(list(filters), sort_keys=True).encode()).hexdigest()
    return f"filtered_{digest[:12]}"


class _ArrowBatcher:
    """Collects records and association rows; flushes Arrow tables of `batch_rows` rows."""

    def __init__(
        self,
        entity: HubSpotEntity,
        property_names: list[str],
        batch_rows: int,
        started_ms: int,
    ) -> None:
        self.entity = entity
        self.property_names = property_names
        self.batch_rows = batch_rows
        self.started_ms = started_ms
        self.records: list[dict[str, Any]] = []
        self.assoc_rows: dict[str, list[dict[str, str]]] = {
            a.table: [] for a in entity.associations
        }
        self.assoc_counts: dict[str, int] = {}

    def add(self, records: list[dict[str, Any]]) -> Iterator[Any]:
        self.records.extend(records)
        if len(self.records) >= self.batch_rows:
            yield from self.flush()

    def add_associations(self, spec: AssociationSpec, rows: list[dict[str, str]]) -> None:
        self.assoc_rows[spec.table].extend(rows)
        self.assoc_counts[spec.table] = self.assoc_counts.get(spec.table, 0) + len(rows)

    def flush(self) -> Iterator[Any]:
        if self.records:
            table = records_to_table(
                self.records, self.property_names, extracted_at_ms=self.started_ms
            )
            # Two versions of one record in one load (changed while we paged): newest wins.
            yield dlt.mark.with_hints(
                table,
                dlt.mark.make_hints(
                    table_name=self.entity.name,
                    columns=[{"name": "updated_at", "dedup_sort": "desc"}],
                ),
                create_table_variant=True,
            )
            self.records = []
        for spec in self.entity.associations:
            rows = self.assoc_rows[spec.table]
            if rows:
                yield dlt.mark.with_hints(
                    association_table(rows, spec),
                    dlt.mark.make_hints(
                        table_name=spec.table,
                        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
                        primary_key=[spec.from_column, spec.to_column],
                        merge_key=spec.from_column,
                        columns=[
                            {"name": spec.from_column, "data_type": "text", "nullable": False},
                            {"name": spec.to_column, "data_type": "text", "nullable": False},
                            {"name": "association_type", "data_type": "text"},
                        ],
                    ),
                    create_table_variant=True,
                )
                self.assoc_rows[spec.table] = []


def _entity_rows(
    client: HubSpotClient,
    entity: HubSpotEntity,
    *,
    full_refresh: bool,
    filters: Sequence[dict[str, Any]] | None,
    lookback_ms: int,
    batch_rows: int,
    now: Clock,
    report: EntityReport,
    progress: ProgressCallback | None,
) -> Iterator[pa.Table]:
    started_ms = now.now_ms()
    state = dlt.current.resource_state()
    streams = state.setdefault("streams", {})
    key = filters_key(filters)
    live = CursorState.load(streams.get(key))
    archived = CursorState.load(streams.get(f"{key}_archived"))
    full = full_refresh or live.cursor_ms is None
    report.mode = "full" if full else "incremental"

    names = client.property_names(entity.object_type)
    batcher = _ArrowBatcher(entity, names, batch_rows, started_ms)
    seen: dict[str, int] = {}

    def note(records: list[dict[str, Any]], skip: CursorState | None) -> list[dict[str, Any]]:
        fresh = []
        for record in records:
            ms = lastmod_ms(record, entity.lastmod_property)
            if skip is not None and skip.is_seen(record["id"], ms):
                continue
            seen[record["id"]] = ms
            fresh.append(record)
        return fresh

    # 1. live records
    if full and not filters:
        for page in prefetch(client.iter_list_pages(entity, names)):
            for spec in entity.associations:
                batcher.add_associations(spec, inline_association_rows(page, spec))
            report.rows += len(page)
            note(page, None)
            yield from batcher.add(page)
            if progress:
                progress(entity.name, report.rows)
    else:
        since = 0 if full else max(0, (live.cursor_ms or 0) - lookback_ms)
        pending: list[str] = []  # ids whose associations are still to be read

        def read_associations(ids: list[str]) -> None:
            for spec in entity.associations:
                by_id = client.read_associations(entity.object_type, spec.to_object_type, ids)
                batcher.add_associations(spec, v4_association_rows(by_id, spec))

        for page in client.iter_modified_since(entity, since, names, extra_filters=filters or ()):
            fresh = note(page, None if full else live)
            if not fresh:
                continue
            report.rows += len(fresh)
            if entity.associations:
                pending.extend(r["id"] for r in fresh)
                # Full v4 batches only (1,000 ids a request); the remainder goes at the end.
                while len(pending) >= ASSOCIATION_BATCH_SIZE:
                    read_associations(pending[:ASSOCIATION_BATCH_SIZE])
                    del pending[:ASSOCIATION_BATCH_SIZE]
            yield from batcher.add(fresh)
            if progress:
                progress(entity.name, report.rows)
        if pending:
            read_associations(pending)
    live_seen = dict(seen)
    seen.clear()

    # 2. archived records (search never returns them), unless a filter narrows the sync
    if not filters:
        floor = None if full else (archived.cursor_ms or 0) - lookback_ms
        for page in client.iter_list_pages(entity, names, archived=True):
            fresh = []
            for record in page:
                ms = archived_ms(record)
                if floor is not None and (ms < floor or archived.is_seen(record["id"], ms)):
                    continue
                seen[record["id"]] = ms
                fresh.append(record)
            report.archived_rows += len(fresh)
            if fresh:
                yield from batcher.add(fresh)
    yield from batcher.flush()
    report.association_rows = dict(batcher.assoc_counts)

    new_live = (CursorState() if full else live).advance(live_seen, started_ms, lookback_ms)
    new_archived = (CursorState() if full else archived).advance(seen, started_ms, lookback_ms)
    if full and new_archived.cursor_ms is None:
        new_archived = CursorState(started_ms, {})
    if full and new_live.cursor_ms is None:
        new_live = CursorState(started_ms, {})
    # Only touch state when it changed: an idle incremental sync must produce no load package.
    if new_live.dump() != live.dump() or key not in streams:
        streams[key] = new_live.dump()
    if new_archived.dump() != archived.dump() or f"{key}_archived" not in streams:
        streams[f"{key}_archived"] = new_archived.dump()
    report.cursor_ms = new_live.cursor_ms


@dlt.source(name="hubspot", max_table_nesting=0)
def hubspot_source(
    client: HubSpotClient,
    entities: list[str] | None = None,
    *,
    full_refresh: bool = False,
    filters: dict[str, list[dict[str, Any]]] | None = None,
    lookback_ms: int = DEFAULT_LOOKBACK_MS,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    now: Clock = clock,
    reports: dict[str, EntityReport] | None = None,
    progress: ProgressCallback | None = None,
):
    """One resource per selected entity; association tables ride along with their entity.

    `filters` maps an entity name to extra HubSpot search filters (e.g. lifecyclestage EQ
    customer); a filtered entity is always read through search and keeps its own bookmark.
    `reports`, when given, is filled with an `EntityReport` per entity as extraction runs.
    """
    reports = reports if reports is not None else {}
    for entity in resolve_entities(entities):
        report = reports.setdefault(entity.name, EntityReport())
        yield dlt.resource(
            _entity_rows,
            name=entity.name,
            primary_key="id",
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        )(
            client,
            entity,
            full_refresh=full_refresh,
            filters=(filters or {}).get(entity.name),
            lookback_ms=lookback_ms,
            batch_rows=batch_rows,
            now=now,
            report=report,
            progress=progress,
        )
