"""The CRM object types the sandbox serves and the names/ids HubSpot uses for them.

`ALL_TYPES` hold records; `CATALOG_TYPES` are HubSpot's other standard types, known only to
metadata routes (properties) so clients that discover every type get HubSpot's answers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ObjectType:
    name: str  # plural API name, e.g. "contacts"
    type_id: str  # objectTypeId, e.g. "0-1"
    singular: str  # e.g. "contact"
    id_base: int  # id of base record 0
    code: int  # mixes into the seed
    lastmod_prop: str
    default_properties: tuple[str, ...]
    searchable: tuple[str, ...]  # properties the free-text `query` looks at


CONTACTS = ObjectType(
    "contacts",
    "0-1",
    "contact",
    1,
    1,
    "lastmodifieddate",
    ("firstname", "lastname", "email", "createdate", "lastmodifieddate", "hs_object_id"),
    ("firstname", "lastname", "email", "phone", "company", "website"),
)
COMPANIES = ObjectType(
    "companies",
    "0-2",
    "company",
    1_000_000_001,
    2,
    "hs_lastmodifieddate",
    ("name", "domain", "createdate", "hs_lastmodifieddate", "hs_object_id"),
    ("name", "domain", "phone", "city"),
)
DEALS = ObjectType(
    "deals",
    "0-3",
    "deal",
    2_000_000_001,
    3,
    "hs_lastmodifieddate",
    (
        "dealname",
        "amount",
        "dealstage",
        "pipeline",
        "closedate",
        "createdate",
        "hs_lastmodifieddate",
        "hs_object_id",
    ),
    ("dealname",),
)

ALL_TYPES: tuple[ObjectType, ...] = (CONTACTS, COMPANIES, DEALS)
_BY_KEY: dict[str, ObjectType] = {}
for _t in ALL_TYPES:
    for _k in (_t.name, _t.type_id, _t.singular):
        _BY_KEY[_k] = _t


def resolve(key: str) -> ObjectType | None:
    """`contacts`, `contact`, `0-1` (any case) → the object type, else None."""
    return _BY_KEY.get(key.lower())


def _catalog(name: str, type_id: str, singular: str) -> ObjectType:
    return ObjectType(name, type_id, singular, 0, 0, "hs_lastmodifieddate", (), ())


# HubSpot's other standard object types. The sandbox stores no records of them, but HubSpot
# answers their metadata (property definitions) in every portal, and peer clients ask for it
# while discovering a schema: a 400 there fails them where HubSpot gives 200 (or 403).
CATALOG_TYPES: tuple[ObjectType, ...] = (
    _catalog("tickets", "0-5", "ticket"),
    _catalog("products", "0-7", "product"),
    _catalog("line_items", "0-8", "line_item"),
    _catalog("quotes", "0-14", "quote"),
    _catalog("communications", "0-18", "communication"),
    _catalog("feedback_submissions", "0-19", "feedback_submission"),
    _catalog("tasks", "0-27", "task"),
    _catalog("notes", "0-46", "note"),
    _catalog("meetings", "0-47", "meeting"),
    _catalog("calls", "0-48", "call"),
    _catalog("emails", "0-49", "email"),
    _catalog("goal_targets", "0-74", "goal_target"),
    _catalog("postal_mail", "0-116", "postal_mail"),
    _catalog("leads", "0-136", "lead"),
)
_CATALOG_BY_KEY: dict[str, ObjectType] = {}
for _t in CATALOG_TYPES:
    for _k in (_t.name, _t.type_id, _t.singular):
        _CATALOG_BY_KEY[_k] = _t


def resolve_any(key: str) -> ObjectType | None:
    """Like `resolve`, also knowing the catalog types (for metadata routes and scope checks)."""
    return resolve(key) or _CATALOG_BY_KEY.get(key.lower())
