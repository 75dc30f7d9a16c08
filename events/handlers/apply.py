"""The built-in `apply` action: write a HubSpot change straight into the raw table, no API call.

Only where the event carries the whole change and the result cannot go backwards:

- `*.propertyChange` sets `properties__<name>` on the row by id;
- `*.deletion` marks the row archived (HubSpot's delete is an archive, restorable);
- `*.privacyDeletion` (GDPR) marks it archived and erases every property value.

Each write moves `updated_at` (and, for a property change, the entity's modification property,
e.g. `properties__lastmodifieddate`) to the event's `occurredAt` and only happens if the row is not
newer than the event (webhooks arrive out of order), so an old event never overwrites newer
data; a stale event is a no-op. Anything this cannot do safely (no row yet, an unknown column,
a payload without the fields) falls back to the by-id fetch of those objects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson

from core.errors import ValidationError
from destinations.warehouse import Warehouse, dataset_name
from events.handlers.context import HandlerContext
from events.handlers.extract import extract_ids, require_entity, require_integration
from events.handlers.registry import webhook_handler
from sources.hubspot.entities import ENTITIES

if TYPE_CHECKING:
    from core.events import StoredEvent

NUMERIC_ID = re.compile(r"^[0-9]{1,20}$")


@dataclass(frozen=True)
class Change:
    """One event's change, parsed from its HubSpot payload."""

    event_id: int
    object_id: str
    kind: str  # propertyChange | deletion | privacyDeletion
    occurred_at: datetime
    property_name: str | None = None
    value: str | None = None


def parse_change(event: StoredEvent) -> Change | None:
    """The change an event describes, or None when its payload does not say enough."""
    kind = event.event_type.rsplit(".", 1)[-1]
    if kind not in ("propertyChange", "deletion", "privacyDeletion"):
        return None
    try:
        body = orjson.loads(event.payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    object_id = str(body.get("objectId") or event.object_id or "")
    occurred = body.get("occurredAt")
    if not NUMERIC_ID.match(object_id) or not isinstance(occurred, int | float):
        return None
    change = Change(
        event_id=event.id,
        object_id=object_id,
        kind=kind,
        occurred_at=datetime.fromtimestamp(occurred / 1000, tz=UTC),
    )
    if kind == "propertyChange":
        name = body.get("propertyName")
        value = body.get("propertyValue")
        if (
            not isinstance(name, str)
            or not name
            or (value is not None and not isinstance(value, str))
        ):
            return None
        return Change(**{**change.__dict__, "property_name": name, "value": value})
    return change


class RawTableWriter:
    """Reads and writes one integration's raw HubSpot table with guarded statements."""

    def __init__(self, warehouse: Warehouse, integration_id: str, entity: str) -> None:
        self.warehouse = warehouse
        self.schema = dataset_name("hubspot", integration_id)
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
        """Current `updated_at` per existing id (ids are checked numeric before they get here)."""
        id_list = ", ".join(f"'{i}'" for i in ids if NUMERIC_ID.match(i))
        if not id_list:
            return {}
        rows = self.warehouse.query(
            f"SELECT id, updated_at FROM {self.table} WHERE id IN ({id_list})"
        )
        return {str(r[0]): r[1] for r in rows}

    def statement(
        self,
        change: Change,
        property_columns: list[str],
        column: str | None,
        lastmod_column: str | None = None,
    ):
        m = self.marker
        at = change.occurred_at
        if change.kind == "propertyChange":
            # HubSpot moves the record's modification property with every change; so do we.
            lastmod = ""
            values: list[Any] = [change.value]
            if lastmod_column and lastmod_column != column:
                lastmod = f', "{lastmod_column}" = {m}'
                values.append(hubspot_iso(at))
            return (
                f'UPDATE {self.table} SET "{column}" = {m}{lastmod}, updated_at = {m} '
                f"WHERE id = {m} AND (updated_at IS NULL OR updated_at <= {m})",
                [*values, at, change.object_id, at],
            )
        if change.kind == "deletion":
            return (
                f"UPDATE {self.table} SET archived = TRUE, archived_at = {m}, updated_at = {m} "
                f"WHERE id = {m} AND (updated_at IS NULL OR updated_at <= {m})",
                [at, at, change.object_id, at],
            )
        # privacyDeletion: erase unconditionally; personal data must go whatever its age.
        erase = "".join(f', "{c}" = NULL' for c in property_columns)
        return (
            f"UPDATE {self.table} SET archived = TRUE, archived_at = {m}{erase} WHERE id = {m}",
            [at, change.object_id],
        )


def hubspot_iso(moment: datetime) -> str:
    """HubSpot's timestamp text: UTC, milliseconds, `Z`."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def _newer_or_equal(at: datetime, current: datetime | None) -> bool:
    return current is None or at >= current


@webhook_handler("apply")
def apply(events: Sequence[StoredEvent], context: HandlerContext) -> dict[str, Any]:
    if context.provider != "hubspot":
        raise ValidationError(
            "action: apply is only available for hubspot events", provider=context.provider
        )
    entity = require_entity(context)
    if entity not in ENTITIES:
        raise ValidationError(
            f"apply cannot write HubSpot {entity}: not an extracted entity",
            provider="hubspot",
            integration_id=context.integration_id,
            hint=f"choose from {', '.join(ENTITIES)}",
        )
    require_integration(context)
    changes: list[Change] = []
    fallback: set[str] = set()
    for event in events:
        change = parse_change(event)
        if change is not None:
            changes.append(change)
        elif event.object_id and NUMERIC_ID.match(event.object_id):
            fallback.add(event.object_id)
        else:
            raise ValidationError(
                f"event {event.id} ({event.event_type}) carries no usable object id",
                provider="hubspot",
                integration_id=context.integration_id,
            )
    writer = RawTableWriter(context.warehouse, context.integration_id, entity)
    applied = stale = 0
    with context.warehouse.writer_lock():
        columns = writer.columns() if changes else set()
        if changes and not columns:
            # No table yet (no initial sync): the by-id fetch creates the rows instead.
            fallback.update(c.object_id for c in changes)
            changes = []
        property_columns = sorted(c for c in columns if c.startswith("properties__"))
        lastmod_column = f"properties__{ENTITIES[entity].lastmod_property}"
        if lastmod_column not in columns:
            lastmod_column = None
        current = writer.updated_at(sorted({c.object_id for c in changes}))
        statements = []
        for change in sorted(changes, key=lambda c: (c.occurred_at, c.event_id)):
            if change.object_id in fallback:
                continue
            if change.object_id not in current:
                fallback.add(change.object_id)
                continue
            column = None
            if change.kind == "propertyChange":
                column = f"properties__{change.property_name}"
                if column not in columns:
                    fallback.add(change.object_id)
                    continue
            if change.kind != "privacyDeletion" and not _newer_or_equal(
                change.occurred_at, current[change.object_id]
            ):
                stale += 1
                continue
            statements.append(writer.statement(change, property_columns, column, lastmod_column))
            if change.kind != "privacyDeletion":
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
