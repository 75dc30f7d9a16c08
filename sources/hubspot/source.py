"""The HubSpot dlt source: contacts, companies and deals with every property, their associations,
and archived records, full, incremental or by ids, yielding Arrow tables.

Incremental state lives in dlt's resource state, so it is committed with the load it describes.
Boundary safety (DESIGN decision 5) is built in: we search with GTE from `cursor - lookback`,
drop records whose (id, lastmod) we already loaded, and never move the cursor past the moment
the sync started. A by-id read (a webhook named the records) batch-reads those records, live
then archived, with the same table hints, and never touches the bookmarks. Build a fresh source
object for every run (decision 6).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import dlt
import pyarrow as pa

from core.clock import Clock, clock
from core.errors import ValidationError
from sources.common.cursors import CursorState, filters_key
from sources.common.prefetch import prefetch
from sources.hubspot.arrow import (
    ListPage,
    ListPageDecoder,
    association_schema,
    association_table,
    linkless_ids,
    list_association_table,
    list_pages_table,
    recent_lastmod_ms,
    records_to_table,
    v4_association_rows,
)
from sources.hubspot.client import (
    ASSOCIATION_BATCH_SIZE,
    DeferredPage,
    HubSpotClient,
    iso_ms,
    lastmod_ms,
)
from sources.hubspot.entities import AssociationSpec, HubSpotEntity, resolve_entities
from sources.provider import EntityReport, ProgressCallback, SourceRequest

BY_ID = "by_id"
DEFAULT_LOOKBACK_MS = 60_000
DEFAULT_BATCH_ROWS = 5_000
# An association row that says "this parent has no links of this kind any more": it deletes the
# parent's rows (same merge key) and is itself never inserted (dlt's hard_delete).
REMOVED_COLUMN = "_removed"


def archived_ms(record: dict[str, Any]) -> int:
    """When a record was archived (falls back to updatedAt), in epoch ms."""
    return iso_ms(record.get("archivedAt") or record.get("updatedAt"))


def entity_hints(entity: HubSpotEntity) -> Any:
    """Two versions of one record in one load (changed while we paged): newest wins."""
    return dlt.mark.make_hints(
        table_name=entity.name,
        columns=[{"name": "updated_at", "dedup_sort": "desc"}],
    )


def association_hints(spec: AssociationSpec) -> Any:
    """An association table is replaced per `from` id: the current links of the records read."""
    return dlt.mark.make_hints(
        table_name=spec.table,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        primary_key=[spec.from_column, spec.to_column],
        merge_key=spec.from_column,
        columns=[
            {"name": spec.from_column, "data_type": "text", "nullable": False},
            {"name": spec.to_column, "data_type": "text", "nullable": False},
            {"name": "association_type", "data_type": "text"},
            {"name": REMOVED_COLUMN, "data_type": "bool", "hard_delete": True},
        ],
    )


def unlinked_ids(parent_ids: Sequence[str], rows: list[dict[str, str]], spec: AssociationSpec):
    """Parents read in this sync that have no link of this kind (their old rows must die)."""
    linked = {r[spec.from_column] for r in rows}
    return [i for i in parent_ids if i not in linked]


def tombstone_table(parent_ids: Sequence[str], spec: AssociationSpec) -> pa.Table:
    """One row per parent with no links: deletes every row of that parent, inserts nothing."""
    n = len(parent_ids)
    schema = association_schema(spec).append(pa.field(REMOVED_COLUMN, pa.bool_()))
    return pa.Table.from_arrays(
        [
            pa.array(list(parent_ids), pa.string()),
            pa.array([""] * n, pa.string()),
            pa.array([None] * n, pa.string()),
            pa.array([True] * n, pa.bool_()),
        ],
        schema=schema,  # keys NOT NULL, as the hints say
    )


class _ArrowBatcher:
    """Collects records and association rows; flushes Arrow tables of `batch_rows` rows.

    Decoded list pages stay Arrow until flushed: each batch is concatenated once, and its
    tables, its link-less ids and its modification times (`seen`: what the bookmark keeps of
    the records read at or after `seen_floor_ms`) are computed on the whole batch.
    """

    def __init__(
        self,
        entity: HubSpotEntity,
        property_names: list[str],
        batch_rows: int,
        started_ms: int,
        seen_floor_ms: int = 0,
    ) -> None:
        self.entity = entity
        self.property_names = property_names
        self.batch_rows = batch_rows
        self.started_ms = started_ms
        self.seen_floor_ms = seen_floor_ms
        self.seen: dict[str, int] = {}
        self.records: list[dict[str, Any]] = []
        self.assoc_rows: dict[str, list[dict[str, str]]] = {
            a.table: [] for a in entity.associations
        }
        self.assoc_counts: dict[str, int] = {}
        self.unlinked: dict[str, list[str]] = {a.table: [] for a in entity.associations}
        self.pages: list[pa.StructArray] = []  # decoded list pages, converted when flushed
        self.page_rows = 0

    def add(self, records: list[dict[str, Any]]) -> Iterator[Any]:
        self.records.extend(records)
        if len(self.records) >= self.batch_rows:
            yield from self.flush()

    def add_page(self, page: ListPage) -> Iterator[Any]:
        """A decoded list page: records and inline associations stay Arrow until flushed."""
        self.pages.append(page.records)
        self.page_rows += len(page)
        if self.page_rows >= self.batch_rows:
            yield from self.flush()

    def add_associations(
        self, spec: AssociationSpec, rows: list[dict[str, str]], parent_ids: Sequence[str]
    ) -> None:
        """The current links of `parent_ids` (all of them: a parent without rows has none)."""
        self.assoc_rows[spec.table].extend(rows)
        self.assoc_counts[spec.table] = self.assoc_counts.get(spec.table, 0) + len(rows)
        self.unlinked[spec.table].extend(unlinked_ids(parent_ids, rows, spec))

    def flush(self) -> Iterator[Any]:
        if self.pages:
            records = pa.concat_arrays(self.pages)
            self.pages, self.page_rows = [], 0
            for spec in self.entity.associations:
                self.unlinked[spec.table].extend(linkless_ids(records, spec))
            self.seen.update(
                recent_lastmod_ms(records, self.entity.lastmod_property, self.seen_floor_ms)
            )
            table = list_pages_table(records, self.property_names, extracted_at_ms=self.started_ms)
            yield dlt.mark.with_hints(table, entity_hints(self.entity), create_table_variant=True)
            for spec in self.entity.associations:
                links = list_association_table(records, spec)
                self.assoc_counts[spec.table] = (
                    self.assoc_counts.get(spec.table, 0) + links.num_rows
                )
                if links.num_rows:
                    yield dlt.mark.with_hints(
                        links, association_hints(spec), create_table_variant=True
                    )
        if self.records:
            table = records_to_table(
                self.records, self.property_names, extracted_at_ms=self.started_ms
            )
            yield dlt.mark.with_hints(table, entity_hints(self.entity), create_table_variant=True)
            self.records = []
        for spec in self.entity.associations:
            rows = self.assoc_rows[spec.table]
            if rows:
                yield dlt.mark.with_hints(
                    association_table(rows, spec),
                    association_hints(spec),
                    create_table_variant=True,
                )
                self.assoc_rows[spec.table] = []
            if self.unlinked[spec.table]:
                yield dlt.mark.with_hints(
                    tombstone_table(self.unlinked[spec.table], spec),
                    association_hints(spec),
                    create_table_variant=True,
                )
                self.unlinked[spec.table] = []


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
    # A full read keeps, like `CursorState.advance`, only the times inside the next window.
    batcher = _ArrowBatcher(entity, names, batch_rows, started_ms, started_ms - lookback_ms)
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
        # The fetching thread reads each page's cursor from its tail and sends the next request
        # at once; this thread parses the pages into Arrow ten at a time (C++, GIL released,
        # arrow.py) while the fetching thread waits on the network, then builds batches.
        decoder = ListPageDecoder(names, entity.association_types)
        fetched = client.iter_list_pages(entity, names, decoder=decoder, deferred=True)
        for page in DeferredPage.parsed(prefetch(fetched, depth=24), group=10):
            if not len(page):
                continue
            report.rows += len(page)
            yield from batcher.add_page(page)
            if progress:
                progress(entity.name, report.rows)
        yield from batcher.flush()
        seen.update(batcher.seen)
    else:
        since = 0 if full else live.since_ms(lookback_ms)
        pending: list[str] = []  # ids whose associations are still to be read

        def read_associations(ids: list[str]) -> None:
            for spec in entity.associations:
                by_id = client.read_associations(entity.object_type, spec.to_object_type, ids)
                batcher.add_associations(spec, v4_association_rows(by_id, spec), ids)

        pages = client.iter_modified_since(
            entity, since, names, extra_filters=filters or (), catch_up_from_ms=started_ms
        )
        for page in pages:
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
        floor = None if full else archived.since_ms(lookback_ms)
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
        new_archived = CursorState(started_ms, {}, started_ms)
    if full and new_live.cursor_ms is None:
        new_live = CursorState(started_ms, {}, started_ms)
    # Only touch state when more than the anchor changed: an idle incremental sync must produce
    # no load package. Keeping the older anchor only widens the next window (always safe); it
    # moves once the window would drop something, so idle syncs stop re-reading old changes.
    for name, old, new in ((key, live, new_live), (f"{key}_archived", archived, new_archived)):
        if full or name not in streams or not new.same_apart_from_anchor(old):
            streams[name] = new.dump()
    report.cursor_ms = new_live.cursor_ms


def _records_by_id(
    client: HubSpotClient,
    entity: HubSpotEntity,
    ids: list[str],
    *,
    now: Clock,
    report: EntityReport,
) -> Iterator[Any]:
    """Exactly these records: live first, the rest archived, associations of the live ones.
    No resource state is read or written, so the sync's bookmarks stay where they are."""
    started_ms = now.now_ms()
    report.mode = BY_ID
    report.ids_requested = len(ids)
    names = client.property_names(entity.object_type)
    live = client.batch_read(entity, ids, names)
    found = {r["id"] for r in live}
    rest = [i for i in ids if i not in found]
    archived = client.batch_read(entity, rest, names, archived=True) if rest else []
    found |= {r["id"] for r in archived}
    report.rows, report.archived_rows = len(live), len(archived)
    report.missing_ids = [i for i in ids if i not in found]
    records = live + archived
    if records:
        table = records_to_table(records, names, extracted_at_ms=started_ms)
        yield dlt.mark.with_hints(table, entity_hints(entity), create_table_variant=True)
    live_ids = [r["id"] for r in live]
    for spec in entity.associations:
        if not live_ids:
            break
        by_id = client.read_associations(entity.object_type, spec.to_object_type, live_ids)
        rows = v4_association_rows(by_id, spec)
        report.association_rows[spec.table] = len(rows)
        if rows:
            yield dlt.mark.with_hints(
                association_table(rows, spec), association_hints(spec), create_table_variant=True
            )
        unlinked = unlinked_ids(live_ids, rows, spec)
        if unlinked:
            yield dlt.mark.with_hints(
                tombstone_table(unlinked, spec), association_hints(spec), create_table_variant=True
            )


