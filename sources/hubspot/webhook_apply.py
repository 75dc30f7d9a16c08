"""HubSpot's rules for `action: apply`: which events carry a whole change and what it writes.

- `*.propertyChange` sets `properties__<propertyName>` to `propertyValue` and moves the entity's
  modification property (e.g. `properties__lastmodifieddate`) to the event's `occurredAt`;
- `*.deletion` marks the row archived (HubSpot's delete is an archive, restorable);
- `*.privacyDeletion` (GDPR) archives the row and erases every `properties__*` value.

HubSpot object ids are numeric; an event whose id is not, or whose payload lacks `occurredAt`
or the property fields, is not applied (its record is read by id instead). Pure data and
functions: this module never touches the warehouse (the generic writer in `events/` does).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import orjson

from sources.hubspot.entities import ENTITIES
from sources.provider import APPLY_ARCHIVE, APPLY_ERASE, APPLY_SET, ApplyRules, RawChange

if TYPE_CHECKING:
    from core.events import StoredEvent

NUMERIC_ID = re.compile(r"^[0-9]{1,20}$")
PROPERTY_PREFIX = "properties__"
# subscriptionType suffix -> what the change does to the raw row
KINDS = {"propertyChange": APPLY_SET, "deletion": APPLY_ARCHIVE, "privacyDeletion": APPLY_ERASE}
EVENT_SUFFIXES = tuple(f".{name}" for name in KINDS)


def is_object_id(object_id: str) -> bool:
    return bool(NUMERIC_ID.match(object_id))


def hubspot_iso(moment: datetime) -> str:
    """HubSpot's timestamp text: UTC, milliseconds, `Z`."""
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def modification_property(entity: str) -> str | None:
    spec = ENTITIES.get(entity)
    return spec.lastmod_property if spec is not None else None


def change_of(event: StoredEvent) -> RawChange | None:
    """The change a HubSpot event describes, or None when its payload does not say enough."""
    kind = KINDS.get(event.event_type.rsplit(".", 1)[-1])
    if kind is None:
        return None
    try:
        body = orjson.loads(event.payload)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    object_id = str(body.get("objectId") or event.object_id or "")
    occurred = body.get("occurredAt")
    if not is_object_id(object_id) or not isinstance(occurred, int | float):
        return None
    occurred_at = datetime.fromtimestamp(occurred / 1000, tz=UTC)
    if kind != APPLY_SET:
        return RawChange(event.id, object_id, kind, occurred_at)
    name, value = body.get("propertyName"), body.get("propertyValue")
    if not isinstance(name, str) or not name or (value is not None and not isinstance(value, str)):
        return None
    return RawChange(event.id, object_id, kind, occurred_at, property_name=name, value=value)


APPLY_RULES = ApplyRules(
    event_suffixes=EVENT_SUFFIXES,
    change=change_of,
    valid_id=is_object_id,
    property_prefix=PROPERTY_PREFIX,
    modification_property=modification_property,
    timestamp_text=hubspot_iso,
)
