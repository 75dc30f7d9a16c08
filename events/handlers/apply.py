"""The built-in `apply` action: write an event's change straight into the raw table, no API call.

Only for providers whose webhook spec declares `ApplyRules` (`sources/provider.py`), and only
where the event carries the whole change and the result cannot go backwards. The rules say what
each event does to its row (`set` one property column, `archive`, or `erase`: archive and null
every property column) and how the row's columns are named; this module owns the SQL.

Each `set` and `archive` moves `updated_at` (and, for a `set`, the entity's modification
property) to the event's time and only happens if the row is not newer than the event (webhooks
arrive out of order), so an old event never overwrites newer data; a stale event is a no-op. An
`erase` happens whatever the row's age: personal data must go. Anything this cannot do safely
(no row yet, an unknown column, a payload without the fields) falls back to the by-id fetch of
those objects. This module never names a provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from core.errors import ValidationError
from destinations.warehouse import Warehouse, dataset_name
from events.handlers.context import HandlerContext
from events.handlers.extract import extract_ids, require_entity, require_integration
from events.handlers.registry import webhook_handler
from events.providers import apply_rules_of, providers_with_apply
from sources.provider import (
    APPLY_ARCHIVE,
    APPLY_ERASE,
    APPLY_SET,
    ApplyRules,
    RawChange,
)

if TYPE_CHECKING:
    from core.events import StoredEvent


class RawTableWriter:
    """Reads and writes one integration's raw table of one entity with guarded statements."""

    def __init__(
        self,
        warehouse: Warehouse,
        provider: str,
        integration_id: str,
        entity: str,
        rules: ApplyRules,
    ) -> None:
        self.warehouse = warehouse
        self.rules = rules
        self.schema = dataset_name(provider, integration_id)
        self.table = f"{self.schema}.{entity}"
        self.entity = entity
        self.marker = "?" if warehouse.kind == "duckdb" else "%s"

    def columns(self) -> set[str]:
        rows = self.warehouse.query(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{self.schema}' AND table_name = '{self.entity}'"
        )
        return {r[0] for r in rows}

    def updated_at(self, ids: Sequence[str]) -> dict[str, datetime | None]:
        """Current `updated_at` per existing id (only ids the rules call valid reach the SQL)."""
        id_list = ", ".join(f"'{i}'" for i in ids if self.rules.valid_id(i))
        if not id_list:
            return {}
        rows = self.warehouse.query(
            f"SELECT id, updated_at FROM {self.table} WHERE id IN ({id_list})"
        )
        return {str(r[0]): r[1] for r in rows}

    def statement(
        self,
        change: RawChange,
        property_columns: list[str],
        column: str | None,
        modification_column: str | None = None,
    ) -> tuple[str, list[Any]]:
        m = self.marker
        at = change.occurred_at
        if change.kind == APPLY_SET:
            # The provider moves the record's modification property with every change; so do we.
            lastmod = ""
            values: list[Any] = [change.value]
            if modification_column and modification_column != column:
                lastmod = f', "{modification_column}" = {m}'
                values.append(self.rules.timestamp_text(at))
            return (
                f'UPDATE {self.table} SET "{column}" = {m}{lastmod}, updated_at = {m} '
                f"WHERE id = {m} AND (updated_at IS NULL OR updated_at <= {m})",
                [*values, at, change.object_id, at],
            )
        if change.kind == APPLY_ARCHIVE:
            return (
                f"UPDATE {self.table} SET archived = TRUE, archived_at = {m}, updated_at = {m} "
                f"WHERE id = {m} AND (updated_at IS NULL OR updated_at <= {m})",
                [at, at, change.object_id, at],
            )
        if change.kind != APPLY_ERASE:
            raise ValidationError(f"apply rules gave an unknown change kind {change.kind!r}")
        # Erase unconditionally: personal data must go whatever its age.
        erase = "".join(f', "{c}" = NULL' for c in property_columns)
        return (
            f"UPDATE {self.table} SET archived = TRUE, archived_at = {m}{erase} WHERE id = {m}",
            [at, change.object_id],
        )


def _newer_or_equal(at: datetime, current: datetime | None) -> bool:
    return current is None or at >= current


def _require_rules(context: HandlerContext, entity: str) -> ApplyRules:
    found = apply_rules_of(context.provider)
    if found is None:
        raise ValidationError(
            f"action: apply is only available for {', '.join(providers_with_apply()) or 'no'} "
            "events",
            provider=context.provider,
        )
    provider, rules = found
    if entity not in provider.entities:
        raise ValidationError(
            f"apply cannot write {provider.title} {entity}: not an extracted entity",
            provider=provider.name,
            integration_id=context.integration_id,
            hint=f"choose from {', '.join(provider.entities)}",
        )
    return rules


@webhook_handler("apply")
def apply(events: Sequence[StoredEvent], context: HandlerContext) -> dict[str, Any]:
    entity = require_entity(context)
    rules = _require_rules(context, entity)
    require_integration(context)
    changes: list[RawChange] = []
    fallback: set[str] = set()
    for event in events:
        change = rules.change(event)
        if change is not None:
            changes.append(change)
        elif event.object_id and rules.valid_id(event.object_id):
            fallback.add(event.object_id)
        else:
            raise ValidationError(
                f"event {event.id} ({event.event_type}) carries no usable object id",
                provider=context.provider,
                integration_id=context.integration_id,
            )
    writer = RawTableWriter(
        context.warehouse, context.provider, context.integration_id, entity, rules
    )
    applied = stale = 0
    with context.warehouse.writer_lock():
        columns = writer.columns() if changes else set()
        if changes and not columns:
            # No table yet (no initial sync): the by-id fetch creates the rows instead.
            fallback.update(c.object_id for c in changes)
            changes = []
        property_columns = sorted(c for c in columns if rules.is_property_column(c))
        modification = rules.modification_property(entity)
        modification_column = rules.property_column(modification) if modification else None
        if modification_column not in columns:
            modification_column = None
        current = writer.updated_at(sorted({c.object_id for c in changes}))
        statements = []
        for change in sorted(changes, key=lambda c: (c.occurred_at, c.event_id)):
            if change.object_id in fallback:
                continue
            if change.object_id not in current:
                fallback.add(change.object_id)
                continue
            column = None
            if change.kind == APPLY_SET:
                column = rules.property_column(change.property_name or "")
                if not change.property_name or column not in columns:
                    fallback.add(change.object_id)
                    continue
            if change.kind != APPLY_ERASE and not _newer_or_equal(
                change.occurred_at, current[change.object_id]
            ):
                stale += 1
                continue
            statements.append(
                writer.statement(change, property_columns, column, modification_column)
            )
            if change.kind != APPLY_ERASE:
                current[change.object_id] = change.occurred_at
            applied += 1
        if statements:
            context.warehouse.execute(statements)
    metadata: dict[str, Any] = {
        "mode": "apply",
        "entity": entity,
        "applied": applied,
        "stale_skipped": stale,
        "fetched_by_id": len(fallback),
    }
    if fallback:
        fetched = extract_ids(context, entity, sorted(fallback))
        metadata["fetch_sync_run_id"] = fetched["sync_run_id"]
    return metadata