def unique_ids(ids: Sequence[Any]) -> list[str]:
    """Ids as strings, once each, in a stable order (shorter numeric ids first)."""
    return sorted({str(i) for i in ids}, key=lambda v: (len(v), v))


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
    ids: Sequence[Any] | None = None,
):
    """One resource per selected entity; association tables ride along with their entity.

    `filters` maps an entity name to extra HubSpot search filters (e.g. lifecyclestage EQ
    customer); a filtered entity is always read through search and keeps its own bookmark.
    `ids` (with exactly one entity) reads those records by id and moves no bookmark.
    `reports`, when given, is filled with an `EntityReport` per entity as extraction runs.
    """
    reports = reports if reports is not None else {}
    selected = resolve_entities(entities)
    if ids is not None:
        wanted = unique_ids(ids)
        if len(selected) != 1 or not wanted:
            raise ValidationError(
                "a by-id read needs exactly one entity and at least one id",
                provider="hubspot",
                hint="SyncRequest(integration_id, entities=[entity], ids=[...])",
            )
        entity = selected[0]
        report = reports.setdefault(entity.name, EntityReport(mode=BY_ID))
        yield dlt.resource(
            _records_by_id,
            name=entity.name,
            primary_key="id",
            write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        )(client, entity, wanted, now=now, report=report)
        return
    for entity in selected:
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


def source_for(client: HubSpotClient, request: SourceRequest) -> Any:
    """The provider's source factory: the runner's `SourceRequest` as a `hubspot_source`."""
    lookback = getattr(request.config, "search_lookback_ms", None)
    return hubspot_source(
        client,
        request.entities,
        full_refresh=request.full_refresh,
        filters=request.filters,
        lookback_ms=int(lookback if lookback is not None else DEFAULT_LOOKBACK_MS),
        reports=request.reports,
        progress=request.progress,
        ids=request.ids,
    )
